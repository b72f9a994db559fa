//! Your data: export downloads (vCard, the CSV layouts, iCalendar), the personal archive, the
//! trash with restore, deleted books and calendars, and one card's history.

use super::form::Form;
use super::page::{self, Nav, when};
use super::{Web, seg};
use crate::core::export::{self, ExportFormat};
use crate::store::versions::Actor;
use crate::store::{Collection, Kind};
use askama::Template;
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use futures_util::StreamExt;

pub struct TrashItem {
    pub name: String,
    pub title: String,
    pub deleted: String,
    pub by: String,
}

pub struct CollView {
    pub kind: &'static str,
    pub name: String,
    pub title: String,
    pub href: String,
    pub trash: Vec<TrashItem>,
}

pub struct GoneView {
    pub kind: &'static str,
    pub name: String,
    pub deleted: String,
    pub members: i64,
}

#[derive(Template)]
#[template(path = "data.html")]
struct Data {
    nav: Nav,
    books: Vec<CollView>,
    calendars: Vec<CollView>,
    gone: Vec<GoneView>,
    notice: Option<String>,
}

/// A card's or event's name for people: its FN or SUMMARY.
pub fn title_of(data: &[u8]) -> String {
    let text = String::from_utf8_lossy(data);
    text.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            let k = k.split(';').next()?.to_ascii_uppercase();
            (k == "FN" || k == "SUMMARY").then(|| v.trim().to_string())
        })
        .unwrap_or_default()
}

async fn views(web: &Web, kind: Kind) -> Result<Vec<CollView>, crate::store::StoreError> {
    let store = web.app.store.as_ref();
    let mut out = Vec::new();
    for c in store.collections(web.user().id, kind).await? {
        if c.derived.is_some() {
            continue;
        }
        let trash = store
            .trash(c.id)
            .await?
            .into_iter()
            .take(200)
            .map(|v| TrashItem {
                title: title_of(&v.data),
                deleted: when(v.replaced_at),
                by: v.replaced_by,
                name: v.name,
            })
            .collect();
        out.push(CollView {
            kind: kind.as_str(),
            href: format!("/data/export/{}/{}", kind.as_str(), seg(&c.name)),
            title: c.displayname.clone().unwrap_or_else(|| c.name.clone()),
            name: c.name,
            trash,
        });
    }
    Ok(out)
}

pub async fn show(web: &Web) -> Response {
    let (books, calendars) = match (
        views(web, Kind::Addressbook).await,
        views(web, Kind::Calendar).await,
    ) {
        (Ok(b), Ok(c)) => (b, c),
        (Err(e), _) | (_, Err(e)) => return page::internal(web, e),
    };
    let gone = match web.app.store.deleted_collections(web.user().id).await {
        Ok(g) => g
            .into_iter()
            .map(|c| GoneView {
                kind: c.kind.as_str(),
                name: c.name,
                deleted: when(c.deleted_at),
                members: c.members,
            })
            .collect(),
        Err(e) => return page::internal(web, e),
    };
    let q = web.query();
    page::ok(&Data {
        nav: web.nav("data"),
        books,
        calendars,
        gone,
        notice: q
            .get("restored")
            .map(|n| format!("Restored {n}. Your devices get it on their next sync.")),
    })
}

fn kind_of(s: &str) -> Option<Kind> {
    match s {
        "addressbook" => Some(Kind::Addressbook),
        "calendar" => Some(Kind::Calendar),
        _ => None,
    }
}

async fn own_collection(web: &Web, kind: &str, name: &str) -> Result<Collection, Response> {
    let Some(kind) = kind_of(kind) else {
        return Err(page::not_found(web));
    };
    match web.app.store.collection(web.user().id, kind, name).await {
        Ok(Some(c)) => Ok(c),
        Ok(None) => Err(page::not_found(web)),
        Err(e) => Err(page::internal(web, e)),
    }
}

/// `GET /data/export/KIND/NAME?format=vcf|vcf3|vcf4|csv-google|csv-outlook|csv-linkedin|ics`.
pub async fn export(web: &Web, kind: &str, name: &str) -> Response {
    let coll = match own_collection(web, kind, name).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let q = web.query();
    let default = if coll.kind == Kind::Calendar {
        "ics"
    } else {
        "vcf"
    };
    let format = match ExportFormat::parse(q.get("format").map(String::as_str).unwrap_or(default)) {
        Some(f) if f.is_calendar() == (coll.kind == Kind::Calendar) => f,
        _ => {
            return page::error_back(
                web,
                StatusCode::BAD_REQUEST,
                "Unknown export format",
                "Address books export as vcf, vcf3, vcf4, csv-google, csv-outlook or csv-linkedin; calendars as ics.",
                "/data",
            );
        }
    };
    let content_type = match format {
        ExportFormat::Vcf | ExportFormat::VcfAs(_) => "text/vcard; charset=utf-8",
        ExportFormat::Csv(_) => "text/csv; charset=utf-8",
        ExportFormat::Ics => "text/calendar; charset=utf-8",
    };
    let file = export::file_name(&coll, format).replace(['"', '\\', '\r', '\n'], "_");
    let title = coll
        .displayname
        .clone()
        .unwrap_or_else(|| coll.name.clone());
    let chunks = export::stream(web.app.store.clone(), vec![coll], format, title);
    let mut r = Response::new(Body::from_stream(chunks.map(|c| {
        c.map_err(|e| {
            tracing::error!(error = %e, "export download aborted");
            std::io::Error::other("the download was aborted")
        })
    })));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// Where a restore leads: back to the data page saying what came back, or why not.
fn restored<T>(
    web: &Web,
    name: &str,
    done: Result<T, crate::core::versions::HistoryError>,
) -> Response {
    match done {
        Ok(_) => page::redirect(&format!("/data?restored={}", seg(name))),
        Err(e) => page::error_back(
            web,
            StatusCode::CONFLICT,
            "Not restored",
            &match e {
                crate::core::versions::HistoryError::NotInTrash { .. } => {
                    format!("{e}; the Data page lists what the trash holds")
                }
                e => e.to_string(),
            },
            "/data",
        ),
    }
}

fn actor(web: &Web, what: &str) -> Actor {
    Actor::Command(format!("{what} (web, by {})", web.user().name))
}

/// `POST /data/restore`: a deleted card or event back from the trash.
pub async fn restore(web: &Web, form: &Form) -> Response {
    let coll = match own_collection(web, form.get("kind"), form.get("collection")).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let item = form.get("item");
    let who = actor(web, &format!("trash restore in {}", coll.name));
    let done = crate::core::versions::restore_from_trash(
        web.app.store.as_ref(),
        &web.app.config,
        &coll,
        item,
        &who,
    )
    .await;
    restored(web, item, done)
}

/// `POST /data/restore-book`: a deleted address book or calendar, with its members.
pub async fn restore_book(web: &Web, form: &Form) -> Response {
    let Some(kind) = kind_of(form.get("kind")) else {
        return page::not_found(web);
    };
    let name = form.get("name");
    let store = web.app.store.as_ref();
    let gone = match store.deleted_collections(web.user().id).await {
        Ok(g) => g,
        Err(e) => return page::internal(web, e),
    };
    let Some(c) = gone.iter().find(|c| c.kind == kind && c.name == name) else {
        return page::not_found(web);
    };
    match store.restore_collection(c.id, name).await {
        Ok(true) => page::redirect(&format!("/data?restored={}", seg(name))),
        Ok(false) => page::error_back(
            web,
            StatusCode::CONFLICT,
            "Not restored",
            &format!(
                "You already have a {} named {name}. Rename or delete that one in a client first, then restore this one again.",
                kind.as_str()
            ),
            "/data",
        ),
        Err(e) => page::internal(web, e),
    }
}

pub struct VersionView {
    pub id: i64,
    pub title: String,
    pub written: String,
    pub by: String,
    pub replaced: String,
    pub replaced_by: String,
    pub deleted: bool,
}

#[derive(Template)]
#[template(path = "card.html")]
struct CardHistory {
    nav: Nav,
    book: String,
    name: String,
    current: Option<String>,
    versions: Vec<VersionView>,
}

/// `GET /data/card/BOOK/NAME`: a card's earlier versions, each restorable.
pub async fn card_history(web: &Web, book: &str, name: &str) -> Response {
    let coll = match own_collection(web, "addressbook", book).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let store = web.app.store.as_ref();
    let (current, versions) = match (
        store.object(coll.id, name).await,
        store.versions(coll.id, name).await,
    ) {
        (Ok(c), Ok(v)) => (c, v),
        (Err(e), _) | (_, Err(e)) => return page::internal(web, e),
    };
    if current.is_none() && versions.is_empty() {
        return page::not_found(web);
    }
    page::ok(&CardHistory {
        nav: web.nav("data"),
        book: coll.name,
        name: name.to_string(),
        current: current.map(|o| String::from_utf8_lossy(&o.data).into_owned()),
        versions: versions
            .into_iter()
            .map(|v| VersionView {
                id: v.id,
                title: title_of(&v.data),
                written: when(v.written_at),
                by: v.written_by.unwrap_or_default(),
                replaced: when(v.replaced_at),
                replaced_by: v.replaced_by,
                deleted: v.deleted,
            })
            .collect(),
    })
}

/// `POST /data/restore-version`.
pub async fn restore_version(web: &Web, form: &Form) -> Response {
    let store = web.app.store.as_ref();
    let Ok(id) = form.get("version").parse::<i64>() else {
        return page::not_found(web);
    };
    let v = match store.version(id).await {
        Ok(Some(v)) => v,
        Ok(None) => return page::not_found(web),
        Err(e) => return page::internal(web, e),
    };
    // The version's collection must be the caller's.
    let Ok(Some(coll)) = crate::core::versions::owning_collection(store, web.user(), &v).await
    else {
        return page::not_found(web);
    };
    let who = actor(web, &format!("restore of version {id}"));
    let done =
        crate::core::versions::restore_version(store, &web.app.config, &coll, &v, &who).await;
    restored(web, &v.name, done)
}
