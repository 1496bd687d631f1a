//! How core's values cross to Kotlin and Swift, defined once (feature `uniffi`; custody-ffi
//! turns it on, nothing else does).
//!
//! Core's output records and enums derive `uniffi::Record` / `uniffi::Enum` where they are
//! declared (`#[cfg_attr(feature = "uniffi", ...)]`), so the FFI does not copy them. The value
//! types inside them cross as the apps already know them (docs/decisions/0009):
//! - identifiers (tags, licences, locations, items, batches, user and device ids, UUIDs) and
//!   decimals as strings (`"12.50"`, never floats), calendar dates as `YYYY-MM-DD`;
//! - instants as `SystemTime` (Kotlin `java.time.Instant`, Swift `Date`).
//!
//! Lifting checks the value again (a tag must parse), but a failed lift is uniffi's internal
//! error, not `CustodyError::InvalidInput` with core's sentence: so whatever a person types
//! reaches core through custody-ffi's hand-written input records and arguments, never through
//! these types.

use std::str::FromStr;
use std::time::SystemTime;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::ids::{BatchNumber, DeviceId, ItemName, LicenseNumber, LocationName, PackageTag, UserId};

/// An instant, UTC (Kotlin `Instant`, Swift `Date`).
pub type Timestamp = DateTime<Utc>;
/// A calendar date, `YYYY-MM-DD`.
pub type IsoDate = NaiveDate;
/// An exact decimal as `rust_decimal` writes it (`"12.50"`).
pub type DecimalString = Decimal;

uniffi::custom_type!(PackageTag, String, { lower: |t| t.to_string(), try_lift: |s| Ok(PackageTag::parse(&s)?) });
uniffi::custom_type!(LicenseNumber, String, { lower: |l| l.to_string(), try_lift: |s| Ok(LicenseNumber::parse(&s)?) });
uniffi::custom_type!(LocationName, String, { lower: |l| l.to_string(), try_lift: |s| Ok(LocationName::parse(&s)?) });
uniffi::custom_type!(ItemName, String, { lower: |i| i.to_string(), try_lift: |s| Ok(ItemName::parse(&s)?) });
uniffi::custom_type!(BatchNumber, String, { lower: |b| b.to_string(), try_lift: |s| Ok(BatchNumber::parse(&s)?) });
uniffi::custom_type!(UserId, String, { lower: |u| u.to_string(), try_lift: |s| Ok(UserId::parse(&s)?) });
uniffi::custom_type!(DeviceId, String, { lower: |d| d.to_string(), try_lift: |s| Ok(DeviceId::parse(&s)?) });
uniffi::custom_type!(Uuid, String, { remote, lower: |u| u.to_string(), try_lift: |s| Ok(Uuid::parse_str(&s)?) });
uniffi::custom_type!(DecimalString, String, {
    remote,
    lower: |d| d.to_string(),
    try_lift: |s| Ok(Decimal::from_str(&s)?),
});
uniffi::custom_type!(IsoDate, String, {
    remote,
    lower: |d| d.format("%Y-%m-%d").to_string(),
    try_lift: |s| Ok(NaiveDate::parse_from_str(&s, "%Y-%m-%d")?),
});
uniffi::custom_type!(Timestamp, SystemTime, { remote, lower: |t| t.into(), try_lift: |t| Ok(t.into()) });
