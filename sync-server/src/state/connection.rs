//! Which state system each facility is connected to, with its keys sealed at rest under a key
//! derived from the server's data key (HKDF, its own label; the licence bound in as associated
//! data, so one facility's sealed keys copied onto another do not open). Keys are never logged.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use chrono::{DateTime, NaiveDate, Utc};
use custody_core::ids::LicenseNumber;
use custody_core::outbound::patient::DataKey;
use rusqlite::{Connection, OptionalExtension, params};

use crate::db::{Db, DbError};
use crate::state::System;
use crate::state::metrc::{Keys, check_base_url};

/// A user key this close to its expiry gets a warning at every connect and status.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// A facility's connection as the console and the API show it (no keys).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConnectionInfo {
    pub facility: String,
    pub system: String,
    pub state: String,
    pub base_url: String,
    pub connected: bool,
    pub user_key_expires: Option<NaiveDate>,
    pub connected_at: DateTime<Utc>,
    /// Set when the state refused the keys: the connector for this facility is stopped.
    pub stopped: Option<String>,
    /// A sentence about the user key's expiry, within [`EXPIRY_WARNING_DAYS`] of it or after.
    pub warning: Option<String>,
}

/// A connected facility, ready for the drain: its system, address and opened keys.
pub struct Live {
    pub facility: LicenseNumber,
    pub system: System,
    pub base_url: String,
    pub keys: Keys,
}

/// The warning for a user key expiring on `expires`, seen on `today`.
pub fn expiry_warning(expires: Option<NaiveDate>, today: NaiveDate) -> Option<String> {
    let expires = expires?;
    let days = (expires - today).num_days();
    if days < 0 {
        Some(format!("the state user key expired on {expires}; get a new one from the state and run `custody-server state connect` again"))
    } else if days <= EXPIRY_WARNING_DAYS {
        Some(format!(
            "the state user key expires on {expires} (in {days} day{}); get a new one from the state and run `custody-server state connect` before then",
            if days == 1 { "" } else { "s" }
        ))
    } else {
        None
    }
}

fn cipher(key: &DataKey) -> XChaCha20Poly1305 {
    let ikm = hex::decode(key.to_hex()).expect("the data key's own hex decodes");
    let mut derived = [0u8; 32];
    hkdf::Hkdf::<sha2::Sha256>::new(None, &ikm)
        .expand(b"custody server: state credentials", &mut derived)
        .expect("32 bytes is a valid HKDF-SHA-256 output length");
    let cipher = XChaCha20Poly1305::new((&derived).into());
    derived.fill(0);
    cipher
}

#[derive(serde::Serialize, serde::Deserialize)]
struct SealedKeys {
    vendor: String,
    user: String,
}

pub(crate) fn seal(key: &DataKey, facility: &LicenseNumber, keys: &Keys) -> Vec<u8> {
    let mut nonce = [0u8; 24];
    getrandom::fill(&mut nonce).expect("the operating system provides randomness");
    let plain = serde_json::to_vec(&SealedKeys { vendor: keys.vendor.clone(), user: keys.user.clone() }).expect("plain data serialises");
    let sealed = cipher(key)
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: &plain, aad: facility.as_str().as_bytes() })
        .expect("encryption of a small record cannot fail");
    let mut out = nonce.to_vec();
    out.extend(sealed);
    out
}

pub(crate) fn open(key: &DataKey, facility: &LicenseNumber, sealed: &[u8]) -> Result<Keys, DbError> {
    let corrupt =
        || DbError::Corrupt { what: "sealed state keys", value: format!("for {facility}: sealed under another data key or altered") };
    if sealed.len() < 24 + 16 {
        return Err(corrupt());
    }
    let (nonce, body) = sealed.split_at(24);
    let plain =
        cipher(key).decrypt(XNonce::from_slice(nonce), Payload { msg: body, aad: facility.as_str().as_bytes() }).map_err(|_| corrupt())?;
    let keys: SealedKeys = serde_json::from_slice(&plain).map_err(|_| corrupt())?;
    Ok(Keys { vendor: keys.vendor, user: keys.user })
}

/// A key as given: printable ASCII without spaces, of a sane length. The message never repeats it.
fn check_key(what: &str, key: &str) -> Result<(), DbError> {
    if key.is_empty() {
        return Err(DbError::InvalidInput(format!("the {what} is empty")));
    }
    if key.len() > 512 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(DbError::InvalidInput(format!(
            "the {what} has characters a state key never has (spaces, control or non-ASCII characters) or is too long; copy it again"
        )));
    }
    Ok(())
}

/// Whether writes for this facility go to the outbox: it was connected once (connected now,
/// disconnected, or stopped). A facility that never connected has nothing to send.
pub(crate) fn has_connector(conn: &Connection, facility: &LicenseNumber) -> Result<bool, DbError> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM state_connections WHERE facility = ?1")?
        .query_row(params![facility.as_str()], |_| Ok(()))
        .optional()?
        .is_some())
}

/// The facility's connection, if it ever had one, read on an open connection.
pub(crate) fn connection_info(conn: &Connection, facility: &LicenseNumber) -> Result<Option<ConnectionInfo>, DbError> {
    let row = conn
        .query_row(
            "SELECT system, state, base_url, sealed_keys IS NOT NULL, user_key_expires, connected_at, stopped_reason
             FROM state_connections WHERE facility = ?1",
            params![facility.as_str()],
            |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, bool>(3)?,
                    row.get::<_, Option<String>>(4)?,
                    row.get::<_, String>(5)?,
                    row.get::<_, Option<String>>(6)?,
                ))
            },
        )
        .optional()?;
    let Some((system, state, base_url, connected, expires, connected_at, stopped)) = row else { return Ok(None) };
    let expires = expires.map(|d| crate::db::parse_col::<NaiveDate>("key expiry date", &d)).transpose()?;
    Ok(Some(ConnectionInfo {
        facility: facility.to_string(),
        system,
        state,
        base_url,
        connected,
        user_key_expires: expires,
        connected_at: crate::db::parse_time(&connected_at)?,
        stopped: stopped.filter(|_| connected),
        warning: expiry_warning(expires, Utc::now().date_naive()).filter(|_| connected),
    }))
}

impl Db {
    /// Connects a facility to its state's system, or replaces its keys; clears a stop.
    pub fn state_connect(
        &self,
        facility: &LicenseNumber,
        system: System,
        state: &str,
        base_url: &str,
        keys: &Keys,
        user_key_expires: Option<NaiveDate>,
    ) -> Result<ConnectionInfo, DbError> {
        let state = state.trim().to_ascii_lowercase();
        if state.len() != 2 || !state.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err(DbError::InvalidInput(format!("{state:?} is not a state; give its two-letter code, e.g. --state ca")));
        }
        let base_url = check_base_url(base_url).map_err(DbError::InvalidInput)?;
        check_key("vendor key (CUSTODY_STATE_VENDOR_KEY)", &keys.vendor)?;
        check_key("user key (CUSTODY_STATE_USER_KEY)", &keys.user)?;
        let sealed = seal(&self.data_key, facility, keys);
        {
            let mut conn = self.lock();
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            if crate::db::facility_name(&tx, facility)?.is_none() {
                return Err(DbError::UnknownFacility(facility.clone()));
            }
            tx.execute(
                "INSERT INTO state_connections (facility, system, state, base_url, sealed_keys, user_key_expires, connected_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (facility) DO UPDATE SET system = ?2, state = ?3, base_url = ?4, sealed_keys = ?5,
                     user_key_expires = ?6, connected_at = ?7, disconnected_at = NULL, stopped_at = NULL, stopped_reason = NULL",
                params![
                    facility.as_str(),
                    system.as_str(),
                    state,
                    base_url,
                    sealed,
                    user_key_expires.map(|d| d.to_string()),
                    crate::db::now_text()
                ],
            )?;
            tx.commit()?;
        }
        tracing::info!(%facility, system = system.as_str(), %state, "state connector connected");
        self.state_connection(facility)?.ok_or_else(|| DbError::UnknownFacility(facility.clone()))
    }

    /// Forgets a facility's keys and stops sending. Writes accepted from now on still queue, and
    /// go out in order when it is connected again: nothing accepted is lost.
    pub fn state_disconnect(&self, facility: &LicenseNumber) -> Result<(), DbError> {
        let changed = self.lock().execute(
            "UPDATE state_connections SET sealed_keys = NULL, disconnected_at = ?2 WHERE facility = ?1 AND sealed_keys IS NOT NULL",
            params![facility.as_str(), crate::db::now_text()],
        )?;
        if changed == 0 {
            return Err(DbError::InvalidInput(format!("{facility} is not connected to a state system")));
        }
        tracing::info!(%facility, "state connector disconnected");
        Ok(())
    }

    /// The facility's connection, if it ever had one.
    pub fn state_connection(&self, facility: &LicenseNumber) -> Result<Option<ConnectionInfo>, DbError> {
        connection_info(&self.lock(), facility)
    }

    /// Facilities with keys that are not stopped, with their keys opened: what the drain serves.
    pub fn live_connections(&self) -> Result<Vec<Live>, DbError> {
        let conn = self.lock();
        let mut stmt = conn.prepare(
            "SELECT facility, system, base_url, sealed_keys FROM state_connections
             WHERE sealed_keys IS NOT NULL AND stopped_at IS NULL ORDER BY facility",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, String>(2)?, row.get::<_, Vec<u8>>(3)?))
        })?;
        let mut live = Vec::new();
        for row in rows {
            let (facility, system, base_url, sealed) = row?;
            let facility: LicenseNumber = crate::db::parse_col("licence", &facility)?;
            let system = System::parse(&system).ok_or(DbError::Corrupt { what: "state system", value: system })?;
            let keys = open(&self.data_key, &facility, &sealed)?;
            live.push(Live { facility, system, base_url, keys });
        }
        Ok(live)
    }

    /// Stops a facility's connector because the state refused its keys; `state connect` clears it.
    pub fn stop_state(&self, facility: &LicenseNumber, reason: &str) -> Result<(), DbError> {
        self.lock().execute(
            "UPDATE state_connections SET stopped_at = ?2, stopped_reason = ?3 WHERE facility = ?1",
            params![facility.as_str(), crate::db::now_text(), reason],
        )?;
        tracing::warn!(%facility, reason, "state connector stopped: the state refused the keys");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lic(text: &str) -> LicenseNumber {
        LicenseNumber::parse(text).unwrap()
    }

    #[test]
    fn keys_are_sealed_per_facility_and_open_only_with_the_same_data_key() {
        let key = DataKey::generate();
        let keys = Keys { vendor: "vendor-key-1".into(), user: "user-key-secret".into() };
        let sealed = seal(&key, &lic("C11-0000001-LIC"), &keys);
        assert!(!String::from_utf8_lossy(&sealed).contains("user-key-secret"));
        let opened = open(&key, &lic("C11-0000001-LIC"), &sealed).unwrap();
        assert_eq!((opened.vendor.as_str(), opened.user.as_str()), ("vendor-key-1", "user-key-secret"));
        assert!(open(&key, &lic("C11-0000002-LIC"), &sealed).is_err(), "copied onto another facility");
        assert!(open(&DataKey::generate(), &lic("C11-0000001-LIC"), &sealed).is_err());
    }

    #[test]
    fn expiry_warns_within_thirty_days_and_after() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 3).unwrap();
        assert_eq!(expiry_warning(None, today), None);
        assert_eq!(expiry_warning(Some(today + chrono::Duration::days(31)), today), None);
        let soon = expiry_warning(Some(today + chrono::Duration::days(30)), today).unwrap();
        assert!(soon.contains("expires on 2027-01-02 (in 30 days)"), "{soon}");
        assert!(expiry_warning(Some(today + chrono::Duration::days(1)), today).unwrap().contains("(in 1 day)"));
        assert!(expiry_warning(Some(today - chrono::Duration::days(1)), today).unwrap().contains("expired on 2026-12-02"));
    }

    #[test]
    fn connect_checks_its_input_and_disconnect_forgets_the_keys() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), DataKey::generate()).unwrap();
        let l = lic("C11-0000001-LIC");
        let keys = Keys { vendor: "v1".into(), user: "u1".into() };
        assert!(matches!(
            db.state_connect(&l, System::Metrc, "ca", "https://api-ca.metrc.com", &keys, None),
            Err(DbError::UnknownFacility(_))
        ));
        db.create_facility(&l, "Warehouse", custody_core::state_json::Tz::America__Los_Angeles).unwrap();
        let bad =
            |state: &str, url: &str, keys: &Keys| db.state_connect(&l, System::Metrc, state, url, keys, None).unwrap_err().to_string();
        assert!(bad("california", "https://x.example", &keys).contains("two-letter"));
        assert!(bad("ca", "http://api-ca.metrc.com", &keys).contains("https"));
        let spaced = Keys { vendor: "v1".into(), user: "has space secret".into() };
        let message = bad("ca", "https://x.example", &spaced);
        assert!(message.contains("user key") && !message.contains("secret"), "{message}");
        assert!(db.state_connection(&l).unwrap().is_none(), "nothing stored by a refused connect");

        let info = db.state_connect(&l, System::Metrc, "CA", "https://api-ca.metrc.com/", &keys, None).unwrap();
        assert!(info.connected && info.stopped.is_none());
        assert_eq!((info.state.as_str(), info.base_url.as_str()), ("ca", "https://api-ca.metrc.com"));
        assert_eq!(db.live_connections().unwrap().len(), 1);
        db.stop_state(&l, "key expired").unwrap();
        assert_eq!(db.state_connection(&l).unwrap().unwrap().stopped.as_deref(), Some("key expired"));
        assert!(db.live_connections().unwrap().is_empty(), "a stopped facility is not drained");
        db.state_connect(&l, System::Metrc, "ca", "https://api-ca.metrc.com", &keys, None).unwrap();
        assert_eq!(db.live_connections().unwrap().len(), 1, "connecting again clears the stop");
        db.state_disconnect(&l).unwrap();
        assert!(db.live_connections().unwrap().is_empty());
        assert!(!db.state_connection(&l).unwrap().unwrap().connected);
        let sealed: Option<Vec<u8>> = db.lock().query_row("SELECT sealed_keys FROM state_connections", [], |r| r.get(0)).unwrap();
        assert!(sealed.is_none(), "the keys are gone");
        assert!(db.state_disconnect(&l).unwrap_err().to_string().contains("not connected"));
    }
}
