//! One Automerge document with its identity, and the sync-protocol steps both the device and the
//! server run on it.

use automerge::sync::{self, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ChangeHash, ROOT, ReadDoc};

use uuid::Uuid;

use super::DocKind;
use crate::ids::{DeviceId, LicenseNumber, UserId};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocError {
    #[error("the {what} could not be read ({detail}); it may be truncated or corrupted")]
    Corrupt { what: &'static str, detail: String },
    #[error("document {doc} is a {found}, not a {expected}")]
    WrongKind { doc: Uuid, expected: DocKind, found: String },
    #[error("document {doc} belongs to licence {found}, not {expected}")]
    WrongFacility { doc: Uuid, expected: LicenseNumber, found: String },
    #[error("document {doc} is missing its {field}")]
    Missing { doc: Uuid, field: &'static str },
}

impl DocError {
    pub(crate) fn corrupt(what: &'static str, e: impl std::fmt::Display) -> Self {
        DocError::Corrupt { what, detail: e.to_string() }
    }
}

/// A work document: its id, kind and facility (also written inside the document so every replica
/// can check them) and the Automerge state.
#[derive(Debug, Clone)]
pub struct WorkDoc {
    pub id: Uuid,
    pub kind: DocKind,
    pub facility: LicenseNumber,
    pub(crate) am: AutoCommit,
    /// Heads at the last save. Automerge forgets what it saved when a document is loaded, so the
    /// first incremental save after a load would otherwise repeat the whole history.
    saved: Vec<ChangeHash>,
}

/// Who writes a document's changes. A person's changes carry the device's id and theirs as the
/// Automerge actor (32 bytes), so every operation says who made it and where, and the change's
/// signature proves it; the server writes under its own id (16 bytes) and signs with its key.
/// Two writers never share an actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Writer {
    Person { device: DeviceId, user: UserId },
    Server(Uuid),
}

impl Writer {
    pub fn actor(&self) -> ActorId {
        match self {
            Writer::Person { device, user } => {
                let mut bytes = device.0.as_bytes().to_vec();
                bytes.extend_from_slice(user.0.as_bytes());
                ActorId::from(bytes)
            }
            Writer::Server(id) => ActorId::from(id.as_bytes().as_slice()),
        }
    }

    /// Who an actor id stands for; `None` for an actor no Custody writer uses.
    pub fn of(actor: &ActorId) -> Option<Writer> {
        let bytes = actor.to_bytes();
        match bytes.len() {
            32 => Some(Writer::Person {
                device: DeviceId(Uuid::from_slice(&bytes[..16]).ok()?),
                user: UserId(Uuid::from_slice(&bytes[16..]).ok()?),
            }),
            16 => Some(Writer::Server(Uuid::from_slice(bytes).ok()?)),
            _ => None,
        }
    }
}

impl WorkDoc {
    /// A new document with its identity written in.
    pub fn create(id: Uuid, kind: DocKind, facility: LicenseNumber, writer: Writer) -> Self {
        let mut am = AutoCommit::new().with_actor(writer.actor());
        // Writing three scalars into a fresh document cannot fail.
        am.put(ROOT, "doc_id", id.to_string()).expect("fresh document");
        am.put(ROOT, "kind", kind.as_str()).expect("fresh document");
        am.put(ROOT, "facility", facility.as_str()).expect("fresh document");
        Self { id, kind, facility, am, saved: Vec::new() }
    }

    /// An empty replica of a document known only by its header, about to be filled by sync.
    pub fn empty(id: Uuid, kind: DocKind, facility: LicenseNumber, writer: Writer) -> Self {
        Self { id, kind, facility, am: AutoCommit::new().with_actor(writer.actor()), saved: Vec::new() }
    }

    /// Who this replica's next changes belong to (the person signed in when a unit of work
    /// starts; a cached document may have been written by someone else before).
    pub fn set_writer(&mut self, writer: Writer) {
        self.am.set_actor(writer.actor());
    }

    /// Loads a saved document (a snapshot followed by incremental changes).
    pub fn load(
        id: Uuid,
        kind: DocKind,
        facility: LicenseNumber,
        writer: Writer,
        snapshot: &[u8],
        changes: &[Vec<u8>],
    ) -> Result<Self, DocError> {
        let mut am = if snapshot.is_empty() {
            AutoCommit::new()
        } else {
            AutoCommit::load(snapshot).map_err(|e| DocError::corrupt("saved document", e))?
        };
        // Saved increments are change chunks, which concatenate; one load applies them all at
        // once (one call per chunk costs seconds on a large session).
        if !changes.is_empty() {
            let all: Vec<u8> = changes.concat();
            am.load_incremental(&all).map_err(|e| DocError::corrupt("saved document change", e))?;
        }
        am.set_actor(writer.actor());
        let saved = am.get_heads();
        Ok(Self { id, kind, facility, am, saved })
    }

    /// Checks that the identity written inside the document matches what it is filed under
    /// (a document arriving from elsewhere could claim anything).
    pub fn check_identity(&self) -> Result<(), DocError> {
        let read = |key: &'static str| -> Result<Option<String>, DocError> {
            match self.am.get(ROOT, key).map_err(|e| DocError::corrupt("document header", e))? {
                Some((automerge::Value::Scalar(s), _)) => Ok(s.as_str().map(str::to_string)),
                _ => Ok(None),
            }
        };
        // A replica still waiting for its first changes has no header yet: nothing to contradict.
        let Some(kind) = read("kind")? else { return Ok(()) };
        if kind != self.kind.as_str() {
            return Err(DocError::WrongKind { doc: self.id, expected: self.kind, found: kind });
        }
        match read("facility")? {
            Some(f) if f == self.facility.as_str() => {}
            Some(found) => return Err(DocError::WrongFacility { doc: self.id, expected: self.facility.clone(), found }),
            None => return Err(DocError::Missing { doc: self.id, field: "facility" }),
        }
        match read("doc_id")? {
            Some(d) if d == self.id.to_string() => Ok(()),
            _ => Err(DocError::Missing { doc: self.id, field: "id" }),
        }
    }

    /// Whether any content has arrived (a replica created from a sync header has none).
    pub fn is_empty(&mut self) -> bool {
        self.am.get_heads().is_empty()
    }

    /// The full document, compacted.
    pub fn save(&mut self) -> Vec<u8> {
        let bytes = self.am.save();
        self.saved = self.am.get_heads();
        bytes
    }

    /// The changes since the document was loaded or last saved (empty if none).
    pub fn save_incremental(&mut self) -> Vec<u8> {
        let bytes = self.am.save_after(&self.saved);
        self.saved = self.am.get_heads();
        bytes
    }

    /// The current heads (the document's version).
    pub fn heads(&mut self) -> Vec<ChangeHash> {
        self.am.get_heads()
    }

    /// The heads, as sorted hex, for cheap "has anything changed" comparisons in storage.
    pub fn heads_text(&mut self) -> String {
        let mut heads: Vec<String> = self.am.get_heads().iter().map(|h| h.to_string()).collect();
        heads.sort();
        heads.join(",")
    }

    /// The next sync message for the peer whose state is `state`, if there is anything to say.
    pub fn generate_message(&mut self, state: &mut sync::State) -> Option<Vec<u8>> {
        self.am.sync().generate_sync_message(state).map(|m| m.encode())
    }

    /// Like [`generate_message`](Self::generate_message), with the hashes (hex) of the changes
    /// whose signatures must travel with it: when it carries changes, every change the peer may
    /// still lack (all after the heads both share), not only those in this message.
    ///
    /// The peer checks signatures as changes apply, and a change can arrive before one it
    /// depends on: Automerge's Bloom filter has false positives (about 1 in 100), so a change
    /// the peer seems to hold is held back while its successor is sent; the peer queues the
    /// successor until the missing change comes in a later message, and only then applies both.
    /// The later message must prove both, or the successor is refused as unsigned.
    pub fn generate_message_with_changes(&mut self, state: &mut sync::State) -> Option<(Vec<u8>, Vec<String>)> {
        let before = state.sent_hashes.len();
        let shared = state.shared_heads.clone();
        let message = self.generate_message(state)?;
        if state.sent_hashes.len() == before {
            return Some((message, Vec::new()));
        }
        let unshared = self.am.get_changes_meta(&shared).into_iter().map(|m| m.hash);
        let carried: std::collections::BTreeSet<String> =
            unshared.chain(state.sent_hashes.iter().copied()).map(|h| h.to_string()).collect();
        Some((message, carried.into_iter().collect()))
    }

    /// Applies a sync message from the peer. A message that does not decode changes nothing.
    pub fn receive_message(&mut self, state: &mut sync::State, bytes: &[u8]) -> Result<(), DocError> {
        let message = sync::Message::decode(bytes).map_err(|e| DocError::corrupt("sync message", e))?;
        self.am.sync().receive_sync_message(state, message).map_err(|e| DocError::corrupt("sync message", e))
    }

    /// The changes after `heads` (every change for empty heads), as (hash in hex, writer).
    pub fn changes_since(&mut self, heads: &[ChangeHash]) -> Vec<(String, Option<Writer>)> {
        self.am.get_changes_meta(heads).into_iter().map(|m| (m.hash.to_string(), Writer::of(&m.actor))).collect()
    }

    /// Who made the document's first change (the one that depends on nothing): its creator.
    /// `None` for an empty replica, or for a document with more than one start (never made by a
    /// Custody writer).
    pub fn creator(&mut self) -> Option<Writer> {
        let mut roots = self.am.get_changes_meta(&[]).into_iter().filter(|m| m.deps.is_empty());
        let first = roots.next()?;
        if roots.next().is_some() {
            return None;
        }
        Writer::of(&first.actor)
    }

    /// Number of changes in the document's history.
    pub fn change_count(&mut self) -> usize {
        self.am.get_changes(&[]).len()
    }
}

/// Encodes a sync state for storage (Automerge keeps only what survives a reconnect).
pub fn encode_state(state: &sync::State) -> Vec<u8> {
    state.encode()
}

pub fn decode_state(bytes: Option<&[u8]>) -> Result<sync::State, DocError> {
    match bytes {
        None => Ok(sync::State::new()),
        Some(b) => sync::State::decode(b).map_err(|e| DocError::corrupt("sync state", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::sync::{Capability, Have};

    fn doc() -> WorkDoc {
        let writer = Writer::Person { device: DeviceId::new(), user: UserId::new() };
        WorkDoc::create(Uuid::now_v7(), DocKind::CountSession, LicenseNumber::parse("C11-0000001-LIC").unwrap(), writer)
    }

    fn change(doc: &mut WorkDoc, key: &str) -> ChangeHash {
        doc.am.put(ROOT, key, 1i64).unwrap();
        doc.am.commit();
        doc.heads()[0]
    }

    /// The peer holds the first change; Y (after X) went in an earlier message and waits in the
    /// peer's queue for X, which a Bloom filter's false positive held back. The message that now
    /// carries X must also prove Y: the peer applies, and checks, both at once.
    #[test]
    fn a_message_carrying_changes_proves_every_change_the_peer_may_still_lack() {
        let mut d = doc();
        let base = d.heads();
        let x = change(&mut d, "x");
        let y = change(&mut d, "y");
        let mut state = sync::State::new();
        state.shared_heads = base.clone();
        state.their_heads = Some(base.clone());
        state.their_need = Some(Vec::new());
        state.their_have = Some(vec![Have { last_sync: base, bloom: Default::default() }]);
        state.their_capabilities = Some(vec![Capability::MessageV2]);
        state.sent_hashes.insert(y);
        let (message, carried) = d.generate_message_with_changes(&mut state).expect("X is still to send");
        let sent = sync::Message::decode(&message).unwrap();
        assert_eq!(sent.changes.len(), 1, "only X travels again");
        assert!(carried.contains(&x.to_string()), "X is proven");
        assert!(carried.contains(&y.to_string()), "Y, waiting at the peer, is proven again");

        // A message that carries no change carries no signature.
        let mut idle = sync::State::new();
        let (_, carried) = d.generate_message_with_changes(&mut idle).expect("a first message announces the heads");
        assert!(carried.is_empty());
    }
}
