//! Count-session sync benchmark: a 10,000-entry count session goes from a phone to the real
//! server on loopback in one `sync()`, then a floor-staff phone pulls it.
//!
//!     cargo bench -p custody-e2e --bench count_sync
//!
//! Targets: the push sync takes under 2 s and at most 3 HTTP round trips.
//!
//! Each run uses a fresh fleet (server + data folder):
//! 1. setup: 10,000 `Received` events (one package each, all in "Vault") are built and sealed as
//!    a feeder device's chain and handed to the server's `Db::sync` in-process (two requests of
//!    5,000); the manager phone (MANAGER signed in) pulls them in one `sync()`. No 10,000 durable
//!    `Store::record` commits.
//! 2. the manager opens a count session over all 10,000 packages and syncs once (the session and
//!    its review document reach the server);
//! 3. 10,000 durable `count_scan`s offline on that phone (p50/p99 latency printed);
//! 4. ONE timed `phone.sync()` carrying the 10,000 entries; the server's copy is checked to hold
//!    all 10,000 entries;
//! 5. a second phone signed in as FLOOR pulls everything (10,000 events + the session); a third
//!    phone with nobody signed in pulls the events only, to separate the document share.
//!
//! `CUSTODY_COUNT_SYNC_BENCH_RUNS` sets the number of runs (default 3).

use std::time::{Duration, Instant};

use chrono::Utc;
use custody_core::event::{GENESIS_HASH, UnsealedEvent};
use custody_core::protocol::{MAX_EVENTS_PER_SYNC, SyncRequest};
use custody_core::work::count::{self, CountScope};
use custody_core::*;
use custody_e2e::{FLOOR, Fleet, MANAGER, grams, location, tag};
use custody_server::AuthedDevice;
use uuid::Uuid;

const PACKAGES: u64 = 10_000;
const LICENSE: &str = "C11-0000001-LIC";
const VAULT: &str = "Vault";

fn main() {
    // `cargo test --all-targets` / `--benches` runs bench binaries without `--bench`.
    if std::env::args().any(|a| a == "--test") || std::env::args().all(|a| a != "--bench") {
        println!("count_sync bench: run with `cargo bench -p custody-e2e --bench count_sync`");
        return;
    }
    let runs: usize = std::env::var("CUSTODY_COUNT_SYNC_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(3).max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    runtime.block_on(async {
        let mut pushes = Vec::new();
        for run in 1..=runs {
            pushes.push(measured_run(run).await);
        }
        pushes.sort_by_key(|(d, _)| *d);
        let trips: Vec<u32> = pushes.iter().map(|(_, t)| *t).collect();
        println!(
            "push of a {PACKAGES}-entry count session over {runs} run(s): best {:.3} s, median {:.3} s, worst {:.3} s; \
             round trips {:?} (targets: < 2 s, <= 3 round trips)",
            pushes[0].0.as_secs_f64(),
            pushes[pushes.len() / 2].0.as_secs_f64(),
            pushes[pushes.len() - 1].0.as_secs_f64(),
            trips
        );
    });
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One fresh fleet; returns the push sync's wall time and round trips.
async fn measured_run(run: usize) -> (Duration, u32) {
    let label = format!("run {run}");
    let fleet = Fleet::start(LICENSE).await;
    let phone = fleet.phone("manager").await;
    let manager = phone.sign_in(MANAGER).await;

    // 1. Setup: 10,000 packages on the server, pulled by the manager phone.
    let start = Instant::now();
    let feeder = fleet.phone("feeder").await;
    let feeder_id = feeder.store.identity().expect("identity").expect("enrolled").device_id;
    let device = AuthedDevice { id: feeder_id, facility: fleet.facility.clone() };
    let key = fleet.register_key(&feeder, MANAGER);
    // Just before now, within the server's clock allowance (stamps before the feeder enrolled are refused).
    let base_ms = Utc::now().timestamp_millis() - 20_000;
    let mut prev = GENESIS_HASH.to_string();
    let events: Vec<Event> = (1..=PACKAGES)
        .map(|n| {
            let e = UnsealedEvent {
                id: Uuid::now_v7(),
                facility: fleet.facility.clone(),
                tag: tag(n),
                user: manager.id,
                device: feeder_id,
                device_seq: n,
                hlc: Hlc { wall_ms: base_ms + n as i64, counter: 0 },
                parent: None,
                body: EventBody::Received {
                    item: ItemName::parse("Live Resin - Blue Dream 1g").unwrap(),
                    batch: BatchNumber::parse("LR-2026-11-A").unwrap(),
                    quantity: grams(1_000 + n as i64),
                    location: location(VAULT),
                    expires_on: chrono::NaiveDate::from_ymd_opt(2027, 6, 30),
                    manifest: None,
                    via: Some(custody_core::event::ReceivedVia::OpeningBalance),
                },
                prev_hash: prev.clone(),
            }
            .seal_signed(&key);
            prev = e.hash.clone();
            e
        })
        .collect();
    let db = fleet.server().db.clone();
    tokio::task::block_in_place(|| {
        for chunk in events.chunks(MAX_EVENTS_PER_SYNC) {
            let request = SyncRequest { cursor: 0, events: chunk.to_vec(), docs: vec![], ..Default::default() };
            let (_, counts) = db.sync(&device, None, &request).expect("feed the server");
            assert_eq!(counts.accepted, chunk.len(), "every fed event accepted");
        }
    });
    let fed = start.elapsed();
    let report = phone.sync().await.expect("manager pulls the packages");
    assert_eq!(report.pulled as u64, PACKAGES);
    assert_eq!(phone.packages().len() as u64, PACKAGES);
    println!(
        "[{label}] setup: {PACKAGES} packages fed to the server in {:.2} s, pulled by the manager phone in {:.2} s \
         ({} round trips)",
        fed.as_secs_f64(),
        (start.elapsed() - fed).as_secs_f64(),
        report.round_trips
    );

    // 2. Open a count over all of them and sync once so the session is on the server.
    let t = Instant::now();
    let session = tokio::task::block_in_place(|| {
        phone
            .store
            .work(|w| counts::open_count(w, "Vault count", CountScope { locations: vec![location(VAULT)], categories: vec![] }))
            .expect("open count")
    });
    let opened = t.elapsed();
    let t = Instant::now();
    let report = phone.sync().await.expect("sync the new session");
    println!(
        "[{label}] open_count over {PACKAGES} packages {:.0} ms; first sync of the session {:.0} ms, {} round trips, \
         {} doc messages sent, {} received",
        ms(opened),
        ms(t.elapsed()),
        report.round_trips,
        report.doc_messages_sent,
        report.doc_messages_received
    );
    let on_server = fleet.server().db.doc(&fleet.facility, session).expect("server doc").expect("session on server");
    assert_eq!(count::in_scope(&on_server).expect("scope").len() as u64, PACKAGES);
    assert!(count::entries(&on_server).expect("entries").is_empty());

    // 3. 10,000 durable scans offline.
    let vault = location(VAULT);
    let mut scans = Vec::with_capacity(PACKAGES as usize);
    let t = Instant::now();
    tokio::task::block_in_place(|| {
        for n in 1..=PACKAGES {
            let t = tag(n);
            let start = Instant::now();
            phone.store.work(|w| counts::count_scan(w, session, t.as_str(), &vault, grams(1_000 + n as i64))).expect("count scan");
            scans.push(start.elapsed());
        }
    });
    let scanning = t.elapsed();
    scans.sort();
    println!(
        "[{label}] {PACKAGES} durable count scans offline in {:.2} s: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        scanning.as_secs_f64(),
        ms(percentile(&scans, 0.5)),
        ms(percentile(&scans, 0.99)),
        ms(scans[scans.len() - 1])
    );

    // 4. The measured sync.
    let start = Instant::now();
    let report = phone.sync().await.expect("push the count");
    let push = start.elapsed();
    let push_trips = report.round_trips;
    println!(
        "[{label}] PUSH: {PACKAGES} count entries in {:.3} s, {} round trips ({} doc messages sent, {} received, \
         {} refusals, {} events accepted, {} pulled)",
        push.as_secs_f64(),
        report.round_trips,
        report.doc_messages_sent,
        report.doc_messages_received,
        report.doc_refusals.len(),
        report.accepted,
        report.pulled
    );
    assert!(report.doc_refusals.is_empty(), "refusals: {:?}", report.doc_refusals);
    let t = Instant::now();
    let on_server = fleet.server().db.doc(&fleet.facility, session).expect("server doc").expect("session on server");
    let entries = count::entries(&on_server).expect("entries");
    let read = t.elapsed();
    assert_eq!(entries.len() as u64, PACKAGES, "every entry reached the server");
    assert_eq!(count::total(&on_server, 1, &tag(PACKAGES)).expect("total"), 10 * (1_000 + PACKAGES as i64));
    println!("[{label}] server holds {} entries (read back in {:.0} ms)", entries.len(), ms(read));

    // A follow-up sync with nothing new: what steady state costs.
    let t = Instant::now();
    let report = phone.sync().await.expect("idle sync");
    println!(
        "[{label}] follow-up idle sync: {:.0} ms, {} round trips, {} doc messages sent, {} received",
        ms(t.elapsed()),
        report.round_trips,
        report.doc_messages_sent,
        report.doc_messages_received
    );

    // 5. A floor phone pulls the session (and the 10,000 events); a phone with nobody signed in
    //    pulls only the events.
    let floor = fleet.phone("floor").await;
    floor.sign_in(FLOOR).await;
    let t = Instant::now();
    let report = floor.sync().await.expect("floor pull");
    let pull = t.elapsed();
    let view = floor.store.work(|w| counts::count_session(w, session)).expect("floor holds the session");
    assert_eq!(view.entries.len() as u64, PACKAGES);
    assert_eq!(view.in_scope.len() as u64, PACKAGES);
    assert!(report.doc_refusals.is_empty(), "refusals: {:?}", report.doc_refusals);
    println!(
        "[{label}] FLOOR PULL: session + {} events in {:.3} s, {} round trips ({} doc messages received, {} sent)",
        report.pulled,
        pull.as_secs_f64(),
        report.round_trips,
        report.doc_messages_received,
        report.doc_messages_sent
    );
    let events_only = fleet.phone("nobody").await;
    let t = Instant::now();
    let report = events_only.sync().await.expect("events-only pull");
    println!(
        "[{label}] control, nobody signed in (events only): {} events in {:.3} s, {} round trips",
        report.pulled,
        t.elapsed().as_secs_f64(),
        report.round_trips
    );
    (push, push_trips)
}
