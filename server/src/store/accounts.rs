//! Accounts: users, their passwords and admin flags, and app passwords.
use super::db::Db;
use super::{AppPassword, StoreError, StoreResult, User, now_ms};
use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};
use std::sync::atomic::{AtomicU64, Ordering};

/// Bumped after every write to an account or its app passwords made through this process, so
/// the sign-ins `core::auth` remembers are dropped at once.
static ACCOUNTS_CHANGED: AtomicU64 = AtomicU64::new(0);

/// The count of account writes so far (see [`ACCOUNTS_CHANGED`]); read it before a lookup
/// whose result is to be remembered.
pub fn accounts_generation() -> u64 {
    ACCOUNTS_CHANGED.load(Ordering::Acquire)
}

fn accounts_changed() {
    ACCOUNTS_CHANGED.fetch_add(1, Ordering::AcqRel);
}

pub(super) fn user_row(r: &AnyRow) -> User {
    User {
        id: r.get("id"),
        name: r.get("name"),
        password_hash: r.get("password_hash"),
        created_at: r.get("created_at"),
        is_admin: r.get::<i64, _>("is_admin") != 0,
        disabled_at: r.get("disabled_at"),
    }
}

/// The columns [`user_row`] reads.
pub(super) const USER_COLS: &str = "id, name, password_hash, created_at, is_admin, disabled_at";

#[async_trait]
pub trait Accounts: Send + Sync {
    async fn create_user(&self, name: &str, password_hash: &str) -> StoreResult<User>;
    async fn user_by_name(&self, name: &str) -> StoreResult<Option<User>>;
    /// The user named `name`, with the app password whose keyed hash is `app_hash` if the user
    /// has one: one query per authenticated request.
    async fn user_for_login(
        &self,
        name: &str,
        app_hash: &[u8],
    ) -> StoreResult<Option<(User, Option<AppPassword>)>>;
    async fn list_users(&self) -> StoreResult<Vec<User>>;
    async fn set_password(&self, user_id: i64, password_hash: &str) -> StoreResult<()>;
    async fn delete_user(&self, user_id: i64) -> StoreResult<()>;
    async fn add_app_password(&self, user_id: i64, label: &str, hash: &[u8]) -> StoreResult<()>;
    async fn app_passwords(&self, user_id: i64) -> StoreResult<Vec<AppPassword>>;
    async fn revoke_app_password(&self, user_id: i64, label: &str) -> StoreResult<bool>;
    async fn touch_app_password(&self, id: i64) -> StoreResult<()>;
    async fn set_user_admin(&self, user_id: i64, admin: bool) -> StoreResult<()>;
    /// Disables (or enables again) an account; disabling also ends its browser sessions.
    async fn set_user_disabled(&self, user_id: i64, disabled: bool) -> StoreResult<()>;
}

#[async_trait]
impl Accounts for Db {
    async fn create_user(&self, name: &str, password_hash: &str) -> StoreResult<User> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO users (name, password_hash, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING RETURNING {USER_COLS}"
        )))
        .bind(name)
        .bind(password_hash)
        .bind(now_ms())
        .fetch_optional(&self.writer)
        .await?;
        let user = row
            .map(|r| user_row(&r))
            .ok_or_else(|| StoreError::Exists(format!("user {name:?}")))?;
        sqlx::query(
            "INSERT INTO group_members (group_id, user_id, via) \
             SELECT id, $1, 'admin' FROM groups WHERE name = $2",
        )
        .bind(user.id)
        .bind(super::EVERYONE)
        .execute(&self.writer)
        .await?;
        Ok(user)
    }

    async fn user_by_name(&self, name: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLS} FROM users WHERE name = $1"
        )))
        .bind(name)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|r| user_row(&r)))
    }

    async fn user_for_login(
        &self,
        name: &str,
        app_hash: &[u8],
    ) -> StoreResult<Option<(User, Option<AppPassword>)>> {
        let row = sqlx::query(
            "SELECT u.id, u.name, u.password_hash, u.created_at, u.is_admin, u.disabled_at, a.id AS app_id, a.label, \
             a.created_at AS app_created, a.last_used_at FROM users u \
             LEFT JOIN app_passwords a ON a.user_id = u.id AND a.token_hash = $1 WHERE u.name = $2",
        )
        .bind(app_hash)
        .bind(name)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(|r| {
            let app = r.get::<Option<i64>, _>("app_id").map(|id| AppPassword {
                id,
                label: r.get("label"),
                created_at: r.get("app_created"),
                last_used_at: r.get("last_used_at"),
            });
            (user_row(&r), app)
        }))
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {USER_COLS} FROM users ORDER BY name"
        )))
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(user_row).collect())
    }

    async fn set_password(&self, user_id: i64, password_hash: &str) -> StoreResult<()> {
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(user_id)
            .execute(&self.writer)
            .await?;
        accounts_changed();
        Ok(())
    }

    async fn delete_user(&self, user_id: i64) -> StoreResult<()> {
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(user_id)
            .execute(&self.writer)
            .await?;
        accounts_changed();
        Ok(())
    }

    async fn add_app_password(&self, user_id: i64, label: &str, hash: &[u8]) -> StoreResult<()> {
        let done = sqlx::query(
            "INSERT INTO app_passwords (user_id, label, token_hash, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id, label) DO NOTHING",
        )
        .bind(user_id)
        .bind(label)
        .bind(hash)
        .bind(now_ms())
        .execute(&self.writer)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Exists(format!("app password {label:?}")));
        }
        Ok(())
    }

    async fn app_passwords(&self, user_id: i64) -> StoreResult<Vec<AppPassword>> {
        let rows = sqlx::query(
            "SELECT id, label, created_at, last_used_at FROM app_passwords \
             WHERE user_id = $1 ORDER BY label",
        )
        .bind(user_id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .iter()
            .map(|r| AppPassword {
                id: r.get("id"),
                label: r.get("label"),
                created_at: r.get("created_at"),
                last_used_at: r.get("last_used_at"),
            })
            .collect())
    }

    async fn revoke_app_password(&self, user_id: i64, label: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM app_passwords WHERE user_id = $1 AND label = $2")
            .bind(user_id)
            .bind(label)
            .execute(&self.writer)
            .await?;
        accounts_changed();
        Ok(done.rows_affected() > 0)
    }

    async fn touch_app_password(&self, id: i64) -> StoreResult<()> {
        sqlx::query("UPDATE app_passwords SET last_used_at = $1 WHERE id = $2")
            .bind(now_ms())
            .bind(id)
            .execute(&self.writer)
            .await?;
        accounts_changed();
        Ok(())
    }

    async fn set_user_admin(&self, user_id: i64, admin: bool) -> StoreResult<()> {
        sqlx::query("UPDATE users SET is_admin = $1 WHERE id = $2")
            .bind(i64::from(admin))
            .bind(user_id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn set_user_disabled(&self, user_id: i64, disabled: bool) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("UPDATE users SET disabled_at = $1 WHERE id = $2")
            .bind(disabled.then(now_ms))
            .bind(user_id)
            .execute(tx.c())
            .await?;
        if disabled {
            sqlx::query("DELETE FROM web_sessions WHERE user_id = $1")
                .bind(user_id)
                .execute(tx.c())
                .await?;
        }
        tx.commit().await?;
        accounts_changed();
        Ok(())
    }
}
