//! Upstream accounts: which providers the admin enabled, users' sealed OAuth tokens, pending
//! authorizations, and the connector a source of each kind runs with.

pub mod apps;
pub mod authorize;
pub mod seal;

use crate::config::Config;
use crate::store::Store;
use crate::store::sources::{Provider, Source, SourceKind};
use async_trait::async_trait;
use kith_connectors::connector::{Connector, ConnectorError, FileConnector};
use kith_connectors::google::GoogleConnector;
use kith_connectors::m365;
use kith_connectors::oauth::Tokens;
use seal::Sealer;
use std::sync::Arc;

/// What the server knows about upstream providers.
pub struct Upstreams {
    /// The config file's `[providers]`; [`apps::Apps`] overlays what an admin set.
    config: crate::config::ProvidersSection,
    pub google_domains: Vec<String>,
    /// The authority that hosts Microsoft's sign-in.
    pub m365_authority: String,
    pub sealer: Sealer,
    /// Where refreshed tokens are sealed the moment a connector gets them.
    store: Arc<dyn Store>,
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
        return crate::secrets::load_or_create_named(&config.data_dir, "token.key")
            .map_err(|e| format!("cannot read or create the token key: {e}"));
    }
    tracing::warn!(
        "providers.token_key is not set: OAuth tokens are sealed with a key kept in the database itself; set KITH_TOKEN_KEY on every instance to keep them apart"
    );
    let stored = store
        .shared_setting("token_key", &crate::secrets::random_key())
        .await
        .map_err(|e| format!("cannot read the shared token key: {e}"))?;
    stored
        .try_into()
        .map_err(|_| "the token key in the database is not 32 bytes".to_string())
}

impl Upstreams {
    pub async fn load(config: &Config, store: Arc<dyn Store>) -> Result<Upstreams, String> {
        let sealer = Sealer::new(&token_key(config, store.as_ref()).await?);
        // Bad durations are the config file's mistakes: reported when it is loaded.
        if let Some(g) = &config.providers.google {
            g.retry_base_ms().map_err(|e| e.to_string())?;
        }
        let m = config.providers.m365.clone().unwrap_or_default();
        m.retry_base_ms().map_err(|e| e.to_string())?;
        Ok(Upstreams {
            config: config.providers.clone(),
            google_domains: config
                .providers
                .google
                .as_ref()
                .map(|g| g.allowed_domains.iter().map(|d| d.to_lowercase()).collect())
                .unwrap_or_default(),
            m365_authority: m.authority_url.trim_end_matches('/').to_string(),
            sealer,
            store,
        })
    }

    /// Whether an admin enabled `provider` (and it is configured).
    pub async fn enabled(&self, store: &dyn Store, provider: &str) -> Result<bool, String> {
        let on = store
            .setting(&enabled_key(provider))
            .await
            .map_err(|e| e.to_string())?
            .is_some_and(|v| v == b"enabled");
        Ok(on && self.apps().await.configured(provider))
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

    /// The tokens a source's account was connected with.
    async fn source_tokens(
        &self,
        store: &dyn Store,
        source: &Source,
    ) -> Result<Tokens, ConnectorError> {
        let account = source.location.clone().unwrap_or_default();
        self.tokens(store, source.kind.as_str(), source.owner_id, &account)
            .await
            .map_err(ConnectorError::NeedsReauth)?
            .ok_or_else(|| {
                ConnectorError::NeedsReauth(format!(
                    "Kith holds no authorization for {account}; connect the account again"
                ))
            })
    }

    pub(crate) fn saver(&self, provider: &str, owner: i64) -> Arc<Saver> {
        Arc::new(Saver {
            sealer: self.sealer.clone(),
            store: self.store.clone(),
            provider: provider.to_string(),
            owner,
        })
    }

    /// The connector a source reads and writes through.
    pub async fn connector(
        &self,
        store: &dyn Store,
        source: &Source,
    ) -> Result<Box<dyn Connector>, ConnectorError> {
        let provider = match source.kind {
            SourceKind::File(format) => {
                let path = source.location.clone().ok_or_else(|| {
                    ConnectorError::Unavailable(format!(
                        "source {} has no file to read; give it the file to import again",
                        source.name
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
                return Ok(Box::new(conn));
            }
            SourceKind::Account(p) | SourceKind::Directory(p) | SourceKind::Calendar(p) => p,
        };
        let directory = source.kind.is_directory();
        let (id, title) = (provider.id(), provider.title());
        let unconfigured = || {
            ConnectorError::Unavailable(format!(
                "{title} is not configured on this server ([providers.{id}]); ask the Kith admin"
            ))
        };
        let apps = self.apps().await;
        if !apps.configured(id) {
            return Err(unconfigured());
        }
        let groups = crate::core::groups::ids_of(store, source.owner_id)
            .await
            .unwrap_or_default();
        if !directory && !apps.allows(provider, source.owner_id, &groups) {
            return Err(ConnectorError::Unavailable(format!(
                "the Kith admin no longer lets you connect {title}; ask them to allow you again (what was synced stays)"
            )));
        }
        if !self.enabled(store, id).await.unwrap_or(false) {
            return Err(ConnectorError::Unavailable(format!(
                "the Kith admin has disabled {title}; ask them to enable it again"
            )));
        }
        // A directory's grant is its own: other scopes, refreshed under its own name.
        let sink = self.saver(source.kind.as_str(), source.owner_id);
        let rules: kith_connectors::rules::Rules =
            serde_json::from_str(&source.rules).unwrap_or_default();
        match provider {
            Provider::Google if source.kind.is_calendar() => {
                let cfg = apps.google.clone().ok_or_else(unconfigured)?;
                let tokens = self.source_tokens(store, source).await?;
                let calendar = rules.calendar.clone().unwrap_or_else(|| "primary".into());
                Ok(Box::new(
                    kith_connectors::google::calendar::CalendarConnector::new(
                        cfg, tokens, sink, &calendar,
                    ),
                ))
            }
            Provider::M365 if source.kind.is_calendar() => {
                let cfg = apps.m365.clone().ok_or_else(unconfigured)?;
                let tokens = self.source_tokens(store, source).await?;
                let calendar = rules.calendar.clone().unwrap_or_default();
                Ok(Box::new(m365::calendar::CalendarConnector::new(
                    cfg, tokens, sink, &calendar,
                )))
            }
            Provider::Google if directory => {
                let cfg = apps.google.clone().ok_or_else(unconfigured)?;
                let tokens = self.source_tokens(store, source).await?;
                Ok(Box::new(
                    kith_connectors::google::directory::DirectoryConnector::new(cfg, tokens, sink),
                ))
            }
            Provider::M365 if directory => {
                let cfg = apps.m365.clone().ok_or_else(unconfigured)?;
                let tokens = self.source_tokens(store, source).await?;
                Ok(Box::new(m365::directory::DirectoryConnector::new(
                    cfg, tokens, sink,
                )))
            }
            Provider::Google => {
                let cfg = apps.google.clone().ok_or_else(unconfigured)?;
                let tokens = self.source_tokens(store, source).await?;
                Ok(Box::new(GoogleConnector::new(
                    cfg,
                    tokens,
                    sink,
                    rules.target,
                )))
            }
            Provider::M365 => {
                let cfg = apps.m365.clone().ok_or_else(unconfigured)?;
                let tokens = self.source_tokens(store, source).await?;
                Ok(Box::new(m365::GraphConnector::new(
                    cfg,
                    tokens,
                    sink,
                    rules.folders,
                    rules.target,
                )))
            }
        }
    }
}

impl Upstreams {
    /// The calendars of the account a calendar source is connected to.
    pub async fn calendar_list(
        &self,
        store: &dyn Store,
        source: &Source,
    ) -> Result<Vec<kith_connectors::google::calendar::Listed>, ConnectorError> {
        let tokens = self.source_tokens(store, source).await?;
        self.calendars_of(source.kind, source.owner_id, tokens)
            .await
    }

    /// The calendars of an account of a calendar source's `kind`, with its tokens.
    pub async fn calendars_of(
        &self,
        kind: SourceKind,
        owner: i64,
        tokens: Tokens,
    ) -> Result<Vec<kith_connectors::google::calendar::Listed>, ConnectorError> {
        let apps = self.apps().await;
        let sink = self.saver(kind.as_str(), owner);
        let missing = |p: Provider| {
            ConnectorError::Unavailable(format!("{} is not configured on this server", p.title()))
        };
        match kind.provider() {
            Some(Provider::M365) => {
                let cfg = apps.m365.clone().ok_or_else(|| missing(Provider::M365))?;
                m365::calendar::CalendarConnector::new(cfg, tokens, sink, "")
                    .calendars()
                    .await
            }
            _ => {
                let cfg = apps
                    .google
                    .clone()
                    .ok_or_else(|| missing(Provider::Google))?;
                kith_connectors::google::calendar::CalendarConnector::new(
                    cfg, tokens, sink, "primary",
                )
                .calendars()
                .await
            }
        }
    }
}

/// Seals tokens a connector refreshed the moment it has them, in one row with the access token:
/// Microsoft rotates refresh tokens on every use, so the newest must never be lost.
pub(crate) struct Saver {
    sealer: Sealer,
    store: Arc<dyn Store>,
    provider: String,
    owner: i64,
}

#[async_trait]
impl kith_connectors::oauth::TokenSink for Saver {
    async fn save(&self, tokens: &Tokens) {
        let name = tokens_name(&self.provider, self.owner, &tokens.account);
        let Ok(plain) = serde_json::to_vec(tokens) else {
            return;
        };
        let sealed = self.sealer.seal(&name, &plain);
        if let Err(e) = self
            .store
            .put_sealed(&name, Some(self.owner), &sealed, None)
            .await
        {
            tracing::error!(error = %e, provider = %self.provider, "cannot store refreshed OAuth tokens");
        }
    }
}

impl Upstreams {
    /// Revokes the account's grant at the provider (best effort) and removes the sealed
    /// tokens. Returns the provider's refusal, if it did not confirm the revocation.
    pub async fn disconnect(
        &self,
        store: &dyn Store,
        s: &Source,
    ) -> Result<Option<String>, crate::store::StoreError> {
        // Its change notifications end first, while the tokens still work.
        let channels = store.channels_of(s.id).await?;
        if !channels.is_empty()
            && let Ok(mut conn) = self.connector(store, s).await
        {
            for c in &channels {
                let w = kith_connectors::connector::Watch {
                    remote_id: c.remote_id.clone(),
                    resource_id: c.resource_id.clone(),
                    expires_at: c.expires_at,
                };
                if let Err(e) = conn.unwatch(&w).await {
                    tracing::info!(source = %s.name, error = %e, "the provider did not confirm the end of a watch");
                }
            }
        }
        for c in channels {
            store.delete_channel(c.id).await?;
        }
        if s.kind.provider() != Some(Provider::Google) {
            return Ok(None);
        }
        let key = s.kind.as_str();
        let account = s.location.clone().unwrap_or_default();
        let mut refused = None;
        if let (Ok(Some(t)), Some(cfg)) = (
            self.tokens(store, key, s.owner_id, &account).await,
            &self.apps().await.google,
        ) && let Err(e) = kith_connectors::google::revoke(cfg, &t).await
        {
            refused = Some(e.to_string());
        }
        store
            .delete_sealed(&tokens_name(key, s.owner_id, &account))
            .await?;
        Ok(refused)
    }
}
