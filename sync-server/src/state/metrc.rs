//! Metrc API v2 over HTTP (shared/domain/metrc-api.md): Basic auth with the vendor key and the
//! user key, `licenseNumber` on every call, lists wrapped as `{"Data": [...]}`, errors as
//! `{"Message": ...}` or `[{"row": i, "message": ...}]`.

use std::str::FromStr;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use rust_decimal::Decimal;
use serde_json::Value;

use super::{Page, StateError, StatePackage, StateSystem, WriteKind};

/// The keys one facility's user holds at the state. Never printed.
#[derive(Clone)]
pub struct Keys {
    pub vendor: String,
    pub user: String,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

/// A Metrc client for one facility.
pub struct Metrc {
    http: reqwest::Client,
    base: String,
    license: String,
    keys: Keys,
    page_size: u32,
}

/// The base URL must be https, except on this machine (the emulator, a local proxy): the keys
/// travel in every request.
pub fn check_base_url(url: &str) -> Result<String, String> {
    let base = url.trim().trim_end_matches('/');
    let Ok(parsed) = reqwest::Url::parse(base) else {
        return Err(format!("{url:?} is not a URL; give the state's API address, e.g. https://api-ca.metrc.com"));
    };
    let host = parsed.host_str().unwrap_or("").trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => Ok(base.to_string()),
        "http" if loopback => Ok(base.to_string()),
        "http" => Err(format!("{base} is plain http; the state's keys must travel over https")),
        other => Err(format!("{base} uses {other}; give an https address")),
    }
}

/// How long one request to the state may take before its answer counts as lost.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Records per page asked for (the emulator's and the reported maximum is 20).
pub const DEFAULT_PAGE_SIZE: u32 = 20;

impl Metrc {
    pub fn new(base_url: &str, license: &str, keys: Keys, timeout: Duration) -> Result<Metrc, String> {
        let base = check_base_url(base_url)?;
        let trust = custody_core::tls::ServerTrust::platform();
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(trust.client_config())
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .timeout(timeout)
            .user_agent(concat!("custody-server/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("the HTTP client could not be built: {e}"))?;
        Ok(Metrc { http, base, license: license.to_string(), keys, page_size: DEFAULT_PAGE_SIZE })
    }

    /// A request to `path` with `licenseNumber` and the other query pairs, with the keys.
    fn request(&self, method: Method, path: &str, query: &[(&str, String)]) -> Result<reqwest::RequestBuilder, StateError> {
        let mut url = reqwest::Url::parse(&format!("{}{path}", self.base)).map_err(|e| StateError::Unexpected(e.to_string()))?;
        url.query_pairs_mut().append_pair("licenseNumber", &self.license).extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        Ok(self.http.request(method, url).basic_auth(&self.keys.vendor, Some(&self.keys.user)))
    }

    /// The answer's status, `Retry-After` seconds and body; an error only when no answer came.
    async fn exchange(&self, builder: reqwest::RequestBuilder) -> Result<(StatusCode, Option<u64>, String), StateError> {
        let response = builder.send().await.map_err(lost_or_not_sent)?;
        let status = response.status();
        let retry_after =
            response.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
        let body = response.text().await.map_err(|e| StateError::Lost(e.to_string()))?;
        Ok((status, retry_after, body))
    }

    async fn send(&self, builder: reqwest::RequestBuilder) -> Result<String, StateError> {
        let (status, retry_after, body) = self.exchange(builder).await?;
        if status.is_success() { Ok(body) } else { Err(classify(status, retry_after, &body)) }
    }
}

/// Only a failure to connect means the request never left; anything later may have reached it.
fn lost_or_not_sent(e: reqwest::Error) -> StateError {
    if e.is_connect() { StateError::NotSent(e.to_string()) } else { StateError::Lost(e.to_string()) }
}

/// Sorts an answer that is not a success into what the connector does with it.
pub fn classify(status: StatusCode, retry_after: Option<u64>, body: &str) -> StateError {
    if status == StatusCode::TOO_MANY_REQUESTS {
        return StateError::RateLimited(Duration::from_secs(retry_after.unwrap_or(1)));
    }
    if status.is_server_error() {
        return StateError::Unavailable(status.as_u16());
    }
    let rows = error_rows(body);
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        let text = rows.into_iter().map(|(_, m)| m).collect::<Vec<_>>().join("; ");
        return StateError::Unauthorized(if text.is_empty() { format!("HTTP {}", status.as_u16()) } else { text });
    }
    if status.is_client_error() {
        let rows = if rows.is_empty() { vec![(None, format!("HTTP {} with no message", status.as_u16()))] } else { rows };
        return StateError::Rejected(rows);
    }
    StateError::Unexpected(format!("HTTP {}", status.as_u16()))
}

/// The state's messages from either error shape, with the object each names, if any.
pub fn error_rows(body: &str) -> Vec<(Option<usize>, String)> {
    let field = |v: &Value, names: &[&str]| names.iter().find_map(|n| v.get(*n)).cloned();
    let text = |v: Option<Value>| v.and_then(|m| m.as_str().map(str::to_string));
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Array(items)) => items
            .iter()
            .filter_map(|item| {
                let message = text(field(item, &["message", "Message"]))?;
                let row = field(item, &["row", "Row"]).and_then(|r| r.as_u64()).map(|r| r as usize);
                Some((row, message))
            })
            .collect(),
        Ok(value @ Value::Object(_)) => text(field(&value, &["Message", "message"])).map(|m| vec![(None, m)]).unwrap_or_default(),
        _ if body.trim().is_empty() => Vec::new(),
        // Not JSON: a proxy's page. Its first line, short, is still better than nothing.
        _ => vec![(None, body.lines().next().unwrap_or("").chars().take(200).collect())],
    }
}

fn write_route(kind: WriteKind) -> (Method, &'static str) {
    match kind {
        WriteKind::Location => (Method::PUT, "/packages/v2/location"),
        WriteKind::Adjust => (Method::POST, "/packages/v2/adjust"),
        WriteKind::Create => (Method::POST, "/packages/v2"),
        WriteKind::Finish => (Method::PUT, "/packages/v2/finish"),
        WriteKind::Outgoing => (Method::POST, "/transfers/v2/templates/outgoing"),
    }
}

/// A decimal from a JSON number or string, exactly as written (never through a float).
fn decimal(value: &Value) -> Option<Decimal> {
    match value {
        Value::Number(n) => {
            let text = n.to_string();
            Decimal::from_str(&text).or_else(|_| Decimal::from_scientific(&text)).ok()
        }
        Value::String(s) => Decimal::from_str(s.trim()).ok(),
        _ => None,
    }
}

/// A package as Metrc returns it.
pub fn parse_package(value: &Value) -> Result<StatePackage, StateError> {
    let label = value.get("Label").and_then(Value::as_str).ok_or_else(|| StateError::Unexpected("a package without a Label".into()))?;
    let quantity = value
        .get("Quantity")
        .and_then(decimal)
        .ok_or_else(|| StateError::Unexpected(format!("package {label} without a readable Quantity")))?;
    let location = ["LocationName", "Location"].iter().find_map(|f| value.get(*f).and_then(Value::as_str)).map(str::to_string);
    let finished = value.get("FinishedDate").is_some_and(|d| !d.is_null())
        || value.get("IsFinished").and_then(Value::as_bool).unwrap_or(false)
        || value.get("ArchivedDate").is_some_and(|d| !d.is_null());
    Ok(StatePackage { label: label.to_string(), quantity, location, finished })
}

impl StateSystem for Metrc {
    async fn push(&self, kind: WriteKind, objects: &[Value]) -> Result<(), StateError> {
        let (method, path) = write_route(kind);
        self.send(self.request(method, path, &[])?.json(objects)).await.map(|_| ())
    }

    async fn package(&self, label: &str) -> Result<Option<StatePackage>, StateError> {
        // The label goes into the path: only a tag's characters.
        if label.is_empty() || !label.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(StateError::Unexpected(format!("{label:?} is not a package tag")));
        }
        let (status, retry_after, body) = self.exchange(self.request(Method::GET, &format!("/packages/v2/{label}"), &[])?).await?;
        if status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(classify(status, retry_after, &body));
        }
        let value: Value = serde_json::from_str(&body).map_err(|e| StateError::Unexpected(e.to_string()))?;
        // Some answers wrap one record as a list.
        let value = match value.get("Data") {
            Some(Value::Array(items)) => match items.first() {
                Some(first) => first.clone(),
                None => return Ok(None),
            },
            _ => value,
        };
        parse_package(&value).map(Some)
    }

    async fn page(&self, path: &str, filters: &[(&str, String)], page: u32) -> Result<Page, StateError> {
        let mut query = filters.to_vec();
        query.extend([("pageNumber", page.to_string()), ("pageSize", self.page_size.to_string())]);
        let body = self.send(self.request(Method::GET, path, &query)?).await?;
        parse_page(&body)
    }
}

/// `{"Data": [...], "Total": n}`, or a bare list (v1-style answers).
pub fn parse_page(body: &str) -> Result<Page, StateError> {
    let value: Value = serde_json::from_str(body).map_err(|e| StateError::Unexpected(e.to_string()))?;
    match value {
        Value::Array(data) => Ok(Page { data, total: None }),
        Value::Object(mut map) => {
            let total = map.get("Total").and_then(Value::as_u64);
            match map.remove("Data") {
                Some(Value::Array(data)) => Ok(Page { data, total }),
                _ => Err(StateError::Unexpected("a list answer without Data".into())),
            }
        }
        _ => Err(StateError::Unexpected("a list answer that is not a list".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_error_shapes_are_read_and_sorted() {
        let rows = error_rows(r#"[{"row": 1, "message": "Package 1A4 not found"}, {"row": 3, "message": "Bad location"}]"#);
        assert_eq!(rows, vec![(Some(1), "Package 1A4 not found".to_string()), (Some(3), "Bad location".to_string())]);
        assert_eq!(error_rows(r#"{"Message": "No such licence"}"#), vec![(None, "No such licence".to_string())]);
        assert_eq!(
            classify(StatusCode::BAD_REQUEST, None, r#"{"Message":"Location is required"}"#),
            StateError::Rejected(vec![(None, "Location is required".into())])
        );
        assert_eq!(
            classify(StatusCode::UNAUTHORIZED, None, r#"{"Message":"key expired"}"#),
            StateError::Unauthorized("key expired".into())
        );
        assert_eq!(classify(StatusCode::TOO_MANY_REQUESTS, Some(7), ""), StateError::RateLimited(Duration::from_secs(7)));
        assert_eq!(classify(StatusCode::SERVICE_UNAVAILABLE, None, "<html>"), StateError::Unavailable(503));
        assert!(classify(StatusCode::BAD_GATEWAY, None, "").in_doubt());
        assert!(!classify(StatusCode::BAD_REQUEST, None, "").in_doubt());
        // A 4xx without a message still says what happened.
        assert_eq!(
            classify(StatusCode::PAYLOAD_TOO_LARGE, None, ""),
            StateError::Rejected(vec![(None, "HTTP 413 with no message".into())])
        );
    }

    #[test]
    fn pages_and_packages_parse_without_floats() {
        let page = parse_page(r#"{"Data":[{"Label":"1A4FF0100000022000001234","Quantity":10.10,"LocationName":"Vault A","FinishedDate":null}],"Total":41,"PageNumber":1,"PageSize":20}"#).unwrap();
        assert_eq!(page.total, Some(41));
        let p = parse_package(&page.data[0]).unwrap();
        assert_eq!(p.quantity, Decimal::from_str("10.10").unwrap());
        assert_eq!(p.location.as_deref(), Some("Vault A"));
        assert!(!p.finished);
        assert!(parse_page(r#"{"Message":"x"}"#).is_err());
        let finished = parse_package(&serde_json::json!({"Label": "X", "Quantity": 0, "FinishedDate": "2026-12-01"})).unwrap();
        assert!(finished.finished);
    }

    #[test]
    fn keys_travel_only_over_https_except_on_this_machine() {
        assert_eq!(check_base_url("https://api-ca.metrc.com/").unwrap(), "https://api-ca.metrc.com");
        assert!(check_base_url("http://127.0.0.1:8089").is_ok());
        assert!(check_base_url("http://localhost:8089").is_ok());
        assert!(check_base_url("http://[::1]:8089").is_ok());
        assert!(check_base_url("http://api-ca.metrc.com").unwrap_err().contains("https"));
        assert!(check_base_url("ftp://x").is_err());
        assert!(check_base_url("not a url").is_err());
        assert_eq!(format!("{:?}", Keys { vendor: "v".into(), user: "secret".into() }), "Keys(..)");
    }
}
