//! Microsoft Graph over HTTP: at most four requests in flight per app (Outlook's limit, shared
//! by every user of this server), `Prefer: IdType="ImmutableId"` on every call, `Retry-After`
//! honoured, and Graph's error codes sorted into what the engine must do. Refresh tokens
//! rotate on every use; the session saves each new one at once.

use super::errors::oauth_message;
use crate::api::{self, Verdict};
use crate::exchange::{self, Answer, Retries};
use crate::oauth::{App, Session, TokenSink, Tokens};
use crate::retry::account_lock;
use reqwest::Method;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

pub use crate::exchange::ApiError;

#[derive(Debug, Clone)]
pub struct Config {
    pub app: App,
    /// `https://graph.microsoft.com/v1.0`.
    pub graph_url: String,
    /// Where a tenant admin grants consent for everyone (Kith's `/oauth/m365/adminconsent`).
    pub admin_link: String,
    /// `Prefer: odata.maxpagesize` for delta rounds.
    pub page_size: u32,
    /// The first backoff when Graph throttles without `Retry-After`; doubles per retry.
    pub retry_base: Duration,
    pub max_retries: u32,
    /// Multiplies every wait (tests against the fake run its clock faster).
    pub wait_scale: f64,
}

/// Outlook allows 4 concurrent requests per app across all mailboxes.
pub const MAX_IN_FLIGHT: usize = 4;

fn gate() -> &'static tokio::sync::Semaphore {
    static GATE: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_IN_FLIGHT);
    &GATE
}

pub struct Api {
    pub session: Session,
    pub cfg: Arc<Config>,
}

struct GraphError {
    code: String,
    message: String,
}

fn graph_error(body: &[u8]) -> GraphError {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    GraphError {
        code: v["error"]["code"].as_str().unwrap_or("").to_string(),
        message: v["error"]["message"].as_str().unwrap_or("").to_string(),
    }
}

impl Api {
    pub fn new(cfg: Arc<Config>, tokens: Tokens, sink: Arc<dyn TokenSink>) -> Api {
        let (client_id, admin_link) = (cfg.app.client_id.clone(), cfg.admin_link.clone());
        let session = Session::new(cfg.app.clone(), tokens, sink, move |e| {
            oauth_message(e, &client_id, &admin_link)
        });
        Api { session, cfg }
    }

    /// One Graph call with retries: `target` is a path under the Graph URL or a whole
    /// `@odata.nextLink`/`deltaLink`. `if_match` makes the write conditional.
    pub async fn call(
        &mut self,
        method: Method,
        target: &str,
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> Result<Value, ApiError> {
        let create = method == Method::POST;
        let _turn = if method != Method::GET {
            Some(
                account_lock(&format!("m365:{}", self.session.account()))
                    .lock_owned()
                    .await,
            )
        } else {
            None
        };
        let url = if target.starts_with("http://") || target.starts_with("https://") {
            target.to_string()
        } else {
            format!("{}{target}", self.cfg.graph_url)
        };
        let retries = Retries::new(
            self.cfg.retry_base,
            self.cfg.max_retries,
            self.cfg.wait_scale,
        );
        // Event times in UTC, so Kith reads every one the same way (with the zone it was
        // made in beside it); contacts are unaffected.
        let prefer = format!(
            "IdType=\"ImmutableId\", odata.maxpagesize={}, outlook.timezone=\"UTC\"",
            self.cfg.page_size
        );
        let build = |session: &Session| {
            let mut rb = session
                .http
                .request(method.clone(), &url)
                .bearer_auth(session.bearer())
                .header("Prefer", &prefer);
            if let Some(e) = if_match {
                rb = rb.header("If-Match", e);
            }
            match body {
                Some(b) => rb.json(b),
                None => rb,
            }
        };
        // At most a few requests in flight per server: Graph counts concurrent requests.
        let send = async |rb| {
            let _slot = gate().acquire().await;
            exchange::exchange("m365", rb).await
        };
        api::call(
            &mut self.session,
            retries,
            "Graph",
            create,
            build,
            send,
            classify,
        )
        .await
    }
}

impl Api {
    /// The bytes a GET of `target` answers (a photo), or `None` for any failure: callers use
    /// this only for what a card can do without.
    pub async fn bytes(&mut self, target: &str) -> Option<Vec<u8>> {
        self.session.fresh().await.ok()?;
        let url = format!("{}{target}", self.cfg.graph_url);
        let rb = self
            .session
            .http
            .get(&url)
            .bearer_auth(self.session.bearer());
        let a = exchange::exchange("m365", rb).await.ok()?;
        (a.status == 200 && !a.body.is_empty()).then(|| a.body.to_vec())
    }
}

/// An id as a path segment (Graph ids hold `=`, `-`, `_` and the like).
pub fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// What Graph's error answers mean. A 401 here came after a refreshed token.
fn classify(a: &Answer) -> Verdict {
    let status = a.status;
    let err = graph_error(&a.body);
    Verdict::Fail(match status {
        401 => ApiError::Reauth(format!(
            "Microsoft refused Kith's access ({}); connect the account again",
            err.code
        )),
        403 => ApiError::Reauth(format!(
            "Microsoft denied access to the contacts ({}: {}). Connect the account again and accept the permissions; if an application access policy blocks the mailbox, ask your administrator.",
            err.code, err.message
        )),
        404 => ApiError::NotFound,
        409 | 412 => ApiError::Stale,
        410 => ApiError::Expired,
        429 | 500 | 502 | 503 | 504 => {
            return Verdict::Retry(format!(
                "Graph answered {status} {}: {}",
                err.code, err.message
            ));
        }
        _ => ApiError::Rejected(format!(
            "Graph answered {status} {}: {}",
            err.code, err.message
        )),
    })
}
