//! The manifest document: one per outbound manifest, and the driver's route. The manifest
//! itself is written once by a manager; the driver's phone writes departure and, stop by stop
//! and offline, what was delivered or refused; the vault writes return check-ins. Each device
//! writes its own map, so confirmations from the road and the vault merge without loss.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::order::{Actor, Cancellation, Returned};
use super::{DocError, DocKind, WorkDoc};
use crate::ids::{BatchNumber, ItemName, LicenseNumber, PackageTag, UserId};
use crate::outbound::order::Customer;
use crate::quantity::Quantity;

const MANIFEST: &str = "manifest";
const DRIVER: &str = "driver";
const DEPARTED: &str = "departed";
const STOPS: &str = "stops";
const DELIVERIES: &str = "deliveries";
const RETURNS: &str = "returns";
const CANCELLED: &str = "cancelled";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Vehicle {
    pub make: String,
    pub model: String,
    pub plate: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Driver {
    /// The driver's account: only this person's phone receives the route.
    pub user: UserId,
    pub name: String,
    /// Driver's licence number.
    pub licence_number: String,
    /// The state's occupational (agent) licence number.
    pub occupational_licence: String,
}

/// One package on the manifest, with what the state's template needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestPackage {
    pub tag: PackageTag,
    pub item: ItemName,
    pub batch: BatchNumber,
    pub quantity: Quantity,
    pub wholesale_price: Decimal,
    pub gross_weight: Quantity,
    pub container: String,
}

/// One stop: one order's recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stop {
    /// 1, 2, ... in route order.
    pub number: u32,
    pub order: Uuid,
    pub order_number: String,
    pub recipient: Customer,
    /// Initials and card digits of a medical delivery's patient; the driver's phone holds the
    /// full record separately.
    pub patient_ref: Option<String>,
    pub planned_route: String,
    pub estimated_departure: DateTime<Utc>,
    pub estimated_arrival: DateTime<Utc>,
    pub packages: Vec<ManifestPackage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundManifest {
    pub number: String,
    pub shipper: LicenseNumber,
    pub vehicle: Vehicle,
    pub driver: Driver,
    pub phone_for_questions: String,
    pub stops: Vec<Stop>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

impl OutboundManifest {
    pub fn tags(&self) -> impl Iterator<Item = &PackageTag> {
        self.stops.iter().flat_map(|s| s.packages.iter().map(|p| &p.tag))
    }

    pub fn stop_of(&self, tag: &PackageTag) -> Option<&Stop> {
        self.stops.iter().find(|s| s.packages.iter().any(|p| &p.tag == tag))
    }
}

/// A GPS fix from the phone.
/// Decimal degrees, kept exactly as the phone reported them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gps {
    pub latitude: Decimal,
    pub longitude: Decimal,
    pub accuracy_m: Decimal,
}

impl Gps {
    /// A fix the phone reported, refused if it cannot be a place on Earth (or is finer or
    /// vaguer than any phone measures; see [`crate::bounds::check_gps`]).
    pub fn new(latitude: Decimal, longitude: Decimal, accuracy_m: Decimal) -> Result<Self, String> {
        let gps = Gps { latitude, longitude, accuracy_m };
        gps.check()?;
        Ok(gps)
    }

    /// The same checks for a fix built field by field.
    pub fn check(&self) -> Result<(), String> {
        crate::bounds::check_gps(self.latitude, self.longitude, self.accuracy_m)
    }
}

/// What happened to one package at its stop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageOutcome {
    pub tag: PackageTag,
    pub stop: u32,
    pub delivered: bool,
    /// Why it was refused (or why the stop failed).
    pub reason: Option<String>,
    pub gps: Option<Gps>,
    pub by: Actor,
}

/// How a stop ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopReport {
    pub stop: u32,
    /// `None`: the stop was made (packages delivered or refused one by one); `Some(reason)`: it
    /// failed as a whole (closed, refused entirely).
    pub failed: Option<String>,
    pub receiver_name: String,
    pub receiver_licence: String,
    pub gps: Option<Gps>,
    pub by: Actor,
}

pub fn create(id: Uuid, facility: LicenseNumber, writer: super::Writer, manifest: &OutboundManifest) -> WorkDoc {
    let mut doc = WorkDoc::create(id, DocKind::Manifest, facility, writer);
    doc.put_json(MANIFEST, manifest).expect("fresh document");
    doc.put_text(DRIVER, &manifest.driver.user.to_string()).expect("fresh document");
    doc.add_maps(&[STOPS, DELIVERIES, RETURNS]);
    doc
}

pub fn manifest(doc: &WorkDoc) -> Result<OutboundManifest, DocError> {
    doc.get_json(MANIFEST)
}

/// The driver the route belongs to (read by the server to decide who receives it).
pub fn driver(doc: &WorkDoc) -> Result<Option<UserId>, DocError> {
    Ok(doc.get_text(DRIVER)?.and_then(|t| UserId::parse(&t).ok()))
}

pub fn set_departed(doc: &mut WorkDoc, by: &Actor) -> Result<(), DocError> {
    doc.put_json(DEPARTED, by)
}

pub fn departed(doc: &WorkDoc) -> Result<Option<Actor>, DocError> {
    doc.get_json_opt(DEPARTED)
}

pub fn cancel(doc: &mut WorkDoc, c: &Cancellation) -> Result<(), DocError> {
    doc.put_json(CANCELLED, c)
}

/// The manager's cancellation, if it stands: a manifest whose truck departed (the driver's
/// phone may have been offline when the office cancelled it) is on the road, and the road wins.
pub fn cancellation(doc: &WorkDoc) -> Result<Option<Cancellation>, DocError> {
    if departed(doc)?.is_some() {
        return Ok(None);
    }
    doc.get_json_opt(CANCELLED)
}

pub fn put_outcome(doc: &mut WorkDoc, o: &PackageOutcome) -> Result<(), DocError> {
    doc.put_own(DELIVERIES, o.by.device, o.tag.as_str(), o)
}

/// The outcome of each package (the earliest, should two phones have confirmed one).
pub fn outcomes(doc: &WorkDoc) -> Result<BTreeMap<PackageTag, PackageOutcome>, DocError> {
    Ok(doc
        .all_own::<PackageOutcome>(DELIVERIES)?
        .into_values()
        .filter_map(|l| l.into_iter().min_by_key(|o| (o.by.at, o.by.device)))
        .map(|o| (o.tag.clone(), o))
        .collect())
}

pub fn put_stop(doc: &mut WorkDoc, r: &StopReport) -> Result<(), DocError> {
    doc.put_own(STOPS, r.by.device, &r.stop.to_string(), r)
}

pub fn stop_reports(doc: &WorkDoc) -> Result<BTreeMap<u32, StopReport>, DocError> {
    Ok(doc
        .all_own::<StopReport>(STOPS)?
        .into_values()
        .filter_map(|l| l.into_iter().min_by_key(|r| (r.by.at, r.by.device)))
        .map(|r| (r.stop, r))
        .collect())
}

pub fn put_return(doc: &mut WorkDoc, r: &Returned) -> Result<(), DocError> {
    doc.put_own(RETURNS, r.by.device, r.tag.as_str(), r)
}

pub fn returns(doc: &WorkDoc) -> Result<BTreeMap<PackageTag, Returned>, DocError> {
    Ok(doc.all_own::<Returned>(RETURNS)?.into_values().filter_map(|l| l.into_iter().next()).map(|r| (r.tag.clone(), r)).collect())
}

/// Whether the route is over: every package delivered or back in the vault, or the manifest
/// cancelled before the truck left.
pub fn closed(doc: &WorkDoc) -> Result<bool, DocError> {
    if cancellation(doc)?.is_some() {
        return Ok(true);
    }
    let m = manifest(doc)?;
    let outcomes = outcomes(doc)?;
    let returns = returns(doc)?;
    Ok(m.tags().all(|t| outcomes.get(t).is_some_and(|o| o.delivered) || returns.contains_key(t)))
}

/// The packages this manifest holds: no other open manifest may carry them.
pub fn claims(doc: &WorkDoc) -> Result<Vec<PackageTag>, DocError> {
    if cancellation(doc)?.is_some() {
        return Ok(Vec::new());
    }
    let returns = returns(doc)?;
    Ok(manifest(doc)?.tags().filter(|t| !returns.contains_key(*t)).cloned().collect())
}

/// The server's check: the route must belong to an active driver of the facility, and the
/// manifest must have been written by a manager.
pub fn audit(doc: &WorkDoc, roster: &[crate::people::RosterEntry]) -> Result<Option<String>, DocError> {
    use crate::roles::Role;
    let m = manifest(doc)?;
    if !roster.iter().any(|p| p.id == m.driver.user && p.active && p.role == Role::Driver) {
        return Ok(Some(format!("{} is not an active driver of this facility; choose a driver from the roster", m.driver.name)));
    }
    if driver(doc)? != Some(m.driver.user) {
        return Ok(Some("the route's driver does not match the manifest's driver".into()));
    }
    if let Some(c) = doc.get_json_opt::<Cancellation>(CANCELLED)?
        && !roster.iter().any(|p| p.id == c.by.user && p.active && p.role == Role::Manager)
    {
        return Ok(Some(format!("{} cancelled the manifest, but only a manager may cancel a manifest", c.by.name)));
    }
    // The road is its driver's (or a manager's): nobody else departs or confirms its stops.
    let on_route = |by: &Actor| by.user == m.driver.user || roster.iter().any(|p| p.id == by.user && p.role == Role::Manager);
    let mut road: Vec<&Actor> = Vec::new();
    let departed = departed(doc)?;
    road.extend(departed.as_ref());
    let outcomes = doc.all_own::<PackageOutcome>(DELIVERIES)?;
    road.extend(outcomes.values().flatten().map(|o| &o.by));
    let reports = doc.all_own::<StopReport>(STOPS)?;
    road.extend(reports.values().flatten().map(|r| &r.by));
    if let Some(by) = road.into_iter().find(|by| !on_route(by)) {
        return Ok(Some(format!("{} is not the driver of this route; only {} (or a manager) may confirm it", by.name, m.driver.name)));
    }
    Ok(None)
}
