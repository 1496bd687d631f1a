//! Request limits that do not depend on what a handler extracts (`Json`, raw bytes, ...): how
//! many requests run at once, how large a body may be per route, and how long it may take to
//! arrive (docs/decisions/0015).
//!
//! [`guard`] wraps every request body in [`GuardedBody`]. The body is read only when a handler's
//! last extractor reads it, so an authenticated route checks the device token first and a
//! request without one is answered 401 without its body being read. A body over its route's
//! limit (known at once from `Content-Length`, or counted as it streams) or one that does not
//! arrive in time fails the extractor; [`guard`] then answers 413 or 408 itself, as JSON, and
//! closes the connection, so the answer is the same whatever the handler made of the error.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use custody_core::protocol::{ErrorBody, ErrorDetail};
use http_body::{Frame, SizeHint};
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};

use crate::config::Config;

/// The limits every request is held to.
#[derive(Clone)]
pub(crate) struct Limits {
    small_body: usize,
    body_timeout: Duration,
    requests: Arc<Semaphore>,
    busy_wait: Duration,
}

impl Limits {
    pub(crate) fn new(config: &Config) -> Self {
        Limits {
            small_body: config.small_body_limit,
            body_timeout: config.body_timeout,
            requests: Arc::new(Semaphore::new(config.max_concurrent_requests.max(1))),
            busy_wait: config.busy_wait,
        }
    }
}

const OK: u8 = 0;
const TOO_LARGE: u8 = 1;
const TIMED_OUT: u8 = 2;

/// What the guard and the body share: the route's limit and what went wrong, if anything.
struct Shared {
    limit: AtomicUsize,
    outcome: AtomicU8,
}

/// A route's body limit above the small default (e.g. `/v1/sync`): a route layer,
/// `post(handler).layer(middleware::from_fn_with_state(bytes, allow_body))`.
pub(crate) async fn allow_body(State(bytes): State<usize>, req: Request, next: Next) -> Response {
    if let Some(shared) = req.extensions().get::<Arc<Shared>>() {
        shared.limit.store(bytes, Ordering::Relaxed);
    }
    next.run(req).await
}

/// Waits briefly for a request slot (503 if none frees up), then runs the request with its body
/// guarded.
pub(crate) async fn guard(State(limits): State<Limits>, req: Request, next: Next) -> Response {
    let Ok(Ok(_permit)) = tokio::time::timeout(limits.busy_wait, limits.requests.clone().acquire_owned()).await else {
        tracing::warn!("all request slots busy; answered 503");
        let mut response = error(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "the server is busy; your work is saved on this device and will sync when you try again in a moment",
        );
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
        return response;
    };
    let shared = Arc::new(Shared { limit: AtomicUsize::new(limits.small_body), outcome: AtomicU8::new(OK) });
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(shared.clone());
    let body = GuardedBody {
        inner: body,
        shared: shared.clone(),
        read: 0,
        deadline: Box::pin(tokio::time::sleep(limits.body_timeout)),
        started: false,
        timeout: limits.body_timeout,
    };
    let response = next.run(Request::from_parts(parts, Body::new(body))).await;
    let mut response = match shared.outcome.load(Ordering::Relaxed) {
        TOO_LARGE => too_large(shared.limit.load(Ordering::Relaxed)),
        TIMED_OUT => {
            error(StatusCode::REQUEST_TIMEOUT, "request_timeout", "the request did not arrive in time; check the connection and try again")
        }
        _ => return response,
    };
    // The rest of the body was never read: this connection cannot carry another request.
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn too_large(limit: usize) -> Response {
    let size = if limit >= 1024 * 1024 { format!("{} MiB", limit / (1024 * 1024)) } else { format!("{} KiB", limit.div_ceil(1024)) };
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        &format!(
            "the request is larger than the {size} this server accepts for it and nothing was saved; \
             update the app, and tell support if this keeps happening"
        ),
    )
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(ErrorBody { error: ErrorDetail { code: code.to_string(), message: message.to_string() } })).into_response()
}

/// A request body held to its route's size limit and to the body deadline.
struct GuardedBody {
    inner: Body,
    shared: Arc<Shared>,
    read: usize,
    deadline: Pin<Box<Sleep>>,
    /// The deadline counts from the first read of the body, not from when the request came in:
    /// a request that waited for the database is not blamed for it.
    started: bool,
    timeout: Duration,
}

impl GuardedBody {
    fn fail(&self, outcome: u8, why: &'static str) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        self.shared.outcome.store(outcome, Ordering::Relaxed);
        Poll::Ready(Some(Err(axum::Error::new(why))))
    }
}

impl http_body::Body for GuardedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let limit = self.shared.limit.load(Ordering::Relaxed);
        if !self.started {
            self.started = true;
            let deadline = Instant::now() + self.timeout;
            self.deadline.as_mut().reset(deadline);
            // Content-Length says it all before a byte is read.
            if self.inner.size_hint().lower() > limit as u64 {
                return self.fail(TOO_LARGE, "request body over the limit");
            }
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            return self.fail(TIMED_OUT, "request body timed out");
        }
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.read += data.len();
                    if self.read > limit {
                        return self.fail(TOO_LARGE, "request body over the limit");
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
