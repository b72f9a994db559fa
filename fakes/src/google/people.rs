//! The People API: connections listing and sync, get, create, update, delete, contact groups.

use super::{Account, Fake, Listing, Stored, World, errors, form, json, token};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json as j};
use std::time::Duration;

const SINGLETONS: [&str; 4] = ["names", "birthdays", "biographies", "genders"];
const WRITABLE: [&str; 24] = [
    "addresses",
    "biographies",
    "birthdays",
    "calendarUrls",
    "clientData",
    "emailAddresses",
    "events",
    "externalIds",
    "genders",
    "imClients",
    "interests",
    "locales",
    "locations",
    "memberships",
    "miscKeywords",
    "names",
    "nicknames",
    "occupations",
    "organizations",
    "phoneNumbers",
    "relations",
    "sipAddresses",
    "urls",
    "userDefined",
];

fn etag() -> String {
    format!("%{}", token("Eg").replace("Eg", "EgUBAgMFBy4aBAECBQci"))
}

/// The account a bearer token belongs to, if it is valid now.
pub(crate) fn bearer(w: &World, headers: &HeaderMap) -> Option<String> {
    let t = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    let (account, exp) = w.access.get(t)?;
    (*exp > w.now()).then(|| account.clone())
}

/// The scopes the request's token was granted; `None` for a token the control API minted.
pub(crate) fn scope_of(w: &World, headers: &HeaderMap) -> Option<String> {
    let t = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    w.scopes.get(t).cloned()
}

/// Takes one request from a per-minute bucket; `false` when it is empty.
fn take(acc: &mut Account, bucket: &'static str, per_min: u32, now: i64) -> bool {
    if per_min == 0 {
        return true;
    }
    let cap = per_min as f64;
    let (level, at) = acc.buckets.entry(bucket).or_insert((cap, now));
    *level = (*level + (now - *at) as f64 * cap / 60_000.0).min(cap);
    *at = now;
    if *level >= 1.0 {
        *level -= 1.0;
        true
    } else {
        false
    }
}

fn localized(kind: &str, lang: &str) -> String {
    let de = lang.starts_with("de");
    match (kind, de) {
        ("mobile", true) => "Mobil".into(),
        ("home", true) => "Privat".into(),
        ("work", true) => "Geschäftlich".into(),
        ("other", true) => "Sonstige".into(),
        (k, _) => {
            let mut c = k.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        }
    }
}

/// The person as the API returns it: stored fields plus everything Google computes.
fn render(id: &str, s: &Stored, lang: &str, photo_churn: bool) -> Value {
    if s.deleted {
        return j!({"resourceName": id, "etag": s.etag, "metadata": {"deleted": true, "sources": [{"type": "CONTACT", "id": id.trim_start_matches("people/"), "etag": s.etag}]}});
    }
    let mut p = s.person.clone();
    p["resourceName"] = j!(id);
    p["etag"] = j!(s.etag);
    p["metadata"] = j!({"sources": [{"type": "CONTACT", "id": id.trim_start_matches("people/"), "etag": s.etag, "updateTime": "2026-01-01T00:00:00Z"}], "objectType": "PERSON"});
    if photo_churn {
        p["photos"] = j!([{"url": format!("https://lh3.googleusercontent.com/cm/{}", token("")), "metadata": {"primary": true}}]);
    }
    if let Some(names) = p["names"].as_array_mut() {
        for n in names {
            let src = n.clone();
            let part = |k: &str| src[k].as_str().unwrap_or("").to_string();
            let display = [
                part("honorificPrefix"),
                part("givenName"),
                part("middleName"),
                part("familyName"),
                part("honorificSuffix"),
            ]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
            if part("unstructuredName").is_empty() {
                n["unstructuredName"] = j!(display);
            }
            n["displayName"] = j!(display);
            n["displayNameLastFirst"] =
                j!(format!("{}, {}", part("familyName"), part("givenName")));
            n["metadata"] = j!({"primary": true, "source": {"type": "CONTACT"}});
        }
    }
    for key in ["phoneNumbers", "emailAddresses", "addresses", "urls"] {
        if let Some(list) = p[key].as_array_mut() {
            for (i, e) in list.iter_mut().enumerate() {
                let t = e["type"].as_str().unwrap_or("other").to_string();
                e["formattedType"] = j!(localized(&t, lang));
                e["metadata"] = j!({"primary": i == 0, "source": {"type": "CONTACT"}});
                if key == "phoneNumbers" {
                    let digits: String = e["value"]
                        .as_str()
                        .unwrap_or("")
                        .chars()
                        .filter(|c| c.is_ascii_digit() || *c == '+')
                        .collect();
                    e["canonicalForm"] = j!(digits);
                }
                if key == "addresses" {
                    let parts: Vec<String> = ["streetAddress", "city", "postalCode", "country"]
                        .iter()
                        .filter_map(|k| {
                            e[*k].as_str().filter(|s| !s.is_empty()).map(str::to_string)
                        })
                        .collect();
                    e["formattedValue"] = j!(parts.join(", "));
                }
            }
        }
    }
    p
}

fn validate(p: &Value, creating: bool) -> Result<(), Box<Response>> {
    for k in SINGLETONS {
        if p[k].as_array().is_some_and(|a| a.len() > 1) {
            return Err(Box::new(errors::invalid_argument(&format!(
                "Invalid person.{k}: only one {k} field is allowed per contact."
            ))));
        }
    }
    if let Some(m) = p["memberships"].as_array()
        && !m.iter().any(|m| m.get("contactGroupMembership").is_some())
    {
        return Err(Box::new(errors::invalid_argument(
            "A contact must always have at least one contact group membership.",
        )));
    }
    if creating {
        let has = |k: &str| p[k].as_array().is_some_and(|a| !a.is_empty());
        if !has("names") && !has("emailAddresses") {
            return Err(Box::new(errors::invalid_argument(
                "Invalid person: a contact needs a name or an email address.",
            )));
        }
    }
    Ok(())
}

/// The lowest watermark every change up to which is visible now.
fn watermark(acc: &Account, since: u64, now: i64, top: u64) -> u64 {
    acc.people
        .values()
        .filter(|s| s.seq > since && s.visible_at > now)
        .map(|s| s.seq - 1)
        .min()
        .unwrap_or(top)
}

fn list(
    w: &mut World,
    account: &str,
    q: &std::collections::HashMap<String, String>,
    lang: &str,
) -> Response {
    let Some(fields) = q.get("personFields").filter(|f| !f.is_empty()) else {
        return errors::invalid_argument(
            "personFields mask is required. Please specify one or more valid paths. Valid paths are documented at https://developers.google.com/people/api/rest/v1/people.connections/list.",
        );
    };
    let page_size: usize = match q.get("pageSize").map(|s| s.parse::<usize>()) {
        None => 100,
        Some(Ok(n)) if (1..=1000).contains(&n) => n,
        _ => return errors::invalid_argument("Invalid pageSize: must be between 1 and 1000."),
    };
    let want_sync = q.get("requestSyncToken").is_some_and(|v| v == "true");
    // Page tokens are bound to every other parameter of the first call.
    let params = format!(
        "{fields}|{page_size}|{want_sync}|{}|{}",
        q.get("syncToken").cloned().unwrap_or_default(),
        q.get("sources").cloned().unwrap_or_default()
    );
    let now = w.now();
    let churn = w.knobs.photo_churn;
    let listing_key = match q.get("pageToken").filter(|t| !t.is_empty()) {
        Some(t) => match w.listings.get(t) {
            Some(l) if l.params == params && l.account == account => t.clone(),
            _ => return errors::invalid_argument("Request contains an invalid argument."),
        },
        None => {
            let top = w.seq;
            let ttl = w.knobs.sync_token_ttl_secs * 1000;
            let expired_status = w.knobs.expired_status;
            let (entries, next_sync) = match q.get("syncToken").filter(|t| !t.is_empty()) {
                Some(t) => {
                    let Some((acc_name, since, full_at)) = w.sync_tokens.get(t).cloned() else {
                        return errors::invalid_argument("Request contains an invalid argument.");
                    };
                    if acc_name != account {
                        return errors::invalid_argument("Request contains an invalid argument.");
                    }
                    if now - full_at > ttl {
                        return errors::expired_sync_token(expired_status);
                    }
                    let acc = w.account(account);
                    let mut changed: Vec<(&String, &Stored)> = acc
                        .people
                        .iter()
                        .filter(|(_, s)| s.seq > since && s.visible_at <= now)
                        .collect();
                    changed.sort_by_key(|(_, s)| s.seq);
                    let entries = changed
                        .iter()
                        .map(|(id, s)| render(id, s, lang, churn))
                        .collect();
                    (entries, (watermark(acc, since, now, top), full_at))
                }
                None => {
                    let first_quota = w.knobs.full_sync_first_pages_per_min;
                    if !take(w.account(account), "full-sync-first-page", first_quota, now) {
                        return errors::quota("Full sync first page requests");
                    }
                    let acc = w.account(account);
                    let mut all: Vec<(&String, &Stored)> = acc
                        .people
                        .iter()
                        .filter(|(_, s)| !s.deleted && s.born_visible_at <= now)
                        .collect();
                    all.sort_by_key(|(_, s)| s.seq);
                    let entries = all
                        .iter()
                        .map(|(id, s)| render(id, s, lang, churn))
                        .collect();
                    (entries, (watermark(acc, 0, now, top), now))
                }
            };
            let key = token("pt");
            w.listings.insert(
                key.clone(),
                Listing {
                    account: account.to_string(),
                    params,
                    entries,
                    offset: 0,
                    page: 0,
                    next_sync: want_sync.then_some(next_sync),
                },
            );
            key
        }
    };
    let empty_every = w.knobs.empty_every;
    let Some(l) = w.listings.get_mut(&listing_key) else {
        return errors::invalid_argument("Request contains an invalid argument.");
    };
    l.page += 1;
    let empty = empty_every > 0 && l.page % empty_every == 0 && l.offset < l.entries.len();
    let take_n = if empty { 0 } else { page_size };
    let end = (l.offset + take_n).min(l.entries.len());
    let page: Vec<Value> = l.entries[l.offset..end].to_vec();
    l.offset = end;
    let total = l.entries.len();
    let mut out = j!({"connections": page, "totalItems": total, "totalPeople": total});
    if l.offset < l.entries.len() {
        // A fresh token per page, bound to the same listing.
        let next = token("pt");
        if let Some(l) = w.listings.remove(&listing_key) {
            w.listings.insert(next.clone(), l);
        }
        out["nextPageToken"] = j!(next);
    } else if let Some(l) = w.listings.remove(&listing_key)
        && let Some((mark, full_at)) = l.next_sync
    {
        let t = token("sync");
        w.sync_tokens
            .insert(t.clone(), (account.to_string(), mark, full_at));
        out["nextSyncToken"] = j!(t);
    }
    // Google leaves the field out of an empty page.
    if out["connections"].as_array().is_some_and(|a| a.is_empty())
        && let Some(o) = out.as_object_mut()
    {
        o.remove("connections");
    }
    json(StatusCode::OK, out)
}

fn store_write(w: &mut World, account: &str, id: &str, person: Value, deleted: bool) -> Stored {
    let now = w.now();
    let delay = w.knobs.propagation_secs * 1000;
    let seq = w.next_seq();
    let acc = w.account(account);
    let born = acc
        .people
        .get(id)
        .map(|s| s.born_visible_at)
        .unwrap_or(now + delay);
    let s = Stored {
        person,
        etag: etag(),
        seq,
        visible_at: now + delay,
        born_visible_at: born,
        deleted,
    };
    acc.people.insert(id.to_string(), s.clone());
    s
}

/// A control-API write (a Gmail-side edit or seed); same feed semantics as the API's.
pub(crate) fn write(w: &mut World, account: &str, id: &str, person: Value, deleted: bool) {
    store_write(w, account, id, person, deleted);
}

pub(crate) fn new_id(w: &mut World, account: &str) -> String {
    let acc = w.account(account);
    acc.next_id += 1;
    format!(
        "people/c{:019}",
        7_000_000_000_000_000_000u64 + acc.next_id * 7919
    )
}

pub async fn handle(
    fake: &Fake,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> (Response, String) {
    let q = form(query);
    let lang = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| fake.world().knobs.default_language.clone());
    let mutation = *method != Method::GET;
    let account = {
        let mut w = fake.world();
        let Some(account) = bearer(&w, headers) else {
            return (errors::unauthenticated(), String::new());
        };
        if w.knobs.revoke_after > 0 {
            w.knobs.revoke_after -= 1;
            if w.knobs.revoke_after == 0 {
                super::revoke_account(&mut w, &account);
                return (errors::unauthenticated(), account);
            }
        }
        if w.knobs.storm > 0 {
            w.knobs.storm -= 1;
            return (
                errors::quota("Critical read requests (Contact and Profile Reads)"),
                account,
            );
        }
        let now = w.now();
        let (bucket, rate, metric) = if mutation {
            ("writes", w.knobs.writes_per_min, "Contact writes")
        } else {
            (
                "reads",
                w.knobs.reads_per_min,
                "Critical read requests (Contact and Profile Reads)",
            )
        };
        if !take(w.account(&account), bucket, rate, now) {
            return (errors::quota(metric), account);
        }
        if mutation {
            let acc = w.account(&account);
            if acc.writing {
                return (errors::aborted(), account);
            }
            acc.writing = true;
        }
        account
    };
    if mutation {
        // Mutations take a moment: one that overlaps another of the same user is refused.
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let mut w = fake.world();
    if *method == Method::GET && path == "/v1/people:listDirectoryPeople" {
        let scope = scope_of(&w, headers);
        return (
            super::directory::list(&mut w, &account, scope.as_deref(), &q),
            account,
        );
    }
    let resp = dispatch(&mut w, &account, method, path, &q, body, &lang);
    if mutation {
        w.account(&account).writing = false;
    }
    (resp, account)
}

fn dispatch(
    w: &mut World,
    account: &str,
    method: &Method,
    path: &str,
    q: &std::collections::HashMap<String, String>,
    body: &[u8],
    lang: &str,
) -> Response {
    let parsed: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(_) => return errors::invalid_argument("Invalid JSON payload received."),
        }
    };
    let churn = w.knobs.photo_churn;
    match (method.as_str(), path) {
        ("GET", "/v1/people/me/connections") => list(w, account, q, lang),
        ("GET", "/v1/contactGroups") => {
            let mut groups = vec![
                j!({"resourceName": "contactGroups/myContacts", "name": "myContacts", "formattedName": "My Contacts", "groupType": "SYSTEM_CONTACT_GROUP"}),
                j!({"resourceName": "contactGroups/starred", "name": "starred", "formattedName": "Starred", "groupType": "SYSTEM_CONTACT_GROUP"}),
            ];
            for (r, n) in &w.account(account).groups {
                groups.push(j!({"resourceName": r, "name": n, "formattedName": n, "groupType": "USER_CONTACT_GROUP"}));
            }
            json(
                StatusCode::OK,
                j!({"contactGroups": groups, "totalItems": groups.len()}),
            )
        }
        ("POST", "/v1/contactGroups") => {
            let name = parsed["contactGroup"]["name"]
                .as_str()
                .unwrap_or("")
                .trim()
                .to_string();
            if name.is_empty() {
                return errors::invalid_argument("Invalid contactGroup.name");
            }
            let acc = w.account(account);
            if acc.groups.values().any(|n| n.eq_ignore_ascii_case(&name)) {
                return json(
                    StatusCode::CONFLICT,
                    j!({"error": {"code": 409, "message": "Contact group name already exists.", "status": "ALREADY_EXISTS"}}),
                );
            }
            let r = format!("contactGroups/{}", &token("")[..12]);
            acc.groups.insert(r.clone(), name.clone());
            json(
                StatusCode::OK,
                j!({"resourceName": r, "name": name, "formattedName": name, "groupType": "USER_CONTACT_GROUP", "etag": etag()}),
            )
        }
        ("POST", "/v1/people:createContact") => {
            let mut p = parsed;
            if let Err(r) = validate(&p, true) {
                return *r;
            }
            for k in ["resourceName", "etag", "metadata"] {
                if let Some(o) = p.as_object_mut() {
                    o.remove(k);
                }
            }
            if p.get("memberships").is_none() {
                p["memberships"] = j!([{"contactGroupMembership": {"contactGroupResourceName": "contactGroups/myContacts"}}]);
            }
            // Ids are the server's, never the client's.
            let id = new_id(w, account);
            let s = store_write(w, account, &id, p, false);
            if w.knobs.lose_creates > 0 {
                w.knobs.lose_creates -= 1;
                return crate::common::lost_answer(StatusCode::OK);
            }
            json(StatusCode::OK, render(&id, &s, lang, churn))
        }
        (m, p) if p.starts_with("/v1/people/") => {
            let rest = &p["/v1/".len()..];
            let (id, verb) = rest.split_once(':').unwrap_or((rest, ""));
            let current = w
                .account(account)
                .people
                .get(id)
                .filter(|s| !s.deleted)
                .cloned();
            match (m, verb) {
                ("GET", "") => match current {
                    Some(s) => json(StatusCode::OK, render(id, &s, lang, churn)),
                    None => errors::not_found(),
                },
                ("DELETE", "deleteContact") => match current {
                    Some(s) => {
                        store_write(w, account, id, s.person, true);
                        json(StatusCode::OK, j!({}))
                    }
                    None => errors::not_found(),
                },
                ("PATCH", "updateContact") => {
                    let Some(s) = current else {
                        return errors::not_found();
                    };
                    let Some(mask) = q.get("updatePersonFields").filter(|m| !m.is_empty()) else {
                        return errors::invalid_argument(
                            "updatePersonFields mask is required. Please specify one or more valid paths.",
                        );
                    };
                    let given = parsed["etag"].as_str().or_else(|| {
                        parsed
                            .pointer("/metadata/sources/0/etag")
                            .and_then(Value::as_str)
                    });
                    let Some(given) = given else {
                        return errors::invalid_argument(
                            "Request must set person.etag or person.metadata.sources.etag for the source that is being updated.",
                        );
                    };
                    if given != s.etag {
                        return errors::stale_etag();
                    }
                    if w.knobs.flaky_stale > 0 {
                        w.knobs.flaky_stale -= 1;
                        return errors::stale_etag();
                    }
                    let mut p = s.person.clone();
                    for f in mask.split(',').map(str::trim) {
                        if !WRITABLE.contains(&f) {
                            return errors::invalid_argument(&format!(
                                "Invalid updatePersonFields mask path: \"{f}\"."
                            ));
                        }
                        match parsed.get(f) {
                            Some(v) => p[f] = v.clone(),
                            None => {
                                if let Some(o) = p.as_object_mut() {
                                    o.remove(f);
                                }
                            }
                        }
                    }
                    if let Err(r) = validate(&p, false) {
                        return *r;
                    }
                    let s = store_write(w, account, id, p, false);
                    json(StatusCode::OK, render(id, &s, lang, churn))
                }
                _ => errors::not_found(),
            }
        }
        _ => errors::not_found(),
    }
}
