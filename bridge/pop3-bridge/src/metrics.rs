//! Counters for `/metrics` in the Prometheus text exposition format. Plain atomics: the
//! relay hot path only does `fetch_add`.

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::protocol::ErrorCode;

/// Upper bounds (seconds) of the connect latency histogram (connect + TLS/STLS).
const LATENCY_BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// Reasons a request is refused before the WebSocket upgrade.
#[derive(Debug, Clone, Copy)]
pub enum HttpRefusal {
    Host,
    Origin,
    Token,
    Busy,
    PerIpLimit,
    BadUpgrade,
    ConnectionLimit,
}

const HTTP_REFUSALS: [(&str, usize); 7] = [
    ("host", 0),
    ("origin", 1),
    ("token", 2),
    ("busy", 3),
    ("per_ip_limit", 4),
    ("bad_upgrade", 5),
    ("connection_limit", 6),
];

#[derive(Debug, Default)]
pub struct Metrics {
    pub sessions_active: AtomicI64,
    pub sessions_total: AtomicU64,
    /// Sessions answered in relay mode (end to end: TLS in the client, none here).
    pub end_to_end_total: AtomicU64,
    /// Session tasks currently alive (incl. those still handshaking): the leak test's gauge.
    pub tasks_alive: AtomicI64,
    pub bytes_to_server: AtomicU64,
    pub bytes_to_client: AtomicU64,
    /// Bytes read from upstream and not yet written to the client socket: the backpressure
    /// test's gauge.
    pub bytes_in_flight: AtomicI64,
    latency_buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    latency_sum_us: AtomicU64,
    latency_count: AtomicU64,
    errors: [AtomicU64; ErrorCode::ALL.len()],
    refusals: [AtomicU64; HTTP_REFUSALS.len()],
}

impl Metrics {
    pub fn observe_connect(&self, d: Duration) {
        let s = d.as_secs_f64();
        for (i, b) in LATENCY_BUCKETS.iter().enumerate() {
            if s <= *b {
                self.latency_buckets[i].fetch_add(1, Relaxed);
            }
        }
        self.latency_sum_us.fetch_add(d.as_micros() as u64, Relaxed);
        self.latency_count.fetch_add(1, Relaxed);
    }

    pub fn error(&self, code: ErrorCode) {
        if let Some(i) = ErrorCode::ALL.iter().position(|c| *c == code) {
            self.errors[i].fetch_add(1, Relaxed);
        }
    }

    pub fn refused(&self, r: HttpRefusal) {
        self.refusals[r as usize].fetch_add(1, Relaxed);
    }

    pub fn render(&self) -> String {
        let mut o = String::with_capacity(4096);
        let _ = writeln!(
            o,
            "# HELP pop3_bridge_sessions_active WebSocket POP3 sessions currently open."
        );
        let _ = writeln!(o, "# TYPE pop3_bridge_sessions_active gauge");
        let _ = writeln!(
            o,
            "pop3_bridge_sessions_active {}",
            self.sessions_active.load(Relaxed)
        );
        let _ = writeln!(
            o,
            "# HELP pop3_bridge_sessions_total WebSocket POP3 sessions accepted."
        );
        let _ = writeln!(o, "# TYPE pop3_bridge_sessions_total counter");
        let _ = writeln!(
            o,
            "pop3_bridge_sessions_total {}",
            self.sessions_total.load(Relaxed)
        );
        let _ = writeln!(
            o,
            "# HELP pop3_bridge_end_to_end_sessions_total Sessions relayed end to end (TLS in the client, none in the bridge)."
        );
        let _ = writeln!(o, "# TYPE pop3_bridge_end_to_end_sessions_total counter");
        let _ = writeln!(
            o,
            "pop3_bridge_end_to_end_sessions_total {}",
            self.end_to_end_total.load(Relaxed)
        );
        let _ = writeln!(o, "# HELP pop3_bridge_session_tasks Session tasks alive.");
        let _ = writeln!(o, "# TYPE pop3_bridge_session_tasks gauge");
        let _ = writeln!(
            o,
            "pop3_bridge_session_tasks {}",
            self.tasks_alive.load(Relaxed)
        );
        let _ = writeln!(
            o,
            "# HELP pop3_bridge_bytes_total POP3 payload bytes relayed."
        );
        let _ = writeln!(o, "# TYPE pop3_bridge_bytes_total counter");
        let _ = writeln!(
            o,
            "pop3_bridge_bytes_total{{direction=\"to_server\"}} {}",
            self.bytes_to_server.load(Relaxed)
        );
        let _ = writeln!(
            o,
            "pop3_bridge_bytes_total{{direction=\"to_client\"}} {}",
            self.bytes_to_client.load(Relaxed)
        );
        let _ = writeln!(
            o,
            "# HELP pop3_bridge_bytes_in_flight Bytes read from servers not yet written to clients."
        );
        let _ = writeln!(o, "# TYPE pop3_bridge_bytes_in_flight gauge");
        let _ = writeln!(
            o,
            "pop3_bridge_bytes_in_flight {}",
            self.bytes_in_flight.load(Relaxed)
        );
        let _ = writeln!(
            o,
            "# HELP pop3_bridge_connect_seconds Time to a ready upstream (TCP connect plus TLS/STLS)."
        );
        let _ = writeln!(o, "# TYPE pop3_bridge_connect_seconds histogram");
        for (i, b) in LATENCY_BUCKETS.iter().enumerate() {
            let _ = writeln!(
                o,
                "pop3_bridge_connect_seconds_bucket{{le=\"{b}\"}} {}",
                self.latency_buckets[i].load(Relaxed)
            );
        }
        let count = self.latency_count.load(Relaxed);
        let _ = writeln!(
            o,
            "pop3_bridge_connect_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            o,
            "pop3_bridge_connect_seconds_sum {}",
            self.latency_sum_us.load(Relaxed) as f64 / 1e6
        );
        let _ = writeln!(o, "pop3_bridge_connect_seconds_count {count}");
        let _ = writeln!(
            o,
            "# HELP pop3_bridge_errors_total Session errors by kind (the protocol's error codes)."
        );
        let _ = writeln!(o, "# TYPE pop3_bridge_errors_total counter");
        for (i, c) in ErrorCode::ALL.iter().enumerate() {
            let _ = writeln!(
                o,
                "pop3_bridge_errors_total{{kind=\"{}\"}} {}",
                c.as_str(),
                self.errors[i].load(Relaxed)
            );
        }
        let _ = writeln!(
            o,
            "# HELP pop3_bridge_http_refused_total Requests refused before the WebSocket upgrade."
        );
        let _ = writeln!(o, "# TYPE pop3_bridge_http_refused_total counter");
        for (name, i) in HTTP_REFUSALS {
            let _ = writeln!(
                o,
                "pop3_bridge_http_refused_total{{reason=\"{name}\"}} {}",
                self.refusals[i].load(Relaxed)
            );
        }
        o
    }
}
