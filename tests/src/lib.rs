//! Shared harness for the end-to-end suites: a real sync server on a loopback port with its own
//! data folder, serving TLS with a certificate from a throwaway test authority, and simulated
//! phones, each a real (encrypted) device store in its own temporary folder, talking real HTTPS
//! through the real sync client and trusting only that authority.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use custody_core::event::EventBody;
use custody_core::fold::Inventory;
use custody_core::protocol::InventoryReport;
use custody_core::store::{PackageView, SignedInUser, SyncStatus};
use custody_core::sync::{RetryPolicy, SyncClient, SyncError, SyncReport};
use custody_core::tls::ServerTrust;
use custody_core::*;
use custody_server::{RunningServer, TlsFiles};
use rust_decimal::Decimal;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// People every test facility has: (name, role, badge, PIN).
pub const MANAGER: (&str, Role, &str, &str) = ("Sam Manager", Role::Manager, "M-100", "2468");
pub const FLOOR: (&str, Role, &str, &str) = ("Maria Floor", Role::FloorStaff, "F-200", "1357");
pub const FLOOR_2: (&str, Role, &str, &str) = ("Omar Floor", Role::FloorStaff, "F-201", "8642");
pub const FLOOR_3: (&str, Role, &str, &str) = ("Lee Floor", Role::FloorStaff, "F-202", "7531");
pub const DRIVER: (&str, Role, &str, &str) = ("Dee Driver", Role::Driver, "D-300", "9753");
pub const MANAGER_2: (&str, Role, &str, &str) = ("Ana Manager", Role::Manager, "M-101", "1470");

/// A test tag: `1A4FF01` + a 17-digit number.
pub fn tag(n: u64) -> PackageTag {
    PackageTag::parse(&format!("1A4FF01{n:017}")).expect("test tag is valid")
}

pub fn grams(hundredths: i64) -> Quantity {
    Quantity::new(Decimal::new(hundredths, 2), Unit::G).expect("test quantity is valid")
}

pub fn location(name: &str) -> LocationName {
    LocationName::parse(name).expect("test location is valid")
}

/// The key every test phone's store is opened with (the apps keep theirs in the platform
/// keystore); one for all, so a test can reopen a phone's store.
pub fn store_key() -> custody_core::store::StoreKey {
    custody_core::store::StoreKey::from_bytes(&[7; 32]).expect("32 bytes")
}

/// A throwaway certificate authority and a server certificate it issued for 127.0.0.1 and
/// localhost (PEM). One per test process: [`test_ca`].
pub struct TestCa {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

impl TestCa {
    /// A new authority (ECDSA P-256, ring) and a server certificate signed by it.
    pub fn generate() -> TestCa {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, "Custody test authority");
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate().expect("server key");
        let mut server = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).expect("server params");
        server.distinguished_name.push(DnType::CommonName, "custody-server test");
        let cert = server.signed_by(&key, &issuer).expect("server certificate");
        TestCa { ca_pem: ca_cert.pem(), cert_pem: cert.pem(), key_pem: key.serialize_pem() }
    }

    /// Writes the server's certificate and key into `dir` (created), for `--tls-cert`/`--tls-key`.
    pub fn write_server_files(&self, dir: &Path) -> TlsFiles {
        std::fs::create_dir_all(dir).expect("TLS folder");
        let files = TlsFiles { cert: dir.join("server-cert.pem"), key: dir.join("server-key.pem") };
        std::fs::write(&files.cert, &self.cert_pem).expect("write certificate");
        custody_core::files::private_file(&files.key).expect("create key file");
        std::fs::write(&files.key, &self.key_pem).expect("write key");
        files
    }

    /// Trusts this authority and nothing else.
    pub fn trust(&self) -> ServerTrust {
        ServerTrust::only(&self.ca_pem).expect("the test authority is a valid CA")
    }
}

/// The test process's authority: every fleet's server has a certificate from it and every phone
/// trusts it alone.
pub fn test_ca() -> &'static TestCa {
    static CA: OnceLock<TestCa> = OnceLock::new();
    CA.get_or_init(TestCa::generate)
}

/// An HTTP client for tests that speak raw HTTP(S) to a fleet's server (as curl would): trusts
/// only the test authority.
pub fn https_client() -> reqwest::Client {
    reqwest::Client::builder().tls_backend_preconfigured(test_ca().trust().client_config()).build().expect("test HTTP client")
}

/// A server and its data folder, which outlives restarts.
pub struct Fleet {
    pub data: TempDir,
    pub server: Option<RunningServer>,
    pub facility: LicenseNumber,
    devices: TempDir,
    tls: TlsFiles,
}

impl Fleet {
    /// Starts a server (TLS, on loopback) with one facility and its staff.
    pub async fn start(license: &str) -> Self {
        Self::start_with_state(license, fast_state()).await
    }

    /// Like [`start`](Self::start), with the state connector paced by `state`.
    pub async fn start_with_state(license: &str, state: custody_server::StateSettings) -> Self {
        // reqwest has no default crypto provider (ring is chosen explicitly): make ring the
        // process default, so a bare reqwest client in a test fails on trust, not with a panic.
        // Tests that talk raw HTTPS to the fleet use `https_client()`.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let data = tempfile::tempdir().expect("temp dir");
        let devices = tempfile::tempdir().expect("temp dir");
        let tls = test_ca().write_server_files(&devices.path().join("tls"));
        let mut config = custody_server::Config::new(data.path());
        config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        config.tls = Some(tls.clone());
        config.state = state;
        let server = RunningServer::start_with(config).await.expect("start the server");
        let fleet = Self { data, server: Some(server), facility: LicenseNumber::parse(license).expect("licence"), devices, tls };
        fleet.add_facility(license, "Green Valley Distribution");
        fleet
    }

    /// Adds a facility with the standard staff to the running server.
    pub fn add_facility(&self, license: &str, name: &str) -> LicenseNumber {
        let facility = LicenseNumber::parse(license).expect("licence");
        let db = &self.server().db;
        db.create_facility(&facility, name, custody_core::state_json::Tz::America__Los_Angeles).expect("create facility");
        for (name, role, badge, pin) in [MANAGER, MANAGER_2, FLOOR, FLOOR_2, FLOOR_3, DRIVER] {
            db.add_user(&facility, name, role, badge, pin).expect("add user");
        }
        facility
    }

    pub fn server(&self) -> &RunningServer {
        self.server.as_ref().expect("server is running")
    }

    /// Changes the fleet's facility's settings as the CLI does (`custody-server settings ...`);
    /// phones get them at their next sync.
    pub fn settings(&self, change: custody_core::settings::SettingsChange) -> custody_core::settings::FacilitySettings {
        self.server().db.change_settings(&self.facility, &change, "test operator").expect("settings change")
    }

    pub fn url(&self) -> String {
        self.server().url()
    }

    /// Enrols a new phone at the fleet's facility.
    pub async fn phone(&self, name: &str) -> Phone {
        self.phone_at(&self.facility.clone(), name).await
    }

    pub async fn phone_at(&self, facility: &LicenseNumber, name: &str) -> Phone {
        let code = self.server().db.issue_enrolment_code(facility, None, chrono::Duration::hours(1)).expect("issue code");
        let path = self.devices.path().join(format!("{name}.db"));
        let store = Store::open(&path, &store_key()).expect("open device store");
        let client = SyncClient::with_trust(fast_retry(), &test_ca().trust());
        client.enrol(&store, &self.url(), &code.code, name).await.expect("enrol");
        Phone { name: name.to_string(), store, path, client }
    }

    /// Stops the server and starts it again on the same data folder and port.
    pub async fn restart(&mut self) {
        let server = self.server.take().expect("server is running");
        let addr = server.addr;
        server.stop().await;
        let mut config = custody_server::Config::new(self.data.path());
        config.listen = addr;
        config.tls = Some(self.tls.clone());
        config.state = fast_state();
        self.server = Some(custody_server::RunningServer::start_with(config).await.expect("restart on the same port"));
    }

    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
    }

    /// Registers a fresh signing key for `who` on `phone`'s device, as their online sign-in there
    /// would, and hands back the private key: for tests that build and sign events by hand.
    pub fn register_key(&self, phone: &Phone, who: (&str, Role, &str, &str)) -> custody_core::signing::SigningKey {
        let identity = phone.store.identity().expect("identity").expect("enrolled");
        let device = custody_server::AuthedDevice { id: identity.device_id, facility: identity.facility };
        let key = custody_core::signing::SigningKey::generate();
        let proof = key.sign(&custody_core::signing::registration_message(device.id, who.2, &key.public_key()));
        let request = custody_core::protocol::SignInRequest { badge: who.2.into(), pin: who.3.into(), public_key: key.public_key(), proof };
        self.server().db.sign_in(&device, &request).expect("register a key");
        key
    }

    /// The server's inventory of the fleet's facility.
    pub fn server_inventory(&self) -> Inventory {
        self.server().db.inventory(&self.facility).expect("server inventory")
    }
}

/// The state connector paced for tests: it looks for work every 20 ms, backs off from 10 ms to at
/// most 200 ms, and counts an answer lost after 2 s; it pulls only when asked, three days back.
pub fn fast_state() -> custody_server::StateSettings {
    custody_server::StateSettings {
        poll_interval: Duration::from_millis(20),
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(200),
        request_timeout: Duration::from_secs(2),
        // Pulls only when a test asks for one (`pull_now`), so they never race its assertions.
        pull_interval: None,
        pull_lookback: Duration::from_secs(3 * 24 * 3600),
        snapshot_interval: Duration::ZERO,
        ..custody_server::StateSettings::default()
    }
}

/// Short backoff so tests that go offline do not wait long.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy { attempts: 3, first_delay: Duration::from_millis(20), max_delay: Duration::from_millis(100) }
}

/// One simulated phone.
pub struct Phone {
    pub name: String,
    pub store: Store,
    pub path: PathBuf,
    pub client: SyncClient,
}

impl Phone {
    /// Signs a person in as the app does: online the first time on this phone (the server
    /// registers their key), offline with the PIN after that.
    pub async fn sign_in(&self, who: (&str, Role, &str, &str)) -> SignedInUser {
        self.client.sign_in(&self.store, who.2, who.3).await.expect("sign in")
    }

    pub async fn sync(&self) -> Result<SyncReport, SyncError> {
        self.client.sync(&self.store).await
    }

    /// Puts a package in stock as a manager's opening balance (the person signed in must be a
    /// manager): the fixture every suite starts from. Receiving against a manifest is
    /// `tests/receiving.rs`'s business.
    pub fn receive(&self, t: &PackageTag, hundredths_of_gram: i64, at: &str) -> Event {
        self.store
            .record(
                t,
                EventBody::Received {
                    item: ItemName::parse("Live Resin - Blue Dream 1g").unwrap(),
                    batch: BatchNumber::parse("LR-2026-11-A").unwrap(),
                    quantity: grams(hundredths_of_gram),
                    location: location(at),
                    expires_on: chrono::NaiveDate::from_ymd_opt(2027, 6, 30),
                    manifest: Some("0001234567".into()),
                    via: Some(custody_core::event::ReceivedVia::OpeningBalance),
                },
            )
            .expect("receive")
    }

    /// Receives a package counted in units (e.g. 1 g cartridges, 10 to a package).
    pub fn receive_units(&self, t: &PackageTag, units: i64, at: &str) -> Event {
        self.store
            .record(
                t,
                EventBody::Received {
                    item: ItemName::parse("Live Resin Cart 1g").unwrap(),
                    batch: BatchNumber::parse("LRC-2026-10").unwrap(),
                    quantity: Quantity::new(Decimal::from(units), Unit::Each).unwrap(),
                    location: location(at),
                    expires_on: chrono::NaiveDate::from_ymd_opt(2027, 3, 31),
                    manifest: None,
                    via: Some(custody_core::event::ReceivedVia::OpeningBalance),
                },
            )
            .expect("receive")
    }

    pub fn move_to(&self, t: &PackageTag, to: &str) -> Event {
        self.store.record(t, EventBody::Moved { to: location(to) }).expect("move")
    }

    pub fn adjust(&self, t: &PackageTag, hundredths_of_gram: i64, note: &str) -> Event {
        self.store
            .record(
                t,
                EventBody::Adjusted {
                    request: None,
                    delta: Quantity::change(Decimal::new(hundredths_of_gram, 2), Unit::G).unwrap(),
                    reason: "Scale Variance".into(),
                    note: note.into(),
                },
            )
            .expect("adjust")
    }

    pub fn packages(&self) -> Vec<PackageView> {
        self.store.packages().expect("packages")
    }

    pub fn conflicts(&self) -> Vec<Conflict> {
        self.store.conflicts().expect("conflicts")
    }

    pub fn status(&self) -> SyncStatus {
        self.store.sync_status().expect("status")
    }

    pub fn token(&self) -> String {
        // The token is private to the store; tests that speak raw HTTP read it the way an
        // attacker with the device in hand and its store key would: from the database file.
        let conn = self.raw_db();
        let json: String = conn.query_row("SELECT value FROM meta WHERE key = 'token'", [], |r| r.get(0)).expect("token stored");
        serde_json::from_str(&json).expect("token is a JSON string")
    }

    /// The phone's database file opened directly (with its key), for looking inside.
    pub fn raw_db(&self) -> rusqlite::Connection {
        custody_core::store::open_encrypted(&self.path, &store_key()).expect("open device db")
    }

    /// Posts events to the server by hand with this phone's token, as a tampered or buggy client
    /// would, and returns the server's answer.
    pub async fn post_events(&self, server_url: &str, events: Vec<Event>) -> custody_core::protocol::SyncResponse {
        https_client()
            .post(format!("{server_url}/v1/sync"))
            .bearer_auth(self.token())
            .json(&custody_core::protocol::SyncRequest { cursor: 0, events, docs: vec![], ..Default::default() })
            .send()
            .await
            .expect("server answers")
            .json()
            .await
            .expect("a sync response")
    }

    /// The inventory as this phone shows it, in the server report's shape, for comparison.
    pub fn report(&self) -> InventoryReport {
        InventoryReport { packages: self.packages().into_iter().map(|p| p.facts).collect(), conflicts: self.conflicts() }
    }
}

/// A TCP proxy in front of the server that can cut the next response after the server has sent
/// it (the request was processed, the phone never hears back) — the worst moment for a sync to
/// be interrupted.
pub struct CuttingProxy {
    pub addr: SocketAddr,
    cut_next: Arc<AtomicBool>,
    https: bool,
}

impl CuttingProxy {
    /// A proxy in front of `server`, speaking its scheme (the proxy only relays bytes).
    pub async fn start_for(server: &RunningServer) -> Self {
        let mut proxy = Self::start(server.addr).await;
        proxy.https = server.url().starts_with("https:");
        proxy
    }

    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let cut_next = Arc::new(AtomicBool::new(false));
        let cut = cut_next.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let cut = cut.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        pipe(client, server, cut).await;
                    }
                });
            }
        });
        Self { addr, cut_next, https: false }
    }

    pub fn url(&self) -> String {
        format!("{}://{}", if self.https { "https" } else { "http" }, self.addr)
    }

    /// The next response that starts coming back is dropped and the connection closed.
    pub fn cut_next_response(&self) {
        self.cut_next.store(true, Ordering::SeqCst);
    }
}

async fn pipe(client: TcpStream, server: TcpStream, cut: Arc<AtomicBool>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let up = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
        let _ = server_write.shutdown().await;
    });
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match server_read.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if cut.swap(false, Ordering::SeqCst) {
                    break; // drop the response and close the phone's connection
                }
                if client_write.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    up.abort();
}
