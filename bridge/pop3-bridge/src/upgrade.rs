//! HTTP requests: static files, `/healthz`, `/metrics`, and the checks that run *before* a
//! WebSocket upgrade is granted. A refused upgrade is a plain HTTP error, never a 101:
//!
//! | check | refusal |
//! |---|---|
//! | not a valid WebSocket upgrade / wrong subprotocol | 400 |
//! | `Host` not one of the bridge's own names (DNS rebinding) | 400 |
//! | `Origin` missing, `null`, or not the bridge's own origin / configured (CSWSH) | 403 |
//! | `token=` in the query without `token_in_query`, or with a shared-secret token | 400 |
//! | token in the query invalid or expired | 401 |
//! | per-IP session cap reached | 429 |
//! | global session cap reached | 503 |
//!
//! The client of a request is the socket peer, or behind a trusted proxy the client it names
//! in `X-Forwarded-For` (see `forwarded.rs`); per-client caps count it under its key (an IPv4
//! address or an IPv6 prefix).

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::OwnedSemaphorePermit;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tracing::debug;

use crate::Shared;
use crate::forwarded::{client_addr, client_key};
use crate::metrics::{HttpRefusal, Metrics};
use crate::policy::IpNet;
use crate::protocol::{SUBPROTOCOL, WS_PATH};
use crate::session::{self, QueryToken};
use crate::token::{TokenError, TokenMode, now_unix};

pub type Body = Full<Bytes>;

fn plain(status: StatusCode, text: &str) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(format!("{text}\n"))));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn refuse(shared: &Shared, why: HttpRefusal, status: StatusCode, text: &str) -> Response<Body> {
    shared.metrics.refused(why);
    debug!(?why, %status, "upgrade refused");
    plain(status, text)
}

/// The host part of a `Host` header value, lower-cased ("[::1]:8080" -> "[::1]").
fn host_name(value: &str) -> String {
    let v = value.trim().to_ascii_lowercase();
    if v.starts_with('[') {
        return match v.find(']') {
            Some(i) => v[..=i].to_string(),
            None => v,
        };
    }
    match v.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h.to_string(),
        _ => v,
    }
    .trim_end_matches('.')
    .to_string()
}

fn header_str(h: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

fn header_has_token(h: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    h.get_all(name).iter().any(|v| {
        v.to_str()
            .map(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
            .unwrap_or(false)
    })
}

/// The `token` query parameter, if any (tokens are base64url and need no decoding).
fn query_token(query: Option<&str>) -> Option<&str> {
    query?.split('&').find_map(|kv| kv.strip_prefix("token="))
}

/// `Strict-Transport-Security` on every answer of a TLS listener: a year, this name only.
const HSTS: &str = "max-age=31536000";

/// What the HTTP side knows about one connection.
#[derive(Debug)]
pub struct Conn {
    /// The socket peer.
    pub peer: SocketAddr,
    /// The listener terminates TLS (answers carry `Strict-Transport-Security`).
    pub tls: bool,
    /// The proxies whose `X-Forwarded-For` is believed.
    pub trusted: Arc<[IpNet]>,
    /// The peer is one of them: per-client connection caps are taken per request, keyed on
    /// the forwarded client.
    pub from_proxy: bool,
    /// The per-client connection table (shared with the accept loop).
    pub conns: Arc<PerIp>,
    /// Set once the connection is a WebSocket session: HTTP write deadlines end there (the
    /// relay has its own).
    upgraded: AtomicBool,
    /// The forwarded client's connection slot while its request is answered.
    client_slot: Mutex<Option<PerIpGuard>>,
}

impl Conn {
    pub fn new(peer: SocketAddr, tls: bool, trusted: Arc<[IpNet]>, conns: Arc<PerIp>) -> Self {
        let from_proxy = trusted.iter().any(|n| n.contains(peer.ip().to_canonical()));
        Conn {
            peer,
            tls,
            trusted,
            from_proxy,
            conns,
            upgraded: AtomicBool::new(false),
            client_slot: Mutex::new(None),
        }
    }

    pub fn upgraded(&self) -> bool {
        self.upgraded.load(Ordering::Acquire)
    }

    /// A response has been written out: the forwarded client's slot is free again.
    pub fn response_done(&self) {
        let slot = self
            .client_slot
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        drop(slot);
    }
}

/// Counts sessions per client IP; the guard gives the slot back.
#[derive(Debug, Default)]
pub struct PerIp {
    counts: Mutex<HashMap<IpAddr, usize>>,
}

#[derive(Debug)]
pub struct PerIpGuard {
    table: Arc<PerIp>,
    ip: IpAddr,
}

impl PerIp {
    pub fn try_take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<PerIpGuard> {
        let mut t = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let n = t.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(PerIpGuard {
            table: self.clone(),
            ip,
        })
    }
}

impl Drop for PerIpGuard {
    fn drop(&mut self) {
        let mut t = self.table.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = t.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                t.remove(&self.ip);
            }
        }
    }
}

/// The client of a request: the socket peer, or from a trusted proxy the client named in
/// `X-Forwarded-For` (every line of it; see `forwarded.rs`).
fn client_ip(conn: &Conn, headers: &HeaderMap) -> IpAddr {
    let lines = headers
        .get_all(header::HeaderName::from_static("x-forwarded-for"))
        .iter()
        .map(|v| v.to_str().unwrap_or("garbage"));
    client_addr(conn.peer.ip(), lines, &conn.trusted)
}

/// Compare in time independent of where the inputs differ (through digests).
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    use sha2::Digest;
    let (da, db) = (sha2::Sha256::digest(a), sha2::Sha256::digest(b));
    da.iter()
        .zip(db.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// `/metrics`: with a token, only for `Authorization: Bearer TOKEN` (401 otherwise); without
/// one, on the metrics listener for anyone and on the main listener (`main`) not at all (404).
pub(crate) fn metrics_answer(
    metrics: &Metrics,
    token: Option<&str>,
    headers: &HeaderMap,
    main: bool,
) -> Response<Body> {
    match token {
        None if main => return plain(StatusCode::NOT_FOUND, "not found"),
        None => {}
        Some(t) => {
            let given = header_str(headers, header::AUTHORIZATION)
                .and_then(|v| v.trim().split_once(' '))
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, v)| v.trim());
            if !given.is_some_and(|g| same_secret(g.as_bytes(), t.as_bytes())) {
                let mut r = plain(StatusCode::UNAUTHORIZED, "metrics need a bearer token");
                r.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                return r;
            }
        }
    }
    let mut r = plain(StatusCode::OK, "");
    *r.body_mut() = Full::new(Bytes::from(metrics.render()));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

/// The separate metrics listener: `/metrics` and `/healthz`, nothing else.
pub(crate) async fn handle_metrics(
    metrics: Arc<Metrics>,
    token: Option<Arc<str>>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    Ok(match req.uri().path() {
        "/metrics" if req.method() == Method::GET || req.method() == Method::HEAD => {
            metrics_answer(&metrics, token.as_deref(), req.headers(), false)
        }
        "/healthz" => plain(StatusCode::OK, "ok"),
        _ => plain(StatusCode::NOT_FOUND, "not found"),
    })
}

pub(crate) async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
    conn: Arc<Conn>,
) -> Result<Response<Body>, Infallible> {
    let mut r = route(shared, req, &conn).await;
    if conn.tls {
        r.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    Ok(r)
}

/// From a trusted proxy, the forwarded client takes one of its connection slots while its
/// request is answered (the slot is given back when the answer is written). None when it has
/// none left.
fn take_forwarded_slot(shared: &Shared, conn: &Conn, headers: &HeaderMap) -> Option<()> {
    if !conn.from_proxy {
        return Some(());
    }
    let key = client_key(client_ip(conn, headers), shared.config.limits.ipv6_prefix);
    let mut slot = conn.client_slot.lock().unwrap_or_else(|e| e.into_inner());
    // The previous request's slot (keep-alive) is given back first.
    *slot = None;
    *slot = Some(
        conn.conns
            .try_take(key, shared.config.limits.max_connections_per_ip)?,
    );
    Some(())
}

async fn route(shared: Arc<Shared>, req: Request<Incoming>, conn: &Arc<Conn>) -> Response<Body> {
    let path = req.uri().path().to_string();
    if path == "/healthz" {
        return plain(StatusCode::OK, "ok");
    }
    if take_forwarded_slot(&shared, conn, req.headers()).is_none() {
        return refuse(
            &shared,
            HttpRefusal::ConnectionLimit,
            StatusCode::TOO_MANY_REQUESTS,
            "too many connections from your address",
        );
    }
    // Every other route is only for the bridge's own names (DNS rebinding defence).
    let host_ok = header_str(req.headers(), header::HOST)
        .map(host_name)
        .is_some_and(|h| shared.host_names.contains(&h));
    if !host_ok {
        return refuse(
            &shared,
            HttpRefusal::Host,
            StatusCode::BAD_REQUEST,
            "Host header not allowed: this bridge answers only to its configured names (--public-host)",
        );
    }
    if path == WS_PATH {
        return upgrade(shared, req, conn);
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    }
    if path == "/client-config.json" {
        // What the served UI must obey (kiosk mode); the UI reads it before anyone signs in.
        let body = format!(
            "{{\"kiosk\":{},\"kioskIdleSeconds\":{}}}",
            shared.config.kiosk, shared.config.kiosk_idle_secs
        );
        let mut r = plain(StatusCode::OK, "");
        *r.body_mut() = Full::new(Bytes::from(body));
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return r;
    }
    if path == "/metrics" {
        return metrics_answer(
            &shared.metrics,
            shared.config.metrics_token.as_deref(),
            req.headers(),
            true,
        );
    }
    let Some(file) = shared.files.get(&path).await else {
        return plain(StatusCode::NOT_FOUND, "not found");
    };
    let head = req.method() == Method::HEAD;
    // What the browser has is current: no body, the same headers otherwise.
    let not_modified = file.matches(req.headers().get(header::IF_NONE_MATCH));
    let len = file.body.len();
    let mut r = Response::new(if head || not_modified {
        Full::new(Bytes::new())
    } else {
        Full::new(file.body)
    });
    if not_modified {
        *r.status_mut() = StatusCode::NOT_MODIFIED;
    }
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(file.content_type),
    );
    if !not_modified {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    h.insert(header::ETAG, file.etag.clone());
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert("x-dns-prefetch-control", HeaderValue::from_static("off"));
    let page = shared.files.page_headers();
    if let Some(v) = &page.frame_options {
        h.insert("x-frame-options", v.clone());
    }
    if file.product {
        h.insert(header::CONTENT_SECURITY_POLICY, page.csp.clone());
    }
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    r
}

fn upgrade(shared: Arc<Shared>, mut req: Request<Incoming>, conn: &Arc<Conn>) -> Response<Body> {
    let h = req.headers();
    let key = h.get(header::SEC_WEBSOCKET_KEY).cloned();
    let valid = req.method() == Method::GET
        && header_has_token(h, header::CONNECTION, "upgrade")
        && header_has_token(h, header::UPGRADE, "websocket")
        && header_str(h, header::SEC_WEBSOCKET_VERSION) == Some("13")
        && key.is_some();
    let Some(key) = key.filter(|_| valid) else {
        return refuse(
            &shared,
            HttpRefusal::BadUpgrade,
            StatusCode::BAD_REQUEST,
            "expected a WebSocket upgrade (version 13)",
        );
    };
    if !header_has_token(h, header::SEC_WEBSOCKET_PROTOCOL, SUBPROTOCOL) {
        return refuse(
            &shared,
            HttpRefusal::BadUpgrade,
            StatusCode::BAD_REQUEST,
            &format!("the WebSocket subprotocol must be {SUBPROTOCOL}"),
        );
    }
    // Cross-site WebSocket hijacking: only pages from our own origin (or configured ones).
    let origin = header_str(h, header::ORIGIN).unwrap_or("");
    let host = header_str(h, header::HOST)
        .unwrap_or("")
        .to_ascii_lowercase();
    let own = [format!("http://{host}"), format!("https://{host}")];
    let origin_l = origin.to_ascii_lowercase();
    let origin_ok = !origin.is_empty()
        && origin != "null"
        && (own.contains(&origin_l) || shared.origins.contains(&origin_l));
    if !origin_ok {
        return refuse(
            &shared,
            HttpRefusal::Origin,
            StatusCode::FORBIDDEN,
            "Origin not allowed (open the app from the bridge itself, or ask the operator to add your origin with --origin)",
        );
    }
    // A token in the URL ends up in proxy and access logs: it belongs in the connect request.
    // The query form is only for HMAC tokens (they expire and are bound to one server), and
    // only when the operator asks for it; a shared secret there would be logged as is.
    let in_query = query_token(req.uri().query());
    let query_allowed = shared.config.token_in_query
        && shared
            .tokens
            .as_ref()
            .is_some_and(|a| a.mode() == TokenMode::Hmac);
    if in_query.is_some() && !query_allowed {
        return refuse(
            &shared,
            HttpRefusal::Token,
            StatusCode::BAD_REQUEST,
            "access tokens are not accepted in the URL (URLs end up in proxy and access logs): send the token in the connect request, the \"token\" field of the first message",
        );
    }
    let query = match (&shared.tokens, in_query) {
        (None, _) => QueryToken::NotRequired,
        (Some(_), None) => QueryToken::Absent,
        (Some(auth), Some(t)) => match auth.verify(t, now_unix()) {
            Ok(claims) => QueryToken::Verified(claims),
            Err(e) => {
                let msg = match e {
                    TokenError::Expired => "access token expired",
                    _ => "access token invalid",
                };
                return refuse(&shared, HttpRefusal::Token, StatusCode::UNAUTHORIZED, msg);
            }
        },
    };
    // Caps: refused, never queued, so a flood cannot build an unbounded backlog.
    let ip = client_ip(conn, h);
    let client = client_key(ip, shared.config.limits.ipv6_prefix);
    let Some(ip_guard) = shared
        .per_ip
        .try_take(client, shared.config.limits.max_sessions_per_ip)
    else {
        return refuse(
            &shared,
            HttpRefusal::PerIpLimit,
            StatusCode::TOO_MANY_REQUESTS,
            "too many sessions from your address",
        );
    };
    let Ok(permit) = shared.sessions.clone().try_acquire_owned() else {
        return refuse(
            &shared,
            HttpRefusal::Busy,
            StatusCode::SERVICE_UNAVAILABLE,
            "the bridge is at its session limit; try again later",
        );
    };
    let accept = derive_accept_key(key.as_bytes());
    let on_upgrade = hyper::upgrade::on(&mut req);
    let guard = shared.session_guard();
    let shutdown = shared.shutdown.clone();
    shared
        .metrics
        .sessions_total
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let task_shared = shared.clone();
    let task_conn = conn.clone();
    tokio::spawn(async move {
        let _guard = guard;
        let _permit: OwnedSemaphorePermit = permit;
        let _ip_guard = ip_guard;
        match on_upgrade.await {
            Ok(upgraded) => {
                // The 101 is written; from here the relay bounds its own writes.
                task_conn.upgraded.store(true, Ordering::Release);
                session::run(task_shared, TokioIo::new(upgraded), ip, query, shutdown).await;
            }
            Err(e) => debug!(error = %e, "upgrade failed"),
        }
    });
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(SUBPROTOCOL),
    );
    if let Ok(v) = HeaderValue::from_str(&accept) {
        h.insert(header::SEC_WEBSOCKET_ACCEPT, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_header_forms() {
        assert_eq!(host_name("LocalHost:8080"), "localhost");
        assert_eq!(host_name("127.0.0.1"), "127.0.0.1");
        assert_eq!(host_name("[::1]:8080"), "[::1]");
        assert_eq!(host_name("mail.example.org."), "mail.example.org");
    }

    #[test]
    fn token_is_found_in_query() {
        assert_eq!(query_token(Some("a=1&token=v1.x.y")), Some("v1.x.y"));
        assert_eq!(query_token(Some("a=1")), None);
        assert_eq!(query_token(None), None);
    }
}
