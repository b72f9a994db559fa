//! Hrefs: percent-encoding of path segments so every href Kith writes is ASCII-safe.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// Everything but RFC 3986 unreserved characters and a few sub-delims that clients keep as-is.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'@')
    .remove(b'=')
    .remove(b'+')
    .remove(b'$')
    .remove(b'!')
    .remove(b'*')
    .remove(b'(')
    .remove(b')');

pub fn encode_segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// Decodes one path segment; `None` if it is not valid UTF-8 once decoded.
pub fn decode_segment(s: &str) -> Option<String> {
    percent_decode_str(s)
        .decode_utf8()
        .ok()
        // No resource name holds a NUL (and PostgreSQL text cannot store one).
        .filter(|c| !c.contains('\0'))
        .map(|c| c.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for s in [
            "plain.vcf",
            "with space & ä/slash.vcf",
            "a+b@c=d.vcf",
            "100%",
        ] {
            let e = encode_segment(s);
            assert!(e.is_ascii());
            assert!(!e.contains('/'));
            assert_eq!(decode_segment(&e).unwrap(), s);
        }
        assert_eq!(decode_segment("a%00b.vcf"), None);
    }
}
