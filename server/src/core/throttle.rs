//! Password checks, throttled alike for DAV and the web. argon2 costs 19 MiB and tens of
//! milliseconds, so:
//! - at most a few checks run at once (a semaphore); the rest wait their turn;
//! - an unknown user name is checked against a dummy hash, so timing does not tell real user
//!   names from unknown ones;
//! - failures back off per user and client address, and per client address across users. An
//!   attempt is counted before its check runs, so parallel tries cannot slip past the limit.
//!
//! What a lockout never refuses: app passwords and credentials this server verified recently
//! (a trusted device), since neither runs argon2. So a stranger guessing can slow down, but
//! not lock out, the account's own devices.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Failures of one user from one address before it must wait.
const PER_USER: u32 = 5;
/// Failures from one address, across users, before it must wait.
const PER_ADDRESS: u32 = 30;
/// How long failures are remembered, and the longest wait.
const WINDOW: Duration = Duration::from_secs(15 * 60);

/// A hash of a random password, with the parameters real ones have.
static DUMMY: LazyLock<String> = LazyLock::new(|| {
    crate::core::accounts::hash_password(&crate::core::accounts::random_password())
        .unwrap_or_default()
});

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    UserAt(u64, Option<IpAddr>),
    Address(IpAddr),
}

pub struct Throttle {
    checks: Semaphore,
    failures: Mutex<HashMap<Key, (u32, Instant)>>,
}

/// How long the client must wait before trying again.
#[derive(Debug, Clone, Copy)]
pub struct Wait(pub Duration);

impl Wait {
    pub fn secs(self) -> u64 {
        self.0.as_secs().max(1)
    }
}

fn user_key(user: &str, ip: Option<IpAddr>) -> Key {
    let h = blake3::hash(user.to_lowercase().as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&h.as_bytes()[..8]);
    Key::UserAt(u64::from_le_bytes(b), ip)
}

/// The wait after `n` failures over `limit`: doubling from one second, at most the window.
fn backoff(n: u32, limit: u32) -> Duration {
    let over = n.saturating_sub(limit).min(20);
    Duration::from_secs(1u64 << over).min(WINDOW)
}

impl Throttle {
    /// `parallel` argon2 checks at once (at least one).
    pub fn new(parallel: usize) -> Throttle {
        Throttle {
            checks: Semaphore::new(parallel.max(1)),
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn keys(user: &str, ip: Option<IpAddr>) -> Vec<(Key, u32)> {
        let mut k = vec![(user_key(user, ip), PER_USER)];
        if let Some(ip) = ip {
            k.push((Key::Address(ip), PER_ADDRESS));
        }
        k
    }

    /// Starts an attempt: counted now, forgiven by [`Throttle::succeeded`]. `Err` while the
    /// user at this address, or the address, must wait.
    pub fn begin(&self, user: &str, ip: Option<IpAddr>) -> Result<(), Wait> {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, (_, since)| since.elapsed() < WINDOW);
        }
        for (key, limit) in Self::keys(user, ip) {
            if let Some((n, last)) = map.get(&key)
                && *n >= limit
                && last.elapsed() < WINDOW
            {
                let wait = backoff(*n, limit);
                if last.elapsed() < wait {
                    return Err(Wait(wait - last.elapsed()));
                }
            }
        }
        for (key, _) in Self::keys(user, ip) {
            let e = map.entry(key).or_insert((0, Instant::now()));
            if e.1.elapsed() >= WINDOW {
                *e = (0, Instant::now());
            }
            e.0 += 1;
            e.1 = Instant::now();
        }
        Ok(())
    }

    /// The attempt's password was right: its user's count at this address is forgotten.
    pub fn succeeded(&self, user: &str, ip: Option<IpAddr>) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&user_key(user, ip));
        if let Some(ip) = ip
            && let Some(e) = map.get_mut(&Key::Address(ip))
        {
            e.0 = e.0.saturating_sub(1);
        }
    }

    /// Checks `password` against `phc`, or against a dummy hash when the user is unknown, in
    /// turn with the other checks.
    pub async fn verify(&self, password: String, phc: Option<String>) -> bool {
        let Ok(_permit) = self.checks.acquire().await else {
            return false;
        };
        let known = phc.is_some();
        let phc = phc.unwrap_or_else(|| DUMMY.clone());
        let ok = tokio::task::spawn_blocking(move || {
            crate::core::accounts::verify_password(&password, &phc)
        })
        .await
        .unwrap_or(false);
        ok && known
    }
}

/// The client's address: the connection's peer, or, for a proxy on this host, the last
/// address it appended to `X-Forwarded-For`.
pub fn client_ip(peer: Option<IpAddr>, forwarded_for: Option<&str>) -> Option<IpAddr> {
    match peer {
        Some(p) if p.is_loopback() => forwarded_for
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse().ok())
            .or(Some(p)),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_are_counted_before_the_check_and_back_off() {
        let t = Throttle::new(2);
        let ip: Option<IpAddr> = "192.0.2.1".parse().ok();
        for _ in 0..PER_USER {
            assert!(t.begin("ana", ip).is_ok());
        }
        // The sixth is refused at once, before any check ran.
        assert!(t.begin("ana", ip).is_err());
        // Another address, or another user, is not held up.
        assert!(t.begin("ana", "192.0.2.2".parse().ok()).is_ok());
        assert!(t.begin("bob", ip).is_ok());
        t.succeeded("ana", ip);
        assert!(t.begin("ana", ip).is_ok());
    }

    #[test]
    fn one_address_trying_many_users_waits_too() {
        let t = Throttle::new(2);
        let ip: Option<IpAddr> = "198.51.100.7".parse().ok();
        for i in 0..PER_ADDRESS {
            assert!(t.begin(&format!("user{i}"), ip).is_ok());
        }
        assert!(t.begin("someone-else", ip).is_err());
    }

    #[test]
    fn a_proxy_on_this_host_names_the_client() {
        let lo: Option<IpAddr> = "127.0.0.1".parse().ok();
        assert_eq!(
            client_ip(lo, Some("203.0.113.9, 10.0.0.1")),
            "10.0.0.1".parse().ok()
        );
        let far: Option<IpAddr> = "203.0.113.9".parse().ok();
        assert_eq!(client_ip(far, Some("1.2.3.4")), far);
    }
}
