//! The state system's JSON as it really comes, read field by field.
//!
//! Metrc's real answers are untidy: many fields are `null` or `""` where a fact is unknown
//! (production batch number, lab testing state, driver and vehicle, potency, expiry), date-times
//! are local to the facility and carry no offset (`"2026-11-30T14:05:00"`), a date sometimes has
//! a time part (`"2027-06-30T00:00:00"`), numbers come as JSON numbers or as text, and enum words
//! grow. A typed serde derive turns any one of those into "could not be read … at line 1 column
//! 1862" for the whole document. This module reads one record at a time and says what is wrong in
//! words: whose record (a package tag, a manifest number) and which field, never a JSON column.
//! Missing facts are `None` here; whether a missing fact refuses something or flags it is the
//! caller's rule (receiving flags, a manifest-level fault refuses).
//!
//! Used by manifest import (files and the state connector alike) so both follow one set of rules.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
pub use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde_json::{Map, Value};

/// What is wrong with a record from the state system, in words a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{whose}: {problem}")]
pub struct ShapeError {
    /// Whose record: "manifest 0001234567", "package 1A4…", "the manifest file".
    pub whose: String,
    pub problem: String,
}

/// Parses a whole document. A damaged file or answer is described by what happened to it, not by
/// where the parser stopped.
pub fn parse(text: &str, whose: &str) -> Result<Value, ShapeError> {
    serde_json::from_str(text).map_err(|e| ShapeError {
        whose: whose.to_string(),
        problem: match e.classify() {
            serde_json::error::Category::Eof => "it breaks off before its end (cut short in transfer?)".to_string(),
            serde_json::error::Category::Io => "it could not be read".to_string(),
            _ => "it is not in the state system's JSON format".to_string(),
        },
    })
}

/// One JSON object from the state system, named for its errors.
pub struct Record<'a> {
    whose: String,
    map: &'a Map<String, Value>,
}

impl<'a> Record<'a> {
    pub fn new(whose: impl Into<String>, value: &'a Value) -> Result<Self, ShapeError> {
        let whose = whose.into();
        match value.as_object() {
            Some(map) => Ok(Record { whose, map }),
            None => Err(ShapeError { whose, problem: "it is not a record (expected an object with named fields)".into() }),
        }
    }

    /// Renames the record for later errors (once its own name, e.g. its tag, is known).
    pub fn named(self, whose: impl Into<String>) -> Self {
        Record { whose: whose.into(), map: self.map }
    }

    pub fn whose(&self) -> &str {
        &self.whose
    }

    pub fn error(&self, problem: impl Into<String>) -> ShapeError {
        ShapeError { whose: self.whose.clone(), problem: problem.into() }
    }

    /// The field's value, with `null` read as absent.
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// The first of `keys` present (the state's field names differ between endpoints, e.g.
    /// `ItemName` and `ProductName`).
    fn get_any(&self, keys: &[&str]) -> Option<&'a Value> {
        keys.iter().find_map(|k| self.get(k))
    }

    /// Text, trimmed; `null`, missing, empty or blank are all "not given". A number where text is
    /// expected (a manifest number sent as `1234567`) is read as its digits.
    pub fn text(&self, keys: &[&str], words: &str) -> Result<Option<String>, ShapeError> {
        match self.get_any(keys) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim().to_string()).filter(|s| !s.is_empty())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(self.error(format!("the {words} is not text"))),
        }
    }

    pub fn required_text(&self, keys: &[&str], words: &str) -> Result<String, ShapeError> {
        self.text(keys, words)?.ok_or_else(|| self.error(format!("no {words} is given")))
    }

    /// An exact decimal. The state sends numbers as JSON numbers; serde_json holds them as f64,
    /// whose shortest printed form is exactly what was written for any realistic weight, so the
    /// decimal is parsed from that text (100.1 stays 100.1, never 100.0999…). Text is accepted too.
    pub fn decimal(&self, keys: &[&str], words: &str) -> Result<Option<Decimal>, ShapeError> {
        let text = match self.get_any(keys) {
            None => return Ok(None),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
            Some(Value::String(s)) => s.trim().to_string(),
            Some(other) => return Err(self.error(format!("the {words} {other} is not a number"))),
        };
        Decimal::from_str(&text)
            .or_else(|_| Decimal::from_scientific(&text))
            .map(Some)
            .map_err(|_| self.error(format!("the {words} \"{text}\" is not a number")))
    }

    /// A calendar date: `2027-06-30`, or the same with a time part the state sometimes adds
    /// (`2027-06-30T00:00:00`, with or without an offset) — the date as written is the date meant.
    pub fn date(&self, keys: &[&str], words: &str) -> Result<Option<NaiveDate>, ShapeError> {
        let Some(text) = self.text(keys, words)? else { return Ok(None) };
        let day = text.split(['T', ' ']).next().unwrap_or_default();
        NaiveDate::parse_from_str(day, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| self.error(format!("the {words} \"{text}\" is not a date (expected year-month-day)")))
    }

    /// A moment. With an offset (`Z`, `+02:00`) it is exact; without one it is the facility's
    /// local time in `zone`, as the state writes it. In the hour the clocks go back the earlier
    /// reading is taken; a time that does not exist (the hour they go forward) is read an hour on.
    /// With no zone known, a time without an offset is refused rather than guessed.
    pub fn local_time(&self, keys: &[&str], words: &str, zone: Option<Tz>) -> Result<Option<DateTime<Utc>>, ShapeError> {
        let Some(text) = self.text(keys, words)? else { return Ok(None) };
        if let Ok(exact) = DateTime::parse_from_rfc3339(&text) {
            return Ok(Some(exact.with_timezone(&Utc)));
        }
        let naive = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S%.f"]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(&text, f).ok())
            .or_else(|| NaiveDate::parse_from_str(&text, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)))
            .ok_or_else(|| self.error(format!("the {words} \"{text}\" is not a date and time")))?;
        let Some(zone) = zone else {
            return Err(self.error(format!(
                "the {words} \"{text}\" is a local time and this device does not know the facility's time zone yet; sync with the server and try again"
            )));
        };
        let local = zone
            .from_local_datetime(&naive)
            .earliest()
            .or_else(|| zone.from_local_datetime(&(naive + chrono::Duration::hours(1))).earliest())
            .ok_or_else(|| self.error(format!("the {words} \"{text}\" does not exist in {zone}")))?;
        Ok(Some(local.with_timezone(&Utc)))
    }

    /// A yes/no: a JSON boolean, or the words `true`/`false` as text; `null` or missing is not given.
    pub fn flag(&self, keys: &[&str], words: &str) -> Result<Option<bool>, ShapeError> {
        match self.get_any(keys) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(Value::String(s)) if s.trim().eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(other) => Err(self.error(format!("the {words} {other} is neither true nor false"))),
        }
    }

    /// A list of records; missing or `null` is an empty list.
    pub fn list(&self, keys: &[&str], words: &str) -> Result<&'a [Value], ShapeError> {
        match self.get_any(keys) {
            None => Ok(&[]),
            Some(Value::Array(items)) => Ok(items),
            Some(_) => Err(self.error(format!("the {words} is not a list"))),
        }
    }
}

/// Reads a facility's time zone setting (an IANA name such as `America/Los_Angeles`).
pub fn time_zone(name: &str) -> Result<Tz, ShapeError> {
    Tz::from_str(name.trim()).map_err(|_| ShapeError {
        whose: "the facility's time zone".into(),
        problem: format!("\"{name}\" is not a time zone name (use one like America/Los_Angeles)"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn la() -> Option<Tz> {
        Some(time_zone("America/Los_Angeles").unwrap())
    }

    #[test]
    fn local_times_without_an_offset_are_read_in_the_facility_zone() {
        let v = json!({"A": "2026-11-30T14:05:00", "B": "2026-07-01T09:00:00.123", "C": "2026-11-30T22:05:00Z", "D": null});
        let r = Record::new("manifest 1", &v).unwrap();
        // November: Pacific standard time, UTC-8.
        assert_eq!(r.local_time(&["A"], "arrival", la()).unwrap().unwrap().to_rfc3339(), "2026-11-30T22:05:00+00:00");
        // July: daylight time, UTC-7.
        assert_eq!(r.local_time(&["B"], "arrival", la()).unwrap().unwrap().to_rfc3339(), "2026-07-01T16:00:00.123+00:00");
        // An offset given is taken as given.
        assert_eq!(r.local_time(&["C"], "arrival", la()).unwrap().unwrap().to_rfc3339(), "2026-11-30T22:05:00+00:00");
        assert_eq!(r.local_time(&["D"], "arrival", la()).unwrap(), None);
        assert_eq!(r.local_time(&["missing"], "arrival", la()).unwrap(), None);
        // With no zone known only a time with an offset can be read.
        assert_eq!(r.local_time(&["C"], "arrival", None).unwrap().unwrap().to_rfc3339(), "2026-11-30T22:05:00+00:00");
        let err = r.local_time(&["A"], "estimated arrival", None).unwrap_err().to_string();
        assert!(err.contains("does not know the facility's time zone yet; sync with the server"), "{err}");
    }

    #[test]
    fn clock_changes_neither_fail_nor_guess_wildly() {
        // 2026-03-08 02:30 does not exist in Los Angeles; 2026-11-01 01:30 happens twice.
        let v = json!({"Gap": "2026-03-08T02:30:00", "Twice": "2026-11-01T01:30:00"});
        let r = Record::new("manifest 1", &v).unwrap();
        assert_eq!(r.local_time(&["Gap"], "arrival", la()).unwrap().unwrap().to_rfc3339(), "2026-03-08T10:30:00+00:00");
        assert_eq!(r.local_time(&["Twice"], "arrival", la()).unwrap().unwrap().to_rfc3339(), "2026-11-01T08:30:00+00:00");
    }

    #[test]
    fn dates_with_a_time_part_are_the_date_written() {
        let v = json!({"A": "2027-06-30", "B": "2027-06-30T00:00:00", "C": "", "D": "30/06/2027"});
        let r = Record::new("package 1A4", &v).unwrap();
        let d = NaiveDate::from_ymd_opt(2027, 6, 30).unwrap();
        assert_eq!(r.date(&["A"], "expiry date").unwrap(), Some(d));
        assert_eq!(r.date(&["B"], "expiry date").unwrap(), Some(d));
        assert_eq!(r.date(&["C"], "expiry date").unwrap(), None);
        let err = r.date(&["D"], "expiry date").unwrap_err();
        assert_eq!(err.to_string(), "package 1A4: the expiry date \"30/06/2027\" is not a date (expected year-month-day)");
    }

    #[test]
    fn numbers_are_exact_and_errors_name_the_record_and_field() {
        let v = json!({"Q": 100.1, "S": "12.50", "E": "", "Bad": "ten", "Obj": {"x": 1}});
        let r = Record::new("package 1A4FF", &v).unwrap();
        assert_eq!(r.decimal(&["Q"], "shipped quantity").unwrap().unwrap().to_string(), "100.1");
        assert_eq!(r.decimal(&["S"], "shipped quantity").unwrap().unwrap().to_string(), "12.50");
        assert_eq!(r.decimal(&["E"], "shipped quantity").unwrap(), None);
        let err = r.decimal(&["Bad"], "shipped quantity").unwrap_err().to_string();
        assert_eq!(err, "package 1A4FF: the shipped quantity \"ten\" is not a number");
        assert!(r.decimal(&["Obj"], "shipped quantity").unwrap_err().to_string().contains("is not a number"));
    }

    #[test]
    fn blank_and_null_text_is_not_given_and_alternative_names_are_read() {
        let v = json!({"DriverName": null, "VehicleMake": "  ", "ProductName": "Gummies", "ManifestNumber": 1234567});
        let r = Record::new("manifest", &v).unwrap();
        assert_eq!(r.text(&["DriverName"], "driver's name").unwrap(), None);
        assert_eq!(r.text(&["VehicleMake"], "vehicle make").unwrap(), None);
        assert_eq!(r.text(&["ItemName", "ProductName"], "item").unwrap().as_deref(), Some("Gummies"));
        assert_eq!(r.required_text(&["ManifestNumber"], "manifest number").unwrap(), "1234567");
        assert_eq!(r.required_text(&["Nope"], "manifest number").unwrap_err().to_string(), "manifest: no manifest number is given");
    }

    #[test]
    fn a_damaged_document_is_described_not_located() {
        let err = parse("{\"ManifestNumber\": \"1\"", "the manifest file").unwrap_err().to_string();
        assert_eq!(err, "the manifest file: it breaks off before its end (cut short in transfer?)");
        let err = parse("<html>", "the manifest file").unwrap_err().to_string();
        assert!(err.contains("not in the state system's JSON format") && !err.contains("column"), "{err}");
        assert!(Record::new("x", &json!([1])).is_err());
        assert!(time_zone("Mars/Olympus").unwrap_err().to_string().contains("not a time zone name"));
    }
}
