//! The device store: one SQLite file (WAL) holding the events this device knows, the outbox of
//! its own unacknowledged events, the folded inventory, the conflicts, the roster of people who
//! may sign in, and the sync state.
//!
//! Every write that a person is told "saved" is one transaction committed with
//! `synchronous=FULL`, so it survives the app being killed or the battery dying.

mod docs;
pub mod facility_settings;
mod key;
mod schema;
mod signin;
pub mod state_data;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::chain::{self, ChainBreak};
use crate::event::{Event, EventBody, EventError, GENESIS_HASH, UnsealedEvent};
use crate::fold::{Conflict, PackageFacts, PackageFold};
use crate::hlc::HlcClock;
use crate::ids::{BatchNumber, DeviceId, ItemName, LicenseNumber, LocationName, PackageTag, UserId};
use crate::protocol::{EnrolResponse, Outcome, RosterEntry, SyncResponse};
use crate::quantity::{Quantity, Unit};
use crate::roles::Role;

pub use crate::people::SignedInUser;
pub use docs::DocInfo;
pub use docs::UnitOfWork;
pub use key::{KeyError, StoreKey};
pub use schema::LATEST as SCHEMA_VERSION;
pub(crate) use signin::Signer;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the device database failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("this device is not enrolled yet; ask a manager for an enrolment code")]
    NotEnrolled,
    #[error("this device is already enrolled at {0}; it cannot be enrolled twice")]
    AlreadyEnrolled(LicenseNumber),
    #[error("nobody is signed in on this device; scan your badge and enter your PIN")]
    NotSignedIn,
    #[error("badge or PIN not recognised; try again or ask a manager")]
    BadCredentials,
    #[error(
        "this phone does not hold your signing key yet (first sign-in here, a new PIN, or too many wrong PINs); connect to the network and sign in again"
    )]
    NeedsOnlineSignIn,
    #[error("badge or PIN not recognised; {left} more wrong PINs and this phone erases your key (then sign in online)")]
    WrongPin { left: u32 },
    #[error("too many wrong PINs: this phone has erased your signing key; connect to the network and sign in again")]
    SignInKeyErased,
    #[error("{role} may not record {}; ask a manager", kind.with_article())]
    NotAllowed { role: Role, kind: crate::event::EventKind },
    #[error("{0}")]
    InvalidEvent(#[from] EventError),
    #[error("{0}")]
    Refused(String),
    #[error("event from the server failed its check: {0}")]
    BadRemoteEvent(String),
    #[error("the device database holds data it cannot read ({0}); contact support")]
    Corrupt(String),
    /// The store's file does not open with the key from the platform keystore (another key, no
    /// key, or not a Custody store): nothing on it can be read.
    #[error(
        "this app cannot read its own data on this phone: the key in the phone's keystore does not open it. \
         Call support before anything else; reinstalling the app and enrolling the phone again starts empty, \
         and work not yet synced would be lost"
    )]
    KeyMismatch,
    #[error(
        "this phone's data was written by a newer version of the Custody app (data version {found}, this app knows {known}); \
         update the app: nothing was changed"
    )]
    NewerSchema { found: usize, known: usize },
    #[error(transparent)]
    Doc(#[from] crate::work::DocError),
    #[error("the device database file {} cannot be opened: {source}; contact support", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

/// Opens the store's file encrypted with SQLCipher under the key derived from the store key
/// (a raw 256-bit key, so no passphrase derivation runs), and proves the key opens it by reading
/// before anything else touches it. Tests and support tools read a store's file with this.
pub fn open_encrypted(path: &Path, key: &StoreKey) -> Result<Connection> {
    let conn = Connection::open(path)?;
    // The very first statement: SQLCipher applies the key when the first page is read.
    conn.execute_batch(&format!("PRAGMA key = \"x'{}'\";", hex::encode(key.database_key())))?;
    let cipher: Option<String> = conn.query_row("PRAGMA cipher_version", [], |r| r.get(0)).optional()?;
    if cipher.is_none() {
        return Err(StoreError::Corrupt("this build's SQLite has no encryption (SQLCipher); it cannot open the store".into()));
    }
    match conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0)) {
        Ok(_) => Ok(conn),
        Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::NotADatabase => Err(StoreError::KeyMismatch),
        Err(e) => Err(e.into()),
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Who and where this device is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct DeviceIdentity {
    pub device_id: DeviceId,
    pub facility: LicenseNumber,
    pub facility_name: String,
    pub server_url: String,
}

/// A package as the screens show it (the apps' `Package`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record), uniffi(name = "Package"))]
pub struct PackageView {
    pub facts: PackageFacts,
    /// Some of its events have not reached the server yet.
    pub pending: bool,
}

crate::fold::package_facts_deref!(PackageView);

/// An event as a history screen or an investigation shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    pub event: Event,
    pub state: EventState,
    pub reject_reason: Option<String>,
}

/// An event as a history screen shows it, as the apps see it (the event as they type it).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct HistoryEntry {
    pub event: crate::event_view::LedgerEvent,
    pub state: EventState,
    pub reject_reason: Option<String>,
}

impl From<EventRecord> for HistoryEntry {
    fn from(r: EventRecord) -> Self {
        HistoryEntry { event: r.event.into(), state: r.state, reject_reason: r.reject_reason }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum EventState {
    Pending,
    Accepted,
    Rejected,
}

impl EventState {
    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "pending" => Self::Pending,
            "accepted" => Self::Accepted,
            "rejected" => Self::Rejected,
            other => return Err(StoreError::Corrupt(format!("event state {other:?}"))),
        })
    }
}

/// What the sync screen shows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct SyncStatus {
    /// The last attempt reached the server.
    pub online: bool,
    pub pending: u64,
    pub last_success: Option<DateTime<Utc>>,
    pub last_attempt: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    /// Own events the server refused (kept, with reasons, for a manager).
    pub rejected: u64,
}

/// What applying a sync response changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncApplied {
    pub accepted: usize,
    pub rejected: usize,
    pub pulled: usize,
    /// Events the server will judge once what they depend on has arrived.
    pub deferred: usize,
}

/// The device store: one SQLite file behind one connection. A cheap handle (clones share the
/// connection), so the sync client can run its database work on a blocking thread while the
/// async workers keep serving the app.
#[derive(Clone)]
pub struct Store(Arc<StoreInner>);

pub struct StoreInner {
    conn: Mutex<Connection>,
    /// Work documents in memory, so a scan does not reload a 10,000-entry session. Always taken
    /// after `conn` (never the other way round), and only holds what the database holds.
    docs: Mutex<std::collections::HashMap<Uuid, crate::work::WorkDoc>>,
    /// The store key from the platform keystore (every at-rest secret derives from it).
    key: StoreKey,
    /// The person signed in now, with their unsealed signing key. Only in memory: when the app's
    /// process ends, the next person to pick the phone up signs in with their PIN.
    signer: Mutex<Option<Arc<Signer>>>,
    path: PathBuf,
    /// How far this store's view of the phone's clock is moved from the system clock: always 0
    /// in the apps; tests set it to play a phone whose clock is wrong.
    clock_skew_ms: AtomicI64,
}

impl std::ops::Deref for Store {
    type Target = StoreInner;

    fn deref(&self) -> &StoreInner {
        &self.0
    }
}

const META_IDENTITY: &str = "identity";
const META_TOKEN: &str = "token";
const META_CHAIN: &str = "chain_head";
const META_HLC: &str = "hlc";
const META_CURSOR: &str = "cursor";
const META_CLOCK_OFFSET: &str = "clock_offset_ms";
const META_LAST_SUCCESS: &str = "last_success";
const META_LAST_ATTEMPT: &str = "last_attempt";
const META_LAST_ERROR: &str = "last_error";
const META_ONLINE: &str = "online";

#[derive(Serialize, Deserialize)]
struct ChainHead {
    seq: u64,
    hash: String,
}

impl Store {
    /// Opens (creating if needed) the store at `path` with the app's store key (kept in the
    /// Android Keystore or the iOS Keychain) and brings its schema up to date.
    pub fn open(path: impl AsRef<Path>, key: &StoreKey) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        // Owner-only before SQLite opens it; the -wal and -shm files take its permissions.
        crate::files::private_file(&path).map_err(|e| StoreError::Io { path: path.clone(), source: e })?;
        let mut conn = open_encrypted(&path, key)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // FULL: a commit is on disk before we tell anyone it is saved, even in WAL mode.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Checkpoints copy the WAL into the main file and fsync it: several milliseconds that
        // would land on whichever scan happened to trigger one. They run after each sync and in
        // `checkpoint` instead; the high automatic threshold is only a bound on WAL growth for a
        // device that stays offline for days.
        conn.pragma_update(None, "wal_autocheckpoint", 20_000)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        schema::migrate(&mut conn)?;
        crate::files::private_companions(&path).map_err(|e| StoreError::Io { path: path.clone(), source: e })?;
        Ok(Self(Arc::new(StoreInner {
            conn: Mutex::new(conn),
            docs: Mutex::default(),
            key: key.clone(),
            signer: Mutex::default(),
            path,
            clock_skew_ms: AtomicI64::new(0),
        })))
    }

    /// The phone's own clock. Untrusted (decision 0002): events and workflows use [`Store::now`],
    /// which corrects it with the server's.
    pub(crate) fn device_clock(&self) -> DateTime<Utc> {
        let skew = self.clock_skew_ms.load(Ordering::Relaxed);
        Utc::now().checked_add_signed(chrono::Duration::milliseconds(skew)).unwrap_or_else(Utc::now)
    }

    /// Moves this store's view of the phone's clock by `skew` from the system clock, as someone
    /// changing the phone's date and time settings would. For tests of a wrong clock; the apps
    /// never call it.
    #[doc(hidden)]
    pub fn set_device_clock_skew(&self, skew: chrono::Duration) {
        self.clock_skew_ms.store(skew.num_milliseconds(), Ordering::Relaxed);
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Now, by the device clock corrected with the server's (the device clock is not trusted).
    pub fn now(&self) -> Result<DateTime<Utc>> {
        let ms = self.hlc_now_ms()?;
        Ok(DateTime::from_timestamp_millis(ms).unwrap_or_else(Utc::now))
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        // A unit of work holds the connection for its whole transaction; a call back into the
        // store from inside it would wait on itself forever. Fail loudly instead of hanging.
        assert!(!docs::in_unit_of_work(), "a unit of work called back into the Store; read through the UnitOfWork handle instead");
        // A panic while holding the lock cannot leave SQLite half-written (transactions roll
        // back), so a poisoned lock is still safe to use.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn schema_version(&self) -> Result<usize> {
        Ok(self.conn().query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    // ---- identity, roster, sign-in -------------------------------------------------------

    /// Records the enrolment the server granted.
    pub fn save_enrolment(&self, server_url: &str, enrolment: &EnrolResponse) -> Result<DeviceIdentity> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        if let Some(existing) = get_meta::<DeviceIdentity>(&tx, META_IDENTITY)? {
            return Err(StoreError::AlreadyEnrolled(existing.facility));
        }
        let identity = DeviceIdentity {
            device_id: enrolment.device_id,
            facility: enrolment.facility.clone(),
            facility_name: enrolment.facility_name.clone(),
            server_url: server_url.trim_end_matches('/').to_string(),
        };
        set_meta(&tx, META_IDENTITY, &identity)?;
        set_meta(&tx, META_TOKEN, &enrolment.token)?;
        Self::set_server_key(&tx, &enrolment.server_key)?;
        replace_roster(&tx, &enrolment.roster)?;
        keep_time_zone(&tx, enrolment.time_zone.as_deref())?;
        // The server stamps its events' acceptance and judges stamps by its own clock: correct
        // this phone's clock from enrolment on, not only after the first sync (the answer just
        // arrived, so the round trip's error is well under a second).
        set_meta(&tx, META_CLOCK_OFFSET, &(enrolment.server_time - self.device_clock()).num_milliseconds())?;
        tx.commit()?;
        Ok(identity)
    }

    pub fn identity(&self) -> Result<Option<DeviceIdentity>> {
        get_meta(&self.conn(), META_IDENTITY)
    }

    fn require_identity(conn: &Connection) -> Result<DeviceIdentity> {
        get_meta(conn, META_IDENTITY)?.ok_or(StoreError::NotEnrolled)
    }

    /// The device token for the sync client. Never log it.
    pub(crate) fn token(&self) -> Result<String> {
        get_meta(&self.conn(), META_TOKEN)?.ok_or(StoreError::NotEnrolled)
    }

    pub fn roster(&self) -> Result<Vec<RosterEntry>> {
        roster_in(&self.conn())
    }

    // ---- recording -------------------------------------------------------------------------

    /// Records a change made on this device by the signed-in person: checks who may do it and
    /// whether the package's state allows it, then writes the event, its outbox entry and the
    /// refolded package in one durable transaction. Returns the event; a refusal changes nothing.
    pub fn record(&self, tag: &PackageTag, body: EventBody) -> Result<Event> {
        let signer = self.signer()?;
        let device_ms = self.device_clock().timestamp_millis();
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let event = record_in(&tx, &signer, tag, body, device_ms)?;
        tx.commit()?;
        Ok(event)
    }

    // ---- reading ---------------------------------------------------------------------------

    pub fn package(&self, tag: &PackageTag) -> Result<Option<PackageView>> {
        package_in(&self.conn(), tag)
    }

    /// Every package, by tag.
    pub fn packages(&self) -> Result<Vec<PackageView>> {
        packages_in(&self.conn())
    }

    pub fn packages_at(&self, location: &LocationName) -> Result<Vec<PackageView>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("{PACKAGE_SELECT} WHERE p.location = ?1 ORDER BY p.tag"))?;
        let rows = stmt.query_map([location.as_str()], package_row)?;
        rows.map(|r| r?).collect()
    }

    /// Conflicts for a manager, open and resolved, in a stable order.
    pub fn conflicts(&self) -> Result<Vec<Conflict>> {
        conflicts_in(&self.conn())
    }

    /// The full history of a package, newest first, with each event's sync state.
    pub fn history(&self, tag: &PackageTag) -> Result<Vec<EventRecord>> {
        history_in(&self.conn(), tag)
    }

    /// Every event this device holds (own and pulled), in canonical order.
    pub fn events(&self) -> Result<Vec<EventRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT json, state, reject_reason FROM events ORDER BY order_key")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?)))?;
        rows.map(|row| {
            let (json, state, reject_reason) = row?;
            Ok(EventRecord { event: from_json(&json)?, state: EventState::parse(&state)?, reject_reason })
        })
        .collect()
    }

    /// Verifies the hash chains of every device whose events this store holds.
    pub fn verify_chains(&self) -> Result<Vec<ChainBreak>> {
        let events: Vec<Event> = self.events()?.into_iter().map(|r| r.event).collect();
        // Only this device's chain is complete here: other devices' rejected events never reach
        // us, so their chains are verified on the server, which holds them all.
        let own = Self::require_identity(&self.conn())?.device_id;
        Ok(chain::verify(events.iter().filter(|e| e.device == own)))
    }

    pub fn pending_count(&self) -> Result<u64> {
        Ok(self.conn().query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get::<_, i64>(0))? as u64)
    }

    pub fn sync_status(&self) -> Result<SyncStatus> {
        let conn = self.conn();
        Ok(SyncStatus {
            online: get_meta(&conn, META_ONLINE)?.unwrap_or(false),
            pending: conn.query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get::<_, i64>(0))? as u64,
            last_success: get_meta(&conn, META_LAST_SUCCESS)?,
            last_attempt: get_meta(&conn, META_LAST_ATTEMPT)?,
            last_error: get_meta(&conn, META_LAST_ERROR)?,
            rejected: conn.query_row("SELECT COUNT(*) FROM events WHERE state = 'rejected'", [], |r| r.get::<_, i64>(0))? as u64,
        })
    }

    // ---- sync support (used by crate::sync) --------------------------------------------------

    pub fn cursor(&self) -> Result<u64> {
        Ok(get_meta(&self.conn(), META_CURSOR)?.unwrap_or(0))
    }

    /// The oldest unacknowledged own events, in chain order.
    pub fn outbox(&self, limit: usize) -> Result<Vec<Event>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached("SELECT e.json FROM outbox o JOIN events e ON e.id = o.event_id ORDER BY o.device_seq LIMIT ?1")?;
        let rows = stmt.query_map([limit as i64], |r| r.get::<_, String>(0))?;
        rows.map(|json| from_json(&json?)).collect()
    }

    /// Applies a server answer in one transaction: verdicts, pulled events, cursor, roster and
    /// clock offset. If the app dies before this commits, nothing changed and the next sync
    /// repeats the round trip harmlessly (the server treats resent events as already accepted).
    pub fn apply_sync(&self, response: &SyncResponse, sent_at: DateTime<Utc>) -> Result<SyncApplied> {
        // Check the pulled events before touching anything. One that was altered on the way, or
        // is not signed by the person it names with a key registered to them on the device it
        // names (in a role that may), refuses the whole answer. The server judged the rest; but
        // one that breaks the bounds a read needs (an older server accepted it before they
        // existed) is kept as rejected with the reason, as every store's migration does with
        // such events: the phone converges with an upgraded server, and its sync still works
        // while the server is older.
        let people: std::collections::HashMap<UserId, &RosterEntry> = response.roster.iter().map(|e| (e.id, e)).collect();
        let server_key = match &response.server_key {
            Some(key) => Some(*key),
            None => Self::server_key(&self.conn())?,
        };
        let mut refused: std::collections::HashMap<Uuid, String> = std::collections::HashMap::new();
        for event in &response.events {
            event.check_integrity().map_err(|e| StoreError::BadRemoteEvent(e.to_string()))?;
            check_pulled_signature(event, &people, server_key.as_ref()).map_err(StoreError::BadRemoteEvent)?;
            if let Err(e) = event.check_bounds() {
                refused.insert(event.id, crate::event::out_of_bounds_reason(&e));
            }
        }
        let mut conn = self.conn();
        let identity = Self::require_identity(&conn)?;
        if let Some(e) = response.events.iter().find(|e| e.facility != identity.facility) {
            return Err(StoreError::BadRemoteEvent(format!("event {} belongs to another facility", e.id)));
        }
        let tx = conn.transaction()?;
        let mut applied = SyncApplied::default();
        for verdict in &response.verdicts {
            let id = verdict.id.to_string();
            if let Outcome::Deferred { .. } = verdict.outcome {
                applied.deferred += 1;
                continue; // stays in the outbox, sent again next round
            }
            let removed = tx.execute("DELETE FROM outbox WHERE event_id = ?1", [&id])?;
            if removed == 0 {
                continue; // already handled by an earlier, interrupted round
            }
            match &verdict.outcome {
                Outcome::Accepted => {
                    tx.execute("UPDATE events SET state = 'accepted' WHERE id = ?1", [&id])?;
                    applied.accepted += 1;
                }
                Outcome::Rejected { reason } => {
                    tx.execute("UPDATE events SET state = 'rejected', reject_reason = ?2 WHERE id = ?1", params![id, reason])?;
                    // The rejected event leaves the fold so this device converges with the rest.
                    let tags: Vec<String> = {
                        let mut stmt = tx.prepare_cached("SELECT tag FROM event_tags WHERE event_id = ?1")?;
                        stmt.query_map([&id], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?
                    };
                    for tag in tags {
                        refold(&tx, &PackageTag::parse(&tag).map_err(|e| StoreError::Corrupt(e.to_string()))?)?;
                    }
                    applied.rejected += 1;
                }
                Outcome::Deferred { .. } => {}
            }
        }
        let mut clock = HlcClock::resume(get_meta(&tx, META_HLC)?.unwrap_or_default());
        for event in &response.events {
            if let Some(reason) = refused.get(&event.id) {
                if insert_event(&tx, event, "rejected")? {
                    tx.execute("UPDATE events SET reject_reason = ?2 WHERE id = ?1", params![event.id.to_string(), reason])?;
                }
                continue;
            }
            let inserted = insert_event(&tx, event, "accepted")?;
            if inserted {
                clock.observe(event.hlc);
                for tag in event.tags() {
                    fold_in(&tx, tag, event)?;
                }
                applied.pulled += 1;
            }
        }
        // The server refuses events stamped further ahead of its clock than its allowance
        // (decision 0002). The HLC never goes back, so a phone whose clock once ran far ahead
        // (set to the year 3000, then corrected) would stamp everything after it in the future
        // and have all of it refused. So when the server's time shows the clock is beyond the
        // allowance, the phone stamps from the newest event it holds that is not rejected and
        // within the allowance: everything the server accepted is within it, so what this phone
        // records next still sorts after everything it has seen that counts. Only stamps the
        // server refuses (or will refuse) are left behind. A server that does not say its
        // allowance (older than this rule) accepts any stamp, so nothing is reset against it.
        if let Some(allowance) = response.clock_allowance_ms {
            let limit = response.server_time.timestamp_millis().saturating_add(allowance.max(0));
            if clock.last().wall_ms > limit {
                let from = newest_stamp_up_to(&tx, limit)?;
                tracing::warn!(stamp = %clock.last(), server_time = %response.server_time, resumes_at = %from, "the clock was ahead of the server's; stamping from the server's time");
                clock = HlcClock::resume(from);
            }
        }
        set_meta(&tx, META_HLC, &clock.last())?;
        let cursor: u64 = get_meta(&tx, META_CURSOR)?.unwrap_or(0);
        set_meta(&tx, META_CURSOR, &cursor.max(response.cursor))?;
        replace_roster(&tx, &response.roster)?;
        keep_time_zone(&tx, response.time_zone.as_deref())?;
        state_data::keep(&tx, response)?;
        facility_settings::keep(&tx, response)?;
        if let Some(key) = &response.server_key {
            Self::set_server_key(&tx, key)?;
        }
        // The server clock corrects an untrusted device clock; half the round trip is a fair
        // guess of when the server read its clock.
        let now = self.device_clock();
        let midpoint = sent_at + (now - sent_at) / 2;
        set_meta(&tx, META_CLOCK_OFFSET, &(response.server_time - midpoint).num_milliseconds())?;
        set_meta(&tx, META_LAST_SUCCESS, &now)?;
        set_meta(&tx, META_ONLINE, &true)?;
        tx.execute("DELETE FROM meta WHERE key = ?1", [META_LAST_ERROR])?;
        tx.commit()?;
        self.check_signer(&response.roster);
        Ok(applied)
    }

    /// The device's current HLC wall time (corrected clock, never behind what it has seen).
    pub(crate) fn hlc_now_ms(&self) -> Result<i64> {
        corrected_now_ms(&self.conn(), self.device_clock().timestamp_millis())
    }

    /// The facility's time zone, as the server last sent it (`None` until then). The state writes
    /// local times without an offset; they are read in this zone (`state_json`).
    pub fn facility_time_zone(&self) -> Result<Option<chrono_tz::Tz>> {
        facility_time_zone_in(&self.conn())
    }

    /// Folds the write-ahead log into the database file. Called after each sync; the apps may
    /// also call it when the device is idle. Never needed for durability.
    pub fn checkpoint(&self) -> Result<()> {
        self.conn().query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Notes a sync attempt's outcome for the status screen.
    pub(crate) fn note_sync_attempt(&self, error: Option<(&str, bool)>) -> Result<()> {
        let conn = self.conn();
        set_meta(&conn, META_LAST_ATTEMPT, &Utc::now())?;
        if let Some((message, reached_server)) = error {
            set_meta(&conn, META_LAST_ERROR, &message)?;
            set_meta(&conn, META_ONLINE, &reached_server)?;
        }
        Ok(())
    }

    /// Rebuilds every package from the event set (a repair tool and a check that the
    /// incremental fold and the full fold agree).
    pub fn refold_all(&self) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute_batch("DELETE FROM folds; DELETE FROM packages; DELETE FROM conflicts;")?;
        let tags: Vec<String> = {
            let mut stmt = tx.prepare("SELECT DISTINCT tag FROM event_tags")?;
            stmt.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?
        };
        for tag in tags {
            refold(&tx, &PackageTag::parse(&tag).map_err(|e| StoreError::Corrupt(e.to_string()))?)?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// Whether a pulled event is signed by the person it names, with a key registered to them on the
/// device it names (revoked since or not: the server judged it when it arrived), in a role that
/// may record its kind. The reason if not.
///
/// An event the server accepted before events were signed carries the server's attestation
/// instead (its key over the same hash, added once when the server was upgraded).
fn check_pulled_signature(
    event: &Event,
    people: &std::collections::HashMap<UserId, &RosterEntry>,
    server_key: Option<&crate::signing::PublicKey>,
) -> std::result::Result<(), String> {
    let person = people.get(&event.user).ok_or_else(|| format!("event {} names someone not on the roster", event.id))?;
    if !person.role.may_record(event.kind()) {
        return Err(format!("event {} is {} by {}, who is {}", event.id, event.kind().with_article(), person.name, person.role));
    }
    if person.registered(event.device, |key| event.verify_signature(key).is_ok())
        || server_key.is_some_and(|key| event.verify_signature(key).is_ok())
    {
        Ok(())
    } else {
        Err(format!("event {} is not signed by {} on the device that recorded it", event.id, person.name))
    }
}

/// Records an event inside a caller's transaction (see [`Store::record`]); workflows use it to
/// write a document change and the ledger events it causes in one commit. `device_ms` is the
/// phone's own clock ([`Store::device_clock`]), corrected here with the server's offset.
pub(crate) fn record_in(tx: &Transaction<'_>, signer: &Signer, tag: &PackageTag, body: EventBody, device_ms: i64) -> Result<Event> {
    let identity = Store::require_identity(tx)?;
    let user = &signer.user;
    let kind = body.kind();
    if !user.role.may_record(kind) {
        return Err(StoreError::NotAllowed { role: user.role, kind });
    }
    body.validate()?;
    // Only a manager records an opening balance. A receipt that names no way in at all is left
    // for the server to refuse (its reason comes back to this phone): the apps cannot write one
    // (the bindings take receipts only through receiving and the opening balance).
    if let Some(e @ crate::event::EventError::OpeningBalanceNotManager(_)) = body.receipt_problem(user.role) {
        return Err(e.into());
    }

    let fold = load_fold(tx, tag)?.unwrap_or_default().1;
    let head: ChainHead = get_meta(tx, META_CHAIN)?.unwrap_or(ChainHead { seq: 0, hash: GENESIS_HASH.into() });
    let offset: i64 = get_meta(tx, META_CLOCK_OFFSET)?.unwrap_or(0);
    let mut clock = HlcClock::resume(get_meta(tx, META_HLC)?.unwrap_or_default());
    let hlc = clock.tick(device_ms.saturating_add(offset));
    let event = UnsealedEvent {
        id: Uuid::now_v7(),
        facility: identity.facility.clone(),
        tag: tag.clone(),
        user: user.id,
        device: identity.device_id,
        device_seq: head.seq + 1,
        hlc,
        parent: fold.package.as_ref().map(|p| p.head),
        body,
        prev_hash: head.hash,
    }
    .seal_signed(&signer.key);
    event.validate()?;

    // The same rules the fold applies everywhere decide what this device may record now:
    // anything that would raise a conflict on its own view is refused, with the reason.
    for affected in event.tags() {
        let before = if affected == tag { fold.clone() } else { load_fold(tx, affected)?.unwrap_or_default().1 };
        let mut after = before.clone();
        after.apply(affected, &event);
        if let Some(c) = after.conflicts.get(before.conflicts.len()) {
            return Err(StoreError::Refused(c.detail.clone()));
        }
    }

    insert_event(tx, &event, "pending")?;
    tx.execute("INSERT INTO outbox (device_seq, event_id) VALUES (?1, ?2)", params![event.device_seq as i64, event.id.to_string()])?;
    set_meta(tx, META_CHAIN, &ChainHead { seq: event.device_seq, hash: event.hash.clone() })?;
    set_meta(tx, META_HLC, &clock.last())?;
    for affected in event.tags() {
        fold_in(tx, affected, &event)?;
    }
    Ok(event)
}

const PACKAGE_SELECT: &str = "SELECT p.tag, p.item, p.batch, p.quantity, p.unit, p.location, p.status, p.expires_on,
    EXISTS (SELECT 1 FROM event_tags t JOIN events e ON e.id = t.event_id WHERE t.tag = p.tag AND e.state = 'pending')
    FROM packages p";

/// One package as the list shows it, read on any connection or transaction.
pub(crate) fn package_in(conn: &Connection, tag: &PackageTag) -> Result<Option<PackageView>> {
    let mut stmt = conn.prepare_cached(&format!("{PACKAGE_SELECT} WHERE p.tag = ?1"))?;
    stmt.query_row([tag.as_str()], package_row).optional()?.transpose()
}

/// Every package, by tag, read on any connection or transaction.
pub(crate) fn packages_in(conn: &Connection) -> Result<Vec<PackageView>> {
    let mut stmt = conn.prepare_cached(&format!("{PACKAGE_SELECT} ORDER BY p.tag"))?;
    let rows = stmt.query_map([], package_row)?;
    rows.map(|r| r?).collect()
}

/// The full history of a package, newest first, with each event's sync state.
pub(crate) fn history_in(conn: &Connection, tag: &PackageTag) -> Result<Vec<EventRecord>> {
    let mut stmt = conn.prepare_cached(
        "SELECT e.json, e.state, e.reject_reason FROM event_tags t JOIN events e ON e.id = t.event_id
         WHERE t.tag = ?1 ORDER BY e.order_key DESC",
    )?;
    let rows = stmt.query_map([tag.as_str()], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?)))?;
    rows.map(|row| {
        let (json, state, reject_reason) = row?;
        Ok(EventRecord { event: from_json(&json)?, state: EventState::parse(&state)?, reject_reason })
    })
    .collect()
}

/// Every conflict the fold raised, open and resolved, in a stable order (tag, kind, event).
pub(crate) fn conflicts_in(conn: &Connection) -> Result<Vec<Conflict>> {
    let mut stmt =
        conn.prepare_cached("SELECT tag, kind, event_id, other_event, detail, resolution FROM conflicts ORDER BY tag, kind, event_id")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, Option<String>>(5)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (tag, kind, event, other, detail, resolution) = row?;
        out.push(Conflict {
            tag: PackageTag::parse(&tag).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            kind: from_json(&format!("\"{kind}\""))?,
            event: parse_uuid(&event)?,
            other_event: other.as_deref().map(parse_uuid).transpose()?,
            detail,
            resolved: resolution.as_deref().map(from_json).transpose()?,
        });
    }
    out.sort();
    Ok(out)
}

/// The roster of people who may sign in on this device, by badge.
pub(crate) fn roster_in(conn: &Connection) -> Result<Vec<RosterEntry>> {
    let mut stmt = conn.prepare_cached("SELECT json FROM roster ORDER BY badge")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    rows.map(|json| from_json(&json?)).collect()
}

/// The corrected clock (decision 0002): the device's clock moved by the server's offset, never
/// behind the last stamp this device issued.
pub(crate) fn corrected_now_ms(conn: &Connection, device_ms: i64) -> Result<i64> {
    let offset: i64 = get_meta(conn, META_CLOCK_OFFSET)?.unwrap_or(0);
    let last: crate::hlc::Hlc = get_meta(conn, META_HLC)?.unwrap_or_default();
    Ok(last.wall_ms.max(device_ms.saturating_add(offset)))
}

fn package_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<PackageView>> {
    let tag: String = r.get(0)?;
    let item: String = r.get(1)?;
    let batch: String = r.get(2)?;
    let quantity: String = r.get(3)?;
    let unit: String = r.get(4)?;
    let location: String = r.get(5)?;
    let status: String = r.get(6)?;
    let expires_on: Option<String> = r.get(7)?;
    let pending: bool = r.get(8)?;
    let corrupt = |e: String| StoreError::Corrupt(e);
    Ok((|| {
        let facts = PackageFacts {
            tag: PackageTag::parse(&tag).map_err(|e| corrupt(e.to_string()))?,
            // Read under the rules the events were accepted under, as serde does (ids.rs).
            item: ItemName::from_stored(&item).map_err(|e| corrupt(e.to_string()))?,
            batch: BatchNumber::from_stored(&batch).map_err(|e| corrupt(e.to_string()))?,
            quantity: Quantity {
                amount: quantity.parse().map_err(|_| corrupt(format!("quantity {quantity:?}")))?,
                unit: unit.parse::<Unit>().map_err(|e| corrupt(e.to_string()))?,
            },
            location: LocationName::from_stored(&location).map_err(|e| corrupt(e.to_string()))?,
            status: from_json(&format!("\"{status}\""))?,
            expires_on: expires_on.map(|d| d.parse().map_err(|_| corrupt(format!("date {d:?}")))).transpose()?,
        };
        Ok(PackageView { facts, pending })
    })())
}

/// The stamp of the newest event this phone holds that is not rejected and whose wall time is at
/// most `limit_ms` (the default stamp if there is none). Reads every event: it runs only when the
/// clock has to be brought back from far ahead, never on the scan path.
fn newest_stamp_up_to(tx: &Transaction<'_>, limit_ms: i64) -> Result<crate::hlc::Hlc> {
    let bound = format!("{:020}-", limit_ms.max(0).saturating_add(1));
    let key: Option<String> = tx
        .query_row(
            "SELECT order_key FROM events WHERE state != 'rejected' AND order_key < ?1 ORDER BY order_key DESC LIMIT 1",
            [bound],
            |r| r.get(0),
        )
        .optional()?;
    let Some(key) = key else { return Ok(crate::hlc::Hlc::default()) };
    let corrupt = || StoreError::Corrupt(format!("event order key {key:?}"));
    let wall_ms = key.get(..20).and_then(|w| w.parse().ok()).ok_or_else(corrupt)?;
    let counter = key.get(21..31).and_then(|c| c.parse().ok()).ok_or_else(corrupt)?;
    Ok(crate::hlc::Hlc { wall_ms, counter })
}

/// Migration 4 (docs/decisions/0013): accepted events that break the domain bounds, stored before
/// the bounds existed, are marked rejected with the reason and their packages refolded, as the
/// server does with its copies, so no such event can break a read. Own events still pending are
/// left for the server to judge: the phone's hash chain links through them.
pub(crate) fn reject_out_of_bounds(tx: &Transaction<'_>) -> Result<usize> {
    let rows: Vec<(String, String)> = {
        let mut stmt = tx.prepare("SELECT id, json FROM events WHERE state = 'accepted'")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?
    };
    let mut tags = std::collections::BTreeSet::new();
    let mut rejected = 0;
    for (id, json) in rows {
        let event: Event = from_json(&json)?;
        if let Err(e) = event.check_bounds() {
            tx.execute(
                "UPDATE events SET state = 'rejected', reject_reason = ?2 WHERE id = ?1",
                params![id, crate::event::out_of_bounds_reason(&e)],
            )?;
            tags.extend(event.tags().cloned());
            rejected += 1;
        }
    }
    for tag in &tags {
        refold(tx, tag)?;
    }
    Ok(rejected)
}

/// Sortable text form of the canonical order key, so SQLite orders events as the fold does.
fn order_key(event: &Event) -> String {
    format!("{:020}-{:010}-{}-{}", event.hlc.wall_ms.max(0), event.hlc.counter, event.device, event.id)
}

/// Inserts an event and its tag index; false if it was already there.
fn insert_event(tx: &Transaction<'_>, event: &Event, state: &str) -> Result<bool> {
    let json = serde_json::to_string(event).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let inserted = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO events (id, tag, device, device_seq, kind, order_key, json, state, recorded_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            event.id.to_string(),
            event.tag.as_str(),
            event.device.to_string(),
            event.device_seq as i64,
            event.kind().as_str(),
            order_key(event),
            json,
            state,
            Utc::now().to_rfc3339(),
        ])?;
    if inserted == 0 {
        return Ok(false);
    }
    let mut stmt = tx.prepare_cached("INSERT OR IGNORE INTO event_tags (tag, event_id) VALUES (?1, ?2)")?;
    for tag in event.tags() {
        stmt.execute(params![tag.as_str(), event.id.to_string()])?;
    }
    Ok(true)
}

pub(crate) fn package_fold_in(conn: &Connection, tag: &PackageTag) -> Result<Option<crate::fold::Package>> {
    Ok(load_fold(conn, tag)?.and_then(|(_, f)| f.package))
}

fn load_fold(tx: &Connection, tag: &PackageTag) -> Result<Option<(String, PackageFold)>> {
    let row: Option<(String, String)> = tx
        .prepare_cached("SELECT last_key, state FROM folds WHERE tag = ?1")?
        .query_row([tag.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    row.map(|(key, state)| Ok((key, from_json(&state)?))).transpose()
}

/// Folds one new event into a package: on top of the stored state when it sorts last (the
/// common case), otherwise by refolding that package's history.
fn fold_in(tx: &Transaction<'_>, tag: &PackageTag, event: &Event) -> Result<()> {
    let key = order_key(event);
    match load_fold(tx, tag)? {
        Some((last, mut fold)) if last < key => {
            fold.apply(tag, event);
            save_fold(tx, tag, &key, &fold)
        }
        None => {
            let mut fold = PackageFold::default();
            fold.apply(tag, event);
            save_fold(tx, tag, &key, &fold)
        }
        Some(_) => refold(tx, tag),
    }
}

/// Refolds one package from its stored history, leaving out events the server rejected.
fn refold(tx: &Transaction<'_>, tag: &PackageTag) -> Result<()> {
    let rows: Vec<(String, String)> = {
        let mut stmt = tx.prepare_cached(
            "SELECT e.order_key, e.json FROM event_tags t JOIN events e ON e.id = t.event_id
             WHERE t.tag = ?1 AND e.state != 'rejected' ORDER BY e.order_key",
        )?;
        stmt.query_map([tag.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?
    };
    let mut fold = PackageFold::default();
    let mut last = String::new();
    for (key, json) in rows {
        fold.apply(tag, &from_json::<Event>(&json)?);
        last = key;
    }
    save_fold(tx, tag, &last, &fold)
}

fn save_fold(tx: &Transaction<'_>, tag: &PackageTag, last_key: &str, fold: &PackageFold) -> Result<()> {
    let state = serde_json::to_string(fold).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    tx.prepare_cached("INSERT OR REPLACE INTO folds (tag, last_key, state) VALUES (?1, ?2, ?3)")?.execute(params![
        tag.as_str(),
        last_key,
        state
    ])?;
    match &fold.package {
        Some(p) => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO packages (tag, item, batch, quantity, unit, location, status, expires_on, head)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                tag.as_str(),
                p.item.as_str(),
                p.batch.as_str(),
                p.quantity.amount.to_string(),
                p.quantity.unit.symbol(),
                p.location.as_str(),
                p.status.as_str(),
                p.expires_on.map(|d| d.to_string()),
                p.head.to_string(),
            ])?;
        }
        None => {
            tx.prepare_cached("DELETE FROM packages WHERE tag = ?1")?.execute([tag.as_str()])?;
        }
    }
    tx.prepare_cached("DELETE FROM conflicts WHERE tag = ?1")?.execute([tag.as_str()])?;
    let mut insert = tx.prepare_cached(
        "INSERT OR REPLACE INTO conflicts (tag, kind, event_id, other_event, detail, resolution) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for c in &fold.conflicts {
        let resolution = c.resolved.as_ref().map(serde_json::to_string).transpose().map_err(|e| StoreError::Corrupt(e.to_string()))?;
        insert.execute(params![
            c.tag.as_str(),
            c.kind.as_str(),
            c.event.to_string(),
            c.other_event.map(|u| u.to_string()),
            c.detail,
            resolution
        ])?;
    }
    Ok(())
}

/// Replaces the roster, and erases every sealed key the server no longer counts as active for
/// this device (a PIN reset, a deactivation, a newer sign-in): that person signs in online next.
/// The caller signs out whoever [`signin::still_valid`] no longer allows, after committing.
fn replace_roster(tx: &Transaction<'_>, roster: &[RosterEntry]) -> Result<()> {
    let device = Store::require_identity(tx)?.device_id;
    tx.execute("DELETE FROM roster", [])?;
    let mut stmt = tx.prepare_cached("INSERT INTO roster (id, json, badge) VALUES (?1, ?2, ?3)")?;
    for entry in roster {
        let json = serde_json::to_string(entry).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        stmt.execute(params![entry.id.to_string(), json, entry.badge])?;
    }
    signin::erase_revoked_keys(tx, roster, device)
}

/// Keeps the facility's time zone the server sent. A name this build's time-zone database does not
/// know is not kept (the previous zone stays) and is logged: the server checked it when it was set,
/// so only an older phone meets a newer zone, and refusing the sync for it would stop custody.
fn keep_time_zone(conn: &Connection, name: Option<&str>) -> Result<()> {
    let Some(name) = name else { return Ok(()) };
    match crate::state_json::time_zone(name) {
        Ok(zone) => set_meta(conn, &format!("setting:{FACILITY_TIME_ZONE}"), zone.name()),
        Err(e) => {
            tracing::warn!(error = %e, "the server's time zone for this facility is unknown here; keeping the previous one");
            Ok(())
        }
    }
}

pub(crate) fn facility_time_zone_in(conn: &Connection) -> Result<Option<chrono_tz::Tz>> {
    let Some(name) = setting_in::<String>(conn, FACILITY_TIME_ZONE)? else { return Ok(None) };
    crate::state_json::time_zone(&name).map(Some).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The setting the facility's time zone is kept under (an IANA name).
pub(crate) const FACILITY_TIME_ZONE: &str = "facility_time_zone";

pub(crate) fn setting_in<T: serde::de::DeserializeOwned>(conn: &Connection, key: &str) -> Result<Option<T>> {
    get_meta(conn, &format!("setting:{key}"))
}

fn get_meta<T: serde::de::DeserializeOwned>(conn: &Connection, key: &str) -> Result<Option<T>> {
    let value: Option<String> = conn.prepare_cached("SELECT value FROM meta WHERE key = ?1")?.query_row([key], |r| r.get(0)).optional()?;
    value.map(|v| from_json(&v)).transpose()
}

fn set_meta<T: Serialize + ?Sized>(conn: &Connection, key: &str, value: &T) -> Result<()> {
    let json = serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    conn.prepare_cached("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)")?.execute(params![key, json])?;
    Ok(())
}

fn from_json<T: serde::de::DeserializeOwned>(json: &str) -> Result<T> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn parse_uuid(s: &str) -> Result<Uuid> {
    Uuid::parse_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[cfg(test)]
pub(crate) mod tests;
