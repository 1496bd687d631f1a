//! The HTTP API as a device sees it: a real server on loopback, reqwest as the client.

use std::net::{Ipv4Addr, SocketAddr};

use custody_core::event::{Event, EventBody, GENESIS_HASH, UnsealedEvent};
use custody_core::hlc::Hlc;
use custody_core::ids::{DeviceId, LicenseNumber, LocationName, PackageTag, UserId};
use custody_core::protocol::{EnrolResponse, EnrolmentCode, ErrorBody, MAX_EVENTS_PER_SYNC, Outcome, SyncRequest, SyncResponse};
use custody_core::quantity::Quantity;
use custody_core::roles::Role;
use custody_core::signing::SigningKey;
use custody_server::{Config, DB_FILE_NAME, RunningServer};

mod common;
use common::{LIC_A, LIC_B, Server, TAG, lic};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

const MANAGER_PIN: &str = "4821";
const FLOOR_PIN: &str = "1357";

/// Facility A (manager Mia, floor staff Finn) and facility B (manager Bo).
struct World {
    server: Server,
    mia: UserId,
    finn: UserId,
    bo: UserId,
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
        let mia = db.add_user(&lic(LIC_A), "Mia", Role::Manager, "BADGE-MIA", MANAGER_PIN).unwrap();
        let finn = db.add_user(&lic(LIC_A), "Finn", Role::FloorStaff, "BADGE-FINN", FLOOR_PIN).unwrap();
        let bo = db.add_user(&lic(LIC_B), "Bo", Role::Manager, "BADGE-BO", MANAGER_PIN).unwrap();
        World { server, mia, finn, bo }
    }

    async fn post(&self, path: &str, token: Option<&str>, body: &impl serde::Serialize) -> reqwest::Response {
        let mut req = self.http.post(self.url(path)).json(body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.unwrap()
    }

    /// Enrols a device; everyone of its facility signs in on it once, online (so it holds a key
    /// for each of them, as a shared handheld would after a few shifts).
    async fn enrol(&self, facility: &str, name: &str) -> Device {
        let enrolled = self.server.enrol(facility, name).await;
        let mut keys = std::collections::HashMap::new();
        let people: &[(UserId, &str, &str)] = if facility == LIC_A {
            &[(self.mia, "BADGE-MIA", MANAGER_PIN), (self.finn, "BADGE-FINN", FLOOR_PIN)]
        } else {
            &[(self.bo, "BADGE-BO", MANAGER_PIN)]
        };
        for (user, badge, pin) in people {
            keys.insert(*user, std::sync::Arc::new(self.server.sign_in(&enrolled, badge, pin).await));
        }
        let mut device = Device::new(enrolled);
        device.keys = keys;
        device
    }

    /// A POST signed by `user`, signed in on `device` (the `custody-person` header).
    async fn post_as(&self, path: &str, device: &Device, user: UserId, body: &impl serde::Serialize) -> reqwest::Response {
        let bytes = serde_json::to_vec(body).unwrap();
        let proof = self.server.person_proof(device.id, user, &device.keys[&user], path, &bytes);
        self.http
            .post(self.url(path))
            .bearer_auth(&device.token)
            .header("content-type", "application/json")
            .header("custody-person", proof)
            .body(bytes)
            .send()
            .await
            .unwrap()
    }

    async fn sync(&self, device: &Device, cursor: u64, events: Vec<Event>) -> SyncResponse {
        let resp = self.post("/v1/sync", Some(&device.token), &SyncRequest { cursor, events, docs: vec![], ..Default::default() }).await;
        assert_eq!(resp.status(), StatusCode::OK, "{}", resp.text().await.unwrap());
        resp.json().await.unwrap()
    }
}

/// An enrolled device, its hash chain, and the keys of the people signed in on it.
#[derive(Clone)]
struct Device {
    id: DeviceId,
    facility: LicenseNumber,
    token: String,
    seq: u64,
    prev_hash: String,
    keys: std::collections::HashMap<UserId, std::sync::Arc<SigningKey>>,
}

impl Device {
    fn new(enrolled: EnrolResponse) -> Device {
        Device {
            id: enrolled.device_id,
            facility: enrolled.facility,
            token: enrolled.token,
            seq: 0,
            prev_hash: GENESIS_HASH.into(),
            keys: Default::default(),
        }
    }

    /// The next event of this device's chain.
    fn record(&mut self, user: UserId, body: EventBody) -> Event {
        let facility = self.facility.clone();
        self.record_for(facility, user, body)
    }

    /// The next event of this device's chain, signed with exactly `key` (or not at all).
    fn record_signed(&mut self, user: UserId, body: EventBody, key: Option<&SigningKey>) -> Event {
        let keys = std::mem::take(&mut self.keys);
        let mut event = self.record(user, body);
        self.keys = keys;
        event.signature = None;
        if let Some(key) = key {
            event.sign(key);
        }
        event
    }

    fn record_for(&mut self, facility: LicenseNumber, user: UserId, body: EventBody) -> Event {
        self.seq += 1;
        let event = UnsealedEvent {
            id: Uuid::now_v7(),
            facility,
            tag: PackageTag::parse(TAG).unwrap(),
            user,
            device: self.id,
            device_seq: self.seq,
            hlc: Hlc { wall_ms: chrono::Utc::now().timestamp_millis(), counter: self.seq as u32 },
            parent: None,
            body,
            prev_hash: self.prev_hash.clone(),
        }
        .seal();
        // Signed by the person when they are signed in on this device; unsigned otherwise.
        let mut event = event;
        if let Some(key) = self.keys.get(&user) {
            event.sign(key);
        }
        self.prev_hash = event.hash.clone();
        event
    }
}

fn moved(to: &str) -> EventBody {
    EventBody::Moved { to: LocationName::parse(to).unwrap() }
}

fn adjusted() -> EventBody {
    EventBody::Adjusted { request: None, delta: Quantity::parse("-1.5 g").unwrap(), reason: "Drying".into(), note: "moisture loss".into() }
}

async fn error_of(resp: reqwest::Response) -> (StatusCode, String, String) {
    let status = resp.status();
    let body: ErrorBody = resp.json().await.expect("error bodies are JSON ErrorBody");
    (status, body.error.code, body.error.message)
}

fn rejected_reason(outcome: &Outcome) -> &str {
    match outcome {
        Outcome::Rejected { reason } => reason,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[tokio::test]
async fn health_reports_ok() {
    let w = World::new().await;
    let body: Value = w.http.get(w.url("/v1/health")).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn enrolment_code_works_once() {
    let w = World::new().await;
    let code = w.code(LIC_A);
    let body = json!({"code": code.code, "device_name": "Vault handheld 1"});

    let resp = w.post("/v1/enrol", None, &body).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let enrolled: EnrolResponse = resp.json().await.unwrap();
    assert_eq!(enrolled.facility, lic(LIC_A));
    assert_eq!(enrolled.facility_name, "North Vault");
    assert!(enrolled.token.starts_with("cdt_") && enrolled.token.len() == 68);
    let names: Vec<_> = enrolled.roster.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["Finn", "Mia"], "only facility A's people");
    assert!(enrolled.roster.iter().all(|u| u.active && u.keys.is_empty()), "no PIN hash, no key yet");
    let json = serde_json::to_string(&enrolled).unwrap();
    assert!(!json.contains("argon2") && !json.contains("pin"), "nothing a PIN could be checked against: {json}");

    let (status, code_name, message) = error_of(w.post("/v1/enrol", None, &body).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(code_name, "enrolment_code_invalid");
    assert!(message.contains("ask a manager for a new one"), "{message}");

    let (status, code_name, _) = error_of(w.post("/v1/enrol", None, &json!({"code": "0000000000", "device_name": "x"})).await).await;
    assert_eq!((status, code_name.as_str()), (StatusCode::UNAUTHORIZED, "enrolment_code_invalid"));
    assert_eq!(w.count("SELECT COUNT(*) FROM devices"), 1);
}

#[tokio::test]
async fn token_and_code_are_not_stored_in_clear() {
    let w = World::new().await;
    let code = w.code(LIC_A);
    let resp = w.post("/v1/enrol", None, &json!({"code": code.code, "device_name": "Handheld"})).await;
    let token = resp.json::<EnrolResponse>().await.unwrap().token;

    let conn = rusqlite::Connection::open(w.db().path()).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(tables.iter().any(|t| t == "devices"));
    let mut cells = 0;
    for table in &tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..columns {
                if let Ok(Some(text)) = row.get::<_, Option<String>>(i) {
                    cells += 1;
                    assert!(!text.contains(&token[4..]), "token stored in clear in {table}");
                    assert!(!text.contains(&code.code), "enrolment code stored in clear in {table}");
                }
            }
        }
    }
    assert!(cells > 10, "the scan read the tables");
    // Also the raw bytes, WAL included.
    for suffix in ["", "-wal"] {
        let path = format!("{}{suffix}", w.db().path().display());
        if let Ok(bytes) = std::fs::read(&path) {
            let haystack = String::from_utf8_lossy(&bytes);
            assert!(!haystack.contains(&token[4..]), "token in clear in {path}");
        }
    }
}

#[tokio::test]
async fn unknown_or_missing_token_is_unauthorized() {
    let w = World::new().await;
    let req = SyncRequest { cursor: 0, events: vec![], docs: vec![], ..Default::default() };
    let fake = format!("cdt_{}", "ab".repeat(32));
    let (status, code, message) = error_of(w.post("/v1/sync", Some(&fake), &req).await).await;
    assert_eq!((status, code.as_str()), (StatusCode::UNAUTHORIZED, "unauthorized"));
    assert!(message.contains("enrol"), "{message}");
    let (status, code, _) = error_of(w.post("/v1/sync", None, &req).await).await;
    assert_eq!((status, code.as_str()), (StatusCode::UNAUTHORIZED, "unauthorized"));
}

#[tokio::test]
async fn revoked_device_is_told_to_enrol_again() {
    let w = World::new().await;
    let manager_phone = w.enrol(LIC_A, "Manager phone").await;
    let lost = w.enrol(LIC_A, "Lost handheld").await;
    let other_site = w.enrol(LIC_B, "South handheld").await;
    let path = format!("/v1/devices/{}/revoke", lost.id);

    // A manager of another facility cannot even see the device.
    let (status, code, _) = error_of(w.post_as(&path, &other_site, w.bo, &json!({})).await).await;
    assert_eq!((status, code.as_str()), (StatusCode::NOT_FOUND, "not_found"));
    // Floor staff may not revoke, and nobody may without proving who they are.
    let (status, _, message) = error_of(w.post_as(&path, &manager_phone, w.finn, &json!({})).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(message.contains("only a manager"), "{message}");
    let (status, _, message) = error_of(w.post(&path, Some(&manager_phone.token), &json!({})).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(message.contains("sign in on this device as a manager"), "{message}");
    let still_ok = w.sync(&lost, 0, vec![]).await;
    assert!(still_ok.verdicts.is_empty());

    let resp = w.post_as(&path, &manager_phone, w.mia, &json!({})).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);

    let req = SyncRequest { cursor: 0, events: vec![], docs: vec![], ..Default::default() };
    let (status, code, message) = error_of(w.post("/v1/sync", Some(&lost.token), &req).await).await;
    assert_eq!((status, code.as_str()), (StatusCode::UNAUTHORIZED, "device_revoked"));
    assert!(message.contains("revoked") && message.contains("enrolled again"), "{message}");
    // Every key registered on the lost device is revoked with it.
    assert_eq!(w.count(&format!("SELECT COUNT(*) FROM person_keys WHERE device = '{}' AND revoked_at IS NULL", lost.id)), 0);
    // The manager's own device still works.
    w.sync(&manager_phone, 0, vec![]).await;

    // Revoked from the CLI path too.
    w.db().revoke_device(manager_phone.id).unwrap();
    let (_, code, _) = error_of(w.post("/v1/sync", Some(&manager_phone.token), &req).await).await;
    assert_eq!(code, "device_revoked");
    let listed = w.db().list_devices(&lic(LIC_A)).unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|d| d.revoked_at.is_some() && d.last_seen.is_some()));
}

#[tokio::test]
async fn only_a_manager_proven_by_their_signature_issues_codes() {
    let w = World::new().await;
    let phone = w.enrol(LIC_A, "Shared handheld").await;

    let (status, code, message) = error_of(w.post_as("/v1/enrolment-codes", &phone, w.finn, &json!({})).await).await;
    assert_eq!((status, code.as_str()), (StatusCode::FORBIDDEN, "forbidden"));
    assert!(message.contains("only a manager"), "{message}");

    // A claim without a signature, or signed with someone else's key, proves nothing.
    let (status, _, message) = error_of(w.post("/v1/enrolment-codes", Some(&phone.token), &json!({})).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(message.contains("sign in on this device as a manager"), "{message}");
    let mut forged = phone.clone();
    forged.keys.insert(w.mia, forged.keys[&w.finn].clone());
    let (status, code, message) = error_of(w.post_as("/v1/enrolment-codes", &forged, w.mia, &json!({})).await).await;
    assert_eq!((status, code.as_str()), (StatusCode::UNAUTHORIZED, "person_not_proven"));
    assert!(message.contains("not signed by Mia's key on this device"), "{message}");
    // Mia's key from another device does not work here either.
    let other = w.enrol(LIC_A, "Office tablet").await;
    let mut moved_key = phone.clone();
    moved_key.keys.insert(w.mia, other.keys[&w.mia].clone());
    let (status, _, _) = error_of(w.post_as("/v1/enrolment-codes", &moved_key, w.mia, &json!({})).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let resp = w.post_as("/v1/enrolment-codes", &phone, w.mia, &json!({})).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let issued: EnrolmentCode = resp.json().await.unwrap();
    assert_eq!(issued.code.len(), 10);
    assert!(issued.expires_at > chrono::Utc::now() + chrono::Duration::hours(23));
    let resp = w.post("/v1/enrol", None, &json!({"code": issued.code, "device_name": "New handheld"})).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.json::<EnrolResponse>().await.unwrap().facility, lic(LIC_A));
    assert_eq!(
        w.count(&format!("SELECT COUNT(*) FROM enrolment_codes WHERE issued_by = '{}'", w.mia)),
        1,
        "the code records who issued it"
    );
}

#[tokio::test]
async fn a_signed_request_cannot_be_replayed_moved_or_kept_for_later() {
    let w = World::new().await;
    let phone = w.enrol(LIC_A, "Shared handheld").await;
    let body = serde_json::to_vec(&json!({})).unwrap();
    let proof = w.server.person_proof(phone.id, w.mia, &phone.keys[&w.mia], "/v1/enrolment-codes", &body);
    let send = |path: &'static str, proof: String, body: Vec<u8>| {
        let req = w
            .http
            .post(w.url(path))
            .bearer_auth(&phone.token)
            .header("content-type", "application/json")
            .header("custody-person", proof)
            .body(body);
        async move { req.send().await.unwrap() }
    };
    assert_eq!(send("/v1/enrolment-codes", proof.clone(), body.clone()).await.status(), StatusCode::OK);
    // The same proof again (a captured request replayed): refused, no second code.
    let (status, code, _) = error_of(send("/v1/enrolment-codes", proof.clone(), body.clone()).await).await;
    assert_eq!((status, code.as_str()), (StatusCode::CONFLICT, "replayed"));
    // The proof moved to another call or another body does not verify.
    let revoke = format!("/v1/devices/{}/revoke", phone.id);
    let moved = w
        .http
        .post(w.url(&revoke))
        .bearer_auth(&phone.token)
        .header("content-type", "application/json")
        .header("custody-person", proof.clone())
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), StatusCode::UNAUTHORIZED);
    let (status, _, _) = error_of(send("/v1/enrolment-codes", proof, br#"{ }"#.to_vec()).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A proof signed ten minutes ago (or ahead) is stale.
    let stale_at = chrono::Utc::now().timestamp_millis() - 10 * 60 * 1000;
    let signature =
        phone.keys[&w.mia].sign(&custody_core::signing::request_message("POST", "/v1/enrolment-codes", phone.id, w.mia, stale_at, &body));
    let stale = custody_core::protocol::PersonProof { user: w.mia, at_ms: stale_at, signature }.header_value();
    let (status, _, message) = error_of(send("/v1/enrolment-codes", stale, body.clone()).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(message.contains("minutes away from the server's time"), "{message}");
    assert_eq!(w.count("SELECT COUNT(*) FROM enrolment_codes WHERE issued_by IS NOT NULL"), 1);
}

#[tokio::test]
async fn guessing_a_pin_at_sign_in_is_stopped() {
    let w = World::new().await;
    let phone = w.enrol(LIC_A, "Found in the car park").await;
    let attempt = |token: &str, pin: &'static str| {
        let device = w.db().authenticate(token).unwrap().id;
        let key = SigningKey::generate();
        let proof = key.sign(&custody_core::signing::registration_message(device, "BADGE-MIA", &key.public_key()));
        let body =
            custody_core::protocol::SignInRequest { badge: "BADGE-MIA".into(), pin: pin.into(), public_key: key.public_key(), proof };
        let req = w.http.post(w.url("/v1/sign-in")).bearer_auth(token).json(&body);
        async move { req.send().await.unwrap() }
    };
    for pin in ["0000", "1111", "2222", "3333", "4444"] {
        assert_eq!(attempt(&phone.token, pin).await.status(), StatusCode::FORBIDDEN);
    }
    // Even the right PIN is refused now, from this device or any other (docs/decisions/0014).
    let (status, code, message) = error_of(attempt(&phone.token, MANAGER_PIN).await).await;
    assert_eq!((status, code.as_str()), (StatusCode::TOO_MANY_REQUESTS, "too_many_attempts"));
    assert!(message.contains("try again in a minute") && message.contains("ask an admin"), "{message}");
    let other = w.server.enrol(LIC_A, "Office tablet").await;
    assert_eq!(attempt(&other.token, MANAGER_PIN).await.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        w.count("SELECT COUNT(*) FROM person_keys WHERE revoked_at IS NULL AND user IN (SELECT id FROM users WHERE badge = 'BADGE-MIA')"),
        1,
        "no new key for Mia"
    );
    // An admin unlocks the badge; the right PIN works again.
    w.db().unlock_badge(&lic(LIC_A), "BADGE-MIA").unwrap();
    assert_eq!(attempt(&other.token, MANAGER_PIN).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn bad_requests_get_json_errors() {
    let w = World::new().await;
    let phone = w.enrol(LIC_A, "Handheld").await;

    let resp = w
        .http
        .post(w.url("/v1/sync"))
        .bearer_auth(&phone.token)
        .header("content-type", "text/plain")
        .body(r#"{"cursor":0,"events":[]}"#)
        .send()
        .await
        .unwrap();
    let (status, code, message) = error_of(resp).await;
    assert_eq!((status, code.as_str()), (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"));
    assert!(message.contains("Content-Type: application/json"));

    let resp = w
        .http
        .post(w.url("/v1/sync"))
        .bearer_auth(&phone.token)
        .header("content-type", "application/json")
        .body(r#"{"cursor":0,"events":["#)
        .send()
        .await
        .unwrap();
    let (status, code, message) = error_of(resp).await;
    assert_eq!((status, code.as_str()), (StatusCode::BAD_REQUEST, "malformed_json"));
    assert!(message.contains("line 1 column"), "{message}");

    // A mistyped tag is refused by the type's own parser, with its reason.
    let mut event = serde_json::to_value(phone_event(&phone, w.finn)).unwrap();
    event["tag"] = json!("1A4X");
    let resp = w.post("/v1/sync", Some(&phone.token), &json!({"cursor": 0, "events": [event]})).await;
    let (status, code, message) = error_of(resp).await;
    assert_eq!((status, code.as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"));
    assert!(message.contains("has 4 characters; a Metrc tag has exactly 24"), "{message}");

    let (status, code, _) = error_of(w.http.get(w.url("/v1/nope")).send().await.unwrap()).await;
    assert_eq!((status, code.as_str()), (StatusCode::NOT_FOUND, "not_found"));
    let (status, code, _) = error_of(w.http.get(w.url("/v1/sync")).send().await.unwrap()).await;
    assert_eq!((status, code.as_str()), (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"));
    assert_eq!(w.count("SELECT COUNT(*) FROM events") + w.count("SELECT COUNT(*) FROM rejected_events"), 0);
}

/// The device's next event, without advancing its chain.
fn phone_event(device: &Device, user: UserId) -> Event {
    device.clone().record(user, moved("Vault A"))
}

#[tokio::test]
async fn oversized_body_is_refused_with_413() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path());
    config.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    config.sync_body_limit = 1024;
    let server = RunningServer::start_with(config).await.unwrap();
    let db = &server.db;
    db.create_facility(&lic(LIC_A), "North Vault", custody_core::state_json::Tz::America__Los_Angeles).unwrap();
    let code = db.issue_enrolment_code(&lic(LIC_A), None, chrono::Duration::hours(1)).unwrap();
    let http = common::http_client();
    let enrolled: EnrolResponse = http
        .post(format!("{}/v1/enrol", server.url()))
        .json(&json!({"code": code.code, "device_name": "Handheld"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let padding = "x".repeat(4096);
    let resp = http
        .post(format!("{}/v1/sync", server.url()))
        .bearer_auth(&enrolled.token)
        .json(&json!({"cursor": 0, "events": [], "padding": padding}))
        .send()
        .await
        .unwrap();
    let (status, code, _) = error_of(resp).await;
    assert_eq!((status, code.as_str()), (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"));
    server.stop().await;
}

#[tokio::test]
async fn pushed_events_are_accepted_once() {
    let w = World::new().await;
    let mut phone = w.enrol(LIC_A, "Handheld").await;
    let batch = vec![phone.record(w.finn, moved("Vault A")), phone.record(w.mia, adjusted())];

    let first = w.sync(&phone, 0, batch.clone()).await;
    assert_eq!(first.verdicts.len(), 2);
    assert!(first.verdicts.iter().zip(&batch).all(|(v, e)| v.id == e.id && v.outcome == Outcome::Accepted));
    assert!(first.events.is_empty(), "a device does not pull its own events back");
    assert_eq!(first.roster.len(), 2);

    // The connection dropped before the answer arrived: the device sends the same batch again.
    let again = w.sync(&phone, 0, batch.clone()).await;
    assert!(again.verdicts.iter().all(|v| v.outcome == Outcome::Accepted));
    assert_eq!(w.count("SELECT COUNT(*) FROM events"), 2);
    assert_eq!(w.count("SELECT COUNT(*) FROM rejected_events"), 0);

    // And the chain goes on from there.
    let next = phone.record(w.finn, moved("Vault B"));
    let third = w.sync(&phone, first.cursor, vec![next]).await;
    assert_eq!(third.verdicts[0].outcome, Outcome::Accepted);
    assert_eq!(w.count("SELECT COUNT(*) FROM events"), 3);
}

#[tokio::test]
async fn an_invalid_event_refuses_the_whole_sync() {
    let w = World::new().await;
    let mut phone = w.enrol(LIC_A, "Handheld").await;
    let good = phone.record(w.finn, moved("Vault A"));
    let mut tampered = phone.record(w.finn, moved("Vault B"));
    tampered.body = moved("Back door");
    let resp = w
        .post(
            "/v1/sync",
            Some(&phone.token),
            &SyncRequest { cursor: 0, events: vec![good, tampered.clone()], docs: vec![], ..Default::default() },
        )
        .await;
    let (status, code, message) = error_of(resp).await;
    assert_eq!((status, code.as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_event"));
    assert!(message.contains(&tampered.id.to_string()) && message.contains("altered"), "{message}");
    assert_eq!(w.count("SELECT COUNT(*) FROM events") + w.count("SELECT COUNT(*) FROM rejected_events"), 0);

    let mut zero = Device { seq: 0, prev_hash: GENESIS_HASH.into(), ..phone.clone() };
    let zero_adjust = zero.record(
        w.mia,
        EventBody::Adjusted { request: None, delta: Quantity::parse("0 g").unwrap(), reason: "Count".into(), note: "n".into() },
    );
    let (status, code, message) = error_of(
        w.post("/v1/sync", Some(&phone.token), &SyncRequest { cursor: 0, events: vec![zero_adjust], docs: vec![], ..Default::default() })
            .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_event"));
    assert!(message.contains("zero"), "{message}");
}

#[tokio::test]
async fn floor_staff_adjustment_is_rejected_and_kept() {
    let w = World::new().await;
    let mut phone = w.enrol(LIC_A, "Handheld").await;
    let adjustment = phone.record(w.finn, adjusted());
    let resp = w.sync(&phone, 0, vec![adjustment.clone()]).await;
    let reason = rejected_reason(&resp.verdicts[0].outcome);
    assert!(reason.contains("floor staff may not record an adjustment"), "{reason}");

    let conn = rusqlite::Connection::open(w.db().path()).unwrap();
    let (json, stored_reason, facility, device): (String, String, String, String) = conn
        .query_row("SELECT json, reason, facility, device FROM rejected_events WHERE id = ?1", [adjustment.id.to_string()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .unwrap();
    assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), adjustment);
    assert_eq!(stored_reason, reason);
    assert_eq!((facility.as_str(), device), (LIC_A, phone.id.to_string()));
    assert_eq!(w.count("SELECT COUNT(*) FROM events"), 0);

    // Sent again: the same verdict, not a second row.
    let again = w.sync(&phone, 0, vec![adjustment]).await;
    assert_eq!(rejected_reason(&again.verdicts[0].outcome), reason);
    assert_eq!(w.count("SELECT COUNT(*) FROM rejected_events"), 1);

    // The rejected event is still a link of the device's chain: the next one builds on it.
    let next = phone.record(w.finn, moved("Vault A"));
    assert_eq!(w.sync(&phone, 0, vec![next]).await.verdicts[0].outcome, Outcome::Accepted);

    // A deactivated person cannot record any more.
    w.db().deactivate_user(w.finn).unwrap();
    let after = phone.record(w.finn, moved("Vault B"));
    let resp = w.sync(&phone, 0, vec![after]).await;
    assert!(rejected_reason(&resp.verdicts[0].outcome).contains("Finn was deactivated"));
    assert!(resp.roster.iter().any(|u| u.id == w.finn && !u.active), "the roster tells devices too");
}

fn receipt(via: Option<custody_core::event::ReceivedVia>) -> EventBody {
    EventBody::Received {
        item: custody_core::ids::ItemName::parse("Flower 3.5g").unwrap(),
        batch: custody_core::ids::BatchNumber::parse("B-1").unwrap(),
        quantity: Quantity::parse("10 g").unwrap(),
        location: LocationName::parse("Intake").unwrap(),
        expires_on: None,
        manifest: None,
        via,
    }
}

/// A package enters stock only with its proof (decision 0010): a bare receipt and a floor
/// worker's opening balance are refused with the reason and kept; a receipt naming a receiving
/// session waits while nobody signed in can send the session; a manager's opening balance goes in.
#[tokio::test]
async fn a_receipt_is_accepted_only_with_its_proof() {
    use custody_core::event::ReceivedVia;
    let w = World::new().await;
    let mut phone = w.enrol(LIC_A, "Handheld").await;
    let bare = phone.record(w.finn, receipt(None));
    let resp = w.sync(&phone, 0, vec![bare]).await;
    let reason = rejected_reason(&resp.verdicts[0].outcome);
    assert!(
        reason.contains("a package enters stock only through receiving against its manifest, a split, or a manager's opening balance"),
        "{reason}"
    );
    let floor = phone.record(w.finn, receipt(Some(ReceivedVia::OpeningBalance)));
    let resp = w.sync(&phone, 0, vec![floor]).await;
    let reason = rejected_reason(&resp.verdicts[0].outcome);
    assert!(reason.contains("only a manager may record an opening balance (floor staff is not a manager)"), "{reason}");
    assert_eq!(w.count("SELECT COUNT(*) FROM events"), 0);
    assert_eq!(w.count("SELECT COUNT(*) FROM rejected_events"), 2);

    let session = phone.record(w.finn, receipt(Some(ReceivedVia::Receiving { session: Uuid::now_v7() })));
    let resp = w.sync(&phone, 0, vec![session.clone()]).await;
    assert!(
        matches!(&resp.verdicts[0].outcome, Outcome::Deferred { reason } if reason.contains("waiting for receiving session")),
        "{:?}",
        resp.verdicts
    );
    assert_eq!(w.count("SELECT COUNT(*) FROM rejected_events"), 2, "a deferred receipt is not judged yet");

    let mut office = w.enrol(LIC_A, "Office").await;
    let opening = office.record(w.mia, receipt(Some(ReceivedVia::OpeningBalance)));
    assert_eq!(w.sync(&office, 0, vec![opening]).await.verdicts[0].outcome, Outcome::Accepted);
    assert_eq!(w.count("SELECT COUNT(*) FROM events"), 1);
}

#[tokio::test]
async fn a_broken_chain_is_rejected() {
    let w = World::new().await;
    let mut phone = w.enrol(LIC_A, "Handheld").await;
    let first = phone.record(w.finn, moved("Vault A"));
    assert_eq!(w.sync(&phone, 0, vec![first]).await.verdicts[0].outcome, Outcome::Accepted);

    // Event 2 went missing: event 3 arrives next.
    let _lost = phone.record(w.finn, moved("Vault B"));
    let third = phone.record(w.finn, moved("Vault C"));
    let resp = w.sync(&phone, 0, vec![third]).await;
    let reason = rejected_reason(&resp.verdicts[0].outcome);
    assert!(reason.contains("hash chain broken at event 3"), "{reason}");

    // Right number, wrong link: a forged history.
    let mut forged = Device { seq: 1, prev_hash: "ab".repeat(32), ..phone.clone() };
    let forged_event = forged.record(w.finn, moved("Vault D"));
    let resp = w.sync(&phone, 0, vec![forged_event]).await;
    let reason = rejected_reason(&resp.verdicts[0].outcome);
    assert!(reason.contains("hash chain broken at event 2"), "{reason}");

    // A first event that does not start from genesis.
    let mut fresh = w.enrol(LIC_A, "Second handheld").await;
    fresh.prev_hash = "cd".repeat(32);
    let bad_start = fresh.record(w.finn, moved("Vault A"));
    let reason = w.sync(&fresh, 0, vec![bad_start]).await.verdicts[0].outcome.clone();
    assert!(rejected_reason(&reason).contains("genesis"), "{reason:?}");
    assert_eq!(w.count("SELECT COUNT(*) FROM events"), 1);
}

#[tokio::test]
async fn a_second_device_pulls_accepted_events_only() {
    let w = World::new().await;
    let mut vault = w.enrol(LIC_A, "Vault handheld").await;
    let dock = w.enrol(LIC_A, "Dock handheld").await;
    let e1 = vault.record(w.finn, moved("Vault A"));
    let refused = vault.record(w.finn, adjusted());
    let e3 = vault.record(w.mia, adjusted());
    let pushed = w.sync(&vault, 0, vec![e1.clone(), refused.clone(), e3.clone()]).await;
    assert_eq!(pushed.verdicts.iter().filter(|v| v.outcome == Outcome::Accepted).count(), 2);

    let pulled = w.sync(&dock, 0, vec![]).await;
    assert_eq!(pulled.events, vec![e1, e3]);
    assert!(!pulled.has_more);
    assert!(pulled.cursor > 0);

    // Nothing new: the same cursor comes back and no events.
    let again = w.sync(&dock, pulled.cursor, vec![]).await;
    assert!(again.events.is_empty());
    assert_eq!(again.cursor, pulled.cursor);

    // The vault's own cursor moves past its own events without returning them.
    let own = w.sync(&vault, 0, vec![]).await;
    assert!(own.events.is_empty());
    assert_eq!(own.cursor, pulled.cursor);
}

#[tokio::test]
async fn a_large_backlog_comes_in_pages() {
    let w = World::new().await;
    let mut vault = w.enrol(LIC_A, "Vault handheld").await;
    let dock = w.enrol(LIC_A, "Dock handheld").await;
    let total = MAX_EVENTS_PER_SYNC + 3;
    let events: Vec<Event> = (0..total).map(|_| vault.record(w.finn, moved("Vault A"))).collect();
    w.sync(&vault, 0, events[..MAX_EVENTS_PER_SYNC].to_vec()).await;
    w.sync(&vault, 0, events[MAX_EVENTS_PER_SYNC..].to_vec()).await;

    let page1 = w.sync(&dock, 0, vec![]).await;
    assert_eq!(page1.events.len(), MAX_EVENTS_PER_SYNC);
    assert!(page1.has_more);
    let page2 = w.sync(&dock, page1.cursor, vec![]).await;
    assert!(!page2.has_more);
    let mut all = page1.events;
    all.extend(page2.events);
    assert_eq!(all, events, "every event once, in order");
}

#[tokio::test]
async fn facilities_are_isolated() {
    let w = World::new().await;
    let mut north = w.enrol(LIC_A, "North handheld").await;
    let mut south = w.enrol(LIC_B, "South handheld").await;

    // A device of A pushes an event claiming facility B.
    let intruder = north.record_for(lic(LIC_B), w.bo, moved("Vault A"));
    let resp = w.sync(&north, 0, vec![intruder]).await;
    let reason = rejected_reason(&resp.verdicts[0].outcome);
    assert!(reason.contains(&format!("belongs to licence {LIC_B} but the device is enrolled at {LIC_A}")), "{reason}");

    // A user of B on an event of A is not on A's roster.
    let stranger = north.record(w.bo, moved("Vault A"));
    let reason = w.sync(&north, 0, vec![stranger]).await.verdicts[0].outcome.clone();
    assert!(rejected_reason(&reason).contains("not on the roster"), "{reason:?}");

    let north_event = north.record(w.mia, moved("Vault B"));
    assert_eq!(w.sync(&north, 0, vec![north_event.clone()]).await.verdicts[0].outcome, Outcome::Accepted);
    let south_event = south.record(w.bo, moved("Bay 1"));
    let south_view = w.sync(&south, 0, vec![south_event.clone()]).await;
    assert_eq!(south_view.verdicts[0].outcome, Outcome::Accepted);
    assert!(south_view.events.is_empty(), "B's device never sees A's events");
    assert!(south_view.roster.iter().all(|u| u.id == w.bo));

    let other_north = w.enrol(LIC_A, "North desk").await;
    let north_view = w.sync(&other_north, 0, vec![]).await;
    assert_eq!(north_view.events, vec![north_event]);

    // A device sending another device's event is refused, even within its facility.
    let mut impostor = other_north.clone();
    impostor.token = north.token.clone();
    let forged = impostor.record(w.mia, moved("Vault C"));
    let resp = w.sync(&impostor, 0, vec![forged]).await;
    let reason = rejected_reason(&resp.verdicts[0].outcome);
    assert!(reason.contains("a device may only send its own events"), "{reason}");
    assert_eq!(w.count(&format!("SELECT COUNT(*) FROM events WHERE facility = '{LIC_B}'")), 1);
}

#[tokio::test]
async fn a_restart_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let server = RunningServer::start(dir.path()).await;
    server.db.create_facility(&lic(LIC_A), "North Vault", custody_core::state_json::Tz::America__Los_Angeles).unwrap();
    let finn = server.db.add_user(&lic(LIC_A), "Finn", Role::FloorStaff, "B-FINN", FLOOR_PIN).unwrap();
    let http = common::http_client();
    let mut devices = Vec::new();
    for name in ["Vault", "Dock"] {
        let code = server.db.issue_enrolment_code(&lic(LIC_A), None, chrono::Duration::hours(1)).unwrap();
        let enrolled: EnrolResponse = http
            .post(format!("{}/v1/enrol", server.url()))
            .json(&json!({"code": code.code, "device_name": name}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        devices.push(Device::new(enrolled));
    }
    let mut vault = devices.remove(0);
    let dock = devices.remove(0);
    // Finn signs in on the vault handheld (his key registered there).
    let key = SigningKey::generate();
    let proof = key.sign(&custody_core::signing::registration_message(vault.id, "B-FINN", &key.public_key()));
    let signed_in = http
        .post(format!("{}/v1/sign-in", server.url()))
        .bearer_auth(&vault.token)
        .json(&custody_core::protocol::SignInRequest { badge: "B-FINN".into(), pin: FLOOR_PIN.into(), public_key: key.public_key(), proof })
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::OK);
    vault.keys.insert(finn, std::sync::Arc::new(key));
    let batch: Vec<Event> = (0..5).map(|i| vault.record(finn, moved(&format!("Shelf {i}")))).collect();
    let sync = |url: String, token: String, events: Vec<Event>| {
        let http = http.clone();
        async move {
            let resp = http
                .post(format!("{url}/v1/sync"))
                .bearer_auth(token)
                .json(&SyncRequest { cursor: 0, events, docs: vec![], ..Default::default() })
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            resp.json::<SyncResponse>().await.unwrap()
        }
    };
    let acked = sync(server.url(), vault.token.clone(), batch.clone()).await;
    assert!(acked.verdicts.iter().all(|v| v.outcome == Outcome::Accepted));
    let old_addr = server.addr;
    server.stop().await;
    assert!(http.get(format!("http://{old_addr}/v1/health")).send().await.is_err(), "stopped means stopped");

    let server = RunningServer::start(dir.path()).await;
    // Tokens, events and the chain all survived.
    let pulled = sync(server.url(), dock.token.clone(), vec![]).await;
    assert_eq!(pulled.events, batch);
    let resent = sync(server.url(), vault.token.clone(), batch.clone()).await;
    assert!(resent.verdicts.iter().all(|v| v.outcome == Outcome::Accepted));
    let next = vault.record(finn, moved("Shelf 9"));
    let resp = sync(server.url(), vault.token.clone(), vec![next]).await;
    assert_eq!(resp.verdicts[0].outcome, Outcome::Accepted);
    assert_eq!(server.db.list_devices(&lic(LIC_A)).unwrap().len(), 2);
    server.stop().await;
    let conn = rusqlite::Connection::open(dir.path().join(DB_FILE_NAME)).unwrap();
    let n: i64 = conn.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 6);
}

/// For every event kind floor staff may not record, the same event signed by nobody, with a floor
/// worker's key (in the manager's name, and in their own), with the manager's key from another
/// device, and by the manager on the device that sends it: only the last is accepted; the others
/// are kept as rejected with the reason and never reach the inventory or another phone.
#[tokio::test]
async fn every_restricted_event_needs_the_right_persons_signature_from_its_device() {
    let w = World::new().await;
    let mut phone = w.enrol(LIC_A, "Handheld").await;
    let other = w.enrol(LIC_A, "Other handheld").await;
    let bodies = [
        adjusted(),
        EventBody::Destroyed { reason: "mould found".into() },
        EventBody::Released { request: None, note: "retest passed".into() },
        EventBody::Delivered { recipient: lic("C10-0000201-LIC") },
    ];
    for body in bodies {
        let kind = body.kind();
        let finn_key = phone.keys[&w.finn].clone();
        let mia_key = phone.keys[&w.mia].clone();
        let variants: [(&str, UserId, Option<&SigningKey>, &str); 5] = [
            ("signed by nobody", w.mia, None, "carries no signature"),
            ("a floor worker's key in the manager's name", w.mia, Some(&finn_key), "not signed by Mia's key on this device"),
            ("a floor worker's own", w.finn, Some(&finn_key), "floor staff may not record"),
            ("the manager's key from another device", w.mia, Some(&other.keys[&w.mia]), "not signed by Mia's key on this device"),
            ("the manager on this device", w.mia, Some(&mia_key), ""),
        ];
        for (i, (how, user, key, expected)) in variants.into_iter().enumerate() {
            let event = phone.record_signed(user, body.clone(), key);
            let verdict = w.sync(&phone, 0, vec![event.clone()]).await.verdicts.remove(0);
            if i < 4 {
                let reason = rejected_reason(&verdict.outcome);
                assert!(reason.contains(expected), "{kind:?}: {how}: {reason}");
                assert!(!w.db().facility_events(&lic(LIC_A)).unwrap().contains(&event), "{kind:?}: {how} reached the ledger");
            } else {
                assert_eq!(verdict.outcome, Outcome::Accepted, "{kind:?}: {how}");
            }
        }
    }
    // Another phone pulls only the four that were proven.
    let pulled = w.sync(&other, 0, vec![]).await.events;
    assert_eq!(pulled.len(), 4);
    assert!(pulled.iter().all(|e| e.user == w.mia && e.device == phone.id));
}

/// Patient data goes only to a request signed by a manager (or the route's driver) on the device
/// that asks, within minutes; an upload is kept only from such a request; and the access log
/// takes only lines the person they name signed, one line each, whatever they typed.
#[tokio::test]
async fn patient_data_moves_only_for_a_fresh_signature_of_a_person_allowed_to_see_it() {
    use custody_core::outbound::shipping::PatientView;
    use custody_core::outbound::{Customer, NewOrder, NewOrderLine, Patient};
    use custody_core::protocol::{PatientRecord, PersonProof};
    let w = World::new().await;
    w.db()
        .add_customer(&lic(LIC_A), &Customer { licence: lic("C10-0000201-LIC"), name: "Harbor".into(), address: "9 Bay Rd".into() })
        .unwrap();
    let mut office = w.enrol(LIC_A, "Office").await;
    let reader = w.enrol(LIC_A, "Reader").await;
    let receipt = office.record(
        w.mia,
        EventBody::Received {
            item: custody_core::ids::ItemName::parse("Flower 3.5g").unwrap(),
            batch: custody_core::ids::BatchNumber::parse("B-1").unwrap(),
            quantity: Quantity::parse("10 g").unwrap(),
            location: LocationName::parse("Vault A").unwrap(),
            expires_on: None,
            manifest: None,
            via: Some(custody_core::event::ReceivedVia::OpeningBalance),
        },
    );
    assert_eq!(w.sync(&office, 0, vec![receipt]).await.verdicts[0].outcome, Outcome::Accepted);
    let patient =
        Patient { name: "Jane Doe".into(), card_number: "MMJ-4471-9203".into(), address: "2 Elm".into(), phone: "555-0142".into() };
    let order = NewOrder {
        number: "SO-9".into(),
        recipient: lic("C10-0000201-LIC"),
        requested_on: chrono::Utc::now().date_naive() + chrono::Duration::days(1),
        lines: vec![NewOrderLine {
            item: custody_core::ids::ItemName::parse("Flower 3.5g").unwrap(),
            quantity: Quantity::parse("3.5 g").unwrap(),
            unit_price: "4.50".parse().unwrap(),
        }],
        patient: Some(patient.clone()),
    };
    let created = w.post_as("/v1/orders", &office, w.mia, &order).await;
    assert_eq!(created.status(), StatusCode::CREATED, "{}", created.text().await.unwrap());
    let id = created.json::<custody_core::protocol::CreatedOrder>().await.unwrap().id;

    let sync = |device: &Device, proof: Option<String>, request: &SyncRequest| {
        let body = serde_json::to_vec(request).unwrap();
        let mut req = w.http.post(w.url("/v1/sync")).bearer_auth(&device.token).header("content-type", "application/json");
        if let Some(proof) = proof {
            req = req.header("custody-person", proof);
        }
        let req = req.body(body);
        async move {
            let resp = req.send().await.unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            resp.json::<SyncResponse>().await.unwrap()
        }
    };
    let proof = |device: &Device, user: UserId, key: &SigningKey, at_ms: i64, request: &SyncRequest| {
        let body = serde_json::to_vec(request).unwrap();
        let signature = key.sign(&custody_core::signing::request_message("POST", "/v1/sync", device.id, user, at_ms, &body));
        PersonProof { user, at_ms, signature }.header_value()
    };
    let now = || chrono::Utc::now().timestamp_millis();
    let ask = SyncRequest::default();
    let sent = || w.count(&format!("SELECT COUNT(*) FROM patient_access WHERE action = 'sent to device' AND order_id = '{id}'"));

    // Released: never to nobody, to floor staff, to a key from another device, or to an old proof.
    let refused = [
        ("nobody", None),
        ("floor staff", Some(proof(&reader, w.finn, &reader.keys[&w.finn], now(), &ask))),
        ("the manager's key from another device", Some(proof(&reader, w.mia, &office.keys[&w.mia], now(), &ask))),
        ("a ten-minute-old proof", Some(proof(&reader, w.mia, &reader.keys[&w.mia], now() - 600_000, &ask))),
    ];
    for (how, header) in refused {
        let answer = sync(&reader, header, &ask).await;
        assert!(answer.patients.is_empty(), "patient data went to {how}");
    }
    assert_eq!(sent(), 0);
    let answer = sync(&reader, Some(proof(&reader, w.mia, &reader.keys[&w.mia], now(), &ask)), &ask).await;
    assert_eq!(answer.patients, vec![PatientRecord { order: id, patient: patient.clone() }]);
    assert_eq!(sent(), 1, "the release is logged");

    // Stored or overwritten only for a manager's signed request.
    let changed = Patient { address: "99 Other St".into(), ..patient.clone() };
    let upload = SyncRequest {
        patients: vec![PatientRecord { order: id, patient: changed.clone() }],
        holds_patients: vec![id],
        ..Default::default()
    };
    let sealed = w.db().sealed_patient(id).unwrap();
    for (how, header) in [("nobody", None), ("floor staff", Some(proof(&office, w.finn, &office.keys[&w.finn], now(), &upload)))] {
        let answer = sync(&office, header, &upload).await;
        assert!(answer.patients_stored.is_empty(), "{how} overwrote patient data");
        assert_eq!(w.db().sealed_patient(id).unwrap(), sealed, "{how} changed the stored record");
    }
    let answer = sync(&office, Some(proof(&office, w.mia, &office.keys[&w.mia], now(), &upload)), &upload).await;
    assert_eq!(answer.patients_stored, vec![id]);
    assert_eq!(w.db().open_patient(&lic(LIC_A), id, "test").unwrap(), Some(changed));

    // The access log: only lines signed by the person they name, and none that could fake a line.
    let view = |user: UserId, purpose: &str| PatientView {
        order: id,
        user,
        user_name: "whoever".into(),
        purpose: purpose.into(),
        at: chrono::Utc::now(),
        signature: None,
    };
    let signed = |mut v: PatientView, key: &SigningKey| {
        v.signature = Some(key.sign(&v.signed_bytes(office.id)));
        v
    };
    let forged_line = format!("delivery\n2026-12-01T10:00:00Z  order {id}  Finn Floor  viewed");
    let lines = vec![
        view(w.mia, "unsigned"),
        signed(view(w.mia, "in Mia's name with Finn's key"), &office.keys[&w.finn]),
        signed(view(w.mia, "Mia's key from another device"), &reader.keys[&w.mia]),
        signed(view(w.mia, &forged_line), &office.keys[&w.mia]),
        signed(view(w.mia, "left\u{202E}txet"), &office.keys[&w.mia]),
        signed(view(w.mia, "delivery check"), &office.keys[&w.mia]),
    ];
    let before = w.db().patient_access_log(&lic(LIC_A)).unwrap().len();
    sync(&office, None, &SyncRequest { patient_views: lines, ..Default::default() }).await;
    let log = w.db().patient_access_log(&lic(LIC_A)).unwrap();
    let added: Vec<_> = log[before..].iter().collect();
    assert_eq!(added.len(), 1, "{added:?}");
    assert!(added[0].action.ends_with("delivery check") && added[0].user_name == "Mia", "{:?}", added[0]);
    assert!(log.iter().all(|l| !l.action.contains('\n') && !l.action.contains('\u{202E}')));
}

/// The state connector's queue as the office sees it: writes queue with their events (an
/// adjustment without a second manager's approval never goes), only a manager or compliance
/// officer of the facility sees and handles failed ones, and what they do is audited.
#[tokio::test]
async fn failed_state_submissions_are_handled_only_by_managers_and_compliance_and_audited() {
    let w = World::new().await;
    let db = w.db();
    let cora = db.add_user(&lic(LIC_A), "Cora", Role::Compliance, "BADGE-CORA", "2468").unwrap();
    let keys = custody_server::state::metrc::Keys { vendor: "vendor-secret-1".into(), user: "user-secret-1".into() };
    db.state_connect(&lic(LIC_A), custody_server::state::System::Metrc, "ca", "http://127.0.0.1:9", &keys, None).unwrap();
    // Disconnected, the writes stay queued and nothing is sent: this test handles them by hand.
    db.state_disconnect(&lic(LIC_A)).unwrap();
    let mut phone = w.enrol(LIC_A, "office").await;
    let enrolled = w.server.enrol(LIC_A, "compliance-tablet").await;
    let mut tablet = Device::new(enrolled.clone());
    tablet.keys.insert(cora, std::sync::Arc::new(w.server.sign_in(&enrolled, "BADGE-CORA", "2468").await));
    let other = w.enrol(LIC_B, "other").await;

    let move_event = phone.record(w.finn, moved("Vault A"));
    let adjust_event = phone.record(w.mia, adjusted());
    let response = w.sync(&phone, 0, vec![move_event.clone(), adjust_event.clone()]).await;
    assert!(response.verdicts.iter().all(|v| v.outcome == Outcome::Accepted), "{:?}", response.verdicts);

    let event_status = |id: Uuid, device: Device| {
        let url = w.url(&format!("/v1/state/events/{id}"));
        let http = w.http.clone();
        async move { http.get(url).bearer_auth(&device.token).send().await.unwrap().json::<Value>().await.unwrap() }
    };
    assert_eq!(event_status(move_event.id, phone.clone()).await["status"], "queued");
    let adjust = event_status(adjust_event.id, phone.clone()).await;
    assert_eq!(adjust["status"], "unapproved", "{adjust}");
    assert!(adjust["write"]["message"].as_str().unwrap().contains("no approved request"), "{adjust}");
    // Another facility's device learns nothing of A's events.
    assert_eq!(event_status(move_event.id, other.clone()).await["status"], "not_required");

    // The state refuses the move (as the drain records it).
    let seq: i64 = rusqlite::Connection::open(db.path())
        .unwrap()
        .query_row("SELECT seq FROM state_outbox WHERE source = ?1", [move_event.id.to_string()], |r| r.get(0))
        .unwrap();
    db.outbox_failed(seq, "Location Vault A does not exist").unwrap();

    let status = w.http.get(w.url("/v1/state/status")).bearer_auth(&phone.token).send().await.unwrap();
    assert_eq!(status.status(), StatusCode::OK);
    let status_text = status.text().await.unwrap();
    assert!(!status_text.contains("secret"), "no key in the status: {status_text}");
    let status: Value = serde_json::from_str(&status_text).unwrap();
    assert_eq!((status["failed"].as_i64(), status["unapproved"].as_i64()), (Some(1), Some(1)), "{status}");
    assert_eq!(status["failed_writes"], json!([]), "the failed list is for those who handle it");
    assert_eq!(status["connection"]["connected"], false);

    // Floor staff, no proof, another facility's manager: refused.
    let (code, _, message) = error_of(w.post_as("/v1/state/failed", &phone, w.finn, &json!({})).await).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    assert!(message.contains("only a manager or compliance officer"), "{message}");
    let (code, _, _) = error_of(w.post("/v1/state/failed", Some(&phone.token), &json!({})).await).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    let (code, _, _) = error_of(w.post_as(&format!("/v1/state/failed/{seq}/resubmit"), &phone, w.finn, &json!({})).await).await;
    assert_eq!(code, StatusCode::FORBIDDEN);
    let theirs: Value = w.post_as("/v1/state/failed", &other, w.bo, &json!({})).await.json().await.unwrap();
    assert_eq!(theirs, json!([]));
    let (code, _, message) = error_of(w.post_as(&format!("/v1/state/failed/{seq}/resubmit"), &other, w.bo, &json!({})).await).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message.contains("no state submission"), "{message}");

    // The manager sees it with the state's message.
    let list: Value = w.post_as("/v1/state/failed", &phone, w.mia, &json!({})).await.json().await.unwrap();
    assert_eq!(list[0]["seq"], seq);
    assert_eq!(list[0]["message"], "Location Vault A does not exist");
    assert_eq!(list[0]["kind"], "location");

    // Bad input: no reason, an unknown field, a number that is no submission.
    let (code, _, message) =
        error_of(w.post_as(&format!("/v1/state/failed/{seq}/dismiss"), &tablet, cora, &json!({"reason": "  "})).await).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{message}");
    let (code, _, _) =
        error_of(w.post_as(&format!("/v1/state/failed/{seq}/dismiss"), &tablet, cora, &json!({"reason": "x", "also": 1})).await).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    let (code, _, _) = error_of(w.post_as("/v1/state/failed/abc/resubmit", &tablet, cora, &json!({})).await).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
    assert_eq!(w.count("SELECT COUNT(*) FROM state_outbox_audit"), 0, "nothing refused was recorded");

    // Compliance resubmits after creating the location at the state; it cannot be dismissed now.
    let resp = w.post_as(&format!("/v1/state/failed/{seq}/resubmit"), &tablet, cora, &json!({})).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT, "{}", resp.text().await.unwrap());
    assert_eq!(event_status(move_event.id, phone.clone()).await["status"], "queued");
    let (code, _, message) =
        error_of(w.post_as(&format!("/v1/state/failed/{seq}/dismiss"), &phone, w.mia, &json!({"reason": "done by hand"})).await).await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message.contains("is queued, not failed"), "{message}");

    // Refused again, then dismissed by the manager with the reason.
    db.outbox_failed(seq, "Location Vault A does not exist").unwrap();
    let resp = w
        .post_as(&format!("/v1/state/failed/{seq}/dismiss"), &phone, w.mia, &json!({"reason": "entered in the state's web interface"}))
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(event_status(move_event.id, phone.clone()).await["status"], "dismissed");
    let conn = rusqlite::Connection::open(db.path()).unwrap();
    let audit: Vec<(String, String, Option<String>)> = conn
        .prepare("SELECT action, by_name, reason FROM state_outbox_audit ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        audit,
        vec![
            ("resubmitted".to_string(), "Cora".to_string(), None),
            ("dismissed".to_string(), "Mia".to_string(), Some("entered in the state's web interface".to_string()))
        ]
    );
}
