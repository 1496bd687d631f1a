//! The per-device hash chain verifier an auditor runs over a ledger.
//!
//! Each event carries the hash of the previous event recorded on the same device, so deleting,
//! inserting or altering any event breaks a link that names where it happened.

use std::collections::BTreeMap;

use serde::Serialize;
use uuid::Uuid;

use crate::event::{Event, GENESIS_HASH};
use crate::ids::DeviceId;

/// The first broken link found in one device's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("device {device}: the chain breaks at event {device_seq} ({event}): {reason}")]
pub struct ChainBreak {
    pub device: DeviceId,
    pub device_seq: u64,
    pub event: Uuid,
    pub reason: String,
}

/// Verifies every device's chain in `events` and returns the first break of each broken chain
/// (ordered by device). An empty list means every chain is intact.
pub fn verify<'a>(events: impl IntoIterator<Item = &'a Event>) -> Vec<ChainBreak> {
    let mut by_device: BTreeMap<DeviceId, Vec<&Event>> = BTreeMap::new();
    for e in events {
        by_device.entry(e.device).or_default().push(e);
    }
    by_device
        .into_iter()
        .filter_map(|(device, mut chain)| {
            chain.sort_by_key(|e| e.device_seq);
            first_break(device, &chain)
        })
        .collect()
}

fn first_break(device: DeviceId, chain: &[&Event]) -> Option<ChainBreak> {
    let mut prev: Option<(u64, String)> = None;
    for e in chain {
        let broken = |reason: String| Some(ChainBreak { device, device_seq: e.device_seq, event: e.id, reason });
        match link_problem(prev.as_ref().map(|(seq, hash)| Head { device_seq: *seq, hash }), e) {
            Some(LinkProblem::Number { expected, found }) => {
                return broken(if found < expected {
                    format!("event number {found} appears twice")
                } else {
                    match found - expected {
                        1 => format!("event {expected} is missing"),
                        _ => format!("events {expected} to {} are missing", found - 1),
                    }
                });
            }
            Some(LinkProblem::PrevHash) => return broken("it does not link to the device's previous event".into()),
            None => {}
        }
        let hash = e.compute_hash();
        if hash != e.hash {
            return broken("its content was altered after it was recorded".into());
        }
        prev = Some((e.device_seq, hash));
    }
    None
}

/// The last link of a device's chain: its event number and hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head<'a> {
    pub device_seq: u64,
    pub hash: &'a str,
}

/// Why an event is not the next link after a device's chain head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkProblem {
    /// Its number is not the one after the head's (1 for a device's first event).
    Number { expected: u64, found: u64 },
    /// Its `prev_hash` is not the head's hash (the genesis hash for a first event).
    PrevHash,
}

/// Whether `event` links to `prev`, the last event of the same device (`None` before its first
/// one). The one link rule: the auditor's [`verify`] and the server's judgement of each pushed
/// event both use it, and each words the problem for its own reader.
pub fn link_problem(prev: Option<Head<'_>>, event: &Event) -> Option<LinkProblem> {
    let (expected, expected_prev) = match prev {
        Some(head) => (head.device_seq.saturating_add(1), head.hash),
        None => (1, GENESIS_HASH),
    };
    if event.device_seq != expected {
        return Some(LinkProblem::Number { expected, found: event.device_seq });
    }
    if event.prev_hash != expected_prev {
        return Some(LinkProblem::PrevHash);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventBody, UnsealedEvent};
    use crate::hlc::Hlc;
    use crate::ids::{LicenseNumber, LocationName, PackageTag, UserId};

    fn chain(device: DeviceId, n: u64) -> Vec<Event> {
        let mut prev = GENESIS_HASH.to_string();
        (1..=n)
            .map(|seq| {
                let e = UnsealedEvent {
                    id: Uuid::now_v7(),
                    facility: LicenseNumber::parse("C11-1").unwrap(),
                    tag: PackageTag::parse("1A4FF0100000022000000001").unwrap(),
                    user: UserId::new(),
                    device,
                    device_seq: seq,
                    hlc: Hlc { wall_ms: seq as i64, counter: 0 },
                    parent: None,
                    body: EventBody::Moved { to: LocationName::parse(&format!("Shelf {seq}")).unwrap() },
                    prev_hash: prev.clone(),
                }
                .seal();
                prev = e.hash.clone();
                e
            })
            .collect()
    }

    #[test]
    fn intact_chains_verify() {
        let (a, b) = (DeviceId::new(), DeviceId::new());
        let mut all = chain(a, 5);
        all.extend(chain(b, 3));
        all.reverse();
        assert!(verify(&all).is_empty());
    }

    #[test]
    fn reports_the_first_broken_link() {
        let d = DeviceId::new();
        let mut c = chain(d, 6);
        c.remove(2); // event 3 deleted
        let breaks = verify(&c);
        assert_eq!(breaks.len(), 1);
        assert_eq!(breaks[0].device_seq, 4);
        assert!(breaks[0].reason.contains("event 3 is missing"), "{}", breaks[0].reason);

        let mut c = chain(d, 4);
        c[1].body = EventBody::Moved { to: LocationName::parse("Elsewhere").unwrap() };
        let breaks = verify(&c);
        assert_eq!(breaks[0].device_seq, 2);
        assert!(breaks[0].reason.contains("altered"));
    }

    #[test]
    fn link_problem_checks_number_then_previous_hash() {
        let c = chain(DeviceId::new(), 3);
        fn head(e: &Event) -> Option<Head<'_>> {
            Some(Head { device_seq: e.device_seq, hash: &e.hash })
        }
        assert_eq!(link_problem(None, &c[0]), None, "the first event links to the genesis hash");
        assert_eq!(link_problem(head(&c[0]), &c[1]), None);
        assert_eq!(link_problem(None, &c[1]), Some(LinkProblem::Number { expected: 1, found: 2 }));
        assert_eq!(link_problem(head(&c[0]), &c[2]), Some(LinkProblem::Number { expected: 2, found: 3 }));
        assert_eq!(link_problem(head(&c[1]), &c[1]), Some(LinkProblem::Number { expected: 3, found: 2 }));
        // The right number after the wrong event: a hash that is not the head's.
        assert_eq!(link_problem(Some(Head { device_seq: 1, hash: &c[2].hash }), &c[1]), Some(LinkProblem::PrevHash));
        let mut first = c[0].clone();
        first.prev_hash = c[2].hash.clone();
        assert_eq!(link_problem(None, &first), Some(LinkProblem::PrevHash));
    }
}
