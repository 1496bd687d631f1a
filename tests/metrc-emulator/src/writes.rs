//! The writes the product makes (package create with ingredients, adjust, location, finish, and
//! outgoing templates), each validated as the state validates it. A request's rows are applied
//! in order to a copy of the state; any row's error discards the copy (all or nothing).

use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use crate::store::{Package, PackageList, State, Template};
use crate::values::{dec, field, is_tag, now_value, num, parse_date_time, text};

/// One row's validation error, answered as `{"row": i, "message": "..."}`.
#[derive(Clone, Debug)]
pub struct RowError {
    pub row: usize,
    pub message: String,
}

/// Which write a request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteKind {
    CreatePackages,
    Adjust,
    Location,
    Finish,
    OutgoingTemplates,
}

/// Applies every row of a write to `st`, or returns every row's error. The caller applies this
/// to a copy and keeps it only on success.
pub fn apply(st: &mut State, kind: WriteKind, license: &str, rows: &[Value]) -> Result<(), Vec<RowError>> {
    let mut errors = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let Some(row) = row.as_object() else {
            errors.push(RowError { row: i, message: "Each item of the request must be a JSON object.".into() });
            continue;
        };
        let result = match kind {
            WriteKind::CreatePackages => create_package(st, license, row),
            WriteKind::Adjust => adjust(st, license, row),
            WriteKind::Location => move_package(st, license, row),
            WriteKind::Finish => finish(st, license, row),
            WriteKind::OutgoingTemplates => template(st, license, row),
        };
        if let Err(messages) = result {
            errors.extend(messages.into_iter().map(|message| RowError { row: i, message }));
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

type RowResult = Result<(), Vec<String>>;

/// A package the licence holds and may change: not finished, not on hold.
fn changeable(st: &State, license: &str, label: &str) -> Result<usize, String> {
    let i = st
        .packages
        .iter()
        .position(|p| p.label() == label && p.license == license)
        .ok_or_else(|| format!("Package {label} was not found for facility {license}."))?;
    match st.packages[i].list() {
        PackageList::Active => Ok(i),
        PackageList::OnHold => Err(format!("Package {label} is on hold and cannot be changed.")),
        PackageList::Inactive => Err(format!("Package {label} is finished or archived and cannot be changed.")),
    }
}

fn required_date(row: &Map<String, Value>, key: &str, errs: &mut Vec<String>) {
    match field(row, key) {
        None => errs.push(format!("{key} is required.")),
        Some(s) if parse_date_time(s).is_none() => errs.push(format!("{key} \"{s}\" is not a date (expected e.g. 2026-11-30).")),
        Some(_) => {}
    }
}

fn positive_quantity(row: &Map<String, Value>, key: &str, what: &str, errs: &mut Vec<String>) -> Option<Decimal> {
    match dec(row.get(key)) {
        None => {
            errs.push(format!("{what} {key} is required and must be a number."));
            None
        }
        Some(q) if q <= Decimal::ZERO => {
            errs.push(format!("{what} {key} must be greater than zero (was {q})."));
            None
        }
        Some(q) => Some(q),
    }
}

fn set_quantity(p: &mut Package, q: Decimal, now: &Value) {
    p.rec.insert("Quantity".into(), num(q));
    p.rec.insert("LastModified".into(), now.clone());
}

fn create_package(st: &mut State, license: &str, row: &Map<String, Value>) -> RowResult {
    let mut errs = Vec::new();
    let tag = field(row, "Tag").unwrap_or("").to_string();
    if tag.is_empty() {
        errs.push("Tag is required.".into());
    } else if !is_tag(&tag) {
        errs.push(format!("Tag {tag} is not a package tag: 24 upper-case letters or digits beginning 1A4."));
    } else if st.used_tags.contains(&tag) {
        errs.push(format!("Package tag {tag} has already been used; a tag can be used only once."));
    }
    let item = match field(row, "Item") {
        None => {
            errs.push("Item is required.".into());
            None
        }
        Some(name) => {
            let found = st.items_of(license).iter().find(|i| text(i, "Name") == Some(name)).cloned();
            if found.is_none() {
                errs.push(format!("Item {name} was not found for facility {license}."));
            }
            found
        }
    };
    let quantity = positive_quantity(row, "Quantity", "The package's", &mut errs);
    let unit = match field(row, "UnitOfMeasure") {
        None => {
            errs.push("UnitOfMeasure is required.".into());
            None
        }
        Some(u) => match st.unit(u) {
            None => {
                errs.push(format!("Unit of measure {u} is not a known unit."));
                None
            }
            Some(um) => Some(um.clone()),
        },
    };
    if let (Some(item), Some(unit)) = (&item, &unit) {
        let item_unit = text(item, "UnitOfMeasureName").and_then(|u| st.unit(u));
        let kind = |u: &Map<String, Value>| text(u, "QuantityType").map(String::from);
        if let Some(iu) = item_unit
            && kind(iu) != kind(unit)
        {
            errs.push(format!(
                "Unit of measure {} cannot be used for item {}, which is measured in {}.",
                text(unit, "Name").unwrap_or(""),
                text(item, "Name").unwrap_or(""),
                text(iu, "Name").unwrap_or("")
            ));
        }
    }
    let location = match field(row, "Location") {
        None => None,
        Some(l) => {
            let found = st.locations_of(license).iter().find(|x| text(x, "Name") == Some(l)).cloned();
            if found.is_none() {
                errs.push(format!("Location {l} was not found for facility {license}."));
            }
            found
        }
    };
    required_date(row, "ActualDate", &mut errs);
    if let Some(e) = field(row, "ExpirationDate")
        && parse_date_time(e).is_none()
    {
        errs.push(format!("ExpirationDate \"{e}\" is not a date."));
    }
    let ingredients = match row.get("Ingredients") {
        Some(Value::Array(a)) if !a.is_empty() => a.clone(),
        _ => {
            errs.push("Ingredients are required: the packages this package is made from.".into());
            Vec::new()
        }
    };
    // Ingredients are taken in order, so two rows drawing on one package see each other.
    let now = now_value();
    let mut takes: Vec<(usize, Decimal)> = Vec::new();
    let mut sources = Vec::new();
    for (n, ing) in ingredients.iter().enumerate() {
        let Some(ing) = ing.as_object() else {
            errs.push(format!("Ingredient {} must be a JSON object.", n + 1));
            continue;
        };
        let Some(label) = field(ing, "Package") else {
            errs.push(format!("Ingredient {} has no Package.", n + 1));
            continue;
        };
        let idx = match changeable(st, license, label) {
            Ok(i) => i,
            Err(e) => {
                errs.push(e);
                continue;
            }
        };
        let Some(q) = positive_quantity(ing, "Quantity", &format!("Ingredient {label}"), &mut errs) else {
            continue;
        };
        let pkg_unit = text(&st.packages[idx].rec, "UnitOfMeasureName").unwrap_or("");
        match field(ing, "UnitOfMeasure") {
            None => errs.push(format!("Ingredient {label} has no UnitOfMeasure.")),
            Some(u) if u != pkg_unit => errs.push(format!("Ingredient {label} is in {u}, but the package is measured in {pkg_unit}.")),
            Some(_) => {
                let taken: Decimal = takes.iter().filter(|(i, _)| *i == idx).map(|(_, q)| *q).sum();
                let have = dec(st.packages[idx].rec.get("Quantity")).unwrap_or(Decimal::ZERO);
                if taken + q > have {
                    errs.push(format!("Package {label} has {} {pkg_unit} left; {} {pkg_unit} cannot be taken from it.", have - taken, q));
                } else {
                    takes.push((idx, q));
                    sources.push(label.to_string());
                }
            }
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    let (Some(item), Some(unit), Some(quantity)) = (item, unit, quantity) else {
        return Err(vec!["The package could not be created.".into()]);
    };
    for (idx, q) in &takes {
        let p = &mut st.packages[*idx];
        let have = dec(p.rec.get("Quantity")).unwrap_or(Decimal::ZERO);
        set_quantity(p, have - q, &now);
    }
    let first = takes.first().map(|(i, _)| st.packages[*i].rec.clone());
    let inherit = |k: &str| first.as_ref().and_then(|f| f.get(k).cloned()).unwrap_or(Value::Null);
    let get = |k: &str| row.get(k).cloned().unwrap_or(Value::Null);
    let id = st.new_id();
    let loc = |k: &str| location.as_ref().and_then(|l| l.get(k).cloned()).unwrap_or(Value::Null);
    sources.dedup();
    let rec = json!({
        "Id": id,
        "Label": tag,
        "PackageType": "Product",
        "SourceHarvestNames": inherit("SourceHarvestNames"),
        "SourcePackageLabels": sources.join(", "),
        "LocationId": loc("Id"),
        "LocationName": loc("Name"),
        "LocationTypeName": loc("LocationTypeName"),
        "SublocationName": get("Sublocation"),
        "Quantity": num(quantity),
        "UnitOfMeasureName": unit.get("Name").cloned().unwrap_or(Value::Null),
        "UnitOfMeasureAbbreviation": unit.get("Abbreviation").cloned().unwrap_or(Value::Null),
        "Item": Value::Object(item),
        "Note": get("Note"),
        "PatientLicenseNumber": get("PatientLicenseNumber"),
        "ProductionBatchNumber": get("ProductionBatchNumber"),
        "IsProductionBatch": row.get("IsProductionBatch").cloned().unwrap_or(json!(false)),
        "LabTestingState": inherit("LabTestingState"),
        "LabTestingStateDate": inherit("LabTestingStateDate"),
        "IsOnHold": false,
        "PackagedDate": get("ActualDate"),
        "ExpirationDate": get("ExpirationDate"),
        "UseByDate": get("UseByDate"),
        "FinishedDate": null,
        "ArchivedDate": null,
        "LastModified": now,
    });
    if let Value::Object(rec) = rec {
        st.used_tags.insert(tag);
        st.packages.push(Package { license: license.to_string(), rec });
    }
    Ok(())
}

fn adjust(st: &mut State, license: &str, row: &Map<String, Value>) -> RowResult {
    let mut errs = Vec::new();
    let idx = match field(row, "Label") {
        None => {
            errs.push("Label is required.".into());
            None
        }
        Some(label) => changeable(st, license, label).map_err(|e| errs.push(e)).ok(),
    };
    let delta = match dec(row.get("Quantity")) {
        None => {
            errs.push("Quantity is required and must be a number (negative to remove).".into());
            None
        }
        Some(q) if q.is_zero() => {
            errs.push("Quantity must not be zero.".into());
            None
        }
        Some(q) => Some(q),
    };
    match field(row, "AdjustmentReason") {
        None => errs.push("AdjustmentReason is required.".into()),
        Some(r) => match st.adjust_reasons.iter().find(|x| text(x, "Name") == Some(r)) {
            None => errs.push(format!("Adjustment reason {r} is not one of the state's reasons.")),
            Some(reason) => {
                if reason.get("RequiresNote").and_then(Value::as_bool) == Some(true) && field(row, "ReasonNote").is_none() {
                    errs.push(format!("Adjustment reason {r} requires a ReasonNote."));
                }
            }
        },
    }
    required_date(row, "AdjustmentDate", &mut errs);
    let unit = field(row, "UnitOfMeasure");
    if unit.is_none() {
        errs.push("UnitOfMeasure is required.".into());
    }
    if let (Some(idx), Some(unit)) = (idx, unit) {
        let p = &st.packages[idx];
        let pkg_unit = text(&p.rec, "UnitOfMeasureName").unwrap_or("");
        if unit != pkg_unit {
            errs.push(format!("Package {} is measured in {pkg_unit}; an adjustment in {unit} cannot be applied.", p.label()));
        } else if let Some(d) = delta {
            let have = dec(p.rec.get("Quantity")).unwrap_or(Decimal::ZERO);
            if have + d < Decimal::ZERO {
                errs.push(format!("Package {} has {have} {pkg_unit}; removing {} would take it below zero.", p.label(), -d));
            }
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    if let (Some(idx), Some(d)) = (idx, delta) {
        let p = &mut st.packages[idx];
        let have = dec(p.rec.get("Quantity")).unwrap_or(Decimal::ZERO);
        set_quantity(p, have + d, &now_value());
    }
    Ok(())
}

fn move_package(st: &mut State, license: &str, row: &Map<String, Value>) -> RowResult {
    let mut errs = Vec::new();
    let idx = match field(row, "Label") {
        None => {
            errs.push("Label is required.".into());
            None
        }
        Some(label) => changeable(st, license, label).map_err(|e| errs.push(e)).ok(),
    };
    let location = match field(row, "Location") {
        None => {
            errs.push("Location is required.".into());
            None
        }
        Some(l) => {
            let found = st.locations_of(license).iter().find(|x| text(x, "Name") == Some(l)).cloned();
            if found.is_none() {
                errs.push(format!("Location {l} was not found for facility {license}."));
            }
            found
        }
    };
    if let Some(m) = field(row, "MoveDate")
        && parse_date_time(m).is_none()
    {
        errs.push(format!("MoveDate \"{m}\" is not a date."));
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    if let (Some(idx), Some(loc)) = (idx, location) {
        let p = &mut st.packages[idx];
        for (to, from) in [("LocationId", "Id"), ("LocationName", "Name"), ("LocationTypeName", "LocationTypeName")] {
            p.rec.insert(to.into(), loc.get(from).cloned().unwrap_or(Value::Null));
        }
        p.rec.insert("SublocationName".into(), row.get("Sublocation").cloned().unwrap_or(Value::Null));
        p.rec.insert("LastModified".into(), now_value());
    }
    Ok(())
}

fn finish(st: &mut State, license: &str, row: &Map<String, Value>) -> RowResult {
    let mut errs = Vec::new();
    let idx = match field(row, "Label") {
        None => {
            errs.push("Label is required.".into());
            None
        }
        Some(label) => changeable(st, license, label).map_err(|e| errs.push(e)).ok(),
    };
    required_date(row, "ActualDate", &mut errs);
    if !errs.is_empty() {
        return Err(errs);
    }
    if let Some(idx) = idx {
        let date = field(row, "ActualDate").and_then(parse_date_time).map(|d| d.date().format("%Y-%m-%d").to_string());
        let p = &mut st.packages[idx];
        p.rec.insert("FinishedDate".into(), json!(date));
        p.rec.insert("LastModified".into(), now_value());
    }
    Ok(())
}

fn template(st: &mut State, license: &str, row: &Map<String, Value>) -> RowResult {
    let mut errs = Vec::new();
    match field(row, "Name") {
        None => errs.push("Name is required.".into()),
        Some(name) => {
            if st.templates.iter().any(|t| t.license == license && text(&t.rec, "Name") == Some(name)) {
                errs.push(format!("A template named {name} already exists for facility {license}."));
            }
        }
    }
    let destinations = match row.get("Destinations") {
        Some(Value::Array(a)) if !a.is_empty() => a.as_slice(),
        _ => {
            errs.push("Destinations are required (at least one).".into());
            &[]
        }
    };
    let mut seen: Vec<String> = Vec::new();
    for (n, d) in destinations.iter().enumerate() {
        let n = n + 1;
        let Some(d) = d.as_object() else {
            errs.push(format!("Destination {n} must be a JSON object."));
            continue;
        };
        if field(d, "RecipientLicenseNumber").is_none() {
            errs.push(format!("Destination {n} has no RecipientLicenseNumber."));
        }
        if field(d, "TransferTypeName").is_none() {
            errs.push(format!("Destination {n} has no TransferTypeName."));
        }
        for k in ["EstimatedDepartureDateTime", "EstimatedArrivalDateTime"] {
            match field(d, k) {
                None => errs.push(format!("Destination {n} has no {k}.")),
                Some(s) if parse_date_time(s).is_none() => errs.push(format!("Destination {n}: {k} \"{s}\" is not a date-time.")),
                Some(_) => {}
            }
        }
        let packages = match d.get("Packages") {
            Some(Value::Array(a)) if !a.is_empty() => a.as_slice(),
            _ => {
                errs.push(format!("Destination {n} has no Packages."));
                &[]
            }
        };
        for p in packages {
            let Some(label) = p.as_object().and_then(|p| field(p, "PackageLabel")) else {
                errs.push(format!("A package of destination {n} has no PackageLabel."));
                continue;
            };
            if let Err(e) = changeable(st, license, label) {
                errs.push(e);
            } else if seen.iter().any(|s| s == label) {
                errs.push(format!("Package {label} is listed twice in the template."));
            }
            seen.push(label.to_string());
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    let mut rec = row.clone();
    rec.insert("Id".into(), json!(st.new_id()));
    rec.insert("ManifestNumber".into(), Value::Null);
    rec.insert("ShipperFacilityLicenseNumber".into(), json!(license));
    rec.insert("PackageCount".into(), json!(seen.len()));
    rec.insert("CreatedDateTime".into(), now_value());
    rec.insert("LastModified".into(), now_value());
    st.templates.push(Template { license: license.to_string(), rec });
    Ok(())
}
