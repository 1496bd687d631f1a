//! The adjustment request document: a proposed quantity change with the state's reason code and a
//! note, and a manager's decision on it. The decision is one value (written whole), so two
//! managers deciding at once can never leave half of each.

use automerge::transaction::Transactable;
use automerge::{ChangeHash, ObjType, ROOT, ReadDoc};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::fields::json;
use super::{DocError, DocKind, WorkDoc};
use crate::ids::{LicenseNumber, PackageTag, UserId};
use crate::people::{Actor, RosterEntry};
use crate::quantity::Quantity;
use crate::roles::Role;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdjustmentError {
    #[error("only a manager may approve or reject an adjustment; you are signed in as {0}")]
    NotManager(Role),
    #[error("you counted this package, so you may not decide on its adjustment; ask another manager")]
    OwnCount,
    #[error("you requested this adjustment, so you may not decide on it; ask another manager")]
    OwnRequest,
    #[error("this adjustment was already {0}")]
    AlreadyDecided(&'static str),
    #[error("{0:?} is not one of the state's adjustment reasons; choose one from the list")]
    UnknownReason(String),
    #[error("the reason {0:?} needs a note saying what happened")]
    NoteRequired(String),
    #[error("an adjustment of zero changes nothing")]
    Zero,
}

/// A reason code as the state system lists it (`GET /packages/v2/adjust/reasons`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct AdjustmentReason {
    pub name: String,
    pub requires_note: bool,
}

/// The reasons used until the state's own list is pulled. Every adjustment here needs a note
/// anyway: the audit trail must say what happened.
pub fn default_reasons() -> Vec<AdjustmentReason> {
    ["Drying", "Entry Error", "Incorrect Quantity", "Mandated Destruction", "Scale Variance", "Spoilage", "Theft", "Waste"]
        .into_iter()
        .map(|name| AdjustmentReason { name: name.to_string(), requires_note: true })
        .collect()
}

/// What a person asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAdjustment {
    pub tag: PackageTag,
    /// The signed change (e.g. -1.50 g).
    pub delta: Quantity,
    pub reason_code: String,
    pub note: String,
    /// The count session whose discrepancy this resolves, if any.
    pub session: Option<Uuid>,
    /// Everyone who counted the package in that session: none of them may approve.
    pub counted_by: Vec<UserId>,
}

impl NewAdjustment {
    /// Checks the request against the state's reason list.
    pub fn validate(&self, reasons: &[AdjustmentReason]) -> Result<(), AdjustmentError> {
        if self.delta.is_zero() {
            return Err(AdjustmentError::Zero);
        }
        let reason =
            reasons.iter().find(|r| r.name == self.reason_code).ok_or_else(|| AdjustmentError::UnknownReason(self.reason_code.clone()))?;
        // The audit trail needs a note for every adjustment, whatever the state requires.
        if self.note.trim().is_empty() {
            return Err(AdjustmentError::NoteRequired(reason.name.clone()));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Decision {
    pub approved: bool,
    pub by: Actor,
    pub note: String,
}

/// A decision the server refused (made by someone not allowed to), kept for the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Refusal {
    pub decision: Decision,
    pub reason: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum AdjustmentStatus {
    Pending,
    Approved,
    Rejected,
}

/// The typed view of an adjustment document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdjustmentRequest {
    pub id: Uuid,
    pub facility: LicenseNumber,
    pub request: NewAdjustment,
    pub requested_by: Actor,
    pub decision: Option<Decision>,
    pub refusals: Vec<Refusal>,
}

impl AdjustmentRequest {
    pub fn status(&self) -> AdjustmentStatus {
        match &self.decision {
            None => AdjustmentStatus::Pending,
            Some(d) if d.approved => AdjustmentStatus::Approved,
            Some(_) => AdjustmentStatus::Rejected,
        }
    }

    /// The rule for who may decide: a manager who neither asked for it nor counted the package.
    pub fn check_decider(&self, user: UserId, role: Role) -> Result<(), AdjustmentError> {
        if role != Role::Manager {
            return Err(AdjustmentError::NotManager(role));
        }
        if self.requested_by.user == user {
            return Err(AdjustmentError::OwnRequest);
        }
        if self.request.counted_by.contains(&user) {
            return Err(AdjustmentError::OwnCount);
        }
        Ok(())
    }
}

impl AdjustmentRequest {
    /// Whether a ledger event that names this request (an adjustment, or the release of the
    /// quarantine) may be accepted: it must be by a manager allowed to decide this request, on
    /// the same package, and an adjustment must be exactly the requested change.
    pub fn check_execution(&self, event: &crate::event::Event, role: Role) -> Result<(), String> {
        if event.tag != self.request.tag {
            return Err(format!("it names adjustment request {} for {}, not {}", self.id, self.request.tag, event.tag));
        }
        self.check_decider(event.user, role).map_err(|e| e.to_string())?;
        if let crate::event::EventBody::Adjusted { delta, .. } = &event.body
            && (!delta.same_as(&self.request.delta) || delta.is_negative() != self.request.delta.is_negative())
        {
            return Err(format!("it adjusts by {delta}, but the approved request was for {}", self.request.delta));
        }
        Ok(())
    }
}

const REQUEST: &str = "request";
const REQUESTED_BY: &str = "requested_by";
const DECISION: &str = "decision";
const REFUSALS: &str = "refusals";

/// Creates the document for a new request.
pub fn create(id: Uuid, facility: LicenseNumber, writer: super::Writer, request: &NewAdjustment, by: &Actor) -> WorkDoc {
    let mut doc = WorkDoc::create(id, DocKind::Adjustment, facility, writer);
    // The request is immutable once made, so it is stored whole.
    doc.am.put(ROOT, REQUEST, json(request)).expect("fresh document");
    doc.am.put(ROOT, REQUESTED_BY, json(by)).expect("fresh document");
    doc.am.put_object(ROOT, REFUSALS, ObjType::List).expect("fresh document");
    doc
}

pub fn read(doc: &WorkDoc) -> Result<AdjustmentRequest, DocError> {
    let request = doc.get_json_at(REQUEST, None)?.ok_or(DocError::Missing { doc: doc.id, field: "request" })?;
    let requested_by = doc.get_json_at(REQUESTED_BY, None)?.ok_or(DocError::Missing { doc: doc.id, field: "requester" })?;
    let decision = doc.get_json_at(DECISION, None)?;
    let mut refusals = Vec::new();
    if let Some((_, list)) = doc.am.get(ROOT, REFUSALS).map_err(|e| DocError::corrupt("adjustment", e))? {
        for i in 0..doc.am.length(&list) {
            if let Some((automerge::Value::Scalar(s), _)) = doc.am.get(&list, i).map_err(|e| DocError::corrupt("adjustment", e))?
                && let Some(text) = s.as_str()
            {
                refusals.push(serde_json::from_str(text).map_err(|e| DocError::corrupt("adjustment refusal", e))?);
            }
        }
    }
    Ok(AdjustmentRequest { id: doc.id, facility: doc.facility.clone(), request, requested_by, decision, refusals })
}

/// Writes a decision (the caller has checked [`AdjustmentRequest::check_decider`]).
pub fn decide(doc: &mut WorkDoc, decision: &Decision) -> Result<(), DocError> {
    doc.am.put(ROOT, DECISION, json(decision)).map_err(|e| DocError::corrupt("adjustment", e))?;
    Ok(())
}

/// The server's check of a document after merging a device's changes (`before`: the heads it
/// had before). A decision by someone who may not decide, a second decision on a decided
/// request, or any change to the request itself is refused. Returns the reason, if any.
pub fn audit(doc: &WorkDoc, before: &[ChangeHash], roster: &[RosterEntry]) -> Result<Option<String>, DocError> {
    let request = read(doc)?;
    if !before.is_empty() {
        let old_request: Option<NewAdjustment> = doc.get_json_at(REQUEST, Some(before))?;
        let old_by: Option<Actor> = doc.get_json_at(REQUESTED_BY, Some(before))?;
        if old_request.is_some_and(|r| r != request.request) || old_by.is_some_and(|p| p != request.requested_by) {
            return Ok(Some("an adjustment request cannot be changed after it is made; make a new one".into()));
        }
    }
    let old_decision: Option<Decision> = if before.is_empty() { None } else { doc.get_json_at(DECISION, Some(before))? };
    if old_decision == request.decision {
        return Ok(None);
    }
    let Some(decision) = &request.decision else {
        return Ok(Some("a decision cannot be withdrawn; ask a manager to make a new request".into()));
    };
    if let Some(old) = &old_decision {
        let what = if old.approved { "approved" } else { "rejected" };
        return Ok(Some(format!("this adjustment was already {what} by {}", old.by.name)));
    }
    let Some(person) = roster.iter().find(|p| p.id == decision.by.user && p.active) else {
        return Ok(Some(format!("{} is not an active person of this facility", decision.by.name)));
    };
    Ok(request.check_decider(person.id, person.role).err().map(|e| format!("{}: {e}", person.name)))
}

/// Undoes a refused change: the request and decision go back to what they were at `before`, and
/// the refused decision is kept in the refusals list for the audit trail.
pub fn refuse_decision(doc: &mut WorkDoc, before: &[ChangeHash], reason: &str, at: DateTime<Utc>) -> Result<(), DocError> {
    let fail = |e: automerge::AutomergeError| DocError::corrupt("adjustment", e);
    let attempted = read(doc)?.decision;
    let old_decision: Option<Decision> = if before.is_empty() { None } else { doc.get_json_at(DECISION, Some(before))? };
    if !before.is_empty() {
        let old_request: Option<NewAdjustment> = doc.get_json_at(REQUEST, Some(before))?;
        let old_by: Option<Actor> = doc.get_json_at(REQUESTED_BY, Some(before))?;
        if let Some(r) = old_request {
            doc.am.put(ROOT, REQUEST, json(&r)).map_err(fail)?;
        }
        if let Some(p) = old_by {
            doc.am.put(ROOT, REQUESTED_BY, json(&p)).map_err(fail)?;
        }
    }
    match &old_decision {
        Some(d) => doc.am.put(ROOT, DECISION, json(d)).map_err(fail)?,
        None => doc.am.delete(ROOT, DECISION).map_err(fail)?,
    }
    if let Some(decision) = attempted.filter(|d| Some(d) != old_decision.as_ref()) {
        let refusal = Refusal { decision, reason: reason.to_string(), at };
        let list = match doc.am.get(ROOT, REFUSALS).map_err(fail)? {
            Some((_, list)) => list,
            None => doc.am.put_object(ROOT, REFUSALS, ObjType::List).map_err(fail)?,
        };
        let end = doc.am.length(&list);
        doc.am.insert(&list, end, json(&refusal)).map_err(fail)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::DeviceId;
    use crate::quantity::Unit;
    use rust_decimal::Decimal;

    fn person(name: &str) -> Actor {
        Actor { user: UserId::new(), name: name.into(), device: DeviceId::new(), at: Utc::now() }
    }

    fn request(counted_by: Vec<UserId>) -> NewAdjustment {
        NewAdjustment {
            tag: PackageTag::parse("1A4FF0100000022000001234").unwrap(),
            delta: Quantity::change(Decimal::new(-150, 2), Unit::G).unwrap(),
            reason_code: "Scale Variance".into(),
            note: "recount confirmed 1.50 g short".into(),
            session: None,
            counted_by,
        }
    }

    #[test]
    fn round_trips_and_decides() {
        let counter = person("Maria");
        let requester = person("Sam");
        let facility = LicenseNumber::parse("C11-1").unwrap();
        let mut doc =
            create(Uuid::now_v7(), facility, crate::work::Writer::Server(Uuid::now_v7()), &request(vec![counter.user]), &requester);
        let read_back = read(&doc).unwrap();
        assert_eq!(read_back.status(), AdjustmentStatus::Pending);
        assert_eq!(read_back.check_decider(counter.user, Role::Manager), Err(AdjustmentError::OwnCount));
        assert_eq!(read_back.check_decider(requester.user, Role::Manager), Err(AdjustmentError::OwnRequest));
        assert_eq!(read_back.check_decider(UserId::new(), Role::FloorStaff), Err(AdjustmentError::NotManager(Role::FloorStaff)));
        let boss = person("Ana");
        assert!(read_back.check_decider(boss.user, Role::Manager).is_ok());
        decide(&mut doc, &Decision { approved: true, by: boss, note: "ok".into() }).unwrap();
        assert_eq!(read(&doc).unwrap().status(), AdjustmentStatus::Approved);
    }

    #[test]
    fn audit_refuses_a_counter_deciding_and_keeps_the_attempt() {
        let counter = person("Maria");
        let facility = LicenseNumber::parse("C11-1").unwrap();
        let mut doc =
            create(Uuid::now_v7(), facility, crate::work::Writer::Server(Uuid::now_v7()), &request(vec![counter.user]), &person("Sam"));
        let before = doc.heads();
        decide(&mut doc, &Decision { approved: true, by: counter.clone(), note: "mine".into() }).unwrap();
        let roster = vec![RosterEntry {
            id: counter.user,
            name: "Maria".into(),
            role: Role::Manager,
            badge: "B".into(),
            keys: vec![],
            active: true,
        }];
        let reason = audit(&doc, &before, &roster).unwrap().expect("refused");
        assert!(reason.contains("you counted this package"), "{reason}");
        refuse_decision(&mut doc, &before, &reason, Utc::now()).unwrap();
        let after = read(&doc).unwrap();
        assert_eq!(after.status(), AdjustmentStatus::Pending);
        assert_eq!(after.refusals.len(), 1);
        assert_eq!(after.refusals[0].decision.by.name, "Maria");
        assert_eq!(audit(&doc, &before, &roster).unwrap(), None);

        // A legitimate rejection, then an attempt to overturn it: the rejection is restored.
        let boss = person("Ana");
        let roster = vec![
            roster[0].clone(),
            RosterEntry { id: boss.user, name: "Ana".into(), role: Role::Manager, badge: "A".into(), keys: vec![], active: true },
        ];
        let before = doc.heads();
        decide(&mut doc, &Decision { approved: false, by: boss.clone(), note: "no".into() }).unwrap();
        assert_eq!(audit(&doc, &before, &roster).unwrap(), None);
        let before = doc.heads();
        decide(&mut doc, &Decision { approved: true, by: counter, note: "overturn".into() }).unwrap();
        let reason = audit(&doc, &before, &roster).unwrap().expect("refused");
        assert!(reason.contains("already rejected by Ana"), "{reason}");
        refuse_decision(&mut doc, &before, &reason, Utc::now()).unwrap();
        let after = read(&doc).unwrap();
        assert_eq!(after.status(), AdjustmentStatus::Rejected);
        assert_eq!(after.decision.unwrap().by.name, "Ana");
        assert_eq!(after.refusals.len(), 2);
    }

    #[test]
    fn reasons_come_from_the_list_and_need_a_note() {
        let reasons = default_reasons();
        let mut r = request(vec![]);
        assert!(r.validate(&reasons).is_ok());
        r.reason_code = "Felt like it".into();
        assert!(matches!(r.validate(&reasons), Err(AdjustmentError::UnknownReason(_))));
        r.reason_code = "Theft".into();
        r.note = " ".into();
        assert!(matches!(r.validate(&reasons), Err(AdjustmentError::NoteRequired(_))));
    }
}
