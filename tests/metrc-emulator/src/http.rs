//! The HTTP face of the emulator: Basic auth per licence, GET rate limits, fault injection,
//! paged lists in the state's `{"Data": [...]}` wrapper and the write endpoints.
//!
//! Served with hyper directly (not `axum::serve`) so that a lost response can really be lost:
//! when the service answers with an error, hyper closes the connection without writing a
//! response, and the client sees a connection error (LossMode::Reset).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Query;
use axum::http::{HeaderValue, Method, Request, Response, StatusCode, header};
use base64::Engine;
use chrono::NaiveDateTime;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::faults::{Faults, LossMode};
use crate::store::{PackageList, State, WriteRecord};
use crate::values::{id_of, parse_date_time, text};
use crate::writes::{self, WriteKind};

/// The largest write body read (a write holds at most 10 objects).
const MAX_BODY: usize = 4 * 1024 * 1024;
/// The longest lastModified window the state answers.
const MAX_WINDOW_HOURS: i64 = 24;
/// How long a "hung" lost write holds its connection before closing it.
const HANG: Duration = Duration::from_secs(3600);

#[derive(Default)]
pub struct Counts {
    pub by_route: BTreeMap<(String, String), usize>,
    pub by_status: BTreeMap<u16, usize>,
}

pub struct Shared {
    pub state: Mutex<State>,
    pub faults: Faults,
    pub counts: Mutex<Counts>,
}

impl Shared {
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn counts(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The service's "error": hyper closes the connection without a response.
#[derive(Debug)]
pub struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("response deliberately lost by the emulator")
    }
}

impl std::error::Error for DropConnection {}

/// Accepts connections until `shutdown` turns true; each connection ends with it too.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>, shutdown: watch::Receiver<bool>) {
    let mut stop = shutdown.clone();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => return,
        };
        let Ok((stream, _)) = accepted else {
            continue;
        };
        let shared = shared.clone();
        let mut stop = shutdown.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| handle(shared.clone(), req));
            let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc);
            tokio::select! {
                _ = conn => {}
                _ = stop.changed() => {}
            }
        });
    }
}

enum Outcome {
    Answer(Response<Body>),
    Lost(LossMode),
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Response<Body>, DropConnection> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    *shared.counts().by_route.entry((method, path)).or_default() += 1;
    match respond(&shared, req).await {
        Outcome::Answer(r) => {
            *shared.counts().by_status.entry(r.status().as_u16()).or_default() += 1;
            Ok(r)
        }
        Outcome::Lost(LossMode::Reset) => Err(DropConnection),
        Outcome::Lost(LossMode::Hang) => {
            tokio::time::sleep(HANG).await;
            Err(DropConnection)
        }
    }
}

fn json_response(status: StatusCode, v: &Value) -> Response<Body> {
    let mut r = Response::new(Body::from(v.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    r
}

/// The state's single-error shape: `{"Message": "..."}`.
fn message(status: StatusCode, msg: impl Into<String>) -> Response<Body> {
    json_response(status, &json!({ "Message": msg.into() }))
}

/// A request refused, answered in the state's `{"Message": "..."}` shape.
struct Refusal {
    status: StatusCode,
    message: String,
}

fn refuse(status: StatusCode, msg: impl Into<String>) -> Refusal {
    Refusal { status, message: msg.into() }
}

impl Refusal {
    fn into_response(self) -> Response<Body> {
        message(self.status, self.message)
    }
}

fn answer(status: StatusCode, msg: impl Into<String>) -> Outcome {
    Outcome::Answer(message(status, msg))
}

/// Who is calling: the vendor key and the licences the user key holds.
struct Caller {
    vendor_key: String,
    licenses: BTreeSet<String>,
}

fn authenticate(shared: &Shared, req: &Request<Incoming>) -> Result<Caller, Refusal> {
    let unauthorized = |m: &str| refuse(StatusCode::UNAUTHORIZED, m);
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .ok_or_else(|| {
            unauthorized(
                "Authorization has been denied for this request: send HTTP Basic auth with the vendor key as user name and the user key as password.",
            )
        })?;
    let encoded = header
        .strip_prefix("Basic ")
        .ok_or_else(|| unauthorized("Authorization has been denied for this request: only HTTP Basic auth is accepted."))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| unauthorized("Authorization has been denied for this request: the Basic credentials are not valid base64."))?;
    let (vendor, user) = decoded
        .split_once(':')
        .ok_or_else(|| unauthorized("Authorization has been denied for this request: expected vendor key:user key."))?;
    let st = shared.state();
    if !st.vendor_keys.contains(vendor) {
        return Err(unauthorized("Authorization has been denied for this request: the vendor key is not valid."));
    }
    let licenses: BTreeSet<String> = st.facilities.iter().filter(|(_, f)| f.user_keys.contains(user)).map(|(l, _)| l.clone()).collect();
    if licenses.is_empty() || shared.faults.is_expired(user) {
        return Err(unauthorized("Authorization has been denied for this request: the user key is not valid or has expired."));
    }
    Ok(Caller { vendor_key: vendor.to_string(), licenses })
}

enum Route {
    Transfers(TransferList),
    Deliveries(i64),
    DeliveryPackages(i64),
    Templates,
    Packages(PackageList),
    PackageByLabel(String),
    AdjustReasons,
    LabResults,
    Items,
    Locations,
    Units,
    Write(WriteKind),
}

#[derive(Clone, Copy)]
enum TransferList {
    Incoming,
    Outgoing,
    Rejected,
}

impl Route {
    /// Whether the call must name a licence (`licenseNumber`).
    fn needs_license(&self) -> bool {
        !matches!(self, Route::Units | Route::Deliveries(_) | Route::DeliveryPackages(_))
    }
}

fn route(method: &Method, path: &str) -> Result<Route, Refusal> {
    if let Some(r) = matched(method, path) {
        return r;
    }
    let known = [Method::GET, Method::POST, Method::PUT].iter().any(|m| matched(m, path).is_some());
    Err(if known {
        refuse(StatusCode::METHOD_NOT_ALLOWED, format!("The requested resource does not support http method '{method}'."))
    } else {
        refuse(StatusCode::NOT_FOUND, format!("No HTTP resource was found that matches the request URI {path}."))
    })
}

/// The route for this method and path; None when nothing matches.
fn matched(method: &Method, path: &str) -> Option<Result<Route, Refusal>> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let get = *method == Method::GET;
    let post = *method == Method::POST;
    let put = *method == Method::PUT;
    let r = match (segs.as_slice(), get, post, put) {
        (["transfers", "v2", "incoming"], true, _, _) => Route::Transfers(TransferList::Incoming),
        (["transfers", "v2", "outgoing"], true, _, _) => Route::Transfers(TransferList::Outgoing),
        (["transfers", "v2", "rejected"], true, _, _) => Route::Transfers(TransferList::Rejected),
        (["transfers", "v2", "templates", "outgoing"], true, _, _) => Route::Templates,
        (["transfers", "v2", "templates", "outgoing"], _, true, _) => Route::Write(WriteKind::OutgoingTemplates),
        (["transfers", "v2", "deliveries", id, "packages"], true, _, _) => match id.parse() {
            Ok(id) => Route::DeliveryPackages(id),
            Err(_) => return Some(Err(bad_id(id))),
        },
        (["transfers", "v2", id, "deliveries"], true, _, _) => match id.parse() {
            Ok(id) => Route::Deliveries(id),
            Err(_) => return Some(Err(bad_id(id))),
        },
        (["packages", "v2", "active"], true, _, _) => Route::Packages(PackageList::Active),
        (["packages", "v2", "onhold"], true, _, _) => Route::Packages(PackageList::OnHold),
        (["packages", "v2", "inactive"], true, _, _) => Route::Packages(PackageList::Inactive),
        (["packages", "v2", "adjust", "reasons"], true, _, _) => Route::AdjustReasons,
        (["packages", "v2", "adjust"], _, true, _) => Route::Write(WriteKind::Adjust),
        (["packages", "v2", "location"], _, _, true) => Route::Write(WriteKind::Location),
        (["packages", "v2", "finish"], _, _, true) => Route::Write(WriteKind::Finish),
        (["packages", "v2"], _, true, _) => Route::Write(WriteKind::CreatePackages),
        (["packages", "v2", label], true, _, _) => Route::PackageByLabel(label.to_string()),
        (["labtests", "v2", "results"], true, _, _) => Route::LabResults,
        (["items", "v2", "active"], true, _, _) => Route::Items,
        (["locations", "v2", "active"], true, _, _) => Route::Locations,
        (["unitsofmeasure", "v2", "active"], true, _, _) => Route::Units,
        _ => return None,
    };
    Some(Ok(r))
}

fn bad_id(id: &str) -> Refusal {
    refuse(StatusCode::BAD_REQUEST, format!("{id} is not a valid Id."))
}

async fn respond(shared: &Shared, req: Request<Incoming>) -> Outcome {
    let faults = shared.faults.clone();
    if faults.outage() {
        tokio::time::sleep(faults.latency()).await;
        return answer(StatusCode::SERVICE_UNAVAILABLE, "The service is unavailable.");
    }
    let caller = match authenticate(shared, &req) {
        Ok(c) => c,
        Err(r) => return Outcome::Answer(r.into_response()),
    };
    let query: HashMap<String, String> = Query::try_from_uri(req.uri()).map(|q| q.0).unwrap_or_default();
    let license = query.get("licenseNumber").map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    if let Some(l) = &license
        && !caller.licenses.contains(l)
    {
        return answer(
            StatusCode::UNAUTHORIZED,
            format!("Authorization has been denied for this request: the user key does not hold licence {l}."),
        );
    }
    let route = match route(req.method(), req.uri().path()) {
        Ok(r) => r,
        Err(r) => return Outcome::Answer(r.into_response()),
    };
    if route.needs_license() && license.is_none() {
        return answer(StatusCode::BAD_REQUEST, "licenseNumber is required: the facility licence this request is for.");
    }
    // GETs count against the facility's and the vendor key's limits; the slot is held until
    // the answer is ready, latency included.
    let _slot = if *req.method() == Method::GET {
        match faults.admit_get(license.as_deref().unwrap_or(""), &caller.vendor_key) {
            Ok(g) => Some(g),
            Err(t) => {
                let mut r = message(StatusCode::TOO_MANY_REQUESTS, t.message);
                r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(t.retry_after_s));
                return Outcome::Answer(r);
            }
        }
    } else {
        None
    };
    tokio::time::sleep(faults.latency()).await;
    if let Some(status) = faults.roll_error() {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return answer(status, "An error has occurred.");
    }
    let license = license.unwrap_or_default();
    if *req.method() == Method::GET
        && let Some(body) = faults.raw_for(req.uri().path())
    {
        let mut r = Response::new(Body::from(body));
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
        return Outcome::Answer(r);
    }
    match route {
        Route::Write(kind) => {
            let method = req.method().as_str().to_string();
            let path = req.uri().path().to_string();
            let bytes = match axum::body::to_bytes(Body::new(req.into_body()), MAX_BODY).await {
                Ok(b) => b,
                Err(_) => {
                    return answer(StatusCode::PAYLOAD_TOO_LARGE, "The request body is too large.");
                }
            };
            write(shared, kind, &method, &path, &license, &bytes)
        }
        read => Outcome::Answer(read_route(shared, read, &caller, &license, &query)),
    }
}

fn write(shared: &Shared, kind: WriteKind, method: &str, path: &str, license: &str, bytes: &[u8]) -> Outcome {
    let body: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            return answer(StatusCode::BAD_REQUEST, format!("The request body is not valid JSON: {e}."));
        }
    };
    let Some(rows) = body.as_array() else {
        return answer(StatusCode::BAD_REQUEST, "The request body must be a JSON array of objects.");
    };
    if rows.is_empty() {
        return answer(StatusCode::BAD_REQUEST, "The request body must hold at least one object.");
    }
    if rows.len() > 10 {
        return answer(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("A request may hold at most 10 objects; this one holds {}. Send them in batches of 10.", rows.len()),
        );
    }
    {
        let mut st = shared.state();
        let mut work = st.clone();
        if let Err(errors) = writes::apply(&mut work, kind, license, rows) {
            let arr: Vec<Value> = errors.into_iter().map(|e| json!({"row": e.row, "message": e.message})).collect();
            return Outcome::Answer(json_response(StatusCode::BAD_REQUEST, &Value::Array(arr)));
        }
        work.writes.push(WriteRecord {
            method: method.to_string(),
            path: path.to_string(),
            license: license.to_string(),
            body: body.clone(),
            at: chrono::Utc::now(),
        });
        *st = work;
    }
    if let Some(mode) = shared.faults.take_loss() {
        return Outcome::Lost(mode);
    }
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::OK;
    Outcome::Answer(r)
}

struct Window {
    start: NaiveDateTime,
    end: NaiveDateTime,
}

/// `lastModifiedStart`/`lastModifiedEnd`: both bounds inclusive; at most 24 hours apart.
fn window(query: &HashMap<String, String>) -> Result<Option<Window>, Refusal> {
    let parse = |k: &str| -> Result<Option<NaiveDateTime>, Refusal> {
        match query.get(k).map(|s| s.trim()).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => parse_date_time(s).map(Some).ok_or_else(|| {
                refuse(StatusCode::BAD_REQUEST, format!("{k} \"{s}\" is not a date-time (ISO 8601, e.g. 2026-11-30T14:05:00)."))
            }),
        }
    };
    let start = parse("lastModifiedStart")?;
    let end = parse("lastModifiedEnd")?;
    let (start, end) = match (start, end) {
        (None, None) => return Ok(None),
        (None, Some(_)) => {
            return Err(refuse(StatusCode::BAD_REQUEST, "lastModifiedStart is required when lastModifiedEnd is given."));
        }
        (Some(s), None) => (s, crate::values::now_local()),
        (Some(s), Some(e)) => (s, e),
    };
    if end < start {
        return Err(refuse(StatusCode::BAD_REQUEST, "lastModifiedEnd is before lastModifiedStart."));
    }
    if end - start > chrono::Duration::hours(MAX_WINDOW_HOURS) {
        return Err(refuse(StatusCode::BAD_REQUEST, "The time span between lastModifiedStart and lastModifiedEnd cannot exceed 24 hours."));
    }
    Ok(Some(Window { start, end }))
}

/// One page of `records` in the state's list wrapper, after the lastModified window.
fn page(query: &HashMap<String, String>, max_page_size: usize, records: Vec<Value>) -> Response<Body> {
    let number = |k: &str, default: usize| -> Result<usize, Refusal> {
        match query.get(k).map(|s| s.trim()).filter(|s| !s.is_empty()) {
            None => Ok(default),
            Some(s) => s
                .parse::<usize>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| refuse(StatusCode::BAD_REQUEST, format!("{k} \"{s}\" must be a whole number from 1."))),
        }
    };
    let page_number = match number("pageNumber", 1) {
        Ok(n) => n,
        Err(r) => return r.into_response(),
    };
    let page_size = match number("pageSize", max_page_size) {
        Ok(n) if n > max_page_size => {
            return message(StatusCode::BAD_REQUEST, format!("pageSize may be at most {max_page_size}."));
        }
        Ok(n) => n,
        Err(r) => return r.into_response(),
    };
    let window = match window(query) {
        Ok(w) => w,
        Err(r) => return r.into_response(),
    };
    let records: Vec<Value> = match window {
        None => records,
        Some(w) => records
            .into_iter()
            .filter(|r| r.get("LastModified").and_then(Value::as_str).and_then(parse_date_time).is_some_and(|t| t >= w.start && t <= w.end))
            .collect(),
    };
    let total = records.len();
    let data: Vec<Value> = records.into_iter().skip((page_number - 1).saturating_mul(page_size)).take(page_size).collect();
    let on_page = data.len();
    json_response(
        StatusCode::OK,
        &json!({
            "Data": data,
            "Total": total,
            "TotalRecords": total,
            "PageNumber": page_number,
            "PageSize": page_size,
            "RecordsOnPage": on_page,
            "TotalPages": total.div_ceil(page_size),
        }),
    )
}

fn values(recs: &[Map<String, Value>]) -> Vec<Value> {
    recs.iter().cloned().map(Value::Object).collect()
}

fn read_route(shared: &Shared, route: Route, caller: &Caller, license: &str, query: &HashMap<String, String>) -> Response<Body> {
    let st = shared.state();
    let max = st.max_page_size;
    match route {
        Route::Transfers(which) => {
            let recs = st
                .transfers
                .iter()
                .filter(|t| match which {
                    TransferList::Incoming => t.has_recipient(license),
                    TransferList::Outgoing => t.shipper() == Some(license),
                    TransferList::Rejected => {
                        t.has_recipient(license)
                            && t.deliveries.iter().flat_map(|d| &d.packages).any(|p| text(p, "ShipmentPackageState") == Some("Rejected"))
                    }
                })
                .map(|t| {
                    let mut rec = t.rec.clone();
                    if !matches!(which, TransferList::Outgoing)
                        && let Some(d) = t.deliveries.iter().find(|d| text(&d.rec, "RecipientFacilityLicenseNumber") == Some(license))
                    {
                        rec.entry("DeliveryId").or_insert_with(|| d.rec.get("Id").cloned().unwrap_or(Value::Null));
                        rec.entry("RecipientFacilityLicenseNumber").or_insert_with(|| json!(license));
                    }
                    Value::Object(rec)
                })
                .collect();
            page(query, max, recs)
        }
        Route::Deliveries(id) => {
            let Some(t) = st.transfers.iter().find(|t| id_of(&t.rec, "Id") == Some(id)) else {
                return message(StatusCode::NOT_FOUND, format!("Transfer {id} was not found."));
            };
            let involved = |l: &str| t.shipper() == Some(l) || t.has_recipient(l);
            let visible = if license.is_empty() { caller.licenses.iter().any(|l| involved(l)) } else { involved(license) };
            if !visible {
                return message(
                    StatusCode::UNAUTHORIZED,
                    format!("Authorization has been denied for this request: transfer {id} is not one of your facilities'."),
                );
            }
            let recs = t.deliveries.iter().map(|d| Value::Object(d.rec.clone())).collect();
            page(query, max, recs)
        }
        Route::DeliveryPackages(id) => {
            let found = st.transfers.iter().find_map(|t| t.deliveries.iter().find(|d| id_of(&d.rec, "Id") == Some(id)).map(|d| (t, d)));
            let Some((t, d)) = found else {
                return message(StatusCode::NOT_FOUND, format!("Delivery {id} was not found."));
            };
            let involved = |l: &str| t.shipper() == Some(l) || text(&d.rec, "RecipientFacilityLicenseNumber") == Some(l);
            let visible = if license.is_empty() { caller.licenses.iter().any(|l| involved(l)) } else { involved(license) };
            if !visible {
                return message(
                    StatusCode::UNAUTHORIZED,
                    format!("Authorization has been denied for this request: delivery {id} is not one of your facilities'."),
                );
            }
            page(query, max, values(&d.packages))
        }
        Route::Templates => {
            let recs = st.templates.iter().filter(|t| t.license == license).map(|t| Value::Object(t.rec.clone())).collect();
            page(query, max, recs)
        }
        Route::Packages(list) => {
            let recs =
                st.packages.iter().filter(|p| p.license == license && p.list() == list).map(|p| Value::Object(p.rec.clone())).collect();
            page(query, max, recs)
        }
        Route::PackageByLabel(label) => match st.packages.iter().find(|p| p.label() == label && p.license == license) {
            Some(p) => json_response(StatusCode::OK, &Value::Object(p.rec.clone())),
            None => message(StatusCode::NOT_FOUND, format!("Package {label} was not found for facility {license}.")),
        },
        Route::AdjustReasons => page(query, max, values(&st.adjust_reasons)),
        Route::Units => page(query, max, values(&st.units)),
        Route::Items => page(query, max, values(st.items_of(license))),
        Route::Locations => page(query, max, values(st.locations_of(license))),
        Route::LabResults => {
            let by_id = query.get("packageId").map(|s| s.trim()).filter(|s| !s.is_empty());
            let by_label = query.get("packageLabel").map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
            let (id, label) = match (by_id, by_label) {
                (Some(s), _) => match s.parse::<i64>() {
                    Ok(id) => (Some(id), st.label_for_package_id(id)),
                    Err(_) => {
                        return message(StatusCode::BAD_REQUEST, format!("packageId \"{s}\" is not a package Id."));
                    }
                },
                (None, Some(l)) => (None, Some(l)),
                (None, None) => {
                    return message(StatusCode::BAD_REQUEST, "packageId is required: the Id of the package whose lab results are wanted.");
                }
            };
            let visible = label.as_deref().is_some_and(|l| st.license_sees_label(license, l));
            let recs = if visible {
                st.lab_results
                    .iter()
                    .filter(|r| {
                        (id.is_some() && id_of(r, "PackageId") == id) || (label.is_some() && text(r, "PackageLabel") == label.as_deref())
                    })
                    .map(|r| Value::Object(r.clone()))
                    .collect()
            } else {
                Vec::new()
            };
            page(query, max, recs)
        }
        Route::Write(_) => message(StatusCode::METHOD_NOT_ALLOWED, "Not a read."),
    }
}
