//! The web UI under `/`: server-rendered pages (askama templates), forms that work without
//! JavaScript, sessions in the database and a CSRF token on every form. It also owns the
//! browser's OAuth flow and the archive download. DAV stays under `/dav/`; a request that is
//! not for this front is handed back to the router.

mod admin;
mod conflicts;
mod data;
mod devices;
mod download;
mod form;
mod groups;
mod hooks;
mod invitations;
pub use form::form_urlencoded;
mod login;
mod notifications;
mod oauth;
mod oidc;
mod overview;
mod page;
mod providers;
mod runs;
pub mod session;
mod sharing;
mod sources;
mod upload;

use crate::app::{App, LoggedUser};
use crate::store::{User, WebSession};
use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
pub use page::{Nav, redirect};
use std::sync::Arc;

/// The first path segments that belong to the UI.
const SECTIONS: &[&str] = &[
    "login",
    "logout",
    "sources",
    "runs",
    "history",
    "conflicts",
    "devices",
    "notifications",
    "sharing",
    "invitations",
    "data",
    "admin",
    "assets",
];

fn is_page(path: &str) -> bool {
    if path == "/" {
        return true;
    }
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    SECTIONS.contains(&first)
}

/// Where devices and people reach this server: the configured public URL, else the scheme
/// and Host of this request.
pub fn base_url(app: &App, headers: &HeaderMap) -> String {
    let configured = app.config.web.public_url.trim_end_matches('/');
    if !configured.is_empty() {
        return configured.to_string();
    }
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let scheme = if session::secure(app, headers) {
        "https"
    } else {
        "http"
    };
    format!("{scheme}://{host}")
}

/// A signed-in page request.
pub struct Web {
    pub app: Arc<App>,
    pub session: WebSession,
    pub headers: HeaderMap,
    pub uri: axum::http::Uri,
}

impl Web {
    pub fn user(&self) -> &User {
        &self.session.user
    }

    pub fn nav(&self, here: &'static str) -> Nav {
        Nav {
            user: self.session.user.name.clone(),
            admin: self.session.user.is_admin,
            csrf: self.session.csrf.clone(),
            here,
        }
    }

    pub fn base_url(&self) -> String {
        base_url(&self.app, &self.headers)
    }

    pub fn query(&self) -> std::collections::HashMap<String, String> {
        oauth::query(&self.uri)
    }
}

/// Answers `req` if it is for the UI (or for a download a signed-in browser may make); hands
/// it back otherwise.
pub async fn handle(app: &Arc<App>, req: Request) -> Result<Response, Request> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let get = method == Method::GET || method == Method::HEAD;
    if !(get || method == Method::POST) {
        return Err(req);
    }
    if method == Method::POST && path.starts_with("/hooks/") {
        return Ok(hooks::handle(app, req).await);
    }
    if !is_page(&path) {
        if method == Method::GET
            && let Some(r) = oauth::public(app, &path, req.uri(), req.headers()).await
        {
            return Ok(r);
        }
        return download::handle(app, req, &path).await;
    }
    if path == "/assets/kith.css" && get {
        return Ok(page::stylesheet());
    }
    if path == "/login" {
        return Ok(login::handle(app, req).await);
    }
    if get && (path == "/login/oidc" || path == "/login/oidc/callback") {
        return Ok(oidc::handle(app, req).await);
    }
    let Some(session) = session::current(app, req.headers()).await else {
        return Ok(if get {
            let next = if path == "/" {
                String::new()
            } else {
                format!(
                    "?next={}",
                    percent_encoding::utf8_percent_encode(
                        &path,
                        percent_encoding::NON_ALPHANUMERIC
                    )
                )
            };
            redirect(&format!("/login{next}"))
        } else {
            page::bare_error(
                StatusCode::FORBIDDEN,
                "Signed out",
                "Your session has ended. Sign in again, then repeat what you were doing.",
            )
        });
    };
    let (parts, body) = req.into_parts();
    let web = Web {
        app: app.clone(),
        session,
        headers: parts.headers,
        uri: parts.uri,
    };
    let user = web.user().name.clone();
    let mut resp = if method == Method::POST {
        let form = match form::read(&web, body).await {
            Ok(f) => f,
            Err(r) => return Ok(r),
        };
        post(&web, &path, form).await
    } else {
        get_page(&web, &path).await
    };
    resp.extensions_mut().insert(LoggedUser(user));
    Ok(resp)
}

async fn get_page(web: &Web, path: &str) -> Response {
    let segs = segments(path);
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    match segs.as_slice() {
        [""] => overview::dashboard(web).await,
        ["sources"] => sources::list(web).await,
        ["sources", name] => sources::show(web, name).await,
        ["runs", id] => runs::show(web, id).await,
        ["history"] => runs::history(web).await,
        ["conflicts"] => runs::conflicts(web).await,
        ["devices"] => devices::list(web).await,
        ["notifications"] => notifications::show(web).await,
        ["devices", "setup", client] => devices::setup(web, client).await,
        ["sharing"] => sharing::show(web).await,
        ["invitations"] => invitations::show(web).await,
        ["data"] => data::show(web).await,
        ["data", "export", kind, name] => data::export(web, kind, name).await,
        ["data", "card", book, name] => data::card_history(web, book, name).await,
        ["admin"] => admin::show(web).await,
        _ => page::not_found(web),
    }
}

async fn post(web: &Web, path: &str, form: form::Form) -> Response {
    let segs = segments(path);
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    match segs.as_slice() {
        ["logout"] => login::logout(web).await,
        ["sources", "upload"] => upload::receive(web, form).await,
        ["sources", "import"] => upload::import(web, &form).await,
        ["sources", name, "rules"] => sources::save_rules(web, name, &form).await,
        ["sources", name, "preview"] => runs::preview(web, name).await,
        ["sources", name, "remove"] => sources::remove(web, name, &form).await,
        ["runs", id, "apply"] => runs::apply(web, id, &form).await,
        ["runs", id, "undo"] => runs::undo(web, id).await,
        ["conflicts", "resolve"] => conflicts::resolve(web, &form).await,
        ["notifications"] => notifications::save(web, &form).await,
        ["notifications", "test"] => notifications::test(web).await,
        ["devices", "passwords"] => devices::create(web, &form).await,
        ["devices", "revoke"] => devices::revoke(web, &form).await,
        ["devices", "push", "stop"] => devices::stop_push(web, &form).await,
        ["devices", "profile"] => devices::profile(web, &form).await,
        ["data", "restore"] => data::restore(web, &form).await,
        ["data", "restore-book"] => data::restore_book(web, &form).await,
        ["data", "restore-version"] => data::restore_version(web, &form).await,
        ["sharing", action] => sharing::act(web, action, &form).await,
        ["invitations", action] => invitations::act(web, action, &form).await,
        ["admin", action] => admin::act(web, action, &form).await,
        _ => page::not_found(web),
    }
}

/// The path's segments, percent-decoded (source and card names may hold any character).
fn segments(path: &str) -> Vec<String> {
    path.trim_matches('/')
        .split('/')
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect()
}

/// Characters escaped in a path segment of a link: all but unreserved ones (RFC 3986).
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A path segment for a link.
pub fn seg(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()
}
