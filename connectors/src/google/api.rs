//! The People API over HTTP: access-token refresh, Google's error bodies sorted into what the
//! engine must do, and backoff on throttling.

use super::errors::oauth_message;
use crate::oauth::{self, App, Tokens};
use async_trait::async_trait;
use reqwest::Method;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
}

/// Where refreshed tokens go (sealed into the database by the server).
#[async_trait]
pub trait TokenSink: Send + Sync {
    async fn save(&self, tokens: &Tokens);
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the sync token expired")]
    Expired,
    #[error("not found")]
    NotFound,
    #[error("the etag is stale")]
    Stale,
    #[error("{0}")]
    Reauth(String),
    #[error("{0}")]
    Rejected(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Unknown(String),
}

pub struct Api {
    http: reqwest::Client,
    pub cfg: Arc<Config>,
    tokens: Tokens,
    sink: Arc<dyn TokenSink>,
}

/// One writer per Google account: Google asks for mutations of a user to be sequential.
fn writer(account: &str) -> Arc<tokio::sync::Mutex<()>> {
    static WRITERS: Mutex<Option<HashMap<String, Arc<tokio::sync::Mutex<()>>>>> = Mutex::new(None);
    let mut w = WRITERS.lock().unwrap_or_else(|e| e.into_inner());
    w.get_or_insert_with(HashMap::new)
        .entry(account.to_string())
        .or_default()
        .clone()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Backoff before retry `n` (1-based): `base·2ⁿ⁻¹` plus up to as much random jitter, so
/// clients throttled together do not come back together. Never less than `base·2ⁿ⁻¹`.
pub fn backoff(base: Duration, n: u32) -> Duration {
    let step = base.saturating_mul(1 << (n.saturating_sub(1)).min(16));
    let jitter = rand::random::<f64>() * step.as_secs_f64();
    step + Duration::from_secs_f64(jitter)
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
        Api {
            http: oauth::http_client(),
            cfg,
            tokens,
            sink,
        }
    }

    #[cfg(test)]
    pub fn set_access_token(&mut self, token: &str, expires_at: i64) {
        self.tokens.access_token = token.to_string();
        self.tokens.expires_at = expires_at;
    }

    async fn refresh(&mut self) -> Result<(), ApiError> {
        match oauth::refresh(&self.cfg.app, &self.http, &self.tokens).await {
            Ok(t) => {
                self.tokens = t;
                self.sink.save(&self.tokens).await;
                Ok(())
            }
            Err(e) if e.code == "unreachable" || e.code == "invalid_response" => Err(
                ApiError::Unavailable(format!("Google's token endpoint failed: {e}")),
            ),
            Err(e) => Err(ApiError::Reauth(oauth_message(&e, &self.cfg.app.client_id))),
        }
    }

    /// The wait before the next retry, or the error once retries are used up.
    fn wait(&self, attempt: &mut u32, why: String) -> Result<Duration, ApiError> {
        *attempt += 1;
        if *attempt > self.cfg.max_retries {
            return Err(ApiError::Unavailable(format!(
                "{why} (gave up after {} retries; the next run tries again)",
                self.cfg.max_retries
            )));
        }
        Ok(backoff(self.cfg.retry_base, *attempt))
    }

    /// One API call with retries. `create` marks a call whose lost answer leaves its outcome
    /// unknown (a retried create could make a duplicate).
    pub async fn call(
        &mut self,
        method: Method,
        path: &str,
        query: &[(&'static str, String)],
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let mutation = method != Method::GET;
        let create = method == Method::POST;
        let _turn = if mutation {
            Some(writer(&self.tokens.account).lock_owned().await)
        } else {
            None
        };
        let mut attempt = 0u32;
        let mut refreshed = false;
        loop {
            if self.tokens.expires_at - 60_000 < now_ms() {
                self.refresh().await?;
                refreshed = true;
            }
            let mut rb = self
                .http
                .request(method.clone(), format!("{}{path}", self.cfg.api_url))
                .bearer_auth(&self.tokens.access_token)
                .query(query);
            if let Some(b) = body {
                rb = rb.json(b);
            }
            // The answer whole: status, Retry-After and body. Losing it after the request left
            // makes a create's outcome unknown; anything else is simply tried again.
            let answer = async {
                let resp = rb.send().await?;
                let status = resp.status().as_u16();
                let retry_after = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok());
                Ok::<_, reqwest::Error>((status, retry_after, resp.bytes().await?))
            };
            let (status, retry_after, bytes) = match answer.await {
                Ok(a) => {
                    let outcome = if (200..300).contains(&a.0) {
                        "ok".to_string()
                    } else {
                        a.0.to_string()
                    };
                    crate::observe::call("google", &outcome, a.0 == 429);
                    a
                }
                Err(e) if create => {
                    crate::observe::call("google", "unreachable", false);
                    return Err(ApiError::Unknown(e.to_string()));
                }
                Err(e) => {
                    crate::observe::call("google", "unreachable", false);
                    let wait = self.wait(&mut attempt, format!("Google did not answer: {e}"))?;
                    tokio::time::sleep(wait).await;
                    continue;
                }
            };
            if (200..300).contains(&status) {
                if bytes.is_empty() {
                    return Ok(Value::Null);
                }
                return serde_json::from_slice(&bytes).map_err(|e| {
                    let m = format!("Google's answer is not JSON: {e}");
                    if create {
                        ApiError::Unknown(m)
                    } else {
                        ApiError::Unavailable(m)
                    }
                });
            }
            let err = google_error(&bytes);
            match status {
                401 if !refreshed => {
                    self.refresh().await?;
                    refreshed = true;
                }
                401 | 403 if err.status == "UNAUTHENTICATED" || status == 401 => {
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
                    let mut wait = self.wait(&mut attempt, why)?;
                    if let Some(s) = retry_after {
                        wait = wait.max(Duration::from_secs(s));
                    }
                    tracing::info!(
                        status,
                        wait_ms = wait.as_millis() as u64,
                        "Google throttled or failed; backing off"
                    );
                    tokio::time::sleep(wait).await;
                }
                403 if err.status == "PERMISSION_DENIED" => {
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
