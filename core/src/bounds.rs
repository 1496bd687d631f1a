//! The domain bounds of every number the system takes in, in one place (docs/decisions/0013).
//!
//! A ledger event can never be changed or removed, so one absurd number accepted once would sit in
//! every replica's fold for ever. Every quantity, price, percentage, position and time stamp is
//! therefore held to what a cannabis distributor can really handle, with margin, at every edge
//! (the phone, the sync server, the office order API, the manifest import, the workflows that
//! write work documents). Inside these bounds no sum the system makes can overflow a `Decimal`;
//! the arithmetic is checked anyway, so a value that slipped past (an event stored before the
//! bounds existed) becomes a conflict or an error with a sentence, never a panic.

use rust_decimal::Decimal;

/// The heaviest single quantity: 10 tonnes. The largest packages a distributor handles are bulk
/// biomass for extraction, a few thousand pounds; ten tonnes leaves margin without letting a
/// typo of a few extra digits through unnoticed.
pub const MAX_GRAMS: Decimal = Decimal::from_parts(10_000_000, 0, 0, false, 0);
/// `MAX_GRAMS` as people read it in a message.
pub const MAX_WEIGHT_TEXT: &str = "10,000 kg";

/// The most units of counted goods in one quantity: a million (a package of pre-rolls or
/// cartridges holds hundreds to a few thousand).
pub const MAX_EACH: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);
pub const MAX_EACH_TEXT: &str = "1,000,000 each";

/// Decimal places of a quantity in its own unit. Nine places are a microgram in kilograms and
/// under half a microgram in pounds, far below the 0.01 g at which weights are compared, and
/// enough for exact conversions between units (an ounce is 28.349523125 g by definition).
pub const MAX_QUANTITY_DECIMALS: u32 = 9;

/// The highest wholesale price per unit (per gram, per each, per pound): a million dollars.
pub const MAX_UNIT_PRICE: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);
pub const MAX_UNIT_PRICE_TEXT: &str = "1,000,000";
/// Decimal places of a unit price: a hundredth of a cent, for prices per milligram.
pub const MAX_UNIT_PRICE_DECIMALS: u32 = 4;
/// The highest price of one order line or one package on a manifest: a hundred million dollars.
pub const MAX_LINE_PRICE: Decimal = Decimal::from_parts(100_000_000, 0, 0, false, 0);
pub const MAX_LINE_PRICE_TEXT: &str = "100,000,000";

/// Percentages (THC on a manifest or a certificate, a potency tolerance): 0 to 100, to four
/// places (labs report two).
pub const MAX_PERCENT: Decimal = Decimal::from_parts(100, 0, 0, false, 0);
pub const MAX_PERCENT_DECIMALS: u32 = 4;

/// Decimal places of a GPS coordinate: eight places are about a millimetre, more than any phone
/// measures. The reported accuracy is at most 100 km (a position worse than that is no position).
pub const MAX_GPS_DECIMALS: u32 = 8;
pub const MAX_GPS_ACCURACY_M: Decimal = Decimal::from_parts(100_000, 0, 0, false, 0);

/// The latest time stamp an event may carry: the last millisecond of the year 9999, the last
/// instant every format the system writes times in (RFC 3339, SQLite text, the state system) can
/// express. How far ahead of the server's clock an event may be is the server's judgement
/// (decision 0002); this bound is what no replica will ever fold.
pub const MAX_STAMP_MS: i64 = 253_402_300_799_999;

/// How far ahead of the server's clock an event's stamp may be, and how long before its device
/// enrolled, unless the server is configured otherwise (decision 0002).
pub const DEFAULT_CLOCK_ALLOWANCE_MINUTES: i64 = 10;

/// Why a number was refused. Messages are shown to the person who typed or sent it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BoundError {
    #[error("the {what} {value} has more than {max} decimal places; round it to {max}")]
    Decimals { what: &'static str, value: String, max: u32 },
    #[error("the {what} {value} is more than {max}; check it")]
    TooLarge { what: &'static str, value: String, max: &'static str },
    #[error("the {what} cannot be negative ({value})")]
    Negative { what: &'static str, value: String },
}

/// Decimal places as a person would count them (`1.50` has one).
pub fn decimals(value: Decimal) -> u32 {
    value.normalize().scale()
}

fn check_decimals(what: &'static str, value: Decimal, max: u32) -> Result<(), BoundError> {
    if decimals(value) > max {
        return Err(BoundError::Decimals { what, value: value.normalize().to_string(), max });
    }
    Ok(())
}

/// A wholesale price per unit: not negative, at most [`MAX_UNIT_PRICE`], four decimal places.
pub fn check_unit_price(price: Decimal) -> Result<(), BoundError> {
    let what = "unit price";
    if price.is_sign_negative() && !price.is_zero() {
        return Err(BoundError::Negative { what, value: price.to_string() });
    }
    if price > MAX_UNIT_PRICE {
        return Err(BoundError::TooLarge { what, value: price.normalize().to_string(), max: MAX_UNIT_PRICE_TEXT });
    }
    check_decimals(what, price, MAX_UNIT_PRICE_DECIMALS)
}

/// The price of `amount` at `unit_price`, to the cent; refused above [`MAX_LINE_PRICE`]. Checked
/// arithmetic: an unbounded amount read from an old document gives an error, not a panic.
pub fn line_price(amount: Decimal, unit_price: Decimal) -> Result<Decimal, BoundError> {
    let too_large = || BoundError::TooLarge { what: "line price", value: format!("{amount} x {unit_price}"), max: MAX_LINE_PRICE_TEXT };
    let price = amount.checked_mul(unit_price).ok_or_else(too_large)?.round_dp(2);
    if price.abs() > MAX_LINE_PRICE {
        return Err(too_large());
    }
    Ok(price)
}

/// A money amount as people read it: rounded to the cent (half away from zero), always two
/// places (`12.50`). Line prices are already whole cents ([`line_price`]).
pub fn money(amount: Decimal) -> String {
    let cents = amount.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    format!("{cents:.2}")
}

/// A percentage: 0 to 100, four decimal places.
pub fn check_percent(what: &'static str, value: Decimal) -> Result<(), BoundError> {
    if value.is_sign_negative() && !value.is_zero() {
        return Err(BoundError::Negative { what, value: value.to_string() });
    }
    if value > MAX_PERCENT {
        return Err(BoundError::TooLarge { what, value: value.normalize().to_string(), max: "100" });
    }
    check_decimals(what, value, MAX_PERCENT_DECIMALS)
}

/// A GPS fix: a place on Earth, to eight decimal places, with an accuracy of 0 to 100 km.
pub fn check_gps(latitude: Decimal, longitude: Decimal, accuracy_m: Decimal) -> Result<(), String> {
    let off_earth = || "that position is not on Earth; check the GPS".to_string();
    if latitude.abs() > Decimal::from(90) || longitude.abs() > Decimal::from(180) {
        return Err(off_earth());
    }
    for (what, value) in [("latitude", latitude), ("longitude", longitude), ("GPS accuracy", accuracy_m)] {
        check_decimals(what, value, MAX_GPS_DECIMALS).map_err(|e| e.to_string())?;
    }
    if accuracy_m.is_sign_negative() && !accuracy_m.is_zero() || accuracy_m > MAX_GPS_ACCURACY_M {
        return Err("the GPS accuracy is not between 0 and 100 km; wait for a better fix".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn prices_are_bounded_with_a_sentence() {
        assert!(check_unit_price(d("4.2500")).is_ok());
        assert!(check_unit_price(d("0")).is_ok());
        let err = check_unit_price(d("0.00001")).unwrap_err();
        assert_eq!(err.to_string(), "the unit price 0.00001 has more than 4 decimal places; round it to 4");
        assert!(matches!(check_unit_price(d("-1")), Err(BoundError::Negative { .. })));
        assert!(matches!(check_unit_price(d("1000000.01")), Err(BoundError::TooLarge { .. })));
        assert_eq!(line_price(d("3.5"), d("4.25")).unwrap(), d("14.88"));
        let err = line_price(Decimal::MAX, d("2")).unwrap_err();
        assert!(err.to_string().contains("more than 100,000,000"), "{err}");
        assert!(line_price(d("10000000"), d("11")).is_err());
    }

    #[test]
    fn money_has_two_places() {
        assert_eq!(money(d("12.5")), "12.50");
        assert_eq!(money(d("3")), "3.00");
        assert_eq!(money(d("14.875")), "14.88");
    }

    #[test]
    fn percentages_and_positions() {
        assert!(check_percent("THC", d("78.25")).is_ok());
        assert!(check_percent("THC", d("100.1")).is_err());
        assert!(check_percent("THC", d("-1")).is_err());
        assert!(check_gps(d("37.80443"), d("-122.27080"), d("5")).is_ok());
        assert!(check_gps(d("91"), d("0"), d("5")).is_err());
        assert!(check_gps(d("1.000000001"), d("0"), d("5")).is_err());
        assert!(check_gps(d("1"), d("0"), d("100001")).is_err());
    }
}
