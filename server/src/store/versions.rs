//! Storage for history and trash: every version a write replaced, who wrote it and who
//! replaced it. A deleted object's last version is its trash entry. Restores, rewinds and undos
//! are written as new changes, so clients pick them up through normal sync.

use super::{NewObject, StoreResult};
use async_trait::async_trait;
use std::fmt;

/// Who or what made a change; recorded with every version the change replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A DAV client: the user, the device password used (if any) and the client it identified.
    Client {
        user: String,
        device: Option<String>,
        agent: String,
    },
    /// A run of a contact source.
    Source { source: String, run: i64 },
    /// The undo of a source's run.
    Undo { source: String, run: i64 },
    /// A command: `trash restore`, `restore-version`, `book rewind`, an import of a file.
    Command(String),
    /// Kith deriving data from other data (the birthday calendar): not kept in history, since
    /// it can always be derived again.
    Derived,
}

impl Actor {
    pub fn keeps_history(&self) -> bool {
        !matches!(self, Actor::Derived)
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actor::Client {
                user,
                device,
                agent,
            } => {
                write!(f, "client {user}")?;
                if let Some(d) = device {
                    write!(f, " via device password {d:?}")?;
                }
                if !agent.is_empty() {
                    write!(f, " ({agent})")?;
                }
                Ok(())
            }
            Actor::Source { source, run } => write!(f, "source {source} run {run}"),
            Actor::Undo { source, run } => write!(f, "undo of source {source} run {run}"),
            Actor::Command(what) => f.write_str(what),
            Actor::Derived => f.write_str("kith"),
        }
    }
}

/// A version of an object that a later write or a delete replaced.
#[derive(Debug, Clone)]
pub struct Version {
    pub id: i64,
    pub collection_id: i64,
    pub name: String,
    pub uid: String,
    pub etag: String,
    pub data: Vec<u8>,
    pub written_at: i64,
    pub written_by: Option<String>,
    pub replaced_at: i64,
    pub replaced_by: String,
    /// It was deleted rather than overwritten.
    pub deleted: bool,
}

/// One write of a change set. `expect` is the ETag the member has now (`None`: absent); if it
/// differs when the change set is applied, nothing is written.
pub enum Change<'a> {
    Put {
        obj: NewObject<'a>,
        expect: Option<String>,
    },
    Delete {
        name: &'a str,
        expect: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeOutcome {
    Applied,
    /// A member changed since the change set was computed (its name), or a restored object's
    /// UID is taken by another member.
    Stale(String),
}

/// A member as of now, for computing a rewind.
#[derive(Debug, Clone)]
pub struct Current {
    pub name: String,
    pub etag: String,
}

/// Why a source is paused while its book is in the trash.
pub const BOOK_DELETED: &str = "its address book was deleted; restore it with `kith trash restore-book`, or point the source at another book";

/// A collection in the trash.
#[derive(Debug, Clone)]
pub struct DeletedCollection {
    pub id: i64,
    pub kind: super::Kind,
    /// The name it had.
    pub name: String,
    pub deleted_at: i64,
    pub deleted_by: String,
    pub members: i64,
}

#[async_trait]
pub trait HistoryStore: Send + Sync {
    /// The versions of member `name` that were replaced, newest first.
    async fn versions(&self, collection_id: i64, name: &str) -> StoreResult<Vec<Version>>;
    async fn version(&self, id: i64) -> StoreResult<Option<Version>>;
    /// Who wrote the current version of member `name`.
    async fn written_by(&self, collection_id: i64, name: &str) -> StoreResult<Option<String>>;
    /// The member name `key` refers to: a name that is or was in the collection, else the
    /// name of the member (live, or else most recently changed) with that UID.
    async fn find_name(&self, collection_id: i64, key: &str) -> StoreResult<Option<String>>;
    /// Deleted members that were not re-created: the last version of each, newest first.
    async fn trash(&self, collection_id: i64) -> StoreResult<Vec<Version>>;
    /// Versions replaced after `at` (Unix ms), and members written after it.
    async fn changed_since(
        &self,
        collection_id: i64,
        at: i64,
    ) -> StoreResult<(Vec<Version>, Vec<Current>)>;
    /// Applies a change set in one transaction, each replaced version kept with `actor`.
    async fn apply_changes(
        &self,
        collection_id: i64,
        changes: &[Change<'_>],
        actor: &Actor,
    ) -> StoreResult<ChangeOutcome>;
    /// Forgets versions replaced before `before` (Unix ms), trash included.
    async fn purge_versions(&self, before: i64) -> StoreResult<u64>;
    /// Empties a collection's trash: every version of each member that is deleted now.
    async fn purge_trash(&self, collection_id: i64) -> StoreResult<u64>;
    /// A user's collections in the trash, newest first.
    async fn deleted_collections(&self, owner_id: i64) -> StoreResult<Vec<DeletedCollection>>;
    /// Takes collection `id` out of the trash under `name`; `false` if a live collection of
    /// its kind has that name now. Its sources resume.
    async fn restore_collection(&self, id: i64, name: &str) -> StoreResult<bool>;
    /// Deletes for good the collections trashed before `before` (Unix ms).
    async fn purge_collections(&self, before: i64) -> StoreResult<u64>;
    /// How many versions are kept in all, trash included.
    async fn version_count(&self) -> StoreResult<i64>;
}
