//! Reading and writing the few typed values inside the state's loosely shaped JSON records:
//! quantities (rust_decimal, never floats), the server's local clock and date-time filters.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

/// The emulated state server's clock. Metrc answers local date-times without an offset; the
/// emulator's "local" zone is UTC, truncated to whole seconds as the state's records are.
pub fn now_local() -> NaiveDateTime {
    let now = Utc::now().naive_utc();
    now.date().and_hms_opt(chrono::Timelike::hour(&now), chrono::Timelike::minute(&now), chrono::Timelike::second(&now)).unwrap_or(now)
}

/// The wire form of a local date-time: `2026-11-30T14:05:00`, no offset.
pub fn fmt_local(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

pub fn now_value() -> Value {
    Value::String(fmt_local(now_local()))
}

/// Parses the date-times the state and its clients write: with or without an offset (an offset
/// is converted to the server's local zone, UTC), with or without fractional seconds, or a bare
/// date (midnight).
pub fn parse_date_time(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc).naive_utc());
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(t);
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0))
}

/// A quantity from a JSON number or a numeric string, exactly: the number's own digits are
/// parsed into a Decimal, never through a float.
pub fn dec(v: Option<&Value>) -> Option<Decimal> {
    match v? {
        Value::Number(n) => {
            let s = n.to_string();
            Decimal::from_str(&s).or_else(|_| Decimal::from_scientific(&s)).ok()
        }
        Value::String(s) => Decimal::from_str(s.trim()).ok(),
        _ => None,
    }
}

/// A quantity as the JSON number the state answers with. The digits come from the Decimal's
/// own text; serde_json holds a number as f64 (no arbitrary_precision in this workspace), whose
/// shortest form prints those same digits back for any quantity of up to 15 significant digits.
pub fn num(d: Decimal) -> Value {
    serde_json::from_str(&d.normalize().to_string()).unwrap_or(Value::Null)
}

pub fn text<'a>(rec: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    rec.get(key).and_then(Value::as_str)
}

/// A non-empty, trimmed text field.
pub fn field<'a>(rec: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    text(rec, key).map(str::trim).filter(|s| !s.is_empty())
}

pub fn id_of(rec: &Map<String, Value>, key: &str) -> Option<i64> {
    match rec.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Metrc's package tag: 24 upper-case letters or digits beginning `1A4`.
pub fn is_tag(s: &str) -> bool {
    s.len() == 24 && s.starts_with("1A4") && s.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_keep_their_digits() {
        let v: Value = serde_json::from_str("10.1").unwrap();
        assert_eq!(dec(Some(&v)), Some(Decimal::from_str("10.1").unwrap()));
        let d = Decimal::from_str("0.1").unwrap() + Decimal::from_str("0.2").unwrap();
        assert_eq!(num(d).to_string(), "0.3");
        assert_eq!(dec(Some(&Value::String("2.50".into()))), Some(Decimal::new(25, 1)));
        assert_eq!(dec(Some(&Value::Null)), None);
    }

    #[test]
    fn tags_are_checked_for_shape() {
        assert!(is_tag("1A4FF0100000022000001234"));
        assert!(!is_tag("1A4FF010000002200000123"));
        assert!(!is_tag("1a4FF0100000022000001234"));
        assert!(!is_tag("2A4FF0100000022000001234"));
    }

    #[test]
    fn date_times_with_and_without_offsets() {
        let t = parse_date_time("2026-11-30T14:05:00").unwrap();
        assert_eq!(fmt_local(t), "2026-11-30T14:05:00");
        let t = parse_date_time("2026-11-30T14:05:00-07:00").unwrap();
        assert_eq!(fmt_local(t), "2026-11-30T21:05:00");
        let t = parse_date_time("2026-11-30").unwrap();
        assert_eq!(fmt_local(t), "2026-11-30T00:00:00");
    }
}
