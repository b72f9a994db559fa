//! The storage boundary: everything above sees only the [`Store`] trait, implemented on
//! embedded SQLite and on PostgreSQL.

mod accounts;
mod apply;
pub mod channels;
mod collections;
#[cfg(test)]
mod contract_tests;
pub mod copy;
mod db;
mod dialect;
pub mod groups;
mod handout;
mod leases;
mod listing;
mod objects;
mod open;
pub mod push;
#[cfg(test)]
mod schema_parity;
mod sessions;
mod settings;
pub mod shares;
pub mod sources;
mod sources_db;
pub mod states;
#[cfg(test)]
mod test_postgres;
pub mod versions;
mod writes;

pub use accounts::{Accounts, accounts_generation};
pub use channels::Channels;
pub use collections::Collections;
pub use db::Db;
pub use groups::Groups;
pub use leases::Leases;
pub use objects::Objects;
pub use open::{open, prepare_data_dir};
pub use push::Push;
pub use sessions::Sessions;
pub use settings::Settings;
pub use shares::Shares;
pub use sources::Sources;
pub use versions::{Actor, Versions};

use async_trait::async_trait;
use kith_dav::filter::IndexHint;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0} already exists")]
    Exists(String),
    #[error("the database is not ready: {0}")]
    NotReady(String),
    /// The operation does not exist on this backend; the message names the alternative.
    #[error("{0}")]
    Unsupported(String),
    /// A stored row holds a value this version cannot read.
    #[error("a stored row cannot be read: {0}")]
    Unreadable(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub password_hash: String,
    pub created_at: i64,
    /// May use the admin pages (users, providers, backups).
    pub is_admin: bool,
    /// Set while an admin has disabled the account: it signs in nowhere.
    pub disabled_at: Option<i64>,
}

/// A signed-in browser: the user and the token its forms must carry.
#[derive(Debug, Clone)]
pub struct WebSession {
    pub user: User,
    pub csrf: String,
}

#[derive(Debug, Clone)]
pub struct AppPassword {
    pub id: i64,
    pub label: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// What a collection holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Addressbook,
    Calendar,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Addressbook => "addressbook",
            Kind::Calendar => "calendar",
        }
    }
}

/// The group every user is in: made with all users, and each new user joins it.
pub const EVERYONE: &str = "everyone";

#[derive(Debug, Clone)]
pub struct Collection {
    pub id: i64,
    pub kind: Kind,
    pub name: String,
    pub displayname: Option<String>,
    pub description: Option<String>,
    pub seq: i64,
    pub horizon: i64,
    pub modified_at: i64,
    /// Calendars: the component types accepted, e.g. `["VEVENT"]`.
    pub components: Vec<String>,
    /// Calendars: the calendar-timezone (a VCALENDAR with one VTIMEZONE).
    pub timezone: Option<String>,
    /// Set for a read-only collection Kith derives from other data (`birthdays`).
    pub derived: Option<String>,
    /// Set when another user's collection is reached through a share (never by the store's
    /// own reads: `core::access` fills it in).
    pub shared: Option<shares::SharedBy>,
}

#[derive(Debug, Clone)]
pub struct ObjectMeta {
    pub name: String,
    pub etag: String,
    pub content_type: String,
    pub size: i64,
    pub seq: i64,
    pub modified_at: i64,
}

#[derive(Debug, Clone)]
pub struct Object {
    pub meta: ObjectMeta,
    pub data: Vec<u8>,
}

/// Rows streamed from the store as the consumer reads them, so memory stays flat however large
/// the collection. Dropping the stream stops the query.
pub type RowStream<T> = futures_util::stream::BoxStream<'static, StoreResult<T>>;

/// One item of an incremental sync.
#[derive(Debug, Clone)]
pub enum SyncItem {
    /// A member added or changed after the token (`data` is empty unless asked for).
    Present(Object),
    /// A member removed after the token.
    Removed { name: String, seq: i64 },
    /// Always last: the stamp the rows are complete up to (the `upto` the reader was given).
    End { current: i64 },
}

/// An object to write, already validated by the DAV layer.
pub struct NewObject<'a> {
    pub name: &'a str,
    pub uid: &'a str,
    pub etag: &'a str,
    pub content_type: &'a str,
    pub data: &'a [u8],
    pub index: Vec<(&'a str, String)>,
    /// Calendar objects: first start and last end (Unix seconds), for time-range pre-filters.
    pub span: Option<(i64, i64)>,
}

/// A condition the store narrows a listing with; the caller still checks every row it gets.
#[derive(Debug, Clone)]
pub enum Narrow {
    /// Cards whose index satisfies the hint.
    Index(IndexHint),
    /// Calendar objects whose stored span touches `[start, end]` (Unix seconds, inclusive).
    Span { start: i64, end: i64 },
}

/// Checks `If-Match`/`If-None-Match` against the current ETag inside the write transaction,
/// so two racing writers can never both win.
pub type Precondition<'a> = &'a (dyn Fn(Option<&str>) -> bool + Send + Sync);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    Created,
    Updated,
    PreconditionFailed,
    /// Another member of the collection already has this UID.
    UidConflict(String),
    /// The member exists with another UID (given), which a write may not replace.
    UidChanged(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteOutcome {
    Deleted,
    NotFound,
    PreconditionFailed,
}

/// A collection property change from PROPPATCH: `None` removes it.
#[derive(Debug, Clone)]
pub enum CollectionPatch {
    DisplayName(Option<String>),
    Description(Option<String>),
    /// Calendars: the accepted component types.
    Components(Vec<String>),
    Timezone(Option<String>),
    Dead {
        ns: String,
        name: String,
        xml: Option<String>,
    },
}

/// Everything Kith stores, one trait per aggregate. Each is implemented once, by [`Db`], for
/// both backends.
#[async_trait]
pub trait Store:
    Accounts
    + Channels
    + Collections
    + Groups
    + Objects
    + Push
    + Sources
    + Versions
    + Leases
    + Settings
    + Sessions
    + Shares
    + Send
    + Sync
{
    /// Succeeds when the database answers and every migration this build knows is applied.
    async fn ready(&self) -> StoreResult<()>;

    /// The connection pools' state, for `/metrics`.
    fn pool_stats(&self) -> Vec<crate::metrics::PoolStat>;

    /// Writes a consistent copy of the whole database to the new file `path`, while writers
    /// carry on. The copy holds every transaction committed before it started.
    async fn snapshot(&self, path: &std::path::Path) -> StoreResult<()>;

    /// Which database this is: `sqlite` or `postgresql`.
    fn backend(&self) -> &'static str;
}

#[async_trait]
impl Store for Db {
    async fn ready(&self) -> StoreResult<()> {
        let applied: Vec<i64> = sqlx::query_scalar(
            "SELECT version FROM _sqlx_migrations WHERE success = TRUE ORDER BY version",
        )
        .fetch_all(&self.reader)
        .await?;
        missing_migrations(self.migrator(), &applied)
    }

    fn pool_stats(&self) -> Vec<crate::metrics::PoolStat> {
        Db::pool_stats(self)
    }

    async fn snapshot(&self, path: &std::path::Path) -> StoreResult<()> {
        Db::snapshot(self, path).await
    }

    fn backend(&self) -> &'static str {
        self.dialect.name()
    }
}

/// `Ok` when every migration `migrator` knows is among `applied`.
fn missing_migrations(migrator: &sqlx::migrate::Migrator, applied: &[i64]) -> StoreResult<()> {
    let missing: Vec<String> = migrator
        .iter()
        .filter(|m| !applied.contains(&m.version))
        .map(|m| m.version.to_string())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(StoreError::NotReady(format!(
            "migrations {} are not applied",
            missing.join(", ")
        )))
    }
}

/// The key for the one-UID-per-book rule: the card's UID, or for a card without one its
/// resource name, which is unique in the book by construction.
pub fn effective_uid(info: &kith_dav::vcard::CardInfo, name: &str) -> String {
    match &info.uid {
        Some(u) => u.clone(),
        None => format!("\u{0}name:{name}"),
    }
}

/// A strong ETag from the stored bytes.
pub fn etag_for(data: &[u8]) -> String {
    let hex = blake3::hash(data).to_hex();
    format!("\"{}\"", &hex.as_str()[..32])
}

/// The ETag of old bytes put back by a restore or rewind. It differs from every ETag the bytes
/// had before (`salt` is unique per restore), so a client holding the deleted version's ETag
/// sees a change instead of taking the restored object for the one it already has.
pub fn restored_etag(data: &[u8], salt: &str) -> String {
    let mut h = blake3::Hasher::new();
    h.update(data);
    h.update(b"\0kith-restore\0");
    h.update(salt.as_bytes());
    let hex = h.finalize().to_hex();
    format!("\"{}\"", &hex.as_str()[..32])
}

pub use crate::time::now_ms;

/// Woken after each commit that moved a collection's change counter, in this process: the
/// WebDAV-Push sender waits on it instead of polling. Writes by another process (the CLI,
/// another instance) are found by the sender's periodic check.
pub fn changed() -> &'static tokio::sync::Notify {
    static CHANGED: std::sync::OnceLock<tokio::sync::Notify> = std::sync::OnceLock::new();
    CHANGED.get_or_init(tokio::sync::Notify::new)
}
