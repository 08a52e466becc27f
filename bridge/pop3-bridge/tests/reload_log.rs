//! What a reload tells the operator in the log: which changed settings need a restart, and
//! why a refused configuration was refused. (A file of its own: it installs the global log
//! subscriber.)

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    fn take(&self) -> String {
        String::from_utf8_lossy(&std::mem::take(&mut *self.0.lock().unwrap())).into_owned()
    }
}

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
async fn a_reload_logs_what_needs_a_restart_and_why_it_refused() {
    let cap = Capture::default();
    let writer = cap.clone();
    tracing_subscriber::fmt()
        .with_env_filter("pop3_bridge=info")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();
    let c = test_config();
    let b = TestBridge::start(c.clone()).await;
    let _ = b.get("/healthz").await;
    cap.take();

    // Nothing that needs a restart: no such warning.
    let mut next = c.clone();
    next.allow_hosts = vec!["10.20.30.90".into()];
    b.reloader.reload(next.clone()).await.unwrap();
    let log = cap.take();
    assert!(log.contains("configuration reloaded"), "{log}");
    assert!(!log.contains("need a restart"), "{log}");

    // Limits, origins and kiosk cannot change while running: named in a warning.
    next.limits.max_sessions = 7;
    next.origins = vec!["https://mail.example.org".into()];
    next.kiosk = true;
    b.reloader.reload(next.clone()).await.unwrap();
    let log = cap.take();
    let warning = log
        .lines()
        .find(|l| l.contains("need a restart"))
        .unwrap_or_else(|| panic!("no restart warning in {log}"));
    assert!(warning.contains("WARN"), "{warning}");
    for name in ["limits", "origins", "kiosk"] {
        assert!(warning.contains(name), "{name} not named: {warning}");
    }
    assert!(!warning.contains("allow_hosts"), "{warning}");

    // A refused configuration: the reason is in the log.
    next.token_secret = Some("short".into());
    assert!(b.reloader.reload(next).await.is_err());
    let log = cap.take();
    let refusal = log
        .lines()
        .find(|l| l.contains("reload refused"))
        .unwrap_or_else(|| panic!("no refusal in {log}"));
    assert!(refusal.contains("at least 16 characters"), "{refusal}");
    assert!(
        !refusal.contains("short\""),
        "the secret was logged: {refusal}"
    );
    b.stop().await.unwrap();
}
