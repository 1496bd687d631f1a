//! What the pulls keep of the state's data (decision 0021): the inbound manifest inbox, the
//! latest certificate per batch, the reference lists, the cursors, the faults seen, the active
//! package snapshots, and the facility's revision that phones compare at sync.
//!
//! Every store of a pull is one transaction: what a window brought is kept whole with its cursor,
//! or not at all, and the revision moves only when something a phone sees changed.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDateTime, Utc};
use custody_core::ids::LicenseNumber;
use custody_core::protocol::{FailedWrite, InboxManifest, ReferenceData, StateData, StateStatus};
use custody_core::receiving::manifest::InboundManifest;
use custody_core::work::DocKind;
use custody_core::work::receiving::{self, Coa};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use rust_decimal::Decimal;

use crate::db::{Db, DbError};

/// Where an incoming transfer stands at the state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxStatus {
    /// Packages still shipped: to be received.
    Open,
    /// No package is still shipped and some were accepted (the state's web interface).
    Accepted,
    /// No package is still shipped and none was accepted.
    Rejected,
}

impl InboxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InboxStatus::Open => "open",
            InboxStatus::Accepted => "accepted",
            InboxStatus::Rejected => "rejected",
        }
    }
}

/// One incoming transfer read whole from the state.
#[derive(Debug, Clone)]
pub struct PulledManifest {
    pub transfer_id: Option<i64>,
    pub status: InboxStatus,
    pub manifest: InboundManifest,
}

/// A package in the state's active list, as the snapshot keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotPackage {
    pub label: String,
    pub item: String,
    pub quantity: Decimal,
    pub unit: String,
    pub location: Option<String>,
}

/// A snapshot of the state's active packages: when it was taken, and its packages.
pub type Snapshot = (DateTime<Utc>, Vec<SnapshotPackage>);

/// The text a window bound is stored and sent as: the state's local form, no offset.
pub fn cursor_text(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

fn bump_revision(tx: &Transaction<'_>, facility: &LicenseNumber) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO state_revisions (facility, revision) VALUES (?1, 1)
         ON CONFLICT (facility) DO UPDATE SET revision = revision + 1",
        params![facility.as_str()],
    )?;
    Ok(())
}

fn set_cursor(tx: &Transaction<'_>, facility: &LicenseNumber, endpoint: &str, through: NaiveDateTime) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO state_pull_cursors (facility, endpoint, through) VALUES (?1, ?2, ?3)
         ON CONFLICT (facility, endpoint) DO UPDATE SET through = excluded.through",
        params![facility.as_str(), endpoint, cursor_text(through)],
    )?;
    Ok(())
}

/// Keeps `coa` if it is the batch's first or its latest; whether anything changed.
fn keep_coa(tx: &Transaction<'_>, facility: &LicenseNumber, coa: &Coa, now: &str) -> Result<bool, DbError> {
    let body = serde_json::to_string(coa)?;
    let held: Option<(String, String)> = tx
        .query_row(
            "SELECT tested_on, body FROM state_coas WHERE facility = ?1 AND batch = ?2",
            params![facility.as_str(), coa.batch.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let tested_on = coa.tested_on.to_string();
    match held {
        Some((_, held_body)) if held_body == body => Ok(false),
        // An older test than the one kept: the newer stays.
        Some((held_on, _)) if held_on > tested_on => Ok(false),
        _ => {
            tx.execute(
                "INSERT INTO state_coas (facility, batch, tested_on, body, pulled_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (facility, batch) DO UPDATE SET tested_on = excluded.tested_on, body = excluded.body, pulled_at = excluded.pulled_at",
                params![facility.as_str(), coa.batch.as_str(), tested_on, body, now],
            )?;
            Ok(true)
        }
    }
}

/// Closes the state-acceptance task ("accept manifest N in the state system") of every completed
/// receiving session of that manifest, now that the state shows it accepted: a change the
/// server makes and signs itself. How many it closed.
fn close_state_tasks(tx: &Transaction<'_>, db: &Db, facility: &LicenseNumber, manifest: &str) -> Result<usize, DbError> {
    let ids: Vec<String> = tx
        .prepare("SELECT id FROM docs WHERE facility = ?1 AND kind = ?2")?
        .query_map(params![facility.as_str(), DocKind::Receiving.as_str()], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut closed = 0;
    for id in ids {
        let id: uuid::Uuid = crate::db::parse_col("document id", &id)?;
        let Some(mut doc) = crate::docs::engine::load_for_check(tx, db, facility, id)? else { continue };
        let ours = receiving::manifest(&doc).is_ok_and(|m| m.manifest_number == manifest);
        if !ours || receiving::state_task_open(&doc).ok().flatten() != Some(true) {
            continue;
        }
        let before = doc.heads();
        receiving::confirm_state_task(&mut doc)
            .map_err(|e| DbError::Corrupt { what: "receiving document", value: format!("{id}: {e}") })?;
        crate::docs::engine::store_server_change(tx, db, &mut doc, &before)?;
        tracing::info!(%facility, manifest, doc = %id, "state-acceptance task closed: the state shows the manifest accepted");
        closed += 1;
    }
    Ok(closed)
}

impl Db {
    /// The end of the last window of `endpoint` read whole for the facility.
    pub fn pull_cursor(&self, facility: &LicenseNumber, endpoint: &str) -> Result<Option<NaiveDateTime>, DbError> {
        let text: Option<String> = self
            .lock()
            .query_row(
                "SELECT through FROM state_pull_cursors WHERE facility = ?1 AND endpoint = ?2",
                params![facility.as_str(), endpoint],
                |r| r.get(0),
            )
            .optional()?;
        text.map(|t| NaiveDateTime::parse_from_str(&t, "%Y-%m-%dT%H:%M:%S").map_err(|_| DbError::Corrupt { what: "pull cursor", value: t }))
            .transpose()
    }

    /// Keeps what one window of incoming transfers brought, with their certificates, and moves
    /// the cursor to `through`, in one transaction. A manifest replaces its earlier pull; one that
    /// left the inbox (accepted or rejected at the state) stays out of it. Whether phones will
    /// see a change.
    pub fn pull_store_manifests(
        &self,
        facility: &LicenseNumber,
        endpoint: &str,
        through: NaiveDateTime,
        manifests: &[PulledManifest],
        coas: &[Coa],
    ) -> Result<bool, DbError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now = crate::db::now_text();
        let mut changed = false;
        for pulled in manifests {
            let m = &pulled.manifest;
            let body = serde_json::to_string(m)?;
            let batches: BTreeSet<&str> =
                m.packages.iter().filter_map(|p| p.production_batch_number.as_ref().map(|b| b.as_str())).collect();
            let batches = batches.into_iter().collect::<Vec<_>>().join(" ");
            let held: Option<(String, String)> = tx
                .query_row(
                    "SELECT status, body FROM state_inbox WHERE facility = ?1 AND manifest = ?2",
                    params![facility.as_str(), m.manifest_number],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let status = pulled.status.as_str();
            if held.as_ref().is_some_and(|(s, b)| s == status && *b == body) {
                continue;
            }
            let closed_at = (pulled.status != InboxStatus::Open).then(|| now.clone());
            tx.execute(
                "INSERT INTO state_inbox (facility, manifest, transfer_id, status, body, batches, pulled_at, closed_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (facility, manifest) DO UPDATE SET transfer_id = excluded.transfer_id, status = excluded.status,
                   body = excluded.body, batches = excluded.batches, pulled_at = excluded.pulled_at,
                   closed_at = COALESCE(state_inbox.closed_at, excluded.closed_at)",
                params![facility.as_str(), m.manifest_number, pulled.transfer_id, status, body, batches, now, closed_at],
            )?;
            if pulled.status != InboxStatus::Open {
                tracing::info!(%facility, manifest = %m.manifest_number, status, "manifest left the inbox: the state shows it handled");
            }
            if pulled.status == InboxStatus::Accepted {
                close_state_tasks(&tx, self, facility, &m.manifest_number)?;
            }
            changed = true;
        }
        for coa in coas {
            changed |= keep_coa(&tx, facility, coa, &now)?;
        }
        set_cursor(&tx, facility, endpoint, through)?;
        if changed {
            bump_revision(&tx, facility)?;
        }
        tx.commit()?;
        Ok(changed)
    }

    /// Moves a cursor on without anything to keep (an empty window).
    pub fn pull_advance(&self, facility: &LicenseNumber, endpoint: &str, through: NaiveDateTime) -> Result<(), DbError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        set_cursor(&tx, facility, endpoint, through)?;
        tx.commit()?;
        Ok(())
    }

    /// Replaces the facility's reference lists; whether they changed.
    pub fn pull_store_reference(&self, facility: &LicenseNumber, reference: &ReferenceData) -> Result<bool, DbError> {
        let body = serde_json::to_string(reference)?;
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let held: Option<String> =
            tx.query_row("SELECT body FROM state_reference WHERE facility = ?1", params![facility.as_str()], |r| r.get(0)).optional()?;
        if held.as_deref() == Some(body.as_str()) {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO state_reference (facility, body, pulled_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (facility) DO UPDATE SET body = excluded.body, pulled_at = excluded.pulled_at",
            params![facility.as_str(), body, crate::db::now_text()],
        )?;
        bump_revision(&tx, facility)?;
        tx.commit()?;
        Ok(true)
    }

    /// Records something wrong in what the state sent (refused, nothing of it kept).
    pub fn pull_fault(&self, facility: &LicenseNumber, endpoint: &str, record: &str, message: &str) -> Result<(), DbError> {
        self.lock().execute(
            "INSERT INTO state_pull_faults (facility, endpoint, record, message, at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![facility.as_str(), endpoint, record, message, crate::db::now_text()],
        )?;
        Ok(())
    }

    /// The faults recorded for a facility, oldest first, as (endpoint, record, message).
    pub fn pull_faults(&self, facility: &LicenseNumber) -> Result<Vec<(String, String, String)>, DbError> {
        let conn = self.lock();
        let mut stmt = conn.prepare("SELECT endpoint, record, message FROM state_pull_faults WHERE facility = ?1 ORDER BY seq")?;
        let rows = stmt.query_map(params![facility.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A whole pull of the facility went through.
    pub fn pull_done(&self, facility: &LicenseNumber, at: DateTime<Utc>) -> Result<(), DbError> {
        self.lock().execute(
            "INSERT INTO state_revisions (facility, revision, last_pull_at) VALUES (?1, 0, ?2)
             ON CONFLICT (facility) DO UPDATE SET last_pull_at = excluded.last_pull_at",
            params![facility.as_str(), crate::db::time_text(at)],
        )?;
        Ok(())
    }

    /// When the facility's last whole pull went through.
    pub fn last_pull_at(&self, facility: &LicenseNumber) -> Result<Option<DateTime<Utc>>, DbError> {
        last_pull_at(&self.lock(), facility)
    }

    /// The inbox's manifests of a facility with their status, for the console and tests.
    pub fn inbox(&self, facility: &LicenseNumber) -> Result<Vec<(String, String)>, DbError> {
        let conn = self.lock();
        let mut stmt = conn.prepare("SELECT manifest, status FROM state_inbox WHERE facility = ?1 ORDER BY manifest")?;
        let rows = stmt.query_map(params![facility.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Keeps one dated snapshot of the state's active packages (for reconciliation).
    pub fn store_package_snapshot(
        &self,
        facility: &LicenseNumber,
        taken_at: DateTime<Utc>,
        packages: &[SnapshotPackage],
    ) -> Result<(), DbError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let at = crate::db::time_text(taken_at);
        {
            let mut stmt = tx.prepare(
                "INSERT OR REPLACE INTO state_package_snapshots (facility, taken_at, label, item, quantity, unit, location)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for p in packages {
                stmt.execute(params![facility.as_str(), at, p.label, p.item, p.quantity.to_string(), p.unit, p.location])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The latest snapshot of the facility's active packages: when it was taken, and its rows.
    pub fn latest_package_snapshot(&self, facility: &LicenseNumber) -> Result<Option<Snapshot>, DbError> {
        let conn = self.lock();
        let at: Option<String> = conn
            .query_row("SELECT MAX(taken_at) FROM state_package_snapshots WHERE facility = ?1", params![facility.as_str()], |r| {
                r.get::<_, Option<String>>(0)
            })
            .optional()?
            .flatten();
        let Some(at) = at else { return Ok(None) };
        let mut stmt = conn.prepare(
            "SELECT label, item, quantity, unit, location FROM state_package_snapshots WHERE facility = ?1 AND taken_at = ?2 ORDER BY label",
        )?;
        let rows = stmt.query_map(params![facility.as_str(), at], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?, r.get(4)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (label, item, quantity, unit, location) = row?;
            let quantity = crate::db::parse_col("snapshot quantity", &quantity)?;
            out.push(SnapshotPackage { label, item, quantity, unit, location });
        }
        Ok(Some((crate::db::parse_time(&at)?, out)))
    }
}

fn last_pull_at(conn: &Connection, facility: &LicenseNumber) -> Result<Option<DateTime<Utc>>, DbError> {
    let at: Option<String> = conn
        .query_row("SELECT last_pull_at FROM state_revisions WHERE facility = ?1", params![facility.as_str()], |r| {
            r.get::<_, Option<String>>(0)
        })
        .optional()?
        .flatten();
    at.map(|t| crate::db::parse_time(&t)).transpose()
}

/// The state's data for a facility's phones when it differs from the `revision` a phone holds;
/// `None` when it is the same, or nothing was ever pulled.
pub(crate) fn state_for_sync(conn: &Connection, facility: &LicenseNumber, revision: u64) -> Result<Option<StateData>, DbError> {
    let current: Option<i64> =
        conn.query_row("SELECT revision FROM state_revisions WHERE facility = ?1", params![facility.as_str()], |r| r.get(0)).optional()?;
    let current = current.unwrap_or(0).max(0) as u64;
    if current == 0 || current == revision {
        return Ok(None);
    }
    let mut manifests = Vec::new();
    {
        let mut stmt = conn
            .prepare_cached("SELECT body, batches, pulled_at FROM state_inbox WHERE facility = ?1 AND status = 'open' ORDER BY manifest")?;
        let rows =
            stmt.query_map(params![facility.as_str()], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?;
        let mut coa_stmt = conn.prepare_cached("SELECT body FROM state_coas WHERE facility = ?1 AND batch = ?2")?;
        for row in rows {
            let (body, batches, pulled_at) = row?;
            let manifest: InboundManifest = serde_json::from_str(&body)?;
            let mut coas = Vec::new();
            for batch in batches.split(' ').filter(|b| !b.is_empty()) {
                let coa: Option<String> = coa_stmt.query_row(params![facility.as_str(), batch], |r| r.get(0)).optional()?;
                if let Some(coa) = coa {
                    coas.push(serde_json::from_str::<Coa>(&coa)?);
                }
            }
            manifests.push(InboxManifest { manifest, coas, pulled_at: crate::db::parse_time(&pulled_at)? });
        }
    }
    let reference: Option<String> =
        conn.query_row("SELECT body FROM state_reference WHERE facility = ?1", params![facility.as_str()], |r| r.get(0)).optional()?;
    let reference: ReferenceData = match reference {
        Some(r) => serde_json::from_str(&r)?,
        None => ReferenceData::default(),
    };
    Ok(Some(StateData { revision: current, manifests, reference }))
}

/// How the facility's submissions stand, for a manager's phone; `None` when it never had a
/// connection to a state system.
pub(crate) fn status_for_sync(conn: &Connection, facility: &LicenseNumber) -> Result<Option<StateStatus>, DbError> {
    let status = crate::state::outbox::outbox_status(conn, facility)?;
    let Some(connection) = status.connection else { return Ok(None) };
    let oldest: Option<String> = conn.query_row(
        "SELECT MIN(created_at) FROM state_outbox WHERE facility = ?1 AND status IN ('queued', 'awaiting')",
        params![facility.as_str()],
        |r| r.get(0),
    )?;
    let failed = status
        .failed_writes
        .iter()
        .map(|w| {
            Ok(FailedWrite {
                seq: w.seq,
                kind: w.kind.to_string(),
                packages: w
                    .packages
                    .iter()
                    .map(|p| {
                        custody_core::ids::PackageTag::parse(p).map_err(|_| DbError::Corrupt { what: "package tag", value: p.clone() })
                    })
                    .collect::<Result<Vec<_>, DbError>>()?,
                message: w.message.clone().unwrap_or_default(),
                queued_at: w.created_at,
            })
        })
        .collect::<Result<Vec<_>, DbError>>()?;
    Ok(Some(StateStatus {
        connected: connection.connected && connection.stopped.is_none(),
        stopped: connection.stopped,
        key_warning: connection.warning,
        queued: (status.queued + status.submitted).max(0) as u64,
        oldest_queued_at: oldest.map(|t| crate::db::parse_time(&t)).transpose()?,
        unapproved: status.unapproved.max(0) as u64,
        failed,
        last_pull_at: last_pull_at(conn, facility)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use custody_core::ids::BatchNumber;
    use custody_core::outbound::patient::DataKey;
    use custody_core::state_json::Tz;
    use serde_json::json;

    fn coa(tested: &str, thc: i64) -> Coa {
        Coa {
            batch: BatchNumber::parse("BD-1").unwrap(),
            lab: "Pacific Analytics".into(),
            thc_percent: Decimal::new(thc, 1),
            passed: true,
            tested_on: tested.parse().unwrap(),
            expires_on: "2027-12-01".parse().unwrap(),
        }
    }

    fn revision(db: &Db, l: &LicenseNumber) -> u64 {
        state_for_sync(&db.lock(), l, 0).unwrap().map_or(0, |s| s.revision)
    }

    #[test]
    fn the_latest_certificate_is_kept_and_the_revision_moves_only_on_a_change() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), DataKey::generate()).unwrap();
        let l = LicenseNumber::parse("C11-0000001-LIC").unwrap();
        db.create_facility(&l, "Warehouse", Tz::America__Los_Angeles).unwrap();
        assert_eq!(state_for_sync(&db.lock(), &l, 0).unwrap(), None, "nothing pulled: nothing to send");
        let manifest = InboundManifest::from_state(
            &json!({"ManifestNumber": "0000000001", "ShipperFacilityLicenseNumber": "C11-0000777-LIC",
                    "RecipientFacilityLicenseNumber": "C11-0000001-LIC",
                    "Packages": [{"PackageLabel": "1A4FF0300000022000001001", "ItemName": "Flower", "ShippedQuantity": 1,
                                  "ShippedUnitOfMeasureName": "Each", "ProductionBatchNumber": "BD-1"}]}),
            &l,
            Some(Tz::America__Los_Angeles),
        )
        .unwrap();
        let pulled = PulledManifest { transfer_id: Some(1), status: InboxStatus::Open, manifest };
        let at = Utc::now().naive_utc();
        assert!(db.pull_store_manifests(&l, "t", at, std::slice::from_ref(&pulled), &[coa("2026-11-10", 200)]).unwrap());
        let first = revision(&db, &l);
        assert!(first > 0);
        assert_eq!(db.pull_cursor(&l, "t").unwrap(), Some(NaiveDateTime::parse_from_str(&cursor_text(at), "%Y-%m-%dT%H:%M:%S").unwrap()));
        // The same again, and an older test of the batch: no change.
        assert!(!db.pull_store_manifests(&l, "t", at, std::slice::from_ref(&pulled), &[coa("2026-10-01", 150)]).unwrap());
        assert_eq!(revision(&db, &l), first);
        // A newer test replaces it.
        assert!(db.pull_store_manifests(&l, "t", at, std::slice::from_ref(&pulled), &[coa("2026-11-20", 210)]).unwrap());
        let state = state_for_sync(&db.lock(), &l, first).unwrap().expect("changed");
        assert_eq!(state.manifests[0].coas, vec![coa("2026-11-20", 210)]);
        assert_eq!(state_for_sync(&db.lock(), &l, state.revision).unwrap(), None, "the phone holds the latest");
        // Accepted at the state: it leaves what phones get.
        let accepted = PulledManifest { status: InboxStatus::Accepted, ..pulled };
        assert!(db.pull_store_manifests(&l, "t", at, &[accepted], &[]).unwrap());
        assert!(state_for_sync(&db.lock(), &l, state.revision).unwrap().unwrap().manifests.is_empty());
        assert_eq!(db.inbox(&l).unwrap(), vec![("0000000001".to_string(), "accepted".to_string())]);
    }
}
