//! The token secret as a systemd credential (`LoadCredential=token-secret:…` in the unit's
//! drop-in): the bridge reads `$CREDENTIALS_DIRECTORY/token-secret`, and refuses a secret given
//! twice or a credential other users can read. `mint-token` shows which secret it read.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use pop3_bridge::{TokenAuth, TokenMode, now_unix};

const BIN: &str = env!("CARGO_BIN_EXE_pop3-bridge");
const SECRET: &str = "credential-secret-0123456789";

/// A credentials folder as systemd makes it: `token-secret`, mode 0400.
fn credentials(name: &str, mode: u32) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "pop3-bridge-credentials-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("token-secret");
    std::fs::write(&file, format!("{SECRET}\n")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode)).unwrap();
    dir
}

fn mint(env: &[(&str, &std::ffi::OsStr)]) -> Output {
    Command::new(BIN)
        .args(["mint-token", "--host", "mail.example.org", "--port", "995"])
        .env_remove("POP3_BRIDGE_TOKEN_SECRET")
        .env_remove("POP3_BRIDGE_TOKEN_SECRET_FILE")
        .env_remove("CREDENTIALS_DIRECTORY")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn the_token_secret_is_read_from_the_systemd_credential() {
    let dir = credentials("ok", 0o400);
    let out = mint(&[("CREDENTIALS_DIRECTORY", dir.as_os_str())]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    // Signed with the credential's secret (its trailing newline dropped), and nothing else.
    let claims = TokenAuth::new(TokenMode::Hmac, SECRET.as_bytes())
        .verify(&token, now_unix())
        .expect("verifies with the credential's secret")
        .expect("claims");
    assert_eq!(
        (claims.host.as_str(), claims.port),
        ("mail.example.org", 995)
    );
    assert!(
        TokenAuth::new(TokenMode::Hmac, b"another-secret-0123456789".as_slice())
            .verify(&token, now_unix())
            .is_err()
    );
    // Without the credentials folder there is no secret.
    let out = mint(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("credential token-secret"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_secret_given_twice_or_readable_by_others_is_refused() {
    let dir = credentials("twice", 0o400);
    let out = mint(&[
        ("CREDENTIALS_DIRECTORY", dir.as_os_str()),
        (
            "POP3_BRIDGE_TOKEN_SECRET",
            std::ffi::OsStr::new("env-secret-0123456789"),
        ),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("given twice") && err.contains("credential"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);

    let dir = credentials("open", 0o644);
    let out = mint(&[("CREDENTIALS_DIRECTORY", dir.as_os_str())]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("accessible to other users"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
