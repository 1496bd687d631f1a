//! What both server suites stand on: a real server on loopback over a temporary data folder with
//! two facilities, a reqwest client, and a way to look into the server's database.
//!
//! Each suite builds its own `World` (its roster, its idea of a phone) on top of this.

#![allow(dead_code)] // each suite uses its own part of the fixture

use custody_core::ids::{DeviceId, LicenseNumber, UserId};
use custody_core::protocol::{EnrolResponse, EnrolmentCode, PersonProof, SignInRequest};
use custody_core::signing::{SigningKey, registration_message, request_message};
use custody_server::{Db, RunningServer};
use reqwest::StatusCode;
use serde_json::json;
use tempfile::TempDir;

pub const LIC_A: &str = "C11-0000001-LIC";
pub const LIC_B: &str = "C11-0000002-LIC";
pub const TAG: &str = "1A4FF0100000022000001234";

pub fn lic(s: &str) -> LicenseNumber {
    LicenseNumber::parse(s).unwrap()
}

/// reqwest is built without a default crypto provider (rustls on ring is chosen explicitly, never
/// aws-lc-rs): make ring the process default so a bare `reqwest::Client::new()` in a test works.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A client for plain-HTTP test servers (TLS built in, as in every build; it trusts the
/// platform's authorities).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder().tls_backend_preconfigured(custody_core::tls::ServerTrust::platform().client_config()).build().unwrap()
}

/// A running server with facility A ("North Vault") and facility B ("South Depot").
pub struct Server {
    dir: TempDir,
    running: Option<RunningServer>,
    pub http: reqwest::Client,
}

impl Server {
    pub async fn start() -> Server {
        install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let running = RunningServer::start(dir.path()).await;
        running.db.create_facility(&lic(LIC_A), "North Vault", custody_core::state_json::Tz::America__Los_Angeles).unwrap();
        running.db.create_facility(&lic(LIC_B), "South Depot", custody_core::state_json::Tz::America__Los_Angeles).unwrap();
        Server { dir, running: Some(running), http: http_client() }
    }

    pub fn running(&self) -> &RunningServer {
        self.running.as_ref().expect("server running")
    }

    pub fn db(&self) -> &Db {
        &self.running().db
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.running().url())
    }

    /// Stops the server and starts a new one on the same data folder, as after a redeploy.
    pub async fn restart(&mut self) {
        self.running.take().expect("server running").stop().await;
        self.running = Some(RunningServer::start(self.dir.path()).await);
    }

    pub fn code(&self, facility: &str) -> EnrolmentCode {
        self.db().issue_enrolment_code(&lic(facility), None, chrono::Duration::hours(1)).unwrap()
    }

    /// Enrols a new device in `facility` with a fresh code.
    pub async fn enrol(&self, facility: &str, name: &str) -> EnrolResponse {
        let code = self.code(facility);
        let resp = self.http.post(self.url("/v1/enrol")).json(&json!({"code": code.code, "device_name": name})).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        resp.json().await.unwrap()
    }

    /// Signs a person in on an enrolled device over HTTP, as the app does the first time there:
    /// the server checks badge and PIN and registers the new key, which is returned.
    pub async fn sign_in(&self, enrolled: &EnrolResponse, badge: &str, pin: &str) -> SigningKey {
        let key = SigningKey::generate();
        let proof = key.sign(&registration_message(enrolled.device_id, badge, &key.public_key()));
        let body = SignInRequest { badge: badge.into(), pin: pin.into(), public_key: key.public_key(), proof };
        let resp = self.http.post(self.url("/v1/sign-in")).bearer_auth(&enrolled.token).json(&body).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{}", resp.text().await.unwrap());
        key
    }

    /// The `custody-person` header a phone sends with a POST to `path`: `user` signing `body`
    /// with `key` now.
    pub fn person_proof(&self, device: DeviceId, user: UserId, key: &SigningKey, path: &str, body: &[u8]) -> String {
        let at_ms = chrono::Utc::now().timestamp_millis();
        let signature = key.sign(&request_message("POST", path, device, user, at_ms, body));
        PersonProof { user, at_ms, signature }.header_value()
    }

    /// One number from the server's database (`SELECT COUNT(*) ...`).
    pub fn count(&self, sql: &str) -> i64 {
        let conn = rusqlite::Connection::open(self.db().path()).unwrap();
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }
}
