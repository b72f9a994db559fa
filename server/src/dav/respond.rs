//! Building responses: multistatus, DAV error bodies with their precondition, plain statuses.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use kith_dav::multistatus::error_body;
use kith_dav::names::Name;

pub const XML: &str = "application/xml; charset=utf-8";

pub fn status(code: StatusCode) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = code;
    r
}

pub fn text(code: StatusCode, msg: &str) -> Response {
    let mut r = Response::new(Body::from(format!("{msg}\n")));
    *r.status_mut() = code;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

pub fn xml(code: StatusCode, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = code;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(XML));
    r
}

pub fn multistatus(body: String) -> Response {
    xml(StatusCode::MULTI_STATUS, body)
}

/// A failed precondition: the status and a `DAV:error` body naming the condition, with a
/// sentence that tells the user what to do.
pub fn condition(code: StatusCode, ns: &str, name: &str, description: &str) -> Response {
    xml(code, error_body(&Name::new(ns, name), Some(description)))
}

/// A condition whose element carries content, e.g. `no-uid-conflict` with the clashing href.
pub fn condition_with(
    code: StatusCode,
    ns: &str,
    name: &str,
    inner: &str,
    description: &str,
) -> Response {
    let n = Name::new(ns, name);
    let mut body = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<d:error");
    body.push_str(kith_dav::names::ROOT_XMLNS);
    body.push('>');
    n.write_open(&mut body, false);
    body.push_str(inner);
    n.write_close(&mut body);
    body.push_str("<d:responsedescription>");
    body.push_str(&kith_dav::xml::escape(description));
    body.push_str("</d:responsedescription></d:error>");
    xml(code, body)
}

pub fn bad_request(msg: &str) -> Response {
    text(StatusCode::BAD_REQUEST, msg)
}

pub fn not_found() -> Response {
    text(StatusCode::NOT_FOUND, "Not found")
}

/// An internal failure: logged with its cause, answered without details.
pub fn internal(err: impl std::fmt::Display) -> Response {
    tracing::error!(error = %err, "request failed");
    text(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Internal error; the server log has the details",
    )
}
