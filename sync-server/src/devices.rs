//! Devices: redeeming an enrolment code, listing and revoking. Above the store, the lockout
//! (refused codes are counted per address; a device's wrong PINs lock it) and people (revoking a
//! device revokes the signing keys registered on it).

use chrono::{DateTime, Utc};
use custody_core::ids::{DeviceId, LicenseNumber};
use custody_core::protocol::EnrolResponse;
use custody_core::text;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use crate::db::{Db, DbError, clean_text, facility_name, now_text, parse_col, parse_time, roster, time_text};
use crate::secret;

/// One enrolled device, for `device list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    pub id: DeviceId,
    pub facility: LicenseNumber,
    pub name: String,
    pub enrolled_at: DateTime<Utc>,
    pub last_seen: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// Set while too many wrong badges or PINs from it keep it locked (`device unlock`).
    pub locked_until: Option<DateTime<Utc>>,
}

impl Db {
    /// Redeems an enrolment code: creates the device and marks the code used, atomically.
    ///
    /// `from` is the client's address: refused codes are counted against it, in the same
    /// transaction, and a locked address is refused before the code is looked at
    /// ([`DbError::Locked`]). Unknown, used, expired and void codes all answer
    /// [`DbError::EnrolmentCodeInvalid`].
    pub fn enrol(&self, code: &str, device_name: &str, from: Option<std::net::IpAddr>) -> Result<EnrolResponse, DbError> {
        let device_name = clean_text(text::name("device name"), device_name)?;
        let code_hash = secret::sha256_hex(&secret::normalise_enrolment_code(code));
        let address = crate::lockout::address_key(from);
        let token = secret::new_device_token()?;
        let device_id = DeviceId::new();
        let now = Utc::now();
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        crate::lockout::check_address(&tx, &address, now)?;
        // (facility, expires_at, used_at, issuing device revoked_at, issuer active)
        type CodeRow = (String, String, Option<String>, Option<String>, Option<bool>);
        let found: Option<CodeRow> = tx
            .query_row(
                "SELECT c.facility, c.expires_at, c.used_at, d.revoked_at, u.active
                 FROM enrolment_codes c
                 LEFT JOIN devices d ON d.id = c.issued_from
                 LEFT JOIN users u ON u.id = c.issued_by
                 WHERE c.code_hash = ?1",
                params![code_hash],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?)),
            )
            .optional()?;
        let refused = match &found {
            None => Some("unknown"),
            Some((_, _, Some(_), _, _)) => Some("already used"),
            Some((_, expires_at, ..)) if parse_time(expires_at)? <= now => Some("expired"),
            Some((_, _, _, Some(_), _)) => Some("issued from a device since revoked"),
            Some((_, _, _, _, Some(false))) => Some("issued by someone since deactivated"),
            Some(_) => None,
        };
        let (Some((facility, ..)), None) = (found, refused) else {
            crate::lockout::count_address_failure(&tx, &address, now)?;
            tx.commit()?;
            tracing::info!(reason = refused.unwrap_or_default(), address, "enrolment code refused");
            return Err(DbError::EnrolmentCodeInvalid);
        };
        let facility: LicenseNumber = parse_col("licence number", &facility)?;
        tx.execute(
            "INSERT INTO devices (id, facility, name, token_hash, enrolled_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![device_id.to_string(), facility.as_str(), device_name, secret::sha256_hex(&token), time_text(now)],
        )?;
        tx.execute(
            "UPDATE enrolment_codes SET used_at = ?2, used_by = ?3 WHERE code_hash = ?1",
            params![code_hash, time_text(now), device_id.to_string()],
        )?;
        let facility_name = facility_name(&tx, &facility)?.unwrap_or_default();
        let roster = roster(&tx, &facility)?;
        let time_zone = Some(crate::db::facility_time_zone(&tx, &facility)?);
        tx.commit()?;
        Ok(EnrolResponse {
            device_id,
            facility,
            facility_name,
            token,
            roster,
            server_key: self.server_key(),
            server_time: Utc::now(),
            time_zone,
        })
    }

    pub fn list_devices(&self, facility: &LicenseNumber) -> Result<Vec<DeviceInfo>, DbError> {
        let conn = self.lock();
        if facility_name(&conn, facility)?.is_none() {
            return Err(DbError::UnknownFacility(facility.clone()));
        }
        let mut stmt = conn.prepare(
            "SELECT id, name, enrolled_at, last_seen, revoked_at FROM devices
             WHERE facility = ?1 ORDER BY enrolled_at, id",
        )?;
        let rows = stmt.query_map(params![facility.as_str()], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, Option<String>>(3)?,
                row.get::<_, Option<String>>(4)?,
            ))
        })?;
        let mut devices = Vec::new();
        for row in rows {
            let (id, name, enrolled_at, last_seen, revoked_at) = row?;
            let id = parse_col("device id", &id)?;
            devices.push(DeviceInfo {
                id,
                locked_until: crate::lockout::device_locked_until(&conn, facility, id)?,
                facility: facility.clone(),
                name,
                enrolled_at: parse_time(&enrolled_at)?,
                last_seen: last_seen.as_deref().map(parse_time).transpose()?,
                revoked_at: revoked_at.as_deref().map(parse_time).transpose()?,
            });
        }
        Ok(devices)
    }

    /// Revokes a device wherever it is enrolled. Revoking twice keeps the first time.
    pub fn revoke_device(&self, device: DeviceId) -> Result<(), DbError> {
        let conn = self.lock();
        let changed = conn
            .execute("UPDATE devices SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1", params![device.to_string(), now_text()])?;
        if changed == 0 {
            return Err(DbError::UnknownDevice(device));
        }
        crate::people::revoke_device_keys(&conn, device)?;
        Ok(())
    }

    /// Revokes a device only if it is enrolled at `facility`; another facility's device is
    /// reported as unknown, not as forbidden, so its existence does not leak.
    pub fn revoke_device_at(&self, facility: &LicenseNumber, device: DeviceId) -> Result<(), DbError> {
        let conn = self.lock();
        let changed = conn.execute(
            "UPDATE devices SET revoked_at = COALESCE(revoked_at, ?3) WHERE id = ?1 AND facility = ?2",
            params![device.to_string(), facility.as_str(), now_text()],
        )?;
        if changed == 0 {
            return Err(DbError::UnknownDevice(device));
        }
        crate::people::revoke_device_keys(&conn, device)?;
        Ok(())
    }
}
