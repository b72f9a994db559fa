//! Browser sessions of the web UI, keyed by a hash of their token.
use super::accounts::user_row;
use super::db::Db;
use super::{StoreResult, WebSession, now_ms};
use async_trait::async_trait;
use sqlx::Row;

#[async_trait]
pub trait Sessions: Send + Sync {
    async fn create_web_session(
        &self,
        token_hash: &[u8],
        user_id: i64,
        csrf: &str,
        expires_at: i64,
    ) -> StoreResult<()>;
    /// The live session with this token hash: `None` once it expired or its user was disabled.
    async fn web_session(&self, token_hash: &[u8]) -> StoreResult<Option<WebSession>>;
    async fn delete_web_session(&self, token_hash: &[u8]) -> StoreResult<()>;
    /// Ends every browser session of a user (a password reset signs everyone out).
    async fn delete_web_sessions(&self, user_id: i64) -> StoreResult<()>;
    async fn purge_expired_web_sessions(&self) -> StoreResult<u64>;
}

#[async_trait]
impl Sessions for Db {
    async fn create_web_session(
        &self,
        token_hash: &[u8],
        user_id: i64,
        csrf: &str,
        expires_at: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO web_sessions (token_hash, user_id, csrf, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(user_id)
        .bind(csrf)
        .bind(now_ms())
        .bind(expires_at)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn web_session(&self, token_hash: &[u8]) -> StoreResult<Option<WebSession>> {
        let row = sqlx::query(
            "SELECT u.id, u.name, u.password_hash, u.created_at, u.is_admin, u.disabled_at, \
             s.csrf FROM web_sessions s \
             JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL",
        )
        .bind(token_hash)
        .bind(now_ms())
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|r| WebSession {
            user: user_row(&r),
            csrf: r.get("csrf"),
        }))
    }

    async fn delete_web_session(&self, token_hash: &[u8]) -> StoreResult<()> {
        sqlx::query("DELETE FROM web_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn delete_web_sessions(&self, user_id: i64) -> StoreResult<()> {
        sqlx::query("DELETE FROM web_sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn purge_expired_web_sessions(&self) -> StoreResult<u64> {
        let r = sqlx::query("DELETE FROM web_sessions WHERE expires_at < $1")
            .bind(now_ms())
            .execute(&self.writer)
            .await?;
        Ok(r.rows_affected())
    }
}
