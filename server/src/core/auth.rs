//! HTTP Basic authentication for DAV clients.
//!
//! Clients send the password on every request. App passwords are checked with a keyed BLAKE3
//! hash. An account password is checked with argon2 once, then remembered (as a keyed hash of
//! the credentials, together with the password hash it was checked against) so later requests
//! skip argon2; changing the password invalidates the entry at once. Checks that do run argon2
//! go through [`Throttle`]: a few at a time, counted per user and address before they run.
//!
//! An app password's sign-in is remembered for [`APP_TTL`] too: looking it up is a database
//! round trip, and it was a third of what a small request cost. Account writes made through
//! this process (a revoked app password, a disabled or deleted account) drop every remembered
//! sign-in at once ([`accounts_generation`]); those made elsewhere (another instance, the CLI)
//! take effect within [`APP_TTL`].

use crate::core::accounts::app_password_hash;
use crate::core::throttle::{Throttle, Wait};
use crate::store::{AppPassword, Store, StoreError, User, accounts_generation};
use base64::Engine;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CACHE_TTL: Duration = Duration::from_secs(15 * 60);
const CACHE_MAX: usize = 10_000;
/// How long an app password's sign-in is remembered (see the module notes).
pub const APP_TTL: Duration = Duration::from_secs(1);
/// How often an app password's last use is written.
const TOUCH_EVERY_MS: i64 = 60_000;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no credentials")]
    Missing,
    #[error("malformed Authorization header")]
    Malformed,
    #[error("wrong user name or password")]
    Rejected,
    /// Too many wrong passwords lately for this user from this address (or from the address).
    #[error("too many failed sign-ins; wait {} s", .0.secs())]
    Throttled(Wait),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Who is making a request, and how they proved it.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    /// The label of the app password used, if any.
    pub device: Option<String>,
}

pub struct Authenticator {
    key: [u8; 32],
    cache: Mutex<HashMap<[u8; 32], (String, Instant)>>,
    /// App-password sign-ins, by a keyed hash of the credentials.
    apps: Mutex<HashMap<[u8; 32], RememberedApp>>,
    /// Checks under way, by credential.
    gates: Mutex<HashMap<[u8; 32], Arc<tokio::sync::Mutex<()>>>>,
    /// Shared with the web sign-in form.
    pub throttle: Throttle,
}

/// An app-password sign-in, as the database answered it at `at`, with the count of account
/// writes read before asking.
struct RememberedApp {
    user: User,
    app: AppPassword,
    at: Instant,
    generation: u64,
}

/// Splits a `Basic` Authorization header into user name and password.
pub fn parse_basic(header: &str) -> Result<(String, String), AuthError> {
    let (scheme, rest) = header.trim().split_once(' ').ok_or(AuthError::Malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(AuthError::Malformed);
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .map_err(|_| AuthError::Malformed)?;
    let text = String::from_utf8(raw).map_err(|_| AuthError::Malformed)?;
    let (user, pass) = text.split_once(':').ok_or(AuthError::Malformed)?;
    Ok((user.to_string(), pass.to_string()))
}

impl Authenticator {
    pub fn new(key: [u8; 32]) -> Self {
        // As many argon2 checks at once as there are cores: more only queue in memory.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Authenticator {
            key,
            cache: Mutex::new(HashMap::new()),
            apps: Mutex::new(HashMap::new()),
            gates: Mutex::new(HashMap::new()),
            throttle: Throttle::new(cores),
        }
    }

    /// How a new app password is stored: a keyed hash, with this server's key.
    pub fn app_password_hash(&self, password: &str) -> [u8; 32] {
        app_password_hash(&self.key, password)
    }

    fn cache_key(&self, user: &str, pass: &str) -> [u8; 32] {
        let mut h = blake3::Hasher::new_keyed(&self.key);
        h.update(b"basic-credential\0");
        h.update(user.as_bytes());
        h.update(b"\0");
        h.update(pass.as_bytes());
        *h.finalize().as_bytes()
    }

    /// The principal of a request from `ip` with the Authorization `header`.
    pub async fn authenticate(
        &self,
        store: &dyn Store,
        header: Option<&str>,
        ip: Option<IpAddr>,
    ) -> Result<Principal, AuthError> {
        let header = header.ok_or(AuthError::Missing)?;
        let (name, pass) = parse_basic(header)?;
        let key = self.cache_key(&name, &pass);
        let generation = accounts_generation();
        if let Some((user, app)) = self.remembered_app(&key, generation) {
            return self.signed_in_app(store, user, app, key).await;
        }
        let presented = app_password_hash(&self.key, &pass);
        let Some((user, app)) = store.user_for_login(&name, &presented).await? else {
            // An unknown name costs what a known one does.
            self.throttle
                .begin(&name, ip)
                .map_err(AuthError::Throttled)?;
            self.throttle.verify(pass, None).await;
            return Err(AuthError::Rejected);
        };
        // A disabled account keeps its data but signs in nowhere, with any password.
        if user.disabled_at.is_some() {
            return Err(AuthError::Rejected);
        }
        if let Some(app) = app {
            self.remember_app(key, &user, &app, generation);
            return self.signed_in_app(store, user, app, key).await;
        }

        if self.cached(&key, &user) {
            return Ok(Principal { user, device: None });
        }
        // One check per credential at a time: a device's burst of parallel requests with the
        // right password waits for the first check and is then answered from the cache, rather
        // than being counted as a burst of attempts.
        let gate = self.gate(key);
        let _turn = gate.lock().await;
        let result = self.check(user, &name, pass, key, ip).await;
        if let Ok(mut g) = self.gates.lock()
            && Arc::strong_count(&gate) <= 2
        {
            g.remove(&key);
        }
        result
    }

    /// A remembered app-password sign-in, if no account was written since and it is recent.
    fn remembered_app(&self, key: &[u8; 32], generation: u64) -> Option<(User, AppPassword)> {
        let apps = self.apps.lock().ok()?;
        let r = apps.get(key)?;
        (r.generation == generation && r.at.elapsed() < APP_TTL)
            .then(|| (r.user.clone(), r.app.clone()))
    }

    fn remember_app(&self, key: [u8; 32], user: &User, app: &AppPassword, generation: u64) {
        if let Ok(mut apps) = self.apps.lock() {
            if apps.len() >= CACHE_MAX {
                apps.retain(|_, r| r.at.elapsed() < APP_TTL);
                if apps.len() >= CACHE_MAX {
                    apps.clear();
                }
            }
            apps.insert(
                key,
                RememberedApp {
                    user: user.clone(),
                    app: app.clone(),
                    at: Instant::now(),
                    generation,
                },
            );
        }
    }

    /// The principal of an app-password sign-in; its last use is written once a minute.
    async fn signed_in_app(
        &self,
        store: &dyn Store,
        user: User,
        app: AppPassword,
        key: [u8; 32],
    ) -> Result<Principal, AuthError> {
        let now = crate::store::now_ms();
        if app.last_used_at.is_none_or(|t| now - t >= TOUCH_EVERY_MS) {
            store.touch_app_password(app.id).await?;
            if let Ok(mut apps) = self.apps.lock()
                && let Some(r) = apps.get_mut(&key)
            {
                r.app.last_used_at = Some(now);
            }
        }
        Ok(Principal {
            user,
            device: Some(app.label),
        })
    }

    fn gate(&self, key: [u8; 32]) -> Arc<tokio::sync::Mutex<()>> {
        let mut g = self.gates.lock().unwrap_or_else(|e| e.into_inner());
        g.entry(key).or_default().clone()
    }

    fn cached(&self, key: &[u8; 32], user: &User) -> bool {
        self.cache
            .lock()
            .ok()
            .and_then(|c| c.get(key).cloned())
            .is_some_and(|(phc, at)| phc == user.password_hash && at.elapsed() < CACHE_TTL)
    }

    /// The argon2 check of an account password, throttled; remembered when right.
    async fn check(
        &self,
        user: User,
        name: &str,
        pass: String,
        key: [u8; 32],
        ip: Option<IpAddr>,
    ) -> Result<Principal, AuthError> {
        if self.cached(&key, &user) {
            return Ok(Principal { user, device: None });
        }
        self.throttle
            .begin(name, ip)
            .map_err(AuthError::Throttled)?;
        if !self
            .throttle
            .verify(pass, Some(user.password_hash.clone()))
            .await
        {
            return Err(AuthError::Rejected);
        }
        self.throttle.succeeded(name, ip);
        if let Ok(mut c) = self.cache.lock() {
            if c.len() >= CACHE_MAX {
                c.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
                if c.len() >= CACHE_MAX {
                    c.clear();
                }
            }
            c.insert(key, (user.password_hash.clone(), Instant::now()));
        }
        Ok(Principal { user, device: None })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header_parsing() {
        let h = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("ann:pa:ss")
        );
        assert_eq!(parse_basic(&h).unwrap(), ("ann".into(), "pa:ss".into()));
        assert!(parse_basic("Bearer abc").is_err());
        assert!(parse_basic("Basic !!!").is_err());
    }
}
