//! What the apps type into form fields (dates, numbers, ids, lists), read once for both apps.
//!
//! Each reader trims what a person or a keyboard adds around the value and refuses anything
//! else with a sentence the person holding the phone can act on. The FFI passes text through
//! these and nothing else; it never trims or parses on its own (docs/decisions/0009).

use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use uuid::Uuid;

/// Why a typed value was refused; the message is shown as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

/// An optional calendar date typed as `YYYY-MM-DD`: blank is none.
pub fn optional_date(text: &str) -> Result<Option<NaiveDate>, InputError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| InputError(format!("{text:?} is not a date; use the form 2027-06-30")))
}

/// A calendar date that must be given (`what`: "expiry", "test", ...).
pub fn date(what: &str, text: &str) -> Result<NaiveDate, InputError> {
    optional_date(text)?.ok_or_else(|| InputError(format!("enter the {what} date, like 2027-06-30")))
}

/// A decimal number typed as text (`what`: "unit price", "latitude", ...); never a float.
pub fn number(what: &str, text: &str) -> Result<Decimal, InputError> {
    Decimal::from_str(text.trim()).map_err(|_| InputError(format!("{text:?} is not a number; enter the {what} like 12.5")))
}

/// An id this library handed out, coming back (`what`: "order", "count session", ...).
pub fn id(what: &str, text: &str) -> Result<Uuid, InputError> {
    Uuid::parse_str(text.trim()).map_err(|_| InputError(format!("{text:?} is not a valid {what} id")))
}

/// An optional reference typed as text (a manifest number, ...): trimmed, blank is none.
pub fn optional_text(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
}

/// A list of typed entries (categories, ...): each trimmed, blank ones dropped.
pub fn entries(items: impl IntoIterator<Item = String>) -> Vec<String> {
    items.into_iter().map(|i| i.trim().to_string()).filter(|i| !i.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_trimmed_and_blank_is_none() {
        assert_eq!(optional_date(" 2027-06-30 \n"), Ok(NaiveDate::from_ymd_opt(2027, 6, 30)));
        assert_eq!(optional_date("  "), Ok(None));
        assert_eq!(optional_date("30/06/2027").unwrap_err().to_string(), "\"30/06/2027\" is not a date; use the form 2027-06-30");
        assert_eq!(date("expiry", "").unwrap_err().to_string(), "enter the expiry date, like 2027-06-30");
        assert_eq!(date("test", "2026-01-02"), Ok(NaiveDate::from_ymd_opt(2026, 1, 2).unwrap()));
    }

    #[test]
    fn optional_text_is_trimmed_and_blank_is_none() {
        assert_eq!(optional_text(Some(" 0001234567\r\n".into())), Some("0001234567".into()));
        assert_eq!(optional_text(Some(" \t".into())), None);
        assert_eq!(optional_text(None), None);
    }

    #[test]
    fn numbers_are_decimals_with_a_sentence() {
        assert_eq!(number("unit price", " 12.50 "), Ok(Decimal::new(1250, 2)));
        assert_eq!(number("latitude", "12,5").unwrap_err().to_string(), "\"12,5\" is not a number; enter the latitude like 12.5");
    }

    #[test]
    fn ids_are_trimmed_uuids() {
        let u = Uuid::now_v7();
        assert_eq!(id("order", &format!(" {u}\n")), Ok(u));
        assert_eq!(id("order", "nope").unwrap_err().to_string(), "\"nope\" is not a valid order id");
    }

    #[test]
    fn entries_drop_blanks() {
        assert_eq!(entries(vec![" Flower ".into(), "  ".into(), "Edibles".into()]), vec!["Flower", "Edibles"]);
    }
}
