//! The records and enums the apps see, and their conversions from and to custody-core's types.
//!
//! Conventions (the same in Kotlin and Swift):
//! - decimal amounts are strings as core formats them (`"12.50"`), with a [`UnitOfMeasure`];
//! - instants are `SystemTime` (Kotlin `java.time.Instant`, Swift `Date`), UTC;
//! - calendar dates (expiry) are ISO `YYYY-MM-DD` strings;
//! - ids (events, devices, users, sessions, requests) are UUID strings; tags, licences, items,
//!   batches and locations are strings, checked by core when they come in.
//!
//! Records that hold only core's values derive in core (`Package`, `PackageFacts`, `Quantity`,
//! ...). What is here is a view assembled from several core values or an input whose sentence
//! names the field; outputs hold core's typed ids, tags, dates and instants (custom types in
//! `custody_core::ffi`, strings and instants to the apps), so they convert nothing.

use std::collections::HashMap;

use custody_core::ffi::{IsoDate, Timestamp};
use custody_core::ids::{LocationName, PackageTag, UserId};
use custody_core::receiving::session;
use custody_core::{counts, ids, input, scan, sync, work};
use uuid::Uuid;

use crate::error::CustodyError;

// ---- core's own records and enums (derived in core, feature `uniffi`) ----------------------

pub use custody_core::approvals::{AdjustmentView as AdjustmentRequest, PendingApprovalView as PendingApproval};
pub use custody_core::conflicts::ConflictLine;
pub use custody_core::counts::{
    CloseOutcomeView as CloseOutcome, CountEntryView as CountEntry, CountSessionSummary, CountSessionView as CountSession,
    DiscrepancyView as Discrepancy, InvestigationLine, InvestigationView as Investigation, ScanResult as CountScanResult,
    ScopedPackageView as ScopedPackage, VarianceLineView as VarianceLine,
};
pub use custody_core::event::{EventKind, Resolution};
pub use custody_core::event_view::{EventBody, LedgerEvent};
pub use custody_core::fold::{Conflict, ConflictKind, ConflictResolution, PackageFacts, PackageStatus};
pub use custody_core::people::{Actor as Person, SignedInUser};
pub use custody_core::protocol::EnrolmentCode;
pub use custody_core::quantity::Unit as UnitOfMeasure;
pub use custody_core::receiving::session::ReceivingSessionSummary;
pub use custody_core::roles::Role;
pub use custody_core::store::{DeviceIdentity, EventState, HistoryEntry, PackageView as Package, SyncStatus};
pub use custody_core::work::adjustment::{AdjustmentReason, AdjustmentStatus, Decision, Refusal};
pub use custody_core::work::count::{CountScope, DiscrepancyStatus, Outcome as VarianceOutcome, SessionStatus as CountStatus};
pub use custody_core::work::receiving::RejectReason;

// ---- helpers ---------------------------------------------------------------------------------

/// A UUID the app got from this library, coming back in.
pub(crate) fn id_in(what: &str, raw: &str) -> Result<Uuid, CustodyError> {
    Ok(input::id(what, raw)?)
}

pub(crate) fn tag_in(raw: &str) -> Result<ids::PackageTag, CustodyError> {
    Ok(ids::PackageTag::parse(raw)?)
}

pub(crate) fn location_in(raw: &str) -> Result<ids::LocationName, CustodyError> {
    Ok(ids::LocationName::parse(raw)?)
}

// ---- quantities ------------------------------------------------------------------------------

/// An exact amount with its unit; crosses as `custody_core::ffi::QuantityText` (amount as a
/// decimal string), checked by core as it comes in.
pub use custody_core::Quantity;

// ---- people, devices, sync -------------------------------------------------------------------

/// A person on the facility's roster, as the last sync brought it (no PIN, no key material).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RosterPerson {
    pub id: UserId,
    pub name: String,
    pub role: Role,
    pub badge: String,
    pub active: bool,
    /// They signed in on this phone before, so it can sign them in offline with their PIN.
    pub signs_in_here: bool,
}

/// A work-document change the server refused.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DocRefusal {
    pub doc_id: Uuid,
    pub reason: String,
}

/// What one `sync_now` did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncReport {
    pub round_trips: u32,
    pub accepted: u64,
    pub rejected: u64,
    pub pulled: u64,
    pub doc_messages_sent: u64,
    pub doc_messages_received: u64,
    pub doc_refusals: Vec<DocRefusal>,
}

impl From<sync::SyncReport> for SyncReport {
    fn from(r: sync::SyncReport) -> Self {
        SyncReport {
            round_trips: r.round_trips,
            accepted: r.accepted as u64,
            rejected: r.rejected as u64,
            pulled: r.pulled as u64,
            doc_messages_sent: r.doc_messages_sent as u64,
            doc_messages_received: r.doc_messages_received as u64,
            doc_refusals: r.doc_refusals.into_iter().map(|(doc, reason)| DocRefusal { doc_id: doc, reason }).collect(),
        }
    }
}

// ---- count sessions --------------------------------------------------------------------------

pub(crate) fn categories_out(c: counts::ItemCategories) -> HashMap<String, String> {
    c.0.into_iter().collect()
}

// ---- scanning --------------------------------------------------------------------------------

/// What a scan turned out to be: a Metrc package tag, a GS1 barcode, or a location label.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ScannedCode {
    Package {
        tag: PackageTag,
    },
    /// The parts of a GS1 barcode Custody reads; each optional. `expiry` is `YYYY-MM-DD`.
    Gs1 {
        gtin: Option<String>,
        batch: Option<String>,
        expiry: Option<IsoDate>,
        serial: Option<String>,
        net_weight: Option<Quantity>,
    },
    Location {
        name: LocationName,
    },
}

impl From<scan::Scan> for ScannedCode {
    fn from(s: scan::Scan) -> Self {
        match s {
            scan::Scan::Package(tag) => ScannedCode::Package { tag },
            scan::Scan::Gs1(g) => ScannedCode::Gs1 {
                gtin: g.gtin.map(|t| t.to_string()),
                batch: g.batch,
                expiry: g.expiry,
                serial: g.serial,
                net_weight: g.net_weight,
            },
            scan::Scan::Location(name) => ScannedCode::Location { name },
        }
    }
}

// ---- receiving -------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ReceivingVerdictKind {
    /// On the manifest and not scanned before: green.
    Matched,
    /// Not on this manifest: red, set it aside.
    Unexpected,
    /// Already scanned: red, with who and when.
    Duplicate,
}

/// The answer to one receiving scan. `message` is the sentence to show; `item` is set for
/// `Matched`, `by` and `at` for `Duplicate`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReceivingVerdict {
    pub kind: ReceivingVerdictKind,
    pub tag: PackageTag,
    pub message: String,
    pub item: Option<String>,
    pub by: Option<String>,
    pub at: Option<Timestamp>,
}

impl From<session::ReceivingVerdict> for ReceivingVerdict {
    fn from(v: session::ReceivingVerdict) -> Self {
        let message = v.message();
        let (kind, tag, item, by, at) = match v {
            session::ReceivingVerdict::Matched { tag, item } => (ReceivingVerdictKind::Matched, tag, Some(item), None, None),
            session::ReceivingVerdict::Unexpected { tag } => (ReceivingVerdictKind::Unexpected, tag, None, None, None),
            session::ReceivingVerdict::Duplicate { tag, by, at } => (ReceivingVerdictKind::Duplicate, tag, None, Some(by), Some(at)),
        };
        ReceivingVerdict { kind, tag, message, item, by, at }
    }
}

/// Where a receiving session stands, as this phone knows it (tags as strings).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReceivingProgress {
    pub manifest_number: String,
    pub shipper_name: String,
    pub package_count: u32,
    pub matched: Vec<PackageTag>,
    pub unexpected: Vec<PackageTag>,
    /// Tags scanned more than once (on one phone or several).
    pub scanned_twice: Vec<PackageTag>,
    pub missing: Vec<PackageTag>,
}

impl From<session::ReceivingProgress> for ReceivingProgress {
    fn from(p: session::ReceivingProgress) -> Self {
        ReceivingProgress {
            package_count: u32::try_from(p.manifest.packages.len()).unwrap_or(u32::MAX),
            manifest_number: p.manifest.manifest_number,
            shipper_name: p.manifest.shipper_name,
            matched: p.matched,
            unexpected: p.unexpected,
            scanned_twice: p.scanned_twice.into_keys().collect(),
            missing: p.missing,
        }
    }
}

/// A batch's certificate of analysis. `thc_percent` is a decimal string; dates `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Coa {
    pub batch: String,
    pub lab: String,
    pub thc_percent: String,
    pub passed: bool,
    pub tested_on: String,
    pub expires_on: String,
}

impl TryFrom<Coa> for work::receiving::Coa {
    type Error = CustodyError;
    fn try_from(c: Coa) -> Result<Self, CustodyError> {
        Ok(work::receiving::Coa {
            batch: ids::BatchNumber::parse(&c.batch)?,
            lab: c.lab,
            thc_percent: input::number("THC percentage", &c.thc_percent)?,
            passed: c.passed,
            tested_on: input::date("test", &c.tested_on)?,
            expires_on: input::date("expiry", &c.expires_on)?,
        })
    }
}

/// A manifest package's failed checks, each as the sentence core writes.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PackageFlags {
    pub tag: PackageTag,
    pub flags: Vec<String>,
}

/// Something between a receiving session and its completion, as core words it; `resolved`
/// when it no longer blocks (a weight difference with its reason recorded).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReceivingDiscrepancy {
    pub text: String,
    pub resolved: bool,
}

impl From<session::ReceivingDiscrepancy> for ReceivingDiscrepancy {
    fn from(d: session::ReceivingDiscrepancy) -> Self {
        ReceivingDiscrepancy { text: d.to_string(), resolved: d.resolved() }
    }
}

/// A completed receiving session whose manifest still has to be accepted in the state system.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StateTask {
    pub session_id: Uuid,
    pub task: String,
}

/// A scale in the receiving bay; `calibration_due` is `YYYY-MM-DD`, the last day it may weigh.
/// `usable`: not past that day (core's rule), so the screen offers only usable scales.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Scale {
    pub name: String,
    pub calibration_due: String,
    pub usable: bool,
}

/// Receiving settings from the server; `potency_tolerance` is in percentage points, a decimal
/// string.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ReceivingSettings {
    pub potency_tolerance: String,
    pub scales: Vec<Scale>,
}

impl ReceivingSettings {
    /// The settings as of `today` (the phone's corrected clock).
    pub(crate) fn from_core(s: session::ReceivingSettings, today: chrono::NaiveDate) -> Self {
        ReceivingSettings {
            potency_tolerance: s.potency_tolerance.to_string(),
            scales: s
                .scales
                .into_iter()
                .map(|s| Scale {
                    usable: s.usable_on(today),
                    calibration_due: s.calibration_due.format("%Y-%m-%d").to_string(),
                    name: s.name,
                })
                .collect(),
        }
    }
}

/// One package on hand for a manager's opening balance (`record_opening_balance`).
#[derive(Debug, Clone, uniffi::Record)]
pub struct OpeningBalanceLine {
    /// The package tag as scanned or typed.
    pub tag: String,
    pub item: ids::ItemName,
    pub batch: ids::BatchNumber,
    pub quantity: Quantity,
    pub location: LocationName,
    /// `YYYY-MM-DD`, if it expires.
    pub expires_on: Option<String>,
}

impl TryFrom<OpeningBalanceLine> for custody_core::receiving::opening::OpeningLine {
    type Error = CustodyError;
    fn try_from(l: OpeningBalanceLine) -> Result<Self, CustodyError> {
        Ok(custody_core::receiving::opening::OpeningLine {
            tag: tag_in(&l.tag)?,
            item: l.item,
            batch: l.batch,
            quantity: l.quantity,
            location: l.location,
            expires_on: input::optional_date(l.expires_on.as_deref().unwrap_or_default())
                .map_err(|e| CustodyError::InvalidInput(format!("{}: {e}", l.tag.trim())))?,
        })
    }
}
