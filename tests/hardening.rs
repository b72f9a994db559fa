//! Issue 26: no request and no client can take the server down or lock its users out.

use crate::common::*;
use std::io::{Read, Write};
use std::time::Duration;

const CARDDAV: &str = "urn:ietf:params:xml:ns:carddav";

/// Each server here runs under a 512 MiB memory cap (`prlimit --data`): an attack that once
/// exhausted memory now ends the process instead of passing.
const CAP: (&str, &str) = ("KITH_TEST_DATA_CAP", "536870912");

/// A server with `config` as its config file.
fn start_with_config(config: &str) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kith.toml");
    std::fs::write(&path, config).unwrap();
    let s = Server::start_with(&[("KITH_CONFIG", path.to_str().unwrap()), CAP]);
    (s, dir)
}

#[tokio::test]
async fn wrong_passwords_are_throttled_but_app_passwords_keep_working() {
    let s = Server::start_with(&[CAP]);
    let (ok, token, err) = kith_cli(
        s.dir.path(),
        &["user", "app-password", "add", "admin", "--label", "phone"],
        "",
    );
    assert!(ok, "{err}");
    let token = token.trim().to_string();
    let status = |user: &str, pw: &str| {
        let r = s.req("PROPFIND", BOOK).auth(user, pw).header("depth", "0");
        async move {
            let r = r.send().await;
            (r.status.as_u16(), r.header("retry-after"))
        }
    };
    // 60 wrong passwords at once: each is counted before it is checked, so only five are.
    let tries: Vec<_> = (0..60)
        .map(|i| status("admin", if i % 2 == 0 { "nope" } else { "wrong" }))
        .collect();
    let answers = futures_util::future::join_all(tries).await;
    let checked = answers.iter().filter(|(c, _)| *c == 401).count();
    let refused = answers.iter().filter(|(c, _)| *c == 429).count();
    assert_eq!((checked, refused), (5, 55), "{answers:?}");
    assert!(
        answers
            .iter()
            .filter(|(c, _)| *c == 429)
            .all(|(_, r)| r.is_some()),
        "Retry-After"
    );
    // From this address, even the right password waits; the phone's app password does not.
    assert_eq!(status("admin", ADMIN_PW).await.0, 429);
    assert_eq!(status("admin", &token).await.0, 207);
    // An unknown name is throttled the same way as a known one.
    for _ in 0..5 {
        assert_eq!(status("ghost", "x").await.0, 401);
    }
    assert_eq!(status("ghost", "x").await.0, 429);
    assert_eq!(s.anon("GET", "/healthz").send().await.status, 200);
}

#[tokio::test]
async fn a_password_change_from_the_cli_ends_browser_sessions() {
    let s = Server::start();
    let cookie = s.web_session("admin", ADMIN_PW).await;
    let page = |c: String| {
        let url = s.url("/sources");
        async move {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap()
                .get(url)
                .header("cookie", c)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(page(cookie.clone()).await, 200);
    let (ok, out, err) = kith_cli(
        s.dir.path(),
        &["user", "passwd", "admin", "--password-stdin"],
        "a-new-password\n",
    );
    assert!(ok, "{err}");
    assert!(out.contains("browser sessions ended"), "{out}");
    assert_eq!(page(cookie).await, 303, "signed out");
}

#[tokio::test]
async fn slow_clients_are_cut_off_and_do_not_starve_others() {
    let (s, _conf) = start_with_config(
        "[server.limits]\nmax_connections = 3\nheader_timeout = \"1s\"\nbody_timeout = \"1s\"\n",
    );
    let addr = s.base.trim_start_matches("http://").to_string();
    // Three clients that never finish their headers take every slot.
    let mut slow: Vec<std::net::TcpStream> = (0..3)
        .map(|_| {
            let mut c = std::net::TcpStream::connect(&addr).unwrap();
            c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            c
        })
        .collect();
    // A normal client is served once the slow ones are cut off.
    let r = s.anon("GET", "/healthz").send().await;
    assert_eq!(r.status, 200);
    for c in &mut slow {
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut buf = Vec::new();
        // The server closes the connection (perhaps after a 408): the read ends.
        let n = c.read_to_end(&mut buf);
        assert!(n.is_ok(), "the slow connection was not closed: {n:?}");
    }
    // A body that stops arriving is cut off too.
    let mut c = std::net::TcpStream::connect(&addr).unwrap();
    c.write_all(
        format!(
            "PUT {BOOK}x.vcf HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {}\r\nContent-Type: text/vcard\r\nContent-Length: 1000\r\n\r\nBEGIN:VCARD\r\n",
            base64_basic("admin", ADMIN_PW)
        )
        .as_bytes(),
    )
    .unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut buf = Vec::new();
    assert!(c.read_to_end(&mut buf).is_ok());
    assert!(!String::from_utf8_lossy(&buf).starts_with("HTTP/1.1 201"));
    // A fresh connection: the pooled one sat idle past the 1 s limit and was closed.
    let r = reqwest::Client::new()
        .get(s.url(&format!("{BOOK}x.vcf")))
        .basic_auth("admin", Some(ADMIN_PW))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404, "nothing half-written was stored");
}

fn base64_basic(user: &str, pw: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = format!("{user}:{pw}").into_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, x)| acc | (u32::from(*x) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[tokio::test]
async fn a_huge_text_match_is_refused_with_its_precondition() {
    let s = Server::start();
    let needle = "a".repeat(50_000);
    let r = s
        .req("REPORT", BOOK)
        .header("depth", "1")
        .xml(&format!(
            r#"<c:addressbook-query xmlns:d="DAV:" xmlns:c="{CARDDAV}"><d:prop><d:getetag/></d:prop><c:filter><c:prop-filter name="FN"><c:text-match>{needle}</c:text-match></c:prop-filter></c:filter></c:addressbook-query>"#
        ))
        .send()
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("supported-filter"));
    assert!(r.text().contains("limited to 1000 characters"));
}

#[tokio::test]
async fn uploads_up_to_the_documented_size_are_read() {
    let s = Server::start();
    let cookie = s.web_session("admin", ADMIN_PW).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http
        .get(s.url("/sources"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a form token")
        .to_string();
    // About 3 MB of LinkedIn rows: over axum's 2 MB default, well under the 50 MB documented.
    let mut csv =
        String::from("First Name,Last Name,URL,Email Address,Company,Position,Connected On\n");
    let mut i = 0;
    while csv.len() < 3 << 20 {
        csv.push_str(&format!(
            "Person{i},Test,https://www.linkedin.com/in/person-{i},,Company {i},Engineer,01 Jan 2024\n"
        ));
        i += 1;
    }
    let b = "kithboundary42";
    let body = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n--{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"Connections.csv\"\r\nContent-Type: text/csv\r\n\r\n{csv}\r\n--{b}--\r\n"
    );
    let r = http
        .post(s.url("/sources/upload"))
        .header("cookie", &cookie)
        .header("content-type", format!("multipart/form-data; boundary={b}"))
        .body(body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    assert_eq!(status, 200, "{}", &text[..text.len().min(2000)]);
    assert!(text.contains(&format!("{i}")), "the rows were counted");
}

#[tokio::test]
async fn collections_and_their_properties_have_quotas() {
    let (s, _conf) = start_with_config(
        "[dav]\nmax_collections = 4\nmax_property_size = 1024\nmax_properties_size = 3000\n",
    );
    let book = "/dav/addressbooks/admin/";
    // The defaults are three (contacts, personal, tasks); one more fits.
    let r = s.req("MKCOL", &format!("{book}work/")).send().await;
    assert_eq!(r.status, 201, "{}", r.text());
    let r = s.req("MKCOL", &format!("{book}more/")).send().await;
    assert_eq!(r.status, 507, "{}", r.text());
    assert!(r.text().contains("quota-not-exceeded"));

    let set = |value: String| {
        let body = format!(
            r#"<d:propertyupdate xmlns:d="DAV:" xmlns:x="urn:example"><d:set><d:prop><x:note>{value}</x:note></d:prop></d:set></d:propertyupdate>"#
        );
        let r = s.req("PROPPATCH", &format!("{book}work/")).xml(&body);
        async move { r.send().await }
    };
    let r = set("a".repeat(2000)).await;
    assert_eq!(r.status, 207);
    assert!(
        r.text().contains("507 Insufficient Storage"),
        "{}",
        r.text()
    );
    assert!(set("a".repeat(900)).await.text().contains("200 OK"));
    // Three of them would pass the collection's total.
    let three: String = ["a", "b", "c"]
        .iter()
        .map(|n| format!("<x:{n}>{}</x:{n}>", n.to_uppercase().repeat(900)))
        .collect();
    let body = format!(
        r#"<d:propertyupdate xmlns:d="DAV:" xmlns:x="urn:example"><d:set><d:prop>{three}</d:prop></d:set></d:propertyupdate>"#
    );
    let r = s
        .req("PROPPATCH", &format!("{book}work/"))
        .xml(&body)
        .send()
        .await;
    assert!(
        r.text().contains("507 Insufficient Storage"),
        "{}",
        r.text()
    );
    // Nothing of a refused PROPPATCH was applied.
    let r = s
        .req("PROPFIND", &format!("{book}work/"))
        .header("depth", "0")
        .xml(r#"<d:propfind xmlns:d="DAV:" xmlns:x="urn:example"><d:prop><x:a/></d:prop></d:propfind>"#)
        .send()
        .await;
    assert!(r.text().contains("404 Not Found"), "{}", r.text());
}

/// kill -9 of `kith import` while it applies: the run is never reported applied without its
/// changes, and the next import does not wait for the dead process's lease.
#[tokio::test]
async fn a_killed_import_leaves_no_false_applied_run_and_no_stuck_lease() {
    use std::io::BufRead;
    let s = Server::start();
    let csv = s.dir.path().join("Connections.csv");
    let mut text =
        String::from("First Name,Last Name,URL,Email Address,Company,Position,Connected On\n");
    for i in 0..300 {
        text.push_str(&format!(
            "P{i},Test,https://www.linkedin.com/in/p-{i},,Co,Engineer,01 Jan 2024\n"
        ));
    }
    std::fs::write(&csv, text).unwrap();
    let file = csv.to_str().unwrap();
    let mut cmd = std::process::Command::new(kith_bin());
    if let Some(url) = database_for(s.dir.path()) {
        cmd.env("KITH_DATABASE_URL", url);
    }
    let mut child = cmd
        .args(["import", file, "--user", "admin", "--data-dir"])
        .arg(s.dir.path())
        .env("KITH_FAILPOINT", "sync-applying")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Readiness: the process says when it is about to apply.
    let out = child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(out).lines();
    loop {
        let line = lines.next().expect("the import ended early").unwrap();
        if line.contains("failpoint sync-applying") {
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let (_, history, _) = kith_cli(s.dir.path(), &["sync", "history", "--user", "admin"], "");
    assert!(history.contains("applying"), "{history}");
    assert!(!history.contains("applied"), "no false applied: {history}");
    assert!(download_book(&s).await.is_empty(), "nothing was written");

    // The next import starts at once and applies everything.
    let (ok, out, err) = kith_cli(s.dir.path(), &["import", file, "--user", "admin"], "");
    assert!(ok, "{err}\n{out}");
    assert_eq!(download_book(&s).await.len(), 300);
    let (_, history, _) = kith_cli(s.dir.path(), &["sync", "history", "--user", "admin"], "");
    assert!(history.contains("failed"), "{history}");
    assert!(history.contains("applied"), "{history}");
}

/// kill -9 of the server while a scheduled run applies: every acknowledged write is there after
/// the restart, the interrupted run is never reported applied, and the next run applies.
#[tokio::test]
async fn a_server_killed_while_applying_loses_no_acknowledged_write() {
    let conf = tempfile::tempdir().unwrap();
    let config = conf.path().join("kith.toml");
    std::fs::write(&config, "[sync]\nscheduler_tick_secs = 1\n").unwrap();
    let config = config.to_str().unwrap().to_string();
    let s = Server::start_with(&[
        ("KITH_CONFIG", config.as_str()),
        ("KITH_FAILPOINT", "sync-applying"),
    ]);
    let r = s
        .req("PUT", &format!("{BOOK}kept.vcf"))
        .vcard(b"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:kept\r\nFN:Kept\r\nEND:VCARD\r\n")
        .send()
        .await;
    assert_eq!(r.status, 201, "acknowledged");
    let csv = conf.path().join("Connections.csv");
    let rows = |n: usize| {
        let mut t =
            String::from("First Name,Last Name,URL,Email Address,Company,Position,Connected On\n");
        for i in 0..n {
            t.push_str(&format!(
                "P{i},Test,https://www.linkedin.com/in/p-{i},,Co,Engineer,01 Jan 2024\n"
            ));
        }
        t
    };
    std::fs::write(&csv, rows(3)).unwrap();
    let file = csv.to_str().unwrap();
    let cli = |args: &[&str]| {
        let (ok, out, err) = kith_cli(s.dir.path(), args, "");
        assert!(ok, "{args:?}: {err}\n{out}");
        out
    };
    cli(&["import", file, "--user", "admin"]);
    cli(&[
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
    std::fs::write(&csv, rows(10)).unwrap();
    // Readiness: the server says when its scheduled run is about to apply; then it dies.
    s.wait_for_line("kith: failpoint sync-applying");
    let s = s.restart(&[("KITH_CONFIG", config.as_str())]);
    let r = s.req("GET", &format!("{BOOK}kept.vcf")).send().await;
    assert_eq!(r.status, 200, "the acknowledged write survived");
    // The next scheduled run marks the interrupted one failed and applies the file.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if download_book(&s).await.len() == 11 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no run applied the file"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, history, _) = kith_cli(s.dir.path(), &["sync", "history", "--user", "admin"], "");
    assert!(history.contains("failed"), "{history}");
    assert!(!history.contains("applying"), "{history}");
}

#[tokio::test]
async fn a_byte_quota_refuses_what_would_pass_it_and_counts_replacements_once() {
    let (s, _conf) = start_with_config("[dav]\nmax_bytes_per_user = 2000\n");
    let card = |uid: &str, pad: usize| {
        format!(
            "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:{}\r\nEND:VCARD\r\n",
            "x".repeat(pad)
        )
    };
    let put = |name: &str, body: String| {
        let r = s
            .req("PUT", &format!("{BOOK}{name}"))
            .vcard(body.as_bytes());
        async move { r.send().await }
    };
    assert_eq!(put("a.vcf", card("a", 900)).await.status, 201);
    // Replacing a card counts its new size, not both.
    assert_eq!(put("a.vcf", card("a", 950)).await.status, 204);
    let r = put("b.vcf", card("b", 1200)).await;
    assert_eq!(r.status, 507, "{}", r.text());
    assert!(r.text().contains("quota-not-exceeded"));
    assert_eq!(put("b.vcf", card("b", 500)).await.status, 201);
}

/// A DAV request past `server.limits.request_timeout` is stopped with 503 and Retry-After,
/// and the server goes on answering others.
#[tokio::test]
async fn a_request_over_its_time_budget_is_stopped_with_503() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kith.toml");
    std::fs::write(&path, "[server.limits]\nrequest_timeout = \"1s\"\n").unwrap();
    // Every DAV request holds at the failpoint for 5 s, past its 1 s budget.
    let s = Server::start_with(&[
        ("KITH_CONFIG", path.to_str().unwrap()),
        ("KITH_FAILPOINT", "dav-request:5000"),
    ]);
    let r = s.req("PROPFIND", BOOK).header("depth", "0").send().await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.header("retry-after").as_deref(), Some("30"));
    assert!(r.text().contains("took longer than this server allows"));
    let h = s.anon("GET", "/healthz").send().await;
    assert_eq!(h.status, 200);
}
