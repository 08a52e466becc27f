//! Target policy end to end: a real WebSocket client asks the real bridge for each kind of
//! forbidden target, and the bridge refuses *before* any TCP connect (the recording connector
//! must stay empty). Cases B1–B7 of the security checklist.

mod common;

use std::sync::Arc;

use common::*;
use pop3_bridge::FakeResolver;
use serde_json::json;

/// A bridge whose connector records and redirects to an echo server, with the given resolver.
async fn bridge(
    config: pop3_bridge::Config,
    resolver: FakeResolver,
) -> (TestBridge, Arc<RedirectConnector>, Arc<FakeResolver>) {
    let up = echo_server().await;
    let conn = RedirectConnector::new(up.addr);
    let resolver = Arc::new(resolver);
    let b = TestBridge::start_with(config, Some(resolver.clone()), Some(conn.clone())).await;
    (b, conn, resolver)
}

fn plain_ok() -> pop3_bridge::Config {
    let mut c = test_config();
    c.allow_plaintext = true;
    c
}

async fn assert_refused(b: &TestBridge, host: &str, port: u16, code: &str) {
    let (mut ws, ans) = session(b, json!({"host": host, "port": port, "security": "plain"})).await;
    expect_error(&mut ws, &ans, code, 4003).await;
}

#[tokio::test]
async fn every_private_or_special_address_literal_is_refused_without_connecting() {
    let (b, conn, _) = bridge(plain_ok(), FakeResolver::new()).await;
    for host in [
        "127.0.0.1",
        "127.1.2.3",
        "0.0.0.0",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "[::1]",
        "::",
        "fc00::1",
        "fd00::1",
        "fe80::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:7f00:1",
        "[::ffff:169.254.169.254]",
        "64:ff9b::a00:1",
        "2002:7f00:1::",
    ] {
        assert_refused(&b, host, 110, "target_refused").await;
    }
    assert!(conn.seen().is_empty(), "connected to {:?}", conn.seen());
}

#[tokio::test]
async fn numeric_tricks_and_local_names_are_refused() {
    let (b, conn, resolver) = bridge(plain_ok(), FakeResolver::new()).await;
    for host in [
        "2130706433",
        "0x7f.1",
        "0x7f000001",
        "0177.0.0.1",
        "127.1",
        "localhost",
        "localhost.",
        "LOCALHOST",
        "x.localhost",
        "intranet",
        "fe80::1%eth0",
        "",
    ] {
        assert_refused(&b, host, 110, "target_refused").await;
    }
    assert!(conn.seen().is_empty());
    assert_eq!(
        resolver.calls(),
        0,
        "tricks must be refused before any lookup"
    );
}

/// A name whose addresses the policy refuses is answered like a name that does not resolve
/// (see tests/refusal_answers.rs): the browser must not learn where internal names point.
#[tokio::test]
async fn names_resolving_to_private_addresses_are_refused() {
    let r = FakeResolver::new()
        .answer("lo.example.com", &[ip("127.0.0.1")])
        .answer("meta.example.com", &[ip("169.254.169.254")])
        .answer("lan.example.com", &[ip("192.168.0.10")])
        .answer("cgnat.example.com", &[ip("100.100.1.1")])
        .answer("ula.example.com", &[ip("fd12::1")])
        .answer("mapped.example.com", &[ip("::ffff:10.0.0.1")])
        .answer("mixed.example.com", &[ip(PUBLIC), ip("10.0.0.1")]);
    let (b, conn, _) = bridge(plain_ok(), r).await;
    for host in [
        "lo.example.com",
        "meta.example.com",
        "lan.example.com",
        "cgnat.example.com",
        "ula.example.com",
        "mapped.example.com",
        "mixed.example.com",
    ] {
        let (mut ws, ans) =
            session(&b, json!({"host": host, "port": 995, "security": "plain"})).await;
        expect_error(&mut ws, &ans, "resolve_failed", 4004).await;
    }
    assert!(conn.seen().is_empty());
}

#[tokio::test]
async fn non_pop3_ports_are_refused_even_for_public_hosts() {
    let r = FakeResolver::new().answer("pop.example.com", &[ip(PUBLIC)]);
    let (b, conn, _) = bridge(plain_ok(), r).await;
    for port in [22, 25, 80, 143, 443, 587, 3306, 6379, 0] {
        let (mut ws, ans) = session(
            &b,
            json!({"host": "pop.example.com", "port": port, "security": "plain"}),
        )
        .await;
        expect_error(&mut ws, &ans, "port_refused", 4003).await;
    }
    assert!(conn.seen().is_empty());
}

#[tokio::test]
async fn public_host_on_pop3_port_connects_to_the_checked_address() {
    let r = FakeResolver::new().answer("pop.example.com", &[ip(PUBLIC)]);
    let (b, conn, _) = bridge(plain_ok(), r).await;
    let (mut ws, ans) = session(
        &b,
        json!({"host": "pop.example.com", "port": 110, "security": "plain"}),
    )
    .await;
    assert_eq!(ans["ok"], true, "{ans}");
    assert_eq!(ans["insecure"], true);
    assert_eq!(read_n(&mut ws, 21).await, b"+OK fake POP3 ready\r\n");
    assert_eq!(conn.seen(), vec![format!("{PUBLIC}:110").parse().unwrap()]);
}

#[tokio::test]
async fn dns_rebinding_cannot_redirect_the_connection() {
    // First answer public, every later answer private (TTL 0 rebinding). The bridge must look
    // up once and dial exactly the address it checked.
    let r = FakeResolver::new()
        .answer("rebind.example.com", &[ip(PUBLIC)])
        .answer("rebind.example.com", &[ip("127.0.0.1")]);
    let (b, conn, resolver) = bridge(plain_ok(), r).await;
    let (_ws, ans) = session(
        &b,
        json!({"host": "rebind.example.com", "port": 110, "security": "plain"}),
    )
    .await;
    assert_eq!(ans["ok"], true, "{ans}");
    assert_eq!(resolver.calls(), 1);
    assert_eq!(conn.seen(), vec![format!("{PUBLIC}:110").parse().unwrap()]);
    // The next session sees the private answer and is refused (like a name that does not
    // resolve).
    let (mut ws, ans) = session(
        &b,
        json!({"host": "rebind.example.com", "port": 110, "security": "plain"}),
    )
    .await;
    expect_error(&mut ws, &ans, "resolve_failed", 4004).await;
    assert_eq!(conn.seen().len(), 1);
}

#[tokio::test]
async fn operator_allow_list_opens_exactly_the_listed_lan_server() {
    let r = FakeResolver::new()
        .answer("mail.home.lan", &[ip("192.168.1.10")])
        .answer("nas.home.lan", &[ip("192.168.1.11")]);
    let mut c = plain_ok();
    c.allow_hosts = vec!["mail.home.lan".into(), "10.9.0.0/16".into()];
    c.allow_ports = vec![1110];
    let (b, conn, _) = bridge(c, r).await;
    let (_ws, ans) = session(
        &b,
        json!({"host": "mail.home.lan", "port": 1110, "security": "plain"}),
    )
    .await;
    assert_eq!(ans["ok"], true, "{ans}");
    let (_ws, ans) = session(
        &b,
        json!({"host": "10.9.3.4", "port": 110, "security": "plain"}),
    )
    .await;
    assert_eq!(ans["ok"], true, "{ans}");
    let (mut ws, ans) = session(
        &b,
        json!({"host": "nas.home.lan", "port": 110, "security": "plain"}),
    )
    .await;
    expect_error(&mut ws, &ans, "resolve_failed", 4004).await;
    assert_refused(&b, "10.8.0.1", 110, "target_refused").await;
    assert_eq!(conn.seen().len(), 2);
}

#[tokio::test]
async fn servers_only_mode_refuses_the_public_internet() {
    let r = FakeResolver::new()
        .answer("pop.example.com", &[ip(PUBLIC)])
        .answer("pop.listed.com", &[ip(PUBLIC)]);
    let mut c = plain_ok();
    c.allow_hosts = vec!["pop.listed.com".into()];
    c.servers_only = true;
    let (b, conn, _) = bridge(c, r).await;
    assert_refused(&b, "pop.example.com", 110, "target_refused").await;
    let (_ws, ans) = session(
        &b,
        json!({"host": "pop.listed.com", "port": 110, "security": "plain"}),
    )
    .await;
    assert_eq!(ans["ok"], true, "{ans}");
    assert_eq!(conn.seen().len(), 1);
}

#[tokio::test]
async fn unknown_name_reports_resolve_failed() {
    let (b, conn, _) = bridge(plain_ok(), FakeResolver::new()).await;
    let (mut ws, ans) = session(
        &b,
        json!({"host": "nx.example.com", "port": 995, "security": "tls"}),
    )
    .await;
    expect_error(&mut ws, &ans, "resolve_failed", 4004).await;
    assert!(conn.seen().is_empty());
}

#[tokio::test]
async fn malformed_requests_are_bad_request() {
    let (b, conn, _) = bridge(plain_ok(), FakeResolver::new()).await;
    for bad in [
        json!({"host": "x.example.com"}),
        json!({"host": "x.example.com", "port": 70000, "security": "tls"}),
        json!({"host": "x.example.com", "port": 995, "security": "ssl"}),
        json!({"host": "x.example.com", "port": 995, "security": "tls", "bind": true}),
        json!("hello"),
    ] {
        let (mut ws, ans) = session(&b, bad).await;
        expect_error(&mut ws, &ans, "bad_request", 4000).await;
    }
    assert!(conn.seen().is_empty());
}

/// A connector whose connect never completes (a blackholed address).
struct Blackhole;

impl pop3_bridge::Connector for Blackhole {
    fn connect(
        &self,
        _addr: std::net::SocketAddr,
    ) -> pop3_bridge::BoxFuture<'_, std::io::Result<tokio::net::TcpStream>> {
        Box::pin(std::future::pending())
    }
}

#[tokio::test]
async fn blackholed_server_reports_connect_timeout() {
    let r = Arc::new(FakeResolver::new().answer("pop.example.com", &[ip(PUBLIC)]));
    let mut c = test_config();
    c.limits.connect_timeout = std::time::Duration::from_millis(300);
    let b = TestBridge::start_with(c, Some(r), Some(Arc::new(Blackhole))).await;
    let (mut ws, ans) = session(
        &b,
        json!({"host": "pop.example.com", "port": 995, "security": "tls"}),
    )
    .await;
    expect_error(&mut ws, &ans, "connect_timeout", 4005).await;
}

#[tokio::test]
async fn an_allow_listed_name_opens_only_private_unique_local_and_shared_addresses() {
    // The name is on the operator's list, but loopback and link-local need an address or
    // network entry of their own: a DNS answer alone must never reach the bridge host or the
    // cloud metadata service.
    let r = FakeResolver::new()
        .answer("lan.home.example", &[ip("192.168.1.10")])
        .answer("ula.home.example", &[ip("fd00:1::10")])
        .answer("cgnat.home.example", &[ip("100.64.3.4")])
        .answer("lo.home.example", &[ip("127.0.0.1")])
        .answer("lo6.home.example", &[ip("::1")])
        .answer("meta.home.example", &[ip("169.254.169.254")])
        .answer("ll6.home.example", &[ip("fe80::1")]);
    let mut c = plain_ok();
    c.allow_hosts = [
        "lan.home.example",
        "ula.home.example",
        "cgnat.home.example",
        "lo.home.example",
        "lo6.home.example",
        "meta.home.example",
        "ll6.home.example",
    ]
    .map(String::from)
    .to_vec();
    let (b, conn, _) = bridge(c, r).await;
    for host in ["lan.home.example", "ula.home.example", "cgnat.home.example"] {
        let (_ws, ans) = session(&b, json!({"host": host, "port": 110, "security": "plain"})).await;
        assert_eq!(ans["ok"], true, "{host}: {ans}");
    }
    for host in [
        "lo.home.example",
        "lo6.home.example",
        "meta.home.example",
        "ll6.home.example",
    ] {
        let (mut ws, ans) =
            session(&b, json!({"host": host, "port": 110, "security": "plain"})).await;
        assert_ne!(ans["ok"], true, "{host} was allowed: {ans}");
        let (_, close) = read_until_close(&mut ws).await;
        assert!(close.is_some(), "{host}");
    }
    assert_eq!(conn.seen().len(), 3, "{:?}", conn.seen());
}

#[tokio::test]
async fn loopback_and_link_local_open_with_an_explicit_address_entry() {
    let r = FakeResolver::new()
        .answer("lo.home.example", &[ip("127.0.0.1")])
        .answer("ll.home.example", &[ip("169.254.10.20")]);
    let mut c = plain_ok();
    c.allow_hosts = [
        "lo.home.example",
        "127.0.0.1",
        "ll.home.example",
        "169.254.10.0/24",
    ]
    .map(String::from)
    .to_vec();
    let (b, conn, _) = bridge(c, r).await;
    for host in ["lo.home.example", "ll.home.example", "127.0.0.1"] {
        let (_ws, ans) = session(&b, json!({"host": host, "port": 110, "security": "plain"})).await;
        assert_eq!(ans["ok"], true, "{host}: {ans}");
    }
    assert_eq!(conn.seen().len(), 3);
}

#[tokio::test]
async fn a_server_entry_with_only_tls_settings_does_not_widen_the_policy() {
    // [[server]] gives a server its CA, pins or plaintext permission; it is not an allow-list
    // entry, so its name still may not resolve to a private address.
    let r = FakeResolver::new().answer("mail.home.example", &[ip("192.168.1.10")]);
    let mut c = plain_ok();
    c.servers = vec![pop3_bridge::ServerConfig {
        host: "mail.home.example".into(),
        pin_sha256: vec!["ab".repeat(32)],
        ..pop3_bridge::ServerConfig::default()
    }];
    let (b, conn, _) = bridge(c, r).await;
    let (mut ws, ans) = session(
        &b,
        json!({"host": "mail.home.example", "port": 110, "security": "plain"}),
    )
    .await;
    assert_ne!(ans["ok"], true, "{ans}");
    let (_, close) = read_until_close(&mut ws).await;
    assert!(close.is_some());
    assert!(conn.seen().is_empty(), "connected to {:?}", conn.seen());
}
