//! Graph contacts: folders, per-folder delta rounds (absolute next/delta links, empty pages,
//! duplicate and unordered rows, `@removed` for deletes and moves, token expiry), get, create,
//! PATCH (absent keeps, null clears, collections replace; computed fields recomputed), delete,
//! If-Match, slot limits, ImmutableId, the 4-request gate and throttling with Retry-After.

use super::{Contact, Event, Fake, Mailbox, Round, World, errors, ok};
use crate::common::{form, json, token};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json as j};
use std::time::Duration;

const SCALARS: [&str; 17] = [
    "givenName",
    "surname",
    "middleName",
    "title",
    "generation",
    "nickName",
    "displayName",
    "companyName",
    "department",
    "jobTitle",
    "birthday",
    "personalNotes",
    "mobilePhone",
    "businessHomePage",
    "officeLocation",
    "profession",
    "spouseName",
];
const LISTS: [&str; 5] = [
    "emailAddresses",
    "businessPhones",
    "homePhones",
    "categories",
    "imAddresses",
];
const ADDRESSES: [&str; 3] = ["homeAddress", "businessAddress", "otherAddress"];

fn bearer(w: &World, headers: &HeaderMap) -> Option<String> {
    let t = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    let (account, exp) = w.access.get(t)?;
    (*exp > w.now()).then(|| account.clone())
}

fn wants_immutable(w: &World, headers: &HeaderMap) -> bool {
    !w.knobs.ignore_immutable
        && headers
            .get_all("prefer")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.contains("IdType=\"ImmutableId\""))
}

fn max_page(headers: &HeaderMap) -> usize {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| p.trim().strip_prefix("odata.maxpagesize="))
        .and_then(|n| n.parse().ok())
        .unwrap_or(10)
}

/// Outlook's computed fields: fileAs and initials always, displayName unless the write set
/// it (`keep_display`).
fn computed(c: &mut Map<String, Value>, keep_display: bool) {
    let part = |c: &Map<String, Value>, k: &str| {
        c.get(k).and_then(Value::as_str).unwrap_or("").to_string()
    };
    let (given, sur) = (part(c, "givenName"), part(c, "surname"));
    let name = [given.as_str(), sur.as_str()]
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    c.insert(
        "fileAs".into(),
        j!(if sur.is_empty() {
            given.clone()
        } else {
            format!("{sur}, {given}")
        }),
    );
    let initials: String = [given.chars().next(), sur.chars().next()]
        .into_iter()
        .flatten()
        .map(|ch| format!("{ch}."))
        .collect();
    c.insert("initials".into(), j!(initials));
    let given_display = c
        .get("displayName")
        .and_then(Value::as_str)
        .is_some_and(|d| !d.is_empty());
    let keep = keep_display && given_display;
    if !name.is_empty() && !keep {
        c.insert("displayName".into(), j!(name));
    }
}

fn render(c: &Contact, immutable: bool) -> Value {
    let mut out = Map::new();
    for k in SCALARS {
        out.insert(k.into(), c.data.get(k).cloned().unwrap_or(Value::Null));
    }
    for k in LISTS {
        out.insert(k.into(), c.data.get(k).cloned().unwrap_or(j!([])));
    }
    for k in ADDRESSES {
        out.insert(k.into(), c.data.get(k).cloned().unwrap_or(j!({})));
    }
    for k in ["fileAs", "initials"] {
        out.insert(k.into(), c.data.get(k).cloned().unwrap_or(Value::Null));
    }
    out.insert(
        "id".into(),
        j!(if immutable { &c.immutable } else { &c.regular }),
    );
    out.insert("@odata.etag".into(), j!(format!("W/\"{}\"", c.change_key)));
    out.insert("changeKey".into(), j!(c.change_key));
    out.insert("parentFolderId".into(), j!(c.folder));
    out.insert("createdDateTime".into(), j!(iso(c.created)));
    out.insert("lastModifiedDateTime".into(), j!(iso(c.modified)));
    Value::Object(out)
}

fn iso(ms: i64) -> String {
    let secs = ms / 1000;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Applies slot limits to a body: three emails, two business and two home phones.
fn slots(w: &World, body: &mut Map<String, Value>) -> Result<(), Box<Response>> {
    for (k, n) in [
        ("emailAddresses", 3),
        ("businessPhones", 2),
        ("homePhones", 2),
    ] {
        if let Some(list) = body.get_mut(k).and_then(Value::as_array_mut)
            && list.len() > n
        {
            if w.knobs.slot_overflow == "reject" {
                return Err(Box::new(errors::graph(
                    400,
                    "ErrorInvalidProperty",
                    &format!("The property '{k}' can hold at most {n} values."),
                )));
            }
            list.truncate(n);
        }
    }
    Ok(())
}

pub(crate) fn new_change_key() -> String {
    token("EQAAABYAAAA")
}

/// Records a write in the mailbox's feed (and gives the contact a new change key).
pub(crate) fn changed(w: &mut World, account: &str, id: &str, removed: Option<&'static str>) {
    changed_keeping(w, account, id, removed, false)
}

/// [`changed`], keeping a displayName the write itself set.
pub(crate) fn changed_keeping(
    w: &mut World,
    account: &str,
    id: &str,
    removed: Option<&'static str>,
    keep_display: bool,
) {
    w.seq += 1;
    let seq = w.seq;
    let now = w.now();
    let mb = w.mailbox(account);
    let Some(c) = mb.contacts.get_mut(id) else {
        return;
    };
    if removed.is_none() {
        c.change_key = new_change_key();
        c.modified = now;
        computed(&mut c.data, keep_display);
    }
    let e = Event {
        seq,
        folder: c.folder.clone(),
        immutable: c.immutable.clone(),
        regular: c.regular.clone(),
        removed,
    };
    mb.events.push(e);
}

pub(crate) fn create(
    w: &mut World,
    account: &str,
    folder: &str,
    data: Map<String, Value>,
    marker: Option<String>,
) -> String {
    let now = w.now();
    let mb = w.mailbox(account);
    mb.next += 1;
    let immutable = format!("AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A{:08X}", mb.next);
    let regular = format!("AAMkAGI2T{:08x}{}", mb.next, &token("")[..8]);
    let keep_display = data.contains_key("displayName");
    mb.contacts.insert(
        immutable.clone(),
        Contact {
            immutable: immutable.clone(),
            regular,
            folder: folder.to_string(),
            data,
            change_key: new_change_key(),
            created: now,
            modified: now,
            marker,
        },
    );
    changed_keeping(w, account, &immutable, None, keep_display);
    immutable
}

/// The contact an id names (either form), by its immutable id.
fn find(mb: &Mailbox, id: &str) -> Option<String> {
    if mb.contacts.contains_key(id) {
        return Some(id.to_string());
    }
    mb.contacts
        .values()
        .find(|c| c.regular == id)
        .map(|c| c.immutable.clone())
}

pub async fn handle(
    fake: &Fake,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
    base: &str,
) -> (Response, String, u32) {
    // Admission: token, the app's concurrency gate, the mailbox's budget, injected faults.
    let (account, in_flight, latency) = {
        let mut w = fake.world();
        let Some(account) = bearer(&w, headers) else {
            return (errors::unauthenticated(), String::new(), 0);
        };
        w.in_flight += 1;
        let in_flight = w.in_flight;
        if in_flight > w.knobs.max_concurrent {
            w.in_flight -= 1;
            let ra = w.knobs.retry_after_secs;
            return (errors::throttled(429, ra), account, in_flight);
        }
        if w.knobs.revoke_after > 0 {
            w.knobs.revoke_after -= 1;
            if w.knobs.revoke_after == 0 {
                for r in w.refresh.values_mut().filter(|r| r.account == account) {
                    r.revoked = true;
                }
                w.access.retain(|_, (a, _)| *a != account);
                w.in_flight -= 1;
                return (errors::unauthenticated(), account, in_flight);
            }
        }
        let ra = w.knobs.retry_after_secs;
        if w.knobs.storm > 0 {
            w.knobs.storm -= 1;
            w.in_flight -= 1;
            return (errors::throttled(429, ra), account, in_flight);
        }
        if w.knobs.unavailable > 0 {
            w.knobs.unavailable -= 1;
            w.in_flight -= 1;
            return (errors::throttled(503, ra), account, in_flight);
        }
        let now = w.now();
        let limit = w.knobs.requests_per_10_min;
        let mb = w.mailbox(&account);
        if now - mb.window.0 > 600_000 {
            mb.window = (now, 0);
        }
        mb.window.1 += 1;
        if mb.window.1 > limit {
            w.in_flight -= 1;
            return (errors::throttled(429, ra), account, in_flight);
        }
        (account, in_flight, w.knobs.latency_ms)
    };
    let mutation = *method != Method::GET;
    if mutation {
        let mut w = fake.world();
        let mb = w.mailbox(&account);
        if mb.writing {
            w.in_flight -= 1;
            return (
                errors::graph(
                    409,
                    "ErrorIrresolvableConflict",
                    "The send or update operation could not be performed because the change key passed in the request does not match the current change key for the item.",
                ),
                account,
                in_flight,
            );
        }
        mb.writing = true;
    }
    tokio::time::sleep(Duration::from_millis(latency.max(if mutation {
        3
    } else {
        0
    })))
    .await;
    let mut w = fake.world();
    let immutable = wants_immutable(&w, headers);
    let resp = dispatch(
        &mut w, &account, method, path, query, headers, body, base, immutable,
    );
    w.in_flight -= 1;
    if mutation {
        w.mailbox(&account).writing = false;
    }
    (resp, account, in_flight)
}

#[allow(clippy::too_many_arguments)]
fn dispatch(
    w: &mut World,
    account: &str,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
    base: &str,
    immutable: bool,
) -> Response {
    let rest = &path["/v1.0".len()..];
    let q = form(query);
    let parsed: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(_) => {
                return errors::graph(400, "BadRequest", "Unable to read JSON request payload.");
            }
        }
    };
    let segs: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    match (method.as_str(), segs.as_slice()) {
        ("GET", ["me", "mailboxSettings"]) => {
            let tz = w.mailbox(account).time_zone.clone();
            ok(j!({"timeZone": tz}))
        }
        ("GET", ["me", "contactFolders"]) => {
            let folders: Vec<Value> = w
                .mailbox(account)
                .folders
                .iter()
                .map(|(id, name)| j!({"id": id, "displayName": name, "parentFolderId": "default"}))
                .collect();
            ok(j!({"value": folders}))
        }
        ("GET", ["me", "contacts", "delta"]) => {
            delta(w, account, "default", &q, headers, base, immutable)
        }
        ("GET", ["me", "contactFolders", f, "contacts", "delta"]) => {
            let f = f.to_string();
            if !w.mailbox(account).folders.contains_key(&f) {
                return errors::graph(
                    404,
                    "ErrorItemNotFound",
                    "The specified object was not found in the store.",
                );
            }
            delta(w, account, &f, &q, headers, base, immutable)
        }
        ("GET", ["me", "contacts"]) => {
            // Only the marker lookup: $filter on the extended property's value.
            let filter = q.get("$filter").cloned().unwrap_or_default();
            let want = filter
                .split("ep/value eq '")
                .nth(1)
                .and_then(|r| r.split('\'').next())
                .map(str::to_string);
            let mb = w.mailbox(account);
            let found: Vec<Value> = mb
                .contacts
                .values()
                .filter(|c| want.is_some() && c.marker == want)
                .map(|c| {
                    let mut v = render(c, immutable);
                    v["singleValueExtendedProperties"] = j!([{"id": MARKER_ID, "value": c.marker}]);
                    v
                })
                .collect();
            ok(j!({"value": found}))
        }
        ("POST", ["me", "contacts"]) => post(w, account, "default", parsed, immutable),
        ("POST", ["me", "contactFolders", f, "contacts"]) => {
            let f = f.to_string();
            post(w, account, &f, parsed, immutable)
        }
        ("GET", ["me", "contacts", id]) => {
            let mb = w.mailbox(account);
            match find(mb, id) {
                Some(i) => ok(render(&mb.contacts[&i], immutable)),
                None => not_found(),
            }
        }
        ("PATCH", ["me", "contacts", id]) => patch(w, account, id, parsed, headers, immutable),
        ("DELETE", ["me", "contacts", id]) => {
            let mb = w.mailbox(account);
            let Some(i) = find(mb, id) else {
                return not_found();
            };
            if let Some(m) = if_match(headers)
                && m != format!("W/\"{}\"", mb.contacts[&i].change_key)
            {
                return conflict(412);
            }
            changed(w, account, &i, Some("deleted"));
            w.mailbox(account).contacts.remove(&i);
            json(StatusCode::NO_CONTENT, Value::Null)
        }
        _ => errors::graph(
            400,
            "BadRequest",
            &format!("Unsupported request: {method} {path}"),
        ),
    }
}

const MARKER_ID: &str = "String {6f0a7c3e-6c1b-4c1e-9a51-4b1d2e3f5a70} Name KithCard";

fn not_found() -> Response {
    errors::graph(
        404,
        "ErrorItemNotFound",
        "The specified object was not found in the store.",
    )
}

fn conflict(status: u16) -> Response {
    errors::graph(
        status,
        "ErrorIrresolvableConflict",
        "The send or update operation could not be performed because the change key passed in the request does not match the current change key for the item.",
    )
}

fn if_match(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn post(w: &mut World, account: &str, folder: &str, parsed: Value, immutable: bool) -> Response {
    let Value::Object(mut body) = parsed else {
        return errors::graph(
            400,
            "ErrorInvalidRequest",
            "The request body must be a contact.",
        );
    };
    if let Err(r) = slots(w, &mut body) {
        return *r;
    }
    let marker = body
        .remove("singleValueExtendedProperties")
        .and_then(|v| v.as_array().and_then(|a| a.first().cloned()))
        .and_then(|p| p["value"].as_str().map(str::to_string));
    for k in ["id", "@odata.etag", "changeKey", "parentFolderId"] {
        body.remove(k);
    }
    // Ids are the server's, never the client's.
    let id = create(w, account, folder, body, marker);
    if w.knobs.lose_creates > 0 {
        w.knobs.lose_creates -= 1;
        return crate::common::lost_answer(StatusCode::CREATED);
    }
    let c = &w.mailbox(account).contacts[&id];
    json(StatusCode::CREATED, render(c, immutable))
}

fn patch(
    w: &mut World,
    account: &str,
    id: &str,
    parsed: Value,
    headers: &HeaderMap,
    immutable: bool,
) -> Response {
    let Value::Object(mut body) = parsed else {
        return errors::graph(
            400,
            "ErrorInvalidRequest",
            "The request body must be a contact.",
        );
    };
    if let Err(r) = slots(w, &mut body) {
        return *r;
    }
    let flaky = w.knobs.flaky_stale;
    let mb = w.mailbox(account);
    let Some(i) = find(mb, id) else {
        return not_found();
    };
    let current = format!("W/\"{}\"", mb.contacts[&i].change_key);
    if let Some(m) = if_match(headers)
        && m != current
    {
        return conflict(412);
    }
    if flaky > 0 && if_match(headers).is_some() {
        w.knobs.flaky_stale -= 1;
        return conflict(412);
    }
    let user_display = body.contains_key("displayName");
    let mb = w.mailbox(account);
    let Some(c) = mb.contacts.get_mut(&i) else {
        return not_found();
    };
    for (k, v) in body {
        if k == "singleValueExtendedProperties" || k.starts_with('@') || k == "id" {
            continue;
        }
        // Absent keeps, null clears, a collection replaces the whole collection.
        if v.is_null() {
            c.data.remove(&k);
        } else {
            c.data.insert(k, v);
        }
    }
    changed_keeping(w, account, &i, None, user_display);
    let c = &w.mailbox(account).contacts[&i];
    ok(render(c, immutable))
}

fn link(base: &str, folder: &str, key: &str, token: &str) -> String {
    let path = if folder == "default" {
        "/v1.0/me/contacts/delta".to_string()
    } else {
        format!("/v1.0/me/contactFolders/{folder}/contacts/delta")
    };
    format!("{base}{path}?{key}={token}")
}

fn delta(
    w: &mut World,
    account: &str,
    folder: &str,
    q: &std::collections::HashMap<String, String>,
    headers: &HeaderMap,
    base: &str,
    immutable: bool,
) -> Response {
    let now = w.now();
    let key = if let Some(skip) = q.get("$skiptoken") {
        if !w
            .rounds
            .get(skip)
            .is_some_and(|r| r.account == account && r.folder == folder)
        {
            return errors::graph(
                400,
                "BadRequest",
                "The skip token is not valid for this request.",
            );
        }
        skip.clone()
    } else {
        let top = w.seq;
        let (since, full) = match q.get("$deltatoken") {
            Some(t) => {
                let ttl = w.knobs.delta_ttl_secs * 1000;
                match w.deltas.get(t).cloned() {
                    Some((acc, f, mark, issued)) if acc == account && f == folder => {
                        if now - issued > ttl {
                            return errors::graph(
                                410,
                                "syncStateNotFound",
                                "The sync state generation is not found. Please restart the sync from scratch.",
                            );
                        }
                        (mark, false)
                    }
                    _ => {
                        return errors::graph(
                            410,
                            "resyncRequired",
                            "Resync required. Replace any local cached data with the data returned in the response and reset the delta token.",
                        );
                    }
                }
            }
            None => (0, true),
        };
        let (dup, reverse, partial) = (
            w.knobs.duplicate_rows,
            w.knobs.reverse_rows,
            w.knobs.partial_rows,
        );
        let mb = w.mailbox(account);
        let mut rows: Vec<Value> = Vec::new();
        if full {
            for c in mb.contacts.values().filter(|c| c.folder == folder) {
                rows.push(render(c, immutable));
            }
        } else {
            for e in mb
                .events
                .iter()
                .filter(|e| e.seq > since && e.folder == folder)
            {
                let id = if immutable { &e.immutable } else { &e.regular };
                match e.removed {
                    Some(reason) => rows.push(j!({"@odata.type": "#microsoft.graph.contact", "id": id, "@removed": {"reason": reason}})),
                    None => match mb.contacts.get(&e.immutable) {
                        Some(c) if c.folder == folder && (immutable || c.regular == e.regular) => {
                            if partial {
                                rows.push(j!({"id": id, "@odata.etag": format!("W/\"{}\"", c.change_key), "displayName": c.data.get("displayName")}));
                            } else {
                                rows.push(render(c, immutable));
                            }
                        }
                        _ => {}
                    },
                }
            }
        }
        if dup && !rows.is_empty() {
            let again: Vec<Value> = rows.clone();
            rows.extend(again);
        }
        if reverse {
            rows.reverse();
        }
        let page_size = max_page(headers);
        let t = token("sk");
        w.rounds.insert(
            t.clone(),
            Round {
                account: account.to_string(),
                folder: folder.to_string(),
                rows,
                offset: 0,
                page: 0,
                watermark: top,
                page_size,
            },
        );
        t
    };
    let empty_every = w.knobs.empty_every;
    let Some(r) = w.rounds.get_mut(&key) else {
        return errors::graph(
            400,
            "BadRequest",
            "The skip token is not valid for this request.",
        );
    };
    r.page += 1;
    let empty = empty_every > 0 && r.page % empty_every == 0 && r.offset < r.rows.len();
    let take = if empty { 0 } else { r.page_size };
    let end = (r.offset + take).min(r.rows.len());
    let page: Vec<Value> = r.rows[r.offset..end].to_vec();
    r.offset = end;
    let mut out =
        j!({"@odata.context": format!("{base}/v1.0/$metadata#Collection(contact)"), "value": page});
    if r.offset < r.rows.len() {
        out["@odata.nextLink"] = j!(link(base, folder, "$skiptoken", &key));
    } else if let Some(r) = w.rounds.remove(&key) {
        let t = token("dt");
        w.deltas.insert(
            t.clone(),
            (account.to_string(), folder.to_string(), r.watermark, now),
        );
        out["@odata.deltaLink"] = j!(link(base, folder, "$deltatoken", &t));
    }
    let mut resp = ok(out);
    if let Ok(v) =
        axum::http::HeaderValue::from_str(&format!("odata.maxpagesize={}", max_page(headers)))
    {
        resp.headers_mut().insert("preference-applied", v);
    }
    resp
}

/// A move to another folder: `@removed` (changed) in the old folder's feed, an add in the
/// new one's, and a new regular id (the immutable one stays).
pub(crate) fn move_to(w: &mut World, account: &str, id: &str, folder: &str) -> bool {
    let mb = w.mailbox(account);
    let Some(i) = find(mb, id) else {
        return false;
    };
    changed(w, account, &i, Some("changed"));
    let mb = w.mailbox(account);
    if let Some(c) = mb.contacts.get_mut(&i) {
        c.folder = folder.to_string();
        c.regular = format!("AAMkAGI2T{}", &token("")[..16]);
    }
    changed(w, account, &i, None);
    true
}
