//! The state connector's benchmarks (issue 12), against the Metrc emulator on loopback with a set
//! latency on every answer:
//!
//!     cargo bench -p custody-e2e --bench state
//!
//! 1. **Backfill**: 10,000 writes queued during an outage (5,000 moves and 5,000 approved
//!    adjustments, interleaved, each on its own package) drain to the state. Wall time against the
//!    lower bound the state's limits impose: every adjustment needs the package's quantity read
//!    first (the read-back after a lost answer depends on it), so 5,000 GETs at the state's 50 a
//!    second take at least 100 s, whatever the write concurrency; the 1,000 writes (10 objects
//!    each) at one in flight take 1,000 x latency, which overlaps the reads. Target: within 1.25x.
//! 2. **Pull**: 5,000 active packages read into a snapshot, 20 a page, within the GET limits
//!    (the emulator's 429s are counted: there must be none).
//! 3. **Sync with the connector on vs off**: the p99 of 40 syncs of 500 moves each on a server
//!    whose facility is not connected, one whose facility is connected while the state is down
//!    (each accepted move queues its state write in the same transaction: the outbox's own cost),
//!    and one connected while its drain sends to the state meanwhile (on this 2-core machine the
//!    emulator's own work shares the cores), runs alternated. Target: at most 10% more.
//!
//! `CUSTODY_STATE_BENCH_LATENCY_MS` sets the latency (default 50), `CUSTODY_STATE_BENCH_WRITES`
//! the backfill's size (default 10,000), `CUSTODY_STATE_BENCH_ONLY` one part (`backfill`, `pull`,
//! `sync`).
//!
//! The queued writes are put in the server's outbox directly (one SQLite transaction, as an
//! outage leaves them): their bodies are what `outbox::write_for` makes of real events recorded
//! on a phone, so the emulator validates them as it would the product's.

use std::time::{Duration, Instant};

use custody_core::ids::LicenseNumber;
use custody_e2e::{Fleet, MANAGER, Phone, tag};
use custody_metrc_emulator::{Emulator, Seed};
use custody_server::StateSettings;
use custody_server::state::System;
use custody_server::state::metrc::Keys;
use custody_server::state::outbox::write_for;
use serde_json::json;

const L1: &str = "C11-0000001-LIC";
const VENDOR: &str = "vendor-key-1";
const USER: &str = "user-key-1";
const ITEM: &str = "Live Resin - Blue Dream 1g";
/// The state's GET limit per facility (metrc-api.md).
const STATE_GETS_PER_SECOND: f64 = 50.0;

fn main() {
    if std::env::args().any(|a| a == "--test") || std::env::args().all(|a| a != "--bench") {
        println!("state bench: run with `cargo bench -p custody-e2e --bench state`");
        return;
    }
    let latency = Duration::from_millis(env_or("CUSTODY_STATE_BENCH_LATENCY_MS", 50));
    let writes = env_or("CUSTODY_STATE_BENCH_WRITES", 10_000);
    let only = std::env::var("CUSTODY_STATE_BENCH_ONLY").ok();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    runtime.block_on(async {
        if only.as_deref().is_none_or(|o| o == "backfill") {
            backfill(writes, latency).await;
        }
        if only.as_deref().is_none_or(|o| o == "pull") {
            pull(5_000, latency).await;
        }
        if only.as_deref().is_none_or(|o| o == "sync") {
            sync_on_vs_off(latency).await;
        }
    });
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The connector as a server runs it, looking for work often (the bench times the drain, not
/// the poll) and pulling only when asked.
fn settings() -> StateSettings {
    StateSettings {
        poll_interval: Duration::from_millis(20),
        pull_interval: None,
        snapshot_interval: Duration::ZERO,
        ..StateSettings::default()
    }
}

/// The state with `packages` 10.00 g packages of L1 at the dock (tags 1..=packages).
async fn state_with(packages: u64, latency: Duration) -> Emulator {
    let mut seed = Seed::default()
        .vendor_key(VENDOR)
        .facility(L1, USER)
        .item(L1, json!({"Id": 1, "Name": ITEM, "ProductCategoryName": "Concentrate", "UnitOfMeasureName": "Grams"}));
    for (i, name) in ["Dock", "Vault A", "Vault B"].iter().enumerate() {
        seed = seed.location(L1, json!({"Id": 10 + i, "Name": name, "LocationTypeName": "Default", "ForPackages": true}));
    }
    for n in 1..=packages {
        seed = seed.package(
            L1,
            json!({"Id": n, "Label": tag(n).as_str(), "Quantity": 10.0, "UnitOfMeasureName": "Grams", "LocationName": "Dock",
                   "Item": {"Name": ITEM, "ProductCategoryName": "Concentrate"}, "FinishedDate": null,
                   "LastModified": "2026-12-01T08:00:00"}),
        );
    }
    let emu = Emulator::start(seed).await.expect("the emulator starts");
    emu.faults().set_latency(latency);
    emu
}

fn connect(fleet: &Fleet, emu: &Emulator) {
    let keys = Keys { vendor: VENDOR.into(), user: USER.into() };
    fleet.server().db.state_connect(&lic(), System::Metrc, "ca", &emu.base_url(), &keys, None).expect("connect");
}

fn lic() -> LicenseNumber {
    LicenseNumber::parse(L1).unwrap()
}

fn throttled(emu: &Emulator) -> usize {
    emu.status_counts().get(&429).copied().unwrap_or(0)
}

async fn backfill(writes: u64, latency: Duration) {
    let adjustments = writes / 2;
    let moves = writes - adjustments;
    let emu = state_with(writes, latency).await;
    let fleet = Fleet::start_with_state(L1, settings()).await;
    let phone = fleet.phone("vault").await;
    phone.sign_in(MANAGER).await;
    // The writes as the server makes them from real events (recorded on the phone, never synced):
    // odd packages move, even ones are adjusted by half a gram.
    let start = Instant::now();
    let rows: Vec<(String, String, String)> = tokio::task::block_in_place(|| {
        for n in 1..=writes {
            phone.receive(&tag(n), 1_000, "Dock");
        }
        (1..=writes)
            .map(|n| {
                let event = if n % 2 == 1 { phone.move_to(&tag(n), "Vault A") } else { phone.adjust(&tag(n), -50, "bench") };
                let (kind, labels, body) = write_for(&event, custody_core::state_json::Tz::America__Los_Angeles).expect("a state write");
                (kind.as_str().to_string(), labels.join(" "), body.to_string())
            })
            .collect()
    });
    println!(
        "[backfill] {writes} packages received and {writes} writes made from recorded events in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    connect(&fleet, &emu);
    let lower_bound =
        (adjustments as f64 / STATE_GETS_PER_SECOND).max((moves.div_ceil(10) + adjustments.div_ceil(10)) as f64 * latency.as_secs_f64());
    let start = Instant::now();
    queue_in_one_transaction(&fleet, &rows);
    let mut last_report = Instant::now();
    loop {
        let s = fleet.server().db.state_status(&lic()).expect("status");
        if s.queued == 0 && s.submitted == 0 {
            break;
        }
        if last_report.elapsed() >= Duration::from_secs(15) {
            println!("[backfill]   {:.0} s: {} queued", start.elapsed().as_secs_f64(), s.queued);
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took = start.elapsed().as_secs_f64();
    let s = fleet.server().db.state_status(&lic()).expect("status");
    let applied: usize = emu.writes().iter().map(|w| w.body.as_array().map_or(0, Vec::len)).sum();
    let requests = emu.request_counts();
    let gets: usize = requests.iter().filter(|((m, _), _)| m == "GET").map(|(_, n)| n).sum();
    let posts: usize = requests.iter().filter(|((m, _), _)| m != "GET").map(|(_, n)| n).sum();
    assert_eq!(applied as u64, writes, "every queued write reached the state exactly once");
    assert_eq!(s.failed, 0, "no write failed: {:?}", s.failed_writes.first());
    println!(
        "[backfill] {writes} writes ({moves} moves, {adjustments} adjustments) at {} ms latency: {took:.1} s; lower bound {lower_bound:.1} s; ratio {:.2} (target <= 1.25); {posts} write requests, {gets} GETs, {} answered 429",
        latency.as_millis(),
        took / lower_bound,
        throttled(&emu)
    );
}

/// The outbox as an outage leaves it: every row queued, in order, in one transaction.
fn queue_in_one_transaction(fleet: &Fleet, rows: &[(String, String, String)]) {
    let mut conn = rusqlite::Connection::open(fleet.server().db.path()).expect("open the server's database");
    conn.busy_timeout(Duration::from_secs(30)).unwrap();
    let tx = conn.transaction().unwrap();
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO state_outbox (facility, source, kind, labels, body, status, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6)",
            )
            .unwrap();
        let now = chrono::Utc::now().to_rfc3339();
        for (i, (kind, labels, body)) in rows.iter().enumerate() {
            insert.execute(rusqlite::params![L1, format!("bench-{i}"), kind, labels, body, now]).unwrap();
        }
    }
    tx.commit().unwrap();
}

async fn pull(packages: u64, latency: Duration) {
    let emu = state_with(packages, latency).await;
    let fleet = Fleet::start_with_state(L1, settings()).await;
    connect(&fleet, &emu);
    let start = Instant::now();
    let report = custody_server::state::pull::pull_now(&fleet.server().db, &settings(), &lic()).await.expect("the pull");
    let took = start.elapsed().as_secs_f64();
    assert!(report.snapshot, "a snapshot was taken");
    let (_, snapshot) = fleet.server().db.latest_package_snapshot(&lic()).expect("read").expect("a snapshot");
    assert_eq!(snapshot.len() as u64, packages);
    let pages = emu.request_counts().get(&("GET".to_string(), "/packages/v2/active".to_string())).copied().unwrap_or(0);
    let gets: usize = emu.request_counts().iter().filter(|((m, _), _)| m == "GET").map(|(_, n)| n).sum();
    println!(
        "[pull] {packages} active packages in {took:.2} s at {} ms latency: {pages} pages of /packages/v2/active, {gets} GETs in all (the GET limit alone allows it in {:.1} s), {} answered 429",
        latency.as_millis(),
        gets as f64 / STATE_GETS_PER_SECOND,
        throttled(&emu)
    );
}

const SYNC_PACKAGES: u64 = 500;
const SYNC_ROUNDS: usize = 40;

async fn sync_on_vs_off(latency: Duration) {
    let emu = state_with(SYNC_PACKAGES, latency).await;
    let down = state_with(SYNC_PACKAGES, latency).await;
    down.faults().set_outage(true);
    let off = Fleet::start_with_state(L1, settings()).await;
    let queueing = Fleet::start_with_state(L1, settings()).await;
    let draining = Fleet::start_with_state(L1, settings()).await;
    connect(&queueing, &down);
    connect(&draining, &emu);
    let phones = [ready_phone(&off, "off").await, ready_phone(&queueing, "queueing").await, ready_phone(&draining, "draining").await];
    let mut times: [Vec<Duration>; 3] = Default::default();
    for round in 0..SYNC_ROUNDS {
        let to = if round % 2 == 0 { "Vault A" } else { "Vault B" };
        // Each configuration goes first in turn, so none always syncs right after another.
        for k in 0..3 {
            let i = (round + k) % 3;
            let phone = &phones[i];
            tokio::task::block_in_place(|| {
                for n in 1..=SYNC_PACKAGES {
                    phone.move_to(&tag(n), to);
                }
            });
            let start = Instant::now();
            let report = phone.sync().await.expect("sync");
            times[i].push(start.elapsed());
            assert_eq!(report.accepted as u64, SYNC_PACKAGES);
        }
    }
    let [t_off, t_queue, t_drain] = &mut times;
    let off_p99 = percentile(t_off, 0.99);
    let left = draining.server().db.state_status(&lic()).expect("status").queued;
    let grown = queueing.server().db.state_status(&lic()).expect("status").queued;
    for (what, t) in [("connector off", &mut *t_off), ("on, state down (the outbox grows)", t_queue), ("on, draining meanwhile", t_drain)] {
        let (p50, p99) = (percentile(t, 0.5), percentile(t, 0.99));
        println!(
            "[sync] {SYNC_ROUNDS} syncs of {SYNC_PACKAGES} moves, {what}: p50 {:.1} ms, p99 {:.1} ms ({:+.1}% at p99 against off)",
            ms(p50),
            ms(p99),
            (ms(p99) / ms(off_p99) - 1.0) * 100.0
        );
    }
    println!("[sync] outbox at the end: {grown} queued while the state was down, {left} still queued on the draining server");
}

/// A phone with the bench's packages received and synced, a manager signed in.
async fn ready_phone(fleet: &Fleet, name: &str) -> Phone {
    let phone = fleet.phone(name).await;
    phone.sign_in(MANAGER).await;
    tokio::task::block_in_place(|| {
        for n in 1..=SYNC_PACKAGES {
            phone.receive(&tag(n), 1_000, "Dock");
        }
    });
    phone.sync().await.expect("first sync");
    phone
}

fn percentile(times: &mut [Duration], p: f64) -> Duration {
    times.sort();
    times[((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
