//! Ledger benchmarks with latency percentiles (the targets are about p99, which criterion's
//! mean-centred report does not give).
//!
//!     cargo bench -p custody-core --bench ledger
//!
//! 1. Recording one scan event durably (synchronous=FULL commit) on a store holding 100,000
//!    packages: p50 / p99 over 2,000 scans. Target: p99 < 5 ms.
//! 2. Folding 100,000 events (20,000 packages x 5 events) into an inventory. Target: < 1 s.

mod common;

use std::time::Instant;

use common::{percentile, pull, remote_events, signed_in_store, tag};
use custody_core::*;

const PACKAGES: u32 = 100_000;

fn main() {
    // `cargo test --all-targets` runs bench binaries without `--bench`: skip the minutes of work.
    if std::env::args().all(|a| a != "--bench") {
        println!("ledger bench: run with `cargo bench -p custody-core --bench ledger`");
        return;
    }

    let events = remote_events(20_000, 4, "Intake");
    let mut fold_times = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let inv = Inventory::fold(&events);
        fold_times.push(start.elapsed());
        assert_eq!(inv.packages.len(), 20_000);
    }
    fold_times.sort();
    println!("fold 100,000 events (20,000 packages): median {:?}, worst {:?}", fold_times[2], fold_times[4]);

    let dir = tempfile::tempdir().unwrap();
    let store = signed_in_store(&dir.path().join("bench.db"), Role::FloorStaff);
    let load = Instant::now();
    pull(&store, &remote_events(PACKAGES, 0, "Intake"));
    println!("loaded {PACKAGES} packages in {:?}", load.elapsed());
    let mut scans = Vec::new();
    for i in 0..2_000u32 {
        let t = tag((i * 7919) % PACKAGES);
        let to = LocationName::parse(&format!("Shelf {}", i % 50)).unwrap();
        let start = Instant::now();
        store.record(&t, EventBody::Moved { to }).unwrap();
        scans.push(start.elapsed());
    }
    scans.sort();
    println!(
        "durable scan event on {PACKAGES} packages: p50 {:?}, p99 {:?}, max {:?} (n={})",
        percentile(&scans, 0.5),
        percentile(&scans, 0.99),
        scans[scans.len() - 1],
        scans.len()
    );
}
