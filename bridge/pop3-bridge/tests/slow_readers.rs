//! Slow readers and the UI's files: every HTTP response has a write deadline
//! (`limits.http_write_timeout`), so a client that asks for a file and never reads it cannot
//! hold a connection slot for longer; and the files are read once, at start-up, and served
//! from memory.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// Larger than any socket buffer on the way: the sender's (Linux autotunes up to
/// `tcp_wmem` max, 4 MiB by default) plus the reader's (4 KiB here).
const BIG: usize = 24 << 20;

fn web_root(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pop3-bridge-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A GET on a fresh connection that tolerates being turned away: the status, or None when the
/// bridge closed the connection without an answer.
async fn try_get(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(addr).await.ok()?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.ok()?;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out);
    text.split(' ').nth(1)?.parse().ok()
}

/// A client with a 4 KiB receive buffer that sends a request for `path` and then reads nothing.
async fn slow_reader(addr: SocketAddr, path: &str) -> TcpStream {
    let sock = TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let mut s = sock.connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    s
}

/// Reads what the bridge still delivers (until it closes, or 10 s of silence).
async fn drain(s: &mut TcpStream) -> usize {
    let mut buf = vec![0u8; 1 << 16];
    let mut got = 0;
    loop {
        match tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return got,
            Ok(Ok(n)) => got += n,
            Err(_) => panic!("the bridge kept the connection open without sending"),
        }
    }
}

#[tokio::test]
async fn a_client_that_never_reads_loses_its_connection_after_the_http_write_timeout() {
    let dir = web_root("slow");
    std::fs::write(dir.join("big.bin"), vec![b'x'; BIG]).unwrap();
    let mut c = test_config();
    c.web_root = Some(dir.clone());
    c.limits.http_write_timeout = Duration::from_secs(1);
    // One connection slot: while the slow reader holds it, everyone else is turned away.
    c.limits.max_connections = 1;
    let b = TestBridge::start(c).await;
    let mut slow = slow_reader(b.addr, "/big.bin").await;
    let t = Instant::now();
    // The slot comes back once the bridge gives up on the slow reader (generous bound: the
    // deadline is 1 s).
    loop {
        if try_get(b.addr, "/healthz").await == Some(200) {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the slow reader still holds the connection slot after {:?}",
            t.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The bridge cut the response: what is left to read is less than the file.
    let got = drain(&mut slow).await;
    assert!(got < BIG, "the whole response ({got} bytes) was delivered");
    b.stop().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_client_that_reads_gets_the_whole_large_file() {
    let dir = web_root("fast");
    std::fs::write(dir.join("big.bin"), vec![b'y'; BIG]).unwrap();
    let mut c = test_config();
    c.web_root = Some(dir.clone());
    c.limits.http_write_timeout = Duration::from_secs(30);
    let b = TestBridge::start(c).await;
    let mut s = TcpStream::connect(b.addr).await.unwrap();
    let req = format!(
        "GET /big.bin HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        b.addr
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let head_end = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(out.len() - head_end, BIG);
    b.stop().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Black-box, through the real file system: a file changed, deleted or added after start-up
/// is served as it was when the bridge started (or not at all). This needs no test hook in the
/// product, and it is what matters to an operator (a deployment swapped under a running bridge
/// does not mix versions).
#[tokio::test]
async fn files_are_read_once_at_start_up_and_served_from_memory() {
    let dir = web_root("once");
    std::fs::create_dir_all(dir.join("inbox")).unwrap();
    std::fs::write(dir.join("index.html"), "<h1>one</h1>").unwrap();
    std::fs::write(dir.join("app.js"), "export const v = 1;").unwrap();
    std::fs::write(dir.join("inbox/view.js"), "export const w = 1;").unwrap();
    let mut c = test_config();
    c.web_root = Some(dir.clone());
    let b = TestBridge::start(c).await;
    // Wait until it serves (it loads before it accepts).
    assert_eq!(b.get("/").await, (200, "<h1>one</h1>".into()));
    std::fs::write(dir.join("index.html"), "<h1>two</h1>").unwrap();
    std::fs::remove_file(dir.join("app.js")).unwrap();
    std::fs::remove_dir_all(dir.join("inbox")).unwrap();
    std::fs::write(dir.join("new.js"), "export const n = 1;").unwrap();
    assert_eq!(b.get("/").await, (200, "<h1>one</h1>".into()));
    assert_eq!(b.get("/index.html").await, (200, "<h1>one</h1>".into()));
    assert_eq!(b.get("/app.js").await, (200, "export const v = 1;".into()));
    assert_eq!(
        b.get("/inbox/view.js").await,
        (200, "export const w = 1;".into())
    );
    assert_eq!(b.get("/new.js").await.0, 404);
    b.stop().await.unwrap();

    // `web_reload` (for working on web/) reads every request from disk.
    let mut c = test_config();
    c.web_root = Some(dir.clone());
    c.web_reload = true;
    let b = TestBridge::start(c).await;
    assert_eq!(b.get("/").await, (200, "<h1>two</h1>".into()));
    std::fs::write(dir.join("index.html"), "<h1>three</h1>").unwrap();
    assert_eq!(b.get("/").await, (200, "<h1>three</h1>".into()));
    assert_eq!(b.get("/new.js").await.0, 200);
    b.stop().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The rules of the old per-request lookup hold for the loaded files: hidden files, symlinks
/// out of the root and (without dev pages) dev/ are not served, a folder serves its
/// index.html.
#[cfg(unix)]
#[tokio::test]
async fn loaded_files_keep_the_lookup_rules() {
    let dir = web_root("rules");
    let outside = web_root("rules-outside");
    std::fs::write(outside.join("secret.txt"), "secret").unwrap();
    std::fs::create_dir_all(dir.join("docs")).unwrap();
    std::fs::create_dir_all(dir.join("dev")).unwrap();
    std::fs::write(dir.join("docs/index.html"), "docs").unwrap();
    std::fs::write(dir.join(".env"), "hidden").unwrap();
    std::fs::write(dir.join("dev/mock.js"), "mock").unwrap();
    std::os::unix::fs::symlink(outside.join("secret.txt"), dir.join("out.txt")).unwrap();
    std::os::unix::fs::symlink(&outside, dir.join("outdir")).unwrap();
    // A loop must not hang the start-up.
    std::os::unix::fs::symlink(&dir, dir.join("docs/loop")).unwrap();
    let mut c = test_config();
    c.web_root = Some(dir.clone());
    let b = TestBridge::start(c).await;
    assert_eq!(b.get("/docs/").await, (200, "docs".into()));
    assert_eq!(b.get("/docs").await, (200, "docs".into()));
    for p in [
        "/.env",
        "/out.txt",
        "/outdir/secret.txt",
        "/dev/mock.js",
        "/DEV/mock.js",
    ] {
        assert_eq!(b.get(p).await.0, 404, "{p}");
    }
    b.stop().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&outside);
}
