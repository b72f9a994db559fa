//! Each user's scheduling inbox (invitations, replies and cancellations delivered to them, as
//! iTIP messages) and outbox (where free-busy requests are POSTed), RFC 6638 §2.1–2.2. Both
//! are calendars marked derived: clients read and delete the inbox's messages, and nobody
//! PUTs into either.

use crate::store::{Collection, CollectionPatch, Kind, Store, StoreError, StoreResult, User};

pub const INBOX: &str = "inbox";
pub const OUTBOX: &str = "outbox";
pub const INBOX_MARK: &str = "schedule-inbox";
pub const OUTBOX_MARK: &str = "schedule-outbox";

/// Whether `c` is a scheduling inbox or outbox.
pub fn is_box(c: &Collection) -> bool {
    matches!(c.derived.as_deref(), Some(INBOX_MARK | OUTBOX_MARK))
}

pub fn is_inbox(c: &Collection) -> bool {
    c.derived.as_deref() == Some(INBOX_MARK)
}

pub fn is_outbox(c: &Collection) -> bool {
    c.derived.as_deref() == Some(OUTBOX_MARK)
}

/// Makes the user's inbox and outbox if they do not exist yet. A calendar the user named
/// `inbox` or `outbox` before scheduling existed stays theirs; that user then has no
/// scheduling box of that name.
pub async fn ensure(store: &dyn Store, user: &User) -> StoreResult<()> {
    for (name, mark, display) in [
        (INBOX, INBOX_MARK, "Scheduling inbox"),
        (OUTBOX, OUTBOX_MARK, "Scheduling outbox"),
    ] {
        if store
            .collection(user.id, Kind::Calendar, name)
            .await?
            .is_some()
        {
            continue;
        }
        let patches = [
            CollectionPatch::DisplayName(Some(display.into())),
            CollectionPatch::Components(vec!["VEVENT".into(), "VTODO".into()]),
        ];
        match store
            .create_collection(user.id, Kind::Calendar, name, &patches)
            .await
        {
            Ok(c) => store.set_derived(c.id, mark).await?,
            Err(StoreError::Exists(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The user's inbox, made if needed; `None` if a calendar of theirs holds the name.
pub async fn inbox(store: &dyn Store, user: &User) -> StoreResult<Option<Collection>> {
    ensure(store, user).await?;
    Ok(store
        .collection(user.id, Kind::Calendar, INBOX)
        .await?
        .filter(is_inbox))
}

/// Where invitations to `user` land (`schedule-default-calendar-URL`): their first own
/// calendar that takes events, `personal` when they have it.
pub async fn default_calendar(store: &dyn Store, user: &User) -> StoreResult<Option<Collection>> {
    let cals: Vec<Collection> = store
        .collections(user.id, Kind::Calendar)
        .await?
        .into_iter()
        .filter(|c| c.derived.is_none())
        .filter(|c| c.components.is_empty() || c.components.iter().any(|x| x == "VEVENT"))
        .collect();
    Ok(cals
        .iter()
        .find(|c| c.name == "personal")
        .or(cals.first())
        .cloned())
}
