//! Reads over real HTTP: auth per licence, the list wrapper and paging, lastModified windows,
//! transfers with deliveries and packages, lab results, reference data, and a seed directory.

mod common;

use std::path::PathBuf;

use common::*;
use custody_metrc_emulator::{Emulator, Seed};
use serde_json::{Value, json};

#[tokio::test]
async fn requests_without_valid_keys_or_for_a_licence_the_key_does_not_hold_get_401() {
    let emu = start().await;
    let http = client();
    let url = format!("{}/packages/v2/active?licenseNumber={LIC}", emu.base_url());

    let r = http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 401, "no Authorization header");
    let body: Value = r.json().await.unwrap();
    assert!(body["Message"].as_str().unwrap().contains("Basic"));

    let r = http.get(&url).basic_auth("wrong-vendor", Some(USER)).send().await.unwrap();
    assert_eq!(r.status(), 401, "unknown vendor key");
    let r = http.get(&url).basic_auth(VENDOR, Some("wrong-user")).send().await.unwrap();
    assert_eq!(r.status(), 401, "unknown user key");

    // user-key-2 is valid, but holds only the other licence.
    let r = http.get(&url).basic_auth(VENDOR, Some(OTHER_USER)).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert!(body["Message"].as_str().unwrap().contains(LIC), "{body}");
    // ...and writes are refused the same way, with nothing applied.
    let r = http
        .post(format!("{}/packages/v2/adjust?licenseNumber={LIC}", emu.base_url()))
        .basic_auth(VENDOR, Some(OTHER_USER))
        .json(&json!([{"Label": BULK, "Quantity": -1, "UnitOfMeasure": "Grams",
                        "AdjustmentReason": "Drying", "AdjustmentDate": "2026-12-03"}]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(emu.writes().is_empty());
    assert_eq!(quantity(&emu, BULK), "100");

    let r = http.get(&url).basic_auth(VENDOR, Some(USER)).send().await.unwrap();
    assert_eq!(r.status(), 200, "the right keys for the licence");

    // An expired user key is refused from then on.
    emu.faults().expire_user_key(USER);
    let r = http.get(&url).basic_auth(VENDOR, Some(USER)).send().await.unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn a_call_without_a_licence_is_refused_with_a_message() {
    let emu = start().await;
    let r = client().get(format!("{}/packages/v2/active", emu.base_url())).basic_auth(VENDOR, Some(USER)).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert!(body["Message"].as_str().unwrap().contains("licenseNumber"));
}

#[tokio::test]
async fn lists_are_paged_in_the_states_wrapper() {
    let emu = start().await;
    let api = api(&emu);
    let (s, v) = api.get_json("/packages/v2/active", "pageNumber=1&pageSize=2").await;
    assert_eq!(s, 200);
    assert_eq!(v["Total"], 3);
    assert_eq!(v["PageNumber"], 1);
    assert_eq!(v["PageSize"], 2);
    assert_eq!(v["Data"].as_array().unwrap().len(), 2);
    let (_, v2) = api.get_json("/packages/v2/active", "pageNumber=2&pageSize=2").await;
    assert_eq!(v2["Data"].as_array().unwrap().len(), 1);
    let mut labels: Vec<String> = v["Data"]
        .as_array()
        .unwrap()
        .iter()
        .chain(v2["Data"].as_array().unwrap())
        .map(|p| p["Label"].as_str().unwrap().to_string())
        .collect();
    labels.sort();
    assert_eq!(labels, [BULK, BULK2, EACH], "the pages together hold each package once");
    // Nulls the state leaves empty stay null.
    let first = &v["Data"][0];
    assert!(first["ProductionBatchNumber"].is_null());
    assert!(first["LabTestingState"].is_null());

    let (s, v) = api.get_json("/packages/v2/active", "pageSize=21").await;
    assert_eq!(s, 400, "{v}");
    assert!(v["Message"].as_str().unwrap().contains("20"));
    let (s, _) = api.get_json("/packages/v2/active", "pageNumber=0").await;
    assert_eq!(s, 400);

    // The other facility's list is its own.
    let other = Api { user: OTHER_USER.into(), ..api };
    let r = other.get_as("/packages/v2/active", OTHER_LIC, "").await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["Total"], 0);
}

#[tokio::test]
async fn the_largest_page_size_is_a_setting() {
    let emu = Emulator::start(seed().max_page_size(2)).await.unwrap();
    let api = api(&emu);
    let (s, v) = api.get_json("/packages/v2/active", "").await;
    assert_eq!(s, 200);
    assert_eq!(v["PageSize"], 2);
    assert_eq!(v["Data"].as_array().unwrap().len(), 2);
    let (s, _) = api.get_json("/packages/v2/active", "pageSize=3").await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn last_modified_windows_filter_and_may_not_exceed_24_hours() {
    let emu = start().await;
    let api = api(&emu);
    // Seeded packages were last modified 2026-11-30T14:05:00.
    let (s, v) = api.get_json("/packages/v2/active", "lastModifiedStart=2026-11-30T14:00:00&lastModifiedEnd=2026-11-30T15:00:00").await;
    assert_eq!(s, 200);
    assert_eq!(v["Total"], 3);
    let (_, v) = api.get_json("/packages/v2/active", "lastModifiedStart=2026-11-29T00:00:00&lastModifiedEnd=2026-11-30T00:00:00").await;
    assert_eq!(v["Total"], 0);
    // An offset is understood (14:05 UTC is 06:05 at -08:00).
    let (_, v) =
        api.get_json("/packages/v2/active", "lastModifiedStart=2026-11-30T06:00:00-08:00&lastModifiedEnd=2026-11-30T06:10:00-08:00").await;
    assert_eq!(v["Total"], 3);

    let (s, v) = api.get_json("/packages/v2/active", "lastModifiedStart=2026-11-29T00:00:00&lastModifiedEnd=2026-11-30T00:00:01").await;
    assert_eq!(s, 400);
    assert!(v["Message"].as_str().unwrap().contains("24 hours"), "{v}");
    let (s, _) = api.get_json("/transfers/v2/incoming", "lastModifiedStart=2026-11-01T00:00:00").await;
    assert_eq!(s, 400, "a start without an end runs to now: more than 24 hours");
    let (s, _) = api.get_json("/packages/v2/active", "lastModifiedStart=yesterday").await;
    assert_eq!(s, 400);

    // A change moves a package into the window of now.
    let (s, _) =
        api.write("PUT", "/packages/v2/location", json!([{"Label": BULK, "Location": "Receiving Bay", "MoveDate": "2026-12-03"}])).await;
    assert_eq!(s, 200);
    let lm = emu.package(BULK).unwrap()["LastModified"].as_str().unwrap().to_string();
    assert_eq!(lm.len(), 19, "local date-time without offset: {lm}");
    let q = format!("lastModifiedStart={lm}&lastModifiedEnd={lm}");
    let (_, v) = api.get_json("/packages/v2/active", &q).await;
    assert_eq!(v["Total"], 1);
    assert_eq!(v["Data"][0]["Label"], BULK);
    assert_eq!(v["Data"][0]["LocationName"], "Receiving Bay");
}

fn seed_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("seed")
}

#[tokio::test]
async fn the_sample_seed_directory_serves_a_transfer_in_the_states_real_shapes() {
    let seed = Seed::from_dir(seed_dir()).unwrap();
    let emu = Emulator::start(seed).await.unwrap();
    let api = Api { http: client(), base: emu.base_url(), vendor: "demo-vendor-key".into(), user: "demo-user-key".into() };
    let (s, v) = api.get_json("/transfers/v2/incoming", "").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["Total"], 1);
    let t = &v["Data"][0];
    assert_eq!(t["ManifestNumber"], "0000123456");
    assert!(t["DriverName"].is_null());
    assert_eq!(t["EstimatedArrivalDateTime"], "2026-11-30T14:05:00");
    assert_eq!(t["PackageCount"], 3);
    assert_eq!(t["ReceivedPackageCount"], 0);
    let id = t["Id"].as_i64().unwrap();

    let (s, v) = api.get_json(&format!("/transfers/v2/{id}/deliveries"), "").await;
    assert_eq!(s, 200);
    let delivery = v["Data"][0]["Id"].as_i64().unwrap();
    let (s, v) = api.get_json(&format!("/transfers/v2/deliveries/{delivery}/packages"), "").await;
    assert_eq!(s, 200);
    let pkgs = v["Data"].as_array().unwrap();
    assert_eq!(pkgs.len(), 3);
    let bare = pkgs.iter().find(|p| p["PackageLabel"] == "1A4FF0300000022000001002").unwrap();
    assert!(bare["ProductionBatchNumber"].is_null());
    assert!(bare["LabTestingState"].is_null());
    assert_eq!(bare["ShippedQuantity"].to_string(), "453.59");
    assert_eq!(bare["ShipmentPackageState"], "Shipped");
    // An enum word the product may not know is passed through as the state wrote it.
    assert!(pkgs.iter().any(|p| p["LabTestingState"] == "TestPassedPendingRemediation"));

    // Lab results by the package's Id (and by label).
    let (s, v) = api.get_json("/labtests/v2/results", "packageId=8001").await;
    assert_eq!(s, 200);
    assert_eq!(v["Total"], 2);
    assert_eq!(v["Data"][0]["LabFacilityName"], "Pacific Analytics");
    let (_, v) = api.get_json("/labtests/v2/results", "packageLabel=1A4FF0300000022000001003").await;
    assert_eq!(v["Total"], 1);
    assert_eq!(v["Data"][0]["OverallPassed"], false);
    let (s, _) = api.get_json("/labtests/v2/results", "").await;
    assert_eq!(s, 400, "which package's results must be said");

    // Reference data.
    let (_, v) = api.get_json("/items/v2/active", "").await;
    assert_eq!(v["Total"], 3);
    let (_, v) = api.get_json("/locations/v2/active", "").await;
    assert_eq!(v["Data"][0]["Name"], "Vault A");
    let (_, v) = api.get_json("/packages/v2/adjust/reasons", "").await;
    assert!(v["Data"].as_array().unwrap().iter().any(|r| r["RequiresNote"] == true));
    let r = api
        .http
        .get(format!("{}/unitsofmeasure/v2/active", emu.base_url()))
        .basic_auth("demo-vendor-key", Some("demo-user-key"))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert!(v["Data"].as_array().unwrap().iter().any(|u| u["Name"] == "Grams" && u["QuantityType"] == "WeightBased"));
}

#[tokio::test]
async fn accepting_a_transfer_makes_its_packages_active_for_the_recipient() {
    let emu = start().await;
    let api = api(&emu);
    let id = emu
        .add_transfer(
            LIC,
            json!({
                "ManifestNumber": "0000999001", "ShipperFacilityLicenseNumber": "C11-0000777-LIC",
                "DriverName": null, "VehicleMake": null,
                "EstimatedArrivalDateTime": "2026-12-03T09:00:00",
                "Packages": [
                    {"PackageLabel": "1A4FF0300000022000002001", "ItemName": "Bulk Flower",
                     "ShippedQuantity": 1000.5, "ShippedUnitOfMeasureName": "Grams",
                     "LabTestingState": null, "ProductionBatchNumber": null},
                    {"PackageLabel": "1A4FF0300000022000002002", "ItemName": "Flower 3.5g",
                     "ShippedQuantity": 40, "ShippedUnitOfMeasureName": "Each",
                     "LabTestingState": "TestPassed", "ProductionBatchNumber": "PB-1"}
                ]
            }),
        )
        .unwrap();
    let (_, v) = api.get_json("/transfers/v2/incoming", "").await;
    assert_eq!(v["Data"][0]["Id"], id);
    assert!(emu.package("1A4FF0300000022000002001").is_none(), "not held until accepted");

    assert_eq!(emu.accept_transfer("0000999001").unwrap(), 2);
    let r = api.get("/packages/v2/1A4FF0300000022000002001", "").await;
    assert_eq!(r.status(), 200);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["Quantity"].to_string(), "1000.5");
    assert_eq!(p["UnitOfMeasureName"], "Grams");
    assert_eq!(p["ReceivedFromManifestNumber"], "0000999001");
    assert!(p["ProductionBatchNumber"].is_null());

    let (_, v) = api.get_json("/transfers/v2/incoming", "").await;
    assert_eq!(v["Data"][0]["ReceivedPackageCount"], 2);
    let delivery = v["Data"][0]["DeliveryId"].as_i64().unwrap();
    let (_, v) = api.get_json(&format!("/transfers/v2/deliveries/{delivery}/packages"), "").await;
    assert!(v["Data"].as_array().unwrap().iter().all(|p| p["ShipmentPackageState"] == "Accepted"));
    // A received tag is used: creating a package with it fails.
    let (s, v) = api.write("POST", "/packages/v2", json!([create_row("1A4FF0300000022000002002", BULK, "1", "Grams")])).await;
    assert_eq!(s, 400, "{v}");
    assert!(emu.accept_transfer("0000000000").is_err());
}

#[tokio::test]
async fn a_transfer_is_visible_only_to_the_facilities_on_it() {
    let emu = start().await;
    let id = emu
        .add_transfer(
            LIC,
            json!({"ManifestNumber": "0000999002", "ShipperFacilityLicenseNumber": "C11-0000777-LIC",
                   "Packages": [{"PackageLabel": "1A4FF0300000022000003001", "ShippedQuantity": 1,
                                 "ShippedUnitOfMeasureName": "Each"}]}),
        )
        .unwrap();
    let other = Api { user: OTHER_USER.into(), ..api(&emu) };
    let r = other.get_as(&format!("/transfers/v2/{id}/deliveries"), OTHER_LIC, "").await;
    assert_eq!(r.status(), 401);
    let r = other.get_as("/transfers/v2/incoming", OTHER_LIC, "").await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["Total"], 0);
    let (s, _) = api(&emu).get_json("/transfers/v2/424242/deliveries", "").await;
    assert_eq!(s, 404);
}

#[test]
fn a_broken_seed_file_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("packages.json"), "{ not json").unwrap();
    let e = Seed::from_dir(dir.path()).unwrap_err().to_string();
    assert!(e.contains("packages.json"), "{e}");
    std::fs::write(dir.path().join("packages.json"), "[]").unwrap();
    let e = Seed::from_dir(dir.path()).unwrap_err().to_string();
    assert!(e.contains("licence"), "{e}");
}
