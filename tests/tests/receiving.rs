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
    p1.sign_in(FLOOR);
    p2.sign_in(FLOOR_2);

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
