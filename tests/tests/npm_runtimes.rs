//! The npm package, as `npm pack` made it (`cargo xtask npm`), installed into a scratch
//! project outside the repository and run unchanged in Node, Deno and workerd against the real
//! Dovecot through the real bridge (tests/npm/flow.js): sign in over TLS, list, UIDL, headers
//! (`TOP n 0`), every message byte-exact, one deletion committed by QUIT, and the typed errors
//! for a wrong password, a refused port and a certificate the bridge cannot verify.
//!
//! `cargo xtask test` packs the package and installs the runtimes (xtask/runtimes) first and
//! names them in `POP3_NPM_PACKAGE` and `POP3_NPM_RUNTIMES`; a plain `cargo test` without them
//! says so and checks nothing.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use e2e::dovecot::free_port;
use e2e::npm::{self, Runtime};
use e2e::{Dovecot, DovecotOptions, Mailbox};
use pop3_bridge::{Bridge, Config};
use serde_json::{Value as Json, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

const USER: &str = "edge";
const PASSWORD: &str = "edge-password";
const MESSAGES: usize = 6;
/// The message the job deletes (1-based).
const DELETED: usize = 2;

/// The scratch project with the package and the job scripts of tests/npm/.
fn scratch_project(tgz: &Path, runtimes: &Path) -> tempfile::TempDir {
    let jobs = Path::new(env!("CARGO_MANIFEST_DIR")).join("npm");
    let files: Vec<PathBuf> = ["flow.js", "node-job.mjs", "deno-job.mjs", "worker.js"]
        .iter()
        .map(|f| jobs.join(f))
        .collect();
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    npm::scratch_project(tgz, runtimes, &refs)
}

struct Setup {
    dovecot: Dovecot,
    bridge: SocketAddr,
    bad_bridge: SocketAddr,
    _stop: Vec<oneshot::Sender<()>>,
}

/// Dovecot with the test user's mailbox, a bridge that trusts Dovecot's CA and one that does
/// not (for the certificate error).
async fn setup() -> Setup {
    let dovecot = Dovecot::start_async(DovecotOptions::new().user(
        USER,
        PASSWORD,
        Mailbox::new(MESSAGES).size(3000).seed(13),
    ))
    .await
    .expect("dovecot starts");
    let mut stop = Vec::new();
    let mut start = |trust: bool| {
        let mut c = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..Config::default()
        };
        c.allow_hosts = vec!["localhost".into(), "127.0.0.1".into()];
        c.allow_ports = vec![dovecot.plain_port(), dovecot.tls_port()];
        if trust {
            c.extra_ca = vec![dovecot.ca_pem_path().to_path_buf()];
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let listener = TcpListener::from_std(listener).unwrap();
        tokio::spawn(Bridge::new(c).run(listener, async {
            let _ = rx.await;
        }));
        stop.push(tx);
        addr
    };
    let bridge = start(true);
    let bad_bridge = start(false);
    Setup {
        dovecot,
        bridge,
        bad_bridge,
        _stop: stop,
    }
}

fn job(s: &Setup) -> Json {
    json!({
        "bridgeUrl": format!("ws://{}/pop3", s.bridge),
        "badBridgeUrl": format!("ws://{}/pop3", s.bad_bridge),
        "host": s.dovecot.host(),
        "port": s.dovecot.tls_port(),
        "plainPort": s.dovecot.plain_port(),
        "caPem": std::fs::read_to_string(s.dovecot.ca_pem_path()).expect("the CA's PEM"),
        "user": USER,
        "password": PASSWORD,
        "deleteMsg": DELETED,
    })
}

/// Everything the job reports, checked against Dovecot's own files.
fn check(s: &Setup, runtime: &str, r: &Json) {
    assert!(r.get("failed").is_none(), "{runtime}: the job failed: {r}");
    assert_eq!(r["tlsVerified"], true, "{runtime}: {r}");
    // The bridge holds trust for this server (its extra CA), so "prefer" let it do TLS.
    assert_eq!(r["bridgeTls"], true, "{runtime}: {r}");
    for security in ["tls", "stls"] {
        let e = &r["e2e"][security];
        assert_eq!(e["endToEnd"], true, "{runtime} {security}: {e}");
        assert_eq!(e["verified"], true, "{runtime} {security}: {e}");
        assert_eq!(e["firstMatches"], true, "{runtime} {security}: {e}");
    }
    let list = r["list"].as_array().expect("list");
    assert_eq!(list.len(), MESSAGES, "{runtime}");
    assert_eq!(r["uidl"].as_array().map(Vec::len), Some(MESSAGES));
    let b64 = base64::engine::general_purpose::STANDARD;
    for i in 0..MESSAGES {
        let expected = s.dovecot.expected_bytes(USER, i);
        let got = b64
            .decode(
                r["messages"][(i + 1).to_string()]
                    .as_str()
                    .expect("message"),
            )
            .unwrap();
        assert!(
            got == expected,
            "{runtime}: message {} differs ({} vs {} bytes)",
            i + 1,
            got.len(),
            expected.len()
        );
        let header_len = expected
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|p| p + 4)
            .unwrap();
        let h = r["headers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["msg"] == i + 1)
            .expect("headers of every message");
        assert_eq!(h["bytes"], header_len, "{runtime}: TOP {} 0", i + 1);
    }
    assert_eq!(r["committed"], true, "{runtime}");
    let left: usize = ["cur", "new"]
        .iter()
        .map(|d| {
            std::fs::read_dir(s.dovecot.maildir(USER).join(d))
                .map(|rd| rd.count())
                .unwrap_or(0)
        })
        .sum();
    assert_eq!(
        left,
        MESSAGES - 1,
        "{runtime}: QUIT deleted the marked message"
    );
    let e = &r["errors"];
    assert_eq!(e["wrongPassword"], "auth_failed", "{runtime}: {e}");
    assert_eq!(e["refusedPort"], "port_refused", "{runtime}: {e}");
    assert_eq!(e["unknownIssuer"], "cert_unknown_issuer", "{runtime}: {e}");
    assert_eq!(
        e["endToEndWithoutTrust"], "cert_unknown_issuer",
        "{runtime}: the bridge's CA must not count for TLS that ends in the client: {e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_runs_the_packed_package_against_dovecot() {
    let Some((tgz, runtimes)) = npm::inputs("npm_runtimes") else {
        return;
    };
    let s = setup().await;
    let dir = scratch_project(&tgz, &runtimes);
    let r = npm::run_job(
        Runtime::Node,
        &runtimes,
        dir.path(),
        "node-job.mjs",
        job(&s).to_string(),
        &[],
    )
    .await;
    check(&s, "node", &r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deno_runs_the_packed_package_against_dovecot() {
    let Some((tgz, runtimes)) = npm::inputs("npm_runtimes") else {
        return;
    };
    let s = setup().await;
    let dir = scratch_project(&tgz, &runtimes);
    let r = npm::run_job(
        Runtime::Deno,
        &runtimes,
        dir.path(),
        "deno-job.mjs",
        job(&s).to_string(),
        &[],
    )
    .await;
    check(&s, "deno", &r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workerd_runs_the_packed_package_against_dovecot() {
    let Some((tgz, runtimes)) = npm::inputs("npm_runtimes") else {
        return;
    };
    let s = setup().await;
    let dir = scratch_project(&tgz, &runtimes);
    let port = free_port().unwrap();
    let config = dir.path().join("config.capnp");
    std::fs::write(
        &config,
        npm::workerd_config(dir.path(), port, "worker.js", &["flow.js"], None),
    )
    .unwrap();
    let workerd = npm::Workerd::serve(&runtimes, dir.path(), &config, port);
    let (status, body) = npm::post(port, &job(&s).to_string()).await;
    let answer: Json = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("the worker answered {status}: {body} ({e})"));
    check(&s, "workerd", &answer);
    drop(workerd);
}
