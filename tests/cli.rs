//! The `kith` command line: accounts, app passwords, first start, and configuration sources.

use crate::common::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[tokio::test]
async fn user_lifecycle_and_password_change_takes_effect() {
    let s = Server::start();
    let dir = s.dir.path();
    s.add_user("carol", "first-pw");
    let (ok, out, _) = kith_cli(dir, &["user", "list"], "");
    assert!(ok);
    assert!(out.lines().any(|l| l.starts_with("carol\t")), "{out}");
    let (ok, _, err) = kith_cli(dir, &["user", "add", "carol", "--password-stdin"], "x\n");
    assert!(!ok && err.contains("already exists"), "{err}");
    let (ok, _, err) = kith_cli(dir, &["user", "add", "bad name", "--password-stdin"], "x\n");
    assert!(!ok && err.contains("invalid user name"), "{err}");

    // New users get a default address book.
    let r = s
        .req("PROPFIND", "/dav/addressbooks/carol/contacts/")
        .auth("carol", "first-pw")
        .header("depth", "0")
        .send()
        .await;
    assert_eq!(r.status, 207);

    let (ok, _, err) = kith_cli(
        dir,
        &["user", "passwd", "carol", "--password-stdin"],
        "second-pw\n",
    );
    assert!(ok, "{err}");
    let old = s
        .req("PROPFIND", "/dav/")
        .auth("carol", "first-pw")
        .header("depth", "0")
        .send()
        .await;
    assert_eq!(old.status, 401, "the old password stops working at once");
    let new = s
        .req("PROPFIND", "/dav/")
        .auth("carol", "second-pw")
        .header("depth", "0")
        .send()
        .await;
    assert_eq!(new.status, 207);

    let (ok, _, _) = kith_cli(dir, &["user", "remove", "carol"], "");
    assert!(ok);
    let gone = s
        .req("PROPFIND", "/dav/")
        .auth("carol", "second-pw")
        .header("depth", "0")
        .send()
        .await;
    assert_eq!(gone.status, 401);
    let (ok, _, err) = kith_cli(dir, &["user", "remove", "carol"], "");
    assert!(!ok && err.contains("no user named"), "{err}");
}

/// `kith user app-password VERB admin --label iphone`.
fn app_pw(dir: &std::path::Path, verb: &str) -> (bool, String, String) {
    kith_cli(
        dir,
        &["user", "app-password", verb, "admin", "--label", "iphone"],
        "",
    )
}

#[tokio::test]
async fn app_passwords_authenticate_and_revoke() {
    let s = Server::start();
    let dir = s.dir.path();
    let (ok, token, err) = app_pw(dir, "add");
    assert!(ok, "{err}");
    let token = token.trim().to_string();
    assert!(token.len() >= 25, "high-entropy token: {token}");
    assert!(err.contains("shown once"));

    let status = |pw: String| {
        let r = s
            .req("PROPFIND", BOOK)
            .auth("admin", &pw)
            .header("depth", "0");
        async move { r.send().await.status }
    };
    assert_eq!(status(token.clone()).await, 207);
    assert_eq!(status("not-the-token".into()).await, 401);

    let (_, list, _) = kith_cli(dir, &["user", "app-password", "list", "admin"], "");
    assert!(list.starts_with("iphone\t"), "{list}");
    assert!(!list.contains(&token), "the list never shows the password");
    assert!(!list.contains("last used never"), "use is recorded: {list}");

    let (ok, _, err) = app_pw(dir, "add");
    assert!(!ok && err.contains("already has"), "{err}");
    let (ok, _, _) = app_pw(dir, "revoke");
    assert!(ok);
    // Revoked by another process (the CLI), the server's remembered sign-in lasts at most a
    // second (`core::auth::APP_TTL`): the device is refused within it, and from then on.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut refused = false;
    while !refused && std::time::Instant::now() < deadline {
        refused = status(token.clone()).await == 401;
    }
    assert!(refused, "a revoked device password is refused");
    for _ in 0..3 {
        assert_eq!(status(token.clone()).await, 401, "and stays refused");
    }
    let (ok, _, err) = app_pw(dir, "revoke");
    assert!(!ok && err.contains("no app password"), "{err}");
}

/// First start without KITH_ADMIN_PASSWORD prints a random admin password once.
#[tokio::test]
async fn first_start_creates_admin_with_printed_password() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(kith_bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env_remove("KITH_ADMIN_PASSWORD")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut password = None;
    let base = loop {
        let line = lines.next().expect("server exited").unwrap();
        if let Some(p) = line.strip_prefix("kith: created user admin with password: ") {
            password = Some(p.to_string());
        }
        if let Some(u) = line.strip_prefix("kith: listening on ") {
            break u.trim_end_matches('/').to_string();
        }
    };
    let password = password.expect("password printed");
    let client = reqwest::Client::new();
    let r = client
        .request(
            reqwest::Method::from_bytes(b"PROPFIND").unwrap(),
            format!("{base}/dav/"),
        )
        .basic_auth("admin", Some(&password))
        .header("depth", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 207);
    let _ = child.kill();
    let _ = child.wait();

    // A second start does not print it again.
    let mut child = Command::new(kith_bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let first = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .next()
        .unwrap()
        .unwrap();
    assert!(first.starts_with("kith: listening on"), "{first}");
    let _ = child.kill();
    let _ = child.wait();
}

/// Config file < environment < flags, and each of KITH_CONFIG, KITH_LISTEN, KITH_DATA_DIR works.
#[test]
fn config_file_env_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("from-file");
    let cfg = dir.path().join("kith.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = {:?}\n",
            data.display().to_string()
        ),
    )
    .unwrap();
    let start = |envs: &[(&str, String)], args: &[&str]| {
        let mut cmd = Command::new(kith_bin());
        cmd.arg("serve")
            .args(args)
            .env("KITH_ADMIN_PASSWORD", "x")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let line = BufReader::new(child.stdout.take().unwrap())
            .lines()
            .map(|l| l.unwrap())
            .find(|l| l.starts_with("kith: listening on"))
            .unwrap();
        let _ = child.kill();
        let _ = child.wait();
        line
    };
    start(&[("KITH_CONFIG", cfg.display().to_string())], &[]);
    assert!(
        data.join("kith.db").exists(),
        "data_dir from the config file"
    );
    assert!(data.join("secret.key").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(data.join("secret.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let env_dir = dir.path().join("from-env");
    start(
        &[
            ("KITH_CONFIG", cfg.display().to_string()),
            ("KITH_DATA_DIR", env_dir.display().to_string()),
        ],
        &[],
    );
    assert!(
        env_dir.join("kith.db").exists(),
        "KITH_DATA_DIR beats the file"
    );

    let flag_dir = dir.path().join("from-flag");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let line = start(
        &[
            ("KITH_CONFIG", cfg.display().to_string()),
            ("KITH_DATA_DIR", env_dir.display().to_string()),
            ("KITH_LISTEN", "127.0.0.1:0".into()),
        ],
        &[
            "--data-dir",
            flag_dir.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{port}"),
        ],
    );
    assert!(
        flag_dir.join("kith.db").exists(),
        "--data-dir beats the environment"
    );
    assert!(
        line.contains(&format!(":{port}/")),
        "--listen beats KITH_LISTEN: {line}"
    );

    // A bad config file names the file and the problem.
    std::fs::write(&cfg, "[server]\nlisen = 1\n").unwrap();
    let out = Command::new(kith_bin())
        .args(["serve", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("kith.toml") && err.contains("lisen"), "{err}");
}

#[test]
fn help_lists_the_commands() {
    let out = Command::new(kith_bin()).arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for w in ["serve", "user", "--config", "--data-dir"] {
        assert!(text.contains(w), "--help lacks {w}");
    }
    let out = Command::new(kith_bin())
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("--listen") && text.contains("KITH_LISTEN"));
}

/// Output piped into a reader that stops early (`kith source list | head -1`) ends the command
/// quietly, as Unix tools do: no panic, no backtrace.
#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    let s = Server::start();
    let vcf = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/sources/contacts.vcf"
    );
    let (ok, _, err) = kith_cli(s.dir.path(), &["import", vcf, "--user", "admin"], "");
    assert!(ok, "{err}");
    for args in [
        &["source", "list", "--user", "admin"][..],
        &["source", "show", "vcard", "--user", "admin"][..],
    ] {
        let mut cmd = Command::new(kith_bin());
        if let Some(url) = database_for(s.dir.path()) {
            cmd.env("KITH_DATABASE_URL", url);
        }
        let mut child = cmd
            .args(args)
            .arg("--data-dir")
            .arg(s.dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before the command writes a line.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_ne!(out.status.code(), Some(101), "{args:?}: {err}");
    }
}

#[tokio::test]
async fn groups_are_made_filled_and_removed_from_the_cli() {
    let s = Server::start();
    s.add_user("ana", "anas-password");
    let run = |args: &[&str]| kith_cli(s.dir.path(), args, "");
    let (ok, _, err) = run(&["group", "add", "not ok!"]);
    assert!(
        !ok && err.contains("invalid group name \"not ok!\""),
        "{err}"
    );
    let (ok, out, _) = run(&["group", "list"]);
    assert!(ok && out.contains("no groups yet"), "{out}");
    assert!(run(&["group", "add", "recruiting"]).0);
    let (ok, _, err) = run(&["group", "add", "recruiting"]);
    assert!(!ok && err.contains("recruiting"), "{err}");
    let (ok, out, _) = run(&[
        "group",
        "members",
        "recruiting",
        "--add",
        "ana",
        "--add",
        "admin",
    ]);
    assert!(ok && out.trim() == "recruiting: admin, ana", "{out}");
    let (ok, _, err) = run(&["group", "members", "recruiting", "--add", "nobody"]);
    assert!(!ok && err.contains("no user named \"nobody\""), "{err}");
    let (ok, out, _) = run(&["group", "members", "recruiting", "--remove", "admin"]);
    assert!(ok && out.trim() == "recruiting: ana", "{out}");
    assert!(run(&["group", "remove", "recruiting"]).0);
    let (ok, _, err) = run(&["group", "members", "recruiting"]);
    assert!(
        !ok && err.contains("no group named \"recruiting\""),
        "{err}"
    );
    // Ana is a user as before.
    assert!(run(&["user", "list"]).1.contains("ana"));
}
