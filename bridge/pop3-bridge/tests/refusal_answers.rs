//! What a refusal tells the browser about a name: nothing a probe could use. A name that
//! resolves to an address the policy refuses gets the same answer (code, message, detail,
//! close code) as a name that does not resolve at all, so the bridge cannot be used to map
//! internal names; which address and which class is only in the bridge's log. An address
//! literal the user typed is refused with its class (that reveals nothing new).

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use pop3_bridge::FakeResolver;
use serde_json::{Value, json};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The answer and the close code for one request.
async fn refusal(b: &TestBridge, host: &str) -> (Value, u16) {
    let (mut ws, ans) = session(b, json!({"host": host, "port": 995, "security": "tls"})).await;
    assert_eq!(ans["ok"], false, "{host}: {ans}");
    let (_, close) = read_until_close(&mut ws).await;
    (ans, u16::from(close.expect("close frame").code))
}

#[tokio::test]
async fn a_refused_resolved_address_answers_exactly_like_a_name_that_does_not_resolve() {
    let cap = Capture::default();
    let writer = cap.clone();
    tracing_subscriber::fmt()
        .with_env_filter("pop3_bridge=info")
        .with_writer(move || writer.clone())
        .init();
    let r = FakeResolver::new()
        .answer("lan.example.com", &[ip("192.168.77.10")])
        .answer("lo.example.com", &[ip("127.0.0.9")])
        .answer("meta.example.com", &[ip("169.254.169.254")])
        .answer("ula.example.com", &[ip("fd12:3456::77")])
        .answer("mixed.example.com", &[ip(PUBLIC), ip("10.77.0.1")]);
    let up = echo_server().await;
    let conn = RedirectConnector::new(up.addr);
    let b = TestBridge::start_with(test_config(), Some(Arc::new(r)), Some(conn.clone())).await;

    let (nx, nx_close) = refusal(&b, "nx.example.com").await;
    for host in [
        "lan.example.com",
        "lo.example.com",
        "meta.example.com",
        "ula.example.com",
        "mixed.example.com",
    ] {
        let (ans, close) = refusal(&b, host).await;
        assert_eq!(
            ans["error"], nx["error"],
            "{host} is told apart from a name that does not resolve"
        );
        assert_eq!(close, nx_close, "{host}");
    }
    assert_eq!(nx["error"]["code"], "resolve_failed", "{nx}");
    let detail = nx["error"]["detail"].as_str().unwrap();
    for leak in [
        "192.168", "127.0", "169.254", "fd12", "10.77", "private", "loopback",
    ] {
        assert!(!detail.contains(leak), "{detail}");
    }
    assert!(conn.seen().is_empty(), "connected to {:?}", conn.seen());

    // A literal address is refused by class: the user typed it, so nothing is revealed.
    let (lit, close) = refusal(&b, "10.77.0.1").await;
    assert_eq!(lit["error"]["code"], "target_refused", "{lit}");
    assert_eq!(close, 4003);
    assert!(
        lit["error"]["detail"].as_str().unwrap().contains("private"),
        "{lit}"
    );

    b.stop().await.unwrap();
    // The operator sees the specifics.
    let logs = String::from_utf8(cap.0.lock().unwrap().clone()).unwrap();
    for (host, addr, class) in [
        ("lan.example.com", "192.168.77.10", "private"),
        ("lo.example.com", "127.0.0.9", "loopback"),
        ("meta.example.com", "169.254.169.254", "link-local"),
        ("mixed.example.com", "10.77.0.1", "private"),
    ] {
        assert!(
            logs.lines()
                .any(|l| l.contains(host) && l.contains(addr) && l.contains(class)),
            "no log line names {host}, {addr} and {class}:\n{logs}"
        );
    }
    assert!(
        logs.lines()
            .any(|l| l.contains("nx.example.com") && l.contains("no such host")),
        "the lookup error is not logged:\n{logs}"
    );
}
