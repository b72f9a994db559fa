//! The application state every front shares: the store, the authenticator, the resolved
//! configuration and the upstream providers. Opened once by `serve`.

use crate::config::Config;
use crate::core::auth::Authenticator;
use crate::store::Store;
use crate::upstream::Upstreams;
use std::sync::Arc;

pub struct App {
    pub store: Arc<dyn Store>,
    pub auth: Authenticator,
    pub config: Config,
    pub upstreams: Arc<Upstreams>,
    pub notifier: Arc<crate::sync::notify::Notifier>,
    /// WebDAV-Push to devices; `None` when `push.enabled` is off.
    pub push: Option<Arc<crate::core::push::PushService>>,
    /// How sources learn of upstream changes: notifications (with the key that checks them)
    /// or fast polling.
    pub cadence: crate::sync::schedule::Cadence,
}

/// The address a connection came from, set on each request by the listener.
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub std::net::IpAddr);

/// The client's address for throttling: the peer, or the client a proxy on this host names.
pub fn client_ip(peer: Option<&Peer>, forwarded_for: Option<&str>) -> Option<std::net::IpAddr> {
    crate::core::throttle::client_ip(peer.map(|p| p.0), forwarded_for)
}

/// The user (and device) a response was served to, set by a front for the access log.
#[derive(Clone)]
pub struct LoggedUser(pub String);

/// The key app passwords are hashed with. SQLite installs keep it in `secret.key`; instances
/// on one PostgreSQL database must all use the same key, so there it lives in the database,
/// seeded from this data directory's key when it has one (an install moved to PostgreSQL
/// keeps its app passwords).
pub async fn server_key(config: &Config, store: &dyn Store) -> Result<[u8; 32], String> {
    let file_key = || {
        crate::secrets::load_or_create(&config.data_dir)
            .map_err(|e| format!("cannot read or create the secret key: {e}"))
    };
    if store.backend() == "sqlite" {
        return file_key();
    }
    let seed = match std::fs::read(config.data_dir.join("secret.key")) {
        Ok(bytes) if bytes.len() == 32 => bytes,
        _ => crate::secrets::random_key().to_vec(),
    };
    let stored = store
        .shared_setting("secret_key", &seed)
        .await
        .map_err(|e| format!("cannot read the shared secret key: {e}"))?;
    stored
        .try_into()
        .map_err(|_| "the secret key in the database is not 32 bytes".to_string())
}
