//! [`Record`] → iCalendar: a new object for an event first seen in a source, and edits of an
//! existing object that rewrite only the properties whose fields changed.

use super::read::normal_rrule;
use super::tree::{Component, escape, parse};
use super::when::When;
use crate::record::{Field, Record};
use crate::text::decode;
use std::collections::{BTreeMap, HashSet};

fn now_stamp() -> String {
    chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string()
}

fn text_line(name: &str, v: &str) -> String {
    format!("{name}:{}", escape(v))
}

fn when_line(name: &str, v: &str) -> Option<String> {
    When::parse(v).map(|w| w.ical_line(name))
}

fn alarm(minutes: &str) -> Component {
    let mut a = Component::new("VALARM");
    a.props.push("ACTION:DISPLAY".into());
    a.props.push("DESCRIPTION:Reminder".into());
    a.props.push(format!("TRIGGER:-PT{}M", minutes.trim()));
    a
}

fn exdate_lines(r: &Record) -> Vec<String> {
    r.elems(Field::Exdate)
        .filter_map(|(_, e)| When::parse(&e.value))
        .map(|w| w.ical_line("EXDATE"))
        .collect()
}

fn attendee_lines(r: &Record) -> Vec<String> {
    r.elems(Field::Attendee)
        .map(|(_, e)| {
            let (mail, status) = e
                .value
                .split_once(' ')
                .unwrap_or((&e.value, "needs-action"));
            format!("ATTENDEE;PARTSTAT={}:mailto:{mail}", status.to_uppercase())
        })
        .collect()
}

fn categories_line(r: &Record) -> Vec<String> {
    let v: Vec<String> = r
        .elems(Field::Category)
        .map(|(_, e)| escape(&e.value))
        .collect();
    if v.is_empty() {
        Vec::new()
    } else {
        vec![format!("CATEGORIES:{}", v.join(","))]
    }
}

/// The lines a scalar field is written as (none when it is unset).
fn scalar_lines(f: Field, r: &Record) -> Vec<String> {
    let Some(v) = r.get(f) else {
        return Vec::new();
    };
    let line = match f {
        Field::Summary => Some(text_line("SUMMARY", v)),
        Field::Description => Some(text_line("DESCRIPTION", v)),
        Field::Location => Some(text_line("LOCATION", v)),
        Field::Start => when_line("DTSTART", v),
        Field::End => when_line("DTEND", v),
        Field::Recurrence => Some(format!("RRULE:{}", normal_rrule(v))),
        Field::Status => Some(format!("STATUS:{v}")),
        Field::Transparency => Some(format!("TRANSP:{v}")),
        Field::Class => Some(format!("CLASS:{v}")),
        Field::Organizer => Some(format!("ORGANIZER:mailto:{v}")),
        Field::Conference => Some(format!("CONFERENCE;VALUE=URI:{v}")),
        _ => None,
    };
    line.into_iter().collect()
}

const SCALARS: [(Field, &[&str]); 11] = [
    (Field::Summary, &["SUMMARY"]),
    (Field::Description, &["DESCRIPTION"]),
    (Field::Location, &["LOCATION"]),
    (Field::Start, &["DTSTART"]),
    // A computed end replaces DURATION: one of the two, as RFC 5545 wants.
    (Field::End, &["DTEND", "DURATION"]),
    (Field::Recurrence, &["RRULE"]),
    (Field::Status, &["STATUS"]),
    (Field::Transparency, &["TRANSP"]),
    (Field::Class, &["CLASS"]),
    (Field::Organizer, &["ORGANIZER"]),
    (Field::Conference, &["CONFERENCE", "X-GOOGLE-CONFERENCE"]),
];

fn parsed_override(v: &str) -> BTreeMap<String, String> {
    serde_json::from_str(v).unwrap_or_default()
}

/// An override VEVENT for `value` (see [`override_value`]).
fn override_component(uid: &str, value: &str, into: Option<Component>) -> Component {
    let o = parsed_override(value);
    let mut c = into.unwrap_or_else(|| {
        let mut c = Component::new("VEVENT");
        c.props.push(format!("UID:{uid}"));
        c.props.push(format!("DTSTAMP:{}", now_stamp()));
        c
    });
    let get = |k: &str| o.get(k).map(String::as_str);
    if let Some(line) = get("rid").and_then(|v| when_line("RECURRENCE-ID", v)) {
        c.replace(&["RECURRENCE-ID"], vec![line]);
    }
    let pairs: [(&str, &[&str], Option<String>); 6] = [
        (
            "start",
            &["DTSTART"],
            get("start").and_then(|v| when_line("DTSTART", v)),
        ),
        (
            "end",
            &["DTEND", "DURATION"],
            get("end").and_then(|v| when_line("DTEND", v)),
        ),
        (
            "summary",
            &["SUMMARY"],
            get("summary").map(|v| text_line("SUMMARY", v)),
        ),
        (
            "location",
            &["LOCATION"],
            get("location").map(|v| text_line("LOCATION", v)),
        ),
        (
            "description",
            &["DESCRIPTION"],
            get("description").map(|v| text_line("DESCRIPTION", v)),
        ),
        (
            "status",
            &["STATUS"],
            get("status").map(|v| format!("STATUS:{v}")),
        ),
    ];
    for (_, names, line) in pairs {
        c.replace(names, line.into_iter().collect());
    }
    c
}

fn master_component(uid: &str, r: &Record) -> Component {
    let mut ev = Component::new("VEVENT");
    ev.props.push(format!("UID:{uid}"));
    ev.props.push(format!("DTSTAMP:{}", now_stamp()));
    for (f, _) in SCALARS {
        ev.props.extend(scalar_lines(f, r));
    }
    ev.props.extend(exdate_lines(r));
    ev.props.extend(attendee_lines(r));
    ev.props.extend(categories_line(r));
    for (_, e) in r.elems(Field::Alarm) {
        ev.children.push(alarm(&e.value));
    }
    ev
}

/// A new iCalendar object for an event series.
pub fn new_event(uid: &str, r: &Record) -> String {
    let mut cal = Component::new("VCALENDAR");
    cal.props.push("VERSION:2.0".into());
    cal.props.push("PRODID:-//Kith//Kith//EN".into());
    cal.children.push(master_component(uid, r));
    for (_, e) in r.elems(Field::Override) {
        cal.children.push(override_component(uid, &e.value, None));
    }
    let mut out = String::new();
    cal.write(&mut out);
    out
}

fn rid_of(c: &Component) -> Option<String> {
    c.prop("RECURRENCE-ID")
        .and_then(|p| When::from_ical(p.value, p.param("TZID"), p.param("VALUE") == Some("DATE")))
        .map(|w| w.to_string())
}

/// `text` with the fields that differ between `before` and `after` rewritten; every other
/// line stays as it was.
pub fn edit_event(text: &str, before: &Record, after: &Record) -> String {
    let Ok(mut cal) = parse(&decode(text.as_bytes())) else {
        return text.to_string();
    };
    let Some(mi) = cal
        .children
        .iter()
        .position(|c| c.name == "VEVENT" && c.prop("RECURRENCE-ID").is_none())
    else {
        return text.to_string();
    };
    let uid = cal.children[mi]
        .prop("UID")
        .map(|p| p.value.trim().to_string())
        .unwrap_or_default();
    let mut touched = false;
    {
        let ev = &mut cal.children[mi];
        for (f, names) in SCALARS {
            if before.get(f) != after.get(f) {
                ev.replace(names, scalar_lines(f, after));
                touched = true;
            }
        }
        let keys =
            |r: &Record, f: Field| -> Vec<String> { r.elems(f).map(|(k, _)| k.clone()).collect() };
        if keys(before, Field::Exdate) != keys(after, Field::Exdate) {
            ev.replace(&["EXDATE"], exdate_lines(after));
            touched = true;
        }
        if keys(before, Field::Attendee) != keys(after, Field::Attendee) {
            ev.replace(&["ATTENDEE"], attendee_lines(after));
            touched = true;
        }
        if keys(before, Field::Category) != keys(after, Field::Category) {
            ev.replace(&["CATEGORIES"], categories_line(after));
            touched = true;
        }
        let gone: HashSet<String> = before
            .elems(Field::Alarm)
            .filter(|(k, _)| !after.has_elem(Field::Alarm, k))
            .map(|(_, e)| e.value.clone())
            .collect();
        if !gone.is_empty() {
            ev.children.retain(|a| {
                a.name != "VALARM" || !super::read::alarm_key(a).is_some_and(|m| gone.contains(&m))
            });
            touched = true;
        }
        for (k, e) in after.elems(Field::Alarm) {
            if !before.has_elem(Field::Alarm, k) {
                ev.children.push(alarm(&e.value));
                touched = true;
            }
        }
    }
    // Edited occurrences: each by its RECURRENCE-ID; one whose content changed is edited in
    // place, so what Kith does not map in it (its alarms, X- properties) stays.
    let rid = |v: &str| parsed_override(v).get("rid").cloned();
    let old: HashSet<String> = before
        .elems(Field::Override)
        .map(|(k, _)| k.clone())
        .collect();
    let new: HashSet<String> = after
        .elems(Field::Override)
        .map(|(k, _)| k.clone())
        .collect();
    let added: Vec<&String> = after
        .elems(Field::Override)
        .filter(|(k, _)| !old.contains(*k))
        .map(|(_, e)| &e.value)
        .collect();
    let removed: HashSet<String> = before
        .elems(Field::Override)
        .filter(|(k, _)| !new.contains(*k))
        .filter_map(|(_, e)| rid(&e.value))
        .collect();
    let kept_rids: HashSet<String> = added.iter().filter_map(|v| rid(v)).collect();
    if !added.is_empty() || !removed.is_empty() {
        touched = true;
    }
    let mut keep = Vec::new();
    let mut taken: BTreeMap<String, Component> = BTreeMap::new();
    for c in std::mem::take(&mut cal.children) {
        match (c.name == "VEVENT").then(|| rid_of(&c)).flatten() {
            Some(r) if kept_rids.contains(&r) => {
                taken.insert(r, c);
            }
            Some(r) if removed.contains(&r) => {}
            _ => keep.push(c),
        }
    }
    cal.children = keep;
    for v in added {
        let into = rid(v).and_then(|r| taken.remove(&r));
        cal.children.push(override_component(&uid, v, into));
    }
    if !touched {
        return text.to_string();
    }
    // A changed object is a new revision: clients compare SEQUENCE and DTSTAMP.
    for c in cal.children.iter_mut().filter(|c| c.name == "VEVENT") {
        c.replace(&["DTSTAMP"], vec![format!("DTSTAMP:{}", now_stamp())]);
    }
    let mut out = String::new();
    cal.write(&mut out);
    out
}
