//! The opening balance: the stock a facility already holds when it starts with Custody, entered
//! by a manager. The only way into stock besides receiving against a manifest and a split: the
//! server accepts a `Received` event that names it only from a manager (docs/decisions/0010).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::event::{Event, EventBody, ReceivedVia};
use crate::ids::{BatchNumber, ItemName, LocationName, PackageTag};
use crate::quantity::Quantity;
use crate::roles::Role;
use crate::store::{StoreError, UnitOfWork};

#[derive(Debug, thiserror::Error)]
pub enum OpeningError {
    #[error("only a manager may enter an opening balance ({0} is not a manager)")]
    NotManager(Role),
    #[error("an opening balance needs at least one package")]
    Empty,
    #[error("{tag} is already in stock on this device; an opening balance enters a package once")]
    AlreadyInStock { tag: PackageTag },
    #[error("{tag} is listed twice in this opening balance")]
    Twice { tag: PackageTag },
    #[error("{tag}: {source}")]
    Line { tag: PackageTag, source: StoreError },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One package on hand: what its `Received` event carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpeningLine {
    pub tag: PackageTag,
    pub item: ItemName,
    pub batch: BatchNumber,
    pub quantity: Quantity,
    pub location: LocationName,
    pub expires_on: Option<NaiveDate>,
}

/// Enters the packages on hand, all or none (one unit of work): managers only, each package
/// once. Returns the ledger events recorded.
pub fn record_opening_balance(w: &mut UnitOfWork<'_>, lines: &[OpeningLine]) -> Result<Vec<Event>, OpeningError> {
    let user = w.user()?;
    if user.role != Role::Manager {
        return Err(OpeningError::NotManager(user.role));
    }
    if lines.is_empty() {
        return Err(OpeningError::Empty);
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut events = Vec::with_capacity(lines.len());
    for line in lines {
        if !seen.insert(line.tag.clone()) {
            return Err(OpeningError::Twice { tag: line.tag.clone() });
        }
        if w.package(&line.tag)?.is_some() {
            return Err(OpeningError::AlreadyInStock { tag: line.tag.clone() });
        }
        let body = EventBody::Received {
            item: line.item.clone(),
            batch: line.batch.clone(),
            quantity: line.quantity,
            location: line.location.clone(),
            expires_on: line.expires_on,
            manifest: None,
            via: Some(ReceivedVia::OpeningBalance),
        };
        events.push(w.record(&line.tag, body).map_err(|source| OpeningError::Line { tag: line.tag.clone(), source })?);
    }
    Ok(events)
}
