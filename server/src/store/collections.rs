//! Address books and calendars: creating, listing, patching and trashing them.
use super::db::{Db, Tx};
use super::{Actor, Collection, CollectionPatch, Kind, StoreError, StoreResult, now_ms};
use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

const COLLECTION_COLS: &str = "id, kind, name, displayname, description, seq, horizon, modified_at, \
     components, timezone, derived";
pub(super) fn collection_row(r: &AnyRow) -> Collection {
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
        shared: None,
    }
}

#[async_trait]
pub trait Collections: Send + Sync {
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
    /// How many members each of a user's collections has: collection id → count.
    async fn member_counts(&self, owner_id: i64) -> StoreResult<Vec<(i64, i64)>>;
    /// Bytes a user's cards and events take, leaving out member `name` of `collection_id`
    /// (the one a PUT replaces).
    async fn bytes_used(&self, owner_id: i64, collection_id: i64, name: &str) -> StoreResult<i64>;
}

#[async_trait]
impl Collections for Db {
    async fn create_collection(
        &self,
        owner_id: i64,
        kind: Kind,
        name: &str,
        patches: &[CollectionPatch],
    ) -> StoreResult<Collection> {
        let mut tx = self.begin().await?;
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
        .fetch_optional(tx.c())
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
        .fetch_one(tx.c())
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
            "SELECT {COLLECTION_COLS} FROM collections WHERE owner_id = $1 AND kind = $2 AND name = $3 \
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
        sqlx::query("UPDATE collections SET derived = $1 WHERE id = $2")
            .bind(derived)
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn derived_marks(&self, calendar_id: i64) -> StoreResult<Vec<(i64, i64)>> {
        Ok(sqlx::query_as(
            "SELECT book_id, seen_seq FROM derived_marks WHERE calendar_id = $1 ORDER BY book_id",
        )
        .bind(calendar_id)
        .fetch_all(&self.reader)
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
                .execute(&self.writer)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM derived_marks WHERE calendar_id = $1 AND book_id = $2")
                    .bind(calendar_id)
                    .bind(book_id)
                    .execute(&self.writer)
                    .await?;
            }
        }
        Ok(())
    }

    async fn delete_collection(&self, id: i64, actor: &Actor) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE collections SET deleted_at = $1, deleted_by = $2, deleted_name = name, \
             name = '.deleted-' || id WHERE id = $3 AND deleted_at IS NULL",
        )
        .bind(now_ms())
        .bind(actor.to_string())
        .bind(id)
        .execute(tx.c())
        .await?;
        // A source must not write into a book nobody can see.
        sqlx::query(
            "UPDATE sources SET status = 'paused', status_detail = $1 WHERE collection_id = $2",
        )
        .bind(super::versions::BOOK_DELETED)
        .bind(id)
        .execute(tx.c())
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn patch_collection(&self, id: i64, patches: &[CollectionPatch]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        apply_patches(&mut tx, id, patches).await?;
        sqlx::query("UPDATE collections SET modified_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(id)
            .execute(tx.c())
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn dead_props(&self, id: i64) -> StoreResult<Vec<(String, String, String)>> {
        let rows = sqlx::query(
            "SELECT ns, name, xml FROM collection_props WHERE collection_id = $1 ORDER BY ns, name",
        )
        .bind(id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get("ns"), r.get("name"), r.get("xml")))
            .collect())
    }

    async fn member_counts(&self, owner_id: i64) -> StoreResult<Vec<(i64, i64)>> {
        Ok(sqlx::query_as(
            "SELECT c.id, COUNT(o.name) FROM collections c \
             LEFT JOIN objects o ON o.collection_id = c.id WHERE c.owner_id = $1 GROUP BY c.id",
        )
        .bind(owner_id)
        .fetch_all(&self.reader)
        .await?)
    }

    async fn bytes_used(&self, owner_id: i64, collection_id: i64, name: &str) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(o.size), 0) AS BIGINT) FROM objects o \
             JOIN collections c ON c.id = o.collection_id \
             WHERE c.owner_id = $1 AND NOT (o.collection_id = $2 AND o.name = $3)",
        )
        .bind(owner_id)
        .bind(collection_id)
        .bind(name)
        .fetch_one(&self.reader)
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
                .execute(tx.c())
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
        .execute(tx.c())
        .await?;
    }
    Ok(())
}
