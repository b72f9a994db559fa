//! Housekeeping inside `kith serve`: forgetting old tombstones, trash and versions, so storage
//! stays bounded, and taking scheduled backups (keeping the newest few).

use crate::config::Config;
use crate::store::{Store, now_ms};
use std::sync::Arc;
use std::time::Duration;

/// How long deletions are kept for sync-collection, in ms.
fn tombstone_retention(config: &Config) -> i64 {
    i64::from(config.dav.tombstone_retention_days) * 86_400_000
}

/// When each housekeeping job runs next (Unix ms); no backup time when backups are off.
struct Jobs {
    next_tombstones: i64,
    next_history: i64,
    next_backup: Option<i64>,
}

pub fn spawn(store: Arc<dyn Store>, config: Config) {
    // Checked when the config was resolved; the fallbacks are never used.
    let retention = config.history.retention_ms().unwrap_or(30 * 86_400_000);
    let purge_every = config.history.purge_interval_ms().unwrap_or(3_600_000);
    let backup_every = config.backup.interval_ms().unwrap_or(86_400_000);
    let backup_dir = config.backup_dir();
    tokio::spawn(async move {
        let now = now_ms();
        let mut jobs = Jobs {
            next_tombstones: now,
            next_history: now,
            next_backup: backups_here(store.as_ref(), &config)
                .then(|| next_backup_due(&backup_dir, backup_every, now)),
        };
        loop {
            let now = now_ms();
            // Each purge runs once per interval across all instances on the database: the
            // lease, left to lapse, marks it done until the next interval.
            if now >= jobs.next_tombstones
                && once_per(store.as_ref(), "tombstones", 6 * 3_600_000).await
            {
                match store
                    .purge_tombstones(now - tombstone_retention(&config))
                    .await
                {
                    Ok(n) if n > 0 => tracing::info!(purged = n, "purged old tombstones"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "tombstone purge failed"),
                }
                if let Err(e) = store.purge_expired_sealed().await {
                    tracing::warn!(error = %e, "purging unfinished authorizations failed");
                }
                if let Err(e) = store.purge_expired_web_sessions().await {
                    tracing::warn!(error = %e, "purging expired browser sessions failed");
                }
            }
            if now >= jobs.next_tombstones {
                jobs.next_tombstones = now + 6 * 3_600_000;
            }
            if now >= jobs.next_history && once_per(store.as_ref(), "history", purge_every).await {
                match crate::core::versions::purge(store.as_ref(), retention).await {
                    Ok(n) if n > 0 => {
                        tracing::info!(purged = n, "purged trash and versions past the retention")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "history purge failed"),
                }
            }
            if now >= jobs.next_history {
                jobs.next_history = now + purge_every;
            }
            if let Some(due) = jobs.next_backup
                && now >= due
            {
                scheduled_backup(store.as_ref(), &config, &backup_dir).await;
                jobs.next_backup = Some(now_ms() + backup_every);
            }
            let next = [
                Some(jobs.next_tombstones),
                Some(jobs.next_history),
                jobs.next_backup,
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(now + 3_600_000);
            let wait = (next - now_ms()).clamp(100, 3_600_000);
            tokio::time::sleep(Duration::from_millis(wait as u64)).await;
        }
    });
}

/// Whether this instance should run housekeeping job `job` now: true for the first instance to
/// ask in each `interval_ms`.
async fn once_per(store: &dyn Store, job: &str, interval_ms: i64) -> bool {
    // A little under the interval, so the instance that ran it last can run it again on time.
    let ttl = interval_ms - interval_ms / 20;
    match store
        .try_lease(
            &format!("maintenance:{job}"),
            crate::core::lease::instance_id(),
            ttl,
        )
        .await
    {
        Ok(mine) => mine,
        Err(e) => {
            tracing::warn!(job, error = %e, "cannot claim a housekeeping job");
            false
        }
    }
}

/// Whether scheduled backups run in this server: they copy the SQLite database, so with
/// PostgreSQL they are left to PostgreSQL's own tools.
fn backups_here(store: &dyn Store, config: &Config) -> bool {
    if !config.backup.enabled {
        return false;
    }
    if store.backend() != "sqlite" {
        tracing::warn!(
            "[backup] is enabled but the database is PostgreSQL: back it up with pg_dump or base backups; Kith takes no scheduled backups"
        );
        return false;
    }
    true
}

/// When the next scheduled backup is due: an interval after the newest one in `dir` (so a
/// restart does not take an extra backup), or now.
fn next_backup_due(dir: &std::path::Path, every: i64, now: i64) -> i64 {
    let newest = crate::core::backup::backups_in(dir)
        .ok()
        .into_iter()
        .flatten()
        .filter_map(|n| std::fs::metadata(dir.join(n)).ok()?.modified().ok())
        .max();
    match newest {
        Some(t) => {
            let at = t
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0);
            (at + every).min(now + every)
        }
        None => now,
    }
}

async fn scheduled_backup(store: &dyn Store, config: &Config, dir: &std::path::Path) {
    let keep = Some(config.backup.keep.max(1));
    match crate::core::backup::create(store, &config.data_dir, dir, keep).await {
        Ok(path) => {
            crate::metrics::backup("ok");
            tracing::info!(file = %path.display(), "scheduled backup written");
        }
        Err(e) => {
            crate::metrics::backup("failed");
            tracing::error!(error = %e, dir = %dir.display(), "scheduled backup failed")
        }
    }
}
