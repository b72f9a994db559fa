//! What every upstream client shares: backoff with jitter, and one writer per
//! account.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Backoff before retry `n` (1-based): `base·2ⁿ⁻¹` plus up to as much random jitter, so
/// clients throttled together do not come back together. Never less than `base·2ⁿ⁻¹`.
pub fn backoff(base: Duration, n: u32) -> Duration {
    let step = base.saturating_mul(1 << (n.saturating_sub(1)).min(16));
    let jitter = rand::random::<f64>() * step.as_secs_f64();
    step + Duration::from_secs_f64(jitter)
}

/// The lock that makes one account's writes sequential (Google asks for it; Graph counts
/// concurrent writes to one mailbox against it).
pub fn account_lock(key: &str) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: Mutex<Option<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> = Mutex::new(None);
    let mut w = LOCKS.lock().unwrap_or_else(|e| e.into_inner());
    w.get_or_insert_with(HashMap::new)
        .entry(key.to_string())
        .or_default()
        .clone()
}
