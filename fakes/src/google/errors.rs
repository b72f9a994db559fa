//! Google's error bodies, word for word where the research has them (connectors.md §2.2, §2.4).

use super::json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::json as j;

fn envelope(code: u16, status: &str, message: &str) -> serde_json::Value {
    j!({"error": {"code": code, "message": message, "status": status}})
}

pub fn unauthenticated() -> Response {
    let mut r = json(
        StatusCode::UNAUTHORIZED,
        envelope(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
        ),
    );
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(
            "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"",
        ),
    );
    r
}

pub fn permission_denied() -> Response {
    json(
        StatusCode::FORBIDDEN,
        envelope(
            403,
            "PERMISSION_DENIED",
            "Request had insufficient authentication scopes.",
        ),
    )
}

/// A token without the scope the method needs (e.g. the directory's).
pub fn insufficient_scopes() -> Response {
    let mut body = envelope(
        403,
        "PERMISSION_DENIED",
        "Request had insufficient authentication scopes.",
    );
    body["error"]["details"] = j!([{
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
        "domain": "googleapis.com",
        "metadata": {"service": "people.googleapis.com", "method": "google.people.v1.PeopleService.ListDirectoryPeople"}
    }]);
    json(StatusCode::FORBIDDEN, body)
}

pub fn stale_etag() -> Response {
    json(
        StatusCode::BAD_REQUEST,
        envelope(
            400,
            "FAILED_PRECONDITION",
            "Request person.etag is different than the current person.etag. Clear local cache and get the latest person.",
        ),
    )
}

pub fn expired_sync_token(status: u16) -> Response {
    let mut body = envelope(
        status,
        "FAILED_PRECONDITION",
        "Sync token is expired. Clear local cache and retry call without the sync token.",
    );
    body["error"]["details"] = j!([{
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "EXPIRED_SYNC_TOKEN",
        "domain": "people.googleapis.com"
    }]);
    json(
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        body,
    )
}

pub fn invalid_argument(message: &str) -> Response {
    json(
        StatusCode::BAD_REQUEST,
        envelope(400, "INVALID_ARGUMENT", message),
    )
}

pub fn not_found() -> Response {
    json(
        StatusCode::NOT_FOUND,
        envelope(404, "NOT_FOUND", "Requested entity was not found."),
    )
}

pub fn aborted() -> Response {
    json(
        StatusCode::CONFLICT,
        envelope(409, "ABORTED", "The operation was aborted."),
    )
}

/// 429 without `Retry-After`, as Google sends it.
pub fn quota(metric: &str) -> Response {
    let mut body = envelope(
        429,
        "RESOURCE_EXHAUSTED",
        &format!(
            "Quota exceeded for quota metric '{metric}' and limit '{metric} per minute per user' of service 'people.googleapis.com' for consumer 'project_number:000000000000'."
        ),
    );
    body["error"]["details"] = j!([{
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "RATE_LIMIT_EXCEEDED",
        "domain": "googleapis.com",
        "metadata": {"quota_metric": format!("people.googleapis.com/{}", metric.to_lowercase().replace(' ', "_")), "quota_limit": "per_minute_per_user", "service": "people.googleapis.com"}
    }]);
    json(StatusCode::TOO_MANY_REQUESTS, body)
}

/// The token endpoint's OAuth errors (RFC 6749 §5.2 shape).
pub fn oauth(error: &str, description: &str) -> Response {
    json(
        StatusCode::BAD_REQUEST,
        j!({"error": error, "error_description": description}),
    )
}
