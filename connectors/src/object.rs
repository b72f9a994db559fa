//! What a source's items become in Kith: cards in an address book, or events in a calendar.
//! The engine plans both alike; only reading, writing and naming the objects differ.

use crate::record::Record;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ObjectKind {
    #[default]
    Card,
    Event,
}

/// What Kith reads from one stored object.
pub struct ObjectRead {
    pub record: Record,
    pub uid: Option<String>,
}

impl ObjectKind {
    pub fn read(self, bytes: &[u8]) -> Result<ObjectRead, String> {
        match self {
            ObjectKind::Card => crate::card::read_card(bytes).map(|c| ObjectRead {
                record: c.record,
                uid: c.uid,
            }),
            ObjectKind::Event => crate::event::read_event(bytes).map(|e| ObjectRead {
                record: e.record,
                uid: e.uid,
            }),
        }
    }

    pub fn new_object(self, uid: &str, r: &Record) -> String {
        match self {
            ObjectKind::Card => crate::card::new_card(uid, r),
            ObjectKind::Event => crate::event::new_event(uid, r),
        }
    }

    /// `text` with what changed from `before` to `after` rewritten, the rest kept.
    pub fn edit(self, text: &str, before: &Record, after: &Record) -> String {
        match self {
            ObjectKind::Card => crate::card::edit_card(text, before, after),
            ObjectKind::Event => crate::event::edit_event(text, before, after),
        }
    }

    /// The resource name of a new object made from a fresh id.
    pub fn resource(self, fresh: &str) -> String {
        match self {
            ObjectKind::Card => format!("{fresh}.vcf"),
            ObjectKind::Event => format!("{fresh}.ics"),
        }
    }

    /// The UID of a new object made from a fresh id.
    pub fn uid(self, fresh: &str) -> String {
        match self {
            ObjectKind::Card => format!("urn:uuid:{fresh}"),
            ObjectKind::Event => format!("{fresh}@kith"),
        }
    }

    /// How plans and messages name one item.
    pub fn noun(self) -> &'static str {
        match self {
            ObjectKind::Card => "card",
            ObjectKind::Event => "event",
        }
    }
}
