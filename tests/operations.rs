//! The operational surface against the real server: `/healthz`, `/readyz`, `/metrics` in the
//! Prometheus text format, JSON logs, and `kith healthcheck`.

use crate::common::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[tokio::test]
async fn health_readiness_and_metrics_answer_without_credentials() {
    let s = Server::start();
    let h = s.anon("GET", "/healthz").send().await;
    assert_eq!((h.status.as_u16(), h.text().trim()), (200, "ok"));
    let r = s.anon("GET", "/readyz").send().await;
    assert_eq!(r.status, 200, "{}", r.text());

    // Some traffic to count: a PROPFIND, a PUT, a refused login.
    s.req("PROPFIND", BOOK).header("depth", "0").send().await;
    s.req("PUT", &format!("{BOOK}a.vcf"))
        .vcard(&card("a", "Ada"))
        .send()
        .await;
    s.anon("PROPFIND", BOOK).send().await;

    let m = s.anon("GET", "/metrics").send().await;
    assert_eq!(m.status, 200);
    assert!(
        m.header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = m.text();
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("the Prometheus text format");
    let value = |name: &str, labels: &[(&str, &str)]| -> Option<f64> {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v)
                | prometheus_parse::Value::Gauge(v)
                | prometheus_parse::Value::Untyped(v) => v,
                _ => f64::NAN,
            })
    };
    assert_eq!(
        value(
            "kith_http_requests_total",
            &[("method", "PUT"), ("status", "201")]
        ),
        Some(1.0)
    );
    assert!(
        value(
            "kith_http_requests_total",
            &[("method", "PROPFIND"), ("status", "401")]
        )
        .is_some()
    );
    let latency = scrape
        .samples
        .iter()
        .find(|s| {
            s.metric == "kith_http_request_duration_seconds"
                && s.labels.get("method") == Some("PROPFIND")
        })
        .expect("a latency histogram for PROPFIND");
    match &latency.value {
        prometheus_parse::Value::Histogram(buckets) => {
            let inf = buckets.iter().find(|b| b.less_than.is_infinite()).unwrap();
            assert!(inf.count >= 2.0, "{buckets:?}");
        }
        other => panic!("not a histogram: {other:?}"),
    }
    let (pool, max) = if postgres() {
        ("postgres", 16.0)
    } else {
        ("writer", 1.0)
    };
    assert_eq!(
        value("kith_db_pool_max_connections", &[("pool", pool)]),
        Some(max)
    );
    assert_eq!(value("kith_sync_guard_trips_total", &[]), Some(0.0));
    for family in [
        "kith_sync_runs_total",
        "kith_upstream_calls_total",
        "kith_upstream_throttles_total",
        "kith_backups_total",
    ] {
        assert!(
            text.contains(&format!("# TYPE {family} counter")),
            "{family} is declared"
        );
    }
}

#[tokio::test]
async fn logs_are_json_when_asked_and_healthcheck_follows_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(kith_bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("KITH_ADMIN_PASSWORD", ADMIN_PW)
        .env("KITH_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .env_remove("KITH_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let base = loop {
        let line = out.next().expect("kith exited").unwrap();
        if let Some(url) = line.strip_prefix("kith: listening on ") {
            break url.trim_end_matches('/').to_string();
        }
    };
    std::thread::spawn(move || for _ in out {});
    let addr = base.trim_start_matches("http://").to_string();

    let (ok, _, err) = kith_cli(dir.path(), &["healthcheck", "--url", &base], "");
    assert!(ok, "healthcheck against a live server: {err}");
    let r = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(r.status(), 200);

    // The request above is logged as one JSON object with its fields.
    let mut err = BufReader::new(child.stderr.take().unwrap()).lines();
    let logged = loop {
        let line = err.next().expect("the log ended").unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if v["fields"]["path"] == "/healthz" {
            break v;
        }
    };
    assert_eq!(logged["fields"]["status"], 200);
    assert_eq!(logged["fields"]["method"], "GET");
    assert_eq!(logged["level"], "INFO");

    child.kill().unwrap();
    child.wait().unwrap();
    let (ok, _, err) = kith_cli(
        dir.path(),
        &["healthcheck", "--url", &format!("http://{addr}")],
        "",
    );
    assert!(!ok, "healthcheck passes with no server");
    assert!(err.contains("no server"), "{err}");
}

/// SIGTERM while a scheduled sync run is under way: the server stops taking requests, lets the
/// run finish and apply, and exits cleanly.
#[tokio::test]
async fn sigterm_lets_a_running_sync_finish_before_the_server_exits() {
    let cfg = tempfile::tempdir().unwrap();
    let config = cfg.path().join("kith.toml");
    std::fs::write(&config, "[sync]\nscheduler_tick_secs = 1\n").unwrap();
    // The run holds for a second and a half just after it starts.
    let mut s = Server::start_with(&[
        ("KITH_CONFIG", config.to_str().unwrap()),
        ("KITH_FAILPOINT", "sync-claimed:1500"),
    ]);
    let header = "First Name,Last Name,URL,Email Address,Company,Position,Connected On\n";
    let ada = "Ada,Lovelace,https://www.linkedin.com/in/ada,ada@example.org,Engines,Analyst,01 Jan 2024\n";
    let csv = cfg.path().join("Connections.csv");
    std::fs::write(&csv, format!("{header}{ada}")).unwrap();
    let csv = csv.to_str().unwrap();
    let dir = s.dir.path().to_path_buf();
    let cli = |args: &[&str]| {
        let (ok, out, err) = kith_cli(&dir, args, "");
        assert!(ok, "kith {args:?}: {err}");
        out
    };
    cli(&["import", csv, "--user", "admin"]);
    std::fs::write(
        csv,
        format!(
            "{header}{ada}Grace,Hopper,https://www.linkedin.com/in/grace,grace@example.org,Navy,Admiral,02 Jan 2024\n"
        ),
    )
    .unwrap();
    let sources = cli(&["source", "list", "--user", "admin"]);
    let name = sources
        .split_whitespace()
        .find(|w| w.starts_with("linkedin"))
        .unwrap_or_else(|| panic!("{sources}"))
        .to_string();
    cli(&[
        "source", "rules", &name, "--user", "admin", "--auto", "on", "--every", "1h",
    ]);
    s.wait_for_line("kith: failpoint sync-claimed");
    assert!(s.terminate(), "a clean exit after SIGTERM");
    // The run went through after the signal.
    let history = cli(&["sync", "history", "--user", "admin", "--source", &name]);
    assert!(
        history
            .lines()
            .any(|l| l.contains("schedule") && l.contains("applied")),
        "{history}"
    );
    let cards = cli(&["export", "--user", "admin", "--format", "vcf"]);
    assert!(cards.contains("Hopper"), "{cards}");
}
