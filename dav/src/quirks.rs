//! Every client quirk Kith works around, each a named rule with a test. This module is their
//! index. Rules that shape a response live here. The rules that shape a recurrence expansion
//! act on the parsed copy of an event, so they live in `ical::instances`, beside the code they
//! change. Two rules shape the server's connection handling and are in the server's DAV front,
//! where the request is.
//!
//! | rule | client | what Kith does | where, and its test |
//! |---|---|---|---|
//! | `apple-vcard3` | iOS/macOS Contacts | serves vCard 3.0 unless the request asks for a version | here; `tests::apple_vcard3` |
//! | `evolution-escaped-etag` | Evolution | reads `\"` in If-Match/If-None-Match/If as `"` | here; `tests::evolution_escaped_etag` |
//! | `tbsync-permanent-redirect` | TbSync (Thunderbird) | answers `/.well-known/*` with 301, never 302 | here; `tests::tbsync_permanent_redirect` |
//! | `latin1-without-charset` | old Outlook/Android exports | reads non-UTF-8 bytes as Windows-1252 in imports and old rows; a PUT of them is refused with the line | here; `tests::latin1_without_charset` |
//! | `instant-without-end` | any (RFC 5545 §3.6.1 read literally) | a timed event with no DTEND or DURATION lasts zero seconds | `ical::instances`; `instants_and_endless_rules` |
//! | `override-despite-sequence` | Apple, Thunderbird | an override replaces its occurrence whatever its SEQUENCE | `ical::instances`; `weekly_with_exdate_and_moved_override_across_dst` |
//! | `exdate-as-date` | Outlook | a DATE EXDATE removes that day's occurrence of a timed series | `ical::instances`; `exdate_as_date_removes_the_day` |
//! | `dtend-with-duration` | Thunderbird (Lightning) | DTEND wins over `DURATION:PT0S` | `ical::instances`; `lightning_dtend_with_zero_duration` |
//! | `report-depth-ignored` | Thunderbird | a REPORT's `Depth` is ignored (Thunderbird sends 1 on sync-collection) | server `dav/report.rs`; e2e `quirks::report_depth_ignored` |
//! | `propfind-missing-depth` | scripts and older libraries that omit Depth | a PROPFIND without Depth is answered as Depth 1, not refused as the infinity RFC 4918 reads it as (an explicit `Depth: infinity` is 403 `propfind-finite-depth`) | server `dav/propfind.rs`; e2e `quirks::propfind_missing_depth` |
//! | `drain-refused-body` | python-caldav, Apple | a request refused before its body was read has the body drained, so the connection stays open for the retry with credentials | server `dav/mod.rs`; e2e `quirks::drain_refused_body` |
//!
//! The end-to-end suite (`tests/quirks.rs`) has one test per rule of this module against the
//! running server.

use crate::vcard_version::Version;
use std::borrow::Cow;

/// Which client sent a request, from its User-Agent; logged with every request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Client {
    Apple,
    Thunderbird,
    Davx5,
    Evolution,
    CalDavSynchronizer,
    Vdirsyncer,
    Khard,
    Curl,
    #[default]
    Other,
}

impl Client {
    pub fn detect(ua: Option<&str>) -> Client {
        let Some(ua) = ua else { return Client::Other };
        let has = |s: &str| ua.contains(s);
        if has("dataaccessd")
            || has("accountsd")
            || has("remindd")
            || has("AddressBook")
            || has("CalendarAgent")
            || has("iOS/")
            || has("macOS/")
            || has("Mac OS X/")
            || has("Mac_OS_X/")
            || has("CoreDAV")
            || has("DAVKit")
        {
            Client::Apple
        } else if has("DAVx5") || has("DAVdroid") {
            Client::Davx5
        } else if has("Thunderbird") || has("Lightning") {
            Client::Thunderbird
        } else if has("Evolution") {
            Client::Evolution
        } else if has("CalDavSynchronizer") {
            Client::CalDavSynchronizer
        } else if has("vdirsyncer") {
            Client::Vdirsyncer
        } else if has("khard") {
            Client::Khard
        } else if has("curl/") {
            Client::Curl
        } else {
            Client::Other
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Client::Apple => "apple",
            Client::Thunderbird => "thunderbird",
            Client::Davx5 => "davx5",
            Client::Evolution => "evolution",
            Client::CalDavSynchronizer => "caldav-synchronizer",
            Client::Vdirsyncer => "vdirsyncer",
            Client::Khard => "khard",
            Client::Curl => "curl",
            Client::Other => "other",
        }
    }
}

/// Rule `apple-vcard3`: iOS and macOS Contacts read vCard 3.0 only, so a stored 4.0 card is
/// served to them as 3.0 unless they ask for a version.
pub fn default_vcard_version(client: Client) -> Option<Version> {
    match client {
        Client::Apple => Some(Version::V3),
        _ => None,
    }
}

/// Rule `evolution-escaped-etag`: Evolution sends ETags in preconditions with their quotes
/// escaped (`\"abc\"`); unescaped, they compare as the tag it read.
pub fn unescape_etag_quotes(header: &str) -> Cow<'_, str> {
    if header.contains("\\\"") {
        Cow::Owned(header.replace("\\\"", "\""))
    } else {
        Cow::Borrowed(header)
    }
}

/// Rule `tbsync-permanent-redirect`: TbSync does not follow a 302 from `/.well-known/carddav`;
/// Apple and DAVx5 follow either, so every client gets 301.
pub const WELL_KNOWN_REDIRECT: u16 = 301;

/// Rule `latin1-without-charset`: old Outlook and Android exports carry Windows-1252 bytes
/// without a CHARSET. Bytes that are not UTF-8 are read as Windows-1252 (a superset of
/// Latin-1). A PUT of such bytes is refused (see [`crate::bytes`]); this reads imported files
/// and rows stored before that refusal.
pub fn decode_text(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(crate::bytes::windows_1252(bytes)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_common_clients() {
        assert_eq!(
            Client::detect(Some("iOS/17.4 (21E219) dataaccessd/1.0")),
            Client::Apple
        );
        assert_eq!(
            Client::detect(Some("Mozilla/5.0 Thunderbird/128.0")),
            Client::Thunderbird
        );
        assert_eq!(
            Client::detect(Some(
                "DAVx5/4.4 (2024/05/01; dav4jvm; okhttp/4.12) Android/14"
            )),
            Client::Davx5
        );
        assert_eq!(Client::detect(None), Client::Other);
    }

    #[test]
    fn apple_vcard3() {
        let apple = Client::detect(Some("macOS/14.5 (23F79) AddressBookCore/2487.600.111"));
        assert_eq!(default_vcard_version(apple), Some(Version::V3));
        assert_eq!(default_vcard_version(Client::Thunderbird), None);
    }

    #[test]
    fn evolution_escaped_etag() {
        assert_eq!(unescape_etag_quotes("\\\"abc\\\""), "\"abc\"");
        assert!(matches!(unescape_etag_quotes("\"abc\""), Cow::Borrowed(_)));
    }

    #[test]
    fn tbsync_permanent_redirect() {
        assert_eq!(WELL_KNOWN_REDIRECT, 301);
    }

    #[test]
    fn latin1_without_charset() {
        assert_eq!(decode_text(b"Jos\xe9"), "José");
        assert_eq!(decode_text("José".as_bytes()), "José");
    }
}
