//! The receiving session document: one per inbound manifest. The manifest is written once when
//! the session opens; each device records the packages it scanned inside its own map (created by
//! that device alone, as counts are), so two phones scanning at once never overwrite each other,
//! and a package scanned on both shows up on both after they sync.

use std::collections::BTreeMap;

use automerge::transaction::Transactable;
use automerge::{ObjId, ObjType, ROOT, ReadDoc, Value};
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
const COAS: &str = "coas";
const INSPECTED: &str = "inspected";
const WEIGHTS: &str = "weights";
const DECISIONS: &str = "decisions";
const WEIGHT_REASON: &str = "weight_reason";
const STATE_TASK: &str = "state_task";
/// GS1 labels read on packages, per device (sessions opened before label checks have none).
const LABELS: &str = "labels";
/// Tag -> item name of every manifest package: a scan looks one key up instead of reading the
/// whole manifest.
const ON_MANIFEST: &str = "on_manifest";

/// A certificate of analysis for one production batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Coa {
    pub batch: crate::ids::BatchNumber,
    pub lab: String,
    pub thc_percent: rust_decimal::Decimal,
    pub passed: bool,
    pub tested_on: chrono::NaiveDate,
    pub expires_on: chrono::NaiveDate,
}

/// A weight taken during receiving.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Weighing {
    pub tag: PackageTag,
    pub weight: crate::quantity::Quantity,
    /// The scale it came from; `None` when typed by hand.
    pub scale: Option<String>,
    /// Why a weight was typed by hand (no scale at hand, a broken scale): said by the person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub by: String,
    pub device: DeviceId,
    pub at: DateTime<Utc>,
    /// One more than the highest `seq` of any weighing of this package the recording phone held:
    /// a weighing made after seeing another outranks it, whatever the phones' clocks say.
    #[serde(default)]
    pub seq: u64,
}

/// Why a package is turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum RejectReason {
    Damaged,
    WrongItem,
    FailedTest,
    Short,
    Over,
    NotOnManifest,
}

/// Accept or reject one package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageDecision {
    pub tag: PackageTag,
    /// `None`: accepted.
    pub reject: Option<RejectReason>,
    /// A manager's note accepting a package whose checks failed.
    pub override_note: Option<String>,
    pub note: String,
    pub by: String,
    pub user: UserId,
    pub device: DeviceId,
    pub at: DateTime<Utc>,
    /// As [`Weighing::seq`], over the decisions on this package.
    #[serde(default)]
    pub seq: u64,
}

/// A physical inspection of a sample package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inspection {
    pub tag: PackageTag,
    pub note: String,
    pub by: String,
    pub device: DeviceId,
    pub at: DateTime<Utc>,
}

/// The GS1 label read on a package during receiving: its batch and expiry, checked against the
/// manifest's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelScan {
    pub tag: PackageTag,
    /// The batch/lot (10) as the domain's batch number (upper-cased), if the label carries one.
    pub batch: Option<crate::ids::BatchNumber>,
    /// The expiry (17), if the label carries one.
    pub expiry: Option<chrono::NaiveDate>,
    pub by: String,
    pub device: DeviceId,
    pub at: DateTime<Utc>,
}

/// Whether this session has room for label reads (opened by a version that knows them).
pub fn takes_labels(doc: &WorkDoc) -> bool {
    doc.root_map(LABELS).is_ok()
}

pub fn put_label(doc: &mut WorkDoc, l: &LabelScan) -> Result<(), DocError> {
    doc.put_own(LABELS, l.device, l.tag.as_str(), l)
}

/// Every label read, from every device, by package (none for a session without labels).
pub fn labels(doc: &WorkDoc) -> Result<BTreeMap<PackageTag, Vec<LabelScan>>, DocError> {
    if !takes_labels(doc) {
        return Ok(BTreeMap::new());
    }
    let mut out: BTreeMap<PackageTag, Vec<LabelScan>> = BTreeMap::new();
    for l in doc.all_own::<LabelScan>(LABELS)?.into_values().flatten() {
        out.entry(l.tag.clone()).or_default().push(l);
    }
    Ok(out)
}

/// The server's check of a `Received` event that names this session: the session is
/// completed, the package is on its manifest and accepted in it, and the event carries the
/// manifest's item, batch and number. `Err(reason)` refuses the event.
pub fn check_receipt(doc: &WorkDoc, event: &crate::event::Event) -> Result<(), String> {
    let crate::event::EventBody::Received { item, batch, manifest: number, .. } = &event.body else { return Ok(()) };
    let unreadable = |e: DocError| format!("its receiving session {} cannot be read: {e}", doc.id);
    let manifest = manifest(doc).map_err(unreadable)?;
    if !completed(doc).map_err(unreadable)? {
        return Err(format!("receiving session {} for manifest {} is not completed", doc.id, manifest.manifest_number));
    }
    let Some(p) = manifest.package(&event.tag) else {
        return Err(format!("{} is not on manifest {}", event.tag, manifest.manifest_number));
    };
    let accepted = decisions(doc).map_err(unreadable)?.get(&event.tag).is_some_and(|d| d.reject.is_none());
    if !accepted {
        return Err(format!("{} was not accepted in the receiving session of manifest {}", event.tag, manifest.manifest_number));
    }
    if *item != p.item_name
        || Some(batch) != p.production_batch_number.as_ref()
        || number.as_deref() != Some(manifest.manifest_number.as_str())
    {
        return Err(format!("it does not carry the item, batch and number of manifest {} for {}", manifest.manifest_number, event.tag));
    }
    Ok(())
}

fn err(e: impl std::fmt::Display) -> DocError {
    DocError::corrupt("receiving document", e)
}

use super::fields::{json, text_of};

fn scans_map(doc: &WorkDoc) -> Result<ObjId, DocError> {
    doc.root_map(SCANS)
}

/// Creates the session for a manifest.
pub fn create(id: Uuid, facility: LicenseNumber, writer: super::Writer, manifest: &InboundManifest) -> WorkDoc {
    let mut doc = WorkDoc::create(id, DocKind::Receiving, facility, writer);
    doc.am.put(ROOT, MANIFEST, json(manifest)).expect("fresh document");
    doc.am.put(ROOT, STATUS, "receiving").expect("fresh document");
    for map in [SCANS, COAS, INSPECTED, WEIGHTS, DECISIONS, LABELS] {
        doc.am.put_object(ROOT, map, ObjType::Map).expect("fresh document");
    }
    let index = doc.am.put_object(ROOT, ON_MANIFEST, ObjType::Map).expect("fresh document");
    for p in &manifest.packages {
        doc.am.put(&index, p.tag.as_str(), p.item_name.as_str()).expect("fresh document");
    }
    doc
}

/// The item name of a manifest package, `None` if the tag is not on the manifest.
pub fn manifest_item(doc: &WorkDoc, tag: &PackageTag) -> Result<Option<String>, DocError> {
    let index = doc.root_map(ON_MANIFEST)?;
    Ok(doc.am.get(&index, tag.as_str()).map_err(err)?.and_then(|(v, _)| text_of(v)))
}

pub fn put_coa(doc: &mut WorkDoc, coa: &Coa) -> Result<(), DocError> {
    doc.put_entry(COAS, coa.batch.as_str(), coa)
}

pub fn coas(doc: &WorkDoc) -> Result<BTreeMap<String, Coa>, DocError> {
    doc.entries(COAS)
}

pub fn put_inspection(doc: &mut WorkDoc, i: &Inspection) -> Result<(), DocError> {
    doc.put_own(INSPECTED, i.device, i.tag.as_str(), i)
}

pub fn inspections(doc: &WorkDoc) -> Result<Vec<Inspection>, DocError> {
    Ok(doc.all_own(INSPECTED)?.into_values().flatten().collect())
}

pub fn put_weighing(doc: &mut WorkDoc, w: &Weighing) -> Result<(), DocError> {
    doc.put_own(WEIGHTS, w.device, w.tag.as_str(), w)
}

/// The weight that counts for each package when several phones weighed it. Not the one with the
/// latest time: phones' clocks are untrusted (decision 0002), and one set a day ahead would win
/// every time. Instead each weighing carries `seq`, one more than the highest it saw for the
/// package, so a re-weighing made after seeing another always wins (causal order, as with the
/// ledger's `parent`). Two weighings made without seeing each other have the same `seq`; then a
/// calibrated scale's reading beats one typed by hand, and last the device id decides, so every
/// replica picks the same one whatever the clocks and whatever order the changes merged in.
pub fn weighings(doc: &WorkDoc) -> Result<BTreeMap<PackageTag, Weighing>, DocError> {
    latest(doc.all_own::<Weighing>(WEIGHTS)?, |w| (w.seq, w.scale.is_some(), w.device), |w| w.tag.clone())
}

/// The `seq` for a new weighing of `tag` on this replica (see [`weighings`]).
pub fn next_weighing_seq(doc: &WorkDoc, tag: &PackageTag) -> Result<u64, DocError> {
    let seen: Vec<Weighing> = doc.own_entries(WEIGHTS, tag.as_str())?;
    Ok(seen.iter().map(|w| w.seq).max().unwrap_or(0).saturating_add(1))
}

pub fn put_decision(doc: &mut WorkDoc, d: &PackageDecision) -> Result<(), DocError> {
    doc.put_own(DECISIONS, d.device, d.tag.as_str(), d)
}

/// The decision that counts for each package: ordered like [`weighings`], by what the deciding
/// phone had seen, then by device, never by a phone's clock.
pub fn decisions(doc: &WorkDoc) -> Result<BTreeMap<PackageTag, PackageDecision>, DocError> {
    latest(doc.all_own::<PackageDecision>(DECISIONS)?, |d| (d.seq, d.device), |d| d.tag.clone())
}

/// The `seq` for a new decision on `tag` on this replica.
pub fn next_decision_seq(doc: &WorkDoc, tag: &PackageTag) -> Result<u64, DocError> {
    let seen: Vec<PackageDecision> = doc.own_entries(DECISIONS, tag.as_str())?;
    Ok(seen.iter().map(|d| d.seq).max().unwrap_or(0).saturating_add(1))
}

fn latest<T, K: Ord>(
    all: BTreeMap<String, Vec<T>>,
    order: impl Fn(&T) -> K,
    tag: impl Fn(&T) -> PackageTag,
) -> Result<BTreeMap<PackageTag, T>, DocError> {
    Ok(all.into_values().filter_map(|list| list.into_iter().max_by_key(|x| order(x))).map(|x| (tag(&x), x)).collect())
}

pub fn set_weight_reason(doc: &mut WorkDoc, reason: &str) -> Result<(), DocError> {
    doc.am.put(ROOT, WEIGHT_REASON, reason).map_err(err)?;
    Ok(())
}

pub fn weight_reason(doc: &WorkDoc) -> Result<Option<String>, DocError> {
    Ok(doc.am.get(ROOT, WEIGHT_REASON).map_err(err)?.and_then(|(v, _)| text_of(v)).filter(|r| !r.trim().is_empty()))
}

/// Marks the session completed and opens the state-system task.
pub fn complete(doc: &mut WorkDoc) -> Result<(), DocError> {
    doc.am.put(ROOT, STATUS, "completed").map_err(err)?;
    doc.am.put(ROOT, STATE_TASK, "open").map_err(err)?;
    Ok(())
}

/// Whether "accept manifest N in the state system" is still to do (`None` before completion).
pub fn state_task_open(doc: &WorkDoc) -> Result<Option<bool>, DocError> {
    Ok(doc.am.get(ROOT, STATE_TASK).map_err(err)?.and_then(|(v, _)| text_of(v)).map(|t| t == "open"))
}

pub fn confirm_state_task(doc: &mut WorkDoc) -> Result<(), DocError> {
    doc.am.put(ROOT, STATE_TASK, "confirmed").map_err(err)?;
    Ok(())
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
    let mut out: BTreeMap<PackageTag, Vec<ReceivingScan>> = BTreeMap::new();
    for (_, list) in doc.all_own::<ReceivingScan>(SCANS)? {
        for scan in list {
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
    doc.put_own(SCANS, scan.device, scan.tag.as_str(), scan)
}

pub fn completed(doc: &WorkDoc) -> Result<bool, DocError> {
    Ok(matches!(doc.am.get(ROOT, STATUS).map_err(err)?, Some((v, _)) if v.as_scalar().and_then(|s| s.as_str()) == Some("completed")))
}

/// The server's check after merging a device's changes: an acceptance that overrides failed checks
/// must come from an active manager of the facility. Returns the reason to refuse, if any.
pub fn audit(doc: &WorkDoc, roster: &[crate::people::RosterEntry]) -> Result<Option<String>, DocError> {
    for d in doc.all_own::<PackageDecision>(DECISIONS)?.into_values().flatten() {
        if d.override_note.is_none() {
            continue;
        }
        let manager = roster.iter().any(|p| p.id == d.user && p.active && p.role == crate::roles::Role::Manager);
        if !manager {
            return Ok(Some(format!("{} accepted {} despite failed checks, but only a manager may do that", d.by, d.tag)));
        }
    }
    Ok(None)
}
