//! `kith share …`: sharing a user's address books and calendars with users and groups.

use super::CliResult;
use crate::cli::args::{ShareCommand, ShareWith, Which};
use crate::core::access::{self, With, what};
use crate::store::shares::{Grantee, Share};
use crate::store::{Kind, Store, User};

async fn user(store: &dyn Store, name: &str) -> Result<User, String> {
    store
        .user_by_name(name)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("there is no user named {name:?}; see `kith user list`"))
}

/// The collection a command names: `--calendar C`, else `--book B` (default "contacts").
fn collection(which: &Which) -> (Kind, String) {
    match (&which.calendar, &which.book) {
        (Some(c), _) => (Kind::Calendar, c.clone()),
        (None, b) => (
            Kind::Addressbook,
            b.clone().unwrap_or_else(|| "contacts".into()),
        ),
    }
}

fn with(w: ShareWith) -> With {
    match (w.with_user, w.with_group) {
        (Some(u), _) => With::User(u),
        (None, g) => With::Group(g.unwrap_or_default()),
    }
}

/// Whom a share is for, as `kith share list` prints it.
fn who(s: &Share) -> String {
    match s.grantee {
        Grantee::User(_) => format!("user {}", s.grantee_name),
        Grantee::Group(_) => format!("group {}", s.grantee_name),
    }
}

pub async fn command(store: &dyn Store, cmd: ShareCommand) -> CliResult {
    match cmd {
        ShareCommand::Add {
            which,
            with: w,
            card: Some(card),
            ..
        } => {
            let owner = user(store, &which.user).await?;
            let (_, book) = collection(&which);
            let with = with(w);
            access::share_card(store, &owner, &book, &card, &with)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "{}'s card {card} (book {book}) is shared with {with}; it appears in their \"Shared with me\" book",
                owner.name
            );
        }
        ShareCommand::Remove {
            which,
            with: w,
            card: Some(card),
        } => {
            let owner = user(store, &which.user).await?;
            let (_, book) = collection(&which);
            let with = with(w);
            access::unshare_card(store, &owner, &book, &card, &with)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "{}'s card {card} is no longer shared with {with}; their devices drop it on the next sync",
                owner.name
            );
        }
        ShareCommand::Add {
            which,
            with: w,
            write,
            card: None,
        } => {
            let owner = user(store, &which.user).await?;
            let (kind, name) = collection(&which);
            let with = with(w);
            access::share(store, &owner, kind, &name, &with, write)
                .await
                .map_err(|e| e.to_string())?;
            let how = if write { "read-write" } else { "read-only" };
            println!(
                "{}'s {} {name} is shared {how} with {with}; it appears in their account as \"{}\"",
                owner.name,
                what(kind),
                access::alias(&owner.name, &name)
            );
        }
        ShareCommand::Remove {
            which,
            with: w,
            card: None,
        } => {
            let owner = user(store, &which.user).await?;
            let (kind, name) = collection(&which);
            let with = with(w);
            access::unshare(store, &owner, kind, &name, &with)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "{}'s {} {name} is no longer shared with {with}; their devices drop it on the next sync",
                owner.name,
                what(kind)
            );
        }
        ShareCommand::Delegate {
            user: owner,
            to,
            write,
        } => {
            let owner = user(store, &owner).await?;
            crate::core::delegation::delegate(store, &owner, &to, write)
                .await
                .map_err(|e| e.to_string())?;
            let how = if write { "read-write" } else { "read-only" };
            println!(
                "{to} now reaches all of {}'s calendars, {how}: in their own account, and as {}'s calendar proxy in Apple Calendar",
                owner.name, owner.name
            );
        }
        ShareCommand::Undelegate { user: owner, to } => {
            let owner = user(store, &owner).await?;
            crate::core::delegation::undelegate(store, &owner, &to)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "{to} no longer reaches {}'s calendars; their devices drop them on the next sync",
                owner.name
            );
        }
        ShareCommand::List { user: name } => {
            let u = user(store, &name).await?;
            let e = |e: crate::store::StoreError| e.to_string();
            let (to, from) = crate::core::delegation::both_ways(store, &u)
                .await
                .map_err(e)?;
            let how = |w: bool| if w { "read-write" } else { "read-only" };
            for d in &to {
                println!(
                    "delegates all calendars to {} ({})",
                    d.name,
                    how(d.writable)
                );
            }
            for d in &from {
                println!(
                    "delegated to {name}: all of {}'s calendars ({})",
                    d.name,
                    how(d.writable)
                );
            }
            let mut any = !to.is_empty() || !from.is_empty();
            for kind in [Kind::Addressbook, Kind::Calendar] {
                for (c, shares) in access::shares(store, &u, kind).await.map_err(e)? {
                    any = true;
                    let list: Vec<String> = shares
                        .iter()
                        .map(|s| {
                            let how = if s.writable {
                                "read-write"
                            } else {
                                "read-only"
                            };
                            format!("{} ({how})", who(s))
                        })
                        .collect();
                    println!("shares {} {}: {}", what(kind), c.name, list.join(", "));
                }
                if kind == Kind::Addressbook {
                    for c in store.collections(u.id, kind).await.map_err(e)? {
                        for (card, s) in store.card_shares_of(c.id).await.map_err(e)? {
                            any = true;
                            println!("shares card {card} of book {}: {}", c.name, who(&s));
                        }
                    }
                    for c in store.cards_shared_with(u.id).await.map_err(e)? {
                        any = true;
                        println!(
                            "shared with {name}: {}'s card {} (book {}) in {}",
                            c.owner_name,
                            c.name,
                            c.book,
                            crate::core::shared_cards::NAME
                        );
                    }
                }
                for s in store.shared_with(u.id, kind).await.map_err(e)? {
                    any = true;
                    let how = if s.writable {
                        "read-write"
                    } else {
                        "read-only"
                    };
                    let hidden = if s.hidden { ", hidden" } else { "" };
                    println!(
                        "shared with {name}: {}'s {} {} as {} ({how}{hidden})",
                        s.owner_name,
                        what(kind),
                        s.collection.name,
                        access::alias(&s.owner_name, &s.collection.name)
                    );
                }
            }
            if !any {
                println!("{name} shares nothing and nothing is shared with them");
            }
        }
    }
    Ok(())
}
