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

/// Whether `b` stands for itself in a segment: the bytes [`SEGMENT`] leaves out.
fn kept(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.' | b'_' | b'~' | b'@' | b'=' | b'+' | b'$' | b'!' | b'*' | b'(' | b')'
        )
}

pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_segment(&mut out, s);
    out
}

/// [`encode_segment`], appending to `out`. Most names need no encoding and are copied as they
/// are.
pub fn push_segment(out: &mut String, s: &str) {
    if s.bytes().all(kept) {
        out.push_str(s);
    } else {
        out.extend(utf8_percent_encode(s, SEGMENT));
    }
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
    fn the_fast_path_agrees_with_the_encoder() {
        for b in 0..=127u8 {
            let s = (b as char).to_string();
            let slow = utf8_percent_encode(&s, SEGMENT).to_string();
            assert_eq!(kept(b), slow == s, "byte {b}");
            assert_eq!(encode_segment(&s), slow);
        }
        assert_eq!(encode_segment("Zoë Ü.vcf"), "Zo%C3%AB%20%C3%9C.vcf");
    }

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
