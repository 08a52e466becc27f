//! The life of a test proxy: a loopback listener served on its own thread with its own tokio
//! runtime, so the proxy works the same from sync code (benchmarks spawning external clients)
//! and from any async test. Dropping the handle stops the serving future and every task it
//! spawned (the runtime goes with it), which closes every connection.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::thread;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Handle of a running proxy thread. Dropping it stops the proxy.
#[derive(Debug)]
pub(crate) struct ProxyThread {
    local_addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl ProxyThread {
    /// Binds `listen` (port 0: a free port) now, so the address is usable when this returns,
    /// then runs `serve(listener)` on a thread named `name-<port>` until dropped.
    pub(crate) fn spawn<F, Fut>(name: &str, listen: SocketAddr, serve: F) -> io::Result<ProxyThread>
    where
        F: FnOnce(TcpListener) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let std_listener = std::net::TcpListener::bind(listen)?;
        std_listener.set_nonblocking(true)?;
        let local_addr = std_listener.local_addr()?;
        let (tx, rx) = oneshot::channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = thread::Builder::new()
            .name(format!("{name}-{}", local_addr.port()))
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    let listener = match TcpListener::from_std(std_listener) {
                        Ok(l) => l,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    tokio::select! {
                        _ = rx => {}
                        _ = serve(listener) => {}
                    }
                });
                // Dropping the runtime here aborts all connection tasks.
                rt.shutdown_timeout(Duration::from_millis(100));
            })?;
        ready_rx
            .recv()
            .map_err(|_| io::Error::other(format!("{name} thread died")))??;
        Ok(ProxyThread {
            local_addr,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

impl Drop for ProxyThread {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
