//! Graph's OData error envelope and the identity platform's AADSTS errors, in their real
//! shapes (connectors.md §1.6, §1.8).

use crate::common::json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::json as j;

pub fn graph(status: u16, code: &str, message: &str) -> Response {
    json(
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        j!({"error": {"code": code, "message": message, "innerError": {
            "date": "2026-01-01T00:00:00", "request-id": crate::common::token(""), "client-request-id": crate::common::token("")
        }}}),
    )
}

pub fn unauthenticated() -> Response {
    let mut r = graph(
        401,
        "InvalidAuthenticationToken",
        "Access token has expired or is not yet valid.",
    );
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", error=\"invalid_token\""),
    );
    r
}

/// 429 (or 503), with `Retry-After` when given.
pub fn throttled(status: u16, retry_after: Option<u64>) -> Response {
    let mut r = if status == 429 {
        graph(
            429,
            "ApplicationThrottled",
            "Application is over its MailboxConcurrency limit.",
        )
    } else {
        graph(
            503,
            "serviceNotAvailable",
            "The service is temporarily unavailable.",
        )
    };
    if let Some(s) = retry_after
        && let Ok(v) = HeaderValue::from_str(&s.to_string())
    {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// The token endpoint's error body.
pub fn aadsts(error: &str, code: u32, text: &str) -> Response {
    json(
        if error == "invalid_client" {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::BAD_REQUEST
        },
        j!({
            "error": error,
            "error_description": format!("AADSTS{code}: {text}\r\nTrace ID: {}\r\nCorrelation ID: {}\r\nTimestamp: 2026-01-01 00:00:00Z", crate::common::token(""), crate::common::token("")),
            "error_codes": [code],
            "timestamp": "2026-01-01 00:00:00Z",
            "trace_id": crate::common::token(""),
            "correlation_id": crate::common::token(""),
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}")
        }),
    )
}
