//! From order to packed containers on the phones: a manager enters the order (or it arrives
//! from the office) and generates its pick list; pickers scan packages against it, splitting
//! where a line needs part of a package; packers put each package in a numbered container;
//! the final check refuses an order with a line short.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use uuid::Uuid;

use super::order::OrderError;
use super::patient::SealError;
use super::picklist::{self, Candidate, PickListError};
use super::plan::{ExistingOrder, OrderFacts, plan_order};
use super::{Customer, NewOrder, Order, PickLine};
use crate::approvals::ApprovalError;
use crate::event::{Event, EventBody};
use crate::fold::PackageStatus;
use crate::ids::PackageTag;
use crate::quantity::Quantity;
use crate::roles::Role;
use crate::scan::{Scan, ScanError, parse_scan};
use crate::store::{StoreError, UnitOfWork};
use crate::text;
use crate::work::adjustment::AdjustmentStatus;
use crate::work::manifest as mdoc;
use crate::work::order::{self as doc, Cancellation, FinalCheck, OrderStatus, Packing, Pick, Substitution};
use crate::work::{DocError, DocKind, WorkDoc};

#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error(transparent)]
    Order(#[from] OrderError),
    #[error(transparent)]
    PickList(#[from] PickListError),
    #[error("{0}")]
    Scan(#[from] ScanError),
    #[error("that is not a package tag; scan the package's Metrc tag")]
    NotATag,
    #[error("{role} may not {what}; ask a manager")]
    NotAllowed { role: Role, what: &'static str },
    #[error("there is no order {0} on this device; sync, or check the order")]
    UnknownOrder(Uuid),
    #[error("there is no manifest {0} on this device; sync, or check the manifest")]
    UnknownManifest(Uuid),
    #[error("order {number} is {status}; {what}")]
    OrderState { number: String, status: &'static str, what: &'static str },
    #[error("{tag} is not on this pick list; put it back")]
    NotOnPickList { tag: PackageTag },
    #[error(
        "{tag} is not the package allocated: the pick list says {expected} ({location}); take that one, or ask a manager to approve a substitute"
    )]
    WrongPackage { tag: PackageTag, expected: PackageTag, location: String },
    #[error("{tag}: the pick list needs {expected}, not {found}")]
    WrongQuantity { tag: PackageTag, expected: Quantity, found: Quantity },
    #[error("{tag} is split on this pick list: weigh out {expected} and enter the weight")]
    WeightNeeded { tag: PackageTag, expected: Quantity },
    #[error("{tag} was already picked by {by}")]
    AlreadyPicked { tag: PackageTag, by: String },
    #[error("{0}")]
    Substitute(String),
    #[error("{tag} has not been picked for this order; pick it before packing")]
    NotPicked { tag: PackageTag },
    #[error("packing is not finished: {}", .0.join("; "))]
    Incomplete(Vec<String>),
    #[error("a container needs a number or label; scan or type it")]
    NoContainer,
    #[error("a gross weight must be a weight (mg, g, kg, oz or lb) above zero")]
    BadGrossWeight,
    #[error(transparent)]
    Seal(#[from] SealError),
    /// A return check-in of a package that is not due back.
    #[error("{0}")]
    NotDueBack(String),
    #[error("say why: a reason is needed")]
    NoReason,
    #[error("{0}")]
    Manifest(String),
    /// Something typed is missing or wrong.
    #[error("{0}")]
    Input(String),
    #[error("{0} is not in this facility's records; check the tag, or sync")]
    UnknownPackage(PackageTag),
    #[error("this route has no stop {0}")]
    UnknownStop(u32),
    #[error(transparent)]
    Approval(#[from] ApprovalError),
    #[error(transparent)]
    Text(#[from] crate::text::TextError),
    #[error(transparent)]
    Bound(#[from] crate::bounds::BoundError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<DocError> for OutboundError {
    fn from(e: DocError) -> Self {
        OutboundError::Store(StoreError::Doc(e))
    }
}

pub type Result<T, E = OutboundError> = std::result::Result<T, E>;

/// An order as list screens show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderSummary {
    pub id: Uuid,
    pub order: Order,
    pub status: OrderStatus,
}

/// One line of the pick list with its progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PickProgress {
    pub pick: PickLine,
    /// The package that replaced the allocated one, by a manager's approval.
    pub substitute_for: Option<PackageTag>,
    pub picked: Option<Pick>,
    pub packed: Option<Packing>,
}

/// The picking and packing screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PickListView {
    pub id: Uuid,
    pub order: Order,
    pub status: OrderStatus,
    pub lines: Vec<PickProgress>,
    /// Packages picked by two people before their phones synced (one pick in the ledger).
    pub picked_twice: Vec<PackageTag>,
    pub final_check: Option<FinalCheck>,
}

/// What a pick scan did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PickResult {
    /// The package now in the tote (the new tag, after a split).
    pub tag: PackageTag,
    pub line: u32,
    pub quantity: Quantity,
    pub split_from: Option<PackageTag>,
    /// Pick-list entries still to pick.
    pub remaining: usize,
    pub events: Vec<Event>,
}

const CUSTOMERS: &str = "customers";
const UNUSED_TAGS: &str = "unused_tags";

/// The facility's customers, as the server last sent them.
pub fn customers(w: &mut UnitOfWork<'_>) -> Result<Vec<Customer>, StoreError> {
    Ok(w.setting(CUSTOMERS)?.unwrap_or_default())
}

/// Unused package tags of the facility (for splits), as the server last sent them.
pub fn unused_tags(w: &mut UnitOfWork<'_>) -> Result<Vec<PackageTag>, StoreError> {
    Ok(w.setting(UNUSED_TAGS)?.unwrap_or_default())
}

/// Saves the customers and unused tags as the server sent them (sync does this; tools and
/// benchmarks that run without a server call it directly).
pub fn save_reference(w: &mut UnitOfWork<'_>, customers: &[Customer], unused: &[PackageTag]) -> Result<(), StoreError> {
    w.set_setting(CUSTOMERS, customers)?;
    w.set_setting(UNUSED_TAGS, unused)
}

/// Orders on this device, newest first.
pub fn orders(w: &mut UnitOfWork<'_>) -> Result<Vec<OrderSummary>> {
    w.docs(Some(DocKind::Order))?
        .into_iter()
        .map(|info| read_order(w, info.id, |d| Ok(OrderSummary { id: info.id, order: doc::order(d)?, status: doc::status(d)? })))
        .collect()
}

/// Enters a dispensary order (managers). Refused, with the reason, for a licence that is not
/// a customer or for more than is available. A patient's details are sealed on this phone
/// and go only to the server; the order document carries initials and card digits.
pub fn create_order(w: &mut UnitOfWork<'_>, new: &NewOrder) -> Result<Uuid> {
    let key = w.data_key();
    // The plan and the new order see one state: no sync lands between them.
    let user = require_role(w, &[Role::Manager], "enter orders")?;
    let now = w.now()?;
    let orders = orders(w)?;
    let (claimed, on_hold, customers) = (claimed_elsewhere(w, None)?, on_hold(w)?, customers(w)?);
    // The same plan the office's orders get on the server (`plan::plan_order`).
    let facts = OrderFacts {
        packages: shelf(w)?,
        claimed: &claimed,
        on_hold: &on_hold,
        orders: orders
            .iter()
            .map(|o| ExistingOrder { number: &o.order.number, lines: &o.order.lines, open: o.status == OrderStatus::Open })
            .collect(),
        customers: &customers,
        today: now.date_naive(),
    };
    let order = plan_order(new, facts, &user.name, now)?;
    let id = Uuid::now_v7();
    let document = doc::create(id, w.identity()?.facility, w.writer()?, &order);
    w.create(document);
    if let Some(patient) = &new.patient {
        w.conn()
            .execute(
                "INSERT INTO patients (order_id, sealed, uploaded) VALUES (?1, ?2, 0)",
                rusqlite::params![id.to_string(), key.seal(id, patient)],
            )
            .map_err(StoreError::from)?;
    }
    Ok(id)
}

/// Allocates stock to the order: expiring first, then oldest; never quarantined, on hold,
/// expired or another order's packages; a split (with an unused tag) where a line needs part
/// of a package. A manager may regenerate it while nothing has been picked.
pub fn generate_pick_list(w: &mut UnitOfWork<'_>, order: Uuid) -> Result<Vec<PickLine>> {
    require_role(w, &[Role::Manager], "allocate stock")?;
    let (o, status, picked) = read_order(w, order, |d| Ok((doc::order(d)?, doc::status(d)?, !doc::picks(d)?.is_empty())))?;
    if !matches!(status, OrderStatus::Open | OrderStatus::Allocated) || picked {
        return Err(OutboundError::OrderState { number: o.number, status: status.as_str(), what: "its pick list can no longer change" });
    }
    // What is allocated is what is on the shelf as the pick list is written.
    let today = w.now()?.date_naive();
    let candidates = candidates(w, Some(order), today)?;
    let claimed = claimed_elsewhere(w, Some(order))?;
    let known: BTreeSet<PackageTag> = w.packages()?.into_iter().map(|p| p.facts.tag).collect();
    let mut spare = unused_tags(w)?.into_iter().filter(|t| !claimed.contains(t) && !known.contains(t));
    let list = picklist::allocate(&o.lines, &candidates, &mut spare)?;
    let (_, actor) = w.actor()?;
    let d = w.doc(order)?.ok_or(OutboundError::UnknownOrder(order))?;
    doc::set_pick_list(d, &list, &actor)?;
    Ok(list)
}

/// The pick list with who picked and packed what.
pub fn pick_list(w: &mut UnitOfWork<'_>, order: Uuid) -> Result<PickListView> {
    read_order(w, order, |d| {
        let picks = doc::picks(d)?;
        let packings = doc::packings(d)?;
        let subs = doc::substitutions(d)?;
        let lines = doc::effective_pick_list(d)?
            .into_iter()
            .map(|pick| {
                let shipped = pick.shipped_tag().clone();
                PickProgress {
                    substitute_for: subs.values().find(|s| s.substitute == pick.tag).map(|s| s.original.clone()),
                    picked: picks.get(&shipped).and_then(|l| l.first().cloned()),
                    packed: packings.get(&shipped).cloned(),
                    pick,
                }
            })
            .collect();
        Ok(PickListView {
            id: order,
            order: doc::order(d)?,
            status: doc::status(d)?,
            lines,
            picked_twice: picks.iter().filter(|(_, l)| l.len() > 1).map(|(t, _)| t.clone()).collect(),
            final_check: doc::final_check(d)?,
        })
    })
}

/// A picker scans a package against the pick list. The allocated package (or its approved
/// substitute) is picked; for a split line the picker enters the weight taken and the phone
/// records the split into the new tag. Anything else is refused with the reason.
pub fn pick_scan(w: &mut UnitOfWork<'_>, order: Uuid, raw: &str, quantity: Option<Quantity>) -> Result<PickResult> {
    require_role(w, &[Role::FloorStaff, Role::Manager], "pick orders")?;
    let Scan::Package(tag) = parse_scan(raw)? else { return Err(OutboundError::NotATag) };
    // The package and the person as of this transaction: what is checked is what is written.
    let package = w.package(&tag)?;
    let (_, actor) = w.actor()?;
    let d = w.doc(order)?.ok_or(OutboundError::UnknownOrder(order))?;
    let o = doc::order(d)?;
    let status = doc::status(d)?;
    if status != OrderStatus::Allocated {
        return Err(OutboundError::OrderState { number: o.number, status: status.as_str(), what: "nothing can be picked for it" });
    }
    let list = doc::effective_pick_list(d)?;
    // Keys only: reading every pick on every scan would slow a long list down.
    let picked = doc::picked_tags(d)?;
    let is_picked = |t: &PackageTag| picked.contains(t.as_str());
    let Some(line) = list.iter().find(|p| p.tag == tag).cloned() else {
        let waiting = list.iter().find(|p| package.as_ref().is_some_and(|pk| pk.item == p.item) && !is_picked(p.shipped_tag()));
        return Err(match waiting {
            Some(p) => OutboundError::WrongPackage { tag, expected: p.tag.clone(), location: p.location.to_string() },
            None => OutboundError::NotOnPickList { tag },
        });
    };
    if let Some(first) = doc::first_pick(d, line.shipped_tag())? {
        return Err(OutboundError::AlreadyPicked { tag, by: first.by.name.clone() });
    }
    let package = package.ok_or_else(|| OutboundError::NotOnPickList { tag: tag.clone() })?;
    let mut events = Vec::new();
    let pick = match &line.split_into {
        None => {
            // The whole package goes; if it changed since allocation, the list is wrong.
            if !package.quantity.same_as(&line.quantity) {
                return Err(OutboundError::WrongQuantity { tag, expected: line.quantity, found: package.quantity });
            }
            if let Some(q) = quantity.filter(|q| !q.same_as(&line.quantity)) {
                return Err(OutboundError::WrongQuantity { tag, expected: line.quantity, found: q });
            }
            events.push(w.record(&tag, EventBody::Picked { order: o.number.clone() })?);
            Pick { tag: tag.clone(), split_from: None, line: line.line, quantity: line.quantity, by: actor.clone() }
        }
        Some(new_tag) => {
            let q = quantity.ok_or_else(|| OutboundError::WeightNeeded { tag: tag.clone(), expected: line.quantity })?;
            if !q.same_as(&line.quantity) {
                return Err(OutboundError::WrongQuantity { tag, expected: line.quantity, found: q });
            }
            events.push(w.record(
                &tag,
                EventBody::Split {
                    new_tag: new_tag.clone(),
                    quantity: line.quantity,
                    item: package.item.clone(),
                    batch: package.batch.clone(),
                    location: package.location.clone(),
                    expires_on: package.expires_on,
                },
            )?);
            events.push(w.record(new_tag, EventBody::Picked { order: o.number.clone() })?);
            Pick { tag: new_tag.clone(), split_from: Some(tag.clone()), line: line.line, quantity: line.quantity, by: actor.clone() }
        }
    };
    let d = w.doc(order)?.ok_or(OutboundError::UnknownOrder(order))?;
    doc::put_pick(d, &pick)?;
    let remaining = list.iter().filter(|p| p.shipped_tag() != &pick.tag && !is_picked(p.shipped_tag())).count();
    Ok(PickResult { tag: pick.tag, line: pick.line, quantity: pick.quantity, split_from: pick.split_from, remaining, events })
}

/// A manager lets a picker take another package of the same item and batch instead of the
/// one allocated (damaged, or not where the list says).
pub fn approve_substitute(w: &mut UnitOfWork<'_>, order: Uuid, original: &str, substitute: &str, note: &str) -> Result<()> {
    require_role(w, &[Role::Manager], "approve a substitute")?;
    if note.trim().is_empty() {
        return Err(OutboundError::NoReason);
    }
    let note = text::clean(text::note("note"), note)?;
    let Scan::Package(original) = parse_scan(original)? else { return Err(OutboundError::NotATag) };
    let Scan::Package(substitute) = parse_scan(substitute)? else { return Err(OutboundError::NotATag) };
    // Whether the substitute may be allocated, as of the transaction that writes it.
    let today = w.now()?.date_naive();
    let candidate = candidates(w, Some(order), today)?.into_iter().find(|c| c.tag == substitute);
    let (_, actor) = w.actor()?;
    let d = w.doc(order)?.ok_or(OutboundError::UnknownOrder(order))?;
    let list = doc::effective_pick_list(d)?;
    let line = list.iter().find(|p| p.tag == original).ok_or_else(|| OutboundError::NotOnPickList { tag: original.clone() })?;
    if doc::picks(d)?.contains_key(line.shipped_tag()) {
        return Err(OutboundError::Substitute(format!("{original} has already been picked; nothing to substitute")));
    }
    if list.iter().any(|p| p.tag == substitute) {
        return Err(OutboundError::Substitute(format!("{substitute} is already on this pick list")));
    }
    let c = candidate.ok_or_else(|| {
        OutboundError::Substitute(format!("{substitute} cannot be allocated (quarantined, on hold, expired, gone or another order's)"))
    })?;
    if c.item != line.item || c.batch != line.batch {
        return Err(OutboundError::Substitute(format!(
            "{substitute} is {} batch {}, but the line needs {} batch {}; a substitute must be the same item and batch",
            c.item, c.batch, line.item, line.batch
        )));
    }
    let fits = match &line.split_into {
        None => c.quantity.same_as(&line.quantity),
        Some(_) => c.quantity.checked_sub(&line.quantity).is_ok_and(|left| left.amount > rust_decimal::Decimal::ZERO),
    };
    if !fits {
        return Err(OutboundError::Substitute(format!("{substitute} holds {}, but the line needs {}", c.quantity, line.quantity)));
    }
    doc::put_substitution(d, &Substitution { original: original.clone(), substitute, note, by: actor })?;
    Ok(())
}

/// Puts a picked package into a numbered container, with its gross weight.
pub fn pack(w: &mut UnitOfWork<'_>, order: Uuid, raw: &str, container: &str, gross_weight: Quantity) -> Result<()> {
    require_role(w, &[Role::FloorStaff, Role::Manager], "pack orders")?;
    let Scan::Package(tag) = parse_scan(raw)? else { return Err(OutboundError::NotATag) };
    if container.trim().is_empty() {
        return Err(OutboundError::NoContainer);
    }
    let container = text::clean(text::reference("container label"), container)?;
    if !gross_weight.unit.is_weight() || Quantity::positive(gross_weight.amount, gross_weight.unit).is_err() || gross_weight.is_zero() {
        return Err(OutboundError::BadGrossWeight);
    }
    let (_, actor) = w.actor()?;
    let d = w.doc(order)?.ok_or(OutboundError::UnknownOrder(order))?;
    let o = doc::order(d)?;
    let status = doc::status(d)?;
    if status != OrderStatus::Allocated {
        return Err(OutboundError::OrderState { number: o.number, status: status.as_str(), what: "it cannot be packed" });
    }
    if !doc::picks(d)?.contains_key(&tag) {
        return Err(OutboundError::NotPicked { tag });
    }
    doc::put_packing(d, &Packing { tag, container, gross_weight, by: actor })?;
    Ok(())
}

/// What the final check would refuse, without writing anything: lines short, allocated
/// packages not picked, picked packages not in a container. Empty when packing can finish.
pub fn packing_check(w: &mut UnitOfWork<'_>, order: Uuid) -> Result<Vec<String>> {
    read_order(w, order, packing_missing)
}

/// The final check: every line picked in full and every picked package in a container.
/// Refused with the list of what is missing.
pub fn finish_packing(w: &mut UnitOfWork<'_>, order: Uuid) -> Result<FinalCheck> {
    require_role(w, &[Role::FloorStaff, Role::Manager], "pack orders")?;
    let (_, actor) = w.actor()?;
    let d = w.doc(order)?.ok_or(OutboundError::UnknownOrder(order))?;
    let o = doc::order(d)?;
    let status = doc::status(d)?;
    if status != OrderStatus::Allocated {
        return Err(OutboundError::OrderState { number: o.number, status: status.as_str(), what: "there is nothing to pack" });
    }
    let missing = packing_missing(d)?;
    if !missing.is_empty() {
        return Err(OutboundError::Incomplete(missing));
    }
    let mut containers: BTreeMap<String, Vec<PackageTag>> = BTreeMap::new();
    for (tag, p) in doc::packings(d)? {
        containers.entry(p.container.clone()).or_default().push(tag);
    }
    let check = FinalCheck { containers, by: actor };
    doc::set_final_check(d, &check)?;
    Ok(check)
}

/// Cancels an order (managers), with the reason. Its allocation is released at once; what
/// was already picked stays picked until the vault puts it back on a shelf (`returns_due`
/// lists it, `return_check_in` records it), so nothing leaves the order silently. An order
/// on a manifest needs that manifest cancelled first; one whose truck left is finished by
/// the route.
pub fn cancel_order(w: &mut UnitOfWork<'_>, order: Uuid, reason: &str) -> Result<()> {
    require_role(w, &[Role::Manager], "cancel orders")?;
    if reason.trim().is_empty() {
        return Err(OutboundError::NoReason);
    }
    let reason = text::clean(text::reason("reason"), reason)?;
    for info in w.docs(Some(DocKind::Manifest))? {
        let on = w.read::<_, OutboundError>(info.id, |d| {
            let m = mdoc::manifest(d)?;
            let carried = m.stops.iter().any(|s| s.order == order) && mdoc::cancellation(d)?.is_none();
            Ok(carried.then_some((m.number, mdoc::departed(d)?.is_some())))
        })?;
        if let Some(Some((number, departed))) = on {
            let what = if departed { "its truck has left; the route finishes it" } else { "cancel that manifest first" };
            return Err(OutboundError::Manifest(format!("this order is on manifest {number}; {what}")));
        }
    }
    let (_, actor) = w.actor()?;
    let d = w.doc(order)?.filter(|d| d.kind == DocKind::Order).ok_or(OutboundError::UnknownOrder(order))?;
    let status = doc::status(d)?;
    if status == OrderStatus::Cancelled {
        return Err(OutboundError::OrderState {
            number: doc::order(d)?.number,
            status: status.as_str(),
            what: "there is nothing more to cancel",
        });
    }
    doc::cancel(d, &Cancellation { reason: reason.clone(), by: actor.clone() })?;
    Ok(())
}

/// The signed-in person, if their role is one of `allowed`.
pub(crate) fn require_role(w: &UnitOfWork<'_>, allowed: &[Role], what: &'static str) -> Result<crate::store::SignedInUser> {
    let user = w.user()?;
    if !allowed.contains(&user.role) {
        return Err(OutboundError::NotAllowed { role: user.role, what });
    }
    Ok(user)
}

/// Reads an order document (`UnknownOrder` if it is not one) inside a unit of work.
pub(crate) fn read_order<T>(w: &mut UnitOfWork<'_>, id: Uuid, read: impl FnOnce(&WorkDoc) -> Result<T>) -> Result<T> {
    w.read::<_, OutboundError>(id, |d| {
        if d.kind != DocKind::Order {
            return Err(OutboundError::UnknownOrder(id));
        }
        read(d)
    })?
    .ok_or(OutboundError::UnknownOrder(id))
}

/// Packages held by open orders other than `except`, as this device knows them.
fn claimed_elsewhere(w: &mut UnitOfWork<'_>, except: Option<Uuid>) -> Result<BTreeSet<PackageTag>> {
    let mut claimed = BTreeSet::new();
    for info in w.docs(Some(DocKind::Order))? {
        if Some(info.id) != except {
            claimed.extend(read_order(w, info.id, |d| Ok(doc::claims(d)?))?);
        }
    }
    Ok(claimed)
}

/// Packages that could be allocated now, with when they came in.
fn candidates(w: &mut UnitOfWork<'_>, except: Option<Uuid>, today: NaiveDate) -> Result<Vec<Candidate>> {
    let (shelf, claimed, on_hold) = (shelf(w)?, claimed_elsewhere(w, except)?, on_hold(w)?);
    Ok(picklist::eligible(shelf, today, &claimed, &on_hold))
}

/// Every active package, with when it came in.
fn shelf(w: &UnitOfWork<'_>) -> Result<Vec<Candidate>> {
    let mut out = Vec::new();
    for p in w.packages()?.into_iter().filter(|p| p.status == PackageStatus::Active) {
        let since = w.package_fold(&p.tag)?.map(|f| f.since).unwrap_or_default();
        out.push(Candidate { facts: p.facts, since });
    }
    Ok(out)
}

/// Packages held for an adjustment request still waiting for a decision.
fn on_hold(w: &mut UnitOfWork<'_>) -> Result<BTreeSet<PackageTag>> {
    Ok(crate::approvals::adjustments_in(w)?
        .into_iter()
        .filter(|a| a.status() == AdjustmentStatus::Pending)
        .map(|a| a.request.tag)
        .collect())
}

/// The final check's findings, one sentence each.
fn packing_missing(d: &WorkDoc) -> Result<Vec<String>> {
    let o = doc::order(d)?;
    let picks = doc::picks(d)?;
    let packings = doc::packings(d)?;
    let list = doc::effective_pick_list(d)?;
    let mut missing = Vec::new();
    for line in &o.lines {
        let mut got = Quantity::zero(line.quantity.unit);
        for p in list.iter().filter(|p| p.line == line.line) {
            match picks.get(p.shipped_tag()) {
                Some(pick) => {
                    let q = pick[0].quantity.convert(line.quantity.unit).unwrap_or(pick[0].quantity);
                    got = got.checked_add(&q).unwrap_or(got);
                }
                None => missing.push(format!("{} ({}) not picked", p.tag, p.location)),
            }
        }
        if !got.same_as(&line.quantity) {
            missing.push(format!("line {} {}: {} of {} picked", line.line, line.item, got, line.quantity));
        }
    }
    for tag in picks.keys() {
        if !packings.contains_key(tag) {
            missing.push(format!("{tag} not in a container"));
        }
    }
    Ok(missing)
}
