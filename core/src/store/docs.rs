//! Work documents in the device store: snapshot plus incremental changes, compacted; the
//! Automerge sync state with the server per document; an in-memory cache so a scan does not
//! reload a large session.

use std::collections::HashMap;

use automerge::sync::State;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction, params};
use uuid::Uuid;

use std::sync::Arc;

use super::{Result, Signer, Store, StoreError, record_in};
use crate::event::{Event, EventBody};
use crate::ids::PackageTag;
use crate::ids::UserId;
use crate::protocol::RosterEntry;
use crate::protocol::{ChangeSignature, DocMessage, DocRefusal};
use crate::signing::{PublicKey, Signature, change_message};
use crate::work::{DocKind, WorkDoc, Writer, decode_state, encode_state};

/// The writer a document is loaded under when nobody writes to it (applying the server's
/// messages, reading): the device with no person. A unit of work sets the signed-in person
/// before anything is written ([`WorkDoc::set_writer`]).
fn reader(device: crate::ids::DeviceId) -> Writer {
    Writer::Person { device, user: crate::ids::UserId(Uuid::nil()) }
}

/// A document is compacted into a new snapshot once its incremental changes outweigh the
/// snapshot (and at least this many bytes): loading stays within twice a snapshot load, and the
/// cost of writing snapshots stays proportional to what was added, however large the session.
const COMPACT_MIN_BYTES: i64 = 64 * 1024;

/// A document as a list screen shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocInfo {
    pub id: Uuid,
    pub kind: DocKind,
    pub updated_at: DateTime<Utc>,
    /// The server refused this device's last changes to it, and why.
    pub refusal: Option<String>,
}

thread_local! {
    /// Set while this thread runs a unit of work (and so holds the store's connection).
    static IN_UNIT_OF_WORK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether this thread is inside a unit of work: the store refuses to be called from there.
pub(crate) fn in_unit_of_work() -> bool {
    IN_UNIT_OF_WORK.with(std::cell::Cell::get)
}

/// Marks the thread as inside a unit of work until dropped (also on a panic).
struct InUnitOfWork;

impl InUnitOfWork {
    fn enter() -> Self {
        IN_UNIT_OF_WORK.with(|f| f.set(true));
        InUnitOfWork
    }
}

impl Drop for InUnitOfWork {
    fn drop(&mut self) {
        IN_UNIT_OF_WORK.with(|f| f.set(false));
    }
}

/// One unit of work over documents and the ledger, in one SQLite transaction: a workflow reads
/// what it decides on (packages, folds, documents, settings, the signed-in person, the corrected
/// clock) and writes through this handle, so every check and every write sees one state, and
/// every document touched and every event recorded commits together, or nothing does. The
/// workflow never sees the `Store`, so it cannot wait on the connection it already holds.
pub struct UnitOfWork<'a> {
    tx: Transaction<'a>,
    /// The phone's clock when the unit of work began (see [`Store::device_clock`]).
    device_ms: i64,
    cache: &'a std::sync::Mutex<HashMap<Uuid, WorkDoc>>,
    /// The store key, for the patient data sealed on this device ([`UnitOfWork::data_key`]).
    key: &'a super::StoreKey,
    /// The signed-in person: every change this unit of work makes is theirs and signed by them.
    signer: Option<Arc<Signer>>,
    writer: Writer,
    /// This device, for documents loaded only to be read.
    device: crate::ids::DeviceId,
    /// Each document worked on, whether it is new, and its heads when the work began.
    touched: HashMap<Uuid, (WorkDoc, bool, Vec<automerge::ChangeHash>)>,
    compact: Vec<Uuid>,
}

impl UnitOfWork<'_> {
    /// The document, loaded for change. `Ok(None)` if this device does not hold it.
    pub fn doc(&mut self, id: Uuid) -> Result<Option<&mut WorkDoc>> {
        if !self.touched.contains_key(&id) {
            let cached = self.cache.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
            let mut doc = match cached {
                Some(doc) => doc,
                None => match load(&self.tx, id, self.writer)? {
                    Some(doc) => doc,
                    None => return Ok(None),
                },
            };
            doc.set_writer(self.writer);
            let heads = doc.heads();
            self.touched.insert(id, (doc, false, heads));
        }
        Ok(self.touched.get_mut(&id).map(|(doc, _, _)| doc))
    }

    /// Adds a new document (made with [`UnitOfWork::writer`], the signed-in person).
    pub fn create(&mut self, doc: WorkDoc) {
        self.touched.insert(doc.id, (doc, true, Vec::new()));
    }

    /// Saves this document as a fresh snapshot on commit (a closed session is read, not written:
    /// one snapshot loads fastest).
    pub fn compact(&mut self, id: Uuid) {
        self.compact.push(id);
    }

    /// The transaction, for a workflow's own tables written in the same unit of work.
    pub(crate) fn conn(&self) -> &Transaction<'_> {
        &self.tx
    }

    /// The key that seals patient data on this device (`outbound::patients`, whose table is
    /// written through [`UnitOfWork::conn`]).
    pub(crate) fn data_key(&self) -> crate::outbound::patient::DataKey {
        self.key.patient_key()
    }

    /// The signed-in person with their key and device, for a workflow that signs a record of
    /// its own outside the ledger and documents (a line of the patient access log).
    pub(crate) fn signer(&self) -> Result<&Signer> {
        self.signer.as_deref().ok_or(StoreError::NotSignedIn)
    }

    /// A package as the list shows it, as of this unit of work.
    pub fn package(&self, tag: &PackageTag) -> Result<Option<super::PackageView>> {
        super::package_in(&self.tx, tag)
    }

    /// Every package, by tag, as of this unit of work.
    pub fn packages(&self) -> Result<Vec<super::PackageView>> {
        super::packages_in(&self.tx)
    }

    /// A package's fold (for facts the package list does not show, such as when it came in).
    pub fn package_fold(&self, tag: &PackageTag) -> Result<Option<crate::fold::Package>> {
        super::package_fold_in(&self.tx, tag)
    }

    /// A package's full history, newest first, as of this unit of work.
    pub fn history(&self, tag: &PackageTag) -> Result<Vec<super::EventRecord>> {
        super::history_in(&self.tx, tag)
    }

    /// Every conflict, open and resolved.
    pub fn conflicts(&self) -> Result<Vec<crate::fold::Conflict>> {
        super::conflicts_in(&self.tx)
    }

    /// The roster as the server last sent it.
    pub fn roster(&self) -> Result<Vec<RosterEntry>> {
        super::roster_in(&self.tx)
    }

    /// Who and where this device is.
    pub fn identity(&self) -> Result<super::DeviceIdentity> {
        Store::require_identity(&self.tx)
    }

    /// A small setting stored on the device (JSON), as of this unit of work.
    pub fn setting<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        super::setting_in(&self.tx, key)
    }

    /// Writes a small setting stored on the device (JSON), committed with this unit of work.
    pub fn set_setting<T: serde::Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<()> {
        super::set_meta(&self.tx, &format!("setting:{key}"), value)
    }

    /// The facility's time zone as the server last sent it (`None` until then).
    pub fn facility_time_zone(&self) -> Result<Option<chrono_tz::Tz>> {
        super::facility_time_zone_in(&self.tx)
    }

    /// The documents of a kind (or all) this device holds, newest first.
    pub fn docs(&self, kind: Option<DocKind>) -> Result<Vec<DocInfo>> {
        docs_in(&self.tx, kind)
    }

    /// Reads a document without changing it (as this unit of work left it, if it changed it).
    /// `Ok(None)` if this device does not hold it. Reading does not mark it changed: only
    /// documents loaded with [`UnitOfWork::doc`] are saved.
    pub fn read<T, E: From<StoreError>>(&mut self, id: Uuid, read: impl FnOnce(&WorkDoc) -> Result<T, E>) -> Result<Option<T>, E> {
        if let Some((doc, _, _)) = self.touched.get(&id) {
            return read(doc).map(Some);
        }
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let std::collections::hash_map::Entry::Vacant(e) = cache.entry(id) {
            // Loaded as of this transaction, which has not changed it: the committed state.
            match load(&self.tx, id, reader(self.device))? {
                Some(doc) => {
                    e.insert(doc);
                }
                None => return Ok(None),
            }
        }
        read(&cache[&id]).map(Some)
    }

    /// The corrected clock (decision 0002) at the start of this unit of work.
    pub fn now(&self) -> Result<DateTime<Utc>> {
        let ms = self.now_ms()?;
        Ok(DateTime::from_timestamp_millis(ms).unwrap_or_else(Utc::now))
    }

    /// The corrected clock in milliseconds (the HLC's wall time: never behind what this device
    /// has stamped).
    pub fn now_ms(&self) -> Result<i64> {
        super::corrected_now_ms(&self.tx, self.device_ms)
    }

    /// The signed-in person; `NotSignedIn` if nobody is.
    pub fn user(&self) -> Result<crate::people::SignedInUser> {
        Ok(self.signer.as_ref().ok_or(StoreError::NotSignedIn)?.user.clone())
    }

    /// The signed-in person as the writer of new documents ([`UnitOfWork::create`]).
    pub fn writer(&self) -> Result<Writer> {
        self.signer.as_ref().ok_or(StoreError::NotSignedIn)?;
        Ok(self.writer)
    }

    /// The signed-in person and this device, stamped with the corrected clock: who did what.
    pub fn actor(&self) -> Result<(crate::people::SignedInUser, crate::people::Actor)> {
        let signer = self.signer.as_ref().ok_or(StoreError::NotSignedIn)?;
        let user = signer.user.clone();
        let actor = crate::people::Actor { user: user.id, name: user.name.clone(), device: signer.device, at: self.now()? };
        Ok((user, actor))
    }

    /// Records a ledger event as part of this unit of work.
    pub fn record(&mut self, tag: &PackageTag, body: EventBody) -> Result<Event> {
        let signer = self.signer.as_ref().ok_or(StoreError::NotSignedIn)?;
        record_in(&self.tx, signer, tag, body, self.device_ms)
    }

    fn commit(mut self) -> Result<()> {
        let now = Utc::now().to_rfc3339();
        for (id, (doc, created, heads)) in self.touched.iter_mut() {
            // Every change made in this unit of work is the signed-in person's, signed by them;
            // a change nobody can sign is not saved at all.
            let new = doc.changes_since(heads);
            if !new.is_empty() {
                let signer = self.signer.as_ref().ok_or(StoreError::NotSignedIn)?;
                let mine = Writer::Person { device: signer.device, user: signer.user.id };
                let mut insert =
                    self.tx.prepare_cached("INSERT OR IGNORE INTO doc_signatures (doc_id, change_hash, signature) VALUES (?1, ?2, ?3)")?;
                for (hash, writer) in new {
                    if writer != Some(mine) {
                        return Err(StoreError::Corrupt(format!("a change to document {id} is not the signed-in person's")));
                    }
                    let signature = signer.key.sign(&change_message(*id, &hash));
                    insert.execute(params![id.to_string(), hash, signature.to_string()])?;
                }
            }
            // Never compact here unless asked: this is the scan path; a large session's snapshot
            // costs tens of milliseconds to write. Syncs compact instead.
            let mode = if *created || self.compact.contains(id) { Save::Snapshot } else { Save::Append };
            save(&self.tx, doc, mode, true, &now)?;
        }
        self.tx.commit()?;
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        for (id, (doc, _, _)) in self.touched.drain() {
            cache.insert(id, doc);
        }
        Ok(())
    }
}

impl Store {
    /// Runs `work` over documents and the ledger in one durable transaction. On any error
    /// nothing is written and the documents it touched are dropped from the cache (they are
    /// reloaded from disk next time), so memory never holds what the database does not.
    ///
    /// `work` reads and writes through the [`UnitOfWork`] only. A call back into the `Store`
    /// from inside it panics with a message instead of waiting on the connection forever.
    pub fn work<T, E: From<StoreError>>(&self, work: impl FnOnce(&mut UnitOfWork<'_>) -> Result<T, E>) -> Result<T, E> {
        let signer = self.signer_opt();
        let device_ms = self.device_clock().timestamp_millis();
        let mut conn = self.conn();
        let device = Self::require_identity(&conn)?.device_id;
        let writer = match &signer {
            Some(s) => Writer::Person { device, user: s.user.id },
            None => reader(device),
        };
        let tx = conn.transaction().map_err(StoreError::from)?;
        let _inside = InUnitOfWork::enter();
        let mut dtx = UnitOfWork {
            tx,
            device_ms,
            cache: &self.docs,
            key: &self.key,
            signer,
            writer,
            device,
            touched: HashMap::new(),
            compact: Vec::new(),
        };
        let value = work(&mut dtx)?;
        dtx.commit()?;
        Ok(value)
    }

    /// The documents this device holds, newest first.
    pub fn docs(&self, kind: Option<DocKind>) -> Result<Vec<DocInfo>> {
        docs_in(&self.conn(), kind)
    }

    /// Sync messages for every document that may have something to tell the server. `states`
    /// carries the Automerge sync states between the round trips of one sync.
    pub(crate) fn doc_messages(&self, states: &mut HashMap<Uuid, State>) -> Result<Vec<DocMessage>> {
        let conn = self.conn();
        let writer = reader(Self::require_identity(&conn)?.device_id);
        let dirty: Vec<(String, String)> = {
            let mut stmt = conn.prepare("SELECT id, kind FROM docs WHERE dirty = 1 ORDER BY id")?;
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?
        };
        let mut cache = self.docs.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::new();
        for (id, kind) in dirty {
            let id = super::parse_uuid(&id)?;
            let kind = DocKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("document kind {kind:?}")))?;
            if let std::collections::hash_map::Entry::Vacant(e) = cache.entry(id) {
                let Some(doc) = load(&conn, id, writer)? else { continue };
                e.insert(doc);
            }
            let state = match states.entry(id) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => e.insert(load_state(&conn, id)?),
            };
            let doc = cache.get_mut(&id).expect("just inserted");
            match doc.generate_message_with_changes(state) {
                Some((message, carried)) => {
                    let signatures = own_signatures(&conn, id, &carried)?;
                    out.push(DocMessage { doc: id, kind, message, signatures })
                }
                None => {
                    conn.execute("UPDATE docs SET dirty = 0 WHERE id = ?1", [id.to_string()])?;
                }
            }
        }
        Ok(out)
    }

    /// Applies the server's document messages and refusals in one transaction.
    pub(crate) fn apply_doc_messages(
        &self,
        messages: &[DocMessage],
        refusals: &[DocRefusal],
        states: &mut HashMap<Uuid, State>,
    ) -> Result<usize> {
        let mut conn = self.conn();
        let identity = Self::require_identity(&conn)?;
        let writer = reader(identity.device_id);
        let tx = conn.transaction()?;
        let roster: HashMap<UserId, RosterEntry> = {
            let mut stmt = tx.prepare_cached("SELECT json FROM roster")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            rows.map(|json| super::from_json::<RosterEntry>(&json?).map(|e| (e.id, e))).collect::<Result<_>>()?
        };
        let server_key = Self::server_key(&tx)?;
        let mut cache = self.docs.lock().unwrap_or_else(|p| p.into_inner());
        let now = Utc::now().to_rfc3339();
        let mut applied = Vec::new();
        for m in messages {
            let (mut doc, created) = match cache.remove(&m.doc) {
                Some(doc) => (doc, false),
                None => match load(&tx, m.doc, writer)? {
                    Some(doc) => (doc, false),
                    None => (WorkDoc::empty(m.doc, m.kind, identity.facility.clone(), writer), true),
                },
            };
            let state = match states.entry(m.doc) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => e.insert(load_state(&tx, m.doc)?),
            };
            // A message that does not apply, a change nobody proves, or a document that claims to
            // be something else fails the whole apply: nothing changes, the next sync starts afresh.
            let before = doc.heads();
            doc.receive_message(state, &m.message)?;
            check_pulled_changes(&mut doc, &before, m, &roster, server_key.as_ref()).map_err(StoreError::BadRemoteEvent)?;
            doc.check_identity()?;
            save(&tx, &mut doc, if created { Save::Snapshot } else { Save::CompactIfLarge }, true, &now)?;
            tx.execute("INSERT OR REPLACE INTO doc_sync (doc_id, state) VALUES (?1, ?2)", params![m.doc.to_string(), encode_state(state)])?;
            applied.push(doc);
        }
        for r in refusals {
            tx.execute("UPDATE docs SET refusal = ?2, dirty = 0 WHERE id = ?1", params![r.doc.to_string(), r.reason])?;
        }
        tx.commit()?;
        for doc in applied {
            cache.insert(doc.id, doc);
        }
        Ok(messages.len())
    }
}

/// The documents of a kind (or all) on a connection or transaction, newest first.
fn docs_in(conn: &rusqlite::Connection, kind: Option<DocKind>) -> Result<Vec<DocInfo>> {
    let mut stmt = conn.prepare_cached("SELECT id, kind, updated_at, refusal FROM docs ORDER BY updated_at DESC, id")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, Option<String>>(3)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (id, k, updated, refusal) = row?;
        let k = DocKind::parse(&k).ok_or_else(|| StoreError::Corrupt(format!("document kind {k:?}")))?;
        if kind.is_none_or(|want| want == k) {
            out.push(DocInfo {
                id: super::parse_uuid(&id)?,
                kind: k,
                updated_at: DateTime::parse_from_rfc3339(&updated).map_err(|e| StoreError::Corrupt(e.to_string()))?.with_timezone(&Utc),
                refusal,
            });
        }
    }
    Ok(out)
}

/// Whether every change a server message brought is signed by whoever made it: a person, with a
/// key registered to them on the device their change names, in a role that may see the document;
/// or the server, with its key. The reason if not.
fn check_pulled_changes(
    doc: &mut WorkDoc,
    before: &[automerge::ChangeHash],
    message: &DocMessage,
    roster: &HashMap<UserId, RosterEntry>,
    server_key: Option<&PublicKey>,
) -> std::result::Result<(), String> {
    let signatures: HashMap<&str, &Signature> = message.signatures.iter().map(|s| (s.hash.as_str(), &s.signature)).collect();
    for (hash, writer) in doc.changes_since(before) {
        let bytes = change_message(doc.id, &hash);
        let signature = signatures.get(hash.as_str()).ok_or_else(|| format!("a change to {} {} is not signed", doc.kind, doc.id))?;
        let proven = match writer {
            Some(Writer::Server(_)) => server_key.is_some_and(|key| key.verify(&bytes, signature).is_ok()),
            Some(Writer::Person { device, user }) => roster.get(&user).is_some_and(|person| {
                doc.kind.visible_to(person.role) && person.registered(device, |key| key.verify(&bytes, signature).is_ok())
            }),
            None => false,
        };
        if !proven {
            return Err(format!("a change to {} {} is not signed by anyone allowed to make it", doc.kind, doc.id));
        }
    }
    // The same rules the server applied to who wrote what.
    let people: Vec<RosterEntry> = roster.values().cloned().collect();
    match crate::work::audit::audit_changes(doc, before, &people) {
        Ok(None) => Ok(()),
        Ok(Some(reason)) => Err(format!("{} {}: {reason}", doc.kind, doc.id)),
        Err(e) => Err(e.to_string()),
    }
}

/// The signatures this device made for the changes in `hashes` (changes made elsewhere have none
/// here: the server already holds them).
fn own_signatures(conn: &rusqlite::Connection, id: Uuid, hashes: &[String]) -> Result<Vec<ChangeSignature>> {
    let mut stmt = conn.prepare_cached("SELECT signature FROM doc_signatures WHERE doc_id = ?1 AND change_hash = ?2")?;
    let mut out = Vec::with_capacity(hashes.len());
    for hash in hashes {
        let signature: Option<String> = stmt.query_row(params![id.to_string(), hash], |r| r.get(0)).optional()?;
        if let Some(signature) = signature {
            let signature = signature.parse().map_err(|e: crate::signing::SigningError| StoreError::Corrupt(e.to_string()))?;
            out.push(ChangeSignature { hash: hash.clone(), signature });
        }
    }
    Ok(out)
}

fn load_state(conn: &rusqlite::Connection, id: Uuid) -> Result<State> {
    let bytes: Option<Vec<u8>> =
        conn.prepare_cached("SELECT state FROM doc_sync WHERE doc_id = ?1")?.query_row([id.to_string()], |r| r.get(0)).optional()?;
    Ok(decode_state(bytes.as_deref())?)
}

fn load(conn: &rusqlite::Connection, id: Uuid, writer: Writer) -> Result<Option<WorkDoc>> {
    let row: Option<(String, String, Vec<u8>)> = conn
        .prepare_cached("SELECT d.kind, d.facility, s.snapshot FROM docs d JOIN doc_snapshots s ON s.doc_id = d.id WHERE d.id = ?1")?
        .query_row([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let Some((kind, facility, snapshot)) = row else { return Ok(None) };
    let changes: Vec<Vec<u8>> = {
        let mut stmt = conn.prepare_cached("SELECT bytes FROM doc_changes WHERE doc_id = ?1 ORDER BY seq")?;
        stmt.query_map([id.to_string()], |r| r.get(0))?.collect::<rusqlite::Result<_>>()?
    };
    let kind = DocKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("document kind {kind:?}")))?;
    let facility = crate::ids::LicenseNumber::parse(&facility).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(Some(WorkDoc::load(id, kind, facility, writer, &snapshot, &changes)?))
}

/// How to persist a document's changes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Save {
    /// A full snapshot (a new document, or one being archived).
    Snapshot,
    /// Append the changes (the scan path).
    Append,
    /// Append, or compact if the changes now outweigh the snapshot (the sync path).
    CompactIfLarge,
}

/// Persists what changed in a document since it was last saved.
fn save(tx: &Transaction<'_>, doc: &mut WorkDoc, mode: Save, dirty: bool, now: &str) -> Result<()> {
    let snapshot_now = mode == Save::Snapshot;
    let id = doc.id.to_string();
    let heads = doc.heads_text();
    if snapshot_now {
        let snapshot = doc.save();
        tx.prepare_cached("DELETE FROM doc_changes WHERE doc_id = ?1")?.execute([&id])?;
        tx.prepare_cached(
            "INSERT INTO docs (id, kind, facility, snapshot_bytes, change_rows, change_bytes, heads, dirty, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, 0, 0, ?5, ?6, ?7, ?7)
             ON CONFLICT (id) DO UPDATE SET snapshot_bytes = ?4, change_rows = 0, change_bytes = 0, heads = ?5, dirty = ?6,
                refusal = NULL, updated_at = ?7",
        )?
        .execute(params![id, doc.kind.as_str(), doc.facility.as_str(), snapshot.len() as i64, heads, dirty, now])?;
        tx.prepare_cached("INSERT OR REPLACE INTO doc_snapshots (doc_id, snapshot) VALUES (?1, ?2)")?.execute(params![id, snapshot])?;
        return Ok(());
    }
    let (rows, change_bytes, snapshot_bytes): (i64, i64, i64) = tx
        .prepare_cached("SELECT change_rows, change_bytes, snapshot_bytes FROM docs WHERE id = ?1")?
        .query_row([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    let bytes = doc.save_incremental();
    if mode == Save::CompactIfLarge && change_bytes + bytes.len() as i64 > snapshot_bytes.max(COMPACT_MIN_BYTES) {
        let snapshot = doc.save();
        tx.prepare_cached("DELETE FROM doc_changes WHERE doc_id = ?1")?.execute([&id])?;
        tx.prepare_cached(
            "UPDATE docs SET snapshot_bytes = ?2, change_rows = 0, change_bytes = 0, heads = ?3, dirty = ?4, refusal = NULL,
             updated_at = ?5 WHERE id = ?1",
        )?
        .execute(params![id, snapshot.len() as i64, heads, dirty, now])?;
        tx.prepare_cached("UPDATE doc_snapshots SET snapshot = ?2 WHERE doc_id = ?1")?.execute(params![id, snapshot])?;
        return Ok(());
    }
    if !bytes.is_empty() {
        tx.prepare_cached("INSERT INTO doc_changes (doc_id, seq, bytes) VALUES (?1, ?2, ?3)")?.execute(params![id, rows + 1, bytes])?;
    }
    tx.prepare_cached(
        "UPDATE docs SET change_rows = ?2, change_bytes = ?3, heads = ?4, dirty = ?5, refusal = NULL, updated_at = ?6
         WHERE id = ?1",
    )?
    .execute(params![id, rows + i64::from(!bytes.is_empty()), change_bytes + bytes.len() as i64, heads, dirty, now])?;
    Ok(())
}
