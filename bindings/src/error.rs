//! The one error the apps see. Each variant says what the app should do; the message is core's
//! sentence, written for the person holding the phone, passed through unchanged.
//!
//! Kotlin: `CustodyException.InvalidInput` etc. (`e.message` is the sentence); Swift:
//! `CustodyError.InvalidInput(message:)`.

use custody_core::approvals::ApprovalError;
use custody_core::counts::CountError;
use custody_core::event::EventError;
use custody_core::ids::IdError;
use custody_core::input::InputError;
use custody_core::outbound::OrderError;
use custody_core::outbound::picking::OutboundError;
use custody_core::quantity::QuantityError;
use custody_core::receiving::session::ReceivingError;
use custody_core::scan::ScanError;
use custody_core::store::StoreError;
use custody_core::sync::SyncError;
use custody_core::work::DocError;
use custody_core::work::adjustment::AdjustmentError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum CustodyError {
    /// What was scanned or typed is wrong: show the message, let the person correct it.
    #[error("{0}")]
    InvalidInput(String),
    /// This device has no enrolment yet: show the enrolment screen.
    #[error("{0}")]
    NotEnrolled(String),
    /// Nobody is signed in: show the sign-in screen.
    #[error("{0}")]
    NotSignedIn(String),
    /// Badge or PIN not recognised: let them try again.
    #[error("{0}")]
    BadCredentials(String),
    /// This person (their role, or their part in the work) may not do this: ask someone else.
    #[error("{0}")]
    NotAllowed(String),
    /// The state of things does not allow it now (a quarantined package, a closed count, a
    /// decided request): show the message; nothing changed.
    #[error("{0}")]
    Refused(String),
    /// The package, session or request is not on this device: sync, or check what was scanned.
    #[error("{0}")]
    NotFound(String),
    /// No connection to the sync server: the work is saved here and syncs later.
    #[error("{0}")]
    Offline(String),
    /// The server refused this device or code (revoked, unknown token, an enrolment code that
    /// is wrong, used or expired): enrol again with a new code from a manager.
    #[error("{0}")]
    Unauthorized(String),
    /// The server answered with an error or something unreadable: try later, then call support.
    #[error("{0}")]
    Server(String),
    /// The device database failed or holds data it cannot read: call support.
    #[error("{0}")]
    Storage(String),
}

use CustodyError as E;

impl From<IdError> for CustodyError {
    fn from(e: IdError) -> Self {
        E::InvalidInput(e.to_string())
    }
}

impl From<InputError> for CustodyError {
    fn from(e: InputError) -> Self {
        E::InvalidInput(e.to_string())
    }
}

impl From<QuantityError> for CustodyError {
    fn from(e: QuantityError) -> Self {
        E::InvalidInput(e.to_string())
    }
}

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
            | ReceivingError::NoReason
            | ReceivingError::Quantity(_)
            | ReceivingError::Text(_)
            | ReceivingError::Bound(_)
            | ReceivingError::Id(_)
            | ReceivingError::CalibrationInterval { .. } => E::InvalidInput(message),
            ReceivingError::NotAllowed { .. } => E::NotAllowed(message),
            ReceivingError::UnknownSession(_) | ReceivingError::NotInSession { .. } => E::NotFound(message),
            ReceivingError::AlreadyOpen(_)
            | ReceivingError::Completed
            | ReceivingError::ScaleOutOfCalibration { .. }
            | ReceivingError::AcceptUnexpected { .. }
            | ReceivingError::NeedsOverride { .. }
            | ReceivingError::NoBatch { .. }
            | ReceivingError::Unresolved(_) => E::Refused(message),
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
