//! The state system on the phone (issue 12, points 3 and 6): the inbound manifest inbox to open
//! receiving from, the state's lists, and the "State submissions" screen of managers and
//! compliance officers. Conversions only; the rules are core's (`custody_core::store::state_data`,
//! `custody_core::receiving::inbox`); the records are core's, derived there.

pub use custody_core::protocol::{FailedWrite, StateLocation, StateStatus};
use custody_core::receiving::inbox;
pub use custody_core::receiving::inbox::InboxEntry;
use custody_core::store::state_data;
pub use custody_core::store::state_data::StateSubmissions;

use crate::client::CustodyClient;
use crate::error::CustodyError;
use crate::listener::ChangeKind;

type Result<T, E = CustodyError> = std::result::Result<T, E>;

#[uniffi::export]
impl CustodyClient {
    /// The manifests the state lists for this facility (as of the last sync), with whether a
    /// receiving session is already open for each. Empty when the facility is not connected to
    /// a state system: then manifests are imported from files (`open_receiving`).
    pub fn receiving_inbox(&self) -> Result<Vec<InboxEntry>> {
        Ok(self.store.work(inbox::receiving_inbox)?)
    }

    /// Opens receiving for a manifest of the inbox, with the state's lab results recorded in the
    /// session; returns the session's id. `NotFound` if the manifest is not in the inbox.
    pub fn open_receiving_from_inbox(&self, manifest_number: String) -> Result<String> {
        let id = self.store.work(|w| inbox::open_receiving_from_inbox(w, &manifest_number))?;
        self.changed(&[ChangeKind::Inventory]);
        Ok(id.to_string())
    }

    /// Whether the person signed in may see the "State submissions" screen (managers and
    /// compliance officers); `false` when nobody is signed in.
    pub fn may_see_state_submissions(&self) -> Result<bool> {
        Ok(self.store.current_user()?.is_some_and(|u| state_data::may_see_state_status(u.role)))
    }

    /// The "State submissions" screen: the failed queue with the state's messages, the outbox
    /// length and the age of its oldest write, as the server last sent them. `Refused` for anyone
    /// but a manager or compliance officer.
    pub fn state_submissions(&self) -> Result<StateSubmissions> {
        Ok(self.store.work(|w| state_data::state_submissions(w))?)
    }

    /// The state's locations where packages may be placed (empty until the state sends them),
    /// for the move screen's pick list.
    pub fn state_locations(&self) -> Result<Vec<StateLocation>> {
        Ok(self.store.work(|w| state_data::state_locations(w))?)
    }
}
