//! WebDAV-Push to devices: registrations, and the sender that tells each registered device,
//! through its push service, that a collection changed. Every change counts, whatever made
//! it (a client, an upstream run, a sharee, an undo, the CLI), because the sender watches the
//! collections' change counters rather than the writers.

mod register;
mod send;
mod target;
mod vapid;

pub use register::{Refusal, register, unregister};
pub use send::spawn;

use crate::config::Config;
use crate::store::Store;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use std::time::Duration;

/// What registering and sending share: the keys, the admin's settings and the HTTP client.
pub struct PushService {
    vapid: vapid::Vapid,
    topic_key: [u8; 32],
    contact: String,
    trusted: target::Trusted,
    coalesce: Duration,
    http: reqwest::Client,
}

impl PushService {
    /// `None` when `push.enabled` is off.
    pub async fn open(
        config: &Config,
        store: &dyn Store,
        server_key: &[u8; 32],
    ) -> Result<Option<PushService>, String> {
        if !config.push.enabled {
            return Ok(None);
        }
        let vapid = vapid::Vapid::load(config, store).await?;
        let trusted = target::Trusted::new(&config.push.trusted_hosts);
        let contact = match config.push.contact.trim() {
            "" => match config.web.public_url.trim() {
                u if u.starts_with("https://") => u.to_string(),
                _ => "mailto:postmaster@localhost".to_string(),
            },
            c => c.to_string(),
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(target::PublicOnly(trusted.clone()))
            .user_agent(concat!("Kith/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot make the push client: {e}"))?;
        Ok(Some(PushService {
            vapid,
            topic_key: *server_key,
            contact,
            trusted,
            coalesce: Duration::from_millis(config.push.coalesce_ms),
            http,
        }))
    }

    /// The `vapid-public-key` devices bind their subscriptions to.
    pub fn vapid_public_key(&self) -> &str {
        &self.vapid.public
    }

    /// A collection's topic: stable, the same for its owner and its sharees, and telling the
    /// push service nothing about the collection's name or owner.
    pub fn topic(&self, collection_id: i64) -> String {
        let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(&self.topic_key) else {
            return collection_id.to_string();
        };
        mac.update(b"webdav-push topic ");
        mac.update(collection_id.to_string().as_bytes());
        URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..16])
    }
}
