//! Browser sessions: a random token in an HttpOnly cookie, stored in the database by its hash
//! (so every instance knows it), and a synchronizer token that every form must echo (CSRF).
//! Failed sign-ins are limited by [`crate::core::throttle`], as for DAV.

use crate::app::App;
use crate::store::{WebSession, now_ms};
use axum::http::{HeaderMap, HeaderValue, header};

pub const COOKIE: &str = "kith_session";
/// Before sign-in there is no session to hold the CSRF token, so the sign-in form uses a
/// double-submit cookie instead.
pub const LOGIN_COOKIE: &str = "kith_login";
const LIFETIME_MS: i64 = 14 * 86_400_000;

pub fn random_token() -> String {
    hex(&rand::random::<[u8; 32]>())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn hash(token: &str) -> [u8; 32] {
    *blake3::hash(token.as_bytes()).as_bytes()
}

/// The value of cookie `name`.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Cookies get `Secure` when the browser reached Kith over TLS: a `https://` public URL, or a
/// TLS-terminating proxy that says so.
pub fn secure(app: &App, headers: &HeaderMap) -> bool {
    app.config.web.public_url.starts_with("https://")
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

pub fn set_cookie(name: &str, value: &str, max_age: i64, secure: bool) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{}",
        if secure { "; Secure" } else { "" }
    ))
    .ok()
}

/// The signed-in session of this request, if any.
pub async fn current(app: &App, headers: &HeaderMap) -> Option<WebSession> {
    let token = cookie(headers, COOKIE)?;
    match app.store.web_session(&hash(&token)).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "reading a browser session failed");
            None
        }
    }
}

/// Starts a session for `user_id`; returns the cookie's token.
pub async fn start(app: &App, user_id: i64) -> Result<String, crate::store::StoreError> {
    let token = random_token();
    app.store
        .create_web_session(
            &hash(&token),
            user_id,
            &random_token(),
            now_ms() + LIFETIME_MS,
        )
        .await?;
    Ok(token)
}

pub async fn end(app: &App, headers: &HeaderMap) {
    if let Some(token) = cookie(headers, COOKIE)
        && let Err(e) = app.store.delete_web_session(&hash(&token)).await
    {
        tracing::warn!(error = %e, "ending a browser session failed");
    }
}

pub const MAX_AGE_SECS: i64 = LIFETIME_MS / 1000;

/// Compares tokens in time independent of where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_by_content() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
    }
}
