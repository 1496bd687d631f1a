//! What the state system says, as the server last sent it (issue 12, points 3 and 6): the
//! revision of the state's data this device holds (sent back at each sync so the server sends it
//! again only when it changed), the inbound manifest inbox with the lab results of its batches,
//! the state's reference lists, and how the facility's submissions to the state stand.
//!
//! Kept in the `meta` table as JSON, not in tables of their own: the server sends the state's data
//! whole and the phone replaces it whole, in the transaction that applies the sync; it is read
//! whole (an inbox of a few manifests, lists of a few hundred names). Tables would add a
//! migration and queries for no read that needs them.
//!
//! The state's reference lists win over the facility's settings where the workflows read them
//! (the adjustment reasons, the item categories, the locations): `facility_settings.rs` applies
//! the one precedence rule, `crate::settings::chosen` (decision 0020).

use chrono::{DateTime, Utc};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use super::{Result, Store, StoreError, get_meta, set_meta};
use crate::protocol::{InboxManifest, StateData, StateLocation, StateStatus, SyncResponse};
use crate::roles::Role;

/// The state's data as last sent (`StateData`, JSON).
const META_STATE_DATA: &str = "state_data";
/// The facility's submission status as last sent ([`KeptStateStatus`], JSON).
const META_STATE_STATUS: &str = "state_status";

/// The facility's submissions to the state as the server last sent them, and when: a manager's
/// phone offline shows the last status it had with its age, not nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptStateStatus {
    pub status: StateStatus,
    /// The server's clock when it sent this status (the device's clock is not trusted).
    pub as_of: DateTime<Utc>,
}

/// Who may see how the facility's submissions stand: the server sends the failed queue (packages
/// and the state's messages) to managers and compliance officers only, and the phone shows it to
/// no one else.
pub fn may_see_state_status(role: Role) -> bool {
    role.handles_state_submissions()
}

/// Keeps what the sync answer says of the state, inside the transaction that applies it.
/// `state: None` keeps what the device holds (the server sends it only when it changed);
/// `state_status: None` clears the kept status (the facility is not connected, or the person
/// signed in is not one who may see it).
pub(super) fn keep(conn: &Connection, response: &SyncResponse) -> Result<()> {
    if let Some(data) = &response.state {
        set_meta(conn, META_STATE_DATA, data)?;
    }
    match &response.state_status {
        Some(status) => set_meta(conn, META_STATE_STATUS, &KeptStateStatus { status: status.clone(), as_of: response.server_time })?,
        None => {
            conn.execute("DELETE FROM meta WHERE key = ?1", [META_STATE_STATUS])?;
        }
    }
    Ok(())
}

/// The revision of the state's data this device holds (0 for none).
pub(crate) fn revision_in(conn: &Connection) -> Result<u64> {
    Ok(data_in(conn)?.map_or(0, |d| d.revision))
}

pub(crate) fn data_in(conn: &Connection) -> Result<Option<StateData>> {
    get_meta(conn, META_STATE_DATA)
}

/// The inbound manifests the state lists for this facility, as of the unit of work.
pub fn inbox(w: &super::UnitOfWork<'_>) -> Result<Vec<InboxManifest>> {
    Ok(data_in(w.conn())?.map(|d| d.manifests).unwrap_or_default())
}

/// The state's locations where packages may be placed (empty until the state sends them).
pub fn state_locations(w: &super::UnitOfWork<'_>) -> Result<Vec<StateLocation>> {
    Ok(data_in(w.conn())?.map(|d| d.reference.locations.into_iter().filter(|l| l.for_packages).collect()).unwrap_or_default())
}

/// The facility's submission status as last sent, for a manager or compliance officer; refused
/// to anyone else.
pub fn state_status(w: &super::UnitOfWork<'_>) -> Result<Option<KeptStateStatus>> {
    let user = w.user()?;
    if !may_see_state_status(user.role) {
        return Err(StoreError::Refused(format!("{} may not see the state submissions; ask a manager or compliance officer", user.role)));
    }
    get_meta(w.conn(), META_STATE_STATUS)
}

/// The "State submissions" screen: the status as last sent, with what the screen needs to say
/// how old things are (the corrected clock, decision 0002) and in which zone to show times.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct StateSubmissions {
    /// `None`: the server sent no status (not connected to a state system, or not synced yet).
    pub status: Option<StateStatus>,
    /// When the server sent it (its clock): a phone offline shows how old its view is.
    pub as_of: Option<DateTime<Utc>>,
    /// How long the oldest queued write has waited, in seconds, as of `read_at`.
    pub oldest_queued_age_secs: Option<i64>,
    /// This phone's corrected clock when this was read.
    pub read_at: DateTime<Utc>,
    /// The facility's time zone (IANA name) for showing times, if the server sent it.
    pub time_zone: Option<String>,
}

/// The state submissions screen, for a manager or compliance officer (refused to anyone else).
pub fn state_submissions(w: &super::UnitOfWork<'_>) -> Result<StateSubmissions> {
    let kept = state_status(w)?;
    let read_at = w.now()?;
    let oldest = kept.as_ref().and_then(|k| k.status.oldest_queued_at);
    Ok(StateSubmissions {
        oldest_queued_age_secs: oldest.map(|at| (read_at - at).num_seconds().max(0)),
        as_of: kept.as_ref().map(|k| k.as_of),
        status: kept.map(|k| k.status),
        read_at,
        time_zone: w.facility_time_zone()?.map(|z| z.name().to_string()),
    })
}

impl Store {
    /// The revision of the state's data this device holds, sent with each sync (0 for none).
    pub fn state_revision(&self) -> Result<u64> {
        revision_in(&self.conn())
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::ids::ItemName;
    use crate::protocol::{FailedWrite, ReferenceData, RosterEntry, StateItem};
    use crate::quantity::Unit;
    use crate::store::tests::test_key;
    use crate::testing::{enrol_offline, person};
    use crate::work::adjustment::AdjustmentReason;

    fn phone(dir: &tempfile::TempDir) -> (Store, Vec<RosterEntry>) {
        let store = Store::open(dir.path().join("device.db"), &test_key()).unwrap();
        let roster = enrol_offline(
            &store,
            "C11-0000001-LIC",
            &[(person("Maria", Role::FloorStaff, "B-1"), "1234"), (person("Sam", Role::Manager, "B-2"), "9876")],
        )
        .unwrap();
        (store, roster)
    }

    fn data(revision: u64, reasons: &[(&str, bool)], items: &[(&str, &str)]) -> StateData {
        StateData {
            revision,
            manifests: Vec::new(),
            reference: ReferenceData {
                items: items
                    .iter()
                    .map(|(name, category)| StateItem {
                        name: ItemName::parse(name).unwrap(),
                        category: category.to_string(),
                        unit: Unit::G,
                    })
                    .collect(),
                locations: Vec::new(),
                adjustment_reasons: reasons.iter().map(|(n, r)| AdjustmentReason { name: n.to_string(), requires_note: *r }).collect(),
            },
        }
    }

    fn status(queued: u64) -> StateStatus {
        StateStatus {
            connected: true,
            stopped: None,
            key_warning: None,
            queued,
            oldest_queued_at: Some(Utc::now() - chrono::Duration::hours(3)),
            unapproved: 1,
            failed: vec![FailedWrite {
                seq: 7,
                kind: "adjust".into(),
                packages: vec![crate::ids::PackageTag::parse("1A4FF0100000022000000001").unwrap()],
                message: "Package not found".into(),
                queued_at: Utc::now(),
            }],
            last_pull_at: Some(Utc::now()),
        }
    }

    fn sync(store: &Store, roster: &[RosterEntry], state: Option<StateData>, state_status: Option<StateStatus>) {
        let response = SyncResponse { roster: roster.to_vec(), server_time: Utc::now(), state, state_status, ..Default::default() };
        store.apply_sync(&response, Utc::now()).unwrap();
    }

    #[test]
    fn the_revision_is_kept_and_a_sync_without_state_data_keeps_what_the_phone_holds() {
        let dir = tempfile::tempdir().unwrap();
        let (store, roster) = phone(&dir);
        assert_eq!(store.state_revision().unwrap(), 0, "a phone with no state data asks for all of it");
        sync(&store, &roster, Some(data(41, &[("Waste", true)], &[])), None);
        assert_eq!(store.state_revision().unwrap(), 41);
        sync(&store, &roster, None, None);
        assert_eq!(store.state_revision().unwrap(), 41, "None means: nothing changed");
        // Kept on disk: a reopened store sends the same revision.
        drop(store);
        let store = Store::open(dir.path().join("device.db"), &test_key()).unwrap();
        assert_eq!(store.state_revision().unwrap(), 41);
    }

    #[test]
    fn the_states_lists_win_over_the_facilitys_settings_which_win_over_the_built_in_ones() {
        let dir = tempfile::tempdir().unwrap();
        let (store, roster) = phone(&dir);
        let reasons = |store: &Store| -> Vec<String> {
            store.work(crate::approvals::adjustment_reasons).unwrap().into_iter().map(|r| r.name).collect()
        };
        // Before any settings: the built-in reasons, no categories.
        assert_eq!(store.work(crate::approvals::adjustment_reasons).unwrap(), crate::work::adjustment::default_reasons());
        assert!(store.work(crate::counts::item_categories).unwrap().0.is_empty());
        // The facility's settings from the server.
        let ours = crate::settings::FacilitySettings {
            revision: 3,
            item_categories: [("Gummies".to_string(), "Edible".to_string())].into(),
            adjustment_reasons: vec![AdjustmentReason { name: "Ours".into(), requires_note: true }],
            ..Default::default()
        };
        let response = SyncResponse { roster: roster.clone(), server_time: Utc::now(), settings: Some(ours), ..Default::default() };
        store.apply_sync(&response, Utc::now()).unwrap();
        assert_eq!(store.settings_revision().unwrap(), 3);
        assert_eq!(reasons(&store), ["Ours"]);
        assert_eq!(store.work(crate::counts::item_categories).unwrap().0.get("Gummies").map(String::as_str), Some("Edible"));
        // The state's lists, once sent, win.
        sync(&store, &roster, Some(data(1, &[("Damaged", false), ("Theft", true)], &[("Live Resin 1g", "Concentrate")])), None);
        assert_eq!(reasons(&store), ["Damaged", "Theft"]);
        let categories = store.work(crate::counts::item_categories).unwrap().0;
        assert_eq!(categories.get("Live Resin 1g").map(String::as_str), Some("Concentrate"));
        assert!(!categories.contains_key("Gummies"), "the state's list replaces the facility's");
        assert_eq!(store.settings_revision().unwrap(), 3, "a sync without settings keeps them");
        // A revision whose lists the server has not pulled yet: the facility's again.
        sync(&store, &roster, Some(data(2, &[], &[])), None);
        assert_eq!(reasons(&store), ["Ours"]);
    }

    #[test]
    fn the_status_is_kept_as_last_sent_with_its_time_and_only_managers_see_it() {
        let dir = tempfile::tempdir().unwrap();
        let (store, roster) = phone(&dir);
        store.sign_in("B-2", "9876").unwrap();
        assert_eq!(store.work(|w| state_status(w)).unwrap(), None);
        sync(&store, &roster, None, Some(status(12)));
        let kept = store.work(|w| state_status(w)).unwrap().unwrap();
        assert_eq!(kept.status.queued, 12);
        assert_eq!(kept.status.failed[0].message, "Package not found");
        assert!((Utc::now() - kept.as_of).num_seconds() < 60);
        // Offline, the phone still shows the last one (nothing cleared it); a sync that carries
        // none (disconnected) clears it.
        sync(&store, &roster, None, Some(status(3)));
        assert_eq!(store.work(|w| state_status(w)).unwrap().unwrap().status.queued, 3);
        sync(&store, &roster, None, None);
        assert_eq!(store.work(|w| state_status(w)).unwrap(), None);
        sync(&store, &roster, None, Some(status(5)));
        store.sign_out().unwrap();
        store.sign_in("B-1", "1234").unwrap();
        let err = store.work(|w| state_status(w)).unwrap_err();
        assert!(err.to_string().contains("floor staff may not see the state submissions"), "{err}");
    }
}
