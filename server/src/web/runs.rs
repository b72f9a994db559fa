//! Preview, apply and undo: a preview stores the plan as a run and shows it (creates, updates
//! with each field's before and after, links, unlinks, deletes, conflicts and skips with their
//! reason); "Apply" applies exactly that stored plan; a guard trip says why and asks to
//! confirm. Also the history of runs and the conflicts inbox.

use super::form::Form;
use super::page::{self, Nav, when};
use super::sources::{RunRow, own_source, run_rows};
use super::{Web, seg};
use crate::store::sources::{Run, Source};
use crate::sync::{self, Options, Summary, SyncError};
use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use kith_connectors::plan::{Action, Op};
use std::collections::HashMap;

/// Operations shown on a run's page; a larger plan says how many more there are.
const SHOWN_OPS: usize = 500;

pub struct ChangeView {
    pub field: String,
    pub before: String,
    pub after: String,
}

pub struct OpView {
    pub action: &'static str,
    pub name: String,
    pub changes: Vec<ChangeView>,
    pub notes: Vec<String>,
    pub conflict: bool,
    /// What is written to the source itself, if anything.
    pub push: String,
    pub push_changes: Vec<ChangeView>,
}

pub fn changes(list: &[kith_connectors::plan::Change]) -> Vec<ChangeView> {
    list.iter()
        .map(|c| ChangeView {
            field: c.field.as_str().to_string(),
            before: c.before.clone().unwrap_or_default(),
            after: c.after.clone().unwrap_or_default(),
        })
        .collect()
}

pub fn op_view(o: &Op) -> OpView {
    OpView {
        action: o.action.as_str(),
        name: o.name.clone(),
        changes: changes(&o.changes),
        notes: o.notes.clone(),
        conflict: o.conflict,
        push: o
            .push
            .as_ref()
            .map(|p| p.kind.as_str().to_string())
            .unwrap_or_default(),
        push_changes: o
            .push
            .as_ref()
            .map(|p| changes(&p.changes))
            .unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "run.html")]
struct RunPage {
    nav: Nav,
    run: Run,
    source: Source,
    source_href: String,
    at: String,
    summary: Summary,
    counts: Vec<(String, usize)>,
    ops: Vec<OpView>,
    hidden: usize,
    notice: Option<String>,
    error: Option<String>,
}

/// The caller's run `id` and its source, or the not-found page.
/// The setting that marks a conflict of run `run` (contact `remote_id`) as resolved.
pub fn resolved_key(run: i64, remote_id: &str) -> String {
    format!("conflict-resolved:{run}:{remote_id}")
}

pub async fn own_run(web: &Web, id: &str) -> Result<(Run, Source), Response> {
    let Ok(id) = id.parse::<i64>() else {
        return Err(page::not_found(web));
    };
    match sync::run_and_source(web.app.store.as_ref(), id).await {
        Ok((run, source)) if source.owner_id == web.user().id => Ok((run, source)),
        Ok(_) | Err(SyncError::Refused(_)) => Err(page::not_found(web)),
        Err(e) => Err(page::internal(web, e)),
    }
}

pub async fn show(web: &Web, id: &str) -> Response {
    let (run, source) = match own_run(web, id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let q = web.query();
    let notice = if q.contains_key("applied") {
        Some("Applied. Your devices get the changes on their next sync.".to_string())
    } else {
        q.get("undone")
            .map(|n| format!("Undone: this run reverted run {n}."))
    };
    render(web, run, source, notice, None, StatusCode::OK).await
}

async fn render(
    web: &Web,
    run: Run,
    source: Source,
    notice: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let ops = match sync::load_ops(web.app.store.as_ref(), run.id).await {
        Ok(o) => o,
        Err(e) => return page::internal(web, e),
    };
    // Changes first, then what needs a decision, then what was left alone.
    let rank = |a: Action| match a {
        Action::Create | Action::Update | Action::Link | Action::Delete | Action::Unlink => 0,
        Action::Propose => 1,
        _ => 2,
    };
    // A refresh only moves what Kith remembers of the source, unless it kept a conflict.
    let mut shown: Vec<&Op> = ops
        .iter()
        .filter(|o| o.action != Action::Refresh || o.conflict)
        .collect();
    shown.sort_by_key(|o| (rank(o.action), !o.conflict));
    let hidden = shown.len().saturating_sub(SHOWN_OPS);
    let summary: Summary = serde_json::from_str(&run.summary).unwrap_or_default();
    page::render(
        status,
        &RunPage {
            nav: web.nav("history"),
            source_href: format!("/sources/{}", seg(&source.name)),
            at: when(run.applied_at.unwrap_or(run.created_at)),
            counts: summary
                .counts
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(k, n)| (k.clone(), *n))
                .collect(),
            summary,
            ops: shown.into_iter().take(SHOWN_OPS).map(op_view).collect(),
            hidden,
            notice,
            error,
            run,
            source,
        },
    )
}

/// Runs `f` holding the source's run lease, so a scheduled run on any instance never
/// interleaves with it.
async fn leased<T>(
    web: &Web,
    source: &Source,
    f: impl std::future::Future<Output = T>,
) -> Result<T, String> {
    let store = web.app.store.as_ref();
    let lease = crate::core::sources::claim(store, source.id, &source.name)
        .await
        .map_err(super::sources::words)?;
    let out = f.await;
    let _ = store
        .release_lease(&lease, crate::core::lease::instance_id())
        .await;
    Ok(out)
}

/// `POST /sources/NAME/preview`: plans a run and shows it; nothing is applied.
pub async fn preview(web: &Web, name: &str) -> Response {
    let source = match own_source(web, name).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let store = web.app.store.as_ref();
    let planned = leased(
        web,
        &source,
        sync::run_source(
            store,
            &web.app.upstreams,
            &source,
            Options {
                dry_run: true,
                force: false,
                accept_merges: false,
                trigger: crate::store::states::Trigger::Web,
                progress: sync::quiet,
            },
        ),
    )
    .await;
    let back = format!("/sources/{}", seg(&source.name));
    match planned {
        Ok(Ok(o)) => page::redirect(&format!("/runs/{}", o.run_id)),
        Ok(Err(SyncError::Store(e))) => page::internal(web, e),
        Ok(Err(e)) => page::error_back(
            web,
            StatusCode::BAD_GATEWAY,
            "The source could not be read",
            &e.to_string(),
            &back,
        ),
        Err(msg) => page::error_back(web, StatusCode::CONFLICT, "A run is under way", &msg, &back),
    }
}

/// `POST /runs/ID/apply` (`force=1` after the user confirmed a guard trip).
pub async fn apply(web: &Web, id: &str, form: &Form) -> Response {
    let (run, source) = match own_run(web, id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let force = form.get("force") == "1";
    let store = web.app.store.as_ref();
    let applied = leased(
        web,
        &source,
        sync::apply_run(store, &web.app.upstreams, run.id, force),
    )
    .await;
    let msg = match applied {
        Ok(Ok(_)) => return page::redirect(&format!("/runs/{}?applied=1", run.id)),
        Ok(Err(SyncError::Store(e))) => return page::internal(web, e),
        Ok(Err(e)) => words(e),
        Err(msg) => msg,
    };
    // The run as it is now (a stale plan was marked so).
    let (run, source) = match own_run(web, id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    render(web, run, source, None, Some(msg), StatusCode::CONFLICT).await
}

/// `POST /runs/ID/undo`.
pub async fn undo(web: &Web, id: &str) -> Response {
    let (run, source) = match own_run(web, id).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let store = web.app.store.as_ref();
    let undone = leased(web, &source, sync::undo_run(store, run.id, false)).await;
    let msg = match undone {
        Ok(Ok(u)) => return page::redirect(&format!("/runs/{}?undone={}", u.run_id, run.id)),
        Ok(Err(SyncError::Store(e))) => return page::internal(web, e),
        Ok(Err(e)) => e.to_string(),
        Err(msg) => msg,
    };
    render(web, run, source, None, Some(msg), StatusCode::CONFLICT).await
}

pub struct HistoryRow {
    pub source: String,
    pub source_href: String,
    pub run: RunRow,
}

#[derive(Template)]
#[template(path = "history.html")]
struct History {
    nav: Nav,
    rows: Vec<HistoryRow>,
}

pub async fn history(web: &Web) -> Response {
    let store = web.app.store.as_ref();
    let names: HashMap<i64, String> = match store.sources(web.user().id).await {
        Ok(s) => s.into_iter().map(|s| (s.id, s.name)).collect(),
        Err(e) => return page::internal(web, e),
    };
    let runs = match store.runs(web.user().id, None, 50).await {
        Ok(r) => r,
        Err(e) => return page::internal(web, e),
    };
    let sources: Vec<i64> = runs.iter().map(|r| r.source_id).collect();
    let rows = run_rows(runs)
        .into_iter()
        .zip(sources)
        .map(|(run, sid)| {
            let source = names.get(&sid).cloned().unwrap_or_default();
            HistoryRow {
                source_href: format!("/sources/{}", seg(&source)),
                source,
                run,
            }
        })
        .collect();
    page::ok(&History {
        nav: web.nav("history"),
        rows,
    })
}

pub struct ConflictView {
    pub run: i64,
    pub source: String,
    pub at: String,
    pub op: OpView,
    pub remote_id: String,
    /// Field, your value, the source's value.
    pub theirs: Vec<ChangeView>,
}

#[derive(Template)]
#[template(path = "conflicts.html")]
struct Conflicts {
    nav: Nav,
    items: Vec<ConflictView>,
    notice: Option<String>,
}

/// The conflicts and proposed merges of each source's latest applied run that nobody has
/// resolved yet: what the user should look at (the inbox, and the Overview's count).
pub async fn open_conflicts(
    store: &dyn crate::store::Store,
    user_id: i64,
) -> crate::store::StoreResult<Vec<ConflictView>> {
    let mut items = Vec::new();
    for s in store.sources(user_id).await? {
        let runs = store.runs(user_id, Some(s.id), 10).await?;
        let Some(run) = runs.into_iter().find(|r| {
            r.kind == crate::store::states::RunKind::Sync
                && r.status == crate::store::states::RunStatus::Applied
        }) else {
            continue;
        };
        let ops = sync::load_ops(store, run.id).await.unwrap_or_default();
        for o in ops
            .iter()
            .filter(|o| o.conflict || o.action == Action::Propose)
        {
            let done = store
                .setting(&resolved_key(run.id, &o.remote_id))
                .await
                .ok()
                .flatten()
                .is_some();
            if done {
                continue;
            }
            items.push(ConflictView {
                run: run.id,
                source: s.name.clone(),
                at: when(run.applied_at.unwrap_or(run.created_at)),
                op: op_view(o),
                remote_id: o.remote_id.clone(),
                theirs: changes(&o.theirs),
            });
        }
    }
    Ok(items)
}

/// `/conflicts`: the inbox.
pub async fn conflicts(web: &Web) -> Response {
    let items = match open_conflicts(web.app.store.as_ref(), web.user().id).await {
        Ok(i) => i,
        Err(e) => return page::internal(web, e),
    };
    let q = web.query();
    page::ok(&Conflicts {
        nav: web.nav("conflicts"),
        items,
        notice: q.get("resolved").map(|n| format!("Resolved: {n}.")),
    })
}

/// How the web UI words a sync error: with the button that fixes it.
fn words(e: SyncError) -> String {
    match &e {
        SyncError::GuardTripped { .. } => {
            format!("{e}; review the plan below and confirm with \"Apply anyway\"")
        }
        SyncError::NotApplicable { .. } => format!("{e}; make a new plan with Preview"),
        SyncError::Stale { .. } => format!("{e}. Make a new plan with Preview"),
        SyncError::BadRules { .. } => format!("{e}; set them again on the source's page"),
        _ => e.to_string(),
    }
}
