//! Outbound on the server: the customer list and the facility's unused tags, orders entered in
//! the office, the checks that keep a package on at most one open order and one open manifest,
//! who a route belongs to, and patient data (sealed at rest, sent only to managers and the
//! route's driver, every access logged).

use std::collections::BTreeSet;

use custody_core::fold::Inventory;
use custody_core::ids::{LicenseNumber, PackageTag, UserId};
use custody_core::outbound::picklist::Candidate;
use custody_core::outbound::plan::{ExistingOrder, OrderFacts, plan_order};
use custody_core::outbound::{Customer, NewOrder, Patient};
use custody_core::protocol::{PatientRecord, RosterEntry, SyncRequest};
use custody_core::roles::Role;
use custody_core::work::order::OrderStatus;
use custody_core::work::{DocKind, WorkDoc, manifest as mdoc, order as odoc};
use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

use crate::db::{AuthedDevice, Db, DbError, now_text, parse_col};

pub(crate) fn customers(conn: &Connection, facility: &LicenseNumber) -> Result<Vec<Customer>, DbError> {
    let mut stmt = conn.prepare_cached("SELECT licence, name, address FROM customers WHERE facility = ?1 ORDER BY name, licence")?;
    let rows =
        stmt.query_map(params![facility.as_str()], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?;
    rows.map(|row| {
        let (licence, name, address) = row?;
        Ok(Customer { licence: parse_col("customer licence", &licence)?, name, address })
    })
    .collect()
}

/// Tags from the pool not yet used by any accepted event of the facility.
pub(crate) fn unused_tags(conn: &Connection, facility: &LicenseNumber) -> Result<Vec<PackageTag>, DbError> {
    let mut stmt = conn.prepare_cached("SELECT tag FROM tag_pool WHERE facility = ?1 AND used = 0 ORDER BY tag LIMIT 500")?;
    let rows = stmt.query_map(params![facility.as_str()], |r| r.get::<_, String>(0))?;
    rows.map(|t| parse_col("tag", &t?)).collect()
}

/// Marks the pool's tags an accepted event uses (a tag received, or split into).
pub(crate) fn mark_tags_used(conn: &Connection, facility: &LicenseNumber, event: &custody_core::Event) -> Result<(), DbError> {
    for tag in event.tags() {
        conn.prepare_cached("UPDATE tag_pool SET used = 1 WHERE facility = ?1 AND tag = ?2 AND used = 0")?
            .execute(params![facility.as_str(), tag.as_str()])?;
    }
    Ok(())
}

/// Tags added to the pool that events already used (added late, or twice by mistake).
fn mark_existing_uses(conn: &Connection, facility: &LicenseNumber) -> Result<(), DbError> {
    conn.execute(
        "UPDATE tag_pool SET used = 1 WHERE facility = ?1 AND used = 0
         AND (EXISTS (SELECT 1 FROM events e WHERE e.facility = tag_pool.facility AND e.tag = tag_pool.tag)
              OR EXISTS (SELECT 1 FROM events e WHERE e.facility = tag_pool.facility AND e.kind = 'split'
                         AND json_extract(e.json, '$.body.new_tag') = tag_pool.tag))",
        params![facility.as_str()],
    )?;
    Ok(())
}

fn claims_of(doc: &WorkDoc) -> Result<Vec<PackageTag>, String> {
    match doc.kind {
        DocKind::Order => odoc::claims(doc).map_err(|e| e.to_string()),
        DocKind::Manifest => mdoc::claims(doc).map_err(|e| e.to_string()),
        _ => Ok(Vec::new()),
    }
}

fn claim_kind(kind: DocKind) -> &'static str {
    if kind == DocKind::Order { "order" } else { "manifest" }
}

/// Checks an order or manifest after a device's changes merged: who wrote what (the core
/// audits), that no package is held by another open order (or manifest), and that split tags
/// come from the facility's pool. `Ok(Err(reason))` refuses the device's message.
pub(crate) fn audit(
    conn: &Connection,
    facility: &LicenseNumber,
    doc: &WorkDoc,
    roster: &[RosterEntry],
) -> Result<Result<(), String>, DbError> {
    let audited = match doc.kind {
        DocKind::Order => odoc::audit(doc, roster),
        DocKind::Manifest => mdoc::audit(doc, roster),
        _ => return Ok(Ok(())),
    };
    match audited {
        Ok(Some(reason)) => return Ok(Err(reason)),
        Err(e) => return Ok(Err(format!("this {} cannot be read: {e}", doc.kind))),
        Ok(None) => {}
    }
    let claims = match claims_of(doc) {
        Ok(c) => c,
        Err(e) => return Ok(Err(format!("this {} cannot be read: {e}", doc.kind))),
    };
    let kind = claim_kind(doc.kind);
    // A truck that left is a fact, not a plan: its driver's record is never refused because
    // the office meanwhile cancelled the manifest and planned the packages onto another one.
    // That other manifest gives way (see `after_persist`), and its phone will not depart with
    // packages the ledger says already left.
    if doc.kind == DocKind::Manifest && mdoc::departed(doc).ok().flatten().is_some() {
        return Ok(Ok(()));
    }
    for tag in &claims {
        let holder: Option<String> = conn
            .prepare_cached("SELECT doc_id FROM claims WHERE facility = ?1 AND kind = ?2 AND tag = ?3 AND doc_id <> ?4")?
            .query_row(params![facility.as_str(), kind, tag.as_str(), doc.id.to_string()], |r| r.get(0))
            .optional()?;
        if let Some(other) = holder {
            let name = holder_name(conn, &other)?;
            let fix = if doc.kind == DocKind::Order { "regenerate the pick list" } else { "cancel this manifest and plan it again" };
            return Ok(Err(format!("{tag} is already on {name}; {fix}")));
        }
    }
    if doc.kind == DocKind::Order {
        let pool: BTreeSet<String> = {
            let mut stmt = conn.prepare_cached("SELECT tag FROM tag_pool WHERE facility = ?1")?;
            stmt.query_map(params![facility.as_str()], |r| r.get(0))?.collect::<Result<_, _>>()?
        };
        let list = odoc::pick_list(doc).ok().flatten().unwrap_or_default();
        if let Some(bad) = list.iter().filter_map(|p| p.split_into.as_ref()).find(|t| !pool.contains(t.as_str())) {
            return Ok(Err(format!("{bad} is not one of this facility's unused tags; a split needs a tag from the state")));
        }
    }
    Ok(Ok(()))
}

fn holder_name(conn: &Connection, doc_id: &str) -> Result<String, DbError> {
    let kind: Option<String> = conn.query_row("SELECT kind FROM docs WHERE id = ?1", [doc_id], |r| r.get(0)).optional()?;
    Ok(match kind.as_deref() {
        Some("order") => format!("another open order ({doc_id})"),
        _ => format!("another open manifest ({doc_id})"),
    })
}

/// After an order or manifest was stored: its claims and, for a route, its driver.
pub(crate) fn after_persist(conn: &Connection, facility: &LicenseNumber, doc: &WorkDoc) -> Result<(), DbError> {
    if !matches!(doc.kind, DocKind::Order | DocKind::Manifest) {
        return Ok(());
    }
    let id = doc.id.to_string();
    conn.prepare_cached("DELETE FROM claims WHERE doc_id = ?1")?.execute([&id])?;
    // A departed manifest takes its packages' claims over from any plan that holds them.
    let departed = doc.kind == DocKind::Manifest && mdoc::departed(doc).ok().flatten().is_some();
    let insert = if departed {
        "INSERT OR REPLACE INTO claims (facility, kind, tag, doc_id) VALUES (?1, ?2, ?3, ?4)"
    } else {
        "INSERT OR IGNORE INTO claims (facility, kind, tag, doc_id) VALUES (?1, ?2, ?3, ?4)"
    };
    for tag in claims_of(doc).unwrap_or_default() {
        conn.prepare_cached(insert)?.execute(params![facility.as_str(), claim_kind(doc.kind), tag.as_str(), id])?;
    }
    if doc.kind == DocKind::Manifest {
        let driver = mdoc::driver(doc).ok().flatten().map(|u| u.to_string());
        conn.prepare_cached("UPDATE docs SET audience = ?2 WHERE id = ?1")?.execute(params![id, driver])?;
    }
    Ok(())
}

fn log_access(
    conn: &Connection,
    facility: &LicenseNumber,
    order: Uuid,
    user: &RosterEntry,
    device: Option<&AuthedDevice>,
    action: &str,
    at: &str,
) -> Result<(), DbError> {
    conn.prepare_cached(
        "INSERT INTO patient_access (facility, order_id, user, user_name, device, action, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        facility.as_str(),
        order.to_string(),
        user.id.to_string(),
        user.name,
        device.map(|d| d.id.to_string()),
        action,
        at
    ])?;
    Ok(())
}

/// What the patient half of a sync answers: records for the device, uploads kept.
pub(crate) struct PatientRound {
    pub records: Vec<PatientRecord>,
    pub stored: Vec<Uuid>,
}

/// The patient half of a sync: store what a manager's phone entered (once its order document
/// is here: a new document's content often arrives only in the sync's second round, so an
/// upload not yet kept is not acknowledged and the phone sends it again), log the device's
/// openings, and return what the signed-in person may hold and the device lacks.
pub(crate) fn sync_patients(
    conn: &Connection,
    db: &Db,
    device: &AuthedDevice,
    reader: Option<&RosterEntry>,
    roster: &[RosterEntry],
    request: &SyncRequest,
) -> Result<PatientRound, DbError> {
    let mut stored = Vec::new();
    let now = now_text();
    for view in &request.patient_views {
        // A line is logged only as what the person it names signed on this device: nobody can
        // put an opening in someone else's name, and a purpose that could fake a line is refused.
        let Some(who) = roster.iter().find(|p| p.id == view.user) else {
            tracing::warn!(device = %device.id, order = %view.order, "patient view names someone not on the roster; not logged");
            continue;
        };
        let signed = match &view.signature {
            Some(signature) => matches!(
                crate::people::check_key(conn, view.user, device.id, &view.signed_bytes(device.id), signature)?,
                crate::people::KeyCheck::Verified | crate::people::KeyCheck::Revoked(_)
            ),
            None => false,
        };
        if !signed || custody_core::outbound::shipping::PatientView::check_purpose(&view.purpose).is_err() {
            tracing::warn!(device = %device.id, order = %view.order, "patient view not signed by the person it names; not logged");
            continue;
        }
        let action = format!("viewed on device at {}: {}", view.at.to_rfc3339(), view.purpose);
        log_access(conn, &device.facility, view.order, who, Some(device), &action, &now)?;
    }
    let Some(reader) = reader else { return Ok(PatientRound { records: Vec::new(), stored }) };
    if reader.role == Role::Manager {
        for up in &request.patients {
            if let Err(e) = up.patient.validate() {
                tracing::info!(device = %device.id, order = %up.order, error = %e, "patient record refused");
                continue;
            }
            // Only for an order of this facility (the order document arrives in the same round).
            let facility_ok: bool = conn
                .query_row(
                    "SELECT facility = ?2 FROM docs WHERE id = ?1 AND kind = 'order'",
                    params![up.order.to_string(), device.facility.as_str()],
                    |r| r.get(0),
                )
                .optional()?
                .unwrap_or(false);
            if !facility_ok {
                tracing::info!(device = %device.id, order = %up.order, "patient record waits for its order document");
                continue;
            }
            conn.prepare_cached(
                "INSERT INTO patients (order_id, facility, sealed, entered_by, entered_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (order_id) DO UPDATE SET sealed = excluded.sealed, entered_by = excluded.entered_by, entered_at = excluded.entered_at",
            )?
            .execute(params![up.order.to_string(), device.facility.as_str(), db.data_key.seal(up.order, &up.patient), reader.id.to_string(), now])?;
            log_access(conn, &device.facility, up.order, reader, Some(device), "entered", &now)?;
            stored.push(up.order);
        }
    }
    let orders: Vec<Uuid> = match reader.role {
        Role::Manager => {
            let mut stmt = conn.prepare_cached("SELECT order_id FROM patients WHERE facility = ?1")?;
            stmt.query_map([device.facility.as_str()], |r| r.get::<_, String>(0))?
                .map(|id| parse_col("order id", &id?))
                .collect::<Result<_, _>>()?
        }
        Role::Driver => {
            // The orders on this driver's open routes.
            let ids: Vec<String> = {
                let mut stmt = conn.prepare_cached("SELECT id FROM docs WHERE facility = ?1 AND kind = 'manifest' AND audience = ?2")?;
                stmt.query_map(params![device.facility.as_str(), reader.id.to_string()], |r| r.get(0))?.collect::<Result<_, _>>()?
            };
            let mut out = Vec::new();
            for id in ids {
                let Some(doc) = crate::docs::engine::load_for_check(conn, db, &device.facility, parse_col("document id", &id)?)? else {
                    continue;
                };
                if mdoc::closed(&doc).unwrap_or(true) {
                    continue;
                }
                if let Ok(m) = mdoc::manifest(&doc) {
                    out.extend(m.stops.iter().filter(|s| s.patient_ref.is_some()).map(|s| s.order));
                }
            }
            out
        }
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    for order in orders.into_iter().filter(|o| !request.holds_patients.contains(o) && !stored.contains(o)) {
        let sealed: Option<Vec<u8>> = conn
            .prepare_cached("SELECT sealed FROM patients WHERE order_id = ?1 AND facility = ?2")?
            .query_row(params![order.to_string(), device.facility.as_str()], |r| r.get(0))
            .optional()?;
        let Some(sealed) = sealed else { continue };
        match db.data_key.open(order, &sealed) {
            Ok(patient) => {
                log_access(conn, &device.facility, order, reader, Some(device), "sent to device", &now)?;
                out.push(PatientRecord { order, patient });
            }
            Err(e) => tracing::error!(order = %order, error = %e, "stored patient data does not open with the data key"),
        }
    }
    Ok(PatientRound { records: out, stored })
}

/// Packages held for an adjustment request still waiting for a decision (as phones count them).
fn on_hold(conn: &Connection, db: &Db, facility: &LicenseNumber) -> Result<BTreeSet<PackageTag>, DbError> {
    let ids: Vec<String> = {
        let mut stmt = conn.prepare("SELECT id FROM docs WHERE facility = ?1 AND kind = 'adjustment'")?;
        stmt.query_map([facility.as_str()], |r| r.get(0))?.collect::<Result<_, _>>()?
    };
    let mut held = BTreeSet::new();
    for id in ids {
        if let Some(doc) = crate::docs::engine::load_for_check(conn, db, facility, parse_col("document id", &id)?)?
            && let Ok(request) = custody_core::work::adjustment::read(&doc)
            && request.status() == custody_core::work::adjustment::AdjustmentStatus::Pending
        {
            held.insert(request.request.tag);
        }
    }
    Ok(held)
}

/// One line of the patient-data access log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AccessLine {
    pub order: String,
    pub user: String,
    pub user_name: String,
    pub device: Option<String>,
    pub action: String,
    pub at: String,
}

impl Db {
    pub fn add_customer(&self, facility: &LicenseNumber, customer: &Customer) -> Result<(), DbError> {
        if customer.name.trim().is_empty() || customer.address.trim().is_empty() {
            return Err(DbError::InvalidInput("a customer needs a name and an address".into()));
        }
        // Core's rules, the same the phones apply to what they receive and print.
        let customer = Customer {
            licence: customer.licence.clone(),
            name: crate::db::clean_text(custody_core::text::organisation("customer's name"), &customer.name)?,
            address: crate::db::clean_text(custody_core::text::address("customer's address"), &customer.address)?,
        };
        customer.validate().map_err(|e| DbError::InvalidInput(e.to_string()))?;
        let conn = self.lock();
        crate::db::facility_name(&conn, facility)?.ok_or_else(|| DbError::UnknownFacility(facility.clone()))?;
        conn.execute(
            "INSERT INTO customers (facility, licence, name, address) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (facility, licence) DO UPDATE SET name = excluded.name, address = excluded.address",
            params![facility.as_str(), customer.licence.as_str(), customer.name, customer.address],
        )?;
        Ok(())
    }

    pub fn customers(&self, facility: &LicenseNumber) -> Result<Vec<Customer>, DbError> {
        customers(&self.lock(), facility)
    }

    /// Adds tags the facility received from the state; returns how many were new.
    pub fn add_tags(&self, facility: &LicenseNumber, tags: &[PackageTag]) -> Result<usize, DbError> {
        let mut conn = self.lock();
        crate::db::facility_name(&conn, facility)?.ok_or_else(|| DbError::UnknownFacility(facility.clone()))?;
        let tx = conn.transaction()?;
        let now = now_text();
        let mut added = 0;
        for tag in tags {
            added += tx.execute(
                "INSERT OR IGNORE INTO tag_pool (facility, tag, added_at) VALUES (?1, ?2, ?3)",
                params![facility.as_str(), tag.as_str(), now],
            )?;
        }
        mark_existing_uses(&tx, facility)?;
        tx.commit()?;
        Ok(added)
    }

    pub fn unused_tags(&self, facility: &LicenseNumber) -> Result<Vec<PackageTag>, DbError> {
        unused_tags(&self.lock(), facility)
    }

    /// Every access to patient data at `facility`, oldest first.
    pub fn patient_access_log(&self, facility: &LicenseNumber) -> Result<Vec<AccessLine>, DbError> {
        let conn = self.lock();
        let mut stmt =
            conn.prepare("SELECT order_id, user, user_name, device, action, at FROM patient_access WHERE facility = ?1 ORDER BY seq")?;
        let rows = stmt.query_map([facility.as_str()], |r| {
            Ok(AccessLine { order: r.get(0)?, user: r.get(1)?, user_name: r.get(2)?, device: r.get(3)?, action: r.get(4)?, at: r.get(5)? })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The sealed bytes of a patient record, as stored (for checking that nothing is in clear).
    pub fn sealed_patient(&self, order: Uuid) -> Result<Option<Vec<u8>>, DbError> {
        Ok(self.lock().query_row("SELECT sealed FROM patients WHERE order_id = ?1", [order.to_string()], |r| r.get(0)).optional()?)
    }

    /// An order entered in the office (through an enrolled office device, by a manager): the
    /// same checks a manager's phone makes, against the server's inventory and open orders.
    pub fn create_order(&self, device: &AuthedDevice, manager: UserId, new: &NewOrder) -> Result<Uuid, DbError> {
        let inventory = Inventory::fold(&self.facility_events(&device.facility)?);
        let roster = self.roster(&device.facility)?;
        let name = roster.iter().find(|p| p.id == manager).map(|p| p.name.clone()).unwrap_or_default();
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let claimed: BTreeSet<PackageTag> = {
            let mut stmt = tx.prepare("SELECT tag FROM claims WHERE facility = ?1 AND kind = 'order'")?;
            stmt.query_map([device.facility.as_str()], |r| r.get::<_, String>(0))?
                .map(|t| parse_col("tag", &t?))
                .collect::<Result<_, DbError>>()?
        };
        let on_hold = on_hold(&tx, self, &device.facility)?;
        let mut orders = Vec::new();
        let ids: Vec<String> = {
            let mut stmt = tx.prepare("SELECT id FROM docs WHERE facility = ?1 AND kind = 'order'")?;
            stmt.query_map([device.facility.as_str()], |r| r.get(0))?.collect::<Result<_, _>>()?
        };
        for id in ids {
            if let Some(doc) = crate::docs::engine::load_for_check(&tx, self, &device.facility, parse_col("document id", &id)?)?
                && let (Ok(o), Ok(status)) = (odoc::order(&doc), odoc::status(&doc))
            {
                orders.push((o, status));
            }
        }
        let customers = customers(&tx, &device.facility)?;
        // The same plan a manager's phone makes (core's `plan_order`), on the server's facts.
        let facts = OrderFacts {
            packages: inventory.packages.values().map(Candidate::from).collect(),
            claimed: &claimed,
            on_hold: &on_hold,
            orders: orders
                .iter()
                .map(|(o, status)| ExistingOrder { number: &o.number, lines: &o.lines, open: *status == OrderStatus::Open })
                .collect(),
            customers: &customers,
            today: chrono::Utc::now().date_naive(),
        };
        let order = plan_order(new, facts, &name, chrono::Utc::now()).map_err(|e| DbError::InvalidInput(e.to_string()))?;
        let id = Uuid::now_v7();
        let mut doc = odoc::create(id, device.facility.clone(), custody_core::work::Writer::Server(self.writer()), &order);
        crate::docs::engine::insert_new(&tx, device, &mut doc, &self.signing_key)?;
        after_persist(&tx, &device.facility, &doc)?;
        if let Some(patient) = &new.patient {
            let now = now_text();
            tx.execute(
                "INSERT INTO patients (order_id, facility, sealed, entered_by, entered_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id.to_string(), device.facility.as_str(), self.data_key.seal(id, patient), manager.to_string(), now],
            )?;
            if let Some(who) = roster.iter().find(|p| p.id == manager) {
                log_access(&tx, &device.facility, id, who, Some(device), "entered in the office", &now)?;
            }
        }
        tx.commit()?;
        Ok(id)
    }

    /// A patient record for an operator at the server console; the access is logged.
    pub fn open_patient(&self, facility: &LicenseNumber, order: Uuid, operator: &str) -> Result<Option<Patient>, DbError> {
        let conn = self.lock();
        let sealed: Option<Vec<u8>> = conn
            .query_row(
                "SELECT sealed FROM patients WHERE order_id = ?1 AND facility = ?2",
                params![order.to_string(), facility.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        let Some(sealed) = sealed else { return Ok(None) };
        let patient = self.data_key.open(order, &sealed).map_err(|e| DbError::Corrupt { what: "patient record", value: e.to_string() })?;
        conn.execute(
            "INSERT INTO patient_access (facility, order_id, user, user_name, device, action, at) VALUES (?1, ?2, 'console', ?3, NULL, 'viewed at the server console', ?4)",
            params![facility.as_str(), order.to_string(), operator, now_text()],
        )?;
        Ok(Some(patient))
    }
}
