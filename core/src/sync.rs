//! The sync client: one round trip pushes this device's unacknowledged events and pulls what it
//! lacks. Safe to interrupt anywhere: the server stores pushed events idempotently and the device
//! applies an answer in one transaction, so a cut connection only means the round trip repeats.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::StatusCode;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ids::{DeviceId, UserId};
use crate::protocol::{
    EnrolRequest, EnrolResponse, EnrolmentCode, ErrorBody, MAX_EVENT_BYTES_PER_SYNC, MAX_EVENTS_PER_SYNC, PERSON_HEADER, ResetPinRequest,
    SignInRequest, SignInResponse, SyncRequest, SyncResponse,
};
use crate::signing::{SigningKey, registration_message};
use crate::store::{DeviceIdentity, SignedInUser, Store, StoreError};
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
    /// Why the server did not accept the signed-in person's proof (the sync went on as the
    /// device's alone: no work documents, no patient data).
    pub person_refused: Option<String>,
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
        if let Some(existing) = off_runtime(store, |store| store.identity()).await? {
            return Err(StoreError::AlreadyEnrolled(existing.facility).into());
        }
        let base = server_url.trim_end_matches('/');
        check_server_url(base)?;
        let body = EnrolRequest { code: code.trim().to_string(), device_name: device_name.to_string() };
        let response: EnrolResponse = self.post(&format!("{base}/v1/enrol"), None, None, &body).await?;
        let (base, response) = (base.to_string(), response);
        Ok(off_runtime(store, move |store| store.save_enrolment(&base, &response)).await?)
    }

    /// Signs a person in: offline if this device holds their signing key (the PIN opens it),
    /// otherwise online — the server checks badge and PIN and registers a new key for them on
    /// this device, which is then sealed here under the PIN and the store key.
    pub async fn sign_in(&self, store: &Store, badge: &str, pin: &str) -> Result<SignedInUser, SyncError> {
        // The PIN opens the sealed key through Argon2: tens of milliseconds, not for an async worker.
        let (b, p) = (badge.to_string(), pin.to_string());
        match off_runtime(store, move |store| store.sign_in(&b, &p)).await {
            Err(offline @ (StoreError::NeedsOnlineSignIn | StoreError::SignInKeyErased)) => {
                match self.sign_in_online(store, badge, pin).await {
                    // Without a connection, why it had to go online is what the person needs.
                    Err(SyncError::Offline(_)) => Err(offline.into()),
                    other => other,
                }
            }
            other => Ok(other?),
        }
    }

    /// The online half of [`sign_in`](Self::sign_in), also for a person whose key here was
    /// erased or revoked.
    pub async fn sign_in_online(&self, store: &Store, badge: &str, pin: &str) -> Result<SignedInUser, SyncError> {
        let (identity, token) = off_runtime(store, |store| Ok((store.identity()?.ok_or(StoreError::NotEnrolled)?, store.token()?))).await?;
        let key = SigningKey::generate();
        let badge = badge.trim().to_string();
        let public_key = key.public_key();
        let proof = key.sign(&registration_message(identity.device_id, &badge, &public_key));
        let body = SignInRequest { badge, pin: pin.to_string(), public_key, proof };
        let url = format!("{}/v1/sign-in", identity.server_url);
        let response: SignInResponse = match self.post(&url, Some(&token), None, &body).await {
            // The server's "wrong badge or PIN" is the same answer an offline check gives.
            Err(SyncError::Server { status: 403, .. }) => return Err(StoreError::BadCredentials.into()),
            other => other?,
        };
        let pin = pin.to_string();
        Ok(off_runtime(store, move |store| store.complete_online_sign_in(&pin, key, &response)).await?)
    }

    /// Pushes every pending event and pulls everything new, in as few round trips as the batch
    /// limit allows, recording the outcome for the sync status screen.
    pub async fn sync(&self, store: &Store) -> Result<SyncReport, SyncError> {
        let result = self.sync_inner(store).await;
        let note = result.as_ref().err().map(|e| (e.to_string(), e.reached_server()));
        off_runtime(store, move |store| store.note_sync_attempt(note.as_ref().map(|(m, r)| (m.as_str(), *r)))).await?;
        result
    }

    async fn sync_inner(&self, store: &Store) -> Result<SyncReport, SyncError> {
        let (identity, token, user) = off_runtime(store, |store| {
            let identity = store.identity()?.ok_or(StoreError::NotEnrolled)?;
            Ok((identity, store.token()?, store.current_user()?.map(|u| u.id)))
        })
        .await?;
        let url = format!("{}/v1/sync", identity.server_url);
        let mut report = SyncReport::default();
        let mut proof_retried = false;
        // Automerge sync states live in memory for the round trips of this sync (the stored
        // form keeps only what survives a reconnect). They travel with each blocking step.
        let mut states = HashMap::new();
        let mut docs = Vec::new();
        if user.is_some() {
            (docs, states) = off_runtime(store, move |store| store.doc_messages(&mut states).map(|docs| (docs, states))).await?;
        }
        loop {
            // Everything this round sends, read in one step off the async workers.
            let (request, patients, pushed, more_pending, sent_at) = off_runtime(store, move |store| {
                // One more than fits tells whether another round trip is needed for events.
                let mut events = store.outbox(MAX_EVENTS_PER_SYNC + 1)?;
                let fits = events_within_budget(&events);
                let more_pending = events.len() > fits;
                events.truncate(fits);
                let pushed = events.len();
                // Patient data goes up only while its manager is signed in; the log lines always.
                let mut patients = store.work(crate::outbound::patients::outbox)?;
                if store.current_user()?.is_none_or(|u| u.role != crate::roles::Role::Manager) {
                    patients.uploads.clear();
                }
                let request = SyncRequest {
                    cursor: store.cursor()?,
                    events,
                    docs,
                    patients: patients.uploads.clone(),
                    patient_views: patients.views.clone(),
                    holds_patients: patients.holds.clone(),
                    // The server sends the state's data again only when it changed since.
                    state_revision: store.state_revision()?,
                    // Likewise the facility's settings.
                    settings_revision: store.settings_revision()?,
                };
                Ok((request, patients, pushed, more_pending, store.device_clock()))
            })
            .await?;
            report.doc_messages_sent += request.docs.len();
            let response: SyncResponse = self.post(&url, Some(&token), Some(store), &request).await?;
            report.round_trips += 1;
            if response.verdicts.len() != pushed || response.verdicts.iter().zip(&request.events).any(|(v, e)| v.id != e.id) {
                return Err(SyncError::Protocol("the verdicts do not match the events sent".into()));
            }
            // A proof refused for its time: this round corrected the clock, so sign again once. The
            // server left the document messages aside: they go again, from the stored states.
            let retry_proof = response.person_refused.is_some() && user.is_some() && !proof_retried;
            proof_retried |= retry_proof;
            let step;
            (step, states, docs) = off_runtime(store, move |store| {
                let applied = store.apply_sync(&response, sent_at)?;
                store.work(|w| crate::outbound::patients::apply_sync(w, &patients, &response))?;
                let received = store.apply_doc_messages(&response.docs, &response.doc_refusals, &mut states)?;
                if retry_proof {
                    states.clear();
                }
                let docs = if user.is_some() { store.doc_messages(&mut states)? } else { Vec::new() };
                let more_events = more_pending || response.has_more || applied.deferred > 0 || retry_proof;
                if !more_events && docs.is_empty() {
                    store.checkpoint()?;
                }
                Ok(((applied, received, response, more_events), states, docs))
            })
            .await?;
            let (applied, received, response, more_events) = step;
            report.accepted += applied.accepted;
            report.rejected += applied.rejected;
            report.pulled += applied.pulled;
            report.doc_messages_received += received;
            report.doc_refusals.extend(response.doc_refusals.iter().map(|r| (r.doc, r.reason.clone())));
            report.person_refused = response.person_refused;
            if !more_events && docs.is_empty() {
                return Ok(report);
            }
            if report.round_trips >= MAX_ROUND_TRIPS {
                // Something keeps talking; stop here; the next sync carries on where this one left.
                tracing::warn!(round_trips = report.round_trips, "sync stopped after the round-trip limit");
                off_runtime(store, |store| store.checkpoint()).await?;
                return Ok(report);
            }
        }
    }

    /// The manager signed in on this device issues an enrolment code for another device.
    pub async fn issue_enrolment_code(&self, store: &Store) -> Result<EnrolmentCode, SyncError> {
        self.manager_call(store, "/v1/enrolment-codes".to_string(), &serde_json::json!({})).await
    }

    /// The manager signed in on this device revokes a lost or stolen device; its token stops
    /// working at once, and the keys of everyone who signed in on it are revoked.
    pub async fn revoke_device(&self, store: &Store, device: DeviceId) -> Result<(), SyncError> {
        let _: serde_json::Value = self.manager_call(store, format!("/v1/devices/{device}/revoke"), &serde_json::json!({})).await?;
        Ok(())
    }

    /// The manager signed in on this device deactivates a person: their events are refused from
    /// now on, and every phone signs them out and erases their key at its next sync.
    pub async fn deactivate_user(&self, store: &Store, user: UserId) -> Result<(), SyncError> {
        let _: serde_json::Value = self.manager_call(store, format!("/v1/users/{user}/deactivate"), &serde_json::json!({})).await?;
        Ok(())
    }

    /// The manager signed in on this device sets a new PIN for a person; their keys on every
    /// device are revoked, so they sign in online with the new PIN next.
    pub async fn reset_pin(&self, store: &Store, user: UserId, pin: &str) -> Result<(), SyncError> {
        let body = ResetPinRequest { pin: pin.to_string() };
        let _: serde_json::Value = self.manager_call(store, format!("/v1/users/{user}/pin"), &body).await?;
        Ok(())
    }

    /// The manager signed in on this device enters an order through the server (the office's
    /// way in): the server checks it against its own inventory and open orders. Returns its id.
    pub async fn submit_order(&self, store: &Store, order: &crate::outbound::NewOrder) -> Result<uuid::Uuid, SyncError> {
        let created: crate::protocol::CreatedOrder = self.manager_call(store, "/v1/orders".to_string(), order).await?;
        Ok(created.id)
    }

    /// A call the server allows only to a manager, proven by the signed-in person's signature.
    async fn manager_call<B: Serialize, R: DeserializeOwned>(&self, store: &Store, path: String, body: &B) -> Result<R, SyncError> {
        let (identity, token) = off_runtime(store, |store| {
            let identity = store.identity()?.ok_or(StoreError::NotEnrolled)?;
            store.current_user()?.ok_or(StoreError::NotSignedIn)?;
            Ok((identity, store.token()?))
        })
        .await?;
        self.post(&format!("{}{path}", identity.server_url), Some(&token), Some(store), body).await
    }

    /// POSTs JSON with retries and backoff for transient failures (no connection, 5xx, 429).
    /// With `person`, each attempt carries the signed-in person's proof over the exact body.
    async fn post<B: Serialize, R: DeserializeOwned>(
        &self,
        url: &str,
        token: Option<&str>,
        person: Option<&Store>,
        body: &B,
    ) -> Result<R, SyncError> {
        let bytes = serde_json::to_vec(body).map_err(|e| SyncError::Protocol(e.to_string()))?;
        let path = reqwest::Url::parse(url).map_err(|e| SyncError::Protocol(e.to_string()))?.path().to_string();
        let mut delay = self.retry.first_delay;
        let mut attempt = 1;
        loop {
            // Signed afresh each attempt, by the corrected clock: a proof is only good for minutes.
            let proof = match person {
                Some(store) => {
                    let (path, bytes) = (path.clone(), bytes.clone());
                    off_runtime(store, move |store| store.person_proof("POST", &path, &bytes)).await?.map(|p| p.header_value())
                }
                None => None,
            };
            match self.post_once(url, token, proof.as_deref(), bytes.clone()).await {
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

    async fn post_once<R: DeserializeOwned>(
        &self,
        url: &str,
        token: Option<&str>,
        proof: Option<&str>,
        body: Vec<u8>,
    ) -> Result<R, SyncError> {
        let mut request = self.http.post(url).header(reqwest::header::CONTENT_TYPE, "application/json").body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(proof) = proof {
            request = request.header(PERSON_HEADER, proof);
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

/// Runs a step of store work on tokio's blocking pool: SQLite calls, fsyncs and Argon2 would
/// otherwise stall an async worker (and, in the apps, every other call waiting on it). The store
/// is a shared handle, so the step owns a clone. A panic in the step is the caller's panic.
async fn off_runtime<T: Send + 'static>(
    store: &Store,
    step: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let store = store.clone();
    match tokio::task::spawn_blocking(move || step(&store)).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Only when the runtime shuts down under it; the step's transaction rolled back or committed whole.
        Err(_) => Err(StoreError::Refused("the app stopped before this step finished; nothing was lost, sync again".into())),
    }
}

/// How many of `events` (in chain order) go in one request: at most [`MAX_EVENTS_PER_SYNC`] and
/// [`MAX_EVENT_BYTES_PER_SYNC`] of JSON, and always at least one.
fn events_within_budget(events: &[crate::event::Event]) -> usize {
    let mut bytes = 0;
    for (i, event) in events.iter().enumerate().take(MAX_EVENTS_PER_SYNC) {
        bytes += serde_json::to_vec(event).map(|b| b.len()).unwrap_or(0) + 1;
        if bytes > MAX_EVENT_BYTES_PER_SYNC && i > 0 {
            return i;
        }
    }
    events.len().min(MAX_EVENTS_PER_SYNC)
}

/// The server address must be https, except on this machine (a reverse proxy or a test server on
/// loopback): a device token and PINs never cross a network in clear.
fn check_server_url(url: &str) -> Result<(), SyncError> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|_| SyncError::InsecureUrl(format!("{url:?} is not a server address; it looks like https://sync.example.com")))?;
    let host = parsed.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
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
    use crate::event::{EventBody, GENESIS_HASH, UnsealedEvent};

    fn event(note_len: usize) -> crate::event::Event {
        UnsealedEvent {
            id: uuid::Uuid::now_v7(),
            facility: crate::ids::LicenseNumber::parse("C11-0000001-LIC").unwrap(),
            tag: crate::ids::PackageTag::parse("1A4FF0100000022000001234").unwrap(),
            user: crate::ids::UserId::new(),
            device: crate::ids::DeviceId::new(),
            device_seq: 1,
            hlc: crate::hlc::Hlc { wall_ms: 1, counter: 0 },
            parent: None,
            body: EventBody::Quarantined { reason: "x".repeat(note_len) },
            prev_hash: GENESIS_HASH.into(),
        }
        .seal()
    }

    #[test]
    fn a_request_carries_at_most_the_event_budget_and_at_least_one_event() {
        let small: Vec<_> = (0..10).map(|_| event(10)).collect();
        assert_eq!(events_within_budget(&small), 10);
        // 1,000 events with 8 KB notes (more than any accepted note) go up in several requests.
        let big: Vec<_> = (0..1_000).map(|_| event(8 * 1024)).collect();
        let first = events_within_budget(&big);
        assert!(first < 1_000 && first > 100, "{first}");
        let bytes: usize = big[..first].iter().map(|e| serde_json::to_vec(e).unwrap().len()).sum();
        assert!(bytes <= MAX_EVENT_BYTES_PER_SYNC);
        assert_eq!(events_within_budget(&big[..1]), 1, "one event always goes");
    }

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

    /// The store's work in a sync waits on the database like any other call (here, another thread
    /// holds the connection, as a long scan on the UI thread would). On a runtime with one worker
    /// that wait must not stop other tasks: the task that lets the other thread finish still runs.
    #[test]
    fn a_sync_waiting_for_the_database_leaves_the_async_worker_free() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("device.db"), &crate::store::StoreKey::generate()).unwrap();
        let (locked_tx, locked_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let holder = {
            let store = store.clone();
            std::thread::spawn(move || {
                let _held = store.conn();
                locked_tx.send(()).unwrap();
                // Without the release from the async side this gives up after 10 s and the test fails.
                release_rx.recv_timeout(Duration::from_secs(10)).is_ok()
            })
        };
        locked_rx.recv().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let outcome = runtime.block_on(async {
            let sync = tokio::spawn({
                let store = store.clone();
                async move { SyncClient::new(RetryPolicy::default()).sync(&store).await }
            });
            // Let the sync start and reach the database; then this task, on the same single
            // worker, releases the other thread.
            tokio::time::sleep(Duration::from_millis(50)).await;
            release_tx.send(()).unwrap();
            sync.await.unwrap()
        });
        assert!(holder.join().unwrap(), "the sync blocked the only async worker while it waited for the database");
        assert!(matches!(outcome, Err(SyncError::Store(StoreError::NotEnrolled))), "{outcome:?}");
    }
}
