//! TLS that ends in the browser, in headless Chromium and Firefox: runs the wasm client's
//! end-to-end tests (client-wasm/pop3-web/tests/end_to_end.rs) through wasm-bindgen-test-runner
//! against a real bridge (in this process), a real Dovecot, and servers with an expired
//! certificate, one for another name, one from an unknown CA, and an STLS answer with bytes
//! injected after it.
//!
//! The bridge trusts Dovecot's CA itself (`extra_ca`): `"prefer"` then gets the bridge's TLS,
//! and `endToEnd: true` must still refuse that certificate unless the page trusts the CA. The
//! certificate and STLS checks are the ones bridge/pop3-bridge/tests/tls_stls.rs runs against
//! the bridge's own TLS.
//!
//! Then the shipped page (in Chromium): the bridge serves web/ with its
//! Content-Security-Policy, and a page there imports web/pop3.js, whose TLS engine must run in
//! web/tls-worker.js, and on the page itself where there is no `Worker`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

use e2e::browser::{Browser, BrowserKind, web_root};
use e2e::certs::{IssuedCert, TestCa, Validity, self_signed};
use e2e::loopback::LoopbackOnly;
use e2e::wasm_tests::{self, Driver};
use e2e::{Dovecot, DovecotOptions, Mailbox};
use pop3_bridge::{Bridge, Config};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn tls_acceptor(cert: &IssuedCert) -> tokio_rustls::TlsAcceptor {
    let certs: Vec<_> = rustls_pemfile::certs(&mut cert.cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .unwrap();
    let key = rustls_pemfile::private_key(&mut cert.key_pem.as_bytes())
        .unwrap()
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// A TLS server with `cert` that greets when a handshake succeeds (it must not, here).
async fn tls_server(cert: &IssuedCert) -> u16 {
    let acceptor = tls_acceptor(cert);
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = l.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut s) = acceptor.accept(tcp).await {
                    let _ = s.write_all(b"+OK fake\r\n").await;
                    let mut buf = [0u8; 512];
                    while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
                }
            });
        }
    });
    port
}

/// A plain server that answers STLS with `+OK` and, in the same segment, a line of its own:
/// what an attacker on the path injects to be read as if it came after TLS.
async fn injecting_stls_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = l.accept().await {
            tokio::spawn(async move {
                let _ = tcp.write_all(b"+OK ready\r\n").await;
                let mut got = Vec::new();
                let mut buf = [0u8; 512];
                loop {
                    let Some(end) = got.windows(2).position(|w| w == b"\r\n") else {
                        match tcp.read(&mut buf).await {
                            Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
                            _ => return,
                        }
                        continue;
                    };
                    let line: Vec<u8> = got.drain(..end + 2).collect();
                    let answer: &[u8] = match line.to_ascii_uppercase().as_slice() {
                        b"CAPA\r\n" => b"+OK\r\nSTLS\r\nUSER\r\n.\r\n",
                        b"STLS\r\n" => b"+OK go ahead\r\n+OK injected\r\n",
                        _ => b"-ERR no\r\n",
                    };
                    if tcp.write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

/// The handshake answer names the subprotocol the browser offered (a browser drops a WebSocket
/// whose answer names none).
// The `Err` type is tungstenite's callback contract (an HTTP response), not ours to shrink.
#[allow(clippy::result_large_err)]
fn echo_subprotocol(
    req: &Request,
    mut resp: Response,
) -> Result<Response, tokio_tungstenite::tungstenite::handshake::server::ErrorResponse> {
    if let Some(p) = req.headers().get("Sec-WebSocket-Protocol") {
        resp.headers_mut()
            .insert("Sec-WebSocket-Protocol", p.clone());
    }
    Ok(resp)
}

/// How many connect requests the old bridge saw with and without `end_to_end`, and the access
/// token each carried.
#[derive(Default)]
struct OldBridgeCounts {
    with_end_to_end: AtomicUsize,
    without: AtomicUsize,
    tokens: std::sync::Mutex<Vec<Option<String>>>,
}

/// The access token the wasm tests give the old bridge: the retry without `end_to_end` must
/// carry it again, although the session drops it once its request is answered.
const OLD_BRIDGE_TOKEN: &str = "old-bridge-access-token";

/// A bridge as it was before relay mode, as far as a client can tell: it refuses a connect
/// request with a field it does not know (`end_to_end`) as `bad_request`, and for any other
/// request does TLS to `tls_port` itself (trusting `ca`) and relays. Not the product's code:
/// the old version of the bridge is not at hand, and this is all of its behaviour the retry
/// depends on.
async fn old_bridge(tls_port: u16, ca: Arc<TestCa>, counts: Arc<OldBridgeCounts>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let connector = {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(ca.root_store())
            .with_no_client_auth();
        tokio_rustls::TlsConnector::from(Arc::new(config))
    };
    tokio::spawn(async move {
        while let Ok((tcp, _)) = l.accept().await {
            let (connector, counts) = (connector.clone(), counts.clone());
            tokio::spawn(async move {
                let echo = echo_subprotocol;
                let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(tcp, echo).await else {
                    return;
                };
                let Some(Ok(Message::Text(req))) = ws.next().await else {
                    return;
                };
                let req: serde_json::Value = serde_json::from_str(req.as_str()).unwrap();
                let token = req.get("token").and_then(|t| t.as_str()).map(str::to_owned);
                counts.tokens.lock().unwrap().push(token);
                if req.get("end_to_end").is_some() {
                    counts.with_end_to_end.fetch_add(1, Ordering::SeqCst);
                    let refusal = serde_json::json!({"ok": false, "error": {
                        "code": "bad_request",
                        "message": "The request was not understood.",
                        "detail": "invalid request: unknown field `end_to_end`"}});
                    let _ = ws.send(Message::text(refusal.to_string())).await;
                    let _ = ws.close(None).await;
                    return;
                }
                counts.without.fetch_add(1, Ordering::SeqCst);
                let tcp = tokio::net::TcpStream::connect(("127.0.0.1", tls_port))
                    .await
                    .unwrap();
                let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
                let mut tls = connector.connect(name, tcp).await.unwrap();
                let ok = serde_json::json!({"ok": true, "security": "tls",
                    "peer": format!("127.0.0.1:{tls_port}"), "insecure": false});
                ws.send(Message::text(ok.to_string())).await.unwrap();
                let mut buf = vec![0u8; 16384];
                loop {
                    tokio::select! {
                        m = ws.next() => match m {
                            Some(Ok(Message::Binary(b))) => {
                                if tls.write_all(&b).await.is_err() { return; }
                            }
                            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                            _ => return,
                        },
                        n = tls.read(&mut buf) => match n {
                            Ok(n @ 1..) => {
                                if ws.send(Message::binary(buf[..n].to_vec())).await.is_err() { return; }
                            }
                            _ => { let _ = ws.close(None).await; return; }
                        },
                    }
                }
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_ends_in_chromium_and_firefox_with_the_same_certificate_and_stls_checks() {
    let ca = Arc::new(TestCa::new().unwrap());
    let leaf = ca.issue_localhost().unwrap();
    let leaf_der = rustls_pemfile::certs(&mut leaf.cert_pem.as_bytes())
        .next()
        .unwrap()
        .unwrap();
    let pin = hex(&Sha256::digest(leaf_der.as_ref()));
    let d = Dovecot::start(DovecotOptions::new().ca(ca.clone()).server_cert(leaf).user(
        "web",
        "pw-web",
        Mailbox::new(3),
    ))
    .expect("dovecot starts");
    let first_len = d.expected_bytes("web", 0).len();

    let expired = tls_server(&ca.issue(&["localhost"], Validity::Expired).unwrap()).await;
    let wrong_name = tls_server(&ca.issue(&["mail.example.org"], Validity::Valid).unwrap()).await;
    let unknown_ca = tls_server(&self_signed(&["localhost"]).unwrap()).await;
    let injection = injecting_stls_server().await;
    let counts = Arc::new(OldBridgeCounts::default());
    let old = old_bridge(d.tls_port(), ca.clone(), counts.clone()).await;

    // The test page's origin must be allowed by the bridge, so pin the runner's address.
    let page = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let page_addr = page.local_addr().unwrap();
    drop(page);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bridge_addr = listener.local_addr().unwrap();
    // The bridge may reach these, and its connector dials nothing else.
    let ports = vec![
        d.plain_port(),
        d.tls_port(),
        expired,
        wrong_name,
        unknown_ca,
        injection,
    ];
    let config = Config {
        listen: bridge_addr,
        allow_hosts: vec!["localhost".into()],
        allow_ports: ports.clone(),
        // The bridge's own trust: what `"prefer"` lets it use and `endToEnd: true` ignores.
        extra_ca: vec![d.ca_pem_path().to_path_buf()],
        // The runner's test page, and the bridge's own pages (web/, below).
        origins: vec![
            format!("http://{page_addr}"),
            format!("http://{bridge_addr}"),
        ],
        web_root: Some(web_root()),
        ..Config::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let bridge = tokio::spawn(
        Bridge::new(config)
            .with_connector(Arc::new(LoopbackOnly::new(ports)))
            .run(listener, async {
                let _ = stopped.await;
            }),
    );

    let env = vec![
        ("POP3_E2E_BRIDGE", format!("ws://{bridge_addr}/pop3")),
        ("POP3_E2E_CA_PEM", ca.cert_pem().to_owned()),
        ("POP3_E2E_TLS_PORT", d.tls_port().to_string()),
        ("POP3_E2E_PLAIN_PORT", d.plain_port().to_string()),
        ("POP3_E2E_DOVECOT_PIN", pin),
        ("POP3_E2E_EXPIRED_PORT", expired.to_string()),
        ("POP3_E2E_WRONG_NAME_PORT", wrong_name.to_string()),
        ("POP3_E2E_UNKNOWN_CA_PORT", unknown_ca.to_string()),
        ("POP3_E2E_INJECTION_PORT", injection.to_string()),
        ("POP3_E2E_FIRST_MESSAGE_LEN", first_len.to_string()),
        ("POP3_E2E_OLD_BRIDGE", format!("ws://127.0.0.1:{old}/pop3")),
        ("POP3_E2E_OLD_BRIDGE_TOKEN", OLD_BRIDGE_TOKEN.to_owned()),
        ("WASM_BINDGEN_TEST_ADDRESS", page_addr.to_string()),
    ];
    let (chromium, firefox) = tokio::task::spawn_blocking(move || {
        let chromium = wasm_tests::run("end_to_end", Driver::Chromium, &env);
        let firefox = wasm_tests::run("end_to_end", Driver::Firefox, &env);
        (chromium, firefox)
    })
    .await
    .unwrap();
    let bridge_url = format!("ws://{bridge_addr}/pop3");
    let page = format!("http://{bridge_addr}/example.html");
    // Chromium only: in Firefox a WebDriver script runs in a sandbox in which a session it
    // starts stalls, with or without a worker (seen here); Firefox runs web/tls-worker.js
    // through the wasm tests above and the shipped UI through tests/tests/ui_real.rs.
    let mut engines = Vec::new();
    for worker in [true, false] {
        let r =
            engine_on_the_shipped_page(BrowserKind::Chromium, &page, &bridge_url, &d, worker).await;
        engines.push((worker, r));
    }
    let _ = stop.send(());
    let _ = bridge.await;
    assert!(
        chromium,
        "the end-to-end tests failed in Chromium (output above)"
    );
    assert!(
        firefox,
        "the end-to-end tests failed in Firefox (output above)"
    );
    for (worker, r) in engines {
        let expected = if worker { "worker" } else { "in-thread" };
        assert_eq!(
            r.get("engine").and_then(|e| e.as_str()),
            Some(expected),
            "the shipped page in Chromium, Worker {}: {r}",
            if worker { "available" } else { "removed" }
        );
        assert_eq!(
            r.get("bytes").and_then(|b| b.as_u64()),
            Some(first_len as u64),
            "the first message, read through TLS in the page: {r}"
        );
    }
    // In each browser: "prefer" asked with end_to_end, then again without; `true` only with.
    assert_eq!(counts.with_end_to_end.load(Ordering::SeqCst), 4);
    assert_eq!(counts.without.load(Ordering::SeqCst), 2);
    // Every one of those six requests carried the token, the retries included.
    let tokens = counts.tokens.lock().unwrap().clone();
    assert_eq!(tokens, vec![Some(OLD_BRIDGE_TOKEN.to_owned()); 6]);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// In a page of the bridge's own UI (web/): connect with TLS ending in the page, read the first
/// message, quit. `{ engine, bytes }` (`session.tls.engine`) or `{ error }`. Without `worker`,
/// the page has no `Worker` (as in a runtime without one), set before web/pop3.js loads.
async fn engine_on_the_shipped_page(
    kind: BrowserKind,
    page: &str,
    bridge_url: &str,
    d: &Dovecot,
    worker: bool,
) -> serde_json::Value {
    // The script returns its promise, which WebDriver waits for: Firefox runs a script in a
    // sandbox that does not outlive it, so work left running after it returned would stop.
    const SCRIPT: &str = r#"
const [bridgeUrl, port, ca, worker] = arguments;
if (!worker) globalThis.Worker = undefined;
return (async () => {
  try {
    const m = await import('/pop3.js');
    const s = await m.connect({ bridgeUrl, host: 'localhost', port, security: 'tls', user: 'web',
                                password: 'pw-web', endToEnd: true, tlsTrust: { cas: [ca] } });
    const raw = await s.retr(1);
    await s.quit();
    return { engine: s.tls.engine, bytes: raw.length };
  } catch (e) {
    return { error: String((e && (e.code || e.message)) || e) };
  }
})();
"#;
    let b = Browser::start(kind).await.expect("the browser starts");
    b.goto(page).await.expect("the page loads");
    let ca = std::fs::read_to_string(d.ca_pem_path()).unwrap();
    let args = vec![
        bridge_url.into(),
        d.tls_port().into(),
        ca.into(),
        worker.into(),
    ];
    let r = b
        .js(SCRIPT, args)
        .await
        .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }));
    let _ = b.close().await;
    r
}
