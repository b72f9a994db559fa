//! Automatic runs inside `kith serve`: each source with `schedule.auto` runs every interval
//! (plus jitter, so sources do not all start at once), only inside its time window in the
//! user's time zone, and one run at a time. With several instances on one database, each
//! run is claimed with a lease, so a source runs on exactly one instance at a time.

use super::notify::{Notice, Notifier, Occasion};
use super::{Options, parse_rules, run_source};
use crate::store::sources::{RunStatus, Source, SourcePatch, SourceStatus, Trigger};
use crate::store::{Store, now_ms};
use crate::upstream::Upstreams;
use kith_connectors::rules::{parse_interval, parse_window};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// A source that was notified waits this long before its run, so a burst of notifications
/// (a contact edited field by field, a series moved) makes one run.
const DEBOUNCE: Duration = Duration::from_millis(300);
/// With notifications on, a source is still read this often, in case one was lost.
const BACKSTOP_SECS: u64 = 3600;

/// Wakes the scheduler at once: a provider said a source changed.
pub fn wake() {
    woken().notify_one();
}

fn woken() -> &'static tokio::sync::Notify {
    static WOKEN: std::sync::OnceLock<tokio::sync::Notify> = std::sync::OnceLock::new();
    WOKEN.get_or_init(tokio::sync::Notify::new)
}

/// How often sources are read, beside their own rules.
#[derive(Clone)]
pub struct Cadence {
    /// Where providers notify Kith; `None` without `push.public_url`.
    pub watcher: Option<Arc<super::watch::Watcher>>,
    /// How often a source is read when its provider does not notify Kith.
    pub fast_poll_secs: u64,
}

/// A source's time window: minutes of the day it opens and closes, and the zone they are in.
struct Window {
    start: u16,
    end: u16,
    zone: jiff::tz::TimeZone,
}

impl Window {
    /// `None` when the source has no window (it may run at any time).
    fn of(window: Option<&str>, tz: Option<&str>) -> Result<Option<Window>, String> {
        let Some(w) = window else {
            return Ok(None);
        };
        let (start, end) = parse_window(w).ok_or_else(|| format!("bad window {w:?}"))?;
        let zone = match tz {
            Some(name) => jiff::tz::TimeZone::get(name)
                .map_err(|e| format!("unknown time zone {name:?}: {e}"))?,
            None => jiff::tz::TimeZone::UTC,
        };
        Ok(Some(Window { start, end, zone }))
    }

    fn local(&self, ms: i64) -> Result<jiff::Zoned, String> {
        Ok(jiff::Timestamp::from_millisecond(ms)
            .map_err(|e| e.to_string())?
            .to_zoned(self.zone.clone()))
    }

    fn contains(&self, minute: u16) -> bool {
        if self.start <= self.end {
            (self.start..self.end).contains(&minute)
        } else {
            minute >= self.start || minute < self.end
        }
    }
}

/// Whether `now_ms` falls in `window` (`HH:MM-HH:MM`) in time zone `tz`.
pub fn in_window(window: Option<&str>, tz: Option<&str>, now_ms: i64) -> Result<bool, String> {
    let Some(w) = Window::of(window, tz)? else {
        return Ok(true);
    };
    let now = w.local(now_ms)?;
    Ok(w.contains(now.hour() as u16 * 60 + now.minute() as u16))
}

/// The first moment at or after `t_ms` inside `window` in `tz`: when a run due at `t_ms` will
/// really start, which is what the Overview shows as the next run.
pub fn next_open(window: Option<&str>, tz: Option<&str>, t_ms: i64) -> Result<i64, String> {
    let Some(w) = Window::of(window, tz)? else {
        return Ok(t_ms);
    };
    let t = w.local(t_ms)?;
    let minute = t.hour() as u16 * 60 + t.minute() as u16;
    if w.contains(minute) {
        return Ok(t_ms);
    }
    // Outside the window: it opens at `start` today, or tomorrow once today's start is past.
    let opens = t
        .with()
        .hour((w.start / 60) as i8)
        .minute((w.start % 60) as i8)
        .second(0)
        .subsec_nanosecond(0)
        .build()
        .map_err(|e| e.to_string())?;
    let opens = if minute >= w.start {
        opens.tomorrow().map_err(|e| e.to_string())?
    } else {
        opens
    };
    Ok(opens.timestamp().as_millisecond())
}

/// When the next run is due: the interval plus up to a tenth of it (at most 5 minutes) of
/// jitter.
fn next_due(interval_secs: u64, now: i64) -> i64 {
    let spread = (interval_secs * 100).min(300_000);
    let jitter = if spread > 0 {
        rand::random::<u64>() % spread
    } else {
        0
    };
    now + (interval_secs * 1000 + jitter) as i64
}

async fn tick(
    store: &Arc<dyn Store>,
    up: &Upstreams,
    notifier: &Notifier,
    cadence: &Cadence,
    lease_ms: i64,
    stop: &watch::Receiver<bool>,
) {
    let sources = match store.scheduled_sources().await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "scheduler cannot list sources");
            return;
        }
    };
    let now = now_ms();
    for source in sources {
        if *stop.borrow() {
            return; // shutting down: no new runs
        }
        if !due(&source, now) {
            continue;
        }
        let Some(lease) =
            crate::core::lease::claim(store, &format!("source:{}", source.id), lease_ms).await
        else {
            continue; // another instance is running it
        };
        // Read again under the lease: another instance may have finished this run between
        // the listing and the claim.
        if let Ok(Some(fresh)) = store.source(source.id).await
            && due(&fresh, now_ms())
        {
            crate::core::lease::failpoint("sync-claimed").await;
            let notice = run_scheduled(store.as_ref(), up, cadence, &fresh, now, &lease).await;
            // A source that keeps failing is told of once, not on every retry.
            let repeated = |n: &Notice| {
                n.occasion == Occasion::Failure && fresh.status == SourceStatus::Failing
            };
            if let Some(n) = notice.filter(|n| !repeated(n)) {
                notify(store.as_ref(), up, notifier, &fresh, n).await;
            }
        }
        lease.release().await;
    }
}

/// Paused sources wait for a confirmation, and sources that need re-authorization for the
/// user to connect again: retrying them on schedule would only repeat the same failure. A
/// source the provider said changed after its last run began is due now.
fn due(source: &Source, now: i64) -> bool {
    let notified = source
        .notified_at
        .is_some_and(|n| n >= source.last_run_at.unwrap_or(0));
    !matches!(
        source.status,
        SourceStatus::Paused | SourceStatus::NeedsReauth
    ) && (notified || source.next_run_at.is_none_or(|t| t <= now))
}

/// Tells the source's owner, if they asked to hear of this.
async fn notify(
    store: &dyn Store,
    up: &Upstreams,
    notifier: &Notifier,
    source: &Source,
    n: Notice,
) {
    let user = match store.list_users().await {
        Ok(users) => users
            .into_iter()
            .find(|u| u.id == source.owner_id)
            .map(|u| u.name),
        Err(_) => None,
    };
    let Some(user) = user else { return };
    notifier
        .notify(store, up, source.owner_id, Notice { user, ..n })
        .await;
}

/// Runs one due source; what its owner may want to hear of it.
async fn run_scheduled(
    store: &dyn Store,
    up: &Upstreams,
    cadence: &Cadence,
    source: &Source,
    now: i64,
    lease: &crate::core::lease::Held,
) -> Option<Notice> {
    let Ok(rules) = parse_rules(source) else {
        return None;
    };
    // Rules stored before a provider's shortest interval existed still respect it.
    let rule = parse_interval(&rules.schedule.every)
        .unwrap_or(86_400)
        .max(source.kind.provider().map_or(0, |p| p.min_interval_secs()));
    let every = every_secs(store, cadence, source, rule).await;
    let (window, tz) = (
        rules.schedule.window.as_deref(),
        rules.schedule.timezone.as_deref(),
    );
    // The next run as it will really start: inside the window.
    let next = |due: i64| next_open(window, tz, due).unwrap_or(due);
    match in_window(window, tz, now) {
        Ok(true) => {}
        Ok(false) => {
            let _ = store
                .patch_source(
                    source.id,
                    SourcePatch::Schedule {
                        last_run_at: None,
                        next_run_at: Some(next(now)),
                    },
                )
                .await;
            return None;
        }
        Err(e) => {
            let _ = store
                .add_event(
                    source.owner_id,
                    Some(source.id),
                    "error",
                    &format!(
                        "source {}: {e}; set the window and time zone in its rules again",
                        source.name
                    ),
                )
                .await;
            let _ = store
                .patch_source(
                    source.id,
                    SourcePatch::Schedule {
                        last_run_at: None,
                        next_run_at: Some(next_due(every, now)),
                    },
                )
                .await;
            return None;
        }
    }
    if lease.lost() {
        return None;
    }
    let opts = Options {
        dry_run: false,
        force: false,
        accept_merges: false,
        trigger: Trigger::Schedule,
        progress: super::quiet,
    };
    let notice = |occasion, run, message| Notice {
        occasion,
        user: String::new(),
        source: Some(source.name.clone()),
        run,
        message,
    };
    let outcome = match run_source(store, up, source, opts).await {
        Ok(o) => {
            crate::metrics::sync_run(o.status.as_str());
            tracing::info!(source = %source.name, run = o.run_id, status = %o.status, "scheduled run finished");
            if o.status == RunStatus::Applied && !o.ops.is_empty() {
                let counts: Vec<String> = o
                    .summary
                    .counts
                    .iter()
                    .map(|(k, v)| format!("{v} {k}"))
                    .collect();
                let msg = format!(
                    "run {} of {} applied {} changes ({})",
                    o.run_id,
                    source.name,
                    o.ops.len(),
                    counts.join(", ")
                );
                let _ = store
                    .add_event(source.owner_id, Some(source.id), "info", &msg)
                    .await;
                Some(notice(Occasion::Changes, Some(o.run_id), msg))
            } else if o.status == RunStatus::Paused {
                let why: Vec<&str> = o.summary.trips.iter().map(|t| t.message.as_str()).collect();
                Some(notice(
                    Occasion::Guard,
                    Some(o.run_id),
                    format!(
                        "run {} of {} was paused by a guard: {}. Nothing was applied; review the run and apply it if it is what you want.",
                        o.run_id,
                        source.name,
                        why.join("; ")
                    ),
                ))
            } else {
                None
            }
        }
        Err(e) => {
            // run_source already recorded read failures; record the rest.
            crate::metrics::sync_run("failed");
            tracing::warn!(source = %source.name, error = %e, "scheduled run failed");
            let _ = store
                .add_event(
                    source.owner_id,
                    Some(source.id),
                    "error",
                    &format!("scheduled run of {} failed: {e}", source.name),
                )
                .await;
            Some(notice(
                Occasion::Failure,
                None,
                format!("the scheduled run of {} failed: {e}", source.name),
            ))
        }
    };
    let _ = store
        .patch_source(
            source.id,
            SourcePatch::Schedule {
                last_run_at: Some(now),
                next_run_at: Some(next(next_due(every, now_ms()))),
            },
        )
        .await;
    outcome
}

/// How often `source` is read: its rule; at most an hour apart when its provider notifies
/// Kith (a backstop for a lost notification); at most `fast_poll` apart when it cannot.
/// Files change only when someone uploads them again.
pub async fn every_secs(store: &dyn Store, cadence: &Cadence, source: &Source, rule: u64) -> u64 {
    if source.kind.provider().is_none() {
        return rule;
    }
    let watched = cadence.watcher.is_some()
        && store
            .channels_of(source.id)
            .await
            .is_ok_and(|c| c.iter().any(|c| c.confirmed));
    if watched {
        rule.min(BACKSTOP_SECS)
    } else {
        rule.min(cadence.fast_poll_secs)
    }
}

/// The running scheduler, for a graceful shutdown.
pub struct Scheduler {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Scheduler {
    /// Starts no new run and waits (at most `grace`) for the one under way to finish, so a
    /// shutdown never cuts a run short when it can help it. A run cut short anyway is one
    /// transaction that never committed.
    pub async fn stop(self, grace: Duration) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(grace, self.task).await.is_err() {
            tracing::warn!("a sync run was still going at shutdown; it was not applied");
        }
    }
}

/// Starts the scheduler; it checks for due sources every `tick` and runs them one by one,
/// each under a lease of `lease_ms`.
pub fn spawn(
    store: Arc<dyn Store>,
    up: Arc<Upstreams>,
    notifier: Arc<Notifier>,
    cadence: Cadence,
    every: Duration,
    lease_ms: i64,
) -> Scheduler {
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        let mut timer = tokio::time::interval(every);
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let notified = tokio::select! {
                _ = timer.tick() => false,
                _ = woken().notified() => true,
                _ = stopped.changed() => return,
            };
            if notified {
                tokio::time::sleep(DEBOUNCE).await;
            } else if let Some(w) = &cadence.watcher {
                // Watches are made and renewed on the timer, never on a notification.
                super::watch::pass(&store, &up, w, lease_ms).await;
            }
            tick(&store, &up, &notifier, &cadence, lease_ms, &stopped).await;
            if *stopped.borrow() {
                return;
            }
        }
    });
    Scheduler { stop, task }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_follow_the_time_zone_and_wrap_midnight() {
        // 2026-01-15 07:30 UTC is 08:30 in Berlin.
        let t = 1_768_462_200_000;
        assert!(in_window(Some("08:00-20:00"), Some("Europe/Berlin"), t).unwrap());
        assert!(!in_window(Some("08:00-20:00"), None, t).unwrap());
        assert!(in_window(Some("22:00-08:00"), None, t).unwrap());
        assert!(in_window(None, None, t).unwrap());
        assert!(in_window(Some("08:00-20:00"), Some("Mars/Olympus"), t).is_err());
        let due = next_due(3600, 0);
        assert!((3_600_000..=3_900_000).contains(&due));
    }

    #[test]
    fn the_next_run_waits_for_the_window() {
        // 2026-01-15 07:30 UTC is 08:30 in Berlin.
        let t = 1_768_462_200_000;
        let hour = 3_600_000;
        // Inside the window: as due.
        assert_eq!(
            next_open(Some("08:00-20:00"), Some("Europe/Berlin"), t),
            Ok(t)
        );
        assert_eq!(next_open(None, None, t), Ok(t));
        // Before it opens today (07:30 UTC, window 09:00-17:00 UTC): 09:00 today.
        assert_eq!(
            next_open(Some("09:00-17:00"), None, t),
            Ok(t + hour + hour / 2)
        );
        // After today's window closed (01:00-07:00 UTC): 01:00 tomorrow.
        assert_eq!(
            next_open(Some("01:00-07:00"), None, t),
            Ok(t - 6 * hour - hour / 2 + 24 * hour)
        );
        // A window across midnight, 22:00-06:00 Berlin: 22:00 Berlin is 21:00 UTC.
        assert_eq!(
            next_open(Some("22:00-06:00"), Some("Europe/Berlin"), t),
            Ok(t + 13 * hour + hour / 2)
        );
        let opens = next_open(Some("22:00-06:00"), Some("Europe/Berlin"), t).unwrap();
        assert!(in_window(Some("22:00-06:00"), Some("Europe/Berlin"), opens).unwrap());
    }
}
