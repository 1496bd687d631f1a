//! Outbound benchmark.
//!
//!     cargo bench -p custody-core --bench outbound
//!
//! On a store of 10,000 packages: generating the pick list for a 2,000 g order (eligibility of
//! every package, first-expired-first-out allocation, the durable write of the document), and
//! scan-to-verdict for each pick of that list (parse, check against the list, the ledger pick
//! and the document pick in one durable transaction). Targets: pick list < 1 s, pick p99 < 5 ms.
//! Then the order is cancelled with 100 other orders on the phone, and every picked package is
//! put back through the vault's check-in (what is due is worked out from every order and
//! manifest document the phone holds, on each scan). Targets: returns list < 1 s, check-in
//! p99 < 50 ms.

mod common;

use std::time::Instant;

use chrono::{Duration, Utc};
use common::{percentile, pull, remote_events, signed_in_store};
use custody_core::outbound::{Customer, NewOrder, NewOrderLine, picking, shipping};
use custody_core::*;
use rust_decimal::Decimal;

const SHOP: &str = "C10-0000201-LIC";

fn main() {
    if std::env::args().all(|a| a != "--bench") {
        println!("outbound bench: run with `cargo bench -p custody-core --bench outbound`");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = signed_in_store(&dir.path().join("outbound.db"), Role::Manager);
    pull(&store, &remote_events(10_000, 0, "Vault"));
    let shop = LicenseNumber::parse(SHOP).unwrap();
    let spare: Vec<PackageTag> = (0..10).map(|n| PackageTag::parse(&format!("1A4FF0300000{n:012}")).unwrap()).collect();
    store
        .work(|w| picking::save_reference(w, &[Customer { licence: shop, name: "Green Door".into(), address: "1 Main".into() }], &spare))
        .unwrap();
    let order = store.work(|w| picking::create_order(w, &new_order("SO-1", 2_000))).unwrap();
    let start = Instant::now();
    let list = store.work(|w| picking::generate_pick_list(w, order)).unwrap();
    let generated = start.elapsed();

    let mut times = Vec::with_capacity(list.len());
    for pick in &list {
        let raw = format!("{}\r\n", pick.tag.as_str().to_lowercase());
        let quantity = pick.split_into.as_ref().map(|_| pick.quantity);
        let start = Instant::now();
        store.work(|w| picking::pick_scan(w, order, &raw, quantity)).unwrap();
        times.push(start.elapsed());
    }
    times.sort();
    println!("pick list for 2,000 g from 10,000 packages ({} picks): {generated:?}", list.len());
    report("pick scan to verdict", &times);

    // 100 more orders on the phone (allocated, then cancelled), as a busy week leaves them.
    for n in 0..100 {
        let other = store.work(|w| picking::create_order(w, &new_order(&format!("SO-{}", n + 2), 200))).unwrap();
        store.work(|w| picking::generate_pick_list(w, other)).unwrap();
        store.work(|w| picking::cancel_order(w, other, "bench")).unwrap();
    }
    store.work(|w| picking::cancel_order(w, order, "customer withdrew")).unwrap();
    // Listed 7 times: one figure is too noisy to compare across days; the first is reported apart
    // (the documents it reads may not all be in the store's cache yet).
    let mut listings = Vec::new();
    let mut due = Vec::new();
    for _ in 0..7 {
        let start = Instant::now();
        due = store.work(shipping::returns_due).unwrap();
        listings.push(start.elapsed());
    }
    let first = listings[0];
    listings.sort();
    let listed = listings[listings.len() / 2];
    assert_eq!(due.len(), list.len());
    let shelf = LocationName::parse("Vault").unwrap();
    let mut times = Vec::with_capacity(due.len());
    for row in &due {
        let start = Instant::now();
        store.work(|w| shipping::return_check_in(w, row.tag.as_str(), &shelf)).unwrap();
        times.push(start.elapsed());
    }
    times.sort();
    println!(
        "returns due ({} packages, 101 orders on the phone): median of 7 {listed:?} (first {first:?}, best {:?})",
        due.len(),
        listings[0]
    );
    report("return check-in to verdict", &times);
}

fn report(what: &str, times: &[std::time::Duration]) {
    println!("{what}: p50 {:?}, p99 {:?}, max {:?}", percentile(times, 0.5), percentile(times, 0.99), times[times.len() - 1]);
}

fn new_order(number: &str, grams: i64) -> NewOrder {
    NewOrder {
        number: number.into(),
        recipient: LicenseNumber::parse(SHOP).unwrap(),
        requested_on: (Utc::now() + Duration::days(1)).date_naive(),
        lines: vec![NewOrderLine {
            item: ItemName::parse("Live Resin 1g").unwrap(),
            quantity: Quantity::new(Decimal::new(grams * 100, 2), Unit::G).unwrap(),
            unit_price: Decimal::new(400, 2),
        }],
        patient: None,
    }
}
