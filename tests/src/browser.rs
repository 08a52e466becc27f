//! WebDriver harness for the browser UI tests: starts chromedriver or geckodriver on a free
//! loopback port (killed on drop), opens a headless session with a fresh profile, and offers
//! the few helpers the UI tests need (navigate, find, including inside shadow roots, click, type,
//! keys, wait for a condition, run JS, save a PNG screenshot). Also a tiny static file server
//! for the web UI.
//!
//! A missing browser or driver is an error with a clear message, never a silent skip: a UI
//! test that did not run must not look green.
//!
//! Overrides (all optional): `CHROMIUM_BIN`, `CHROMEDRIVER`, `FIREFOX_BIN`, `GECKODRIVER`.

use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdListener};
use std::path::{Component, Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value as Json, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Which browser to drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrowserKind {
    Chromium,
    Firefox,
}

impl BrowserKind {
    pub fn name(self) -> &'static str {
        match self {
            BrowserKind::Chromium => "chromium",
            BrowserKind::Firefox => "firefox",
        }
    }
}

/// Errors of the harness; the message says what to install or fix.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    #[error("{0}")]
    Missing(String),
    #[error("could not start {what}: {source}")]
    Spawn {
        what: String,
        source: std::io::Error,
    },
    #[error("{0} did not start listening within 30 s")]
    DriverTimeout(String),
    #[error("WebDriver session could not be created: {0}")]
    Session(#[from] fantoccini::error::NewSessionError),
    #[error("WebDriver command failed: {0}")]
    Cmd(#[from] fantoccini::error::CmdError),
    #[error("timed out after {timeout:?} waiting for {what}")]
    Timeout { what: String, timeout: Duration },
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T> = std::result::Result<T, BrowserError>;

/// Looks up an executable: the environment override, then `$PATH`, then extra candidates.
fn find_exe(env: &str, names: &[&str], extra: &[PathBuf]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for n in names {
            let p = dir.join(n);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    extra.iter().find(|p| p.is_file()).cloned()
}

fn free_loopback_port() -> Result<u16> {
    // Bind-and-release: the driver binds the port a moment later. The race is harmless on a
    // test machine and the drivers cannot report a port they chose themselves.
    let l = StdListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(l.local_addr()?.port())
}

/// A running headless browser session. Dropping it kills the driver (and with it the browser).
pub struct Browser {
    pub client: Client,
    pub kind: BrowserKind,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts the driver and a headless browser with a fresh profile and a 1280x800 window.
    pub async fn start(kind: BrowserKind) -> Result<Self> {
        let cargo_bin = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
            .map(|p| p.join("bin"))
            .unwrap_or_default();
        let profile = tempfile::Builder::new()
            .prefix(&format!("ui-{}-", kind.name()))
            .tempdir()?;
        let port = free_loopback_port()?;
        let (driver_path, browser_path) = match kind {
            BrowserKind::Chromium => (
                find_exe("CHROMEDRIVER", &["chromedriver"], &[]).ok_or_else(|| {
                    BrowserError::Missing(
                        "chromedriver not found (install the Debian package chromium-driver, or set CHROMEDRIVER)".into(),
                    )
                })?,
                find_exe("CHROMIUM_BIN", &["chromium", "chromium-browser", "google-chrome"], &[])
                    .ok_or_else(|| {
                        BrowserError::Missing(
                            "Chromium not found (install the Debian package chromium, or set CHROMIUM_BIN)".into(),
                        )
                    })?,
            ),
            BrowserKind::Firefox => (
                find_exe("GECKODRIVER", &["geckodriver"], &[cargo_bin.join("geckodriver")]).ok_or_else(
                    || {
                        BrowserError::Missing(
                            "geckodriver not found (run `cargo install geckodriver`, or set GECKODRIVER)".into(),
                        )
                    },
                )?,
                find_exe("FIREFOX_BIN", &["firefox-esr", "firefox"], &[]).ok_or_else(|| {
                    BrowserError::Missing(
                        "Firefox not found (install the Debian package firefox-esr, or set FIREFOX_BIN)".into(),
                    )
                })?,
            ),
        };

        let mut cmd = Command::new(&driver_path);
        match kind {
            BrowserKind::Chromium => {
                cmd.arg(format!("--port={port}"))
                    .arg("--allowed-ips=127.0.0.1");
            }
            BrowserKind::Firefox => {
                cmd.args(["--host", "127.0.0.1", "--port", &port.to_string()]);
                // geckodriver's own profile dir goes under TMPDIR; keep it in ours.
                cmd.env("TMPDIR", profile.path());
            }
        }
        // Driver chatter would drown the test output; errors surface as WebDriver errors.
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut driver = cmd.spawn().map_err(|source| BrowserError::Spawn {
            what: driver_path.display().to_string(),
            source,
        })?;

        // Wait until the driver accepts connections.
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let start = Instant::now();
        loop {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                break;
            }
            if let Ok(Some(status)) = driver.try_wait() {
                return Err(BrowserError::Missing(format!(
                    "{} exited at start ({status})",
                    driver_path.display()
                )));
            }
            if start.elapsed() > Duration::from_secs(30) {
                let _ = driver.kill();
                return Err(BrowserError::DriverTimeout(
                    driver_path.display().to_string(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        let caps = match kind {
            BrowserKind::Chromium => json!({
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": browser_path,
                    "args": [
                        "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                        "--window-size=1280,800",
                        format!("--user-data-dir={}", profile.path().join("chromium").display()),
                    ],
                },
            }),
            BrowserKind::Firefox => json!({
                "browserName": "firefox",
                "moz:firefoxOptions": {
                    "binary": browser_path,
                    "args": ["-headless", "-width=1280", "-height=800"],
                    // Keep a test browser quiet: no updates, telemetry or captive-portal probes.
                    "prefs": {
                        "app.update.enabled": false,
                        "datareporting.policy.dataSubmissionEnabled": false,
                        "toolkit.telemetry.enabled": false,
                        "network.captive-portal-service.enabled": false,
                        "network.connectivity-service.enabled": false,
                        "browser.shell.checkDefaultBrowser": false,
                    },
                },
            }),
        };
        let caps = match caps {
            Json::Object(m) => m,
            _ => unreachable!(),
        };
        let client = match ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(c) => c,
            Err(e) => {
                let _ = driver.kill();
                let _ = driver.wait();
                return Err(e.into());
            }
        };
        let b = Browser {
            client,
            kind,
            driver,
            _profile: profile,
        };
        b.client.set_window_size(1280, 800).await?;
        Ok(b)
    }

    /// Ends the WebDriver session (closing the browser), then the driver is killed on drop.
    pub async fn close(self) -> Result<()> {
        self.client.clone().close().await?;
        Ok(())
    }

    pub async fn goto(&self, url: &str) -> Result<()> {
        Ok(self.client.goto(url).await?)
    }

    pub async fn find(&self, css: &str) -> Result<Element> {
        Ok(self.client.find(Locator::Css(css)).await?)
    }

    /// Finds `css` inside the open shadow root of the first element matching `host`.
    pub async fn find_in_shadow(&self, host: &str, css: &str) -> Result<Element> {
        let root = self.find(host).await?.shadow_root().await?;
        Ok(root.find(Locator::Css(css)).await?)
    }

    pub async fn click_in_shadow(&self, host: &str, css: &str) -> Result<()> {
        Ok(self.find_in_shadow(host, css).await?.click().await?)
    }

    /// Replaces the value of an input inside a shadow root by typing, as a user would.
    pub async fn type_in_shadow(&self, host: &str, css: &str, text: &str) -> Result<()> {
        let el = self.find_in_shadow(host, css).await?;
        el.clear().await?;
        Ok(el.send_keys(text).await?)
    }

    /// Presses keys on whatever has focus (WebDriver actions, so shadow DOM focus works).
    pub async fn press(&self, keys: &[Key]) -> Result<()> {
        let mut seq = KeyActions::new("keyboard".into());
        for k in keys {
            let c: char = (*k).into();
            seq = seq
                .then(KeyAction::Down { value: c })
                .then(KeyAction::Up { value: c });
        }
        self.client.perform_actions(seq).await?;
        Ok(self.client.release_actions().await?)
    }

    /// Runs `script` (a function body; use `return`) with `args`.
    pub async fn js(&self, script: &str, args: Vec<Json>) -> Result<Json> {
        Ok(self.client.execute(script, args).await?)
    }

    /// Polls the JS expression `expr` until it is truthy; returns its last value.
    pub async fn wait_js(&self, what: &str, expr: &str, timeout: Duration) -> Result<Json> {
        let script = format!("return ({expr});");
        let start = Instant::now();
        loop {
            let v = self.js(&script, vec![]).await?;
            let truthy = match &v {
                Json::Null => false,
                Json::Bool(b) => *b,
                Json::Number(n) => n.as_f64() != Some(0.0),
                Json::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return Ok(v);
            }
            if start.elapsed() > timeout {
                return Err(BrowserError::Timeout {
                    what: what.to_string(),
                    timeout,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Saves a PNG of the viewport to `path` (parent directories are created).
    pub async fn screenshot(&self, path: &Path) -> Result<()> {
        let png = self.client.screenshot().await?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, png)?;
        Ok(())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Killing the driver also ends the browser it started (same process group lifetime
        // for chromedriver; geckodriver kills Firefox when it exits).
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A tiny static file server on 127.0.0.1 (port chosen by the OS) for the web UI.
/// Serves GET/HEAD for files under `root`; nothing else.
pub struct StaticServer {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl StaticServer {
    pub async fn start(root: impl Into<PathBuf>) -> Result<Self> {
        let root: PathBuf = root.into();
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let root = root.clone();
                tokio::spawn(async move {
                    let _ = serve_one(stream, &root).await;
                });
            }
        });
        Ok(StaticServer { addr, task })
    }

    /// `http://127.0.0.1:PORT/` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{}", self.addr, path.trim_start_matches('/'))
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// MIME type by extension; module scripts and wasm streaming compile need the right ones.
pub fn mime_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

async fn serve_one(mut stream: tokio::net::TcpStream, root: &Path) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(2048);
    let mut chunk = [0u8; 2048];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 || buf.len() > 16 * 1024 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let mut parts = head.split_whitespace();
    let method = parts.next().unwrap_or("");
    let target = parts.next().unwrap_or("/");
    let path = target.split(['?', '#']).next().unwrap_or("/");
    let path = if path.ends_with('/') {
        format!("{path}index.html")
    } else {
        path.to_string()
    };
    // Only plain relative components: no "..", no absolute paths, no percent tricks.
    let rel = Path::new(path.trim_start_matches('/'));
    let safe = !path.contains('%') && rel.components().all(|c| matches!(c, Component::Normal(_)));
    let file = root.join(rel);
    let (status, ctype, body) = if method != "GET" && method != "HEAD" {
        (
            "405 Method Not Allowed",
            "text/plain",
            b"method not allowed".to_vec(),
        )
    } else if !safe {
        ("400 Bad Request", "text/plain", b"bad path".to_vec())
    } else {
        match tokio::fs::read(&file).await {
            Ok(b) => ("200 OK", mime_type(&file), b),
            Err(_) => ("404 Not Found", "text/plain", b"not found".to_vec()),
        }
    };
    let header = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(header.as_bytes()).await?;
    if method != "HEAD" {
        stream.write_all(&body).await?;
    }
    stream.shutdown().await
}
