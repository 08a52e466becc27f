//! The release artifacts of `cargo xtask dist` as an operator gets them: the `.deb` installed
//! on this machine with `dpkg -i` (its binary run with its own configuration, its units
//! checked by `systemd-analyze`, its man page compared with `--help`) and removed again with
//! `dpkg --purge`, leaving nothing behind; and the tarball, whose binary serves the UI built
//! into it.
//!
//! Building them is slow (a release build), so `cargo xtask test` builds them once, in its
//! "dist" step, and tells these tests where they are with `POP3_BRIDGE_DIST_DIR`. Run alone
//! without it, the tests say so and skip; under `cargo xtask test` they always run (it also
//! sets `POP3_TESTS_SKIP_NOTHING`, with which a missing directory is a failure).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

const DIST_ENV: &str = "POP3_BRIDGE_DIST_DIR";
/// Set by `cargo xtask test`: a test that cannot run here fails instead of skipping.
const SKIP_NOTHING: &str = "POP3_TESTS_SKIP_NOTHING";

/// The exposure `systemd-analyze security` may give the unit at most: it scores 1.4 (on a scale
/// of 0 to 10; "OK" ends at 4.9), and dropping DynamicUser, PrivateUsers, the address-family
/// or the system-call filter each raises it above this.
const MAX_EXPOSURE: f64 = 1.5;

fn dist_dir() -> Option<PathBuf> {
    match std::env::var_os(DIST_ENV) {
        Some(d) => Some(PathBuf::from(d)),
        None => {
            // Under `cargo xtask test` nothing may pass without running (it sets both).
            assert!(
                std::env::var_os(SKIP_NOTHING).is_none(),
                "{DIST_ENV} is not set, and {SKIP_NOTHING} is"
            );
            // Straight to stderr, past the test harness's capture: a skip must be seen.
            let _ = writeln!(
                std::io::stderr(),
                "skipped: {DIST_ENV} is not set. `cargo xtask test` builds the release artifacts and sets it; by hand: cargo xtask dist && {DIST_ENV}=$PWD/target/dist cargo test -p pop3-bridge --test packaging_deb"
            );
            None
        }
    }
}

/// The one file in `dir` whose name ends with `suffix`.
fn artifact(dir: &Path, suffix: &str) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e} (did `cargo xtask dist` run?)", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one *{suffix} in {}: {found:?}",
        dir.display()
    );
    found.into_iter().next().unwrap()
}

fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"))
}

fn ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills the bridge when the test ends, however it ends.
struct Reap(Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A GET on the bridge: (status line, headers lower-cased, body).
fn get(port: u16, path: &str) -> (String, Vec<(String, String)>, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP answer for {path}: {raw:?}"));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines.next().unwrap_or_default().to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, raw[split + 4..].to_vec())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Starts `bin` with `args` plus `--listen 127.0.0.1:PORT` and waits until it answers.
fn start(bin: &Path, args: &[&str]) -> (Reap, u16) {
    let port = free_port();
    let mut child = Reap(
        Command::new(bin)
            .args(args)
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", bin.display())),
    );
    for _ in 0..1000 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (child, port);
        }
        if let Ok(Some(status)) = child.0.try_wait() {
            panic!("{} exited with {status} before listening", bin.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{} never listened on port {port}", bin.display());
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The UI the bridge serves is the one in the repository (built into the binary), with the
/// page's security headers, and /healthz answers.
fn check_serves_the_ui(port: u16) {
    let (status, _, body) = get(port, "/healthz");
    assert!(status.starts_with("HTTP/1.1 200"), "/healthz: {status}");
    assert!(!body.is_empty());

    let (status, headers, body) = get(port, "/");
    assert!(status.starts_with("HTTP/1.1 200"), "/: {status}");
    let index = std::fs::read(repo().join("web/index.html")).unwrap();
    assert!(body == index, "/ is not web/index.html");
    let csp = header(&headers, "content-security-policy").expect("CSP header on /");
    assert!(
        csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(header(&headers, "x-frame-options"), Some("DENY"));
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/html; charset=utf-8")
    );

    let (status, headers, body) = get(port, "/pkg/pop3_web_bg.wasm");
    assert!(status.starts_with("HTTP/1.1 200"), "wasm: {status}");
    assert_eq!(header(&headers, "content-type"), Some("application/wasm"));
    let wasm = std::fs::read(repo().join("web/pkg/pop3_web_bg.wasm")).unwrap();
    assert!(body == wasm, "/pkg/pop3_web_bg.wasm is not web/pkg's");

    // The test pages are never built in.
    let (status, _, _) = get(port, "/dev/");
    assert!(status.starts_with("HTTP/1.1 404"), "/dev/: {status}");
}

/// Every path under the folders a package or its maintainer scripts could write to whose name
/// mentions the bridge (dpkg's own database and the temporary folders left out; symlinks not
/// followed). Compared before installation and after purge: whatever the package or its
/// scripts made must be gone, and nothing else is looked at, so other work on the machine does
/// not disturb the comparison.
fn traces() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(list) = std::fs::read_dir(dir) else {
            return;
        };
        for e in list.flatten() {
            let path = e.path();
            if path == Path::new("/var/lib/dpkg") || path == Path::new("/var/tmp") {
                continue;
            }
            let name = e.file_name().to_string_lossy().to_ascii_lowercase();
            if name.contains("pop3-bridge") || name.contains("pop3_bridge") {
                out.push(path.clone());
            }
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                walk(&path, out);
            }
        }
    }
    let mut out = Vec::new();
    for root in ["/etc", "/var", "/usr", "/lib", "/opt", "/srv", "/run"] {
        walk(Path::new(root), &mut out);
    }
    out.sort();
    out
}

/// Purges the package when the test ends early (a failed check), so no run leaves it
/// installed; the test itself purges at its end and checks that.
struct PurgeOnDrop;

impl Drop for PurgeOnDrop {
    fn drop(&mut self) {
        if installed("pop3-bridge") {
            let _ = run(Command::new("dpkg").args(["--purge", "pop3-bridge"]));
        }
    }
}

fn installed(pkg: &str) -> bool {
    let out = run(Command::new("dpkg-query").args(["-W", "-f=${Status}", pkg]));
    String::from_utf8_lossy(&out.stdout).contains("install ok installed")
}

#[test]
fn the_deb_installs_serves_with_its_config_and_purges_without_a_trace() {
    let Some(dir) = dist_dir() else { return };
    let deb = artifact(&dir, ".deb");
    if installed("pop3-bridge") {
        // Left by an interrupted run.
        ok(Command::new("dpkg").args(["--purge", "pop3-bridge"]));
    }
    let before = traces();
    let _purge = PurgeOnDrop;
    ok(Command::new("dpkg").arg("-i").arg(&deb));
    let files: Vec<PathBuf> = ok(Command::new("dpkg").args(["-L", "pop3-bridge"]))
        .lines()
        .map(PathBuf::from)
        .collect();
    for f in [
        "/usr/bin/pop3-bridge",
        "/etc/pop3-bridge/bridge.toml",
        "/lib/systemd/system/pop3-bridge.service",
        "/lib/systemd/system/pop3-bridge.socket",
        "/usr/share/man/man1/pop3-bridge.1.gz",
        "/usr/share/doc/pop3-bridge/examples/low-port.conf",
        "/usr/share/doc/pop3-bridge/examples/token-secret.conf",
    ] {
        assert!(files.contains(&PathBuf::from(f)), "the package lacks {f}");
        assert!(Path::new(f).is_file(), "{f} is not installed");
    }
    let conffiles = ok(Command::new("dpkg-query").args(["-W", "-f=${Conffiles}", "pop3-bridge"]));
    assert!(
        conffiles.contains("/etc/pop3-bridge/bridge.toml"),
        "bridge.toml is not a conffile: {conffiles:?}"
    );

    let bin = Path::new("/usr/bin/pop3-bridge");
    let version = ok(Command::new(bin).arg("--version"));
    assert!(version.contains("web UI sha256:"), "{version}");

    // The units as installed: they verify (man page included), and the service's exposure is
    // low.
    ok(Command::new("systemd-analyze").args([
        "verify",
        "/lib/systemd/system/pop3-bridge.service",
        "/lib/systemd/system/pop3-bridge.socket",
    ]));
    let security = run(Command::new("systemd-analyze").args([
        "security",
        "--offline=yes",
        "/lib/systemd/system/pop3-bridge.service",
    ]));
    let text = String::from_utf8_lossy(&security.stdout);
    let score: f64 = text
        .lines()
        .find_map(|l| {
            l.split("Overall exposure level for pop3-bridge.service:")
                .nth(1)
        })
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure score in: {text}"));
    println!("systemd-analyze security: exposure {score}");
    assert!(
        score <= MAX_EXPOSURE,
        "exposure {score} > {MAX_EXPOSURE}:\n{text}"
    );

    // The man page is --help: every flag the binary has is in it.
    let man = ok(Command::new("zcat").arg("/usr/share/man/man1/pop3-bridge.1.gz"));
    let help = ok(Command::new(bin).arg("--help"));
    let mut flags = 0;
    for word in help.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
        if word.starts_with("--") && word.len() > 2 {
            flags += 1;
            assert!(man.contains(word), "the man page lacks {word}");
        }
    }
    assert!(flags > 30, "only {flags} flags in --help");

    // The packaged binary with the packaged configuration (only the port is changed).
    {
        let (_bridge, port) = start(bin, &["--config", "/etc/pop3-bridge/bridge.toml"]);
        check_serves_the_ui(port);
    }

    ok(Command::new("dpkg").args(["--purge", "pop3-bridge"]));
    assert!(!installed("pop3-bridge"), "still installed after purge");
    for f in &files {
        // Folders the system shares (/usr/bin, /lib/systemd/system) stay.
        if !f.is_dir() {
            assert!(!f.exists(), "{} is left after purge", f.display());
        }
    }
    for d in ["/etc/pop3-bridge", "/usr/share/doc/pop3-bridge"] {
        assert!(!Path::new(d).exists(), "{d} is left after purge");
    }
    let after = traces();
    let left: Vec<&PathBuf> = after.iter().filter(|p| !before.contains(p)).collect();
    assert!(left.is_empty(), "left after purge: {left:?}");
}

#[test]
fn the_tarball_holds_the_bridge_with_its_ui_units_and_config() {
    let Some(dir) = dist_dir() else { return };
    let tarball = artifact(&dir, "-linux.tar.gz");
    let out = std::env::temp_dir().join(format!("pop3-bridge-tarball-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    ok(Command::new("tar")
        .arg("-C")
        .arg(&out)
        .arg("-xzf")
        .arg(&tarball));
    let top: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(top.len(), 1, "one folder in the tarball: {top:?}");
    let root = &top[0];
    for f in [
        "pop3-bridge",
        "bridge.toml",
        "pop3-bridge.1",
        "README.md",
        "systemd/pop3-bridge.service",
        "systemd/pop3-bridge.socket",
        "systemd/low-port.conf",
        "systemd/token-secret.conf",
    ] {
        assert!(root.join(f).is_file(), "the tarball lacks {f}");
    }
    let bin = root.join("pop3-bridge");
    let version = ok(Command::new(&bin).arg("--version"));
    assert!(version.contains("web UI sha256:"), "{version}");
    // No --web-root: the UI comes from inside the binary.
    let config = root.join("bridge.toml");
    {
        let (_bridge, port) = start(&bin, &["--config", config.to_str().unwrap()]);
        check_serves_the_ui(port);
    }
    let _ = std::fs::remove_dir_all(&out);
}
