//! A bridge connector for tests that may name private addresses: it records every address the
//! bridge asks it to dial and connects only to the test's own servers on loopback; anything
//! else is refused here, without a packet sent. A policy regression then shows as a recorded
//! dial (and a `connect_failed` answer), never as traffic leaving the machine.

use std::net::SocketAddr;
use std::sync::Mutex;

use pop3_bridge::{BoxFuture, Connector};
use tokio::net::TcpStream;

/// Dials only `127.0.0.1`/`::1` on the given ports; records every request.
#[derive(Debug)]
pub struct LoopbackOnly {
    ports: Vec<u16>,
    dials: Mutex<Vec<SocketAddr>>,
}

impl LoopbackOnly {
    /// A connector to the test's own servers on `ports`.
    pub fn new(ports: Vec<u16>) -> LoopbackOnly {
        LoopbackOnly {
            ports,
            dials: Mutex::new(Vec::new()),
        }
    }

    /// Every address the bridge asked for, in order, refused ones included.
    pub fn dialled(&self) -> Vec<SocketAddr> {
        self.dials.lock().map(|d| d.clone()).unwrap_or_default()
    }
}

impl Connector for LoopbackOnly {
    fn connect(&self, addr: SocketAddr) -> BoxFuture<'_, std::io::Result<TcpStream>> {
        if let Ok(mut d) = self.dials.lock() {
            d.push(addr);
        }
        let ok = addr.ip().is_loopback() && self.ports.contains(&addr.port());
        Box::pin(async move {
            if !ok {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionRefused,
                    format!("the test connector dials only its own loopback servers, not {addr}"),
                ));
            }
            let s = TcpStream::connect(addr).await?;
            s.set_nodelay(true)?;
            Ok(s)
        })
    }
}
