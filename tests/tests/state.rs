//! The connector to the state's system end to end: phones record work, the real server accepts
//! it and queues the state writes in the same transaction, and its drain sends them to the Metrc
//! emulator on loopback, through outages, failures, lost answers and refused keys.

use std::time::Duration;

use custody_core::approvals;
use custody_core::event::EventBody;
use custody_core::ids::{BatchNumber, ItemName, LicenseNumber, PackageTag};
use custody_core::outbound::{picking, shipping};
use custody_core::quantity::{Quantity, Unit};
use custody_e2e::*;
use custody_metrc_emulator::{Emulator, LossMode, Seed};
use custody_server::state::System;
use custody_server::state::metrc::Keys;
use rust_decimal::Decimal;
use serde_json::{Value, json};

const L1: &str = "C11-0000001-LIC";
const L2: &str = "C11-0000002-LIC";
const VENDOR: &str = "vendor-key-1";
const ITEM: &str = "Live Resin - Blue Dream 1g";

/// The state as it stands before the day: both facilities, their user keys (L1 has a spare for
/// after its first expires), the item, the locations, and `tags` as 10.00 g packages at the dock.
async fn state_with(tags: &[(&str, PackageTag)]) -> Emulator {
    let mut seed = Seed::default().vendor_key(VENDOR).facility(L1, "user-key-1").facility(L1, "user-key-1b").facility(L2, "user-key-2");
    for license in [L1, L2] {
        seed = seed.item(license, json!({"Id": if license == L1 { 1 } else { 2 }, "Name": ITEM, "ProductCategoryName": "Concentrate", "UnitOfMeasureName": "Grams"}));
        for (i, name) in ["Dock", "Vault A", "Vault B", "Pack bench"].iter().enumerate() {
            seed = seed.location(license, json!({"Id": 10 + i + if license == L1 { 0 } else { 10 }, "Name": name, "LocationTypeName": "Default", "ForPackages": true}));
        }
    }
    for (n, (license, t)) in tags.iter().enumerate() {
        seed = seed.package(
            *license,
            json!({"Id": 1000 + n, "Label": t.as_str(), "Quantity": 10.0, "UnitOfMeasureName": "Grams", "LocationName": "Dock",
                   "Item": {"Name": ITEM, "ProductCategoryName": "Concentrate"}, "FinishedDate": null}),
        );
    }
    Emulator::start(seed).await.expect("the emulator starts")
}

fn connect(fleet: &Fleet, emu: &Emulator, license: &str, user_key: &str) {
    let keys = Keys { vendor: VENDOR.into(), user: user_key.into() };
    fleet.server().db.state_connect(&lic(license), System::Metrc, "ca", &emu.base_url(), &keys, None).expect("connect");
}

fn lic(text: &str) -> LicenseNumber {
    LicenseNumber::parse(text).unwrap()
}

/// Polls `condition` every 20 ms for up to 30 s; the test fails with `what` if it never holds.
async fn until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every write of the facility is done: nothing queued or in doubt.
async fn drained(fleet: &Fleet, license: &str) {
    until(&format!("{license}'s outbox is drained"), || {
        let s = fleet.server().db.state_status(&lic(license)).unwrap();
        s.queued == 0 && s.submitted == 0
    })
    .await;
}

/// The objects the state applied, in order, as (path, label-ish field, object).
fn applied(emu: &Emulator) -> Vec<(String, String, Value)> {
    emu.writes()
        .into_iter()
        .flat_map(|w| {
            let path = w.path.clone();
            w.body.as_array().cloned().unwrap_or_default().into_iter().map(move |o| {
                let label = o.get("Label").or_else(|| o.get("Tag")).and_then(Value::as_str).unwrap_or("").to_string();
                (path.clone(), label, o)
            })
        })
        .collect()
}

/// What the state saw for one package, in order: "location Vault A", "adjust -0.5", ...
fn history(emu: &Emulator, t: &PackageTag) -> Vec<String> {
    applied(emu)
        .into_iter()
        .filter(|(_, label, o)| {
            label == t.as_str() || o["Ingredients"].as_array().is_some_and(|i| i.iter().any(|x| x["Package"] == t.as_str()))
        })
        .map(|(path, label, o)| match path.as_str() {
            "/packages/v2/location" => format!("location {}", o["Location"].as_str().unwrap()),
            "/packages/v2/adjust" => format!("adjust {}", o["Quantity"]),
            "/packages/v2/finish" => "finish".to_string(),
            "/packages/v2" if label == t.as_str() => "created".to_string(),
            "/packages/v2" => format!("ingredient of {label}"),
            other => format!("{other} {label}"),
        })
        .collect()
}

fn split(phone: &Phone, from: &PackageTag, to: &PackageTag, hundredths: i64) {
    phone
        .store
        .record(
            from,
            EventBody::Split {
                new_tag: to.clone(),
                quantity: grams(hundredths),
                item: ItemName::parse(ITEM).unwrap(),
                batch: BatchNumber::parse("LR-2026-11-A").unwrap(),
                location: location("Pack bench"),
                expires_on: None,
            },
        )
        .expect("split");
}

/// Sam asks on `asker` for `hundredths` of a gram off `t`; Ana approves on `approver`.
async fn approved_adjustment(asker: &Phone, approver: &Phone, t: &PackageTag, hundredths: i64) {
    let request = asker
        .store
        .work(|w| {
            approvals::request_adjustment(
                w,
                t,
                Quantity::change(Decimal::new(hundredths, 2), Unit::G).unwrap(),
                "Entry Error",
                "short on recount",
                None,
            )
        })
        .expect("request");
    asker.sync().await.unwrap();
    approver.sync().await.unwrap();
    approver.store.work(|w| approvals::approve_adjustment(w, request, "checked the scale log")).expect("approve");
    approver.sync().await.unwrap();
}

#[tokio::test]
async fn a_day_of_work_reaches_the_state_once_each_in_order_and_an_unapproved_adjustment_never() {
    let fleet = Fleet::start(L1).await;
    let (t1, t2, t3, new) = (tag(1), tag(2), tag(3), tag(50));
    let emu = state_with(&[(L1, t1.clone()), (L1, t2.clone()), (L1, t3.clone())]).await;
    connect(&fleet, &emu, L1, "user-key-1");
    let office = fleet.phone("office").await;
    office.sign_in(MANAGER).await;
    let approver = fleet.phone("approver").await;
    approver.sign_in(MANAGER_2).await;

    for t in [&t1, &t2, &t3] {
        office.receive(t, 1_000, "Dock");
    }
    office.move_to(&t1, "Vault A");
    office.move_to(&t2, "Vault B");
    office.move_to(&t1, "Vault B");
    split(&office, &t3, &new, 250);
    let direct = office.adjust(&t2, -100, "looked light"); // a manager alone: never sent
    office.store.record(&t3, EventBody::Destroyed { reason: "contaminated".into() }).unwrap();
    office.sync().await.unwrap();
    approved_adjustment(&office, &approver, &t1, -50).await;
    drained(&fleet, L1).await;

    assert_eq!(history(&emu, &t1), vec!["location Vault A", "location Vault B", "adjust -0.5"]);
    assert_eq!(history(&emu, &t2), vec!["location Vault B"], "the unapproved adjustment never went");
    assert_eq!(history(&emu, &t3), vec![format!("ingredient of {new}"), "finish".to_string()]);
    assert_eq!(history(&emu, &new), vec!["created"]);
    assert_eq!(applied(&emu).len(), 6, "each write exactly once: {:?}", applied(&emu));
    assert!(emu.writes().iter().all(|w| w.license == L1));
    let p1 = emu.package(t1.as_str()).unwrap();
    assert_eq!((p1["Quantity"].as_f64(), p1["LocationName"].as_str()), (Some(9.5), Some("Vault B")));
    assert_eq!(emu.package(new.as_str()).unwrap()["Quantity"].as_f64(), Some(2.5));

    let db = &fleet.server().db;
    let status = db.state_status(&lic(L1)).unwrap();
    assert_eq!((status.confirmed, status.unapproved, status.failed), (6, 1, 0));
    let direct = db.event_state_status(&lic(L1), direct.id).unwrap().unwrap();
    assert!(direct.message.unwrap().contains("no approved request"));
}

#[tokio::test]
async fn an_outage_and_a_burst_of_failures_queue_and_backfill_in_order() {
    let fleet = Fleet::start(L1).await;
    let tags: Vec<PackageTag> = (1..=12).map(tag).collect();
    let emu = state_with(&tags.iter().map(|t| (L1, t.clone())).collect::<Vec<_>>()).await;
    connect(&fleet, &emu, L1, "user-key-1");
    let phone = fleet.phone("floor").await;
    phone.sign_in(MANAGER).await;
    for t in &tags {
        phone.receive(t, 1_000, "Dock");
    }
    emu.faults().set_outage(true);
    for t in &tags {
        phone.move_to(t, "Vault A");
    }
    for t in &tags[..6] {
        phone.move_to(t, "Vault B");
    }
    phone.sync().await.unwrap();
    // The state is down: the server keeps trying, nothing is applied, everything is kept.
    until("the connector has tried the state a few times", || emu.request_counts().values().sum::<usize>() >= 4).await;
    assert!(emu.writes().is_empty());
    let waiting = fleet.server().db.state_status(&lic(L1)).unwrap();
    assert_eq!(waiting.queued + waiting.submitted, 18);

    // It comes back, failing a third of its answers for a while.
    emu.faults().set_outage(false);
    emu.faults().set_error_rate(0.3);
    drained(&fleet, L1).await;
    emu.faults().set_error_rate(0.0);
    for (i, t) in tags.iter().enumerate() {
        let expected: &[&str] = if i < 6 { &["location Vault A", "location Vault B"] } else { &["location Vault A"] };
        assert_eq!(history(&emu, t), expected, "{t}");
    }
    assert_eq!(applied(&emu).len(), 18, "no move applied twice");
    assert!(emu.writes().iter().all(|w| w.body.as_array().unwrap().len() <= 10));
}

#[tokio::test]
async fn answers_lost_after_a_create_and_an_adjustment_are_read_back_not_repeated() {
    let fleet = Fleet::start(L1).await;
    let (t1, t2, new) = (tag(1), tag(2), tag(60));
    let emu = state_with(&[(L1, t1.clone()), (L1, t2.clone())]).await;
    connect(&fleet, &emu, L1, "user-key-1");
    let office = fleet.phone("office").await;
    office.sign_in(MANAGER).await;
    let approver = fleet.phone("approver").await;
    approver.sign_in(MANAGER_2).await;
    office.receive(&t1, 1_000, "Dock");
    office.receive(&t2, 1_000, "Dock");

    // The state creates the package and the connection drops before its answer.
    emu.faults().lose_next_writes(1, LossMode::Reset);
    split(&office, &t1, &new, 300);
    office.sync().await.unwrap();
    drained(&fleet, L1).await;
    assert_eq!(history(&emu, &new), vec!["created"], "the tag was created once");

    // The state applies the adjustment and never answers: the connector times out, reads the
    // quantity back and sees it applied.
    emu.faults().lose_next_writes(1, LossMode::Hang);
    approved_adjustment(&office, &approver, &t2, -150).await;
    drained(&fleet, L1).await;
    assert_eq!(history(&emu, &t2), vec!["adjust -1.5"], "applied once");
    assert_eq!(emu.package(t2.as_str()).unwrap()["Quantity"].as_f64(), Some(8.5));
    let status = fleet.server().db.state_status(&lic(L1)).unwrap();
    assert_eq!((status.confirmed, status.failed), (2, 0));
}

#[tokio::test]
async fn a_refused_key_stops_only_its_facility_until_connected_again_and_keys_stay_with_their_facility() {
    let fleet = Fleet::start(L1).await;
    fleet.add_facility(L2, "Second Warehouse");
    let (a, b) = (tag(1), tag(2));
    let emu = state_with(&[(L1, a.clone()), (L2, b.clone())]).await;
    connect(&fleet, &emu, L1, "user-key-1");
    connect(&fleet, &emu, L2, "user-key-2");
    let at_l1 = fleet.phone("l1").await;
    at_l1.sign_in(MANAGER).await;
    let at_l2 = fleet.phone_at(&lic(L2), "l2").await;
    at_l2.sign_in(MANAGER).await;
    at_l1.receive(&a, 1_000, "Dock");
    at_l1.move_to(&a, "Vault A");
    at_l2.receive(&b, 1_000, "Dock");
    at_l2.move_to(&b, "Vault A");
    at_l1.sync().await.unwrap();
    at_l2.sync().await.unwrap();
    drained(&fleet, L1).await;
    drained(&fleet, L2).await;
    // The emulator answers 401 to a key used for a licence it does not hold: both went with
    // their own facility's keys.
    let by_license: Vec<(String, String)> =
        emu.writes().iter().map(|w| (w.license.clone(), w.body[0]["Label"].as_str().unwrap().to_string())).collect();
    assert_eq!(by_license.len(), 2);
    assert!(by_license.contains(&(L1.to_string(), a.to_string())) && by_license.contains(&(L2.to_string(), b.to_string())));
    assert_eq!(emu.status_counts().get(&401), None, "no key was tried for another facility");

    // L1's user key expires at the state: its connector stops with the reason; L2 goes on.
    emu.faults().expire_user_key("user-key-1");
    at_l1.move_to(&a, "Vault B");
    at_l1.sync().await.unwrap();
    let db = &fleet.server().db;
    until("L1's connector stops", || db.state_connection(&lic(L1)).unwrap().unwrap().stopped.is_some()).await;
    let stopped = db.state_connection(&lic(L1)).unwrap().unwrap().stopped.unwrap();
    assert!(stopped.contains("state connect"), "{stopped}");
    at_l2.move_to(&b, "Vault B");
    at_l2.sync().await.unwrap();
    drained(&fleet, L2).await;
    assert_eq!(history(&emu, &b), vec!["location Vault A", "location Vault B"]);
    let held = db.state_status(&lic(L1)).unwrap();
    assert_eq!((held.queued, held.failed), (1, 0), "the move waits, it did not fail");
    let requests_while_stopped = emu.request_counts().values().sum::<usize>();
    tokio::time::sleep(Duration::from_millis(200)).await; // ten polls of the connector
    assert_eq!(emu.request_counts().values().sum::<usize>(), requests_while_stopped, "a stopped facility sends nothing");

    // Connected again with the new key: the held move goes.
    connect(&fleet, &emu, L1, "user-key-1b");
    drained(&fleet, L1).await;
    assert_eq!(history(&emu, &a), vec!["location Vault A", "location Vault B"]);
    assert!(db.state_connection(&lic(L1)).unwrap().unwrap().stopped.is_none());
}

#[tokio::test]
async fn a_storm_of_429s_is_waited_out_as_the_state_asks_and_nothing_is_lost() {
    let fleet = Fleet::start(L1).await;
    let tags: Vec<PackageTag> = (1..=10).map(tag).collect();
    let emu = state_with(&tags.iter().map(|t| (L1, t.clone())).collect::<Vec<_>>()).await;
    connect(&fleet, &emu, L1, "user-key-1");
    let phone = fleet.phone("floor").await;
    phone.sign_in(MANAGER).await;
    for t in &tags {
        phone.receive(t, 1_000, "Dock");
    }
    // Every write's answer is lost, so each is read back with a GET; GETs are limited to 4 a
    // second, and the state answers 429 with Retry-After beyond that.
    emu.faults().set_rate_limits(4, 150, 10);
    emu.faults().lose_next_writes(1, LossMode::Reset);
    for t in &tags {
        phone.move_to(t, "Vault A");
    }
    phone.sync().await.unwrap();
    drained(&fleet, L1).await;
    let throttled = emu.status_counts().get(&429).copied().unwrap_or(0);
    assert!(throttled > 0, "the storm happened: {:?}", emu.status_counts());
    // Waiting as told (1 s per 429) keeps the 429s few; a client that ignored Retry-After would
    // have drawn one every poll (20 ms).
    assert!(throttled <= 5, "{throttled} answers of 429: Retry-After was not honoured");
    for t in &tags {
        assert_eq!(history(&emu, t), vec!["location Vault A"], "{t}");
    }
}

#[tokio::test]
async fn a_departed_manifest_becomes_one_outgoing_template_even_when_the_answer_is_lost() {
    use custody_core::outbound::shipping::{NewManifest, NewStop};
    use custody_core::outbound::{Customer, NewOrder, NewOrderLine};
    use custody_core::work::manifest::Vehicle;
    const GREEN_DOOR: &str = "C10-0000201-LIC";

    let fleet = Fleet::start(L1).await;
    let t1 = tag(1);
    let emu = state_with(&[(L1, t1.clone())]).await;
    connect(&fleet, &emu, L1, "user-key-1");
    let db = &fleet.server().db;
    db.add_customer(&lic(L1), &Customer { licence: lic(GREEN_DOOR), name: "Green Door".into(), address: "1 Main".into() }).unwrap();
    let (office, floor, truck) = (fleet.phone("office").await, fleet.phone("floor").await, fleet.phone("truck").await);
    office.sign_in(MANAGER).await;
    floor.sign_in(FLOOR).await;
    let driver = truck.sign_in(DRIVER).await.id;
    office.receive(&t1, 1_000, "Dock");
    office.sync().await.unwrap();
    let order = office
        .store
        .work(|w| {
            picking::create_order(
                w,
                &NewOrder {
                    number: "SO-1".into(),
                    recipient: lic(GREEN_DOOR),
                    requested_on: (chrono::Utc::now() + chrono::Duration::days(1)).date_naive(),
                    lines: vec![NewOrderLine {
                        item: ItemName::parse(ITEM).unwrap(),
                        quantity: grams(1_000),
                        unit_price: Decimal::new(400, 2),
                    }],
                    patient: None,
                },
            )
        })
        .unwrap();
    office.store.work(|w| picking::generate_pick_list(w, order)).unwrap();
    office.sync().await.unwrap();
    floor.sync().await.unwrap();
    floor.store.work(|w| picking::pick_scan(w, order, t1.as_str(), None)).unwrap();
    floor.store.work(|w| picking::pack(w, order, t1.as_str(), "C-1", grams(1_100))).unwrap();
    floor.store.work(|w| picking::finish_packing(w, order)).unwrap();
    floor.sync().await.unwrap();
    office.sync().await.unwrap();
    let manifest = office
        .store
        .work(|w| {
            shipping::create_manifest(
                w,
                &NewManifest {
                    number: "M-0001".into(),
                    vehicle: Vehicle { make: "Ford".into(), model: "Transit".into(), plate: "8ABC123".into() },
                    driver,
                    driver_licence_number: "D1234567".into(),
                    driver_occupational_licence: "OL-5501".into(),
                    phone_for_questions: "510-555-0100".into(),
                    stops: vec![NewStop {
                        order,
                        planned_route: "direct".into(),
                        estimated_departure: chrono::Utc::now(),
                        estimated_arrival: chrono::Utc::now() + chrono::Duration::hours(1),
                    }],
                },
            )
        })
        .unwrap();
    office.sync().await.unwrap();
    truck.sync().await.unwrap();
    // Planned, not departed: nothing for the state yet.
    tokio::time::sleep(Duration::from_millis(100)).await; // five polls of the connector
    assert!(emu.writes().iter().all(|w| w.path != "/transfers/v2/templates/outgoing"));

    emu.faults().lose_next_writes(1, LossMode::Reset);
    truck.store.work(|w| shipping::depart(w, manifest)).unwrap();
    truck.sync().await.unwrap();
    truck.sync().await.unwrap();
    until("the template reached the state", || emu.writes().iter().any(|w| w.path == "/transfers/v2/templates/outgoing")).await;
    drained(&fleet, L1).await;
    let templates: Vec<Value> =
        applied(&emu).into_iter().filter(|(p, _, _)| p == "/transfers/v2/templates/outgoing").map(|(_, _, o)| o).collect();
    assert_eq!(templates.len(), 1, "one template despite the lost answer");
    let t = &templates[0];
    assert_eq!((t["Name"].as_str(), t["DriverOccupationalLicenseNumber"].as_str()), (Some("M-0001"), Some("OL-5501")));
    let stop = &t["Destinations"][0];
    assert_eq!(stop["RecipientLicenseNumber"], GREEN_DOOR);
    assert_eq!(stop["Packages"][0]["PackageLabel"], t1.as_str());
    assert_eq!(stop["Packages"][0]["GrossWeight"].as_f64(), Some(11.0));
    let status = db.state_status(&lic(L1)).unwrap();
    assert_eq!((status.confirmed, status.failed), (1, 0), "{status:?}");
    // More syncs of the departed manifest add nothing.
    truck.sync().await.unwrap();
    office.sync().await.unwrap();
    assert_eq!(db.state_status(&lic(L1)).unwrap().confirmed, 1);
}

/// Issue 12, point 7: 25 moves queued together reach the state as 3 writes (10, 10 and 5
/// objects: the state takes at most 10 per call), every move once, in the order made.
#[tokio::test]
async fn twenty_five_moves_go_to_the_state_as_three_writes() {
    let fleet = Fleet::start(L1).await;
    let tags: Vec<PackageTag> = (101..=125).map(tag).collect();
    let emu = state_with(&tags.iter().map(|t| (L1, t.clone())).collect::<Vec<_>>()).await;
    connect(&fleet, &emu, L1, "user-key-1");
    let phone = fleet.phone("floor").await;
    phone.sign_in(MANAGER).await;
    for t in &tags {
        phone.receive(t, 1_000, "Dock");
    }
    // Held back while the phone syncs, so all 25 wait in the outbox together.
    emu.faults().set_outage(true);
    for t in &tags {
        phone.move_to(t, "Vault A");
    }
    phone.sync().await.unwrap();
    let waiting = fleet.server().db.state_status(&lic(L1)).unwrap();
    assert_eq!(waiting.queued + waiting.submitted, 25);
    emu.faults().set_outage(false);
    drained(&fleet, L1).await;

    let moves: Vec<usize> =
        emu.writes().iter().filter(|w| w.path == "/packages/v2/location").map(|w| w.body.as_array().unwrap().len()).collect();
    assert_eq!(moves, vec![10, 10, 5], "25 moves in 3 writes");
    let order: Vec<String> = applied(&emu).into_iter().map(|(_, label, _)| label).collect();
    assert_eq!(order, tags.iter().map(|t| t.as_str().to_string()).collect::<Vec<_>>(), "each move once, in the order made");
}
