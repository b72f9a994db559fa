//! Test harness: starts the real `kith` binary on a free loopback port with a temporary data
//! directory, and speaks HTTP to it.
#![allow(dead_code)]

use kith_dav::xml::{Element, parse};
use reqwest::{Client, Method, StatusCode};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub mod browser;
pub mod upstream;

pub const ADMIN_PW: &str = "admin-test-pw";

pub struct Server {
    pub base: String,
    pub dir: tempfile::TempDir,
    child: Child,
    pub http: Client,
    /// What the server printed on stdout after its listening line.
    stdout: std::sync::Arc<(std::sync::Mutex<Vec<String>>, std::sync::Condvar)>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        drop_database(self.dir.path());
    }
}

/// Whether this run tests the PostgreSQL backend (`KITH_TEST_BACKEND=postgres`): every data
/// directory a test uses then gets its own throwaway database.
pub fn postgres() -> bool {
    std::env::var("KITH_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// The PostgreSQL server's maintenance database URL.
pub fn postgres_admin_url() -> String {
    std::env::var("KITH_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// Runs one SQL statement as the PostgreSQL admin; returns its output rows.
pub fn psql(sql: &str) -> String {
    let out = Command::new("psql")
        .arg(postgres_admin_url())
        .args(["-qAtX", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .output()
        .expect("psql (install postgresql-client)");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

static DATABASES: std::sync::Mutex<Vec<(PathBuf, String)>> = std::sync::Mutex::new(Vec::new());
static SWEPT: std::sync::Once = std::sync::Once::new();

/// The database URL for `data_dir` in a PostgreSQL run, creating the database on first use.
pub fn database_for(data_dir: &Path) -> Option<String> {
    if !postgres() {
        return None;
    }
    // Databases of earlier runs whose process is gone (a test that panicked, a killed run).
    SWEPT.call_once(|| {
        for db in psql("SELECT datname FROM pg_database WHERE datname LIKE 'kith_t_%'").lines() {
            let pid = db.split('_').nth(2).and_then(|p| p.parse::<u32>().ok());
            if pid.is_some_and(|p| !Path::new(&format!("/proc/{p}")).exists()) {
                psql(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
            }
        }
    });
    let mut dbs = DATABASES.lock().unwrap();
    if let Some((_, url)) = dbs.iter().find(|(d, _)| d == data_dir) {
        return Some(url.clone());
    }
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("kith_t_{}_{n}", std::process::id());
    psql(&format!("CREATE DATABASE {name}"));
    let admin = postgres_admin_url();
    let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
    let url = format!("{base}/{name}");
    dbs.push((data_dir.to_path_buf(), url.clone()));
    Some(url)
}

fn drop_database(data_dir: &Path) {
    let mut dbs = DATABASES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(i) = dbs.iter().position(|(d, _)| d == data_dir) {
        let (_, url) = dbs.remove(i);
        if let Some(name) = url.rsplit('/').next() {
            let _ = Command::new("psql")
                .arg(postgres_admin_url())
                .args([
                    "-qAtX",
                    "-c",
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                ])
                .output();
        }
    }
}

pub fn kith_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kith"))
}

/// Runs a `kith` CLI command against `data_dir`, feeding `stdin`; returns (status, stdout, stderr).
pub fn kith_cli(data_dir: &Path, args: &[&str], stdin: &str) -> (bool, String, String) {
    use std::io::Write;
    let mut cmd = Command::new(kith_bin());
    if let Some(url) = database_for(data_dir) {
        cmd.env("KITH_DATABASE_URL", url);
    }
    let mut child = cmd
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kith");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

impl Server {
    /// Starts a server with user `admin` (password [`ADMIN_PW`]).
    pub fn start() -> Server {
        Self::start_with(&[])
    }

    pub fn start_with(extra_env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, extra_env)
    }

    pub fn start_in(dir: tempfile::TempDir, extra_env: &[(&str, &str)]) -> Server {
        // KITH_TEST_DATA_CAP=BYTES runs the server under `prlimit --data`: a memory cap, so a
        // request that would exhaust memory ends the process instead of the machine's RAM.
        let cap = extra_env
            .iter()
            .find(|(k, _)| *k == "KITH_TEST_DATA_CAP")
            .map(|(_, v)| v.to_string());
        let mut cmd = match &cap {
            Some(bytes) => {
                let mut c = Command::new("prlimit");
                c.arg(format!("--data={bytes}")).arg(kith_bin());
                c
            }
            None => Command::new(kith_bin()),
        };
        cmd.arg("serve");
        // A test that must know the address before the server starts (a redirect URL in its
        // config) passes KITH_LISTEN; the others get any free port.
        if !extra_env.iter().any(|(k, _)| *k == "KITH_LISTEN") {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        cmd.arg("--data-dir")
            .arg(dir.path())
            .env("KITH_ADMIN_PASSWORD", ADMIN_PW)
            .env("RUST_LOG", "warn")
            .env_remove("KITH_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let own_db = extra_env.iter().any(|(k, _)| *k == "KITH_DATABASE_URL");
        if !own_db && let Some(url) = database_for(dir.path()) {
            cmd.env("KITH_DATABASE_URL", url);
        }
        for (k, v) in extra_env.iter().filter(|(k, _)| *k != "KITH_TEST_DATA_CAP") {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn kith serve");
        // Readiness: the server prints its address once the socket is bound.
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            let line = lines.next().expect("kith exited before listening").unwrap();
            if let Some(url) = line.strip_prefix("kith: listening on ") {
                break url.trim_end_matches('/').to_string();
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe, keeping the lines.
        let stdout: std::sync::Arc<(std::sync::Mutex<Vec<String>>, std::sync::Condvar)> =
            Default::default();
        std::thread::spawn({
            let stdout = stdout.clone();
            move || {
                for line in lines.map_while(Result::ok) {
                    stdout.0.lock().unwrap().push(line);
                    stdout.1.notify_all();
                }
            }
        });
        Server {
            base,
            dir,
            stdout,
            child,
            http: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    /// Waits (at most 60 s) until the server prints a line starting with `prefix`.
    pub fn wait_for_line(&self, prefix: &str) -> String {
        let (lines, changed) = &*self.stdout;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let mut seen = lines.lock().unwrap();
        loop {
            if let Some(l) = seen.iter().find(|l| l.starts_with(prefix)) {
                return l.clone();
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            assert!(!left.is_zero(), "the server never printed {prefix:?}");
            seen = changed.wait_timeout(seen, left).unwrap().0;
        }
    }

    /// Sends SIGTERM and waits for the process to end; true when it exited successfully.
    pub fn terminate(&mut self) -> bool {
        // SAFETY: kill(2) on our own child's pid; no memory is involved.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        self.child.wait().is_ok_and(|s| s.success())
    }

    /// Kills the server (SIGKILL) and starts it again on the same data directory (and
    /// database) with `extra_env`.
    pub fn restart(mut self, extra_env: &[(&str, &str)]) -> Server {
        self.stop();
        // The old value's Drop then only finds an empty stand-in directory.
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        Server::start_in(dir, extra_env)
    }

    /// Stops the server (as SIGKILL would), keeping its data directory.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Creates a user through the CLI, as an admin would.
    pub fn add_user(&self, name: &str, pw: &str) {
        let (ok, _, err) = kith_cli(
            self.dir.path(),
            &["user", "add", name, "--password-stdin"],
            &format!("{pw}\n"),
        );
        assert!(ok, "user add failed: {err}");
    }

    /// Signs `user` in through the web's sign-in form, as a browser would, and returns the
    /// session cookie (`kith_session=…`) for requests to the web pages.
    pub async fn web_session(&self, user: &str, password: &str) -> String {
        let r = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .post(self.url("/login"))
            .header("cookie", "kith_login=t0k3n")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("user={user}&password={password}&token=t0k3n"))
            .send()
            .await
            .unwrap();
        r.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|c| c.to_str().ok())
            .find(|c| c.starts_with("kith_session="))
            .and_then(|c| c.split(';').next())
            .unwrap_or_else(|| panic!("no session for {user}: {}", r.status()))
            .to_string()
    }

    /// A request without credentials.
    pub fn anon(&self, method: &str, path: &str) -> Req<'_> {
        Req {
            server: self,
            rb: self.http.request(
                Method::from_bytes(method.as_bytes()).unwrap(),
                self.url(path),
            ),
        }
    }

    pub fn req(&self, method: &str, path: &str) -> Req<'_> {
        Req {
            server: self,
            rb: self
                .http
                .request(
                    Method::from_bytes(method.as_bytes()).unwrap(),
                    self.url(path),
                )
                .basic_auth("admin", Some(ADMIN_PW)),
        }
    }
}

pub struct Req<'a> {
    #[allow(dead_code)]
    server: &'a Server,
    pub rb: reqwest::RequestBuilder,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    }
    pub fn xml(&self) -> Element {
        parse(&self.body).unwrap_or_else(|e| panic!("bad XML ({e}): {}", self.text()))
    }
    pub fn etag(&self) -> String {
        self.header("etag").expect("ETag header")
    }
}

impl Req<'_> {
    /// Replaces the credentials.
    pub fn auth(self, user: &str, pw: &str) -> Self {
        let built = self.rb.build().unwrap();
        let mut rb = self
            .server
            .http
            .request(built.method().clone(), built.url().clone());
        for (k, v) in built.headers() {
            if k != reqwest::header::AUTHORIZATION {
                rb = rb.header(k, v);
            }
        }
        if let Some(b) = built.body().and_then(|b| b.as_bytes()) {
            rb = rb.body(b.to_vec());
        }
        Req {
            server: self.server,
            rb: rb.basic_auth(user, Some(pw)),
        }
    }
    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.rb = self.rb.header(k, v);
        self
    }
    pub fn body(mut self, b: impl Into<reqwest::Body>) -> Self {
        self.rb = self.rb.body(b);
        self
    }
    pub fn xml(self, b: &str) -> Self {
        self.header("content-type", "application/xml; charset=utf-8")
            .body(b.to_string())
    }
    pub fn vcard(self, b: &[u8]) -> Self {
        self.header("content-type", "text/vcard; charset=utf-8")
            .body(b.to_vec())
    }
    pub async fn send(self) -> Resp {
        let r = self.rb.send().await.expect("request failed");
        Resp {
            status: r.status(),
            headers: r.headers().clone(),
            body: r.bytes().await.unwrap().to_vec(),
        }
    }
}

/// A minimal valid vCard 3.0.
pub fn card(uid: &str, fn_: &str) -> Vec<u8> {
    format!("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{fn_}\r\nN:{fn_};;;;\r\nEND:VCARD\r\n")
        .into_bytes()
}

pub const BOOK: &str = "/dav/addressbooks/admin/contacts/";

/// All `response` elements of a multistatus, as (href, element).
pub fn responses(ms: &Element) -> Vec<(String, &Element)> {
    ms.children_named("DAV:", "response")
        .map(|r| (r.child("DAV:", "href").unwrap().text.clone(), r))
        .collect()
}

/// The text of a property in the 200 propstat of a response.
pub fn prop<'a>(resp: &'a Element, ns: &str, name: &str) -> Option<&'a Element> {
    resp.children_named("DAV:", "propstat")
        .filter(|ps| ps.child("DAV:", "status").unwrap().text.contains(" 200 "))
        .find_map(|ps| ps.child("DAV:", "prop").unwrap().child(ns, name))
}

/// Status text of the propstat holding a property (e.g. "HTTP/1.1 404 Not Found").
pub fn prop_status(resp: &Element, ns: &str, name: &str) -> Option<String> {
    resp.children_named("DAV:", "propstat").find_map(|ps| {
        ps.child("DAV:", "prop")
            .unwrap()
            .child(ns, name)
            .map(|_| ps.child("DAV:", "status").unwrap().text.clone())
    })
}

/// The precondition element named in a DAV:error body.
pub fn error_condition(resp: &Resp) -> (String, String) {
    let el = resp.xml();
    assert!(
        el.is("DAV:", "error"),
        "not a DAV:error body: {}",
        resp.text()
    );
    let c = &el.children[0];
    (c.ns.clone(), c.name.clone())
}

pub fn sync_report(token: &str, limit: Option<usize>, props: &str) -> String {
    let limit = limit
        .map(|l| format!("<d:limit><d:nresults>{l}</d:nresults></d:limit>"))
        .unwrap_or_default();
    format!(
        r#"<?xml version="1.0"?><d:sync-collection xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:sync-token>{token}</d:sync-token><d:sync-level>1</d:sync-level>{limit}<d:prop>{props}</d:prop></d:sync-collection>"#
    )
}

/// Every card of admin's book as a client downloads it: resource name → (ETag, text).
pub async fn download_book(s: &Server) -> std::collections::BTreeMap<String, (String, String)> {
    let r = s
        .req("PROPFIND", BOOK)
        .header("depth", "1")
        .xml(r#"<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>"#)
        .send()
        .await;
    assert_eq!(r.status, 207);
    let ms = r.xml();
    let mut out = std::collections::BTreeMap::new();
    for (href, _) in responses(&ms) {
        if href.ends_with('/') {
            continue;
        }
        let g = s.req("GET", &href).send().await;
        assert_eq!(g.status, 200);
        out.insert(
            href.rsplit('/').next().unwrap_or_default().to_string(),
            (g.etag(), g.text()),
        );
    }
    out
}

/// What one sync-collection REPORT on admin's book returned.
pub struct Synced {
    pub token: String,
    pub present: std::collections::BTreeSet<String>,
    pub removed: std::collections::BTreeSet<String>,
    pub etags: std::collections::BTreeMap<String, String>,
}

/// A sync-collection REPORT on admin's book from `token` (empty: an initial sync).
pub async fn sync_book(s: &Server, token: &str) -> Synced {
    let r = s
        .req("REPORT", BOOK)
        .header("depth", "0")
        .xml(&sync_report(token, None, "<d:getetag/>"))
        .send()
        .await;
    assert_eq!(r.status, 207, "{}", r.text());
    let ms = r.xml();
    let mut out = Synced {
        token: ms.child("DAV:", "sync-token").unwrap().text.clone(),
        present: std::collections::BTreeSet::new(),
        removed: std::collections::BTreeSet::new(),
        etags: std::collections::BTreeMap::new(),
    };
    for (href, resp) in responses(&ms) {
        if resp
            .child("DAV:", "status")
            .is_some_and(|st| st.text.contains(" 404 "))
        {
            out.removed.insert(href);
        } else {
            let etag = prop(resp, "DAV:", "getetag").unwrap().text.clone();
            out.etags.insert(href.clone(), etag);
            out.present.insert(href);
        }
    }
    out
}

/// Overwrites a stored object's bytes behind the server's back, as a Kith from before the
/// refusals of issue 24 would have stored them (an old row the repair must find).
pub async fn store_raw(data_dir: &Path, name: &str, data: &[u8]) {
    use sqlx::Connection;
    let sql = "UPDATE objects SET data = $1, size = $2 WHERE name = $3";
    let size = data.len() as i64;
    let done = match database_for(data_dir) {
        Some(url) => {
            let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
            let q = sqlx::query(sql).bind(data).bind(size).bind(name);
            q.execute(&mut c).await.unwrap().rows_affected()
        }
        None => {
            let url = format!("sqlite:{}", data_dir.join("kith.db").display());
            let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
            let q = sqlx::query(sql).bind(data).bind(size).bind(name);
            q.execute(&mut c).await.unwrap().rows_affected()
        }
    };
    assert_eq!(done, 1, "one object is named {name}");
}
