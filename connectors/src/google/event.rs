//! Google Calendar events ↔ [`Record`]: one series (the recurring event with its exceptions
//! and cancelled instances, or a single event) is one item.

use crate::event::normal_rrule;
use crate::event::when::When;
use crate::record::{Field, Record};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// What Kith writes to Google. Attendees and conference links are read only (a write would
/// mail the guests); edited occurrences stay in Kith. The organizer is never written, but is
/// part of what is compared: it decides what a write may change.
pub const FIELDS: [Field; 13] = [
    Field::Organizer,
    Field::Summary,
    Field::Description,
    Field::Location,
    Field::Start,
    Field::End,
    Field::Recurrence,
    Field::Exdate,
    Field::Override,
    Field::Status,
    Field::Transparency,
    Field::Class,
    Field::Alarm,
];

/// The private extended property holding Kith's name for the event.
pub const MARKER: &str = "kithMarker";
const CATEGORIES: &str = "kithCategories";

fn when(t: &Value) -> Option<When> {
    if let Some(d) = t["date"].as_str() {
        return When::parse(d);
    }
    When::from_rfc3339(t["dateTime"].as_str()?, t["timeZone"].as_str())
}

fn status(v: &Value) -> Option<&'static str> {
    match v["status"].as_str() {
        Some("tentative") => Some("TENTATIVE"),
        Some("cancelled") => Some("CANCELLED"),
        _ => None,
    }
}

/// The fields an edited occurrence carries, as the record's override element.
fn override_value(e: &Value) -> Option<String> {
    let rid = when(&e["originalStartTime"])?;
    let mut m = BTreeMap::new();
    m.insert("rid", rid.to_string());
    if let Some(s) = when(&e["start"]) {
        m.insert("start", s.to_string());
    }
    if let Some(s) = when(&e["end"]) {
        m.insert("end", s.to_string());
    }
    for k in ["summary", "location", "description"] {
        if let Some(v) = e[k].as_str().filter(|v| !v.trim().is_empty()) {
            m.insert(k, crate::normalize::text(v));
        }
    }
    if let Some(s) = status(e) {
        m.insert("status", s.to_string());
    }
    serde_json::to_string(&m).ok()
}

/// Whether an event row is a whole event that was deleted (not a cancelled instance).
pub fn is_deleted(e: &Value) -> bool {
    e["status"] == "cancelled" && !e["recurringEventId"].is_string()
}

/// The series id an event row belongs to.
pub fn series_of(e: &Value) -> Option<&str> {
    e["recurringEventId"].as_str().or(e["id"].as_str())
}

/// One series as a record: the master (or single event) and the instance rows of it.
pub fn to_record(master: &Value, instances: &[&Value]) -> Record {
    let mut r = Record::default();
    for (f, k) in [
        (Field::Summary, "summary"),
        (Field::Description, "description"),
        (Field::Location, "location"),
    ] {
        if let Some(v) = master[k].as_str() {
            r.set(f, v);
        }
    }
    if let Some(s) = when(&master["start"]) {
        r.set(Field::Start, &s.to_string());
    }
    if let Some(e) = when(&master["end"]) {
        r.set(Field::End, &e.to_string());
    }
    for line in master["recurrence"].as_array().into_iter().flatten() {
        let Some(line) = line.as_str() else { continue };
        let (head, value) = line.split_once(':').unwrap_or((line, ""));
        let mut params = head.split(';');
        let name = params.next().unwrap_or("").to_ascii_uppercase();
        let mut tzid = None;
        let mut date = false;
        for p in params {
            match p.split_once('=') {
                Some((k, v)) if k.eq_ignore_ascii_case("TZID") => tzid = Some(v),
                Some((k, v)) if k.eq_ignore_ascii_case("VALUE") => date = v == "DATE",
                _ => {}
            }
        }
        match name.as_str() {
            "RRULE" => r.set(Field::Recurrence, &normal_rrule(value)),
            "EXDATE" => {
                for v in value.split(',') {
                    if let Some(w) = When::from_ical(v, tzid, date) {
                        r.add(Field::Exdate, &w.to_string(), None);
                    }
                }
            }
            _ => {}
        }
    }
    for i in instances {
        if i["status"] == "cancelled" {
            if let Some(w) = when(&i["originalStartTime"]) {
                r.add(Field::Exdate, &w.to_string(), None);
            }
        } else if let Some(v) = override_value(i) {
            r.add(Field::Override, &v, None);
        }
    }
    if let Some(s) = status(master) {
        r.set(Field::Status, s);
    }
    if master["transparency"] == "transparent" {
        r.set(Field::Transparency, "TRANSPARENT");
    }
    match master["visibility"].as_str() {
        Some("private") => r.set(Field::Class, "PRIVATE"),
        Some("confidential") => r.set(Field::Class, "CONFIDENTIAL"),
        _ => {}
    }
    let attendees = master["attendees"].as_array();
    // The owner's own events name them as organizer; that says nothing worth a property.
    if (master["organizer"]["self"] != true || attendees.is_some_and(|a| !a.is_empty()))
        && let Some(o) = master["organizer"]["email"].as_str()
    {
        r.set(Field::Organizer, o);
    }
    for a in attendees.into_iter().flatten() {
        let Some(mail) = a["email"].as_str() else {
            continue;
        };
        let status = match a["responseStatus"].as_str() {
            Some("accepted") => "accepted",
            Some("declined") => "declined",
            Some("tentative") => "tentative",
            _ => "needs-action",
        };
        r.add(Field::Attendee, &format!("{mail} {status}"), None);
    }
    let video = master["conferenceData"]["entryPoints"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["entryPointType"] == "video")
        .and_then(|e| e["uri"].as_str())
        .or(master["hangoutLink"].as_str());
    if let Some(v) = video {
        r.set(Field::Conference, v);
    }
    if master["reminders"]["useDefault"] != true {
        for o in master["reminders"]["overrides"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(m) = o["minutes"].as_i64() {
                r.add(Field::Alarm, &m.to_string(), None);
            }
        }
    }
    if let Some(c) = master["extendedProperties"]["private"][CATEGORIES].as_str() {
        for v in c.split('\u{1f}') {
            r.add(Field::Category, v, None);
        }
    }
    r
}

fn time(w: &When, recurring: bool) -> Value {
    match w {
        When::Date(_) => json!({"date": w.date_iso(), "dateTime": null, "timeZone": null}),
        When::Local(_, z) => json!({"dateTime": w.local_iso(), "timeZone": z, "date": null}),
        When::Utc(t) => {
            let mut v =
                json!({"dateTime": format!("{}Z", t.format("%Y-%m-%dT%H:%M:%S")), "date": null});
            // Google wants a zone on every recurring event's times.
            v["timeZone"] = if recurring { json!("UTC") } else { Value::Null };
            v
        }
        When::Floating(_) => json!({"dateTime": w.local_iso(), "timeZone": "UTC", "date": null}),
    }
}

/// Google's id for the occurrence of series `id` that starts at `rid`: the original start
/// in UTC (`_20260323T080000Z`), or its date for an all-day series (`_20260323`).
pub fn instance_id(id: &str, rid: &When) -> String {
    match rid {
        When::Date(d) => format!("{id}_{}", d.format("%Y%m%d")),
        w => match w.utc(None) {
            Some(t) => format!("{id}_{}Z", t.format("%Y%m%dT%H%M%S")),
            None => format!("{id}_{}", w.ical_value()),
        },
    }
}

/// The PATCH body that makes one occurrence what `o` says.
pub fn occurrence(o: &crate::event::instances::Occurrence) -> Value {
    json!({
        "summary": o.summary,
        "description": o.description,
        "location": o.location,
        "start": time(&o.start, true),
        "end": time(&o.end, true),
    })
}

/// The PATCH (or insert) body that makes Google hold `r`'s writable fields; fields `r` does
/// not have are cleared (`null`), those Kith does not write are left alone.
pub fn to_event(r: &Record, marker: Option<&str>) -> Value {
    let mut b = Map::new();
    for (f, k) in [
        (Field::Summary, "summary"),
        (Field::Description, "description"),
        (Field::Location, "location"),
    ] {
        b.insert(k.into(), r.get(f).map_or(Value::Null, |v| json!(v)));
    }
    let recurring = r.get(Field::Recurrence).is_some();
    let start = r.get(Field::Start).and_then(When::parse);
    if let Some(s) = &start {
        b.insert("start".into(), time(s, recurring));
    }
    let end = r.get(Field::End).and_then(When::parse).or_else(|| {
        start
            .as_ref()
            .map(|s| s.plus(chrono::Duration::days(i64::from(s.is_date()))))
    });
    if let Some(e) = &end {
        b.insert("end".into(), time(e, recurring));
    }
    let mut lines: Vec<String> = r
        .get(Field::Recurrence)
        .map(|v| format!("RRULE:{v}"))
        .into_iter()
        .collect();
    if recurring {
        for (_, e) in r.elems(Field::Exdate) {
            if let Some(w) = When::parse(&e.value) {
                lines.push(w.ical_line("EXDATE"));
            }
        }
    }
    b.insert("recurrence".into(), json!(lines));
    b.insert(
        "status".into(),
        json!(match r.get(Field::Status) {
            Some("TENTATIVE") => "tentative",
            _ => "confirmed",
        }),
    );
    b.insert(
        "transparency".into(),
        json!(if r.get(Field::Transparency) == Some("TRANSPARENT") {
            "transparent"
        } else {
            "opaque"
        }),
    );
    b.insert(
        "visibility".into(),
        json!(match r.get(Field::Class) {
            Some("PRIVATE") => "private",
            Some("CONFIDENTIAL") => "confidential",
            _ => "default",
        }),
    );
    let overrides: Vec<Value> = r
        .elems(Field::Alarm)
        .filter_map(|(_, e)| e.value.parse::<i64>().ok())
        .take(5)
        .map(|m| json!({"method": "popup", "minutes": m}))
        .collect();
    b.insert(
        "reminders".into(),
        if overrides.is_empty() {
            json!({"useDefault": false, "overrides": []})
        } else {
            json!({"useDefault": false, "overrides": overrides})
        },
    );
    let mut private = Map::new();
    let cats: Vec<&str> = r
        .elems(Field::Category)
        .map(|(_, e)| e.value.as_str())
        .collect();
    private.insert(
        CATEGORIES.into(),
        if cats.is_empty() {
            Value::Null
        } else {
            json!(cats.join("\u{1f}"))
        },
    );
    if let Some(m) = marker {
        private.insert(MARKER.into(), json!(m));
    }
    b.insert("extendedProperties".into(), json!({"private": private}));
    Value::Object(b)
}

/// Kith's deterministic Google id for the event it creates for `marker`: base32hex of a hash,
/// so a retried insert meets 409 instead of making a second event.
pub fn id_for(marker: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuv";
    let hash = blake3::hash(format!("kith-event:{marker}").as_bytes());
    hash.as_bytes()
        .iter()
        .take(26)
        .map(|b| ALPHABET[(*b & 31) as usize] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_series_reads_with_its_exceptions_and_writes_back_the_same() {
        let master = json!({
            "id": "abc", "summary": "Standup", "start": {"dateTime": "2026-03-02T09:00:00+01:00", "timeZone": "Europe/Berlin"},
            "end": {"dateTime": "2026-03-02T09:15:00+01:00", "timeZone": "Europe/Berlin"},
            "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=MO"], "organizer": {"email": "a@x.org", "self": true},
            "reminders": {"useDefault": false, "overrides": [{"method": "popup", "minutes": 10}]}
        });
        let moved = json!({"id": "abc_20260309T080000Z", "recurringEventId": "abc", "originalStartTime": {"dateTime": "2026-03-09T09:00:00+01:00", "timeZone": "Europe/Berlin"},
            "start": {"dateTime": "2026-03-09T11:00:00+01:00", "timeZone": "Europe/Berlin"}, "end": {"dateTime": "2026-03-09T11:15:00+01:00", "timeZone": "Europe/Berlin"}, "summary": "Standup (moved)"});
        let gone = json!({"id": "abc_20260316T080000Z", "recurringEventId": "abc", "status": "cancelled", "originalStartTime": {"dateTime": "2026-03-16T09:00:00+01:00", "timeZone": "Europe/Berlin"}});
        let r = to_record(&master, &[&moved, &gone]);
        assert_eq!(
            r.get(Field::Start),
            Some("2026-03-02T09:00:00 Europe/Berlin")
        );
        assert_eq!(r.get(Field::Recurrence), Some("FREQ=WEEKLY;BYDAY=MO"));
        assert!(r.has_elem(Field::Exdate, "2026-03-16t09:00:00 europe/berlin"));
        assert_eq!(r.elems(Field::Override).count(), 1);
        assert_eq!(
            r.get(Field::Organizer),
            None,
            "one's own event names no organizer"
        );
        let body = to_event(&r, Some("x.ics"));
        assert_eq!(body["start"]["timeZone"], "Europe/Berlin");
        assert_eq!(
            body["recurrence"][1],
            "EXDATE;TZID=Europe/Berlin:20260316T090000"
        );
        let all_day = to_record(
            &json!({"start": {"date": "2026-03-02"}, "end": {"date": "2026-03-04"}}),
            &[],
        );
        assert_eq!(to_event(&all_day, None)["end"]["date"], "2026-03-04");
        assert!(id_for("a.ics").len() == 26 && id_for("a.ics") != id_for("b.ics"));
    }
}
