//! Conflicts on the manager's phone: the list (open first, then the resolved ones as history) and
//! the resolution, a ledger event every replica's fold honours (docs/decisions/0022). Free
//! functions over the unit of work: `store.work(|w| conflicts::resolve_conflict(w, ..))`.

use uuid::Uuid;

use crate::event::{ConflictId, ConflictKind, Event, EventBody, EventError, EventKind, Resolution};
use crate::fold::Conflict;
use crate::ids::PackageTag;
use crate::roles::Role;
use crate::store::{StoreError, UnitOfWork};

#[derive(Debug, thiserror::Error)]
pub enum ConflictError {
    #[error("only a manager may resolve a conflict; {name} is {role}")]
    NotAllowed { name: String, role: Role },
    #[error("there is no {kind} conflict raised by event {event} for {tag} on this phone; sync, then pick it from the list")]
    Unknown { tag: PackageTag, event: Uuid, kind: ConflictKind },
    #[error("this {kind} conflict of {tag} was already resolved by {by} ({resolution}); nothing changed")]
    AlreadyResolved { tag: PackageTag, kind: ConflictKind, by: String, resolution: String },
    #[error("a resolution needs a note saying what was found and checked; write it and resolve again")]
    MissingNote,
    #[error(transparent)]
    Event(#[from] EventError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type Result<T, E = ConflictError> = std::result::Result<T, E>;

/// A conflict as the manager's list shows it: the fold's record, and the name of whoever
/// resolved it (from the roster; the fold knows only their id).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ConflictLine {
    pub conflict: Conflict,
    /// Whoever resolved it, by name; `None` while it is open.
    pub resolved_by: Option<String>,
}

/// Every conflict this phone's fold holds: the open ones first, then the resolved ones, each
/// group by package, kind and event.
pub fn conflict_list(w: &mut UnitOfWork<'_>) -> Result<Vec<ConflictLine>> {
    let roster = w.roster()?;
    let mut conflicts = w.conflicts()?;
    conflicts.sort_by_key(|c| !c.is_open());
    Ok(conflicts
        .into_iter()
        .map(|conflict| {
            let resolved_by = conflict
                .resolved
                .as_ref()
                .map(|r| roster.iter().find(|p| p.id == r.by).map_or_else(|| format!("user {}", r.by), |p| p.name.clone()));
            ConflictLine { conflict, resolved_by }
        })
        .collect())
}

/// A manager resolves an open conflict of `tag`: records a `ConflictResolved` event naming it.
/// The events that raised it stay; the fold, on every replica, marks it resolved and applies
/// `resolution`. Refused, changing nothing, unless the signed-in person is a manager, the
/// conflict is open on this phone, the decision fits its kind and the note says something.
pub fn resolve_conflict(
    w: &mut UnitOfWork<'_>,
    tag: &PackageTag,
    conflict: ConflictId,
    resolution: Resolution,
    note: &str,
) -> Result<Event> {
    let user = w.user()?;
    if !user.role.may_record(EventKind::ConflictResolved) {
        return Err(ConflictError::NotAllowed { name: user.name, role: user.role });
    }
    if note.trim().is_empty() {
        return Err(ConflictError::MissingNote);
    }
    let conflicts = w.conflicts()?;
    let found = conflicts.iter().find(|c| c.tag == *tag && c.id() == conflict).ok_or_else(|| ConflictError::Unknown {
        tag: tag.clone(),
        event: conflict.event,
        kind: conflict.kind,
    })?;
    if let Some(done) = &found.resolved {
        let by = w.roster()?.into_iter().find(|p| p.id == done.by).map_or_else(|| format!("user {}", done.by), |p| p.name);
        return Err(ConflictError::AlreadyResolved { tag: tag.clone(), kind: conflict.kind, by, resolution: done.resolution.describe() });
    }
    if !resolution.fits(conflict.kind) {
        return Err(EventError::ResolutionDoesNotFit { kind: conflict.kind, resolution }.into());
    }
    Ok(w.record(tag, EventBody::ConflictResolved { conflict, resolution, note: note.to_string() })?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::UnsealedEvent;
    use crate::hlc::Hlc;
    use crate::ids::{BatchNumber, DeviceId, ItemName, LocationName};
    use crate::protocol::{RegisteredKey, SyncResponse};
    use crate::quantity::{Quantity, Unit};
    use crate::store::{Store, StoreKey};
    use crate::testing::{enrol_offline, person};
    use rust_decimal::Decimal;

    fn place(name: &str) -> LocationName {
        LocationName::parse(name).unwrap()
    }

    /// A phone where Sam (manager) received a package and moved it to Vault A, and Ana's move of
    /// it to Vault B from another phone (made without seeing Sam's) arrived by sync.
    fn concurrent_move(dir: &tempfile::TempDir) -> (Store, PackageTag, ConflictId) {
        let store = Store::open(dir.path().join("phone.db"), &StoreKey::from_bytes(&[9; 32]).unwrap()).unwrap();
        let mut roster = enrol_offline(
            &store,
            "C11-0000001-LIC",
            &[(person("Maria", Role::FloorStaff, "B-1"), "1234"), (person("Sam", Role::Manager, "B-2"), "9876")],
        )
        .unwrap();
        let t = PackageTag::parse("1A4FF0100000022000077001").unwrap();
        store.sign_in("B-2", "9876").unwrap();
        let received = store
            .record(
                &t,
                EventBody::Received {
                    item: ItemName::parse("Live Resin 1g").unwrap(),
                    batch: BatchNumber::parse("LR-7").unwrap(),
                    quantity: Quantity::new(Decimal::new(10, 0), Unit::G).unwrap(),
                    location: place("Intake"),
                    expires_on: None,
                    manifest: None,
                    via: Some(crate::event::ReceivedVia::OpeningBalance),
                },
            )
            .unwrap();
        let mine = store.record(&t, EventBody::Moved { to: place("Vault A") }).unwrap();

        let (other, key) = (DeviceId::new(), crate::signing::SigningKey::generate());
        let mut ana = person("Ana", Role::FloorStaff, "B-3");
        ana.keys.push(RegisteredKey { device: other, key: key.public_key(), active: true });
        let theirs = UnsealedEvent {
            id: Uuid::now_v7(),
            facility: received.facility.clone(),
            tag: t.clone(),
            user: ana.id,
            device: other,
            device_seq: 1,
            hlc: Hlc { wall_ms: mine.hlc.wall_ms + 1, counter: 0 },
            parent: Some(received.id),
            body: EventBody::Moved { to: place("Vault B") },
            prev_hash: crate::event::GENESIS_HASH.into(),
        }
        .seal_signed(&key);
        roster.push(ana);
        let response = SyncResponse { events: vec![theirs.clone()], roster, server_time: chrono::Utc::now(), ..Default::default() };
        store.apply_sync(&response, chrono::Utc::now()).unwrap();
        (store, t, ConflictId { event: theirs.id, kind: ConflictKind::ConcurrentMove })
    }

    fn at_vault_a() -> Resolution {
        Resolution::LocatedAt { location: place("Vault A") }
    }

    #[test]
    fn a_manager_resolves_an_open_conflict_once_with_a_note_and_a_fitting_decision() {
        let dir = tempfile::tempdir().unwrap();
        let (store, t, id) = concurrent_move(&dir);
        let lines = store.work(conflict_list).unwrap();
        assert_eq!((lines.len(), lines[0].conflict.id(), lines[0].resolved_by.clone()), (1, id, None));
        assert_eq!(store.package(&t).unwrap().unwrap().location.as_str(), "Vault B");
        let pending = store.pending_count().unwrap();

        store.sign_out().unwrap();
        store.sign_in("B-1", "1234").unwrap();
        let err = store.work(|w| resolve_conflict(w, &t, id, at_vault_a(), "on the shelf")).unwrap_err();
        assert_eq!(err.to_string(), "only a manager may resolve a conflict; Maria is floor staff");

        store.sign_out().unwrap();
        store.sign_in("B-2", "9876").unwrap();
        let err = store.work(|w| resolve_conflict(w, &t, id, at_vault_a(), " \n ")).unwrap_err();
        assert!(matches!(err, ConflictError::MissingNote), "{err}");
        let err = store.work(|w| resolve_conflict(w, &t, id, Resolution::Acknowledged, "fine")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"acknowledged after investigation\" does not resolve a concurrent move conflict; say where the package is"
        );
        let unknown = ConflictId { event: Uuid::now_v7(), kind: ConflictKind::ConcurrentMove };
        let err = store.work(|w| resolve_conflict(w, &t, unknown, at_vault_a(), "on the shelf")).unwrap_err();
        assert!(err.to_string().starts_with("there is no concurrent move conflict raised by event"), "{err}");
        assert_eq!(store.pending_count().unwrap(), pending, "refusals record nothing");

        let event = store.work(|w| resolve_conflict(w, &t, id, at_vault_a(), "found it on shelf 1")).unwrap();
        assert_eq!(event.kind(), EventKind::ConflictResolved);
        assert_eq!(store.package(&t).unwrap().unwrap().location.as_str(), "Vault A");
        let lines = store.work(conflict_list).unwrap();
        assert_eq!(lines[0].resolved_by.as_deref(), Some("Sam"));
        let done = lines[0].conflict.resolved.as_ref().unwrap();
        assert_eq!((done.event, done.note.as_str(), &done.resolution), (event.id, "found it on shelf 1", &at_vault_a()));
        assert_eq!(store.history(&t).unwrap().len(), 4, "receipt, both moves and the resolution");

        let err = store.work(|w| resolve_conflict(w, &t, id, at_vault_a(), "again")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "this concurrent move conflict of 1A4FF0100000022000077001 was already resolved by Sam (\"the package is at Vault A\"); nothing changed"
        );
        assert_eq!(store.pending_count().unwrap(), pending + 1);

        // The resolution survives a refold from the stored history, as after a migration.
        store.refold_all().unwrap();
        assert_eq!(store.package(&t).unwrap().unwrap().location.as_str(), "Vault A");
        assert!(store.conflicts().unwrap().iter().all(|c| !c.is_open()));
    }
}
