//! A certificate of analysis from the state's lab results (`GET /labtests/v2/results`), as the
//! state really writes them: one record per test (THC, pesticides, microbials, ...), many fields
//! `null` or blank, dates with or without a time part, local times without an offset.
//!
//! The receiving session keeps one [`Coa`] per production batch; the state's results carry no
//! batch number (they belong to a package), so the caller says which batch the package is of.

use chrono::{DateTime, NaiveDate};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde_json::Value;

use crate::ids::BatchNumber;
use crate::state_json::{Record, ShapeError};
use crate::work::receiving::Coa;

/// How long a certificate counts as current when the lab gave no expiry: a year from the test
/// (the state reports no expiry for most results; a longer or shorter rule is a setting to come).
pub const DEFAULT_VALIDITY_DAYS: i64 = 365;

/// One certificate for `batch` from the state's lab results of one of its packages; `None` when
/// none of them is usable (no results, or only revoked or unreleased ones).
///
/// - passed: every released, unrevoked test passed (`OverallPassed`, else `TestPassed`);
/// - THC: the level of the test whose type names THC (the total one when there are several);
/// - tested on: the latest test date; expires on: the earliest expiry given, else
///   [`DEFAULT_VALIDITY_DAYS`] after the test; an expiry with an offset is the facility's day;
/// - the lab: its name, else its licence.
///
/// Refused (naming the package and the field) when a usable result lacks what a certificate
/// must say: the lab, the test date, a THC level, or a level or date that cannot be read.
pub fn coa_from_state(results: &[Value], package: &str, batch: &BatchNumber, zone: Option<Tz>) -> Result<Option<Coa>, ShapeError> {
    let whose = format!("lab results of package {package}");
    let mut lab: Option<String> = None;
    let mut passed = true;
    let mut tested_on: Option<NaiveDate> = None;
    let mut expires_on: Option<NaiveDate> = None;
    // (is a "total" THC test, level)
    let mut thc: Option<(bool, Decimal)> = None;
    let mut usable = 0usize;
    for (i, value) in results.iter().enumerate() {
        let r = Record::new(format!("lab result {} of package {package}", i + 1), value)?;
        let test = r.text(&["TestTypeName"], "test type")?.unwrap_or_else(|| "a test".into());
        let r = r.named(format!("the {test} result of package {package}"));
        if r.text(&["RevokedDate"], "revocation date")?.is_some() || r.flag(&["ResultReleased"], "release flag")? == Some(false) {
            continue;
        }
        usable += 1;
        let this_passed = match r.flag(&["OverallPassed"], "overall result")? {
            Some(p) => p,
            None => r.flag(&["TestPassed"], "test result")?.ok_or_else(|| r.error("it says neither whether it passed nor failed"))?,
        };
        passed &= this_passed;
        let name = r
            .text(&["LabFacilityName"], "lab's name")?
            .or(r.text(&["LabFacilityLicenseNumber"], "lab's licence")?)
            .ok_or_else(|| r.error("no lab is named"))?;
        lab.get_or_insert(name);
        let day = r.date(&["TestPerformedDate"], "test date")?.ok_or_else(|| r.error("no test date is given"))?;
        tested_on = Some(tested_on.map_or(day, |d| d.max(day)));
        if let Some(expiry) = expiry(&r, zone)? {
            expires_on = Some(expires_on.map_or(expiry, |d| d.min(expiry)));
        }
        if test.to_ascii_uppercase().contains("THC") {
            let level = r.decimal(&["TestResultLevel"], "THC level")?.ok_or_else(|| r.error("no THC level is given"))?;
            crate::bounds::check_percent("THC percentage", level).map_err(|e| r.error(e.to_string()))?;
            let total = test.to_ascii_lowercase().contains("total");
            if thc.is_none_or(|(was_total, _)| total && !was_total) {
                thc = Some((total, level));
            }
        }
    }
    if usable == 0 {
        return Ok(None);
    }
    let err = |problem: &str| ShapeError { whose: whose.clone(), problem: problem.to_string() };
    let (Some(lab), Some(tested_on)) = (lab, tested_on) else { return Err(err("no lab or test date is given")) };
    crate::text::required(crate::text::organisation("lab's name"), &lab).map_err(|e| err(&e.to_string()))?;
    let (_, thc_percent) =
        thc.ok_or_else(|| err("no THC test is among them, so the certificate cannot be checked against the manifest"))?;
    let expires_on = expires_on.unwrap_or(tested_on + chrono::Duration::days(DEFAULT_VALIDITY_DAYS));
    Ok(Some(Coa { batch: batch.clone(), lab, thc_percent, passed, tested_on, expires_on }))
}

/// The expiry day: as written for a date or a local time; the facility's day for a time with an
/// offset.
fn expiry(r: &Record<'_>, zone: Option<Tz>) -> Result<Option<NaiveDate>, ShapeError> {
    let Some(text) = r.text(&["ExpirationDateTime", "ExpirationDate"], "expiry")? else { return Ok(None) };
    if let (Ok(exact), Some(zone)) = (DateTime::parse_from_rfc3339(&text), zone) {
        return Ok(Some(exact.with_timezone(&zone).date_naive()));
    }
    r.date(&["ExpirationDateTime", "ExpirationDate"], "expiry")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TAG: &str = "1A4FF0300000022000001001";

    fn la() -> Option<Tz> {
        Some(crate::state_json::time_zone("America/Los_Angeles").unwrap())
    }

    fn batch() -> BatchNumber {
        BatchNumber::parse("BD-PB-1101").unwrap()
    }

    fn thc(level: Value, passed: Value) -> Value {
        json!({"PackageId": 8001, "PackageLabel": TAG, "LabFacilityLicenseNumber": "C11-0000900-LIC", "LabFacilityName": "Pacific Analytics",
               "TestTypeName": "THC (%) Raw Plant Material", "TestPassed": passed, "TestResultLevel": level, "TestComment": null,
               "OverallPassed": passed, "TestPerformedDate": "2026-11-12", "ResultReleased": true,
               "ResultReleaseDateTime": "2026-11-14T10:22:05", "ExpirationDateTime": null, "RevokedDate": null})
    }

    fn pesticides(passed: bool, expiry: Value) -> Value {
        json!({"PackageLabel": TAG, "LabFacilityName": "Pacific Analytics", "TestTypeName": "Pesticides", "TestPassed": passed,
               "TestResultLevel": null, "TestComment": "", "OverallPassed": null, "TestPerformedDate": "2026-11-13T00:00:00",
               "ResultReleased": true, "ExpirationDateTime": expiry, "RevokedDate": null})
    }

    #[test]
    fn the_states_results_become_one_certificate_for_the_batch() {
        let coa = coa_from_state(&[thc(json!(23.1), json!(true)), pesticides(true, json!("2027-11-12"))], TAG, &batch(), la())
            .unwrap()
            .expect("a certificate");
        assert_eq!(coa.batch, batch());
        assert_eq!(coa.lab, "Pacific Analytics");
        assert_eq!(coa.thc_percent, Decimal::new(231, 1), "exact, never through a float");
        assert!(coa.passed);
        // The latest test date; the date part of a date with a time.
        assert_eq!(coa.tested_on, NaiveDate::from_ymd_opt(2026, 11, 13).unwrap());
        assert_eq!(coa.expires_on, NaiveDate::from_ymd_opt(2027, 11, 12).unwrap());
    }

    #[test]
    fn one_failed_test_fails_the_certificate_and_no_expiry_means_a_year() {
        let coa =
            coa_from_state(&[thc(json!("21.70"), json!(true)), pesticides(false, Value::Null)], TAG, &batch(), la()).unwrap().unwrap();
        assert!(!coa.passed);
        assert_eq!(coa.thc_percent, Decimal::new(2170, 2), "a level sent as text");
        assert_eq!(coa.expires_on, NaiveDate::from_ymd_opt(2027, 11, 13).unwrap());
    }

    #[test]
    fn an_expiry_with_an_offset_is_the_facilitys_day() {
        // 03:00 UTC on the 12th is still the 11th in California.
        let coa = coa_from_state(&[thc(json!(20), json!(true)), pesticides(true, json!("2027-11-12T03:00:00Z"))], TAG, &batch(), la())
            .unwrap()
            .unwrap();
        assert_eq!(coa.expires_on, NaiveDate::from_ymd_opt(2027, 11, 11).unwrap());
    }

    #[test]
    fn revoked_and_unreleased_results_do_not_count() {
        let mut revoked = thc(json!(30), json!(false));
        revoked["RevokedDate"] = json!("2026-11-20");
        let mut unreleased = pesticides(false, Value::Null);
        unreleased["ResultReleased"] = json!(false);
        assert_eq!(coa_from_state(&[revoked.clone(), unreleased.clone()], TAG, &batch(), la()).unwrap(), None);
        assert_eq!(coa_from_state(&[], TAG, &batch(), la()).unwrap(), None);
        let coa = coa_from_state(&[revoked, unreleased, thc(json!(19.5), json!(true))], TAG, &batch(), la()).unwrap().unwrap();
        assert!(coa.passed);
        assert_eq!(coa.thc_percent, Decimal::new(195, 1));
    }

    #[test]
    fn a_total_thc_test_wins_over_another_thc_test() {
        let mut total = thc(json!(24.9), json!(true));
        total["TestTypeName"] = json!("Total THC");
        let coa = coa_from_state(&[thc(json!(0.4), json!(true)), total], TAG, &batch(), la()).unwrap().unwrap();
        assert_eq!(coa.thc_percent, Decimal::new(249, 1));
    }

    #[test]
    fn what_a_certificate_must_say_refuses_it_by_package_and_field() {
        let err = coa_from_state(&[pesticides(true, Value::Null)], TAG, &batch(), la()).unwrap_err();
        assert!(err.to_string().contains(TAG) && err.to_string().contains("no THC test"), "{err}");
        let err = coa_from_state(&[thc(Value::Null, json!(true))], TAG, &batch(), la()).unwrap_err();
        assert!(err.to_string().contains("THC") && err.to_string().contains("no THC level"), "{err}");
        let err = coa_from_state(&[thc(json!(-3), json!(true))], TAG, &batch(), la()).unwrap_err();
        assert!(err.to_string().contains(TAG) && err.to_string().contains("THC percentage"), "{err}");
        let mut no_date = thc(json!(20), json!(true));
        no_date["TestPerformedDate"] = Value::Null;
        assert!(coa_from_state(&[no_date], TAG, &batch(), la()).unwrap_err().to_string().contains("no test date"));
        let mut no_verdict = thc(json!(20), Value::Null);
        no_verdict["OverallPassed"] = Value::Null;
        assert!(coa_from_state(&[no_verdict], TAG, &batch(), la()).unwrap_err().to_string().contains("neither whether it passed"));
        assert!(coa_from_state(&[json!([1, 2])], TAG, &batch(), la()).unwrap_err().to_string().contains("not a record"));
    }
}
