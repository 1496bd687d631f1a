//! The HTTP API under `/v1`: routes, device authentication, and errors as JSON.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use custody_core::ids::{DeviceId, UserId};
use custody_core::outbound::NewOrder;
use custody_core::protocol::{
    CreatedOrder, EnrolRequest, EnrolResponse, EnrolmentCode, ErrorBody, ErrorDetail, Health, InventoryReport, PERSON_HEADER,
    ResetPinRequest, SignInRequest, SignInResponse, SyncRequest, SyncResponse,
};
use serde::de::DeserializeOwned;

use crate::config::Config;
use crate::db::{AuthedDevice, Db, DbError};
use crate::people::ProvenPerson;

/// How long a code issued from a device stays valid.
const API_CODE_TTL_HOURS: i64 = 24;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("send Content-Type: application/json")]
    UnsupportedMediaType,
    #[error("{0}")]
    MalformedJson(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("the request body is too large; send fewer events per sync")]
    PayloadTooLarge,
    #[error("{1}")]
    BadBody(StatusCode, String),
    #[error("there is no {0} in this API; check the URL")]
    NotFound(String),
    #[error("this URL does not accept that method; check the API documentation")]
    MethodNotAllowed,
    #[error("a background task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("this request was already made once; make it again")]
    Replayed,
    #[error("{0}")]
    Forbidden(String),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        use StatusCode as S;
        match self {
            ApiError::Db(db) => match db {
                DbError::InvalidEvent(_) => (S::UNPROCESSABLE_ENTITY, "invalid_event"),
                DbError::InvalidInput(_) | DbError::Secret(crate::secret::SecretError::InvalidPin) => {
                    (S::UNPROCESSABLE_ENTITY, "invalid_request")
                }
                DbError::EnrolmentCodeInvalid => (S::UNAUTHORIZED, "enrolment_code_invalid"),
                DbError::Unauthorized => (S::UNAUTHORIZED, "unauthorized"),
                DbError::DeviceRevoked(_) => (S::UNAUTHORIZED, "device_revoked"),
                DbError::WrongCredentials | DbError::NotManager { .. } | DbError::SignInRequired => (S::FORBIDDEN, "forbidden"),
                DbError::Deactivated { .. } => (S::FORBIDDEN, "deactivated"),
                DbError::Locked { .. } => (S::TOO_MANY_REQUESTS, "too_many_attempts"),
                DbError::ProofRefused(_) => (S::UNAUTHORIZED, "person_not_proven"),
                DbError::UnknownDevice(_) | DbError::UnknownUser(_) | DbError::UnknownBadge { .. } => (S::NOT_FOUND, "not_found"),
                _ => (S::INTERNAL_SERVER_ERROR, "internal"),
            },
            ApiError::UnsupportedMediaType => (S::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            ApiError::MalformedJson(_) => (S::BAD_REQUEST, "malformed_json"),
            ApiError::InvalidRequest(_) => (S::UNPROCESSABLE_ENTITY, "invalid_request"),
            ApiError::PayloadTooLarge => (S::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::BadBody(status, _) => (*status, "bad_request"),
            ApiError::NotFound(_) => (S::NOT_FOUND, "not_found"),
            ApiError::MethodNotAllowed => (S::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::Task(_) => (S::INTERNAL_SERVER_ERROR, "internal"),
            ApiError::Replayed => (S::CONFLICT, "replayed"),
            ApiError::Forbidden(_) => (S::FORBIDDEN, "forbidden"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        // A lock says, in seconds, when to try again.
        let retry_after = match &self {
            ApiError::Db(DbError::Locked { until, .. }) => Some((*until - chrono::Utc::now()).num_seconds().max(1).to_string()),
            _ => None,
        };
        let message = if status.is_server_error() {
            // Details stay in the log; the client gets something a person can act on.
            tracing::error!(error = %self, "request failed");
            "the server could not complete this request; try again, and tell support if it keeps happening".to_string()
        } else {
            self.to_string()
        };
        let mut response = (status, Json(ErrorBody { error: ErrorDetail { code: code.to_string(), message } })).into_response();
        if let Some(seconds) = retry_after.and_then(|s| header::HeaderValue::from_str(&s).ok()) {
            response.headers_mut().insert(header::RETRY_AFTER, seconds);
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
            JsonRejection::JsonSyntaxError(e) => ApiError::MalformedJson(e.body_text()),
            JsonRejection::JsonDataError(e) => ApiError::InvalidRequest(e.body_text()),
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
            other => ApiError::BadBody(other.status(), other.body_text()),
        }
    }
}

/// `Json` whose rejections are JSON errors like every other error of the API.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Json(value) = Json::<T>::from_request(req, state).await?;
        Ok(JsonBody(value))
    }
}

#[derive(Clone)]
struct AppState {
    db: Db,
    proofs: SeenProofs,
}

/// Signatures of person proofs accepted within the proof window: the same proof twice is a
/// replay (a phone signs every attempt afresh), refused even inside the window.
#[derive(Clone, Default)]
struct SeenProofs(std::sync::Arc<std::sync::Mutex<std::collections::HashMap<[u8; 64], Instant>>>);

/// Enough for every proof a busy fleet makes in the window; beyond it, the oldest go first.
const SEEN_PROOFS_CAP: usize = 200_000;

impl SeenProofs {
    /// True the first time a signature is presented.
    fn first_use(&self, signature: &custody_core::signing::Signature) -> bool {
        let window = std::time::Duration::from_millis(2 * crate::people::PROOF_WINDOW_MS as u64);
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= SEEN_PROOFS_CAP {
            seen.retain(|_, at| at.elapsed() < window);
            if seen.len() >= SEEN_PROOFS_CAP
                && let Some(oldest) = seen.iter().min_by_key(|(_, at)| **at).map(|(k, _)| *k)
            {
                seen.remove(&oldest);
            }
        }
        seen.insert(*signature.as_bytes(), Instant::now()).is_none()
    }
}

/// Runs blocking database work off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, DbError> + Send + 'static) -> Result<T, ApiError> {
    Ok(tokio::task::spawn_blocking(f).await??)
}

/// The enrolled device behind `Authorization: Bearer <token>`.
struct Device(AuthedDevice);

impl FromRequestParts<AppState> for Device {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim().to_string())
            .ok_or(DbError::Unauthorized)?;
        let db = state.db.clone();
        let device = blocking(move || db.authenticate(&token)).await?;
        // For `Signed`, which reads the body after the token was checked.
        parts.extensions.insert(device.clone());
        Ok(Device(device))
    }
}

/// A JSON body and who, among the people signed in on the device, sent it: the
/// [`PERSON_HEADER`] verified against the exact bytes of the body. Must follow [`Device`] in a
/// handler's arguments (the body is read only after the device token was checked).
struct Signed<T> {
    /// `None`: no proof was sent. `Some(Err)`: one was sent and refused, with the reason.
    person: Option<Result<ProvenPerson, String>>,
    body: T,
}

impl<T> Signed<T> {
    /// The proven person, whoever they are.
    fn person(&self) -> Result<ProvenPerson, ApiError> {
        match &self.person {
            None => Err(DbError::SignInRequired.into()),
            Some(Err(reason)) => Err(DbError::ProofRefused(reason.clone()).into()),
            Some(Ok(p)) => Ok(p.clone()),
        }
    }

    /// The proven person, who must be a manager, compliance officer or admin: who handles
    /// failed state submissions.
    fn state_resolver(&self) -> Result<ProvenPerson, ApiError> {
        let person = self.person()?;
        crate::state::outbox::may_resolve(&person).map_err(ApiError::Forbidden)?;
        Ok(person)
    }

    /// The proven person, who must be a manager (or admin) of the device's facility.
    fn manager(&self) -> Result<ProvenPerson, ApiError> {
        match &self.person {
            None => Err(DbError::SignInRequired.into()),
            Some(Err(reason)) => Err(DbError::ProofRefused(reason.clone()).into()),
            Some(Ok(p)) if p.is_manager() => Ok(p.clone()),
            Some(Ok(p)) => Err(DbError::NotManager { name: p.name.clone(), role: p.role }.into()),
        }
    }
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for Signed<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let device = req.extensions().get::<AuthedDevice>().cloned().ok_or(DbError::Unauthorized)?;
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")));
        if !json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let proof = req.headers().get(PERSON_HEADER).map(|v| v.to_str().map(str::to_string));
        let method = req.method().to_string();
        let path = req.uri().path().to_string();
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadBody(rejection.status(), rejection.body_text())
            }
        })?;
        let body = serde_json::from_slice::<T>(&bytes).map_err(|e| match e.classify() {
            serde_json::error::Category::Data => ApiError::InvalidRequest(e.to_string()),
            _ => ApiError::MalformedJson(e.to_string()),
        })?;
        let person = match proof {
            None => None,
            Some(Err(_)) => Some(Err(format!("the {PERSON_HEADER} header is not text"))),
            Some(Ok(header)) => {
                let db = state.db.clone();
                let verified = blocking(move || db.verify_person(&device, &header, &method, &path, &bytes)).await?;
                Some(match verified {
                    Ok((person, signature)) if state.proofs.first_use(&signature) => Ok(person),
                    Ok(_) => return Err(ApiError::Replayed),
                    Err(reason) => Err(reason),
                })
            }
        };
        Ok(Signed { person, body })
    }
}

/// The client's address, as the serve loop recorded it: `ConnectInfo<SocketAddr>` in the
/// request's extensions (`into_make_service_with_connect_info`, or any loop that inserts it).
/// Without it, `None`: the enrolment throttle then counts all such clients together.
struct ClientAddr(Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip())))
    }
}

pub fn router(db: Db, config: &Config) -> Router {
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/enrol", post(enrol))
        .route("/v1/sign-in", post(sign_in))
        .route("/v1/enrolment-codes", post(issue_code))
        .route("/v1/devices/{id}/revoke", post(revoke))
        .route("/v1/users/{id}/deactivate", post(deactivate_user))
        .route("/v1/users/{id}/pin", post(reset_pin))
        .route("/v1/sync", post(sync).layer(middleware::from_fn_with_state(config.sync_body_limit, crate::limits::allow_body)))
        .route("/v1/inventory", get(inventory))
        .route("/v1/state/status", get(state_status))
        .route("/v1/state/events/{id}", get(state_event))
        .route("/v1/state/failed", post(state_failed))
        .route("/v1/state/failed/{seq}/resubmit", post(state_resubmit))
        .route("/v1/state/failed/{seq}/dismiss", post(state_dismiss))
        .route("/v1/orders", post(create_order).layer(middleware::from_fn_with_state(config.order_body_limit, crate::limits::allow_body)))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Per-route body limits, the body deadline and the request cap: crate::limits. axum's
        // own limit stays as a backstop at the largest of them.
        .layer(DefaultBodyLimit::max(config.sync_body_limit.max(config.order_body_limit).max(config.small_body_limit)))
        .layer(middleware::from_fn_with_state(crate::limits::Limits::new(config), crate::limits::guard))
        .layer(middleware::from_fn(log_request))
        .with_state(AppState { db, proofs: SeenProofs::default() })
}

/// One line per request: no headers and no bodies, which carry tokens, PINs and codes.
async fn log_request(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let started = Instant::now();
    let response = next.run(req).await;
    tracing::info!(
        %method,
        %path,
        status = response.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    response
}

async fn health() -> Json<Health> {
    Json(Health { status: "ok".into(), version: env!("CARGO_PKG_VERSION").into() })
}

async fn not_found(req: Request) -> ApiError {
    ApiError::NotFound(format!("{} {}", req.method(), req.uri().path()))
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

async fn enrol(
    State(state): State<AppState>,
    ClientAddr(from): ClientAddr,
    JsonBody(req): JsonBody<EnrolRequest>,
) -> Result<Json<EnrolResponse>, ApiError> {
    let db = state.db.clone();
    let response = blocking(move || db.enrol(&req.code, &req.device_name, from)).await?;
    tracing::info!(facility = %response.facility, device = %response.device_id, "device enrolled");
    Ok(Json(response))
}

/// A person's online sign-in on the device: badge and PIN checked here (counted against the
/// badge and the device before the check runs, decision 0014), the device's new signing key
/// registered for them.
async fn sign_in(
    State(state): State<AppState>,
    Device(device): Device,
    JsonBody(req): JsonBody<SignInRequest>,
) -> Result<Json<SignInResponse>, ApiError> {
    let db = state.db.clone();
    let response = blocking(move || db.sign_in(&device, &req)).await?;
    Ok(Json(response))
}

/// An empty JSON object, the body of calls whose meaning is all in the URL.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

async fn issue_code(State(state): State<AppState>, Device(device): Device, signed: Signed<Empty>) -> Result<Json<EnrolmentCode>, ApiError> {
    let manager = signed.manager()?;
    let db = state.db.clone();
    let (facility, from) = (device.facility.clone(), device.id);
    let code =
        blocking(move || db.issue_enrolment_code_from(&facility, manager.id, from, chrono::Duration::hours(API_CODE_TTL_HOURS))).await?;
    tracing::info!(facility = %device.facility, device = %device.id, "enrolment code issued");
    Ok(Json(code))
}

async fn revoke(
    State(state): State<AppState>,
    Device(device): Device,
    Path(target): Path<String>,
    signed: Signed<Empty>,
) -> Result<StatusCode, ApiError> {
    let manager = signed.manager()?;
    // An id that does not parse is a device that does not exist here.
    let target = DeviceId::parse(&target).map_err(|_| ApiError::NotFound(format!("device {target:?}")))?;
    let db = state.db.clone();
    let facility = device.facility.clone();
    blocking(move || db.revoke_device_at(&facility, target)).await?;
    tracing::info!(facility = %device.facility, by = %device.id, manager = %manager.id, revoked = %target, "device revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// A manager deactivates a person at their facility.
async fn deactivate_user(
    State(state): State<AppState>,
    Device(device): Device,
    Path(target): Path<String>,
    signed: Signed<Empty>,
) -> Result<StatusCode, ApiError> {
    let (manager, target) = (signed.manager()?, person_in_path(&target)?);
    let db = state.db.clone();
    blocking(move || db.deactivate_person(&device.facility, &manager, target)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A manager sets a new PIN for a person at their facility.
async fn reset_pin(
    State(state): State<AppState>,
    Device(device): Device,
    Path(target): Path<String>,
    signed: Signed<ResetPinRequest>,
) -> Result<StatusCode, ApiError> {
    let (manager, target) = (signed.manager()?, person_in_path(&target)?);
    let db = state.db.clone();
    blocking(move || db.reset_pin_by(&device.facility, &manager, target, &signed.body.pin)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The person a URL names: an id that does not parse is a person that does not exist here.
fn person_in_path(text: &str) -> Result<UserId, ApiError> {
    UserId::parse(text).map_err(|_| ApiError::NotFound(format!("person {text:?}")))
}

async fn sync(State(state): State<AppState>, Device(device): Device, signed: Signed<SyncRequest>) -> Result<Json<SyncResponse>, ApiError> {
    let db = state.db.clone();
    let who = device.clone();
    let (person, refused) = match signed.person {
        None => (None, None),
        Some(Ok(person)) => (Some(person), None),
        Some(Err(reason)) => (None, Some(reason)),
    };
    let mut req = signed.body;
    if refused.is_some() {
        // The phone signed the request but the proof did not hold (most often its clock): its
        // document messages are left for the round it signs again, not refused.
        req.docs.clear();
    }
    let (mut response, counts) = blocking(move || db.sync(&who, person.as_ref(), &req)).await?;
    response.person_refused = refused;
    tracing::info!(
        facility = %device.facility,
        device = %device.id,
        accepted = counts.accepted,
        rejected = counts.rejected,
        pulled = counts.pulled,
        docs_received = counts.docs_received,
        doc_refusals = counts.doc_refusals,
        docs_sent = counts.docs_sent,
        cursor = response.cursor,
        "sync"
    );
    Ok(Json(response))
}

/// The facility's inventory and conflicts as the server folds them (the office's view).
async fn inventory(State(state): State<AppState>, Device(device): Device) -> Result<Json<InventoryReport>, ApiError> {
    let db = state.db.clone();
    let inventory = blocking(move || db.inventory(&device.facility)).await?;
    Ok(Json(InventoryReport::from_inventory(&inventory)))
}

/// An order entered in the office by a manager signed in on an enrolled device (proven by their
/// signature over the request). Refused with the reason (unknown customer, not enough stock).
async fn create_order(
    State(state): State<AppState>,
    Device(device): Device,
    signed: Signed<NewOrder>,
) -> Result<(StatusCode, Json<CreatedOrder>), ApiError> {
    let manager = signed.manager()?;
    if manager.role != custody_core::roles::Role::Manager {
        return Err(DbError::NotManager { name: manager.name, role: manager.role }.into());
    }
    let db = state.db.clone();
    let who = device.clone();
    let id = blocking(move || db.create_order(&who, manager.id, &signed.body)).await?;
    tracing::info!(facility = %device.facility, device = %device.id, order = %id, "order entered");
    Ok((StatusCode::CREATED, Json(CreatedOrder { id })))
}

/// How the facility's writes to the state stand: the connection (never its keys) and counts
/// by status. Any enrolled device may see it; the failed writes themselves are listed only to
/// those who handle them ([`state_failed`]).
async fn state_status(State(state): State<AppState>, Device(device): Device) -> Result<Json<crate::state::outbox::OutboxStatus>, ApiError> {
    let db = state.db.clone();
    let mut status = blocking(move || db.state_status(&device.facility)).await?;
    status.failed_writes.clear();
    Ok(Json(status))
}

/// The state status of one ledger event: its write, or `not_required`.
async fn state_event(
    State(state): State<AppState>,
    Device(device): Device,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = uuid::Uuid::parse_str(&id).map_err(|_| ApiError::NotFound(format!("event {id:?}")))?;
    let db = state.db.clone();
    let write = blocking(move || db.event_state_status(&device.facility, id)).await?;
    Ok(Json(match write {
        Some(w) => serde_json::json!({"status": w.status, "write": w}),
        None => serde_json::json!({"status": "not_required"}),
    }))
}

/// The failed-submission queue with the state's messages, for a manager or compliance officer.
/// A POST because the person's proof signs a body.
async fn state_failed(
    State(state): State<AppState>,
    Device(device): Device,
    signed: Signed<Empty>,
) -> Result<Json<Vec<crate::state::outbox::WriteView>>, ApiError> {
    signed.state_resolver()?;
    let db = state.db.clone();
    let status = blocking(move || db.state_status(&device.facility)).await?;
    Ok(Json(status.failed_writes))
}

/// The number of a state submission in a URL; one that does not parse does not exist here.
fn submission_in_path(text: &str) -> Result<i64, ApiError> {
    text.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| ApiError::NotFound(format!("state submission {text:?}")))
}

/// A manager or compliance officer sends a failed write again after fixing what the state objected to.
async fn state_resubmit(
    State(state): State<AppState>,
    Device(device): Device,
    Path(seq): Path<String>,
    signed: Signed<Empty>,
) -> Result<StatusCode, ApiError> {
    let (person, seq) = (signed.state_resolver()?, submission_in_path(&seq)?);
    let db = state.db.clone();
    blocking(move || db.resubmit_state_write(&device.facility, &person, seq)).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DismissRequest {
    reason: String,
}

/// A manager or compliance officer takes a failed write out of the queue, saying why.
async fn state_dismiss(
    State(state): State<AppState>,
    Device(device): Device,
    Path(seq): Path<String>,
    signed: Signed<DismissRequest>,
) -> Result<StatusCode, ApiError> {
    let (person, seq) = (signed.state_resolver()?, submission_in_path(&seq)?);
    let db = state.db.clone();
    blocking(move || db.dismiss_state_write(&device.facility, &person, seq, &signed.body.reason)).await?;
    Ok(StatusCode::NO_CONTENT)
}
