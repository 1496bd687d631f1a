//! The conversions, and the client against a real server on loopback. The full scenario runs
//! through the generated Kotlin in bindings/tests/kotlin.

use std::sync::{Arc, Mutex};

use custody_core::ids::{BatchNumber, ItemName, LicenseNumber, LocationName};
use custody_core::roles::Role as CoreRole;

use super::*;

fn g(amount: &str) -> Quantity {
    Quantity::from_text(amount, UnitOfMeasure::G).unwrap()
}

/// What uniffi does with an argument the app passed: lift it from what the app wrote, and hand
/// a failed lift whose error is the function's error type to the app as that error
/// (`LowerReturn::handle_failed_lift`); any other failure would be an internal error.
fn lift_arg<T: uniffi::Lift<crate::UniFfiTag>>(sent: impl uniffi::Lower<crate::UniFfiTag>) -> Result<T, CustodyError> {
    let mut buf = Vec::new();
    uniffi::Lower::<crate::UniFfiTag>::write(sent, &mut buf);
    T::try_read(&mut buf.as_slice()).map_err(|e| e.downcast::<CustodyError>().expect("a failed lift is an InvalidInput"))
}

fn typed(amount: &str, unit: UnitOfMeasure) -> custody_core::ffi::QuantityText {
    custody_core::ffi::QuantityText { amount: amount.into(), unit }
}

#[test]
fn tags_cross_as_strings_and_errors_keep_their_message() {
    assert_eq!(normalize_package_tag("1a4ff0100000022000001234\r\n".into()).unwrap(), "1A4FF0100000022000001234");
    let CustodyError::InvalidInput(message) = normalize_package_tag("1A4".into()).unwrap_err() else { panic!() };
    assert!(message.contains("exactly 24"), "{message}");
}

#[test]
fn quantities_cross_as_decimal_strings() {
    let q = parse_quantity(" 12.50 g".into(), Some(UnitOfMeasure::Oz)).unwrap();
    assert_eq!(q, g("12.50"));
    assert_eq!(parse_quantity("3.5".into(), Some(UnitOfMeasure::G)).unwrap(), g("3.5"));
    assert_eq!((unit_symbol(UnitOfMeasure::Kg), unit_word(UnitOfMeasure::Each)), ("kg".into(), "number of units".into()));
    assert_eq!(format_quantity(q).unwrap(), "12.50 g");
    let oz: Quantity = lift_arg(typed("1", UnitOfMeasure::Oz)).unwrap();
    assert_eq!(format_quantity(oz).unwrap(), "1 oz (28.35 g)");
    let err = lift_arg::<Quantity>(typed("12,5", UnitOfMeasure::G)).unwrap_err();
    assert_eq!(err, CustodyError::InvalidInput("\"12,5\" is not a number; enter an amount like 12.5".into()));
    let err = lift_arg::<Quantity>(typed("1.5", UnitOfMeasure::Each)).unwrap_err();
    assert_eq!(err, CustodyError::InvalidInput("a count of items must be a whole number, not 1.5".into()));
    assert_eq!(count_unit(UnitOfMeasure::Oz), UnitOfMeasure::G);
}

#[test]
fn event_bodies_convert_both_ways_and_refuse_bad_fields() {
    let body = EventBody::Received {
        item: ItemName::parse("Live Resin - Blue Dream 1g").unwrap(),
        batch: lift_arg("lr-2026-11-a".to_string()).unwrap(),
        quantity: g("10.00"),
        location: LocationName::parse("Vault A / Shelf 1").unwrap(),
        expires_on: Some("2027-06-30".into()),
        manifest: None,
    };
    let core: custody_core::EventBody = body.clone().try_into().unwrap();
    let back = EventBody::from(core);
    let EventBody::Received { batch, expires_on, .. } = &back else { panic!() };
    assert_eq!((batch.as_str(), expires_on.as_deref()), ("LR-2026-11-A", Some("2027-06-30")));
    let bad = EventBody::Received {
        item: ItemName::parse("x").unwrap(),
        batch: BatchNumber::parse("b").unwrap(),
        quantity: g("1"),
        location: LocationName::parse("Vault").unwrap(),
        expires_on: Some("30/06/2027".into()),
        manifest: None,
    };
    let err = CustodyError::from(custody_core::EventBody::try_from(bad).unwrap_err());
    assert!(matches!(&err, CustodyError::InvalidInput(m) if m.contains("2027-06-30")), "{err}");
    // A bad location inside the body is refused as it lifts, with core's sentence.
    let err = lift_arg::<LocationName>(" ".to_string()).unwrap_err();
    assert_eq!(err, CustodyError::InvalidInput(LocationName::parse(" ").unwrap_err().to_string()));
}

#[derive(Default)]
struct Heard {
    statuses: Mutex<Vec<SyncStatus>>,
    changes: Mutex<Vec<ChangeKind>>,
}

impl SyncListener for Heard {
    fn on_status(&self, status: SyncStatus) {
        self.statuses.lock().unwrap().push(status);
    }
}

impl ChangeListener for Heard {
    fn on_change(&self, what: ChangeKind) {
        self.changes.lock().unwrap().push(what);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_enrols_records_syncs_and_reports_typed_errors() {
    let data = tempfile::tempdir().unwrap();
    let server = custody_server::RunningServer::start(data.path()).await;
    let facility = LicenseNumber::parse("C11-0000001-LIC").unwrap();
    server.db.create_facility(&facility, "Green Valley Distribution", custody_core::state_json::Tz::America__Los_Angeles).unwrap();
    server.db.add_user(&facility, "Sam Manager", CoreRole::Manager, "M-100", "2468").unwrap();
    server.db.add_user(&facility, "Maria Floor", CoreRole::FloorStaff, "F-200", "1357").unwrap();
    let code = server.db.issue_enrolment_code(&facility, None, chrono::Duration::hours(1)).unwrap();

    let phone = CustodyClient::new(data.path().join("phone.db").to_string_lossy().into_owned(), vec![7; 32]).unwrap();
    let heard = Arc::new(Heard::default());
    phone.set_sync_listener(Some(heard.clone()));
    phone.set_change_listener(Some(heard.clone()));

    assert!(matches!(phone.sign_in("M-100".into(), "2468".into()).await, Err(CustodyError::NotEnrolled(_))));
    let identity = phone.enrol(server.url(), code.code.clone(), "office".into()).await.unwrap();
    assert_eq!(identity.facility.as_str(), "C11-0000001-LIC");
    let again = phone.enrol(server.url(), code.code, "office".into()).await.unwrap_err();
    assert!(matches!(&again, CustodyError::Refused(m) if m.contains("already enrolled")), "{again}");

    let tag = "1A4FF0100000000000000001".to_string();
    let err = phone.move_package(tag.clone(), "Vault B".into()).unwrap_err();
    assert!(matches!(err, CustodyError::NotSignedIn(_)), "{err}");
    // The first sign-in here goes to the server, which checks the PIN.
    let wrong = phone.sign_in("M-100".into(), "0000".into()).await.unwrap_err();
    assert!(matches!(&wrong, CustodyError::BadCredentials(_)), "{wrong}");
    let user = phone.sign_in("M-100".into(), "2468".into()).await.unwrap();
    assert_eq!((user.name.as_str(), user.role), ("Sam Manager", Role::Manager));
    // After that, the phone holds the key: a wrong PIN is caught here, offline, and counted.
    phone.sign_out().unwrap();
    let wrong = phone.sign_in("M-100".into(), "0000".into()).await.unwrap_err();
    assert!(matches!(&wrong, CustodyError::BadCredentials(m) if m.contains("4 more wrong PINs")), "{wrong}");
    phone.sign_in("M-100".into(), "2468".into()).await.unwrap();

    // Stock already on hand enters as the manager's opening balance (receiving has its own test).
    let events = phone
        .record_opening_balance(vec![OpeningBalanceLine {
            tag: tag.clone(),
            item: ItemName::parse("Live Resin - Blue Dream 1g").unwrap(),
            batch: BatchNumber::parse("LR-1").unwrap(),
            quantity: g("10.00"),
            location: LocationName::parse("Vault A").unwrap(),
            expires_on: None,
        }])
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, EventKind::Received);
    phone.move_package(tag.to_lowercase(), "Vault B".into()).unwrap();
    let refused =
        phone.record(tag.clone(), EventBody::Delivered { recipient: LicenseNumber::parse("C11-0000002-LIC").unwrap() }).unwrap_err();
    assert!(matches!(refused, CustodyError::Refused(_)), "{refused}");
    assert!(phone.find_package(tag.clone()).unwrap().unwrap().pending);

    let report = phone.sync_now().await.unwrap();
    assert_eq!(report.accepted, 2);
    let package = phone.find_package(tag.clone()).unwrap().unwrap();
    assert_eq!((package.location.as_str(), package.quantity.to_string().as_str(), package.pending), ("Vault B", "10.00 g", false));
    assert_eq!(phone.history(tag).unwrap()[0].state, EventState::Accepted);
    let last = heard.statuses.lock().unwrap().last().cloned().unwrap();
    assert!(last.online && last.pending == 0 && last.last_success.is_some(), "{last:?}");
    assert!(heard.changes.lock().unwrap().contains(&ChangeKind::Inventory));

    assert!(matches!(phone.count_session("nope".into()), Err(CustodyError::InvalidInput(_))));
    let unknown = phone.count_session(uuid::Uuid::now_v7().to_string()).unwrap_err();
    assert!(matches!(unknown, CustodyError::NotFound(_)), "{unknown}");

    server.stop().await;
    let offline = phone.sync_now().await.unwrap_err();
    assert!(matches!(&offline, CustodyError::Offline(m) if m.contains("will sync later")), "{offline}");
    let last = heard.statuses.lock().unwrap().last().cloned().unwrap();
    assert!(!last.online && last.last_error.is_some(), "{last:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receiving_scans_against_a_manifest_and_scans_parse() {
    let data = tempfile::tempdir().unwrap();
    let server = custody_server::RunningServer::start(data.path()).await;
    let facility = LicenseNumber::parse("C11-0000001-LIC").unwrap();
    server.db.create_facility(&facility, "Green Valley Distribution", custody_core::state_json::Tz::America__Los_Angeles).unwrap();
    server.db.add_user(&facility, "Maria Floor", CoreRole::FloorStaff, "F-200", "1357").unwrap();
    let code = server.db.issue_enrolment_code(&facility, None, chrono::Duration::hours(1)).unwrap();
    let phone = CustodyClient::new(data.path().join("bay.db").to_string_lossy().into_owned(), vec![7; 32]).unwrap();
    let heard = Arc::new(Heard::default());
    phone.set_change_listener(Some(heard.clone()));
    phone.enrol(server.url(), code.code, "bay-1".into()).await.unwrap();
    phone.sign_in("F-200".into(), "1357".into()).await.unwrap();

    let tag = "1A4FF0100000000000001000";
    let manifest = format!(
        r#"{{"ManifestNumber": "0001234567", "ShipperFacilityLicenseNumber": "C11-0000099-LIC",
            "ShipperFacilityName": "Emerald Extracts", "RecipientFacilityLicenseNumber": "C11-0000001-LIC",
            "DriverName": "J. Ortiz", "VehicleMake": "Ford", "VehicleModel": "Transit",
            "VehicleLicensePlateNumber": "8ABC123", "EstimatedArrivalDateTime": "2026-11-29T15:00:00Z",
            "Packages": [{{"PackageLabel": "{tag}", "ItemName": "Live Resin - Blue Dream 1g",
                "ShippedQuantity": 100.05, "ShippedUnitOfMeasureName": "Grams",
                "ProductionBatchNumber": "LR-2026-11-A", "ItemUnitThcPercent": 78.2,
                "LabTestingState": "TestPassed", "ExpirationDate": "2027-06-30"}}]}}"#
    );
    let session = phone.open_receiving(manifest).unwrap();
    assert!(heard.changes.lock().unwrap().contains(&ChangeKind::Inventory));

    let verdict = phone.receiving_scan(session.clone(), tag.to_lowercase(), "Dock 1".into()).unwrap();
    assert_eq!(
        (verdict.kind, verdict.tag.as_str(), verdict.item.as_deref()),
        (ReceivingVerdictKind::Matched, tag, Some("Live Resin - Blue Dream 1g"))
    );
    assert_eq!(verdict.message, format!("{tag}: Live Resin - Blue Dream 1g"));

    let core_message = custody_core::scan::parse_scan("hello?").unwrap_err().to_string();
    let err = phone.receiving_scan(session.clone(), "hello?".into(), "Dock 1".into()).unwrap_err();
    assert_eq!(err, CustodyError::InvalidInput(core_message.clone()));
    assert_eq!(crate::client::parse_scan("hello?".into()).unwrap_err(), CustodyError::InvalidInput(core_message));

    let progress = phone.receiving_progress(session).unwrap();
    assert_eq!((progress.manifest_number.as_str(), progress.package_count), ("0001234567", 1));
    assert_eq!((progress.matched, progress.missing), (vec![custody_core::PackageTag::parse(tag).unwrap()], vec![]));
    let unknown = phone.receiving_progress(uuid::Uuid::now_v7().to_string()).unwrap_err();
    assert!(matches!(unknown, CustodyError::NotFound(_)), "{unknown}");

    assert_eq!(
        crate::client::parse_scan("(01)00012345600012(17)261231(10)LR-1".into()).unwrap(),
        ScannedCode::Gs1 {
            gtin: Some("00012345600012".into()),
            batch: Some("LR-1".into()),
            expiry: chrono::NaiveDate::from_ymd_opt(2026, 12, 31),
            serial: None,
            net_weight: None,
        }
    );
    assert_eq!(
        crate::client::parse_scan("LOC:Vault A".into()).unwrap(),
        ScannedCode::Location { name: LocationName::parse("Vault A").unwrap() }
    );
    server.stop().await;
}

#[tokio::test]
async fn a_store_opened_with_another_key_an_http_address_and_a_bad_authority_are_refused_with_a_next_step() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("phone.db").to_string_lossy().to_string();
    let phone = CustodyClient::new(path.clone(), vec![1; 32]).unwrap();
    let err = phone.trust_server_authority("not a certificate".into()).unwrap_err();
    assert!(matches!(&err, CustodyError::InvalidInput(m) if m.contains("BEGIN CERTIFICATE")), "{err:?}");
    let err = phone.enrol("http://sync.example.com".into(), "ABCDEFGHJK".into(), "Handheld".into()).await.unwrap_err();
    assert!(matches!(&err, CustodyError::InvalidInput(m) if m.contains("https://")), "{err:?}");
    drop(phone);
    // The keystore lost its key (or another phone's store was copied here): call support.
    let Err(err) = CustodyClient::new(path, vec![2; 32]) else { panic!("another key opened the store") };
    assert!(matches!(&err, CustodyError::Storage(m) if m.contains("Call support")), "{err:?}");
}

/// The state's data as a sync brings it, through the client: the inbox to open receiving from,
/// the state's reasons, and the submissions screen only for a manager.
#[test]
fn the_states_inbox_and_submissions_cross_and_only_managers_see_the_status() {
    use custody_core::protocol::{InboxManifest, ReferenceData, StateData, SyncResponse};
    use custody_core::testing::{enrol_offline, person};
    let data = tempfile::tempdir().unwrap();
    let phone = CustodyClient::new(data.path().join("phone.db").to_string_lossy().into_owned(), vec![7; 32]).unwrap();
    let roster = enrol_offline(
        &phone.store,
        "C11-0000001-LIC",
        &[(person("Sam", CoreRole::Manager, "M-1"), "2468"), (person("Maria", CoreRole::FloorStaff, "F-1"), "1357")],
    )
    .unwrap();
    let manifest = custody_core::receiving::manifest::InboundManifest::import(
        r#"{"ManifestNumber": "0000777001", "ShipperFacilityLicenseNumber": "C11-0000099-LIC",
            "ShipperFacilityName": "Emerald Extracts", "RecipientFacilityLicenseNumber": "C11-0000001-LIC",
            "Packages": [{"PackageLabel": "1A4FF0100000000000001000", "ItemName": "Live Resin 1g",
                "ShippedQuantity": 10, "ShippedUnitOfMeasureName": "Grams", "ProductionBatchNumber": "LR-7",
                "LabTestingState": "TestPassed"}]}"#,
        &LicenseNumber::parse("C11-0000001-LIC").unwrap(),
        None,
    )
    .unwrap();
    let status = custody_core::protocol::StateStatus {
        connected: true,
        stopped: None,
        key_warning: None,
        queued: 4,
        oldest_queued_at: Some(chrono::Utc::now() - chrono::Duration::hours(3)),
        unapproved: 0,
        failed: Vec::new(),
        last_pull_at: None,
    };
    let response = SyncResponse {
        roster,
        server_time: chrono::Utc::now(),
        state: Some(StateData {
            revision: 3,
            manifests: vec![InboxManifest { manifest, coas: Vec::new(), pulled_at: chrono::Utc::now() }],
            reference: ReferenceData {
                adjustment_reasons: vec![AdjustmentReason { name: "Damaged".into(), requires_note: false }],
                ..Default::default()
            },
        }),
        state_status: Some(status),
        ..Default::default()
    };
    phone.store.apply_sync(&response, chrono::Utc::now()).unwrap();

    phone.store.sign_in("F-1", "1357").unwrap();
    assert!(!phone.may_see_state_submissions().unwrap());
    assert!(matches!(phone.state_submissions(), Err(CustodyError::Refused(_))));
    assert_eq!(phone.adjustment_reasons().unwrap(), vec![AdjustmentReason { name: "Damaged".into(), requires_note: false }]);
    let inbox = phone.receiving_inbox().unwrap();
    assert_eq!((inbox[0].manifest_number.as_str(), inbox[0].packages, inbox[0].session.is_none()), ("0000777001", 1, true));
    let session = phone.open_receiving_from_inbox("0000777001".into()).unwrap();
    assert_eq!(phone.receiving_inbox().unwrap()[0].session.map(|s| s.to_string()), Some(session));
    let missing = phone.open_receiving_from_inbox("0000999999".into()).unwrap_err();
    assert!(matches!(&missing, CustodyError::NotFound(m) if m.contains("not in this facility's inbox")), "{missing}");

    phone.sign_out().unwrap();
    phone.store.sign_in("M-1", "2468").unwrap();
    assert!(phone.may_see_state_submissions().unwrap());
    let view = phone.state_submissions().unwrap();
    assert_eq!(view.status.as_ref().map(|s| s.queued), Some(4));
    let age = view.oldest_queued_age_secs.unwrap();
    assert!((3 * 3600 - 60..=3 * 3600 + 60).contains(&age), "{age}");
    assert_eq!(view.time_zone.as_deref(), Some("America/Los_Angeles"));
}
