//! Cards and calendar objects, and the change feed `sync-collection` reads: every write
//! bumps its collection's stamp, and removals leave tombstones.
use super::db::Db;
use super::listing::{META_COLS, object_row};
use super::{
    Actor, DeleteOutcome, Narrow, NewObject, Object, Precondition, PutOutcome, RowStream,
    StoreResult, SyncItem, now_ms,
};
use async_trait::async_trait;
use sqlx::AssertSqlSafe;

#[async_trait]
pub trait Objects: Send + Sync {
    async fn object(&self, collection_id: i64, name: &str) -> StoreResult<Option<Object>>;
    async fn objects_by_name(
        &self,
        collection_id: i64,
        names: &[String],
    ) -> StoreResult<Vec<Object>>;
    /// The member whose UID is `uid` (one per collection), with its data.
    async fn object_by_uid(&self, collection_id: i64, uid: &str) -> StoreResult<Option<Object>>;
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
    /// Changes after stamp `since` up to stamp `upto` (the collection's `seq` as the caller
    /// read it), oldest first, at most `limit`, then [`SyncItem::End`] with `upto`.
    /// `since == 0` lists the present members only (an initial sync).
    ///
    /// Bounding by `upto` makes the result exact without a transaction: every change up to
    /// it is committed, and a write after it (even one that restamps a member listed here)
    /// carries a later stamp, so it is reported by the read that starts from `upto`.
    fn changes(
        &self,
        collection_id: i64,
        since: i64,
        upto: i64,
        limit: Option<usize>,
        with_data: bool,
    ) -> RowStream<SyncItem>;
    /// Drops tombstones older than `before` (Unix ms) and moves sync horizons past them.
    async fn purge_tombstones(&self, before: i64) -> StoreResult<u64>;
}

#[async_trait]
impl Objects for Db {
    async fn object(&self, collection_id: i64, name: &str) -> StoreResult<Option<Object>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {META_COLS}, data FROM objects WHERE collection_id = $1 AND name = $2"
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
        self.list_named(collection_id, names).await
    }

    async fn object_by_uid(&self, collection_id: i64, uid: &str) -> StoreResult<Option<Object>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {META_COLS}, data FROM objects WHERE collection_id = $1 AND uid = $2"
        )))
        .bind(collection_id)
        .bind(self.dialect.text_in(uid))
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|r| object_row(&r)))
    }

    async fn put_object(
        &self,
        collection_id: i64,
        obj: &NewObject<'_>,
        check: Precondition<'_>,
        actor: &Actor,
    ) -> StoreResult<PutOutcome> {
        let mut tx = self.begin().await?;
        tx.lock_collection(collection_id).await?;
        let current = Self::member(&mut tx, collection_id, obj.name).await?;
        if !check(current.as_ref().map(|(_, e)| e.as_str())) {
            return Ok(PutOutcome::PreconditionFailed);
        }
        if let Some(other) = Self::uid_holder(&mut tx, collection_id, obj.uid, obj.name).await? {
            return Ok(PutOutcome::UidConflict(other));
        }
        if let Some((id, _)) = &current
            && let Some(old) = Self::stored_uid(&mut tx, *id).await?
            && uid_changed(&old, obj.uid)
        {
            return Ok(PutOutcome::UidChanged(old));
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
        let mut tx = self.begin().await?;
        tx.lock_collection(collection_id).await?;
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
        let mut tx = self.begin().await?;
        tx.lock_collection(collection_id).await?;
        let target: Option<i64> =
            sqlx::query_scalar("SELECT id FROM objects WHERE collection_id = $1 AND name = $2")
                .bind(collection_id)
                .bind(to)
                .fetch_optional(tx.c())
                .await?;
        if target.is_some() && !overwrite {
            return Ok(PutOutcome::PreconditionFailed);
        }
        if let Some(id) = target {
            // The overwritten member's content stays in its history.
            Self::archive(&mut tx, id, actor, false).await?;
            sqlx::query("DELETE FROM objects WHERE id = $1")
                .bind(id)
                .execute(tx.c())
                .await?;
        }
        let seq = Self::next_seq(&mut tx, collection_id).await?;
        let moved = sqlx::query(
            "UPDATE objects SET name = $1, uid = $2, seq = $3, modified_at = $4, changed_by = $5 \
             WHERE collection_id = $6 AND name = $7",
        )
        .bind(to)
        .bind(tx.dialect.text_in(uid))
        .bind(seq)
        .bind(now_ms())
        .bind(actor.to_string())
        .bind(collection_id)
        .bind(from)
        .execute(tx.c())
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
        self.list_objects(collection_id, with_data, narrow)
    }

    fn changes(
        &self,
        collection_id: i64,
        since: i64,
        upto: i64,
        limit: Option<usize>,
        with_data: bool,
    ) -> RowStream<SyncItem> {
        self.list_changes(collection_id, since, upto, limit, with_data)
    }

    async fn purge_tombstones(&self, before: i64) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        sqlx::query(AssertSqlSafe(format!(
            "UPDATE collections SET horizon = {}(horizon, (SELECT MAX(seq) FROM tombstones t \
             WHERE t.collection_id = collections.id AND t.deleted_at < $1)) \
             WHERE id IN (SELECT collection_id FROM tombstones WHERE deleted_at < $1)",
            self.dialect.greatest()
        )))
        .bind(before)
        .execute(tx.c())
        .await?;
        let done = sqlx::query("DELETE FROM tombstones WHERE deleted_at < $1")
            .bind(before)
            .execute(tx.c())
            .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
impl Db {
    /// The query plan of the incremental sync query (SQLite), for tests that prove it reads
    /// the indexes.
    pub async fn explain_changes(&self) -> StoreResult<Vec<String>> {
        use sqlx::Row;
        let sql = super::listing::changes_sql(self.dialect, false, false, None);
        let rows = sqlx::query(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
            .bind(1_i64)
            .bind(0_i64)
            .bind(i64::MAX)
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(|r| r.get::<String, _>("detail")).collect())
    }
}

/// Whether a write replaces a member's UID with another (RFC 4791 §5.3.2.1 and RFC 6352
/// §6.3.2.1 refuse it). A card stored without a UID is keyed by its name (see
/// [`super::effective_uid`]): giving it a UID, or dropping the one it has, is not a change of
/// identity a client could trip over, so only two real UIDs that differ count.
fn uid_changed(old: &str, new: &str) -> bool {
    let keyed_by_name = |u: &str| u.starts_with("\0name:");
    old != new && !keyed_by_name(old) && !keyed_by_name(new)
}
