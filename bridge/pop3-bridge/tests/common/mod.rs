//! Shared helpers for the bridge's integration tests: a bridge on 127.0.0.1:0, real
//! tokio-tungstenite clients, fake POP3 upstreams, a connector that records the checked
//! address and dials a local fake instead, and a throw-away certificate authority.
#![allow(dead_code)]

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use pop3_bridge::{BoxFuture, Bridge, BridgeError, Config, Connector, Reloader, Resolver};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

pub type Ws = WebSocketStream<TcpStream>;

/// A loopback-only config with short timeouts suitable for tests.
pub fn test_config() -> Config {
    let mut c = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    };
    c.limits.handshake_timeout = Duration::from_secs(2);
    c.limits.connect_timeout = Duration::from_secs(2);
    c.limits.tls_timeout = Duration::from_secs(2);
    c.limits.stls_timeout = Duration::from_secs(2);
    c.limits.shutdown_grace = Duration::from_secs(2);
    c
}

/// A loopback listener with a deep accept queue: load tests open 1000 connections at once,
/// and an overflowing queue silently delays connections by seconds (SYN-ACK retries).
pub fn listen_local() -> TcpListener {
    let s = tokio::net::TcpSocket::new_v4().unwrap();
    s.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    s.listen(4096).unwrap()
}

pub struct TestBridge {
    pub addr: SocketAddr,
    /// The bridge's separate metrics listener (the main one answers 404 for /metrics).
    pub metrics_addr: SocketAddr,
    /// Reloads the running bridge's configuration (what the binary does on SIGHUP).
    pub reloader: Reloader,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<Result<(), BridgeError>>>,
}

impl TestBridge {
    pub async fn start(config: Config) -> TestBridge {
        Self::start_with(config, None, None).await
    }

    pub async fn start_with(
        config: Config,
        resolver: Option<Arc<dyn Resolver>>,
        connector: Option<Arc<dyn Connector>>,
    ) -> TestBridge {
        Self::start_on(listen_local(), config, resolver, connector).await
    }

    /// A bridge on `listener` (bound by the test, e.g. to a wildcard address: `addr` is then
    /// loopback, with its port).
    pub async fn start_on(
        listener: TcpListener,
        config: Config,
        resolver: Option<Arc<dyn Resolver>>,
        connector: Option<Arc<dyn Connector>>,
    ) -> TestBridge {
        let mut addr = listener.local_addr().unwrap();
        if addr.ip().is_unspecified() {
            addr.set_ip(if addr.is_ipv4() {
                IpAddr::from([127, 0, 0, 1])
            } else {
                IpAddr::from(std::net::Ipv6Addr::LOCALHOST)
            });
        }
        let metrics = listen_local();
        let metrics_addr = metrics.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let mut b = Bridge::new(config).with_metrics_listener(metrics);
        if let Some(r) = resolver {
            b = b.with_resolver(r);
        }
        if let Some(c) = connector {
            b = b.with_connector(c);
        }
        let reloader = b.reloader();
        let handle = tokio::spawn(b.run(listener, async {
            let _ = rx.await;
        }));
        TestBridge {
            addr,
            metrics_addr,
            reloader,
            stop: Some(tx),
            handle: Some(handle),
        }
    }

    pub fn url(&self) -> String {
        format!("ws://{}/pop3", self.addr)
    }

    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Trigger shutdown and wait for `run` to return.
    pub async fn stop(mut self) -> Result<(), BridgeError> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.handle.take().unwrap().await.unwrap()
    }

    /// A raw HTTP/1.1 GET; returns (status, body).
    pub async fn get(&self, path: &str) -> (u16, String) {
        http_get(self.addr, path, &format!("{}", self.addr)).await
    }

    /// `/metrics` from the metrics listener: (status, body).
    pub async fn get_metrics(&self) -> (u16, String) {
        http_get(
            self.metrics_addr,
            "/metrics",
            &self.metrics_addr.to_string(),
        )
        .await
    }

    pub async fn metric(&self, line_prefix: &str) -> f64 {
        let (_, body) = self.get_metrics().await;
        body.lines()
            .find(|l| l.starts_with(line_prefix) && l[line_prefix.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("metric {line_prefix} missing"))
    }
}

pub async fn http_get(addr: SocketAddr, path: &str, host: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|x| x.1)
        .unwrap_or("")
        .to_string();
    (status, body)
}

/// Open a WebSocket with explicit headers. `None` for a header means "leave it out".
pub async fn ws_connect_raw(
    addr: SocketAddr,
    path_and_query: &str,
    headers: &[(&str, Option<&str>)],
) -> Result<Ws, WsError> {
    let mut req = format!("ws://{addr}{path_and_query}").into_client_request()?;
    let h = req.headers_mut();
    for (k, v) in headers {
        match v {
            Some(v) => {
                h.insert(http_name(k), v.parse().expect("header value"));
            }
            None => {
                h.remove(*k);
            }
        }
    }
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let (ws, _) = tokio_tungstenite::client_async_with_config(req, tcp, None).await?;
    Ok(ws)
}

fn http_name(k: &str) -> tokio_tungstenite::tungstenite::http::HeaderName {
    tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes())
        .unwrap()
}

/// A well-behaved browser: own origin, our subprotocol.
pub async fn ws_connect(b: &TestBridge) -> Result<Ws, WsError> {
    ws_connect_q(b, "").await
}

pub async fn ws_connect_q(b: &TestBridge, query: &str) -> Result<Ws, WsError> {
    let origin = b.origin();
    ws_connect_raw(
        b.addr,
        &format!("/pop3{query}"),
        &[
            ("Origin", Some(&origin)),
            ("Sec-WebSocket-Protocol", Some("pop3-bridge.v1")),
        ],
    )
    .await
}

/// The HTTP status of a refused upgrade.
pub fn refused_status(e: &WsError) -> u16 {
    match e {
        WsError::Http(resp) => resp.status().as_u16(),
        other => panic!("expected an HTTP refusal, got {other:?}"),
    }
}

/// Send the connect request and read the answer.
pub async fn request(ws: &mut Ws, req: Value) -> Value {
    ws.send(Message::text(req.to_string())).await.unwrap();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return serde_json::from_str(t.as_str()).unwrap(),
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            other => panic!("expected a JSON answer, got {other:?}"),
        }
    }
}

/// Open a session; returns the socket and the bridge's answer.
pub async fn session(b: &TestBridge, req: Value) -> (Ws, Value) {
    let mut ws = ws_connect(b).await.expect("upgrade");
    let ans = request(&mut ws, req).await;
    (ws, ans)
}

/// Assert a refusal answer with `code` followed by a close frame with `close_code`.
pub async fn expect_error(ws: &mut Ws, ans: &Value, code: &str, close_code: u16) {
    assert_eq!(ans["ok"], false, "{ans}");
    assert_eq!(ans["error"]["code"], code, "{ans}");
    assert!(
        ans["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    let (_, close) = read_until_close(ws).await;
    let close = close.expect("close frame");
    assert_eq!(u16::from(close.code), close_code, "{close:?}");
}

/// Read binary frames until the close frame (or end). Returns the bytes and the close frame.
pub async fn read_until_close(ws: &mut Ws) -> (Vec<u8>, Option<CloseFrame>) {
    let mut data = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(20), ws.next()).await {
            Ok(Some(Ok(Message::Binary(b)))) => data.extend_from_slice(&b),
            Ok(Some(Ok(Message::Close(c)))) => return (data, c),
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(_))) | Ok(None) => return (data, None),
            Err(_) => panic!("no close within 20 s ({} bytes so far)", data.len()),
        }
    }
}

/// Read binary data until `n` bytes have arrived.
pub async fn read_n(ws: &mut Ws, n: usize) -> Vec<u8> {
    let mut data = Vec::new();
    while data.len() < n {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Binary(b)))) => data.extend_from_slice(&b),
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            other => panic!("expected data, got {other:?} after {} bytes", data.len()),
        }
    }
    data
}

/// A fake upstream server. Each accepted connection is handed to `handler`.
pub struct FakeServer {
    pub addr: SocketAddr,
    pub accepted: Arc<AtomicUsize>,
}

pub async fn fake_server<F, Fut>(handler: F) -> FakeServer
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let l = listen_local();
    let addr = l.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let acc = accepted.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            acc.fetch_add(1, Ordering::SeqCst);
            let _ = s.set_nodelay(true);
            tokio::spawn(handler(s));
        }
    });
    FakeServer { addr, accepted }
}

/// Greets, then echoes every byte back (a stand-in for a POP3 server in relay tests).
pub async fn echo_server() -> FakeServer {
    fake_server(|mut s| async move {
        let _ = s.write_all(b"+OK fake POP3 ready\r\n").await;
        let (mut r, mut w) = s.split();
        let _ = tokio::io::copy(&mut r, &mut w).await;
    })
    .await
}

/// Records the address the bridge asked for and dials `to` instead. The recorded address is
/// never dialled, so tests can use public addresses without sending traffic off loopback.
pub struct RedirectConnector {
    pub to: Mutex<SocketAddr>,
    pub seen: Mutex<Vec<SocketAddr>>,
}

impl RedirectConnector {
    pub fn new(to: SocketAddr) -> Arc<Self> {
        Arc::new(RedirectConnector {
            to: Mutex::new(to),
            seen: Mutex::new(Vec::new()),
        })
    }
    pub fn seen(&self) -> Vec<SocketAddr> {
        self.seen.lock().unwrap().clone()
    }
}

impl Connector for RedirectConnector {
    fn connect(&self, addr: SocketAddr) -> BoxFuture<'_, io::Result<TcpStream>> {
        self.seen.lock().unwrap().push(addr);
        let to = *self.to.lock().unwrap();
        Box::pin(async move {
            let s = TcpStream::connect(to).await?;
            s.set_nodelay(true)?;
            Ok(s)
        })
    }
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A public-looking address for fake DNS answers (never dialled: see RedirectConnector).
pub const PUBLIC: &str = "93.184.216.34";

// ---------- test PKI ----------

pub mod pki {
    use std::sync::Arc;

    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
        KeyUsagePurpose, date_time_ymd,
    };
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

    pub struct Ca {
        pub key: KeyPair,
        pub params: CertificateParams,
        pub pem: String,
    }

    pub struct Leaf {
        pub der: CertificateDer<'static>,
        pub key: PrivatePkcs8KeyDer<'static>,
        pub cert_pem: String,
        pub key_pem: String,
    }

    impl Ca {
        pub fn new(name: &str) -> Ca {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::default();
            let mut dn = DistinguishedName::new();
            dn.push(DnType::CommonName, name);
            params.distinguished_name = dn;
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.key_usages = vec![
                KeyUsagePurpose::KeyCertSign,
                KeyUsagePurpose::DigitalSignature,
            ];
            params.not_before = date_time_ymd(2020, 1, 1);
            params.not_after = date_time_ymd(2099, 1, 1);
            let pem = params.self_signed(&key).unwrap().pem();
            Ca { key, params, pem }
        }

        /// A leaf for `names`; `expired` makes it valid only in 2000.
        pub fn leaf(&self, names: &[&str], expired: bool) -> Leaf {
            let mut p =
                CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                    .unwrap();
            let mut dn = DistinguishedName::new();
            dn.push(DnType::CommonName, names[0]);
            p.distinguished_name = dn;
            if expired {
                p.not_before = date_time_ymd(2000, 1, 1);
                p.not_after = date_time_ymd(2001, 1, 1);
            } else {
                p.not_before = date_time_ymd(2020, 1, 1);
                p.not_after = date_time_ymd(2090, 1, 1);
            }
            let key = KeyPair::generate().unwrap();
            let issuer = Issuer::new(self.params.clone(), &self.key);
            let cert = p.signed_by(&key, &issuer).unwrap();
            Leaf {
                der: cert.der().clone(),
                key: PrivatePkcs8KeyDer::from(key.serialize_der()),
                cert_pem: cert.pem(),
                key_pem: key.serialize_pem(),
            }
        }

        /// Write the CA certificate to a temp file of its own and return its path. Every call
        /// gets a new file: tests run in parallel, and two of them writing one path let a
        /// bridge read the other's half-written certificate.
        pub fn write_pem(&self, tag: &str) -> std::path::PathBuf {
            static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let p = std::env::temp_dir().join(format!(
                "pop3-bridge-test-{}-{tag}-{n}-ca.pem",
                std::process::id()
            ));
            std::fs::write(&p, &self.pem).unwrap();
            p
        }
    }

    /// A self-signed leaf (no CA).
    pub fn self_signed(names: &[&str]) -> Leaf {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap()
            .self_signed(&key)
            .unwrap();
        Leaf {
            der: cert.der().clone(),
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    impl Leaf {
        pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let cfg = rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(
                    vec![self.der.clone()],
                    PrivateKeyDer::Pkcs8(self.key.clone_key()),
                )
                .unwrap();
            Arc::new(cfg)
        }

        pub fn sha256_hex(&self) -> String {
            use sha2::Digest;
            sha2::Sha256::digest(self.der.as_ref())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        }
    }
}

/// Read one CRLF line byte by byte (so nothing after it is consumed).
pub async fn read_line(s: &mut TcpStream) -> Vec<u8> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while !line.ends_with(b"\n") {
        if s.read(&mut b).await.unwrap_or(0) == 0 {
            break;
        }
        line.push(b[0]);
    }
    line
}
