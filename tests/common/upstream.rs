//! The harness for upstream-connector tests: a real `kith serve` configured for a fake
//! upstream, the CLI run with the same config and database, the fake's control API, and the
//! browser's side of an OAuth redirect flow.

use super::*;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Command;

pub struct Upstream {
    pub s: Server,
    /// The PostgreSQL database when the test chose one itself (several instances).
    pub db_url: Option<String>,
    /// The fake's base URL.
    pub fake: String,
    pub config: PathBuf,
    _conf_dir: tempfile::TempDir,
    pub http: reqwest::Client,
    /// The source the run/rules helpers act on.
    pub source: &'static str,
}

impl Upstream {
    /// A server whose config is `config` (with the fake's URL in it), on `db_url` if given.
    pub fn start(
        fake: String,
        config: String,
        db_url: Option<String>,
        source: &'static str,
    ) -> Upstream {
        Self::start_env(fake, config, db_url, source, &[])
    }

    /// As [`Upstream::start`], with more environment for the server (e.g. `KITH_LISTEN`, when
    /// the config must name the server's own address).
    pub fn start_env(
        fake: String,
        config: String,
        db_url: Option<String>,
        source: &'static str,
        extra: &[(&str, &str)],
    ) -> Upstream {
        let conf_dir = tempfile::tempdir().unwrap();
        let path = conf_dir.path().join("kith.toml");
        std::fs::write(&path, config).unwrap();
        let mut env = vec![("KITH_CONFIG", path.to_str().unwrap())];
        if let Some(u) = &db_url {
            env.push(("KITH_DATABASE_URL", u));
        }
        env.extend_from_slice(extra);
        let s = Server::start_with(&env);
        Upstream {
            s,
            db_url,
            fake,
            config: path,
            _conf_dir: conf_dir,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            source,
        }
    }

    /// The CLI with the server's config and database.
    pub fn cli(&self, args: &[&str]) -> (bool, String, String) {
        self.cli_stdin(args, "")
    }

    /// The CLI with `stdin` as its standard input.
    pub fn cli_stdin(&self, args: &[&str], stdin: &str) -> (bool, String, String) {
        use std::io::Write;
        let mut cmd = Command::new(kith_bin());
        if let Some(url) = self
            .db_url
            .clone()
            .or_else(|| database_for(self.s.dir.path()))
        {
            cmd.env("KITH_DATABASE_URL", url);
        }
        let mut child = cmd
            .args(args)
            .arg("--data-dir")
            .arg(self.s.dir.path())
            .env("KITH_CONFIG", &self.config)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(mut i) = child.stdin.take() {
            let _ = i.write_all(stdin.as_bytes());
        }
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.cli(args);
        assert!(ok, "kith {args:?} failed: {err}{out}");
        out
    }

    pub async fn control(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}{path}", self.fake))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
    }

    pub async fn get(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.fake))
            .send()
            .await
            .unwrap();
        serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
    }

    pub async fn log(&self) -> Vec<Value> {
        self.get("/_fake/log").await.as_array().unwrap().clone()
    }

    pub async fn clear_log(&self) {
        self.control("/_fake/log/clear", json!({})).await;
    }

    /// The writes (non-GET requests) in the fake's log whose path starts with `prefix`.
    pub async fn writes_under(&self, prefix: &str) -> Vec<String> {
        self.log()
            .await
            .iter()
            .filter(|e| e["path"].as_str().unwrap().starts_with(prefix) && e["method"] != "GET")
            .map(|e| {
                format!(
                    "{} {}",
                    e["method"].as_str().unwrap(),
                    e["path"].as_str().unwrap()
                )
            })
            .collect()
    }

    /// The browser's way out and back: GET `start` at Kith (signed in), follow the redirect
    /// to the fake, and return the path it sends the browser back to on Kith, with the
    /// cookie the start set.
    pub async fn through(&self, start: &str) -> (String, String) {
        let start = self.s.req("GET", start).send().await;
        assert_eq!(start.status, 303, "{}", start.text());
        let cookie = start.header("set-cookie").unwrap();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );
        let cookie = cookie.split(';').next().unwrap().to_string();
        (
            self.back_from(&start.header("location").unwrap()).await,
            cookie,
        )
    }

    /// Follows a redirect to the fake and returns where it sends the browser on Kith.
    pub async fn back_from(&self, at_fake: &str) -> String {
        let answer = self.http.get(at_fake).send().await.unwrap();
        assert_eq!(answer.status(), 302);
        let back = answer.headers()["location"].to_str().unwrap().to_string();
        back.strip_prefix("http://kith.test")
            .expect("redirected to Kith")
            .to_string()
    }

    /// `kith source rules SOURCE --user admin ARGS…`.
    pub fn rules(&self, args: &[&str]) {
        let mut all = vec!["source", "rules", self.source, "--user", "admin"];
        all.extend_from_slice(args);
        self.ok(&all);
    }

    /// Two-way, with creating and deleting contacts in the source allowed (both are off by
    /// default).
    pub fn two_way(&self) {
        self.rules(&[
            "--direction",
            "two-way",
            "--allow",
            "source:create",
            "--allow",
            "source:delete",
        ]);
    }

    pub fn run(&self) -> String {
        self.ok(&["sync", "run", self.source, "--user", "admin"])
    }

    pub async fn cards(&self) -> std::collections::BTreeMap<String, (String, String)> {
        download_book(&self.s).await
    }

    pub async fn card_named(&self, name: &str) -> (String, String, String) {
        self.cards()
            .await
            .into_iter()
            .find(|(_, (_, t))| t.contains(&format!("FN:{name}")))
            .map(|(n, (e, t))| (n, e, t))
            .unwrap_or_else(|| panic!("no card {name}"))
    }

    /// Deletes the card named `fn_` over CardDAV, as a client would.
    pub async fn delete_card(&self, fn_: &str) {
        let (name, etag, _) = self.card_named(fn_).await;
        let d = self
            .s
            .req("DELETE", &format!("{BOOK}{name}"))
            .header("if-match", &etag)
            .send()
            .await;
        assert_eq!(d.status, 204);
    }

    pub async fn put(&self, name: &str, etag: &str, text: &str) {
        let r = self
            .s
            .req("PUT", &format!("{BOOK}{name}"))
            .header("if-match", etag)
            .vcard(text.as_bytes())
            .send()
            .await;
        assert!(
            r.status == 204 || r.status == 201,
            "PUT {name}: {}",
            r.status
        );
    }
}

/// A count from a run's summary (`unlink      3`).
pub fn count(out: &str, what: &str) -> usize {
    out.lines()
        .find_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some(what))
                .then(|| w.next()?.parse().ok())
                .flatten()
        })
        .unwrap_or(0)
}
