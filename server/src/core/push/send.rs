//! The sender: wakes when this process commits a change (and every few seconds for changes
//! other processes made), gathers a burst for `push.coalesce`, then tells each registered
//! device whose collection moved. A registration's new stamp is claimed before its message
//! goes out, so each change is pushed once even with several instances; a device that wrote
//! the change itself and said `Push-Dont-Notify` was marked as told by the write.

use super::PushService;
use crate::core::push::target::Trusted;
use crate::store::push::PendingPush;
use crate::store::{Kind, Store};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How often changes made by other processes are looked for.
const BACKSTOP: Duration = Duration::from_secs(2);
/// Pushes in flight at once.
const CONCURRENCY: usize = 64;
/// A device's push service may be down for a while; after this many failures in a row the
/// registration is dropped (the device registers again when it next syncs).
const MAX_FAILURES: i64 = 10;
/// How long a push service keeps an undelivered message (RFC 8030 `TTL`).
const TTL: Duration = Duration::from_secs(86_400);

/// The running sender, for a graceful shutdown.
pub struct Sender {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Sender {
    pub async fn stop(self, grace: Duration) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(grace, self.task).await;
    }
}

pub fn spawn(store: Arc<dyn Store>, push: Arc<PushService>) -> Sender {
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        let mut purged = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = crate::store::changed().notified() => {}
                _ = tokio::time::sleep(BACKSTOP) => {}
                _ = stopped.changed() => return,
            }
            if !push.coalesce.is_zero() {
                tokio::time::sleep(push.coalesce).await;
            }
            pass(&store, &push).await;
            if purged.elapsed() > Duration::from_secs(3600) {
                purged = tokio::time::Instant::now();
                if let Err(e) = store.purge_expired_pushes().await {
                    tracing::warn!(error = %e, "cannot forget expired push registrations");
                }
            }
        }
    });
    Sender { stop, task }
}

/// Sends every push that is due now.
pub(super) async fn pass(store: &Arc<dyn Store>, push: &Arc<PushService>) {
    let pending = match store.pending_pushes().await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list pending pushes");
            return;
        }
    };
    futures_util::stream::iter(pending)
        .for_each_concurrent(CONCURRENCY, |p| async move {
            deliver(store.as_ref(), push, p).await;
        })
        .await;
}

/// Whether the registration's user may still read the collection: its owner, a sharee, or a
/// delegate. A share that ended ends the pushes with it.
async fn may_read(store: &dyn Store, p: &PendingPush) -> bool {
    let user = p.registration.user_id;
    if user == p.owner_id {
        return true;
    }
    let shared = store
        .shared_with(user, p.kind)
        .await
        .map(|s| {
            s.iter()
                .any(|c| c.collection.id == p.registration.collection_id)
        })
        .unwrap_or(true);
    if shared || p.kind != Kind::Calendar {
        return shared;
    }
    store
        .delegators_of(user)
        .await
        .map(|d| d.iter().any(|d| d.user_id == p.owner_id))
        .unwrap_or(true)
}

async fn deliver(store: &dyn Store, push: &PushService, p: PendingPush) {
    let r = &p.registration;
    if !may_read(store, &p).await {
        let _ = store.delete_push(r.id).await;
        return;
    }
    match store.claim_push(r.id, p.seq).await {
        Ok(true) => {}
        _ => return, // another instance sends it, or the database is away
    }
    let topic = push.topic(r.collection_id);
    let body = kith_dav::push::message(
        &topic,
        &kith_dav::sync_token::format(r.collection_id, p.seq),
    );
    let outcome = match send(push, &push.trusted, r, &topic, body).await {
        Ok(status) if status.is_success() => {
            if r.failures > 0 {
                let _ = store.push_delivered(r.id).await;
            }
            "delivered"
        }
        Ok(status) if matches!(status.as_u16(), 404 | 410) => {
            // The push service says the subscription is gone (RFC 8030 §7.3).
            let _ = store.delete_push(r.id).await;
            "gone"
        }
        other => {
            let why = match other {
                Ok(status) => format!("the push service answered {status}"),
                Err(e) => e,
            };
            tracing::info!(registration = r.id, reason = %why, "a push was not delivered");
            if store.push_failed(r.id).await.unwrap_or(0) >= MAX_FAILURES {
                let _ = store.delete_push(r.id).await;
            }
            "failed"
        }
    };
    crate::metrics::push(outcome);
}

/// Encrypts `body` for the device (RFC 8291), signs (RFC 8292) and POSTs it (RFC 8030).
async fn send(
    push: &PushService,
    trusted: &Trusted,
    r: &crate::store::push::PushRegistration,
    topic: &str,
    body: String,
) -> Result<reqwest::StatusCode, String> {
    let url = trusted.check(&r.push_resource)?;
    let key = URL_SAFE_NO_PAD
        .decode(&r.public_key)
        .ok()
        .and_then(|k| web_push_native::p256::PublicKey::from_sec1_bytes(&k).ok())
        .ok_or("the stored public key is unreadable")?;
    let auth: [u8; 16] = URL_SAFE_NO_PAD
        .decode(&r.auth_secret)
        .ok()
        .and_then(|a| a.try_into().ok())
        .ok_or("the stored auth secret is unreadable")?;
    let uri: http::Uri = r
        .push_resource
        .parse()
        .map_err(|_| "the push resource is not a URI".to_string())?;
    let message = web_push_native::WebPushBuilder::new(uri, key, web_push_native::Auth::from(auth))
        .with_valid_duration(TTL)
        .build(body)
        .map_err(|e| format!("cannot encrypt the message: {e}"))?;
    let authorization = push
        .vapid
        .authorization(&url.origin().ascii_serialization(), &push.contact)?;
    let (parts, payload) = message.into_parts();
    let resp = push
        .http
        .post(url)
        .headers(parts.headers)
        .header("authorization", authorization)
        .header("urgency", "normal")
        // Replaces a message still waiting at the push service: only the latest counts.
        .header("topic", topic)
        .body(payload)
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                "no answer within 15 s".to_string()
            } else if e.is_connect() {
                "cannot connect to the push service".to_string()
            } else {
                "the request failed".to_string()
            }
        })?;
    Ok(resp.status())
}
