//! Fault controls a test turns on (latency, a 5xx rate, outages, lost write responses, expired
//! keys) and the GET rate limits the state enforces (per facility, per vendor key, concurrency).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How the response to an applied write is lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossMode {
    /// The write is applied and the connection is held open without an answer: the client
    /// times out not knowing whether the write happened.
    Hang,
    /// The write is applied and the connection is closed without a response: the client sees
    /// a connection error.
    Reset,
}

/// The limits as Metrc documents them: 50 GET/s per facility, 150 GET/s per vendor key, 10
/// concurrent GETs per facility.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimits {
    pub get_per_s_facility: u32,
    pub get_per_s_vendor: u32,
    pub concurrent_per_facility: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits { get_per_s_facility: 50, get_per_s_vendor: 150, concurrent_per_facility: 10 }
    }
}

#[derive(Default)]
struct FaultState {
    latency: Duration,
    error_rate: f64,
    outage: bool,
    lose: VecDeque<LossMode>,
    limits: RateLimits,
    expired_user_keys: HashSet<String>,
    /// A fixed-seed generator, so a test's 5xx pattern is the same on every run.
    rng: u64,
    /// Sliding one-second windows of accepted GETs, by facility and by vendor key.
    facility_window: HashMap<String, VecDeque<Instant>>,
    vendor_window: HashMap<String, VecDeque<Instant>>,
    in_flight: HashMap<String, u32>,
    /// Bodies served as they are, with 200, for GETs of these paths: a damaged answer.
    raw: HashMap<String, String>,
}

/// The handle a test holds (`emu.faults()`); clones share the same controls.
#[derive(Clone, Default)]
pub struct Faults {
    inner: Arc<Mutex<FaultState>>,
}

/// Why a GET was refused by the rate limits, and in how many seconds a retry may pass.
pub struct Throttled {
    pub retry_after_s: u64,
    pub message: String,
}

/// Holds one of a facility's concurrent GET slots until the response is written.
pub struct ConcurrencyGuard {
    faults: Faults,
    facility: String,
}

impl Drop for ConcurrencyGuard {
    fn drop(&mut self) {
        let mut s = self.faults.lock();
        if let Some(n) = s.in_flight.get_mut(&self.facility) {
            *n = n.saturating_sub(1);
        }
    }
}

impl Faults {
    fn lock(&self) -> MutexGuard<'_, FaultState> {
        // A panicking test thread must not wedge the emulator for the others.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Added to every request before it is answered.
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    /// The fraction (0.0 to 1.0) of requests answered 500 or 503 without being applied.
    pub fn set_error_rate(&self, rate: f64) {
        self.lock().error_rate = rate.clamp(0.0, 1.0);
    }

    /// While true, every request is answered 503 and nothing is applied.
    pub fn set_outage(&self, down: bool) {
        self.lock().outage = down;
    }

    /// The next `n` writes that pass validation are applied, then their responses are lost.
    pub fn lose_next_writes(&self, n: u32, mode: LossMode) {
        let mut s = self.lock();
        for _ in 0..n {
            s.lose.push_back(mode);
        }
    }

    pub fn set_rate_limits(&self, get_per_s_facility: u32, get_per_s_vendor: u32, concurrent_per_facility: u32) {
        self.lock().limits = RateLimits { get_per_s_facility, get_per_s_vendor, concurrent_per_facility };
    }

    /// From now on every request with this user key is answered 401 (as when a key expires).
    pub fn expire_user_key(&self, user_key: impl Into<String>) {
        self.lock().expired_user_keys.insert(user_key.into());
    }

    /// Turns every fault off again (limits back to Metrc's, expired keys stay expired).
    /// Every GET of `path` (exactly, without the query) is answered 200 with `body` as it is —
    /// malformed JSON, or a record the state should never send — until cleared.
    pub fn serve_raw(&self, path: &str, body: &str) {
        self.lock().raw.insert(path.to_string(), body.to_string());
    }

    /// GETs of `path` are answered by the emulated state again.
    pub fn clear_raw(&self, path: &str) {
        self.lock().raw.remove(path);
    }

    /// The raw body set for `path`, if any.
    pub fn raw_for(&self, path: &str) -> Option<String> {
        self.lock().raw.get(path).cloned()
    }

    pub fn clear(&self) {
        let mut s = self.lock();
        s.raw.clear();
        s.latency = Duration::ZERO;
        s.error_rate = 0.0;
        s.outage = false;
        s.lose.clear();
        s.limits = RateLimits::default();
    }

    pub(crate) fn latency(&self) -> Duration {
        self.lock().latency
    }

    pub(crate) fn outage(&self) -> bool {
        self.lock().outage
    }

    pub(crate) fn is_expired(&self, user_key: &str) -> bool {
        self.lock().expired_user_keys.contains(user_key)
    }

    /// Rolls the 5xx dice: Some(status) when this request is to fail.
    pub(crate) fn roll_error(&self) -> Option<u16> {
        let mut s = self.lock();
        if s.error_rate <= 0.0 {
            return None;
        }
        // splitmix64
        s.rng = s.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let x = (z >> 11) as f64 / (1u64 << 53) as f64;
        if x < s.error_rate { Some(if z & 1 == 0 { 500 } else { 503 }) } else { None }
    }

    pub(crate) fn take_loss(&self) -> Option<LossMode> {
        self.lock().lose.pop_front()
    }

    /// Admits a GET under the per-second and concurrency limits, or says when to retry.
    pub(crate) fn admit_get(&self, facility: &str, vendor_key: &str) -> Result<ConcurrencyGuard, Throttled> {
        let now = Instant::now();
        let second = Duration::from_secs(1);
        let mut guard = self.lock();
        let s = &mut *guard;
        let limits = s.limits;
        let in_flight = s.in_flight.get(facility).copied().unwrap_or(0);
        if in_flight >= limits.concurrent_per_facility {
            return Err(Throttled {
                retry_after_s: 1,
                message: format!(
                    "Too many concurrent requests for facility {facility}: at most {} at a time.",
                    limits.concurrent_per_facility
                ),
            });
        }
        let fw = s.facility_window.entry(facility.to_string()).or_default();
        let vw = s.vendor_window.entry(vendor_key.to_string()).or_default();
        for w in [&mut *fw, &mut *vw] {
            while w.front().is_some_and(|t| now.duration_since(*t) >= second) {
                w.pop_front();
            }
        }
        let full = |w: &VecDeque<Instant>, limit: u32| -> Option<u64> {
            if w.len() >= limit as usize {
                let frees_in = w.front().map(|t| second.saturating_sub(now.duration_since(*t))).unwrap_or(second);
                // Retry-After is whole seconds, rounded up, never 0.
                Some((frees_in.as_secs() + u64::from(frees_in.subsec_nanos() > 0)).max(1))
            } else {
                None
            }
        };
        if let Some(retry_after_s) = full(fw, limits.get_per_s_facility) {
            return Err(Throttled {
                retry_after_s,
                message: format!("Too many requests for facility {facility}: at most {} GET requests a second.", limits.get_per_s_facility),
            });
        }
        if let Some(retry_after_s) = full(vw, limits.get_per_s_vendor) {
            return Err(Throttled {
                retry_after_s,
                message: format!("Too many requests for this vendor key: at most {} GET requests a second.", limits.get_per_s_vendor),
            });
        }
        fw.push_back(now);
        vw.push_back(now);
        *s.in_flight.entry(facility.to_string()).or_default() += 1;
        drop(guard);
        Ok(ConcurrencyGuard { faults: self.clone(), facility: facility.to_string() })
    }
}
