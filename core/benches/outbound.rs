//! Outbound benchmark.
//!
//!     cargo bench -p custody-core --bench outbound
//!
//! On a store of 10,000 packages: generating the pick list for a 2,000 g order (eligibility of
//! every package, first-expired-first-out allocation, the durable write of the document), and
//! scan-to-verdict for each pick of that list (parse, check against the list, the ledger pick
//! and the document pick in one durable transaction). Targets: pick list < 1 s, pick p99 < 5 ms.

mod common;

use std::time::Instant;

use chrono::{Duration, Utc};
use common::{percentile, pull, remote_events, signed_in_store};
use custody_core::outbound::{Customer, NewOrder, NewOrderLine};
use custody_core::*;
use rust_decimal::Decimal;

fn main() {
    if std::env::args().all(|a| a != "--bench") {
        println!("outbound bench: run with `cargo bench -p custody-core --bench outbound`");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = signed_in_store(&dir.path().join("outbound.db"), Role::Manager);
    pull(&store, &remote_events(10_000, 0, "Vault"));
    let shop = LicenseNumber::parse("C10-0000201-LIC").unwrap();
    let spare: Vec<PackageTag> = (0..10).map(|n| PackageTag::parse(&format!("1A4FF0300000{n:012}")).unwrap()).collect();
    store.save_reference(&[Customer { licence: shop.clone(), name: "Green Door".into(), address: "1 Main".into() }], &spare).unwrap();
    let order = store
        .create_order(&NewOrder {
            number: "SO-1".into(),
            recipient: shop,
            requested_on: (Utc::now() + Duration::days(1)).date_naive(),
            lines: vec![NewOrderLine {
                item: ItemName::parse("Live Resin 1g").unwrap(),
                quantity: Quantity::new(Decimal::new(200_000, 2), Unit::G).unwrap(),
                unit_price: Decimal::new(400, 2),
            }],
            patient: None,
        })
        .unwrap();
    let start = Instant::now();
    let list = store.generate_pick_list(order).unwrap();
    let generated = start.elapsed();

    let mut times = Vec::with_capacity(list.len());
    for pick in &list {
        let raw = format!("{}\r\n", pick.tag.as_str().to_lowercase());
        let quantity = pick.split_into.as_ref().map(|_| pick.quantity);
        let start = Instant::now();
        store.pick_scan(order, &raw, quantity).unwrap();
        times.push(start.elapsed());
    }
    times.sort();
    println!("pick list for 2,000 g from 10,000 packages ({} picks): {generated:?}", list.len());
    println!(
        "pick scan to verdict: p50 {:?}, p99 {:?}, max {:?}",
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times[times.len() - 1]
    );
}
