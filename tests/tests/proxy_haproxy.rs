//! The HAProxy recipe of docs/reverse-proxy-haproxy.md, run for real: the page's HAProxy file
//! (docs/reverse-proxy-haproxy.cfg) and bridge configuration with only addresses, ports, paths
//! and the log target replaced, the Debian HAProxy as a child process in a temp dir (not the
//! system service), two bridges started from the documented TOML, a real Dovecot, and a test
//! CA for the proxy's certificate. Also: a token minted with one instance's configuration
//! works on the other (one shared secret), and the web client's real sync survives the stop
//! of the instance carrying it (issue 14's failover test).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use e2e::proxies::{
    self, Instance, Proc, Refused, Via, Ws, assert_page_shows_file, https_get, line, metric,
    mint_token, ws_connect, ws_open,
};
use e2e::{Dovecot, DovecotOptions, Mailbox, Validity};
use serde_json::json;

const PAGE: &str = "reverse-proxy-haproxy.md";
const CONF: &str = "reverse-proxy-haproxy.cfg";
const NAME: &str = "bridge.example.org";
const SECRET: &str = "haproxy-recipe-shared-secret-0123456789";
/// The failover test's account: enough mail that the sync is still downloading when one
/// instance is stopped.
const SYNC_USER: &str = "sync";
const SYNC_PASSWORD: &str = "pw-sync";
const SYNC_COUNT: usize = 120;
const SYNC_SIZE: usize = 60_000;

/// Dovecot, two bridges and HAProxy in front of them.
struct Stack {
    dovecot: Dovecot,
    bridges: Vec<Instance>,
    config: PathBuf,
    stats: PathBuf,
    harness: bool,
    haproxy: Proc,
    via: Via,
    _dir: tempfile::TempDir,
}

/// With `harness`, the bridge also serves the sync test page (web/dev/) and needs no token
/// (that page sends none).
async fn start_bridge(
    config: &std::path::Path,
    d: &Dovecot,
    listen: SocketAddr,
    harness: bool,
) -> Instance {
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
        if harness {
            c.dev_pages = true;
            c.token_secret = None;
        }
    })
    .await
}

async fn stack() -> Stack {
    stack_for(false).await
}

/// With `harness`: the bridges serve the sync test page and need no token, and Dovecot has a
/// large mailbox for SYNC_USER.
async fn stack_for(harness: bool) -> Stack {
    let dir = tempfile::tempdir().unwrap();
    let mut users = DovecotOptions::new()
        .user("alice", "pw-alice", Mailbox::new(3))
        .user("bob", "pw-bob", Mailbox::new(2));
    if harness {
        users = users.user(
            SYNC_USER,
            SYNC_PASSWORD,
            Mailbox::new(SYNC_COUNT).size(SYNC_SIZE),
        );
    }
    let dovecot = Dovecot::start_async(users).await.expect("dovecot starts");
    let config = proxies::write_bridge_config(dir.path(), PAGE, SECRET);
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let bridges = vec![
        start_bridge(&config, &dovecot, any, harness).await,
        start_bridge(&config, &dovecot, any, harness).await,
    ];
    // The proxy's certificate from a test CA (Dovecot's), for the public name: chain, then key.
    let cert = dovecot.ca().issue(&[NAME], Validity::Valid).unwrap();
    let pem = dir.path().join("bridge.pem");
    write_private(&pem, &format!("{}{}", cert.cert_pem, cert.key_pem));
    let stats = dir.path().join("admin.sock");
    let port = proxies::free_port();
    let cfg = proxies::render(
        &proxies::read_doc(CONF),
        &[
            (
                "    log /dev/log local0",
                "    log stderr format raw local0".into(),
            ),
            ("/run/haproxy/admin.sock", stats.display().to_string()),
            (
                "bind :443 ssl crt /etc/haproxy/certs/bridge.example.org.pem",
                format!("bind 127.0.0.1:{port} ssl crt {}", pem.display()),
            ),
            ("127.0.0.1:8081", bridges[0].addr.to_string()),
            ("127.0.0.1:8082", bridges[1].addr.to_string()),
        ],
    );
    let proxy: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let haproxy = proxies::start_haproxy(dir.path(), &cfg, proxy).await;
    let via = Via {
        proxy,
        name: NAME.into(),
        from: "127.0.0.2".parse().unwrap(),
        tls: proxies::tls_connector(dovecot.ca()),
    };
    Stack {
        dovecot,
        bridges,
        config,
        stats,
        harness,
        haproxy,
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
    /// A session through HAProxy to Dovecot's TLS port, greeting read.
    async fn session(&self, via: &Via) -> Result<Ws, Refused> {
        let token = mint_token(SECRET, "localhost", self.dovecot.tls_port());
        self.session_with(via, &token).await
    }

    /// The same with this token.
    async fn session_with(&self, via: &Via, token: &str) -> Result<Ws, Refused> {
        let mut ws = ws_open(via, &[]).await?;
        let ans = self.connect(&mut ws, token).await;
        assert_eq!(ans["ok"], true, "{ans}");
        assert!(line(&mut ws).await.starts_with("+OK"), "greeting");
        Ok(ws)
    }

    async fn connect(&self, ws: &mut Ws, token: &str) -> serde_json::Value {
        let port = self.dovecot.tls_port();
        ws_connect(
            ws,
            &json!({"host": "localhost", "port": port, "security": "tls", "token": token}),
        )
        .await
    }

    /// HAProxy's health status of `server` (bridge1, bridge2).
    async fn status(&self, server: &str) -> String {
        proxies::haproxy_servers(&self.stats)
            .await
            .into_iter()
            .find(|(px, sv, _)| px == "pop3_bridges" && sv == server)
            .map(|(_, _, st)| st)
            .unwrap_or_else(|| panic!("no {server} in HAProxy's stats"))
    }

    /// Waits (up to 30 s) until HAProxy's health checks say `server` is `want` (UP, DOWN).
    async fn wait_status(&self, server: &str, want: &str) {
        for _ in 0..300 {
            if self.status(server).await.starts_with(want) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "HAProxy never marked {server} {want} (now {}):\n{}",
            self.status(server).await,
            self.haproxy.log()
        );
    }

    async fn active(&self, i: usize) -> f64 {
        metric(self.bridges[i].metrics, "pop3_bridge_sessions_active").await
    }

    async fn total(&self, i: usize) -> f64 {
        metric(self.bridges[i].metrics, "pop3_bridge_sessions_total").await
    }
}

#[test]
fn the_page_shows_the_tested_haproxy_file() {
    assert_page_shows_file(PAGE, CONF);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_page_hsts_and_healthz_over_tls_through_haproxy() {
    let mut s = stack().await;
    let page = https_get(&s.via, "/").await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(page.text().contains("<pop3-inbox"), "{}", page.text());
    // TLS ends at HAProxy, so HSTS comes from HAProxy; the CSP from the bridge passes through.
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
    s.haproxy.assert_running();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pop3_over_wss_through_haproxy_and_the_bridge_counts_the_forwarded_client() {
    let mut s = stack().await;
    let a = s.via.from("127.0.0.2");
    // Client A holds one session on each instance (leastconn sends the second to the
    // instance without one): its cap of one session per instance is reached on both.
    let a1 = s.session(&a).await.expect("first session of A");
    let a2 = s.session(&a).await.expect("second session of A");
    assert_eq!((s.active(0).await, s.active(1).await), (1.0, 1.0));
    match ws_open(&a, &[]).await {
        Err(Refused::Status(429)) => {}
        other => panic!("A over its cap: expected 429, got {:?}", other.map(|_| ())),
    }
    // Writing another address into X-Forwarded-For does not make A someone else: haproxy
    // appends A's real address and the bridge trusts only HAProxy's entry.
    match ws_open(&a, &[("X-Forwarded-For", "203.0.113.7")]).await {
        Err(Refused::Status(429)) => {}
        other => panic!(
            "A with a forged X-Forwarded-For must stay capped (429), got {:?}",
            other.map(|_| ())
        ),
    }
    // Client B, from another address, is counted on its own, though every connection the
    // bridges see comes from HAProxy (127.0.0.1): a whole dialogue through HAProxy.
    let b = s.via.from("127.0.0.3");
    let mut bs = s
        .session(&b)
        .await
        .expect("B is not capped by A's sessions");
    proxies::dialogue(&mut bs, &s.dovecot, "bob", "pw-bob", 2).await;
    drop((a1, a2));
    s.haproxy.assert_running();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_checks_take_a_stopped_bridge_out_and_bring_it_back() {
    let mut s = stack().await;
    s.wait_status("bridge1", "UP").await;
    s.wait_status("bridge2", "UP").await;
    // Two clients, one session each, held open: one per instance.
    let mut held = Vec::new();
    for i in 10..12 {
        held.push(
            s.session(&s.via.from(&format!("127.0.0.{i}")))
                .await
                .unwrap(),
        );
    }
    assert_eq!((s.active(0).await, s.active(1).await), (1.0, 1.0));
    // Stop the first instance: its listener closes at once, and its session is closed with
    // 1001 (going away).
    let total_before = s.total(1).await;
    s.bridges[0].begin_stop().await;
    let closes: Vec<_> = held
        .into_iter()
        .map(|ws| tokio::spawn(proxies::close_within(ws, Duration::from_secs(10))))
        .collect();
    // At once, before a health check can have noticed (that takes two failed checks a second
    // apart): the connection the stopped instance refuses is redispatched to the other one.
    assert!(s.status("bridge1").await.starts_with("UP"));
    let mut after = vec![s.session(&s.via.from("127.0.0.20")).await.unwrap()];
    s.bridges[0].stop().await;
    let mut going_away = 0;
    for c in closes {
        if c.await.unwrap() == Some(1001) {
            going_away += 1;
        }
    }
    assert_eq!(
        going_away, 1,
        "the stopped instance's session is closed with 1001"
    );
    // The health checks take it out (HAProxy's stats socket says so) …
    s.wait_status("bridge1", "DOWN").await;
    assert!(s.status("bridge2").await.starts_with("UP"));
    // … and every new session goes to the other instance.
    for i in 21..24 {
        after.push(
            s.session(&s.via.from(&format!("127.0.0.{i}")))
                .await
                .unwrap(),
        );
    }
    proxies::dialogue(&mut after[0], &s.dovecot, "alice", "pw-alice", 3).await;
    assert_eq!(s.total(1).await, total_before + 4.0);
    // Started again on its address, it passes the checks, is marked up, and takes the next
    // session (it has the fewest).
    let addr = s.bridges[0].addr;
    s.bridges[0] = start_bridge(&s.config, &s.dovecot, addr, s.harness).await;
    s.wait_status("bridge1", "UP").await;
    let _back = s.session(&s.via.from("127.0.0.30")).await.unwrap();
    assert_eq!(s.active(0).await, 1.0);
    s.haproxy.assert_running();
}

/// `pop3-bridge --config FILE mint-token --host H --port P`, as the binary does it: the secret
/// of the instance's own configuration.
fn mint_with_instance_config(config: &std::path::Path, host: &str, port: u16) -> String {
    use clap::Parser;
    let cli = pop3_bridge::Cli::try_parse_from([
        "pop3-bridge".to_string(),
        "--config".into(),
        config.display().to_string(),
        "mint-token".into(),
        "--host".into(),
        host.into(),
        "--port".into(),
        port.to_string(),
    ])
    .expect("mint-token parses");
    assert!(matches!(
        cli.command,
        Some(pop3_bridge::Command::MintToken { .. })
    ));
    let (c, _) = cli.opts.into_config().expect("the configuration loads");
    let secret = c.token_secret.expect("the recipe sets a token secret");
    mint_token(&secret, host, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_minted_for_one_instance_works_on_the_other() {
    let s = stack().await;
    let port = s.dovecot.tls_port();
    let token = mint_with_instance_config(&s.config, "localhost", port);
    // The same token, two sessions held open: leastconn puts them on different instances,
    // and both accept it.
    let _one = s
        .session_with(&s.via.from("127.0.0.2"), &token)
        .await
        .unwrap();
    let _two = s
        .session_with(&s.via.from("127.0.0.3"), &token)
        .await
        .unwrap();
    assert_eq!((s.active(0).await, s.active(1).await), (1.0, 1.0));
    // A token minted with another secret is refused, by both instances.
    let forged = mint_token("another-secret-of-sixteen-or-more", "localhost", port);
    let invalid = |i: usize| {
        let m = s.bridges[i].metrics;
        async move { proxies::metric(m, "pop3_bridge_errors_total{kind=\"token_invalid\"}").await }
    };
    for i in 4..12 {
        let mut ws = ws_open(&s.via.from(&format!("127.0.0.{i}")), &[])
            .await
            .unwrap();
        let ans = s.connect(&mut ws, &forged).await;
        assert_eq!(ans["error"]["code"], "token_invalid", "{ans}");
        if invalid(0).await >= 1.0 && invalid(1).await >= 1.0 {
            return;
        }
    }
    panic!(
        "the forged token did not reach both instances: {} and {} refusals",
        invalid(0).await,
        invalid(1).await
    );
}

/// The `del=N/M` of a Dovecot logout line.
fn deleted(logout: &str) -> (usize, usize) {
    let d = logout
        .split("del=")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .unwrap_or_else(|| panic!("no del= in {logout:?}"));
    let (n, m) = d.split_once('/').expect("N/M");
    (n.parse().unwrap(), m.parse().unwrap())
}

/// The issue's failover test: the web client's real sync (wasm session, SyncRun, IndexedDB
/// store: web/dev/sync-harness.html) in headless Chromium, through HAProxy over TLS, under the
/// policy "delete once kept". One bridge instance is stopped while the sync downloads; the
/// sync fails (the session is closed, 1001), the user syncs again (Refresh), HAProxy sends the
/// new session to the other instance, and that sync finishes: every message is in the store
/// byte for byte, the server is empty, and Dovecot's own logout lines show that the broken
/// session deleted nothing and the second deleted each message once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_during_a_sync_loses_nothing_and_deletes_each_message_once() {
    use e2e::browser::{Browser, BrowserKind};
    let s = stack_for(true).await;
    let originals: Vec<Vec<u8>> = (0..SYNC_COUNT)
        .map(|i| s.dovecot.expected_bytes(SYNC_USER, i))
        .collect();
    let total: usize = originals.iter().map(Vec::len).sum();
    // The page comes from the bridges through HAProxy too. Chromium resolves the public name
    // to the proxy and accepts its test certificate (the Rust client checks the certificate
    // against the test CA in the other tests).
    let rule = format!("--host-resolver-rules=MAP {NAME} 127.0.0.1");
    let b = Browser::start_with_args(
        BrowserKind::Chromium,
        &[&rule, "--ignore-certificate-errors"],
    )
    .await
    .expect("browser starts");
    let run = async {
        b.goto(&format!("{}/dev/sync-harness.html", s.via.origin()))
            .await
            .map_err(|e| e.to_string())?;
        b.wait_js(
            "the sync harness",
            "window.harnessReady === true",
            Duration::from_secs(30),
        )
        .await
        .map_err(|e| e.to_string())?;
        let opts = json!({
            "bridgeUrl": format!("wss://{}/pop3", s.via.host()),
            "host": "localhost",
            "port": s.dovecot.tls_port(),
            "user": SYNC_USER,
            "password": SYNC_PASSWORD,
            "policy": { "mode": "delete-after-download" },
            "timeoutMs": 15000,
        });
        b.js(
            "return window.harness.start(arguments[0])",
            vec![opts.clone()],
        )
        .await
        .map_err(|e| e.to_string())?;
        // Stop the instance carrying the sync once it has relayed a quarter of the mail.
        let to_client = "pop3_bridge_bytes_total{direction=\"to_client\"}";
        let mut victim = None;
        for _ in 0..3000 {
            for i in 0..2 {
                if metric(s.bridges[i].metrics, to_client).await > (total / 4) as f64 {
                    victim = Some(i);
                }
            }
            if victim.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let victim = victim.ok_or("the sync never got going")?;
        Ok::<_, String>((opts, victim))
    };
    let (opts, victim) = match run.await {
        Ok(v) => v,
        Err(e) => {
            let _ = b.close().await;
            panic!("{e}");
        }
    };
    let mut s = s;
    s.bridges[victim].stop().await;
    let other = 1 - victim;
    let first = b
        .wait_js(
            "the first sync's result",
            "window.harness.result()",
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert_eq!(
        first["ok"], false,
        "the sync finished before the stop: {first}"
    );
    let before_other = s.total(other).await;
    // Refresh: a new sync, through HAProxy, to the instance still running.
    let second = b
        .js(
            "return window.harness.sync(arguments[0])",
            vec![opts.clone()],
        )
        .await
        .unwrap();
    let dump = b
        .js("return window.harness.dump(arguments[0])", vec![opts])
        .await
        .unwrap();
    let _ = b.close().await;
    assert_eq!(second["ok"], true, "the second sync: {second}");
    assert_eq!(s.total(other).await, before_other + 1.0);
    // Nothing lost: every message byte for byte in the store (checksums the page computed
    // from the stored bytes), and none left on the server.
    let stored: std::collections::HashSet<String> = dump["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["full"] == true)
        .map(|m| m["sha256"].as_str().unwrap().to_string())
        .collect();
    for (i, o) in originals.iter().enumerate() {
        assert!(
            stored.contains(&e2e::sha256_hex(o)),
            "message {} is not in the store",
            i + 1
        );
    }
    assert_eq!(s.dovecot.server_messages(SYNC_USER).unwrap().len(), 0);
    // Deleted once: the broken session committed no deletion, the second all of them.
    let logouts = s.dovecot.pop3_disconnects(SYNC_USER);
    assert_eq!(logouts.len(), 2, "{logouts:?}");
    assert_eq!(deleted(&logouts[0]).0, 0, "{logouts:?}");
    assert_eq!(
        deleted(&logouts[1]),
        (SYNC_COUNT, SYNC_COUNT),
        "{logouts:?}"
    );
    s.haproxy.assert_running();
}
