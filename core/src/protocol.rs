//! The sync server's wire format (JSON, versioned under `/v1`). Shared by the sync client in this
//! crate and by the server, so the two cannot drift apart.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::event::Event;
use crate::ids::{DeviceId, LicenseNumber, UserId};
// The people a device may know, as the roster carries them (defined once, in the domain).
pub use crate::people::{RegisteredKey, RosterEntry};
use crate::signing::{PublicKey, Signature};

/// The most events a device pushes in one sync call, and the most the server returns. 10,000
/// pending events go up in two round trips; a request stays a few megabytes.
pub const MAX_EVENTS_PER_SYNC: usize = 5_000;

/// The most bytes of events a device puts in one sync request: however long the notes on its
/// pending events, a request stays well inside the server's body limit for a sync.
pub const MAX_EVENT_BYTES_PER_SYNC: usize = 4 * 1024 * 1024;

/// `POST /v1/enrol` — a new device presents the one-time code a manager issued.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnrolRequest {
    pub code: String,
    /// A label people recognise ("Vault handheld 3").
    pub device_name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnrolResponse {
    pub device_id: DeviceId,
    pub facility: LicenseNumber,
    pub facility_name: String,
    /// The device's bearer token. Shown once; the server keeps only its hash.
    pub token: String,
    pub roster: Vec<RosterEntry>,
    /// The key the server signs its own work-document changes with (an office order, a refused
    /// decision it withdraws), so phones can check those too.
    pub server_key: PublicKey,
    /// The server's clock, so the phone corrects its own from the start.
    pub server_time: DateTime<Utc>,
    /// The facility's time zone (IANA name): the state's local times are read in it.
    #[serde(default)]
    pub time_zone: Option<String>,
}

/// `POST /v1/sign-in` — a person's first sign-in on a device (or the first after their key there
/// was erased or revoked): the server checks badge and PIN and registers the device's new key.
#[derive(Clone, Serialize, Deserialize)]
pub struct SignInRequest {
    pub badge: String,
    pub pin: String,
    pub public_key: PublicKey,
    /// The new key's signature over [`crate::signing::registration_message`]: the device holds it.
    pub proof: Signature,
}

/// The PIN never reaches a log line or a panic message.
impl std::fmt::Debug for SignInRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInRequest").field("badge", &self.badge).field("pin", &"..").field("public_key", &self.public_key).finish()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignInResponse {
    pub user: UserId,
    /// The facility's roster, with the key just registered.
    pub roster: Vec<RosterEntry>,
    pub server_key: PublicKey,
    pub server_time: DateTime<Utc>,
}

/// The header that proves which person, signed in on the device, makes a request:
/// `user=<id>;at=<ms>;sig=<hex>`, the signature over [`crate::signing::request_message`].
pub const PERSON_HEADER: &str = "custody-person";

/// The parsed [`PERSON_HEADER`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonProof {
    pub user: UserId,
    /// When the device signed it, by its corrected clock (milliseconds since the epoch).
    pub at_ms: i64,
    pub signature: Signature,
}

impl PersonProof {
    pub fn header_value(&self) -> String {
        format!("user={};at={};sig={}", self.user, self.at_ms, self.signature)
    }

    pub fn parse(value: &str) -> Result<Self, String> {
        let mut user = None;
        let mut at = None;
        let mut sig = None;
        for part in value.split(';') {
            match part.trim().split_once('=') {
                Some(("user", v)) => user = Some(UserId::parse(v).map_err(|e| e.to_string())?),
                Some(("at", v)) => at = Some(v.parse::<i64>().map_err(|_| "the signing time is not a number".to_string())?),
                Some(("sig", v)) => sig = Some(Signature::parse(v).map_err(|e| e.to_string())?),
                _ => return Err(format!("{PERSON_HEADER} must be user=<id>;at=<ms>;sig=<hex>")),
            }
        }
        match (user, at, sig) {
            (Some(user), Some(at_ms), Some(signature)) => Ok(PersonProof { user, at_ms, signature }),
            _ => Err(format!("{PERSON_HEADER} must be user=<id>;at=<ms>;sig=<hex>")),
        }
    }
}

/// `POST /v1/sync` — one round trip: push new events, pull what this device lacks, and exchange
/// one Automerge sync message per work document that has something to say.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SyncRequest {
    /// The last server sequence number this device has pulled (0 at first).
    pub cursor: u64,
    /// The device's unacknowledged events, in chain order, at most [`MAX_EVENTS_PER_SYNC`].
    pub events: Vec<Event>,
    /// Automerge sync messages for the work documents the device holds.
    #[serde(default)]
    pub docs: Vec<DocMessage>,
    /// Patient data of medical orders entered on this device (a manager's), for the server to
    /// keep sealed.
    #[serde(default)]
    pub patients: Vec<PatientRecord>,
    /// Who opened patient data on this device, and when (the server keeps the access log).
    #[serde(default)]
    pub patient_views: Vec<PatientView>,
    /// Orders whose patient data the device already holds (the server sends only the rest).
    #[serde(default)]
    pub holds_patients: Vec<Uuid>,
    /// The revision of the state system's data ([`StateData`]) this device holds (0 for none):
    /// the server sends it again only when it changed.
    #[serde(default)]
    pub state_revision: u64,
    /// The revision of the facility's settings ([`crate::settings::FacilitySettings`]) this
    /// device holds (0 for none): the server sends them again only when they changed.
    #[serde(default)]
    pub settings_revision: u64,
}

/// A medical order's patient, in transit between a device allowed to hold it and the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientRecord {
    pub order: Uuid,
    pub patient: crate::outbound::order::Patient,
}

/// One Automerge sync message for one work document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocMessage {
    pub doc: Uuid,
    pub kind: crate::work::DocKind,
    /// An encoded `automerge::sync::Message`, base64 in JSON.
    #[serde(with = "base64_bytes")]
    pub message: Vec<u8>,
    /// The signature of every change the message carries, by the person (or the server) who made
    /// it. A change without one is refused.
    #[serde(default)]
    pub signatures: Vec<ChangeSignature>,
}

/// One Automerge change's signature (over [`crate::signing::change_message`]). Who signed it is
/// the change's own actor: a person on a device, or the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeSignature {
    /// The change hash, hex.
    pub hash: String,
    pub signature: Signature,
}

/// A work-document message the server would not take, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocRefusal {
    pub doc: Uuid,
    pub reason: String,
}

mod base64_bytes {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD.decode(text.as_bytes()).map_err(|e| serde::de::Error::custom(format!("document message is not base64: {e}")))
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SyncResponse {
    /// One verdict per pushed event, in the order sent.
    pub verdicts: Vec<Verdict>,
    /// Accepted events of the facility after the cursor, from other devices, in server order.
    pub events: Vec<Event>,
    /// The cursor to send next time.
    pub cursor: u64,
    /// More events wait after `cursor`: sync again.
    pub has_more: bool,
    /// The server's clock, so the device can correct its own.
    pub server_time: DateTime<Utc>,
    /// The facility's time zone (IANA name), as the server has it now.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// How far ahead of `server_time` the server accepts an event's stamp, in milliseconds; a
    /// phone whose clock ran further ahead stops stamping from there (decision 0002).
    #[serde(default)]
    pub clock_allowance_ms: Option<i64>,
    pub roster: Vec<RosterEntry>,
    /// The key the server signs its own document changes with.
    pub server_key: Option<PublicKey>,
    /// Why the request's [`PERSON_HEADER`] was not accepted, if it was sent and refused: the sync
    /// went on as the device's alone (no work documents, no patient data).
    #[serde(default)]
    pub person_refused: Option<String>,
    /// Automerge sync messages back, for documents the device holds or should now receive.
    #[serde(default)]
    pub docs: Vec<DocMessage>,
    /// Document messages the server refused (nothing of them was stored).
    #[serde(default)]
    pub doc_refusals: Vec<DocRefusal>,
    /// The facility's customers (dispensaries it may ship to).
    #[serde(default)]
    pub customers: Vec<crate::outbound::order::Customer>,
    /// Unused package tags the facility holds from the state, for splits.
    #[serde(default)]
    pub unused_tags: Vec<crate::ids::PackageTag>,
    /// Patient data this device's signed-in person may hold and the device lacks: all open
    /// medical orders for a manager, the orders on their own routes for a driver, none for anyone
    /// else.
    #[serde(default)]
    pub patients: Vec<PatientRecord>,
    /// Orders whose uploaded patient data the server now keeps. Others are sent again (the
    /// order's document may reach the server only in a later round of the same sync).
    #[serde(default)]
    pub patients_stored: Vec<Uuid>,
    /// What the state system says, when it changed since the device's `state_revision` (and the
    /// facility is connected to a state system). `None`: keep what you hold.
    #[serde(default)]
    pub state: Option<StateData>,
    /// How the facility's submissions to the state stand: sent to managers and compliance
    /// officers only (the failed queue names packages and the state's messages).
    #[serde(default)]
    pub state_status: Option<StateStatus>,
    /// The facility's settings (scales, potency tolerance, categories, locations, reasons), when
    /// they changed since the device's `settings_revision`. `None`: keep what you hold.
    #[serde(default)]
    pub settings: Option<crate::settings::FacilitySettings>,
}

/// The state system's data for the phones of one facility, as the server last pulled it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateData {
    /// Changes whenever anything below changes (the server's counter, never reused).
    pub revision: u64,
    /// Incoming transfers not yet received: the inbound manifest inbox. A manifest leaves the
    /// inbox when its receiving session is completed or the state shows it accepted.
    pub manifests: Vec<InboxManifest>,
    pub reference: ReferenceData,
}

/// One incoming transfer as the state has it, ready to be received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboxManifest {
    pub manifest: crate::receiving::manifest::InboundManifest,
    /// The state's lab results for the batches on the manifest (one per batch, the latest).
    pub coas: Vec<crate::work::receiving::Coa>,
    /// When the server last read it from the state.
    pub pulled_at: DateTime<Utc>,
}

/// The state's lists the phones choose from (they replace the built-in defaults).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferenceData {
    pub items: Vec<StateItem>,
    pub locations: Vec<StateLocation>,
    pub adjustment_reasons: Vec<crate::work::adjustment::AdjustmentReason>,
}

/// An item as the state lists it: its product category and unit of measure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateItem {
    pub name: crate::ids::ItemName,
    pub category: String,
    pub unit: crate::quantity::Unit,
}

/// A location as the state lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct StateLocation {
    pub name: crate::ids::LocationName,
    /// Whether packages may be placed there (the state's `ForPackages`).
    pub for_packages: bool,
}

/// The facility's submissions to the state, as a manager's phone shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct StateStatus {
    /// Connected to a state system (and not stopped).
    pub connected: bool,
    /// Why submissions are stopped (an expired or revoked key), in words.
    pub stopped: Option<String>,
    /// The user key expires soon (within 30 days): when, in words.
    pub key_warning: Option<String>,
    /// Writes waiting to be sent or being sent.
    pub queued: u64,
    /// When the oldest of them was queued.
    pub oldest_queued_at: Option<DateTime<Utc>>,
    /// Adjustments waiting for a manager's approval before they may be sent.
    pub unapproved: u64,
    /// Writes the state refused, waiting for a manager to resubmit or dismiss them.
    pub failed: Vec<FailedWrite>,
    /// When the server last read from the state successfully.
    pub last_pull_at: Option<DateTime<Utc>>,
}

/// A write the state refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct FailedWrite {
    /// Its number in the outbox (for resubmit and dismiss).
    pub seq: i64,
    /// What it was, as the outbox names it: "location" (a move), "adjust", "create" (a split),
    /// "finish", "outgoing" (a manifest).
    pub kind: String,
    pub packages: Vec<crate::ids::PackageTag>,
    /// The state's message.
    pub message: String,
    pub queued_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub id: Uuid,
    #[serde(flatten)]
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Stored; also the answer when the same event is sent again.
    Accepted,
    /// Kept by the server with the reason, never applied to the shared inventory.
    Rejected { reason: String },
    /// Not judged yet: it needs something still on its way in this sync (the adjustment request
    /// it carries out). Nothing was stored; the device keeps it pending and sends it again. Every
    /// later event of the same device in the request is deferred too, to keep the chain in order.
    Deferred { reason: String },
}

/// `POST /v1/enrolment-codes` — a manager signed in on an enrolled device (proven by the
/// [`PERSON_HEADER`]) issues a code for a new device. The body is `{}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct EnrolmentCode {
    pub code: String,
    pub expires_at: DateTime<Utc>,
}

/// `POST /v1/users/{id}/pin` — a manager (proven by the [`PERSON_HEADER`]) sets a new PIN for a
/// person who forgot theirs. Their keys on every device are revoked: they sign in online again.
#[derive(Clone, Serialize, Deserialize)]
pub struct ResetPinRequest {
    pub pin: String,
}

impl std::fmt::Debug for ResetPinRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResetPinRequest { pin: .. }")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreatedOrder {
    pub id: Uuid,
}

/// `GET /v1/health`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
    pub version: String,
}

/// Every error the server returns, with an HTTP status beside it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable machine code, e.g. `unauthorized`, `invalid_event`, `payload_too_large`.
    pub code: String,
    /// A sentence a person can act on.
    pub message: String,
}

/// `GET /v1/inventory` — the facility's inventory and conflicts as the server folds them from
/// every accepted event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryReport {
    pub packages: Vec<PackageSummary>,
    pub conflicts: Vec<crate::fold::Conflict>,
}

/// A package in the server's inventory report: its facts, as the fold holds them (the same
/// JSON as when the report had its own copy of those fields).
pub type PackageSummary = crate::fold::PackageFacts;

impl InventoryReport {
    pub fn from_inventory(inventory: &crate::fold::Inventory) -> Self {
        Self { packages: inventory.packages.values().map(|p| p.facts.clone()).collect(), conflicts: inventory.conflicts.clone() }
    }
}

/// One opening of patient data, kept until the server has it. Signed by the person who opened
/// it, so the server's access log names only people who proved it was them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientView {
    pub order: Uuid,
    pub user: UserId,
    pub user_name: String,
    pub purpose: String,
    pub at: DateTime<Utc>,
    /// Over [`PatientView::signed_bytes`], with the viewer's key on the device that sends it.
    #[serde(default)]
    pub signature: Option<crate::signing::Signature>,
}

impl PatientView {
    /// What the viewer signs: the order, who, on which device, why and when.
    pub fn signed_bytes(&self, device: DeviceId) -> Vec<u8> {
        format!(
            "custody/patient-view/v1\n{}\n{}\n{device}\n{}\n{}",
            self.order,
            self.user,
            self.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            self.purpose
        )
        .into_bytes()
    }

    /// Checks a purpose a person typed: short, one line, no control or direction characters
    /// (they would let a line of the access log pretend to be another).
    pub fn check_purpose(purpose: &str) -> Result<(), crate::text::TextError> {
        crate::text::check(crate::text::view_purpose(), purpose)
    }
}
