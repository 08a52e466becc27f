//! Logs never contain POP3 payload, passwords or tokens (B20), even at the bridge's most
//! verbose level.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use futures_util::SinkExt;
use pop3_bridge::{FakeResolver, TokenAuth, TokenClaims, TokenMode, now_unix};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

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

#[tokio::test]
async fn logs_contain_no_payload_password_or_token() {
    let cap = Capture::default();
    let writer = cap.clone();
    tracing_subscriber::fmt()
        .with_env_filter("pop3_bridge=trace,info")
        .with_writer(move || writer.clone())
        .init();
    const SECRET: &str = "0123456789abcdef-log-secret";
    let up = echo_server().await;
    let mut c = test_config();
    c.allow_plaintext = true;
    c.token_secret = Some(SECRET.into());
    // The query form too, so a token in the URL is shown not to be logged either.
    c.token_in_query = true;
    let r = Arc::new(FakeResolver::new().answer("pop.example.com", &[ip(PUBLIC)]));
    let b = TestBridge::start_with(c, Some(r), Some(RedirectConnector::new(up.addr))).await;
    let token = TokenAuth::new(TokenMode::Hmac, SECRET).mint(&TokenClaims {
        host: "pop.example.com".into(),
        port: 110,
        exp: now_unix() + 60,
        nbf: None,
    });
    // One session with the token in the query, one with it in the request, one bad token.
    let mut ws = ws_connect_q(&b, &format!("?token={token}")).await.unwrap();
    let ans = request(
        &mut ws,
        json!({"host": "pop.example.com", "port": 110, "security": "plain"}),
    )
    .await;
    assert_eq!(ans["ok"], true);
    let _ = read_n(&mut ws, 21).await;
    let secret_line = b"PASS hunter2-very-secret\r\n";
    ws.send(Message::binary(secret_line.to_vec()))
        .await
        .unwrap();
    assert_eq!(read_n(&mut ws, secret_line.len()).await, secret_line);
    ws.close(None).await.unwrap();
    let (_, _) = read_until_close(&mut ws).await;
    let (mut ws2, ans) = session(
        &b,
        json!({"host": "pop.example.com", "port": 110, "security": "plain", "token": token}),
    )
    .await;
    assert_eq!(ans["ok"], true);
    ws2.close(None).await.unwrap();
    let (mut ws3, ans) = session(
        &b,
        json!({"host": "pop.example.com", "port": 110, "security": "plain", "token": "v1.bogus-token-value.x"}),
    )
    .await;
    expect_error(&mut ws3, &ans, "token_invalid", 4001).await;
    b.stop().await.unwrap();
    let logs = String::from_utf8(cap.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("session ready"),
        "logging did not work:\n{logs}"
    );
    for needle in [
        "hunter2",
        "PASS",
        &token,
        "bogus-token-value",
        SECRET,
        "fake POP3 ready",
    ] {
        assert!(!logs.contains(needle), "log contains {needle:?}:\n{logs}");
    }
}
