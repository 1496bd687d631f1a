//! What the emulator's tests share: a seeded emulator and a client that speaks to it as the
//! connector does (Basic auth, `licenseNumber` on every call).
#![allow(dead_code)]

use std::time::Duration;

use custody_metrc_emulator::{Emulator, Seed};
use serde_json::{Value, json};

pub const LIC: &str = "C11-0000001-LIC";
pub const OTHER_LIC: &str = "C11-0000002-LIC";
pub const VENDOR: &str = "vendor-key-1";
pub const USER: &str = "user-key-1";
pub const OTHER_USER: &str = "user-key-2";

pub const BULK: &str = "1A4FF0100000022000000101";
pub const BULK2: &str = "1A4FF0100000022000000102";
pub const EACH: &str = "1A4FF0100000022000000103";

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("HTTP client")
}

/// Two facilities, each with its own user key; LIC holds two bulk flower packages (Grams) and
/// one counted package (Each), items and locations.
pub fn seed() -> Seed {
    Seed::default()
        .facility(LIC, USER)
        .facility(OTHER_LIC, OTHER_USER)
        .vendor_key(VENDOR)
        .item(
            LIC,
            json!({"Id": 2002, "Name": "Bulk Flower", "UnitOfMeasureName": "Grams",
                   "ProductCategoryName": "Flower", "UnitThcPercent": null}),
        )
        .item(
            LIC,
            json!({"Id": 2001, "Name": "Flower 3.5g", "UnitOfMeasureName": "Each",
                   "ProductCategoryName": "Flower (packaged eighth - each)"}),
        )
        .location(LIC, json!({"Id": 3001, "Name": "Vault A", "LocationTypeName": "Default"}))
        .location(LIC, json!({"Id": 3002, "Name": "Receiving Bay", "LocationTypeName": "Default"}))
        .package(LIC, package(BULK, "100", "Grams", "Bulk Flower"))
        .package(LIC, package(BULK2, "50.5", "Grams", "Bulk Flower"))
        .package(LIC, package(EACH, "12", "Each", "Flower 3.5g"))
}

pub fn package(label: &str, quantity: &str, unit: &str, item: &str) -> Value {
    let q: Value = serde_json::from_str(quantity).unwrap();
    json!({
        "Label": label, "PackageType": "Product", "Quantity": q, "UnitOfMeasureName": unit,
        "Item": {"Name": item}, "LocationName": "Vault A", "ProductionBatchNumber": null,
        "LabTestingState": null, "IsOnHold": false, "FinishedDate": null, "ArchivedDate": null,
        "LastModified": "2026-11-30T14:05:00"
    })
}

pub async fn start() -> Emulator {
    Emulator::start(seed()).await.expect("emulator starts")
}

pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub vendor: String,
    pub user: String,
}

pub fn api(emu: &Emulator) -> Api {
    Api { http: client(), base: emu.base_url(), vendor: VENDOR.into(), user: USER.into() }
}

impl Api {
    pub fn url(&self, path: &str, license: &str, query: &str) -> String {
        let sep = if query.is_empty() { "" } else { "&" };
        format!("{}{path}?licenseNumber={license}{sep}{query}", self.base)
    }

    pub async fn get(&self, path: &str, query: &str) -> reqwest::Response {
        self.get_as(path, LIC, query).await
    }

    pub async fn get_as(&self, path: &str, license: &str, query: &str) -> reqwest::Response {
        self.http.get(self.url(path, license, query)).basic_auth(&self.vendor, Some(&self.user)).send().await.expect("request sent")
    }

    pub async fn get_json(&self, path: &str, query: &str) -> (u16, Value) {
        let r = self.get(path, query).await;
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    pub async fn write(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        let r = self.try_write(method, path, body).await.expect("request sent");
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        let v = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, v)
    }

    pub async fn try_write(&self, method: &str, path: &str, body: Value) -> reqwest::Result<reqwest::Response> {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        self.http.request(m, self.url(path, LIC, "")).basic_auth(&self.vendor, Some(&self.user)).json(&body).send().await
    }
}

/// The package's quantity as its exact text (the emulator answers JSON numbers).
pub fn quantity(emu: &Emulator, label: &str) -> String {
    emu.package(label).expect("package exists")["Quantity"].to_string()
}

/// The messages of a 400's row errors.
pub fn row_messages(v: &Value) -> Vec<String> {
    v.as_array().expect("an array of row errors").iter().map(|e| e["message"].as_str().unwrap().to_string()).collect()
}

pub fn create_row(tag: &str, from: &str, q: &str, unit: &str) -> Value {
    let q: Value = serde_json::from_str(q).unwrap();
    json!({
        "Tag": tag, "Item": "Bulk Flower", "Quantity": q, "UnitOfMeasure": unit,
        "Location": "Vault A", "ActualDate": "2026-12-03", "ProductionBatchNumber": null,
        "Ingredients": [{"Package": from, "Quantity": q, "UnitOfMeasure": unit}]
    })
}
