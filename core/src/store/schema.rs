//! Versioned migrations of the device database. Each step runs once, in order; one upgrade (all
//! the steps from the phone's version to the latest) is one transaction; `PRAGMA user_version`
//! records how far a database has come. Never edit a shipped step: add a new one.

use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[
    // 1: the custody ledger on the device.
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) STRICT;

    -- Every event this device knows: its own and those pulled from the server.
    CREATE TABLE events (
        id           TEXT PRIMARY KEY,
        tag          TEXT NOT NULL,
        device       TEXT NOT NULL,
        device_seq   INTEGER NOT NULL,
        kind         TEXT NOT NULL,
        order_key    TEXT NOT NULL,
        json         TEXT NOT NULL,
        -- pending (own, not yet acknowledged), accepted, rejected (by the server, kept with reason)
        state        TEXT NOT NULL CHECK (state IN ('pending', 'accepted', 'rejected')),
        reject_reason TEXT,
        recorded_at  TEXT NOT NULL
    ) STRICT;
    CREATE UNIQUE INDEX events_device_seq ON events (device, device_seq);

    -- Which packages' histories an event belongs to (a split belongs to two).
    CREATE TABLE event_tags (
        tag      TEXT NOT NULL,
        event_id TEXT NOT NULL REFERENCES events (id),
        PRIMARY KEY (tag, event_id)
    ) STRICT, WITHOUT ROWID;

    -- Own events not yet acknowledged by the server, in chain order.
    CREATE TABLE outbox (
        device_seq INTEGER PRIMARY KEY,
        event_id   TEXT NOT NULL UNIQUE REFERENCES events (id)
    ) STRICT;

    -- The fold state of each package history (including histories of never-received tags).
    CREATE TABLE folds (
        tag      TEXT PRIMARY KEY,
        last_key TEXT NOT NULL,
        state    TEXT NOT NULL
    ) STRICT, WITHOUT ROWID;

    -- The folded inventory, one row per package, for lookups by tag and listings.
    CREATE TABLE packages (
        tag        TEXT PRIMARY KEY,
        item       TEXT NOT NULL,
        batch      TEXT NOT NULL,
        quantity   TEXT NOT NULL,
        unit       TEXT NOT NULL,
        location   TEXT NOT NULL,
        status     TEXT NOT NULL,
        expires_on TEXT,
        head       TEXT NOT NULL
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX packages_location ON packages (location);
    CREATE INDEX packages_batch ON packages (batch);

    CREATE TABLE conflicts (
        tag         TEXT NOT NULL,
        kind        TEXT NOT NULL,
        event_id    TEXT NOT NULL,
        other_event TEXT,
        detail      TEXT NOT NULL,
        PRIMARY KEY (tag, kind, event_id)
    ) STRICT, WITHOUT ROWID;

    -- People who may sign in on this device (synced from the server).
    CREATE TABLE roster (
        id       TEXT PRIMARY KEY,
        json     TEXT NOT NULL,
        badge    TEXT NOT NULL
    ) STRICT;
    CREATE INDEX roster_badge ON roster (badge);
    "#,
    // 2: work documents (Automerge), stored as a snapshot plus incremental changes.
    r#"
    CREATE TABLE docs (
        id          TEXT PRIMARY KEY,
        kind        TEXT NOT NULL,
        facility    TEXT NOT NULL,
        snapshot_bytes INTEGER NOT NULL DEFAULT 0,
        change_rows INTEGER NOT NULL DEFAULT 0,
        -- bytes in doc_changes, to decide when compacting pays
        change_bytes INTEGER NOT NULL DEFAULT 0,
        heads       TEXT NOT NULL,
        -- 1 while this device may have something to tell the server about the document
        dirty       INTEGER NOT NULL DEFAULT 1,
        -- the server's reason, when it refused this device's last changes
        refusal     TEXT,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
    ) STRICT;
    CREATE INDEX docs_kind ON docs (kind);
    CREATE INDEX docs_dirty ON docs (dirty) WHERE dirty = 1;

    -- Kept apart from the row above so that updating a document's small columns on every scan
    -- does not rewrite a large snapshot.
    CREATE TABLE doc_snapshots (
        doc_id   TEXT PRIMARY KEY REFERENCES docs (id),
        snapshot BLOB NOT NULL
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE doc_changes (
        doc_id TEXT NOT NULL REFERENCES docs (id),
        seq    INTEGER NOT NULL,
        bytes  BLOB NOT NULL,
        PRIMARY KEY (doc_id, seq)
    ) STRICT;

    -- Automerge sync state with the server, per document.
    CREATE TABLE doc_sync (
        doc_id TEXT PRIMARY KEY REFERENCES docs (id),
        state  BLOB NOT NULL
    ) STRICT;
    "#,
    // 3: outbound. Patient data of medical orders, sealed under the device's data key (never in
    // a work document), and the log of who looked at it, kept until the server has it.
    r#"
    CREATE TABLE patients (
        order_id TEXT PRIMARY KEY,
        sealed   BLOB NOT NULL,
        -- 0 while a record entered on this phone has not reached the server
        uploaded INTEGER NOT NULL DEFAULT 1
    ) STRICT;

    CREATE TABLE patient_views (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        order_id  TEXT NOT NULL,
        user      TEXT NOT NULL,
        user_name TEXT NOT NULL,
        purpose   TEXT NOT NULL,
        at        TEXT NOT NULL
    ) STRICT;
    "#,
    // 4: proof of who did what. Each person's signing key on this device, sealed under a key
    // derived from their PIN and the store key's sign-in secret, with the count of wrong PINs in
    // a row; the signatures of this device's own work-document changes (sent with them). Rosters
    // from before carried PIN hashes: they go, and the next sync brings one without.
    r#"
    CREATE TABLE person_keys (
        user          TEXT PRIMARY KEY,
        public_key    TEXT NOT NULL,
        salt          BLOB NOT NULL,
        sealed        BLOB NOT NULL,
        failures      INTEGER NOT NULL DEFAULT 0,
        registered_at TEXT NOT NULL
    ) STRICT;

    CREATE TABLE doc_signatures (
        doc_id      TEXT NOT NULL,
        change_hash TEXT NOT NULL,
        signature   TEXT NOT NULL,
        PRIMARY KEY (doc_id, change_hash)
    ) STRICT, WITHOUT ROWID;

    ALTER TABLE patient_views ADD COLUMN signature TEXT;

    DELETE FROM roster;
    DELETE FROM meta WHERE key = 'signed_in_user';
    "#,
    // 5: no schema change. Accepted events that break the domain bounds (docs/decisions/0013),
    // stored before those bounds existed, are marked rejected with the reason and their packages
    // refolded: the Rust step in `after_step`.
    "-- 5: events beyond the domain bounds are marked rejected (see after_step)",
    // 6: a manager's resolution of a conflict (docs/decisions/0022), as the fold read it from the
    // resolving event: JSON, NULL while the conflict is open. No event resolved anything before,
    // so every stored conflict is open and nothing needs refolding.
    "ALTER TABLE conflicts ADD COLUMN resolution TEXT;",
];

/// Steps that need code. They use today's code, which knows only the latest schema, so they run
/// after every SQL step has brought the database there (a version-5 step that refolds packages
/// writes the conflict columns version 6 added), in the same transaction.
fn after_step(tx: &rusqlite::Transaction<'_>, version: usize) -> super::Result<()> {
    if version == 5 {
        let rejected = super::reject_out_of_bounds(tx)?;
        if rejected > 0 {
            tracing::warn!(rejected, "events beyond the domain bounds marked rejected");
        }
    }
    Ok(())
}

/// Brings the database to the latest version. A database written by a newer app (a phone's
/// app downgraded, or a file restored onto an older build) is refused untouched: this build
/// would not know its tables, and writing to it could lose what the newer app kept.
pub(crate) fn migrate(conn: &mut Connection) -> super::Result<()> {
    migrate_to(conn, LATEST)
}

/// Brings the database to `target` in one transaction: every SQL step, then (only when the
/// target is the latest, as on a phone) the steps that need code, then the version. A crash
/// part way leaves the database as it was, to be migrated again at the next start. Tests build
/// databases of earlier versions with a lower `target`: those have no data the code steps
/// would change.
pub(crate) fn migrate_to(conn: &mut Connection, target: usize) -> super::Result<()> {
    let current: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > LATEST {
        return Err(super::StoreError::NewerSchema { found: current, known: LATEST });
    }
    if current >= target {
        return Ok(());
    }
    let tx = conn.transaction()?;
    for step in MIGRATIONS.iter().take(target).skip(current) {
        tx.execute_batch(step)?;
    }
    if target == LATEST {
        for version in current + 1..=target {
            after_step(&tx, version)?;
        }
    }
    tx.pragma_update(None, "user_version", target)?;
    tx.commit()?;
    Ok(())
}

/// The version a fully migrated database reports.
pub const LATEST: usize = MIGRATIONS.len();
