//! One call to an upstream API, the parts every connector shares: the whole answer read (so a
//! lost one is known as lost), the call reported for `/metrics`, retry waits, and the outcomes
//! the engine tells apart.

use crate::connector::ConnectorError;
use crate::retry::backoff;
use serde_json::Value;
use std::time::Duration;

/// How a call ended, sorted into what the engine must do.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The change feed's position (sync token, delta link) is gone: list everything again.
    #[error("the change feed's token expired")]
    Expired,
    #[error("not found")]
    NotFound,
    /// The version precondition failed (stale etag or change key).
    #[error("the version is stale")]
    Stale,
    #[error("{0}")]
    Reauth(String),
    #[error("{0}")]
    Rejected(String),
    #[error("{0}")]
    Unavailable(String),
    /// The request may have been carried out, but its answer was lost.
    #[error("{0}")]
    Unknown(String),
}

impl From<ApiError> for ConnectorError {
    fn from(e: ApiError) -> ConnectorError {
        match e {
            ApiError::Reauth(m) => ConnectorError::NeedsReauth(m),
            ApiError::Stale => ConnectorError::Stale,
            ApiError::Rejected(m) => ConnectorError::Rejected(m),
            ApiError::Unknown(m) => ConnectorError::Unknown(m),
            ApiError::NotFound => {
                ConnectorError::Rejected("the contact is gone from the source".into())
            }
            ApiError::Expired => {
                ConnectorError::Unavailable("the change feed's token expired".into())
            }
            ApiError::Unavailable(m) => ConnectorError::Unavailable(m),
        }
    }
}

/// A whole answer.
pub struct Answer {
    pub status: u16,
    /// `Retry-After`, in seconds.
    pub retry_after: Option<u64>,
    pub body: bytes::Bytes,
}

/// Sends `rb` and reads the whole answer, reporting the call as `provider`'s for `/metrics`.
pub async fn exchange(
    provider: &str,
    rb: reqwest::RequestBuilder,
) -> Result<Answer, reqwest::Error> {
    let answer = async {
        let resp = rb.send().await?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        Ok::<_, reqwest::Error>(Answer {
            status,
            retry_after,
            body: resp.bytes().await?,
        })
    }
    .await;
    let outcome = match &answer {
        Ok(a) if (200..300).contains(&a.status) => "ok".to_string(),
        Ok(a) => a.status.to_string(),
        Err(_) => "unreachable".to_string(),
    };
    let throttled = matches!(&answer, Ok(a) if a.status == 429);
    crate::observe::call(provider, &outcome, throttled);
    answer
}

/// A successful answer's JSON (`null` for an empty body). Unreadable, it is lost: for a
/// create that means the outcome is unknown.
pub fn json(a: &Answer, who: &str, create: bool) -> Result<Value, ApiError> {
    if a.body.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&a.body).map_err(|e| {
        let m = format!("{who}'s answer is not JSON: {e}");
        if create {
            ApiError::Unknown(m)
        } else {
            ApiError::Unavailable(m)
        }
    })
}

/// Retry waits: exponential with jitter from `base`, every wait times `scale`.
pub struct Retries {
    pub base: Duration,
    pub max: u32,
    pub scale: f64,
    pub attempt: u32,
}

impl Retries {
    pub fn new(base: Duration, max: u32, scale: f64) -> Retries {
        Retries {
            base,
            max,
            scale: scale.max(0.0),
            attempt: 0,
        }
    }

    /// The wait before the next try (at least `retry_after` seconds when the server said so),
    /// or the error once the tries are spent.
    pub fn next(&mut self, why: String, retry_after: Option<u64>) -> Result<Duration, ApiError> {
        self.attempt += 1;
        if self.attempt > self.max {
            return Err(ApiError::Unavailable(format!(
                "{why} (gave up after {} retries; the next run tries again)",
                self.max
            )));
        }
        let wait = match retry_after {
            // Retry-After is the server's word: no request before it has passed.
            Some(s) => Duration::from_secs(s),
            None => backoff(self.base, self.attempt),
        };
        Ok(self.scaled(wait))
    }

    pub fn scaled(&self, d: Duration) -> Duration {
        d.mul_f64(self.scale)
    }
}
