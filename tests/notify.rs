//! Notifications of automatic runs, end to end: a real `kith serve` with an SMTP sink and a
//! webhook receiver; settings by CLI and in the browser; the scheduler's runs notify.

use crate::common::browser::Browser;
use crate::common::*;
use kith_fakes::sinks;
use std::time::Duration;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/sources");
const WAIT: Duration = Duration::from_secs(30);

/// The CLI with the server's config and database.
fn cli(s: &Server, conf: &tempfile::TempDir, args: &[&str]) -> (bool, String, String) {
    let mut cmd = std::process::Command::new(kith_bin());
    if let Some(url) = database_for(s.dir.path()) {
        cmd.env("KITH_DATABASE_URL", url);
    }
    let out = cmd
        .args(args)
        .arg("--data-dir")
        .arg(s.dir.path())
        .env("KITH_CONFIG", conf.path().join("kith.toml"))
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A server that mails through the sink, with a config the CLI shares.
fn start(smtp_port: u16) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("kith.toml");
    std::fs::write(
        &config,
        format!(
            "[sync]\nscheduler_tick_secs = 1\n\n[web]\npublic_url = \"http://kith.test\"\n\n[smtp]\nhost = \"127.0.0.1\"\nport = {smtp_port}\nsecurity = \"none\"\nfrom = \"Kith <kith@kith.test>\"\n"
        ),
    )
    .unwrap();
    let s = Server::start_with(&[("KITH_CONFIG", config.to_str().unwrap())]);
    (s, dir)
}

#[tokio::test]
async fn automatic_runs_notify_by_mail_and_webhook_as_the_user_chose() {
    let (port, mail) = sinks::smtp();
    let (hooks_url, hooks) = sinks::webhook();
    let (s, conf) = start(port);
    let kith = |args: &[&str]| {
        let (ok, out, err) = cli(&s, &conf, args);
        assert!(ok, "kith {args:?} failed: {err}\n{out}");
        out
    };
    let kith_fails = |args: &[&str]| {
        let (ok, out, err) = cli(&s, &conf, args);
        assert!(!ok, "kith {args:?} should fail:\n{out}");
        err
    };

    // Wrong values are refused, naming what is wrong.
    let err = kith_fails(&["notify", "set", "--user", "admin", "--webhook", "ftp://x"]);
    assert!(err.contains("must start with https://"), "{err}");
    let err = kith_fails(&["notify", "set", "--user", "admin", "--on", "sometimes"]);
    assert!(
        err.contains("--on: unknown occasion \"sometimes\""),
        "{err}"
    );
    let err = kith_fails(&["notify", "test", "--user", "admin"]);
    assert!(err.contains("nowhere to send"), "{err}");

    let hook = format!("{hooks_url}/hooks/kith");
    let out = kith(&[
        "notify",
        "set",
        "--user",
        "admin",
        "--email",
        "ada@example.org",
        "--webhook",
        &hook,
        "--on",
        "failure,guard,changes",
    ]);
    assert!(out.contains("on       failure, guard, changes"), "{out}");
    let out = kith(&["notify", "test", "--user", "admin"]);
    assert!(out.contains("mail and webhook"), "{out}");
    let got = mail.wait_for(1, WAIT);
    assert_eq!(got[0].to, vec!["ada@example.org"]);
    assert!(
        got[0].data.contains("Subject: Kith: test notification"),
        "{}",
        got[0].data
    );
    let got = hooks.wait_for(1, WAIT);
    assert_eq!(got[0].path, "/hooks/kith");
    assert!(got[0].content_type.starts_with("application/json"));
    let v: serde_json::Value = serde_json::from_str(&got[0].body).unwrap();
    assert_eq!(v["event"], "test");
    assert_eq!(v["user"], "admin");

    // A scheduled run that changes the book notifies, with a link to the run.
    let watched = conf.path().join("Connections.csv");
    std::fs::copy(format!("{FIXTURES}/linkedin-2024.csv"), &watched).unwrap();
    let w = watched.to_str().unwrap();
    kith(&["import", w, "--user", "admin"]);
    kith(&[
        "source",
        "rules",
        "linkedin-csv",
        "--user",
        "admin",
        "--auto",
        "on",
        "--every",
        "1s",
    ]);
    std::fs::copy(format!("{FIXTURES}/linkedin-2025.csv"), &watched).unwrap();
    let got = hooks.wait_for(2, WAIT);
    assert_eq!(got.len(), 2, "no notification of the scheduled run");
    let v: serde_json::Value = serde_json::from_str(&got[1].body).unwrap();
    assert_eq!(v["event"], "changes", "{v}");
    assert_eq!(v["source"], "linkedin-csv");
    let run = v["run"].as_i64().expect("the run's id");
    assert_eq!(v["link"], format!("http://kith.test/runs/{run}"));
    let got = mail.wait_for(2, WAIT);
    assert!(
        got[1]
            .data
            .contains("a sync changed your contacts (linkedin-csv)")
    );

    // A file that cannot be read is a failure; a mail the server refuses is recorded.
    kith(&[
        "notify",
        "set",
        "--user",
        "admin",
        "--email",
        "bounce@example.org",
    ]);
    std::fs::remove_file(&watched).unwrap();
    let got = hooks.wait_for(3, WAIT);
    let v: serde_json::Value = serde_json::from_str(&got[2].body).unwrap();
    assert_eq!(v["event"], "failure", "{v}");
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let events = kith(&["sync", "events", "--user", "admin"]);
        if events.contains("could not be sent") {
            assert!(events.contains("No such user"), "{events}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{events}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A source that keeps failing is retried, and the user hears of it once.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let events = kith(&["sync", "events", "--user", "admin"]);
        if events
            .matches("scheduled run of linkedin-csv failed")
            .count()
            >= 3
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{events}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(hooks.all().len(), 3, "{:?}", hooks.all());
}

/// The browser's settings page: save, a typo kept in the form with the reason, and the test
/// button.
#[tokio::test]
async fn the_notifications_page_saves_and_sends_a_test() {
    let (port, mail) = sinks::smtp();
    let (hooks_url, hooks) = sinks::webhook();
    let (s, _conf) = start(port);
    let b = Browser::open(&s.base, "notifications").await;
    b.sign_in("admin", ADMIN_PW).await;
    b.wait("#books").await;
    b.go("/notifications").await;
    b.wait_heading("Notifications").await;
    b.fill("#webhook", "ftp://example.org/hook").await;
    b.fill("#email", "ada@example.org").await;
    b.press("Save").await;
    assert!(
        b.read("#notify-error")
            .await
            .contains("must start with https://")
    );
    b.fill("#webhook", &format!("{hooks_url}/fail")).await;
    b.press("Save").await;
    assert_eq!(b.read("#notice").await, "Saved.");
    b.press("Send a test").await;
    let err = b.read("#notify-error").await;
    assert!(err.contains("answered 500"), "{err}");
    assert_eq!(
        mail.wait_for(1, WAIT).len(),
        1,
        "the mail went out all the same"
    );
    b.fill("#webhook", &format!("{hooks_url}/ok")).await;
    b.press("Save").await;
    // The answer page, not the one the button was on, before the next press.
    assert_eq!(b.read("#notice").await, "Saved.");
    b.press("Send a test").await;
    // The page still shows "Saved." until the test's answer arrives.
    b.wait_text("#notice", "mail and webhook").await;
    assert_eq!(hooks.wait_for(2, WAIT).len(), 2);
    b.shot("notifications").await;
    b.close().await;
}
