//! The sync round trip: take the device's work-document messages, judge each pushed event, store
//! it as accepted or rejected, pull the facility's events this device lacks and answer its work
//! documents, all in one transaction so the cursor matches the events and the sync states match
//! the documents.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use custody_core::chain::{self, ChainBreak};
use custody_core::event::{Event, EventBody, GENESIS_HASH, ReceivedVia};
use custody_core::fold::Inventory;
use custody_core::ids::{LicenseNumber, UserId};
use custody_core::protocol::{MAX_EVENTS_PER_SYNC, Outcome, RosterEntry, SyncRequest, SyncResponse, Verdict};
use custody_core::work::{DocKind, adjustment, receiving};
use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};

use crate::db::{AuthedDevice, Db, DbError};
use crate::docs::engine::DocRound;
use crate::docs::policy::ServerPolicy;
use crate::people::{KeyCheck, KeyRing, ProvenPerson};
use custody_core::signing::SigningKey;

/// What one sync did, for the log line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncCounts {
    pub accepted: usize,
    pub rejected: usize,
    pub pulled: usize,
    /// Work-document messages taken, refused (including withdrawn decisions), and sent back.
    pub docs_received: usize,
    pub doc_refusals: usize,
    pub docs_sent: usize,
}

/// Structural checks on the whole request. Any failure refuses all of it, so a device never has
/// half a batch stored because one event was malformed.
pub fn check_request(request: &SyncRequest) -> Result<(), DbError> {
    if request.events.len() > MAX_EVENTS_PER_SYNC {
        return Err(DbError::InvalidEvent(format!(
            "this sync carries {} events; send at most {MAX_EVENTS_PER_SYNC} per request. Nothing was stored.",
            request.events.len()
        )));
    }
    for (index, event) in request.events.iter().enumerate() {
        if let Err(err) = event.validate() {
            return Err(DbError::InvalidEvent(format!(
                "event {} (number {} in this sync) is invalid: {err}. Nothing from this sync was stored.",
                event.id,
                index + 1
            )));
        }
    }
    Ok(())
}

/// An adjustment or release that carries out an adjustment request is checked against the
/// request on the server: only a manager who neither asked for it nor counted the package, and
/// only the change that was asked for. `Some(reason)` refuses the event.
fn request_check(
    tx: &Transaction<'_>,
    db: &Db,
    device: &AuthedDevice,
    event: &Event,
    role: Option<custody_core::roles::Role>,
) -> Result<RequestCheck, DbError> {
    let request = match &event.body {
        EventBody::Adjusted { request: Some(id), .. } | EventBody::Released { request: Some(id), .. } => *id,
        _ => return Ok(RequestCheck::Fine),
    };
    // A request made on the same phone travels in this very sync, and a new document needs a
    // second round trip to arrive: wait for it rather than refuse a legitimate approval.
    let not_yet = || RequestCheck::NotYet(format!("waiting for adjustment request {request} to arrive"));
    let Some(doc) = crate::docs::engine::load_for_check(tx, db, &device.facility, request)? else { return Ok(not_yet()) };
    let Ok(adjustment) = adjustment::read(&doc) else { return Ok(not_yet()) };
    if doc.kind != DocKind::Adjustment {
        return Ok(RequestCheck::Refuse(format!("{request} is not an adjustment request")));
    }
    let Some(role) = role else { return Ok(RequestCheck::Fine) };
    Ok(match adjustment.check_execution(event, role) {
        Ok(()) => RequestCheck::Fine,
        Err(why) => RequestCheck::Refuse(format!("this {} was refused: {why}", event.kind())),
    })
}

/// A `Received` event must prove how the package came in (docs/decisions/0010): from a
/// receiving session whose document this server holds for the facility, completed, with the
/// package accepted (core's `receiving::check_receipt`), or as a manager's opening balance. A
/// bare receipt is refused with the sentence the phone shows. A session document still on its
/// way (its messages travel in this request) defers the event, as an adjustment request does;
/// one the device does not even send is refused, so a made-up session cannot hold the chain.
fn receipt_check(
    tx: &Transaction<'_>,
    db: &Db,
    device: &AuthedDevice,
    request: &SyncRequest,
    event: &Event,
    role: Option<custody_core::roles::Role>,
    signed_in: bool,
) -> Result<RequestCheck, DbError> {
    let EventBody::Received { via, .. } = &event.body else { return Ok(RequestCheck::Fine) };
    let refuse = |why: String| RequestCheck::Refuse(format!("this receipt of {} was refused: {why}", event.tag));
    if let Some(role) = role
        && let Some(problem) = event.body.receipt_problem(role)
    {
        return Ok(refuse(problem.to_string()));
    }
    let Some(ReceivedVia::Receiving { session }) = via else { return Ok(RequestCheck::Fine) };
    // Documents travel only while someone is signed in on the device (their signature proves
    // the request): a device-only sync cannot carry the session yet, so its receipts wait.
    let in_transit = !signed_in || request.docs.iter().any(|m| m.doc == *session);
    let doc = crate::docs::engine::load_for_check(tx, db, &device.facility, *session)?.filter(|d| d.kind == DocKind::Receiving);
    let not_yet = || RequestCheck::NotYet(format!("waiting for receiving session {session} to arrive"));
    let Some(doc) = doc else {
        return Ok(if in_transit {
            not_yet()
        } else {
            refuse(format!("receiving session {session} is not on the server for {}", device.facility))
        });
    };
    Ok(match receiving::check_receipt(&doc, event) {
        Ok(()) => RequestCheck::Fine,
        // The rest of the session (its completion, the decision) may still be in transit.
        Err(_) if in_transit => not_yet(),
        Err(why) => refuse(why),
    })
}

enum RequestCheck {
    Fine,
    Refuse(String),
    NotYet(String),
}

/// Why an event's signature does not prove that `user` recorded it on the device that sent it,
/// if it does not: no signature, a key never registered there, a revoked key, or a mismatch.
fn signature_problem(tx: &Transaction<'_>, keys: &mut KeyRing, event: &Event, user: &RosterEntry) -> Result<Option<String>, DbError> {
    let Some(signature) = &event.signature else {
        return Ok(Some(format!(
            "this {} carries no signature; only what {} signs on this device with their PIN is accepted",
            event.kind(),
            user.name
        )));
    };
    let message = custody_core::signing::event_message(&event.hash);
    Ok(match keys.check(tx, event.user, event.device, &message, signature)? {
        KeyCheck::Verified => None,
        KeyCheck::Revoked(why) => Some(format!(
            "this {} is signed with {}'s key on this device, which was revoked: {why}; sign in again while online and record it again",
            event.kind(),
            user.name
        )),
        KeyCheck::Unregistered => Some(format!(
            "{} has no signing key on this device; they must sign in on it while online before anything they record is accepted",
            user.name
        )),
        KeyCheck::Mismatch => Some(format!("this {} is not signed by {}'s key on this device", event.kind(), user.name)),
    })
}

/// Whether an event's stamp is one this server believes (decision 0002): not further ahead of the
/// server's clock than the allowance, and not from before its phone enrolled (less the same
/// allowance). The reason, if not, says what the person holding the phone should do. A stamp far
/// ahead would otherwise sort after every later event of its package for ever (a package "in
/// Vault FUTURE" after real moves); one from before enrolment was not made on this phone as
/// enrolled.
fn check_clock(event: &Event, now: DateTime<Utc>, enrolled_at: DateTime<Utc>, allowance: chrono::Duration) -> Result<(), String> {
    let stamp_ms = event.hlc.wall_ms;
    let stamp = event.hlc.wall_time().to_rfc3339_opts(SecondsFormat::Secs, true);
    let ahead_ms = stamp_ms.saturating_sub(now.timestamp_millis());
    if ahead_ms > allowance.num_milliseconds() {
        return Err(format!(
            "the phone's clock was {} ahead of the server's when this was recorded (stamped {stamp}, server time {}); \
             check the date and time settings on the phone, then record it again",
            describe_ms(ahead_ms),
            now.to_rfc3339_opts(SecondsFormat::Secs, true),
        ));
    }
    let earliest = enrolled_at.checked_sub_signed(allowance).map_or(i64::MIN, |t| t.timestamp_millis());
    if stamp_ms < earliest {
        return Err(format!(
            "this is stamped {stamp}, before the phone was enrolled ({}), so the phone's clock was behind; \
             check the date and time settings on the phone, then record it again",
            enrolled_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        ));
    }
    Ok(())
}

/// A span of time as people say it, to the nearest unit: "12 minutes", "5 hours", "974 years".
fn describe_ms(ms: i64) -> String {
    let minutes = ms / 60_000;
    let nearest = |per: i64| (minutes + per / 2) / per;
    let (n, unit) = match minutes {
        m if m < 120 => (m.max(1), "minute"),
        m if m < 48 * 60 => (nearest(60), "hour"),
        m if m < 730 * 24 * 60 => (nearest(24 * 60), "day"),
        _ => (nearest(365 * 24 * 60), "year"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// The last event of a device's hash chain: (device_seq, hash), or (0, genesis).
fn chain_head(tx: &Transaction<'_>, device: &AuthedDevice) -> Result<(u64, String), DbError> {
    let id = device.id.to_string();
    let accepted: Option<(i64, String)> = tx
        .query_row("SELECT device_seq, hash FROM events WHERE device = ?1 ORDER BY device_seq DESC LIMIT 1", params![id], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    let rejected: Option<(i64, String)> = tx
        .query_row(
            "SELECT device_seq, hash FROM rejected_events WHERE device = ?1 AND chain_ok = 1
             ORDER BY device_seq DESC LIMIT 1",
            params![id],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    Ok(match accepted.into_iter().chain(rejected).max_by_key(|(seq, _)| *seq) {
        Some((seq, hash)) => (seq as u64, hash),
        None => (0, GENESIS_HASH.to_string()),
    })
}

/// Whether `event` is the next link of the sending device's chain (the rule is core's
/// [`chain::link_problem`]); the reason, worded for the phone, if not.
fn check_chain(event: &Event, device: &AuthedDevice, last_seq: u64, last_hash: &str) -> Result<(), String> {
    if event.device != device.id {
        return Err("it names another device".into());
    }
    let n = event.device_seq;
    // `chain_head` answers (0, genesis) for a device with no event yet.
    let head = (last_seq > 0).then_some(chain::Head { device_seq: last_seq, hash: last_hash });
    match chain::link_problem(head, event) {
        None => Ok(()),
        Some(chain::LinkProblem::Number { expected, .. }) => Err(format!(
            "hash chain broken at event {n} of this device: the server's last event from this device is number \
             {last_seq}, so the next must be {expected}"
        )),
        Some(chain::LinkProblem::PrevHash) if last_seq == 0 => {
            Err(format!("hash chain broken at event {n} of this device: the first event must link to the genesis hash"))
        }
        Some(chain::LinkProblem::PrevHash) => Err(format!(
            "hash chain broken at event {n} of this device: it links to {} but event {last_seq} has hash {last_hash}",
            event.prev_hash
        )),
    }
}

impl Db {
    /// One sync round trip for an authenticated device, in one transaction: the device's work
    /// document messages first (so the ledger checks see the newest documents), then its events,
    /// then the events it lacks, then the document messages back. Blocking.
    ///
    /// `person` is who the request's signature proves is signed in on the device: it decides which
    /// work documents and patient data the device may receive (none without one). What the device
    /// pushes is judged on its own signatures, whoever sends it.
    pub fn sync(
        &self,
        device: &AuthedDevice,
        person: Option<&ProvenPerson>,
        request: &SyncRequest,
    ) -> Result<(SyncResponse, SyncCounts), DbError> {
        check_request(request)?;
        let mut counts = SyncCounts::default();
        let mut conn = self.lock();
        let mut cache = self.doc_cache();
        let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let roster = crate::db::roster(&tx, &device.facility)?;
        let users: HashMap<UserId, &RosterEntry> = roster.iter().map(|u| (u.id, u)).collect();
        let reader = person.and_then(|p| users.get(&p.id).copied()).filter(|u| u.active);
        let mut docs = DocRound::new(device, self.writer(), reader, &roster, &self.signing_key, &ServerPolicy);
        docs.receive(&mut tx, &mut cache, &request.docs)?;
        let (mut last_seq, mut last_hash) = chain_head(&tx, device)?;
        let mut keys = KeyRing::default();
        let device_id = device.id.to_string();
        let now = Utc::now();
        let received_at = crate::db::time_text(now);
        let enrolled_at: String = tx.query_row("SELECT enrolled_at FROM devices WHERE id = ?1", params![device_id], |row| row.get(0))?;
        let enrolled_at = crate::db::parse_time(&enrolled_at)?;
        let mut verdicts = Vec::with_capacity(request.events.len());
        // Opened once: a facility is connected or not for the whole of this transaction.
        let state_queue = crate::state::outbox::Queue::open(&tx, &device.facility)?;

        for event in &request.events {
            let id = event.id.to_string();

            // A resend of something already judged gets the same answer and is not stored again.
            let stored: Option<(String, String)> = tx
                .prepare_cached("SELECT facility, hash FROM events WHERE id = ?1")?
                .query_row(params![id], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()?;
            let id_taken = match &stored {
                Some((facility, hash)) if facility == device.facility.as_str() && *hash == event.hash => {
                    counts.accepted += 1;
                    verdicts.push(Verdict { id: event.id, outcome: Outcome::Accepted });
                    continue;
                }
                Some(_) => true,
                None => false,
            };
            let judged: Option<(String, String)> = tx
                .prepare_cached("SELECT hash, reason FROM rejected_events WHERE device = ?1 AND id = ?2")?
                .query_row(params![device_id, id], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()?;
            if let Some((hash, reason)) = judged {
                let reason = if hash == event.hash {
                    reason
                } else {
                    format!("event id {id} was already sent by this device with different content; events are immutable")
                };
                counts.rejected += 1;
                verdicts.push(Verdict { id: event.id, outcome: Outcome::Rejected { reason } });
                continue;
            }

            let chain = check_chain(event, device, last_seq, &last_hash);
            let user = users.get(&event.user);
            let carried_out = match request_check(&tx, self, device, event, user.map(|u| u.role))? {
                RequestCheck::Fine => receipt_check(&tx, self, device, request, event, user.map(|u| u.role), reader.is_some())?,
                other => other,
            };
            if let RequestCheck::NotYet(reason) = &carried_out {
                // This event and every later one of the request wait for the next round, so the
                // device's chain still arrives in order. One verdict per event so far.
                for e in &request.events[verdicts.len()..] {
                    verdicts.push(Verdict { id: e.id, outcome: Outcome::Deferred { reason: reason.clone() } });
                }
                break;
            }
            let reason = if id_taken {
                Some(format!("event id {id} is already used by another event; record it again with a new id"))
            } else if event.facility != device.facility {
                Some(format!("this event belongs to licence {} but the device is enrolled at {}", event.facility, device.facility))
            } else if event.device != device.id {
                Some(format!(
                    "this event was recorded on device {} but sent by device {}; a device may only send its own events",
                    event.device, device.id
                ))
            } else if let Some(user) = user.filter(|u| !u.active) {
                Some(format!("{} was deactivated and may no longer record events at {}", user.name, device.facility))
            } else if let Some(user) = user {
                if user.role.may_record(event.kind()) {
                    match (signature_problem(&tx, &mut keys, event, user)?, carried_out) {
                        (Some(reason), _) => Some(reason),
                        (None, RequestCheck::Refuse(reason)) => Some(reason),
                        (None, _) => chain.clone().err(),
                    }
                } else {
                    Some(format!(
                        "{} may not record {} ({} is {}); ask a manager",
                        user.role,
                        event.kind().with_article(),
                        user.name,
                        user.role
                    ))
                }
            } else {
                Some(format!("user {} is not on the roster of {}", event.user, device.facility))
            };
            let reason = reason.or_else(|| check_clock(event, now, enrolled_at, self.clock_allowance()).err());

            if chain.is_ok() {
                last_seq = event.device_seq;
                last_hash = event.hash.clone();
            }
            let json = serde_json::to_string(event)?;
            // Within i64 whenever the chain holds; a wild number on a rejected event is clamped.
            let device_seq = i64::try_from(event.device_seq).unwrap_or(i64::MAX);
            match reason {
                None => {
                    tx.prepare_cached(
                        "INSERT INTO events (id, facility, device, device_seq, user, tag, kind, json, hash, received_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    )?
                    .execute(params![
                        id,
                        device.facility.as_str(),
                        device_id,
                        device_seq,
                        event.user.to_string(),
                        event.tag.as_str(),
                        event.kind().as_str(),
                        json,
                        event.hash,
                        received_at,
                    ])?;
                    crate::outbound::mark_tags_used(&tx, &device.facility, event)?;
                    // The state write it asks for, in this same transaction (decision 0019).
                    if let Some(queue) = &state_queue {
                        queue.event(&tx, self, event)?;
                    }
                    counts.accepted += 1;
                    verdicts.push(Verdict { id: event.id, outcome: Outcome::Accepted });
                }
                Some(reason) => {
                    tx.prepare_cached(
                        "INSERT INTO rejected_events
                         (id, facility, device, device_seq, hash, chain_ok, json, reason, received_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    )?
                    .execute(params![
                        id,
                        device.facility.as_str(),
                        device_id,
                        device_seq,
                        event.hash,
                        chain.is_ok(),
                        json,
                        reason,
                        received_at,
                    ])?;
                    counts.rejected += 1;
                    verdicts.push(Verdict { id: event.id, outcome: Outcome::Rejected { reason } });
                }
            }
        }

        let patients = crate::outbound::sync_patients(&tx, self, device, reader, &roster, request)?;
        let customers = crate::outbound::customers(&tx, &device.facility)?;
        let unused_tags = crate::outbound::unused_tags(&tx, &device.facility)?;
        let time_zone = Some(crate::db::facility_time_zone(&tx, &device.facility)?);
        // The state's data when the phone's copy is older; the submissions' status only for
        // people who handle them (decision 0021).
        let state = crate::state::inbox::state_for_sync(&tx, &device.facility, request.state_revision)?;
        // The facility's settings when the phone's copy is older (the device's own facility only).
        let settings = crate::settings::settings_for_sync(&tx, &device.facility, request.settings_revision)?;
        let state_status = match reader {
            Some(r) if r.role.handles_state_submissions() => crate::state::inbox::status_for_sync(&tx, &device.facility)?,
            _ => None,
        };
        let (events, cursor, has_more) = pull(&tx, device, request.cursor, &self.signing_key)?;
        counts.pulled = events.len();
        let doc_messages = docs.send(&tx, &mut cache)?;
        tx.commit()?;
        counts.docs_received = docs.received;
        counts.docs_sent = doc_messages.len();
        let doc_refusals = docs.finish(&mut cache);
        counts.doc_refusals = doc_refusals.len();
        Ok((
            SyncResponse {
                verdicts,
                events,
                cursor,
                has_more,
                server_time: Utc::now(),
                time_zone,
                clock_allowance_ms: Some(self.clock_allowance().num_milliseconds()),
                roster,
                server_key: Some(self.server_key()),
                person_refused: None,
                docs: doc_messages,
                doc_refusals,
                customers,
                unused_tags,
                patients: patients.records,
                patients_stored: patients.stored,
                state,
                state_status,
                settings,
            },
            counts,
        ))
    }
}

/// Accepted events of the device's facility after `cursor`, from other devices.
///
/// An event accepted before events were signed goes out with the server's attestation (its key
/// over the event's hash) in place of the person's signature: phones check every event they pull.
fn pull(tx: &Transaction<'_>, device: &AuthedDevice, cursor: u64, key: &SigningKey) -> Result<(Vec<Event>, u64, bool), DbError> {
    let after = i64::try_from(cursor).unwrap_or(i64::MAX);
    let mut stmt = tx.prepare_cached(
        "SELECT server_seq, json FROM events
         WHERE facility = ?1 AND server_seq > ?2 AND device <> ?3
         ORDER BY server_seq LIMIT ?4",
    )?;
    let rows = stmt
        .query_map(params![device.facility.as_str(), after, device.id.to_string(), (MAX_EVENTS_PER_SYNC + 1) as i64], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
        })?;
    let mut events = Vec::new();
    let mut last = None;
    for row in rows {
        let (seq, json) = row?;
        if events.len() == MAX_EVENTS_PER_SYNC {
            // One more exists than fits: the device syncs again from the last one returned.
            let cursor = last.map_or(cursor, |s: i64| s as u64);
            return Ok((events, cursor, true));
        }
        let mut event = serde_json::from_str::<Event>(&json)?;
        if event.signature.is_none() {
            event.sign(key);
        }
        events.push(event);
        last = Some(seq);
    }
    let newest: Option<i64> =
        tx.query_row("SELECT MAX(server_seq) FROM events WHERE facility = ?1", params![device.facility.as_str()], |row| row.get(0))?;
    Ok((events, cursor.max(newest.unwrap_or(0) as u64), false))
}

/// An event the server refused, kept with its reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedEvent {
    pub event: Event,
    pub reason: String,
}

impl Db {
    /// Every accepted event of a facility, in server order.
    pub fn facility_events(&self, facility: &LicenseNumber) -> Result<Vec<Event>, DbError> {
        let conn = self.lock();
        let mut stmt = conn.prepare("SELECT json FROM events WHERE facility = ?1 ORDER BY server_seq")?;
        let rows = stmt.query_map(params![facility.as_str()], |row| row.get::<_, String>(0))?;
        rows.map(|json| Ok(serde_json::from_str(&json?)?)).collect()
    }

    /// Events sent by the facility's devices that the server refused, with the reasons.
    pub fn rejected_events(&self, facility: &LicenseNumber) -> Result<Vec<RejectedEvent>, DbError> {
        let conn = self.lock();
        let mut stmt = conn.prepare("SELECT json, reason FROM rejected_events WHERE facility = ?1 ORDER BY seq")?;
        let rows = stmt.query_map(params![facility.as_str()], |row| Ok((row.get::<_, String>(0)?, row.get(1)?)))?;
        rows.map(|row| {
            let (json, reason) = row?;
            Ok(RejectedEvent { event: serde_json::from_str(&json)?, reason })
        })
        .collect()
    }

    /// The facility's inventory and conflicts, folded from its accepted events with the same
    /// fold every device runs.
    pub fn inventory(&self, facility: &LicenseNumber) -> Result<Inventory, DbError> {
        Ok(Inventory::fold(&self.facility_events(facility)?))
    }

    /// Verifies every device chain of the facility over accepted and rejected events together
    /// (the server is the one place that holds both).
    pub fn verify_chains(&self, facility: &LicenseNumber) -> Result<Vec<ChainBreak>, DbError> {
        let mut all = self.facility_events(facility)?;
        all.extend(self.rejected_events(facility)?.into_iter().map(|r| r.event).filter(|e| &e.facility == facility));
        Ok(chain::verify(&all))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use custody_core::event::UnsealedEvent;
    use custody_core::hlc::Hlc;
    use custody_core::ids::{DeviceId, LocationName, PackageTag};

    fn stamped(wall_ms: i64) -> Event {
        UnsealedEvent {
            id: uuid::Uuid::now_v7(),
            facility: LicenseNumber::parse("C11-0000001-LIC").unwrap(),
            tag: PackageTag::parse("1A4FF0100000022000001234").unwrap(),
            user: UserId::new(),
            device: DeviceId::new(),
            device_seq: 1,
            hlc: Hlc { wall_ms, counter: 0 },
            parent: None,
            body: EventBody::Moved { to: LocationName::parse("Vault A").unwrap() },
            prev_hash: GENESIS_HASH.into(),
        }
        .seal()
    }

    #[test]
    fn stamps_within_the_allowance_pass_and_beyond_it_are_refused_with_what_to_do() {
        let now = DateTime::parse_from_rfc3339("2026-12-02T12:00:00Z").unwrap().with_timezone(&Utc);
        let enrolled = now - chrono::Duration::days(30);
        let allowance = chrono::Duration::minutes(10);
        let at = |t: DateTime<Utc>| check_clock(&stamped(t.timestamp_millis()), now, enrolled, allowance);
        assert!(at(now + allowance).is_ok(), "the allowance itself is allowed");
        let ahead = at(now + allowance + chrono::Duration::milliseconds(1)).unwrap_err();
        assert!(ahead.starts_with("the phone's clock was 10 minutes ahead of the server's"), "{ahead}");
        assert!(ahead.contains("check the date and time settings on the phone"), "{ahead}");
        assert!(at(enrolled - allowance).is_ok());
        let before = at(enrolled - allowance - chrono::Duration::milliseconds(1)).unwrap_err();
        assert!(before.contains("before the phone was enrolled (2026-11-02T12:00:00Z)"), "{before}");
        // An allowance too large to subtract never fails the sync.
        assert!(check_clock(&stamped(0), now, enrolled, chrono::Duration::MAX).is_ok());
        assert_eq!(describe_ms(3 * 3_600_000 + 1_799_999), "3 hours");
        assert_eq!(describe_ms(974 * 365 * 86_400_000 - 5), "974 years");
    }
}
