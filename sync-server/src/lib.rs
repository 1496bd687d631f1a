//! custody-server: device enrolment, event validation and the sync round trip, over an embedded
//! SQLite database in a data folder.
//!
//! Modules import only their own layer or lower ones (docs/decisions/0017-server-layers.md,
//! checked by tests/check-layers.py), from the bottom:
//!
//! - [`config`], [`secret`], [`docs::cache`]: settings, enrolment codes/tokens/PIN hashes, and
//!   the loaded-document cache.
//! - [`error`] ([`DbError`]); `limits` and [`transport`]: body limits, the request cap, the
//!   accept loop (TLS, per-connection clocks, connection cap).
//! - [`db`]: the store, its migrations, facilities, users, enrolment codes, authentication.
//! - [`data_key`]: the patient data key, loaded here and handed to [`Db::open`]; [`lockout`]:
//!   the one PIN check ([`Db::check_pin`]) and the counts that lock guessers out; [`settings`]:
//!   the facility's settings phones get at sync (scales, tolerance, categories, locations,
//!   reasons), changed by the CLI and audited.
//! - [`people`]: online sign-in (key registration), person proofs on requests, manager calls.
//! - [`docs::engine`]: work documents (Automerge): storage, sync per device and document,
//!   signatures; [`devices`]: enrolment, device list, revoking; [`people_admin`]: a facility's
//!   people by badge, for the CLI.
//! - [`outbound`]: customers, tags, claims, office orders, patient data.
//! - [`docs::policy`]: what each kind of document demands (receiving, adjustment, order, manifest).
//! - [`ledger`]: judging pushed events and pulling the facility's events, in one transaction.
//! - [`state`]: the connector to the state's seed-to-sale system: connections with sealed keys,
//!   the outbox filled by the ledger, and the drain that sends it (decision 0019).
//! - [`api`]: the `/v1` HTTP routes, device authentication and JSON errors.

pub mod api;
pub mod config;
pub mod data_key;
pub mod db;
pub mod devices;
pub mod docs;
pub mod error;
pub mod ledger;
mod limits;
pub mod lockout;
pub mod outbound;
pub mod people;
pub mod people_admin;
pub mod secret;
pub mod settings;
pub mod state;
pub mod transport;

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use api::{ApiError, router};
pub use config::{Config, StateSettings, TlsFiles};
pub use db::{AuthedDevice, DB_FILE_NAME, Db, DbError};
pub use devices::DeviceInfo;
pub use ledger::{RejectedEvent, SyncCounts};
pub use lockout::Person;
pub use people_admin::UserInfo;
pub use transport::TlsError;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("the server failed: {0}")]
    Serve(std::io::Error),
}

/// Serves the API on `listener` until `shutdown` completes, then lets in-flight requests finish.
/// TLS when `config.tls` is set (the certificate is loaded before anything is served), plain
/// HTTP otherwise.
pub async fn serve(
    listener: TcpListener,
    db: Db,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let tls = tls_acceptor(&config)?;
    serve_with(listener, db, config, tls, shutdown).await.map_err(StartError::Serve)
}

fn tls_acceptor(config: &Config) -> Result<Option<tokio_rustls::TlsAcceptor>, TlsError> {
    Ok(match &config.tls {
        Some(files) => Some(tokio_rustls::TlsAcceptor::from(transport::load_tls(&files.cert, &files.key)?)),
        None => None,
    })
}

async fn serve_with(
    listener: TcpListener,
    db: Db,
    config: Config,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(db.clone().with_clock_allowance(config.clock_allowance), &config);
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(%addr, scheme, data_dir = %config.data_dir.display(), "custody-server listening");
    if tls.is_none() {
        tracing::warn!(
            %addr,
            "serving plain HTTP without TLS: this server must sit behind a TLS-terminating reverse proxy that \
             is the only way in (device tokens and PINs would otherwise cross the network in clear); to serve \
             TLS itself, start it with --tls-cert and --tls-key"
        );
    }
    // The state connector sends each connected facility's outbox while the server runs.
    let drain = state::drain::Drain::start(db.clone(), config.state.clone());
    // And pulls what the state has for each of them (decision 0021).
    let pulls = state::pull::Pulls::start(db.clone(), config.state.clone());
    let served = transport::accept_loop(listener, app, tls, config, shutdown).await;
    pulls.stop().await;
    drain.stop().await;
    served?;
    tracing::info!("custody-server stopped");
    Ok(())
}

/// A server on a loopback port inside the current tokio runtime, for tests and embedding.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub db: Db,
    pub data_dir: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    tls: bool,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl RunningServer {
    /// Opens `data_dir` and serves on 127.0.0.1 at a free port. Panics if it cannot: a test
    /// harness has no better answer.
    pub async fn start(data_dir: &Path) -> RunningServer {
        let mut config = Config::new(data_dir);
        config.listen = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        match Self::start_with(config).await {
            Ok(server) => server,
            Err(err) => panic!("custody-server could not start in {}: {err}", data_dir.display()),
        }
    }

    /// Like [`start`](Self::start) with a full config (e.g. a small body limit, or `tls` for a
    /// server that speaks only TLS); binds `config.listen`.
    pub async fn start_with(config: Config) -> Result<RunningServer, StartError> {
        let tls = tls_acceptor(&config)?;
        let db = Db::open(&config.data_dir, data_key::load(&config.data_dir)?)?.with_clock_allowance(config.clock_allowance);
        let listener = TcpListener::bind(config.listen).await.map_err(|source| StartError::Bind { addr: config.listen, source })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind { addr: config.listen, source })?;
        let (tx, rx) = oneshot::channel::<()>();
        let data_dir = config.data_dir.clone();
        let is_tls = tls.is_some();
        let task = tokio::spawn(serve_with(listener, db.clone(), config, tls, async {
            // A dropped sender also means stop.
            let _ = rx.await;
        }));
        Ok(RunningServer { addr, db, data_dir, shutdown: Some(tx), tls: is_tls, task: Some(task) })
    }

    /// `https://127.0.0.1:PORT` for a TLS server (its certificate must name 127.0.0.1),
    /// `http://127.0.0.1:PORT` otherwise.
    pub fn url(&self) -> String {
        format!("{}://{}", if self.tls { "https" } else { "http" }, self.addr)
    }

    /// Stops accepting, waits for in-flight requests, then for every handle on the database to
    /// close, so a server started next on the same folder sees all that was acknowledged.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            match task.await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => tracing::warn!(error = %err, "server ended with an error"),
                Err(err) => tracing::warn!(error = %err, "server task failed"),
            }
        }
        let weak = self.db.weak();
        drop(self);
        // A blocking database call of a request whose client went away may still be finishing.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while weak.strong_count() > 0 {
            if tokio::time::Instant::now() >= deadline {
                tracing::warn!("database still in use 10 s after stop; is a clone of RunningServer::db held?");
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
