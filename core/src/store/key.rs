//! The device's store key: 32 random bytes the app keeps in the platform keystore (Android
//! Keystore, iOS Keychain) and hands to [`Store::open`](super::Store::open). Every secret the
//! device keeps at rest is derived from it, each under its own label, so one key never serves
//! two purposes: the database encryption key, the key that seals patient data, and the secret
//! mixed into the key that wraps each person's signing key (without it, the device's files alone
//! do not allow an offline PIN search).

use hkdf::Hkdf;
use sha2::Sha256;

use crate::outbound::patient::DataKey;

/// Why a key from the app cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the store key must be 32 bytes; the app's keystore gave {0}")]
    Length(usize),
}

/// The store key. Never printed, never written to the database.
#[derive(Clone)]
pub struct StoreKey([u8; 32]);

impl std::fmt::Debug for StoreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreKey(..)")
    }
}

impl StoreKey {
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let key: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Length(bytes.len()))?;
        Ok(StoreKey(key))
    }

    /// A fresh random key (what an app generates once and keeps in its keystore).
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the operating system provides randomness");
        StoreKey(key)
    }

    /// HKDF-SHA-256 of the key under `label`: independent keys for independent purposes.
    fn derive(&self, label: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        Hkdf::<Sha256>::new(None, &self.0).expand(label.as_bytes(), &mut out).expect("32 bytes is a valid HKDF-SHA-256 output length");
        out
    }

    /// The raw key the device database is encrypted under.
    pub(crate) fn database_key(&self) -> [u8; 32] {
        self.derive("custody store: database")
    }

    /// The key patient data is sealed under on this device.
    pub(crate) fn patient_key(&self) -> DataKey {
        DataKey::from_bytes(&self.derive("custody store: patient data")).expect("32 bytes")
    }

    /// The secret mixed into every person's key-wrapping key, beside their PIN.
    pub(crate) fn sign_in_secret(&self) -> [u8; 32] {
        self.derive("custody store: sign-in")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purposes_get_different_keys_and_bad_lengths_are_refused() {
        let key = StoreKey::generate();
        assert_ne!(key.database_key(), key.sign_in_secret());
        assert_ne!(key.patient_key().to_hex(), hex::encode(key.database_key()));
        assert_eq!(StoreKey::from_bytes(&[1; 31]).unwrap_err(), KeyError::Length(31));
        assert_eq!(format!("{key:?}"), "StoreKey(..)");
        let same = StoreKey::from_bytes(&key.0).unwrap();
        assert_eq!(same.database_key(), key.database_key(), "derivation is deterministic");
    }
}
