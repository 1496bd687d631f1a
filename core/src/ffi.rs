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

#[cfg(test)]
mod tests {
    use uniffi::{Lift, Lower};

    use super::*;
    use crate::UniFfiTag;

    fn round_trip<T: Lift<UniFfiTag> + Lower<UniFfiTag> + Clone + PartialEq + std::fmt::Debug>(value: T) {
        let mut buf = Vec::new();
        <T as Lower<UniFfiTag>>::write(value.clone(), &mut buf);
        assert_eq!(<T as Lift<UniFfiTag>>::try_read(&mut buf.as_slice()).unwrap(), value);
    }

    #[test]
    fn values_cross_as_the_apps_know_them_and_come_back() {
        round_trip(PackageTag::parse("1a4ff0100000022000001234").unwrap());
        round_trip(LocationName::parse("Vault A / Shelf 1").unwrap());
        round_trip(UserId::new());
        round_trip(Uuid::now_v7());
        round_trip(Decimal::new(1250, 2));
        round_trip(NaiveDate::from_ymd_opt(2027, 6, 30).unwrap());
        round_trip(DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap());
    }
}
