//! No event set can break a read (issue 10, docs/decisions/0013).
//!
//! Events are immutable: one that could make the fold, the inventory report, availability or
//! pick-list planning fail would fail them for ever, on every replica. The phone and the server
//! validate every event, but the fold must hold even for events that never passed validation (an
//! older store, a bug elsewhere). So these properties fold arbitrary, hostile event sets —
//! amounts near `Decimal::MAX` in every unit, every kind, any stamp, any order, bodies never
//! validated — and require every read to give an answer.

use std::collections::BTreeSet;

use chrono::{NaiveDate, Utc};
use custody_core::Event;
use custody_core::event::{EventBody, GENESIS_HASH, UnsealedEvent};
use custody_core::fold::{Inventory, PackageStatus};
use custody_core::hlc::Hlc;
use custody_core::ids::{BatchNumber, DeviceId, ItemName, LicenseNumber, LocationName, PackageTag, UserId};
use custody_core::outbound::order::{Availability, Customer, NewOrder, NewOrderLine, OrderLine};
use custody_core::outbound::picklist::{self, Candidate};
use custody_core::protocol::InventoryReport;
use custody_core::quantity::{Quantity, Unit};
use custody_core::work::count;
use proptest::prelude::*;
use rust_decimal::Decimal;
use uuid::Uuid;

fn tag(n: u8) -> PackageTag {
    PackageTag::parse(&format!("1A4FF0100000022000{n:06}")).unwrap()
}

/// Any decimal a JSON body can carry, with the extremes made likely.
fn decimal() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        Just(Decimal::MAX),
        Just(Decimal::MIN),
        Just(Decimal::ZERO),
        Just(Decimal::from_scientific("-7.9e28").unwrap()),
        (1i64..1_000_000, 0u32..6).prop_map(|(n, s)| Decimal::new(n, s)),
        (any::<u32>(), any::<u32>(), any::<u32>(), any::<bool>(), 0u32..=28)
            .prop_map(|(lo, mid, hi, neg, scale)| Decimal::from_parts(lo, mid, hi, neg, scale)),
        (any::<u32>(), any::<bool>()).prop_map(|(lo, neg)| Decimal::from_parts(lo, u32::MAX, u32::MAX, neg, 0)),
    ]
}

fn unit() -> impl Strategy<Value = Unit> {
    proptest::sample::select(Unit::ALL.to_vec())
}

/// A quantity straight from the wire: never through a constructor.
fn quantity() -> impl Strategy<Value = Quantity> {
    (decimal(), unit()).prop_map(|(amount, unit)| Quantity { amount, unit })
}

fn item() -> impl Strategy<Value = ItemName> {
    // Stored values are read with the rules they were accepted under: hidden characters included.
    proptest::sample::select(vec!["Flower", "Live Resin 1g", "Cart \u{202E}1g"]).prop_map(|s| ItemName::from_stored(s).unwrap())
}

fn location() -> impl Strategy<Value = LocationName> {
    proptest::sample::select(vec!["Vault A", "Vault FUTURE", "Intake"]).prop_map(|s| LocationName::from_stored(s).unwrap())
}

fn body() -> impl Strategy<Value = EventBody> {
    let batch = || Just(BatchNumber::parse("B-1").unwrap());
    let text = || proptest::sample::select(vec![String::new(), "x".into(), "y".repeat(3000)]);
    let date = || proptest::option::of((2000i32..2100, 1u32..13, 1u32..29).prop_map(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d).unwrap()));
    prop_oneof![
        (item(), batch(), quantity(), location(), date()).prop_map(|(item, batch, quantity, location, expires_on)| {
            EventBody::Received { item, batch, quantity, location, expires_on, manifest: None, via: None }
        }),
        location().prop_map(|to| EventBody::Moved { to }),
        (quantity(), text()).prop_map(|(delta, note)| EventBody::Adjusted { delta, reason: note.clone(), note, request: None }),
        text().prop_map(|reason| EventBody::Quarantined { reason }),
        text().prop_map(|note| EventBody::Released { note, request: None }),
        proptest::sample::select(vec!["SO-1", "SO-2"]).prop_map(|o| EventBody::Picked { order: o.into() }),
        Just(EventBody::Shipped { manifest: "M-1".into() }),
        Just(EventBody::Delivered { recipient: LicenseNumber::parse("C10-0000002-LIC").unwrap() }),
        (location(), text()).prop_map(|(location, reason)| EventBody::Returned { location, reason }),
        text().prop_map(|reason| EventBody::Destroyed { reason }),
        (0u8..5, quantity(), item(), batch(), location(), date()).prop_map(|(n, quantity, item, batch, location, expires_on)| {
            EventBody::Split { new_tag: tag(n), quantity, item, batch, location, expires_on }
        }),
    ]
}

fn stamp() -> impl Strategy<Value = Hlc> {
    let wall = prop_oneof![Just(i64::MAX), Just(i64::MIN), Just(0i64), 0i64..20, any::<i64>()];
    (wall, prop_oneof![Just(0u32), Just(u32::MAX), any::<u32>()]).prop_map(|(wall_ms, counter)| Hlc { wall_ms, counter })
}

/// Events of a few packages from a few devices, each naming an earlier one (or none) as parent.
fn events() -> impl Strategy<Value = Vec<Event>> {
    proptest::collection::vec((0u8..5, 0usize..3, stamp(), body(), proptest::option::of(any::<proptest::sample::Index>())), 1..40).prop_map(
        |raw| {
            let devices = [DeviceId(Uuid::from_u128(1)), DeviceId(Uuid::from_u128(2)), DeviceId(Uuid::from_u128(3))];
            let mut out: Vec<Event> = Vec::new();
            for (i, (t, d, hlc, body, parent)) in raw.into_iter().enumerate() {
                let parent = parent.filter(|_| !out.is_empty()).map(|p| out[p.index(out.len())].id);
                out.push(
                    UnsealedEvent {
                        id: Uuid::from_u128(1_000 + i as u128),
                        facility: LicenseNumber::parse("C11-0000001-LIC").unwrap(),
                        tag: tag(t),
                        user: UserId(Uuid::from_u128(9)),
                        device: devices[d],
                        device_seq: i as u64 + 1,
                        hlc,
                        parent,
                        body,
                        prev_hash: GENESIS_HASH.into(),
                    }
                    .seal(),
                );
            }
            out
        },
    )
}

fn order_lines() -> impl Strategy<Value = Vec<OrderLine>> {
    proptest::collection::vec((item(), quantity(), decimal()), 1..4).prop_map(|lines| {
        lines
            .into_iter()
            .enumerate()
            .map(|(i, (item, quantity, unit_price))| OrderLine { line: i as u32 + 1, item, quantity, unit_price })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Whatever the events say and in whatever order they arrive, the fold, the report, every
    /// package's figures, availability, pick-list planning and order entry all answer, and the
    /// fold is the same for the same set.
    #[test]
    fn every_read_survives_any_event_set(events in events(), lines in order_lines(), shuffle in any::<u64>()) {
        let inventory = Inventory::fold(&events);
        let report = InventoryReport::from_inventory(&inventory);
        let json = serde_json::to_string(&report).unwrap();
        prop_assert!(!json.is_empty());

        let mut reordered = events.clone();
        let n = reordered.len();
        for i in 0..n {
            reordered.swap(i, (shuffle as usize).wrapping_mul(i + 7) % n);
        }
        prop_assert_eq!(&Inventory::fold(&reordered), &inventory, "same set, same inventory");

        for p in inventory.packages.values() {
            let _ = p.quantity.to_string();
            let _ = p.quantity.grams();
            for u in Unit::ALL {
                let _ = p.quantity.convert(u);
                let _ = p.quantity.same_as(&Quantity::zero(u));
            }
            let _ = count::to_minor(&p.quantity, p.quantity.unit);
            for l in &lines {
                let _ = l.price_of(&p.quantity);
            }
        }
        for c in &inventory.conflicts {
            prop_assert!(!c.detail.is_empty());
        }

        let today = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let candidates: Vec<Candidate> = inventory.packages.values().map(Candidate::from).collect();
        let every = picklist::eligible(candidates.clone(), today, &BTreeSet::new(), &BTreeSet::new());
        prop_assert!(every.iter().all(|c| c.status == PackageStatus::Active));
        let mut available = Availability::from_candidates(&every);
        available.reserve(&lines);
        let mut spare = (100..120).map(tag);
        let _ = picklist::allocate(&lines, &every, &mut spare);

        let customer = LicenseNumber::parse("C10-0000002-LIC").unwrap();
        let order = NewOrder {
            number: "SO-9".into(),
            recipient: customer.clone(),
            requested_on: today,
            lines: lines.iter().map(|l| NewOrderLine { item: l.item.clone(), quantity: l.quantity, unit_price: l.unit_price }).collect(),
            patient: None,
        };
        let customers = [Customer { licence: customer, name: "Green Door".into(), address: "1 Main St".into() }];
        if let Err(e) = order.accept(&customers, &[], &available, today, "Sam", Utc::now()) {
            prop_assert!(!e.to_string().is_empty());
        }
    }

    /// Inside the bounds nothing overflows: any two quantities the constructors accept add up,
    /// convert into every unit of their kind and price at the largest unit price, and anything the
    /// constructors refuse is refused with a sentence.
    #[test]
    fn within_the_bounds_arithmetic_cannot_overflow(a in quantity(), b in quantity()) {
        match (Quantity::change(a.amount, a.unit), Quantity::change(b.amount, b.unit)) {
            (Ok(a), Ok(b)) => {
                prop_assert!(a.grams().is_ok());
                for u in Unit::ALL.into_iter().filter(|u| u.is_weight() == a.unit.is_weight()) {
                    let converted = a.convert(u).unwrap();
                    prop_assert!(converted.checked().is_ok(), "{} in {u} leaves the bounds", a.plain());
                }
                if a.unit.is_weight() == b.unit.is_weight() {
                    prop_assert!(a.checked_add(&b).is_ok() && a.checked_sub(&b).is_ok());
                }
                prop_assert!(count::to_minor(&a, a.unit).is_ok());
            }
            (Err(e), _) | (_, Err(e)) => prop_assert!(!e.to_string().is_empty()),
        }
    }
}

/// The case the issue found: an adjustment of -7.9e28 lb on a package in grams. The fold keeps
/// the package's quantity, raises a conflict with a sentence, and nothing fails.
#[test]
fn the_reported_adjustment_becomes_a_conflict_not_a_failure() {
    let device = DeviceId(Uuid::from_u128(1));
    let seal = |n: u128, hlc: i64, body: EventBody| {
        UnsealedEvent {
            id: Uuid::from_u128(n),
            facility: LicenseNumber::parse("C11-0000001-LIC").unwrap(),
            tag: tag(1),
            user: UserId(Uuid::from_u128(9)),
            device,
            device_seq: n as u64,
            hlc: Hlc { wall_ms: hlc, counter: 0 },
            parent: None,
            body,
            prev_hash: GENESIS_HASH.into(),
        }
        .seal()
    };
    let received = seal(
        1,
        1,
        EventBody::Received {
            item: ItemName::parse("Flower").unwrap(),
            batch: BatchNumber::parse("B-1").unwrap(),
            quantity: Quantity::new(Decimal::new(100, 0), Unit::G).unwrap(),
            location: LocationName::parse("Vault A").unwrap(),
            expires_on: None,
            manifest: None,
            via: None,
        },
    );
    let huge = Quantity { amount: Decimal::from_scientific("-7.9e28").unwrap(), unit: Unit::Lb };
    let adjusted = seal(2, 2, EventBody::Adjusted { delta: huge, reason: "Theft".into(), note: "x".into(), request: None });
    assert!(adjusted.validate().is_err(), "no phone or server takes it in any more");
    let inventory = Inventory::fold([&received, &adjusted]);
    assert_eq!(inventory.packages[&tag(1)].quantity, Quantity::new(Decimal::new(100, 0), Unit::G).unwrap());
    let conflict = &inventory.conflicts[0];
    assert!(conflict.detail.contains("not applied"), "{}", conflict.detail);
    assert!(conflict.detail.contains("-79000000000000000000000000000 lb"), "{}", conflict.detail);
}
