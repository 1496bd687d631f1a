//! Wrong PINs and bad enrolment codes, counted in the database (docs/decisions/0014).
//!
//! Every PIN check goes through [`Db::check_pin`]: in one IMMEDIATE transaction it refuses a
//! locked badge or device and otherwise counts the attempt as a failure *before* Argon2 runs;
//! the check itself runs outside the lock, and only a right PIN takes the count back. So parallel
//! guesses cannot slip past the limit, a restart does not forgive them, and several server
//! processes on one database (later PostgreSQL) share one count.

use std::net::IpAddr;
use std::sync::atomic::Ordering;

use chrono::{DateTime, Duration, Utc};
use custody_core::ids::{DeviceId, LicenseNumber, UserId};
use custody_core::roles::Role;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::db::{Db, DbError, facility_name, parse_col, parse_time};
use crate::secret;

/// How a kind of counter locks: after `threshold` failures, for `first_lock`, doubling with each
/// further failure up to `max_lock`. A counter with `forget_after` starts again from zero once
/// that long has passed since its last failure and the end of its lock.
#[derive(Debug)]
pub struct Policy {
    pub kind: &'static str,
    pub threshold: u32,
    pub first_lock: Duration,
    pub max_lock: Duration,
    pub forget_after: Option<Duration>,
}

/// A badge (per facility, known or not): 5 wrong PINs in a row, then 1 minute, 2, 4, ... up to a
/// day. Only a right PIN, `user unlock` or `user reset-pin` ends the streak.
pub const BADGE: Policy =
    Policy { kind: "badge", threshold: 5, first_lock: Duration::minutes(1), max_lock: Duration::hours(24), forget_after: None };

/// A device, whatever badges it tries: 10 failures (a shared handheld sees honest typos from
/// many people), then 1 minute doubling up to a day. A right PIN takes back only its own
/// attempt, so knowing one badge and PIN does not reset the device; the count is forgotten an
/// hour after the last failure and lock, or by `device unlock`.
pub const DEVICE: Policy = Policy {
    kind: "device",
    threshold: 10,
    first_lock: Duration::minutes(1),
    max_lock: Duration::hours(24),
    forget_after: Some(Duration::hours(1)),
};

/// A client address presenting enrolment codes (`POST /v1/enrol`): 10 bad codes, then 1 minute
/// doubling up to an hour (a warehouse's phones may share one address); forgotten an hour after
/// the last failure and lock.
pub const ADDRESS: Policy = Policy {
    kind: "address",
    threshold: 10,
    first_lock: Duration::minutes(1),
    max_lock: Duration::hours(1),
    forget_after: Some(Duration::hours(1)),
};

/// Address counters belong to no facility: a code may be for any.
const NO_FACILITY: &str = "";

/// Badges longer than this cannot exist (`add_user` refuses them); a longer guess is counted
/// under its first 64 characters, so a guess cannot grow the table by its length.
const BADGE_KEY_CHARS: usize = 64;

impl Policy {
    /// How long the `failures`-th failure in a row locks, if at all.
    pub fn lock_for(&self, failures: u32) -> Option<Duration> {
        let beyond = failures.checked_sub(self.threshold)?;
        let doubled = self.first_lock.checked_mul(1i32 << beyond.min(20)).unwrap_or(self.max_lock);
        Some(doubled.min(self.max_lock))
    }
}

pub use crate::error::Locked;

/// One counter as stored.
struct Counter {
    failures: u32,
    last_failure_at: DateTime<Utc>,
    locked_until: Option<DateTime<Utc>>,
}

fn load(tx: &Connection, policy: &Policy, facility: &str, key: &str, now: DateTime<Utc>) -> Result<Option<Counter>, DbError> {
    let row: Option<(i64, String, Option<String>)> = tx
        .prepare_cached("SELECT failures, last_failure_at, locked_until FROM lockouts WHERE kind = ?1 AND facility = ?2 AND key = ?3")?
        .query_row(params![policy.kind, facility, key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let Some((failures, last, until)) = row else { return Ok(None) };
    let counter = Counter {
        failures: u32::try_from(failures).unwrap_or(u32::MAX),
        last_failure_at: parse_time(&last)?,
        locked_until: until.as_deref().map(parse_time).transpose()?,
    };
    if let Some(forget) = policy.forget_after {
        let quiet_since = counter.locked_until.map_or(counter.last_failure_at, |u| u.max(counter.last_failure_at));
        if now >= quiet_since + forget {
            return Ok(None);
        }
    }
    Ok(Some(counter))
}

/// Until when the counter is locked, if it is now.
fn locked_until(tx: &Connection, policy: &Policy, facility: &str, key: &str, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, DbError> {
    Ok(load(tx, policy, facility, key, now)?.and_then(|c| c.locked_until).filter(|until| *until > now))
}

/// Counts one failure, locking if that reaches the policy's threshold.
fn count_failure(tx: &Connection, policy: &Policy, facility: &str, key: &str, now: DateTime<Utc>) -> Result<(), DbError> {
    let failures = load(tx, policy, facility, key, now)?.map_or(0, |c| c.failures).saturating_add(1);
    let until = policy.lock_for(failures).map(|d| crate::db::time_text(now + d));
    tx.prepare_cached(
        "INSERT INTO lockouts (kind, facility, key, failures, last_failure_at, locked_until)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (kind, facility, key) DO UPDATE SET
             failures = excluded.failures, last_failure_at = excluded.last_failure_at, locked_until = excluded.locked_until",
    )?
    .execute(params![policy.kind, facility, key, failures, crate::db::time_text(now), until])?;
    if let Some(until) = &until {
        // Never the badge: someone may have typed their PIN into the badge field.
        let key = if policy.kind == BADGE.kind { "-" } else { key };
        tracing::warn!(kind = policy.kind, facility, key, failures, %until, "locked after repeated failures");
    }
    Ok(())
}

/// Takes back one failure counted ahead of a check that turned out right; the lock goes if the
/// count drops below the threshold.
fn undo_failure(tx: &Connection, policy: &Policy, facility: &str, key: &str) -> Result<(), DbError> {
    tx.prepare_cached(
        "UPDATE lockouts SET failures = failures - 1,
             locked_until = CASE WHEN failures - 1 < ?4 THEN NULL ELSE locked_until END
         WHERE kind = ?1 AND facility = ?2 AND key = ?3 AND failures > 0",
    )?
    .execute(params![policy.kind, facility, key, policy.threshold])?;
    Ok(())
}

fn clear(tx: &Connection, policy: &Policy, facility: &str, key: &str) -> Result<(), DbError> {
    tx.prepare_cached("DELETE FROM lockouts WHERE kind = ?1 AND facility = ?2 AND key = ?3")?.execute(params![
        policy.kind,
        facility,
        key
    ])?;
    Ok(())
}

/// The badge as counted: trimmed like the lookup, and cut to the longest badge there can be.
pub(crate) fn badge_key(badge: &str) -> String {
    badge.trim().chars().take(BADGE_KEY_CHARS).collect()
}

/// The address as counted: an IPv4 address, or an IPv6 address's /64 (one household or site
/// holds a whole /64, so counting single IPv6 addresses would count nothing). Without an address
/// (a serve loop that does not record it) every client shares one count: stricter, never open.
pub fn address_key(addr: Option<IpAddr>) -> String {
    match addr.map(|a| a.to_canonical()) {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            let prefix = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
            format!("{prefix}/64")
        }
        None => "unknown".to_string(),
    }
}

/// Refuses a locked address; called inside the enrolment transaction.
pub(crate) fn check_address(tx: &Connection, address: &str, now: DateTime<Utc>) -> Result<(), DbError> {
    match locked_until(tx, &ADDRESS, NO_FACILITY, address, now)? {
        Some(until) => Err(DbError::Locked { what: Locked::Address, until }),
        None => Ok(()),
    }
}

/// Counts a refused enrolment code against the address; called inside the enrolment transaction.
pub(crate) fn count_address_failure(tx: &Connection, address: &str, now: DateTime<Utc>) -> Result<(), DbError> {
    count_failure(tx, &ADDRESS, NO_FACILITY, address, now)
}

/// Who a badge and PIN belong to. [`Db::check_pin`] returns only active people: a deactivated
/// person with the right PIN is refused with [`DbError::Deactivated`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: UserId,
    pub name: String,
    pub role: Role,
    pub active: bool,
}

impl Person {
    /// Only a manager or an admin; anyone else is told so (they gave their own right PIN).
    pub fn require_manager(self) -> Result<Person, DbError> {
        if matches!(self.role, Role::Manager | Role::Admin) {
            Ok(self)
        } else {
            Err(DbError::NotManager { name: self.name, role: self.role })
        }
    }
}

/// The person with `badge` at `facility`, or a clear error: no such facility, or nobody with
/// that badge there.
pub(crate) fn user_by_badge(tx: &Connection, facility: &LicenseNumber, badge: &str) -> Result<Person, DbError> {
    if facility_name(tx, facility)?.is_none() {
        return Err(DbError::UnknownFacility(facility.clone()));
    }
    let found: Option<(String, String, String, bool)> = tx
        .query_row(
            "SELECT id, name, role, active FROM users WHERE facility = ?1 AND badge = ?2",
            params![facility.as_str(), badge.trim()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let Some((id, name, role, active)) = found else {
        return Err(DbError::UnknownBadge { badge: badge.trim().to_string(), facility: facility.clone() });
    };
    Ok(Person { id: parse_col("user id", &id)?, name, role: parse_col("role", &role)?, active })
}

/// The PIN hash an unknown badge is checked against, so it costs what a known badge costs. Its
/// PIN is random and the result is ignored: it never lets anyone in.
fn dummy_pin_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        let mut bytes = [0u8; 8];
        let pin: String = match getrandom::fill(&mut bytes) {
            Ok(()) => bytes.iter().map(|b| char::from(b'0' + b % 10)).collect(),
            Err(_) => "00000000".to_string(),
        };
        // Hashing a well-formed PIN only fails if the random source fails; then a malformed
        // hash still makes verification fail, just faster.
        secret::hash_pin(&pin).unwrap_or_default()
    })
}

impl Db {
    /// Checks a badge and PIN at `facility`, from `device` if it came from one; the one place
    /// every PIN check goes through.
    ///
    /// - [`DbError::Locked`] (HTTP 429): the badge or the device is locked; nothing was checked
    ///   or counted.
    /// - [`DbError::WrongCredentials`] (403): a wrong PIN, or a badge nobody has; the same answer
    ///   after the same Argon2 work, and counted the same way.
    /// - [`DbError::Deactivated`] (403): the right PIN of someone deactivated.
    ///
    /// Role checks are the caller's ([`Person::require_manager`]).
    pub fn check_pin(&self, facility: &LicenseNumber, device: Option<DeviceId>, badge: &str, pin: &str) -> Result<Person, DbError> {
        let badge = badge_key(badge);
        let device = device.map(|d| d.to_string());
        let found: Option<(String, String, String, String, bool)> = {
            let mut conn = self.lock();
            let now = Utc::now();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if let Some(until) = locked_until(&tx, &BADGE, facility.as_str(), &badge, now)? {
                return Err(DbError::Locked { what: Locked::Badge, until });
            }
            if let Some(device) = &device
                && let Some(until) = locked_until(&tx, &DEVICE, facility.as_str(), device, now)?
            {
                return Err(DbError::Locked { what: Locked::Device, until });
            }
            // Counted as a failure before the check runs; a right PIN takes it back below.
            count_failure(&tx, &BADGE, facility.as_str(), &badge, now)?;
            if let Some(device) = &device {
                count_failure(&tx, &DEVICE, facility.as_str(), device, now)?;
            }
            let found = tx
                .query_row(
                    "SELECT id, name, role, pin_hash, active FROM users WHERE facility = ?1 AND badge = ?2",
                    params![facility.as_str(), badge],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?)),
                )
                .optional()?;
            tx.commit()?;
            found
        };
        // Outside the lock: Argon2 takes a while, and other requests need the database.
        let right = match &found {
            Some((_, _, _, pin_hash, _)) => self.argon2_check(pin, pin_hash),
            None => {
                // Nobody has this badge: the same work and the same answer as a wrong PIN.
                let _ = self.argon2_check(pin, dummy_pin_hash());
                false
            }
        };
        let Some((id, name, role, _, active)) = found.filter(|_| right) else {
            return Err(DbError::WrongCredentials);
        };
        {
            let mut conn = self.lock();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            clear(&tx, &BADGE, facility.as_str(), &badge)?;
            if let Some(device) = &device {
                undo_failure(&tx, &DEVICE, facility.as_str(), device)?;
            }
            tx.commit()?;
        }
        if !active {
            return Err(DbError::Deactivated { name });
        }
        Ok(Person { id: parse_col("user id", &id)?, name, role: parse_col("role", &role)?, active })
    }

    fn argon2_check(&self, pin: &str, pin_hash: &str) -> bool {
        self.pin_checks.fetch_add(1, Ordering::Relaxed);
        secret::verify_pin(pin, pin_hash)
    }

    /// How many badge-and-PIN checks ran Argon2 since this handle was opened (unknown badges
    /// included): what a guesser got evaluated.
    pub fn pin_checks(&self) -> u64 {
        self.pin_checks.load(Ordering::Relaxed)
    }

    /// Clears a badge's wrong PINs and lock (`user unlock`). An unknown badge is an error: there
    /// is nobody to unlock.
    pub fn unlock_badge(&self, facility: &LicenseNumber, badge: &str) -> Result<(), DbError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        user_by_badge(&tx, facility, badge)?;
        clear(&tx, &BADGE, facility.as_str(), &badge_key(badge))?;
        tx.commit()?;
        Ok(())
    }

    /// Clears a device's wrong badges and PINs and its lock (`device unlock`).
    pub fn unlock_device(&self, device: DeviceId) -> Result<(), DbError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let facility: Option<String> =
            tx.query_row("SELECT facility FROM devices WHERE id = ?1", params![device.to_string()], |r| r.get(0)).optional()?;
        let Some(facility) = facility else {
            return Err(DbError::UnknownDevice(device));
        };
        clear(&tx, &DEVICE, &facility, &device.to_string())?;
        tx.commit()?;
        Ok(())
    }
}

/// Until when a badge is locked, if it is now (for `user list`).
pub(crate) fn badge_locked_until(tx: &Connection, facility: &LicenseNumber, badge: &str) -> Result<Option<DateTime<Utc>>, DbError> {
    locked_until(tx, &BADGE, facility.as_str(), &badge_key(badge), Utc::now())
}

/// Until when a device is locked, if it is now (for `device list`).
pub(crate) fn device_locked_until(tx: &Connection, facility: &LicenseNumber, device: DeviceId) -> Result<Option<DateTime<Utc>>, DbError> {
    locked_until(tx, &DEVICE, facility.as_str(), &device.to_string(), Utc::now())
}

/// Clears a badge's count inside another operation's transaction (e.g. a PIN reset).
pub(crate) fn clear_badge(tx: &Connection, facility: &LicenseNumber, badge: &str) -> Result<(), DbError> {
    clear(tx, &BADGE, facility.as_str(), &badge_key(badge))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_start_at_the_threshold_double_and_stop_at_the_cap() {
        assert_eq!(BADGE.lock_for(4), None);
        assert_eq!(BADGE.lock_for(5), Some(Duration::minutes(1)));
        assert_eq!(BADGE.lock_for(6), Some(Duration::minutes(2)));
        assert_eq!(BADGE.lock_for(15), Some(Duration::minutes(1024)));
        assert_eq!(BADGE.lock_for(16), Some(Duration::hours(24)));
        assert_eq!(BADGE.lock_for(u32::MAX), Some(Duration::hours(24)));
        assert_eq!(DEVICE.lock_for(9), None);
        assert_eq!(DEVICE.lock_for(10), Some(Duration::minutes(1)));
        assert_eq!(ADDRESS.lock_for(17), Some(Duration::hours(1)));
    }

    #[test]
    fn addresses_count_per_ipv4_address_and_per_ipv6_64() {
        let key = |s: &str| address_key(Some(s.parse().unwrap()));
        assert_eq!(key("203.0.113.7"), "203.0.113.7");
        assert_eq!(key("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:bbbb::9"), key("2001:db8:1:2:aaaa::1"));
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
        assert_eq!(address_key(None), "unknown");
    }
}
