//! TLS and STLS to the mail server against fake upstreams signed by a test CA, including a
//! hostile server for the STARTTLS injection cases (NO STARTTLS, USENIX Security 2021).
//! Cases S2–S10 of the checklist.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::pki::{Ca, Leaf, self_signed};
use common::*;
use futures_util::SinkExt;
use pop3_bridge::{FakeResolver, ServerConfig};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::Message;

const HOST: &str = "pop.example.com";

fn resolver() -> Arc<FakeResolver> {
    Arc::new(FakeResolver::new().answer(HOST, &[ip(PUBLIC)]))
}

/// Implicit TLS: greets over TLS, then echoes. Records the SNI the client sent.
async fn tls_server(leaf: &Leaf, sni: Arc<Mutex<Option<String>>>) -> FakeServer {
    let acc = TlsAcceptor::from(leaf.server_config());
    fake_server(move |s| {
        let acc = acc.clone();
        let sni = sni.clone();
        async move {
            let Ok(mut tls) = acc.accept(s).await else {
                return;
            };
            *sni.lock().unwrap() = tls.get_ref().1.server_name().map(str::to_string);
            let _ = tls.write_all(b"+OK tls ready\r\n").await;
            let mut buf = [0u8; 4096];
            while let Ok(n) = tls.read(&mut buf).await {
                if n == 0 || tls.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    })
    .await
}

/// How the STLS fake answers.
#[derive(Clone, Copy, PartialEq)]
enum Stls {
    Honest,
    /// "+OK\r\n" and an injected response in the same segment.
    InjectSameSegment,
    /// "+OK\r\n", then a separate segment of plaintext before the handshake.
    InjectLater,
    Refuse,
    /// "+OKAY begin TLS": not `+OK` by the core's rule; then ready for a handshake anyway.
    Okay,
    Silent,
    /// Data pipelined right after the greeting, before STLS was sent.
    ChattyGreeting,
}

/// A POP3 server on "port 110" that offers STLS. `pre_tls` records every byte it received
/// before TLS.
async fn stls_server(leaf: &Leaf, mode: Stls, pre_tls: Arc<Mutex<Vec<u8>>>) -> FakeServer {
    let acc = TlsAcceptor::from(leaf.server_config());
    fake_server(move |mut s| {
        let acc = acc.clone();
        let pre_tls = pre_tls.clone();
        async move {
            if mode == Stls::ChattyGreeting {
                let _ = s.write_all(b"+OK ready\r\n+OK extra\r\n").await;
            } else {
                let _ = s.write_all(b"+OK ready <1.2@x>\r\n").await;
            }
            let line = read_line(&mut s).await;
            pre_tls.lock().unwrap().extend_from_slice(&line);
            match mode {
                Stls::Honest | Stls::ChattyGreeting => {
                    let _ = s.write_all(b"+OK begin TLS\r\n").await;
                }
                Stls::Okay => {
                    let _ = s.write_all(b"+OKAY begin TLS\r\n").await;
                }
                Stls::InjectSameSegment => {
                    let _ = s.write_all(b"+OK begin TLS\r\n+OK 1 messages\r\n").await;
                }
                Stls::InjectLater => {
                    let _ = s.write_all(b"+OK begin TLS\r\n").await;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    let _ = s.write_all(b"+OK 1 messages\r\n").await;
                }
                Stls::Refuse => {
                    let _ = s.write_all(b"-ERR STLS not supported\r\n").await;
                    // Then collect anything the bridge might (wrongly) send in plaintext.
                    let mut rest = Vec::new();
                    let _ =
                        tokio::time::timeout(Duration::from_millis(300), s.read_to_end(&mut rest))
                            .await;
                    pre_tls.lock().unwrap().extend_from_slice(&rest);
                    return;
                }
                Stls::Silent => {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    return;
                }
            }
            // Anything that arrived before the handshake (the client side must send nothing).
            let Ok(mut tls) = acc.accept(s).await else {
                return;
            };
            let mut buf = [0u8; 4096];
            while let Ok(n) = tls.read(&mut buf).await {
                if n == 0 || tls.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    })
    .await
}

async fn bridge_to(up: &FakeServer, ca: Option<&Ca>, tag: &str) -> TestBridge {
    let mut c = test_config();
    if let Some(ca) = ca {
        c.extra_ca = vec![ca.write_pem(tag)];
    }
    TestBridge::start_with(c, Some(resolver()), Some(RedirectConnector::new(up.addr))).await
}

#[tokio::test]
async fn implicit_tls_reports_certificate_details_and_uses_the_typed_name_for_sni() {
    let ca = Ca::new("Bridge Test CA");
    let leaf = ca.leaf(&[HOST], false);
    let sni = Arc::new(Mutex::new(None));
    let up = tls_server(&leaf, sni.clone()).await;
    let b = bridge_to(&up, Some(&ca), "implicit").await;
    let (mut ws, ans) = session(&b, json!({"host": HOST, "port": 995, "security": "tls"})).await;
    assert_eq!(ans["ok"], true, "{ans}");
    let tls = &ans["tls"];
    assert_eq!(tls["version"], "TLSv1.3");
    assert_eq!(tls["verified"], true);
    assert_eq!(tls["server_name"], HOST);
    assert!(tls["subject"].as_str().unwrap().contains(HOST), "{tls}");
    assert!(
        tls["issuer"].as_str().unwrap().contains("Bridge Test CA"),
        "{tls}"
    );
    assert_eq!(tls["not_after"], "2090-01-01T00:00:00Z");
    assert!(tls["cipher"].as_str().unwrap().starts_with("TLS13_"));
    assert_eq!(ans["insecure"], false);
    assert_eq!(ans["peer"], format!("{PUBLIC}:995"));
    // The greeting is relayed as ordinary bytes, then the stream echoes.
    assert_eq!(read_n(&mut ws, 15).await, b"+OK tls ready\r\n");
    ws.send(Message::binary(b"CAPA\r\n".to_vec()))
        .await
        .unwrap();
    assert_eq!(read_n(&mut ws, 6).await, b"CAPA\r\n");
    assert_eq!(sni.lock().unwrap().as_deref(), Some(HOST));
}

#[tokio::test]
async fn tls12_only_server_is_accepted_and_reported() {
    let ca = Ca::new("Bridge Test CA");
    let leaf = ca.leaf(&[HOST], false);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der.clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf.key.clone_key()),
        )
        .unwrap();
    let acc = TlsAcceptor::from(Arc::new(cfg));
    let up = fake_server(move |s| {
        let acc = acc.clone();
        async move {
            if let Ok(mut t) = acc.accept(s).await {
                let _ = t.write_all(b"+OK\r\n").await;
                let _ = t.read(&mut [0u8; 16]).await;
            }
        }
    })
    .await;
    let b = bridge_to(&up, Some(&ca), "tls12").await;
    let (_ws, ans) = session(&b, json!({"host": HOST, "port": 995, "security": "tls"})).await;
    assert_eq!(ans["tls"]["version"], "TLSv1.2", "{ans}");
}

async fn expect_cert_error(leaf: Leaf, trust: Option<&Ca>, code: &str, tag: &str) {
    let up = tls_server(&leaf, Arc::default()).await;
    let b = bridge_to(&up, trust, tag).await;
    let (mut ws, ans) = session(&b, json!({"host": HOST, "port": 995, "security": "tls"})).await;
    expect_error(&mut ws, &ans, code, 4007).await;
}

#[tokio::test]
async fn expired_certificate_is_refused() {
    let ca = Ca::new("CA");
    expect_cert_error(ca.leaf(&[HOST], true), Some(&ca), "cert_expired", "expired").await;
}

#[tokio::test]
async fn certificate_for_another_name_is_refused() {
    let ca = Ca::new("CA");
    expect_cert_error(
        ca.leaf(&["other.example.com"], false),
        Some(&ca),
        "cert_name_mismatch",
        "name",
    )
    .await;
}

#[tokio::test]
async fn certificate_for_the_resolved_ip_instead_of_the_name_is_refused() {
    let ca = Ca::new("CA");
    expect_cert_error(
        ca.leaf(&[PUBLIC], false),
        Some(&ca),
        "cert_name_mismatch",
        "ipname",
    )
    .await;
}

#[tokio::test]
async fn unknown_ca_is_refused() {
    let trusted = Ca::new("Trusted CA");
    let rogue = Ca::new("Rogue CA");
    expect_cert_error(
        rogue.leaf(&[HOST], false),
        Some(&trusted),
        "cert_unknown_issuer",
        "rogue",
    )
    .await;
}

#[tokio::test]
async fn self_signed_certificate_is_refused_without_a_pin() {
    expect_cert_error(
        self_signed(&[HOST]),
        None,
        "cert_unknown_issuer",
        "selfsigned",
    )
    .await;
}

#[tokio::test]
async fn self_signed_certificate_is_accepted_with_a_matching_pin() {
    let leaf = self_signed(&[HOST]);
    let up = tls_server(&leaf, Arc::default()).await;
    let mut c = test_config();
    c.servers = vec![ServerConfig {
        host: HOST.into(),
        pin_sha256: vec![leaf.sha256_hex()],
        ..ServerConfig::default()
    }];
    let b =
        TestBridge::start_with(c, Some(resolver()), Some(RedirectConnector::new(up.addr))).await;
    let (_ws, ans) = session(&b, json!({"host": HOST, "port": 995, "security": "tls"})).await;
    assert_eq!(ans["ok"], true, "{ans}");
    assert_eq!(ans["tls"]["verified"], false);
    assert_eq!(ans["tls"]["pin_matched"], true);
    // A wrong pin does not help.
    let other = self_signed(&[HOST]);
    let up2 = tls_server(&other, Arc::default()).await;
    let mut c = test_config();
    c.servers = vec![ServerConfig {
        host: HOST.into(),
        pin_sha256: vec![leaf.sha256_hex()],
        ..ServerConfig::default()
    }];
    let b =
        TestBridge::start_with(c, Some(resolver()), Some(RedirectConnector::new(up2.addr))).await;
    let (mut ws, ans) = session(&b, json!({"host": HOST, "port": 995, "security": "tls"})).await;
    expect_error(&mut ws, &ans, "cert_unknown_issuer", 4007).await;
}

#[tokio::test]
async fn stls_upgrades_before_the_session_is_ready_and_marks_the_greeting_untrusted() {
    let ca = Ca::new("CA");
    let pre = Arc::new(Mutex::new(Vec::new()));
    let up = stls_server(&ca.leaf(&[HOST], false), Stls::Honest, pre.clone()).await;
    let b = bridge_to(&up, Some(&ca), "stls").await;
    let (mut ws, ans) = session(&b, json!({"host": HOST, "port": 110, "security": "stls"})).await;
    assert_eq!(ans["ok"], true, "{ans}");
    assert_eq!(ans["greeting_untrusted"], "+OK ready <1.2@x>");
    assert_eq!(ans["tls"]["verified"], true);
    // No greeting after TLS: the first bytes are the answer to our first command.
    ws.send(Message::binary(b"CAPA\r\n".to_vec()))
        .await
        .unwrap();
    assert_eq!(read_n(&mut ws, 6).await, b"CAPA\r\n");
    assert_eq!(pre.lock().unwrap().as_slice(), b"STLS\r\n");
}

async fn stls_failure(mode: Stls, codes: &[&str]) -> Vec<u8> {
    let ca = Ca::new("CA");
    let pre = Arc::new(Mutex::new(Vec::new()));
    let up = stls_server(&ca.leaf(&[HOST], false), mode, pre.clone()).await;
    let b = bridge_to(&up, Some(&ca), "stlsfail").await;
    let (mut ws, ans) = session(&b, json!({"host": HOST, "port": 110, "security": "stls"})).await;
    assert_eq!(ans["ok"], false, "{ans}");
    let code = ans["error"]["code"].as_str().unwrap().to_string();
    assert!(codes.contains(&code.as_str()), "{ans}");
    let (data, _) = read_until_close(&mut ws).await;
    assert!(data.is_empty(), "no byte may reach the client");
    pre.lock().unwrap().clone()
}

#[tokio::test]
async fn stls_response_injection_in_the_same_segment_aborts() {
    stls_failure(Stls::InjectSameSegment, &["stls_injection"]).await;
}

#[tokio::test]
async fn stls_response_injection_in_a_later_segment_aborts() {
    // The injected plaintext is read by the TLS handshake, which fails: still an abort.
    stls_failure(Stls::InjectLater, &["stls_injection", "tls_handshake"]).await;
}

#[tokio::test]
async fn data_pipelined_after_the_greeting_aborts() {
    stls_failure(Stls::ChattyGreeting, &["stls_injection"]).await;
}

#[tokio::test]
async fn refused_stls_never_continues_in_plaintext() {
    let pre = stls_failure(Stls::Refuse, &["stls_refused"]).await;
    assert_eq!(
        pre, b"STLS\r\n",
        "the bridge sent something after the refusal"
    );
}

#[tokio::test]
async fn okay_is_not_ok_after_stls() {
    // The client core's rule: `+OK` must stand alone or be followed by a space. A bridge that
    // took `+OKAY` for yes would do TLS on a server that never agreed to it.
    let pre = stls_failure(Stls::Okay, &["stls_refused"]).await;
    assert_eq!(pre, b"STLS\r\n");
}

#[tokio::test]
async fn silent_stls_answer_times_out() {
    stls_failure(Stls::Silent, &["stls_timeout"]).await;
}

/// A TCP stream that keeps a copy of every byte read from it, plaintext or TLS records.
struct Recorded {
    tcp: TcpStream,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl tokio::io::AsyncRead for Recorded {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = std::pin::Pin::new(&mut self.tcp).poll_read(cx, buf);
        if let std::task::Poll::Ready(Ok(())) = r {
            let new = buf.filled()[before..].to_vec();
            self.seen.lock().unwrap().extend_from_slice(&new);
        }
        r
    }
}

impl tokio::io::AsyncWrite for Recorded {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.tcp).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.tcp).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

/// Everything one connection to [`recording_stls_server`] received.
#[derive(Debug)]
struct Received {
    /// Every byte off the wire, from the connect to the end: plaintext, then TLS records.
    wire: Vec<u8>,
    /// Every byte received inside TLS, if a handshake happened.
    inside_tls: Vec<u8>,
}

/// Offers STLS but answers it only `delay` after the command arrived (and tells `stls_seen`
/// it did), reading and recording everything that comes in meanwhile; then, if the bridge is
/// still there, does the TLS handshake and records everything that arrives inside TLS. When
/// the bridge closes the connection, sends what it received.
async fn recording_stls_server(
    leaf: &Leaf,
    delay: Duration,
    stls_seen: Arc<tokio::sync::Notify>,
) -> (FakeServer, tokio::sync::mpsc::UnboundedReceiver<Received>) {
    let acc = TlsAcceptor::from(leaf.server_config());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let up = fake_server(move |tcp| {
        let (acc, tx, stls_seen) = (acc.clone(), tx.clone(), stls_seen.clone());
        async move {
            let wire = Arc::new(Mutex::new(Vec::new()));
            let mut s = Recorded {
                tcp,
                seen: wire.clone(),
            };
            let mut inside_tls = Vec::new();
            let _ = s.write_all(b"+OK ready <1.2@x>\r\n").await;
            let mut buf = [0u8; 4096];
            let mut answer_at = None;
            let still_open = loop {
                let stls = wire.lock().unwrap().windows(6).any(|w| w == b"STLS\r\n");
                if answer_at.is_none() && stls {
                    answer_at = Some(tokio::time::Instant::now() + delay);
                    stls_seen.notify_one();
                }
                let n = match answer_at {
                    None => s.read(&mut buf).await,
                    Some(at) => match tokio::time::timeout_at(at, s.read(&mut buf)).await {
                        Ok(r) => r,
                        Err(_) => break true,
                    },
                };
                if !matches!(n, Ok(n) if n > 0) {
                    break false;
                }
            };
            if still_open
                && s.write_all(b"+OK begin TLS\r\n").await.is_ok()
                && let Ok(mut tls) = acc.accept(s).await
            {
                while let Ok(n) = tls.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    inside_tls.extend_from_slice(&buf[..n]);
                }
            }
            let wire = wire.lock().unwrap().clone();
            let _ = tx.send(Received { wire, inside_tls });
        }
    })
    .await;
    (up, rx)
}

#[tokio::test]
async fn client_data_before_the_session_is_ready_aborts_and_is_never_forwarded() {
    // STLS command injection: the browser sends a command before TLS is up, either pipelined
    // with the connect request or while the server takes its time to answer STLS.
    let ca = Ca::new("CA");
    for during_stls_wait in [false, true] {
        let stls_seen = Arc::new(tokio::sync::Notify::new());
        let (up, mut received) = recording_stls_server(
            &ca.leaf(&[HOST], false),
            Duration::from_secs(1),
            stls_seen.clone(),
        )
        .await;
        let conn = RedirectConnector::new(up.addr);
        let mut c = test_config();
        c.extra_ca = vec![ca.write_pem("cmdinj")];
        let b = TestBridge::start_with(c, Some(resolver()), Some(conn.clone())).await;
        let mut ws = ws_connect(&b).await.unwrap();
        ws.send(Message::text(
            json!({"host": HOST, "port": 110, "security": "stls"}).to_string(),
        ))
        .await
        .unwrap();
        if during_stls_wait {
            tokio::time::timeout(Duration::from_secs(10), stls_seen.notified())
                .await
                .expect("the bridge never sent STLS");
        }
        ws.send(Message::binary(b"USER alice\r\n".to_vec()))
            .await
            .unwrap();
        let ans = request_answer(&mut ws).await;
        expect_error(&mut ws, &ans, "protocol_violation", 4000).await;
        if conn.seen().is_empty() {
            // Pipelined: the bridge saw the command before it even dialled the server.
            assert!(!during_stls_wait);
            continue;
        }
        // The server's record is complete once the bridge has closed that connection.
        let got = tokio::time::timeout(Duration::from_secs(10), received.recv())
            .await
            .expect("the server connection outlived the session")
            .unwrap();
        if during_stls_wait {
            assert!(got.wire.starts_with(b"STLS\r\n"), "{got:?}");
        }
        let forwarded = |b: &[u8]| b.windows(10).any(|w| w == b"USER alice");
        assert!(!forwarded(&got.wire), "forwarded on the wire: {got:?}");
        assert!(!forwarded(&got.inside_tls), "forwarded inside TLS: {got:?}");
    }
}

async fn request_answer(ws: &mut Ws) -> serde_json::Value {
    use futures_util::StreamExt;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return serde_json::from_str(t.as_str()).unwrap(),
            Some(Ok(_)) => continue,
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn plaintext_is_refused_by_default() {
    let up = echo_server().await;
    let conn = RedirectConnector::new(up.addr);
    let b = TestBridge::start_with(test_config(), Some(resolver()), Some(conn.clone())).await;
    let (mut ws, ans) = session(&b, json!({"host": HOST, "port": 110, "security": "plain"})).await;
    expect_error(&mut ws, &ans, "plaintext_refused", 4003).await;
    assert!(conn.seen().is_empty());
}

#[tokio::test]
async fn plaintext_can_be_allowed_for_one_configured_server() {
    let up = echo_server().await;
    let mut c = test_config();
    c.servers = vec![ServerConfig {
        host: HOST.into(),
        allow_plaintext: true,
        ..ServerConfig::default()
    }];
    let r = Arc::new(
        FakeResolver::new()
            .answer(HOST, &[ip(PUBLIC)])
            .answer("pop.other.com", &[ip(PUBLIC)]),
    );
    let b = TestBridge::start_with(c, Some(r), Some(RedirectConnector::new(up.addr))).await;
    let (_ws, ans) = session(&b, json!({"host": HOST, "port": 110, "security": "plain"})).await;
    assert_eq!(ans["ok"], true, "{ans}");
    assert_eq!(ans["insecure"], true);
    let (mut ws, ans) = session(
        &b,
        json!({"host": "pop.other.com", "port": 110, "security": "plain"}),
    )
    .await;
    expect_error(&mut ws, &ans, "plaintext_refused", 4003).await;
}

#[tokio::test]
async fn unreachable_server_reports_connect_failed() {
    // Bind then drop a listener to get a closed loopback port.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let conn = RedirectConnector::new(port);
    let b = TestBridge::start_with(test_config(), Some(resolver()), Some(conn)).await;
    let (mut ws, ans) = session(&b, json!({"host": HOST, "port": 995, "security": "tls"})).await;
    expect_error(&mut ws, &ans, "connect_failed", 4005).await;
}

#[tokio::test]
async fn silent_tls_server_times_out() {
    // Accepts TCP, then never answers the ClientHello.
    let up = fake_server(|s| async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(s);
    })
    .await;
    let b = bridge_to(&up, None, "silenttls").await;
    let t = std::time::Instant::now();
    let (mut ws, ans) = session(&b, json!({"host": HOST, "port": 995, "security": "tls"})).await;
    expect_error(&mut ws, &ans, "tls_timeout", 4006).await;
    assert!(t.elapsed() < Duration::from_secs(4));
}
