//! Groups of users, as admins manage them from the CLI and the admin page. Group names follow
//! the user-name rules; a claim from single sign-on may also name groups (see
//! [`crate::store::Groups::set_claimed_groups`]).

use super::accounts::valid_user_name;
use crate::store::groups::{Group, Via};
use crate::store::{Store, StoreError, User};

#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "invalid group name {0:?}: use 1-64 letters, digits, '.', '_', '-' or '@', starting with a letter or digit"
    )]
    BadName(String),
    #[error("no group named {0:?}")]
    NoSuchGroup(String),
    #[error("no user named {0:?}")]
    NoSuchUser(String),
    #[error("group \"everyone\" holds every user; share with another group to leave someone out")]
    Everyone,
}

pub async fn create(store: &dyn Store, name: &str) -> Result<Group, GroupError> {
    let name = name.trim();
    if !valid_user_name(name) {
        return Err(GroupError::BadName(name.to_string()));
    }
    Ok(store.create_group(name).await?)
}

pub async fn find(store: &dyn Store, name: &str) -> Result<Group, GroupError> {
    store
        .group_by_name(name.trim())
        .await?
        .ok_or_else(|| GroupError::NoSuchGroup(name.trim().to_string()))
}

async fn user(store: &dyn Store, name: &str) -> Result<User, GroupError> {
    store
        .user_by_name(name.trim())
        .await?
        .ok_or_else(|| GroupError::NoSuchUser(name.trim().to_string()))
}

/// Adds and removes members by name; the group's members after.
pub async fn change_members(
    store: &dyn Store,
    group: &str,
    add: &[String],
    remove: &[String],
) -> Result<Vec<User>, GroupError> {
    let g = find(store, group).await?;
    for name in add {
        let u = user(store, name).await?;
        store.add_member(g.id, u.id, Via::Admin).await?;
    }
    if g.name == crate::store::groups::EVERYONE && !remove.is_empty() {
        return Err(GroupError::Everyone);
    }
    for name in remove {
        let u = user(store, name).await?;
        store.remove_member(g.id, u.id).await?;
    }
    Ok(store.members(g.id).await?)
}

/// The ids of the groups `user` is in.
pub async fn ids_of(store: &dyn Store, user: i64) -> Result<Vec<i64>, StoreError> {
    Ok(store
        .groups_of(user)
        .await?
        .into_iter()
        .map(|g| g.id)
        .collect())
}
