//! Work documents on the server, in three layers (docs/decisions/0017-server-layers.md):
//!
//! - [`cache`]: loaded documents kept between round trips (held by the store).
//! - [`engine`]: storage, Automerge sync per device and document, signature checks; knows no
//!   kind's rules.
//! - [`policy`]: what each kind demands (receiving, adjustment, order and manifest audits, what
//!   follows from storing an order or manifest), handed to the engine as a [`engine::DocPolicy`].

pub mod cache;
pub mod engine;
pub mod policy;

pub use engine::{COMPACT_AFTER_CHANGE_ROWS, SIGN_IN_TO_SYNC_DOCS};
