//! Sign-in through an OpenID Connect provider (`[web.oidc]`): the authorization code flow with
//! PKCE and a nonce. The pending sign-in is sealed in the database (any instance may receive
//! the callback) and bound to the browser by a cookie; the ID token's signature, issuer,
//! audience, expiry and nonce are checked before its claim names a Kith user.

use super::{login, page, session};
use crate::app::App;
use crate::config::OidcSection;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use kith_connectors::oauth::{Http, http_client};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

const COOKIE: &str = "kith_oidc";
const PENDING_MS: i64 = 10 * 60_000;

#[derive(Serialize, Deserialize)]
struct Pending {
    nonce: String,
    verifier: String,
    next: String,
    binding: String,
}

fn pending_name(state: &str) -> String {
    format!("oidc:{}", blake3::hash(state.as_bytes()).to_hex())
}

fn redirect_url(app: &App, headers: &HeaderMap) -> String {
    format!("{}/login/oidc/callback", super::base_url(app, headers))
}

/// The provider's client, from its discovery document. Discovery is read on each sign-in:
/// sign-ins are rare, and a provider's keys rotate.
async fn client(
    cfg: &OidcSection,
    redirect: &str,
) -> Result<
    openidconnect::core::CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    >,
    String,
> {
    let http = Http(http_client());
    let issuer = IssuerUrl::new(cfg.issuer.clone())
        .map_err(|e| format!("web.oidc.issuer is not a URL: {e}"))?;
    let meta = CoreProviderMetadata::discover_async(issuer, &http)
        .await
        .map_err(|e| {
            format!(
                "The sign-in provider at {} could not be reached or its discovery document is invalid ({e}). Try again later, or sign in with your password.",
                cfg.issuer
            )
        })?;
    let redirect =
        RedirectUrl::new(redirect.to_string()).map_err(|e| format!("bad redirect URL: {e}"))?;
    Ok(CoreClient::from_provider_metadata(
        meta,
        ClientId::new(cfg.client_id.clone()),
        Some(ClientSecret::new(cfg.client_secret.clone())),
    )
    .set_redirect_uri(redirect))
}

fn refused(app: &App, headers: &HeaderMap, next: &str, msg: String) -> Response {
    tracing::info!(reason = %msg, "single sign-on refused");
    login::show(app, headers, StatusCode::FORBIDDEN, next, "", Some(msg))
}

/// `GET /login/oidc` and `GET /login/oidc/callback`.
pub async fn handle(app: &Arc<App>, req: Request) -> Response {
    let Some(cfg) = app.config.web.oidc.as_ref() else {
        return page::bare_error(
            StatusCode::NOT_FOUND,
            "Not available",
            "Single sign-on is not set up on this server. Sign in with your password.",
        );
    };
    let q = crate::web::oauth::query(req.uri());
    let headers = req.headers();
    if req.uri().path() == "/login/oidc/callback" {
        return callback(app, cfg, headers, &q).await;
    }
    let next = login::safe_next(q.get("next").map(String::as_str).unwrap_or("/")).to_string();
    let client = match client(cfg, &redirect_url(app, headers)).await {
        Ok(c) => c,
        Err(msg) => return refused(app, headers, &next, msg),
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge)
        .url();
    let binding = session::random_token();
    let pending = Pending {
        nonce: nonce.secret().clone(),
        verifier: verifier.secret().clone(),
        next,
        binding: blake3::hash(binding.as_bytes()).to_hex().to_string(),
    };
    let name = pending_name(state.secret());
    let plain = serde_json::to_vec(&pending).unwrap_or_default();
    let sealed = app.upstreams.sealer.seal(&name, &plain);
    if let Err(e) = app
        .store
        .put_sealed(
            &name,
            None,
            &sealed,
            Some(crate::store::now_ms() + PENDING_MS),
        )
        .await
    {
        tracing::error!(error = %e, "storing a pending sign-in failed");
        return refused(
            app,
            headers,
            &pending.next,
            "The database did not answer. Try again in a moment.".into(),
        );
    }
    let mut r = page::redirect(url.as_str());
    if let Some(v) = session::set_cookie(COOKIE, &binding, 600, session::secure(app, headers)) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

async fn callback(
    app: &Arc<App>,
    cfg: &OidcSection,
    headers: &HeaderMap,
    q: &std::collections::HashMap<String, String>,
) -> Response {
    let state = q.get("state").cloned().unwrap_or_default();
    let name = pending_name(&state);
    let taken = app.store.take_sealed(&name).await.ok().flatten();
    let pending: Option<Pending> = taken
        .and_then(|s| app.upstreams.sealer.open(&name, &s).ok())
        .and_then(|p| serde_json::from_slice(&p).ok());
    let Some(pending) = pending else {
        return refused(
            app,
            headers,
            "/",
            "This sign-in link expired or was already used. Sign in again.".into(),
        );
    };
    let next = pending.next.clone();
    let cookie = session::cookie(headers, COOKIE).unwrap_or_default();
    if blake3::hash(cookie.as_bytes()).to_hex().as_str() != pending.binding {
        return refused(
            app,
            headers,
            &next,
            "This sign-in was started in another browser. Sign in again from here.".into(),
        );
    }
    if let Some(e) = q.get("error") {
        let why = q.get("error_description").cloned().unwrap_or_default();
        return refused(
            app,
            headers,
            &next,
            format!(
                "The sign-in provider refused ({e}{}). Try again, or sign in with your password.",
                if why.is_empty() {
                    String::new()
                } else {
                    format!(": {why}")
                }
            ),
        );
    }
    let (claim, groups) = match identity(app, cfg, headers, q, &pending).await {
        Ok(c) => c,
        Err(msg) => return refused(app, headers, &next, msg),
    };
    let user = match app.store.user_by_name(&claim).await {
        Ok(Some(u)) => u,
        Ok(None) if cfg.create_users && crate::core::accounts::valid_user_name(&claim) => {
            // No password of their own: they sign in here, and use app passwords on devices.
            let password = crate::core::accounts::random_password();
            match crate::core::accounts::create_user(app.store.as_ref(), &claim, &password).await {
                Ok(u) => u,
                Err(e) => return refused(app, headers, &next, e.to_string()),
            }
        }
        Ok(None) => {
            return refused(
                app,
                headers,
                &next,
                format!(
                    "You signed in as {claim}, but this Kith server has no user of that name. Ask a Kith admin to create it."
                ),
            );
        }
        Err(e) => return refused(app, headers, &next, e.to_string()),
    };
    if user.disabled_at.is_some() {
        return refused(
            app,
            headers,
            &next,
            "This account is disabled. Ask a Kith admin to enable it again.".into(),
        );
    }
    if let Some(groups) = groups {
        // The provider's word on groups replaces what it said at the last sign-in.
        if let Err(e) = app.store.set_claimed_groups(user.id, &groups).await {
            tracing::warn!(user = %user.name, error = %e, "groups from the sign-in claim not recorded");
        }
    }
    login::signed_in(app, headers, user.id, &next).await
}

/// The group names in the verified ID token's `claim` (a list of strings, or one string);
/// names Kith cannot use as group names are left out.
fn claimed_groups(id_token: &str, claim: &str) -> Vec<String> {
    use base64::Engine;
    let payload = id_token.split('.').nth(1).unwrap_or("");
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload) else {
        return Vec::new();
    };
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let names: Vec<String> = match &v[claim] {
        serde_json::Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        serde_json::Value::String(s) => vec![s.clone()],
        _ => Vec::new(),
    };
    names
        .into_iter()
        .filter(|n| crate::core::accounts::valid_user_name(n))
        .collect()
}

/// Exchanges the code and returns the verified ID token's user-name claim, and its groups when
/// `groups_claim` is set.
async fn identity(
    app: &App,
    cfg: &OidcSection,
    headers: &HeaderMap,
    q: &std::collections::HashMap<String, String>,
    pending: &Pending,
) -> Result<(String, Option<Vec<String>>), String> {
    let code = q
        .get("code")
        .filter(|c| !c.is_empty())
        .ok_or("The provider's answer carries no authorization code. Sign in again.")?;
    let client = client(cfg, &redirect_url(app, headers)).await?;
    let http = Http(http_client());
    let tokens = client
        .exchange_code(AuthorizationCode::new(code.clone()))
        .map_err(|e| format!("The provider has no token endpoint: {e}"))?
        .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier.clone()))
        .request_async(&http)
        .await
        .map_err(|e| format!("The provider did not accept the sign-in ({e}). Sign in again."))?;
    let id_token = tokens.id_token().ok_or(
        "The provider sent no ID token. Check that the client is an OpenID Connect client.",
    )?;
    let claims = id_token
        .claims(
            &client.id_token_verifier(),
            &Nonce::new(pending.nonce.clone()),
        )
        .map_err(|e| format!("The provider's ID token is not valid ({e}). Sign in again."))?;
    let value = match cfg.username_claim.as_str() {
        "email" => claims.email().map(|e| e.as_str().to_string()),
        _ => claims.preferred_username().map(|u| u.as_str().to_string()),
    };
    let name = value.ok_or_else(|| {
        format!(
            "The provider's ID token has no {} claim; set web.oidc.username_claim to a claim it sends.",
            cfg.username_claim
        )
    })?;
    // The token's signature, issuer, audience, expiry and nonce were checked just above, so
    // its payload can be read for a claim the library's typed claims do not carry.
    let groups = cfg
        .groups_claim
        .as_deref()
        .map(|c| claimed_groups(&id_token.to_string(), c));
    Ok((name, groups))
}
