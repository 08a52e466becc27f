//! Project automation: `cargo xtask <command>`.
//!
//! * `setup`: install the system packages and Rust pieces the project needs (idempotent).
//! * `test`: setup, then formatting, clippy, the wasm build of the core and the whole test suite.
//! * `run`: a local demo: Dovecot with a sample mailbox plus the WebSocket bridge serving `web/`.
//! * `bench pipelining`: mpop vs. our native driver over a 25 ms delay link.
//! * `bench parse`: the core's parser benchmark.
//! * `bench browser`: the wasm client in headless Chromium through the bridge vs. mpop (25 ms
//!   delay each way) and vs. Python poplib (loopback).
//! * `bench search`: search over kept mail in Chromium and Firefox (keystroke to results).
//! * `fuzz [SECONDS]`: every `cargo fuzz` target for SECONDS each, then a summary table.

use std::env;
use std::ffi::OsStr;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

mod bench_search;
mod dist;
mod npm;

/// Debian packages the project needs (tests, demo, browser tests, benchmarks).
const PACKAGES: &[&str] = &[
    "dovecot-pop3d",
    "mpop",
    "websockify",
    // Independent readers in tests (zipfile, mailbox) and the bridge benchmark's client.
    "python3",
    "chromium",
    "chromium-driver",
    "nginx",
    "openssl",
    "firefox-esr",
    // Self-hosting tests: the reverse-proxy recipes and a real Prometheus scraping the bridge.
    "haproxy",
    "prometheus",
    // ring's C code for wasm32-unknown-unknown (the end-to-end TLS module, pop3-tls-web):
    // gcc has no wasm target. The cc crate picks `clang` for that target and the `llvm-ar`
    // in clang's search path by itself, so no CC_/AR_ variables are needed; without llvm it
    // would fall back to GNU ar, which cannot index wasm objects for the linker.
    "clang",
    "llvm",
];

/// System services some of those packages start; we run our own instances instead.
const SERVICES: &[&str] = &["dovecot", "nginx", "haproxy", "prometheus"];

/// System user owning Dovecot test mail (must match `e2e::dovecot::MAIL_USER`).
const MAIL_USER: &str = "pop3test";

const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// The crates that are built for the browser (and edge runtimes): clippy checks them on
/// `wasm32-unknown-unknown` as well.
const WASM_CRATES: &[&str] = &[
    "pop3-proto",
    "pop3-headers",
    "pop3-bridge-protocol",
    "pop3-sync",
    "pop3-mime",
    "pop3-web",
    "pop3-mime-web",
    "pop3-tls",
    "pop3-tls-chacha",
    "pop3-tls-web",
];

type Result<T = ()> = std::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let root = workspace_root();
    if let Err(e) = env::set_current_dir(&root) {
        eprintln!("xtask: cannot cd to {}: {e}", root.display());
        return ExitCode::FAILURE;
    }
    let rest: Vec<String> = args.iter().skip(1).cloned().collect();
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup(),
        Some("test") => test(),
        Some("run") => run(&root),
        Some("build-web") => build_web(&root),
        Some("dist") => dist::dist(&root),
        Some("npm") => build_web(&root)
            .and_then(|()| js_tools(&root))
            .and_then(|tsc| npm::pack(&root, &tsc.join("tsc")))
            .map(|_| ()),
        Some("soak") => soak(&root, &rest),
        Some("fuzz") => fuzz(&root, &rest),
        Some("bench") => match rest.first().map(String::as_str) {
            Some("pipelining") => bench_pipelining(&root, &rest[1..]),
            Some("parse") => bench_parse(&rest[1..]),
            Some("browser") => bench_browser(&root, &rest[1..]),
            Some("node") => bench_node(&root, &rest[1..]),
            Some("bridge") => bench_bridge(&root, &rest[1..]),
            Some("search") => bench_search::bench_search(&root, &rest[1..]),
            _ => Err(
                "usage: cargo xtask bench (pipelining|parse|browser|node|bridge|search) [args...]"
                    .to_owned(),
            ),
        },
        Some("help") | Some("-h") | Some("--help") | None => {
            print_help();
            Ok(())
        }
        Some(other) => {
            print_help();
            Err(format!("unknown command {other:?}"))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\nxtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn print_help() {
    println!(
        "cargo xtask <command>\n\n\
         commands:\n  \
           setup              install missing system packages, wasm target, rustfmt/clippy, the mail user\n  \
           test               setup + fmt check + clippy + wasm build + cargo test --workspace\n  \
           run                Dovecot sample server (demo/demo on localhost:1995 TLS, :1110 STLS) + bridge on http://127.0.0.1:8080/\n  \
           bench pipelining   mpop vs. pop3-fetch downloading 1000 messages through a 25 ms delay proxy\n  \
           bench parse        cargo bench -p pop3-proto --bench parse\n  \
           bench bridge ...   bridge-bench: relay throughput (throughput [--mb N] [--runs N] [--client rust|python]) or idle memory (idle [--sessions N]) or 2 bridges behind HAProxy vs one (proxy [--steps N,N,..] [--idle N])\n  \
           bench node         the npm package in Node over a direct socket vs. mpop (25 ms delay each way; --tls adds implicit TLS)\n  \
           bench browser      the wasm client in headless Chromium via the bridge vs. mpop (25 ms delay each way) and vs. Python poplib (loopback)\n  \
           bench search       search over 10 000 kept messages in Chromium and Firefox: keystroke to results (p50/p95), index size, build and load time (--messages N --queries N --browsers ..)\n  \
           build-web          the wasm packages (size profile + wasm-bindgen, no wasm-opt) into web/pkg\n  \
           npm                the npm package pop3-web (web/ + npm/ + declarations), packed into target/npm/\n  \
           dist               the release tarball and .deb (bridge with the UI inside, systemd units) into target/dist/\n  \
           soak [RUNS] [SEED] the sync fault test (cut/reset/stall/reload, invariant checked) for RUNS runs (default 2000)\n  \
           fuzz [SECONDS] [--runs N] [--only T,..] [--no-trace-compares]  every cargo-fuzz target (pop3-proto, pop3-mime, pop3-bridge) for SECONDS each (default 600) or N executions, stable toolchain; fails on a finding"
    );
}

fn workspace_root() -> PathBuf {
    let manifest = env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest.parent().map(Path::to_path_buf).unwrap_or(manifest)
}

fn cargo() -> String {
    env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// The target directory cargo uses (honours `CARGO_TARGET_DIR`).
fn target_dir(root: &Path) -> PathBuf {
    match env::var_os("CARGO_TARGET_DIR") {
        Some(d) => {
            let d = PathBuf::from(d);
            if d.is_absolute() { d } else { root.join(d) }
        }
        None => root.join("target"),
    }
}

fn header(title: &str) {
    println!("\n==== {title} ====");
}

fn show(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Runs a command with inherited output; error if it fails.
fn run_cmd(cmd: &mut Command) -> Result {
    println!("$ {}", show(cmd));
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {}: {e}", show(cmd)))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed with {status}", show(cmd)))
    }
}

/// Runs a command quietly and returns (success, stdout).
fn capture<S: AsRef<OsStr>>(program: &str, args: &[S]) -> (bool, String) {
    match Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
    {
        Ok(o) => (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        ),
        Err(_) => (false, String::new()),
    }
}

fn have(program: &str) -> bool {
    env::var_os("PATH")
        .map(|p| env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

// ---------------------------------------------------------------------------------------------
// setup

fn package_installed(pkg: &str) -> bool {
    let (ok, out) = capture("dpkg-query", &["-W", "-f=${Status}", pkg]);
    ok && out.trim() == "install ok installed"
}

fn setup() -> Result {
    header("setup");
    let t = Instant::now();

    let missing: Vec<&str> = PACKAGES
        .iter()
        .copied()
        .filter(|p| !package_installed(p))
        .collect();
    if missing.is_empty() {
        println!("system packages: all present");
    } else {
        println!("system packages missing: {}", missing.join(" "));
        install_packages(&missing)?;
    }
    stop_system_services();

    if have("rustup") {
        let (_, targets) = capture("rustup", &["target", "list", "--installed"]);
        if targets.lines().any(|l| l.trim() == WASM_TARGET) {
            println!("rust target {WASM_TARGET}: present");
        } else {
            run_cmd(Command::new("rustup").args(["target", "add", WASM_TARGET]))?;
        }
        let (_, comps) = capture("rustup", &["component", "list", "--installed"]);
        let missing: Vec<&str> = ["rustfmt", "clippy"]
            .into_iter()
            .filter(|c| !comps.lines().any(|l| l.starts_with(&format!("{c}-"))))
            .collect();
        if missing.is_empty() {
            println!("rust components rustfmt, clippy: present");
        } else {
            run_cmd(
                Command::new("rustup")
                    .args(["component", "add"])
                    .args(&missing),
            )?;
        }
    } else {
        println!("rustup not found; assuming the toolchain has {WASM_TARGET}, rustfmt and clippy");
    }

    ensure_cargo_tools()?;
    dist::ensure_cargo_deb()?;
    ensure_mail_user()?;
    println!("setup done in {:.1} s", t.elapsed().as_secs_f64());
    Ok(())
}

/// The wasm-bindgen version pinned in Cargo.lock: the CLI must match it exactly.
fn wasm_bindgen_version() -> Result<String> {
    let lock = std::fs::read_to_string(workspace_root().join("Cargo.lock"))
        .map_err(|e| format!("reading Cargo.lock: {e}"))?;
    let mut lines = lock.lines();
    while let Some(l) = lines.next() {
        if l == "name = \"wasm-bindgen\""
            && let Some(v) = lines.next().and_then(|v| v.strip_prefix("version = \""))
        {
            return Ok(v.trim_end_matches('"').to_owned());
        }
    }
    Err("wasm-bindgen not found in Cargo.lock".into())
}

/// wasm-bindgen-cli (same version as the library), geckodriver and cargo-deny, from crates.io.
fn ensure_cargo_tools() -> Result {
    let want = wasm_bindgen_version()?;
    let (_, have_v) = capture("wasm-bindgen", &["--version"]);
    if have_v.split_whitespace().nth(1) == Some(want.as_str()) && have("wasm-bindgen-test-runner") {
        println!("wasm-bindgen-cli {want}: present");
    } else {
        // Not --locked: this registry lacks one of the CLI's pinned dependencies.
        run_cmd(Command::new(cargo()).args([
            "install",
            "wasm-bindgen-cli",
            "--version",
            &want,
            "--force",
        ]))?;
    }
    if have("geckodriver") {
        println!("geckodriver: present");
    } else {
        run_cmd(Command::new(cargo()).args(["install", "geckodriver"]))?;
    }
    // The dependency-graph checks of `test` (deny.toml).
    if have("cargo-deny") {
        println!("cargo-deny: present");
    } else {
        run_cmd(Command::new(cargo()).args(["install", "cargo-deny", "--locked"]))?;
    }
    Ok(())
}

/// The wasm modules of the web UI: the POP3 client (needed to sign in), the reading
/// functions (MIME, sanitizer; loaded when the first message opens) and end-to-end TLS
/// (rustls with ring and the web PKI roots; loaded when a connection needs TLS). Kept apart so
/// that the client stays small.
const WEB_PACKAGES: [(&str, &str); 3] = [
    ("pop3-web", "pop3_web"),
    ("pop3-mime-web", "pop3_mime_web"),
    ("pop3-tls-web", "pop3_tls_web"),
];

/// Builds the browser packages into web/pkg: a wasm32 build with the size profile
/// (`wasm-release`: opt-level z, LTO, one codegen unit, stripped), then wasm-bindgen (`--target
/// web`, with TypeScript declarations).
///
/// No wasm-opt, on purpose and in this one place: Debian 12's binaryen (108) mis-handles the
/// reference-typed tables current rustc and wasm-bindgen emit and produces modules browsers
/// reject, and a current binaryen (132, measured from npm) makes the modules 10 % smaller raw
/// but 4 % *larger* gzipped, which is what users download (the TLS module alone: 271.7 KB
/// gzipped, 280.1 KB after binaryen 132's -Oz). The size profile does the work.
///
/// One exception, ring in the TLS module, at opt-level 2 for its Rust and -Os for its C (the
/// root Cargo.toml's `[profile.wasm-release.package.ring]` says why): the C level is set here
/// because the cc crate takes it from cargo's OPT_LEVEL unless CFLAGS say otherwise.
fn build_web(root: &Path) -> Result {
    header("build-web");
    let cargo = cargo();
    let mut args = vec![
        "build",
        "--profile",
        "wasm-release",
        "--target",
        WASM_TARGET,
    ];
    for (pkg, _) in WEB_PACKAGES {
        args.extend(["-p", pkg]);
    }
    // After whatever the caller set, so that it is the level that counts (the last -O wins).
    let cflags_var = "CFLAGS_wasm32_unknown_unknown";
    let cflags = match std::env::var(cflags_var) {
        Ok(v) if !v.trim().is_empty() => format!("{v} -Os"),
        _ => "-Os".to_owned(),
    };
    run_cmd(Command::new(&cargo).args(&args).env(cflags_var, cflags))?;
    let out = root.join("web").join("pkg");
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    for (_, name) in WEB_PACKAGES {
        let wasm = target_dir(root)
            .join(WASM_TARGET)
            .join("wasm-release")
            .join(format!("{name}.wasm"));
        run_cmd(
            Command::new("wasm-bindgen")
                .arg(&wasm)
                .args(["--target", "web", "--out-dir"])
                .arg(&out),
        )?;
        let bg = out.join(format!("{name}_bg.wasm"));
        println!(
            "web/pkg: {name}_bg.wasm {} bytes, {name}.js {} bytes",
            size(&bg),
            size(&out.join(format!("{name}.js")))
        );
    }
    Ok(())
}

fn install_packages(pkgs: &[&str]) -> Result {
    // Keep package maintainer scripts from starting system services (there is usually no
    // init system here anyway); remove the guard afterwards if we created it.
    let policy = Path::new("/usr/sbin/policy-rc.d");
    let created_policy = if policy.exists() {
        false
    } else {
        std::fs::write(policy, "#!/bin/sh\nexit 101\n").is_ok()
            && Command::new("chmod")
                .args(["755", "/usr/sbin/policy-rc.d"])
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
    };
    let result = run_cmd(Command::new("apt-get").arg("update")).and_then(|()| {
        run_cmd(
            Command::new("apt-get")
                .args(["install", "-y"])
                .args(pkgs)
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )
    });
    if created_policy {
        let _ = std::fs::remove_file(policy);
    }
    result
}

fn pid_alive(pidfile: &str) -> Option<String> {
    let pid = std::fs::read_to_string(pidfile).ok()?;
    let pid = pid.trim().to_owned();
    (!pid.is_empty() && Path::new(&format!("/proc/{pid}")).exists()).then_some(pid)
}

/// Stops and disables system Dovecot/nginx services a package may have started.
fn stop_system_services() {
    let systemd = Path::new("/run/systemd/system").exists() && have("systemctl");
    for svc in SERVICES {
        if systemd {
            let (active, _) = capture("systemctl", &["is-active", "--quiet", svc]);
            let (enabled, _) = capture("systemctl", &["is-enabled", "--quiet", svc]);
            if active || enabled {
                println!("stopping and disabling system service {svc}");
                let _ = capture("systemctl", &["disable", "--now", svc]);
            }
        } else if Path::new(&format!("/etc/init.d/{svc}")).exists() && have("update-rc.d") {
            let _ = capture("update-rc.d", &[*svc, "disable"]);
        }
    }
    // Without systemd: stop daemons found through their pid files.
    if let Some(pid) = pid_alive("/run/dovecot/master.pid") {
        println!("stopping system dovecot (pid {pid})");
        let _ = capture("dovecot", &["-c", "/etc/dovecot/dovecot.conf", "stop"]);
    }
    if let Some(pid) = pid_alive("/run/nginx.pid") {
        println!("stopping system nginx (pid {pid})");
        let _ = capture("nginx", &["-s", "quit"]);
    }
}

fn ensure_mail_user() -> Result {
    let (exists, _) = capture("id", &["-u", MAIL_USER]);
    if exists {
        println!("mail user {MAIL_USER}: present");
        return Ok(());
    }
    let status = Command::new("useradd")
        .args([
            "--system",
            "--user-group",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            MAIL_USER,
        ])
        .status()
        .map_err(|e| format!("cannot run useradd: {e}"))?;
    // 9: already exists.
    if status.success() || status.code() == Some(9) {
        println!("mail user {MAIL_USER}: created");
        Ok(())
    } else {
        Err(format!("useradd {MAIL_USER} failed with {status}"))
    }
}

// ---------------------------------------------------------------------------------------------
// test

/// One step of `test`: its name, the cargo arguments, and extra environment.
type Step<'a> = (&'a str, Vec<&'a str>, Vec<(&'a str, &'a str)>);

fn test() -> Result {
    let total = Instant::now();
    let mut results: Vec<(String, bool, f64)> = Vec::new();

    let t = Instant::now();
    let setup_ok = match setup() {
        Ok(()) => true,
        Err(e) => {
            eprintln!("setup failed: {e}");
            false
        }
    };
    results.push(("setup".into(), setup_ok, t.elapsed().as_secs_f64()));

    // The UI tests load the real package from web/pkg.
    let t = Instant::now();
    let web_ok = match build_web(&workspace_root()) {
        Ok(()) => true,
        Err(e) => {
            eprintln!("build-web failed: {e}");
            false
        }
    };
    results.push(("build-web".into(), web_ok, t.elapsed().as_secs_f64()));

    let cargo = cargo();
    let mut wasm_clippy = vec!["clippy", "--target", WASM_TARGET];
    for krate in WASM_CRATES {
        wasm_clippy.extend(["-p", krate]);
    }
    wasm_clippy.extend(["--", "-D", "warnings"]);
    // The packaging test (bridge/pop3-bridge/tests/packaging_deb.rs) installs the artifacts of
    // the "dist" step; it runs only where this variable tells it where they are.
    let dist_dir = dist::dist_dir(&workspace_root()).display().to_string();
    let steps: Vec<Step> = vec![
        ("fmt", vec!["fmt", "--all", "--", "--check"], vec![]),
        (
            "clippy",
            vec![
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ],
            vec![],
        ),
        // The client crates are shipped as wasm: lints that only fire there (cfg'd code,
        // 32-bit usize) are checked on that target too.
        ("clippy wasm", wasm_clippy, vec![]),
        (
            "doc",
            vec!["doc", "--workspace", "--no-deps"],
            vec![("RUSTDOCFLAGS", "-D warnings")],
        ),
        (
            "deny",
            vec!["deny", "check", "licenses", "bans", "sources"],
            vec![],
        ),
        // The release tarball and .deb (slow: a release build), once, for the packaging test.
        ("dist", vec!["xtask", "dist"], vec![]),
        // Every test binary runs even when one fails, so one report shows every failure.
        (
            "test",
            vec!["test", "--workspace", "--no-fail-fast"],
            // Tests that skip where they cannot run (no dist directory, no network namespace)
            // fail instead: here everything they need is set up, so a skip would be a bug.
            vec![
                (dist::DIST_ENV, dist_dir.as_str()),
                ("POP3_TESTS_SKIP_NOTHING", "1"),
            ],
        ),
    ];
    // The npm package, packed, and the runtimes its tests run in (tests/npm_*.rs, edge_job.rs
    // find them through these variables).
    let t = Instant::now();
    let root = workspace_root();
    let npm_env: Vec<(String, String)> = match js_tools(&root)
        .and_then(|bin| npm::pack(&root, &bin.join("tsc")))
        .and_then(|tgz| Ok((tgz, npm::runtimes(&root)?)))
    {
        Ok((tgz, runtimes)) => vec![
            (npm::PACKAGE_ENV.to_owned(), tgz.display().to_string()),
            (npm::RUNTIMES_ENV.to_owned(), runtimes.display().to_string()),
        ],
        Err(e) => {
            eprintln!("npm package failed: {e}");
            Vec::new()
        }
    };
    results.push(("npm".into(), !npm_env.is_empty(), t.elapsed().as_secs_f64()));
    let msrv_t = Instant::now();
    header("msrv");
    let msrv_ok = match msrv_check() {
        Ok(()) => true,
        Err(e) => {
            eprintln!("{e}");
            false
        }
    };
    results.push(("msrv".into(), msrv_ok, msrv_t.elapsed().as_secs_f64()));
    for (name, args, envs) in steps {
        // The JavaScript type check and lint, before the tests (it needs web/pkg, built above).
        if name == "test" {
            header("js check");
            let t = Instant::now();
            let ok = match js_check(&workspace_root()) {
                Ok(()) => true,
                Err(e) => {
                    eprintln!("{e}");
                    false
                }
            };
            let secs = t.elapsed().as_secs_f64();
            println!(
                "---- js check: {} in {secs:.1} s",
                if ok { "ok" } else { "FAILED" }
            );
            results.push(("js check".into(), ok, secs));
        }
        header(name);
        let t = Instant::now();
        let mut cmd = Command::new(&cargo);
        cmd.args(&args).envs(envs);
        // CI builds once, from scratch, in a fresh clone: incremental caches would never be
        // read again and took as much disk as the test binaries themselves.
        if env::var_os("CI").is_some() && env::var_os("CARGO_INCREMENTAL").is_none() {
            cmd.env("CARGO_INCREMENTAL", "0");
        }
        if name == "test" {
            cmd.envs(npm_env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        }
        let ok = match run_cmd(&mut cmd) {
            Ok(()) => true,
            Err(e) => {
                eprintln!("{e}");
                false
            }
        };
        let secs = t.elapsed().as_secs_f64();
        println!(
            "---- {name}: {} in {secs:.1} s",
            if ok { "ok" } else { "FAILED" }
        );
        results.push((name.to_owned(), ok, secs));
    }

    header("summary");
    for (name, ok, secs) in &results {
        println!(
            "  {:<7} {name:<12} {secs:7.1} s",
            if *ok { "ok" } else { "FAILED" }
        );
    }
    println!(
        "  total                {:7.1} s",
        total.elapsed().as_secs_f64()
    );
    let failed: Vec<&str> = results
        .iter()
        .filter(|r| !r.1)
        .map(|r| r.0.as_str())
        .collect();
    if failed.is_empty() {
        println!("xtask test: every step succeeded");
        Ok(())
    } else {
        Err(format!("failing steps: {}", failed.join(", ")))
    }
}

/// The declared minimum Rust version (`rust-version` in the workspace `Cargo.toml`) must
/// build the workspace. When the toolchain here is that version, every other step already
/// builds with it; otherwise rustup fetches that version and `cargo check` runs with it.
fn msrv_check() -> Result {
    let manifest = std::fs::read_to_string(workspace_root().join("Cargo.toml"))
        .map_err(|e| format!("reading Cargo.toml: {e}"))?;
    let declared = manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("rust-version = \""))
        .map(|v| v.trim_end_matches('"').to_owned())
        .ok_or("no rust-version in the workspace Cargo.toml")?;
    let (ok, out) = capture("rustc", &["--version"]);
    let have = out.split_whitespace().nth(1).unwrap_or("").to_owned();
    if !ok || have.is_empty() {
        return Err("cannot run rustc --version".into());
    }
    // "1.95" declared matches "1.95.0" installed.
    let same = have == declared || have.strip_prefix(&format!("{declared}.")) == Some("0");
    if same {
        println!(
            "rust-version {declared}: the toolchain here is {have}, so every step builds with it"
        );
        return Ok(());
    }
    let toolchain = if declared.matches('.').count() == 1 {
        format!("{declared}.0")
    } else {
        declared.clone()
    };
    println!("rust-version {declared}, toolchain here {have}: checking with {toolchain}");
    run_cmd(Command::new("rustup").args([
        "toolchain",
        "install",
        &toolchain,
        "--profile",
        "minimal",
        "--target",
        WASM_TARGET,
    ]))?;
    // The rustup proxy, not $CARGO (that is the current toolchain's own cargo).
    run_cmd(Command::new("cargo").args([
        &format!("+{toolchain}"),
        "check",
        "--workspace",
        "--all-targets",
    ]))
}

/// The JavaScript of web/: TypeScript's `tsc --noEmit` (strict, every module, typed against
/// the wasm-bindgen declarations in web/pkg and web/types.d.ts) and eslint. The tools are npm
/// packages pinned in xtask/js/package-lock.json, installed with `npm ci` into
/// xtask/js/node_modules (never under web/, which the bridge serves); the install is skipped
/// while the lock file is byte for byte the one of the last install (a copy kept as a stamp).
/// Installs the pinned JavaScript tools (tsc, eslint) into xtask/js/node_modules; their
/// `.bin` folder.
fn js_tools(root: &Path) -> Result<PathBuf> {
    npm_ci(&root.join("xtask").join("js"), &["tsc", "eslint"])
}

/// `npm ci` in `dir` unless its lock file is byte for byte the one of the last install (a copy
/// kept as a stamp) and every binary in `needed` is there; the `node_modules/.bin` folder.
fn npm_ci(dir: &Path, needed: &[&str]) -> Result<PathBuf> {
    let bin = dir.join("node_modules").join(".bin");
    let lock_file = dir.join("package-lock.json");
    let lock =
        std::fs::read(&lock_file).map_err(|e| format!("reading {}: {e}", lock_file.display()))?;
    let stamp = dir.join("node_modules").join(".xtask-package-lock.json");
    if std::fs::read(&stamp).is_ok_and(|s| s == lock)
        && needed.iter().all(|b| bin.join(b).is_file())
    {
        println!("{}: current (package-lock.json unchanged)", bin.display());
        return Ok(bin);
    }
    if !have("npm") {
        return Err("npm not found (Debian: apt-get install nodejs npm)".into());
    }
    run_cmd(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(dir),
    )?;
    std::fs::write(&stamp, &lock).map_err(|e| format!("writing {}: {e}", stamp.display()))?;
    Ok(bin)
}

fn js_check(root: &Path) -> Result {
    let dir = root.join("xtask").join("js");
    let bin = js_tools(root)?;
    // The modules are typed against the generated declarations: `build-web` must have run.
    for (_, name) in WEB_PACKAGES {
        let dts = root.join("web").join("pkg").join(format!("{name}.d.ts"));
        if !dts.is_file() {
            return Err(format!(
                "{} is missing: run `cargo xtask build-web` first",
                dts.display()
            ));
        }
    }
    // Both run, so that one failure does not hide the other's findings.
    let types = run_cmd(
        Command::new(bin.join("tsc"))
            .args(["--noEmit", "-p"])
            .arg(dir.join("tsconfig.json"))
            .current_dir(root),
    );
    // From the repository root: the config's file patterns (web/**) are relative to it. The
    // npm package's entries, the edge example and the runtime tests' jobs too.
    let lint = run_cmd(
        Command::new(bin.join("eslint"))
            .arg("--config")
            .arg(dir.join("eslint.config.js"))
            .args(["--max-warnings", "0", "web", "npm", "examples", "tests/npm"])
            .current_dir(root),
    );
    match (types, lint) {
        (Ok(()), Ok(())) => Ok(()),
        (Err(e), Ok(())) | (Ok(()), Err(e)) => Err(e),
        (Err(t), Err(l)) => Err(format!("{t}; {l}")),
    }
}

// ---------------------------------------------------------------------------------------------
// run

/// Sends SIGTERM, waits up to `grace`, then SIGKILL.
fn terminate(child: &mut Child, name: &str, grace: Duration) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        thread::sleep(Duration::from_millis(50));
    }
    eprintln!("xtask: {name} did not stop in time; killing it");
    let _ = child.kill();
    let _ = child.wait();
}

fn wait_for_port(addr: SocketAddr, child: &mut Child, timeout: Duration) -> Result {
    let deadline = Instant::now() + timeout;
    loop {
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("exited with {status} before listening on {addr}"));
        }
        if Instant::now() > deadline {
            return Err(format!("nothing listening on {addr} after {timeout:?}"));
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// A flag that Ctrl-C (SIGINT; SIGTERM and SIGHUP as well) sets, so that a command can end
/// what it started and report instead of dying with its children. A second signal exits at
/// once (130), for when what is running does not end.
fn stop_on_signal() -> Result<Arc<AtomicBool>> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
    })
    .map_err(|e| format!("cannot install the signal handler: {e}"))?;
    Ok(stop)
}

fn run(root: &Path) -> Result {
    setup()?;
    let stop = stop_on_signal()?;
    let cargo = cargo();
    build_web(root)?;
    header("build");
    run_cmd(Command::new(&cargo).args(["build", "--release", "-p", "pop3-bridge"]))?;
    run_cmd(Command::new(&cargo).args([
        "build",
        "--release",
        "-p",
        "e2e",
        "--bin",
        "sample-server",
    ]))?;
    let bin = target_dir(root).join("release");
    let run_dir = root.join(".run");
    std::fs::create_dir_all(&run_dir).map_err(|e| format!("creating .run: {e}"))?;

    header("start Dovecot sample server");
    let mut server = Command::new(bin.join("sample-server"))
        .arg("--run-dir")
        .arg(&run_dir)
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start sample-server: {e}"))?;
    if let Err(e) = wait_for_port(
        SocketAddr::from(([127, 0, 0, 1], 1995)),
        &mut server,
        Duration::from_secs(30),
    ) {
        terminate(&mut server, "sample-server", Duration::from_secs(5));
        return Err(format!("sample-server: {e}"));
    }

    header("start bridge");
    // Like a deployment: no --dev-pages, so web/dev/ (the mock API, the test pages) answers 404
    // and ?api=mock is ignored. A developer who wants the mock sets POP3_BRIDGE_DEV_PAGES=true
    // (the bridge reads it from the environment it inherits).
    let dev_pages = std::env::var("POP3_BRIDGE_DEV_PAGES")
        .is_ok_and(|v| !matches!(v.trim(), "" | "0" | "n" | "no" | "f" | "false" | "off"));
    let mut bridge_cmd = Command::new(bin.join("pop3-bridge"));
    bridge_cmd
        .args(["--listen", "127.0.0.1:8080", "--web-root", "web"])
        .args(["--allow-host", "127.0.0.1", "--allow-host", "localhost"])
        .args(["--allow-port", "1110", "--allow-port", "1995"])
        .args(["--extra-ca", ".run/ca.pem"])
        .stdin(Stdio::null());
    println!("$ {}", show(&bridge_cmd));
    let mut bridge = match bridge_cmd.spawn() {
        Ok(b) => b,
        Err(e) => {
            terminate(&mut server, "sample-server", Duration::from_secs(5));
            return Err(format!("cannot start pop3-bridge: {e}"));
        }
    };
    if let Err(e) = wait_for_port(
        SocketAddr::from(([127, 0, 0, 1], 8080)),
        &mut bridge,
        Duration::from_secs(15),
    ) {
        terminate(&mut bridge, "pop3-bridge", Duration::from_secs(5));
        terminate(&mut server, "sample-server", Duration::from_secs(5));
        return Err(format!("pop3-bridge: {e}"));
    }

    println!();
    println!("  Open http://127.0.0.1:8080/ (or http://localhost:8080/)");
    println!("  Demo login: server localhost, port 1995, security TLS, user demo, password demo");
    println!("              (or port 1110 with STLS)");
    if dev_pages {
        println!(
            "  Dev pages on (POP3_BRIDGE_DEV_PAGES): the mock UI at http://127.0.0.1:8080/?api=mock"
        );
    } else {
        println!(
            "  For the mock UI (?api=mock) and web/dev/: POP3_BRIDGE_DEV_PAGES=true cargo xtask run"
        );
    }
    println!(
        "  CA certificate of the demo server: {}",
        run_dir.join("ca.pem").display()
    );
    println!("  Stop with Ctrl-C.");

    let mut result = Ok(());
    loop {
        if stop.load(Ordering::SeqCst) {
            println!("\nxtask: stopping");
            break;
        }
        if let Ok(Some(status)) = server.try_wait() {
            result = Err(format!("sample-server exited with {status}"));
            break;
        }
        if let Ok(Some(status)) = bridge.try_wait() {
            result = Err(format!("pop3-bridge exited with {status}"));
            break;
        }
        thread::sleep(Duration::from_millis(200));
    }
    terminate(&mut bridge, "pop3-bridge", Duration::from_secs(5));
    terminate(&mut server, "sample-server", Duration::from_secs(10));
    result
}

// ---------------------------------------------------------------------------------------------
// bench

fn bench_pipelining(root: &Path, extra: &[String]) -> Result {
    setup()?;
    let cargo = cargo();
    header("build");
    run_cmd(Command::new(&cargo).args([
        "build",
        "--release",
        "-p",
        "e2e",
        "--bin",
        "bench-pipelining",
    ]))?;
    let bin = target_dir(root).join("release");
    let fetch = bin.join("pop3-fetch");
    let fetch_built = match run_cmd(Command::new(&cargo).args([
        "build",
        "--release",
        "-p",
        "e2e",
        "--bin",
        "pop3-fetch",
    ])) {
        Ok(()) => true,
        Err(e) => {
            println!(
                "NOTE: the native driver pop3-fetch could not be built ({e}); measuring mpop only"
            );
            false
        }
    };
    header("bench pipelining");
    let mut cmd = Command::new(bin.join("bench-pipelining"));
    if fetch_built {
        cmd.arg("--fetch").arg(&fetch);
    }
    cmd.args(extra);
    run_cmd(&mut cmd)
}

/// The sync fault test of the suite (200 runs there), for as many runs as asked: cuts, resets,
/// stalls and page reloads in the middle of syncs, with the no-mail-lost invariant after each.
fn soak(root: &Path, args: &[String]) -> Result {
    setup()?;
    build_web(root)?;
    let runs = args.first().map(String::as_str).unwrap_or("2000");
    runs.parse::<u64>()
        .map_err(|_| format!("soak: RUNS must be a number, not {runs:?}"))?;
    header(&format!("soak: {runs} sync runs with faults"));
    let mut cmd = Command::new(cargo());
    cmd.args([
        "test",
        "-p",
        "e2e",
        "--test",
        "sync_faults",
        "--",
        "--nocapture",
    ])
    .env("POP3_SYNC_RUNS", runs);
    if let Some(seed) = args.get(1) {
        cmd.env("POP3_SYNC_SEED", seed);
    }
    run_cmd(&mut cmd)
}

/// The browser download benchmark: builds the release bridge, the bench binary and web/pkg,
/// then runs `bench-browser` (Dovecot, bridge, delay proxies, Chromium, mpop, poplib).
fn bench_browser(root: &Path, extra: &[String]) -> Result {
    setup()?;
    let cargo = cargo();
    header("build");
    run_cmd(Command::new(&cargo).args([
        "build",
        "--release",
        "-p",
        "pop3-bridge",
        "--bin",
        "pop3-bridge",
    ]))?;
    run_cmd(Command::new(&cargo).args([
        "build",
        "--release",
        "-p",
        "e2e",
        "--bin",
        "bench-browser",
    ]))?;
    build_web(root)?;
    header("bench browser");
    let bin = target_dir(root).join("release");
    let mut cmd = Command::new(bin.join("bench-browser"));
    cmd.arg("--bridge")
        .arg(bin.join("pop3-bridge"))
        .arg("--web")
        .arg(root.join("web"))
        .args(extra);
    run_cmd(&mut cmd)
}

/// The npm package in Node over a direct socket vs mpop (`bench-node`): packs the package,
/// installs the runtimes, builds the benchmark and runs it with the given arguments.
fn bench_node(root: &Path, extra: &[String]) -> Result {
    setup()?;
    build_web(root)?;
    let tgz = npm::pack(root, &js_tools(root)?.join("tsc"))?;
    let runtimes = npm::runtimes(root)?;
    header("build");
    run_cmd(Command::new(cargo()).args([
        "build",
        "--release",
        "-p",
        "e2e",
        "--bin",
        "bench-node",
    ]))?;
    header("bench node");
    run_cmd(
        Command::new(target_dir(root).join("release").join("bench-node"))
            .args(extra)
            .env(npm::PACKAGE_ENV, &tgz)
            .env(npm::RUNTIMES_ENV, &runtimes),
    )
}

/// The bridge benchmarks (relay throughput against direct, a plain TCP relay and websockify;
/// memory per idle session): the release bridge and `bridge-bench` (in the test crate, not the
/// product), then `bridge-bench` with the given arguments.
fn bench_bridge(root: &Path, extra: &[String]) -> Result {
    setup()?;
    let cargo = cargo();
    header("build");
    run_cmd(Command::new(&cargo).args(["build", "--release", "-p", "pop3-bridge"]))?;
    run_cmd(Command::new(&cargo).args([
        "build",
        "--release",
        "-p",
        "e2e",
        "--bin",
        "bridge-bench",
    ]))?;
    header("bench bridge");
    run_cmd(Command::new(target_dir(root).join("release").join("bridge-bench")).args(extra))
}

fn bench_parse(extra: &[String]) -> Result {
    header("bench parse");
    let mut cmd = Command::new(cargo());
    cmd.args(["bench", "-p", "pop3-proto", "--bench", "parse"]);
    if !extra.is_empty() {
        cmd.arg("--").args(extra);
    }
    run_cmd(&mut cmd)
}

// ---------------------------------------------------------------------------------------------
// fuzz

/// The `cargo fuzz` crates (outside the workspace, each with its own Cargo.lock and target
/// dir), relative to the workspace root.
const FUZZ_CRATES: &[&str] = &[
    "client-wasm/pop3-proto/fuzz",
    "client-wasm/pop3-mime/fuzz",
    "bridge/pop3-bridge/fuzz",
];

/// What one fuzz target did.
struct FuzzRun {
    krate: String,
    target: String,
    secs: f64,
    execs: Option<u64>,
    cov: Option<u64>,
    /// Inputs the fuzzer saved as failing (crash, timeout, out of memory), with their paths.
    findings: Vec<String>,
    /// Why the target did not run to the end without a finding (build failure and the like).
    error: Option<String>,
    /// The fuzzer was stopped early by SIGINT (libFuzzer then prints its statistics and exits
    /// with its own code): its figures are real, and it is neither a finding nor an error.
    interrupted: bool,
}

/// `cargo xtask fuzz [SECONDS]`: every target of every fuzz crate in turn for SECONDS each
/// (default 600), on the stable toolchain (`RUSTC_BOOTSTRAP=1` lets cargo-fuzz pass its
/// unstable flags; `--sanitizer none` needs no nightly-only sanitizer runtime), with the
/// target's dictionary if it has one. New coverage goes to `fuzz/target/xtask-corpus/<target>`
/// (reused by the next run, never committed); the seed corpus `fuzz/corpus/<target>` is only
/// read. A failing input is saved under `fuzz/artifacts/<target>/`; once fixed it belongs in
/// the seed corpus, where `cargo test` replays it.
fn fuzz(root: &Path, args: &[String]) -> Result {
    let number = |what: &str, s: Option<&String>| {
        s.and_then(|s| s.parse::<u64>().ok())
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("fuzz: {what} must be a positive number, not {s:?}"))
    };
    let (mut secs, mut runs_goal, mut only) = (600, None, None::<Vec<String>>);
    let mut trace_compares = true;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--runs" => runs_goal = Some(number("--runs", it.next())?),
            "--no-trace-compares" => trace_compares = false,
            "--only" => {
                only = Some(
                    it.next()
                        .ok_or("fuzz: --only needs a comma-separated list of targets")?
                        .split(',')
                        .map(str::to_owned)
                        .collect(),
                )
            }
            _ => secs = number("SECONDS", Some(a))?,
        }
    }
    header("fuzz: cargo-fuzz");
    if have("cargo-fuzz") {
        println!("cargo-fuzz: present");
    } else {
        run_cmd(Command::new(cargo()).args(["install", "cargo-fuzz"]))?;
    }
    // Ctrl-C in a terminal reaches the fuzzer and this process alike: the fuzzer prints its
    // statistics and stops, and this process, instead of dying with it, runs no further
    // target, prints the summary of what ran and fails (what was asked did not all run).
    let stop = stop_on_signal()?;
    let mut skipped = 0;
    let mut runs = Vec::new();
    for krate in FUZZ_CRATES {
        let dir = root.join(krate);
        let (ok, list) = fuzz_cmd(&dir).arg("list").output().map_or_else(
            |e| (false, e.to_string()),
            |o| {
                (
                    o.status.success(),
                    String::from_utf8_lossy(&o.stdout).into_owned(),
                )
            },
        );
        let targets: Vec<String> = list
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        if !ok || targets.is_empty() {
            return Err(format!("fuzz: cannot list the targets of {krate}: {list}"));
        }
        for target in targets {
            if only.as_ref().is_none_or(|o| o.contains(&target)) {
                if stop.load(Ordering::SeqCst) {
                    skipped += 1;
                    continue;
                }
                let run = fuzz_target(krate, &dir, &target, secs, runs_goal, trace_compares);
                // The handler's thread may hear of a Ctrl-C a moment after the fuzzer has
                // exited from it (seen on a loaded machine: the next target started).
                if run.interrupted {
                    for _ in 0..50 {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
                runs.push(run);
            }
        }
    }

    header(if trace_compares {
        "fuzz summary"
    } else {
        "fuzz summary (without comparison tracing)"
    });
    println!(
        "{:<28} {:<18} {:>6} {:>12} {:>9} {:>6}  findings",
        "crate", "target", "secs", "executions", "exec/s", "cov"
    );
    let num = |n: Option<u64>| n.map_or_else(|| "?".to_owned(), |n| n.to_string());
    for r in &runs {
        let rate = r
            .execs
            .map_or_else(|| "?".to_owned(), |e| format!("{:.0}", e as f64 / r.secs));
        let outcome = match (&r.error, r.findings.len()) {
            (Some(e), 0) => format!("ERROR: {e}"),
            (_, 0) if r.interrupted => "0 (stopped early by SIGINT)".to_owned(),
            (_, 0) => "0".to_owned(),
            (_, n) => format!("{n}: {}", r.findings.join(", ")),
        };
        println!(
            "{:<28} {:<18} {:>6.0} {:>12} {:>9} {:>6}  {outcome}",
            r.krate,
            r.target,
            r.secs,
            num(r.execs),
            rate,
            num(r.cov)
        );
    }
    let found: Vec<&String> = runs.iter().flat_map(|r| &r.findings).collect();
    let failed: Vec<String> = runs
        .iter()
        .filter(|r| r.error.is_some() && r.findings.is_empty())
        .map(|r| format!("{}/{}", r.krate, r.target))
        .collect();
    if !found.is_empty() {
        return Err(format!(
            "{} finding(s), inputs saved at: {}\nReproduce with `cargo fuzz run --sanitizer none \
             TARGET PATH` (RUSTC_BOOTSTRAP=1) in the fuzz crate; once fixed, copy each input into \
             that crate's fuzz/corpus/TARGET/ so `cargo test` replays it",
            found.len(),
            found
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !failed.is_empty() {
        return Err(format!("fuzz: could not run {}", failed.join(", ")));
    }
    if stop.load(Ordering::SeqCst) {
        return Err(format!(
            "fuzz: stopped by a signal (Ctrl-C): {skipped} more target(s) did not run"
        ));
    }
    Ok(())
}

/// `cargo fuzz` in the fuzz crate `dir`, on the stable toolchain, in the crate's own target
/// dir (never the workspace's: other flags would rebuild it).
fn fuzz_cmd(dir: &Path) -> Command {
    let mut cmd = Command::new("cargo");
    if have("rustup") {
        cmd.env("RUSTUP_TOOLCHAIN", "stable");
    }
    cmd.arg("fuzz")
        .current_dir(dir)
        .env("RUSTC_BOOTSTRAP", "1")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO");
    cmd
}

/// Runs one target for `secs` seconds, echoing the fuzzer's output (without its per-input
/// lines) and reading its final statistics and any saved failing input.
fn fuzz_target(
    krate: &str,
    dir: &Path,
    target: &str,
    secs: u64,
    runs_goal: Option<u64>,
    trace_compares: bool,
) -> FuzzRun {
    use std::io::BufRead;
    header(&format!("fuzz {krate} {target} ({secs} s)"));
    let mut run = FuzzRun::new(krate, target);
    let work = dir.join("target").join("xtask-corpus").join(target);
    let seeds = dir.join("corpus").join(target);
    if let Err(e) = std::fs::create_dir_all(&work) {
        run.error = Some(format!("cannot create {}: {e}", work.display()));
        return run;
    }
    let mut cmd = fuzz_cmd(dir);
    // -O: the fuzz crate's own release profile decides debug assertions (on, except for
    // mail-parser; see client-wasm/pop3-mime/fuzz/Cargo.toml), not a global RUSTFLAGS.
    cmd.args(["run", "-O", "--sanitizer", "none"]);
    // Comparison tracing lets libFuzzer solve the operands of comparisons, and costs most of
    // an execution of a target that compares a lot (a parser: 4.3 times the executions of
    // `sanitize_html` without it). Off, coverage still guides the search, with the
    // dictionary and the corpus built with it on; the summary says which it was.
    if !trace_compares {
        cmd.arg("--no-trace-compares");
    }
    cmd.arg(target)
        .arg(&work)
        .arg(&seeds)
        .arg("--")
        .arg(format!("-max_total_time={secs}"))
        .arg("-print_final_stats=1")
        .arg("-timeout=30");
    if let Some(n) = runs_goal {
        // Stops at whichever comes first: the time or the executions.
        cmd.arg(format!("-runs={n}"));
    }
    // The MIME targets' cost grows with input size times nesting depth (up to the 512 cap), and
    // libFuzzer sizes inputs after the largest seed: 4 KiB is deeper than the cap and long
    // enough for every construct the seeds hold, and keeps executions fast enough to count.
    if dir.ends_with("pop3-mime/fuzz") {
        cmd.arg("-max_len=4096");
    }
    // The target's own dictionary, else the crate's only one.
    let own = dir.join(format!("{target}.dict"));
    let dicts: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "dict"))
                .collect()
        })
        .unwrap_or_default();
    let dict = if own.is_file() {
        Some(own)
    } else if dicts.len() == 1 {
        dicts.into_iter().next()
    } else {
        None
    };
    if let Some(d) = &dict {
        cmd.arg(format!("-dict={}", d.display()));
    }
    cmd.stdin(Stdio::null()).stderr(Stdio::piped());
    println!("$ {}", show(&cmd));
    let t = Instant::now();
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            run.error = Some(format!("cannot run cargo fuzz: {e}"));
            return run;
        }
    };
    let mut started = None;
    let mut last = String::new();
    if let Some(err) = child.stderr.take() {
        let mut r = std::io::BufReader::new(err);
        let mut buf = Vec::new();
        while r.read_until(b'\n', &mut buf).unwrap_or(0) > 0 {
            let line = String::from_utf8_lossy(&buf).trim_end().to_owned();
            buf.clear();
            // "#1234\tNEW cov: ..." and the like: one per interesting input; the functions
            // it reached; the dictionary libFuzzer recommends at the end.
            let per_input = (line.starts_with('#') && !line.contains("INITED"))
                || line.trim_start().starts_with("NEW_FUNC")
                || (line.starts_with('"') && line.contains("# Uses:"));
            // "pulse" lines (at doubling execution counts) show that a long run progresses.
            if !per_input || line.contains("DONE") || line.contains("pulse") {
                eprintln!("{line}");
            }
            if started.is_none() && line.starts_with("INFO: Running with entropic") {
                started = Some(Instant::now());
            }
            run.read_line(&line);
            if !line.is_empty() {
                last = line;
            }
        }
    }
    let status = child.wait();
    run.secs = started.unwrap_or(t).elapsed().as_secs_f64();
    run.ended(status, &last);
    run
}

impl FuzzRun {
    /// A run that has not started: no figures yet.
    fn new(krate: &str, target: &str) -> FuzzRun {
        FuzzRun {
            krate: krate.to_owned(),
            target: target.to_owned(),
            secs: 0.0,
            execs: None,
            cov: None,
            findings: Vec::new(),
            error: None,
            interrupted: false,
        }
    }

    /// What one line of libFuzzer's output says: the executions (its final statistics), the
    /// coverage (the last status line), a saved failing input, a stop by SIGINT.
    fn read_line(&mut self, line: &str) {
        if let Some(n) = line.strip_prefix("stat::number_of_executed_units:") {
            self.execs = n.trim().parse().ok();
        }
        if line.starts_with('#')
            && let Some(c) = line.split("cov: ").nth(1)
        {
            self.cov = c.split_whitespace().next().and_then(|c| c.parse().ok());
        }
        if let Some((_, path)) = line.split_once("Test unit written to ") {
            self.findings.push(path.trim().to_owned());
        }
        if line.contains("libFuzzer: run interrupted") {
            self.interrupted = true;
        }
    }

    /// How cargo fuzz ended (`last`: its last line that was not empty). It exits with an
    /// error after a finding (the finding is the result) and after a SIGINT (libFuzzer's own
    /// code, with real statistics); any other failure is an error of the run.
    fn ended(&mut self, status: std::io::Result<std::process::ExitStatus>, last: &str) {
        match status {
            Ok(s) if s.success() => {}
            Ok(_) if self.interrupted && self.findings.is_empty() => {}
            Ok(s) if self.findings.is_empty() => {
                self.error = Some(format!("cargo fuzz exited with {s}: {last}"));
            }
            Ok(_) => {}
            Err(e) => self.error = Some(format!("cargo fuzz: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FuzzRun;
    use std::os::unix::process::ExitStatusExt;
    use std::process::ExitStatus;

    fn run() -> FuzzRun {
        FuzzRun::new("client-wasm/pop3-mime/fuzz", "sanitize_html")
    }

    /// A process's exit status with `code` (what cargo fuzz passes on from libFuzzer).
    fn exited(code: i32) -> std::io::Result<ExitStatus> {
        Ok(ExitStatus::from_raw(code << 8))
    }

    fn read(lines: &str) -> (FuzzRun, String) {
        let mut r = run();
        let mut last = String::new();
        for line in lines.lines() {
            r.read_line(line);
            if !line.is_empty() {
                last = line.to_owned();
            }
        }
        (r, last)
    }

    // What libFuzzer printed in this project's runs (an INITED line, the last status line, a
    // stop by SIGINT and the final statistics; a saved crash).
    const STARTED: &str = "#68496\tINITED cov: 12248 ft: 79809 corp: 11472/13951Kb exec/s: 232 rss: 62Mb\n\
        #262144\tpulse  cov: 12243 ft: 79744 corp: 11755/14686Kb lim: 4096 exec/s: 426 rss: 83Mb\n";
    const STOPPED: &str = "==8314== libFuzzer: run interrupted; exiting\n\
        stat::number_of_executed_units: 289052\n\
        stat::average_exec_per_sec:     417\n\
        stat::new_units_added:          2348\n\n\
        Error: Fuzz target exited with exit status: 72\n";
    const CRASHED: &str = "==77== ERROR: libFuzzer: deadly signal\n\
        artifact_prefix='fuzz/artifacts/sanitize_html/'; Test unit written to fuzz/artifacts/sanitize_html/crash-0a1b\n\
        stat::number_of_executed_units: 6533\n";

    #[test]
    fn a_run_stopped_by_sigint_keeps_its_figures_and_is_not_an_error() {
        let (mut r, last) = read(&format!("{STARTED}{STOPPED}"));
        r.ended(exited(1), &last);
        assert_eq!((r.execs, r.cov), (Some(289_052), Some(12_243)));
        assert!(r.interrupted && r.findings.is_empty());
        assert_eq!(r.error, None);
    }

    #[test]
    fn a_saved_failing_input_is_a_finding_with_its_path() {
        let (mut r, last) = read(&format!("{STARTED}{CRASHED}"));
        r.ended(exited(1), &last);
        assert_eq!(r.findings, ["fuzz/artifacts/sanitize_html/crash-0a1b"]);
        assert_eq!((r.execs, r.error), (Some(6_533), None));
        assert!(!r.interrupted);
    }

    #[test]
    fn a_failure_without_a_finding_or_a_sigint_is_an_error_naming_the_last_line() {
        let (mut r, last) = read("error: could not compile `pop3-mime`\n\n");
        r.ended(exited(101), &last);
        let e = r.error.expect("an error");
        assert!(e.contains("could not compile"), "{e}");
        assert_eq!((r.execs, r.cov), (None, None));
    }

    #[test]
    fn a_run_that_ends_by_itself_counts_its_executions() {
        let (mut r, last) = read(&format!(
            "{STARTED}Done 10000000 runs in 519 second(s)\nstat::number_of_executed_units: 10000000\n"
        ));
        r.ended(exited(0), &last);
        assert_eq!((r.execs, r.error), (Some(10_000_000), None));
        assert!(!r.interrupted && r.findings.is_empty());
    }
}
