//! The authorization-code flow around the provider: a pending authorization (its PKCE
//! verifier, sealed, single use, ten minutes) tied to the user who started it, and its
//! completion into sealed tokens and a source.

use super::Upstreams;
use crate::store::sync::SourcePatch;
use crate::store::{Store, User};
use kith_connectors::google;
use kith_connectors::rules::Rules;
use serde::{Deserialize, Serialize};

/// How long a user has to finish at the provider.
const PENDING_MS: i64 = 10 * 60 * 1000;

#[derive(Serialize, Deserialize)]
struct Pending {
    user_id: i64,
    user: String,
    provider: String,
    verifier: String,
    source: String,
    book: String,
    /// Hash of the browser cookie set when the flow started in a browser: the callback must
    /// come from that browser. `None` for a URL the CLI printed.
    binding: Option<String>,
}

fn state_name(state: &str) -> String {
    format!("state:{}", blake3::hash(state.as_bytes()).to_hex())
}

pub fn binding_hash(cookie: &str) -> String {
    blake3::hash(cookie.as_bytes()).to_hex().to_string()
}

/// Where to send the user to authorize `provider` for source `source`.
pub async fn start(
    up: &Upstreams,
    store: &dyn Store,
    user: &User,
    provider: &str,
    source: &str,
    book: &str,
    binding: Option<&str>,
) -> Result<String, String> {
    if !up.enabled(store, provider).await? {
        return Err(not_enabled(up, provider));
    }
    let cfg = up
        .google
        .as_ref()
        .ok_or_else(|| not_enabled(up, provider))?;
    let started = google::start(cfg, None)
        .map_err(|e| google::errors::oauth_message(&e, &cfg.app.client_id))?;
    let pending = Pending {
        user_id: user.id,
        user: user.name.clone(),
        provider: provider.to_string(),
        verifier: started.verifier,
        source: source.to_string(),
        book: book.to_string(),
        binding: binding.map(binding_hash),
    };
    let name = state_name(&started.state);
    let plain = serde_json::to_vec(&pending).map_err(|e| e.to_string())?;
    store
        .put_sealed(
            &name,
            Some(user.id),
            &up.sealer.seal(&name, &plain),
            Some(crate::store::now_ms() + PENDING_MS),
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(started.url)
}

pub fn not_enabled(up: &Upstreams, provider: &str) -> String {
    if up.configured(provider) {
        format!(
            "{provider} is not enabled on this server. A Kith admin enables it with `kith provider enable {provider}` (or in the admin page)."
        )
    } else {
        format!(
            "{provider} is not set up on this server. A Kith admin must add the [providers.{provider}] section (client id and secret) to the config and run `kith provider enable {provider}`."
        )
    }
}

/// Spends a pending authorization the provider refused, so its state cannot be used again.
pub async fn discard(store: &dyn Store, state: &str) {
    let _ = store.take_sealed(&state_name(state)).await;
}

/// A finished authorization.
pub struct Connected {
    pub user: String,
    pub source: String,
    pub account: String,
    pub created: bool,
}

/// Completes the callback: `state` must name a pending authorization (used once), and
/// `cookie` must match the browser that started it, if one did.
pub async fn finish(
    up: &Upstreams,
    store: &dyn Store,
    state: &str,
    code: &str,
    cookie: Option<&str>,
) -> Result<Connected, String> {
    let name = state_name(state);
    let sealed = store
        .take_sealed(&name)
        .await
        .map_err(|e| e.to_string())?
        .ok_or(
            "This authorization link expired or was already used. Start the connection again.",
        )?;
    let pending: Pending = up
        .sealer
        .open(&name, &sealed)
        .ok()
        .and_then(|p| serde_json::from_slice(&p).ok())
        .ok_or("This authorization cannot be read (the server's token key changed). Start the connection again.")?;
    if let Some(b) = &pending.binding
        && cookie.map(binding_hash).as_ref() != Some(b)
    {
        return Err("This authorization was started in another browser or session. Start the connection again from here.".into());
    }
    let cfg = up
        .google
        .as_ref()
        .ok_or_else(|| not_enabled(up, &pending.provider))?;
    let tokens = google::finish(cfg, code, &pending.verifier).await?;
    if !up.google_domains.is_empty()
        && !tokens
            .domain
            .as_ref()
            .is_some_and(|d| up.google_domains.contains(&d.to_lowercase()))
    {
        return Err(format!(
            "{} is not an account of {}, the Google Workspace domains this server accepts. Sign in with your organisation's account.",
            tokens.account,
            up.google_domains.join(", ")
        ));
    }
    let user = store
        .user_by_name(&pending.user)
        .await
        .map_err(|e| e.to_string())?
        .filter(|u| u.id == pending.user_id)
        .ok_or("the user who started this authorization no longer exists")?;
    up.save_tokens(store, "google", user.id, &tokens).await?;
    let existing = store
        .source_by_name(user.id, &pending.source)
        .await
        .map_err(|e| e.to_string())?;
    let created = match existing {
        Some(s) if s.kind == "google" => {
            store
                .patch_source(s.id, SourcePatch::Location(tokens.account.clone()))
                .await
                .map_err(|e| e.to_string())?;
            let status = if s.applied_once { "ready" } else { "manual" };
            store
                .patch_source(s.id, SourcePatch::Status(status.into(), None))
                .await
                .map_err(|e| e.to_string())?;
            false
        }
        Some(s) => {
            return Err(format!(
                "you already have a source named {:?} (of kind {}); connect Google under another name",
                s.name, s.kind
            ));
        }
        None => {
            let coll = crate::commands::book_id(store, &user, &pending.book).await?;
            let mut rules = Rules::default();
            // Colleagues on the user's own Workspace domain come from the directory, not
            // from their contacts.
            if let Some(d) = &tokens.domain {
                rules.ignore_domains.push(d.clone());
            }
            let rules = serde_json::to_string(&rules).unwrap_or_default();
            store
                .create_source(
                    user.id,
                    &pending.source,
                    "google",
                    coll,
                    Some(&tokens.account),
                    &rules,
                )
                .await
                .map_err(|e| e.to_string())?;
            true
        }
    };
    tracing::info!(user = %user.name, source = %pending.source, account = %tokens.account, "Google account connected");
    Ok(Connected {
        user: user.name,
        source: pending.source,
        account: tokens.account,
        created,
    })
}
