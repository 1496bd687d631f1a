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

#[cfg(target_os = "android")]
mod android;
pub mod client;
pub mod error;
pub mod listener;
pub mod outbound;
pub mod types;

pub use client::{CustodyClient, count_unit};
pub use error::CustodyError;
pub use listener::{ChangeKind, ChangeListener, SyncListener};
pub use outbound::*;
pub use types::*;

/// Normalises scanner text into a Metrc package tag, or says what is wrong with it.
#[uniffi::export]
pub fn normalize_package_tag(raw: String) -> Result<String, CustodyError> {
    Ok(types::tag_in(&raw)?.to_string())
}

/// Parses what a person types (`12.5 g`, `3 each`, `-1.25 oz`) into a quantity.
#[uniffi::export]
pub fn parse_quantity(text: String) -> Result<Quantity, CustodyError> {
    Ok(custody_core::Quantity::parse(&text)?.into())
}

/// A quantity as core shows it to people (`12.30 g`, `3 each`, `1 oz (28.35 g)`).
#[uniffi::export]
pub fn format_quantity(quantity: Quantity) -> Result<String, CustodyError> {
    Ok(custody_core::Quantity::try_from(quantity)?.to_string())
}

/// The core library's version, for the app's about screen and support requests.
#[uniffi::export]
pub fn core_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

#[cfg(test)]
mod tests;
