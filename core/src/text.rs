//! The rules for free text, once, for the phone and the server (docs/decisions/0013).
//!
//! Everything a person types ends up in the ledger, a work document, a printed manifest or the
//! state system, and much of it is shown to other people. So every field has a length limit, and
//! characters that are invisible but change what a reader sees are refused: control characters
//! (a note may keep its line breaks) and the Unicode text-direction controls, which can make
//! `Vault A` display as something else entirely ("Trojan Source"). Names, references and other
//! one-line fields also refuse line breaks and the left-to-right / right-to-left marks; notes
//! keep those marks, which right-to-left languages need.
//!
//! Every error is a sentence the person holding the phone can act on.

/// One-line fields (names, references) or multi-line notes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Line,
    Text,
}

/// A field's name in messages, its length limit in characters, and its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub what: &'static str,
    pub max: usize,
    pub kind: Kind,
}

/// A person's name (a user, a receiver, a driver, a patient).
pub const NAME_MAX: usize = 100;
/// A facility's, customer's, shipper's or lab's name.
pub const ORGANISATION_MAX: usize = 200;
/// A reference: an order or manifest number, a licence plate, a badge, a container label, a
/// phone number.
pub const REFERENCE_MAX: usize = 64;
/// A postal address, on one line.
pub const ADDRESS_MAX: usize = 300;
/// A note a person types (an inspection, a substitution, an investigation).
pub const NOTE_MAX: usize = 1000;
/// A reason a person types (why a package was refused, why an order is cancelled).
pub const REASON_MAX: usize = 500;
/// The reason or note of a ledger event. Workflows compose it from typed text, names and
/// references ("put back: order SO-2 cancelled by Sam: customer withdrew"; an approval's note
/// holds the request's note and the manager's), so it is longer than any one typed text.
pub const LEDGER_TEXT_MAX: usize = 2500;

pub const fn name(what: &'static str) -> Field {
    Field { what, max: NAME_MAX, kind: Kind::Line }
}

pub const fn organisation(what: &'static str) -> Field {
    Field { what, max: ORGANISATION_MAX, kind: Kind::Line }
}

pub const fn reference(what: &'static str) -> Field {
    Field { what, max: REFERENCE_MAX, kind: Kind::Line }
}

pub const fn address(what: &'static str) -> Field {
    Field { what, max: ADDRESS_MAX, kind: Kind::Line }
}

pub const fn note(what: &'static str) -> Field {
    Field { what, max: NOTE_MAX, kind: Kind::Text }
}

pub const fn reason(what: &'static str) -> Field {
    Field { what, max: REASON_MAX, kind: Kind::Text }
}

/// Why a person opened patient details: one line of the access log.
pub const fn view_purpose() -> Field {
    Field { what: "reason for opening patient details", max: 200, kind: Kind::Line }
}

pub const fn ledger(what: &'static str) -> Field {
    Field { what, max: LEDGER_TEXT_MAX, kind: Kind::Text }
}

/// Why a text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("the {what} is empty; enter it")]
    Empty { what: &'static str },
    #[error("the {what} is longer than {max} characters ({len}); shorten it")]
    TooLong { what: &'static str, len: usize, max: usize },
    #[error("the {what} must be on one line; remove the line break")]
    LineBreak { what: &'static str },
    #[error("the {what} contains an invisible control character ({code}) at character {position}; remove it and type it again")]
    Control { what: &'static str, code: String, position: usize },
    #[error(
        "the {what} contains a hidden text-direction character ({code}) at character {position}, which makes it display differently from what it says; remove it and type it again"
    )]
    Direction { what: &'static str, code: String, position: usize },
}

/// Whether `c` would not show as itself on a line of a log or a screen: a control character, a
/// direction control or mark. For escaping text on output.
pub fn is_hidden(c: char) -> bool {
    c.is_control() || is_direction_control(c) || is_direction_mark(c)
}

/// The Unicode directional formatting characters: embeddings, overrides and isolates.
fn is_direction_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Invisible direction marks: harmless in prose, but they let two names that look the same differ.
fn is_direction_mark(c: char) -> bool {
    matches!(c, '\u{200E}' | '\u{200F}' | '\u{061C}')
}

fn is_line_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}' | '\u{0085}')
}

/// Checks `text` exactly as given (no trimming): length and characters. Empty text passes; use
/// [`required`] where something must be said.
pub fn check(field: Field, text: &str) -> Result<(), TextError> {
    let what = field.what;
    // Counting stops just past the limit, so a megabyte of text costs no more than the limit.
    let len = text.chars().take(field.max + 1).count();
    if len > field.max {
        return Err(TextError::TooLong { what, len: text.chars().count(), max: field.max });
    }
    for (i, c) in text.chars().enumerate() {
        let position = i + 1;
        let code = || format!("U+{:04X}", c as u32);
        if is_direction_control(c) || (field.kind == Kind::Line && is_direction_mark(c)) {
            return Err(TextError::Direction { what, code: code(), position });
        }
        let line_break = c == '\n' || (field.kind == Kind::Text && matches!(c, '\u{2028}' | '\u{2029}'));
        if field.kind == Kind::Text && line_break {
            continue;
        }
        if field.kind == Kind::Line && is_line_break(c) {
            return Err(TextError::LineBreak { what });
        }
        if c.is_control() {
            return Err(TextError::Control { what, code: code(), position });
        }
    }
    Ok(())
}

/// Like [`check`], and the text must say something (not only spaces).
pub fn required(field: Field, text: &str) -> Result<(), TextError> {
    if text.trim().is_empty() {
        return Err(TextError::Empty { what: field.what });
    }
    check(field, text)
}

/// What a person typed, ready to store: surrounding spaces trimmed, Windows and old Mac line
/// endings in notes made `\n`, then checked. May be empty.
pub fn clean(field: Field, raw: &str) -> Result<String, TextError> {
    let trimmed = raw.trim();
    let text = if field.kind == Kind::Text && trimmed.contains('\r') {
        trimmed.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        trimmed.to_string()
    };
    check(field, &text)?;
    Ok(text)
}

/// Like [`clean`], and the text must not be empty.
pub fn clean_required(field: Field, raw: &str) -> Result<String, TextError> {
    let text = clean(field, raw)?;
    if text.is_empty() {
        return Err(TextError::Empty { what: field.what });
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_say_what_to_do() {
        let err = check(note("note"), &"x".repeat(1001)).unwrap_err();
        assert_eq!(err.to_string(), "the note is longer than 1000 characters (1001); shorten it");
        assert!(check(note("note"), &"é".repeat(1000)).is_ok(), "characters, not bytes");
        assert_eq!(required(reason("reason"), "  ").unwrap_err().to_string(), "the reason is empty; enter it");
    }

    #[test]
    fn names_refuse_line_breaks_controls_and_direction_characters() {
        let who = name("name");
        assert_eq!(check(who, "Sam\nRivera").unwrap_err(), TextError::LineBreak { what: "name" });
        assert!(matches!(check(who, "Sam\u{7}"), Err(TextError::Control { position: 4, .. })));
        let err = check(who, "Sam \u{202E}reviR").unwrap_err();
        assert!(err.to_string().contains("hidden text-direction character (U+202E) at character 5"), "{err}");
        assert!(matches!(check(who, "Sam\u{2067}"), Err(TextError::Direction { .. })));
        assert!(matches!(check(who, "Sam\u{200F}"), Err(TextError::Direction { .. })));
        assert!(check(who, "José Núñez-O'Brien").is_ok());
        assert!(check(who, "محمد").is_ok(), "right-to-left letters are fine");
    }

    #[test]
    fn notes_keep_line_breaks_and_marks_but_nothing_else() {
        let n = note("note");
        assert!(check(n, "seal torn\nsecond line").is_ok());
        assert!(check(n, "ok \u{200F}").is_ok());
        assert!(matches!(check(n, "tab\there"), Err(TextError::Control { .. })));
        assert!(matches!(check(n, "x\u{202D}y"), Err(TextError::Direction { .. })));
        assert_eq!(clean(n, "  a\r\nb\r ").unwrap(), "a\nb");
        assert!(matches!(clean_required(n, " \r\n "), Err(TextError::Empty { .. })));
    }
}
