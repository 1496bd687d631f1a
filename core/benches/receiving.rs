//! Receiving benchmark.
//!
//!     cargo bench -p custody-core --bench receiving
//!
//! Scan-to-verdict for a tag against a 2,000-package manifest on a store of 100,000 packages,
//! including the durable write of the scan: p50 and p99 over the 2,000 scans. Target: p99 < 5 ms.

mod common;

use std::time::Instant;

use common::{percentile, pull, remote_events, signed_in_store};
use custody_core::receiving::session::{self, ReceivingVerdict};
use custody_core::*;

fn manifest(packages: u32) -> String {
    let packages: Vec<serde_json::Value> = (0..packages)
        .map(|i| {
            serde_json::json!({
                "PackageLabel": format!("1A4FF0200000{i:012}"),
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
        "RecipientFacilityLicenseNumber": "C11-0000001-LIC",
        "Packages": packages
    })
    .to_string()
}

fn main() {
    if std::env::args().all(|a| a != "--bench") {
        println!("receiving bench: run with `cargo bench -p custody-core --bench receiving`");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = signed_in_store(&dir.path().join("receiving.db"), Role::FloorStaff);
    pull(&store, &remote_events(100_000, 0, "Vault"));
    let session = store.work(|w| session::open_receiving(w, &manifest(2_000))).unwrap();
    let bay = LocationName::parse("Receiving bay").unwrap();
    let mut times = Vec::with_capacity(2_000);
    for i in 0..2_000u32 {
        // As a wedge sleeve sends it: lower case is fine, CR LF at the end.
        let raw = format!("1a4ff0200000{i:012}\r\n");
        let start = Instant::now();
        let verdict = store.work(|w| session::receiving_scan(w, session, &raw, &bay)).unwrap();
        times.push(start.elapsed());
        assert!(matches!(verdict, ReceivingVerdict::Matched { .. }));
    }
    times.sort();
    println!(
        "scan to verdict, 2,000-package manifest, 100,000-package store: p50 {:?}, p99 {:?}, max {:?}",
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times[times.len() - 1]
    );
}
