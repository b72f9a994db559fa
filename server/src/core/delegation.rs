//! Delegation (issue 20): an owner gives another user read or read-write access to all their
//! calendars, those made later included. The delegate sees them in their own home as shares
//! (`OWNER~NAME`, any client); Apple clients also see the owner as a calendar proxy and open
//! the owner's own calendar home, which this module lets a delegate reach and no one else.
//! Derived calendars (birthdays) are their owner's alone, as with shares.

use super::access::ShareError;
use crate::store::shares::{Delegation, SharedBy};
use crate::store::{Collection, Kind, Store, StoreError, User};

/// A delegate acting in an owner's calendar home: whose it is, and whether they may write.
#[derive(Debug, Clone)]
pub struct Delegated {
    pub owner_id: i64,
    pub owner_name: String,
    pub writable: bool,
}

/// Gives `to` access to all of `owner`'s calendars, or changes it.
pub async fn delegate(
    store: &dyn Store,
    owner: &User,
    to: &str,
    writable: bool,
) -> Result<(), ShareError> {
    let u = store
        .user_by_name(to)
        .await?
        .ok_or_else(|| ShareError::NoUser(to.to_string()))?;
    if u.id == owner.id {
        return Err(ShareError::SelfShare);
    }
    store.put_delegation(owner.id, u.id, writable).await?;
    Ok(())
}

/// Ends `owner`'s delegation to `to`; their next request no longer reaches the calendars.
pub async fn undelegate(store: &dyn Store, owner: &User, to: &str) -> Result<(), ShareError> {
    let u = store
        .user_by_name(to)
        .await?
        .ok_or_else(|| ShareError::NoUser(to.to_string()))?;
    if !store.remove_delegation(owner.id, u.id).await? {
        return Err(ShareError::NotShared(format!("user {to}")));
    }
    Ok(())
}

/// Makes the delegates of one access (`writable`) exactly `names`, as Apple Calendar sets a
/// proxy group's members; delegates of the other access are kept unless named here.
pub async fn set_proxies(
    store: &dyn Store,
    owner: &User,
    writable: bool,
    names: &[String],
) -> Result<(), ShareError> {
    for d in store.delegates_of(owner.id).await? {
        if d.writable == writable && !names.contains(&d.name) {
            store.remove_delegation(owner.id, d.user_id).await?;
        }
    }
    for n in names {
        delegate(store, owner, n, writable).await?;
    }
    Ok(())
}

/// Whether `user` may act in `owner_name`'s calendar home, and how.
pub async fn reach(
    store: &dyn Store,
    user: &User,
    owner_name: &str,
) -> Result<Option<Delegated>, StoreError> {
    Ok(store
        .delegators_of(user.id)
        .await?
        .into_iter()
        .find(|d| d.name == owner_name)
        .map(|d| Delegated {
            owner_id: d.user_id,
            owner_name: d.name,
            writable: d.writable,
        }))
}

/// One of the owner's calendars as the delegate sees it in the owner's home: its own name,
/// marked shared so that every write is checked against the delegation.
fn as_delegated(mut c: Collection, d: &Delegated) -> Collection {
    c.shared = Some(SharedBy {
        owner_id: d.owner_id,
        owner_name: d.owner_name.clone(),
        owner_collection: c.name.clone(),
        writable: d.writable,
    });
    c
}

/// The owner's calendar `name`, for a delegate.
pub async fn calendar(
    store: &dyn Store,
    d: &Delegated,
    name: &str,
) -> Result<Option<Collection>, StoreError> {
    Ok(store
        .collection(d.owner_id, Kind::Calendar, name)
        .await?
        .filter(|c| c.derived.is_none())
        .map(|c| as_delegated(c, d)))
}

/// The owner's calendars, for a delegate.
pub async fn calendars(store: &dyn Store, d: &Delegated) -> Result<Vec<Collection>, StoreError> {
    Ok(store
        .collections(d.owner_id, Kind::Calendar)
        .await?
        .into_iter()
        .filter(|c| c.derived.is_none())
        .map(|c| as_delegated(c, d))
        .collect())
}

/// Whom `owner` delegated to, and who delegated to them.
pub async fn both_ways(
    store: &dyn Store,
    user: &User,
) -> Result<(Vec<Delegation>, Vec<Delegation>), StoreError> {
    Ok((
        store.delegates_of(user.id).await?,
        store.delegators_of(user.id).await?,
    ))
}
