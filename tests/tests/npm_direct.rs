//! The npm package's direct sockets (`connect({ direct: true, … })`, no bridge), as `npm pack`
//! made it, installed into a scratch project and run unchanged in Node, Deno and workerd
//! against the real Dovecot (tests/npm/direct-flow.js): sign in with implicit TLS and with
//! STLS (the runtime's own upgrade of the connection), list, UIDL, every message byte-exact,
//! QUIT; and the typed errors: wrong password (TLS and STLS), a certificate from a CA the
//! runtime does not trust (TLS and STLS), a certificate for another name, bytes injected after
//! the `+OK` to STLS, STLS refused, a closed port, `plain` without consent, no opener.
//!
//! Each runtime trusts the test CA the way it documents it: Node `NODE_EXTRA_CA_CERTS`, Deno
//! `DENO_CERT`, workerd the network service's `tlsOptions.trustedCertificates`.
//!
//! Like tests/npm_runtimes.rs it needs `POP3_NPM_PACKAGE` and `POP3_NPM_RUNTIMES` (set by
//! `cargo xtask test`); without them it says so and checks nothing.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use e2e::dovecot::free_port;
use e2e::npm::{self, Runtime};
use e2e::{Dovecot, DovecotOptions, Mailbox, TestCa, Validity};
use serde_json::{Value as Json, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

const USER: &str = "direct";
const PASSWORD: &str = "direct-password";
const MESSAGES: usize = 5;

fn scratch_project(tgz: &Path, runtimes: &Path) -> tempfile::TempDir {
    let jobs = Path::new(env!("CARGO_MANIFEST_DIR")).join("npm");
    let files: Vec<PathBuf> = [
        "direct-flow.js",
        "node-direct-job.mjs",
        "deno-direct-job.mjs",
        "worker-direct.js",
    ]
    .iter()
    .map(|f| jobs.join(f))
    .collect();
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    npm::scratch_project(tgz, runtimes, &refs)
}

struct Setup {
    /// The server the runtimes trust (its CA is made trusted).
    dovecot: Dovecot,
    /// The same server software with a certificate from another CA.
    untrusted: Dovecot,
    /// A certificate from the trusted CA, for another name.
    wrong_name: Dovecot,
    inject_port: u16,
    refuse_port: u16,
    closed_port: u16,
}

/// A scripted POP3 server offering STLS: greeting, CAPA, then `stls_answer` to STLS, all
/// written at once (e.g. `+OK` with bytes injected behind it).
async fn scripted_stls(stls_answer: &'static str) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (r, mut w) = tcp.into_split();
                let mut lines = BufReader::new(r).lines();
                let _ = w.write_all(b"+OK scripted\r\n").await;
                while let Ok(Some(line)) = lines.next_line().await {
                    let answer = match line.to_ascii_uppercase().as_str() {
                        "CAPA" => "+OK\r\nSTLS\r\nUSER\r\nPIPELINING\r\n.\r\n",
                        "STLS" => stls_answer,
                        "QUIT" => "+OK bye\r\n",
                        _ => "-ERR no\r\n",
                    };
                    if w.write_all(answer.as_bytes()).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

async fn setup() -> Setup {
    let mailbox = || Mailbox::new(MESSAGES).size(4000).seed(29);
    let dovecot = Dovecot::start_async(DovecotOptions::new().user(USER, PASSWORD, mailbox()))
        .await
        .expect("dovecot starts");
    let untrusted = Dovecot::start_async(DovecotOptions::new().user(USER, PASSWORD, mailbox()).ca(
        std::sync::Arc::new(TestCa::with_name("Untrusted CA").unwrap()),
    ))
    .await
    .expect("second dovecot starts");
    let cert = dovecot
        .ca()
        .issue(&["mail.example"], Validity::Valid)
        .unwrap();
    let wrong_name = Dovecot::start_async(
        DovecotOptions::new()
            .user(USER, PASSWORD, mailbox())
            .ca(dovecot.ca_arc())
            .server_cert(cert),
    )
    .await
    .expect("third dovecot starts");
    Setup {
        dovecot,
        untrusted,
        wrong_name,
        inject_port: scripted_stls("+OK begin TLS\r\n+OK injected\r\n").await,
        refuse_port: scripted_stls("-ERR not now\r\n").await,
        closed_port: free_port().unwrap(),
    }
}

fn job(s: &Setup) -> String {
    json!({
        "host": s.dovecot.host(),
        "tlsPort": s.dovecot.tls_port(),
        "plainPort": s.dovecot.plain_port(),
        "user": USER,
        "password": PASSWORD,
        "untrustedTlsPort": s.untrusted.tls_port(),
        "untrustedPlainPort": s.untrusted.plain_port(),
        "wrongNameTlsPort": s.wrong_name.tls_port(),
        "wrongNamePlainPort": s.wrong_name.plain_port(),
        "injectPort": s.inject_port,
        "refusePort": s.refuse_port,
        "closedPort": s.closed_port,
    })
    .to_string()
}

/// One signed-in session's report: every message byte-exact, QUIT committed.
fn check_session(s: &Setup, what: &str, r: &Json) {
    assert!(r.get("failed").is_none(), "{what}: the session failed: {r}");
    assert_eq!(r["tls"]["verified"], true, "{what}: {r}");
    assert_eq!(r["tls"]["serverName"], s.dovecot.host(), "{what}: {r}");
    assert_eq!(r["insecure"], false, "{what}");
    assert_eq!(r["list"].as_array().map(Vec::len), Some(MESSAGES), "{what}");
    assert_eq!(r["uidl"].as_array().map(Vec::len), Some(MESSAGES), "{what}");
    let b64 = base64::engine::general_purpose::STANDARD;
    for i in 0..MESSAGES {
        let expected = s.dovecot.expected_bytes(USER, i);
        let got = r["messages"][(i + 1).to_string()]
            .as_str()
            .map(|m| b64.decode(m).unwrap())
            .unwrap_or_else(|| panic!("{what}: message {} missing", i + 1));
        assert!(
            got == expected,
            "{what}: message {} differs ({} vs {} bytes)",
            i + 1,
            got.len(),
            expected.len()
        );
    }
    assert_eq!(r["committed"], true, "{what}");
}

/// The errors every runtime reports alike.
fn check_errors(runtime: &str, e: &Json) {
    let code = |k: &str| e[k]["code"].as_str().unwrap_or("no error").to_owned();
    assert_eq!(e["noOpener"], "bad_options", "{runtime}: {e}");
    assert_eq!(
        e["plainWithoutConsent"], "plaintext_refused",
        "{runtime}: {e}"
    );
    assert_eq!(e["bridgeAndDirect"], "bad_options", "{runtime}: {e}");
    assert_eq!(e["wrongPassword"], "auth_failed", "{runtime}: {e}");
    assert_eq!(e["wrongPasswordStls"], "auth_failed", "{runtime}: {e}");
    assert_eq!(code("stlsRefused"), "stls_refused", "{runtime}: {e}");
    assert_eq!(code("stlsInjection"), "stls_injection", "{runtime}: {e}");
    assert_eq!(code("refusedPort"), "connect_failed", "{runtime}: {e}");
}

/// The certificate errors of a runtime that says what was wrong (Node, Deno): the same for
/// implicit TLS and for the STLS upgrade.
fn check_certificate_errors(runtime: &str, e: &Json) {
    for (k, want) in [
        ("unknownIssuer", "cert_unknown_issuer"),
        ("unknownIssuerStls", "cert_unknown_issuer"),
        ("nameMismatch", "cert_name_mismatch"),
        ("nameMismatchStls", "cert_name_mismatch"),
    ] {
        assert_eq!(e[k]["code"], want, "{runtime} {k}: {e}");
    }
}

/// The two sessions and the errors every runtime reports alike.
fn check_common(s: &Setup, runtime: &str, r: &Json) {
    check_session(s, &format!("{runtime} tls"), &r["tls"]);
    check_session(s, &format!("{runtime} stls"), &r["stls"]);
    check_errors(runtime, &r["errors"]);
    check_logins_were_encrypted(s, runtime);
}

/// Dovecot's own word that both logins (implicit TLS, STLS) ran over TLS: what the client
/// reports about its connection could be wrong, the server's log line is not.
fn check_logins_were_encrypted(s: &Setup, runtime: &str) {
    let log = s.dovecot.log();
    let logins: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(&format!("Login: user=<{USER}>")))
        .collect();
    eprintln!("{runtime}: {logins:#?}");
    assert_eq!(logins.len(), 2, "{runtime}: two logins: {logins:#?}");
    for l in &logins {
        assert!(l.contains(", TLS"), "{runtime}: a login without TLS: {l}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_signs_in_directly_to_dovecot() {
    let Some((tgz, runtimes)) = npm::inputs("npm_direct") else {
        return;
    };
    let s = setup().await;
    let dir = scratch_project(&tgz, &runtimes);
    let r = npm::run_job(
        Runtime::Node,
        &runtimes,
        dir.path(),
        "node-direct-job.mjs",
        job(&s),
        &[("NODE_EXTRA_CA_CERTS", s.dovecot.ca_pem_path())],
    )
    .await;
    eprintln!("node: {}", r["errors"]);
    check_common(&s, "node", &r);
    check_certificate_errors("node", &r["errors"]);
    assert!(
        r["tls"]["tls"]["version"]
            .as_str()
            .is_some_and(|v| v.starts_with("TLS")),
        "node reports the TLS version: {r}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deno_signs_in_directly_to_dovecot() {
    let Some((tgz, runtimes)) = npm::inputs("npm_direct") else {
        return;
    };
    let s = setup().await;
    let dir = scratch_project(&tgz, &runtimes);
    let r = npm::run_job(
        Runtime::Deno,
        &runtimes,
        dir.path(),
        "deno-direct-job.mjs",
        job(&s),
        &[("DENO_CERT", s.dovecot.ca_pem_path())],
    )
    .await;
    eprintln!("deno: {}", r["errors"]);
    check_common(&s, "deno", &r);
    check_certificate_errors("deno", &r["errors"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workerd_signs_in_directly_to_dovecot() {
    let Some((tgz, runtimes)) = npm::inputs("npm_direct") else {
        return;
    };
    let s = setup().await;
    let dir = scratch_project(&tgz, &runtimes);
    std::fs::copy(s.dovecot.ca_pem_path(), dir.path().join("ca.pem")).unwrap();
    let port = free_port().unwrap();
    let config = dir.path().join("config.capnp");
    std::fs::write(
        &config,
        npm::workerd_config(
            dir.path(),
            port,
            "worker-direct.js",
            &["direct-flow.js"],
            // workerd's documented way to trust a CA.
            Some(r#"(trustedCertificates = [ embed "ca.pem" ])"#),
        ),
    )
    .unwrap();
    let workerd = npm::Workerd::serve(&runtimes, dir.path(), &config, port);
    let (status, body) = npm::post(port, &job(&s)).await;
    let r: Json = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("the worker answered {status}: {body} ({e})"));
    eprintln!("workerd: {}", r["errors"]);
    check_common(&s, "workerd", &r);
    // workerd verifies (the untrusted and wrong-name servers are refused) but tells a Worker
    // neither why nor even, for implicit TLS, that TLS was the problem: connect() fails with
    // "proxy request failed, cannot connect to the specified address" exactly as for a closed
    // port, and startTls() with "internal error; reference = …" (the reason, e.g. "invalid
    // peer certificate: UnknownIssuer", is only in workerd's log). The opener tells a refused
    // certificate from a refused port with a plain TCP connect: `tls_handshake`, not a
    // certificate code.
    let e = &r["errors"];
    for k in ["unknownIssuer", "nameMismatch"] {
        assert_eq!(e[k]["code"], "tls_handshake", "workerd {k}: {e}");
        assert!(
            e[k]["detail"]
                .as_str()
                .is_some_and(|d| d.contains("accepts TCP connections")),
            "workerd {k}: {e}"
        );
    }
    for k in ["unknownIssuerStls", "nameMismatchStls"] {
        assert_eq!(e[k]["code"], "tls_handshake", "workerd {k}: {e}");
    }
    drop(workerd);
}
