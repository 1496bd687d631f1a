use super::*;
use crate::protocol::Verdict;
use argon2::PasswordHasher;
use argon2::password_hash::SaltString;
use rust_decimal::Decimal;

pub(crate) fn roster_entry(name: &str, role: Role, badge: &str, pin: &str) -> RosterEntry {
    let salt = SaltString::encode_b64(name.as_bytes().iter().cycle().take(16).copied().collect::<Vec<_>>().as_slice()).unwrap();
    RosterEntry {
        id: UserId::new(),
        name: name.into(),
        role,
        badge: badge.into(),
        pin_hash: Argon2::default().hash_password(pin.as_bytes(), &salt).unwrap().to_string(),
        active: true,
    }
}

fn enrolled(dir: &tempfile::TempDir) -> Store {
    let store = Store::open(dir.path().join("device.db")).unwrap();
    store
        .save_enrolment(
            "http://127.0.0.1:9",
            &EnrolResponse {
                device_id: DeviceId::new(),
                facility: LicenseNumber::parse("C11-0000001-LIC").unwrap(),
                facility_name: "Green Valley Distribution".into(),
                token: "cdt_test".into(),
                roster: vec![
                    roster_entry("Maria", Role::FloorStaff, "B-1", "1234"),
                    roster_entry("Sam", Role::Manager, "B-2", "9876"),
                ],
            },
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
    assert!(matches!(store.sign_in("B-1", "0000"), Err(StoreError::BadCredentials)));
    assert!(matches!(store.sign_in("B-404", "1234"), Err(StoreError::BadCredentials)));
    assert_eq!(store.sign_in("B-1", "1234").unwrap().role, Role::FloorStaff);
    receive(&store, &tag(1), 10);
    let adjust = EventBody::Adjusted {
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
    let store = Store::open(dir.path().join("device.db")).unwrap();
    let pkg = store.package(&tag(2)).unwrap().unwrap();
    assert_eq!(pkg.quantity.amount, Decimal::new(25, 0));
    assert!(pkg.pending);
    assert_eq!(store.pending_count().unwrap(), 1);
    assert_eq!(store.outbox(10).unwrap(), vec![e.clone()]);
    assert_eq!(store.current_user().unwrap().unwrap().name, "Maria", "sign-in survives a restart");

    let response = SyncResponse {
        verdicts: vec![Verdict { id: e.id, outcome: Outcome::Accepted }],
        events: vec![],
        cursor: 7,
        has_more: false,
        server_time: Utc::now(),
        roster: store.roster().unwrap(),
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
    let store = Store::open(dir.path().join("m.db")).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    drop(store);
    assert_eq!(Store::open(dir.path().join("m.db")).unwrap().schema_version().unwrap(), SCHEMA_VERSION);
}
