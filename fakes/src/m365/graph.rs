//! Graph contacts: folders, per-folder delta rounds (absolute next/delta links, empty pages,
//! duplicate and unordered rows, `@removed` for deletes and moves, token expiry), get, create,
//! PATCH (absent keeps, null clears, collections replace; computed fields recomputed), delete,
//! If-Match, slot limits, ImmutableId, the 4-request gate and throttling with Retry-After.

use super::contacts::{changed, changed_keeping, create, find, render, slots};
use super::delta::delta;
use super::{Fake, World, errors, ok};
use crate::common::{form, json};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json as j};
use std::time::Duration;

pub(crate) fn bearer(w: &World, headers: &HeaderMap) -> Option<String> {
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
    if path.starts_with("/v1.0/users/") && *method == Method::GET {
        let scope = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .and_then(|t| w.scopes.get(t).cloned());
        let q = form(query);
        let resp =
            super::directory::handle(&mut w, &account, scope.as_deref(), path, &q, headers, base);
        w.in_flight -= 1;
        return (resp, account, in_flight);
    }
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
    let decoded = crate::common::segments(rest);
    let segs: Vec<&str> = decoded.iter().map(String::as_str).collect();
    let req = super::calendar::Req {
        method: method.as_str(),
        segs: &segs,
        q: &q,
        headers,
        body: &parsed,
        base,
    };
    if let Some(r) = super::calendar::dispatch(w, account, req) {
        return r;
    }
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
