//! A loopback TCP proxy that adds a fixed one-way delay in each direction.
//!
//! Every chunk read from one side is timestamped and written to the other side at
//! `read_time + delay`. Reading never waits for writing, so the delay does not limit
//! throughput: the proxy behaves like a long, fat link (bandwidth-delay product unlimited),
//! which is what makes POP3 pipelining measurable. A round trip through the proxy costs at least
//! `2 × delay`.
//!
//! When one side closes its sending direction, the proxy forwards the data still in flight, then
//! shuts down writing towards the other side. The connection is torn down completely once both
//! directions are closed, or `2 × delay + 1 s` after the first one closed, or on any error.
//!
//! The proxy runs on its own thread with its own tokio runtime (`ProxyThread`), so it works
//! the same from sync code (benchmarks spawning external clients) and from any async test
//! runtime. Dropping the [`DelayProxy`] stops it and closes every connection.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::proxy_thread::ProxyThread;

/// Handle of a running proxy. Dropping it stops the proxy.
#[derive(Debug)]
pub struct DelayProxy {
    thread: ProxyThread,
    upstream: SocketAddr,
    delay: Duration,
    stats: Arc<Stats>,
}

#[derive(Debug, Default)]
struct Stats {
    connections: AtomicU64,
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
}

impl DelayProxy {
    /// Listens on `listen` (use port 0 for a free port) and forwards every connection to
    /// `upstream`, delaying each direction by `delay`.
    pub fn start(
        listen: SocketAddr,
        upstream: SocketAddr,
        delay: Duration,
    ) -> io::Result<DelayProxy> {
        let stats = Arc::new(Stats::default());
        let stats2 = stats.clone();
        let thread = ProxyThread::spawn("delay-proxy", listen, move |listener| {
            accept_loop(listener, upstream, delay, stats2)
        })?;
        Ok(DelayProxy {
            thread,
            upstream,
            delay,
            stats,
        })
    }

    /// Starts a proxy on a free port of 127.0.0.1.
    pub fn start_local(upstream: SocketAddr, delay: Duration) -> io::Result<DelayProxy> {
        DelayProxy::start(SocketAddr::from(([127, 0, 0, 1], 0)), upstream, delay)
    }

    /// The address clients should connect to.
    pub fn local_addr(&self) -> SocketAddr {
        self.thread.local_addr()
    }

    /// The address connections are forwarded to.
    pub fn upstream(&self) -> SocketAddr {
        self.upstream
    }

    /// The one-way delay.
    pub fn delay(&self) -> Duration {
        self.delay
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.stats.connections.load(Ordering::Relaxed)
    }

    /// Bytes forwarded client → upstream and upstream → client so far.
    pub fn bytes(&self) -> (u64, u64) {
        (
            self.stats.bytes_up.load(Ordering::Relaxed),
            self.stats.bytes_down.load(Ordering::Relaxed),
        )
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    delay: Duration,
    stats: Arc<Stats>,
) {
    loop {
        let (client, _) = match listener.accept().await {
            Ok(c) => c,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
        };
        stats.connections.fetch_add(1, Ordering::Relaxed);
        let stats = stats.clone();
        tokio::spawn(async move {
            let _ = handle(client, upstream, delay, stats).await;
        });
    }
}

async fn handle(
    client: TcpStream,
    upstream: SocketAddr,
    delay: Duration,
    stats: Arc<Stats>,
) -> io::Result<()> {
    let server = TcpStream::connect(upstream).await?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let up = pipe(cr, sw, delay, stats.clone(), true);
    let down = pipe(sr, cw, delay, stats, false);
    tokio::pin!(up, down);
    let grace = delay * 2 + Duration::from_secs(1);
    tokio::select! {
        _ = &mut up => { let _ = tokio::time::timeout(grace, &mut down).await; }
        _ = &mut down => { let _ = tokio::time::timeout(grace, &mut up).await; }
    }
    Ok(())
}

/// Forwards `r` to `w`, each chunk at its read time + `delay`; on EOF shuts down `w`.
async fn pipe(
    mut r: OwnedReadHalf,
    mut w: OwnedWriteHalf,
    delay: Duration,
    stats: Arc<Stats>,
    up: bool,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Option<Vec<u8>>)>();
    let reader = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = r.read(&mut buf).await;
            let due = Instant::now() + delay;
            match n {
                Ok(0) | Err(_) => {
                    let _ = tx.send((due, None));
                    return;
                }
                Ok(n) => {
                    if tx.send((due, Some(buf[..n].to_vec()))).is_err() {
                        return;
                    }
                }
            }
        }
    };
    let writer = async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            match chunk {
                Some(data) => {
                    if w.write_all(&data).await.is_err() {
                        return;
                    }
                    let counter = if up {
                        &stats.bytes_up
                    } else {
                        &stats.bytes_down
                    };
                    counter.fetch_add(data.len() as u64, Ordering::Relaxed);
                }
                None => {
                    let _ = w.shutdown().await;
                    return;
                }
            }
        }
    };
    tokio::pin!(reader, writer);
    tokio::select! {
        // The writer ends on EOF (after flushing) or on a write error: either way this
        // direction is done.
        _ = &mut writer => {}
        // The reader ends first on EOF/error; the writer still has to flush.
        _ = &mut reader => { writer.await; }
    }
}
