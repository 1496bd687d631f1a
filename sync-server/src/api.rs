//! The HTTP API under `/v1`: routes, device authentication, and errors as JSON.

use std::time::Instant;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use custody_core::ids::DeviceId;
use custody_core::protocol::{
    CreatedOrder, EnrolRequest, EnrolResponse, EnrolmentCode, ErrorBody, ErrorDetail, Health, InventoryReport,
    ManagerCredentials, NewOrderRequest, RevokeRequest, SyncRequest, SyncResponse,
};
use serde::de::DeserializeOwned;

use crate::Config;
use crate::db::{AuthedDevice, Db, DbError};

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
    #[error("too many wrong badges or PINs from this device; wait 15 minutes and try again")]
    TooManyPinAttempts,
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
                DbError::EnrolmentCodeUsed => (S::GONE, "enrolment_code_used"),
                DbError::EnrolmentCodeExpired(_) => (S::GONE, "enrolment_code_expired"),
                DbError::Unauthorized => (S::UNAUTHORIZED, "unauthorized"),
                DbError::DeviceRevoked(_) => (S::UNAUTHORIZED, "device_revoked"),
                DbError::WrongCredentials | DbError::NotManager { .. } => (S::FORBIDDEN, "forbidden"),
                DbError::UnknownDevice(_) => (S::NOT_FOUND, "not_found"),
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
            ApiError::TooManyPinAttempts => (S::TOO_MANY_REQUESTS, "too_many_attempts"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let message = if status.is_server_error() {
            // Details stay in the log; the client gets something a person can act on.
            tracing::error!(error = %self, "request failed");
            "the server could not complete this request; try again, and tell support if it keeps happening".to_string()
        } else {
            self.to_string()
        };
        (status, Json(ErrorBody { error: ErrorDetail { code: code.to_string(), message } })).into_response()
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
    pins: PinGuard,
}

/// Limits wrong manager PINs per device: a 4-digit PIN would otherwise fall to an enrolled device
/// trying all 10,000. After `PIN_ATTEMPTS` wrong ones within `PIN_WINDOW`, the device must wait.
#[derive(Clone, Default)]
struct PinGuard(std::sync::Arc<std::sync::Mutex<std::collections::HashMap<DeviceId, Vec<Instant>>>>);

const PIN_ATTEMPTS: usize = 5;
const PIN_WINDOW: std::time::Duration = std::time::Duration::from_secs(15 * 60);

impl PinGuard {
    fn recent(&self, device: DeviceId) -> usize {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let attempts = map.entry(device).or_default();
        attempts.retain(|t| t.elapsed() < PIN_WINDOW);
        attempts.len()
    }

    fn check(&self, device: DeviceId) -> Result<(), ApiError> {
        if self.recent(device) >= PIN_ATTEMPTS { Err(ApiError::TooManyPinAttempts) } else { Ok(()) }
    }

    fn failed(&self, device: DeviceId) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).entry(device).or_default().push(Instant::now());
    }

    /// Runs a check of a manager's badge and PIN, counting it if it was wrong.
    fn guard<T>(&self, device: DeviceId, result: Result<T, ApiError>) -> Result<T, ApiError> {
        if let Err(ApiError::Db(DbError::WrongCredentials)) = &result {
            self.failed(device);
        }
        result
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
        Ok(Device(blocking(move || db.authenticate(&token)).await?))
    }
}

pub fn router(db: Db, config: &Config) -> Router {
    Router::new()
        .route("/v1/health", get(health))
        .route("/v1/enrol", post(enrol))
        .route("/v1/enrolment-codes", post(issue_code))
        .route("/v1/devices/{id}/revoke", post(revoke))
        .route(
            "/v1/sync",
            post(sync).layer(middleware::from_fn_with_state(config.sync_body_limit, crate::limits::allow_body)),
        )
        .route("/v1/inventory", get(inventory))
        .route(
            "/v1/orders",
            post(create_order).layer(middleware::from_fn_with_state(config.order_body_limit, crate::limits::allow_body)),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Per-route body limits, the body deadline and the request cap: crate::limits. axum's
        // own limit stays as a backstop at the largest of them.
        .layer(DefaultBodyLimit::max(config.sync_body_limit.max(config.order_body_limit).max(config.small_body_limit)))
        .layer(middleware::from_fn_with_state(crate::limits::Limits::new(config), crate::limits::guard))
        .layer(middleware::from_fn(log_request))
        .with_state(AppState { db, pins: PinGuard::default() })
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
    JsonBody(req): JsonBody<EnrolRequest>,
) -> Result<Json<EnrolResponse>, ApiError> {
    let db = state.db.clone();
    let response = blocking(move || db.enrol(&req.code, &req.device_name)).await?;
    tracing::info!(facility = %response.facility, device = %response.device_id, "device enrolled");
    Ok(Json(response))
}

async fn issue_code(
    State(state): State<AppState>,
    Device(device): Device,
    JsonBody(creds): JsonBody<ManagerCredentials>,
) -> Result<Json<EnrolmentCode>, ApiError> {
    state.pins.check(device.id)?;
    let db = state.db.clone();
    let facility = device.facility.clone();
    let code = state.pins.guard(
        device.id,
        blocking(move || {
            let manager = db.check_manager(&facility, &creds)?;
            db.issue_enrolment_code(&facility, Some(manager), chrono::Duration::hours(API_CODE_TTL_HOURS))
        })
        .await,
    )?;
    tracing::info!(facility = %device.facility, device = %device.id, "enrolment code issued");
    Ok(Json(code))
}

async fn revoke(
    State(state): State<AppState>,
    Device(device): Device,
    Path(target): Path<String>,
    JsonBody(req): JsonBody<RevokeRequest>,
) -> Result<StatusCode, ApiError> {
    // An id that does not parse is a device that does not exist here.
    let target = DeviceId::parse(&target).map_err(|_| ApiError::NotFound(format!("device {target:?}")))?;
    state.pins.check(device.id)?;
    let db = state.db.clone();
    let facility = device.facility.clone();
    state.pins.guard(
        device.id,
        blocking(move || {
            db.check_manager(&facility, &req.manager)?;
            db.revoke_device_at(&facility, target)
        })
        .await,
    )?;
    tracing::info!(facility = %device.facility, by = %device.id, revoked = %target, "device revoked");
    Ok(StatusCode::NO_CONTENT)
}

async fn sync(
    State(state): State<AppState>,
    Device(device): Device,
    JsonBody(req): JsonBody<SyncRequest>,
) -> Result<Json<SyncResponse>, ApiError> {
    let db = state.db.clone();
    let who = device.clone();
    let (response, counts) = blocking(move || db.sync(&who, &req)).await?;
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

/// An order entered in the office: a manager's badge and PIN, checked like any manager action
/// from a device, and the order. Refused with the reason (unknown customer, not enough stock).
async fn create_order(
    State(state): State<AppState>,
    Device(device): Device,
    JsonBody(req): JsonBody<NewOrderRequest>,
) -> Result<(StatusCode, Json<CreatedOrder>), ApiError> {
    state.pins.check(device.id)?;
    let db = state.db.clone();
    let who = device.clone();
    let id = state
        .pins
        .guard(
            device.id,
            blocking(move || {
                let manager = db.check_manager(&who.facility, &req.manager)?;
                db.create_order(&who, manager, &req.order)
            })
            .await,
        )?;
    tracing::info!(facility = %device.facility, device = %device.id, order = %id, "order entered");
    Ok((StatusCode::CREATED, Json(CreatedOrder { id })))
}
