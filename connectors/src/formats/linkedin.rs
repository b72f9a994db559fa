//! LinkedIn `Connections.csv`: `First Name,Last Name,URL,Email Address,Company,Position,Connected
//! On` (older exports lack `URL`). The profile URL is the identity; emails are mostly empty.

use super::Format;
use super::table::{Layout, Row};
use super::{RowError, SourceItem, finish};
use crate::normalize;
use crate::record::{Field, Record};

/// LinkedIn's header: names, company and position, with the connection date or profile URL.
pub(super) const LAYOUT: Layout = Layout {
    format: Format::LinkedinCsv,
    recognises: |h| {
        ["first name", "last name", "company", "position"]
            .iter()
            .all(|n| h.has(n))
            && (h.has("connected on") || h.has("url") || h.has("email address"))
    },
    reader: |_| Box::new(row),
};

fn row(row: &Row<'_>) -> Result<SourceItem, RowError> {
    let mut r = Record::default();
    r.set(Field::GivenName, row.get("first name"));
    r.set(Field::FamilyName, row.get("last name"));
    let url = row.get("url");
    if !url.is_empty() {
        if normalize::linkedin_key(url).is_none() {
            return Err(row.error("url", format!("{url:?} is not a LinkedIn profile URL")));
        }
        r.add(Field::Url, url, Some("linkedin"));
    }
    if let Some(e) = row.email("email address")? {
        r.add(Field::Email, e, None);
    }
    r.set(Field::Company, row.get("company"));
    r.set(Field::Title, row.get("position"));
    if let Some(d) = row.date("connected on")? {
        r.set(Field::ConnectedOn, &d);
    }
    if r.get(Field::GivenName).is_none() && r.get(Field::FamilyName).is_none() {
        // LinkedIn lists deactivated members as `,,https://…` rows with nothing else.
        return Err(RowError {
            line: row.line,
            column: Some("First Name".into()),
            id: None,
            message: "the connection has no name (a deactivated LinkedIn member?)".into(),
        });
    }
    let id = r.linkedin();
    finish(r, id, row.line)
}
