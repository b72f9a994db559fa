//! Writing unified cards. New cards are vCard 4.0 (the DAV layer converts for 3.0 clients).
//! Existing cards are edited line by line: only the lines of fields that changed are replaced,
//! removed or added, so photos, `X-` properties, groups and parameters survive untouched.

use super::lines::{Line, escape, fold, unfold};
use super::read::{CONNECTED_NOTE, CONNECTED_ON, read_line, without_connection_line};
use crate::date::{Date, NO_YEAR_MARKER};
use crate::record::{Elem, Field, Record};

const NAME_PARTS: [Field; 5] = [
    Field::FamilyName,
    Field::GivenName,
    Field::MiddleName,
    Field::Prefix,
    Field::Suffix,
];

/// A new vCard 4.0 for `r`.
pub fn new_card(uid: &str, r: &Record) -> String {
    let v = "4.0";
    let mut lines = vec![
        "BEGIN:VCARD".to_string(),
        format!("VERSION:{v}"),
        "PRODID:-//Kith//Kith//EN".to_string(),
        format!("UID:{}", escape(uid)),
    ];
    let mut fn_line = scalar_line(Field::FullName, r, v);
    if fn_line.is_none() {
        // FN is required; an empty one is valid and keeps clients happy.
        fn_line = Some("FN:".to_string());
    }
    lines.extend(fn_line);
    lines.extend(n_line(r));
    lines.extend(org_line(r));
    for f in [
        Field::Nickname,
        Field::Title,
        Field::Birthday,
        Field::Anniversary,
        Field::ConnectedOn,
    ] {
        lines.extend(scalar_line(f, r, v));
    }
    lines.extend(note_line(r.get(Field::Note), r.get(Field::ConnectedOn), v));
    lines.extend(connected_label(r, 1));
    for f in [Field::Email, Field::Phone, Field::Url, Field::Address] {
        for (_, e) in r.elems(f) {
            lines.push(elem_line(f, e, v));
        }
    }
    lines.extend(categories_line(r));
    lines.push("END:VCARD".to_string());
    let mut out = String::with_capacity(lines.iter().map(|l| l.len() + 4).sum());
    for l in &lines {
        fold(l, &mut out);
    }
    out
}

/// `text` without control characters other than TAB, LF and CR (no vCard value may hold
/// one, and XML cannot carry it), and how many were removed.
pub fn without_controls(text: &str) -> (String, usize) {
    let is_control = |c: &char| (*c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r');
    let removed = text.chars().filter(is_control).count();
    if removed == 0 {
        return (text.to_string(), 0);
    }
    (text.chars().filter(|c| !is_control(c)).collect(), removed)
}

/// Whether a card says it is vCard 2.1.
pub fn is_21(text: &str) -> bool {
    unfold(text)
        .iter()
        .any(|l| l.name().1 == "VERSION" && l.text.trim_end().ends_with("2.1"))
}

/// A vCard 2.1 card (quoted-printable, charsets, bare TYPEs, as old Outlook and phones
/// export) rewritten as 3.0, which every CardDAV client reads; other versions as they are.
pub fn upgrade_21(text: &str) -> String {
    if !is_21(text) {
        return text.to_string();
    }
    let mut parser = calcard::Parser::new(text);
    if let calcard::Entry::VCard(card) = parser.entry() {
        let mut out = String::with_capacity(text.len());
        if card
            .write_to(&mut out, calcard::vcard::VCardVersion::V3_0)
            .is_ok()
        {
            return out;
        }
    }
    text.to_string()
}

/// `text` with its UID set to `uid` (replaced, or added after VERSION), and nothing else
/// changed but line folding.
pub fn with_uid(text: &str, uid: &str) -> String {
    let lines = unfold(text);
    // A card that already carries this UID is kept byte for byte (an export re-imported).
    let uids: Vec<&Line> = lines.iter().filter(|l| l.name().1 == "UID").collect();
    if let [only] = uids.as_slice()
        && only.text.split_once(':').map(|(_, v)| v) == Some(uid)
    {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + uid.len() + 8);
    let new = format!("UID:{uid}");
    let has_uid = lines.iter().any(|l| l.name().1 == "UID");
    let mut done = false;
    for l in &lines {
        let name = l.name().1;
        if name == "UID" {
            if !done {
                fold(&new, &mut out);
                done = true;
            }
            continue;
        }
        fold(&l.text, &mut out);
        if name == "VERSION" && !has_uid && !done {
            fold(&new, &mut out);
            done = true;
        }
    }
    out
}

/// `text` with the fields that differ between `before` (what the card says now) and `after`
/// rewritten. Everything else is kept.
pub fn edit_card(text: &str, before: &Record, after: &Record) -> String {
    let lines = unfold(text);
    let version = lines
        .iter()
        .find(|l| l.name().1 == "VERSION")
        .and_then(|l| l.text.split_once(':').map(|(_, v)| v.trim().to_string()))
        .unwrap_or_else(|| "3.0".to_string());
    let v = version.as_str();
    let mut edit = Edit {
        lines: &lines,
        out: lines.iter().map(|l| Some(l.text.clone())).collect(),
        append: Vec::new(),
    };
    let changed = |f: Field| before.get(f) != after.get(f);

    if NAME_PARTS.iter().any(|f| changed(*f)) {
        edit.replace(&["N"], n_line(after));
    }
    if changed(Field::Company) || changed(Field::Department) {
        edit.replace(&["ORG"], org_line(after));
    }
    for (f, names) in [
        (Field::FullName, &["FN"][..]),
        (Field::Nickname, &["NICKNAME"][..]),
        (Field::Title, &["TITLE"][..]),
        (Field::Birthday, &["BDAY"][..]),
        (Field::Anniversary, &["ANNIVERSARY", "X-ANNIVERSARY"][..]),
        (Field::ConnectedOn, &[CONNECTED_ON][..]),
    ] {
        if changed(f) {
            edit.replace(names, scalar_line(f, after, v));
        }
    }
    if changed(Field::Note) || changed(Field::ConnectedOn) {
        let connected = after.get(Field::ConnectedOn);
        edit.replace(&["NOTE"], note_line(after.get(Field::Note), connected, v));
    }
    if changed(Field::ConnectedOn) {
        edit.remove_labelled(CONNECTED_LABEL);
        let free = edit.free_item();
        edit.append.extend(connected_label(after, free));
    }
    for (f, names) in [
        (Field::Email, &["EMAIL"][..]),
        (Field::Phone, &["TEL"][..]),
        (Field::Url, &["URL", "X-SOCIALPROFILE"][..]),
        (Field::Address, &["ADR"][..]),
    ] {
        let gone: Vec<&String> = before
            .elems(f)
            .map(|(k, _)| k)
            .filter(|k| !after.has_elem(f, k))
            .collect();
        if !gone.is_empty() {
            edit.remove_elems(f, names, &gone, v);
        }
        for (k, e) in after.elems(f) {
            if !before.has_elem(f, k) {
                edit.append.push(elem_line(f, e, v));
            }
        }
    }
    let cats = |r: &Record| {
        r.elems(Field::Category)
            .map(|(k, _)| k.clone())
            .collect::<Vec<_>>()
    };
    if cats(before) != cats(after) {
        edit.replace(&["CATEGORIES"], categories_line(after));
    }
    edit.finish()
}

struct Edit<'a> {
    lines: &'a [Line],
    /// Each original line, replaced (`Some(new)`) or removed (`None`).
    out: Vec<Option<String>>,
    append: Vec<String>,
}

impl Edit<'_> {
    /// Replaces every line named one of `names` by `new` (at the first one's place), or removes
    /// them all when `new` is `None`.
    fn replace(&mut self, names: &[&str], new: Option<String>) {
        let mut new = new;
        for (i, l) in self.lines.iter().enumerate() {
            if names.contains(&l.name().1.as_str()) && self.out[i].is_some() {
                self.out[i] = new.take();
            }
        }
        if let Some(n) = new {
            self.append.push(n);
        }
    }

    /// Removes the lines holding the elements `keys` of `field`, with the rest of their group
    /// (Apple's `itemN.X-ABLabel`).
    fn remove_elems(&mut self, field: Field, names: &[&str], keys: &[&String], version: &str) {
        let mut groups = Vec::new();
        for (i, l) in self.lines.iter().enumerate() {
            let (group, name) = l.name();
            if !names.contains(&name.as_str()) || self.out[i].is_none() {
                continue;
            }
            let r = read_line(version, &l.text);
            if r.elems(field).any(|(k, _)| keys.contains(&k)) {
                self.out[i] = None;
                if let Some(g) = group {
                    groups.push(g.to_ascii_lowercase());
                }
            }
        }
        for (i, l) in self.lines.iter().enumerate() {
            if let (Some(g), _) = l.name()
                && groups.contains(&g.to_ascii_lowercase())
            {
                self.out[i] = None;
            }
        }
    }

    /// Removes every group whose `X-ABLabel` is `label`.
    fn remove_labelled(&mut self, label: &str) {
        let groups: Vec<String> = self
            .lines
            .iter()
            .filter(|l| {
                l.name().1 == "X-ABLABEL"
                    && l.text.split_once(':').map(|(_, v)| v.trim()) == Some(label)
            })
            .filter_map(|l| l.name().0.map(str::to_ascii_lowercase))
            .collect();
        for (i, l) in self.lines.iter().enumerate() {
            if let (Some(g), _) = l.name()
                && groups.contains(&g.to_ascii_lowercase())
            {
                self.out[i] = None;
            }
        }
    }

    /// The lowest `itemN` group number above every one the card uses.
    fn free_item(&self) -> u32 {
        let used = self.lines.iter().filter_map(|l| {
            let g = l.name().0?.to_ascii_lowercase();
            g.strip_prefix("item")?.parse::<u32>().ok()
        });
        used.max().unwrap_or(0) + 1
    }

    fn finish(self) -> String {
        let end = self
            .lines
            .iter()
            .rposition(|l| l.name().1 == "END")
            .unwrap_or(self.lines.len());
        let mut s = String::new();
        for (i, line) in self.out.iter().enumerate() {
            if i == end {
                for a in &self.append {
                    fold(a, &mut s);
                }
            }
            if let Some(l) = line {
                fold(l, &mut s);
            }
        }
        if end == self.lines.len() {
            for a in &self.append {
                fold(a, &mut s);
            }
        }
        s
    }
}

fn charset(version: &str, value: &str) -> &'static str {
    if version == "2.1" && !value.is_ascii() {
        ";CHARSET=UTF-8"
    } else {
        ""
    }
}

fn n_line(r: &Record) -> Option<String> {
    if NAME_PARTS.iter().all(|f| r.get(*f).is_none()) {
        return None;
    }
    let parts: Vec<String> = NAME_PARTS
        .iter()
        .map(|f| escape(r.get(*f).unwrap_or("")))
        .collect();
    Some(format!("N:{}", parts.join(";")))
}

fn org_line(r: &Record) -> Option<String> {
    let company = r.get(Field::Company);
    let dept = r.get(Field::Department);
    if company.is_none() && dept.is_none() {
        return None;
    }
    let mut v = escape(company.unwrap_or(""));
    if let Some(d) = dept {
        v.push(';');
        v.push_str(&escape(d));
    }
    Some(format!("ORG:{v}"))
}

fn date_line(name: &str, value: &str, version: &str) -> Option<String> {
    let d = Date::parse(value).ok()??;
    Some(match (version, d.year) {
        ("4.0", _) => format!("{name}:{}", d.vcard4()),
        (_, Some(_)) => format!("{name}:{d}"),
        // 3.0 has no year-less date; Apple's convention is understood by most clients.
        (_, None) => format!(
            "{name};X-APPLE-OMIT-YEAR={NO_YEAR_MARKER}:{NO_YEAR_MARKER}-{:02}-{:02}",
            d.month, d.day
        ),
    })
}

/// Apple's label for the labelled date that shows LinkedIn's "Connected On" in Contacts.
const CONNECTED_LABEL: &str = "Connected on";

/// The note, with its "Connected on LinkedIn" line (if any) replaced by one for `connected`.
fn note_line(note: Option<&str>, connected: Option<&str>, version: &str) -> Option<String> {
    let mut text = without_connection_line(note.unwrap_or(""));
    if let Some(d) = connected.and_then(|c| Date::parse(c).ok().flatten()) {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(CONNECTED_NOTE);
        text.push_str(&d.to_string());
    }
    (!text.is_empty()).then(|| format!("NOTE{}:{}", charset(version, &text), escape(&text)))
}

/// The labelled date Apple clients show for "Connected On" (group `item{n}`). Birthday
/// calendars read BDAY and ANNIVERSARY only, so it never becomes an event.
fn connected_label(r: &Record, n: u32) -> Vec<String> {
    let Some(d) = r
        .get(Field::ConnectedOn)
        .and_then(|c| Date::parse(c).ok().flatten())
    else {
        return Vec::new();
    };
    vec![
        format!("item{n}.X-ABDATE:{d}"),
        format!("item{n}.X-ABLabel:{CONNECTED_LABEL}"),
    ]
}

fn scalar_line(f: Field, r: &Record, version: &str) -> Option<String> {
    let value = r.get(f)?;
    let simple = |name: &str| format!("{name}{}:{}", charset(version, value), escape(value));
    Some(match f {
        Field::FullName => simple("FN"),
        Field::Nickname => simple("NICKNAME"),
        Field::Title => simple("TITLE"),
        Field::Birthday => return date_line("BDAY", value, version),
        Field::Anniversary if version == "4.0" => return date_line("ANNIVERSARY", value, version),
        Field::Anniversary => return date_line("X-ANNIVERSARY", value, version),
        Field::ConnectedOn => return date_line(CONNECTED_ON, value, "3.0"),
        _ => return None,
    })
}

/// The TYPE a label becomes, where vCard has one.
fn type_param(f: Field, label: Option<&str>, version: &str) -> String {
    let Some(l) = label else {
        return String::new();
    };
    let t = match (f, l) {
        (_, "pref") if version == "4.0" => return ";PREF=1".to_string(),
        (_, "pref") => "pref",
        (_, "work" | "business") => "work",
        (_, "home" | "personal") => "home",
        (Field::Phone, "cell" | "mobile") => "cell",
        (Field::Phone, "fax" | "home fax" | "work fax") => "fax",
        (Field::Phone, "pager") => "pager",
        (Field::Phone, "main") if version != "4.0" => "main",
        (Field::Phone, "textphone") => "textphone",
        _ => return String::new(),
    };
    format!(";TYPE={t}")
}

fn elem_line(f: Field, e: &Elem, version: &str) -> String {
    let ty = type_param(f, e.label.as_deref(), version);
    let cs = charset(version, &e.value);
    match f {
        Field::Email => format!("EMAIL{ty}{cs}:{}", escape(&e.value)),
        Field::Phone => format!("TEL{ty}{cs}:{}", escape(&e.value)),
        // URLs are URIs: commas and semicolons in them are not escaped.
        Field::Url => format!("URL{ty}:{}", e.value),
        Field::Address => {
            let parts: Vec<String> = e.value.split(';').map(escape).collect();
            format!("ADR{ty}{cs}:{}", parts.join(";"))
        }
        _ => String::new(),
    }
}

fn categories_line(r: &Record) -> Option<String> {
    let cats: Vec<String> = r
        .elems(Field::Category)
        .map(|(_, e)| escape(&e.value))
        .collect();
    (!cats.is_empty()).then(|| format!("CATEGORIES:{}", cats.join(",")))
}

#[cfg(test)]
mod tests {
    use super::super::read_card;
    use super::*;

    #[test]
    fn new_cards_read_back_as_written() {
        let mut r = Record::default();
        r.set(Field::GivenName, "Priya");
        r.set(Field::FamilyName, "Sharma");
        r.set(Field::Company, "Stripe, Inc.");
        r.set(Field::Title, "Engineering Manager, Payments");
        r.set(Field::Birthday, "--04-15");
        r.set(Field::ConnectedOn, "2024-03-12");
        r.add(
            Field::Url,
            "https://www.linkedin.com/in/priya-sharma-1a2b3c",
            None,
        );
        r.add(Field::Email, "priya@example.com", Some("work"));
        r.add(
            Field::Address,
            ";;1 Main St\nFloor 2;Oslo;;0357;Norway",
            Some("work"),
        );
        r.add(Field::Category, "Friends, old", None);
        r.fill_full_name();
        let card = new_card("urn:uuid:1", &r);
        let back = read_card(card.as_bytes()).unwrap();
        // The connection date also shows as a labelled date and in the note.
        assert!(card.contains("item1.X-ABDATE:2024-03-12\r\nitem1.X-ABLabel:Connected on\r\n"));
        assert!(card.contains("NOTE:Connected on LinkedIn: 2024-03-12\r\n"));
        assert_eq!(back.record, r, "{card}");
        assert_eq!(back.uid.as_deref(), Some("urn:uuid:1"));
    }

    #[test]
    fn version_21_cards_become_30() {
        let card = "BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J=C3=B6rg\r\nFN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:J=C3=B6rg M=C3=BCller\r\nTEL;WORK;VOICE:+49 30 1234567\r\nBDAY:19740722\r\nX-CUSTOM:kept\r\nEND:VCARD\r\n";
        let out = upgrade_21(card);
        assert!(out.contains("VERSION:3.0"), "{out}");
        assert!(
            out.contains("Jörg Müller") && out.contains("X-CUSTOM:kept"),
            "{out}"
        );
        let before = read_card(card.as_bytes()).unwrap().record;
        assert_eq!(read_card(out.as_bytes()).unwrap().record, before);
        let v3 = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\nEND:VCARD\r\n";
        assert_eq!(upgrade_21(v3), v3);
    }

    #[test]
    fn uids_are_set_and_nothing_else_changes() {
        let card = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:A\r\nPHOTO;ENCODING=b:AAAA\r\nEND:VCARD\r\n";
        let out = with_uid(card, "urn:uuid:1");
        assert_eq!(
            out,
            "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:urn:uuid:1\r\nFN:A\r\nPHOTO;ENCODING=b:AAAA\r\nEND:VCARD\r\n"
        );
        assert_eq!(with_uid(&out, "u2").matches("UID:").count(), 1);
        assert!(with_uid(&out, "u2").contains("UID:u2\r\n"));
    }

    #[test]
    fn edits_touch_only_changed_fields() {
        let card = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:x\r\nFN:Jane Doe\r\nN:Doe;Jane;;;\r\nTITLE:Engineer\r\nitem1.EMAIL;TYPE=INTERNET:old@example.org\r\nitem1.X-ABLabel:school\r\nEMAIL;TYPE=WORK:keep@example.org\r\nPHOTO;ENCODING=b;TYPE=JPEG:AAAA\r\nX-CUSTOM;X-P=1:kept\r\nEND:VCARD\r\n";
        let before = read_card(card.as_bytes()).unwrap().record;
        let mut after = before.clone();
        after.set(Field::Title, "CTO");
        after
            .multis
            .get_mut(&Field::Email)
            .unwrap()
            .remove("old@example.org");
        after.add(Field::Phone, "+47 22 00 00 00", Some("cell"));
        after.set(Field::Birthday, "--02-29");
        let out = edit_card(card, &before, &after);
        assert!(out.contains("TITLE:CTO\r\n"));
        assert!(!out.contains("old@example.org") && !out.contains("X-ABLabel"));
        assert!(out.contains("EMAIL;TYPE=WORK:keep@example.org"));
        assert!(
            out.contains("PHOTO;ENCODING=b;TYPE=JPEG:AAAA") && out.contains("X-CUSTOM;X-P=1:kept")
        );
        assert!(out.contains("BDAY;X-APPLE-OMIT-YEAR=1604:1604-02-29"));
        assert!(
            out.ends_with("TEL;TYPE=cell:+47 22 00 00 00\r\nEND:VCARD\r\n"),
            "{out}"
        );
        assert_eq!(read_card(out.as_bytes()).unwrap().record, after);
    }

    #[test]
    fn a_new_connection_date_replaces_its_label_and_note_line() {
        let card = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:x\r\nFN:Jane Doe\r\nitem1.EMAIL:j@example.org\r\nitem1.X-ABLabel:school\r\nitem2.X-ABDATE:2020-01-01\r\nitem2.X-ABLabel:Connected on\r\nNOTE:Met at PyCon\\nConnected on LinkedIn: 2020-01-01\r\nX-LINKEDIN-CONNECTED-ON:2020-01-01\r\nEND:VCARD\r\n";
        let before = read_card(card.as_bytes()).unwrap().record;
        assert_eq!(before.get(Field::Note), Some("Met at PyCon"));
        let mut after = before.clone();
        after.set(Field::ConnectedOn, "2021-05-06");
        let out = edit_card(card, &before, &after);
        assert!(out.contains("item1.X-ABLabel:school"), "{out}");
        assert!(!out.contains("2020-01-01"), "{out}");
        assert!(out.contains("item3.X-ABDATE:2021-05-06\r\nitem3.X-ABLabel:Connected on"));
        assert!(out.contains("NOTE:Met at PyCon\\nConnected on LinkedIn: 2021-05-06\r\n"));
        assert!(out.contains("X-LINKEDIN-CONNECTED-ON:2021-05-06"));
        // The user's own note edit keeps the connection line.
        let before = read_card(out.as_bytes()).unwrap().record;
        let mut after = before.clone();
        after.set(Field::Note, "Met at RustConf");
        let out = edit_card(&out, &before, &after);
        assert!(out.contains("NOTE:Met at RustConf\\nConnected on LinkedIn: 2021-05-06\r\n"));
    }
}
