//! The admin pages: users (create, disable, reset the password, admin rights), providers
//! (enable, credentials status, Microsoft admin consent), the organisation's own domains,
//! backups and server health. Only admins see them; to anyone else they do not exist.

use super::Web;
use super::form::Form;
use super::page::{self, Nav, when};
use super::providers::ProviderRow;
use crate::upstream::authorize;
use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

/// Contacts whose every address is on one of these domains are ignored by every source.
use crate::sync::OWN_DOMAINS_SETTING as OWN_DOMAINS;

pub struct UserRow {
    pub name: String,
    pub admin: bool,
    pub disabled: bool,
    pub created: String,
    pub me: bool,
}

pub struct Health {
    pub version: &'static str,
    pub backend: &'static str,
    pub database: String,
    pub scheduler: String,
    pub queue: String,
}

#[derive(Template)]
#[template(path = "admin.html")]
struct Admin {
    nav: Nav,
    users: Vec<UserRow>,
    providers: Vec<ProviderRow>,
    /// Whether any provider is on: the directory needs one.
    providers_enabled: bool,
    groups: Vec<super::groups::GroupRow>,
    consent_url: String,
    tenants: Vec<String>,
    domains: String,
    backups_enabled: bool,
    backup_dir: String,
    backup_every: String,
    backups: Vec<String>,
    health: Health,
    notice: Option<String>,
    error: Option<String>,
}

async fn render(
    web: &Web,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let app = &web.app;
    let store = app.store.as_ref();
    let users = match store.list_users().await {
        Ok(u) => u,
        Err(e) => return page::internal(web, e),
    };
    let providers = super::providers::rows(web).await;
    let groups = super::groups::rows(web).await;
    let domains = store
        .setting(OWN_DOMAINS)
        .await
        .ok()
        .flatten()
        .map(|v| String::from_utf8_lossy(&v).into_owned())
        .unwrap_or_default();
    let dir = app.config.backup_dir();
    let mut backups = crate::core::backup::backups_in(&dir).unwrap_or_default();
    backups.sort();
    backups.reverse();
    let database =
        match tokio::time::timeout(std::time::Duration::from_secs(3), store.ready()).await {
            Ok(Ok(())) => "ready".to_string(),
            Ok(Err(e)) => format!("not ready: {e}"),
            Err(_) => "did not answer within 3 s".to_string(),
        };
    let now = crate::store::now_ms();
    let (scheduled, due) = match store.scheduled_sources().await {
        Ok(s) => {
            let due = s
                .iter()
                .filter(|s| s.next_run_at.is_none_or(|t| t <= now))
                .count();
            (s.len(), due)
        }
        Err(_) => (0, 0),
    };
    page::render(
        status,
        &Admin {
            nav: web.nav("admin"),
            users: users
                .into_iter()
                .map(|u| UserRow {
                    me: u.id == web.user().id,
                    admin: u.is_admin,
                    disabled: u.disabled_at.is_some(),
                    created: when(u.created_at),
                    name: u.name,
                })
                .collect(),
            providers_enabled: providers.iter().any(|p| p.enabled),
            providers,
            groups,
            consent_url: authorize::admin_link(&app.upstreams.apps().await).unwrap_or_default(),
            tenants: authorize::consented_tenants(store).await,
            domains,
            backups_enabled: app.config.backup.enabled,
            backup_dir: dir.display().to_string(),
            backup_every: app.config.backup.interval.clone(),
            backups,
            health: Health {
                version: env!("CARGO_PKG_VERSION"),
                backend: store.backend(),
                database,
                scheduler: format!(
                    "checks every {} s for due sources",
                    app.config.sync.scheduler_tick().as_secs()
                ),
                queue: format!("{scheduled} sources sync automatically; {due} due now"),
            },
            notice,
            error,
        },
    )
}

pub async fn show(web: &Web) -> Response {
    if !web.user().is_admin {
        return page::not_found(web);
    }
    render(web, StatusCode::OK, None, None).await
}

/// `POST /admin/ACTION`.
pub async fn act(web: &Web, action: &str, form: &Form) -> Response {
    if !web.user().is_admin {
        return page::not_found(web);
    }
    match run(web, action, form).await {
        Ok(Some(notice)) => render(web, StatusCode::OK, Some(notice), None).await,
        Ok(None) => page::not_found(web),
        Err(msg) => render(web, StatusCode::BAD_REQUEST, None, Some(msg)).await,
    }
}

async fn run(web: &Web, action: &str, form: &Form) -> Result<Option<String>, String> {
    if let Some(done) = super::providers::act(web, action, form).await {
        return done.map(Some);
    }
    if let Some(done) = super::groups::act(web, action, form).await {
        return done.map(Some);
    }
    let store = web.app.store.as_ref();
    let e = |e: crate::store::StoreError| e.to_string();
    let target = || async {
        let name = form.get("user");
        store
            .user_by_name(name)
            .await
            .map_err(e)?
            .ok_or_else(|| format!("there is no user {name:?}"))
    };
    let me = web.user().id;
    Ok(Some(match action {
        "create-user" => {
            let name = form.get("name").trim();
            let mut password = form.get("password").to_string();
            let generated = password.is_empty();
            if generated {
                password = crate::core::accounts::random_password();
            }
            let u = crate::core::accounts::create_user(store, name, &password)
                .await
                .map_err(|e| e.to_string())?;
            if form.checked("admin") {
                store.set_user_admin(u.id, true).await.map_err(e)?;
            }
            if generated {
                format!("Created {name}. Their password, shown only now: {password}")
            } else {
                format!("Created {name} with the password you chose.")
            }
        }
        "disable" | "enable" => {
            let u = target().await?;
            if u.id == me {
                return Err("You cannot disable your own account; ask another admin.".into());
            }
            store
                .set_user_disabled(u.id, action == "disable")
                .await
                .map_err(e)?;
            format!(
                "{} is {}.",
                u.name,
                if action == "disable" {
                    "disabled: signed out everywhere, and their app passwords no longer work. Their data is kept"
                } else {
                    "enabled again"
                }
            )
        }
        "reset-password" => {
            let u = target().await?;
            let password = crate::core::accounts::random_password();
            let hash = tokio::task::spawn_blocking({
                let p = password.clone();
                move || crate::core::accounts::hash_password(&p)
            })
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
            store.set_password(u.id, &hash).await.map_err(e)?;
            if u.id != me {
                store.delete_web_sessions(u.id).await.map_err(e)?;
            }
            format!(
                "New password for {}, shown only now: {password}. Their browser sessions ended; app passwords keep working.",
                u.name
            )
        }
        "grant-admin" | "revoke-admin" => {
            let u = target().await?;
            if u.id == me && action == "revoke-admin" {
                return Err("You cannot remove your own admin rights; ask another admin.".into());
            }
            store
                .set_user_admin(u.id, action == "grant-admin")
                .await
                .map_err(e)?;
            format!(
                "{} {} an admin.",
                u.name,
                if action == "grant-admin" {
                    "is now"
                } else {
                    "is no longer"
                }
            )
        }
        "domains" => {
            let mut domains = Vec::new();
            for d in form
                .get("domains")
                .split([',', '\n', ' '])
                .map(|d| d.trim().trim_start_matches('@').to_lowercase())
                .filter(|d| !d.is_empty())
            {
                if d.contains('@') || !d.contains('.') {
                    return Err(format!("{d:?} is not a domain (write example.com)"));
                }
                domains.push(d);
            }
            let v = domains.join("\n");
            store
                .set_setting(OWN_DOMAINS, (!v.is_empty()).then_some(v.as_bytes()))
                .await
                .map_err(e)?;
            format!(
                "Own domains saved: {}.",
                if domains.is_empty() {
                    "none".to_string()
                } else {
                    domains.join(", ")
                }
            )
        }
        _ => return Ok(None),
    }))
}
