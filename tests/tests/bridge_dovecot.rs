//! The real bridge against a real Dovecot, with a real WebSocket client: plaintext refused by
//! default, STLS done by the bridge on the plain port, implicit TLS on the TLS port, and a
//! whole POP3 dialogue (login, STAT, RETR, QUIT) relayed byte-exact.

use std::time::Duration;

use e2e::{Dovecot, DovecotOptions, Mailbox};
use futures_util::{SinkExt, StreamExt};
use pop3_bridge::{Bridge, Config};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Ws = WebSocketStream<TcpStream>;

struct Running {
    addr: std::net::SocketAddr,
    _stop: oneshot::Sender<()>,
}

async fn bridge_for(d: &Dovecot) -> Running {
    let mut c = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    };
    // What `cargo xtask run` passes: the local Dovecot is allow-listed explicitly.
    c.allow_hosts = vec!["localhost".into(), "127.0.0.1".into()];
    c.allow_ports = vec![d.plain_port(), d.tls_port()];
    c.extra_ca = vec![d.ca_pem_path().to_path_buf()];
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(Bridge::new(c).run(listener, async {
        let _ = rx.await;
    }));
    Running { addr, _stop: tx }
}

async fn open(b: &Running, req: Value) -> (Ws, Value) {
    let mut r = format!("ws://{}/pop3", b.addr)
        .into_client_request()
        .unwrap();
    r.headers_mut()
        .insert("origin", format!("http://{}", b.addr).parse().unwrap());
    r.headers_mut()
        .insert("sec-websocket-protocol", "pop3-bridge.v1".parse().unwrap());
    let tcp = TcpStream::connect(b.addr).await.unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(r, tcp).await.unwrap();
    ws.send(Message::text(req.to_string())).await.unwrap();
    let ans = match ws.next().await {
        Some(Ok(Message::Text(t))) => serde_json::from_str(t.as_str()).unwrap(),
        other => panic!("no answer: {other:?}"),
    };
    (ws, ans)
}

/// Read relayed bytes until `buf` ends with `end`.
async fn read_until(ws: &mut Ws, buf: &mut Vec<u8>, end: &[u8]) {
    while !buf.ends_with(end) {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Binary(b)))) => buf.extend_from_slice(&b),
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            other => panic!(
                "stream ended: {other:?}; so far {:?}",
                String::from_utf8_lossy(buf)
            ),
        }
    }
}

async fn line(ws: &mut Ws) -> String {
    let mut b = Vec::new();
    read_until(ws, &mut b, b"\r\n").await;
    String::from_utf8_lossy(&b).to_string()
}

async fn cmd(ws: &mut Ws, c: &str) -> String {
    ws.send(Message::binary(format!("{c}\r\n").into_bytes()))
        .await
        .unwrap();
    line(ws).await
}

/// USER/PASS, STAT, RETR 1 (compared with what Dovecot stores), QUIT, then close 1000.
async fn dialogue(ws: &mut Ws, d: &Dovecot) {
    assert!(cmd(ws, "USER alice").await.starts_with("+OK"));
    assert!(cmd(ws, "PASS pw-alice").await.starts_with("+OK"));
    assert!(cmd(ws, "STAT").await.starts_with("+OK 2 "));
    ws.send(Message::binary(b"RETR 1\r\n".to_vec()))
        .await
        .unwrap();
    let mut body = Vec::new();
    read_until(ws, &mut body, b"\r\n.\r\n").await;
    assert!(body.starts_with(b"+OK"));
    let start = body.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
    let raw = &body[start..body.len() - 3];
    // Undo dot-stuffing to compare with the stored message.
    let mut unstuffed = Vec::new();
    for l in raw.split_inclusive(|b| *b == b'\n') {
        unstuffed.extend_from_slice(l.strip_prefix(b".").unwrap_or(l));
    }
    assert_eq!(unstuffed, d.expected_bytes("alice", 0));
    assert!(cmd(ws, "QUIT").await.starts_with("+OK"));
    // The server closes after QUIT: the bridge delivers everything, then closes with 1000.
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
            Ok(Some(Ok(Message::Close(Some(c))))) => {
                assert_eq!(u16::from(c.code), 1000);
                break;
            }
            Ok(Some(Ok(Message::Binary(b)))) => panic!("data after QUIT: {b:?}"),
            Ok(Some(Ok(_))) => {}
            other => panic!("no close after QUIT: {other:?}"),
        }
    }
}

async fn dovecot() -> Dovecot {
    Dovecot::start_async(DovecotOptions::new().user("alice", "pw-alice", Mailbox::new(2)))
        .await
        .expect("dovecot starts")
}

#[tokio::test]
async fn plaintext_to_dovecot_is_refused_by_default() {
    let d = dovecot().await;
    let b = bridge_for(&d).await;
    let (_ws, ans) = open(
        &b,
        json!({"host": "localhost", "port": d.plain_port(), "security": "plain"}),
    )
    .await;
    assert_eq!(ans["ok"], false);
    assert_eq!(ans["error"]["code"], "plaintext_refused");
}

#[tokio::test]
async fn stls_through_the_bridge_to_dovecot() {
    let d = dovecot().await;
    let b = bridge_for(&d).await;
    let (mut ws, ans) = open(
        &b,
        json!({"host": "localhost", "port": d.plain_port(), "security": "stls"}),
    )
    .await;
    assert_eq!(ans["ok"], true, "{ans}");
    assert_eq!(ans["tls"]["verified"], true);
    assert!(
        ans["greeting_untrusted"]
            .as_str()
            .unwrap()
            .starts_with("+OK")
    );
    // Inside TLS, no greeting: CAPA first, as after any STLS.
    ws.send(Message::binary(b"CAPA\r\n".to_vec()))
        .await
        .unwrap();
    let mut capa = Vec::new();
    read_until(&mut ws, &mut capa, b"\r\n.\r\n").await;
    let capa = String::from_utf8_lossy(&capa);
    assert!(capa.starts_with("+OK"));
    assert!(
        !capa.contains("STLS"),
        "STLS still offered inside TLS: {capa}"
    );
    dialogue(&mut ws, &d).await;
}

#[tokio::test]
async fn implicit_tls_through_the_bridge_to_dovecot() {
    let d = dovecot().await;
    let b = bridge_for(&d).await;
    let (mut ws, ans) = open(
        &b,
        json!({"host": "localhost", "port": d.tls_port(), "security": "tls"}),
    )
    .await;
    assert_eq!(ans["ok"], true, "{ans}");
    assert_eq!(ans["tls"]["server_name"], "localhost");
    assert!(line(&mut ws).await.starts_with("+OK"), "greeting");
    dialogue(&mut ws, &d).await;
}

#[tokio::test]
async fn dovecot_certificate_is_refused_without_the_test_ca() {
    let d = dovecot().await;
    let mut c = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    };
    c.allow_hosts = vec!["localhost".into()];
    c.allow_ports = vec![d.tls_port()];
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(Bridge::new(c).run(listener, async {
        let _ = rx.await;
    }));
    let b = Running { addr, _stop: tx };
    let (_ws, ans) = open(
        &b,
        json!({"host": "localhost", "port": d.tls_port(), "security": "tls"}),
    )
    .await;
    assert_eq!(ans["error"]["code"], "cert_unknown_issuer", "{ans}");
}
