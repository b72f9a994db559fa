//! A Web Push service (RFC 8030) standing in for a device's UnifiedPush distributor: it
//! holds each fake device's private key, checks the VAPID signature (RFC 8292) against the
//! key in the message, decrypts the body (RFC 8291) and keeps what arrived, so a test proves
//! that Kith's messages are well formed end to end. A device can be marked gone, and the
//! service then answers 410, as real services do for an expired subscription.

use crate::sinks::Inbox;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use web_push_native::jwt_simple::algorithms::{ECDSAP256PublicKeyLike, ES256PublicKey};
use web_push_native::jwt_simple::claims::NoCustomClaims;
use web_push_native::jwt_simple::common::VerificationOptions;
use web_push_native::p256::SecretKey;
use web_push_native::p256::elliptic_curve::sec1::ToEncodedPoint;

/// One message as the fake push service received it.
#[derive(Clone, Debug)]
pub struct Delivered {
    pub device: String,
    /// The decrypted body, or why it could not be decrypted.
    pub body: Result<String, String>,
    /// Whether the VAPID signature verified, with the right audience, for the key sent.
    pub vapid: Result<String, String>,
    pub ttl: Option<String>,
    pub topic: Option<String>,
}

/// A device's subscription, as it would hand it to Kith.
#[derive(Clone, Debug)]
pub struct Subscription {
    pub push_resource: String,
    pub public_key: String,
    pub auth_secret: String,
}

struct Device {
    secret: SecretKey,
    auth: [u8; 16],
}

#[derive(Clone)]
struct Shared {
    origin: Arc<Mutex<String>>,
    devices: Arc<Mutex<HashMap<String, Device>>>,
    gone: Arc<Mutex<HashSet<String>>>,
    inbox: Arc<Inbox<Delivered>>,
}

/// The running fake push service.
pub struct PushService {
    base: String,
    shared: Shared,
}

impl PushService {
    /// A new device's subscription: a fresh key pair and auth secret.
    pub fn device(&self, name: &str) -> Subscription {
        let secret = SecretKey::random(&mut rand_core());
        let auth: [u8; 16] = rand::random();
        let public = secret.public_key().as_affine().to_encoded_point(false);
        let sub = Subscription {
            push_resource: format!("{}/push/{name}", self.base),
            public_key: URL_SAFE_NO_PAD.encode(public.as_bytes()),
            auth_secret: URL_SAFE_NO_PAD.encode(auth),
        };
        if let Ok(mut d) = self.shared.devices.lock() {
            d.insert(name.to_string(), Device { secret, auth });
        }
        sub
    }

    /// From now on, messages for `name` are answered 410 Gone.
    pub fn gone(&self, name: &str) {
        if let Ok(mut g) = self.shared.gone.lock() {
            g.insert(name.to_string());
        }
    }

    pub fn inbox(&self) -> &Inbox<Delivered> {
        &self.shared.inbox
    }

    /// The messages that reached device `name` so far.
    pub fn for_device(&self, name: &str) -> Vec<Delivered> {
        self.shared
            .inbox
            .all()
            .into_iter()
            .filter(|d| d.device == name)
            .collect()
    }
}

fn rand_core() -> web_push_native::p256::elliptic_curve::rand_core::OsRng {
    web_push_native::p256::elliptic_curve::rand_core::OsRng
}

fn header(h: &HeaderMap, name: &str) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Checks `Authorization: vapid t=JWT, k=KEY`: the JWT is signed by KEY, for this service's
/// origin, and expires within a day. Returns the key.
fn check_vapid(h: &HeaderMap, origin: &str) -> Result<String, String> {
    let auth = header(h, "authorization").ok_or("no Authorization header")?;
    let rest = auth
        .strip_prefix("vapid ")
        .ok_or("not a vapid authorization")?;
    let mut t = None;
    let mut k = None;
    for part in rest.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = Some(v.to_string()),
            Some(("k", v)) => k = Some(v.to_string()),
            _ => {}
        }
    }
    let (t, k) = (t.ok_or("no t=")?, k.ok_or("no k=")?);
    let key_bytes = URL_SAFE_NO_PAD.decode(&k).map_err(|e| e.to_string())?;
    let key = ES256PublicKey::from_bytes(&key_bytes).map_err(|e| e.to_string())?;
    let opts = VerificationOptions {
        allowed_audiences: Some(HashSet::from([origin.to_string()])),
        ..Default::default()
    };
    let claims = key
        .verify_token::<NoCustomClaims>(&t, Some(opts))
        .map_err(|e| format!("the VAPID token does not verify: {e}"))?;
    let exp = claims.expires_at.ok_or("the VAPID token has no exp")?;
    let now = web_push_native::jwt_simple::prelude::Clock::now_since_epoch();
    if exp.as_secs() > now.as_secs() + 86_400 {
        return Err("the VAPID token lasts more than 24 hours".into());
    }
    if claims.subject.is_none() {
        return Err("the VAPID token has no sub".into());
    }
    Ok(k)
}

async fn receive(
    State(s): State<Shared>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    if s.gone.lock().map(|g| g.contains(&name)).unwrap_or(false) {
        return StatusCode::GONE;
    }
    let origin = s.origin.lock().map(|o| o.clone()).unwrap_or_default();
    let vapid = check_vapid(&headers, &origin);
    let body = match s.devices.lock() {
        Ok(d) => match d.get(&name) {
            None => return StatusCode::NOT_FOUND,
            Some(dev) => {
                if header(&headers, "content-encoding").as_deref() != Some("aes128gcm") {
                    Err("Content-Encoding is not aes128gcm".to_string())
                } else {
                    web_push_native::decrypt(body.to_vec(), &dev.secret, &dev.auth.into())
                        .map_err(|e| format!("cannot decrypt: {e}"))
                        .and_then(|b| String::from_utf8(b).map_err(|e| e.to_string()))
                }
            }
        },
        Err(_) => return StatusCode::INTERNAL_SERVER_ERROR,
    };
    let ttl = header(&headers, "ttl");
    // RFC 8030 §5.2: TTL is required.
    let status = if ttl.is_none() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::CREATED
    };
    s.inbox.push(Delivered {
        device: name,
        body,
        vapid,
        ttl,
        topic: header(&headers, "topic"),
    });
    status
}

/// Starts the fake push service on 127.0.0.1.
pub fn push_service() -> PushService {
    let shared = Shared {
        origin: Arc::default(),
        devices: Arc::default(),
        gone: Arc::default(),
        inbox: Inbox::new(),
    };
    let router = Router::new()
        .route("/push/{name}", post(receive))
        .with_state(shared.clone());
    let base = crate::common::spawn(router, "the push service");
    if let Ok(mut o) = shared.origin.lock() {
        *o = base.clone();
    }
    PushService { base, shared }
}
