//! The embedded SQLite store: WAL, one writer connection, a small pool of readers.
//!
//! SQLite allows one writer at a time. Funnelling writes through a single connection avoids
//! `SQLITE_BUSY` upgrades of deferred transactions; readers see consistent WAL snapshots.

use super::{
    Actor, AppPassword, Collection, CollectionPatch, DeleteOutcome, Kind, Narrow, NewObject,
    Object, ObjectMeta, Precondition, PutOutcome, RowStream, Store, StoreError, StoreResult,
    SyncItem, User, WebSession, now_ms,
};
use async_trait::async_trait;
use futures_util::StreamExt;
use kith_dav::filter::MatchType;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Row, Sqlite, Transaction};
use std::path::Path;
use std::time::Duration;
use tokio::sync::mpsc;

/// Reader connections: concurrent reads beyond this wait for a free connection.
const READERS: u32 = 4;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

pub struct SqliteStore {
    pub(super) writer: SqlitePool,
    pub(super) reader: SqlitePool,
}

const COLLECTION_COLS: &str = "id, kind, name, displayname, description, seq, horizon, modified_at, \
     components, timezone, derived";
const META_COLS: &str = "name, etag, content_type, size, seq, modified_at";

fn collection_row(r: &SqliteRow) -> Collection {
    let components: Option<String> = r.get("components");
    Collection {
        id: r.get("id"),
        kind: if r.get::<&str, _>("kind") == "calendar" {
            Kind::Calendar
        } else {
            Kind::Addressbook
        },
        name: r.get("name"),
        displayname: r.get("displayname"),
        description: r.get("description"),
        seq: r.get("seq"),
        horizon: r.get("horizon"),
        modified_at: r.get("modified_at"),
        components: components
            .map(|c| c.split(',').map(str::to_string).collect())
            .unwrap_or_default(),
        timezone: r.get("timezone"),
        derived: r.get("derived"),
    }
}

fn meta_row(r: &SqliteRow) -> ObjectMeta {
    ObjectMeta {
        name: r.get("name"),
        etag: r.get("etag"),
        content_type: r.get("content_type"),
        size: r.get("size"),
        seq: r.get("seq"),
        modified_at: r.get("modified_at"),
    }
}

fn object_row(r: &SqliteRow) -> Object {
    Object {
        meta: meta_row(r),
        data: r.get("data"),
    }
}

fn user_row(r: &SqliteRow) -> User {
    User {
        id: r.get("id"),
        name: r.get("name"),
        password_hash: r.get("password_hash"),
        created_at: r.get("created_at"),
        is_admin: r.get::<i64, _>("is_admin") != 0,
        disabled_at: r.get("disabled_at"),
    }
}

/// The columns [`user_row`] reads.
pub(super) const USER_COLS: &str = "id, name, password_hash, created_at, is_admin, disabled_at";

/// Escapes LIKE wildcards in a needle (used with `ESCAPE '\'`).
pub(super) fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies migrations.
    pub async fn open(path: &Path) -> StoreResult<SqliteStore> {
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL is durable across application crashes in WAL mode; only an OS crash can
            // lose the last transactions, which is the usual trade-off for a DAV server.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // Shrink the WAL back to 1 MiB after each checkpoint, so a quiet server's WAL does
            // not keep its high-water size on disk.
            .pragma("journal_size_limit", "1048576")
            // Statement journals (multi-row writes inside a transaction) stay in memory
            // instead of temporary files.
            .pragma("temp_store", "memory");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts.clone())
            .await?;
        MIGRATOR.run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READERS)
            .connect_with(opts.read_only(true))
            .await?;
        Ok(SqliteStore { writer, reader })
    }

    /// Bumps the collection's change counter and returns the new stamp.
    pub(super) async fn next_seq(
        tx: &mut Transaction<'_, Sqlite>,
        collection_id: i64,
    ) -> StoreResult<i64> {
        let seq: i64 = sqlx::query_scalar(
            "UPDATE collections SET seq = seq + 1, modified_at = ? WHERE id = ? RETURNING seq",
        )
        .bind(now_ms())
        .bind(collection_id)
        .fetch_one(&mut **tx)
        .await?;
        Ok(seq)
    }

    /// Records that `name` left the collection at stamp `seq`, for sync-collection.
    pub(super) async fn bury(
        tx: &mut Transaction<'_, Sqlite>,
        collection_id: i64,
        name: &str,
        seq: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO tombstones (collection_id, name, seq, deleted_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (collection_id, name) DO UPDATE SET seq = excluded.seq, deleted_at = excluded.deleted_at",
        )
        .bind(collection_id)
        .bind(name)
        .bind(seq)
        .bind(now_ms())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Forgets a tombstone once `name` is a member again.
    pub(super) async fn unbury(
        tx: &mut Transaction<'_, Sqlite>,
        collection_id: i64,
        name: &str,
    ) -> StoreResult<()> {
        sqlx::query("DELETE FROM tombstones WHERE collection_id = ? AND name = ?")
            .bind(collection_id)
            .bind(name)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Writes one object at change stamp `seq`: updates row `existing`, or inserts a new one
    /// (forgetting any tombstone of its name), then its index rows. Returns the row id. The
    /// caller has checked its preconditions; a UID or name taken since fails with a unique
    /// violation.
    pub(super) async fn store_object(
        tx: &mut Transaction<'_, Sqlite>,
        collection_id: i64,
        existing: Option<i64>,
        obj: &NewObject<'_>,
        seq: i64,
        actor: &Actor,
    ) -> StoreResult<i64> {
        let now = now_ms();
        let by = actor.to_string();
        let id = match existing {
            Some(id) => {
                Self::archive(tx, id, actor, false).await?;
                sqlx::query(
                    "UPDATE objects SET uid = ?, etag = ?, content_type = ?, size = ?, data = ?, \
                     seq = ?, modified_at = ?, first_start = ?, last_end = ?, changed_by = ? WHERE id = ?",
                )
                .bind(obj.uid)
                .bind(obj.etag)
                .bind(obj.content_type)
                .bind(obj.data.len() as i64)
                .bind(obj.data)
                .bind(seq)
                .bind(now)
                .bind(obj.span.map(|s| s.0))
                .bind(obj.span.map(|s| s.1))
                .bind(&by)
                .bind(id)
                .execute(&mut **tx)
                .await?;
                id
            }
            None => {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO objects (collection_id, name, uid, etag, content_type, size, data, seq, \
                     modified_at, first_start, last_end, changed_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                )
                .bind(collection_id)
                .bind(obj.name)
                .bind(obj.uid)
                .bind(obj.etag)
                .bind(obj.content_type)
                .bind(obj.data.len() as i64)
                .bind(obj.data)
                .bind(seq)
                .bind(now)
                .bind(obj.span.map(|s| s.0))
                .bind(obj.span.map(|s| s.1))
                .bind(&by)
                .fetch_one(&mut **tx)
                .await?;
                Self::unbury(tx, collection_id, obj.name).await?;
                id
            }
        };
        Self::write_index(tx, id, collection_id, &obj.index, existing.is_none()).await?;
        Ok(id)
    }

    /// The row id and ETag of member `name`, if it exists.
    pub(super) async fn member(
        tx: &mut Transaction<'_, Sqlite>,
        collection_id: i64,
        name: &str,
    ) -> StoreResult<Option<(i64, String)>> {
        Ok(
            sqlx::query_as("SELECT id, etag FROM objects WHERE collection_id = ? AND name = ?")
                .bind(collection_id)
                .bind(name)
                .fetch_optional(&mut **tx)
                .await?,
        )
    }

    /// Another member than `name` that has UID `uid`: the one-UID-per-collection rule.
    pub(super) async fn uid_holder(
        tx: &mut Transaction<'_, Sqlite>,
        collection_id: i64,
        uid: &str,
        name: &str,
    ) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT name FROM objects WHERE collection_id = ? AND uid = ? AND name <> ?",
        )
        .bind(collection_id)
        .bind(uid)
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?)
    }

    /// Keeps the current version of object `object_id` in history before `actor` overwrites or
    /// (`deleted`) removes it.
    pub(super) async fn archive(
        tx: &mut Transaction<'_, Sqlite>,
        object_id: i64,
        actor: &Actor,
        deleted: bool,
    ) -> StoreResult<()> {
        if !actor.keeps_history() {
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO object_versions (collection_id, name, uid, etag, content_type, data, written_at, \
             written_by, replaced_at, replaced_by, deleted) SELECT collection_id, name, uid, etag, content_type, \
             data, modified_at, changed_by, ?, ?, ? FROM objects WHERE id = ?",
        )
        .bind(now_ms())
        .bind(actor.to_string())
        .bind(deleted)
        .bind(object_id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Removes object `object_id` (named `name`) at stamp `seq`, keeping it in the trash.
    pub(super) async fn remove_object(
        tx: &mut Transaction<'_, Sqlite>,
        collection_id: i64,
        object_id: i64,
        name: &str,
        seq: i64,
        actor: &Actor,
    ) -> StoreResult<()> {
        Self::archive(tx, object_id, actor, true).await?;
        sqlx::query("DELETE FROM objects WHERE id = ?")
            .bind(object_id)
            .execute(&mut **tx)
            .await?;
        Self::bury(tx, collection_id, name, seq).await
    }

    /// Replaces an object's index rows; `fresh` objects have none to delete.
    pub(super) async fn write_index(
        tx: &mut Transaction<'_, Sqlite>,
        object_id: i64,
        collection_id: i64,
        index: &[(&str, String)],
        fresh: bool,
    ) -> StoreResult<()> {
        if !fresh {
            sqlx::query("DELETE FROM object_index WHERE object_id = ?")
                .bind(object_id)
                .execute(&mut **tx)
                .await?;
        }
        // One multi-row INSERT per card; chunks stay under SQLite's bound-parameter limit.
        // OR IGNORE: a card may repeat a value (two identical EMAIL lines).
        for chunk in index.chunks(200) {
            let rows = vec!["(?, ?, ?, ?)"; chunk.len()].join(", ");
            let sql = format!(
                "INSERT OR IGNORE INTO object_index (object_id, collection_id, prop, value) VALUES {rows}"
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for (prop, value) in chunk {
                q = q
                    .bind(object_id)
                    .bind(collection_id)
                    .bind(*prop)
                    .bind(value);
            }
            q.execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// The query plan of the incremental sync query, for tests that prove it uses the index.
    #[cfg(test)]
    pub async fn explain_changes(&self) -> StoreResult<Vec<String>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "EXPLAIN QUERY PLAN {}",
            changes_sql(false)
        )))
        .bind(1_i64)
        .bind(0_i64)
        .bind(1_i64)
        .bind(0_i64)
        .bind(-1_i64)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(|r| r.get::<String, _>("detail")).collect())
    }
}

/// Members and tombstones stamped after a token, through the (collection_id, seq) indexes.
fn changes_sql(with_data: bool) -> String {
    let data = if with_data { "data" } else { "x'' AS data" };
    format!(
        "SELECT {META_COLS}, {data}, 0 AS removed FROM objects WHERE collection_id = ? AND seq > ? \
         UNION ALL SELECT name, '', '', 0, seq, deleted_at, x'', 1 \
         FROM tombstones WHERE collection_id = ? AND seq > ? \
         ORDER BY seq LIMIT ?"
    )
}

/// Runs `produce` on its own task, feeding a bounded channel: the query advances only as fast
/// as the consumer (usually a client reading a response) takes rows.
pub(super) fn spawn_rows<T, F, Fut>(produce: F) -> RowStream<T>
where
    T: Send + 'static,
    F: FnOnce(mpsc::Sender<StoreResult<T>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(produce(tx));
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
    .boxed()
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_user(&self, name: &str, password_hash: &str) -> StoreResult<User> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO users (name, password_hash, created_at) VALUES (?, ?, ?) \
             ON CONFLICT (name) DO NOTHING RETURNING {USER_COLS}"
        )))
        .bind(name)
        .bind(password_hash)
        .bind(now_ms())
        .fetch_optional(&self.writer)
        .await?;
        row.map(|r| user_row(&r))
            .ok_or_else(|| StoreError::Exists(format!("user {name:?}")))
    }

    async fn user_by_name(&self, name: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLS} FROM users WHERE name = ?"
        )))
        .bind(name)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|r| user_row(&r)))
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLS} FROM users ORDER BY name"
        )))
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(user_row).collect())
    }

    async fn set_password(&self, user_id: i64, password_hash: &str) -> StoreResult<()> {
        sqlx::query("UPDATE users SET password_hash = ? WHERE id = ?")
            .bind(password_hash)
            .bind(user_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn delete_user(&self, user_id: i64) -> StoreResult<()> {
        sqlx::query("DELETE FROM users WHERE id = ?")
            .bind(user_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn add_app_password(&self, user_id: i64, label: &str, hash: &[u8]) -> StoreResult<()> {
        let done = sqlx::query(
            "INSERT INTO app_passwords (user_id, label, token_hash, created_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (user_id, label) DO NOTHING",
        )
        .bind(user_id)
        .bind(label)
        .bind(hash)
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Exists(format!("app password {label:?}")));
        }
        Ok(())
    }

    async fn user_for_login(
        &self,
        name: &str,
        app_hash: &[u8],
    ) -> StoreResult<Option<(User, Option<AppPassword>)>> {
        let row = sqlx::query(
            "SELECT u.id, u.name, u.password_hash, u.created_at, u.is_admin, u.disabled_at, a.id AS app_id, a.label, \
             a.created_at AS app_created, a.last_used_at FROM users u \
             LEFT JOIN app_passwords a ON a.user_id = u.id AND a.token_hash = ? WHERE u.name = ?",
        )
        .bind(app_hash)
        .bind(name)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|r| {
            let app = r.get::<Option<i64>, _>("app_id").map(|id| AppPassword {
                id,
                label: r.get("label"),
                created_at: r.get("app_created"),
                last_used_at: r.get("last_used_at"),
            });
            (user_row(&r), app)
        }))
    }

    async fn app_passwords(&self, user_id: i64) -> StoreResult<Vec<AppPassword>> {
        let rows = sqlx::query(
            "SELECT id, label, created_at, last_used_at FROM app_passwords \
             WHERE user_id = ? ORDER BY label",
        )
        .bind(user_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .iter()
            .map(|r| AppPassword {
                id: r.get("id"),
                label: r.get("label"),
                created_at: r.get("created_at"),
                last_used_at: r.get("last_used_at"),
            })
            .collect())
    }

    async fn revoke_app_password(&self, user_id: i64, label: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM app_passwords WHERE user_id = ? AND label = ?")
            .bind(user_id)
            .bind(label)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn touch_app_password(&self, id: i64) -> StoreResult<()> {
        sqlx::query("UPDATE app_passwords SET last_used_at = ? WHERE id = ?")
            .bind(now_ms())
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn create_collection(
        &self,
        owner_id: i64,
        kind: Kind,
        name: &str,
        patches: &[CollectionPatch],
    ) -> StoreResult<Collection> {
        let mut tx = self.writer.begin().await?;
        let now = now_ms();
        let row = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO collections (owner_id, kind, name, created_at, modified_at) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING {COLLECTION_COLS}"
        )))
        .bind(owner_id)
        .bind(kind.as_str())
        .bind(name)
        .bind(now)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(StoreError::Exists(format!("collection {name:?}")));
        };
        let id: i64 = row.get("id");
        apply_patches(&mut tx, id, patches).await?;
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLLECTION_COLS} FROM collections WHERE id = ?"
        )))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(collection_row(&row))
    }

    async fn collections(&self, owner_id: i64, kind: Kind) -> StoreResult<Vec<Collection>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLLECTION_COLS} FROM collections WHERE owner_id = ? AND kind = ? \
             AND deleted_at IS NULL ORDER BY name"
        )))
        .bind(owner_id)
        .bind(kind.as_str())
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(collection_row).collect())
    }

    async fn collection(
        &self,
        owner_id: i64,
        kind: Kind,
        name: &str,
    ) -> StoreResult<Option<Collection>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLLECTION_COLS} FROM collections WHERE owner_id = ? AND kind = ? AND name = ? \
             AND deleted_at IS NULL"
        )))
        .bind(owner_id)
        .bind(kind.as_str())
        .bind(name)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|r| collection_row(&r)))
    }

    async fn set_derived(&self, id: i64, derived: &str) -> StoreResult<()> {
        sqlx::query("UPDATE collections SET derived = ? WHERE id = ?")
            .bind(derived)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn derived_marks(&self, calendar_id: i64) -> StoreResult<Vec<(i64, i64)>> {
        Ok(sqlx::query_as(
            "SELECT book_id, seen_seq FROM derived_marks WHERE calendar_id = ? ORDER BY book_id",
        )
        .bind(calendar_id)
        .fetch_all(&self.writer)
        .await?)
    }

    async fn set_derived_mark(
        &self,
        calendar_id: i64,
        book_id: i64,
        seq: Option<i64>,
    ) -> StoreResult<()> {
        match seq {
            Some(seq) => {
                sqlx::query(
                    "INSERT INTO derived_marks (calendar_id, book_id, seen_seq) VALUES (?, ?, ?) \
                     ON CONFLICT (calendar_id, book_id) DO UPDATE SET seen_seq = excluded.seen_seq",
                )
                .bind(calendar_id)
                .bind(book_id)
                .bind(seq)
                .execute(&self.writer)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM derived_marks WHERE calendar_id = ? AND book_id = ?")
                    .bind(calendar_id)
                    .bind(book_id)
                    .execute(&self.writer)
                    .await?;
            }
        }
        Ok(())
    }

    async fn delete_collection(&self, id: i64, actor: &Actor) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "UPDATE collections SET deleted_at = ?, deleted_by = ?, deleted_name = name, \
             name = '.deleted-' || id WHERE id = ? AND deleted_at IS NULL",
        )
        .bind(now_ms())
        .bind(actor.to_string())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        // A source must not write into a book nobody can see.
        sqlx::query(
            "UPDATE sources SET status = 'paused', status_detail = ? WHERE collection_id = ?",
        )
        .bind(super::versions::BOOK_DELETED)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn patch_collection(&self, id: i64, patches: &[CollectionPatch]) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        apply_patches(&mut tx, id, patches).await?;
        sqlx::query("UPDATE collections SET modified_at = ? WHERE id = ?")
            .bind(now_ms())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn dead_props(&self, id: i64) -> StoreResult<Vec<(String, String, String)>> {
        let rows = sqlx::query(
            "SELECT ns, name, xml FROM collection_props WHERE collection_id = ? ORDER BY ns, name",
        )
        .bind(id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get("ns"), r.get("name"), r.get("xml")))
            .collect())
    }

    async fn object(&self, collection_id: i64, name: &str) -> StoreResult<Option<Object>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {META_COLS}, data FROM objects WHERE collection_id = ? AND name = ?"
        )))
        .bind(collection_id)
        .bind(name)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|r| object_row(&r)))
    }

    async fn objects_by_name(
        &self,
        collection_id: i64,
        names: &[String],
    ) -> StoreResult<Vec<Object>> {
        let mut out = Vec::with_capacity(names.len());
        // Chunks keep each statement under SQLite's bound-parameter limit.
        for chunk in names.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(",");
            let sql = format!(
                "SELECT {META_COLS}, data FROM objects WHERE collection_id = ? AND name IN ({marks})"
            );
            let mut q = sqlx::query(AssertSqlSafe(sql)).bind(collection_id);
            for n in chunk {
                q = q.bind(n);
            }
            out.extend(q.fetch_all(&self.reader).await?.iter().map(object_row));
        }
        Ok(out)
    }

    async fn put_object(
        &self,
        collection_id: i64,
        obj: &NewObject<'_>,
        check: Precondition<'_>,
        actor: &Actor,
    ) -> StoreResult<PutOutcome> {
        let mut tx = self.writer.begin().await?;
        let current = Self::member(&mut tx, collection_id, obj.name).await?;
        if !check(current.as_ref().map(|(_, e)| e.as_str())) {
            return Ok(PutOutcome::PreconditionFailed);
        }
        if let Some(other) = Self::uid_holder(&mut tx, collection_id, obj.uid, obj.name).await? {
            return Ok(PutOutcome::UidConflict(other));
        }
        let seq = Self::next_seq(&mut tx, collection_id).await?;
        let existing = current.map(|(id, _)| id);
        Self::store_object(&mut tx, collection_id, existing, obj, seq, actor).await?;
        let outcome = if existing.is_some() {
            PutOutcome::Updated
        } else {
            PutOutcome::Created
        };
        tx.commit().await?;
        Ok(outcome)
    }

    async fn delete_object(
        &self,
        collection_id: i64,
        name: &str,
        check: Precondition<'_>,
        actor: &Actor,
    ) -> StoreResult<DeleteOutcome> {
        let mut tx = self.writer.begin().await?;
        let Some((id, etag)) = Self::member(&mut tx, collection_id, name).await? else {
            return Ok(DeleteOutcome::NotFound);
        };
        if !check(Some(&etag)) {
            return Ok(DeleteOutcome::PreconditionFailed);
        }
        let seq = Self::next_seq(&mut tx, collection_id).await?;
        Self::remove_object(&mut tx, collection_id, id, name, seq, actor).await?;
        tx.commit().await?;
        Ok(DeleteOutcome::Deleted)
    }

    async fn rename_object(
        &self,
        collection_id: i64,
        from: &str,
        to: &str,
        uid: &str,
        overwrite: bool,
        actor: &Actor,
    ) -> StoreResult<PutOutcome> {
        let mut tx = self.writer.begin().await?;
        let target: Option<i64> =
            sqlx::query_scalar("SELECT id FROM objects WHERE collection_id = ? AND name = ?")
                .bind(collection_id)
                .bind(to)
                .fetch_optional(&mut *tx)
                .await?;
        if target.is_some() && !overwrite {
            return Ok(PutOutcome::PreconditionFailed);
        }
        if let Some(id) = target {
            // The overwritten member's content stays in its history.
            Self::archive(&mut tx, id, actor, false).await?;
            sqlx::query("DELETE FROM objects WHERE id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        let seq = Self::next_seq(&mut tx, collection_id).await?;
        let moved = sqlx::query(
            "UPDATE objects SET name = ?, uid = ?, seq = ?, modified_at = ?, changed_by = ? \
             WHERE collection_id = ? AND name = ?",
        )
        .bind(to)
        .bind(uid)
        .bind(seq)
        .bind(now_ms())
        .bind(actor.to_string())
        .bind(collection_id)
        .bind(from)
        .execute(&mut *tx)
        .await?;
        if moved.rows_affected() == 0 {
            return Ok(PutOutcome::PreconditionFailed);
        }
        Self::bury(&mut tx, collection_id, from, seq).await?;
        Self::unbury(&mut tx, collection_id, to).await?;
        tx.commit().await?;
        Ok(if target.is_some() {
            PutOutcome::Updated
        } else {
            PutOutcome::Created
        })
    }

    fn objects(
        &self,
        collection_id: i64,
        with_data: bool,
        narrow: Option<Narrow>,
    ) -> RowStream<Object> {
        let pool = self.reader.clone();
        spawn_rows(move |tx| async move {
            let data = if with_data { "data" } else { "x'' AS data" };
            // Rowid order: reading rows in name order would jump around the table.
            let mut span = None;
            let (sql, pattern) = match &narrow {
                None => (
                    format!("SELECT {META_COLS}, {data} FROM objects WHERE collection_id = ?"),
                    None,
                ),
                Some(Narrow::Span { start, end }) => {
                    span = Some((*end, *start));
                    (
                        format!(
                            "SELECT {META_COLS}, {data} FROM objects WHERE collection_id = ? \
                             AND last_end >= ? AND first_start <= ?"
                        ),
                        None,
                    )
                }
                Some(Narrow::Index(h)) => {
                    let needle = like_escape(&h.needle);
                    let (op, pattern) = match h.match_type {
                        MatchType::Equals => ("=", h.needle.clone()),
                        MatchType::Contains => ("LIKE", format!("%{needle}%")),
                        MatchType::StartsWith => ("LIKE", format!("{needle}%")),
                        MatchType::EndsWith => ("LIKE", format!("%{needle}")),
                    };
                    let escape = if op == "LIKE" { "ESCAPE '\\'" } else { "" };
                    (
                        format!(
                            "SELECT {META_COLS}, {data} FROM objects WHERE collection_id = ? AND id IN \
                             (SELECT object_id FROM object_index WHERE collection_id = ? AND prop = ? \
                              AND value {op} ? {escape})"
                        ),
                        Some((h.prop.clone(), pattern)),
                    )
                }
            };
            let mut q = sqlx::query(AssertSqlSafe(sql)).bind(collection_id);
            if let Some((end, start)) = span {
                q = q.bind(start).bind(end);
            }
            if let Some((prop, pattern)) = pattern {
                q = q.bind(collection_id).bind(prop).bind(pattern);
            }
            let mut rows = q.fetch(&pool);
            while let Some(row) = rows.next().await {
                let item = row.map(|r| object_row(&r)).map_err(StoreError::from);
                if tx.send(item).await.is_err() {
                    return; // the consumer went away
                }
            }
        })
    }

    fn changes(
        &self,
        collection_id: i64,
        since: i64,
        limit: Option<usize>,
        with_data: bool,
    ) -> RowStream<SyncItem> {
        let pool = self.reader.clone();
        spawn_rows(move |tx| async move {
            // One read transaction: the rows and the current stamp come from the same snapshot,
            // so a write landing in between can never be skipped by the returned token.
            let result = async {
                let mut conn = pool.begin().await?;
                let current: i64 = sqlx::query_scalar("SELECT seq FROM collections WHERE id = ?")
                    .bind(collection_id)
                    .fetch_one(&mut *conn)
                    .await?;
                let limit = limit.map(|l| l as i64).unwrap_or(-1);
                let data = if with_data { "data" } else { "x'' AS data" };
                let query = if since == 0 {
                    sqlx::query(AssertSqlSafe(format!(
                        "SELECT {META_COLS}, {data}, 0 AS removed FROM objects \
                         WHERE collection_id = ? ORDER BY seq LIMIT ?"
                    )))
                    .bind(collection_id)
                    .bind(limit)
                } else {
                    sqlx::query(AssertSqlSafe(changes_sql(with_data)))
                        .bind(collection_id)
                        .bind(since)
                        .bind(collection_id)
                        .bind(since)
                        .bind(limit)
                };
                {
                    let mut rows = query.fetch(&mut *conn);
                    while let Some(row) = rows.next().await {
                        let r = row?;
                        let item = if r.get::<i64, _>("removed") == 1 {
                            SyncItem::Removed {
                                name: r.get("name"),
                                seq: r.get("seq"),
                            }
                        } else {
                            SyncItem::Present(object_row(&r))
                        };
                        if tx.send(Ok(item)).await.is_err() {
                            return Ok(());
                        }
                    }
                }
                conn.commit().await?;
                let _ = tx.send(Ok(SyncItem::End { current })).await;
                Ok::<(), StoreError>(())
            }
            .await;
            if let Err(e) = result {
                let _ = tx.send(Err(e)).await;
            }
        })
    }

    async fn purge_tombstones(&self, before: i64) -> StoreResult<u64> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "UPDATE collections SET horizon = MAX(horizon, (SELECT MAX(seq) FROM tombstones t \
             WHERE t.collection_id = collections.id AND t.deleted_at < ?)) \
             WHERE id IN (SELECT collection_id FROM tombstones WHERE deleted_at < ?)",
        )
        .bind(before)
        .bind(before)
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query("DELETE FROM tombstones WHERE deleted_at < ?")
            .bind(before)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    async fn ready(&self) -> StoreResult<()> {
        let applied: Vec<i64> = sqlx::query_scalar(
            "SELECT version FROM _sqlx_migrations WHERE success = 1 ORDER BY version",
        )
        .fetch_all(&self.reader)
        .await?;
        super::missing_migrations(&MIGRATOR, &applied)
    }

    fn pool_stats(&self) -> Vec<crate::metrics::PoolStat> {
        [
            ("writer", &self.writer, 1),
            ("reader", &self.reader, READERS),
        ]
        .into_iter()
        .map(|(name, pool, max)| crate::metrics::PoolStat {
            name,
            size: pool.size(),
            idle: pool.num_idle(),
            max,
        })
        .collect()
    }

    async fn snapshot(&self, path: &Path) -> StoreResult<()> {
        // VACUUM INTO reads one snapshot of the database in a read transaction, so writers
        // (on the writer connection) are never blocked and the copy is consistent. It also
        // leaves the copy compact and without a WAL.
        let target = path.to_string_lossy().into_owned();
        sqlx::query("VACUUM INTO ?")
            .bind(target)
            .execute(&self.reader)
            .await?;
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn try_lease(&self, name: &str, holder: &str, ttl_ms: i64) -> StoreResult<bool> {
        let now = now_ms();
        let row: Option<String> = sqlx::query_scalar(
            "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE leases.holder = excluded.holder OR leases.expires_at < ? RETURNING holder",
        )
        .bind(name)
        .bind(holder)
        .bind(now + ttl_ms)
        .bind(now)
        .fetch_optional(&self.writer)
        .await?;
        Ok(row.is_some())
    }

    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM leases WHERE name = ? AND holder = ?")
            .bind(name)
            .bind(holder)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn live_leases(&self, prefix: &str) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT name FROM leases WHERE expires_at > ?1 AND substr(name, 1, length(?2)) = ?2",
        )
        .bind(now_ms())
        .bind(prefix)
        .fetch_all(&self.reader)
        .await?)
    }

    async fn shared_setting(&self, name: &str, initial: &[u8]) -> StoreResult<Vec<u8>> {
        sqlx::query("INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING")
            .bind(name)
            .bind(initial)
            .execute(&self.writer)
            .await?;
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE name = ?")
                .bind(name)
                .fetch_one(&self.writer)
                .await?,
        )
    }

    async fn set_setting(&self, name: &str, value: Option<&[u8]>) -> StoreResult<()> {
        match value {
            Some(v) => sqlx::query(
                "INSERT INTO settings (name, value) VALUES (?1, ?2) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            )
            .bind(name)
            .bind(v),
            None => sqlx::query("DELETE FROM settings WHERE name = ?1").bind(name),
        }
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn setting(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE name = ?1")
                .bind(name)
                .fetch_optional(&self.reader)
                .await?,
        )
    }

    async fn settings_with_prefix(&self, prefix: &str) -> StoreResult<Vec<String>> {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM settings WHERE substr(name, 1, length(?1)) = ?1 ORDER BY name",
        )
        .bind(prefix)
        .fetch_all(&self.reader)
        .await?;
        Ok(names
            .into_iter()
            .map(|n| n[prefix.len()..].to_string())
            .collect())
    }

    async fn put_sealed(
        &self,
        name: &str,
        owner_id: Option<i64>,
        value: &[u8],
        expires_at: Option<i64>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sealed (name, owner_id, value, expires_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5) \
             ON CONFLICT (name) DO UPDATE SET owner_id = excluded.owner_id, value = excluded.value, \
             expires_at = excluded.expires_at, updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(owner_id)
        .bind(value)
        .bind(expires_at)
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn sealed(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(sqlx::query_scalar(
            "SELECT value FROM sealed WHERE name = ?1 AND (expires_at IS NULL OR expires_at > ?2)",
        )
        .bind(name)
        .bind(now_ms())
        .fetch_optional(&self.writer)
        .await?)
    }

    async fn take_sealed(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        let row: Option<(Vec<u8>, Option<i64>)> =
            sqlx::query_as("DELETE FROM sealed WHERE name = ?1 RETURNING value, expires_at")
                .bind(name)
                .fetch_optional(&self.writer)
                .await?;
        let now = now_ms();
        Ok(row.and_then(|(v, exp)| (exp.is_none_or(|e| e > now)).then_some(v)))
    }

    async fn delete_sealed(&self, name: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM sealed WHERE name = ?1")
            .bind(name)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn purge_expired_sealed(&self) -> StoreResult<u64> {
        let r = sqlx::query("DELETE FROM sealed WHERE expires_at IS NOT NULL AND expires_at < ?1")
            .bind(now_ms())
            .execute(&self.writer)
            .await?;
        Ok(r.rows_affected())
    }

    async fn set_user_admin(&self, user_id: i64, admin: bool) -> StoreResult<()> {
        sqlx::query("UPDATE users SET is_admin = ?1 WHERE id = ?2")
            .bind(i64::from(admin))
            .bind(user_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn set_user_disabled(&self, user_id: i64, disabled: bool) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("UPDATE users SET disabled_at = ?1 WHERE id = ?2")
            .bind(disabled.then(now_ms))
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        if disabled {
            sqlx::query("DELETE FROM web_sessions WHERE user_id = ?1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn create_web_session(
        &self,
        token_hash: &[u8],
        user_id: i64,
        csrf: &str,
        expires_at: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO web_sessions (token_hash, user_id, csrf, created_at, expires_at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(csrf)
        .bind(now_ms())
        .bind(expires_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn web_session(&self, token_hash: &[u8]) -> StoreResult<Option<WebSession>> {
        let row = sqlx::query(
            "SELECT u.id, u.name, u.password_hash, u.created_at, u.is_admin, u.disabled_at, \
             s.csrf FROM web_sessions s \
             JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND u.disabled_at IS NULL",
        )
        .bind(token_hash)
        .bind(now_ms())
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|r| WebSession {
            user: user_row(&r),
            csrf: r.get("csrf"),
        }))
    }

    async fn delete_web_session(&self, token_hash: &[u8]) -> StoreResult<()> {
        sqlx::query("DELETE FROM web_sessions WHERE token_hash = ?1")
            .bind(token_hash)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn delete_web_sessions(&self, user_id: i64) -> StoreResult<()> {
        sqlx::query("DELETE FROM web_sessions WHERE user_id = ?1")
            .bind(user_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn purge_expired_web_sessions(&self) -> StoreResult<u64> {
        let r = sqlx::query("DELETE FROM web_sessions WHERE expires_at < ?1")
            .bind(now_ms())
            .execute(&self.writer)
            .await?;
        Ok(r.rows_affected())
    }

    async fn member_counts(&self, owner_id: i64) -> StoreResult<Vec<(i64, i64)>> {
        Ok(sqlx::query_as(
            "SELECT c.id, COUNT(o.name) FROM collections c \
             LEFT JOIN objects o ON o.collection_id = c.id WHERE c.owner_id = ?1 GROUP BY c.id",
        )
        .bind(owner_id)
        .fetch_all(&self.reader)
        .await?)
    }
}

async fn apply_patches(
    tx: &mut Transaction<'_, Sqlite>,
    id: i64,
    patches: &[CollectionPatch],
) -> StoreResult<()> {
    for p in patches {
        match p {
            CollectionPatch::DisplayName(_)
            | CollectionPatch::Description(_)
            | CollectionPatch::Components(_)
            | CollectionPatch::Timezone(_) => {
                let (column, value) = match p {
                    CollectionPatch::DisplayName(v) => ("displayname", v.clone()),
                    CollectionPatch::Description(v) => ("description", v.clone()),
                    CollectionPatch::Components(v) => ("components", Some(v.join(","))),
                    CollectionPatch::Timezone(v) => ("timezone", v.clone()),
                    CollectionPatch::Dead { .. } => continue,
                };
                // `column` is one of the fixed names above, never client input.
                sqlx::query(AssertSqlSafe(format!(
                    "UPDATE collections SET {column} = ? WHERE id = ?"
                )))
                .bind(value)
                .bind(id)
                .execute(&mut **tx)
                .await?;
            }
            CollectionPatch::Dead {
                ns,
                name,
                xml: Some(xml),
            } => {
                sqlx::query(
                    "INSERT INTO collection_props (collection_id, ns, name, xml) VALUES (?, ?, ?, ?) \
                     ON CONFLICT (collection_id, ns, name) DO UPDATE SET xml = excluded.xml",
                )
                .bind(id)
                .bind(ns)
                .bind(name)
                .bind(xml)
                .execute(&mut **tx)
                .await?;
            }
            CollectionPatch::Dead {
                ns,
                name,
                xml: None,
            } => {
                sqlx::query(
                    "DELETE FROM collection_props WHERE collection_id = ? AND ns = ? AND name = ?",
                )
                .bind(id)
                .bind(ns)
                .bind(name)
                .execute(&mut **tx)
                .await?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(i: usize) -> (String, String, Vec<u8>) {
        let uid = format!("uid-{i}");
        let data = format!("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:N {i}\r\nEND:VCARD\r\n");
        (format!("{i}.vcf"), uid, data.into_bytes())
    }

    async fn collect_changes(
        store: &SqliteStore,
        coll: i64,
        since: i64,
        limit: Option<usize>,
    ) -> (Vec<SyncItem>, i64) {
        let mut items: Vec<SyncItem> = store
            .changes(coll, since, limit, false)
            .map(|r| r.unwrap())
            .collect()
            .await;
        match items.pop() {
            Some(SyncItem::End { current }) => (items, current),
            other => panic!("stream did not end with End: {other:?}"),
        }
    }

    async fn put(store: &SqliteStore, coll: i64, i: usize, etag: &str) {
        let (name, uid, data) = card(i);
        let obj = NewObject {
            name: &name,
            uid: &uid,
            etag,
            content_type: "text/vcard",
            data: &data,
            index: vec![("FN", format!("n {i}"))],
            span: None,
        };
        store
            .put_object(coll, &obj, &|_| true, &Actor::Command("test".into()))
            .await
            .unwrap();
    }

    /// The acceptance criterion: after 10 changes in a 10,000-card book, an incremental sync
    /// reads only those 10 rows, through the change-stamp indexes.
    #[tokio::test]
    async fn sync_after_ten_changes_in_ten_thousand_reads_ten_rows() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
        let user = store.create_user("u", "x").await.unwrap();
        let book = store
            .create_collection(user.id, Kind::Addressbook, "b", &[])
            .await
            .unwrap();
        for i in 0..10_000 {
            put(&store, book.id, i, "\"a\"").await;
        }
        let token = collect_changes(&store, book.id, 0, Some(0)).await.1;
        assert_eq!(token, 10_000);
        for i in 0..7 {
            put(&store, book.id, i * 1000, "\"b\"").await;
        }
        for i in 0..3 {
            let (name, ..) = card(5001 + i);
            store
                .delete_object(book.id, &name, &|_| true, &Actor::Command("test".into()))
                .await
                .unwrap();
        }
        let (changes, current) = collect_changes(&store, book.id, token, None).await;
        assert_eq!(changes.len(), 10, "exactly the 10 changed rows are read");
        assert_eq!(current, token + 10);
        let removed = changes
            .iter()
            .filter(|c| matches!(c, SyncItem::Removed { .. }))
            .count();
        assert_eq!(removed, 3);

        let plan = store.explain_changes().await.unwrap().join("\n");
        assert!(
            plan.contains("objects USING INDEX objects_by_seq"),
            "{plan}"
        );
        assert!(
            plan.contains("tombstones USING INDEX tombstones_by_seq"),
            "{plan}"
        );
        assert!(!plan.contains("SCAN objects"), "no full scan: {plan}");
    }

    /// `/readyz` fails when a migration this build needs is not applied.
    #[tokio::test]
    async fn readiness_requires_every_migration() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("r.db")).await.unwrap();
        store.ready().await.unwrap();
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 4")
            .execute(&store.writer)
            .await
            .unwrap();
        let err = store.ready().await.unwrap_err().to_string();
        assert!(err.contains("migrations 4 are not applied"), "{err}");
        store.reader.close().await;
        let err = store.ready().await.unwrap_err().to_string();
        assert!(
            err.contains("database"),
            "a closed pool is not ready: {err}"
        );
    }

    #[tokio::test]
    async fn purged_tombstones_move_the_horizon() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).await.unwrap();
        let user = store.create_user("u", "x").await.unwrap();
        let book = store
            .create_collection(user.id, Kind::Addressbook, "b", &[])
            .await
            .unwrap();
        put(&store, book.id, 1, "\"a\"").await;
        store
            .delete_object(book.id, "1.vcf", &|_| true, &Actor::Command("test".into()))
            .await
            .unwrap();
        assert_eq!(store.purge_tombstones(now_ms() + 1).await.unwrap(), 1);
        let c = store
            .collection(user.id, Kind::Addressbook, "b")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            c.horizon, 2,
            "tokens older than the purged deletion are now invalid"
        );
    }

    /// calendar-query's pre-filter: over 50,000 events, 10 % of them endless weekly series, a
    /// one-week range hands the query only the events of that week and the endless series.
    /// Every row the store yields is one object the report parses, so the count is the number
    /// of objects parsed.
    #[tokio::test]
    async fn time_range_prefilter_reads_only_candidate_spans() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("k.db")).await.unwrap();
        let user = store.create_user("u", "x").await.unwrap();
        let cal = store
            .create_collection(user.id, Kind::Calendar, "c", &[])
            .await
            .unwrap();
        // 45,000 one-hour events, one every two hours from 2020 on (about ten years), and
        // 5,000 endless series.
        let base: i64 = 1_577_836_800; // 2020-01-01T00:00:00Z
        let mut tx = store.writer.begin().await.unwrap();
        for i in 0..50_000i64 {
            let (start, end) = if i % 10 == 0 {
                (base + i * 7200, i64::MAX)
            } else {
                (base + i * 7200, base + i * 7200 + 3600)
            };
            sqlx::query(
                "INSERT INTO objects (collection_id, name, uid, etag, content_type, size, data, seq, \
                 modified_at, first_start, last_end) VALUES (?, ?, ?, '\"e\"', 'text/calendar', 0, x'', 1, 0, ?, ?)",
            )
            .bind(cal.id)
            .bind(format!("{i}.ics"))
            .bind(format!("u{i}"))
            .bind(start)
            .bind(end)
            .execute(&mut *tx)
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        // The week from 2024-01-01: events 17,532 to 17,615 start in it, and the span test is
        // inclusive, so event 17,616, which starts at the week's end, is a candidate too.
        let start = base + 17_532 * 7200;
        let end = start + 7 * 86_400;
        let rows: Vec<Object> = store
            .objects(cal.id, false, Some(Narrow::Span { start, end }))
            .map(|r| r.unwrap())
            .collect()
            .await;
        let in_week = (17_532..=17_532 + 84).filter(|i| i % 10 != 0).count();
        let endless_begun = (0..=17_532 + 84).filter(|i| i % 10 == 0).count();
        assert_eq!(rows.len(), in_week + endless_begun);
        assert!(rows.len() < 2_000, "{} of 50,000 rows read", rows.len());
        let plan: Vec<String> = sqlx::query(
            "EXPLAIN QUERY PLAN SELECT name FROM objects WHERE collection_id = ? AND last_end >= ? AND first_start <= ?",
        )
        .bind(cal.id)
        .bind(start)
        .bind(end)
        .fetch_all(&store.reader)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<String, _>("detail"))
        .collect();
        assert!(
            plan.iter().any(|p| p.contains("objects_by_end")),
            "{plan:?}"
        );
    }
}
