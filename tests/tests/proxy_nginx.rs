//! The nginx recipe of docs/reverse-proxy-nginx.md, run for real: the page's nginx file
//! (docs/reverse-proxy-nginx.conf) and bridge configuration with only addresses, ports and
//! paths replaced, the Debian nginx as a child process in a temp dir (not the system service),
//! two bridges started from the documented TOML, a real Dovecot, and a test CA for the
//! proxy's certificate.

use std::net::SocketAddr;
use std::time::Duration;

use e2e::proxies::{
    self, Instance, Proc, Refused, Via, Ws, assert_page_shows_file, https_get, line, metric,
    mint_token, ws_connect, ws_open,
};
use e2e::{Dovecot, DovecotOptions, Mailbox, Validity};
use serde_json::json;

const PAGE: &str = "reverse-proxy-nginx.md";
const CONF: &str = "reverse-proxy-nginx.conf";
const NAME: &str = "bridge.example.org";
const SECRET: &str = "nginx-recipe-shared-secret-0123456789";

/// Dovecot, two bridges and nginx in front of them.
struct Stack {
    dovecot: Dovecot,
    bridges: Vec<Instance>,
    nginx: Proc,
    via: Via,
    _dir: tempfile::TempDir,
}

async fn start_bridge(config: &std::path::Path, d: &Dovecot, listen: SocketAddr) -> Instance {
    let (port, ca) = (d.tls_port(), d.ca_pem_path().to_path_buf());
    let metrics: SocketAddr = "127.0.0.1:0".parse().unwrap();
    proxies::start_bridge(config, listen, metrics, move |c| {
        // Test-only: the local Dovecot (loopback, a test port, a test CA), the repository's
        // UI, and one session per client and instance so the caps are easy to hit.
        c.allow_hosts.push("localhost".into());
        c.allow_ports.push(port);
        c.extra_ca.push(ca);
        c.web_root = Some(proxies::web_dir());
        c.limits.max_sessions_per_ip = 1;
    })
    .await
}

async fn stack() -> Stack {
    let dir = tempfile::tempdir().unwrap();
    {
        // nginx's workers run as nobody when the test runs as root: let them into the dir.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let dovecot = Dovecot::start_async(
        DovecotOptions::new()
            .user("alice", "pw-alice", Mailbox::new(3))
            .user("bob", "pw-bob", Mailbox::new(2)),
    )
    .await
    .expect("dovecot starts");
    let config = proxies::write_bridge_config(dir.path(), PAGE, SECRET);
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let bridges = vec![
        start_bridge(&config, &dovecot, any).await,
        start_bridge(&config, &dovecot, any).await,
    ];
    // The proxy's certificate from a test CA (Dovecot's), for the public name.
    let cert = dovecot.ca().issue(&[NAME], Validity::Valid).unwrap();
    let (chain, key) = (
        dir.path().join("fullchain.pem"),
        dir.path().join("privkey.pem"),
    );
    std::fs::write(&chain, &cert.cert_pem).unwrap();
    write_private(&key, &cert.key_pem);
    let port = proxies::free_port();
    let site = proxies::render(
        &proxies::read_doc(CONF),
        &[
            ("listen 443 ssl;", format!("listen 127.0.0.1:{port} ssl;")),
            (
                "/etc/letsencrypt/live/bridge.example.org/fullchain.pem",
                chain.display().to_string(),
            ),
            (
                "/etc/letsencrypt/live/bridge.example.org/privkey.pem",
                key.display().to_string(),
            ),
            ("127.0.0.1:8081", bridges[0].addr.to_string()),
            ("127.0.0.1:8082", bridges[1].addr.to_string()),
        ],
    );
    let proxy: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let nginx = proxies::start_nginx(dir.path(), &site, proxy).await;
    let via = Via {
        proxy,
        name: NAME.into(),
        from: "127.0.0.2".parse().unwrap(),
        tls: proxies::tls_connector(dovecot.ca()),
    };
    Stack {
        dovecot,
        bridges,
        nginx,
        via,
        _dir: dir,
    }
}

fn write_private(path: &std::path::Path, text: &str) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

impl Stack {
    /// A session through nginx to Dovecot's TLS port, greeting read.
    async fn session(&self, via: &Via) -> Result<Ws, Refused> {
        let mut ws = ws_open(via, &[]).await?;
        self.connect(&mut ws).await;
        Ok(ws)
    }

    async fn connect(&self, ws: &mut Ws) {
        let port = self.dovecot.tls_port();
        let ans = ws_connect(
            ws,
            &json!({"host": "localhost", "port": port, "security": "tls",
                    "token": mint_token(SECRET, "localhost", port)}),
        )
        .await;
        assert_eq!(ans["ok"], true, "{ans}");
        assert!(line(ws).await.starts_with("+OK"), "greeting");
    }

    async fn active(&self, i: usize) -> f64 {
        metric(self.bridges[i].metrics, "pop3_bridge_sessions_active").await
    }

    async fn total(&self, i: usize) -> f64 {
        metric(self.bridges[i].metrics, "pop3_bridge_sessions_total").await
    }
}

#[test]
fn the_page_shows_the_tested_nginx_file() {
    assert_page_shows_file(PAGE, CONF);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_page_hsts_and_healthz_over_tls_through_nginx() {
    let mut s = stack().await;
    let page = https_get(&s.via, "/").await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.text().contains("<pop3-inbox"), "{}", page.text());
    // TLS ends at nginx, so HSTS comes from nginx; the CSP from the bridge passes through.
    assert_eq!(
        page.header("strict-transport-security"),
        Some("max-age=31536000")
    );
    assert!(
        page.header("content-security-policy")
            .is_some_and(|v| v.contains("frame-ancestors 'none'")),
        "{:?}",
        page.headers
    );
    let cfg = https_get(&s.via, "/client-config.json").await;
    assert_eq!(cfg.status, 200);
    assert!(cfg.text().contains("\"kiosk\":false"), "{}", cfg.text());
    let health = https_get(&s.via, "/healthz").await;
    assert_eq!((health.status, health.text().trim()), (200, "ok"));
    s.nginx.assert_running();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pop3_over_wss_through_nginx_and_the_bridge_counts_the_forwarded_client() {
    let mut s = stack().await;
    let a = s.via.from("127.0.0.2");
    // Client A holds one session on each instance (least_conn sends the second to the
    // instance without one): its cap of one session per instance is reached on both.
    let a1 = s.session(&a).await.expect("first session of A");
    let a2 = s.session(&a).await.expect("second session of A");
    assert_eq!((s.active(0).await, s.active(1).await), (1.0, 1.0));
    match ws_open(&a, &[]).await {
        Err(Refused::Status(429)) => {}
        other => panic!("A over its cap: expected 429, got {:?}", other.map(|_| ())),
    }
    // Writing another address into X-Forwarded-For does not make A someone else: nginx
    // appends A's real address and the bridge trusts only nginx's entry.
    match ws_open(&a, &[("X-Forwarded-For", "203.0.113.7")]).await {
        Err(Refused::Status(429)) => {}
        other => panic!(
            "A with a forged X-Forwarded-For must stay capped (429), got {:?}",
            other.map(|_| ())
        ),
    }
    // Client B, from another address, is counted on its own, though every connection the
    // bridges see comes from nginx (127.0.0.1): a whole dialogue through nginx.
    let b = s.via.from("127.0.0.3");
    let mut bs = s
        .session(&b)
        .await
        .expect("B is not capped by A's sessions");
    proxies::dialogue(&mut bs, &s.dovecot, "bob", "pw-bob", 2).await;
    drop((a1, a2));
    s.nginx.assert_running();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_spread_over_both_bridges_and_go_to_the_other_when_one_stops() {
    let mut s = stack().await;
    // Four clients, one session each, held open: two per instance.
    let mut held = Vec::new();
    for i in 10..14 {
        held.push(
            s.session(&s.via.from(&format!("127.0.0.{i}")))
                .await
                .unwrap(),
        );
    }
    assert_eq!((s.active(0).await, s.active(1).await), (2.0, 2.0));
    // Stop the first instance: its listener closes and its two sessions are closed with
    // 1001 (going away) for the client to reconnect.
    let total_before = s.total(1).await;
    s.bridges[0].stop().await;
    let closes: Vec<_> = held
        .into_iter()
        .map(|ws| tokio::spawn(proxies::close_within(ws, Duration::from_secs(5))))
        .collect();
    let mut going_away = 0;
    for c in closes {
        if c.await.unwrap() == Some(1001) {
            going_away += 1;
        }
    }
    assert_eq!(
        going_away, 2,
        "the stopped instance's sessions are closed with 1001"
    );
    // Every new session goes to the remaining instance, the first one included (nginx
    // retries the refused connection on the other instance).
    for i in 20..24 {
        let mut ws = s
            .session(&s.via.from(&format!("127.0.0.{i}")))
            .await
            .unwrap_or_else(|e| panic!("session {i} after the stop: {e:?}"));
        if i == 20 {
            proxies::dialogue(&mut ws, &s.dovecot, "alice", "pw-alice", 3).await;
        }
    }
    assert_eq!(s.total(1).await, total_before + 4.0);
    s.nginx.assert_running();
}
