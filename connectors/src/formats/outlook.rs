//! Outlook CSV: the Outlook.com/new Outlook layout (61 columns) and the classic desktop layout
//! (every cell quoted, `E-mail Type`, `Categories` split by `;`, `0/0/00` for no date).

use super::Format;
use super::table::{Layout, Row};
use super::{RowError, SourceItem, finish};
use crate::record::address;
use crate::record::{Field, Record};

const PHONES: [(&str, &str); 19] = [
    ("mobile phone", "cell"),
    ("business phone", "work"),
    ("business phone 2", "work"),
    ("home phone", "home"),
    ("home phone 2", "home"),
    ("primary phone", "main"),
    ("company main phone", "main"),
    ("other phone", "other"),
    ("car phone", "car"),
    ("pager", "pager"),
    ("business fax", "fax"),
    ("home fax", "fax"),
    ("other fax", "fax"),
    ("assistant's phone", "assistant"),
    ("callback", "other"),
    ("radio phone", "other"),
    ("isdn", "isdn"),
    ("tty/tdd phone", "textphone"),
    ("telex", "other"),
];

const ADDRESSES: [(&str, &str); 3] = [("business", "work"), ("home", "home"), ("other", "other")];

/// Outlook's header (English or localized): names with its own e-mail, phone or job columns.
pub(super) const LAYOUT: Layout = Layout {
    format: Format::OutlookCsv,
    recognises: |h| {
        h.has("first name")
            && h.has("last name")
            && (h.has("e-mail address") || h.has("business phone") || h.has("job title"))
    },
    reader: |_| Box::new(row),
};

fn row(row: &Row<'_>) -> Result<SourceItem, RowError> {
    let mut r = Record::default();
    r.set(Field::Prefix, row.get("title"));
    r.set(Field::GivenName, row.get("first name"));
    r.set(Field::MiddleName, row.get("middle name"));
    r.set(Field::FamilyName, row.get("last name"));
    r.set(Field::Suffix, row.get("suffix"));
    r.set(Field::Nickname, row.get("nickname"));
    r.set(Field::Company, row.get("company"));
    r.set(Field::Department, row.get("department"));
    r.set(Field::Title, row.get("job title"));
    r.set(Field::Note, row.get("notes"));
    for (n, prefix) in [(1, "e-mail"), (2, "e-mail 2"), (3, "e-mail 3")] {
        let col = format!("{prefix} address");
        // `EX` rows hold an Exchange X.500 DN (`/o=ExchangeLabs/…`), not an address.
        let kind = row.get(&format!("{prefix} type"));
        if kind.eq_ignore_ascii_case("EX") || row.get(&col).starts_with("/o=") {
            continue;
        }
        if let Some(e) = row.email(&col)? {
            r.add(Field::Email, e, (n == 1).then_some("pref"));
        }
    }
    for (col, label) in PHONES {
        r.add(Field::Phone, row.get(col), Some(label));
    }
    for (prefix, label) in ADDRESSES {
        let street: Vec<&str> = ["street", "street 2", "street 3"]
            .iter()
            .map(|s| row.get(&format!("{prefix} {s}")))
            .filter(|s| !s.is_empty())
            .collect();
        let street = street.join("\n");
        let parts = [
            row.get(&format!("{prefix} address po box")),
            "",
            street.as_str(),
            row.get(&format!("{prefix} city")),
            row.get(&format!("{prefix} state")),
            row.get(&format!("{prefix} postal code")),
            row.get(&format!("{prefix} country/region")),
        ];
        if parts.iter().any(|p| !p.is_empty()) {
            r.add(Field::Address, &address(&parts), Some(label));
        }
    }
    r.add(Field::Url, row.get("web page"), Some("work"));
    r.add(Field::Url, row.get("personal web page"), Some("home"));
    if let Some(d) = row.date("birthday")? {
        r.set(Field::Birthday, &d);
    }
    if let Some(d) = row.date("anniversary")? {
        r.set(Field::Anniversary, &d);
    }
    for c in row.get("categories").split(';') {
        r.add(Field::Category, c, None);
    }
    finish(r, None, row.line)
}
