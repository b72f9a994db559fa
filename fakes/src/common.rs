//! What the fakes share: a loopback server in its own thread, opaque tokens, JSON answers and
//! form decoding.

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::collections::HashMap;

/// An opaque random token with a recognisable prefix.
pub fn token(prefix: &str) -> String {
    let r: [u8; 16] = rand::random();
    let hex: String = r.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}{hex}")
}

/// A request path's segments, percent-decoded (ids arrive encoded, as the real APIs take them).
pub fn segments(path: &str) -> Vec<String> {
    path.trim_start_matches('/')
        .split('/')
        .map(|p| {
            percent_encoding::percent_decode_str(p)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect()
}

pub fn json(status: StatusCode, v: Value) -> Response {
    (
        status,
        [(
            axum::http::header::CONTENT_TYPE,
            "application/json; charset=UTF-8",
        )],
        v.to_string(),
    )
        .into_response()
}

/// `a=1&b=2` (a query string or a form body), decoded.
pub fn form(s: &str) -> HashMap<String, String> {
    let dec = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    s.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (dec(k), dec(v))
        })
        .collect()
}

/// A fake's router: every request to `handler`, with no body limit (seeding tens of thousands
/// of contacts is one large control request).
pub fn router<S: Clone + Send + Sync + 'static, H, T>(handler: H, state: S) -> Router
where
    H: axum::handler::Handler<T, S>,
    T: 'static,
{
    Router::new()
        .fallback(handler)
        .with_state(state)
        .layer(axum::extract::DefaultBodyLimit::disable())
}

pub async fn serve(listener: tokio::net::TcpListener, router: Router, name: &str) {
    if let Err(e) = axum::serve(listener, router).await {
        eprintln!("{name}: {e}");
    }
}

/// Serves `router` on a loopback port from a thread of its own; returns the base URL.
pub fn spawn(router: Router, name: &str) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    let label = name.to_string();
    std::thread::spawn(move || {
        let rt = match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                let _ = tx.send(Err(e.to_string()));
                return;
            }
        };
        rt.block_on(async move {
            match tokio::net::TcpListener::bind("127.0.0.1:0").await {
                Ok(l) => {
                    let addr = l.local_addr().map(|a| a.to_string()).unwrap_or_default();
                    let _ = tx.send(Ok(format!("http://{addr}")));
                    serve(l, router, &label).await;
                }
                Err(e) => {
                    let _ = tx.send(Err(e.to_string()));
                }
            }
        });
    });
    match rx.recv() {
        Ok(Ok(url)) => url,
        Ok(Err(e)) => panic!("{name} cannot start: {e}"),
        Err(e) => panic!("{name} cannot start: {e}"),
    }
}

/// A 302 to `to`.
pub fn redirect(to: &str) -> Response {
    let mut r = StatusCode::FOUND.into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(to) {
        r.headers_mut().insert(axum::http::header::LOCATION, v);
    }
    r
}

/// A success whose answer never arrives: headers go out, then the connection breaks, so the
/// client cannot know whether the request was carried out.
pub fn lost_answer(status: StatusCode) -> Response {
    let chunks: Vec<Result<axum::body::Bytes, std::io::Error>> = vec![
        Ok(axum::body::Bytes::from_static(b"{\"id\":")),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection reset",
        )),
    ];
    axum::http::Response::builder()
        .status(status)
        .header(axum::http::header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from_stream(futures_util::stream::iter(
            chunks,
        )))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// The OAuth client a token request authenticates as: HTTP Basic (what oauth2 sends), else
/// the form's `client_id`/`client_secret`.
pub fn client_credentials(
    headers: &axum::http::HeaderMap,
    form: &HashMap<String, String>,
) -> (String, String) {
    use base64::Engine;
    let basic = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.split_once(':').map(|(a, b)| {
                let d = |x: &str| {
                    percent_encoding::percent_decode_str(x)
                        .decode_utf8_lossy()
                        .into_owned()
                };
                (d(a), d(b))
            })
        });
    basic.unwrap_or_else(|| {
        (
            form.get("client_id").cloned().unwrap_or_default(),
            form.get("client_secret").cloned().unwrap_or_default(),
        )
    })
}

/// `current` with the fields `patch` gives replaced (the control API's `/_fake/config`).
pub fn merged<T: serde::Serialize + serde::de::DeserializeOwned>(
    current: &T,
    patch: &Value,
) -> Result<T, String> {
    let mut v = serde_json::to_value(current).map_err(|e| e.to_string())?;
    if let (Some(m), Some(new)) = (v.as_object_mut(), patch.as_object()) {
        for (k, val) in new {
            m.insert(k.clone(), val.clone());
        }
    }
    serde_json::from_value(v).map_err(|e| e.to_string())
}

/// FNV-1a: a stable hash, for ids, etags and page tokens that must not change between runs
/// (std's hasher is seeded per process).
pub fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// [`fnv`] in hex.
pub fn digest(s: &str) -> String {
    format!("{:016x}", fnv(s))
}
