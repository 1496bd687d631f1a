//! The emulated state's records: facilities and keys, packages, transfers with their deliveries
//! and delivery packages, lab results, items, locations, reasons, units and outgoing templates.
//! Records are JSON objects in the state's shapes; the emulator owns `Id` and `LastModified`.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::Error;
use crate::seed::Seed;
use crate::values::{dec, field, id_of, is_tag, now_value, num, text};

/// One applied write, as the test sees it in `emu.writes()`.
#[derive(Clone, Debug, PartialEq)]
pub struct WriteRecord {
    pub method: String,
    pub path: String,
    pub license: String,
    pub body: Value,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct Facility {
    pub name: Option<String>,
    pub user_keys: BTreeSet<String>,
}

#[derive(Clone, Debug)]
pub struct Package {
    pub license: String,
    pub rec: Map<String, Value>,
}

/// Which of the state's package lists a package is in, from its own fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PackageList {
    Active,
    OnHold,
    Inactive,
}

impl Package {
    pub fn label(&self) -> &str {
        text(&self.rec, "Label").unwrap_or("")
    }

    pub fn list(&self) -> PackageList {
        let set = |k: &str| self.rec.get(k).is_some_and(|v| !v.is_null());
        if set("FinishedDate") || set("ArchivedDate") {
            PackageList::Inactive
        } else if self.rec.get("IsOnHold").and_then(Value::as_bool) == Some(true) {
            PackageList::OnHold
        } else {
            PackageList::Active
        }
    }
}

#[derive(Clone, Debug)]
pub struct Delivery {
    pub rec: Map<String, Value>,
    pub packages: Vec<Map<String, Value>>,
}

#[derive(Clone, Debug)]
pub struct Transfer {
    pub rec: Map<String, Value>,
    pub deliveries: Vec<Delivery>,
}

impl Transfer {
    pub fn shipper(&self) -> Option<&str> {
        text(&self.rec, "ShipperFacilityLicenseNumber")
    }

    pub fn has_recipient(&self, license: &str) -> bool {
        self.deliveries.iter().any(|d| text(&d.rec, "RecipientFacilityLicenseNumber") == Some(license))
    }
}

#[derive(Clone, Debug)]
pub struct Template {
    pub license: String,
    pub rec: Map<String, Value>,
}

#[derive(Clone, Debug)]
pub struct State {
    pub facilities: BTreeMap<String, Facility>,
    pub vendor_keys: BTreeSet<String>,
    pub packages: Vec<Package>,
    /// Every tag ever used by a package (created, seeded or received): tags are single use.
    pub used_tags: HashSet<String>,
    pub transfers: Vec<Transfer>,
    pub lab_results: Vec<Map<String, Value>>,
    pub items: BTreeMap<String, Vec<Map<String, Value>>>,
    pub locations: BTreeMap<String, Vec<Map<String, Value>>>,
    pub adjust_reasons: Vec<Map<String, Value>>,
    pub units: Vec<Map<String, Value>>,
    pub templates: Vec<Template>,
    pub writes: Vec<WriteRecord>,
    pub max_page_size: usize,
    next_id: i64,
}

fn object(v: Value, what: &str) -> Result<Map<String, Value>, Error> {
    match v {
        Value::Object(m) => Ok(m),
        _ => Err(Error::Seed(format!("{what} must be a JSON object"))),
    }
}

impl State {
    pub fn from_seed(seed: Seed) -> Result<State, Error> {
        let mut st = State {
            facilities: BTreeMap::new(),
            vendor_keys: seed.vendor_keys.into_iter().collect(),
            packages: Vec::new(),
            used_tags: HashSet::new(),
            transfers: Vec::new(),
            lab_results: Vec::new(),
            items: BTreeMap::new(),
            locations: BTreeMap::new(),
            adjust_reasons: Vec::new(),
            units: Vec::new(),
            templates: Vec::new(),
            writes: Vec::new(),
            max_page_size: seed.max_page_size.max(1),
            next_id: 100_001,
        };
        for f in seed.facilities {
            let e = st.facilities.entry(f.license).or_insert(Facility { name: None, user_keys: BTreeSet::new() });
            e.name = e.name.take().or(f.name);
            e.user_keys.extend(f.user_keys);
        }
        // Ids given in the seed are kept; new ones start above the largest seen.
        let mut max_id = 100_000;
        let mut note = |v: &Value| {
            if let Some(m) = v.as_object() {
                for k in ["Id", "PackageId"] {
                    if let Some(i) = id_of(m, k) {
                        max_id = max_id.max(i);
                    }
                }
            }
        };
        for (_, v) in seed.packages.iter().chain(&seed.items).chain(&seed.locations) {
            note(v);
        }
        for (_, t) in &seed.transfers {
            note(t);
            for d in t.get("Deliveries").and_then(Value::as_array).into_iter().flatten() {
                note(d);
                for p in d.get("Packages").and_then(Value::as_array).into_iter().flatten() {
                    note(p);
                }
            }
            for p in t.get("Packages").and_then(Value::as_array).into_iter().flatten() {
                note(p);
            }
        }
        st.next_id = max_id + 1;

        st.adjust_reasons = seed.adjust_reasons.into_iter().map(|v| object(v, "an adjust reason")).collect::<Result<_, _>>()?;
        st.units = seed.units_of_measure.into_iter().map(|v| object(v, "a unit of measure")).collect::<Result<_, _>>()?;
        for (license, v) in seed.items {
            let mut m = object(v, "an item")?;
            st.ensure_id(&mut m, "Id");
            m.entry("LastModified").or_insert_with(now_value);
            st.facility_entry(&license);
            st.items.entry(license).or_default().push(m);
        }
        for (license, v) in seed.locations {
            let mut m = object(v, "a location")?;
            st.ensure_id(&mut m, "Id");
            m.entry("LastModified").or_insert_with(now_value);
            st.facility_entry(&license);
            st.locations.entry(license).or_default().push(m);
        }
        for (license, v) in seed.packages {
            let mut m = object(v, "a package")?;
            let label = field(&m, "Label").ok_or_else(|| Error::Seed(format!("a package of {license} has no Label")))?.to_string();
            if !st.used_tags.insert(label.clone()) {
                return Err(Error::Seed(format!("package {label} is seeded twice")));
            }
            st.ensure_id(&mut m, "Id");
            m.entry("LastModified").or_insert_with(now_value);
            st.facility_entry(&license);
            st.packages.push(Package { license, rec: m });
        }
        for (license, v) in seed.transfers {
            st.add_transfer(&license, v)?;
        }
        for v in seed.lab_results {
            // Kept exactly as seeded: lab results carry no LastModified of their own.
            st.lab_results.push(object(v, "a lab result")?);
        }
        Ok(st)
    }

    fn facility_entry(&mut self, license: &str) {
        self.facilities.entry(license.to_string()).or_insert(Facility { name: None, user_keys: BTreeSet::new() });
    }

    pub fn new_id(&mut self) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn ensure_id(&mut self, m: &mut Map<String, Value>, key: &str) -> i64 {
        match id_of(m, key) {
            Some(i) => i,
            None => {
                let i = self.new_id();
                m.insert(key.into(), json!(i));
                i
            }
        }
    }

    /// Adds an incoming transfer for `license` (the recipient). Deliveries without a recipient
    /// get this one; a transfer with `Packages` and no `Deliveries` is one delivery. Returns
    /// the transfer's Id.
    pub fn add_transfer(&mut self, license: &str, v: Value) -> Result<i64, Error> {
        let mut m = object(v, "a transfer")?;
        let manifest = field(&m, "ManifestNumber").ok_or_else(|| Error::Seed("a transfer has no ManifestNumber".into()))?.to_string();
        if self.transfers.iter().any(|t| text(&t.rec, "ManifestNumber") == Some(manifest.as_str())) {
            return Err(Error::Seed(format!("manifest {manifest} is already in the emulator")));
        }
        let mut raw_deliveries = match m.remove("Deliveries") {
            Some(Value::Array(a)) => a,
            Some(Value::Null) | None => Vec::new(),
            Some(_) => {
                return Err(Error::Seed(format!("manifest {manifest}: Deliveries must be an array")));
            }
        };
        if let Some(p) = m.remove("Packages") {
            raw_deliveries.push(json!({ "Packages": p }));
        }
        let id = self.ensure_id(&mut m, "Id");
        let now = now_value();
        m.entry("LastModified").or_insert_with(|| now.clone());
        let mut deliveries = Vec::new();
        let mut labels = Vec::new();
        for d in raw_deliveries {
            let mut dm = object(d, "a delivery")?;
            let pkgs = match dm.remove("Packages") {
                Some(Value::Array(a)) => a,
                Some(Value::Null) | None => Vec::new(),
                Some(_) => {
                    return Err(Error::Seed(format!("manifest {manifest}: a delivery's Packages must be an array")));
                }
            };
            self.ensure_id(&mut dm, "Id");
            dm.entry("RecipientFacilityLicenseNumber").or_insert_with(|| json!(license));
            dm.entry("LastModified").or_insert_with(|| now.clone());
            let mut packages = Vec::new();
            for p in pkgs {
                let mut pm = object(p, "a delivery package")?;
                let label = field(&pm, "PackageLabel")
                    .ok_or_else(|| Error::Seed(format!("manifest {manifest}: a package has no PackageLabel")))?
                    .to_string();
                if !is_tag(&label) {
                    return Err(Error::Seed(format!(
                        "manifest {manifest}: {label} is not a package tag (24 upper-case letters or digits starting 1A4)"
                    )));
                }
                if self.used_tags.contains(&label) || labels.contains(&label) {
                    return Err(Error::Seed(format!("manifest {manifest}: package {label} already exists")));
                }
                labels.push(label);
                self.ensure_id(&mut pm, "PackageId");
                pm.entry("ShipmentPackageState").or_insert_with(|| json!("Shipped"));
                pm.entry("LastModified").or_insert_with(|| now.clone());
                packages.push(pm);
            }
            self.facility_entry(text(&dm, "RecipientFacilityLicenseNumber").unwrap_or(license));
            deliveries.push(Delivery { rec: dm, packages });
        }
        let count = deliveries.iter().map(|d| d.packages.len()).sum::<usize>();
        m.entry("PackageCount").or_insert_with(|| json!(count));
        m.entry("ReceivedPackageCount").or_insert_with(|| json!(0));
        self.used_tags.extend(labels);
        self.transfers.push(Transfer { rec: m, deliveries });
        Ok(id)
    }

    /// What the state's web interface does when the recipient accepts a manifest: every
    /// shipped package is Accepted and becomes an active package of its recipient.
    pub fn accept_transfer(&mut self, manifest: &str) -> Result<usize, Error> {
        let ti = self
            .transfers
            .iter()
            .position(|t| text(&t.rec, "ManifestNumber") == Some(manifest))
            .ok_or_else(|| Error::NotFound(format!("no transfer with manifest {manifest}")))?;
        let now = now_value();
        let shipper = self.transfers[ti].shipper().map(String::from);
        let mut created = Vec::new();
        let mut accepted = 0usize;
        for d in &mut self.transfers[ti].deliveries {
            let recipient = text(&d.rec, "RecipientFacilityLicenseNumber").unwrap_or("").to_string();
            let mut touched = false;
            for p in &mut d.packages {
                if text(p, "ShipmentPackageState") != Some("Shipped") {
                    continue;
                }
                p.insert("ShipmentPackageState".into(), json!("Accepted"));
                if p.get("ReceivedQuantity").is_none_or(Value::is_null) {
                    let q = p.get("ShippedQuantity").cloned().unwrap_or(Value::Null);
                    p.insert("ReceivedQuantity".into(), q);
                }
                if p.get("ReceivedUnitOfMeasureName").is_none_or(Value::is_null) {
                    let u = p.get("ShippedUnitOfMeasureName").cloned().unwrap_or(Value::Null);
                    p.insert("ReceivedUnitOfMeasureName".into(), u);
                }
                p.insert("LastModified".into(), now.clone());
                touched = true;
                accepted += 1;
                created.push((recipient.clone(), received_package(p, manifest, &shipper, &now)));
            }
            if touched {
                d.rec.insert("LastModified".into(), now.clone());
                d.rec.insert("ReceivedDateTime".into(), now.clone());
            }
        }
        let t = &mut self.transfers[ti];
        let received =
            t.deliveries.iter().flat_map(|d| &d.packages).filter(|p| text(p, "ShipmentPackageState") == Some("Accepted")).count();
        t.rec.insert("ReceivedPackageCount".into(), json!(received));
        t.rec.insert("LastModified".into(), now.clone());
        for (license, mut rec) in created {
            let unit = text(&rec, "UnitOfMeasureName").map(String::from);
            if let Some(u) = unit.and_then(|u| self.unit(&u).cloned()) {
                rec.insert("UnitOfMeasureAbbreviation".into(), u.get("Abbreviation").cloned().unwrap_or(Value::Null));
            }
            self.packages.push(Package { license, rec });
        }
        Ok(accepted)
    }

    pub fn unit(&self, name: &str) -> Option<&Map<String, Value>> {
        self.units.iter().find(|u| text(u, "Name") == Some(name))
    }

    pub fn package_index(&self, label: &str) -> Option<usize> {
        self.packages.iter().position(|p| p.label() == label)
    }

    pub fn items_of(&self, license: &str) -> &[Map<String, Value>] {
        self.items.get(license).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn locations_of(&self, license: &str) -> &[Map<String, Value>] {
        self.locations.get(license).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The label of the package with this Id, among held and in-transit packages.
    pub fn label_for_package_id(&self, id: i64) -> Option<String> {
        if let Some(p) = self.packages.iter().find(|p| id_of(&p.rec, "Id") == Some(id)) {
            return Some(p.label().to_string());
        }
        self.transfers
            .iter()
            .flat_map(|t| &t.deliveries)
            .flat_map(|d| &d.packages)
            .find(|p| id_of(p, "PackageId") == Some(id))
            .and_then(|p| text(p, "PackageLabel"))
            .map(String::from)
    }

    /// Whether a licence may see the package with this label: it holds it, or it is on a
    /// delivery to it.
    pub fn license_sees_label(&self, license: &str, label: &str) -> bool {
        self.packages.iter().any(|p| p.label() == label && p.license == license)
            || self.transfers.iter().any(|t| {
                t.deliveries.iter().any(|d| {
                    text(&d.rec, "RecipientFacilityLicenseNumber") == Some(license)
                        && d.packages.iter().any(|p| text(p, "PackageLabel") == Some(label))
                })
            })
    }
}

/// The active package a recipient holds once a delivery package is accepted.
fn received_package(p: &Map<String, Value>, manifest: &str, shipper: &Option<String>, now: &Value) -> Map<String, Value> {
    let get = |k: &str| p.get(k).cloned().unwrap_or(Value::Null);
    let quantity = dec(p.get("ReceivedQuantity")).or_else(|| dec(p.get("ShippedQuantity"))).map(num).unwrap_or(Value::Null);
    let item_name = p.get("ItemName").filter(|v| !v.is_null()).or_else(|| p.get("ProductName")).cloned().unwrap_or(Value::Null);
    let rec = json!({
        "Id": get("PackageId"),
        "Label": get("PackageLabel"),
        "PackageType": p.get("PackageType").cloned().unwrap_or(json!("Product")),
        "SourceHarvestNames": get("SourceHarvestNames"),
        "SourcePackageLabels": get("SourcePackageLabels"),
        "LocationId": null,
        "LocationName": null,
        "LocationTypeName": null,
        "Quantity": quantity,
        "UnitOfMeasureName": get("ReceivedUnitOfMeasureName"),
        "UnitOfMeasureAbbreviation": null,
        "Item": {
            "Id": get("ItemId"),
            "Name": item_name,
            "ProductCategoryName": get("ProductCategoryName"),
            "UnitThcPercent": get("ItemUnitThcPercent"),
            "UnitWeight": get("ItemUnitWeight"),
            "UnitWeightUnitOfMeasureName": get("ItemUnitWeightUnitOfMeasureName"),
        },
        "ProductionBatchNumber": get("ProductionBatchNumber"),
        "LabTestingState": get("LabTestingState"),
        "LabTestingStateDate": null,
        "IsProductionBatch": false,
        "IsOnHold": false,
        "PackagedDate": get("PackagedDate"),
        "ExpirationDate": get("ExpirationDate"),
        "UseByDate": get("UseByDate"),
        "ReceivedDateTime": now.clone(),
        "ReceivedFromManifestNumber": manifest,
        "ReceivedFromFacilityLicenseNumber": shipper,
        "FinishedDate": null,
        "ArchivedDate": null,
        "LastModified": now.clone(),
    });
    match rec {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}
