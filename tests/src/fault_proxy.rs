//! A loopback TCP proxy that breaks connections on purpose: it cuts (FIN), resets (RST) or
//! stalls a connection once a chosen number of bytes has passed in a chosen direction.
//!
//! The sync tests put it between the bridge and Dovecot, so every way a real network can fail
//! in the middle of a RETR, a DELE or a QUIT happens at an exact, reproducible byte offset. Each
//! accepted connection takes the next plan from a queue; with the queue empty a connection is
//! relayed untouched, so a test can say "break the first session at byte 1234 of the server's
//! answers, let the retry through".
//!
//! Like the delay proxy it runs on its own thread with its own runtime (`ProxyThread`), and
//! dropping the [`FaultProxy`] stops it and closes every connection.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::proxy_thread::ProxyThread;

/// Which way the bytes that trigger the fault travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client → server (commands).
    ToServer,
    /// Server → client (answers, message data).
    ToClient,
}

/// What happens when the trigger offset is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Both sides get an orderly close (FIN) right after the trigger byte: the receiving side
    /// at once, the sending side after it has been read for up to [`DRAIN`].
    Cut,
    /// Both sides get a TCP reset: the data in flight is lost, as when a NAT box forgets us.
    /// The sending side gets it after up to [`DRAIN`], like the cut.
    Reset,
    /// Nothing is forwarded in either direction for this long, then relaying resumes.
    Stall(Duration),
}

/// One connection's fate: `fault` once `at_byte` bytes have passed in `direction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultPlan {
    pub direction: Direction,
    pub at_byte: u64,
    pub fault: Fault,
}

/// What one connection carried, recorded when it ends: the sync tests draw their fault offsets
/// from the traffic of a clean sync, and check afterwards that a planned fault fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Traffic {
    /// The connection's number: the value of [`FaultProxy::connections`] before it was
    /// accepted.
    pub id: u64,
    /// Bytes relayed client → server.
    pub to_server: u64,
    /// Bytes relayed server → client.
    pub to_client: u64,
    /// The size of the last read in each direction (client → server, server → client): at the
    /// end of a TLS connection usually its `close_notify` alert.
    pub last_read: (u64, u64),
    /// The connection had a plan.
    pub planned: bool,
    /// Its plan's offset was reached and the fault happened.
    pub fired: bool,
    /// After a cut or reset, what the peer that was sending in the planned direction still
    /// sent (the rest of the read that crossed the offset and everything after it), read and
    /// dropped before that peer is told, for at most [`DRAIN`] and until it passes
    /// [`DRAIN_BYTES`]: whether the fault broke anything is in there.
    pub withheld: u64,
    /// That peer closed its side within [`DRAIN`] and [`DRAIN_BYTES`], on its own (it had not
    /// been told), so it had finished: `withheld` is all it had to send. A reset from it is
    /// not a close: the bytes in flight with it are lost, so what it sent is not known.
    pub sender_closed: bool,
}

/// How long the sending peer is read, untold, after a cut or reset. A peer that was ending the
/// session (a server that has answered QUIT) closes at once; one in the middle of it waits for
/// the other, and is told after this. Generous, because a peer that finished but is slow to
/// close (a loaded machine; a browser behind the bridge) would be taken for one that had not.
pub const DRAIN: Duration = Duration::from_secs(1);

/// The sending peer is told at once when it has sent more than this after the fault: it had
/// more to say than the end of a session (a TLS close_notify is 24 bytes), and waiting for
/// its close would change nothing.
pub const DRAIN_BYTES: u64 = 256;

#[derive(Debug, Default)]
struct Shared {
    plans: Mutex<VecDeque<Option<FaultPlan>>>,
    connections: AtomicU64,
    fired: AtomicU64,
    finished: Mutex<Vec<Traffic>>,
    /// Each connection whose plan fired, and when.
    fired_on: Mutex<Vec<(u64, std::time::Instant)>>,
}

/// Handle of a running proxy. Dropping it stops the proxy.
#[derive(Debug)]
pub struct FaultProxy {
    thread: ProxyThread,
    shared: Arc<Shared>,
}

impl FaultProxy {
    /// Listens on a free port of 127.0.0.1 and relays every connection to `upstream`.
    pub fn start_local(upstream: SocketAddr) -> io::Result<FaultProxy> {
        let shared = Arc::new(Shared::default());
        let shared2 = shared.clone();
        let thread = ProxyThread::spawn(
            "fault-proxy",
            SocketAddr::from(([127, 0, 0, 1], 0)),
            move |listener| accept_loop(listener, upstream, shared2),
        )?;
        Ok(FaultProxy { thread, shared })
    }

    /// The address clients should connect to.
    pub fn local_addr(&self) -> SocketAddr {
        self.thread.local_addr()
    }

    /// Queues the fate of the next connection not yet planned (`None`: relay it untouched).
    pub fn push(&self, plan: Option<FaultPlan>) {
        if let Ok(mut q) = self.shared.plans.lock() {
            q.push_back(plan);
        }
    }

    /// Forgets plans not yet taken by a connection.
    pub fn clear(&self) {
        if let Ok(mut q) = self.shared.plans.lock() {
            q.clear();
        }
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// Faults that actually happened (a plan whose offset was never reached did not fire).
    pub fn fired(&self) -> u64 {
        self.shared.fired.load(Ordering::Relaxed)
    }

    /// Whether the plan of connection `id` (see [`Traffic::id`]) has fired, at once (a stalled
    /// connection has not ended yet).
    pub fn fired_on(&self, id: u64) -> bool {
        self.fired_at(id).is_some()
    }

    /// When the plan of connection `id` fired (the moment the proxy stopped relaying its
    /// bytes as they came), if it has.
    pub fn fired_at(&self, id: u64) -> Option<std::time::Instant> {
        let f = self.shared.fired_on.lock().ok()?;
        f.iter().find(|(i, _)| *i == id).map(|(_, at)| *at)
    }

    /// The traffic of connection `id` once it has ended; `None` if it is still open after
    /// `timeout`.
    pub async fn traffic_of(&self, id: u64, timeout: Duration) -> Option<Traffic> {
        let start = std::time::Instant::now();
        loop {
            let found = self
                .shared
                .finished
                .lock()
                .ok()
                .and_then(|f| f.iter().find(|t| t.id == id).copied());
            if found.is_some() || start.elapsed() > timeout {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, shared: Arc<Shared>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        };
        let id = shared.connections.fetch_add(1, Ordering::Relaxed);
        let plan = shared
            .plans
            .lock()
            .ok()
            .and_then(|mut q| q.pop_front())
            .flatten();
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut traffic = Traffic {
                id,
                planned: plan.is_some(),
                ..Traffic::default()
            };
            let _ = relay(client, upstream, plan, &shared, &mut traffic).await;
            if let Ok(mut f) = shared.finished.lock() {
                f.push(traffic);
            }
        });
    }
}

/// Relays one connection, applying `plan` at its offset.
async fn relay(
    client: TcpStream,
    upstream: SocketAddr,
    plan: Option<FaultPlan>,
    shared: &Shared,
    traffic: &mut Traffic,
) -> io::Result<()> {
    let server = TcpStream::connect(upstream).await?;
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let mut up_buf = vec![0u8; 16 * 1024];
    let mut down_buf = vec![0u8; 16 * 1024];
    let (mut up_open, mut down_open) = (true, true);
    let mut plan = plan;
    let Traffic {
        id,
        to_server,
        to_client,
        last_read,
        fired,
        withheld,
        sender_closed,
        ..
    } = traffic;
    while up_open || down_open {
        let (dir, n) = tokio::select! {
            r = cr.read(&mut up_buf), if up_open => (Direction::ToServer, r?),
            r = sr.read(&mut down_buf), if down_open => (Direction::ToClient, r?),
        };
        let (buf, total, out) = match dir {
            Direction::ToServer => (&up_buf, &mut *to_server, &mut sw),
            Direction::ToClient => (&down_buf, &mut *to_client, &mut cw),
        };
        if n > 0 {
            match dir {
                Direction::ToServer => last_read.0 = n as u64,
                Direction::ToClient => last_read.1 = n as u64,
            }
        }
        if n == 0 {
            // Half-close travels on, like a real network.
            let _ = out.shutdown().await;
            match dir {
                Direction::ToServer => up_open = false,
                Direction::ToClient => down_open = false,
            }
            continue;
        }
        let trigger = plan.filter(|p| p.direction == dir && *total + n as u64 >= p.at_byte);
        let Some(p) = trigger else {
            out.write_all(&buf[..n]).await?;
            *total += n as u64;
            continue;
        };
        // Forward exactly the bytes before the trigger offset, then break the connection.
        let before = p.at_byte.saturating_sub(*total).min(n as u64) as usize;
        out.write_all(&buf[..before]).await?;
        *total += before as u64;
        shared.fired.fetch_add(1, Ordering::Relaxed);
        *fired = true;
        if let Ok(mut f) = shared.fired_on.lock() {
            f.push((*id, std::time::Instant::now()));
        }
        plan = None;
        match p.fault {
            Fault::Stall(d) => {
                tokio::time::sleep(d).await;
                out.write_all(&buf[before..n]).await?;
                *total += (n - before) as u64;
            }
            Fault::Cut => {
                // The receiver is closed at once; the sender only once it has been read (see
                // `withheld`), and nothing is forwarded in between, so whatever it does then
                // it does on its own, not because it saw the cut.
                let (mut receiver, mut sender_in, mut sender_out) = match dir {
                    Direction::ToServer => (sw, cr, cw),
                    Direction::ToClient => (cw, sr, sw),
                };
                let _ = receiver.shutdown().await;
                (*withheld, *sender_closed) =
                    drain(&mut sender_in, &mut down_buf, (n - before) as u64).await;
                let _ = sender_out.shutdown().await;
                return Ok(());
            }
            Fault::Reset => {
                let client = cr.reunite(cw).map_err(io::Error::other)?;
                let server = sr.reunite(sw).map_err(io::Error::other)?;
                // What the peers see when a middlebox drops the connection state: the
                // receiver at once, the sender once it has been read (see `withheld`), which
                // it cannot tell from at once as it gets no answer in between.
                let (receiver, mut sender) = match dir {
                    Direction::ToServer => (server, client),
                    Direction::ToClient => (client, server),
                };
                reset(receiver);
                (*withheld, *sender_closed) =
                    drain(&mut sender, &mut down_buf, (n - before) as u64).await;
                reset(sender);
                return Ok(());
            }
        }
    }
    Ok(())
}

/// Reads `from`, which has sent `withheld` bytes since the fault, to its end, for at most
/// [`DRAIN`] and until it passes [`DRAIN_BYTES`]: all it has withheld, and whether it ended
/// (an error is not an end: what it would still have sent is unknown).
async fn drain<R: AsyncReadExt + Unpin>(
    from: &mut R,
    buf: &mut [u8],
    mut withheld: u64,
) -> (u64, bool) {
    let deadline = tokio::time::Instant::now() + DRAIN;
    while withheld <= DRAIN_BYTES {
        match tokio::time::timeout_at(deadline, from.read(buf)).await {
            Ok(Ok(0)) => return (withheld, true),
            Ok(Ok(n)) => withheld += n as u64,
            Ok(Err(_)) | Err(_) => break,
        }
    }
    (withheld, false)
}

fn reset(stream: TcpStream) {
    // A zero linger turns close() into a RST (and never blocks, unlike a non-zero linger).
    let _ = stream.set_zero_linger();
    drop(stream);
}
