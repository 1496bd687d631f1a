//! Listeners the app implements (Kotlin interfaces, Swift protocols) to refresh its screens.
//!
//! They are called on the thread that made the change: the caller's for local writes, a
//! background thread for `sync_now`. Implementations must be quick and thread-safe (post to the
//! UI thread; never call back into the client from inside them).

use crate::types::SyncStatus;

/// Told the sync status after every sync attempt (success or failure) and after enrolment.
#[uniffi::export(with_foreign)]
pub trait SyncListener: Send + Sync {
    fn on_status(&self, status: SyncStatus);
}

/// What changed, so the app knows which screens to reload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum ChangeKind {
    /// Packages, their history, pending flags or conflicts.
    Inventory,
    /// Count sessions, their entries, variances or discrepancies.
    CountSessions,
    /// Adjustment requests and their decisions.
    Adjustments,
    /// Who is signed in, or the device's enrolment.
    SignIn,
    /// Orders, pick lists, packing, manifests and routes.
    Outbound,
}

/// Told what changed after a local write or a sync that brought something new; once per kind.
#[uniffi::export(with_foreign)]
pub trait ChangeListener: Send + Sync {
    fn on_change(&self, what: ChangeKind);
}
