//! Per-client caps behind reverse proxies: `X-Forwarded-For` is believed only from a trusted
//! proxy, all its lines count, it is walked from the right past trusted hops, entries may carry
//! ports, IPv6 clients are counted per prefix, and per-client connection caps apply to the
//! forwarded client too. (The parsing itself has property tests in src/forwarded.rs.)

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use common::*;
use pop3_bridge::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Behind a proxy at `trusted` (the tests' connections all come from 127.0.0.1).
fn proxied(trusted: &[&str], sessions_per_client: usize) -> Config {
    let mut c = test_config();
    c.behind_proxy = true;
    c.trusted_proxies = trusted.iter().map(|s| s.to_string()).collect();
    c.limits.max_sessions_per_ip = sessions_per_client;
    c
}

/// A WebSocket from the bridge's own page with one `X-Forwarded-For` line per entry of `xff`.
async fn ws_xff(b: &TestBridge, xff: &[&str]) -> Result<Ws, u16> {
    let mut req = b.url().into_client_request().unwrap();
    let h = req.headers_mut();
    h.insert("origin", b.origin().parse().unwrap());
    h.insert("sec-websocket-protocol", "pop3-bridge.v1".parse().unwrap());
    for line in xff {
        h.append("x-forwarded-for", line.parse().unwrap());
    }
    let tcp = TcpStream::connect(b.addr).await.unwrap();
    match tokio_tungstenite::client_async(req, tcp).await {
        Ok((ws, _)) => Ok(ws),
        Err(e) => Err(refused_status(&e)),
    }
}

/// Opens sessions for each `xff` in turn and returns the statuses (101 for a session). The
/// sessions stay open until the returned sockets are dropped.
async fn open_all(b: &TestBridge, list: &[&[&str]]) -> (Vec<u16>, Vec<Ws>) {
    let mut statuses = Vec::new();
    let mut open = Vec::new();
    for xff in list {
        match ws_xff(b, xff).await {
            Ok(ws) => {
                statuses.push(101);
                open.push(ws);
            }
            Err(s) => statuses.push(s),
        }
    }
    (statuses, open)
}

#[tokio::test]
async fn the_header_from_a_peer_that_is_not_a_trusted_proxy_is_ignored() {
    // Behind a proxy, but these connections do not come from it: varying the header does
    // not escape the cap of the socket's address.
    let b = TestBridge::start(proxied(&["192.0.2.10"], 2)).await;
    let (st, _open) = open_all(&b, &[&["203.0.113.1"], &["203.0.113.2"], &["203.0.113.3"]]).await;
    assert_eq!(st, [101, 101, 429]);
}

#[tokio::test]
async fn all_lines_are_joined_and_walked_from_the_right_past_trusted_hops() {
    let b = TestBridge::start(proxied(&["127.0.0.1", "10.0.0.0/8"], 2)).await;
    // The proxy appended its own line: the client is 198.51.100.7, whatever the first line
    // (the client's claim) says.
    let (st, _a) = open_all(
        &b,
        &[
            &["203.0.113.5", "198.51.100.7"],
            &["203.0.113.6", "198.51.100.7"],
            &["198.51.100.7"],
        ],
    )
    .await;
    assert_eq!(st, [101, 101, 429]);
    // Trusted hops on the right are skipped: the client is 198.51.100.9 on every path.
    let (st, _b) = open_all(
        &b,
        &[
            &["198.51.100.9, 10.1.1.1"],
            &["6.6.6.6, 198.51.100.9", "10.2.2.2"],
            &["198.51.100.9"],
        ],
    )
    .await;
    assert_eq!(st, [101, 101, 429]);
}

#[tokio::test]
async fn entries_with_ports_count_as_their_address() {
    let b = TestBridge::start(proxied(&["127.0.0.1"], 2)).await;
    let (st, _a) = open_all(
        &b,
        &[
            &["198.51.100.20:4711"],
            &["198.51.100.20:4712"],
            &["198.51.100.20"],
        ],
    )
    .await;
    assert_eq!(st, [101, 101, 429]);
    let (st, _b) = open_all(
        &b,
        &[&["[2001:db8::1]:443"], &["[2001:db8::1]"], &["2001:db8::1"]],
    )
    .await;
    assert_eq!(st, [101, 101, 429]);
}

#[tokio::test]
async fn ipv6_clients_are_counted_per_prefix() {
    // Default /64: addresses of one prefix share the quota; another prefix has its own.
    let b = TestBridge::start(proxied(&["127.0.0.1"], 2)).await;
    let (st, _a) = open_all(
        &b,
        &[
            &["2001:db8:1:2::1"],
            &["2001:db8:1:2::2"],
            &["2001:db8:1:2:ffff:ffff:ffff:fff9"],
            &["2001:db8:1:3::1"],
        ],
    )
    .await;
    assert_eq!(st, [101, 101, 429, 101]);
    // Configurable: per /128 (per address).
    let mut c = proxied(&["127.0.0.1"], 2);
    c.limits.ipv6_prefix = 128;
    let b = TestBridge::start(c).await;
    let (st, _b) = open_all(
        &b,
        &[
            &["2001:db8:1:2::1"],
            &["2001:db8:1:2::2"],
            &["2001:db8:1:2::3"],
        ],
    )
    .await;
    assert_eq!(st, [101, 101, 101]);
}

const BIG: usize = 24 << 20;

fn web_root(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pop3-bridge-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("big.bin"), vec![b'x'; BIG]).unwrap();
    std::fs::write(dir.join("small.txt"), "small").unwrap();
    dir
}

/// A GET for `path` as the proxy forwards it for `client`; the status line's code, or None
/// when the connection was closed without an answer. Unless `read`, returns right after the
/// status line, leaving the connection open (and its answer unread) in the second value.
async fn get_as(
    addr: SocketAddr,
    path: &str,
    client: &str,
    read: bool,
) -> (Option<u16>, Option<TcpStream>) {
    let sock = TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let mut s = sock.connect(addr).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nX-Forwarded-For: {client}\r\nConnection: close\r\n\r\n"
    );
    if s.write_all(req.as_bytes()).await.is_err() {
        return (None, None);
    }
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n") {
        match tokio::time::timeout(Duration::from_secs(10), s.read(&mut b)).await {
            Ok(Ok(1)) => head.push(b[0]),
            _ => return (None, None),
        }
    }
    let status = String::from_utf8_lossy(&head)
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok());
    if read {
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest).await;
        return (status, None);
    }
    (status, Some(s))
}

#[tokio::test]
async fn behind_a_proxy_the_connection_cap_applies_to_the_forwarded_client() {
    let dir = web_root("xff-conns");
    let mut c = proxied(&["127.0.0.1"], 2);
    c.web_root = Some(dir.clone());
    c.limits.max_connections_per_ip = 1;
    c.limits.http_write_timeout = Duration::from_secs(30);
    let b = TestBridge::start(c).await;
    // Many connections from the proxy's own address are fine (it carries many clients).
    let (st, _) = get_as(b.addr, "/small.txt", "198.51.100.1", true).await;
    assert_eq!(st, Some(200));
    // Client A's answer is still being written (A does not read): A has no connection left,
    // B has.
    let (st, held) = get_as(b.addr, "/big.bin", "198.51.100.1", false).await;
    assert_eq!(st, Some(200));
    let held = held.unwrap();
    let (st, _) = get_as(b.addr, "/small.txt", "198.51.100.1", true).await;
    assert_eq!(st, Some(429));
    let (st, _) = get_as(b.addr, "/small.txt", "198.51.100.2", true).await;
    assert_eq!(st, Some(200));
    // When A's connection ends, its slot is free again.
    drop(held);
    let mut ok = false;
    for _ in 0..100 {
        if get_as(b.addr, "/small.txt", "198.51.100.1", true).await.0 == Some(200) {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ok, "the slot was not given back");
    b.stop().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_public_bind_behind_a_proxy_needs_trusted_proxies() {
    let mut c = Config {
        listen: "0.0.0.0:8443".parse().unwrap(),
        behind_proxy: true,
        token_secret: Some("0123456789abcdef-xff".into()),
        ..Config::default()
    };
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("--trusted-proxy"), "{e}");
    c.trusted_proxies = vec!["10.0.0.0/8".into(), "[2001:db8::1]".into()];
    c.validate().unwrap();
    // Entries must be addresses or networks.
    c.trusted_proxies = vec!["proxy.example.org".into()];
    assert!(c.validate().is_err());
    // A list without behind_proxy is a mistake, not silently ignored.
    let c = Config {
        trusted_proxies: vec!["127.0.0.1".into()],
        ..Config::default()
    };
    assert!(c.validate().is_err());
}
