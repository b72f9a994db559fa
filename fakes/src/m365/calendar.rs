//! Graph calendars: `/me/calendars`, events listed as masters and singles, `/instances`
//! expanding a series over a window (cancelled occurrences simply absent), a windowed
//! `calendarView/delta` whose occurrence rows are stubs and which says nothing of a deleted
//! occurrence, `@removed` for deleted events, tokens that can be evicted (410
//! `syncStateNotFound`), changeKeys with `If-Match` (412), `transactionId` that makes a
//! retried create return the first, and times in UTC under `Prefer: outlook.timezone="UTC"`
//! with the zone the event was made in as `originalStartTimeZone` (Windows names).

use super::{World, errors, ok};
use crate::common::json;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json as j};
use std::collections::{BTreeMap, BTreeSet, HashMap};

#[derive(Debug, Clone)]
pub(crate) struct Ev {
    pub data: Map<String, Value>,
    pub change_key: String,
    pub seq: u64,
    pub deleted: bool,
    /// An exception's series and original start (UTC, `2026-03-23T08:00:00Z`).
    pub series: Option<String>,
    pub original: Option<String>,
    /// A master's cancelled occurrences, by original start.
    pub cancelled: BTreeSet<String>,
    pub transaction: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Cal {
    pub name: String,
    pub color: String,
    pub events: BTreeMap<String, Ev>,
}

#[derive(Debug, Default)]
pub(crate) struct Calendars {
    pub cals: HashMap<String, BTreeMap<String, Cal>>,
    /// Delta token → (account, calendar, watermark, window).
    pub tokens: HashMap<String, (String, String, u64, (String, String))>,
    /// The mail Outlook sent because of a write: invitations, updates and cancellations to a
    /// meeting's attendees. A sync should cause none.
    pub mail: Vec<Value>,
    /// The next N listings of a calendar's events come back empty (a fault injection).
    pub empty_listings: u32,
}

/// The attendees' addresses of a meeting this mailbox organizes (none for a guest's copy).
fn guests(data: &Map<String, Value>) -> Vec<Value> {
    if data.get("isOrganizer") == Some(&j!(false)) {
        return Vec::new();
    }
    data.get("attendees")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| a["emailAddress"]["address"].as_str().map(|m| j!(m)))
        .collect()
}

/// Records the mail a write of meeting `id` sends (`kind`: invitation, update, cancellation).
fn mail(w: &mut World, kind: &str, id: &str, to: Vec<Value>) {
    if !to.is_empty() {
        w.calendars
            .mail
            .push(j!({"kind": kind, "event": id, "to": to}));
    }
}

/// The Windows names the fake knows, as Outlook writes them.
const WINDOWS: [(&str, &str); 6] = [
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("Tokyo Standard Time", "Asia/Tokyo"),
    ("GMT Standard Time", "Europe/London"),
    ("Eastern Standard Time", "America/New_York"),
    ("UTC", "UTC"),
];

fn iana(zone: &str) -> &str {
    WINDOWS
        .iter()
        .find(|(w, _)| *w == zone)
        .map_or(zone, |(_, i)| *i)
}

fn windows(zone: &str) -> &str {
    WINDOWS
        .iter()
        .find(|(_, i)| *i == zone)
        .map_or(zone, |(w, _)| *w)
}

fn civil(dt: &str) -> Option<jiff::civil::DateTime> {
    dt.split('.').next()?.trim_end_matches('Z').parse().ok()
}

/// A `dateTimeTimeZone` as a UTC instant.
fn instant(t: &Value) -> Option<jiff::Timestamp> {
    let c = civil(t["dateTime"].as_str()?)?;
    let z = iana(t["timeZone"].as_str().unwrap_or("UTC"));
    c.in_tz(z).ok().map(|z| z.timestamp())
}

fn utc_str(ts: jiff::Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn in_utc(ts: jiff::Timestamp) -> Value {
    j!({"dateTime": ts.strftime("%Y-%m-%dT%H:%M:%S.0000000").to_string(), "timeZone": "UTC"})
}

fn change_key() -> String {
    crate::common::token("DwAAABYAAA")
}

/// How an event reads: times in UTC (Kith always sends `outlook.timezone="UTC"`), the zone it
/// was made in named the Windows way.
fn render(id: &str, e: &Ev) -> Value {
    let mut v = Value::Object(e.data.clone());
    v["id"] = j!(id);
    v["changeKey"] = j!(e.change_key);
    v["@odata.etag"] = j!(format!("W/\"{}\"", e.change_key));
    v["type"] = j!(match (&e.series, e.data.get("recurrence")) {
        (Some(_), _) => "exception",
        (None, Some(r)) if r.is_object() => "seriesMaster",
        _ => "singleInstance",
    });
    if let Some(s) = &e.series {
        v["seriesMasterId"] = j!(s);
        v["originalStart"] = j!(e.original);
    }
    for (k, orig) in [
        ("start", "originalStartTimeZone"),
        ("end", "originalEndTimeZone"),
    ] {
        let t = e.data.get(k).cloned().unwrap_or(Value::Null);
        if let Some(z) = t["timeZone"].as_str() {
            v[orig] = j!(windows(iana(z)));
        }
        if e.data.get("isAllDay") != Some(&j!(true))
            && let Some(ts) = instant(&t)
        {
            v[k] = in_utc(ts);
        }
    }
    v["iCalUId"] = j!(format!(
        "040000008200E00074C5B7101A82E008{}",
        crate::common::digest(id)
    ));
    v
}

/// The starts (UTC) a series' pattern makes inside [from, to): daily, weekly, absolute monthly
/// and yearly patterns; numbered, end-date and no-end ranges.
fn occurrences(master: &Ev, from: jiff::Timestamp, to: jiff::Timestamp) -> Vec<jiff::Timestamp> {
    let d = &master.data;
    let Some(start) = d.get("start") else {
        return Vec::new();
    };
    let (Some(first), zone) = (
        civil(start["dateTime"].as_str().unwrap_or("")),
        iana(start["timeZone"].as_str().unwrap_or("UTC")).to_string(),
    ) else {
        return Vec::new();
    };
    let p = &d["recurrence"]["pattern"];
    let r = &d["recurrence"]["range"];
    let interval = p["interval"].as_i64().unwrap_or(1).max(1);
    let count = r["numberOfOccurrences"]
        .as_i64()
        .filter(|_| r["type"] == "numbered");
    let end = r["endDate"]
        .as_str()
        .filter(|_| r["type"] == "endDate")
        .and_then(|e| e.parse::<jiff::civil::Date>().ok());
    let days: Vec<String> = p["daysOfWeek"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x.as_str().map(|s| s[..2].to_lowercase()))
        .collect();
    let mut out = Vec::new();
    let mut made = 0;
    let mut i: i64 = 0;
    while i < 3000 {
        let day = first.date().checked_add(jiff::Span::new().days(i)).ok();
        i += 1;
        let Some(day) = day else { break };
        if end.is_some_and(|e| day > e) || count.is_some_and(|c| made >= c) {
            break;
        }
        let delta = i - 1;
        let hit = match p["type"].as_str() {
            Some("daily") => delta % interval == 0,
            Some("weekly") => {
                let wd = format!("{:?}", day.weekday()).to_lowercase()[..2].to_string();
                let week = delta.div_euclid(7);
                week % interval == 0 && days.contains(&wd)
            }
            Some("absoluteMonthly") => {
                let months = (day.year() as i64 - first.year() as i64) * 12
                    + (day.month() as i64 - first.month() as i64);
                day.day() as i64 == p["dayOfMonth"].as_i64().unwrap_or(first.day() as i64)
                    && months % interval == 0
            }
            Some("absoluteYearly") => {
                day.month() as i64 == p["month"].as_i64().unwrap_or(first.month() as i64)
                    && day.day() as i64 == p["dayOfMonth"].as_i64().unwrap_or(first.day() as i64)
                    && (day.year() as i64 - first.year() as i64) % interval == 0
            }
            _ => false,
        };
        if !hit {
            continue;
        }
        made += 1;
        let Ok(at) = day.to_datetime(first.time()).in_tz(&zone) else {
            continue;
        };
        let ts = at.timestamp();
        if ts >= to {
            break;
        }
        if ts >= from {
            out.push(ts);
        }
    }
    out
}

fn span_of(master: &Ev) -> jiff::SignedDuration {
    let (s, e) = (master.data.get("start"), master.data.get("end"));
    match (s.and_then(instant), e.and_then(instant)) {
        (Some(s), Some(e)) => e.duration_since(s),
        _ => jiff::SignedDuration::from_hours(1),
    }
}

fn occ_id(master: &str, at: &str) -> String {
    format!("{master}_OCC_{}", at.replace([':', '-'], ""))
}

/// The occurrences and exceptions of series `id` in [from, to).
fn instances(
    cal: &Cal,
    id: &str,
    from: jiff::Timestamp,
    to: jiff::Timestamp,
    stubs: bool,
) -> Vec<Value> {
    let Some(m) = cal.events.get(id).filter(|e| !e.deleted) else {
        return Vec::new();
    };
    let exceptions: BTreeMap<String, (&String, &Ev)> = cal
        .events
        .iter()
        .filter(|(_, e)| e.series.as_deref() == Some(id) && !e.deleted)
        .filter_map(|(eid, e)| Some((e.original.clone()?, (eid, e))))
        .collect();
    let len = span_of(m);
    let mut out = Vec::new();
    for ts in occurrences(m, from, to) {
        let at = utc_str(ts);
        if m.cancelled.contains(&at) {
            continue;
        }
        if let Some((eid, e)) = exceptions.get(&at) {
            out.push(render(eid, e));
            continue;
        }
        let end = ts.checked_add(len).unwrap_or(ts);
        let mut o = j!({"id": occ_id(id, &at), "type": "occurrence", "seriesMasterId": id, "start": in_utc(ts), "end": in_utc(end)});
        if !stubs {
            o["originalStart"] = j!(at);
            for k in [
                "subject",
                "location",
                "body",
                "showAs",
                "sensitivity",
                "categories",
            ] {
                if let Some(v) = m.data.get(k) {
                    o[k] = v.clone();
                }
            }
        }
        out.push(o);
    }
    out
}

fn window(q: &HashMap<String, String>) -> Option<(jiff::Timestamp, jiff::Timestamp)> {
    let parse = |k: &str| -> Option<jiff::Timestamp> {
        let v = q.get(k)?;
        v.parse::<jiff::Timestamp>()
            .ok()
            .or_else(|| civil(v)?.in_tz("UTC").ok().map(|z| z.timestamp()))
    };
    Some((parse("startDateTime")?, parse("endDateTime")?))
}

fn not_found() -> Response {
    errors::graph(
        404,
        "ErrorItemNotFound",
        "The specified object was not found in the store.",
    )
}

fn stale() -> Response {
    errors::graph(
        412,
        "ErrorIrresolvableConflict",
        "The send or update operation could not be performed because the change key passed in the request does not match the current change key for the item.",
    )
}

/// Finds the calendar holding event `id` (or the series of an occurrence id).
fn locate<'a>(w: &'a mut World, account: &str, id: &str) -> Option<(String, &'a mut Cal)> {
    let cals = w.calendars.cals.get_mut(account)?;
    let series = id.split("_OCC_").next().unwrap_or(id).to_string();
    let (cid, cal) = cals
        .iter_mut()
        .find(|(_, c)| c.events.get(&series).is_some_and(|e| !e.deleted))?;
    Some((cid.clone(), cal))
}

/// Writes event `id` in `cal`: a new change key and place in the feed.
pub(crate) fn store(w: &mut World, account: &str, cal: &str, id: &str, mut ev: Ev) {
    w.seq += 1;
    ev.seq = w.seq;
    ev.change_key = change_key();
    w.calendars
        .cals
        .entry(account.to_string())
        .or_default()
        .entry(cal.to_string())
        .or_default()
        .events
        .insert(id.to_string(), ev);
}

pub(crate) fn add_calendar(w: &mut World, account: &str, id: &str, name: &str) {
    let c = w.calendars.cals.entry(account.to_string()).or_default();
    let cal = c.entry(id.to_string()).or_default();
    cal.name = name.to_string();
    cal.color = "#a4bdfc".into();
}

/// Upserts an event as Outlook would (the control API): `series` and `original` make it an
/// exception of a series.
pub(crate) fn upsert(w: &mut World, account: &str, cal: &str, id: &str, body: Value) -> Value {
    let mut data = body.as_object().cloned().unwrap_or_default();
    let series = data
        .remove("seriesMasterId")
        .and_then(|v| v.as_str().map(str::to_string));
    let original = data
        .remove("originalStart")
        .and_then(|v| v.as_str().map(str::to_string));
    let prior = w
        .calendars
        .cals
        .get(account)
        .and_then(|c| c.get(cal))
        .and_then(|c| c.events.get(id))
        .cloned();
    let ev = Ev {
        data,
        series,
        original,
        cancelled: prior
            .as_ref()
            .map(|p| p.cancelled.clone())
            .unwrap_or_default(),
        transaction: prior.and_then(|p| p.transaction),
        change_key: String::new(),
        seq: 0,
        deleted: false,
    };
    store(w, account, cal, id, ev);
    let e = &w.calendars.cals[account][cal].events[id];
    render(id, e)
}

/// Cancels one occurrence of a series (as deleting it in Outlook does): no delta row.
pub(crate) fn cancel(w: &mut World, account: &str, series: &str, original: &str) -> bool {
    match locate(w, account, series) {
        Some((_, cal)) => cal
            .events
            .get_mut(series)
            .is_some_and(|m| m.cancelled.insert(original.to_string())),
        None => false,
    }
}

pub(crate) fn remove(w: &mut World, account: &str, id: &str) -> bool {
    let seq = w.seq + 1;
    let Some((_, cal)) = locate(w, account, id) else {
        return false;
    };
    let Some(e) = cal.events.get_mut(id) else {
        return false;
    };
    e.deleted = true;
    e.seq = seq;
    w.seq = seq;
    true
}

pub(crate) fn dump(w: &World, account: &str, cal: &str) -> Value {
    let items: Vec<Value> = w
        .calendars
        .cals
        .get(account)
        .and_then(|c| c.get(cal))
        .map(|c| {
            c.events
                .iter()
                .filter(|(_, e)| !e.deleted)
                .map(|(id, e)| {
                    let mut v = render(id, e);
                    v["cancelledOccurrences"] = j!(e.cancelled);
                    v
                })
                .collect()
        })
        .unwrap_or_default();
    j!({"value": items})
}

fn page(base: &str, rows: Vec<Value>, delta: Option<String>) -> Response {
    let mut out = j!({"value": rows});
    if let Some(t) = delta {
        out["@odata.deltaLink"] = j!(format!("{base}/v1.0/me/calendarView/delta?$deltatoken={t}"));
    }
    ok(out)
}

fn delta(
    w: &mut World,
    account: &str,
    cal: &str,
    q: &HashMap<String, String>,
    base: &str,
) -> Response {
    let (watermark, win) = match q.get("$deltatoken") {
        Some(t) => match w.calendars.tokens.get(t) {
            Some((a, c, m, win)) if a == account => (Some(*m), win.clone()),
            _ => {
                return errors::graph(
                    410,
                    "SyncStateNotFound",
                    "The sync state generation is not found. Please start a new sync.",
                );
            }
        },
        None => match (q.get("startDateTime"), q.get("endDateTime")) {
            (Some(s), Some(e)) => (None, (s.clone(), e.clone())),
            _ => {
                return errors::graph(
                    400,
                    "ErrorInvalidParameter",
                    "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.",
                );
            }
        },
    };
    let cal_id = match watermark {
        Some(_) => w
            .calendars
            .tokens
            .get(q.get("$deltatoken").map(String::as_str).unwrap_or(""))
            .map(|t| t.1.clone())
            .unwrap_or_default(),
        None => cal.to_string(),
    };
    let mut wq = HashMap::new();
    wq.insert("startDateTime".to_string(), win.0.clone());
    wq.insert("endDateTime".to_string(), win.1.clone());
    let Some((from, to)) = window(&wq) else {
        return errors::graph(
            400,
            "ErrorInvalidParameter",
            "The time window is not valid.",
        );
    };
    let Some(c) = w.calendars.cals.get(account).and_then(|c| c.get(&cal_id)) else {
        return not_found();
    };
    let mut rows = Vec::new();
    for (id, e) in &c.events {
        if watermark.is_some_and(|m| e.seq <= m) {
            continue;
        }
        if e.deleted {
            if watermark.is_some() {
                rows.push(j!({"id": id, "@removed": {"reason": "deleted"}}));
            }
            continue;
        }
        let v = render(id, e);
        match v["type"].as_str() {
            Some("seriesMaster") => {
                rows.push(v);
                rows.extend(instances(c, id, from, to, true));
            }
            Some("exception") => rows.push(v),
            _ => {
                let inside = instant(&e.data["start"]).is_some_and(|s| s < to)
                    && instant(&e.data["end"]).is_some_and(|x| x > from);
                if inside || e.data.get("isAllDay") == Some(&j!(true)) {
                    rows.push(v);
                }
            }
        }
    }
    let high = w.seq;
    let t = crate::common::token("");
    w.calendars
        .tokens
        .insert(t.clone(), (account.to_string(), cal_id, high, win));
    page(base, rows, Some(t))
}

/// The original start of occurrence `occ` (`<series>_OCC_<stamp>`) of series `m`.
fn original_of(m: &Ev, occ: &str) -> Option<String> {
    let (_, at) = occ.split_once("_OCC_")?;
    occurrences(m, jiff::Timestamp::MIN, jiff::Timestamp::MAX)
        .into_iter()
        .map(utc_str)
        .find(|o| o.replace([':', '-'], "") == at)
}

/// An occurrence about to be edited becomes an exception (keeping its id), with the series'
/// values at its own time.
fn occurrence_as_exception(cal: &Cal, occ: &str) -> Option<Ev> {
    let series = occ.split("_OCC_").next().unwrap_or(occ);
    let m = cal.events.get(series)?;
    let original = original_of(m, occ)?;
    if m.cancelled.contains(&original) {
        return None;
    }
    let at: jiff::Timestamp = original.parse().ok()?;
    let end = at.checked_add(span_of(m)).unwrap_or(at);
    let mut data = m.data.clone();
    data.remove("recurrence");
    data.insert("start".into(), in_utc(at));
    data.insert("end".into(), in_utc(end));
    Some(Ev {
        data,
        change_key: String::new(),
        seq: 0,
        deleted: false,
        series: Some(series.to_string()),
        original: Some(original),
        cancelled: BTreeSet::new(),
        transaction: None,
    })
}

/// Graph refuses to move an occurrence onto or past the day of the one before or after it
/// (`ErrorOccurrenceCrossingBoundary`), days counted in the series' own zone.
fn crossing(cal: &Cal, e: &Ev, body: &Value) -> Option<Response> {
    let (series, original) = (e.series.as_ref()?, e.original.as_ref()?);
    let m = cal.events.get(series)?;
    let zone = iana(m.data["start"]["timeZone"].as_str().unwrap_or("UTC")).to_string();
    let day = |ts: jiff::Timestamp| ts.in_tz(&zone).ok().map(|z| z.date());
    let new = instant(&body["start"])?;
    let all = occurrences(m, jiff::Timestamp::MIN, jiff::Timestamp::MAX);
    let i = all.iter().position(|t| utc_str(*t) == *original)?;
    let (d, prev, next) = (
        day(new)?,
        i.checked_sub(1)
            .and_then(|p| all.get(p))
            .and_then(|t| day(*t)),
        all.get(i + 1).and_then(|t| day(*t)),
    );
    (prev.is_some_and(|p| d <= p) || next.is_some_and(|n| d >= n)).then(|| {
        errors::graph(
            400,
            "ErrorOccurrenceCrossingBoundary",
            "An occurrence cannot overlap or cross the boundary of another occurrence.",
        )
    })
}

/// Graph's checks of a `patternedRecurrence`: an unknown type or a date it cannot read is a
/// body it cannot deserialize; a pattern that contradicts itself fails validation.
fn bad_recurrence(r: &Value) -> Option<Response> {
    if r.is_null() {
        return None;
    }
    let (p, range) = (&r["pattern"], &r["range"]);
    let known = [
        "daily",
        "weekly",
        "absoluteMonthly",
        "relativeMonthly",
        "absoluteYearly",
        "relativeYearly",
    ];
    let date = |k: &str| range[k].as_str().map(|d| d.parse::<jiff::civil::Date>());
    let unreadable = !p["type"].as_str().is_some_and(|t| known.contains(&t))
        || !range["type"]
            .as_str()
            .is_some_and(|t| ["endDate", "noEnd", "numbered"].contains(&t))
        || !matches!(date("startDate"), Some(Ok(_)))
        || matches!(date("endDate"), Some(Err(_)));
    if unreadable {
        return Some(errors::graph(
            400,
            "UnableToDeserializePostBody",
            "were unable to deserialize ",
        ));
    }
    let days = p["daysOfWeek"].as_array().is_some_and(|d| !d.is_empty());
    let needs_days = matches!(
        p["type"].as_str(),
        Some("weekly" | "relativeMonthly" | "relativeYearly")
    );
    let invalid = p["interval"].as_i64().is_some_and(|i| i < 1)
        || (needs_days && !days)
        || (range["type"] == "numbered"
            && range["numberOfOccurrences"].as_i64().is_none_or(|n| n <= 0))
        || (range["type"] == "endDate"
            && !matches!((date("startDate"), date("endDate")), (Some(Ok(s)), Some(Ok(e))) if e >= s));
    invalid.then(|| {
        errors::graph(
            400,
            "ErrorPropertyValidationFailure",
            "At least one property failed validation.",
        )
    })
}

fn if_match(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// `/me/calendars…` and `/me/events…`; `None` when the path is not the calendar API's.
/// One Graph request as the calendar API reads it.
pub(crate) struct Req<'a> {
    pub method: &'a str,
    pub segs: &'a [&'a str],
    pub q: &'a HashMap<String, String>,
    pub headers: &'a HeaderMap,
    pub body: &'a Value,
    pub base: &'a str,
}

pub(crate) fn dispatch(w: &mut World, account: &str, req: Req<'_>) -> Option<Response> {
    let Req {
        method,
        segs,
        q,
        headers,
        body,
        base,
    } = req;
    Some(match (method, segs) {
        ("GET", ["me", "calendars"]) => {
            let list: Vec<Value> = w
                .calendars
                .cals
                .get(account)
                .map(|c| {
                    c.iter()
                        .map(|(id, c)| j!({"id": id, "name": c.name, "hexColor": c.color, "canEdit": true, "isDefaultCalendar": id == "calendar"}))
                        .collect()
                })
                .unwrap_or_default();
            ok(j!({"value": list}))
        }
        ("GET", ["me", "calendars", c, "events"]) => {
            let Some(cal) = w.calendars.cals.get(account).and_then(|x| x.get(*c)) else {
                return Some(not_found());
            };
            let rows: Vec<Value> = cal
                .events
                .iter()
                .filter(|(_, e)| !e.deleted && e.series.is_none())
                .map(|(id, e)| render(id, e))
                .collect();
            if w.calendars.empty_listings > 0 {
                w.calendars.empty_listings -= 1;
                return Some(ok(j!({"value": []})));
            }
            ok(j!({"value": rows}))
        }
        ("GET", ["me", "calendars", c, "calendarView", "delta"]) => {
            let c = c.to_string();
            delta(w, account, &c, q, base)
        }
        ("GET", ["me", "calendarView", "delta"]) => delta(w, account, "", q, base),
        ("POST", ["me", "calendars", c, "events"]) => {
            let c = c.to_string();
            if !w
                .calendars
                .cals
                .get(account)
                .is_some_and(|x| x.contains_key(&c))
            {
                return Some(not_found());
            }
            if let Some(r) = bad_recurrence(&body["recurrence"]) {
                return Some(r);
            }
            let tx = body["transactionId"].as_str().map(str::to_string);
            if let Some(t) = &tx
                && let Some((id, e)) = w.calendars.cals[account][&c]
                    .events
                    .iter()
                    .find(|(_, e)| e.transaction.as_deref() == Some(t) && !e.deleted)
            {
                // The same create again: the first one, not a second event.
                return Some(json(StatusCode::CREATED, render(id, e)));
            }
            let mut data = body.as_object().cloned().unwrap_or_default();
            for k in [
                "id",
                "changeKey",
                "@odata.etag",
                "transactionId",
                "type",
                "seriesMasterId",
            ] {
                data.remove(k);
            }
            let id = format!("AAMkAD{}", crate::common::token("").replace(['-', '_'], ""));
            let ev = Ev {
                data,
                change_key: String::new(),
                seq: 0,
                deleted: false,
                series: None,
                original: None,
                cancelled: BTreeSet::new(),
                transaction: tx,
            };
            let to = guests(&ev.data);
            store(w, account, &c, &id, ev);
            mail(w, "invitation", &id, to);
            json(
                StatusCode::CREATED,
                render(&id, &w.calendars.cals[account][&c].events[&id]),
            )
        }
        ("GET", ["me", "events", id, "instances"]) => {
            let Some((from, to)) = window(q) else {
                return Some(errors::graph(
                    400,
                    "ErrorInvalidParameter",
                    "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.",
                ));
            };
            let id = id.to_string();
            let Some((_, cal)) = locate(w, account, &id) else {
                return Some(not_found());
            };
            ok(j!({"value": instances(cal, &id, from, to, false)}))
        }
        ("GET", ["me", "events", id]) => {
            let id = id.to_string();
            let Some((_, cal)) = locate(w, account, &id) else {
                return Some(not_found());
            };
            match cal.events.get(&id).filter(|e| !e.deleted) {
                Some(e) => ok(render(&id, e)),
                None => not_found(),
            }
        }
        ("PATCH", ["me", "events", id]) => {
            let id = id.to_string();
            let Some((cid, cal)) = locate(w, account, &id) else {
                return Some(not_found());
            };
            let e = match cal.events.get(&id) {
                Some(e) if !e.deleted => e.clone(),
                Some(_) => return Some(not_found()),
                None => match occurrence_as_exception(cal, &id) {
                    Some(e) => e,
                    None => return Some(not_found()),
                },
            };
            if let Some(r) = crossing(cal, &e, body).or_else(|| bad_recurrence(&body["recurrence"]))
            {
                return Some(r);
            }
            if if_match(headers).is_some_and(|m| m != format!("W/\"{}\"", e.change_key)) {
                return Some(stale());
            }
            let master = e
                .series
                .as_ref()
                .and_then(|m| cal.events.get(m))
                .map(|m| guests(&m.data));
            let to = master.unwrap_or_else(|| guests(&e.data));
            let mut next = e;
            for (k, v) in body.as_object().cloned().unwrap_or_default() {
                if matches!(
                    k.as_str(),
                    "id" | "changeKey" | "@odata.etag" | "type" | "seriesMasterId"
                ) {
                    continue;
                }
                if v.is_null() {
                    next.data.remove(&k);
                } else {
                    next.data.insert(k, v);
                }
            }
            store(w, account, &cid, &id, next);
            mail(w, "update", &id, to);
            ok(render(&id, &w.calendars.cals[account][&cid].events[&id]))
        }
        ("DELETE", ["me", "events", id]) => {
            let id = id.to_string();
            if let Some((series, _)) = id.split_once("_OCC_") {
                let Some((_, cal)) = locate(w, account, series) else {
                    return Some(not_found());
                };
                let original = cal.events.get(series).and_then(|m| original_of(m, &id));
                let to = cal
                    .events
                    .get(series)
                    .map(|m| guests(&m.data))
                    .unwrap_or_default();
                let series = series.to_string();
                return Some(match original {
                    Some(o) if cancel(w, account, &series, &o) => {
                        mail(w, "cancellation", &id, to);
                        json(StatusCode::NO_CONTENT, Value::Null)
                    }
                    _ => not_found(),
                });
            }
            let Some((_, cal)) = locate(w, account, &id) else {
                return Some(not_found());
            };
            let Some(e) = cal.events.get(&id).filter(|e| !e.deleted) else {
                return Some(not_found());
            };
            if if_match(headers).is_some_and(|m| m != format!("W/\"{}\"", e.change_key)) {
                return Some(stale());
            }
            let to = guests(&e.data);
            remove(w, account, &id);
            mail(w, "cancellation", &id, to);
            json(StatusCode::NO_CONTENT, Value::Null)
        }
        _ => return None,
    })
}
