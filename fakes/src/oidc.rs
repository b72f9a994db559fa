//! A fake OpenID Connect provider (Keycloak, Authentik, Entra ID and the like) for Kith's web
//! sign-in: discovery, an authorization endpoint that consents at once as the configured
//! person, a token endpoint that checks the client, the redirect URI, single-use codes and
//! PKCE, and ID tokens signed HS256 with the client secret (which the discovery document
//! announces). `POST /_fake/oidc/person` sets who signs in next (with `bad_signature`, a
//! token signed with another key), or an `error` to answer with.

use crate::common::{form, json, token};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json as j};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const CLIENT_ID: &str = "kith-web";
pub const CLIENT_SECRET: &str = "fake-oidc-secret-that-is-long-enough";

struct Code {
    redirect_uri: String,
    challenge: String,
    nonce: String,
    person: Value,
}

#[derive(Default)]
struct World {
    /// Claims of whoever signs in next (`sub`, `preferred_username`, `email`), or `error`.
    person: Value,
    codes: HashMap<String, Code>,
}

#[derive(Clone, Default)]
pub struct Fake(Arc<Mutex<World>>);

fn issuer(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

fn redirect(to: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to.to_string())]).into_response()
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn error(status: StatusCode, code: &str, description: &str) -> Response {
    json(
        status,
        j!({"error": code, "error_description": description}),
    )
}

/// An HS256 JSON Web Token.
fn jwt(claims: &Value, secret: &str) -> String {
    use hmac::Mac;
    let head = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    let input = format!("{head}.{body}");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(input.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{input}.{sig}")
}

async fn handle(State(fake): State<Fake>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let body = String::from_utf8_lossy(&body).into_owned();
    let query = parts.uri.query().unwrap_or("").to_string();
    let iss = issuer(&parts.headers);
    match (parts.method.clone(), parts.uri.path()) {
        (Method::GET, "/.well-known/openid-configuration") => json(
            StatusCode::OK,
            j!({
                "issuer": iss,
                "authorization_endpoint": format!("{iss}/authorize"),
                "token_endpoint": format!("{iss}/token"),
                "jwks_uri": format!("{iss}/jwks"),
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["HS256"],
                "scopes_supported": ["openid", "profile", "email"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
                "code_challenge_methods_supported": ["S256"]
            }),
        ),
        (Method::GET, "/jwks") => json(StatusCode::OK, j!({"keys": []})),
        (Method::GET, "/authorize") => authorize(&fake, &form(&query)),
        (Method::POST, "/token") => token_endpoint(&fake, &parts.headers, &form(&body), &iss),
        (Method::POST, "/_fake/oidc/person") => {
            let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            fake.0.lock().unwrap_or_else(|e| e.into_inner()).person = v;
            json(StatusCode::OK, j!({}))
        }
        _ => error(StatusCode::NOT_FOUND, "not_found", "no such endpoint"),
    }
}

fn authorize(fake: &Fake, q: &HashMap<String, String>) -> Response {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    if get("client_id") != CLIENT_ID {
        return error(StatusCode::BAD_REQUEST, "invalid_client", "unknown client");
    }
    let redirect_uri = get("redirect_uri");
    let state = get("state");
    if get("response_type") != "code"
        || get("code_challenge_method") != "S256"
        || !get("scope").split(' ').any(|s| s == "openid")
    {
        return redirect(&format!(
            "{redirect_uri}?error=invalid_request&state={}",
            enc(&state)
        ));
    }
    let mut w = fake.0.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(e) = w.person.get("error").and_then(Value::as_str) {
        return redirect(&format!(
            "{redirect_uri}?error={}&error_description={}&state={}",
            enc(e),
            enc("The user or the provider refused the sign-in."),
            enc(&state)
        ));
    }
    let code = token("oidc-code-");
    let person = w.person.clone();
    w.codes.insert(
        code.clone(),
        Code {
            redirect_uri: redirect_uri.clone(),
            challenge: get("code_challenge"),
            nonce: get("nonce"),
            person,
        },
    );
    redirect(&format!(
        "{redirect_uri}?code={}&state={}",
        enc(&code),
        enc(&state)
    ))
}

fn token_endpoint(
    fake: &Fake,
    headers: &HeaderMap,
    f: &HashMap<String, String>,
    iss: &str,
) -> Response {
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    // client_secret_basic (oauth2's default) or client_secret_post.
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned());
    let client_ok = match basic {
        Some(pair) => {
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            };
            pair.split_once(':')
                .is_some_and(|(id, secret)| dec(id) == CLIENT_ID && dec(secret) == CLIENT_SECRET)
        }
        None => get("client_id") == CLIENT_ID && get("client_secret") == CLIENT_SECRET,
    };
    if !client_ok {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    }
    if get("grant_type") != "authorization_code" {
        return error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only authorization_code",
        );
    }
    let Some(code) = fake
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .codes
        .remove(&get("code"))
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the code is unknown or was used",
        );
    };
    let verifier = get("code_verifier");
    let challenge =
        URL_SAFE_NO_PAD.encode(<sha2::Sha256 as sha2::Digest>::digest(verifier.as_bytes()));
    if code.redirect_uri != get("redirect_uri") || challenge != code.challenge {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "redirect_uri or PKCE verifier mismatch",
        );
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut claims = j!({
        "iss": iss, "aud": CLIENT_ID, "iat": now, "exp": now + 300,
        "nonce": code.nonce,
    });
    // `bad_signature`: the token is signed with another key, as a forged one would be.
    let forged = code.person.get("bad_signature").is_some();
    if let (Some(c), Some(p)) = (claims.as_object_mut(), code.person.as_object()) {
        for (k, v) in p.iter().filter(|(k, _)| *k != "bad_signature") {
            c.insert(k.clone(), v.clone());
        }
    }
    let key = if forged {
        "not-the-client-secret"
    } else {
        CLIENT_SECRET
    };
    json(
        StatusCode::OK,
        j!({
            "access_token": token("oidc-at-"),
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": jwt(&claims, key),
        }),
    )
}

/// Starts a fake provider on a loopback port in a thread of its own; returns its issuer URL.
pub fn spawn() -> String {
    crate::common::spawn(
        crate::common::router(handle, Fake::default()),
        "the fake OpenID provider",
    )
}
