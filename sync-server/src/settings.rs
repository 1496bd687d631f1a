//! A facility's settings (issue 13 point 6): the scales with their calibration due dates, the
//! potency tolerance, item categories, locations and adjustment reasons its phones use. Kept
//! here as one document per facility with a revision; changed by the CLI (`custody-server
//! settings ...`), one checked change at a time, each audited with who made it; sent at sync to
//! the facility's own devices only when the phone's revision is older.
//!
//! What a change may say is core's rule (`FacilitySettings::apply`): the server and the phones
//! read the same settings, so the checks are core's, once.

use chrono::Utc;
use custody_core::ids::LicenseNumber;
use custody_core::settings::{FacilitySettings, SettingsChange};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::db::{Db, facility_name, now_text};
use crate::error::DbError;

/// One line of the settings audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsAuditLine {
    pub revision: u64,
    pub change: String,
    pub operator: String,
    pub at: String,
}

/// The facility's settings (core's defaults, revision 0, before any change).
pub(crate) fn settings_in(conn: &Connection, facility: &LicenseNumber) -> Result<FacilitySettings, DbError> {
    let body: Option<String> =
        conn.query_row("SELECT body FROM facility_settings WHERE facility = ?1", params![facility.as_str()], |r| r.get(0)).optional()?;
    Ok(match body {
        Some(body) => serde_json::from_str(&body)?,
        None => FacilitySettings::default(),
    })
}

/// What a sync sends of the settings: all of them when the phone's revision differs from the
/// facility's, nothing when it holds the current one or there have never been any.
pub(crate) fn settings_for_sync(conn: &Connection, facility: &LicenseNumber, revision: u64) -> Result<Option<FacilitySettings>, DbError> {
    let settings = settings_in(conn, facility)?;
    Ok((settings.revision != 0 && settings.revision != revision).then_some(settings))
}

impl Db {
    /// A facility's settings as its phones get them.
    pub fn settings(&self, facility: &LicenseNumber) -> Result<FacilitySettings, DbError> {
        let conn = self.lock();
        if facility_name(&conn, facility)?.is_none() {
            return Err(DbError::UnknownFacility(facility.clone()));
        }
        settings_in(&conn, facility)
    }

    /// Makes one change to a facility's settings, checked by core's rules, and records who made
    /// it: in one transaction, the new settings with the next revision and the audit line. A
    /// refused change (unknown facility, bad input, no operator named) changes nothing.
    pub fn change_settings(&self, facility: &LicenseNumber, change: &SettingsChange, operator: &str) -> Result<FacilitySettings, DbError> {
        let operator = operator.trim();
        if operator.is_empty() {
            return Err(DbError::InvalidInput(
                "say who is making the change (--operator, or the CUSTODY_OPERATOR environment variable): every settings change is logged"
                    .into(),
            ));
        }
        custody_core::text::check(custody_core::text::name("operator's name"), operator)
            .map_err(|e| DbError::InvalidInput(e.to_string()))?;
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if facility_name(&tx, facility)?.is_none() {
            return Err(DbError::UnknownFacility(facility.clone()));
        }
        let mut settings = settings_in(&tx, facility)?;
        settings.apply(change, Utc::now().date_naive()).map_err(|e| DbError::InvalidInput(e.to_string()))?;
        settings.revision += 1;
        let at = now_text();
        tx.execute(
            "INSERT INTO facility_settings (facility, revision, body, changed_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (facility) DO UPDATE SET revision = excluded.revision, body = excluded.body, changed_at = excluded.changed_at",
            params![facility.as_str(), settings.revision as i64, serde_json::to_string(&settings)?, at],
        )?;
        tx.execute(
            "INSERT INTO settings_audit (facility, revision, change, operator, at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![facility.as_str(), settings.revision as i64, change.to_string(), operator, at],
        )?;
        tx.commit()?;
        tracing::info!(facility = %facility, revision = settings.revision, operator, change = %change, "settings changed");
        Ok(settings)
    }

    /// Who changed a facility's settings, oldest first.
    pub fn settings_audit(&self, facility: &LicenseNumber) -> Result<Vec<SettingsAuditLine>, DbError> {
        let conn = self.lock();
        let mut stmt = conn.prepare("SELECT revision, change, operator, at FROM settings_audit WHERE facility = ?1 ORDER BY seq")?;
        let rows = stmt.query_map(params![facility.as_str()], |r| {
            Ok(SettingsAuditLine { revision: r.get::<_, i64>(0)?.max(0) as u64, change: r.get(1)?, operator: r.get(2)?, at: r.get(3)? })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use custody_core::state_json::Tz;
    use rust_decimal::Decimal;

    use super::*;

    fn lic(s: &str) -> LicenseNumber {
        LicenseNumber::parse(s).unwrap()
    }

    fn db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), custody_core::outbound::patient::DataKey::generate()).unwrap();
        db.create_facility(&lic("C11-0000001-LIC"), "North", Tz::America__Los_Angeles).unwrap();
        db.create_facility(&lic("C11-0000002-LIC"), "South", Tz::America__Los_Angeles).unwrap();
        (dir, db)
    }

    fn scale(name: &str, due: &str) -> SettingsChange {
        SettingsChange::AddScale { name: name.into(), calibration_due: due.parse().unwrap() }
    }

    #[test]
    fn each_change_bumps_the_revision_is_audited_and_stays_in_its_facility() {
        let (dir, db) = db();
        let (a, b) = (lic("C11-0000001-LIC"), lic("C11-0000002-LIC"));
        assert_eq!(db.settings(&a).unwrap(), FacilitySettings::default());
        db.change_settings(&a, &scale("Vault scale 1", "2027-03-01"), "ops-ana").unwrap();
        db.change_settings(&a, &SettingsChange::PotencyTolerance(Decimal::new(15, 1)), "ops-ana").unwrap();
        let s = db.change_settings(&a, &SettingsChange::AddReason { name: "Damaged".into(), requires_note: true }, "ops-ben").unwrap();
        assert_eq!(s.revision, 3);
        assert_eq!(s.scales[0].name, "Vault scale 1");
        assert_eq!(s.potency_tolerance, Decimal::new(15, 1));
        assert_eq!(db.settings(&b).unwrap(), FacilitySettings::default(), "facility B's settings are its own");
        let audit = db.settings_audit(&a).unwrap();
        assert_eq!(
            audit.iter().map(|l| (l.revision, l.operator.as_str())).collect::<Vec<_>>(),
            [(1, "ops-ana"), (2, "ops-ana"), (3, "ops-ben")]
        );
        assert!(audit[0].change.contains("Vault scale 1") && audit[0].change.contains("2027-03-01"), "{}", audit[0].change);
        assert!(db.settings_audit(&b).unwrap().is_empty());
        // Kept across a restart.
        drop(db);
        let db = Db::open(dir.path(), custody_core::outbound::patient::DataKey::generate()).unwrap();
        assert_eq!(db.settings(&a).unwrap().revision, 3);
    }

    #[test]
    fn a_sync_gets_the_settings_only_when_its_revision_is_older() {
        let (_dir, db) = db();
        let a = lic("C11-0000001-LIC");
        let conn = db.lock();
        assert_eq!(settings_for_sync(&conn, &a, 0).unwrap(), None, "never set: the phone keeps core's defaults");
        drop(conn);
        db.change_settings(&a, &SettingsChange::AddLocation("Vault A".into()), "ops").unwrap();
        let conn = db.lock();
        assert_eq!(settings_for_sync(&conn, &a, 0).unwrap().map(|s| s.revision), Some(1));
        assert_eq!(settings_for_sync(&conn, &a, 1).unwrap(), None);
    }

    #[test]
    fn bad_input_is_refused_with_a_sentence_and_changes_nothing() {
        let (_dir, db) = db();
        let a = lic("C11-0000001-LIC");
        db.change_settings(&a, &scale("Vault scale 1", "2027-03-01"), "ops").unwrap();
        let before = db.settings(&a).unwrap();
        for (change, operator, says) in [
            (SettingsChange::PotencyTolerance(Decimal::new(-5, 1)), "ops", "negative"),
            (SettingsChange::PotencyTolerance(Decimal::new(101, 0)), "ops", "potency tolerance"),
            (scale("   ", "2027-03-01"), "ops", "scale name"),
            (SettingsChange::RemoveScale { name: "Bench scale".into() }, "ops", "no scale named \"Bench scale\""),
            (SettingsChange::SetCategory { item: "Gummies".into(), category: "".into() }, "ops", "category"),
            (SettingsChange::AddReason { name: " ".into(), requires_note: false }, "ops", "adjustment reason"),
            (SettingsChange::AddLocation("Vault B".into()), "  ", "say who is making the change"),
        ] {
            let err = db.change_settings(&a, &change, operator).unwrap_err();
            assert!(matches!(err, DbError::InvalidInput(_)), "{change:?}: {err:?}");
            assert!(err.to_string().to_lowercase().contains(&says.to_lowercase()), "{change:?}: {err}");
        }
        let err = db.change_settings(&lic("C11-0000009-LIC"), &SettingsChange::AddLocation("Vault B".into()), "ops").unwrap_err();
        assert!(matches!(err, DbError::UnknownFacility(_)), "{err:?}");
        assert_eq!(db.settings(&a).unwrap(), before, "nothing changed");
        assert_eq!(db.settings_audit(&a).unwrap().len(), 1, "refusals are not audited as changes");
    }
}
