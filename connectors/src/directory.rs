//! What the organisation directories (Google Workspace directory people, Microsoft 365 users)
//! have in common: the fields a colleague's card holds, and the card a new colleague gets,
//! photo included. A directory is only read, so its card is the whole of what Kith stores.

use crate::card::{fold, new_card};
use crate::formats::SourceItem;
use crate::record::{Field, Record};

/// What a directory says about a colleague.
pub const FIELDS: [Field; 9] = [
    Field::FullName,
    Field::GivenName,
    Field::FamilyName,
    Field::Company,
    Field::Department,
    Field::Title,
    Field::Email,
    Field::Phone,
    Field::Address,
];

/// A colleague's photo: where it is (Google hosts photos), or its bytes (Graph serves them).
pub enum Photo {
    Url(String),
    Jpeg(Vec<u8>),
}

/// A colleague as a source item: the record the plan compares, and the whole card (with the
/// photo, which is not a compared field) that a new colleague's card starts from.
pub fn item(id: &str, record: Record, etag: Option<String>, photo: Option<Photo>) -> SourceItem {
    let mut card = new_card("", &record);
    if let Some(p) = photo {
        let line = match p {
            Photo::Url(u) => format!("PHOTO:{u}"),
            Photo::Jpeg(b) => {
                use base64::Engine;
                format!(
                    "PHOTO:data:image/jpeg;base64,{}",
                    base64::engine::general_purpose::STANDARD.encode(b)
                )
            }
        };
        let mut folded = String::new();
        fold(&line, &mut folded);
        if let Some(at) = card.rfind("END:VCARD") {
            card.insert_str(at, &folded);
        }
    }
    SourceItem {
        id: id.to_string(),
        record,
        line: 0,
        raw: Some(card),
        etag,
        marker: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_colleague_card_keeps_the_photo_folded() {
        let mut r = Record::default();
        r.set(Field::FullName, "Ada Lovelace");
        r.add(Field::Email, "ada@example.org", Some("work"));
        let it = item("u1", r, None, Some(Photo::Jpeg(vec![0xff; 300])));
        let card = it.raw.unwrap();
        assert!(card.contains("FN:Ada Lovelace\r\n"), "{card}");
        assert!(
            card.contains("PHOTO:data:image/jpeg;base64,/////"),
            "{card}"
        );
        assert!(card.split("\r\n").all(|l| l.len() <= 75), "{card}");
        assert!(card.ends_with("END:VCARD\r\n"), "{card}");
    }
}
