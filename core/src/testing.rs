//! A stand-in for the server's half of enrolment and sign-in, for tests and benchmarks that run
//! a device store without a server: it answers what `/v1/enrol` and `/v1/sign-in` would, with
//! keys made here. Never used by the apps (they always sign a person in through the server the
//! first time on a device).

use chrono::Utc;

use crate::ids::{DeviceId, LicenseNumber};
use crate::protocol::{EnrolResponse, RegisteredKey, RosterEntry, SignInResponse};
use crate::signing::SigningKey;
use crate::store::{Result, Store};

/// The key a test "server" signs its own document changes with.
pub fn server_key() -> SigningKey {
    SigningKey::from_secret(&[42; 32])
}

/// Enrols `store` at `facility` (offline), then registers and seals a signing key on it for each
/// person, as their first online sign-in would, using their PIN. Nobody is signed in afterwards.
/// Returns the roster with everyone's key, which any later roster given to the store must keep.
pub fn enrol_offline(store: &Store, facility: &str, people: &[(RosterEntry, &str)]) -> Result<Vec<RosterEntry>> {
    let device = DeviceId::new();
    let mut roster: Vec<RosterEntry> = people.iter().map(|(entry, _)| entry.clone()).collect();
    store.save_enrolment(
        "http://127.0.0.1:9",
        &EnrolResponse {
            device_id: device,
            facility: LicenseNumber::parse(facility).expect("test facility licence"),
            facility_name: "Test Facility".into(),
            token: "cdt_test".into(),
            roster: roster.clone(),
            server_key: server_key().public_key(),
            server_time: Utc::now(),
        },
    )?;
    for (i, (entry, pin)) in people.iter().enumerate() {
        let key = SigningKey::generate();
        roster[i].keys.push(RegisteredKey { device, key: key.public_key(), active: true });
        let answer = SignInResponse { user: entry.id, roster: roster.clone(), server_key: server_key().public_key(), server_time: Utc::now() };
        store.complete_online_sign_in(pin, key, &answer)?;
    }
    store.sign_out()?;
    Ok(roster)
}

/// A person for a test roster (their keys come from [`enrol_offline`]).
pub fn person(name: &str, role: crate::roles::Role, badge: &str) -> RosterEntry {
    RosterEntry { id: crate::ids::UserId::new(), name: name.into(), role, badge: badge.into(), active: true, keys: Vec::new() }
}
