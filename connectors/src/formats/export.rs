//! Writing contacts as the CSV layouts Google, Outlook and LinkedIn use, so that their importers
//! (and Kith's own, in this module's sibling readers) read them back. Each layout holds only
//! some fields; [`CsvLayout::fields`] says which, and the round-trip tests check exactly those.
//!
//! Google's layout has as many numbered groups as the busiest contact needs, so an export
//! measures every record first ([`CsvExport::measure`]) and writes rows in a second pass; both
//! passes stream.

use crate::date::Date;
use crate::record::{Elem, Field, Record};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvLayout {
    Google,
    Outlook,
    Linkedin,
}

/// Outlook's phone columns, by the label each is read back with.
const OUTLOOK_PHONES: [(&str, &str); 19] = [
    ("Mobile Phone", "cell"),
    ("Business Phone", "work"),
    ("Business Phone 2", "work"),
    ("Home Phone", "home"),
    ("Home Phone 2", "home"),
    ("Primary Phone", "main"),
    ("Company Main Phone", "main"),
    ("Car Phone", "car"),
    ("Pager", "pager"),
    ("Business Fax", "fax"),
    ("Home Fax", "fax"),
    ("Other Fax", "fax"),
    ("Assistant's Phone", "assistant"),
    ("ISDN", "isdn"),
    ("TTY/TDD Phone", "textphone"),
    ("Other Phone", "other"),
    ("Callback", "other"),
    ("Radio Phone", "other"),
    ("Telex", "other"),
];

const OUTLOOK_ADDRESSES: [(&str, &str); 3] =
    [("Business", "work"), ("Home", "home"), ("Other", "other")];

const ADDRESS_PARTS: [&str; 7] = [
    "PO Box",
    "Extended Address",
    "Street",
    "City",
    "Region",
    "Postal Code",
    "Country",
];

impl CsvLayout {
    /// The fields this layout holds, so that they survive an export and re-import.
    pub fn fields(self) -> &'static [Field] {
        match self {
            // Google's and Outlook's layouts have columns for the same fields; they differ in
            // how many values and which labels fit.
            CsvLayout::Google | CsvLayout::Outlook => &[
                Field::GivenName,
                Field::MiddleName,
                Field::FamilyName,
                Field::Prefix,
                Field::Suffix,
                Field::Nickname,
                Field::Company,
                Field::Title,
                Field::Department,
                Field::Birthday,
                Field::Anniversary,
                Field::Note,
                Field::Email,
                Field::Phone,
                Field::Url,
                Field::Address,
                Field::Category,
            ],
            CsvLayout::Linkedin => &[
                Field::GivenName,
                Field::FamilyName,
                Field::Company,
                Field::Title,
                Field::Email,
                Field::Url,
                Field::ConnectedOn,
            ],
        }
    }
}

/// A CSV export in one layout.
pub struct CsvExport {
    layout: CsvLayout,
    emails: usize,
    phones: usize,
    urls: usize,
    addresses: usize,
}

/// "work" as Google writes it: "Work".
fn google_label(e: &Elem) -> String {
    let l = e.label.as_deref().unwrap_or("");
    let mut c = l.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The first-name cell: the given name, or for a card with only a full name (FN without N),
/// the full name, so the contact keeps its name in layouts that have no full-name column.
fn given(r: &Record) -> String {
    let parts = [Field::GivenName, Field::MiddleName, Field::FamilyName];
    if parts.iter().all(|f| r.get(*f).is_none()) {
        return r.get(Field::FullName).unwrap_or("").to_string();
    }
    r.get(Field::GivenName).unwrap_or("").to_string()
}

fn date_parse(s: &str) -> Option<Date> {
    Date::parse(s).ok().flatten()
}

impl CsvExport {
    pub fn new(layout: CsvLayout) -> CsvExport {
        CsvExport {
            layout,
            emails: 1,
            phones: 1,
            urls: 1,
            addresses: 1,
        }
    }

    /// Widens Google's numbered groups to fit `r` (the other layouts have fixed columns).
    pub fn measure(&mut self, r: &Record) {
        let n = |f| r.elems(f).count();
        self.emails = self.emails.max(n(Field::Email));
        self.phones = self.phones.max(n(Field::Phone));
        self.urls = self.urls.max(n(Field::Url));
        self.addresses = self.addresses.max(n(Field::Address));
    }

    pub fn needs_measuring(&self) -> bool {
        self.layout == CsvLayout::Google
    }

    pub fn header(&self) -> Vec<String> {
        let fixed = |names: &[&str]| names.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        match self.layout {
            CsvLayout::Linkedin => fixed(&[
                "First Name",
                "Last Name",
                "URL",
                "Email Address",
                "Company",
                "Position",
                "Connected On",
            ]),
            CsvLayout::Google => {
                let mut h = fixed(&[
                    "First Name",
                    "Middle Name",
                    "Last Name",
                    "Name Prefix",
                    "Name Suffix",
                    "Nickname",
                    "Organization Name",
                    "Organization Title",
                    "Organization Department",
                    "Birthday",
                    "Notes",
                    "Labels",
                ]);
                let group = |h: &mut Vec<String>, kind: &str, n: usize, subs: &[&str]| {
                    for i in 1..=n {
                        for s in subs {
                            h.push(format!("{kind} {i} - {s}"));
                        }
                    }
                };
                group(&mut h, "E-mail", self.emails, &["Label", "Value"]);
                group(&mut h, "Phone", self.phones, &["Label", "Value"]);
                let mut addr = vec!["Label"];
                addr.extend(ADDRESS_PARTS);
                group(&mut h, "Address", self.addresses, &addr);
                group(&mut h, "Website", self.urls, &["Label", "Value"]);
                group(&mut h, "Event", 1, &["Label", "Value"]);
                h
            }
            CsvLayout::Outlook => {
                let mut h = fixed(&[
                    "Title",
                    "First Name",
                    "Middle Name",
                    "Last Name",
                    "Suffix",
                    "Nickname",
                    "Company",
                    "Department",
                    "Job Title",
                    "E-mail Address",
                    "E-mail 2 Address",
                    "E-mail 3 Address",
                ]);
                h.extend(OUTLOOK_PHONES.iter().map(|(c, _)| c.to_string()));
                for (prefix, _) in OUTLOOK_ADDRESSES {
                    for s in [
                        "Street",
                        "City",
                        "State",
                        "Postal Code",
                        "Country/Region",
                        "Address PO Box",
                    ] {
                        h.push(format!("{prefix} {s}"));
                    }
                }
                h.extend(fixed(&[
                    "Web Page",
                    "Personal Web Page",
                    "Birthday",
                    "Anniversary",
                    "Categories",
                    "Notes",
                ]));
                h
            }
        }
    }

    /// One row for `r`, in header order. Values the layout cannot hold are left out.
    pub fn row(&self, r: &Record) -> Vec<String> {
        match self.layout {
            CsvLayout::Linkedin => self.linkedin(r),
            CsvLayout::Google => self.google(r),
            CsvLayout::Outlook => self.outlook(r),
        }
    }

    fn linkedin(&self, r: &Record) -> Vec<String> {
        let get = |f| r.get(f).unwrap_or("").to_string();
        let url = r
            .elems(Field::Url)
            .find(|(_, e)| crate::normalize::linkedin_key(&e.value).is_some())
            .map(|(_, e)| e.value.clone())
            .unwrap_or_default();
        let email = r
            .elems(Field::Email)
            .next()
            .map(|(_, e)| e.value.clone())
            .unwrap_or_default();
        // LinkedIn writes "15 Mar 2021".
        let connected = r
            .get(Field::ConnectedOn)
            .and_then(date_parse)
            .and_then(|d| {
                let month = [
                    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                    "Dec",
                ]
                .get(usize::from(d.month).checked_sub(1)?)?;
                Some(format!("{:02} {month} {:04}", d.day, d.year?))
            })
            .unwrap_or_default();
        vec![
            given(r),
            get(Field::FamilyName),
            url,
            email,
            get(Field::Company),
            get(Field::Title),
            connected,
        ]
    }

    fn google(&self, r: &Record) -> Vec<String> {
        let get = |f| r.get(f).unwrap_or("").to_string();
        let labels: Vec<&str> = r
            .elems(Field::Category)
            .map(|(_, e)| e.value.as_str())
            .collect();
        let mut row = vec![
            given(r),
            get(Field::MiddleName),
            get(Field::FamilyName),
            get(Field::Prefix),
            get(Field::Suffix),
            get(Field::Nickname),
            get(Field::Company),
            get(Field::Title),
            get(Field::Department),
            get(Field::Birthday),
            get(Field::Note),
            labels.join(" ::: "),
        ];
        let pairs = |row: &mut Vec<String>, f: Field, n: usize| {
            let mut elems = r.elems(f);
            for _ in 0..n {
                match elems.next() {
                    Some((_, e)) => {
                        row.push(google_label(e));
                        row.push(e.value.clone());
                    }
                    None => row.extend([String::new(), String::new()]),
                }
            }
        };
        pairs(&mut row, Field::Email, self.emails);
        pairs(&mut row, Field::Phone, self.phones);
        let mut addrs = r.elems(Field::Address);
        for _ in 0..self.addresses {
            match addrs.next() {
                Some((_, e)) => {
                    row.push(google_label(e));
                    let mut parts: Vec<String> = e.value.split(';').map(str::to_string).collect();
                    parts.resize(7, String::new());
                    row.extend(parts);
                }
                None => row.extend(std::iter::repeat_n(String::new(), 8)),
            }
        }
        pairs(&mut row, Field::Url, self.urls);
        match r.get(Field::Anniversary) {
            Some(d) => row.extend(["Anniversary".to_string(), d.to_string()]),
            None => row.extend([String::new(), String::new()]),
        }
        row
    }

    fn outlook(&self, r: &Record) -> Vec<String> {
        let get = |f| r.get(f).unwrap_or("").to_string();
        let mut row = vec![
            get(Field::Prefix),
            given(r),
            get(Field::MiddleName),
            get(Field::FamilyName),
            get(Field::Suffix),
            get(Field::Nickname),
            get(Field::Company),
            get(Field::Department),
            get(Field::Title),
        ];
        let mut emails = r.elems(Field::Email).map(|(_, e)| e.value.clone());
        for _ in 0..3 {
            row.push(emails.next().unwrap_or_default());
        }
        // Each phone takes the first free column read back with its label, else a free
        // "other" column.
        let mut phones = vec![String::new(); OUTLOOK_PHONES.len()];
        for (_, e) in r.elems(Field::Phone) {
            let label = e.label.as_deref().unwrap_or("other");
            let slot = OUTLOOK_PHONES
                .iter()
                .enumerate()
                .find(|(i, (_, l))| *l == label && phones[*i].is_empty())
                .or_else(|| {
                    OUTLOOK_PHONES
                        .iter()
                        .enumerate()
                        .find(|(i, (_, l))| *l == "other" && phones[*i].is_empty())
                });
            if let Some((i, _)) = slot {
                phones[i] = e.value.clone();
            }
        }
        row.extend(phones);
        let mut addresses: [Option<&Elem>; 3] = [None; 3];
        for (_, e) in r.elems(Field::Address) {
            let label = e.label.as_deref().unwrap_or("other");
            let slot = OUTLOOK_ADDRESSES
                .iter()
                .position(|(_, l)| *l == label)
                .filter(|i| addresses[*i].is_none())
                .or_else(|| {
                    addresses
                        .iter()
                        .position(Option::is_none)
                        .filter(|i| *i == 2)
                });
            if let Some(i) = slot {
                addresses[i] = Some(e);
            }
        }
        for a in addresses {
            let mut p: Vec<&str> = a.map_or(vec![], |e| e.value.split(';').collect());
            p.resize(7, "");
            // Outlook: Street, City, State, Postal Code, Country/Region, PO Box.
            row.extend([p[2], p[3], p[4], p[5], p[6], p[0]].map(str::to_string));
        }
        let mut urls: [String; 2] = Default::default();
        let mut rest = Vec::new();
        for (_, e) in r.elems(Field::Url) {
            match e.label.as_deref() {
                Some("work") if urls[0].is_empty() => urls[0] = e.value.clone(),
                Some("home") if urls[1].is_empty() => urls[1] = e.value.clone(),
                _ => rest.push(e.value.clone()),
            }
        }
        for v in rest {
            if let Some(free) = urls.iter_mut().find(|u| u.is_empty()) {
                *free = v;
            }
        }
        row.extend(urls);
        // Outlook reads US dates; a date without a year has no Outlook form.
        let us = |f| {
            r.get(f)
                .and_then(date_parse)
                .and_then(|d| Some(format!("{}/{}/{:04}", d.month, d.day, d.year?)))
                .unwrap_or_default()
        };
        row.push(us(Field::Birthday));
        row.push(us(Field::Anniversary));
        let cats: Vec<&str> = r
            .elems(Field::Category)
            .map(|(_, e)| e.value.as_str())
            .collect();
        row.push(cats.join(";"));
        row.push(get(Field::Note));
        row
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::{Format, read};

    fn sample() -> Record {
        let mut r = Record::default();
        r.set(Field::GivenName, "Ada");
        r.set(Field::MiddleName, "Augusta");
        r.set(Field::FamilyName, "Lovelace");
        r.set(Field::Prefix, "Lady");
        r.set(Field::Suffix, "FRS");
        r.set(Field::Nickname, "Countess");
        r.set(Field::Company, "Analytical Engines");
        r.set(Field::Title, "Programmer");
        r.set(Field::Department, "Notes, \"G\"");
        r.set(Field::Birthday, "1815-12-10");
        r.set(Field::Anniversary, "1835-07-08");
        r.set(Field::Note, "First line\nsecond, with a comma");
        r.set(Field::ConnectedOn, "2021-03-15");
        r.add(Field::Email, "ada@example.org", Some("work"));
        r.add(Field::Email, "ada@home.example", Some("home"));
        r.add(Field::Phone, "+44 20 7946 0001", Some("cell"));
        r.add(Field::Phone, "+44 20 7946 0002", Some("work"));
        r.add(
            Field::Url,
            "https://www.linkedin.com/in/ada-lovelace",
            Some("linkedin"),
        );
        r.add(Field::Url, "https://ada.example", Some("home"));
        r.add(
            Field::Address,
            "PO 1;;12 St James's Square;London;;SW1Y 4JH;UK",
            Some("home"),
        );
        r.add(Field::Category, "Family", None);
        r.add(Field::Category, "Math", None);
        r
    }

    fn write(layout: CsvLayout, r: &Record) -> Vec<u8> {
        let mut ex = CsvExport::new(layout);
        ex.measure(r);
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(ex.header()).unwrap();
        w.write_record(ex.row(r)).unwrap();
        w.into_inner().unwrap()
    }

    fn round_trip(layout: CsvLayout, format: Format) {
        let mut r = sample();
        if layout == CsvLayout::Linkedin {
            // LinkedIn holds one email and the profile URL only.
            r.multis
                .get_mut(&Field::Email)
                .unwrap()
                .remove("ada@home.example");
            r.multis
                .get_mut(&Field::Url)
                .unwrap()
                .retain(|_, e| e.label.as_deref() == Some("linkedin"));
        }
        let bytes = write(layout, &r);
        let back = read(&bytes, Some(format)).unwrap();
        assert!(back.errors.is_empty(), "{:?}", back.errors);
        assert_eq!(back.items.len(), 1);
        let got = &back.items[0].record;
        for f in layout.fields() {
            let want = r.project(&[*f]);
            let have = got.project(&[*f]);
            // Outlook and LinkedIn CSV carry no labels for emails; the values must survive.
            let values = |x: &Record| -> Vec<String> {
                x.scalars
                    .values()
                    .cloned()
                    .chain(x.multis.values().flat_map(|m| m.keys().cloned()))
                    .collect()
            };
            assert_eq!(values(&have), values(&want), "{layout:?} {f:?}");
        }
    }

    #[test]
    fn a_card_with_only_a_full_name_keeps_it() {
        let mut r = Record::default();
        r.set(Field::FullName, "Grace Hopper");
        r.add(Field::Email, "grace@example.org", None);
        for (layout, format) in [
            (CsvLayout::Google, Format::GoogleCsv),
            (CsvLayout::Outlook, Format::OutlookCsv),
            (CsvLayout::Linkedin, Format::LinkedinCsv),
        ] {
            let back = read(&write(layout, &r), Some(format)).unwrap();
            assert_eq!(
                back.items[0].record.get(Field::FullName),
                Some("Grace Hopper"),
                "{layout:?}"
            );
        }
    }

    #[test]
    fn google_csv_round_trips_its_fields() {
        round_trip(CsvLayout::Google, Format::GoogleCsv);
    }

    #[test]
    fn outlook_csv_round_trips_its_fields() {
        round_trip(CsvLayout::Outlook, Format::OutlookCsv);
    }

    #[test]
    fn linkedin_csv_round_trips_its_fields() {
        round_trip(CsvLayout::Linkedin, Format::LinkedinCsv);
    }
}
