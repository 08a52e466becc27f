//! Where the metrics token may come from: a file (`--metrics-token-file`,
//! `POP3_BRIDGE_METRICS_TOKEN_FILE`, TOML `metrics_token_file`), the environment
//! (`POP3_BRIDGE_METRICS_TOKEN`) or the TOML file, never the command line, which every user of
//! the machine can read (`ps`, `/proc`). The token secret gets the same treatment (tokens.rs).

use std::path::PathBuf;
use std::process::{Command, Output};

use clap::Parser;
use pop3_bridge::Cli;

const BIN: &str = env!("CARGO_BIN_EXE_pop3-bridge");
const TOKEN: &str = "metrics-token-0123456789-file";
const SECRET: &str = "0123456789abcdef-metrics-test";

/// The binary with `args` and `env` and no bridge variables inherited. `mint-token` reads the
/// whole configuration first, so it exits 2 on a refused configuration and 0 otherwise.
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(BIN)
        .env_remove("POP3_BRIDGE_METRICS_TOKEN")
        .env_remove("POP3_BRIDGE_METRICS_TOKEN_FILE")
        .env_remove("POP3_BRIDGE_TOKEN_SECRET_FILE")
        .env("POP3_BRIDGE_TOKEN_SECRET", SECRET)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

const MINT: [&str; 5] = ["mint-token", "--host", "pop.example.com", "--port", "995"];

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// A fresh file with `content` and Unix permissions `mode`.
fn secret_file(tag: &str, content: &str, mode: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("pop3-bridge-metrics-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(tag);
    std::fs::write(&p, content).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    p
}

/// The metrics token the flags resolve to (no environment variable is read: the test sets
/// none, and `POP3_BRIDGE_METRICS_TOKEN` is not set where the tests run).
fn token_from(args: &[&str]) -> Result<Option<String>, String> {
    let cli =
        Cli::try_parse_from([&["pop3-bridge"][..], args].concat()).map_err(|e| e.to_string())?;
    cli.opts
        .into_config()
        .map(|(c, _)| c.metrics_token)
        .map_err(|e| e.to_string())
}

#[test]
fn the_token_is_not_accepted_on_the_command_line() {
    let out = run(&[&["--metrics-token", TOKEN][..], &MINT].concat(), &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(
        err.contains("--metrics-token-file") && err.contains("POP3_BRIDGE_METRICS_TOKEN"),
        "{err}"
    );
    assert!(!err.contains(TOKEN), "the error repeats the token: {err}");
    // --help offers the file and the environment, not a flag taking the token.
    let help = String::from_utf8(run(&["--help"], &[]).stdout).unwrap();
    assert!(help.contains("--metrics-token-file"), "{help}");
    assert!(help.contains("POP3_BRIDGE_METRICS_TOKEN"), "{help}");
    assert!(!help.contains("--metrics-token <"), "{help}");
}

#[test]
fn the_token_is_read_from_a_file() {
    // One trailing newline is not part of the token (`echo token > file`).
    let f = secret_file("ok", &format!("{TOKEN}\n"), 0o600);
    let path = f.to_str().unwrap();
    assert_eq!(
        token_from(&["--metrics-token-file", path]),
        Ok(Some(TOKEN.into()))
    );
    // Group-readable is fine; CRLF too.
    let f = secret_file("group", &format!("{TOKEN}\r\n"), 0o640);
    assert_eq!(
        token_from(&["--metrics-token-file", f.to_str().unwrap()]),
        Ok(Some(TOKEN.into()))
    );
    // TOML: metrics_token_file.
    let toml = secret_file(
        "bridge.toml",
        &format!("metrics_token_file = \"{path}\"\n"),
        0o600,
    );
    assert_eq!(
        token_from(&["--config", toml.to_str().unwrap()]),
        Ok(Some(TOKEN.into()))
    );
    // The binary, by flag and by POP3_BRIDGE_METRICS_TOKEN_FILE: a too-short token in the file
    // is refused, which shows the file was read.
    let short = secret_file("short", "short\n", 0o600);
    for out in [
        run(
            &[
                &["--metrics-token-file", short.to_str().unwrap()][..],
                &MINT,
            ]
            .concat(),
            &[],
        ),
        run(
            &MINT,
            &[("POP3_BRIDGE_METRICS_TOKEN_FILE", short.to_str().unwrap())],
        ),
    ] {
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        assert!(stderr(&out).contains("metrics token"), "{}", stderr(&out));
    }
    let out = run(&MINT, &[("POP3_BRIDGE_METRICS_TOKEN_FILE", path)]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_token_file_others_can_read_or_an_empty_one_is_refused() {
    let f = secret_file("world", &format!("{TOKEN}\n"), 0o604);
    let err = token_from(&["--metrics-token-file", f.to_str().unwrap()]).unwrap_err();
    assert!(
        err.contains("metrics token file") && err.contains("chmod o-rwx"),
        "{err}"
    );
    assert!(!err.contains(TOKEN), "{err}");
    let f = secret_file("empty", "", 0o600);
    let err = token_from(&["--metrics-token-file", f.to_str().unwrap()]).unwrap_err();
    assert!(
        err.contains("metrics token file") && err.contains("empty"),
        "{err}"
    );
}

#[test]
fn the_token_is_read_from_the_environment_once() {
    let out = run(&MINT, &[("POP3_BRIDGE_METRICS_TOKEN", TOKEN)]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The environment is read: a too-short token there is refused.
    let out = run(&MINT, &[("POP3_BRIDGE_METRICS_TOKEN", "short")]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("metrics token"), "{}", stderr(&out));
    // Given twice (environment and file): refused rather than one silently winning.
    let f = secret_file("twice", TOKEN, 0o600);
    let out = run(
        &[&["--metrics-token-file", f.to_str().unwrap()][..], &MINT].concat(),
        &[("POP3_BRIDGE_METRICS_TOKEN", TOKEN)],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("twice"), "{}", stderr(&out));
    assert!(!stderr(&out).contains(TOKEN), "{}", stderr(&out));
}

#[test]
fn toml_takes_the_token_or_its_file_but_not_both() {
    let toml = secret_file(
        "inline.toml",
        &format!("metrics_token = \"{TOKEN}\"\n"),
        0o600,
    );
    assert_eq!(
        token_from(&["--config", toml.to_str().unwrap()]),
        Ok(Some(TOKEN.into()))
    );
    let f = secret_file("both-token", TOKEN, 0o600);
    let toml = secret_file(
        "both.toml",
        &format!(
            "metrics_token = \"{TOKEN}\"\nmetrics_token_file = \"{}\"\n",
            f.to_str().unwrap()
        ),
        0o600,
    );
    let err = token_from(&["--config", toml.to_str().unwrap()]).unwrap_err();
    assert!(
        err.contains("metrics_token_file") && err.contains("both"),
        "{err}"
    );
}
