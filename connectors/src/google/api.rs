//! The People API over HTTP: Google's error bodies sorted into what the engine must do, and
//! backoff (with jitter) on throttling, which Google signals without `Retry-After`.

use super::errors::oauth_message;
use crate::api::{self, Verdict};
use crate::exchange::{self, Answer, Retries};
use crate::oauth::{App, Session, Tokens};
use crate::retry::account_lock;
use reqwest::Method;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

pub use crate::exchange::ApiError;
pub use crate::oauth::TokenSink;

/// Where the People API and Google's OAuth endpoints are, and how hard to retry.
#[derive(Debug, Clone)]
pub struct Config {
    pub app: App,
    pub api_url: String,
    /// Where the Calendar API is (`https://www.googleapis.com`); `/calendar/v3` follows.
    pub calendar_url: String,
    pub revoke_url: String,
    pub page_size: u32,
    /// The first backoff after a 429/5xx; each retry doubles it (plus up to as much jitter).
    pub retry_base: Duration,
    pub max_retries: u32,
    /// Multiplies every wait (tests against the fake run its clock faster).
    pub wait_scale: f64,
}

pub struct Api {
    pub session: Session,
    pub cfg: Arc<Config>,
    /// The base every path is relative to: the People API's, or the Calendar API's.
    pub base: String,
}

/// Google's error envelope: `{"error":{"code","message","status","details":[{"reason"}]}}`.
struct GoogleError {
    message: String,
    status: String,
    reasons: Vec<String>,
}

fn google_error(body: &[u8]) -> GoogleError {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let e = &v["error"];
    GoogleError {
        message: e["message"].as_str().unwrap_or("").to_string(),
        status: e["status"].as_str().unwrap_or("").to_string(),
        // The newer APIs say why in `details`, the Calendar API in the older `errors`.
        reasons: e["details"]
            .as_array()
            .into_iter()
            .chain(e["errors"].as_array())
            .flatten()
            .filter_map(|d| d["reason"].as_str().map(str::to_string))
            .collect(),
    }
}

impl Api {
    pub fn new(cfg: Arc<Config>, tokens: Tokens, sink: Arc<dyn TokenSink>) -> Api {
        let client_id = cfg.app.client_id.clone();
        let session = Session::new(cfg.app.clone(), tokens, sink, move |e| {
            oauth_message(e, &client_id)
        });
        let base = cfg.api_url.clone();
        Api { session, cfg, base }
    }

    /// The Calendar API's base, for a calendar connector.
    pub fn for_calendar(mut self) -> Api {
        self.base = format!(
            "{}/calendar/v3",
            self.cfg.calendar_url.trim_end_matches('/')
        );
        self
    }

    /// One API call with retries. A POST whose answer is lost has an unknown outcome (a
    /// retried create could make a duplicate); other calls are retried.
    pub async fn call(
        &mut self,
        method: Method,
        path: &str,
        query: &[(&'static str, String)],
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        self.call_if_match(method, path, query, body, None).await
    }

    /// [`Api::call`] made conditional on the resource's etag (`If-Match`).
    pub async fn call_if_match(
        &mut self,
        method: Method,
        path: &str,
        query: &[(&'static str, String)],
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Result<Value, ApiError> {
        let create = method == Method::POST;
        let _turn = if method != Method::GET {
            Some(
                account_lock(&format!("google:{}", self.session.account()))
                    .lock_owned()
                    .await,
            )
        } else {
            None
        };
        let retries = Retries::new(
            self.cfg.retry_base,
            self.cfg.max_retries,
            self.cfg.wait_scale,
        );
        let url = format!("{}{path}", self.base);
        let build = |session: &Session| {
            let mut rb = session
                .http
                .request(method.clone(), &url)
                .bearer_auth(session.bearer())
                .query(query);
            if let Some(e) = if_match {
                rb = rb.header(reqwest::header::IF_MATCH, e);
            }
            match body {
                Some(b) => rb.json(b),
                None => rb,
            }
        };
        let send = async |rb| exchange::exchange("google", rb).await;
        api::call(
            &mut self.session,
            retries,
            "Google",
            create,
            build,
            send,
            classify,
        )
        .await
    }
}

/// What Google's error answers mean. A 401 here came after a refreshed token.
fn classify(a: &Answer) -> Verdict {
    let status = a.status;
    let err = google_error(&a.body);
    Verdict::Fail(match status {
        401 => ApiError::Reauth(format!(
            "Google refused Kith's access ({}); connect the account again",
            err.message
        )),
        410 => ApiError::Expired,
        400 if err.reasons.iter().any(|r| r == "EXPIRED_SYNC_TOKEN") => ApiError::Expired,
        400 | 412 if err.status == "FAILED_PRECONDITION" || status == 412 => ApiError::Stale,
        404 => ApiError::NotFound,
        409 if err.reasons.iter().any(|r| r == "duplicate") => {
            ApiError::Rejected(format!("Google answered 409 duplicate: {}", err.message))
        }
        403 if err.reasons.iter().any(|r| {
            matches!(
                r.as_str(),
                "rateLimitExceeded" | "userRateLimitExceeded" | "RATE_LIMIT_EXCEEDED"
            )
        }) =>
        {
            return Verdict::Retry(format!("Google answered 403 (rate limit): {}", err.message));
        }
        // Hours of read-only, not seconds: retrying within the run would only extend it.
        403 if err.reasons.iter().any(|r| r == "quotaExceeded") => ApiError::Unavailable(format!(
            "Google has made the calendar read-only for a while ({}): too many changes were written to it. Nothing is lost; Kith writes them at a later run. If it keeps happening, write fewer events at once (for example, allow creating in Google for fewer calendars)",
            err.message
        )),
        403 if err.reasons.iter().any(|r| r == "forbiddenForNonOrganizer") => {
            ApiError::Rejected(format!("Google answered 403: {}", err.message))
        }
        403 if err.reasons.iter().any(|r| {
            matches!(
                r.as_str(),
                "insufficientPermissions" | "ACCESS_TOKEN_SCOPE_INSUFFICIENT"
            )
        }) =>
        {
            ApiError::Reauth(format!(
                "Google answered 403: insufficient scopes ({})",
                err.message
            ))
        }
        429 | 409 | 500 | 502 | 503 | 504 => {
            return Verdict::Retry(format!(
                "Google answered {status} {}: {}",
                err.status, err.message
            ));
        }
        403 => ApiError::Reauth(format!(
            "Google denied access to the contacts ({}); connect the account again and allow Contacts",
            err.message
        )),
        _ => ApiError::Rejected(format!(
            "Google answered {status} {}: {}",
            err.status, err.message
        )),
    })
}
