//! Identifiers a floor worker types or scans: package tags, facility licences, items, batches,
//! locations, and the ids of users and devices.
//!
//! Every constructor normalises what scanners and people actually produce (lower case, stray
//! spaces, a trailing CR/LF/Tab from a keyboard-wedge sleeve) and refuses anything else with a
//! reason the person holding the scanner can act on.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use uuid::Uuid;

/// Why an identifier was refused. Messages are shown to floor staff as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("the {what} is empty: scan or type it again")]
    Empty { what: &'static str },
    #[error("package tag {input:?} has {len} characters; a Metrc tag has exactly 24")]
    TagLength { input: String, len: usize },
    #[error("package tag {input:?} does not start with 1A4, so it is not a Metrc package tag")]
    TagPrefix { input: String },
    #[error("package tag {input:?} has {ch:?} at position {position}; only letters A-Z and digits are allowed")]
    TagCharacter { input: String, ch: char, position: usize },
    #[error("{what} {input:?} has {ch:?}; only {allowed} are allowed")]
    Character { what: &'static str, input: String, ch: char, allowed: &'static str },
    #[error("{what} {input:?} is {len} characters long; at most {max} are allowed")]
    TooLong { what: &'static str, input: String, len: usize, max: usize },
    #[error("{what} {input:?} is not a valid id")]
    NotAnId { what: &'static str, input: String },
    #[error(transparent)]
    Text(#[from] crate::text::TextError),
}

/// Strips what scanners and people add around a code: surrounding whitespace and the wedge
/// terminators (CR, LF, Tab).
fn trim_scan(raw: &str) -> &str {
    raw.trim_matches(|c: char| c.is_whitespace() || c.is_control())
}

/// A Metrc package tag: 24 upper-case letters and digits beginning `1A4`, e.g.
/// `1A4FF0100000022000001234`. Tags are single use in the state system, so a mistyped tag is
/// never "corrected": it is refused with the reason.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct PackageTag(String);

impl PackageTag {
    pub const LEN: usize = 24;

    /// Parses scanner or keyboard input. Lower case is upper-cased; spaces (people group the digits
    /// when they type) and wedge suffixes are removed; anything else is refused.
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let cleaned: String = trim_scan(raw).chars().filter(|c| *c != ' ').map(|c| c.to_ascii_uppercase()).collect();
        if cleaned.is_empty() {
            return Err(IdError::Empty { what: "package tag" });
        }
        if let Some((position, ch)) = cleaned.chars().enumerate().find(|(_, c)| !c.is_ascii_uppercase() && !c.is_ascii_digit()) {
            return Err(IdError::TagCharacter { input: cleaned.clone(), ch, position: position + 1 });
        }
        if cleaned.len() != Self::LEN {
            return Err(IdError::TagLength { len: cleaned.len(), input: cleaned });
        }
        if !cleaned.starts_with("1A4") {
            return Err(IdError::TagPrefix { input: cleaned });
        }
        Ok(Self(cleaned))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PackageTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PackageTag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

impl std::str::FromStr for PackageTag {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Declares a validated text identifier: trimmed, optionally upper-cased, bounded in length and
/// restricted to a character class and to the text rules for names (no hidden direction
/// characters; see [`crate::text`]).
///
/// `parse` is for new input and applies every rule. Reading a stored value (serde, the device's
/// package table) applies only the rules that held when it was accepted, so tightening a rule
/// never makes an accepted event unreadable; events are checked against the full rules where
/// they enter (`EventBody::validate`, on the phone and on the server) with `check`.
macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident, what = $what:literal, max = $max:expr, upper = $upper:expr,
     allowed = $allowed:literal, ok = $ok:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// New input: every rule.
            pub fn parse(raw: &str) -> Result<Self, IdError> {
                let value = Self::from_stored(raw)?;
                crate::text::check(crate::text::Field { what: $what, max: $max, kind: crate::text::Kind::Line }, &value.0)?;
                Ok(value)
            }

            /// Whether a value read from storage or the wire meets every rule of [`Self::parse`].
            pub fn check(&self) -> Result<(), IdError> {
                Self::parse(&self.0).map(|_| ())
            }

            /// A value as it was stored: the rules it was accepted under.
            pub fn from_stored(raw: &str) -> Result<Self, IdError> {
                let trimmed = trim_scan(raw);
                let value = if $upper { trimmed.to_ascii_uppercase() } else { trimmed.to_string() };
                if value.is_empty() {
                    return Err(IdError::Empty { what: $what });
                }
                let len = value.chars().count();
                if len > $max {
                    return Err(IdError::TooLong { what: $what, input: value, len, max: $max });
                }
                let ok: fn(char) -> bool = $ok;
                if let Some(ch) = value.chars().find(|c| !ok(*c)) {
                    return Err(IdError::Character { what: $what, input: value, ch, allowed: $allowed });
                }
                Ok(Self(value))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                Self::from_stored(&raw).map_err(serde::de::Error::custom)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

text_id!(
    /// A state facility licence number, e.g. `C11-0000001-LIC` or `403R-00001`. Every event,
    /// device and request is scoped to exactly one.
    LicenseNumber, what = "licence number", max = 32, upper = true,
    allowed = "letters, digits and '-'",
    ok = |c| c.is_ascii_alphanumeric() || c == '-'
);

text_id!(
    /// The state system's item name (the product), e.g. `Live Resin - Blue Dream 1g`.
    ItemName, what = "item name", max = 150, upper = false,
    allowed = "printable characters",
    ok = |c| !c.is_control()
);

text_id!(
    /// A production batch number as printed on the certificate of analysis.
    BatchNumber, what = "batch number", max = 64, upper = true,
    allowed = "letters, digits, space and - _ . /",
    ok = |c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ' ')
);

text_id!(
    /// A storage location in the facility (a vault shelf, the intake bay, a vehicle).
    LocationName, what = "location", max = 64, upper = false,
    allowed = "printable characters",
    ok = |c| !c.is_control()
);

/// Declares a UUID-backed identifier.
macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, what = $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new, time-ordered id (UUIDv7).
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn parse(raw: &str) -> Result<Self, IdError> {
                Uuid::parse_str(trim_scan(raw))
                    .map(Self)
                    .map_err(|_| IdError::NotAnId { what: $what, input: raw.to_string() })
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

uuid_id!(
    /// A person who signs in on a shared handheld.
    UserId, what = "user id"
);
uuid_id!(
    /// An enrolled phone or handheld.
    DeviceId, what = "device id"
);

#[cfg(test)]
mod tests {
    use super::*;

    const TAG: &str = "1A4FF0100000022000001234";

    #[test]
    fn tag_normalises_scanner_input() {
        for raw in [
            TAG.to_string(),
            TAG.to_lowercase(),
            format!("{TAG}\r\n"),
            format!("{TAG}\t"),
            format!("  {TAG} "),
            "1A4F F010 0000 0220 0000 1234".to_string(),
        ] {
            assert_eq!(PackageTag::parse(&raw).unwrap().as_str(), TAG, "input {raw:?}");
        }
    }

    #[test]
    fn tag_refuses_with_reason() {
        assert!(matches!(PackageTag::parse(""), Err(IdError::Empty { .. })));
        assert!(matches!(PackageTag::parse("\r\n"), Err(IdError::Empty { .. })));
        assert!(matches!(PackageTag::parse("1A4FF010000002200000123"), Err(IdError::TagLength { len: 23, .. })));
        assert!(matches!(PackageTag::parse("2A4FF0100000022000001234"), Err(IdError::TagPrefix { .. })));
        let err = PackageTag::parse("1A4FF01000000220000-1234").unwrap_err();
        assert!(matches!(err, IdError::TagCharacter { ch: '-', position: 20, .. }), "{err}");
        assert!(err.to_string().contains("position 20"));
    }

    #[test]
    fn tag_serde_goes_through_validation() {
        let ok: PackageTag = serde_json::from_str(&format!("\"{}\"", TAG.to_lowercase())).unwrap();
        assert_eq!(ok.as_str(), TAG);
        let err = serde_json::from_str::<PackageTag>("\"1A4-bad\"").unwrap_err();
        assert!(err.to_string().contains("only letters"), "{err}");
    }

    #[test]
    fn licence_and_names() {
        assert_eq!(LicenseNumber::parse(" c11-0000001-lic\n").unwrap().as_str(), "C11-0000001-LIC");
        assert!(LicenseNumber::parse("C11 0001").is_err());
        assert!(matches!(ItemName::parse("  "), Err(IdError::Empty { .. })));
        assert!(BatchNumber::parse(&"X".repeat(65)).is_err());
        assert_eq!(BatchNumber::parse("lr-2026-11").unwrap().as_str(), "LR-2026-11");
        assert!(LocationName::parse("Vault A / Shelf 3").is_ok());
        assert!(UserId::parse("not-a-uuid").is_err());
    }

    #[test]
    fn names_with_hidden_direction_characters_are_refused_but_stored_ones_still_read() {
        let spoof = "Vault A\u{202E}3 flehS";
        let err = LocationName::parse(spoof).unwrap_err();
        assert!(err.to_string().contains("hidden text-direction character (U+202E)"), "{err}");
        assert!(ItemName::parse("Blue Dream \u{2066}1g").is_err());
        assert!(ItemName::parse("Blue Dream \u{200F}1g").is_err());
        // An event accepted before the rule existed still reads, and is caught by `check`.
        let stored: LocationName = serde_json::from_str(&serde_json::to_string(spoof).unwrap()).unwrap();
        assert!(stored.check().is_err());
        assert!(LocationName::parse("Bóveda 3").unwrap().check().is_ok());
    }
}
