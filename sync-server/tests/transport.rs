//! The server as an attacker with a TCP socket, curl and a stolen token sees it: TLS, the clocks
//! that cut slow or idle clients off, the caps on connections and requests, per-route body limits
//! (and that a body is not read before the token is checked), and owner-only files.
//!
//! The timeouts are shortened to a few hundred milliseconds here; the defaults and their reasons
//! are in docs/decisions/0015.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use custody_core::store::{Store, StoreKey};
use custody_core::sync::{RetryPolicy, SyncClient, SyncError};
use custody_core::tls::ServerTrust;
use custody_server::{Config, RunningServer, TlsFiles};
use serde_json::Value;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod common;
use common::{LIC_A, http_client, lic};

const SHORT: Duration = Duration::from_millis(300);

async fn start(change: impl FnOnce(&mut Config)) -> (TempDir, RunningServer) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().join("data"));
    config.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    change(&mut config);
    let server = RunningServer::start_with(config).await.unwrap();
    server.db.create_facility(&lic(LIC_A), "North Vault", custody_core::state_json::Tz::America__Los_Angeles).unwrap();
    (dir, server)
}

/// Reads until the server closes the connection (EOF or reset); `None` if it is still open after
/// `within`.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Reads one HTTP response (head and a Content-Length body) and returns it as text.
async fn read_response(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let text = String::from_utf8_lossy(&got).to_string();
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length = text[..head_end]
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap()))
                .unwrap_or(0);
            if got.len() >= head_end + 4 + length {
                return Some(text);
            }
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) | Ok(Ok(0)) | Ok(Err(_)) => return if got.is_empty() { None } else { Some(String::from_utf8_lossy(&got).to_string()) },
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

fn json_body(response: &str) -> Value {
    serde_json::from_str(&response[response.find("\r\n\r\n").unwrap() + 4..]).unwrap()
}

async fn enrolled_token(server: &RunningServer) -> String {
    let code = server.db.issue_enrolment_code(&lic(LIC_A), None, chrono::Duration::hours(1)).unwrap();
    let enrolled: Value = http_client()
        .post(format!("{}/v1/enrol", server.url()))
        .json(&serde_json::json!({"code": code.code, "device_name": "Handheld"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    enrolled["token"].as_str().unwrap().to_string()
}

// ---- TLS -------------------------------------------------------------------------------------

struct TestCa {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

fn test_ca() -> TestCa {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "Custody server-test authority");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap().signed_by(&key, &issuer).unwrap();
    TestCa { ca_pem: ca_cert.pem(), cert_pem: cert.pem(), key_pem: key.serialize_pem() }
}

fn tls_files(dir: &Path, ca: &TestCa) -> TlsFiles {
    let files = TlsFiles { cert: dir.join("cert.pem"), key: dir.join("key.pem") };
    std::fs::write(&files.cert, &ca.cert_pem).unwrap();
    std::fs::write(&files.key, &ca.key_pem).unwrap();
    files
}

#[tokio::test]
async fn tls_is_served_to_clients_that_trust_it_and_refused_to_everyone_else() {
    let ca = test_ca();
    let certs = tempfile::tempdir().unwrap();
    let files = tls_files(certs.path(), &ca);
    let (_dir, server) = start(|c| {
        c.tls = Some(files);
        c.tls_handshake_timeout = SHORT;
    })
    .await;
    assert!(server.url().starts_with("https://127.0.0.1:"), "{}", server.url());

    // A phone that trusts the deployment's authority enrols over TLS.
    let phones = tempfile::tempdir().unwrap();
    let key = StoreKey::generate();
    let code = server.db.issue_enrolment_code(&lic(LIC_A), None, chrono::Duration::hours(1)).unwrap();
    let trusting = SyncClient::with_trust(RetryPolicy { attempts: 1, ..Default::default() }, &ServerTrust::only(&ca.ca_pem).unwrap());
    let store = Store::open(phones.path().join("trusting.db"), &key).unwrap();
    trusting.enrol(&store, &server.url(), &code.code, "trusting").await.unwrap();

    // A phone that trusts only the platform's authorities cannot connect, and says why.
    let code = server.db.issue_enrolment_code(&lic(LIC_A), None, chrono::Duration::hours(1)).unwrap();
    let platform = SyncClient::new(RetryPolicy { attempts: 1, ..Default::default() });
    let store = Store::open(phones.path().join("platform.db"), &key).unwrap();
    let err = platform.enrol(&store, &server.url(), &code.code, "platform").await.unwrap_err();
    assert!(matches!(&err, SyncError::Offline(m) if m.contains("not from an authority this phone trusts")), "{err}");
    assert!(store.identity().unwrap().is_none());
    assert_eq!(server.db.list_devices(&lic(LIC_A)).unwrap().len(), 1, "only the trusting phone enrolled");

    // Plain HTTP to the TLS port gets no HTTP answer: the connection is closed.
    let mut raw = TcpStream::connect(server.addr).await.unwrap();
    raw.write_all(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
    let answer = read_until_closed(&mut raw, Duration::from_secs(5)).await.expect("the server closes the connection");
    assert!(!answer.starts_with(b"HTTP/"), "plain HTTP was answered: {:?}", String::from_utf8_lossy(&answer));
    assert!(http_client().get(format!("http://{}/v1/health", server.addr)).send().await.is_err());

    // A client that opens a connection and never finishes the handshake is cut off.
    let started = Instant::now();
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    read_until_closed(&mut silent, Duration::from_secs(5)).await.expect("a stalled handshake is cut off");
    assert!(started.elapsed() >= SHORT - Duration::from_millis(50), "closed before the handshake timeout");
    server.stop().await;
}

#[tokio::test]
async fn a_bad_certificate_or_key_stops_the_start_with_a_reason() {
    let ca = test_ca();
    let certs = tempfile::tempdir().unwrap();
    let files = tls_files(certs.path(), &ca);
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path());
    config.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));

    config.tls = Some(TlsFiles { cert: certs.path().join("missing.pem"), key: files.key.clone() });
    let err = RunningServer::start_with(config.clone()).await.err().expect("a missing certificate file");
    assert!(err.to_string().contains("missing.pem"), "{err}");

    config.tls = Some(TlsFiles { cert: files.key.clone(), key: files.key.clone() });
    let err = RunningServer::start_with(config.clone()).await.err().expect("a key given as the certificate");
    assert!(err.to_string().contains("holds no certificate"), "{err}");

    config.tls = Some(TlsFiles { cert: files.cert.clone(), key: files.cert.clone() });
    let err = RunningServer::start_with(config).await.err().expect("a certificate given as the key");
    assert!(err.to_string().contains("private key"), "{err}");
}

// ---- clocks ----------------------------------------------------------------------------------

#[tokio::test]
async fn a_request_head_sent_a_byte_at_a_time_is_cut_off() {
    let (_dir, server) = start(|c| c.header_timeout = SHORT).await;
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n").await.unwrap();
    let started = Instant::now();
    // Slowloris: keep the head coming, never finish it. Bytes keep flowing; the head clock runs on.
    let mut closed = false;
    for _ in 0..40 {
        if slow.write_all(b"X").await.is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 64];
        match tokio::time::timeout(Duration::from_millis(50), slow.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(n)) => panic!("the server answered a half-sent head: {:?}", String::from_utf8_lossy(&buf[..n])),
            Err(_) => {}
        }
    }
    assert!(closed, "the connection is still open after {:?}", started.elapsed());
    assert!(started.elapsed() < Duration::from_secs(1), "cut off after {:?}", started.elapsed());

    // Others are served meanwhile.
    let health = http_client().get(format!("{}/v1/health", server.url())).send().await.unwrap();
    assert_eq!(health.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_and_a_busy_one_is_not() {
    let (_dir, server) = start(|c| {
        c.idle_timeout = SHORT;
        c.header_timeout = Duration::from_secs(5);
    })
    .await;
    let mut conn = TcpStream::connect(server.addr).await.unwrap();
    // Requests that follow each other quickly share the connection.
    for _ in 0..3 {
        conn.write_all(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
        let response = read_response(&mut conn, Duration::from_secs(5)).await.expect("an answer");
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        tokio::time::sleep(SHORT / 3).await;
    }
    // Then it sits idle, and the server closes it.
    let started = Instant::now();
    let rest = read_until_closed(&mut conn, Duration::from_secs(5)).await.expect("an idle connection is closed");
    assert!(rest.is_empty());
    assert!(started.elapsed() < Duration::from_secs(2), "closed after {:?}", started.elapsed());
    server.stop().await;
}

#[tokio::test]
async fn a_half_sent_body_gets_408_and_the_connection_is_closed() {
    let (_dir, server) = start(|c| c.body_timeout = SHORT).await;
    let mut conn = TcpStream::connect(server.addr).await.unwrap();
    conn.write_all(
        b"POST /v1/enrol HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"code\": \"AB",
    )
    .await
    .unwrap();
    let started = Instant::now();
    let response = read_response(&mut conn, Duration::from_secs(5)).await.expect("an answer");
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(started.elapsed() >= SHORT - Duration::from_millis(50));
    assert_eq!(json_body(&response)["error"]["code"], "request_timeout");
    let rest = read_until_closed(&mut conn, Duration::from_secs(2)).await.expect("then the connection is closed");
    assert!(rest.is_empty());
    assert_eq!(server.db.list_devices(&lic(LIC_A)).unwrap().len(), 0);
    server.stop().await;
}

// ---- caps ------------------------------------------------------------------------------------

#[tokio::test]
async fn requests_over_the_cap_get_503_until_a_slot_frees() {
    let (_dir, server) = start(|c| {
        c.max_concurrent_requests = 2;
        c.busy_wait = Duration::from_millis(100);
        c.body_timeout = Duration::from_secs(30);
    })
    .await;
    // Two requests whose bodies never finish hold both slots.
    let mut holders = Vec::new();
    for _ in 0..2 {
        let mut conn = TcpStream::connect(server.addr).await.unwrap();
        conn.write_all(b"POST /v1/enrol HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
            .await
            .unwrap();
        holders.push(conn);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let busy = http_client().get(format!("{}/v1/health", server.url())).send().await.unwrap();
    assert_eq!(busy.status(), 503);
    assert_eq!(busy.headers()["retry-after"], "2");
    let body: Value = busy.json().await.unwrap();
    assert_eq!(body["error"]["code"], "busy");
    assert!(body["error"]["message"].as_str().unwrap().contains("your work is saved"), "{body}");

    // The holders go away; their slots come back.
    drop(holders);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let status = http_client().get(format!("{}/v1/health", server.url())).send().await.unwrap().status();
        if status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "slots never freed ({status})");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn connections_over_the_cap_wait_until_one_closes() {
    let (_dir, server) = start(|c| {
        c.max_connections = 2;
        c.header_timeout = Duration::from_secs(30);
    })
    .await;
    let first = TcpStream::connect(server.addr).await.unwrap();
    let _second = TcpStream::connect(server.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = TcpStream::connect(server.addr).await.unwrap();
    third.write_all(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.unwrap();
    assert!(read_response(&mut third, Duration::from_millis(500)).await.is_none(), "a third connection was served");
    drop(first);
    let response = read_response(&mut third, Duration::from_secs(5)).await.expect("served once a slot frees");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    server.stop().await;
}

// ---- body limits -----------------------------------------------------------------------------

const THIRTY_MB: usize = 30 * 1024 * 1024;

#[tokio::test]
async fn a_large_sync_without_a_token_is_refused_before_its_body_is_read() {
    let (_dir, server) = start(|_| {}).await;
    let mut conn = TcpStream::connect(server.addr).await.unwrap();
    let head =
        format!("POST /v1/sync HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {THIRTY_MB}\r\n\r\n");
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(&vec![b' '; 64 * 1024]).await.unwrap();
    // The answer comes with 30 MB still unsent: the server did not wait for the body.
    let response = read_response(&mut conn, Duration::from_secs(5)).await.expect("an answer before the body");
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    assert_eq!(json_body(&response)["error"]["code"], "unauthorized");

    // The same for a forged token.
    let mut conn = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /v1/sync HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer cdt_{}\r\nContent-Type: application/json\r\nContent-Length: {THIRTY_MB}\r\n\r\n",
        "ab".repeat(32)
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let response = read_response(&mut conn, Duration::from_secs(5)).await.expect("an answer before the body");
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    server.stop().await;
}

#[tokio::test]
async fn a_30_mb_sync_from_an_enrolled_device_is_refused_with_413_and_stores_nothing() {
    let (_dir, server) = start(|_| {}).await;
    let token = enrolled_token(&server).await;

    // Announced with Content-Length: refused before a byte of it is read.
    let mut conn = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /v1/sync HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {THIRTY_MB}\r\n\r\n"
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let response = read_response(&mut conn, Duration::from_secs(5)).await.expect("an answer before the body");
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    let body = json_body(&response);
    assert_eq!(body["error"]["code"], "payload_too_large");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("16 MiB") && message.contains("nothing was saved") && message.contains("update the app"), "{message}");
    assert!(response.to_ascii_lowercase().contains("connection: close"), "{response}");

    // What an HTTP client sees (the phone's reqwest): the JSON refusal, not a reset connection,
    // although it was still sending when the server answered.
    let resp = http_client()
        .post(format!("{}/v1/sync", server.url()))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(vec![b' '; THIRTY_MB])
        .send()
        .await
        .expect("the refusal reaches the client");
    assert_eq!(resp.status(), 413);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large");

    // Streamed without a length (chunked), a real sync padded to 30 MB: refused once the limit
    // is crossed; nothing of it is stored.
    let mut conn = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /v1/sync HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let (mut reader, mut writer) = conn.into_split();
    let sender = tokio::spawn(async move {
        let chunk = |data: &[u8]| [format!("{:x}\r\n", data.len()).into_bytes(), data.to_vec(), b"\r\n".to_vec()].concat();
        if writer.write_all(&chunk(br#"{"cursor": 0, "events": [], "padding": ""#)).await.is_err() {
            return;
        }
        let block = chunk(&vec![b'x'; 1024 * 1024]);
        for _ in 0..THIRTY_MB / (1024 * 1024) {
            if writer.write_all(&block).await.is_err() {
                break;
            }
        }
    });
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), reader.read_to_end(&mut got)).await;
    let response = String::from_utf8_lossy(&got);
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    sender.abort();
    assert_eq!(server.db.facility_events(&lic(LIC_A)).unwrap().len(), 0);
    server.stop().await;
}

#[tokio::test]
async fn enrolment_reads_at_most_a_small_body() {
    let (_dir, server) = start(|_| {}).await;
    let padding = "x".repeat(Config::DEFAULT_SMALL_BODY_LIMIT + 1);
    let resp = http_client()
        .post(format!("{}/v1/enrol", server.url()))
        .json(&serde_json::json!({"code": "ABCDEFGHJK", "device_name": padding}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    let body: Value = resp.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("8 KiB"), "{body}");
    // A sync of the same size is fine: its limit is the larger one.
    let token = enrolled_token(&server).await;
    let resp = http_client()
        .post(format!("{}/v1/sync", server.url()))
        .bearer_auth(token)
        .json(&serde_json::json!({"cursor": 0, "events": [], "padding": "x".repeat(Config::DEFAULT_SMALL_BODY_LIMIT + 1)}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    server.stop().await;
}

// ---- files -----------------------------------------------------------------------------------

#[cfg(unix)]
#[test]
fn the_data_folder_and_its_files_are_owner_only_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // The real binary under the most permissive umask, serving (so the WAL files exist).
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(r#"umask 000 && exec "$0" --data-dir "$1" --listen 127.0.0.1:0 serve"#)
        .arg(env!("CARGO_BIN_EXE_custody-server"))
        .arg(&data)
        .env("RUST_LOG", "warn")
        .env_remove("CUSTODY_DATA_KEY")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let db = data.join(custody_server::DB_FILE_NAME);
    let wal = data.join(format!("{}-wal", custody_server::DB_FILE_NAME));
    let shm = data.join(format!("{}-shm", custody_server::DB_FILE_NAME));
    let key = data.join(custody_server::data_key::DATA_KEY_FILE);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(db.exists() && wal.exists() && shm.exists() && key.exists()) {
        assert!(Instant::now() < deadline, "the server did not create its files");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let modes = [
        (data.clone(), mode(&data), 0o700),
        (db.clone(), mode(&db), 0o600),
        (wal.clone(), mode(&wal), 0o600),
        (shm.clone(), mode(&shm), 0o600),
        (key.clone(), mode(&key), 0o600),
    ];
    let _ = child.kill();
    let _ = child.wait();
    for (path, got, want) in modes {
        assert_eq!(got, want, "{} is {got:o}, not {want:o}", path.display());
    }
}
