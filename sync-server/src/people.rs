//! People and what proves them: the online sign-in that registers a person's signing key on a
//! device, the check of a request signed by the person signed in on a device (the
//! `custody-person` header), and a manager's powers over people (deactivate, reset a PIN).
//!
//! A device token proves which device is talking, never who: everything that depends on a
//! person — a manager's action, patient data, which work documents a device may receive — is
//! decided from a signature that verifies with a key registered to that person on that device.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use chrono::Utc;
use custody_core::ids::{DeviceId, LicenseNumber, UserId};
use custody_core::protocol::{PersonProof, SignInRequest, SignInResponse};
use custody_core::roles::Role;
use custody_core::signing::{PublicKey, Signature, Verifier, registration_message, request_message};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::db::{AuthedDevice, Db, DbError, now_text, parse_col};
use crate::secret;

/// How far a request's signing time may be from the server's clock. A phone corrects its clock
/// at every sync, so minutes are plenty; a captured proof is worthless after this.
pub const PROOF_WINDOW_MS: i64 = 5 * 60 * 1000;

/// A person proven by a signature with their key on the device making the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenPerson {
    pub id: UserId,
    pub name: String,
    pub role: Role,
}

impl ProvenPerson {
    pub fn is_manager(&self) -> bool {
        matches!(self.role, Role::Manager | Role::Admin)
    }
}

/// Why a key lookup failed, for the rejection reason.
pub(crate) enum KeyCheck {
    Verified,
    Revoked(String),
    Unregistered,
    Mismatch,
}

/// Checks `signature` over `message` against the keys `user` registered on `device`.
pub(crate) fn check_key(
    conn: &Connection,
    user: UserId,
    device: DeviceId,
    message: &[u8],
    signature: &Signature,
) -> Result<KeyCheck, DbError> {
    Ok(check_among(&registered_keys(conn, user, device)?, message, signature))
}

/// The keys people registered on devices, each read and decoded once for a unit of work that
/// checks many signatures (a sync of thousands of events, a count session's thousands of
/// changes) instead of once per signature. Keys do not change within one transaction: a sign-in
/// or a revocation is a transaction of its own.
#[derive(Default)]
pub(crate) struct KeyRing {
    keys: HashMap<(UserId, DeviceId), Vec<RegisteredKey>>,
}

impl KeyRing {
    /// Like [`check_key`], from the keys read the first time this person and device came up.
    pub(crate) fn check(
        &mut self,
        conn: &Connection,
        user: UserId,
        device: DeviceId,
        message: &[u8],
        signature: &Signature,
    ) -> Result<KeyCheck, DbError> {
        let keys = match self.keys.entry((user, device)) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(new) => new.insert(registered_keys(conn, user, device)?),
        };
        Ok(check_among(keys, message, signature))
    }
}

/// One key a person registered on a device: `None` if it does not decode (it then verifies
/// nothing), with when and why it was revoked.
struct RegisteredKey {
    verifier: Option<Verifier>,
    revoked: Option<(String, Option<String>)>,
}

fn registered_keys(conn: &Connection, user: UserId, device: DeviceId) -> Result<Vec<RegisteredKey>, DbError> {
    let mut stmt = conn.prepare_cached("SELECT public_key, revoked_at, revoked_why FROM person_keys WHERE user = ?1 AND device = ?2")?;
    let rows = stmt.query_map(params![user.to_string(), device.to_string()], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?, r.get::<_, Option<String>>(2)?))
    })?;
    let mut keys = Vec::new();
    for row in rows {
        let (key, revoked_at, why) = row?;
        let key: PublicKey = parse_col("public key", &key)?;
        keys.push(RegisteredKey { verifier: key.verifier().ok(), revoked: revoked_at.map(|at| (at, why)) });
    }
    Ok(keys)
}

fn check_among(keys: &[RegisteredKey], message: &[u8], signature: &Signature) -> KeyCheck {
    let verified = keys.iter().find(|k| k.verifier.as_ref().is_some_and(|v| v.verify(message, signature).is_ok()));
    match verified {
        Some(RegisteredKey { revoked: None, .. }) => KeyCheck::Verified,
        Some(RegisteredKey { revoked: Some((at, why)), .. }) => {
            KeyCheck::Revoked(format!("{} ({at})", why.as_deref().unwrap_or("revoked")))
        }
        None if keys.is_empty() => KeyCheck::Unregistered,
        None => KeyCheck::Mismatch,
    }
}

/// Revokes keys matching `where_sql` (bound to `value`), with the reason.
fn revoke_keys(conn: &Connection, where_sql: &str, value: &str, why: &str) -> Result<usize, DbError> {
    Ok(conn.execute(
        &format!("UPDATE person_keys SET revoked_at = ?2, revoked_why = ?3 WHERE revoked_at IS NULL AND {where_sql}"),
        params![value, now_text(), why],
    )?)
}

pub(crate) fn revoke_device_keys(conn: &Connection, device: DeviceId) -> Result<usize, DbError> {
    revoke_keys(conn, "device = ?1", &device.to_string(), "the device was revoked")
}

/// Deactivates a person, in the caller's transaction: the server refuses their new events, and
/// their keys are revoked, so every phone signs them out and forgets them at its next sync.
pub(crate) fn deactivate_in(conn: &Connection, user: UserId) -> Result<(), DbError> {
    conn.execute("UPDATE users SET active = 0 WHERE id = ?1", params![user.to_string()])?;
    revoke_keys(conn, "user = ?1", &user.to_string(), "the person was deactivated")?;
    Ok(())
}

/// Sets a new PIN hash for a person, in the caller's transaction: their badge's lockout is
/// cleared and their keys on every device revoked, so they sign in online with the new PIN.
pub(crate) fn reset_pin_in(conn: &Connection, facility: &LicenseNumber, user: UserId, pin_hash: &str) -> Result<(), DbError> {
    let badge: String = conn.query_row("SELECT badge FROM users WHERE id = ?1", params![user.to_string()], |r| r.get(0))?;
    conn.execute("UPDATE users SET pin_hash = ?2 WHERE id = ?1", params![user.to_string(), pin_hash])?;
    crate::lockout::clear_badge(conn, facility, &badge)?;
    revoke_keys(conn, "user = ?1", &user.to_string(), "the PIN was reset")?;
    Ok(())
}

impl Db {
    /// The person stays on the roster (their past events name them) but can no longer record.
    pub fn deactivate_user(&self, user: UserId) -> Result<(), DbError> {
        let conn = self.lock();
        let known: bool = conn.query_row("SELECT EXISTS (SELECT 1 FROM users WHERE id = ?1)", params![user.to_string()], |r| r.get(0))?;
        if !known {
            return Err(DbError::UnknownUser(user));
        }
        deactivate_in(&conn, user)
    }

    /// A person's online sign-in on a device: the server checks badge and PIN, then registers the
    /// device's new public key for them (revoking the key they had on that device, if any).
    pub fn sign_in(&self, device: &AuthedDevice, request: &SignInRequest) -> Result<SignInResponse, DbError> {
        let badge = request.badge.trim();
        // The device must hold the private key it registers.
        request
            .public_key
            .verify(&registration_message(device.id, badge, &request.public_key), &request.proof)
            .map_err(|_| DbError::InvalidInput("the new key's proof does not verify; update the app and sign in again".into()))?;
        let person = self.check_pin(&device.facility, Some(device.id), badge, &request.pin)?;
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let taken: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM person_keys WHERE public_key = ?1)",
            params![request.public_key.to_string()],
            |r| r.get(0),
        )?;
        if taken {
            return Err(DbError::InvalidInput("this key is already registered; sign in again".into()));
        }
        tx.execute(
            "UPDATE person_keys SET revoked_at = ?3, revoked_why = 'signed in again on this device'
             WHERE user = ?1 AND device = ?2 AND revoked_at IS NULL",
            params![person.id.to_string(), device.id.to_string(), now_text()],
        )?;
        tx.execute(
            "INSERT INTO person_keys (public_key, user, device, registered_at) VALUES (?1, ?2, ?3, ?4)",
            params![request.public_key.to_string(), person.id.to_string(), device.id.to_string(), now_text()],
        )?;
        let roster = crate::db::roster(&tx, &device.facility)?;
        tx.commit()?;
        tracing::info!(facility = %device.facility, device = %device.id, user = %person.id, key = %request.public_key.fingerprint(), "signing key registered");
        Ok(SignInResponse { user: person.id, roster, server_key: self.server_key(), server_time: Utc::now() })
    }

    /// Checks the `custody-person` header of a request the device made: the person is active at
    /// the device's facility, the signature verifies with their active key on this device over
    /// this very method, path and body, and it was made within minutes of the server's clock.
    /// `Ok(Err(reason))` when the proof is refused.
    pub fn verify_person(
        &self,
        device: &AuthedDevice,
        header: &str,
        method: &str,
        path: &str,
        body: &[u8],
    ) -> Result<Result<(ProvenPerson, Signature), String>, DbError> {
        let proof = match PersonProof::parse(header) {
            Ok(proof) => proof,
            Err(reason) => return Ok(Err(reason)),
        };
        let skew = (Utc::now().timestamp_millis() - proof.at_ms).abs();
        if skew > PROOF_WINDOW_MS {
            return Ok(Err(format!(
                "the sign-in proof was made {} minutes away from the server's time; check the phone's clock and sync again",
                skew / 60_000
            )));
        }
        let conn = self.lock();
        let person: Option<(String, String, bool)> = conn
            .prepare_cached("SELECT name, role, active FROM users WHERE id = ?1 AND facility = ?2")?
            .query_row(params![proof.user.to_string(), device.facility.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        let Some((name, role, active)) = person else {
            return Ok(Err(format!("nobody with id {} works at {}", proof.user, device.facility)));
        };
        if !active {
            return Ok(Err(format!("{name} was deactivated at {}", device.facility)));
        }
        let message = request_message(method, path, device.id, proof.user, proof.at_ms, body);
        Ok(match check_key(&conn, proof.user, device.id, &message, &proof.signature)? {
            KeyCheck::Verified => Ok((ProvenPerson { id: proof.user, name, role: parse_col("role", &role)? }, proof.signature)),
            KeyCheck::Revoked(why) => Err(format!("{name}'s key on this device was revoked: {why}; sign in again while online")),
            KeyCheck::Unregistered => Err(format!("{name} has not signed in on this device; sign in while online")),
            KeyCheck::Mismatch => Err(format!("the request is not signed by {name}'s key on this device")),
        })
    }

    /// Deactivates a person at the manager's facility: their events are refused from now on and
    /// every phone signs them out and erases their key at its next sync.
    pub fn deactivate_person(&self, facility: &LicenseNumber, by: &ProvenPerson, user: UserId) -> Result<(), DbError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let target = target_person(&tx, facility, by, user, "deactivate")?;
        deactivate_in(&tx, user)?;
        tx.commit()?;
        tracing::info!(facility = %facility, by = %by.id, user = %user, name = %target, "person deactivated");
        Ok(())
    }

    /// Sets a new PIN for a person at the manager's facility and revokes their keys on every
    /// device: they sign in online with the new PIN next.
    pub fn reset_pin_by(&self, facility: &LicenseNumber, by: &ProvenPerson, user: UserId, pin: &str) -> Result<(), DbError> {
        let hash = secret::hash_pin(pin)?;
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let target = target_person(&tx, facility, by, user, "reset the PIN of")?;
        reset_pin_in(&tx, facility, user, &hash)?;
        tx.commit()?;
        tracing::info!(facility = %facility, by = %by.id, user = %user, name = %target, "PIN reset");
        Ok(())
    }

    /// Revokes every key of a person (the CLI's PIN reset and deactivation use it too).
    pub fn revoke_person_keys(&self, user: UserId, why: &str) -> Result<usize, DbError> {
        revoke_keys(&self.lock(), "user = ?1", &user.to_string(), why)
    }
}

/// The person a manager acts on: at their facility, not themselves, and not an admin unless the
/// manager is one. Returns their name.
fn target_person(conn: &Connection, facility: &LicenseNumber, by: &ProvenPerson, user: UserId, what: &str) -> Result<String, DbError> {
    let found: Option<(String, String)> = conn
        .query_row("SELECT name, role FROM users WHERE id = ?1 AND facility = ?2", params![user.to_string(), facility.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    // Another facility's person is, for this manager, nobody.
    let (name, role) = found.ok_or(DbError::UnknownUser(user))?;
    let role: Role = parse_col("role", &role)?;
    if user == by.id {
        return Err(DbError::InvalidInput(format!("you cannot {what} yourself; ask another manager")));
    }
    if role == Role::Admin && by.role != Role::Admin {
        return Err(DbError::NotManager { name: by.name.clone(), role: by.role });
    }
    Ok(name)
}
