//! People on a shared handheld: who is signed in, their sealed signing keys, and signing in.
//!
//! The first sign-in of a person on a device is online: the server checks badge and PIN and
//! registers a new signing key for them on this device (`SyncClient::sign_in`, which ends in
//! [`Store::complete_online_sign_in`]). The private key stays here, sealed under a key derived
//! from the PIN and the store key's sign-in secret (from the platform keystore). Later sign-ins
//! open it offline with the PIN; every attempt is counted durably *before* the PIN is tried, and
//! after [`MAX_PIN_FAILURES`] wrong PINs in a row the sealed key is erased, so the next sign-in
//! must reach the server (whose own lockout then applies). A PIN reset, a deactivation or a newer
//! sign-in elsewhere revokes the key on the server; the next roster erases it here.

use std::sync::Arc;

use chrono::Utc;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::{Result, SignedInUser, Store, StoreError, from_json, get_meta, set_meta};
use crate::ids::{DeviceId, UserId};
use crate::protocol::{PersonProof, RosterEntry, SignInResponse};
use crate::signing::{PublicKey, SealedKey, SigningError, SigningKey, request_message, sealed_key_aad};

/// Wrong PINs in a row after which this device erases a person's sealed key.
pub const MAX_PIN_FAILURES: u32 = 5;

const META_SERVER_KEY: &str = "server_key";

/// The person signed in now, with their unsealed key (in memory only).
pub(crate) struct Signer {
    pub user: SignedInUser,
    pub device: DeviceId,
    pub key: SigningKey,
}

impl Signer {
    pub fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }
}

/// One sealed key row.
struct KeyRow {
    public_key: PublicKey,
    sealed: SealedKey,
    failures: u32,
}

fn key_row(conn: &Connection, user: UserId) -> Result<Option<KeyRow>> {
    let row: Option<(String, Vec<u8>, Vec<u8>, i64)> = conn
        .prepare_cached("SELECT public_key, salt, sealed, failures FROM person_keys WHERE user = ?1")?
        .query_row([user.to_string()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    row.map(|(key, salt, sealed, failures)| {
        Ok(KeyRow {
            public_key: PublicKey::parse(&key).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            sealed: SealedKey { salt, sealed },
            failures: u32::try_from(failures).unwrap_or(u32::MAX),
        })
    })
    .transpose()
}

fn erase_key(conn: &Connection, user: UserId) -> Result<()> {
    conn.prepare_cached("DELETE FROM person_keys WHERE user = ?1")?.execute([user.to_string()])?;
    Ok(())
}

/// Erases every sealed key that the roster no longer lists as the person's active key on this
/// device (or whose person is gone or deactivated).
pub(super) fn erase_revoked_keys(tx: &Transaction<'_>, roster: &[RosterEntry], device: DeviceId) -> Result<()> {
    let rows: Vec<(String, String)> = {
        let mut stmt = tx.prepare_cached("SELECT user, public_key FROM person_keys")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?
    };
    for (user, key) in rows {
        let keep = roster
            .iter()
            .find(|e| e.id.to_string() == user)
            .is_some_and(|e| e.active && e.active_key(device).is_some_and(|k| k.to_string() == key));
        if !keep {
            tx.prepare_cached("DELETE FROM person_keys WHERE user = ?1")?.execute([&user])?;
        }
    }
    Ok(())
}

/// Whether the signed-in person may go on signing with their key under this roster.
fn still_valid(signer: &Signer, roster: &[RosterEntry]) -> bool {
    roster.iter().find(|e| e.id == signer.user.id).is_some_and(|e| e.active && e.active_key(signer.device) == Some(&signer.public_key()))
}

impl Store {
    /// The person signed in now, with their key; `NotSignedIn` if nobody is.
    pub(crate) fn signer(&self) -> Result<Arc<Signer>> {
        self.signer_opt().ok_or(StoreError::NotSignedIn)
    }

    pub(crate) fn signer_opt(&self) -> Option<Arc<Signer>> {
        self.signer.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set_signer(&self, signer: Option<Signer>) {
        *self.signer.lock().unwrap_or_else(|p| p.into_inner()) = signer.map(Arc::new);
    }

    pub fn current_user(&self) -> Result<Option<SignedInUser>> {
        Ok(self.signer_opt().map(|s| s.user.clone()))
    }

    pub fn sign_out(&self) -> Result<()> {
        self.set_signer(None);
        Ok(())
    }

    /// Signs out whoever is signed in if the roster no longer lets them sign (deactivated, PIN
    /// reset, key revoked). Called after every roster change is committed.
    pub(super) fn check_signer(&self, roster: &[RosterEntry]) {
        let mut signer = self.signer.lock().unwrap_or_else(|p| p.into_inner());
        if signer.as_ref().is_some_and(|s| !still_valid(s, roster)) {
            *signer = None;
        }
    }

    /// Signs a person in offline: their badge finds them on the roster, their PIN opens the key
    /// this device holds for them. `NeedsOnlineSignIn` if it holds none (first time here, PIN
    /// reset, or erased after wrong PINs); every wrong PIN is counted before it is tried.
    pub fn sign_in(&self, badge: &str, pin: &str) -> Result<SignedInUser> {
        let (entry, device, row) = {
            let conn = self.conn();
            let device = Self::require_identity(&conn)?.device_id;
            let json: Option<String> =
                conn.prepare_cached("SELECT json FROM roster WHERE badge = ?1")?.query_row([badge.trim()], |r| r.get(0)).optional()?;
            // Someone the last roster does not know may have joined since: the server decides.
            let Some(json) = json else { return Err(StoreError::NeedsOnlineSignIn) };
            let entry: RosterEntry = from_json(&json)?;
            if !entry.active {
                return Err(StoreError::BadCredentials);
            }
            let Some(row) = key_row(&conn, entry.id)? else { return Err(StoreError::NeedsOnlineSignIn) };
            if entry.active_key(device) != Some(&row.public_key) {
                erase_key(&conn, entry.id)?;
                return Err(StoreError::NeedsOnlineSignIn);
            }
            // The attempt counts before the PIN is tried: killing the app mid-check saves nothing.
            conn.prepare_cached("UPDATE person_keys SET failures = failures + 1 WHERE user = ?1")?.execute([entry.id.to_string()])?;
            (entry, device, row)
        };
        // Argon2 runs without holding the database.
        let aad = sealed_key_aad(entry.id, device, &row.public_key);
        let opened = row.sealed.open(pin, &self.key.sign_in_secret(), &aad);
        let conn = self.conn();
        match opened {
            Ok(key) if key.public_key() == row.public_key => {
                conn.prepare_cached("UPDATE person_keys SET failures = 0 WHERE user = ?1")?.execute([entry.id.to_string()])?;
                drop(conn);
                let user = SignedInUser { id: entry.id, name: entry.name, role: entry.role };
                self.set_signer(Some(Signer { user: user.clone(), device, key }));
                Ok(user)
            }
            Ok(_) => {
                erase_key(&conn, entry.id)?;
                Err(StoreError::Corrupt("a sealed signing key does not match its public key".into()))
            }
            Err(SigningError::WrongPin) => {
                let failures = row.failures.saturating_add(1);
                if failures >= MAX_PIN_FAILURES {
                    erase_key(&conn, entry.id)?;
                    return Err(StoreError::SignInKeyErased);
                }
                Err(StoreError::WrongPin { left: MAX_PIN_FAILURES - failures })
            }
            Err(e) => Err(StoreError::Corrupt(e.to_string())),
        }
    }

    /// Finishes an online sign-in: the server checked badge and PIN and registered `key` for the
    /// person on this device. Seals the key with the PIN, keeps the server's roster and signs the
    /// person in.
    pub fn complete_online_sign_in(&self, pin: &str, key: SigningKey, response: &SignInResponse) -> Result<SignedInUser> {
        let device = self.identity()?.ok_or(StoreError::NotEnrolled)?.device_id;
        let entry = response
            .roster
            .iter()
            .find(|e| e.id == response.user)
            .ok_or_else(|| StoreError::BadRemoteEvent("the sign-in answer does not name the person".into()))?;
        if !entry.active || entry.active_key(device) != Some(&key.public_key()) {
            return Err(StoreError::BadRemoteEvent("the server did not register this phone's key".into()));
        }
        let public_key = key.public_key();
        let aad = sealed_key_aad(entry.id, device, &public_key);
        let sealed = SealedKey::seal(&key, pin, &self.key.sign_in_secret(), &aad).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        {
            let mut conn = self.conn();
            let tx = conn.transaction()?;
            super::replace_roster(&tx, &response.roster)?;
            tx.execute(
                "INSERT OR REPLACE INTO person_keys (user, public_key, salt, sealed, failures, registered_at)
                 VALUES (?1, ?2, ?3, ?4, 0, ?5)",
                params![entry.id.to_string(), public_key.to_string(), sealed.salt, sealed.sealed, Utc::now().to_rfc3339()],
            )?;
            set_meta(&tx, META_SERVER_KEY, &response.server_key)?;
            tx.commit()?;
        }
        let user = SignedInUser { id: entry.id, name: entry.name.clone(), role: entry.role };
        self.set_signer(Some(Signer { user: user.clone(), device, key }));
        self.check_signer(&response.roster);
        Ok(user)
    }

    /// Signs an event made outside [`Store::record`] with the signed-in person's key, as a
    /// tampered app holding the key could: tests build hand-made events with it. The apps never
    /// call it.
    #[doc(hidden)]
    pub fn sign_by_signed_in(&self, event: &mut crate::event::Event) -> Result<()> {
        event.sign(&self.signer()?.key);
        Ok(())
    }

    /// The proof that the signed-in person makes this request ([`crate::protocol::PERSON_HEADER`]),
    /// or `None` if nobody is signed in.
    pub(crate) fn person_proof(&self, method: &str, path: &str, body: &[u8]) -> Result<Option<PersonProof>> {
        let Some(signer) = self.signer_opt() else { return Ok(None) };
        let at_ms = self.now()?.timestamp_millis();
        let message = request_message(method, path, signer.device, signer.user.id, at_ms, body);
        Ok(Some(PersonProof { user: signer.user.id, at_ms, signature: signer.key.sign(&message) }))
    }

    /// The key the server signs its own document changes with (from enrolment and each sync).
    pub(crate) fn server_key(conn: &Connection) -> Result<Option<PublicKey>> {
        get_meta(conn, META_SERVER_KEY)
    }

    pub(super) fn set_server_key(conn: &Connection, key: &PublicKey) -> Result<()> {
        set_meta(conn, META_SERVER_KEY, key)
    }
}
