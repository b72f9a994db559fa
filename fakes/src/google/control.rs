//! The control API tests drive the fake with (`/_fake/*`): seed and edit people as if in
//! Gmail, move the virtual clock, set knobs and the next consent, revoke, read the log.

use super::{Consent, Fake, calendar, form, json, people};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json as j};

fn bad(msg: &str) -> Response {
    json(StatusCode::BAD_REQUEST, j!({"error": msg}))
}

pub fn handle(fake: &Fake, method: &Method, path: &str, query: &str, body: &[u8]) -> Response {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let account = v["account"].as_str().unwrap_or("").to_string();
    let mut w = fake.world();
    match (method.as_str(), path) {
        ("GET", "/_fake/channels") => super::channels::listing(&w),
        ("POST", "/_fake/config") => match crate::common::merged(&w.knobs, &v) {
            Ok(k) => {
                w.knobs = k;
                json(
                    StatusCode::OK,
                    serde_json::to_value(&w.knobs).unwrap_or(Value::Null),
                )
            }
            Err(e) => bad(&e),
        },
        ("POST", "/_fake/consent") => match serde_json::from_value::<Consent>(v) {
            Ok(c) => {
                w.consent = c;
                json(StatusCode::OK, j!({}))
            }
            Err(e) => bad(&e.to_string()),
        },
        ("POST", "/_fake/clock") => {
            w.offset_ms += (v["advance_secs"].as_f64().unwrap_or(0.0) * 1000.0) as i64;
            let now = w.now();
            json(StatusCode::OK, j!({"now_ms": now}))
        }
        ("POST", "/_fake/people") => {
            let mut ids = Vec::new();
            for p in v["people"].as_array().cloned().unwrap_or_default() {
                let id = people::new_id(&mut w, &account);
                let mut p = p;
                if p.get("memberships").is_none() {
                    p["memberships"] = j!([{"contactGroupMembership": {"contactGroupResourceName": "contactGroups/myContacts"}}]);
                }
                people::write(&mut w, &account, &id, p, false);
                // Seeded people are visible at once, whatever the propagation delay.
                let now = w.now();
                if let Some(s) = w.account(&account).people.get_mut(&id) {
                    s.visible_at = now;
                    s.born_visible_at = now;
                }
                ids.push(id);
            }
            json(StatusCode::OK, j!({"ids": ids}))
        }
        ("POST", "/_fake/directory") => {
            let domain = v["domain"].as_str().unwrap_or("").to_string();
            let people = v["people"].as_array().cloned().unwrap_or_default();
            let ids = super::directory::set(&mut w, &domain, &people);
            json(StatusCode::OK, j!({"ids": ids}))
        }
        ("POST", "/_fake/edit") => {
            let id = v["resourceName"].as_str().unwrap_or("");
            let Some(cur) = w
                .account(&account)
                .people
                .get(id)
                .filter(|s| !s.deleted)
                .cloned()
            else {
                return bad("no such person");
            };
            let mut p = cur.person;
            if let (Some(o), Some(set)) = (p.as_object_mut(), v["set"].as_object()) {
                for (k, val) in set {
                    if val.is_null() {
                        o.remove(k);
                    } else {
                        o.insert(k.clone(), val.clone());
                    }
                }
            }
            people::write(&mut w, &account, id, p, false);
            json(StatusCode::OK, j!({}))
        }
        ("POST", "/_fake/delete") => {
            let ids: Vec<String> = match v["resourceName"].as_str() {
                Some(id) => vec![id.to_string()],
                None => v["resourceNames"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect(),
            };
            for id in ids {
                let Some(cur) = w
                    .account(&account)
                    .people
                    .get(&id)
                    .filter(|s| !s.deleted)
                    .cloned()
                else {
                    return bad("no such person");
                };
                people::write(&mut w, &account, &id, cur.person, true);
            }
            json(StatusCode::OK, j!({}))
        }
        ("POST", "/_fake/groups") => {
            let name = v["name"].as_str().unwrap_or("").to_string();
            let r = format!("contactGroups/{}", name.to_lowercase().replace(' ', ""));
            w.account(&account).groups.insert(r.clone(), name);
            json(StatusCode::OK, j!({"resourceName": r}))
        }
        ("GET", "/_fake/people") => {
            let q = form(query);
            let acc = q.get("account").cloned().unwrap_or_default();
            let list: Vec<Value> = w
                .account(&acc)
                .people
                .iter()
                .filter(|(_, s)| !s.deleted)
                .map(|(id, s)| {
                    let mut p = s.person.clone();
                    p["resourceName"] = j!(id);
                    p["etag"] = j!(s.etag);
                    p
                })
                .collect();
            json(StatusCode::OK, j!(list))
        }
        ("POST", "/_fake/revoke") => {
            super::revoke_account(&mut w, &account);
            json(StatusCode::OK, j!({}))
        }
        ("POST", "/_fake/tokens") => {
            // Tokens for an account without the consent dance (connector unit tests).
            let now = w.now();
            let ttl = w.knobs.access_ttl_secs * 1000;
            let access = super::token("ya29.");
            w.access
                .insert(access.clone(), (account.clone(), now + ttl));
            w.account(&account);
            json(
                StatusCode::OK,
                j!({"access_token": access, "expires_at": now + ttl}),
            )
        }
        ("GET", "/_fake/tokens") => {
            let q = form(query);
            let acc = q.get("account").cloned().unwrap_or_default();
            let rts: Vec<&String> = w
                .refresh
                .iter()
                .filter(|(_, r)| r.account == acc)
                .map(|(t, _)| t)
                .collect();
            let ats: Vec<&String> = w
                .access
                .iter()
                .filter(|(_, (a, _))| *a == acc)
                .map(|(t, _)| t)
                .collect();
            let live = w
                .refresh
                .values()
                .filter(|r| r.account == acc && !r.revoked)
                .count();
            json(
                StatusCode::OK,
                j!({"refresh": rts, "access": ats, "live": live}),
            )
        }
        ("POST", "/_fake/expire_access") => {
            w.access.retain(|_, (a, _)| *a != account);
            json(StatusCode::OK, j!({}))
        }
        ("GET", "/_fake/log") => json(
            StatusCode::OK,
            serde_json::to_value(&w.log).unwrap_or(Value::Null),
        ),
        ("POST", "/_fake/calendar/calendars") => {
            let id = v["id"].as_str().unwrap_or("primary");
            let summary = v["summary"].as_str().unwrap_or(&account).to_string();
            let zone = v["timeZone"].as_str().unwrap_or("UTC");
            calendar::add_calendar(&mut w, &account, id, &summary, zone);
            json(StatusCode::OK, j!({"id": id}))
        }
        // Upserts events as if made in Google Calendar: `{account, calendar, events}`, each
        // with an optional `id` (an exception's id is `<master>_<original start>`).
        ("POST", "/_fake/calendar/events") => {
            let cal = v["calendar"].as_str().unwrap_or("primary").to_string();
            let mut out = Vec::new();
            for e in v["events"].as_array().cloned().unwrap_or_default() {
                let id = e["id"].as_str().map(str::to_string).unwrap_or_else(|| {
                    super::token("")
                        .to_lowercase()
                        .chars()
                        .filter(|c| c.is_ascii_digit() || ('a'..='v').contains(c))
                        .take(20)
                        .collect()
                });
                let mut body = e;
                body.as_object_mut().map(|o| o.remove("id"));
                out.push(calendar::write(&mut w, &account, &cal, &id, body));
            }
            json(StatusCode::OK, j!({"items": out}))
        }
        ("POST", "/_fake/calendar/delete") => {
            let cal = v["calendar"].as_str().unwrap_or("primary").to_string();
            let id = v["id"].as_str().unwrap_or("");
            json(
                StatusCode::OK,
                j!({"deleted": calendar::remove(&mut w, &account, &cal, id)}),
            )
        }
        ("POST", "/_fake/calendar/churn") => {
            let cal = v["calendar"].as_str().unwrap_or("primary").to_string();
            json(
                StatusCode::OK,
                j!({"touched": calendar::churn(&mut w, &account, &cal)}),
            )
        }
        ("POST", "/_fake/calendar/expire") => {
            w.calendars.tokens.clear();
            json(StatusCode::OK, j!({}))
        }
        ("POST", "/_fake/calendar/usage-limit") => {
            let minutes = v["minutes"].as_i64().unwrap_or(0);
            w.calendars.read_only_until = w.now() + minutes * 60_000;
            json(StatusCode::OK, j!({}))
        }
        ("POST", "/_fake/calendar/empty") => {
            w.calendars.empty_listings = v["listings"].as_u64().unwrap_or(1) as u32;
            json(StatusCode::OK, j!({}))
        }
        ("POST", "/_fake/calendar/storm") => {
            w.calendars.storm = v["requests"].as_u64().unwrap_or(0) as u32;
            json(StatusCode::OK, j!({}))
        }
        ("GET", "/_fake/calendar/events") => {
            let q = form(query);
            let acc = q.get("account").cloned().unwrap_or_default();
            let cal = q
                .get("calendar")
                .cloned()
                .unwrap_or_else(|| "primary".into());
            json(StatusCode::OK, calendar::dump(&w, &acc, &cal))
        }
        ("POST", "/_fake/log/clear") => {
            w.log.clear();
            json(StatusCode::OK, j!({}))
        }
        _ => json(StatusCode::NOT_FOUND, j!({"error": "no such control"})),
    }
}
