//! What a bridge in relay mode can see: every byte it relays, recorded on both of its legs (the
//! client's WebSocket, unmasked and unframed, and its TCP connection to Dovecot), holds no
//! password, no message text and no header text: only the greeting, the capability list and
//! the STLS exchange in clear, and TLS records after them.
//!
//! The client is the product's own pieces, natively: the core (`pop3-proto`) with TLS ending in
//! it (`pop3-tls`, what the browser's TLS module wraps), sending `USER`/`PASS` so that the
//! password itself crosses the wire inside TLS. A control run of the same dialogue with the
//! bridge doing TLS shows that the same search finds all of it on the client's leg: the
//! detector can fail.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use e2e::{Dovecot, DovecotOptions, Mailbox};
use futures_util::{SinkExt, StreamExt};
use pop3_bridge::{Bridge, Config};
use pop3_proto::{AuthMethod, Client, Event, Instant, Login, Options, ScanEntry};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const USER: &str = "relayuser";
const PASSWORD: &str = "Pw-only-the-server-may-read-7731";
const MESSAGES: usize = 4;

/// The bytes that went each way through one TCP proxy.
#[derive(Default)]
struct Recording {
    /// From the side that connected (the client, or the bridge) to the other.
    up: Vec<u8>,
    /// Back.
    down: Vec<u8>,
    /// Directions of a connection the proxy started copying (two per connection) …
    opened: usize,
    /// … and those that ended (their source closed, the rest written on).
    ended: usize,
}

/// A TCP proxy to `target` that records both directions of every connection.
async fn recording_proxy(target: u16) -> (u16, Arc<Mutex<Recording>>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let rec = Arc::new(Mutex::new(Recording::default()));
    let r = rec.clone();
    tokio::spawn(async move {
        while let Ok((inbound, _)) = l.accept().await {
            let Ok(outbound) = TcpStream::connect(("127.0.0.1", target)).await else {
                continue;
            };
            let (mut ir, mut iw) = inbound.into_split();
            let (mut or, mut ow) = outbound.into_split();
            let (r1, r2) = (r.clone(), r.clone());
            r.lock().unwrap().opened += 2;
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16384];
                while let Ok(n @ 1..) = ir.read(&mut buf).await {
                    r1.lock().unwrap().up.extend_from_slice(&buf[..n]);
                    if ow.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                let _ = ow.shutdown().await;
                r1.lock().unwrap().ended += 1;
            });
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16384];
                while let Ok(n @ 1..) = or.read(&mut buf).await {
                    r2.lock().unwrap().down.extend_from_slice(&buf[..n]);
                    if iw.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
                let _ = iw.shutdown().await;
                r2.lock().unwrap().ended += 1;
            });
        }
    });
    (port, rec)
}

/// The payload of the binary WebSocket frames in `raw` (one direction of a recorded WebSocket
/// connection, HTTP head included), unmasked and joined.
fn websocket_payload(raw: &[u8]) -> Vec<u8> {
    let head = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP head")
        + 4;
    let mut i = head;
    let mut out = Vec::new();
    while i + 2 <= raw.len() {
        let opcode = raw[i] & 0x0f;
        let masked = raw[i + 1] & 0x80 != 0;
        let mut len = u64::from(raw[i + 1] & 0x7f);
        i += 2;
        if len == 126 {
            len = u64::from(u16::from_be_bytes([raw[i], raw[i + 1]]));
            i += 2;
        } else if len == 127 {
            len = u64::from_be_bytes(raw[i..i + 8].try_into().unwrap());
            i += 8;
        }
        let mask = if masked {
            let m = [raw[i], raw[i + 1], raw[i + 2], raw[i + 3]];
            i += 4;
            Some(m)
        } else {
            None
        };
        let end = (i + len as usize).min(raw.len());
        if matches!(opcode, 0 | 2) {
            out.extend(
                raw[i..end]
                    .iter()
                    .enumerate()
                    .map(|(k, b)| mask.map_or(*b, |m| b ^ m[k % 4])),
            );
        }
        i = end;
    }
    out
}

/// `bytes` is a sequence of whole TLS records (handshake, alert, change cipher spec,
/// application data) and nothing else; the number of records.
fn only_tls_records(bytes: &[u8]) -> Result<usize, String> {
    let mut i = 0;
    let mut n = 0;
    while i < bytes.len() {
        let h = bytes.get(i..i + 5).ok_or("a cut record header")?;
        if !(20..=23).contains(&h[0]) || h[1] != 3 || h[2] > 4 {
            return Err(format!("not a TLS record header at {i}: {:02x?}", h));
        }
        let len = usize::from(u16::from_be_bytes([h[3], h[4]]));
        if len > 16384 + 2048 {
            return Err(format!("a record of {len} bytes at {i}"));
        }
        i += 5 + len;
        n += 1;
    }
    if i == bytes.len() {
        Ok(n)
    } else {
        Err("a cut record".into())
    }
}

/// The first CRLF-terminated line of `bytes` and the rest.
fn line(bytes: &[u8]) -> (&[u8], &[u8]) {
    let end = bytes
        .windows(2)
        .position(|w| w == b"\r\n")
        .map_or(bytes.len(), |p| p + 2);
    bytes.split_at(end)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// What must never be seen by a bridge that only relays: the password, the user name (sent
/// with `USER` inside TLS), each message's subject and a piece of each body.
fn secrets(d: &Dovecot) -> Vec<(String, Vec<u8>)> {
    let mut out = vec![
        ("the password".to_owned(), PASSWORD.as_bytes().to_vec()),
        ("the user name".to_owned(), USER.as_bytes().to_vec()),
    ];
    for i in 0..MESSAGES {
        let m = d.expected_bytes(USER, i);
        let text = String::from_utf8_lossy(&m).into_owned();
        let subject = text
            .lines()
            .find_map(|l| l.strip_prefix("Subject: "))
            .expect("a subject")
            .trim()
            .to_owned();
        out.push((
            format!("the subject of message {}", i + 1),
            subject.into_bytes(),
        ));
        let body = m.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let piece = m[body..].iter().take(40).copied().collect::<Vec<_>>();
        assert!(
            piece.len() >= 16,
            "message {} has a body to look for",
            i + 1
        );
        out.push((format!("a piece of the body of message {}", i + 1), piece));
    }
    out
}

fn found(secrets: &[(String, Vec<u8>)], bytes: &[u8]) -> Vec<String> {
    secrets
        .iter()
        .filter(|(_, s)| contains(bytes, s))
        .map(|(what, _)| what.clone())
        .collect()
}

/// USER and PASS only: the password itself crosses the wire (inside TLS, or not).
fn login() -> Login {
    let mut l = Login::password(USER, PASSWORD, e2e::driver::random_nonce());
    l.methods = Some(vec![AuthMethod::UserPass]);
    l
}

/// One POP3 session through the bridge: USER/PASS login, LIST, RETR of every message, QUIT.
/// With `end_to_end`, TLS (implicit or after STLS, as `security` says) ends here; without,
/// the bridge does it. Returns the messages' bytes.
async fn session(
    bridge_port: u16,
    server_port: u16,
    security: &str,
    end_to_end: bool,
    ca_pem: &str,
) -> Vec<Vec<u8>> {
    let mut req = format!("ws://127.0.0.1:{bridge_port}/pop3")
        .into_client_request()
        .unwrap();
    let h = req.headers_mut();
    h.insert(
        "Origin",
        format!("http://127.0.0.1:{bridge_port}").parse().unwrap(),
    );
    h.insert("Sec-WebSocket-Protocol", "pop3-bridge.v1".parse().unwrap());
    let tcp = TcpStream::connect(("127.0.0.1", bridge_port))
        .await
        .unwrap();
    let (mut ws, _) = tokio_tungstenite::client_async(req, tcp).await.unwrap();
    let mut connect =
        serde_json::json!({"host": "localhost", "port": server_port, "security": security});
    if end_to_end {
        connect["end_to_end"] = "require".into();
    }
    ws.send(Message::text(connect.to_string())).await.unwrap();
    let answer: serde_json::Value = match ws.next().await {
        Some(Ok(Message::Text(t))) => serde_json::from_str(t.as_str()).unwrap(),
        other => panic!("no answer: {other:?}"),
    };
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(
        answer["end_to_end"].as_bool().unwrap_or(false),
        end_to_end,
        "{answer}"
    );

    let mut trust = pop3_tls::Trust::web_pki();
    trust.add_ca_pem(ca_pem).unwrap();
    let config = trust.client_config(pop3_tls::system_time()).unwrap();
    let now = Instant::now;
    let opts = match (security, end_to_end) {
        ("tls", _) => Options::implicit_tls(),
        (_, false) => Options::after_stls(),
        (_, true) => Options::default(),
    };
    let mut core = Client::new(opts, now());
    let mut tls = (security == "tls" && end_to_end)
        .then(|| pop3_tls::ClientSession::new(config.clone(), "localhost").unwrap());
    let mut upgrading = false;
    if security == "stls" && !end_to_end {
        core.authorization().unwrap().login(login()).unwrap();
    }
    let mut messages: Vec<Vec<u8>> = Vec::new();
    let mut current = Vec::new();
    loop {
        // Everything the core and TLS want sent.
        let mut plain = Vec::new();
        while let Some(b) = core.poll_transmit(now()) {
            plain.extend_from_slice(&b);
        }
        let wire = match &mut tls {
            Some(t) => {
                t.send(&plain).unwrap();
                t.take_outgoing()
            }
            None => plain,
        };
        if !wire.is_empty() {
            ws.send(Message::binary(wire)).await.unwrap();
        }
        let mut progressed = false;
        while let Some(e) = core.poll_event() {
            progressed = true;
            match e {
                Event::Greeting(_) if security == "stls" && end_to_end => {
                    core.authorization().unwrap().stls().unwrap();
                }
                Event::Greeting(_) => {
                    core.authorization().unwrap().login(login()).unwrap();
                }
                Event::UpgradeToTls { .. } => {
                    let t = pop3_tls::ClientSession::new(config.clone(), "localhost").unwrap();
                    tls = Some(t);
                    upgrading = true;
                }
                Event::LoggedIn { .. } => {
                    core.transaction().unwrap().list(None);
                }
                Event::List { entries, .. } => {
                    let mut t = core.transaction().unwrap();
                    for ScanEntry { msg, .. } in entries {
                        t.retr(msg);
                    }
                    t.quit();
                }
                Event::MessageData { data, .. } => current.extend_from_slice(&data),
                Event::MessageEnd { .. } => messages.push(std::mem::take(&mut current)),
                Event::Closed { committed, .. } => {
                    assert!(committed);
                    // Reads on until the bridge ends the WebSocket (the server closed), so
                    // every byte the server sent, its TLS close_notify included, reaches this
                    // client and the two legs' recordings can be compared exactly.
                    while let Ok(Some(Ok(m))) =
                        tokio::time::timeout(Duration::from_secs(20), ws.next()).await
                    {
                        if let Message::Close(_) = m {
                            break;
                        }
                    }
                    return messages;
                }
                Event::Failed { error, .. } => panic!("a command failed: {error}"),
                _ => {}
            }
        }
        if progressed {
            continue;
        }
        let frame = tokio::time::timeout(Duration::from_secs(20), ws.next())
            .await
            .expect("the server answers in time");
        let bytes = match frame {
            Some(Ok(Message::Binary(b))) => b.to_vec(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("the session ended early: {other:?}"),
        };
        match &mut tls {
            Some(t) => {
                t.receive(&bytes).unwrap();
                if upgrading && !t.is_handshaking() {
                    upgrading = false;
                    core.tls_established(now()).unwrap();
                    core.authorization().unwrap().login(login()).unwrap();
                }
                let p = t.take_plaintext();
                core.feed(&p, now()).unwrap();
            }
            None => core.feed(&bytes, now()).unwrap(),
        }
    }
}

struct Setup {
    dovecot: Dovecot,
    /// Records the client's WebSocket to the bridge.
    bridge_port: u16,
    client_leg: Arc<Mutex<Recording>>,
    /// Record the bridge's connections to Dovecot's STLS and TLS ports.
    stls_port: u16,
    tls_port: u16,
    server_legs: [Arc<Mutex<Recording>>; 2],
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn setup() -> Setup {
    let dovecot = Dovecot::start_async(DovecotOptions::new().user(
        USER,
        PASSWORD,
        Mailbox::new(MESSAGES).size(2500).seed(5),
    ))
    .await
    .expect("dovecot starts");
    let (stls_port, stls_leg) = recording_proxy(dovecot.plain_port()).await;
    let (tls_port, tls_leg) = recording_proxy(dovecot.tls_port()).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let inner = listener.local_addr().unwrap().port();
    let config = Config {
        listen: listener.local_addr().unwrap(),
        allow_hosts: vec!["localhost".into()],
        allow_ports: vec![stls_port, tls_port],
        // Only for the control run, where the bridge does TLS.
        extra_ca: vec![dovecot.ca_pem_path().to_path_buf()],
        ..Config::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(Bridge::new(config).run(listener, async {
        let _ = stopped.await;
    }));
    let (bridge_port, client_leg) = recording_proxy(inner).await;
    Setup {
        dovecot,
        bridge_port,
        client_leg,
        stls_port,
        tls_port,
        server_legs: [stls_leg, tls_leg],
        _stop: stop,
    }
}

fn take(r: &Arc<Mutex<Recording>>) -> Recording {
    std::mem::take(&mut *r.lock().unwrap())
}

/// Waits until every connection through `r` has closed both ways, so that its last bytes (the
/// QUIT's answer, the TLS close) are recorded. A guard against a hang, not a measure of time.
async fn all_closed(r: &Arc<Mutex<Recording>>, what: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (opened, ended) = {
            let g = r.lock().unwrap();
            (g.opened, g.ended)
        };
        if opened > 0 && ended == opened {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: {ended} of {opened} directions closed after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relaying_bridge_sees_no_password_no_message_and_no_header_text() {
    let s = setup().await;
    let ca = std::fs::read_to_string(s.dovecot.ca_pem_path()).unwrap();
    let secrets = secrets(&s.dovecot);
    let expected: Vec<Vec<u8>> = (0..MESSAGES)
        .map(|i| s.dovecot.expected_bytes(USER, i))
        .collect();

    for (security, port, leg) in [
        ("stls", s.stls_port, &s.server_legs[0]),
        ("tls", s.tls_port, &s.server_legs[1]),
    ] {
        let got = session(s.bridge_port, port, security, true, &ca).await;
        assert_eq!(
            got, expected,
            "{security}: every message arrived byte-exact"
        );
        // Every byte is recorded once both legs have closed (after QUIT).
        all_closed(&s.client_leg, "the client's leg").await;
        all_closed(leg, "the server's leg").await;
        let client = take(&s.client_leg);
        let server = take(leg);
        let (to_server, to_client) = (
            websocket_payload(&client.up),
            websocket_payload(&client.down),
        );
        for (name, bytes, least) in [
            ("client to bridge", &to_server, 300),
            ("bridge to client", &to_client, MESSAGES * 2500),
            ("bridge to server", &server.up, 300),
            ("server to bridge", &server.down, MESSAGES * 2500),
        ] {
            assert!(
                bytes.len() > least,
                "{security} {name}: only {} bytes were recorded",
                bytes.len()
            );
            let seen = found(&secrets, bytes);
            assert!(
                seen.is_empty(),
                "{security} {name}: the bridge could read {seen:?}"
            );
        }
        // What the bridge relayed is what it received, both ways.
        assert_eq!(
            to_server, server.up,
            "{security}: relayed to the server unchanged"
        );
        assert_eq!(
            to_client, server.down,
            "{security}: relayed to the client unchanged"
        );
        // In clear: only the greeting and the STLS exchange; then TLS records to the end.
        let (up, down) = if security == "stls" {
            // The client: CAPA (its core asks whether STLS is offered), then STLS.
            let (capa, up) = line(&server.up);
            assert_eq!(capa, b"CAPA\r\n");
            let (stls, up) = line(up);
            assert_eq!(stls, b"STLS\r\n");
            // The server: its greeting, the capability list, the +OK to STLS.
            let (greeting, mut rest) = line(&server.down);
            assert!(
                greeting.starts_with(b"+OK"),
                "{:?}",
                String::from_utf8_lossy(greeting)
            );
            loop {
                let (l, r) = line(rest);
                rest = r;
                if l == b".\r\n" {
                    break;
                }
                assert!(!l.is_empty(), "the capability list ends");
            }
            let (ok, down) = line(rest);
            assert!(ok.starts_with(b"+OK"), "{:?}", String::from_utf8_lossy(ok));
            (up, down)
        } else {
            (&server.up[..], &server.down[..])
        };
        let records_up = only_tls_records(up).unwrap_or_else(|e| panic!("{security} up: {e}"));
        let records_down =
            only_tls_records(down).unwrap_or_else(|e| panic!("{security} down: {e}"));
        assert!(
            records_up >= 3 && records_down >= 3,
            "{security}: {records_up} / {records_down} records"
        );
    }

    // The control: the same dialogue with TLS at the bridge puts all of it on the client's leg,
    // so the search above would have found it.
    let got = session(s.bridge_port, s.tls_port, "tls", false, &ca).await;
    assert_eq!(got, expected);
    all_closed(&s.client_leg, "the client's leg").await;
    let client = take(&s.client_leg);
    let seen_up = found(&secrets, &websocket_payload(&client.up));
    let seen_down = found(&secrets, &websocket_payload(&client.down));
    assert!(
        seen_up.contains(&"the password".to_owned()),
        "control: {seen_up:?}"
    );
    for (what, _) in secrets.iter().filter(|(w, _)| w.contains("message")) {
        assert!(
            seen_down.contains(what),
            "control: {what} is on the client's leg: {seen_down:?}"
        );
    }
}
