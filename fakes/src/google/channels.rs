//! Google Calendar push channels: `events.watch` makes a channel (an HTTPS address, a token
//! echoed back, an expiration, default and longest a week... as Google's TTL), sends its
//! `sync` message at once, then an `exists` message, numbered, whenever an event of the
//! calendar changes. `channels.stop` ends one. There is no renewal. Knobs drop or duplicate
//! messages.

use super::{Fake, World};
use crate::common::json;
use crate::hooks;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json as j};
use std::time::Duration;

/// Google's default channel lifetime, and here its longest.
const TTL_MS: i64 = 604_800_000;

#[derive(Debug, Clone)]
pub(crate) struct Channel {
    pub id: String,
    pub resource_id: String,
    pub account: String,
    pub calendar: String,
    pub address: String,
    pub token: String,
    pub expires: i64,
    /// The calendar's change stamp last announced.
    pub seen: u64,
    /// The last message number sent.
    pub number: i64,
}

fn error(code: u16, reason: &str, message: &str) -> Response {
    json(
        StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST),
        j!({"error": {"errors": [{"domain": "global", "reason": reason, "message": message}], "code": code, "message": message}}),
    )
}

fn calendar_seq(w: &World, account: &str, calendar: &str) -> Option<u64> {
    w.calendars
        .cals
        .get(account)?
        .get(calendar)
        .map(|c| c.events.values().map(|e| e.seq).max().unwrap_or(0))
}

/// `POST /calendar/v3/calendars/{id}/events/watch`.
pub(crate) fn watch(fake: &Fake, account: &str, calendar: &str, body: &[u8]) -> Response {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let id = v["id"].as_str().unwrap_or("").to_string();
    let address = v["address"].as_str().unwrap_or("").to_string();
    if id.is_empty() || id.len() > 64 {
        return error(
            400,
            "required",
            "Required: channel id (at most 64 characters).",
        );
    }
    if v["type"].as_str() != Some("web_hook") {
        return error(
            400,
            "invalid",
            "Invalid value for: type (must be web_hook).",
        );
    }
    if !hooks::acceptable(&address) {
        return error(
            400,
            "push.webhookUrlNotHttps",
            &format!("WebHook callback must be HTTPS: {address}"),
        );
    }
    let mut w = fake.world();
    let now = w.now();
    let Some(seq) = calendar_seq(&w, account, calendar) else {
        return error(404, "notFound", "Not Found");
    };
    if w.channels.iter().any(|c| c.id == id) {
        return error(400, "channelIdNotUnique", "Channel id not unique");
    }
    let asked = v["expiration"]
        .as_i64()
        .or_else(|| v["expiration"].as_str().and_then(|e| e.parse().ok()));
    let expires = asked.unwrap_or(now + TTL_MS).min(now + TTL_MS);
    let ch = Channel {
        id: id.clone(),
        resource_id: format!("res-{}", hooks::guid()),
        account: account.to_string(),
        calendar: calendar.to_string(),
        address,
        token: v["token"].as_str().unwrap_or("").to_string(),
        expires,
        seen: seq,
        number: 0,
    };
    let out = j!({
        "kind": "api#channel",
        "id": ch.id,
        "resourceId": ch.resource_id,
        "resourceUri": format!("https://www.googleapis.com/calendar/v3/calendars/{calendar}/events?alt=json"),
        "token": ch.token,
        "expiration": ch.expires.to_string(),
    });
    // The `sync` message comes first, right after the channel exists.
    w.pending.push(message(&ch, 1, "sync"));
    let mut ch = ch;
    ch.number = 1;
    w.channels.push(ch);
    if !std::mem::replace(&mut w.notifying, true) {
        tokio::spawn(notifier(fake.clone()));
    }
    json(StatusCode::OK, out)
}

/// `POST /calendar/v3/channels/stop`.
pub(crate) fn stop(fake: &Fake, account: &str, body: &[u8]) -> Response {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let (id, res) = (
        v["id"].as_str().unwrap_or(""),
        v["resourceId"].as_str().unwrap_or(""),
    );
    let mut w = fake.world();
    let before = w.channels.len();
    w.channels
        .retain(|c| !(c.id == id && c.resource_id == res && c.account == account));
    if w.channels.len() < before {
        let mut r = Response::new(axum::body::Body::empty());
        *r.status_mut() = StatusCode::NO_CONTENT;
        r
    } else {
        error(
            404,
            "notFound",
            &format!("Channel '{id}' not found for project '0'"),
        )
    }
}

/// One message: the headers Google sends, with no body.
pub(crate) type Message = (String, Vec<(&'static str, String)>);

fn message(c: &Channel, number: i64, state: &str) -> Message {
    (
        c.address.clone(),
        vec![
            ("X-Goog-Channel-ID", c.id.clone()),
            ("X-Goog-Channel-Token", c.token.clone()),
            ("X-Goog-Channel-Expiration", c.expires.to_string()),
            ("X-Goog-Resource-ID", c.resource_id.clone()),
            (
                "X-Goog-Resource-URI",
                format!(
                    "https://www.googleapis.com/calendar/v3/calendars/{}/events?alt=json",
                    c.calendar
                ),
            ),
            ("X-Goog-Resource-State", state.to_string()),
            ("X-Goog-Message-Number", number.to_string()),
        ],
    )
}

async fn notifier(fake: Fake) {
    let http = hooks::client();
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let out: Vec<Message> = {
            let mut w = fake.world();
            let now = w.now();
            let mut out = std::mem::take(&mut w.pending);
            w.channels.retain(|c| c.expires > now);
            let chans = w.channels.clone();
            for c in chans {
                let Some(seq) = calendar_seq(&w, &c.account, &c.calendar) else {
                    continue;
                };
                if seq <= c.seen {
                    continue;
                }
                let number = c.number + 1;
                if let Some(m) = w.channels.iter_mut().find(|m| m.id == c.id) {
                    m.seen = seq;
                    m.number = number;
                }
                if w.knobs.drop_notifications > 0 {
                    w.knobs.drop_notifications -= 1;
                    continue;
                }
                let m = message(&c, number, "exists");
                if w.knobs.duplicate_notifications {
                    out.push(m.clone());
                }
                out.push(m);
            }
            out
        };
        for (url, headers) in out {
            let mut rb = http.post(&url).header("content-length", "0");
            for (k, v) in &headers {
                rb = rb.header(*k, v);
            }
            let status = rb.send().await.map(|r| r.status().as_u16()).unwrap_or(0);
            let state = headers
                .iter()
                .find(|(k, _)| *k == "X-Goog-Resource-State")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            fake.world()
                .deliveries
                .push(j!({ "url": url, "state": state, "status": status }));
        }
    }
}

/// `GET /_fake/channels`: the live channels and what was delivered.
pub(crate) fn listing(w: &World) -> Response {
    let chans: Vec<Value> = w
        .channels
        .iter()
        .map(|c| j!({"id": c.id, "resourceId": c.resource_id, "calendar": c.calendar, "expiration": c.expires}))
        .collect();
    json(
        StatusCode::OK,
        j!({ "channels": chans, "deliveries": w.deliveries }),
    )
}
