//! The Microsoft identity platform: `/{tenant}/oauth2/v2.0/authorize` (decided by the control
//! API's sign-in and the tenant's flags), `/token` (single-use, expiring codes with PKCE;
//! refresh tokens that rotate and die of inactivity), and `/{tenant}/v2.0/adminconsent`.

use super::{Code, Fake, Refresh, errors, ok};
use crate::common::{form, redirect, token};
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use base64::Engine;
use serde_json::json as j;
use sha2::{Digest, Sha256};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;
const CODE_TTL_MS: i64 = 10 * 60 * 1000;

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn back_with_error(
    redirect_uri: &str,
    state: &str,
    error: &str,
    code: u32,
    text: &str,
) -> Response {
    redirect(&format!(
        "{redirect_uri}?error={}&error_description={}&state={}",
        enc(error),
        enc(&format!("AADSTS{code}: {text}")),
        enc(state)
    ))
}

pub fn handle(
    fake: &Fake,
    method: &Method,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Option<Response> {
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let _tenant = parts.next()?;
    match (method.as_str(), parts.next()?) {
        ("GET", "oauth2/v2.0/authorize") => Some(authorize(fake, query)),
        ("POST", "oauth2/v2.0/token") => Some(token_endpoint(fake, headers, body)),
        ("GET", "v2.0/adminconsent") => Some(admin_consent(fake, query)),
        _ => None,
    }
}

/// AADSTS700016 back to the app when the client id is not the registered one.
fn unknown_client(
    w: &super::World,
    client_id: &str,
    redirect_uri: &str,
    state: &str,
) -> Option<Response> {
    (client_id != w.knobs.client_id).then(|| {
        back_with_error(
            redirect_uri,
            state,
            "unauthorized_client",
            700016,
            "Application with identifier was not found in the directory.",
        )
    })
}

fn authorize(fake: &Fake, query: &str) -> Response {
    let q = form(query);
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let (redirect_uri, state) = (get("redirect_uri"), get("state"));
    let mut w = fake.world();
    if let Some(r) = unknown_client(&w, &get("client_id"), &redirect_uri, &state) {
        return r;
    }
    if get("code_challenge_method") != "S256" || get("code_challenge").is_empty() {
        return back_with_error(
            &redirect_uri,
            &state,
            "invalid_request",
            9002325,
            "Proof Key for Code Exchange is required for cross-origin authorization code redemption.",
        );
    }
    let (account, decline) = w.signin.clone();
    let mailbox = w.mailbox(&account);
    let (tenant_id, assigned) = (mailbox.tenant.clone(), mailbox.assigned);
    let tenant = w.tenant(&tenant_id).clone();
    if tenant.conditional_access_block {
        return back_with_error(
            &redirect_uri,
            &state,
            "access_denied",
            53003,
            "Access has been blocked by Conditional Access policies.",
        );
    }
    if tenant.assignment_required && !assigned {
        return back_with_error(
            &redirect_uri,
            &state,
            "access_denied",
            50105,
            "Your administrator has configured the application to block users unless they are specifically granted ('assigned') access to the application.",
        );
    }
    if !tenant.admin_consented && !tenant.user_consent_allowed {
        let (error, text) = match tenant.consent_error {
            90094 => (
                "access_denied",
                "Admin consent is required for the permissions requested by this application.",
            ),
            90093 => (
                "access_denied",
                "Your organization's policy does not allow users to grant consent to this application.",
            ),
            _ => (
                "consent_required",
                "The user or administrator has not consented to use the application.",
            ),
        };
        return back_with_error(&redirect_uri, &state, error, tenant.consent_error, text);
    }
    if decline {
        return back_with_error(
            &redirect_uri,
            &state,
            "access_denied",
            65004,
            "User declined to consent to access the app.",
        );
    }
    let code = token("0.AX");
    let now = w.now();
    w.codes.insert(
        code.clone(),
        Code {
            account,
            redirect_uri: redirect_uri.clone(),
            challenge: get("code_challenge"),
            scope: get("scope"),
            issued: now,
        },
    );
    redirect(&format!(
        "{redirect_uri}?code={}&state={}",
        enc(&code),
        enc(&state)
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

fn id_token(account: &str, tenant: &str) -> String {
    let header = B64.encode(br#"{"alg":"RS256","kid":"fake","typ":"JWT"}"#);
    let claims = j!({"iss": format!("https://login.microsoftonline.com/{tenant}/v2.0"), "preferred_username": account, "email": account, "tid": tenant, "oid": crate::common::token("")});
    format!("{header}.{}.fakesignature", B64.encode(claims.to_string()))
}

fn tokens_for(w: &mut super::World, account: &str, scope: &str) -> serde_json::Value {
    let now = w.now();
    let ttl = w.knobs.access_ttl_secs;
    let access = token("eyJ0eXAiOiJKV1Qi.");
    w.access
        .insert(access.clone(), (account.to_string(), now + ttl * 1000));
    w.scopes.insert(access.clone(), scope.to_string());
    let tenant = w.mailbox(account).tenant.clone();
    let tid = w.tenant(&tenant).id.clone();
    let mut out = j!({
        "token_type": "Bearer",
        "scope": scope,
        "expires_in": ttl,
        "ext_expires_in": ttl,
        "access_token": access,
        "id_token": id_token(account, &tid),
    });
    if scope.split(' ').any(|s| s == "offline_access") {
        let rt = token("0.AR");
        w.refresh.insert(
            rt.clone(),
            Refresh {
                account: account.to_string(),
                scope: scope.to_string(),
                last_used: now,
                revoked: false,
            },
        );
        out["refresh_token"] = j!(rt);
    }
    out
}

fn token_endpoint(fake: &Fake, headers: &HeaderMap, body: &[u8]) -> Response {
    let f = form(&String::from_utf8_lossy(body));
    let mut w = fake.world();
    if !client_ok(&w, headers, &f) {
        return errors::aadsts(
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
        );
    }
    let now = w.now();
    match f.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let c = f.get("code").cloned().unwrap_or_default();
            if w.used_codes.contains(&c) {
                return errors::aadsts(
                    "invalid_grant",
                    54005,
                    "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
                );
            }
            let Some(code) = w.codes.remove(&c) else {
                return errors::aadsts(
                    "invalid_grant",
                    9002313,
                    "Invalid request. Request is malformed or invalid.",
                );
            };
            w.used_codes.push(c);
            if now - code.issued > CODE_TTL_MS {
                return errors::aadsts(
                    "invalid_grant",
                    70008,
                    "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
                );
            }
            if f.get("redirect_uri") != Some(&code.redirect_uri) {
                return errors::aadsts(
                    "invalid_grant",
                    50011,
                    "The redirect URI specified in the request does not match the redirect URIs configured for the application.",
                );
            }
            let verifier = f.get("code_verifier").cloned().unwrap_or_default();
            if B64.encode(Sha256::digest(verifier.as_bytes())) != code.challenge {
                return errors::aadsts(
                    "invalid_grant",
                    501481,
                    "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
                );
            }
            ok(tokens_for(&mut w, &code.account, &code.scope))
        }
        Some("refresh_token") => {
            let rt = f.get("refresh_token").cloned().unwrap_or_default();
            let inactivity = w.knobs.refresh_inactivity_secs * 1000;
            let revoke_old = w.knobs.revoke_old_refresh;
            let Some(r) = w.refresh.get_mut(&rt) else {
                return errors::aadsts(
                    "invalid_grant",
                    9002313,
                    "Invalid request. Request is malformed or invalid.",
                );
            };
            if r.revoked {
                return errors::aadsts(
                    "invalid_grant",
                    50173,
                    "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.",
                );
            }
            if now - r.last_used > inactivity {
                return errors::aadsts(
                    "invalid_grant",
                    700082,
                    "The refresh token has expired due to inactivity. The token was issued on 2026-01-01 and was inactive for 90.00:00:00.",
                );
            }
            r.last_used = now;
            if revoke_old {
                r.revoked = true;
            }
            let (account, scope) = (r.account.clone(), r.scope.clone());
            // Microsoft rotates refresh tokens: a new one comes with every refresh.
            ok(tokens_for(&mut w, &account, &scope))
        }
        _ => errors::aadsts(
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        ),
    }
}

fn admin_consent(fake: &Fake, query: &str) -> Response {
    let q = form(query);
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let (redirect_uri, state) = (get("redirect_uri"), get("state"));
    let mut w = fake.world();
    if let Some(r) = unknown_client(&w, &get("client_id"), &redirect_uri, &state) {
        return r;
    }
    let (tenant, is_admin) = w.admin.clone();
    if !is_admin {
        return back_with_error(
            &redirect_uri,
            &state,
            "access_denied",
            90094,
            "Admin consent is required for the permissions requested by this application.",
        );
    }
    let t = w.tenant(&tenant);
    t.admin_consented = true;
    let tid = t.id.clone();
    redirect(&format!(
        "{redirect_uri}?admin_consent=True&tenant={}&state={}&scope={}",
        enc(&tid),
        enc(&state),
        enc("https://graph.microsoft.com/.default")
    ))
}
