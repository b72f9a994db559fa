//! The storage boundary: everything above sees only the [`Store`] trait, implemented on
//! embedded SQLite and on PostgreSQL.

pub mod copy;
#[cfg(test)]
mod lease_tests;
mod open;
mod postgres;
mod postgres_sources;
mod postgres_versions;
#[cfg(test)]
mod schema_parity;
pub mod sources;
mod sqlite;
mod sqlite_sources;
mod sqlite_versions;
#[cfg(test)]
mod test_postgres;
pub mod versions;

pub use versions::Actor;

pub use open::{open, prepare_data_dir};
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

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
    /// Always last: the collection's change stamp, read in the same snapshot as the rows.
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

#[async_trait]
pub trait Store: sources::SyncStore + versions::HistoryStore + Send + Sync {
    // Accounts.
    async fn create_user(&self, name: &str, password_hash: &str) -> StoreResult<User>;
    async fn user_by_name(&self, name: &str) -> StoreResult<Option<User>>;
    /// The user named `name`, with the app password whose keyed hash is `app_hash` if the user
    /// has one: one query per authenticated request.
    async fn user_for_login(
        &self,
        name: &str,
        app_hash: &[u8],
    ) -> StoreResult<Option<(User, Option<AppPassword>)>>;
    async fn list_users(&self) -> StoreResult<Vec<User>>;
    async fn set_password(&self, user_id: i64, password_hash: &str) -> StoreResult<()>;
    async fn delete_user(&self, user_id: i64) -> StoreResult<()>;
    async fn add_app_password(&self, user_id: i64, label: &str, hash: &[u8]) -> StoreResult<()>;
    async fn app_passwords(&self, user_id: i64) -> StoreResult<Vec<AppPassword>>;
    async fn revoke_app_password(&self, user_id: i64, label: &str) -> StoreResult<bool>;
    async fn touch_app_password(&self, id: i64) -> StoreResult<()>;

    // Collections.
    async fn create_collection(
        &self,
        owner_id: i64,
        kind: Kind,
        name: &str,
        patches: &[CollectionPatch],
    ) -> StoreResult<Collection>;
    async fn collections(&self, owner_id: i64, kind: Kind) -> StoreResult<Vec<Collection>>;
    async fn collection(
        &self,
        owner_id: i64,
        kind: Kind,
        name: &str,
    ) -> StoreResult<Option<Collection>>;
    /// Marks a collection as derived (read-only to clients).
    async fn set_derived(&self, id: i64, derived: &str) -> StoreResult<()>;
    /// How far derived calendar `calendar_id` has read each address book: (book id, stamp).
    async fn derived_marks(&self, calendar_id: i64) -> StoreResult<Vec<(i64, i64)>>;
    async fn set_derived_mark(
        &self,
        calendar_id: i64,
        book_id: i64,
        seq: Option<i64>,
    ) -> StoreResult<()>;
    /// Moves a collection to the trash: hidden from clients and listings, its name free for a
    /// new collection, its sources paused, until restored or purged after the retention.
    async fn delete_collection(&self, id: i64, actor: &Actor) -> StoreResult<()>;
    async fn patch_collection(&self, id: i64, patches: &[CollectionPatch]) -> StoreResult<()>;
    async fn dead_props(&self, id: i64) -> StoreResult<Vec<(String, String, String)>>;

    // Objects.
    async fn object(&self, collection_id: i64, name: &str) -> StoreResult<Option<Object>>;
    async fn objects_by_name(
        &self,
        collection_id: i64,
        names: &[String],
    ) -> StoreResult<Vec<Object>>;
    async fn put_object(
        &self,
        collection_id: i64,
        obj: &NewObject<'_>,
        check: Precondition<'_>,
        actor: &Actor,
    ) -> StoreResult<PutOutcome>;
    async fn delete_object(
        &self,
        collection_id: i64,
        name: &str,
        check: Precondition<'_>,
        actor: &Actor,
    ) -> StoreResult<DeleteOutcome>;

    /// Renames a member within its collection in one transaction (MOVE inside a book): the
    /// old name is reported removed and the new one changed. `uid` is the key the renamed card
    /// keeps for the one-UID-per-book rule.
    async fn rename_object(
        &self,
        collection_id: i64,
        from: &str,
        to: &str,
        uid: &str,
        overwrite: bool,
        actor: &Actor,
    ) -> StoreResult<PutOutcome>;

    /// A collection's members in storage order. `data` is left empty unless `with_data`; with a
    /// narrowing condition, only members that satisfy it (a superset of a query's matches).
    fn objects(
        &self,
        collection_id: i64,
        with_data: bool,
        narrow: Option<Narrow>,
    ) -> RowStream<Object>;

    /// Changes after stamp `since`, oldest first, at most `limit`, then [`SyncItem::End`].
    /// `since == 0` lists the present members only (an initial sync).
    fn changes(
        &self,
        collection_id: i64,
        since: i64,
        limit: Option<usize>,
        with_data: bool,
    ) -> RowStream<SyncItem>;

    /// Drops tombstones older than `before` (Unix ms) and moves sync horizons past them.
    async fn purge_tombstones(&self, before: i64) -> StoreResult<u64>;

    /// Succeeds when the database answers and every migration this build knows is applied.
    async fn ready(&self) -> StoreResult<()>;

    /// The connection pools' state, for `/metrics`.
    fn pool_stats(&self) -> Vec<crate::metrics::PoolStat>;

    /// Writes a consistent copy of the whole database to the new file `path`, while writers
    /// carry on. The copy holds every transaction committed before it started.
    async fn snapshot(&self, path: &std::path::Path) -> StoreResult<()>;

    /// Which database this is: `sqlite` or `postgresql`.
    fn backend(&self) -> &'static str;

    /// Claims (or renews) lease `name` for `holder` for `ttl_ms`: true when `holder` now holds
    /// it, false while another instance's lease is unexpired.
    async fn try_lease(&self, name: &str, holder: &str, ttl_ms: i64) -> StoreResult<bool>;
    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()>;
    /// The unexpired leases whose names start with `prefix` (what is running now).
    async fn live_leases(&self, prefix: &str) -> StoreResult<Vec<String>>;

    /// The shared setting `name`, set to `initial` if it has no value yet: every instance gets
    /// the value of whichever wrote first.
    async fn shared_setting(&self, name: &str, initial: &[u8]) -> StoreResult<Vec<u8>>;

    /// A setting an admin changes (e.g. `provider:google` → `enabled`); `None` removes it.
    async fn set_setting(&self, name: &str, value: Option<&[u8]>) -> StoreResult<()>;
    async fn setting(&self, name: &str) -> StoreResult<Option<Vec<u8>>>;
    /// The names of the settings that start with `prefix`, without it.
    async fn settings_with_prefix(&self, prefix: &str) -> StoreResult<Vec<String>>;

    /// Stores a sealed value (see migrations 0006): already encrypted by the caller.
    async fn put_sealed(
        &self,
        name: &str,
        owner_id: Option<i64>,
        value: &[u8],
        expires_at: Option<i64>,
    ) -> StoreResult<()>;
    /// The sealed value `name`, unless it expired.
    async fn sealed(&self, name: &str) -> StoreResult<Option<Vec<u8>>>;
    /// Removes and returns `name` in one step, so a value (an OAuth state) is used once.
    async fn take_sealed(&self, name: &str) -> StoreResult<Option<Vec<u8>>>;
    async fn delete_sealed(&self, name: &str) -> StoreResult<()>;
    /// Forgets expired values (authorizations never finished); returns how many.
    async fn purge_expired_sealed(&self) -> StoreResult<u64>;

    // Administration and browser sessions (the web UI).
    async fn set_user_admin(&self, user_id: i64, admin: bool) -> StoreResult<()>;
    /// Disables (or enables again) an account; disabling also ends its browser sessions.
    async fn set_user_disabled(&self, user_id: i64, disabled: bool) -> StoreResult<()>;
    async fn create_web_session(
        &self,
        token_hash: &[u8],
        user_id: i64,
        csrf: &str,
        expires_at: i64,
    ) -> StoreResult<()>;
    /// The live session with this token hash: `None` once it expired or its user was disabled.
    async fn web_session(&self, token_hash: &[u8]) -> StoreResult<Option<WebSession>>;
    async fn delete_web_session(&self, token_hash: &[u8]) -> StoreResult<()>;
    /// Ends every browser session of a user (a password reset signs everyone out).
    async fn delete_web_sessions(&self, user_id: i64) -> StoreResult<()>;
    async fn purge_expired_web_sessions(&self) -> StoreResult<u64>;
    /// How many members each of a user's collections has: collection id → count.
    async fn member_counts(&self, owner_id: i64) -> StoreResult<Vec<(i64, i64)>>;
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
