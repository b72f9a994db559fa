//! A fake of Microsoft Graph contacts and of the Microsoft identity platform.
//!
//! Time is virtual: the real clock, run `time_scale` times faster, plus an offset the control
//! API advances. Kith is told the same scale (`providers.wait_scale`), so a `Retry-After: 30`
//! that Kith honours shows in the log as 30 virtual seconds.

pub(crate) mod calendar;
mod contacts;
mod control;
mod delta;
mod directory;
pub mod errors;
mod graph;
mod identity;
mod subscriptions;

use crate::common::json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Knobs {
    pub client_id: String,
    pub client_secret: String,
    /// Virtual seconds per real second.
    pub time_scale: f64,
    pub access_ttl_secs: i64,
    /// A refresh token unused this long dies (AADSTS700082).
    pub refresh_inactivity_secs: i64,
    /// Rotation also revokes the refresh token that was used (real Microsoft keeps it).
    pub revoke_old_refresh: bool,
    /// Delta tokens die this long after they were issued (410 syncStateNotFound).
    pub delta_ttl_secs: i64,
    /// Every Nth page of a round is empty (still with a nextLink); 0: never.
    pub empty_every: u32,
    /// Each row of a round also comes a second time, later in the round.
    pub duplicate_rows: bool,
    /// Rows of a round come in reverse order.
    pub reverse_rows: bool,
    /// Updated contacts come as their id and a few properties only.
    pub partial_rows: bool,
    /// Act as if `Prefer: IdType="ImmutableId"` were not sent (ids change on a move).
    pub ignore_immutable: bool,
    /// Too many emails or phones: `truncate` (keep the first) or `reject` (400).
    pub slot_overflow: String,
    /// Requests per 10 virtual minutes per app and mailbox.
    pub requests_per_10_min: u32,
    /// The next N requests get 429.
    pub storm: u32,
    /// The Retry-After a 429 carries; `null`: none.
    pub retry_after_secs: Option<u64>,
    /// The next N requests get 503.
    pub unavailable: u32,
    /// Outlook's limit of requests in flight per app; more get 429.
    pub max_concurrent: u32,
    /// How long each request takes (real ms), so concurrency shows.
    pub latency_ms: u64,
    /// The next N PATCHes with a current If-Match are refused with 412 anyway.
    pub flaky_stale: u32,
    /// The next N creates succeed, but the answer is lost.
    pub lose_creates: u32,
    /// After N more Graph requests, the user's tokens are revoked (AADSTS50173).
    pub revoke_after: u32,
    /// The next N change notifications are lost (Graph gives up after its retries).
    pub drop_notifications: u32,
    /// Each change notification is delivered twice.
    pub duplicate_notifications: bool,
}

impl Default for Knobs {
    fn default() -> Self {
        Knobs {
            client_id: "11111111-2222-3333-4444-555555555555".into(),
            client_secret: "fake-m365-secret".into(),
            time_scale: 1.0,
            access_ttl_secs: 3599,
            refresh_inactivity_secs: 90 * 24 * 3600,
            revoke_old_refresh: false,
            delta_ttl_secs: 30 * 24 * 3600,
            empty_every: 0,
            duplicate_rows: false,
            reverse_rows: false,
            partial_rows: false,
            ignore_immutable: false,
            slot_overflow: "truncate".into(),
            requests_per_10_min: 10_000,
            storm: 0,
            retry_after_secs: Some(30),
            unavailable: 0,
            max_concurrent: 4,
            latency_ms: 0,
            flaky_stale: 0,
            lose_creates: 0,
            revoke_after: 0,
            drop_notifications: 0,
            duplicate_notifications: false,
        }
    }
}

/// An organisation: whether its admin consented, and its policies.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Tenant {
    pub id: String,
    pub admin_consented: bool,
    pub user_consent_allowed: bool,
    pub assignment_required: bool,
    pub conditional_access_block: bool,
    /// The AADSTS a user meets when consent is needed: 65001, 90094 or 90093.
    pub consent_error: u32,
}

impl Default for Tenant {
    fn default() -> Self {
        Tenant {
            id: String::new(),
            admin_consented: false,
            user_consent_allowed: true,
            assignment_required: false,
            conditional_access_block: false,
            consent_error: 65001,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Contact {
    /// The id that survives moves (ImmutableId), and the one that does not.
    pub immutable: String,
    pub regular: String,
    pub folder: String,
    pub data: Map<String, Value>,
    pub change_key: String,
    pub created: i64,
    pub modified: i64,
    pub marker: Option<String>,
}

/// One change in a mailbox's feed.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub seq: u64,
    pub folder: String,
    pub immutable: String,
    /// The regular id at the time (a move changes it).
    pub regular: String,
    pub removed: Option<&'static str>,
}

#[derive(Debug, Default)]
pub(crate) struct Mailbox {
    pub tenant: String,
    pub assigned: bool,
    pub time_zone: String,
    pub folders: BTreeMap<String, String>,
    pub contacts: BTreeMap<String, Contact>,
    pub events: Vec<Event>,
    pub writing: bool,
    pub window: (i64, u32),
    pub next: u64,
}

pub(crate) struct Code {
    pub account: String,
    pub redirect_uri: String,
    pub challenge: String,
    pub scope: String,
    pub issued: i64,
}

pub(crate) struct Refresh {
    pub account: String,
    pub scope: String,
    pub last_used: i64,
    pub revoked: bool,
}

pub(crate) struct Round {
    pub account: String,
    pub folder: String,
    pub rows: Vec<Value>,
    pub offset: usize,
    pub page: u32,
    pub watermark: u64,
    pub page_size: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct LogEntry {
    pub t_ms: u64,
    /// Virtual time (Unix ms).
    pub vt: i64,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub account: String,
    /// Requests in flight when this one arrived (itself included).
    pub in_flight: u32,
}

pub struct World {
    pub knobs: Knobs,
    pub(crate) offset_ms: i64,
    pub(crate) started: Instant,
    pub(crate) started_ms: i64,
    pub(crate) tenants: HashMap<String, Tenant>,
    pub(crate) mailboxes: HashMap<String, Mailbox>,
    /// Who signs in at the next authorization, and whether they decline.
    pub(crate) signin: (String, bool),
    /// Who answers the next admin-consent page: a tenant, and whether they are its admin.
    pub(crate) admin: (String, bool),
    pub(crate) codes: HashMap<String, Code>,
    pub(crate) used_codes: Vec<String>,
    pub(crate) refresh: HashMap<String, Refresh>,
    pub(crate) access: HashMap<String, (String, i64)>,
    /// The scopes each access token was granted (tokens the control API mints have all).
    pub(crate) scopes: HashMap<String, String>,
    /// Tenant → its users by id.
    pub(crate) directory: HashMap<String, BTreeMap<String, directory::DirUser>>,
    /// Delta token → (mailbox, folder, watermark, issued at).
    pub(crate) deltas: HashMap<String, (String, String, u64, i64)>,
    pub(crate) rounds: HashMap<String, Round>,
    pub(crate) calendars: calendar::Calendars,
    pub(crate) seq: u64,
    pub(crate) in_flight: u32,
    pub(crate) log: Vec<LogEntry>,
    pub(crate) subscriptions: Vec<subscriptions::Sub>,
    /// Lifecycle notifications waiting for the sender.
    pub(crate) outbox: subscriptions::Outbox,
    /// What the sender delivered, with Kith's answers.
    pub(crate) deliveries: Vec<Value>,
    /// Whether the notification sender runs.
    pub(crate) notifying: bool,
}

impl World {
    pub(crate) fn now(&self) -> i64 {
        let real = self.started.elapsed().as_secs_f64() * 1000.0;
        self.started_ms + self.offset_ms + (real * self.knobs.time_scale) as i64
    }

    pub(crate) fn mailbox(&mut self, account: &str) -> &mut Mailbox {
        self.mailboxes
            .entry(account.to_string())
            .or_insert_with(|| Mailbox {
                tenant: "contoso".into(),
                assigned: true,
                time_zone: "UTC".into(),
                ..Mailbox::default()
            })
    }

    pub(crate) fn tenant(&mut self, id: &str) -> &mut Tenant {
        self.tenants
            .entry(id.to_string())
            .or_insert_with(|| Tenant {
                id: id.to_string(),
                ..Tenant::default()
            })
    }
}

#[derive(Clone)]
pub struct Fake(pub Arc<Mutex<World>>);

impl Default for Fake {
    fn default() -> Self {
        Self::new()
    }
}

impl Fake {
    pub fn new() -> Fake {
        let started_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Fake(Arc::new(Mutex::new(World {
            knobs: Knobs::default(),
            offset_ms: 0,
            started: Instant::now(),
            started_ms,
            tenants: HashMap::new(),
            mailboxes: HashMap::new(),
            signin: (String::new(), false),
            admin: (String::new(), false),
            codes: HashMap::new(),
            used_codes: Vec::new(),
            refresh: HashMap::new(),
            access: HashMap::new(),
            scopes: HashMap::new(),
            directory: HashMap::new(),
            deltas: HashMap::new(),
            rounds: HashMap::new(),
            calendars: calendar::Calendars::default(),
            seq: 0,
            in_flight: 0,
            log: Vec::new(),
            subscriptions: Vec::new(),
            outbox: Vec::new(),
            deliveries: Vec::new(),
            notifying: false,
        })))
    }

    pub(crate) fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
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
    let base = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| format!("http://{h}"))
        .unwrap_or_default();
    if path.starts_with("/_fake/") {
        return control::handle(&fake, &method, &path, &query, &body);
    }
    let (resp, account, in_flight) = if subscriptions::is_subscriptions(&path) {
        let account = subscriptions::account(&fake.world(), &headers);
        match account {
            Some(a) => (
                subscriptions::handle(&fake, &a, &method, &path, &body).await,
                a,
                0,
            ),
            None => (errors::unauthenticated(), String::new(), 0),
        }
    } else if path.starts_with("/v1.0/") {
        graph::handle(&fake, &method, &path, &query, &headers, &body, &base).await
    } else if let Some(r) = identity::handle(&fake, &method, &path, &query, &headers, &body) {
        (r, String::new(), 0)
    } else {
        (
            errors::graph(404, "ResourceNotFound", "Resource not found."),
            String::new(),
            0,
        )
    };
    let mut w = fake.world();
    let entry = LogEntry {
        t_ms: w.started.elapsed().as_millis() as u64,
        vt: w.now(),
        method: method.to_string(),
        path: format!(
            "{path}{}",
            if query.is_empty() {
                String::new()
            } else {
                format!("?{query}")
            }
        ),
        status: resp.status().as_u16(),
        account,
        in_flight,
    };
    w.log.push(entry);
    resp
}

pub fn router(fake: Fake) -> Router {
    crate::common::router(route, fake)
}

pub async fn serve(listener: tokio::net::TcpListener, fake: Fake) {
    crate::common::serve(listener, router(fake), "kith-fake-m365").await;
}

/// Starts a fake on a loopback port in a thread of its own; returns its base URL and handle.
pub fn spawn() -> (String, Fake) {
    let fake = Fake::new();
    let url = crate::common::spawn(router(fake.clone()), "the fake Microsoft 365");
    (url, fake)
}

pub(crate) fn ok(v: Value) -> Response {
    json(axum::http::StatusCode::OK, v)
}
