//! The People API over HTTP: Google's error bodies sorted into what the engine must do, and
//! backoff (with jitter) on throttling, which Google signals without `Retry-After`.

use super::errors::oauth_message;
use crate::oauth::{App, Session, Tokens};
use crate::remote::{self, Retries};
use crate::retry::account_lock;
use reqwest::Method;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

pub use crate::oauth::TokenSink;
pub use crate::remote::ApiError;

/// Where the People API and Google's OAuth endpoints are, and how hard to retry.
#[derive(Debug, Clone)]
pub struct Config {
    pub app: App,
    pub api_url: String,
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
        reasons: e["details"]
            .as_array()
            .into_iter()
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
        Api { session, cfg }
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
        let mut retries = Retries::new(
            self.cfg.retry_base,
            self.cfg.max_retries,
            self.cfg.wait_scale,
        );
        let mut refreshed = false;
        loop {
            refreshed |= self.session.fresh().await?;
            let mut rb = self
                .session
                .http
                .request(method.clone(), format!("{}{path}", self.cfg.api_url))
                .bearer_auth(self.session.bearer())
                .query(query);
            if let Some(b) = body {
                rb = rb.json(b);
            }
            let a = match remote::exchange("google", rb).await {
                Ok(a) => a,
                Err(e) if create => return Err(ApiError::Unknown(e.to_string())),
                Err(e) => {
                    let wait = retries.next(format!("Google did not answer: {e}"), None)?;
                    tokio::time::sleep(wait).await;
                    continue;
                }
            };
            if (200..300).contains(&a.status) {
                return remote::json(&a, "Google", create);
            }
            let status = a.status;
            let err = google_error(&a.body);
            match status {
                401 if !refreshed => {
                    self.session.refresh().await?;
                    refreshed = true;
                }
                401 => {
                    return Err(ApiError::Reauth(format!(
                        "Google refused Kith's access ({}); connect the account again",
                        err.message
                    )));
                }
                410 => return Err(ApiError::Expired),
                400 if err.reasons.iter().any(|r| r == "EXPIRED_SYNC_TOKEN") => {
                    return Err(ApiError::Expired);
                }
                400 | 412 if err.status == "FAILED_PRECONDITION" || status == 412 => {
                    return Err(ApiError::Stale);
                }
                404 => return Err(ApiError::NotFound),
                429 | 409 | 500 | 502 | 503 | 504 => {
                    let why = format!("Google answered {status} {}: {}", err.status, err.message);
                    let wait = retries.next(why, a.retry_after)?;
                    tracing::info!(
                        status,
                        wait_ms = wait.as_millis() as u64,
                        "Google throttled or failed; backing off"
                    );
                    tokio::time::sleep(wait).await;
                }
                403 => {
                    return Err(ApiError::Reauth(format!(
                        "Google denied access to the contacts ({}); connect the account again and allow Contacts",
                        err.message
                    )));
                }
                _ => {
                    return Err(ApiError::Rejected(format!(
                        "Google answered {status} {}: {}",
                        err.status, err.message
                    )));
                }
            }
        }
    }
}
