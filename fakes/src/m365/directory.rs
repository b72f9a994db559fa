//! The tenant's users: `GET /users/delta` (a whole first round, then who changed, joined or
//! left as `@removed`; absolute next and delta links; `$select`; pages from `Prefer`),
//! `GET /users/{id}`, and `GET /users/{id}/photo/$value`, for a token granted User.Read.All.

use super::delta::max_page;
use super::{World, errors, ok};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json as j};

/// One user of a tenant's directory.
#[derive(Debug, Clone)]
pub(crate) struct DirUser {
    pub data: Value,
    pub photo: Option<Vec<u8>>,
    /// The change that last touched them, and whether it removed them.
    pub seq: u64,
    pub removed: bool,
}

/// A GUID-shaped id, stable for one address.
fn id_of(u: &Value) -> String {
    if let Some(id) = u["id"].as_str() {
        return id.to_string();
    }
    let h = crate::common::digest(&u["mail"].as_str().unwrap_or("").to_lowercase());
    let g = crate::common::digest(&format!("{h}/user"));
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &g[..4],
        &g[4..16]
    )
}

/// Makes `tenant`'s directory hold exactly `users` (the control API's `/_fake/directory`):
/// new and changed users get a new change, missing ones are removed.
pub(crate) fn set(w: &mut World, tenant: &str, users: &[Value]) -> Vec<String> {
    use base64::Engine;
    let mut seq = w.seq;
    let dir = w.directory.entry(tenant.to_string()).or_default();
    let mut ids = Vec::new();
    for u in users {
        let id = id_of(u);
        let mut data = u.clone();
        let photo = data
            .as_object_mut()
            .and_then(|o| o.remove("photo"))
            .and_then(|p| p.as_str().map(str::to_string))
            .and_then(|p| base64::engine::general_purpose::STANDARD.decode(p).ok());
        data["id"] = j!(id);
        let same = dir
            .get(&id)
            .is_some_and(|d| !d.removed && d.data == data && d.photo == photo);
        if !same {
            seq += 1;
            dir.insert(
                id.clone(),
                DirUser {
                    data,
                    photo,
                    seq,
                    removed: false,
                },
            );
        }
        ids.push(id);
    }
    for (id, d) in dir.iter_mut() {
        if !d.removed && !ids.contains(id) {
            seq += 1;
            d.seq = seq;
            d.removed = true;
        }
    }
    w.seq = seq;
    ids
}

fn denied() -> Response {
    errors::graph(
        403,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    )
}

fn selected(d: &DirUser, select: &[&str]) -> Value {
    if select.is_empty() {
        return d.data.clone();
    }
    let mut out = j!({"id": d.data["id"]});
    for k in select {
        out[*k] = d.data.get(*k).cloned().unwrap_or(Value::Null);
    }
    out
}

/// Handles `/v1.0/users…` for `account`, whose token was granted `scope` (`None`: a token
/// the control API minted, which may do anything).
pub(crate) fn handle(
    w: &mut World,
    account: &str,
    scope: Option<&str>,
    path: &str,
    q: &std::collections::HashMap<String, String>,
    headers: &HeaderMap,
    base: &str,
) -> Response {
    if scope.is_some_and(|s| !s.to_ascii_lowercase().contains("user.read.all")) {
        return denied();
    }
    let tenant = w.mailbox(account).tenant.clone();
    let dir = w.directory.get(&tenant).cloned().unwrap_or_default();
    let select: Vec<&str> = q
        .get("$select")
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let segs: Vec<&str> = path.trim_start_matches("/v1.0/users").split('/').collect();
    match segs.as_slice() {
        ["", "delta"] => {
            // A round covers the changes in (from, to]; a link carries both and the offset.
            let (from, to, offset) = match q.get("$skiptoken").or(q.get("$deltatoken")) {
                None => (0, w.seq, 0),
                Some(t) => {
                    let parts: Vec<u64> = t.split('.').filter_map(|p| p.parse().ok()).collect();
                    match (q.contains_key("$deltatoken"), parts.as_slice()) {
                        (true, [from]) => (*from, w.seq, 0),
                        (false, [from, to, off]) => (*from, *to, *off as usize),
                        _ => {
                            return errors::graph(400, "BadRequest", "Badly formed token.");
                        }
                    }
                }
            };
            let rows: Vec<Value> = dir
                .values()
                .filter(|d| d.seq > from && d.seq <= to && (from > 0 || !d.removed))
                .map(|d| {
                    if d.removed {
                        j!({"id": d.data["id"], "@removed": {"reason": "deleted"}})
                    } else {
                        selected(d, &select)
                    }
                })
                .collect();
            let size = max_page(headers);
            let page: Vec<Value> = rows.iter().skip(offset).take(size).cloned().collect();
            let sel = q
                .get("$select")
                .map(|s| format!("$select={s}&"))
                .unwrap_or_default();
            let mut out =
                j!({"@odata.context": format!("{base}/v1.0/$metadata#users"), "value": page});
            if offset + size < rows.len() {
                out["@odata.nextLink"] = j!(format!(
                    "{base}/v1.0/users/delta?{sel}$skiptoken={from}.{to}.{}",
                    offset + size
                ));
            } else {
                out["@odata.deltaLink"] =
                    j!(format!("{base}/v1.0/users/delta?{sel}$deltatoken={to}"));
            }
            ok(out)
        }
        ["", id] => match dir.get(*id).filter(|d| !d.removed) {
            Some(d) => ok(selected(d, &select)),
            None => not_found(id),
        },
        ["", id, "photo", "$value"] => match dir.get(*id).filter(|d| !d.removed) {
            Some(DirUser {
                photo: Some(bytes), ..
            }) => {
                let mut r = (StatusCode::OK, bytes.clone()).into_response();
                r.headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"));
                r
            }
            Some(_) => errors::graph(
                404,
                "ImageNotFound",
                "Exception of type 'Microsoft.Fast.Profile.Core.Exception.ImageNotFoundException' was thrown.",
            ),
            None => not_found(id),
        },
        _ => errors::graph(
            400,
            "BadRequest",
            &format!("Unsupported request: GET {path}"),
        ),
    }
}

fn not_found(id: &str) -> Response {
    errors::graph(
        404,
        "Request_ResourceNotFound",
        &format!(
            "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
        ),
    )
}
