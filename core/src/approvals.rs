//! Adjustment requests and their remote approval. A request lives in its own work document; a
//! manager decides on it from any device, possibly while the counters are offline. An approved
//! adjustment enters the ledger (with the request's id, so the server can check who approved)
//! and ends the package's quarantine.

use uuid::Uuid;

use crate::counts::CountError;
use crate::event::{Event, EventBody};
use crate::fold::PackageStatus;
use crate::ids::{LicenseNumber, PackageTag, UserId};
use crate::people::Actor;
use crate::quantity::Quantity;
use crate::roles::Role;
use crate::store::{StoreError, UnitOfWork};
use crate::text;
use crate::work::adjustment::{
    self, AdjustmentError, AdjustmentReason, AdjustmentRequest, AdjustmentStatus, Decision, NewAdjustment, Refusal,
};
use crate::work::{DocError, DocKind, count};

#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    #[error("there is no adjustment request {0} on this device; sync, or check the request")]
    UnknownRequest(Uuid),
    #[error("{role} may not request an adjustment")]
    NotAllowed { role: Role },
    #[error("{0} is not in this facility's inventory")]
    UnknownPackage(PackageTag),
    #[error(transparent)]
    Rule(#[from] AdjustmentError),
    #[error(transparent)]
    Count(#[from] CountError),
    #[error(transparent)]
    Text(#[from] crate::text::TextError),
    #[error("adjustment: {0}")]
    Quantity(#[from] crate::quantity::QuantityError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<DocError> for ApprovalError {
    fn from(e: DocError) -> Self {
        ApprovalError::Store(StoreError::Doc(e))
    }
}

pub type Result<T, E = ApprovalError> = std::result::Result<T, E>;

/// A request waiting for a decision, and whether the signed-in person may decide it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingApproval {
    pub request: AdjustmentRequest,
    /// `None` if the signed-in person may decide; otherwise why not.
    pub cannot_decide: Option<String>,
}

/// A pending request as the apps show it (the apps' `PendingApproval`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record), uniffi(name = "PendingApproval"))]
pub struct PendingApprovalView {
    pub request: AdjustmentView,
    /// `None` if the signed-in person may decide; otherwise why not.
    pub cannot_decide: Option<String>,
}

impl From<PendingApproval> for PendingApprovalView {
    fn from(p: PendingApproval) -> Self {
        PendingApprovalView { request: p.request.into(), cannot_decide: p.cannot_decide }
    }
}

/// An adjustment request and its decision, as the apps show it (the request's facts, who
/// asked, and where it stands).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record), uniffi(name = "AdjustmentRequest"))]
pub struct AdjustmentView {
    pub id: Uuid,
    pub facility: LicenseNumber,
    pub tag: PackageTag,
    /// The signed change, e.g. `"-0.50"` g.
    pub delta: Quantity,
    pub reason_code: String,
    pub note: String,
    /// The count session whose discrepancy it resolves.
    pub session_id: Option<Uuid>,
    /// Everyone who counted the package in that session: none of them may approve.
    pub counted_by: Vec<UserId>,
    pub requested_by: Actor,
    pub status: AdjustmentStatus,
    pub decision: Option<Decision>,
    pub refusals: Vec<Refusal>,
}

impl From<AdjustmentRequest> for AdjustmentView {
    fn from(r: AdjustmentRequest) -> Self {
        AdjustmentView {
            status: r.status(),
            id: r.id,
            facility: r.facility,
            tag: r.request.tag,
            delta: r.request.delta,
            reason_code: r.request.reason_code,
            note: r.request.note,
            session_id: r.request.session,
            counted_by: r.request.counted_by,
            requested_by: r.requested_by,
            decision: r.decision,
            refusals: r.refusals,
        }
    }
}

/// The adjustment reasons a request may give: the state's list when the state sent one, else the
/// facility's settings from the server, else the built-in list.
pub fn adjustment_reasons(w: &mut UnitOfWork<'_>) -> Result<Vec<AdjustmentReason>> {
    Ok(crate::store::facility_settings::adjustment_reasons(w)?)
}

/// Requests an adjustment of a package: a signed change, a reason from the state's list and a
/// note. When it resolves a count discrepancy, name the session: everyone who counted the
/// package is recorded, and none of them may approve it.
pub fn request_adjustment(
    w: &mut UnitOfWork<'_>,
    tag: &PackageTag,
    delta: Quantity,
    reason_code: &str,
    note: &str,
    session: Option<Uuid>,
) -> Result<Uuid> {
    let user = w.user()?;
    if !matches!(user.role, Role::FloorStaff | Role::Manager | Role::Compliance) {
        return Err(ApprovalError::NotAllowed { role: user.role });
    }
    if w.package(tag)?.is_none() {
        return Err(ApprovalError::UnknownPackage(tag.clone()));
    }
    let counted_by = match session {
        Some(s) => crate::counts::counters_of(w, s, tag)?,
        None => Vec::new(),
    };
    let request = NewAdjustment {
        tag: tag.clone(),
        delta: delta.checked()?,
        reason_code: reason_code.trim().to_string(),
        note: text::clean(text::note("note"), note)?,
        session,
        counted_by,
    };
    request.validate(&adjustment_reasons(w)?)?;
    let identity = w.identity()?;
    let by = Actor { user: user.id, name: user.name, device: identity.device_id, at: w.now()? };
    let id = Uuid::now_v7();
    let doc = adjustment::create(id, identity.facility, w.writer()?, &request, &by);
    let review = match session {
        Some(s) => Some(crate::counts::review_of(w, s)?),
        None => None,
    };
    w.create(doc);
    // Managers hold the review: link the request to the discrepancy it resolves.
    if let Some(review) = review
        && let Some(review) = w.doc(review)?
    {
        count::link_adjustment(review, tag, id)?;
    }
    Ok(id)
}

/// One adjustment request (`UnknownRequest` if this device does not hold it).
pub fn adjustment(w: &mut UnitOfWork<'_>, id: Uuid) -> Result<AdjustmentRequest> {
    read_adjustment(w, id)
}

/// Every adjustment request on this device.
pub fn adjustments(w: &mut UnitOfWork<'_>) -> Result<Vec<AdjustmentRequest>> {
    w.docs(Some(DocKind::Adjustment))?.into_iter().map(|d| read_adjustment(w, d.id)).collect()
}

/// Requests waiting for a decision, with whether the signed-in person may decide each.
pub fn pending_approvals(w: &mut UnitOfWork<'_>) -> Result<Vec<PendingApproval>> {
    let user = w.user()?;
    Ok(adjustments(w)?
        .into_iter()
        .filter(|r| r.status() == AdjustmentStatus::Pending)
        .map(|request| PendingApproval { cannot_decide: request.check_decider(user.id, user.role).err().map(|e| e.to_string()), request })
        .collect())
}

/// Approves a request: the decision, the adjustment event and the release of the quarantine
/// commit together.
pub fn approve_adjustment(w: &mut UnitOfWork<'_>, id: Uuid, note: &str) -> Result<Vec<Event>> {
    decide(w, id, true, note)
}

/// Rejects a request; the package stays quarantined until someone resolves it otherwise.
pub fn reject_adjustment(w: &mut UnitOfWork<'_>, id: Uuid, note: &str) -> Result<()> {
    decide(w, id, false, note).map(|_| ())
}

fn decide(w: &mut UnitOfWork<'_>, id: Uuid, approved: bool, note: &str) -> Result<Vec<Event>> {
    // The request, its state and the package as of the transaction that decides it.
    let user = w.user()?;
    let request = read_adjustment(w, id)?;
    match request.status() {
        AdjustmentStatus::Approved => return Err(AdjustmentError::AlreadyDecided("approved").into()),
        AdjustmentStatus::Rejected => return Err(AdjustmentError::AlreadyDecided("rejected").into()),
        AdjustmentStatus::Pending => {}
    }
    request.check_decider(user.id, user.role)?;
    let identity = w.identity()?;
    let decision = Decision {
        approved,
        by: Actor { user: user.id, name: user.name.clone(), device: identity.device_id, at: w.now()? },
        note: text::clean(text::note("note"), note)?,
    };
    let tag = request.request.tag.clone();
    let review = match request.request.session {
        Some(s) => crate::counts::review_of(w, s).ok(),
        None => None,
    };
    // Released only if it is quarantined when the adjustment is written, not before.
    let quarantined = w.package(&tag)?.is_some_and(|p| p.status == PackageStatus::Quarantined);
    let doc = w.doc(id)?.ok_or(ApprovalError::UnknownRequest(id))?;
    adjustment::decide(doc, &decision)?;
    let mut events = Vec::new();
    if approved {
        let r = &request.request;
        events.push(w.record(
            &tag,
            EventBody::Adjusted {
                request: Some(id),
                delta: r.delta,
                reason: r.reason_code.clone(),
                note: format!("{} (approved by {}: {})", r.note, decision.by.name, decision.note),
            },
        )?);
        if quarantined {
            events.push(
                w.record(&tag, EventBody::Released { request: Some(id), note: format!("adjustment approved by {}", decision.by.name) })?,
            );
        }
        if let Some(review) = review
            && let Some(review) = w.doc(review)?
        {
            count::resolve_discrepancy(review, &tag)?;
        }
    }
    Ok(events)
}

/// Reads an adjustment request (`UnknownRequest` if it is not one) inside a unit of work.
fn read_adjustment(w: &mut UnitOfWork<'_>, id: Uuid) -> Result<AdjustmentRequest> {
    w.read::<_, ApprovalError>(id, |doc| {
        if doc.kind != DocKind::Adjustment {
            return Err(ApprovalError::UnknownRequest(id));
        }
        Ok(adjustment::read(doc)?)
    })?
    .ok_or(ApprovalError::UnknownRequest(id))
}

/// Every adjustment request on this device (the name the outbound workflows call it by).
pub(crate) fn adjustments_in(w: &mut UnitOfWork<'_>) -> Result<Vec<AdjustmentRequest>> {
    adjustments(w)
}
