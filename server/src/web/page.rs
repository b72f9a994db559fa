//! What every page shares: the navigation, rendering a template into a response with the
//! security headers, redirects and error pages.

use super::Web;
use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The header of every page: who is signed in, whether to show the admin link, the CSRF
/// token the page's forms carry, and which section is current (for `aria-current`).
pub struct Nav {
    /// Empty when nobody is signed in.
    pub user: String,
    pub admin: bool,
    pub csrf: String,
    pub here: &'static str,
}

impl Nav {
    pub fn signed_out() -> Nav {
        Nav {
            user: String::new(),
            admin: false,
            csrf: String::new(),
            here: "",
        }
    }

    /// `aria-current="page"` for the current section's link.
    pub fn current(&self, section: &str) -> &'static str {
        if self.here == section {
            "aria-current=\"page\""
        } else {
            ""
        }
    }
}

fn html(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // The pages carry CSRF tokens and personal data: never framed, no inline script.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// Renders a page; a template that fails to render (a bug) is an error page, never a panic.
pub fn render<T: Template>(status: StatusCode, t: &T) -> Response {
    match t.render() {
        Ok(body) => html(status, body),
        Err(e) => {
            tracing::error!(error = %e, "rendering a page failed");
            html(
                StatusCode::INTERNAL_SERVER_ERROR,
                "<!doctype html><title>Error</title><p>This page could not be shown.</p>".into(),
            )
        }
    }
}

pub fn ok<T: Template>(t: &T) -> Response {
    render(StatusCode::OK, t)
}

/// Escapes text for HTML and XML (element content and quoted attributes).
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn redirect(url: &str) -> Response {
    let mut r = (StatusCode::SEE_OTHER, "").into_response();
    if let Ok(v) = HeaderValue::from_str(url) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    nav: Nav,
    title: &'a str,
    message: &'a str,
    back: Option<&'a str>,
}

/// An error page with the navigation: says what went wrong and what to do next.
pub fn page_error(web: &Web, status: StatusCode, title: &str, message: &str) -> Response {
    render(
        status,
        &ErrorPage {
            nav: web.nav(""),
            title,
            message,
            back: None,
        },
    )
}

/// As [`page_error`], with a link back to where the user came from.
pub fn error_back(
    web: &Web,
    status: StatusCode,
    title: &str,
    message: &str,
    back: &str,
) -> Response {
    render(
        status,
        &ErrorPage {
            nav: web.nav(""),
            title,
            message,
            back: Some(back),
        },
    )
}

/// An error page for a browser that is not signed in.
pub fn bare_error(status: StatusCode, title: &str, message: &str) -> Response {
    render(
        status,
        &ErrorPage {
            nav: Nav::signed_out(),
            title,
            message,
            back: Some("/login"),
        },
    )
}

/// What another user's page, or a missing one, looks like: the same, so names don't leak.
pub fn not_found(web: &Web) -> Response {
    page_error(
        web,
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no such page, or it belongs to someone else.",
    )
}

/// A database failure: logged in full, shown without internals.
pub fn internal(web: &Web, e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "a page failed");
    page_error(
        web,
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "Kith could not finish this. Nothing was changed. Try again; if it keeps failing, the server's log says why.",
    )
}

pub fn stylesheet() -> Response {
    let mut r = (StatusCode::OK, include_str!("../../assets/kith.css")).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    r
}

/// A time for people: `2026-11-29 09:03 UTC`.
pub fn when(ms: i64) -> String {
    crate::time::rfc3339(ms)
}

pub fn when_opt(ms: Option<i64>) -> String {
    ms.map(when).unwrap_or_else(|| "never".into())
}

/// A source's status as people read it.
pub fn status_label(status: &str) -> &str {
    match status {
        "ok" | "" => "ok",
        "running" => "running now",
        "paused" => "paused by a guard",
        "needs-reauth" => "needs re-authorization",
        "failing" => "error",
        other => other,
    }
}
