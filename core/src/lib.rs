//! custody-core: everything a Custody device knows and decides, with no FFI and no platform code.
//!
//! - [`ids`], [`quantity`]: the domain's values, each refusing bad input with a reason.
//! - [`bounds`], [`text`]: the domain bounds of every number and the rules for free text, once.
//! - [`state_json`]: the state system's JSON as it really comes (nulls, local times), read in words.
//! - [`input`]: what the apps type into form fields (dates, numbers, ids, lists), read once.
//! - [`people`]: the roster entry, the signed-in person and the actor of a document, once.
//! - [`event`], [`hlc`], [`roles`]: the custody ledger's immutable events and who may record them;
//!   [`event_view`]: an event as the apps see and type it.
//! - [`fold`]: the inventory and conflict list, a deterministic fold over the event set.
//! - [`chain`]: the per-device hash-chain verifier an auditor runs.
//! - [`store`]: the device's SQLite store, encrypted (events, outbox, folded packages, sync
//!   cursor, work documents, sealed signing keys).
//! - [`signing`]: what each signature covers (events, document changes, requests, patient views).
//! - [`protocol`], [`sync`], [`tls`]: the sync server's wire format, the client that speaks it,
//!   and which certificates it trusts.
//! - [`files`]: owner-only files and folders.
//! - `ffi` (feature `uniffi`, for custody-ffi only): how core's values cross to Kotlin and Swift.

// uniffi's derives and scaffolding (feature `uniffi`) generate unsafe code; core's own code has
// none, and the build without the feature (the default, and CI's clippy run) denies it.
#![cfg_attr(feature = "uniffi", allow(unsafe_code))]

#[cfg(feature = "uniffi")]
uniffi::setup_scaffolding!();

pub mod approvals;
pub mod bounds;
pub mod chain;
pub mod conflicts;
pub mod counts;
pub mod event;
pub mod event_view;
#[cfg(feature = "uniffi")]
pub mod ffi;
pub mod files;
pub mod fold;
pub mod hlc;
pub mod ids;
pub mod input;
pub mod outbound;
pub mod people;
pub mod protocol;
pub mod quantity;
pub mod receiving;
pub mod roles;
pub mod scan;
pub mod settings;
pub mod signing;
pub mod state_json;
pub mod store;
pub mod sync;
pub mod testing;
pub mod text;
pub mod tls;
pub mod work;

pub use event::{Event, EventBody, EventKind};
pub use fold::{Conflict, ConflictKind, Inventory, Package, PackageStatus};
pub use hlc::Hlc;
pub use ids::{BatchNumber, DeviceId, ItemName, LicenseNumber, LocationName, PackageTag, UserId};
pub use quantity::{Quantity, Unit};
pub use roles::Role;
pub use store::Store;
