//! pop3-bridge: a WebSocket-to-POP3 relay that is safe to put on the internet.
//!
//! The browser names a target in the first WebSocket message; the bridge checks it against a
//! default-deny policy, resolves it once, connects to exactly the checked address, does TLS
//! (implicit or STLS) itself with the name the user typed, and then relays bytes. In relay
//! mode (`end_to_end` in the request; the only mode of a `relay_only` bridge) it does no TLS:
//! it relays the client's own TLS and checks only that the client sends nothing else. The wire
//! protocol is in docs/bridge-protocol.md.
//!
//! Tests and embedders call [`run`] (or [`Bridge::run`]) with an already bound listener, so
//! they can bind `127.0.0.1:0`; `main.rs` only parses the configuration.
//!
//! Module map (all private; the public items are re-exported here at the root): `config`
//! (settings), `redact` (their `Debug`, without the token secret), `policy` (pure target
//! classifier), `resolve` (DNS and connect behind traits), `token`, `upgrade` (HTTP and pre-101
//! checks), `session` (one WebSocket session, and which mode it runs in), `upstream`
//! (TCP/TLS/STLS), `server_text` (quoting what the server said), `relay` (the two pumps),
//! `tls_guard` (what a relay-mode client may send: TLS records only), `tls`, `metrics`,
//! `static_files`, `shutdown`, `forwarded` (who the client is behind proxies: a pure function),
//! `reload` (the reloadable state and [`Reloader`]), `own_addresses` (the host's interface
//! addresses, refused as targets). `protocol` re-exports the wire types of the `pop3-bridge-protocol` crate,
//! shared with the browser client.

#![warn(missing_docs, missing_debug_implementations)]

// Every module is private and the public API is the crate root (the `pub use` lines below):
// it is small (a bridge, its settings, tokens, and the resolver/connector seams for tests), and
// no sub-namespace would read more clearly than the root. Private modules also let the
// compiler report items that nothing uses.
mod config;
mod forwarded;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod metrics;
mod own_addresses;
mod policy;
mod protocol;
mod redact;
mod relay;
mod reload;
mod resolve;
mod server_text;
mod session;
mod shutdown;
mod static_files;
mod tls;
mod tls_guard;
mod token;
mod upgrade;
mod upstream;

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tracing::{debug, info, warn};

use metrics::{HttpRefusal, Metrics};
use policy::Policy;
use reload::{Live, Parts};
use resolve::{DirectConnector, SystemResolver};
use shutdown::{ShutdownSignal, TaskGuard, Tracker};
use static_files::{PageHeaders, StaticFiles};
use tls::{ClientTls, ListenerCert};
use upgrade::Conn;

// The public API: what `main.rs`, the tests and the e2e crate use.
pub use config::{Cli, CliOpts, Command, Config, ConfigError, Limits, ServerConfig};
pub use relay::MAX_READ;
pub use reload::Reloader;
pub use resolve::{BoxFuture, Connector, FakeResolver, Resolver};
pub use tls::TlsSetupError;
pub use token::{TokenAuth, TokenClaims, TokenError, TokenMode, now_unix};

/// Largest request head (request line + headers) accepted. Hyper answers 431 beyond it, so a
/// megabyte-long header costs us at most this much buffering (CVE-2023-43669 class).
const MAX_REQUEST_HEAD: usize = 16 * 1024;
const MAX_HEADERS: usize = 64;

/// Why [`Bridge::run`] could not start (or its listener failed).
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    /// The configuration is inconsistent, or unsafe for the address bound.
    #[error("configuration: {0}")]
    Config(#[from] config::ConfigError),
    /// A certificate, key, CA file or pin could not be loaded.
    #[error("TLS setup: {0}")]
    Tls(#[from] tls::TlsSetupError),
    /// The listener's address could not be read.
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
    /// The host's own addresses (refused as targets) could not be listed.
    #[error("cannot list this host's own addresses: {0}")]
    OwnAddresses(std::io::Error),
    /// A reload was asked of a bridge that is not running (not yet, or no longer).
    #[error("the bridge is not running")]
    NotRunning,
}

/// State shared by all connections.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) policy: Policy,
    pub(crate) tls: ClientTls,
    pub(crate) tokens: Option<TokenAuth>,
    pub(crate) resolver: Arc<dyn Resolver>,
    pub(crate) connector: Arc<dyn Connector>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) sessions: Arc<Semaphore>,
    pub(crate) per_ip: Arc<upgrade::PerIp>,
    /// Accepted `Host` names (lower-case, no port).
    pub(crate) host_names: Vec<String>,
    /// Extra accepted `Origin` values (lower-case, no trailing slash).
    pub(crate) origins: Vec<String>,
    pub(crate) files: StaticFiles,
    pub(crate) ws_config: WebSocketConfig,
    pub(crate) shutdown: ShutdownSignal,
    tracker: Tracker,
}

impl Shared {
    pub(crate) fn session_guard(&self) -> TaskGuard {
        self.tracker.session_guard()
    }

    /// The state after a reload: `config` with the new `parts`, the rest (counters, caps,
    /// served files, shutdown) shared with this generation.
    pub(crate) fn next_generation(&self, config: Config, parts: Parts) -> Shared {
        Shared {
            config,
            policy: parts.policy,
            tls: parts.tls,
            tokens: parts.tokens,
            resolver: self.resolver.clone(),
            connector: self.connector.clone(),
            metrics: self.metrics.clone(),
            sessions: self.sessions.clone(),
            per_ip: self.per_ip.clone(),
            host_names: self.host_names.clone(),
            origins: self.origins.clone(),
            files: self.files.clone(),
            ws_config: self.ws_config,
            shutdown: self.shutdown.clone(),
            tracker: self.tracker.clone(),
        }
    }
}

/// A configured bridge, ready to run on a listener.
pub struct Bridge {
    config: Config,
    resolver: Arc<dyn Resolver>,
    connector: Arc<dyn Connector>,
    metrics_listener: Option<TcpListener>,
    reloader: Reloader,
}

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The resolver and connector are trait objects without `Debug`.
        f.debug_struct("Bridge")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Bridge {
    /// A bridge on `config` with the system resolver and plain TCP connects.
    pub fn new(config: Config) -> Self {
        Bridge {
            config,
            resolver: Arc::new(SystemResolver),
            connector: Arc::new(DirectConnector),
            metrics_listener: None,
            reloader: Reloader::new(),
        }
    }

    /// A handle that reloads the running bridge's configuration (policy, tokens, upstream TLS,
    /// listener certificate) without dropping open sessions; see [`Reloader::reload`]. Take
    /// it before [`Bridge::run`]; it works while `run` runs.
    pub fn reloader(&self) -> Reloader {
        self.reloader.clone()
    }

    /// Serve `/metrics` on this already bound listener (instead of binding
    /// `config.metrics_listen`); tests bind `127.0.0.1:0`.
    pub fn with_metrics_listener(mut self, l: TcpListener) -> Self {
        self.metrics_listener = Some(l);
        self
    }

    /// Replace the DNS resolver (tests use [`FakeResolver`]).
    pub fn with_resolver(mut self, r: Arc<dyn Resolver>) -> Self {
        self.resolver = r;
        self
    }

    /// Replace the TCP connector (tests record the checked address and dial a local fake).
    pub fn with_connector(mut self, c: Arc<dyn Connector>) -> Self {
        self.connector = c;
        self
    }

    /// Serve until `shutdown` completes, then close sessions (close code 1001) and wait up to
    /// `limits.shutdown_grace` for them.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), BridgeError> {
        let Bridge {
            config,
            resolver,
            connector,
            metrics_listener,
            reloader,
        } = self;
        let local = listener.local_addr()?;
        config.validate()?;
        config.validate_bind(local)?;
        let trusted: Arc<[policy::IpNet]> = config.trusted_proxies_for(local)?.into();
        // Policy (with the host's own addresses), upstream TLS and tokens: what a reload
        // replaces (reload.rs).
        let parts = Parts::build(&config, local)?;
        let cert = match (&config.tls_cert, &config.tls_key) {
            (Some(c), Some(k)) => Some(Arc::new(ListenerCert::load(c, k)?)),
            _ => None,
        };
        let acceptor = match &cert {
            Some(cert) => Some(TlsAcceptor::from(tls::server_config(cert.clone())?)),
            None => None,
        };
        let page_headers = PageHeaders::new(&config.frame_ancestors_source()?);
        let files = StaticFiles::new(config.web_root.clone(), config.pkg_root.clone())
            .with_dev_pages(config.dev_pages)
            .with_reload(config.web_reload)
            .with_page_headers(page_headers);
        // Read once, here (blocking file IO off the runtime's threads).
        let files = tokio::task::spawn_blocking(move || files.load())
            .await
            .map_err(io::Error::other)??;
        let metrics_listener = match (metrics_listener, config.metrics_listen) {
            (Some(l), _) => Some(l),
            (None, Some(addr)) => Some(TcpListener::bind(addr).await?),
            (None, None) => None,
        };
        let mut host_names: Vec<String> = ["localhost", "127.0.0.1", "[::1]"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        if !local.ip().is_unspecified() {
            host_names.push(match local.ip() {
                std::net::IpAddr::V6(v6) => format!("[{v6}]"),
                v4 => v4.to_string(),
            });
        }
        host_names.extend(
            config
                .public_hosts
                .iter()
                .map(|h| h.trim().trim_end_matches('.').to_ascii_lowercase()),
        );
        let origins = config
            .origins
            .iter()
            .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
            .collect();
        let metrics = Arc::new(Metrics::default());
        let (trigger, tracker) = shutdown::channel(metrics.clone());
        let mut ws_config = WebSocketConfig::default();
        // Tungstenite only carries the connect request and the answer (the relay frames the
        // byte stream itself), so small buffers: idle sessions must stay cheap.
        ws_config.read_buffer_size = 4 * 1024;
        ws_config.write_buffer_size = 0;
        ws_config.max_write_buffer_size = 64 * 1024;
        ws_config.max_message_size = Some(config.limits.max_message_size);
        ws_config.max_frame_size = Some(config.limits.max_message_size);
        let shared = Arc::new(Shared {
            policy: parts.policy,
            tls: parts.tls,
            tokens: parts.tokens,
            resolver,
            connector,
            metrics: metrics.clone(),
            sessions: Arc::new(Semaphore::new(config.limits.max_sessions)),
            per_ip: Arc::default(),
            host_names,
            origins,
            files,
            ws_config,
            shutdown: tracker.signal(),
            tracker: tracker.clone(),
            config,
        });
        let live = Arc::new(Live::new(shared.clone(), cert, local));
        reloader.attach(&live);
        info!(addr = %local, tls = acceptor.is_some(), relay_only = shared.config.relay_only, own_addresses_refused = shared.policy.own_count(), "pop3-bridge listening");
        if let Some(ml) = metrics_listener {
            info!(addr = %ml.local_addr()?, "metrics listening");
            let m = MetricsServer {
                metrics: metrics.clone(),
                token: shared.config.metrics_token.as_deref().map(Arc::from),
                limits: shared.config.limits.clone(),
                shutdown: tracker.signal(),
            };
            let guard = tracker.guard();
            let tracker = tracker.clone();
            tokio::spawn(async move {
                let _guard = guard;
                m.run(ml, tracker).await;
            });
        }
        let connections = Arc::new(Semaphore::new(shared.config.limits.max_connections));
        let conns_per_ip: Arc<upgrade::PerIp> = Arc::default();
        let v6_prefix = shared.config.limits.ipv6_prefix;
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                r = listener.accept() => match r {
                    Ok((tcp, peer)) => {
                        let Ok(permit) = connections.clone().try_acquire_owned() else {
                            // Over the connection cap: drop at once rather than queue.
                            metrics.refused(HttpRefusal::ConnectionLimit);
                            continue;
                        };
                        let conn = Arc::new(Conn::new(peer, acceptor.is_some(), trusted.clone(), conns_per_ip.clone()));
                        // A trusted proxy carries many clients: they are counted per request,
                        // by the client it forwards (upgrade.rs). Anyone else, here.
                        let ip_slot = if conn.from_proxy {
                            None
                        } else {
                            let key = forwarded::client_key(peer.ip(), v6_prefix);
                            match conns_per_ip.try_take(key, shared.config.limits.max_connections_per_ip) {
                                Some(g) => Some(g),
                                None => {
                                    metrics.refused(HttpRefusal::ConnectionLimit);
                                    continue;
                                }
                            }
                        };
                        let _ = tcp.set_nodelay(true);
                        let live = live.clone();
                        let acceptor = acceptor.clone();
                        let guard = tracker.guard();
                        tokio::spawn(async move {
                            let _guard = guard;
                            let _ip_slot = ip_slot;
                            match acceptor {
                                None => serve_http(live, tcp, conn, permit).await,
                                Some(acc) => {
                                    let hs = live.shared().config.limits.handshake_timeout;
                                    match tokio::time::timeout(hs, acc.accept(tcp)).await {
                                        Ok(Ok(tls)) => serve_http(live, tls, conn, permit).await,
                                        Ok(Err(e)) => debug!(%peer, error = %e, "listener TLS handshake failed"),
                                        Err(_) => debug!(%peer, "listener TLS handshake timed out"),
                                    }
                                }
                            }
                        });
                    }
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        }
        drop(listener);
        info!("shutting down");
        let grace = shared.config.limits.shutdown_grace;
        // Only running tasks may still hold a tracker; the wait ends when they are all gone.
        drop(shared);
        drop(live);
        drop(tracker);
        if !trigger.shutdown(grace).await {
            warn!("some sessions did not finish within the shutdown grace period");
        }
        Ok(())
    }
}

/// One HTTP/1.1 connection (keep-alive) that may upgrade to a WebSocket session. Each request
/// is served with the configuration current when it arrives (a reload between two requests of
/// one connection applies to the second).
async fn serve_http<I>(live: Arc<Live>, io: I, conn: Arc<Conn>, permit: OwnedSemaphorePermit)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let _permit = permit;
    let peer = conn.peer;
    let shared = live.shared();
    let mut shutdown = shared.shutdown.clone();
    let io = WriteDeadline::new(io, conn.clone(), shared.config.limits.http_write_timeout);
    let svc_conn = conn.clone();
    let svc = service_fn(move |req| upgrade::handle(live.shared(), req, svc_conn.clone()));
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(shared.config.limits.handshake_timeout)
        .max_buf_size(MAX_REQUEST_HEAD)
        .max_headers(MAX_HEADERS)
        .serve_connection(TokioIo::new(io), svc)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                debug!(%peer, error = %e, "http connection ended with error");
            }
        }
        _ = shutdown.recv() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(1), conn).await;
        }
    }
}

/// The IO of one HTTP connection, with a deadline for every response: from the first byte of
/// a response written until its last is flushed, at most `limit` may pass, else the writes
/// fail and hyper drops the connection (and its slots). A client that sends a request and
/// never reads the answer, or reads it a byte a minute, holds a connection for `limit` at most
/// however large the answer or small its socket buffers. Hyper flushes the IO when its write
/// buffer is empty, i.e. once per response for the in-memory bodies the bridge sends. After a
/// WebSocket upgrade the relay's own write timeouts apply and this passes through.
struct WriteDeadline<I> {
    inner: I,
    conn: Arc<Conn>,
    limit: Duration,
    /// Set while a response is being written.
    armed: bool,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl<I> WriteDeadline<I> {
    fn new(inner: I, conn: Arc<Conn>, limit: Duration) -> Self {
        WriteDeadline {
            inner,
            conn,
            limit,
            armed: false,
            sleep: Box::pin(tokio::time::sleep(limit)),
        }
    }

    /// Arms the deadline at the first write of a response; an error once it has passed.
    fn check(&mut self, cx: &mut Context<'_>, arm: bool) -> io::Result<()> {
        if self.conn.upgraded() {
            self.armed = false;
            return Ok(());
        }
        if !self.armed {
            if !arm {
                return Ok(());
            }
            self.armed = true;
            self.sleep
                .as_mut()
                .reset(tokio::time::Instant::now() + self.limit);
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            debug!(peer = %self.conn.peer, "response not taken within the HTTP write timeout");
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client did not take the response within http_write_timeout",
            ));
        }
        Ok(())
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for WriteDeadline<I> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<I> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.check(cx, true)?;
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        this.check(cx, true)?;
        Pin::new(&mut this.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check(cx, false)?;
        let r = Pin::new(&mut this.inner).poll_flush(cx);
        if this.armed && matches!(r, Poll::Ready(Ok(()))) {
            this.armed = false;
            this.conn.response_done();
        }
        r
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check(cx, false)?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

/// The separate `/metrics` listener (`metrics_listen`): a few connections at a time, the same
/// head limits and deadlines as the main listener, no WebSocket, no files.
struct MetricsServer {
    metrics: Arc<Metrics>,
    token: Option<Arc<str>>,
    limits: Limits,
    shutdown: ShutdownSignal,
}

/// Connections the metrics listener serves at once (a scraper needs one).
const METRICS_CONNECTIONS: usize = 16;

impl MetricsServer {
    async fn run(self, listener: TcpListener, tracker: Tracker) {
        let slots = Arc::new(Semaphore::new(METRICS_CONNECTIONS));
        let mut stop = self.shutdown.clone();
        let this = Arc::new(self);
        loop {
            let (tcp, peer) = tokio::select! {
                _ = stop.recv() => return,
                r = listener.accept() => match r {
                    Ok(a) => a,
                    Err(e) => {
                        warn!(error = %e, "metrics accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                continue;
            };
            let guard = tracker.guard();
            let this = this.clone();
            tokio::spawn(async move {
                let _guard = guard;
                let _permit = permit;
                this.serve(tcp, peer).await;
            });
        }
    }

    async fn serve(&self, tcp: tokio::net::TcpStream, peer: std::net::SocketAddr) {
        let conn = Arc::new(Conn::new(peer, false, Arc::from([]), Arc::default()));
        let io = WriteDeadline::new(tcp, conn, self.limits.http_write_timeout);
        let (metrics, token) = (self.metrics.clone(), self.token.clone());
        let svc =
            service_fn(move |req| upgrade::handle_metrics(metrics.clone(), token.clone(), req));
        let c = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.handshake_timeout)
            .max_buf_size(MAX_REQUEST_HEAD)
            .max_headers(MAX_HEADERS)
            .serve_connection(TokioIo::new(io), svc);
        tokio::pin!(c);
        let mut stop = self.shutdown.clone();
        tokio::select! {
            r = c.as_mut() => {
                if let Err(e) = r {
                    debug!(%peer, error = %e, "metrics connection ended with error");
                }
            }
            _ = stop.recv() => {}
        }
    }
}

/// Run the bridge with the system resolver (mini-redis style entry point).
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), BridgeError> {
    Bridge::new(config).run(listener, shutdown).await
}
