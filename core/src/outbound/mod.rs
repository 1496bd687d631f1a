//! Outbound: dispensary orders, expiry-first pick lists, scan-verified picking and packing,
//! outbound manifests, the driver's offline route, return check-in, and the patient data of
//! medical deliveries.
//!
//! The rules are here, once; the Automerge layout of the two documents they use is in
//! `work::order` (one per order: its lines, pick list, picks and packing) and `work::manifest`
//! (one per manifest: vehicle, driver, stops, and the driver's confirmations).
//!
//! - [`order`]: customers, orders, availability, redaction of patient data.
//! - [`plan`]: the check before an order exists (pure; the phone and the server run it).
//! - [`picklist`]: first-expired-first-out allocation (pure; the server runs it too).
//! - [`patient`]: sealing patient data at rest.
//! - [`picking`]: the device workflow from order to packed containers.
//! - [`shipping`]: manifests, departure, the driver's route, returns, printing.

pub mod order;
pub mod patient;
pub mod patients;
pub mod picking;
pub mod picklist;
pub mod plan;
pub mod print;
pub mod shipping;

#[cfg(test)]
mod tests;

pub use order::{Customer, NewOrder, NewOrderLine, Order, OrderError, OrderLine, Patient};
pub use picklist::{Candidate, PickLine};
