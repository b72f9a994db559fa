//! The web UI's and the upstream providers' sections of the configuration.

use super::{ConfigError, duration_ms};
use serde::Deserialize;

/// The web UI under `/`.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct WebSection {
    /// The URL people and devices reach Kith at, e.g. `https://dav.example.com`: shown on the
    /// device setup pages and in `.mobileconfig` profiles, and `https://` here marks session
    /// cookies `Secure`. Empty: taken from each request's Host header.
    pub public_url: String,
    /// Sign-in through an OpenID Connect provider, beside passwords.
    pub oidc: Option<OidcSection>,
}

/// `[web.oidc]`: an OpenID Connect provider (Keycloak, Authentik, Entra ID, Google…) people
/// may sign in to the web UI with. Its redirect URI is `PUBLIC_URL/login/oidc/callback`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSection {
    /// The issuer; Kith reads ISSUER/.well-known/openid-configuration.
    pub issuer: String,
    pub client_id: String,
    /// Env `KITH_OIDC_CLIENT_SECRET` overrides it.
    #[serde(default)]
    pub client_secret: String,
    /// The claim that names the Kith user: `preferred_username` or `email`.
    #[serde(default = "default_username_claim")]
    pub username_claim: String,
    /// Make a Kith user on a first sign-in (with no password of their own); otherwise an
    /// admin creates users first.
    #[serde(default)]
    pub create_users: bool,
    /// A claim listing the user's groups (e.g. `groups`): each sign-in makes the user's
    /// memberships from it match, groups made as needed; what an admin added stays.
    #[serde(default)]
    pub groups_claim: Option<String>,
    /// The button's words: "Sign in with LABEL".
    #[serde(default = "default_oidc_label")]
    pub label: String,
}

fn default_username_claim() -> String {
    "preferred_username".into()
}

fn default_oidc_label() -> String {
    "single sign-on".into()
}

impl std::fmt::Debug for OidcSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSection")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("username_claim", &self.username_claim)
            .field("create_users", &self.create_users)
            .field("groups_claim", &self.groups_claim)
            .finish()
    }
}

/// Upstream accounts users can connect, once an admin enables the provider
/// (`kith provider enable google`).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProvidersSection {
    /// The key OAuth tokens are sealed with: 32 bytes, base64 (env `KITH_TOKEN_KEY`). Unset,
    /// Kith makes one in `token.key` (mode 0600) in the data dir.
    pub token_key: Option<String>,
    /// Multiplies every wait for an upstream (Retry-After, backoff). Only for tests and demos
    /// against the fakes, whose clocks can run faster.
    pub wait_scale: f64,
    pub google: Option<GoogleSection>,
    pub m365: Option<M365Section>,
}

impl Default for ProvidersSection {
    fn default() -> Self {
        ProvidersSection {
            token_key: None,
            wait_scale: 1.0,
            google: None,
            m365: None,
        }
    }
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct M365Section {
    /// The app registration's Application (client) ID in Microsoft Entra ID.
    pub client_id: String,
    /// Env `KITH_M365_CLIENT_SECRET` overrides it.
    pub client_secret: String,
    /// `common` (work, school and personal accounts), `organizations`, or a tenant id or
    /// domain (single-tenant apps).
    pub tenant: String,
    /// The server's public base URL; Microsoft sends users back to
    /// `<redirect_base>/oauth/m365/callback` and admins to `.../oauth/m365/adminconsent/callback`.
    pub redirect_base: String,
    /// Microsoft's endpoints; changed only to point Kith at the fake for tests or demos.
    pub authority_url: String,
    pub graph_url: String,
    /// Contacts per delta page (`Prefer: odata.maxpagesize`).
    pub page_size: u32,
    /// The first wait after a 429/5xx without Retry-After; each retry doubles it.
    pub retry_base: String,
}

impl Default for M365Section {
    fn default() -> Self {
        M365Section {
            client_id: String::new(),
            client_secret: String::new(),
            tenant: "common".into(),
            redirect_base: String::new(),
            authority_url: "https://login.microsoftonline.com".into(),
            graph_url: "https://graph.microsoft.com/v1.0".into(),
            page_size: 100,
            retry_base: "1s".into(),
        }
    }
}

impl std::fmt::Debug for M365Section {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("M365Section")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("tenant", &self.tenant)
            .field("redirect_base", &self.redirect_base)
            .field("graph_url", &self.graph_url)
            .finish_non_exhaustive()
    }
}

impl M365Section {
    pub fn retry_base_ms(&self) -> Result<u64, ConfigError> {
        retry_ms("providers.m365.retry_base", &self.retry_base)
    }
}

/// A retry base in ms: `500ms`, or a duration such as `1s`.
fn retry_ms(key: &str, v: &str) -> Result<u64, ConfigError> {
    match v.trim().strip_suffix("ms") {
        Some(n) => n.trim().parse().map_err(|_| ConfigError::Value {
            key: key.into(),
            message: format!("{v:?} is not a duration; write e.g. 500ms or 1s"),
        }),
        None => duration_ms(key, v).map(|ms| ms as u64),
    }
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GoogleSection {
    /// The OAuth client from the Google Cloud console (Web application type).
    pub client_id: String,
    /// Env `KITH_GOOGLE_CLIENT_SECRET` overrides it.
    pub client_secret: String,
    /// The server's public base URL; Google sends users back to
    /// `<redirect_base>/oauth/google/callback`, which must be an authorized redirect URI.
    pub redirect_base: String,
    /// Only accounts of these Google Workspace domains may connect (empty: any account).
    pub allowed_domains: Vec<String>,
    /// Google's endpoints; changed only to point Kith at a fake Google for tests or demos.
    pub auth_url: String,
    pub token_url: String,
    pub revoke_url: String,
    pub api_url: String,
    /// The Calendar API's host (`/calendar/v3` follows).
    pub calendar_url: String,
    /// Contacts per page of a listing (1–1000).
    pub page_size: u32,
    /// The first wait after a 429 or 5xx; each retry doubles it, plus random jitter.
    pub retry_base: String,
}

// Secrets never reach a log line, even through `{:?}` of the whole config.
impl std::fmt::Debug for ProvidersSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProvidersSection")
            .field("token_key", &self.token_key.as_ref().map(|_| "<redacted>"))
            .field("wait_scale", &self.wait_scale)
            .field("google", &self.google)
            .field("m365", &self.m365)
            .finish()
    }
}

impl std::fmt::Debug for GoogleSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleSection")
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("redirect_base", &self.redirect_base)
            .field("allowed_domains", &self.allowed_domains)
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

impl GoogleSection {
    /// `retry_base` in ms: `500ms`, or a duration such as `1s`.
    pub fn retry_base_ms(&self) -> Result<u64, ConfigError> {
        match self.retry_base.trim().strip_suffix("ms") {
            Some(n) => n.trim().parse().map_err(|_| ConfigError::Value {
                key: "providers.google.retry_base".into(),
                message: format!(
                    "{:?} is not a duration; write e.g. 500ms or 1s",
                    self.retry_base
                ),
            }),
            None => {
                duration_ms("providers.google.retry_base", &self.retry_base).map(|ms| ms as u64)
            }
        }
    }
}

impl Default for GoogleSection {
    fn default() -> Self {
        GoogleSection {
            client_id: String::new(),
            client_secret: String::new(),
            redirect_base: String::new(),
            allowed_domains: Vec::new(),
            auth_url: "https://accounts.google.com/o/oauth2/v2/auth".into(),
            token_url: "https://oauth2.googleapis.com/token".into(),
            revoke_url: "https://oauth2.googleapis.com/revoke".into(),
            api_url: "https://people.googleapis.com".into(),
            calendar_url: "https://www.googleapis.com".into(),
            page_size: 500,
            retry_base: "1s".into(),
        }
    }
}
