//! The order document: one per dispensary order. The order itself and its pick list are
//! written once (the pick list again only if a manager regenerates it); pickers, packers and
//! the vault's return check-in each write into their own device's map, so several phones can
//! share one list offline and their work adds up when they sync.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{DocError, DocKind, WorkDoc};
use crate::ids::{LicenseNumber, LocationName, PackageTag, UserId};
use crate::outbound::order::Order;
use crate::outbound::order::claimed_tags;
use crate::outbound::picklist::PickLine;
pub use crate::people::Actor;
use crate::quantity::Quantity;
use crate::roles::Role;

const ORDER: &str = "order";
const STATUS: &str = "status";
const PICK_LIST: &str = "pick_list";
const PICK_LIST_BY: &str = "pick_list_by";
const PICKS: &str = "picks";
const SUBSTITUTES: &str = "substitutes";
const PACKED: &str = "packed";
const FINAL_CHECK: &str = "final_check";
const RETURNED: &str = "returned";
const CANCELLED: &str = "cancelled";

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum OrderStatus {
    /// Accepted, no pick list yet.
    Open,
    /// Pick list generated; picking and packing under way.
    Allocated,
    /// Final check passed: every line complete, in numbered containers.
    Packed,
    Cancelled,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Open => "open",
            OrderStatus::Allocated => "allocated",
            OrderStatus::Packed => "packed",
            OrderStatus::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [OrderStatus::Open, OrderStatus::Allocated, OrderStatus::Packed, OrderStatus::Cancelled].into_iter().find(|k| k.as_str() == s)
    }
}

/// A package taken for the order (for a split, the new package).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pick {
    pub tag: PackageTag,
    /// The package it was split from, if it was.
    pub split_from: Option<PackageTag>,
    pub line: u32,
    pub quantity: Quantity,
    pub by: Actor,
}

/// A manager's approval to take another package of the same item and batch instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Substitution {
    pub original: PackageTag,
    pub substitute: PackageTag,
    pub note: String,
    pub by: Actor,
}

/// A picked package put into a numbered container, with its gross weight for the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Packing {
    pub tag: PackageTag,
    pub container: String,
    pub gross_weight: Quantity,
    pub by: Actor,
}

/// The final check at the end of packing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinalCheck {
    pub containers: BTreeMap<String, Vec<PackageTag>>,
    pub by: Actor,
}

/// A package of this order back on the shelf (refused or undelivered, checked in at the vault).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Returned {
    pub tag: PackageTag,
    pub location: LocationName,
    pub reason: String,
    pub by: Actor,
}

/// A manager's cancellation of an order or a manifest, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancellation {
    pub reason: String,
    pub by: Actor,
}

pub fn create(id: Uuid, facility: LicenseNumber, writer: super::Writer, order: &Order) -> WorkDoc {
    let mut doc = WorkDoc::create(id, DocKind::Order, facility, writer);
    doc.put_json(ORDER, order).expect("fresh document");
    doc.put_text(STATUS, OrderStatus::Open.as_str()).expect("fresh document");
    doc.add_maps(&[PICKS, SUBSTITUTES, PACKED, RETURNED]);
    doc
}

pub fn order(doc: &WorkDoc) -> Result<Order, DocError> {
    doc.get_json(ORDER)
}

pub fn status(doc: &WorkDoc) -> Result<OrderStatus, DocError> {
    let text = doc.get_text(STATUS)?.ok_or(DocError::Missing { doc: doc.id, field: STATUS })?;
    OrderStatus::parse(&text).ok_or_else(|| DocError::corrupt("order status", text))
}

pub fn set_status(doc: &mut WorkDoc, status: OrderStatus) -> Result<(), DocError> {
    doc.put_text(STATUS, status.as_str())
}

/// The pick list as generated (`None` before).
pub fn pick_list(doc: &WorkDoc) -> Result<Option<Vec<PickLine>>, DocError> {
    doc.get_json_opt(PICK_LIST)
}

pub fn set_pick_list(doc: &mut WorkDoc, list: &[PickLine], by: &Actor) -> Result<(), DocError> {
    doc.put_json(PICK_LIST, &list)?;
    doc.put_json(PICK_LIST_BY, by)?;
    set_status(doc, OrderStatus::Allocated)
}

pub fn pick_list_by(doc: &WorkDoc) -> Result<Option<Actor>, DocError> {
    doc.get_json_opt(PICK_LIST_BY)
}

pub fn put_pick(doc: &mut WorkDoc, pick: &Pick) -> Result<(), DocError> {
    doc.put_own(PICKS, pick.by.device, pick.tag.as_str(), pick)
}

/// Every pick by tag; two pickers who took the same package before syncing both appear, the
/// earliest first.
pub fn picks(doc: &WorkDoc) -> Result<BTreeMap<PackageTag, Vec<Pick>>, DocError> {
    let mut out: BTreeMap<PackageTag, Vec<Pick>> = BTreeMap::new();
    for pick in doc.all_own::<Pick>(PICKS)?.into_values().flatten() {
        out.entry(pick.tag.clone()).or_default().push(pick);
    }
    for list in out.values_mut() {
        list.sort_by_key(|p| (p.by.at, p.by.device));
    }
    Ok(out)
}

/// Who first picked `tag`, without reading every pick (the scan path).
pub fn first_pick(doc: &WorkDoc, tag: &PackageTag) -> Result<Option<Pick>, DocError> {
    Ok(doc.own_entries::<Pick>(PICKS, tag.as_str())?.into_iter().min_by_key(|p| (p.by.at, p.by.device)))
}

/// The tags picked so far, by any device, without reading the picks.
pub fn picked_tags(doc: &WorkDoc) -> Result<std::collections::BTreeSet<String>, DocError> {
    doc.own_keys(PICKS)
}

pub fn put_substitution(doc: &mut WorkDoc, s: &Substitution) -> Result<(), DocError> {
    doc.put_entry(SUBSTITUTES, s.original.as_str(), s)
}

pub fn substitutions(doc: &WorkDoc) -> Result<BTreeMap<String, Substitution>, DocError> {
    doc.entries(SUBSTITUTES)
}

/// The pick list with approved substitutes in place of the packages they replace.
pub fn effective_pick_list(doc: &WorkDoc) -> Result<Vec<PickLine>, DocError> {
    let subs = substitutions(doc)?;
    let mut list = pick_list(doc)?.unwrap_or_default();
    for line in &mut list {
        if let Some(s) = subs.get(line.tag.as_str()) {
            line.tag = s.substitute.clone();
        }
    }
    Ok(list)
}

pub fn put_packing(doc: &mut WorkDoc, p: &Packing) -> Result<(), DocError> {
    doc.put_own(PACKED, p.by.device, p.tag.as_str(), p)
}

/// The latest packing of each package (re-packed into another container: the later counts).
pub fn packings(doc: &WorkDoc) -> Result<BTreeMap<PackageTag, Packing>, DocError> {
    Ok(doc
        .all_own::<Packing>(PACKED)?
        .into_values()
        .filter_map(|list| list.into_iter().max_by_key(|p| (p.by.at, p.by.device)))
        .map(|p| (p.tag.clone(), p))
        .collect())
}

pub fn set_final_check(doc: &mut WorkDoc, check: &FinalCheck) -> Result<(), DocError> {
    doc.put_json(FINAL_CHECK, check)?;
    set_status(doc, OrderStatus::Packed)
}

pub fn final_check(doc: &WorkDoc) -> Result<Option<FinalCheck>, DocError> {
    doc.get_json_opt(FINAL_CHECK)
}

pub fn cancel(doc: &mut WorkDoc, c: &Cancellation) -> Result<(), DocError> {
    doc.put_json(CANCELLED, c)?;
    set_status(doc, OrderStatus::Cancelled)
}

/// Why and by whom the order was cancelled (`None` for an order cancelled before the reason was
/// kept, or not cancelled).
pub fn cancellation(doc: &WorkDoc) -> Result<Option<Cancellation>, DocError> {
    doc.get_json_opt(CANCELLED)
}

pub fn put_returned(doc: &mut WorkDoc, r: &Returned) -> Result<(), DocError> {
    doc.put_own(RETURNED, r.by.device, r.tag.as_str(), r)
}

pub fn returned(doc: &WorkDoc) -> Result<BTreeMap<PackageTag, Returned>, DocError> {
    Ok(doc.all_own::<Returned>(RETURNED)?.into_values().filter_map(|l| l.into_iter().next()).map(|r| (r.tag.clone(), r)).collect())
}

/// The packages this order holds, which no other open order may allocate: its pick list (with
/// substitutes), the source of a split not yet made, and nothing once cancelled or returned.
pub fn claims(doc: &WorkDoc) -> Result<Vec<PackageTag>, DocError> {
    if status(doc)? == OrderStatus::Cancelled {
        return Ok(Vec::new());
    }
    let picks = picks(doc)?;
    let returned: Vec<PackageTag> = returned(doc)?.into_keys().collect();
    let mut claims = claimed_tags(&effective_pick_list(doc)?, |t| picks.contains_key(t), &returned);
    // A substitute's original goes back on the shelf.
    let originals: Vec<PackageTag> = substitutions(doc)?.values().map(|s| s.original.clone()).collect();
    claims.retain(|t| !originals.contains(t) || picks.contains_key(t));
    Ok(claims)
}

/// The server's check after merging a device's changes: a pick list only from a manager, a
/// substitute only approved by a manager. Returns the reason to refuse, if any.
pub fn audit(doc: &WorkDoc, roster: &[crate::people::RosterEntry]) -> Result<Option<String>, DocError> {
    let manager = |user: &UserId| roster.iter().any(|p| p.id == *user && p.active && p.role == Role::Manager);
    if let Some(by) = pick_list_by(doc)?
        && !manager(&by.user)
    {
        return Ok(Some(format!("{} generated a pick list, but only a manager may allocate stock", by.name)));
    }
    if let Some(c) = cancellation(doc)?
        && !manager(&c.by.user)
    {
        return Ok(Some(format!("{} cancelled the order, but only a manager may cancel an order", c.by.name)));
    }
    for s in substitutions(doc)?.values() {
        if !manager(&s.by.user) {
            return Ok(Some(format!(
                "{} approved {} in place of {}, but only a manager may approve a substitute",
                s.by.name, s.substitute, s.original
            )));
        }
    }
    Ok(None)
}
