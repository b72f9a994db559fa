//! The control API (`/_fake/*`): tenants and users, who signs in next, contacts edited as in
//! Outlook, folder moves, the virtual clock, knobs, revocation and the request log.

use super::{Fake, Tenant, contacts};
use crate::common::{form, json, token};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json as j};

fn bad(msg: &str) -> Response {
    json(StatusCode::BAD_REQUEST, j!({"error": msg}))
}

pub fn handle(fake: &Fake, method: &Method, path: &str, query: &str, body: &[u8]) -> Response {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let account = v["account"].as_str().unwrap_or("").to_string();
    let mut w = fake.world();
    let okj = |v: Value| json(StatusCode::OK, v);
    match (method.as_str(), path) {
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
        ("GET", "/_fake/config") => json(
            StatusCode::OK,
            serde_json::to_value(&w.knobs).unwrap_or(Value::Null),
        ),
        ("POST", "/_fake/subscriptions/lifecycle") => super::subscriptions::lifecycle(&mut w, &v),
        ("GET", "/_fake/subscriptions") => super::subscriptions::listing(&w),
        ("POST", "/_fake/tenant") => match serde_json::from_value::<Tenant>(v) {
            Ok(t) => {
                let id = t.id.clone();
                w.tenants.insert(id, t);
                okj(j!({}))
            }
            Err(e) => bad(&e.to_string()),
        },
        ("POST", "/_fake/user") => {
            let mb = w.mailbox(&account);
            if let Some(t) = v["tenant"].as_str() {
                mb.tenant = t.to_string();
            }
            if let Some(a) = v["assigned"].as_bool() {
                mb.assigned = a;
            }
            if let Some(z) = v["time_zone"].as_str() {
                mb.time_zone = z.to_string();
            }
            let t = mb.tenant.clone();
            w.tenant(&t);
            okj(j!({}))
        }
        ("POST", "/_fake/directory") => {
            let tenant = v["tenant"].as_str().unwrap_or("contoso").to_string();
            let users = v["users"].as_array().cloned().unwrap_or_default();
            let ids = super::directory::set(&mut w, &tenant, &users);
            okj(j!({"ids": ids}))
        }
        ("POST", "/_fake/signin") => {
            w.signin = (account, v["decline"].as_bool().unwrap_or(false));
            okj(j!({}))
        }
        ("POST", "/_fake/admin") => {
            w.admin = (
                v["tenant"].as_str().unwrap_or("").to_string(),
                v["is_admin"].as_bool().unwrap_or(true),
            );
            okj(j!({}))
        }
        ("POST", "/_fake/clock") => {
            w.offset_ms += (v["advance_secs"].as_f64().unwrap_or(0.0) * 1000.0) as i64;
            let now = w.now();
            okj(j!({"now_ms": now}))
        }
        ("POST", "/_fake/folders") => {
            let name = v["name"].as_str().unwrap_or("").to_string();
            let id = format!("AAMkAGFolder{}", &token("")[..10]);
            w.mailbox(&account).folders.insert(id.clone(), name);
            okj(j!({"id": id}))
        }
        ("POST", "/_fake/contacts") => {
            let folder = v["folder"].as_str().unwrap_or("default").to_string();
            let mut ids = Vec::new();
            for c in v["contacts"].as_array().cloned().unwrap_or_default() {
                let data: Map<String, Value> = c.as_object().cloned().unwrap_or_default();
                ids.push(contacts::create(&mut w, &account, &folder, data, None));
            }
            okj(j!({"ids": ids}))
        }
        ("POST", "/_fake/edit") => {
            let id = v["id"].as_str().unwrap_or("").to_string();
            let Some(c) = w.mailbox(&account).contacts.get_mut(&id) else {
                return bad("no such contact");
            };
            for (k, val) in v["set"].as_object().cloned().unwrap_or_default() {
                if val.is_null() {
                    c.data.remove(&k);
                } else {
                    c.data.insert(k, val);
                }
            }
            contacts::changed(&mut w, &account, &id, None);
            okj(j!({}))
        }
        ("POST", "/_fake/delete") => {
            let ids: Vec<String> = match v["id"].as_str() {
                Some(id) => vec![id.to_string()],
                None => v["ids"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect(),
            };
            for id in ids {
                if !w.mailbox(&account).contacts.contains_key(&id) {
                    return bad("no such contact");
                }
                contacts::changed(&mut w, &account, &id, Some("deleted"));
                w.mailbox(&account).contacts.remove(&id);
            }
            okj(j!({}))
        }
        ("POST", "/_fake/move") => {
            let id = v["id"].as_str().unwrap_or("");
            let folder = v["folder"].as_str().unwrap_or("default");
            if contacts::move_to(&mut w, &account, id, folder) {
                okj(j!({}))
            } else {
                bad("no such contact")
            }
        }
        ("GET", "/_fake/contacts") => {
            let q = form(query);
            let acc = q.get("account").cloned().unwrap_or_default();
            let list: Vec<Value> = w
                .mailbox(&acc)
                .contacts
                .values()
                .map(|c| {
                    let mut d = Value::Object(c.data.clone());
                    d["id"] = j!(c.immutable);
                    d["regularId"] = j!(c.regular);
                    d["folder"] = j!(c.folder);
                    d["changeKey"] = j!(c.change_key);
                    d["marker"] = j!(c.marker);
                    d
                })
                .collect();
            okj(j!(list))
        }
        ("POST", "/_fake/revoke") => {
            for r in w.refresh.values_mut().filter(|r| r.account == account) {
                r.revoked = true;
            }
            w.access.retain(|_, (a, _)| *a != account);
            okj(j!({}))
        }
        ("POST", "/_fake/tokens") => {
            let now = w.now();
            let ttl = w.knobs.access_ttl_secs * 1000;
            let access = token("eyJ0eXAiOiJKV1Qi.");
            w.access
                .insert(access.clone(), (account.clone(), now + ttl));
            w.mailbox(&account);
            okj(j!({"access_token": access, "expires_at": now + ttl}))
        }
        ("GET", "/_fake/tokens") => {
            let q = form(query);
            let acc = q.get("account").cloned().unwrap_or_default();
            let rts: Vec<(&String, bool)> = w
                .refresh
                .iter()
                .filter(|(_, r)| r.account == acc)
                .map(|(t, r)| (t, r.revoked))
                .collect();
            okj(
                j!({"refresh": rts.iter().map(|(t, _)| t).collect::<Vec<_>>(), "live": rts.iter().filter(|(_, r)| !r).count()}),
            )
        }
        ("GET", "/_fake/tenants") => {
            let list: Vec<Value> = w
                .tenants
                .values()
                .map(|t| serde_json::to_value(t).unwrap_or(Value::Null))
                .collect();
            okj(j!(list))
        }
        ("POST", "/_fake/calendar/calendars") => {
            let id = v["id"].as_str().unwrap_or("calendar").to_string();
            let name = v["name"].as_str().unwrap_or("Calendar").to_string();
            super::calendar::add_calendar(&mut w, &account, &id, &name);
            okj(j!({"id": id}))
        }
        // Upserts events as Outlook would: `{account, calendar, events}`, each with an `id`
        // (an exception names its `seriesMasterId` and UTC `originalStart`).
        ("POST", "/_fake/calendar/events") => {
            let cal = v["calendar"].as_str().unwrap_or("calendar").to_string();
            let mut out = Vec::new();
            for e in v["events"].as_array().cloned().unwrap_or_default() {
                let id = e["id"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("AAMkAD{}", token("")));
                out.push(super::calendar::upsert(&mut w, &account, &cal, &id, e));
            }
            okj(j!({"value": out}))
        }
        ("POST", "/_fake/calendar/cancel") => {
            let series = v["id"].as_str().unwrap_or("");
            let at = v["originalStart"].as_str().unwrap_or("");
            okj(j!({"cancelled": super::calendar::cancel(&mut w, &account, series, at)}))
        }
        ("POST", "/_fake/calendar/delete") => {
            let id = v["id"].as_str().unwrap_or("");
            okj(j!({"deleted": super::calendar::remove(&mut w, &account, id)}))
        }
        ("POST", "/_fake/calendar/empty") => {
            w.calendars.empty_listings = v["listings"].as_u64().unwrap_or(1) as u32;
            okj(j!({}))
        }
        ("GET", "/_fake/calendar/mail") => okj(j!({"mail": w.calendars.mail})),
        ("POST", "/_fake/calendar/evict") => {
            w.calendars.tokens.clear();
            okj(j!({}))
        }
        ("GET", "/_fake/calendar/events") => {
            let q = form(query);
            let acc = q.get("account").cloned().unwrap_or_default();
            let cal = q
                .get("calendar")
                .cloned()
                .unwrap_or_else(|| "calendar".into());
            okj(super::calendar::dump(&w, &acc, &cal))
        }
        ("GET", "/_fake/log") => okj(serde_json::to_value(&w.log).unwrap_or(Value::Null)),
        ("POST", "/_fake/log/clear") => {
            w.log.clear();
            okj(j!({}))
        }
        _ => json(StatusCode::NOT_FOUND, j!({"error": "no such control"})),
    }
}
