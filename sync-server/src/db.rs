//! The server's SQLite store: facilities, users, enrolment codes, devices and the ledger.
//!
//! One connection behind a mutex: SQLite serialises writers anyway, and handlers reach it through
//! `spawn_blocking`. Every method here is blocking.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use custody_core::ids::{DeviceId, LicenseNumber, UserId};
use custody_core::outbound::patient::DataKey;
use custody_core::protocol::{EnrolmentCode, RegisteredKey, RosterEntry};
use custody_core::roles::Role;
use custody_core::signing::{PublicKey, SigningKey};
use custody_core::state_json::Tz;
use custody_core::text;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use uuid::Uuid;

use crate::docs::cache::{DOC_CACHE_CAPACITY, DocCache};
pub use crate::error::DbError;
use crate::secret;

/// The database file inside the data folder.
pub const DB_FILE_NAME: &str = "custody-server.db";

/// Each step runs once, in its own transaction, and bumps `PRAGMA user_version`. Append only.
const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    r#"
    CREATE TABLE facilities (
        license     TEXT PRIMARY KEY,
        name        TEXT NOT NULL,
        created_at  TEXT NOT NULL
    ) STRICT;

    CREATE TABLE users (
        id          TEXT PRIMARY KEY,
        facility    TEXT NOT NULL REFERENCES facilities(license),
        name        TEXT NOT NULL,
        role        TEXT NOT NULL,
        badge       TEXT NOT NULL,
        pin_hash    TEXT NOT NULL,
        active      INTEGER NOT NULL DEFAULT 1,
        created_at  TEXT NOT NULL,
        UNIQUE (facility, badge)
    ) STRICT;

    CREATE TABLE enrolment_codes (
        code_hash   TEXT PRIMARY KEY,
        facility    TEXT NOT NULL REFERENCES facilities(license),
        issued_by   TEXT REFERENCES users(id),
        issued_at   TEXT NOT NULL,
        expires_at  TEXT NOT NULL,
        used_at     TEXT,
        used_by     TEXT
    ) STRICT;

    CREATE TABLE devices (
        id          TEXT PRIMARY KEY,
        facility    TEXT NOT NULL REFERENCES facilities(license),
        name        TEXT NOT NULL,
        token_hash  TEXT NOT NULL UNIQUE,
        enrolled_at TEXT NOT NULL,
        last_seen   TEXT,
        revoked_at  TEXT
    ) STRICT;
    CREATE INDEX devices_facility ON devices(facility);

    CREATE TABLE events (
        server_seq  INTEGER PRIMARY KEY AUTOINCREMENT,
        id          TEXT NOT NULL UNIQUE,
        facility    TEXT NOT NULL REFERENCES facilities(license),
        device      TEXT NOT NULL REFERENCES devices(id),
        device_seq  INTEGER NOT NULL,
        user        TEXT NOT NULL,
        tag         TEXT NOT NULL,
        kind        TEXT NOT NULL,
        json        TEXT NOT NULL,
        hash        TEXT NOT NULL,
        received_at TEXT NOT NULL,
        UNIQUE (device, device_seq)
    ) STRICT;
    CREATE INDEX events_facility_seq ON events(facility, server_seq);
    CREATE INDEX events_tag ON events(tag);

    -- facility/device are the sender's (authenticated) ones, whatever the event claims.
    -- chain_ok: the event extends its device's hash chain, so the next one links to it.
    CREATE TABLE rejected_events (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        id          TEXT NOT NULL,
        facility    TEXT NOT NULL REFERENCES facilities(license),
        device      TEXT NOT NULL REFERENCES devices(id),
        device_seq  INTEGER NOT NULL,
        hash        TEXT NOT NULL,
        chain_ok    INTEGER NOT NULL,
        json        TEXT NOT NULL,
        reason      TEXT NOT NULL,
        received_at TEXT NOT NULL,
        UNIQUE (device, id)
    ) STRICT;
    CREATE INDEX rejected_events_chain ON rejected_events(device, chain_ok, device_seq);
    CREATE INDEX rejected_events_facility ON rejected_events(facility, seq);
    "#,
    // 2: work documents (Automerge). A document is its last snapshot followed by the incremental
    // changes saved since (compacted into a new snapshot now and then); `heads` is the sorted hex
    // of its heads, so "has this device seen everything" is a text comparison, not a load.
    // doc_sync keeps, per device, the encoded Automerge sync state (the heads both sides share).
    r#"
    CREATE TABLE docs (
        id                  TEXT PRIMARY KEY,
        facility            TEXT NOT NULL REFERENCES facilities(license),
        kind                TEXT NOT NULL,
        snapshot            BLOB NOT NULL,
        heads               TEXT NOT NULL,
        change_rows         INTEGER NOT NULL DEFAULT 0,
        created_by_device   TEXT NOT NULL REFERENCES devices(id),
        created_at          TEXT NOT NULL,
        updated_at          TEXT NOT NULL
    ) STRICT;
    CREATE INDEX docs_facility ON docs(facility, id);

    CREATE TABLE doc_changes (
        doc_id      TEXT NOT NULL REFERENCES docs(id) ON DELETE CASCADE,
        seq         INTEGER NOT NULL,
        bytes       BLOB NOT NULL,
        PRIMARY KEY (doc_id, seq)
    ) STRICT;

    CREATE TABLE doc_sync (
        device      TEXT NOT NULL REFERENCES devices(id),
        doc_id      TEXT NOT NULL REFERENCES docs(id) ON DELETE CASCADE,
        state       BLOB NOT NULL,
        PRIMARY KEY (device, doc_id)
    ) STRICT;
    CREATE INDEX doc_sync_doc ON doc_sync(doc_id);
    "#,
    // 3: outbound. Customers and the tags the facility holds from the state; which open order or
    // manifest holds which package (one of each at most); who a route belongs to; patient data
    // sealed under the server's data key, and the log of every access to it.
    r#"
    CREATE TABLE customers (
        facility    TEXT NOT NULL REFERENCES facilities(license),
        licence     TEXT NOT NULL,
        name        TEXT NOT NULL,
        address     TEXT NOT NULL,
        PRIMARY KEY (facility, licence)
    ) STRICT;

    -- used: an accepted event names the tag (its own, or the new package of a split).
    CREATE TABLE tag_pool (
        facility    TEXT NOT NULL REFERENCES facilities(license),
        tag         TEXT NOT NULL,
        added_at    TEXT NOT NULL,
        used        INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (facility, tag)
    ) STRICT;

    -- kind is 'order' or 'manifest': a package is held by at most one open document of each.
    CREATE TABLE claims (
        facility    TEXT NOT NULL,
        kind        TEXT NOT NULL,
        tag         TEXT NOT NULL,
        doc_id      TEXT NOT NULL REFERENCES docs(id) ON DELETE CASCADE,
        PRIMARY KEY (facility, kind, tag)
    ) STRICT;
    CREATE INDEX claims_doc ON claims(doc_id);

    ALTER TABLE docs ADD COLUMN audience TEXT;

    CREATE TABLE patients (
        order_id    TEXT PRIMARY KEY,
        facility    TEXT NOT NULL REFERENCES facilities(license),
        sealed      BLOB NOT NULL,
        entered_by  TEXT NOT NULL,
        entered_at  TEXT NOT NULL
    ) STRICT;

    CREATE TABLE patient_access (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        facility    TEXT NOT NULL,
        order_id    TEXT NOT NULL,
        user        TEXT NOT NULL,
        user_name   TEXT NOT NULL,
        device      TEXT,
        action      TEXT NOT NULL,
        at          TEXT NOT NULL
    ) STRICT;
    CREATE INDEX patient_access_order ON patient_access(facility, order_id);
    "#,
    // 4: proof of who did what. The signing keys people registered at an online sign-in, one
    // active per person and device (revoked ones stay: what they signed still verifies); the
    // signature of every work-document change the server holds, so every phone can check them.
    r#"
    CREATE TABLE person_keys (
        public_key    TEXT PRIMARY KEY,
        user          TEXT NOT NULL REFERENCES users(id),
        device        TEXT NOT NULL REFERENCES devices(id),
        registered_at TEXT NOT NULL,
        revoked_at    TEXT,
        revoked_why   TEXT
    ) STRICT;
    CREATE INDEX person_keys_user_device ON person_keys(user, device);

    CREATE TABLE doc_change_sigs (
        doc_id      TEXT NOT NULL REFERENCES docs(id) ON DELETE CASCADE,
        change_hash TEXT NOT NULL,
        signature   TEXT NOT NULL,
        PRIMARY KEY (doc_id, change_hash)
    ) STRICT, WITHOUT ROWID;
    "#,
    // 5: lockouts (docs/decisions/0014). Wrong PINs per badge (per facility, known or not) and
    // per device, and bad enrolment codes per client address (facility ''), counted before the
    // check runs; locked_until is set once a counter reaches its threshold.
    r#"
    CREATE TABLE lockouts (
        kind            TEXT NOT NULL,
        facility        TEXT NOT NULL,
        key             TEXT NOT NULL,
        failures        INTEGER NOT NULL,
        last_failure_at TEXT NOT NULL,
        locked_until    TEXT,
        PRIMARY KEY (kind, facility, key)
    ) STRICT;
    "#,
    // 6: the device a code was issued from (NULL from the command line): revoking that device,
    // or deactivating the manager who issued it, voids the code.
    r#"
    ALTER TABLE enrolment_codes ADD COLUMN issued_from TEXT REFERENCES devices(id);
    "#,
    // 7: no schema change. Accepted events that break the domain bounds (docs/decisions/0013),
    // stored before those bounds existed, move to rejected_events with the reason: the Rust step
    // in `after_step`.
    "-- 7: events beyond the domain bounds move to rejected_events (see after_step)",
    // 8: the connector to the state's system (docs/decisions/0019). Per facility the system, its
    // address and the keys sealed under the data key (NULL once disconnected: the row stays so
    // writes go on queuing); a facility stopped by a refused key says why. The outbox: one row
    // per state write, written in the transaction that accepted its event; `labels` are the
    // tags it touches (space-separated), which keep a package's writes in order. Resubmits and
    // dismissals of failed writes are audited.
    r#"
    CREATE TABLE state_connections (
        facility          TEXT PRIMARY KEY REFERENCES facilities(license),
        system            TEXT NOT NULL,
        state             TEXT NOT NULL,
        base_url          TEXT NOT NULL,
        sealed_keys       BLOB,
        user_key_expires  TEXT,
        connected_at      TEXT NOT NULL,
        disconnected_at   TEXT,
        stopped_at        TEXT,
        stopped_reason    TEXT
    ) STRICT;

    -- status: queued | confirmed | failed | dismissed | unapproved.
    -- in_doubt: sent, answer lost: read back before sending again. solo: send alone (the state
    -- refused a batch it was in without saying which object).
    CREATE TABLE state_outbox (
        seq           INTEGER PRIMARY KEY AUTOINCREMENT,
        facility      TEXT NOT NULL REFERENCES facilities(license),
        source        TEXT NOT NULL,
        kind          TEXT NOT NULL,
        labels        TEXT NOT NULL,
        body          TEXT NOT NULL,
        status        TEXT NOT NULL,
        in_doubt      INTEGER NOT NULL DEFAULT 0,
        solo          INTEGER NOT NULL DEFAULT 0,
        attempts      INTEGER NOT NULL DEFAULT 0,
        before_qty    TEXT,
        message       TEXT,
        created_at    TEXT NOT NULL,
        sent_at       TEXT,
        done_at       TEXT
    ) STRICT;
    CREATE INDEX state_outbox_pending ON state_outbox(facility, status, seq);
    CREATE INDEX state_outbox_source ON state_outbox(source);

    CREATE TABLE state_outbox_audit (
        seq           INTEGER PRIMARY KEY AUTOINCREMENT,
        facility      TEXT NOT NULL,
        outbox_seq    INTEGER NOT NULL REFERENCES state_outbox(seq),
        action        TEXT NOT NULL,
        by_user       TEXT NOT NULL,
        by_name       TEXT NOT NULL,
        reason        TEXT,
        at            TEXT NOT NULL
    ) STRICT;
    "#,
    // 9: the facility's time zone (IANA name): the state writes local times without an offset and
    // phones read them in it. Facilities registered before it are Californian (every licence so
    // far is C11-), hence the default; `facility set-time-zone` changes it.
    r#"
    ALTER TABLE facilities ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'America/Los_Angeles';
    "#,
    // 10: what the pulls read from the state (decision 0021). A cursor per endpoint per facility
    // (the end of the last lastModified window read whole); the inbound manifest inbox, one row
    // per manifest (status open | accepted | rejected), replaced on re-pull; the latest
    // certificate per batch; the reference lists as the phones get them; a revision per facility
    // that every change bumps; faults seen in what the state sent; dated snapshots of the
    // state's active packages.
    r#"
    CREATE TABLE state_pull_cursors (
        facility      TEXT NOT NULL REFERENCES facilities(license),
        endpoint      TEXT NOT NULL,
        through       TEXT NOT NULL,
        PRIMARY KEY (facility, endpoint)
    ) STRICT;

    CREATE TABLE state_inbox (
        facility      TEXT NOT NULL REFERENCES facilities(license),
        manifest      TEXT NOT NULL,
        transfer_id   INTEGER,
        status        TEXT NOT NULL,
        body          TEXT NOT NULL,
        batches       TEXT NOT NULL,
        pulled_at     TEXT NOT NULL,
        closed_at     TEXT,
        PRIMARY KEY (facility, manifest)
    ) STRICT;

    CREATE TABLE state_coas (
        facility      TEXT NOT NULL REFERENCES facilities(license),
        batch         TEXT NOT NULL,
        tested_on     TEXT NOT NULL,
        body          TEXT NOT NULL,
        pulled_at     TEXT NOT NULL,
        PRIMARY KEY (facility, batch)
    ) STRICT;

    CREATE TABLE state_reference (
        facility      TEXT PRIMARY KEY REFERENCES facilities(license),
        body          TEXT NOT NULL,
        pulled_at     TEXT NOT NULL
    ) STRICT;

    CREATE TABLE state_revisions (
        facility      TEXT PRIMARY KEY REFERENCES facilities(license),
        revision      INTEGER NOT NULL,
        last_pull_at  TEXT
    ) STRICT;

    CREATE TABLE state_pull_faults (
        seq           INTEGER PRIMARY KEY AUTOINCREMENT,
        facility      TEXT NOT NULL,
        endpoint      TEXT NOT NULL,
        record        TEXT NOT NULL,
        message       TEXT NOT NULL,
        at            TEXT NOT NULL
    ) STRICT;

    CREATE TABLE state_package_snapshots (
        facility      TEXT NOT NULL REFERENCES facilities(license),
        taken_at      TEXT NOT NULL,
        label         TEXT NOT NULL,
        item          TEXT NOT NULL,
        quantity      TEXT NOT NULL,
        unit          TEXT NOT NULL,
        location      TEXT,
        PRIMARY KEY (facility, taken_at, label)
    ) STRICT;
    "#,
    // 11: the facility's settings phones receive at sync (issue 13 point 6): one JSON document
    // per facility (`custody_core::settings::FacilitySettings`, read and sent whole) with its
    // revision, bumped by every change; and who changed what, when.
    r#"
    CREATE TABLE facility_settings (
        facility      TEXT PRIMARY KEY REFERENCES facilities(license),
        revision      INTEGER NOT NULL,
        body          TEXT NOT NULL,
        changed_at    TEXT NOT NULL
    ) STRICT;

    CREATE TABLE settings_audit (
        seq           INTEGER PRIMARY KEY AUTOINCREMENT,
        facility      TEXT NOT NULL REFERENCES facilities(license),
        revision      INTEGER NOT NULL,
        change        TEXT NOT NULL,
        operator      TEXT NOT NULL,
        at            TEXT NOT NULL
    ) STRICT;
    "#,
];

/// Steps that need code, run inside the transaction of their version right after its SQL.
fn after_step(tx: &rusqlite::Transaction<'_>, version: i64) -> Result<(), DbError> {
    if version == 7 {
        let moved = reject_out_of_bounds(tx)?;
        if moved > 0 {
            tracing::warn!(moved, "accepted events beyond the domain bounds marked rejected");
        }
    }
    Ok(())
}

/// Migration 4: an accepted event that breaks the domain bounds (an amount of -7.9e28 lb, a stamp
/// no clock can show, a name with hidden direction characters) is moved to `rejected_events`
/// with the reason, so no read of the facility fails or shows it again. `chain_ok = 1`: it was
/// its device's next link when accepted, so the device's chain carries on through it. Devices
/// that already pulled it mark it rejected with the same reason in their own migration.
fn reject_out_of_bounds(tx: &rusqlite::Transaction<'_>) -> Result<usize, DbError> {
    let rows: Vec<(i64, String)> = {
        let mut stmt = tx.prepare("SELECT server_seq, json FROM events ORDER BY server_seq")?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?
    };
    let mut moved = 0;
    for (seq, json) in rows {
        let event: custody_core::Event = serde_json::from_str(&json)?;
        let Err(e) = event.check_bounds() else { continue };
        tx.execute(
            "INSERT INTO rejected_events (id, facility, device, device_seq, hash, chain_ok, json, reason, received_at)
             SELECT id, facility, device, device_seq, hash, 1, json, ?2, received_at FROM events WHERE server_seq = ?1",
            params![seq, custody_core::event::out_of_bounds_reason(&e)],
        )?;
        tx.execute("DELETE FROM events WHERE server_seq = ?1", params![seq])?;
        moved += 1;
    }
    Ok(moved)
}

/// A device that presented a valid token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthedDevice {
    pub id: DeviceId,
    pub facility: LicenseNumber,
}

#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
    path: PathBuf,
    /// Recently used work documents, loaded. Only touched while `conn` is locked.
    docs: Arc<Mutex<DocCache>>,
    /// The Automerge actor the server writes under (e.g. withdrawing a refused decision): new
    /// for every open, so two server processes never share one.
    writer: Uuid,
    /// Seals patient data at rest (from `CUSTODY_DATA_KEY` or the data folder's key file).
    pub(crate) data_key: DataKey,
    /// Signs the server's own work-document changes (derived from the data key).
    pub(crate) signing_key: Arc<SigningKey>,
    /// Argon2 checks run by [`Db::check_pin`] through this handle (see [`Db::pin_checks`]).
    pub(crate) pin_checks: Arc<AtomicU64>,
    /// How far ahead of this server's clock an event may be stamped, and how long before its
    /// device enrolled (decision 0002); [`crate::Config::clock_allowance`].
    clock_allowance: chrono::Duration,
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db").field("path", &self.path).finish_non_exhaustive()
    }
}

pub(crate) fn now_text() -> String {
    time_text(Utc::now())
}

/// Fixed-width UTC text, so text order is time order.
pub(crate) fn time_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

pub(crate) fn parse_time(text: &str) -> Result<DateTime<Utc>, DbError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| DbError::Corrupt { what: "timestamp", value: text.to_string() })
}

pub(crate) fn parse_col<T: FromStr>(what: &'static str, text: &str) -> Result<T, DbError> {
    text.parse().map_err(|_| DbError::Corrupt { what, value: text.to_string() })
}

/// What an operator typed, by core's text rules (the same a phone applies; docs/decisions/0013).
pub(crate) fn clean_text(field: text::Field, raw: &str) -> Result<String, DbError> {
    text::clean_required(field, raw).map_err(|e| DbError::InvalidInput(e.to_string()))
}

impl Db {
    /// Opens (creating if needed) `custody-server.db` in `data_dir` and brings its schema up to date.
    /// `data_key` seals patient data and derives the server's signing key; the caller loads it
    /// (usually [`crate::data_key::load`]), so the store reads no secrets on its own.
    pub fn open(data_dir: &Path, data_key: DataKey) -> Result<Db, DbError> {
        // Owner-only, whatever the umask: the folder 0700, the database 0600 before SQLite opens
        // it (its -wal and -shm files take its permissions).
        custody_core::files::private_dir(data_dir).map_err(|source| DbError::DataDir { path: data_dir.to_path_buf(), source })?;
        let path = data_dir.join(DB_FILE_NAME);
        custody_core::files::private_file(&path).map_err(|source| DbError::DataDir { path: path.clone(), source })?;
        let mut conn = Connection::open(&path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(DbError::NoWal(mode));
        }
        // FULL: an acknowledged sync survives power loss, not only a crash of the process.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate(&mut conn)?;
        custody_core::files::private_companions(&path).map_err(|source| DbError::DataDir { path: path.clone(), source })?;
        let signing_key = Arc::new(data_key.server_signing_key());
        Ok(Db {
            signing_key,
            conn: Arc::new(Mutex::new(conn)),
            path,
            docs: Arc::new(Mutex::new(DocCache::new(DOC_CACHE_CAPACITY))),
            writer: Uuid::now_v7(),
            data_key,
            pin_checks: Arc::new(AtomicU64::new(0)),
            clock_allowance: chrono::Duration::minutes(custody_core::bounds::DEFAULT_CLOCK_ALLOWANCE_MINUTES),
        })
    }

    /// This handle, judging event stamps with `allowance` (see [`crate::Config::clock_allowance`]).
    pub fn with_clock_allowance(mut self, allowance: std::time::Duration) -> Db {
        self.clock_allowance = chrono::Duration::from_std(allowance).unwrap_or(chrono::Duration::MAX);
        self
    }

    /// How far ahead of this server's clock an event may be stamped.
    pub fn clock_allowance(&self) -> chrono::Duration {
        self.clock_allowance
    }

    /// The Automerge actor id this server process writes work documents under.
    pub fn writer(&self) -> Uuid {
        self.writer
    }

    /// The key phones check the server's own document changes with.
    pub fn server_key(&self) -> PublicKey {
        self.signing_key.public_key()
    }

    /// The cache of loaded work documents. Take it only while holding [`lock`](Self::lock), so
    /// the cache and the database are seen together.
    pub(crate) fn doc_cache(&self) -> MutexGuard<'_, DocCache> {
        self.docs.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn weak(&self) -> Weak<Mutex<Connection>> {
        Arc::downgrade(&self.conn)
    }

    /// A panic while holding the lock rolled its transaction back on unwind, so the connection
    /// is still sound: recover it rather than failing every later request.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn create_facility(&self, license: &LicenseNumber, name: &str, zone: Tz) -> Result<(), DbError> {
        let name = clean_text(text::organisation("facility name"), name)?;
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if facility_name(&tx, license)?.is_some() {
            return Err(DbError::FacilityExists(license.clone()));
        }
        tx.execute(
            "INSERT INTO facilities (license, name, created_at, time_zone) VALUES (?1, ?2, ?3, ?4)",
            params![license.as_str(), name, now_text(), zone.name()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Sets the facility's time zone; phones receive it at their next sync.
    pub fn set_facility_time_zone(&self, license: &LicenseNumber, zone: Tz) -> Result<(), DbError> {
        let changed =
            self.lock().execute("UPDATE facilities SET time_zone = ?2 WHERE license = ?1", params![license.as_str(), zone.name()])?;
        if changed == 0 {
            return Err(DbError::UnknownFacility(license.clone()));
        }
        Ok(())
    }

    /// The facility's time zone (IANA name), as phones are told it.
    pub fn facility_time_zone(&self, license: &LicenseNumber) -> Result<String, DbError> {
        facility_time_zone(&self.lock(), license)
    }

    /// Adds a person to a facility's roster. The PIN (4–12 digits) is kept only as Argon2.
    pub fn add_user(&self, facility: &LicenseNumber, name: &str, role: Role, badge: &str, pin: &str) -> Result<UserId, DbError> {
        let name = clean_text(text::name("name"), name)?;
        let badge = clean_text(text::reference("badge"), badge)?;
        // Hash before taking the lock: Argon2 is deliberately slow.
        let pin_hash = secret::hash_pin(pin)?;
        let id = UserId::new();
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if facility_name(&tx, facility)?.is_none() {
            return Err(DbError::UnknownFacility(facility.clone()));
        }
        let taken: bool = tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM users WHERE facility = ?1 AND badge = ?2)",
            params![facility.as_str(), badge],
            |row| row.get(0),
        )?;
        if taken {
            return Err(DbError::BadgeTaken { badge, facility: facility.clone() });
        }
        tx.execute(
            "INSERT INTO users (id, facility, name, role, badge, pin_hash, active, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7)",
            params![id.to_string(), facility.as_str(), name, role.as_str(), badge, pin_hash, now_text()],
        )?;
        tx.commit()?;
        Ok(id)
    }

    /// A one-time code for enrolling a device at `facility`; only its SHA-256 is stored.
    pub fn issue_enrolment_code(
        &self,
        facility: &LicenseNumber,
        issued_by: Option<UserId>,
        ttl: chrono::Duration,
    ) -> Result<EnrolmentCode, DbError> {
        self.insert_enrolment_code(facility, issued_by, None, ttl)
    }

    /// A code a manager issued from an enrolled device (`POST /v1/enrolment-codes`). It is void
    /// once that device is revoked or that manager deactivated.
    pub fn issue_enrolment_code_from(
        &self,
        facility: &LicenseNumber,
        manager: UserId,
        device: DeviceId,
        ttl: chrono::Duration,
    ) -> Result<EnrolmentCode, DbError> {
        self.insert_enrolment_code(facility, Some(manager), Some(device), ttl)
    }

    fn insert_enrolment_code(
        &self,
        facility: &LicenseNumber,
        issued_by: Option<UserId>,
        issued_from: Option<DeviceId>,
        ttl: chrono::Duration,
    ) -> Result<EnrolmentCode, DbError> {
        if ttl <= chrono::Duration::zero() {
            return Err(DbError::InvalidInput("an enrolment code must be valid for some time; give a positive TTL".into()));
        }
        let code = secret::new_enrolment_code()?;
        let issued_at = Utc::now();
        let expires_at =
            issued_at.checked_add_signed(ttl).ok_or_else(|| DbError::InvalidInput("the enrolment code TTL is too long".into()))?;
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if facility_name(&tx, facility)?.is_none() {
            return Err(DbError::UnknownFacility(facility.clone()));
        }
        if let Some(user) = issued_by {
            let at: Option<String> =
                tx.query_row("SELECT facility FROM users WHERE id = ?1", params![user.to_string()], |row| row.get(0)).optional()?;
            match at {
                None => return Err(DbError::UnknownUser(user)),
                Some(f) if f != facility.as_str() => {
                    return Err(DbError::UserNotInFacility { user, facility: facility.clone() });
                }
                Some(_) => {}
            }
        }
        tx.execute(
            "INSERT INTO enrolment_codes (code_hash, facility, issued_by, issued_at, expires_at, issued_from)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                secret::sha256_hex(&code),
                facility.as_str(),
                issued_by.map(|u| u.to_string()),
                time_text(issued_at),
                time_text(expires_at),
                issued_from.map(|d| d.to_string()),
            ],
        )?;
        tx.commit()?;
        Ok(EnrolmentCode { code, expires_at })
    }

    /// Everyone who may sign in on the facility's devices, deactivated people included.
    pub fn roster(&self, facility: &LicenseNumber) -> Result<Vec<RosterEntry>, DbError> {
        roster(&self.lock(), facility)
    }

    /// The device a bearer token belongs to; records that it was seen.
    pub fn authenticate(&self, token: &str) -> Result<AuthedDevice, DbError> {
        let token_hash = secret::sha256_hex(token);
        let conn = self.lock();
        let found: Option<(String, String, Option<String>)> = conn
            .query_row("SELECT id, facility, revoked_at FROM devices WHERE token_hash = ?1", params![token_hash], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .optional()?;
        let Some((id, facility, revoked_at)) = found else {
            return Err(DbError::Unauthorized);
        };
        if let Some(at) = revoked_at {
            return Err(DbError::DeviceRevoked(parse_time(&at)?));
        }
        // To the minute: a write (and fsync) on every request would cost more than it tells.
        let now = Utc::now();
        conn.execute(
            "UPDATE devices SET last_seen = ?2 WHERE id = ?1 AND (last_seen IS NULL OR last_seen < ?3)",
            params![id, time_text(now), time_text(now - chrono::Duration::minutes(1))],
        )?;
        Ok(AuthedDevice { id: parse_col("device id", &id)?, facility: parse_col("licence number", &facility)? })
    }
}

fn migrate(conn: &mut Connection) -> Result<(), DbError> {
    let known = MIGRATIONS.len() as i64;
    loop {
        // Re-read the version inside the write transaction: another process may have migrated.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
        if version > known {
            return Err(DbError::TooNew { found: version, known });
        }
        if version == known {
            return Ok(());
        }
        tx.execute_batch(MIGRATIONS[version as usize])?;
        after_step(&tx, version + 1)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
        tracing::info!(version = version + 1, "database schema migrated");
    }
}

/// The facility's time zone name; unknown facilities are an error (their devices cannot exist).
pub(crate) fn facility_time_zone(conn: &Connection, license: &LicenseNumber) -> Result<String, DbError> {
    conn.query_row("SELECT time_zone FROM facilities WHERE license = ?1", params![license.as_str()], |row| row.get(0))
        .optional()?
        .ok_or_else(|| DbError::UnknownFacility(license.clone()))
}

pub(crate) fn facility_name(conn: &Connection, license: &LicenseNumber) -> Result<Option<String>, DbError> {
    Ok(conn.query_row("SELECT name FROM facilities WHERE license = ?1", params![license.as_str()], |row| row.get(0)).optional()?)
}

/// Everyone at `facility` with the keys they registered — never a PIN hash: a device needs to
/// know who people are and check what they signed, not to check or guess their PINs.
pub(crate) fn roster(conn: &Connection, facility: &LicenseNumber) -> Result<Vec<RosterEntry>, DbError> {
    let mut keys: std::collections::HashMap<String, Vec<RegisteredKey>> = std::collections::HashMap::new();
    {
        let mut stmt = conn.prepare_cached(
            "SELECT k.user, k.device, k.public_key, k.revoked_at IS NULL FROM person_keys k
             JOIN users u ON u.id = k.user WHERE u.facility = ?1 ORDER BY k.registered_at, k.public_key",
        )?;
        let rows = stmt.query_map(params![facility.as_str()], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, String>(2)?, row.get::<_, bool>(3)?))
        })?;
        for row in rows {
            let (user, device, key, active) = row?;
            keys.entry(user).or_default().push(RegisteredKey {
                device: parse_col("device id", &device)?,
                key: parse_col("public key", &key)?,
                active,
            });
        }
    }
    let mut stmt = conn.prepare_cached("SELECT id, name, role, badge, active FROM users WHERE facility = ?1 ORDER BY name, id")?;
    let rows = stmt.query_map(params![facility.as_str()], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, String>(2)?, row.get::<_, String>(3)?, row.get::<_, bool>(4)?))
    })?;
    let mut entries = Vec::new();
    for row in rows {
        let (id, name, role, badge, active) = row?;
        entries.push(RosterEntry {
            keys: keys.remove(&id).unwrap_or_default(),
            id: parse_col("user id", &id)?,
            name,
            role: parse_col("role", &role)?,
            badge,
            active,
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lic() -> LicenseNumber {
        LicenseNumber::parse("C11-0000001-LIC").unwrap()
    }

    #[test]
    fn migrations_apply_once_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), DataKey::generate()).unwrap();
        db.create_facility(&lic(), "North Vault", custody_core::state_json::Tz::America__Los_Angeles).unwrap();
        drop(db);
        let db = Db::open(dir.path(), DataKey::generate()).unwrap();
        let version: i64 = db.lock().pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
        assert!(matches!(
            db.create_facility(&lic(), "Again", custody_core::state_json::Tz::America__Los_Angeles),
            Err(DbError::FacilityExists(_))
        ));
        // The facility's zone: set, read back, and an unknown facility named.
        assert_eq!(db.facility_time_zone(&lic()).unwrap(), "America/Los_Angeles");
        db.set_facility_time_zone(&lic(), Tz::Europe__Berlin).unwrap();
        assert_eq!(db.facility_time_zone(&lic()).unwrap(), "Europe/Berlin");
        let other = LicenseNumber::parse("C11-0000777-LIC").unwrap();
        assert!(matches!(db.set_facility_time_zone(&other, Tz::UTC), Err(DbError::UnknownFacility(_))));
        let mode: String = db.lock().pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(Db::open(dir.path(), DataKey::generate()).unwrap());
        let conn = Connection::open(dir.path().join(DB_FILE_NAME)).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        assert!(matches!(Db::open(dir.path(), DataKey::generate()), Err(DbError::TooNew { found: 99, .. })));
    }

    #[test]
    fn users_need_a_facility_a_unique_badge_and_a_digit_pin() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), DataKey::generate()).unwrap();
        assert!(matches!(db.add_user(&lic(), "Ana", Role::Manager, "B1", "1234"), Err(DbError::UnknownFacility(_))));
        db.create_facility(&lic(), "North Vault", custody_core::state_json::Tz::America__Los_Angeles).unwrap();
        let err = db.add_user(&lic(), "Ana", Role::Manager, "B1", "12ab").unwrap_err();
        assert!(err.to_string().contains("4 to 12 digits"), "{err}");
        db.add_user(&lic(), "Ana", Role::Manager, "B1", "1234").unwrap();
        assert!(matches!(db.add_user(&lic(), "Ben", Role::Driver, " B1 ", "5678"), Err(DbError::BadgeTaken { .. })));
    }

    #[test]
    fn enrolment_codes_are_stored_hashed_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), DataKey::generate()).unwrap();
        db.create_facility(&lic(), "North Vault", custody_core::state_json::Tz::America__Los_Angeles).unwrap();
        let code = db.issue_enrolment_code(&lic(), None, chrono::Duration::hours(1)).unwrap();
        let stored: String = db.lock().query_row("SELECT code_hash FROM enrolment_codes", [], |r| r.get(0)).unwrap();
        assert_ne!(stored, code.code);
        assert_eq!(stored, secret::sha256_hex(&code.code));
        // Typed in lower case with a dash: still the same code.
        let typed = format!("{}-{}", &code.code[..5], &code.code[5..]).to_lowercase();
        db.enrol(&typed, "Vault handheld 1", None).unwrap();
        assert!(matches!(db.enrol(&code.code, "Again", None), Err(DbError::EnrolmentCodeInvalid)));

        let short = db.issue_enrolment_code(&lic(), None, chrono::Duration::milliseconds(1)).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        assert!(matches!(db.enrol(&short.code, "Late", None), Err(DbError::EnrolmentCodeInvalid)));
        assert!(matches!(db.enrol("ZZZZZZZZZZ", "Guess", None), Err(DbError::EnrolmentCodeInvalid)));
    }
}
