//! Checks on the raw bytes of a PUT body, before any parsing: what would break another client
//! if stored (RFC 6352 §6.3.2.1, RFC 4791 §5.3.2.1). Each answer names the line, from 1, so the
//! refusal can say where to look.

/// Something in a body that Kith refuses to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unstorable {
    /// A control character other than TAB, LF and CR: XML cannot carry it.
    Control { byte: u8, line: usize },
    /// Bytes that are not UTF-8, which vCard 4.0, iCalendar and CardDAV's XML require.
    NotUtf8 { byte: u8, line: usize },
    /// U+FFFE or U+FFFF: UTF-8, but not characters XML can carry.
    NonCharacter { code: u32, line: usize },
}

fn line_of(body: &[u8], at: usize) -> usize {
    body[..at].iter().filter(|b| **b == b'\n').count() + 1
}

/// The first byte of `body` that Kith will not store, if any.
pub fn unstorable(body: &[u8]) -> Option<Unstorable> {
    let control = body
        .iter()
        .position(|b| *b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
        .map(|at| Unstorable::Control {
            byte: body[at],
            line: line_of(body, at),
        });
    let bad = unstorable_utf8(body);
    let nonchar = body
        .windows(3)
        .position(|w| w[0] == 0xef && w[1] == 0xbf && matches!(w[2], 0xbe | 0xbf))
        .map(|at| Unstorable::NonCharacter {
            code: 0xfffe + u32::from(body[at + 2] - 0xbe),
            line: line_of(body, at),
        });
    // The first problem in the body, by line.
    [control, bad, nonchar]
        .into_iter()
        .flatten()
        .min_by_key(|u| match u {
            Unstorable::Control { line, .. }
            | Unstorable::NotUtf8 { line, .. }
            | Unstorable::NonCharacter { line, .. } => *line,
        })
}

/// Lines (as bytes, without their end) whose property name, ignoring a group and case, is
/// `name`.
fn lines_named<'a>(body: &'a [u8], name: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    body.split(|b| *b == b'\n').filter(move |line| {
        let end = line
            .iter()
            .position(|b| matches!(b, b':' | b';'))
            .unwrap_or(line.len());
        let full = &line[..end];
        let bare = full
            .iter()
            .rposition(|b| *b == b'.')
            .map_or(full, |dot| &full[dot + 1..]);
        bare.eq_ignore_ascii_case(name)
    })
}

/// Whether a card has more than one UID (RFC 6350 allows at most one, and the book's
/// uniqueness rests on it).
pub fn several_uids(card: &[u8]) -> bool {
    lines_named(card, b"UID").count() > 1
}

/// Whether a card says it is vCard 2.1, which CardDAV does not carry (RFC 6352 §5.1 names 3.0,
/// and 4.0 is the current version).
pub fn is_vcard_21(card: &[u8]) -> bool {
    lines_named(card, b"VERSION").any(|l| {
        let value = l.splitn(2, |b| *b == b':').nth(1).unwrap_or(b"");
        value.trim_ascii() == b"2.1"
    })
}

/// Windows-1252's characters for 0x80..=0x9F (where it differs from Latin-1); the five bytes
/// it leaves undefined keep their Latin-1 code points.
const CP1252_HIGH: [char; 32] = [
    '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž', '\u{8f}',
    '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}', 'ž', 'Ÿ',
];

/// `bytes` read as Windows-1252, a superset of Latin-1.
pub fn windows_1252(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            0x80..=0x9F => CP1252_HIGH[usize::from(b - 0x80)],
            _ => char::from(b),
        })
        .collect()
}

/// `body` made storable, with a sentence for each kind of change, or `None` when it already
/// is: bytes that are not UTF-8 are read as Windows-1252 (what Outlook and old phones write),
/// and control characters other than TAB, LF and CR are removed. For rows stored before Kith
/// refused such bytes, and for imported files.
pub fn repaired(body: &[u8]) -> Option<(String, Vec<String>)> {
    unstorable(body)?;
    let mut notes = Vec::new();
    let text = match std::str::from_utf8(body) {
        Ok(t) => t.to_string(),
        Err(_) => {
            if let Some(Unstorable::NotUtf8 { line, .. }) = unstorable_utf8(body) {
                notes.push(format!(
                    "bytes that are not UTF-8 (from line {line}) were read as Windows-1252"
                ));
            }
            windows_1252(body)
        }
    };
    let mut lines = Vec::new();
    let mut line = 1;
    let clean: String = text
        .chars()
        .filter(|c| {
            if *c == '\n' {
                line += 1;
            }
            let control = ((*c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r'))
                || matches!(c, '\u{fffe}' | '\u{ffff}');
            if control && lines.last() != Some(&line) {
                lines.push(line);
            }
            !control
        })
        .collect();
    if !lines.is_empty() {
        let list: Vec<String> = lines.iter().map(usize::to_string).collect();
        notes.push(format!(
            "control characters or U+FFFE/U+FFFF removed (line {})",
            list.join(", ")
        ));
    }
    Some((clean, notes))
}

fn unstorable_utf8(body: &[u8]) -> Option<Unstorable> {
    std::str::from_utf8(body).err().map(|e| {
        let at = e.valid_up_to();
        Unstorable::NotUtf8 {
            byte: body[at],
            line: line_of(body, at),
        }
    })
}

/// A card without its second and later UID lines, or `None` when it has at most one.
pub fn without_extra_uids(card: &str) -> Option<String> {
    if !several_uids(card.as_bytes()) {
        return None;
    }
    let mut seen = false;
    let mut out = String::with_capacity(card.len());
    for line in card.split_inclusive('\n') {
        if lines_named(line.as_bytes(), b"UID").next().is_some() {
            if seen {
                continue;
            }
            seen = true;
        }
        out.push_str(line);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_and_bad_utf8_are_found_with_their_line() {
        assert_eq!(unstorable(b"BEGIN:VCARD\r\nNOTE:tab\tok\r\n"), None);
        assert_eq!(
            unstorable(b"BEGIN:VCARD\r\nNOTE:bell\x07\r\n"),
            Some(Unstorable::Control { byte: 7, line: 2 })
        );
        assert_eq!(
            unstorable(b"BEGIN:VCARD\r\nFN:Ren\xe9\r\nNOTE:\x07\r\n"),
            Some(Unstorable::NotUtf8 {
                byte: 0xe9,
                line: 2
            })
        );
        assert_eq!(unstorable("FN:Müller\r\n".as_bytes()), None);
        assert_eq!(
            unstorable("FN:a\r\nNOTE:\u{ffff}\r\n".as_bytes()),
            Some(Unstorable::NonCharacter {
                code: 0xffff,
                line: 2
            })
        );
    }

    #[test]
    fn uids_and_versions_are_read_by_name() {
        assert!(several_uids(b"UID:a\r\nitem1.uid;X=1:b\r\n"));
        assert!(!several_uids(b"UID:a\r\nX-UID:b\r\nNOTE:UID:c\r\n"));
        assert!(is_vcard_21(b"BEGIN:VCARD\r\nVERSION:2.1\r\n"));
        assert!(is_vcard_21(b"BEGIN:VCARD\nversion: 2.1 \n"));
        assert!(!is_vcard_21(
            b"BEGIN:VCARD\r\nVERSION:3.0\r\nNOTE:VERSION:2.1\r\n"
        ));
    }

    #[test]
    fn repair_reads_windows_1252_and_drops_control_characters() {
        assert_eq!(repaired(b"FN:ok\r\n"), None);
        let (text, notes) = repaired(b"FN:Ren\xe9 \x93Q\x94\r\nNOTE:a\x07b\x01\r\n").unwrap();
        assert_eq!(text, "FN:René “Q”\r\nNOTE:ab\r\n");
        assert_eq!(
            notes,
            [
                "bytes that are not UTF-8 (from line 1) were read as Windows-1252",
                "control characters or U+FFFE/U+FFFF removed (line 2)"
            ]
        );
        assert_eq!(
            without_extra_uids("UID:a\r\nFN:x\r\nUID:b\r\n").as_deref(),
            Some("UID:a\r\nFN:x\r\n")
        );
        assert_eq!(without_extra_uids("UID:a\r\n"), None);
    }
}
