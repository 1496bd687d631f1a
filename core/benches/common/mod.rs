//! Setup shared by the core benchmarks: an enrolled store signed in offline, and a ledger of
//! received packages loaded as if pulled from the server.

use std::path::Path;

use argon2::PasswordHasher;
use chrono::Utc;
use custody_core::event::{GENESIS_HASH, UnsealedEvent};
use custody_core::hlc::Hlc;
use custody_core::protocol::{EnrolResponse, RosterEntry, SyncResponse};
use custody_core::*;
use rust_decimal::Decimal;
use uuid::Uuid;

pub fn facility() -> LicenseNumber {
    LicenseNumber::parse("C11-0000001-LIC").unwrap()
}

pub fn tag(n: u32) -> PackageTag {
    PackageTag::parse(&format!("1A4FF0100000{n:012}")).unwrap()
}

/// A store enrolled offline with one person of `role` (badge "B", PIN "1234"), signed in.
pub fn signed_in_store(path: &Path, role: Role) -> Store {
    let store = Store::open(path).unwrap();
    let salt = argon2::password_hash::SaltString::encode_b64(b"bench-salt-bytes").unwrap();
    let pin_hash = argon2::Argon2::default().hash_password(b"1234", &salt).unwrap().to_string();
    let person = RosterEntry { id: UserId::new(), name: "Bench".into(), role, badge: "B".into(), pin_hash, active: true };
    store
        .save_enrolment(
            "http://127.0.0.1:9",
            &EnrolResponse {
                device_id: DeviceId::new(),
                facility: facility(),
                facility_name: "Bench".into(),
                token: "t".into(),
                roster: vec![person],
                server_time: None,
            },
        )
        .unwrap();
    store.sign_in("B", "1234").unwrap();
    store
}

/// Another device's chain: `packages` receipts into `location`, then `moves_each` rounds of moves.
pub fn remote_events(packages: u32, moves_each: u32, location: &str) -> Vec<Event> {
    let (device, user) = (DeviceId::new(), UserId::new());
    let mut prev = GENESIS_HASH.to_string();
    let mut seq = 0;
    let mut out = Vec::with_capacity((packages * (moves_each + 1)) as usize);
    for round in 0..=moves_each {
        for n in 0..packages {
            seq += 1;
            let body = if round == 0 {
                EventBody::Received {
                    item: ItemName::parse("Live Resin 1g").unwrap(),
                    batch: BatchNumber::parse("LR-2026-11").unwrap(),
                    quantity: Quantity::new(Decimal::new(1_000 + n as i64, 2), Unit::G).unwrap(),
                    location: LocationName::parse(location).unwrap(),
                    expires_on: None,
                    manifest: None,
                }
            } else {
                EventBody::Moved { to: LocationName::parse(&format!("Vault {}", (n + round) % 40)).unwrap() }
            };
            let e = UnsealedEvent {
                id: Uuid::now_v7(),
                facility: facility(),
                tag: tag(n),
                user,
                device,
                device_seq: seq,
                hlc: Hlc { wall_ms: 1_700_000_000_000 + seq as i64, counter: 0 },
                parent: None,
                body,
                prev_hash: prev.clone(),
            }
            .seal();
            prev = e.hash.clone();
            out.push(e);
        }
    }
    out
}

/// Loads events into the store the way a sync pull does.
pub fn pull(store: &Store, events: &[Event]) {
    for chunk in events.chunks(5_000) {
        let response = SyncResponse {
            verdicts: vec![],
            events: chunk.to_vec(),
            cursor: 0,
            has_more: false,
            server_time: Utc::now(),
            roster: store.roster().unwrap(),
            docs: vec![],
            doc_refusals: vec![],
            ..Default::default()
        };
        store.apply_sync(&response, Utc::now()).unwrap();
    }
}

pub fn percentile(sorted: &[std::time::Duration], p: f64) -> std::time::Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}
