//! Keeping the connector's GETs inside the state's limits (metrc-api.md: 50 GETs a second per
//! facility, 150 per vendor key, about 10 at once per facility). Pulls, the drain's reads of a
//! package's quantity before an adjustment and its read-backs all go through one [`Gets`] per
//! facility, so together they stay under the limit instead of each staying under it alone; the
//! vendor key's pace is shared by every facility connected with that key. A 429 still happens
//! (another program using the same keys) and is honoured by the callers.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;

use crate::config::StateSettings;

/// Spaces requests evenly: at most `per_second`, never a burst.
struct Pace {
    gap: Duration,
    next: tokio::sync::Mutex<Instant>,
}

impl Pace {
    fn new(per_second: u32) -> Pace {
        Pace { gap: Duration::from_secs(1) / per_second.max(1), next: tokio::sync::Mutex::new(Instant::now()) }
    }

    /// Waits for this request's turn. The turn is taken while waiting, so callers queue in order.
    async fn wait(&self) {
        let mut next = self.next.lock().await;
        let now = Instant::now();
        if *next > now {
            tokio::time::sleep_until(*next).await;
        }
        *next = (*next).max(now) + self.gap;
    }
}

/// One facility's GETs at one state: its own pace and concurrency, and its vendor key's pace.
pub struct Gets {
    facility: Pace,
    vendor: Arc<Pace>,
    at_once: Semaphore,
}

impl Gets {
    /// The one for this facility at this state, shared by everything in this process that reads
    /// from it. Keyed by the state's address too, so two states (or two test emulators) never
    /// slow each other down.
    pub fn for_facility(settings: &StateSettings, base_url: &str, facility: &str, vendor_key: &str) -> Arc<Gets> {
        type Registry<T> = Mutex<HashMap<(String, String), Arc<T>>>;
        static FACILITIES: OnceLock<Registry<Gets>> = OnceLock::new();
        static VENDORS: OnceLock<Registry<Pace>> = OnceLock::new();
        // The vendor key only ever lives in this process's memory as a map key; it is not logged.
        let vendor = VENDORS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((base_url.to_string(), vendor_key.to_string()))
            .or_insert_with(|| Arc::new(Pace::new(settings.vendor_gets_per_second)))
            .clone();
        FACILITIES
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((base_url.to_string(), facility.to_string()))
            .or_insert_with(|| {
                Arc::new(Gets {
                    facility: Pace::new(settings.gets_per_second),
                    vendor,
                    at_once: Semaphore::new(settings.gets_at_once.max(1) as usize),
                })
            })
            .clone()
    }

    /// Runs one GET when the limits allow it: a place among the facility's requests at once,
    /// then the facility's turn, then the vendor key's.
    pub async fn get<T>(&self, request: impl Future<Output = T>) -> T {
        let _slot = self.at_once.acquire().await.expect("the semaphore is never closed");
        self.facility.wait().await;
        self.vendor.wait().await;
        request.await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(per_second: u32, at_once: u32) -> StateSettings {
        StateSettings { gets_per_second: per_second, vendor_gets_per_second: 1000, gets_at_once: at_once, ..StateSettings::default() }
    }

    #[tokio::test]
    async fn a_facilitys_gets_are_spaced_whoever_sends_them() {
        let gets = Gets::for_facility(&settings(50, 10), "http://pace-test-1", "L1", "v");
        let same = Gets::for_facility(&settings(50, 10), "http://pace-test-1", "L1", "v");
        let start = Instant::now();
        let mut tasks = Vec::new();
        for g in [gets, same] {
            tasks.push(tokio::spawn(async move {
                for _ in 0..10 {
                    g.get(async {}).await;
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        // 20 GETs at 50 a second, shared: the 20th goes no earlier than 19 gaps of 20 ms.
        assert!(start.elapsed() >= Duration::from_millis(380), "took {:?}", start.elapsed());
    }

    #[tokio::test]
    async fn no_more_than_the_limit_at_once() {
        let gets = Gets::for_facility(&settings(1000, 3), "http://pace-test-2", "L1", "v");
        let in_flight = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let most = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..12 {
            let (g, n, m) = (gets.clone(), in_flight.clone(), most.clone());
            tasks.push(tokio::spawn(async move {
                g.get(async {
                    let now = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    m.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    n.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                })
                .await;
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(most.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn another_state_is_not_slowed_by_this_one() {
        let a = Gets::for_facility(&settings(1, 10), "http://pace-test-3a", "L1", "v");
        let b = Gets::for_facility(&settings(1, 10), "http://pace-test-3b", "L1", "v");
        a.get(async {}).await;
        let start = Instant::now();
        b.get(async {}).await;
        assert!(start.elapsed() < Duration::from_millis(500));
    }
}
