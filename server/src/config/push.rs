//! `[push]`: WebDAV-Push to devices, and upstream change notifications from providers.

use super::{ConfigError, duration_ms};
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PushSection {
    /// Whether devices may register for WebDAV-Push (DAVx⁵ with a UnifiedPush distributor).
    pub enabled: bool,
    /// Who runs this server, as a `mailto:` or `https:` URL: push services see it in each
    /// message's VAPID signature and may write to it. Empty: the web UI's public URL, else
    /// `mailto:postmaster@localhost`.
    pub contact: String,
    /// Push services Kith may reach on a private network or over plain HTTP (`host` or
    /// `host:port`), e.g. a UnifiedPush server on the LAN. Any other must be HTTPS on a
    /// public address: a device cannot make Kith call into the local network.
    pub trusted_hosts: Vec<String>,
    /// How long a burst of changes is gathered into one push, in milliseconds.
    pub coalesce_ms: u64,
    /// The URL Microsoft and Google reach this server at (HTTPS, with a publicly trusted
    /// certificate), for their change notifications. Empty: no notifications; Kith polls
    /// sources every `fast_poll` instead.
    pub public_url: String,
    /// How often a source is polled when its provider cannot notify Kith.
    pub fast_poll: String,
}

impl Default for PushSection {
    fn default() -> Self {
        PushSection {
            enabled: true,
            contact: String::new(),
            trusted_hosts: Vec::new(),
            coalesce_ms: 100,
            public_url: String::new(),
            fast_poll: "5m".into(),
        }
    }
}

impl PushSection {
    pub fn fast_poll_ms(&self) -> Result<i64, ConfigError> {
        duration_ms("push.fast_poll", &self.fast_poll)
    }

    pub(super) fn check(&self) -> Result<(), ConfigError> {
        if self.fast_poll_ms()? < 10_000 {
            return Err(ConfigError::Value {
                key: "push.fast_poll".into(),
                message: "must be at least 10s (providers' quotas)".into(),
            });
        }
        let url = self.public_url.trim();
        if !url.is_empty() && !url.starts_with("https://") && !url.starts_with("http://") {
            return Err(ConfigError::Value {
                key: "push.public_url".into(),
                message: "must be an http(s) URL, e.g. https://dav.example.com".into(),
            });
        }
        let contact = self.contact.trim();
        if !contact.is_empty() && !contact.starts_with("mailto:") && !contact.starts_with("https:")
        {
            return Err(ConfigError::Value {
                key: "push.contact".into(),
                message: "must be a mailto: or https: URL".into(),
            });
        }
        Ok(())
    }
}
