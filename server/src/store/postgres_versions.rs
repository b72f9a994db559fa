//! History and trash on PostgreSQL; see `sqlite_versions` for the design.

use super::Kind;
use super::postgres::{PgStore, text_in, text_out};
use super::sqlite_versions::VERSION_COLS;
use super::versions::{
    Actor, BOOK_DELETED, Change, ChangeOutcome, Current, DeletedCollection, HistoryStore, Version,
};
use super::{StoreError, StoreResult};
use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, Row};

fn version_row(r: &PgRow) -> Version {
    Version {
        id: r.get("id"),
        collection_id: r.get("collection_id"),
        name: r.get("name"),
        uid: text_out(r.get("uid")),
        etag: r.get("etag"),
        data: r.get("data"),
        written_at: r.get("written_at"),
        written_by: r.get("written_by"),
        replaced_at: r.get("replaced_at"),
        replaced_by: r.get("replaced_by"),
        deleted: r.get("deleted"),
    }
}

fn unique_violation(e: &StoreError) -> bool {
    matches!(e, StoreError::Db(sqlx::Error::Database(d)) if d.is_unique_violation())
}

#[async_trait]
impl HistoryStore for PgStore {
    async fn versions(&self, collection_id: i64, name: &str) -> StoreResult<Vec<Version>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {VERSION_COLS} FROM object_versions WHERE collection_id = $1 AND name = $2 \
             ORDER BY replaced_at DESC, id DESC"
        )))
        .bind(collection_id)
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(version_row).collect())
    }

    async fn version(&self, id: i64) -> StoreResult<Option<Version>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {VERSION_COLS} FROM object_versions WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| version_row(&r)))
    }

    async fn written_by(&self, collection_id: i64, name: &str) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT changed_by FROM objects WHERE collection_id = $1 AND name = $2",
        )
        .bind(collection_id)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?
        .flatten())
    }

    async fn find_name(&self, collection_id: i64, key: &str) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT name FROM (\
               SELECT name, 0 AS rank, 0::BIGINT AS at FROM objects WHERE collection_id = $1 AND name = $2 \
               UNION ALL SELECT name, 1, 0 FROM object_versions WHERE collection_id = $1 AND name = $2 \
               UNION ALL SELECT name, 2, 0 FROM objects WHERE collection_id = $1 AND uid = $2 \
               UNION ALL SELECT name, 3, replaced_at FROM object_versions WHERE collection_id = $1 AND uid = $2) k \
             ORDER BY rank, at DESC LIMIT 1",
        )
        .bind(collection_id)
        .bind(text_in(key))
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn trash(&self, collection_id: i64) -> StoreResult<Vec<Version>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {VERSION_COLS} FROM object_versions v WHERE collection_id = $1 AND deleted \
             AND id = (SELECT MAX(id) FROM object_versions w WHERE w.collection_id = v.collection_id \
                       AND w.name = v.name) \
             AND NOT EXISTS (SELECT 1 FROM objects o WHERE o.collection_id = v.collection_id \
                             AND o.name = v.name) \
             ORDER BY replaced_at DESC, id DESC"
        )))
        .bind(collection_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(version_row).collect())
    }

    async fn changed_since(
        &self,
        collection_id: i64,
        at: i64,
    ) -> StoreResult<(Vec<Version>, Vec<Current>)> {
        // One snapshot, so the versions and the members agree.
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await?;
        let versions = sqlx::query(AssertSqlSafe(format!(
            "SELECT {VERSION_COLS} FROM object_versions WHERE collection_id = $1 AND replaced_at > $2 \
             ORDER BY replaced_at, id"
        )))
        .bind(collection_id)
        .bind(at)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(version_row)
        .collect();
        let current = sqlx::query(
            "SELECT name, etag FROM objects WHERE collection_id = $1 AND modified_at > $2",
        )
        .bind(collection_id)
        .bind(at)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| Current {
            name: r.get("name"),
            etag: r.get("etag"),
        })
        .collect();
        tx.commit().await?;
        Ok((versions, current))
    }

    async fn apply_changes(
        &self,
        collection_id: i64,
        changes: &[Change<'_>],
        actor: &Actor,
    ) -> StoreResult<ChangeOutcome> {
        let mut tx = self.pool.begin().await?;
        Self::lock_collection(&mut tx, collection_id).await?;
        // Deletes first: a rewind may remove a card created since and put back an older card
        // with the same UID.
        let ordered = changes
            .iter()
            .filter(|c| matches!(c, Change::Delete { .. }))
            .chain(changes.iter().filter(|c| matches!(c, Change::Put { .. })));
        for change in ordered {
            let name = match change {
                Change::Put { obj, .. } => obj.name,
                Change::Delete { name, .. } => name,
            };
            let current = Self::member(&mut tx, collection_id, name).await?;
            let expected = match change {
                Change::Put { expect, .. } => expect.clone(),
                Change::Delete { expect, .. } => Some(expect.clone()),
            };
            if current.as_ref().map(|(_, e)| e) != expected.as_ref() {
                return Ok(ChangeOutcome::Stale(format!(
                    "{name} changed while the change was being prepared"
                )));
            }
            let seq = Self::next_seq(&mut tx, collection_id).await?;
            match change {
                Change::Put { obj, .. } => {
                    let clash = Self::uid_holder(&mut tx, collection_id, obj.uid, obj.name).await?;
                    if let Some(other) = clash {
                        return Ok(ChangeOutcome::Stale(format!(
                            "{name} cannot be put back: {other} now has its UID {}",
                            obj.uid
                        )));
                    }
                    let existing = current.map(|(id, _)| id);
                    match Self::store_object(&mut tx, collection_id, existing, obj, seq, actor)
                        .await
                    {
                        Ok(_) => {}
                        Err(e) if unique_violation(&e) => {
                            return Ok(ChangeOutcome::Stale(format!(
                                "{name} cannot be put back: its UID is taken"
                            )));
                        }
                        Err(e) => return Err(e),
                    }
                }
                Change::Delete { name, .. } => {
                    if let Some((id, _)) = current {
                        Self::remove_object(&mut tx, collection_id, id, name, seq, actor).await?;
                    }
                }
            }
        }
        tx.commit().await?;
        Ok(ChangeOutcome::Applied)
    }

    async fn purge_versions(&self, before: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM object_versions WHERE replaced_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn purge_trash(&self, collection_id: i64) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM object_versions WHERE collection_id = $1 AND name IN \
             (SELECT name FROM object_versions v WHERE v.collection_id = $1 AND deleted) \
             AND name NOT IN (SELECT name FROM objects WHERE collection_id = $1)",
        )
        .bind(collection_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn deleted_collections(&self, owner_id: i64) -> StoreResult<Vec<DeletedCollection>> {
        let rows = sqlx::query(
            "SELECT c.id, c.kind, c.deleted_name, c.deleted_at, c.deleted_by, \
             (SELECT COUNT(*) FROM objects o WHERE o.collection_id = c.id) AS members \
             FROM collections c WHERE owner_id = $1 AND deleted_at IS NOT NULL ORDER BY deleted_at DESC",
        )
        .bind(owner_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| DeletedCollection {
                id: r.get("id"),
                kind: if r.get::<&str, _>("kind") == "calendar" {
                    Kind::Calendar
                } else {
                    Kind::Addressbook
                },
                name: r
                    .get::<Option<String>, _>("deleted_name")
                    .unwrap_or_default(),
                deleted_at: r.get("deleted_at"),
                deleted_by: r.get::<Option<String>, _>("deleted_by").unwrap_or_default(),
                members: r.get("members"),
            })
            .collect())
    }

    async fn restore_collection(&self, id: i64, name: &str) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE collections SET name = $1, deleted_at = NULL, deleted_by = NULL, deleted_name = NULL, \
             modified_at = $2 WHERE id = $3 AND deleted_at IS NOT NULL AND NOT EXISTS \
             (SELECT 1 FROM collections o WHERE o.owner_id = collections.owner_id \
              AND o.kind = collections.kind AND o.name = $1)",
        )
        .bind(name)
        .bind(crate::store::now_ms())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE sources SET status = 'ready', status_detail = NULL \
             WHERE collection_id = $1 AND status = 'paused' AND status_detail = $2",
        )
        .bind(id)
        .bind(BOOK_DELETED)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn purge_collections(&self, before: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM collections WHERE deleted_at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn version_count(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM object_versions")
            .fetch_one(&self.pool)
            .await?)
    }
}
