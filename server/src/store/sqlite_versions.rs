//! History and trash on SQLite. Versions are written by the object writes themselves
//! ([`SqliteStore::archive`]), inside their transactions; this module reads them and applies
//! restores as change sets.

use super::Kind;
use super::sqlite::SqliteStore;
use super::versions::{
    Actor, BOOK_DELETED, Change, ChangeOutcome, Current, DeletedCollection, HistoryStore, Version,
};
use super::{StoreError, StoreResult};
use async_trait::async_trait;
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Row};

pub(super) const VERSION_COLS: &str = "id, collection_id, name, uid, etag, data, written_at, \
     written_by, replaced_at, replaced_by, deleted";

fn version_row(r: &SqliteRow) -> Version {
    Version {
        id: r.get("id"),
        collection_id: r.get("collection_id"),
        name: r.get("name"),
        uid: r.get("uid"),
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
impl HistoryStore for SqliteStore {
    async fn versions(&self, collection_id: i64, name: &str) -> StoreResult<Vec<Version>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {VERSION_COLS} FROM object_versions WHERE collection_id = ? AND name = ? \
             ORDER BY replaced_at DESC, id DESC"
        )))
        .bind(collection_id)
        .bind(name)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(version_row).collect())
    }

    async fn version(&self, id: i64) -> StoreResult<Option<Version>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {VERSION_COLS} FROM object_versions WHERE id = ?"
        )))
        .bind(id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|r| version_row(&r)))
    }

    async fn written_by(&self, collection_id: i64, name: &str) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT changed_by FROM objects WHERE collection_id = ? AND name = ?",
        )
        .bind(collection_id)
        .bind(name)
        .fetch_optional(&self.reader)
        .await?
        .flatten())
    }

    async fn find_name(&self, collection_id: i64, key: &str) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar(
            "SELECT name FROM (\
               SELECT name, 0 AS rank, 0 AS at FROM objects WHERE collection_id = ?1 AND name = ?2 \
               UNION ALL SELECT name, 1, 0 FROM object_versions WHERE collection_id = ?1 AND name = ?2 \
               UNION ALL SELECT name, 2, 0 FROM objects WHERE collection_id = ?1 AND uid = ?2 \
               UNION ALL SELECT name, 3, replaced_at FROM object_versions WHERE collection_id = ?1 AND uid = ?2) \
             ORDER BY rank, at DESC LIMIT 1",
        )
        .bind(collection_id)
        .bind(key)
        .fetch_optional(&self.reader)
        .await?)
    }

    async fn trash(&self, collection_id: i64) -> StoreResult<Vec<Version>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {VERSION_COLS} FROM object_versions v WHERE collection_id = ? AND deleted = 1 \
             AND id = (SELECT MAX(id) FROM object_versions w WHERE w.collection_id = v.collection_id \
                       AND w.name = v.name) \
             AND NOT EXISTS (SELECT 1 FROM objects o WHERE o.collection_id = v.collection_id \
                             AND o.name = v.name) \
             ORDER BY replaced_at DESC, id DESC"
        )))
        .bind(collection_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(version_row).collect())
    }

    async fn changed_since(
        &self,
        collection_id: i64,
        at: i64,
    ) -> StoreResult<(Vec<Version>, Vec<Current>)> {
        // One read transaction, so the versions and the members agree.
        let mut tx = self.reader.begin().await?;
        let versions = sqlx::query(AssertSqlSafe(format!(
            "SELECT {VERSION_COLS} FROM object_versions WHERE collection_id = ? AND replaced_at > ? \
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
            "SELECT name, etag FROM objects WHERE collection_id = ? AND modified_at > ?",
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
        let mut tx = self.writer.begin().await?;
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
        let done = sqlx::query("DELETE FROM object_versions WHERE replaced_at < ?")
            .bind(before)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }

    async fn purge_trash(&self, collection_id: i64) -> StoreResult<u64> {
        let done = sqlx::query(
            "DELETE FROM object_versions WHERE collection_id = ? AND name IN \
             (SELECT name FROM object_versions v WHERE v.collection_id = ? AND deleted = 1) \
             AND name NOT IN (SELECT name FROM objects WHERE collection_id = ?)",
        )
        .bind(collection_id)
        .bind(collection_id)
        .bind(collection_id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }

    async fn deleted_collections(&self, owner_id: i64) -> StoreResult<Vec<DeletedCollection>> {
        let rows = sqlx::query(
            "SELECT c.id, c.kind, c.deleted_name, c.deleted_at, c.deleted_by, \
             (SELECT COUNT(*) FROM objects o WHERE o.collection_id = c.id) AS members \
             FROM collections c WHERE owner_id = ? AND deleted_at IS NOT NULL ORDER BY deleted_at DESC",
        )
        .bind(owner_id)
        .fetch_all(&self.reader)
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
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query(
            "UPDATE collections SET name = ?, deleted_at = NULL, deleted_by = NULL, deleted_name = NULL, \
             modified_at = ? WHERE id = ? AND deleted_at IS NOT NULL AND NOT EXISTS \
             (SELECT 1 FROM collections o WHERE o.owner_id = collections.owner_id \
              AND o.kind = collections.kind AND o.name = ?)",
        )
        .bind(name)
        .bind(crate::store::now_ms())
        .bind(id)
        .bind(name)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE sources SET status = 'ready', status_detail = NULL \
             WHERE collection_id = ? AND status = 'paused' AND status_detail = ?",
        )
        .bind(id)
        .bind(BOOK_DELETED)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn purge_collections(&self, before: i64) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM collections WHERE deleted_at < ?")
            .bind(before)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }

    async fn version_count(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM object_versions")
            .fetch_one(&self.reader)
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Kind, NewObject, Store, now_ms};

    fn card(text: &str) -> NewObject<'_> {
        NewObject {
            name: "a.vcf",
            uid: "a",
            etag: "\"x\"",
            content_type: "text/vcard",
            data: text.as_bytes(),
            index: Vec::new(),
            span: None,
        }
    }

    /// Each write keeps the version it replaced with who wrote it and who replaced it; the
    /// delete leaves the last version in the trash.
    #[tokio::test]
    async fn writes_keep_the_replaced_versions_with_their_authors() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("h.db")).await.unwrap();
        let user = store.create_user("u", "x").await.unwrap();
        let book = store
            .create_collection(user.id, Kind::Addressbook, "b", &[])
            .await
            .unwrap();
        let phone = Actor::Client {
            user: "u".into(),
            device: Some("phone".into()),
            agent: "DAVx5".into(),
        };
        let laptop = Actor::Command("laptop".into());
        store
            .put_object(book.id, &card("one"), &|_| true, &phone)
            .await
            .unwrap();
        store
            .put_object(book.id, &card("two"), &|_| true, &laptop)
            .await
            .unwrap();
        store
            .delete_object(book.id, "a.vcf", &|_| true, &phone)
            .await
            .unwrap();
        let versions = store.versions(book.id, "a.vcf").await.unwrap();
        assert_eq!(versions.len(), 2);
        assert_eq!(versions[0].data, b"two");
        assert_eq!(versions[0].written_by.as_deref(), Some("laptop"));
        assert!(versions[0].deleted);
        assert_eq!(versions[0].replaced_by, phone.to_string());
        assert_eq!(versions[1].data, b"one");
        assert!(!versions[1].deleted);
        let trash = store.trash(book.id).await.unwrap();
        assert_eq!(trash.len(), 1);
        assert_eq!(trash[0].data, b"two");

        // Derived writes (the birthday calendar) are not kept.
        store
            .put_object(book.id, &card("three"), &|_| true, &Actor::Derived)
            .await
            .unwrap();
        store
            .put_object(book.id, &card("four"), &|_| true, &Actor::Derived)
            .await
            .unwrap();
        assert_eq!(store.version_count().await.unwrap(), 2);
        assert!(
            store.trash(book.id).await.unwrap().is_empty(),
            "a re-created member is no longer in the trash"
        );

        assert_eq!(store.purge_versions(now_ms() + 1).await.unwrap(), 2);
        assert_eq!(store.version_count().await.unwrap(), 0);
    }
}
