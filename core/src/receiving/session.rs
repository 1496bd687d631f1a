//! The receiving session on a phone: open it for a manifest, scan tags against it (several
//! phones at once, offline), and see what is matched, unexpected, scanned twice and missing.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::manifest::{InboundManifest, ManifestError};
use crate::event::{Event, EventBody, ReceivedVia};
use crate::ids::{LocationName, PackageTag};
use crate::people::Actor;
use crate::quantity::Quantity;
use crate::roles::Role;
use crate::scan::{Scan, ScanError, parse_scan};
use crate::store::{StoreError, UnitOfWork};
use crate::text;
use crate::work::receiving::{self as doc, Coa, Inspection, LabelScan, PackageDecision, ReceivingScan, RejectReason, Weighing};
use crate::work::{DocError, DocKind};

#[derive(Debug, thiserror::Error)]
pub enum ReceivingError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("{0}")]
    Scan(#[from] ScanError),
    #[error("that is not a package tag; scan the package's Metrc tag")]
    NotATag,
    #[error("there is no receiving session {0} on this device; sync, or open it for the manifest")]
    UnknownSession(Uuid),
    #[error("{role} may not receive packages")]
    NotAllowed { role: Role },
    #[error("manifest {0} is already being received on this device")]
    AlreadyOpen(String),
    #[error("this receiving session is completed")]
    Completed,
    #[error("{tag} is not on this manifest and was not scanned here")]
    NotInSession { tag: PackageTag },
    #[error(
        "scale {0:?} is not one of this facility's scales; choose a listed scale (sync to get the latest list) or type the weight by hand"
    )]
    UnknownScale(String),
    #[error(
        "scale {name} was due for calibration on {due} and may not be used until it is calibrated; choose another scale or type the weight by hand"
    )]
    ScaleOutOfCalibration { name: String, due: NaiveDate },
    #[error("a weight must be in mg, g, kg, oz or lb and more than zero")]
    BadWeight,
    #[error("{weight} is finer than the 0.01 g receiving weighs to; enter the weight to two decimals of a gram")]
    FinerThanAHundredth { weight: String },
    #[error("{tag} is not on the manifest, so it can only be rejected")]
    AcceptUnexpected { tag: PackageTag },
    #[error("{tag} failed its checks ({why}); only a manager may accept it, with a note")]
    NeedsOverride { tag: PackageTag, why: String },
    #[error("the session cannot be completed yet: {}", .0.join("; "))]
    Unresolved(Vec<String>),
    #[error("say why: a reason is needed")]
    NoReason,
    #[error(
        "{tag} has no production batch number on the manifest, and a package cannot enter stock without one; reject it, or ask the shipper for a corrected manifest"
    )]
    NoBatch { tag: PackageTag },
    #[error(transparent)]
    Quantity(#[from] crate::quantity::QuantityError),
    #[error(transparent)]
    Text(#[from] crate::text::TextError),
    #[error(transparent)]
    Bound(#[from] crate::bounds::BoundError),
    #[error(transparent)]
    Id(#[from] crate::ids::IdError),
    #[error(
        "manifest {0} is not in this facility's inbox from the state system; sync and pick it from the inbox again, or import the manifest file"
    )]
    NotInInbox(String),
    #[error("that is not a product label; scan the GS1 barcode on the package")]
    NotALabel,
    #[error("this label carries neither a batch nor an expiry, so there is nothing to check against the manifest")]
    LabelWithoutFacts,
    #[error("{tag} is not on this manifest, so its label cannot be checked against it")]
    LabelNotOnManifest { tag: PackageTag },
    #[error("this receiving session was opened before label checks existed; finish it without them, or open the manifest again")]
    NoLabelChecks,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<DocError> for ReceivingError {
    fn from(e: DocError) -> Self {
        ReceivingError::Store(StoreError::Doc(e))
    }
}

pub type Result<T, E = ReceivingError> = std::result::Result<T, E>;

/// The answer to one scan, for the green or red panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceivingVerdict {
    /// On the manifest and not scanned before: green.
    Matched { tag: PackageTag, item: String },
    /// Not on this manifest: red, set it aside (recorded so the session lists it).
    Unexpected { tag: PackageTag },
    /// Already scanned: red, with who and when.
    Duplicate { tag: PackageTag, by: String, at: DateTime<Utc> },
}

impl ReceivingVerdict {
    /// The sentence the phone shows.
    pub fn message(&self) -> String {
        match self {
            ReceivingVerdict::Matched { tag, item } => format!("{tag}: {item}"),
            ReceivingVerdict::Unexpected { tag } => format!("{tag} is not on this manifest; set it aside"),
            ReceivingVerdict::Duplicate { tag, by, at } => {
                format!("{tag} was already scanned by {by} at {}", at.format("%H:%M"))
            }
        }
    }
}

/// Where a session stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivingProgress {
    pub manifest: InboundManifest,
    pub matched: Vec<PackageTag>,
    pub unexpected: Vec<PackageTag>,
    /// Scanned more than once (on one phone or several), with every scan.
    pub scanned_twice: BTreeMap<PackageTag, Vec<ReceivingScan>>,
    pub missing: Vec<PackageTag>,
}

/// Imports a manifest file (refused if addressed to another licence) and opens its session.
pub fn open_receiving(w: &mut UnitOfWork<'_>, manifest_json: &str) -> Result<Uuid> {
    receiver(w)?;
    let identity = w.identity()?;
    let manifest = InboundManifest::import(manifest_json, &identity.facility, w.facility_time_zone()?)?;
    open_manifest(w, manifest)
}

/// Opens the session of a manifest already read (from a file, or the state's inbox), for a
/// person who may receive. Checked in the transaction that opens it: two taps cannot open it
/// twice.
pub(crate) fn open_manifest(w: &mut UnitOfWork<'_>, manifest: InboundManifest) -> Result<Uuid> {
    receiver(w)?;
    let identity = w.identity()?;
    for info in w.docs(Some(DocKind::Receiving))? {
        let number = w.read::<_, ReceivingError>(info.id, |d| Ok(doc::manifest(d)?.manifest_number))?;
        if number.as_deref() == Some(manifest.manifest_number.as_str()) {
            return Err(ReceivingError::AlreadyOpen(manifest.manifest_number));
        }
    }
    let id = Uuid::now_v7();
    w.create(doc::create(id, identity.facility, w.writer()?, &manifest));
    Ok(id)
}

/// A certificate's facts within the rules for anything typed or shown (typed, or from the state).
pub(crate) fn check_coa(coa: &Coa) -> Result<()> {
    coa.batch.check()?;
    text::required(text::organisation("lab's name"), &coa.lab)?;
    crate::bounds::check_percent("THC percentage", coa.thc_percent)?;
    Ok(())
}

/// Scans a package against the manifest: matched, unexpected or already scanned.
pub fn receiving_scan(w: &mut UnitOfWork<'_>, session: Uuid, raw: &str, at: &LocationName) -> Result<ReceivingVerdict> {
    let user = receiver(w)?;
    let Scan::Package(tag) = parse_scan(raw)? else { return Err(ReceivingError::NotATag) };
    at.check()?;
    let (_, actor) = w.actor()?;
    let d = w.doc(session)?.ok_or(ReceivingError::UnknownSession(session))?;
    if doc::completed(d)? {
        return Err(ReceivingError::Completed);
    }
    if let Some(first) = doc::first_scan(d, &tag)? {
        return Ok(ReceivingVerdict::Duplicate { tag, by: first.user_name, at: first.at });
    }
    let on = doc::manifest_item(d, &tag)?;
    let scan = ReceivingScan {
        tag: tag.clone(),
        user: user.id,
        user_name: user.name.clone(),
        device: actor.device,
        at: actor.at,
        location: at.clone(),
        on_manifest: on.is_some(),
    };
    doc::record(d, &scan)?;
    Ok(match on {
        Some(item) => ReceivingVerdict::Matched { tag, item },
        None => ReceivingVerdict::Unexpected { tag },
    })
}

/// What is matched, unexpected, scanned twice and still missing, as this phone knows it.
pub fn receiving_progress(w: &mut UnitOfWork<'_>, session: Uuid) -> Result<ReceivingProgress> {
    w.read::<_, ReceivingError>(session, |d| {
        let manifest = doc::manifest(d)?;
        let scans = doc::scans(d)?;
        let mut progress = ReceivingProgress {
            matched: Vec::new(),
            unexpected: Vec::new(),
            scanned_twice: BTreeMap::new(),
            missing: Vec::new(),
            manifest,
        };
        for (tag, list) in &scans {
            if progress.manifest.package(tag).is_some() {
                progress.matched.push(tag.clone());
            } else {
                progress.unexpected.push(tag.clone());
            }
            if list.len() > 1 {
                progress.scanned_twice.insert(tag.clone(), list.clone());
            }
        }
        progress.missing = progress.manifest.packages.iter().map(|p| p.tag.clone()).filter(|t| !scans.contains_key(t)).collect();
        Ok(progress)
    })?
    .ok_or(ReceivingError::UnknownSession(session))
}

pub use crate::settings::Scale;

/// The facility's settings receiving reads (from the server's settings, `crate::settings`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivingSettings {
    /// How far the certificate's THC potency may differ from the manifest, in percentage points.
    pub potency_tolerance: Decimal,
    pub scales: Vec<Scale>,
}

impl Default for ReceivingSettings {
    fn default() -> Self {
        Self { potency_tolerance: crate::settings::DEFAULT_POTENCY_TOLERANCE, scales: Vec::new() }
    }
}

/// Why a package must not be accepted without a manager's override.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flag {
    NoCoa {
        batch: String,
    },
    /// The manifest gives no production batch number, so no certificate can be matched to it.
    NoBatch,
    /// The manifest gives no lab testing state.
    NoLabState,
    /// A lab testing state Custody does not know, as the state wrote it.
    UnknownLabState {
        word: String,
    },
    TestFailed,
    CoaExpired {
        on: NaiveDate,
    },
    PotencyMismatch {
        manifest: Decimal,
        coa: Decimal,
    },
    PackageExpired {
        on: NaiveDate,
    },
    /// The GS1 label on the package carries another batch than the manifest.
    LabelBatch {
        label: String,
        manifest: String,
    },
    /// The GS1 label on the package carries another expiry than the manifest.
    LabelExpiry {
        label: NaiveDate,
        manifest: NaiveDate,
    },
}

impl std::fmt::Display for Flag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Flag::NoCoa { batch } => write!(f, "no certificate of analysis for batch {batch}"),
            Flag::NoBatch => write!(f, "the manifest gives no production batch number, so no certificate of analysis can be matched"),
            Flag::NoLabState => write!(f, "the manifest gives no lab testing state"),
            Flag::UnknownLabState { word } => write!(f, "the state reports lab testing state \"{word}\", which Custody does not know"),
            Flag::TestFailed => write!(f, "the lab test failed"),
            Flag::CoaExpired { on } => write!(f, "the certificate of analysis expired on {on}"),
            Flag::PotencyMismatch { manifest, coa } => {
                write!(f, "THC {manifest}% on the manifest but {coa}% on the certificate")
            }
            Flag::PackageExpired { on } => write!(f, "expired on {on}"),
            Flag::LabelBatch { label, manifest } => {
                write!(f, "the label says batch {label} but the manifest says batch {manifest}")
            }
            Flag::LabelExpiry { label, manifest } => {
                write!(f, "the label says it expires on {label} but the manifest says {manifest}")
            }
        }
    }
}

/// A problem that stops the session from completing until it is dealt with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceivingDiscrepancy {
    /// Not scanned and not rejected.
    Missing(PackageTag),
    /// Scanned but not decided.
    Undecided(PackageTag),
    /// An accepted weighed package without a weight.
    NotWeighed(PackageTag),
    /// The accepted packages' weight differs from the manifest by at least 0.01 g.
    Weight { manifest: Quantity, received: Quantity, reason: Option<String> },
}

impl ReceivingDiscrepancy {
    pub fn resolved(&self) -> bool {
        matches!(self, ReceivingDiscrepancy::Weight { reason: Some(_), .. })
    }
}

impl std::fmt::Display for ReceivingDiscrepancy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReceivingDiscrepancy::Missing(t) => write!(f, "{t} is missing: reject it as short"),
            ReceivingDiscrepancy::Undecided(t) => write!(f, "{t} is neither accepted nor rejected"),
            ReceivingDiscrepancy::NotWeighed(t) => write!(f, "{t} was accepted but not weighed"),
            ReceivingDiscrepancy::Weight { manifest, received, reason } => {
                write!(f, "received {received} against {manifest} on the manifest")?;
                match reason {
                    Some(r) => write!(f, " ({r})"),
                    None => write!(f, "; record the reason"),
                }
            }
        }
    }
}

/// The facility's receiving settings (potency tolerance, scales) as the server last sent them,
/// core's defaults before then; as of the unit of work.
pub fn receiving_settings(w: &mut UnitOfWork<'_>) -> Result<ReceivingSettings> {
    let s = crate::store::facility_settings::facility_settings(w)?;
    Ok(ReceivingSettings { potency_tolerance: s.potency_tolerance, scales: s.scales })
}

/// The signed-in person (if they may receive) and who is doing it (this device, the corrected
/// clock), for a step on an open session.
fn receiving_step(w: &mut UnitOfWork<'_>, session: Uuid) -> Result<(crate::store::SignedInUser, Actor)> {
    let user = receiver(w)?;
    let (_, actor) = w.actor()?;
    open_session(w, session)?;
    Ok((user, actor))
}

/// Records the certificate of analysis of a batch.
pub fn record_coa(w: &mut UnitOfWork<'_>, session: Uuid, coa: Coa) -> Result<()> {
    check_coa(&coa)?;
    receiving_step(w, session)?;
    Ok(doc::put_coa(open_session(w, session)?, &coa)?)
}

/// Records that a package was physically inspected (the sample).
pub fn mark_inspected(w: &mut UnitOfWork<'_>, session: Uuid, raw: &str, note: &str) -> Result<()> {
    let Scan::Package(tag) = parse_scan(raw)? else { return Err(ReceivingError::NotATag) };
    let note = text::clean(text::note("inspection note"), note)?;
    let (user, actor) = receiving_step(w, session)?;
    let d = open_session(w, session)?;
    known_here(d, &tag)?;
    let i = Inspection { tag, note, by: user.name.clone(), device: actor.device, at: actor.at };
    Ok(doc::put_inspection(d, &i)?)
}

/// Reads the GS1 label on a package (scanned after its tag) and checks its batch and expiry
/// against the manifest's. The read is kept in the session, so a mismatch stays a flag on the
/// package (on every phone) until a manager decides it. Returns the mismatches, empty when the
/// label agrees.
pub fn receiving_label(w: &mut UnitOfWork<'_>, session: Uuid, raw_tag: &str, raw_label: &str) -> Result<Vec<Flag>> {
    let Scan::Package(tag) = parse_scan(raw_tag)? else { return Err(ReceivingError::NotATag) };
    let Scan::Gs1(label) = parse_scan(raw_label)? else { return Err(ReceivingError::NotALabel) };
    let batch = label.batch_number()?;
    if batch.is_none() && label.expiry.is_none() {
        return Err(ReceivingError::LabelWithoutFacts);
    }
    let (user, actor) = receiving_step(w, session)?;
    let d = open_session(w, session)?;
    let Some(package) = doc::manifest(d)?.package(&tag).cloned() else { return Err(ReceivingError::LabelNotOnManifest { tag }) };
    if !doc::takes_labels(d) {
        return Err(ReceivingError::NoLabelChecks);
    }
    let read = LabelScan { tag, batch, expiry: label.expiry, by: user.name.clone(), device: actor.device, at: actor.at };
    doc::put_label(d, &read)?;
    Ok(label_flags(&package, std::slice::from_ref(&read)))
}

/// Records a package's weight from a named scale of the facility's (refused past its calibration
/// due date, on the phone's corrected clock), or typed by hand (`scale: None`), which is marked
/// as such. The apps type by hand through [`record_weight_by_hand`], which asks why.
pub fn record_weight(w: &mut UnitOfWork<'_>, session: Uuid, raw: &str, weight: Quantity, scale: Option<&str>) -> Result<()> {
    weigh(w, session, raw, weight, scale, None)
}

/// Records a weight typed by hand, with the reason no scale was used.
pub fn record_weight_by_hand(w: &mut UnitOfWork<'_>, session: Uuid, raw: &str, weight: Quantity, reason: &str) -> Result<()> {
    if reason.trim().is_empty() {
        return Err(ReceivingError::NoReason);
    }
    let reason = text::clean_required(text::reason("reason"), reason)?;
    weigh(w, session, raw, weight, None, Some(reason))
}

fn weigh(w: &mut UnitOfWork<'_>, session: Uuid, raw: &str, weight: Quantity, scale: Option<&str>, reason: Option<String>) -> Result<()> {
    let Scan::Package(tag) = parse_scan(raw)? else { return Err(ReceivingError::NotATag) };
    if !weight.unit.is_weight() || weight.is_negative() || weight.is_zero() {
        return Err(ReceivingError::BadWeight);
    }
    let weight = weight.checked()?;
    // Receiving weighs to the hundredth of a gram the manifest is compared to: a finer figure
    // is a typing slip (or a scale set wrongly), not a more exact weight. Metric only: an
    // ounce is no whole number of hundredths of a gram.
    let metric = matches!(weight.unit, crate::quantity::Unit::G | crate::quantity::Unit::Mg | crate::quantity::Unit::Kg);
    if metric && weight.grams()?.is_some_and(|g| g.normalize().scale() > 2) {
        return Err(ReceivingError::FinerThanAHundredth { weight: weight.plain() });
    }
    let (_, actor) = w.actor()?;
    if let Some(name) = scale {
        let settings = receiving_settings(w)?;
        let s = settings.scales.iter().find(|s| s.name == name).ok_or_else(|| ReceivingError::UnknownScale(name.into()))?;
        if !s.usable_on(actor.at.date_naive()) {
            return Err(ReceivingError::ScaleOutOfCalibration { name: s.name.clone(), due: s.calibration_due });
        }
    }
    let user = receiver(w)?;
    let d = open_session(w, session)?;
    known_here(d, &tag)?;
    let seq = doc::next_weighing_seq(d, &tag)?;
    let weighing =
        Weighing { tag, weight, scale: scale.map(str::to_string), reason, by: user.name.clone(), device: actor.device, at: actor.at, seq };
    Ok(doc::put_weighing(d, &weighing)?)
}

/// The checks of each manifest package against its batch's certificate, as of the unit of work.
pub fn package_flags(w: &mut UnitOfWork<'_>, session: Uuid) -> Result<BTreeMap<PackageTag, Vec<Flag>>> {
    let tolerance = receiving_settings(w)?.potency_tolerance;
    let today = w.now()?.date_naive();
    w.read::<_, ReceivingError>(session, |d| {
        let (manifest, coas, labels) = (doc::manifest(d)?, doc::coas(d)?, doc::labels(d)?);
        Ok(manifest
            .packages
            .iter()
            .map(|p| {
                let mut out = flags(p, &coas, tolerance, today);
                out.extend(label_flags(p, labels.get(&p.tag).map_or(&[][..], Vec::as_slice)));
                (p.tag.clone(), out)
            })
            .collect())
    })?
    .ok_or(ReceivingError::UnknownSession(session))
}

/// Accepts (`reject: None`) or rejects a package. A package whose checks failed may be
/// accepted only by a manager, with a note; a package not on the manifest only rejected.
pub fn decide_package(w: &mut UnitOfWork<'_>, session: Uuid, raw: &str, reject: Option<RejectReason>, note: &str) -> Result<()> {
    let Scan::Package(tag) = parse_scan(raw)? else { return Err(ReceivingError::NotATag) };
    let note = text::clean(text::note("note"), note)?;
    // The checks the decision rests on (certificates, settings) as of the transaction
    // that records it: a certificate synced in between cannot be missed.
    let flagged = package_flags(w, session)?.remove(&tag).unwrap_or_default();
    let user = receiver(w)?;
    let (_, actor) = w.actor()?;
    let d = open_session(w, session)?;
    known_here(d, &tag)?;
    let on_manifest = doc::manifest_item(d, &tag)?.is_some();
    let mut override_note = None;
    if reject.is_none() {
        if !on_manifest {
            return Err(ReceivingError::AcceptUnexpected { tag });
        }
        // No override can give a package a batch: the ledger needs one for every package.
        if doc::manifest(d)?.package(&tag).is_some_and(|p| p.production_batch_number.is_none()) {
            return Err(ReceivingError::NoBatch { tag });
        }
        if !flagged.is_empty() {
            let why = flagged.iter().map(|f| f.to_string()).collect::<Vec<_>>().join(", ");
            if user.role != Role::Manager || note.trim().is_empty() {
                return Err(ReceivingError::NeedsOverride { tag, why });
            }
            override_note = Some(format!("accepted despite: {why}"));
        }
    } else if note.trim().is_empty() && reject != Some(RejectReason::NotOnManifest) {
        return Err(ReceivingError::NoReason);
    }
    let seq = doc::next_decision_seq(d, &tag)?;
    let decision =
        PackageDecision { tag, reject, override_note, note, by: user.name.clone(), user: user.id, device: actor.device, at: actor.at, seq };
    Ok(doc::put_decision(d, &decision)?)
}

/// Records why the received weight differs from the manifest.
pub fn explain_weight_difference(w: &mut UnitOfWork<'_>, session: Uuid, reason: &str) -> Result<()> {
    if reason.trim().is_empty() {
        return Err(ReceivingError::NoReason);
    }
    let reason = text::clean_required(text::reason("reason"), reason)?;
    receiving_step(w, session)?;
    Ok(doc::set_weight_reason(open_session(w, session)?, &reason)?)
}

/// What stands between the session and its completion.
pub fn receiving_discrepancies(w: &mut UnitOfWork<'_>, session: Uuid) -> Result<Vec<ReceivingDiscrepancy>> {
    w.read::<_, ReceivingError>(session, discrepancies)?.ok_or(ReceivingError::UnknownSession(session))
}

/// Completes the session: accepted packages enter the ledger at `intake` (with item, batch,
/// expiry and the weighed quantity), rejected ones stay recorded in the session, and the task
/// "accept manifest N in the state system" opens. Refused while anything is unresolved.
pub fn complete_receiving(w: &mut UnitOfWork<'_>, session: Uuid, intake: &LocationName) -> Result<Vec<Event>> {
    receiving_step(w, session)?;
    let d = open_session(w, session)?;
    let open: Vec<String> = discrepancies(d)?.iter().filter(|x| !x.resolved()).map(|x| x.to_string()).collect();
    if !open.is_empty() {
        return Err(ReceivingError::Unresolved(open));
    }
    let manifest = doc::manifest(d)?;
    let weights = doc::weighings(d)?;
    let accepted: Vec<PackageTag> = doc::decisions(d)?.into_values().filter(|x| x.reject.is_none()).map(|x| x.tag).collect();
    doc::complete(d)?;
    let mut events = Vec::new();
    for tag in accepted {
        let Some(p) = manifest.package(&tag) else { continue };
        let quantity = match weights.get(&tag) {
            Some(weighing) if p.unit.is_weight() => weighing.weight.convert(p.unit)?,
            _ => p.quantity()?,
        };
        events.push(w.record(
            &tag,
            EventBody::Received {
                item: p.item_name.clone(),
                batch: p.production_batch_number.clone().ok_or_else(|| ReceivingError::NoBatch { tag: tag.clone() })?,
                quantity,
                location: intake.clone(),
                expires_on: p.expiration_date,
                manifest: Some(manifest.manifest_number.clone()),
                // The proof the server checks: this session's document lists it as accepted.
                via: Some(ReceivedVia::Receiving { session }),
            },
        )?);
    }
    Ok(events)
}

/// A receiving session on this device, for the list a receiver picks from (one opened on
/// another phone arrives with the sync).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ReceivingSessionSummary {
    pub id: Uuid,
    pub manifest_number: String,
    pub shipper_name: String,
    pub packages: u64,
    pub completed: bool,
}

/// Every receiving session on this device: open ones first, then by manifest number.
pub fn receiving_sessions(w: &mut UnitOfWork<'_>) -> Result<Vec<ReceivingSessionSummary>> {
    let mut out = Vec::new();
    for info in w.docs(Some(DocKind::Receiving))? {
        let summary = w.read::<_, ReceivingError>(info.id, |d| {
            let manifest = doc::manifest(d)?;
            Ok(ReceivingSessionSummary {
                id: info.id,
                packages: manifest.packages.len() as u64,
                manifest_number: manifest.manifest_number,
                shipper_name: manifest.shipper_name,
                completed: doc::completed(d)?,
            })
        })?;
        out.extend(summary);
    }
    out.sort_by(|a, b| (a.completed, &a.manifest_number).cmp(&(b.completed, &b.manifest_number)));
    Ok(out)
}

/// Completed sessions whose manifest still has to be accepted in the state system.
pub fn open_state_tasks(w: &mut UnitOfWork<'_>) -> Result<Vec<(Uuid, String)>> {
    let mut out = Vec::new();
    for info in w.docs(Some(DocKind::Receiving))? {
        let task = w.read::<_, ReceivingError>(info.id, |d| Ok((doc::state_task_open(d)?, doc::manifest(d)?.manifest_number)))?;
        if let Some((Some(true), number)) = task {
            out.push((info.id, format!("accept manifest {number} in the state system")));
        }
    }
    Ok(out)
}

/// Confirms the manifest was accepted in the state system (closes the task).
pub fn confirm_state_acceptance(w: &mut UnitOfWork<'_>, session: Uuid) -> Result<()> {
    receiver(w)?;
    let d = w.doc(session)?.ok_or(ReceivingError::UnknownSession(session))?;
    Ok(doc::confirm_state_task(d)?)
}

/// The signed-in person, if they may receive.
pub(crate) fn receiver(w: &UnitOfWork<'_>) -> Result<crate::store::SignedInUser> {
    let user = w.user()?;
    if !DocKind::Receiving.may_create(user.role) {
        return Err(ReceivingError::NotAllowed { role: user.role });
    }
    Ok(user)
}

/// The session, loaded for change; refused once it is completed.
fn open_session<'w>(w: &'w mut UnitOfWork<'_>, session: Uuid) -> Result<&'w mut crate::work::WorkDoc> {
    let d = w.doc(session)?.ok_or(ReceivingError::UnknownSession(session))?;
    if doc::completed(d)? {
        return Err(ReceivingError::Completed);
    }
    Ok(d)
}

/// A package may be weighed, inspected or decided only if it is on the manifest or was scanned.
fn known_here(d: &crate::work::WorkDoc, tag: &PackageTag) -> Result<()> {
    if doc::manifest_item(d, tag)?.is_some() || doc::first_scan(d, tag)?.is_some() {
        Ok(())
    } else {
        Err(ReceivingError::NotInSession { tag: tag.clone() })
    }
}

fn flags(p: &super::manifest::ManifestPackage, coas: &BTreeMap<String, Coa>, tolerance: Decimal, today: NaiveDate) -> Vec<Flag> {
    use super::manifest::LabTestingState;
    let mut out = Vec::new();
    match &p.lab_testing_state {
        Some(LabTestingState::TestFailed) => out.push(Flag::TestFailed),
        Some(LabTestingState::Unknown(word)) => out.push(Flag::UnknownLabState { word: word.clone() }),
        Some(_) => {}
        None => out.push(Flag::NoLabState),
    }
    if p.expiration_date.is_some_and(|on| on < today) {
        out.push(Flag::PackageExpired { on: p.expiration_date.unwrap_or(today) });
    }
    let Some(batch) = &p.production_batch_number else {
        out.push(Flag::NoBatch);
        return out;
    };
    match coas.get(batch.as_str()) {
        None => out.push(Flag::NoCoa { batch: batch.to_string() }),
        Some(coa) => {
            if !coa.passed && !out.contains(&Flag::TestFailed) {
                out.push(Flag::TestFailed);
            }
            if coa.expires_on < today {
                out.push(Flag::CoaExpired { on: coa.expires_on });
            }
            if let Some(thc) = p.thc_percent
                && (thc - coa.thc_percent).abs() > tolerance
            {
                out.push(Flag::PotencyMismatch { manifest: thc, coa: coa.thc_percent });
            }
        }
    }
    out
}

/// Where the labels read on a package disagree with its manifest line: each difference once.
/// A fact the manifest does not give cannot disagree (a missing batch is its own flag).
fn label_flags(p: &super::manifest::ManifestPackage, reads: &[LabelScan]) -> Vec<Flag> {
    let mut out = Vec::new();
    for read in reads {
        let batch = match (&read.batch, &p.production_batch_number) {
            (Some(label), Some(manifest)) if label != manifest => {
                Some(Flag::LabelBatch { label: label.to_string(), manifest: manifest.to_string() })
            }
            _ => None,
        };
        let expiry = match (read.expiry, p.expiration_date) {
            (Some(label), Some(manifest)) if label != manifest => Some(Flag::LabelExpiry { label, manifest }),
            _ => None,
        };
        for flag in batch.into_iter().chain(expiry) {
            if !out.contains(&flag) {
                out.push(flag);
            }
        }
    }
    out
}

fn discrepancies(d: &crate::work::WorkDoc) -> Result<Vec<ReceivingDiscrepancy>> {
    let manifest = doc::manifest(d)?;
    let scans = doc::scans(d)?;
    let decisions = doc::decisions(d)?;
    let weights = doc::weighings(d)?;
    let mut out = Vec::new();
    for p in &manifest.packages {
        match decisions.get(&p.tag) {
            None if !scans.contains_key(&p.tag) => out.push(ReceivingDiscrepancy::Missing(p.tag.clone())),
            None => out.push(ReceivingDiscrepancy::Undecided(p.tag.clone())),
            Some(x) if x.reject.is_none() && p.unit.is_weight() && !weights.contains_key(&p.tag) => {
                out.push(ReceivingDiscrepancy::NotWeighed(p.tag.clone()))
            }
            Some(_) => {}
        }
    }
    for tag in scans.keys().filter(|t| manifest.package(t).is_none() && !decisions.contains_key(*t)) {
        out.push(ReceivingDiscrepancy::Undecided(tag.clone()));
    }
    // Weight: the accepted weighed packages, against what the manifest declared for them.
    // Checked sums: a weight written by another phone is not trusted to be within the bounds.
    let (mut declared, mut received) = (Decimal::ZERO, Decimal::ZERO);
    for (tag, x) in &decisions {
        let (Some(p), Some(w)) = (manifest.package(tag), weights.get(tag)) else { continue };
        if x.reject.is_none() {
            let add = |sum: Decimal, q: Quantity| -> Result<Decimal> {
                let g = q.grams()?.unwrap_or_default();
                sum.checked_add(g).ok_or_else(|| crate::quantity::QuantityError::Overflow(q.plain()).into())
            };
            declared = add(declared, p.quantity()?)?;
            received = add(received, w.weight)?;
        }
    }
    let (declared, received) = (gram(declared), gram(received));
    if !declared.same_as(&received) {
        out.push(ReceivingDiscrepancy::Weight { manifest: declared, received, reason: doc::weight_reason(d)? });
    }
    Ok(out)
}

fn gram(g: Decimal) -> Quantity {
    Quantity { amount: g, unit: crate::quantity::Unit::G }
}
