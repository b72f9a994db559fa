//! Single contacts shared without their book (issue 20). The model: the card's owner shares a
//! card with a user or a group; each sharee has one read-only address book, "Shared with me",
//! that holds a live copy of every card shared with them. The copy is the owner's bytes, so it
//! changes when the owner changes the card, and it leaves the sharee's devices when the share
//! ends or the card is deleted.
//!
//! Like the birthday calendar, the book is a real collection brought up to date when it is
//! read: its copies get ETags and a sync-token like any other, and an ended share is a
//! deletion that `sync-collection` reports.

use crate::store::{
    Actor, Collection, CollectionPatch, Kind, Store, StoreError, StoreResult, User,
};
use futures_util::StreamExt;
use std::collections::HashMap;

/// The book's name in the sharee's home.
pub const NAME: &str = "shared-with-me";
/// The `derived` mark of the book.
pub const DERIVED: &str = "shared-cards";

/// A copy's resource name: the owner's and the card's, so copies from two owners never clash.
fn copy_name(owner: &str, object_id: i64) -> String {
    format!("{owner}-{object_id}.vcf")
}

/// The user's "Shared with me" book, made when the first card is shared with them; `None`
/// while nothing ever was.
pub async fn book(store: &dyn Store, user: &User) -> StoreResult<Option<Collection>> {
    if let Some(c) = store.collection(user.id, Kind::Addressbook, NAME).await? {
        return Ok(Some(c));
    }
    if store.cards_shared_with(user.id).await?.is_empty() {
        return Ok(None);
    }
    let patches = [
        CollectionPatch::DisplayName(Some("Shared with me".into())),
        CollectionPatch::Description(Some(
            "Contacts others share with you, kept up to date (read-only)".into(),
        )),
    ];
    match store
        .create_collection(user.id, Kind::Addressbook, NAME, &patches)
        .await
    {
        Ok(c) => store.set_derived(c.id, DERIVED).await?,
        // Made by a concurrent request.
        Err(StoreError::Exists(_)) => {}
        Err(e) => return Err(e),
    }
    store.collection(user.id, Kind::Addressbook, NAME).await
}

/// Brings `book` up to the cards shared with `user` now: new and changed copies written,
/// copies of ended shares removed. Unchanged copies are not rewritten, so the sync-token only
/// moves when something changed.
pub async fn refresh(store: &dyn Store, user: &User, book: &Collection) -> StoreResult<()> {
    let wanted = store.cards_shared_with(user.id).await?;
    let mut have: HashMap<String, String> = HashMap::new();
    let mut rows = store.objects(book.id, false, None);
    while let Some(o) = rows.next().await {
        let o = o?;
        have.insert(o.meta.name, o.meta.etag);
    }
    for card in &wanted {
        let name = copy_name(&card.owner_name, card.object_id);
        if have.remove(&name).as_deref() == Some(card.etag.as_str()) {
            continue;
        }
        // Stored cards always parse: they were validated when written.
        let Ok(copy) =
            crate::core::objects::prepare_card(&name, card.data.clone(), card.etag.clone())
        else {
            continue;
        };
        // A UID conflict (two owners shared cards with one UID) keeps the first shared.
        store
            .put_object(book.id, &copy.as_new(), &|_| true, &Actor::Derived)
            .await?;
    }
    for name in have.into_keys() {
        store
            .delete_object(book.id, &name, &|_| true, &Actor::Derived)
            .await?;
    }
    Ok(())
}
