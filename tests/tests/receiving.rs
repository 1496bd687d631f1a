//! End-to-end (first part of receiving): two phones scan one inbound manifest at once, offline;
//! after syncing both show the same matched, unexpected, scanned-twice and missing packages.

use custody_core::receiving::session::{self, ReceivingError, ReceivingVerdict};
use custody_e2e::*;

fn manifest_json(recipient: &str, packages: u64) -> String {
    let packages: Vec<serde_json::Value> = (0..packages)
        .map(|i| {
            serde_json::json!({
                "PackageLabel": tag(1_000 + i).as_str(),
                "ItemName": "Live Resin - Blue Dream 1g",
                "ShippedQuantity": 100.05,
                "ShippedUnitOfMeasureName": "Grams",
                "ProductionBatchNumber": "LR-2026-11-A",
                "ItemUnitThcPercent": 78.2,
                "LabTestingState": "TestPassed",
                "ExpirationDate": "2027-06-30"
            })
        })
        .collect();
    serde_json::json!({
        "ManifestNumber": "0001234567",
        "ShipperFacilityLicenseNumber": "C11-0000099-LIC",
        "ShipperFacilityName": "Emerald Extracts",
        "RecipientFacilityLicenseNumber": recipient,
        "DriverName": "J. Ortiz",
        "VehicleMake": "Ford",
        "VehicleModel": "Transit",
        "VehicleLicensePlateNumber": "8ABC123",
        "EstimatedArrivalDateTime": "2026-11-29T15:00:00Z",
        "Packages": packages
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_phones_scan_one_manifest_offline_and_agree() {
    let fleet = Fleet::start("C11-0000001-LIC").await;
    let (p1, p2) = (fleet.phone("bay-1").await, fleet.phone("bay-2").await);
    p1.sign_in(FLOOR).await;
    p2.sign_in(FLOOR_2).await;

    // A manifest for another licence is refused and opens nothing.
    let err = p1.store.work(|w| session::open_receiving(w, &manifest_json("C11-0000002-LIC", 3))).unwrap_err();
    assert!(err.to_string().contains("addressed to licence C11-0000002-LIC"), "{err}");
    assert!(p1.store.docs(None).unwrap().is_empty());

    let session = p1.store.work(|w| session::open_receiving(w, &manifest_json("C11-0000001-LIC", 20))).unwrap();
    assert!(matches!(
        p1.store.work(|w| session::open_receiving(w, &manifest_json("C11-0000001-LIC", 20))),
        Err(ReceivingError::AlreadyOpen(_))
    ));
    p1.sync().await.unwrap();
    p2.sync().await.unwrap();

    // Both phones scan offline; packages 4 and 5 are scanned on both.
    let bay = location("Receiving bay");
    for i in 0..6 {
        let v = p1
            .store
            .work(|w| session::receiving_scan(w, session, &format!("{}\r\n", tag(1_000 + i).as_str().to_lowercase()), &bay))
            .unwrap();
        assert!(matches!(v, ReceivingVerdict::Matched { .. }), "{v:?}");
    }
    for i in 4..12 {
        p2.store.work(|w| session::receiving_scan(w, session, tag(1_000 + i).as_str(), &bay)).unwrap();
    }
    let unexpected = p2.store.work(|w| session::receiving_scan(w, session, tag(5_555).as_str(), &bay)).unwrap();
    assert_eq!(unexpected.message(), format!("{} is not on this manifest; set it aside", tag(5_555)));
    let again = p2.store.work(|w| session::receiving_scan(w, session, tag(1_007).as_str(), &bay)).unwrap();
    assert!(again.message().contains("already scanned by Omar Floor"), "{}", again.message());

    // Garbage and the wrong kind of barcode are refused with the reason.
    let err = p2.store.work(|w| session::receiving_scan(w, session, "1A4FF01-not-a-tag", &bay)).unwrap_err();
    assert!(err.to_string().contains("1A4FF01"), "{err}");
    assert!(matches!(p2.store.work(|w| session::receiving_scan(w, session, "LOC:Vault A", &bay)), Err(ReceivingError::NotATag)));

    for p in [&p1, &p2, &p1] {
        p.sync().await.unwrap();
    }
    let (a, b) = (
        p1.store.work(|w| session::receiving_progress(w, session)).unwrap(),
        p2.store.work(|w| session::receiving_progress(w, session)).unwrap(),
    );
    assert_eq!(a, b);
    assert_eq!(a.matched.len(), 12);
    assert_eq!(a.unexpected, vec![tag(5_555)]);
    assert_eq!(a.scanned_twice.keys().cloned().collect::<Vec<_>>(), vec![tag(1_004), tag(1_005)]);
    let names: Vec<&str> = a.scanned_twice[&tag(1_004)].iter().map(|s| s.user_name.as_str()).collect();
    assert!(names.contains(&FLOOR.0) && names.contains(&FLOOR_2.0), "{names:?}");
    assert_eq!(a.missing, (12..20).map(|i| tag(1_000 + i)).collect::<Vec<_>>());
    // After sync, either phone answers a third scan as a duplicate.
    assert!(matches!(
        p1.store.work(|w| session::receiving_scan(w, session, tag(1_010).as_str(), &bay)).unwrap(),
        ReceivingVerdict::Duplicate { .. }
    ));
}

mod full {
    use super::*;
    use custody_core::receiving::session::ReceivingDiscrepancy;
    use custody_core::settings::SettingsChange;
    use custody_core::work::receiving::{Coa, RejectReason};
    use custody_core::*;
    use rust_decimal::Decimal;

    fn manifest_200() -> String {
        let packages: Vec<serde_json::Value> = (0..200u64)
            .map(|i| {
                serde_json::json!({
                    "PackageLabel": tag(2_000 + i).as_str(),
                    "ItemName": "Live Resin - Blue Dream 1g",
                    "ShippedQuantity": 100.05,
                    "ShippedUnitOfMeasureName": "Grams",
                    "ProductionBatchNumber": if i >= 190 { "LR-B" } else { "LR-A" },
                    "ItemUnitThcPercent": 78.2,
                    "LabTestingState": "TestPassed",
                    "ExpirationDate": "2027-06-30"
                })
            })
            .collect();
        serde_json::json!({
            "ManifestNumber": "0009990001",
            "ShipperFacilityLicenseNumber": "C11-0000099-LIC",
            "ShipperFacilityName": "Emerald Extracts",
            "RecipientFacilityLicenseNumber": "C11-0000001-LIC",
            "Packages": packages
        })
        .to_string()
    }

    fn g(hundredths: i64) -> Quantity {
        Quantity::new(Decimal::new(hundredths, 2), Unit::G).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_phones_receive_a_200_package_manifest_offline() {
        let fleet = Fleet::start("C11-0000001-LIC").await;
        let (p1, p2, boss) = (fleet.phone("bay-1").await, fleet.phone("bay-2").await, fleet.phone("office").await);
        p1.sign_in(FLOOR).await;
        p2.sign_in(FLOOR_2).await;
        boss.sign_in(MANAGER).await;
        let today = chrono::Utc::now().date_naive();
        // The facility's scales, set on the server: phones get them at sync.
        fleet.settings(SettingsChange::AddScale { name: "Bay scale 1".into(), calibration_due: today + chrono::Duration::days(20) });
        fleet.settings(SettingsChange::AddScale { name: "Old scale".into(), calibration_due: today - chrono::Duration::days(35) });
        for p in [&p1, &p2, &boss] {
            p.sync().await.unwrap();
        }
        let session = p1.store.work(|w| session::open_receiving(w, &manifest_200())).unwrap();
        let coa = |batch: &str, expires: chrono::NaiveDate| Coa {
            batch: BatchNumber::parse(batch).unwrap(),
            lab: "SC Labs".into(),
            thc_percent: Decimal::new(781, 1),
            passed: true,
            tested_on: today - chrono::Duration::days(60),
            expires_on: expires,
        };
        p1.store.work(|w| session::record_coa(w, session, coa("LR-A", today + chrono::Duration::days(200)))).unwrap();
        p1.store.work(|w| session::record_coa(w, session, coa("LR-B", today - chrono::Duration::days(1)))).unwrap(); // expired
        for p in [&p1, &p2, &boss] {
            p.sync().await.unwrap();
        }

        // Offline: bay-1 takes 0..=100, bay-2 100..200 but not 150 (it is not on the truck), and
        // one package that is not on the manifest. 100 is scanned on both phones.
        let bay = location("Receiving bay");
        let t = |i: u64| tag(2_000 + i);
        for i in 0..=100 {
            p1.store.work(|w| session::receiving_scan(w, session, t(i).as_str(), &bay)).unwrap();
            let weight = if i == 42 { g(10_003) } else { g(10_005) }; // 0.02 g short on one
            p1.store.work(|w| session::record_weight(w, session, t(i).as_str(), weight, Some("Bay scale 1"))).unwrap();
        }
        let err = p1.store.work(|w| session::record_weight(w, session, t(1).as_str(), g(10_005), Some("Old scale"))).unwrap_err();
        assert!(err.to_string().contains("was due for calibration on"), "{err}");
        p1.store.work(|w| session::mark_inspected(w, session, t(7).as_str(), "labels match the COA")).unwrap();
        for i in (100..200).filter(|i| *i != 150) {
            p2.store.work(|w| session::receiving_scan(w, session, t(i).as_str(), &bay)).unwrap();
            p2.store
                .work(|w| session::record_weight(w, session, t(i).as_str(), g(10_005), if i % 2 == 0 { Some("Bay scale 1") } else { None }))
                .unwrap();
        }
        p2.store.work(|w| session::receiving_scan(w, session, tag(9_999).as_str(), &bay)).unwrap();

        // Decisions: flag-free packages accepted; the expired-COA batch needs a manager.
        for i in 0..=100 {
            p1.store.work(|w| session::decide_package(w, session, t(i).as_str(), None, "")).unwrap();
        }
        for i in (101..190).filter(|i| *i != 150) {
            p2.store.work(|w| session::decide_package(w, session, t(i).as_str(), None, "")).unwrap();
        }
        let err = p2.store.work(|w| session::decide_package(w, session, t(190).as_str(), None, "")).unwrap_err();
        assert!(err.to_string().contains("certificate of analysis expired"), "{err}");
        assert!(
            p2.store.work(|w| session::decide_package(w, session, tag(9_999).as_str(), None, "")).is_err(),
            "an unexpected package cannot be accepted"
        );
        p2.store.work(|w| session::decide_package(w, session, tag(9_999).as_str(), Some(RejectReason::NotOnManifest), "")).unwrap();
        p2.store.work(|w| session::decide_package(w, session, t(150).as_str(), Some(RejectReason::Short), "not on the truck")).unwrap();
        for i in 195..200 {
            p2.store.work(|w| session::decide_package(w, session, t(i).as_str(), Some(RejectReason::FailedTest), "COA expired")).unwrap();
        }
        for p in [&p2, &p1, &boss, &p2] {
            p.sync().await.unwrap();
        }
        for i in 190..195 {
            boss.store.work(|w| session::decide_package(w, session, t(i).as_str(), None, "retest booked; COA renewal on file")).unwrap();
        }

        // The 0.02 g shortfall blocks completion until someone says why.
        let open = boss.store.work(|w| session::receiving_discrepancies(w, session)).unwrap();
        assert_eq!(open.len(), 1, "{open:?}");
        assert!(
            matches!(&open[0], ReceivingDiscrepancy::Weight { manifest, received, reason: None }
            if *manifest == g(1_940_970) && *received == g(1_940_968)),
            "{open:?}"
        );
        let err = boss.store.work(|w| session::complete_receiving(w, session, &location("Intake"))).unwrap_err();
        assert!(err.to_string().contains("record the reason"), "{err}");
        boss.store
            .work(|w| session::explain_weight_difference(w, session, "moisture loss in transit; within the shipper's tolerance"))
            .unwrap();
        let events = boss.store.work(|w| session::complete_receiving(w, session, &location("Intake"))).unwrap();
        assert_eq!(events.len(), 194);
        assert_eq!(boss.store.work(session::open_state_tasks).unwrap().len(), 1);

        for p in [&boss, &p1, &p2, &boss] {
            p.sync().await.unwrap();
        }
        let server = custody_core::protocol::InventoryReport::from_inventory(&fleet.server_inventory());
        for p in [&p1, &p2, &boss] {
            assert_eq!(p.report(), server, "{} differs", p.name);
            assert_eq!(
                p.store.work(|w| session::receiving_progress(w, session)).unwrap(),
                boss.store.work(|w| session::receiving_progress(w, session)).unwrap()
            );
            assert_eq!(
                p.store.work(|w| session::receiving_discrepancies(w, session)).unwrap(),
                boss.store.work(|w| session::receiving_discrepancies(w, session)).unwrap()
            );
        }
        let progress = p1.store.work(|w| session::receiving_progress(w, session)).unwrap();
        assert_eq!(progress.unexpected, vec![tag(9_999)]);
        assert_eq!(progress.missing, vec![t(150)]);
        assert_eq!(progress.scanned_twice.keys().cloned().collect::<Vec<_>>(), vec![t(100)]);
        assert_eq!(server.packages.len(), 194);
        assert!(server.packages.iter().all(|p| p.location.as_str() == "Intake"));
        let short = server.packages.iter().find(|p| p.tag == t(42)).unwrap();
        assert_eq!(short.quantity, g(10_003), "the weighed quantity enters the ledger");
        for rejected in [t(150), t(195), t(199), tag(9_999)] {
            assert!(server.packages.iter().all(|p| p.tag != rejected), "{rejected} must not be in inventory");
        }
        assert!(
            p1.store.work(|w| session::receiving_scan(w, session, t(3).as_str(), &bay)).is_err(),
            "a completed session takes no more scans"
        );
        boss.store.work(|w| session::confirm_state_acceptance(w, session)).unwrap();
        assert!(boss.store.work(session::open_state_tasks).unwrap().is_empty());
    }
}

/// A transfer as the state really sends it (nulls where it knows nothing, local times with no
/// offset, a date with a time part, a lab state word Custody has never seen) imports on a phone,
/// and each package with a missing fact carries a flag that names it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_with_the_states_nulls_imports_and_flags_what_is_missing() {
    use custody_core::state_json::Tz;
    let fleet = Fleet::start("C11-0000001-LIC").await;
    let (floor, boss) = (fleet.phone("bay-1").await, fleet.phone("office").await);
    floor.sign_in(FLOOR).await;
    boss.sign_in(MANAGER).await;
    let untidy = serde_json::json!({
        "Id": 90121,
        "ManifestNumber": 3300117,
        "ShipperFacilityLicenseNumber": "C11-0000099-LIC",
        "ShipperFacilityName": "Emerald Extracts",
        "RecipientFacilityLicenseNumber": "C11-0000001-LIC",
        "DriverName": null,
        "DriverOccupationalLicenseNumber": null,
        "VehicleMake": null,
        "VehicleModel": "",
        "VehicleLicensePlateNumber": null,
        "EstimatedArrivalDateTime": "2026-11-30T14:05:00",
        "Packages": [
            {"PackageLabel": tag(7_001).as_str(), "ProductName": "Gummies 10pk", "ShippedQuantity": 24,
             "ShippedUnitOfMeasureName": "Each", "ProductionBatchNumber": null, "LabTestingState": null,
             "ItemUnitThcPercent": null, "ExpirationDate": "2027-06-30T00:00:00"},
            {"PackageLabel": tag(7_002).as_str(), "ProductName": "Flower - OG 3.5g", "ShippedQuantity": 100.1,
             "ShippedUnitOfMeasureName": "Grams", "ProductionBatchNumber": "OG-11", "LabTestingState": "TestPassedPendingReview",
             "ExpirationDate": null}
        ]
    })
    .to_string();

    let session = floor.store.work(|w| session::open_receiving(w, &untidy)).unwrap();
    let progress = floor.store.work(|w| session::receiving_progress(w, session)).unwrap();
    // The facility is in Los Angeles (the phone learnt it at enrolment): 14:05 local is 22:05 UTC.
    assert_eq!(progress.manifest.estimated_arrival.unwrap().to_rfc3339(), "2026-11-30T22:05:00+00:00");
    assert_eq!(progress.manifest.driver_name, "");

    let flags = floor.store.work(|w| session::package_flags(w, session)).unwrap();
    let words = |i: u64| flags[&tag(i)].iter().map(|f| f.to_string()).collect::<Vec<_>>();
    assert_eq!(
        words(7_001),
        vec![
            "the manifest gives no lab testing state",
            "the manifest gives no production batch number, so no certificate of analysis can be matched"
        ]
    );
    assert_eq!(
        words(7_002),
        vec![
            "the state reports lab testing state \"TestPassedPendingReview\", which Custody does not know",
            "no certificate of analysis for batch OG-11"
        ]
    );

    // The receiver cannot accept a flagged package; a manager decides, with a note.
    let bay = location("Receiving bay");
    for i in [7_001, 7_002] {
        floor.store.work(|w| session::receiving_scan(w, session, tag(i).as_str(), &bay)).unwrap();
    }
    let err = floor.store.work(|w| session::decide_package(w, session, tag(7_002).as_str(), None, "")).unwrap_err();
    assert!(matches!(err, ReceivingError::NeedsOverride { .. }), "{err}");
    floor.sync().await.unwrap();
    boss.sync().await.unwrap();
    boss.store.work(|w| session::decide_package(w, session, tag(7_002).as_str(), None, "lab confirmed the pass by phone")).unwrap();
    // No override gives a package a batch: it can only be rejected.
    let err = boss.store.work(|w| session::decide_package(w, session, tag(7_001).as_str(), None, "accept anyway")).unwrap_err();
    assert!(matches!(err, ReceivingError::NoBatch { .. }), "{err}");
    assert!(err.to_string().contains("no production batch number on the manifest"), "{err}");

    // The facility's zone is the server's setting: a change reaches the phone at its next sync.
    assert_eq!(floor.store.facility_time_zone().unwrap(), Some(Tz::America__Los_Angeles));
    fleet.server.as_ref().unwrap().db.set_facility_time_zone(&fleet.facility, Tz::America__New_York).unwrap();
    floor.sync().await.unwrap();
    assert_eq!(floor.store.facility_time_zone().unwrap(), Some(Tz::America__New_York));
}

/// Issue 13: two floor phones receive an imported manifest offline through the calls the apps'
/// receiving screens make (scan, label, weigh on a named scale or by hand with the reason,
/// decide; a manager decides the flagged package), one completes, and the server accepts the
/// receipts because the session's document proves them. A bare receipt, one naming a session
/// the server does not hold, and one for a package the session did not accept are refused, each
/// with the reason the phone that sent it shows; a floor worker cannot record an opening balance.
mod proven {
    use super::*;
    use custody_core::event::{EventBody, ReceivedVia};
    use custody_core::receiving::opening::{self, OpeningError, OpeningLine};
    use custody_core::receiving::session::Flag;
    use custody_core::settings::SettingsChange;
    use custody_core::store::EventState;
    use custody_core::work::receiving::Coa;
    use custody_core::*;
    use rust_decimal::Decimal;

    fn manifest() -> String {
        let packages: Vec<serde_json::Value> = (0..4u64)
            .map(|i| {
                serde_json::json!({
                    "PackageLabel": tag(3_000 + i).as_str(),
                    "ItemName": "Live Resin - Blue Dream 1g",
                    "ShippedQuantity": 50.25,
                    "ShippedUnitOfMeasureName": "Grams",
                    "ProductionBatchNumber": "LR-P1",
                    "ItemUnitThcPercent": 78.2,
                    "LabTestingState": "TestPassed",
                    "ExpirationDate": "2027-06-30"
                })
            })
            .collect();
        serde_json::json!({
            "ManifestNumber": "0007770001",
            "ShipperFacilityLicenseNumber": "C11-0000099-LIC",
            "ShipperFacilityName": "Emerald Extracts",
            "RecipientFacilityLicenseNumber": "C11-0000001-LIC",
            "Packages": packages
        })
        .to_string()
    }

    fn g(hundredths: i64) -> Quantity {
        Quantity::new(Decimal::new(hundredths, 2), Unit::G).unwrap()
    }

    fn bare(via: Option<ReceivedVia>) -> EventBody {
        EventBody::Received {
            item: ItemName::parse("Live Resin - Blue Dream 1g").unwrap(),
            batch: BatchNumber::parse("LR-P1").unwrap(),
            quantity: g(5_025),
            location: location("Intake"),
            expires_on: None,
            manifest: Some("0007770001".into()),
            via,
        }
    }

    /// The reason the phone shows for the event it recorded on `t`: its history's rejection.
    fn refusal(phone: &Phone, t: &PackageTag) -> String {
        let history = phone.store.history(t).unwrap();
        let entry = history.iter().find(|e| e.state == EventState::Rejected).expect("a refused event in the phone's history");
        entry.reject_reason.clone().expect("the server's reason is kept")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_floor_phones_receive_offline_and_only_proven_receipts_are_accepted() {
        let fleet = Fleet::start("C11-0000001-LIC").await;
        // The facility's scale and tolerance, set on the server; each phone takes them at its
        // sync before the bay goes offline.
        let today = chrono::Utc::now().date_naive();
        fleet.settings(SettingsChange::AddScale { name: "Bay scale 1".into(), calibration_due: today + chrono::Duration::days(27) });
        fleet.settings(SettingsChange::PotencyTolerance(Decimal::new(20, 1)));
        let (p1, p2, boss) = (fleet.phone("bay-1").await, fleet.phone("bay-2").await, fleet.phone("office").await);
        p1.sign_in(FLOOR).await;
        p2.sign_in(FLOOR_2).await;
        boss.sign_in(MANAGER).await;
        for p in [&p1, &p2, &boss] {
            p.sync().await.unwrap();
        }
        let session = p1.store.work(|w| session::open_receiving(w, &manifest())).unwrap();
        let coa = Coa {
            batch: BatchNumber::parse("LR-P1").unwrap(),
            lab: "SC Labs".into(),
            thc_percent: Decimal::new(781, 1),
            passed: true,
            tested_on: today - chrono::Duration::days(30),
            expires_on: today + chrono::Duration::days(300),
        };
        p1.store.work(|w| session::record_coa(w, session, coa)).unwrap();
        for p in [&p1, &p2, &boss] {
            p.sync().await.unwrap();
        }
        assert_eq!(p2.store.work(session::receiving_sessions).unwrap()[0].manifest_number, "0007770001", "bay-2 picks it from its list");

        // Offline: bay-1 takes packages 0 and 1, bay-2 takes 2 and 3.
        let t = |i: u64| tag(3_000 + i);
        let bay = location("Receiving bay");
        for i in 0..2 {
            p1.store.work(|w| session::receiving_scan(w, session, t(i).as_str(), &bay)).unwrap();
            p1.store.work(|w| session::record_weight(w, session, t(i).as_str(), g(5_025), Some("Bay scale 1"))).unwrap();
            // The label agrees with the manifest: no flag.
            let label = "(01)00012345600012(17)270630(10)LR-P1";
            assert!(p1.store.work(|w| session::receiving_label(w, session, t(i).as_str(), label)).unwrap().is_empty());
            p1.store.work(|w| session::decide_package(w, session, t(i).as_str(), None, "")).unwrap();
        }
        for i in 2..4 {
            p2.store.work(|w| session::receiving_scan(w, session, t(i).as_str(), &bay)).unwrap();
        }
        // A weight typed with three decimals is refused in core's words and records nothing.
        let fine = Quantity::new(Decimal::new(50_255, 3), Unit::G).unwrap();
        let err = p2.store.work(|w| session::record_weight_by_hand(w, session, t(2).as_str(), fine, "scale busy")).unwrap_err();
        assert_eq!(err.to_string(), "50.255 g is finer than the 0.01 g receiving weighs to; enter the weight to two decimals of a gram");
        assert!(p2.store.work(|w| session::receiving_discrepancies(w, session)).unwrap().iter().all(|d| !d.to_string().contains("50.255")));
        let err = p2.store.work(|w| session::record_weight_by_hand(w, session, t(2).as_str(), g(5_025), " ")).unwrap_err();
        assert_eq!(err.to_string(), "say why: a reason is needed");
        p2.store.work(|w| session::record_weight_by_hand(w, session, t(2).as_str(), g(5_025), "the bay scale was in use")).unwrap();
        p2.store.work(|w| session::record_weight(w, session, t(3).as_str(), g(5_025), Some("Bay scale 1"))).unwrap();
        p2.store.work(|w| session::decide_package(w, session, t(2).as_str(), None, "")).unwrap();
        // Package 3's label carries another batch and expiry: a flag in core's words; only a manager accepts it.
        let flags =
            p2.store.work(|w| session::receiving_label(w, session, t(3).as_str(), "(01)00012345600012(17)270101(10)LR-P9")).unwrap();
        assert_eq!(
            flags.iter().map(Flag::to_string).collect::<Vec<_>>(),
            vec![
                "the label says batch LR-P9 but the manifest says batch LR-P1".to_string(),
                "the label says it expires on 2027-01-01 but the manifest says 2027-06-30".to_string()
            ]
        );
        let err = p2.store.work(|w| session::decide_package(w, session, t(3).as_str(), None, "")).unwrap_err();
        assert!(err.to_string().contains("only a manager may accept it, with a note"), "{err}");
        for p in [&p1, &p2, &boss] {
            p.sync().await.unwrap();
        }
        assert_eq!(boss.store.work(|w| session::package_flags(w, session)).unwrap()[&t(3)].len(), 2, "the flag reached the manager");
        boss.store
            .work(|w| session::decide_package(w, session, t(3).as_str(), None, "relabelled by the shipper; batch confirmed by phone"))
            .unwrap();
        boss.sync().await.unwrap();
        p1.sync().await.unwrap();
        let events = p1.store.work(|w| session::complete_receiving(w, session, &location("Intake"))).unwrap();
        assert_eq!(events.len(), 4);
        assert!(
            events
                .iter()
                .all(|e| matches!(&e.body, EventBody::Received { via: Some(ReceivedVia::Receiving { session: s }), .. } if *s == session))
        );
        let report = p1.sync().await.unwrap();
        assert_eq!((report.accepted, report.rejected), (4, 0), "the session's document proves every receipt");
        for p in [&p2, &boss] {
            p.sync().await.unwrap();
        }
        let server = custody_core::protocol::InventoryReport::from_inventory(&fleet.server_inventory());
        assert_eq!(server.packages.len(), 4);
        assert!(server.packages.iter().all(|p| p.location.as_str() == "Intake"));
        for p in [&p1, &p2, &boss] {
            assert_eq!(p.report(), server, "{} differs", p.name);
        }
        assert_eq!(
            boss.store.work(session::open_state_tasks).unwrap(),
            vec![(session, "accept manifest 0007770001 in the state system".to_string())]
        );

        // A bare receipt from a floor phone: the phone keeps it pending; the server refuses it
        // with a reason the phone shows.
        let stray = tag(3_900);
        p2.store.record(&stray, bare(None)).unwrap();
        // One naming a session the server does not hold, and one for a package the session did
        // not receive, are refused too.
        let forged = tag(3_901);
        p2.store.record(&forged, bare(Some(ReceivedVia::Receiving { session: uuid::Uuid::now_v7() }))).unwrap();
        let borrowed = tag(3_902);
        p2.store.record(&borrowed, bare(Some(ReceivedVia::Receiving { session }))).unwrap();
        let report = p2.sync().await.unwrap();
        assert_eq!((report.accepted, report.rejected), (0, 3));
        assert_eq!(p2.store.sync_status().unwrap().rejected, 3, "the sync status counts what the server refused");
        let why = refusal(&p2, &stray);
        assert!(why.contains("enters stock only through receiving against its manifest"), "{why}");
        assert!(refusal(&p2, &forged).contains("is not on the server for C11-0000001-LIC"), "{}", refusal(&p2, &forged));
        assert!(refusal(&p2, &borrowed).contains("is not on manifest 0007770001"), "{}", refusal(&p2, &borrowed));
        assert_eq!(fleet.server_inventory().packages.len(), 4, "nothing refused entered stock");

        // An opening balance is a manager's: refused on a floor phone before anything is written,
        // accepted from the manager.
        let line = OpeningLine {
            tag: tag(3_950),
            item: ItemName::parse("Pre-roll 5-pack").unwrap(),
            batch: BatchNumber::parse("PR-OPEN-1").unwrap(),
            quantity: Quantity::new(Decimal::from(12), Unit::Each).unwrap(),
            location: location("Vault A"),
            expires_on: None,
        };
        let err = p1.store.work(|w| opening::record_opening_balance(w, std::slice::from_ref(&line))).unwrap_err();
        assert!(matches!(err, OpeningError::NotManager(_)), "{err}");
        assert!(p1.store.package(&line.tag).unwrap().is_none());
        let err = p1.store.record(&line.tag, bare(Some(ReceivedVia::OpeningBalance))).unwrap_err();
        assert!(err.to_string().contains("only a manager may record an opening balance"), "{err}");
        boss.store.work(|w| opening::record_opening_balance(w, std::slice::from_ref(&line))).unwrap();
        let report = boss.sync().await.unwrap();
        assert_eq!((report.accepted, report.rejected), (1, 0));
        assert_eq!(fleet.server_inventory().packages.len(), 5);
    }
}
