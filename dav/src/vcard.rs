//! vCard validation, index extraction and version conversion, on a parsed *copy* of the card.
//!
//! Kith stores the exact bytes a client sent. calcard's writer normalises values (and sometimes
//! truncates dates, see `../shared/research/crates.md` §2.4), so its output is only ever used for
//! on-the-fly version conversion and is never persisted.

use calcard::vcard::{VCard, VCardEntry, VCardProperty, VCardValue, VCardVersion};
use calcard::{Entry, Parser};
use std::borrow::Cow;

pub use crate::vcard_version::Version;

/// Why a body is not an acceptable address object resource.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    #[error("the body is not a vCard: {0}")]
    NotVCard(String),
    #[error("the vCard could not be parsed: {0}")]
    Invalid(String),
    #[error("the body holds more than one vCard; PUT one card per resource")]
    MultipleCards,
}

/// One property of a card, flattened to text for indexing and filtering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardProp {
    /// Upper-case property name without its group (`item1.EMAIL` → `EMAIL`).
    pub name: String,
    /// (upper-case parameter name, value) pairs; a list parameter gives one pair per value.
    pub params: Vec<(String, String)>,
    /// The decoded value: components joined with `;`, list values with `,`.
    pub value: String,
}

#[derive(Debug, Clone)]
pub struct CardInfo {
    /// The UID, if the card has one. Exports from Outlook, Android and Gmail often have none;
    /// such cards are still stored as they came (the server keys them by resource name).
    pub uid: Option<String>,
    /// The VERSION the card declares, if it is 3.0 or 4.0 (2.1 cards are served as they came).
    pub version: Option<Version>,
    pub props: Vec<CardProp>,
}

impl CardInfo {
    pub fn first(&self, name: &str) -> Option<&str> {
        self.props
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.value.as_str())
    }

    /// Values for the index: the properties `addressbook-query` filters on most, case-folded.
    pub fn index_entries(&self) -> Vec<(&str, String)> {
        self.props
            .iter()
            .filter(|p| is_indexed(&p.name))
            .map(|p| (p.name.as_str(), fold_unicode(&p.value).into_owned()))
            .collect()
    }
}

/// Properties copied into the index table, so that queries on them need no card parsing.
pub fn is_indexed(name: &str) -> bool {
    matches!(
        name,
        "UID"
            | "FN"
            | "N"
            | "NICKNAME"
            | "EMAIL"
            | "TEL"
            | "ORG"
            | "CATEGORIES"
            | "KIND"
            | "MEMBER"
    ) || name.starts_with("X-ADDRESSBOOKSERVER-")
}

/// Case folding for `i;unicode-casemap` (RFC 5051 simple folding, approximated by lower-casing).
pub fn fold_unicode(s: &str) -> Cow<'_, str> {
    if s.chars().all(|c| !c.is_uppercase()) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.chars().flat_map(char::to_lowercase).collect())
    }
}

fn parse_one(text: &str) -> Result<VCard, CardError> {
    let mut parser = Parser::new(text);
    let card = match parser.entry() {
        Entry::VCard(card) => card,
        Entry::ICalendar(_) => {
            return Err(CardError::NotVCard("it is an iCalendar object".into()));
        }
        Entry::Eof => return Err(CardError::NotVCard("the body is empty".into())),
        Entry::InvalidLine(l) => {
            return Err(CardError::NotVCard(format!(
                "unexpected line {:?}",
                l.chars().take(60).collect::<String>()
            )));
        }
        other => return Err(CardError::Invalid(format!("{other:?}"))),
    };
    match parser.entry() {
        Entry::Eof => Ok(card),
        Entry::VCard(_) => Err(CardError::MultipleCards),
        _ => Err(CardError::Invalid("content after END:VCARD".into())),
    }
}

/// Validates a card body and extracts what the index needs.
pub fn parse_card(bytes: &[u8]) -> Result<CardInfo, CardError> {
    let text = crate::quirks::decode_text(bytes);
    let card = parse_one(&text)?;
    let uid = card
        .uid()
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_string);
    let version = card.version().and_then(|v| match v {
        VCardVersion::V3_0 => Some(Version::V3),
        VCardVersion::V4_0 => Some(Version::V4),
        _ => None,
    });
    let props = card
        .entries
        .iter()
        .filter(|e| {
            !matches!(
                e.name,
                VCardProperty::Begin | VCardProperty::End | VCardProperty::Version
            )
        })
        .map(flatten)
        .collect();
    Ok(CardInfo {
        uid,
        version,
        props,
    })
}

fn flatten(e: &VCardEntry) -> CardProp {
    let name = e.name.as_str().to_ascii_uppercase();
    let params = e
        .params
        .iter()
        .map(|p| {
            (
                p.name.as_str().to_ascii_uppercase(),
                p.value.clone().into_text().into_owned(),
            )
        })
        .collect();
    let mut value = String::new();
    for (i, v) in e.values.iter().enumerate() {
        if i > 0 {
            value.push(if matches!(e.name, VCardProperty::N | VCardProperty::Adr) {
                ';'
            } else {
                ','
            });
        }
        value_text(v, &mut value);
    }
    CardProp {
        name,
        params,
        value,
    }
}

fn value_text(v: &VCardValue, out: &mut String) {
    match v {
        VCardValue::Text(s) => out.push_str(s),
        VCardValue::Component(parts) => out.push_str(&parts.join(",")),
        VCardValue::Integer(i) => out.push_str(&i.to_string()),
        VCardValue::Float(f) => out.push_str(&f.to_string()),
        VCardValue::Boolean(b) => out.push_str(if *b { "TRUE" } else { "FALSE" }),
        VCardValue::PartialDateTime(d) => {
            let mut s = String::new();
            if let Some(y) = d.year {
                s.push_str(&format!("{y:04}"));
            } else {
                s.push_str("--");
            }
            if let Some(m) = d.month {
                s.push_str(&format!("{m:02}"));
            }
            if let Some(day) = d.day {
                s.push_str(&format!("{day:02}"));
            }
            out.push_str(&s);
        }
        VCardValue::Binary(_) => {}
        other => {
            if let Some(t) = other.as_text() {
                out.push_str(t);
            }
        }
    }
}

/// The card in the requested version: the stored bytes when they already are that version,
/// otherwise calcard's conversion, generated on the fly and never stored.
pub fn convert<'a>(bytes: &'a [u8], info_version: Option<Version>, want: Version) -> Cow<'a, [u8]> {
    if info_version == Some(want) || info_version.is_none() && want == Version::V3 {
        return Cow::Borrowed(bytes);
    }
    let text = crate::quirks::decode_text(bytes);
    let Ok(card) = parse_one(&text) else {
        return Cow::Borrowed(bytes);
    };
    let mut out = String::with_capacity(bytes.len() + 64);
    let target = match want {
        Version::V3 => VCardVersion::V3_0,
        Version::V4 => VCardVersion::V4_0,
    };
    if card.write_to(&mut out, target).is_err() {
        return Cow::Borrowed(bytes);
    }
    let dated = crate::vcard_dates::repair(&text, &out, want);
    Cow::Owned(crate::vcard_groups::rewrite(&dated, want).into_bytes())
}

/// Reads the VERSION line of stored bytes without a full parse (cheap, for GET negotiation).
pub fn sniff_version(bytes: &[u8]) -> Option<Version> {
    let head = &bytes[..bytes.len().min(4096)];
    for line in head.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > 8 && line[..8].eq_ignore_ascii_case(b"VERSION:") {
            return std::str::from_utf8(&line[8..])
                .ok()
                .and_then(Version::parse);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const CARD3: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:abc\r\nFN:Ada Lovelace\r\nN:Lovelace;Ada;;;\r\nitem1.EMAIL;TYPE=INTERNET,WORK:Ada@Example.org\r\nCATEGORIES:math,poetry\r\nEND:VCARD\r\n";

    #[test]
    fn extracts_uid_and_props() {
        let info = parse_card(CARD3.as_bytes()).unwrap();
        assert_eq!(info.uid.as_deref(), Some("abc"));
        assert_eq!(info.version, Some(Version::V3));
        assert_eq!(info.first("FN"), Some("Ada Lovelace"));
        assert_eq!(info.first("EMAIL"), Some("Ada@Example.org"));
        let email = info.props.iter().find(|p| p.name == "EMAIL").unwrap();
        assert!(
            email
                .params
                .iter()
                .any(|(n, v)| n == "TYPE" && v.eq_ignore_ascii_case("work"))
        );
        assert!(
            info.index_entries()
                .contains(&("EMAIL", "ada@example.org".into()))
        );
    }

    #[test]
    fn rejects_what_is_not_one_card() {
        let no_uid = parse_card(b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\nEND:VCARD\r\n").unwrap();
        assert_eq!(no_uid.uid, None);
        let two = format!("{CARD3}{CARD3}");
        assert_eq!(
            parse_card(two.as_bytes()).unwrap_err(),
            CardError::MultipleCards
        );
        assert!(matches!(
            parse_card(b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n").unwrap_err(),
            CardError::NotVCard(_)
        ));
        assert!(parse_card(b"hello world").is_err());
    }

    #[test]
    fn converts_versions_on_demand() {
        let v4 = convert(CARD3.as_bytes(), Some(Version::V3), Version::V4);
        let s = std::str::from_utf8(&v4).unwrap();
        assert!(s.contains("VERSION:4.0"));
        assert!(s.contains("UID:abc"));
        let same = convert(CARD3.as_bytes(), Some(Version::V3), Version::V3);
        assert!(matches!(same, Cow::Borrowed(_)));
        assert_eq!(sniff_version(CARD3.as_bytes()), Some(Version::V3));
    }

    #[test]
    fn windows_1252_bytes_are_accepted() {
        let card = b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:w\r\nFN:Ren\xe9\r\nEND:VCARD\r\n";
        let info = parse_card(card).unwrap();
        assert_eq!(info.first("FN"), Some("Ren\u{e9}"));
    }
}
