//! iCalendar → [`Record`]: the master VEVENT's fields, its cancelled occurrences and its
//! edited ones. What is not projected (VTIMEZONE, X- properties, absolute alarms, attachments)
//! is not read here and stays in the object.

use super::tree::{Component, Prop, parse, unescape};
use super::when::{When, duration_secs};
use crate::record::{Field, Record};
use crate::text::decode;
use chrono::Duration;
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct EventRead {
    pub record: Record,
    pub uid: Option<String>,
}

fn when(p: &Prop<'_>) -> Option<When> {
    When::from_ical(p.value, p.param("TZID"), p.param("VALUE") == Some("DATE"))
}

/// The start and end of a VEVENT, the end computed from DURATION (or the RFC 5545 default)
/// when there is no DTEND.
pub(super) fn span(c: &Component) -> (Option<When>, Option<When>) {
    let start = c.prop("DTSTART").and_then(|p| when(&p));
    let end = c.prop("DTEND").and_then(|p| when(&p)).or_else(|| {
        let s = start.as_ref()?;
        match c.prop("DURATION").and_then(|p| duration_secs(p.value)) {
            Some(d) => Some(s.plus(Duration::seconds(d))),
            None if s.is_date() => Some(s.plus(Duration::days(1))),
            None => None,
        }
    });
    (start, end)
}

/// An RRULE with its parts in a fixed order (FREQ first, then by name), upper-cased.
pub fn normal_rrule(v: &str) -> String {
    let mut parts: Vec<String> = v
        .trim()
        .split(';')
        .filter(|p| !p.is_empty())
        .map(|p| p.to_ascii_uppercase())
        .filter(|p| p != "INTERVAL=1")
        .collect();
    parts.sort_by_key(|p| (!p.starts_with("FREQ="), p.clone()));
    parts.join(";")
}

fn text(c: &Component, name: &str) -> Option<String> {
    c.prop(name)
        .map(|p| unescape(p.value))
        .filter(|v| !v.trim().is_empty())
}

/// An alarm's element key: its minutes before the start, as text.
pub(super) fn alarm_key(a: &Component) -> Option<String> {
    alarm_minutes(a).map(|m| m.to_string())
}

/// Minutes before the start of a display alarm relative to the start, if it is one.
fn alarm_minutes(a: &Component) -> Option<i64> {
    let t = a.prop("TRIGGER")?;
    if t.param("VALUE") == Some("DATE-TIME") || t.param("RELATED") == Some("END") {
        return None;
    }
    let secs = duration_secs(t.value)?;
    (secs <= 0 && secs % 60 == 0).then_some(-secs / 60)
}

/// The projection of one override (an edited occurrence): JSON with sorted keys.
pub(super) fn override_value(c: &Component) -> Option<String> {
    let rid = c.prop("RECURRENCE-ID").and_then(|p| when(&p))?;
    let (start, end) = span(c);
    let mut m = BTreeMap::new();
    m.insert("rid", rid.to_string());
    if let Some(s) = start {
        m.insert("start", s.to_string());
    }
    if let Some(e) = end {
        m.insert("end", e.to_string());
    }
    for (k, name) in [
        ("summary", "SUMMARY"),
        ("location", "LOCATION"),
        ("description", "DESCRIPTION"),
    ] {
        if let Some(v) = text(c, name) {
            m.insert(k, crate::normalize::text(&v));
        }
    }
    if let Some(s) = c
        .prop("STATUS")
        .map(|p| p.value.trim().to_ascii_uppercase())
        && s != "CONFIRMED"
    {
        m.insert("status", s);
    }
    serde_json::to_string(&m).ok()
}

fn email(v: &str) -> String {
    let v = v.trim();
    v.get(..7)
        .filter(|p| p.eq_ignore_ascii_case("mailto:"))
        .map(|_| &v[7..])
        .unwrap_or(v)
        .to_string()
}

pub fn read_master(ev: &Component, record: &mut Record) {
    for (f, name) in [
        (Field::Summary, "SUMMARY"),
        (Field::Description, "DESCRIPTION"),
        (Field::Location, "LOCATION"),
    ] {
        if let Some(v) = text(ev, name) {
            record.set(f, &v);
        }
    }
    let (start, end) = span(ev);
    if let Some(s) = &start {
        record.set(Field::Start, &s.to_string());
    }
    if let Some(e) = end {
        record.set(Field::End, &e.to_string());
    }
    if let Some(r) = ev.prop("RRULE") {
        record.set(Field::Recurrence, &normal_rrule(r.value));
    }
    for p in ev.props_named("EXDATE") {
        let date = p.param("VALUE") == Some("DATE");
        for v in p.value.split(',') {
            if let Some(w) = When::from_ical(v, p.param("TZID"), date) {
                record.add(Field::Exdate, &w.to_string(), None);
            }
        }
    }
    for (f, name, default) in [
        (Field::Status, "STATUS", "CONFIRMED"),
        (Field::Transparency, "TRANSP", "OPAQUE"),
        (Field::Class, "CLASS", "PUBLIC"),
    ] {
        if let Some(v) = ev.prop(name).map(|p| p.value.trim().to_ascii_uppercase())
            && v != default
        {
            record.set(f, &v);
        }
    }
    if let Some(o) = ev.prop("ORGANIZER") {
        record.set(Field::Organizer, &email(o.value));
    }
    for a in ev.props_named("ATTENDEE") {
        let status = a.param("PARTSTAT").unwrap_or("NEEDS-ACTION").to_lowercase();
        record.add(
            Field::Attendee,
            &format!("{} {status}", email(a.value)),
            None,
        );
    }
    if let Some(c) = ev
        .prop("CONFERENCE")
        .or_else(|| ev.prop("X-GOOGLE-CONFERENCE"))
    {
        record.set(Field::Conference, c.value);
    }
    for c in ev.props_named("CATEGORIES") {
        for v in c.value.split(',') {
            record.add(Field::Category, &unescape(v), None);
        }
    }
    for a in ev.children.iter().filter(|c| c.name == "VALARM") {
        if let Some(m) = alarm_minutes(a) {
            record.add(Field::Alarm, &m.to_string(), None);
        }
    }
}

/// Reads the first VEVENT series of an iCalendar object.
pub fn read_event(bytes: &[u8]) -> Result<EventRead, String> {
    let cal = parse(&decode(bytes))?;
    let events: Vec<&Component> = cal.children.iter().filter(|c| c.name == "VEVENT").collect();
    let master = events
        .iter()
        .find(|e| e.prop("RECURRENCE-ID").is_none())
        .or(events.first())
        .ok_or("the object holds no event")?;
    let mut record = Record::default();
    read_master(master, &mut record);
    for o in events.iter().filter(|e| e.prop("RECURRENCE-ID").is_some()) {
        if let Some(v) = override_value(o) {
            record.add(Field::Override, &v, None);
        }
    }
    Ok(EventRead {
        record,
        uid: master.prop("UID").map(|p| p.value.trim().to_string()),
    })
}
