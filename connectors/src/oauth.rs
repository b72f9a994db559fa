//! OAuth 2.0 authorization-code flow with PKCE for upstream accounts, shared by the Google and
//! Microsoft 365 connectors: the authorization URL, the code exchange and token refresh, over
//! our own reqwest client (oauth2 without its bundled one).

use async_trait::async_trait;
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, StandardRevocableToken, StandardTokenResponse, TokenResponse,
    TokenUrl,
};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// An OAuth client registered with a provider, as the admin configured it.
#[derive(Debug, Clone)]
pub struct App {
    pub client_id: String,
    pub client_secret: String,
    pub auth_url: String,
    pub token_url: String,
    pub redirect_url: String,
}

/// The tokens of one connected account. Kept sealed at rest; never logged (no `Debug`).
#[derive(Clone, Serialize, Deserialize, Default)]
pub struct Tokens {
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Unix ms.
    pub expires_at: i64,
    #[serde(default)]
    pub scope: String,
    /// The account's email and, for Google Workspace, its domain (the `hd` claim).
    #[serde(default)]
    pub account: String,
    #[serde(default)]
    pub domain: Option<String>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("account", &self.account)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Where refreshed tokens go (sealed into the database by the server, at once).
#[async_trait]
pub trait TokenSink: Send + Sync {
    async fn save(&self, tokens: &Tokens);
}

/// An authorization to send the user to: the URL, and what the callback needs to finish it.
pub struct Started {
    pub url: String,
    pub state: String,
    pub verifier: String,
}

/// What went wrong in an OAuth exchange: the provider's error code and description.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {description}")]
pub struct OAuthError {
    pub code: String,
    pub description: String,
}

impl OAuthError {
    pub fn new(code: impl Into<String>, description: impl Into<String>) -> OAuthError {
        OAuthError {
            code: code.into(),
            description: description.into(),
        }
    }
}

/// The `id_token` next to the standard fields: Google and Microsoft identify the account in it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdToken {
    #[serde(default)]
    pub id_token: Option<String>,
}
impl ExtraTokenFields for IdToken {}

type TokenResp = StandardTokenResponse<IdToken, BasicTokenType>;
type Client = oauth2::Client<
    BasicErrorResponse,
    TokenResp,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// The HTTP client for every upstream call: rustls, bounded time, and no redirects (a token
/// endpoint that redirects must not make us post credentials elsewhere). One for the whole
/// process: building one loads the TLS roots (most of a no-change run's CPU when every run
/// built its own), and sharing it keeps connections to the providers alive between runs.
pub fn http_client() -> reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .connect_timeout(Duration::from_secs(10))
                .timeout(Duration::from_secs(60))
                .user_agent(concat!("kith/", env!("CARGO_PKG_VERSION")))
                .build()
                .unwrap_or_default()
        })
        .clone()
}

fn client(app: &App) -> Result<Client, OAuthError> {
    let bad = |what: &str, e: oauth2::url::ParseError| {
        OAuthError::new("configuration", format!("the {what} is not a URL: {e}"))
    };
    Ok(oauth2::Client::new(ClientId::new(app.client_id.clone()))
        .set_client_secret(ClientSecret::new(app.client_secret.clone()))
        .set_auth_uri(AuthUrl::new(app.auth_url.clone()).map_err(|e| bad("auth URL", e))?)
        .set_token_uri(TokenUrl::new(app.token_url.clone()).map_err(|e| bad("token URL", e))?)
        .set_redirect_uri(
            RedirectUrl::new(app.redirect_url.clone()).map_err(|e| bad("redirect URL", e))?,
        ))
}

/// The authorization URL with a fresh `state` and PKCE (S256) challenge.
pub fn start(app: &App, scopes: &[&str], extra: &[(&str, &str)]) -> Result<Started, OAuthError> {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let client = client(app)?;
    let mut req = client
        .authorize_url(CsrfToken::new_random)
        .add_scopes(scopes.iter().map(|s| Scope::new(s.to_string())))
        .set_pkce_challenge(challenge);
    for (k, v) in extra {
        req = req.add_extra_param(*k, *v);
    }
    let (url, state) = req.url();
    Ok(Started {
        url: url.to_string(),
        state: state.secret().clone(),
        verifier: verifier.secret().clone(),
    })
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Transport(String);

/// oauth2's (and openidconnect's) HTTP calls, made with our client.
pub struct Http(pub reqwest::Client);

impl<'c> oauth2::AsyncHttpClient<'c> for Http {
    type Error = Transport;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<oauth2::HttpResponse, Transport>> + Send + 'c>,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(send(self.0.clone(), request))
    }
}

async fn send(
    http: reqwest::Client,
    req: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, Transport> {
    let (parts, body) = req.into_parts();
    let resp = http
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await
        .map_err(|e| Transport(e.to_string()))?;
    let mut out = http::Response::builder().status(resp.status());
    for (k, v) in resp.headers() {
        out = out.header(k, v);
    }
    let bytes = resp.bytes().await.map_err(|e| Transport(e.to_string()))?;
    out.body(bytes.to_vec())
        .map_err(|e| Transport(e.to_string()))
}

fn token_error(e: RequestTokenError<Transport, BasicErrorResponse>) -> OAuthError {
    match e {
        RequestTokenError::ServerResponse(r) => OAuthError::new(
            r.error().as_ref(),
            r.error_description().cloned().unwrap_or_default(),
        ),
        RequestTokenError::Request(t) => OAuthError::new("unreachable", t.0),
        RequestTokenError::Parse(e, _) => OAuthError::new("invalid_response", e.to_string()),
        RequestTokenError::Other(s) => OAuthError::new("invalid_response", s),
    }
}

use crate::time::now_ms;

fn tokens_of(r: &TokenResp, previous_refresh: Option<String>) -> (Tokens, Option<String>) {
    let expires = r.expires_in().unwrap_or(Duration::from_secs(3600));
    let scope = r
        .scopes()
        .map(|s| s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    (
        Tokens {
            access_token: r.access_token().secret().clone(),
            // Google sends no new refresh token on refresh (keep the old one); Microsoft
            // rotates it on every use (take the new one).
            refresh_token: r
                .refresh_token()
                .map(|t| t.secret().clone())
                .or(previous_refresh),
            expires_at: now_ms() + expires.as_millis() as i64,
            scope,
            account: String::new(),
            domain: None,
        },
        r.extra_fields().id_token.clone(),
    )
}

/// Exchanges an authorization code (with its PKCE verifier) for tokens, and the id token.
pub async fn exchange(
    app: &App,
    http: &reqwest::Client,
    code: &str,
    verifier: &str,
) -> Result<(Tokens, Option<String>), OAuthError> {
    let r = client(app)?
        .exchange_code(AuthorizationCode::new(code.to_string()))
        .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_string()))
        .request_async(&Http(http.clone()))
        .await
        .map_err(token_error)?;
    Ok(tokens_of(&r, None))
}

/// A new access token for `tokens`' refresh token.
pub async fn refresh(
    app: &App,
    http: &reqwest::Client,
    tokens: &Tokens,
) -> Result<Tokens, OAuthError> {
    let rt = tokens.refresh_token.clone().ok_or_else(|| {
        OAuthError::new(
            "invalid_grant",
            "Kith holds no refresh token for this account",
        )
    })?;
    let r = client(app)?
        .exchange_refresh_token(&RefreshToken::new(rt.clone()))
        .request_async(&Http(http.clone()))
        .await
        .map_err(token_error)?;
    let (mut t, _) = tokens_of(&r, Some(rt));
    if t.scope.is_empty() {
        t.scope = tokens.scope.clone();
    }
    t.account = tokens.account.clone();
    t.domain = tokens.domain.clone();
    Ok(t)
}

/// A connected account's tokens in use: refreshed when they are about to expire, and handed
/// to the sink the moment they change (Microsoft's refresh tokens rotate on every use).
pub struct Session {
    pub http: reqwest::Client,
    app: App,
    tokens: Tokens,
    sink: std::sync::Arc<dyn TokenSink>,
    /// The provider's words for a refresh that failed.
    explain: Box<dyn Fn(&OAuthError) -> String + Send + Sync>,
}

impl Session {
    pub fn new(
        app: App,
        tokens: Tokens,
        sink: std::sync::Arc<dyn TokenSink>,
        explain: impl Fn(&OAuthError) -> String + Send + Sync + 'static,
    ) -> Session {
        Session {
            http: http_client(),
            app,
            tokens,
            sink,
            explain: Box::new(explain),
        }
    }

    pub fn bearer(&self) -> &str {
        &self.tokens.access_token
    }

    pub fn account(&self) -> &str {
        &self.tokens.account
    }

    /// New tokens now. A provider that is down is `Unavailable` (try later); anything else it
    /// says (revoked, expired) means the user must connect again.
    pub async fn refresh(&mut self) -> Result<(), crate::exchange::ApiError> {
        use crate::exchange::ApiError;
        match refresh(&self.app, &self.http, &self.tokens).await {
            Ok(t) => {
                self.tokens = t;
                self.sink.save(&self.tokens).await;
                Ok(())
            }
            Err(e) if e.code == "unreachable" || e.code == "invalid_response" => Err(
                ApiError::Unavailable(format!("the token endpoint failed: {e}")),
            ),
            Err(e) => Err(ApiError::Reauth((self.explain)(&e))),
        }
    }

    /// Refreshes tokens that expire within a minute; whether it did.
    pub async fn fresh(&mut self) -> Result<bool, crate::exchange::ApiError> {
        if self.tokens.expires_at - 60_000 < now_ms() {
            self.refresh().await?;
            return Ok(true);
        }
        Ok(false)
    }

    #[cfg(test)]
    pub fn set_access_token(&mut self, token: &str, expires_at: i64) {
        self.tokens.access_token = token.to_string();
        self.tokens.expires_at = expires_at;
    }
}

/// The claims Kith reads from an id token: who signed in. The token came straight from the
/// provider's token endpoint over TLS, so its signature need not be checked (OpenID Connect
/// Core §3.1.3.7).
#[derive(Debug, Default, Deserialize)]
pub struct Claims {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub preferred_username: Option<String>,
    /// Google Workspace domain.
    #[serde(default)]
    pub hd: Option<String>,
    /// Microsoft tenant id.
    #[serde(default)]
    pub tid: Option<String>,
}

pub fn claims(id_token: &str) -> Claims {
    use base64::Engine;
    id_token
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p.trim_end_matches('='))
                .ok()
        })
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_authorization_url_carries_pkce_state_and_extras() {
        let app = App {
            client_id: "cid".into(),
            client_secret: "s".into(),
            auth_url: "https://accounts.example/auth".into(),
            token_url: "https://accounts.example/token".into(),
            redirect_url: "https://kith.example/oauth/google/callback".into(),
        };
        let s = start(&app, &["openid", "email"], &[("access_type", "offline")]).unwrap();
        assert!(s.url.starts_with("https://accounts.example/auth?"));
        for part in [
            "code_challenge_method=S256",
            "access_type=offline",
            "scope=openid+email",
            "client_id=cid",
        ] {
            assert!(s.url.contains(part), "{part} in {}", s.url);
        }
        assert!(s.url.contains(&format!("state={}", s.state)));
        assert!(s.verifier.len() >= 43);
    }

    #[test]
    fn claims_are_read_from_the_id_token_payload() {
        use base64::Engine;
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"email":"ada@example.org","hd":"example.org"}"#);
        let c = claims(&format!("x.{payload}.sig"));
        assert_eq!(c.email.as_deref(), Some("ada@example.org"));
        assert_eq!(c.hd.as_deref(), Some("example.org"));
        assert!(claims("garbage").email.is_none());
    }
}
