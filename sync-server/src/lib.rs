//! custody-server: device enrolment, event validation and the sync round trip, over an embedded
//! SQLite database in a data folder.
//!
//! - [`db`]: the store, its migrations and the admin operations the CLI runs.
//! - [`ledger`]: judging pushed events and pulling the facility's events, in one transaction.
//! - [`docs`]: work documents (Automerge): storage, who may see and start them, and their half
//!   of the sync round trip.
//! - [`api`]: the `/v1` HTTP routes, device authentication and JSON errors.
//! - [`secret`]: enrolment codes, device tokens and PIN hashes.
//! - [`lockout`]: the one PIN check ([`Db::check_pin`]) and the counts that lock guessers out.
//! - [`people_admin`]: a facility's people by badge, for the CLI (list, deactivate, reset a PIN).

pub mod api;
pub mod db;
pub mod docs;
pub mod ledger;
pub mod lockout;
pub mod outbound;
pub mod people;
pub mod people_admin;
pub mod secret;

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use api::{ApiError, router};
pub use db::{AuthedDevice, DB_FILE_NAME, Db, DbError, DeviceInfo};
pub use ledger::{RejectedEvent, SyncCounts};
pub use lockout::Person;
pub use people_admin::UserInfo;

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// Largest request body accepted; a full sync of [`custody_core::protocol::MAX_EVENTS_PER_SYNC`]
    /// events is a few megabytes.
    pub max_body_bytes: usize,
    /// How far ahead of this server's clock an event may be stamped, and how long before its
    /// phone enrolled; further, it is rejected with the reason (decision 0002). A phone corrects
    /// its clock with the server's at every sync, so only a clock changed since is caught.
    pub clock_allowance: Duration,
}

impl Config {
    pub const DEFAULT_MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
    pub const DEFAULT_CLOCK_ALLOWANCE: Duration =
        Duration::from_secs(60 * custody_core::bounds::DEFAULT_CLOCK_ALLOWANCE_MINUTES as u64);

    /// Listens on 127.0.0.1:8080 with a 32 MiB body limit and a 10-minute clock allowance.
    pub fn new(data_dir: impl Into<PathBuf>) -> Config {
        Config {
            data_dir: data_dir.into(),
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 8080)),
            max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES,
            clock_allowance: Self::DEFAULT_CLOCK_ALLOWANCE,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
}

/// Serves the API on `listener` until `shutdown` completes, then lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    db: Db,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(db.with_clock_allowance(config.clock_allowance), &config);
    tracing::info!(addr = %listener.local_addr()?, data_dir = %config.data_dir.display(), "custody-server listening");
    // The client's address reaches handlers as ConnectInfo (the enrolment throttle counts by it).
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await?;
    tracing::info!("custody-server stopped");
    Ok(())
}

/// A server on a loopback port inside the current tokio runtime, for tests and embedding.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub db: Db,
    pub data_dir: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
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

    /// Like [`start`](Self::start) with a full config (e.g. a small body limit); binds `config.listen`.
    pub async fn start_with(config: Config) -> Result<RunningServer, StartError> {
        let db = Db::open(&config.data_dir)?.with_clock_allowance(config.clock_allowance);
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| StartError::Bind { addr: config.listen, source })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind { addr: config.listen, source })?;
        let (tx, rx) = oneshot::channel::<()>();
        let data_dir = config.data_dir.clone();
        let task = tokio::spawn(serve(listener, db.clone(), config, async {
            // A dropped sender also means stop.
            let _ = rx.await;
        }));
        Ok(RunningServer { addr, db, data_dir, shutdown: Some(tx), task: Some(task) })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
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
