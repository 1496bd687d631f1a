//! How core's values cross to Kotlin and Swift, defined once (feature `uniffi`; custody-ffi
//! turns it on, nothing else does).
//!
//! Core's records and enums derive `uniffi::Record` / `uniffi::Enum` where they are declared
//! (`#[cfg_attr(feature = "uniffi", ...)]`), so the FFI does not copy them. The value types
//! inside them cross as the apps already know them (docs/decisions/0009):
//! - identifiers (tags, licences, locations, items, batches, user and device ids, UUIDs) and
//!   decimals as strings (`"12.50"`, never floats), calendar dates as `YYYY-MM-DD`;
//! - instants as `SystemTime` (Kotlin `java.time.Instant`, Swift `Date`);
//! - a [`Quantity`] as a [`QuantityText`]: the amount as text with its unit.
//!
//! [`CustodyError`], the one error the apps see, lives here too, so that a value that does not
//! lift (a tag that is not a tag, an amount that is not a number) comes back as
//! `CustodyError::InvalidInput` with core's sentence: uniffi hands a failed lift to the called
//! function's error type when the lift's error *is* that type. Each lift below fails with it.
//! Which variant every other error of core is: [`errors`].

use std::time::SystemTime;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::ids::{BatchNumber, DeviceId, IdError, ItemName, LicenseNumber, LocationName, PackageTag, UserId};
use crate::input::{self, InputError};
use crate::quantity::{Quantity, QuantityError, Unit};

pub mod errors;

/// The one error the apps see. Each variant says what the app should do; the message is core's
/// sentence, written for the person holding the phone, passed through unchanged.
///
/// Kotlin: `CustodyException.InvalidInput` etc. (`e.message` is the sentence); Swift:
/// `CustodyError.InvalidInput(message:)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
#[uniffi(flat_error)]
pub enum CustodyError {
    /// What was scanned or typed is wrong: show the message, let the person correct it.
    #[error("{0}")]
    InvalidInput(String),
    /// This device has no enrolment yet: show the enrolment screen.
    #[error("{0}")]
    NotEnrolled(String),
    /// Nobody is signed in: show the sign-in screen.
    #[error("{0}")]
    NotSignedIn(String),
    /// Badge or PIN not recognised: let them try again.
    #[error("{0}")]
    BadCredentials(String),
    /// This person (their role, or their part in the work) may not do this: ask someone else.
    #[error("{0}")]
    NotAllowed(String),
    /// The state of things does not allow it now (a quarantined package, a closed count, a
    /// decided request): show the message; nothing changed.
    #[error("{0}")]
    Refused(String),
    /// The package, session or request is not on this device: sync, or check what was scanned.
    #[error("{0}")]
    NotFound(String),
    /// No connection to the sync server: the work is saved here and syncs later.
    #[error("{0}")]
    Offline(String),
    /// The server refused this device or code (revoked, unknown token, an enrolment code that
    /// is wrong, used or expired): enrol again with a new code from a manager.
    #[error("{0}")]
    Unauthorized(String),
    /// The server answered with an error or something unreadable: try later, then call support.
    #[error("{0}")]
    Server(String),
    /// The device database failed or holds data it cannot read: call support.
    #[error("{0}")]
    Storage(String),
}

impl From<IdError> for CustodyError {
    fn from(e: IdError) -> Self {
        CustodyError::InvalidInput(e.to_string())
    }
}

impl From<InputError> for CustodyError {
    fn from(e: InputError) -> Self {
        CustodyError::InvalidInput(e.to_string())
    }
}

impl From<QuantityError> for CustodyError {
    fn from(e: QuantityError) -> Self {
        CustodyError::InvalidInput(e.to_string())
    }
}

/// A failed lift as uniffi passes it on: core's sentence as `InvalidInput`.
fn refused(e: impl Into<CustodyError>) -> uniffi::deps::anyhow::Error {
    uniffi::deps::anyhow::Error::new(e.into())
}

/// An instant, UTC (Kotlin `Instant`, Swift `Date`).
pub type Timestamp = DateTime<Utc>;
/// A calendar date, `YYYY-MM-DD`.
pub type IsoDate = NaiveDate;
/// An exact decimal as `rust_decimal` writes it (`"12.50"`).
pub type DecimalString = Decimal;

uniffi::custom_type!(PackageTag, String, { lower: |t| t.to_string(), try_lift: |s| PackageTag::parse(&s).map_err(refused) });
uniffi::custom_type!(LicenseNumber, String, { lower: |l| l.to_string(), try_lift: |s| LicenseNumber::parse(&s).map_err(refused) });
uniffi::custom_type!(LocationName, String, { lower: |l| l.to_string(), try_lift: |s| LocationName::parse(&s).map_err(refused) });
uniffi::custom_type!(ItemName, String, { lower: |i| i.to_string(), try_lift: |s| ItemName::parse(&s).map_err(refused) });
uniffi::custom_type!(BatchNumber, String, { lower: |b| b.to_string(), try_lift: |s| BatchNumber::parse(&s).map_err(refused) });
uniffi::custom_type!(UserId, String, { lower: |u| u.to_string(), try_lift: |s| UserId::parse(&s).map_err(refused) });
uniffi::custom_type!(DeviceId, String, { lower: |d| d.to_string(), try_lift: |s| DeviceId::parse(&s).map_err(refused) });
uniffi::custom_type!(Uuid, String, { remote, lower: |u| u.to_string(), try_lift: |s| input::id("record", &s).map_err(refused) });
uniffi::custom_type!(DecimalString, String, {
    remote,
    lower: |d| d.to_string(),
    try_lift: |s| input::number("amount", &s).map_err(refused),
});
uniffi::custom_type!(IsoDate, String, {
    remote,
    lower: |d| d.format("%Y-%m-%d").to_string(),
    try_lift: |s| {
        let date = input::optional_date(&s).map_err(refused)?;
        date.ok_or_else(|| refused(InputError("enter a date, like 2027-06-30".into())))
    },
});
uniffi::custom_type!(Timestamp, SystemTime, { remote, lower: |t| t.into(), try_lift: |t| Ok(t.into()) });

/// A quantity as it crosses: the amount as text exactly as `rust_decimal` writes it (`"12.50"`,
/// `"-0.5"`; Kotlin `BigDecimal(amount)`, Swift `Decimal(string:)`), never a float, with its
/// unit. The apps name it `Quantity`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct QuantityText {
    pub amount: String,
    pub unit: Unit,
}

// Coming in, any sign (the workflow decides whether a negative makes sense), whole numbers for
// counted goods, within the bounds: `Quantity::from_text`, or its sentence as `InvalidInput`.
uniffi::custom_type!(Quantity, QuantityText, {
    lower: |q| QuantityText { amount: q.amount.to_string(), unit: q.unit },
    try_lift: |q| Quantity::from_text(&q.amount, q.unit).map_err(refused),
});
