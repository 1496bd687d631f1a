//! Hybrid logical clock stamps.
//!
//! Phones' clocks are untrusted: they drift, get set by hand, and sit offline for days. An HLC
//! stamp is the device's wall time (corrected by the offset the server reported at the last sync)
//! combined with a counter, and it never goes backwards or behind any stamp the device has seen.
//! So an event recorded after seeing another always sorts after it, whatever the device clock
//! says, and every replica sorts the same event set the same way.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A stamp: milliseconds since the Unix epoch (UTC) and a counter for events within the same
/// millisecond. Ordered by (wall, counter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default)]
pub struct Hlc {
    pub wall_ms: i64,
    pub counter: u32,
}

impl Hlc {
    /// The stamp's wall time as UTC, for display. It is the device's (corrected) belief, not a
    /// trusted time; the server records its own receipt time beside it.
    pub fn wall_time(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp_millis(self.wall_ms).unwrap_or_default()
    }
}

impl fmt::Display for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}+{}", self.wall_time().format("%Y-%m-%dT%H:%M:%S%.3fZ"), self.counter)
    }
}

/// The clock state of one replica.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HlcClock {
    last: Hlc,
}

impl HlcClock {
    pub fn resume(last: Hlc) -> Self {
        Self { last }
    }

    pub fn last(&self) -> Hlc {
        self.last
    }

    /// A stamp for a new local event, given the (corrected) physical time now.
    pub fn tick(&mut self, now_ms: i64) -> Hlc {
        self.last = if now_ms > self.last.wall_ms {
            Hlc { wall_ms: now_ms, counter: 0 }
        } else {
            Hlc { wall_ms: self.last.wall_ms, counter: self.last.counter.saturating_add(1) }
        };
        self.last
    }

    /// Takes in a stamp seen on a remote event so later local stamps sort after it.
    pub fn observe(&mut self, seen: Hlc) {
        if seen > self.last {
            self.last = seen;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_goes_backwards() {
        let mut c = HlcClock::default();
        let a = c.tick(1_000);
        let b = c.tick(900); // the clock was set back
        assert!(b > a);
        c.observe(Hlc { wall_ms: 5_000, counter: 7 });
        let d = c.tick(1_100);
        assert_eq!(d, Hlc { wall_ms: 5_000, counter: 8 });
        assert_eq!(c.tick(6_000), Hlc { wall_ms: 6_000, counter: 0 });
    }
}
