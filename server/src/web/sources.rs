//! Sources: connecting Google and Microsoft 365, the list, one source's page with its rules
//! editor and runs, and removing a source.

use super::form::Form;
use super::page::status_label;
use super::page::{self, Nav, when, when_opt};
use super::{Web, seg};
use crate::store::Kind;
use crate::store::sources::{Source, SourcePatch};
use crate::sync;
use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use kith_connectors::record::Field;
use kith_connectors::rules::{Direction, Owner, Rules};

pub struct Provider {
    pub id: &'static str,
    pub title: &'static str,
    pub available: bool,
    /// Whether its calendars can be synced too.
    pub calendars: bool,
    /// Why it cannot be connected, and who can change that.
    pub why_not: String,
}

pub struct Row {
    pub name: String,
    pub href: String,
    pub kind: String,
    pub status: String,
    pub last: String,
}

#[derive(Template)]
#[template(path = "sources.html")]
struct List {
    nav: Nav,
    providers: Vec<Provider>,
    books: Vec<String>,
    sources: Vec<Row>,
}

/// The provider connection choices, each with what blocks it.
async fn providers(web: &Web) -> Vec<Provider> {
    let app = &web.app;
    let admins: Vec<String> = app
        .store
        .list_users()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|u| u.is_admin && u.disabled_at.is_none())
        .map(|u| u.name)
        .collect();
    let apps = app.upstreams.apps().await;
    let groups = crate::core::groups::ids_of(app.store.as_ref(), web.user().id)
        .await
        .unwrap_or_default();
    let mut out = Vec::new();
    for p in crate::store::sources::Provider::ALL {
        let (id, title) = (p.id(), p.title());
        let enabled = app
            .upstreams
            .enabled(app.store.as_ref(), id)
            .await
            .unwrap_or(false);
        let allowed = apps.allows(p, web.user().id, &groups);
        let why_not = if !enabled {
            let mut m =
                super::oauth::authorize_words(&crate::upstream::authorize::not_enabled(&apps, id));
            if !admins.is_empty() {
                m.push_str(&format!(" Admins here: {}.", admins.join(", ")));
            }
            m
        } else if !allowed {
            super::oauth::authorize_words(&crate::upstream::authorize::AuthorizeError::NotAllowed {
                provider: title.to_string(),
                admins: admins.join(", "),
            })
        } else {
            String::new()
        };
        let enabled = enabled && allowed;
        out.push(Provider {
            id,
            title,
            available: enabled,
            calendars: true,
            why_not,
        });
    }
    out
}

pub async fn book_names(web: &Web) -> Vec<String> {
    web.app
        .store
        .collections(web.user().id, Kind::Addressbook)
        .await
        .unwrap_or_default()
        .into_iter()
        // A derived book ("Shared with me") is Kith's to write, never a source's.
        .filter(|c| c.derived.is_none())
        .map(|c| c.name)
        .collect()
}

pub async fn list(web: &Web) -> Response {
    let sources = match web.app.store.sources(web.user().id).await {
        Ok(s) => s,
        Err(e) => return page::internal(web, e),
    };
    let sources = sources
        .into_iter()
        .map(|s| Row {
            href: format!("/sources/{}", seg(&s.name)),
            kind: s.kind.title().to_string(),
            status: s.status.to_string(),
            last: when_opt(s.last_run_at),
            name: s.name,
        })
        .collect();
    page::ok(&List {
        nav: web.nav("sources"),
        providers: providers(web).await,
        books: book_names(web).await,
        sources,
    })
}

/// The caller's source `name`, or the not-found page.
pub async fn own_source(web: &Web, name: &str) -> Result<Source, Response> {
    match web.app.store.source_by_name(web.user().id, name).await {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(page::not_found(web)),
        Err(e) => Err(page::internal(web, e)),
    }
}

pub struct RunRow {
    pub id: i64,
    pub kind: String,
    pub status: String,
    pub at: String,
    pub summary: String,
}

pub struct FieldOwner {
    pub name: &'static str,
    pub source_owns: bool,
}

#[derive(Template)]
#[template(path = "source.html")]
struct Show {
    nav: Nav,
    s: Source,
    href: String,
    kind: String,
    status: String,
    api: bool,
    /// Where "Reconnect" starts the source's authorization again.
    reconnect: String,
    rules: Rules,
    direction: &'static str,
    book: String,
    books: Vec<String>,
    fields: Vec<FieldOwner>,
    runs: Vec<RunRow>,
    /// How the source learns of changes: notified by its provider, or polled, and why.
    changes: Option<String>,
    notice: Option<String>,
    error: Option<String>,
}

/// A run's summary in one line.
pub fn summary_line(summary: &str) -> String {
    let s: sync::Summary = serde_json::from_str(summary).unwrap_or_default();
    let mut parts: Vec<String> = s
        .counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{n} {k}"))
        .collect();
    if s.conflicts > 0 {
        parts.push(format!("{} conflicts", s.conflicts));
    }
    if s.failed_rows > 0 {
        parts.push(format!("{} unreadable rows", s.failed_rows));
    }
    if parts.is_empty() {
        parts.push("no changes".into());
    }
    parts.join(", ")
}

pub fn run_rows(runs: Vec<crate::store::sources::Run>) -> Vec<RunRow> {
    runs.into_iter()
        .map(|r| RunRow {
            id: r.id,
            kind: r.kind.to_string(),
            status: r.status.to_string(),
            at: when(r.applied_at.unwrap_or(r.created_at)),
            summary: summary_line(&r.summary),
        })
        .collect()
}

pub async fn show(web: &Web, name: &str) -> Response {
    let s = match own_source(web, name).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let q = web.query();
    let notice = if let Some(account) = q.get("connected") {
        Some(format!(
            "{account} is connected. Preview the first sync below, check it, then apply it."
        ))
    } else if q.contains_key("saved") {
        Some("Rules saved.".into())
    } else {
        None
    };
    render_show(web, s, notice, None, StatusCode::OK, None).await
}

async fn render_show(
    web: &Web,
    s: Source,
    notice: Option<String>,
    error: Option<String>,
    status: StatusCode,
    edited: Option<Rules>,
) -> Response {
    let store = web.app.store.as_ref();
    let rules = match edited {
        Some(r) => r,
        None => match sync::parse_rules(&s) {
            Ok(r) => r,
            Err(e) => {
                return page::page_error(
                    web,
                    StatusCode::CONFLICT,
                    "Rules unreadable",
                    &e.to_string(),
                );
            }
        },
    };
    let runs = match store.runs(web.user().id, Some(s.id), 20).await {
        Ok(r) => r,
        Err(e) => return page::internal(web, e),
    };
    let kind = if s.kind.is_calendar() {
        Kind::Calendar
    } else {
        Kind::Addressbook
    };
    let colls = store
        .collections(web.user().id, kind)
        .await
        .unwrap_or_default();
    let book = colls
        .iter()
        .find(|c| c.id == s.collection_id)
        .map(|c| c.name.clone())
        .unwrap_or_default();
    let own: &[Field] = if s.kind.is_calendar() {
        &Field::EVENT
    } else {
        &Field::ALL
    };
    let fields = own
        .iter()
        .map(|f| FieldOwner {
            name: f.as_str(),
            source_owns: rules.owner(*f) == Owner::Source,
        })
        .collect();
    let rule = kith_connectors::rules::parse_interval(&rules.schedule.every)
        .unwrap_or(86_400)
        .max(s.kind.provider().map_or(0, |p| p.min_interval_secs()));
    let cadence = &web.app.cadence;
    let changes = match sync::watch::mode(
        web.app.store.as_ref(),
        cadence.watcher.is_some(),
        &s,
        rule,
        cadence.fast_poll_secs,
    )
    .await
    {
        sync::watch::Mode::Notified { until } => Some(format!(
            "{} tells Kith of each change at once (the watch is renewed before {}).",
            s.kind.provider().map_or("The provider", |p| p.title()),
            crate::time::readable(until)
        )),
        sync::watch::Mode::Polled { every_secs, why } => Some(format!(
            "Kith checks for changes every {} minutes: {why}.",
            (every_secs / 60).max(1)
        )),
        sync::watch::Mode::Manual => None,
    };
    page::render(
        status,
        &Show {
            changes,
            nav: web.nav("sources"),
            href: format!("/sources/{}", seg(&s.name)),
            kind: s.kind.title().to_string(),
            status: status_label(s.status.as_str()).to_string(),
            api: s.kind.writable(),
            reconnect: match (s.kind.is_directory(), s.kind.provider()) {
                (false, Some(p)) if s.kind.is_calendar() => format!(
                    "/oauth/calendar/start?provider={}&source={}&into={}&calendar={}",
                    p.id(),
                    seg(&s.name),
                    seg(&book),
                    seg(rules.calendar.as_deref().unwrap_or("primary"))
                ),
                // The book's shares stay as they are: no `for`.
                (true, Some(p)) => format!(
                    "/oauth/directory/start?provider={}&book={}",
                    p.id(),
                    seg(&book)
                ),
                _ => format!("/oauth/{}/start?source={}", s.kind, seg(&s.name)),
            },
            direction: rules.direction.as_str(),
            rules,
            book,
            books: colls.into_iter().map(|c| c.name).collect(),
            fields,
            runs: run_rows(runs),
            notice,
            error,
            s,
        },
    )
}

fn list_field(v: &str) -> Vec<String> {
    v.split([',', '\n'])
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty())
        .collect()
}

/// The rules the form describes, on top of the current ones.
fn rules_from(form: &Form, mut r: Rules) -> Result<Rules, String> {
    r.direction = Direction::parse(form.get("direction")).ok_or_else(|| {
        format!(
            "unknown direction {:?}; choose import-only, export-only or two-way",
            form.get("direction")
        )
    })?;
    r.kith.create = form.checked("kith_create");
    r.kith.update = form.checked("kith_update");
    r.kith.delete = form.checked("kith_delete");
    r.source.create = form.checked("source_create");
    r.source.update = form.checked("source_update");
    r.source.delete = form.checked("source_delete");
    r.delete_protection = form.checked("delete_protection");
    r.ignore_domains = list_field(form.get("ignore_domains"))
        .into_iter()
        .map(|d| d.to_lowercase())
        .collect();
    r.scope = list_field(form.get("scope"));
    r.folders = list_field(form.get("folders"));
    let target = form.get("target").trim();
    r.target = (!target.is_empty()).then(|| target.to_string());
    r.fields.clear();
    for (k, v) in &form.all {
        if k == "source_owns" {
            if Field::parse(v).is_none() {
                return Err(format!("unknown field {v:?}"));
            }
            r.fields.insert(v.clone(), Owner::Source);
        }
    }
    r.schedule.every = form.get("every").trim().to_string();
    let window = form.get("window").trim();
    r.schedule.window = (!window.is_empty()).then(|| window.to_string());
    let tz = form.get("timezone").trim();
    if !tz.is_empty() {
        jiff::tz::TimeZone::get(tz)
            .map_err(|_| format!("unknown time zone {tz:?}; write one like Europe/Berlin"))?;
    }
    r.schedule.timezone = (!tz.is_empty()).then(|| tz.to_string());
    r.schedule.auto = form.checked("auto");
    Ok(r)
}

pub async fn save_rules(web: &Web, name: &str, form: &Form) -> Response {
    let s = match own_source(web, name).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let current = sync::parse_rules(&s).unwrap_or_default();
    let refuse = |msg: String, r: Rules, s: Source| async move {
        render_show(web, s, None, Some(msg), StatusCode::BAD_REQUEST, Some(r)).await
    };
    let r = match rules_from(form, current.clone()) {
        Ok(r) => r,
        Err(msg) => return refuse(msg, current, s).await,
    };
    if r.schedule.auto && !current.schedule.auto && !s.applied_once {
        let msg = format!(
            "Automatic sync stays off until one previewed plan of {} has been applied: press \"Preview sync\", check the plan, then apply it.",
            s.name
        );
        return refuse(msg, r, s).await;
    }
    if let Err(msg) = r.validate_for(s.kind) {
        return refuse(msg, r, s).await;
    }
    let store = web.app.store.as_ref();
    let book = form.get("book");
    if !book.is_empty() {
        let id = match crate::core::sources::book_id(store, web.user(), book)
            .await
            .map_err(words)
        {
            Ok(id) => id,
            Err(msg) => return refuse(msg, r, s).await,
        };
        if let Err(msg) = crate::core::sources::move_book(store, &s, id)
            .await
            .map_err(words)
        {
            return refuse(msg, r, s).await;
        }
    }
    let json = match serde_json::to_string(&r) {
        Ok(j) => j,
        Err(e) => return page::internal(web, e),
    };
    if let Err(e) = store.patch_source(s.id, SourcePatch::Rules(json)).await {
        return page::internal(web, e);
    }
    page::redirect(&format!("/sources/{}?saved=1", seg(&s.name)))
}

pub async fn remove(web: &Web, name: &str, form: &Form) -> Response {
    let s = match own_source(web, name).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let store = web.app.store.as_ref();
    match web.app.upstreams.disconnect(store, &s).await {
        Ok(None) => {}
        Ok(Some(refusal)) => tracing::warn!(
            source = %s.name,
            %refusal,
            "Google did not confirm the revocation; the user can remove Kith in their Google account"
        ),
        Err(e) => {
            return page::page_error(
                web,
                StatusCode::BAD_GATEWAY,
                "The source was not removed",
                &e.to_string(),
            );
        }
    }
    match store
        .delete_source(s.id, form.checked("delete_cards"))
        .await
    {
        Ok(_) => page::redirect("/sources"),
        Err(e) => page::internal(web, e),
    }
}

/// How the web UI words a source error: with the page or step that fixes it.
pub fn words(e: crate::core::sources::SourceError) -> String {
    use crate::core::sources::SourceError;
    match e {
        SourceError::NoBook { .. } => format!("{e}; create it in a client first, or pick another"),
        SourceError::FeedsAnotherBook(_) => format!(
            "{e}; upload into the new book under another source name, or remove this source first"
        ),
        SourceError::RunUnderWay(_) => format!("{e}; try again when it ends (History shows it)"),
        SourceError::OtherKind { .. } => format!("{e}. Import it under another name."),
        SourceError::NotEvents { .. } => e.to_string(),
        SourceError::Store(e) => e.to_string(),
    }
}
