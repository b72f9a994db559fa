//! The admin page's providers: enable or disable each, set and rotate its app (client id,
//! secret, tenant, public URL; stored sealed, the secret never shown again in full), and
//! choose who may connect accounts.

use super::Web;
use super::form::Form;
use crate::store::Store;
use crate::store::sources::Provider;
use crate::upstream::{Upstreams, authorize};

pub struct ProviderRow {
    pub id: &'static str,
    pub title: &'static str,
    pub configured: bool,
    pub enabled: bool,
    pub client_id: String,
    /// "set (ends in …)", never the secret.
    pub secret: String,
    /// Microsoft 365 only.
    pub tenant: Option<String>,
    pub redirect_base: String,
    /// The URI to register with the provider, once there is a public URL.
    pub redirect_url: Option<String>,
    /// Who may connect, comma-separated; with `groups` empty too: every user.
    pub allowed: String,
    pub groups: String,
}

pub async fn rows(web: &Web) -> Vec<ProviderRow> {
    let up = &web.app.upstreams;
    let store = web.app.store.as_ref();
    let apps = up.apps().await;
    let mut out = Vec::new();
    for p in Provider::ALL {
        let view = up.app_view(p).await;
        let (allowed, groups) = apps.allowed(p).names(store).await;
        out.push(ProviderRow {
            id: p.id(),
            title: p.title(),
            configured: apps.configured(p.id()),
            enabled: up.enabled(store, p.id()).await.unwrap_or(false),
            client_id: view.client_id,
            secret: view.secret,
            tenant: view.tenant,
            redirect_base: view.redirect_base,
            redirect_url: apps.redirect_url(p).map(str::to_string),
            allowed: allowed.join(", "),
            groups: groups.join(", "),
        });
    }
    out
}

/// The provider actions of `POST /admin/ACTION`; `None` for another action.
pub async fn act(web: &Web, action: &str, form: &Form) -> Option<Result<String, String>> {
    if !matches!(action, "provider" | "provider-app" | "provider-allow") {
        return None;
    }
    let p = Provider::parse(form.get("provider"))?;
    let up = &web.app.upstreams;
    let store = web.app.store.as_ref();
    Some(match action {
        "provider" => enable(up, store, p, form.get("on") == "1").await,
        "provider-app" => set_app(up, p, form).await,
        _ => allow(up, store, p, form.get("users"), form.get("groups")).await,
    })
}

async fn enable(
    up: &Upstreams,
    store: &dyn Store,
    p: Provider,
    on: bool,
) -> Result<String, String> {
    let apps = up.apps().await;
    if on && !apps.configured(p.id()) {
        return Err(super::oauth::authorize_words(&authorize::not_enabled(
            &apps,
            p.id(),
        )));
    }
    Upstreams::set_enabled(store, p.id(), on).await?;
    Ok(format!(
        "{} is {}.",
        p.title(),
        if on {
            "enabled: users can connect their accounts on their Sources page"
        } else {
            "disabled: no new connections; connected sources keep what they synced"
        }
    ))
}

async fn set_app(up: &Upstreams, p: Provider, form: &Form) -> Result<String, String> {
    let mut s = up.app_settings(p).await;
    let field = |name: &str| {
        let v = form.get(name).trim();
        (!v.is_empty()).then(|| v.to_string())
    };
    if let Some(id) = field("client_id") {
        s.client_id = Some(id);
    }
    // An empty secret field keeps the stored secret: it is never sent back to the browser.
    let rotated = field("client_secret");
    if rotated.is_some() {
        s.client_secret = rotated.clone();
    }
    if p == Provider::M365
        && let Some(t) = field("tenant")
    {
        s.tenant = Some(t);
    }
    if let Some(b) = field("redirect_base") {
        s.redirect_base = Some(b.trim_end_matches('/').to_string());
    }
    up.set_app_settings(p, &s)
        .await
        .map_err(|e| e.to_string())?;
    let apps = up.apps().await;
    Ok(match apps.redirect_url(p) {
        Some(url) => format!(
            "{} app saved{}. Register this redirect URI with {}: {url}",
            p.title(),
            if rotated.is_some() {
                ", with the new secret"
            } else {
                ""
            },
            p.title()
        ),
        None => format!(
            "{} app saved; it still needs a client id and the server's public URL before users can connect.",
            p.title()
        ),
    })
}

async fn allow(
    up: &Upstreams,
    store: &dyn Store,
    p: Provider,
    users: &str,
    groups: &str,
) -> Result<String, String> {
    let mut s = up.app_settings(p).await;
    s.allowed_users.clear();
    s.allowed_groups.clear();
    let (users, groups) = (list(users), list(groups));
    for name in &users {
        let u = store
            .user_by_name(name)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("there is no user {name:?}; create them first"))?;
        s.allowed_users.push(u.id);
    }
    for name in &groups {
        let g = crate::core::groups::find(store, name)
            .await
            .map_err(|e| format!("{e}; make it under Groups first"))?;
        s.allowed_groups.push(g.id);
    }
    up.set_app_settings(p, &s)
        .await
        .map_err(|e| e.to_string())?;
    let mut who: Vec<String> = users.iter().map(|u| u.to_string()).collect();
    who.extend(groups.iter().map(|g| format!("the members of {g}")));
    Ok(if who.is_empty() {
        format!("Every user may now connect {}.", p.title())
    } else {
        format!(
            "Only {} may now connect {}. Other users' sources stop syncing and keep their contacts.",
            who.join(", "),
            p.title()
        )
    })
}

fn list(v: &str) -> Vec<&str> {
    v.split([',', '\n'])
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect()
}
