//! Helper process for the crash-durability suite (`tests/tests/crash.rs`): records `Received`
//! events into a device store as fast as it can, forever, and after each `Store::record` returns
//! Ok prints `saved <event-id> <tag>` and flushes. The test kills it with SIGKILL at an arbitrary
//! moment and checks that everything it was told was saved is in the store.
//!
//!     record_until_killed <device-store-path>
//!
//! A fresh store is enrolled offline with a hand-made enrolment and sign-in (no server needed,
//! `custody_core::testing`). A store that is already enrolled (a previous run was killed) is
//! reused: the person signs in again with their PIN, and the new events continue its hash chain,
//! with tags after the ones it already holds.

use std::io::Write;

use custody_core::testing::{enrol_offline, person};
use custody_core::*;
use custody_e2e::{grams, location, tag};

const BADGE: &str = "F-CRASH";
const PIN: &str = "1357";

fn main() {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        eprintln!("usage: record_until_killed <device-store-path>");
        std::process::exit(2);
    });
    let store = Store::open(&path, &custody_e2e::store_key()).expect("open device store");
    if store.identity().expect("read identity").is_none() {
        // Nothing listens at the enrolment's address; this process never syncs.
        enrol_offline(&store, "C11-0000001-LIC", &[(person("Crash Floor", Role::FloorStaff, BADGE), PIN)])
            .expect("enrol and register a key");
    }
    store.sign_in(BADGE, PIN).expect("sign in");

    // Continue after whatever an earlier, killed run left (including an event it committed but
    // never got to report).
    let mut n = store.events().expect("read events").len() as u64;
    let stdout = std::io::stdout();
    loop {
        n += 1;
        let t = tag(n);
        let event = store
            .record(
                &t,
                EventBody::Received {
                    item: ItemName::parse("Live Resin - Blue Dream 1g").expect("item"),
                    batch: BatchNumber::parse("LR-2026-11-A").expect("batch"),
                    quantity: grams(100 + (n % 900) as i64),
                    location: location("Intake"),
                    expires_on: chrono::NaiveDate::from_ymd_opt(2027, 6, 30),
                    manifest: Some("0001234567".into()),
                    via: None,
                },
            )
            .expect("record");
        let mut out = stdout.lock();
        // One short line is one write(2) to the pipe (< PIPE_BUF), so it arrives whole or not at all.
        if writeln!(out, "saved {} {}", event.id, t).and_then(|()| out.flush()).is_err() {
            // The reader went away: nobody is listening for what is saved any more.
            return;
        }
    }
}
