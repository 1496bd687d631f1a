//! Limits and fault controls over real HTTP: 429 with Retry-After under a burst, the
//! concurrency limit, latency, 5xx, outages, and writes applied whose response is lost.

mod common;

use std::time::{Duration, Instant};

use common::*;
use custody_metrc_emulator::LossMode;
use serde_json::{Value, json};

fn drying(q: i64) -> Value {
    json!([{"Label": BULK, "Quantity": q, "UnitOfMeasure": "Grams",
            "AdjustmentReason": "Drying", "AdjustmentDate": "2026-12-03"}])
}

#[tokio::test]
async fn a_burst_over_the_facility_limit_is_answered_429_with_retry_after() {
    let emu = start().await;
    emu.faults().set_rate_limits(5, 150, 10);
    let api = api(&emu);
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..8 {
        let r = api.get("/packages/v2/active", "").await;
        if r.status() == 429 {
            retry_after = r.headers().get("retry-after").map(|h| h.to_str().unwrap().to_string());
            let v: Value = r.json().await.unwrap();
            assert!(v["Message"].as_str().unwrap().contains(LIC));
            statuses.push(429);
        } else {
            statuses.push(r.status().as_u16());
        }
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 5, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 3, "{statuses:?}");
    let secs: u64 = retry_after.expect("Retry-After on a 429").parse().unwrap();
    assert_eq!(secs, 1, "a one-second window frees within a second");
    let key = ("GET".to_string(), "/packages/v2/active".to_string());
    assert_eq!(emu.request_counts()[&key], 8, "429s are counted too");
    assert_eq!(emu.status_counts()[&429], 3);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(api.get("/packages/v2/active", "").await.status(), 200, "after Retry-After");
    // Writes are not GETs: the limit does not apply to them.
    emu.faults().set_rate_limits(0, 0, 0);
    let (s, _) = api.write("POST", "/packages/v2/adjust", drying(-1)).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn the_vendor_key_limit_spans_facilities() {
    let emu = start().await;
    emu.faults().set_rate_limits(100, 3, 10);
    let api = api(&emu);
    for _ in 0..3 {
        assert_eq!(api.get("/packages/v2/active", "").await.status(), 200);
    }
    let other = Api { user: OTHER_USER.into(), ..api };
    let r = other.get_as("/packages/v2/active", OTHER_LIC, "").await;
    assert_eq!(r.status(), 429, "same vendor key, another facility");
    assert!(r.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn more_concurrent_gets_than_a_facility_may_run_are_answered_429() {
    let emu = start().await;
    emu.faults().set_rate_limits(50, 150, 2);
    // Long enough that all four are in flight together even on a loaded machine.
    emu.faults().set_latency(Duration::from_millis(1500));
    let api = std::sync::Arc::new(api(&emu));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let api = api.clone();
        tasks.push(tokio::spawn(async move { api.get("/items/v2/active", "").await.status().as_u16() }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort();
    assert_eq!(statuses, [200, 200, 429, 429]);
    // The slots are freed when the answers are out.
    assert_eq!(api.get("/items/v2/active", "").await.status(), 200);
}

#[tokio::test]
async fn added_latency_delays_every_answer() {
    let emu = start().await;
    let api = api(&emu);
    emu.faults().set_latency(Duration::from_millis(300));
    let t = Instant::now();
    assert_eq!(api.get("/packages/v2/active", "").await.status(), 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
    emu.faults().set_latency(Duration::ZERO);
    let t = Instant::now();
    assert_eq!(api.get("/packages/v2/active", "").await.status(), 200);
    assert!(t.elapsed() < Duration::from_millis(300));
}

#[tokio::test]
async fn a_5xx_rate_fails_requests_without_applying_them() {
    let emu = start().await;
    let api = api(&emu);
    emu.faults().set_error_rate(1.0);
    let (s, v) = api.write("POST", "/packages/v2/adjust", drying(-1)).await;
    assert!(s == 500 || s == 503, "{s}");
    assert!(v["Message"].is_string());
    assert!(emu.writes().is_empty());
    assert_eq!(quantity(&emu, BULK), "100");

    emu.faults().set_error_rate(0.5);
    let mut failed = 0;
    for _ in 0..40 {
        let s = api.get("/items/v2/active", "").await.status().as_u16();
        assert!(matches!(s, 200 | 500 | 503), "{s}");
        failed += usize::from(s != 200);
    }
    assert!((5..=35).contains(&failed), "about half fail: {failed} of 40");

    emu.faults().set_error_rate(0.0);
    let (s, _) = api.write("POST", "/packages/v2/adjust", drying(-1)).await;
    assert_eq!(s, 200);
    assert_eq!(quantity(&emu, BULK), "99");
}

#[tokio::test]
async fn during_an_outage_everything_is_503_and_nothing_is_applied() {
    let emu = start().await;
    let api = api(&emu);
    emu.faults().set_outage(true);
    assert_eq!(api.get("/transfers/v2/incoming", "").await.status(), 503);
    let (s, _) = api.write("POST", "/packages/v2/adjust", drying(-1)).await;
    assert_eq!(s, 503);
    assert!(emu.writes().is_empty());
    emu.faults().set_outage(false);
    assert_eq!(api.get("/transfers/v2/incoming", "").await.status(), 200);
}

#[tokio::test]
async fn a_reset_loses_the_response_of_a_write_that_was_applied() {
    let emu = start().await;
    let api = api(&emu);
    emu.faults().lose_next_writes(1, LossMode::Reset);
    let r = api.try_write("POST", "/packages/v2", json!([create_row("1A4FF0100000022000000901", BULK, "5", "Grams")])).await;
    let e = r.expect_err("the client gets no response");
    assert!(!e.is_timeout(), "closed, not timed out: {e}");
    // The state has it all the same.
    assert_eq!(emu.writes().len(), 1);
    assert!(emu.package("1A4FF0100000022000000901").is_some());
    assert_eq!(quantity(&emu, BULK), "95");

    // A blind retry is the hazard the connector must avoid: the tag is now used.
    let (s, v) = api.write("POST", "/packages/v2", json!([create_row("1A4FF0100000022000000901", BULK, "5", "Grams")])).await;
    assert_eq!(s, 400);
    assert!(row_messages(&v)[0].contains("already been used"));
    assert_eq!(quantity(&emu, BULK), "95");
    assert_eq!(emu.writes().len(), 1);
}

#[tokio::test]
async fn a_hang_applies_the_write_and_never_answers() {
    let emu = start().await;
    let mut api = api(&emu);
    api.http = reqwest::Client::builder().timeout(Duration::from_millis(800)).build().unwrap();
    emu.faults().lose_next_writes(1, LossMode::Hang);
    let t = Instant::now();
    let e = api.try_write("POST", "/packages/v2/adjust", drying(-2)).await.expect_err("no answer");
    assert!(e.is_timeout(), "{e}");
    assert!(t.elapsed() >= Duration::from_millis(800));
    assert_eq!(emu.writes().len(), 1);
    assert_eq!(quantity(&emu, BULK), "98");
    // Only the next write was lost: the one after is answered.
    let (s, _) = api.write("POST", "/packages/v2/adjust", drying(-2)).await;
    assert_eq!(s, 200);
    assert_eq!(quantity(&emu, BULK), "96");
}

#[tokio::test]
async fn a_write_refused_by_validation_does_not_use_up_a_lost_response() {
    let emu = start().await;
    let api = api(&emu);
    emu.faults().lose_next_writes(1, LossMode::Reset);
    let (s, _) = api.write("POST", "/packages/v2/adjust", drying(-1000)).await;
    assert_eq!(s, 400, "answered: nothing was applied");
    assert!(api.try_write("POST", "/packages/v2/adjust", drying(-1)).await.is_err());
    assert_eq!(quantity(&emu, BULK), "99");
}
