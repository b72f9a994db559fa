//! Graph change notifications (`/subscriptions`): the create runs the validation handshake
//! on both URLs before it answers (400 when either fails), lifetimes are capped at 10,080
//! minutes, and a background task POSTs a notification to each subscription whose resource
//! changed, with its `clientState`. Knobs drop or duplicate deliveries; the control API
//! sends lifecycle events (`missed`, `reauthorizationRequired`, `subscriptionRemoved`).

use super::{Fake, World, errors};
use crate::common::json;
use crate::hooks;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use serde_json::{Value, json as j};
use std::time::Duration;

/// Outlook resources without resource data: at most 10,080 minutes.
const LONGEST_MS: i64 = 10_080 * 60_000;

#[derive(Debug, Clone)]
pub(crate) struct Sub {
    pub id: String,
    pub account: String,
    pub resource: String,
    pub url: String,
    pub lifecycle_url: String,
    pub client_state: String,
    pub expires: i64,
    /// The resource's change stamp last notified.
    pub seen: u64,
}

/// Where notifications are waiting to go: (URL, body).
pub(crate) type Outbox = Vec<(String, Value)>;

fn iso(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

fn parse_iso(s: &str) -> Option<i64> {
    s.parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_millisecond())
}

/// The highest change stamp of what `resource` covers in `account`.
fn resource_seq(w: &mut World, account: &str, resource: &str) -> Option<u64> {
    let parts: Vec<&str> = resource.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["me", "contacts"] => Some(folder_seq(w, account, "default")),
        ["me", "contactFolders", f, "contacts"] => Some(folder_seq(w, account, f)),
        ["me", "calendars", c, "events"] => Some(
            w.calendars
                .cals
                .get(account)
                .and_then(|cals| cals.get(*c))
                .map(|cal| cal.events.values().map(|e| e.seq).max().unwrap_or(0))
                .unwrap_or(0),
        ),
        _ => None,
    }
}

fn folder_seq(w: &mut World, account: &str, folder: &str) -> u64 {
    w.mailbox(account)
        .events
        .iter()
        .filter(|e| e.folder == folder)
        .map(|e| e.seq)
        .max()
        .unwrap_or(0)
}

fn sub_json(s: &Sub) -> Value {
    j!({
        "id": s.id,
        "resource": s.resource,
        "changeType": "created,updated,deleted",
        "clientState": s.client_state,
        "notificationUrl": s.url,
        "lifecycleNotificationUrl": s.lifecycle_url,
        "expirationDateTime": iso(s.expires),
        "applicationId": "11111111-2222-3333-4444-555555555555",
    })
}

fn invalid(message: &str) -> Response {
    errors::graph(400, "InvalidRequest", message)
}

/// The handshake: Graph POSTs `validationToken` and wants it back, as text, within 10 s.
async fn validates(url: &str) -> bool {
    let token = format!(
        "Validation: Testing client application reachability for subscription Request-Id: {}",
        hooks::guid()
    );
    let sep = if url.contains('?') { '&' } else { '?' };
    let target = format!(
        "{url}{sep}validationToken={}",
        percent_encoding::utf8_percent_encode(&token, percent_encoding::NON_ALPHANUMERIC)
    );
    let r = hooks::client()
        .post(&target)
        .header("content-type", "text/plain; charset=utf-8")
        .send()
        .await;
    match r {
        Ok(r) if r.status() == 200 => r.text().await.is_ok_and(|t| t == token),
        _ => false,
    }
}

/// `/v1.0/subscriptions[/{id}]` for `account`.
pub(crate) async fn handle(
    fake: &Fake,
    account: &str,
    method: &Method,
    path: &str,
    body: &[u8],
) -> Response {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let id = percent_encoding::percent_decode_str(
        path.trim_start_matches("/v1.0/subscriptions")
            .trim_matches('/'),
    )
    .decode_utf8_lossy()
    .into_owned();
    let id = id.as_str();
    match (method.as_str(), id.is_empty()) {
        ("POST", true) => create(fake, account, &v).await,
        ("GET", true) => {
            let w = fake.world();
            let list: Vec<Value> = w
                .subscriptions
                .iter()
                .filter(|s| s.account == account)
                .map(sub_json)
                .collect();
            json(StatusCode::OK, j!({ "value": list }))
        }
        ("PATCH", false) => {
            let mut w = fake.world();
            let now = w.now();
            let Some(until) = v["expirationDateTime"].as_str().and_then(parse_iso) else {
                return invalid("expirationDateTime is required.");
            };
            if until - now > LONGEST_MS {
                return invalid("Subscription expiration can only be 10080 minutes in the future.");
            }
            match w
                .subscriptions
                .iter_mut()
                .find(|s| s.id == id && s.account == account)
            {
                Some(s) => {
                    s.expires = until;
                    let out = sub_json(s);
                    json(StatusCode::OK, out)
                }
                None => errors::graph(404, "ResourceNotFound", "The object was not found."),
            }
        }
        ("DELETE", false) => {
            let mut w = fake.world();
            let before = w.subscriptions.len();
            w.subscriptions
                .retain(|s| !(s.id == id && s.account == account));
            if w.subscriptions.len() < before {
                let mut r = Response::new(axum::body::Body::empty());
                *r.status_mut() = StatusCode::NO_CONTENT;
                r
            } else {
                errors::graph(404, "ResourceNotFound", "The object was not found.")
            }
        }
        _ => errors::graph(405, "Request_BadRequest", "Method not allowed."),
    }
}

async fn create(fake: &Fake, account: &str, v: &Value) -> Response {
    let text = |k: &str| v[k].as_str().unwrap_or("").to_string();
    let (url, lifecycle, resource) = (
        text("notificationUrl"),
        text("lifecycleNotificationUrl"),
        text("resource"),
    );
    let client_state = text("clientState");
    if client_state.len() > 128 {
        return invalid("clientState must be at most 128 characters.");
    }
    if !hooks::acceptable(&url) || (!lifecycle.is_empty() && !hooks::acceptable(&lifecycle)) {
        return invalid("The notification URL must use HTTPS.");
    }
    let change = text("changeType");
    if change.is_empty()
        || !change
            .split(',')
            .all(|c| matches!(c.trim(), "created" | "updated" | "deleted"))
    {
        return invalid("changeType must be created, updated or deleted.");
    }
    let (seq, until, now) = {
        let mut w = fake.world();
        let now = w.now();
        let Some(seq) = resource_seq(&mut w, account, &resource) else {
            return invalid(&format!("Resource '{resource}' is not supported."));
        };
        let Some(until) = text("expirationDateTime").as_str().pipe(parse_iso) else {
            return invalid("expirationDateTime is required.");
        };
        (seq, until, now)
    };
    if until - now > LONGEST_MS {
        return invalid("Subscription expiration can only be 10080 minutes in the future.");
    }
    if until <= now {
        return invalid("Subscription expiration must be in the future.");
    }
    // Both URLs are checked before the create answers; either failing fails it.
    if !validates(&url).await || (!lifecycle.is_empty() && !validates(&lifecycle).await) {
        return invalid(
            "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.",
        );
    }
    let sub = Sub {
        id: hooks::guid(),
        account: account.to_string(),
        resource,
        url,
        lifecycle_url: lifecycle,
        client_state,
        expires: until,
        seen: seq,
    };
    let out = sub_json(&sub);
    let start = {
        let mut w = fake.world();
        w.subscriptions.push(sub);
        !std::mem::replace(&mut w.notifying, true)
    };
    if start {
        tokio::spawn(notifier(fake.clone()));
    }
    json(StatusCode::CREATED, out)
}

trait Pipe: Sized {
    fn pipe<T>(self, f: impl FnOnce(Self) -> T) -> T {
        f(self)
    }
}
impl<T> Pipe for T {}

/// The background sender: every few milliseconds, a notification for each subscription
/// whose resource changed, then whatever lifecycle events the control API queued.
async fn notifier(fake: Fake) {
    let http = hooks::client();
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let out: Outbox = {
            let mut w = fake.world();
            let now = w.now();
            let mut out = std::mem::take(&mut w.outbox);
            let subs = w.subscriptions.clone();
            for s in subs.iter().filter(|s| s.expires > now) {
                let Some(seq) = resource_seq(&mut w, &s.account, &s.resource) else {
                    continue;
                };
                if seq <= s.seen {
                    continue;
                }
                if let Some(m) = w.subscriptions.iter_mut().find(|m| m.id == s.id) {
                    m.seen = seq;
                }
                if w.knobs.drop_notifications > 0 {
                    w.knobs.drop_notifications -= 1;
                    continue;
                }
                let body = j!({ "value": [{
                    "subscriptionId": s.id,
                    "subscriptionExpirationDateTime": iso(s.expires),
                    "changeType": "updated",
                    "resource": format!("Users/{}/{}", s.account, s.resource.trim_start_matches("me/")),
                    "resourceData": { "@odata.type": "#Microsoft.Graph.Contact", "id": seq.to_string() },
                    "clientState": s.client_state,
                    "tenantId": "contoso",
                }]});
                if w.knobs.duplicate_notifications {
                    out.push((s.url.clone(), body.clone()));
                }
                out.push((s.url.clone(), body));
            }
            out
        };
        for (url, body) in out {
            let r = http.post(&url).json(&body).send().await;
            let status = r.map(|r| r.status().as_u16()).unwrap_or(0);
            fake.world()
                .deliveries
                .push(j!({ "url": url, "status": status, "body": body }));
        }
    }
}

/// `POST /_fake/subscriptions/lifecycle {"event": ..., "account"?}`: queues the lifecycle
/// event for each (of the account's) subscriptions; `subscriptionRemoved` also removes them.
pub(crate) fn lifecycle(w: &mut World, v: &Value) -> Response {
    let event = v["event"].as_str().unwrap_or("").to_string();
    if !matches!(
        event.as_str(),
        "missed" | "reauthorizationRequired" | "subscriptionRemoved"
    ) {
        return json(StatusCode::BAD_REQUEST, j!({ "error": "unknown event" }));
    }
    let account = v["account"].as_str().map(str::to_string);
    let mine = |s: &Sub| account.as_deref().is_none_or(|a| a == s.account);
    let chosen: Vec<Sub> = w
        .subscriptions
        .iter()
        .filter(|s| mine(s))
        .cloned()
        .collect();
    for s in &chosen {
        w.outbox.push((
            s.lifecycle_url.clone(),
            j!({ "value": [{
                "subscriptionId": s.id,
                "subscriptionExpirationDateTime": iso(s.expires),
                "clientState": s.client_state,
                "lifecycleEvent": event,
                "resource": s.resource,
                "organizationId": "contoso",
            }]}),
        ));
    }
    if event == "subscriptionRemoved" {
        w.subscriptions.retain(|s| !mine(s));
    }
    json(StatusCode::OK, j!({ "sent": chosen.len() }))
}

/// `GET /_fake/subscriptions`: every subscription, and what was delivered.
pub(crate) fn listing(w: &World) -> Response {
    let subs: Vec<Value> = w.subscriptions.iter().map(sub_json).collect();
    json(
        StatusCode::OK,
        j!({ "subscriptions": subs, "deliveries": w.deliveries }),
    )
}

/// Whether a request is for `/v1.0/subscriptions`.
pub(crate) fn is_subscriptions(path: &str) -> bool {
    path == "/v1.0/subscriptions" || path.starts_with("/v1.0/subscriptions/")
}

/// The account a bearer token belongs to.
pub(crate) fn account(w: &World, headers: &HeaderMap) -> Option<String> {
    super::graph::bearer(w, headers)
}
