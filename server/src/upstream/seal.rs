//! Sealing secrets at rest (OAuth tokens, PKCE verifiers) with XChaCha20-Poly1305. The
//! associated data is the row's name, so a sealed value copied to another row does not open.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

const NONCE: usize = 24;

#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

#[derive(Debug, thiserror::Error)]
#[error("a sealed value cannot be opened: the token key changed or the value was altered")]
pub struct Unsealable;

impl Sealer {
    pub fn new(key: &[u8; 32]) -> Sealer {
        Sealer {
            cipher: XChaCha20Poly1305::new(key.into()),
        }
    }

    pub fn seal(&self, name: &str, plain: &[u8]) -> Vec<u8> {
        let nonce: [u8; NONCE] = rand::random();
        let mut out = nonce.to_vec();
        // Encryption with a valid key and nonce cannot fail.
        if let Ok(ct) = self.cipher.encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: plain,
                aad: name.as_bytes(),
            },
        ) {
            out.extend(ct);
        }
        out
    }

    pub fn open(&self, name: &str, sealed: &[u8]) -> Result<Vec<u8>, Unsealable> {
        if sealed.len() < NONCE {
            return Err(Unsealable);
        }
        let (nonce, ct) = sealed.split_at(NONCE);
        let nonce: [u8; NONCE] = nonce.try_into().map_err(|_| Unsealable)?;
        self.cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ct,
                    aad: name.as_bytes(),
                },
            )
            .map_err(|_| Unsealable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_under_their_name_and_key() {
        let s = Sealer::new(&[7; 32]);
        let sealed = s.seal("oauth:google:1:a@example.org", b"refresh-token-xyz");
        assert!(
            !sealed.windows(7).any(|w| w == b"refresh"),
            "no plaintext at rest"
        );
        assert_eq!(
            s.open("oauth:google:1:a@example.org", &sealed).unwrap(),
            b"refresh-token-xyz"
        );
        assert!(s.open("oauth:google:2:a@example.org", &sealed).is_err());
        assert!(
            Sealer::new(&[8; 32])
                .open("oauth:google:1:a@example.org", &sealed)
                .is_err()
        );
    }
}
