//! Reverse proxies, Prometheus and the pieces their tests share: the documented configuration
//! files under `docs/` rendered for a test (the production values swapped for temp paths and
//! free loopback ports), the real nginx, HAProxy and Prometheus started as child processes in a
//! temp dir (killed on drop), a TLS client that trusts a test CA and can pick its loopback
//! source address (so the proxy sees several clients), WebSocket sessions and plain HTTP through
//! it, and a few readers (the bridge's `/metrics`, HAProxy's stats socket).
//!
//! The bridge itself is not started here (the `pop3-bridge` crate is a dev-dependency of the
//! tests only): [`Instance`] runs whatever serving future a test hands it.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::TestCa;

/// The repository's `docs/` folder.
pub fn docs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs")
}

/// The repository's `web/` folder (the UI the bridge serves).
pub fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../web")
}

/// A file under `docs/`, as text.
pub fn read_doc(name: &str) -> String {
    let p = docs_dir().join(name);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Fails unless the page `md` (under `docs/`) shows the file `file` (under `docs/`) verbatim,
/// so what an operator copies from the page is what the test ran.
pub fn assert_page_shows_file(md: &str, file: &str) {
    let page = read_doc(md);
    let text = read_doc(file);
    assert!(
        page.contains(text.trim_end()),
        "docs/{md} must show docs/{file} verbatim (copy the file into the page)"
    );
}

/// The text of the first fenced code block of `lang` (```` ```toml ````) in `page`.
pub fn fenced_block(page: &str, lang: &str) -> String {
    let open = format!("```{lang}\n");
    let start = page
        .find(&open)
        .unwrap_or_else(|| panic!("no ```{lang} block"))
        + open.len();
    let len = page[start..].find("```").expect("the block ends");
    page[start..start + len].to_string()
}

/// `template` with every `(production value, test value)` pair replaced. Each production value
/// must occur in the template: a recipe that no longer says what the test replaces fails loudly
/// instead of running with the production value.
pub fn render(template: &str, subs: &[(&str, String)]) -> String {
    let mut out = template.to_string();
    for (from, to) in subs {
        assert!(
            out.contains(from),
            "the template no longer contains {from:?}; update the test's substitutions"
        );
        out = out.replace(from, to);
    }
    out
}

/// A free loopback port (bound, read, released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Waits until something accepts connections on `addr`.
pub async fn wait_listening(addr: SocketAddr, what: &str) {
    for _ in 0..400 {
        if TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{what}: nothing listening on {addr}");
}

/// A child process killed (and reaped) on drop; its stdout and stderr go to a log file.
#[derive(Debug)]
pub struct Proc {
    child: Child,
    name: &'static str,
    log: PathBuf,
}

impl Proc {
    /// Starts `cmd` with its output in `log`.
    pub fn spawn(name: &'static str, mut cmd: Command, log: &Path) -> Proc {
        let out = std::fs::File::create(log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        Proc {
            child,
            name,
            log: log.to_path_buf(),
        }
    }

    /// Its process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// What the process wrote so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Fails (with its log) if the process has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(st)) = self.child.try_wait() {
            panic!("{} exited ({st}):\n{}", self.name, self.log());
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A program by absolute Debian path, else by name on `PATH`.
fn program(debian_path: &str) -> PathBuf {
    let p = PathBuf::from(debian_path);
    if p.exists() {
        return p;
    }
    PathBuf::from(p.file_name().expect("a file name"))
}

/// Runs `program args` to completion; panics with its output unless it succeeds.
pub fn check_run(debian_path: &str, args: &[&str]) -> String {
    let out = Command::new(program(debian_path))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {debian_path}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{debian_path} {args:?} failed ({}):\n{text}",
        out.status
    );
    text
}

/// nginx (not the system service) on `site`, the text of a `conf.d` file: a main configuration
/// in `dir` with its pid file, logs and temp paths there, one worker, in the foreground, that
/// includes the site. The configuration is checked with `nginx -t` first.
pub async fn start_nginx(dir: &Path, site: &str, listen: SocketAddr) -> Proc {
    let site_path = dir.join("site.conf");
    std::fs::write(&site_path, site).expect("site config");
    let d = dir.display();
    let main = format!(
        "daemon off;\n\
         worker_processes 1;\n\
         pid {d}/nginx.pid;\n\
         error_log {d}/error.log info;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n\
         \x20   access_log {d}/access.log;\n\
         \x20   client_body_temp_path {d}/client_body;\n\
         \x20   proxy_temp_path {d}/proxy;\n\
         \x20   fastcgi_temp_path {d}/fastcgi;\n\
         \x20   uwsgi_temp_path {d}/uwsgi;\n\
         \x20   scgi_temp_path {d}/scgi;\n\
         \x20   include {};\n\
         }}\n",
        site_path.display()
    );
    let conf = dir.join("nginx.conf");
    std::fs::write(&conf, main).expect("nginx.conf");
    let conf_s = conf.to_str().expect("utf-8 path").to_string();
    let prefix = format!("{d}/");
    check_run(
        "/usr/sbin/nginx",
        &[
            "-t",
            "-p",
            &prefix,
            "-e",
            &format!("{d}/error.log"),
            "-c",
            &conf_s,
        ],
    );
    let mut cmd = Command::new(program("/usr/sbin/nginx"));
    cmd.args([
        "-p",
        &prefix,
        "-e",
        &format!("{d}/error.log"),
        "-c",
        &conf_s,
    ]);
    let mut p = Proc::spawn("nginx", cmd, &dir.join("nginx.out"));
    wait_listening(listen, "nginx").await;
    p.assert_running();
    p
}

/// HAProxy (not the system service) on the configuration `cfg`, in the foreground; checked
/// with `haproxy -c` first.
pub async fn start_haproxy(dir: &Path, cfg: &str, listen: SocketAddr) -> Proc {
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, cfg).expect("haproxy.cfg");
    let p = path.to_str().expect("utf-8 path").to_string();
    check_run("/usr/sbin/haproxy", &["-c", "-f", &p]);
    let mut cmd = Command::new(program("/usr/sbin/haproxy"));
    cmd.args(["-db", "-f", &p]);
    let mut proc = Proc::spawn("haproxy", cmd, &dir.join("haproxy.out"));
    wait_listening(listen, "haproxy").await;
    proc.assert_running();
    proc
}

/// Prometheus (not the system service) on `config` with its data in `dir`, its web UI and
/// API on `listen` (loopback).
pub async fn start_prometheus(dir: &Path, config: &str, listen: SocketAddr) -> Proc {
    let path = dir.join("prometheus.yml");
    std::fs::write(&path, config).expect("prometheus.yml");
    let data = dir.join("data");
    let mut cmd = Command::new(program("/usr/bin/prometheus"));
    cmd.arg(format!("--config.file={}", path.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address={listen}"))
        .arg("--log.level=info");
    let mut p = Proc::spawn("prometheus", cmd, &dir.join("prometheus.out"));
    wait_listening(listen, "prometheus").await;
    // It answers 503 until its storage and rules are loaded.
    for _ in 0..600 {
        if http_get(listen, "/-/ready").await.status == 200 {
            break;
        }
        p.assert_running();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    p.assert_running();
    p
}

/// A bridge instance (or any server) run as a task until [`Instance::stop`] or drop.
#[derive(Debug)]
pub struct Instance {
    /// Its main listener.
    pub addr: SocketAddr,
    /// Its metrics listener.
    pub metrics: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Instance {
    /// Runs `serve(stop)`, where `stop` completes when the instance is stopped.
    pub fn spawn<F, Fut>(addr: SocketAddr, metrics: SocketAddr, serve: F) -> Instance
    where
        F: FnOnce(std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<()>();
        let stop = Box::pin(async move {
            let _ = rx.await;
        });
        let task = tokio::spawn(serve(stop));
        Instance {
            addr,
            metrics,
            stop: Some(tx),
            task: Some(task),
        }
    }

    /// Tells it to stop and returns once its listener refuses connections (its sessions may
    /// still be closing; [`Instance::stop`] waits for them).
    pub async fn begin_stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        for _ in 0..400 {
            if TcpStream::connect(self.addr).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("{} still accepts connections", self.addr);
    }

    /// Stops it (its listener closes at once) and waits until it has finished.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(30), t).await;
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

/// A TLS client that trusts only `ca`, offering HTTP/1.1.
pub fn tls_connector(ca: &TestCa) -> TlsConnector {
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_root_certificates(ca.root_store())
    .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    TlsConnector::from(Arc::new(cfg))
}

/// Where a test client goes: the proxy's address, the name it asks for (SNI, certificate check,
/// `Host`), and the loopback address the client connects from (the proxy sees it as the client).
#[derive(Clone)]
pub struct Via {
    /// The proxy's listener.
    pub proxy: SocketAddr,
    /// The public name (the certificate is for it; no DNS: the client connects to `proxy`).
    pub name: String,
    /// The client's own source address (any 127.0.0.0/8 address).
    pub from: IpAddr,
    /// Trusts the proxy's certificate.
    pub tls: TlsConnector,
}

impl std::fmt::Debug for Via {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Via")
            .field("proxy", &self.proxy)
            .field("name", &self.name)
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl Via {
    /// The same, from another source address.
    pub fn from(&self, ip: &str) -> Via {
        Via {
            from: ip.parse().expect("an address"),
            ..self.clone()
        }
    }

    /// `Host` (and the origin's authority): the name with the proxy's port.
    pub fn host(&self) -> String {
        format!("{}:{}", self.name, self.proxy.port())
    }

    /// The page's origin.
    pub fn origin(&self) -> String {
        format!("https://{}", self.host())
    }

    /// A TLS connection to the proxy from `self.from`, the certificate checked for `self.name`.
    pub async fn connect(&self) -> io::Result<TlsStream<TcpStream>> {
        let sock = TcpSocket::new_v4()?;
        sock.bind(SocketAddr::new(self.from, 0))?;
        let tcp = sock.connect(self.proxy).await?;
        tcp.set_nodelay(true)?;
        let name =
            rustls::pki_types::ServerName::try_from(self.name.clone()).map_err(io::Error::other)?;
        self.tls.connect(name, tcp).await
    }
}

/// An HTTP answer: status, head (lower-cased names) and body.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The header lines, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body (the connection is read to its end).
    pub body: Vec<u8>,
}

impl Answer {
    /// The first header called `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn parse_answer(raw: &[u8]) -> Answer {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP head in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect::<Vec<_>>();
    let mut body = raw[end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    if chunked {
        body = unchunk(&body);
    }
    Answer {
        status,
        headers,
        body,
    }
}

fn unchunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = b.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&b[..i]);
        let size_hex = size_text.split(';').next().unwrap_or("").trim();
        let Ok(size) = usize::from_str_radix(size_hex, 16) else {
            break;
        };
        if size == 0 || b.len() < i + 2 + size {
            break;
        }
        out.extend_from_slice(&b[i + 2..i + 2 + size]);
        b = &b[(i + 4 + size).min(b.len())..];
    }
    out
}

async fn request<S>(mut s: S, host: &str, path: &str, extra: &[(&str, &str)]) -> Answer
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (n, v) in extra {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.expect("request written");
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut raw)).await;
    parse_answer(&raw)
}

/// `GET path` through the proxy over TLS.
pub async fn https_get(via: &Via, path: &str) -> Answer {
    let s = via.connect().await.expect("TLS connection to the proxy");
    request(s, &via.host(), path, &[]).await
}

/// `GET path` on a plain HTTP listener.
pub async fn http_get(addr: SocketAddr, path: &str) -> Answer {
    let s = TcpStream::connect(addr).await.expect("connect");
    request(s, &addr.to_string(), path, &[]).await
}

/// The value of the sample `series` (name with labels, as exposed) on a bridge's metrics
/// listener.
pub async fn metric(metrics: SocketAddr, series: &str) -> f64 {
    let a = http_get(metrics, "/metrics").await;
    assert_eq!(a.status, 200, "{}", a.text());
    let text = a.text();
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.strip_prefix(' '))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or_else(|| panic!("no {series} in /metrics:\n{text}"))
}

/// A WebSocket session through the proxy.
pub type Ws = WebSocketStream<TlsStream<TcpStream>>;

/// Why a WebSocket upgrade through the proxy did not give a session.
#[derive(Debug)]
pub enum Refused {
    /// An HTTP answer other than 101.
    Status(u16),
    /// Anything else.
    Other(String),
}

/// Opens `wss://name/pop3` through the proxy with the page's own `Origin` and the bridge's
/// subprotocol, plus `extra` headers (e.g. a forged `X-Forwarded-For`).
pub async fn ws_open(via: &Via, extra: &[(&str, &str)]) -> Result<Ws, Refused> {
    let mut r = format!("wss://{}/pop3", via.host())
        .into_client_request()
        .map_err(|e| Refused::Other(e.to_string()))?;
    let h = r.headers_mut();
    h.insert("origin", via.origin().parse().expect("header value"));
    h.insert(
        "sec-websocket-protocol",
        "pop3-bridge.v1".parse().expect("header value"),
    );
    for (n, v) in extra {
        h.append(
            tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(n.as_bytes())
                .expect("header name"),
            v.parse().expect("header value"),
        );
    }
    let tls = via
        .connect()
        .await
        .map_err(|e| Refused::Other(e.to_string()))?;
    match tokio_tungstenite::client_async(r, tls).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            Err(Refused::Status(resp.status().as_u16()))
        }
        Err(e) => Err(Refused::Other(e.to_string())),
    }
}

/// Sends the connect request `req` (JSON) and returns the bridge's answer.
pub async fn ws_connect(ws: &mut Ws, req: &serde_json::Value) -> serde_json::Value {
    ws.send(Message::text(req.to_string()))
        .await
        .expect("connect request sent");
    loop {
        match tokio::time::timeout(Duration::from_secs(20), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                return serde_json::from_str(t.as_str()).expect("JSON answer");
            }
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            other => panic!("no answer to the connect request: {other:?}"),
        }
    }
}

/// Reads relayed bytes until `buf` ends with `end`.
pub async fn read_until(ws: &mut Ws, buf: &mut Vec<u8>, end: &[u8]) {
    while !buf.ends_with(end) {
        match tokio::time::timeout(Duration::from_secs(20), ws.next()).await {
            Ok(Some(Ok(Message::Binary(b)))) => buf.extend_from_slice(&b),
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            other => panic!(
                "stream ended: {other:?}; so far {:?}",
                String::from_utf8_lossy(buf)
            ),
        }
    }
}

/// One status line.
pub async fn line(ws: &mut Ws) -> String {
    let mut b = Vec::new();
    read_until(ws, &mut b, b"\r\n").await;
    String::from_utf8_lossy(&b).into_owned()
}

/// Sends a command, returns its status line.
pub async fn cmd(ws: &mut Ws, c: &str) -> String {
    ws.send(Message::binary(format!("{c}\r\n").into_bytes()))
        .await
        .expect("command sent");
    line(ws).await
}

/// Sends a command whose answer is multi-line; returns it whole (status line to `.`).
pub async fn cmd_multi(ws: &mut Ws, c: &str) -> Vec<u8> {
    ws.send(Message::binary(format!("{c}\r\n").into_bytes()))
        .await
        .expect("command sent");
    let mut b = Vec::new();
    read_until(ws, &mut b, b"\r\n.\r\n").await;
    b
}

/// The body of a multi-line answer, dot-unstuffed (status line and final `.` removed).
pub fn unstuffed_body(answer: &[u8]) -> Vec<u8> {
    let start = answer
        .windows(2)
        .position(|w| w == b"\r\n")
        .expect("status line")
        + 2;
    let raw = &answer[start..answer.len() - 3];
    let mut out = Vec::new();
    for l in raw.split_inclusive(|b| *b == b'\n') {
        out.extend_from_slice(l.strip_prefix(b".").unwrap_or(l));
    }
    out
}

/// A whole POP3 dialogue through a proxy: login, STAT (`count` messages), RETR 1 compared with
/// what Dovecot stores, QUIT, and the bridge's normal close.
pub async fn dialogue(ws: &mut Ws, d: &crate::Dovecot, user: &str, pass: &str, count: usize) {
    assert!(cmd(ws, &format!("USER {user}")).await.starts_with("+OK"));
    assert!(cmd(ws, &format!("PASS {pass}")).await.starts_with("+OK"));
    let stat = cmd(ws, "STAT").await;
    assert!(stat.starts_with(&format!("+OK {count} ")), "{stat}");
    let retr = cmd_multi(ws, "RETR 1").await;
    assert!(retr.starts_with(b"+OK"));
    assert_eq!(unstuffed_body(&retr), d.expected_bytes(user, 0));
    assert!(cmd(ws, "QUIT").await.starts_with("+OK"));
    assert_eq!(close_code(ws).await, Some(1000));
}

/// Waits for the server's close after QUIT and returns its close code.
pub async fn close_code(ws: &mut Ws) -> Option<u16> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Close(c)))) => return c.map(|c| u16::from(c.code)),
            Ok(Some(Ok(_))) => {}
            _ => return None,
        }
    }
}

/// The close code of a session that the server closes within `limit` (None: not closed, or
/// closed without a code).
pub async fn close_within(mut ws: Ws, limit: Duration) -> Option<u16> {
    let wait = async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Close(c))) => return c.map(|c| u16::from(c.code)),
                Some(Ok(_)) => {}
                _ => return None,
            }
        }
    };
    tokio::time::timeout(limit, wait).await.ok().flatten()
}

/// HAProxy's view of its servers (`show stat` on the admin socket): (backend, server, status).
pub async fn haproxy_servers(socket: &Path) -> Vec<(String, String, String)> {
    // HAProxy may serve its frontends a moment before its stats socket exists (seen under
    // load): wait for the socket, up to a generous bound.
    let mut tries = 0;
    let mut s = loop {
        match tokio::net::UnixStream::connect(socket).await {
            Ok(s) => break s,
            Err(e) if tries < 300 => {
                let _ = e;
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("HAProxy stats socket {}: {e}", socket.display()),
        }
    };
    s.write_all(b"show stat\n").await.expect("command sent");
    let mut out = String::new();
    s.read_to_string(&mut out).await.expect("stats read");
    let mut lines = out.lines();
    let head: Vec<&str> = lines
        .next()
        .unwrap_or("")
        .trim_start_matches("# ")
        .split(',')
        .collect();
    let col = |n: &str| head.iter().position(|h| *h == n).expect("a stats column");
    let (px, sv, st) = (col("pxname"), col("svname"), col("status"));
    lines
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[px].to_string(), f[sv].to_string(), f[st].to_string())
        })
        .collect()
}

/// `GET` on Prometheus's HTTP API (`/api/v1/...?query`), as JSON.
pub async fn prometheus_api(addr: SocketAddr, path_and_query: &str) -> serde_json::Value {
    let a = http_get(addr, path_and_query).await;
    serde_json::from_slice(&a.body).unwrap_or_else(|e| {
        panic!(
            "Prometheus {path_and_query}: {e}: {} {}",
            a.status,
            a.text()
        )
    })
}

/// Percent-encodes a query parameter value.
pub fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The production path of the token secret in the documented bridge configuration.
pub const DOC_TOKEN_SECRET_PATH: &str = "/etc/pop3-bridge/token-secret";

/// The bridge configuration a page under `docs/` shows (its first ```` ```toml ```` block),
/// written to `dir/bridge.toml` with the token secret file swapped for `dir/token-secret`
/// (mode 0600, holding `secret`). Returns the configuration's path.
pub fn write_bridge_config(dir: &Path, page: &str, secret: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let toml = fenced_block(&read_doc(page), "toml");
    let secret_path = dir.join("token-secret");
    std::fs::write(&secret_path, format!("{secret}\n")).expect("secret file");
    std::fs::set_permissions(&secret_path, std::fs::Permissions::from_mode(0o600))
        .expect("chmod secret");
    let text = render(
        &toml,
        &[(DOC_TOKEN_SECRET_PATH, secret_path.display().to_string())],
    );
    let path = dir.join("bridge.toml");
    std::fs::write(&path, text).expect("bridge.toml");
    path
}

/// Starts a bridge the way an operator starts an instance from the recipe:
/// `pop3-bridge --config FILE --listen ADDR --metrics-listen ADDR`, parsed by the binary's own
/// command line and loader (run in-process on listeners bound here; port 0 picks one), then
/// `tweak` adds what only a test needs (reaching the local Dovecot, serving `web/`, lower caps).
pub async fn start_bridge(
    config: &Path,
    listen: SocketAddr,
    metrics: SocketAddr,
    tweak: impl FnOnce(&mut pop3_bridge::Config),
) -> Instance {
    use clap::Parser;
    let l = tokio::net::TcpListener::bind(listen)
        .await
        .unwrap_or_else(|e| panic!("bind {listen}: {e}"));
    let ml = tokio::net::TcpListener::bind(metrics)
        .await
        .unwrap_or_else(|e| panic!("bind {metrics}: {e}"));
    let (addr, maddr) = (
        l.local_addr().expect("addr"),
        ml.local_addr().expect("addr"),
    );
    let cli = pop3_bridge::Cli::try_parse_from([
        "pop3-bridge".to_string(),
        "--config".into(),
        config.display().to_string(),
        "--listen".into(),
        addr.to_string(),
        "--metrics-listen".into(),
        maddr.to_string(),
    ])
    .expect("the documented command line parses");
    let (mut c, _log) = cli
        .opts
        .into_config()
        .expect("the documented configuration loads");
    tweak(&mut c);
    Instance::spawn(addr, maddr, move |stop| async move {
        pop3_bridge::Bridge::new(c)
            .with_metrics_listener(ml)
            .run(l, stop)
            .await
            .expect("bridge runs");
    })
}

/// An HMAC token for `host:port` from `secret`, valid for an hour (what `pop3-bridge
/// mint-token` prints).
pub fn mint_token(secret: &str, host: &str, port: u16) -> String {
    pop3_bridge::TokenAuth::new(pop3_bridge::TokenMode::Hmac, secret.as_bytes()).mint(
        &pop3_bridge::TokenClaims {
            host: host.to_string(),
            port,
            exp: pop3_bridge::now_unix() + 3600,
            nbf: None,
        },
    )
}
