//! Device-level outbound rules: substitutes, cancellation, regeneration, the server-side audit
//! of order documents, and who may open patient data.

use chrono::{Duration, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::picking::OutboundError;
use super::{Customer, NewOrder, NewOrderLine, Patient, patients, picking, shipping};
use crate::event::EventBody;
use crate::ids::*;
use crate::protocol::SyncResponse;
use crate::quantity::{Quantity, Unit};
use crate::roles::Role;
use crate::store::Store;
use crate::store::StoreKey;
use crate::testing::{enrol_offline, person};
use crate::work::order as odoc;

const LICENCE: &str = "C11-0000001-LIC";
const SHOP: &str = "C10-0000201-LIC";

fn tag(n: u32) -> PackageTag {
    PackageTag::parse(&format!("1A4FF01000000220000{n:05}")).unwrap()
}

fn g(n: i64) -> Quantity {
    Quantity::new(Decimal::new(n, 0), Unit::G).unwrap()
}

struct Setup {
    _dir: tempfile::TempDir,
    store: Store,
    roster: Vec<crate::protocol::RosterEntry>,
}

/// An enrolled phone with a manager, floor staff and a driver, one customer and spare tags.
fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("device.db"), &StoreKey::generate()).unwrap();
    let roster = enrol_offline(
        &store,
        LICENCE,
        &[
            (person("Sam", Role::Manager, "M"), "1111"),
            (person("Maria", Role::FloorStaff, "F"), "2222"),
            (person("Dee", Role::Driver, "D"), "3333"),
        ],
    )
    .unwrap();
    let response = SyncResponse {
        roster: roster.clone(),
        customers: vec![Customer { licence: LicenseNumber::parse(SHOP).unwrap(), name: "Green Door".into(), address: "1 Main".into() }],
        unused_tags: vec![tag(900), tag(901)],
        server_time: Utc::now(),
        ..Default::default()
    };
    store.apply_sync(&response, Utc::now()).unwrap();
    store.work(|w| patients::apply_sync(w, &Default::default(), &response)).unwrap();
    store.sign_in("M", "1111").unwrap();
    Setup { _dir: dir, store, roster }
}

fn receive(store: &Store, t: &PackageTag, grams: i64, batch: &str, expires_days: i64) {
    store
        .record(
            t,
            EventBody::Received {
                item: ItemName::parse("Rosin 1g").unwrap(),
                batch: BatchNumber::parse(batch).unwrap(),
                quantity: g(grams),
                location: LocationName::parse("Vault").unwrap(),
                expires_on: Some((Utc::now() + Duration::days(expires_days)).date_naive()),
                manifest: None,
                via: None,
            },
        )
        .unwrap();
}

fn order(number: &str, grams: i64) -> NewOrder {
    NewOrder {
        number: number.into(),
        recipient: LicenseNumber::parse(SHOP).unwrap(),
        requested_on: (Utc::now() + Duration::days(2)).date_naive(),
        lines: vec![NewOrderLine { item: ItemName::parse("Rosin 1g").unwrap(), quantity: g(grams), unit_price: Decimal::new(900, 2) }],
        patient: None,
    }
}

#[test]
fn a_substitute_must_be_the_same_item_and_batch_and_a_manager_approves_it() {
    let s = setup();
    receive(&s.store, &tag(1), 10, "B-1", 30);
    receive(&s.store, &tag(2), 10, "B-1", 60);
    receive(&s.store, &tag(3), 10, "B-2", 60);
    let id = s.store.work(|w| picking::create_order(w, &order("SO-1", 10))).unwrap();
    let list = s.store.work(|w| picking::generate_pick_list(w, id)).unwrap();
    assert_eq!(list[0].tag, tag(1), "expires first");

    let err = s.store.work(|w| picking::approve_substitute(w, id, tag(1).as_str(), tag(3).as_str(), "tag 1 damaged")).unwrap_err();
    assert!(err.to_string().contains("same item and batch"), "{err}");
    s.store.sign_in("F", "2222").unwrap();
    let err = s.store.work(|w| picking::approve_substitute(w, id, tag(1).as_str(), tag(2).as_str(), "damaged")).unwrap_err();
    assert!(matches!(err, OutboundError::NotAllowed { .. }), "{err}");
    let err = s.store.work(|w| picking::pick_scan(w, id, tag(2).as_str(), None)).unwrap_err();
    assert!(err.to_string().contains("ask a manager to approve a substitute"), "{err}");

    s.store.sign_in("M", "1111").unwrap();
    s.store.work(|w| picking::approve_substitute(w, id, tag(1).as_str(), tag(2).as_str(), "tag 1 damaged")).unwrap();
    s.store.sign_in("F", "2222").unwrap();
    s.store.work(|w| picking::pick_scan(w, id, tag(2).as_str(), None)).unwrap();
    let view = s.store.work(|w| picking::pick_list(w, id)).unwrap();
    assert_eq!(view.lines[0].substitute_for, Some(tag(1)));
    // The original went back to stock: another order may take it.
    let claims = s.store.work(|w| w.read::<_, OutboundError>(id, |d| Ok(odoc::claims(d)?))).unwrap().unwrap();
    assert_eq!(claims, vec![tag(2)]);
}

#[test]
fn cancelling_frees_the_stock_and_a_picked_list_cannot_be_regenerated() {
    let s = setup();
    receive(&s.store, &tag(1), 10, "B-1", 30);
    let first = s.store.work(|w| picking::create_order(w, &order("SO-1", 10))).unwrap();
    s.store.work(|w| picking::generate_pick_list(w, first)).unwrap();
    let second = s.store.work(|w| picking::create_order(w, &order("SO-2", 5)));
    assert!(second.unwrap_err().to_string().contains("only 0.00 g is available"));
    assert!(matches!(s.store.work(|w| picking::cancel_order(w, first, " ")), Err(OutboundError::NoReason)));
    s.store.work(|w| picking::cancel_order(w, first, "customer withdrew")).unwrap();
    let second = s.store.work(|w| picking::create_order(w, &order("SO-2", 5))).unwrap();
    let list = s.store.work(|w| picking::generate_pick_list(w, second)).unwrap();
    assert_eq!(
        (list[0].tag.clone(), list[0].split_into.clone()),
        (tag(1), Some(tag(900))),
        "part of a package: a split into an unused tag"
    );
    s.store.sign_in("F", "2222").unwrap();
    s.store.work(|w| picking::pick_scan(w, second, tag(1).as_str(), Some(g(5)))).unwrap();
    s.store.sign_in("M", "1111").unwrap();
    let err = s.store.work(|w| picking::generate_pick_list(w, second)).unwrap_err();
    assert!(err.to_string().contains("pick list can no longer change"), "{err}");
}

#[test]
fn a_cancelled_order_s_picks_wait_for_the_vault_to_put_them_back() {
    use super::shipping::ReturnKind;
    let s = setup();
    receive(&s.store, &tag(1), 10, "B-1", 30);
    receive(&s.store, &tag(2), 10, "B-1", 40);
    let id = s.store.work(|w| picking::create_order(w, &order("SO-1", 20))).unwrap();
    s.store.work(|w| picking::generate_pick_list(w, id)).unwrap();
    s.store.sign_in("F", "2222").unwrap();
    s.store.work(|w| picking::pick_scan(w, id, tag(1).as_str(), None)).unwrap();
    s.store.work(|w| picking::pack(w, id, tag(1).as_str(), "C-7", g(12))).unwrap();
    s.store.work(|w| picking::pick_scan(w, id, tag(2).as_str(), None)).unwrap();
    assert!(
        matches!(s.store.work(|w| picking::cancel_order(w, id, "customer withdrew")), Err(OutboundError::NotAllowed { .. })),
        "floor staff do not cancel"
    );
    assert!(s.store.work(shipping::returns_due).unwrap().is_empty());

    s.store.sign_in("M", "1111").unwrap();
    s.store.work(|w| picking::cancel_order(w, id, "customer withdrew")).unwrap();
    let err = s.store.work(|w| picking::cancel_order(w, id, "again")).unwrap_err();
    assert!(err.to_string().contains("is cancelled"), "{err}");
    let err = s.store.work(|w| picking::pick_scan(w, id, tag(1).as_str(), None)).unwrap_err();
    assert!(err.to_string().contains("cancelled"), "a cancelled order takes no picks: {err}");
    let due = s.store.work(shipping::returns_due).unwrap();
    let rows: Vec<_> = due.iter().map(|r| (r.tag.clone(), r.kind, r.container.clone(), r.manifest_id)).collect();
    assert_eq!(
        rows,
        vec![(tag(1), ReturnKind::OrderCancelled, Some("C-7".to_string()), None), (tag(2), ReturnKind::OrderCancelled, None, None)]
    );
    assert_eq!(due[0].reason, "put back: order SO-1 cancelled by Sam: customer withdrew");
    assert_eq!((due[0].item.as_str(), due[0].quantity), ("Rosin 1g", g(10)));
    // Still picked: nobody else may allocate them until they are back on a shelf.
    let err = s.store.work(|w| picking::create_order(w, &order("SO-2", 5))).unwrap_err();
    assert!(err.to_string().contains("only 0.00 g is available"), "{err}");

    s.store.sign_in("F", "2222").unwrap();
    let back = s.store.work(|w| shipping::return_check_in(w, tag(1).as_str(), &LocationName::parse("Shelf 4").unwrap())).unwrap();
    assert!(matches!(&back.body, EventBody::Returned { reason, .. } if reason.contains("order SO-1 cancelled")));
    let pkg = s.store.package(&tag(1)).unwrap().unwrap();
    assert_eq!((pkg.status, pkg.location.as_str()), (crate::fold::PackageStatus::Active, "Shelf 4"));
    assert_eq!(s.store.work(shipping::returns_due).unwrap().len(), 1);
    let err = s.store.work(|w| shipping::return_check_in(w, tag(1).as_str(), &LocationName::parse("Shelf 4").unwrap())).unwrap_err();
    assert!(err.to_string().contains("is active; only a package that went out"), "put back once: {err}");

    s.store.sign_in("M", "1111").unwrap();
    let again = s.store.work(|w| picking::create_order(w, &order("SO-2", 10))).unwrap();
    assert_eq!(
        s.store.work(|w| picking::generate_pick_list(w, again)).unwrap()[0].tag,
        tag(1),
        "back on the shelf, free for another order"
    );
}

#[test]
fn a_picked_package_of_an_open_order_is_not_put_back() {
    let s = setup();
    receive(&s.store, &tag(1), 10, "B-1", 30);
    let id = s.store.work(|w| picking::create_order(w, &order("SO-1", 10))).unwrap();
    s.store.work(|w| picking::generate_pick_list(w, id)).unwrap();
    s.store.work(|w| picking::pick_scan(w, id, tag(1).as_str(), None)).unwrap();
    let err = s.store.work(|w| shipping::return_check_in(w, tag(1).as_str(), &LocationName::parse("Shelf 4").unwrap())).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{} is picked for order SO-1, which is not cancelled; it goes back on the shelf only if a manager cancels the order",
            tag(1)
        )
    );
    assert_eq!(s.store.package(&tag(1)).unwrap().unwrap().status, crate::fold::PackageStatus::Picked, "nothing changed");
}

#[test]
fn a_manifest_cancelled_before_departure_frees_its_orders_for_another_truck() {
    let s = setup();
    receive(&s.store, &tag(1), 10, "B-1", 30);
    let id = s.store.work(|w| picking::create_order(w, &order("SO-1", 10))).unwrap();
    let planned = packed_manifest(&s, id, &[tag(1)]);
    let m = s.store.work(|w| shipping::create_manifest(w, &planned)).unwrap();
    let err = s.store.work(|w| picking::cancel_order(w, id, "customer withdrew")).unwrap_err();
    assert_eq!(err.to_string(), "this order is on manifest M-1; cancel that manifest first");

    s.store.sign_in("D", "3333").unwrap();
    assert!(matches!(s.store.work(|w| shipping::cancel_manifest(w, m, "van broke down")), Err(OutboundError::NotAllowed { .. })));
    s.store.sign_in("M", "1111").unwrap();
    assert!(matches!(s.store.work(|w| shipping::cancel_manifest(w, m, "")), Err(OutboundError::NoReason)));
    s.store.work(|w| shipping::cancel_manifest(w, m, "van broke down")).unwrap();
    let route = s.store.work(|w| shipping::route(w, m)).unwrap();
    assert_eq!(route.cancelled.as_ref().map(|c| c.reason.as_str()), Some("van broke down"));
    assert!(route.closed);
    assert!(s.store.work(|w| shipping::cancel_manifest(w, m, "again")).unwrap_err().to_string().contains("already cancelled"));
    s.store.sign_in("D", "3333").unwrap();
    let err = s.store.work(|w| shipping::depart(w, m)).unwrap_err();
    assert!(err.to_string().contains("was cancelled by Sam (van broke down); do not load it"), "{err}");
    assert_eq!(s.store.package(&tag(1)).unwrap().unwrap().status, crate::fold::PackageStatus::Picked);

    s.store.sign_in("M", "1111").unwrap();
    let mut second = planned.clone();
    second.number = "M-2".into();
    let m2 = s.store.work(|w| shipping::create_manifest(w, &second)).expect("the packed order goes on another truck");
    s.store.sign_in("D", "3333").unwrap();
    s.store.work(|w| shipping::depart(w, m2)).unwrap();
    s.store.sign_in("M", "1111").unwrap();
    let err = s.store.work(|w| shipping::cancel_manifest(w, m2, "too late")).unwrap_err();
    assert!(err.to_string().contains("left at"), "{err}");
    let err = s.store.work(|w| picking::cancel_order(w, id, "too late")).unwrap_err();
    assert_eq!(err.to_string(), "this order is on manifest M-2; its truck has left; the route finishes it");
}

#[test]
fn a_departure_made_offline_outranks_a_cancellation_made_in_the_office() {
    use crate::work::manifest as mdoc;
    let s = setup();
    receive(&s.store, &tag(1), 10, "B-1", 30);
    let id = s.store.work(|w| picking::create_order(w, &order("SO-1", 10))).unwrap();
    let new = packed_manifest(&s, id, &[tag(1)]);
    let m = s.store.work(|w| shipping::create_manifest(w, &new)).unwrap();
    let (_, actor) = s.store.work(|w| w.actor()).unwrap();
    let cancelled = s
        .store
        .work(|w| {
            w.read::<_, OutboundError>(m, |d| {
                let mut d = d.clone();
                mdoc::cancel(&mut d, &odoc::Cancellation { reason: "van broke down".into(), by: actor.clone() })?;
                assert!(mdoc::claims(&d)?.is_empty() && mdoc::closed(&d)?, "cancelled: no claims, closed");
                // The driver's phone, offline, departed: the merged document has both.
                mdoc::set_departed(&mut d, &actor)?;
                Ok((mdoc::cancellation(&d)?, mdoc::claims(&d)?, mdoc::closed(&d)?))
            })
        })
        .unwrap()
        .unwrap();
    assert_eq!(cancelled, (None, vec![tag(1)], false), "the truck is on the road with the package");
}

#[test]
fn the_server_audit_refuses_a_cancellation_not_from_a_manager() {
    use crate::work::manifest as mdoc;
    let s = setup();
    receive(&s.store, &tag(1), 10, "B-1", 30);
    let id = s.store.work(|w| picking::create_order(w, &order("SO-1", 10))).unwrap();
    let new = packed_manifest(&s, id, &[tag(1)]);
    let m = s.store.work(|w| shipping::create_manifest(w, &new)).unwrap();
    let (_, mut by) = s.store.work(|w| w.actor()).unwrap();
    let manager = odoc::Cancellation { reason: "withdrawn".into(), by: by.clone() };
    by.user = s.roster[1].id;
    by.name = s.roster[1].name.clone();
    let floor = odoc::Cancellation { reason: "withdrawn".into(), by };
    let audit = |doc: Uuid, c: &odoc::Cancellation| {
        s.store
            .work(|w| {
                w.read::<_, OutboundError>(doc, |d| {
                    let mut d = d.clone();
                    Ok(if doc == m {
                        mdoc::cancel(&mut d, c)?;
                        mdoc::audit(&d, &s.roster)?
                    } else {
                        odoc::cancel(&mut d, c)?;
                        odoc::audit(&d, &s.roster)?
                    })
                })
            })
            .unwrap()
            .unwrap()
    };
    assert_eq!(audit(id, &manager), None);
    assert_eq!(audit(m, &manager), None);
    assert!(audit(id, &floor).unwrap().contains("only a manager may cancel an order"));
    assert!(audit(m, &floor).unwrap().contains("only a manager may cancel a manifest"));
}

#[test]
fn the_server_audit_refuses_a_pick_list_or_substitute_not_from_a_manager() {
    let s = setup();
    receive(&s.store, &tag(1), 10, "B-1", 30);
    receive(&s.store, &tag(2), 10, "B-1", 30);
    let id = s.store.work(|w| picking::create_order(w, &order("SO-1", 10))).unwrap();
    s.store.work(|w| picking::generate_pick_list(w, id)).unwrap();
    s.store.work(|w| picking::approve_substitute(w, id, tag(1).as_str(), tag(2).as_str(), "ok")).unwrap();
    let doc = |edit: &dyn Fn(&mut crate::work::WorkDoc)| {
        s.store.work(|w| {
            w.read::<_, OutboundError>(id, |d| {
                let mut d = d.clone();
                edit(&mut d);
                Ok(odoc::audit(&d, &s.roster)?)
            })
        })
    };
    assert_eq!(doc(&|_| {}).unwrap().unwrap(), None, "a manager's pick list and substitute pass");
    let floor = &s.roster[1];
    let tampered = doc(&|d| {
        let mut by = odoc::pick_list_by(d).unwrap().unwrap();
        by.user = floor.id;
        by.name = floor.name.clone();
        let list = odoc::pick_list(d).unwrap().unwrap();
        odoc::set_pick_list(d, &list, &by).unwrap();
    });
    assert!(tampered.unwrap().unwrap().unwrap().contains("only a manager may allocate"));
}

#[test]
fn patient_details_open_for_managers_only_and_every_opening_is_logged() {
    let s = setup();
    receive(&s.store, &tag(1), 10, "B-1", 30);
    let mut medical = order("SO-9", 5);
    medical.patient =
        Some(Patient { name: "Jane Doe".into(), card_number: "MMJ-12345678".into(), address: "2 Elm".into(), phone: "555".into() });
    let id = s.store.work(|w| picking::create_order(w, &medical)).unwrap();
    assert_eq!(s.store.work(picking::orders).unwrap()[0].order.patient_ref.as_deref(), Some("J.D., card ...5678"));
    assert_eq!(s.store.work(|w| patients::patient(w, id, "planning")).unwrap().name, "Jane Doe");
    // A reason that could fake or hide a line of the access log is refused, and opens nothing.
    for purpose in ["route\n2026-12-01 order X Maria viewed", "left\u{202E}thgir", &"x".repeat(201)] {
        let err = s.store.work(|w| patients::patient(w, id, purpose)).unwrap_err();
        assert!(err.to_string().contains("reason for opening patient details"), "{err}");
    }
    s.store.sign_in("F", "2222").unwrap();
    assert!(matches!(s.store.work(|w| patients::patient(w, id, "curious")), Err(OutboundError::NotAllowed { .. })));
    s.store.sign_in("D", "3333").unwrap();
    assert!(matches!(s.store.work(|w| patients::patient(w, id, "not my route")), Err(OutboundError::NotAllowed { .. })));
    let views = s.store.work(patients::patient_views).unwrap();
    assert_eq!(views.len(), 1, "refusals open nothing and log nothing");
    assert_eq!((views[0].user_name.as_str(), views[0].purpose.as_str()), ("Sam", "planning"));
    let device = s.store.identity().unwrap().unwrap().device_id;
    let key = s.roster[0].active_key(device).unwrap();
    assert!(key.verify(&views[0].signed_bytes(device), views[0].signature.as_ref().unwrap()).is_ok(), "Sam signed the line");
}

/// Picks and packs every package of order `id` and plans a one-stop manifest for driver Dee.
fn packed_manifest(s: &Setup, id: Uuid, tags: &[PackageTag]) -> super::shipping::NewManifest {
    use super::shipping::{NewManifest, NewStop};
    use crate::work::manifest::Vehicle;
    s.store.work(|w| picking::generate_pick_list(w, id)).unwrap();
    for t in tags {
        s.store.work(|w| picking::pick_scan(w, id, t.as_str(), None)).unwrap();
        s.store.work(|w| picking::pack(w, id, t.as_str(), "C-1", g(12))).unwrap();
    }
    s.store.work(|w| picking::finish_packing(w, id)).unwrap();
    NewManifest {
        number: "M-1".into(),
        vehicle: Vehicle { make: "Ford".into(), model: "Transit".into(), plate: "8ABC123".into() },
        driver: s.roster[2].id,
        driver_licence_number: "D1".into(),
        driver_occupational_licence: "OL1".into(),
        phone_for_questions: "555".into(),
        stops: vec![NewStop {
            order: id,
            planned_route: "direct".into(),
            estimated_departure: Utc::now(),
            estimated_arrival: Utc::now() + Duration::hours(1),
        }],
    }
}

#[test]
fn a_failed_stop_keeps_its_packages_on_the_truck_until_checked_in() {
    use super::shipping::StopState;
    let s = setup();
    receive(&s.store, &tag(1), 10, "B-1", 30);
    let id = s.store.work(|w| picking::create_order(w, &order("SO-1", 10))).unwrap();
    let new = packed_manifest(&s, id, &[tag(1)]);
    let mut bad = new.clone();
    bad.driver = s.roster[1].id;
    assert!(s.store.work(|w| shipping::create_manifest(w, &bad)).unwrap_err().to_string().contains("not an active driver"));
    let m = s.store.work(|w| shipping::create_manifest(w, &new)).unwrap();

    s.store.sign_in("F", "2222").unwrap();
    assert!(matches!(s.store.work(|w| shipping::depart(w, m)), Err(OutboundError::NotAllowed { .. })), "floor staff do not drive");
    s.store.sign_in("D", "3333").unwrap();
    assert!(s.store.work(|w| shipping::fail_stop(w, m, 1, "closed", None)).unwrap_err().to_string().contains("not departed"));
    s.store.work(|w| shipping::depart(w, m)).unwrap();
    assert_eq!(s.store.package(&tag(1)).unwrap().unwrap().status, crate::fold::PackageStatus::Shipped);
    assert!(matches!(s.store.work(|w| shipping::fail_stop(w, m, 1, "  ", None)), Err(OutboundError::NoReason)));
    assert!(matches!(s.store.work(|w| shipping::fail_stop(w, m, 2, "closed", None)), Err(OutboundError::UnknownStop(2))));
    s.store.work(|w| shipping::fail_stop(w, m, 1, "shop closed, nobody to receive", None)).unwrap();
    let route = s.store.work(|w| shipping::route(w, m)).unwrap();
    assert_eq!(route.stops[0].state, StopState::Failed);
    assert!(!route.closed);
    assert_eq!(s.store.package(&tag(1)).unwrap().unwrap().status, crate::fold::PackageStatus::Shipped, "still on the truck");

    s.store.sign_in("F", "2222").unwrap();
    let back = s.store.work(|w| shipping::return_check_in(w, tag(1).as_str(), &LocationName::parse("Vault").unwrap())).unwrap();
    assert!(matches!(&back.body, EventBody::Returned { reason, .. } if reason.contains("shop closed")));
    assert!(s.store.work(|w| shipping::route(w, m)).unwrap().closed);
    assert!(
        s.store.work(|w| shipping::return_check_in(w, tag(1).as_str(), &LocationName::parse("Vault").unwrap())).is_err(),
        "checked in once"
    );
    assert!(matches!(
        s.store.work(|w| shipping::return_check_in(w, tag(77).as_str(), &LocationName::parse("Vault").unwrap())),
        Err(OutboundError::UnknownPackage(_))
    ));
    // Back on the shelf and free for another order.
    s.store.sign_in("M", "1111").unwrap();
    let again = s.store.work(|w| picking::create_order(w, &order("SO-2", 10))).unwrap();
    assert_eq!(s.store.work(|w| picking::generate_pick_list(w, again)).unwrap()[0].tag, tag(1));
}

#[test]
fn the_vault_sees_what_is_due_back_until_it_is_checked_in() {
    use super::shipping::{ReturnKind, StopConfirmation};
    let s = setup();
    receive(&s.store, &tag(1), 10, "B-1", 30);
    receive(&s.store, &tag(2), 10, "B-1", 40);
    let id = s.store.work(|w| picking::create_order(w, &order("SO-1", 20))).unwrap();
    let new = packed_manifest(&s, id, &[tag(1), tag(2)]);
    let m = s.store.work(|w| shipping::create_manifest(w, &new)).unwrap();
    assert!(s.store.work(shipping::returns_due).unwrap().is_empty(), "nothing is out before departure");

    s.store.sign_in("D", "3333").unwrap();
    s.store.work(|w| shipping::depart(w, m)).unwrap();
    let out = s.store.work(shipping::returns_due).unwrap();
    assert_eq!(
        out.iter().map(|r| (r.tag.clone(), r.kind)).collect::<Vec<_>>(),
        vec![(tag(1), ReturnKind::NotConfirmed), (tag(2), ReturnKind::NotConfirmed)]
    );
    assert!(out[0].reason.contains("no outcome"), "{}", out[0].reason);
    assert_eq!((out[0].manifest_number.as_deref().zip(out[0].stop), out[0].recipient.as_str()), (Some(("M-1", 1)), "Green Door"));
    assert_eq!((out[0].order_number.as_str(), out[0].container.as_deref()), ("SO-1", Some("C-1")));

    let confirmation = StopConfirmation {
        receiver_name: "Ann Buyer".into(),
        receiver_licence: SHOP.into(),
        refused: vec![(tag(2), "seal broken".into())],
        gps: None,
    };
    s.store.work(|w| shipping::confirm_stop(w, m, 1, &confirmation)).unwrap();
    let due = s.store.work(shipping::returns_due).unwrap();
    assert_eq!(due.len(), 1, "the delivered package is not expected back");
    assert_eq!((&due[0].tag, due[0].kind), (&tag(2), ReturnKind::Refused));
    assert!(due[0].reason.contains("refused at stop 1") && due[0].reason.contains("seal broken"), "{}", due[0].reason);

    s.store.sign_in("F", "2222").unwrap();
    let back = s.store.work(|w| shipping::return_check_in(w, tag(2).as_str(), &LocationName::parse("Returns cage").unwrap())).unwrap();
    assert!(matches!(&back.body, EventBody::Returned { reason, .. } if *reason == due[0].reason), "the ledger says what the list said");
    assert!(s.store.work(shipping::returns_due).unwrap().is_empty());
}

/// Two managers' taps racing for the last stock: the availability each order is planned against
/// and the order it writes are one transaction, so exactly one of them gets the stock. (Planned
/// before its transaction, both could read the same free stock and both be written.)
#[test]
fn two_orders_racing_for_the_last_stock_cannot_both_be_accepted() {
    let s = setup();
    for round in 1..=8u32 {
        receive(&s.store, &tag(round), 10, "B-1", 30);
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let racers: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|side| {
                let (store, barrier) = (s.store.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    store.work(|w| picking::create_order(w, &order(&format!("SO-{round}-{side}"), 10)))
                })
            })
            .collect();
        let results: Vec<_> = racers.into_iter().map(|t| t.join().unwrap()).collect();
        let accepted = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(accepted, 1, "round {round}: exactly one order gets the 10 g left: {results:?}");
        let refused = results.into_iter().find_map(Result::err).unwrap();
        assert!(refused.to_string().contains("only 0.00 g is available"), "round {round}: {refused}");
    }
    assert_eq!(s.store.work(picking::orders).unwrap().len(), 8, "one order per round, none over-allocated");
}
