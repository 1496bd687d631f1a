//! Sync benchmark: 10,000 events recorded offline on one phone go through the real server on
//! loopback in one `sync()`, then a second phone pulls them all.
//!
//!     cargo bench -p custody-e2e --bench sync
//!
//! Targets: the push sync takes under 2 s and at most 3 HTTP round trips.
//!
//! Each run uses a fresh fleet (server + data folder): one phone enrolled, MANAGER signed in,
//! 2,000 packages received and moved 4 times each (10,000 pending events, every one a durable
//! `Store::record` commit), then one timed `phone.sync()` (push), then a second phone enrolled and
//! one timed `sync()` (pull). `CUSTODY_SYNC_BENCH_RUNS` sets the number of runs (default 3).
//!
//! A last run replays the same sync step by step without HTTP (outbox read, JSON, the server's
//! `Db::sync`, the device's `apply_sync`) to show where the time goes, then resends one
//! 5,000-event request (answered idempotently) in-process and over HTTP to show the HTTP share.

use std::time::{Duration, Instant};

use chrono::Utc;
use custody_core::protocol::{MAX_EVENTS_PER_SYNC, SyncRequest, SyncResponse};
use custody_e2e::{Fleet, MANAGER, Phone, tag};
use custody_server::AuthedDevice;

const PACKAGES: u64 = 2_000;
const MOVES_PER_PACKAGE: u64 = 4;
const EVENTS: u64 = PACKAGES * (1 + MOVES_PER_PACKAGE);
const LICENSE: &str = "C11-0000001-LIC";

fn main() {
    // `cargo test --all-targets` / `--benches` runs bench binaries without `--bench`: keep those
    // from recording tens of thousands of durable events.
    if std::env::args().any(|a| a == "--test") || std::env::args().all(|a| a != "--bench") {
        println!("sync bench: run with `cargo bench -p custody-e2e --bench sync`");
        return;
    }
    let runs: usize = std::env::var("CUSTODY_SYNC_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    runtime.block_on(async {
        let mut pushes = Vec::new();
        for run in 1..=runs {
            pushes.push(measured_run(run).await);
        }
        if !pushes.is_empty() {
            pushes.sort();
            println!(
                "push of {EVENTS} events over {runs} run(s): best {:.3} s, median {:.3} s, worst {:.3} s (target < 2 s)",
                pushes[0].as_secs_f64(),
                pushes[pushes.len() / 2].as_secs_f64(),
                pushes[pushes.len() - 1].as_secs_f64()
            );
        }
        breakdown().await;
    });
}

/// A fleet with one enrolled phone holding `EVENTS` pending events, MANAGER signed in.
async fn loaded_fleet(run: &str) -> (Fleet, Phone) {
    let fleet = Fleet::start(LICENSE).await;
    let phone = fleet.phone("pusher").await;
    phone.sign_in(MANAGER).await;
    let start = Instant::now();
    tokio::task::block_in_place(|| {
        for n in 1..=PACKAGES {
            phone.receive(&tag(n), 1_000 + n as i64, "Intake");
        }
        for round in 1..=MOVES_PER_PACKAGE {
            for n in 1..=PACKAGES {
                phone.move_to(&tag(n), &format!("Vault {round}"));
            }
        }
    });
    let took = start.elapsed();
    assert_eq!(phone.store.pending_count().expect("pending"), EVENTS);
    println!(
        "[{run}] setup: recorded {EVENTS} events offline in {:.2} s ({:.2} ms per durable record)",
        took.as_secs_f64(),
        took.as_secs_f64() * 1e3 / EVENTS as f64
    );
    (fleet, phone)
}

/// One fresh fleet: timed push of `EVENTS` events, then a timed pull of them on a second phone.
async fn measured_run(run: usize) -> Duration {
    let label = format!("run {run}");
    let (fleet, phone) = loaded_fleet(&label).await;

    let start = Instant::now();
    let report = phone.sync().await.expect("push sync");
    let push = start.elapsed();
    println!(
        "[{label}] push: {EVENTS} events in {:.3} s, {} round trips (accepted {}, rejected {}, pulled {})",
        push.as_secs_f64(),
        report.round_trips,
        report.accepted,
        report.rejected,
        report.pulled
    );
    assert_eq!(report.accepted as u64, EVENTS, "every event accepted");
    assert_eq!(report.rejected, 0);
    assert_eq!(phone.store.pending_count().expect("pending"), 0);

    let puller = fleet.phone("puller").await;
    let start = Instant::now();
    let report = puller.sync().await.expect("pull sync");
    let pull = start.elapsed();
    println!("[{label}] pull: {} events in {:.3} s, {} round trips", report.pulled, pull.as_secs_f64(), report.round_trips);
    assert_eq!(report.pulled as u64, EVENTS, "the second phone pulls every event");
    assert_eq!(puller.packages().len() as u64, PACKAGES);
    assert_eq!(puller.report(), phone.report(), "both phones show the same inventory");
    push
}

/// The push sync replayed phase by phase, in-process: what `SyncClient::sync` does minus HTTP.
async fn breakdown() {
    let (fleet, phone) = loaded_fleet("breakdown").await;
    let device =
        AuthedDevice { id: phone.store.identity().expect("identity").expect("enrolled").device_id, facility: fleet.facility.clone() };
    let db = fleet.server().db.clone();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let total = Instant::now();
    let mut trip = 0;
    let mut first_request = None;
    tokio::task::block_in_place(|| {
        loop {
            trip += 1;
            let t = Instant::now();
            let events = phone.store.outbox(MAX_EVENTS_PER_SYNC).expect("outbox");
            let outbox = t.elapsed();
            let pushed = events.len();
            // Built as the wire sees it, so fields the protocol grows (all `serde(default)`) need
            // no change here.
            let cursor = phone.store.cursor().expect("cursor");
            let t = Instant::now();
            let request = serde_json::json!({ "cursor": cursor, "events": events });
            let body = serde_json::to_vec(&request).expect("encode request");
            let encode = t.elapsed();
            let t = Instant::now();
            let request: SyncRequest = serde_json::from_slice(&body).expect("decode request");
            let decode = t.elapsed();

            if first_request.is_none() {
                first_request = Some(body.clone());
            }
            let sent_at = Utc::now();
            let t = Instant::now();
            let (response, _) = db.sync(&device, None, &request).expect("server sync");
            let server = t.elapsed();

            let t = Instant::now();
            let reply = serde_json::to_vec(&response).expect("encode response");
            let response: SyncResponse = serde_json::from_slice(&reply).expect("decode response");
            let reply_json = t.elapsed();

            let t = Instant::now();
            phone.store.apply_sync(&response, sent_at).expect("apply sync");
            let apply = t.elapsed();

            println!(
                "[breakdown] trip {trip}: {pushed} events, request {:.1} MB, response {:.2} MB | outbox read {:.0} ms, \
                 request encode {:.0} ms + decode {:.0} ms, server Db::sync {:.0} ms, response JSON {:.0} ms, \
                 device apply_sync {:.0} ms",
                body.len() as f64 / 1e6,
                reply.len() as f64 / 1e6,
                ms(outbox),
                ms(encode),
                ms(decode),
                ms(server),
                ms(reply_json),
                ms(apply)
            );
            if pushed < MAX_EVENTS_PER_SYNC && !response.has_more {
                break;
            }
        }
        let t = Instant::now();
        phone.store.checkpoint().expect("checkpoint");
        println!("[breakdown] final checkpoint {:.0} ms", ms(t.elapsed()));
    });
    println!("[breakdown] {trip} round trips without HTTP: {:.3} s", total.elapsed().as_secs_f64());
    assert_eq!(phone.store.pending_count().expect("pending"), 0);

    // The HTTP share: resend the first 5,000-event request (the server answers a resend of
    // accepted events idempotently, so this changes nothing) in-process and over loopback HTTP.
    let body = first_request.expect("a first request");
    let mut in_process = Duration::MAX;
    let mut over_http = Duration::MAX;
    let mut to_headers = Duration::MAX;
    let http = custody_e2e::https_client();
    let url = format!("{}/v1/sync", fleet.url());
    let token = phone.token();
    for _ in 0..3 {
        let t = Instant::now();
        tokio::task::block_in_place(|| {
            let request: SyncRequest = serde_json::from_slice(&body).expect("decode request");
            let (response, counts) = db.sync(&device, None, &request).expect("server resend");
            assert_eq!(counts.accepted, MAX_EVENTS_PER_SYNC);
            let reply = serde_json::to_vec(&response).expect("encode response");
            let _: SyncResponse = serde_json::from_slice(&reply).expect("decode response");
        });
        in_process = in_process.min(t.elapsed());

        let t = Instant::now();
        let response = http
            .post(&url)
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .expect("POST /v1/sync");
        let headers = t.elapsed();
        assert!(response.status().is_success(), "resend answered {}", response.status());
        let reply = response.bytes().await.expect("response body");
        let _: SyncResponse = serde_json::from_slice(&reply).expect("decode response");
        over_http = over_http.min(t.elapsed());
        to_headers = to_headers.min(headers);
    }
    println!(
        "[breakdown] resend of {MAX_EVENTS_PER_SYNC} events ({:.1} MB), best of 3: in-process decode + Db::sync + \
         response JSON {:.0} ms; over loopback HTTP {:.0} ms ({:.0} ms to response headers)",
        body.len() as f64 / 1e6,
        ms(in_process),
        ms(over_http),
        ms(to_headers)
    );
}
