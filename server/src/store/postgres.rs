//! The PostgreSQL store, for large installs and several `kith serve` instances on one database.
//!
//! Every write transaction first locks its collection's row (the change counter). That orders
//! writers of one collection across instances: change stamps commit in the order they are
//! handed out, and a precondition checked under the lock cannot be raced by another instance.
//! Readers of a sync report use one REPEATABLE READ snapshot for the rows and the token.

use super::{
    Actor, AppPassword, Collection, CollectionPatch, DeleteOutcome, Kind, Narrow, NewObject,
    Object, ObjectMeta, Precondition, PutOutcome, RowStream, Store, StoreError, StoreResult,
    SyncItem, User, WebSession, now_ms, sqlite::spawn_rows,
};
use async_trait::async_trait;
use futures_util::StreamExt;
use kith_dav::filter::MatchType;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, Postgres, Row, Transaction};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

pub struct PgStore {
    pub(super) pool: PgPool,
    max_connections: u32,
}

pub(super) type Tx<'a> = Transaction<'a, Postgres>;

const COLLECTION_COLS: &str = "id, kind, name, displayname, description, seq, horizon, modified_at, \
     components, timezone, derived";
const META_COLS: &str = "name, etag, content_type, size, seq, modified_at";

fn collection_row(r: &PgRow) -> Collection {
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

fn object_row(r: &PgRow) -> Object {
    Object {
        meta: ObjectMeta {
            name: r.get("name"),
            etag: r.get("etag"),
            content_type: r.get("content_type"),
            size: r.get("size"),
            seq: r.get("seq"),
            modified_at: r.get("modified_at"),
        },
        data: r.get("data"),
    }
}

fn user_row(r: &PgRow) -> User {
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

/// `($1, $2, ...), ($5, ...)`: `rows` groups of `cols` numbered placeholders from `$first`.
pub(super) fn placeholders(rows: usize, cols: usize, first: usize) -> String {
    (0..rows)
        .map(|r| {
            let cells: Vec<String> = (0..cols)
                .map(|c| format!("${}", first + r * cols + c))
                .collect();
            format!("({})", cells.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// PostgreSQL text cannot hold NUL, which SQLite's can. Kith's key for a card without a UID
/// starts with one ([`super::effective_uid`]), and card text may carry one into a UID or an
/// index value; they are stored with U+0001 in its place and turned back on the way out.
pub(super) fn text_in(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains('\0') {
        s.replace('\0', "\u{1}").into()
    } else {
        s.into()
    }
}

pub(super) fn text_out(s: String) -> String {
    if s.contains('\u{1}') {
        s.replace('\u{1}', "\0")
    } else {
        s
    }
}

impl PgStore {
    /// Connects to `url` and applies migrations. Instances starting together are safe: the
    /// migrator holds an advisory lock while it runs.
    pub async fn open(url: &str, max_connections: u32) -> StoreResult<PgStore> {
        let opts = PgConnectOptions::from_str(url)?.application_name("kith");
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(PgStore {
            pool,
            max_connections,
        })
    }

    /// Locks collection `collection_id` for this transaction: see the module comment.
    pub(super) async fn lock_collection(tx: &mut Tx<'_>, collection_id: i64) -> StoreResult<()> {
        sqlx::query("SELECT 1 FROM collections WHERE id = $1 FOR UPDATE")
            .bind(collection_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Bumps the collection's change counter and returns the new stamp.
    pub(super) async fn next_seq(tx: &mut Tx<'_>, collection_id: i64) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "UPDATE collections SET seq = seq + 1, modified_at = $1 WHERE id = $2 RETURNING seq",
        )
        .bind(now_ms())
        .bind(collection_id)
        .fetch_one(&mut **tx)
        .await?)
    }

    /// Records that `name` left the collection at stamp `seq`, for sync-collection.
    pub(super) async fn bury(
        tx: &mut Tx<'_>,
        collection_id: i64,
        name: &str,
        seq: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO tombstones (collection_id, name, seq, deleted_at) VALUES ($1, $2, $3, $4) \
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

    pub(super) async fn unbury(tx: &mut Tx<'_>, collection_id: i64, name: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM tombstones WHERE collection_id = $1 AND name = $2")
            .bind(collection_id)
            .bind(name)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Writes one object at change stamp `seq`, as [`super::SqliteStore::store_object`].
    pub(super) async fn store_object(
        tx: &mut Tx<'_>,
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
                    "UPDATE objects SET uid = $1, etag = $2, content_type = $3, size = $4, data = $5, \
                     seq = $6, modified_at = $7, first_start = $8, last_end = $9, changed_by = $10 WHERE id = $11",
                )
                .bind(text_in(obj.uid))
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
                     modified_at, first_start, last_end, changed_by) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
                )
                .bind(collection_id)
                .bind(obj.name)
                .bind(text_in(obj.uid))
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

    pub(super) async fn member(
        tx: &mut Tx<'_>,
        collection_id: i64,
        name: &str,
    ) -> StoreResult<Option<(i64, String)>> {
        Ok(
            sqlx::query_as("SELECT id, etag FROM objects WHERE collection_id = $1 AND name = $2")
                .bind(collection_id)
                .bind(name)
                .fetch_optional(&mut **tx)
                .await?,
        )
    }

    pub(super) async fn uid_holder(
        tx: &mut Tx<'_>,
        collection_id: i64,
        uid: &str,
        name: &str,
    ) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT name FROM objects WHERE collection_id = $1 AND uid = $2 AND name <> $3",
        )
        .bind(collection_id)
        .bind(text_in(uid))
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?)
    }

    pub(super) async fn archive(
        tx: &mut Tx<'_>,
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
             data, modified_at, changed_by, $1, $2, $3 FROM objects WHERE id = $4",
        )
        .bind(now_ms())
        .bind(actor.to_string())
        .bind(deleted)
        .bind(object_id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    pub(super) async fn remove_object(
        tx: &mut Tx<'_>,
        collection_id: i64,
        object_id: i64,
        name: &str,
        seq: i64,
        actor: &Actor,
    ) -> StoreResult<()> {
        Self::archive(tx, object_id, actor, true).await?;
        sqlx::query("DELETE FROM objects WHERE id = $1")
            .bind(object_id)
            .execute(&mut **tx)
            .await?;
        Self::bury(tx, collection_id, name, seq).await
    }

    pub(super) async fn write_index(
        tx: &mut Tx<'_>,
        object_id: i64,
        collection_id: i64,
        index: &[(&str, String)],
        fresh: bool,
    ) -> StoreResult<()> {
        if !fresh {
            sqlx::query("DELETE FROM object_index WHERE object_id = $1")
                .bind(object_id)
                .execute(&mut **tx)
                .await?;
        }
        // DO NOTHING: a card may repeat a value (two identical EMAIL lines).
        for chunk in index.chunks(1000) {
            let sql = format!(
                "INSERT INTO object_index (object_id, collection_id, prop, value) VALUES {} \
                 ON CONFLICT DO NOTHING",
                placeholders(chunk.len(), 4, 1)
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for (prop, value) in chunk {
                q = q
                    .bind(object_id)
                    .bind(collection_id)
                    .bind(*prop)
                    .bind(text_in(value));
            }
            q.execute(&mut **tx).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl Store for PgStore {
    async fn create_user(&self, name: &str, password_hash: &str) -> StoreResult<User> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO users (name, password_hash, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING RETURNING {USER_COLS}"
        )))
        .bind(name)
        .bind(password_hash)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| user_row(&r))
            .ok_or_else(|| StoreError::Exists(format!("user {name:?}")))
    }

    async fn user_by_name(&self, name: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLS} FROM users WHERE name = $1"
        )))
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| user_row(&r)))
    }

    async fn user_for_login(
        &self,
        name: &str,
        app_hash: &[u8],
    ) -> StoreResult<Option<(User, Option<AppPassword>)>> {
        let row = sqlx::query(
            "SELECT u.id, u.name, u.password_hash, u.created_at, u.is_admin, u.disabled_at, a.id AS app_id, a.label, \
             a.created_at AS app_created, a.last_used_at FROM users u \
             LEFT JOIN app_passwords a ON a.user_id = u.id AND a.token_hash = $1 WHERE u.name = $2",
        )
        .bind(app_hash)
        .bind(name)
        .fetch_optional(&self.pool)
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

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLS} FROM users ORDER BY name"
        )))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(user_row).collect())
    }

    async fn set_password(&self, user_id: i64, password_hash: &str) -> StoreResult<()> {
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn delete_user(&self, user_id: i64) -> StoreResult<()> {
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn add_app_password(&self, user_id: i64, label: &str, hash: &[u8]) -> StoreResult<()> {
        let done = sqlx::query(
            "INSERT INTO app_passwords (user_id, label, token_hash, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id, label) DO NOTHING",
        )
        .bind(user_id)
        .bind(label)
        .bind(hash)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Exists(format!("app password {label:?}")));
        }
        Ok(())
    }

    async fn app_passwords(&self, user_id: i64) -> StoreResult<Vec<AppPassword>> {
        let rows = sqlx::query(
            "SELECT id, label, created_at, last_used_at FROM app_passwords \
             WHERE user_id = $1 ORDER BY label",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
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
        let done = sqlx::query("DELETE FROM app_passwords WHERE user_id = $1 AND label = $2")
            .bind(user_id)
            .bind(label)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn touch_app_password(&self, id: i64) -> StoreResult<()> {
        sqlx::query("UPDATE app_passwords SET last_used_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(id)
            .execute(&self.pool)
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
        let mut tx = self.pool.begin().await?;
        let now = now_ms();
        let row = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO collections (owner_id, kind, name, created_at, modified_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING {COLLECTION_COLS}"
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
            "SELECT {COLLECTION_COLS} FROM collections WHERE id = $1"
        )))
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(collection_row(&row))
    }

    async fn collections(&self, owner_id: i64, kind: Kind) -> StoreResult<Vec<Collection>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLLECTION_COLS} FROM collections WHERE owner_id = $1 AND kind = $2 \
             AND deleted_at IS NULL ORDER BY name"
        )))
        .bind(owner_id)
        .bind(kind.as_str())
        .fetch_all(&self.pool)
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
            "SELECT {COLLECTION_COLS} FROM collections WHERE owner_id = $1 AND kind = $2 AND name = $3 \
             AND deleted_at IS NULL"
        )))
        .bind(owner_id)
        .bind(kind.as_str())
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| collection_row(&r)))
    }

    async fn set_derived(&self, id: i64, derived: &str) -> StoreResult<()> {
        sqlx::query("UPDATE collections SET derived = $1 WHERE id = $2")
            .bind(derived)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn derived_marks(&self, calendar_id: i64) -> StoreResult<Vec<(i64, i64)>> {
        Ok(sqlx::query_as(
            "SELECT book_id, seen_seq FROM derived_marks WHERE calendar_id = $1 ORDER BY book_id",
        )
        .bind(calendar_id)
        .fetch_all(&self.pool)
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
                    "INSERT INTO derived_marks (calendar_id, book_id, seen_seq) VALUES ($1, $2, $3) \
                     ON CONFLICT (calendar_id, book_id) DO UPDATE SET seen_seq = excluded.seen_seq",
                )
                .bind(calendar_id)
                .bind(book_id)
                .bind(seq)
                .execute(&self.pool)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM derived_marks WHERE calendar_id = $1 AND book_id = $2")
                    .bind(calendar_id)
                    .bind(book_id)
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(())
    }

    async fn delete_collection(&self, id: i64, actor: &Actor) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE collections SET deleted_at = $1, deleted_by = $2, deleted_name = name, \
             name = '.deleted-' || id WHERE id = $3 AND deleted_at IS NULL",
        )
        .bind(now_ms())
        .bind(actor.to_string())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        // A source must not write into a book nobody can see.
        sqlx::query(
            "UPDATE sources SET status = 'paused', status_detail = $1 WHERE collection_id = $2",
        )
        .bind(super::versions::BOOK_DELETED)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn patch_collection(&self, id: i64, patches: &[CollectionPatch]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        apply_patches(&mut tx, id, patches).await?;
        sqlx::query("UPDATE collections SET modified_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn dead_props(&self, id: i64) -> StoreResult<Vec<(String, String, String)>> {
        let rows = sqlx::query(
            "SELECT ns, name, xml FROM collection_props WHERE collection_id = $1 ORDER BY ns, name",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get("ns"), r.get("name"), r.get("xml")))
            .collect())
    }

    async fn object(&self, collection_id: i64, name: &str) -> StoreResult<Option<Object>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {META_COLS}, data FROM objects WHERE collection_id = $1 AND name = $2"
        )))
        .bind(collection_id)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| object_row(&r)))
    }

    async fn objects_by_name(
        &self,
        collection_id: i64,
        names: &[String],
    ) -> StoreResult<Vec<Object>> {
        // One array parameter instead of a list of placeholders.
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {META_COLS}, data FROM objects WHERE collection_id = $1 AND name = ANY($2)"
        )))
        .bind(collection_id)
        .bind(names)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(object_row).collect())
    }

    async fn put_object(
        &self,
        collection_id: i64,
        obj: &NewObject<'_>,
        check: Precondition<'_>,
        actor: &Actor,
    ) -> StoreResult<PutOutcome> {
        let mut tx = self.pool.begin().await?;
        Self::lock_collection(&mut tx, collection_id).await?;
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
        tx.commit().await?;
        Ok(if existing.is_some() {
            PutOutcome::Updated
        } else {
            PutOutcome::Created
        })
    }

    async fn delete_object(
        &self,
        collection_id: i64,
        name: &str,
        check: Precondition<'_>,
        actor: &Actor,
    ) -> StoreResult<DeleteOutcome> {
        let mut tx = self.pool.begin().await?;
        Self::lock_collection(&mut tx, collection_id).await?;
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
        let mut tx = self.pool.begin().await?;
        Self::lock_collection(&mut tx, collection_id).await?;
        let target: Option<i64> =
            sqlx::query_scalar("SELECT id FROM objects WHERE collection_id = $1 AND name = $2")
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
            sqlx::query("DELETE FROM objects WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        let seq = Self::next_seq(&mut tx, collection_id).await?;
        let moved = sqlx::query(
            "UPDATE objects SET name = $1, uid = $2, seq = $3, modified_at = $4, changed_by = $5 \
             WHERE collection_id = $6 AND name = $7",
        )
        .bind(to)
        .bind(text_in(uid))
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
        let pool = self.pool.clone();
        spawn_rows(move |tx| async move {
            let data = if with_data {
                "data"
            } else {
                "''::bytea AS data"
            };
            let base = format!("SELECT {META_COLS}, {data} FROM objects WHERE collection_id = $1");
            let q = match &narrow {
                None => sqlx::query(AssertSqlSafe(base)).bind(collection_id),
                Some(Narrow::Span { start, end }) => sqlx::query(AssertSqlSafe(format!(
                    "{base} AND last_end >= $2 AND first_start <= $3"
                )))
                .bind(collection_id)
                .bind(*start)
                .bind(*end),
                Some(Narrow::Index(h)) => {
                    let needle = super::sqlite::like_escape(&h.needle);
                    let (op, pattern) = match h.match_type {
                        MatchType::Equals => ("=", h.needle.clone()),
                        MatchType::Contains => ("LIKE", format!("%{needle}%")),
                        MatchType::StartsWith => ("LIKE", format!("{needle}%")),
                        MatchType::EndsWith => ("LIKE", format!("%{needle}")),
                    };
                    sqlx::query(AssertSqlSafe(format!(
                        "{base} AND id IN (SELECT object_id FROM object_index WHERE collection_id = $1 \
                         AND prop = $2 AND value {op} $3)"
                    )))
                    .bind(collection_id)
                    .bind(h.prop.clone())
                    .bind(text_in(&pattern).into_owned())
                }
            };
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
        let pool = self.pool.clone();
        spawn_rows(move |tx| async move {
            let result = async {
                let mut conn = pool.begin().await?;
                // One snapshot for the stamp and the rows: a write committed in between can
                // never be skipped by the returned token.
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .execute(&mut *conn)
                    .await?;
                let current: i64 =
                    sqlx::query_scalar("SELECT seq FROM collections WHERE id = $1")
                        .bind(collection_id)
                        .fetch_one(&mut *conn)
                        .await?;
                let limit = limit.map(|l| l as i64);
                let data = if with_data { "data" } else { "''::bytea AS data" };
                let query = if since == 0 {
                    sqlx::query(AssertSqlSafe(format!(
                        "SELECT {META_COLS}, {data}, 0::BIGINT AS removed FROM objects \
                         WHERE collection_id = $1 ORDER BY seq LIMIT $2"
                    )))
                    .bind(collection_id)
                    .bind(limit)
                } else {
                    sqlx::query(AssertSqlSafe(format!(
                        "SELECT {META_COLS}, {data}, 0::BIGINT AS removed FROM objects \
                         WHERE collection_id = $1 AND seq > $2 \
                         UNION ALL SELECT name, '', '', 0::BIGINT, seq, deleted_at, ''::bytea, 1::BIGINT \
                         FROM tombstones WHERE collection_id = $1 AND seq > $2 \
                         ORDER BY seq LIMIT $3"
                    )))
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
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE collections SET horizon = GREATEST(horizon, (SELECT MAX(seq) FROM tombstones t \
             WHERE t.collection_id = collections.id AND t.deleted_at < $1)) \
             WHERE id IN (SELECT collection_id FROM tombstones WHERE deleted_at < $1)",
        )
        .bind(before)
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query("DELETE FROM tombstones WHERE deleted_at < $1")
            .bind(before)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    async fn ready(&self) -> StoreResult<()> {
        let applied: Vec<i64> = sqlx::query_scalar(
            "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
        )
        .fetch_all(&self.pool)
        .await?;
        super::missing_migrations(&MIGRATOR, &applied)
    }

    fn pool_stats(&self) -> Vec<crate::metrics::PoolStat> {
        vec![crate::metrics::PoolStat {
            name: "postgres",
            size: self.pool.size(),
            idle: self.pool.num_idle(),
            max: self.max_connections,
        }]
    }

    async fn snapshot(&self, _path: &Path) -> StoreResult<()> {
        Err(StoreError::Unsupported(
            "Kith's backups copy its SQLite database; back up a PostgreSQL database with the \
             tools you already run for it (pg_dump, or base backups with WAL archiving)"
                .into(),
        ))
    }

    fn backend(&self) -> &'static str {
        "postgresql"
    }

    async fn try_lease(&self, name: &str, holder: &str, ttl_ms: i64) -> StoreResult<bool> {
        let now = now_ms();
        let row: Option<String> = sqlx::query_scalar(
            "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE leases.holder = excluded.holder OR leases.expires_at < $4 RETURNING holder",
        )
        .bind(name)
        .bind(holder)
        .bind(now + ttl_ms)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.is_some())
    }

    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn live_leases(&self, prefix: &str) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT name FROM leases WHERE expires_at > $1 AND substr(name, 1, length($2)) = $2",
        )
        .bind(now_ms())
        .bind(prefix)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn shared_setting(&self, name: &str, initial: &[u8]) -> StoreResult<Vec<u8>> {
        sqlx::query("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(name)
            .bind(initial)
            .execute(&self.pool)
            .await?;
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
                .bind(name)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn set_setting(&self, name: &str, value: Option<&[u8]>) -> StoreResult<()> {
        match value {
            Some(v) => sqlx::query(
                "INSERT INTO settings (name, value) VALUES ($1, $2) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            )
            .bind(name)
            .bind(v),
            None => sqlx::query("DELETE FROM settings WHERE name = $1").bind(name),
        }
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn setting(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn settings_with_prefix(&self, prefix: &str) -> StoreResult<Vec<String>> {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM settings WHERE substr(name, 1, length($1)) = $1 ORDER BY name",
        )
        .bind(prefix)
        .fetch_all(&self.pool)
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
            "INSERT INTO sealed (name, owner_id, value, expires_at, updated_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (name) DO UPDATE SET owner_id = excluded.owner_id, value = excluded.value, \
             expires_at = excluded.expires_at, updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(owner_id)
        .bind(value)
        .bind(expires_at)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn sealed(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(sqlx::query_scalar(
            "SELECT value FROM sealed WHERE name = $1 AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind(name)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn take_sealed(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        let row: Option<(Vec<u8>, Option<i64>)> =
            sqlx::query_as("DELETE FROM sealed WHERE name = $1 RETURNING value, expires_at")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        let now = now_ms();
        Ok(row.and_then(|(v, exp)| (exp.is_none_or(|e| e > now)).then_some(v)))
    }

    async fn delete_sealed(&self, name: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM sealed WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn purge_expired_sealed(&self) -> StoreResult<u64> {
        let r = sqlx::query("DELETE FROM sealed WHERE expires_at IS NOT NULL AND expires_at < $1")
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }

    async fn set_user_admin(&self, user_id: i64, admin: bool) -> StoreResult<()> {
        sqlx::query("UPDATE users SET is_admin = $1 WHERE id = $2")
            .bind(i64::from(admin))
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn set_user_disabled(&self, user_id: i64, disabled: bool) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE users SET disabled_at = $1 WHERE id = $2")
            .bind(disabled.then(now_ms))
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        if disabled {
            sqlx::query("DELETE FROM web_sessions WHERE user_id = $1")
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
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(csrf)
        .bind(now_ms())
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn web_session(&self, token_hash: &[u8]) -> StoreResult<Option<WebSession>> {
        let row = sqlx::query(
            "SELECT u.id, u.name, u.password_hash, u.created_at, u.is_admin, u.disabled_at, \
             s.csrf FROM web_sessions s \
             JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL",
        )
        .bind(token_hash)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| WebSession {
            user: user_row(&r),
            csrf: r.get("csrf"),
        }))
    }

    async fn delete_web_session(&self, token_hash: &[u8]) -> StoreResult<()> {
        sqlx::query("DELETE FROM web_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn delete_web_sessions(&self, user_id: i64) -> StoreResult<()> {
        sqlx::query("DELETE FROM web_sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn purge_expired_web_sessions(&self) -> StoreResult<u64> {
        let r = sqlx::query("DELETE FROM web_sessions WHERE expires_at < $1")
            .bind(now_ms())
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }

    async fn member_counts(&self, owner_id: i64) -> StoreResult<Vec<(i64, i64)>> {
        Ok(sqlx::query_as(
            "SELECT c.id, COUNT(o.name) FROM collections c \
             LEFT JOIN objects o ON o.collection_id = c.id WHERE c.owner_id = $1 GROUP BY c.id",
        )
        .bind(owner_id)
        .fetch_all(&self.pool)
        .await?)
    }
}

async fn apply_patches(tx: &mut Tx<'_>, id: i64, patches: &[CollectionPatch]) -> StoreResult<()> {
    for p in patches {
        let (column, value) = match p {
            CollectionPatch::DisplayName(v) => ("displayname", v.clone()),
            CollectionPatch::Description(v) => ("description", v.clone()),
            CollectionPatch::Components(v) => ("components", Some(v.join(","))),
            CollectionPatch::Timezone(v) => ("timezone", v.clone()),
            CollectionPatch::Dead { ns, name, xml } => {
                match xml {
                    Some(xml) => sqlx::query(
                        "INSERT INTO collection_props (collection_id, ns, name, xml) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (collection_id, ns, name) DO UPDATE SET xml = excluded.xml",
                    )
                    .bind(id)
                    .bind(ns)
                    .bind(name)
                    .bind(xml),
                    None => sqlx::query(
                        "DELETE FROM collection_props WHERE collection_id = $1 AND ns = $2 AND name = $3",
                    )
                    .bind(id)
                    .bind(ns)
                    .bind(name),
                }
                .execute(&mut **tx)
                .await?;
                continue;
            }
        };
        // `column` is one of the fixed names above, never client input.
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE collections SET {column} = $1 WHERE id = $2"
        )))
        .bind(value)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
