//! The dashboard: the user's address books and calendars with counts, each source's status
//! with its last and next run, and recent events.

use super::Web;
use super::page::{self, Nav, when, when_opt};
use crate::store::Kind;
use askama::Template;
use axum::response::Response;
use std::collections::HashMap;

pub struct CollectionRow {
    pub title: String,
    pub name: String,
    pub count: i64,
    pub derived: bool,
}

pub struct SourceRow {
    pub name: String,
    pub href: String,
    pub kind: String,
    pub status: String,
    pub detail: String,
    pub last: String,
    pub next: String,
    pub book: String,
}

pub struct EventRow {
    pub at: String,
    pub level: String,
    pub source: String,
    pub message: String,
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct Dashboard {
    nav: Nav,
    books: Vec<CollectionRow>,
    calendars: Vec<CollectionRow>,
    sources: Vec<SourceRow>,
    events: Vec<EventRow>,
    /// Conflicts and proposed merges waiting in the inbox.
    open_conflicts: usize,
}

pub async fn dashboard(web: &Web) -> Response {
    match build(web).await {
        Ok(d) => page::ok(&d),
        Err(e) => page::internal(web, e),
    }
}

async fn build(web: &Web) -> Result<Dashboard, crate::store::StoreError> {
    let store = web.app.store.as_ref();
    let user = web.user();
    let counts: HashMap<i64, i64> = store.member_counts(user.id).await?.into_iter().collect();
    let rows = |colls: Vec<crate::store::Collection>| -> Vec<CollectionRow> {
        colls
            .into_iter()
            .map(|c| CollectionRow {
                title: c.displayname.clone().unwrap_or_else(|| c.name.clone()),
                count: counts.get(&c.id).copied().unwrap_or(0),
                derived: c.derived.is_some(),
                name: c.name,
            })
            .collect()
    };
    let books = store.collections(user.id, Kind::Addressbook).await?;
    let book_names: HashMap<i64, String> = books.iter().map(|c| (c.id, c.name.clone())).collect();
    let books = rows(books);
    // The scheduling inbox and outbox are not calendars to people (Invitations shows the inbox).
    let calendars = rows(
        store
            .collections(user.id, Kind::Calendar)
            .await?
            .into_iter()
            .filter(|c| !crate::core::scheduling::boxes::is_box(c))
            .collect(),
    );
    // A run under way holds its source's lease (on whichever instance runs it).
    let running: std::collections::HashSet<String> =
        store.live_leases("source:").await?.into_iter().collect();
    let sources = store
        .sources(user.id)
        .await?
        .into_iter()
        .map(|s| SourceRow {
            kind: s.kind.title().to_string(),
            status: if running.contains(&format!("source:{}", s.id)) {
                "running".into()
            } else {
                s.status.to_string()
            },
            detail: s.status_detail.clone().unwrap_or_default(),
            last: when_opt(s.last_run_at),
            next: if s.next_run_at.is_some() {
                when_opt(s.next_run_at)
            } else {
                "manual".into()
            },
            book: book_names
                .get(&s.collection_id)
                .cloned()
                .unwrap_or_default(),
            href: format!("/sources/{}", super::seg(&s.name)),
            name: s.name,
        })
        .collect();
    let events = store
        .events(user.id, 15)
        .await?
        .into_iter()
        .map(|e| EventRow {
            at: when(e.at),
            level: e.level,
            source: e.source.unwrap_or_default(),
            message: e.message,
        })
        .collect();
    Ok(Dashboard {
        nav: web.nav("home"),
        books,
        calendars,
        sources,
        events,
        open_conflicts: super::runs::open_conflicts(store, user.id).await?.len(),
    })
}
