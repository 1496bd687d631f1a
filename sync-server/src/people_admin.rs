//! The people of a facility, by badge, for the admin commands: list, deactivate, reset a PIN.
//! Unlocking a badge is in [`crate::lockout`].

use chrono::{DateTime, Utc};
use custody_core::ids::{LicenseNumber, UserId};
use custody_core::roles::Role;
use rusqlite::{TransactionBehavior, params};

use crate::db::{Db, DbError, facility_name, parse_col};
use crate::lockout::{self, Person};
use crate::secret;

/// One person, for `user list`: never their PIN hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    pub id: UserId,
    pub name: String,
    pub badge: String,
    pub role: Role,
    pub active: bool,
    /// Set while too many wrong PINs keep the badge locked.
    pub locked_until: Option<DateTime<Utc>>,
}

impl Db {
    /// Everyone on the facility's roster, deactivated people included, by name.
    pub fn list_users(&self, facility: &LicenseNumber) -> Result<Vec<UserInfo>, DbError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        if facility_name(&tx, facility)?.is_none() {
            return Err(DbError::UnknownFacility(facility.clone()));
        }
        let rows: Vec<(String, String, String, String, bool)> = tx
            .prepare("SELECT id, name, badge, role, active FROM users WHERE facility = ?1 ORDER BY name, id")?
            .query_map(params![facility.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))?
            .collect::<Result<_, _>>()?;
        let mut users = Vec::with_capacity(rows.len());
        for (id, name, badge, role, active) in rows {
            users.push(UserInfo {
                id: parse_col("user id", &id)?,
                locked_until: lockout::badge_locked_until(&tx, facility, &badge)?,
                name,
                badge,
                role: parse_col("role", &role)?,
                active,
            });
        }
        Ok(users)
    }

    /// Deactivates the person with `badge`: they stay on the roster (their past events name
    /// them), the server rejects their new events, and phones sign them out at their next sync.
    /// Deactivating twice is harmless. Returns who it was.
    pub fn deactivate_badge(&self, facility: &LicenseNumber, badge: &str) -> Result<Person, DbError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let person = lockout::user_by_badge(&tx, facility, badge)?;
        crate::people::deactivate_in(&tx, person.id)?;
        tx.commit()?;
        Ok(Person { active: false, ..person })
    }

    /// Gives the person with `badge` a new PIN (4 to 12 digits, kept only as Argon2), clears
    /// their badge's lockout and revokes their keys: every phone forgets them at its next sync,
    /// and they sign in online with the new PIN.
    pub fn reset_pin(&self, facility: &LicenseNumber, badge: &str, pin: &str) -> Result<Person, DbError> {
        // Hash before taking the lock: Argon2 is deliberately slow.
        let pin_hash = secret::hash_pin(pin)?;
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let person = lockout::user_by_badge(&tx, facility, badge)?;
        crate::people::reset_pin_in(&tx, facility, person.id, &pin_hash)?;
        tx.commit()?;
        Ok(person)
    }
}
