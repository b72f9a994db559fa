//! DAV request headers: Depth, Overwrite, preconditions on ETags, Destination, Accept.

use crate::vcard::Version;

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

/// Whether an `If-Match` / `If-None-Match` list matches the current ETag (strong comparison).
/// Evolution sometimes escapes the quotes as `\"`, so those are unescaped first.
pub fn etag_list_matches(header: &str, current: Option<&str>) -> bool {
    let header = header.replace("\\\"", "\"");
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
