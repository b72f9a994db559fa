//! Where upstream API calls are reported (the server counts them for `/metrics`): this crate
//! has no metrics of its own, so the server installs one function at start.

use std::sync::OnceLock;

/// `(provider, outcome, throttled)`: the outcome is `ok`, an HTTP status, or `unreachable`.
pub type Observer = fn(&str, &str, bool);

static OBSERVER: OnceLock<Observer> = OnceLock::new();

pub fn set_observer(f: Observer) {
    let _ = OBSERVER.set(f);
}

pub(crate) fn call(provider: &str, outcome: &str, throttled: bool) {
    if let Some(f) = OBSERVER.get() {
        f(provider, outcome, throttled);
    }
}
