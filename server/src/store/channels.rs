//! Upstream change notifications: the Graph subscriptions and Google channels each source
//! has, and when a source was last notified.
use super::db::Db;
use super::{StoreResult, now_ms};
use async_trait::async_trait;
use sqlx::Row;

/// A provider's watch on a source, as stored.
#[derive(Debug, Clone)]
pub struct Channel {
    pub id: i64,
    pub source_id: i64,
    pub remote_id: String,
    pub resource_id: Option<String>,
    pub expires_at: i64,
    pub created_at: i64,
    /// Whether the provider has shown it can reach Kith: Graph by its validation handshake
    /// before the create answered, Google by the channel's first (`sync`) message.
    pub confirmed: bool,
}

/// What a notification was, once checked against the stored channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// A channel of the source, with a new message.
    Fresh,
    /// A message number already seen: a replay, or a duplicate delivery.
    Replayed,
    /// No such channel on this source.
    Unknown,
}

#[async_trait]
pub trait Channels: Send + Sync {
    async fn channels_of(&self, source_id: i64) -> StoreResult<Vec<Channel>>;
    /// Every channel, for renewals and clean-up.
    async fn all_channels(&self) -> StoreResult<Vec<Channel>>;
    /// A new watch; `confirmed` when the provider already proved it reaches Kith.
    async fn put_channel(
        &self,
        source_id: i64,
        remote_id: &str,
        resource_id: Option<&str>,
        expires_at: i64,
        confirmed: bool,
    ) -> StoreResult<()>;
    /// Replaces channel `id` by a renewed one (Google's renewal is a new channel, which must
    /// confirm itself again; a Graph subscription renewed in place stays confirmed).
    async fn replace_channel(
        &self,
        id: i64,
        remote_id: &str,
        resource_id: Option<&str>,
        expires_at: i64,
        confirmed: bool,
    ) -> StoreResult<()>;
    async fn delete_channel(&self, id: i64) -> StoreResult<()>;
    /// Marks a channel due for renewal now (Graph's `reauthorizationRequired`).
    async fn expire_channel(&self, source_id: i64, remote_id: &str) -> StoreResult<bool>;
    /// Checks a notification for channel `remote_id` of the source; `number` is Google's
    /// message number, which must grow.
    async fn channel_message(
        &self,
        source_id: i64,
        remote_id: &str,
        number: Option<i64>,
    ) -> StoreResult<Delivery>;
    /// Records that the provider said the source changed, now.
    async fn note_notified(&self, source_id: i64) -> StoreResult<()>;
}

const COLS: &str = "id, source_id, remote_id, resource_id, expires_at, created_at, last_message_no";

fn channel(r: &sqlx::any::AnyRow) -> Channel {
    Channel {
        id: r.get("id"),
        source_id: r.get("source_id"),
        remote_id: r.get("remote_id"),
        resource_id: r.get("resource_id"),
        expires_at: r.get("expires_at"),
        created_at: r.get("created_at"),
        confirmed: r.get::<Option<i64>, _>("last_message_no").is_some(),
    }
}

impl Db {
    async fn has_channel(&self, source_id: i64, remote_id: &str) -> StoreResult<bool> {
        let id: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM source_channels WHERE source_id = $1 AND remote_id = $2",
        )
        .bind(source_id)
        .bind(remote_id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(id.is_some())
    }
}

#[async_trait]
impl Channels for Db {
    async fn channels_of(&self, source_id: i64) -> StoreResult<Vec<Channel>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM source_channels WHERE source_id = $1 ORDER BY id"
        )))
        .bind(source_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(channel).collect())
    }

    async fn all_channels(&self) -> StoreResult<Vec<Channel>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLS} FROM source_channels ORDER BY id"
        )))
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(channel).collect())
    }

    async fn put_channel(
        &self,
        source_id: i64,
        remote_id: &str,
        resource_id: Option<&str>,
        expires_at: i64,
        confirmed: bool,
    ) -> StoreResult<()> {
        // Message number 0: confirmed, and any numbered message after it is fresh.
        sqlx::query(
            "INSERT INTO source_channels (source_id, remote_id, resource_id, expires_at, created_at, \
             last_message_no) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (source_id, remote_id) \
             DO UPDATE SET resource_id = excluded.resource_id, expires_at = excluded.expires_at",
        )
        .bind(source_id)
        .bind(remote_id)
        .bind(resource_id)
        .bind(expires_at)
        .bind(now_ms())
        .bind(confirmed.then_some(0i64))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn replace_channel(
        &self,
        id: i64,
        remote_id: &str,
        resource_id: Option<&str>,
        expires_at: i64,
        confirmed: bool,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE source_channels SET remote_id = $1, resource_id = $2, expires_at = $3, \
             created_at = $4, last_message_no = $5 WHERE id = $6",
        )
        .bind(remote_id)
        .bind(resource_id)
        .bind(expires_at)
        .bind(now_ms())
        .bind(confirmed.then_some(0i64))
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn delete_channel(&self, id: i64) -> StoreResult<()> {
        sqlx::query("DELETE FROM source_channels WHERE id = $1")
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn expire_channel(&self, source_id: i64, remote_id: &str) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE source_channels SET expires_at = $1 WHERE source_id = $2 AND remote_id = $3",
        )
        .bind(now_ms())
        .bind(source_id)
        .bind(remote_id)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn channel_message(
        &self,
        source_id: i64,
        remote_id: &str,
        number: Option<i64>,
    ) -> StoreResult<Delivery> {
        let Some(n) = number else {
            return Ok(if self.has_channel(source_id, remote_id).await? {
                Delivery::Fresh
            } else {
                Delivery::Unknown
            });
        };
        // One conditional UPDATE: of two deliveries of the same message, one is fresh.
        let done = sqlx::query(
            "UPDATE source_channels SET last_message_no = $1 WHERE source_id = $2 \
             AND remote_id = $3 AND (last_message_no IS NULL OR last_message_no < $1)",
        )
        .bind(n)
        .bind(source_id)
        .bind(remote_id)
        .execute(&self.writer)
        .await?;
        if done.rows_affected() == 1 {
            return Ok(Delivery::Fresh);
        }
        Ok(if self.has_channel(source_id, remote_id).await? {
            Delivery::Replayed
        } else {
            Delivery::Unknown
        })
    }

    async fn note_notified(&self, source_id: i64) -> StoreResult<()> {
        sqlx::query("UPDATE sources SET notified_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(source_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }
}
