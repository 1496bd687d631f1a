//! The inventory as a deterministic fold over the ledger.
//!
//! Each package's state depends only on the events in its own history (a split carries the new
//! package's facts), so the fold is per package: the same events in any arrival order give the
//! same packages and the same conflicts on every replica, and a device can refold a single package
//! when a late event arrives instead of the whole ledger.
//!
//! Invariant breaks never drop or rewrite an event. The event is applied as far as it makes sense
//! and a [`Conflict`] is raised for a manager.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::event::{Event, EventBody};
use crate::hlc::Hlc;
use crate::ids::{BatchNumber, DeviceId, ItemName, LocationName, PackageTag, UserId};
use crate::quantity::{Quantity, QuantityError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum PackageStatus {
    /// On hand and available.
    Active,
    /// On hand, held: cannot be picked or shipped until released.
    Quarantined,
    /// Allocated to an order and taken off the shelf.
    Picked,
    /// Left the facility on a manifest.
    Shipped,
    Delivered,
    Destroyed,
}

impl PackageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PackageStatus::Active => "active",
            PackageStatus::Quarantined => "quarantined",
            PackageStatus::Picked => "picked",
            PackageStatus::Shipped => "shipped",
            PackageStatus::Delivered => "delivered",
            PackageStatus::Destroyed => "destroyed",
        }
    }

    pub fn on_hand(self) -> bool {
        matches!(self, PackageStatus::Active | PackageStatus::Quarantined | PackageStatus::Picked)
    }
}

pub use crate::event::{ConflictId, ConflictKind, Resolution};

/// An invariant break for a manager to resolve. Identified by the event that caused it and the
/// package it concerns, so every replica lists the same records.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Conflict {
    pub tag: PackageTag,
    pub kind: ConflictKind,
    #[cfg_attr(feature = "uniffi", uniffi(name = "event_id"))]
    pub event: Uuid,
    /// The earlier event it clashes with, where there is one.
    #[cfg_attr(feature = "uniffi", uniffi(name = "other_event_id"))]
    pub other_event: Option<Uuid>,
    pub detail: String,
    /// A manager's decision, once a `ConflictResolved` event for it has folded. A resolved
    /// conflict stays listed, as history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<ConflictResolution>,
}

impl Conflict {
    /// The identity a resolution names: the same on every replica.
    pub fn id(&self) -> ConflictId {
        ConflictId { event: self.event, kind: self.kind }
    }

    pub fn is_open(&self) -> bool {
        self.resolved.is_none()
    }
}

/// Who resolved a conflict, when, how and why: read from the resolving event itself.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ConflictResolution {
    /// The `ConflictResolved` event.
    #[cfg_attr(feature = "uniffi", uniffi(name = "event_id"))]
    pub event: Uuid,
    /// The manager who signed it.
    pub by: UserId,
    /// Its stamp (the corrected clock of the phone that recorded it).
    pub at: chrono::DateTime<chrono::Utc>,
    pub resolution: Resolution,
    pub note: String,
}

impl ConflictResolution {
    fn of(event: &Event, resolution: &Resolution, note: &str) -> Self {
        Self {
            event: event.id,
            by: event.user,
            at: chrono::DateTime::from_timestamp_millis(event.hlc.wall_ms).unwrap_or_default(),
            resolution: resolution.clone(),
            note: note.to_string(),
        }
    }
}

/// A resolution folded before the conflict it names was raised (only a late event that sorts
/// earlier, or a forged stamp, can cause it): kept, and applied when that conflict is raised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct WaitingResolution {
    conflict: ConflictId,
    resolution: ConflictResolution,
    device: DeviceId,
}

/// The latest move of a package, remembered to spot concurrent moves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct MoveMark {
    event: Uuid,
    device: DeviceId,
    to: LocationName,
    /// Position of the move in the package's history.
    position: usize,
}

/// What a package is and where it stands: the facts every view of a package shares (the fold's
/// [`Package`], the screens' `store::PackageView`, an allocation's `picklist::Candidate`), once.
///
/// The ledger's `Received` and `Split` bodies are not built from it: they carry no tag (the
/// event names it) and no status (a new package is active), and their serialized bytes are
/// signed and hash-chained, so they keep their own fields (docs/decisions/0018).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct PackageFacts {
    pub tag: PackageTag,
    pub item: ItemName,
    pub batch: BatchNumber,
    pub quantity: Quantity,
    pub location: LocationName,
    pub status: PackageStatus,
    /// `YYYY-MM-DD` across the FFI.
    pub expires_on: Option<NaiveDate>,
}

/// Reading a package's facts reads them as its own (`package.tag`), as before they were
/// gathered in [`PackageFacts`]: the package *is* these facts plus its place in the ledger.
macro_rules! package_facts_deref {
    ($($ty:ty),*) => {$(
        impl std::ops::Deref for $ty {
            type Target = $crate::fold::PackageFacts;
            fn deref(&self) -> &Self::Target {
                &self.facts
            }
        }
        impl std::ops::DerefMut for $ty {
            fn deref_mut(&mut self) -> &mut Self::Target {
                &mut self.facts
            }
        }
    )*};
}
pub(crate) use package_facts_deref;

package_facts_deref!(Package);

/// One package as the fold sees it.
///
/// Stored as JSON in the device's `folds` table: `facts` is flattened, so the stored state
/// reads and writes exactly as when these fields were the package's own (a test holds a state
/// written before).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    #[serde(flatten)]
    pub facts: PackageFacts,
    /// The last event applied: what a device names as `parent` when it records the next one.
    pub head: Uuid,
    pub head_hlc: Hlc,
    /// When the package came into being here (its receipt or split): first-in-first-out orders
    /// by this stamp, not by an untrusted device clock.
    #[serde(default)]
    pub since: Hlc,
    /// The order it was picked for, while it is picked or shipped.
    #[serde(default)]
    pub order: Option<String>,
    /// Ids of the events applied, in canonical order.
    history: Vec<Uuid>,
    last_move: Option<MoveMark>,
}

/// A package's fold state: possibly not yet received (events about it arrived first or were
/// about a tag never received).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageFold {
    pub package: Option<Package>,
    /// Ids of events applied while the package was unknown.
    orphans: Vec<Uuid>,
    pub conflicts: Vec<Conflict>,
    /// Resolutions whose conflict has not been raised (yet) in canonical order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    waiting: Vec<WaitingResolution>,
}

impl PackageFold {
    /// Folds one package's history. `events` may be in any order; they are sorted canonically.
    pub fn fold<'a>(tag: &PackageTag, events: impl IntoIterator<Item = &'a Event>) -> Self {
        let mut events: Vec<&Event> = events.into_iter().collect();
        events.sort_by_key(|e| e.order_key());
        let mut fold = Self::default();
        for event in events {
            fold.apply(tag, event);
        }
        fold
    }

    /// The canonical key of the last event applied, so callers know whether a new event can be
    /// applied on top or the package must be refolded.
    pub fn last_key(&self) -> Option<Hlc> {
        self.package.as_ref().map(|p| p.head_hlc)
    }

    /// Applies the next event of this package's history in canonical order.
    pub fn apply(&mut self, tag: &PackageTag, event: &Event) {
        let raised_before = self.conflicts.len();
        if let EventBody::ConflictResolved { conflict, resolution, note } = &event.body {
            self.resolve(tag, event, *conflict, resolution, note);
            self.touch(event);
        } else {
            self.apply_fact(tag, event);
        }
        self.settle_waiting(raised_before);
    }

    /// A manager's resolution, at its place in canonical order: the open conflict it names is
    /// marked resolved and the decision applied; a second resolution of the same conflict is
    /// itself a conflict (two managers decided without seeing each other) and changes nothing.
    fn resolve(&mut self, tag: &PackageTag, event: &Event, conflict: ConflictId, resolution: &Resolution, note: &str) {
        let record = ConflictResolution::of(event, resolution, note);
        let mut named = self.conflicts.iter_mut().filter(|c| c.id() == conflict).peekable();
        if named.peek().is_none() {
            self.waiting.push(WaitingResolution { conflict, resolution: record, device: event.device });
            return;
        }
        let mut resolved_now = false;
        let mut earlier = None;
        for c in named {
            match &c.resolved {
                None => {
                    c.resolved = Some(record.clone());
                    resolved_now = true;
                }
                Some(done) => earlier = Some(done.event),
            }
        }
        if resolved_now {
            let position = self.package.as_ref().map_or(0, |p| p.history.len());
            self.decide(&record, event.device, position);
        } else {
            self.conflicts.push(Conflict {
                tag: tag.clone(),
                kind: ConflictKind::InvalidTransition,
                event: event.id,
                other_event: earlier,
                detail: format!(
                    "the {} conflict of {tag} was resolved twice; the second decision, {}, was not applied",
                    conflict.kind,
                    resolution.describe()
                ),
                resolved: None,
            });
        }
    }

    /// Applies what a resolution decided. Only "the package is at X" changes the package: it
    /// counts as a move, so a later move that did not see it is a concurrent move again.
    fn decide(&mut self, record: &ConflictResolution, device: DeviceId, position: usize) {
        if let (Resolution::LocatedAt { location }, Some(pkg)) = (&record.resolution, self.package.as_mut()) {
            pkg.location = location.clone();
            pkg.last_move = Some(MoveMark { event: record.event, device, to: location.clone(), position });
        }
    }

    /// Resolutions waiting for a conflict raised by the event just applied resolve it now.
    fn settle_waiting(&mut self, raised_before: usize) {
        if self.waiting.is_empty() {
            return;
        }
        for i in raised_before..self.conflicts.len() {
            let id = self.conflicts[i].id();
            if let Some(at) = self.waiting.iter().position(|w| w.conflict == id) {
                let waiting = self.waiting.remove(at);
                self.conflicts[i].resolved = Some(waiting.resolution.clone());
                let position = self.package.as_ref().map_or(0, |p| p.history.len().saturating_sub(1));
                self.decide(&waiting.resolution, waiting.device, position);
            }
        }
    }

    /// Applies an event that records a fact about the package.
    fn apply_fact(&mut self, tag: &PackageTag, event: &Event) {
        let mut raise = |kind, other_event, detail: String| {
            self.conflicts.push(Conflict { tag: tag.clone(), kind, event: event.id, other_event, detail, resolved: None });
        };

        // The new package of a split is born from the split event.
        if let EventBody::Split { new_tag, quantity, item, batch, location, expires_on } = &event.body
            && new_tag == tag
        {
            match &self.package {
                Some(existing) if existing.status.on_hand() => raise(
                    ConflictKind::DuplicateReceipt,
                    Some(existing.head),
                    format!("{tag} was split off from {} but is already in inventory", event.tag),
                ),
                _ => {
                    self.package =
                        Some(Package::new(tag.clone(), item.clone(), batch.clone(), *quantity, location.clone(), *expires_on, event));
                    return;
                }
            }
            self.touch(event);
            return;
        }

        let Some(pkg) = self.package.as_mut() else {
            match &event.body {
                EventBody::Received { item, batch, quantity, location, expires_on, .. } => {
                    self.package =
                        Some(Package::new(tag.clone(), item.clone(), batch.clone(), *quantity, location.clone(), *expires_on, event));
                }
                _ => {
                    self.orphans.push(event.id);
                    raise(
                        ConflictKind::UnknownPackage,
                        None,
                        format!("a {} was recorded for {tag}, which was never received here", event.kind()),
                    );
                }
            }
            return;
        };

        let status = pkg.status;
        let gone = |s: PackageStatus| !s.on_hand();
        match &event.body {
            EventBody::Received { item, batch, quantity, location, expires_on, .. } => {
                if status.on_hand() {
                    raise(ConflictKind::DuplicateReceipt, Some(pkg.head), format!("{tag} was received again while already in inventory"));
                } else {
                    // A package that left and comes back under the same tag is re-received.
                    *pkg = Package::new(tag.clone(), item.clone(), batch.clone(), *quantity, location.clone(), *expires_on, event)
                        .with_history(std::mem::take(&mut pkg.history));
                }
            }
            EventBody::Moved { to } => {
                if gone(status) {
                    raise(
                        ConflictKind::InvalidTransition,
                        Some(pkg.head),
                        format!("{tag} was moved to {to} but it is {}", status.as_str()),
                    );
                }
                if let Some(mark) = &pkg.last_move {
                    let parent_position = event.parent.and_then(|p| pkg.history.iter().position(|h| *h == p));
                    let saw_last_move = parent_position.is_some_and(|p| p >= mark.position);
                    if !saw_last_move && mark.device != event.device && mark.to != *to {
                        raise(
                            ConflictKind::ConcurrentMove,
                            Some(mark.event),
                            format!("{tag} was moved to {} and to {to} by two devices at the same time; check where it is", mark.to),
                        );
                    }
                }
                pkg.location = to.clone();
                pkg.last_move = Some(MoveMark { event: event.id, device: event.device, to: to.clone(), position: pkg.history.len() });
            }
            EventBody::Adjusted { delta, .. } => {
                if gone(status) {
                    raise(ConflictKind::InvalidTransition, Some(pkg.head), format!("{tag} was adjusted but it is {}", status.as_str()));
                }
                match pkg.quantity.checked_add(delta) {
                    Ok(q) => {
                        if q.is_negative() {
                            raise(ConflictKind::NegativeStock, Some(pkg.head), format!("adjusting {tag} by {delta} leaves {q}"));
                        }
                        pkg.quantity = q;
                    }
                    Err(e @ QuantityError::IncompatibleUnits(..)) => {
                        raise(ConflictKind::UnitMismatch, None, format!("adjustment of {tag} refused by the fold: {e}"))
                    }
                    // Only an event accepted before the domain bounds existed can get here; the
                    // quantity stays as it was and the event stays visible to a manager.
                    Err(e) => raise(ConflictKind::InvalidTransition, Some(pkg.head), format!("adjustment of {tag} not applied: {e}")),
                }
            }
            EventBody::Quarantined { .. } => {
                if gone(status) {
                    raise(ConflictKind::InvalidTransition, Some(pkg.head), format!("{tag} was quarantined but it is {}", status.as_str()));
                } else {
                    pkg.status = PackageStatus::Quarantined;
                }
            }
            EventBody::Released { .. } => {
                if status == PackageStatus::Quarantined {
                    pkg.status = PackageStatus::Active;
                } else {
                    raise(
                        ConflictKind::InvalidTransition,
                        Some(pkg.head),
                        format!("{tag} was released but it is {}, not quarantined", status.as_str()),
                    );
                }
            }
            EventBody::Picked { order } => match status {
                PackageStatus::Active => {
                    pkg.status = PackageStatus::Picked;
                    pkg.order = Some(order.clone());
                }
                // Two pickers sharing a list may both scan it before they sync: one pick.
                PackageStatus::Picked if pkg.order.as_deref() == Some(order.as_str()) => {}
                PackageStatus::Picked => raise(
                    ConflictKind::InvalidTransition,
                    Some(pkg.head),
                    format!(
                        "{tag} was picked for order {order} but it is already picked for order {}",
                        pkg.order.as_deref().unwrap_or("?")
                    ),
                ),
                PackageStatus::Quarantined => raise(
                    ConflictKind::QuarantinedPicked,
                    Some(pkg.head),
                    format!("{tag} was picked while quarantined; it stays quarantined"),
                ),
                other => raise(ConflictKind::InvalidTransition, Some(pkg.head), format!("{tag} was picked but it is {}", other.as_str())),
            },
            EventBody::Shipped { manifest } => match status {
                PackageStatus::Active | PackageStatus::Picked => pkg.status = PackageStatus::Shipped,
                PackageStatus::Quarantined => raise(
                    ConflictKind::QuarantinedPicked,
                    Some(pkg.head),
                    format!("{tag} was shipped on manifest {manifest} while quarantined"),
                ),
                PackageStatus::Shipped | PackageStatus::Delivered => raise(
                    ConflictKind::ShippedTwice,
                    Some(pkg.head),
                    format!("{tag} was shipped on manifest {manifest} after it had already left"),
                ),
                PackageStatus::Destroyed => {
                    raise(ConflictKind::InvalidTransition, Some(pkg.head), format!("{tag} was shipped but it was destroyed"))
                }
            },
            EventBody::Delivered { recipient } => {
                if status == PackageStatus::Shipped {
                    pkg.status = PackageStatus::Delivered;
                } else {
                    raise(
                        ConflictKind::InvalidTransition,
                        Some(pkg.head),
                        format!("{tag} was delivered to {recipient} but it is {}", status.as_str()),
                    );
                }
            }
            EventBody::Returned { location, .. } => {
                if matches!(status, PackageStatus::Shipped | PackageStatus::Delivered | PackageStatus::Picked) {
                    pkg.status = PackageStatus::Active;
                    pkg.location = location.clone();
                    pkg.order = None;
                } else {
                    raise(ConflictKind::InvalidTransition, Some(pkg.head), format!("{tag} was returned but it is {}", status.as_str()));
                }
            }
            EventBody::Destroyed { .. } => {
                if gone(status) {
                    raise(ConflictKind::InvalidTransition, Some(pkg.head), format!("{tag} was destroyed but it is {}", status.as_str()));
                } else {
                    pkg.status = PackageStatus::Destroyed;
                    pkg.quantity = Quantity::zero(pkg.quantity.unit);
                }
            }
            EventBody::Split { new_tag, quantity, .. } => {
                if gone(status) {
                    raise(ConflictKind::InvalidTransition, Some(pkg.head), format!("{tag} was split but it is {}", status.as_str()));
                }
                match pkg.quantity.checked_sub(quantity) {
                    Ok(q) => {
                        if q.is_negative() {
                            raise(
                                ConflictKind::NegativeStock,
                                Some(pkg.head),
                                format!("splitting {quantity} off {tag} into {new_tag} leaves {q}"),
                            );
                        }
                        pkg.quantity = q;
                    }
                    Err(e @ QuantityError::IncompatibleUnits(..)) => {
                        raise(ConflictKind::UnitMismatch, None, format!("split of {tag} refused by the fold: {e}"))
                    }
                    Err(e) => raise(ConflictKind::InvalidTransition, Some(pkg.head), format!("split of {tag} not applied: {e}")),
                }
            }
            // Folded by `resolve`, never here.
            EventBody::ConflictResolved { .. } => {}
        }
        self.touch(event);
    }

    fn touch(&mut self, event: &Event) {
        if let Some(pkg) = self.package.as_mut() {
            pkg.head = event.id;
            pkg.head_hlc = event.hlc;
            pkg.history.push(event.id);
        }
    }
}

impl Package {
    fn new(
        tag: PackageTag,
        item: ItemName,
        batch: BatchNumber,
        quantity: Quantity,
        location: LocationName,
        expires_on: Option<NaiveDate>,
        event: &Event,
    ) -> Self {
        Self {
            facts: PackageFacts { tag, item, batch, quantity, location, status: PackageStatus::Active, expires_on },
            head: event.id,
            head_hlc: event.hlc,
            since: event.hlc,
            order: None,
            history: vec![event.id],
            last_move: None,
        }
    }

    fn with_history(mut self, mut earlier: Vec<Uuid>) -> Self {
        earlier.append(&mut self.history);
        self.history = earlier;
        self
    }

    /// Number of events in the package's history.
    pub fn event_count(&self) -> usize {
        self.history.len()
    }
}

/// The whole inventory: every package and every conflict, folded from an event set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    pub packages: BTreeMap<PackageTag, Package>,
    pub conflicts: Vec<Conflict>,
}

impl Inventory {
    /// Folds an event set. Duplicated events (same id) count once; arrival order does not matter.
    pub fn fold<'a>(events: impl IntoIterator<Item = &'a Event>) -> Self {
        let mut by_tag: BTreeMap<&PackageTag, BTreeMap<(Hlc, DeviceId, Uuid), &Event>> = BTreeMap::new();
        for event in events {
            for tag in event.tags() {
                by_tag.entry(tag).or_default().insert(event.order_key(), event);
            }
        }
        let mut inventory = Inventory::default();
        for (tag, events) in by_tag {
            let mut fold = PackageFold::default();
            for event in events.values() {
                fold.apply(tag, event);
            }
            inventory.conflicts.append(&mut fold.conflicts);
            if let Some(pkg) = fold.package {
                inventory.packages.insert(tag.clone(), pkg);
            }
        }
        inventory.conflicts.sort();
        inventory
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{GENESIS_HASH, UnsealedEvent};
    use crate::ids::{LicenseNumber, UserId};
    use crate::quantity::Unit;
    use rust_decimal::Decimal;

    pub(super) fn tag(n: u32) -> PackageTag {
        PackageTag::parse(&format!("1A4FF01000000220000{n:05}")).unwrap()
    }

    pub(super) fn ev(device: DeviceId, wall: i64, t: &PackageTag, parent: Option<Uuid>, body: EventBody) -> Event {
        UnsealedEvent {
            id: Uuid::now_v7(),
            facility: LicenseNumber::parse("C11-1").unwrap(),
            tag: t.clone(),
            user: UserId::new(),
            device,
            device_seq: 1,
            hlc: Hlc { wall_ms: wall, counter: 0 },
            parent,
            body,
            prev_hash: GENESIS_HASH.into(),
        }
        .seal()
    }

    /// A package's fold state as the device stored it (the `folds` table) before the facts were
    /// gathered in `PackageFacts`: the package's own fields, in declaration order.
    const STORED_BEFORE_FACTS: &str = r#"{"package":{"tag":"1A4FF0100000022000000001","item":"Live Resin 1g","batch":"LR-1","quantity":{"amount":"10","unit":"g"},"location":"Vault A","status":"active","expires_on":null,"head":"01a23b72-7887-76b3-9e8b-628462b5085d","head_hlc":{"wall_ms":2000,"counter":0},"since":{"wall_ms":1000,"counter":0},"order":null,"history":["01a23b72-7887-76b3-9e8b-62810953dbe3","01a23b72-7887-76b3-9e8b-628462b5085d"],"last_move":{"event":"01a23b72-7887-76b3-9e8b-628462b5085d","device":"01a23b72-7887-76b3-9e8b-628378d5c1ed","to":"Vault A","position":1}},"orphans":[],"conflicts":[]}"#;

    #[test]
    fn a_stored_fold_state_reads_and_writes_the_same_bytes() {
        let fold: PackageFold = serde_json::from_str(STORED_BEFORE_FACTS).unwrap();
        let package = fold.package.as_ref().unwrap();
        assert_eq!(
            (package.tag.as_str(), package.location.as_str(), package.status),
            ("1A4FF0100000022000000001", "Vault A", PackageStatus::Active)
        );
        assert_eq!(package.event_count(), 2);
        assert_eq!(serde_json::to_string(&fold).unwrap(), STORED_BEFORE_FACTS);
    }

    pub(super) fn received(grams: i64) -> EventBody {
        EventBody::Received {
            item: ItemName::parse("Live Resin 1g").unwrap(),
            batch: BatchNumber::parse("LR-1").unwrap(),
            quantity: Quantity::new(Decimal::new(grams, 0), Unit::G).unwrap(),
            location: LocationName::parse("Intake").unwrap(),
            expires_on: None,
            manifest: None,
            via: None,
        }
    }

    pub(super) fn moved(to: &str) -> EventBody {
        EventBody::Moved { to: LocationName::parse(to).unwrap() }
    }

    #[test]
    fn folds_a_simple_history() {
        let d = DeviceId::new();
        let t = tag(1);
        let r = ev(d, 1, &t, None, received(100));
        let m = ev(d, 2, &t, Some(r.id), moved("Vault A"));
        let a = ev(
            d,
            3,
            &t,
            Some(m.id),
            EventBody::Adjusted {
                request: None,
                delta: Quantity::change(Decimal::new(-250, 2), Unit::G).unwrap(),
                reason: "Drying".into(),
                note: "weighed".into(),
            },
        );
        let inv = Inventory::fold([&a, &r, &m]);
        let p = &inv.packages[&t];
        assert_eq!(p.quantity.amount, Decimal::new(9750, 2));
        assert_eq!(p.location.as_str(), "Vault A");
        assert_eq!(p.head, a.id);
        assert!(inv.conflicts.is_empty());
    }

    #[test]
    fn concurrent_moves_from_two_devices_conflict() {
        let (d1, d2) = (DeviceId::new(), DeviceId::new());
        let t = tag(2);
        let r = ev(d1, 1, &t, None, received(10));
        let m1 = ev(d1, 5, &t, Some(r.id), moved("Vault A"));
        let m2 = ev(d2, 6, &t, Some(r.id), moved("Vault B"));
        let inv = Inventory::fold([&m2, &r, &m1]);
        assert_eq!(inv.conflicts.len(), 1);
        assert_eq!(inv.conflicts[0].kind, ConflictKind::ConcurrentMove);
        assert_eq!(inv.packages[&t].location.as_str(), "Vault B");
        // A move that saw the other one is not a conflict.
        let m3 = ev(d2, 7, &t, Some(m1.id), moved("Vault C"));
        let inv = Inventory::fold([&r, &m1, &m3]);
        assert!(inv.conflicts.is_empty());
    }

    #[test]
    fn invariant_breaks_become_conflicts_without_dropping_events() {
        let d = DeviceId::new();
        let t = tag(3);
        let r = ev(d, 1, &t, None, received(5));
        let q = ev(d, 2, &t, Some(r.id), EventBody::Quarantined { reason: "count variance".into() });
        let p = ev(d, 3, &t, Some(q.id), EventBody::Picked { order: "SO-1".into() });
        let adj = ev(
            d,
            4,
            &t,
            Some(p.id),
            EventBody::Adjusted {
                request: None,
                delta: Quantity::change(Decimal::new(-6, 0), Unit::G).unwrap(),
                reason: "Theft".into(),
                note: "missing".into(),
            },
        );
        let rel = ev(d, 5, &t, Some(adj.id), EventBody::Released { request: None, note: "ok".into() });
        let s1 = ev(d, 6, &t, Some(rel.id), EventBody::Shipped { manifest: "M1".into() });
        let s2 = ev(d, 7, &t, Some(s1.id), EventBody::Shipped { manifest: "M2".into() });
        let inv = Inventory::fold([&s2, &s1, &rel, &adj, &p, &q, &r]);
        let kinds: Vec<_> = inv.conflicts.iter().map(|c| c.kind).collect();
        assert!(kinds.contains(&ConflictKind::QuarantinedPicked));
        assert!(kinds.contains(&ConflictKind::NegativeStock));
        assert!(kinds.contains(&ConflictKind::ShippedTwice));
        let pkg = &inv.packages[&t];
        assert_eq!(pkg.event_count(), 7, "every event stays in the history");
        assert_eq!(pkg.quantity.amount, Decimal::new(-1, 0));
        assert_eq!(pkg.status, PackageStatus::Shipped);
    }

    #[test]
    fn split_creates_the_new_package() {
        let d = DeviceId::new();
        let (src, dst) = (tag(4), tag(5));
        let r = ev(d, 1, &src, None, received(100));
        let s = ev(
            d,
            2,
            &src,
            Some(r.id),
            EventBody::Split {
                new_tag: dst.clone(),
                quantity: Quantity::new(Decimal::new(30, 0), Unit::G).unwrap(),
                item: ItemName::parse("Live Resin 1g").unwrap(),
                batch: BatchNumber::parse("LR-1").unwrap(),
                location: LocationName::parse("Pack bench").unwrap(),
                expires_on: None,
            },
        );
        let inv = Inventory::fold([&s, &r]);
        assert_eq!(inv.packages[&src].quantity.amount, Decimal::new(70, 0));
        assert_eq!(inv.packages[&dst].quantity.amount, Decimal::new(30, 0));
        assert_eq!(inv.packages[&dst].location.as_str(), "Pack bench");
    }

    #[test]
    fn events_for_unknown_packages_are_reported() {
        let t = tag(6);
        let m = ev(DeviceId::new(), 1, &t, None, moved("Vault A"));
        let inv = Inventory::fold([&m]);
        assert!(inv.packages.is_empty());
        assert_eq!(inv.conflicts[0].kind, ConflictKind::UnknownPackage);
    }
}

/// Resolutions (docs/decisions/0022): a manager's decision folds the same on every replica, in
/// whatever order the events arrive.
#[cfg(test)]
mod resolution_tests {
    use super::tests::{ev, moved, received, tag};
    use super::*;
    use crate::quantity::Unit;
    use proptest::prelude::*;
    use rust_decimal::Decimal;

    fn located_at(raised_by: &Event, at: &str) -> EventBody {
        EventBody::ConflictResolved {
            conflict: ConflictId { event: raised_by.id, kind: ConflictKind::ConcurrentMove },
            resolution: Resolution::LocatedAt { location: LocationName::parse(at).unwrap() },
            note: "walked the aisle: it is on the shelf".into(),
        }
    }

    /// A receipt and two devices' concurrent moves: the second move (m2, to Vault B) raises the
    /// conflict.
    fn concurrent(t: &PackageTag) -> (Event, Event, Event) {
        let r = ev(DeviceId::new(), 1, t, None, received(10));
        let m1 = ev(DeviceId::new(), 5, t, Some(r.id), moved("Vault A"));
        let m2 = ev(DeviceId::new(), 6, t, Some(r.id), moved("Vault B"));
        (r, m1, m2)
    }

    #[test]
    fn a_resolution_puts_the_package_where_the_manager_says_and_closes_the_conflict() {
        let t = tag(1);
        let (r, m1, m2) = concurrent(&t);
        let fix = ev(DeviceId::new(), 9, &t, Some(m2.id), located_at(&m2, "Vault A"));
        let inv = Inventory::fold([&fix, &m2, &r, &m1]);
        let pkg = &inv.packages[&t];
        assert_eq!(pkg.location.as_str(), "Vault A", "the fold alone had it in Vault B");
        assert_eq!(pkg.event_count(), 4, "the moves stay in the history");
        assert_eq!(inv.conflicts.len(), 1);
        let done = inv.conflicts[0].resolved.as_ref().expect("resolved");
        assert_eq!((done.event, done.by, done.note.as_str()), (fix.id, fix.user, "walked the aisle: it is on the shelf"));
        assert_eq!(done.at.timestamp_millis(), 9);

        // A move after the resolution that did not see it is a concurrent move again.
        let late = ev(DeviceId::new(), 10, &t, Some(m2.id), moved("Vault C"));
        let inv = Inventory::fold([&fix, &m2, &r, &m1, &late]);
        let open: Vec<_> = inv.conflicts.iter().filter(|c| c.is_open()).collect();
        assert_eq!((open.len(), open[0].event, open[0].other_event), (1, late.id, Some(fix.id)));
    }

    #[test]
    fn a_second_resolution_of_the_same_conflict_changes_nothing_and_is_itself_a_conflict() {
        let t = tag(2);
        let (r, m1, m2) = concurrent(&t);
        let first = ev(DeviceId::new(), 9, &t, Some(m2.id), located_at(&m2, "Vault A"));
        let second = ev(DeviceId::new(), 10, &t, Some(m2.id), located_at(&m2, "Vault B"));
        let inv = Inventory::fold([&second, &first, &m2, &r, &m1]);
        assert_eq!(inv.packages[&t].location.as_str(), "Vault A");
        let twice = inv.conflicts.iter().find(|c| c.event == second.id).expect("the second decision is reported");
        assert_eq!((twice.kind, twice.other_event), (ConflictKind::InvalidTransition, Some(first.id)));
        assert!(twice.detail.contains("resolved twice"), "{}", twice.detail);
    }

    #[test]
    fn a_resolution_stamped_before_its_conflict_still_resolves_it() {
        // Only a forged or shifted stamp does this; the result must still be one state.
        let t = tag(3);
        let (r, m1, m2) = concurrent(&t);
        let early = ev(DeviceId::new(), 2, &t, Some(r.id), located_at(&m2, "Vault A"));
        let inv = Inventory::fold([&m2, &early, &m1, &r]);
        assert_eq!(inv.packages[&t].location.as_str(), "Vault A");
        assert!(inv.conflicts.iter().all(|c| !c.is_open()), "{:?}", inv.conflicts);
    }

    #[test]
    fn acknowledging_negative_stock_changes_no_quantity() {
        let t = tag(4);
        let d = DeviceId::new();
        let r = ev(d, 1, &t, None, received(5));
        let delta = Quantity::change(Decimal::new(-6, 0), Unit::G).unwrap();
        let adj = ev(d, 2, &t, Some(r.id), EventBody::Adjusted { request: None, delta, reason: "Theft".into(), note: "gone".into() });
        let ack = ev(
            DeviceId::new(),
            3,
            &t,
            Some(adj.id),
            EventBody::ConflictResolved {
                conflict: ConflictId { event: adj.id, kind: ConflictKind::NegativeStock },
                resolution: Resolution::Acknowledged,
                note: "scale was off; recount follows".into(),
            },
        );
        let inv = Inventory::fold([&ack, &adj, &r]);
        assert_eq!(inv.packages[&t].quantity.amount, Decimal::new(-1, 0));
        assert_eq!(inv.conflicts.len(), 1);
        assert!(!inv.conflicts[0].is_open());
    }

    #[test]
    fn a_resolution_that_does_not_fit_the_kind_or_has_no_note_is_refused() {
        let t = tag(5);
        let (_, _, m2) = concurrent(&t);
        let wrong = EventBody::ConflictResolved {
            conflict: ConflictId { event: m2.id, kind: ConflictKind::ConcurrentMove },
            resolution: Resolution::Acknowledged,
            note: "fine".into(),
        };
        assert_eq!(
            wrong.validate().unwrap_err().to_string(),
            "\"acknowledged after investigation\" does not resolve a concurrent move conflict; say where the package is"
        );
        let silent = EventBody::ConflictResolved {
            conflict: ConflictId { event: m2.id, kind: ConflictKind::ConcurrentMove },
            resolution: Resolution::LocatedAt { location: LocationName::parse("Vault A").unwrap() },
            note: "  ".into(),
        };
        assert_eq!(silent.validate().unwrap_err().to_string(), "a conflict resolution needs a reason or note; say why");
    }

    /// One ledger with every kind of resolution, over two packages: concurrent moves resolved
    /// (and resolved twice), negative stock acknowledged, a duplicate receipt voided, and a
    /// resolution whose stamp sorts before its conflict.
    fn ledger() -> Vec<Event> {
        let (a, b) = (tag(10), tag(11));
        let (r, m1, m2) = concurrent(&a);
        let m3 = ev(DeviceId::new(), 7, &a, Some(r.id), moved("Vault C"));
        let fix = ev(DeviceId::new(), 9, &a, Some(m3.id), located_at(&m2, "Vault A"));
        let again = ev(DeviceId::new(), 11, &a, Some(m3.id), located_at(&m2, "Vault C"));
        let early = ev(DeviceId::new(), 4, &a, Some(r.id), located_at(&m3, "Vault B"));
        let d = DeviceId::new();
        let rb = ev(d, 1, &b, None, received(5));
        let delta = Quantity::change(Decimal::new(-6, 0), Unit::G).unwrap();
        let adj = ev(d, 2, &b, Some(rb.id), EventBody::Adjusted { request: None, delta, reason: "Theft".into(), note: "gone".into() });
        let dup = ev(DeviceId::new(), 3, &b, Some(rb.id), received(7));
        let ack = ev(
            DeviceId::new(),
            8,
            &b,
            Some(dup.id),
            EventBody::ConflictResolved {
                conflict: ConflictId { event: adj.id, kind: ConflictKind::NegativeStock },
                resolution: Resolution::Acknowledged,
                note: "recounted".into(),
            },
        );
        let void = ev(
            DeviceId::new(),
            9,
            &b,
            Some(ack.id),
            EventBody::ConflictResolved {
                conflict: ConflictId { event: dup.id, kind: ConflictKind::DuplicateReceipt },
                resolution: Resolution::ReceiptVoid,
                note: "scanned twice at the dock".into(),
            },
        );
        vec![r, m1, m2, m3, fix, again, early, rb, adj, dup, ack, void]
    }

    /// What a device's store does as events arrive (store::fold_in): apply on top when the event
    /// sorts after the last one applied, otherwise refold the package from everything it has.
    fn fold_as_they_arrive(arrivals: &[&Event]) -> Inventory {
        let mut have: BTreeMap<PackageTag, Vec<&Event>> = BTreeMap::new();
        type OrderKey = (Hlc, DeviceId, Uuid);
        let mut folds: BTreeMap<PackageTag, (Option<OrderKey>, PackageFold)> = BTreeMap::new();
        for event in arrivals {
            for t in event.tags() {
                have.entry(t.clone()).or_default().push(event);
                let (last, fold) = folds.entry(t.clone()).or_default();
                if last.is_none_or(|l| l < event.order_key()) {
                    fold.apply(t, event);
                    *last = Some(event.order_key());
                } else {
                    *fold = PackageFold::fold(t, have[t].iter().copied());
                    *last = have[t].iter().map(|e| e.order_key()).max();
                }
            }
        }
        let mut inventory = Inventory::default();
        for (t, (_, mut fold)) in folds {
            inventory.conflicts.append(&mut fold.conflicts);
            if let Some(p) = fold.package {
                inventory.packages.insert(t, p);
            }
        }
        inventory.conflicts.sort();
        inventory
    }

    #[test]
    fn the_mixed_ledger_folds_to_what_the_managers_decided() {
        let events = ledger();
        let inv = Inventory::fold(&events);
        assert_eq!(inv.packages[&tag(10)].location.as_str(), "Vault A");
        assert_eq!(inv.packages[&tag(11)].quantity.amount, Decimal::new(-1, 0), "the void receipt added nothing");
        let open: Vec<_> = inv.conflicts.iter().filter(|c| c.is_open()).map(|c| (c.kind, c.event)).collect();
        assert_eq!(open, vec![(ConflictKind::InvalidTransition, events[5].id)], "only the second decision stays open");
    }

    proptest! {
        #[test]
        fn any_arrival_order_folds_to_the_same_packages_and_conflicts(order in Just((0..12).collect::<Vec<usize>>()).prop_shuffle()) {
            let events = ledger();
            let expected = Inventory::fold(&events);
            let arrivals: Vec<&Event> = order.iter().map(|&i| &events[i]).collect();
            prop_assert_eq!(&Inventory::fold(arrivals.iter().copied()), &expected);
            prop_assert_eq!(&fold_as_they_arrive(&arrivals), &expected);
        }
    }
}
