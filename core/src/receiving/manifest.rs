//! The inbound manifest: what the shipper declared, in the state system's incoming-transfer shape
//! (Metrc's `transfers/v2/incoming` with its delivery's packages), imported from a JSON file now
//! and from the state system's API by the integration.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize};

use crate::ids::{BatchNumber, ItemName, LicenseNumber, PackageTag};
use crate::quantity::{Quantity, QuantityError, Unit};
use crate::state_json::{self, Record, ShapeError};
use crate::text;
use chrono_tz::Tz;

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// A damaged file, a record that is not a record, a field that cannot be read: named by the
    /// manifest, the package tag and the field in words.
    #[error(transparent)]
    Shape(#[from] ShapeError),
    #[error("manifest {manifest} is addressed to licence {to}, not to this facility ({us}); do not receive it")]
    OtherLicence { manifest: String, to: LicenseNumber, us: LicenseNumber },
    #[error("manifest {0} lists no packages")]
    Empty(String),
    #[error("manifest {manifest} lists package {tag} twice")]
    DuplicateTag { manifest: String, tag: PackageTag },
    #[error("package {tag} on manifest {manifest}: {source}")]
    Quantity { manifest: String, tag: PackageTag, source: QuantityError },
    #[error("the manifest number is missing")]
    NoNumber,
    #[error("manifest {manifest}: {source}")]
    Text { manifest: String, source: crate::text::TextError },
    #[error("{whose}: {source}")]
    Name { whose: String, source: crate::ids::IdError },
    #[error("package {tag} on manifest {manifest}: {source}")]
    Bound { manifest: String, tag: PackageTag, source: crate::bounds::BoundError },
}

/// The lab testing state the state system reports per package. The state adds words over time:
/// one Custody does not know is kept as written (and flagged at receiving), never refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabTestingState {
    TestPassed,
    TestFailed,
    NotSubmitted,
    SubmittedForTesting,
    TestPassedWithRetest,
    Unknown(String),
}

impl LabTestingState {
    pub fn from_word(word: &str) -> Self {
        match word.trim() {
            "TestPassed" => Self::TestPassed,
            "TestFailed" => Self::TestFailed,
            "NotSubmitted" => Self::NotSubmitted,
            "SubmittedForTesting" => Self::SubmittedForTesting,
            "TestPassedWithRetest" => Self::TestPassedWithRetest,
            other => Self::Unknown(other.to_string()),
        }
    }

    pub fn word(&self) -> &str {
        match self {
            Self::TestPassed => "TestPassed",
            Self::TestFailed => "TestFailed",
            Self::NotSubmitted => "NotSubmitted",
            Self::SubmittedForTesting => "SubmittedForTesting",
            Self::TestPassedWithRetest => "TestPassedWithRetest",
            Self::Unknown(word) => word,
        }
    }
}

impl Serialize for LabTestingState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.word())
    }
}

impl<'de> Deserialize<'de> for LabTestingState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|w| Self::from_word(&w))
    }
}

/// One package as the shipper declared it. The facts the state may leave out are `Option`s:
/// receiving flags a package whose batch or lab state is missing (`receiving::session`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ManifestPackage {
    #[serde(rename = "PackageLabel")]
    pub tag: PackageTag,
    #[serde(alias = "ProductName")]
    pub item_name: ItemName,
    #[serde(deserialize_with = "exact_decimal")]
    pub shipped_quantity: Decimal,
    #[serde(rename = "ShippedUnitOfMeasureName", deserialize_with = "metrc_unit")]
    pub unit: Unit,
    #[serde(default)]
    pub production_batch_number: Option<BatchNumber>,
    #[serde(default, rename = "ItemUnitThcPercent", deserialize_with = "exact_decimal_opt")]
    pub thc_percent: Option<Decimal>,
    #[serde(default)]
    pub lab_testing_state: Option<LabTestingState>,
    #[serde(default)]
    pub expiration_date: Option<NaiveDate>,
}

impl ManifestPackage {
    pub fn quantity(&self) -> Result<Quantity, QuantityError> {
        Quantity::positive(self.shipped_quantity, self.unit)
    }
}

/// A manifest addressed to this facility. Serialized (in the receiving document) in the state's
/// field names; read from the state's own answers or files only through [`InboundManifest::import`]
/// / [`InboundManifest::from_state`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InboundManifest {
    pub manifest_number: String,
    #[serde(rename = "ShipperFacilityLicenseNumber")]
    pub shipper_license: LicenseNumber,
    #[serde(rename = "ShipperFacilityName")]
    pub shipper_name: String,
    #[serde(rename = "RecipientFacilityLicenseNumber")]
    pub recipient_license: LicenseNumber,
    #[serde(default)]
    pub driver_name: String,
    #[serde(default)]
    pub driver_occupational_license_number: String,
    #[serde(default)]
    pub vehicle_make: String,
    #[serde(default)]
    pub vehicle_model: String,
    #[serde(default)]
    pub vehicle_license_plate_number: String,
    #[serde(default, rename = "EstimatedArrivalDateTime")]
    pub estimated_arrival: Option<DateTime<Utc>>,
    pub packages: Vec<ManifestPackage>,
}

impl InboundManifest {
    /// Reads a manifest file in the state's incoming-transfer shape (the transfer's fields with its
    /// delivery's packages under `Packages`). See [`InboundManifest::from_state`] for the rules.
    pub fn import(json: &str, facility: &LicenseNumber, zone: Option<Tz>) -> Result<Self, ManifestError> {
        let value = state_json::parse(json, "the manifest file")?;
        Self::from_state(&value, facility, zone)
    }

    /// Reads a manifest as the state really writes it: facts the state leaves `null` or empty are
    /// imported as missing (receiving flags them per package); local times are read in the
    /// facility's `zone`. Refused whole only for a manifest-level fault — another licence, no
    /// packages, a tag listed twice — or a package that cannot be identified or counted (no valid
    /// tag, item, quantity or unit): a manifest is a legal document and a package with no amount
    /// cannot be received. Every error names the manifest, the package tag and the field.
    pub fn from_state(value: &serde_json::Value, facility: &LicenseNumber, zone: Option<Tz>) -> Result<Self, ManifestError> {
        let r = Record::new("the manifest", value)?;
        let manifest_number = r.text(&["ManifestNumber"], "manifest number")?.ok_or(ManifestError::NoNumber)?;
        let r = r.named(format!("manifest {manifest_number}"));
        let number = manifest_number.clone();
        // A manifest is printed, shown on phones and copied into ledger events: its text is held
        // to the same rules as anything typed (docs/decisions/0013).
        let text_err = |source| ManifestError::Text { manifest: number.clone(), source };
        text::check(text::reference("manifest number"), &manifest_number).map_err(text_err)?;
        let licence = |key: &str, words: &str| -> Result<LicenseNumber, ManifestError> {
            let raw = r.required_text(&[key], words)?;
            LicenseNumber::parse(&raw).map_err(|source| ManifestError::Name { whose: r.whose().to_string(), source })
        };
        let shipper_license = licence("ShipperFacilityLicenseNumber", "shipper's licence number")?;
        let recipient_license = licence("RecipientFacilityLicenseNumber", "recipient's licence number")?;
        if &recipient_license != facility {
            return Err(ManifestError::OtherLicence { manifest: manifest_number, to: recipient_license, us: facility.clone() });
        }
        let optional = |key: &str, words: &str| -> Result<String, ManifestError> { Ok(r.text(&[key], words)?.unwrap_or_default()) };
        let manifest = InboundManifest {
            shipper_license,
            shipper_name: optional("ShipperFacilityName", "shipper's name")?,
            recipient_license,
            driver_name: optional("DriverName", "driver's name")?,
            driver_occupational_license_number: optional("DriverOccupationalLicenseNumber", "driver's licence number")?,
            vehicle_make: optional("VehicleMake", "vehicle make")?,
            vehicle_model: optional("VehicleModel", "vehicle model")?,
            vehicle_license_plate_number: optional("VehicleLicensePlateNumber", "licence plate")?,
            estimated_arrival: r.local_time(&["EstimatedArrivalDateTime"], "estimated arrival", zone)?,
            packages: Vec::new(),
            manifest_number,
        };
        for (field, value) in [
            (text::organisation("shipper's name"), &manifest.shipper_name),
            (text::name("driver's name"), &manifest.driver_name),
            (text::reference("driver's licence number"), &manifest.driver_occupational_license_number),
            (text::reference("vehicle make"), &manifest.vehicle_make),
            (text::reference("vehicle model"), &manifest.vehicle_model),
            (text::reference("licence plate"), &manifest.vehicle_license_plate_number),
        ] {
            text::check(field, value).map_err(text_err)?;
        }
        let listed = r.list(&["Packages"], "package list")?;
        if listed.is_empty() {
            return Err(ManifestError::Empty(manifest.manifest_number));
        }
        let mut packages = Vec::with_capacity(listed.len());
        let mut seen = std::collections::BTreeSet::new();
        for (i, value) in listed.iter().enumerate() {
            let p = package(value, i, &manifest.manifest_number)?;
            if !seen.insert(p.tag.clone()) {
                return Err(ManifestError::DuplicateTag { manifest: manifest.manifest_number.clone(), tag: p.tag });
            }
            packages.push(p);
        }
        Ok(InboundManifest { packages, ..manifest })
    }

    pub fn package(&self, tag: &PackageTag) -> Option<&ManifestPackage> {
        self.packages.iter().find(|p| &p.tag == tag)
    }

    /// The declared total weight in grams of the weighed packages, exact; `None` if it cannot be
    /// added up (only for a manifest that never passed [`InboundManifest::import`]).
    pub fn total_grams(&self) -> Option<Decimal> {
        let mut total = Decimal::ZERO;
        for p in &self.packages {
            if let Some(g) = p.quantity().ok()?.grams().ok()? {
                total = total.checked_add(g)?;
            }
        }
        Some(total)
    }
}

/// One package of a manifest, read as the state writes it (see [`InboundManifest::from_state`]).
fn package(value: &serde_json::Value, index: usize, manifest: &str) -> Result<ManifestPackage, ManifestError> {
    let r = Record::new(format!("package {} on manifest {manifest}", index + 1), value)?;
    let raw_tag = r.required_text(&["PackageLabel", "Label"], "package tag")?;
    let tag = PackageTag::parse(&raw_tag).map_err(|source| ManifestError::Name { whose: r.whose().to_string(), source })?;
    let r = r.named(format!("package {tag} on manifest {manifest}"));
    let name_err = |source| ManifestError::Name { whose: r.whose().to_string(), source };
    let item_name = ItemName::parse(&r.required_text(&["ItemName", "ProductName"], "item name")?).map_err(name_err)?;
    let shipped_quantity =
        r.decimal(&["ShippedQuantity", "Quantity"], "shipped quantity")?.ok_or_else(|| r.error("no shipped quantity is given"))?;
    let unit_name = r.required_text(&["ShippedUnitOfMeasureName", "UnitOfMeasureName"], "unit of measure")?;
    let quantity_err = |source| ManifestError::Quantity { manifest: manifest.to_string(), tag: tag.clone(), source };
    let unit = Unit::from_str(&unit_name).map_err(quantity_err)?;
    Quantity::positive(shipped_quantity, unit).map_err(quantity_err)?;
    let production_batch_number = match r.text(&["ProductionBatchNumber"], "production batch number")? {
        Some(raw) => Some(BatchNumber::parse(&raw).map_err(name_err)?),
        None => None,
    };
    let thc_percent = r.decimal(&["ItemUnitThcPercent"], "THC percentage")?;
    if let Some(thc) = thc_percent {
        crate::bounds::check_percent("THC percentage", thc).map_err(|source| ManifestError::Bound {
            manifest: manifest.to_string(),
            tag: tag.clone(),
            source,
        })?;
    }
    let lab_testing_state = r.text(&["LabTestingState"], "lab testing state")?.map(|w| LabTestingState::from_word(&w));
    let expiration_date = r.date(&["ExpirationDate"], "expiration date")?;
    Ok(ManifestPackage { tag, item_name, shipped_quantity, unit, production_batch_number, thc_percent, lab_testing_state, expiration_date })
}

/// The state system sends numbers as JSON numbers. serde_json reads them as f64, whose shortest
/// printed form is exactly what was written for any realistic weight, so the decimal is parsed
/// from that text rather than converted from the float (100.1 stays 100.1, not 100.0999…).
fn exact_decimal<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    let text = match &value {
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => s.clone(),
        other => return Err(serde::de::Error::custom(format!("{other} is not a number"))),
    };
    Decimal::from_str(text.trim())
        .or_else(|_| Decimal::from_scientific(text.trim()))
        .map_err(|_| serde::de::Error::custom(format!("{text} is not a number")))
}

fn exact_decimal_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    if value.is_null() {
        return Ok(None);
    }
    exact_decimal(value).map(Some).map_err(serde::de::Error::custom)
}

fn metrc_unit<'de, D: Deserializer<'de>>(d: D) -> Result<Unit, D::Error> {
    let name = String::deserialize(d)?;
    Unit::from_str(&name).map_err(serde::de::Error::custom)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn la() -> Option<Tz> {
        Some(crate::state_json::time_zone("America/Los_Angeles").unwrap())
    }

    pub(crate) fn sample(recipient: &str, packages: usize) -> String {
        let packages: Vec<serde_json::Value> = (0..packages)
            .map(|i| {
                serde_json::json!({
                    "PackageLabel": format!("1A4FF02000000220000{i:05}"),
                    "ItemName": "Live Resin - Blue Dream 1g",
                    "ShippedQuantity": 100.1,
                    "ShippedUnitOfMeasureName": "Grams",
                    "ProductionBatchNumber": "LR-2026-11-A",
                    "ItemUnitThcPercent": 78.25,
                    "LabTestingState": "TestPassed",
                    "ExpirationDate": "2027-06-30"
                })
            })
            .collect();
        serde_json::json!({
            "ManifestNumber": "0001234567",
            "ShipperFacilityLicenseNumber": "C11-0000099-LIC",
            "ShipperFacilityName": "Emerald Extracts",
            "RecipientFacilityLicenseNumber": recipient,
            "DriverName": "J. Ortiz",
            "DriverOccupationalLicenseNumber": "DL-7788",
            "VehicleMake": "Ford",
            "VehicleModel": "Transit",
            "VehicleLicensePlateNumber": "8ABC123",
            "EstimatedArrivalDateTime": "2026-11-29T15:00:00Z",
            "Packages": packages
        })
        .to_string()
    }

    #[test]
    fn imports_the_state_shape_exactly() {
        let us = LicenseNumber::parse("C11-0000001-LIC").unwrap();
        let m = InboundManifest::import(&sample("C11-0000001-LIC", 3), &us, la()).unwrap();
        assert_eq!(m.packages.len(), 3);
        assert_eq!(m.packages[0].shipped_quantity.to_string(), "100.1");
        assert_eq!(m.packages[0].thc_percent.unwrap().to_string(), "78.25");
        assert_eq!(m.packages[0].unit, Unit::G);
        assert_eq!(m.total_grams().unwrap().to_string(), "300.3");
        assert_eq!(m.shipper_name, "Emerald Extracts");
    }

    #[test]
    fn refuses_another_licence_and_bad_content() {
        let us = LicenseNumber::parse("C11-0000001-LIC").unwrap();
        let err = InboundManifest::import(&sample("C11-0000002-LIC", 1), &us, la()).unwrap_err();
        assert!(err.to_string().contains("addressed to licence C11-0000002-LIC"), "{err}");
        let dup = sample("C11-0000001-LIC", 2).replace("1A4FF0200000022000000001", "1A4FF0200000022000000000");
        assert!(matches!(InboundManifest::import(&dup, &us, la()), Err(ManifestError::DuplicateTag { .. })));
        let neg = sample("C11-0000001-LIC", 1).replace("100.1", "-5");
        assert!(InboundManifest::import(&neg, &us, la()).unwrap_err().to_string().contains("cannot be negative"));
        let bad_tag = sample("C11-0000001-LIC", 1).replace("1A4FF0200000022000000000", "1A4FF02");
        assert!(InboundManifest::import(&bad_tag, &us, la()).unwrap_err().to_string().contains("exactly 24"));
        assert!(InboundManifest::import("{\"ManifestNumber\": \"1\"", &us, la()).is_err());
    }

    #[test]
    fn refuses_amounts_and_text_beyond_the_bounds() {
        let us = LicenseNumber::parse("C11-0000001-LIC").unwrap();
        let huge = sample("C11-0000001-LIC", 1).replace("100.1", "7.9e28");
        let err = InboundManifest::import(&huge, &us, la()).unwrap_err();
        assert!(err.to_string().contains("more than the largest quantity the system takes (10,000 kg)"), "{err}");
        let fine = sample("C11-0000001-LIC", 1).replace("100.1", "0.123456789");
        assert!(InboundManifest::import(&fine, &us, la()).is_ok());
        let precise = sample("C11-0000001-LIC", 1).replace("100.1", "0.1234567891");
        assert!(InboundManifest::import(&precise, &us, la()).unwrap_err().to_string().contains("decimal places"));
        let thc = sample("C11-0000001-LIC", 1).replace("78.25", "780.25");
        assert!(InboundManifest::import(&thc, &us, la()).unwrap_err().to_string().contains("THC percentage 780.25 is more than 100"));
        let bidi = sample("C11-0000001-LIC", 1).replace("Blue Dream", "Blue \\u202eDream");
        let err = InboundManifest::import(&bidi, &us, la()).unwrap_err();
        assert!(err.to_string().contains("hidden text-direction character"), "{err}");
        let long = sample("C11-0000001-LIC", 1).replace("Emerald Extracts", &"E".repeat(201));
        let err = InboundManifest::import(&long, &us, la()).unwrap_err();
        assert!(err.to_string().contains("the shipper's name is longer than 200 characters"), "{err}");
    }

    /// A transfer as the state really sends it: nulls where it knows nothing, local times with
    /// no offset, a date with a time part, an enum word Custody has not seen, numbers as text.
    fn untidy(recipient: &str) -> serde_json::Value {
        serde_json::json!({
            "Id": 90121,
            "ManifestNumber": 1234567,
            "ShipperFacilityLicenseNumber": "C11-0000099-LIC",
            "ShipperFacilityName": "Emerald Extracts",
            "RecipientFacilityLicenseNumber": recipient,
            "DriverName": null,
            "DriverOccupationalLicenseNumber": null,
            "VehicleMake": "",
            "VehicleModel": null,
            "VehicleLicensePlateNumber": null,
            "EstimatedDepartureDateTime": "2026-11-30T13:00:00",
            "EstimatedArrivalDateTime": "2026-11-30T14:05:00",
            "Packages": [
                {"PackageLabel": "1A4FF0200000022000000001", "ProductName": "Gummies 10pk", "ShippedQuantity": "24",
                 "ShippedUnitOfMeasureName": "Each", "ProductionBatchNumber": null, "LabTestingState": null,
                 "ItemUnitThcPercent": null, "ExpirationDate": "2027-06-30T00:00:00", "ShipmentPackageState": "Shipped"},
                {"PackageLabel": "1A4FF0200000022000000002", "ProductName": "Flower - OG 3.5g", "ShippedQuantity": 100.1,
                 "ShippedUnitOfMeasureName": "Grams", "ProductionBatchNumber": "", "LabTestingState": "TestPassedPendingReview",
                 "ExpirationDate": null},
                {"PackageLabel": "1A4FF0200000022000000003", "ProductName": "Vape 1g", "ShippedQuantity": 50,
                 "ShippedUnitOfMeasureName": "Grams", "ProductionBatchNumber": "VB-7", "LabTestingState": "TestPassed",
                 "ItemUnitThcPercent": 82.5}
            ]
        })
    }

    #[test]
    fn a_transfer_with_the_states_nulls_imports_what_is_there() {
        let us = LicenseNumber::parse("C11-0000001-LIC").unwrap();
        let m = InboundManifest::from_state(&untidy("C11-0000001-LIC"), &us, la()).unwrap();
        assert_eq!(m.manifest_number, "1234567");
        assert_eq!(m.driver_name, "");
        assert_eq!(m.vehicle_make, "");
        // 14:05 in Los Angeles in November is 22:05 UTC.
        assert_eq!(m.estimated_arrival.unwrap().to_rfc3339(), "2026-11-30T22:05:00+00:00");
        let [gummies, flower, vape] = &m.packages[..] else { panic!("three packages") };
        assert_eq!(gummies.production_batch_number, None);
        assert_eq!(gummies.lab_testing_state, None);
        assert_eq!(gummies.shipped_quantity.to_string(), "24");
        assert_eq!(gummies.expiration_date, NaiveDate::from_ymd_opt(2027, 6, 30));
        assert_eq!(flower.production_batch_number, None, "an empty batch number is a missing one");
        assert_eq!(flower.lab_testing_state, Some(LabTestingState::Unknown("TestPassedPendingReview".into())));
        assert_eq!(vape.production_batch_number.as_ref().unwrap().as_str(), "VB-7");
        assert_eq!(vape.thc_percent.unwrap().to_string(), "82.5");
        // The receiving document stores the manifest and reads it back unchanged, unknown word and all.
        let stored = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<InboundManifest>(&stored).unwrap(), m);
        // A file in the same shape follows the same rules.
        let file = InboundManifest::import(&untidy("C11-0000001-LIC").to_string(), &us, la()).unwrap();
        assert_eq!(file, m);
    }

    #[test]
    fn package_faults_name_the_tag_and_the_field_in_words() {
        let us = LicenseNumber::parse("C11-0000001-LIC").unwrap();
        let with = |pointer: &str, value: serde_json::Value| {
            let mut t = untidy("C11-0000001-LIC");
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            t.pointer_mut(parent).unwrap()[key] = value;
            InboundManifest::from_state(&t, &us, la()).unwrap_err().to_string()
        };
        let err = with("/Packages/0/ShippedQuantity", serde_json::json!(-5));
        assert_eq!(err, "package 1A4FF0200000022000000001 on manifest 1234567: a quantity of -5 each cannot be negative");
        let err = with("/Packages/1/ShippedQuantity", serde_json::Value::Null);
        assert_eq!(err, "package 1A4FF0200000022000000002 on manifest 1234567: no shipped quantity is given");
        let err = with("/Packages/2/PackageLabel", serde_json::json!("1A4FF02000000220000000031"));
        assert!(err.starts_with("package 3 on manifest 1234567: ") && err.contains("exactly 24"), "{err}");
        let err = with("/Packages/2/ShippedUnitOfMeasureName", serde_json::json!("Bushels"));
        assert!(err.starts_with("package 1A4FF0200000022000000003 on manifest 1234567: ") && err.contains("Bushels"), "{err}");
        let err = with("/Packages/2/ExpirationDate", serde_json::json!("next June"));
        assert_eq!(
            err,
            "package 1A4FF0200000022000000003 on manifest 1234567: the expiration date \"next June\" is not a date (expected year-month-day)"
        );
        let err = with("/Packages/0/ProductName", serde_json::Value::Null);
        assert_eq!(err, "package 1A4FF0200000022000000001 on manifest 1234567: no item name is given");
        let err = with("/EstimatedArrivalDateTime", serde_json::json!("soon"));
        assert_eq!(err, "manifest 1234567: the estimated arrival \"soon\" is not a date and time");
        assert!(!err.contains("column"), "{err}");
    }

    #[test]
    fn only_manifest_level_faults_refuse_the_whole_manifest() {
        let us = LicenseNumber::parse("C11-0000001-LIC").unwrap();
        let err = InboundManifest::from_state(&untidy("C11-0000002-LIC"), &us, la()).unwrap_err();
        assert!(matches!(err, ManifestError::OtherLicence { .. }), "{err}");
        let mut none = untidy("C11-0000001-LIC");
        none["Packages"] = serde_json::json!([]);
        assert!(matches!(InboundManifest::from_state(&none, &us, la()), Err(ManifestError::Empty(_))));
        none["Packages"] = serde_json::Value::Null;
        assert!(matches!(InboundManifest::from_state(&none, &us, la()), Err(ManifestError::Empty(_))));
        let mut twice = untidy("C11-0000001-LIC");
        twice["Packages"][1]["PackageLabel"] = serde_json::json!("1A4FF0200000022000000001");
        assert!(matches!(InboundManifest::from_state(&twice, &us, la()), Err(ManifestError::DuplicateTag { .. })));
        let err = InboundManifest::import(&untidy("C11-0000001-LIC").to_string()[..300], &us, la()).unwrap_err().to_string();
        assert_eq!(err, "the manifest file: it breaks off before its end (cut short in transfer?)");
        let err = InboundManifest::from_state(&untidy("C11-0000001-LIC"), &us, None).unwrap_err().to_string();
        assert!(err.contains("does not know the facility's time zone yet"), "{err}");
    }
}
