//! Count-session benchmarks.
//!
//!     cargo bench -p custody-core --bench counts
//!
//! 1. Merging two replicas of a count session holding N entries each (N = 1,000 and 10,000),
//!    through Automerge's sync protocol. Target: under 250 ms at 10,000; 10x the entries costing
//!    at most ~12x the time.
//! 2. Loading a closed 10,000-entry session from the device store (a fresh `Store::open` and the
//!    first read), and the durable scan latency while counting it. Target: load under 100 ms.

mod common;

use std::collections::BTreeMap;
use std::time::Instant;

use automerge::sync::State;
use chrono::Utc;
use common::tag;
use custody_core::people::Actor;
use custody_core::work::WorkDoc;
use custody_core::work::count::{self, CountScope, ScanRecord, ScopedPackage, SessionInfo};
use custody_core::*;
use rust_decimal::Decimal;
use uuid::Uuid;

fn session(n: u32) -> WorkDoc {
    let info = SessionInfo {
        name: "bench".into(),
        scope: CountScope { locations: vec![LocationName::parse("Vault").unwrap()], categories: vec![] },
        opened_by: Actor { user: UserId::new(), name: "Sam".into(), device: DeviceId::new(), at: Utc::now() },
        opened_hlc_ms: 0,
        review: Uuid::now_v7(),
    };
    let scope: BTreeMap<_, _> = (0..n)
        .map(|i| (tag(i), ScopedPackage { location: LocationName::parse("Vault").unwrap(), unit: Unit::G, item: "Rosin".into() }))
        .collect();
    count::create_session(
        Uuid::now_v7(),
        LicenseNumber::parse("C11-1").unwrap(),
        custody_core::work::Writer::Server(Uuid::now_v7()),
        &info,
        &scope,
    )
}

fn counted_replica(base: &mut WorkDoc, entries: u32) -> WorkDoc {
    let device = DeviceId::new();
    let user = UserId::new();
    let mut doc = WorkDoc::load(
        base.id,
        base.kind,
        base.facility.clone(),
        custody_core::work::Writer::Person { device, user: UserId::new() },
        &base.save(),
        &[],
    )
    .unwrap();
    for i in 0..entries {
        let scan = ScanRecord {
            round: 1,
            tag: tag(i),
            user,
            user_name: "Counter".into(),
            device,
            location: LocationName::parse("Vault").unwrap(),
            minor: 1_000 + i as i64,
            correction: false,
            at: Utc::now(),
        };
        count::add(&mut doc, &scan, Unit::G).unwrap();
    }
    doc
}

fn merge(a: &mut WorkDoc, b: &mut WorkDoc) -> u32 {
    let (mut sa, mut sb) = (State::new(), State::new());
    let mut messages = 0;
    loop {
        let ab = a.generate_message(&mut sa);
        if let Some(m) = &ab {
            b.receive_message(&mut sb, m).unwrap();
            messages += 1;
        }
        let ba = b.generate_message(&mut sb);
        if let Some(m) = &ba {
            a.receive_message(&mut sa, m).unwrap();
            messages += 1;
        }
        if ab.is_none() && ba.is_none() {
            return messages;
        }
    }
}

fn main() {
    if std::env::args().all(|a| a != "--bench") {
        println!("counts bench: run with `cargo bench -p custody-core --bench counts`");
        return;
    }
    let mut merge_times = BTreeMap::new();
    for n in [1_000u32, 10_000] {
        let mut base = session(n);
        let mut runs = Vec::new();
        for _ in 0..3 {
            let mut a = counted_replica(&mut base, n);
            let mut b = counted_replica(&mut base, n);
            let start = Instant::now();
            let messages = merge(&mut a, &mut b);
            runs.push(start.elapsed());
            assert_eq!(count::total(&a, 1, &tag(0)).unwrap(), 2_000);
            assert_eq!(count::entries(&b).unwrap().len(), 2 * n as usize);
            if runs.len() == 1 {
                println!("merge {n}+{n} entries: {messages} sync messages");
            }
        }
        runs.sort();
        println!("merge two replicas of {n} entries each: median {:?} (runs {:?})", runs[1], runs);
        merge_times.insert(n, runs[1]);
    }
    println!("scaling 1,000 -> 10,000 entries: {:.1}x the time", merge_times[&10_000].as_secs_f64() / merge_times[&1_000].as_secs_f64());

    // The store: 10,000 packages, a session over all of them, 10,000 durable scans, close, reload.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("count.db");
    let store = common::signed_in_store(&path, Role::Manager);
    common::pull(&store, &common::remote_events(10_000, 0, "Vault"));
    let session = store
        .work(|w| counts::open_count(w, "bench", CountScope { locations: vec![LocationName::parse("Vault").unwrap()], categories: vec![] }))
        .unwrap();
    let vault = LocationName::parse("Vault").unwrap();
    let mut scans = Vec::with_capacity(10_000);
    for i in 0..10_000u32 {
        let q = Quantity::new(Decimal::new(1_000 + i as i64, 2), Unit::G).unwrap();
        let t = tag(i);
        let start = Instant::now();
        store.work(|w| counts::count_scan(w, session, t.as_str(), &vault, q)).unwrap();
        scans.push(start.elapsed());
    }
    scans.sort();
    println!(
        "durable count scan into a session of 10,000 packages: p50 {:?}, p99 {:?}, max {:?}",
        common::percentile(&scans, 0.5),
        common::percentile(&scans, 0.99),
        scans[scans.len() - 1]
    );
    let closed = store.work(|w| counts::close_count(w, session)).unwrap();
    assert!(matches!(closed, custody_core::counts::CloseOutcome::Closed { .. }));
    drop(store);
    let mut loads = Vec::new();
    for run in 0..5 {
        let start = Instant::now();
        let store = Store::open(&path, &common::bench_key()).unwrap();
        let opened = start.elapsed();
        let sessions = store.work(counts::count_sessions).unwrap();
        let listed = start.elapsed();
        let view = store.work(|w| counts::count_session(w, session)).unwrap();
        loads.push(start.elapsed());
        assert_eq!(view.entries.len(), 10_000);
        assert_eq!(sessions.len(), 1);
        if run == 0 {
            println!("  open {opened:?}, listed (document loaded) {listed:?}, full view {:?}", loads[0]);
        }
    }
    loads.sort();
    println!("load a closed 10,000-entry session from the store: median {:?} (runs {:?})", loads[2], loads);
}
