//! What the emulator starts with: facilities and keys, and the state's records as JSON in the
//! state's own shapes (nulls, offset-less date-times and unknown enum words kept as they are).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value, json};

use crate::Error;

/// A facility (licence) and the user keys that hold it.
#[derive(Clone, Debug, Default)]
pub struct FacilitySeed {
    pub license: String,
    pub name: Option<String>,
    pub user_keys: Vec<String>,
}

/// Everything the emulator is started with. Records are kept as JSON objects so that the
/// state's real shapes survive; the emulator reads typed values out of them where it validates.
#[derive(Clone, Debug)]
pub struct Seed {
    pub facilities: Vec<FacilitySeed>,
    pub vendor_keys: Vec<String>,
    /// Incoming transfers by recipient licence; each transfer holds `Deliveries`, each delivery
    /// its `Packages` (or the transfer holds `Packages` directly for a single delivery).
    pub transfers: Vec<(String, Value)>,
    /// Packages by the licence holding them.
    pub packages: Vec<(String, Value)>,
    /// Lab results, each naming its package by `PackageId` or `PackageLabel`.
    pub lab_results: Vec<Value>,
    /// Items and locations by licence.
    pub items: Vec<(String, Value)>,
    pub locations: Vec<(String, Value)>,
    pub adjust_reasons: Vec<Value>,
    pub units_of_measure: Vec<Value>,
    /// The largest `pageSize` a list accepts (Metrc's is unconfirmed; 20 by default).
    pub max_page_size: usize,
}

impl Default for Seed {
    fn default() -> Self {
        Seed {
            facilities: Vec::new(),
            vendor_keys: Vec::new(),
            transfers: Vec::new(),
            packages: Vec::new(),
            lab_results: Vec::new(),
            items: Vec::new(),
            locations: Vec::new(),
            adjust_reasons: default_adjust_reasons(),
            units_of_measure: default_units(),
            max_page_size: 20,
        }
    }
}

impl Seed {
    /// Adds a licence and a user key that holds it (call again to give a key more licences or
    /// a licence more keys).
    pub fn facility(mut self, license: impl Into<String>, user_key: impl Into<String>) -> Self {
        let license = license.into();
        let key = user_key.into();
        match self.facilities.iter_mut().find(|f| f.license == license) {
            Some(f) => {
                if !f.user_keys.contains(&key) {
                    f.user_keys.push(key);
                }
            }
            None => self.facilities.push(FacilitySeed { license, name: None, user_keys: vec![key] }),
        }
        self
    }

    /// Adds a vendor key the emulator accepts.
    pub fn vendor_key(mut self, key: impl Into<String>) -> Self {
        let key = key.into();
        if !self.vendor_keys.contains(&key) {
            self.vendor_keys.push(key);
        }
        self
    }

    /// Gives every seeded facility to this user key (the binary's `--user-key`).
    pub fn user_key_for_all(mut self, key: impl Into<String>) -> Self {
        let key = key.into();
        for f in &mut self.facilities {
            if !f.user_keys.contains(&key) {
                f.user_keys.push(key.clone());
            }
        }
        self
    }

    pub fn max_page_size(mut self, n: usize) -> Self {
        self.max_page_size = n.max(1);
        self
    }

    pub fn package(mut self, license: impl Into<String>, package: Value) -> Self {
        self.packages.push((license.into(), package));
        self
    }

    pub fn item(mut self, license: impl Into<String>, item: Value) -> Self {
        self.items.push((license.into(), item));
        self
    }

    pub fn location(mut self, license: impl Into<String>, location: Value) -> Self {
        self.locations.push((license.into(), location));
        self
    }

    pub fn transfer(mut self, recipient_license: impl Into<String>, transfer: Value) -> Self {
        self.transfers.push((recipient_license.into(), transfer));
        self
    }

    pub fn lab_result(mut self, result: Value) -> Self {
        self.lab_results.push(result);
        self
    }

    /// Reads a seed directory. Every file is optional:
    /// - `facilities.json`: `[{"LicenseNumber", "Name", "UserKeys": [..]}]`
    /// - `vendorkeys.json`: `["vendor key", ..]`
    /// - `transfers.json`, `packages.json`, `items.json`, `locations.json`: an object from
    ///   licence to an array of records (for transfers, the recipient's licence)
    /// - `labresults.json`: an array of results, each with `PackageId` or `PackageLabel`
    /// - `adjustreasons.json`, `unitsofmeasure.json`: arrays replacing the built-in lists
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Seed, Error> {
        let dir = dir.as_ref();
        if !dir.is_dir() {
            return Err(Error::Seed(format!("{} is not a directory of seed files", dir.display())));
        }
        let mut seed = Seed::default();
        if let Some(v) = read(dir, "facilities.json")? {
            for (i, f) in array(&v, "facilities.json")?.iter().enumerate() {
                let license = f
                    .get("LicenseNumber")
                    .and_then(Value::as_str)
                    .filter(|s| !s.trim().is_empty())
                    .ok_or_else(|| Error::Seed(format!("facilities.json entry {i} has no LicenseNumber")))?;
                let keys = f
                    .get("UserKeys")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).map(String::from).collect())
                    .unwrap_or_default();
                seed.facilities.push(FacilitySeed {
                    license: license.to_string(),
                    name: f.get("Name").and_then(Value::as_str).map(String::from),
                    user_keys: keys,
                });
            }
        }
        if let Some(v) = read(dir, "vendorkeys.json")? {
            for k in array(&v, "vendorkeys.json")? {
                if let Some(k) = k.as_str() {
                    seed = seed.vendor_key(k);
                }
            }
        }
        seed.transfers = by_license(dir, "transfers.json")?;
        seed.packages = by_license(dir, "packages.json")?;
        seed.items = by_license(dir, "items.json")?;
        seed.locations = by_license(dir, "locations.json")?;
        if let Some(v) = read(dir, "labresults.json")? {
            seed.lab_results = array(&v, "labresults.json")?.clone();
        }
        if let Some(v) = read(dir, "adjustreasons.json")? {
            seed.adjust_reasons = array(&v, "adjustreasons.json")?.clone();
        }
        if let Some(v) = read(dir, "unitsofmeasure.json")? {
            seed.units_of_measure = array(&v, "unitsofmeasure.json")?.clone();
        }
        // Licences named only in record files still exist as facilities (without keys until
        // the binary's --user-key or a facilities.json gives them one).
        let named: Vec<String> =
            seed.transfers.iter().chain(&seed.packages).chain(&seed.items).chain(&seed.locations).map(|(l, _)| l.clone()).collect();
        for l in named {
            if !seed.facilities.iter().any(|f| f.license == l) {
                seed.facilities.push(FacilitySeed { license: l, name: None, user_keys: Vec::new() });
            }
        }
        Ok(seed)
    }
}

fn read(dir: &Path, name: &str) -> Result<Option<Value>, Error> {
    let path = dir.join(name);
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|e| Error::Seed(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text).map(Some).map_err(|e| Error::Seed(format!("{} is not valid JSON: {e}", path.display())))
}

fn array<'a>(v: &'a Value, name: &str) -> Result<&'a Vec<Value>, Error> {
    v.as_array().ok_or_else(|| Error::Seed(format!("{name} must hold a JSON array")))
}

fn by_license(dir: &Path, name: &str) -> Result<Vec<(String, Value)>, Error> {
    let Some(v) = read(dir, name)? else {
        return Ok(Vec::new());
    };
    let obj: &Map<String, Value> =
        v.as_object().ok_or_else(|| Error::Seed(format!("{name} must hold an object from licence number to an array of records")))?;
    let mut out = Vec::new();
    let sorted: BTreeMap<&String, &Value> = obj.iter().collect();
    for (license, records) in sorted {
        for r in array(records, name)? {
            if !r.is_object() {
                return Err(Error::Seed(format!("{name}: every record under {license} must be a JSON object")));
            }
            out.push((license.clone(), r.clone()));
        }
    }
    Ok(out)
}

/// Reasons as Metrc lists them; "Entry Error", "Theft" and "Waste" need a note.
pub fn default_adjust_reasons() -> Vec<Value> {
    [("Drying", false), ("Entry Error", true), ("Scale Variance", false), ("Theft", true), ("Waste", true)]
        .into_iter()
        .map(|(name, note)| {
            json!({"Name": name, "RequiresNote": note, "RequiresWasteWeight": false,
               "RequiresImmatureWasteWeight": false, "RequiresMaxPercentAdjustment": null})
        })
        .collect()
}

pub fn default_units() -> Vec<Value> {
    [
        ("Each", "ea", "CountBased"),
        ("Fluid Ounces", "fl oz", "VolumeBased"),
        ("Gallons", "gal", "VolumeBased"),
        ("Grams", "g", "WeightBased"),
        ("Kilograms", "kg", "WeightBased"),
        ("Liters", "l", "VolumeBased"),
        ("Milligrams", "mg", "WeightBased"),
        ("Milliliters", "ml", "VolumeBased"),
        ("Ounces", "oz", "WeightBased"),
        ("Pounds", "lb", "WeightBased"),
    ]
    .into_iter()
    .map(|(name, abbr, kind)| json!({"Name": name, "Abbreviation": abbr, "QuantityType": kind}))
    .collect()
}
