//! Load and leak tests: 1000 concurrent sessions, and 10 000 open/close cycles that must
//! leave no task and no file descriptor behind (B16, B19).

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use pop3_bridge::FakeResolver;
use serde_json::json;
use tokio::sync::Barrier;
use tokio_tungstenite::tungstenite::Message;

const HOST: &str = "pop.example.com";

fn cfg() -> pop3_bridge::Config {
    let mut c = test_config();
    c.allow_plaintext = true;
    c.limits.max_sessions = 5000;
    c.limits.max_sessions_per_ip = 5000;
    c.limits.max_connections = 10_000;
    c.limits.max_connections_per_ip = 10_000;
    c.limits.handshake_timeout = Duration::from_secs(30);
    // 1000 simultaneous connects can overflow a listen backlog; SYN retries take seconds.
    c.limits.connect_timeout = Duration::from_secs(30);
    c
}

fn raise_fd_limit() {
    let _ = rlimit::increase_nofile_limit(65_536);
}

fn open_fds() -> usize {
    // Unreadable, a count of 0 would make the leak check below always pass.
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

async fn bridge(up: &FakeServer) -> TestBridge {
    let r = Arc::new(FakeResolver::new().answer(HOST, &[ip(PUBLIC)]));
    TestBridge::start_with(cfg(), Some(r), Some(RedirectConnector::new(up.addr))).await
}

fn target() -> serde_json::Value {
    json!({"host": HOST, "port": 110, "security": "plain"})
}

/// One full session: open, greet, echo a line, close.
async fn one_session(b: &TestBridge, i: usize, barrier: Option<Arc<Barrier>>) {
    let (mut ws, ans) = session(b, target()).await;
    assert_eq!(ans["ok"], true, "{ans}");
    assert_eq!(read_n(&mut ws, 21).await, b"+OK fake POP3 ready\r\n");
    if let Some(bar) = barrier {
        // All sessions are open at the same time before any closes.
        bar.wait().await;
    }
    let line = format!("NOOP {i}\r\n");
    ws.send(Message::binary(line.clone().into_bytes()))
        .await
        .unwrap();
    assert_eq!(read_n(&mut ws, line.len()).await, line.as_bytes());
    ws.close(None).await.unwrap();
    while let Some(Ok(_)) = ws.next().await {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_sessions_complete_correctly() {
    raise_fd_limit();
    let up = echo_server().await;
    let b = Arc::new(bridge(&up).await);
    let n = 1000;
    let barrier = Arc::new(Barrier::new(n));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (b, bar) = (b.clone(), barrier.clone());
            tokio::spawn(async move { one_session(&b, i, Some(bar)).await })
        })
        .collect();
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(60), t)
            .await
            .expect("session hung")
            .unwrap();
    }
    assert_eq!(b.metric("pop3_bridge_sessions_total").await, n as f64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_open_close_cycles_leak_no_task_or_fd() {
    raise_fd_limit();
    let up = echo_server().await;
    let b = Arc::new(bridge(&up).await);
    // Warm up (lazy statics, thread pools) before taking the baseline.
    for i in 0..20 {
        one_session(&b, i, None).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let fds_before = open_fds();
    let cycles = 10_000;
    let parallel = 32;
    let tasks: Vec<_> = (0..parallel)
        .map(|w| {
            let b = b.clone();
            tokio::spawn(async move {
                for i in (w..cycles).step_by(parallel) {
                    one_session(&b, i, None).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    // Let the last sessions finish their close handshakes.
    let mut settled = false;
    for _ in 0..100 {
        if b.metric("pop3_bridge_session_tasks").await == 0.0
            && b.metric("pop3_bridge_sessions_active").await == 0.0
        {
            settled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        settled,
        "session tasks still alive after all clients closed"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let fds_after = open_fds();
    assert!(
        fds_after <= fds_before + 4,
        "fd leak: {fds_before} before, {fds_after} after"
    );
    assert_eq!(
        b.metric("pop3_bridge_sessions_total").await,
        (cycles + 20) as f64
    );
}
