//! The sync client: one round trip pushes this device's unacknowledged events and pulls what it
//! lacks. Safe to interrupt anywhere: the server stores pushed events idempotently and the device
//! applies an answer in one transaction, so a cut connection only means the round trip repeats.

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use reqwest::StatusCode;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ids::DeviceId;
use crate::protocol::{
    EnrolRequest, EnrolResponse, EnrolmentCode, ErrorBody, MAX_EVENTS_PER_SYNC, ManagerCredentials, RevokeRequest,
    SyncRequest, SyncResponse,
};
use crate::store::{DeviceIdentity, Store, StoreError};
use crate::tls::ServerTrust;

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("no connection to the sync server ({0}); your work is saved on this device and will sync later")]
    Offline(String),
    #[error("the sync server refused this device: {0}")]
    Unauthorized(String),
    #[error("the sync server answered {status}: {message}")]
    Server { status: u16, code: String, message: String },
    #[error("the sync server sent something this app cannot read ({0}); nothing was changed")]
    Protocol(String),
    #[error("{0}")]
    InsecureUrl(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SyncError {
    /// Whether trying again later may succeed without anyone doing anything.
    pub fn is_transient(&self) -> bool {
        match self {
            SyncError::Offline(_) => true,
            SyncError::Server { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }

    fn reached_server(&self) -> bool {
        !matches!(self, SyncError::Offline(_) | SyncError::Store(_))
    }
}

/// How hard to try before reporting the device offline.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub first_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { attempts: 4, first_delay: Duration::from_millis(250), max_delay: Duration::from_secs(5) }
    }
}

/// At most this many round trips in one sync; a busy fleet cannot keep a phone syncing forever.
const MAX_ROUND_TRIPS: u32 = 12;

/// What one [`SyncClient::sync`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub round_trips: u32,
    pub accepted: usize,
    pub rejected: usize,
    pub pulled: usize,
    pub doc_messages_sent: usize,
    pub doc_messages_received: usize,
    /// Work-document changes the server refused: (document, reason).
    pub doc_refusals: Vec<(uuid::Uuid, String)>,
}

#[derive(Clone)]
pub struct SyncClient {
    http: reqwest::Client,
    retry: RetryPolicy,
}

impl Default for SyncClient {
    fn default() -> Self {
        Self::new(RetryPolicy::default())
    }
}

impl SyncClient {
    /// A client that trusts the platform's certificate authorities (what the phones use).
    pub fn new(retry: RetryPolicy) -> Self {
        Self::with_trust(retry, &ServerTrust::platform())
    }

    /// A client that checks the server's certificate against `trust` (e.g. a private
    /// deployment's own authority beside the platform's).
    pub fn with_trust(retry: RetryPolicy, trust: &ServerTrust) -> Self {
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(trust.client_config())
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            // Below the server's idle timeout (30 s), so a pooled connection is not reused just
            // as the server closes it.
            .pool_idle_timeout(Duration::from_secs(20))
            .user_agent(concat!("custody-core/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("HTTP client builds with static settings");
        Self { http, retry }
    }

    /// Enrols this device with the one-time code a manager issued.
    pub async fn enrol(&self, store: &Store, server_url: &str, code: &str, device_name: &str) -> Result<DeviceIdentity, SyncError> {
        if let Some(existing) = store.identity()? {
            return Err(StoreError::AlreadyEnrolled(existing.facility).into());
        }
        let base = server_url.trim_end_matches('/');
        check_server_url(base)?;
        let body = EnrolRequest { code: code.trim().to_string(), device_name: device_name.to_string() };
        let response: EnrolResponse = self.post(&format!("{base}/v1/enrol"), None, &body).await?;
        Ok(store.save_enrolment(base, &response)?)
    }

    /// Pushes every pending event and pulls everything new, in as few round trips as the batch
    /// limit allows, recording the outcome for the sync status screen.
    pub async fn sync(&self, store: &Store) -> Result<SyncReport, SyncError> {
        let result = self.sync_inner(store).await;
        let note = result.as_ref().err().map(|e| (e.to_string(), e.reached_server()));
        store.note_sync_attempt(note.as_ref().map(|(m, r)| (m.as_str(), *r)))?;
        result
    }

    async fn sync_inner(&self, store: &Store) -> Result<SyncReport, SyncError> {
        let identity = store.identity()?.ok_or(StoreError::NotEnrolled)?;
        let token = store.token()?;
        let url = format!("{}/v1/sync", identity.server_url);
        let user = store.current_user()?.map(|u| u.id);
        let mut report = SyncReport::default();
        // Automerge sync states live in memory for the round trips of this sync (the stored
        // form keeps only what survives a reconnect).
        let mut states = HashMap::new();
        let mut docs = if user.is_some() { store.doc_messages(&mut states)? } else { Vec::new() };
        loop {
            // One more than fits tells whether another round trip is needed for events.
            let mut events = store.outbox(MAX_EVENTS_PER_SYNC + 1)?;
            let more_pending = events.len() > MAX_EVENTS_PER_SYNC;
            events.truncate(MAX_EVENTS_PER_SYNC);
            let pushed = events.len();
            report.doc_messages_sent += docs.len();
            // Patient data goes up only while its manager is signed in; the log lines always.
            let mut patients = store.patient_outbox()?;
            if store.current_user()?.is_none_or(|u| u.role != crate::roles::Role::Manager) {
                patients.uploads.clear();
            }
            let request = SyncRequest {
                cursor: store.cursor()?,
                events,
                user,
                docs,
                patients: patients.uploads.clone(),
                patient_views: patients.views.clone(),
                holds_patients: patients.holds.clone(),
            };
            let sent_at = Utc::now();
            let response: SyncResponse = self.post(&url, Some(&token), &request).await?;
            report.round_trips += 1;
            if response.verdicts.len() != pushed
                || response.verdicts.iter().zip(&request.events).any(|(v, e)| v.id != e.id)
            {
                return Err(SyncError::Protocol("the verdicts do not match the events sent".into()));
            }
            let applied = store.apply_sync(&response, sent_at)?;
            store.apply_outbound_sync(&patients, &response)?;
            report.accepted += applied.accepted;
            report.rejected += applied.rejected;
            report.pulled += applied.pulled;
            report.doc_messages_received += store.apply_doc_messages(&response.docs, &response.doc_refusals, &mut states)?;
            report.doc_refusals.extend(response.doc_refusals.iter().map(|r| (r.doc, r.reason.clone())));
            docs = if user.is_some() { store.doc_messages(&mut states)? } else { Vec::new() };
            let more_events = more_pending || response.has_more || applied.deferred > 0;
            if !more_events && docs.is_empty() {
                store.checkpoint()?;
                return Ok(report);
            }
            if report.round_trips >= MAX_ROUND_TRIPS {
                // Something keeps talking; stop here; the next sync carries on where this one left.
                tracing::warn!(round_trips = report.round_trips, "sync stopped after the round-trip limit");
                store.checkpoint()?;
                return Ok(report);
            }
        }
    }

    /// A manager, signed in with badge and PIN, issues an enrolment code for another device.
    pub async fn issue_enrolment_code(&self, store: &Store, badge: &str, pin: &str) -> Result<EnrolmentCode, SyncError> {
        let identity = store.identity()?.ok_or(StoreError::NotEnrolled)?;
        let body = ManagerCredentials { badge: badge.to_string(), pin: pin.to_string() };
        self.post(&format!("{}/v1/enrolment-codes", identity.server_url), Some(&store.token()?), &body).await
    }

    /// A manager revokes a lost or stolen device; its token stops working at once.
    pub async fn revoke_device(&self, store: &Store, device: DeviceId, badge: &str, pin: &str) -> Result<(), SyncError> {
        let identity = store.identity()?.ok_or(StoreError::NotEnrolled)?;
        let body = RevokeRequest { manager: ManagerCredentials { badge: badge.to_string(), pin: pin.to_string() } };
        let url = format!("{}/v1/devices/{device}/revoke", identity.server_url);
        let _: serde_json::Value = self.post(&url, Some(&store.token()?), &body).await?;
        Ok(())
    }

    /// POSTs JSON with retries and backoff for transient failures (no connection, 5xx, 429).
    async fn post<B: Serialize, R: DeserializeOwned>(&self, url: &str, token: Option<&str>, body: &B) -> Result<R, SyncError> {
        let mut delay = self.retry.first_delay;
        let mut attempt = 1;
        loop {
            match self.post_once(url, token, body).await {
                Err(e) if e.is_transient() && attempt < self.retry.attempts => {
                    tracing::debug!(attempt, error = %e, "sync call failed, retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(self.retry.max_delay);
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn post_once<B: Serialize, R: DeserializeOwned>(&self, url: &str, token: Option<&str>, body: &B) -> Result<R, SyncError> {
        let mut request = self.http.post(url).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| SyncError::Offline(describe(&e)))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| SyncError::Offline(describe(&e)))?;
        if status.is_success() {
            // An empty success body (e.g. 204) reads as JSON null.
            let text: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
            return serde_json::from_slice(text).map_err(|e| SyncError::Protocol(e.to_string()));
        }
        let (code, message) = match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => (body.error.code, body.error.message),
            Err(_) => ("http_error".to_string(), String::from_utf8_lossy(&bytes).chars().take(200).collect()),
        };
        if status == StatusCode::UNAUTHORIZED {
            return Err(SyncError::Unauthorized(message));
        }
        Err(SyncError::Server { status: status.as_u16(), code, message })
    }
}

/// The server address must be https, except on this machine (a reverse proxy or a test server on
/// loopback): a device token and PINs never cross a network in clear.
fn check_server_url(url: &str) -> Result<(), SyncError> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|_| SyncError::InsecureUrl(format!("{url:?} is not a server address; it looks like https://sync.example.com")))?;
    let host = parsed.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
    let loopback =
        host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(SyncError::InsecureUrl(format!(
            "the server address must start with https:// ({url} would send this device's token unprotected); check the address"
        ))),
    }
}

/// A transport error in words, without the URL's query or any header.
fn describe(e: &reqwest::Error) -> String {
    if let Some(problem) = crate::tls::certificate_problem(e) {
        return format!("the server cannot be trusted: {problem}");
    }
    if e.is_timeout() {
        "the server did not answer in time".into()
    } else if e.is_connect() {
        "cannot reach the server".into()
    } else {
        "the connection was interrupted".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_plain_http_server_address_is_refused_unless_it_is_this_machine() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("device.db"), &crate::store::StoreKey::generate()).unwrap();
        let client = SyncClient::new(RetryPolicy { attempts: 1, ..Default::default() });
        for url in ["http://sync.example.com", "http://10.0.2.2:8080", "ftp://sync.example.com", "sync.example.com"] {
            let err = client.enrol(&store, url, "ABCDEFGHJK", "Handheld").await.unwrap_err();
            assert!(matches!(&err, SyncError::InsecureUrl(_)), "{url}: {err}");
            assert!(store.identity().unwrap().is_none(), "{url}: nothing saved");
        }
        assert!(client.enrol(&store, "http://sync.example.com", "X", "Y").await.unwrap_err().to_string().contains("https://"));
        for url in ["https://sync.example.com", "http://127.0.0.1:9", "http://localhost:9", "http://[::1]:9"] {
            assert!(check_server_url(url).is_ok(), "{url}");
        }
    }
}
