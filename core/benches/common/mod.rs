//! Setup shared by the core benchmarks: an enrolled store signed in offline, and a ledger of
//! received packages loaded as if pulled from the server.

use std::path::Path;

use chrono::Utc;
use custody_core::event::{GENESIS_HASH, UnsealedEvent};
use custody_core::hlc::Hlc;
use custody_core::protocol::{RegisteredKey, RosterEntry, SyncResponse};
use custody_core::signing::SigningKey;
use custody_core::testing::{enrol_offline, person};
use custody_core::*;
use rust_decimal::Decimal;
use uuid::Uuid;

pub fn facility() -> LicenseNumber {
    LicenseNumber::parse("C11-0000001-LIC").unwrap()
}

pub fn tag(n: u32) -> PackageTag {
    PackageTag::parse(&format!("1A4FF0100000{n:012}")).unwrap()
}

/// The store key every bench store is opened with (a reopened store needs the same key).
pub fn bench_key() -> custody_core::store::StoreKey {
    custody_core::store::StoreKey::from_bytes(&[7; 32]).unwrap()
}

/// A store enrolled offline with one person of `role` (badge "B", PIN "1234", their key
/// registered as an online sign-in would), signed in.
pub fn signed_in_store(path: &Path, role: Role) -> Store {
    let store = Store::open(path, &bench_key()).unwrap();
    enrol_offline(&store, facility().as_str(), &[(person("Bench", role, "B"), "1234")]).unwrap();
    store.sign_in("B", "1234").unwrap();
    store
}

/// The person on another device whose events [`remote_events`] makes, with their key.
fn remote() -> (RosterEntry, DeviceId, SigningKey) {
    let device = DeviceId(Uuid::from_u128(1));
    let key = SigningKey::from_secret(&[9; 32]);
    let mut entry = person("Remote Manager", Role::Manager, "R");
    entry.id = UserId(Uuid::from_u128(2));
    entry.keys.push(RegisteredKey { device, key: key.public_key(), active: true });
    (entry, device, key)
}

/// Another device's chain: `packages` receipts into `location`, then `moves_each` rounds of moves.
pub fn remote_events(packages: u32, moves_each: u32, location: &str) -> Vec<Event> {
    let (entry, device, key) = remote();
    let user = entry.id;
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
                    via: None,
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
            .seal_signed(&key);
            prev = e.hash.clone();
            out.push(e);
        }
    }
    out
}

/// Loads events into the store the way a sync pull does (the roster names their signer).
pub fn pull(store: &Store, events: &[Event]) {
    let mut roster = store.roster().unwrap();
    if !roster.iter().any(|e| e.id == remote().0.id) {
        roster.push(remote().0);
    }
    for chunk in events.chunks(5_000) {
        let response = SyncResponse {
            verdicts: vec![],
            events: chunk.to_vec(),
            cursor: 0,
            has_more: false,
            server_time: Utc::now(),
            roster: roster.clone(),
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
