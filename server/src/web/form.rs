//! Reading a posted form (URL-encoded, or multipart for uploads) and checking its CSRF token
//! before anything else looks at it.

use super::{Web, page};
use axum::body::Body;
use axum::extract::{FromRequest, Multipart};
use axum::http::{StatusCode, header};
use std::collections::HashMap;

/// Largest upload accepted (a contacts file).
pub const MAX_UPLOAD: usize = 50 * 1024 * 1024;
/// Largest ordinary form.
const MAX_FORM: usize = 256 * 1024;

#[derive(Default)]
pub struct Form {
    pub fields: HashMap<String, String>,
    /// Boxes ticked, and other repeated names, in order.
    pub all: Vec<(String, String)>,
    /// An uploaded file: its name and bytes.
    pub file: Option<(String, Vec<u8>)>,
}

impl Form {
    pub fn get(&self, name: &str) -> &str {
        self.fields.get(name).map(String::as_str).unwrap_or("")
    }

    pub fn checked(&self, name: &str) -> bool {
        self.all.iter().any(|(k, v)| k == name && v != "off")
    }
}

fn rejected(web: &Web) -> axum::response::Response {
    page::page_error(
        web,
        StatusCode::FORBIDDEN,
        "The form could not be accepted",
        "It did not carry this session's security token (CSRF check), so nothing was changed. This happens with a form opened before signing in again, or one sent by another site. Reload the page and try again.",
    )
}

pub async fn read(web: &Web, body: Body) -> Result<Form, axum::response::Response> {
    let ctype = web
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut form = Form::default();
    if ctype.starts_with("multipart/form-data") {
        let mut req = axum::http::Request::new(body);
        if let Ok(v) = ctype.parse() {
            req.headers_mut().insert(header::CONTENT_TYPE, v);
        }
        let too_big = || {
            page::page_error(
                web,
                StatusCode::PAYLOAD_TOO_LARGE,
                "The upload could not be read",
                &format!(
                    "Files of up to {} MB can be uploaded, and the upload must complete. Try again, or ask a Kith admin to import a larger file from the server's command line.",
                    MAX_UPLOAD / 1024 / 1024
                ),
            )
        };
        let req = req.map(|b| axum::body::Body::new(http_body_util::Limited::new(b, MAX_UPLOAD)));
        // Multipart applies axum's default 2 MB limit unless told otherwise; the limit here is
        // MAX_UPLOAD, enforced by `Limited` above.
        let extract = tower::service_fn(|req: axum::http::Request<axum::body::Body>| async move {
            Multipart::from_request(req, &()).await
        });
        let mut parts = tower::ServiceExt::oneshot(
            tower::Layer::layer(&axum::extract::DefaultBodyLimit::disable(), extract),
            req,
        )
        .await
        .map_err(|_| too_big())?;
        loop {
            match parts.next_field().await {
                Ok(Some(field)) => {
                    let name = field.name().unwrap_or("").to_string();
                    let file_name = field.file_name().map(str::to_string);
                    let bytes = field.bytes().await.map_err(|_| too_big())?;
                    match file_name {
                        Some(f) => form.file = Some((f, bytes.to_vec())),
                        None => {
                            let v = String::from_utf8_lossy(&bytes).into_owned();
                            form.all.push((name.clone(), v.clone()));
                            form.fields.insert(name, v);
                        }
                    }
                }
                Ok(None) => break,
                Err(_) => return Err(too_big()),
            }
        }
    } else {
        let bytes = axum::body::to_bytes(body, MAX_FORM).await.map_err(|_| {
            page::page_error(
                web,
                StatusCode::PAYLOAD_TOO_LARGE,
                "The form is too large",
                "Shorten what you typed and send it again.",
            )
        })?;
        for (k, v) in form_urlencoded(&bytes) {
            form.all.push((k.clone(), v.clone()));
            form.fields.insert(k, v);
        }
    }
    if !super::session::same(form.get("csrf"), &web.session.csrf) {
        tracing::info!(user = %web.session.user.name, "a form failed the CSRF check");
        return Err(rejected(web));
    }
    Ok(form)
}

/// `application/x-www-form-urlencoded` pairs.
pub fn form_urlencoded(bytes: &[u8]) -> Vec<(String, String)> {
    let dec = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    String::from_utf8_lossy(bytes)
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (dec(k), dec(v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::form_urlencoded;

    #[test]
    fn decodes_plus_and_percent() {
        assert_eq!(
            form_urlencoded(b"a=1+2&b=%C3%A9t%C3%A9&c"),
            vec![
                ("a".into(), "1 2".into()),
                ("b".into(), "été".into()),
                ("c".into(), String::new())
            ]
        );
    }
}
