//! Groups of users: made by an admin, or named by a single sign-on claim.
use super::accounts::{USER_COLS, user_row};
use super::db::Db;
use super::{StoreError, StoreResult, User, now_ms};
use async_trait::async_trait;
use sqlx::{AssertSqlSafe, Row};

pub use super::EVERYONE;

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
}

/// Who made a membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// An admin: kept until an admin removes it.
    Admin,
    /// The single sign-on claim: replaced at each sign-in.
    Claim,
}

impl Via {
    fn as_str(self) -> &'static str {
        match self {
            Via::Admin => "admin",
            Via::Claim => "oidc",
        }
    }
}

fn group_row(r: &sqlx::any::AnyRow) -> Group {
    Group {
        id: r.get("id"),
        name: r.get("name"),
        created_at: r.get("created_at"),
    }
}

#[async_trait]
pub trait Groups: Send + Sync {
    async fn create_group(&self, name: &str) -> StoreResult<Group>;
    async fn groups(&self) -> StoreResult<Vec<Group>>;
    async fn group_by_name(&self, name: &str) -> StoreResult<Option<Group>>;
    /// Deletes the group and its memberships; the users stay.
    async fn delete_group(&self, id: i64) -> StoreResult<()>;
    /// Adds a member (an existing membership keeps who made it).
    async fn add_member(&self, group: i64, user: i64, via: Via) -> StoreResult<()>;
    async fn remove_member(&self, group: i64, user: i64) -> StoreResult<bool>;
    async fn members(&self, group: i64) -> StoreResult<Vec<User>>;
    /// The groups `user` is in, by name.
    async fn groups_of(&self, user: i64) -> StoreResult<Vec<Group>>;
    /// Makes `user`'s claimed memberships exactly `names` (groups made as needed); what an
    /// admin added stays.
    async fn set_claimed_groups(&self, user: i64, names: &[String]) -> StoreResult<()>;
}

#[async_trait]
impl Groups for Db {
    async fn create_group(&self, name: &str) -> StoreResult<Group> {
        let row = sqlx::query(
            "INSERT INTO groups (name, created_at) VALUES ($1, $2) \
             ON CONFLICT (name) DO NOTHING RETURNING id, name, created_at",
        )
        .bind(name)
        .bind(now_ms())
        .fetch_optional(&self.writer)
        .await?;
        let g = row
            .map(|r| group_row(&r))
            .ok_or_else(|| StoreError::Exists(format!("group {name:?}")))?;
        if name == EVERYONE {
            sqlx::query(
                "INSERT INTO group_members (group_id, user_id, via) \
                 SELECT $1, id, 'admin' FROM users WHERE true \
                 ON CONFLICT (group_id, user_id) DO NOTHING",
            )
            .bind(g.id)
            .execute(&self.writer)
            .await?;
        }
        Ok(g)
    }

    async fn groups(&self) -> StoreResult<Vec<Group>> {
        let rows = sqlx::query("SELECT id, name, created_at FROM groups ORDER BY name")
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(group_row).collect())
    }

    async fn group_by_name(&self, name: &str) -> StoreResult<Option<Group>> {
        let row = sqlx::query("SELECT id, name, created_at FROM groups WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(|r| group_row(&r)))
    }

    async fn delete_group(&self, id: i64) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM group_members WHERE group_id = $1")
            .bind(id)
            .execute(tx.c())
            .await?;
        sqlx::query("DELETE FROM groups WHERE id = $1")
            .bind(id)
            .execute(tx.c())
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn add_member(&self, group: i64, user: i64, via: Via) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO group_members (group_id, user_id, via) VALUES ($1, $2, $3) \
             ON CONFLICT (group_id, user_id) DO NOTHING",
        )
        .bind(group)
        .bind(user)
        .bind(via.as_str())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn remove_member(&self, group: i64, user: i64) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM group_members WHERE group_id = $1 AND user_id = $2")
            .bind(group)
            .bind(user)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn members(&self, group: i64) -> StoreResult<Vec<User>> {
        let cols: Vec<String> = USER_COLS.split(", ").map(|c| format!("u.{c}")).collect();
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {} FROM users u JOIN group_members m ON m.user_id = u.id \
             WHERE m.group_id = $1 ORDER BY u.name",
            cols.join(", ")
        )))
        .bind(group)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(user_row).collect())
    }

    async fn groups_of(&self, user: i64) -> StoreResult<Vec<Group>> {
        let rows = sqlx::query(
            "SELECT g.id, g.name, g.created_at FROM groups g \
             JOIN group_members m ON m.group_id = g.id WHERE m.user_id = $1 ORDER BY g.name",
        )
        .bind(user)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(group_row).collect())
    }

    async fn set_claimed_groups(&self, user: i64, names: &[String]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM group_members WHERE user_id = $1 AND via = $2")
            .bind(user)
            .bind(Via::Claim.as_str())
            .execute(tx.c())
            .await?;
        for name in names {
            sqlx::query(
                "INSERT INTO groups (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(now_ms())
            .execute(tx.c())
            .await?;
            sqlx::query(
                "INSERT INTO group_members (group_id, user_id, via) \
                 SELECT id, $1, $2 FROM groups WHERE name = $3 \
                 ON CONFLICT (group_id, user_id) DO NOTHING",
            )
            .bind(user)
            .bind(Via::Claim.as_str())
            .bind(name)
            .execute(tx.c())
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}
