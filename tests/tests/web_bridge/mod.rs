//! The bridge as the browser tests' web server, in this process: it serves web/ exactly as a
//! deployment does, plus web/dev/ (the mock API behind `?api=mock`, the test pages) when the
//! test asks for dev pages, which a bridge never serves by default.

use std::net::SocketAddr;
use std::path::PathBuf;

use e2e::served::ServedBridge;
use pop3_bridge::Config;

pub struct WebBridge {
    pub addr: SocketAddr,
    served: ServedBridge,
}

impl WebBridge {
    /// Serves `web_root` on 127.0.0.1; `dev_pages` None keeps the default (off).
    pub async fn start(web_root: PathBuf, dev_pages: Option<bool>) -> WebBridge {
        let mut config = Config {
            web_root: Some(web_root),
            ..Config::default()
        };
        if let Some(on) = dev_pages {
            config.dev_pages = on;
        }
        let served = ServedBridge::start(config).await;
        WebBridge {
            addr: served.addr,
            served,
        }
    }

    /// Serves `web_root` with its dev pages.
    #[allow(dead_code)] // not every test file uses both
    pub async fn with_dev_pages(web_root: PathBuf) -> WebBridge {
        Self::start(web_root, Some(true)).await
    }

    /// `http://127.0.0.1:PORT/` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{}", self.addr, path.trim_start_matches('/'))
    }

    /// Stops the bridge and waits for it.
    #[allow(dead_code)]
    pub async fn stop(mut self) {
        self.served.stop().await;
    }
}
