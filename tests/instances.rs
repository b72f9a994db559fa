//! Several `kith serve` instances on one PostgreSQL database behave as one server: a client
//! writing through one instance and another syncing through the other sees every change in
//! order with valid tokens; racing If-Match writes through both give exactly one winner; and a
//! scheduled sync claimed by an instance that dies is taken over by another once its lease
//! lapses, and runs once.
//!
//! Needs PostgreSQL on 127.0.0.1:5432 (or `KITH_TEST_POSTGRES`), in both test passes.

use crate::common::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

/// A throwaway database, dropped with the guard.
struct Db {
    name: String,
    url: String,
}

impl Db {
    fn new() -> Db {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("kith_t_{}_multi{n}", std::process::id());
        psql(&format!("CREATE DATABASE {name}"));
        let admin = postgres_admin_url();
        let base = admin.rsplit_once('/').unwrap().0;
        Db {
            url: format!("{base}/{name}"),
            name,
        }
    }

    fn query(&self, sql: &str) -> String {
        let out = Command::new("psql")
            .arg(&self.url)
            .args(["-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        psql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

/// Starts an instance with its own data directory on database `db`.
fn instance(db: &Db, extra: &[(&str, &str)]) -> Server {
    let mut env = vec![("KITH_DATABASE_URL", db.url.as_str())];
    env.extend_from_slice(extra);
    Server::start_with(&env)
}

/// A `kith` command against database `db` (any data directory will do).
fn kith(db: &Db, dir: &Path, args: &[&str]) -> String {
    let out = Command::new(kith_bin())
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("KITH_DATABASE_URL", &db.url)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kith {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_writer_on_one_instance_and_a_syncer_on_the_other_see_the_same_changes() {
    let db = Db::new();
    let a = instance(&db, &[]);
    let b = instance(&db, &[]);
    let initial = sync_book(&b, "").await;
    assert!(initial.present.is_empty());
    let mut token = initial.token;
    // What B's client believes the book holds, built only from incremental syncs.
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut tokens = vec![token.clone()];
    for round in 0..20 {
        for i in 0..5 {
            let n = round * 5 + i;
            let path = format!("{BOOK}c{n}.vcf");
            let r = a
                .req("PUT", &path)
                .vcard(&card(&format!("u{n}"), &format!("Card {n}")))
                .send()
                .await;
            assert_eq!(r.status, 201);
        }
        // Edit one and delete another written earlier, through A.
        if round > 0 {
            let edit = format!("{BOOK}c{}.vcf", round * 5 - 1);
            let r = a
                .req("PUT", &edit)
                .vcard(&card(
                    &format!("u{}", round * 5 - 1),
                    &format!("Edited {round}"),
                ))
                .send()
                .await;
            assert_eq!(r.status, 204);
            let gone = format!("{BOOK}c{}.vcf", round * 5 - 2);
            assert_eq!(a.req("DELETE", &gone).send().await.status, 204);
        }
        let step = sync_book(&b, &token).await;
        for h in &step.removed {
            seen.remove(h);
        }
        seen.extend(step.etags);
        token = step.token;
        tokens.push(token.clone());
    }
    // The tokens only move forward, and every one of them is still accepted by either instance.
    let stamp = |t: &str| t.rsplit(':').next().unwrap().parse::<i64>().unwrap();
    assert!(
        tokens.windows(2).all(|w| stamp(&w[0]) < stamp(&w[1])),
        "{tokens:?}"
    );
    for t in &tokens {
        sync_book(&a, t).await;
    }
    // B's client, fed only by incremental syncs, agrees with a full download through A.
    let truth: BTreeMap<String, String> = download_book(&a)
        .await
        .into_iter()
        .map(|(name, (etag, _))| (format!("{BOOK}{name}"), etag))
        .collect();
    assert_eq!(seen, truth);
    assert_eq!(truth.len(), 100 - 19);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_if_match_writes_through_both_instances_have_one_winner_each() {
    let db = Db::new();
    let a = Arc::new(instance(&db, &[]));
    let b = Arc::new(instance(&db, &[]));
    let mut etags = Vec::new();
    for i in 0..100 {
        let r = a
            .req("PUT", &format!("{BOOK}r{i}.vcf"))
            .vcard(&card(&format!("r{i}"), "Start"))
            .send()
            .await;
        assert_eq!(r.status, 201);
        etags.push(r.etag());
    }
    // For each card, one write through A and one through B, both with the ETag they read.
    let mut tasks = Vec::new();
    for (i, etag) in etags.iter().enumerate() {
        // Which side sends first alternates, so neither instance is always first.
        let mut sides = [("A", a.clone()), ("B", b.clone())];
        if i % 2 == 1 {
            sides.reverse();
        }
        for (side, server) in sides {
            let etag = etag.clone();
            tasks.push(tokio::spawn(async move {
                let r = server
                    .req("PUT", &format!("{BOOK}r{i}.vcf"))
                    .header("if-match", &etag)
                    .vcard(&card(&format!("r{i}"), &format!("Written via {side}")))
                    .send()
                    .await;
                (i, side, r.status.as_u16())
            }));
        }
    }
    let mut winners: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
    for t in tasks {
        let (i, side, status) = t.await.unwrap();
        match status {
            204 => winners.entry(i).or_default().push(side),
            412 => {}
            other => panic!("card {i} via {side}: status {other}"),
        }
    }
    for i in 0..100 {
        let w = winners.get(&i).cloned().unwrap_or_default();
        assert_eq!(w.len(), 1, "card {i}: winners {w:?}");
        // The stored card is the winner's.
        let body = b.req("GET", &format!("{BOOK}r{i}.vcf")).send().await.text();
        assert!(body.contains(&format!("Written via {}", w[0])), "{body}");
    }
    // Which side wins each race is up to the machine's scheduling (under load one side can win
    // them all), so the split is not asserted; that every card has exactly one winner is.
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_claimed_by_a_dead_instance_is_taken_over_after_its_lease_and_runs_once() {
    let db = Db::new();
    let cfg_dir = tempfile::tempdir().unwrap();
    let config = cfg_dir.path().join("kith.toml");
    std::fs::write(
        &config,
        "[sync]\nscheduler_tick_secs = 1\n[database]\nlease = \"3s\"\n",
    )
    .unwrap();
    let config = config.to_str().unwrap();
    // A stops right after claiming a scheduled run, as if it hung or was about to crash.
    let a = instance(
        &db,
        &[("KITH_CONFIG", config), ("KITH_FAILPOINT", "sync-claimed")],
    );
    let cli = a.dir.path();
    let csv = cfg_dir.path().join("Connections.csv");
    std::fs::write(
        &csv,
        "First Name,Last Name,URL,Email Address,Company,Position,Connected On\n\
         Ada,Lovelace,https://www.linkedin.com/in/ada,ada@example.org,Engines,Analyst,01 Jan 2024\n",
    )
    .unwrap();
    let csv = csv.to_str().unwrap();
    let out = kith(&db, cli, &["import", csv, "--user", "admin"]);
    assert!(out.contains("applied"), "{out}");
    // A newer export with a second person, for the scheduled run to pick up.
    std::fs::write(
        csv,
        "First Name,Last Name,URL,Email Address,Company,Position,Connected On\n\
         Ada,Lovelace,https://www.linkedin.com/in/ada,ada@example.org,Engines,Analyst,01 Jan 2024\n\
         Grace,Hopper,https://www.linkedin.com/in/grace,grace@example.org,Navy,Admiral,02 Jan 2024\n",
    )
    .unwrap();
    let source = kith(&db, cli, &["source", "list", "--user", "admin"]);
    let name = source
        .lines()
        .find_map(|l| {
            l.split_whitespace()
                .next()
                .filter(|w| w.starts_with("linkedin"))
        })
        .unwrap_or_else(|| panic!("no source in:\n{source}"))
        .to_string();
    kith(
        &db,
        cli,
        &[
            "source", "rules", &name, "--user", "admin", "--auto", "on", "--every", "1h",
        ],
    );
    let id = db.query(&format!("SELECT id FROM sources WHERE name = '{name}'"));
    let lease = format!("source:{id}");
    // Readiness: A holds the run's lease.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let holder = loop {
        let h = db.query(&format!("SELECT holder FROM leases WHERE name = '{lease}'"));
        if !h.is_empty() {
            break h;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "A never claimed the run"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    // Nor may a command apply a run of the source meanwhile.
    let refused = Command::new(kith_bin())
        .args(["import", csv, "--user", "admin", "--data-dir"])
        .arg(cli)
        .env("KITH_DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("under way on a server"), "{err}");
    // B starts while A is alive and holds the lease: B must not run the source.
    let b = instance(&db, &[("KITH_CONFIG", config)]);
    let runs = || {
        db.query(&format!(
            "SELECT count(*) FROM sync_runs WHERE source_id = {id} AND trigger = 'schedule'"
        ))
    };
    assert_eq!(runs(), "0");
    drop(a); // kills A: its lease is no longer renewed
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let book = download_book(&b).await;
        if book.values().any(|(_, text)| text.contains("Hopper")) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "B never took the run over"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let new_holder = db.query(&format!(
        "SELECT holder FROM leases WHERE name = '{lease}' UNION ALL SELECT 'released' LIMIT 1"
    ));
    assert_ne!(
        new_holder, holder,
        "A's lease was taken over or released by B"
    );
    // One scheduled run, applied once; the next is an hour away.
    assert_eq!(runs(), "1");
    let next: i64 = db
        .query(&format!("SELECT next_run_at FROM sources WHERE id = {id}"))
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!(next > now + 50 * 60_000, "next run at {next}, now {now}");
    let book = download_book(&b).await;
    assert_eq!(book.len(), 2, "no duplicates: {:?}", book.keys());
}

#[tokio::test]
async fn readiness_fails_while_the_database_is_down_and_recovers() {
    let db = Db::new();
    let s = instance(&db, &[]);
    assert_eq!(s.anon("GET", "/readyz").send().await.status, 200);
    // The database goes away: no new connections, and the instance's are cut.
    psql(&format!(
        "ALTER DATABASE {} ALLOW_CONNECTIONS false",
        db.name
    ));
    psql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
        db.name
    ));
    let r = s.anon("GET", "/readyz").send().await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.text().starts_with("not ready"), "{}", r.text());
    // The process itself is still up.
    assert_eq!(s.anon("GET", "/healthz").send().await.status, 200);
    psql(&format!(
        "ALTER DATABASE {} ALLOW_CONNECTIONS true",
        db.name
    ));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while s.anon("GET", "/readyz").send().await.status != 200 {
        assert!(std::time::Instant::now() < deadline, "never ready again");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Signs in on `s` as a browser would; returns the session cookie (`kith_session=…`) and the
/// whole Set-Cookie header it came in.
async fn web_sign_in(s: &Server, extra: &[(&str, &str)]) -> (String, String) {
    let mut form = s.http.get(s.url("/login"));
    for (k, v) in extra {
        form = form.header(*k, *v);
    }
    let form = form.send().await.unwrap();
    let login_cookie = form.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let page = String::from_utf8(form.bytes().await.unwrap().to_vec()).unwrap();
    let token = page
        .split("name=\"token\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let mut post = s
        .http
        .post(s.url("/login"))
        .header("cookie", login_cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "token={token}&next=%2F&user=admin&password={ADMIN_PW}"
        ));
    for (k, v) in extra {
        post = post.header(*k, *v);
    }
    let r = post.send().await.unwrap();
    assert_eq!(r.status(), 303);
    let set = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("kith_session="))
        .expect("a session cookie");
    (set.split(';').next().unwrap().to_string(), set)
}

#[tokio::test]
async fn a_browser_signed_in_on_one_instance_is_signed_in_on_all() {
    let db = Db::new();
    let a = instance(&db, &[]);
    let b = instance(&db, &[]);
    let (cookie, set) = web_sign_in(&a, &[]).await;
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax") && !set.contains("Secure"),
        "{set}"
    );
    // Behind a TLS-terminating proxy the cookie is Secure.
    let (_, tls) = web_sign_in(&a, &[("x-forwarded-proto", "https")]).await;
    assert!(tls.contains("; Secure"), "{tls}");

    let page = |s: &Server, cookie: String| {
        let r = s.http.get(s.url("/")).header("cookie", cookie).send();
        async move {
            let r = r.await.unwrap();
            let status = r.status().as_u16();
            (
                status,
                String::from_utf8(r.bytes().await.unwrap().to_vec()).unwrap(),
            )
        }
    };
    let (status, on_b) = page(&b, cookie.clone()).await;
    assert_eq!(status, 200, "the session lives in the database, not in A");
    assert!(on_b.contains("<span class=\"who\">admin</span>"));
    // Signing out on B ends the session on A too.
    let csrf = on_b
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let out = b
        .http
        .post(b.url("/logout"))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    let (status, _) = page(&a, cookie).await;
    assert_eq!(status, 303, "signed out everywhere");
}

/// WebDAV-Push with two instances: a device registered through one hears of changes made
/// through either, and of each change once, though both instances' senders see it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_change_is_pushed_once_whichever_instance_took_it() {
    let db = Db::new();
    let push = kith_fakes::push::push_service();
    let phone = push.device("phone");
    let (_conf, config) = crate::push::trusting(&phone);
    let a = instance(&db, &[("KITH_CONFIG", &config)]);
    let b = instance(&db, &[("KITH_CONFIG", &config)]);
    let body = crate::push::register_body(&phone);
    let r = a
        .req("POST", BOOK)
        .header("content-type", "application/xml")
        .body(body)
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let wait = std::time::Duration::from_secs(20);
    let r = b
        .req("PUT", &format!("{BOOK}one.vcf"))
        .vcard(&card("one", "One"))
        .send()
        .await;
    assert_eq!(r.status, 201);
    push.inbox().wait_for(1, wait);
    let r = a
        .req("PUT", &format!("{BOOK}two.vcf"))
        .vcard(&card("two", "Two"))
        .send()
        .await;
    assert_eq!(r.status, 201);
    let got = push.inbox().wait_for(2, wait);
    let tokens: Vec<String> = got
        .iter()
        .map(|d| {
            let body = d.body.as_ref().expect("decrypts");
            let el = kith_dav::xml::parse(body.as_bytes()).unwrap();
            el.child("https://bitfire.at/webdav-push", "content-update")
                .and_then(|c| c.child("DAV:", "sync-token"))
                .unwrap()
                .text
                .clone()
        })
        .collect();
    assert_eq!(tokens.len(), 2, "{tokens:?}");
    assert_ne!(tokens[0], tokens[1], "each change pushed once: {tokens:?}");
    let now = sync_book(&a, "").await.token;
    assert_eq!(
        tokens[1], now,
        "the second message names the book's current token"
    );
}
