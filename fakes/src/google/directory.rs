//! `people:listDirectoryPeople`: the Workspace domain's profiles, as a directory-scoped token
//! of one of its users reads them: `readMask` and `sources` required, pages bound to their
//! parameters, an etag that changes only when the profile does, and Google's own refusals.

use super::{World, errors, json};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json as j};
use std::collections::HashMap;

pub const SCOPE: &str = "https://www.googleapis.com/auth/directory.readonly";

/// One profile in a domain's directory.
#[derive(Debug, Clone)]
pub(crate) struct Profile {
    pub person: Value,
    pub etag: String,
}

/// The stable id Google gives a domain profile; here, from its first address.
fn id_of(p: &Value) -> String {
    let mail = p["emailAddresses"][0]["value"].as_str().unwrap_or("");
    let n = crate::common::fnv(&mail.to_lowercase());
    format!("people/1{:017}", n % 100_000_000_000_000_000)
}

fn etag_of(p: &Value) -> String {
    format!(
        "%EgoBAgMJLi42Nz0+PxoEAQIFByIM{}",
        crate::common::digest(&p.to_string())
    )
}

/// Replaces `domain`'s directory with `people` (the control API's `/_fake/directory`).
pub(crate) fn set(w: &mut World, domain: &str, people: &[Value]) -> Vec<String> {
    let mut ids = Vec::new();
    let dir = w.directories.entry(domain.to_lowercase()).or_default();
    dir.clear();
    for p in people {
        let id = id_of(p);
        dir.insert(
            id.clone(),
            Profile {
                person: p.clone(),
                etag: etag_of(p),
            },
        );
        ids.push(id);
    }
    ids
}

/// What the directory shows of a profile: the masked fields, with Google's metadata.
fn render(id: &str, p: &Profile, mask: &[&str]) -> Value {
    let mut out = j!({"resourceName": id, "etag": p.etag});
    for field in mask {
        if let Some(v) = p.person.get(*field) {
            let mut v = v.clone();
            for e in v.as_array_mut().into_iter().flatten() {
                if *field == "names" {
                    let part = |k: &str| e[k].as_str().unwrap_or("").to_string();
                    let display = format!("{} {}", part("givenName"), part("familyName"));
                    e["displayName"] = j!(display.trim());
                    e["unstructuredName"] = j!(display.trim());
                }
                e["metadata"] = j!({"primary": true, "source": {"type": "DOMAIN_PROFILE", "id": id.trim_start_matches("people/")}});
            }
            out[*field] = v;
        }
    }
    if mask.contains(&"photos") && out.get("photos").is_none() {
        // Everyone has a photo: Google's initials when they set none.
        out["photos"] = j!([{"url": format!("https://lh3.googleusercontent.com/a/default-user={}", id.trim_start_matches("people/")), "default": true, "metadata": {"primary": true}}]);
    }
    out
}

/// `GET /v1/people:listDirectoryPeople` for `account` holding a token granted `scope`.
pub(crate) fn list(
    w: &mut World,
    account: &str,
    scope: Option<&str>,
    q: &HashMap<String, String>,
) -> Response {
    if scope.is_some_and(|s| !s.split(' ').any(|x| x == SCOPE)) {
        return errors::insufficient_scopes();
    }
    let Some(mask) = q.get("readMask").filter(|m| !m.is_empty()) else {
        return errors::invalid_argument("readMask is required and must not be empty.");
    };
    let sources = q.get("sources").map(String::as_str).unwrap_or("");
    if !sources.starts_with("DIRECTORY_SOURCE_TYPE_DOMAIN") {
        return errors::invalid_argument("Must specify at least one directory source.");
    }
    let size: usize = match q.get("pageSize").map(|s| s.parse::<usize>()) {
        None => 100,
        Some(Ok(n)) if (1..=1000).contains(&n) => n,
        Some(_) => return errors::invalid_argument("pageSize must be between 1 and 1000."),
    };
    let domain = account.rsplit('@').next().unwrap_or("").to_lowercase();
    let params = format!("{mask}|{sources}|{size}");
    let offset = match q.get("pageToken") {
        None => 0,
        Some(t) => match t.split_once(':') {
            Some((p, o)) if p == crate::common::digest(&params) => o.parse().unwrap_or(0),
            _ => {
                return errors::invalid_argument(
                    "Request contains an invalid argument: the page token does not match the request.",
                );
            }
        },
    };
    let fields: Vec<&str> = mask.split(',').map(str::trim).collect();
    let dir = w.directories.get(&domain).cloned().unwrap_or_default();
    let people: Vec<Value> = dir
        .iter()
        .skip(offset)
        .take(size)
        .map(|(id, p)| render(id, p, &fields))
        .collect();
    let mut out = j!({"people": people});
    if offset + size < dir.len() {
        out["nextPageToken"] = j!(format!(
            "{}:{}",
            crate::common::digest(&params),
            offset + size
        ));
    }
    json(StatusCode::OK, out)
}
