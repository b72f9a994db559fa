//! Every clock reading and timestamp format the server uses, in one place, on jiff.
//!
//! Times are Unix milliseconds everywhere inside Kith; they become text only at the edges, in
//! the handful of formats below.

use jiff::Timestamp;

pub use kith_connectors::time::now_ms;

fn format(ms: i64, pattern: &str) -> Option<String> {
    Timestamp::from_millisecond(ms)
        .ok()
        .map(|t| t.strftime(pattern).to_string())
}

/// An HTTP-date (RFC 9110 IMF-fixdate), for `getlastmodified` and listings.
pub fn http_date(ms: i64) -> String {
    // Whole seconds: an HTTP-date has no fraction, and rounding down keeps it stable.
    format(ms.div_euclid(1000) * 1000, "%a, %d %b %Y %H:%M:%S GMT").unwrap_or_default()
}

/// Reads an HTTP-date (IMF-fixdate, `Wed, 20 Dec 2023 10:03:31 GMT`) as Unix ms.
pub fn parse_http_date(s: &str) -> Option<i64> {
    jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(s.trim())
        .ok()
        .map(|t| t.as_millisecond())
}

/// RFC 3339 in UTC, to the second: `2026-11-29T09:03:00Z`. What people read and type back.
pub fn rfc3339(ms: i64) -> String {
    Timestamp::from_second(ms.div_euclid(1000))
        .map(|t| t.to_string())
        .unwrap_or_else(|_| ms.to_string())
}

/// A run summary's time: `2026-11-29 09:03:00 UTC`.
pub fn readable(ms: i64) -> String {
    format(ms, "%Y-%m-%d %H:%M:%S UTC").unwrap_or_default()
}

/// A file-name stamp that sorts by time: `20261129T090300Z`.
pub fn file_stamp(ms: i64) -> String {
    format(ms, "%Y%m%dT%H%M%SZ").unwrap_or_else(|| ms.to_string())
}

/// A file-name day: `20261129`.
pub fn file_day(ms: i64) -> String {
    format(ms, "%Y%m%d").unwrap_or_default()
}

/// Reads an RFC 3339 time (with `Z` or an offset) as Unix ms.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    s.trim()
        .parse::<Timestamp>()
        .ok()
        .map(|t| t.as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        assert_eq!(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(784_111_777_000), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(http_date(951_782_400_999), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777_000)
        );
        assert_eq!(parse_http_date("next week"), None);
    }

    #[test]
    fn people_and_file_formats() {
        let ms = 1_764_407_000_123;
        assert_eq!(rfc3339(ms), "2025-11-29T09:03:20Z");
        assert_eq!(readable(ms), "2025-11-29 09:03:20 UTC");
        assert_eq!(file_stamp(ms), "20251129T090320Z");
        assert_eq!(file_day(ms), "20251129");
        assert_eq!(
            parse_rfc3339("2025-11-29T10:03:20+01:00"),
            Some(1_764_407_000_000)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
