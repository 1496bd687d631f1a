//! The durable outbox of state writes (docs/decisions/0019-state-outbox.md).
//!
//! One row per state write, inserted by [`Queue::event`] inside the transaction that accepts
//! the ledger event, so an event is accepted with its write or not at all. The drain
//! ([`crate::state::drain`]) sends them; what it may send next is [`next_batch`]: a package's
//! writes in the order they were accepted (a write waits while an earlier write touching one
//! of its packages is still pending or failed), at most [`MAX_OBJECTS_PER_WRITE`] of one kind.
//! A write the state refused waits in the failed queue for a manager or compliance officer to
//! resubmit or dismiss, both audited.

use std::collections::HashSet;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use custody_core::event::{Event, EventBody, Resolution};
use custody_core::ids::LicenseNumber;
use custody_core::quantity::Quantity;
use custody_core::state_json::Tz;
use custody_core::work::adjustment;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::db::{Db, DbError};
use crate::people::ProvenPerson;
use crate::state::{MAX_OBJECTS_PER_WRITE, WriteKind};

/// Where a write stands, as people see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteStatus {
    /// Waiting to be sent (or to be sent again).
    Queued,
    /// Sent, and its answer not known yet (lost, or the state failed): read back before resending.
    Submitted,
    /// The state took it.
    Confirmed,
    /// The state refused it; it waits for a person in the failed queue.
    Failed,
    /// A person dismissed it from the failed queue with a reason.
    Dismissed,
    /// An adjustment no manager other than its requester approved: never sent.
    Unapproved,
}

impl WriteStatus {
    fn from_row(status: &str, in_doubt: bool) -> Result<WriteStatus, DbError> {
        Ok(match status {
            "queued" if in_doubt => WriteStatus::Submitted,
            "queued" | "awaiting" => WriteStatus::Queued,
            "confirmed" => WriteStatus::Confirmed,
            "failed" => WriteStatus::Failed,
            "dismissed" => WriteStatus::Dismissed,
            "unapproved" => WriteStatus::Unapproved,
            other => return Err(DbError::Corrupt { what: "outbox status", value: other.to_string() }),
        })
    }
}

/// A decimal as a JSON number. The state takes numbers; a decimal within the ledger's bounds
/// (decision 0013: at most 15 significant digits) goes through f64 and back to the same
/// shortest text, which is what serde_json writes, so no weight changes on the way.
pub fn number(amount: Decimal) -> Value {
    let text = amount.normalize().to_string();
    text.parse::<f64>().ok().and_then(serde_json::Number::from_f64).map_or(Value::String(text), Value::Number)
}

/// The day the thing happened, as the facility's people lived it: the state reads dates as the
/// facility's local day (a move at 23:30 in Los Angeles is that day's, not the next UTC day's).
fn date(event: &Event, zone: Tz) -> String {
    event.hlc.wall_time().with_timezone(&zone).date_naive().to_string()
}

fn quantity_fields(q: &Quantity) -> (Value, &'static str) {
    (number(q.amount), q.unit.metrc_name())
}

/// The write an accepted event asks of the state, if any: its kind, the packages it touches and
/// the object sent. `None` for what the state does not take from us (receipts are the state's
/// own acceptance; picking, quarantine, delivery and returns are not state writes here).
pub fn write_for(event: &Event, zone: Tz) -> Option<(WriteKind, Vec<String>, Value)> {
    let label = event.tag.as_str().to_string();
    match &event.body {
        EventBody::Moved { to } => Some((
            WriteKind::Location,
            vec![label.clone()],
            json!({"Label": label, "Location": to.as_str(), "Sublocation": null, "MoveDate": date(event, zone)}),
        )),
        EventBody::Adjusted { delta, reason, note, .. } => {
            let (quantity, unit) = quantity_fields(delta);
            Some((
                WriteKind::Adjust,
                vec![label.clone()],
                json!({"Label": label, "Quantity": quantity, "UnitOfMeasure": unit, "AdjustmentReason": reason,
                       "AdjustmentDate": date(event, zone), "ReasonNote": note}),
            ))
        }
        EventBody::Split { new_tag, quantity, item, batch, location, expires_on } => {
            let (amount, unit) = quantity_fields(quantity);
            Some((
                WriteKind::Create,
                vec![label.clone(), new_tag.as_str().to_string()],
                json!({"Tag": new_tag.as_str(), "Item": item.as_str(), "Quantity": amount, "UnitOfMeasure": unit,
                       "Location": location.as_str(), "ActualDate": date(event, zone), "ProductionBatchNumber": batch.as_str(),
                       "ExpirationDate": expires_on.map(|d: NaiveDate| d.to_string()),
                       "Ingredients": [{"Package": label, "Quantity": amount, "UnitOfMeasure": unit}]}),
            ))
        }
        // Destruction: the package is finished at the state. The state's waste flow (a waste
        // adjustment with its reason list) is not modelled yet; a state that refuses to finish a
        // package with stock left puts the write in the failed queue with its message.
        EventBody::Destroyed { .. } => {
            Some((WriteKind::Finish, vec![label.clone()], json!({"Label": label, "ActualDate": date(event, zone)})))
        }
        // Both concurrent moves went to the state in the order the server took them, so the
        // state holds whichever came last; the manager's "it is here" puts it right there too.
        EventBody::ConflictResolved { resolution: Resolution::LocatedAt { location }, .. } => Some((
            WriteKind::Location,
            vec![label.clone()],
            json!({"Label": label, "Location": location.as_str(), "Sublocation": null, "MoveDate": date(event, zone)}),
        )),
        _ => None,
    }
}

/// Whether an adjustment may go to the state.
enum Approval {
    /// A manager other than the requester approved the request it carries out.
    Approved,
    /// The request is here but its decision has not arrived yet (a phone's document changes
    /// can take a round trip more than its events): the write waits, and is checked again.
    Awaiting(String),
    /// Never: no request, refused, or approved by the requester.
    Never(String),
}

/// Whether an adjustment carries out a request that a manager other than the requester approved.
/// The ledger already refused an execution by anyone else (decision 0008); this also needs the
/// approval itself on record.
fn approval(conn: &Connection, db: &Db, facility: &LicenseNumber, event: &Event) -> Result<Approval, DbError> {
    let EventBody::Adjusted { request, .. } = &event.body else { return Ok(Approval::Approved) };
    let Some(request) = request else {
        return Ok(Approval::Never("this adjustment carries out no approved request, so it is not sent to the state".into()));
    };
    let waiting = || Approval::Awaiting(format!("waiting for the approval of adjustment request {request} to arrive"));
    let Some(doc) = crate::docs::engine::load_for_check(conn, db, facility, *request)? else { return Ok(waiting()) };
    let Ok(request_doc) = adjustment::read(&doc) else { return Ok(waiting()) };
    Ok(match &request_doc.decision {
        Some(d) if d.approved && d.by.user != request_doc.requested_by.user && event.user != request_doc.requested_by.user => {
            Approval::Approved
        }
        Some(d) if d.approved => {
            Approval::Never("the adjustment was approved by the person who asked for it; a second manager must approve it".into())
        }
        Some(_) => Approval::Never(format!("adjustment request {request} was rejected, so the adjustment is not sent to the state")),
        None => waiting(),
    })
}

/// Queuing a facility's state writes, opened once per transaction (this runs per event on the
/// sync path): `None` when the facility has no connector (stopped or not: while stopped, rows
/// still queue).
pub struct Queue {
    facility: LicenseNumber,
    zone: Tz,
}

impl Queue {
    pub fn open(conn: &Connection, facility: &LicenseNumber) -> Result<Option<Queue>, DbError> {
        if !crate::state::connection::has_connector(conn, facility)? {
            return Ok(None);
        }
        let zone = crate::db::facility_time_zone(conn, facility)?;
        let zone = Tz::from_str(&zone).map_err(|_| DbError::Corrupt { what: "facility time zone", value: zone })?;
        Ok(Some(Queue { facility: facility.clone(), zone }))
    }

    /// Queues the state write an accepted event asks for, in the caller's transaction (the one
    /// that accepts the event).
    pub fn event(&self, tx: &Transaction<'_>, db: &Db, event: &Event) -> Result<(), DbError> {
        let Some((kind, labels, body)) = write_for(event, self.zone) else { return Ok(()) };
        let (status, message) = match approval(tx, db, &self.facility, event)? {
            Approval::Approved => ("queued", None),
            Approval::Awaiting(why) => ("awaiting", Some(why)),
            Approval::Never(why) => ("unapproved", Some(why)),
        };
        tx.prepare_cached(
            "INSERT INTO state_outbox (facility, source, kind, labels, body, status, message, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            self.facility.as_str(),
            event.id.to_string(),
            kind.as_str(),
            labels.join(" "),
            body.to_string(),
            status,
            message,
            crate::db::now_text()
        ])?;
        Ok(())
    }
}

/// The transfer type the template names for each destination. The state's list of types is
/// reference data per state; until it is pulled, the common wholesale type.
pub const TRANSFER_TYPE: &str = "Wholesale Manifest";

/// The state's date-time: the facility's local time without an offset.
fn date_time(t: chrono::DateTime<Utc>, zone: Tz) -> String {
    t.with_timezone(&zone).format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// The outgoing template for a manifest, as the state takes it.
pub fn template_for(m: &custody_core::work::manifest::OutboundManifest, zone: Tz) -> Value {
    let destinations: Vec<Value> = m
        .stops
        .iter()
        .map(|stop| {
            let packages: Vec<Value> = stop
                .packages
                .iter()
                .map(|p| {
                    json!({"PackageLabel": p.tag.as_str(), "WholesalePrice": number(p.wholesale_price),
                           "GrossWeight": number(p.gross_weight.amount), "GrossUnitOfWeightName": p.gross_weight.unit.metrc_name()})
                })
                .collect();
            json!({"RecipientLicenseNumber": stop.recipient.licence.as_str(), "TransferTypeName": TRANSFER_TYPE,
                   "PlannedRoute": stop.planned_route, "EstimatedDepartureDateTime": date_time(stop.estimated_departure, zone),
                   "EstimatedArrivalDateTime": date_time(stop.estimated_arrival, zone), "Packages": packages})
        })
        .collect();
    json!({"Name": m.number, "TransporterFacilityLicenseNumber": m.shipper.as_str(), "DriverName": m.driver.name,
           "DriverLicenseNumber": m.driver.licence_number, "DriverOccupationalLicenseNumber": m.driver.occupational_licence,
           "PhoneNumberForQuestions": m.phone_for_questions, "VehicleMake": m.vehicle.make, "VehicleModel": m.vehicle.model,
           "VehicleLicensePlateNumber": m.vehicle.plate, "Destinations": destinations})
}

/// Queues the outgoing template of a manifest when its truck has departed (the point where the
/// packages are on the road and the manifest can no longer be cancelled), once per manifest.
/// Called after a manifest document is stored, in the same transaction.
pub fn enqueue_manifest(conn: &Connection, facility: &LicenseNumber, doc: &custody_core::work::WorkDoc) -> Result<(), DbError> {
    use custody_core::work::manifest as mdoc;
    if doc.kind != custody_core::work::DocKind::Manifest || !matches!(mdoc::departed(doc), Ok(Some(_))) {
        return Ok(());
    }
    let Some(queue) = Queue::open(conn, facility)? else { return Ok(()) };
    let source = doc.id.to_string();
    let queued = conn.prepare_cached("SELECT 1 FROM state_outbox WHERE source = ?1")?.query_row(params![source], |_| Ok(())).optional()?;
    let Ok(manifest) = mdoc::manifest(doc) else { return Ok(()) };
    if queued.is_some() {
        return Ok(());
    }
    let labels: Vec<&str> = manifest.tags().map(|t| t.as_str()).collect();
    conn.prepare_cached(
        "INSERT INTO state_outbox (facility, source, kind, labels, body, status, created_at) VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6)",
    )?
    .execute(params![
        facility.as_str(),
        source,
        WriteKind::Outgoing.as_str(),
        labels.join(" "),
        template_for(&manifest, queue.zone).to_string(),
        crate::db::now_text()
    ])?;
    Ok(())
}

/// Checks again the adjustments still waiting for their approval: approved ones join the queue,
/// refused ones are marked never to be sent.
fn recheck_awaiting(conn: &Connection, db: &Db, facility: &LicenseNumber) -> Result<(), DbError> {
    let waiting: Vec<(i64, String)> = conn
        .prepare_cached(
            "SELECT o.seq, e.json FROM state_outbox o JOIN events e ON e.id = o.source
             WHERE o.facility = ?1 AND o.status = 'awaiting' ORDER BY o.seq",
        )?
        .query_map(params![facility.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (seq, json) in waiting {
        let event: Event = serde_json::from_str(&json)?;
        let (status, message) = match approval(conn, db, facility, &event)? {
            Approval::Approved => ("queued", None),
            Approval::Awaiting(_) => continue,
            Approval::Never(why) => ("unapproved", Some(why)),
        };
        conn.execute("UPDATE state_outbox SET status = ?2, message = ?3 WHERE seq = ?1", params![seq, status, message])?;
    }
    Ok(())
}

/// A write not yet done, as the drain plans with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub seq: i64,
    pub kind: WriteKind,
    pub labels: Vec<String>,
    pub body: Value,
    /// Failed, or an adjustment waiting for its approval: holds back its packages' later writes.
    pub held: bool,
    pub in_doubt: bool,
    pub solo: bool,
    pub before_qty: Option<Decimal>,
}

/// What may be sent next, as indices into `pending` (in seq order): the first write whose
/// packages have no earlier write still pending or failed, and after it up to
/// [`MAX_OBJECTS_PER_WRITE`] - 1 more such writes of the same kind. A write the state refused
/// as part of a batch without saying which (`solo`) goes alone.
pub fn next_batch(pending: &[Pending]) -> Vec<usize> {
    let mut blocked: HashSet<&str> = HashSet::new();
    let mut batch: Vec<usize> = Vec::new();
    for (i, row) in pending.iter().enumerate() {
        let free = !row.held && row.labels.iter().all(|l| !blocked.contains(l.as_str()));
        blocked.extend(row.labels.iter().map(String::as_str));
        if !free {
            continue;
        }
        match batch.first().map(|&first| &pending[first]) {
            None => {
                batch.push(i);
                if row.solo {
                    break;
                }
            }
            Some(first) if first.kind == row.kind && !row.solo => batch.push(i),
            Some(_) => {}
        }
        if batch.len() == MAX_OBJECTS_PER_WRITE {
            break;
        }
    }
    batch
}

/// Adjustments that will be sent soon and whose state quantity before them can be read now, as
/// indices into `pending`, at most `n`: queued, not in doubt, no quantity read yet, and free (no
/// earlier pending write for their package, so nothing we send before them changes that
/// quantity). The drain reads these while a batch is in flight, so an outbox full of
/// adjustments is bounded by the state's GET limit rather than by one GET after another.
pub fn read_ahead(pending: &[Pending], n: usize) -> Vec<usize> {
    let mut blocked: HashSet<&str> = HashSet::new();
    let mut out = Vec::new();
    for (i, row) in pending.iter().enumerate() {
        let free = !row.held && row.labels.iter().all(|l| !blocked.contains(l.as_str()));
        blocked.extend(row.labels.iter().map(String::as_str));
        if free && row.kind == WriteKind::Adjust && !row.in_doubt && row.before_qty.is_none() {
            out.push(i);
            if out.len() == n {
                break;
            }
        }
    }
    out
}

/// The chosen rows (indices into `rows`) with their bodies read: the planners read every pending
/// row's columns but only the chosen ones' bodies, as they hold the lock the sync path waits on.
fn with_bodies(conn: &Connection, rows: Vec<Pending>, chosen: Vec<usize>) -> Result<Vec<Pending>, DbError> {
    let mut rows: Vec<Option<Pending>> = rows.into_iter().map(Some).collect();
    let mut out: Vec<Pending> = chosen.into_iter().filter_map(|i| rows[i].take()).collect();
    let mut body = conn.prepare_cached("SELECT body FROM state_outbox WHERE seq = ?1")?;
    for row in &mut out {
        let text: String = body.query_row(params![row.seq], |r| r.get(0))?;
        row.body = serde_json::from_str(&text)?;
    }
    Ok(out)
}

/// Most pending writes the drain plans over at once: enough to fill a batch past many blocked ones.
const PLAN_WINDOW: i64 = 2_000;

fn pending_rows(conn: &Connection, facility: &LicenseNumber) -> Result<Vec<Pending>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, kind, labels, status, in_doubt, solo, before_qty FROM state_outbox
         WHERE facility = ?1 AND status IN ('queued', 'failed', 'awaiting') ORDER BY seq LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![facility.as_str(), PLAN_WINDOW], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, String>(3)?,
            row.get::<_, bool>(4)?,
            row.get::<_, bool>(5)?,
            row.get::<_, Option<String>>(6)?,
        ))
    })?;
    rows.map(|row| {
        let (seq, kind, labels, status, in_doubt, solo, before) = row?;
        Ok(Pending {
            seq,
            kind: WriteKind::parse(&kind).ok_or(DbError::Corrupt { what: "outbox write kind", value: kind })?,
            labels: labels.split(' ').filter(|l| !l.is_empty()).map(str::to_string).collect(),
            // Read for the writes chosen only ([`with_bodies`]).
            body: Value::Null,
            held: status != "queued",
            in_doubt,
            solo,
            before_qty: before
                .map(|b| Decimal::from_str(&b).map_err(|_| DbError::Corrupt { what: "outbox quantity", value: b }))
                .transpose()?,
        })
    })
    .collect()
}

/// One write of the failed queue (or any write, for status), as people see it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WriteView {
    pub seq: i64,
    /// The ledger event that asked for it.
    pub source: String,
    pub kind: &'static str,
    pub packages: Vec<String>,
    pub status: WriteStatus,
    pub attempts: i64,
    /// The state's message (failed), or why it was not sent (unapproved), or the last error.
    pub message: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// How many writes of a facility stand where, and the failed ones in full.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct OutboxStatus {
    pub connection: Option<crate::state::connection::ConnectionInfo>,
    pub queued: i64,
    pub submitted: i64,
    pub confirmed: i64,
    pub failed: i64,
    pub dismissed: i64,
    pub unapproved: i64,
    pub failed_writes: Vec<WriteView>,
}

/// A [`WriteView`]'s columns as stored (`VIEW_COLUMNS`).
type ViewRow = (i64, String, String, String, String, bool, i64, Option<String>, String);

fn view(row: &rusqlite::Row<'_>) -> rusqlite::Result<ViewRow> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?, row.get(6)?, row.get(7)?, row.get(8)?))
}

const VIEW_COLUMNS: &str = "seq, source, kind, labels, status, in_doubt, attempts, message, created_at";

fn to_view(raw: ViewRow) -> Result<WriteView, DbError> {
    let (seq, source, kind, labels, status, in_doubt, attempts, message, created_at) = raw;
    Ok(WriteView {
        seq,
        source,
        kind: WriteKind::parse(&kind).ok_or(DbError::Corrupt { what: "outbox write kind", value: kind })?.as_str(),
        packages: labels.split(' ').filter(|l| !l.is_empty()).map(str::to_string).collect(),
        status: WriteStatus::from_row(&status, in_doubt)?,
        attempts,
        message,
        created_at: crate::db::parse_time(&created_at)?,
    })
}

/// Who may see, resubmit or dismiss failed writes: a manager, a compliance officer or an admin.
/// The refusal, worded for the person.
pub fn may_resolve(person: &ProvenPerson) -> Result<(), String> {
    if person.role.handles_state_submissions() {
        Ok(())
    } else {
        Err(format!("{} is {}; only a manager or compliance officer may handle failed state submissions", person.name, person.role))
    }
}

/// The facility's connection, counts of writes by status, and the failed writes, read on an open
/// connection (the sync round trip holds one).
pub(crate) fn outbox_status(conn: &Connection, facility: &LicenseNumber) -> Result<OutboxStatus, DbError> {
    let connection = crate::state::connection::connection_info(conn, facility)?;
    let mut status = OutboxStatus {
        connection,
        queued: 0,
        submitted: 0,
        confirmed: 0,
        failed: 0,
        dismissed: 0,
        unapproved: 0,
        failed_writes: Vec::new(),
    };
    let mut stmt = conn.prepare("SELECT status, in_doubt, COUNT(*) FROM state_outbox WHERE facility = ?1 GROUP BY status, in_doubt")?;
    let rows =
        stmt.query_map(params![facility.as_str()], |row| Ok((row.get::<_, String>(0)?, row.get::<_, bool>(1)?, row.get::<_, i64>(2)?)))?;
    for row in rows {
        let (s, in_doubt, n) = row?;
        match WriteStatus::from_row(&s, in_doubt)? {
            WriteStatus::Queued => status.queued += n,
            WriteStatus::Submitted => status.submitted += n,
            WriteStatus::Confirmed => status.confirmed += n,
            WriteStatus::Failed => status.failed += n,
            WriteStatus::Dismissed => status.dismissed += n,
            WriteStatus::Unapproved => status.unapproved += n,
        }
    }
    let mut stmt =
        conn.prepare(&format!("SELECT {VIEW_COLUMNS} FROM state_outbox WHERE facility = ?1 AND status = 'failed' ORDER BY seq"))?;
    let rows = stmt.query_map(params![facility.as_str()], view)?;
    for row in rows {
        status.failed_writes.push(to_view(row?)?);
    }
    Ok(status)
}

impl Db {
    /// The writes the drain may send next for a facility (see [`next_batch`]).
    pub fn outbox_next(&self, facility: &LicenseNumber) -> Result<Vec<Pending>, DbError> {
        let conn = self.lock();
        recheck_awaiting(&conn, self, facility)?;
        let rows = pending_rows(&conn, facility)?;
        let chosen = next_batch(&rows);
        with_bodies(&conn, rows, chosen)
    }

    /// Up to `n` adjustments to come whose quantity may be read now ([`read_ahead`]).
    pub fn outbox_ahead(&self, facility: &LicenseNumber, n: usize) -> Result<Vec<Pending>, DbError> {
        let conn = self.lock();
        let rows = pending_rows(&conn, facility)?;
        let chosen = read_ahead(&rows, n);
        with_bodies(&conn, rows, chosen)
    }

    /// The quantity read ahead for an adjustment, kept only if its write has never been sent
    /// and none was kept: a read that crossed the write itself must not become its "before".
    pub fn outbox_before_quantity_ahead(&self, seq: i64, quantity: Decimal) -> Result<(), DbError> {
        self.lock().execute(
            "UPDATE state_outbox SET before_qty = ?2
             WHERE seq = ?1 AND before_qty IS NULL AND attempts = 0 AND in_doubt = 0 AND status = 'queued'",
            params![seq, quantity.to_string()],
        )?;
        Ok(())
    }

    /// Before sending: the writes are marked in doubt (and counted), so a crash or a lost answer
    /// from here on leads to a read-back, never a blind resend.
    pub fn outbox_sending(&self, seqs: &[i64]) -> Result<(), DbError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        for seq in seqs {
            tx.execute(
                "UPDATE state_outbox SET in_doubt = 1, attempts = attempts + 1, sent_at = ?2 WHERE seq = ?1 AND status = 'queued'",
                params![seq, crate::db::now_text()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The state took these writes (or a read-back showed it had).
    pub fn outbox_confirmed(&self, seqs: &[i64]) -> Result<(), DbError> {
        self.outbox_set(seqs, "confirmed", None, false)
    }

    /// The answer is known and nothing was applied (not sent, or refused as a whole): back to queued.
    pub fn outbox_not_applied(&self, seqs: &[i64], message: Option<&str>) -> Result<(), DbError> {
        self.outbox_set(seqs, "queued", message, false)
    }

    /// The answer was lost or the state failed: stays in doubt, with the last error.
    pub fn outbox_in_doubt(&self, seqs: &[i64], message: &str) -> Result<(), DbError> {
        self.outbox_set(seqs, "queued", Some(message), true)
    }

    /// The state refused this write: into the failed queue with its message.
    pub fn outbox_failed(&self, seq: i64, message: &str) -> Result<(), DbError> {
        self.outbox_set(&[seq], "failed", Some(message), false)
    }

    /// The state refused a batch without saying which object: each is sent alone from now on.
    pub fn outbox_solo(&self, seqs: &[i64]) -> Result<(), DbError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        for seq in seqs {
            tx.execute("UPDATE state_outbox SET solo = 1, in_doubt = 0 WHERE seq = ?1", params![seq])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The state's quantity of an adjustment's package before it is sent, for the read-back.
    pub fn outbox_before_quantity(&self, seq: i64, quantity: Decimal) -> Result<(), DbError> {
        self.lock().execute("UPDATE state_outbox SET before_qty = ?2 WHERE seq = ?1", params![seq, quantity.to_string()])?;
        Ok(())
    }

    fn outbox_set(&self, seqs: &[i64], status: &str, message: Option<&str>, in_doubt: bool) -> Result<(), DbError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let done = matches!(status, "confirmed").then(crate::db::now_text);
        for seq in seqs {
            tx.execute(
                "UPDATE state_outbox SET status = ?2, message = COALESCE(?3, message), in_doubt = ?4, done_at = COALESCE(?5, done_at)
                 WHERE seq = ?1",
                params![seq, status, message, in_doubt, done],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Whether a facility has writes waiting to be sent.
    pub fn outbox_has_pending(&self, facility: &LicenseNumber) -> Result<bool, DbError> {
        Ok(self
            .lock()
            .prepare_cached("SELECT 1 FROM state_outbox WHERE facility = ?1 AND status IN ('queued', 'awaiting') LIMIT 1")?
            .query_row(params![facility.as_str()], |_| Ok(()))
            .optional()?
            .is_some())
    }

    /// The facility's connection, counts of writes by status, and the failed writes.
    pub fn state_status(&self, facility: &LicenseNumber) -> Result<OutboxStatus, DbError> {
        outbox_status(&self.lock(), facility)
    }

    /// The state status of one ledger event: `None` when it asks nothing of the state (or the
    /// facility has no connector), else its write.
    pub fn event_state_status(&self, facility: &LicenseNumber, event: uuid::Uuid) -> Result<Option<WriteView>, DbError> {
        let conn = self.lock();
        let raw = conn
            .query_row(
                &format!("SELECT {VIEW_COLUMNS} FROM state_outbox WHERE facility = ?1 AND source = ?2 ORDER BY seq DESC LIMIT 1"),
                params![facility.as_str(), event.to_string()],
                view,
            )
            .optional()?;
        raw.map(to_view).transpose()
    }

    /// A manager or compliance officer sends a failed write again (after fixing what the state
    /// objected to, e.g. creating the location there). Audited.
    pub fn resubmit_state_write(&self, facility: &LicenseNumber, by: &ProvenPerson, seq: i64) -> Result<(), DbError> {
        self.resolve_failed(facility, by, seq, "resubmitted", None)
    }

    /// A manager or compliance officer takes a failed write out of the queue, with the reason
    /// (e.g. "entered in the state's web interface"). Audited.
    pub fn dismiss_state_write(&self, facility: &LicenseNumber, by: &ProvenPerson, seq: i64, reason: &str) -> Result<(), DbError> {
        let reason = crate::db::clean_text(custody_core::text::reason("reason for dismissing"), reason)?;
        self.resolve_failed(facility, by, seq, "dismissed", Some(&reason))
    }

    fn resolve_failed(
        &self,
        facility: &LicenseNumber,
        by: &ProvenPerson,
        seq: i64,
        action: &str,
        reason: Option<&str>,
    ) -> Result<(), DbError> {
        may_resolve(by).map_err(DbError::InvalidInput)?;
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let status: Option<String> = tx
            .query_row("SELECT status FROM state_outbox WHERE seq = ?1 AND facility = ?2", params![seq, facility.as_str()], |r| r.get(0))
            .optional()?;
        match status.as_deref() {
            None => return Err(DbError::InvalidInput(format!("there is no state submission {seq} at {facility}"))),
            Some("failed") => {}
            Some(other) => {
                return Err(DbError::InvalidInput(format!(
                    "state submission {seq} is {other}, not failed; only a failed one can be {action}"
                )));
            }
        }
        let new_status = if action == "dismissed" { "dismissed" } else { "queued" };
        tx.execute(
            "UPDATE state_outbox SET status = ?2, in_doubt = 0, solo = 1, done_at = CASE WHEN ?2 = 'dismissed' THEN ?3 ELSE NULL END WHERE seq = ?1",
            params![seq, new_status, crate::db::now_text()],
        )?;
        tx.execute(
            "INSERT INTO state_outbox_audit (facility, outbox_seq, action, by_user, by_name, reason, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![facility.as_str(), seq, action, by.id.to_string(), by.name, reason, crate::db::now_text()],
        )?;
        tx.commit()?;
        tracing::info!(%facility, seq, action, by = %by.id, "state submission resolved");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: i64, kind: WriteKind, labels: &[&str]) -> Pending {
        Pending {
            seq,
            kind,
            labels: labels.iter().map(|l| l.to_string()).collect(),
            body: Value::Null,
            held: false,
            in_doubt: false,
            solo: false,
            before_qty: None,
        }
    }

    #[test]
    fn a_batch_is_one_kind_at_most_ten_and_keeps_each_package_in_order() {
        let moves: Vec<Pending> = (0..25).map(|i| row(i, WriteKind::Location, &[&format!("P{i}")])).collect();
        assert_eq!(next_batch(&moves), (0..10).collect::<Vec<_>>());

        // P1's adjust waits behind its move; P2's move joins the first batch.
        let rows = vec![row(1, WriteKind::Location, &["P1"]), row(2, WriteKind::Adjust, &["P1"]), row(3, WriteKind::Location, &["P2"])];
        assert_eq!(next_batch(&rows), vec![0, 2]);

        // A failed write holds back every later write of its package, not the others.
        let mut failed = rows.clone();
        failed[0].held = true;
        assert_eq!(next_batch(&failed), vec![2]);

        // A split touches both packages: the new package's move waits for the create.
        let rows =
            vec![row(1, WriteKind::Create, &["P1", "N1"]), row(2, WriteKind::Location, &["N1"]), row(3, WriteKind::Create, &["P2", "N2"])];
        assert_eq!(next_batch(&rows), vec![0, 2]);

        // A write marked solo goes alone.
        let mut solo = vec![row(1, WriteKind::Location, &["P1"]), row(2, WriteKind::Location, &["P2"])];
        solo[0].solo = true;
        assert_eq!(next_batch(&solo), vec![0]);
        solo[0].solo = false;
        solo[1].solo = true;
        assert_eq!(next_batch(&solo), vec![0]);
        assert!(next_batch(&[]).is_empty());
    }

    #[test]
    fn only_free_adjustments_without_a_quantity_read_are_read_ahead() {
        let mut rows = vec![
            row(1, WriteKind::Location, &["P1"]),
            row(2, WriteKind::Adjust, &["P1"]), // behind P1's move: its quantity may still change
            row(3, WriteKind::Adjust, &["P2"]),
            row(4, WriteKind::Adjust, &["P3"]), // already read
            row(5, WriteKind::Adjust, &["P4"]), // in doubt: read back, not ahead
            row(6, WriteKind::Adjust, &["P5"]),
            row(7, WriteKind::Adjust, &["P5"]), // behind P5's first adjustment
            row(8, WriteKind::Adjust, &["P6"]),
        ];
        rows[3].before_qty = Some(Decimal::ONE);
        rows[4].in_doubt = true;
        assert_eq!(read_ahead(&rows, 10), vec![2, 5, 7]);
        assert_eq!(read_ahead(&rows, 2), vec![2, 5]);
        // A held (failed) write blocks its package's later ones here too.
        rows[2].held = true;
        rows.push(row(9, WriteKind::Adjust, &["P2"]));
        assert_eq!(read_ahead(&rows, 10), vec![5, 7]);
    }

    #[test]
    fn the_state_hears_the_facilitys_local_day_not_the_utc_one() {
        use custody_core::event::UnsealedEvent;
        use custody_core::hlc::Hlc;
        use custody_core::ids::{DeviceId, LocationName, PackageTag, UserId};
        // 23:30 on 2 December in Los Angeles is 07:30 on 3 December UTC.
        let at = DateTime::parse_from_rfc3339("2026-12-03T07:30:00Z").unwrap();
        let event = UnsealedEvent {
            id: uuid::Uuid::now_v7(),
            facility: LicenseNumber::parse("C11-0000001-LIC").unwrap(),
            tag: PackageTag::parse("1A4FF0100000022000001234").unwrap(),
            user: UserId::new(),
            device: DeviceId::new(),
            device_seq: 1,
            hlc: Hlc { wall_ms: at.timestamp_millis(), counter: 0 },
            parent: None,
            body: EventBody::Moved { to: LocationName::parse("Vault A").unwrap() },
            prev_hash: custody_core::event::GENESIS_HASH.into(),
        }
        .seal();
        let (_, _, body) = write_for(&event, Tz::America__Los_Angeles).unwrap();
        assert_eq!(body["MoveDate"], "2026-12-02");
        let (_, _, body) = write_for(&event, Tz::Europe__Berlin).unwrap();
        assert_eq!(body["MoveDate"], "2026-12-03");
        assert_eq!(date_time(at.with_timezone(&Utc), Tz::America__Los_Angeles), "2026-12-02T23:30:00");
    }

    #[test]
    fn numbers_keep_their_decimal_text() {
        assert_eq!(number(Decimal::from_str("-1.50").unwrap()).to_string(), "-1.5");
        assert_eq!(number(Decimal::from_str("28.35").unwrap()).to_string(), "28.35");
        assert_eq!(number(Decimal::from_str("100000.01").unwrap()).to_string(), "100000.01");
        assert_eq!(number(Decimal::from_str("3").unwrap()).to_string(), "3.0");
    }
}
