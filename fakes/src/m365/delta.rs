//! Per-folder delta rounds: absolute next/delta links, page sizes from `Prefer`, empty pages,
//! duplicate and unordered rows, `@removed` for deletes and moves, and token expiry.

use super::contacts::render;
use super::{Round, World, errors, ok};
use crate::common::token;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json as j};

pub(super) fn max_page(headers: &HeaderMap) -> usize {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| p.trim().strip_prefix("odata.maxpagesize="))
        .and_then(|n| n.parse().ok())
        .unwrap_or(10)
}

pub(super) fn link(base: &str, folder: &str, key: &str, token: &str) -> String {
    let path = if folder == "default" {
        "/v1.0/me/contacts/delta".to_string()
    } else {
        format!("/v1.0/me/contactFolders/{folder}/contacts/delta")
    };
    format!("{base}{path}?{key}={token}")
}

pub(super) fn delta(
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
