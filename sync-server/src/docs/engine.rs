//! The work-document engine: storage (a snapshot plus the incremental changes saved since),
//! each device's Automerge sync state, who may see and start which kind, the signature checks,
//! and the document half of the sync round trip. What a particular kind demands (the receiving,
//! adjustment, order and manifest audits) comes in through [`DocPolicy`], from `docs::policy`.
//!
//! The server is one Automerge peer among many: it merges what a device sends, checks it, writes
//! its own changes when a rule demands (withdrawing a decision the person may not make), and
//! answers each device with what that device lacks. Only the heads both sides share survive
//! between round trips (Automerge's encoded `sync::State`); everything else a round trip needs
//! comes with the device's message.

use std::collections::HashMap;

use automerge::sync::{self, Capability, Have};
use custody_core::ids::LicenseNumber;
use custody_core::protocol::{ChangeSignature, DocMessage, DocRefusal, RosterEntry};
use custody_core::signing::{Signature, SigningKey, change_message};
use custody_core::work::{DocError, DocKind, WorkDoc, Writer, decode_state, encode_state};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use uuid::Uuid;

use crate::db::{AuthedDevice, Db, DbError, now_text, parse_col};
use crate::docs::cache::DocCache;

/// A document's incremental change rows are folded into a new snapshot once there are this many.
pub const COMPACT_AFTER_CHANGE_ROWS: i64 = 32;

/// The refusal when nobody (or nobody active) is signed in on the device.
pub const SIGN_IN_TO_SYNC_DOCS: &str = "sign in on the device to sync work documents";

fn with_article(kind: DocKind) -> String {
    match kind {
        DocKind::Adjustment => format!("an {kind}"),
        _ => format!("a {kind}"),
    }
}

/// The heads of a sync state in the form of the `docs.heads` column.
fn shared_heads_text(state: &sync::State) -> String {
    let mut heads: Vec<String> = state.shared_heads.iter().map(|h| h.to_string()).collect();
    heads.sort();
    heads.join(",")
}

/// What a kind of document demands beyond the engine's own checks (signatures, identity, who
/// wrote what). The engine knows no kind's rules; the server's table is `docs::policy`.
pub(crate) trait DocPolicy {
    /// Judges a document after a device's changes merged into it (`before`: its heads until
    /// then). May change the document itself (a withdrawn decision).
    fn judge(
        &self,
        conn: &Connection,
        facility: &LicenseNumber,
        doc: &mut WorkDoc,
        before: &[automerge::ChangeHash],
        roster: &[RosterEntry],
    ) -> Result<Judgement, DbError>;

    /// What follows from a changed document being stored, in the same transaction.
    fn after_persist(&self, conn: &Connection, facility: &LicenseNumber, doc: &WorkDoc) -> Result<(), DbError>;
}

/// A policy's answer on a device's changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Judgement {
    Keep,
    /// The whole message is refused: nothing of it is kept.
    Refuse(String),
    /// Kept, but the server withdrew part of it with its own change (signed, synced to all);
    /// the device is told why.
    Withdrawn(String),
}

/// The person a per-person document belongs to (a route's driver), as its policy stored it.
pub(crate) fn audience(conn: &Connection, id: Uuid) -> Result<Option<String>, DbError> {
    Ok(conn
        .prepare_cached("SELECT audience FROM docs WHERE id = ?1")?
        .query_row([id.to_string()], |r| r.get::<_, Option<String>>(0))
        .optional()?
        .flatten())
}

/// A `docs` row without its bytes.
struct DocRow {
    facility: String,
    kind: DocKind,
    heads: String,
    change_rows: i64,
}

fn doc_row(conn: &Connection, id: Uuid) -> Result<Option<DocRow>, DbError> {
    let row: Option<(String, String, String, i64)> = conn
        .prepare_cached("SELECT facility, kind, heads, change_rows FROM docs WHERE id = ?1")?
        .query_row(params![id.to_string()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    row.map(|(facility, kind, heads, change_rows)| {
        let kind = DocKind::parse(&kind).ok_or(DbError::Corrupt { what: "document kind", value: kind })?;
        Ok(DocRow { facility, kind, heads, change_rows })
    })
    .transpose()
}

/// Loads a stored document: its snapshot followed by its incremental changes.
fn load_stored(
    conn: &Connection,
    writer: Uuid,
    id: Uuid,
    kind: DocKind,
    facility: &LicenseNumber,
) -> Result<Result<WorkDoc, DocError>, DbError> {
    let key = id.to_string();
    let snapshot: Vec<u8> = conn.prepare_cached("SELECT snapshot FROM docs WHERE id = ?1")?.query_row(params![key], |r| r.get(0))?;
    let changes = conn
        .prepare_cached("SELECT bytes FROM doc_changes WHERE doc_id = ?1 ORDER BY seq")?
        .query_map(params![key], |r| r.get::<_, Vec<u8>>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(WorkDoc::load(id, kind, facility.clone(), Writer::Server(writer), &snapshot, &changes))
}

fn save_state(conn: &Connection, device: &AuthedDevice, id: Uuid, state: &sync::State) -> Result<(), DbError> {
    conn.prepare_cached(
        "INSERT INTO doc_sync (device, doc_id, state) VALUES (?1, ?2, ?3)
         ON CONFLICT (device, doc_id) DO UPDATE SET state = excluded.state",
    )?
    .execute(params![device.id.to_string(), id.to_string(), encode_state(state)])?;
    Ok(())
}

/// A document this round trip is working on, with the device's sync state for it.
struct InHand {
    kind: DocKind,
    doc: WorkDoc,
    state: sync::State,
    /// `Some` once the document is in `docs` (a new one is stored when its first content arrives).
    stored: Option<Stored>,
    cursor_at_heads: bool,
    /// A `doc_sync` row exists for this device.
    state_row: bool,
}

struct Stored {
    heads: String,
    change_rows: i64,
}

/// The document half of one sync round trip for one device.
pub(crate) struct DocRound<'a> {
    device: &'a AuthedDevice,
    writer: Uuid,
    roster: &'a [RosterEntry],
    /// The person the request's signature proves is signed in, if they are an active member of
    /// the device's facility: decides which documents the device receives.
    reader: Option<&'a RosterEntry>,
    /// Signs the server's own changes (a withdrawn decision).
    signing_key: &'a SigningKey,
    /// What each kind of document demands.
    policy: &'a dyn DocPolicy,
    /// Documents the device sent an accepted message for in this round trip.
    hand: HashMap<Uuid, InHand>,
    pub(crate) refusals: Vec<DocRefusal>,
    pub(crate) received: usize,
}

impl<'a> DocRound<'a> {
    pub(crate) fn new(
        device: &'a AuthedDevice,
        writer: Uuid,
        reader: Option<&'a RosterEntry>,
        roster: &'a [RosterEntry],
        signing_key: &'a SigningKey,
        policy: &'a dyn DocPolicy,
    ) -> Self {
        DocRound { device, writer, roster, reader, signing_key, policy, hand: HashMap::new(), refusals: Vec::new(), received: 0 }
    }

    /// Applies the device's messages in order. A refused message leaves its document and sync
    /// state as they were and adds a refusal; only a database failure fails the whole request.
    pub(crate) fn receive(&mut self, tx: &mut Transaction<'_>, cache: &mut DocCache, messages: &[DocMessage]) -> Result<(), DbError> {
        for message in messages {
            let sp = tx.savepoint()?;
            match self.receive_one(&sp, cache, message)? {
                Ok(()) => {
                    sp.commit()?;
                    self.received += 1;
                }
                Err(reason) => {
                    // Dropping the savepoint rolls back whatever this message wrote.
                    drop(sp);
                    tracing::info!(device = %self.device.id, doc = %message.doc, %reason, "document message refused");
                    self.refusals.push(DocRefusal { doc: message.doc, reason });
                }
            }
        }
        Ok(())
    }

    /// `Ok(Err(reason))` refuses the message; the caller rolls back its savepoint.
    fn receive_one(&mut self, conn: &Connection, cache: &mut DocCache, message: &DocMessage) -> Result<Result<(), String>, DbError> {
        let Some(reader) = self.reader else { return Ok(Err(SIGN_IN_TO_SYNC_DOCS.to_string())) };
        let id = message.doc;
        let row = doc_row(conn, id)?;
        match &row {
            // Another facility's document is, for this device, no document at all.
            Some(row) if row.facility != self.device.facility.as_str() => {
                return Ok(Err(format!("there is no work document {id} at {}", self.device.facility)));
            }
            Some(row) if row.kind != message.kind => {
                return Ok(Err(format!("document {id} is {}, not {}", with_article(row.kind), with_article(message.kind))));
            }
            Some(row) if !row.kind.visible_to(reader.role) => {
                return Ok(Err(format!("{} is {} and may not see {}s", reader.name, reader.role, row.kind)));
            }
            // Someone else's route is, for this driver, no document at all.
            Some(row) if row.kind.per_person(reader.role) && audience(conn, id)? != Some(reader.id.to_string()) => {
                return Ok(Err(format!("there is no work document {id} at {}", self.device.facility)));
            }
            None if !message.kind.may_create(reader.role) => {
                return Ok(Err(format!(
                    "{} is {} and may not start {}; ask a manager",
                    reader.name,
                    reader.role,
                    with_article(message.kind)
                )));
            }
            _ => {}
        }
        let kind = message.kind;

        // Out of the hand (or the cache): if this message is refused the copy may be half
        // changed, so it is dropped and the stored one is what remains.
        let mut entry = match self.hand.remove(&id) {
            Some(entry) => entry,
            None => match self.fetch(conn, cache, id, kind, row.as_ref())? {
                Ok(entry) => entry,
                Err(e) => return Ok(Err(e)),
            },
        };

        let before = entry.doc.heads_text();
        let before_heads = entry.doc.heads();
        if let Err(e) = entry.doc.receive_message(&mut entry.state, &message.message) {
            return Ok(Err(e.to_string()));
        }
        // Every change that arrived must be signed by the person it names, on this device, with
        // their active key, in a role that may work on this kind of document (and start it, if
        // it is new). One that is not refuses the whole message: nothing of it is kept.
        let created = entry.stored.is_none();
        let proven = match self.check_signatures(conn, &mut entry.doc, &before_heads, message, created)? {
            Ok(proven) => proven,
            Err(reason) => return Ok(Err(reason)),
        };
        if let Err(e) = entry.doc.check_identity() {
            return Ok(Err(e.to_string()));
        }
        // Who wrote what: no record in someone else's name or place, no field a role may not write.
        match custody_core::work::audit::audit_changes(&mut entry.doc, &before_heads, self.roster) {
            Ok(None) => {}
            Ok(Some(reason)) => return Ok(Err(reason)),
            Err(e) => return Ok(Err(format!("this {} cannot be read: {e}", kind))),
        }
        let mut heads = entry.doc.heads_text();
        if heads != before {
            // What this kind of document demands beyond who wrote what (`docs::policy`).
            match self.policy.judge(conn, &self.device.facility, &mut entry.doc, &before_heads, self.roster)? {
                Judgement::Keep => {}
                Judgement::Refuse(reason) => return Ok(Err(reason)),
                Judgement::Withdrawn(reason) => {
                    heads = entry.doc.heads_text();
                    tracing::info!(device = %self.device.id, doc = %id, %reason, "withdrawn by the server");
                    self.refusals.push(DocRefusal { doc: id, reason });
                }
            }
        }
        if heads != before {
            self.persist(conn, id, &mut entry, heads)?;
            store_signatures(conn, id, &proven)?;
            sign_own_changes(conn, &mut entry.doc, &before_heads, self.signing_key)?;
            self.policy.after_persist(conn, &self.device.facility, &entry.doc)?;
        }
        if entry.stored.is_some() {
            save_state(conn, self.device, id, &entry.state)?;
            entry.state_row = true;
        }
        self.hand.insert(id, entry);
        Ok(Ok(()))
    }

    /// Checks the signature of every change `message` brought into `doc` since `before`.
    /// `Ok(Ok(signatures))` to keep with the changes; `Ok(Err(reason))` refuses the message.
    fn check_signatures(
        &self,
        conn: &Connection,
        doc: &mut WorkDoc,
        before: &[automerge::ChangeHash],
        message: &DocMessage,
        created: bool,
    ) -> Result<Result<Vec<ChangeSignature>, String>, DbError> {
        let signatures: HashMap<&str, &Signature> = message.signatures.iter().map(|s| (s.hash.as_str(), &s.signature)).collect();
        let mut proven = Vec::new();
        let new = doc.changes_since(before);
        if new.is_empty() {
            return Ok(Ok(proven));
        }
        // Whoever wrote a new document's first change started it, and must be allowed to.
        let creator = if created { doc.creator() } else { None };
        if created && creator.is_none() {
            return Ok(Err(format!("this {} has no single start; it was not made by a Custody device", doc.kind)));
        }
        let mut keys = crate::people::KeyRing::default();
        for (hash, writer) in new {
            let creating = creator.is_some() && writer == creator;
            let Some(Writer::Person { device, user }) = writer else {
                return Ok(Err(format!("a change to this {} was not made by a person on a Custody device", doc.kind)));
            };
            if device != self.device.id {
                return Ok(Err(format!("a change to this {} names device {device}; a device may only send its own changes", doc.kind)));
            }
            let Some(person) = self.roster.iter().find(|p| p.id == user) else {
                return Ok(Err(format!("a change to this {} names someone not on the roster of {}", doc.kind, self.device.facility)));
            };
            if !person.active {
                return Ok(Err(format!("{} was deactivated and may no longer change work at {}", person.name, self.device.facility)));
            }
            if !doc.kind.visible_to(person.role) || (creating && !doc.kind.may_create(person.role)) {
                let what =
                    if creating { format!("start {}", with_article(doc.kind)) } else { format!("change {}", with_article(doc.kind)) };
                return Ok(Err(format!("{} is {} and may not {what}; ask a manager", person.name, person.role)));
            }
            let Some(signature) = signatures.get(hash.as_str()) else {
                return Ok(Err(format!(
                    "a change {} made to this {} carries no signature; sign in again on the phone",
                    person.name, doc.kind
                )));
            };
            let bytes = change_message(doc.id, &hash);
            let problem = match keys.check(conn, user, device, &bytes, signature)? {
                crate::people::KeyCheck::Verified => None,
                crate::people::KeyCheck::Revoked(why) => {
                    Some(format!("{}'s key on this device was revoked ({why}); sign in again while online", person.name))
                }
                crate::people::KeyCheck::Unregistered => {
                    Some(format!("{} has no signing key on this device; sign in on it while online", person.name))
                }
                crate::people::KeyCheck::Mismatch => {
                    Some(format!("a change to this {} is not signed by {}'s key on this device", doc.kind, person.name))
                }
            };
            if let Some(reason) = problem {
                return Ok(Err(reason));
            }
            proven.push(ChangeSignature { hash, signature: **signature });
        }
        Ok(Ok(proven))
    }

    /// The document (stored, cached or new and empty) with this device's stored sync state.
    fn fetch(
        &self,
        conn: &Connection,
        cache: &mut DocCache,
        id: Uuid,
        kind: DocKind,
        row: Option<&DocRow>,
    ) -> Result<Result<InHand, String>, DbError> {
        let facility = &self.device.facility;
        let Some(row) = row else {
            let doc = WorkDoc::empty(id, kind, facility.clone(), Writer::Server(self.writer));
            return Ok(Ok(InHand { kind, doc, state: sync::State::new(), stored: None, cursor_at_heads: true, state_row: false }));
        };
        let (doc, cursor_at_heads) = match cache.take(id, &row.heads) {
            Some(hit) => hit,
            None => match load_stored(conn, self.writer, id, kind, facility)? {
                Ok(doc) => (doc, false),
                Err(e) => {
                    tracing::error!(doc = %id, error = %e, "a stored work document does not load");
                    return Ok(Err(format!("document {id} could not be read on the server; tell support")));
                }
            },
        };
        let stored_state: Option<Vec<u8>> = conn
            .prepare_cached("SELECT state FROM doc_sync WHERE device = ?1 AND doc_id = ?2")?
            .query_row(params![self.device.id.to_string(), id.to_string()], |r| r.get(0))
            .optional()?;
        let state = decode_state(stored_state.as_deref()).unwrap_or_else(|e| {
            // Only shared heads are lost: the next exchange finds them again.
            tracing::warn!(doc = %id, device = %self.device.id, error = %e, "stored sync state unreadable; starting afresh");
            sync::State::new()
        });
        Ok(Ok(InHand {
            kind,
            doc,
            state,
            stored: Some(Stored { heads: row.heads.clone(), change_rows: row.change_rows }),
            cursor_at_heads,
            state_row: stored_state.is_some(),
        }))
    }

    /// Writes a changed document: the first time and every [`COMPACT_AFTER_CHANGE_ROWS`] as a
    /// snapshot, otherwise as one more incremental change row.
    fn persist(&self, conn: &Connection, id: Uuid, entry: &mut InHand, heads: String) -> Result<(), DbError> {
        let key = id.to_string();
        let now = now_text();
        match &entry.stored {
            None => {
                let snapshot = entry.doc.save();
                conn.prepare_cached(
                    "INSERT INTO docs (id, facility, kind, snapshot, heads, change_rows, created_by_device,
                                       created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?7, ?7)",
                )?
                .execute(params![
                    key,
                    self.device.facility.as_str(),
                    entry.kind.as_str(),
                    snapshot,
                    heads,
                    self.device.id.to_string(),
                    now
                ])?;
                entry.stored = Some(Stored { heads, change_rows: 0 });
            }
            Some(stored) if !entry.cursor_at_heads || stored.change_rows >= COMPACT_AFTER_CHANGE_ROWS => {
                let snapshot = entry.doc.save();
                conn.prepare_cached("UPDATE docs SET snapshot = ?2, heads = ?3, change_rows = 0, updated_at = ?4 WHERE id = ?1")?
                    .execute(params![key, snapshot, heads, now])?;
                conn.prepare_cached("DELETE FROM doc_changes WHERE doc_id = ?1")?.execute(params![key])?;
                entry.stored = Some(Stored { heads, change_rows: 0 });
            }
            Some(stored) => {
                let change_rows = stored.change_rows + 1;
                let bytes = entry.doc.save_incremental();
                conn.prepare_cached("INSERT INTO doc_changes (doc_id, seq, bytes) VALUES (?1, ?2, ?3)")?.execute(params![
                    key,
                    change_rows,
                    bytes
                ])?;
                conn.prepare_cached("UPDATE docs SET heads = ?2, change_rows = ?3, updated_at = ?4 WHERE id = ?1")?.execute(params![
                    key,
                    heads,
                    change_rows,
                    now
                ])?;
                entry.stored = Some(Stored { heads, change_rows });
            }
        }
        entry.cursor_at_heads = true;
        Ok(())
    }

    /// One message per document the device should hear about: those it sent a message for in
    /// this round trip, and those whose heads moved past what it last shared with the server.
    /// Documents with nothing to say are not loaded.
    pub(crate) fn send(&mut self, conn: &Connection, cache: &mut DocCache) -> Result<Vec<DocMessage>, DbError> {
        let Some(reader) = self.reader else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        let rows = conn
            .prepare_cached(
                "SELECT d.id, d.kind, d.heads, d.change_rows, s.state
                 FROM docs d LEFT JOIN doc_sync s ON s.doc_id = d.id AND s.device = ?2
                 WHERE d.facility = ?1 ORDER BY d.id",
            )?
            .query_map(params![self.device.facility.as_str(), self.device.id.to_string()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<Vec<u8>>>(4)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        for (id, kind, heads, change_rows, state) in rows {
            let id: Uuid = parse_col("document id", &id)?;
            let kind = DocKind::parse(&kind).ok_or(DbError::Corrupt { what: "document kind", value: kind })?;
            if !kind.visible_to(reader.role) {
                continue;
            }
            if kind.per_person(reader.role) && audience(conn, id)? != Some(reader.id.to_string()) {
                continue;
            }
            // In hand means the device sent a message for it: it gets an answer.
            let mut entry = if let Some(entry) = self.hand.remove(&id) {
                entry
            } else {
                // Caught up (an unreadable state is treated as knowing nothing).
                if decode_state(state.as_deref()).is_ok_and(|shared| shared_heads_text(&shared) == heads) {
                    continue;
                }
                let row = DocRow { facility: self.device.facility.as_str().to_string(), kind, heads, change_rows };
                match self.fetch(conn, cache, id, kind, Some(&row))? {
                    Ok(mut entry) => {
                        prime(&mut entry.state);
                        entry
                    }
                    // Logged in `fetch`; the other documents still go out.
                    Err(_) => continue,
                }
            };
            if let Some((bytes, carried)) = entry.doc.generate_message_with_changes(&mut entry.state) {
                out.push(DocMessage {
                    doc: id,
                    kind,
                    message: bytes,
                    signatures: stored_signatures(conn, id, &carried, self.signing_key)?,
                });
            }
            if !entry.state_row {
                save_state(conn, self.device, id, &entry.state)?;
                entry.state_row = true;
            }
            self.hand.insert(id, entry);
        }
        // New documents the device offered that have no content yet: answer so it sends them.
        let mut fresh: Vec<Uuid> = self.hand.iter().filter(|(_, e)| e.stored.is_none()).map(|(id, _)| *id).collect();
        fresh.sort();
        for id in fresh {
            let entry = self.hand.get_mut(&id).expect("listed above");
            if let Some((bytes, carried)) = entry.doc.generate_message_with_changes(&mut entry.state) {
                out.push(DocMessage {
                    doc: id,
                    kind: entry.kind,
                    message: bytes,
                    signatures: stored_signatures(conn, id, &carried, self.signing_key)?,
                });
            }
        }
        Ok(out)
    }

    /// After the transaction committed: the documents worked on go back to the cache.
    pub(crate) fn finish(self, cache: &mut DocCache) -> Vec<DocRefusal> {
        for (id, entry) in self.hand {
            if let Some(stored) = entry.stored {
                cache.put(id, entry.doc, stored.heads, entry.cursor_at_heads);
            }
        }
        self.refusals
    }
}

/// Prepares the stored sync state of a document the device did not mention this round, so the
/// first message already carries what the device lacks instead of only announcing heads.
///
/// Automerge's own first message says only "these are my heads" and waits for the peer's bloom
/// filter, which costs a round trip per update. The stored state tells us what the device had
/// when it last synced (the shared heads), so the server answers as if the device had just said
/// "I have exactly that": everything after it goes out now. If the device holds more, the
/// duplicates are ignored; if it holds less, it asks for the missing changes in its reply. A
/// device that never shared anything gets the whole document, compressed.
fn prime(state: &mut sync::State) {
    if state.shared_heads.is_empty() {
        state.their_heads = Some(Vec::new());
        state.their_have = Some(vec![Have::default()]);
    } else {
        state.their_have = Some(vec![Have { last_sync: state.shared_heads.clone(), bloom: Default::default() }]);
    }
    state.their_need = Some(Vec::new());
    // Every device runs this same Automerge, which reads the compact (v2) message format.
    state.their_capabilities = Some(vec![Capability::MessageV2]);
}

/// Keeps the signatures of changes a device's message brought (phones that receive the changes
/// later check them too).
fn store_signatures(conn: &Connection, id: Uuid, signatures: &[ChangeSignature]) -> Result<(), DbError> {
    let mut stmt = conn.prepare_cached("INSERT OR IGNORE INTO doc_change_sigs (doc_id, change_hash, signature) VALUES (?1, ?2, ?3)")?;
    for s in signatures {
        stmt.execute(params![id.to_string(), s.hash, s.signature.to_string()])?;
    }
    Ok(())
}

/// Signs the server's own changes made since `before` (a withdrawn decision, an office order).
fn sign_own_changes(conn: &Connection, doc: &mut WorkDoc, before: &[automerge::ChangeHash], key: &SigningKey) -> Result<(), DbError> {
    let own: Vec<ChangeSignature> = doc
        .changes_since(before)
        .into_iter()
        .filter(|(_, writer)| matches!(writer, Some(Writer::Server(_))))
        .map(|(hash, _)| {
            let signature = key.sign(&change_message(doc.id, &hash));
            ChangeSignature { hash, signature }
        })
        .collect();
    store_signatures(conn, doc.id, &own)
}

/// The signatures of the changes `hashes` of a stored document. A change stored before changes
/// were signed gets the server's attestation (its key), kept from then on: phones check every
/// change they pull.
fn stored_signatures(conn: &Connection, id: Uuid, hashes: &[String], key: &SigningKey) -> Result<Vec<ChangeSignature>, DbError> {
    let mut stmt = conn.prepare_cached("SELECT signature FROM doc_change_sigs WHERE doc_id = ?1 AND change_hash = ?2")?;
    let mut out = Vec::with_capacity(hashes.len());
    let mut attested = Vec::new();
    for hash in hashes {
        let signature: Option<String> = stmt.query_row(params![id.to_string(), hash], |r| r.get(0)).optional()?;
        match signature {
            Some(s) => out.push(ChangeSignature { hash: hash.clone(), signature: parse_col("change signature", &s)? }),
            None => {
                tracing::info!(doc = %id, change = %hash, "attesting a document change stored before signatures");
                attested.push(ChangeSignature { hash: hash.clone(), signature: key.sign(&change_message(id, hash)) });
            }
        }
    }
    store_signatures(conn, id, &attested)?;
    out.extend(attested);
    Ok(out)
}

/// Stores a document the server itself created (an order entered in the office); devices
/// receive it on their next sync.
pub(crate) fn insert_new(conn: &Connection, device: &AuthedDevice, doc: &mut WorkDoc, key: &SigningKey) -> Result<(), DbError> {
    let now = now_text();
    let heads = doc.heads_text();
    conn.execute(
        "INSERT INTO docs (id, facility, kind, snapshot, heads, change_rows, created_by_device, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?7, ?7)",
        params![doc.id.to_string(), device.facility.as_str(), doc.kind.as_str(), doc.save(), heads, device.id.to_string(), now],
    )?;
    // What follows from storing it (an order's claims) is the caller's: it knows the kind.
    sign_own_changes(conn, doc, &[], key)
}

/// Stores changes the server itself made to a stored document (loaded with
/// [`load_for_check`], changed after `before`): a new snapshot, and the new changes signed with
/// the server's key. Devices receive them at their next sync.
pub(crate) fn store_server_change(conn: &Connection, db: &Db, doc: &mut WorkDoc, before: &[automerge::ChangeHash]) -> Result<(), DbError> {
    let id = doc.id.to_string();
    let heads = doc.heads_text();
    conn.execute(
        "UPDATE docs SET snapshot = ?2, heads = ?3, change_rows = 0, updated_at = ?4 WHERE id = ?1",
        params![id, doc.save(), heads, now_text()],
    )?;
    conn.execute("DELETE FROM doc_changes WHERE doc_id = ?1", params![id])?;
    sign_own_changes(conn, doc, before, &db.signing_key)
}

/// A stored document of `facility` read inside the sync transaction, for the ledger's checks.
pub(crate) fn load_for_check(conn: &Connection, db: &Db, facility: &LicenseNumber, id: Uuid) -> Result<Option<WorkDoc>, DbError> {
    let Some(row) = doc_row(conn, id)? else { return Ok(None) };
    if row.facility != facility.as_str() {
        return Ok(None);
    }
    Ok(load_stored(conn, db.writer(), id, row.kind, facility)?.ok())
}

impl Db {
    /// A work document of `facility`, as stored; `None` if there is none with that id there.
    pub fn doc(&self, facility: &LicenseNumber, id: Uuid) -> Result<Option<WorkDoc>, DbError> {
        let conn = self.lock();
        let Some(row) = doc_row(&conn, id)? else { return Ok(None) };
        if row.facility != facility.as_str() {
            return Ok(None);
        }
        if let Some(doc) = self.doc_cache().peek(id, &row.heads) {
            return Ok(Some(doc));
        }
        load_stored(&conn, self.writer(), id, row.kind, facility)?
            .map(Some)
            .map_err(|e| DbError::Corrupt { what: "work document", value: format!("{id}: {e}") })
    }

    /// The ids and kinds of a facility's work documents, oldest first.
    pub fn docs(&self, facility: &LicenseNumber) -> Result<Vec<(Uuid, DocKind)>, DbError> {
        let conn = self.lock();
        let mut stmt = conn.prepare("SELECT id, kind FROM docs WHERE facility = ?1 ORDER BY created_at, id")?;
        let rows = stmt.query_map(params![facility.as_str()], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        rows.map(|row| {
            let (id, kind) = row?;
            let kind = DocKind::parse(&kind).ok_or(DbError::Corrupt { what: "document kind", value: kind })?;
            Ok((parse_col("document id", &id)?, kind))
        })
        .collect()
    }
}
