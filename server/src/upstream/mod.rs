//! Upstream accounts: which providers the admin enabled, users' sealed OAuth tokens, pending
//! authorizations, and the connector a source of each kind runs with.

pub mod authorize;
pub mod seal;

use crate::config::Config;
use crate::store::Store;
use crate::store::sync::Source;
use async_trait::async_trait;
use kith_connectors::connector::{Connector, ConnectorError, FileConnector};
use kith_connectors::formats::Format;
use kith_connectors::google::{self, GoogleConnector};
use kith_connectors::oauth::{App as OAuthApp, Tokens};
use seal::Sealer;
use std::sync::Arc;
use std::time::Duration;

pub const PROVIDERS: &[&str] = &["google"];

/// What the server knows about upstream providers.
pub struct Upstreams {
    pub google: Option<Arc<google::Config>>,
    pub google_domains: Vec<String>,
    pub sealer: Sealer,
}

/// The setting that records an admin enabled `provider`.
fn enabled_key(provider: &str) -> String {
    format!("provider:{provider}")
}

pub fn tokens_name(provider: &str, owner: i64, account: &str) -> String {
    format!("oauth:{provider}:{owner}:{account}")
}

/// The token key: from config/env, else `token.key` in the data dir (SQLite) or the shared
/// setting every instance reads (PostgreSQL).
async fn token_key(config: &Config, store: &dyn Store) -> Result<[u8; 32], String> {
    use base64::Engine;
    if let Some(k) = &config.providers.token_key {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(k.trim())
            .map_err(|_| "providers.token_key (KITH_TOKEN_KEY) is not base64".to_string())?;
        return bytes.try_into().map_err(|_| {
            "providers.token_key (KITH_TOKEN_KEY) must be 32 bytes; make one with `openssl rand -base64 32`".to_string()
        });
    }
    if store.backend() == "sqlite" {
        return crate::secret::load_or_create_named(&config.data_dir, "token.key")
            .map_err(|e| format!("cannot read or create the token key: {e}"));
    }
    tracing::warn!(
        "providers.token_key is not set: OAuth tokens are sealed with a key kept in the database itself; set KITH_TOKEN_KEY on every instance to keep them apart"
    );
    let stored = store
        .shared_setting("token_key", &crate::secret::random_key())
        .await
        .map_err(|e| format!("cannot read the shared token key: {e}"))?;
    stored
        .try_into()
        .map_err(|_| "the token key in the database is not 32 bytes".to_string())
}

impl Upstreams {
    pub async fn load(config: &Config, store: &dyn Store) -> Result<Upstreams, String> {
        let sealer = Sealer::new(&token_key(config, store).await?);
        let google = match &config.providers.google {
            Some(g) => {
                let base = g.redirect_base.trim_end_matches('/');
                Some(Arc::new(google::Config {
                    app: OAuthApp {
                        client_id: g.client_id.clone(),
                        client_secret: g.client_secret.clone(),
                        auth_url: g.auth_url.clone(),
                        token_url: g.token_url.clone(),
                        redirect_url: format!("{base}/oauth/google/callback"),
                    },
                    api_url: g.api_url.trim_end_matches('/').to_string(),
                    revoke_url: g.revoke_url.clone(),
                    page_size: g.page_size,
                    retry_base: Duration::from_millis(
                        g.retry_base_ms().map_err(|e| e.to_string())?,
                    ),
                    max_retries: 6,
                }))
            }
            None => None,
        };
        Ok(Upstreams {
            google,
            google_domains: config
                .providers
                .google
                .as_ref()
                .map(|g| g.allowed_domains.iter().map(|d| d.to_lowercase()).collect())
                .unwrap_or_default(),
            sealer,
        })
    }

    /// Whether an admin enabled `provider` (and it is configured).
    pub async fn enabled(&self, store: &dyn Store, provider: &str) -> Result<bool, String> {
        let on = store
            .setting(&enabled_key(provider))
            .await
            .map_err(|e| e.to_string())?
            .is_some_and(|v| v == b"enabled");
        Ok(on && self.configured(provider))
    }

    pub fn configured(&self, provider: &str) -> bool {
        match provider {
            "google" => self
                .google
                .as_ref()
                .is_some_and(|g| !g.app.client_id.is_empty()),
            _ => false,
        }
    }

    pub async fn set_enabled(store: &dyn Store, provider: &str, on: bool) -> Result<(), String> {
        store
            .set_setting(&enabled_key(provider), on.then_some(b"enabled".as_slice()))
            .await
            .map_err(|e| e.to_string())
    }

    pub async fn save_tokens(
        &self,
        store: &dyn Store,
        provider: &str,
        owner: i64,
        t: &Tokens,
    ) -> Result<(), String> {
        let name = tokens_name(provider, owner, &t.account);
        let plain = serde_json::to_vec(t).map_err(|e| e.to_string())?;
        store
            .put_sealed(&name, Some(owner), &self.sealer.seal(&name, &plain), None)
            .await
            .map_err(|e| e.to_string())
    }

    pub async fn tokens(
        &self,
        store: &dyn Store,
        provider: &str,
        owner: i64,
        account: &str,
    ) -> Result<Option<Tokens>, String> {
        let name = tokens_name(provider, owner, account);
        let Some(sealed) = store.sealed(&name).await.map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        let plain = self
            .sealer
            .open(&name, &sealed)
            .map_err(|e| e.to_string())?;
        serde_json::from_slice(&plain)
            .map(Some)
            .map_err(|e| e.to_string())
    }

    /// The connector a source reads and writes through, and where it leaves refreshed tokens
    /// (saved with [`Upstreams::keep_tokens`] after the run).
    pub async fn connector(
        &self,
        store: &dyn Store,
        source: &Source,
    ) -> Result<(Box<dyn Connector>, Option<Arc<Refreshed>>), ConnectorError> {
        if let Some(format) = Format::parse(&source.kind) {
            let path = source.location.clone().ok_or_else(|| {
                ConnectorError::Unavailable(format!(
                    "source {} has no file to read; give one with `kith sync plan {} --user USER --file FILE`",
                    source.name, source.name
                ))
            })?;
            let bytes = tokio::fs::read(&path)
                .await
                .map_err(|e| ConnectorError::Io {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
            let conn = FileConnector {
                bytes,
                format: Some(format),
            };
            return Ok((Box::new(conn), None));
        }
        match source.kind.as_str() {
            "google" => {
                let cfg = self.google.clone().ok_or_else(|| {
                    ConnectorError::Unavailable(
                        "Google is not configured on this server ([providers.google]); ask the Kith admin".into(),
                    )
                })?;
                if !self.enabled(store, "google").await.unwrap_or(false) {
                    return Err(ConnectorError::Unavailable(
                        "the Kith admin has disabled Google (`kith provider enable google` turns it back on)".into(),
                    ));
                }
                let account = source.location.clone().unwrap_or_default();
                let tokens = self
                    .tokens(store, "google", source.owner_id, &account)
                    .await
                    .map_err(ConnectorError::NeedsReauth)?
                    .ok_or_else(|| {
                        ConnectorError::NeedsReauth(format!(
                            "Kith holds no authorization for {account}; connect the account again"
                        ))
                    })?;
                let sink = Arc::new(Refreshed::default());
                let conn = GoogleConnector::new(cfg, tokens, sink.clone());
                Ok((Box::new(conn), Some(sink)))
            }
            other => Err(ConnectorError::Unavailable(format!(
                "sources of kind {other} are not supported by this server"
            ))),
        }
    }

    /// Seals tokens a connector refreshed during a run.
    pub async fn keep_tokens(&self, store: &dyn Store, source: &Source, sink: Option<&Refreshed>) {
        let Some(t) = sink.and_then(|s| s.0.lock().ok().and_then(|mut t| t.take())) else {
            return;
        };
        if let Err(e) = self
            .save_tokens(store, &source.kind, source.owner_id, &t)
            .await
        {
            tracing::error!(error = %e, source = %source.name, "cannot store refreshed OAuth tokens");
        }
    }
}

/// The tokens a connector refreshed, kept until the run ends. Google's refresh token does not
/// rotate, so a crash before they are stored only costs one more refresh.
#[derive(Default)]
pub struct Refreshed(std::sync::Mutex<Option<Tokens>>);

#[async_trait]
impl google::TokenSink for Refreshed {
    async fn save(&self, tokens: &Tokens) {
        if let Ok(mut t) = self.0.lock() {
            *t = Some(tokens.clone());
        }
    }
}
