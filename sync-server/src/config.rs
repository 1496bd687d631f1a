//! How the server listens and what it puts up with: the one settings type every layer may read.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// The server's certificate chain and private key, PEM files (`--tls-cert`, `--tls-key`).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// How the server listens and what it puts up with. The defaults and their reasons are in
/// docs/decisions/0015-transport-and-files.md.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// Serve TLS with this certificate; `None` serves plain HTTP, for a TLS-terminating reverse
    /// proxy in front (or tests on loopback).
    pub tls: Option<TlsFiles>,
    /// Largest body of every call without a limit of its own: enrolment (before any token is
    /// checked), manager calls, revocations.
    pub small_body_limit: usize,
    /// Largest body of `POST /v1/orders` (an office order with its lines).
    pub order_body_limit: usize,
    /// Largest body of `POST /v1/sync`.
    pub sync_body_limit: usize,
    /// A request's head (request line and headers) must arrive within this, counted from the
    /// connection's first byte or the first byte after a keep-alive pause (slowloris).
    pub header_timeout: Duration,
    /// A request's body must arrive within this once a handler starts reading it.
    pub body_timeout: Duration,
    /// A keep-alive connection with no request is closed after this; so is one whose client
    /// stops reading a response.
    pub idle_timeout: Duration,
    /// A TLS handshake must finish within this.
    pub tls_handshake_timeout: Duration,
    /// Connections served at once; more wait in the kernel's accept queue.
    pub max_connections: usize,
    /// Requests handled at once; more wait up to `busy_wait`, then get 503.
    pub max_concurrent_requests: usize,
    pub busy_wait: Duration,
    /// How far ahead of this server's clock an event may be stamped, and how long before its
    /// phone enrolled; further, it is rejected with the reason (decision 0002). A phone corrects
    /// its clock with the server's at every sync, so only a clock changed since is caught.
    pub clock_allowance: Duration,
    /// How the connector to the state's system paces itself (decision 0019).
    pub state: StateSettings,
}

/// How the state connector paces itself. Tests shorten these so they run fast without sleeping
/// on purpose.
#[derive(Debug, Clone)]
pub struct StateSettings {
    /// How often the connector looks for facilities with writes waiting.
    pub poll_interval: Duration,
    /// The first wait after a failure (5xx, timeout, no connection); it doubles per failure.
    pub backoff_base: Duration,
    /// The longest wait between tries while the state is failing.
    pub backoff_max: Duration,
    /// How long one request may take before its answer counts as lost.
    pub request_timeout: Duration,
    /// How often each connected facility is pulled from the state (decision 0021); `None`: only
    /// when asked (`state::pull::pull_now`), as tests do.
    pub pull_interval: Option<Duration>,
    /// How far back the first pull of a facility reads (it walks 24-hour windows from there).
    pub pull_lookback: Duration,
    /// How often a snapshot of the state's active packages is kept.
    pub snapshot_interval: Duration,
    /// The most GETs the connector sends per second for one facility, pulls and the drain's
    /// reads together (the state allows 50; a little under leaves room for clock drift between
    /// our pacing and the state's counting).
    pub gets_per_second: u32,
    /// The most GETs per second for one vendor key, across its facilities (the state allows 150).
    pub vendor_gets_per_second: u32,
    /// The most GETs in flight at once for one facility (the state allows about 10).
    pub gets_at_once: u32,
}

impl Default for StateSettings {
    fn default() -> Self {
        StateSettings {
            poll_interval: Duration::from_secs(2),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            request_timeout: Duration::from_secs(60),
            pull_interval: Some(Duration::from_secs(300)),
            pull_lookback: Duration::from_secs(7 * 24 * 3600),
            snapshot_interval: Duration::from_secs(6 * 3600),
            gets_per_second: 45,
            vendor_gets_per_second: 140,
            gets_at_once: 8,
        }
    }
}

impl Config {
    pub const DEFAULT_SMALL_BODY_LIMIT: usize = 8 * 1024;
    pub const DEFAULT_ORDER_BODY_LIMIT: usize = 256 * 1024;
    pub const DEFAULT_SYNC_BODY_LIMIT: usize = 16 * 1024 * 1024;
    pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(60);
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
    pub const DEFAULT_TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
    pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 32;
    pub const DEFAULT_BUSY_WAIT: Duration = Duration::from_secs(2);
    pub const DEFAULT_CLOCK_ALLOWANCE: Duration = Duration::from_secs(60 * custody_core::bounds::DEFAULT_CLOCK_ALLOWANCE_MINUTES as u64);

    /// Plain HTTP on 127.0.0.1:8080 with the default limits and a 10-minute clock allowance.
    pub fn new(data_dir: impl Into<PathBuf>) -> Config {
        Config {
            data_dir: data_dir.into(),
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 8080)),
            tls: None,
            small_body_limit: Self::DEFAULT_SMALL_BODY_LIMIT,
            order_body_limit: Self::DEFAULT_ORDER_BODY_LIMIT,
            sync_body_limit: Self::DEFAULT_SYNC_BODY_LIMIT,
            header_timeout: Self::DEFAULT_HEADER_TIMEOUT,
            body_timeout: Self::DEFAULT_BODY_TIMEOUT,
            idle_timeout: Self::DEFAULT_IDLE_TIMEOUT,
            tls_handshake_timeout: Self::DEFAULT_TLS_HANDSHAKE_TIMEOUT,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            max_concurrent_requests: Self::DEFAULT_MAX_CONCURRENT_REQUESTS,
            busy_wait: Self::DEFAULT_BUSY_WAIT,
            clock_allowance: Self::DEFAULT_CLOCK_ALLOWANCE,
            state: StateSettings::default(),
        }
    }
}
