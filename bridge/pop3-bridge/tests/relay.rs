//! The relay: every byte arrives before the close, backpressure keeps memory bounded, either
//! side closing closes the other, idle and dead-browser detection, graceful shutdown.
//! Cases B17–B19 and the "every byte arrives" benchmark note.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use futures_util::{SinkExt, StreamExt};
use pop3_bridge::{BoxFuture, Connector, FakeResolver};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

const HOST: &str = "pop.example.com";

fn cfg() -> pop3_bridge::Config {
    let mut c = test_config();
    c.allow_plaintext = true;
    c
}

async fn bridge(c: pop3_bridge::Config, up: &FakeServer) -> TestBridge {
    let r = Arc::new(FakeResolver::new().answer(HOST, &[ip(PUBLIC)]));
    TestBridge::start_with(c, Some(r), Some(RedirectConnector::new(up.addr))).await
}

fn target() -> serde_json::Value {
    json!({"host": HOST, "port": 110, "security": "plain"})
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_byte_arrives_before_the_close_200_times_10_mb() {
    const SIZE: usize = 10 << 20;
    let data = Arc::new(pattern(SIZE, 7));
    let d = data.clone();
    // The server writes 10 MB and closes at once, the race that loses tails in naive relays.
    let up = fake_server(move |mut s| {
        let d = d.clone();
        async move {
            let _ = s.write_all(&d).await;
            let _ = s.shutdown().await;
        }
    })
    .await;
    let mut c = cfg();
    c.limits.max_sessions_per_ip = 64;
    let b = Arc::new(bridge(c, &up).await);
    let runs = 200;
    let parallel = 4;
    let (tx, mut rx) = mpsc::channel::<()>(runs);
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..parallel {
        let (b, data, next, tx) = (b.clone(), data.clone(), next.clone(), tx.clone());
        tasks.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::SeqCst) < runs as u64 {
                let (mut ws, ans) = session(&b, target()).await;
                assert_eq!(ans["ok"], true, "{ans}");
                let (got, close) = read_until_close(&mut ws).await;
                assert_eq!(got.len(), SIZE, "short read");
                assert!(got == *data, "corrupted data");
                assert_eq!(u16::from(close.expect("close frame").code), 1000);
                tx.send(()).await.unwrap();
            }
        }));
    }
    drop(tx);
    let mut done = 0;
    while rx.recv().await.is_some() {
        done += 1;
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(done, runs);
}

/// Bytes the kernel holds for the established TCP connections from or to any of `ends`: the
/// send queue (not yet sent or not yet acknowledged) and the receive queue (not yet read) of
/// both sockets of each connection, from /proc/net/tcp.
fn kernel_queued(ends: &[std::net::SocketAddr]) -> u64 {
    let parse = |a: &str| -> Option<std::net::SocketAddr> {
        let (ip, port) = a.split_once(':')?;
        // The kernel prints the address's bytes, in network order, as a host-order integer.
        let ip = u32::from_str_radix(ip, 16).ok()?.to_ne_bytes();
        Some((ip, u16::from_str_radix(port, 16).ok()?).into())
    };
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    let mut total = 0;
    for line in table.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(local), Some(remote)) = (parse(f[1]), parse(f[2])) else {
            continue;
        };
        // 01: established.
        if f[3] != "01" || !ends.iter().any(|e| *e == local || *e == remote) {
            continue;
        }
        let (tx, rx) = f[4].split_once(':').unwrap();
        total += u64::from_str_radix(tx, 16).unwrap() + u64::from_str_radix(rx, 16).unwrap();
    }
    total
}

/// Samples `f` every 100 ms until it gives the same value three times in a row (nothing moves
/// any more) and returns that value; panics if that takes more than a minute.
async fn when_still<T: PartialEq + Copy>(f: impl Fn() -> T) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = f();
    let mut still = 0;
    while still < 3 {
        assert!(Instant::now() < deadline, "the stream never stalled");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = f();
        still = if now == last { still + 1 } else { 0 };
        last = now;
    }
    last
}

#[tokio::test]
async fn backpressure_stops_reading_the_server_while_the_browser_does_not_read() {
    // The server streams up to 1 GiB once told to; the browser then reads nothing for a while.
    const TOTAL: u64 = 1 << 30;
    let written = Arc::new(AtomicU64::new(0));
    let w = written.clone();
    let up = fake_server(move |mut s| {
        let w = w.clone();
        async move {
            let mut go = [0u8; 4];
            if s.read_exact(&mut go).await.is_err() {
                return;
            }
            let chunk = pattern(64 * 1024, 1);
            let mut off = 0;
            while w.load(Ordering::SeqCst) < TOTAL {
                match s.write(&chunk[off..]).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        w.fetch_add(n as u64, Ordering::SeqCst);
                        off = (off + n) % chunk.len();
                    }
                }
            }
        }
    })
    .await;
    let mut c = cfg();
    c.limits.write_timeout = Duration::from_secs(60);
    c.limits.ping_interval = Duration::from_secs(60);
    c.limits.idle_timeout = Duration::from_secs(120);
    let b = bridge(c, &up).await;
    let (mut ws, ans) = session(&b, target()).await;
    assert_eq!(ans["ok"], true);
    // The stream starts only now, so the client has nothing of it buffered yet: from here on
    // every byte that left the server is in a kernel buffer or in the bridge.
    ws.send(Message::binary(b"GO\r\n".to_vec())).await.unwrap();
    // Wait until nothing moves any more: the server blocked, every queue standing still. The
    // count first: anything the server writes after it only adds to the queues.
    let ends = [up.addr, b.addr];
    let (stalled_at, queued) =
        when_still(|| (written.load(Ordering::SeqCst), kernel_queued(&ends))).await;
    assert!(
        stalled_at < TOTAL,
        "the server wrote everything: nothing held it back"
    );
    // What left the server and is in no kernel buffer is in the bridge: one read at most.
    let in_bridge = stalled_at.saturating_sub(queued);
    assert!(
        in_bridge <= pop3_bridge::MAX_READ as u64,
        "{in_bridge} bytes held in the bridge ({stalled_at} written, {queued} in kernel buffers)"
    );
    // Reading resumes the stream, intact, and unblocks the server.
    let mut read = 0usize;
    while written.load(Ordering::SeqCst) == stalled_at || read < stalled_at as usize {
        let got = read_n(&mut ws, 1 << 20).await;
        for (i, byte) in got.iter().enumerate() {
            let want = ((read + i) as u8).wrapping_mul(31).wrapping_add(1);
            assert_eq!(*byte, want, "byte {} of the stream", read + i);
        }
        read += got.len();
    }
}

#[tokio::test]
async fn browser_close_closes_the_server_connection_promptly() {
    let (tx, mut rx) = mpsc::channel::<Instant>(1);
    let up = fake_server(move |mut s| {
        let tx = tx.clone();
        async move {
            let _ = s.write_all(b"+OK\r\n").await;
            let mut buf = [0u8; 64];
            while let Ok(n) = s.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
            let _ = tx.send(Instant::now()).await;
        }
    })
    .await;
    let b = bridge(cfg(), &up).await;
    let (mut ws, _) = session(&b, target()).await;
    let _ = read_n(&mut ws, 5).await;
    let t = Instant::now();
    ws.close(None).await.unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(1), rx.recv()).await;
    assert!(closed.is_ok(), "server side still open after 1 s");
    assert!(closed.unwrap().unwrap() - t < Duration::from_secs(1));
}

#[tokio::test]
async fn browser_vanishing_closes_the_server_connection() {
    let (tx, mut rx) = mpsc::channel::<()>(1);
    let up = fake_server(move |mut s| {
        let tx = tx.clone();
        async move {
            let _ = s.write_all(b"+OK\r\n").await;
            let _ = s.read(&mut [0u8; 64]).await;
            let _ = tx.send(()).await;
        }
    })
    .await;
    let b = bridge(cfg(), &up).await;
    let (ws, _) = session(&b, target()).await;
    drop(ws); // TCP close without a WebSocket close frame
    assert!(
        tokio::time::timeout(Duration::from_secs(1), rx.recv())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn idle_session_is_closed_with_4009() {
    let up = echo_server().await;
    let mut c = cfg();
    c.limits.idle_timeout = Duration::from_millis(400);
    c.limits.ping_interval = Duration::from_millis(100);
    let b = bridge(c, &up).await;
    let (mut ws, _) = session(&b, target()).await;
    let t = Instant::now();
    // read_until_close keeps reading, so pings are answered: only idleness can end this.
    let (data, close) = read_until_close(&mut ws).await;
    assert_eq!(data, b"+OK fake POP3 ready\r\n");
    let close = close.unwrap();
    assert_eq!(
        (u16::from(close.code), close.reason.as_str()),
        (4009, "idle_timeout")
    );
    assert!(t.elapsed() >= Duration::from_millis(350));
}

#[tokio::test]
async fn dead_browser_that_answers_no_ping_is_dropped() {
    let (tx, mut rx) = mpsc::channel::<()>(1);
    let up = fake_server(move |mut s| {
        let tx = tx.clone();
        async move {
            let _ = s.write_all(b"+OK\r\n").await;
            let _ = s.read(&mut [0u8; 64]).await;
            let _ = tx.send(()).await;
        }
    })
    .await;
    let mut c = cfg();
    c.limits.ping_interval = Duration::from_millis(100);
    let b = bridge(c, &up).await;
    // Keep the socket open but never read (so never pong).
    let (_ws, _) = session(&b, target()).await;
    assert!(
        tokio::time::timeout(Duration::from_secs(2), rx.recv())
            .await
            .is_ok(),
        "dead browser kept the server connection open"
    );
}

#[tokio::test]
async fn text_frame_after_the_handshake_is_a_protocol_error() {
    let up = echo_server().await;
    let b = bridge(cfg(), &up).await;
    let (mut ws, _) = session(&b, target()).await;
    ws.send(Message::text("USER x")).await.unwrap();
    let (_, close) = read_until_close(&mut ws).await;
    assert_eq!(u16::from(close.unwrap().code), 1003);
}

#[tokio::test]
async fn graceful_shutdown_closes_sessions_with_1001() {
    let up = echo_server().await;
    let b = bridge(cfg(), &up).await;
    let (mut ws, _) = session(&b, target()).await;
    let _ = read_n(&mut ws, 21).await;
    let reader = tokio::spawn(async move { read_until_close(&mut ws).await });
    tokio::time::timeout(Duration::from_secs(3), b.stop())
        .await
        .expect("shutdown took too long")
        .unwrap();
    let (_, close) = reader.await.unwrap();
    assert_eq!(u16::from(close.unwrap().code), 1001);
}

#[tokio::test]
async fn pop3_dialogue_is_relayed_byte_exact_both_ways() {
    let up = echo_server().await;
    let b = bridge(cfg(), &up).await;
    let (mut ws, _) = session(&b, target()).await;
    assert_eq!(read_n(&mut ws, 21).await, b"+OK fake POP3 ready\r\n");
    let payload = pattern(300_000, 3);
    for chunk in payload.chunks(50_000) {
        ws.send(Message::binary(chunk.to_vec())).await.unwrap();
    }
    assert_eq!(read_n(&mut ws, payload.len()).await, payload);
}

/// Dials `to` with a 4 MiB receive buffer (instead of the address the bridge asked for), so
/// the bridge's socket can hold a whole burst from the server.
struct BigReceiveBuffer {
    to: std::net::SocketAddr,
}

impl Connector for BigReceiveBuffer {
    fn connect(&self, _: std::net::SocketAddr) -> BoxFuture<'_, std::io::Result<TcpStream>> {
        let to = self.to;
        Box::pin(async move {
            let s = tokio::net::TcpSocket::new_v4()?;
            s.set_recv_buffer_size(4 << 20)?;
            let s = s.connect(to).await?;
            s.set_nodelay(true)?;
            Ok(s)
        })
    }
}

#[tokio::test]
async fn a_burst_bigger_than_a_frame_reaches_the_browser_in_frames_of_at_most_64_kib() {
    // The largest frame the bridge sends (`MAX_FRAME_TO_CLIENT` in src/relay.rs).
    const MAX_FRAME: usize = 64 * 1024;
    const BURST: usize = 2 << 20;
    let data = Arc::new(pattern(BURST, 5));
    let written = Arc::new(AtomicU64::new(0));
    let (d, w) = (data.clone(), written.clone());
    let up = fake_server(move |mut s| {
        let (d, w) = (d.clone(), w.clone());
        async move {
            let mut off = 0;
            while off < d.len() {
                match s.write(&d[off..]).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => off += n,
                }
                w.store(off as u64, Ordering::SeqCst);
            }
            let _ = s.shutdown().await;
            let _ = s.read(&mut [0u8; 16]).await;
        }
    })
    .await;
    let r = Arc::new(FakeResolver::new().answer(HOST, &[ip(PUBLIC)]));
    let b = TestBridge::start_with(
        cfg(),
        Some(r),
        Some(Arc::new(BigReceiveBuffer { to: up.addr })),
    )
    .await;
    let (mut ws, ans) = session(&b, target()).await;
    assert_eq!(ans["ok"], true);
    // Read nothing until the burst has left the server (or as much of it as the buffers take):
    // the bridge then finds far more than a frame waiting on every read, its reads grow to
    // `MAX_READ` (256 KiB), and each must be split.
    when_still(|| written.load(Ordering::SeqCst)).await;
    let mut got = Vec::new();
    let mut largest = 0;
    loop {
        match tokio::time::timeout(Duration::from_secs(20), ws.next()).await {
            Ok(Some(Ok(Message::Binary(f)))) => {
                assert!(f.len() <= MAX_FRAME, "a frame of {} bytes", f.len());
                largest = largest.max(f.len());
                got.extend_from_slice(&f);
            }
            Ok(Some(Ok(Message::Close(c)))) => {
                assert_eq!(u16::from(c.expect("close frame").code), 1000);
                break;
            }
            Ok(Some(Ok(_))) => {}
            other => panic!("{other:?} after {} bytes", got.len()),
        }
    }
    assert!(got == *data, "{} bytes, not the burst", got.len());
    assert_eq!(
        largest, MAX_FRAME,
        "no read filled a frame: nothing needed splitting"
    );
}

#[tokio::test]
async fn shutdown_answers_sessions_that_are_still_handshaking() {
    let up = echo_server().await;
    let mut c = cfg();
    c.limits.handshake_timeout = Duration::from_secs(30);
    let b = bridge(c, &up).await;
    let mut ws = ws_connect(&b).await.unwrap();
    let t = Instant::now();
    let reader = tokio::spawn(async move {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                serde_json::from_str::<serde_json::Value>(t.as_str()).unwrap()
            }
            other => panic!("{other:?}"),
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    b.stop().await.unwrap();
    let ans = reader.await.unwrap();
    assert_eq!(ans["error"]["code"], "shutting_down");
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn browser_ping_is_answered_and_fragments_are_relayed_within_the_message_limit() {
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    let up = echo_server().await;
    let mut c = cfg();
    c.limits.max_message_size = 1000;
    let b = bridge(c, &up).await;
    let (mut ws, _) = session(&b, target()).await;
    assert_eq!(read_n(&mut ws, 21).await, b"+OK fake POP3 ready\r\n");
    ws.send(Message::Ping(b"are you there".to_vec().into()))
        .await
        .unwrap();
    loop {
        match ws.next().await {
            Some(Ok(Message::Pong(p))) => {
                assert_eq!(&p[..], b"are you there");
                break;
            }
            Some(Ok(Message::Ping(_))) => {}
            other => panic!("{other:?}"),
        }
    }
    // A message in three fragments (600 bytes in all) is relayed as one byte stream.
    let parts = [
        (OpCode::Data(Data::Binary), false, pattern(200, 1)),
        (OpCode::Data(Data::Continue), false, pattern(200, 2)),
        (OpCode::Data(Data::Continue), true, pattern(200, 3)),
    ];
    let mut want = Vec::new();
    for (op, fin, data) in parts {
        want.extend_from_slice(&data);
        ws.send(Message::Frame(Frame::message(data, op, fin)))
            .await
            .unwrap();
    }
    assert_eq!(read_n(&mut ws, want.len()).await, want);
    // Fragments that add up to more than max_message_size close with 1009.
    for (op, fin) in [
        (OpCode::Data(Data::Binary), false),
        (OpCode::Data(Data::Continue), false),
        (OpCode::Data(Data::Continue), true),
    ] {
        let _ = ws
            .send(Message::Frame(Frame::message(vec![b'x'; 400], op, fin)))
            .await;
    }
    let (echoed, close) = read_until_close(&mut ws).await;
    assert_eq!(u16::from(close.unwrap().code), 1009);
    assert!(echoed.len() <= 800, "{}", echoed.len());
}
