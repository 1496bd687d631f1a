//! Patient data on the device: sealed in its own table (never in a work document, so floor
//! staff phones never receive it), opened only for a manager or the driver whose route carries
//! the order, and every opening logged and sent to the server's access log.

use rusqlite::{OptionalExtension, params};
use uuid::Uuid;

use super::Patient;
use super::picking::{OutboundError, Result};
use super::shipping::PatientView;
use crate::protocol::{PatientRecord, SyncResponse};
use crate::roles::Role;
use crate::store::{StoreError, UnitOfWork};
use crate::work::DocKind;
use crate::work::manifest as mdoc;

/// What went up in a sync request, to be marked done once the server has answered.
#[derive(Debug, Clone, Default)]
pub struct PatientOutbox {
    pub uploads: Vec<PatientRecord>,
    pub views: Vec<PatientView>,
    last_view: i64,
    pub holds: Vec<Uuid>,
}

/// Opens a patient record for the signed-in person, if they may see it: a manager, or the
/// driver of a route that carries the order. The opening is logged with who, when and why, in
/// the unit of work that opens it: no opening without its log line.
pub fn patient(w: &mut UnitOfWork<'_>, order: Uuid, purpose: &str) -> Result<Patient> {
    let user = w.user()?;
    let purpose = if purpose.trim().is_empty() { "viewed" } else { purpose.trim() };
    PatientView::check_purpose(purpose).map_err(OutboundError::from)?;
    let allowed = match user.role {
        Role::Manager => true,
        // The driver of an open route carrying the order.
        Role::Driver => {
            let mut carried = false;
            for info in w.docs(Some(DocKind::Manifest))? {
                carried = w
                    .read::<_, OutboundError>(info.id, |d| {
                        Ok(mdoc::driver(d)? == Some(user.id)
                            && !mdoc::closed(d)?
                            && mdoc::manifest(d)?.stops.iter().any(|s| s.order == order))
                    })
                    .ok()
                    .flatten()
                    .unwrap_or(false);
                if carried {
                    break;
                }
            }
            carried
        }
        _ => false,
    };
    if !allowed {
        return Err(OutboundError::NotAllowed { role: user.role, what: "see patient details" });
    }
    let key = w.data_key();
    let at = w.now()?;
    let sealed: Option<Vec<u8>> = w
        .conn()
        .query_row("SELECT sealed FROM patients WHERE order_id = ?1", [order.to_string()], |r| r.get(0))
        .optional()
        .map_err(StoreError::from)?;
    let sealed =
        sealed.ok_or_else(|| OutboundError::Manifest("this device does not hold that patient's details; sync while online".into()))?;
    let patient = key.open(order, &sealed)?;
    let mut view = PatientView { order, user: user.id, user_name: user.name.clone(), purpose: purpose.to_string(), at, signature: None };
    let signer = w.signer()?;
    view.signature = Some(signer.key.sign(&view.signed_bytes(signer.device)));
    w.conn()
        .execute(
            "INSERT INTO patient_views (order_id, user, user_name, purpose, at, signature) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                order.to_string(),
                user.id.to_string(),
                user.name,
                purpose,
                at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                view.signature.map(|s| s.to_string())
            ],
        )
        .map_err(StoreError::from)?;
    Ok(patient)
}

/// Openings of patient data on this device not yet in the server's log.
pub fn patient_views(w: &mut UnitOfWork<'_>) -> Result<Vec<PatientView>, StoreError> {
    Ok(outbox(w)?.views)
}

/// Patient data and access-log lines for the next sync request.
pub(crate) fn outbox(w: &mut UnitOfWork<'_>) -> Result<PatientOutbox, StoreError> {
    let key = w.data_key();
    let c = w.conn();
    let mut out = PatientOutbox::default();
    let mut stmt = c.prepare("SELECT order_id, sealed, uploaded FROM patients ORDER BY order_id")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, Vec<u8>>(1)?, r.get::<_, bool>(2)?)))?;
    for row in rows {
        let (id, sealed, uploaded) = row?;
        let order: Uuid = id.parse().map_err(|_| StoreError::Corrupt(format!("order id {id:?}")))?;
        out.holds.push(order);
        if !uploaded {
            let patient = key.open(order, &sealed).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            out.uploads.push(PatientRecord { order, patient });
        }
    }
    let mut stmt = c.prepare("SELECT id, order_id, user, user_name, purpose, at, signature FROM patient_views ORDER BY id LIMIT 1000")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, Option<String>>(6)?,
        ))
    })?;
    for row in rows {
        let (id, order, user, user_name, purpose, at, signature) = row?;
        let corrupt = |what: &str| StoreError::Corrupt(format!("patient view {id}: {what}"));
        out.views.push(PatientView {
            order: order.parse().map_err(|_| corrupt("order"))?,
            user: crate::ids::UserId::parse(&user).map_err(|_| corrupt("user"))?,
            user_name,
            purpose,
            at: chrono::DateTime::parse_from_rfc3339(&at).map_err(|_| corrupt("time"))?.with_timezone(&chrono::Utc),
            signature: signature.map(|s| s.parse()).transpose().map_err(|_| corrupt("signature"))?,
        });
        out.last_view = id;
    }
    Ok(out)
}

/// After the server answered: uploads and log lines are done; patient data the server sent
/// is sealed into the table; customers and unused tags saved.
pub(crate) fn apply_sync(w: &mut UnitOfWork<'_>, sent: &PatientOutbox, response: &SyncResponse) -> Result<(), StoreError> {
    let key = w.data_key();
    {
        let c = w.conn();
        // Only what the server says it kept; the rest goes again next round.
        for up in sent.uploads.iter().filter(|u| response.patients_stored.contains(&u.order)) {
            c.execute("UPDATE patients SET uploaded = 1 WHERE order_id = ?1", [up.order.to_string()])?;
        }
        c.execute("DELETE FROM patient_views WHERE id <= ?1", [sent.last_view])?;
        for p in &response.patients {
            c.execute(
                "INSERT INTO patients (order_id, sealed, uploaded) VALUES (?1, ?2, 1)
                 ON CONFLICT (order_id) DO UPDATE SET sealed = excluded.sealed WHERE uploaded = 1",
                params![p.order.to_string(), key.seal(p.order, &p.patient)],
            )?;
        }
    }
    super::picking::save_reference(w, &response.customers, &response.unused_tags)?;
    purge(w)
}

/// Drops patient data this phone no longer needs: on a phone whose signed-in person is not
/// a manager, every record already on the server whose order is on no open route here (a
/// driver's phone forgets a patient once the route is closed).
fn purge(w: &mut UnitOfWork<'_>) -> Result<(), StoreError> {
    if w.user().is_ok_and(|u| u.role == Role::Manager) {
        return Ok(());
    }
    let mut needed = Vec::new();
    for info in w.docs(Some(DocKind::Manifest))? {
        let open_orders = w.read::<_, StoreError>(info.id, |d| {
            if mdoc::closed(d)? {
                return Ok(Vec::new());
            }
            Ok(mdoc::manifest(d)?.stops.iter().map(|s| s.order.to_string()).collect::<Vec<_>>())
        })?;
        needed.extend(open_orders.unwrap_or_default());
    }
    let c = w.conn();
    let held: Vec<String> = {
        let mut stmt = c.prepare("SELECT order_id FROM patients WHERE uploaded = 1")?;
        stmt.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?
    };
    for order in held.into_iter().filter(|o| !needed.contains(o)) {
        c.execute("DELETE FROM patients WHERE order_id = ?1", [order])?;
    }
    Ok(())
}
