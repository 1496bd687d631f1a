//! The count session documents.
//!
//! `CountSession` (everyone counting sees it): the scope, the packages in it *without* their
//! quantities (the count is blind), the status and round, and the counts. A count is an Automerge
//! counter in integer minor units (milligrams, or units for counted goods), one per device, person,
//! round and package; the package's count is the sum of them, so counts of the same package from
//! several phones add up instead of overwriting each other, and a person correcting their count
//! increments their own counter by the difference.
//!
//! Each device writes only inside its own map (`entries/<device>`, created by that device alone),
//! so no two writers ever create the same object, and merging another phone's counts appends a
//! contiguous run of operations instead of interleaving with ours: merging two 10,000-entry
//! replicas costs tens of milliseconds rather than seconds (see BENCHMARKS.md).
//!
//! `CountReview` (managers only): the expected quantities snapshotted at the start, the
//! variances of each round, and the discrepancies with their investigation.

use std::collections::BTreeMap;

use automerge::transaction::Transactable;
use automerge::{ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::fields::json;
use super::{DocError, DocKind, WorkDoc};
use crate::ids::{DeviceId, LicenseNumber, LocationName, PackageTag, UserId};
use crate::people::Actor;
use crate::quantity::{Quantity, QuantityError, Unit};

/// Which packages a count covers: any of these locations and/or any of these product categories
/// (both empty means nothing; both given means either matches).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct CountScope {
    pub locations: Vec<LocationName>,
    pub categories: Vec<String>,
}

/// The fixed facts of a session, written once when it opens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub name: String,
    pub scope: CountScope,
    pub opened_by: Actor,
    /// HLC wall time of the device when the session opened: ledger events after it happened
    /// during the count.
    pub opened_hlc_ms: i64,
    /// The manager-only review document of this session.
    pub review: Uuid,
}

/// A package in scope, as counters may see it: where it should be and how it is measured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopedPackage {
    pub location: LocationName,
    pub unit: Unit,
    pub item: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum), uniffi(name = "CountStatus"))]
pub enum SessionStatus {
    Counting,
    Recount,
    Closed,
}

/// One person's count of one package in one round, from one device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CountEntry {
    pub round: u8,
    pub tag: PackageTag,
    pub user: UserId,
    pub user_name: String,
    pub device: DeviceId,
    pub location: LocationName,
    pub minor: i64,
    pub unit: Unit,
}

/// One scan or correction, as a counter's phone records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanRecord {
    pub round: u8,
    pub tag: PackageTag,
    pub user: UserId,
    pub user_name: String,
    pub device: DeviceId,
    pub location: LocationName,
    /// The amount added (a correction records the difference it made).
    pub minor: i64,
    pub correction: bool,
    pub at: DateTime<Utc>,
}

/// The expected quantity of a package at the start, in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expected {
    pub minor: i64,
    pub unit: Unit,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum), uniffi(name = "VarianceOutcome"))]
pub enum Outcome {
    Match,
    Variance,
    /// The package changed in the ledger during the count in a way that takes it out of the
    /// comparison (moved out of scope, shipped, quarantined).
    ChangedDuringCount {
        note: String,
    },
}

/// One package's comparison in one round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VarianceLine {
    pub round: u8,
    pub tag: PackageTag,
    pub unit: Unit,
    /// The expected quantity at the start of the count.
    pub snapshot_minor: i64,
    /// The expected quantity after ledger changes made during the count.
    pub expected_minor: i64,
    pub counted_minor: i64,
    #[serde(flatten)]
    pub outcome: Outcome,
}

impl VarianceLine {
    pub fn difference_minor(&self) -> i64 {
        self.counted_minor.saturating_sub(self.expected_minor)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum DiscrepancyStatus {
    Open,
    Resolved,
}

/// A variance that survived the recount: the package is quarantined until it is resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discrepancy {
    pub tag: PackageTag,
    pub unit: Unit,
    pub expected_minor: i64,
    pub counted_minor: i64,
    pub recounted_minor: i64,
    pub quarantine_event: Uuid,
    pub opened_at: DateTime<Utc>,
    pub root_cause: String,
    pub corrective_action: String,
    pub adjustment: Option<Uuid>,
    pub status: DiscrepancyStatus,
}

// ---- minor units -------------------------------------------------------------------------

/// A quantity in the package's minor unit (mg for weights, units for counted goods), rounded to
/// the milligram: far below the 0.01 g at which weights are compared.
pub fn to_minor(q: &Quantity, package_unit: Unit) -> Result<i64, QuantityError> {
    if q.unit.is_weight() != package_unit.is_weight() {
        return Err(QuantityError::IncompatibleUnits(kind_of(package_unit), kind_of(q.unit)));
    }
    // Checked: a package whose quantity is beyond any real one (an event from before the domain
    // bounds) gives a sentence, not a panic.
    let overflow = || QuantityError::Overflow(q.plain());
    let value = match q.grams()? {
        Some(g) => g
            .checked_mul(Decimal::ONE_THOUSAND)
            .ok_or_else(overflow)?
            .round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero),
        None => q.amount.trunc(),
    };
    value.to_i64().ok_or_else(overflow)
}

fn kind_of(unit: Unit) -> &'static str {
    if unit.is_weight() { "weights" } else { "items" }
}

/// Back from minor units to a quantity for people: grams for weights.
pub fn from_minor(minor: i64, unit: Unit) -> Quantity {
    if unit.is_weight() {
        Quantity { amount: Decimal::new(minor, 3), unit: Unit::G }
    } else {
        Quantity { amount: Decimal::from(minor), unit: Unit::Each }
    }
}

/// Equal as counted: weights to 0.01 g, counted goods exactly.
pub fn same_count(a: i64, b: i64, unit: Unit) -> bool {
    from_minor(a, unit).same_as(&from_minor(b, unit))
}

// ---- document access ---------------------------------------------------------------------

const INFO: &str = "info";
const IN_SCOPE: &str = "in_scope";
const STATUS: &str = "status";
const ROUND: &str = "round";
const RECOUNT: &str = "recount";
const ENTRIES: &str = "entries";
const PARTICIPANTS: &str = "participants";
const CLOSED_BY: &str = "closed_by";

const SESSION: &str = "session";
const EXPECTED: &str = "expected";
const RESULTS: &str = "results";
const DISCREPANCIES: &str = "discrepancies";

fn err(e: impl std::fmt::Display) -> DocError {
    DocError::corrupt("count document", e)
}

/// Key of a count inside a device's map: round, package, person. Sorted so a package's counts in
/// a round are one range.
fn count_key(round: u8, tag: &PackageTag, user: UserId) -> String {
    format!("c:{round}:{tag}:{user}")
}

fn meta_key(round: u8, tag: &PackageTag, user: UserId) -> String {
    format!("m:{round}:{tag}:{user}")
}

/// What an entry records besides the amount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct EntryMeta {
    user_name: String,
    location: LocationName,
    unit: Unit,
    at: DateTime<Utc>,
}

fn device_maps(doc: &WorkDoc) -> Result<Vec<(DeviceId, ObjId)>, DocError> {
    let entries = doc.root_map(ENTRIES)?;
    let mut out = Vec::new();
    for key in doc.am.keys(&entries) {
        if let Some(map) = doc.map_in(&entries, &key)? {
            out.push((DeviceId::parse(&key).map_err(err)?, map));
        }
    }
    Ok(out)
}

/// The counts of one package in one round, per (device, person), from a key range.
fn counts_of(doc: &WorkDoc, map: &ObjId, round: u8, tag: &PackageTag) -> Vec<(UserId, i64)> {
    let start = format!("c:{round}:{tag}:");
    let end = format!("c:{round}:{tag};");
    doc.am
        .map_range(map, start..end)
        .filter_map(|item| {
            let user = UserId::parse(item.key.rsplit(':').next()?).ok()?;
            let value = automerge::Value::from(item.value);
            Some((user, value.as_scalar()?.as_i64()?))
        })
        .collect()
}

/// Creates the session document: scope, packages in scope, and a zero counter per package.
pub fn create_session(
    id: Uuid,
    facility: LicenseNumber,
    writer: super::Writer,
    info: &SessionInfo,
    in_scope: &BTreeMap<PackageTag, ScopedPackage>,
) -> WorkDoc {
    let mut doc = WorkDoc::create(id, DocKind::CountSession, facility, writer);
    let am = &mut doc.am;
    am.put(ROOT, INFO, json(info)).expect("fresh document");
    am.put(ROOT, STATUS, "counting").expect("fresh document");
    am.put(ROOT, ROUND, 1i64).expect("fresh document");
    let scope = am.put_object(ROOT, IN_SCOPE, ObjType::Map).expect("fresh document");
    for (tag, pkg) in in_scope {
        am.put(&scope, tag.as_str(), json(pkg)).expect("fresh document");
    }
    am.put_object(ROOT, RECOUNT, ObjType::Map).expect("fresh document");
    am.put_object(ROOT, ENTRIES, ObjType::Map).expect("fresh document");
    am.put_object(ROOT, PARTICIPANTS, ObjType::Map).expect("fresh document");
    doc
}

pub fn info(doc: &WorkDoc) -> Result<SessionInfo, DocError> {
    doc.json_in(&ROOT, INFO)?.ok_or(DocError::Missing { doc: doc.id, field: "session info" })
}

pub fn status(doc: &WorkDoc) -> Result<SessionStatus, DocError> {
    match doc.am.get(ROOT, STATUS).map_err(err)? {
        Some((Value::Scalar(s), _)) => match s.as_str() {
            Some("counting") => Ok(SessionStatus::Counting),
            Some("recount") => Ok(SessionStatus::Recount),
            Some("closed") => Ok(SessionStatus::Closed),
            other => Err(err(format!("unknown status {other:?}"))),
        },
        _ => Err(DocError::Missing { doc: doc.id, field: "status" }),
    }
}

pub fn round(doc: &WorkDoc) -> Result<u8, DocError> {
    Ok(doc.i64_in(&ROOT, ROUND)?.unwrap_or(1).clamp(1, 2) as u8)
}

/// The package, if it is in the session's scope.
pub fn scoped(doc: &WorkDoc, tag: &PackageTag) -> Result<Option<ScopedPackage>, DocError> {
    let scope = doc.root_map(IN_SCOPE)?;
    doc.json_in(&scope, tag.as_str())
}

pub fn in_scope(doc: &WorkDoc) -> Result<BTreeMap<PackageTag, ScopedPackage>, DocError> {
    let scope = doc.root_map(IN_SCOPE)?;
    doc.json_values(&scope)?.into_iter().map(|(key, pkg)| Ok((PackageTag::parse(&key).map_err(err)?, pkg))).collect()
}

/// Who may not recount a package: those who counted it in the first round. `None` if the
/// package is not being recounted.
pub fn recount_excluded(doc: &WorkDoc, tag: &PackageTag) -> Result<Option<Vec<UserId>>, DocError> {
    let recount = doc.root_map(RECOUNT)?;
    doc.json_in(&recount, tag.as_str())
}

pub fn recount_tags(doc: &WorkDoc) -> Result<Vec<PackageTag>, DocError> {
    let recount = doc.root_map(RECOUNT)?;
    doc.am.keys(&recount).map(|k| PackageTag::parse(&k).map_err(err)).collect()
}

/// The merged count of a package in a round: every phone's counters added up. Saturating: the
/// counters are other phones' writes, and no sum of them may fail a read (docs/decisions/0013).
pub fn total(doc: &WorkDoc, round: u8, tag: &PackageTag) -> Result<i64, DocError> {
    Ok(device_maps(doc)?.iter().flat_map(|(_, map)| counts_of(doc, map, round, tag)).fold(0i64, |sum, (_, n)| sum.saturating_add(n)))
}

/// Whether anyone has counted the package in the round (a count of zero included).
pub fn counted(doc: &WorkDoc, round: u8, tag: &PackageTag) -> Result<bool, DocError> {
    Ok(device_maps(doc)?.iter().any(|(_, map)| !counts_of(doc, map, round, tag).is_empty()))
}

/// A person's count of a package in a round, over all their devices.
pub fn person_total(doc: &WorkDoc, round: u8, user: UserId, tag: &PackageTag) -> Result<i64, DocError> {
    Ok(device_maps(doc)?
        .iter()
        .flat_map(|(_, map)| counts_of(doc, map, round, tag))
        .filter(|(u, _)| *u == user)
        .fold(0i64, |sum, (_, n)| sum.saturating_add(n)))
}

/// Every entry: one per device, person, round and package.
pub fn entries(doc: &WorkDoc) -> Result<Vec<CountEntry>, DocError> {
    let mut out = Vec::new();
    for (device, map) in device_maps(doc)? {
        // Two passes over sorted ranges, counters then details, joined by key.
        let mut counts: BTreeMap<String, i64> = BTreeMap::new();
        for item in doc.am.map_range(&map, "c:".to_string().."c;".to_string()) {
            let minor = automerge::Value::from(item.value).as_scalar().and_then(|s| s.as_i64()).unwrap_or(0);
            counts.insert(item.key[2..].to_string(), minor);
        }
        for item in doc.am.map_range(&map, "m:".to_string().."m;".to_string()) {
            let key = &item.key[2..];
            let Some(minor) = counts.get(key) else { continue };
            let mut parts = key.splitn(3, ':');
            let (Some(round), Some(tag), Some(user)) = (parts.next(), parts.next(), parts.next()) else {
                return Err(err(format!("count key {key:?}")));
            };
            let value = automerge::Value::from(item.value);
            let text = value.as_scalar().and_then(|s| s.as_str()).ok_or_else(|| err("entry details are not text"))?;
            let meta: EntryMeta = serde_json::from_str(text).map_err(err)?;
            out.push(CountEntry {
                round: round.parse().map_err(err)?,
                tag: PackageTag::parse(tag).map_err(err)?,
                user: UserId::parse(user).map_err(err)?,
                user_name: meta.user_name,
                device,
                location: meta.location,
                minor: *minor,
                unit: meta.unit,
            });
        }
    }
    out.sort_by(|a, b| (a.round, &a.tag, a.user, a.device).cmp(&(b.round, &b.tag, b.user, b.device)));
    Ok(out)
}

pub fn participants(doc: &WorkDoc) -> Result<Vec<Actor>, DocError> {
    let map = doc.root_map(PARTICIPANTS)?;
    Ok(doc.json_values(&map)?.into_iter().map(|(_, p)| p).collect())
}

pub fn closed_by(doc: &WorkDoc) -> Result<Option<Actor>, DocError> {
    doc.json_in(&ROOT, CLOSED_BY)
}

/// Records that a person joined the session on a device.
pub fn join(doc: &mut WorkDoc, person: &Actor) -> Result<(), DocError> {
    let map = doc.root_map(PARTICIPANTS)?;
    doc.am.put(&map, format!("{}:{}", person.user, person.device), json(person)).map_err(err)?;
    Ok(())
}

/// Adds a scanned amount (or, for a correction, the difference) to this device's counter for
/// the person and package, creating the device's map and the counter on first use.
pub fn add(doc: &mut WorkDoc, scan: &ScanRecord, unit: Unit) -> Result<(), DocError> {
    let entries = doc.root_map(ENTRIES)?;
    let device_key = scan.device.to_string();
    let map = match doc.map_in(&entries, &device_key)? {
        Some(map) => map,
        // Only this device ever creates its map, so it is never created twice concurrently.
        None => doc.am.put_object(&entries, device_key.as_str(), ObjType::Map).map_err(err)?,
    };
    let key = count_key(scan.round, &scan.tag, scan.user);
    match doc.am.get(&map, key.as_str()).map_err(err)? {
        Some(_) => doc.am.increment(&map, key.as_str(), scan.minor).map_err(err)?,
        None => doc.am.put(&map, key.as_str(), ScalarValue::Counter(scan.minor.into())).map_err(err)?,
    }
    let meta = EntryMeta { user_name: scan.user_name.clone(), location: scan.location.clone(), unit, at: scan.at };
    doc.am.put(&map, meta_key(scan.round, &scan.tag, scan.user), json(&meta)).map_err(err)?;
    Ok(())
}

/// Opens the recount: round 2, a zero counter per package to recount, and who may not recount it.
pub fn start_recount(doc: &mut WorkDoc, recount: &BTreeMap<PackageTag, Vec<UserId>>) -> Result<(), DocError> {
    let map = doc.root_map(RECOUNT)?;
    for (tag, excluded) in recount {
        doc.am.put(&map, tag.as_str(), json(excluded)).map_err(err)?;
    }
    doc.am.put(ROOT, ROUND, 2i64).map_err(err)?;
    doc.am.put(ROOT, STATUS, "recount").map_err(err)?;
    Ok(())
}

pub fn close(doc: &mut WorkDoc, by: &Actor) -> Result<(), DocError> {
    doc.am.put(ROOT, STATUS, "closed").map_err(err)?;
    doc.am.put(ROOT, CLOSED_BY, json(by)).map_err(err)?;
    Ok(())
}

// ---- the review document -----------------------------------------------------------------

pub fn create_review(
    id: Uuid,
    facility: LicenseNumber,
    writer: super::Writer,
    session: Uuid,
    expected: &BTreeMap<PackageTag, Expected>,
) -> WorkDoc {
    let mut doc = WorkDoc::create(id, DocKind::CountReview, facility, writer);
    let am = &mut doc.am;
    am.put(ROOT, SESSION, session.to_string()).expect("fresh document");
    let map = am.put_object(ROOT, EXPECTED, ObjType::Map).expect("fresh document");
    for (tag, e) in expected {
        am.put(&map, tag.as_str(), json(e)).expect("fresh document");
    }
    am.put_object(ROOT, RESULTS, ObjType::Map).expect("fresh document");
    am.put_object(ROOT, DISCREPANCIES, ObjType::Map).expect("fresh document");
    doc
}

pub fn expected(doc: &WorkDoc) -> Result<BTreeMap<PackageTag, Expected>, DocError> {
    let map = doc.root_map(EXPECTED)?;
    doc.json_values(&map)?.into_iter().map(|(key, e)| Ok((PackageTag::parse(&key).map_err(err)?, e))).collect()
}

pub fn put_results(doc: &mut WorkDoc, lines: &[VarianceLine]) -> Result<(), DocError> {
    let map = doc.root_map(RESULTS)?;
    for line in lines {
        doc.am.put(&map, format!("{}:{}", line.round, line.tag), json(line)).map_err(err)?;
    }
    Ok(())
}

pub fn results(doc: &WorkDoc) -> Result<Vec<VarianceLine>, DocError> {
    let map = doc.root_map(RESULTS)?;
    Ok(doc.json_values(&map)?.into_iter().map(|(_, line)| line).collect())
}

const DISCREPANCY_FACTS: &str = "facts";
const ROOT_CAUSE: &str = "root_cause";
const CORRECTIVE_ACTION: &str = "corrective_action";
const ADJUSTMENT: &str = "adjustment";
const DISCREPANCY_STATUS: &str = "status";

pub fn open_discrepancy(doc: &mut WorkDoc, d: &Discrepancy) -> Result<(), DocError> {
    let map = doc.root_map(DISCREPANCIES)?;
    let entry = doc.am.put_object(&map, d.tag.as_str(), ObjType::Map).map_err(err)?;
    let facts = Discrepancy { root_cause: String::new(), corrective_action: String::new(), adjustment: None, ..d.clone() };
    doc.am.put(&entry, DISCREPANCY_FACTS, json(&facts)).map_err(err)?;
    doc.am.put(&entry, ROOT_CAUSE, "").map_err(err)?;
    doc.am.put(&entry, CORRECTIVE_ACTION, "").map_err(err)?;
    doc.am.put(&entry, DISCREPANCY_STATUS, "open").map_err(err)?;
    Ok(())
}

fn discrepancy_obj(doc: &WorkDoc, tag: &PackageTag) -> Result<Option<ObjId>, DocError> {
    let map = doc.root_map(DISCREPANCIES)?;
    doc.map_in(&map, tag.as_str())
}

fn text(doc: &WorkDoc, parent: &ObjId, key: &str) -> Result<String, DocError> {
    Ok(match doc.am.get(parent, key).map_err(err)? {
        Some((Value::Scalar(s), _)) => s.as_str().unwrap_or_default().to_string(),
        _ => String::new(),
    })
}

pub fn discrepancy(doc: &WorkDoc, tag: &PackageTag) -> Result<Option<Discrepancy>, DocError> {
    let Some(entry) = discrepancy_obj(doc, tag)? else { return Ok(None) };
    let mut d: Discrepancy = doc.json_in(&entry, DISCREPANCY_FACTS)?.ok_or(DocError::Missing { doc: doc.id, field: "discrepancy" })?;
    d.root_cause = text(doc, &entry, ROOT_CAUSE)?;
    d.corrective_action = text(doc, &entry, CORRECTIVE_ACTION)?;
    let adjustment = text(doc, &entry, ADJUSTMENT)?;
    d.adjustment = if adjustment.is_empty() { None } else { Some(Uuid::parse_str(&adjustment).map_err(err)?) };
    d.status = if text(doc, &entry, DISCREPANCY_STATUS)? == "resolved" { DiscrepancyStatus::Resolved } else { DiscrepancyStatus::Open };
    Ok(Some(d))
}

pub fn discrepancies(doc: &WorkDoc) -> Result<Vec<Discrepancy>, DocError> {
    let map = doc.root_map(DISCREPANCIES)?;
    let mut out = Vec::new();
    for key in doc.am.keys(&map) {
        if let Some(d) = discrepancy(doc, &PackageTag::parse(&key).map_err(err)?)? {
            out.push(d);
        }
    }
    Ok(out)
}

pub fn set_investigation(doc: &mut WorkDoc, tag: &PackageTag, root_cause: &str, action: &str) -> Result<bool, DocError> {
    let Some(entry) = discrepancy_obj(doc, tag)? else { return Ok(false) };
    doc.am.put(&entry, ROOT_CAUSE, root_cause).map_err(err)?;
    doc.am.put(&entry, CORRECTIVE_ACTION, action).map_err(err)?;
    Ok(true)
}

pub fn link_adjustment(doc: &mut WorkDoc, tag: &PackageTag, adjustment: Uuid) -> Result<bool, DocError> {
    let Some(entry) = discrepancy_obj(doc, tag)? else { return Ok(false) };
    doc.am.put(&entry, ADJUSTMENT, adjustment.to_string()).map_err(err)?;
    Ok(true)
}

pub fn resolve_discrepancy(doc: &mut WorkDoc, tag: &PackageTag) -> Result<bool, DocError> {
    let Some(entry) = discrepancy_obj(doc, tag)? else { return Ok(false) };
    doc.am.put(&entry, DISCREPANCY_STATUS, "resolved").map_err(err)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::work::Writer;
    use automerge::sync::State;
    use proptest::prelude::*;

    fn tag(n: u32) -> PackageTag {
        PackageTag::parse(&format!("1A4FF01000000220000{n:05}")).unwrap()
    }

    fn person(name: &str) -> Actor {
        Actor { user: UserId::new(), name: name.into(), device: DeviceId::new(), at: Utc::now() }
    }

    fn session(tags: u32) -> WorkDoc {
        let info = SessionInfo {
            name: "Concentrates".into(),
            scope: CountScope { locations: vec![LocationName::parse("Vault A").unwrap()], categories: vec![] },
            opened_by: person("Sam"),
            opened_hlc_ms: 0,
            review: Uuid::now_v7(),
        };
        let in_scope = (0..tags)
            .map(|n| {
                let unit = if n % 2 == 0 { Unit::G } else { Unit::Each };
                (tag(n), ScopedPackage { location: LocationName::parse("Vault A").unwrap(), unit, item: "Rosin".into() })
            })
            .collect();
        create_session(Uuid::now_v7(), LicenseNumber::parse("C11-1").unwrap(), Writer::Server(Uuid::now_v7()), &info, &in_scope)
    }

    fn replica(doc: &mut WorkDoc, device: DeviceId) -> WorkDoc {
        WorkDoc::load(doc.id, doc.kind, doc.facility.clone(), Writer::Person { device, user: UserId::new() }, &doc.save(), &[]).unwrap()
    }

    /// Runs the Automerge sync protocol between two replicas until neither has anything to say.
    fn sync(a: &mut WorkDoc, b: &mut WorkDoc) {
        let (mut sa, mut sb) = (State::new(), State::new());
        for _ in 0..20 {
            let ab = a.generate_message(&mut sa);
            if let Some(m) = &ab {
                b.receive_message(&mut sb, m).unwrap();
            }
            let ba = b.generate_message(&mut sb);
            if let Some(m) = &ba {
                a.receive_message(&mut sa, m).unwrap();
            }
            if ab.is_none() && ba.is_none() {
                return;
            }
        }
        panic!("sync did not settle");
    }

    fn scan(round: u8, t: &PackageTag, who: &Actor, minor: i64, correction: bool) -> ScanRecord {
        ScanRecord {
            round,
            tag: t.clone(),
            user: who.user,
            user_name: who.name.clone(),
            device: who.device,
            location: LocationName::parse("Vault A").unwrap(),
            minor,
            correction,
            at: Utc::now(),
        }
    }

    #[test]
    fn counts_from_two_phones_add_up() {
        let mut base = session(2);
        let (maria, omar) = (person("Maria"), person("Omar"));
        let mut a = replica(&mut base, maria.device);
        let mut b = replica(&mut base, omar.device);
        add(&mut a, &scan(1, &tag(0), &maria, 1_500, false), Unit::G).unwrap();
        add(&mut b, &scan(1, &tag(0), &omar, 2_250, false), Unit::G).unwrap();
        add(&mut a, &scan(1, &tag(0), &maria, 250, false), Unit::G).unwrap();
        sync(&mut a, &mut b);
        assert_eq!(total(&a, 1, &tag(0)).unwrap(), 4_000);
        assert_eq!(total(&b, 1, &tag(0)).unwrap(), 4_000);
        assert_eq!(person_total(&b, 1, maria.user, &tag(0)).unwrap(), 1_750);
        assert_eq!(entries(&b).unwrap().len(), 2);

        // Maria corrects her own count to 1.70 g; Omar's stays.
        let mine = person_total(&a, 1, maria.user, &tag(0)).unwrap();
        add(&mut a, &scan(1, &tag(0), &maria, 1_700 - mine, true), Unit::G).unwrap();
        sync(&mut a, &mut b);
        assert_eq!(person_total(&b, 1, maria.user, &tag(0)).unwrap(), 1_700);
        assert_eq!(total(&b, 1, &tag(0)).unwrap(), 3_950);
    }

    #[test]
    fn the_recount_has_its_own_counter_and_a_closed_session_reads_back() {
        let mut doc = session(3);
        let who = person("Omar");
        start_recount(&mut doc, &BTreeMap::from([(tag(1), vec![UserId::new()])])).unwrap();
        assert_eq!(status(&doc).unwrap(), SessionStatus::Recount);
        assert_eq!(round(&doc).unwrap(), 2);
        add(&mut doc, &scan(2, &tag(1), &who, 7, false), Unit::Each).unwrap();
        assert_eq!(total(&doc, 2, &tag(1)).unwrap(), 7);
        assert_eq!(recount_tags(&doc).unwrap(), vec![tag(1)]);
        close(&mut doc, &who).unwrap();
        let mut reloaded = WorkDoc::load(doc.id, doc.kind, doc.facility.clone(), Writer::Server(Uuid::now_v7()), &doc.save(), &[]).unwrap();
        assert!(reloaded.check_identity().is_ok());
        assert_eq!(status(&reloaded).unwrap(), SessionStatus::Closed);
        assert_eq!(closed_by(&reloaded).unwrap().unwrap().name, "Omar");
        assert!(!reloaded.is_empty());
    }

    #[test]
    fn minor_units_are_exact_and_compared_to_a_hundredth_of_a_gram() {
        let q = Quantity::parse("1.2345 g").unwrap();
        assert_eq!(to_minor(&q, Unit::G).unwrap(), 1_235);
        assert_eq!(to_minor(&Quantity::parse("1 oz").unwrap(), Unit::G).unwrap(), 28_350);
        assert!(to_minor(&Quantity::parse("3 each").unwrap(), Unit::G).is_err());
        assert!(same_count(1_000, 1_004, Unit::G));
        assert!(!same_count(1_000, 1_010, Unit::G));
        assert!(!same_count(3, 4, Unit::Each));
        assert_eq!(from_minor(1_500, Unit::Kg).to_string(), "1.50 g");
    }

    #[test]
    fn a_truncated_sync_message_changes_nothing() {
        let mut a = session(1);
        let who = person("Maria");
        add(&mut a, &scan(1, &tag(0), &who, 5, false), Unit::G).unwrap();
        let mut b = WorkDoc::empty(a.id, a.kind, a.facility.clone(), Writer::Server(Uuid::now_v7()));
        let message = a.generate_message(&mut State::new()).unwrap();
        let err = b.receive_message(&mut State::new(), &message[..message.len() / 2]).unwrap_err();
        assert!(err.to_string().contains("truncated or corrupted"), "{err}");
        assert!(b.is_empty());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Scan { replica: usize, person: usize, tag: u32, minor: i64 },
        Correct { replica: usize, person: usize, tag: u32, to: i64 },
        Sync { a: usize, b: usize },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            5 => (0..3usize, 0..3usize, 0..4u32, 1..5_000i64).prop_map(|(replica, person, tag, minor)| Op::Scan { replica, person, tag, minor }),
            1 => (0..3usize, 0..3usize, 0..4u32, 0..5_000i64).prop_map(|(replica, person, tag, to)| Op::Correct { replica, person, tag, to }),
            2 => (0..3usize, 0..3usize).prop_map(|(a, b)| Op::Sync { a, b }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        /// Random interleavings of count entries from several phones, synced in random pairs:
        /// every replica ends with the same totals, equal to the sum of everything added, and
        /// each total equals the sum of the entries behind it.
        #[test]
        fn count_entries_merge_to_the_same_totals(ops in prop::collection::vec(op(), 1..60)) {
            let mut base = session(4);
            let people: Vec<UserId> = (0..3).map(|_| UserId::new()).collect();
            let devices: Vec<DeviceId> = (0..3).map(|_| DeviceId::new()).collect();
            let mut replicas: Vec<WorkDoc> = devices.iter().map(|d| replica(&mut base, *d)).collect();
            let mut added = [0i64; 4];
            for op in &ops {
                match *op {
                    Op::Scan { replica: r, person, tag: t, minor } => {
                        let who = Actor { user: people[person], name: format!("P{person}"), device: devices[r], at: Utc::now() };
                        let unit = if t % 2 == 0 { Unit::G } else { Unit::Each };
                        add(&mut replicas[r], &scan(1, &tag(t), &who, minor, false), unit).unwrap();
                        added[t as usize] += minor;
                    }
                    Op::Correct { replica: r, person, tag: t, to } => {
                        let who = Actor { user: people[person], name: format!("P{person}"), device: devices[r], at: Utc::now() };
                        let unit = if t % 2 == 0 { Unit::G } else { Unit::Each };
                        let mine = person_total(&replicas[r], 1, who.user, &tag(t)).unwrap();
                        add(&mut replicas[r], &scan(1, &tag(t), &who, to - mine, true), unit).unwrap();
                        added[t as usize] += to - mine;
                    }
                    Op::Sync { a, b } if a != b => {
                        let (lo, hi) = (a.min(b), a.max(b));
                        let (left, right) = replicas.split_at_mut(hi);
                        sync(&mut left[lo], &mut right[0]);
                    }
                    Op::Sync { .. } => {}
                }
            }
            // Everyone syncs with everyone.
            for (a, b) in [(0, 1), (1, 2), (0, 2), (0, 1)] {
                let (left, right) = replicas.split_at_mut(b);
                sync(&mut left[a], &mut right[0]);
            }
            for t in 0..4u32 {
                let totals: Vec<i64> = replicas.iter().map(|r| total(r, 1, &tag(t)).unwrap()).collect();
                prop_assert!(totals.iter().all(|x| *x == totals[0]), "totals differ: {totals:?}");
                prop_assert_eq!(totals[0], added[t as usize]);
                let from_entries: i64 = entries(&replicas[0]).unwrap().iter().filter(|e| e.tag == tag(t)).map(|e| e.minor).sum();
                prop_assert_eq!(from_entries, totals[0]);
            }
            prop_assert_eq!(entries(&replicas[0]).unwrap(), entries(&replicas[2]).unwrap());
        }
    }
}
