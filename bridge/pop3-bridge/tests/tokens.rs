//! Where access tokens and the token secret may come from. Tokens go in the connect request;
//! `?token=` in the WebSocket URL (which ends up in proxy and access logs) is refused unless
//! the operator enables it, and never accepted in shared-secret mode. The secret is read from
//! a file or the environment, never from the command line (visible to every user via `ps`).

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;

use common::*;
use pop3_bridge::{FakeResolver, TokenAuth, TokenClaims, TokenMode, now_unix};
use serde_json::json;
use tokio_tungstenite::tungstenite::Error as WsError;

const BIN: &str = env!("CARGO_BIN_EXE_pop3-bridge");
const SECRET: &str = "0123456789abcdef-tokens-secret";

async fn bridge(config: pop3_bridge::Config) -> (TestBridge, Arc<RedirectConnector>) {
    let up = echo_server().await;
    let conn = RedirectConnector::new(up.addr);
    let r = Arc::new(FakeResolver::new().answer("pop.example.com", &[ip(PUBLIC)]));
    let b = TestBridge::start_with(config, Some(r), Some(conn.clone())).await;
    (b, conn)
}

fn token_cfg(mode: TokenMode) -> pop3_bridge::Config {
    let mut c = test_config();
    c.allow_plaintext = true;
    c.token_secret = Some(SECRET.into());
    c.token_mode = mode;
    c
}

fn mint() -> String {
    TokenAuth::new(TokenMode::Hmac, SECRET).mint(&TokenClaims {
        host: "pop.example.com".into(),
        port: 110,
        exp: now_unix() + 60,
        nbf: None,
    })
}

fn target() -> serde_json::Value {
    json!({"host": "pop.example.com", "port": 110, "security": "plain"})
}

/// The status and body of a refused upgrade.
fn refusal(e: &WsError) -> (u16, String) {
    match e {
        WsError::Http(resp) => (
            resp.status().as_u16(),
            String::from_utf8_lossy(resp.body().as_deref().unwrap_or_default()).to_string(),
        ),
        other => panic!("expected an HTTP refusal, got {other:?}"),
    }
}

/// A refusal that tells the client where the token goes instead.
fn assert_query_refusal(e: &WsError) {
    let (status, body) = refusal(e);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("connect request"), "{body}");
}

#[tokio::test]
async fn a_query_token_is_refused_by_default_with_400() {
    let (b, conn) = bridge(token_cfg(TokenMode::Hmac)).await;
    // A valid token: refused all the same, before the upgrade.
    let e = ws_connect_q(&b, &format!("?token={}", mint()))
        .await
        .unwrap_err();
    assert_query_refusal(&e);
    let e = ws_connect_q(&b, &format!("?a=1&token={}", mint()))
        .await
        .unwrap_err();
    assert_query_refusal(&e);
    assert!(conn.seen().is_empty());
    // Without tokens configured a token in the URL is refused too (it is still logged).
    let (open, _) = bridge({
        let mut c = test_config();
        c.allow_plaintext = true;
        c
    })
    .await;
    let e = ws_connect_q(&open, "?token=anything").await.unwrap_err();
    assert_query_refusal(&e);
}

#[tokio::test]
async fn a_query_token_is_refused_in_shared_secret_mode() {
    let (b, conn) = bridge(token_cfg(TokenMode::Shared)).await;
    let e = ws_connect_q(&b, &format!("?token={SECRET}"))
        .await
        .unwrap_err();
    assert_query_refusal(&e);
    assert!(conn.seen().is_empty());
}

#[tokio::test]
async fn a_query_token_is_accepted_with_token_in_query() {
    let mut c = token_cfg(TokenMode::Hmac);
    c.token_in_query = true;
    let (b, conn) = bridge(c).await;
    let mut ws = ws_connect_q(&b, &format!("?token={}", mint()))
        .await
        .unwrap();
    assert_eq!(request(&mut ws, target()).await["ok"], true);
    assert_eq!(conn.seen().len(), 1);
    // Still checked before the upgrade.
    let e = ws_connect_q(&b, "?token=garbage").await.unwrap_err();
    assert_eq!(refusal(&e).0, 401);
    // The connect request keeps working alongside.
    let mut req = target();
    req["token"] = json!(mint());
    let (_ws, ans) = session(&b, req).await;
    assert_eq!(ans["ok"], true, "{ans}");
}

#[tokio::test]
async fn query_tokens_with_a_shared_secret_are_refused_at_start() {
    let mut c = token_cfg(TokenMode::Shared);
    c.token_in_query = true;
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("shared") && e.contains("token_in_query"), "{e}");
    let b = TestBridge::start(c).await;
    assert!(b.stop().await.is_err(), "the bridge ran");
}

#[tokio::test]
async fn the_connect_request_token_works_in_both_modes() {
    for (mode, token) in [
        (TokenMode::Hmac, mint()),
        (TokenMode::Shared, SECRET.into()),
    ] {
        let (b, conn) = bridge(token_cfg(mode)).await;
        let mut req = target();
        req["token"] = json!(token);
        let (_ws, ans) = session(&b, req).await;
        assert_eq!(ans["ok"], true, "{mode:?}: {ans}");
        assert_eq!(conn.seen().len(), 1);
    }
}

// --- The binary: where the secret comes from ---------------------------------------------

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(BIN)
        .env_remove("POP3_BRIDGE_TOKEN_SECRET")
        .env_remove("POP3_BRIDGE_TOKEN_SECRET_FILE")
        .env_remove("POP3_BRIDGE_TOKEN_IN_QUERY")
        .env_remove("POP3_BRIDGE_TOKEN_MODE")
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

const MINT: [&str; 7] = [
    "mint-token",
    "--host",
    "pop.example.com",
    "--port",
    "995",
    "--ttl",
    "60",
];

/// The minted token verifies with `secret`.
fn assert_minted_with(out: &Output, secret: &str) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout.clone()).unwrap();
    let claims = TokenAuth::new(TokenMode::Hmac, secret)
        .verify(token.trim(), now_unix())
        .expect("minted with the secret")
        .unwrap();
    assert!(claims.permits("pop.example.com", 995).is_ok());
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// A fresh file with `content` and Unix permissions `mode`.
fn secret_file(tag: &str, content: &str, mode: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("pop3-bridge-tokens-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(tag);
    std::fs::write(&p, content).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    p
}

#[test]
fn the_secret_is_not_accepted_on_the_command_line() {
    let out = run(&[&["--token-secret", SECRET][..], &MINT].concat(), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(
        err.contains("--token-secret-file") && err.contains("POP3_BRIDGE_TOKEN_SECRET"),
        "{err}"
    );
    assert!(!err.contains(SECRET), "the error repeats the secret: {err}");
    // --help offers the file and the environment, not a flag taking the secret.
    let help = String::from_utf8(run(&["--help"], &[]).stdout).unwrap();
    assert!(help.contains("--token-secret-file"), "{help}");
    assert!(help.contains("POP3_BRIDGE_TOKEN_SECRET"), "{help}");
    assert!(!help.contains("--token-secret <"), "{help}");
}

/// The documentation shows no secret where `ps` or a shell history would keep it: no flag
/// that takes the token secret or the metrics token itself on a command line, and no
/// assignment of either to its environment variable anywhere (in prose too). It names the
/// files, the credentials and the variables only (issue #11). Reads every Markdown file, shell
/// script, unit and proxy configuration of the repository (outside build output, vendored
/// code and fuzz corpora), the sample configuration and the bridge's `--help` (the man page is
/// made from it).
#[test]
fn no_document_shows_a_secret_on_a_command_line() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut texts: Vec<(String, String)> = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let p = entry.unwrap().path();
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if p.is_dir() {
                let skip = [
                    "target",
                    "node_modules",
                    "vendor",
                    "corpus",
                    "pkg",
                    "artifacts",
                ];
                if !name.starts_with('.') && !skip.contains(&name) {
                    dirs.push(p);
                }
                continue;
            }
            let ext = p.extension().and_then(|x| x.to_str()).unwrap_or_default();
            let doc = ["md", "sh", "service", "socket", "conf", "cfg"].contains(&ext)
                || name == "bridge.sample.toml"
                || p.parent().is_some_and(|d| d.ends_with("packaging/debian"));
            if doc {
                let text =
                    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                texts.push((p.display().to_string(), text));
            }
        }
    }
    let help = run(&["--help"], &[]);
    assert!(help.status.success(), "{}", stderr(&help));
    texts.push((
        "pop3-bridge --help".into(),
        String::from_utf8_lossy(&help.stdout).into_owned(),
    ));
    // The walk found the documents that show commands, and the Markdown fences were followed:
    // the bridge README's examples with `--token-secret-file` count as command lines.
    let markdown = texts.iter().filter(|(n, _)| n.ends_with(".md")).count();
    assert!(markdown >= 8, "only {markdown} Markdown files read");
    let mut fenced_examples = 0;

    let mut shown = Vec::new();
    for (name, text) in &texts {
        // A command line: in a fenced block of a Markdown file, a shell prompt, a unit's
        // ExecStart, or anything in a file that is not Markdown. Prose may name the refused
        // flags (`--token-secret VALUE` is refused), never assign a secret.
        let markdown = name.ends_with(".md");
        let mut fenced = false;
        for (n, line) in text.lines().enumerate() {
            let at = || format!("{name}:{}: {line}", n + 1);
            for var in ["POP3_BRIDGE_TOKEN_SECRET=", "POP3_BRIDGE_METRICS_TOKEN="] {
                if line.contains(var) {
                    shown.push(at());
                }
            }
            let t = line.trim_start();
            if markdown && (t.starts_with("```") || t.starts_with("~~~")) {
                fenced = !fenced;
                continue;
            }
            let command = !markdown
                || fenced
                || line.starts_with("    ")
                || t.starts_with("$ ")
                || line.contains("ExecStart=");
            if !command {
                continue;
            }
            if markdown && fenced && line.contains("--token-secret-file") {
                fenced_examples += 1;
            }
            for flag in ["--token-secret", "--metrics-token"] {
                for (i, _) in line.match_indices(flag) {
                    let rest = &line[i + flag.len()..];
                    // `--token-secret-file` and `--metrics-token-file` name a file: fine.
                    if rest.starts_with([' ', '=']) || rest.is_empty() {
                        shown.push(at());
                    }
                }
            }
        }
    }
    assert!(
        fenced_examples >= 3,
        "only {fenced_examples} fenced lines with --token-secret-file were seen as commands"
    );
    assert!(
        shown.is_empty(),
        "a secret is shown on a command line:\n{}",
        shown.join("\n")
    );
}

#[test]
fn the_secret_is_read_from_the_environment() {
    let out = run(&MINT, &[("POP3_BRIDGE_TOKEN_SECRET", SECRET)]);
    assert_minted_with(&out, SECRET);
}

#[test]
fn the_secret_is_read_from_a_file() {
    // One trailing newline is not part of the secret (`echo secret > file`).
    let f = secret_file("ok", &format!("{SECRET}\n"), 0o600);
    let path = f.to_str().unwrap();
    assert_minted_with(
        &run(&[&["--token-secret-file", path][..], &MINT].concat(), &[]),
        SECRET,
    );
    assert_minted_with(
        &run(&MINT, &[("POP3_BRIDGE_TOKEN_SECRET_FILE", path)]),
        SECRET,
    );
    // Group-readable is fine (root:pop3-bridge 0640 is the usual way to hand it to a service).
    let f = secret_file("group", &format!("{SECRET}\r\n"), 0o640);
    assert_minted_with(
        &run(
            &[&["--token-secret-file", f.to_str().unwrap()][..], &MINT].concat(),
            &[],
        ),
        SECRET,
    );
    // TOML: token_secret_file.
    let toml = secret_file(
        "bridge.toml",
        &format!("token_secret_file = \"{}\"\n", path),
        0o600,
    );
    assert_minted_with(
        &run(
            &[&["--config", toml.to_str().unwrap()][..], &MINT].concat(),
            &[],
        ),
        SECRET,
    );
}

#[test]
fn a_bad_secret_file_is_refused_at_start() {
    let world = secret_file("world", SECRET, 0o644);
    let empty = secret_file("empty", "\n", 0o600);
    let missing = world.with_file_name("missing");
    for (f, why) in [
        (&world, "other users"),
        (&empty, "empty"),
        (&missing, "cannot read"),
    ] {
        let out = run(
            &[&["--token-secret-file", f.to_str().unwrap()][..], &MINT].concat(),
            &[],
        );
        assert_eq!(out.status.code(), Some(2), "{f:?}: {}", stderr(&out));
        assert!(out.stdout.is_empty());
        let err = stderr(&out);
        assert!(
            err.contains(why) && err.contains(f.to_str().unwrap()),
            "{f:?}: {err}"
        );
        assert!(!err.contains(SECRET), "{err}");
    }
    // The secret given twice (file and environment) is ambiguous.
    let ok = secret_file("twice", SECRET, 0o600);
    let out = run(
        &[&["--token-secret-file", ok.to_str().unwrap()][..], &MINT].concat(),
        &[("POP3_BRIDGE_TOKEN_SECRET", SECRET)],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn the_toml_file_sets_token_in_query_and_takes_the_secret_once() {
    let f = secret_file("toml-secret", SECRET, 0o600);
    let path = f.to_str().unwrap();
    // Both keys: which one is meant?
    let toml = secret_file(
        "both.toml",
        &format!("token_secret = \"{SECRET}\"\ntoken_secret_file = \"{path}\"\n"),
        0o600,
    );
    let out = run(
        &[&["--config", toml.to_str().unwrap()][..], &MINT].concat(),
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("token_secret_file"),
        "{}",
        stderr(&out)
    );
    // token_in_query with a shared secret does not start.
    let toml = secret_file(
        "shared.toml",
        &format!(
            "token_secret_file = \"{path}\"\ntoken_mode = \"shared\"\ntoken_in_query = true\n"
        ),
        0o600,
    );
    let out = run(&["--config", toml.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("token_in_query"), "{}", stderr(&out));
}

#[test]
fn query_tokens_with_a_shared_secret_do_not_start() {
    let out = run(
        &["--token-mode", "shared", "--token-in-query"],
        &[("POP3_BRIDGE_TOKEN_SECRET", SECRET)],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("shared") && err.contains("token-in-query"),
        "{err}"
    );
    let out = run(
        &["--token-mode", "shared"],
        &[
            ("POP3_BRIDGE_TOKEN_SECRET", SECRET),
            ("POP3_BRIDGE_TOKEN_IN_QUERY", "true"),
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
