//! Prometheus metrics for `/metrics`: requests by method and status, latency histograms by
//! method, scheduled sync runs by outcome, guard trips, backups, upstream API calls and
//! throttles, and the database pools. Counters live in one process-wide registry, so the
//! request log, the scheduler and the maintenance loop record without plumbing.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{LazyLock, Mutex};

/// Latency bucket bounds, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    total: u64,
}

#[derive(Default)]
struct Registry {
    requests: BTreeMap<(String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
    sync_runs: BTreeMap<String, u64>,
    guard_trips: u64,
    backups: BTreeMap<String, u64>,
    pushes: BTreeMap<String, u64>,
    upstream_calls: BTreeMap<(String, String), u64>,
    upstream_throttles: BTreeMap<String, u64>,
}

static REGISTRY: LazyLock<Mutex<Registry>> = LazyLock::new(Mutex::default);

fn with<T>(f: impl FnOnce(&mut Registry) -> T) -> T {
    // A panic while holding the lock cannot leave counters inconsistent in a way that
    // matters; keep counting.
    let mut g = REGISTRY.lock().unwrap_or_else(|p| p.into_inner());
    f(&mut g)
}

/// One answered HTTP request. Methods outside the known set are counted as `OTHER`, so a
/// client cannot grow the registry without bound.
pub fn request(method: &str, status: u16, seconds: f64) {
    const KNOWN: [&str; 13] = [
        "GET",
        "HEAD",
        "PUT",
        "DELETE",
        "OPTIONS",
        "PROPFIND",
        "PROPPATCH",
        "MKCOL",
        "MKCALENDAR",
        "COPY",
        "MOVE",
        "REPORT",
        "POST",
    ];
    let method = if KNOWN.contains(&method) {
        method
    } else {
        "OTHER"
    };
    with(|r| {
        *r.requests.entry((method.to_string(), status)).or_default() += 1;
        let h = r.latency.entry(method.to_string()).or_default();
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                h.counts[i] += 1;
            }
        }
        h.sum += seconds;
        h.total += 1;
    });
}

/// A scheduled sync run ended with `outcome` (applied, paused, stale, failed...).
pub fn sync_run(outcome: &str) {
    with(|r| {
        *r.sync_runs.entry(outcome.to_string()).or_default() += 1;
        if outcome == "paused" {
            r.guard_trips += 1;
        }
    });
}

/// A scheduled backup ended (`ok` or `failed`).
pub fn backup(outcome: &str) {
    with(|r| *r.backups.entry(outcome.to_string()).or_default() += 1);
}

/// A WebDAV-Push message ended (`delivered`, `gone`, `failed`).
pub fn push(outcome: &str) {
    with(|r| *r.pushes.entry(outcome.to_string()).or_default() += 1);
}

/// A call to an upstream API (Google, Microsoft 365) and whether it was throttled; the
/// connectors report each through [`kith_connectors::observe`].
pub fn upstream_call(provider: &str, outcome: &str, throttled: bool) {
    with(|r| {
        *r.upstream_calls
            .entry((provider.to_string(), outcome.to_string()))
            .or_default() += 1;
        if throttled {
            *r.upstream_throttles
                .entry(provider.to_string())
                .or_default() += 1;
        }
    });
}

/// One database pool's state.
pub struct PoolStat {
    pub name: &'static str,
    pub size: u32,
    pub idle: usize,
    pub max: u32,
}

fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The Prometheus text exposition (format 0.0.4).
pub fn render(pools: &[PoolStat]) -> String {
    let mut out = String::new();
    with(|r| {
        head(
            &mut out,
            "kith_http_requests_total",
            "counter",
            "HTTP requests answered, by method and status.",
        );
        for ((m, s), n) in &r.requests {
            let _ = writeln!(
                out,
                "kith_http_requests_total{{method=\"{m}\",status=\"{s}\"}} {n}"
            );
        }
        head(
            &mut out,
            "kith_http_request_duration_seconds",
            "histogram",
            "Time from request to response headers, by method.",
        );
        for (m, h) in &r.latency {
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "kith_http_request_duration_seconds_bucket{{method=\"{m}\",le=\"{b}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "kith_http_request_duration_seconds_bucket{{method=\"{m}\",le=\"+Inf\"}} {}",
                h.total
            );
            let _ = writeln!(
                out,
                "kith_http_request_duration_seconds_sum{{method=\"{m}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "kith_http_request_duration_seconds_count{{method=\"{m}\"}} {}",
                h.total
            );
        }
        head(
            &mut out,
            "kith_sync_runs_total",
            "counter",
            "Scheduled source runs by outcome.",
        );
        for (o, n) in &r.sync_runs {
            let _ = writeln!(out, "kith_sync_runs_total{{outcome=\"{}\"}} {n}", label(o));
        }
        head(
            &mut out,
            "kith_sync_guard_trips_total",
            "counter",
            "Scheduled runs paused by a guard (mass delete, empty source, create storm).",
        );
        let _ = writeln!(out, "kith_sync_guard_trips_total {}", r.guard_trips);
        head(
            &mut out,
            "kith_backups_total",
            "counter",
            "Scheduled backups by outcome.",
        );
        for (o, n) in &r.backups {
            let _ = writeln!(out, "kith_backups_total{{outcome=\"{}\"}} {n}", label(o));
        }
        head(
            &mut out,
            "kith_pushes_total",
            "counter",
            "WebDAV-Push messages to devices by outcome.",
        );
        for (o, n) in &r.pushes {
            let _ = writeln!(out, "kith_pushes_total{{outcome=\"{}\"}} {n}", label(o));
        }
        head(
            &mut out,
            "kith_upstream_calls_total",
            "counter",
            "Calls to upstream APIs by provider and outcome.",
        );
        for ((p, o), n) in &r.upstream_calls {
            let _ = writeln!(
                out,
                "kith_upstream_calls_total{{provider=\"{}\",outcome=\"{}\"}} {n}",
                label(p),
                label(o)
            );
        }
        head(
            &mut out,
            "kith_upstream_throttles_total",
            "counter",
            "Upstream calls answered with a throttle (429, 503 with Retry-After).",
        );
        for (p, n) in &r.upstream_throttles {
            let _ = writeln!(
                out,
                "kith_upstream_throttles_total{{provider=\"{}\"}} {n}",
                label(p)
            );
        }
    });
    head(
        &mut out,
        "kith_db_pool_connections",
        "gauge",
        "Open database connections by pool and state.",
    );
    for p in pools {
        let busy = (p.size as usize).saturating_sub(p.idle);
        let _ = writeln!(
            out,
            "kith_db_pool_connections{{pool=\"{}\",state=\"idle\"}} {}",
            p.name, p.idle
        );
        let _ = writeln!(
            out,
            "kith_db_pool_connections{{pool=\"{}\",state=\"busy\"}} {busy}",
            p.name
        );
    }
    head(
        &mut out,
        "kith_db_pool_max_connections",
        "gauge",
        "The most connections each pool opens.",
    );
    for p in pools {
        let _ = writeln!(
            out,
            "kith_db_pool_max_connections{{pool=\"{}\"}} {}",
            p.name, p.max
        );
    }
    out
}
