//! The router: the one place that knows every front. It answers the operations endpoints,
//! offers each request to the web UI, and hands the rest to the DAV front; one access log
//! line per request.

use crate::app::{App, LoggedUser};
use crate::dav::Client;
use crate::store::StoreError;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .fallback(dispatch)
        .with_state(app)
        .layer(middleware::from_fn(access_log))
}

async fn dispatch(State(app): State<Arc<App>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    if let Some(r) = operations(&app, &path, &method).await {
        return r;
    }
    // The web UI's pages, the browser's OAuth flow and the archive download.
    let req = match crate::web::handle(&app, req).await {
        Ok(r) => return r,
        Err(req) => req,
    };
    let budget = app.config.limits.request_timeout();
    match tokio::time::timeout(budget, crate::dav::handle(&app, req)).await {
        Ok(r) => r,
        Err(_) => over_budget(&method, &path, budget),
    }
}

/// A DAV request that ran past `server.limits.request_timeout`: stopped (its transaction, if
/// any, rolled back with it) and answered so the client retries later.
fn over_budget(method: &Method, path: &str, budget: Duration) -> Response {
    tracing::warn!(%method, %path, budget_s = budget.as_secs_f64(), "request stopped: over its time budget");
    let mut r = text(
        StatusCode::SERVICE_UNAVAILABLE,
        &format!(
            "The request took longer than this server allows ({} s) and was stopped. Try again later; if it keeps happening, ask for less at once (fewer items per request, a shorter time range).",
            budget.as_secs()
        ),
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
    r
}

fn text(status: StatusCode, body: &str) -> Response {
    let mut r = (status, format!("{body}\n")).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// The orchestrator's endpoints, answered without credentials: `/healthz` (the process
/// answers), `/readyz` (the database answers and is migrated) and `/metrics` (Prometheus).
async fn operations(app: &App, path: &str, method: &Method) -> Option<Response> {
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    Some(match path {
        "/healthz" => text(StatusCode::OK, "ok"),
        // Bounded: an orchestrator's probe must get an answer, not wait for the pool's own
        // connect timeout while the database is unreachable.
        "/readyz" => match tokio::time::timeout(Duration::from_secs(3), app.store.ready())
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::NotReady(
                    "the database did not answer within 3 s".into(),
                ))
            }) {
            Ok(()) => text(StatusCode::OK, "ready"),
            Err(e) => {
                tracing::warn!(error = %e, "not ready");
                text(StatusCode::SERVICE_UNAVAILABLE, &format!("not ready: {e}"))
            }
        },
        "/metrics" => {
            let mut r = text(
                StatusCode::OK,
                &crate::metrics::render(&app.store.pool_stats()),
            );
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            r
        }
        _ => return None,
    })
}

async fn access_log(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let client = Client::detect(
        req.headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok()),
    );
    let resp = next.run(req).await;
    let user = resp
        .extensions()
        .get::<LoggedUser>()
        .map(|u| u.0.clone())
        .unwrap_or_else(|| "-".into());
    let status = resp.status().as_u16();
    let seconds = start.elapsed().as_secs_f64();
    crate::metrics::request(method.as_str(), status, seconds);
    let ms = seconds * 1000.0;
    // Apple clients always try without credentials first, so a 401 is routine, not a warning.
    if status >= 500 {
        tracing::error!(%method, %path, status, latency_ms = ms, %user, client = client.as_str(), "request");
    } else {
        tracing::info!(%method, %path, status, latency_ms = ms, %user, client = client.as_str(), "request");
    }
    resp
}
