//! Google's OAuth endpoints: the consent screen (decided by the control API), the token
//! endpoint (single-use codes, PKCE S256, refresh tokens only on an offline consent, never
//! rotated), and revocation.

use super::{Code, Fake, Refresh, errors, form, json, token as random_token};
use crate::common::redirect;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine;
use serde_json::json as j;
use sha2::{Digest, Sha256};

const CONTACTS: &str = "https://www.googleapis.com/auth/contacts";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// `GET /o/oauth2/v2/auth`: the consent screen. What the user does there is set beforehand
/// with `POST /_fake/consent`.
pub fn authorize(fake: &Fake, query: &str) -> Response {
    let q = form(query);
    let mut w = fake.world();
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    if get("client_id") != w.knobs.client_id {
        return errors::oauth("invalid_client", "The OAuth client was not found.");
    }
    if get("response_type") != "code"
        || get("code_challenge_method") != "S256"
        || get("code_challenge").is_empty()
    {
        return errors::oauth(
            "invalid_request",
            "PKCE with S256 and response_type=code are required.",
        );
    }
    let redirect_uri = get("redirect_uri");
    let state = get("state");
    let consent = w.consent.clone();
    if let Some(e) = consent.error {
        return redirect(&format!(
            "{redirect_uri}?error={}&state={}",
            enc(&e),
            enc(&state)
        ));
    }
    let asked = get("scope");
    let mut scopes: Vec<&str> = asked
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(|s| match s {
            "email" => "https://www.googleapis.com/auth/userinfo.email",
            o => o,
        })
        .collect();
    if consent.deny_contacts {
        scopes.retain(|s| *s != CONTACTS);
    }
    if consent.deny_calendar {
        scopes.retain(|s| *s != super::calendar::SCOPE);
    }
    let scope = scopes.join(" ");
    let code = random_token("4/0A");
    w.codes.insert(
        code.clone(),
        Code {
            redirect_uri: redirect_uri.clone(),
            challenge: get("code_challenge"),
            account: consent.account.clone(),
            scope: scope.clone(),
            offline: get("access_type") == "offline",
        },
    );
    if let Some(hd) = consent.hd {
        w.account(&consent.account).hd = Some(hd);
    } else {
        w.account(&consent.account);
    }
    redirect(&format!(
        "{redirect_uri}?state={}&code={}&scope={}",
        enc(&state),
        enc(&code),
        enc(&scope)
    ))
}

fn client_ok(
    w: &super::World,
    headers: &HeaderMap,
    f: &std::collections::HashMap<String, String>,
) -> bool {
    let (id, secret) = crate::common::client_credentials(headers, f);
    id == w.knobs.client_id && secret == w.knobs.client_secret
}

fn id_token(account: &str, hd: Option<&str>, aud: &str) -> String {
    let header = B64.encode(br#"{"alg":"RS256","kid":"fake","typ":"JWT"}"#);
    let mut claims = j!({"iss": "https://accounts.google.com", "aud": aud, "sub": format!("1{:020}", account.len()), "email": account, "email_verified": true});
    if let Some(hd) = hd {
        claims["hd"] = j!(hd);
    }
    format!("{header}.{}.fakesignature", B64.encode(claims.to_string()))
}

/// `POST /token`.
pub fn token(fake: &Fake, headers: &HeaderMap, body: &[u8]) -> Response {
    let f = form(&String::from_utf8_lossy(body));
    let mut w = fake.world();
    if !client_ok(&w, headers, &f) {
        return json(
            StatusCode::UNAUTHORIZED,
            j!({"error": "invalid_client", "error_description": "Unauthorized"}),
        );
    }
    let now = w.now();
    let ttl = w.knobs.access_ttl_secs;
    match f.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            // Codes are single use: taken out whatever happens next.
            let Some(code) = f.get("code").and_then(|c| w.codes.remove(c)) else {
                return errors::oauth("invalid_grant", "Malformed auth code.");
            };
            if f.get("redirect_uri") != Some(&code.redirect_uri) {
                return errors::oauth("redirect_uri_mismatch", "Bad Request");
            }
            let verifier = f.get("code_verifier").cloned().unwrap_or_default();
            if B64.encode(Sha256::digest(verifier.as_bytes())) != code.challenge {
                return errors::oauth("invalid_grant", "Invalid code verifier.");
            }
            let access = random_token("ya29.");
            w.access
                .insert(access.clone(), (code.account.clone(), now + ttl * 1000));
            w.scopes.insert(access.clone(), code.scope.clone());
            let hd = w.accounts.get(&code.account).and_then(|a| a.hd.clone());
            let client_id = w.knobs.client_id.clone();
            let mut out = j!({
                "access_token": access,
                "expires_in": ttl,
                "token_type": "Bearer",
                "scope": code.scope,
                "id_token": id_token(&code.account, hd.as_deref(), &client_id),
            });
            if code.offline {
                let rt = random_token("1//0g");
                w.refresh.insert(
                    rt.clone(),
                    Refresh {
                        account: code.account.clone(),
                        issued_at: now,
                        revoked: false,
                        scope: code.scope.clone(),
                    },
                );
                out["refresh_token"] = j!(rt);
            }
            json(StatusCode::OK, out)
        }
        Some("refresh_token") => {
            let rt = f.get("refresh_token").cloned().unwrap_or_default();
            let testing = w.knobs.testing;
            let Some(r) = w.refresh.get(&rt) else {
                return errors::oauth("invalid_grant", "Token has been expired or revoked.");
            };
            if r.revoked || (testing && now - r.issued_at > 7 * 24 * 3600 * 1000) {
                return errors::oauth("invalid_grant", "Token has been expired or revoked.");
            }
            let (account, scope) = (r.account.clone(), r.scope.clone());
            let access = random_token("ya29.");
            w.scopes.insert(access.clone(), scope.clone());
            w.access.insert(access.clone(), (account, now + ttl * 1000));
            // Google does not rotate refresh tokens: none in the answer.
            json(
                StatusCode::OK,
                j!({"access_token": access, "expires_in": ttl, "token_type": "Bearer", "scope": scope}),
            )
        }
        _ => errors::oauth("unsupported_grant_type", "Invalid grant_type."),
    }
}

/// `POST /revoke?token=…` (or in the form body).
pub fn revoke(fake: &Fake, query: &str, body: &[u8]) -> Response {
    let mut q = form(query);
    q.extend(form(&String::from_utf8_lossy(body)));
    let t = q.get("token").cloned().unwrap_or_default();
    let mut w = fake.world();
    let account = match w.refresh.get_mut(&t) {
        Some(r) => {
            r.revoked = true;
            Some(r.account.clone())
        }
        None => w.access.get(&t).map(|(a, _)| a.clone()),
    };
    match account {
        Some(a) => {
            w.access.retain(|_, (acc, _)| *acc != a);
            json(StatusCode::OK, j!({}))
        }
        None => errors::oauth("invalid_token", "Token expired or revoked"),
    }
}
