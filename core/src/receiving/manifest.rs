//! The inbound manifest: what the shipper declared, in the state system's incoming-transfer shape
//! (Metrc's `transfers/v2/incoming` with its delivery's packages), imported from a JSON file now
//! and from the state system's API by the integration.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize};

use crate::ids::{BatchNumber, ItemName, LicenseNumber, PackageTag};
use crate::quantity::{Quantity, QuantityError, Unit};
use crate::text;

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("the manifest file could not be read: {0}")]
    Json(#[from] serde_json::Error),
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
    #[error("package {tag} on manifest {manifest}: {source}")]
    Name { manifest: String, tag: PackageTag, source: crate::ids::IdError },
    #[error("package {tag} on manifest {manifest}: {source}")]
    Bound { manifest: String, tag: PackageTag, source: crate::bounds::BoundError },
}

/// The lab testing state the state system reports per package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LabTestingState {
    TestPassed,
    TestFailed,
    NotSubmitted,
    SubmittedForTesting,
    TestPassedWithRetest,
    #[serde(other)]
    Other,
}

/// One package as the shipper declared it.
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
    pub production_batch_number: BatchNumber,
    #[serde(default, rename = "ItemUnitThcPercent", deserialize_with = "exact_decimal_opt")]
    pub thc_percent: Option<Decimal>,
    pub lab_testing_state: LabTestingState,
    #[serde(default)]
    pub expiration_date: Option<NaiveDate>,
}

impl ManifestPackage {
    pub fn quantity(&self) -> Result<Quantity, QuantityError> {
        Quantity::positive(self.shipped_quantity, self.unit)
    }
}

/// A manifest addressed to this facility.
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
    /// Reads a manifest file and checks it is for `facility`, lists each package once and only
    /// positive quantities. Anything wrong is refused whole: a manifest is a legal document.
    pub fn import(json: &str, facility: &LicenseNumber) -> Result<Self, ManifestError> {
        let manifest: InboundManifest = serde_json::from_str(json)?;
        if manifest.manifest_number.trim().is_empty() {
            return Err(ManifestError::NoNumber);
        }
        // A manifest is printed, shown on phones and copied into ledger events: its text is held
        // to the same rules as anything typed (docs/decisions/0013).
        let number = manifest.manifest_number.clone();
        let text_err = |source| ManifestError::Text { manifest: number.clone(), source };
        crate::text::check(text::reference("manifest number"), &manifest.manifest_number).map_err(text_err)?;
        for (field, value) in [
            (text::organisation("shipper's name"), &manifest.shipper_name),
            (text::name("driver's name"), &manifest.driver_name),
            (text::reference("driver's licence number"), &manifest.driver_occupational_license_number),
            (text::reference("vehicle make"), &manifest.vehicle_make),
            (text::reference("vehicle model"), &manifest.vehicle_model),
            (text::reference("licence plate"), &manifest.vehicle_license_plate_number),
        ] {
            crate::text::check(field, value).map_err(text_err)?;
        }
        if &manifest.recipient_license != facility {
            return Err(ManifestError::OtherLicence {
                manifest: manifest.manifest_number,
                to: manifest.recipient_license,
                us: facility.clone(),
            });
        }
        if manifest.packages.is_empty() {
            return Err(ManifestError::Empty(manifest.manifest_number));
        }
        let mut seen = std::collections::BTreeSet::new();
        for p in &manifest.packages {
            if !seen.insert(&p.tag) {
                return Err(ManifestError::DuplicateTag { manifest: manifest.manifest_number.clone(), tag: p.tag.clone() });
            }
            p.quantity().map_err(|source| ManifestError::Quantity {
                manifest: manifest.manifest_number.clone(),
                tag: p.tag.clone(),
                source,
            })?;
            let name_err = |source| ManifestError::Name { manifest: number.clone(), tag: p.tag.clone(), source };
            p.item_name.check().map_err(name_err)?;
            p.production_batch_number.check().map_err(name_err)?;
            if let Some(thc) = p.thc_percent {
                crate::bounds::check_percent("THC percentage", thc).map_err(|source| ManifestError::Bound {
                    manifest: number.clone(),
                    tag: p.tag.clone(),
                    source,
                })?;
            }
        }
        Ok(manifest)
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
        let m = InboundManifest::import(&sample("C11-0000001-LIC", 3), &us).unwrap();
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
        let err = InboundManifest::import(&sample("C11-0000002-LIC", 1), &us).unwrap_err();
        assert!(err.to_string().contains("addressed to licence C11-0000002-LIC"), "{err}");
        let dup = sample("C11-0000001-LIC", 2).replace("1A4FF0200000022000000001", "1A4FF0200000022000000000");
        assert!(matches!(InboundManifest::import(&dup, &us), Err(ManifestError::DuplicateTag { .. })));
        let neg = sample("C11-0000001-LIC", 1).replace("100.1", "-5");
        assert!(InboundManifest::import(&neg, &us).unwrap_err().to_string().contains("cannot be negative"));
        let bad_tag = sample("C11-0000001-LIC", 1).replace("1A4FF0200000022000000000", "1A4FF02");
        assert!(InboundManifest::import(&bad_tag, &us).unwrap_err().to_string().contains("exactly 24"));
        assert!(InboundManifest::import("{\"ManifestNumber\": \"1\"", &us).is_err());
    }

    #[test]
    fn refuses_amounts_and_text_beyond_the_bounds() {
        let us = LicenseNumber::parse("C11-0000001-LIC").unwrap();
        let huge = sample("C11-0000001-LIC", 1).replace("100.1", "7.9e28");
        let err = InboundManifest::import(&huge, &us).unwrap_err();
        assert!(err.to_string().contains("more than the largest quantity the system takes (10,000 kg)"), "{err}");
        let fine = sample("C11-0000001-LIC", 1).replace("100.1", "0.123456789");
        assert!(InboundManifest::import(&fine, &us).is_ok());
        let precise = sample("C11-0000001-LIC", 1).replace("100.1", "0.1234567891");
        assert!(InboundManifest::import(&precise, &us).unwrap_err().to_string().contains("decimal places"));
        let thc = sample("C11-0000001-LIC", 1).replace("78.25", "780.25");
        assert!(InboundManifest::import(&thc, &us).unwrap_err().to_string().contains("THC percentage 780.25 is more than 100"));
        let bidi = sample("C11-0000001-LIC", 1).replace("Blue Dream", "Blue \\u202eDream");
        let err = InboundManifest::import(&bidi, &us).unwrap_err();
        assert!(err.to_string().contains("hidden text-direction character"), "{err}");
        let long = sample("C11-0000001-LIC", 1).replace("Emerald Extracts", &"E".repeat(201));
        let err = InboundManifest::import(&long, &us).unwrap_err();
        assert!(err.to_string().contains("the shipper's name is longer than 200 characters"), "{err}");
    }
}
