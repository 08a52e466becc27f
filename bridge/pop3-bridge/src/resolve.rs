//! Name resolution and TCP connect, behind traits so tests can replace them.
//!
//! The session resolves a name exactly once, checks every address with the policy, and then
//! hands the *checked* `SocketAddr` to the [`Connector`]. Nothing here resolves again, so a
//! DNS answer that changes between check and use (rebinding, TTL 0) cannot redirect us.
//!
//! [`FakeResolver`] answers from a table (and can change its answer on each call, which is how
//! the rebinding test works); tests may also supply a `Connector` that records the address it
//! was asked for and connects to a local fake server instead, so "public" addresses can be
//! exercised without sending traffic anywhere but loopback.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::net::TcpStream;

/// The future a [`Resolver`] or [`Connector`] returns (boxed, so the traits stay object-safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Turns a host name into addresses. Called once per session.
pub trait Resolver: Send + Sync + 'static {
    /// Every address of `host`; an error (or no address) fails the session with
    /// `resolve_failed`.
    fn resolve<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>>;
}

/// Opens a TCP connection to an address the policy has already approved.
pub trait Connector: Send + Sync + 'static {
    /// A TCP connection to exactly `addr`.
    fn connect(&self, addr: SocketAddr) -> BoxFuture<'_, io::Result<TcpStream>>;
}

/// The operating system's resolver (getaddrinfo on a blocking thread, via tokio).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>> {
        Box::pin(async move {
            let mut out: Vec<IpAddr> = Vec::new();
            for sa in tokio::net::lookup_host((host, 0)).await? {
                if !out.contains(&sa.ip()) {
                    out.push(sa.ip());
                }
            }
            Ok(out)
        })
    }
}

/// Plain `TcpStream::connect` to exactly the given address, with Nagle off: POP3 commands are
/// small and interactive.
#[derive(Debug, Default, Clone, Copy)]
pub struct DirectConnector;

impl Connector for DirectConnector {
    fn connect(&self, addr: SocketAddr) -> BoxFuture<'_, io::Result<TcpStream>> {
        Box::pin(async move {
            let s = TcpStream::connect(addr).await?;
            s.set_nodelay(true)?;
            Ok(s)
        })
    }
}

/// A resolver for tests: a table of names to a queue of answers. Each lookup pops the next
/// answer; the last one repeats. Unknown names fail like NXDOMAIN.
#[derive(Debug, Default)]
pub struct FakeResolver {
    table: Mutex<HashMap<String, VecDeque<Vec<IpAddr>>>>,
    calls: AtomicUsize,
}

impl FakeResolver {
    /// A resolver that knows no names yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add an answer for `name` (answers are returned in the order they were added).
    pub fn answer(self, name: &str, addrs: &[IpAddr]) -> Self {
        self.table
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name.to_ascii_lowercase())
            .or_default()
            .push_back(addrs.to_vec());
        self
    }

    /// How many lookups were made.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl Resolver for FakeResolver {
    fn resolve<'a>(&'a self, host: &'a str) -> BoxFuture<'a, io::Result<Vec<IpAddr>>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let answer = match table.get_mut(&host.to_ascii_lowercase()) {
            Some(q) if q.len() > 1 => q.pop_front(),
            Some(q) => q.front().cloned(),
            None => None,
        };
        Box::pin(async move {
            answer.ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such host"))
        })
    }
}
