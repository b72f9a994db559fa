//! Cards and calendar objects, and the change feed `sync-collection` reads: every write
//! bumps its collection's stamp, and removals leave tombstones.
use super::db::Db;
use super::dialect::{like_escape, list};
use super::{
    Actor, DeleteOutcome, Narrow, NewObject, Object, ObjectMeta, Precondition, PutOutcome,
    RowStream, StoreError, StoreResult, SyncItem, now_ms,
};
use async_trait::async_trait;
use futures_util::StreamExt;
use kith_dav::filter::MatchType;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use tokio::sync::mpsc;

const META_COLS: &str = "name, etag, content_type, size, seq, modified_at";

fn object_row(r: &AnyRow) -> Object {
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

#[async_trait]
pub trait Objects: Send + Sync {
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
        let mut out = Vec::with_capacity(names.len());
        for chunk in names.chunks(500) {
            let sql = format!(
                "SELECT {META_COLS}, data FROM objects WHERE collection_id = $1 AND name IN ({})",
                list(chunk.len(), 2)
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
        let mut tx = self.begin().await?;
        tx.lock_collection(collection_id).await?;
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
        let pool = self.reader.clone();
        let dialect = self.dialect;
        spawn_rows(move |tx| async move {
            let data = if with_data {
                "data".to_string()
            } else {
                format!("{} AS data", dialect.empty_blob())
            };
            // Storage order: reading rows in name order would jump around the table.
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
                    let needle = like_escape(&h.needle);
                    let (op, pattern) = match h.match_type {
                        MatchType::Equals => ("=", h.needle.clone()),
                        MatchType::Contains => ("LIKE", format!("%{needle}%")),
                        MatchType::StartsWith => ("LIKE", format!("{needle}%")),
                        MatchType::EndsWith => ("LIKE", format!("%{needle}")),
                    };
                    let escape = if op == "LIKE" { "ESCAPE '\\'" } else { "" };
                    sqlx::query(AssertSqlSafe(format!(
                        "{base} AND id IN (SELECT object_id FROM object_index WHERE collection_id = $1 \
                         AND prop = $2 AND value {op} $3 {escape})"
                    )))
                    .bind(collection_id)
                    .bind(h.prop.clone())
                    .bind(dialect.text_in(&pattern))
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
        let pool = self.reader.clone();
        let dialect = self.dialect;
        spawn_rows(move |tx| async move {
            let result = async {
                let mut conn = pool.begin().await?;
                // One snapshot for the stamp and the rows: a write committed in between can
                // never be skipped by the returned token.
                dialect.snapshot(&mut conn).await?;
                let current: i64 = sqlx::query_scalar("SELECT seq FROM collections WHERE id = $1")
                    .bind(collection_id)
                    .fetch_one(&mut *conn)
                    .await?;
                let query = sqlx::query(AssertSqlSafe(changes_sql(dialect, since == 0, with_data)))
                    .bind(collection_id)
                    .bind(since)
                    .bind(limit.map_or(i64::MAX, |l| l as i64));
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

/// Members (and, after a token, tombstones) stamped after `$2`, oldest first, at most `$3`,
/// through the (collection_id, seq) indexes. An initial sync lists the members only.
pub(super) fn changes_sql(
    dialect: super::dialect::Dialect,
    initial: bool,
    with_data: bool,
) -> String {
    let blob = dialect.empty_blob();
    let data = if with_data {
        "data".to_string()
    } else {
        format!("{blob} AS data")
    };
    let members = format!(
        "SELECT {META_COLS}, {data}, CAST(0 AS BIGINT) AS removed FROM objects \
         WHERE collection_id = $1 AND seq > $2"
    );
    if initial {
        return format!("{members} ORDER BY seq LIMIT $3");
    }
    format!(
        "{members} UNION ALL SELECT name, '', '', CAST(0 AS BIGINT), seq, deleted_at, {blob}, \
         CAST(1 AS BIGINT) FROM tombstones WHERE collection_id = $1 AND seq > $2 \
         ORDER BY seq LIMIT $3"
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

#[cfg(test)]
impl Db {
    /// The query plan of the incremental sync query (SQLite), for tests that prove it reads
    /// the indexes.
    pub async fn explain_changes(&self) -> StoreResult<Vec<String>> {
        let sql = changes_sql(self.dialect, false, false);
        let rows = sqlx::query(AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
            .bind(1_i64)
            .bind(0_i64)
            .bind(-1_i64)
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(|r| r.get::<String, _>("detail")).collect())
    }
}
