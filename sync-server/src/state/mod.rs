//! The connector to the state's seed-to-sale system (docs/decisions/0019-state-outbox.md).
//!
//! What a state system must do is the [`StateSystem`] trait: push a batch of writes of one kind,
//! read a package back, and read a page of a list. Metrc v2 is the one implementation
//! ([`metrc`]); a second system (BioTrack) is another implementation and another value of
//! [`System`]. The rest of the server speaks only these types:
//! - [`connection`]: per facility, which system, where, and the keys sealed under the data key;
//! - [`outbox`]: the durable queue of state writes, filled in the transaction that accepts a
//!   ledger event, and the failed-submission queue;
//! - [`drain`]: the task that sends the outbox, in order, in batches, with retries and read-back;
//! - [`pull`]: the task that reads the state's incoming transfers, lab results, reference lists
//!   and active packages; [`inbox`]: what it keeps, and what phones get of it at sync;
//! - [`pace`]: every GET of a facility, pulls and drain together, inside the state's limits.

pub mod connection;
pub mod drain;
pub mod inbox;
pub mod metrc;
pub mod outbox;
pub mod pace;
pub mod pull;

use std::future::Future;
use std::time::Duration;

use rust_decimal::Decimal;
use serde_json::Value;

/// The state systems the server can speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum System {
    Metrc,
}

impl System {
    pub fn as_str(self) -> &'static str {
        match self {
            System::Metrc => "metrc",
        }
    }

    pub fn parse(text: &str) -> Option<System> {
        match text {
            "metrc" => Some(System::Metrc),
            _ => None,
        }
    }
}

/// The kinds of write the product sends; one batch holds writes of one kind only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WriteKind {
    /// A package moved to another location.
    Location,
    /// A quantity adjustment (only one an approving manager allowed).
    Adjust,
    /// A new package (a split: the new tag, with the source package as its ingredient).
    Create,
    /// A package finished (destroyed).
    Finish,
    /// An outgoing manifest, created as a template.
    Outgoing,
}

impl WriteKind {
    pub const ALL: [WriteKind; 5] = [WriteKind::Location, WriteKind::Adjust, WriteKind::Create, WriteKind::Finish, WriteKind::Outgoing];

    pub fn as_str(self) -> &'static str {
        match self {
            WriteKind::Location => "location",
            WriteKind::Adjust => "adjust",
            WriteKind::Create => "create",
            WriteKind::Finish => "finish",
            WriteKind::Outgoing => "outgoing",
        }
    }

    pub fn parse(text: &str) -> Option<WriteKind> {
        WriteKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// Most objects the state takes in one write (more is refused with 413).
pub const MAX_OBJECTS_PER_WRITE: usize = 10;

/// A package as the state holds it, in the terms read-back needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatePackage {
    pub label: String,
    pub quantity: Decimal,
    pub location: Option<String>,
    /// Finished (or otherwise no longer active).
    pub finished: bool,
}

/// One page of a list the state returns.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub data: Vec<Value>,
    /// How many records the whole list has, when the state says.
    pub total: Option<u64>,
}

/// What went wrong talking to the state, sorted by what the connector must do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// 401/403: the key is wrong, expired or revoked, or the licence may not use this. The
    /// facility's connector stops until it is connected again.
    #[error("the state refused the keys for this facility ({0}); connect it again with a valid user key (`custody-server state connect`)")]
    Unauthorized(String),
    /// 4xx: the state refused the write's content. `rows`: which objects (index in the batch)
    /// with the state's message; `None` when the state did not say which.
    #[error("the state refused the write: {}", describe_rows(.0))]
    Rejected(Vec<(Option<usize>, String)>),
    /// 429: too many requests; try again after this long.
    #[error("the state asked to slow down for {0:?}")]
    RateLimited(Duration),
    /// 5xx: the state answered that it failed. A write may or may not have been applied.
    #[error("the state is unavailable (HTTP {0})")]
    Unavailable(u16),
    /// The request was sent but no answer came (timeout, connection dropped): a write may have
    /// been applied, so it is read back before it is sent again.
    #[error("the state's answer was lost: {0}")]
    Lost(String),
    /// The request never left (no connection): safe to send again as is.
    #[error("the state could not be reached: {0}")]
    NotSent(String),
    /// An answer the connector does not understand.
    #[error("the state's answer was not understood: {0}")]
    Unexpected(String),
}

fn describe_rows(rows: &[(Option<usize>, String)]) -> String {
    rows.iter()
        .map(|(row, message)| match row {
            Some(i) => format!("object {}: {message}", i + 1),
            None => message.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl StateError {
    /// Whether a write that got this answer may have been applied by the state anyway.
    pub fn in_doubt(&self) -> bool {
        matches!(self, StateError::Lost(_) | StateError::Unavailable(_) | StateError::Unexpected(_))
    }
}

/// What a state system must do for the connector. One value speaks for one facility (its
/// licence and keys are inside it), so keys of one facility can never be used for another.
pub trait StateSystem: Send + Sync {
    /// Sends one write of `objects` (at most [`MAX_OBJECTS_PER_WRITE`]), all of `kind`. The
    /// state applies all of them or none.
    fn push(&self, kind: WriteKind, objects: &[Value]) -> impl Future<Output = Result<(), StateError>> + Send;

    /// The package with this label as the state holds it; `None` if the state has none.
    fn package(&self, label: &str) -> impl Future<Output = Result<Option<StatePackage>, StateError>> + Send;

    /// One page (from 1) of a list, with the list's filters (e.g. a lastModified window).
    fn page(&self, path: &str, filters: &[(&str, String)], page: u32) -> impl Future<Output = Result<Page, StateError>> + Send;
}
