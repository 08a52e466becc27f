//! Reloading the configuration while the bridge runs (the binary does it on SIGHUP): the
//! listener certificate, the target policy and the token secret change for new sessions and
//! TLS handshakes, open sessions keep relaying, and a bad new configuration is refused with
//! the running one left in force.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use common::*;
use futures_util::{SinkExt, StreamExt};
use pop3_bridge::{
    BridgeError, Cli, Config, ConfigError, FakeResolver, TokenAuth, TokenClaims, TokenMode,
    now_unix,
};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const GREETING: &[u8] = b"+OK fake POP3 ready\r\n";

/// A bridge whose sessions all reach a local echo server, whatever address they were allowed
/// to (the addresses named are never dialled: see `RedirectConnector`).
async fn bridge(config: Config) -> (TestBridge, Arc<RedirectConnector>) {
    let up = echo_server().await;
    let conn = RedirectConnector::new(up.addr);
    let r = Arc::new(FakeResolver::new().answer("pop.example.com", &[ip(PUBLIC)]));
    let b = TestBridge::start_with(config, Some(r), Some(conn.clone())).await;
    running(&b).await;
    (b, conn)
}

/// Returns once `b` serves connections: `run` has set the bridge up, and a reload reaches it.
/// (Any answer will do, even a failed TLS handshake: it comes from the accept loop.)
async fn running(b: &TestBridge) {
    let _ = b.get("/healthz").await;
}

fn plain_cfg() -> Config {
    let mut c = test_config();
    c.allow_plaintext = true;
    c
}

fn plain(host: &str) -> Value {
    json!({"host": host, "port": 110, "security": "plain"})
}

/// A fresh directory for one test's files.
fn temp_dir(tag: &str) -> PathBuf {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!(
        "pop3-bridge-reload-{}-{tag}-{n}",
        std::process::id()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Replace `path` at once (a rename), as an operator's deploy tool would: a reader sees the
/// old file or the new one, never half of one.
fn replace_file(path: &Path, text: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Send the connect request on any WebSocket and read the answer.
async fn ask<S>(ws: &mut WebSocketStream<S>, req: &Value) -> Value
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    ws.send(Message::text(req.to_string())).await.unwrap();
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return serde_json::from_str(t.as_str()).unwrap(),
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            other => panic!("expected a JSON answer, got {other:?}"),
        }
    }
}

/// Read binary data until exactly `want` has arrived.
async fn expect_bytes<S>(ws: &mut WebSocketStream<S>, want: &[u8])
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut data = Vec::new();
    while data.len() < want.len() {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Binary(b)))) => data.extend_from_slice(&b),
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            other => panic!("expected data, got {other:?} after {data:?}"),
        }
    }
    assert_eq!(data, want);
}

/// One round trip through the relay (the upstream echoes).
async fn relays<S>(ws: &mut WebSocketStream<S>, line: &str)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    ws.send(Message::binary(line.as_bytes().to_vec()))
        .await
        .unwrap();
    expect_bytes(ws, line.as_bytes()).await;
}

/// A session that the bridge accepted and that relays: answer ok, greeting, one echo.
async fn open_session<S>(ws: &mut WebSocketStream<S>, req: &Value)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let ans = ask(ws, req).await;
    assert_eq!(ans["ok"], true, "{ans}");
    expect_bytes(ws, GREETING).await;
    relays(ws, "NOOP first\r\n").await;
}

/// A new session on `b` with `req`: the error code of the answer, or "ok" (the session is
/// then checked to relay and closed).
async fn outcome(b: &TestBridge, req: Value) -> String {
    let (mut ws, ans) = session(b, req).await;
    if ans["ok"] == true {
        expect_bytes(&mut ws, GREETING).await;
        relays(&mut ws, "NOOP\r\n").await;
        let _ = ws.close(None).await;
        "ok".into()
    } else {
        ans["error"]["code"]
            .as_str()
            .unwrap_or("no code")
            .to_string()
    }
}

// ---------- the listener certificate ----------

struct WssClient {
    addr: std::net::SocketAddr,
    connector: tokio_rustls::TlsConnector,
}

impl WssClient {
    fn new(addr: std::net::SocketAddr, ca: &pki::Ca) -> Self {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pemfile::certs(&mut ca.pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        // Full handshakes only: a resumed session shows no certificate (rustls reports the
        // one of the session it resumed).
        cfg.resumption = rustls::client::Resumption::disabled();
        WssClient {
            addr,
            connector: tokio_rustls::TlsConnector::from(Arc::new(cfg)),
        }
    }

    /// A wss:// WebSocket, and the SHA-256 (hex) of the certificate the listener showed.
    async fn connect(
        &self,
    ) -> (
        WebSocketStream<tokio_rustls::client::TlsStream<TcpStream>>,
        String,
    ) {
        let tcp = TcpStream::connect(self.addr).await.unwrap();
        let tls = self
            .connector
            .connect("localhost".try_into().unwrap(), tcp)
            .await
            .unwrap();
        let fingerprint = {
            use sha2::Digest;
            let ee = &tls.get_ref().1.peer_certificates().expect("a certificate")[0];
            sha2::Sha256::digest(ee.as_ref())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        };
        let port = self.addr.port();
        let mut req = format!("wss://localhost:{port}/pop3")
            .into_client_request()
            .unwrap();
        let h = req.headers_mut();
        h.insert(
            "origin",
            format!("https://localhost:{port}").parse().unwrap(),
        );
        h.insert("sec-websocket-protocol", "pop3-bridge.v1".parse().unwrap());
        let (ws, _) = tokio_tungstenite::client_async(req, tls).await.unwrap();
        (ws, fingerprint)
    }
}

#[tokio::test]
async fn the_listener_certificate_rotates_under_open_sessions() {
    let ca = pki::Ca::new("Listener CA");
    let (first, second) = (
        ca.leaf(&["localhost"], false),
        ca.leaf(&["localhost"], false),
    );
    assert_ne!(first.sha256_hex(), second.sha256_hex());
    let dir = temp_dir("cert");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, &first.cert_pem).unwrap();
    std::fs::write(&key, &first.key_pem).unwrap();
    let mut c = plain_cfg();
    c.tls_cert = Some(cert.clone());
    c.tls_key = Some(key.clone());
    let (b, conn) = bridge(c.clone()).await;
    let client = WssClient::new(b.addr, &ca);

    // Two sessions open before the rotation, both on the first certificate.
    let mut open = Vec::new();
    for _ in 0..2 {
        let (mut ws, fp) = client.connect().await;
        assert_eq!(fp, first.sha256_hex());
        open_session(&mut ws, &plain("pop.example.com")).await;
        open.push(ws);
    }

    // The operator puts the new certificate and key in place and reloads (same paths).
    replace_file(&cert, &second.cert_pem);
    replace_file(&key, &second.key_pem);
    b.reloader.reload(c).await.expect("reload");

    // The open sessions still relay, both ways.
    for (i, ws) in open.iter_mut().enumerate() {
        relays(ws, &format!("STAT {i} after the rotation\r\n")).await;
    }
    // A new connection gets the new certificate, and its session works.
    let (mut ws, fp) = client.connect().await;
    assert_eq!(
        fp,
        second.sha256_hex(),
        "the old certificate is still served"
    );
    open_session(&mut ws, &plain("pop.example.com")).await;
    // And the old sessions are unaffected by the new one.
    for ws in &mut open {
        relays(ws, "LIST\r\n").await;
    }
    assert_eq!(conn.seen().len(), 3);
    for mut ws in open.into_iter().chain([ws]) {
        let _ = ws.close(None).await;
    }
    b.stop().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------- the target policy ----------

#[tokio::test]
async fn a_policy_reload_applies_to_new_sessions_and_leaves_open_ones_alone() {
    // Private addresses, opened by the allow-list only (never dialled: RedirectConnector).
    let (a, b_addr) = ("10.20.30.40", "10.20.30.41");
    let mut c = plain_cfg();
    c.allow_hosts = vec![a.into()];
    let (b, conn) = bridge(c.clone()).await;

    let mut open = ws_connect(&b).await.unwrap();
    open_session(&mut open, &plain(a)).await;
    assert_eq!(outcome(&b, plain(b_addr)).await, "target_refused");

    // The allow-list now names the other address only.
    c.allow_hosts = vec![b_addr.into()];
    b.reloader.reload(c).await.expect("reload");

    assert_eq!(outcome(&b, plain(a)).await, "target_refused");
    assert_eq!(outcome(&b, plain(b_addr)).await, "ok");
    // The session opened under the old policy is not cut by the new one.
    relays(&mut open, "RETR 1 after the reload\r\n").await;
    let seen: Vec<String> = conn.seen().iter().map(|s| s.ip().to_string()).collect();
    assert_eq!(seen, [a, b_addr], "connects: {seen:?}");
    let _ = open.close(None).await;
    b.stop().await.unwrap();
}

#[tokio::test]
async fn an_http_connection_kept_alive_across_a_reload_gets_the_new_policy() {
    // A client that opened its HTTP connection before the reload and upgrades it after:
    // the upgrade is checked against the configuration current at the request.
    let a = "10.20.30.50";
    let mut c = plain_cfg();
    c.allow_hosts = vec![a.into()];
    let (b, conn) = bridge(c.clone()).await;
    let tcp = TcpStream::connect(b.addr).await.unwrap();
    {
        // A first request on the connection, answered before the reload.
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
        let mut r = tokio::io::BufReader::new(tcp);
        let host = b.addr.to_string();
        r.get_mut()
            .write_all(format!("GET /healthz HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let mut len = 0;
        let mut line = String::new();
        loop {
            line.clear();
            r.read_line(&mut line).await.unwrap();
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0; len];
        r.read_exact(&mut body).await.unwrap();
        assert!(r.buffer().is_empty());
        c.allow_hosts.clear();
        b.reloader.reload(c).await.expect("reload");
        let mut req = b.url().into_client_request().unwrap();
        let h = req.headers_mut();
        h.insert("origin", b.origin().parse().unwrap());
        h.insert("sec-websocket-protocol", "pop3-bridge.v1".parse().unwrap());
        let (mut ws, _) = tokio_tungstenite::client_async(req, r.into_inner())
            .await
            .unwrap();
        let ans = ask(&mut ws, &plain(a)).await;
        assert_eq!(ans["error"]["code"], "target_refused", "{ans}");
    }
    assert!(conn.seen().is_empty());
    b.stop().await.unwrap();
}

// ---------- tokens ----------

const OLD_SECRET: &str = "0123456789abcdef-the-old-secret";
const NEW_SECRET: &str = "fedcba9876543210-the-new-secret";

fn mint(secret: &str) -> String {
    TokenAuth::new(TokenMode::Hmac, secret).mint(&TokenClaims {
        host: "pop.example.com".into(),
        port: 110,
        exp: now_unix() + 600,
        nbf: None,
    })
}

fn with_token(token: &str) -> Value {
    json!({"host": "pop.example.com", "port": 110, "security": "plain", "token": token})
}

#[tokio::test]
async fn tokens_minted_with_the_old_secret_stop_working_after_a_reload() {
    let mut c = plain_cfg();
    c.token_secret = Some(OLD_SECRET.into());
    let (b, _) = bridge(c.clone()).await;
    let old_token = mint(OLD_SECRET);
    let mut open = ws_connect(&b).await.unwrap();
    open_session(&mut open, &with_token(&old_token)).await;
    assert_eq!(
        outcome(&b, with_token(&mint(NEW_SECRET))).await,
        "token_invalid"
    );

    c.token_secret = Some(NEW_SECRET.into());
    b.reloader.reload(c).await.expect("reload");

    assert_eq!(outcome(&b, with_token(&old_token)).await, "token_invalid");
    assert_eq!(outcome(&b, with_token(&mint(NEW_SECRET))).await, "ok");
    relays(&mut open, "UIDL after the new secret\r\n").await;
    let _ = open.close(None).await;
    b.stop().await.unwrap();
}

// ---------- bad configurations ----------

/// A connect request for `host` with an HMAC token minted with `secret`.
fn tokened(secret: &str, host: &str) -> Value {
    let token = TokenAuth::new(TokenMode::Hmac, secret).mint(&TokenClaims {
        host: host.into(),
        port: 110,
        exp: now_unix() + 600,
        nbf: None,
    });
    json!({"host": host, "port": 110, "security": "plain", "token": token})
}

#[tokio::test]
async fn a_bad_config_on_reload_is_refused_and_the_running_one_stays() {
    let ca = pki::Ca::new("Listener CA");
    let leaf = ca.leaf(&["localhost"], false);
    let dir = temp_dir("bad");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, &leaf.cert_pem).unwrap();
    std::fs::write(&key, &leaf.key_pem).unwrap();
    let (allowed, other) = ("10.20.30.60", "10.20.30.61");
    let mut good = plain_cfg();
    good.allow_hosts = vec![allowed.into()];
    good.token_secret = Some(OLD_SECRET.into());
    good.tls_cert = Some(cert.clone());
    good.tls_key = Some(key.clone());
    let (b, _) = bridge(good.clone()).await;
    let client = WssClient::new(b.addr, &ca);
    let (mut open, _) = client.connect().await;
    open_session(&mut open, &tokened(OLD_SECRET, allowed)).await;

    // Every bad configuration also opens another address, rotates the secret and names a new
    // certificate: if any part of a refused configuration were applied, the checks below
    // would see it.
    let next = ca.leaf(&["localhost"], false);
    let (next_cert, next_key) = (dir.join("next-cert.pem"), dir.join("next-key.pem"));
    std::fs::write(&next_cert, &next.cert_pem).unwrap();
    std::fs::write(&next_key, &next.key_pem).unwrap();
    let base = Config {
        allow_hosts: vec![allowed.into(), other.into()],
        token_secret: Some(NEW_SECRET.into()),
        tls_cert: Some(next_cert.clone()),
        tls_key: Some(next_key.clone()),
        ..good.clone()
    };
    type Check = fn(&BridgeError) -> bool;
    let bad: Vec<(&str, Config, Check)> = vec![
        (
            "an allow-list entry that does not parse",
            Config {
                allow_hosts: vec![other.into(), "not a host!".into()],
                ..base.clone()
            },
            |e| matches!(e, BridgeError::Config(ConfigError::Invalid(_))),
        ),
        (
            "a token secret too short",
            Config {
                token_secret: Some("short".into()),
                ..base.clone()
            },
            |e| matches!(e, BridgeError::Config(ConfigError::Invalid(_))),
        ),
        (
            "a CA file that does not exist",
            Config {
                extra_ca: vec![dir.join("missing-ca.pem")],
                ..base.clone()
            },
            |e| matches!(e, BridgeError::Tls(pop3_bridge::TlsSetupError::Read(..))),
        ),
        (
            "a pin that is not a SHA-256",
            Config {
                servers: vec![pop3_bridge::ServerConfig {
                    host: "pop.example.com".into(),
                    pin_sha256: vec!["abcd".into()],
                    ..Default::default()
                }],
                ..base.clone()
            },
            |e| matches!(e, BridgeError::Tls(pop3_bridge::TlsSetupError::Bad(..))),
        ),
        (
            "a listener certificate with another certificate's key",
            Config {
                tls_key: Some(key.clone()),
                ..base.clone()
            },
            |e| matches!(e, BridgeError::Tls(pop3_bridge::TlsSetupError::Bad(..))),
        ),
        (
            "a listener key file that does not exist",
            Config {
                tls_key: Some(dir.join("missing-key.pem")),
                ..base.clone()
            },
            |e| matches!(e, BridgeError::Tls(pop3_bridge::TlsSetupError::Read(..))),
        ),
        (
            "a listener certificate without its key",
            Config {
                tls_key: None,
                ..base.clone()
            },
            |e| matches!(e, BridgeError::Config(ConfigError::Invalid(_))),
        ),
    ];
    for (what, config, expected) in bad {
        let e = b.reloader.reload(config).await.unwrap_err();
        assert!(expected(&e), "{what}: unexpected error {e:?}");
        // The running configuration is untouched, all of it: certificate, secret, policy.
        let (mut ws, fp) = client.connect().await;
        assert_eq!(fp, leaf.sha256_hex(), "{what}: the certificate changed");
        open_session(&mut ws, &tokened(OLD_SECRET, allowed)).await;
        let _ = ws.close(None).await;
        let (mut ws, _) = client.connect().await;
        let ans = ask(&mut ws, &tokened(NEW_SECRET, allowed)).await;
        assert_eq!(ans["error"]["code"], "token_invalid", "{what}: {ans}");
        let (mut ws, _) = client.connect().await;
        let ans = ask(&mut ws, &tokened(OLD_SECRET, other)).await;
        assert_eq!(ans["error"]["code"], "target_refused", "{what}: {ans}");
        relays(&mut open, "NOOP still here\r\n").await;
    }
    // The same changes without a fault are accepted: the refusals were the faults'.
    b.reloader.reload(base).await.expect("the good config");
    let (mut ws, fp) = client.connect().await;
    assert_eq!(fp, next.sha256_hex());
    open_session(&mut ws, &tokened(NEW_SECRET, other)).await;
    relays(&mut open, "QUIT\r\n").await;
    b.stop().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_session_limit_that_needs_a_restart_keeps_its_running_value_on_reload() {
    let mut c = plain_cfg();
    c.limits.max_sessions_per_ip = 2;
    let (b, _) = bridge(c.clone()).await;
    c.limits.max_sessions_per_ip = 1;
    c.allow_hosts = vec!["10.20.30.70".into()];
    b.reloader.reload(c).await.expect("reload");
    // The reloadable part applied ...
    assert_eq!(outcome(&b, plain("10.20.30.70")).await, "ok");
    // ... the limit did not: two sessions from one address are still fine.
    let mut one = ws_connect(&b).await.unwrap();
    open_session(&mut one, &plain("pop.example.com")).await;
    let mut two = ws_connect(&b).await.expect("a second session");
    open_session(&mut two, &plain("pop.example.com")).await;
    b.stop().await.unwrap();
}

#[tokio::test]
async fn a_reload_before_or_after_run_says_the_bridge_is_not_running() {
    let bridge = pop3_bridge::Bridge::new(test_config());
    let reloader = bridge.reloader();
    assert!(matches!(
        reloader.reload(test_config()).await,
        Err(BridgeError::NotRunning)
    ));
    let b = TestBridge::start(test_config()).await;
    running(&b).await;
    let reloader = b.reloader.clone();
    reloader.reload(test_config()).await.expect("running");
    b.stop().await.unwrap();
    assert!(matches!(
        reloader.reload(test_config()).await,
        Err(BridgeError::NotRunning)
    ));
}

// ---------- re-reading the configuration as at start-up ----------

#[test]
fn reload_config_reads_the_file_again() {
    let dir = temp_dir("toml");
    let file = dir.join("bridge.toml");
    std::fs::write(&file, "allow_hosts = [\"10.20.30.80\"]\n").unwrap();
    let cli = Cli::try_parse_from([
        "pop3-bridge",
        "--config",
        file.to_str().unwrap(),
        "--allow-port",
        "2110",
    ])
    .unwrap();
    let c = cli.opts.reload_config().unwrap();
    assert_eq!(c.allow_hosts, ["10.20.30.80"]);
    assert_eq!(c.allow_ports, [2110]);
    replace_file(&file, "allow_hosts = [\"10.20.30.81\"]\n");
    let c = cli.opts.reload_config().unwrap();
    assert_eq!(
        c.allow_hosts,
        ["10.20.30.81"],
        "the file was not read again"
    );
    assert_eq!(c.allow_ports, [2110], "the flags were lost");
    replace_file(&file, "allow_hosts = [\"10.20.30.81\"\n");
    assert!(matches!(
        cli.opts.reload_config(),
        Err(ConfigError::Parse(..))
    ));
    let _ = std::fs::remove_dir_all(&dir);
}
