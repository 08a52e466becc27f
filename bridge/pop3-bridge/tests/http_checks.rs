//! Checks that happen before the WebSocket upgrade (Host, Origin, subprotocol, query token,
//! session caps, request-head limits, slowloris) and after it (JSON tokens, frame limits),
//! plus the plain HTTP routes. Cases B8–B16.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use futures_util::SinkExt;
use pop3_bridge::{FakeResolver, TokenAuth, TokenClaims, TokenMode, now_unix};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;

const SECRET: &str = "0123456789abcdef-test-secret";

async fn bridge(config: pop3_bridge::Config) -> (TestBridge, Arc<RedirectConnector>) {
    let up = echo_server().await;
    let conn = RedirectConnector::new(up.addr);
    let r = Arc::new(
        FakeResolver::new()
            .answer("pop.example.com", &[ip(PUBLIC)])
            .answer("other.example.com", &[ip(PUBLIC)]),
    );
    let b = TestBridge::start_with(config, Some(r), Some(conn.clone())).await;
    (b, conn)
}

fn plain_cfg() -> pop3_bridge::Config {
    let mut c = test_config();
    c.allow_plaintext = true;
    c
}

fn target() -> serde_json::Value {
    json!({"host": "pop.example.com", "port": 110, "security": "plain"})
}

#[tokio::test]
async fn foreign_host_header_is_refused_with_400() {
    let (b, conn) = bridge(plain_cfg()).await;
    let origin = b.origin();
    for host in ["evil.example", "attacker.com:8080", "127.0.0.1.nip.io"] {
        let e = ws_connect_raw(
            b.addr,
            "/pop3",
            &[
                ("Host", Some(host)),
                ("Origin", Some(&origin)),
                ("Sec-WebSocket-Protocol", Some("pop3-bridge.v1")),
            ],
        )
        .await
        .unwrap_err();
        assert_eq!(refused_status(&e), 400, "{host}");
    }
    // Static files and metrics are protected too; /healthz is not.
    assert_eq!(http_get(b.addr, "/metrics", "evil.example").await.0, 400);
    assert_eq!(http_get(b.addr, "/healthz", "evil.example").await.0, 200);
    assert!(conn.seen().is_empty());
}

#[tokio::test]
async fn localhost_names_are_accepted_as_host() {
    let (b, _) = bridge(plain_cfg()).await;
    let port = b.addr.port();
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        let origin = format!("http://{host}");
        let mut ws = ws_connect_raw(
            b.addr,
            "/pop3",
            &[
                ("Host", Some(&host)),
                ("Origin", Some(&origin)),
                ("Sec-WebSocket-Protocol", Some("pop3-bridge.v1")),
            ],
        )
        .await
        .unwrap();
        assert_eq!(request(&mut ws, target()).await["ok"], true);
    }
}

#[tokio::test]
async fn foreign_null_or_missing_origin_is_refused_with_403() {
    let (b, conn) = bridge(plain_cfg()).await;
    let port = b.addr.port();
    let wrong_port = format!("http://127.0.0.1:{}", port.wrapping_add(1));
    for origin in [
        Some("https://evil.example"),
        Some("null"),
        Some(wrong_port.as_str()),
        Some("http://127.0.0.1.evil.example"),
        None,
    ] {
        let e = ws_connect_raw(
            b.addr,
            "/pop3",
            &[
                ("Origin", origin),
                ("Sec-WebSocket-Protocol", Some("pop3-bridge.v1")),
            ],
        )
        .await
        .unwrap_err();
        assert_eq!(refused_status(&e), 403, "{origin:?}");
    }
    assert!(conn.seen().is_empty());
}

#[tokio::test]
async fn configured_extra_origin_is_accepted() {
    let mut c = plain_cfg();
    c.origins = vec!["https://webmail.example.org/".into()];
    let (b, _) = bridge(c).await;
    let mut ws = ws_connect_raw(
        b.addr,
        "/pop3",
        &[
            ("Origin", Some("https://webmail.example.org")),
            ("Sec-WebSocket-Protocol", Some("pop3-bridge.v1")),
        ],
    )
    .await
    .unwrap();
    assert_eq!(request(&mut ws, target()).await["ok"], true);
}

#[tokio::test]
async fn missing_or_wrong_subprotocol_is_refused_with_400() {
    let (b, _) = bridge(plain_cfg()).await;
    let origin = b.origin();
    for proto in [None, Some("pop3-bridge.v0"), Some("chat")] {
        let e = ws_connect_raw(
            b.addr,
            "/pop3",
            &[("Origin", Some(&origin)), ("Sec-WebSocket-Protocol", proto)],
        )
        .await
        .unwrap_err();
        assert_eq!(refused_status(&e), 400, "{proto:?}");
    }
}

fn token_cfg(mode: TokenMode) -> pop3_bridge::Config {
    let mut c = plain_cfg();
    c.token_secret = Some(SECRET.into());
    c.token_mode = mode;
    c
}

/// HMAC tokens, also accepted as `?token=` in the URL (off by default; see tests/tokens.rs).
fn query_token_cfg() -> pop3_bridge::Config {
    let mut c = token_cfg(TokenMode::Hmac);
    c.token_in_query = true;
    c
}

fn mint(host: &str, port: u16, exp: u64) -> String {
    TokenAuth::new(TokenMode::Hmac, SECRET).mint(&TokenClaims {
        host: host.into(),
        port,
        exp,
        nbf: None,
    })
}

#[tokio::test]
async fn invalid_or_expired_query_token_is_refused_with_401_before_upgrade() {
    let (b, conn) = bridge(query_token_cfg()).await;
    let wrong_key = TokenAuth::new(TokenMode::Hmac, "another-secret-of-16+").mint(&TokenClaims {
        host: "pop.example.com".into(),
        port: 110,
        exp: now_unix() + 60,
        nbf: None,
    });
    for t in [
        "garbage".to_string(),
        mint("pop.example.com", 110, now_unix() - 1),
        wrong_key,
    ] {
        let e = ws_connect_q(&b, &format!("?token={t}")).await.unwrap_err();
        assert_eq!(refused_status(&e), 401);
    }
    assert!(conn.seen().is_empty());
}

#[tokio::test]
async fn valid_query_token_bound_to_the_target_is_accepted() {
    let (b, conn) = bridge(query_token_cfg()).await;
    let t = mint("pop.example.com", 110, now_unix() + 60);
    let mut ws = ws_connect_q(&b, &format!("?token={t}")).await.unwrap();
    assert_eq!(request(&mut ws, target()).await["ok"], true);
    assert_eq!(conn.seen().len(), 1);
}

#[tokio::test]
async fn token_for_another_target_is_token_invalid() {
    let (b, conn) = bridge(query_token_cfg()).await;
    let t = mint("other.example.com", 110, now_unix() + 60);
    let mut ws = ws_connect_q(&b, &format!("?token={t}")).await.unwrap();
    let ans = request(&mut ws, target()).await;
    expect_error(&mut ws, &ans, "token_invalid", 4001).await;
    let t = mint("pop.example.com", 995, now_unix() + 60);
    let mut ws = ws_connect_q(&b, &format!("?token={t}")).await.unwrap();
    let ans = request(&mut ws, target()).await;
    expect_error(&mut ws, &ans, "token_invalid", 4001).await;
    assert!(conn.seen().is_empty());
}

#[tokio::test]
async fn token_in_the_request_message_is_checked_before_connecting() {
    let (b, conn) = bridge(token_cfg(TokenMode::Hmac)).await;
    let cases = [
        (None, "token_invalid"),
        (Some("garbage".to_string()), "token_invalid"),
        (
            Some(mint("pop.example.com", 110, now_unix() - 5)),
            "token_expired",
        ),
    ];
    for (tok, code) in cases {
        let mut req = target();
        if let Some(t) = tok {
            req["token"] = json!(t);
        }
        let (mut ws, ans) = session(&b, req).await;
        expect_error(&mut ws, &ans, code, 4001).await;
    }
    assert!(conn.seen().is_empty());
    let mut req = target();
    req["token"] = json!(mint("pop.example.com", 110, now_unix() + 60));
    let (_ws, ans) = session(&b, req).await;
    assert_eq!(ans["ok"], true, "{ans}");
}

#[tokio::test]
async fn a_wrong_shared_secret_is_refused_and_the_right_one_opens_a_session() {
    // The shared secret goes in the connect request only (never the URL: tests/tokens.rs).
    let (b, _) = bridge(token_cfg(TokenMode::Shared)).await;
    let mut req = target();
    req["token"] = json!("wrong");
    let (mut ws, ans) = session(&b, req).await;
    expect_error(&mut ws, &ans, "token_invalid", 4001).await;
    let mut req = target();
    req["token"] = json!(SECRET);
    let (_ws, ans) = session(&b, req).await;
    assert_eq!(ans["ok"], true, "{ans}");
}

#[tokio::test]
async fn session_caps_refuse_the_next_session_instead_of_queueing() {
    let mut c = plain_cfg();
    c.limits.max_sessions = 3;
    c.limits.max_sessions_per_ip = 2;
    let (b, _) = bridge(c).await;
    let _a = ws_connect(&b).await.unwrap();
    let _b = ws_connect(&b).await.unwrap();
    let t = Instant::now();
    let e = ws_connect(&b).await.unwrap_err();
    assert_eq!(refused_status(&e), 429);
    assert!(t.elapsed() < Duration::from_secs(1));
    // Another client IP (behind a proxy) still hits the global cap.
    drop(_a);
    drop(_b);
    let mut c = plain_cfg();
    c.limits.max_sessions = 2;
    c.limits.max_sessions_per_ip = 10;
    let (b, _) = bridge(c).await;
    let _a = ws_connect(&b).await.unwrap();
    let _b = ws_connect(&b).await.unwrap();
    let e = ws_connect(&b).await.unwrap_err();
    assert_eq!(refused_status(&e), 503);
    // A closed session gives its slot back.
    drop(_a);
    let mut ok = false;
    for _ in 0..50 {
        if ws_connect(&b).await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ok, "slot was not released");
}

/// The bridge's own request-head limits (`MAX_REQUEST_HEAD` and `MAX_HEADERS` in src/lib.rs).
/// Hyper's defaults (about 400 KiB, 100 headers) are far larger, so a test that only sends
/// megabytes cannot tell whether these are applied.
const MAX_REQUEST_HEAD: usize = 16 * 1024;
const MAX_HEADERS: usize = 64;

/// A `GET /pop3` head with `headers` (Host first) padded by one `X-Pad` header to exactly
/// `len` bytes.
fn request_head(host: &str, headers: usize, len: usize) -> String {
    let mut head = format!("GET /pop3 HTTP/1.1\r\nHost: {host}\r\n");
    for i in 1..headers - 1 {
        head.push_str(&format!("X-H{i}: v\r\n"));
    }
    let pad = len - head.len() - "X-Pad: \r\n\r\n".len();
    head.push_str(&format!("X-Pad: {}\r\n\r\n", "a".repeat(pad)));
    assert_eq!(head.len(), len);
    head
}

/// Sends `head` on a fresh connection and returns the status line of the answer; panics if
/// the bridge closes without one, or gives none within `bound`.
async fn status_line(addr: std::net::SocketAddr, head: &str, bound: Duration) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    // The bridge may stop reading once it has seen enough; a failed write is not the point.
    let _ = s.write_all(head.as_bytes()).await;
    let mut out = Vec::new();
    let read = async {
        let mut buf = [0u8; 512];
        while !out.windows(2).any(|w| w == b"\r\n") {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(bound, read)
        .await
        .unwrap_or_else(|_| panic!("no answer within {bound:?}"));
    let text = String::from_utf8_lossy(&out);
    let line = text.split("\r\n").next().unwrap_or("").to_string();
    assert!(!line.is_empty(), "closed without an answer");
    line
}

#[tokio::test]
async fn request_head_just_over_the_bridges_limits_gets_431_well_inside_the_handshake_timeout() {
    // A long handshake timeout: an answer within `bound` is the bridge refusing the head, not
    // the header-read timer ending the connection.
    let mut c = plain_cfg();
    c.limits.handshake_timeout = Duration::from_secs(60);
    let bound = Duration::from_secs(10);
    let (b, conn) = bridge(c).await;
    let host = b.addr.to_string();
    // At the limits: parsed, and refused only because it is not an upgrade.
    for head in [
        request_head(&host, 3, MAX_REQUEST_HEAD),
        request_head(&host, MAX_HEADERS, 2048),
    ] {
        let line = status_line(b.addr, &head, bound).await;
        assert!(line.starts_with("HTTP/1.1 400 "), "{line}");
    }
    // One byte, or one header, over.
    for (what, head) in [
        ("size", request_head(&host, 3, MAX_REQUEST_HEAD + 1)),
        ("count", request_head(&host, MAX_HEADERS + 1, 2048)),
    ] {
        let line = status_line(b.addr, &head, bound).await;
        assert!(line.starts_with("HTTP/1.1 431 "), "{what}: {line}");
    }
    assert!(conn.seen().is_empty());
}

#[tokio::test]
async fn slowloris_handshake_is_dropped_after_the_handshake_timeout() {
    let mut c = plain_cfg();
    c.limits.handshake_timeout = Duration::from_millis(500);
    let (b, _) = bridge(c).await;
    let mut s = TcpStream::connect(b.addr).await.unwrap();
    s.write_all(b"GET /pop3 HTTP/1.1\r\nHost: x").await.unwrap();
    let t = Instant::now();
    let mut buf = [0u8; 256];
    let mut closed = false;
    while t.elapsed() < Duration::from_secs(5) {
        let _ = s.write_all(b"x").await;
        match tokio::time::timeout(Duration::from_millis(200), s.read(&mut buf)).await {
            Ok(Ok(_)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            Err(_) => {}
        }
    }
    assert!(closed, "slow client was not dropped");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
}

#[tokio::test]
async fn silent_client_after_upgrade_gets_handshake_timeout() {
    let mut c = plain_cfg();
    c.limits.handshake_timeout = Duration::from_millis(300);
    let (b, conn) = bridge(c).await;
    let mut ws = ws_connect(&b).await.unwrap();
    let (_, close) = read_until_close(&mut ws).await;
    assert_eq!(u16::from(close.unwrap().code), 4002);
    assert!(conn.seen().is_empty());
}

/// A POP3 stand-in that greets, then records every byte it receives until the bridge closes
/// the connection, and sends the record.
async fn recording_server() -> (FakeServer, tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let up = fake_server(move |mut s| {
        let tx = tx.clone();
        async move {
            let _ = s.write_all(b"+OK fake POP3 ready\r\n").await;
            let mut got = Vec::new();
            let _ = s.read_to_end(&mut got).await;
            let _ = tx.send(got);
        }
    })
    .await;
    (up, rx)
}

#[tokio::test]
async fn oversized_frame_closes_with_1009_without_reaching_the_server() {
    let max = plain_cfg().limits.max_message_size;
    // One byte over the limit, and far over it (the bridge must not read it all first).
    for size in [max + 1, 2 << 20] {
        let (up, mut received) = recording_server().await;
        let conn = RedirectConnector::new(up.addr);
        let r = Arc::new(FakeResolver::new().answer("pop.example.com", &[ip(PUBLIC)]));
        let b = TestBridge::start_with(plain_cfg(), Some(r), Some(conn.clone())).await;
        let (mut ws, ans) = session(&b, target()).await;
        assert_eq!(ans["ok"], true);
        assert_eq!(read_n(&mut ws, 21).await, b"+OK fake POP3 ready\r\n");
        // A frame within the limit is relayed: the server's record does see what arrives.
        ws.send(Message::binary(b"NOOP\r\n".to_vec()))
            .await
            .unwrap();
        let _ = ws.send(Message::binary(vec![b'x'; size])).await;
        let (_, close) = read_until_close(&mut ws).await;
        let close = close.unwrap_or_else(|| panic!("{size} bytes: no close frame"));
        assert_eq!(u16::from(close.code), 1009, "{size} bytes: {close:?}");
        // The bridge closes the server connection when the session ends; by then the server
        // has recorded everything it was sent.
        let got = tokio::time::timeout(Duration::from_secs(10), received.recv())
            .await
            .expect("the server connection outlived the session")
            .unwrap();
        assert!(
            got == b"NOOP\r\n",
            "{size} bytes: the server received {} bytes, starting {:?}",
            got.len(),
            String::from_utf8_lossy(&got[..got.len().min(40)])
        );
        assert_eq!(conn.seen().len(), 1);
    }
}

#[tokio::test]
async fn healthz_metrics_and_static_files() {
    let dir = std::env::temp_dir().join(format!("pop3-bridge-web-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("pkg")).unwrap();
    std::fs::write(dir.join("index.html"), "<h1>hi</h1>").unwrap();
    std::fs::write(dir.join("pkg/app.wasm"), b"\0asm").unwrap();
    std::fs::write(dir.join(".secret"), "no").unwrap();
    let mut c = plain_cfg();
    c.web_root = Some(dir.clone());
    let (b, _) = bridge(c).await;
    assert_eq!(b.get("/healthz").await, (200, "ok\n".into()));
    let (status, body) = b.get("/").await;
    assert_eq!((status, body.as_str()), (200, "<h1>hi</h1>"));
    assert_eq!(b.get("/pkg/app.wasm").await.0, 200);
    for p in [
        "/.secret",
        "/../../etc/passwd",
        "/%2e%2e/etc/passwd",
        "/nope.js",
    ] {
        assert_eq!(b.get(p).await.0, 404, "{p}");
    }
    let (status, body) = b.get_metrics().await;
    assert_eq!(status, 200);
    for name in [
        "pop3_bridge_sessions_active",
        "pop3_bridge_bytes_total{direction=\"to_client\"}",
        "pop3_bridge_connect_seconds_bucket",
        "pop3_bridge_errors_total{kind=\"target_refused\"}",
    ] {
        assert!(body.contains(name), "{name} missing");
    }
}

#[tokio::test]
async fn public_bind_without_listener_tls_is_refused() {
    let mut c = test_config();
    c.listen = "0.0.0.0:0".parse().unwrap();
    assert!(c.validate().is_err());
}

#[tokio::test]
async fn tls_listener_serves_sessions_over_wss() {
    let ca = common::pki::Ca::new("Listener CA");
    let leaf = ca.leaf(&["localhost"], false);
    let dir = std::env::temp_dir().join(format!("pop3-bridge-wss-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("cert.pem"), &leaf.cert_pem).unwrap();
    std::fs::write(dir.join("key.pem"), &leaf.key_pem).unwrap();
    let mut c = plain_cfg();
    c.tls_cert = Some(dir.join("cert.pem"));
    c.tls_key = Some(dir.join("key.pem"));
    let (b, _) = bridge(c).await;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(leaf.der.clone()).unwrap_or(());
    for cert in rustls_pemfile::certs(&mut ca.pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(b.addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .unwrap();
    let port = b.addr.port();
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("wss://localhost:{port}/pop3")
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "origin",
        format!("https://localhost:{port}").parse().unwrap(),
    );
    req.headers_mut()
        .insert("sec-websocket-protocol", "pop3-bridge.v1".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::client_async(req, tls).await.unwrap();
    ws.send(Message::text(target().to_string())).await.unwrap();
    use futures_util::StreamExt;
    match ws.next().await {
        Some(Ok(Message::Text(t))) => assert!(t.as_str().contains("\"ok\":true"), "{t}"),
        other => panic!("{other:?}"),
    }
    // A plain-text client on the TLS port gets nothing useful.
    let (status, _) = http_get(b.addr, "/healthz", "localhost").await;
    assert_ne!(status, 200);
}

#[tokio::test]
async fn garbage_on_the_wire_never_takes_the_bridge_down() {
    let (b, conn) = bridge(plain_cfg()).await;
    let inputs: Vec<Vec<u8>> = vec![
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec(), // a TLS ClientHello start
        b"GET /pop3 HTTP/1.1\r\nHost: \xff\xfe\r\n\r\n".to_vec(),
        b"\r\n\r\n\r\n".to_vec(),
        (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect(),
        b"GET /pop3 HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n".to_vec(),
    ];
    for input in inputs {
        let mut s = TcpStream::connect(b.addr).await.unwrap();
        let _ = s.write_all(&input).await;
        let mut buf = [0u8; 512];
        let _ = tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf)).await;
    }
    // Garbage after a successful upgrade: invalid frames close that session only.
    let mut ws = ws_connect(&b).await.unwrap();
    ws.send(Message::binary(b"\x00\x01".to_vec()))
        .await
        .unwrap();
    let (_, close) = read_until_close(&mut ws).await;
    assert_eq!(u16::from(close.unwrap().code), 4000);
    // Still serving.
    assert_eq!(b.get("/healthz").await.0, 200);
    let (_ws, ans) = session(&b, target()).await;
    assert_eq!(ans["ok"], true);
    assert_eq!(conn.seen().len(), 1);
}

#[tokio::test]
async fn idle_sockets_from_one_address_cannot_fill_the_listener() {
    let mut c = plain_cfg();
    c.limits.max_connections_per_ip = 5;
    let (b, _) = bridge(c).await;
    let mut idle = Vec::new();
    for _ in 0..5 {
        idle.push(TcpStream::connect(b.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The sixth is closed at once instead of waiting for the handshake timeout.
    let mut extra = TcpStream::connect(b.addr).await.unwrap();
    let mut buf = [0u8; 16];
    let r = tokio::time::timeout(Duration::from_secs(1), extra.read(&mut buf)).await;
    assert!(matches!(r, Ok(Ok(0)) | Ok(Err(_))), "{r:?}");
    drop(idle);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(b.get("/healthz").await.0, 200);
}

/// Opens a WebSocket as the bridge's own page would, through a proxy that says
/// the client is `xff` (an `X-Forwarded-For` value).
async fn ws_connect_xff(
    b: &TestBridge,
    xff: &str,
) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let origin = b.origin();
    ws_connect_raw(
        b.addr,
        "/pop3",
        &[
            ("Origin", Some(&origin)),
            ("Sec-WebSocket-Protocol", Some("pop3-bridge.v1")),
            ("X-Forwarded-For", Some(xff)),
        ],
    )
    .await
}

#[tokio::test]
async fn per_ip_cap_counts_the_forwarded_client_only_behind_a_trusted_proxy() {
    // Behind a proxy every connection comes from the proxy's address; the cap applies to the
    // client the proxy appended last to X-Forwarded-For (earlier entries are the client's own
    // claims and are ignored).
    let mut c = plain_cfg();
    c.behind_proxy = true;
    c.limits.max_sessions_per_ip = 2;
    let (b, _) = bridge(c).await;
    let _a1 = ws_connect_xff(&b, "203.0.113.5").await.unwrap();
    let _a2 = ws_connect_xff(&b, "10.9.9.9, 203.0.113.5").await.unwrap();
    let e = ws_connect_xff(&b, "198.51.100.1, 203.0.113.5")
        .await
        .unwrap_err();
    assert_eq!(refused_status(&e), 429);
    // Another client behind the same proxy has its own quota.
    let _b1 = ws_connect_xff(&b, "203.0.113.5, 198.51.100.7")
        .await
        .unwrap();
    let _b2 = ws_connect_xff(&b, "198.51.100.7").await.unwrap();
    assert_eq!(
        refused_status(&ws_connect_xff(&b, "198.51.100.7").await.unwrap_err()),
        429
    );
    // A closed session gives its client's slot back.
    drop(_a1);
    let mut ok = false;
    for _ in 0..50 {
        if ws_connect_xff(&b, "203.0.113.5").await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ok, "slot not released");

    // Without the proxy setting the header is the client's own claim: ignored, so varying it
    // does not escape the cap of the socket's address.
    let mut c = plain_cfg();
    c.limits.max_sessions_per_ip = 2;
    let (b, _) = bridge(c).await;
    let _c1 = ws_connect_xff(&b, "203.0.113.1").await.unwrap();
    let _c2 = ws_connect_xff(&b, "203.0.113.2").await.unwrap();
    assert_eq!(
        refused_status(&ws_connect_xff(&b, "203.0.113.3").await.unwrap_err()),
        429
    );
}
