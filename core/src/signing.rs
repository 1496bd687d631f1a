//! Proof of who did what. A device token proves *which device*; who did something is proven by
//! that person's signature: an Ed25519 key per person per device, registered with the server at an
//! online sign-in (badge + PIN checked by the server) and kept on the device sealed under a key
//! derived from the person's PIN *and* a secret from the platform keystore, so the device's files
//! alone allow no offline PIN search.
//!
//! This module says once what every signature covers. Each purpose has its own label, so a
//! signature made for one thing can never be presented as another (an event's signature is not a
//! document change's, a request's is not a registration's).

use std::fmt;

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use ed25519_dalek::Signer as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::ids::{DeviceId, UserId};

/// Why a key or a signature cannot be used. Shown to the person, or kept as a rejection reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    #[error("{what} is not valid: {detail}")]
    Malformed { what: &'static str, detail: String },
    #[error("the signature does not verify")]
    BadSignature,
    /// The PIN did not open the sealed key (or the key was sealed under another store key).
    #[error("badge or PIN not recognised; try again or ask a manager")]
    WrongPin,
}

fn malformed(what: &'static str, detail: impl fmt::Display) -> SigningError {
    SigningError::Malformed { what, detail: detail.to_string() }
}

/// A person's public key on one device, as 64 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublicKey([u8; 32]);

/// An Ed25519 signature, as 128 hex digits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature([u8; 64]);

impl PublicKey {
    pub fn parse(hex_text: &str) -> Result<Self, SigningError> {
        let bytes = hex::decode(hex_text.trim()).map_err(|e| malformed("the public key", e))?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| malformed("the public key", "it must be 32 bytes"))?;
        // Refuse what is not a point on the curve now, not at the first verification.
        ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(|e| malformed("the public key", e))?;
        Ok(PublicKey(bytes))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Checks `signature` over `message` (strict: no malleable encodings).
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), SigningError> {
        self.verifier()?.verify(message, signature)
    }

    /// The key decoded once, for checking many signatures with it.
    pub fn verifier(&self) -> Result<Verifier, SigningError> {
        Ok(Verifier(ed25519_dalek::VerifyingKey::from_bytes(&self.0).map_err(|e| malformed("the public key", e))?))
    }

    /// A short fingerprint for people and logs ("a1b2c3d4").
    pub fn fingerprint(&self) -> String {
        hex::encode(&self.0[..4])
    }
}

/// A public key decoded (its curve point decompressed) once: a server checking a sync of
/// thousands of events from one person decodes their key once, not once per event.
#[derive(Clone)]
pub struct Verifier(ed25519_dalek::VerifyingKey);

impl Verifier {
    /// Checks `signature` over `message` (strict: no malleable encodings).
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), SigningError> {
        self.0.verify_strict(message, &ed25519_dalek::Signature::from_bytes(&signature.0)).map_err(|_| SigningError::BadSignature)
    }
}

impl Signature {
    pub fn parse(hex_text: &str) -> Result<Self, SigningError> {
        let bytes = hex::decode(hex_text.trim()).map_err(|e| malformed("the signature", e))?;
        let bytes: [u8; 64] = bytes.try_into().map_err(|_| malformed("the signature", "it must be 64 bytes"))?;
        Ok(Signature(bytes))
    }

    pub fn as_bytes(&self) -> &[u8; 64] {
        &self.0
    }
}

macro_rules! hex_text {
    ($t:ty) => {
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex::encode(self.0))
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($t), hex::encode(&self.0[..6]))
            }
        }
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&hex::encode(self.0))
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                <$t>::parse(&text).map_err(serde::de::Error::custom)
            }
        }
        impl std::str::FromStr for $t {
            type Err = SigningError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$t>::parse(s)
            }
        }
    };
}
hex_text!(PublicKey);
hex_text!(Signature);

/// A private signing key. Never printed, never written anywhere but sealed.
pub struct SigningKey(ed25519_dalek::SigningKey);

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey(public {})", self.public_key().fingerprint())
    }
}

impl SigningKey {
    /// A fresh key from the operating system's randomness.
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).expect("the operating system provides randomness");
        let key = SigningKey(ed25519_dalek::SigningKey::from_bytes(&seed));
        seed.fill(0);
        key
    }

    /// The key with these 32 secret bytes (a server key derived from its data key).
    pub fn from_secret(secret: &[u8; 32]) -> Self {
        SigningKey(ed25519_dalek::SigningKey::from_bytes(secret))
    }

    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.verifying_key().to_bytes())
    }

    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature(self.0.sign(message).to_bytes())
    }
}

// ---- what each signature covers ---------------------------------------------------------------

/// A ledger event: its hash, which covers every field (who, where, when, what, the chain link).
pub fn event_message(event_hash: &str) -> Vec<u8> {
    format!("custody/event/v1\n{event_hash}").into_bytes()
}

/// One Automerge change of a work document: the change hash covers its author (the actor), its
/// dependencies and every operation in it.
pub fn change_message(doc: Uuid, change_hash: &str) -> Vec<u8> {
    format!("custody/doc-change/v1\n{doc}\n{change_hash}").into_bytes()
}

/// An HTTP request made by the person signed in on a device: method, path, the device, the
/// person, when (milliseconds, by the device's corrected clock) and the SHA-256 of the body, so
/// the proof cannot be moved to another request or replayed long after.
pub fn request_message(method: &str, path: &str, device: DeviceId, user: UserId, at_ms: i64, body: &[u8]) -> Vec<u8> {
    let body_hash = hex::encode(Sha256::digest(body));
    format!("custody/request/v1\n{method}\n{path}\n{device}\n{user}\n{at_ms}\n{body_hash}").into_bytes()
}

/// The proof that the device registering a public key holds its private key.
pub fn registration_message(device: DeviceId, badge: &str, key: &PublicKey) -> Vec<u8> {
    format!("custody/register/v1\n{device}\n{badge}\n{key}").into_bytes()
}

// ---- the sealed key on the device ---------------------------------------------------------------

/// A person's private key as the device stores it: encrypted under a key derived with Argon2id
/// from their PIN, a random salt and the store's sign-in secret (from the platform keystore).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedKey {
    pub salt: Vec<u8>,
    /// 24-byte nonce followed by the ciphertext and its tag.
    pub sealed: Vec<u8>,
}

impl fmt::Debug for SealedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealedKey(..)")
    }
}

/// Argon2id at the cost OWASP recommends for interactive logins (19 MiB, two passes): a sign-in
/// takes a fraction of a second on a phone, and a guess costs an attacker the same. With the
/// keystore secret mixed in, a copy of the device's files alone allows no guessing at all.
fn wrapping_key(pin: &str, salt: &[u8], secret: &[u8; 32]) -> Result<[u8; 32], SigningError> {
    let params = Params::new(19 * 1024, 2, 1, Some(32)).map_err(|e| malformed("the key-wrapping cost", e))?;
    let argon = Argon2::new_with_secret(secret, Algorithm::Argon2id, Version::V0x13, params)
        .map_err(|e| malformed("the key-wrapping secret", e))?;
    let mut out = [0u8; 32];
    argon.hash_password_into(pin.as_bytes(), salt, &mut out).map_err(|e| malformed("the PIN", e))?;
    Ok(out)
}

impl SealedKey {
    /// Seals `key` for `aad` (the person and device it belongs to), so a sealed key copied onto
    /// another person's row does not open.
    pub fn seal(key: &SigningKey, pin: &str, secret: &[u8; 32], aad: &[u8]) -> Result<Self, SigningError> {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).expect("the operating system provides randomness");
        let mut wrap = wrapping_key(pin, &salt, secret)?;
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).expect("the operating system provides randomness");
        let cipher = XChaCha20Poly1305::new((&wrap).into());
        let mut secret_bytes = key.0.to_bytes();
        let ciphertext = cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: &secret_bytes, aad })
            .map_err(|_| malformed("the sealed key", "encryption failed"))?;
        secret_bytes.fill(0);
        wrap.fill(0);
        let mut sealed = nonce.to_vec();
        sealed.extend(ciphertext);
        Ok(SealedKey { salt: salt.to_vec(), sealed })
    }

    /// Opens the sealed key with the PIN; `WrongPin` if it does not open.
    pub fn open(&self, pin: &str, secret: &[u8; 32], aad: &[u8]) -> Result<SigningKey, SigningError> {
        if self.sealed.len() < 24 {
            return Err(malformed("the sealed key", "it is truncated"));
        }
        let mut wrap = wrapping_key(pin, &self.salt, secret)?;
        let cipher = XChaCha20Poly1305::new((&wrap).into());
        wrap.fill(0);
        let (nonce, ciphertext) = self.sealed.split_at(24);
        let mut plain = cipher.decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad }).map_err(|_| SigningError::WrongPin)?;
        let secret_bytes: [u8; 32] = plain.as_slice().try_into().map_err(|_| malformed("the sealed key", "wrong length"))?;
        plain.fill(0);
        Ok(SigningKey::from_secret(&secret_bytes))
    }
}

/// What a sealed key is bound to: the person and the device.
pub fn sealed_key_aad(user: UserId, device: DeviceId, key: &PublicKey) -> Vec<u8> {
    format!("custody/sealed-key/v1\n{user}\n{device}\n{key}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_for_its_message_and_key() {
        let key = SigningKey::generate();
        let other = SigningKey::generate();
        let message = event_message("ab12");
        let signature = key.sign(&message);
        assert!(key.public_key().verify(&message, &signature).is_ok());
        assert_eq!(key.public_key().verify(&event_message("ab13"), &signature), Err(SigningError::BadSignature));
        assert_eq!(other.public_key().verify(&message, &signature), Err(SigningError::BadSignature));
        // The same hash signed as an event is not a document change.
        let doc = Uuid::now_v7();
        assert!(key.public_key().verify(&change_message(doc, "ab12"), &signature).is_err());
    }

    #[test]
    fn keys_and_signatures_survive_text_and_refuse_garbage() {
        let key = SigningKey::generate();
        let public: PublicKey = key.public_key().to_string().parse().unwrap();
        assert_eq!(public, key.public_key());
        let sig = key.sign(b"x");
        let back: Signature = serde_json::from_str(&serde_json::to_string(&sig).unwrap()).unwrap();
        assert_eq!(back, sig);
        assert!(PublicKey::parse("zz").is_err());
        assert!(PublicKey::parse(&"00".repeat(31)).is_err());
        assert!(Signature::parse(&"00".repeat(63)).is_err());
        assert!(format!("{key:?}").starts_with("SigningKey(public "));
    }

    #[test]
    fn a_sealed_key_opens_only_with_its_pin_secret_and_binding() {
        let key = SigningKey::generate();
        let secret = [9u8; 32];
        let aad = sealed_key_aad(UserId::new(), DeviceId::new(), &key.public_key());
        let sealed = SealedKey::seal(&key, "2468", &secret, &aad).unwrap();
        assert_eq!(sealed.open("2468", &secret, &aad).unwrap().public_key(), key.public_key());
        assert_eq!(sealed.open("2469", &secret, &aad).unwrap_err(), SigningError::WrongPin);
        // The device's files alone (without the keystore's secret) do not open it with the PIN.
        assert_eq!(sealed.open("2468", &[8u8; 32], &aad).unwrap_err(), SigningError::WrongPin);
        assert_eq!(sealed.open("2468", &secret, b"another person").unwrap_err(), SigningError::WrongPin);
        assert!(!format!("{sealed:?}").contains(&hex::encode(&sealed.sealed)));
    }
}
