//! A ledger event as the apps see it and type it (the apps' `LedgerEvent` and `EventBody`;
//! feature `uniffi` derives them for the FFI). Dates and adjustment-request ids travel as text,
//! so that a mistyped one is refused with the sentence that names the field; the conversions
//! to and from the ledger's own [`crate::event::EventBody`], with those sentences and the
//! trimming of an optional manifest number, are here once.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::event::{self, Event, EventKind};
use crate::ids::{BatchNumber, DeviceId, ItemName, LicenseNumber, LocationName, PackageTag, UserId};
use crate::input::{self, InputError};
use crate::quantity::Quantity;

/// What happened to a package, with the facts that kind of change needs, as the apps type it
/// and read it back in history. Tags, items, batches, locations and licences are core's (each
/// checked as it comes in); dates (`YYYY-MM-DD`) and request ids stay text.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum EventBody {
    Received {
        item: ItemName,
        batch: BatchNumber,
        quantity: Quantity,
        location: LocationName,
        /// `YYYY-MM-DD`.
        expires_on: Option<String>,
        manifest: Option<String>,
    },
    Moved {
        to: LocationName,
    },
    Adjusted {
        delta: Quantity,
        reason: String,
        note: String,
        /// The approved adjustment request this carries out.
        request_id: Option<String>,
    },
    Quarantined {
        reason: String,
    },
    Released {
        note: String,
        request_id: Option<String>,
    },
    Picked {
        order: String,
    },
    Shipped {
        manifest: String,
    },
    Delivered {
        recipient: LicenseNumber,
    },
    Returned {
        location: LocationName,
        reason: String,
    },
    Destroyed {
        reason: String,
    },
    Split {
        new_tag: PackageTag,
        quantity: Quantity,
        item: ItemName,
        batch: BatchNumber,
        location: LocationName,
        expires_on: Option<String>,
    },
    /// A manager's decision on the conflict raised by `conflict_event_id` (docs/decisions/0022).
    ConflictResolved {
        conflict_event_id: Uuid,
        conflict_kind: event::ConflictKind,
        resolution: event::Resolution,
        note: String,
    },
}

fn date_out(d: Option<NaiveDate>) -> Option<String> {
    d.map(|d| d.format("%Y-%m-%d").to_string())
}

fn date_in(d: Option<String>) -> Result<Option<NaiveDate>, InputError> {
    input::optional_date(d.as_deref().unwrap_or_default())
}

impl From<event::EventBody> for EventBody {
    fn from(b: event::EventBody) -> Self {
        use event::EventBody as B;
        match b {
            B::Received { item, batch, quantity, location, expires_on, manifest, .. } => {
                EventBody::Received { item, batch, quantity, location, expires_on: date_out(expires_on), manifest }
            }
            B::Moved { to } => EventBody::Moved { to },
            B::Adjusted { delta, reason, note, request } => {
                EventBody::Adjusted { delta, reason, note, request_id: request.map(|r| r.to_string()) }
            }
            B::Quarantined { reason } => EventBody::Quarantined { reason },
            B::Released { note, request } => EventBody::Released { note, request_id: request.map(|r| r.to_string()) },
            B::Picked { order } => EventBody::Picked { order },
            B::Shipped { manifest } => EventBody::Shipped { manifest },
            B::Delivered { recipient } => EventBody::Delivered { recipient },
            B::Returned { location, reason } => EventBody::Returned { location, reason },
            B::Destroyed { reason } => EventBody::Destroyed { reason },
            B::Split { new_tag, quantity, item, batch, location, expires_on } => {
                EventBody::Split { new_tag, quantity, item, batch, location, expires_on: date_out(expires_on) }
            }
            B::ConflictResolved { conflict, resolution, note } => {
                EventBody::ConflictResolved { conflict_event_id: conflict.event, conflict_kind: conflict.kind, resolution, note }
            }
        }
    }
}

/// What was typed, as the ledger's body: a date that is not `YYYY-MM-DD` or a request id that
/// is not an id is refused with a sentence naming it; a blank manifest number is none.
impl TryFrom<EventBody> for event::EventBody {
    type Error = InputError;
    fn try_from(b: EventBody) -> Result<Self, InputError> {
        use event::EventBody as B;
        let request = |r: Option<String>| r.map(|r| input::id("adjustment request", &r)).transpose();
        Ok(match b {
            EventBody::Received { item, batch, quantity, location, expires_on, manifest } => {
                B::Received {
                    item,
                    batch,
                    quantity,
                    location,
                    expires_on: date_in(expires_on)?,
                    manifest: input::optional_text(manifest),
                    // The apps name no way in: a receipt typed by hand is the server's to refuse.
                    via: None,
                }
            }
            EventBody::Moved { to } => B::Moved { to },
            EventBody::Adjusted { delta, reason, note, request_id } => B::Adjusted { delta, reason, note, request: request(request_id)? },
            EventBody::Quarantined { reason } => B::Quarantined { reason },
            EventBody::Released { note, request_id } => B::Released { note, request: request(request_id)? },
            EventBody::Picked { order } => B::Picked { order },
            EventBody::Shipped { manifest } => B::Shipped { manifest },
            EventBody::Delivered { recipient } => B::Delivered { recipient },
            EventBody::Returned { location, reason } => B::Returned { location, reason },
            EventBody::Destroyed { reason } => B::Destroyed { reason },
            EventBody::Split { new_tag, quantity, item, batch, location, expires_on } => {
                B::Split { new_tag, quantity, item, batch, location, expires_on: date_in(expires_on)? }
            }
            EventBody::ConflictResolved { conflict_event_id, conflict_kind, resolution, note } => {
                B::ConflictResolved { conflict: event::ConflictId { event: conflict_event_id, kind: conflict_kind }, resolution, note }
            }
        })
    }
}

/// One immutable ledger event, as the apps show it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct LedgerEvent {
    pub id: Uuid,
    pub tag: PackageTag,
    pub kind: EventKind,
    pub body: EventBody,
    pub user_id: UserId,
    pub device_id: DeviceId,
    pub device_seq: u64,
    /// When the device recorded it (its hybrid-logical-clock wall time, corrected by the
    /// server's clock at the last sync).
    pub recorded_at: DateTime<Utc>,
}

impl From<Event> for LedgerEvent {
    fn from(e: Event) -> Self {
        LedgerEvent {
            id: e.id,
            kind: e.kind(),
            tag: e.tag,
            user_id: e.user,
            device_id: e.device,
            device_seq: e.device_seq,
            recorded_at: e.hlc.wall_time(),
            body: e.body.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_comes_back_as_typed_and_a_bad_date_or_request_is_refused_by_name() {
        let typed = EventBody::Received {
            item: ItemName::parse("Live Resin 1g").unwrap(),
            batch: BatchNumber::parse("lr-1").unwrap(),
            quantity: Quantity::parse_in("10", Some(crate::quantity::Unit::G)).unwrap(),
            location: LocationName::parse("Vault").unwrap(),
            expires_on: Some(" 2027-06-30 ".into()),
            manifest: Some("  ".into()),
        };
        let body = event::EventBody::try_from(typed).unwrap();
        let EventBody::Received { expires_on, manifest, .. } = EventBody::from(body) else { panic!() };
        assert_eq!((expires_on.as_deref(), manifest), (Some("2027-06-30"), None), "trimmed; a blank manifest is none");
        let bad = EventBody::Released { note: "ok".into(), request_id: Some("nope".into()) };
        let err = event::EventBody::try_from(bad).unwrap_err();
        assert!(err.to_string().contains("adjustment request"), "{err}");
    }
}
