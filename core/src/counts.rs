//! The vault cycle count, from the scan to the discrepancy: the workflow rules over the count
//! documents (`work::count`) and the ledger. The apps call these; the FFI only converts types.
//!
//! A manager opens a session for a scope of locations and/or product categories. The expected
//! quantities go into a review document only managers receive; counters see which packages are
//! in scope but not how much there should be. Counters scan offline on several phones; counts
//! of the same package add up. Closing compares counted with expected (ledger changes made during
//! the count are taken into account); a variance is recounted by someone else; a variance that
//! persists quarantines the package and opens a discrepancy to investigate.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::event::EventBody;
use crate::fold::PackageStatus;
use crate::ids::{DeviceId, IdError, LocationName, PackageTag, UserId};
use crate::input;
use crate::people::Actor;
use crate::quantity::{Quantity, QuantityError, Unit};
use crate::roles::Role;
use crate::store::{EventRecord, HistoryEntry, PackageView, SignedInUser, StoreError, UnitOfWork};
use crate::work::count::{
    self, CountEntry, CountScope, Discrepancy, DiscrepancyStatus, Expected, Outcome, ScanRecord, ScopedPackage, SessionInfo, SessionStatus,
    VarianceLine,
};
use crate::work::{DocError, DocKind};

#[derive(Debug, thiserror::Error)]
pub enum CountError {
    #[error("there is no count session {0} on this device; sync, or check the session")]
    UnknownSession(Uuid),
    #[error("{role} may not {action}; ask a manager")]
    NotAllowed { role: Role, action: &'static str },
    #[error("this count session is closed; nothing more can be counted in it")]
    Closed,
    #[error("{0}")]
    BadTag(#[from] IdError),
    #[error("{tag} is not in this facility's inventory; set it aside and tell a manager")]
    UnknownPackage { tag: PackageTag },
    #[error("{tag} is quarantined; it is not counted")]
    Quarantined { tag: PackageTag },
    #[error("{tag} is not in this count's scope (it should be at {location}); count only what the session covers")]
    NotInScope { tag: PackageTag, location: LocationName },
    #[error("{tag} is not being recounted; only packages with a variance are counted again")]
    NotForRecount { tag: PackageTag },
    #[error("you counted {tag} in the first count; a different person must recount it")]
    SameCounter { tag: PackageTag },
    #[error("a count cannot be negative; enter what is there, or 0 if it is empty")]
    Negative,
    #[error("{0}")]
    Quantity(#[from] QuantityError),
    #[error("the scope is empty: choose at least one location or product category")]
    EmptyScope,
    #[error("nothing in the inventory matches this scope")]
    NothingInScope,
    #[error("{} package(s) still need a recount by another person: {}", .0.len(), .0.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", "))]
    RecountMissing(Vec<PackageTag>),
    #[error("this device does not have the count's expected quantities; sync it while signed in as a manager")]
    NoReview,
    #[error("{tag} has no discrepancy in this count")]
    NoDiscrepancy { tag: PackageTag },
    #[error(transparent)]
    Text(#[from] crate::text::TextError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<DocError> for CountError {
    fn from(e: DocError) -> Self {
        CountError::Store(StoreError::Doc(e))
    }
}

pub type Result<T, E = CountError> = std::result::Result<T, E>;

/// What the session list shows.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct CountSessionSummary {
    pub id: Uuid,
    pub name: String,
    pub status: SessionStatus,
    /// 1 for the count, 2 for the recount.
    pub round: u32,
    /// The opener's name.
    pub opened_by: String,
    pub packages_in_scope: u64,
}

/// What a counter sees (the apps' `CountSession`): no expected quantities.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record), uniffi(name = "CountSession"))]
pub struct CountSessionView {
    pub summary: CountSessionSummary,
    pub scope: CountScope,
    /// By tag.
    pub in_scope: Vec<ScopedPackageView>,
    pub entries: Vec<CountEntryView>,
    /// Packages to recount in round 2.
    pub recount: Vec<PackageTag>,
    pub participants: Vec<Actor>,
}

/// A package in a count's scope, as counters see it (no expected quantity: the count is blind).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record), uniffi(name = "ScopedPackage"))]
pub struct ScopedPackageView {
    pub tag: PackageTag,
    pub item: String,
    pub location: LocationName,
    /// The package's own unit; counts are entered in `count_unit(unit)`.
    pub unit: Unit,
}

/// The answer to a scan: the package and what this person has counted of it so far this round
/// (also a line of the counting screen: [`your_counts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record), uniffi(name = "CountScanResult"))]
pub struct ScanResult {
    pub tag: PackageTag,
    pub item: String,
    /// 1 for the count, 2 for the recount.
    pub round: u32,
    pub your_count: Quantity,
}

/// One person's count of one package in one round, from one device, as the apps show it: the
/// amount in grams for weighed goods, in units for counted goods.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record), uniffi(name = "CountEntry"))]
pub struct CountEntryView {
    pub round: u32,
    pub tag: PackageTag,
    pub user_id: UserId,
    pub user_name: String,
    pub device_id: DeviceId,
    pub location: LocationName,
    pub counted: Quantity,
}

impl From<CountEntry> for CountEntryView {
    fn from(e: CountEntry) -> Self {
        CountEntryView {
            round: e.round.into(),
            counted: count::from_minor(e.minor, e.unit),
            tag: e.tag,
            user_id: e.user,
            user_name: e.user_name,
            device_id: e.device,
            location: e.location,
        }
    }
}

/// One package's comparison in one round, as the apps show it. Quantities are in grams
/// (weighed) or units (counted).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record), uniffi(name = "VarianceLine"))]
pub struct VarianceLineView {
    pub round: u32,
    pub tag: PackageTag,
    /// Expected at the start of the count.
    pub snapshot: Quantity,
    /// Expected after ledger changes made during the count.
    pub expected: Quantity,
    pub counted: Quantity,
    /// Counted minus expected.
    pub difference: Quantity,
    pub outcome: Outcome,
}

impl From<VarianceLine> for VarianceLineView {
    fn from(l: VarianceLine) -> Self {
        let q = |minor| count::from_minor(minor, l.unit);
        VarianceLineView {
            round: l.round.into(),
            snapshot: q(l.snapshot_minor),
            expected: q(l.expected_minor),
            counted: q(l.counted_minor),
            difference: q(l.difference_minor()),
            tag: l.tag,
            outcome: l.outcome,
        }
    }
}

/// A variance that survived the recount, as the apps show it: the package is quarantined until
/// it is resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record), uniffi(name = "Discrepancy"))]
pub struct DiscrepancyView {
    pub tag: PackageTag,
    pub expected: Quantity,
    pub counted: Quantity,
    pub recounted: Quantity,
    pub quarantine_event_id: Uuid,
    pub opened_at: DateTime<Utc>,
    pub root_cause: String,
    pub corrective_action: String,
    pub adjustment_id: Option<Uuid>,
    pub status: DiscrepancyStatus,
}

impl From<Discrepancy> for DiscrepancyView {
    fn from(d: Discrepancy) -> Self {
        let q = |minor| count::from_minor(minor, d.unit);
        DiscrepancyView {
            expected: q(d.expected_minor),
            counted: q(d.counted_minor),
            recounted: q(d.recounted_minor),
            tag: d.tag,
            quarantine_event_id: d.quarantine_event,
            opened_at: d.opened_at,
            root_cause: d.root_cause,
            corrective_action: d.corrective_action,
            adjustment_id: d.adjustment,
            status: d.status,
        }
    }
}

/// What closing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseOutcome {
    /// Variances found: these packages go to a recount by someone else.
    RecountNeeded(Vec<VarianceLine>),
    /// Closed. Persisting variances became discrepancies (and quarantines).
    Closed { lines: Vec<VarianceLine>, discrepancies: Vec<PackageTag> },
}

/// What closing did, as the apps show it (the apps' `CloseOutcome`: quantities in grams or
/// units, the variants' fields named).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum), uniffi(name = "CloseOutcome"))]
pub enum CloseOutcomeView {
    /// Variances found: these packages go to a recount by someone else.
    RecountNeeded { lines: Vec<VarianceLineView> },
    /// Closed. Persisting variances became discrepancies (and quarantines): their tags.
    Closed { lines: Vec<VarianceLineView>, discrepancies: Vec<PackageTag> },
}

impl From<CloseOutcome> for CloseOutcomeView {
    fn from(o: CloseOutcome) -> Self {
        let view = |lines: Vec<VarianceLine>| lines.into_iter().map(Into::into).collect();
        match o {
            CloseOutcome::RecountNeeded(lines) => CloseOutcomeView::RecountNeeded { lines: view(lines) },
            CloseOutcome::Closed { lines, discrepancies } => CloseOutcomeView::Closed { lines: view(lines), discrepancies },
        }
    }
}

/// One line of a package's history for an investigation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryLine {
    pub record: EventRecord,
    pub who: String,
    /// Within the last 24 hours.
    pub recent: bool,
}

/// Everything a manager needs to investigate a discrepancy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Investigation {
    pub discrepancy: Discrepancy,
    pub package: Option<PackageView>,
    /// Newest first: the last 24 hours come first.
    pub history: Vec<HistoryLine>,
    /// Every count of the package in the session: who, on which device, where, how much.
    pub entries: Vec<CountEntry>,
}

/// One line of a package's history in an investigation, as the apps show it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct InvestigationLine {
    pub entry: HistoryEntry,
    /// The person's name.
    pub who: String,
    /// Within the last 24 hours.
    pub recent: bool,
}

/// An investigation as the apps show it (the apps' `Investigation`): quantities in grams or
/// units, each history line as a history screen shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record), uniffi(name = "Investigation"))]
pub struct InvestigationView {
    pub discrepancy: DiscrepancyView,
    pub package: Option<PackageView>,
    /// Newest first.
    pub history: Vec<InvestigationLine>,
    pub entries: Vec<CountEntryView>,
}

impl From<Investigation> for InvestigationView {
    fn from(i: Investigation) -> Self {
        InvestigationView {
            discrepancy: i.discrepancy.into(),
            package: i.package,
            history: i.history.into_iter().map(|h| InvestigationLine { entry: h.record.into(), who: h.who, recent: h.recent }).collect(),
            entries: i.entries.into_iter().map(Into::into).collect(),
        }
    }
}

/// Product categories of items (the state's `ProductCategoryName`), used to scope counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ItemCategories(pub BTreeMap<String, String>);

fn require(user: &SignedInUser, allowed: &[Role], action: &'static str) -> Result<()> {
    if allowed.contains(&user.role) { Ok(()) } else { Err(CountError::NotAllowed { role: user.role, action }) }
}

const COUNTERS: &[Role] = &[Role::FloorStaff, Role::Manager, Role::Compliance];
const REVIEWERS: &[Role] = &[Role::Manager, Role::Compliance];

/// The product categories of items, as of the unit of work: the state's items when the state
/// sent them, else the facility's settings from the server.
pub fn item_categories(w: &mut UnitOfWork<'_>) -> Result<ItemCategories> {
    Ok(ItemCategories(crate::store::facility_settings::item_categories(w)?.into_iter().collect()))
}

/// Opens a blind count (managers only) and returns its id.
pub fn open_count(w: &mut UnitOfWork<'_>, name: &str, scope: CountScope) -> Result<Uuid> {
    // The expected quantities are the ledger's as of the transaction that opens the count.
    let (user, person) = w.actor()?;
    require(&user, &[Role::Manager], "open a count session")?;
    // Categories as typed: blank lines are no category.
    let scope = CountScope { categories: input::entries(scope.categories), ..scope };
    if scope.locations.is_empty() && scope.categories.is_empty() {
        return Err(CountError::EmptyScope);
    }
    let name = crate::text::clean(crate::text::name("count name"), name)?;
    let categories = item_categories(w)?;
    let mut in_scope = BTreeMap::new();
    let mut expected = BTreeMap::new();
    for p in w.packages()? {
        if p.status != PackageStatus::Active || !in_count_scope(&scope, &categories, &p) {
            continue;
        }
        let unit = p.quantity.unit;
        in_scope.insert(p.tag.clone(), ScopedPackage { location: p.location.clone(), unit, item: p.item.to_string() });
        expected.insert(p.tag.clone(), Expected { minor: count::to_minor(&p.quantity, unit)?, unit });
    }
    if in_scope.is_empty() {
        return Err(CountError::NothingInScope);
    }
    let facility = w.identity()?.facility;
    let (id, review) = (Uuid::now_v7(), Uuid::now_v7());
    let info = SessionInfo { name, scope, opened_by: person, opened_hlc_ms: w.now_ms()?, review };
    let writer = w.writer()?;
    w.create(count::create_session(id, facility.clone(), writer, &info, &in_scope));
    w.create(count::create_review(review, facility, writer, id, &expected));
    Ok(id)
}

/// Count sessions on this device, newest first.
pub fn count_sessions(w: &mut UnitOfWork<'_>) -> Result<Vec<CountSessionSummary>> {
    let mut out = Vec::new();
    for info in w.docs(Some(DocKind::CountSession))? {
        if let Some(summary) = read(w, info.id, |doc| Ok(summary(doc)?))? {
            out.push(summary);
        }
    }
    Ok(out)
}

/// A session as counters see it (no expected quantities).
pub fn count_session(w: &mut UnitOfWork<'_>, id: Uuid) -> Result<CountSessionView> {
    read(w, id, |doc| {
        Ok(CountSessionView {
            summary: summary(doc)?,
            scope: count::info(doc)?.scope,
            in_scope: count::in_scope(doc)?
                .into_iter()
                .map(|(tag, p)| ScopedPackageView { tag, item: p.item, location: p.location, unit: p.unit })
                .collect(),
            entries: count::entries(doc)?.into_iter().map(Into::into).collect(),
            recount: count::recount_tags(doc)?,
            participants: count::participants(doc)?,
        })
    })?
    .ok_or(CountError::UnknownSession(id))
}

/// What the signed-in person has counted of each package in the session's current round (all
/// their devices added up), by tag: the lines the counting screen shows. Never the expected
/// quantity.
pub fn your_counts(w: &mut UnitOfWork<'_>, id: Uuid) -> Result<Vec<ScanResult>> {
    let user = w.user()?;
    read(w, id, |doc| {
        let round = count::round(doc)?;
        let in_scope = count::in_scope(doc)?;
        let mut totals: BTreeMap<PackageTag, (i64, Unit)> = BTreeMap::new();
        for e in count::entries(doc)?.into_iter().filter(|e| e.user == user.id && e.round == round) {
            let total = totals.entry(e.tag).or_insert((0, e.unit));
            total.0 = total.0.saturating_add(e.minor);
        }
        Ok(totals
            .into_iter()
            .map(|(tag, (minor, unit))| ScanResult {
                item: in_scope.get(&tag).map(|p| p.item.clone()).unwrap_or_else(|| tag.to_string()),
                round: round.into(),
                your_count: count::from_minor(minor, unit),
                tag,
            })
            .collect())
    })?
    .ok_or(CountError::UnknownSession(id))
}

/// Joins a session: the people counting are listed for everyone.
pub fn join_count(w: &mut UnitOfWork<'_>, id: Uuid) -> Result<()> {
    let user = w.user()?;
    require(&user, COUNTERS, "count")?;
    let (_, person) = w.actor()?;
    let doc = w.doc(id)?.ok_or(CountError::UnknownSession(id))?;
    if count::status(doc)? == SessionStatus::Closed {
        return Err(CountError::Closed);
    }
    count::join(doc, &person)?;
    Ok(())
}

/// Records a scan: `raw_tag` as the scanner gave it, where it was found, and how much is there
/// (the weight, or the number of units). Adds to what the person counted of it this round.
pub fn count_scan(w: &mut UnitOfWork<'_>, id: Uuid, raw_tag: &str, location: &LocationName, quantity: Quantity) -> Result<ScanResult> {
    if quantity.is_negative() {
        return Err(CountError::Negative);
    }
    count_write(w, id, raw_tag, location, quantity, false)
}

/// Replaces what the signed-in person counted of a package this round (their own entry only;
/// others' counts are untouched).
pub fn count_correct(w: &mut UnitOfWork<'_>, id: Uuid, raw_tag: &str, location: &LocationName, quantity: Quantity) -> Result<ScanResult> {
    if quantity.is_negative() {
        return Err(CountError::Negative);
    }
    count_write(w, id, raw_tag, location, quantity, true)
}

fn count_write(
    w: &mut UnitOfWork<'_>,
    id: Uuid,
    raw_tag: &str,
    location: &LocationName,
    quantity: Quantity,
    correction: bool,
) -> Result<ScanResult> {
    let user = w.user()?;
    require(&user, COUNTERS, "count")?;
    let tag = PackageTag::parse(raw_tag)?;
    let quantity = quantity.checked()?;
    location.check()?;
    // Who, when and the package's state as of this transaction.
    let (_, person) = w.actor()?;
    let package = w.package(&tag)?;
    let doc = w.doc(id)?.ok_or(CountError::UnknownSession(id))?;
    let round = match count::status(doc)? {
        SessionStatus::Closed => return Err(CountError::Closed),
        SessionStatus::Counting => 1,
        SessionStatus::Recount => 2,
    };
    let Some(package) = &package else { return Err(CountError::UnknownPackage { tag }) };
    if package.status == PackageStatus::Quarantined {
        return Err(CountError::Quarantined { tag });
    }
    let Some(scoped) = count::scoped(doc, &tag)? else {
        return Err(CountError::NotInScope { tag, location: package.location.clone() });
    };
    if round == 2 {
        match count::recount_excluded(doc, &tag)? {
            None => return Err(CountError::NotForRecount { tag }),
            Some(excluded) if excluded.contains(&user.id) => return Err(CountError::SameCounter { tag }),
            Some(_) => {}
        }
    }
    let minor = count::to_minor(&quantity, scoped.unit)?;
    let mine = count::person_total(doc, round, user.id, &tag)?;
    let add = if correction { minor.saturating_sub(mine) } else { minor };
    let scan = ScanRecord {
        round,
        tag: tag.clone(),
        user: user.id,
        user_name: user.name.clone(),
        device: person.device,
        location: location.clone(),
        minor: add,
        correction,
        at: person.at,
    };
    count::add(doc, &scan, scoped.unit)?;
    Ok(ScanResult {
        tag: tag.clone(),
        item: scoped.item,
        round: round.into(),
        your_count: count::from_minor(mine.saturating_add(add), scoped.unit),
    })
}

/// Closes the current round (managers only). Round 1: variances go to a recount by someone
/// else, or the session closes. Round 2: a variance that persists quarantines the package and
/// opens a discrepancy.
pub fn close_count(w: &mut UnitOfWork<'_>, id: Uuid) -> Result<CloseOutcome> {
    // The counts, the ledger they are compared with and the quarantines all in one
    // transaction: a sync cannot land between the comparison and what it decides.
    let (user, person) = w.actor()?;
    require(&user, &[Role::Manager], "close a count session")?;
    let categories = item_categories(w)?;
    let (info, status, entries) =
        read(w, id, |doc| Ok((count::info(doc)?, count::status(doc)?, count::entries(doc)?)))?.ok_or(CountError::UnknownSession(id))?;
    let expected = read(w, info.review, |doc| Ok(count::expected(doc)?))?.ok_or(CountError::NoReview)?;
    let round = match status {
        SessionStatus::Closed => return Err(CountError::Closed),
        SessionStatus::Counting => 1,
        SessionStatus::Recount => 2,
    };
    let tags: Vec<PackageTag> = if round == 1 {
        expected.keys().cloned().collect()
    } else {
        let recount = read(w, id, |doc| Ok(count::recount_tags(doc)?))?.unwrap_or_default();
        let counted: BTreeSet<&PackageTag> = entries.iter().filter(|e| e.round == 2).map(|e| &e.tag).collect();
        let missing: Vec<PackageTag> = recount.iter().filter(|t| !counted.contains(t)).cloned().collect();
        if !missing.is_empty() {
            return Err(CountError::RecountMissing(missing));
        }
        recount
    };
    let mut lines = Vec::new();
    for tag in &tags {
        let Some(snapshot) = expected.get(tag) else { continue };
        let counted = read(w, id, |doc| Ok(count::total(doc, round, tag)?))?.unwrap_or(0);
        lines.push(compare(w, &info, &categories, tag, *snapshot, counted, round)?);
    }
    let variances: Vec<&VarianceLine> = lines.iter().filter(|l| l.outcome == Outcome::Variance).collect();

    if round == 1 && !variances.is_empty() {
        let recount: BTreeMap<PackageTag, Vec<UserId>> = variances
            .iter()
            .map(|l| {
                let counters = entries.iter().filter(|e| e.round == 1 && e.tag == l.tag).map(|e| e.user);
                (l.tag.clone(), counters.collect::<BTreeSet<_>>().into_iter().collect())
            })
            .collect();
        count::start_recount(w.doc(id)?.ok_or(CountError::UnknownSession(id))?, &recount)?;
        count::put_results(w.doc(info.review)?.ok_or(CountError::NoReview)?, &lines)?;
        return Ok(CloseOutcome::RecountNeeded(lines));
    }

    // Round 2 (or a round 1 without variances): close; persisting variances quarantine.
    let first_counts: HashMap<PackageTag, i64> = if round == 2 {
        read(w, info.review, |doc| Ok(count::results(doc)?))?
            .unwrap_or_default()
            .into_iter()
            .filter(|l| l.round == 1)
            .map(|l| (l.tag, l.counted_minor))
            .collect()
    } else {
        HashMap::new()
    };
    let now = w.now()?;
    let mut opened = Vec::new();
    for line in lines.iter().filter(|l| l.outcome == Outcome::Variance) {
        let reason = format!(
            "count variance: expected {}, counted {}{}",
            count::from_minor(line.expected_minor, line.unit),
            first_counts.get(&line.tag).map(|c| format!("{}, recounted ", count::from_minor(*c, line.unit))).unwrap_or_default(),
            count::from_minor(line.counted_minor, line.unit),
        );
        let event = w.record(&line.tag, EventBody::Quarantined { reason })?;
        let d = Discrepancy {
            tag: line.tag.clone(),
            unit: line.unit,
            expected_minor: line.expected_minor,
            counted_minor: first_counts.get(&line.tag).copied().unwrap_or(line.counted_minor),
            recounted_minor: line.counted_minor,
            quarantine_event: event.id,
            opened_at: now,
            root_cause: String::new(),
            corrective_action: String::new(),
            adjustment: None,
            status: DiscrepancyStatus::Open,
        };
        count::open_discrepancy(w.doc(info.review)?.ok_or(CountError::NoReview)?, &d)?;
        opened.push(line.tag.clone());
    }
    count::put_results(w.doc(info.review)?.ok_or(CountError::NoReview)?, &lines)?;
    count::close(w.doc(id)?.ok_or(CountError::UnknownSession(id))?, &person)?;
    // Closed sessions are read, not written: one snapshot loads fastest.
    w.compact(id);
    w.compact(info.review);
    Ok(CloseOutcome::Closed { lines, discrepancies: opened })
}

/// The comparison of every round so far (managers and compliance only).
pub fn count_variances(w: &mut UnitOfWork<'_>, id: Uuid) -> Result<Vec<VarianceLine>> {
    let user = w.user()?;
    require(&user, REVIEWERS, "see count variances")?;
    let review = review_of(w, id)?;
    read(w, review, |doc| Ok(count::results(doc)?))?.ok_or(CountError::NoReview)
}

/// The discrepancies of a session (managers and compliance only).
pub fn count_discrepancies(w: &mut UnitOfWork<'_>, id: Uuid) -> Result<Vec<Discrepancy>> {
    let user = w.user()?;
    require(&user, REVIEWERS, "see discrepancies")?;
    let review = review_of(w, id)?;
    read(w, review, |doc| Ok(count::discrepancies(doc)?))?.ok_or(CountError::NoReview)
}

/// The investigation of a discrepancy: the package's full history (newest first, so the
/// last 24 hours lead) with who and which device, and every count entry and scan of it.
pub fn investigation(w: &mut UnitOfWork<'_>, id: Uuid, tag: &PackageTag) -> Result<Investigation> {
    let user = w.user()?;
    require(&user, REVIEWERS, "investigate a discrepancy")?;
    let review = review_of(w, id)?;
    let discrepancy = read(w, review, |doc| Ok(count::discrepancy(doc, tag)?))?
        .ok_or(CountError::NoReview)?
        .ok_or_else(|| CountError::NoDiscrepancy { tag: tag.clone() })?;
    let names: HashMap<UserId, String> = w.roster()?.into_iter().map(|r| (r.id, r.name)).collect();
    let cutoff = (w.now()? - Duration::hours(24)).timestamp_millis();
    let history = w
        .history(tag)?
        .into_iter()
        .map(|record| HistoryLine {
            who: names.get(&record.event.user).cloned().unwrap_or_else(|| record.event.user.to_string()),
            recent: record.event.hlc.wall_ms >= cutoff,
            record,
        })
        .collect();
    let entries = read(w, id, |doc| Ok(count::entries(doc)?.into_iter().filter(|e| &e.tag == tag).collect()))?
        .ok_or(CountError::UnknownSession(id))?;
    Ok(Investigation { discrepancy, package: w.package(tag)?, history, entries })
}

/// Records the root cause and corrective action of a discrepancy.
pub fn record_investigation(w: &mut UnitOfWork<'_>, id: Uuid, tag: &PackageTag, root_cause: &str, corrective_action: &str) -> Result<()> {
    let user = w.user()?;
    require(&user, REVIEWERS, "record an investigation")?;
    let review = review_of(w, id)?;
    let root_cause = crate::text::clean(crate::text::note("root cause"), root_cause)?;
    let corrective_action = crate::text::clean(crate::text::note("corrective action"), corrective_action)?;
    let review = w.doc(review)?.ok_or(CountError::NoReview)?;
    if !count::set_investigation(review, tag, &root_cause, &corrective_action)? {
        return Err(CountError::NoDiscrepancy { tag: tag.clone() });
    }
    Ok(())
}

/// Compares one package: the expected quantity follows ledger changes made during the count.
fn compare(
    w: &UnitOfWork<'_>,
    info: &SessionInfo,
    categories: &ItemCategories,
    tag: &PackageTag,
    snapshot: Expected,
    counted: i64,
    round: u8,
) -> Result<VarianceLine> {
    let during: Vec<EventRecord> = w
        .history(tag)?
        .into_iter()
        .filter(|r| r.event.hlc.wall_ms > info.opened_hlc_ms && r.state != crate::store::EventState::Rejected)
        .collect();
    let mut line = VarianceLine {
        round,
        tag: tag.clone(),
        unit: snapshot.unit,
        snapshot_minor: snapshot.minor,
        expected_minor: snapshot.minor,
        counted_minor: counted,
        outcome: Outcome::Match,
    };
    if !during.is_empty() {
        let package = w.package(tag)?;
        match package {
            Some(p) if p.status == PackageStatus::Active && in_count_scope(&info.scope, categories, &p) => {
                line.expected_minor = count::to_minor(&p.quantity, snapshot.unit)?;
            }
            other => {
                let what = other
                    .map(|p| format!("it is now {} at {}", p.status.as_str(), p.location))
                    .unwrap_or_else(|| "it left the inventory".into());
                line.outcome =
                    Outcome::ChangedDuringCount { note: format!("{} during the count; {what}", during[0].event.kind().with_article()) };
                return Ok(line);
            }
        }
    }
    if !count::same_count(line.counted_minor, line.expected_minor, line.unit) {
        line.outcome = Outcome::Variance;
    }
    Ok(line)
}

/// Reads a count document with this module's error type, inside a unit of work.
fn read<T>(w: &mut UnitOfWork<'_>, id: Uuid, f: impl FnOnce(&crate::work::WorkDoc) -> Result<T>) -> Result<Option<T>> {
    w.read::<T, CountError>(id, f)
}

/// Everyone who counted a package in a session (none of them may approve its adjustment).
pub(crate) fn counters_of(w: &mut UnitOfWork<'_>, id: Uuid, tag: &PackageTag) -> Result<Vec<UserId>> {
    let entries = read(w, id, |doc| Ok(count::entries(doc)?))?.ok_or(CountError::UnknownSession(id))?;
    Ok(entries.into_iter().filter(|e| &e.tag == tag).map(|e| e.user).collect::<BTreeSet<_>>().into_iter().collect())
}

/// The review document (expected quantities, results, discrepancies) of a session.
pub(crate) fn review_of(w: &mut UnitOfWork<'_>, id: Uuid) -> Result<Uuid> {
    read(w, id, |doc| Ok(count::info(doc)?.review))?.ok_or(CountError::UnknownSession(id))
}

fn summary(doc: &crate::work::WorkDoc) -> Result<CountSessionSummary, StoreError> {
    let info = count::info(doc)?;
    Ok(CountSessionSummary {
        id: doc.id,
        name: info.name,
        status: count::status(doc)?,
        round: count::round(doc)?.into(),
        opened_by: info.opened_by.name,
        packages_in_scope: count::in_scope(doc)?.len() as u64,
    })
}

fn in_count_scope(scope: &CountScope, categories: &ItemCategories, p: &PackageView) -> bool {
    scope.locations.contains(&p.location)
        || categories.0.get(p.item.as_str()).is_some_and(|c| scope.categories.iter().any(|s| s.eq_ignore_ascii_case(c)))
}

/// The unit a count of this package is entered in, for the app's input field.
pub fn count_unit(unit: Unit) -> Unit {
    if unit.is_weight() { Unit::G } else { Unit::Each }
}
