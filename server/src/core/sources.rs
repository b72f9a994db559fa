//! Sources' bookkeeping that every front needs: finding the book a source feeds, pointing a
//! source at another book, and claiming a source's run lease.

use crate::store::sources::{Source, SourceKind, SourcePatch};
use crate::store::{Kind, Store, StoreError, User};
use kith_connectors::formats::Format;
use kith_connectors::rules::Rules;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{user} has no address book named {book:?}")]
    NoBook { user: String, book: String },
    #[error("calendar {calendar:?} does not hold events; choose another for the calendar source")]
    NotEvents { calendar: String },
    #[error("source {0} already feeds another address book")]
    FeedsAnotherBook(String),
    #[error("a run of source {0} is under way on a server")]
    RunUnderWay(String),
    /// A file import named a source that reads another kind.
    #[error("source {name:?} reads {} files, not {}", kind.title(), SourceKind::File(*format).title())]
    OtherKind {
        name: String,
        kind: SourceKind,
        format: Format,
    },
}

/// The source a file import feeds: `user`'s source `name`, created for files of `format`
/// unless it exists, reading the file at `location` from now on. `book` moves an existing
/// source (see [`move_book`]) and places a new one, which goes to the default book without it.
/// Returns the source and whether it is new.
pub async fn file_source(
    store: &dyn Store,
    user: &User,
    name: &str,
    format: Format,
    location: String,
    book: Option<i64>,
) -> Result<(Source, bool), SourceError> {
    let kind = SourceKind::File(format);
    if let Some(s) = store.source_by_name(user.id, name).await? {
        if s.kind != kind {
            return Err(SourceError::OtherKind {
                name: name.to_string(),
                kind: s.kind,
                format,
            });
        }
        if let Some(id) = book {
            move_book(store, &s, id).await?;
        }
        store
            .patch_source(s.id, SourcePatch::Location(location.clone()))
            .await?;
        let collection_id = book.unwrap_or(s.collection_id);
        let s = Source {
            location: Some(location),
            collection_id,
            ..s
        };
        return Ok((s, false));
    }
    let coll = match book {
        Some(id) => id,
        None => book_id(store, user, super::accounts::DEFAULT_BOOK).await?,
    };
    let rules = serde_json::to_string(&Rules::default()).unwrap_or_default();
    let s = store
        .create_source(user.id, name, kind, coll, Some(&location), &rules)
        .await?;
    Ok((s, true))
}

/// The id of `user`'s address book named `book`.
pub async fn book_id(store: &dyn Store, user: &User, book: &str) -> Result<i64, SourceError> {
    // A derived book ("Shared with me") is written by Kith alone, never by a source.
    Ok(store
        .collection(user.id, Kind::Addressbook, book)
        .await?
        .filter(|c| c.derived.is_none())
        .ok_or_else(|| SourceError::NoBook {
            user: user.name.clone(),
            book: book.to_string(),
        })?
        .id)
}

/// The book a directory fills: `book` if the user has it, else a new one named "Company
/// directory".
pub async fn directory_book(
    store: &dyn Store,
    user: &User,
    book: &str,
) -> Result<i64, SourceError> {
    match book_id(store, user, book).await {
        Err(SourceError::NoBook { .. }) => Ok(store
            .create_collection(
                user.id,
                Kind::Addressbook,
                book,
                &[crate::store::CollectionPatch::DisplayName(Some(
                    "Company directory".into(),
                ))],
            )
            .await?
            .id),
        other => other,
    }
}

/// The calendar a calendar source fills: `name` if the user has it (it must hold events),
/// else a new one with the upstream calendar's name and color.
pub async fn source_calendar(
    store: &dyn Store,
    user: &User,
    name: &str,
    display: &str,
    color: Option<&str>,
) -> Result<i64, SourceError> {
    if let Some(c) = store
        .collection(user.id, Kind::Calendar, name)
        .await?
        .filter(|c| c.derived.is_none())
    {
        if !c.components.iter().any(|x| x == "VEVENT") {
            return Err(SourceError::NotEvents {
                calendar: name.to_string(),
            });
        }
        return Ok(c.id);
    }
    let mut patches = vec![
        crate::store::CollectionPatch::DisplayName(Some(display.to_string())),
        crate::store::CollectionPatch::Components(vec!["VEVENT".into()]),
    ];
    if let Some(c) = color.filter(|c| {
        c.starts_with('#') && c.len() <= 9 && c[1..].chars().all(|x| x.is_ascii_hexdigit())
    }) {
        patches.push(crate::store::CollectionPatch::Dead {
            ns: "http://apple.com/ns/ical/".into(),
            name: "calendar-color".into(),
            xml: Some(format!(
                "<A:calendar-color xmlns:A=\"http://apple.com/ns/ical/\">{c}</A:calendar-color>"
            )),
        });
    }
    Ok(store
        .create_collection(user.id, Kind::Calendar, name, &patches)
        .await?
        .id)
}

/// Points a source at another book, which is only possible before it has linked anything: its
/// links name cards of its current book.
pub async fn move_book(
    store: &dyn Store,
    s: &Source,
    collection_id: i64,
) -> Result<(), SourceError> {
    if collection_id == s.collection_id {
        return Ok(());
    }
    let linked = store.mappings(s.id).await?;
    if linked.iter().any(|(_, m)| m.card.is_some()) {
        return Err(SourceError::FeedsAnotherBook(s.name.clone()));
    }
    store
        .patch_source(s.id, SourcePatch::Collection(collection_id))
        .await?;
    Ok(())
}

/// Claims source `id`'s run lease for a command or a page, so it never applies a run while a
/// server instance runs the same source. Returns the lease's name, for release.
pub async fn claim(store: &dyn Store, id: i64, name: &str) -> Result<String, SourceError> {
    let lease = format!("source:{id}");
    let me = super::lease::instance_id();
    // Ten minutes: a command on another host that dies holds the source no longer than that;
    // one on this host is known to be gone at once.
    if store.try_lease(&lease, me, 600_000).await? {
        return Ok(lease);
    }
    if let Some(holder) = store.lease_holder(&lease).await?
        && super::lease::holder_is_gone(&holder)
        && store.take_lease(&lease, &holder, me, 600_000).await?
    {
        tracing::info!(lease = %lease, %holder, "took over the lease of a process that is gone");
        return Ok(lease);
    }
    Err(SourceError::RunUnderWay(name.to_string()))
}
