//! History, trash and rewind against the real server: every change keeps the version it
//! replaced with who made it, deleted cards can be restored, a whole book can be returned to a
//! point in time, and syncing clients see every restore as a normal change.

use crate::common::*;
use std::collections::{BTreeMap, BTreeSet};

fn cli(s: &Server, args: &[&str]) -> String {
    let (ok, out, err) = kith_cli(s.dir.path(), args, "");
    assert!(ok, "kith {args:?} failed: {err}");
    out
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// An RFC 3339 time for `ms`, as `--to` takes it.
fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).unwrap().to_string()
}

/// Waits until the clock has moved past `t`, so later writes are stamped after it. A
/// millisecond at most: this orders events, it does not paper over a race.
fn after(t: i64) {
    while now_ms() <= t {
        std::hint::spin_loop();
    }
}

fn card_with(uid: &str, fn_: &str, extra: &str) -> Vec<u8> {
    format!(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{fn_}\r\nN:{fn_};;;;\r\n{extra}END:VCARD\r\n"
    )
    .into_bytes()
}

/// The acceptance test: a client deletes all 500 cards; a rewind to before that brings all 500
/// back, and a syncing client sees them reappear with ETags other than the deleted ones.
#[tokio::test]
async fn a_rewind_brings_back_500_deleted_cards_to_a_syncing_client() {
    let s = Server::start();
    let mut bodies = BTreeMap::new();
    for i in 0..500 {
        let body = card_with(
            &format!("u{i}"),
            &format!("Person {i}"),
            &format!("EMAIL:p{i}@example.org\r\n"),
        );
        let r = s
            .req("PUT", &format!("{BOOK}c{i}.vcf"))
            .vcard(&body)
            .send()
            .await;
        assert_eq!(r.status, 201);
        bodies.insert(format!("{BOOK}c{i}.vcf"), body);
    }
    let before = sync_book(&s, "").await;
    assert_eq!(before.present.len(), 500);
    let t = now_ms();
    after(t);

    for i in 0..500 {
        let r = s.req("DELETE", &format!("{BOOK}c{i}.vcf")).send().await;
        assert_eq!(r.status, 204);
    }
    let gone = sync_book(&s, &before.token).await;
    assert_eq!(gone.removed.len(), 500, "the client saw every delete");
    assert_eq!(
        cli(&s, &["trash", "list", "--user", "admin"])
            .lines()
            .filter(|l| l.contains(".vcf"))
            .count(),
        500
    );

    let out = cli(
        &s,
        &[
            "book",
            "rewind",
            "--user",
            "admin",
            "--book",
            "contacts",
            "--to",
            &rfc3339(t),
        ],
    );
    assert!(out.contains("500 deleted item(s) were restored"), "{out}");

    let back = sync_book(&s, &gone.token).await;
    assert_eq!(back.present.len(), 500, "all 500 reappear in sync");
    assert!(back.removed.is_empty());
    for (href, etag) in &back.etags {
        assert_ne!(
            Some(etag),
            before.etags.get(href),
            "{href} must not come back under its deleted ETag"
        );
        let g = s.req("GET", href).send().await;
        assert_eq!(g.status, 200);
        assert_eq!(&g.body, &bodies[href], "{href} is back as it was");
        assert_eq!(&g.etag(), etag);
    }
    assert!(
        cli(&s, &["trash", "list", "--user", "admin"]).contains("0 item(s) in the trash"),
        "restored cards leave the trash"
    );
}

/// A rewind also reverts edits and moves cards created since to the trash, as one change set.
#[tokio::test]
async fn a_rewind_reverts_edits_and_removes_later_cards() {
    let s = Server::start();
    let original = card_with("a", "Ada", "");
    s.req("PUT", &format!("{BOOK}a.vcf"))
        .vcard(&original)
        .send()
        .await;
    let t = now_ms();
    after(t);
    s.req("PUT", &format!("{BOOK}a.vcf"))
        .vcard(&card_with("a", "Ada Edited", ""))
        .send()
        .await;
    s.req("PUT", &format!("{BOOK}b.vcf"))
        .vcard(&card_with("b", "Later", ""))
        .send()
        .await;
    let token = sync_book(&s, "").await.token;

    let dry = cli(
        &s,
        &[
            "book",
            "rewind",
            "--user",
            "admin",
            "--to",
            &rfc3339(t),
            "--dry-run",
        ],
    );
    assert!(dry.contains("1 changed item(s) would be reverted"), "{dry}");
    assert_eq!(
        s.req("GET", &format!("{BOOK}b.vcf")).send().await.status,
        200,
        "a dry run changes nothing"
    );
    let out = cli(
        &s,
        &["book", "rewind", "--user", "admin", "--to", &rfc3339(t)],
    );
    assert!(out.contains("1 changed item(s) were reverted"), "{out}");
    assert!(out.contains("1 item(s) created since were moved"), "{out}");
    assert_eq!(
        s.req("GET", &format!("{BOOK}a.vcf")).send().await.body,
        original
    );
    assert_eq!(
        s.req("GET", &format!("{BOOK}b.vcf")).send().await.status,
        404
    );
    let seen = sync_book(&s, &token).await;
    assert!(seen.present.contains(&format!("{BOOK}a.vcf")));
    assert!(seen.removed.contains(&format!("{BOOK}b.vcf")));

    // Out of the retention (30 days by default), or not a time: refused with what to do.
    let (ok, _, err) = kith_cli(
        s.dir.path(),
        &["book", "rewind", "--user", "admin", "--to", "40d"],
        "",
    );
    assert!(!ok);
    assert!(err.contains("before the history retention"), "{err}");
    let (ok, _, err) = kith_cli(
        s.dir.path(),
        &["book", "rewind", "--user", "admin", "--to", "last week"],
        "",
    );
    assert!(!ok);
    assert!(err.contains("2026-11-22T10:00:00Z"), "{err}");
}

/// Each version records who wrote it and who replaced it: the user and client for DAV writes,
/// the source and run for imports. `restore-version` puts one back as a new change.
#[tokio::test]
async fn history_names_who_changed_what_and_old_versions_come_back() {
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("people.vcf");
    std::fs::write(&file, card_with("grace", "Grace Hopper", "")).unwrap();
    let out = cli(&s, &["import", file.to_str().unwrap(), "--user", "admin"]);
    assert!(out.contains("applied"), "{out}");
    let book = download_book(&s).await;
    let (name, (etag, imported)) = book.iter().next().unwrap();
    let href = format!("{BOOK}{name}");

    let edited = imported.replace("FN:Grace Hopper", "FN:Grace B. Hopper");
    let r = s
        .req("PUT", &href)
        .header(
            "user-agent",
            "DAVx5/4.4.3-ose (dav4jvm; okhttp/4.12.0) Android/14",
        )
        .header("if-match", etag)
        .vcard(edited.as_bytes())
        .send()
        .await;
    assert_eq!(r.status, 204);

    let history = cli(&s, &["history", "--user", "admin", "grace"]);
    assert!(history.contains("UID grace"), "{history}");
    assert!(
        history.contains("current") && history.contains("by client admin (DAVx5/4.4.3"),
        "the current version names the user and client: {history}"
    );
    assert!(
        history.contains("written") && history.contains("by source vcard run "),
        "the imported version names the source and run: {history}"
    );
    assert!(history.contains("Grace Hopper"), "{history}");
    let version: String = history
        .lines()
        .find(|l| l.trim_start().starts_with("version "))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .to_string();

    let token = sync_book(&s, "").await.token;
    let out = cli(&s, &["restore-version", &version, "--user", "admin"]);
    assert!(out.contains("restored version"), "{out}");
    let g = s.req("GET", &href).send().await;
    assert_eq!(g.text(), *imported, "the old bytes are back");
    assert_ne!(&g.etag(), etag, "under a new ETag");
    let seen = sync_book(&s, &token).await;
    assert_eq!(seen.present, BTreeSet::from([href.clone()]));

    // The restore itself is a change in history, so it can be undone the same way.
    let history = cli(&s, &["history", "--user", "admin", name]);
    assert!(
        history.contains(&format!("restore of version {version}")),
        "{history}"
    );

    // Another user cannot restore admin's versions.
    s.add_user("bob", "bob-pw-123456");
    let (ok, _, err) = kith_cli(
        s.dir.path(),
        &["restore-version", &version, "--user", "bob"],
        "",
    );
    assert!(!ok);
    assert!(err.contains("not one of bob's"), "{err}");
}

/// Deleted events go to the calendar's trash and come back from it; purge empties it.
#[tokio::test]
async fn trash_restores_and_purges_cards_and_events() {
    let s = Server::start();
    let cal = "/dav/calendars/admin/personal/";
    let event = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:t\r\nBEGIN:VEVENT\r\nUID:ev1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nDURATION:PT1H\r\nSUMMARY:Standup\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let r = s
        .req("PUT", &format!("{cal}ev1.ics"))
        .header("content-type", "text/calendar")
        .body(event.to_vec())
        .send()
        .await;
    assert_eq!(r.status, 201);
    s.req("PUT", &format!("{BOOK}x.vcf"))
        .vcard(&card("x", "Xavier"))
        .send()
        .await;
    assert_eq!(
        s.req("DELETE", &format!("{cal}ev1.ics"))
            .send()
            .await
            .status,
        204
    );
    assert_eq!(
        s.req("DELETE", &format!("{BOOK}x.vcf")).send().await.status,
        204
    );
    let list = cli(&s, &["trash", "list", "--user", "admin"]);
    assert!(
        list.contains("ev1.ics") && list.contains("Standup"),
        "{list}"
    );
    assert!(list.contains("x.vcf") && list.contains("Xavier"), "{list}");

    // Events come back by UID; the calendar's time-range query finds them again.
    cli(
        &s,
        &[
            "trash",
            "restore",
            "ev1",
            "--user",
            "admin",
            "--calendar",
            "personal",
        ],
    );
    let g = s.req("GET", &format!("{cal}ev1.ics")).send().await;
    assert_eq!(g.status, 200);
    assert_eq!(g.body, event.to_vec());
    let q = s
        .req("REPORT", cal)
        .header("depth", "1")
        .xml(r#"<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/></d:prop><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"><c:time-range start="20260105T000000Z" end="20260106T000000Z"/></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>"#)
        .send()
        .await;
    assert_eq!(responses(&q.xml()).len(), 1, "{}", q.text());

    let (ok, _, err) = kith_cli(
        s.dir.path(),
        &["trash", "restore", "nope.vcf", "--user", "admin"],
        "",
    );
    assert!(!ok);
    assert!(err.contains("not in the trash"), "{err}");

    let out = cli(
        &s,
        &["trash", "purge", "--user", "admin", "--book", "contacts"],
    );
    assert!(out.contains("purged 1 version"), "{out}");
    let list = cli(&s, &["trash", "list", "--user", "admin"]);
    assert!(!list.contains("x.vcf"), "{list}");
    assert!(list.contains("0 item(s) in the trash"), "{list}");
}

/// With a short retention, the scheduler forgets old versions and trash: storage stays
/// bounded without anyone running a command.
#[tokio::test]
async fn the_scheduler_purges_history_past_its_retention() {
    let conf = tempfile::tempdir().unwrap();
    let path = conf.path().join("kith.toml");
    std::fs::write(
        &path,
        "[history]\nretention = \"4s\"\npurge_interval = \"1s\"\n",
    )
    .unwrap();
    let s = Server::start_with(&[("KITH_CONFIG", path.to_str().unwrap())]);
    let extra = "/dav/addressbooks/admin/extra/";
    assert_eq!(s.req("MKCOL", extra).send().await.status, 201);
    assert_eq!(s.req("DELETE", extra).send().await.status, 204);
    for i in 0..20 {
        s.req("PUT", &format!("{BOOK}c{i}.vcf"))
            .vcard(&card(&format!("u{i}"), "First"))
            .send()
            .await;
        s.req("PUT", &format!("{BOOK}c{i}.vcf"))
            .vcard(&card(&format!("u{i}"), "Second"))
            .send()
            .await;
        s.req("DELETE", &format!("{BOOK}c{i}.vcf")).send().await;
    }
    let kept = |s: &Server| -> i64 {
        let (ok, out, err) = kith_cli(
            s.dir.path(),
            &[
                "--config",
                path.to_str().unwrap(),
                "trash",
                "list",
                "--user",
                "admin",
            ],
            "",
        );
        assert!(ok, "{err}");
        let at = out.find(" version(s) kept").unwrap();
        let start = out[..at].rfind('(').unwrap() + 1;
        out[start..at].parse().unwrap()
    };
    assert_eq!(kept(&s), 40, "two versions per card are kept at first");
    assert!(cli(&s, &["trash", "list", "--user", "admin"]).contains("addressbook extra"));
    // Readiness by polling the observable state; the retention is the only clock involved.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while kept(&s) > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "versions were not purged"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let list = cli(&s, &["trash", "list", "--user", "admin"]);
    assert!(
        !list.contains("deleted address books"),
        "the deleted book was purged with the rest: {list}"
    );
}

/// An undo of a source's run is recorded as such, and what it removed can come back from the
/// trash.
#[tokio::test]
async fn an_undone_import_is_in_history_and_its_cards_in_the_trash() {
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("people.vcf");
    std::fs::write(&file, card_with("ken", "Ken Thompson", "")).unwrap();
    let out = cli(&s, &["import", file.to_str().unwrap(), "--user", "admin"]);
    let run: String = out
        .split_whitespace()
        .skip_while(|w| *w != "Run")
        .nth(1)
        .unwrap()
        .to_string();
    let undo = cli(&s, &["sync", "undo", &run]);
    assert!(!undo.is_empty());
    let history = cli(&s, &["history", "--user", "admin", "ken"]);
    assert!(
        history.contains("deleted")
            && history.contains(&format!("by undo of source vcard run {run}")),
        "{history}"
    );
    cli(&s, &["trash", "restore", "ken", "--user", "admin"]);
    let book = download_book(&s).await;
    assert_eq!(book.len(), 1);
    assert!(book.values().next().unwrap().1.contains("FN:Ken Thompson"));
}

/// A client that deletes a whole address book sends it to the trash: its name is free for a
/// new book, its sources pause, and `trash restore-book` brings it back with every card.
#[tokio::test]
async fn a_deleted_book_can_be_restored_whole() {
    let s = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("people.vcf");
    std::fs::write(&file, card_with("ken", "Ken Thompson", "")).unwrap();
    cli(&s, &["import", file.to_str().unwrap(), "--user", "admin"]);
    for i in 0..3 {
        s.req("PUT", &format!("{BOOK}c{i}.vcf"))
            .vcard(&card(&format!("u{i}"), "Client card"))
            .send()
            .await;
    }
    let before = download_book(&s).await;
    assert_eq!(before.len(), 4);

    assert_eq!(s.req("DELETE", BOOK).send().await.status, 204);
    assert_eq!(s.req("GET", BOOK).send().await.status, 404);
    let home = s
        .req("PROPFIND", "/dav/addressbooks/admin/")
        .header("depth", "1")
        .xml(r#"<d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/></d:prop></d:propfind>"#)
        .send()
        .await;
    assert!(!home.text().contains(BOOK), "hidden from clients");
    let list = cli(&s, &["trash", "list", "--user", "admin"]);
    assert!(list.contains("addressbook contacts"), "{list}");
    assert!(list.contains("4 item(s)"), "{list}");
    let sources = cli(&s, &["source", "list", "--user", "admin"]);
    assert!(sources.contains("paused"), "{sources}");

    // The client makes a new "contacts" book: the name was free.
    let mk = s
        .req("MKCOL", BOOK)
        .xml(r#"<d:mkcol xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:set><d:prop><d:resourcetype><d:collection/><c:addressbook/></d:resourcetype></d:prop></d:set></d:mkcol>"#)
        .send()
        .await;
    assert_eq!(mk.status, 201, "{}", mk.text());
    let (ok, _, err) = kith_cli(
        s.dir.path(),
        &["trash", "restore-book", "contacts", "--user", "admin"],
        "",
    );
    assert!(!ok);
    assert!(err.contains("--as NAME"), "{err}");
    let out = cli(
        &s,
        &[
            "trash",
            "restore-book",
            "contacts",
            "--user",
            "admin",
            "--as",
            "old-contacts",
        ],
    );
    assert!(out.contains("4 item(s)"), "{out}");
    let old = "/dav/addressbooks/admin/old-contacts/";
    let whole = s.req("GET", old).send().await;
    assert_eq!(whole.status, 200);
    for (_, text) in before.values() {
        assert!(whole.text().contains(text.as_str()), "every card is back");
    }
    let sources = cli(&s, &["source", "list", "--user", "admin"]);
    assert!(!sources.contains("paused"), "{sources}");
}
