//! custody-ffi: the uniffi layer over custody-core for the Android and iOS apps.
//!
//! It converts types and nothing else; every rule lives in custody-core.
//! - [`client`]: `CustodyClient`, one device store with its sync client and listeners.
//! - [`types`]: the records and enums that cross, and their conversions.
//! - [`error`]: `CustodyError`, the one error the apps see.
//! - [`listener`]: the listeners the apps implement.
//!
//! How to generate the Kotlin and Swift bindings and run the JVM tests: bindings/README.md.

// The one crate allowed unsafe code (the workspace denies it): uniffi's generated scaffolding
// and the JNI entry point in `android`. Nothing hand-written here needs it otherwise.
#![allow(unsafe_code)]

uniffi::setup_scaffolding!();

// Core's remote custom types (UUIDs, dates, instants; `custody_core::ffi`) for this crate's own
// records too, defined there once: here they only borrow core's conversions.
use custody_core::ffi::{IsoDate, Timestamp};
use uuid::Uuid;
uniffi::use_remote_type!(custody_core::Uuid);
uniffi::use_remote_type!(custody_core::IsoDate);
uniffi::use_remote_type!(custody_core::Timestamp);

#[cfg(target_os = "android")]
mod android;
pub mod client;
pub mod error;
pub mod listener;
pub mod outbound;
pub mod state;
pub mod types;

pub use client::{CustodyClient, count_unit};
pub use error::CustodyError;
pub use listener::{ChangeKind, ChangeListener, SyncListener};
pub use outbound::*;
pub use state::*;
pub use types::*;

/// Scanner or keyboard text to a Metrc package tag, normalised (case, spaces, CR/LF/Tab), or
/// `InvalidInput` saying what is wrong with it. The apps' one way to read a tag.
#[uniffi::export]
pub fn normalize_package_tag(raw: String) -> Result<String, CustodyError> {
    Ok(custody_core::PackageTag::parse(&raw)?.to_string())
}

/// Parses what a person types into an amount field in `unit`: a plain number is read in `unit`
/// (`3.5` is 3.5 g), a number with a unit as typed (`0.5 oz`, `-1.25 oz`, `3 each`). With no
/// `unit` the text must name one.
#[uniffi::export]
pub fn parse_quantity(text: String, unit: Option<UnitOfMeasure>) -> Result<Quantity, CustodyError> {
    Ok(custody_core::Quantity::parse_in(&text, unit)?)
}

/// The symbol core reads and writes for a unit (`g`, `each`), for field labels.
#[uniffi::export]
pub fn unit_symbol(unit: UnitOfMeasure) -> String {
    unit.symbol().to_string()
}

/// A unit in words (`grams`, `number of units`), for prompts.
#[uniffi::export]
pub fn unit_word(unit: UnitOfMeasure) -> String {
    unit.word().to_string()
}

/// A quantity as core shows it to people (`12.30 g`, `3 each`, `1 oz (28.35 g)`).
#[uniffi::export]
pub fn format_quantity(quantity: Quantity) -> Result<String, CustodyError> {
    Ok(quantity.to_string())
}

/// The core library's version, for the app's about screen and support requests.
#[uniffi::export]
pub fn core_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

#[cfg(test)]
mod tests;
