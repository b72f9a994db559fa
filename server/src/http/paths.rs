//! Kith's URL layout. Collections end in `/`; every segment is percent-encoded on output.
//!
//! ```text
//! /dav/                                     DAV root
//! /dav/principals/{user}/                   principal
//! /dav/addressbooks/{user}/                 address-book home
//! /dav/addressbooks/{user}/{book}/          address book
//! /dav/addressbooks/{user}/{book}/{card}    vCard
//! ```

use kith_dav::href::{decode_segment, encode_segment};

pub const DAV_ROOT: &str = "/dav/";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `/` or `/dav/`: answers discovery with current-user-principal.
    Root,
    Principals,
    Principal(String),
    AddressbookHomes,
    Home(String),
    Book(String, String),
    Card(String, String, String),
    NotFound,
}

impl Target {
    /// The user a target belongs to, for the ownership check.
    pub fn owner(&self) -> Option<&str> {
        match self {
            Target::Principal(u) | Target::Home(u) | Target::Book(u, _) | Target::Card(u, _, _) => {
                Some(u)
            }
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
    match (it.next(), it.next(), it.next(), it.next(), it.next()) {
        (None, ..) => Target::Root,
        (Some(p), None, ..) if p == "principals" => Target::Principals,
        (Some(p), Some(u), None, ..) if p == "principals" => Target::Principal(u),
        (Some(a), None, ..) if a == "addressbooks" => Target::AddressbookHomes,
        (Some(a), Some(u), None, ..) if a == "addressbooks" => Target::Home(u),
        (Some(a), Some(u), Some(b), None, _) if a == "addressbooks" => Target::Book(u, b),
        (Some(a), Some(u), Some(b), Some(c), None) if a == "addressbooks" => Target::Card(u, b, c),
        _ => Target::NotFound,
    }
}

pub fn principal_href(user: &str) -> String {
    format!("/dav/principals/{}/", encode_segment(user))
}

pub fn home_href(user: &str) -> String {
    format!("/dav/addressbooks/{}/", encode_segment(user))
}

pub fn book_href(user: &str, book: &str) -> String {
    format!(
        "/dav/addressbooks/{}/{}/",
        encode_segment(user),
        encode_segment(book)
    )
}

pub fn card_href(user: &str, book: &str, card: &str) -> String {
    format!(
        "/dav/addressbooks/{}/{}/{}",
        encode_segment(user),
        encode_segment(book),
        encode_segment(card)
    )
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
        assert_eq!(resolve("/dav/addressbooks/ann"), Target::Home("ann".into()));
        assert_eq!(
            resolve("/dav/addressbooks/ann/b%20k/x%2Fy.vcf"),
            Target::Card("ann".into(), "b k".into(), "x/y.vcf".into())
        );
        assert_eq!(resolve("/dav/addressbooks/ann/../x/"), Target::NotFound);
        assert_eq!(resolve("/other"), Target::NotFound);
        assert_eq!(href_path("https://h:1/dav/x"), "/dav/x");
    }

    #[test]
    fn card_href_round_trips() {
        let href = card_href("ann", "b k", "a/b ä.vcf");
        assert!(href.is_ascii());
        assert_eq!(
            resolve(&href),
            Target::Card("ann".into(), "b k".into(), "a/b ä.vcf".into())
        );
    }
}
