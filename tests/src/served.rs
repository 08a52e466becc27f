//! The bridge as the UI tests run it: serving `web/` on a loopback port, for one Dovecot, until
//! the test stops it (to go offline, or to serve a newer build on the same port).

use std::net::SocketAddr;

use pop3_bridge::{Bridge, Config};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::Dovecot;

/// What every UI test's bridge needs for `d`: the built UI (`cargo xtask build-web`), only
/// `localhost` and Dovecot's TLS port allowed, and Dovecot's test CA trusted. Tests change the
/// rest (`kiosk`, `dev_pages`, …) with `Config { …, ..ui_config(d) }`.
pub fn ui_config(d: &Dovecot) -> Config {
    let web = crate::browser::web_root();
    assert!(
        web.join("pkg/pop3_web_bg.wasm").exists(),
        "web/pkg is missing: run `cargo xtask build-web`"
    );
    Config {
        web_root: Some(web),
        allow_hosts: vec!["localhost".into()],
        allow_ports: vec![d.tls_port()],
        extra_ca: vec![d.ca_pem_path().to_path_buf()],
        ..Config::default()
    }
}

/// A running bridge; [`ServedBridge::stop`] ends it (and waits until it has), and so does
/// dropping it (without waiting).
pub struct ServedBridge {
    /// Where it listens (the page's origin is `http://<addr>`).
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl ServedBridge {
    /// Starts `config` on a fresh loopback port.
    pub async fn start(config: Config) -> ServedBridge {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        ServedBridge::on(listener, config)
    }

    /// Starts `config` on `listener` (a port chosen before, e.g. the same origin again).
    pub fn on(listener: TcpListener, mut config: Config) -> ServedBridge {
        let addr = listener.local_addr().expect("addr");
        config.listen = addr;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = Bridge::new(config)
                .run(listener, async {
                    let _ = stopped.await;
                })
                .await;
        });
        ServedBridge {
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops it; its port no longer answers when this returns.
    pub async fn stop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

/// A bridge dropped without `stop()` is told to stop too (it ends with the test's runtime).
impl Drop for ServedBridge {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}
