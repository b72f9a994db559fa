//! Settings shared by every instance, and sealed values (tokens and OAuth state, encrypted
//! by the caller before they get here).
use super::db::Db;
use super::{StoreResult, now_ms};
use async_trait::async_trait;

#[async_trait]
pub trait Settings: Send + Sync {
    /// The shared setting `name`, set to `initial` if it has no value yet: every instance gets
    /// the value of whichever wrote first.
    async fn shared_setting(&self, name: &str, initial: &[u8]) -> StoreResult<Vec<u8>>;
    /// A setting an admin changes (e.g. `provider:google` → `enabled`); `None` removes it.
    async fn set_setting(&self, name: &str, value: Option<&[u8]>) -> StoreResult<()>;
    async fn setting(&self, name: &str) -> StoreResult<Option<Vec<u8>>>;
    /// The names of the settings that start with `prefix`, without it.
    async fn settings_with_prefix(&self, prefix: &str) -> StoreResult<Vec<String>>;
    /// Stores a sealed value (see migrations 0006): already encrypted by the caller.
    async fn put_sealed(
        &self,
        name: &str,
        owner_id: Option<i64>,
        value: &[u8],
        expires_at: Option<i64>,
    ) -> StoreResult<()>;
    /// The sealed value `name`, unless it expired.
    async fn sealed(&self, name: &str) -> StoreResult<Option<Vec<u8>>>;
    /// Removes and returns `name` in one step, so a value (an OAuth state) is used once.
    async fn take_sealed(&self, name: &str) -> StoreResult<Option<Vec<u8>>>;
    async fn delete_sealed(&self, name: &str) -> StoreResult<()>;
    /// Forgets expired values (authorizations never finished); returns how many.
    async fn purge_expired_sealed(&self) -> StoreResult<u64>;
}

#[async_trait]
impl Settings for Db {
    async fn shared_setting(&self, name: &str, initial: &[u8]) -> StoreResult<Vec<u8>> {
        sqlx::query("INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(name)
            .bind(initial)
            .execute(&self.writer)
            .await?;
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
                .bind(name)
                .fetch_one(&self.reader)
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
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn setting(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.reader)
                .await?,
        )
    }

    async fn settings_with_prefix(&self, prefix: &str) -> StoreResult<Vec<String>> {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM settings WHERE substr(name, 1, length($1)) = $1 ORDER BY name",
        )
        .bind(prefix)
        .fetch_all(&self.reader)
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
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn sealed(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(sqlx::query_scalar(
            "SELECT value FROM sealed WHERE name = $1 AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind(name)
        .bind(now_ms())
        .fetch_optional(&self.reader)
        .await?)
    }

    async fn take_sealed(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        let row: Option<(Vec<u8>, Option<i64>)> =
            sqlx::query_as("DELETE FROM sealed WHERE name = $1 RETURNING value, expires_at")
                .bind(name)
                .fetch_optional(&self.writer)
                .await?;
        let now = now_ms();
        Ok(row.and_then(|(v, exp)| (exp.is_none_or(|e| e > now)).then_some(v)))
    }

    async fn delete_sealed(&self, name: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM sealed WHERE name = $1")
            .bind(name)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn purge_expired_sealed(&self) -> StoreResult<u64> {
        let r = sqlx::query("DELETE FROM sealed WHERE expires_at IS NOT NULL AND expires_at < $1")
            .bind(now_ms())
            .execute(&self.writer)
            .await?;
        Ok(r.rows_affected())
    }
}
