//! core/src/ffi/'s custom types cross as the apps know them and come back, and a value that does
//! not lift is `CustodyError::InvalidInput` with core's sentence (feature `uniffi`;
//! here rather than in src/, whose modules may not name the crate root's `UniFfiTag`:
//! tests/check-layers.py).
#![cfg(feature = "uniffi")]

use chrono::{DateTime, NaiveDate, Utc};
use custody_core::UniFfiTag;
use custody_core::ffi::{CustodyError, QuantityText};
use custody_core::ids::{LocationName, PackageTag, UserId};
use custody_core::quantity::{Quantity, Unit};
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

/// What the app wrote, lifted as uniffi lifts an argument; the error as the app receives it
/// (uniffi passes a failed lift whose error is the function's error type on as that error).
fn lift<T: Lift<UniFfiTag>>(sent: impl Lower<UniFfiTag>) -> Result<T, CustodyError> {
    let mut buf = Vec::new();
    Lower::<UniFfiTag>::write(sent, &mut buf);
    T::try_read(&mut buf.as_slice()).map_err(|e| e.downcast::<CustodyError>().expect("a failed lift is a CustodyError"))
}

#[test]
fn a_value_that_does_not_lift_is_invalid_input_with_cores_sentence() {
    round_trip(Quantity::from_text("-0.50", Unit::Oz).unwrap());
    let typed = |amount: &str, unit| QuantityText { amount: amount.into(), unit };
    assert_eq!(lift::<Quantity>(typed(" 12.50 ", Unit::G)).unwrap(), Quantity::from_text("12.50", Unit::G).unwrap());
    for (amount, unit) in [("ten", Unit::G), ("1.5", Unit::Each), ("99999999999", Unit::Kg)] {
        let sentence = Quantity::from_text(amount, unit).unwrap_err().to_string();
        assert_eq!(lift::<Quantity>(typed(amount, unit)), Err(CustodyError::InvalidInput(sentence)));
    }
    let sentence = PackageTag::parse("1A4").unwrap_err().to_string();
    assert_eq!(lift::<PackageTag>("1A4".to_string()), Err(CustodyError::InvalidInput(sentence)));
    assert_eq!(
        lift::<NaiveDate>("30/06/2027".to_string()),
        Err(CustodyError::InvalidInput("\"30/06/2027\" is not a date; use the form 2027-06-30".into()))
    );
    assert!(matches!(lift::<Uuid>("42".to_string()), Err(CustodyError::InvalidInput(m)) if m.contains("not a valid record id")));
}
