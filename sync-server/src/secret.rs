//! Secrets the server hands out or checks: enrolment codes, device tokens and PINs. Codes and
//! tokens are stored only as SHA-256 hex; PINs only as Argon2 PHC strings.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the operating system's random number generator failed: {0}")]
    Random(getrandom::Error),
    #[error("hashing the PIN failed: {0}")]
    Hash(argon2::password_hash::Error),
    #[error("a PIN must be 4 to 12 digits (0-9) and nothing else")]
    InvalidPin,
}

/// Crockford base32: no I, L, O or U, so a code read aloud or copied by hand is not misread.
const CODE_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
pub const CODE_LEN: usize = 10;
const TOKEN_PREFIX: &str = "cdt_";

fn random<const N: usize>() -> Result<[u8; N], SecretError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(SecretError::Random)?;
    Ok(bytes)
}

pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// A new enrolment code: 10 symbols, 50 bits. 256 is a multiple of 32, so `byte % 32` is uniform.
pub fn new_enrolment_code() -> Result<String, SecretError> {
    let bytes: [u8; CODE_LEN] = random()?;
    Ok(bytes.iter().map(|b| CODE_ALPHABET[(b % 32) as usize] as char).collect())
}

/// Canonical form of a code a person typed: case, spaces and dashes ignored, and the letters
/// Crockford decodes as digits (I/L → 1, O → 0) mapped, so the hash matches what was issued.
pub fn normalise_enrolment_code(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| match c.to_ascii_uppercase() {
            'I' | 'L' => '1',
            'O' => '0',
            other => other,
        })
        .collect()
}

/// A new device bearer token: `cdt_` and 32 random bytes in hex.
pub fn new_device_token() -> Result<String, SecretError> {
    let bytes: [u8; 32] = random()?;
    Ok(format!("{TOKEN_PREFIX}{}", hex::encode(bytes)))
}

pub fn check_pin_format(pin: &str) -> Result<(), SecretError> {
    if (4..=12).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit()) { Ok(()) } else { Err(SecretError::InvalidPin) }
}

/// Argon2id with the crate's default cost: devices verify the same string offline.
pub fn hash_pin(pin: &str) -> Result<String, SecretError> {
    check_pin_format(pin)?;
    let salt_bytes: [u8; 16] = random()?;
    let salt = SaltString::encode_b64(&salt_bytes).map_err(SecretError::Hash)?;
    Argon2::default().hash_password(pin.as_bytes(), &salt).map(|h| h.to_string()).map_err(SecretError::Hash)
}

/// False for a wrong PIN and for a stored hash that does not parse (never a panic).
pub fn verify_pin(pin: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| Argon2::default().verify_password(pin.as_bytes(), &parsed).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_use_the_unambiguous_alphabet() {
        let code = new_enrolment_code().unwrap();
        assert_eq!(code.len(), CODE_LEN);
        assert!(code.bytes().all(|b| CODE_ALPHABET.contains(&b)), "{code}");
        assert_ne!(code, new_enrolment_code().unwrap());
    }

    #[test]
    fn typed_codes_normalise() {
        assert_eq!(normalise_enrolment_code(" abcde-fghjk\n"), "ABCDEFGHJK");
        assert_eq!(normalise_enrolment_code("o1l0i"), "01101");
    }

    #[test]
    fn tokens_have_prefix_and_64_hex() {
        let t = new_device_token().unwrap();
        assert!(t.starts_with("cdt_"));
        assert_eq!(t.len(), 4 + 64);
        assert!(t[4..].bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn pins() {
        assert!(matches!(hash_pin("123"), Err(SecretError::InvalidPin)));
        assert!(matches!(hash_pin("1234567890123"), Err(SecretError::InvalidPin)));
        assert!(matches!(hash_pin("12a4"), Err(SecretError::InvalidPin)));
        let h = hash_pin("4821").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_pin("4821", &h));
        assert!(!verify_pin("4822", &h));
        assert!(!verify_pin("4821", "not a hash"));
    }
}
