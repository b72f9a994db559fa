//! Shares: an owner's address book or calendar opened to a user or a group, read-only or
//! read-write. What a user may do with a collection is decided in `core::access` from these
//! rows, on every request, so a revoked share ends at once.
use super::db::Db;
use super::dialect::flag;
use super::{Collection, Kind, StoreResult, now_ms};
use async_trait::async_trait;
use sqlx::{AssertSqlSafe, Row};

/// Whom a share is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grantee {
    User(i64),
    Group(i64),
}

/// One share of a collection, with its grantee's name (a user or a group name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    pub collection_id: i64,
    pub grantee: Grantee,
    pub grantee_name: String,
    pub writable: bool,
    pub created_at: i64,
}

/// How a sharee reaches another user's collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedBy {
    pub owner_id: i64,
    pub owner_name: String,
    /// The name the owner gave the collection (its `name` is then the sharee's alias).
    pub owner_collection: String,
    pub writable: bool,
}

/// A collection shared with a user, as that user sees it: the owner, and the widest access
/// any of the user's shares (direct or through a group) gives.
#[derive(Debug, Clone)]
pub struct SharedCollection {
    pub collection: Collection,
    pub owner_id: i64,
    pub owner_name: String,
    pub writable: bool,
    pub hidden: bool,
}

/// A card shared with a user, with the owner's bytes as they are now.
#[derive(Debug, Clone)]
pub struct SharedCard {
    pub object_id: i64,
    pub owner_name: String,
    pub book: String,
    pub name: String,
    pub etag: String,
    pub data: Vec<u8>,
}

/// One side of a delegation of all of an owner's calendars: the other user, and whether the
/// delegate may write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegation {
    pub user_id: i64,
    pub name: String,
    pub writable: bool,
}

/// A share from a row with `user_id`, `group_id`, `grantee_name` and `created_at`.
fn share_row(r: &sqlx::any::AnyRow, collection_id: i64, writable: bool) -> Share {
    let user: Option<i64> = r.get("user_id");
    let group: Option<i64> = r.get("group_id");
    Share {
        collection_id,
        grantee: match (user, group) {
            (Some(u), _) => Grantee::User(u),
            (None, g) => Grantee::Group(g.unwrap_or(0)),
        },
        grantee_name: r.get("grantee_name"),
        writable,
        created_at: r.get("created_at"),
    }
}

fn grantee_column(g: Grantee) -> (&'static str, i64) {
    match g {
        Grantee::User(id) => ("user_id", id),
        Grantee::Group(id) => ("group_id", id),
    }
}

#[async_trait]
pub trait Shares: Send + Sync {
    /// Shares `collection_id` with `grantee`, or changes the access of the share it has.
    async fn put_share(
        &self,
        collection_id: i64,
        grantee: Grantee,
        writable: bool,
    ) -> StoreResult<()>;
    /// Ends a share; false if there was none.
    async fn remove_share(&self, collection_id: i64, grantee: Grantee) -> StoreResult<bool>;
    /// A collection's shares, users first, then groups, by name.
    async fn shares_of(&self, collection_id: i64) -> StoreResult<Vec<Share>>;
    /// The collections of `kind` shared with `user_id`, directly or through a group, that
    /// are not in the trash; hidden ones included, marked.
    async fn shared_with(&self, user_id: i64, kind: Kind) -> StoreResult<Vec<SharedCollection>>;
    /// Shares the card `name` of `collection_id` alone; false if there is no such card.
    async fn put_card_share(
        &self,
        collection_id: i64,
        name: &str,
        grantee: Grantee,
    ) -> StoreResult<bool>;
    /// Ends a card's share; false if there was none.
    async fn remove_card_share(
        &self,
        collection_id: i64,
        name: &str,
        grantee: Grantee,
    ) -> StoreResult<bool>;
    /// The shares of single cards of `collection_id`: (card name, share), by card.
    async fn card_shares_of(&self, collection_id: i64) -> StoreResult<Vec<(String, Share)>>;
    /// The cards shared with `user_id` alone or through a group, once each, not their own.
    async fn cards_shared_with(&self, user_id: i64) -> StoreResult<Vec<SharedCard>>;
    /// A sharee's own properties of a shared collection: (namespace, name, element XML).
    async fn share_props(
        &self,
        user_id: i64,
        collection_id: i64,
    ) -> StoreResult<Vec<(String, String, String)>>;
    /// Sets (or with `None` removes) one of a sharee's own properties.
    async fn set_share_prop(
        &self,
        user_id: i64,
        collection_id: i64,
        ns: &str,
        name: &str,
        xml: Option<&str>,
    ) -> StoreResult<()>;
    /// Gives `delegate` access to all of `owner`'s calendars, or changes its access.
    async fn put_delegation(&self, owner: i64, delegate: i64, writable: bool) -> StoreResult<()>;
    /// Ends a delegation; false if there was none.
    async fn remove_delegation(&self, owner: i64, delegate: i64) -> StoreResult<bool>;
    /// Whom `owner` delegated their calendars to, by name.
    async fn delegates_of(&self, owner: i64) -> StoreResult<Vec<Delegation>>;
    /// Who delegated their calendars to `user`, by name.
    async fn delegators_of(&self, user: i64) -> StoreResult<Vec<Delegation>>;
    /// Hides (or shows again) a shared collection in one sharee's own home.
    async fn set_share_hidden(
        &self,
        user_id: i64,
        collection_id: i64,
        hidden: bool,
    ) -> StoreResult<()>;
}

/// The collection columns, qualified for the joins below.
const COLS: &str = "c.id, c.kind, c.name, c.displayname, c.description, c.seq, c.horizon, \
     c.modified_at, c.components, c.timezone, c.derived";

#[async_trait]
impl Shares for Db {
    async fn put_share(
        &self,
        collection_id: i64,
        grantee: Grantee,
        writable: bool,
    ) -> StoreResult<()> {
        let (column, id) = grantee_column(grantee);
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO shares (collection_id, {column}, writable, created_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (collection_id, {column}) DO UPDATE SET writable = excluded.writable"
        )))
        .bind(collection_id)
        .bind(id)
        .bind(i64::from(writable))
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn remove_share(&self, collection_id: i64, grantee: Grantee) -> StoreResult<bool> {
        let (column, id) = grantee_column(grantee);
        let done = sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM shares WHERE collection_id = $1 AND {column} = $2"
        )))
        .bind(collection_id)
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn shares_of(&self, collection_id: i64) -> StoreResult<Vec<Share>> {
        let rows = sqlx::query(
            "SELECT s.collection_id, s.user_id, s.group_id, s.writable, s.created_at, \
             COALESCE(u.name, g.name) AS grantee_name \
             FROM shares s LEFT JOIN users u ON u.id = s.user_id \
             LEFT JOIN groups g ON g.id = s.group_id \
             WHERE s.collection_id = $1 \
             ORDER BY s.group_id IS NOT NULL, grantee_name",
        )
        .bind(collection_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .iter()
            .map(|r| share_row(r, r.get("collection_id"), flag(r, "writable")))
            .collect())
    }

    async fn shared_with(&self, user_id: i64, kind: Kind) -> StoreResult<Vec<SharedCollection>> {
        // One row per collection: the widest grant among the user's own shares, their
        // groups', and a delegation of all the owner's calendars (derived ones excepted).
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLS}, c.owner_id, o.name AS owner_name, MAX(g.writable) AS writable, \
             MAX(CASE WHEN h.user_id IS NULL THEN 0 ELSE 1 END) AS hidden \
             FROM (SELECT s.collection_id AS cid, s.writable FROM shares s \
                   WHERE s.user_id = $1 OR s.group_id IN \
                   (SELECT group_id FROM group_members WHERE user_id = $1) \
                   UNION ALL \
                   SELECT dc.id AS cid, d.writable FROM delegations d \
                   JOIN collections dc ON dc.owner_id = d.owner_id \
                   WHERE d.delegate_id = $1 AND dc.kind = 'calendar' AND dc.derived IS NULL) g \
             JOIN collections c ON c.id = g.cid \
             JOIN users o ON o.id = c.owner_id \
             LEFT JOIN shares_hidden h ON h.user_id = $1 AND h.collection_id = c.id \
             WHERE c.kind = $2 AND c.deleted_at IS NULL AND c.owner_id <> $1 \
             GROUP BY {COLS}, c.owner_id, o.name ORDER BY o.name, c.name"
        )))
        .bind(user_id)
        .bind(kind.as_str())
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .iter()
            .map(|r| SharedCollection {
                collection: super::collections::collection_row(r),
                owner_id: r.get("owner_id"),
                owner_name: r.get("owner_name"),
                writable: flag(r, "writable"),
                hidden: flag(r, "hidden"),
            })
            .collect())
    }

    async fn put_delegation(&self, owner: i64, delegate: i64, writable: bool) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO delegations (owner_id, delegate_id, writable, created_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (owner_id, delegate_id) DO UPDATE SET writable = excluded.writable",
        )
        .bind(owner)
        .bind(delegate)
        .bind(i64::from(writable))
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn remove_delegation(&self, owner: i64, delegate: i64) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM delegations WHERE owner_id = $1 AND delegate_id = $2")
            .bind(owner)
            .bind(delegate)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delegates_of(&self, owner: i64) -> StoreResult<Vec<Delegation>> {
        delegation_rows(self, "d.owner_id = $1", "u.id = d.delegate_id", owner).await
    }

    async fn delegators_of(&self, user: i64) -> StoreResult<Vec<Delegation>> {
        delegation_rows(self, "d.delegate_id = $1", "u.id = d.owner_id", user).await
    }

    async fn put_card_share(
        &self,
        collection_id: i64,
        name: &str,
        grantee: Grantee,
    ) -> StoreResult<bool> {
        let (column, id) = grantee_column(grantee);
        let done = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO card_shares (object_id, {column}, created_at) \
             SELECT id, $1, $2 FROM objects WHERE collection_id = $3 AND name = $4 \
             ON CONFLICT (object_id, {column}) DO NOTHING"
        )))
        .bind(id)
        .bind(now_ms())
        .bind(collection_id)
        .bind(name)
        .execute(&self.writer)
        .await?;
        if done.rows_affected() > 0 {
            return Ok(true);
        }
        // Already shared, or no such card.
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT id FROM objects WHERE collection_id = $1 AND name = $2")
                .bind(collection_id)
                .bind(name)
                .fetch_optional(&self.reader)
                .await?;
        Ok(exists.is_some())
    }

    async fn remove_card_share(
        &self,
        collection_id: i64,
        name: &str,
        grantee: Grantee,
    ) -> StoreResult<bool> {
        let (column, id) = grantee_column(grantee);
        let done = sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM card_shares WHERE {column} = $1 AND object_id IN \
             (SELECT id FROM objects WHERE collection_id = $2 AND name = $3)"
        )))
        .bind(id)
        .bind(collection_id)
        .bind(name)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn card_shares_of(&self, collection_id: i64) -> StoreResult<Vec<(String, Share)>> {
        let rows = sqlx::query(
            "SELECT o.name AS card, s.user_id, s.group_id, s.created_at, \
             COALESCE(u.name, g.name) AS grantee_name \
             FROM card_shares s JOIN objects o ON o.id = s.object_id \
             LEFT JOIN users u ON u.id = s.user_id LEFT JOIN groups g ON g.id = s.group_id \
             WHERE o.collection_id = $1 ORDER BY o.name, s.group_id IS NOT NULL, grantee_name",
        )
        .bind(collection_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get("card"), share_row(r, collection_id, false)))
            .collect())
    }

    async fn cards_shared_with(&self, user_id: i64) -> StoreResult<Vec<SharedCard>> {
        let rows = sqlx::query(
            "SELECT DISTINCT o.id, own.name AS owner_name, c.name AS book, o.name, \
             o.etag, o.data FROM card_shares s JOIN objects o ON o.id = s.object_id \
             JOIN collections c ON c.id = o.collection_id JOIN users own ON own.id = c.owner_id \
             WHERE c.deleted_at IS NULL AND c.owner_id <> $1 \
             AND (s.user_id = $1 OR s.group_id IN \
                  (SELECT group_id FROM group_members WHERE user_id = $1)) \
             ORDER BY o.id",
        )
        .bind(user_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .iter()
            .map(|r| SharedCard {
                object_id: r.get("id"),
                owner_name: r.get("owner_name"),
                book: r.get("book"),
                name: r.get("name"),
                etag: r.get("etag"),
                data: r.get("data"),
            })
            .collect())
    }

    async fn share_props(
        &self,
        user_id: i64,
        collection_id: i64,
    ) -> StoreResult<Vec<(String, String, String)>> {
        let rows = sqlx::query(
            "SELECT ns, name, xml FROM share_props WHERE user_id = $1 AND collection_id = $2 \
             ORDER BY ns, name",
        )
        .bind(user_id)
        .bind(collection_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get("ns"), r.get("name"), r.get("xml")))
            .collect())
    }

    async fn set_share_prop(
        &self,
        user_id: i64,
        collection_id: i64,
        ns: &str,
        name: &str,
        xml: Option<&str>,
    ) -> StoreResult<()> {
        let q = match xml {
            Some(x) => sqlx::query(
                "INSERT INTO share_props (user_id, collection_id, ns, name, xml) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (user_id, collection_id, ns, name) DO UPDATE SET xml = excluded.xml",
            )
            .bind(user_id)
            .bind(collection_id)
            .bind(ns)
            .bind(name)
            .bind(x),
            None => sqlx::query(
                "DELETE FROM share_props WHERE user_id = $1 AND collection_id = $2 \
                 AND ns = $3 AND name = $4",
            )
            .bind(user_id)
            .bind(collection_id)
            .bind(ns)
            .bind(name),
        };
        q.execute(&self.writer).await?;
        Ok(())
    }

    async fn set_share_hidden(
        &self,
        user_id: i64,
        collection_id: i64,
        hidden: bool,
    ) -> StoreResult<()> {
        let sql = if hidden {
            "INSERT INTO shares_hidden (user_id, collection_id) VALUES ($1, $2) \
             ON CONFLICT (user_id, collection_id) DO NOTHING"
        } else {
            "DELETE FROM shares_hidden WHERE user_id = $1 AND collection_id = $2"
        };
        sqlx::query(sql)
            .bind(user_id)
            .bind(collection_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}

/// The delegations `side` selects, each with the other user (`join`), by name.
async fn delegation_rows(db: &Db, side: &str, join: &str, id: i64) -> StoreResult<Vec<Delegation>> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT u.id, u.name, d.writable FROM delegations d JOIN users u ON {join} \
         WHERE {side} ORDER BY u.name"
    )))
    .bind(id)
    .fetch_all(&db.reader)
    .await?;
    Ok(rows
        .iter()
        .map(|r| Delegation {
            user_id: r.get("id"),
            name: r.get("name"),
            writable: flag(r, "writable"),
        })
        .collect())
}
