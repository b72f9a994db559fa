//! Graph change-notification subscriptions (`/subscriptions`), for contacts and events. Graph
//! checks the notification and lifecycle URLs before it answers the create (the validation
//! handshake), so a create that succeeds proves Microsoft can reach Kith.

use super::api::{Api, ApiError, enc};
use crate::connector::ConnectorError;
use crate::watch::{Watch, WatchRequest};
use reqwest::Method;
use serde_json::{Value, json};

/// Outlook contacts and events subscriptions without resource data last at most 10,080
/// minutes; a few minutes less, so a clock ahead of Microsoft's is not refused.
const LONGEST_MS: i64 = 10_070 * 60_000;

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default()
}

fn read(v: &Value, fallback: &str) -> Result<Watch, ConnectorError> {
    let id = v["id"].as_str().unwrap_or(fallback).to_string();
    if id.is_empty() {
        return Err(ConnectorError::Unavailable(
            "Graph answered a subscription without an id".into(),
        ));
    }
    let expires_at = v["expirationDateTime"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp_millis())
        .unwrap_or(0);
    Ok(Watch {
        remote_id: id,
        resource_id: None,
        expires_at,
    })
}

fn until(req: &WatchRequest) -> String {
    rfc3339(req.expires_at.min(crate::time::now_ms() + LONGEST_MS))
}

/// Subscribes to created, updated and deleted items of `resource` (e.g. `me/contacts`).
pub async fn subscribe(
    api: &mut Api,
    resource: &str,
    req: &WatchRequest,
) -> Result<Watch, ConnectorError> {
    let body = json!({
        "changeType": "created,updated,deleted",
        "notificationUrl": req.url,
        "lifecycleNotificationUrl": req.lifecycle_url,
        "resource": resource,
        "expirationDateTime": until(req),
        "clientState": req.secret,
    });
    let v = api
        .call(Method::POST, "/subscriptions", Some(&body), None)
        .await?;
    read(&v, "")
}

/// Renews a subscription in place (which also reauthorizes it).
pub async fn renew(api: &mut Api, w: &Watch, req: &WatchRequest) -> Result<Watch, ConnectorError> {
    let body = json!({ "expirationDateTime": until(req) });
    let target = format!("/subscriptions/{}", enc(&w.remote_id));
    let v = api.call(Method::PATCH, &target, Some(&body), None).await?;
    read(&v, &w.remote_id)
}

/// Deletes a subscription; one Graph no longer has is gone already.
pub async fn unsubscribe(api: &mut Api, w: &Watch) -> Result<(), ConnectorError> {
    let target = format!("/subscriptions/{}", enc(&w.remote_id));
    match api.call(Method::DELETE, &target, None, None).await {
        Ok(_) | Err(ApiError::NotFound) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
