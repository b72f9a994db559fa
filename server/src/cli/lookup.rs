//! What most commands start with: finding the user, source or book they name, worded for a
//! terminal with the command that lists the alternatives.

use crate::core::accounts;
use crate::core::sources::{self, SourceError};
use crate::store::sources::Source;
use crate::store::{Store, User};

pub async fn user(store: &dyn Store, name: &str) -> Result<User, String> {
    accounts::require_user(store, name)
        .await
        .map_err(account_words)
}

/// How the command line words an account error: with the command that lists the users.
pub fn account_words(e: accounts::AccountError) -> String {
    match e {
        accounts::AccountError::NoSuchUser(_) => format!("{e}; `kith user list` shows the users"),
        e => e.to_string(),
    }
}

pub async fn source(store: &dyn Store, user: &User, name: &str) -> Result<Source, String> {
    store
        .source_by_name(user.id, name)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            format!(
                "{} has no source named {name:?}; `kith source list --user {}` shows them",
                user.name, user.name
            )
        })
}

/// How the command line words a source error: with the command or option that fixes it.
pub fn words(e: SourceError) -> String {
    match e {
        SourceError::NoBook { .. } => {
            format!("{e}; create it in a client (MKCOL) or pick another with --book")
        }
        SourceError::FeedsAnotherBook(_) => format!(
            "{e}; import into the new book under another name with --source, or remove this source first"
        ),
        SourceError::RunUnderWay(_) => {
            format!("{e}; try again when it ends (`kith sync history` shows it)")
        }
        SourceError::OtherKind { .. } => format!("{e}; name another source with --source"),
        SourceError::NotEvents { .. } => format!("{e} with --calendar"),
        SourceError::Store(e) => e.to_string(),
    }
}

pub async fn book_id(store: &dyn Store, user: &User, book: &str) -> Result<i64, String> {
    sources::book_id(store, user, book).await.map_err(words)
}

pub async fn move_book(store: &dyn Store, s: &Source, collection_id: i64) -> Result<(), String> {
    sources::move_book(store, s, collection_id)
        .await
        .map_err(words)
}

pub async fn claim_source(store: &dyn Store, id: i64, name: &str) -> Result<String, String> {
    sources::claim(store, id, name).await.map_err(words)
}

/// A file path as the source records it: absolute, so the server finds it from anywhere.
pub fn absolute(path: &std::path::Path) -> Result<String, String> {
    let abs =
        std::path::absolute(path).map_err(|e| format!("cannot resolve {}: {e}", path.display()))?;
    Ok(abs.display().to_string())
}

/// How the command line words a sync error: with the command that shows or fixes it.
pub fn sync_words(e: crate::sync::SyncError) -> String {
    use crate::sync::SyncError;
    match &e {
        SyncError::NoRun(_) => format!("{e}; see `kith sync history`"),
        SyncError::GuardTripped { run, .. } => {
            format!("{e}; check it with `kith sync show {run}` and add --force to apply it")
        }
        SyncError::NotApplicable {
            source_name: source,
            ..
        } => {
            format!("{e}; make a new plan with `kith sync plan {source}`")
        }
        SyncError::Stale {
            source_name: source,
            ..
        } => {
            format!("{e}. Make a new plan with `kith sync plan {source}`")
        }
        SyncError::BadRules { source_name, .. } => {
            format!("{e}; set them again with `kith source rules {source_name}`")
        }
        _ => e.to_string(),
    }
}
