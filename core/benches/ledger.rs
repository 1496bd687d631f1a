//! Ledger benchmarks with latency percentiles (the targets are about p99, which criterion's
//! mean-centred report does not give).
//!
//!     cargo bench -p custody-core --bench ledger
//!
//! 1. Recording one scan event durably (synchronous=FULL commit) on a store holding 100,000
//!    packages: p50 / p99 over 2,000 scans. Target: p99 < 5 ms.
//! 2. Folding 100,000 events (20,000 packages x 5 events) into an inventory. Target: < 1 s.

use std::time::{Duration, Instant};

use chrono::Utc;
use custody_core::event::{GENESIS_HASH, UnsealedEvent};
use custody_core::hlc::Hlc;
use custody_core::protocol::{EnrolResponse, RosterEntry, SyncResponse};
use custody_core::*;
use rust_decimal::Decimal;
use uuid::Uuid;

const PACKAGES: u32 = 100_000;

fn tag(n: u32) -> PackageTag {
    PackageTag::parse(&format!("1A4FF0100000{n:012}")).unwrap()
}

fn remote_events(facility: &LicenseNumber, packages: u32, per_package: u32) -> Vec<Event> {
    let device = DeviceId::new();
    let user = UserId::new();
    let mut prev = GENESIS_HASH.to_string();
    let mut seq = 0;
    let mut out = Vec::with_capacity((packages * per_package) as usize);
    for round in 0..per_package {
        for n in 0..packages {
            seq += 1;
            let body = if round == 0 {
                EventBody::Received {
                    item: ItemName::parse("Live Resin 1g").unwrap(),
                    batch: BatchNumber::parse("LR-2026-11").unwrap(),
                    quantity: Quantity::new(Decimal::new(1000 + n as i64, 2), Unit::G).unwrap(),
                    location: LocationName::parse("Intake").unwrap(),
                    expires_on: None,
                    manifest: None,
                }
            } else {
                EventBody::Moved { to: LocationName::parse(&format!("Vault {}", (n + round) % 40)).unwrap() }
            };
            let e = UnsealedEvent {
                id: Uuid::now_v7(),
                facility: facility.clone(),
                tag: tag(n),
                user,
                device,
                device_seq: seq,
                hlc: Hlc { wall_ms: 1_700_000_000_000 + seq as i64, counter: 0 },
                parent: None,
                body,
                prev_hash: prev.clone(),
            }
            .seal();
            prev = e.hash.clone();
            out.push(e);
        }
    }
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    // `cargo test --benches` runs bench binaries with no arguments only in bench mode; keep a
    // plain `cargo test` from running this for minutes.
    if std::env::args().any(|a| a == "--test") || std::env::args().all(|a| a != "--bench") {
        println!("ledger bench: run with `cargo bench -p custody-core --bench ledger`");
        return;
    }
    let facility = LicenseNumber::parse("C11-0000001-LIC").unwrap();

    // --- fold ------------------------------------------------------------------------------
    let events = remote_events(&facility, 20_000, 5);
    let mut fold_times = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let inv = Inventory::fold(&events);
        fold_times.push(start.elapsed());
        assert_eq!(inv.packages.len(), 20_000);
    }
    fold_times.sort();
    println!("fold 100,000 events (20,000 packages): median {:?}, worst {:?}", fold_times[2], fold_times[4]);

    // --- durable scan on a 100k-package store -----------------------------------------------
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("bench.db")).unwrap();
    let salt = argon2::password_hash::SaltString::encode_b64(b"bench-salt-bytes").unwrap();
    use argon2::PasswordHasher;
    let pin_hash = argon2::Argon2::default().hash_password(b"1234", &salt).unwrap().to_string();
    store
        .save_enrolment(
            "http://127.0.0.1:9",
            &EnrolResponse {
                device_id: DeviceId::new(),
                facility: facility.clone(),
                facility_name: "Bench".into(),
                token: "t".into(),
                roster: vec![RosterEntry {
                    id: UserId::new(),
                    name: "Bench".into(),
                    role: Role::FloorStaff,
                    badge: "B".into(),
                    pin_hash,
                    active: true,
                }],
            },
        )
        .unwrap();
    let load = Instant::now();
    for chunk in remote_events(&facility, PACKAGES, 1).chunks(5_000) {
        let response = SyncResponse {
            verdicts: vec![],
            events: chunk.to_vec(),
            cursor: 0,
            has_more: false,
            server_time: Utc::now(),
            roster: store.roster().unwrap(),
            docs: vec![],
            doc_refusals: vec![],
        };
        store.apply_sync(&response, Utc::now()).unwrap();
    }
    println!("loaded {PACKAGES} packages in {:?}", load.elapsed());
    store.sign_in("B", "1234").unwrap();
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
