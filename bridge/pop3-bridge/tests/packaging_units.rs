//! The systemd units in packaging/systemd/ as the repository has them (the .deb test checks
//! the installed ones): `systemd-analyze verify` accepts them, and `systemd-analyze security`
//! rates the service's exposure low. Both run here without systemd as PID 1.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_pop3-bridge");

/// The unit scores 1.4 (0 to 10; "OK" ends at 4.9); dropping DynamicUser, PrivateUsers, the
/// address-family or the system-call filter each raises it above this.
const MAX_EXPOSURE: f64 = 1.5;

/// The units in a folder of their own, with ExecStart pointing at the binary under test
/// (verify checks that the command exists).
fn units(test: &str) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/systemd");
    let dir = std::env::temp_dir().join(format!("pop3-bridge-units-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["pop3-bridge.service", "pop3-bridge.socket"] {
        let text = std::fs::read_to_string(src.join(name)).unwrap();
        assert!(
            name != "pop3-bridge.service" || text.contains("ExecStart=/usr/bin/pop3-bridge "),
            "{name}: ExecStart is not /usr/bin/pop3-bridge"
        );
        std::fs::write(dir.join(name), text.replace("/usr/bin/pop3-bridge", BIN)).unwrap();
    }
    dir
}

fn analyze(dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new("systemd-analyze")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("systemd-analyze (Debian package systemd)");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn the_units_verify() {
    let dir = units("verify");
    // --man=no: the man page is installed by the .deb (packaging_deb.rs verifies with it).
    let (ok, text) = analyze(
        &dir,
        &[
            "verify",
            "--man=no",
            "pop3-bridge.service",
            "pop3-bridge.socket",
        ],
    );
    assert!(ok, "systemd-analyze verify:\n{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_service_is_hardened() {
    let dir = units("security");
    let (_, text) = analyze(&dir, &["security", "--offline=yes", "pop3-bridge.service"]);
    let score: f64 = text
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for pop3-bridge.service:")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure score in: {text}"));
    println!("systemd-analyze security --offline=yes: exposure {score}");
    assert!(
        score <= MAX_EXPOSURE,
        "exposure {score} > {MAX_EXPOSURE}:\n{text}"
    );
    let service = std::fs::read_to_string(dir.join("pop3-bridge.service")).unwrap();
    // What the score does not weigh the same way: no capability at all, and the family list.
    for line in [
        "DynamicUser=yes",
        "CapabilityBoundingSet=\n",
        "AmbientCapabilities=\n",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "SystemCallFilter=@system-service",
    ] {
        assert!(service.contains(line), "the service lacks {line:?}");
    }
    assert!(
        !service.contains("--token-secret "),
        "a secret on the command line"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
