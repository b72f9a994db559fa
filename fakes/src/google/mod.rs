//! A fake of Google's People API and OAuth 2.0 server.
//!
//! State lives in one [`World`] behind a mutex. Time is virtual: the real clock plus an offset
//! the control API advances, so tests reach token expiry, quota refills and propagation delay
//! without sleeping.

pub(crate) mod calendar;
mod channels;
mod control;
mod directory;
pub mod errors;
mod oauth;
mod people;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

pub(crate) use crate::common::{form, json, token};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Knobs the control API sets (`POST /_fake/config`); every field is optional there.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Knobs {
    /// Sync tokens expire this long after the full sync that started their chain.
    pub sync_token_ttl_secs: i64,
    /// 400 FAILED_PRECONDITION (what clients see) or 410 (what the guide says).
    pub expired_status: u16,
    /// A write shows in listings and sync results only this long after it happened.
    pub propagation_secs: i64,
    /// Every Nth page of a listing is empty (still with a next-page token); 0: never.
    pub empty_every: u32,
    /// Per-user requests per minute (reads and writes separately); 0: unlimited.
    pub reads_per_min: u32,
    pub writes_per_min: u32,
    /// The first page of a full sync has its own fixed quota.
    pub full_sync_first_pages_per_min: u32,
    /// The next N People API requests get 429 RESOURCE_EXHAUSTED.
    pub storm: u32,
    /// The next N updates with a correct etag are rejected as stale anyway (Google's
    /// eventual-consistency window).
    pub flaky_stale: u32,
    /// The next N creates succeed, but the connection drops before the answer is sent.
    pub lose_creates: u32,
    /// After this many more People API requests, the user revokes Kith's access (their
    /// tokens stop working mid-run); 0: never.
    pub revoke_after: u32,
    /// Every read returns a new photo URL (Google re-encodes and re-hosts photos).
    pub photo_churn: bool,
    /// The language of `formattedType` when a request sends no `Accept-Language`.
    pub default_language: String,
    /// Access tokens last this long.
    pub access_ttl_secs: i64,
    /// "Testing" publishing status: refresh tokens die 7 days after they were issued.
    pub testing: bool,
    /// The OAuth client the fake accepts.
    pub client_id: String,
    pub client_secret: String,
    /// The next N calendar push messages are lost.
    pub drop_notifications: u32,
    /// Each calendar push message is delivered twice.
    pub duplicate_notifications: bool,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            sync_token_ttl_secs: 7 * 24 * 3600,
            expired_status: 400,
            propagation_secs: 0,
            empty_every: 0,
            reads_per_min: 0,
            writes_per_min: 0,
            full_sync_first_pages_per_min: 0,
            storm: 0,
            flaky_stale: 0,
            lose_creates: 0,
            revoke_after: 0,
            photo_churn: false,
            default_language: "en".into(),
            access_ttl_secs: 3599,
            testing: false,
            client_id: "kith-test.apps.googleusercontent.com".into(),
            client_secret: "fake-secret".into(),
            drop_notifications: 0,
            duplicate_notifications: false,
        }
    }
}

/// What the next consent screen does (`POST /_fake/consent`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Consent {
    pub account: String,
    pub hd: Option<String>,
    /// The user unticks the contacts scope.
    pub deny_contacts: bool,
    /// The user unticks the calendar scope.
    pub deny_calendar: bool,
    /// The screen ends in this error instead (`access_denied`, `admin_policy_enforced`,
    /// `org_internal`).
    pub error: Option<String>,
}

/// One stored person and where it sits in the change feed.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub person: Value,
    pub etag: String,
    /// Position in the change feed, and when the change becomes visible to listings.
    pub seq: u64,
    pub visible_at: i64,
    /// When the person first became visible (a new contact is missing from listings until).
    pub born_visible_at: i64,
    pub deleted: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Account {
    pub hd: Option<String>,
    pub people: BTreeMap<String, Stored>,
    pub groups: BTreeMap<String, String>,
    pub next_id: u64,
    /// A mutation is in flight (Google wants them sequential per user).
    pub writing: bool,
    pub buckets: HashMap<&'static str, (f64, i64)>,
}

pub(crate) struct Code {
    pub redirect_uri: String,
    pub challenge: String,
    pub account: String,
    pub scope: String,
    pub offline: bool,
}

pub(crate) struct Refresh {
    pub account: String,
    pub issued_at: i64,
    pub revoked: bool,
    pub scope: String,
}

pub(crate) struct Listing {
    pub account: String,
    pub params: String,
    pub entries: Vec<Value>,
    pub offset: usize,
    pub page: u32,
    pub next_sync: Option<(u64, i64)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LogEntry {
    /// Real milliseconds since the fake started.
    pub t_ms: u64,
    /// Virtual time (Unix ms).
    pub vt: i64,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub account: String,
}

pub struct World {
    pub knobs: Knobs,
    pub consent: Consent,
    pub(crate) offset_ms: i64,
    pub(crate) accounts: HashMap<String, Account>,
    pub(crate) codes: HashMap<String, Code>,
    pub(crate) refresh: HashMap<String, Refresh>,
    pub(crate) access: HashMap<String, (String, i64)>,
    /// The scopes each access token was granted (tokens the control API mints have all).
    pub(crate) scopes: HashMap<String, String>,
    /// Workspace domain → its directory profiles by resource name.
    pub(crate) directories: HashMap<String, BTreeMap<String, directory::Profile>>,
    /// Sync token → (account, feed watermark, when the chain's full sync ran).
    pub(crate) sync_tokens: HashMap<String, (String, u64, i64)>,
    pub(crate) listings: HashMap<String, Listing>,
    pub(crate) calendars: calendar::Calendars,
    pub(crate) seq: u64,
    pub(crate) started: Instant,
    pub(crate) log: Vec<LogEntry>,
    pub(crate) channels: Vec<channels::Channel>,
    /// Messages waiting for the sender (a new channel's `sync`).
    pub(crate) pending: Vec<channels::Message>,
    pub(crate) deliveries: Vec<Value>,
    pub(crate) notifying: bool,
}

impl World {
    pub(crate) fn now(&self) -> i64 {
        let real = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        real + self.offset_ms
    }

    pub(crate) fn account(&mut self, email: &str) -> &mut Account {
        self.accounts.entry(email.to_string()).or_default()
    }

    pub(crate) fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }
}

/// A handle on a fake: cheap to clone, shared by its server and whoever controls it.
#[derive(Clone)]
pub struct Fake(pub Arc<Mutex<World>>);

impl Default for Fake {
    fn default() -> Self {
        Self::new()
    }
}

impl Fake {
    pub fn new() -> Fake {
        Fake(Arc::new(Mutex::new(World {
            knobs: Knobs::default(),
            consent: Consent::default(),
            offset_ms: 0,
            accounts: HashMap::new(),
            codes: HashMap::new(),
            refresh: HashMap::new(),
            access: HashMap::new(),
            scopes: HashMap::new(),
            directories: HashMap::new(),
            sync_tokens: HashMap::new(),
            listings: HashMap::new(),
            calendars: calendar::Calendars::default(),
            seq: 0,
            started: Instant::now(),
            log: Vec::new(),
            channels: Vec::new(),
            pending: Vec::new(),
            deliveries: Vec::new(),
            notifying: false,
        })))
    }

    pub(crate) fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Revokes every token of `account` (the user removed the app in their Google account).
pub(crate) fn revoke_account(w: &mut World, account: &str) {
    for r in w.refresh.values_mut().filter(|r| r.account == account) {
        r.revoked = true;
    }
    w.access.retain(|_, (a, _)| a != account);
}

async fn route(
    State(fake): State<Fake>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    let (resp, account) = if path.starts_with("/_fake/") {
        (
            control::handle(&fake, &method, &path, &query, &body),
            String::new(),
        )
    } else if path == "/o/oauth2/v2/auth" {
        (oauth::authorize(&fake, &query), String::new())
    } else if path == "/token" {
        (oauth::token(&fake, &headers, &body), String::new())
    } else if path == "/revoke" {
        (oauth::revoke(&fake, &query, &body), String::new())
    } else if path == "/calendar/v3/channels/stop" || path.ends_with("/events/watch") {
        let account = people::bearer(&fake.world(), &headers);
        match account {
            Some(a) if path.ends_with("/events/watch") => {
                let cal = path
                    .trim_start_matches("/calendar/v3/calendars/")
                    .trim_end_matches("/events/watch");
                let cal = percent_encoding::percent_decode_str(cal)
                    .decode_utf8_lossy()
                    .into_owned();
                (channels::watch(&fake, &a, &cal, &body), a)
            }
            Some(a) => (channels::stop(&fake, &a, &body), a),
            None => (calendar::invalid_credentials(), String::new()),
        }
    } else if path.starts_with("/calendar/v3/") {
        let mut w = fake.world();
        match people::bearer(&w, &headers) {
            Some(account) => {
                let scopes = people::scope_of(&w, &headers);
                let req = calendar::Req {
                    method: &method,
                    path: &path,
                    query: &query,
                    headers: &headers,
                    body: &body,
                };
                let r = calendar::handle(&mut w, &account, scopes.as_deref(), req);
                (r, account)
            }
            None => (calendar::invalid_credentials(), String::new()),
        }
    } else if path.starts_with("/v1/") {
        people::handle(&fake, &method, &path, &query, &headers, &body).await
    } else {
        (errors::not_found(), String::new())
    };
    if !path.starts_with("/_fake/") {
        let mut w = fake.world();
        let entry = LogEntry {
            t_ms: w.started.elapsed().as_millis() as u64,
            vt: w.now(),
            method: method.to_string(),
            path,
            status: resp.status().as_u16(),
            account,
        };
        w.log.push(entry);
    }
    resp
}

pub fn router(fake: Fake) -> Router {
    crate::common::router(route, fake)
}

pub async fn serve(listener: tokio::net::TcpListener, fake: Fake) {
    crate::common::serve(listener, router(fake), "kith-fake-google").await;
}

/// Starts a fake on a loopback port in a thread of its own; returns its base URL and handle.
pub fn spawn() -> (String, Fake) {
    let fake = Fake::new();
    let url = crate::common::spawn(router(fake.clone()), "the fake Google");
    (url, fake)
}
