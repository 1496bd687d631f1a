//! Manifests and the road: a manager builds the manifest from packed orders; the driver's phone
//! records departure (the ledger says shipped), and at each stop, offline, what was delivered
//! or refused and by whom; the vault checks refused and undelivered packages back in. Patient
//! data for medical stops is opened only for managers and the assigned driver, and every
//! opening is logged.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Patient;
use super::picking::{OutboundError, Result, read_order, require_role};
use crate::event::{Event, EventBody};
use crate::fold::PackageStatus;
use crate::ids::{LocationName, PackageTag, UserId};
pub use crate::protocol::PatientView;
use crate::roles::Role;
use crate::scan::{Scan, parse_scan};
use crate::store::UnitOfWork;
use crate::text;
use crate::work::manifest::{self as mdoc, Driver, Gps, ManifestPackage, OutboundManifest, PackageOutcome, Stop, StopReport, Vehicle};
use crate::work::order::{self as odoc, Cancellation, OrderStatus, Returned};
use crate::work::{DocKind, WorkDoc};

/// A stop as the manager plans it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewStop {
    pub order: Uuid,
    pub planned_route: String,
    pub estimated_departure: DateTime<Utc>,
    pub estimated_arrival: DateTime<Utc>,
}

/// A manifest as the manager enters it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewManifest {
    pub number: String,
    pub vehicle: Vehicle,
    pub driver: UserId,
    pub driver_licence_number: String,
    pub driver_occupational_licence: String,
    pub phone_for_questions: String,
    /// In route order.
    pub stops: Vec<NewStop>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum StopState {
    Pending,
    Done,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageOnRoute {
    pub package: ManifestPackage,
    pub outcome: Option<PackageOutcome>,
    pub returned: Option<Returned>,
}

/// Where a package on a route stands, as the driver's and the office's screens show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum DeliveryOutcome {
    /// Not confirmed yet.
    Pending,
    Delivered,
    /// Refused by the receiver, or the stop failed: on the truck until checked back in.
    Refused,
    /// Checked back in at the vault.
    Returned,
}

impl DeliveryOutcome {
    /// The outcome of a package: a check-in at the vault wins over what the driver recorded,
    /// which wins over nothing yet. `delivered` is the driver's record, if any.
    pub fn of(returned: bool, delivered: Option<bool>) -> Self {
        match (returned, delivered) {
            (true, _) => DeliveryOutcome::Returned,
            (false, Some(true)) => DeliveryOutcome::Delivered,
            (false, Some(false)) => DeliveryOutcome::Refused,
            (false, None) => DeliveryOutcome::Pending,
        }
    }
}

impl PackageOnRoute {
    pub fn delivery_outcome(&self) -> DeliveryOutcome {
        DeliveryOutcome::of(self.returned.is_some(), self.outcome.as_ref().map(|o| o.delivered))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopView {
    pub stop: Stop,
    pub state: StopState,
    pub report: Option<StopReport>,
    pub packages: Vec<PackageOnRoute>,
}

/// The route screen (the driver's) and the office's progress view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteView {
    pub id: Uuid,
    pub manifest: OutboundManifest,
    pub departed: Option<crate::work::order::Actor>,
    pub stops: Vec<StopView>,
    /// Every package delivered or back in the vault, or the manifest cancelled.
    pub closed: bool,
    /// A manager cancelled it before the truck left.
    pub cancelled: Option<Cancellation>,
}

/// Why a package is due back at the vault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum ReturnKind {
    /// The receiver refused it, or the stop failed: it is coming back on the truck.
    Refused,
    /// On a truck that left, with no outcome on this phone yet: still out, or the driver's
    /// phone has not synced.
    NotConfirmed,
    /// Picked (perhaps packed) for an order a manager cancelled: back to a shelf.
    OrderCancelled,
}

/// A package that is neither on the shelf nor delivered and has to come back through the
/// vault's check-in, so nothing that went out, or was taken out, comes back silently. The
/// returns screen lists these (the apps' `ReturnDue`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ReturnDue {
    pub tag: PackageTag,
    pub item: crate::ids::ItemName,
    pub batch: crate::ids::BatchNumber,
    pub quantity: crate::quantity::Quantity,
    /// The packing container it is in, if it was packed.
    pub container: Option<String>,
    pub order_number: String,
    pub recipient: String,
    /// The manifest it went out on, its number and the stop (all three, or none for a
    /// cancelled order's picks).
    pub manifest_id: Option<Uuid>,
    pub manifest_number: Option<String>,
    pub stop: Option<u32>,
    pub kind: ReturnKind,
    /// What the ledger's return will say.
    pub reason: String,
}

/// A confirmation of one stop, as the driver enters it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StopConfirmation {
    pub receiver_name: String,
    pub receiver_licence: String,
    /// Packages refused, with the receiver's reason; every other package of the stop is
    /// delivered.
    pub refused: Vec<(PackageTag, String)>,
    pub gps: Option<Gps>,
}

/// A patient record opened for someone allowed to see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientAccess {
    pub order: Uuid,
    pub patient: Patient,
}

/// Manifests on this device (a driver's phone holds only that driver's), newest first.
pub fn manifests(w: &mut UnitOfWork<'_>) -> Result<Vec<RouteView>> {
    let docs = w.docs(Some(DocKind::Manifest))?;
    docs.into_iter().map(|d| route(w, d.id)).collect()
}

/// Builds a manifest from packed orders (managers): one stop per order in route order, the
/// vehicle and a driver from the roster, each package's wholesale price and gross weight.
/// A package already on another open manifest is refused.
pub fn create_manifest(w: &mut UnitOfWork<'_>, new: &NewManifest) -> Result<Uuid> {
    // Every check (orders packed, packages picked, nothing on another open manifest) and the
    // new manifest see one state.
    require_role(w, &[Role::Manager], "create manifests")?;
    let fail = |m: String| Err(OutboundError::Manifest(m));
    let missing = |m: String| Err(OutboundError::Input(m));
    if new.number.trim().is_empty() {
        return missing("a manifest needs a number".into());
    }
    // What goes onto the printed manifest and the driver's phone, held to the text rules.
    text::check(text::reference("manifest number"), new.number.trim())?;
    for (field, v) in [
        (text::reference("vehicle make"), &new.vehicle.make),
        (text::reference("vehicle model"), &new.vehicle.model),
        (text::reference("licence plate"), &new.vehicle.plate),
        (text::reference("driver's licence number"), &new.driver_licence_number),
        (text::reference("driver's occupational licence number"), &new.driver_occupational_licence),
        (text::reference("phone number for questions"), &new.phone_for_questions),
    ] {
        text::check(field, v.trim())?;
    }
    for s in &new.stops {
        text::check(text::note("planned route"), s.planned_route.trim())?;
    }
    if new.stops.is_empty() {
        return missing("a manifest needs at least one stop".into());
    }
    for (what, v) in [
        ("vehicle make", &new.vehicle.make),
        ("vehicle model", &new.vehicle.model),
        ("licence plate", &new.vehicle.plate),
        ("driver's licence number", &new.driver_licence_number),
        ("driver's occupational licence number", &new.driver_occupational_licence),
    ] {
        if v.trim().is_empty() {
            return missing(format!("the {what} is missing"));
        }
    }
    let driver = w.roster()?.into_iter().find(|p| p.id == new.driver && p.active && p.role == Role::Driver);
    let Some(driver) = driver else {
        return fail("choose the driver from the roster: that person is not an active driver here".into());
    };
    let mut on_open: BTreeSet<PackageTag> = BTreeSet::new();
    for info in w.docs(Some(DocKind::Manifest))? {
        let (number, claims) = read_manifest(w, info.id, |d| Ok((mdoc::manifest(d)?.number, mdoc::claims(d)?)))?;
        if number == new.number.trim() {
            return fail(format!("manifest {number} already exists"));
        }
        on_open.extend(claims);
    }
    let mut stops = Vec::new();
    for (i, s) in new.stops.iter().enumerate() {
        if s.estimated_arrival < s.estimated_departure {
            return missing(format!("stop {}: the estimated arrival is before the departure", i + 1));
        }
        let (o, status, check, packings, picks) = read_order(w, s.order, |d| {
            Ok((odoc::order(d)?, odoc::status(d)?, odoc::final_check(d)?, odoc::packings(d)?, odoc::picks(d)?))
        })?;
        let Some(check) = check.filter(|_| status == OrderStatus::Packed) else {
            return Err(OutboundError::OrderState {
                number: o.number,
                status: status.as_str(),
                what: "finish packing it before it goes on a manifest",
            });
        };
        let mut packages = Vec::new();
        for tags in check.containers.values() {
            for tag in tags {
                if on_open.contains(tag) {
                    return fail(format!("{tag} is already on another open manifest"));
                }
                let (Some(pick), Some(packing)) = (picks.get(tag).and_then(|p| p.first()), packings.get(tag)) else {
                    return fail(format!("{tag} is in a container but not picked for order {}", o.number));
                };
                let Some(line) = o.lines.iter().find(|l| l.line == pick.line) else {
                    return fail(format!("{tag} was picked for a line order {} does not have", o.number));
                };
                let package = w
                    .package(tag)?
                    .ok_or_else(|| OutboundError::Manifest(format!("{tag} is not in this device's inventory; sync first")))?;
                if package.status != PackageStatus::Picked {
                    return fail(format!("{tag} is {}, not picked; it cannot be shipped", package.status.as_str()));
                }
                packages.push(ManifestPackage {
                    tag: tag.clone(),
                    item: package.facts.item,
                    batch: package.facts.batch,
                    quantity: pick.quantity,
                    wholesale_price: line.price_of(&pick.quantity)?,
                    gross_weight: packing.gross_weight,
                    container: packing.container.clone(),
                });
            }
        }
        let stop = Stop {
            number: i as u32 + 1,
            order: s.order,
            order_number: o.number,
            recipient: o.recipient,
            patient_ref: o.patient_ref,
            planned_route: s.planned_route.trim().to_string(),
            estimated_departure: s.estimated_departure,
            estimated_arrival: s.estimated_arrival,
            packages,
        };
        stops.push(stop);
    }
    let identity = w.identity()?;
    let user = w.user()?;
    let manifest = OutboundManifest {
        number: new.number.trim().to_string(),
        shipper: identity.facility.clone(),
        vehicle: new.vehicle.clone(),
        driver: Driver {
            user: driver.id,
            name: driver.name,
            licence_number: new.driver_licence_number.trim().to_string(),
            occupational_licence: new.driver_occupational_licence.trim().to_string(),
        },
        phone_for_questions: new.phone_for_questions.trim().to_string(),
        stops,
        created_by: user.name,
        created_at: w.now()?,
    };
    let id = Uuid::now_v7();
    w.create(mdoc::create(id, identity.facility, w.writer()?, &manifest));
    Ok(id)
}

/// The route: stops in order, each package's outcome, what is back in the vault.
pub fn route(w: &mut UnitOfWork<'_>, id: Uuid) -> Result<RouteView> {
    read_manifest(w, id, |d| {
        let manifest = mdoc::manifest(d)?;
        let outcomes = mdoc::outcomes(d)?;
        let reports = mdoc::stop_reports(d)?;
        let returns = mdoc::returns(d)?;
        let stops = manifest
            .stops
            .iter()
            .map(|s| {
                let report = reports.get(&s.number).cloned();
                let state = match &report {
                    None => StopState::Pending,
                    Some(r) if r.failed.is_some() => StopState::Failed,
                    Some(_) => StopState::Done,
                };
                StopView {
                    stop: s.clone(),
                    state,
                    report,
                    packages: s
                        .packages
                        .iter()
                        .map(|p| PackageOnRoute {
                            package: p.clone(),
                            outcome: outcomes.get(&p.tag).cloned(),
                            returned: returns.get(&p.tag).cloned(),
                        })
                        .collect(),
                }
            })
            .collect();
        Ok(RouteView { id, departed: mdoc::departed(d)?, closed: mdoc::closed(d)?, cancelled: mdoc::cancellation(d)?, manifest, stops })
    })
}

/// Whether `user` (the person the unit of work signs for) is this route's driver, or a manager.
fn check_route_person(d: &WorkDoc, user: &crate::store::SignedInUser, what: &'static str) -> Result<()> {
    let driver = mdoc::driver(d)?;
    if user.role == Role::Manager || (user.role == Role::Driver && driver == Some(user.id)) {
        Ok(())
    } else {
        Err(OutboundError::NotAllowed { role: user.role, what })
    }
}

/// Cancels a manifest before the truck leaves (managers). Its packages stay picked and
/// packed for their orders, free to go on another manifest; a driver who has not synced
/// and departs anyway is on the road, and the road wins (see `mdoc::cancellation`).
pub fn cancel_manifest(w: &mut UnitOfWork<'_>, manifest: Uuid, reason: &str) -> Result<()> {
    require_role(w, &[Role::Manager], "cancel manifests")?;
    if reason.trim().is_empty() {
        return Err(OutboundError::NoReason);
    }
    let reason = text::clean(text::reason("reason"), reason)?;
    let (_, actor) = w.actor()?;
    let d = w.doc(manifest)?.filter(|d| d.kind == DocKind::Manifest).ok_or(OutboundError::UnknownManifest(manifest))?;
    let m = mdoc::manifest(d)?;
    if let Some(dep) = mdoc::departed(d)? {
        return Err(OutboundError::Manifest(format!(
            "manifest {} left at {} with {}; the driver's stops and the vault's return check-in close it",
            m.number,
            dep.at.format("%H:%M"),
            dep.name
        )));
    }
    if let Some(c) = mdoc::cancellation(d)? {
        return Err(OutboundError::Manifest(format!("manifest {} was already cancelled by {}", m.number, c.by.name)));
    }
    mdoc::cancel(d, &Cancellation { reason: reason.clone(), by: actor.clone() })?;
    Ok(())
}

/// The driver's (or a manager's) record of one stop of a departed route: `write` decides the
/// packages' outcomes and the stop's report; those delivered are recorded in the ledger.
fn stop_work(
    w: &mut UnitOfWork<'_>,
    manifest: Uuid,
    stop: u32,
    write: impl FnOnce(&OutboundManifest, &Stop, &crate::work::order::Actor) -> Result<(Vec<PackageOutcome>, StopReport)>,
) -> Result<Vec<Event>> {
    let (user, actor) = w.actor()?;
    let d = w.doc(manifest)?.ok_or(OutboundError::UnknownManifest(manifest))?;
    if d.kind != DocKind::Manifest {
        return Err(OutboundError::UnknownManifest(manifest));
    }
    check_route_person(d, &user, "confirm deliveries on this route")?;
    if mdoc::departed(d)?.is_none() {
        return Err(OutboundError::Manifest("the route has not departed; start it first".into()));
    }
    let m = mdoc::manifest(d)?;
    let s = m.stops.iter().find(|s| s.number == stop).ok_or_else(|| OutboundError::UnknownStop(stop))?;
    if let Some(r) = mdoc::stop_reports(d)?.get(&stop) {
        return Err(OutboundError::Manifest(format!("stop {stop} was already confirmed by {} at {}", r.by.name, r.by.at.format("%H:%M"))));
    }
    let (outcomes, report) = write(&m, s, &actor)?;
    let recipient = s.recipient.licence.clone();
    for o in &outcomes {
        mdoc::put_outcome(d, o)?;
    }
    mdoc::put_stop(d, &report)?;
    let mut events = Vec::new();
    for o in outcomes.iter().filter(|o| o.delivered) {
        events.push(w.record(&o.tag, EventBody::Delivered { recipient: recipient.clone() })?);
    }
    Ok(events)
}

/// The driver confirms a stop: every package delivered except those refused (each with the
/// receiver's reason), the receiver's name and licence, the time and the GPS position.
/// Works offline; it syncs when a signal appears.
pub fn confirm_stop(w: &mut UnitOfWork<'_>, manifest: Uuid, stop: u32, c: &StopConfirmation) -> Result<Vec<Event>> {
    if c.receiver_name.trim().is_empty() || c.receiver_licence.trim().is_empty() {
        return Err(OutboundError::Input("enter the receiver's name and licence number".into()));
    }
    text::check(text::name("receiver's name"), c.receiver_name.trim())?;
    text::check(text::reference("receiver's licence number"), c.receiver_licence.trim())?;
    for (_, reason) in &c.refused {
        text::check(text::reason("reason"), reason.trim())?;
    }
    if let Some(gps) = &c.gps {
        gps.check().map_err(OutboundError::Input)?;
    }
    stop_work(w, manifest, stop, |_, s, actor| {
        for (tag, reason) in &c.refused {
            if !s.packages.iter().any(|p| &p.tag == tag) {
                return Err(OutboundError::Manifest(format!("{tag} is not on stop {stop}")));
            }
            if reason.trim().is_empty() {
                return Err(OutboundError::Input(format!("say why {tag} was refused")));
            }
        }
        let outcomes = s
            .packages
            .iter()
            .map(|p| {
                let refused = c.refused.iter().find(|(t, _)| *t == p.tag);
                PackageOutcome {
                    tag: p.tag.clone(),
                    stop,
                    delivered: refused.is_none(),
                    reason: refused.map(|(_, r)| r.trim().to_string()),
                    gps: c.gps,
                    by: actor.clone(),
                }
            })
            .collect();
        let report = StopReport {
            stop,
            failed: None,
            receiver_name: c.receiver_name.trim().to_string(),
            receiver_licence: c.receiver_licence.trim().to_string(),
            gps: c.gps,
            by: actor.clone(),
        };
        Ok((outcomes, report))
    })
}

/// The stop could not be made (closed, refused entirely): every package stays on the truck
/// and comes back through return check-in.
pub fn fail_stop(w: &mut UnitOfWork<'_>, manifest: Uuid, stop: u32, reason: &str, gps: Option<Gps>) -> Result<()> {
    if reason.trim().is_empty() {
        return Err(OutboundError::NoReason);
    }
    let reason = text::clean(text::reason("reason"), reason)?;
    let reason = reason.as_str();
    if let Some(gps) = &gps {
        gps.check().map_err(OutboundError::Input)?;
    }
    stop_work(w, manifest, stop, |_, s, actor| {
        let outcomes = s
            .packages
            .iter()
            .map(|p| PackageOutcome {
                tag: p.tag.clone(),
                stop,
                delivered: false,
                reason: Some(reason.trim().to_string()),
                gps,
                by: actor.clone(),
            })
            .collect();
        let report = StopReport {
            stop,
            failed: Some(reason.trim().to_string()),
            receiver_name: String::new(),
            receiver_licence: String::new(),
            gps,
            by: actor.clone(),
        };
        Ok((outcomes, report))
    })?;
    Ok(())
}

/// Return check-in at the vault: a package due back (refused, undelivered, or picked for a
/// cancelled order) goes back into stock at `location`, with a ledger return carrying why,
/// and leaves its order and manifest.
pub fn return_check_in(w: &mut UnitOfWork<'_>, raw: &str, location: &LocationName) -> Result<Event> {
    // What is due back is decided in the transaction that checks it in.
    require_role(w, &[Role::FloorStaff, Role::Manager], "check returns in")?;
    let Scan::Package(tag) = parse_scan(raw)? else { return Err(OutboundError::NotATag) };
    let package = w.package(&tag)?.ok_or_else(|| OutboundError::UnknownPackage(tag.clone()))?;
    let Some(due) = due_back(w)?.into_iter().find(|d| d.row.tag == tag) else {
        return Err(OutboundError::NotDueBack(match package.status {
            PackageStatus::Shipped => format!("{tag} is not on any departed manifest on this device; sync and try again"),
            PackageStatus::Picked => {
                let order = w.package_fold(&tag)?.and_then(|p| p.order).unwrap_or_default();
                format!(
                    "{tag} is picked for order {order}, which is not cancelled; it goes back on the shelf only if a manager cancels the order"
                )
            }
            other => format!(
                "{tag} is {}; only a package that went out and was not delivered, or was picked for a cancelled order, can be checked in",
                other.as_str()
            ),
        }));
    };
    let (_, actor) = w.actor()?;
    let reason = due.row.reason.clone();
    let event = w.record(&tag, EventBody::Returned { location: location.clone(), reason: reason.clone() })?;
    let record = Returned { tag: tag.clone(), location: location.clone(), reason, by: actor.clone() };
    if let Some(d) = due.manifest_doc.map(|m| w.doc(m)).transpose()?.flatten() {
        mdoc::put_return(d, &record)?;
    }
    if let Some(d) = w.doc(due.order_doc)? {
        odoc::put_returned(d, &record)?;
    }
    Ok(event)
}

/// What the vault should expect back: every package on a departed manifest that is neither
/// delivered nor checked in, and every package picked for a cancelled order and not yet put
/// back. Refused and cancelled ones first (they are certainly coming), then the unconfirmed.
pub fn returns_due(w: &mut UnitOfWork<'_>) -> Result<Vec<ReturnDue>> {
    Ok(due_back(w)?.into_iter().map(|d| d.row).collect())
}

/// Every package due back, with the documents its check-in writes to, as of the unit of work.
fn due_back(w: &mut UnitOfWork<'_>) -> Result<Vec<DueBack>> {
    let mut candidates = Vec::new();
    for info in w.docs(Some(DocKind::Manifest))? {
        read_manifest(w, info.id, |d| {
            if mdoc::departed(d)?.is_none() {
                return Ok(());
            }
            let m = mdoc::manifest(d)?;
            let (outcomes, returns) = (mdoc::outcomes(d)?, mdoc::returns(d)?);
            for stop in &m.stops {
                for p in stop.packages.iter().filter(|p| !returns.contains_key(&p.tag)) {
                    let outcome = outcomes.get(&p.tag);
                    if outcome.is_some_and(|o| o.delivered) {
                        continue;
                    }
                    candidates.push(Candidate {
                        tag: p.tag.clone(),
                        container: Some(p.container.clone()),
                        order_number: stop.order_number.clone(),
                        recipient: stop.recipient.name.clone(),
                        manifest: Some((info.id, m.number.clone(), stop.number)),
                        kind: if outcome.is_some() { ReturnKind::Refused } else { ReturnKind::NotConfirmed },
                        reason: return_reason(stop, outcome),
                        order_doc: stop.order,
                        expect: PackageStatus::Shipped,
                    });
                }
            }
            Ok(())
        })?;
    }
    for info in w.docs(Some(DocKind::Order))? {
        read_order(w, info.id, |d| {
            if odoc::status(d)? != OrderStatus::Cancelled {
                return Ok(());
            }
            let o = odoc::order(d)?;
            let why = odoc::cancellation(d)?.map(|c| format!(" by {}: {}", c.by.name, c.reason)).unwrap_or_default();
            let (returned, packings) = (odoc::returned(d)?, odoc::packings(d)?);
            for tag in odoc::picks(d)?.into_keys().filter(|t| !returned.contains_key(t)) {
                candidates.push(Candidate {
                    container: packings.get(&tag).map(|p| p.container.clone()),
                    tag,
                    order_number: o.number.clone(),
                    recipient: o.recipient.name.clone(),
                    manifest: None,
                    kind: ReturnKind::OrderCancelled,
                    reason: format!("put back: order {} cancelled{why}", o.number),
                    order_doc: info.id,
                    expect: PackageStatus::Picked,
                });
            }
            Ok(())
        })?;
    }
    // The ledger decides what is really out: a package checked in on another phone whose
    // documents have not caught up, or a pick that never reached the ledger, is not due.
    let mut due = Vec::with_capacity(candidates.len());
    for c in candidates {
        let Some(package) = w.package(&c.tag)?.filter(|p| p.status == c.expect) else { continue };
        let (manifest_id, manifest_number, stop) = match c.manifest {
            Some((id, number, stop)) => (Some(id), Some(number), Some(stop)),
            None => (None, None, None),
        };
        due.push(DueBack {
            manifest_doc: manifest_id,
            order_doc: c.order_doc,
            row: ReturnDue {
                tag: c.tag,
                item: package.facts.item,
                batch: package.facts.batch,
                quantity: package.facts.quantity,
                container: c.container,
                order_number: c.order_number,
                recipient: c.recipient,
                manifest_id,
                manifest_number,
                stop,
                kind: c.kind,
                reason: c.reason,
            },
        });
    }
    let rank = |k: ReturnKind| match k {
        ReturnKind::Refused => 0,
        ReturnKind::OrderCancelled => 1,
        ReturnKind::NotConfirmed => 2,
    };
    due.sort_by_cached_key(|d| {
        (rank(d.row.kind), d.row.manifest_number.clone(), d.row.stop, d.row.order_number.clone(), d.row.tag.clone())
    });
    Ok(due)
}

/// A package that may be due back, before the ledger confirms it is still out.
struct Candidate {
    tag: PackageTag,
    container: Option<String>,
    order_number: String,
    recipient: String,
    manifest: Option<(Uuid, String, u32)>,
    kind: ReturnKind,
    reason: String,
    order_doc: Uuid,
    expect: PackageStatus,
}

/// A package due back and the documents its check-in writes to.
struct DueBack {
    row: ReturnDue,
    manifest_doc: Option<Uuid>,
    order_doc: Uuid,
}

/// Why a package that went out is back: the ledger's return carries it.
fn return_reason(stop: &Stop, outcome: Option<&PackageOutcome>) -> String {
    match outcome {
        Some(o) => format!("refused at stop {} ({}): {}", stop.number, stop.recipient.name, o.reason.clone().unwrap_or_default()),
        None => format!("not delivered at stop {} ({}); the driver recorded no outcome", stop.number, stop.recipient.name),
    }
}

/// Reads a manifest document (`UnknownManifest` if it is not one) inside a unit of work.
fn read_manifest<T>(w: &mut UnitOfWork<'_>, id: Uuid, read: impl FnOnce(&WorkDoc) -> Result<T>) -> Result<T> {
    w.read::<_, OutboundError>(id, |d| {
        if d.kind != DocKind::Manifest {
            return Err(OutboundError::UnknownManifest(id));
        }
        read(d)
    })?
    .ok_or(OutboundError::UnknownManifest(id))
}

/// Departure: every package on the manifest is shipped in the ledger. The driver (or a
/// manager) confirms the truck leaves with exactly what the manifest lists; the manifest and
/// every package's state are read in the unit of work that writes the departure and the
/// `Shipped` events, so nothing can change between check and write.
pub fn depart(w: &mut UnitOfWork<'_>, manifest: Uuid) -> Result<Vec<Event>> {
    let (user, actor) = w.actor()?;
    let tags: Vec<PackageTag> = {
        let d = w.doc(manifest)?.ok_or(OutboundError::UnknownManifest(manifest))?;
        if d.kind != DocKind::Manifest {
            return Err(OutboundError::UnknownManifest(manifest));
        }
        mdoc::manifest(d)?.tags().cloned().collect()
    };
    let mut statuses = Vec::with_capacity(tags.len());
    for tag in tags {
        let status = w.package(&tag)?.map(|p| p.status);
        statuses.push((tag, status));
    }
    let d = w.doc(manifest)?.ok_or(OutboundError::UnknownManifest(manifest))?;
    check_route_person(d, &user, "start this route")?;
    if let Some(dep) = mdoc::departed(d)? {
        return Err(OutboundError::Manifest(format!("this manifest departed at {} ({})", dep.at.format("%H:%M"), dep.name)));
    }
    let m = mdoc::manifest(d)?;
    if let Some(c) = mdoc::cancellation(d)? {
        return Err(OutboundError::Manifest(format!(
            "manifest {} was cancelled by {} ({}); do not load it",
            m.number, c.by.name, c.reason
        )));
    }
    // Only what is picked can leave: a package the ledger says already left went on another
    // truck (the office re-planned while this phone was offline).
    for (tag, status) in &statuses {
        match status {
            Some(PackageStatus::Picked) => {}
            Some(PackageStatus::Shipped) => {
                return Err(OutboundError::Manifest(format!(
                    "{tag} already left on another manifest; ask the office to cancel manifest {}",
                    m.number
                )));
            }
            Some(other) => {
                return Err(OutboundError::Manifest(format!(
                    "{tag} is {}, not picked; ask the office to cancel manifest {}",
                    other.as_str(),
                    m.number
                )));
            }
            None => return Err(OutboundError::UnknownPackage(tag.clone())),
        }
    }
    mdoc::set_departed(d, &actor)?;
    let mut events = Vec::new();
    for tag in m.tags() {
        events.push(w.record(tag, EventBody::Shipped { manifest: m.number.clone() })?);
    }
    Ok(events)
}

#[cfg(test)]
mod outcome_tests {
    use super::DeliveryOutcome as O;

    #[test]
    fn a_return_wins_over_the_drivers_record_which_wins_over_nothing() {
        assert_eq!(O::of(true, Some(true)), O::Returned);
        assert_eq!(O::of(true, None), O::Returned);
        assert_eq!(O::of(false, Some(true)), O::Delivered);
        assert_eq!(O::of(false, Some(false)), O::Refused);
        assert_eq!(O::of(false, None), O::Pending);
    }
}
