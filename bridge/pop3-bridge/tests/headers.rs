//! The headers the bridge sends with the UI (Content-Security-Policy identical in meaning to
//! web/index.html's meta tag, plus frame-ancestors; X-DNS-Prefetch-Control; HSTS on a TLS
//! listener) and where /metrics is served (a separate listener, or with a bearer token).

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::*;
use pop3_bridge::{Bridge, Config};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// The repository's own web/ folder: what a deployment serves.
fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web")
}

/// A GET over `s`; (status, headers with lower-case names, body).
async fn get_over<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    path: &str,
    host: &str,
    extra: &str,
) -> (u16, Vec<(String, String)>, String) {
    let req = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    let text = String::from_utf8_lossy(&out).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, body.to_string())
}

async fn get(addr: SocketAddr, path: &str, extra: &str) -> (u16, Vec<(String, String)>, String) {
    let s = TcpStream::connect(addr).await.unwrap();
    get_over(s, path, &addr.to_string(), extra).await
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// A policy as directive -> sources (sorted): the same policy however it is spelled.
fn directives(policy: &str) -> BTreeMap<String, Vec<String>> {
    policy
        .split(';')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            let mut parts = d.split_ascii_whitespace();
            let name = parts.next().unwrap().to_ascii_lowercase();
            let mut sources: Vec<String> = parts.map(str::to_string).collect();
            sources.sort();
            (name, sources)
        })
        .collect()
}

/// The `content` of web/index.html's CSP meta tag.
fn meta_csp() -> String {
    let html = std::fs::read_to_string(web_dir().join("index.html")).unwrap();
    let at = html
        .find("http-equiv=\"Content-Security-Policy\"")
        .expect("web/index.html has a CSP meta tag");
    let rest = &html[at..];
    let content = &rest[rest.find("content=\"").unwrap() + "content=\"".len()..];
    content[..content.find('"').unwrap()].to_string()
}

async fn web_bridge(config: impl FnOnce(&mut Config)) -> TestBridge {
    let mut c = test_config();
    c.web_root = Some(web_dir());
    config(&mut c);
    TestBridge::start(c).await
}

#[tokio::test]
async fn the_csp_header_is_the_pages_meta_policy_plus_frame_ancestors() {
    let b = web_bridge(|_| {}).await;
    let meta = directives(&meta_csp());
    assert!(
        !meta.contains_key("frame-ancestors"),
        "ignored in a meta tag"
    );
    for path in ["/", "/index.html", "/pop3-inbox.js"] {
        let (status, h, _) = get(b.addr, path, "").await;
        assert_eq!(status, 200, "{path}");
        let csp = header(&h, "content-security-policy")
            .unwrap_or_else(|| panic!("{path}: no Content-Security-Policy header"));
        let mut served = directives(csp);
        // Nobody may frame the UI unless the operator says so; old browsers get the same
        // from X-Frame-Options.
        assert_eq!(
            served.remove("frame-ancestors"),
            Some(vec!["'none'".to_string()]),
            "{csp}"
        );
        assert_eq!(served, meta, "{path}: header and meta tag differ");
        assert_eq!(header(&h, "x-frame-options"), Some("DENY"));
        assert_eq!(header(&h, "x-dns-prefetch-control"), Some("off"), "{path}");
        // Not a TLS listener: no HSTS.
        assert_eq!(header(&h, "strict-transport-security"), None);
    }
    b.stop().await.unwrap();
}

#[tokio::test]
async fn frame_ancestors_is_configurable_for_pages_that_embed_the_inbox() {
    let b = web_bridge(|c| {
        c.frame_ancestors = vec!["'self'".into(), "https://portal.example.org".into()];
    })
    .await;
    let (_, h, _) = get(b.addr, "/", "").await;
    let served = directives(header(&h, "content-security-policy").unwrap());
    assert_eq!(
        served["frame-ancestors"],
        ["'self'", "https://portal.example.org"]
    );
    // X-Frame-Options cannot name another origin: left out, frame-ancestors decides.
    assert_eq!(header(&h, "x-frame-options"), None);
    b.stop().await.unwrap();
    let b = web_bridge(|c| c.frame_ancestors = vec!["'self'".into()]).await;
    let (_, h, _) = get(b.addr, "/", "").await;
    assert_eq!(header(&h, "x-frame-options"), Some("SAMEORIGIN"));
    b.stop().await.unwrap();
    // Anything that would end the directive or the policy is refused at start-up.
    for bad in [
        "'self'; script-src *",
        "https://a.example, https://b.example",
        "'none' 'self'",
        "'unsafe-inline'",
    ] {
        let c = Config {
            frame_ancestors: vec![bad.into()],
            ..Config::default()
        };
        assert!(c.validate().is_err(), "{bad}");
    }
}

#[tokio::test]
async fn dev_pages_keep_their_own_rules() {
    // The test pages are not the product: they get no page policy (the browser tests load
    // probes from other origins through them).
    let b = web_bridge(|c| c.dev_pages = true).await;
    let (status, h, _) = get(b.addr, "/dev/safety.html", "").await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "content-security-policy"), None);
    b.stop().await.unwrap();
}

#[tokio::test]
async fn a_tls_listener_sends_strict_transport_security() {
    let ca = pki::Ca::new("Listener CA");
    let leaf = ca.leaf(&["localhost"], false);
    let dir = std::env::temp_dir().join(format!("pop3-bridge-hsts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("cert.pem"), &leaf.cert_pem).unwrap();
    std::fs::write(dir.join("key.pem"), &leaf.key_pem).unwrap();
    let b = web_bridge(|c| {
        c.tls_cert = Some(dir.join("cert.pem"));
        c.tls_key = Some(dir.join("key.pem"));
    })
    .await;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut ca.pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    let host = format!("localhost:{}", b.addr.port());
    for path in ["/", "/healthz", "/nope"] {
        let tcp = TcpStream::connect(b.addr).await.unwrap();
        let tls = connector
            .connect("localhost".try_into().unwrap(), tcp)
            .await
            .unwrap();
        let (_, h, _) = get_over(tls, path, &host, "").await;
        let hsts = header(&h, "strict-transport-security")
            .unwrap_or_else(|| panic!("{path}: no Strict-Transport-Security"));
        assert!(hsts.starts_with("max-age="), "{hsts}");
        let age: u64 = hsts["max-age=".len()..].parse().unwrap();
        assert!(age >= 180 * 24 * 3600, "{hsts}");
    }
    b.stop().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

const METRICS_TOKEN: &str = "metrics-token-0123456789";

#[tokio::test]
async fn metrics_are_not_on_the_main_listener_by_default() {
    let b = web_bridge(|_| {}).await;
    assert_eq!(get(b.addr, "/metrics", "").await.0, 404);
    // The separate listener serves them (and nothing else).
    let (status, _, body) = get(b.metrics_addr, "/metrics", "").await;
    assert_eq!(status, 200);
    assert!(body.contains("pop3_bridge_sessions_active"), "{body}");
    assert_eq!(get(b.metrics_addr, "/", "").await.0, 404);
    assert_eq!(get(b.metrics_addr, "/pop3", "").await.0, 404);
    b.stop().await.unwrap();
}

#[tokio::test]
async fn with_a_token_metrics_need_it_on_both_listeners() {
    let b = web_bridge(|c| c.metrics_token = Some(METRICS_TOKEN.into())).await;
    let good = format!("Authorization: Bearer {METRICS_TOKEN}\r\n");
    for addr in [b.addr, b.metrics_addr] {
        let (status, h, _) = get(addr, "/metrics", "").await;
        assert_eq!(status, 401);
        assert_eq!(header(&h, "www-authenticate"), Some("Bearer"));
        assert_eq!(
            get(
                addr,
                "/metrics",
                "Authorization: Bearer wrong-token-0123456789\r\n"
            )
            .await
            .0,
            401
        );
        let (status, _, body) = get(addr, "/metrics", &good).await;
        assert_eq!(status, 200);
        assert!(body.contains("pop3_bridge_sessions_total"), "{body}");
    }
    b.stop().await.unwrap();
    // Too short a token is refused at start-up.
    let c = Config {
        metrics_token: Some("short".into()),
        ..Config::default()
    };
    assert!(c.validate().is_err());
}

#[tokio::test]
async fn metrics_listen_in_the_config_is_bound_by_the_bridge() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let maddr = free.local_addr().unwrap();
    drop(free);
    let mut c = test_config();
    c.metrics_listen = Some(maddr);
    let listener = listen_local();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(Bridge::new(c).run(listener, async {
        let _ = rx.await;
    }));
    let mut status = 0;
    for _ in 0..100 {
        if TcpStream::connect(maddr).await.is_ok() {
            status = get(maddr, "/metrics", "").await.0;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status, 200);
    assert_eq!(get(addr, "/metrics", "").await.0, 404);
    let _ = tx.send(());
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_file_the_browser_has_is_answered_304_without_a_body() {
    let b = web_bridge(|_| {}).await;
    let (status, h, body) = get(b.addr, "/pop3-inbox.js", "").await;
    assert_eq!(status, 200);
    assert!(!body.is_empty());
    let etag = header(&h, "etag").expect("an ETag").to_string();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    assert_eq!(header(&h, "cache-control"), Some("no-cache"));

    for validator in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"other\", {etag}"),
    ] {
        let (status, h2, body) = get(
            b.addr,
            "/pop3-inbox.js",
            &format!("If-None-Match: {validator}\r\n"),
        )
        .await;
        assert_eq!(status, 304, "{validator}");
        assert!(body.is_empty(), "no body with 304");
        assert_eq!(header(&h2, "etag"), Some(etag.as_str()));
        // The page's policy travels with the 304 too.
        assert!(header(&h2, "content-security-policy").is_some());
        assert_eq!(header(&h2, "cache-control"), Some("no-cache"));
    }
    let (status, _, body) = get(b.addr, "/pop3-inbox.js", "If-None-Match: \"other\"\r\n").await;
    assert_eq!(status, 200);
    assert!(!body.is_empty());
    // Another file has another validator.
    let (_, h3, _) = get(b.addr, "/pop3.js", "").await;
    assert_ne!(header(&h3, "etag"), Some(etag.as_str()));
}

#[tokio::test]
async fn with_web_reload_a_changed_file_gets_a_new_etag_and_its_new_body() {
    let dir = std::env::temp_dir().join(format!("pop3-bridge-etag-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), "first").unwrap();
    let b = web_bridge(|c| {
        c.web_root = Some(dir.clone());
        c.web_reload = true;
    })
    .await;
    let (_, h, body) = get(b.addr, "/index.html", "").await;
    assert_eq!(body, "first");
    let old = header(&h, "etag").unwrap().to_string();
    std::fs::write(dir.join("index.html"), "second").unwrap();
    let (status, h, body) = get(b.addr, "/index.html", &format!("If-None-Match: {old}\r\n")).await;
    assert_eq!((status, body.as_str()), (200, "second"));
    assert_ne!(header(&h, "etag"), Some(old.as_str()));
    let _ = std::fs::remove_dir_all(&dir);
}
