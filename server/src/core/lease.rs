//! Jobs that must run on one instance at a time (a source's sync run, a housekeeping task),
//! claimed through a lease row in the shared database. The holder renews the lease while it
//! works; if it dies, the lease lapses after its time to live and another instance takes the
//! job over. On SQLite there is one instance, and every claim succeeds.

use crate::store::Store;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// This process's name in lease rows: `host/pid-random`, so a process on the same host can
/// tell that a holder has died ([`holder_is_gone`]).
pub fn instance_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        format!(
            "{}/{}-{:08x}",
            host_name(),
            std::process::id(),
            rand::random::<u32>()
        )
    })
}

fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    if ok {
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        String::new()
    }
}

/// Whether the lease holder `holder` is a process of this host that no longer runs: its lease
/// can be taken over at once instead of waiting for it to lapse.
pub fn holder_is_gone(holder: &str) -> bool {
    let Some((host, rest)) = holder.split_once('/') else {
        return false;
    };
    if host != host_name() {
        return false;
    }
    let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<i32>().ok()) else {
        return false;
    };
    if pid <= 0 || pid == std::process::id() as i32 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists.
    let alive = unsafe { libc::kill(pid, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    !alive
}

/// A claimed lease, renewed in the background until released or dropped.
pub struct Held {
    store: Arc<dyn Store>,
    name: String,
    lost: Arc<AtomicBool>,
    renewer: tokio::task::JoinHandle<()>,
}

/// Claims lease `name` for `ttl_ms`; `None` while another instance holds it.
pub async fn claim(store: &Arc<dyn Store>, name: &str, ttl_ms: i64) -> Option<Held> {
    match store.try_lease(name, instance_id(), ttl_ms).await {
        Ok(true) => {}
        Ok(false) => {
            // A holder on this host that is gone (killed) need not be waited out.
            let holder = store.lease_holder(name).await.ok().flatten()?;
            if !holder_is_gone(&holder)
                || !store
                    .take_lease(name, &holder, instance_id(), ttl_ms)
                    .await
                    .unwrap_or(false)
            {
                return None;
            }
            tracing::info!(lease = name, %holder, "took over the lease of a process that is gone");
        }
        Err(e) => {
            tracing::warn!(lease = name, error = %e, "cannot claim a lease");
            return None;
        }
    }
    let lost = Arc::new(AtomicBool::new(false));
    let renewer = tokio::spawn({
        let store = store.clone();
        let name = name.to_string();
        let lost = lost.clone();
        async move {
            // Three renewals per time to live: one failed renewal does not lose the lease.
            let every = Duration::from_millis((ttl_ms / 3).max(100) as u64);
            loop {
                tokio::time::sleep(every).await;
                match store.try_lease(&name, instance_id(), ttl_ms).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(lease = %name, "another instance took over a lease");
                        lost.store(true, Ordering::SeqCst);
                        return;
                    }
                    Err(e) => tracing::warn!(lease = %name, error = %e, "cannot renew a lease"),
                }
            }
        }
    });
    Some(Held {
        store: store.clone(),
        name: name.to_string(),
        lost,
        renewer,
    })
}

impl Held {
    /// Whether another instance has taken the job over (this one stalled past the lease).
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    pub async fn release(self) {
        self.renewer.abort();
        if let Err(e) = self.store.release_lease(&self.name, instance_id()).await {
            tracing::warn!(lease = %self.name, error = %e, "cannot release a lease");
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

/// Test builds only: `KITH_FAILPOINT=NAME` stops the process's work at the point named `NAME`,
/// and `KITH_FAILPOINT=NAME:MS` holds it there for MS milliseconds, after printing
/// `kith: failpoint NAME`, so a test can act on an instance mid-job without timing guesses.
pub async fn failpoint(name: &str) {
    #[cfg(debug_assertions)]
    if let Ok(f) = std::env::var("KITH_FAILPOINT") {
        let (point, hold) = match f.split_once(':') {
            Some((p, ms)) => (p.to_string(), ms.parse::<u64>().ok()),
            None => (f, None),
        };
        if point == name {
            println!("kith: failpoint {name}");
            match hold {
                Some(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
                None => std::future::pending::<()>().await,
            }
        }
    }
    #[cfg(not(debug_assertions))]
    let _ = name;
}
