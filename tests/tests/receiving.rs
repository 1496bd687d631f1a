//! End-to-end (first part of receiving): two phones scan one inbound manifest at once, offline;
//! after syncing both show the same matched, unexpected, scanned-twice and missing packages.

use custody_core::receiving::session::{ReceivingError, ReceivingVerdict};
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
    let err = p1.store.open_receiving(&manifest_json("C11-0000002-LIC", 3)).unwrap_err();
    assert!(err.to_string().contains("addressed to licence C11-0000002-LIC"), "{err}");
    assert!(p1.store.docs(None).unwrap().is_empty());

    let session = p1.store.open_receiving(&manifest_json("C11-0000001-LIC", 20)).unwrap();
    assert!(matches!(p1.store.open_receiving(&manifest_json("C11-0000001-LIC", 20)), Err(ReceivingError::AlreadyOpen(_))));
    p1.sync().await.unwrap();
    p2.sync().await.unwrap();

    // Both phones scan offline; packages 4 and 5 are scanned on both.
    let bay = location("Receiving bay");
    for i in 0..6 {
        let v = p1.store.receiving_scan(session, &format!("{}\r\n", tag(1_000 + i).as_str().to_lowercase()), &bay).unwrap();
        assert!(matches!(v, ReceivingVerdict::Matched { .. }), "{v:?}");
    }
    for i in 4..12 {
        p2.store.receiving_scan(session, tag(1_000 + i).as_str(), &bay).unwrap();
    }
    let unexpected = p2.store.receiving_scan(session, tag(5_555).as_str(), &bay).unwrap();
    assert_eq!(unexpected.message(), format!("{} is not on this manifest; set it aside", tag(5_555)));
    let again = p2.store.receiving_scan(session, tag(1_007).as_str(), &bay).unwrap();
    assert!(again.message().contains("already scanned by Omar Floor"), "{}", again.message());

    // Garbage and the wrong kind of barcode are refused with the reason.
    let err = p2.store.receiving_scan(session, "1A4FF01-not-a-tag", &bay).unwrap_err();
    assert!(err.to_string().contains("1A4FF01"), "{err}");
    assert!(matches!(p2.store.receiving_scan(session, "LOC:Vault A", &bay), Err(ReceivingError::NotATag)));

    for p in [&p1, &p2, &p1] {
        p.sync().await.unwrap();
    }
    let (a, b) = (p1.store.receiving_progress(session).unwrap(), p2.store.receiving_progress(session).unwrap());
    assert_eq!(a, b);
    assert_eq!(a.matched.len(), 12);
    assert_eq!(a.unexpected, vec![tag(5_555)]);
    assert_eq!(a.scanned_twice.keys().cloned().collect::<Vec<_>>(), vec![tag(1_004), tag(1_005)]);
    let names: Vec<&str> = a.scanned_twice[&tag(1_004)].iter().map(|s| s.user_name.as_str()).collect();
    assert!(names.contains(&FLOOR.0) && names.contains(&FLOOR_2.0), "{names:?}");
    assert_eq!(a.missing, (12..20).map(|i| tag(1_000 + i)).collect::<Vec<_>>());
    // After sync, either phone answers a third scan as a duplicate.
    assert!(matches!(p1.store.receiving_scan(session, tag(1_010).as_str(), &bay).unwrap(), ReceivingVerdict::Duplicate { .. }));
}

mod full {
    use super::*;
    use custody_core::receiving::session::{ReceivingDiscrepancy, ReceivingSettings, Scale};
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
        let settings = ReceivingSettings {
            potency_tolerance: Decimal::new(20, 1),
            scales: vec![
                Scale { name: "Bay scale 1".into(), last_calibrated: today - chrono::Duration::days(10), interval_days: 30 },
                Scale { name: "Old scale".into(), last_calibrated: today - chrono::Duration::days(400), interval_days: 365 },
            ],
        };
        for p in [&p1, &p2, &boss] {
            p.store.set_receiving_settings(&settings).unwrap();
        }
        let session = p1.store.open_receiving(&manifest_200()).unwrap();
        let coa = |batch: &str, expires: chrono::NaiveDate| Coa {
            batch: BatchNumber::parse(batch).unwrap(),
            lab: "SC Labs".into(),
            thc_percent: Decimal::new(781, 1),
            passed: true,
            tested_on: today - chrono::Duration::days(60),
            expires_on: expires,
        };
        p1.store.record_coa(session, coa("LR-A", today + chrono::Duration::days(200))).unwrap();
        p1.store.record_coa(session, coa("LR-B", today - chrono::Duration::days(1))).unwrap(); // expired
        for p in [&p1, &p2, &boss] {
            p.sync().await.unwrap();
        }

        // Offline: bay-1 takes 0..=100, bay-2 100..200 but not 150 (it is not on the truck), and
        // one package that is not on the manifest. 100 is scanned on both phones.
        let bay = location("Receiving bay");
        let t = |i: u64| tag(2_000 + i);
        for i in 0..=100 {
            p1.store.receiving_scan(session, t(i).as_str(), &bay).unwrap();
            let weight = if i == 42 { g(10_003) } else { g(10_005) }; // 0.02 g short on one
            p1.store.record_weight(session, t(i).as_str(), weight, Some("Bay scale 1")).unwrap();
        }
        let err = p1.store.record_weight(session, t(1).as_str(), g(10_005), Some("Old scale")).unwrap_err();
        assert!(err.to_string().contains("past its 365-day calibration interval"), "{err}");
        p1.store.mark_inspected(session, t(7).as_str(), "labels match the COA").unwrap();
        for i in (100..200).filter(|i| *i != 150) {
            p2.store.receiving_scan(session, t(i).as_str(), &bay).unwrap();
            p2.store.record_weight(session, t(i).as_str(), g(10_005), if i % 2 == 0 { Some("Bay scale 1") } else { None }).unwrap();
        }
        p2.store.receiving_scan(session, tag(9_999).as_str(), &bay).unwrap();

        // Decisions: flag-free packages accepted; the expired-COA batch needs a manager.
        for i in 0..=100 {
            p1.store.decide_package(session, t(i).as_str(), None, "").unwrap();
        }
        for i in (101..190).filter(|i| *i != 150) {
            p2.store.decide_package(session, t(i).as_str(), None, "").unwrap();
        }
        let err = p2.store.decide_package(session, t(190).as_str(), None, "").unwrap_err();
        assert!(err.to_string().contains("certificate of analysis expired"), "{err}");
        assert!(p2.store.decide_package(session, tag(9_999).as_str(), None, "").is_err(), "an unexpected package cannot be accepted");
        p2.store.decide_package(session, tag(9_999).as_str(), Some(RejectReason::NotOnManifest), "").unwrap();
        p2.store.decide_package(session, t(150).as_str(), Some(RejectReason::Short), "not on the truck").unwrap();
        for i in 195..200 {
            p2.store.decide_package(session, t(i).as_str(), Some(RejectReason::FailedTest), "COA expired").unwrap();
        }
        for p in [&p2, &p1, &boss, &p2] {
            p.sync().await.unwrap();
        }
        for i in 190..195 {
            boss.store.decide_package(session, t(i).as_str(), None, "retest booked; COA renewal on file").unwrap();
        }

        // The 0.02 g shortfall blocks completion until someone says why.
        let open = boss.store.receiving_discrepancies(session).unwrap();
        assert_eq!(open.len(), 1, "{open:?}");
        assert!(
            matches!(&open[0], ReceivingDiscrepancy::Weight { manifest, received, reason: None }
            if *manifest == g(1_940_970) && *received == g(1_940_968)),
            "{open:?}"
        );
        let err = boss.store.complete_receiving(session, &location("Intake")).unwrap_err();
        assert!(err.to_string().contains("record the reason"), "{err}");
        boss.store.explain_weight_difference(session, "moisture loss in transit; within the shipper's tolerance").unwrap();
        let events = boss.store.complete_receiving(session, &location("Intake")).unwrap();
        assert_eq!(events.len(), 194);
        assert_eq!(boss.store.open_state_tasks().unwrap().len(), 1);

        for p in [&boss, &p1, &p2, &boss] {
            p.sync().await.unwrap();
        }
        let server = custody_core::protocol::InventoryReport::from_inventory(&fleet.server_inventory());
        for p in [&p1, &p2, &boss] {
            assert_eq!(p.report(), server, "{} differs", p.name);
            assert_eq!(p.store.receiving_progress(session).unwrap(), boss.store.receiving_progress(session).unwrap());
            assert_eq!(p.store.receiving_discrepancies(session).unwrap(), boss.store.receiving_discrepancies(session).unwrap());
        }
        let progress = p1.store.receiving_progress(session).unwrap();
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
        assert!(p1.store.receiving_scan(session, t(3).as_str(), &bay).is_err(), "a completed session takes no more scans");
        boss.store.confirm_state_acceptance(session).unwrap();
        assert!(boss.store.open_state_tasks().unwrap().is_empty());
    }
}
