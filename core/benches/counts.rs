//! Count-session benchmarks.
//!
//!     cargo bench -p custody-core --bench counts
//!
//! 1. Merging two replicas of a count session holding N entries each (N = 1,000 and 10,000),
//!    through Automerge's sync protocol. Target: under 250 ms at 10,000; 10x the entries costing
//!    at most ~12x the time.
//! 2. Loading a closed 10,000-entry session from the device store (a fresh `Store::open` and the
//!    first read), and the durable scan latency while counting it. Target: load under 100 ms.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use automerge::sync::State;
use chrono::Utc;
use custody_core::event::{GENESIS_HASH, UnsealedEvent};
use custody_core::hlc::Hlc;
use custody_core::protocol::{EnrolResponse, RosterEntry, SyncResponse};
use custody_core::work::adjustment::Person;
use custody_core::work::count::{self, CountScope, ScanRecord, ScopedPackage, SessionInfo};
use custody_core::work::WorkDoc;
use custody_core::*;
use rust_decimal::Decimal;
use uuid::Uuid;

fn tag(n: u32) -> PackageTag {
    PackageTag::parse(&format!("1A4FF0100000{n:012}")).unwrap()
}

fn session(n: u32) -> WorkDoc {
    let info = SessionInfo {
        name: "bench".into(),
        scope: CountScope { locations: vec![LocationName::parse("Vault").unwrap()], categories: vec![] },
        opened_by: Person { user: UserId::new(), name: "Sam".into(), device: DeviceId::new(), at: Utc::now() },
        opened_hlc_ms: 0,
        review: Uuid::now_v7(),
    };
    let scope: BTreeMap<_, _> = (0..n)
        .map(|i| (tag(i), ScopedPackage { location: LocationName::parse("Vault").unwrap(), unit: Unit::G, item: "Rosin".into() }))
        .collect();
    count::create_session(Uuid::now_v7(), LicenseNumber::parse("C11-1").unwrap(), Uuid::now_v7(), &info, &scope)
}

fn counted_replica(base: &mut WorkDoc, entries: u32) -> WorkDoc {
    let device = DeviceId::new();
    let user = UserId::new();
    let mut doc = WorkDoc::load(base.id, base.kind, base.facility.clone(), device.0, &base.save(), &[]).unwrap();
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

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
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
    println!(
        "scaling 1,000 -> 10,000 entries: {:.1}x the time",
        merge_times[&10_000].as_secs_f64() / merge_times[&1_000].as_secs_f64()
    );

    // The store: 10,000 packages, a session over all of them, 10,000 durable scans, close, reload.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("count.db");
    let facility = LicenseNumber::parse("C11-0000001-LIC").unwrap();
    let store = Store::open(&path).unwrap();
    use argon2::PasswordHasher;
    let salt = argon2::password_hash::SaltString::encode_b64(b"bench-salt-bytes").unwrap();
    let pin_hash = argon2::Argon2::default().hash_password(b"1234", &salt).unwrap().to_string();
    let manager = RosterEntry { id: UserId::new(), name: "Sam".into(), role: Role::Manager, badge: "M".into(), pin_hash, active: true };
    store
        .save_enrolment(
            "http://127.0.0.1:9",
            &EnrolResponse {
                device_id: DeviceId::new(),
                facility: facility.clone(),
                facility_name: "Bench".into(),
                token: "t".into(),
                roster: vec![manager.clone()],
            },
        )
        .unwrap();
    let device = DeviceId::new();
    let mut prev = GENESIS_HASH.to_string();
    let events: Vec<Event> = (0..10_000u32)
        .map(|i| {
            let e = UnsealedEvent {
                id: Uuid::now_v7(),
                facility: facility.clone(),
                tag: tag(i),
                user: manager.id,
                device,
                device_seq: i as u64 + 1,
                hlc: Hlc { wall_ms: 1_700_000_000_000 + i as i64, counter: 0 },
                parent: None,
                body: EventBody::Received {
                    item: ItemName::parse("Rosin").unwrap(),
                    batch: BatchNumber::parse("R-1").unwrap(),
                    quantity: Quantity::new(Decimal::new(1_000 + i as i64, 2), Unit::G).unwrap(),
                    location: LocationName::parse("Vault").unwrap(),
                    expires_on: None,
                    manifest: None,
                },
                prev_hash: prev.clone(),
            }
            .seal();
            prev = e.hash.clone();
            e
        })
        .collect();
    for chunk in events.chunks(5_000) {
        store
            .apply_sync(
                &SyncResponse {
                    verdicts: vec![],
                    events: chunk.to_vec(),
                    cursor: 0,
                    has_more: false,
                    server_time: Utc::now(),
                    roster: vec![manager.clone()],
                    docs: vec![],
                    doc_refusals: vec![],
                },
                Utc::now(),
            )
            .unwrap();
    }
    store.sign_in("M", "1234").unwrap();
    let session = store
        .open_count("bench", CountScope { locations: vec![LocationName::parse("Vault").unwrap()], categories: vec![] })
        .unwrap();
    let vault = LocationName::parse("Vault").unwrap();
    let mut scans = Vec::with_capacity(10_000);
    for i in 0..10_000u32 {
        let q = Quantity::new(Decimal::new(1_000 + i as i64, 2), Unit::G).unwrap();
        let t = tag(i);
        let start = Instant::now();
        store.count_scan(session, t.as_str(), &vault, q).unwrap();
        scans.push(start.elapsed());
    }
    scans.sort();
    println!(
        "durable count scan into a session of 10,000 packages: p50 {:?}, p99 {:?}, max {:?}",
        percentile(&scans, 0.5),
        percentile(&scans, 0.99),
        scans[scans.len() - 1]
    );
    let closed = store.close_count(session).unwrap();
    assert!(matches!(closed, custody_core::counts::CloseOutcome::Closed { .. }));
    drop(store);
    let mut loads = Vec::new();
    for run in 0..5 {
        let start = Instant::now();
        let store = Store::open(&path).unwrap();
        let opened = start.elapsed();
        let sessions = store.count_sessions().unwrap();
        let listed = start.elapsed();
        let view = store.count_session(session).unwrap();
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
