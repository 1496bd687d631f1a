//! core/src/ffi.rs's custom types cross as the apps know them and come back (feature `uniffi`;
//! here rather than in src/, whose modules may not name the crate root's `UniFfiTag`:
//! tests/check-layers.py).
#![cfg(feature = "uniffi")]

use chrono::{DateTime, NaiveDate, Utc};
use custody_core::UniFfiTag;
use custody_core::ids::{LocationName, PackageTag, UserId};
use rust_decimal::Decimal;
use uniffi::{Lift, Lower};
use uuid::Uuid;

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
