//! One provider API call under the policy every provider shares (token refresh, retries with
//! backoff, lost creates), over the session and the exchange of [`crate::exchange`].

use crate::exchange::{Answer, ApiError, Retries, json};
use crate::oauth::Session;
use serde_json::Value;

/// What a provider makes of an answer that is neither a success nor a first 401.
pub enum Verdict {
    /// Throttled or a passing failure: back off and try again (the reason, for the log and
    /// for the error once the tries are spent).
    Retry(String),
    /// The call fails with this error.
    Fail(ApiError),
}

/// One API call under the policy every provider shares: the token is refreshed before it
/// expires and once after a 401; a lost answer is retried, except for a create, whose outcome
/// is then unknown (a retry could make a duplicate); `classify` decides the rest. `build`
/// makes the request with the session's current token; `send` exchanges it.
pub async fn call(
    session: &mut Session,
    mut retries: Retries,
    who: &str,
    create: bool,
    build: impl Fn(&Session) -> reqwest::RequestBuilder,
    send: impl AsyncFn(reqwest::RequestBuilder) -> Result<Answer, reqwest::Error>,
    classify: impl Fn(&Answer) -> Verdict,
) -> Result<Value, ApiError> {
    let mut refreshed = false;
    loop {
        refreshed |= session.fresh().await?;
        let (why, retry_after) = match send(build(session)).await {
            Ok(a) if (200..300).contains(&a.status) => return json(&a, who, create),
            Ok(a) if a.status == 401 && !refreshed => {
                session.refresh().await?;
                refreshed = true;
                continue;
            }
            Ok(a) => match classify(&a) {
                Verdict::Fail(e) => return Err(e),
                Verdict::Retry(why) => (why, a.retry_after),
            },
            Err(e) if create => return Err(ApiError::Unknown(e.to_string())),
            Err(e) => (format!("{who} did not answer: {e}"), None),
        };
        let wait = retries.next(why, retry_after)?;
        tracing::info!(
            wait_ms = wait.as_millis() as u64,
            "{who} throttled or failed; backing off"
        );
        tokio::time::sleep(wait).await;
    }
}
