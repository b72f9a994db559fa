//! `kith provider …`, `kith source add google` and `kith source revoke`: enabling providers and
//! connecting or disconnecting accounts from the command line.

use super::lookup::{book_id, source, user};
use crate::cli::args::ProviderCommand;
use crate::store::Store;
use crate::store::sources::SourcePatch;
use crate::store::sources::{Provider, SourceKind};
use crate::upstream::apps::masked;
use crate::upstream::{Upstreams, authorize};

type CliResult = Result<(), String>;

pub async fn provider(store: &dyn Store, up: &Upstreams, cmd: ProviderCommand) -> CliResult {
    match cmd {
        ProviderCommand::Enable { provider } => {
            if !up.apps().await.configured(&provider) {
                return Err(format!(
                    "{provider} is not configured: set its app with `kith provider set {provider} --client-id ID --client-secret-stdin --redirect-base URL` (or add [providers.{provider}] to the config, see config/kith.example.toml), then enable it"
                ));
            }
            Upstreams::set_enabled(store, &provider, true).await?;
            println!(
                "{provider} enabled: users can now connect their accounts (`kith source add {provider} --user NAME`)"
            );
            Ok(())
        }
        ProviderCommand::Disable { provider } => {
            Upstreams::set_enabled(store, &provider, false).await?;
            println!(
                "{provider} disabled: no new connections and no syncs; connected sources and their contacts are kept"
            );
            Ok(())
        }
        ProviderCommand::Status => status(store, up).await,
        ProviderCommand::Set {
            provider,
            client_id,
            client_secret_stdin,
            tenant,
            redirect_base,
        } => {
            let p = parse(&provider)?;
            let mut s = up.app_settings(p).await;
            if let Some(id) = client_id {
                s.client_id = Some(id.trim().to_string());
            }
            if client_secret_stdin {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line).map_err(|e| {
                    format!("cannot read the client secret from standard input: {e}")
                })?;
                s.client_secret = Some(line.trim().to_string());
            }
            if let Some(t) = tenant {
                if p != Provider::M365 {
                    return Err("--tenant is for m365 only".into());
                }
                s.tenant = Some(t.trim().to_string());
            }
            if let Some(b) = redirect_base {
                s.redirect_base = Some(b.trim().trim_end_matches('/').to_string());
            }
            up.set_app_settings(p, &s)
                .await
                .map_err(|e| e.to_string())?;
            let apps = up.apps().await;
            match apps.redirect_url(p) {
                Some(url) => println!(
                    "{} app saved (sealed). Register this redirect URI with {}: {url}",
                    p.title(),
                    p.title()
                ),
                None => println!(
                    "{} app saved (sealed); it still needs a client id and a redirect base before users can connect",
                    p.title()
                ),
            }
            Ok(())
        }
        ProviderCommand::Allow {
            provider,
            users,
            groups,
        } => {
            if users.is_empty() && groups.is_empty() {
                return Err(
                    "name who may connect: --user NAME, --group NAME, or --user all".into(),
                );
            }
            let p = parse(&provider)?;
            let mut s = up.app_settings(p).await;
            s.allowed_users.clear();
            s.allowed_groups.clear();
            let everyone = users.iter().any(|u| u == "all");
            if !everyone {
                for name in &users {
                    s.allowed_users.push(user(store, name).await?.id);
                }
                for name in &groups {
                    let g = crate::core::groups::find(store, name)
                        .await
                        .map_err(|e| e.to_string())?;
                    s.allowed_groups.push(g.id);
                }
            }
            up.set_app_settings(p, &s)
                .await
                .map_err(|e| e.to_string())?;
            if everyone {
                println!("every user may now connect {}", p.title());
            } else {
                let mut who = users.clone();
                who.extend(groups.iter().map(|g| format!("the members of group {g}")));
                println!(
                    "only {} may now connect {}; sources of other users stop syncing and keep their contacts",
                    who.join(", "),
                    p.title()
                );
            }
            Ok(())
        }
    }
}

fn parse(provider: &str) -> Result<Provider, String> {
    Provider::parse(provider)
        .ok_or_else(|| format!("unknown provider {provider:?}; use google or m365"))
}

async fn status(store: &dyn Store, up: &Upstreams) -> CliResult {
    let apps = up.apps().await;
    let users = store.list_users().await.map_err(|e| e.to_string())?;
    for provider in Provider::ALL {
        let p = provider.id();
        let state = if up.enabled(store, p).await? {
            "enabled".to_string()
        } else if apps.configured(p) {
            format!("configured, not enabled (`kith provider enable {p}`)")
        } else {
            format!("not configured (`kith provider set {p} …` or [providers.{p}] in the config)")
        };
        println!("{p}: {state}");
        if let (Provider::Google, Some(g)) = (provider, &apps.google) {
            println!("  client id: {}", g.app.client_id);
            println!("  client secret: {}", masked(&g.app.client_secret));
            println!(
                "  redirect URI (register it at Google): {}",
                g.app.redirect_url
            );
            if !up.google_domains.is_empty() {
                println!(
                    "  accepted Workspace domains: {}",
                    up.google_domains.join(", ")
                );
            }
        }
        if let (Provider::M365, Some(m)) = (provider, &apps.m365) {
            println!("  client id: {}", m.app.client_id);
            println!("  client secret: {}", masked(&m.app.client_secret));
            println!("  tenant: {}", apps.m365_tenant);
            println!(
                "  redirect URIs (register both as Web): {} and {}/callback",
                m.app.redirect_url, m.admin_link
            );
            println!("  admin-consent link for tenant admins: {}", m.admin_link);
            let tenants = authorize::consented_tenants(store).await;
            if tenants.is_empty() {
                println!("  admin consent: none recorded yet");
            } else {
                println!("  admin consent given by tenants: {}", tenants.join(", "));
            }
        }
        let allowed = apps.allowed(provider);
        if allowed.everyone() {
            println!("  who may connect: every user");
        } else {
            let (users, groups) = allowed.names(store).await;
            let mut who = users;
            who.extend(groups.iter().map(|g| format!("group {g}")));
            println!("  who may connect: {}", who.join(", "));
        }
        for u in &users {
            for s in store.sources(u.id).await.map_err(|e| e.to_string())? {
                if s.kind == SourceKind::Account(provider) {
                    println!(
                        "  {} / {}: {} ({})",
                        u.name,
                        s.name,
                        s.location.as_deref().unwrap_or("-"),
                        s.status
                    );
                }
            }
        }
    }
    Ok(())
}

/// Prints the URL that connects a user's account (a CLI-only setup).
pub async fn add(
    store: &dyn Store,
    up: &Upstreams,
    provider: &str,
    user_name: &str,
    name: Option<String>,
    book: Option<String>,
) -> CliResult {
    let u = user(store, user_name).await?;
    let name = name.unwrap_or_else(|| provider.to_string());
    if let Some(s) = store
        .source_by_name(u.id, &name)
        .await
        .map_err(|e| e.to_string())?
        && s.kind.as_str() != provider
    {
        return Err(format!(
            "{user_name} already has a source named {name:?} (of kind {}); choose another with --name",
            s.kind
        ));
    }
    let book = book.unwrap_or_else(|| crate::core::accounts::DEFAULT_BOOK.to_string());
    book_id(store, &u, &book).await?;
    let url = authorize::start(up, store, &u, provider, &name, &book, None)
        .await
        .map_err(|e| words(&e))?;
    let title = Provider::parse(provider).map_or(provider, |p| p.title());
    println!(
        "Open this address as {user_name} within 10 minutes to connect a {title} account as source {name:?}:\n\n{url}\n"
    );
    println!(
        "When {title} sends you back, Kith stores the authorization. Then preview the first sync with `kith sync plan {name} --user {user_name}`."
    );
    Ok(())
}

/// Prints the URL that connects the organisation's directory (an admin's grant).
pub async fn directory(
    store: &dyn Store,
    up: &Upstreams,
    provider: &str,
    user_name: &str,
    book: &str,
    readers: &str,
) -> CliResult {
    let u = user(store, user_name).await?;
    let p = Provider::parse(provider).ok_or_else(|| format!("unknown provider {provider:?}"))?;
    let kind = SourceKind::Directory(p);
    let url = authorize::start_directory(up, store, &u, p, book, readers, None)
        .await
        .map_err(|e| words(&e))?;
    println!(
        "Open this address as {user_name} within 10 minutes to let Kith read the {}:\n\n{url}\n",
        kind.title()
    );
    println!(
        "It becomes source {:?} filling book {book:?}, shared read-only with {}. Then preview the first run with `kith sync plan {kind} --user {user_name}`.",
        kind.as_str(),
        if readers == crate::store::groups::EVERYONE {
            "everyone".to_string()
        } else {
            format!("group {readers:?}")
        }
    );
    Ok(())
}

/// Makes a calendar source: prints the URL the user opens, or makes it at once when Kith holds
/// the user's calendar grant already.
pub async fn calendar(
    store: &dyn Store,
    up: &Upstreams,
    provider: &str,
    user_name: &str,
    upstream: &str,
    into: &str,
    name: &str,
) -> CliResult {
    let u = user(store, user_name).await?;
    let p = Provider::parse(provider).ok_or_else(|| format!("unknown provider {provider:?}"))?;
    let started = authorize::start_calendar(up, store, &u, p, name, into, upstream, None)
        .await
        .map_err(|e| words(&e))?;
    match started {
        Some(url) => {
            println!(
                "Open this address as {user_name} within 10 minutes to let Kith sync the {} calendar {upstream:?} into calendar {into:?} as source {name:?}:\n\n{url}\n",
                p.title()
            );
            println!(
                "Then preview the first sync with `kith sync plan {name} --user {user_name}`."
            );
        }
        None => println!(
            "Source {name:?} syncs the {} calendar {upstream:?} into calendar {into:?} with the grant you gave before. Preview the first sync with `kith sync plan {name} --user {user_name}`.",
            p.title()
        ),
    }
    Ok(())
}

/// Lists the calendars of the account a user's calendar source is connected to.
pub async fn calendars(
    store: &dyn Store,
    up: &Upstreams,
    provider: &str,
    user_name: &str,
) -> CliResult {
    let u = user(store, user_name).await?;
    let p = Provider::parse(provider).ok_or_else(|| format!("unknown provider {provider:?}"))?;
    let kind = SourceKind::Calendar(p);
    let source = store
        .sources(u.id)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .find(|s| s.kind == kind)
        .ok_or_else(|| format!("{user_name} has connected no {} calendar yet; connect one first with `kith source calendar {provider} --user {user_name}`", p.title()))?;
    let listed = up
        .calendar_list(store, &source)
        .await
        .map_err(|e| e.to_string())?;
    for c in listed {
        println!(
            "{}\t{}{}",
            c.id,
            c.name,
            if c.writable { "" } else { " (read-only)" }
        );
    }
    Ok(())
}

/// Revokes Kith's access and forgets the tokens; the source and its contacts stay.
pub async fn revoke(store: &dyn Store, up: &Upstreams, user_name: &str, name: &str) -> CliResult {
    let u = user(store, user_name).await?;
    let s = source(store, &u, name).await?;
    disconnect(store, up, &s).await?;
    store
        .patch_source(
            s.id,
            SourcePatch::Status(
                crate::store::sources::SourceStatus::NeedsReauth,
                Some(format!(
                    "access was revoked; the contacts already synced are kept. Connect again with `kith source add {} --user {user_name} --name {name}`",
                    s.kind
                )),
            ),
        )
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "revoked Kith's access to {}; source {name} and its contacts are kept and wait to be connected again",
        s.location.as_deref().unwrap_or("the account")
    );
    Ok(())
}

/// Revokes the account's grant at the provider and forgets the tokens, warning when the
/// provider did not confirm.
pub async fn disconnect(
    store: &dyn Store,
    up: &Upstreams,
    s: &crate::store::sources::Source,
) -> CliResult {
    if let Some(e) = up.disconnect(store, s).await.map_err(|e| e.to_string())? {
        eprintln!(
            "warning: Google did not confirm the revocation ({e}); remove Kith under myaccount.google.com → Security → Third-party apps"
        );
    }
    Ok(())
}

/// Why a provider cannot be connected, worded for the admin at the command line.
pub fn words(e: &authorize::AuthorizeError) -> String {
    use authorize::AuthorizeError::*;
    match e {
        NotEnabled(p) => format!(
            "{p} is not enabled on this server. A Kith admin enables it with `kith provider enable {p}` (or on the admin page)."
        ),
        NotSetUp(p) => format!(
            "{p} is not set up on this server. A Kith admin sets its app with `kith provider set {p}` (or on the admin page) and runs `kith provider enable {p}`."
        ),
        NotAllowed { .. } => e.to_string(),
        Refused(m) => m.clone(),
    }
}
