//! The custody ledger's events: immutable facts about a package, each signed into its device's
//! hash chain.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::hlc::Hlc;
use crate::ids::{BatchNumber, DeviceId, ItemName, LicenseNumber, LocationName, PackageTag, UserId};
use crate::quantity::{Quantity, QuantityError};

/// The hash a device's first event links to.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Why an event cannot be recorded or accepted. Shown to the person who tried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("{what}: {source}")]
    Quantity { what: &'static str, source: QuantityError },
    #[error("a {0} needs a reason or note; say why")]
    MissingReason(EventKind),
    #[error("an adjustment of zero changes nothing; enter the difference counted")]
    ZeroAdjustment,
    #[error("a package cannot be split into itself ({0})")]
    SplitIntoItself(PackageTag),
    #[error("the split-off quantity is in {split}, but the package is counted in {package}")]
    SplitUnit { split: String, package: String },
    #[error("event {id} has been altered: its content does not match its hash")]
    HashMismatch { id: Uuid },
    #[error("event id {0} is not a time-ordered (v7) id")]
    NotV7(Uuid),
    #[error(transparent)]
    Text(#[from] crate::text::TextError),
    #[error(transparent)]
    Id(#[from] crate::ids::IdError),
    #[error("this event is stamped {stamp}, a time no clock can show; check the phone's date and time settings")]
    Stamp { stamp: String },
    #[error(
        "a package enters stock only through receiving against its manifest, a split, or a manager's opening balance; \
         this receipt is none of them: receive the package in a receiving session"
    )]
    ReceiptWithoutProof,
    #[error("only a manager may record an opening balance ({0} is not a manager)")]
    OpeningBalanceNotManager(crate::roles::Role),
    #[error("{resolution} does not resolve a {kind} conflict; {hint}", resolution = resolution.describe(), hint = Resolution::hint(*kind))]
    ResolutionDoesNotFit { kind: ConflictKind, resolution: Resolution },
}

/// The kinds of invariant break the fold reports. Here, below the fold, because a resolution
/// event names the conflict it resolves by kind (docs/decisions/0022).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum ConflictKind {
    /// The quantity went below zero.
    NegativeStock,
    /// A package that had already left was shipped again.
    ShippedTwice,
    /// A quarantined package was picked or shipped.
    QuarantinedPicked,
    /// Two devices moved the package to different places without seeing each other's move.
    ConcurrentMove,
    /// The same tag was received while it was already in inventory.
    DuplicateReceipt,
    /// An event names a package this ledger never received.
    UnknownPackage,
    /// The event does not fit the package's state (e.g. delivering a package never shipped).
    InvalidTransition,
    /// The event's quantity is in units that cannot apply to this package (each vs weight).
    UnitMismatch,
}

impl ConflictKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ConflictKind::NegativeStock => "negative_stock",
            ConflictKind::ShippedTwice => "shipped_twice",
            ConflictKind::QuarantinedPicked => "quarantined_picked",
            ConflictKind::ConcurrentMove => "concurrent_move",
            ConflictKind::DuplicateReceipt => "duplicate_receipt",
            ConflictKind::UnknownPackage => "unknown_package",
            ConflictKind::InvalidTransition => "invalid_transition",
            ConflictKind::UnitMismatch => "unit_mismatch",
        }
    }
}

impl fmt::Display for ConflictKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str().replace('_', " "))
    }
}

/// A conflict's stable identity on every replica: the event that raised it and its kind (with
/// the package, which the resolving event names as its own tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ConflictId {
    pub event: Uuid,
    pub kind: ConflictKind,
}

/// What a manager decided about a conflict. Each kind has its decision; the fold applies exactly
/// this and nothing else (docs/decisions/0022).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum Resolution {
    /// Concurrent move: someone looked, and the package is here. The fold puts it here.
    LocatedAt { location: LocationName },
    /// Duplicate receipt: the second receipt is void; the package stays as first received (a
    /// wrong quantity is corrected with an adjustment).
    ReceiptVoid,
    /// Any other kind: investigated and acknowledged. Nothing in the package changes; a count
    /// correction goes through an adjustment of its own.
    Acknowledged,
}

impl Resolution {
    /// Whether this decision answers a conflict of `kind`.
    pub fn fits(&self, kind: ConflictKind) -> bool {
        match self {
            Resolution::LocatedAt { .. } => kind == ConflictKind::ConcurrentMove,
            Resolution::ReceiptVoid => kind == ConflictKind::DuplicateReceipt,
            Resolution::Acknowledged => !matches!(kind, ConflictKind::ConcurrentMove | ConflictKind::DuplicateReceipt),
        }
    }

    /// What the decision says, for sentences.
    pub fn describe(&self) -> String {
        match self {
            Resolution::LocatedAt { location } => format!("\"the package is at {location}\""),
            Resolution::ReceiptVoid => "\"the second receipt is void\"".into(),
            Resolution::Acknowledged => "\"acknowledged after investigation\"".into(),
        }
    }

    /// The decision a conflict of `kind` takes, for the sentence that refuses another.
    pub fn hint(kind: ConflictKind) -> &'static str {
        match kind {
            ConflictKind::ConcurrentMove => "say where the package is",
            ConflictKind::DuplicateReceipt => "void the second receipt (correct the quantity with an adjustment if needed)",
            _ => "acknowledge it after investigation (correct the quantity with an adjustment if needed)",
        }
    }
}

/// The kinds of change the ledger records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum EventKind {
    Received,
    Moved,
    Adjusted,
    Quarantined,
    Released,
    Picked,
    Shipped,
    Delivered,
    Returned,
    Destroyed,
    Split,
    ConflictResolved,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Received => "received",
            EventKind::Moved => "moved",
            EventKind::Adjusted => "adjusted",
            EventKind::Quarantined => "quarantined",
            EventKind::Released => "released",
            EventKind::Picked => "picked",
            EventKind::Shipped => "shipped",
            EventKind::Delivered => "delivered",
            EventKind::Returned => "returned",
            EventKind::Destroyed => "destroyed",
            EventKind::Split => "split",
            EventKind::ConflictResolved => "conflict_resolved",
        }
    }
}

impl EventKind {
    /// "an adjustment", "a move": for messages people read.
    pub fn with_article(self) -> String {
        let noun = self.to_string();
        let article = if noun.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
        format!("{article} {noun}")
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EventKind::Received => "receipt",
            EventKind::Moved => "move",
            EventKind::Adjusted => "adjustment",
            EventKind::Quarantined => "quarantine",
            EventKind::Released => "release",
            EventKind::Picked => "pick",
            EventKind::Shipped => "shipment",
            EventKind::Delivered => "delivery",
            EventKind::Returned => "return",
            EventKind::Destroyed => "destruction",
            EventKind::Split => "split",
            EventKind::ConflictResolved => "conflict resolution",
        })
    }
}

/// What happened, with the facts that kind of change needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventBody {
    /// The package entered this facility's inventory.
    Received {
        item: ItemName,
        batch: BatchNumber,
        quantity: Quantity,
        location: LocationName,
        expires_on: Option<NaiveDate>,
        /// The inbound manifest it arrived on, if any.
        manifest: Option<String>,
        /// How it came into custody: the proof the server checks. A receipt with none (written
        /// before receiving sessions existed, or by a tampered phone) is refused by the server.
        /// Absent from the JSON when `None`, so events written before keep their hashes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        via: Option<ReceivedVia>,
    },
    Moved {
        to: LocationName,
    },
    /// A correction of the quantity, with the state's reason code and a note.
    Adjusted {
        delta: Quantity,
        reason: String,
        note: String,
        /// The approved adjustment request this carries out, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request: Option<Uuid>,
    },
    Quarantined {
        reason: String,
    },
    Released {
        note: String,
        /// The approved adjustment request that ends the quarantine, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request: Option<Uuid>,
    },
    Picked {
        order: String,
    },
    Shipped {
        manifest: String,
    },
    Delivered {
        recipient: LicenseNumber,
    },
    Returned {
        location: LocationName,
        reason: String,
    },
    Destroyed {
        reason: String,
    },
    /// Part of the package moved into a new package with its own tag. The new package's facts are
    /// carried here so each package's history can be folded on its own.
    Split {
        new_tag: PackageTag,
        quantity: Quantity,
        item: ItemName,
        batch: BatchNumber,
        location: LocationName,
        expires_on: Option<NaiveDate>,
    },
    /// A manager's decision on a conflict of this package (the event's tag). The events that
    /// raised it stay; the fold marks the conflict resolved and applies the decision
    /// (docs/decisions/0022).
    ConflictResolved {
        conflict: ConflictId,
        resolution: Resolution,
        note: String,
    },
}

/// How a package entered this facility's custody, carried by its `Received` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "via", rename_all = "snake_case")]
pub enum ReceivedVia {
    /// Accepted in a completed receiving session: the server finds the session's document and
    /// checks that it lists this package as accepted.
    Receiving { session: Uuid },
    /// A manager's opening balance: stock on hand when the facility started with Custody. Only
    /// a manager may record it (checked by the phone and again by the server).
    OpeningBalance,
}

impl EventBody {
    /// Whether a person in `role` may bring a package into stock this way: a receipt must say
    /// how it came (a receiving session or an opening balance), and only a manager records an
    /// opening balance. The phone asks before recording, the server before accepting; the server
    /// also checks the session's document (`work::receiving::check_receipt`). Other kinds pass.
    pub fn receipt_problem(&self, role: crate::roles::Role) -> Option<EventError> {
        match self {
            EventBody::Received { via: None, .. } => Some(EventError::ReceiptWithoutProof),
            EventBody::Received { via: Some(ReceivedVia::OpeningBalance), .. } if role != crate::roles::Role::Manager => {
                Some(EventError::OpeningBalanceNotManager(role))
            }
            _ => None,
        }
    }

    pub fn kind(&self) -> EventKind {
        match self {
            EventBody::Received { .. } => EventKind::Received,
            EventBody::Moved { .. } => EventKind::Moved,
            EventBody::Adjusted { .. } => EventKind::Adjusted,
            EventBody::Quarantined { .. } => EventKind::Quarantined,
            EventBody::Released { .. } => EventKind::Released,
            EventBody::Picked { .. } => EventKind::Picked,
            EventBody::Shipped { .. } => EventKind::Shipped,
            EventBody::Delivered { .. } => EventKind::Delivered,
            EventBody::Returned { .. } => EventKind::Returned,
            EventBody::Destroyed { .. } => EventKind::Destroyed,
            EventBody::Split { .. } => EventKind::Split,
            EventBody::ConflictResolved { .. } => EventKind::ConflictResolved,
        }
    }

    /// Checks the facts of the change itself (the package's state is the fold's business):
    /// quantities within the ledger's bounds ([`Quantity::check_ledger`]), reasons present, and
    /// every text within the rules of [`crate::text`] (docs/decisions/0013). The phone runs it
    /// before recording, the server on every pushed event (a failure refuses the whole sync,
    /// decision 0003).
    pub fn validate(&self) -> Result<(), EventError> {
        use crate::text::{self, ledger, reference};
        let positive = |what, q: &Quantity| q.check_ledger_positive().map_err(|source| EventError::Quantity { what, source });
        let reason = |what: &'static str, t: &str| {
            if t.trim().is_empty() {
                return Err(EventError::MissingReason(self.kind()));
            }
            text::check(ledger(what), t).map_err(EventError::from)
        };
        match self {
            EventBody::Received { item, batch, quantity, location, manifest, .. } => {
                positive("received quantity", quantity)?;
                item.check()?;
                batch.check()?;
                location.check()?;
                match manifest {
                    Some(m) => text::required(reference("manifest number"), m).map_err(EventError::from),
                    None => Ok(()),
                }
            }
            EventBody::Adjusted { delta, reason: code, note, .. } => {
                delta.check_ledger().map_err(|source| EventError::Quantity { what: "adjustment", source })?;
                if delta.is_zero() {
                    return Err(EventError::ZeroAdjustment);
                }
                reason("reason", code)?;
                reason("note", note)
            }
            EventBody::Quarantined { reason: r } | EventBody::Destroyed { reason: r } => reason("reason", r),
            EventBody::Returned { location, reason: r } => {
                location.check()?;
                reason("reason", r)
            }
            EventBody::Split { quantity, item, batch, location, .. } => {
                positive("split-off quantity", quantity)?;
                item.check()?;
                batch.check()?;
                Ok(location.check()?)
            }
            EventBody::Moved { to } => Ok(to.check()?),
            EventBody::Released { note, .. } => Ok(text::check(ledger("note"), note)?),
            EventBody::Picked { order } => Ok(text::required(reference("order number"), order)?),
            EventBody::Shipped { manifest } => Ok(text::required(reference("manifest number"), manifest)?),
            EventBody::Delivered { recipient } => Ok(recipient.check()?),
            EventBody::ConflictResolved { conflict, resolution, note } => {
                if !resolution.fits(conflict.kind) {
                    return Err(EventError::ResolutionDoesNotFit { kind: conflict.kind, resolution: resolution.clone() });
                }
                if let Resolution::LocatedAt { location } = resolution {
                    location.check()?;
                }
                reason("note", note)
            }
        }
    }

    /// Package tags this event changes: its own, and for a split the new package too.
    pub fn other_tag(&self) -> Option<&PackageTag> {
        match self {
            EventBody::Split { new_tag, .. } => Some(new_tag),
            _ => None,
        }
    }
}

/// The reason kept with an event that was accepted before the domain bounds existed and breaks
/// them (docs/decisions/0013): every store that finds one, the server's and the phones', marks it
/// rejected with this sentence, so they keep converging.
pub fn out_of_bounds_reason(error: &EventError) -> String {
    format!(
        "taken out of the inventory: it breaks the limits every event must meet ({error}); it was accepted before those limits existed and is kept with this reason"
    )
}

/// One immutable ledger event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// UUIDv7: unique and roughly time-ordered.
    pub id: Uuid,
    pub facility: LicenseNumber,
    pub tag: PackageTag,
    pub user: UserId,
    pub device: DeviceId,
    /// Position in the device's hash chain, from 1.
    pub device_seq: u64,
    pub hlc: Hlc,
    /// The latest event of this package the device knew when it recorded this one. Two events
    /// with the same parent were made without seeing each other (concurrently).
    pub parent: Option<Uuid>,
    pub body: EventBody,
    /// Hash of the same device's previous event ([`GENESIS_HASH`] for its first).
    pub prev_hash: String,
    /// SHA-256 over everything above, hex.
    pub hash: String,
    /// The recording person's signature over the hash, with their key on `device`
    /// ([`crate::signing::event_message`]). The server accepts an event only if it verifies with a
    /// key registered to `user` on `device`; an unsigned one is kept as rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<crate::signing::Signature>,
}

/// The fields that are hashed, in a fixed order. serde_json writes struct fields in declaration
/// order and the ids, decimals and dates as fixed strings, so the encoding is canonical.
#[derive(Serialize)]
struct Hashed<'a> {
    id: &'a Uuid,
    facility: &'a LicenseNumber,
    tag: &'a PackageTag,
    user: &'a UserId,
    device: &'a DeviceId,
    device_seq: u64,
    hlc: &'a Hlc,
    parent: &'a Option<Uuid>,
    body: &'a EventBody,
    prev_hash: &'a str,
}

/// Everything of an event but its hash: what a device fills in before sealing it into its chain.
#[derive(Debug, Clone)]
pub struct UnsealedEvent {
    pub id: Uuid,
    pub facility: LicenseNumber,
    pub tag: PackageTag,
    pub user: UserId,
    pub device: DeviceId,
    pub device_seq: u64,
    pub hlc: Hlc,
    pub parent: Option<Uuid>,
    pub body: EventBody,
    pub prev_hash: String,
}

impl UnsealedEvent {
    pub fn seal(self) -> Event {
        let mut event = Event {
            id: self.id,
            facility: self.facility,
            tag: self.tag,
            user: self.user,
            device: self.device,
            device_seq: self.device_seq,
            hlc: self.hlc,
            parent: self.parent,
            body: self.body,
            prev_hash: self.prev_hash,
            hash: String::new(),
            signature: None,
        };
        event.hash = event.compute_hash();
        event
    }

    /// Seals the event into its chain and signs it with the recording person's key.
    pub fn seal_signed(self, key: &crate::signing::SigningKey) -> Event {
        let mut event = self.seal();
        event.sign(key);
        event
    }
}

impl Event {
    pub fn kind(&self) -> EventKind {
        self.body.kind()
    }

    pub fn compute_hash(&self) -> String {
        let hashed = Hashed {
            id: &self.id,
            facility: &self.facility,
            tag: &self.tag,
            user: &self.user,
            device: &self.device,
            device_seq: self.device_seq,
            hlc: &self.hlc,
            parent: &self.parent,
            body: &self.body,
            prev_hash: &self.prev_hash,
        };
        // Serialising plain data into a Vec cannot fail.
        let bytes = serde_json::to_vec(&hashed).expect("event serialises");
        hex::encode(Sha256::digest(&bytes))
    }

    /// Signs the event's hash with `key` (the person's key on this device).
    pub fn sign(&mut self, key: &crate::signing::SigningKey) {
        self.signature = Some(key.sign(&crate::signing::event_message(&self.hash)));
    }

    /// Whether the event's signature verifies with `key`. The hash must be checked too
    /// ([`Event::validate`]): the signature covers the hash, the hash covers the content.
    pub fn verify_signature(&self, key: &crate::signing::PublicKey) -> Result<(), crate::signing::SigningError> {
        let signature = self.signature.as_ref().ok_or(crate::signing::SigningError::BadSignature)?;
        key.verify(&crate::signing::event_message(&self.hash), signature)
    }

    /// The checks every replica and the server apply before taking a new event in.
    pub fn validate(&self) -> Result<(), EventError> {
        if self.id.get_version_num() != 7 {
            return Err(EventError::NotV7(self.id));
        }
        self.check_content()?;
        self.check_integrity()
    }

    /// That the event is what its device sealed: a v7 id and a hash over its content.
    pub fn check_integrity(&self) -> Result<(), EventError> {
        if self.id.get_version_num() != 7 {
            return Err(EventError::NotV7(self.id));
        }
        if self.compute_hash() != self.hash {
            return Err(EventError::HashMismatch { id: self.id });
        }
        Ok(())
    }

    /// What the event says, against the domain's rules: its body (see [`EventBody::validate`])
    /// and the bounds of [`Event::check_bounds`].
    pub fn check_content(&self) -> Result<(), EventError> {
        self.body.validate()?;
        if let EventBody::Split { new_tag, .. } = &self.body
            && new_tag == &self.tag
        {
            return Err(EventError::SplitIntoItself(new_tag.clone()));
        }
        self.check_bounds()
    }

    /// The bounds without which a read can fail: every quantity within the magnitude bound, and a
    /// time stamp that can exist. Stores re-check events accepted before the bounds existed with
    /// this and nothing more (their migrations, and a phone pulling from an older server): an
    /// accepted event with a long note or a conversion to many decimal places is a real fact
    /// that breaks nothing, and rejecting it afterwards would lose it.
    pub fn check_bounds(&self) -> Result<(), EventError> {
        let quantity = |what, q: &Quantity| q.check_ledger().map_err(|source| EventError::Quantity { what, source });
        match &self.body {
            EventBody::Received { quantity: q, .. } => quantity("received quantity", q)?,
            EventBody::Adjusted { delta, .. } => quantity("adjustment", delta)?,
            EventBody::Split { quantity: q, .. } => quantity("split-off quantity", q)?,
            _ => {}
        }
        if !(0..=crate::bounds::MAX_STAMP_MS).contains(&self.hlc.wall_ms) {
            let stamp = match chrono::DateTime::from_timestamp_millis(self.hlc.wall_ms) {
                Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                None => format!("{} ms from 1970", self.hlc.wall_ms),
            };
            return Err(EventError::Stamp { stamp });
        }
        Ok(())
    }

    /// Tags whose history includes this event.
    pub fn tags(&self) -> impl Iterator<Item = &PackageTag> {
        std::iter::once(&self.tag).chain(self.body.other_tag())
    }

    /// The canonical order every replica folds in: stamp, then device, then id. Total, and the
    /// same everywhere.
    pub fn order_key(&self) -> (Hlc, DeviceId, Uuid) {
        (self.hlc, self.device, self.id)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::quantity::Unit;
    use rust_decimal::Decimal;

    pub(crate) fn sample(body: EventBody) -> Event {
        UnsealedEvent {
            id: Uuid::now_v7(),
            facility: LicenseNumber::parse("C11-0000001-LIC").unwrap(),
            tag: PackageTag::parse("1A4FF0100000022000001234").unwrap(),
            user: UserId::new(),
            device: DeviceId::new(),
            device_seq: 1,
            hlc: Hlc { wall_ms: 1, counter: 0 },
            parent: None,
            body,
            prev_hash: GENESIS_HASH.into(),
        }
        .seal()
    }

    #[test]
    fn tampering_breaks_the_hash() {
        let mut e = sample(EventBody::Moved { to: LocationName::parse("Vault A").unwrap() });
        assert!(e.validate().is_ok());
        e.body = EventBody::Moved { to: LocationName::parse("Vault B").unwrap() };
        assert!(matches!(e.validate(), Err(EventError::HashMismatch { .. })));
    }

    #[test]
    fn hash_survives_the_wire() {
        let e = sample(EventBody::Adjusted {
            request: None,
            delta: Quantity::change(Decimal::new(-150, 2), Unit::G).unwrap(),
            reason: "Drying".into(),
            note: "moisture loss".into(),
        });
        let back: Event = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e);
        assert!(back.validate().is_ok());
    }

    #[test]
    fn bad_bodies_are_refused() {
        let neg = EventBody::Received {
            item: ItemName::parse("Flower").unwrap(),
            batch: BatchNumber::parse("B1").unwrap(),
            quantity: Quantity { amount: Decimal::new(-5, 0), unit: Unit::G },
            location: LocationName::parse("Intake").unwrap(),
            expires_on: None,
            manifest: None,
            via: None,
        };
        let err = neg.validate().unwrap_err();
        assert!(err.to_string().contains("cannot be negative"), "{err}");
        let zero = EventBody::Adjusted { request: None, delta: Quantity::zero(Unit::G), reason: "x".into(), note: "y".into() };
        assert_eq!(zero.validate(), Err(EventError::ZeroAdjustment));
        let no_note = EventBody::Quarantined { reason: "  ".into() };
        assert!(matches!(no_note.validate(), Err(EventError::MissingReason(EventKind::Quarantined))));
    }

    #[test]
    fn texts_and_stamps_beyond_the_rules_are_refused() {
        let long = EventBody::Destroyed { reason: "x".repeat(2501) };
        assert_eq!(long.validate().unwrap_err().to_string(), "the reason is longer than 2500 characters (2501); shorten it");
        assert!(EventBody::Destroyed { reason: "x".repeat(2500) }.validate().is_ok());
        let spoofed = EventBody::Moved { to: LocationName::from_stored("Vault \u{202E}A").unwrap() };
        assert!(spoofed.validate().unwrap_err().to_string().contains("hidden text-direction character (U+202E)"));
        let multi_line = EventBody::Released { note: "first line\nsecond line".into(), request: None };
        assert!(multi_line.validate().is_ok(), "notes keep their line breaks");
        let order = EventBody::Picked { order: "SO-1\nSO-2".into() };
        assert!(order.validate().unwrap_err().to_string().contains("the order number must be on one line"));

        let mut e = sample(EventBody::Moved { to: LocationName::parse("Vault A").unwrap() });
        e.hlc = Hlc { wall_ms: i64::MAX, counter: 0 };
        e.hash = e.compute_hash();
        let err = e.validate().unwrap_err();
        assert!(err.to_string().contains("a time no clock can show; check the phone's date and time settings"), "{err}");
        assert!(matches!(e.check_content(), Err(EventError::Stamp { .. })));
    }
}
