//! DAV request headers, parsed once per request into [`RequestHeaders`]: Depth, If, If-Match,
//! If-None-Match, Overwrite, Destination, Prefer, Accept (the vCard version asked for),
//! Content-Type and User-Agent.

use crate::if_header::{IfError, IfHeader};
use crate::quirks::{Client, unescape_etag_quotes};
use crate::vcard_version::Version;

/// A header whose value Kith cannot read; answered with 400 naming it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadHeader {
    #[error("Depth must be 0, 1 or infinity")]
    Depth,
    #[error("Overwrite must be T or F")]
    Overwrite,
    #[error(transparent)]
    If(#[from] IfError),
}

/// The RFC 8144 preferences Kith honours.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prefer {
    /// `return=minimal` (or Apple's `Brief: t`): leave out properties that were not found.
    pub minimal: bool,
    /// `depth-noroot`: leave out the collection itself from a Depth 1 PROPFIND.
    pub no_root: bool,
}

/// Every request header the DAV methods read, parsed once.
#[derive(Debug, Clone, Default)]
pub struct RequestHeaders {
    depth: Option<String>,
    overwrite: Option<String>,
    if_header: Option<Result<IfHeader, IfError>>,
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
    pub destination: Option<String>,
    pub prefer: Prefer,
    /// The vCard version `Accept` asks for.
    pub vcard_version: Option<Version>,
    /// The media type of Content-Type, lower-cased, without parameters.
    pub media_type: String,
    pub user_agent: Option<String>,
    pub client: Client,
    /// `Schedule-Reply: F` (RFC 6638 §8.1): an attendee's DELETE tells the organizer nothing.
    pub schedule_reply: bool,
    /// `If-Schedule-Tag-Match` (RFC 6638 §8.3).
    pub if_schedule_tag_match: Option<String>,
    /// `Host`, for URLs the response must give absolute.
    pub host: Option<String>,
    /// `X-Forwarded-Proto: https` from a proxy in front.
    pub forwarded_https: bool,
    /// `Push-Dont-Notify` (WebDAV-Push): the writer's own registrations to leave out.
    pub dont_notify: Option<crate::push::DontNotify>,
}

impl RequestHeaders {
    /// Reads the headers through `get` (a header's value by lower-case name), so this crate
    /// needs no HTTP types.
    pub fn parse(get: impl Fn(&str) -> Option<String>) -> RequestHeaders {
        let mut prefer = Prefer::default();
        for p in get("prefer").iter().flat_map(|v| v.split(',')) {
            match p.trim().to_ascii_lowercase().as_str() {
                "return=minimal" => prefer.minimal = true,
                "depth-noroot" => prefer.no_root = true,
                _ => {}
            }
        }
        if get("brief").is_some_and(|b| b.trim().eq_ignore_ascii_case("t")) {
            prefer.minimal = true;
        }
        let user_agent = get("user-agent");
        RequestHeaders {
            depth: get("depth"),
            overwrite: get("overwrite"),
            if_header: get("if").map(|v| IfHeader::parse(&v)),
            if_match: get("if-match"),
            if_none_match: get("if-none-match"),
            destination: get("destination"),
            prefer,
            vcard_version: get("accept").as_deref().and_then(accept_vcard_version),
            media_type: get("content-type")
                .as_deref()
                .map(media_type)
                .unwrap_or_default(),
            client: Client::detect(user_agent.as_deref()),
            user_agent,
            if_schedule_tag_match: get("if-schedule-tag-match"),
            host: get("host"),
            forwarded_https: get("x-forwarded-proto")
                .is_some_and(|p| p.trim().eq_ignore_ascii_case("https")),
            dont_notify: get("push-dont-notify")
                .as_deref()
                .and_then(crate::push::DontNotify::parse),
            schedule_reply: !get("schedule-reply")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("f")),
        }
    }

    /// Depth, or `default` when the request has none.
    pub fn depth(&self, default: Depth) -> Result<Depth, BadHeader> {
        Depth::parse(self.depth.as_deref(), default).ok_or(BadHeader::Depth)
    }

    /// Overwrite: `T` (the default) or `F`.
    pub fn overwrite(&self) -> Result<bool, BadHeader> {
        match self.overwrite.as_deref().map(str::trim) {
            None => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("t") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("f") => Ok(false),
            Some(_) => Err(BadHeader::Overwrite),
        }
    }

    /// An If header that cannot be parsed; such a request is refused before anything else.
    pub fn malformed_if(&self) -> Option<BadHeader> {
        match &self.if_header {
            Some(Err(e)) => Some(BadHeader::If(e.clone())),
            _ => None,
        }
    }

    /// Whether If-Match, If-None-Match and If all hold for a resource whose ETag is `current`
    /// (`None`: it does not exist). `is_path` tells whether a URL in If names this resource.
    pub fn conditions_hold(&self, current: Option<&str>, is_path: impl Fn(&str) -> bool) -> bool {
        let match_ok = self
            .if_match
            .as_deref()
            .is_none_or(|m| etag_list_matches(m, current));
        let none_match_ok = self
            .if_none_match
            .as_deref()
            .is_none_or(|m| !etag_list_matches(m, current));
        let if_ok = match &self.if_header {
            Some(Ok(h)) => h.holds(current, is_path),
            _ => true,
        };
        match_ok && none_match_ok && if_ok
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    Zero,
    One,
    Infinity,
}

impl Depth {
    /// Parses a Depth header; a missing header means `default`.
    pub fn parse(value: Option<&str>, default: Depth) -> Option<Depth> {
        match value.map(str::trim) {
            None => Some(default),
            Some("0") => Some(Depth::Zero),
            Some("1") => Some(Depth::One),
            Some(v) if v.eq_ignore_ascii_case("infinity") => Some(Depth::Infinity),
            Some(_) => None,
        }
    }
}

/// The media type of a Content-Type value, lower-cased and without parameters.
pub fn media_type(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Whether an `If-Match` / `If-None-Match` list matches the current ETag (strong comparison),
/// after the `evolution-escaped-etag` quirk.
pub fn etag_list_matches(header: &str, current: Option<&str>) -> bool {
    let header = unescape_etag_quotes(header);
    if header.trim() == "*" {
        return current.is_some();
    }
    let Some(current) = current else { return false };
    header.split(',').any(|t| {
        let t = t.trim();
        // A weak tag never matches strongly (RFC 9110 §13.1.1).
        !t.starts_with("W/") && t == current
    })
}

/// The vCard version a client asks for in `Accept`, e.g. `text/vcard;version=4.0`.
pub fn accept_vcard_version(accept: &str) -> Option<Version> {
    accept.split(',').find_map(|media| {
        let mut parts = media.split(';').map(str::trim);
        let ty = parts.next()?.to_ascii_lowercase();
        if ty != "text/vcard" && ty != "text/x-vcard" && ty != "text/directory" {
            return None;
        }
        parts.find_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("version")
                .then(|| Version::parse(v.trim().trim_matches('"')))
                .flatten()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> RequestHeaders {
        RequestHeaders::parse(|n| {
            pairs
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn parsed_once_from_any_header_source() {
        let h = headers(&[
            ("depth", "1"),
            ("overwrite", "F"),
            ("prefer", "return=minimal, depth-noroot"),
            ("accept", "text/vcard;version=4.0"),
            ("content-type", "Text/VCard; charset=utf-8"),
            ("user-agent", "DAVx5/4.4 okhttp"),
        ]);
        assert_eq!(h.depth(Depth::Infinity), Ok(Depth::One));
        assert_eq!(h.overwrite(), Ok(false));
        assert_eq!(
            h.prefer,
            Prefer {
                minimal: true,
                no_root: true
            }
        );
        assert_eq!(h.vcard_version, Some(Version::V4));
        assert_eq!(h.media_type, "text/vcard");
        assert_eq!(h.client, Client::Davx5);
        assert!(headers(&[("brief", "t")]).prefer.minimal);
    }

    #[test]
    fn bad_values_are_named() {
        assert_eq!(
            headers(&[("depth", "2")]).depth(Depth::Zero),
            Err(BadHeader::Depth)
        );
        assert_eq!(
            headers(&[("overwrite", "yes")]).overwrite(),
            Err(BadHeader::Overwrite)
        );
        assert!(headers(&[("if", "[\"x\"]")]).malformed_if().is_some());
        assert!(headers(&[]).malformed_if().is_none());
    }

    #[test]
    fn all_preconditions_must_hold() {
        let any = |_: &str| true;
        let h = headers(&[("if-match", "\"a\""), ("if", "(Not [\"b\"])")]);
        assert!(h.conditions_hold(Some("\"a\""), any));
        assert!(!h.conditions_hold(Some("\"b\""), any));
        let create_only = headers(&[("if-none-match", "*")]);
        assert!(create_only.conditions_hold(None, any));
        assert!(!create_only.conditions_hold(Some("\"a\""), any));
    }

    #[test]
    fn etag_matching() {
        assert!(etag_list_matches("\"a\"", Some("\"a\"")));
        assert!(etag_list_matches("\"b\", \"a\"", Some("\"a\"")));
        assert!(etag_list_matches("\\\"a\\\"", Some("\"a\"")));
        assert!(!etag_list_matches("W/\"a\"", Some("\"a\"")));
        assert!(etag_list_matches("*", Some("\"a\"")));
        assert!(!etag_list_matches("*", None));
        assert!(!etag_list_matches("\"a\"", None));
    }

    #[test]
    fn accept_versions() {
        assert_eq!(
            accept_vcard_version("text/vcard;version=4.0"),
            Some(Version::V4)
        );
        assert_eq!(
            accept_vcard_version("text/vcard; version=\"3.0\", */*"),
            Some(Version::V3)
        );
        assert_eq!(accept_vcard_version("text/vcard"), None);
        assert_eq!(
            Depth::parse(Some("infinity"), Depth::Zero),
            Some(Depth::Infinity)
        );
        assert_eq!(Depth::parse(Some("2"), Depth::Zero), None);
    }
}
