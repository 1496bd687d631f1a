//! Pulls from the state (decision 0021): per connected facility, incoming transfers walked in
//! lastModified windows of at most 24 hours from a stored cursor, each with its delivery's
//! packages, read into the inbound manifest inbox with their lab results as certificates; the
//! reference lists (items, locations, adjustment reasons); and, now and then, a dated snapshot
//! of the state's active packages.
//!
//! Requests go one at a time per facility, paced below the state's GET limits (with the drain's
//! reads: [`crate::state::pace`]), and a 429 waits
//! its `Retry-After`. What the state sends is judged record by record: a record that cannot be
//! read is refused with its name and the field, logged and recorded, and nothing of it is kept;
//! a page that cannot be read at all stops the pull of that window before anything of it is kept,
//! so its cursor stays where it was and the next pull reads the window again.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{NaiveDateTime, Utc};
use custody_core::ids::{ItemName, LicenseNumber, LocationName};
use custody_core::protocol::{ReferenceData, StateItem, StateLocation};
use custody_core::quantity::Unit;
use custody_core::receiving::coa::coa_from_state;
use custody_core::receiving::manifest::InboundManifest;
use custody_core::state_json::{Record, Tz};
use custody_core::work::adjustment::AdjustmentReason;
use custody_core::work::receiving::Coa;
use serde_json::Value;
use tokio::task::JoinHandle;

use crate::config::StateSettings;
use crate::db::{Db, DbError};
use crate::state::inbox::{InboxStatus, PulledManifest, SnapshotPackage, cursor_text};
use crate::state::metrc::{DEFAULT_PAGE_SIZE, Metrc};
use crate::state::pace::Gets;
use crate::state::{Page, StateError, StateSystem, System};

/// The incoming transfers list: the one pulled in windows.
pub const TRANSFERS: &str = "/transfers/v2/incoming";
/// The longest lastModified window the state answers.
pub const MAX_WINDOW: chrono::Duration = chrono::Duration::hours(24);
/// Each pull reads again this much before its cursor: the state's clock and ours differ a
/// little, and a record written as a window closed must not fall between two windows.
pub const OVERLAP: chrono::Duration = chrono::Duration::minutes(5);
/// 429s in a row before a pull gives up for now.
const MAX_THROTTLES: u32 = 30;
/// More pages than this in one list is not a list the state would send.
const MAX_PAGES: u32 = 10_000;

/// Why a pull stopped before its end. Nothing of the window it was in was kept.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("the database task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("reading {what} from the state: {source}")]
    State { what: String, source: StateError },
    #[error("the facility is not connected to a state system (or its connector is stopped)")]
    NotConnected,
    #[error("the state's connection could not be opened: {0}")]
    Client(String),
    #[error("the facility's time zone {0:?} is not a time zone; set it with `custody-server facility set-time-zone`")]
    Zone(String),
}

/// What one pull did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PullReport {
    /// Incoming transfers read (open or not).
    pub manifests: usize,
    /// Records refused (named in `state_pull_faults` and the log).
    pub refused: usize,
    /// Whether phones will see something new.
    pub changed: bool,
    /// Whether a snapshot of the active packages was taken.
    pub snapshot: bool,
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, DbError> + Send + 'static) -> Result<T, PullError> {
    Ok(tokio::task::spawn_blocking(f).await??)
}

/// One pull per facility at a time in this process, whoever asks (the loop or a test).
fn facility_lock(db: &Db, facility: &LicenseNumber) -> Arc<tokio::sync::Mutex<()>> {
    type Locks = Mutex<HashMap<(std::path::PathBuf, String), Arc<tokio::sync::Mutex<()>>>>;
    static LOCKS: OnceLock<Locks> = OnceLock::new();
    let mut locks = LOCKS.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    locks.entry((db.path().to_path_buf(), facility.to_string())).or_default().clone()
}

/// Pulls one facility now, whatever the interval: what the loop runs, and what tests call.
pub async fn pull_now(db: &Db, settings: &StateSettings, facility: &LicenseNumber) -> Result<PullReport, PullError> {
    let lock = facility_lock(db, facility);
    let _held = lock.lock().await;
    let live = {
        let db = db.clone();
        blocking(move || db.live_connections()).await?
    };
    let live = live.into_iter().find(|l| &l.facility == facility).ok_or(PullError::NotConnected)?;
    let zone = {
        let (db, f) = (db.clone(), facility.clone());
        blocking(move || db.facility_time_zone(&f)).await?
    };
    let zone = Tz::from_str(&zone).map_err(|_| PullError::Zone(zone))?;
    match live.system {
        System::Metrc => {
            let gets = Gets::for_facility(settings, &live.base_url, facility.as_str(), &live.keys.vendor);
            let client = Metrc::new(&live.base_url, facility.as_str(), live.keys, settings.request_timeout).map_err(PullError::Client)?;
            let puller = Puller { db: db.clone(), settings: settings.clone(), facility: facility.clone(), zone, state: client, gets };
            let result = puller.pull().await;
            if let Err(PullError::State { source: StateError::Unauthorized(_), .. }) = &result {
                let (db, f, why) = (db.clone(), facility.clone(), result.as_ref().err().map(|e| e.to_string()).unwrap_or_default());
                blocking(move || db.stop_state(&f, &why)).await?;
            }
            result
        }
    }
}

struct Puller<S: StateSystem> {
    db: Db,
    settings: StateSettings,
    facility: LicenseNumber,
    zone: Tz,
    state: S,
    gets: Arc<Gets>,
}

impl<S: StateSystem> Puller<S> {
    async fn pull(&self) -> Result<PullReport, PullError> {
        let mut report = PullReport::default();
        self.transfers(&mut report).await?;
        report.changed |= self.reference(&mut report).await?;
        report.snapshot = self.snapshot_if_due(&mut report).await?;
        let (db, f) = (self.db.clone(), self.facility.clone());
        blocking(move || db.pull_done(&f, Utc::now())).await?;
        tracing::info!(facility = %self.facility, manifests = report.manifests, refused = report.refused, changed = report.changed, "state pull done");
        Ok(report)
    }

    /// One page, waiting out 429s.
    async fn page(&self, path: &str, filters: &[(&str, String)], page: u32) -> Result<Page, PullError> {
        let mut throttles = 0;
        loop {
            match self.gets.get(self.state.page(path, filters, page)).await {
                Err(StateError::RateLimited(wait)) if throttles < MAX_THROTTLES => {
                    throttles += 1;
                    tracing::debug!(facility = %self.facility, path, ?wait, "the state asked to slow down");
                    tokio::time::sleep(wait).await;
                }
                Ok(p) => return Ok(p),
                Err(source) => {
                    let what = if page > 1 { format!("{path} (page {page})") } else { path.to_string() };
                    if matches!(source, StateError::Unexpected(_)) {
                        // An answer that cannot be read: logged and recorded, the window kept for later.
                        tracing::warn!(facility = %self.facility, %what, error = %source, "the state sent a page that cannot be read; its window will be read again");
                        let (db, f, w, m) = (self.db.clone(), self.facility.clone(), what.clone(), source.to_string());
                        blocking(move || db.pull_fault(&f, &w, "the whole page", &m)).await?;
                    }
                    return Err(PullError::State { what, source });
                }
            }
        }
    }

    /// Every record of a list. When the first page says how many there are, the other pages are
    /// read at once (as many at a time as the GET limits allow, [`Gets`]) and kept in page
    /// order; otherwise page after page until a short one.
    async fn all(&self, path: &str, filters: &[(&str, String)]) -> Result<Vec<Value>, PullError> {
        let first = self.page(path, filters, 1).await?;
        let size = first.data.len() as u64;
        let mut total = first.total;
        let mut out = first.data;
        // How many records the last page read held: a short or empty page is the end.
        let mut last_len = size;
        let mut next = 2;
        if let Some(t) = total
            && size > 0
            && (out.len() as u64) < t
        {
            let last = t.div_ceil(size).min(u64::from(MAX_PAGES)) as u32;
            let pages = futures_util::future::join_all((2..=last).map(|n| self.page(path, filters, n))).await;
            for page in pages {
                let page = page?;
                last_len = page.data.len() as u64;
                total = page.total.or(total);
                out.extend(page.data);
            }
            next = last + 1;
        }
        // Page after page: when the state gave no total, or more arrived while reading.
        for n in next..=MAX_PAGES {
            let more = match total {
                Some(t) => (out.len() as u64) < t && last_len > 0,
                None => last_len == u64::from(DEFAULT_PAGE_SIZE),
            };
            if !more {
                break;
            }
            let page = self.page(path, filters, n).await?;
            last_len = page.data.len() as u64;
            total = page.total.or(total);
            out.extend(page.data);
        }
        Ok(out)
    }

    async fn refuse(&self, report: &mut PullReport, endpoint: &str, record: String, message: String) -> Result<(), PullError> {
        tracing::warn!(facility = %self.facility, endpoint, %record, %message, "refused a record from the state; nothing of it was kept");
        report.refused += 1;
        let (db, f, e) = (self.db.clone(), self.facility.clone(), endpoint.to_string());
        blocking(move || db.pull_fault(&f, &e, &record, &message)).await
    }

    /// Incoming transfers, window by window from the cursor.
    async fn transfers(&self, report: &mut PullReport) -> Result<(), PullError> {
        let cursor = {
            let (db, f) = (self.db.clone(), self.facility.clone());
            blocking(move || db.pull_cursor(&f, TRANSFERS)).await?
        };
        let now = Utc::now().naive_utc();
        let lookback = chrono::Duration::from_std(self.settings.pull_lookback).unwrap_or(chrono::Duration::days(7));
        // A cursor ahead of our clock (the clock was set back) starts at now, never past it.
        let mut start = cursor.map(|c| c - OVERLAP).unwrap_or(now - lookback).min(now);
        loop {
            let end = (start + MAX_WINDOW).min(now);
            self.window(report, start, end).await?;
            if end >= now {
                return Ok(());
            }
            start = end;
        }
    }

    /// One window: read whole, then kept whole with its cursor, or nothing of it.
    async fn window(&self, report: &mut PullReport, start: NaiveDateTime, end: NaiveDateTime) -> Result<(), PullError> {
        let filters = [("lastModifiedStart", cursor_text(start)), ("lastModifiedEnd", cursor_text(end))];
        let transfers = self.all(TRANSFERS, &filters).await?;
        let mut manifests = Vec::new();
        let mut coas: Vec<Coa> = Vec::new();
        for transfer in &transfers {
            report.manifests += 1;
            if let Some((pulled, found)) = self.transfer(report, transfer).await? {
                manifests.push(pulled);
                coas.extend(found);
            }
        }
        let (db, f) = (self.db.clone(), self.facility.clone());
        let changed = blocking(move || db.pull_store_manifests(&f, TRANSFERS, end, &manifests, &coas)).await?;
        report.changed |= changed;
        Ok(())
    }

    /// One incoming transfer with its delivery's packages and their lab results; `None` when it
    /// was refused (recorded).
    async fn transfer(&self, report: &mut PullReport, transfer: &Value) -> Result<Option<(PulledManifest, Vec<Coa>)>, PullError> {
        let name = transfer
            .get("ManifestNumber")
            .and_then(|m| m.as_str().map(str::to_string).or_else(|| m.as_i64().map(|n| n.to_string())))
            .map(|m| format!("manifest {m}"))
            .unwrap_or_else(|| "an incoming transfer without a manifest number".into());
        let Some(id) = transfer.get("Id").and_then(Value::as_i64) else {
            self.refuse(report, TRANSFERS, name, "it has no Id, so its packages cannot be read".into()).await?;
            return Ok(None);
        };
        let deliveries = self.all(&format!("/transfers/v2/{id}/deliveries"), &[]).await?;
        let ours: Vec<i64> = deliveries
            .iter()
            .filter(|d| d.get("RecipientFacilityLicenseNumber").and_then(Value::as_str) == Some(self.facility.as_str()))
            .filter_map(|d| d.get("Id").and_then(Value::as_i64))
            .collect();
        let mut packages = Vec::new();
        for delivery in ours {
            packages.extend(self.all(&format!("/transfers/v2/deliveries/{delivery}/packages"), &[]).await?);
        }
        let mut whole = transfer.clone();
        if let Some(map) = whole.as_object_mut() {
            map.entry("RecipientFacilityLicenseNumber").or_insert_with(|| Value::String(self.facility.to_string()));
            map.insert("Packages".into(), Value::Array(packages.clone()));
        }
        let manifest = match InboundManifest::from_state(&whole, &self.facility, Some(self.zone)) {
            Ok(m) => m,
            Err(e) => {
                self.refuse(report, TRANSFERS, name, e.to_string()).await?;
                return Ok(None);
            }
        };
        let states: Vec<&str> = packages.iter().filter_map(|p| p.get("ShipmentPackageState").and_then(Value::as_str)).collect();
        let status = if states.contains(&"Shipped") || states.is_empty() {
            InboxStatus::Open
        } else if states.contains(&"Accepted") {
            InboxStatus::Accepted
        } else {
            InboxStatus::Rejected
        };
        let mut coas = Vec::new();
        if status == InboxStatus::Open {
            for p in &manifest.packages {
                let Some(batch) = &p.production_batch_number else { continue };
                let raw = packages.iter().find(|r| r.get("PackageLabel").and_then(Value::as_str) == Some(p.tag.as_str()));
                let filter = match raw.and_then(|r| r.get("PackageId")).and_then(Value::as_i64) {
                    Some(id) => ("packageId", id.to_string()),
                    None => ("packageLabel", p.tag.to_string()),
                };
                let results = self.all("/labtests/v2/results", &[filter]).await?;
                match coa_from_state(&results, p.tag.as_str(), batch, Some(self.zone)) {
                    Ok(Some(coa)) => {
                        // The latest test of the batch among its packages.
                        match coas.iter_mut().find(|c: &&mut Coa| c.batch == coa.batch) {
                            Some(held) if held.tested_on >= coa.tested_on => {}
                            Some(held) => *held = coa,
                            None => coas.push(coa),
                        }
                    }
                    Ok(None) => {}
                    Err(e) => self.refuse(report, "/labtests/v2/results", format!("package {}", p.tag), e.to_string()).await?,
                }
            }
        }
        Ok(Some((PulledManifest { transfer_id: Some(id), status, manifest }, coas)))
    }

    /// The reference lists, read whole (they are short, and the active lists do not say what
    /// left them). A record that cannot be read is refused alone. Whether they changed.
    async fn reference(&self, report: &mut PullReport) -> Result<bool, PullError> {
        let mut reference = ReferenceData::default();
        for value in self.all("/items/v2/active", &[]).await? {
            match item(&value) {
                Ok(i) => reference.items.push(i),
                Err((record, message)) => self.refuse(report, "/items/v2/active", record, message).await?,
            }
        }
        for value in self.all("/locations/v2/active", &[]).await? {
            match location(&value) {
                Ok(l) => reference.locations.push(l),
                Err((record, message)) => self.refuse(report, "/locations/v2/active", record, message).await?,
            }
        }
        for value in self.all("/packages/v2/adjust/reasons", &[]).await? {
            match reason(&value) {
                Ok(r) => reference.adjustment_reasons.push(r),
                Err((record, message)) => self.refuse(report, "/packages/v2/adjust/reasons", record, message).await?,
            }
        }
        reference.items.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
        reference.locations.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
        reference.adjustment_reasons.sort_by(|a, b| a.name.cmp(&b.name));
        let (db, f) = (self.db.clone(), self.facility.clone());
        blocking(move || db.pull_store_reference(&f, &reference)).await
    }

    /// A snapshot of the active packages when the last is older than the setting. Refused whole
    /// when one record cannot be read: a snapshot missing a package would mislead a reconciliation.
    async fn snapshot_if_due(&self, report: &mut PullReport) -> Result<bool, PullError> {
        let last = {
            let (db, f) = (self.db.clone(), self.facility.clone());
            blocking(move || db.latest_package_snapshot(&f)).await?.map(|(at, _)| at)
        };
        let due = chrono::Duration::from_std(self.settings.snapshot_interval).unwrap_or(chrono::Duration::hours(6));
        if last.is_some_and(|at| Utc::now() - at < due) {
            return Ok(false);
        }
        let taken_at = Utc::now();
        let mut packages = Vec::new();
        for value in self.all("/packages/v2/active", &[]).await? {
            match snapshot_package(&value) {
                Ok(p) => packages.push(p),
                Err((record, message)) => {
                    self.refuse(report, "/packages/v2/active", record, format!("{message}; no snapshot was taken")).await?;
                    return Ok(false);
                }
            }
        }
        let (db, f) = (self.db.clone(), self.facility.clone());
        blocking(move || db.store_package_snapshot(&f, taken_at, &packages)).await?;
        Ok(true)
    }
}

/// A record refused: whose, and why.
type Refusal = (String, String);

fn shape(e: custody_core::state_json::ShapeError) -> Refusal {
    (e.whose, e.problem)
}

fn item(value: &Value) -> Result<StateItem, Refusal> {
    let r = Record::new("an item", value).map_err(shape)?;
    let raw = r.required_text(&["Name"], "item name").map_err(shape)?;
    let whose = format!("item {raw:?}");
    let r = r.named(whose.clone());
    let name = ItemName::parse(&raw).map_err(|e| (whose.clone(), e.to_string()))?;
    let category = r.text(&["ProductCategoryName"], "product category").map_err(shape)?.unwrap_or_default();
    let unit = r.required_text(&["UnitOfMeasureName"], "unit of measure").map_err(shape)?;
    let unit = Unit::from_str(&unit).map_err(|e| (whose, e.to_string()))?;
    Ok(StateItem { name, category, unit })
}

fn location(value: &Value) -> Result<StateLocation, Refusal> {
    let r = Record::new("a location", value).map_err(shape)?;
    let raw = r.required_text(&["Name"], "location name").map_err(shape)?;
    let whose = format!("location {raw:?}");
    let r = r.named(whose.clone());
    let name = LocationName::parse(&raw).map_err(|e| (whose, e.to_string()))?;
    // A location the state does not mark is one packages may go to (the state's default).
    let for_packages = r.flag(&["ForPackages"], "for-packages mark").map_err(shape)?.unwrap_or(true);
    Ok(StateLocation { name, for_packages })
}

fn reason(value: &Value) -> Result<AdjustmentReason, Refusal> {
    let r = Record::new("an adjustment reason", value).map_err(shape)?;
    let name = r.required_text(&["Name"], "reason name").map_err(shape)?;
    let r = r.named(format!("adjustment reason {name:?}"));
    custody_core::text::required(custody_core::text::reason("adjustment reason"), &name)
        .map_err(|e| (r.whose().to_string(), e.to_string()))?;
    // Unsaid is read as "a note is needed": the audit trail wants one anyway.
    let requires_note = r.flag(&["RequiresNote"], "note requirement").map_err(shape)?.unwrap_or(true);
    Ok(AdjustmentReason { name, requires_note })
}

fn snapshot_package(value: &Value) -> Result<SnapshotPackage, Refusal> {
    let r = Record::new("an active package", value).map_err(shape)?;
    let raw = r.required_text(&["Label"], "package tag").map_err(shape)?;
    let label = custody_core::ids::PackageTag::parse(&raw).map_err(|e| (format!("active package {raw:?}"), e.to_string()))?.to_string();
    let r = r.named(format!("active package {label}"));
    let item = value
        .get("Item")
        .and_then(|i| i.get("Name"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .or(r.text(&["ItemName", "ProductName"], "item name").map_err(shape)?)
        .ok_or_else(|| (r.whose().to_string(), "no item name is given".to_string()))?;
    let quantity =
        r.decimal(&["Quantity"], "quantity").map_err(shape)?.ok_or_else(|| (r.whose().to_string(), "no quantity is given".to_string()))?;
    if quantity.is_sign_negative() && !quantity.is_zero() {
        return Err((r.whose().to_string(), format!("the quantity {quantity} is negative")));
    }
    let unit = r.required_text(&["UnitOfMeasureName"], "unit of measure").map_err(shape)?;
    let location = r.text(&["LocationName", "Location"], "location").map_err(shape)?;
    Ok(SnapshotPackage { label, item, quantity, unit, location })
}

/// Runs until aborted: every `poll_interval`, pulls each connected facility not pulled in the
/// last `every` by this process (at once after a start or a connect).
pub async fn run(db: Db, settings: StateSettings, every: Duration) {
    let mut running: HashMap<LicenseNumber, JoinHandle<()>> = HashMap::new();
    // When this process last started a pull of each facility (a failed one waits too).
    let mut started: HashMap<LicenseNumber, tokio::time::Instant> = HashMap::new();
    loop {
        running.retain(|_, h| !h.is_finished());
        let d = db.clone();
        match tokio::task::spawn_blocking(move || d.live_connections()).await {
            Ok(Ok(live)) => {
                for l in live {
                    let due = started.get(&l.facility).is_none_or(|at| at.elapsed() >= every);
                    if running.contains_key(&l.facility) || !due {
                        continue;
                    }
                    started.insert(l.facility.clone(), tokio::time::Instant::now());
                    let (db, settings, f) = (db.clone(), settings.clone(), l.facility.clone());
                    running.insert(
                        l.facility,
                        tokio::spawn(async move {
                            if let Err(err) = pull_now(&db, &settings, &f).await {
                                tracing::warn!(facility = %f, error = %err, "state pull stopped; the next one reads the same windows again");
                            }
                        }),
                    );
                }
            }
            Ok(Err(err)) => tracing::error!(error = %err, "the state pulls could not read their connections"),
            Err(err) => tracing::error!(error = %err, "the state pulls' database task failed"),
        }
        tokio::time::sleep(settings.poll_interval).await;
    }
}

/// The pull loop, beside the drain; aborted when the server stops (a pull cut short keeps
/// nothing of its window, so the next start reads it again).
pub struct Pulls {
    handle: Option<JoinHandle<()>>,
}

impl Pulls {
    /// Starts the loop when `settings.pull_interval` is set; with none, pulls run only when asked
    /// ([`pull_now`]).
    pub fn start(db: Db, settings: StateSettings) -> Pulls {
        let handle = settings.pull_interval.map(|every| tokio::spawn(run(db, settings.clone(), every)));
        Pulls { handle }
    }

    pub async fn stop(self) {
        if let Some(handle) = self.handle {
            handle.abort();
            let _ = handle.await;
        }
    }
}
