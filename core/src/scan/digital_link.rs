//! GS1 Digital Link URIs: `https://id.example.com/01/{gtin}/10/{batch}?17=261231&3103=001500`,
//! what the QR codes replacing linear barcodes on products carry.
//!
//! Read as GS1's reference engine (the GS1 Barcode Syntax Engine) reads them:
//! - `http://` or `https://` (all lower or all upper case: QR codes upper-case to save space),
//!   a domain, then the path. The path is walked from its end two segments at a time, `/AI/value`,
//!   back to a primary key ((01), (00), (414), ...); what comes before it is the resolver's own
//!   path prefix and is ignored. No primary key: not a Digital Link, and the caller treats the
//!   text like any other.
//! - After the key, only its qualifiers, in GS1's order ((01) takes (22), (10), (21), each
//!   optional, in that order; or (235)).
//! - The query string carries the other identifiers as `AI=value`; parameters with a non-numeric
//!   name (`linkType=all`) or no `=` are not data and are skipped. A key qualifier belongs in the
//!   path and is refused in the query, as the engine refuses it.
//! - Values are percent-decoded (`+` is a space in the query only); a `%` not followed by two hex
//!   digits stays a `%`. The fragment (`#...`) is not data.
//!
//! What the values then must be (lengths, characters, check digits, dates, forbidden pairs) is
//! checked by the same code as every other GS1 barcode.

use super::ScanError;

/// The GS1 Digital Link primary keys and the qualifier sequences each allows (the Syntax
/// Dictionary's `dlpkey` attributes). Keys Custody does not read are listed so that a Digital
/// Link for, say, an asset (8004) is refused by naming its identifier rather than as unknown text.
const PRIMARY_KEYS: &[(&str, &[&[&str]])] = &[
    ("00", &[]),
    ("01", &[&["22", "10", "21"], &["235"]]),
    ("253", &[]),
    ("255", &[]),
    ("401", &[]),
    ("402", &[]),
    ("414", &[&["254"], &["7040"]]),
    ("415", &[&["8020"]]),
    ("417", &[&["7040"]]),
    ("8003", &[]),
    ("8004", &[&["7040"]]),
    ("8006", &[&["22", "10", "21"]]),
    ("8010", &[&["8011"]]),
    ("8013", &[]),
    ("8017", &[&["8019"]]),
    ("8018", &[&["8019"]]),
];

/// The characters a URI may carry (RFC 3986's unreserved, reserved and `%`).
fn is_uri_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=%".contains(c)
}

/// The (AI, value) pairs of a GS1 Digital Link, path first then query, or why it is a broken
/// one; `None` when the text is not a GS1 Digital Link at all.
pub(super) fn elements(text: &str) -> Option<Result<Vec<(String, String)>, ScanError>> {
    let rest = ["https://", "http://", "HTTPS://", "HTTP://"].iter().find_map(|scheme| text.strip_prefix(scheme))?;
    let slash = rest.find('/').filter(|&i| i > 0)?;
    let after_domain = &rest[slash..];
    let before_fragment = after_domain.split('#').next().unwrap_or_default();
    let (path, query) = before_fragment.split_once('?').unwrap_or((before_fragment, ""));

    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let key_at = primary_key_at(&segments)?;
    Some(read(text, &segments[key_at..], query))
}

/// Where the primary key starts in the path's segments, walking back from the end in
/// `/AI/value` pairs as long as the segments look like identifiers (2 to 4 digits).
fn primary_key_at(segments: &[&str]) -> Option<usize> {
    let mut end = segments.len();
    while end >= 2 {
        let ai = segments[end - 2];
        if !(2..=4).contains(&ai.len()) || !ai.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if PRIMARY_KEYS.iter().any(|(key, _)| *key == ai) {
            return Some(end - 2);
        }
        end -= 2;
    }
    None
}

fn read(text: &str, path: &[&str], query: &str) -> Result<Vec<(String, String)>, ScanError> {
    if let Some(ch) = text.chars().find(|c| !is_uri_char(*c)) {
        return Err(ScanError::NotUriCharacter { ch });
    }
    let key = path[0];
    let qualifiers: Vec<&str> = path.iter().skip(2).step_by(2).copied().collect();
    let sequences = PRIMARY_KEYS.iter().find(|(k, _)| *k == key).map(|(_, q)| *q).unwrap_or_default();
    if !qualifiers.is_empty() && !sequences.iter().any(|allowed| in_order(&qualifiers, allowed)) {
        let list = |ais: &[&str]| ais.iter().map(|ai| format!("({ai})")).collect::<Vec<_>>().join(" ");
        let allowed = if sequences.is_empty() {
            "nothing".to_string()
        } else {
            let one = |s: &[&str]| if s.len() > 1 { format!("{} in that order", list(s)) } else { list(s) };
            sequences.iter().map(|s| one(s)).collect::<Vec<_>>().join(", or ")
        };
        return Err(ScanError::DigitalLinkPath { key: key.to_string(), found: list(&qualifiers), allowed });
    }

    let mut out: Vec<(String, String)> = path.chunks(2).map(|pair| (pair[0].to_string(), decode(pair[1], false))).collect();
    for param in query.split('&') {
        let Some((name, value)) = param.split_once('=') else { continue };
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        // A key qualifier in the query: GS1 wants it in the path, where it would fit.
        let belongs_in_path = (0..=qualifiers.len()).any(|at| {
            let mut trial = qualifiers.clone();
            trial.insert(at, name);
            sequences.iter().any(|allowed| in_order(&trial, allowed))
        });
        if belongs_in_path {
            return Err(ScanError::DigitalLinkQuery { ai: name.to_string(), key: key.to_string() });
        }
        out.push((name.to_string(), decode(value, true)));
    }
    Ok(out)
}

/// Whether `ais` are some of `allowed`, in `allowed`'s order, each at most once.
fn in_order(ais: &[&str], allowed: &[&str]) -> bool {
    let mut rest = allowed.iter();
    ais.iter().all(|ai| rest.any(|a| a == ai))
}

/// Percent-decoding; `+` is a space in a query value. Bytes that do not form UTF-8 become U+FFFD,
/// which the value checks then refuse by name.
fn decode(raw: &str, query: bool) -> String {
    let b = raw.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |k: usize| b.get(k).and_then(|c| (*c as char).to_digit(16));
        match (b[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b'+', _, _) if query => {
                out.push(b' ');
                i += 1;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
