//! Signing in and out. The password is checked with argon2 off the async workers; five wrong
//! passwords for one account make it wait 15 minutes.

use super::page::{self, Nav};
use super::{Web, form, session};
use crate::app::App;
use askama::Template;
use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use std::sync::Arc;

#[derive(Template)]
#[template(path = "login.html")]
struct Login<'a> {
    nav: Nav,
    token: &'a str,
    next: &'a str,
    user: &'a str,
    error: Option<String>,
    /// "Sign in with …", when single sign-on is set up.
    sso: Option<&'a str>,
}

/// Only a path on this server: an open redirect would let a link send a signed-in user
/// anywhere.
pub fn safe_next(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        "/"
    }
}

pub fn show(
    app: &App,
    headers: &HeaderMap,
    status: StatusCode,
    next: &str,
    user: &str,
    error: Option<String>,
) -> Response {
    // A fresh token per form shown; the cookie and the form field must match on POST.
    let token = session::random_token();
    let mut r = page::render(
        status,
        &Login {
            nav: Nav::signed_out(),
            token: &token,
            next,
            user,
            error,
            sso: app.config.web.oidc.as_ref().map(|o| o.label.as_str()),
        },
    );
    if let Some(v) = session::set_cookie(
        session::LOGIN_COOKIE,
        &token,
        3600,
        session::secure(app, headers),
    ) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

pub async fn handle(app: &Arc<App>, req: Request) -> Response {
    let q = crate::web::oauth::query(req.uri());
    let next = safe_next(q.get("next").map(String::as_str).unwrap_or("/")).to_string();
    if req.method() != Method::POST {
        if session::current(app, req.headers()).await.is_some() {
            return page::redirect(&next);
        }
        return show(app, req.headers(), StatusCode::OK, &next, "", None);
    }
    let (parts, body) = req.into_parts();
    let headers = parts.headers;
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return show(
            app,
            &headers,
            StatusCode::PAYLOAD_TOO_LARGE,
            &next,
            "",
            Some("The form was too large.".into()),
        );
    };
    let fields: std::collections::HashMap<String, String> =
        form::form_urlencoded(&bytes).into_iter().collect();
    let get = |k: &str| fields.get(k).map(String::as_str).unwrap_or("");
    let next = safe_next(get("next")).to_string();
    let name = get("user").trim().to_string();
    let refuse =
        |status: StatusCode, msg: String| show(app, &headers, status, &next, &name, Some(msg));
    let unavailable = |e: crate::store::StoreError| {
        tracing::error!(error = %e, "sign-in failed");
        refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "The database did not answer. Try again in a moment.".into(),
        )
    };
    let cookie = session::cookie(&headers, session::LOGIN_COOKIE).unwrap_or_default();
    if cookie.is_empty() || !session::same(&cookie, get("token")) {
        return refuse(
            StatusCode::FORBIDDEN,
            "The sign-in form expired or came from another site (CSRF check). Sign in again on this page.".into(),
        );
    }
    let ip = crate::app::client_ip(
        parts.extensions.get::<crate::app::Peer>(),
        headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()),
    );
    let throttle = &app.auth.throttle;
    // Counted before the password is checked, so parallel tries cannot slip past the limit.
    if let Err(wait) = throttle.begin(&name, ip) {
        let minutes = wait.secs().div_ceil(60);
        return refuse(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Too many wrong passwords for {name}. Wait {minutes} minute(s), then try again, or ask an admin to reset the password."
            ),
        );
    }
    let wrong = || {
        tracing::info!(user = %name, "web sign-in failed");
        refuse(
            StatusCode::UNAUTHORIZED,
            "Wrong user name or password.".into(),
        )
    };
    let password = get("password").to_string();
    let user = match app.store.user_by_name(&name).await {
        Ok(Some(u)) => u,
        Ok(None) => {
            // An unknown name costs what a known one does.
            throttle.verify(password, None).await;
            return wrong();
        }
        Err(e) => return unavailable(e),
    };
    if !throttle
        .verify(password, Some(user.password_hash.clone()))
        .await
    {
        return wrong();
    }
    if user.disabled_at.is_some() {
        return refuse(
            StatusCode::FORBIDDEN,
            "This account is disabled. Ask a Kith admin to enable it again.".into(),
        );
    }
    throttle.succeeded(&name, ip);
    signed_in(app, &headers, user.id, &next).await
}

/// Starts a session for `user_id` and sends the browser on to `next`.
pub async fn signed_in(app: &App, headers: &HeaderMap, user_id: i64, next: &str) -> Response {
    let token = match session::start(app, user_id).await {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "starting a session failed");
            return show(
                app,
                headers,
                StatusCode::SERVICE_UNAVAILABLE,
                next,
                "",
                Some("The database did not answer. Try again in a moment.".into()),
            );
        }
    };
    let secure = session::secure(app, headers);
    let mut r = page::redirect(next);
    if let Some(v) = session::set_cookie(session::COOKIE, &token, session::MAX_AGE_SECS, secure) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    if let Some(v) = session::set_cookie(session::LOGIN_COOKIE, "", 0, secure) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

pub async fn logout(web: &Web) -> Response {
    session::end(&web.app, &web.headers).await;
    let mut r = page::redirect("/login");
    if let Some(v) = session::set_cookie(
        session::COOKIE,
        "",
        0,
        session::secure(&web.app, &web.headers),
    ) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_server() {
        assert_eq!(safe_next("/sources"), "/sources");
        assert_eq!(safe_next("//evil.example/"), "/");
        assert_eq!(safe_next("https://evil.example/"), "/");
        assert_eq!(safe_next("/\\evil"), "/");
    }
}
