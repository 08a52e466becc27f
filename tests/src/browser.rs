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

/// Opt-ins for [`Browser::start_with`]; the default starts the browser [`Browser::start`] does.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// Extra command-line arguments for the browser, after the harness's own (for Chromium,
    /// e.g. `--log-net-log=FILE`).
    pub args: Vec<String>,
    /// Chromium only: the profile's `Local State` file (browser-wide preferences), written
    /// into the fresh profile before the browser starts, e.g. a DNS-over-HTTPS setting.
    pub chromium_local_state: Option<Json>,
    /// Firefox only: preferences added to the harness's own (`moz:firefoxOptions.prefs`).
    pub firefox_prefs: Vec<(String, Json)>,
    /// Firefox only: environment variables for the browser (`moz:firefoxOptions.env`), e.g.
    /// `MOZ_LOG` and `MOZ_LOG_FILE`.
    pub firefox_env: Vec<(String, String)>,
}

impl Browser {
    /// Starts the driver and a headless browser with a fresh profile and a 1280x800 window.
    pub async fn start(kind: BrowserKind) -> Result<Self> {
        Self::start_with(kind, StartOptions::default()).await
    }

    /// [`Browser::start`] with extra browser arguments.
    pub async fn start_with_args(kind: BrowserKind, args: &[&str]) -> Result<Self> {
        let args = args.iter().map(|a| a.to_string()).collect();
        Self::start_with(
            kind,
            StartOptions {
                args,
                ..StartOptions::default()
            },
        )
        .await
    }

    /// [`Browser::start`] with the opt-ins of `opts`.
    pub async fn start_with(kind: BrowserKind, opts: StartOptions) -> Result<Self> {
        let cargo_bin = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
            .map(|p| p.join("bin"))
            .unwrap_or_default();
        let profile = tempfile::Builder::new()
            .prefix(&format!("ui-{}-", kind.name()))
            .tempdir()?;
        if let (BrowserKind::Chromium, Some(state)) = (kind, &opts.chromium_local_state) {
            let dir = profile.path().join("chromium");
            std::fs::create_dir_all(&dir)?;
            std::fs::write(dir.join("Local State"), state.to_string())?;
        }
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
                // Firefox inherits the driver's environment.
                cmd.envs(opts.firefox_env.iter().map(|(k, v)| (k, v)));
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

        let mut caps = match kind {
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
        let args = match kind {
            BrowserKind::Chromium => &mut caps["goog:chromeOptions"]["args"],
            BrowserKind::Firefox => &mut caps["moz:firefoxOptions"]["args"],
        };
        if let Json::Array(list) = args {
            list.extend(opts.args.iter().map(|a| json!(a)));
        }
        if kind == BrowserKind::Firefox {
            let ff = &mut caps["moz:firefoxOptions"];
            for (k, v) in &opts.firefox_prefs {
                ff["prefs"][k] = v.clone();
            }
            if !opts.firefox_env.is_empty() {
                ff["env"] = Json::Object(
                    opts.firefox_env
                        .iter()
                        .map(|(k, v)| (k.clone(), json!(v)))
                        .collect(),
                );
            }
        }
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

    /// [`Browser::wait_js`] with `r` bound to `<pop3-inbox>`'s shadow root (the way
    /// [`InboxPage::wait`] looks into the inbox).
    pub async fn wait_inbox(&self, what: &str, expr: &str, timeout: Duration) -> Result<Json> {
        self.wait_js(
            what,
            &format!("(() => {{ {INBOX_ROOT} return ({expr}); }})()"),
            timeout,
        )
        .await
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

    /// Everything this page's origin keeps on the device, as text a test can search: every
    /// localStorage and sessionStorage key and value, `document.cookie`, the name of every
    /// IndexedDB database with every record of every object store (binary data as Latin-1
    /// text, so a secret inside bytes is found too), and Cache Storage names with every URL
    /// and response body. `{dbs, local, session, cookie, caches, text}`: `text` is all of it
    /// joined. A test proving that a secret is "never stored" searches `text`, not one key.
    pub async fn storage_dump(&self) -> Result<Json> {
        self.client
            .execute_async(STORAGE_DUMP_JS, vec![])
            .await
            .map_err(Into::into)
    }

    /// Captures downloads instead of performing them: from now on (this page only),
    /// `URL.createObjectURL` remembers each Blob and `HTMLAnchorElement.prototype.click` on an
    /// anchor with a `download` attribute records `{download, href, type, b64}` (the Blob's
    /// bytes, base64) in `window.__downloads` without saving a file. Read them with
    /// [`Browser::downloads`].
    pub async fn capture_downloads(&self) -> Result<()> {
        self.js(CAPTURE_DOWNLOADS_JS, vec![]).await?;
        Ok(())
    }

    /// The downloads captured since [`Browser::capture_downloads`], once their bytes are read.
    pub async fn downloads(&self) -> Result<Vec<Download>> {
        let v = self
            .client
            .execute_async(
                "const done = arguments[0];
                 Promise.all(window.__downloads || []).then(done, (e) => done({ error: String(e) }));",
                vec![],
            )
            .await?;
        let list = v.as_array().cloned().unwrap_or_default();
        Ok(list
            .iter()
            .map(|d| Download {
                name: d["download"].as_str().unwrap_or_default().to_owned(),
                mime_type: d["type"].as_str().unwrap_or_default().to_owned(),
                bytes: d["b64"]
                    .as_str()
                    .and_then(|s| decode_base64(s.as_bytes()))
                    .unwrap_or_default(),
            })
            .collect())
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

/// A download captured in the page (see [`Browser::capture_downloads`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Download {
    /// The anchor's `download` attribute (the file name offered).
    pub name: String,
    /// The Blob's type.
    pub mime_type: String,
    /// The Blob's bytes.
    pub bytes: Vec<u8>,
}

/// Standard base64 (the page's `btoa`), without a dependency for it.
pub fn decode_base64(s: &[u8]) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let s: Vec<u8> = s.iter().copied().filter(|&c| c != b'=').collect();
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    for chunk in s.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= val(c)? << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len().max(1)]);
    }
    Some(out)
}

const STORAGE_DUMP_JS: &str = r#"
const done = arguments[arguments.length - 1];
(async () => {
  const latin1 = (u8) => { let s = ''; for (let i = 0; i < u8.length; i += 0x8000) s += String.fromCharCode.apply(null, u8.subarray(i, i + 0x8000)); return s; };
  const flat = async (v, depth = 0) => {
    if (depth > 12) return '';
    if (v == null) return String(v);
    if (typeof v !== 'object') return String(v);
    if (v instanceof ArrayBuffer) return latin1(new Uint8Array(v));
    if (ArrayBuffer.isView(v)) return latin1(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    if (typeof Blob !== 'undefined' && v instanceof Blob) return latin1(new Uint8Array(await v.arrayBuffer()));
    const parts = [];
    for (const [k, x] of (v instanceof Map ? v.entries() : Object.entries(v))) parts.push(k + '=' + await flat(x, depth + 1));
    if (v instanceof Set) for (const x of v) parts.push(await flat(x, depth + 1));
    return '{' + parts.join(';') + '}';
  };
  const kv = (st) => { const o = {}; for (let i = 0; i < st.length; i++) { const k = st.key(i); o[k] = st.getItem(k); } return o; };
  const local = kv(localStorage), session = kv(sessionStorage);
  const dbs = {};
  const names = indexedDB.databases ? (await indexedDB.databases()).map((d) => d.name) : ['(indexedDB.databases() missing)'];
  for (const name of names) {
    const db = await new Promise((res, rej) => { const r = indexedDB.open(name); r.onsuccess = () => res(r.result); r.onerror = () => rej(r.error); });
    const stores = {};
    for (const s of db.objectStoreNames) {
      const all = await new Promise((res, rej) => { const g = db.transaction(s).objectStore(s).getAll(); g.onsuccess = () => res(g.result); g.onerror = () => rej(g.error); });
      stores[s] = await Promise.all(all.map((x) => flat(x)));
    }
    db.close();
    dbs[name] = stores;
  }
  const caches_ = {};
  if (globalThis.caches) for (const k of await caches.keys()) {
    const c = await caches.open(k);
    caches_[k] = await Promise.all((await c.keys()).map(async (req) => req.url + ' ' + await (await c.match(req)).text()));
  }
  const text = JSON.stringify({ local, session, cookie: document.cookie, dbs, caches: caches_ });
  return { dbs: Object.keys(dbs), records: dbs, local, session, cookie: document.cookie, caches: Object.keys(caches_), text };
})().then(done, (e) => done({ error: String(e && e.stack || e) }));
"#;

const CAPTURE_DOWNLOADS_JS: &str = r#"
if (!window.__downloads) {
  window.__downloads = [];
  const blobs = new Map();
  const create = URL.createObjectURL.bind(URL);
  URL.createObjectURL = (obj) => { const url = create(obj); blobs.set(url, obj); return url; };
  const click = HTMLAnchorElement.prototype.click;
  HTMLAnchorElement.prototype.click = function () {
    if (!this.hasAttribute('download')) return click.call(this);
    const blob = blobs.get(this.href);
    const download = this.getAttribute('download'), href = this.href;
    window.__downloads.push((async () => {
      const u8 = blob ? new Uint8Array(await blob.arrayBuffer()) : new Uint8Array(0);
      let s = ''; for (let i = 0; i < u8.length; i += 0x8000) s += String.fromCharCode.apply(null, u8.subarray(i, i + 0x8000));
      return { download, href, type: blob ? blob.type : null, b64: btoa(s) };
    })());
  };
}
return true;
"#;

impl Drop for Browser {
    fn drop(&mut self) {
        // Killing the driver also ends the browser it started (same process group lifetime
        // for chromedriver; geckodriver kills Firefox when it exits).
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The web UI the browser tests serve: this workspace's `web/`, or the folder named by
/// `E2E_WEB_ROOT`. The override exists to show that a test can fail: copy `web/`, break the
/// code a test guards in the copy (never in the tree others work in), and run the test on it.
pub fn web_root() -> PathBuf {
    match std::env::var_os("E2E_WEB_ROOT") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../web"),
    }
}

impl Browser {
    /// Runs one Chrome DevTools Protocol command in this session's browser (Chromium only)
    /// through chromedriver's `goog/cdp/execute` endpoint, e.g.
    /// `Storage.overrideQuotaForOrigin` to give an origin a real, small storage quota. Returns
    /// the command's result. fantoccini has no call for vendor endpoints, so this is one plain
    /// HTTP request to the driver on loopback.
    pub async fn cdp(&self, method: &str, params: Json) -> Result<Json> {
        let fail = |what: String| BrowserError::Io(std::io::Error::other(what));
        if self.kind != BrowserKind::Chromium {
            return Err(fail(format!("CDP {method}: only Chromium speaks CDP")));
        }
        let session = self
            .client
            .session_id()
            .await?
            .ok_or_else(|| fail("CDP: no WebDriver session".into()))?;
        let port = self.driver_port()?;
        let body = json!({ "cmd": method, "params": params }).to_string();
        let mut s = tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await?;
        let head = format!(
            "POST /session/{session}/goog/cdp/execute HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
             Content-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).await?;
        s.write_all(body.as_bytes()).await?;
        // The driver may keep the connection open: read the head, then exactly the body.
        let raw = tokio::time::timeout(Duration::from_secs(30), read_http_answer(&mut s))
            .await
            .map_err(|_| fail(format!("CDP {method}: no answer within 30 s")))??;
        let text = String::from_utf8_lossy(&raw);
        let (head, body) = text
            .split_once("\r\n\r\n")
            .ok_or_else(|| fail(format!("CDP {method}: no HTTP answer: {text}")))?;
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_owned()
        };
        let v: Json =
            serde_json::from_str(&body).map_err(|e| fail(format!("CDP {method}: {e}: {body}")))?;
        if !head.starts_with("HTTP/1.1 200") || v["value"].get("error").is_some() {
            return Err(fail(format!("CDP {method} failed: {body}")));
        }
        Ok(v["value"].clone())
    }

    /// The loopback port of this session's driver (the `--port=` it was started with).
    fn driver_port(&self) -> Result<u16> {
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", self.driver.id()))?;
        cmdline
            .split(|&b| b == 0)
            .filter_map(|a| std::str::from_utf8(a).ok())
            .find_map(|a| a.strip_prefix("--port=")?.parse().ok())
            .ok_or_else(|| {
                BrowserError::Io(std::io::Error::other("the driver's --port= is unknown"))
            })
    }
}

impl Browser {
    /// Chromium only: the strings of the current page's JavaScript heap that contain `needle`
    /// (each cut to 200 characters). Takes a heap snapshot (which collects garbage first) over
    /// the browser's own DevTools endpoint: snapshot chunks arrive as events, which the driver's
    /// `goog/cdp/execute` does not pass on. Only for tests that prove a secret is gone; the
    /// script text the test itself ran stays in the heap, so `needle` must never be part of it.
    pub async fn heap_strings_containing(&self, needle: &str) -> Result<Vec<String>> {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;
        let fail = |what: String| BrowserError::Io(std::io::Error::other(what));
        if self.kind != BrowserKind::Chromium {
            return Err(fail("heap snapshots: only Chromium speaks CDP".into()));
        }
        // Chromium (started by chromedriver with --remote-debugging-port=0) writes its port
        // into the profile.
        let active =
            std::fs::read_to_string(self._profile.path().join("chromium/DevToolsActivePort"))?;
        let port: u16 = active
            .lines()
            .next()
            .and_then(|l| l.trim().parse().ok())
            .ok_or_else(|| fail(format!("DevToolsActivePort: {active:?}")))?;
        let mut s = tokio::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await?;
        s.write_all(
            format!(
                "GET /json/list HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .await?;
        let raw = tokio::time::timeout(Duration::from_secs(30), read_http_answer(&mut s))
            .await
            .map_err(|_| fail("DevTools /json/list: no answer within 30 s".into()))??;
        let text = String::from_utf8_lossy(&raw);
        let (head, body) = text
            .split_once("\r\n\r\n")
            .ok_or_else(|| fail(format!("DevTools /json/list: {text}")))?;
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_owned()
        };
        let targets: Json = serde_json::from_str(&body)
            .map_err(|e| fail(format!("DevTools /json/list: {e}: {body}")))?;
        let url = self.client.current_url().await?.to_string();
        let ws_url = targets
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["type"] == "page" && t["url"] == url.as_str())
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            .ok_or_else(|| fail(format!("DevTools: no page target for {url}: {targets}")))?
            .to_owned();
        let (mut ws, _) = tokio_tungstenite::connect_async(ws_url.as_str())
            .await
            .map_err(|e| fail(format!("DevTools WebSocket {ws_url}: {e}")))?;
        let cmd = json!({
            "id": 1,
            "method": "HeapProfiler.takeHeapSnapshot",
            "params": { "reportProgress": false },
        });
        ws.send(Message::text(cmd.to_string()))
            .await
            .map_err(|e| fail(format!("DevTools: {e}")))?;
        let mut snapshot = String::new();
        let read = async {
            while let Some(m) = ws.next().await {
                let m = m.map_err(|e| fail(format!("DevTools: {e}")))?;
                let Message::Text(t) = m else { continue };
                let v: Json =
                    serde_json::from_str(&t).map_err(|e| fail(format!("DevTools: {e}")))?;
                if v["method"] == "HeapProfiler.addHeapSnapshotChunk" {
                    snapshot.push_str(v["params"]["chunk"].as_str().unwrap_or_default());
                } else if v["id"] == 1 {
                    return match v.get("error") {
                        Some(e) => Err(fail(format!("HeapProfiler.takeHeapSnapshot: {e}"))),
                        None => Ok(()),
                    };
                }
            }
            Err(fail(
                "DevTools closed the connection during the heap snapshot".into(),
            ))
        };
        tokio::time::timeout(Duration::from_secs(120), read)
            .await
            .map_err(|_| fail("heap snapshot: no answer within 120 s".into()))??;
        let _ = ws.close(None).await;
        let v: Json = serde_json::from_str(&snapshot)
            .map_err(|e| fail(format!("heap snapshot is not JSON: {e}")))?;
        let strings = v["strings"]
            .as_array()
            .ok_or_else(|| fail("heap snapshot without strings".into()))?;
        Ok(strings
            .iter()
            .filter_map(Json::as_str)
            .filter(|t| t.contains(needle))
            .map(|t| t.chars().take(200).collect())
            .collect())
    }
}

/// One HTTP/1.1 answer: up to the end of its body (`Content-Length`, or the last chunk, or
/// the end of the stream).
async fn read_http_answer(s: &mut tokio::net::TcpStream) -> std::io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let length = head.lines().find_map(|l| {
                l.strip_prefix("content-length:")
                    .and_then(|v| v.trim().parse::<usize>().ok())
            });
            let done = match length {
                Some(n) => raw.len() >= end + 4 + n,
                None => raw.ends_with(b"\r\n0\r\n\r\n"),
            };
            if done {
                return Ok(raw);
            }
        }
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Ok(raw);
        }
        raw.extend_from_slice(&chunk[..n]);
    }
}

/// The body of a chunked HTTP/1.1 answer.
pub fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
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

/// The element the UI tests drive, and a script prefix that binds its shadow root to `r`.
pub const INBOX_HOST: &str = "pop3-inbox";
/// See [`INBOX_HOST`].
pub const INBOX_ROOT: &str = "const r = document.querySelector('pop3-inbox').shadowRoot;";

/// A browser showing `<pop3-inbox>`: scripts run with its shadow root as `r`, errors name
/// the browser, screenshots go to `target/screenshots/<prefix>-<browser>-<name>.png`. The UI
/// tests build their own steps on top of it.
pub struct InboxPage {
    /// The browser.
    pub b: Browser,
    /// Which one (for messages and file names).
    pub kind: BrowserKind,
    /// The screenshot file-name prefix (the test's name).
    pub shots: &'static str,
}

impl InboxPage {
    /// Runs `expr` with `r` bound and returns its value.
    pub async fn eval(&self, expr: &str) -> std::result::Result<Json, String> {
        self.b
            .js(&format!("{INBOX_ROOT} return ({expr});"), vec![])
            .await
            .map_err(|e| format!("{}: {e}", self.kind.name()))
    }

    /// Waits up to `secs` for `expr` (with `r` bound) to be truthy; returns its value.
    pub async fn wait(
        &self,
        what: &str,
        expr: &str,
        secs: u64,
    ) -> std::result::Result<Json, String> {
        self.b
            .wait_inbox(what, expr, Duration::from_secs(secs))
            .await
            .map_err(|e| format!("{}: waiting for {what}: {e}", self.kind.name()))
    }

    /// A real (WebDriver) click on `css` inside the inbox's shadow root.
    pub async fn click(&self, css: &str) -> std::result::Result<(), String> {
        self.b
            .click_in_shadow(INBOX_HOST, css)
            .await
            .map_err(|e| format!("{}: click {css}: {e}", self.kind.name()))
    }

    /// Opens "This device…" (the device dialog) with a real click and waits until it is open.
    pub async fn open_device_dialog(&self) -> std::result::Result<(), String> {
        self.click("button.device").await?;
        self.wait(
            "the device dialog",
            "r.querySelector('.device-dialog').open",
            15,
        )
        .await
        .map(|_| ())
    }

    /// Leaves the device dialog with its button `button` (`save`, `cancel`) and waits until it
    /// is closed.
    pub async fn close_device_dialog(&self, button: &str) -> std::result::Result<(), String> {
        self.click(&format!(".device-dialog button.{button}"))
            .await?;
        self.wait(
            "the device dialog to close",
            "!r.querySelector('.device-dialog').open",
            15,
        )
        .await
        .map(|_| ())
    }

    /// Opens `url` and waits for the inbox element's account form.
    pub async fn open_form(&self, url: &str) -> std::result::Result<(), String> {
        self.b.goto(url).await.map_err(|e| e.to_string())?;
        self.wait(
            "the account form",
            "customElements.get('pop3-inbox') && r && !r.querySelector('.login').hidden",
            30,
        )
        .await
        .map(|_| ())
    }

    /// Signs in through the account form on the real bridge: server `localhost`, `port`, `user`
    /// with the test Dovecot's password convention `pw-<user>` (typed with real keys), and
    /// "remember" as asked; resolves once the inbox shows, or fails with the form's error.
    pub async fn sign_in(
        &self,
        port: u16,
        user: &str,
        remember: bool,
    ) -> std::result::Result<(), String> {
        let js = format!(
            "{INBOX_ROOT} r.querySelector('input[name=server]').value = 'localhost';
             r.querySelector('input[name=port]').value = '{port}';
             r.querySelector('input[name=user]').value = {user};
             r.querySelector('input[name=remember]').checked = {remember};
             return true;",
            user = json!(user)
        );
        self.b.js(&js, vec![]).await.map_err(|e| e.to_string())?;
        self.b
            .type_in_shadow(INBOX_HOST, "input[name=password]", &format!("pw-{user}"))
            .await
            .map_err(|e| e.to_string())?;
        self.click("button.connect").await?;
        let v = self
            .wait(
                "the inbox (or an error)",
                "!r.querySelector('.inbox').hidden || (r.querySelector('.error') && r.querySelector('.error').textContent)",
                30,
            )
            .await?;
        if v == Json::Bool(true) {
            Ok(())
        } else {
            Err(format!("{}: login failed: {v}", self.kind.name()))
        }
    }

    /// Saves a screenshot under `target/screenshots/`.
    pub async fn shot(&self, name: &str) -> std::result::Result<(), String> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../target/screenshots")
            .join(format!("{}-{}-{name}.png", self.shots, self.kind.name()));
        self.b.screenshot(&path).await.map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_decodes_like_btoa_encodes() {
        assert_eq!(super::decode_base64(b"").unwrap(), b"");
        assert_eq!(super::decode_base64(b"Zg==").unwrap(), b"f");
        assert_eq!(super::decode_base64(b"Zm8=").unwrap(), b"fo");
        assert_eq!(super::decode_base64(b"Zm9v").unwrap(), b"foo");
        assert_eq!(super::decode_base64(b"AP8A/w==").unwrap(), [0, 255, 0, 255]);
        assert!(super::decode_base64(b"Z!==").is_none());
    }
}
