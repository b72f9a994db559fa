//! The two browser-facing endpoints that DAV clients and scripts also reach with Basic auth:
//! `/account/export.zip` (the user's archive) and `/oauth/<provider>/start`. A signed-in
//! browser uses its session; anything else must send credentials.

use crate::app::{App, LoggedUser};
use crate::core::auth::{AuthError, Principal};
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Where a signed-in user downloads the archive of everything they own.
pub const ARCHIVE_PATH: &str = "/account/export.zip";

const INTERNAL: &str = "Internal error; the server log has the details";

/// A plain-text answer, worded like the DAV front's.
fn text(status: StatusCode, msg: &str) -> Response {
    let mut r = (status, format!("{msg}\n")).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Answers an archive download or an OAuth start; hands any other request back.
pub async fn handle(app: &Arc<App>, req: Request, path: &str) -> Result<Response, Request> {
    let oauth_start = path
        .strip_prefix("/oauth/")
        .and_then(|p| p.strip_suffix("/start"));
    let archive = path == ARCHIVE_PATH;
    if oauth_start.is_none() && !archive {
        return Err(req);
    }
    let principal = match super::session::current(app, req.headers()).await {
        Some(session) => Principal {
            user: session.user,
            device: None,
        },
        None => match basic(
            app,
            req.headers().get(header::AUTHORIZATION).cloned(),
            crate::app::client_ip(
                req.extensions().get::<crate::app::Peer>(),
                req.headers()
                    .get("x-forwarded-for")
                    .and_then(|v| v.to_str().ok()),
            ),
        )
        .await
        {
            Ok(p) => p,
            Err(r) => return Ok(r),
        },
    };
    let mut resp = match oauth_start {
        Some(p) if req.method() == Method::GET => {
            super::oauth::start(app, &principal, p, req.uri()).await
        }
        None if req.method() == Method::GET || req.method() == Method::HEAD => {
            self::archive(app, &principal, req.method() == Method::HEAD).await
        }
        _ => text(StatusCode::METHOD_NOT_ALLOWED, "Use GET"),
    };
    resp.extensions_mut()
        .insert(LoggedUser(principal.user.name.clone()));
    Ok(resp)
}

/// The principal of a request with Basic credentials, or the 401 that asks for them.
async fn basic(
    app: &App,
    auth: Option<HeaderValue>,
    ip: Option<std::net::IpAddr>,
) -> Result<Principal, Response> {
    let auth = auth.as_ref().and_then(|v| v.to_str().ok());
    let msg = match app.auth.authenticate(app.store.as_ref(), auth, ip).await {
        Ok(p) => return Ok(p),
        Err(AuthError::Throttled(w)) => {
            return Err(text(
                StatusCode::TOO_MANY_REQUESTS,
                &format!(
                    "Too many wrong passwords lately; try again in {} s.",
                    w.secs()
                ),
            ));
        }
        Err(AuthError::Missing) => "Authentication required",
        Err(AuthError::Malformed) => "Use HTTP Basic authentication",
        Err(AuthError::Rejected) => "Wrong user name or password",
        Err(AuthError::Store(e)) => {
            tracing::error!(error = %e, "authentication failed on a store error");
            return Err(text(StatusCode::INTERNAL_SERVER_ERROR, INTERNAL));
        }
    };
    let mut r = text(StatusCode::UNAUTHORIZED, msg);
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"Kith\", charset=\"UTF-8\""),
    );
    Err(r)
}

/// `GET /account/export.zip`: the user's archive, streamed from a temporary file.
async fn archive(app: &App, principal: &Principal, head: bool) -> Response {
    let user = &principal.user;
    let file = match crate::core::archive::build(app.store.clone(), user).await {
        Ok(f) => f,
        Err(e) => {
            tracing::error!(error = %e, "archive failed");
            return text(StatusCode::INTERNAL_SERVER_ERROR, INTERNAL);
        }
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let body = if head {
        Body::empty()
    } else {
        let file = tokio::fs::File::from_std(file);
        let chunks = futures_util::stream::unfold(file, |mut f| async move {
            use tokio::io::AsyncReadExt;
            let mut buf = vec![0u8; 64 * 1024];
            match f.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok::<_, std::io::Error>(Bytes::from(buf)), f))
                }
                Err(e) => Some((Err(e), f)),
            }
        });
        Body::from_stream(chunks)
    };
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    let file = crate::core::archive::file_name(user);
    if let Ok(v) = HeaderValue::from_str(&crate::core::export::content_disposition(&file)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    r
}
