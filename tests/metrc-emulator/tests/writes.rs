//! Writes over real HTTP: the state's validation, single-use tags, ingredients, all-or-nothing
//! requests, the 10-object limit and outgoing templates.

mod common;

use common::*;
use serde_json::{Value, json};

const NEW1: &str = "1A4FF0100000022000000901";
const NEW2: &str = "1A4FF0100000022000000902";

#[tokio::test]
async fn a_package_is_created_from_ingredients_and_its_tag_can_be_used_only_once() {
    let emu = start().await;
    let api = api(&emu);
    let (s, v) = api.write("POST", "/packages/v2", json!([create_row(NEW1, BULK, "10.25", "Grams")])).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(quantity(&emu, BULK), "89.75", "the ingredient came out of the source");
    let r = api.get(&format!("/packages/v2/{NEW1}"), "").await;
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["Quantity"].to_string(), "10.25");
    assert_eq!(p["Item"]["Name"], "Bulk Flower");
    assert_eq!(p["LocationName"], "Vault A");
    assert_eq!(p["SourcePackageLabels"], BULK);
    assert_eq!(emu.writes().len(), 1);
    assert_eq!(emu.writes()[0].path, "/packages/v2");
    assert_eq!(emu.writes()[0].license, LIC);

    // The same create again (a retry after a lost answer, say) fails, naming the tag.
    let (s, v) = api.write("POST", "/packages/v2", json!([create_row(NEW1, BULK, "10.25", "Grams")])).await;
    assert_eq!(s, 400);
    let msgs = row_messages(&v);
    assert!(msgs[0].contains(NEW1) && msgs[0].contains("already been used"), "{msgs:?}");
    assert_eq!(quantity(&emu, BULK), "89.75", "the failed create took nothing");
    assert_eq!(emu.writes().len(), 1);

    // A finished package's tag stays used.
    let (s, _) = api.write("PUT", "/packages/v2/finish", json!([{"Label": NEW1, "ActualDate": "2026-12-03"}])).await;
    assert_eq!(s, 200);
    let (s, _) = api.write("POST", "/packages/v2", json!([create_row(NEW1, BULK, "1", "Grams")])).await;
    assert_eq!(s, 400);
}

#[tokio::test]
async fn each_create_validation_error_is_reported_and_nothing_changes() {
    let emu = start().await;
    let api = api(&emu);
    let cases: Vec<(Value, &str)> = vec![
        (create_row("1A4FF01000000220000009", BULK, "1", "Grams"), "not a package tag"),
        (create_row("1a4ff0100000022000000901", BULK, "1", "Grams"), "not a package tag"),
        (create_row(NEW1, "1A4FF0100000022000000404", "1", "Grams"), "was not found"),
        (create_row(NEW1, BULK, "1", "Ounces"), "measured in Grams"),
        (create_row(NEW1, BULK, "100.01", "Grams"), "cannot be taken"),
        (create_row(NEW1, BULK, "0", "Grams"), "greater than zero"),
        (create_row(NEW1, BULK, "1", "Bushels"), "not a known unit"),
        (
            {
                let mut r = create_row(NEW1, BULK, "1", "Grams");
                r["Location"] = json!("Vault Z");
                r
            },
            "Location Vault Z was not found",
        ),
        (
            {
                let mut r = create_row(NEW1, BULK, "1", "Grams");
                r["Item"] = json!("Moon Rocks");
                r
            },
            "Item Moon Rocks was not found",
        ),
        (
            {
                let mut r = create_row(NEW1, EACH, "1", "Each");
                r["Item"] = json!("Bulk Flower");
                r
            },
            "cannot be used for item Bulk Flower",
        ),
        (
            {
                let mut r = create_row(NEW1, BULK, "1", "Grams");
                r["Ingredients"] = json!([]);
                r
            },
            "Ingredients are required",
        ),
        (
            {
                let mut r = create_row(NEW1, BULK, "1", "Grams");
                r.as_object_mut().unwrap().remove("ActualDate");
                r
            },
            "ActualDate is required",
        ),
    ];
    for (row, expected) in cases {
        let (s, v) = api.write("POST", "/packages/v2", json!([row])).await;
        assert_eq!(s, 400, "{row} -> {v}");
        let msgs = row_messages(&v);
        assert!(msgs.iter().any(|m| m.contains(expected)), "expected \"{expected}\" in {msgs:?} for {row}");
        assert_eq!(v[0]["row"], 0);
    }
    assert!(emu.writes().is_empty());
    assert_eq!(quantity(&emu, BULK), "100");
    assert!(emu.package(NEW1).is_none());
}

#[tokio::test]
async fn a_write_is_all_or_nothing() {
    let emu = start().await;
    let api = api(&emu);
    // Row 0 is good, row 1 reuses row 0's tag, row 2 overdraws what rows 0 and 1 left.
    let (s, v) = api
        .write(
            "POST",
            "/packages/v2",
            json!([create_row(NEW1, BULK, "60", "Grams"), create_row(NEW1, BULK2, "1", "Grams"), create_row(NEW2, BULK, "40.5", "Grams"),]),
        )
        .await;
    assert_eq!(s, 400);
    let rows: Vec<i64> = v.as_array().unwrap().iter().map(|e| e["row"].as_i64().unwrap()).collect();
    assert_eq!(rows, [1, 2], "{v}");
    assert!(row_messages(&v)[1].contains("40 Grams left"), "{v}");
    assert!(emu.package(NEW1).is_none(), "row 0 was not applied");
    assert_eq!(quantity(&emu, BULK), "100");
    assert_eq!(quantity(&emu, BULK2), "50.5");
    assert!(emu.writes().is_empty());

    // Adjustments too: the good first row is not applied when the second fails.
    let (s, v) = api
        .write(
            "POST",
            "/packages/v2/adjust",
            json!([
                {"Label": BULK, "Quantity": -1, "UnitOfMeasure": "Grams",
                 "AdjustmentReason": "Drying", "AdjustmentDate": "2026-12-03"},
                {"Label": BULK2, "Quantity": -1, "UnitOfMeasure": "Grams",
                 "AdjustmentReason": "Waste", "AdjustmentDate": "2026-12-03"}
            ]),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(v[0]["row"], 1);
    assert_eq!(quantity(&emu, BULK), "100");
}

#[tokio::test]
async fn more_than_ten_objects_are_answered_413() {
    let emu = start().await;
    let api = api(&emu);
    let rows: Vec<Value> = (0..11)
        .map(|_| {
            json!({"Label": BULK, "Quantity": -1, "UnitOfMeasure": "Grams",
                   "AdjustmentReason": "Drying", "AdjustmentDate": "2026-12-03"})
        })
        .collect();
    let (s, v) = api.write("POST", "/packages/v2/adjust", json!(rows)).await;
    assert_eq!(s, 413);
    assert!(v["Message"].as_str().unwrap().contains("10"));
    assert_eq!(quantity(&emu, BULK), "100");
    let (s, _) = api.write("POST", "/packages/v2/adjust", json!(rows[..10])).await;
    assert_eq!(s, 200, "ten is allowed");
    assert_eq!(quantity(&emu, BULK), "90");
    let (s, v) = api.write("POST", "/packages/v2/adjust", json!({"Label": BULK})).await;
    assert_eq!(s, 400, "a write takes an array: {v}");
}

#[tokio::test]
async fn adjustments_are_validated_as_the_state_does() {
    let emu = start().await;
    let api = api(&emu);
    let adj = |label: &str, q: &str, unit: &str, reason: &str, note: Option<&str>| {
        let q: Value = serde_json::from_str(q).unwrap();
        json!([{"Label": label, "Quantity": q, "UnitOfMeasure": unit, "AdjustmentReason": reason,
                "ReasonNote": note, "AdjustmentDate": "2026-12-03T10:15:00"}])
    };
    let cases = [
        (adj("1A4FF0100000022000000404", "-1", "Grams", "Drying", None), "was not found"),
        (adj(BULK, "-1", "Each", "Drying", None), "measured in Grams"),
        (adj(BULK, "-1", "Grams", "Because", None), "not one of the state's reasons"),
        (adj(BULK, "-1", "Grams", "Waste", None), "requires a ReasonNote"),
        (adj(BULK, "-1", "Grams", "Waste", Some("  ")), "requires a ReasonNote"),
        (adj(BULK, "-100.5", "Grams", "Drying", None), "below zero"),
        (adj(BULK, "0", "Grams", "Drying", None), "must not be zero"),
    ];
    for (body, expected) in cases {
        let (s, v) = api.write("POST", "/packages/v2/adjust", body.clone()).await;
        assert_eq!(s, 400, "{body}");
        assert!(row_messages(&v).iter().any(|m| m.contains(expected)), "expected \"{expected}\" in {v}");
    }
    assert_eq!(quantity(&emu, BULK), "100");
    let before = emu.package(BULK).unwrap()["LastModified"].clone();
    assert_eq!(before, "2026-11-30T14:05:00");

    let (s, _) = api.write("POST", "/packages/v2/adjust", adj(BULK, "-0.1", "Grams", "Waste", Some("spill"))).await;
    assert_eq!(s, 200);
    let (s, _) = api.write("POST", "/packages/v2/adjust", adj(BULK, "-0.2", "Grams", "Drying", None)).await;
    assert_eq!(s, 200);
    assert_eq!(quantity(&emu, BULK), "99.7", "decimal arithmetic, no float drift");
    assert_ne!(emu.package(BULK).unwrap()["LastModified"], before);
    // A package adjusted to zero can be taken no further.
    let (s, _) = api.write("POST", "/packages/v2/adjust", adj(BULK, "-99.7", "Grams", "Drying", None)).await;
    assert_eq!(s, 200);
    assert_eq!(quantity(&emu, BULK), "0");
}

#[tokio::test]
async fn moves_need_a_known_location_and_finished_packages_go_inactive() {
    let emu = start().await;
    let api = api(&emu);
    let (s, v) = api
        .write(
            "PUT",
            "/packages/v2/location",
            json!([{"Label": BULK, "Location": "Vault Z",
                                                     "MoveDate": "2026-12-03"}]),
        )
        .await;
    assert_eq!(s, 400);
    assert!(row_messages(&v)[0].contains("Location Vault Z was not found"));
    assert_eq!(emu.package(BULK).unwrap()["LocationName"], "Vault A");
    let (s, v) = api.write("PUT", "/packages/v2/location", json!([{"Label": BULK}])).await;
    assert_eq!(s, 400);
    assert!(row_messages(&v)[0].contains("Location is required"));

    let (s, _) = api
        .write(
            "PUT",
            "/packages/v2/location",
            json!([{"Label": BULK, "Location": "Receiving Bay",
                                                     "MoveDate": "2026-12-03"}]),
        )
        .await;
    assert_eq!(s, 200);
    let p = emu.package(BULK).unwrap();
    assert_eq!(p["LocationName"], "Receiving Bay");
    assert_eq!(p["LocationId"], 3002);

    let (s, v) = api.write("PUT", "/packages/v2/finish", json!([{"Label": BULK}])).await;
    assert_eq!(s, 400);
    assert!(row_messages(&v)[0].contains("ActualDate"));
    let (s, _) = api.write("PUT", "/packages/v2/finish", json!([{"Label": BULK, "ActualDate": "2026-12-03"}])).await;
    assert_eq!(s, 200);
    let (_, active) = api.get_json("/packages/v2/active", "").await;
    assert_eq!(active["Total"], 2);
    let (_, inactive) = api.get_json("/packages/v2/inactive", "").await;
    assert_eq!(inactive["Total"], 1);
    assert_eq!(inactive["Data"][0]["Label"], BULK);
    assert_eq!(inactive["Data"][0]["FinishedDate"], "2026-12-03");
    // A finished package cannot be changed.
    let (s, v) = api.write("PUT", "/packages/v2/finish", json!([{"Label": BULK, "ActualDate": "2026-12-03"}])).await;
    assert_eq!(s, 400);
    assert!(row_messages(&v)[0].contains("finished"));
}

#[tokio::test]
async fn on_hold_packages_are_listed_apart_and_cannot_be_changed() {
    let mut held = package("1A4FF0100000022000000201", "5", "Grams", "Bulk Flower");
    held["IsOnHold"] = json!(true);
    let emu = custody_metrc_emulator::Emulator::start(seed().package(LIC, held)).await.unwrap();
    let api = api(&emu);
    let (_, v) = api.get_json("/packages/v2/onhold", "").await;
    assert_eq!(v["Total"], 1);
    let (s, v) = api
        .write(
            "POST",
            "/packages/v2/adjust",
            json!([{"Label": "1A4FF0100000022000000201",
            "Quantity": -1, "UnitOfMeasure": "Grams", "AdjustmentReason": "Drying",
            "AdjustmentDate": "2026-12-03"}]),
        )
        .await;
    assert_eq!(s, 400);
    assert!(row_messages(&v)[0].contains("on hold"));
}

fn template(name: &str, labels: &[&str]) -> Value {
    let pkgs: Vec<Value> = labels
        .iter()
        .map(|l| {
            json!({"PackageLabel": l, "WholesalePrice": 120.5, "GrossWeight": null,
                       "GrossUnitOfWeightName": null})
        })
        .collect();
    json!({
        "Name": name, "TransporterFacilityLicenseNumber": LIC, "DriverName": "Sam Driver",
        "DriverOccupationalLicenseNumber": null, "DriverLicenseNumber": "D1234567",
        "PhoneNumberForQuestions": "555-0100", "VehicleMake": "Ford", "VehicleModel": "Transit",
        "VehicleLicensePlateNumber": "7ABC123",
        "Destinations": [{
            "RecipientLicenseNumber": "C11-0000555-LIC", "TransferTypeName": "Wholesale Manifest",
            "PlannedRoute": "I-5 S", "EstimatedDepartureDateTime": "2026-12-04T08:00:00",
            "EstimatedArrivalDateTime": "2026-12-04T11:30:00", "Packages": pkgs
        }]
    })
}

#[tokio::test]
async fn outgoing_templates_are_created_validated_and_listed() {
    let emu = start().await;
    let api = api(&emu);
    let (s, v) = api.write("POST", "/transfers/v2/templates/outgoing", json!([template("Order 1001", &[BULK, EACH])])).await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = api.get_json("/transfers/v2/templates/outgoing", "").await;
    assert_eq!(s, 200);
    assert_eq!(v["Total"], 1);
    assert_eq!(v["Data"][0]["Name"], "Order 1001");
    assert_eq!(v["Data"][0]["PackageCount"], 2);

    let cases = [
        (template("Order 1001", &[BULK2]), "already exists"),
        (template("Order 1002", &["1A4FF0100000022000000404"]), "was not found"),
        (template("Order 1003", &[BULK2, BULK2]), "listed twice"),
        (template("Order 1004", &[]), "has no Packages"),
        (
            {
                let mut t = template("Order 1005", &[BULK2]);
                t["Destinations"][0]["EstimatedArrivalDateTime"] = json!("soon");
                t
            },
            "is not a date-time",
        ),
        (
            {
                let mut t = template("Order 1006", &[BULK2]);
                t["Destinations"] = json!([]);
                t
            },
            "Destinations are required",
        ),
    ];
    for (body, expected) in cases {
        let (s, v) = api.write("POST", "/transfers/v2/templates/outgoing", json!([body])).await;
        assert_eq!(s, 400, "{body}");
        assert!(row_messages(&v).iter().any(|m| m.contains(expected)), "expected \"{expected}\" in {v}");
    }
    let (_, v) = api.get_json("/transfers/v2/templates/outgoing", "").await;
    assert_eq!(v["Total"], 1, "no failed template was kept");
    // A package of another facility cannot be shipped from this one.
    let other = Api { user: OTHER_USER.into(), ..api };
    let r = other
        .http
        .post(other.url("/transfers/v2/templates/outgoing", OTHER_LIC, ""))
        .basic_auth(VENDOR, Some(OTHER_USER))
        .json(&json!([template("Theirs", &[BULK2])]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}
