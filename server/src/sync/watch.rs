//! Upstream change notifications: each automatic source whose provider can notify (Microsoft
//! 365 contacts and calendars, Google calendars) gets a Graph subscription or a Google
//! channel pointing at `push.public_url`, renewed before it lapses and ended when the source
//! stops running automatically. A notification only makes the source's next run due now
//! (`Channels::note_notified`); the run is an ordinary incremental one, under the source's
//! rules, window and lease. Without a public URL, or when the provider cannot reach Kith,
//! sources are polled every `push.fast_poll` instead.

use crate::store::channels::Channel;
use crate::store::sources::{Source, SourceStatus};
use crate::store::{Store, now_ms};
use crate::upstream::Upstreams;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use kith_connectors::connector::{Watch, WatchRequest};
use kith_connectors::provider::{Provider, SourceKind};
use std::collections::HashMap;

/// How long Kith asks a watch to last; providers give less (Graph under 7 days).
const ASK_MS: i64 = 7 * 24 * 3_600_000;
/// After a failed attempt to watch a source, the next waits this long.
const RETRY_MS: i64 = 3_600_000;
/// Google says nothing when it cannot reach Kith: a channel whose first (`sync`) message has
/// not arrived after this long is taken as unreachable, ended, and the source polled.
const PROBE_MS: i64 = 120_000;

/// Where providers reach Kith, and the key notifications are checked with.
pub struct Watcher {
    public_url: String,
    key: [u8; 32],
}

/// How a source learns of changes, for the web UI.
pub enum Mode {
    /// The provider notifies Kith; the watch lasts until then.
    Notified { until: i64 },
    /// Polled every this many seconds; why, in words.
    Polled { every_secs: u64, why: &'static str },
    /// Not automatic: runs only when someone starts one.
    Manual,
}

/// Whether a source's provider can notify Kith of its changes.
pub fn notifies(kind: SourceKind) -> bool {
    matches!(
        kind,
        SourceKind::Account(Provider::M365) | SourceKind::Calendar(_)
    )
}

impl Watcher {
    /// `None` without `push.public_url`: nothing can reach Kith.
    pub fn new(public_url: &str, server_key: &[u8; 32]) -> Option<Watcher> {
        let url = public_url.trim().trim_end_matches('/');
        if url.is_empty() {
            return None;
        }
        let mut key = [0u8; 32];
        if let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(server_key) {
            mac.update(b"upstream notifications");
            key.copy_from_slice(&mac.finalize().into_bytes());
        }
        Some(Watcher {
            public_url: url.to_string(),
            key,
        })
    }

    /// The secret a provider sends back with each notification for `source_id` (Graph's
    /// `clientState`, Google's channel token). Only this server can make it.
    pub fn secret(&self, source_id: i64) -> String {
        let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(&self.key) else {
            return String::new();
        };
        mac.update(format!("source {source_id}").as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Whether `given` is the source's secret, compared in constant time.
    pub fn verify(&self, source_id: i64, given: &str) -> bool {
        let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(&self.key) else {
            return false;
        };
        mac.update(format!("source {source_id}").as_bytes());
        URL_SAFE_NO_PAD
            .decode(given.trim())
            .is_ok_and(|g| mac.verify_slice(&g).is_ok())
    }

    fn request(&self, source: &Source) -> WatchRequest {
        let provider = source.kind.provider().map_or("none", |p| p.id());
        let url = format!("{}/hooks/{provider}/{}", self.public_url, source.id);
        WatchRequest {
            lifecycle_url: format!("{url}/lifecycle"),
            url,
            secret: self.secret(source.id),
            expires_at: now_ms() + ASK_MS,
        }
    }
}

/// Graph checks that it reaches Kith before it answers a subscription's create; Google
/// does not, and shows it only by the channel's first message.
fn confirmed_at_creation(kind: SourceKind) -> bool {
    kind.provider() == Some(Provider::M365)
}

fn failed_key(source_id: i64) -> String {
    format!("watch_failed:{source_id}")
}

/// Whether a channel is past 60 % of its life (or lapsed): renew it now.
fn due_for_renewal(c: &Channel, now: i64) -> bool {
    let life = (c.expires_at - c.created_at).max(0);
    now >= c.created_at + life * 6 / 10
}

fn watch_of(c: &Channel) -> Watch {
    Watch {
        remote_id: c.remote_id.clone(),
        resource_id: c.resource_id.clone(),
        expires_at: c.expires_at,
    }
}

/// One pass: watch what should be watched, renew what is due, end what is no longer needed.
pub async fn pass(
    store: &std::sync::Arc<dyn Store>,
    up: &Upstreams,
    watcher: &Watcher,
    lease_ms: i64,
) {
    let arc = store;
    let store = arc.as_ref();
    let (sources, channels) = match (store.scheduled_sources().await, store.all_channels().await) {
        (Ok(s), Ok(c)) => (s, c),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(error = %e, "cannot list sources to watch");
            return;
        }
    };
    let mut by_source: HashMap<i64, Vec<Channel>> = HashMap::new();
    for c in channels {
        by_source.entry(c.source_id).or_default().push(c);
    }
    let now = now_ms();
    for source in sources.iter().filter(|s| notifies(s.kind)) {
        if matches!(source.status, SourceStatus::NeedsReauth) {
            continue;
        }
        let mine = by_source.remove(&source.id).unwrap_or_default();
        let unreachable: Vec<&Channel> = mine
            .iter()
            .filter(|c| !c.confirmed && now - c.created_at > PROBE_MS)
            .collect();
        if !unreachable.is_empty() {
            give_up(store, up, source, &unreachable).await;
            continue;
        }
        let renew: Vec<&Channel> = mine.iter().filter(|c| due_for_renewal(c, now)).collect();
        let create = mine.is_empty() && !recently_failed(store, source.id, now).await;
        if !create && renew.is_empty() {
            continue;
        }
        let Some(lease) =
            crate::core::lease::claim(arc, &format!("watch:{}", source.id), lease_ms).await
        else {
            continue;
        };
        watch_source(store, up, watcher, source, create, &renew).await;
        lease.release().await;
    }
    // What is left belongs to sources that no longer run automatically (or no longer
    // notify): end it, so the provider stops calling.
    for (source_id, chans) in by_source {
        let source = store.source(source_id).await.ok().flatten();
        for c in chans {
            if let Some(s) = &source
                && let Ok(mut conn) = up.connector(store, s).await
                && let Err(e) = conn.unwatch(&watch_of(&c)).await
            {
                tracing::info!(source = %s.name, error = %e, "the provider did not confirm the end of a watch");
            }
            let _ = store.delete_channel(c.id).await;
        }
    }
}

/// The provider never showed it reaches Kith: its watches end, and the source is polled
/// until the next attempt an hour later.
async fn give_up(store: &dyn Store, up: &Upstreams, source: &Source, chans: &[&Channel]) {
    if let Ok(mut conn) = up.connector(store, source).await {
        for c in chans {
            let _ = conn.unwatch(&watch_of(c)).await;
        }
    }
    for c in chans {
        let _ = store.delete_channel(c.id).await;
    }
    failed(
        store,
        source,
        "no notification arrived from it within two minutes",
    )
    .await;
}

/// Records a failed attempt to watch `source`, and tells its owner.
async fn failed(store: &dyn Store, source: &Source, why: &str) {
    let _ = store
        .set_setting(
            &failed_key(source.id),
            Some(now_ms().to_string().as_bytes()),
        )
        .await;
    let _ = store
        .add_event(
            source.owner_id,
            Some(source.id),
            "warning",
            &format!(
                "{} cannot notify Kith of changes to {} ({why}); Kith checks it every few minutes instead. Check that push.public_url reaches this server from the internet.",
                source.kind.provider().map_or("The provider", |p| p.title()),
                source.name
            ),
        )
        .await;
}

async fn recently_failed(store: &dyn Store, source_id: i64, now: i64) -> bool {
    match store.setting(&failed_key(source_id)).await {
        Ok(Some(v)) => String::from_utf8_lossy(&v)
            .parse::<i64>()
            .is_ok_and(|at| now - at < RETRY_MS),
        _ => false,
    }
}

async fn watch_source(
    store: &dyn Store,
    up: &Upstreams,
    watcher: &Watcher,
    source: &Source,
    create: bool,
    renew: &[&Channel],
) {
    let mut conn = match up.connector(store, source).await {
        Ok(c) => c,
        Err(e) => {
            tracing::info!(source = %source.name, error = %e, "cannot watch the source now");
            return;
        }
    };
    let req = watcher.request(source);
    if create {
        match conn.watch(&req).await {
            Ok(made) => {
                for w in &made {
                    let _ = store
                        .put_channel(
                            source.id,
                            &w.remote_id,
                            w.resource_id.as_deref(),
                            w.expires_at,
                            confirmed_at_creation(source.kind),
                        )
                        .await;
                }
                let _ = store.set_setting(&failed_key(source.id), None).await;
                if !made.is_empty() {
                    tracing::info!(source = %source.name, "the provider now notifies Kith of changes");
                }
            }
            Err(e) => failed(store, source, &e.to_string()).await,
        }
    }
    for c in renew {
        match conn.renew_watch(&watch_of(c), &req).await {
            Ok(w) => {
                // Renewed in place (Graph) keeps its proof; a new channel (Google) must
                // show again that it reaches Kith.
                let same = w.remote_id == c.remote_id;
                let _ = store
                    .replace_channel(
                        c.id,
                        &w.remote_id,
                        w.resource_id.as_deref(),
                        w.expires_at,
                        (same && c.confirmed) || confirmed_at_creation(source.kind),
                    )
                    .await;
            }
            Err(e) => {
                // Gone or refused: dropped, so the next pass makes a new one.
                tracing::info!(source = %source.name, error = %e, "a watch could not be renewed; making a new one");
                let _ = store.delete_channel(c.id).await;
            }
        }
    }
}

/// How `source` learns of changes now.
pub async fn mode(
    store: &dyn Store,
    reachable: bool,
    source: &Source,
    rule_secs: u64,
    fast_poll_secs: u64,
) -> Mode {
    let auto = super::parse_rules(source)
        .map(|r| r.schedule.auto)
        .unwrap_or(false);
    if !auto || source.kind.provider().is_none() {
        return Mode::Manual;
    }
    let chans = store.channels_of(source.id).await.unwrap_or_default();
    if let Some(until) = chans
        .iter()
        .filter(|c| c.confirmed)
        .map(|c| c.expires_at)
        .min()
    {
        return Mode::Notified { until };
    }
    let why = if !notifies(source.kind) {
        "the provider sends no notifications for contacts"
    } else if !reachable {
        "no public URL is set (push.public_url), so the provider cannot reach Kith"
    } else if !chans.is_empty() {
        "waiting for the provider's first notification, which shows it reaches Kith"
    } else {
        "the provider could not reach Kith yet"
    };
    Mode::Polled {
        every_secs: rule_secs.min(fast_poll_secs),
        why,
    }
}
