//! `cargo xtask dist`: the bridge as an operator installs it, in `target/dist/`:
//!
//! * `pop3-bridge_<version>-1_<arch>.deb` (cargo-deb, installed here if missing): the binary
//!   with the web UI embedded, `/etc/pop3-bridge/bridge.toml` (the sample configuration, a
//!   conffile), the hardened `pop3-bridge.service` and `pop3-bridge.socket`, the man page, the
//!   drop-in examples (low port, token-secret credential) and the bridge's README;
//! * `pop3-bridge-<version>-<arch>-linux.tar.gz`: the same files in one folder.
//!
//! The man page is the binary's own `--help` (and `--version`) in man format, so it says
//! exactly what the installed binary does. The package metadata is in
//! bridge/pop3-bridge/Cargo.toml (`[package.metadata.deb]`), the units and maintainer scripts
//! in packaging/. `cargo xtask test` runs this before the tests and points the packaging test
//! at the folder with [`DIST_ENV`].

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use super::{Result, build_web, capture, cargo, have, header, run_cmd, target_dir};

/// The environment variable that tells the packaging test where the artifacts are.
pub const DIST_ENV: &str = "POP3_BRIDGE_DIST_DIR";

/// Where `dist` puts the artifacts.
pub fn dist_dir(root: &Path) -> PathBuf {
    target_dir(root).join("dist")
}

/// cargo-deb, from crates.io, unless it is there.
pub fn ensure_cargo_deb() -> Result {
    if have("cargo-deb") {
        println!("cargo-deb: present");
        Ok(())
    } else {
        run_cmd(Command::new(cargo()).args(["install", "cargo-deb", "--locked"]))
    }
}

pub fn dist(root: &Path) -> Result {
    let t = Instant::now();
    header("dist");
    ensure_cargo_deb()?;
    build_web(root)?;
    header("dist: release bridge with the web UI embedded");
    let ui = root.join("web");
    run_cmd(
        Command::new(cargo())
            .args(["build", "--release", "--locked", "-p", "pop3-bridge"])
            .env("POP3_BRIDGE_UI_DIR", &ui),
    )?;
    let bin = target_dir(root).join("release").join("pop3-bridge");
    let (ok, version_line) = capture(&bin.to_string_lossy(), &["--version"]);
    if !ok || !version_line.contains("web UI sha256:") {
        return Err(format!(
            "{} --version does not name an embedded UI: {version_line:?}",
            bin.display()
        ));
    }
    let version = version_line
        .split_whitespace()
        .nth(1)
        .ok_or_else(|| format!("cannot read the version from {version_line:?}"))?
        .to_owned();

    let out = dist_dir(root);
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).map_err(|e| format!("creating {}: {e}", out.display()))?;

    header("dist: man page");
    let (ok, help) = capture(&bin.to_string_lossy(), &["--help"]);
    if !ok {
        return Err("pop3-bridge --help failed".into());
    }
    // Next to the binary: cargo-deb finds assets under target/release/ wherever the target
    // directory is.
    let man = target_dir(root).join("release").join("pop3-bridge.1");
    write(&man, &man_page(version_line.trim(), &help))?;
    run_cmd(
        Command::new("gzip")
            .args(["-9", "-n", "-f", "-k"])
            .arg(&man),
    )?;

    header("dist: .deb");
    // cargo-deb takes the binary built above (--no-build) and strips its copy (56 MB with the
    // release profile's line tables, 8.5 MB without); its assets
    // (bridge/pop3-bridge/Cargo.toml) name target/release/pop3-bridge.1.gz, written above.
    run_cmd(
        Command::new(cargo())
            .args([
                "deb",
                "-p",
                "pop3-bridge",
                "--no-build",
                "--strip",
                "--output",
            ])
            .arg(&out),
    )?;

    header("dist: tarball");
    let name = format!("pop3-bridge-{version}-{}-linux", std::env::consts::ARCH);
    let stage = out.join(&name);
    let pkg = root.join("packaging").join("systemd");
    let bridge = root.join("bridge").join("pop3-bridge");
    for (from, to) in [
        (bin.clone(), "pop3-bridge"),
        (bridge.join("bridge.sample.toml"), "bridge.toml"),
        (bridge.join("README.md"), "README.md"),
        (man.clone(), "pop3-bridge.1"),
        (
            pkg.join("pop3-bridge.service"),
            "systemd/pop3-bridge.service",
        ),
        (pkg.join("pop3-bridge.socket"), "systemd/pop3-bridge.socket"),
        (pkg.join("low-port.conf"), "systemd/low-port.conf"),
        (pkg.join("token-secret.conf"), "systemd/token-secret.conf"),
    ] {
        let to = stage.join(to);
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        }
        std::fs::copy(&from, &to)
            .map_err(|e| format!("copying {} to {}: {e}", from.display(), to.display()))?;
    }
    if have("strip") {
        run_cmd(
            Command::new("strip")
                .arg("--strip-debug")
                .arg(stage.join("pop3-bridge")),
        )?;
    }
    let tarball = out.join(format!("{name}.tar.gz"));
    run_cmd(
        Command::new("tar")
            .arg("-C")
            .arg(&out)
            .args(["--owner=0", "--group=0", "-czf"])
            .arg(&tarball)
            .arg(&name),
    )?;
    std::fs::remove_dir_all(&stage).map_err(|e| format!("removing {}: {e}", stage.display()))?;

    header("dist: done");
    println!("{}", version_line.trim());
    let mut entries: Vec<_> = std::fs::read_dir(&out)
        .map_err(|e| format!("listing {}: {e}", out.display()))?
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let size = e.metadata().map(|m| m.len()).unwrap_or(0);
        println!("  {} ({size} bytes)", e.path().display());
    }
    println!("dist done in {:.1} s", t.elapsed().as_secs_f64());
    Ok(())
}

fn write(path: &Path, text: &str) -> Result {
    std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}

/// A man page (roff) that is `--help` itself: NAME from the first line, the rest verbatim.
fn man_page(version_line: &str, help: &str) -> String {
    let escape = |line: &str| {
        let line = line.replace('\\', "\\e");
        // A line starting with . or ' would be a roff request.
        if line.starts_with(['.', '\'']) {
            format!("\\&{line}")
        } else {
            line
        }
    };
    let mut lines = help.lines();
    let summary = lines.next().unwrap_or("pop3-bridge");
    let summary = summary
        .strip_prefix("pop3-bridge: ")
        .unwrap_or(summary)
        .trim_end_matches('.');
    let mut page = format!(
        ".TH POP3-BRIDGE 1 \"\" \"{}\" \"User Commands\"\n.SH NAME\npop3-bridge \\- {}\n.SH DESCRIPTION\n.nf\n",
        escape(version_line),
        escape(summary)
    );
    for line in lines {
        page.push_str(&escape(line));
        page.push('\n');
    }
    page.push_str(".fi\n.SH FILES\n.nf\n/etc/pop3-bridge/bridge.toml   the configuration (all settings, commented)\n/lib/systemd/system/pop3-bridge.service, pop3-bridge.socket\n/usr/share/doc/pop3-bridge/examples/   drop-ins: low-port.conf, token-secret.conf\n.fi\n");
    page
}
