//! Outbound across the FFI: orders, pick lists, picking and packing, manifests, the driver's
//! route, return check-in and patient details. Conversions only; the rules are core's
//! (`custody_core::outbound`). Writes are announced as `ChangeKind::Outbound` (and `Inventory`
//! when the ledger changed).

use std::time::SystemTime;

use chrono::{DateTime, Utc};
use custody_core::ffi::{IsoDate, Timestamp};
use custody_core::ids::{BatchNumber, ItemName, LocationName, PackageTag, UserId};
pub use custody_core::outbound::order::OrderLine;
pub use custody_core::outbound::shipping::{DeliveryOutcome, ReturnDue, ReturnKind, StopState};
use custody_core::outbound::{self as core, patients, picking, print, shipping};
pub use custody_core::outbound::{Customer, Patient as PatientDetails};
pub use custody_core::work::manifest::Vehicle;
pub use custody_core::work::order::OrderStatus;
use custody_core::work::{manifest as mdoc, order as odoc};
use custody_core::{bounds, ids, input};
use uuid::Uuid;

use crate::client::CustodyClient;
use crate::error::CustodyError;
use crate::listener::ChangeKind;
use crate::types::{LedgerEvent, Quantity, id_in, location_in};

type Result<T, E = CustodyError> = std::result::Result<T, E>;

fn time_in(t: SystemTime) -> DateTime<Utc> {
    t.into()
}

/// An order line as typed: `unit_price` is a decimal string per unit of `quantity`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NewOrderLine {
    pub item: String,
    pub quantity: Quantity,
    pub unit_price: String,
}

/// An order as a manager enters it. `requested_on` is `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NewOrder {
    pub number: String,
    pub recipient_licence: String,
    pub requested_on: String,
    pub lines: Vec<NewOrderLine>,
    pub patient: Option<PatientDetails>,
}

impl TryFrom<NewOrder> for core::NewOrder {
    type Error = CustodyError;
    fn try_from(o: NewOrder) -> Result<Self> {
        let requested_on = input::date("requested delivery", &o.requested_on)?;
        let lines = o
            .lines
            .into_iter()
            .map(|l| {
                Ok(core::NewOrderLine {
                    item: ids::ItemName::parse(&l.item)?,
                    quantity: l.quantity,
                    unit_price: input::number("unit price", &l.unit_price)?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(core::NewOrder {
            number: o.number,
            recipient: ids::LicenseNumber::parse(&o.recipient_licence)?,
            requested_on,
            lines,
            patient: o.patient,
        })
    }
}

/// An order for list screens. Patient data appears only as `patient_ref`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct OrderSummary {
    pub id: Uuid,
    pub number: String,
    pub recipient: Customer,
    pub requested_on: IsoDate,
    pub status: OrderStatus,
    pub patient_ref: Option<String>,
    pub lines: Vec<OrderLine>,
}

fn order_out(id: Uuid, o: core::Order, status: odoc::OrderStatus) -> OrderSummary {
    OrderSummary {
        id,
        number: o.number,
        recipient: o.recipient,
        requested_on: o.requested_on,
        status,
        patient_ref: o.patient_ref,
        lines: o.lines,
    }
}

/// One entry of a pick list with its progress. `split_into` is the new tag when only part of
/// `tag` goes (weigh it out, scan `tag`, enter the weight); `picked_tag` is what went in the tote.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PickLine {
    pub line: u32,
    pub tag: PackageTag,
    pub item: ItemName,
    pub batch: BatchNumber,
    pub location: LocationName,
    pub expires_on: Option<IsoDate>,
    pub quantity: Quantity,
    pub split_into: Option<PackageTag>,
    pub substitute_for: Option<PackageTag>,
    pub picked_by: Option<String>,
    pub picked_tag: Option<PackageTag>,
    pub container: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Container {
    pub number: String,
    pub tags: Vec<PackageTag>,
}

/// The picking and packing screen.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PickList {
    pub order: OrderSummary,
    pub lines: Vec<PickLine>,
    /// Packages two pickers both scanned before their phones synced (one pick in the ledger).
    pub picked_twice: Vec<PackageTag>,
    /// Filled once the final check passed.
    pub containers: Vec<Container>,
}

impl From<picking::PickListView> for PickList {
    fn from(v: picking::PickListView) -> Self {
        PickList {
            lines: v
                .lines
                .into_iter()
                .map(|p| PickLine {
                    line: p.pick.line,
                    tag: p.pick.tag,
                    item: p.pick.item,
                    batch: p.pick.batch,
                    location: p.pick.location,
                    expires_on: p.pick.expires_on,
                    quantity: p.pick.quantity,
                    split_into: p.pick.split_into,
                    substitute_for: p.substitute_for,
                    picked_by: p.picked.as_ref().map(|k| k.by.name.clone()),
                    picked_tag: p.picked.map(|k| k.tag),
                    container: p.packed.map(|k| k.container),
                })
                .collect(),
            picked_twice: v.picked_twice,
            containers: v
                .final_check
                .map(|c| c.containers.into_iter().map(|(number, tags)| Container { number, tags }).collect())
                .unwrap_or_default(),
            order: order_out(v.id, v.order, v.status),
        }
    }
}

/// What a pick scan did; `remaining` entries are still to pick.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct PickResult {
    pub tag: PackageTag,
    pub line: u32,
    pub quantity: Quantity,
    pub split_from: Option<PackageTag>,
    pub remaining: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NewStop {
    pub order_id: String,
    pub planned_route: String,
    pub estimated_departure: SystemTime,
    pub estimated_arrival: SystemTime,
}

/// A manifest as a manager enters it; stops in route order, one packed order each.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct NewManifest {
    pub number: String,
    pub vehicle: Vehicle,
    pub driver_user_id: String,
    pub driver_licence_number: String,
    pub driver_occupational_licence: String,
    pub phone_for_questions: String,
    pub stops: Vec<NewStop>,
}

/// A GPS fix, decimal degrees and metres as decimal strings (never floats).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Gps {
    pub latitude: String,
    pub longitude: String,
    pub accuracy_m: String,
}

impl TryFrom<Gps> for mdoc::Gps {
    type Error = CustodyError;
    fn try_from(g: Gps) -> Result<Self> {
        let (lat, lon) = (input::number("latitude", &g.latitude)?, input::number("longitude", &g.longitude)?);
        mdoc::Gps::new(lat, lon, input::number("GPS accuracy", &g.accuracy_m)?).map_err(CustodyError::InvalidInput)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RoutePackage {
    pub tag: PackageTag,
    pub item: ItemName,
    pub batch: BatchNumber,
    pub quantity: Quantity,
    pub container: String,
    pub gross_weight: Quantity,
    pub wholesale_price: String,
    pub outcome: DeliveryOutcome,
    pub reason: Option<String>,
    pub at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RouteStop {
    pub number: u32,
    pub order_id: Uuid,
    pub order_number: String,
    pub recipient: Customer,
    pub patient_ref: Option<String>,
    pub planned_route: String,
    pub estimated_departure: Timestamp,
    pub estimated_arrival: Timestamp,
    pub state: StopState,
    pub receiver_name: Option<String>,
    pub receiver_licence: Option<String>,
    pub failed_reason: Option<String>,
    pub confirmed_at: Option<Timestamp>,
    pub packages: Vec<RoutePackage>,
}

/// A manifest and its route: the driver's screen and the office's progress view.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Route {
    pub id: Uuid,
    pub number: String,
    pub driver_name: String,
    pub driver_user_id: UserId,
    pub vehicle: Vehicle,
    pub departed_at: Option<Timestamp>,
    /// Every package delivered or back in the vault, or the manifest cancelled.
    pub closed: bool,
    /// Cancelled by a manager before the truck left: do not load it.
    pub cancelled: Option<Cancelled>,
    pub stops: Vec<RouteStop>,
}

/// A manager's cancellation of a manifest before it left.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Cancelled {
    pub reason: String,
    pub by: String,
    pub at: Timestamp,
}

impl From<shipping::RouteView> for Route {
    fn from(r: shipping::RouteView) -> Self {
        let m = r.manifest;
        Route {
            id: r.id,
            number: m.number,
            driver_name: m.driver.name,
            driver_user_id: m.driver.user,
            vehicle: m.vehicle,
            departed_at: r.departed.map(|d| d.at),
            closed: r.closed,
            cancelled: r.cancelled.map(|c| Cancelled { reason: c.reason, by: c.by.name, at: c.by.at }),
            stops: r
                .stops
                .into_iter()
                .map(|s| RouteStop {
                    number: s.stop.number,
                    order_id: s.stop.order,
                    order_number: s.stop.order_number,
                    recipient: s.stop.recipient,
                    patient_ref: s.stop.patient_ref,
                    planned_route: s.stop.planned_route,
                    estimated_departure: s.stop.estimated_departure,
                    estimated_arrival: s.stop.estimated_arrival,
                    state: s.state,
                    receiver_name: s.report.as_ref().filter(|r| r.failed.is_none()).map(|r| r.receiver_name.clone()),
                    receiver_licence: s.report.as_ref().filter(|r| r.failed.is_none()).map(|r| r.receiver_licence.clone()),
                    failed_reason: s.report.as_ref().and_then(|r| r.failed.clone()),
                    confirmed_at: s.report.as_ref().map(|r| r.by.at),
                    packages: s
                        .packages
                        .into_iter()
                        .map(|p| {
                            let outcome = p.delivery_outcome();
                            RoutePackage {
                                tag: p.package.tag,
                                item: p.package.item,
                                batch: p.package.batch,
                                quantity: p.package.quantity,
                                container: p.package.container,
                                gross_weight: p.package.gross_weight,
                                wholesale_price: bounds::money(p.package.wholesale_price),
                                outcome,
                                reason: p.outcome.as_ref().and_then(|o| o.reason.clone()),
                                at: p.outcome.as_ref().map(|o| o.by.at),
                            }
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RefusedPackage {
    pub tag: String,
    pub reason: String,
}

/// The driver's confirmation of a stop: every package not listed in `refused` is delivered.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct StopConfirmation {
    pub receiver_name: String,
    pub receiver_licence: String,
    pub refused: Vec<RefusedPackage>,
    pub gps: Option<Gps>,
}

fn events_out(events: Vec<custody_core::Event>) -> Vec<LedgerEvent> {
    events.into_iter().map(Into::into).collect()
}

#[uniffi::export]
impl CustodyClient {
    /// The dispensaries this facility ships to (from the server).
    pub fn customers(&self) -> Result<Vec<Customer>> {
        Ok(self.store.work(picking::customers)?)
    }

    /// Enters an order (managers); refused for an unknown customer or more than is available.
    pub fn create_order(&self, order: NewOrder) -> Result<String> {
        let order = order.try_into()?;
        let id = self.store.work(|w| picking::create_order(w, &order))?;
        self.changed(&[ChangeKind::Outbound]);
        Ok(id.to_string())
    }

    pub fn orders(&self) -> Result<Vec<OrderSummary>> {
        Ok(self.store.work(picking::orders)?.into_iter().map(|o| order_out(o.id, o.order, o.status)).collect())
    }

    /// Allocates stock, expiring first (managers).
    pub fn generate_pick_list(&self, order_id: String) -> Result<PickList> {
        let id = id_in("order", &order_id)?;
        self.store.work(|w| picking::generate_pick_list(w, id))?;
        self.changed(&[ChangeKind::Outbound]);
        Ok(self.store.work(|w| picking::pick_list(w, id))?.into())
    }

    pub fn pick_list(&self, order_id: String) -> Result<PickList> {
        let id = id_in("order", &order_id)?;
        Ok(self.store.work(|w| picking::pick_list(w, id))?.into())
    }

    /// Scans a package against the pick list; `quantity` is the weight taken for a split line.
    pub fn pick_scan(&self, order_id: String, raw: String, quantity: Option<Quantity>) -> Result<PickResult> {
        let id = id_in("order", &order_id)?;
        let r = self.store.work(|w| picking::pick_scan(w, id, &raw, quantity))?;
        self.changed(&[ChangeKind::Outbound, ChangeKind::Inventory]);
        Ok(PickResult {
            tag: r.tag,
            line: r.line,
            quantity: r.quantity,
            split_from: r.split_from,
            remaining: u32::try_from(r.remaining).unwrap_or(u32::MAX),
        })
    }

    /// A manager approves another package of the same item and batch instead of the allocated one.
    pub fn approve_substitute(&self, order_id: String, original: String, substitute: String, note: String) -> Result<()> {
        let id = id_in("order", &order_id)?;
        self.store.work(|w| picking::approve_substitute(w, id, &original, &substitute, &note))?;
        self.changed(&[ChangeKind::Outbound]);
        Ok(())
    }

    /// Puts a picked package in a numbered container with its gross weight.
    pub fn pack(&self, order_id: String, raw: String, container: String, gross_weight: Quantity) -> Result<()> {
        let id = id_in("order", &order_id)?;
        self.store.work(|w| picking::pack(w, id, &raw, &container, gross_weight))?;
        self.changed(&[ChangeKind::Outbound]);
        Ok(())
    }

    /// What the final check would refuse (one sentence each), without changing anything:
    /// empty when packing can finish. For the packing screen's checklist.
    pub fn packing_check(&self, order_id: String) -> Result<Vec<String>> {
        let id = id_in("order", &order_id)?;
        Ok(self.store.work(|w| picking::packing_check(w, id))?)
    }

    /// The final check; refused with what is missing.
    pub fn finish_packing(&self, order_id: String) -> Result<PickList> {
        let id = id_in("order", &order_id)?;
        self.store.work(|w| picking::finish_packing(w, id))?;
        self.changed(&[ChangeKind::Outbound]);
        Ok(self.store.work(|w| picking::pick_list(w, id))?.into())
    }

    /// Cancels an order (managers); what was picked waits in `returns_due` until the vault puts
    /// it back on a shelf.
    pub fn cancel_order(&self, order_id: String, reason: String) -> Result<()> {
        let id = id_in("order", &order_id)?;
        self.store.work(|w| picking::cancel_order(w, id, &reason))?;
        self.changed(&[ChangeKind::Outbound]);
        Ok(())
    }

    /// Builds a manifest from packed orders (managers); returns its id.
    pub fn create_manifest(&self, manifest: NewManifest) -> Result<String> {
        let stops = manifest
            .stops
            .into_iter()
            .map(|s| {
                Ok(shipping::NewStop {
                    order: id_in("order", &s.order_id)?,
                    planned_route: s.planned_route,
                    estimated_departure: time_in(s.estimated_departure),
                    estimated_arrival: time_in(s.estimated_arrival),
                })
            })
            .collect::<Result<_>>()?;
        let new = shipping::NewManifest {
            number: manifest.number,
            vehicle: manifest.vehicle,
            driver: ids::UserId::parse(&manifest.driver_user_id)?,
            driver_licence_number: manifest.driver_licence_number,
            driver_occupational_licence: manifest.driver_occupational_licence,
            phone_for_questions: manifest.phone_for_questions,
            stops,
        };
        let id = self.store.work(|w| shipping::create_manifest(w, &new))?;
        self.changed(&[ChangeKind::Outbound]);
        Ok(id.to_string())
    }

    /// Manifests on this device (a driver's phone: only their own routes).
    pub fn manifests(&self) -> Result<Vec<Route>> {
        Ok(self.store.work(shipping::manifests)?.into_iter().map(Into::into).collect())
    }

    pub fn route(&self, manifest_id: String) -> Result<Route> {
        let id = id_in("manifest", &manifest_id)?;
        Ok(self.store.work(|w| shipping::route(w, id))?.into())
    }

    /// Cancels a manifest before the truck leaves (managers); its orders stay packed for
    /// another manifest.
    pub fn cancel_manifest(&self, manifest_id: String, reason: String) -> Result<()> {
        let id = id_in("manifest", &manifest_id)?;
        self.store.work(|w| shipping::cancel_manifest(w, id, &reason))?;
        self.changed(&[ChangeKind::Outbound]);
        Ok(())
    }

    /// Departure: every package on the manifest is shipped in the ledger.
    pub fn depart(&self, manifest_id: String) -> Result<Vec<LedgerEvent>> {
        let id = id_in("manifest", &manifest_id)?;
        let events = self.store.work(|w| shipping::depart(w, id))?;
        self.changed(&[ChangeKind::Outbound, ChangeKind::Inventory]);
        Ok(events_out(events))
    }

    /// The driver confirms a stop (offline is fine): delivered except the refused ones.
    pub fn confirm_stop(&self, manifest_id: String, stop: u32, confirmation: StopConfirmation) -> Result<Vec<LedgerEvent>> {
        let c = shipping::StopConfirmation {
            receiver_name: confirmation.receiver_name,
            receiver_licence: confirmation.receiver_licence,
            refused: confirmation.refused.into_iter().map(|r| Ok((crate::types::tag_in(&r.tag)?, r.reason))).collect::<Result<_>>()?,
            gps: confirmation.gps.map(TryInto::try_into).transpose()?,
        };
        let id = id_in("manifest", &manifest_id)?;
        let events = self.store.work(|w| shipping::confirm_stop(w, id, stop, &c))?;
        self.changed(&[ChangeKind::Outbound, ChangeKind::Inventory]);
        Ok(events_out(events))
    }

    /// The stop could not be made (closed, refused entirely).
    pub fn fail_stop(&self, manifest_id: String, stop: u32, reason: String, gps: Option<Gps>) -> Result<()> {
        let gps = gps.map(TryInto::try_into).transpose()?;
        let id = id_in("manifest", &manifest_id)?;
        self.store.work(|w| shipping::fail_stop(w, id, stop, &reason, gps))?;
        self.changed(&[ChangeKind::Outbound]);
        Ok(())
    }

    /// What the vault expects back: refused and undelivered packages, and the picks of
    /// cancelled orders; the certain ones first.
    pub fn returns_due(&self) -> Result<Vec<ReturnDue>> {
        Ok(self.store.work(shipping::returns_due)?)
    }

    /// Checks a package due back (refused, undelivered, or picked for a cancelled order) into
    /// stock at `location`.
    pub fn return_check_in(&self, raw: String, location: String) -> Result<LedgerEvent> {
        let location = location_in(&location)?;
        let event = self.store.work(|w| shipping::return_check_in(w, &raw, &location))?;
        self.changed(&[ChangeKind::Outbound, ChangeKind::Inventory]);
        Ok(event.into())
    }

    /// The printable manifest as HTML (all stops, or one); patient data redacted.
    pub fn manifest_html(&self, manifest_id: String, stop: Option<u32>) -> Result<String> {
        let id = id_in("manifest", &manifest_id)?;
        Ok(self.store.work(|w| print::manifest_page(w, id, stop))?)
    }

    /// A medical order's patient, for a manager or the route's driver; the view is logged.
    pub fn patient(&self, order_id: String, purpose: String) -> Result<PatientDetails> {
        let id = id_in("order", &order_id)?;
        Ok(self.store.work(|w| patients::patient(w, id, &purpose))?)
    }
}
