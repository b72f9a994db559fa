//! Sinks for what Kith sends out: an SMTP server that keeps every message (no TLS: Kith's
//! `security = "none"`, as for a local relay) and a webhook receiver that keeps every POST.
//! Tests wait on them with a timeout instead of sleeping.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// What arrived, with a condition variable to wait for more.
pub struct Inbox<T> {
    items: Mutex<Vec<T>>,
    more: Condvar,
}

impl<T: Clone> Inbox<T> {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Inbox {
            items: Mutex::new(Vec::new()),
            more: Condvar::new(),
        })
    }

    pub(crate) fn push(&self, item: T) {
        if let Ok(mut v) = self.items.lock() {
            v.push(item);
            self.more.notify_all();
        }
    }

    pub fn all(&self) -> Vec<T> {
        self.items.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Waits until `n` items arrived (at most `within`); all that arrived.
    pub fn wait_for(&self, n: usize, within: Duration) -> Vec<T> {
        let end = Instant::now() + within;
        let Ok(mut v) = self.items.lock() else {
            return Vec::new();
        };
        while v.len() < n {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match self.more.wait_timeout(v, left) {
                Ok((g, _)) => v = g,
                Err(_) => return Vec::new(),
            }
        }
        v.clone()
    }
}

/// One message as the SMTP server received it.
#[derive(Clone, Debug)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// Headers and body, dot-unstuffed.
    pub data: String,
}

/// An SMTP server on 127.0.0.1; returns its port. Recipients whose local part is `bounce` are
/// refused with 550, as a real server refuses an unknown mailbox.
pub fn smtp() -> (u16, Arc<Inbox<Mail>>) {
    let inbox = Inbox::new();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the SMTP sink");
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let keep = inbox.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let keep = keep.clone();
            std::thread::spawn(move || {
                let _ = session(conn, &keep);
            });
        }
    });
    (port, inbox)
}

fn session(conn: TcpStream, inbox: &Inbox<Mail>) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut out = conn.try_clone()?;
    let mut lines = BufReader::new(conn);
    let mut say = |s: &str| out.write_all(format!("{s}\r\n").as_bytes());
    say("220 sink.test ESMTP ready")?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            say("250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8")?;
        } else if upper.starts_with("HELO") {
            say("250 sink.test")?;
        } else if upper.starts_with("MAIL FROM:") {
            from = address(&cmd[10..]);
            to.clear();
            say("250 2.1.0 OK")?;
        } else if upper.starts_with("RCPT TO:") {
            let a = address(&cmd[8..]);
            if a.split('@').next() == Some("bounce") {
                say("550 5.1.1 No such user here")?;
            } else {
                to.push(a);
                say("250 2.1.5 OK")?;
            }
        } else if upper == "DATA" {
            if to.is_empty() {
                say("554 5.5.1 No valid recipients")?;
                continue;
            }
            say("354 End data with <CR><LF>.<CR><LF>")?;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                let l = line.trim_end_matches(['\r', '\n']);
                if l == "." {
                    break;
                }
                data.push_str(l.strip_prefix('.').unwrap_or(l));
                data.push('\n');
            }
            inbox.push(Mail {
                from: from.clone(),
                to: to.clone(),
                data,
            });
            say("250 2.0.0 Queued")?;
        } else if upper == "RSET" || upper == "NOOP" {
            say("250 OK")?;
        } else if upper == "QUIT" {
            say("221 2.0.0 Bye")?;
            return Ok(());
        } else {
            say("502 5.5.2 Command not recognized")?;
        }
    }
}

/// `<a@b>` (with any parameters after it) as `a@b`.
fn address(arg: &str) -> String {
    let a = arg.trim();
    match (a.find('<'), a.find('>')) {
        (Some(i), Some(j)) if i < j => a[i + 1..j].to_string(),
        _ => a.split_whitespace().next().unwrap_or("").to_string(),
    }
}

/// One POST the webhook receiver got.
#[derive(Clone, Debug)]
pub struct Hook {
    pub path: String,
    pub content_type: String,
    pub body: String,
}

/// A webhook receiver; returns its base URL. `POST /fail` answers 500, as a broken receiver.
pub fn webhook() -> (String, Arc<Inbox<Hook>>) {
    let inbox = Inbox::new();
    async fn take(
        State(inbox): State<Arc<Inbox<Hook>>>,
        uri: axum::http::Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> StatusCode {
        inbox.push(Hook {
            path: uri.path().to_string(),
            content_type: headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string(),
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        if uri.path() == "/fail" {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::NO_CONTENT
        }
    }
    let router = Router::new()
        .route("/{*path}", post(take))
        .with_state(inbox.clone());
    let url = crate::common::spawn(router, "the webhook sink");
    (url, inbox)
}
