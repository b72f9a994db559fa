//! Leases: which instance runs a job (a source's run, a backup) right now.
use super::db::Db;
use super::{StoreResult, now_ms};
use async_trait::async_trait;

#[async_trait]
pub trait Leases: Send + Sync {
    /// Claims (or renews) lease `name` for `holder` for `ttl_ms`: true when `holder` now holds
    /// it, false while another instance's lease is unexpired.
    async fn try_lease(&self, name: &str, holder: &str, ttl_ms: i64) -> StoreResult<bool>;
    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()>;
    /// Who holds lease `name`, expired or not.
    async fn lease_holder(&self, name: &str) -> StoreResult<Option<String>>;
    /// Takes lease `name` over from `from` (only if `from` still holds it).
    async fn take_lease(
        &self,
        name: &str,
        from: &str,
        holder: &str,
        ttl_ms: i64,
    ) -> StoreResult<bool>;
    /// The unexpired leases whose names start with `prefix` (what is running now).
    async fn live_leases(&self, prefix: &str) -> StoreResult<Vec<String>>;
}

#[async_trait]
impl Leases for Db {
    async fn try_lease(&self, name: &str, holder: &str, ttl_ms: i64) -> StoreResult<bool> {
        let now = now_ms();
        let row: Option<String> = sqlx::query_scalar(
            "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE leases.holder = excluded.holder OR leases.expires_at < $4 RETURNING holder",
        )
        .bind(name)
        .bind(holder)
        .bind(now + ttl_ms)
        .bind(now)
        .fetch_optional(&self.writer)
        .await?;
        Ok(row.is_some())
    }

    async fn lease_holder(&self, name: &str) -> StoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT holder FROM leases WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.reader)
                .await?,
        )
    }

    async fn take_lease(
        &self,
        name: &str,
        from: &str,
        holder: &str,
        ttl_ms: i64,
    ) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE leases SET holder = $1, expires_at = $2 WHERE name = $3 AND holder = $4",
        )
        .bind(holder)
        .bind(now_ms() + ttl_ms)
        .bind(name)
        .bind(from)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn release_lease(&self, name: &str, holder: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn live_leases(&self, prefix: &str) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT name FROM leases WHERE expires_at > $1 AND substr(name, 1, length($2)) = $2",
        )
        .bind(now_ms())
        .bind(prefix)
        .fetch_all(&self.reader)
        .await?)
    }
}
