//! What proof of who did what costs (docs/decisions/0016):
//!
//!     cargo bench -p custody-core --bench signing
//!
//! 1. Signing one ledger event (Ed25519 over its hash), the step a durable scan gained: p50 / p99
//!    over 10,000. Target (issue 10): the durable scan's p99 grows by at most 0.2 ms.
//! 2. Verifying 10,000 event signatures, what a sync of 10,000 events adds on the server (with
//!    the key decoded each time, and decoded once as the server does; the whole sync is the sync
//!    bench's). Target: at most 1 s.
//! 3. Signing one work-document change's hash (a count scan signs one per scan).
//! 4. An offline sign-in: Argon2id over the PIN and the keystore secret, then opening the key.
//!
//! The durable scan itself, with signing, is the ledger bench's; BENCHMARKS.md puts it beside
//! the same bench at the commit before signing (8cd616c).

use std::time::{Duration, Instant};

use custody_core::event::{GENESIS_HASH, UnsealedEvent};
use custody_core::hlc::Hlc;
use custody_core::signing::{self, SealedKey, SigningKey, change_message, sealed_key_aad};
use custody_core::*;
use uuid::Uuid;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    if std::env::args().all(|a| a != "--bench") {
        println!("signing bench: run with `cargo bench -p custody-core --bench signing`");
        return;
    }
    let key = SigningKey::generate();
    let (device, user) = (DeviceId::new(), UserId::new());
    let events: Vec<Event> = (0..10_000u64)
        .map(|n| {
            UnsealedEvent {
                id: Uuid::now_v7(),
                facility: LicenseNumber::parse("C11-0000001-LIC").unwrap(),
                tag: PackageTag::parse(&format!("1A4FF0100000{n:012}")).unwrap(),
                user,
                device,
                device_seq: n + 1,
                hlc: Hlc { wall_ms: 1_760_000_000_000 + n as i64, counter: 0 },
                parent: None,
                body: EventBody::Moved { to: LocationName::parse("Vault A").unwrap() },
                prev_hash: GENESIS_HASH.into(),
            }
            .seal()
        })
        .collect();

    let mut signed = events.clone();
    let mut times = Vec::with_capacity(signed.len());
    for e in &mut signed {
        let start = Instant::now();
        e.sign(&key);
        times.push(start.elapsed());
    }
    times.sort();
    println!(
        "sign one event: p50 {:?}, p99 {:?}, max {:?} (n={})",
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times[times.len() - 1],
        times.len()
    );

    let public = key.public_key();
    let mut totals = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        for e in &signed {
            e.verify_signature(&public).unwrap();
        }
        totals.push(start.elapsed());
    }
    totals.sort();
    println!("verify 10,000 event signatures, decoding the key each time: median {:?}, worst {:?}", totals[2], totals[4]);

    // The server's way: the key decoded once per person and device (sync-server people::KeyRing).
    let verifier = public.verifier().unwrap();
    let mut totals = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        for e in &signed {
            verifier.verify(&signing::event_message(&e.hash), e.signature.as_ref().unwrap()).unwrap();
        }
        totals.push(start.elapsed());
    }
    totals.sort();
    println!("verify 10,000 event signatures, key decoded once: median {:?}, worst {:?}", totals[2], totals[4]);

    let doc = Uuid::now_v7();
    let mut times = Vec::with_capacity(10_000);
    for e in &events {
        let start = Instant::now();
        std::hint::black_box(key.sign(&change_message(doc, &e.hash)));
        times.push(start.elapsed());
    }
    times.sort();
    println!("sign one document change: p50 {:?}, p99 {:?}", percentile(&times, 0.5), percentile(&times, 0.99));

    let secret = [7u8; 32];
    let aad = sealed_key_aad(user, device, &public);
    let sealed = SealedKey::seal(&key, "2468", &secret, &aad).unwrap();
    let mut times = Vec::new();
    for _ in 0..9 {
        let start = Instant::now();
        sealed.open("2468", &secret, &aad).unwrap();
        times.push(start.elapsed());
    }
    times.sort();
    println!("offline sign-in (Argon2id 19 MiB x2 + open): median {:?}", times[4]);
}
