//! Who a collection is shared with, in the two sharing dialects clients read: the
//! resource-sharing draft's `DAV:invite` and `DAV:share-access` (SabreDAV's; Tasks.org and
//! DAVx5 show them) and CalendarServer's `cs:invite` and `cs:shared-owner` (Apple's).
//! Read-only: shares are made in Kith. The shares are read only when a request asks for these
//! properties (or, for a calendar, its resourcetype), so an owner's address book listings cost
//! nothing more.

use super::paths::{group_href, principal_href};
use super::{Ctx, respond};
use crate::store::shares::{Grantee, Share};
use crate::store::{Collection, Kind};
use axum::response::Response;
use kith_dav::names::{CALSERVER, DAV, Name};
use kith_dav::request::PropSelection;
use kith_dav::xml::escape;

/// The sharing state of one collection as its caller may see it.
pub struct Invites {
    /// For the owner: the collection's shares. For a sharee: none (other sharees are not
    /// shown), and `owner` names whose it is.
    shares: Vec<Share>,
    owner: Option<String>,
    calendar: bool,
}

fn wanted(coll: &Collection, select: &PropSelection) -> bool {
    select.wants(DAV, "invite")
        || select.wants(DAV, "share-access")
        || select.wants(CALSERVER, "invite")
        // An owner's shared calendar is `cs:shared-owner` to Apple Calendar; a user has a few
        // calendars, so this reads their shares only in calendar listings.
        || (coll.kind == Kind::Calendar && coll.shared.is_none() && select.wants(DAV, "resourcetype"))
}

/// Loads what `coll`'s sharing properties need, if the request asks for any of them.
pub async fn load(
    ctx: &Ctx,
    coll: &Collection,
    select: &PropSelection,
) -> Result<Option<Invites>, Response> {
    if !wanted(coll, select) {
        return Ok(None);
    }
    if let Some(s) = &coll.shared {
        return Ok(Some(Invites {
            shares: Vec::new(),
            owner: Some(s.owner_name.clone()),
            calendar: coll.kind == Kind::Calendar,
        }));
    }
    let shares = ctx
        .app
        .store
        .shares_of(coll.id)
        .await
        .map_err(respond::internal)?;
    Ok(Some(Invites {
        shares,
        owner: None,
        calendar: coll.kind == Kind::Calendar,
    }))
}

fn href(s: &Share) -> String {
    match s.grantee {
        Grantee::User(_) => principal_href(&s.grantee_name),
        Grantee::Group(_) => group_href(&s.grantee_name),
    }
}

impl Invites {
    /// The content of `name`, if it is one of the sharing properties; `None` otherwise.
    pub fn render(&self, name: &Name) -> Option<Option<String>> {
        if name.is(DAV, "resourcetype") {
            return (self.owner.is_none() && !self.shares.is_empty() && self.calendar)
                .then(|| Some("<d:collection/><cal:calendar/><cs:shared-owner/>".into()));
        }
        if name.is(DAV, "share-access") {
            return match (&self.owner, self.shares.is_empty()) {
                // A sharee's access is a live property of the collection.
                (Some(_), _) => None,
                (None, true) => Some(Some("<d:not-shared/>".into())),
                (None, false) => Some(Some("<d:shared-owner/>".into())),
            };
        }
        if name.is(DAV, "invite") {
            let mut out = String::new();
            if let Some(owner) = &self.owner {
                out.push_str(&format!(
                    "<d:sharee><d:href>{}</d:href><d:invite-accepted/><d:share-access><d:shared-owner/></d:share-access></d:sharee>",
                    escape(&principal_href(owner))
                ));
            }
            for s in &self.shares {
                let access = if s.writable { "read-write" } else { "read" };
                out.push_str(&format!(
                    "<d:sharee><d:href>{}</d:href><d:prop><d:displayname>{}</d:displayname></d:prop><d:invite-accepted/><d:share-access><d:{access}/></d:share-access></d:sharee>",
                    escape(&href(s)),
                    escape(&s.grantee_name)
                ));
            }
            return Some(Some(out));
        }
        if name.is(CALSERVER, "invite") {
            let mut out = String::new();
            if let Some(owner) = &self.owner {
                out.push_str(&format!(
                    "<cs:organizer><d:href>{}</d:href><cs:common-name>{}</cs:common-name></cs:organizer>",
                    escape(&principal_href(owner)),
                    escape(owner)
                ));
            }
            for s in &self.shares {
                let access = if s.writable { "read-write" } else { "read" };
                out.push_str(&format!(
                    "<cs:user><d:href>{}</d:href><cs:common-name>{}</cs:common-name><cs:invite-accepted/><cs:access><cs:{access}/></cs:access></cs:user>",
                    escape(&href(s)),
                    escape(&s.grantee_name)
                ));
            }
            return Some(Some(out));
        }
        None
    }
}
