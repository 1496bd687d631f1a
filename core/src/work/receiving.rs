//! The receiving session document: one per inbound manifest. The manifest is written once when
//! the session opens; each device records the packages it scanned inside its own map (created by
//! that device alone, as counts are), so two phones scanning at once never overwrite each other,
//! and a package scanned on both shows up on both after they sync.

use std::collections::BTreeMap;

use automerge::transaction::Transactable;
use automerge::{ObjId, ObjType, ReadDoc, Value, ROOT};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{DocError, DocKind, WorkDoc};
use crate::ids::{DeviceId, LicenseNumber, LocationName, PackageTag, UserId};
use crate::receiving::manifest::InboundManifest;

/// One scan of a package during receiving.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivingScan {
    pub tag: PackageTag,
    pub user: UserId,
    pub user_name: String,
    pub device: DeviceId,
    pub at: DateTime<Utc>,
    /// Where it was scanned (the receiving bay).
    pub location: LocationName,
    /// On the manifest or not.
    pub on_manifest: bool,
}

const MANIFEST: &str = "manifest";
const SCANS: &str = "scans";
const STATUS: &str = "status";

fn err(e: impl std::fmt::Display) -> DocError {
    DocError::corrupt("receiving document", e)
}

fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plain data serialises")
}

fn text_of(value: automerge::Value<'_>) -> Option<String> {
    value.as_scalar().and_then(|s| s.as_str()).map(str::to_string)
}

fn scans_map(doc: &WorkDoc) -> Result<ObjId, DocError> {
    match doc.am.get(ROOT, SCANS).map_err(err)? {
        Some((Value::Object(_), id)) => Ok(id),
        _ => Err(DocError::Missing { doc: doc.id, field: "scans" }),
    }
}

/// Creates the session for a manifest.
pub fn create(id: Uuid, facility: LicenseNumber, writer: Uuid, manifest: &InboundManifest) -> WorkDoc {
    let mut doc = WorkDoc::create(id, DocKind::Receiving, facility, writer);
    doc.am.put(ROOT, MANIFEST, json(manifest)).expect("fresh document");
    doc.am.put(ROOT, STATUS, "receiving").expect("fresh document");
    doc.am.put_object(ROOT, SCANS, ObjType::Map).expect("fresh document");
    doc
}

pub fn manifest(doc: &WorkDoc) -> Result<InboundManifest, DocError> {
    match doc.am.get(ROOT, MANIFEST).map_err(err)? {
        Some((value, _)) => {
            let text = text_of(value).ok_or_else(|| err("manifest is not text"))?;
            serde_json::from_str(&text).map_err(err)
        }
        None => Err(DocError::Missing { doc: doc.id, field: "manifest" }),
    }
}

/// Every scan, from every device, by package (a package scanned twice has two).
pub fn scans(doc: &WorkDoc) -> Result<BTreeMap<PackageTag, Vec<ReceivingScan>>, DocError> {
    let map = scans_map(doc)?;
    let mut out: BTreeMap<PackageTag, Vec<ReceivingScan>> = BTreeMap::new();
    for device in doc.am.keys(&map).collect::<Vec<_>>() {
        let Some((Value::Object(_), inner)) = doc.am.get(&map, device.as_str()).map_err(err)? else { continue };
        for item in doc.am.map_range(&inner, ..) {
            let text = text_of(automerge::Value::from(item.value)).ok_or_else(|| err("scan is not text"))?;
            let scan: ReceivingScan = serde_json::from_str(&text).map_err(err)?;
            out.entry(scan.tag.clone()).or_default().push(scan);
        }
    }
    for list in out.values_mut() {
        list.sort_by_key(|s| (s.at, s.device));
    }
    Ok(out)
}

/// The first scan of a package, if anyone has scanned it (as this replica knows).
pub fn first_scan(doc: &WorkDoc, tag: &PackageTag) -> Result<Option<ReceivingScan>, DocError> {
    let map = scans_map(doc)?;
    let mut found: Vec<ReceivingScan> = Vec::new();
    for device in doc.am.keys(&map).collect::<Vec<_>>() {
        let Some((Value::Object(_), inner)) = doc.am.get(&map, device.as_str()).map_err(err)? else { continue };
        if let Some((value, _)) = doc.am.get(&inner, tag.as_str()).map_err(err)? {
            let text = text_of(value).ok_or_else(|| err("scan is not text"))?;
            found.push(serde_json::from_str(&text).map_err(err)?);
        }
    }
    Ok(found.into_iter().min_by_key(|s| (s.at, s.device)))
}

/// Records a scan in this device's map.
pub fn record(doc: &mut WorkDoc, scan: &ReceivingScan) -> Result<(), DocError> {
    let map = scans_map(doc)?;
    let key = scan.device.to_string();
    let inner = match doc.am.get(&map, key.as_str()).map_err(err)? {
        Some((Value::Object(_), id)) => id,
        // Only this device creates its own map.
        _ => doc.am.put_object(&map, key.as_str(), ObjType::Map).map_err(err)?,
    };
    doc.am.put(&inner, scan.tag.as_str(), json(scan)).map_err(err)?;
    Ok(())
}

pub fn completed(doc: &WorkDoc) -> Result<bool, DocError> {
    Ok(matches!(doc.am.get(ROOT, STATUS).map_err(err)?, Some((v, _)) if v.as_scalar().and_then(|s| s.as_str()) == Some("completed")))
}
