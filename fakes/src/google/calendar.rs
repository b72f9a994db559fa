//! Google Calendar API v3 (`/calendar/v3`): calendar list, events listed with
//! `singleEvents=false` (a recurring event and, apart from it, its exceptions and cancelled
//! instances with `recurringEventId` and `originalStartTime`), sync tokens that expire (410
//! `fullSyncRequired`), etags with `If-Match` (412 `conditionNotMet`), client-chosen ids
//! (base32hex, 409 `duplicate`), deletes that answer 410 `deleted` the second time, the
//! forbidden parameter combinations, and `usageLimits` throttling.

use super::{World, json, token};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json as j};
use std::collections::{BTreeMap, HashMap};

pub const SCOPE: &str = "https://www.googleapis.com/auth/calendar";

/// One event as stored: its body, etag and place in the calendar's change feed.
#[derive(Debug, Clone)]
pub(crate) struct Ev {
    pub body: Value,
    pub etag: String,
    pub seq: u64,
    pub deleted: bool,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct Cal {
    pub summary: String,
    pub color: String,
    pub zone: String,
    pub events: BTreeMap<String, Ev>,
}

/// Calendar state of the fake: per account, per calendar id.
#[derive(Debug, Default)]
pub(crate) struct Calendars {
    pub cals: HashMap<String, BTreeMap<String, Cal>>,
    /// Sync token → (account, calendar, watermark).
    pub tokens: HashMap<String, (String, String, u64)>,
    /// Page token → the rest of a listing and the sync token its last page carries.
    pub pages: HashMap<String, (Vec<Value>, Option<String>)>,
    /// The next N API requests answer 403 `rateLimitExceeded`.
    pub storm: u32,
    /// Writes that happened (inserts, updates, deletes), for tests that count them.
    pub writes: u64,
    /// Until this virtual time (Unix ms), writes answer 403 `quotaExceeded` ("Calendar usage
    /// limits exceeded"): Google makes a calendar read-only for a while after too many
    /// writes, invitations above all.
    pub read_only_until: i64,
    /// The next N full listings (no sync token, no iCalUID) come back with no events: the
    /// fault a mass-create or mass-delete guard must catch.
    pub empty_listings: u32,
}

fn envelope(code: u16, reason: &str, domain: &str, message: &str) -> Value {
    j!({"error": {"errors": [{"domain": domain, "reason": reason, "message": message}], "code": code, "message": message}})
}

fn err(code: u16, reason: &str, message: &str) -> Response {
    json(
        StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST),
        envelope(code, reason, "global", message),
    )
}

/// 401 as the Calendar API words it.
pub fn invalid_credentials() -> Response {
    let mut body = envelope(401, "authError", "global", "Invalid Credentials");
    body["error"]["errors"][0]["locationType"] = j!("header");
    body["error"]["errors"][0]["location"] = j!("Authorization");
    json(StatusCode::UNAUTHORIZED, body)
}

pub fn full_sync_required() -> Response {
    err(
        410,
        "fullSyncRequired",
        "Sync token is no longer valid, a full sync is required.",
    )
}

fn usage_limited() -> Response {
    json(
        StatusCode::FORBIDDEN,
        envelope(
            403,
            "quotaExceeded",
            "usageLimits",
            "Calendar usage limits exceeded.",
        ),
    )
}

fn rate_limited() -> Response {
    json(
        StatusCode::FORBIDDEN,
        envelope(
            403,
            "rateLimitExceeded",
            "usageLimits",
            "Rate Limit Exceeded",
        ),
    )
}

fn insufficient() -> Response {
    let mut body = envelope(
        403,
        "insufficientPermissions",
        "global",
        "Request had insufficient authentication scopes.",
    );
    body["error"]["status"] = j!("PERMISSION_DENIED");
    body["error"]["details"] = j!([{
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
        "domain": "googleapis.com",
        "metadata": {"service": "calendar-json.googleapis.com", "method": "calendar.v3.Events.List"}
    }]);
    json(StatusCode::FORBIDDEN, body)
}

fn etag() -> String {
    format!(
        "\"{}\"",
        3_000_000_000_000_000u64 + rand::random::<u32>() as u64
    )
}

/// Google's dateTime: RFC 3339 with the offset of the event's zone at that time.
fn with_offset(t: &mut Value) {
    let (Some(dt), zone) = (t["dateTime"].as_str(), t["timeZone"].as_str()) else {
        return;
    };
    if dt.len() > 19 {
        return;
    }
    let Ok(civil) = dt.parse::<jiff::civil::DateTime>() else {
        return;
    };
    let Ok(z) = civil.in_tz(zone.unwrap_or("UTC")) else {
        return;
    };
    t["dateTime"] = j!(z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string());
}

/// Base32hex, 5 to 1024 characters: what Google accepts as a client-chosen id.
fn valid_id(id: &str) -> bool {
    (5..=1024).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='v').contains(&c))
}

fn new_id() -> String {
    token("")
        .chars()
        .filter(|c| c.is_ascii_digit() || ('a'..='v').contains(c))
        .take(26)
        .collect()
}

fn render(id: &str, e: &Ev) -> Value {
    if e.deleted {
        return j!({"kind": "calendar#event", "etag": e.etag, "id": id, "status": "cancelled"});
    }
    let mut b = e.body.clone();
    b["kind"] = j!("calendar#event");
    b["id"] = j!(id);
    b["etag"] = j!(e.etag);
    if b.get("status").is_none() {
        b["status"] = j!("confirmed");
    }
    if b.get("iCalUID").is_none() {
        let master = b["recurringEventId"].as_str().unwrap_or(id).to_string();
        b["iCalUID"] = j!(format!("{master}@google.com"));
    }
    b
}

/// Stores `body` as event `id`: a new etag and a new place in the feed.
pub(crate) fn write(w: &mut World, account: &str, cal: &str, id: &str, body: Value) -> Value {
    let seq = w.next_seq();
    let mut body = body;
    for k in ["start", "end", "originalStartTime"] {
        with_offset(&mut body[k]);
        // A null in a request clears the field; Google's answers never hold one.
        if let Some(t) = body[k].as_object_mut() {
            t.retain(|_, v| !v.is_null());
        }
        if body[k].is_null() {
            body.as_object_mut().map(|o| o.remove(k));
        }
    }
    let c = w.calendars.cals.entry(account.to_string()).or_default();
    let cal = c.entry(cal.to_string()).or_default();
    let ev = Ev {
        body,
        etag: etag(),
        seq,
        deleted: false,
    };
    let out = render(id, &ev);
    cal.events.insert(id.to_string(), ev);
    w.calendars.writes += 1;
    out
}

pub(crate) fn remove(w: &mut World, account: &str, cal: &str, id: &str) -> bool {
    let seq = w.next_seq();
    let Some(ev) = w
        .calendars
        .cals
        .get_mut(account)
        .and_then(|c| c.get_mut(cal))
        .and_then(|c| c.events.get_mut(id))
        .filter(|e| !e.deleted)
    else {
        return false;
    };
    ev.deleted = true;
    ev.seq = seq;
    ev.etag = etag();
    w.calendars.writes += 1;
    true
}

/// Adds a calendar (the control API; `primary` exists for every account).
pub(crate) fn add_calendar(w: &mut World, account: &str, id: &str, summary: &str, zone: &str) {
    let c = w.calendars.cals.entry(account.to_string()).or_default();
    let cal = c.entry(id.to_string()).or_default();
    cal.summary = summary.to_string();
    cal.zone = zone.to_string();
    cal.color = "#9fc6e7".into();
}

/// A server-side change that touches no field the user sees (Google re-indexes, a
/// reminder default is recomputed): a new etag and a new place in the feed.
pub(crate) fn churn(w: &mut World, account: &str, cal: &str) -> usize {
    let ids: Vec<String> = w
        .calendars
        .cals
        .get(account)
        .and_then(|c| c.get(cal))
        .map(|c| c.events.keys().cloned().collect())
        .unwrap_or_default();
    for id in &ids {
        let seq = w.next_seq();
        if let Some(e) = w
            .calendars
            .cals
            .get_mut(account)
            .and_then(|c| c.get_mut(cal))
            .and_then(|c| c.events.get_mut(id))
        {
            e.etag = etag();
            e.seq = seq;
        }
    }
    ids.len()
}

pub(crate) fn dump(w: &World, account: &str, cal: &str) -> Value {
    let events: Vec<Value> = w
        .calendars
        .cals
        .get(account)
        .and_then(|c| c.get(cal))
        .map(|c| c.events.iter().map(|(id, e)| render(id, e)).collect())
        .unwrap_or_default();
    j!({"items": events, "writes": w.calendars.writes})
}

/// An occurrence of a recurring event addressed by its instance id (`<id>_20260323T080000Z`,
/// or `<id>_20260323` for an all-day series) before it was ever edited: the series' values at
/// that time, ready to become an exception.
fn instance(w: &World, account: &str, cal: &str, id: &str) -> Option<Ev> {
    let (master, stamp) = id.rsplit_once('_')?;
    let m = w
        .calendars
        .cals
        .get(account)?
        .get(cal)?
        .events
        .get(master)?;
    if m.deleted || !m.body["recurrence"].is_array() {
        return None;
    }
    let mut b = m.body.clone();
    let o = b.as_object_mut()?;
    o.remove("recurrence");
    let original = match stamp.strip_suffix('Z') {
        Some(t) => {
            let utc = jiff::civil::DateTime::strptime("%Y%m%dT%H%M%S", t).ok()?;
            let zone = m.body["start"]["timeZone"].as_str().unwrap_or("UTC");
            let at = utc.to_zoned(jiff::tz::TimeZone::UTC).ok()?;
            let local = at.in_tz(zone).ok()?;
            let len = instant(&m.body["end"])?.duration_since(instant(&m.body["start"])?);
            let end = local.timestamp().checked_add(len).ok()?.in_tz(zone).ok()?;
            let fmt = |z: &jiff::Zoned| z.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string();
            o.insert(
                "start".into(),
                j!({"dateTime": fmt(&local), "timeZone": zone}),
            );
            o.insert("end".into(), j!({"dateTime": fmt(&end), "timeZone": zone}));
            j!({"dateTime": fmt(&local), "timeZone": zone})
        }
        None => {
            let d = jiff::civil::Date::strptime("%Y%m%d", stamp).ok()?;
            let days = m.body["end"]["date"]
                .as_str()
                .zip(m.body["start"]["date"].as_str())
                .and_then(|(e, s)| {
                    let (e, s) = (
                        e.parse::<jiff::civil::Date>().ok()?,
                        s.parse::<jiff::civil::Date>().ok()?,
                    );
                    e.since(s).ok()
                })
                .unwrap_or(jiff::Span::new().days(1));
            o.insert("start".into(), j!({"date": d.to_string()}));
            o.insert(
                "end".into(),
                j!({"date": d.checked_add(days).ok()?.to_string()}),
            );
            j!({"date": d.to_string()})
        }
    };
    o.insert("recurringEventId".into(), j!(master));
    o.insert("originalStartTime".into(), original);
    o.remove("iCalUID");
    Some(Ev {
        body: b,
        etag: etag(),
        seq: 0,
        deleted: false,
    })
}

/// A `{dateTime, timeZone}` (RFC 3339 with offset, as stored) as an instant.
fn instant(t: &Value) -> Option<jiff::Timestamp> {
    t["dateTime"].as_str()?.parse().ok()
}

fn query(q: &str) -> HashMap<String, String> {
    super::form(q)
}

fn page(w: &mut World, mut rest: Vec<Value>, max: usize, sync: Option<String>) -> Response {
    let tail = if rest.len() > max {
        rest.split_off(max)
    } else {
        Vec::new()
    };
    let mut out = j!({"kind": "calendar#events", "items": rest});
    if tail.is_empty() {
        if let Some(s) = sync {
            out["nextSyncToken"] = j!(s);
        }
    } else {
        let t = token("CiAK");
        w.calendars.pages.insert(t.clone(), (tail, sync));
        out["nextPageToken"] = j!(t);
    }
    json(StatusCode::OK, out)
}

fn list(w: &mut World, account: &str, cal: &str, q: &HashMap<String, String>) -> Response {
    let max: usize = q
        .get("maxResults")
        .and_then(|m| m.parse().ok())
        .unwrap_or(250)
        .clamp(1, 2500);
    if let Some(p) = q.get("pageToken") {
        return match w.calendars.pages.remove(p) {
            Some((rest, sync)) => page(w, rest, max, sync),
            None => err(400, "invalid", "Invalid Value"),
        };
    }
    let sync = q.get("syncToken");
    if sync.is_some()
        && [
            "iCalUID",
            "orderBy",
            "privateExtendedProperty",
            "q",
            "sharedExtendedProperty",
            "timeMin",
            "timeMax",
            "updatedMin",
        ]
        .iter()
        .any(|k| q.contains_key(*k))
    {
        return err(
            400,
            "invalid",
            "Invalid parameter combination: syncToken cannot be used with the given filters.",
        );
    }
    let watermark = match sync {
        Some(t) => match w.calendars.tokens.get(t) {
            Some((a, c, m)) if a == account && c == cal => Some(*m),
            _ => return full_sync_required(),
        },
        None => None,
    };
    let show_deleted = q.get("showDeleted").is_some_and(|v| v == "true");
    let uid = q.get("iCalUID");
    let Some(c) = w.calendars.cals.get(account).and_then(|c| c.get(cal)) else {
        return err(404, "notFound", "Not Found");
    };
    let items: Vec<Value> = c
        .events
        .iter()
        .filter(|(_, e)| match watermark {
            Some(m) => e.seq > m,
            // Cancelled instances of a recurring event are listed even without showDeleted.
            None => {
                !e.deleted
                    || show_deleted
                    || (e.body["recurringEventId"].is_string() && e.body["status"] == "cancelled")
            }
        })
        .map(|(id, e)| render(id, e))
        .filter(|e| uid.is_none_or(|u| e["iCalUID"].as_str() == Some(u)))
        .collect();
    let empty = watermark.is_none() && uid.is_none() && w.calendars.empty_listings > 0;
    if empty {
        w.calendars.empty_listings -= 1;
    }
    let items = if empty { Vec::new() } else { items };
    let high = w.seq;
    let sync = (uid.is_none()).then(|| {
        let t = token("CPDAlvWDx");
        w.calendars
            .tokens
            .insert(t.clone(), (account.to_string(), cal.to_string(), high));
        t
    });
    page(w, items, max, sync)
}

fn body_of(raw: &[u8]) -> Option<Value> {
    serde_json::from_slice::<Value>(raw)
        .ok()
        .filter(Value::is_object)
}

/// One request to the Calendar API.
pub(crate) struct Req<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// `/calendar/v3/…` for `account` (already authenticated).
pub(crate) fn handle(w: &mut World, account: &str, scopes: Option<&str>, req: Req<'_>) -> Response {
    let Req {
        method,
        path,
        query: q,
        headers,
        body: raw,
    } = req;
    if scopes.is_some_and(|s| !s.split_whitespace().any(|x| x == SCOPE)) {
        return insufficient();
    }
    if w.calendars.storm > 0 {
        w.calendars.storm -= 1;
        return rate_limited();
    }
    if method != Method::GET && w.now() < w.calendars.read_only_until {
        return usage_limited();
    }
    let q = query(q);
    let rest = path.trim_start_matches("/calendar/v3");
    if rest == "/users/me/calendarList" {
        let items: Vec<Value> = w
            .calendars
            .cals
            .get(account)
            .map(|c| {
                c.iter()
                    .map(|(id, c)| j!({"kind": "calendar#calendarListEntry", "id": id, "summary": c.summary, "backgroundColor": c.color, "timeZone": c.zone, "accessRole": "owner", "primary": id == "primary"}))
                    .collect()
            })
            .unwrap_or_default();
        return json(
            StatusCode::OK,
            j!({"kind": "calendar#calendarList", "items": items}),
        );
    }
    let parts = crate::common::segments(rest);
    let (cal, eid) = match parts.as_slice() {
        [c, cal, e] if c == "calendars" && e == "events" => (cal.clone(), None),
        [c, cal, e, id] if c == "calendars" && e == "events" => (cal.clone(), Some(id.clone())),
        _ => return err(404, "notFound", "Not Found"),
    };
    let exists = w
        .calendars
        .cals
        .get(account)
        .is_some_and(|c| c.contains_key(&cal));
    if !exists {
        return err(404, "notFound", "Not Found");
    }
    let current = |w: &World, id: &str| -> Option<Ev> {
        w.calendars
            .cals
            .get(account)
            .and_then(|c| c.get(&cal))
            .and_then(|c| c.events.get(id))
            .cloned()
    };
    let if_match = headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    match (method.as_str(), eid) {
        ("GET", None) => list(w, account, &cal, &q),
        ("POST", None) => {
            let Some(body) = body_of(raw) else {
                return err(400, "parseError", "Parse Error");
            };
            let id = match body["id"].as_str() {
                Some(id) if !valid_id(id) => {
                    return err(400, "invalid", "Invalid resource id value.");
                }
                Some(id) => id.to_string(),
                None => new_id(),
            };
            if current(w, &id).is_some() {
                return err(409, "duplicate", "The requested identifier already exists.");
            }
            let mut body = body;
            body.as_object_mut().map(|o| o.remove("id"));
            json(StatusCode::OK, write(w, account, &cal, &id, body))
        }
        ("GET", Some(id)) => match current(w, &id) {
            Some(e) => json(StatusCode::OK, render(&id, &e)),
            None => err(404, "notFound", "Not Found"),
        },
        ("PUT" | "PATCH", Some(id)) => {
            let Some(e) = current(w, &id).or_else(|| instance(w, account, &cal, &id)) else {
                return err(404, "notFound", "Not Found");
            };
            if e.deleted {
                return err(410, "deleted", "Resource has been deleted");
            }
            if if_match.as_deref().is_some_and(|m| m != e.etag) {
                return err(412, "conditionNotMet", "Precondition Failed");
            }
            let Some(body) = body_of(raw) else {
                return err(400, "parseError", "Parse Error");
            };
            // A guest may change only their own view of a meeting.
            let organizer = e.body["organizer"]["email"].as_str();
            let guest =
                organizer.is_some_and(|o| o != account) && e.body["organizer"]["self"] != true;
            let personal = ["reminders", "colorId", "extendedProperties", "attendees"];
            if guest
                && body
                    .as_object()
                    .is_some_and(|o| o.keys().any(|k| !personal.contains(&k.as_str())))
            {
                return json(
                    StatusCode::FORBIDDEN,
                    envelope(
                        403,
                        "forbiddenForNonOrganizer",
                        "calendar",
                        "Shared properties can only be changed by the organizer of the event.",
                    ),
                );
            }
            let mut next = if method == Method::PATCH {
                let mut b = e.body.clone();
                if let (Some(o), Some(p)) = (b.as_object_mut(), body.as_object()) {
                    for (k, v) in p {
                        o.insert(k.clone(), v.clone());
                    }
                }
                b
            } else {
                body
            };
            // What the client cannot change stays.
            for k in [
                "recurringEventId",
                "originalStartTime",
                "iCalUID",
                "organizer",
            ] {
                if let Some(v) = e.body.get(k) {
                    next[k] = v.clone();
                }
            }
            if let Some(o) = next.as_object_mut() {
                o.remove("id");
                o.remove("etag");
            }
            json(StatusCode::OK, write(w, account, &cal, &id, next))
        }
        ("DELETE", Some(id)) => {
            let Some(e) = current(w, &id).or_else(|| instance(w, account, &cal, &id)) else {
                return err(404, "notFound", "Not Found");
            };
            // An occurrence of a series is cancelled, not deleted: it stays an instance row
            // with its series and original start.
            if e.body["recurringEventId"].is_string() && !e.deleted {
                let keep = ["recurringEventId", "originalStartTime", "start", "end"];
                let mut b = j!({"status": "cancelled"});
                for k in keep {
                    b[k] = e.body[k].clone();
                }
                write(w, account, &cal, &id, b);
                return Response::builder()
                    .status(StatusCode::NO_CONTENT)
                    .body(axum::body::Body::empty())
                    .unwrap_or_default();
            }
            if if_match.as_deref().is_some_and(|m| m != e.etag) && !e.deleted {
                return err(412, "conditionNotMet", "Precondition Failed");
            }
            if !remove(w, account, &cal, &id) {
                return err(410, "deleted", "Resource has been deleted");
            }
            Response::builder()
                .status(StatusCode::NO_CONTENT)
                .body(axum::body::Body::empty())
                .unwrap_or_default()
        }
        _ => err(405, "methodNotAllowed", "Method Not Allowed"),
    }
}
