//! The binary reloads on SIGHUP: it reads its configuration file (and the files it names)
//! again, serves the new listener certificate to new connections while a session opened
//! before keeps relaying, and a configuration file that no longer parses is refused with the
//! running configuration kept (and the process alive).

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const BIN: &str = env!("CARGO_BIN_EXE_pop3-bridge");

type Wss = WebSocketStream<tokio_rustls::client::TlsStream<TcpStream>>;

/// The running binary and its log lines (stdout), read on a thread.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Running {
    /// Wait for a log line containing `what` (the bridge's own event, not a timer), up to
    /// 20 s in case it never comes.
    fn wait_for(&self, what: &str) -> String {
        loop {
            match self.lines.recv_timeout(Duration::from_secs(20)) {
                Ok(l) if l.contains(what) => return l,
                Ok(_) => {}
                Err(e) => panic!("no log line with {what:?}: {e}"),
            }
        }
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn replace_file(path: &Path, text: &str) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn tls_connector(ca: &pki::Ca) -> tokio_rustls::TlsConnector {
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
    // Full handshakes only: a resumed session shows the certificate of the one it resumed.
    cfg.resumption = rustls::client::Resumption::disabled();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
}

/// A wss:// session relaying to the echo server, and the listener certificate's SHA-256.
async fn session(tls: &tokio_rustls::TlsConnector, port: u16, upstream: u16) -> (Wss, String) {
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let tls = tls
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .unwrap();
    let fp = {
        use sha2::Digest;
        let ee = &tls.get_ref().1.peer_certificates().unwrap()[0];
        sha2::Sha256::digest(ee.as_ref())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let mut req = format!("wss://localhost:{port}/pop3")
        .into_client_request()
        .unwrap();
    let h = req.headers_mut();
    h.insert(
        "origin",
        format!("https://localhost:{port}").parse().unwrap(),
    );
    h.insert("sec-websocket-protocol", "pop3-bridge.v1".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::client_async(req, tls).await.unwrap();
    let target = json!({"host": "127.0.0.1", "port": upstream, "security": "plain"});
    ws.send(Message::text(target.to_string())).await.unwrap();
    match ws.next().await {
        Some(Ok(Message::Text(t))) => assert!(t.as_str().contains("\"ok\":true"), "{t}"),
        other => panic!("{other:?}"),
    }
    echo(&mut ws, "").await;
    (ws, fp)
}

/// Send `line` (nothing: just read the greeting) and read back what the server sends.
async fn echo(ws: &mut Wss, line: &str) {
    let want: Vec<u8> = if line.is_empty() {
        b"+OK fake POP3 ready\r\n".to_vec()
    } else {
        ws.send(Message::binary(line.as_bytes().to_vec()))
            .await
            .unwrap();
        line.as_bytes().to_vec()
    };
    let mut got = Vec::new();
    while got.len() < want.len() {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Binary(b)))) => got.extend_from_slice(&b),
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            other => panic!("{other:?} after {got:?}"),
        }
    }
    assert_eq!(got, want);
}

#[tokio::test]
async fn sighup_rotates_the_certificate_and_keeps_open_sessions() {
    let up = echo_server().await;
    let ca = pki::Ca::new("Listener CA");
    let (first, second) = (
        ca.leaf(&["localhost"], false),
        ca.leaf(&["localhost"], false),
    );
    let dir = std::env::temp_dir().join(format!("pop3-bridge-sighup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key, toml) = (
        dir.join("cert.pem"),
        dir.join("key.pem"),
        dir.join("bridge.toml"),
    );
    std::fs::write(&cert, &first.cert_pem).unwrap();
    std::fs::write(&key, &first.key_pem).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = format!(
        "listen = \"127.0.0.1:{port}\"\nallow_hosts = [\"127.0.0.1\"]\nallow_ports = [{}]\nallow_plaintext = true\ntls_cert = {cert:?}\ntls_key = {key:?}\n",
        up.addr.port()
    );
    std::fs::write(&toml, &config).unwrap();
    let mut child = Command::new(BIN)
        .arg("--config")
        .arg(&toml)
        .env("POP3_BRIDGE_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let bridge = Running { child, lines };
    bridge.wait_for("pop3-bridge listening");
    let tls = tls_connector(&ca);

    let (mut open, fp) = session(&tls, port, up.addr.port()).await;
    assert_eq!(fp, first.sha256_hex());

    replace_file(&cert, &second.cert_pem);
    replace_file(&key, &second.key_pem);
    bridge.signal("-HUP");
    bridge.wait_for("configuration reloaded");
    echo(&mut open, "STAT after SIGHUP\r\n").await;
    let (mut fresh, fp) = session(&tls, port, up.addr.port()).await;
    assert_eq!(
        fp,
        second.sha256_hex(),
        "SIGHUP did not rotate the certificate"
    );

    // A file that no longer parses: refused, the process lives on with what it had.
    replace_file(&toml, "listen = [\n");
    bridge.signal("-HUP");
    bridge.wait_for("reload refused");
    let (_, fp) = session(&tls, port, up.addr.port()).await;
    assert_eq!(fp, second.sha256_hex());
    echo(&mut open, "LIST\r\n").await;
    echo(&mut fresh, "UIDL\r\n").await;

    bridge.signal("-TERM");
    let _ = open.close(None).await;
    let _ = fresh.close(None).await;
    let mut bridge = bridge;
    let status = bridge.child.wait().unwrap();
    assert!(status.success(), "{status}");
    let _ = std::fs::remove_dir_all(&dir);
}
