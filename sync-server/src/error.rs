//! The error every store call returns, with the sentence its reader sees. Its own module, below
//! the store, because the lockout (above the store) and the store both answer with it.

use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};
use custody_core::ids::{DeviceId, LicenseNumber, UserId};
use custody_core::roles::Role;

use crate::secret::SecretError;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot create the data folder {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the database was written by a newer custody-server (schema version {found}, this build knows {known}); run the newer version")]
    TooNew { found: i64, known: i64 },
    #[error("SQLite refused write-ahead logging (journal mode is {0}); put the data folder on a local disk")]
    NoWal(String),
    #[error("the database holds a {what} that does not parse ({value:?}); it was changed outside custody-server")]
    Corrupt { what: &'static str, value: String },
    #[error("an event could not be encoded or read back: {0}")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// Input an operator or device must correct; the message says how.
    #[error("{0}")]
    InvalidInput(String),
    /// A sync request refused as a whole before anything was stored.
    #[error("{0}")]
    InvalidEvent(String),
    #[error("facility {0} already exists")]
    FacilityExists(LicenseNumber),
    #[error("there is no facility with licence {0}; create it first with `custody-server facility create`")]
    UnknownFacility(LicenseNumber),
    #[error("badge {badge:?} is already used by someone at {facility}; each badge must be unique")]
    BadgeTaken { badge: String, facility: LicenseNumber },
    #[error("there is no user with id {0}")]
    UnknownUser(UserId),
    #[error("user {user} does not work at {facility}")]
    UserNotInFacility { user: UserId, facility: LicenseNumber },
    #[error("there is no device {0} enrolled here")]
    UnknownDevice(DeviceId),
    /// Unknown, used, expired or void codes get this one answer, so a guesser learns nothing
    /// (the log says which).
    #[error("this enrolment code is not valid, was already used or has expired; ask a manager for a new one")]
    EnrolmentCodeInvalid,
    #[error("the device token is missing or not recognised; enrol this device with a code from a manager")]
    Unauthorized,
    #[error("this device was revoked at {0} and must be enrolled again with a new code from a manager")]
    DeviceRevoked(DateTime<Utc>),
    #[error("the badge or PIN is wrong; check both and try again")]
    WrongCredentials,
    /// Too many wrong PINs (or enrolment codes): nothing was checked. See docs/decisions/0014.
    #[error("{}", locked_message(*what, *until))]
    Locked { what: Locked, until: DateTime<Utc> },
    /// The right PIN of someone deactivated: told only to whoever knew the PIN.
    #[error("{name} was deactivated at this facility and cannot sign in or approve; ask an admin")]
    Deactivated { name: String },
    #[error("there is nobody with badge {badge:?} at {facility}; `custody-server user list --facility {facility}` shows every badge")]
    UnknownBadge { badge: String, facility: LicenseNumber },
    #[error("{name} is {role}; only a manager or admin may do this")]
    NotManager { name: String, role: Role },
    /// A call only a person may make, with no proof of one.
    #[error("sign in on this device as a manager to do this")]
    SignInRequired,
    /// The proof of who makes the call was refused.
    #[error("{0}")]
    ProofRefused(String),
}

/// What is locked, for the sentence the person reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locked {
    Badge,
    Device,
    Address,
}

/// The sentence for a lock: what, until when, and what to do.
pub(crate) fn locked_message(what: Locked, until: DateTime<Utc>) -> String {
    let wait = wait_in_words(until - Utc::now());
    let at = until.format("%H:%M UTC");
    match what {
        Locked::Badge => format!(
            "too many wrong badges or PINs for this badge; it is locked: try again in {wait} (after {at}), or ask an admin to unlock it"
        ),
        Locked::Device => format!(
            "too many wrong badges or PINs from this device; it is locked: try again in {wait} (after {at}), or ask an admin to unlock it"
        ),
        Locked::Address => {
            format!("too many enrolment codes that were not valid came from this network; try again in {wait} (after {at})")
        }
    }
}

fn wait_in_words(left: Duration) -> String {
    let minutes = ((left.num_seconds().max(1) + 59) / 60).max(1);
    match minutes {
        1 => "a minute".to_string(),
        2..=90 => format!("{minutes} minutes"),
        _ => format!("{} hours", (minutes + 59) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_read_as_words() {
        assert_eq!(wait_in_words(Duration::seconds(5)), "a minute");
        assert_eq!(wait_in_words(Duration::seconds(61)), "2 minutes");
        assert_eq!(wait_in_words(Duration::hours(24)), "24 hours");
    }
}
