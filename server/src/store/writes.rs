//! The steps every write is made of, inside one transaction: bump the collection's stamp,
//! keep the replaced version, write the object and its index rows, leave or clear a tombstone.
//! DAV writes, sync runs and restores all use them.

use super::db::{Db, Tx};
use super::dialect::placeholders;
use super::{Actor, NewObject, StoreResult, now_ms};
use sqlx::AssertSqlSafe;

impl Db {
    /// Bumps the collection's change counter and returns the new stamp.
    pub(super) async fn next_seq(tx: &mut Tx<'_>, collection_id: i64) -> StoreResult<i64> {
        tx.bumped = true;
        Ok(sqlx::query_scalar(
            "UPDATE collections SET seq = seq + 1, modified_at = $1 WHERE id = $2 RETURNING seq",
        )
        .bind(now_ms())
        .bind(collection_id)
        .fetch_one(tx.c())
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
        .execute(tx.c())
        .await?;
        Ok(())
    }

    pub(super) async fn unbury(tx: &mut Tx<'_>, collection_id: i64, name: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM tombstones WHERE collection_id = $1 AND name = $2")
            .bind(collection_id)
            .bind(name)
            .execute(tx.c())
            .await?;
        Ok(())
    }

    /// Writes one object at change stamp `seq`: updates row `existing`, or inserts a new one
    /// (forgetting any tombstone of its name), then its index rows. Returns the row id. The
    /// caller has checked its preconditions; a UID or name taken since fails with a unique
    /// violation.
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
                .bind(tx.dialect.text_in(obj.uid))
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
                .execute(tx.c())
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
                .bind(tx.dialect.text_in(obj.uid))
                .bind(obj.etag)
                .bind(obj.content_type)
                .bind(obj.data.len() as i64)
                .bind(obj.data)
                .bind(seq)
                .bind(now)
                .bind(obj.span.map(|s| s.0))
                .bind(obj.span.map(|s| s.1))
                .bind(&by)
                .fetch_one(tx.c())
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
                .fetch_optional(tx.c())
                .await?,
        )
    }

    /// The UID member `id` is stored with.
    pub(super) async fn stored_uid(tx: &mut Tx<'_>, id: i64) -> StoreResult<Option<String>> {
        let uid: Option<String> = sqlx::query_scalar("SELECT uid FROM objects WHERE id = $1")
            .bind(id)
            .fetch_optional(tx.c())
            .await?;
        Ok(uid.map(|u| tx.dialect.text_out(u)))
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
        .bind(tx.dialect.text_in(uid))
        .bind(name)
        .fetch_optional(tx.c())
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
        .execute(tx.c())
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
            .execute(tx.c())
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
                .execute(tx.c())
                .await?;
        }
        // DO NOTHING: a card may repeat a value (two identical EMAIL lines).
        for chunk in index.chunks(super::dialect::BATCH) {
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
                    .bind(tx.dialect.text_in(value));
            }
            q.execute(tx.c()).await?;
        }
        Ok(())
    }
}
