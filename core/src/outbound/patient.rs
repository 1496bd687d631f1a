//! Patient data at rest: sealed with XChaCha20-Poly1305 under a key the device keeps in its
//! platform keystore (the server under its own data key). The order's id is bound into each
//! seal as associated data, so a sealed record copied onto another order does not open.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use uuid::Uuid;

use super::order::Patient;

/// A 256-bit data key. Never printed.
#[derive(Clone)]
pub struct DataKey([u8; 32]);

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("a data key must be 32 bytes; the app's keystore gave {0}")]
    KeyLength(usize),
    #[error("patient data could not be opened: it was sealed under another key or has been altered")]
    Open,
    #[error("patient data is unreadable: {0}")]
    Format(String),
}

impl DataKey {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SealError> {
        let key: [u8; 32] = bytes.try_into().map_err(|_| SealError::KeyLength(bytes.len()))?;
        Ok(DataKey(key))
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the operating system provides randomness");
        DataKey(key)
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(text: &str) -> Result<Self, SealError> {
        let bytes = hex::decode(text.trim()).map_err(|e| SealError::Format(e.to_string()))?;
        Self::from_bytes(&bytes)
    }

    /// The server's document-signing key, derived from its data key (HKDF-SHA-256, its own
    /// label), so an operator backs up one secret, not two.
    pub fn server_signing_key(&self) -> crate::signing::SigningKey {
        let mut secret = [0u8; 32];
        hkdf::Hkdf::<sha2::Sha256>::new(None, &self.0)
            .expand(b"custody server: document signing", &mut secret)
            .expect("32 bytes is a valid HKDF-SHA-256 output length");
        let key = crate::signing::SigningKey::from_secret(&secret);
        secret.fill(0);
        key
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&self.0).into())
    }

    /// Seals a patient record for one order: a random nonce followed by the ciphertext.
    pub fn seal(&self, order: Uuid, patient: &Patient) -> Vec<u8> {
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).expect("the operating system provides randomness");
        let plain = serde_json::to_vec(patient).expect("plain data serialises");
        let sealed = self
            .cipher()
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: &plain, aad: order.as_bytes() })
            .expect("encryption of a small record cannot fail");
        let mut out = nonce.to_vec();
        out.extend(sealed);
        out
    }

    pub fn open(&self, order: Uuid, sealed: &[u8]) -> Result<Patient, SealError> {
        if sealed.len() < 24 + 16 {
            return Err(SealError::Format("too short".into()));
        }
        let (nonce, body) = sealed.split_at(24);
        let plain =
            self.cipher().decrypt(XNonce::from_slice(nonce), Payload { msg: body, aad: order.as_bytes() }).map_err(|_| SealError::Open)?;
        serde_json::from_slice(&plain).map_err(|e| SealError::Format(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_records_open_only_with_their_key_and_order() {
        let p = Patient { name: "Jane Doe".into(), card_number: "MMJ-1234".into(), address: "1 Elm".into(), phone: "555".into() };
        let key = DataKey::generate();
        let order = Uuid::now_v7();
        let sealed = key.seal(order, &p);
        assert!(!String::from_utf8_lossy(&sealed).contains("Jane"));
        assert_eq!(key.open(order, &sealed).unwrap(), p);
        assert_eq!(DataKey::generate().open(order, &sealed), Err(SealError::Open));
        assert_eq!(key.open(Uuid::now_v7(), &sealed), Err(SealError::Open));
        assert!(format!("{key:?}").contains(".."));
        assert_eq!(DataKey::from_bytes(&[1; 16]).unwrap_err(), SealError::KeyLength(16));
    }
}
