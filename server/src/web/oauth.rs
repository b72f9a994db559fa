//! `/oauth/<provider>/start` (signed in: sends the browser to the provider) and
//! `/oauth/<provider>/callback` (where the provider sends it back). The flow is bound to the
//! browser that started it by a short-lived cookie, and to the user by the sealed state.

use super::page::{escape, redirect};
use crate::app::App;
use crate::core::auth::Principal;
use crate::upstream::authorize;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kith_connectors::oauth::OAuthError;
use std::collections::HashMap;

const COOKIE: &str = "kith_oauth";

pub fn query(uri: &axum::http::Uri) -> HashMap<String, String> {
    super::form_urlencoded(uri.query().unwrap_or("").as_bytes())
        .into_iter()
        .collect()
}

/// A small page a person reads in the browser.
pub fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{t} · Kith</title></head><body><main><h1>{t}</h1><p>{b}</p></main></body></html>",
        t = escape(title),
        b = escape(body)
    );
    let mut r = (status, html).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn cookie(headers: &HeaderMap) -> Option<String> {
    super::session::cookie(headers, COOKIE)
}

/// The provider's name as people know it.
fn title(provider: &str) -> &'static str {
    crate::store::sources::Provider::parse(provider).map_or("Google", |p| p.title())
}

/// `GET /oauth/PROVIDER/start?source=NAME&book=BOOK`, signed in; for PROVIDER `directory`,
/// `?provider=google|m365&book=BOOK&for=GROUP` (admins).
pub async fn start(app: &App, who: &Principal, provider: &str, uri: &axum::http::Uri) -> Response {
    let q = query(uri);
    if provider == "directory" {
        let p = q.get("provider").map(String::as_str).unwrap_or("");
        if let Some(r) = unknown(p) {
            return r;
        }
        let provider = crate::store::sources::Provider::parse(p)
            .unwrap_or(crate::store::sources::Provider::Google);
        let book = q.get("book").map(String::as_str).unwrap_or("directory");
        // No `for`: connecting again, the book's shares stay as they are.
        let readers = q.get("for").map(String::as_str).unwrap_or("");
        let binding = hex(&rand::random::<[u8; 24]>());
        let started = authorize::start_directory(
            &app.upstreams,
            app.store.as_ref(),
            &who.user,
            provider,
            book,
            readers,
            Some(&binding),
        )
        .await;
        return away(app, started, &binding, provider.title()).await;
    }
    if provider == "calendar" {
        return calendar_start(app, who, &q).await;
    }
    if let Some(r) = unknown(provider) {
        return r;
    }
    let source = q
        .get("source")
        .cloned()
        .unwrap_or_else(|| provider.to_string());
    let book = q
        .get("book")
        .cloned()
        .unwrap_or_else(|| crate::core::accounts::DEFAULT_BOOK.to_string());
    let binding = hex(&rand::random::<[u8; 24]>());
    let started = authorize::start(
        &app.upstreams,
        app.store.as_ref(),
        &who.user,
        provider,
        &source,
        &book,
        Some(&binding),
    )
    .await;
    away(app, started, &binding, title(provider)).await
}

/// `GET /oauth/calendar/start?provider=google&calendar=ID&into=NAME[&source=NAME]`: a
/// calendar source. With the calendar grant already held, the source is made at once.
async fn calendar_start(app: &App, who: &Principal, q: &HashMap<String, String>) -> Response {
    let p = q.get("provider").map(String::as_str).unwrap_or("");
    if let Some(r) = unknown(p) {
        return r;
    }
    let provider = crate::store::sources::Provider::parse(p)
        .unwrap_or(crate::store::sources::Provider::Google);
    let upstream = q
        .get("calendar")
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "primary".into());
    let into = q
        .get("into")
        .cloned()
        .unwrap_or_else(|| format!("{p}-calendar"));
    let source = q.get("source").cloned().unwrap_or_else(|| into.clone());
    let binding = hex(&rand::random::<[u8; 24]>());
    let started = authorize::start_calendar(
        &app.upstreams,
        app.store.as_ref(),
        &who.user,
        provider,
        &source,
        &into,
        &upstream,
        Some(&binding),
    )
    .await;
    match started {
        Ok(Some(url)) => away(app, Ok(url), &binding, provider.title()).await,
        Ok(None) => redirect(&format!("/sources/{}", super::seg(&source))),
        Err(e) => away(app, Err(e), &binding, provider.title()).await,
    }
}

/// Sends the browser to the provider with the cookie that binds the flow to it, or says why
/// it cannot go.
async fn away(
    app: &App,
    started: Result<String, authorize::AuthorizeError>,
    binding: &str,
    title: &str,
) -> Response {
    match started {
        Ok(url) => {
            let mut r = redirect(&url);
            let apps = app.upstreams.apps().await;
            let secure = crate::store::sources::Provider::ALL
                .into_iter()
                .filter_map(|p| apps.redirect_url(p))
                .any(|u| u.starts_with("https://"));
            let c = format!(
                "{COOKIE}={binding}; Path=/oauth; Max-Age=600; HttpOnly; SameSite=Lax{}",
                if secure { "; Secure" } else { "" }
            );
            if let Ok(v) = HeaderValue::from_str(&c) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Err(e) => page(
            StatusCode::FORBIDDEN,
            &format!("{title} is not available"),
            &authorize_words(&e),
        ),
    }
}

/// Why a provider cannot be connected, worded for someone in the browser.
pub fn authorize_words(e: &authorize::AuthorizeError) -> String {
    use authorize::AuthorizeError::*;
    match e {
        NotEnabled(p) => {
            format!("{p} is not enabled on this server. A Kith admin enables it on the admin page.")
        }
        NotSetUp(p) => format!(
            "{p} is not set up on this server. A Kith admin sets its client id, secret and public URL on the admin page, then enables it there."
        ),
        NotAllowed { provider, admins } => format!(
            "Your Kith admin has opened {provider} only to some users, and you are not one of them yet. Ask an admin ({admins}) to add you on the admin page."
        ),
        Refused(m) => m.clone(),
    }
}

/// The page for a provider Kith has no connector for.
fn unknown(provider: &str) -> Option<Response> {
    crate::store::sources::Provider::parse(provider)
        .is_none()
        .then(|| {
            page(
                StatusCode::NOT_FOUND,
                "Unknown provider",
                &format!("Kith cannot connect {provider} accounts."),
            )
        })
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The pages reached without signing in to Kith: where providers send browsers back, and
/// Microsoft's admin-consent link (for a tenant admin, who need not be a Kith user).
pub async fn public(
    app: &App,
    path: &str,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
) -> Option<Response> {
    let rest = path.strip_prefix("/oauth/")?;
    Some(match rest {
        "m365/adminconsent" => {
            match authorize::admin_start(&app.upstreams, app.store.as_ref()).await {
                Ok(url) => redirect(&url),
                Err(e) => page(
                    StatusCode::FORBIDDEN,
                    "Microsoft 365 is not available",
                    &authorize_words(&e),
                ),
            }
        }
        "m365/adminconsent/callback" => admin_callback(app, uri).await,
        _ => callback(app, rest.strip_suffix("/callback")?, uri, headers).await,
    })
}

/// `GET /oauth/m365/adminconsent/callback?admin_consent=True&tenant=…&state=…` (or `error=…`).
async fn admin_callback(app: &App, uri: &axum::http::Uri) -> Response {
    let q = query(uri);
    let state = q.get("state").cloned().unwrap_or_default();
    if let Some(code) = q.get("error") {
        authorize::discard(app.store.as_ref(), &state).await;
        let e = OAuthError::new(
            code.clone(),
            q.get("error_description").cloned().unwrap_or_default(),
        );
        return page(
            StatusCode::BAD_REQUEST,
            "Admin consent was not given",
            &authorize::error_message(&app.upstreams.apps().await, "m365", &e),
        );
    }
    if !q
        .get("admin_consent")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        authorize::discard(app.store.as_ref(), &state).await;
        return page(
            StatusCode::BAD_REQUEST,
            "Admin consent was not given",
            "Microsoft did not report a consent. Open the admin-consent link again.",
        );
    }
    let tenant = q.get("tenant").cloned().unwrap_or_default();
    match authorize::admin_finish(&app.upstreams, app.store.as_ref(), &state, &tenant).await {
        Ok(msg) => page(
            StatusCode::OK,
            "Kith is allowed for your organisation",
            &msg,
        ),
        Err(msg) => page(
            StatusCode::BAD_REQUEST,
            "Admin consent was not recorded",
            &msg,
        ),
    }
}

/// `GET /oauth/PROVIDER/callback?state=…&code=…` (or `error=…`).
pub async fn callback(
    app: &App,
    provider: &str,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
) -> Response {
    if let Some(r) = unknown(provider) {
        return r;
    }
    let name = title(provider);
    let q = query(uri);
    let state = q.get("state").cloned().unwrap_or_default();
    if let Some(code) = q.get("error") {
        // The pending authorization is spent either way.
        if !state.is_empty() {
            authorize::discard(app.store.as_ref(), &state).await;
        }
        let e = OAuthError::new(
            code.clone(),
            q.get("error_description").cloned().unwrap_or_default(),
        );
        tracing::info!(error = %e.code, provider, "authorization refused");
        return page(
            StatusCode::BAD_REQUEST,
            &format!("{name} was not connected"),
            &authorize::error_message(&app.upstreams.apps().await, provider, &e),
        );
    }
    let Some(code) = q.get("code").filter(|c| !c.is_empty()) else {
        return page(
            StatusCode::BAD_REQUEST,
            &format!("{name} was not connected"),
            &format!(
                "The answer from {name} carries no authorization code. Start the connection again."
            ),
        );
    };
    match authorize::finish(
        &app.upstreams,
        app.store.as_ref(),
        &state,
        code,
        cookie(headers).as_deref(),
    )
    .await
    {
        // A browser signed in to the web UI goes on to the source's page, to preview a sync.
        Ok(c) if super::session::cookie(headers, super::session::COOKIE).is_some() => {
            redirect(&format!(
                "/sources/{}?connected={}",
                super::seg(&c.source),
                super::seg(&c.account)
            ))
        }
        Ok(c) => page(
            StatusCode::OK,
            &format!("{name} connected"),
            &format!(
                "{} is connected as {} source {:?} of user {}. Sign in to Kith and open the source's page to preview the next sync, then apply it.",
                c.account,
                if c.created { "the new" } else { "the existing" },
                c.source,
                c.user
            ),
        ),
        Err(e) => page(
            StatusCode::BAD_REQUEST,
            &format!("{name} was not connected"),
            &authorize_words(&e),
        ),
    }
}
