//! Scanner input: one entry point, [`parse_scan`], takes whatever text a scanner produced and
//! says what it is: a Metrc package tag, a GS1 barcode, or a location label, or why it is none of
//! them.
//!
//! # What the scanners send
//!
//! - A keyboard-wedge sleeve types the code and ends with Enter (CR, LF or CRLF) or Tab.
//! - A Zebra DataWedge intent delivers the data, sometimes with a trailing `\n` or wrapped in
//!   control characters (STX/ETX).
//! - The camera gives the decoded text.
//!
//! Surrounding whitespace and control characters are always removed first. A scanner set to
//! transmit an AIM symbology identifier (`]` + two characters, e.g. `]C0`) is understood: the GS1
//! ones (`]C1` GS1-128, `]d2` GS1 DataMatrix, `]Q3` GS1 QR, `]e0` GS1 DataBar) mean the rest is a
//! GS1 element string; any other identifier is removed and the rest read as below.
//!
//! # Conventions
//!
//! - **Package tag**: after removing spaces, text starting with `1A4` (any case), or any 24 letters
//!   and digits, is read as a Metrc tag by [`PackageTag::parse`]; its refusal is passed on as is
//!   (so a 23-character tag says it has 23 characters).
//! - **Location label**: text starting with [`LOCATION_PREFIX`] (`LOC:`, any case), e.g.
//!   `LOC:Vault A / Shelf 3`; the rest is a [`LocationName`]. Labels printed for Custody use it.
//! - **GS1 barcode**, in four forms:
//!   - human-readable with parentheses: `(01)00012345600012(17)261231(10)LR-2026-11`, spaces
//!     around values allowed. A value ends where the next `(` + 2 to 4 digits + `)` begins, so a
//!     batch that itself contains such a group cannot be written in this form;
//!   - an element string whose FNC1 separators are the ASCII GS character (`\x1D`, what DataWedge
//!     and most sleeves send) or the text `<GS>` (any case; for wedges that cannot type GS). It is
//!     read as GS1 when it carries a GS1 symbology identifier, or contains a separator, or starts
//!     with GTIN (01) and its 14 digits. Other FNC1 stand-ins (`~1`, `^`) are not read: they show
//!     up as a character a GS1 barcode cannot carry.
//!
//!   - a **GS1 Digital Link** URI, what the QR codes replacing linear barcodes carry:
//!     `https://id.example.com/01/{gtin}/10/{batch}/21/{serial}?17=261231&3103=001500`, read as
//!     GS1's reference engine reads it (see `scan/digital_link.rs`). A web address that is not a GS1
//!     Digital Link is refused like any other text Custody does not recognise.
//!
//!   Fixed-length values (GTIN 14 digits, dates 6, weights 6, ...) need no separator after them
//!   (one is tolerated); variable-length values (batch/lot, serial, ...) end at a separator or at
//!   the end. A wedge that drops the separators entirely cannot be told apart from a long batch
//!   number: configure it to send GS or `<GS>`.
//!
//! # Application identifiers
//!
//! Read into [`Gs1`]: GTIN (01), batch/lot (10), expiry (17), serial (21), net weight in kg
//! (3100-3105) and lb (3200-3205). A few other common ones are checked as the GS1 General
//! Specifications define them and kept as they are in [`Gs1::other`] (SSCC (00), (02), the other
//! dates (11)/(12)/(13)/(15)/(16), (20), (22), (30), (37), (400), (410)-(415), gross weight
//! (330n)/(340n), internal (90)-(99)), so a logistics label is still usable. Any other identifier
//! is refused by name rather than guessed at.
//!
//! What is checked beyond length and characters, as GS1's Barcode Syntax Dictionary does:
//! - the mod-10 check digit of (01), (00), (02) and (410)-(415);
//! - every date is a real date (see below);
//! - pairs GS1 forbids on one label: (01) with (02) or (37), and two different decimal positions
//!   of one measure (3102 with 3103; likewise 320n, 330n, 340n);
//! - a kg (310n) and an lb (320n) net weight on one label must be the same mass within the two
//!   figures' resolution (see `net_weight_pair`).
//!
//! GS1's "required with" rules (a batch needs a GTIN, ...) are not enforced: a worker may scan a
//! label that carries only the part the screen asks for.
//!
//! Dates are YYMMDD with the GS1 century rule (a two-digit year falls within 49 years before and
//! 50 years after the current year). GS1 allows DD = 00 in all six date identifiers ((11), (12),
//! (13), (15), (16), (17): the Syntax Dictionary's `yymmd0`, "if only year and month are
//! available, DD must be filled with two zeroes"); the only one Custody turns into a date is the
//! expiry (17), where 00 means the last day of the month (the General Specifications' reading
//! for expiry and best-before). The others are checked as dates and kept as encoded.
//!
//! A scan longer than [`MAX_SCAN_BYTES`] is refused before anything else is done with it.

mod digital_link;

use std::fmt;

use chrono::{Datelike, Months, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize};

use crate::ids::{BatchNumber, IdError, LocationName, PackageTag};
use crate::quantity::{Quantity, Unit};

/// The prefix that makes a scanned label a location: `LOC:Vault A / Shelf 3`.
pub const LOCATION_PREFIX: &str = "LOC:";

/// The ASCII group separator, how FNC1 reaches us from most scanners.
const GS: char = '\u{1D}';

/// At most this many characters of a scan are repeated in a message.
const SHOWN_MAX: usize = 40;

/// The longest scan read, in bytes. The largest GS1 symbol (a QR code) holds under 3 KB of
/// text, so anything longer is several scans run together or a wedge gone wrong; refusing it
/// before parsing keeps a stuck scanner from tying up the phone.
pub const MAX_SCAN_BYTES: usize = 8 * 1024;

/// One pound is exactly 0.45359237 kg (the international yard and pound agreement, 1959).
const KG_PER_LB: Decimal = Decimal::from_parts(45_359_237, 0, 0, false, 8);

/// What a scan turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    Package(PackageTag),
    Gs1(Gs1),
    Location(LocationName),
}

/// The parts of a GS1 barcode Custody reads. Every part is optional: a label may carry any of
/// them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Gs1 {
    /// GTIN (01), check digit verified.
    pub gtin: Option<Gtin>,
    /// Batch/lot (10) exactly as encoded (case kept; 1 to 20 GS1 characters). See
    /// [`Gs1::batch_number`] for the domain's [`BatchNumber`].
    pub batch: Option<String>,
    /// Expiry (17).
    pub expiry: Option<NaiveDate>,
    /// Serial number (21) exactly as encoded.
    pub serial: Option<String>,
    /// Net weight (310n in kg, 320n in lb), exact: the amount keeps the n decimals of the barcode
    /// (`3102000150` is 1.50 kg). A label with both a kg and an lb figure of the same mass gives
    /// the kg one (the regulated unit).
    pub net_weight: Option<Quantity>,
    /// Other recognised application identifiers Custody does not use, in barcode order.
    pub other: Vec<Gs1Element>,
}

impl Gs1 {
    /// The batch/lot as the domain's [`BatchNumber`] (upper-cased), or why it cannot be one.
    pub fn batch_number(&self) -> Result<Option<BatchNumber>, IdError> {
        self.batch.as_deref().map(BatchNumber::parse).transpose()
    }
}

/// One application identifier and its value, as encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gs1Element {
    pub ai: String,
    pub value: String,
}

/// A GTIN as GS1 (01) carries it: 14 digits, the last a valid GS1 mod-10 check digit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Gtin(String);

impl Gtin {
    pub const LEN: usize = 14;

    /// Exactly 14 digits with the right check digit; the error names the digit it should be.
    pub fn parse(digits: &str) -> Result<Self, ScanError> {
        check_value("01", &GTIN_SPEC, digits)?;
        let expected = check_digit(&digits[..Self::LEN - 1]);
        let found = digits.as_bytes()[Self::LEN - 1] - b'0';
        if found != expected {
            return Err(ScanError::GtinCheckDigit { gtin: digits.to_string(), found, expected });
        }
        Ok(Self(digits.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Gtin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Gtin {
    type Err = ScanError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl<'de> Deserialize<'de> for Gtin {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// The GS1 mod-10 check digit of the digits before it (weights 3, 1, 3, ... from the right).
/// `body` must be ASCII digits.
fn check_digit(body: &str) -> u8 {
    let sum: u32 = body.bytes().rev().enumerate().map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 }).sum();
    ((10 - sum % 10) % 10) as u8
}

/// Why a scan was refused. Messages are shown to floor staff as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    #[error("the scan is empty: scan again")]
    Empty,
    /// It looked like a package tag; the tag's own reason.
    #[error(transparent)]
    Tag(IdError),
    /// It was a location label; the location's own reason.
    #[error(transparent)]
    Location(IdError),
    #[error("this is not a package tag, a GS1 barcode or a location label: '{text}'")]
    Unrecognised { text: String },
    #[error("this GS1 barcode carries no data")]
    Gs1Empty,
    #[error("this barcode has '{text}' where an application identifier like (01) should be")]
    NotAnAi { text: String },
    #[error("this barcode has application identifier ({ai}), which Custody does not read")]
    UnknownAi { ai: String },
    #[error("{name} ({ai}) needs {needs} digits; this barcode has {}", got_text(.got))]
    Digits { ai: String, name: &'static str, needs: usize, got: String },
    #[error("{name} ({ai}) is empty")]
    EmptyValue { ai: String, name: &'static str },
    #[error("{name} ({ai}) has {ch:?}; only {allowed} are allowed")]
    Character { ai: String, name: &'static str, ch: char, allowed: &'static str },
    #[error("{name} ({ai}) is {len} characters long; at most {max} are allowed")]
    TooLong { ai: String, name: &'static str, len: usize, max: usize },
    #[error("GTIN {gtin} has check digit {found}; it should be {expected}")]
    GtinCheckDigit { gtin: String, found: u8, expected: u8 },
    #[error("{name} ({ai}) {value} is not a date")]
    NotADate { ai: String, name: &'static str, value: String },
    #[error("this barcode has {name} ({ai}) twice, with different values")]
    Duplicate { ai: String, name: &'static str },
    #[error(
        "{name} ({ai}) {value} has check digit {found}; it should be {expected}: scan again, and if it repeats the label is misprinted"
    )]
    CheckDigit { ai: String, name: &'static str, value: String, found: u8, expected: u8 },
    #[error(
        "this barcode has both {first_name} ({first}) and {second_name} ({second}), which GS1 does not allow on one label: \
         the label is misprinted, so report it and enter the details by hand"
    )]
    ForbiddenPair { first: String, first_name: &'static str, second: String, second_name: &'static str },
    #[error(
        "this barcode's net weights disagree: ({kg_ai}) says {kg} kg but ({lb_ai}) says {lb} lb, which is {lb_in_kg} kg: \
         the label is misprinted, so weigh the package instead"
    )]
    NetWeightsDisagree { kg_ai: String, kg: Decimal, lb_ai: String, lb: Decimal, lb_in_kg: Decimal },
    #[error("this scan is {len} bytes long; a label holds at most {max}: scan one label at a time")]
    ScanTooLong { len: usize, max: usize },
    #[error("this GS1 Digital Link has {ch:?}, which a web address cannot carry: scan the code again")]
    NotUriCharacter { ch: char },
    #[error("this GS1 Digital Link has {found} after ({key}) in its path, where GS1 allows only {allowed}: the code is misprinted")]
    DigitalLinkPath { key: String, found: String, allowed: String },
    #[error("this GS1 Digital Link carries ({ai}) after the '?', but GS1 puts it in the path after ({key}): the code is misprinted")]
    DigitalLinkQuery { ai: String, key: String },
}

fn got_text(got: &str) -> String {
    if got.is_empty() { "none".to_string() } else { format!("'{got}'") }
}

/// Reads a scan, placing two-digit years with today's date on this device.
pub fn parse_scan(raw: &str) -> Result<Scan, ScanError> {
    parse_scan_on(raw, chrono::Local::now().date_naive())
}

/// [`parse_scan`] with the date that decides the century of two-digit years.
pub fn parse_scan_on(raw: &str, today: NaiveDate) -> Result<Scan, ScanError> {
    if raw.len() > MAX_SCAN_BYTES {
        return Err(ScanError::ScanTooLong { len: raw.len(), max: MAX_SCAN_BYTES });
    }
    let had_separator = raw.contains(GS) || contains_gs_text(raw);
    let text = trim_scan(raw);
    if text.is_empty() {
        return Err(ScanError::Empty);
    }
    let (gs1_symbology, body) = split_symbology(text);
    if gs1_symbology {
        return parse_gs1(body, today).map(Scan::Gs1);
    }
    let body = trim_scan(body);
    if body.is_empty() {
        return Err(ScanError::Empty);
    }
    // A web address is read as a GS1 Digital Link when it is one; otherwise it falls through
    // to the refusal any unrecognised text gets.
    if let Some(elements) = digital_link::elements(body) {
        let elements = elements?.into_iter().map(|(ai, value)| known(ai).map(|(ai, spec)| (ai, spec, value))).collect::<Result<_, _>>()?;
        return assemble(elements, today).map(Scan::Gs1);
    }

    if starts_with_ignore_case(body, LOCATION_PREFIX) {
        // The prefix is ASCII, so its length is a character boundary.
        return LocationName::parse(&body[LOCATION_PREFIX.len()..]).map(Scan::Location).map_err(ScanError::Location);
    }

    let gs1_core: Vec<char> = strip_leading_separators(&normalise_separators(body));
    if group_at(&gs1_core, 0).is_some() {
        return parse_gs1(body, today).map(Scan::Gs1);
    }
    let two_digits = gs1_core.len() >= 2 && gs1_core[..2].iter().all(char::is_ascii_digit);
    let gtin_first = gs1_core.len() >= 16 && gs1_core[0] == '0' && gs1_core[1] == '1' && gs1_core[2..16].iter().all(char::is_ascii_digit);
    if two_digits && (had_separator || gtin_first) {
        return parse_gs1(body, today).map(Scan::Gs1);
    }

    let compact: String = body.chars().filter(|c| *c != ' ').map(|c| c.to_ascii_uppercase()).collect();
    let tag_like =
        compact.starts_with("1A4") || (compact.chars().count() == PackageTag::LEN && compact.chars().all(|c| c.is_ascii_alphanumeric()));
    if tag_like {
        return PackageTag::parse(body).map(Scan::Package).map_err(ScanError::Tag);
    }

    Err(ScanError::Unrecognised { text: shown(text.chars()) })
}

/// Strips what scanners add around a code: whitespace and control characters (CR, LF, Tab, GS,
/// STX/ETX).
fn trim_scan(raw: &str) -> &str {
    raw.trim_matches(|c: char| c.is_whitespace() || c.is_control())
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.len() >= prefix.len() && text.is_char_boundary(prefix.len()) && text[..prefix.len()].eq_ignore_ascii_case(prefix)
}

fn contains_gs_text(raw: &str) -> bool {
    raw.as_bytes().windows(4).any(|w| w.eq_ignore_ascii_case(b"<GS>"))
}

/// Splits off an AIM symbology identifier (`]` + letter + letter or digit). The flag says whether
/// it is one of the GS1 ones.
fn split_symbology(text: &str) -> (bool, &str) {
    let b = text.as_bytes();
    if b.len() >= 3 && b[0] == b']' && b[1].is_ascii_alphabetic() && b[2].is_ascii_alphanumeric() {
        let gs1 = matches!(&text[..3], "]C1" | "]d2" | "]Q3" | "]e0");
        return (gs1, &text[3..]);
    }
    (false, text)
}

/// The text as characters with every `<GS>` turned into the GS character.
fn normalise_separators(text: &str) -> Vec<char> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        if i + 4 <= chars.len()
            && chars[i] == '<'
            && chars[i + 1].eq_ignore_ascii_case(&'G')
            && chars[i + 2].eq_ignore_ascii_case(&'S')
            && chars[i + 3] == '>'
        {
            out.push(GS);
            i += 4;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

fn strip_leading_separators(chars: &[char]) -> Vec<char> {
    let start = chars.iter().position(|c| *c != GS && !c.is_whitespace()).unwrap_or(chars.len());
    chars[start..].to_vec()
}

/// A message-safe rendering of scanned text: at most [`SHOWN_MAX`] characters, control
/// characters made visible.
fn shown(chars: impl Iterator<Item = char>) -> String {
    let mut out = String::new();
    for (i, c) in chars.enumerate() {
        if i == SHOWN_MAX {
            out.push('…');
            break;
        }
        if c == GS {
            out.push_str("<GS>");
        } else if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// GS1

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Exactly this many digits (the GS1 predefined-length table).
    Fixed(usize),
    /// 1 to `max` characters, ended by FNC1 or the end of the data.
    Variable { max: usize, numeric: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Gtin,
    Batch,
    Expiry,
    /// A date Custody keeps as encoded, checked as a date.
    Date,
    Serial,
    /// Net weight with this many decimals.
    NetKg(u32),
    NetLb(u32),
    Other,
}

#[derive(Debug, Clone, Copy)]
struct AiSpec {
    name: &'static str,
    kind: Kind,
    field: Field,
    /// The last digit is a GS1 mod-10 check digit (GTIN's own check is in [`Gtin::parse`]).
    check_digit: bool,
}

const GTIN_SPEC: AiSpec = AiSpec { name: "GTIN", kind: Kind::Fixed(Gtin::LEN), field: Field::Gtin, check_digit: true };

/// The application identifiers Custody recognises, by their exact digits.
fn spec_for(ai: &str) -> Option<AiSpec> {
    use Field::*;
    use Kind::*;
    let s = |name, kind, field| Some(AiSpec { name, kind, field, check_digit: false });
    let keyed = |name, len| Some(AiSpec { name, kind: Fixed(len), field: Other, check_digit: true });
    let var = |max| Variable { max, numeric: false };
    match ai {
        "00" => keyed("SSCC", 18),
        "01" => Some(GTIN_SPEC),
        "02" => keyed("contained GTIN", 14),
        "10" => s("batch/lot", var(20), Batch),
        "11" => s("production date", Fixed(6), Date),
        "12" => s("due date", Fixed(6), Date),
        "13" => s("packing date", Fixed(6), Date),
        "15" => s("best-before date", Fixed(6), Date),
        "16" => s("sell-by date", Fixed(6), Date),
        "17" => s("expiry", Fixed(6), Expiry),
        "20" => s("variant", Fixed(2), Other),
        "21" => s("serial number", var(20), Serial),
        "22" => s("product variant", var(20), Other),
        "30" => s("count", Variable { max: 8, numeric: true }, Other),
        "37" => s("count", Variable { max: 8, numeric: true }, Other),
        "400" => s("order number", var(30), Other),
        "410" | "411" | "412" | "413" | "414" | "415" => keyed("location number", 13),
        "90" => s("internal code", var(30), Other),
        "91" | "92" | "93" | "94" | "95" | "96" | "97" | "98" | "99" => s("internal code", var(90), Other),
        _ => {
            let b = ai.as_bytes();
            if b.len() != 4 || !b.iter().all(u8::is_ascii_digit) || b[3] > b'5' {
                return None;
            }
            let decimals = u32::from(b[3] - b'0');
            match &ai[..3] {
                "310" => s("net weight", Fixed(6), NetKg(decimals)),
                "320" => s("net weight", Fixed(6), NetLb(decimals)),
                "330" | "340" => s("gross weight", Fixed(6), Other),
                _ => None,
            }
        }
    }
}

/// The spec of an identifier Custody knows, or the refusal naming it.
fn known(ai: String) -> Result<(String, AiSpec), ScanError> {
    match spec_for(&ai) {
        Some(spec) => Ok((ai, spec)),
        None => Err(ScanError::UnknownAi { ai }),
    }
}

/// How many digits an application identifier starting with these two digits has, to name one
/// Custody does not know. Only used in messages.
fn ai_digits(prefix: u8) -> usize {
    match prefix {
        23..=25 | 40..=42 | 71 => 3,
        31..=36 | 39 | 43 | 70 | 72 | 80..=82 => 4,
        _ => 2,
    }
}

/// The GS1 character set 82, what (10), (21) and the other text values may carry.
fn is_gs1_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!\"%&'()*+,-./:;<=>?_".contains(c)
}

const GS1_CHARS: &str = "letters, digits and ! \" % & ' ( ) * + , - . / : ; < = > ? _";

/// Checks a value against its identifier's length and characters.
fn check_value(ai: &str, spec: &AiSpec, value: &str) -> Result<(), ScanError> {
    let name = spec.name;
    match spec.kind {
        Kind::Fixed(needs) => {
            if value.chars().count() != needs || !value.chars().all(|c| c.is_ascii_digit()) {
                return Err(ScanError::Digits { ai: ai.to_string(), name, needs, got: shown(value.chars()) });
            }
        }
        Kind::Variable { max, numeric } => {
            if value.is_empty() {
                return Err(ScanError::EmptyValue { ai: ai.to_string(), name });
            }
            let (ok, allowed): (fn(char) -> bool, _) =
                if numeric { (|c: char| c.is_ascii_digit(), "digits") } else { (is_gs1_char, GS1_CHARS) };
            if let Some(ch) = value.chars().find(|c| !ok(*c)) {
                return Err(ScanError::Character { ai: ai.to_string(), name, ch, allowed });
            }
            let len = value.chars().count();
            if len > max {
                return Err(ScanError::TooLong { ai: ai.to_string(), name, len, max });
            }
        }
    }
    Ok(())
}

/// Reads a GS1 barcode in either form: parenthesised or an element string.
fn parse_gs1(body: &str, today: NaiveDate) -> Result<Gs1, ScanError> {
    let chars = strip_leading_separators(&normalise_separators(body));
    let elements = if chars.first() == Some(&'(') { split_bracketed(&chars)? } else { split_element_string(&chars)? };
    if elements.is_empty() {
        return Err(ScanError::Gs1Empty);
    }
    assemble(elements, today)
}

/// A `(` + 2 to 4 digits + `)` group at `i`: the identifier and the index of the `)`.
fn group_at(s: &[char], i: usize) -> Option<(String, usize)> {
    if s.get(i) != Some(&'(') {
        return None;
    }
    let digits = s[i + 1..].iter().take(5).take_while(|c| c.is_ascii_digit()).count();
    let close = i + 1 + digits;
    if (2..=4).contains(&digits) && s.get(close) == Some(&')') { Some((s[i + 1..close].iter().collect(), close)) } else { None }
}

/// `(01)00012345600012(17)261231(10)LR-2026-11`, spaces around values allowed.
fn split_bracketed(s: &[char]) -> Result<Vec<(String, AiSpec, String)>, ScanError> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let Some((ai, close)) = group_at(s, i) else {
            return Err(ScanError::NotAnAi { text: shown(s[i..].iter().copied()) });
        };
        let spec = spec_for(&ai).ok_or_else(|| ScanError::UnknownAi { ai: ai.clone() })?;
        let start = close + 1;
        let end = (start..s.len()).find(|&k| group_at(s, k).is_some()).unwrap_or(s.len());
        let value: String = s[start..end].iter().collect();
        let value = value.trim_matches(|c: char| c == GS || c.is_whitespace()).to_string();
        out.push((ai, spec, value));
        i = end;
    }
    Ok(out)
}

/// An element string with GS as FNC1: `0100012345600012` `10LR-2026-11` GS `17261231`.
fn split_element_string(s: &[char]) -> Result<Vec<(String, AiSpec, String)>, ScanError> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        if s[i] == GS {
            i += 1;
            continue;
        }
        let rest = &s[i..];
        let found = (2..=4).filter(|&n| n <= rest.len() && rest[..n].iter().all(char::is_ascii_digit)).find_map(|n| {
            let ai: String = rest[..n].iter().collect();
            spec_for(&ai).map(|spec| (ai, spec))
        });
        let Some((ai, spec)) = found else {
            return Err(unreadable_ai(rest));
        };
        i += ai.len();
        let limit = match spec.kind {
            Kind::Fixed(n) => (i + n).min(s.len()),
            Kind::Variable { .. } => s.len(),
        };
        let end = (i..limit).find(|&k| s[k] == GS).unwrap_or(limit);
        out.push((ai, spec, s[i..end].iter().collect()));
        i = end;
    }
    Ok(out)
}

/// The error for an element string where no identifier Custody knows begins.
fn unreadable_ai(rest: &[char]) -> ScanError {
    let digits = rest.iter().take(4).take_while(|c| c.is_ascii_digit()).count();
    if digits >= 2 {
        let prefix = (rest[0] as u8 - b'0') * 10 + (rest[1] as u8 - b'0');
        let n = ai_digits(prefix).min(digits);
        return ScanError::UnknownAi { ai: rest[..n].iter().collect() };
    }
    ScanError::NotAnAi { text: shown(rest.iter().copied().take_while(|c| *c != GS)) }
}

fn assemble(elements: Vec<(String, AiSpec, String)>, today: NaiveDate) -> Result<Gs1, ScanError> {
    let mut gs1 = Gs1::default();
    let mut seen: Vec<(String, &'static str, String)> = Vec::new();
    // The first kg and the first lb net weight, with their identifiers.
    let mut kg: Option<(String, Decimal)> = None;
    let mut lb: Option<(String, Decimal)> = None;
    for (ai, spec, value) in elements {
        check_value(&ai, &spec, &value)?;
        if let Some((_, _, earlier)) = seen.iter().find(|(a, _, _)| *a == ai) {
            if *earlier == value {
                continue;
            }
            return Err(ScanError::Duplicate { ai, name: spec.name });
        }
        if spec.check_digit && spec.field != Field::Gtin {
            verify_check_digit(&ai, spec.name, &value)?;
        }
        match spec.field {
            Field::Gtin => gs1.gtin = Some(Gtin::parse(&value)?),
            Field::Batch => gs1.batch = Some(value.clone()),
            Field::Serial => gs1.serial = Some(value.clone()),
            Field::Expiry => gs1.expiry = Some(gs1_date(&ai, spec.name, &value, today)?),
            Field::Date => {
                gs1_date(&ai, spec.name, &value, today)?;
                gs1.other.push(Gs1Element { ai: ai.clone(), value: value.clone() });
            }
            Field::NetKg(decimals) | Field::NetLb(decimals) => {
                // Six validated digits: at most 999999, well inside i64.
                let units: i64 = value.parse().map_err(|_| ScanError::Digits {
                    ai: ai.clone(),
                    name: spec.name,
                    needs: 6,
                    got: shown(value.chars()),
                })?;
                let slot = if matches!(spec.field, Field::NetKg(_)) { &mut kg } else { &mut lb };
                // A second figure in the same unit has another decimal position (the same
                // identifier twice was handled above): the pair check below refuses it.
                slot.get_or_insert((ai.clone(), Decimal::new(units, decimals)));
            }
            Field::Other => gs1.other.push(Gs1Element { ai: ai.clone(), value: value.clone() }),
        }
        seen.push((ai, spec.name, value));
    }
    forbidden_pair(&seen)?;
    gs1.net_weight = net_weight_pair(kg, lb)?;
    Ok(gs1)
}

/// Verifies the GS1 mod-10 check digit that ends a validated all-digit value.
fn verify_check_digit(ai: &str, name: &'static str, value: &str) -> Result<(), ScanError> {
    let (body, last) = value.split_at(value.len() - 1);
    let found = last.as_bytes()[0] - b'0';
    let expected = check_digit(body);
    if found != expected {
        return Err(ScanError::CheckDigit { ai: ai.to_string(), name, value: value.to_string(), found, expected });
    }
    Ok(())
}

/// The pairs of GS1's invalid-pairs rules (the Barcode Syntax Dictionary's `ex=` attributes)
/// among the identifiers Custody reads: (01) excludes (02) and (37); a measure's decimal
/// positions exclude each other (3102 with 3103, and the same for 320n, 330n and 340n).
fn forbidden_pair(seen: &[(String, &'static str, String)]) -> Result<(), ScanError> {
    let excludes = |a: &str, b: &str| {
        matches!((a, b), ("01", "02" | "37"))
            || (a.len() == 4 && b.len() == 4 && a != b && a[..3] == b[..3] && matches!(&a[..3], "310" | "320" | "330" | "340"))
    };
    for (i, (first, first_name, _)) in seen.iter().enumerate() {
        for (second, second_name, _) in &seen[i + 1..] {
            if excludes(first, second) || excludes(second, first) {
                return Err(ScanError::ForbiddenPair { first: first.clone(), first_name, second: second.clone(), second_name });
            }
        }
    }
    Ok(())
}

/// The net weight of a label from its kg and lb figures. With both, they must be one mass: GS1
/// does not say whether a printer rounds or truncates to an identifier's decimals, so each
/// figure may be off by up to one unit of its last decimal (its resolution: 0.01 kg for 3102,
/// 0.001 lb for 3203), and the two agree when they differ by at most the sum of the two
/// resolutions, all in exact decimals. The kg figure is kept: it is the unit the regulator
/// counts in.
fn net_weight_pair(kg: Option<(String, Decimal)>, lb: Option<(String, Decimal)>) -> Result<Option<Quantity>, ScanError> {
    let quantity = |amount: Decimal, unit| Some(Quantity { amount, unit });
    match (kg, lb) {
        (None, None) => Ok(None),
        (Some((_, k)), None) => Ok(quantity(k, Unit::Kg)),
        (None, Some((_, l))) => Ok(quantity(l, Unit::Lb)),
        (Some((kg_ai, k)), Some((lb_ai, l))) => {
            let resolution = |d: Decimal| Decimal::new(1, d.scale());
            let lb_in_kg = l * KG_PER_LB;
            let tolerance = resolution(k) + resolution(l) * KG_PER_LB;
            if (k - lb_in_kg).abs() <= tolerance {
                return Ok(quantity(k, Unit::Kg));
            }
            // Shown to two decimals more than the kg figure has: enough to compare by eye.
            let lb_in_kg = lb_in_kg.round_dp(k.scale() + 2).normalize();
            Err(ScanError::NetWeightsDisagree { kg_ai, kg: k, lb_ai, lb: l, lb_in_kg })
        }
    }
}

/// A GS1 YYMMDD date (six validated digits): the century from `today` (the year lands within 49
/// years before and 50 after), DD = 00 for the last day of the month.
fn gs1_date(ai: &str, name: &'static str, value: &str, today: NaiveDate) -> Result<NaiveDate, ScanError> {
    let not_a_date = || ScanError::NotADate { ai: ai.to_string(), name, value: value.to_string() };
    let part = |k: usize| value.get(k..k + 2).and_then(|p| p.parse::<u32>().ok()).ok_or_else(not_a_date);
    let (yy, month, day) = (part(0)? as i32, part(2)?, part(4)?);
    let year = gs1_year(yy, today.year());
    let date = if day == 0 {
        NaiveDate::from_ymd_opt(year, month, 1).and_then(|first| first.checked_add_months(Months::new(1))).and_then(|next| next.pred_opt())
    } else {
        NaiveDate::from_ymd_opt(year, month, day)
    };
    date.ok_or_else(not_a_date)
}

/// GS1 General Specifications, determination of the century: a difference of 51 to 99 years
/// ahead of the current year is the previous century, 50 to 99 behind the next one.
fn gs1_year(yy: i32, current_year: i32) -> i32 {
    let current_yy = current_year.rem_euclid(100);
    let century = current_year - current_yy;
    let diff = yy - current_yy;
    if diff >= 51 {
        century - 100 + yy
    } else if diff <= -50 {
        century + 100 + yy
    } else {
        century + yy
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::str::FromStr;

    const TAG: &str = "1A4FF0100000022000001234";
    const GTIN: &str = "00012345600012";

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 6, 15).unwrap()
    }

    fn scan(raw: &str) -> Result<Scan, ScanError> {
        parse_scan_on(raw, today())
    }

    fn gs1(raw: &str) -> Gs1 {
        match scan(raw) {
            Ok(Scan::Gs1(g)) => g,
            other => panic!("{raw:?} gave {other:?}"),
        }
    }

    fn err(raw: &str) -> String {
        match scan(raw) {
            Err(e) => e.to_string(),
            Ok(ok) => panic!("{raw:?} was accepted as {ok:?}"),
        }
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    // --- package tags ---------------------------------------------------------------------

    #[test]
    fn tags_from_every_kind_of_scanner() {
        for raw in [
            TAG.to_string(),
            TAG.to_lowercase(),
            format!("{TAG}\r"),
            format!("{TAG}\n"),
            format!("{TAG}\t"),
            format!("{TAG}\r\n"),
            format!("  {TAG}  "),
            format!("\u{2}{TAG}\u{3}\n"),
            format!("]C0{TAG}"),
            format!("]Q1{}\r\n", TAG.to_lowercase()),
            "1a4f f010 0000 0220 0000 1234".to_string(),
        ] {
            match scan(&raw) {
                Ok(Scan::Package(tag)) => assert_eq!(tag.as_str(), TAG, "{raw:?}"),
                other => panic!("{raw:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn wrong_tags_say_why() {
        assert_eq!(
            err("1A4FF010000002200000123\r\n"),
            "package tag \"1A4FF010000002200000123\" has 23 characters; a Metrc tag has exactly 24"
        );
        assert!(err("1A4FF01000000220000-1234").contains("position 20"));
        assert!(err("2A4FF0100000022000001234").contains("does not start with 1A4"));
        assert!(matches!(scan("1a4"), Err(ScanError::Tag(IdError::TagLength { len: 3, .. }))));
    }

    // --- GS1 -----------------------------------------------------------------------------

    #[test]
    fn gs1_with_parentheses() {
        let g = gs1("(01)00012345600012(17)261231(10)LR-2026-11");
        assert_eq!(g.gtin.as_ref().unwrap().as_str(), GTIN);
        assert_eq!(g.expiry, Some(date(2026, 12, 31)));
        assert_eq!(g.batch.as_deref(), Some("LR-2026-11"));
        assert_eq!(g.serial, None);
        assert_eq!(g.net_weight, None);
        assert!(g.other.is_empty());
        assert_eq!(g.batch_number().unwrap().unwrap().as_str(), "LR-2026-11");

        let spaced = gs1(" (01) 00012345600012 (17) 261231 (10) LR-2026-11\r\n");
        assert_eq!(spaced, g);
        // A batch in the middle ends at the next group.
        let middle = gs1("(01)00012345600012(10)lr-2026-11(21)SN(1)(17)261231");
        assert_eq!(middle.batch.as_deref(), Some("lr-2026-11"));
        assert_eq!(middle.serial.as_deref(), Some("SN(1)"));
        assert_eq!(middle.batch_number().unwrap().unwrap().as_str(), "LR-2026-11");
    }

    #[test]
    fn gs1_element_strings_with_fnc1_and_symbology() {
        let expected = gs1("(01)00012345600012(10)LR-2026-11(17)261231(21)SN-9");
        let body = "010001234560001210LR-2026-11\u{1d}1726123121SN-9".to_string();
        for raw in [
            body.clone(),
            format!("]C1{body}"),
            format!("]d2{body}"),
            format!("]Q3{body}"),
            format!("]e0{body}\n"),
            format!("\u{1d}{body}\u{1d}\r\n"),
            body.replace('\u{1d}', "<GS>"),
            format!("<gs>{}", body.replace('\u{1d}', "<gs>")),
            // A separator after a fixed-length value is tolerated.
            "0100012345600012\u{1d}10LR-2026-11\u{1d}17261231\u{1d}21SN-9".to_string(),
        ] {
            assert_eq!(gs1(&raw), expected, "{raw:?}");
        }
        // Order does not matter; a variable value at the end needs no separator.
        assert_eq!(gs1("]d21726123121SN-9\u{1d}0100012345600012\u{1d}10LR-2026-11"), expected);
        // Only fixed-length values: no separator at all.
        let fixed = gs1("010001234560001217261231");
        assert_eq!(fixed.gtin.unwrap().as_str(), GTIN);
        assert_eq!(fixed.expiry, Some(date(2026, 12, 31)));
    }

    #[test]
    fn a_24_digit_gs1_string_is_not_a_tag() {
        assert_eq!("010001234560001217261231".len(), 24);
        assert!(matches!(scan("010001234560001217261231"), Ok(Scan::Gs1(_))));
    }

    #[test]
    fn net_weights_are_exact() {
        let cases = [
            ("3102000150", "1.50", Unit::Kg),
            ("3100000007", "7", Unit::Kg),
            ("3105123456", "1.23456", Unit::Kg),
            ("3200000012", "12", Unit::Lb),
            ("3201000125", "12.5", Unit::Lb),
            ("3203002205", "2.205", Unit::Lb),
        ];
        for (element, amount, unit) in cases {
            let g = gs1(&format!("]C1{element}"));
            let w = g.net_weight.unwrap();
            assert_eq!(w.unit, unit, "{element}");
            assert_eq!(w.amount, dec(amount), "{element}");
            assert_eq!(w.amount.scale(), dec(amount).scale(), "{element}: decimals kept");
            let bracketed = gs1(&format!("({}){}", &element[..4], &element[4..]));
            assert_eq!(bracketed.net_weight, Some(w));
        }
        assert_eq!(gs1("(3102)000150").net_weight.unwrap().to_string(), "1.5 kg (1500.00 g)");
        assert_eq!(err("]C13102000"), "net weight (3102) needs 6 digits; this barcode has '000'");
        assert_eq!(err("(3102)00015O"), "net weight (3102) needs 6 digits; this barcode has '00015O'");
        assert_eq!(err("(3106)000150"), "this barcode has application identifier (3106), which Custody does not read");
        assert_eq!(
            err("(3102)000150(3202)000150"),
            "this barcode's net weights disagree: (3102) says 1.50 kg but (3202) says 1.50 lb, which is 0.6804 kg: \
             the label is misprinted, so weigh the package instead"
        );
        // The same weight twice is harmless.
        assert!(gs1("(3102)000150(3102)000150").net_weight.is_some());
    }

    #[test]
    fn expiry_century_window_and_last_day() {
        let on = |raw: &str, y: i32| match parse_scan_on(raw, date(y, 1, 1)) {
            Ok(Scan::Gs1(g)) => g.expiry.unwrap(),
            other => panic!("{raw:?} gave {other:?}"),
        };
        // Today 2025: 2075 is the furthest ahead, 1976 the furthest back.
        assert_eq!(on("(17)750101", 2025), date(2075, 1, 1));
        assert_eq!(on("(17)760101", 2025), date(1976, 1, 1));
        assert_eq!(on("(17)000101", 2025), date(2000, 1, 1));
        // Across a century boundary.
        assert_eq!(on("(17)290101", 2080), date(2129, 1, 1));
        assert_eq!(on("(17)300101", 2080), date(2130, 1, 1));
        assert_eq!(on("(17)310101", 2080), date(2031, 1, 1));
        assert_eq!(on("(17)490101", 2099), date(2149, 1, 1));
        assert_eq!(on("(17)500101", 2099), date(2050, 1, 1));
        // DD = 00 is the last day of the month.
        assert_eq!(on("(17)260200", 2025), date(2026, 2, 28));
        assert_eq!(on("(17)280200", 2025), date(2028, 2, 29));
        assert_eq!(on("(17)261200", 2025), date(2026, 12, 31));
        assert_eq!(on("(17)260400", 2025), date(2026, 4, 30));

        assert_eq!(err("(17)261331"), "expiry (17) 261331 is not a date");
        assert_eq!(err("]C117260230"), "expiry (17) 260230 is not a date");
        assert_eq!(err("(17)260001"), "expiry (17) 260001 is not a date");
        assert_eq!(err("(17)261300"), "expiry (17) 261300 is not a date");
        assert_eq!(err("(17)2612"), "expiry (17) needs 6 digits; this barcode has '2612'");
    }

    #[test]
    fn gtin_check_digit() {
        assert_eq!(err("(01)00012345600013"), "GTIN 00012345600013 has check digit 3; it should be 2");
        assert_eq!(err("]C10100012345600013"), "GTIN 00012345600013 has check digit 3; it should be 2");
        assert_eq!(err("0100012345600013\r\n"), "GTIN 00012345600013 has check digit 3; it should be 2");
        assert_eq!(Gtin::parse("10614141000415").unwrap().as_str(), "10614141000415");
        assert_eq!(Gtin::parse("00614141000418").unwrap().to_string(), "00614141000418");
        assert!(matches!(Gtin::parse("0061414100041"), Err(ScanError::Digits { needs: 14, .. })));
        let json: Gtin = serde_json::from_str("\"00012345600012\"").unwrap();
        assert_eq!(serde_json::to_string(&json).unwrap(), "\"00012345600012\"");
        assert!(serde_json::from_str::<Gtin>("\"00012345600013\"").is_err());
    }

    #[test]
    fn truncated_and_malformed_gs1() {
        assert_eq!(err("(01)123"), "GTIN (01) needs 14 digits; this barcode has '123'");
        assert_eq!(err("(01)"), "GTIN (01) needs 14 digits; this barcode has none");
        assert_eq!(err("]C101000123"), "GTIN (01) needs 14 digits; this barcode has '000123'");
        assert_eq!(err("]C1010001234\u{1d}10AB"), "GTIN (01) needs 14 digits; this barcode has '0001234'");
        assert_eq!(err("0100012345600012\u{1d}1"), "this barcode has '1' where an application identifier like (01) should be");
        assert_eq!(err("]C1"), "this GS1 barcode carries no data");
        assert_eq!(err("]d2\u{1d}\r\n"), "this GS1 barcode carries no data");
        assert_eq!(err("]C1hello"), "this barcode has 'hello' where an application identifier like (01) should be");
        assert_eq!(err("(01)00012345600012 junk (17)261231"), "GTIN (01) needs 14 digits; this barcode has '00012345600012 junk'");
        assert_eq!(err("(10)(17)261231"), "batch/lot (10) is empty");
        assert_eq!(err("]C110\u{1d}17261231"), "batch/lot (10) is empty");
        assert_eq!(err(&format!("(10){}", "A".repeat(21))), "batch/lot (10) is 21 characters long; at most 20 are allowed");
        assert_eq!(
            err("]C110LR 2026"),
            "batch/lot (10) has ' '; only letters, digits and ! \" % & ' ( ) * + , - . / : ; < = > ? _ are allowed"
        );
        assert!(err("]C110LR^17261231").contains("has '^'"));
        assert_eq!(err("(10)A(10)B"), "this barcode has batch/lot (10) twice, with different values");
        assert_eq!(gs1("(10)A(10)A").batch.as_deref(), Some("A"));
    }

    #[test]
    fn unknown_and_other_identifiers() {
        assert_eq!(err("(240)ABC"), "this barcode has application identifier (240), which Custody does not read");
        assert_eq!(err("]C10100012345600012240ABC"), "this barcode has application identifier (240), which Custody does not read");
        assert_eq!(err("]C17003123"), "this barcode has application identifier (7003), which Custody does not read");
        assert_eq!(err("(8200)http"), "this barcode has application identifier (8200), which Custody does not read");
        // A logistics label: SSCC, the GTIN of the contained items and their count (GS1 allows
        // the count only with (02), not with (01)), batch, best-before and gross weight.
        let g = gs1("]C1001061414112345678970200012345600012\u{1d}10LOT7\u{1d}15261231\u{1d}3712\u{1d}3301001234");
        assert_eq!(g.gtin, None);
        assert_eq!(g.batch.as_deref(), Some("LOT7"));
        assert_eq!(g.expiry, None);
        let other: Vec<(&str, &str)> = g.other.iter().map(|e| (e.ai.as_str(), e.value.as_str())).collect();
        assert_eq!(other, [("00", "106141411234567897"), ("02", GTIN), ("15", "261231"), ("37", "12"), ("3301", "001234")]);
        // A batch the domain cannot hold is still read; converting says why.
        let odd = gs1("(10)LOT:7");
        assert_eq!(odd.batch.as_deref(), Some("LOT:7"));
        assert!(odd.batch_number().unwrap_err().to_string().contains("':'"));
    }

    // --- GS1 General Specifications: weights in two units, dates, check digits, pairs ---------

    #[test]
    fn kg_and_lb_net_weights_of_one_mass_are_accepted() {
        let kg = |raw: &str| gs1(raw).net_weight.unwrap();
        // 1.50 kg is 3.30693 lb: rounded, truncated, coarser or finer, either order.
        for raw in [
            "(01)00012345600012(3102)000150(3203)003307",
            "(01)00012345600012(3102)000150(3203)003306",
            "(01)00012345600012(3203)003307(3102)000150",
            "(01)00012345600012(3102)000150(3205)330693",
            "(01)00012345600012(3102)000150(3202)000331",
            "]C1010001234560001231020001503203003307",
        ] {
            let w = kg(raw);
            assert_eq!((w.amount, w.unit), (dec("1.50"), Unit::Kg), "{raw}: the kg figure is kept");
            assert_eq!(w.amount.scale(), 2, "{raw}");
        }
        // At the edge: 1.500 kg (resolution 0.001 kg) and x.xxx lb (0.001 lb = 0.00045359237 kg)
        // agree within 0.00145359237 kg. 3.310 lb is 1.5013910 kg: 0.00139 off, accepted;
        // 3.311 lb is 1.5018446 kg: 0.00184 off, refused.
        assert_eq!(kg("(3103)001500(3203)003310").amount, dec("1.500"));
        assert_eq!(
            err("(3103)001500(3203)003311"),
            "this barcode's net weights disagree: (3103) says 1.500 kg but (3203) says 3.311 lb, which is 1.50184 kg: \
             the label is misprinted, so weigh the package instead"
        );
        // An lb figure printed as kg is far outside.
        assert!(err("(3102)000331(3202)000331").contains("disagree"));
    }

    #[test]
    fn every_date_identifier_is_a_real_date() {
        for (ai, name) in
            [("11", "production date"), ("12", "due date"), ("13", "packing date"), ("15", "best-before date"), ("16", "sell-by date")]
        {
            assert_eq!(err(&format!("({ai})261332")), format!("{name} ({ai}) 261332 is not a date"));
            assert_eq!(err(&format!("]C1{ai}261301")), format!("{name} ({ai}) 261301 is not a date"));
            assert_eq!(err(&format!("({ai})260230")), format!("{name} ({ai}) 260230 is not a date"));
            assert_eq!(err(&format!("({ai})250229")), format!("{name} ({ai}) 250229 is not a date"));
            // GS1 allows day 00 (only year and month known) in every date identifier.
            for ok in ["260200", "240229", "261231"] {
                let g = gs1(&format!("(01)00012345600012({ai}){ok}"));
                assert_eq!(g.other, [Gs1Element { ai: ai.to_string(), value: ok.to_string() }], "({ai}){ok}");
            }
        }
        assert_eq!(err("(17)261332"), "expiry (17) 261332 is not a date");
    }

    #[test]
    fn check_digits_of_sscc_contained_gtin_and_location_numbers() {
        assert_eq!(
            err("(00)106141411234567890"),
            "SSCC (00) 106141411234567890 has check digit 0; it should be 7: scan again, and if it repeats the label is misprinted"
        );
        assert!(err("]C100106141411234567891").starts_with("SSCC (00) 106141411234567891 has check digit 1; it should be 7"));
        assert_eq!(gs1("(00)106141411234567897").other[0].value, "106141411234567897");
        assert!(err("(02)00012345600013(37)5").starts_with("contained GTIN (02) 00012345600013 has check digit 3; it should be 2"));
        assert_eq!(gs1("(02)00012345600012(37)5").other.len(), 2);
        for ai in ["410", "411", "412", "413", "414", "415"] {
            assert!(
                err(&format!("({ai})9520123456789"))
                    .starts_with(&format!("location number ({ai}) 9520123456789 has check digit 9; it should be 8"))
            );
            assert_eq!(gs1(&format!("({ai})9520123456788")).other[0].ai, ai);
        }
    }

    #[test]
    fn pairs_gs1_forbids_are_refused() {
        let pair = |a: &str, an: &str, b: &str, bn: &str| {
            format!(
                "this barcode has both {an} ({a}) and {bn} ({b}), which GS1 does not allow on one label: \
                 the label is misprinted, so report it and enter the details by hand"
            )
        };
        assert_eq!(err("(01)00012345600012(02)00012345600012"), pair("01", "GTIN", "02", "contained GTIN"));
        assert_eq!(err("(02)00012345600012(01)00012345600012"), pair("02", "contained GTIN", "01", "GTIN"));
        assert_eq!(err("]C10100012345600012\u{1d}3712"), pair("01", "GTIN", "37", "count"));
        assert_eq!(err("(3102)000150(3103)001500"), pair("3102", "net weight", "3103", "net weight"));
        assert_eq!(err("(3202)000150(3200)000002"), pair("3202", "net weight", "3200", "net weight"));
        assert_eq!(err("(00)106141411234567897(3301)001234(3302)012340"), pair("3301", "gross weight", "3302", "gross weight"));
        assert_eq!(err("(00)106141411234567897(3400)000012(3401)000120"), pair("3400", "gross weight", "3401", "gross weight"));
        // Allowed together: kg with lb, gross with net, (02) with (37), SSCC with GTIN.
        assert!(gs1("(00)106141411234567897(3301)001234(3401)002721(3102)000150").net_weight.is_some());
        assert_eq!(gs1("(00)106141411234567897(02)00012345600012(37)12").other.len(), 3);
    }

    #[test]
    fn over_long_scans_are_refused_before_parsing() {
        let too_long = "0".repeat(MAX_SCAN_BYTES + 1);
        let started = std::time::Instant::now();
        assert_eq!(err(&too_long), "this scan is 8193 bytes long; a label holds at most 8192: scan one label at a time");
        assert_eq!(
            err(&format!("]C1{}", "1".repeat(100_000))),
            "this scan is 100003 bytes long; a label holds at most 8192: scan one label at a time"
        );
        assert!(started.elapsed() < std::time::Duration::from_millis(100));
        // At the limit the text is read as usual.
        assert!(err(&"z".repeat(MAX_SCAN_BYTES)).starts_with("this is not a package tag"));
    }

    // --- GS1 Digital Link ----------------------------------------------------------------

    #[test]
    fn digital_links_read_like_element_strings() {
        let expected = gs1("(01)00012345600012(10)LR-2026-11(21)SN-9(17)261231(3103)001500");
        for raw in [
            "https://id.example.com/01/00012345600012/10/LR-2026-11/21/SN-9?17=261231&3103=001500",
            "https://id.example.com/01/00012345600012/10/LR-2026-11/21/SN-9?3103=001500&17=261231",
            "http://example.com/some/path/01/00012345600012/10/LR-2026-11/21/SN-9?linkType=gs1:pip&17=261231&3103=001500#top",
            "https://example.com/01/x/01/00012345600012/10/LR%2D2026%2d11/21/SN-9?17=261231&&3103=001500&flag",
            "HTTPS://ID.EXAMPLE.COM/01/00012345600012/10/LR-2026-11/21/SN-9?17=261231&3103=001500",
            "]Q1https://id.example.com/01/00012345600012/10/LR-2026-11/21/SN-9?17=261231&3103=001500\r\n",
        ] {
            assert_eq!(gs1(raw), expected, "{raw}");
        }
        // Percent-encoding in the path; in the query a + is a space (refused in a batch anyway).
        assert_eq!(gs1("https://a.example/01/00012345600012/10/LR%2F26%3A1").batch.as_deref(), Some("LR/26:1"));
        assert_eq!(gs1("https://a.example/01/00012345600012?400=PO%2B1").other[0].value, "PO+1");
        assert!(err("https://a.example/01/00012345600012?400=PO+1").contains("order number (400) has ' '"));
        // Other primary keys Custody reads: an SSCC, a location.
        assert_eq!(gs1("https://a.example/00/106141411234567897").other[0].ai, "00");
        assert_eq!(gs1("https://a.example/414/9520123456788").other[0].value, "9520123456788");
        // Just a GTIN.
        assert_eq!(gs1("https://a.example/01/00012345600012").gtin.unwrap().as_str(), GTIN);
    }

    #[test]
    fn digital_links_are_checked_like_element_strings() {
        assert_eq!(err("https://a.example/01/00012345600013"), "GTIN 00012345600013 has check digit 3; it should be 2");
        assert_eq!(err("https://a.example/01/0001234560001"), "GTIN (01) needs 14 digits; this barcode has '0001234560001'");
        assert_eq!(err("https://a.example/01/00012345600012?17=261332"), "expiry (17) 261332 is not a date");
        assert_eq!(err("https://a.example/01/00012345600012?15=260230"), "best-before date (15) 260230 is not a date");
        assert!(err("https://a.example/00/106141411234567890").starts_with("SSCC (00) 106141411234567890 has check digit 0"));
        assert!(err("https://a.example/01/00012345600012?02=00012345600012").contains("both GTIN (01) and contained GTIN (02)"));
        assert!(err("https://a.example/01/00012345600012?3102=000150&3103=001500").contains("net weight (3102) and net weight (3103)"));
        assert!(err("https://a.example/01/00012345600012?3102=000150&3202=000150").contains("disagree"));
        assert_eq!(err("https://a.example/01/00012345600012?17="), "expiry (17) needs 6 digits; this barcode has none");
        assert_eq!(err("https://a.example/01/00012345600012/10/"), "batch/lot (10) is empty");
        assert_eq!(
            err("https://a.example/01/00012345600012?17=261231&17=271231"),
            "this barcode has expiry (17) twice, with different values"
        );
        assert!(err("https://a.example/01/00012345600012/10/A%00B").contains("batch/lot (10) has '\\0'"));
        assert!(err("https://a.example/01/00012345600012/10/%C3%A9").contains("batch/lot (10) has 'é'"));
        // Identifiers Custody does not read are named, in the path or the query.
        assert_eq!(
            err("https://a.example/01/00012345600012/235/X1"),
            "this barcode has application identifier (235), which Custody does not read"
        );
        assert_eq!(
            err("https://a.example/01/00012345600012?7003=2612311200"),
            "this barcode has application identifier (7003), which Custody does not read"
        );
        assert_eq!(err("https://a.example/8004/ABC123"), "this barcode has application identifier (8004), which Custody does not read");
        // What GS1 Digital Link itself forbids.
        assert_eq!(
            err("https://a.example/01/00012345600012/21/S1/10/L1"),
            "this GS1 Digital Link has (21) (10) after (01) in its path, where GS1 allows only (22) (10) (21) in that order, or (235): \
             the code is misprinted"
        );
        assert_eq!(
            err("https://a.example/00/106141411234567897/10/L1"),
            "this GS1 Digital Link has (10) after (00) in its path, where GS1 allows only nothing: the code is misprinted"
        );
        assert_eq!(
            err("https://a.example/01/00012345600012?10=L1"),
            "this GS1 Digital Link carries (10) after the '?', but GS1 puts it in the path after (01): the code is misprinted"
        );
        assert!(err("https://a.example/01/00012345600012/10/L1?21=S1").contains("carries (21) after the '?'"));
        assert_eq!(
            err("https://a.example/01/00012345600012/10/L 1"),
            "this GS1 Digital Link has ' ', which a web address cannot carry: scan the code again"
        );
    }

    #[test]
    fn web_addresses_that_are_not_digital_links_are_unrecognised() {
        for raw in [
            "https://example.com/",
            "https://example.com/products/123",
            "https://example.com/2024/05/article",
            "https://example.com/01/00012345600012/",
            "ftp://example.com/01/00012345600012",
            "HtTpS://example.com/01/00012345600012",
            "https:///01/00012345600012",
            "https://example.com",
        ] {
            assert!(matches!(scan(raw), Err(ScanError::Unrecognised { .. })), "{raw}: {:?}", scan(raw));
        }
    }

    // --- locations and garbage -------------------------------------------------------------

    #[test]
    fn location_labels() {
        for (raw, name) in [
            ("LOC:Vault A / Shelf 3", "Vault A / Shelf 3"),
            ("loc: Intake bay\r\n", "Intake bay"),
            ("]C0LOC:Van 2\t", "Van 2"),
            ("LOC:(01)", "(01)"),
        ] {
            match scan(raw) {
                Ok(Scan::Location(l)) => assert_eq!(l.as_str(), name, "{raw:?}"),
                other => panic!("{raw:?} gave {other:?}"),
            }
        }
        assert_eq!(err("LOC:\r\n"), "the location is empty: scan or type it again");
        assert!(err(&format!("LOC:{}", "x".repeat(65))).contains("at most 64"));
        assert!(matches!(scan("LOC:Vault\u{1d}A"), Err(ScanError::Location(_))));
    }

    #[test]
    fn garbage_says_what_was_wrong() {
        assert_eq!(err(""), "the scan is empty: scan again");
        assert_eq!(err("\r\n\t "), "the scan is empty: scan again");
        assert_eq!(err("]C0\n"), "the scan is empty: scan again");
        assert_eq!(err("hello"), "this is not a package tag, a GS1 barcode or a location label: 'hello'");
        assert_eq!(err("(01"), "this is not a package tag, a GS1 barcode or a location label: '(01'");
        assert_eq!(err("0100012345600"), "this is not a package tag, a GS1 barcode or a location label: '0100012345600'");
        assert_eq!(err("Vault A"), "this is not a package tag, a GS1 barcode or a location label: 'Vault A'");
        let long = err(&"z".repeat(5000));
        assert!(long.ends_with(&format!("'{}…'", "z".repeat(SHOWN_MAX))), "{long}");
        assert!(err("he\u{7}llo").contains("he\\u{7}llo"));
    }

    // --- fuzzing ---------------------------------------------------------------------------

    /// Everything a parse can produce, displayed, so formatting is exercised too.
    fn exercise(raw: &str, today: NaiveDate) {
        match parse_scan_on(raw, today) {
            Ok(Scan::Gs1(g)) => {
                let _ = format!("{g:?}");
                let _ = g.batch_number().map_err(|e| e.to_string());
                if let Some(w) = g.net_weight {
                    let _ = w.to_string();
                }
            }
            Ok(other) => {
                let _ = format!("{other:?}");
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }

    fn alphabet_string() -> impl Strategy<Value = String> {
        let pieces = prop_oneof![
            Just("(".to_string()),
            Just(")".to_string()),
            Just("\u{1d}".to_string()),
            Just("<GS>".to_string()),
            Just("]C1".to_string()),
            Just("]d2".to_string()),
            Just("1A4".to_string()),
            Just("LOC:".to_string()),
            Just("01".to_string()),
            Just("10".to_string()),
            Just("17".to_string()),
            Just("3102".to_string()),
            Just("\r\n".to_string()),
            Just("https://a/".to_string()),
            Just("/01/".to_string()),
            Just("/".to_string()),
            Just("?".to_string()),
            Just("&".to_string()),
            Just("=".to_string()),
            Just("%".to_string()),
            Just("%2".to_string()),
            Just("00012345600012".to_string()),
            "[0-9]{1,14}",
            "[A-Za-z\\-./]{1,6}",
            any::<char>().prop_map(String::from),
        ];
        proptest::collection::vec(pieces, 0..24).prop_map(|v| v.concat())
    }

    fn any_date() -> impl Strategy<Value = NaiveDate> {
        prop_oneof![(1900i32..2300, 1u32..=12, 1u32..=28).prop_map(|(y, m, d)| date(y, m, d)), Just(NaiveDate::MIN), Just(NaiveDate::MAX),]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn random_text_never_panics(raw in ".*", today in any_date()) {
            exercise(&raw, today);
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            exercise(&String::from_utf8_lossy(&bytes), today());
        }

        #[test]
        fn scanner_like_text_never_panics(raw in alphabet_string(), today in any_date()) {
            exercise(&raw, today);
            exercise(&format!("]C1{raw}"), today);
            exercise(&format!("({raw}"), today);
            exercise(&format!("https://id.example.com/01/00012345600012{raw}"), today);
            exercise(&format!("HTTP://a/{raw}"), today);
        }

        #[test]
        fn control_and_unicode_never_panic(raw in "[\\x00-\\x1f\\x7f\u{80}-\u{10ffff}0-9()<>]{0,64}") {
            exercise(&raw, today());
        }

        #[test]
        fn very_long_text_never_panics(unit in alphabet_string(), times in 1usize..400) {
            exercise(&unit.repeat(times), today());
            exercise(&format!("]d2{}", unit.repeat(times)), today());
        }
    }

    #[test]
    fn every_truncation_of_valid_scans_is_safe() {
        for valid in [
            "]C10100012345600012\u{1d}10LR-2026-11\u{1d}17261231\u{1d}21SN-9\u{1d}3102000150",
            "(01)00012345600012(17)261231(10)LR-2026-11(3202)012345",
            "1A4FF0100000022000001234\r\n",
            "LOC:Vault Ä / Shelf 3",
        ] {
            for (i, _) in valid.char_indices() {
                exercise(&valid[..i], today());
                exercise(&valid[i..], today());
            }
        }
    }

    // --- round trip ------------------------------------------------------------------------

    #[derive(Debug, Clone)]
    struct Label {
        gtin: Option<String>,
        batch: Option<String>,
        expiry: Option<(NaiveDate, bool)>,
        serial: Option<String>,
        weight: Option<(bool, u32, i64)>,
        order: Vec<usize>,
    }

    impl Label {
        /// (AI, value) in the label's order.
        fn elements(&self) -> Vec<(String, String)> {
            let mut all: Vec<Option<(String, String)>> = vec![
                self.gtin.clone().map(|g| ("01".to_string(), g)),
                self.batch.clone().map(|b| ("10".to_string(), b)),
                self.expiry.map(|(d, as_last_day)| {
                    let day = if as_last_day { 0 } else { d.day() };
                    ("17".to_string(), format!("{:02}{:02}{:02}", d.year() % 100, d.month(), day))
                }),
                self.serial.clone().map(|s| ("21".to_string(), s)),
                self.weight.map(|(kg, n, units)| (format!("{}{n}", if kg { "310" } else { "320" }), format!("{units:06}"))),
            ];
            self.order.iter().filter_map(|&i| all[i].take()).collect()
        }

        fn bracketed(&self) -> String {
            self.elements().iter().map(|(ai, v)| format!("({ai}){v}")).collect()
        }

        /// The FNC1 form: a separator after every variable-length value except the last.
        fn element_string(&self, separator: &str) -> String {
            let elements = self.elements();
            let mut out = String::new();
            for (i, (ai, v)) in elements.iter().enumerate() {
                out.push_str(ai);
                out.push_str(v);
                if matches!(ai.as_str(), "10" | "21") && i + 1 < elements.len() {
                    out.push_str(separator);
                }
            }
            out
        }

        fn check(&self, g: &Gs1) -> Result<(), TestCaseError> {
            prop_assert_eq!(g.gtin.as_ref().map(|g| g.as_str().to_string()), self.gtin.clone());
            prop_assert_eq!(&g.batch, &self.batch);
            prop_assert_eq!(g.expiry, self.expiry.map(|(d, _)| d));
            prop_assert_eq!(&g.serial, &self.serial);
            let weight =
                self.weight.map(|(kg, n, units)| Quantity { amount: Decimal::new(units, n), unit: if kg { Unit::Kg } else { Unit::Lb } });
            prop_assert_eq!(g.net_weight, weight);
            if let (Some(w), Some((_, n, _))) = (g.net_weight, self.weight) {
                prop_assert_eq!(w.amount.scale(), n);
            }
            prop_assert!(g.other.is_empty());
            Ok(())
        }
    }

    fn gtin_strategy() -> impl Strategy<Value = String> {
        "[0-9]{13}".prop_map(|body| format!("{body}{}", check_digit(&body)))
    }

    fn gs1_text(max: usize) -> impl Strategy<Value = String> {
        let chars: Vec<char> = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!\"%&'()*+,-./:;<=>?_".chars().collect();
        proptest::collection::vec(proptest::sample::select(chars), 1..=max).prop_map(|v| v.into_iter().collect())
    }

    /// A date the window places in the century it was made in, relative to [`today`] (2025):
    /// 1976 to 2075.
    fn window_date() -> impl Strategy<Value = (NaiveDate, bool)> {
        (1976i32..=2075, 1u32..=12, 1u32..=31, any::<bool>()).prop_filter_map("a real date", |(y, m, d, zero)| {
            let date = NaiveDate::from_ymd_opt(y, m, d)?;
            let last = date.checked_add_days(chrono::Days::new(1))?.month() != m;
            Some((date, zero && last))
        })
    }

    fn label() -> impl Strategy<Value = Label> {
        (
            proptest::option::of(gtin_strategy()),
            proptest::option::of(gs1_text(20)),
            proptest::option::of(window_date()),
            proptest::option::of(gs1_text(20)),
            proptest::option::of((any::<bool>(), 0u32..=5, 0i64..=999_999)),
            Just((0..5).collect::<Vec<usize>>()).prop_shuffle(),
        )
            .prop_map(|(gtin, batch, expiry, serial, weight, order)| Label { gtin, batch, expiry, serial, weight, order })
            .prop_filter("at least one element", |l| !l.elements().is_empty())
    }

    /// Percent-encodes all but URI's unreserved characters, as GS1's engine writes a Digital Link.
    fn percent_encode(value: &str) -> String {
        value
            .bytes()
            .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
            .collect()
    }

    /// A text value that the documented limits of the two forms allow: no `(nn)` group inside
    /// for the parenthesised form, no `<GS>` for the element string.
    fn unambiguous(value: &Option<String>) -> bool {
        value.as_ref().is_none_or(|v| {
            let chars: Vec<char> = v.chars().collect();
            (0..chars.len()).all(|i| group_at(&chars, i).is_none()) && !v.to_ascii_uppercase().contains("<GS>")
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn valid_gs1_read_the_same_as_a_digital_link(
            l in label(),
            gtin in gtin_strategy(),
            stem in proptest::sample::select(vec!["", "/p", "/a/b-c", "/01/x"]),
            upper in any::<bool>(),
            extra in proptest::sample::select(vec!["", "linkType=all", "flag", "x=%2F"]),
            query_order in any::<bool>(),
        ) {
            // A Digital Link needs a primary key: give the label its GTIN if it has none.
            let l = Label { gtin: Some(l.gtin.clone().unwrap_or(gtin)), ..l };
            let elements = l.elements();
            let path_ais = ["01", "10", "21"];
            let mut path = String::new();
            for ai in path_ais {
                if let Some((_, v)) = elements.iter().find(|(a, _)| a == ai) {
                    path.push_str(&format!("/{ai}/{}", percent_encode(v)));
                }
            }
            let mut query: Vec<String> =
                elements.iter().filter(|(a, _)| !path_ais.contains(&a.as_str())).map(|(a, v)| format!("{a}={}", percent_encode(v))).collect();
            if query_order {
                query.reverse();
            }
            if !extra.is_empty() {
                query.insert(0, extra.to_string());
            }
            let host = if upper { "HTTPS://ID.EXAMPLE.COM" } else { "https://id.example.com" };
            let uri = if query.is_empty() { format!("{host}{stem}{path}") } else { format!("{host}{stem}{path}?{}", query.join("&")) };
            match parse_scan_on(&uri, today()) {
                Ok(Scan::Gs1(g)) => l.check(&g)?,
                other => prop_assert!(false, "{:?} gave {:?}", uri, other),
            }
            // And the same result as the element string, where that form can carry the values.
            if unambiguous(&l.batch) && unambiguous(&l.serial) {
                prop_assert_eq!(parse_scan_on(&uri, today()), parse_scan_on(&format!("]C1{}", l.element_string("\u{1d}")), today()));
            }
        }

        #[test]
        fn valid_gs1_round_trips(
            l in label(),
            prefix in proptest::sample::select(vec!["", "]C1", "]d2", "]Q3", "]e0", "\u{1d}", "<GS>"]),
            separator in proptest::sample::select(vec!["\u{1d}", "<GS>", "<gs>"]),
            suffix in proptest::sample::select(vec!["", "\r", "\n", "\r\n", "\t", "\u{1d}"]),
        ) {
            prop_assume!(unambiguous(&l.batch) && unambiguous(&l.serial));

            let bracketed = format!("{}{suffix}", l.bracketed());
            match parse_scan_on(&bracketed, today()) {
                Ok(Scan::Gs1(g)) => l.check(&g)?,
                other => prop_assert!(false, "{:?} gave {:?}", bracketed, other),
            }

            // Without a symbology identifier or a leading separator, only a label that starts
            // with its GTIN, or has a separator, is recognised as GS1.
            let body = l.element_string(separator);
            let recognisable = !prefix.is_empty()
                || l.elements()[0].0 == "01"
                || body.contains(separator);
            if recognisable {
                let raw = format!("{prefix}{body}{suffix}");
                match parse_scan_on(&raw, today()) {
                    Ok(Scan::Gs1(g)) => l.check(&g)?,
                    other => prop_assert!(false, "{:?} gave {:?}", raw, other),
                }
            }
        }
    }
}
