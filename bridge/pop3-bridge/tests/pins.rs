//! Certificate pins restrict: when the operator pinned a server's certificate, the server must
//! present a pinned one, even if another certificate would chain to a trusted root (a
//! mis-issued or stolen certificate from a trusted CA is what a pin is for). Without pins, a
//! trusted chain is enough; a pin also accepts a certificate whose chain does not verify.

mod common;

use std::sync::Arc;

use common::pki::{Ca, Leaf, self_signed};
use common::*;
use pop3_bridge::{FakeResolver, ServerConfig};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsAcceptor;

const HOST: &str = "pop.example.com";

/// Implicit TLS with `leaf`: greets, then waits for the client to go.
async fn tls_server(leaf: &Leaf) -> FakeServer {
    let acc = TlsAcceptor::from(leaf.server_config());
    fake_server(move |s| {
        let acc = acc.clone();
        async move {
            if let Ok(mut tls) = acc.accept(s).await {
                let _ = tls.write_all(b"+OK tls ready\r\n").await;
                let _ = tls.read(&mut [0u8; 64]).await;
            }
        }
    })
    .await
}

/// A bridge trusting `ca` for every server, with `pins` configured for HOST.
async fn bridge(up: &FakeServer, ca: &Ca, pins: Vec<String>, tag: &str) -> TestBridge {
    let mut c = test_config();
    c.extra_ca = vec![ca.write_pem(tag)];
    c.servers = vec![ServerConfig {
        host: HOST.into(),
        pin_sha256: pins,
        ..ServerConfig::default()
    }];
    let r = Arc::new(FakeResolver::new().answer(HOST, &[ip(PUBLIC)]));
    TestBridge::start_with(c, Some(r), Some(RedirectConnector::new(up.addr))).await
}

#[tokio::test]
async fn a_trusted_chain_without_a_matching_pin_is_refused() {
    let ca = Ca::new("Trusted CA");
    let presented = ca.leaf(&[HOST], false);
    let pinned = ca.leaf(&[HOST], false);
    let up = tls_server(&presented).await;
    let b = bridge(&up, &ca, vec![pinned.sha256_hex()], "pin-mismatch").await;
    let (mut ws, ans) = session(&b, json!({"host": HOST, "port": 995, "security": "tls"})).await;
    expect_error(&mut ws, &ans, "cert_invalid", 4007).await;
    assert!(
        ans["error"]["detail"].as_str().unwrap().contains("pin"),
        "{ans}"
    );
}

#[tokio::test]
async fn a_trusted_chain_with_a_matching_pin_is_accepted_and_reported() {
    let ca = Ca::new("Trusted CA");
    let leaf = ca.leaf(&[HOST], false);
    let up = tls_server(&leaf).await;
    let other = self_signed(&[HOST]);
    let b = bridge(
        &up,
        &ca,
        vec![other.sha256_hex(), leaf.sha256_hex()],
        "pin-match",
    )
    .await;
    let (_ws, ans) = session(&b, json!({"host": HOST, "port": 995, "security": "tls"})).await;
    assert_eq!(ans["ok"], true, "{ans}");
    assert_eq!(ans["tls"]["verified"], true);
    assert_eq!(ans["tls"]["pin_matched"], true);
}

#[tokio::test]
async fn without_pins_a_trusted_chain_is_enough() {
    let ca = Ca::new("Trusted CA");
    let leaf = ca.leaf(&[HOST], false);
    let up = tls_server(&leaf).await;
    let b = bridge(&up, &ca, Vec::new(), "no-pins").await;
    let (_ws, ans) = session(&b, json!({"host": HOST, "port": 995, "security": "tls"})).await;
    assert_eq!(ans["ok"], true, "{ans}");
    assert_eq!(ans["tls"]["verified"], true);
    assert!(ans["tls"].get("pin_matched").is_none(), "{ans}");
}
