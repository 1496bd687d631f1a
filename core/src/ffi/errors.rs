//! Which [`CustodyError`] each of core's errors is to the apps: the variant says what the app
//! does next, the message is core's sentence unchanged (docs/decisions/0009). Above every
//! module whose error it names (tests/check-layers.py), below nothing.

use super::CustodyError;
use crate::approvals::ApprovalError;
use crate::conflicts::ConflictError;
use crate::counts::CountError;
use crate::event::EventError;
use crate::outbound::OrderError;
use crate::outbound::picking::OutboundError;
use crate::receiving::opening::OpeningError;
use crate::receiving::session::ReceivingError;
use crate::scan::ScanError;
use crate::store::StoreError;
use crate::sync::SyncError;
use crate::work::DocError;
use crate::work::adjustment::AdjustmentError;

use CustodyError as E;

impl From<EventError> for CustodyError {
    fn from(e: EventError) -> Self {
        match e {
            EventError::HashMismatch { .. } | EventError::NotV7(_) => E::Storage(e.to_string()),
            _ => E::InvalidInput(e.to_string()),
        }
    }
}

impl From<DocError> for CustodyError {
    fn from(e: DocError) -> Self {
        E::Storage(e.to_string())
    }
}

impl From<StoreError> for CustodyError {
    fn from(e: StoreError) -> Self {
        let message = e.to_string();
        match e {
            StoreError::NotEnrolled => E::NotEnrolled(message),
            StoreError::AlreadyEnrolled(_) => E::Refused(message),
            StoreError::NotSignedIn => E::NotSignedIn(message),
            StoreError::BadCredentials | StoreError::WrongPin { .. } => E::BadCredentials(message),
            // The person's key must come from the server: connect, then sign in again.
            StoreError::NeedsOnlineSignIn | StoreError::SignInKeyErased => E::Offline(message),
            StoreError::NotAllowed { .. } => E::NotAllowed(message),
            StoreError::InvalidEvent(e) => e.into(),
            StoreError::Refused(_) => E::Refused(message),
            StoreError::BadRemoteEvent(_) => E::Server(message),
            StoreError::Sqlite(_)
            | StoreError::Corrupt(_)
            | StoreError::Doc(_)
            | StoreError::KeyMismatch
            | StoreError::NewerSchema { .. }
            | StoreError::Io { .. } => E::Storage(message),
        }
    }
}

impl From<CountError> for CustodyError {
    fn from(e: CountError) -> Self {
        let message = e.to_string();
        match e {
            CountError::Store(e) => e.into(),
            CountError::BadTag(_) | CountError::Negative | CountError::Quantity(_) | CountError::EmptyScope | CountError::Text(_) => {
                E::InvalidInput(message)
            }
            CountError::NotAllowed { .. } | CountError::SameCounter { .. } => E::NotAllowed(message),
            CountError::UnknownSession(_) | CountError::UnknownPackage { .. } | CountError::NoReview | CountError::NoDiscrepancy { .. } => {
                E::NotFound(message)
            }
            CountError::Closed
            | CountError::Quarantined { .. }
            | CountError::NotInScope { .. }
            | CountError::NotForRecount { .. }
            | CountError::NothingInScope
            | CountError::RecountMissing(_) => E::Refused(message),
        }
    }
}

impl From<AdjustmentError> for CustodyError {
    fn from(e: AdjustmentError) -> Self {
        let message = e.to_string();
        match e {
            AdjustmentError::NotManager(_) | AdjustmentError::OwnCount | AdjustmentError::OwnRequest => E::NotAllowed(message),
            AdjustmentError::AlreadyDecided(_) => E::Refused(message),
            AdjustmentError::UnknownReason(_) | AdjustmentError::NoteRequired(_) | AdjustmentError::Zero => E::InvalidInput(message),
        }
    }
}

impl From<ApprovalError> for CustodyError {
    fn from(e: ApprovalError) -> Self {
        let message = e.to_string();
        match e {
            ApprovalError::UnknownRequest(_) | ApprovalError::UnknownPackage(_) => E::NotFound(message),
            ApprovalError::NotAllowed { .. } => E::NotAllowed(message),
            ApprovalError::Text(_) | ApprovalError::Quantity(_) => E::InvalidInput(message),
            ApprovalError::Rule(e) => e.into(),
            ApprovalError::Count(e) => e.into(),
            ApprovalError::Store(e) => e.into(),
        }
    }
}

impl From<ConflictError> for CustodyError {
    fn from(e: ConflictError) -> Self {
        let message = e.to_string();
        match e {
            ConflictError::NotAllowed { .. } => E::NotAllowed(message),
            ConflictError::Unknown { .. } => E::NotFound(message),
            ConflictError::AlreadyResolved { .. } => E::Refused(message),
            ConflictError::MissingNote => E::InvalidInput(message),
            ConflictError::Event(e) => e.into(),
            ConflictError::Store(e) => e.into(),
        }
    }
}

impl From<SyncError> for CustodyError {
    fn from(e: SyncError) -> Self {
        let message = e.to_string();
        match e {
            SyncError::Offline(_) => E::Offline(message),
            SyncError::Unauthorized(_) => E::Unauthorized(message),
            SyncError::InsecureUrl(_) => E::InvalidInput(message),
            // The server's own refusals, by HTTP meaning; 429 and 5xx mean "try again later".
            SyncError::Server { status: 410, .. } => E::Unauthorized(message), // a used or expired enrolment code
            SyncError::Server { status: 403, .. } => E::NotAllowed(message),
            SyncError::Server { status: 404, .. } => E::NotFound(message),
            SyncError::Server { status: 400..=428 | 430..=499, .. } => E::Refused(message),
            SyncError::Server { .. } | SyncError::Protocol(_) => E::Server(message),
            SyncError::Store(e) => e.into(),
        }
    }
}

impl From<ScanError> for CustodyError {
    fn from(e: ScanError) -> Self {
        E::InvalidInput(e.to_string())
    }
}

impl From<ReceivingError> for CustodyError {
    fn from(e: ReceivingError) -> Self {
        let message = e.to_string();
        match e {
            ReceivingError::Store(e) => e.into(),
            ReceivingError::Manifest(_)
            | ReceivingError::Scan(_)
            | ReceivingError::NotATag
            | ReceivingError::UnknownScale(_)
            | ReceivingError::BadWeight
            | ReceivingError::FinerThanAHundredth { .. }
            | ReceivingError::NoReason
            | ReceivingError::Quantity(_)
            | ReceivingError::Text(_)
            | ReceivingError::Bound(_)
            | ReceivingError::Id(_)
            | ReceivingError::NotALabel
            | ReceivingError::LabelWithoutFacts => E::InvalidInput(message),
            ReceivingError::NotAllowed { .. } => E::NotAllowed(message),
            ReceivingError::UnknownSession(_) | ReceivingError::NotInSession { .. } | ReceivingError::NotInInbox(_) => E::NotFound(message),
            ReceivingError::AlreadyOpen(_)
            | ReceivingError::Completed
            | ReceivingError::ScaleOutOfCalibration { .. }
            | ReceivingError::AcceptUnexpected { .. }
            | ReceivingError::NeedsOverride { .. }
            | ReceivingError::NoBatch { .. }
            | ReceivingError::LabelNotOnManifest { .. }
            | ReceivingError::NoLabelChecks
            | ReceivingError::Unresolved(_) => E::Refused(message),
        }
    }
}

impl From<OpeningError> for CustodyError {
    fn from(e: OpeningError) -> Self {
        let message = e.to_string();
        match e {
            OpeningError::Store(e) => e.into(),
            OpeningError::Line { source, tag } => match CustodyError::from(source) {
                E::InvalidInput(m) => E::InvalidInput(format!("{tag}: {m}")),
                E::Refused(m) => E::Refused(format!("{tag}: {m}")),
                other => other,
            },
            OpeningError::NotManager(_) => E::NotAllowed(message),
            OpeningError::Empty => E::InvalidInput(message),
            OpeningError::AlreadyInStock { .. } | OpeningError::Twice { .. } => E::Refused(message),
        }
    }
}

impl From<OutboundError> for CustodyError {
    fn from(e: OutboundError) -> Self {
        let message = e.to_string();
        match e {
            OutboundError::Store(e) => e.into(),
            OutboundError::Approval(e) => e.into(),
            // Stock, customers and numbers already used are the state of things, not a typo.
            OutboundError::Order(OrderError::NotAvailable { .. } | OrderError::UnknownCustomer(_) | OrderError::DuplicateNumber(_)) => {
                E::Refused(message)
            }
            OutboundError::Order(_)
            | OutboundError::Input(_)
            | OutboundError::Scan(_)
            | OutboundError::NotATag
            | OutboundError::NoContainer
            | OutboundError::BadGrossWeight
            | OutboundError::NoReason
            | OutboundError::Text(_)
            | OutboundError::Bound(_)
            | OutboundError::WeightNeeded { .. } => E::InvalidInput(message),
            OutboundError::NotAllowed { .. } => E::NotAllowed(message),
            OutboundError::UnknownOrder(_)
            | OutboundError::UnknownManifest(_)
            | OutboundError::UnknownPackage(_)
            | OutboundError::UnknownStop(_) => E::NotFound(message),
            OutboundError::Seal(_) => E::Storage(message),
            OutboundError::PickList(_)
            | OutboundError::OrderState { .. }
            | OutboundError::NotOnPickList { .. }
            | OutboundError::WrongPackage { .. }
            | OutboundError::WrongQuantity { .. }
            | OutboundError::AlreadyPicked { .. }
            | OutboundError::Substitute(_)
            | OutboundError::NotPicked { .. }
            | OutboundError::Incomplete(_)
            | OutboundError::Manifest(_)
            | OutboundError::NotDueBack(_) => E::Refused(message),
        }
    }
}
