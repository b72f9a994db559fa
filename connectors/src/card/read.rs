//! vCard → [`Record`], through calcard (which handles escapes, charsets, quoted-printable and
//! 2.1/3.0/4.0 syntax).

use crate::date::{Date, NO_YEAR_MARKER};
use crate::record::{Field, Record};
use crate::text::decode;
use calcard::vcard::{VCard, VCardEntry, VCardParameterName, VCardProperty, VCardValue};
use calcard::{Entry, Parser};

/// What Kith reads from a card.
#[derive(Debug, Clone)]
pub struct CardRead {
    pub record: Record,
    pub uid: Option<String>,
    /// `2.1`, `3.0` or `4.0`, as the card declares.
    pub version: String,
}

/// The X- property that holds LinkedIn's "Connected On" date.
pub const CONNECTED_ON: &str = "X-LINKEDIN-CONNECTED-ON";
/// The note line that shows it in clients without labelled dates. It is presentation, like
/// the labelled date: written with the note, never read as part of it, so no source is sent it.
pub const CONNECTED_NOTE: &str = "Connected on LinkedIn: ";

/// A note without the "Connected on LinkedIn" line Kith added.
pub(crate) fn without_connection_line(note: &str) -> String {
    let mut kept: Vec<&str> = note
        .split('\n')
        .filter(|l| !l.starts_with(CONNECTED_NOTE))
        .collect();
    while kept.last().is_some_and(|l| l.trim().is_empty()) {
        kept.pop();
    }
    kept.join("\n")
}

pub fn read_card(bytes: &[u8]) -> Result<CardRead, String> {
    let text = decode(bytes);
    let mut parser = Parser::new(&text);
    match parser.entry() {
        Entry::VCard(card) => Ok(from_vcard(&card)),
        Entry::Eof => Err("the card is empty".into()),
        Entry::InvalidLine(l) => Err(format!(
            "unexpected line {:?}",
            l.chars().take(60).collect::<String>()
        )),
        other => Err(format!("not a vCard: {other:?}")),
    }
}

pub(crate) fn from_vcard(card: &VCard) -> CardRead {
    let mut record = Record::default();
    let mut uid = None;
    let mut version = "3.0".to_string();
    for e in &card.entries {
        match e.name {
            VCardProperty::Uid => uid = text(e, 0).map(str::to_string),
            VCardProperty::Version => {
                if let Some(v) = text(e, 0) {
                    version = v.trim().to_string();
                }
            }
            _ => entry(e, &mut record),
        }
    }
    CardRead {
        record,
        uid: uid.filter(|u| !u.trim().is_empty()),
        version,
    }
}

fn text(e: &VCardEntry, i: usize) -> Option<&str> {
    match e.values.get(i)? {
        VCardValue::Text(s) => Some(s.as_str()),
        VCardValue::Component(parts) => parts.first().map(String::as_str),
        _ => None,
    }
}

/// Every text of a value, components joined with a space (`N` middle names, `ORG` units).
fn joined(e: &VCardEntry, i: usize) -> String {
    match e.values.get(i) {
        Some(VCardValue::Text(s)) => s.clone(),
        Some(VCardValue::Component(parts)) => parts.join(" "),
        _ => String::new(),
    }
}

/// The first TYPE that says something (not `INTERNET`, `VOICE` or `X400`).
fn label(e: &VCardEntry) -> Option<String> {
    let mut pref = false;
    for p in &e.params {
        match &p.name {
            VCardParameterName::Type => {
                let t = p.value.clone().into_text().to_lowercase();
                match t.as_str() {
                    "internet" | "voice" | "x400" | "x-internet" => {}
                    "pref" => pref = true,
                    _ => return Some(t),
                }
            }
            VCardParameterName::Pref => pref = true,
            _ => {}
        }
    }
    pref.then(|| "pref".to_string())
}

fn date(e: &VCardEntry) -> Option<String> {
    let omit_year = e.params.iter().any(|p| {
        matches!(&p.name, VCardParameterName::Other(n) if n.eq_ignore_ascii_case("X-APPLE-OMIT-YEAR"))
    });
    let d = match e.values.first()? {
        VCardValue::PartialDateTime(d) => Date::new(d.year.map(i32::from), d.month?, d.day?)?,
        VCardValue::Text(s) => Date::parse(s).ok()??,
        _ => return None,
    };
    let d = if omit_year || d.year == Some(NO_YEAR_MARKER) {
        Date { year: None, ..d }
    } else {
        d
    };
    Some(d.to_string())
}

/// Adds what one property says to the record.
pub(crate) fn entry(e: &VCardEntry, r: &mut Record) {
    let l = label(e);
    let l = l.as_deref();
    match &e.name {
        VCardProperty::Fn => r.set(Field::FullName, &joined(e, 0)),
        VCardProperty::N => {
            r.set(Field::FamilyName, &joined(e, 0));
            r.set(Field::GivenName, &joined(e, 1));
            r.set(Field::MiddleName, &joined(e, 2));
            r.set(Field::Prefix, &joined(e, 3));
            r.set(Field::Suffix, &joined(e, 4));
        }
        VCardProperty::Nickname => r.set(Field::Nickname, &joined(e, 0)),
        VCardProperty::Org => {
            r.set(Field::Company, &joined(e, 0));
            r.set(Field::Department, &joined(e, 1));
        }
        VCardProperty::Title => r.set(Field::Title, &joined(e, 0)),
        VCardProperty::Note => r.set(Field::Note, &without_connection_line(&joined(e, 0))),
        VCardProperty::Bday => {
            if let Some(d) = date(e) {
                r.set(Field::Birthday, &d);
            }
        }
        VCardProperty::Anniversary => {
            if let Some(d) = date(e) {
                r.set(Field::Anniversary, &d);
            }
        }
        VCardProperty::Email => r.add(Field::Email, &joined(e, 0), l),
        VCardProperty::Tel => r.add(Field::Phone, &joined(e, 0), l),
        VCardProperty::Url => r.add(Field::Url, &joined(e, 0), l),
        VCardProperty::Adr => {
            let parts: Vec<String> = (0..7).map(|i| joined(e, i)).collect();
            if parts.iter().any(|p| !p.trim().is_empty()) {
                let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
                r.add(Field::Address, &crate::record::address(&refs), l);
            }
        }
        VCardProperty::Categories => {
            for v in &e.values {
                if let VCardValue::Text(s) = v {
                    r.add(Field::Category, s, None);
                }
            }
        }
        VCardProperty::Other(name) => {
            let n = name.to_ascii_uppercase();
            if n == "X-SOCIALPROFILE" {
                r.add(Field::Url, &joined(e, 0), l);
            } else if n == "X-ANNIVERSARY" {
                if let Some(d) = date(e) {
                    r.set(Field::Anniversary, &d);
                }
            } else if n == CONNECTED_ON
                && let Some(d) = date(e)
            {
                r.set(Field::ConnectedOn, &d);
            }
        }
        _ => {}
    }
}

/// What one content line says, read by wrapping it in a minimal card.
pub(crate) fn read_line(version: &str, line: &str) -> Record {
    let text = format!("BEGIN:VCARD\r\nVERSION:{version}\r\n{line}\r\nEND:VCARD\r\n");
    let mut r = Record::default();
    if let Entry::VCard(card) = Parser::new(&text).entry() {
        for e in &card.entries {
            if e.name != VCardProperty::Version {
                entry(e, &mut r);
            }
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_apple_google_and_outlook_quirks() {
        let card = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:u1\r\nFN:Jane Doe\r\nN:Doe;Jane;;;\r\nORG:Stripe\\, Inc.;Payments\r\nitem1.EMAIL;TYPE=INTERNET,WORK:Jane@Example.org\r\nTEL;TYPE=CELL:+1 555 010 2000\r\nBDAY;X-APPLE-OMIT-YEAR=1604:1604-03-15\r\nX-SOCIALPROFILE;type=linkedin:https://www.linkedin.com/in/JaneDoe/\r\nCATEGORIES:Friends,Work\r\nX-CUSTOM:kept\r\nEND:VCARD\r\n";
        let c = read_card(card.as_bytes()).unwrap();
        let r = &c.record;
        assert_eq!(c.uid.as_deref(), Some("u1"));
        assert_eq!(r.get(Field::Company), Some("Stripe, Inc."));
        assert_eq!(r.get(Field::Department), Some("Payments"));
        assert_eq!(r.get(Field::Birthday), Some("--03-15"));
        assert!(r.has_elem(Field::Email, "jane@example.org"));
        assert!(r.has_elem(Field::Phone, "550102000"));
        assert_eq!(r.linkedin().as_deref(), Some("linkedin.com/in/janedoe"));
        assert!(r.has_elem(Field::Category, "friends"));
        let email = r.elems(Field::Email).next().unwrap().1;
        assert_eq!(email.label.as_deref(), Some("work"));
    }
}
