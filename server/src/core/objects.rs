//! Turning client bytes into a storable object: parsed once, indexed, with its UID and time
//! span. DAV writes, upstream sync, imports and restores all store what [`prepare`] returns.

use crate::config::Config;
use crate::store::sources::NewCard;
use crate::store::{Collection, Kind, NewObject};
use kith_dav::ical::{CalError, instances, parse_calendar};
use kith_dav::vcard::{CardError, parse_card};

/// The content type stored with a card.
pub const CARD_CONTENT_TYPE: &str = "text/vcard; charset=utf-8";

/// The content type stored with a calendar object of component type `component`.
pub fn calendar_content_type(component: &str) -> String {
    format!(
        "text/calendar; charset=utf-8; component={}",
        component.to_ascii_lowercase()
    )
}

/// An object ready to store: bytes with the index and span a write needs.
pub struct Prepared {
    pub name: String,
    pub uid: String,
    pub etag: String,
    pub content_type: String,
    pub data: Vec<u8>,
    pub index: Vec<(String, String)>,
    pub span: Option<(i64, i64)>,
}

impl Prepared {
    /// The card a sync run writes.
    pub fn into_card(self) -> NewCard {
        NewCard {
            uid: self.uid,
            etag: self.etag,
            content_type: self.content_type,
            span: self.span,
            data: self.data,
            index: self.index,
        }
    }

    pub fn as_new(&self) -> NewObject<'_> {
        NewObject {
            name: &self.name,
            uid: &self.uid,
            etag: &self.etag,
            content_type: &self.content_type,
            data: &self.data,
            index: self
                .index
                .iter()
                .map(|(k, v)| (k.as_str(), v.clone()))
                .collect(),
            span: self.span,
        }
    }
}

/// Why bytes cannot be stored in a collection. The DAV front answers each with its RFC
/// precondition; the other fronts show the message.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error(transparent)]
    Card(#[from] CardError),
    #[error(transparent)]
    Calendar(#[from] CalError),
    /// The calendar declares which components it holds, and this is not one.
    #[error("this calendar holds {} only, not {found}", allowed.join(", "))]
    Component {
        allowed: Vec<String>,
        found: &'static str,
    },
}

/// Parses `data` as a member of `coll` and computes what storing it needs. The bytes are kept
/// as they are. Every write (DAV, upstream sync, import, restore) goes through here.
pub fn prepare(
    config: &Config,
    coll: &Collection,
    name: &str,
    data: Vec<u8>,
    etag: String,
) -> Result<Prepared, ObjectError> {
    match coll.kind {
        Kind::Addressbook => Ok(prepare_card(name, data, etag)?),
        Kind::Calendar => {
            let obj = parse_calendar(&data)?;
            if !coll.components.iter().any(|c| c == obj.component) {
                return Err(ObjectError::Component {
                    allowed: coll.components.clone(),
                    found: obj.component,
                });
            }
            let span = instances::span(&obj.ical, config.caldav.max_instances);
            Ok(Prepared {
                name: name.to_string(),
                uid: obj.uid.clone(),
                etag,
                content_type: calendar_content_type(obj.component),
                data,
                index: Vec::new(),
                span: Some(span),
            })
        }
    }
}

/// [`prepare`] for what a sync run writes: a card, or an event in a calendar (any calendar
/// Kith makes for a source holds events).
pub fn prepare_synced(
    kind: kith_connectors::object::ObjectKind,
    name: &str,
    data: Vec<u8>,
    etag: String,
) -> Result<Prepared, ObjectError> {
    match kind {
        kith_connectors::object::ObjectKind::Card => Ok(prepare_card(name, data, etag)?),
        kith_connectors::object::ObjectKind::Event => {
            let obj = parse_calendar(&data)?;
            let limit = crate::config::CaldavSection::default().max_instances;
            let span = instances::span(&obj.ical, limit);
            Ok(Prepared {
                name: name.to_string(),
                uid: obj.uid.clone(),
                etag,
                content_type: calendar_content_type(obj.component),
                data,
                index: Vec::new(),
                span: Some(span),
            })
        }
    }
}

/// [`prepare`] for a card, wherever it is bound (sync plans cards before they have a book).
pub fn prepare_card(name: &str, data: Vec<u8>, etag: String) -> Result<Prepared, CardError> {
    let info = parse_card(&data)?;
    let index = info
        .index_entries()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    Ok(Prepared {
        name: name.to_string(),
        uid: crate::store::effective_uid(&info, name),
        etag,
        content_type: CARD_CONTENT_TYPE.into(),
        data,
        index,
        span: None,
    })
}
