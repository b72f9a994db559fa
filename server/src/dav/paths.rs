//! Kith's URL layout. Collections end in `/`; every segment is percent-encoded on output.
//!
//! ```text
//! /dav/                                     DAV root
//! /dav/principals/{user}/                   principal
//! /dav/principals/{user}/calendar-proxy-read/   Apple's delegation groups: who may read
//! /dav/principals/{user}/calendar-proxy-write/  (or write) all of the user's calendars
//! /dav/addressbooks/{user}/                 address-book home
//! /dav/addressbooks/{user}/{book}/          address book
//! /dav/addressbooks/{user}/{book}/{card}    vCard
//! /dav/calendars/{user}/                    calendar home
//! /dav/calendars/{user}/{calendar}/         calendar
//! /dav/calendars/{user}/{calendar}/{object} iCalendar object
//! ```

use crate::store::Kind;
use kith_dav::href::{decode_segment, encode_segment, push_segment};

pub const DAV_ROOT: &str = "/dav/";
/// Registrations' URLs are `/dav/push/TOKEN`.
pub const PUSH_SEGMENT: &str = "push";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `/` or `/dav/`: answers discovery with current-user-principal.
    Root,
    Principals,
    Principal(String),
    /// `/dav/addressbooks/` or `/dav/calendars/`.
    Homes(Kind),
    Home(Kind, String),
    /// An address book or calendar: (kind, user, name).
    Collection(Kind, String, String),
    /// A vCard or iCalendar object: (kind, user, collection, name).
    Member(Kind, String, String, String),
    /// A group's principal, `/dav/groups/NAME/`: seen by its members only.
    Group(String),
    /// A user's calendar-proxy group (delegates): (user, whether it is the write group).
    Proxy(String, bool),
    /// A WebDAV-Push registration, `/dav/push/TOKEN`: its device may DELETE it.
    Push(String),
    NotFound,
}

impl Target {
    /// The user a target belongs to, for the ownership check.
    pub fn owner(&self) -> Option<&str> {
        match self {
            Target::Principal(u)
            | Target::Proxy(u, _)
            | Target::Home(_, u)
            | Target::Collection(_, u, _)
            | Target::Member(_, u, _, _) => Some(u),
            _ => None,
        }
    }
}

/// Resolves a request path (still percent-encoded) to a target.
pub fn resolve(path: &str) -> Target {
    if path == "/" || path.is_empty() {
        return Target::Root;
    }
    let Some(rest) = path.strip_prefix("/dav") else {
        return Target::NotFound;
    };
    let mut segs = Vec::new();
    for s in rest.split('/').filter(|s| !s.is_empty()) {
        match decode_segment(s) {
            // "." and ".." never name a resource here; refusing them keeps paths canonical.
            Some(d) if d != "." && d != ".." => segs.push(d),
            _ => return Target::NotFound,
        }
    }
    let mut it = segs.into_iter();
    let kind = |seg: &str| match seg {
        "addressbooks" => Some(Kind::Addressbook),
        "calendars" => Some(Kind::Calendar),
        _ => None,
    };
    match (it.next(), it.next(), it.next(), it.next(), it.next()) {
        (None, ..) => Target::Root,
        (Some(p), None, ..) if p == "principals" => Target::Principals,
        (Some(p), Some(u), None, ..) if p == "principals" => Target::Principal(u),
        (Some(p), Some(u), Some(x), None, _) if p == "principals" => match x.as_str() {
            PROXY_READ => Target::Proxy(u, false),
            PROXY_WRITE => Target::Proxy(u, true),
            _ => Target::NotFound,
        },
        (Some(p), Some(g), None, ..) if p == "groups" => Target::Group(g),
        (Some(p), Some(t), None, ..) if p == PUSH_SEGMENT => Target::Push(t),
        (Some(a), u, b, c, rest) => match (kind(&a), u, b, c, rest) {
            (Some(k), None, ..) => Target::Homes(k),
            (Some(k), Some(u), None, ..) => Target::Home(k, u),
            (Some(k), Some(u), Some(b), None, _) => Target::Collection(k, u, b),
            (Some(k), Some(u), Some(b), Some(c), None) => Target::Member(k, u, b, c),
            _ => Target::NotFound,
        },
    }
}

fn root_segment(kind: Kind) -> &'static str {
    match kind {
        Kind::Addressbook => "addressbooks",
        Kind::Calendar => "calendars",
    }
}

pub fn principal_href(user: &str) -> String {
    format!("/dav/principals/{}/", encode_segment(user))
}

const PROXY_READ: &str = "calendar-proxy-read";
const PROXY_WRITE: &str = "calendar-proxy-write";

/// A user's delegation group: those who may read (or write) all the user's calendars.
pub fn proxy_href(user: &str, write: bool) -> String {
    format!(
        "/dav/principals/{}/{}/",
        encode_segment(user),
        if write { PROXY_WRITE } else { PROXY_READ }
    )
}

pub fn group_href(group: &str) -> String {
    format!("/dav/groups/{}/", encode_segment(group))
}

pub fn homes_href(kind: Kind) -> String {
    format!("/dav/{}/", root_segment(kind))
}

pub fn home_href(kind: Kind, user: &str) -> String {
    format!("/dav/{}/{}/", root_segment(kind), encode_segment(user))
}

pub fn collection_href(kind: Kind, user: &str, name: &str) -> String {
    format!(
        "/dav/{}/{}/{}/",
        root_segment(kind),
        encode_segment(user),
        encode_segment(name)
    )
}

pub fn member_href(kind: Kind, user: &str, coll: &str, name: &str) -> String {
    // Built by pushes: this runs for every member of a listing.
    let root = root_segment(kind);
    let mut out = String::with_capacity(8 + root.len() + user.len() + coll.len() + name.len());
    out.push_str("/dav/");
    out.push_str(root);
    for segment in [user, coll, name] {
        out.push('/');
        push_segment(&mut out, segment);
    }
    out
}

/// The path of an href or absolute URL a client sent (Destination, multiget hrefs).
pub fn href_path(href: &str) -> &str {
    let h = href.trim();
    if let Some(rest) = h
        .strip_prefix("http://")
        .or_else(|| h.strip_prefix("https://"))
    {
        return rest.find('/').map(|i| &rest[i..]).unwrap_or("/");
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_layout() {
        assert_eq!(resolve("/"), Target::Root);
        assert_eq!(resolve("/dav"), Target::Root);
        assert_eq!(
            resolve("/dav/principals/ann/"),
            Target::Principal("ann".into())
        );
        assert_eq!(
            resolve("/dav/addressbooks/ann"),
            Target::Home(Kind::Addressbook, "ann".into())
        );
        assert_eq!(
            resolve("/dav/addressbooks/ann/b%20k/x%2Fy.vcf"),
            Target::Member(
                Kind::Addressbook,
                "ann".into(),
                "b k".into(),
                "x/y.vcf".into()
            )
        );
        assert_eq!(
            resolve("/dav/calendars/ann/work/"),
            Target::Collection(Kind::Calendar, "ann".into(), "work".into())
        );
        assert_eq!(resolve("/dav/calendars/"), Target::Homes(Kind::Calendar));
        assert_eq!(
            resolve(&proxy_href("ann", true)),
            Target::Proxy("ann".into(), true)
        );
        assert_eq!(
            resolve("/dav/principals/ann/calendar-proxy-read/"),
            Target::Proxy("ann".into(), false)
        );
        assert_eq!(resolve("/dav/principals/ann/other/"), Target::NotFound);
        assert_eq!(resolve("/dav/addressbooks/ann/../x/"), Target::NotFound);
        assert_eq!(resolve("/other"), Target::NotFound);
        assert_eq!(href_path("https://h:1/dav/x"), "/dav/x");
    }

    #[test]
    fn card_href_round_trips() {
        let href = member_href(Kind::Addressbook, "ann", "b k", "a/b ä.vcf");
        assert!(href.is_ascii());
        assert_eq!(
            resolve(&href),
            Target::Member(
                Kind::Addressbook,
                "ann".into(),
                "b k".into(),
                "a/b ä.vcf".into()
            )
        );
    }
}
