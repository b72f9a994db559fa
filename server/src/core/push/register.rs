//! A device's registration: the keys and push resource it sent, checked, and stored with an
//! expiry.

use super::PushService;
use crate::store::push::NewRegistration;
use crate::store::{Store, StoreError, now_ms};
use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use kith_dav::push::Register;

const HOUR_MS: i64 = 3_600_000;
/// Devices that ask for no expiry get three days (DAVx⁵ renews when two are left).
const DEFAULT_MS: i64 = 72 * HOUR_MS;
/// No registration lasts longer: a device that went away stops costing pushes within a week.
const LONGEST_MS: i64 = 7 * 24 * HOUR_MS;

/// A stored registration.
pub struct Registered {
    pub token: String,
    pub expires_at: i64,
}

/// Why a registration is refused.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// 403 with `invalid-subscription`, and the reason.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn key_bytes(b64: &str) -> Option<Vec<u8>> {
    let t = b64.trim();
    URL_SAFE_NO_PAD
        .decode(t.trim_end_matches('='))
        .or_else(|_| URL_SAFE.decode(t))
        .ok()
}

/// Checks and stores `req`, made by `user_id` for the collection `collection_id` they may
/// read. Registering the same push resource again renews the registration.
pub async fn register(
    push: &PushService,
    store: &dyn Store,
    user_id: i64,
    collection_id: i64,
    req: &Register,
) -> Result<Registered, Refusal> {
    let invalid = |m: &str| Refusal::Invalid(m.to_string());
    let key =
        key_bytes(&req.public_key).ok_or_else(|| invalid("the public key is not base64url"))?;
    web_push_native::p256::PublicKey::from_sec1_bytes(&key)
        .map_err(|_| invalid("the public key is not a P-256 point"))?;
    let auth =
        key_bytes(&req.auth_secret).ok_or_else(|| invalid("the auth secret is not base64url"))?;
    if auth.len() != 16 {
        return Err(invalid("the auth secret must be 16 bytes"));
    }
    push.trusted
        .check(&req.push_resource)
        .map_err(Refusal::Invalid)?;
    let now = now_ms();
    // An expiry that is not an HTTP date is read as none asked for: the draft lets the
    // server choose, and refusing would leave the device without pushes.
    let asked = req
        .expires
        .as_deref()
        .and_then(crate::time::parse_http_date)
        .unwrap_or(now + DEFAULT_MS);
    let expires_at = asked.clamp(now + HOUR_MS, now + LONGEST_MS);
    let fresh: [u8; 16] = rand::random();
    let token = store
        .put_push_registration(&NewRegistration {
            user_id,
            collection_id,
            push_resource: &req.push_resource,
            public_key: &URL_SAFE_NO_PAD.encode(&key),
            auth_secret: &URL_SAFE_NO_PAD.encode(&auth),
            expires_at,
            token: &URL_SAFE_NO_PAD.encode(fresh),
        })
        .await?
        .ok_or_else(|| invalid("another user registered this push resource here"))?;
    Ok(Registered { token, expires_at })
}

/// Ends the user's registration `token`: false if they have none by that token.
pub async fn unregister(store: &dyn Store, user_id: i64, token: &str) -> Result<bool, StoreError> {
    store.delete_push_registration(user_id, token).await
}
