//! Where providers tell Kith that a source changed: `/hooks/m365/ID` (Graph notifications
//! and, on its first call, the validation handshake), `/hooks/m365/ID/lifecycle` (Graph's
//! lifecycle events) and `/hooks/google/ID` (a Google Calendar channel). Providers send no
//! credentials; a notification counts only when it carries the source's secret (which only
//! this server can compute) for a channel the source has, and, from Google, a message number
//! not seen before. Anything else is refused, logged, and changes nothing. A notification
//! that counts only makes the source's next run due now.

use crate::app::App;
use crate::store::channels::Delivery;
use crate::sync::schedule::wake;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::Value;
use std::sync::Arc;

/// Graph batches are small; a larger body is not a notification.
const MAX_BODY: usize = 256 * 1024;

fn status(code: StatusCode) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = code;
    r
}

fn refused(source: i64, why: &str) -> Response {
    tracing::warn!(source, reason = why, "an upstream notification was refused");
    status(StatusCode::FORBIDDEN)
}

pub async fn handle(app: &Arc<App>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (provider, id, lifecycle) = match segs.as_slice() {
        ["hooks", p, id] => (*p, *id, false),
        ["hooks", p, id, "lifecycle"] => (*p, *id, true),
        _ => return status(StatusCode::NOT_FOUND),
    };
    let Ok(source) = id.parse::<i64>() else {
        return status(StatusCode::NOT_FOUND);
    };
    let Some(watcher) = app.cadence.watcher.clone() else {
        return refused(source, "notifications are off (no push.public_url)");
    };
    let (parts, body) = req.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return status(StatusCode::PAYLOAD_TOO_LARGE);
    };
    match provider {
        "m365" => {
            // The validation handshake: echo the token, as plain text, within 10 s.
            if let Some(token) = query_value(&query, "validationToken") {
                let mut r = Response::new(Body::from(token));
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                );
                return r;
            }
            graph(app, &watcher, source, lifecycle, &body).await
        }
        "google" if !lifecycle => google(app, &watcher, source, &parts.headers).await,
        _ => status(StatusCode::NOT_FOUND),
    }
}

fn query_value(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| {
            percent_encoding::percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

async fn graph(
    app: &Arc<App>,
    watcher: &crate::sync::watch::Watcher,
    source: i64,
    lifecycle: bool,
    body: &[u8],
) -> Response {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let store = app.store.as_ref();
    let mut counted = false;
    for n in v["value"].as_array().into_iter().flatten() {
        let sub = n["subscriptionId"].as_str().unwrap_or("");
        if !watcher.verify(source, n["clientState"].as_str().unwrap_or("")) {
            tracing::warn!(
                source,
                subscription = sub,
                "a Graph notification with the wrong clientState was refused"
            );
            continue;
        }
        match store.channel_message(source, sub, None).await {
            Ok(Delivery::Fresh) => {}
            Ok(_) => {
                tracing::warn!(
                    source,
                    subscription = sub,
                    "a Graph notification for a subscription Kith does not have was refused"
                );
                continue;
            }
            Err(e) => {
                // Graph retries a 5xx for hours: nothing is lost.
                tracing::warn!(error = %e, "cannot check a Graph notification");
                return status(StatusCode::SERVICE_UNAVAILABLE);
            }
        }
        counted = true;
        let event = n["lifecycleEvent"].as_str().unwrap_or("");
        if lifecycle && event == "reauthorizationRequired" {
            // Renewing also reauthorizes: the next watch pass does it.
            let _ = store.expire_channel(source, sub).await;
            continue;
        }
        if lifecycle && event == "subscriptionRemoved" {
            // Graph dropped it: a new one is made, and changes meanwhile are read now.
            if let Ok(chans) = store.channels_of(source).await {
                for c in chans.iter().filter(|c| c.remote_id == sub) {
                    let _ = store.delete_channel(c.id).await;
                }
            }
        }
        // A change, a `missed` (some notifications were dropped) or a removed subscription:
        // an incremental run catches up either way.
        if store.note_notified(source).await.is_ok() {
            wake();
        }
    }
    if counted {
        status(StatusCode::ACCEPTED)
    } else {
        refused(source, "no notification in the request was Kith's")
    }
}

async fn google(
    app: &Arc<App>,
    watcher: &crate::sync::watch::Watcher,
    source: i64,
    h: &HeaderMap,
) -> Response {
    let get = |n: &str| h.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !watcher.verify(source, get("x-goog-channel-token")) {
        return refused(source, "the channel token is wrong");
    }
    let channel = get("x-goog-channel-id");
    let number = get("x-goog-message-number").parse::<i64>().ok();
    let store = app.store.as_ref();
    match store.channel_message(source, channel, number).await {
        Ok(Delivery::Fresh) => {}
        Ok(Delivery::Replayed) => {
            tracing::info!(
                source,
                channel,
                "a Google notification seen before was ignored"
            );
            return status(StatusCode::OK);
        }
        Ok(Delivery::Unknown) => return refused(source, "no such channel"),
        Err(e) => {
            tracing::warn!(error = %e, "cannot check a Google notification");
            return status(StatusCode::SERVICE_UNAVAILABLE);
        }
    }
    // `sync` only says the channel works; `exists` and `not_exists` say an event changed.
    if get("x-goog-resource-state") != "sync" && store.note_notified(source).await.is_ok() {
        wake();
    }
    status(StatusCode::OK)
}
