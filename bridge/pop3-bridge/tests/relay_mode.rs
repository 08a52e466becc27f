//! Relay mode (`end_to_end`, issue #16): the bridge connects and relays raw bytes, the client
//! does TLS (and STLS) itself through it, and the bridge lets nothing but TLS records (and the
//! one `STLS`) through to the server. Also the relay-only bridge, and which requests get
//! bridge-side TLS with `prefer`.
//!
//! The client here is the test's own rustls connection, driven over the WebSocket's binary
//! frames; the fake servers are signed by a test CA the bridge is never told about, so a
//! session that works proves the TLS ended in the client.

mod common;

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::pki::{Ca, Leaf};
use common::*;
use futures_util::{SinkExt, StreamExt};
use pop3_bridge::{Bridge, FakeResolver, ServerConfig};
use rustls::pki_types::ServerName;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::Message;

const HOST: &str = "pop.example.com";

fn resolver() -> Arc<FakeResolver> {
    Arc::new(FakeResolver::new().answer(HOST, &[ip(PUBLIC)]))
}

async fn bridge_to(up: &FakeServer, config: pop3_bridge::Config) -> TestBridge {
    TestBridge::start_with(
        config,
        Some(resolver()),
        Some(RedirectConnector::new(up.addr)),
    )
    .await
}

/// What a fake server saw: its first bytes before any TLS, and the SNI of its handshake.
#[derive(Default)]
struct Seen {
    first: Vec<u8>,
    sni: Option<String>,
}

/// Implicit TLS on "995": records the first bytes on the wire (peeked, so the handshake still
/// reads them) and the SNI, greets over TLS, then echoes.
async fn tls_server(leaf: &Leaf, seen: Arc<Mutex<Seen>>) -> FakeServer {
    let acc = TlsAcceptor::from(leaf.server_config());
    fake_server(move |s| {
        let acc = acc.clone();
        let seen = seen.clone();
        async move {
            let mut head = [0u8; 5];
            if let Ok(n) = s.peek(&mut head).await {
                seen.lock().unwrap().first = head[..n].to_vec();
            }
            let Ok(mut tls) = acc.accept(s).await else {
                return;
            };
            seen.lock().unwrap().sni = tls.get_ref().1.server_name().map(str::to_string);
            let _ = tls.write_all(b"+OK tls ready\r\n").await;
            echo(&mut tls).await;
        }
    })
    .await
}

async fn echo<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(s: &mut S) {
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf).await {
        if n == 0 || s.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
}

/// STLS on "110": greets in plaintext, expects the client's `STLS` (recorded), answers `+OK`,
/// then TLS and echo.
async fn stls_server(leaf: &Leaf, pre_tls: Arc<Mutex<Vec<u8>>>) -> FakeServer {
    let acc = TlsAcceptor::from(leaf.server_config());
    fake_server(move |mut s| {
        let acc = acc.clone();
        let pre_tls = pre_tls.clone();
        async move {
            let _ = s.write_all(b"+OK ready <1.2@x>\r\n").await;
            let line = read_line(&mut s).await;
            pre_tls.lock().unwrap().extend_from_slice(&line);
            if line != b"STLS\r\n" {
                return;
            }
            let _ = s.write_all(b"+OK begin TLS\r\n").await;
            let Ok(mut tls) = acc.accept(s).await else {
                return;
            };
            echo(&mut tls).await;
        }
    })
    .await
}

/// Greets with `greeting` (if any) in plaintext, then records every byte it receives until
/// the bridge closes, and sends them on `tx`.
async fn recording_server(
    greeting: &'static [u8],
    tx: mpsc::UnboundedSender<Vec<u8>>,
) -> FakeServer {
    fake_server(move |mut s| {
        let tx = tx.clone();
        async move {
            let _ = s.write_all(greeting).await;
            let mut got = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut got)).await;
            let _ = tx.send(got);
        }
    })
    .await
}

/// A rustls client that trusts only `ca`.
fn client_tls(ca: &Ca) -> rustls::ClientConnection {
    let mut roots = rustls::RootCertStore::empty();
    let der = rustls_pemfile::certs(&mut ca.pem.as_bytes())
        .next()
        .unwrap()
        .unwrap();
    roots.add(der).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from(HOST).unwrap();
    rustls::ClientConnection::new(Arc::new(config), name).unwrap()
}

/// The next binary frame's bytes (pings skipped).
async fn next_binary(ws: &mut Ws) -> Vec<u8> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Binary(b)))) => return b.to_vec(),
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            other => panic!("expected data, got {other:?}"),
        }
    }
}

/// TLS in the test, over the bridge's relay: what the browser client does in relay mode.
struct EndToEnd {
    ws: Ws,
    tls: rustls::ClientConnection,
}

impl EndToEnd {
    /// Send whatever TLS wants to send, as one binary frame.
    async fn flush(&mut self) {
        let mut out = Vec::new();
        while self.tls.wants_write() {
            self.tls.write_tls(&mut out).unwrap();
        }
        if !out.is_empty() {
            self.ws.send(Message::binary(out)).await.unwrap();
        }
    }

    async fn receive(&mut self) {
        let data = next_binary(&mut self.ws).await;
        let mut rest = &data[..];
        while !rest.is_empty() {
            self.tls.read_tls(&mut rest).unwrap();
            self.tls.process_new_packets().unwrap();
        }
        self.flush().await;
    }

    async fn handshake(&mut self) {
        self.flush().await;
        while self.tls.is_handshaking() {
            self.receive().await;
        }
    }

    async fn read_exact(&mut self, n: usize) -> Vec<u8> {
        let mut got = Vec::new();
        loop {
            let mut buf = [0u8; 4096];
            match self.tls.reader().read(&mut buf) {
                Ok(k) => got.extend_from_slice(&buf[..k]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
            if got.len() >= n {
                return got;
            }
            self.receive().await;
        }
    }

    async fn write(&mut self, b: &[u8]) {
        self.tls.writer().write_all(b).unwrap();
        self.flush().await;
    }
}

fn assert_relay_answer(ans: &Value, security: &str) {
    assert_eq!(ans["ok"], true, "{ans}");
    assert_eq!(ans["end_to_end"], true, "{ans}");
    assert_eq!(ans["security"], security, "{ans}");
    assert_eq!(ans["insecure"], false, "{ans}");
    assert!(ans.get("tls").is_none(), "{ans}");
    assert!(ans.get("greeting_untrusted").is_none(), "{ans}");
    // The checked address, as with bridge-side TLS.
    let peer = ans["peer"].as_str().unwrap_or_default();
    assert!(peer.starts_with(&format!("{PUBLIC}:")), "{ans}");
}

#[tokio::test]
async fn require_with_tls_relays_the_clients_own_tls_to_a_server_the_bridge_does_not_trust() {
    let ca = Ca::new("Client-only CA");
    let leaf = ca.leaf(&[HOST], false);
    let seen = Arc::new(Mutex::new(Seen::default()));
    let up = tls_server(&leaf, seen.clone()).await;
    // The bridge has no CA for this server: bridge-side TLS would fail (cert_unknown_issuer).
    let b = bridge_to(&up, test_config()).await;
    let (ws, ans) = session(
        &b,
        json!({"host": HOST, "port": 995, "security": "tls", "end_to_end": "require"}),
    )
    .await;
    assert_relay_answer(&ans, "tls");
    let mut e2e = EndToEnd {
        ws,
        tls: client_tls(&ca),
    };
    e2e.handshake().await;
    assert_eq!(e2e.read_exact(15).await, b"+OK tls ready\r\n");
    e2e.write(b"CAPA\r\n").await;
    assert_eq!(e2e.read_exact(6).await, b"CAPA\r\n");
    {
        let seen = seen.lock().unwrap();
        // The server's first bytes were the client's ClientHello (a handshake record), with
        // the client's SNI: the bridge did no TLS of its own.
        assert_eq!(seen.first.first(), Some(&22), "{:?}", seen.first);
        assert_eq!(seen.sni.as_deref(), Some(HOST));
    }
    assert_eq!(b.metric("pop3_bridge_end_to_end_sessions_total").await, 1.0);
}

#[tokio::test]
async fn require_with_stls_relays_the_greeting_and_the_clients_stls_then_its_tls() {
    let ca = Ca::new("Client-only CA");
    let leaf = ca.leaf(&[HOST], false);
    let pre_tls = Arc::new(Mutex::new(Vec::new()));
    let up = stls_server(&leaf, pre_tls.clone()).await;
    let b = bridge_to(&up, test_config()).await;
    let (mut ws, ans) = session(
        &b,
        json!({"host": HOST, "port": 110, "security": "stls", "end_to_end": "require"}),
    )
    .await;
    assert_relay_answer(&ans, "stls");
    // The bridge read nothing: the greeting reaches the client in the relay.
    let greeting = b"+OK ready <1.2@x>\r\n";
    assert_eq!(read_n(&mut ws, greeting.len()).await, greeting);
    ws.send(Message::binary(b"STLS\r\n".to_vec()))
        .await
        .unwrap();
    let ok = b"+OK begin TLS\r\n";
    assert_eq!(read_n(&mut ws, ok.len()).await, ok);
    let mut e2e = EndToEnd {
        ws,
        tls: client_tls(&ca),
    };
    e2e.handshake().await;
    e2e.write(b"CAPA\r\n").await;
    assert_eq!(e2e.read_exact(6).await, b"CAPA\r\n");
    assert_eq!(pre_tls.lock().unwrap().as_slice(), b"STLS\r\n");
}

#[tokio::test]
async fn plaintext_through_a_tls_relay_is_refused_and_never_reaches_the_server() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let up = recording_server(b"", tx).await;
    let b = bridge_to(&up, test_config()).await;
    let (mut ws, ans) = session(
        &b,
        json!({"host": HOST, "port": 995, "security": "tls", "end_to_end": "require"}),
    )
    .await;
    assert_relay_answer(&ans, "tls");
    ws.send(Message::binary(b"USER x\r\n".to_vec()))
        .await
        .unwrap();
    let (_, close) = read_until_close(&mut ws).await;
    let close = close.expect("close frame");
    assert_eq!(u16::from(close.code), 4000, "{close:?}");
    assert_eq!(close.reason.as_str(), "protocol_violation");
    let got = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(got.is_empty(), "the server received {got:?}");
    // Counted when the session ends, once the browser is gone.
    drop(ws);
    let kind = "pop3_bridge_errors_total{kind=\"protocol_violation\"}";
    for _ in 0..100 {
        if b.metric(kind).await == 1.0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{kind} not counted");
}

#[tokio::test]
async fn plaintext_after_stls_in_a_relay_is_refused_and_only_the_stls_reaches_the_server() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let greeting = b"+OK ready\r\n";
    let up = recording_server(greeting, tx).await;
    let b = bridge_to(&up, test_config()).await;
    let (mut ws, ans) = session(
        &b,
        json!({"host": HOST, "port": 110, "security": "stls", "end_to_end": "require"}),
    )
    .await;
    assert_relay_answer(&ans, "stls");
    assert_eq!(read_n(&mut ws, greeting.len()).await, greeting);
    // One frame: the bridge forwards the STLS and refuses from the P of PASS on.
    ws.send(Message::binary(b"STLS\r\nPASS x\r\n".to_vec()))
        .await
        .unwrap();
    let (_, close) = read_until_close(&mut ws).await;
    let close = close.expect("close frame");
    assert_eq!(u16::from(close.code), 4000, "{close:?}");
    assert_eq!(close.reason.as_str(), "protocol_violation");
    let got = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, b"STLS\r\n", "{}", String::from_utf8_lossy(&got));
}

fn relay_only() -> pop3_bridge::Config {
    pop3_bridge::Config {
        relay_only: true,
        ..test_config()
    }
}

#[tokio::test]
async fn relay_only_refuses_a_request_for_bridge_side_tls_before_connecting() {
    let up = echo_server().await;
    let b = bridge_to(&up, relay_only()).await;
    for (port, security) in [(995, "tls"), (110, "stls")] {
        let (mut ws, ans) = session(
            &b,
            json!({"host": HOST, "port": port, "security": security}),
        )
        .await;
        expect_error(&mut ws, &ans, "relay_only", 4003).await;
        assert!(
            ans["error"]["message"]
                .as_str()
                .unwrap()
                .contains("never decrypts"),
            "{ans}"
        );
    }
    assert_eq!(up.accepted.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test]
async fn relay_only_refuses_plaintext_and_relays_prefer() {
    let up = echo_server().await;
    let b = bridge_to(&up, relay_only()).await;
    let (mut ws, ans) = session(
        &b,
        json!({"host": HOST, "port": 110, "security": "plain", "end_to_end": "prefer"}),
    )
    .await;
    expect_error(&mut ws, &ans, "plaintext_refused", 4003).await;
    let (mut ws, ans) = session(&b, json!({"host": HOST, "port": 110, "security": "plain"})).await;
    expect_error(&mut ws, &ans, "plaintext_refused", 4003).await;
    assert_eq!(up.accepted.load(std::sync::atomic::Ordering::SeqCst), 0);
    let (_ws, ans) = session(
        &b,
        json!({"host": HOST, "port": 995, "security": "tls", "end_to_end": "prefer"}),
    )
    .await;
    assert_relay_answer(&ans, "tls");
}

#[tokio::test]
async fn relay_only_is_applied_by_a_reload_to_new_sessions() {
    let up = echo_server().await;
    let b = bridge_to(&up, test_config()).await;
    let req = json!({"host": HOST, "port": 110, "security": "stls"});
    // Served once: the bridge runs, so it can be reloaded.
    assert_eq!(b.get("/healthz").await.0, 200);
    b.reloader.reload(relay_only()).await.unwrap();
    let (mut ws, ans) = session(&b, req.clone()).await;
    expect_error(&mut ws, &ans, "relay_only", 4003).await;
    // And a reload that would pair it with plaintext is refused: relay-only stays.
    let both = pop3_bridge::Config {
        allow_plaintext: true,
        ..relay_only()
    };
    assert!(b.reloader.reload(both).await.is_err());
    let (mut ws, ans) = session(&b, req).await;
    expect_error(&mut ws, &ans, "relay_only", 4003).await;
}

#[tokio::test]
async fn relay_only_with_plaintext_allowed_does_not_start() {
    for config in [
        pop3_bridge::Config {
            allow_plaintext: true,
            ..relay_only()
        },
        pop3_bridge::Config {
            servers: vec![ServerConfig {
                host: HOST.into(),
                allow_plaintext: true,
                ..ServerConfig::default()
            }],
            ..relay_only()
        },
    ] {
        // A bridge that started would run until stopped: give it a moment, then fail.
        let run = Bridge::new(config).run(listen_local(), std::future::pending());
        let r = tokio::time::timeout(Duration::from_secs(5), run)
            .await
            .expect("the bridge started with relay_only and plaintext");
        let e = r.unwrap_err().to_string();
        assert!(
            e.contains("relay_only") && e.contains("allow_plaintext"),
            "{e}"
        );
    }
}

#[tokio::test]
async fn prefer_uses_bridge_side_tls_only_for_a_server_with_operator_trust() {
    let ca = Ca::new("Operator CA");
    let leaf = ca.leaf(&[HOST], false);
    let up = tls_server(&leaf, Arc::default()).await;
    let mut c = test_config();
    c.servers = vec![ServerConfig {
        host: HOST.into(),
        extra_ca: Some(ca.write_pem("prefer")),
        ..ServerConfig::default()
    }];
    let b = bridge_to(&up, c).await;
    let req = json!({"host": HOST, "port": 995, "security": "tls", "end_to_end": "prefer"});
    let (mut ws, ans) = session(&b, req.clone()).await;
    assert_eq!(ans["ok"], true, "{ans}");
    assert!(ans.get("end_to_end").is_none(), "{ans}");
    assert_eq!(ans["tls"]["verified"], true, "{ans}");
    // The bridge did TLS: the greeting arrives decrypted.
    assert_eq!(read_n(&mut ws, 15).await, b"+OK tls ready\r\n");

    // The same server without an entry: relay mode.
    let b = bridge_to(&up, test_config()).await;
    let (_ws, ans) = session(&b, req).await;
    assert_relay_answer(&ans, "tls");
}

#[tokio::test]
async fn require_with_plain_is_a_bad_request() {
    let up = echo_server().await;
    let mut c = test_config();
    c.allow_plaintext = true;
    let b = bridge_to(&up, c).await;
    let (mut ws, ans) = session(
        &b,
        json!({"host": HOST, "port": 110, "security": "plain", "end_to_end": "require"}),
    )
    .await;
    expect_error(&mut ws, &ans, "bad_request", 4000).await;
    assert_eq!(up.accepted.load(std::sync::atomic::Ordering::SeqCst), 0);
    // `prefer` with plain is plain, as without the field.
    let (_ws, ans) = session(
        &b,
        json!({"host": HOST, "port": 110, "security": "plain", "end_to_end": "prefer"}),
    )
    .await;
    assert_eq!(ans["ok"], true, "{ans}");
    assert_eq!(ans["insecure"], true, "{ans}");
    assert!(ans.get("end_to_end").is_none(), "{ans}");
}

#[tokio::test]
async fn the_target_policy_and_tokens_apply_in_relay_mode() {
    let up = echo_server().await;
    let b = bridge_to(&up, test_config()).await;
    let (mut ws, ans) = session(
        &b,
        json!({"host": "10.0.0.1", "port": 995, "security": "tls", "end_to_end": "require"}),
    )
    .await;
    expect_error(&mut ws, &ans, "target_refused", 4003).await;
    // A local name is refused by name, before any lookup.
    let (mut ws, ans) = session(
        &b,
        json!({"host": "localhost", "port": 995, "security": "tls", "end_to_end": "require"}),
    )
    .await;
    expect_error(&mut ws, &ans, "target_refused", 4003).await;
    let (mut ws, ans) = session(
        &b,
        json!({"host": HOST, "port": 25, "security": "tls", "end_to_end": "require"}),
    )
    .await;
    expect_error(&mut ws, &ans, "port_refused", 4003).await;

    let mut c = test_config();
    c.token_secret = Some("relay-mode-test-secret".into());
    let b = bridge_to(&up, c).await;
    let (mut ws, ans) = session(
        &b,
        json!({"host": HOST, "port": 995, "security": "tls", "end_to_end": "require"}),
    )
    .await;
    expect_error(&mut ws, &ans, "token_invalid", 4001).await;
    assert_eq!(up.accepted.load(std::sync::atomic::Ordering::SeqCst), 0);
}
