//! The relay: every byte arrives before the close, backpressure keeps memory bounded, either
//! side closing closes the other, idle and dead-browser detection, graceful shutdown.
//! Cases B17–B19 and the "every byte arrives" benchmark note.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use futures_util::{SinkExt, StreamExt};
use pop3_bridge::FakeResolver;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
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

#[tokio::test]
async fn backpressure_keeps_buffered_bytes_bounded_while_the_browser_does_not_read() {
    // The server tries to stream 1 GiB; the browser reads nothing for a while.
    let written = Arc::new(AtomicU64::new(0));
    let w = written.clone();
    let up = fake_server(move |mut s| {
        let w = w.clone();
        async move {
            let chunk = pattern(64 * 1024, 1);
            for _ in 0..(1u64 << 30) / chunk.len() as u64 {
                if s.write_all(&chunk).await.is_err() {
                    return;
                }
                w.fetch_add(chunk.len() as u64, Ordering::SeqCst);
            }
        }
    })
    .await;
    let mut c = cfg();
    c.limits.write_timeout = Duration::from_secs(30);
    c.limits.ping_interval = Duration::from_secs(30);
    let b = bridge(c, &up).await;
    let (mut ws, ans) = session(&b, target()).await;
    assert_eq!(ans["ok"], true);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stalled_at = written.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The server is blocked: the bridge stopped reading once the browser's socket was full.
    assert_eq!(
        written.load(Ordering::SeqCst),
        stalled_at,
        "server still writing"
    );
    // Only kernel socket buffers hold data; the bridge itself holds at most one read.
    assert!(stalled_at < 32 << 20, "{stalled_at} bytes left the server");
    let in_flight = b.metric("pop3_bridge_bytes_in_flight").await;
    let max_read = pop3_bridge::MAX_READ as f64;
    assert!(
        in_flight <= max_read,
        "{in_flight} bytes buffered in the bridge"
    );
    // Reading resumes the stream, intact, and the server is unblocked.
    let got = read_n(&mut ws, 1 << 20).await;
    assert_eq!(&got[..64 * 1024], &pattern(64 * 1024, 1)[..]);
    let mut read = got.len();
    while written.load(Ordering::SeqCst) == stalled_at && read < 256 << 20 {
        read += read_n(&mut ws, 1 << 20).await.len();
    }
    assert!(written.load(Ordering::SeqCst) > stalled_at);
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
    // Frames to the browser never exceed 64 KiB.
    ws.send(Message::binary(vec![0u8; 60_000])).await.unwrap();
    ws.send(Message::binary(vec![0u8; 60_000])).await.unwrap();
    let mut total = 0;
    while total < 120_000 {
        match ws.next().await {
            Some(Ok(Message::Binary(b))) => {
                assert!(b.len() <= 64 * 1024);
                total += b.len();
            }
            Some(Ok(_)) => {}
            other => panic!("{other:?}"),
        }
    }
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
