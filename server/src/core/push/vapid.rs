//! The server's VAPID key (RFC 8292): push services tie a device's subscription to it, so it
//! must outlive restarts and be the same on every instance. SQLite installs keep it in
//! `vapid.key` beside `secret.key`; on PostgreSQL it is a shared setting, as the server key.

use crate::config::Config;
use crate::store::Store;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use web_push_native::jwt_simple::algorithms::{
    ECDSAP256KeyPairLike, ECDSAP256PublicKeyLike, ES256KeyPair,
};
use web_push_native::jwt_simple::claims::Claims;

pub struct Vapid {
    pair: ES256KeyPair,
    /// The uncompressed public point, base64url: the `vapid-public-key` property and the
    /// `k=` of each signature.
    pub public: String,
}

impl Vapid {
    pub async fn load(config: &Config, store: &dyn Store) -> Result<Vapid, String> {
        let bytes = if store.backend() == "sqlite" {
            crate::secrets::load_or_create_named(&config.data_dir, "vapid.key")
                .map_err(|e| format!("cannot read or create the push key vapid.key: {e}"))?
                .to_vec()
        } else {
            // An install moved from SQLite keeps its key, so its devices' subscriptions (bound
            // to the key by their push services) keep working.
            let seed = match std::fs::read(config.data_dir.join("vapid.key")) {
                Ok(bytes) if bytes.len() == 32 => bytes,
                _ => crate::secrets::random_key().to_vec(),
            };
            store
                .shared_setting("vapid_key", &seed)
                .await
                .map_err(|e| format!("cannot read the shared push key: {e}"))?
        };
        let pair = ES256KeyPair::from_bytes(&bytes)
            .map_err(|e| format!("the push key is not a P-256 key: {e}"))?;
        let public = URL_SAFE_NO_PAD.encode(pair.public_key().public_key().to_bytes_uncompressed());
        Ok(Vapid { pair, public })
    }

    /// The `Authorization` header for a push to `origin` (scheme, host and any port: the
    /// audience RFC 8292 §2 names), valid for 12 hours.
    pub fn authorization(&self, origin: &str, contact: &str) -> Result<String, String> {
        let claims = Claims::create(web_push_native::jwt_simple::prelude::Duration::from_hours(
            12,
        ))
        .with_audience(origin)
        .with_subject(contact);
        let token = self.pair.sign(claims).map_err(|e| e.to_string())?;
        Ok(format!("vapid t={token}, k={}", self.public))
    }
}
