//! The accept loop: TLS (rustls on ring) or plain HTTP/1.1, the connection cap, and the
//! per-connection clocks that cut off slow or idle clients (docs/decisions/0015).
//!
//! Each connection has one watchdog. Its phase says which clock runs:
//!
//! - `Head`: a new connection, or bytes of the next request after an idle pause: the whole
//!   request head must arrive within `header_timeout` (slowloris).
//! - `Idle`: a keep-alive connection between requests: closed after `idle_timeout`.
//! - `Handler`: the router has the request; its body has its own clock (`body_timeout`, see
//!   [`crate::limits`]) and database work is not cut short.
//! - `Writing`: the response is going out: closed if the client reads nothing for
//!   `idle_timeout` (a client that stops reading cannot hold the connection).
//!
//! A TLS handshake must finish within `tls_handshake_timeout`. At most `max_connections`
//! connections are served at once; the next waits in the kernel's accept queue until one closes.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::config::Config;

/// Why the TLS certificate or key cannot be used; said at start-up, before anything listens.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the TLS certificate file {path}: {reason}")]
    Cert { path: String, reason: String },
    #[error("{path} holds no certificate; give the PEM file with the server's certificate, then its chain")]
    NoCert { path: String },
    #[error("cannot read the TLS private key file {path}: {reason}; give the PEM file with the certificate's private key")]
    Key { path: String, reason: String },
    #[error("the TLS certificate and key cannot be used together: {0}")]
    Config(String),
}

/// The certificate chain and private key (PEM files) as a rustls server configuration.
pub fn load_tls(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let cert_path = cert.display().to_string();
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| TlsError::Cert { path: cert_path.clone(), reason: e.to_string() })?;
    if chain.is_empty() {
        return Err(TlsError::NoCert { path: cert_path });
    }
    let key_path = key.display().to_string();
    let private = PrivateKeyDer::from_pem_file(key).map_err(|e| TlsError::Key { path: key_path.clone(), reason: e.to_string() })?;
    warn_if_key_readable_by_others(key);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(unix)]
fn warn_if_key_readable_by_others(key: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if std::fs::metadata(key).is_ok_and(|meta| meta.permissions().mode() & 0o077 != 0) {
        tracing::warn!(path = %key.display(), "the TLS private key is readable by other users; chmod 600 it");
    }
}

#[cfg(not(unix))]
fn warn_if_key_readable_by_others(_key: &Path) {}

/// Accepts connections until `shutdown` completes, then lets requests in flight finish (idle
/// connections close at once; every other one is bounded by the timeouts).
pub(crate) async fn accept_loop(
    listener: TcpListener,
    app: Router,
    tls: Option<TlsAcceptor>,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let clocks = Clocks::from(&config);
    let slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let (closing_tx, closing_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        // Over the cap, stop accepting: the next client waits in the kernel's queue until a
        // connection closes (each is bounded by the timeouts), instead of being refused.
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %err, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let tls = tls.clone();
        let closing = closing_rx.clone();
        connections.spawn(async move {
            connection(stream, peer, app, tls, clocks, closing).await;
            drop(permit);
        });
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = closing_tx.send(true);
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// The timeouts one connection lives by.
#[derive(Debug, Clone, Copy)]
struct Clocks {
    header: Duration,
    idle: Duration,
    handshake: Duration,
}

impl From<&Config> for Clocks {
    fn from(config: &Config) -> Self {
        Clocks { header: config.header_timeout, idle: config.idle_timeout, handshake: config.tls_handshake_timeout }
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    tls: Option<TlsAcceptor>,
    clocks: Clocks,
    closing: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    match tls {
        None => http(stream, peer, app, clocks, closing).await,
        Some(acceptor) => match tokio::time::timeout(clocks.handshake, acceptor.accept(stream)).await {
            Ok(Ok(stream)) => http(stream, peer, app, clocks, closing).await,
            // Scanners, plain HTTP sent to the TLS port, clients that do not trust us: not ours to log loudly.
            Ok(Err(err)) => tracing::debug!(%peer, error = %err, "TLS handshake failed"),
            Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
        },
    }
}

/// Serves HTTP/1.1 on one connection until it ends, its watchdog fires, or the server stops.
async fn http<IO>(io: IO, peer: SocketAddr, app: Router, clocks: Clocks, mut closing: watch::Receiver<bool>)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let watchdog = Arc::new(Watchdog::new());
    let io = TokioIo::new(Watched { inner: io, watchdog: watchdog.clone(), linger: None });
    let dog = watchdog.clone();
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        // Handlers may extract `ConnectInfo<SocketAddr>`, as with `into_make_service_with_connect_info`.
        req.extensions_mut().insert(ConnectInfo(peer));
        dog.set(Phase::Handler);
        let dog = dog.clone();
        let app = app.clone();
        async move {
            let response = app.oneshot(req.map(Body::new)).await?;
            dog.set(Phase::Writing);
            Ok::<_, std::convert::Infallible>(response.map(|body| Body::new(EndsIdle { body, watchdog: Some(dog) })))
        }
    });
    let conn = hyper::server::conn::http1::Builder::new().keep_alive(true).serve_connection(io, service);
    tokio::pin!(conn);
    let mut stopping = *closing.borrow();
    if stopping {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(err) = result {
                    tracing::debug!(%peer, error = %err, "connection ended with an error");
                }
                return;
            }
            phase = watchdog.expired(clocks) => {
                // Dropping the connection closes the socket.
                tracing::debug!(%peer, ?phase, "closing a connection that ran out of time");
                return;
            }
            changed = closing.changed(), if !stopping => {
                stopping = true;
                if changed.is_err() || *closing.borrow() {
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Head,
    Idle,
    Handler,
    Writing,
}

/// Where a connection is and since when; see the module docs.
struct Watchdog {
    state: Mutex<(Phase, Instant)>,
    changed: Notify,
}

impl Watchdog {
    fn new() -> Self {
        Watchdog { state: Mutex::new((Phase::Head, Instant::now())), changed: Notify::new() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (Phase, Instant)> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set(&self, phase: Phase) {
        *self.lock() = (phase, Instant::now());
        self.changed.notify_one();
    }

    /// Bytes came in: the first byte after an idle pause starts the head clock.
    fn read(&self) {
        let mut state = self.lock();
        if state.0 == Phase::Idle {
            *state = (Phase::Head, Instant::now());
            drop(state);
            self.changed.notify_one();
        }
    }

    /// Bytes went out: a response that is being read keeps its connection.
    fn wrote(&self) {
        let mut state = self.lock();
        if state.0 == Phase::Writing {
            state.1 = Instant::now();
        }
    }

    /// Completes when the connection has spent too long in its phase; returns that phase.
    async fn expired(&self, clocks: Clocks) -> Phase {
        loop {
            let notified = self.changed.notified();
            let (phase, since) = *self.lock();
            let limit = match phase {
                Phase::Head => Some(clocks.header),
                Phase::Idle | Phase::Writing => Some(clocks.idle),
                Phase::Handler => None,
            };
            match limit {
                Some(limit) if since.elapsed() >= limit => return phase,
                Some(limit) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(since + limit) => {}
                        () = notified => {}
                    }
                }
                None => notified.await,
            }
        }
    }
}

/// The connection's stream, telling its watchdog when bytes move.
struct Watched<IO> {
    inner: IO,
    watchdog: Arc<Watchdog>,
    linger: Option<Linger>,
}

/// After the server closes its side, it reads and discards what the client is still sending
/// (a body it refused with 401, 408 or 413) for a moment: closing a socket with unread data
/// sends a reset, which can destroy the answer before the client has read it.
struct Linger {
    until: Pin<Box<tokio::time::Sleep>>,
    quiet: Pin<Box<tokio::time::Sleep>>,
    left: usize,
}

const LINGER_FOR: Duration = Duration::from_secs(2);
const LINGER_QUIET: Duration = Duration::from_millis(200);
const LINGER_BYTES: usize = 1024 * 1024;

impl<IO: AsyncRead + Unpin> AsyncRead for Watched<IO> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.watchdog.read();
        }
        result
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Watched<IO> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.watchdog.wrote();
        }
        result
    }

    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.watchdog.wrote();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.linger.is_none() {
            std::task::ready!(Pin::new(&mut this.inner).poll_shutdown(cx))?;
            this.linger = Some(Linger {
                until: Box::pin(tokio::time::sleep(LINGER_FOR)),
                quiet: Box::pin(tokio::time::sleep(LINGER_QUIET)),
                left: LINGER_BYTES,
            });
        }
        let linger = this.linger.as_mut().expect("set above");
        let mut buf = [0u8; 8192];
        loop {
            if linger.until.as_mut().poll(cx).is_ready() || linger.quiet.as_mut().poll(cx).is_ready() || linger.left == 0 {
                return Poll::Ready(Ok(()));
            }
            let mut read = ReadBuf::new(&mut buf);
            match Pin::new(&mut this.inner).poll_read(cx, &mut read) {
                Poll::Ready(Ok(())) if !read.filled().is_empty() => {
                    linger.left = linger.left.saturating_sub(read.filled().len());
                    linger.quiet.as_mut().reset(Instant::now() + LINGER_QUIET);
                }
                // The client closed too, or the connection broke: done.
                Poll::Ready(_) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// A response body that puts its connection back to idle once hyper is done with it.
struct EndsIdle {
    body: Body,
    watchdog: Option<Arc<Watchdog>>,
}

impl Drop for EndsIdle {
    fn drop(&mut self) {
        if let Some(watchdog) = self.watchdog.take() {
            watchdog.set(Phase::Idle);
        }
    }
}

impl http_body::Body for EndsIdle {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Handlers can still ask who is calling (a per-address throttle needs it), as with
    /// `into_make_service_with_connect_info`.
    #[tokio::test]
    async fn handlers_see_the_callers_address() {
        let app = Router::new().route("/who", get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(accept_loop(listener, app, None, Config::new("unused"), async {
            let _ = stopped.await;
        }));
        let mut conn = TcpStream::connect(addr).await.unwrap();
        let me = conn.local_addr().unwrap();
        conn.write_all(b"GET /who HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
        let mut response = String::new();
        conn.read_to_string(&mut response).await.unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(response.ends_with(&me.to_string()), "{response} does not name {me}");
        let _ = stop.send(());
        server.await.unwrap().unwrap();
    }
}
