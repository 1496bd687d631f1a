use super::*;
use crate::counts;
use crate::fold::PackageStatus;
use crate::protocol::Verdict;
use crate::testing::{enrol_offline, person};
use rust_decimal::Decimal;

/// One key for every store a test opens (a reopened store needs the same key).
pub(crate) fn test_key() -> StoreKey {
    StoreKey::from_bytes(&[7; 32]).unwrap()
}

/// A phone with Maria (floor staff, B-1/1234) and Sam (manager, B-2/9876), each of whom has
/// signed in on it once (so it holds their sealed keys); nobody is signed in.
fn enrolled(dir: &tempfile::TempDir) -> Store {
    let store = Store::open(dir.path().join("device.db"), &test_key()).unwrap();
    enrol_offline(
        &store,
        "C11-0000001-LIC",
        &[(person("Maria", Role::FloorStaff, "B-1"), "1234"), (person("Sam", Role::Manager, "B-2"), "9876")],
    )
    .unwrap();
    store
}

fn tag(n: u32) -> PackageTag {
    PackageTag::parse(&format!("1A4FF01000000220000{n:05}")).unwrap()
}

fn receive(store: &Store, t: &PackageTag, grams: i64) -> Event {
    store
        .record(
            t,
            EventBody::Received {
                item: ItemName::parse("Live Resin 1g").unwrap(),
                batch: BatchNumber::parse("LR-7").unwrap(),
                quantity: Quantity::new(Decimal::new(grams, 0), Unit::G).unwrap(),
                location: LocationName::parse("Intake").unwrap(),
                expires_on: None,
                manifest: None,
                via: None,
            },
        )
        .unwrap()
}

#[test]
fn recording_needs_a_signed_in_person_with_the_right_role() {
    let dir = tempfile::tempdir().unwrap();
    let store = enrolled(&dir);
    let body = EventBody::Moved { to: LocationName::parse("Vault").unwrap() };
    assert!(matches!(store.record(&tag(1), body.clone()), Err(StoreError::NotSignedIn)));
    assert!(matches!(store.sign_in("B-1", "0000"), Err(StoreError::WrongPin { left: 4 })));
    // A badge this phone does not know may belong to someone new: only the server can tell.
    assert!(matches!(store.sign_in("B-404", "1234"), Err(StoreError::NeedsOnlineSignIn)));
    assert_eq!(store.sign_in("B-1", "1234").unwrap().role, Role::FloorStaff);
    receive(&store, &tag(1), 10);
    let adjust = EventBody::Adjusted {
        request: None,
        delta: Quantity::change(Decimal::new(-1, 0), Unit::G).unwrap(),
        reason: "Drying".into(),
        note: "weighed".into(),
    };
    let err = store.record(&tag(1), adjust).unwrap_err();
    assert_eq!(err.to_string(), "floor staff may not record an adjustment; ask a manager");
    assert_eq!(store.history(&tag(1)).unwrap().len(), 1, "a refusal changes nothing");
}

#[test]
fn events_are_durable_and_pending_until_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let e = {
        let store = enrolled(&dir);
        store.sign_in("B-1", "1234").unwrap();
        receive(&store, &tag(2), 25)
    };
    let store = Store::open(dir.path().join("device.db"), &test_key()).unwrap();
    let pkg = store.package(&tag(2)).unwrap().unwrap();
    assert_eq!(pkg.quantity.amount, Decimal::new(25, 0));
    assert!(pkg.pending);
    assert_eq!(store.pending_count().unwrap(), 1);
    assert_eq!(store.outbox(10).unwrap(), vec![e.clone()]);
    assert_eq!(store.current_user().unwrap(), None, "the unsealed key lives only as long as the app");
    assert_eq!(store.sign_in("B-1", "1234").unwrap().name, "Maria", "and the PIN opens it again, offline");

    let response = SyncResponse {
        verdicts: vec![Verdict { id: e.id, outcome: Outcome::Accepted }],
        events: vec![],
        cursor: 7,
        has_more: false,
        server_time: Utc::now(),
        roster: store.roster().unwrap(),
        docs: vec![],
        doc_refusals: vec![],
        ..Default::default()
    };
    store.apply_sync(&response, Utc::now()).unwrap();
    assert!(!store.package(&tag(2)).unwrap().unwrap().pending);
    assert_eq!(store.pending_count().unwrap(), 0);
    assert_eq!(store.cursor().unwrap(), 7);
    // Applying the same answer twice (a retried round trip) changes nothing more.
    assert_eq!(store.apply_sync(&response, Utc::now()).unwrap().accepted, 0);
}

#[test]
fn local_rules_refuse_what_would_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let store = enrolled(&dir);
    store.sign_in("B-1", "1234").unwrap();
    let err = store.record(&tag(3), EventBody::Moved { to: LocationName::parse("Vault").unwrap() }).unwrap_err();
    assert!(err.to_string().contains("never received"), "{err}");
    receive(&store, &tag(3), 5);
    let err = store
        .record(
            &tag(3),
            EventBody::Received {
                item: ItemName::parse("X").unwrap(),
                batch: BatchNumber::parse("B").unwrap(),
                quantity: Quantity::new(Decimal::ONE, Unit::G).unwrap(),
                location: LocationName::parse("Intake").unwrap(),
                expires_on: None,
                manifest: None,
                via: None,
            },
        )
        .unwrap_err();
    assert!(err.to_string().contains("already in inventory"), "{err}");
    store.record(&tag(3), EventBody::Quarantined { reason: "variance".into() }).unwrap();
    let err = store.record(&tag(3), EventBody::Picked { order: "SO-9".into() }).unwrap_err();
    assert!(err.to_string().contains("quarantined"), "{err}");
    assert_eq!(store.package(&tag(3)).unwrap().unwrap().status, PackageStatus::Quarantined);
    assert_eq!(store.history(&tag(3)).unwrap().len(), 2);
}

#[test]
fn a_rejected_event_leaves_the_inventory_but_stays_on_record() {
    let dir = tempfile::tempdir().unwrap();
    let store = enrolled(&dir);
    store.sign_in("B-1", "1234").unwrap();
    let r = receive(&store, &tag(4), 5);
    let m = store.record(&tag(4), EventBody::Moved { to: LocationName::parse("Vault 9").unwrap() }).unwrap();
    let response = SyncResponse {
        verdicts: vec![
            Verdict { id: r.id, outcome: Outcome::Accepted },
            Verdict { id: m.id, outcome: Outcome::Rejected { reason: "no such location".into() } },
        ],
        events: vec![],
        cursor: 2,
        has_more: false,
        server_time: Utc::now(),
        roster: store.roster().unwrap(),
        docs: vec![],
        doc_refusals: vec![],
        ..Default::default()
    };
    let applied = store.apply_sync(&response, Utc::now()).unwrap();
    assert_eq!((applied.accepted, applied.rejected), (1, 1));
    assert_eq!(store.package(&tag(4)).unwrap().unwrap().location.as_str(), "Intake");
    let history = store.history(&tag(4)).unwrap();
    assert_eq!(history[0].state, EventState::Rejected);
    assert_eq!(history[0].reject_reason.as_deref(), Some("no such location"));
    assert_eq!(store.sync_status().unwrap().rejected, 1);
    assert!(store.verify_chains().unwrap().is_empty());
}

/// An event by Sam on another device, sealed by hand (as an older server may hold one) and
/// attested by the test server's key, as a server sends what it accepted before signatures.
fn remote(store: &Store, t: &PackageTag, wall_ms: i64, body: EventBody) -> Event {
    let sam = store.roster().unwrap().into_iter().find(|p| p.name == "Sam").unwrap().id;
    crate::event::UnsealedEvent {
        id: Uuid::now_v7(),
        facility: LicenseNumber::parse("C11-0000001-LIC").unwrap(),
        tag: t.clone(),
        user: sam,
        device: DeviceId::new(),
        device_seq: 1,
        hlc: crate::hlc::Hlc { wall_ms, counter: 0 },
        parent: None,
        body,
        prev_hash: GENESIS_HASH.into(),
    }
    .seal_signed(&crate::testing::server_key())
}

#[test]
fn a_pulled_event_beyond_the_bounds_is_kept_as_rejected_and_the_sync_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = enrolled(&dir);
    store.sign_in("B-1", "1234").unwrap();
    let r = receive(&store, &tag(5), 10);
    let now = Utc::now().timestamp_millis();
    let huge = Quantity { amount: Decimal::from_scientific("-7.9e28").unwrap(), unit: Unit::Lb };
    let bad = remote(&store, &tag(5), now, EventBody::Adjusted { delta: huge, reason: "Theft".into(), note: "x".into(), request: None });
    let good = remote(&store, &tag(5), now + 1, EventBody::Moved { to: LocationName::parse("Vault B").unwrap() });
    let response = SyncResponse {
        verdicts: vec![Verdict { id: r.id, outcome: Outcome::Accepted }],
        events: vec![bad.clone(), good],
        cursor: 2,
        server_time: Utc::now(),
        roster: store.roster().unwrap(),
        ..Default::default()
    };
    let applied = store.apply_sync(&response, Utc::now()).unwrap();
    assert_eq!(applied.pulled, 1);
    let package = store.package(&tag(5)).unwrap().unwrap();
    assert_eq!((package.quantity, package.location.as_str()), (Quantity::new(Decimal::new(10, 0), Unit::G).unwrap(), "Vault B"));
    let record = store.history(&tag(5)).unwrap().into_iter().find(|h| h.event.id == bad.id).unwrap();
    assert_eq!(record.state, EventState::Rejected);
    assert!(record.reject_reason.unwrap().contains("taken out of the inventory"));
    assert!(store.conflicts().unwrap().is_empty());
    assert_eq!(store.cursor().unwrap(), 2);
}

#[test]
fn a_sync_answer_brings_a_clock_that_ran_ahead_back_without_losing_what_it_saw() {
    let dir = tempfile::tempdir().unwrap();
    let store = enrolled(&dir);
    store.sign_in("B-1", "1234").unwrap();
    store.set_device_clock_skew(chrono::Duration::days(100));
    let ahead = receive(&store, &tag(6), 10);
    assert!(ahead.hlc.wall_ms > (Utc::now() + chrono::Duration::days(99)).timestamp_millis());

    // The server refuses it and sends another phone's event stamped five minutes ahead (within
    // its ten-minute allowance).
    let now = Utc::now();
    let seen = remote(
        &store,
        &tag(7),
        (now + chrono::Duration::minutes(5)).timestamp_millis(),
        EventBody::Moved { to: LocationName::parse("Vault B").unwrap() },
    );
    let response = SyncResponse {
        verdicts: vec![Verdict { id: ahead.id, outcome: Outcome::Rejected { reason: "clock ahead".into() } }],
        events: vec![seen.clone()],
        cursor: 1,
        server_time: now,
        clock_allowance_ms: Some(600_000),
        roster: store.roster().unwrap(),
        ..Default::default()
    };
    // Sent when the phone's own clock said a hundred days ahead, as the sync client measures it.
    store.apply_sync(&response, Utc::now() + chrono::Duration::days(100)).unwrap();

    // The clock is still a hundred days ahead, but what the phone records now is stamped near
    // the server's time, and still after everything it has seen.
    let next = receive(&store, &tag(8), 10);
    assert!(next.hlc > seen.hlc, "{} after {}", next.hlc, seen.hlc);
    assert!(next.hlc.wall_ms < (now + chrono::Duration::minutes(10)).timestamp_millis(), "{}", next.hlc);
    assert!(store.now().unwrap() < now + chrono::Duration::minutes(10));
}

#[test]
fn an_older_server_that_states_no_allowance_never_brings_the_clock_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = enrolled(&dir);
    store.sign_in("B-1", "1234").unwrap();
    store.set_device_clock_skew(chrono::Duration::days(100));
    let ahead = receive(&store, &tag(6), 10);
    // It accepted the event and says nothing about stamps: what it accepted still counts, so
    // the phone's next event must sort after it, as it always did.
    let response = SyncResponse {
        verdicts: vec![Verdict { id: ahead.id, outcome: Outcome::Accepted }],
        server_time: Utc::now(),
        roster: store.roster().unwrap(),
        ..Default::default()
    };
    store.apply_sync(&response, Utc::now() + chrono::Duration::days(100)).unwrap();
    let next = store.record(&tag(6), EventBody::Moved { to: LocationName::parse("Vault B").unwrap() }).unwrap();
    assert!(next.hlc > ahead.hlc, "{} after {}", next.hlc, ahead.hlc);
}

#[test]
fn incremental_fold_matches_a_full_refold() {
    let dir = tempfile::tempdir().unwrap();
    let store = enrolled(&dir);
    store.sign_in("B-2", "9876").unwrap();
    for n in 0..20 {
        receive(&store, &tag(n), 100 + n as i64);
        store.record(&tag(n), EventBody::Moved { to: LocationName::parse(&format!("Shelf {}", n % 3)).unwrap() }).unwrap();
        store
            .record(
                &tag(n),
                EventBody::Adjusted {
                    request: None,
                    delta: Quantity::change(Decimal::new(-(n as i64), 1), Unit::G).unwrap(),
                    reason: "Drying".into(),
                    note: "n".into(),
                },
            )
            .ok();
    }
    let before = store.packages().unwrap();
    store.refold_all().unwrap();
    assert_eq!(store.packages().unwrap(), before);
    assert_eq!(before.len(), 20);
    assert_eq!(store.packages_at(&LocationName::parse("Shelf 1").unwrap()).unwrap().len(), 7);
}

#[test]
fn migrations_are_versioned() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("m.db"), &test_key()).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    drop(store);
    assert_eq!(Store::open(dir.path().join("m.db"), &test_key()).unwrap().schema_version().unwrap(), SCHEMA_VERSION);
}

mod convergence {
    //! Property: any event set, split across devices and delivered to replicas in any order (with
    //! repeats, in any batch sizes), folds to the same inventory and conflicts on every replica,
    //! and the incremental fold of the store equals the batch fold.
    use super::*;
    use crate::fold::{ConflictKind, Inventory};
    use crate::hlc::Hlc;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    struct Op {
        device: usize,
        tag: u32,
        wall: i64,
        kind: u8,
        amount: i64,
        parent_back: usize,
        place: u8,
    }

    fn op() -> impl Strategy<Value = Op> {
        (0..3usize, 0..4u32, 0..40i64, 0..13u8, 1..50i64, 0..4usize, 0..3u8)
            .prop_map(|(device, tag, wall, kind, amount, parent_back, place)| Op { device, tag, wall, kind, amount, parent_back, place })
    }

    /// The events, and the roster whose keys signed them (one manager per device).
    fn build(ops: &[Op]) -> (Vec<Event>, Vec<RosterEntry>) {
        let devices = [DeviceId::new(), DeviceId::new(), DeviceId::new()];
        let keys = [0, 1, 2].map(|_| crate::signing::SigningKey::generate());
        let roster: Vec<RosterEntry> = (0..3)
            .map(|i| {
                let mut p = person(&format!("Manager {i}"), Role::Manager, &format!("M-{i}"));
                p.keys.push(crate::protocol::RegisteredKey { device: devices[i], key: keys[i].public_key(), active: true });
                p
            })
            .collect();
        let facility = LicenseNumber::parse("C11-0000001-LIC").unwrap();
        let mut events: Vec<Event> = Vec::new();
        let mut seq = [0u64; 3];
        for op in ops {
            let t = tag(op.tag);
            let loc = LocationName::parse(&format!("Shelf {}", op.place)).unwrap();
            let g = |a: i64| Quantity::new(Decimal::new(a, 1), Unit::G).unwrap();
            let body = match op.kind {
                0 | 1 => EventBody::Received {
                    item: ItemName::parse("Rosin").unwrap(),
                    batch: BatchNumber::parse("R-1").unwrap(),
                    quantity: g(op.amount * 10),
                    location: loc,
                    expires_on: None,
                    manifest: None,
                    via: None,
                },
                2 | 3 => EventBody::Moved { to: loc },
                4 => EventBody::Adjusted {
                    request: None,
                    delta: Quantity::change(Decimal::new(-op.amount, 0), Unit::G).unwrap(),
                    reason: "Theft".into(),
                    note: "gen".into(),
                },
                5 => EventBody::Quarantined { reason: "gen".into() },
                6 => EventBody::Released { request: None, note: "gen".into() },
                7 => EventBody::Picked { order: "SO".into() },
                8 => EventBody::Shipped { manifest: "M".into() },
                9 => EventBody::Split {
                    new_tag: tag(op.tag + 10),
                    quantity: g(op.amount),
                    item: ItemName::parse("Rosin").unwrap(),
                    batch: BatchNumber::parse("R-1").unwrap(),
                    location: loc,
                    expires_on: None,
                },
                // Resolutions (docs/decisions/0022) of an earlier event of the package, whether
                // or not it raised that conflict: they resolve it, wait for it, or resolve twice.
                11 | 12 => {
                    let named = events.iter().filter(|e| e.tag == t).nth(op.parent_back).map_or_else(Uuid::now_v7, |e| e.id);
                    let (kind, resolution) = if op.kind == 11 {
                        (ConflictKind::ConcurrentMove, crate::event::Resolution::LocatedAt { location: loc })
                    } else {
                        (ConflictKind::NegativeStock, crate::event::Resolution::Acknowledged)
                    };
                    EventBody::ConflictResolved {
                        conflict: crate::event::ConflictId { event: named, kind },
                        resolution,
                        note: "gen".into(),
                    }
                }
                _ => EventBody::Destroyed { reason: "gen".into() },
            };
            let same_tag: Vec<&Event> = events.iter().filter(|e| e.tag == t).collect();
            let parent = same_tag.len().checked_sub(op.parent_back + 1).map(|i| same_tag[i].id);
            seq[op.device] += 1;
            events.push(
                UnsealedEvent {
                    id: Uuid::now_v7(),
                    facility: facility.clone(),
                    tag: t,
                    user: roster[op.device].id,
                    device: devices[op.device],
                    device_seq: seq[op.device],
                    hlc: Hlc { wall_ms: op.wall, counter: 0 },
                    parent,
                    body,
                    prev_hash: GENESIS_HASH.into(),
                }
                .seal_signed(&keys[op.device]),
            );
        }
        (events, roster)
    }

    fn deliver(dir: &tempfile::TempDir, name: &str, batches: &[Vec<Event>], roster: &[RosterEntry]) -> (Vec<PackageView>, Vec<Conflict>) {
        let store = Store::open(dir.path().join(name), &test_key()).unwrap();
        enrol_offline(&store, "C11-0000001-LIC", &[]).unwrap();
        for batch in batches {
            let response = SyncResponse {
                verdicts: vec![],
                events: batch.clone(),
                cursor: 0,
                has_more: false,
                server_time: Utc::now(),
                roster: roster.to_vec(),
                docs: vec![],
                doc_refusals: vec![],
                ..Default::default()
            };
            store.apply_sync(&response, Utc::now()).unwrap();
        }
        (store.packages().unwrap(), store.conflicts().unwrap())
    }

    /// Splits a permutation of the events (with some repeated) into batches.
    fn shuffled(events: &[Event], order: &[usize], cuts: &[usize]) -> Vec<Vec<Event>> {
        let mut sequence: Vec<Event> = order.iter().map(|i| events[i % events.len()].clone()).collect();
        sequence.extend(events.iter().cloned()); // every event arrives at least once
        let mut batches = Vec::new();
        let mut rest = sequence.as_slice();
        for cut in cuts {
            let at = (*cut).min(rest.len());
            let (head, tail) = rest.split_at(at);
            batches.push(head.to_vec());
            rest = tail;
        }
        batches.push(rest.to_vec());
        batches
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
        #[test]
        fn replicas_converge(
            ops in prop::collection::vec(op(), 1..40),
            order_a in prop::collection::vec(0..1000usize, 0..60),
            order_b in prop::collection::vec(0..1000usize, 0..60),
            cuts_a in prop::collection::vec(0..12usize, 0..6),
            cuts_b in prop::collection::vec(0..12usize, 0..6),
        ) {
            let (events, roster) = build(&ops);
            let batch = Inventory::fold(&events);
            let mut reversed = events.clone();
            reversed.reverse();
            prop_assert_eq!(&Inventory::fold(&reversed), &batch);

            let dir = tempfile::tempdir().unwrap();
            let (pa, ca) = deliver(&dir, "a.db", &shuffled(&events, &order_a, &cuts_a), &roster);
            let (pb, cb) = deliver(&dir, "b.db", &shuffled(&reversed, &order_b, &cuts_b), &roster);
            prop_assert_eq!(&pa, &pb);
            prop_assert_eq!(&ca, &cb);
            prop_assert_eq!(&ca, &batch.conflicts);
            let folded: Vec<(PackageTag, Quantity, LocationName, PackageStatus)> = batch
                .packages
                .values()
                .map(|p| (p.tag.clone(), p.quantity, p.location.clone(), p.status))
                .collect();
            let stored: Vec<(PackageTag, Quantity, LocationName, PackageStatus)> =
                pa.iter().map(|p| (p.tag.clone(), p.quantity, p.location.clone(), p.status)).collect();
            prop_assert_eq!(stored, folded);
        }
    }
}

#[test]
fn a_count_can_be_scoped_by_product_category() {
    use crate::counts::CountError;
    use crate::work::count::CountScope;
    let dir = tempfile::tempdir().unwrap();
    let store = enrolled(&dir);
    store.sign_in("B-2", "9876").unwrap();
    receive(&store, &tag(1), 10); // "Live Resin 1g"
    store
        .record(
            &tag(2),
            EventBody::Received {
                item: ItemName::parse("Pre-roll 0.5g").unwrap(),
                batch: BatchNumber::parse("PR-1").unwrap(),
                quantity: Quantity::new(Decimal::new(20, 0), Unit::Each).unwrap(),
                location: LocationName::parse("Vault B").unwrap(),
                expires_on: None,
                manifest: None,
                via: None,
            },
        )
        .unwrap();
    assert!(matches!(store.work(|w| counts::open_count(w, "x", CountScope::default())), Err(CountError::EmptyScope)));
    // Blank lines typed into the category field are no category, not a category nothing has.
    let blank = CountScope { locations: vec![], categories: vec!["  ".into(), String::new()] };
    assert!(matches!(store.work(|w| counts::open_count(w, "x", blank)), Err(CountError::EmptyScope)));
    // What was typed around the category does not matter.
    let by_category = CountScope { locations: vec![], categories: vec![" concentrate ".into()] };
    assert!(matches!(store.work(|w| counts::open_count(w, "x", by_category.clone())), Err(CountError::NothingInScope)));
    // The facility's categories, as the server's settings deliver them at sync.
    let settings = crate::settings::FacilitySettings {
        revision: 1,
        item_categories: [("Live Resin 1g".to_string(), "Concentrate".to_string()), ("Pre-roll 0.5g".to_string(), "Pre-Roll".to_string())]
            .into(),
        ..Default::default()
    };
    super::facility_settings::keep_for_test(&store, &settings).unwrap();
    let session = store.work(|w| counts::open_count(w, "Concentrates", by_category)).unwrap();
    let view = store.work(|w| counts::count_session(w, session)).unwrap();
    assert_eq!(view.in_scope.iter().map(|p| p.tag.clone()).collect::<Vec<_>>(), vec![tag(1)]);
    assert_eq!(view.scope.categories, vec!["concentrate".to_string()]);
    let listed = store.work(counts::count_sessions).unwrap();
    assert_eq!((listed[0].name.as_str(), listed[0].round, listed[0].packages_in_scope), ("Concentrates", 1, 1));
    // A floor worker may count but not open or see the expected quantities.
    store.sign_in("B-1", "1234").unwrap();
    assert!(matches!(store.work(|w| counts::count_variances(w, session)), Err(CountError::NotAllowed { .. })));
    let scanned = store
        .work(|w| {
            counts::count_scan(
                w,
                session,
                "1a4ff0100000022000000001\n",
                &LocationName::parse("Intake").unwrap(),
                Quantity::parse("9.995 g").unwrap(),
            )
        })
        .unwrap();
    assert_eq!(scanned.your_count.to_string(), "10.00 g");
    let more = Quantity::parse("2 g").unwrap();
    store.work(|w| counts::count_scan(w, session, tag(1).as_str(), &LocationName::parse("Intake").unwrap(), more)).unwrap();
    // The counting screen's line: this person's counts added up, with the item's name.
    let lines = store.work(|w| counts::your_counts(w, session)).unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(
        (lines[0].tag.clone(), lines[0].item.as_str(), lines[0].your_count.to_string()),
        (tag(1), "Live Resin 1g", "12.00 g".to_string())
    );
    // Someone else sees none of them as theirs.
    store.sign_in("B-2", "9876").unwrap();
    assert!(store.work(|w| counts::your_counts(w, session)).unwrap().is_empty());
}

mod proofs {
    //! What a phone pulls must prove who made it, the same way the server checks what it is
    //! sent: for every role-restricted event kind and document decision, the same thing signed
    //! by nobody, with a floor worker's key, with the right person's key from another device,
    //! and by the right person on the device that made it. Only the last is taken in.
    use super::*;
    use crate::protocol::{ChangeSignature, DocMessage, RegisteredKey};
    use crate::signing::{SigningKey, change_message};
    use crate::testing::{Cast, Who, decisions};
    use crate::work::Writer;

    /// A phone whose roster knows Max (manager), Finn (floor staff) and Dan (driver), each with
    /// a key on the "office" device, and Max and Dan with one on another device too.
    struct World {
        _dir: tempfile::TempDir,
        store: Store,
        cast: Cast,
        office_keys: std::collections::HashMap<UserId, SigningKey>,
        elsewhere_keys: std::collections::HashMap<UserId, SigningKey>,
    }

    fn world() -> World {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("viewer.db"), &test_key()).unwrap();
        let (office, elsewhere) = (DeviceId::new(), DeviceId::new());
        let mut people = vec![
            person("Max", Role::Manager, "M-1"),
            person("Finn", Role::FloorStaff, "F-1"),
            person("Dan", Role::Driver, "D-1"),
            person("Vera", Role::FloorStaff, "V-1"),
        ];
        let mut office_keys = std::collections::HashMap::new();
        let mut elsewhere_keys = std::collections::HashMap::new();
        for (i, p) in people.iter_mut().take(3).enumerate() {
            let key = SigningKey::generate();
            p.keys.push(RegisteredKey { device: office, key: key.public_key(), active: true });
            office_keys.insert(p.id, key);
            if i != 1 {
                let key = SigningKey::generate();
                p.keys.push(RegisteredKey { device: elsewhere, key: key.public_key(), active: true });
                elsewhere_keys.insert(p.id, key);
            }
        }
        // Vera is the one signed in on this (viewing) phone.
        let vera = people.pop().unwrap();
        let mut roster = enrol_offline(&store, "C11-0000001-LIC", &[(vera, "1234")]).unwrap();
        roster.extend(people.iter().cloned());
        let sync = SyncResponse { roster, server_time: Utc::now(), ..Default::default() };
        store.apply_sync(&sync, Utc::now()).unwrap();
        let who = |p: &RosterEntry| Who { user: p.id, name: p.name.clone(), device: office };
        let cast = Cast {
            facility: LicenseNumber::parse("C11-0000001-LIC").unwrap(),
            manager: who(&people[0]),
            floor: who(&people[1]),
            driver: who(&people[2]),
        };
        World { _dir: dir, store, cast, office_keys, elsewhere_keys }
    }

    #[test]
    fn a_pulled_decision_must_be_signed_by_the_right_person_on_their_device() {
        let w = world();
        let finn = w.cast.floor.user;
        for decision in decisions() {
            let right = if decision.by_driver { &w.cast.driver } else { &w.cast.manager };
            let variants: [(&str, Writer, Option<&SigningKey>); 4] = [
                ("signed by nobody", right.writer(), None),
                ("a floor worker's key", w.cast.floor.writer(), Some(&w.office_keys[&finn])),
                ("the right person's key from another device", right.writer(), Some(&w.elsewhere_keys[&right.user])),
                ("the right person on their device", right.writer(), Some(&w.office_keys[&right.user])),
            ];
            for (i, (how, writer, key)) in variants.into_iter().enumerate() {
                let base = (decision.base)(&w.cast);
                let mut base_hashes = std::collections::HashSet::new();
                let base = base.map(|mut b| {
                    base_hashes.extend(b.changes_since(&[]).into_iter().map(|(h, _)| h));
                    b
                });
                let mut doc = (decision.decide)(&w.cast, base, right, writer).unwrap();
                // The whole document, as the server's first message to a new phone carries it.
                let mut state = automerge::sync::State::new();
                state.their_heads = Some(Vec::new());
                state.their_have = Some(vec![automerge::sync::Have::default()]);
                state.their_need = Some(Vec::new());
                state.their_capabilities = Some(vec![automerge::sync::Capability::MessageV2]);
                let (message, carried) = doc.generate_message_with_changes(&mut state).unwrap();
                assert!(!carried.is_empty(), "the message carries the document");
                let writers: std::collections::HashMap<String, Option<Writer>> = doc.changes_since(&[]).into_iter().collect();
                let signatures = carried
                    .into_iter()
                    .filter_map(|hash| {
                        let signer = if base_hashes.contains(&hash) {
                            match writers[&hash] {
                                Some(Writer::Person { user, .. }) => Some(&w.office_keys[&user]),
                                _ => None,
                            }
                        } else {
                            key
                        }?;
                        Some(ChangeSignature { signature: signer.sign(&change_message(doc.id, &hash)), hash })
                    })
                    .collect();
                let m = DocMessage { doc: doc.id, kind: doc.kind, message, signatures };
                let applied = w.store.apply_doc_messages(&[m], &[], &mut Default::default());
                if i < 3 {
                    let err = applied.expect_err(&format!("{}: {how} was taken in", decision.name));
                    assert!(matches!(err, StoreError::BadRemoteEvent(_)), "{}: {how}: {err}", decision.name);
                    assert!(w.store.docs(None).unwrap().iter().all(|d| d.id != doc.id), "{}: {how} left something behind", decision.name);
                } else {
                    applied.unwrap_or_else(|e| panic!("{}: {how} was refused: {e}", decision.name));
                    assert!(w.store.docs(None).unwrap().iter().any(|d| d.id == doc.id));
                }
            }
        }
    }

    #[test]
    fn a_pulled_event_must_be_signed_by_the_person_it_names_on_its_device() {
        use crate::event::{GENESIS_HASH, UnsealedEvent};
        use crate::hlc::Hlc;
        let w = world();
        let (max, finn) = (w.cast.manager.user, w.cast.floor.user);
        let bodies = [
            EventBody::Adjusted {
                request: None,
                delta: Quantity::change(Decimal::new(-15, 1), Unit::G).unwrap(),
                reason: "Scale Variance".into(),
                note: "reweighed".into(),
            },
            EventBody::Destroyed { reason: "mould".into() },
            EventBody::Released { request: None, note: "lab retest passed".into() },
            EventBody::Delivered { recipient: LicenseNumber::parse("C10-0000201-LIC").unwrap() },
        ];
        for (n, body) in bodies.into_iter().enumerate() {
            let variants: [(&str, UserId, Option<&SigningKey>, &str); 5] = [
                ("signed by nobody", max, None, "not signed by Max"),
                ("a floor worker's key in the manager's name", max, Some(&w.office_keys[&finn]), "not signed by Max"),
                ("a floor worker's own", finn, Some(&w.office_keys[&finn]), "Finn, who is floor staff"),
                ("the manager's key from another device", max, Some(&w.elsewhere_keys[&max]), "not signed by Max"),
                ("the manager on the device that recorded it", max, Some(&w.office_keys[&max]), ""),
            ];
            for (i, (how, user, key, expected)) in variants.into_iter().enumerate() {
                let unsealed = UnsealedEvent {
                    id: Uuid::now_v7(),
                    facility: w.cast.facility.clone(),
                    tag: tag(100 + n as u32 * 10 + i as u32),
                    user,
                    device: w.cast.manager.device,
                    device_seq: (n * 10 + i + 1) as u64,
                    hlc: Hlc { wall_ms: 1_000, counter: 0 },
                    parent: None,
                    body: body.clone(),
                    prev_hash: GENESIS_HASH.into(),
                };
                let event = match key {
                    Some(key) => unsealed.seal_signed(key),
                    None => unsealed.seal(),
                };
                let sync = SyncResponse {
                    events: vec![event.clone()],
                    roster: w.store.roster().unwrap(),
                    server_time: Utc::now(),
                    ..Default::default()
                };
                let applied = w.store.apply_sync(&sync, Utc::now());
                if i < 4 {
                    let err = applied.expect_err(&format!("{}: {how} was taken in", event.kind()));
                    assert!(err.to_string().contains(expected), "{}: {how}: {err}", event.kind());
                    assert!(w.store.history(&event.tag).unwrap().is_empty(), "{how}: nothing changed");
                } else {
                    applied.unwrap_or_else(|e| panic!("{}: {how} was refused: {e}", event.kind()));
                    assert_eq!(w.store.history(&event.tag).unwrap().len(), 1);
                }
            }
        }
    }
}

/// Every file of the store on disk, read raw.
fn raw_files(path: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|suffix| {
            let file = format!("{}{suffix}", path.display());
            std::fs::read(&file).ok().map(|bytes| (file, bytes))
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn the_store_on_disk_is_encrypted_and_opens_only_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    {
        let store = enrolled(&dir);
        store.sign_in("B-1", "1234").unwrap();
        receive(&store, &tag(4242), 12);
        // Half in the WAL, then all of it in the main file: neither may show anything.
        for (file, bytes) in raw_files(&path) {
            assert!(!contains(&bytes, b"SQLite format 3"), "{file} has a plain SQLite header");
            assert!(!contains(&bytes, b"Live Resin 1g"), "{file} shows an item name");
            assert!(!contains(&bytes, tag(4242).as_str().as_bytes()), "{file} shows a package tag");
            assert!(!contains(&bytes, b"cdt_test"), "{file} shows the device token");
        }
        store.checkpoint().unwrap();
    }
    let files = raw_files(&path);
    assert!(files.iter().any(|(_, bytes)| bytes.len() > 4096), "the store holds data");
    for (file, bytes) in files {
        assert!(!contains(&bytes, b"SQLite format 3"), "{file} has a plain SQLite header");
        assert!(!contains(&bytes, b"Live Resin 1g"), "{file} shows an item name");
        assert!(!contains(&bytes, tag(4242).as_str().as_bytes()), "{file} shows a package tag");
        assert!(!contains(&bytes, b"Maria"), "{file} shows a person's name");
    }

    // Another key, or none, reads nothing; the person is told what to do.
    let other = StoreKey::from_bytes(&[8; 32]).unwrap();
    let err = Store::open(&path, &other).err().expect("another key is refused");
    assert!(matches!(err, StoreError::KeyMismatch), "{err}");
    assert!(err.to_string().contains("Call support"), "{err}");
    let plain = rusqlite::Connection::open(&path).unwrap();
    let read = plain.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0));
    assert!(read.is_err(), "without the key SQLite sees no database: {read:?}");
    drop(plain);

    // The right key still opens it, with everything there.
    let store = Store::open(&path, &test_key()).unwrap();
    assert_eq!(store.packages().unwrap().len(), 1);
    assert!(store.identity().unwrap().is_some());
}

#[cfg(unix)]
#[test]
fn the_store_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let store = enrolled(&dir);
    store.sign_in("B-1", "1234").unwrap();
    receive(&store, &tag(1), 5);
    let files = raw_files(&dir.path().join("device.db"));
    assert_eq!(files.len(), 3, "the store, its WAL and its shared memory are on disk");
    for (file, _) in files {
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{file} is {mode:o}");
    }
}

/// The rows of every table in `conn`, as text, for comparing two databases.
fn table_rows(conn: &Connection, table: &str) -> Vec<String> {
    let mut stmt = conn.prepare(&format!("SELECT * FROM {table}")).unwrap();
    let n = stmt.column_count();
    let mut rows: Vec<String> = stmt
        .query_map([], |r| {
            (0..n).map(|i| r.get_ref(i).map(|v| format!("{v:?}"))).collect::<rusqlite::Result<Vec<_>>>().map(|v| v.join("|"))
        })
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    rows.sort();
    rows
}

fn columns(conn: &Connection, table: &str) -> Vec<String> {
    let mut stmt = conn.prepare(&format!("SELECT name FROM pragma_table_info('{table}')")).unwrap();
    stmt.query_map([], |r| r.get(0)).unwrap().collect::<rusqlite::Result<_>>().unwrap()
}

/// A phone that has been in use: two people's keys, received and moved packages, a count under
/// way with a scan in it, events waiting for the server.
fn store_in_use(dir: &tempfile::TempDir) -> Store {
    let store = enrolled(dir);
    store.sign_in("B-1", "1234").unwrap();
    receive(&store, &tag(1), 10);
    receive(&store, &tag(2), 25);
    store.record(&tag(2), EventBody::Moved { to: LocationName::parse("Vault").unwrap() }).unwrap();
    store.sign_in("B-2", "9876").unwrap();
    let scope = crate::work::count::CountScope { locations: vec![LocationName::parse("Vault").unwrap()], categories: vec![] };
    let count = store.work(|w| counts::open_count(w, "Vault weekly", scope)).unwrap();
    store
        .work(|w| {
            counts::count_scan(
                w,
                count,
                tag(2).as_str(),
                &LocationName::parse("Vault").unwrap(),
                Quantity::new(Decimal::new(25, 0), Unit::G).unwrap(),
            )
        })
        .unwrap();
    store
}

#[test]
fn a_database_from_every_earlier_version_upgrades_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let source = store_in_use(&dir);
    let packages = source.packages().unwrap();
    let history = source.history(&tag(2)).unwrap();
    let docs = source.docs(None).unwrap();
    let pending = source.pending_count().unwrap();
    assert!(!packages.is_empty() && !docs.is_empty() && pending > 0, "the source phone holds data");
    let latest = open_encrypted(source.path(), &test_key()).unwrap();

    for version in 1..SCHEMA_VERSION {
        // A phone left at `version`: its tables hold what the newest phone holds, in the
        // columns that version had.
        let path = dir.path().join(format!("v{version}.db"));
        {
            let mut old = open_encrypted(&path, &test_key()).unwrap();
            schema::migrate_to(&mut old, version).unwrap();
            let tables: Vec<String> = old
                .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            for table in tables {
                let cols = columns(&old, &table);
                let list = cols.join(", ");
                let marks = (1..=cols.len()).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ");
                let mut read = latest.prepare(&format!("SELECT {list} FROM {table}")).unwrap();
                let mut rows = read.query([]).unwrap();
                while let Some(row) = rows.next().unwrap() {
                    let values: Vec<rusqlite::types::Value> = (0..cols.len()).map(|i| row.get(i).unwrap()).collect();
                    old.execute(&format!("INSERT INTO {table} ({list}) VALUES ({marks})"), rusqlite::params_from_iter(values)).unwrap();
                }
            }
        }
        let upgraded = Store::open(&path, &test_key()).unwrap();
        assert_eq!(upgraded.schema_version().unwrap(), SCHEMA_VERSION, "from version {version}");
        assert_eq!(upgraded.identity().unwrap(), source.identity().unwrap(), "from version {version}");
        assert_eq!(upgraded.packages().unwrap(), packages, "from version {version}");
        assert_eq!(upgraded.history(&tag(2)).unwrap(), history, "from version {version}");
        assert_eq!(upgraded.pending_count().unwrap(), pending, "from version {version}: nothing waiting for the server is lost");
        if version >= 2 {
            assert_eq!(upgraded.docs(None).unwrap(), docs, "from version {version}");
        }
        if version >= 4 {
            // Signing keys came in version 4: the people who signed in here still can, offline.
            assert_eq!(upgraded.sign_in("B-1", "1234").unwrap().name, "Maria", "from version {version}");
        } else {
            // Before that, rosters held PIN hashes: they are gone, and sign-in needs the network.
            assert!(table_rows(&open_encrypted(upgraded.path(), &test_key()).unwrap(), "roster").is_empty(), "from version {version}");
            assert!(matches!(upgraded.sign_in("B-1", "1234"), Err(StoreError::NeedsOnlineSignIn)));
        }
    }
}

#[test]
fn a_database_from_a_newer_app_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    drop(store_in_use(&dir));
    {
        let conn = open_encrypted(&path, &test_key()).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
    }
    let before = table_rows(&open_encrypted(&path, &test_key()).unwrap(), "events");
    let err = Store::open(&path, &test_key()).err().expect("a newer database is refused");
    assert!(matches!(err, StoreError::NewerSchema { found, known } if found == SCHEMA_VERSION + 1 && known == SCHEMA_VERSION));
    assert!(err.to_string().contains("update the app"), "{err}");
    let conn = open_encrypted(&path, &test_key()).unwrap();
    assert_eq!(conn.query_row("PRAGMA user_version", [], |r| r.get::<_, usize>(0)).unwrap(), SCHEMA_VERSION + 1);
    assert_eq!(table_rows(&conn, "events"), before);
}

/// A unit of work holds the connection for its transaction. A workflow that called back into the
/// store from inside it used to wait on itself forever (twice in this code's history); now it
/// fails at once with a message that says what to do, nothing of it is written, and the store
/// goes on working.
#[test]
fn a_unit_of_work_that_calls_back_into_the_store_fails_instead_of_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let store = enrolled(&dir);
    store.sign_in("B-2", "9876").unwrap();
    let t = tag(1);
    receive(&store, &t, 10);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        store.work::<_, StoreError>(|w| {
            w.record(&t, EventBody::Quarantined { reason: "label damaged".into() })?;
            store.package(&t)?; // the mistake: the store, not the unit of work
            Ok(())
        })
    }));
    let message = outcome.expect_err("the call back into the store must fail");
    let message = message.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| message.downcast_ref::<String>().cloned());
    assert!(message.is_some_and(|m| m.contains("read through the UnitOfWork")), "a message that says what to do");
    // Nothing of the failed unit of work was written, and reads and writes still work.
    assert_eq!(store.package(&t).unwrap().unwrap().status, crate::fold::PackageStatus::Active);
    let inside = store.work::<_, StoreError>(|w| Ok(w.package(&t)?.map(|p| p.status))).unwrap();
    assert_eq!(inside, Some(crate::fold::PackageStatus::Active));
}
