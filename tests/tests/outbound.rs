//! End-to-end: an afternoon of outbound. Two orders (one entered on a manager's phone, one in
//! the office through the server, a medical delivery), pick lists in expiry order, a split, two
//! pickers on one list offline, a wrong-package scan refused, packing, a manifest with two stops
//! (and a second manifest for the same packages refused by the server), the driver offline for
//! the whole route, a package refused at stop 2 and checked back in. Afterwards the server, the
//! office phone, the pickers' phones and the driver's phone agree on the ledger, the manifest
//! and the inventory; patient data never reaches a floor phone, nor any disk in clear.

use chrono::{Duration, Utc};
use custody_core::fold::PackageStatus;
use custody_core::outbound::picking::OutboundError;
use custody_core::outbound::shipping::{NewManifest, NewStop, ReturnKind, StopConfirmation, StopState};
use custody_core::outbound::{Customer, NewOrder, NewOrderLine, Patient, patients, picking, print, shipping};
use custody_core::work::manifest::{Gps, Vehicle};
use custody_core::*;
use custody_e2e::*;
use rust_decimal::Decimal;
use uuid::Uuid;

const FLOWER: &str = "Flower - OG Kush 3.5g";
const CART: &str = "Live Resin Cart 1g";

fn receive(phone: &Phone, t: &PackageTag, item: &str, quantity: Quantity, expires: (i32, u32, u32)) {
    phone
        .store
        .record(
            t,
            EventBody::Received {
                item: ItemName::parse(item).unwrap(),
                batch: BatchNumber::parse(if item == FLOWER { "OG-2026-10" } else { "LRC-2026-10" }).unwrap(),
                quantity,
                location: location("Vault A"),
                expires_on: chrono::NaiveDate::from_ymd_opt(expires.0, expires.1, expires.2),
                manifest: None,
                via: Some(custody_core::event::ReceivedVia::OpeningBalance),
            },
        )
        .expect("receive");
}

fn each(n: i64) -> Quantity {
    Quantity::new(Decimal::from(n), Unit::Each).unwrap()
}

fn line(item: &str, quantity: Quantity, price: i64) -> NewOrderLine {
    NewOrderLine { item: ItemName::parse(item).unwrap(), quantity, unit_price: Decimal::new(price, 2) }
}

/// An order from Green Door for `quantity` of flower, for tomorrow.
fn flower_order(number: &str, quantity: Quantity) -> NewOrder {
    NewOrder {
        number: number.into(),
        recipient: lic(GREEN_DOOR),
        requested_on: (Utc::now() + Duration::days(1)).date_naive(),
        lines: vec![line(FLOWER, quantity, 400)],
        patient: None,
    }
}

fn lic(s: &str) -> LicenseNumber {
    LicenseNumber::parse(s).unwrap()
}

const GREEN_DOOR: &str = "C10-0000201-LIC";
const HARBOR: &str = "C10-0000202-LIC";
const PATIENT_NAME: &str = "Jane Quinn Doe";
const PATIENT_CARD: &str = "MMJ-4471-9203-5588";
/// The part of the card the redacted form ("card ...5588") never shows. Long and dashed on
/// purpose: a bare four digits turns up by chance in a database full of hex ids and hashes.
const PATIENT_CARD_MIDDLE: &str = "4471-9203";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_afternoon_of_outbound_from_orders_to_returns() {
    let fleet = Fleet::start("C11-0000001-LIC").await;
    let db = &fleet.server().db;
    for (licence, name) in [(GREEN_DOOR, "Green Door Dispensary"), (HARBOR, "Harbor Wellness (medical)")] {
        db.add_customer(&fleet.facility, &Customer { licence: lic(licence), name: name.into(), address: "1 Main St, Oakland".into() })
            .unwrap();
    }
    db.add_tags(&fleet.facility, &[tag(900), tag(901), tag(902)]).unwrap();
    let driver_2 = db.add_user(&fleet.facility, "Dan Driver", Role::Driver, "D-301", "5551").unwrap();

    let office = fleet.phone("office").await;
    let office_2 = fleet.phone("office-2").await;
    let picker_a = fleet.phone("picker-a").await;
    let picker_b = fleet.phone("picker-b").await;
    let truck = fleet.phone("truck").await;
    let other_truck = fleet.phone("other-truck").await;
    office.sign_in(MANAGER).await;
    office_2.sign_in(MANAGER_2).await;
    picker_a.sign_in(FLOOR).await;
    picker_b.sign_in(FLOOR_2).await;
    truck.sign_in(DRIVER).await;
    other_truck.client.sign_in(&other_truck.store, "D-301", "5551").await.unwrap();

    // Stock: flower with different expiry dates (one quarantined, one expired), cartridges.
    receive(&office, &tag(1), FLOWER, grams(1_000), (2027, 3, 1));
    receive(&office, &tag(2), FLOWER, grams(1_000), (2027, 1, 15));
    receive(&office, &tag(3), FLOWER, grams(1_000), (2027, 6, 1));
    receive(&office, &tag(4), FLOWER, grams(5_000), (2026, 12, 31));
    office.store.record(&tag(4), EventBody::Quarantined { reason: "failed retest".into() }).unwrap();
    receive(&office, &tag(5), FLOWER, grams(5_000), (2026, 11, 1));
    receive(&office, &tag(6), FLOWER, grams(800), (2027, 9, 1));
    receive(&office, &tag(10), CART, each(20), (2027, 3, 31));
    receive(&office, &tag(11), CART, each(20), (2027, 5, 31));
    office.sync().await.unwrap();
    assert_eq!(office.store.work(picking::customers).unwrap().len(), 2, "customers come with the sync");

    // ---- orders ----------------------------------------------------------------------------
    let tomorrow = (Utc::now() + Duration::days(1)).date_naive();
    let mut order = NewOrder {
        number: "SO-1001".into(),
        recipient: lic("C10-0000999-LIC"),
        requested_on: tomorrow,
        lines: vec![line(FLOWER, grams(2_500), 400), line(CART, each(20), 1_800)],
        patient: None,
    };
    let err = office.store.work(|w| picking::create_order(w, &order)).unwrap_err();
    assert!(err.to_string().contains("not a customer of this facility"), "{err}");
    order.recipient = lic(GREEN_DOOR);
    order.lines[0].quantity = grams(100_000);
    let err = office.store.work(|w| picking::create_order(w, &order)).unwrap_err();
    // 10 + 10 + 10 + 8 g: the quarantined and the expired packages do not count.
    assert!(err.to_string().contains("only 38.00 g is available"), "{err}");
    order.lines[0].quantity = grams(2_500);
    assert!(office.store.work(picking::orders).unwrap().is_empty(), "a refused order leaves nothing behind");
    let order_1 = office.store.work(|w| picking::create_order(w, &order)).unwrap();
    let err = picker_a.store.work(|w| picking::create_order(w, &order)).unwrap_err();
    assert!(matches!(err, OutboundError::NotAllowed { .. }), "{err}");

    // The office enters a medical order through the server (the signed-in manager's signature).
    let medical = NewOrder {
        number: "SO-1002".into(),
        recipient: lic(HARBOR),
        requested_on: tomorrow,
        lines: vec![line(FLOWER, grams(800), 450), line(CART, each(5), 1_900)],
        patient: Some(Patient {
            name: PATIENT_NAME.into(),
            card_number: PATIENT_CARD.into(),
            address: "77 Bay Rd, Oakland".into(),
            phone: "510-555-0142".into(),
        }),
    };
    let err = picker_a.client.submit_order(&picker_a.store, &medical).await.unwrap_err();
    assert!(matches!(&err, custody_core::sync::SyncError::Server { status: 403, .. }), "a floor worker may not: {err}");
    let mut too_much = medical.clone();
    too_much.lines[1].quantity = each(500);
    let err = office.client.submit_order(&office.store, &too_much).await.unwrap_err();
    assert!(matches!(&err, custody_core::sync::SyncError::Server { status: 422, message, .. } if message.contains("available")), "{err}");
    let order_2 = office.client.submit_order(&office.store, &medical).await.unwrap();

    // ---- pick lists ------------------------------------------------------------------------
    let list_1 = office.store.work(|w| picking::generate_pick_list(w, order_1)).unwrap();
    let flower_tags: Vec<_> = list_1.iter().filter(|p| p.line == 1).map(|p| p.tag.clone()).collect();
    assert_eq!(flower_tags, vec![tag(2), tag(1), tag(3)], "first expired, first out");
    let split = list_1.iter().find(|p| p.tag == tag(3)).unwrap();
    assert_eq!((split.quantity, split.split_into.clone()), (grams(500), Some(tag(900))));
    assert!(list_1.iter().any(|p| p.tag == tag(10) && p.split_into.is_none()));
    office.sync().await.unwrap();
    let list_2 = office.store.work(|w| picking::generate_pick_list(w, order_2)).unwrap();
    assert_eq!(
        list_2.iter().map(|p| (p.tag.clone(), p.split_into.clone())).collect::<Vec<_>>(),
        vec![(tag(6), None), (tag(11), Some(tag(901)))]
    );
    office.sync().await.unwrap();
    let office_orders = office.store.work(picking::orders).unwrap();
    let medical_summary = office_orders.iter().find(|o| o.id == order_2).unwrap();
    assert_eq!(medical_summary.order.patient_ref.as_deref(), Some("J.Q.D., card ...5588"));

    for phone in [&office_2, &picker_a, &picker_b] {
        phone.sync().await.unwrap();
    }

    // ---- picking: two pickers on list 1, offline ---------------------------------------------
    let pending_before = picker_a.store.pending_count().unwrap();
    let err = picker_a.store.work(|w| picking::pick_scan(w, order_1, tag(6).as_str(), None)).unwrap_err();
    assert!(err.to_string().contains("is not the package allocated"), "{err}");
    let err = picker_a.store.work(|w| picking::pick_scan(w, order_1, tag(999).as_str(), None)).unwrap_err();
    assert!(matches!(err, OutboundError::NotOnPickList { .. }), "{err}");
    assert!(matches!(picker_a.store.work(|w| picking::pick_scan(w, order_1, "hello", None)), Err(OutboundError::Scan(_))));
    assert_eq!(picker_a.store.pending_count().unwrap(), pending_before, "refused scans change nothing");

    picker_a.store.work(|w| picking::pick_scan(w, order_1, tag(2).as_str(), None)).unwrap();
    picker_a.store.work(|w| picking::pick_scan(w, order_1, &tag(1).as_str().to_lowercase(), None)).unwrap();
    let err = picker_b.store.work(|w| picking::pick_scan(w, order_1, tag(3).as_str(), None)).unwrap_err();
    assert!(matches!(err, OutboundError::WeightNeeded { .. }), "{err}");
    let err = picker_b.store.work(|w| picking::pick_scan(w, order_1, tag(3).as_str(), Some(grams(450)))).unwrap_err();
    assert!(err.to_string().contains("needs 5.00 g, not 4.50 g"), "{err}");
    let split_pick = picker_b.store.work(|w| picking::pick_scan(w, order_1, tag(3).as_str(), Some(grams(500)))).unwrap();
    assert_eq!((split_pick.tag.clone(), split_pick.split_from.clone()), (tag(900), Some(tag(3))));
    picker_b.store.work(|w| picking::pick_scan(w, order_1, tag(10).as_str(), None)).unwrap();
    // B also takes tag 1, not knowing A already has: one pick, reported, no conflict.
    picker_b.store.work(|w| picking::pick_scan(w, order_1, tag(1).as_str(), None)).unwrap();
    let err = picker_a.store.work(|w| picking::finish_packing(w, order_1)).unwrap_err();
    assert!(err.to_string().contains("not picked"), "{err}");

    for phone in [&picker_a, &picker_b, &picker_a] {
        phone.sync().await.unwrap();
    }
    let view = picker_a.store.work(|w| picking::pick_list(w, order_1)).unwrap();
    assert!(view.lines.iter().all(|l| l.picked.is_some()), "both pickers' work merged");
    assert_eq!(view.picked_twice, vec![tag(1)]);
    assert!(picker_a.conflicts().is_empty(), "{:?}", picker_a.conflicts());
    assert_eq!(picker_a.store.package(&tag(3)).unwrap().unwrap().quantity, grams(500), "the split left 5 g on the shelf");
    assert_eq!(picker_a.store.package(&tag(900)).unwrap().unwrap().status, PackageStatus::Picked);

    // ---- packing -----------------------------------------------------------------------------
    let err = picker_a
        .store
        .work(|w| picking::pack(w, order_1, tag(2).as_str(), "C-1001-1", Quantity { amount: Decimal::new(-10, 2), unit: Unit::G }))
        .unwrap_err();
    assert!(matches!(err, OutboundError::BadGrossWeight), "{err}");
    for (t, box_no, gross) in
        [(tag(2), "C-1001-1", 1_240), (tag(1), "C-1001-1", 1_250), (tag(900), "C-1001-1", 720), (tag(10), "C-1001-2", 4_100)]
    {
        picker_a.store.work(|w| picking::pack(w, order_1, t.as_str(), box_no, grams(gross))).unwrap();
    }
    assert!(picker_a.store.work(|w| picking::packing_check(w, order_1)).unwrap().is_empty());
    let check = picker_a.store.work(|w| picking::finish_packing(w, order_1)).unwrap();
    assert_eq!(check.containers["C-1001-1"].len(), 3);
    picker_a.store.work(|w| picking::pick_scan(w, order_2, tag(6).as_str(), None)).unwrap();
    let err = picker_a.store.work(|w| picking::finish_packing(w, order_2)).unwrap_err();
    assert!(err.to_string().contains("not picked"), "{err}");
    let missing = picker_a.store.work(|w| picking::packing_check(w, order_2)).unwrap();
    assert!(missing.iter().any(|m| m.starts_with(&format!("{} (Vault A) not picked", tag(11)))), "{missing:?}");
    assert!(missing.iter().any(|m| m.contains(&format!("{} not in a container", tag(6)))), "{missing:?}");
    picker_a.store.work(|w| picking::pick_scan(w, order_2, tag(11).as_str(), Some(each(5)))).unwrap();
    picker_a.store.work(|w| picking::pack(w, order_2, tag(6).as_str(), "C-1002-1", grams(1_010))).unwrap();
    picker_a.store.work(|w| picking::pack(w, order_2, tag(901).as_str(), "C-1002-1", grams(2_050))).unwrap();
    picker_a.store.work(|w| picking::finish_packing(w, order_2)).unwrap();
    picker_a.sync().await.unwrap();
    office.sync().await.unwrap();
    office_2.sync().await.unwrap();

    // ---- the manifest --------------------------------------------------------------------------
    let departs = Utc::now() + Duration::hours(1);
    let manifest = NewManifest {
        number: "M-0001".into(),
        vehicle: Vehicle { make: "Ford".into(), model: "Transit".into(), plate: "8ABC123".into() },
        driver: truck.store.current_user().unwrap().unwrap().id,
        driver_licence_number: "D1234567".into(),
        driver_occupational_licence: "OL-5501".into(),
        phone_for_questions: "510-555-0100".into(),
        stops: vec![
            NewStop {
                order: order_1,
                planned_route: "I-880 N to exit 42".into(),
                estimated_departure: departs,
                estimated_arrival: departs + Duration::minutes(40),
            },
            NewStop {
                order: order_2,
                planned_route: "Bay Rd east".into(),
                estimated_departure: departs + Duration::minutes(50),
                estimated_arrival: departs + Duration::minutes(80),
            },
        ],
    };
    // Office-2, holding the same packed orders offline, puts order 1 on its own manifest.
    let rival = office_2
        .store
        .work(|w| {
            shipping::create_manifest(
                w,
                &NewManifest { number: "M-0002".into(), stops: vec![manifest.stops[0].clone()], ..manifest.clone() },
            )
        })
        .unwrap();
    let manifest_id = office.store.work(|w| shipping::create_manifest(w, &manifest)).unwrap();
    let err =
        office.store.work(|w| shipping::create_manifest(w, &NewManifest { number: "M-0003".into(), ..manifest.clone() })).unwrap_err();
    assert!(err.to_string().contains("already on another open manifest"), "{err}");
    office.sync().await.unwrap();
    let report = office_2.sync().await.unwrap();
    assert!(
        report.doc_refusals.iter().any(|(doc, why)| *doc == rival && why.contains("already on another open manifest")),
        "the server keeps a package on one open manifest: {:?}",
        report.doc_refusals
    );
    assert!(fleet.server().db.doc(&fleet.facility, rival).unwrap().is_none(), "the rival manifest was not stored");

    let html = office.store.work(|w| print::manifest_page(w, manifest_id, Some(2))).unwrap();
    assert!(html.contains("J.Q.D., card ...5588") && html.contains("8ABC123") && html.contains(tag(6).as_str()));
    assert!(
        !html.contains("Jane") && !html.contains(PATIENT_CARD_MIDDLE) && !html.contains("Bay Rd, Oakland"),
        "printed manifests are redacted"
    );
    let template = custody_core::outbound::print::metrc_template(&office.store.work(|w| shipping::route(w, manifest_id)).unwrap().manifest);
    assert_eq!(template.destinations.len(), 2);
    assert_eq!(template.destinations[0].packages[0].wholesale_price, "40.00", "10 g at 4.00 a gram");

    // ---- the driver, offline for the whole route -------------------------------------------------
    truck.sync().await.unwrap();
    other_truck.sync().await.unwrap();
    assert!(other_truck.store.work(shipping::manifests).unwrap().is_empty(), "a driver sees only their own route");
    assert!(truck.store.work(picking::orders).unwrap().is_empty(), "drivers get routes, not order documents");
    let route = truck.store.work(|w| shipping::route(w, manifest_id)).unwrap();
    let mut truck_files = std::fs::read(&truck.path).unwrap();
    truck_files.extend(std::fs::read(truck.path.with_extension("db-wal")).unwrap_or_default());
    let truck_held: i64 = truck.raw_db().query_row("SELECT COUNT(*) FROM patients", [], |r| r.get(0)).unwrap();
    assert_eq!(truck_held, 1, "the driver's phone holds its medical stop's patient for the road");
    assert!(!contains(&truck_files, PATIENT_NAME) && !contains(&truck_files, PATIENT_CARD), "sealed on the driver's phone");
    assert_eq!(
        route.stops.iter().map(|s| s.stop.recipient.name.as_str()).collect::<Vec<_>>(),
        vec!["Green Door Dispensary", "Harbor Wellness (medical)"]
    );
    let err = other_truck.store.work(|w| patients::patient(w, order_2, "curious")).unwrap_err();
    assert!(matches!(err, OutboundError::NotAllowed { .. }), "{err}");
    let err = picker_a.store.work(|w| patients::patient(w, order_2, "curious")).unwrap_err();
    assert!(matches!(err, OutboundError::NotAllowed { .. }), "{err}");

    truck.store.work(|w| shipping::depart(w, manifest_id)).unwrap();
    let gps = Some(Gps { latitude: Decimal::new(378044, 4), longitude: Decimal::new(-1222712, 4), accuracy_m: Decimal::new(8, 0) });
    let err = truck
        .store
        .work(|w| {
            shipping::confirm_stop(
                w,
                manifest_id,
                1,
                &StopConfirmation { receiver_name: "".into(), receiver_licence: "".into(), refused: vec![], gps },
            )
        })
        .unwrap_err();
    assert!(err.to_string().contains("receiver's name"), "{err}");
    truck
        .store
        .work(|w| {
            shipping::confirm_stop(
                w,
                manifest_id,
                1,
                &StopConfirmation { receiver_name: "Rita Green".into(), receiver_licence: "AG-2231".into(), refused: vec![], gps },
            )
        })
        .unwrap();
    let err = truck
        .store
        .work(|w| {
            shipping::confirm_stop(
                w,
                manifest_id,
                1,
                &StopConfirmation { receiver_name: "Rita".into(), receiver_licence: "AG".into(), refused: vec![], gps },
            )
        })
        .unwrap_err();
    assert!(err.to_string().contains("already confirmed"), "{err}");
    let patient = truck.store.work(|w| patients::patient(w, order_2, "hand-off at stop 2")).unwrap();
    assert_eq!(patient.card_number, PATIENT_CARD);
    truck
        .store
        .work(|w| {
            shipping::confirm_stop(
                w,
                manifest_id,
                2,
                &StopConfirmation {
                    receiver_name: "Hal Harbor".into(),
                    receiver_licence: "AG-9902".into(),
                    refused: vec![(tag(6), "damaged seal".into())],
                    gps,
                },
            )
        })
        .unwrap();

    // The office sees nothing yet: the truck has no signal.
    office.sync().await.unwrap();
    assert!(office.store.work(|w| shipping::route(w, manifest_id)).unwrap().departed.is_none());
    truck.sync().await.unwrap();
    office.sync().await.unwrap();
    let progress = office.store.work(|w| shipping::route(w, manifest_id)).unwrap();
    assert!(progress.departed.is_some());
    assert!(progress.stops.iter().all(|s| s.state == StopState::Done));
    let refused = progress.stops[1].packages.iter().find(|p| p.package.tag == tag(6)).unwrap();
    assert_eq!(refused.outcome.as_ref().unwrap().reason.as_deref(), Some("damaged seal"));
    assert!(!progress.closed, "the refused package is still out");

    // ---- return check-in at the vault --------------------------------------------------------------
    picker_a.sync().await.unwrap();
    let due = picker_a.store.work(shipping::returns_due).unwrap();
    assert_eq!(
        due.iter().map(|r| (r.tag.clone(), r.stop, r.kind)).collect::<Vec<_>>(),
        vec![(tag(6), Some(2), ReturnKind::Refused)],
        "the vault expects only the refused package"
    );
    let err = picker_a.store.work(|w| shipping::return_check_in(w, tag(2).as_str(), &location("Vault A"))).unwrap_err();
    assert!(err.to_string().contains("delivered"), "{err}");
    let back = picker_a.store.work(|w| shipping::return_check_in(w, tag(6).as_str(), &location("Returns cage"))).unwrap();
    assert!(
        matches!(&back.body, EventBody::Returned { reason, .. } if reason.contains("refused at stop 2") && reason.contains("damaged seal"))
    );
    let pkg = picker_a.store.package(&tag(6)).unwrap().unwrap();
    assert_eq!((pkg.status, pkg.location.as_str()), (PackageStatus::Active, "Returns cage"));
    assert!(picker_a.store.work(shipping::returns_due).unwrap().is_empty(), "nothing more is due back");

    // ---- everyone converges ----------------------------------------------------------------------
    for _ in 0..2 {
        for phone in [&picker_a, &picker_b, &truck, &office, &office_2] {
            phone.sync().await.unwrap();
        }
    }
    let server = InventoryReportExt::from(&fleet);
    for phone in [&office, &picker_a, &picker_b, &truck, &office_2] {
        assert_eq!(phone.report(), server.0, "{} agrees with the server", phone.name);
        assert_eq!(phone.store.pending_count().unwrap(), 0, "{} has nothing pending", phone.name);
    }
    assert!(server.0.conflicts.is_empty(), "{:?}", server.0.conflicts);
    let final_route = office.store.work(|w| shipping::route(w, manifest_id)).unwrap();
    assert!(final_route.closed, "every package delivered or back in the vault");
    for phone in [&truck, &picker_a] {
        assert_eq!(phone.store.work(|w| shipping::route(w, manifest_id)).unwrap(), final_route, "{} sees the same manifest", phone.name);
    }
    let inv = fleet.server_inventory();
    assert_eq!(inv.packages[&tag(2)].status, PackageStatus::Delivered);
    assert_eq!(inv.packages[&tag(901)].status, PackageStatus::Delivered);
    assert_eq!(inv.packages[&tag(6)].status, PackageStatus::Active);
    assert_eq!(inv.packages[&tag(11)].quantity, each(15));
    assert_eq!(fleet.server().db.unused_tags(&fleet.facility).unwrap(), vec![tag(902)], "the split tags are used up");
    assert_eq!(office.store.work(picking::unused_tags).unwrap(), vec![tag(902)]);

    // ---- patient data ---------------------------------------------------------------------------
    for phone in [&picker_a, &picker_b, &other_truck] {
        let bytes = std::fs::read(&phone.path).unwrap();
        assert!(!contains(&bytes, PATIENT_NAME) && !contains(&bytes, PATIENT_CARD_MIDDLE), "{} holds no patient data", phone.name);
        let held: i64 = phone.raw_db().query_row("SELECT COUNT(*) FROM patients", [], |r| r.get(0)).unwrap();
        assert_eq!(held, 0, "{} was never sent patient data", phone.name);
    }
    let err = truck.store.work(|w| patients::patient(w, order_2, "after the route")).unwrap_err();
    assert!(matches!(err, OutboundError::NotAllowed { .. } | OutboundError::Manifest(_)), "a closed route opens no patient data: {err}");
    let held = |phone: &Phone| -> i64 { phone.raw_db().query_row("SELECT COUNT(*) FROM patients", [], |r| r.get(0)).unwrap() };
    assert_eq!(held(&truck), 0, "the driver's phone forgot the patient once the route closed");
    {
        let phone = &office;
        assert_eq!(held(phone), 1, "{} holds the patient, sealed", phone.name);
        let mut all = std::fs::read(&phone.path).unwrap();
        all.extend(std::fs::read(phone.path.with_extension("db-wal")).unwrap_or_default());
        assert!(!contains(&all, PATIENT_NAME), "{} keeps it sealed", phone.name);
    }
    let mut server_files = std::fs::read(fleet.server().db.path()).unwrap();
    server_files.extend(std::fs::read(fleet.server().db.path().with_extension("db-wal")).unwrap_or_default());
    assert!(!contains(&server_files, PATIENT_NAME) && !contains(&server_files, PATIENT_CARD), "the server keeps it sealed");
    let log = fleet.server().db.patient_access_log(&fleet.facility).unwrap();
    let actions: Vec<(&str, &str)> = log.iter().map(|l| (l.user_name.as_str(), l.action.as_str())).collect();
    assert!(actions.iter().any(|(who, what)| *who == MANAGER.0 && what.contains("entered")), "{actions:?}");
    assert!(actions.iter().any(|(who, what)| *who == DRIVER.0 && *what == "sent to device"), "{actions:?}");
    assert!(actions.iter().any(|(who, what)| *who == DRIVER.0 && what.contains("hand-off at stop 2")), "{actions:?}");
    assert!(!actions.iter().any(|(who, _)| *who == FLOOR.0 || *who == FLOOR_2.0 || *who == "Dan Driver"), "{actions:?}");
    let at_console = fleet.server().db.open_patient(&fleet.facility, order_2, "Pat Compliance").unwrap().unwrap();
    assert_eq!(at_console.name, PATIENT_NAME);
    let last = fleet.server().db.patient_access_log(&fleet.facility).unwrap().pop().unwrap();
    assert_eq!((last.user_name.as_str(), last.action.as_str()), ("Pat Compliance", "viewed at the server console"));
    assert!(
        fleet.server().db.open_patient(&lic("C11-0000009-LIC"), order_2, "x").unwrap().is_none(),
        "another facility's order opens nothing"
    );
    let _ = driver_2;
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The server's inventory in the report shape phones produce.
struct InventoryReportExt(custody_core::protocol::InventoryReport);

impl From<&Fleet> for InventoryReportExt {
    fn from(fleet: &Fleet) -> Self {
        InventoryReportExt(custody_core::protocol::InventoryReport::from_inventory(&fleet.server_inventory()))
    }
}

/// A patient entered with an order on a manager's phone reaches the server (whose first round
/// of the sync may not yet hold the new order document) and another manager's phone, sealed;
/// a floor phone never receives it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patient_entered_on_a_phone_reaches_the_server_and_other_managers_only() {
    let fleet = Fleet::start("C11-0000001-LIC").await;
    let db = &fleet.server().db;
    db.add_customer(&fleet.facility, &Customer { licence: lic(HARBOR), name: "Harbor Wellness".into(), address: "9 Bay Rd".into() })
        .unwrap();
    let (office, office_2, floor) = (fleet.phone("office").await, fleet.phone("office-2").await, fleet.phone("floor").await);
    office.sign_in(MANAGER).await;
    office_2.sign_in(MANAGER_2).await;
    floor.sign_in(FLOOR).await;
    receive(&office, &tag(10), CART, each(20), (2027, 3, 31));
    office.sync().await.unwrap();
    let order = office
        .store
        .work(|w| {
            picking::create_order(
                w,
                &NewOrder {
                    number: "SO-7".into(),
                    recipient: lic(HARBOR),
                    requested_on: (Utc::now() + Duration::days(1)).date_naive(),
                    lines: vec![line(CART, each(2), 1_900)],
                    patient: Some(Patient {
                        name: PATIENT_NAME.into(),
                        card_number: PATIENT_CARD.into(),
                        address: "9 Bay Rd".into(),
                        phone: "555".into(),
                    }),
                },
            )
        })
        .unwrap();
    office.sync().await.unwrap();
    let sealed = db.sealed_patient(order).unwrap().expect("the server keeps the patient after one sync");
    assert!(!contains(&sealed, PATIENT_NAME));
    let pending: i64 = office.raw_db().query_row("SELECT COUNT(*) FROM patients WHERE uploaded = 0", [], |r| r.get(0)).unwrap();
    assert_eq!(pending, 0, "acknowledged, so not sent again");

    office_2.sync().await.unwrap();
    floor.sync().await.unwrap();
    assert_eq!(office_2.store.work(|w| patients::patient(w, order, "route planning")).unwrap().card_number, PATIENT_CARD);
    let held: i64 = floor.raw_db().query_row("SELECT COUNT(*) FROM patients", [], |r| r.get(0)).unwrap();
    assert_eq!(held, 0);
    assert_eq!(
        floor.store.work(picking::orders).unwrap()[0].order.patient_ref.as_deref(),
        Some("J.Q.D., card ...5588"),
        "floor staff see the redacted reference"
    );
}

/// Two managers, offline, allocate the same package to two orders: the server keeps the first
/// allocation and refuses the second with the reason; the second manager sees why, cannot
/// allocate it again, and cancels, which the server then accepts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_orders_never_hold_the_same_package() {
    let fleet = Fleet::start("C11-0000001-LIC").await;
    fleet
        .server()
        .db
        .add_customer(&fleet.facility, &Customer { licence: lic(GREEN_DOOR), name: "Green Door".into(), address: "1 Main".into() })
        .unwrap();
    let (office, office_2) = (fleet.phone("office").await, fleet.phone("office-2").await);
    office.sign_in(MANAGER).await;
    office_2.sign_in(MANAGER_2).await;
    receive(&office, &tag(1), FLOWER, grams(1_000), (2027, 3, 1));
    office.sync().await.unwrap();
    office_2.sync().await.unwrap();

    let order = |number: &str| flower_order(number, grams(1_000));
    let first = office.store.work(|w| picking::create_order(w, &order("SO-1"))).unwrap();
    office.store.work(|w| picking::generate_pick_list(w, first)).unwrap();
    let second = office_2.store.work(|w| picking::create_order(w, &order("SO-2"))).unwrap();
    office_2.store.work(|w| picking::generate_pick_list(w, second)).unwrap();

    office.sync().await.unwrap();
    let report = office_2.sync().await.unwrap();
    let refusal = report.doc_refusals.iter().find(|(doc, _)| *doc == second).map(|(_, why)| why.clone());
    assert!(refusal.as_deref().is_some_and(|r| r.contains(&format!("{} is already on another open order", tag(1)))), "{refusal:?}");
    assert!(fleet.server().db.doc(&fleet.facility, second).unwrap().is_none());
    let info = office_2.store.docs(None).unwrap().into_iter().find(|d| d.id == second).unwrap();
    assert!(info.refusal.is_some(), "the phone shows why");

    // It now holds the other order too, so it will not allocate that package again.
    let err = office_2.store.work(|w| picking::generate_pick_list(w, second)).unwrap_err();
    assert!(err.to_string().contains("only 0.00 g"), "{err}");
    office_2.store.work(|w| picking::cancel_order(w, second, "stock went to SO-1")).unwrap();
    let report = office_2.sync().await.unwrap();
    assert!(report.doc_refusals.is_empty(), "{:?}", report.doc_refusals);
    office.sync().await.unwrap();
    let statuses: Vec<_> = office.store.work(picking::orders).unwrap().into_iter().map(|o| (o.order.number, o.status)).collect();
    assert!(statuses.contains(&("SO-1".into(), custody_core::work::order::OrderStatus::Allocated)), "{statuses:?}");
    assert!(statuses.contains(&("SO-2".into(), custody_core::work::order::OrderStatus::Cancelled)), "{statuses:?}");
}

/// A package waiting for an adjustment decision is on hold: neither the office (through the
/// server) nor a manager's phone may sell it until the request is decided.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stock_on_hold_for_an_adjustment_is_not_available_anywhere() {
    let fleet = Fleet::start("C11-0000001-LIC").await;
    fleet
        .server()
        .db
        .add_customer(&fleet.facility, &Customer { licence: lic(GREEN_DOOR), name: "Green Door".into(), address: "1 Main".into() })
        .unwrap();
    let (office, floor) = (fleet.phone("office").await, fleet.phone("floor").await);
    office.sign_in(MANAGER).await;
    floor.sign_in(FLOOR).await;
    receive(&office, &tag(1), FLOWER, grams(1_000), (2027, 3, 1));
    office.sync().await.unwrap();
    floor.sync().await.unwrap();
    let request = floor
        .store
        .work(|w| {
            approvals::request_adjustment(
                w,
                &tag(1),
                Quantity::change(Decimal::new(-50, 2), Unit::G).unwrap(),
                "Scale Variance",
                "reweighed at 9.50 g",
                None,
            )
        })
        .unwrap();
    floor.sync().await.unwrap();
    floor.sync().await.unwrap();
    office.sync().await.unwrap();

    let order = flower_order("SO-1", grams(500));
    let err = office.store.work(|w| picking::create_order(w, &order)).unwrap_err();
    assert!(err.to_string().contains("only 0.00 g is available"), "phone: {err}");
    let err = office.client.submit_order(&office.store, &order).await.unwrap_err();
    assert!(err.to_string().contains("only 0.00 g is available"), "server: {err}");

    office.store.work(|w| approvals::approve_adjustment(w, request, "checked the scale")).unwrap();
    office.sync().await.unwrap();
    office.store.work(|w| picking::create_order(w, &order)).unwrap();
}

/// Plans change. The office cancels a manifest and re-plans its order onto another truck while
/// the first driver, offline in the yard, has already left with it: the departure stands on
/// every phone and the server, and the re-planned truck cannot leave with packages that are
/// gone. Another order is cancelled after packing: the vault sees its packages due back and
/// puts them on a shelf, and every phone and the server agree on the inventory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_plans_never_strand_a_package_or_overrule_the_road() {
    let fleet = Fleet::start("C11-0000001-LIC").await;
    fleet
        .server()
        .db
        .add_customer(&fleet.facility, &Customer { licence: lic(GREEN_DOOR), name: "Green Door".into(), address: "1 Main".into() })
        .unwrap();
    let (office, floor, truck) = (fleet.phone("office").await, fleet.phone("floor").await, fleet.phone("truck").await);
    office.sign_in(MANAGER).await;
    floor.sign_in(FLOOR).await;
    let driver = truck.sign_in(DRIVER).await.id;
    receive(&office, &tag(1), FLOWER, grams(1_000), (2027, 3, 1));
    receive(&office, &tag(2), FLOWER, grams(1_000), (2027, 4, 1));
    office.sync().await.unwrap();
    let order = |number: &str| flower_order(number, grams(1_000));
    let (so_1, so_2) = (
        office.store.work(|w| picking::create_order(w, &order("SO-1"))).unwrap(),
        office.store.work(|w| picking::create_order(w, &order("SO-2"))).unwrap(),
    );
    assert_eq!(office.store.work(|w| picking::generate_pick_list(w, so_1)).unwrap()[0].tag, tag(1));
    assert_eq!(office.store.work(|w| picking::generate_pick_list(w, so_2)).unwrap()[0].tag, tag(2));
    office.sync().await.unwrap();
    floor.sync().await.unwrap();
    for (id, t, container) in [(so_1, tag(1), "C-1"), (so_2, tag(2), "C-2")] {
        floor.store.work(|w| picking::pick_scan(w, id, t.as_str(), None)).unwrap();
        floor.store.work(|w| picking::pack(w, id, t.as_str(), container, grams(1_100))).unwrap();
        floor.store.work(|w| picking::finish_packing(w, id)).unwrap();
    }
    floor.sync().await.unwrap();
    office.sync().await.unwrap();
    let plan = |number: &str, order: Uuid| NewManifest {
        number: number.into(),
        vehicle: Vehicle { make: "Ford".into(), model: "Transit".into(), plate: "8ABC123".into() },
        driver,
        driver_licence_number: "D1234567".into(),
        driver_occupational_licence: "OL-5501".into(),
        phone_for_questions: "510-555-0100".into(),
        stops: vec![NewStop {
            order,
            planned_route: "direct".into(),
            estimated_departure: Utc::now(),
            estimated_arrival: Utc::now() + Duration::hours(1),
        }],
    };
    let m_1 = office.store.work(|w| shipping::create_manifest(w, &plan("M-1", so_1))).unwrap();
    let m_2 = office.store.work(|w| shipping::create_manifest(w, &plan("M-2", so_2))).unwrap();
    office.sync().await.unwrap();
    truck.sync().await.unwrap();

    // ---- the truck leaves, offline; the office, not knowing, cancels and re-plans ---------------
    truck.store.work(|w| shipping::depart(w, m_1)).unwrap();
    office.store.work(|w| shipping::cancel_manifest(w, m_1, "van swap")).unwrap();
    let m_3 = office.store.work(|w| shipping::create_manifest(w, &plan("M-3", so_1))).expect("the office re-plans SO-1");
    office.store.work(|w| shipping::cancel_manifest(w, m_2, "customer withdrew")).unwrap();
    office.store.work(|w| picking::cancel_order(w, so_2, "customer withdrew")).unwrap();
    let report = office.sync().await.unwrap();
    assert!(report.doc_refusals.is_empty(), "{:?}", report.doc_refusals);
    let report = truck.sync().await.unwrap();
    assert!(report.doc_refusals.is_empty(), "the driver's departure is never refused: {:?}", report.doc_refusals);
    truck.sync().await.unwrap();
    office.sync().await.unwrap();
    for phone in [&office, &truck] {
        let route = phone.store.work(|w| shipping::route(w, m_1)).unwrap();
        assert!(route.departed.is_some() && route.cancelled.is_none(), "{}: the road wins over the cancellation", phone.name);
    }
    assert!(truck.store.work(shipping::manifests).unwrap().iter().any(|r| r.id == m_3), "the re-planned route reached its driver");
    let err = truck.store.work(|w| shipping::depart(w, m_3)).unwrap_err();
    assert_eq!(err.to_string(), format!("{} already left on another manifest; ask the office to cancel manifest M-3", tag(1)));
    office.store.work(|w| shipping::cancel_manifest(w, m_3, "SO-1 left on M-1")).unwrap();

    // ---- the cancelled order's package goes back on a shelf -------------------------------------
    floor.sync().await.unwrap();
    let due = floor.store.work(shipping::returns_due).unwrap();
    let rows: Vec<_> = due.iter().map(|r| (r.tag.clone(), r.kind, r.order_number.as_str(), r.container.as_deref())).collect();
    assert_eq!(
        rows,
        vec![(tag(2), ReturnKind::OrderCancelled, "SO-2", Some("C-2")), (tag(1), ReturnKind::NotConfirmed, "SO-1", Some("C-1"))]
    );
    floor.store.work(|w| shipping::return_check_in(w, tag(2).as_str(), &location("Vault A"))).unwrap();
    assert_eq!(floor.store.work(shipping::returns_due).unwrap().len(), 1, "only the package on the road is still out");

    for _ in 0..2 {
        for phone in [&floor, &office, &truck] {
            let report = phone.sync().await.unwrap();
            assert!(report.doc_refusals.is_empty(), "{}: {:?}", phone.name, report.doc_refusals);
        }
    }
    let server = InventoryReportExt::from(&fleet);
    for phone in [&office, &floor, &truck] {
        assert_eq!(phone.report(), server.0, "{} agrees with the server", phone.name);
    }
    assert!(server.0.conflicts.is_empty(), "{:?}", server.0.conflicts);
    let inv = fleet.server_inventory();
    assert_eq!((inv.packages[&tag(1)].status, inv.packages[&tag(2)].status), (PackageStatus::Shipped, PackageStatus::Active));
    let statuses: Vec<_> = office.store.work(picking::orders).unwrap().into_iter().map(|o| (o.order.number, o.status)).collect();
    assert!(statuses.contains(&("SO-2".into(), custody_core::work::order::OrderStatus::Cancelled)), "{statuses:?}");
    // The put-back package is free again: a new order takes it.
    let so_3 = office.store.work(|w| picking::create_order(w, &order("SO-3"))).unwrap();
    assert_eq!(office.store.work(|w| picking::generate_pick_list(w, so_3)).unwrap()[0].tag, tag(2));
    assert!(office.sync().await.unwrap().doc_refusals.is_empty(), "the server agrees the package is free");
}
