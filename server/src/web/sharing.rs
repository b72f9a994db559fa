//! Sharing: each of the user's address books and calendars with its shares (add one for a
//! user or a group, read-only or read-write; stop one), and what others share with the user
//! (hide it from their devices, or show it again). The work is `core::access`'s, as for the
//! CLI and DAV.

use super::Web;
use super::form::Form;
use super::page::{self, Nav};
use crate::core::access::{self, With};
use crate::store::shares::Grantee;
use crate::store::{Kind, StoreError};
use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

pub struct ShareRow {
    /// `user` or `group`.
    pub with_kind: &'static str,
    pub with: String,
    pub access: &'static str,
}

/// A single card's share.
pub struct CardShareRow {
    pub card: String,
    pub title: String,
    pub share: ShareRow,
}

pub struct OwnRow {
    pub kind: &'static str,
    pub what: &'static str,
    pub name: String,
    pub title: String,
    pub shares: Vec<ShareRow>,
    /// Address books: the cards shared alone.
    pub cards: Vec<CardShareRow>,
}

pub struct IncomingRow {
    pub kind: &'static str,
    pub what: &'static str,
    pub id: i64,
    pub owner: String,
    pub name: String,
    pub alias: String,
    pub access: &'static str,
    pub hidden: bool,
}

/// One side of a delegation: the other user and the access.
pub struct DelegationRow {
    pub name: String,
    pub access: &'static str,
}

#[derive(Template)]
#[template(path = "sharing.html")]
struct Page {
    nav: Nav,
    own: Vec<OwnRow>,
    incoming: Vec<IncomingRow>,
    delegates: Vec<DelegationRow>,
    delegators: Vec<DelegationRow>,
    notice: Option<String>,
    error: Option<String>,
}

fn kind_words(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::Addressbook => ("book", "Address book"),
        Kind::Calendar => ("calendar", "Calendar"),
    }
}

fn access_word(writable: bool) -> &'static str {
    if writable { "read-write" } else { "read-only" }
}

fn share_row(grantee: Grantee, with: String, writable: bool) -> ShareRow {
    ShareRow {
        with_kind: match grantee {
            Grantee::User(_) => "user",
            Grantee::Group(_) => "group",
        },
        with,
        access: access_word(writable),
    }
}

/// The card `card` of the user's book `book`, with its name for messages.
async fn named_card(web: &Web, book: &str, card: &str) -> Result<(String, String), String> {
    let store = web.app.store.as_ref();
    let coll = store
        .collection(web.user().id, Kind::Addressbook, book)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("You have no address book named {book:?}."))?;
    let o = store
        .object(coll.id, card)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{book} has no card {card:?} (any more)."))?;
    Ok((card.to_string(), super::data::title_of(&o.data)))
}

/// The one card of `owner`'s book `book` whose name or email holds `text` (any case); the
/// error says what to do when none or several do.
async fn find_card(web: &Web, book: &str, text: &str) -> Result<(String, String), String> {
    use futures_util::StreamExt;
    let store = web.app.store.as_ref();
    let coll = store
        .collection(web.user().id, Kind::Addressbook, book)
        .await
        .map_err(|e| e.to_string())?
        .filter(|c| c.derived.is_none())
        .ok_or_else(|| format!("You have no address book named {book:?}."))?;
    let needle = text.to_lowercase();
    if needle.is_empty() {
        return Err("Type part of the contact's name or email address.".into());
    }
    let mut found = Vec::new();
    let mut rows = store.objects(coll.id, true, None);
    while let Some(o) = rows.next().await {
        let o = o.map_err(|e| e.to_string())?;
        let title = super::data::title_of(&o.data);
        let hit = String::from_utf8_lossy(&o.data).lines().any(|l| {
            let upper = l.to_ascii_uppercase();
            (upper.starts_with("FN") || upper.contains("EMAIL"))
                && l.to_lowercase().contains(&needle)
        });
        if hit {
            found.push((o.meta.name, title));
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(format!(
            "No contact in {book} has {text:?} in its name or email address."
        )),
        n => {
            let some: Vec<String> = found.iter().take(5).map(|(_, t)| t.clone()).collect();
            Err(format!(
                "{n} contacts match {text:?} ({}{}); type more of the name or the email address.",
                some.join(", "),
                if n > 5 { ", …" } else { "" }
            ))
        }
    }
}

async fn rows(web: &Web) -> Result<(Vec<OwnRow>, Vec<IncomingRow>), StoreError> {
    let store = web.app.store.as_ref();
    let user = web.user();
    let (mut own, mut incoming) = (Vec::new(), Vec::new());
    for kind in [Kind::Addressbook, Kind::Calendar] {
        let (k, what) = kind_words(kind);
        for c in store.collections(user.id, kind).await? {
            if c.derived.is_some() {
                continue;
            }
            let shares = store
                .shares_of(c.id)
                .await?
                .into_iter()
                .map(|s| share_row(s.grantee, s.grantee_name, s.writable))
                .collect();
            let mut cards = Vec::new();
            if kind == Kind::Addressbook {
                for (card, s) in store.card_shares_of(c.id).await? {
                    let title = match store.object(c.id, &card).await? {
                        Some(o) => super::data::title_of(&o.data),
                        None => card.clone(),
                    };
                    cards.push(CardShareRow {
                        card,
                        title,
                        share: share_row(s.grantee, s.grantee_name, s.writable),
                    });
                }
            }
            own.push(OwnRow {
                kind: k,
                what,
                title: c.displayname.clone().unwrap_or_else(|| c.name.clone()),
                name: c.name,
                shares,
                cards,
            });
        }
        for s in store.shared_with(user.id, kind).await? {
            incoming.push(IncomingRow {
                kind: k,
                what,
                id: s.collection.id,
                alias: access::alias(&s.owner_name, &s.collection.name),
                owner: s.owner_name,
                name: s.collection.displayname.unwrap_or(s.collection.name),
                access: access_word(s.writable),
                hidden: s.hidden,
            });
        }
    }
    Ok((own, incoming))
}

async fn render(
    web: &Web,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let (own, incoming) = match rows(web).await {
        Ok(r) => r,
        Err(e) => return page::internal(web, e),
    };
    let (to, from) =
        match crate::core::delegation::both_ways(web.app.store.as_ref(), web.user()).await {
            Ok(d) => d,
            Err(e) => return page::internal(web, e),
        };
    let row = |d: crate::store::shares::Delegation| DelegationRow {
        name: d.name,
        access: access_word(d.writable),
    };
    page::render(
        status,
        &Page {
            nav: web.nav("sharing"),
            own,
            incoming,
            delegates: to.into_iter().map(row).collect(),
            delegators: from.into_iter().map(row).collect(),
            notice,
            error,
        },
    )
}

pub async fn show(web: &Web) -> Response {
    render(web, StatusCode::OK, None, None).await
}

fn kind_of(form: &Form) -> Kind {
    if form.get("kind") == "calendar" {
        Kind::Calendar
    } else {
        Kind::Addressbook
    }
}

/// `POST /sharing/ACTION`: add or remove a share of one of the user's collections, or hide or
/// show one shared with them.
pub async fn act(web: &Web, action: &str, form: &Form) -> Response {
    let store = web.app.store.as_ref();
    let user = web.user();
    let kind = kind_of(form);
    let name = form.get("name").trim();
    let who = form.get("with").trim().to_string();
    let with = if form.get("with_kind") == "group" {
        With::Group(who)
    } else {
        With::User(who)
    };
    let done = match action {
        "add" => {
            let write = form.get("access") == "write";
            access::share(store, user, kind, name, &with, write)
                .await
                .map(|()| format!("{name} is shared {} with {with}.", access_word(write)))
                .map_err(|e| e.to_string())
        }
        "remove" => access::unshare(store, user, kind, name, &with)
            .await
            .map(|()| {
                format!("{name} is no longer shared with {with}; their devices drop it on the next sync.")
            })
            .map_err(|e| e.to_string()),
        // From a card's own page the card is named; from the Sharing page it is searched for.
        "add-card" => match match form.get("card").trim() {
            "" => find_card(web, name, form.get("contact").trim()).await,
            card => named_card(web, name, card).await,
        } {
            Ok((card, title)) => access::share_card(store, user, name, &card, &with)
                .await
                .map(|()| {
                    format!("{title} is shared with {with}; it appears in their \"Shared with me\" book.")
                })
                .map_err(|e| e.to_string()),
            Err(e) => Err(e),
        },
        "remove-card" => access::unshare_card(store, user, name, form.get("card"), &with)
            .await
            .map(|()| {
                "The contact is no longer shared with them; their devices drop it on the next sync.".to_string()
            })
            .map_err(|e| e.to_string()),
        "delegate" => {
            let write = form.get("access") == "write";
            let to = form.get("with").trim();
            crate::core::delegation::delegate(store, user, to, write)
                .await
                .map(|()| {
                    format!(
                        "{to} now has all your calendars, {}, those you make later too.",
                        access_word(write)
                    )
                })
                .map_err(|e| e.to_string())
        }
        "undelegate" => {
            let to = form.get("with").trim();
            crate::core::delegation::undelegate(store, user, to)
                .await
                .map(|()| {
                    format!("{to} no longer has your calendars; their devices drop them on the next sync.")
                })
                .map_err(|e| e.to_string())
        }
        "hide" | "show" => {
            let id = form.get("id").parse::<i64>().unwrap_or(0);
            let hide = action == "hide";
            // Only a collection shared with this user can be hidden by them.
            let shared = store
                .shared_with(user.id, kind)
                .await
                .map(|all| all.iter().any(|s| s.collection.id == id));
            match shared {
                Ok(true) => store
                    .set_share_hidden(user.id, id, hide)
                    .await
                    .map(|()| {
                        if hide {
                            "Hidden: your devices drop it on their next sync. It stays shared with you.".to_string()
                        } else {
                            "Shown again: your devices get it on their next sync.".to_string()
                        }
                    })
                    .map_err(|e| e.to_string()),
                Ok(false) => Err("That is not shared with you (any more).".to_string()),
                Err(e) => Err(e.to_string()),
            }
        }
        _ => return page::not_found(web),
    };
    match done {
        Ok(n) => render(web, StatusCode::OK, Some(n), None).await,
        Err(e) => render(web, StatusCode::BAD_REQUEST, None, Some(e)).await,
    }
}
