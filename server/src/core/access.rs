//! Who reaches which address book or calendar, and what they may do there: the one access
//! check the DAV and web fronts use (issue 20). An owner reaches their own collections by
//! name. A sharee reaches another user's through a share, under the alias `OWNER~NAME` in
//! their own home, read-only or read-write. The check reads the shares on every request, so a
//! revoked share, or leaving a group, ends access at once; an owner's own requests never read
//! the shares.

use crate::store::shares::{Grantee, Share, SharedBy, SharedCollection};
use crate::store::{Collection, Kind, Store, StoreError, User};
use kith_dav::names::{APPLE_ICAL, CALDAV, CARDDAV, DAV};

/// Separates the owner from the collection name in an alias. `~` is unreserved in URLs, so
/// clients send it as it is.
const SEP: char = '~';

/// The URL segment under which a sharee sees `owner`'s collection `name`.
pub fn alias(owner: &str, name: &str) -> String {
    format!("{owner}{SEP}{name}")
}

/// What a user may do with a collection they reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Owner,
    Write,
    Read,
}

impl Access {
    pub fn of(c: &Collection) -> Access {
        match &c.shared {
            None => Access::Owner,
            Some(s) if s.writable => Access::Write,
            Some(_) => Access::Read,
        }
    }
}

/// A shared collection as its sharee sees it: named by its alias, its display name saying
/// whose it is.
fn aliased(s: SharedCollection) -> Collection {
    let mut c = s.collection;
    let shown = c.displayname.clone().unwrap_or_else(|| c.name.clone());
    c.displayname = Some(format!("{shown} ({})", s.owner_name));
    c.shared = Some(SharedBy {
        owner_id: s.owner_id,
        owner_name: s.owner_name.clone(),
        owner_collection: std::mem::take(&mut c.name),
        writable: s.writable,
    });
    c.name = alias(
        &s.owner_name,
        c.shared.as_ref().map_or("", |b| &b.owner_collection),
    );
    c
}

/// Another user's collection `name` (an alias) of `kind` that is shared with `user`, hidden or
/// not: hiding only takes it out of the home's listing.
pub async fn shared(
    store: &dyn Store,
    user: &User,
    kind: Kind,
    name: &str,
) -> Result<Option<Collection>, StoreError> {
    if !name.contains(SEP) {
        return Ok(None);
    }
    Ok(store
        .shared_with(user.id, kind)
        .await?
        .into_iter()
        .map(aliased)
        .find(|c| c.name == name))
}

/// The collections of `kind` shared with `user` that their home lists (not hidden).
pub async fn listed(
    store: &dyn Store,
    user: &User,
    kind: Kind,
) -> Result<Vec<Collection>, StoreError> {
    Ok(store
        .shared_with(user.id, kind)
        .await?
        .into_iter()
        .filter(|s| !s.hidden)
        .map(aliased)
        .collect())
}

/// Why a share could not be made or ended.
#[derive(Debug, thiserror::Error)]
pub enum ShareError {
    #[error("{owner} has no {what} named {name:?}")]
    NoCollection {
        owner: String,
        what: &'static str,
        name: String,
    },
    #[error("there is no user named {0:?}")]
    NoUser(String),
    #[error("there is no group named {0:?}")]
    NoGroup(String),
    #[error("a collection is always its owner's; share it with someone else")]
    SelfShare,
    #[error("the birthday calendar is made from its owner's cards and cannot be shared")]
    Derived,
    #[error("{0} has no share of this collection")]
    NotShared(String),
    #[error("{book} has no card named {card:?}")]
    NoCard { book: String, card: String },
    #[error("{0} has no share of this card")]
    CardNotShared(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whom a share names: a user or a group, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum With {
    User(String),
    Group(String),
}

impl std::fmt::Display for With {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            With::User(n) => write!(f, "user {n}"),
            With::Group(n) => write!(f, "group {n}"),
        }
    }
}

/// How a collection of `kind` is named to people.
pub fn what(kind: Kind) -> &'static str {
    match kind {
        Kind::Addressbook => "address book",
        Kind::Calendar => "calendar",
    }
}

/// `owner`'s own collection to share.
async fn owned(
    store: &dyn Store,
    owner: &User,
    kind: Kind,
    name: &str,
) -> Result<Collection, ShareError> {
    let c = store
        .collection(owner.id, kind, name)
        .await?
        .ok_or_else(|| ShareError::NoCollection {
            owner: owner.name.clone(),
            what: what(kind),
            name: name.to_string(),
        })?;
    if c.derived.is_some() {
        return Err(ShareError::Derived);
    }
    Ok(c)
}

async fn grantee(store: &dyn Store, owner: &User, with: &With) -> Result<Grantee, ShareError> {
    match with {
        With::User(n) => {
            let u = store
                .user_by_name(n)
                .await?
                .ok_or_else(|| ShareError::NoUser(n.clone()))?;
            if u.id == owner.id {
                return Err(ShareError::SelfShare);
            }
            Ok(Grantee::User(u.id))
        }
        With::Group(n) => Ok(Grantee::Group(
            store
                .group_by_name(n)
                .await?
                .ok_or_else(|| ShareError::NoGroup(n.clone()))?
                .id,
        )),
    }
}

/// Shares `owner`'s collection with a user or group, or changes the access of that share.
pub async fn share(
    store: &dyn Store,
    owner: &User,
    kind: Kind,
    name: &str,
    with: &With,
    writable: bool,
) -> Result<(), ShareError> {
    let c = owned(store, owner, kind, name).await?;
    let g = grantee(store, owner, with).await?;
    store.put_share(c.id, g, writable).await?;
    Ok(())
}

/// Ends a share; the sharee's next request no longer reaches the collection.
pub async fn unshare(
    store: &dyn Store,
    owner: &User,
    kind: Kind,
    name: &str,
    with: &With,
) -> Result<(), ShareError> {
    let c = owned(store, owner, kind, name).await?;
    let g = grantee(store, owner, with).await?;
    if !store.remove_share(c.id, g).await? {
        return Err(ShareError::NotShared(with.to_string()));
    }
    Ok(())
}

/// The shares of each of `owner`'s collections of `kind` that has any.
pub async fn shares(
    store: &dyn Store,
    owner: &User,
    kind: Kind,
) -> Result<Vec<(Collection, Vec<Share>)>, StoreError> {
    let mut out = Vec::new();
    for c in store.collections(owner.id, kind).await? {
        let list = store.shares_of(c.id).await?;
        if !list.is_empty() {
            out.push((c, list));
        }
    }
    Ok(out)
}

/// Shares the card `card` (its resource name) of `owner`'s book `book` alone: it appears in
/// the sharee's "Shared with me" book (see `core::shared_cards`), read-only and kept live.
pub async fn share_card(
    store: &dyn Store,
    owner: &User,
    book: &str,
    card: &str,
    with: &With,
) -> Result<(), ShareError> {
    let c = owned(store, owner, Kind::Addressbook, book).await?;
    let g = grantee(store, owner, with).await?;
    if !store.put_card_share(c.id, card, g).await? {
        return Err(ShareError::NoCard {
            book: book.to_string(),
            card: card.to_string(),
        });
    }
    Ok(())
}

/// Ends a card's share; it leaves the sharee's devices on their next sync.
pub async fn unshare_card(
    store: &dyn Store,
    owner: &User,
    book: &str,
    card: &str,
    with: &With,
) -> Result<(), ShareError> {
    let c = owned(store, owner, Kind::Addressbook, book).await?;
    let g = grantee(store, owner, with).await?;
    if !store.remove_card_share(c.id, card, g).await? {
        return Err(ShareError::CardNotShared(with.to_string()));
    }
    Ok(())
}

/// The properties a sharee sets for themselves on a shared collection, over the owner's
/// (caldav-sharing's per-user properties): the name, colour and order it has on their devices,
/// its description, and whether it counts for their free-busy.
const PERSONAL: &[(&str, &str)] = &[
    (DAV, "displayname"),
    (APPLE_ICAL, "calendar-color"),
    (APPLE_ICAL, "calendar-order"),
    (CALDAV, "calendar-description"),
    (CARDDAV, "addressbook-description"),
    (CALDAV, "schedule-calendar-transp"),
];

/// Whether a sharee may set property `ns:name` for themselves.
pub fn is_personal(ns: &str, name: &str) -> bool {
    PERSONAL.iter().any(|(n, l)| *n == ns && *l == name)
}

/// A shared collection as `user` sees it: their own properties over the owner's `dead` ones,
/// and their own name and description. Nothing to do for an owner's own collection.
pub async fn with_personal(
    store: &dyn Store,
    user: &User,
    coll: &mut Collection,
    dead: &mut Vec<(String, String, String)>,
) -> Result<(), StoreError> {
    if coll.shared.is_none() {
        return Ok(());
    }
    for (ns, name, xml) in store.share_props(user.id, coll.id).await? {
        let text = || {
            kith_dav::xml::parse(xml.as_bytes())
                .ok()
                .map(|e| e.text.trim().to_string())
        };
        match (ns.as_str(), name.as_str()) {
            (DAV, "displayname") => coll.displayname = text(),
            (CALDAV, "calendar-description") | (CARDDAV, "addressbook-description") => {
                coll.description = text();
            }
            _ => {
                dead.retain(|(n, l, _)| !(*n == ns && *l == name));
                dead.push((ns, name, xml));
            }
        }
    }
    Ok(())
}
