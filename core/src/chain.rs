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
    let mut expected_prev = GENESIS_HASH.to_string();
    for (expected_seq, e) in (1..).zip(chain) {
        let broken = |reason: String| Some(ChainBreak { device, device_seq: e.device_seq, event: e.id, reason });
        if e.device_seq != expected_seq {
            return broken(if e.device_seq < expected_seq {
                format!("event number {} appears twice", e.device_seq)
            } else {
                match e.device_seq - expected_seq {
                    1 => format!("event {expected_seq} is missing"),
                    _ => format!("events {expected_seq} to {} are missing", e.device_seq - 1),
                }
            });
        }
        if e.prev_hash != expected_prev {
            return broken("it does not link to the device's previous event".into());
        }
        let hash = e.compute_hash();
        if hash != e.hash {
            return broken("its content was altered after it was recorded".into());
        }
        expected_prev = hash;
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
}
