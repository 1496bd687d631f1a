//! The inbound manifest inbox: the incoming transfers the state system lists for this facility,
//! as the server last sent them (`store::state_data`), and opening receiving from one. The file
//! import (`session::open_receiving`) stays as the fallback; both open the session the same way.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::manifest::InboundManifest;
use super::session::{self, ReceivingError, Result};
use crate::ids::LicenseNumber;
use crate::store::UnitOfWork;
use crate::store::state_data;
use crate::work::DocKind;
use crate::work::receiving as doc;

/// One manifest of the inbox, as the list to pick from shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct InboxEntry {
    pub manifest_number: String,
    pub shipper_name: String,
    pub shipper_license: LicenseNumber,
    pub packages: u64,
    pub estimated_arrival: Option<DateTime<Utc>>,
    /// When the server last read it from the state.
    pub pulled_at: DateTime<Utc>,
    /// The receiving session this device holds for it, if one was opened (here or on another
    /// phone, synced).
    pub session: Option<Uuid>,
    /// That session is completed: the manifest leaves the inbox at the server's next pull.
    pub received: bool,
}

/// The manifests of the inbox, in the order the server sent them, with whether a receiving
/// session is already open for each.
pub fn receiving_inbox(w: &mut UnitOfWork<'_>) -> Result<Vec<InboxEntry>> {
    let sessions = sessions_by_manifest(w)?;
    Ok(state_data::inbox(w)?
        .into_iter()
        .map(|m| {
            let session = sessions.iter().find(|(number, _, _)| *number == m.manifest.manifest_number);
            InboxEntry {
                packages: m.manifest.packages.len() as u64,
                estimated_arrival: m.manifest.estimated_arrival,
                pulled_at: m.pulled_at,
                session: session.map(|(_, id, _)| *id),
                received: session.is_some_and(|(_, _, completed)| *completed),
                shipper_name: m.manifest.shipper_name,
                shipper_license: m.manifest.shipper_license,
                manifest_number: m.manifest.manifest_number,
            }
        })
        .collect())
}

/// Opens receiving for a manifest of the inbox, as the file import opens it (the same checks of
/// the manifest, the same people, once per manifest), and records the state's lab results for its
/// batches in the session: a passed, current certificate clears the package's "no certificate"
/// flag. Returns the session's id.
pub fn open_receiving_from_inbox(w: &mut UnitOfWork<'_>, manifest_number: &str) -> Result<Uuid> {
    session::receiver(w)?;
    let number = manifest_number.trim();
    let entry = state_data::inbox(w)?
        .into_iter()
        .find(|m| m.manifest.manifest_number == number)
        .ok_or_else(|| ReceivingError::NotInInbox(number.to_string()))?;
    // The manifest is read again by the rules a file is read by: the server's copy is trusted no
    // more than a file (another licence, a tag listed twice, texts beyond their rules).
    let facility = w.identity()?.facility;
    let value = serde_json::to_value(&entry.manifest).map_err(|e| crate::store::StoreError::Corrupt(e.to_string()))?;
    let manifest = InboundManifest::from_state(&value, &facility, w.facility_time_zone()?)?;
    let batches: Vec<&str> = manifest.packages.iter().filter_map(|p| p.production_batch_number.as_ref().map(|b| b.as_str())).collect();
    let id = session::open_manifest(w, manifest.clone())?;
    let d = w.doc(id)?.ok_or(ReceivingError::UnknownSession(id))?;
    for coa in entry.coas.iter().filter(|c| batches.contains(&c.batch.as_str())) {
        // A certificate beyond the rules is left out, not the manifest: its packages stay flagged
        // "no certificate", and the receiver records one by hand or a manager decides.
        if let Err(e) = session::check_coa(coa) {
            tracing::warn!(manifest = number, batch = %coa.batch, error = %e, "a lab result from the state was left out");
            continue;
        }
        doc::put_coa(d, coa)?;
    }
    Ok(id)
}

/// Each receiving session this device holds: its manifest number, id, and whether completed.
fn sessions_by_manifest(w: &mut UnitOfWork<'_>) -> Result<Vec<(String, Uuid, bool)>> {
    let mut out = Vec::new();
    for info in w.docs(Some(DocKind::Receiving))? {
        let read = w.read::<_, ReceivingError>(info.id, |d| Ok((doc::manifest(d)?.manifest_number, doc::completed(d)?)))?;
        if let Some((number, completed)) = read {
            out.push((number, info.id, completed));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, Utc};
    use rust_decimal::Decimal;

    use super::*;
    use crate::ids::{BatchNumber, ItemName, PackageTag};
    use crate::protocol::{InboxManifest, ReferenceData, RosterEntry, StateData, SyncResponse};
    use crate::quantity::{Quantity, Unit};
    use crate::receiving::session::Flag;
    use crate::roles::Role;
    use crate::store::Store;
    use crate::store::tests::test_key;
    use crate::testing::{enrol_offline, person};
    use crate::work::adjustment::{AdjustmentError, AdjustmentReason};
    use crate::work::receiving::Coa;

    const FACILITY: &str = "C11-0000001-LIC";

    fn phone(dir: &tempfile::TempDir) -> (Store, Vec<RosterEntry>) {
        let store = Store::open(dir.path().join("device.db"), &test_key()).unwrap();
        let roster = enrol_offline(
            &store,
            FACILITY,
            &[
                (person("Maria", Role::FloorStaff, "B-1"), "1234"),
                (person("Sam", Role::Manager, "B-2"), "9876"),
                (person("Dan", Role::Driver, "B-3"), "5555"),
            ],
        )
        .unwrap();
        (store, roster)
    }

    fn tag(n: u32) -> PackageTag {
        PackageTag::parse(&format!("1A4FF01000000220000{n:05}")).unwrap()
    }

    /// A manifest of two packages: batch LR-7 (a certificate comes with it) and batch LR-8 (none).
    fn manifest(number: &str) -> InboundManifest {
        let package = |n: u32, batch: &str| {
            serde_json::json!({
                "PackageLabel": tag(n).as_str(),
                "ItemName": "Live Resin 1g",
                "ShippedQuantity": 10,
                "ShippedUnitOfMeasureName": "Grams",
                "ProductionBatchNumber": batch,
                "ItemUnitThcPercent": 78.2,
                "LabTestingState": "TestPassed",
                "ExpirationDate": "2099-06-30"
            })
        };
        let json = serde_json::json!({
            "ManifestNumber": number,
            "ShipperFacilityLicenseNumber": "C11-0000099-LIC",
            "ShipperFacilityName": "Emerald Extracts",
            "RecipientFacilityLicenseNumber": FACILITY,
            "EstimatedArrivalDateTime": "2026-11-30T14:05:00",
            "Packages": [package(1, "LR-7"), package(2, "LR-8")]
        });
        let zone = crate::state_json::time_zone("America/Los_Angeles").ok();
        InboundManifest::import(&json.to_string(), &crate::ids::LicenseNumber::parse(FACILITY).unwrap(), zone).unwrap()
    }

    fn coa(batch: &str, passed: bool) -> Coa {
        Coa {
            batch: BatchNumber::parse(batch).unwrap(),
            lab: "SC Labs".into(),
            thc_percent: Decimal::new(780, 1),
            passed,
            tested_on: NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
            expires_on: NaiveDate::from_ymd_opt(2099, 10, 1).unwrap(),
        }
    }

    fn state(manifests: Vec<InboxManifest>, reasons: Vec<AdjustmentReason>) -> StateData {
        StateData { revision: 9, manifests, reference: ReferenceData { adjustment_reasons: reasons, ..Default::default() } }
    }

    fn sync(store: &Store, roster: &[RosterEntry], state: StateData) {
        let response = SyncResponse { roster: roster.to_vec(), server_time: Utc::now(), state: Some(state), ..Default::default() };
        store.apply_sync(&response, Utc::now()).unwrap();
    }

    fn inbox_of_one(store: &Store, roster: &[RosterEntry]) {
        let entry = InboxManifest { manifest: manifest("0000777001"), coas: vec![coa("LR-7", true)], pulled_at: Utc::now() };
        sync(store, roster, state(vec![entry], Vec::new()));
    }

    #[test]
    fn the_inbox_lists_the_states_manifests_and_whether_receiving_is_open() {
        let dir = tempfile::tempdir().unwrap();
        let (store, roster) = phone(&dir);
        store.sign_in("B-1", "1234").unwrap();
        assert!(store.work(receiving_inbox).unwrap().is_empty(), "no state data: an empty inbox, file import as before");
        inbox_of_one(&store, &roster);
        let inbox = store.work(receiving_inbox).unwrap();
        assert_eq!(inbox.len(), 1);
        let entry = &inbox[0];
        assert_eq!((entry.manifest_number.as_str(), entry.shipper_name.as_str(), entry.packages), ("0000777001", "Emerald Extracts", 2));
        assert_eq!(entry.session, None);
        // The local arrival time was read in the facility's zone (Pacific standard time).
        assert_eq!(entry.estimated_arrival.unwrap().to_rfc3339(), "2026-11-30T22:05:00+00:00");
        let id = store.work(|w| open_receiving_from_inbox(w, " 0000777001 ")).unwrap();
        let inbox = store.work(receiving_inbox).unwrap();
        assert_eq!((inbox[0].session, inbox[0].received), (Some(id), false));
        // Once, whichever way it is opened.
        let again = store.work(|w| open_receiving_from_inbox(w, "0000777001")).unwrap_err();
        assert!(matches!(again, ReceivingError::AlreadyOpen(_)), "{again}");
    }

    #[test]
    fn the_states_lab_results_clear_the_certificate_flag() {
        let dir = tempfile::tempdir().unwrap();
        let (store, roster) = phone(&dir);
        store.sign_in("B-1", "1234").unwrap();
        inbox_of_one(&store, &roster);
        let id = store.work(|w| open_receiving_from_inbox(w, "0000777001")).unwrap();
        let progress = store.work(|w| crate::receiving::session::receiving_progress(w, id)).unwrap();
        assert_eq!(progress.manifest, manifest("0000777001"), "the session holds the state's manifest");
        let flags = store.work(|w| crate::receiving::session::package_flags(w, id)).unwrap();
        assert_eq!(flags[&tag(1)], Vec::<Flag>::new(), "a passed, current test for LR-7: no flag");
        assert_eq!(flags[&tag(2)], vec![Flag::NoCoa { batch: "LR-8".into() }], "no result for LR-8: still flagged");
    }

    #[test]
    fn a_manifest_not_in_the_inbox_or_a_person_who_may_not_receive_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (store, roster) = phone(&dir);
        inbox_of_one(&store, &roster);
        store.sign_in("B-3", "5555").unwrap();
        let err = store.work(|w| open_receiving_from_inbox(w, "0000777001")).unwrap_err();
        assert!(matches!(err, ReceivingError::NotAllowed { role: Role::Driver }), "{err}");
        store.sign_out().unwrap();
        store.sign_in("B-2", "9876").unwrap();
        let err = store.work(|w| open_receiving_from_inbox(w, "0000999999")).unwrap_err();
        assert!(matches!(err, ReceivingError::NotInInbox(_)), "{err}");
        assert!(err.to_string().contains("manifest 0000999999 is not in this facility's inbox"), "{err}");
        assert!(store.docs(Some(DocKind::Receiving)).unwrap().is_empty(), "a refusal opens nothing");
    }

    #[test]
    fn a_manifest_for_another_licence_from_the_server_is_refused_as_a_file_would_be() {
        let dir = tempfile::tempdir().unwrap();
        let (store, roster) = phone(&dir);
        store.sign_in("B-1", "1234").unwrap();
        let mut other = manifest("0000777002");
        other.recipient_license = crate::ids::LicenseNumber::parse("C11-0000555-LIC").unwrap();
        sync(&store, &roster, state(vec![InboxManifest { manifest: other, coas: Vec::new(), pulled_at: Utc::now() }], Vec::new()));
        let err = store.work(|w| open_receiving_from_inbox(w, "0000777002")).unwrap_err();
        assert!(err.to_string().contains("addressed to licence C11-0000555-LIC"), "{err}");
        assert!(store.docs(Some(DocKind::Receiving)).unwrap().is_empty());
    }

    #[test]
    fn an_adjustment_is_checked_against_the_states_reasons() {
        let dir = tempfile::tempdir().unwrap();
        let (store, roster) = phone(&dir);
        store.sign_in("B-1", "1234").unwrap();
        let reasons = vec![
            AdjustmentReason { name: "Damaged".into(), requires_note: false },
            AdjustmentReason { name: "Theft".into(), requires_note: true },
        ];
        sync(&store, &roster, state(Vec::new(), reasons.clone()));
        assert_eq!(store.work(crate::approvals::adjustment_reasons).unwrap(), reasons);
        store
            .record(
                &tag(5),
                crate::event::EventBody::Received {
                    item: ItemName::parse("Live Resin 1g").unwrap(),
                    batch: BatchNumber::parse("LR-7").unwrap(),
                    quantity: Quantity::new(Decimal::new(10, 0), Unit::G).unwrap(),
                    location: crate::ids::LocationName::parse("Intake").unwrap(),
                    expires_on: None,
                    manifest: None,
                    via: None,
                },
            )
            .unwrap();
        let minus_one = Quantity::change(Decimal::new(-1, 0), Unit::G).unwrap();
        // "Drying" is a built-in reason, not one of the state's: refused on the phone.
        let err = store.work(|w| crate::approvals::request_adjustment(w, &tag(5), minus_one, "Drying", "dried out", None)).unwrap_err();
        assert!(matches!(err, crate::approvals::ApprovalError::Rule(AdjustmentError::UnknownReason(_))), "{err}");
        let err = store.work(|w| crate::approvals::request_adjustment(w, &tag(5), minus_one, "Theft", "  ", None)).unwrap_err();
        assert!(matches!(err, crate::approvals::ApprovalError::Rule(AdjustmentError::NoteRequired(_))), "{err}");
        assert!(store.work(crate::approvals::adjustments).unwrap().is_empty(), "refusals change nothing");
        store
            .work(|w| crate::approvals::request_adjustment(w, &tag(5), minus_one, "Theft", "missing after the night shift", None))
            .unwrap();
        assert_eq!(store.work(crate::approvals::adjustments).unwrap().len(), 1);
    }
}
