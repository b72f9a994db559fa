//! Sources' bookkeeping that every front needs: finding the book a source feeds, pointing a
//! source at another book, and claiming a source's run lease.

use crate::store::sources::{Source, SourcePatch};
use crate::store::{Kind, Store, StoreError, User};

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{user} has no address book named {book:?}")]
    NoBook { user: String, book: String },
    #[error("source {0} already feeds another address book")]
    FeedsAnotherBook(String),
    #[error("a run of source {0} is under way on a server")]
    RunUnderWay(String),
}

/// The id of `user`'s address book named `book`.
pub async fn book_id(store: &dyn Store, user: &User, book: &str) -> Result<i64, SourceError> {
    Ok(store
        .collection(user.id, Kind::Addressbook, book)
        .await?
        .ok_or_else(|| SourceError::NoBook {
            user: user.name.clone(),
            book: book.to_string(),
        })?
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
    // Ten minutes: a command that dies holds the source no longer than that.
    if store
        .try_lease(&lease, super::lease::instance_id(), 600_000)
        .await?
    {
        Ok(lease)
    } else {
        Err(SourceError::RunUnderWay(name.to_string()))
    }
}
