//! `kith migrate-db` moves a populated SQLite install to PostgreSQL without loss: a client that
//! was syncing against the old server carries on against the new one incrementally, with the
//! same ETags, password and app password.
//!
//! Needs PostgreSQL on 127.0.0.1:5432 (or `KITH_TEST_POSTGRES`), in both test passes.

use crate::common::*;
use std::path::Path;
use std::process::{Command, Stdio};

/// `kith ARGS --data-dir DIR` with the database chosen by `url` (empty: SQLite).
fn kith(dir: &Path, url: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(kith_bin())
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .env("KITH_DATABASE_URL", url)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn fixture(name: &str) -> String {
    format!(
        "{}/../tests/fixtures/sources/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

struct DropDb(String);

impl Drop for DropDb {
    fn drop(&mut self) {
        psql(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.0));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_populated_sqlite_install_moves_to_postgres_and_clients_carry_on() {
    // The old server, on SQLite whatever the test pass.
    let mut old = Server::start_with(&[("KITH_DATABASE_URL", "")]);
    let dir = old.dir.path().to_path_buf();
    for i in 0..30 {
        let r = old
            .req("PUT", &format!("{BOOK}c{i}.vcf"))
            .vcard(&card(&format!("u{i}"), &format!("Card {i}")))
            .send()
            .await;
        assert_eq!(r.status, 201);
    }
    let event = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:e1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260102T100000Z\r\nSUMMARY:Standup\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let cal = "/dav/calendars/admin/personal/e1.ics";
    let r = old
        .req("PUT", cal)
        .header("content-type", "text/calendar")
        .body(event)
        .send()
        .await;
    assert_eq!(r.status, 201);
    let (ok, out, err) = kith(
        &dir,
        "",
        &["import", &fixture("linkedin-2024.csv"), "--user", "admin"],
    );
    assert!(ok, "{err}{out}");
    let (ok, app_pw, err) = kith(
        &dir,
        "",
        &["user", "app-password", "add", "admin", "--label", "phone"],
    );
    assert!(ok, "{err}");
    let app_pw = app_pw.trim().to_string();
    // A client syncs, then more changes happen before the move.
    let token = sync_book(&old, "").await.token;
    let r = old
        .req("PUT", &format!("{BOOK}late.vcf"))
        .vcard(&card("late", "Late Card"))
        .send()
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(
        old.req("DELETE", &format!("{BOOK}c3.vcf"))
            .send()
            .await
            .status,
        204
    );
    let before = download_book(&old).await;

    let db = format!("kith_t_{}_migrate", std::process::id());
    psql(&format!("CREATE DATABASE {db}"));
    let _drop = DropDb(db.clone());
    let admin = postgres_admin_url();
    let url = format!("{}/{db}", admin.rsplit_once('/').unwrap().0);
    let from = format!("sqlite:{}", dir.join("kith.db").display());

    // Refused while the old server runs: its later writes would be lost.
    let (ok, _, err) = kith(&dir, "", &["migrate-db", "--from", &from, "--to", &url]);
    assert!(!ok);
    assert!(err.contains("stop it"), "{err}");
    old.stop();
    let (ok, out, err) = kith(&dir, "", &["migrate-db", "--from", &from, "--to", &url]);
    assert!(ok, "{err}");
    assert!(out.contains("migrated"), "{out}");
    let objects: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("objects "))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    assert!(objects >= 31, "{out}");
    // A second run would mix two installs: refused, nothing written.
    let (ok, _, err) = kith(&dir, "", &["migrate-db", "--from", &from, "--to", &url]);
    assert!(!ok);
    assert!(err.contains("empty database"), "{err}");

    // The new server, in a fresh data directory: everything it knows is in PostgreSQL.
    let new = Server::start_with(&[("KITH_DATABASE_URL", url.as_str())]);
    let step = sync_book(&new, &token).await;
    assert_eq!(
        step.present,
        [format!("{BOOK}late.vcf")].into(),
        "an incremental sync, not a full one"
    );
    assert_eq!(step.removed, [format!("{BOOK}c3.vcf")].into());
    assert_ne!(step.token, token);
    assert_eq!(download_book(&new).await, before, "same cards, same ETags");
    let r = new.req("GET", cal).send().await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), event);
    // The app password made on the old server still signs in (the key moved too).
    let r = new
        .req("PROPFIND", BOOK)
        .auth("admin", &app_pw)
        .header("depth", "0")
        .send()
        .await;
    assert_eq!(r.status, 207);
    // Sources, runs and history came along.
    let (ok, runs, err) = kith(
        new.dir.path(),
        &url,
        &["sync", "history", "--user", "admin"],
    );
    assert!(ok, "{err}");
    assert!(runs.contains("applied"), "{runs}");
    let (ok, trash, err) = kith(new.dir.path(), &url, &["trash", "list", "--user", "admin"]);
    assert!(ok, "{err}");
    assert!(trash.contains("c3.vcf"), "{trash}");
    // New rows get ids after the copied ones (a reused id would fail the insert).
    let r = new
        .req("PUT", &format!("{BOOK}after.vcf"))
        .vcard(&card("after", "After Move"))
        .send()
        .await;
    assert_eq!(r.status, 201);
}
