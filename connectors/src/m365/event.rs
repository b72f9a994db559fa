//! Graph events ↔ [`Record`]: a `seriesMaster` (or `singleInstance`) with its exceptions and
//! the occurrences Graph no longer lists (cancelled), as one item. Graph names zones the
//! Windows way (`W. Europe Standard Time`); Kith keeps IANA names, so a series keeps its wall
//! time across daylight-saving changes.

use super::recurrence;
use crate::event::when::{When, iana};
use crate::record::{Field, Record};
use chrono::{NaiveDateTime, TimeZone};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// What Kith writes to Graph (the organizer only decides what may be written). Attendees and
/// meeting links are read only: a write of attendees sends invitations, and that cannot be
/// turned off. Edited and cancelled occurrences are written to the occurrences themselves.
pub const FIELDS: [Field; 14] = [
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
    Field::Category,
];

/// Graph's `dateTime` (`2026-03-16T08:00:00.0000000`) without its fraction.
fn naive(dt: &str) -> Option<NaiveDateTime> {
    let whole = dt.split('.').next()?;
    NaiveDateTime::parse_from_str(whole.trim_end_matches('Z'), "%Y-%m-%dT%H:%M:%S").ok()
}

/// The zone a series was made in, if Kith can resolve it; `tzone://Microsoft/Custom` and the
/// like cannot be, and the times then stay in UTC.
fn own_zone(e: &Value, key: &str) -> Option<String> {
    e[key]
        .as_str()
        .and_then(iana)
        .filter(|z| z != "UTC" && z != "Etc/UTC")
}

/// One of Graph's `dateTimeTimeZone`, read in the zone the event was made in when it is given.
pub fn when(t: &Value, all_day: bool, zone: Option<&str>) -> Option<When> {
    let local = naive(t["dateTime"].as_str()?)?;
    if all_day {
        return Some(When::Date(local.date()));
    }
    let given = t["timeZone"].as_str().unwrap_or("UTC");
    let given = iana(given).unwrap_or_else(|| "UTC".into());
    let utc = if given == "UTC" || given == "Etc/UTC" {
        local
    } else {
        let tz: calcard::common::timezone::Tz = given.parse().ok()?;
        tz.from_local_datetime(&local).earliest()?.naive_utc()
    };
    match zone {
        Some(z) => {
            let tz: calcard::common::timezone::Tz = z.parse().ok()?;
            Some(When::Local(
                tz.from_utc_datetime(&utc).naive_local(),
                z.to_string(),
            ))
        }
        None => Some(When::Utc(utc)),
    }
}

/// `originalStart` (UTC, ISO) as a RECURRENCE-ID in the master's form.
pub(super) fn original(e: &Value, master_start: &When) -> Option<When> {
    let utc = naive(e["originalStart"].as_str()?)?;
    Some(match master_start {
        When::Date(_) => When::Date(utc.date()),
        When::Local(_, z) => {
            let tz: calcard::common::timezone::Tz = z.parse().ok()?;
            When::Local(tz.from_utc_datetime(&utc).naive_local(), z.clone())
        }
        _ => When::Utc(utc),
    })
}

/// Text of an HTML body, for DESCRIPTION: tags dropped, the common entities decoded.
pub fn body_text(body: &Value) -> Option<String> {
    let content = body["content"].as_str()?;
    if body["contentType"].as_str() != Some("html") {
        return Some(content.to_string());
    }
    let mut out = String::new();
    let mut tag = false;
    for c in content.chars() {
        match c {
            '<' => tag = true,
            '>' => tag = false,
            c if !tag => out.push(c),
            _ => {}
        }
    }
    let out = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    Some(out.trim().to_string())
}

fn override_value(e: &Value, master_start: &When, zone: Option<&str>) -> Option<String> {
    let rid = original(e, master_start)?;
    let all_day = e["isAllDay"] == true;
    let mut m = BTreeMap::new();
    m.insert("rid", rid.to_string());
    if let Some(s) = when(&e["start"], all_day, zone) {
        m.insert("start", s.to_string());
    }
    if let Some(s) = when(&e["end"], all_day, zone) {
        m.insert("end", s.to_string());
    }
    for (k, v) in [
        ("summary", e["subject"].as_str().map(str::to_string)),
        (
            "location",
            e["location"]["displayName"].as_str().map(str::to_string),
        ),
        ("description", body_text(&e["body"])),
    ] {
        if let Some(v) = v.filter(|v| !v.trim().is_empty()) {
            m.insert(k, crate::normalize::text(&v));
        }
    }
    if e["isCancelled"] == true {
        m.insert("status", "CANCELLED".into());
    }
    serde_json::to_string(&m).ok()
}

/// A series' (or single event's) start as Kith keeps it: in the zone it was made in.
pub fn series_start(master: &Value) -> Option<When> {
    let zone = own_zone(master, "originalStartTimeZone");
    when(
        &master["start"],
        master["isAllDay"] == true,
        zone.as_deref(),
    )
}

/// A series as a record: `master`, its exceptions, and the starts of the occurrences Graph
/// no longer lists (cancelled), as UTC instants.
pub fn to_record(master: &Value, exceptions: &[&Value], cancelled: &[NaiveDateTime]) -> Record {
    let mut r = Record::default();
    let all_day = master["isAllDay"] == true;
    let zone = own_zone(master, "originalStartTimeZone");
    let end_zone = own_zone(master, "originalEndTimeZone").or(zone.clone());
    let start = series_start(master);
    if let Some(v) = master["subject"].as_str() {
        r.set(Field::Summary, v);
    }
    if let Some(v) = body_text(&master["body"]) {
        r.set(Field::Description, &v);
    }
    if let Some(v) = master["location"]["displayName"].as_str() {
        r.set(Field::Location, v);
    }
    if let Some(s) = &start {
        r.set(Field::Start, &s.to_string());
    }
    if let Some(e) = when(&master["end"], all_day, end_zone.as_deref()) {
        r.set(Field::End, &e.to_string());
    }
    if let (Some(s), Some(rule)) = (&start, master.get("recurrence").filter(|v| v.is_object())) {
        if let Some(rrule) = recurrence::from_graph(rule, s) {
            r.set(Field::Recurrence, &rrule);
        }
        for e in exceptions {
            if let Some(v) = override_value(e, s, zone.as_deref()) {
                r.add(Field::Override, &v, None);
            }
        }
        for c in cancelled {
            let x = json!({"originalStart": format!("{}Z", c.format("%Y-%m-%dT%H:%M:%S"))});
            if let Some(w) = original(&x, s) {
                r.add(Field::Exdate, &w.to_string(), None);
            }
        }
    }
    if master["isCancelled"] == true {
        r.set(Field::Status, "CANCELLED");
    } else if master["showAs"] == "tentative" {
        r.set(Field::Status, "TENTATIVE");
    }
    if master["showAs"] == "free" {
        r.set(Field::Transparency, "TRANSPARENT");
    }
    match master["sensitivity"].as_str() {
        Some("private") | Some("personal") => r.set(Field::Class, "PRIVATE"),
        Some("confidential") => r.set(Field::Class, "CONFIDENTIAL"),
        _ => {}
    }
    if master["isReminderOn"] == true
        && let Some(m) = master["reminderMinutesBeforeStart"].as_i64()
    {
        r.add(Field::Alarm, &m.to_string(), None);
    }
    for c in master["categories"].as_array().into_iter().flatten() {
        if let Some(c) = c.as_str() {
            r.add(Field::Category, c, None);
        }
    }
    let attendees = master["attendees"].as_array();
    if (master["isOrganizer"] != true || attendees.is_some_and(|a| !a.is_empty()))
        && let Some(o) = master["organizer"]["emailAddress"]["address"].as_str()
    {
        r.set(Field::Organizer, o);
    }
    for a in attendees.into_iter().flatten() {
        let Some(mail) = a["emailAddress"]["address"].as_str() else {
            continue;
        };
        let status = match a["status"]["response"].as_str() {
            Some("accepted" | "organizer") => "accepted",
            Some("declined") => "declined",
            Some("tentativelyAccepted") => "tentative",
            _ => "needs-action",
        };
        r.add(Field::Attendee, &format!("{mail} {status}"), None);
    }
    if let Some(u) = master["onlineMeeting"]["joinUrl"].as_str() {
        r.set(Field::Conference, u);
    }
    r
}

pub(super) fn time(w: &When) -> Value {
    match w {
        When::Date(_) => {
            json!({"dateTime": format!("{}T00:00:00", w.date_iso()), "timeZone": "UTC"})
        }
        When::Local(_, z) => json!({"dateTime": w.local_iso(), "timeZone": z}),
        When::Utc(_) | When::Floating(_) => json!({"dateTime": w.local_iso(), "timeZone": "UTC"}),
    }
}

/// Why a record cannot be written to Graph as it is.
#[derive(Debug, PartialEq, Eq)]
pub struct Unrepresentable(pub String);

/// The POST/PATCH body that makes Graph hold `r`'s writable fields.
pub fn to_event(r: &Record) -> Result<Value, Unrepresentable> {
    let mut b = Map::new();
    b.insert("subject".into(), json!(r.get(Field::Summary).unwrap_or("")));
    b.insert(
        "body".into(),
        json!({"contentType": "text", "content": r.get(Field::Description).unwrap_or("")}),
    );
    b.insert(
        "location".into(),
        json!({"displayName": r.get(Field::Location).unwrap_or("")}),
    );
    let start = r.get(Field::Start).and_then(When::parse);
    let all_day = start.as_ref().is_some_and(When::is_date);
    if let Some(s) = &start {
        b.insert("start".into(), time(s));
        b.insert("isAllDay".into(), json!(all_day));
    }
    let end = r.get(Field::End).and_then(When::parse).or_else(|| {
        start
            .as_ref()
            .map(|s| s.plus(chrono::Duration::days(i64::from(s.is_date()))))
    });
    if let Some(e) = &end {
        b.insert("end".into(), time(e));
    }
    let rec = match (r.get(Field::Recurrence), &start) {
        (Some(rule), Some(s)) => Some(recurrence::to_graph(rule, s).ok_or_else(|| {
            Unrepresentable(format!(
                "Outlook cannot repeat an event as {rule}; the series stays in Kith only"
            ))
        })?),
        _ => None,
    };
    b.insert("recurrence".into(), rec.unwrap_or(Value::Null));
    b.insert(
        "showAs".into(),
        json!(match (r.get(Field::Transparency), r.get(Field::Status)) {
            (Some("TRANSPARENT"), _) => "free",
            (_, Some("TENTATIVE")) => "tentative",
            _ => "busy",
        }),
    );
    b.insert(
        "sensitivity".into(),
        json!(match r.get(Field::Class) {
            Some("PRIVATE") => "private",
            Some("CONFIDENTIAL") => "confidential",
            _ => "normal",
        }),
    );
    let alarm = r
        .elems(Field::Alarm)
        .filter_map(|(_, e)| e.value.parse::<i64>().ok())
        .min();
    b.insert("isReminderOn".into(), json!(alarm.is_some()));
    if let Some(m) = alarm {
        b.insert("reminderMinutesBeforeStart".into(), json!(m));
    }
    let cats: Vec<&str> = r
        .elems(Field::Category)
        .map(|(_, e)| e.value.as_str())
        .collect();
    b.insert("categories".into(), json!(cats));
    Ok(Value::Object(b))
}

/// What an attendee may change in their copy of someone else's meeting: their own reminder
/// and categories. The organizer's mailbox owns the rest, and its next update would undo it.
pub const PERSONAL: [&str; 3] = ["isReminderOn", "reminderMinutesBeforeStart", "categories"];

/// What Graph can hold of a record: one reminder (the earliest), so the others are not a
/// difference on every run; and of a guest's copy (`account` does not organize it), only the
/// guest's own reminder and categories. The event in Kith keeps everything.
pub fn fit(r: Record, account: &str) -> Record {
    let mut r = if r
        .get(Field::Organizer)
        .is_none_or(|o| o.eq_ignore_ascii_case(account))
    {
        r
    } else {
        r.project(&[Field::Alarm, Field::Category, Field::Organizer])
    };
    let earliest = r
        .elems(Field::Alarm)
        .filter_map(|(_, e)| e.value.parse::<i64>().ok())
        .min();
    r.multis.remove(&Field::Alarm);
    if let Some(m) = earliest {
        r.add(Field::Alarm, &m.to_string(), None);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_zones_all_day_and_exceptions_read_as_kith_keeps_them() {
        // Read with `Prefer: outlook.timezone="UTC"`: the zone it was made in is kept apart.
        let master = json!({
            "id": "AAMk1", "type": "seriesMaster", "subject": "Standup", "isAllDay": false,
            "start": {"dateTime": "2026-03-16T08:00:00.0000000", "timeZone": "UTC"},
            "end": {"dateTime": "2026-03-16T08:15:00.0000000", "timeZone": "UTC"},
            "originalStartTimeZone": "W. Europe Standard Time", "originalEndTimeZone": "W. Europe Standard Time",
            "recurrence": {"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"], "firstDayOfWeek": "monday"},
                           "range": {"type": "numbered", "numberOfOccurrences": 4, "startDate": "2026-03-16", "recurrenceTimeZone": "W. Europe Standard Time"}},
            "isReminderOn": true, "reminderMinutesBeforeStart": 15, "showAs": "busy", "sensitivity": "private",
            "isOrganizer": true, "organizer": {"emailAddress": {"address": "ada@contoso.example"}},
            "body": {"contentType": "html", "content": "<html><body><p>Daily &amp; brief</p></body></html>"}
        });
        let moved = json!({"type": "exception", "originalStart": "2026-03-30T07:00:00Z", "subject": "Standup (moved)",
            "start": {"dateTime": "2026-03-30T09:00:00.0000000", "timeZone": "UTC"}, "end": {"dateTime": "2026-03-30T09:15:00.0000000", "timeZone": "UTC"}});
        let gone = naive("2026-03-23T08:00:00").unwrap();
        let r = to_record(&master, &[&moved], &[gone]);
        assert_eq!(
            r.get(Field::Start),
            Some("2026-03-16T09:00:00 Europe/Berlin")
        );
        assert_eq!(
            r.get(Field::Recurrence),
            Some("FREQ=WEEKLY;BYDAY=MO;COUNT=4")
        );
        assert_eq!(r.get(Field::Description), Some("Daily & brief"));
        assert_eq!(r.get(Field::Class), Some("PRIVATE"));
        assert!(
            r.has_elem(Field::Exdate, "2026-03-23t09:00:00 europe/berlin"),
            "{r:?}"
        );
        let ov = r.elems(Field::Override).next().unwrap().1.value.clone();
        assert!(
            ov.contains("\"rid\":\"2026-03-30T09:00:00 Europe/Berlin\""),
            "{ov}"
        );
        assert!(
            ov.contains("\"start\":\"2026-03-30T11:00:00 Europe/Berlin\""),
            "after DST: {ov}"
        );
        assert_eq!(r.get(Field::Organizer), None);
        let body = to_event(&r).unwrap();
        assert_eq!(body["start"]["timeZone"], "Europe/Berlin");
        assert_eq!(body["recurrence"]["pattern"]["type"], "weekly");
        assert_eq!(body["reminderMinutesBeforeStart"], 15);
        // All day stays a date, whatever zone Graph reports.
        let day = json!({"isAllDay": true, "start": {"dateTime": "2026-04-01T00:00:00.0000000", "timeZone": "Pacific Standard Time"},
            "end": {"dateTime": "2026-04-03T00:00:00.0000000", "timeZone": "Pacific Standard Time"}, "originalStartTimeZone": "Pacific Standard Time"});
        let d = to_record(&day, &[], &[]);
        assert_eq!(
            (d.get(Field::Start), d.get(Field::End)),
            (Some("2026-04-01"), Some("2026-04-03"))
        );
        // A custom zone Kith cannot resolve keeps the instant in UTC.
        let custom = json!({"start": {"dateTime": "2026-03-16T08:00:00.0000000", "timeZone": "UTC"}, "originalStartTimeZone": "tzone://Microsoft/Custom"});
        assert_eq!(
            to_record(&custom, &[], &[]).get(Field::Start),
            Some("2026-03-16T08:00:00Z")
        );
        let mut hourly = r.clone();
        hourly.set(Field::Recurrence, "FREQ=HOURLY");
        assert!(to_event(&hourly).is_err());
    }
}
