//! WebDAV-Push registrations: which devices hear of changes to which collection, and how far
//! each has been told. Sending claims a registration's new change stamp with one conditional
//! UPDATE, so with several instances on one database each push goes out once.
use super::db::Db;
use super::{Kind, StoreResult, now_ms};
use async_trait::async_trait;
use sqlx::Row;

/// A device's registration, as stored.
#[derive(Debug, Clone)]
pub struct PushRegistration {
    pub id: i64,
    /// The last segment of the registration URL.
    pub token: String,
    pub user_id: i64,
    pub collection_id: i64,
    pub push_resource: String,
    pub public_key: String,
    pub auth_secret: String,
    pub expires_at: i64,
    pub failures: i64,
}

/// A registration whose collection changed since its device was last told.
#[derive(Debug, Clone)]
pub struct PendingPush {
    pub registration: PushRegistration,
    /// The collection's change stamp now.
    pub seq: i64,
    pub owner_id: i64,
    pub kind: Kind,
}

/// What a device asked for, to store.
pub struct NewRegistration<'a> {
    pub user_id: i64,
    pub collection_id: i64,
    pub push_resource: &'a str,
    pub public_key: &'a str,
    pub auth_secret: &'a str,
    pub expires_at: i64,
    /// The token a new registration gets; one that exists keeps its own.
    pub token: &'a str,
}

#[async_trait]
pub trait Push: Send + Sync {
    /// Stores a registration, or updates the user's own one for the same collection and push
    /// resource (the draft: registering again must not make a second). Returns its token;
    /// `None` when another user holds that push resource on the collection.
    async fn put_push_registration(&self, r: &NewRegistration<'_>) -> StoreResult<Option<String>>;
    /// Removes the user's registration with this token; false if there is none.
    async fn delete_push_registration(&self, user_id: i64, token: &str) -> StoreResult<bool>;
    /// The user's registrations, for the devices page.
    async fn push_registrations_of(&self, user_id: i64) -> StoreResult<Vec<PushRegistration>>;
    /// Unexpired registrations whose collection changed since they were last told.
    async fn pending_pushes(&self) -> StoreResult<Vec<PendingPush>>;
    /// Claims stamp `seq` of registration `id` for sending: true for the one caller that
    /// moves it forward.
    async fn claim_push(&self, id: i64, seq: i64) -> StoreResult<bool>;
    /// Counts a failed delivery; returns the failures in a row.
    async fn push_failed(&self, id: i64) -> StoreResult<i64>;
    async fn push_delivered(&self, id: i64) -> StoreResult<()>;
    async fn delete_push(&self, id: i64) -> StoreResult<()>;
    /// `Push-Dont-Notify`: the user's registrations on the collection (those with these tokens,
    /// or all) are marked as told of the one change the writer made on top of stamp `before`,
    /// if that change is the only one since: a change by anyone else is still pushed.
    async fn skip_push(
        &self,
        user_id: i64,
        collection_id: i64,
        tokens: Option<&[String]>,
        before: i64,
    ) -> StoreResult<()>;
    /// Forgets expired registrations.
    async fn purge_expired_pushes(&self) -> StoreResult<u64>;
}

const COLUMNS: &str = "r.id, r.token, r.user_id, r.collection_id, r.push_resource, r.public_key, \
                       r.auth_secret, r.expires_at, r.failures";

fn registration(r: &sqlx::any::AnyRow) -> PushRegistration {
    PushRegistration {
        id: r.get("id"),
        token: r.get("token"),
        user_id: r.get("user_id"),
        collection_id: r.get("collection_id"),
        push_resource: r.get("push_resource"),
        public_key: r.get("public_key"),
        auth_secret: r.get("auth_secret"),
        expires_at: r.get("expires_at"),
        failures: r.get("failures"),
    }
}

#[async_trait]
impl Push for Db {
    async fn put_push_registration(&self, r: &NewRegistration<'_>) -> StoreResult<Option<String>> {
        // A new registration starts at the collection's current stamp: it hears of changes
        // made after it.
        Ok(sqlx::query_scalar(
            "INSERT INTO push_registrations (token, user_id, collection_id, push_resource, \
             public_key, auth_secret, expires_at, sent_seq, failures, created_at) \
             SELECT $1, $2, $3, $4, $5, $6, $7, seq, 0, $8 FROM collections WHERE id = $3 \
             ON CONFLICT (collection_id, push_resource) DO UPDATE SET \
             public_key = excluded.public_key, auth_secret = excluded.auth_secret, \
             expires_at = excluded.expires_at, failures = 0 \
             WHERE push_registrations.user_id = excluded.user_id RETURNING token",
        )
        .bind(r.token)
        .bind(r.user_id)
        .bind(r.collection_id)
        .bind(r.push_resource)
        .bind(r.public_key)
        .bind(r.auth_secret)
        .bind(r.expires_at)
        .bind(now_ms())
        .fetch_optional(&self.writer)
        .await?)
    }

    async fn delete_push_registration(&self, user_id: i64, token: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM push_registrations WHERE user_id = $1 AND token = $2")
            .bind(user_id)
            .bind(token)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn push_registrations_of(&self, user_id: i64) -> StoreResult<Vec<PushRegistration>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM push_registrations r WHERE r.user_id = $1 AND r.expires_at > $2 \
             ORDER BY r.id"
        )))
        .bind(user_id)
        .bind(now_ms())
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(registration).collect())
    }

    async fn pending_pushes(&self) -> StoreResult<Vec<PendingPush>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS}, c.seq AS seq, c.owner_id AS owner_id, c.kind AS kind \
             FROM push_registrations r JOIN collections c ON c.id = r.collection_id \
             WHERE c.seq > r.sent_seq AND r.expires_at > $1"
        )))
        .bind(now_ms())
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .iter()
            .map(|r| PendingPush {
                registration: registration(r),
                seq: r.get("seq"),
                owner_id: r.get("owner_id"),
                kind: if r.get::<&str, _>("kind") == "calendar" {
                    Kind::Calendar
                } else {
                    Kind::Addressbook
                },
            })
            .collect())
    }

    async fn claim_push(&self, id: i64, seq: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE push_registrations SET sent_seq = $1 WHERE id = $2 AND sent_seq < $1",
        )
        .bind(seq)
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn push_failed(&self, id: i64) -> StoreResult<i64> {
        let n: Option<i64> = sqlx::query_scalar(
            "UPDATE push_registrations SET failures = failures + 1 WHERE id = $1 RETURNING failures",
        )
        .bind(id)
        .fetch_optional(&self.writer)
        .await?;
        Ok(n.unwrap_or(0))
    }

    async fn push_delivered(&self, id: i64) -> StoreResult<()> {
        sqlx::query("UPDATE push_registrations SET failures = 0 WHERE id = $1 AND failures > 0")
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn delete_push(&self, id: i64) -> StoreResult<()> {
        sqlx::query("DELETE FROM push_registrations WHERE id = $1")
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn skip_push(
        &self,
        user_id: i64,
        collection_id: i64,
        tokens: Option<&[String]>,
        before: i64,
    ) -> StoreResult<()> {
        let q = "UPDATE push_registrations SET sent_seq = $1 \
                 WHERE user_id = $2 AND collection_id = $3 AND sent_seq = $4 \
                 AND (SELECT seq FROM collections WHERE id = $3) = $1";
        let run = |q: String, token: Option<String>| async move {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(q))
                .bind(before + 1)
                .bind(user_id)
                .bind(collection_id)
                .bind(before);
            if let Some(t) = token {
                query = query.bind(t);
            }
            query.execute(&self.writer).await
        };
        match tokens {
            None => {
                run(q.to_string(), None).await?;
            }
            Some(tokens) => {
                for t in tokens {
                    run(format!("{q} AND token = $5"), Some(t.clone())).await?;
                }
            }
        }
        Ok(())
    }

    async fn purge_expired_pushes(&self) -> StoreResult<u64> {
        let done = sqlx::query("DELETE FROM push_registrations WHERE expires_at <= $1")
            .bind(now_ms())
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }
}
