//! What each kind of work document demands on the server, beyond the engine's own checks: the
//! one place per-kind rules are added. Above `outbound`, which holds the order and manifest
//! rules that need the database (claims, the tag pool, routes).

use chrono::Utc;
use custody_core::ids::LicenseNumber;
use custody_core::protocol::RosterEntry;
use custody_core::work::{DocKind, WorkDoc, adjustment, receiving};
use rusqlite::Connection;

use crate::db::DbError;
use crate::docs::engine::{DocPolicy, Judgement};

/// The server's policy for every kind.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ServerPolicy;

impl DocPolicy for ServerPolicy {
    fn judge(
        &self,
        conn: &Connection,
        facility: &LicenseNumber,
        doc: &mut WorkDoc,
        before: &[automerge::ChangeHash],
        roster: &[RosterEntry],
    ) -> Result<Judgement, DbError> {
        Ok(match doc.kind {
            // A tampered phone could write a manager's override; refused whole, nothing stored.
            DocKind::Receiving => match receiving::audit(doc, roster) {
                Ok(None) => Judgement::Keep,
                Ok(Some(reason)) => Judgement::Refuse(reason),
                Err(e) => Judgement::Refuse(format!("this receiving session cannot be read: {e}")),
            },
            DocKind::Adjustment => match adjustment::audit(doc, before, roster) {
                Ok(None) => Judgement::Keep,
                // Withdrawn by the server, kept in the document's refusals, synced to all.
                Ok(Some(reason)) => match adjustment::refuse_decision(doc, before, &reason, Utc::now()) {
                    Ok(_) => Judgement::Withdrawn(reason),
                    Err(e) => Judgement::Refuse(e.to_string()),
                },
                Err(e) => Judgement::Refuse(format!("this adjustment request cannot be read: {e}")),
            },
            DocKind::Order | DocKind::Manifest => match crate::outbound::audit(conn, facility, doc, roster)? {
                Ok(()) => Judgement::Keep,
                Err(reason) => Judgement::Refuse(reason),
            },
            _ => Judgement::Keep,
        })
    }

    fn after_persist(&self, conn: &Connection, facility: &LicenseNumber, doc: &WorkDoc) -> Result<(), DbError> {
        crate::outbound::after_persist(conn, facility, doc)?;
        // A departed manifest's outgoing template for the state (decision 0019).
        crate::state::outbox::enqueue_manifest(conn, facility, doc)
    }
}
