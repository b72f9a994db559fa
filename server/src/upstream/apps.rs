//! The provider apps (OAuth clients): the config file's `[providers.*]`, overlaid with what an
//! admin set from the web or the CLI. Those settings are stored sealed, like tokens, and are
//! read again on every use, so a rotated secret takes effect at once on every instance.

use super::Upstreams;
use crate::config::{GoogleSection, M365Section};
use crate::store::sources::Provider;
use kith_connectors::oauth::App as OAuthApp;
use kith_connectors::{google, m365};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// What an admin set for one provider. `None` keeps the config file's value.
#[derive(Serialize, Deserialize, Default, Clone)]
pub struct AppSettings {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// Microsoft 365 only: `common`, `organizations`, or one tenant.
    pub tenant: Option<String>,
    /// The server's public base URL, which the provider sends users back to.
    pub redirect_base: Option<String>,
    /// The users who may connect an account (their ids); with `allowed_groups` empty too:
    /// every user.
    #[serde(default)]
    pub allowed_users: Vec<i64>,
    /// The groups whose members may connect an account (their ids).
    #[serde(default)]
    pub allowed_groups: Vec<i64>,
}

/// Why an admin's change to a provider app was refused.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0} must not be empty")]
    Empty(&'static str),
    #[error("the redirect base {0:?} must be an http:// or https:// URL")]
    BadBase(String),
    #[error("{0}")]
    Store(String),
}

fn settings_name(provider: Provider) -> String {
    format!("provider-app:{}", provider.id())
}

/// The provider apps in effect now.
pub struct Apps {
    pub google: Option<Arc<google::Config>>,
    pub m365: Option<Arc<m365::Config>>,
    /// The tenant Microsoft 365 users sign in through.
    pub m365_tenant: String,
    google_allowed: Allowed,
    m365_allowed: Allowed,
}

/// Who may connect a provider: these users and the members of these groups; nobody listed
/// means everyone.
#[derive(Default, Clone)]
pub struct Allowed {
    pub users: Vec<i64>,
    pub groups: Vec<i64>,
}

impl Allowed {
    pub fn everyone(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty()
    }

    /// The allowed users' and groups' names, for the admin pages.
    pub async fn names(&self, store: &dyn crate::store::Store) -> (Vec<String>, Vec<String>) {
        let users = store.list_users().await.unwrap_or_default();
        let groups = store.groups().await.unwrap_or_default();
        (
            users
                .into_iter()
                .filter(|u| self.users.contains(&u.id))
                .map(|u| u.name)
                .collect(),
            groups
                .into_iter()
                .filter(|g| self.groups.contains(&g.id))
                .map(|g| g.name)
                .collect(),
        )
    }

    /// Whether `user`, in `groups`, may connect.
    pub fn admits(&self, user: i64, groups: &[i64]) -> bool {
        self.everyone()
            || self.users.contains(&user)
            || groups.iter().any(|g| self.groups.contains(g))
    }
}

impl Apps {
    /// Whether `provider` has an app Kith can send users to.
    pub fn configured(&self, provider: &str) -> bool {
        match provider {
            "google" => self.google.is_some(),
            "m365" => self.m365.is_some(),
            _ => false,
        }
    }

    /// Who may connect `provider`.
    pub fn allowed(&self, provider: Provider) -> &Allowed {
        match provider {
            Provider::Google => &self.google_allowed,
            Provider::M365 => &self.m365_allowed,
        }
    }

    /// Whether `user`, a member of `groups`, may connect `provider`.
    pub fn allows(&self, provider: Provider, user: i64, groups: &[i64]) -> bool {
        self.allowed(provider).admits(user, groups)
    }

    pub fn redirect_url(&self, provider: Provider) -> Option<&str> {
        match provider {
            Provider::Google => self.google.as_ref().map(|g| g.app.redirect_url.as_str()),
            Provider::M365 => self.m365.as_ref().map(|m| m.app.redirect_url.as_str()),
        }
    }
}

/// `value` unless the admin set another.
fn pick(set: &Option<String>, value: &str) -> String {
    set.as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .unwrap_or(value)
        .to_string()
}

fn google_app(g: &GoogleSection, s: &AppSettings, wait_scale: f64) -> Option<google::Config> {
    let client_id = pick(&s.client_id, &g.client_id);
    let base = pick(&s.redirect_base, &g.redirect_base);
    if client_id.is_empty() || base.is_empty() {
        return None;
    }
    Some(google::Config {
        app: OAuthApp {
            client_id,
            client_secret: pick(&s.client_secret, &g.client_secret),
            auth_url: g.auth_url.clone(),
            token_url: g.token_url.clone(),
            redirect_url: format!("{}/oauth/google/callback", base.trim_end_matches('/')),
        },
        api_url: g.api_url.trim_end_matches('/').to_string(),
        calendar_url: g.calendar_url.trim_end_matches('/').to_string(),
        revoke_url: g.revoke_url.clone(),
        page_size: g.page_size,
        // Checked when the config was loaded.
        retry_base: Duration::from_millis(g.retry_base_ms().unwrap_or(1000)),
        max_retries: 6,
        wait_scale,
    })
}

fn m365_app(m: &M365Section, s: &AppSettings, wait_scale: f64) -> Option<m365::Config> {
    let client_id = pick(&s.client_id, &m.client_id);
    let base = pick(&s.redirect_base, &m.redirect_base);
    if client_id.is_empty() || base.is_empty() {
        return None;
    }
    let base = base.trim_end_matches('/');
    let authority = m.authority_url.trim_end_matches('/');
    let tenant = pick(&s.tenant, &m.tenant);
    Some(m365::Config {
        app: OAuthApp {
            client_id,
            client_secret: pick(&s.client_secret, &m.client_secret),
            auth_url: format!("{authority}/{tenant}/oauth2/v2.0/authorize"),
            token_url: format!("{authority}/{tenant}/oauth2/v2.0/token"),
            redirect_url: format!("{base}/oauth/m365/callback"),
        },
        graph_url: m.graph_url.trim_end_matches('/').to_string(),
        admin_link: format!("{base}/oauth/m365/adminconsent"),
        page_size: m.page_size,
        retry_base: Duration::from_millis(m.retry_base_ms().unwrap_or(1000)),
        max_retries: 6,
        wait_scale,
    })
}

impl Upstreams {
    /// What an admin set for `provider` (nothing, if they never did or it cannot be read).
    pub async fn app_settings(&self, provider: Provider) -> AppSettings {
        let name = settings_name(provider);
        let Ok(Some(sealed)) = self.store.sealed(&name).await else {
            return AppSettings::default();
        };
        match self.sealer.open(&name, &sealed) {
            Ok(plain) => serde_json::from_slice(&plain).unwrap_or_default(),
            Err(_) => {
                tracing::warn!(
                    provider = provider.id(),
                    "the provider settings cannot be opened (the token key changed); the config file's apply"
                );
                AppSettings::default()
            }
        }
    }

    /// Stores `s` for `provider`, sealed.
    pub async fn set_app_settings(
        &self,
        provider: Provider,
        s: &AppSettings,
    ) -> Result<(), AppError> {
        for (what, v) in [
            ("the client id", &s.client_id),
            ("the client secret", &s.client_secret),
        ] {
            if v.as_deref().is_some_and(|v| v.trim().is_empty()) {
                return Err(AppError::Empty(what));
            }
        }
        if let Some(b) = &s.redirect_base
            && !(b.starts_with("https://") || b.starts_with("http://"))
        {
            return Err(AppError::BadBase(b.clone()));
        }
        let name = settings_name(provider);
        let plain = serde_json::to_vec(s).map_err(|e| AppError::Store(e.to_string()))?;
        self.store
            .put_sealed(&name, None, &self.sealer.seal(&name, &plain), None)
            .await
            .map_err(|e| AppError::Store(e.to_string()))?;
        tracing::info!(provider = provider.id(), "provider app settings changed");
        Ok(())
    }

    /// The provider apps in effect now.
    pub async fn apps(&self) -> Apps {
        let g = self.app_settings(Provider::Google).await;
        let m = self.app_settings(Provider::M365).await;
        let scale = self.config.wait_scale;
        let m365_section = self.config.m365.clone().unwrap_or_default();
        let google_section = self.config.google.clone().unwrap_or_default();
        Apps {
            google: google_app(&google_section, &g, scale).map(Arc::new),
            m365: m365_app(&m365_section, &m, scale).map(Arc::new),
            m365_tenant: pick(&m.tenant, &m365_section.tenant),
            google_allowed: Allowed {
                users: g.allowed_users,
                groups: g.allowed_groups,
            },
            m365_allowed: Allowed {
                users: m.allowed_users,
                groups: m.allowed_groups,
            },
        }
    }
}

/// A provider app as the admin pages show it: the secret never in full.
pub struct AppView {
    pub client_id: String,
    pub secret: String,
    /// Microsoft 365 only.
    pub tenant: Option<String>,
    pub redirect_base: String,
}

impl Upstreams {
    pub async fn app_view(&self, provider: Provider) -> AppView {
        let s = self.app_settings(provider).await;
        let (id, secret, tenant, base) = match provider {
            Provider::Google => {
                let g = self.config.google.clone().unwrap_or_default();
                (g.client_id, g.client_secret, None, g.redirect_base)
            }
            Provider::M365 => {
                let m = self.config.m365.clone().unwrap_or_default();
                (
                    m.client_id,
                    m.client_secret,
                    Some(m.tenant),
                    m.redirect_base,
                )
            }
        };
        AppView {
            client_id: pick(&s.client_id, &id),
            secret: masked(&pick(&s.client_secret, &secret)),
            tenant: tenant.map(|t| pick(&s.tenant, &t)),
            redirect_base: pick(&s.redirect_base, &base),
        }
    }
}

/// How a secret is shown once stored: never in full.
pub fn masked(secret: &str) -> String {
    let n = secret.chars().count();
    if n >= 12 {
        let tail: String = secret.chars().skip(n - 4).collect();
        format!("set (ends in …{tail})")
    } else if n > 0 {
        "set".to_string()
    } else {
        "not set".to_string()
    }
}
