//! PIN guessing and enrolment-code guessing, tested the way an attacker would try them: a real
//! server on loopback, a floor phone's device token and plain HTTP (docs/decisions/0014).

use std::time::{Duration, Instant};

use custody_core::ids::{DeviceId, UserId};
use custody_core::protocol::{EnrolResponse, ErrorBody, SignInRequest};
use custody_core::roles::Role;
use custody_core::signing::{SigningKey, registration_message};
use reqwest::StatusCode;
use serde_json::{Value, json};

mod common;
use common::{LIC_A, LIC_B, Server, lic};

const MIA_PIN: &str = "4821";
const FINN_PIN: &str = "1357";

/// Facility A: manager Mia, floor staff Finn. Facility B: manager Bo (same PIN as Mia).
struct World {
    server: Server,
    mia: UserId,
}

impl std::ops::Deref for World {
    type Target = Server;
    fn deref(&self) -> &Server {
        &self.server
    }
}

impl World {
    async fn new() -> World {
        let server = Server::start().await;
        let db = server.db();
        let mia = db.add_user(&lic(LIC_A), "Mia", Role::Manager, "BADGE-MIA", MIA_PIN).unwrap();
        db.add_user(&lic(LIC_A), "Finn", Role::FloorStaff, "BADGE-FINN", FINN_PIN).unwrap();
        db.add_user(&lic(LIC_B), "Bo", Role::Manager, "BADGE-BO", MIA_PIN).unwrap();
        World { server, mia }
    }

    /// A new device at facility A; its token, as an attacker holding the phone would read it.
    async fn phone(&self, name: &str) -> String {
        self.server.enrol(LIC_A, name).await.token
    }

    async fn device(&self, name: &str) -> (DeviceId, String) {
        let enrolled = self.server.enrol(LIC_A, name).await;
        (enrolled.device_id, enrolled.token)
    }

    /// Lets time pass for every lock: each ends now (the count stays).
    fn let_locks_expire(&self) {
        let conn = rusqlite::Connection::open(self.db().path()).unwrap();
        conn.execute("UPDATE lockouts SET locked_until = '2000-01-01T00:00:00.000000Z' WHERE locked_until IS NOT NULL", []).unwrap();
    }

    /// `POST /v1/sign-in` with a badge and PIN (and a fresh key to register): the one PIN check
    /// an attacker holding a phone can reach.
    async fn ask_code(&self, token: &str, badge: &str, pin: &str) -> Answer {
        Answer::of(self.sign_in_request(token, badge, pin).send().await.unwrap()).await
    }

    fn sign_in_request(&self, token: &str, badge: &str, pin: &str) -> reqwest::RequestBuilder {
        let device = self.db().authenticate(token).unwrap().id;
        let key = SigningKey::generate();
        let proof = key.sign(&registration_message(device, badge, &key.public_key()));
        let body = SignInRequest { badge: badge.into(), pin: pin.into(), public_key: key.public_key(), proof };
        self.http.post(self.url("/v1/sign-in")).bearer_auth(token).json(&body)
    }

    /// Mia signs in on the device behind `token` and, proven by her signature, issues a code.
    async fn mias_code(&self, token: &str) -> String {
        let device = self.db().authenticate(token).unwrap().id;
        let enrolled = EnrolResponse {
            device_id: device,
            facility: lic(LIC_A),
            facility_name: String::new(),
            token: token.into(),
            roster: vec![],
            server_key: self.db().server_key(),
            server_time: chrono::Utc::now(),
            time_zone: None,
        };
        let key = self.server.sign_in(&enrolled, "BADGE-MIA", MIA_PIN).await;
        let body = b"{}".to_vec();
        let proof = self.server.person_proof(device, self.mia, &key, "/v1/enrolment-codes", &body);
        let resp = self
            .http
            .post(self.url("/v1/enrolment-codes"))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .header("custody-person", proof)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        resp.json::<Value>().await.unwrap()["code"].as_str().unwrap().to_string()
    }

    /// Keys registered for `user` (one per successful sign-in).
    fn keys_of(&self, user: UserId) -> i64 {
        self.count(&format!("SELECT COUNT(*) FROM person_keys WHERE user = '{user}'"))
    }

    async fn enrol_with(&self, code: &str) -> Answer {
        let resp = self.http.post(self.url("/v1/enrol")).json(&json!({"code": code, "device_name": "Handheld"})).send().await.unwrap();
        Answer::of(resp).await
    }
}

/// What came back: status, and for errors the code and message (the whole answer a person sees).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Answer {
    status: StatusCode,
    code: String,
    message: String,
    retry_after: Option<String>,
    body: Value,
}

impl Answer {
    async fn of(resp: reqwest::Response) -> Answer {
        let status = resp.status();
        let retry_after = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
        let body: Value = resp.json().await.unwrap();
        let (code, message) = if status.is_success() {
            (String::new(), String::new())
        } else {
            let error: ErrorBody = serde_json::from_value(body.clone()).expect("errors are ErrorBody");
            (error.error.code, error.error.message)
        };
        Answer { status, code, message, retry_after, body }
    }

    /// The part of the answer that must not tell an unknown badge from a wrong PIN.
    fn seen(&self) -> (StatusCode, &str, &str) {
        (self.status, &self.code, &self.message)
    }
}

/// 100 guesses at once from one fresh device, Mia's right PIN among the late ones: at most five
/// are ever checked; the rest, the right PIN too, are refused unchecked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_parallel_guesses_check_at_most_five() {
    let w = World::new().await;
    let token = w.phone("Found in the car park").await;
    let guess = |pin: String| {
        let request = w.sign_in_request(&token, "BADGE-MIA", &pin);
        async move { Answer::of(request.send().await.unwrap()).await }
    };
    let mut inflight = tokio::task::JoinSet::new();
    for n in 0..99 {
        inflight.spawn(guess(format!("{:04}", 5000 + n)));
    }
    let mut answers = Vec::new();
    // The right PIN goes out while most wrong ones are still in flight.
    for _ in 0..20 {
        answers.push(inflight.join_next().await.unwrap().unwrap());
    }
    inflight.spawn(guess(MIA_PIN.to_string()));
    while let Some(answer) = inflight.join_next().await {
        answers.push(answer.unwrap());
    }

    let count = |status: StatusCode| answers.iter().filter(|a| a.status == status).count();
    assert_eq!(answers.len(), 100);
    assert_eq!(count(StatusCode::OK), 0, "the right PIN was checked while the badge was locked");
    assert!(count(StatusCode::FORBIDDEN) <= 5, "{} guesses were checked", count(StatusCode::FORBIDDEN));
    assert_eq!(count(StatusCode::FORBIDDEN) + count(StatusCode::TOO_MANY_REQUESTS), 100);
    assert_eq!(w.keys_of(w.mia), 0);
    assert!(w.db().pin_checks() <= 5, "{} PINs went through Argon2", w.db().pin_checks());
    // Still locked afterwards, for the right PIN as for any other.
    assert_eq!(w.ask_code(&token, "BADGE-MIA", MIA_PIN).await.status, StatusCode::TOO_MANY_REQUESTS);
}

/// Wrong PINs are written to the database before they are checked: a restart does not forgive.
#[tokio::test]
async fn the_lock_holds_across_a_restart() {
    let mut w = World::new().await;
    let token = w.phone("Handheld").await;
    for pin in ["0000", "1111", "2222", "3333", "4444"] {
        assert_eq!(w.ask_code(&token, "BADGE-MIA", pin).await.status, StatusCode::FORBIDDEN);
    }
    w.server.restart().await;
    let answer = w.ask_code(&token, "BADGE-MIA", MIA_PIN).await;
    assert_eq!((answer.status, answer.code.as_str()), (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"));
    assert_eq!(w.keys_of(w.mia), 0);
}

/// The badge is locked wherever the guesses come from: two devices share one badge's count,
/// and a third device meets the lock too.
#[tokio::test]
async fn two_devices_guessing_one_badge_share_its_count() {
    let w = World::new().await;
    let first = w.phone("Handheld 1").await;
    let second = w.phone("Handheld 2").await;
    let third = w.phone("Office tablet").await;
    for pin in ["0000", "1111", "2222"] {
        assert_eq!(w.ask_code(&first, "BADGE-MIA", pin).await.status, StatusCode::FORBIDDEN);
    }
    for pin in ["3333", "4444"] {
        assert_eq!(w.ask_code(&second, "BADGE-MIA", pin).await.status, StatusCode::FORBIDDEN);
    }
    for token in [&first, &second, &third] {
        let answer = w.ask_code(token, "BADGE-MIA", MIA_PIN).await;
        assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS, "{answer:?}");
        assert!(answer.message.contains("this badge"), "{}", answer.message);
    }
    assert_eq!(w.keys_of(w.mia), 0);
    // Another facility's badge with the same text is another badge.
    let south = w.server.enrol(LIC_B, "South handheld").await.token;
    assert_eq!(w.ask_code(&south, "BADGE-BO", MIA_PIN).await.status, StatusCode::OK);
}

/// An unknown badge gets the very answer a wrong PIN gets, and is counted the same way.
#[tokio::test]
async fn an_unknown_badge_answers_like_a_wrong_pin() {
    let w = World::new().await;
    let token = w.phone("Handheld").await;
    let wrong_pin = w.ask_code(&token, "BADGE-MIA", "0000").await;
    let nobody = w.ask_code(&token, "BADGE-NOBODY", "0000").await;
    assert_eq!(wrong_pin.seen(), nobody.seen());
    assert_eq!(wrong_pin.status, StatusCode::FORBIDDEN);
    assert!(wrong_pin.message.contains("badge or PIN is wrong"), "{}", wrong_pin.message);

    // Four more on the unknown badge lock it, from any device, as for a real one.
    for _ in 0..4 {
        assert_eq!(w.ask_code(&token, "BADGE-NOBODY", "0000").await.seen(), wrong_pin.seen());
    }
    let other = w.phone("Office tablet").await;
    let locked = w.ask_code(&other, "BADGE-NOBODY", "0000").await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.message.contains("this badge"), "{}", locked.message);
}

/// An unknown badge takes about as long as a wrong PIN: both run Argon2. Medians of interleaved
/// samples, with a factor of three to spare; without the dummy hash an unknown badge answers in
/// well under a tenth of the time.
#[tokio::test]
async fn an_unknown_badge_takes_as_long_as_a_wrong_pin() {
    let w = World::new().await;
    let (device, token) = w.device("Handheld").await;
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for round in 0..9 {
        // The device's own count would lock it after ten; an admin clears it between rounds.
        w.db().unlock_device(device).unwrap();
        // Four guesses per badge at most, so no lock gets in the way.
        let badge = format!("BADGE-NOBODY-{round}");
        let started = Instant::now();
        assert_eq!(w.ask_code(&token, &badge, "0000").await.status, StatusCode::FORBIDDEN);
        unknown.push(started.elapsed());
        let started = Instant::now();
        assert_eq!(w.ask_code(&token, "BADGE-MIA", "0000").await.status, StatusCode::FORBIDDEN);
        known.push(started.elapsed());
        w.db().unlock_badge(&lic(LIC_A), "BADGE-MIA").unwrap();
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (known, unknown) = (median(&mut known), median(&mut unknown));
    assert!(unknown * 3 >= known, "unknown badge {unknown:?}, wrong PIN {known:?}");
    // And, whatever the clock says, each of the 18 guesses ran Argon2.
    assert_eq!(w.db().pin_checks(), 18);
}

/// A locked badge says when to try again and that an admin can unlock it; each failure after
/// the lock ends doubles the wait.
#[tokio::test]
async fn a_lock_says_when_to_try_again_and_doubles() {
    let w = World::new().await;
    let token = w.phone("Handheld").await;
    for pin in ["0000", "1111", "2222", "3333", "4444"] {
        assert_eq!(w.ask_code(&token, "BADGE-MIA", pin).await.status, StatusCode::FORBIDDEN);
    }
    let locked = w.ask_code(&token, "BADGE-MIA", MIA_PIN).await;
    assert_eq!((locked.status, locked.code.as_str()), (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"));
    assert!(locked.message.contains("try again in a minute") && locked.message.contains("UTC"), "{}", locked.message);
    assert!(locked.message.contains("ask an admin to unlock it"), "{}", locked.message);
    let retry: i64 = locked.retry_after.as_deref().expect("Retry-After").parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");

    // The minute passes: one more guess is checked, and the next lock is two minutes.
    w.let_locks_expire();
    assert_eq!(w.ask_code(&token, "BADGE-MIA", "5555").await.status, StatusCode::FORBIDDEN);
    let locked = w.ask_code(&token, "BADGE-MIA", MIA_PIN).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.message.contains("try again in 2 minutes"), "{}", locked.message);
    assert_eq!(w.db().pin_checks(), 6);

    // A right PIN after the lock ends clears the badge's count: four typos later (from another
    // device: this one has six failures of its ten) the right PIN still works.
    w.let_locks_expire();
    assert_eq!(w.ask_code(&token, "BADGE-MIA", MIA_PIN).await.status, StatusCode::OK);
    let office = w.phone("Office tablet").await;
    for pin in ["0000", "1111", "2222", "3333"] {
        assert_eq!(w.ask_code(&office, "BADGE-MIA", pin).await.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(w.ask_code(&office, "BADGE-MIA", MIA_PIN).await.status, StatusCode::OK);
}

/// Knowing one badge and PIN does not reset a device's count: someone trying a different badge
/// each time, with their own right PIN in between, is stopped by the device's limit of ten.
#[tokio::test]
async fn a_right_pin_in_between_does_not_reset_the_device() {
    let w = World::new().await;
    let (device, token) = w.device("Handheld").await;
    for round in 0..10 {
        if round > 0 {
            // Finn's own badge and PIN: right (he signs in).
            let finn = w.ask_code(&token, "BADGE-FINN", FINN_PIN).await;
            assert_eq!(finn.status, StatusCode::OK, "round {round}: {finn:?}");
        }
        let guess = w.ask_code(&token, &format!("BADGE-{round}"), "0000").await;
        assert_eq!(guess.status, StatusCode::FORBIDDEN, "{guess:?}");
    }
    let locked = w.ask_code(&token, "BADGE-FINN", FINN_PIN).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.message.contains("from this device"), "{}", locked.message);
    // Mia, from another device, is not affected; an admin unlocks the first one.
    let office = w.phone("Office tablet").await;
    assert_eq!(w.ask_code(&office, "BADGE-MIA", MIA_PIN).await.status, StatusCode::OK);
    let listed = w.db().list_devices(&lic(LIC_A)).unwrap();
    assert!(listed.iter().find(|d| d.id == device).unwrap().locked_until.is_some());
    w.db().unlock_device(device).unwrap();
    assert_eq!(w.ask_code(&token, "BADGE-MIA", MIA_PIN).await.status, StatusCode::OK);
    assert!(w.db().list_devices(&lic(LIC_A)).unwrap().iter().all(|d| d.locked_until.is_none()));
}

/// A deactivated manager's right PIN does nothing; they are told so, and nobody else learns
/// anything: a wrong PIN on their badge answers like any wrong PIN.
#[tokio::test]
async fn a_deactivated_managers_pin_is_refused() {
    let w = World::new().await;
    let token = w.phone("Handheld").await;
    w.db().deactivate_badge(&lic(LIC_A), "BADGE-MIA").unwrap();
    let right = w.ask_code(&token, "BADGE-MIA", MIA_PIN).await;
    assert_eq!((right.status, right.code.as_str()), (StatusCode::FORBIDDEN, "deactivated"));
    assert!(right.message.contains("Mia was deactivated"), "{}", right.message);
    let wrong = w.ask_code(&token, "BADGE-MIA", "0000").await;
    let nobody = w.ask_code(&token, "BADGE-NOBODY", "0000").await;
    assert_eq!(wrong.seen(), nobody.seen());
    assert_eq!(w.keys_of(w.mia), 0);
}

/// Unknown, used and expired codes get one answer: a guesser cannot tell a real code from none.
#[tokio::test]
async fn unknown_used_and_expired_codes_are_answered_alike() {
    let w = World::new().await;
    let used = w.code(LIC_A);
    assert_eq!(w.enrol_with(&used.code).await.status, StatusCode::OK);
    let expired = w.db().issue_enrolment_code(&lic(LIC_A), None, chrono::Duration::milliseconds(1)).unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;

    let unknown = w.enrol_with("0000000000").await;
    assert_eq!((unknown.status, unknown.code.as_str()), (StatusCode::UNAUTHORIZED, "enrolment_code_invalid"));
    assert_eq!(unknown.message, "this enrolment code is not valid, was already used or has expired; ask a manager for a new one");
    assert_eq!(w.enrol_with(&used.code).await.seen(), unknown.seen());
    assert_eq!(w.enrol_with(&expired.code).await.seen(), unknown.seen());
    assert_eq!(w.count("SELECT COUNT(*) FROM devices"), 1);
}

/// A code a manager issued from a phone dies with that phone's revocation, and with the
/// manager's deactivation; codes from the command line are unaffected.
#[tokio::test]
async fn codes_from_a_revoked_device_or_a_deactivated_manager_are_void() {
    let w = World::new().await;
    let (lost, lost_token) = w.device("Lost handheld").await;
    let office = w.phone("Office tablet").await;
    let from_lost = w.mias_code(&lost_token).await;
    let from_office = w.mias_code(&office).await;
    assert_eq!(
        w.count(&format!("SELECT COUNT(*) FROM enrolment_codes WHERE issued_from = '{lost}'")),
        1,
        "the code records the device it came from"
    );
    let from_cli = w.code(LIC_A);

    w.db().revoke_device(lost).unwrap();
    let void = w.enrol_with(&from_lost).await;
    assert_eq!((void.status, void.code.as_str()), (StatusCode::UNAUTHORIZED, "enrolment_code_invalid"));

    w.db().deactivate_badge(&lic(LIC_A), "BADGE-MIA").unwrap();
    assert_eq!(w.enrol_with(&from_office).await.seen(), void.seen());

    assert_eq!(w.enrol_with(&from_cli.code).await.status, StatusCode::OK);
    assert_eq!(w.count("SELECT COUNT(*) FROM devices"), 3);
}

/// Guessing codes from one address is throttled: after ten bad codes even a good one waits
/// (and stays unused); another address is not held up.
#[tokio::test]
async fn enrolment_guessing_is_throttled_per_address() {
    let w = World::new().await;
    for n in 0..10 {
        let guess = w.enrol_with(&format!("{n:010}")).await;
        assert_eq!(guess.status, StatusCode::UNAUTHORIZED, "{guess:?}");
    }
    let good = w.code(LIC_A);
    let locked = w.enrol_with(&good.code).await;
    assert_eq!((locked.status, locked.code.as_str()), (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"));
    assert!(locked.message.contains("from this network") && locked.message.contains("try again in a minute"), "{}", locked.message);
    assert!(locked.retry_after.is_some());
    assert_eq!(w.count("SELECT COUNT(*) FROM enrolment_codes WHERE used_at IS NOT NULL"), 0);
    // Counted under the address the connection came from.
    assert_eq!(w.count("SELECT failures FROM lockouts WHERE kind = 'address' AND key = '127.0.0.1'"), 10);

    // Another address (as the serve loop reports it) enrols with the same code.
    let elsewhere: std::net::IpAddr = "203.0.113.9".parse().unwrap();
    let enrolled = w.db().enrol(&good.code, "Handheld", Some(elsewhere)).unwrap();
    assert_eq!(enrolled.facility, lic(LIC_A));
    // The lock holds across a restart too.
    let mut w = w;
    w.server.restart().await;
    assert_eq!(w.enrol_with(&w.code(LIC_A).code).await.status, StatusCode::TOO_MANY_REQUESTS);
}
