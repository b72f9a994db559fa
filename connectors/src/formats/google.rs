//! Google Contacts CSV, current (`First Name`, `Labels`, `E-mail 1 - Label`) and legacy
//! (`Given Name`, `Group Membership`, `E-mail 1 - Type`) layouts. Numbered groups are as many as
//! the busiest contact needs, a cell may hold several values joined by ` ::: `, and `* ` marks
//! the primary value or a system group.

use super::Format;
use super::table::{Header, Layout, Row};
use super::{RowError, SourceItem, finish};
use crate::record::{Field, Record};

const SEP: &str = " ::: ";

#[derive(Default)]
struct Group {
    kind: String,
    cols: Vec<(String, usize)>,
}

impl Group {
    fn col(&self, sub: &str) -> Option<usize> {
        self.cols.iter().find(|(s, _)| s == sub).map(|(_, i)| *i)
    }
}

/// Google's header, current (`First Name`, `Labels`) or legacy (`Given Name`, `Group
/// Membership`). The numbered groups are found once per file.
pub(super) const LAYOUT: Layout = Layout {
    format: Format::GoogleCsv,
    recognises: |h| {
        (h.has("given name")
            && h.has("family name")
            && (h.has("group membership") || h.has("name")))
            || (h.has("first name")
                && h.has("last name")
                && (h.has("organization name") || h.has("labels") || h.has("e-mail 1 - value")))
    },
    reader: |h| {
        let groups = Groups::new(h);
        Box::new(move |row| groups.row(row))
    },
};

struct Groups {
    groups: Vec<Group>,
}

impl Groups {
    fn new(h: &Header) -> Groups {
        let mut groups: Vec<Group> = Vec::new();
        for (i, name) in h.names.iter().enumerate() {
            let Some((head, sub)) = name.split_once(" - ") else {
                continue;
            };
            let Some((kind, n)) = head.rsplit_once(' ') else {
                continue;
            };
            if n.parse::<u32>().is_err() {
                continue;
            }
            let key = format!("{kind} {n}");
            match groups.iter_mut().find(|g| g.kind == key) {
                Some(g) => g.cols.push((sub.to_string(), i)),
                None => groups.push(Group {
                    kind: key,
                    cols: vec![(sub.to_string(), i)],
                }),
            }
        }
        Groups { groups }
    }

    fn row(&self, row: &Row<'_>) -> Result<SourceItem, RowError> {
        let mut r = Record::default();
        let either = |a: &str, b: &str| {
            let v = row.get(a);
            if v.is_empty() { row.get(b) } else { v }
        };
        r.set(Field::FullName, row.get("name"));
        r.set(Field::GivenName, either("first name", "given name"));
        r.set(Field::MiddleName, either("middle name", "additional name"));
        r.set(Field::FamilyName, either("last name", "family name"));
        r.set(Field::Prefix, row.get("name prefix"));
        r.set(Field::Suffix, row.get("name suffix"));
        r.set(Field::Nickname, row.get("nickname"));
        r.set(Field::Company, row.get("organization name"));
        r.set(Field::Title, row.get("organization title"));
        r.set(Field::Department, row.get("organization department"));
        r.set(Field::Note, row.get("notes"));
        if let Some(d) = row.date("birthday")? {
            r.set(Field::Birthday, &d);
        }
        for label in either("labels", "group membership").split(SEP) {
            // `* myContacts`, `* starred`: Google's system groups, not the user's labels.
            if !label.trim().starts_with('*') {
                r.add(Field::Category, label, None);
            }
        }
        for g in &self.groups {
            self.group(row, g, &mut r)?;
        }
        finish(r, None, row.line)
    }

    fn group(&self, row: &Row<'_>, g: &Group, r: &mut Record) -> Result<(), RowError> {
        let cell = |sub: &str| g.col(sub).map_or("", |i| row.at(i));
        let label = {
            let l = cell("label");
            if l.is_empty() { cell("type") } else { l }
        };
        let label = (!label.is_empty()).then_some(label);
        let values = || {
            cell("value")
                .split(SEP)
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let kind = g.kind.rsplit_once(' ').map_or("", |(k, _)| k);
        match kind {
            "e-mail" => {
                for v in values() {
                    if !v.contains('@') {
                        let col = format!("{} - value", g.kind);
                        return Err(row.error(&col, format!("{v:?} is not an email address")));
                    }
                    r.add(Field::Email, v, label);
                }
            }
            "phone" => values().for_each(|v| r.add(Field::Phone, v, label)),
            "website" => values().for_each(|v| r.add(Field::Url, v, label)),
            "event"
                if label.is_some_and(|l| {
                    l.trim_start_matches("* ")
                        .eq_ignore_ascii_case("anniversary")
                }) =>
            {
                let col = format!("{} - value", g.kind);
                match crate::date::Date::parse(cell("value")) {
                    Ok(Some(d)) => r.set(Field::Anniversary, &d.to_string()),
                    Ok(None) => {}
                    Err(m) => return Err(row.error(&col, m)),
                }
            }
            "organization" if r.get(Field::Company).is_none() => {
                r.set(Field::Company, cell("name"));
                r.set(Field::Title, cell("title"));
                r.set(Field::Department, cell("department"));
            }
            "address" => {
                let parts = [
                    cell("po box"),
                    cell("extended address"),
                    cell("street"),
                    cell("city"),
                    cell("region"),
                    cell("postal code"),
                    cell("country"),
                ];
                if parts.iter().any(|p| !p.is_empty()) {
                    r.add(Field::Address, &crate::record::address(&parts), label);
                } else if !cell("formatted").is_empty() {
                    // Only the formatted block: keep it as the street so nothing is lost.
                    r.add(
                        Field::Address,
                        &crate::record::address(&["", "", cell("formatted"), "", "", "", ""]),
                        label,
                    );
                }
            }
            _ => {}
        }
        Ok(())
    }
}
