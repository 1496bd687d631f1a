//! An emulator of the state's seed-to-sale API (Metrc v2) as the product uses it: the real
//! response shapes, HTTP Basic auth per licence, GET rate limits, write limits, single-use tags,
//! the state's own validation, and fault controls for tests (latency, 5xx, outages, lost
//! responses). See README.md for the HTTP surface and the seed files.

mod faults;
mod http;
mod seed;
mod store;
mod values;
mod writes;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use faults::{Faults, LossMode, RateLimits};
pub use seed::{FacilitySeed, Seed, default_adjust_reasons, default_units};
pub use store::WriteRecord;
pub use values::{fmt_local, is_tag, parse_date_time};

/// What goes wrong starting or driving the emulator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("seed: {0}")]
    Seed(String),
    #[error("{0}")]
    NotFound(String),
    #[error("cannot listen: {0}")]
    Io(#[from] std::io::Error),
}

/// A running emulator on loopback. Dropping it stops the server and closes its connections.
pub struct Emulator {
    addr: SocketAddr,
    shared: Arc<http::Shared>,
    shutdown: watch::Sender<bool>,
}

impl Emulator {
    /// Starts on 127.0.0.1 and a free port, on the current tokio runtime.
    pub async fn start(seed: Seed) -> Result<Emulator, Error> {
        Self::start_on(seed, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts on the given address (the binary's `--listen`).
    pub async fn start_on(seed: Seed, addr: SocketAddr) -> Result<Emulator, Error> {
        let state = store::State::from_seed(seed)?;
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared =
            Arc::new(http::Shared { state: Mutex::new(state), faults: Faults::default(), counts: Mutex::new(http::Counts::default()) });
        let (shutdown, rx) = watch::channel(false);
        tokio::spawn(http::serve(listener, shared.clone(), rx));
        Ok(Emulator { addr, shared, shutdown })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The fault controls; the handle is shared with the running server.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Every applied write, in order (writes refused by validation, limits or faults are not
    /// here; writes whose response was lost are).
    pub fn writes(&self) -> Vec<WriteRecord> {
        self.shared.state().writes.clone()
    }

    /// The package as `GET /packages/v2/{label}` returns it to its holder, whoever holds it.
    pub fn package(&self, label: &str) -> Option<Value> {
        let st = self.shared.state();
        st.package_index(label).map(|i| Value::Object(st.packages[i].rec.clone()))
    }

    /// Which licence holds the package, if any.
    pub fn package_holder(&self, label: &str) -> Option<String> {
        let st = self.shared.state();
        st.package_index(label).map(|i| st.packages[i].license.clone())
    }

    /// Adds an incoming transfer for `license` (the recipient) with its deliveries and
    /// packages (`Deliveries[{.., Packages[..]}]`, or `Packages[..]` for one delivery). Returns
    /// the transfer's Id. Its tags are used from then on.
    pub fn add_transfer(&self, license: &str, transfer: Value) -> Result<i64, Error> {
        self.shared.state().add_transfer(license, transfer)
    }

    /// What the state's web interface does when the recipient accepts the manifest: every
    /// Shipped package becomes Accepted and an active package of its recipient. Returns how
    /// many packages were accepted.
    pub fn accept_transfer(&self, manifest_number: &str) -> Result<usize, Error> {
        self.shared.state().accept_transfer(manifest_number)
    }

    /// Requests received, by (method, path), whatever they were answered (429s included).
    pub fn request_counts(&self) -> BTreeMap<(String, String), usize> {
        self.shared.counts().by_route.clone()
    }

    /// Responses sent, by status code (lost responses are not counted).
    pub fn status_counts(&self) -> BTreeMap<u16, usize> {
        self.shared.counts().by_status.clone()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}
