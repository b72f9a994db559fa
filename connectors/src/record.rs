//! The normalized projection of a contact. Sources, bases and unified cards are all compared in
//! this form, so formatting differences (case, phone punctuation, trailing slashes) never look
//! like edits.

use crate::normalize;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Field {
    FullName,
    FamilyName,
    GivenName,
    MiddleName,
    Prefix,
    Suffix,
    Nickname,
    Company,
    Department,
    Title,
    Birthday,
    Anniversary,
    Note,
    /// LinkedIn's "Connected On": when the connection was made. Not a birthday.
    ConnectedOn,
    Email,
    Phone,
    Url,
    Address,
    Category,
    // Calendar events (see `crate::event`): the projection of a VEVENT series that calendar
    // sources sync. Not contact fields: `Field::ALL` leaves them out.
    Summary,
    Description,
    Location,
    /// `2026-03-01` (a date), `2026-03-01T09:00:00 Europe/Berlin`, `2026-03-01T08:00:00Z`
    /// or a floating `2026-03-01T09:00:00`.
    Start,
    End,
    /// The RRULE, its parts in a fixed order.
    Recurrence,
    /// A cancelled occurrence, by its start in the form of `Start`.
    Exdate,
    Status,
    Transparency,
    Class,
    Organizer,
    /// `email partstat`: read from the source, shown, never written to it.
    Attendee,
    /// A reminder: the trigger relative to the start (`-PT15M`).
    Alarm,
    Conference,
    /// A moved or edited occurrence: JSON of its own fields with its `rid`.
    Override,
}

impl Field {
    /// The identity of an element of this multi-valued field, in normal form: values that
    /// name one element (two spellings of one phone number) have one key.
    pub fn key(self, value: &str) -> String {
        match self {
            Field::Email => normalize::email_key(value),
            Field::Phone => normalize::phone_key(value),
            Field::Url => normalize::url_key(value),
            // An edited occurrence is identified by all it says: a change is a removal and
            // an addition, so merges and diffs see it.
            Field::Override => value.to_string(),
            _ => value
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase(),
        }
    }

    pub const ALL: [Field; 19] = [
        Field::FullName,
        Field::FamilyName,
        Field::GivenName,
        Field::MiddleName,
        Field::Prefix,
        Field::Suffix,
        Field::Nickname,
        Field::Company,
        Field::Department,
        Field::Title,
        Field::Birthday,
        Field::Anniversary,
        Field::Note,
        Field::ConnectedOn,
        Field::Email,
        Field::Phone,
        Field::Url,
        Field::Address,
        Field::Category,
    ];

    /// The fields of a calendar event.
    pub const EVENT: [Field; 16] = [
        Field::Summary,
        Field::Description,
        Field::Location,
        Field::Start,
        Field::End,
        Field::Recurrence,
        Field::Exdate,
        Field::Status,
        Field::Transparency,
        Field::Class,
        Field::Organizer,
        Field::Attendee,
        Field::Alarm,
        Field::Conference,
        Field::Override,
        Field::Category,
    ];

    /// Contact and event fields: what merges and diffs walk.
    pub fn every() -> impl Iterator<Item = Field> {
        Field::ALL
            .into_iter()
            .chain(Field::EVENT.into_iter().filter(|f| *f != Field::Category))
    }

    /// Multi-valued fields are merged element by element.
    pub fn is_multi(self) -> bool {
        matches!(
            self,
            Field::Email
                | Field::Phone
                | Field::Url
                | Field::Address
                | Field::Category
                | Field::Exdate
                | Field::Attendee
                | Field::Alarm
                | Field::Override
        )
    }

    /// The name used in rules, the CLI and plans.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::FullName => "full-name",
            Field::FamilyName => "family-name",
            Field::GivenName => "given-name",
            Field::MiddleName => "middle-name",
            Field::Prefix => "prefix",
            Field::Suffix => "suffix",
            Field::Nickname => "nickname",
            Field::Company => "company",
            Field::Department => "department",
            Field::Title => "title",
            Field::Birthday => "birthday",
            Field::Anniversary => "anniversary",
            Field::Note => "note",
            Field::ConnectedOn => "connected-on",
            Field::Email => "email",
            Field::Phone => "phone",
            Field::Url => "url",
            Field::Address => "address",
            Field::Category => "category",
            Field::Summary => "summary",
            Field::Description => "description",
            Field::Location => "location",
            Field::Start => "start",
            Field::End => "end",
            Field::Recurrence => "recurrence",
            Field::Exdate => "exdate",
            Field::Status => "status",
            Field::Transparency => "transparency",
            Field::Class => "class",
            Field::Organizer => "organizer",
            Field::Attendee => "attendee",
            Field::Alarm => "alarm",
            Field::Conference => "conference",
            Field::Override => "override",
        }
    }

    pub fn parse(s: &str) -> Option<Field> {
        let s = s.trim().to_ascii_lowercase().replace('_', "-");
        Field::every().find(|f| f.as_str() == s)
    }
}

/// One value of a multi-valued field. Elements are identified by their normalized key, so
/// `Ada@Example.org` and `ada@example.org` are one element.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Elem {
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scalars: BTreeMap<Field, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub multis: BTreeMap<Field, BTreeMap<String, Elem>>,
}

impl Record {
    /// Sets a scalar field; blank values are ignored.
    pub fn set(&mut self, field: Field, value: &str) {
        let v = normalize::text(value);
        if !v.is_empty() {
            self.scalars.insert(field, v);
        }
    }

    pub fn get(&self, field: Field) -> Option<&str> {
        self.scalars.get(&field).map(String::as_str)
    }

    /// Adds an element of a multi-valued field; blank values are ignored, and a value already
    /// present (by normalized key) keeps its first form.
    pub fn add(&mut self, field: Field, value: &str, label: Option<&str>) {
        let value = normalize::text(value);
        let key = field.key(&value);
        if key.is_empty() {
            return;
        }
        let label = label.map(normalize::label).filter(|l| !l.is_empty());
        self.multis
            .entry(field)
            .or_default()
            .entry(key)
            .or_insert(Elem { value, label });
    }

    pub fn elems(&self, field: Field) -> impl Iterator<Item = (&String, &Elem)> {
        self.multis.get(&field).into_iter().flatten()
    }

    pub fn has_elem(&self, field: Field, key: &str) -> bool {
        self.multis.get(&field).is_some_and(|m| m.contains_key(key))
    }

    pub fn is_empty(&self) -> bool {
        self.scalars.is_empty() && self.multis.values().all(BTreeMap::is_empty)
    }

    /// The name to show for this contact in plans and summaries.
    pub fn display_name(&self) -> String {
        if let Some(n) = self.get(Field::FullName).or(self.get(Field::Summary)) {
            return n.to_string();
        }
        let parts: Vec<&str> = [Field::GivenName, Field::FamilyName]
            .into_iter()
            .filter_map(|f| self.get(f))
            .collect();
        if !parts.is_empty() {
            return parts.join(" ");
        }
        self.get(Field::Company)
            .map(str::to_string)
            .or_else(|| {
                self.elems(Field::Email)
                    .next()
                    .map(|(_, e)| e.value.clone())
            })
            .unwrap_or_else(|| "(no name)".to_string())
    }

    /// Fills FN from the name parts (or company, or email) when a source gave none: every vCard
    /// needs one, and CSV exports carry only the parts.
    pub fn fill_full_name(&mut self) {
        if self.get(Field::FullName).is_none() {
            let parts: Vec<&str> = [
                Field::Prefix,
                Field::GivenName,
                Field::MiddleName,
                Field::FamilyName,
                Field::Suffix,
            ]
            .into_iter()
            .filter_map(|f| self.get(f))
            .collect();
            let name = if parts.is_empty() {
                self.display_name()
            } else {
                parts.join(" ")
            };
            if name != "(no name)" {
                self.set(Field::FullName, &name);
            }
        }
    }

    /// The LinkedIn profile this record points at, normalized, if any.
    pub fn linkedin(&self) -> Option<String> {
        self.elems(Field::Url)
            .find_map(|(_, e)| normalize::linkedin_key(&e.value))
    }

    /// A stable fingerprint of the record (used as the version marker of file rows).
    pub fn hash(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        blake3::hash(&json).to_hex()[..32].to_string()
    }

    /// Only the given fields: what a source can represent.
    pub fn project(&self, fields: &[Field]) -> Record {
        Record {
            scalars: self
                .scalars
                .iter()
                .filter(|(f, _)| fields.contains(f))
                .map(|(f, v)| (*f, v.clone()))
                .collect(),
            multis: self
                .multis
                .iter()
                .filter(|(f, m)| fields.contains(f) && !m.is_empty())
                .map(|(f, v)| (*f, v.clone()))
                .collect(),
        }
    }
}

/// An address as one element value: the seven ADR components (PO box, extended, street, city,
/// region, postal code, country) joined by `;`.
pub fn address(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| p.trim().replace(';', ","))
        .collect::<Vec<_>>()
        .join(";")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_are_keyed_by_normalized_value() {
        let mut r = Record::default();
        r.add(Field::Email, "Ada@Example.org", Some("* Work"));
        r.add(Field::Email, "ada@example.org ", None);
        r.add(Field::Url, "https://www.linkedin.com/in/Ada-L/", None);
        assert_eq!(r.elems(Field::Email).count(), 1);
        assert_eq!(
            r.elems(Field::Email).next().unwrap().1.label.as_deref(),
            Some("work")
        );
        assert_eq!(r.linkedin().as_deref(), Some("linkedin.com/in/ada-l"));
        let json = serde_json::to_string(&r).unwrap();
        let back: Record = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.hash(), r.hash());
    }

    #[test]
    fn full_name_is_filled_from_parts() {
        let mut r = Record::default();
        r.set(Field::GivenName, "Priya");
        r.set(Field::FamilyName, "Sharma");
        r.fill_full_name();
        assert_eq!(r.get(Field::FullName), Some("Priya Sharma"));
        assert_eq!(Field::parse("Given_Name"), Some(Field::GivenName));
    }
}
