//! The `pop3-bridge` binary itself: flags and environment, refusal of an unsafe public bind,
//! graceful exit on SIGTERM, and `mint-token`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pop3_bridge::{TokenAuth, TokenMode, now_unix};

const BIN: &str = env!("CARGO_BIN_EXE_pop3-bridge");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn help_lists_the_main_flags() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--listen",
        "--web-root",
        "--allow-host",
        "--allow-port",
        "--extra-ca",
        "--allow-plaintext",
        "--origin",
        "--public-host",
        "--token-secret-file",
        "POP3_BRIDGE_TOKEN_SECRET",
        "--tls-cert",
        "--behind-proxy",
        "--config",
        "POP3_BRIDGE_",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
}

#[test]
fn public_bind_without_tls_exits_with_an_explanation() {
    let out = Command::new(BIN)
        .args(["--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tls-cert"));
}

/// A public bind without tokens and without `--servers-only` is an open relay: the binary
/// refuses to start unless told so. 192.0.2.1 (TEST-NET-1) is not an address of this machine,
/// so when the checks pass the bind itself fails (exit 1): nothing ever listens publicly.
#[test]
fn public_bind_without_tokens_is_refused_as_an_open_relay() {
    let run = |extra: &[&str], env: &[(&str, &str)]| {
        let out = Command::new(BIN)
            .args(["--listen", "192.0.2.1:1", "--behind-proxy"])
            .args(["--trusted-proxy", "192.0.2.0/24"])
            .args(extra)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, err) = run(&[], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("open relay") && err.contains("--open-relay"),
        "{err}"
    );
    // Each of these lifts the refusal (the bind to the foreign address then fails instead).
    for (extra, env) in [
        (&["--open-relay"][..], &[][..]),
        (&[], &[("POP3_BRIDGE_OPEN_RELAY", "true")][..]),
        (
            &[],
            &[("POP3_BRIDGE_TOKEN_SECRET", "0123456789abcdef-relay")][..],
        ),
        (&["--servers-only", "--allow-host", "pop.example.com"], &[]),
    ] {
        let (code, err) = run(extra, env);
        assert_eq!(code, Some(1), "{extra:?} {env:?}: {err}");
        assert!(!err.contains("open relay"), "{extra:?} {env:?}: {err}");
    }
}

#[test]
fn sigterm_stops_the_bridge_gracefully() {
    let port = free_port();
    let mut child = Command::new(BIN)
        .env("POP3_BRIDGE_LISTEN", format!("127.0.0.1:{port}"))
        .args(["--allow-host", "127.0.0.1", "--allow-port", "1110"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "bridge did not listen"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let t = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status:?}");
            break;
        }
        if t.elapsed() > Duration::from_secs(5) {
            let _ = child.kill();
            panic!("bridge did not exit within 5 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn mint_token_prints_a_token_the_bridge_accepts() {
    let secret = "0123456789abcdef-mint";
    let out = Command::new(BIN)
        .env("POP3_BRIDGE_TOKEN_SECRET", secret)
        .arg("mint-token")
        .args(["--host", "pop.example.com", "--port", "995", "--ttl", "60"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap();
    let claims = TokenAuth::new(TokenMode::Hmac, secret)
        .verify(token.trim(), now_unix())
        .unwrap()
        .unwrap();
    assert!(claims.permits("pop.example.com", 995).is_ok());
}
