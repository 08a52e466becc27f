//! Running `pop3-web`'s wasm-bindgen browser tests (client-wasm/pop3-web/tests/*.rs) from an
//! integration test: `cargo test --target wasm32-unknown-unknown` with wasm-bindgen-test-runner
//! and a WebDriver. The servers the tests talk to are started by the caller and passed as
//! environment variables, which the tests read at compile time (`option_env!`).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The path of `cmd` on `PATH` (or in `~/.cargo/bin`, where `cargo install` puts drivers).
pub fn which(cmd: &str) -> Option<String> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {cmd}"))
        .output()
        .ok()?;
    if out.status.success() {
        return Some(String::from_utf8_lossy(&out.stdout).trim().to_owned());
    }
    let home = std::env::var_os("HOME")?;
    let p = Path::new(&home).join(".cargo/bin").join(cmd);
    p.is_file().then(|| p.display().to_string())
}

/// The browser the runner drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    /// Headless Chromium through chromedriver.
    Chromium,
    /// Headless Firefox through geckodriver.
    Firefox,
}

impl Driver {
    fn env_and_binary(self) -> (&'static str, &'static str) {
        match self {
            Driver::Chromium => ("CHROMEDRIVER", "chromedriver"),
            Driver::Firefox => ("GECKODRIVER", "geckodriver"),
        }
    }
}

/// The repository root (the tests crate's parent).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate has a parent")
        .to_path_buf()
}

/// Runs the test file `test` of `pop3-web` in `driver`'s browser with `env` set; whether all
/// passed (their output goes to this process's output). Blocks: call it from
/// `spawn_blocking` while the servers run on the test's runtime.
pub fn run(test: &str, driver: Driver, env: &[(&str, String)]) -> bool {
    let runner = which("wasm-bindgen-test-runner")
        .expect("wasm-bindgen-test-runner is missing: run `cargo xtask setup`");
    let (var, binary) = driver.env_and_binary();
    let driver_path =
        which(binary).unwrap_or_else(|| panic!("{binary} is missing: run `cargo xtask setup`"));
    let root = root();
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(&root)
        .args([
            "test",
            "-p",
            "pop3-web",
            "--target",
            "wasm32-unknown-unknown",
            "--test",
            test,
        ])
        // Its own target dir: the outer `cargo test` may hold the default one.
        .env("CARGO_TARGET_DIR", root.join("target/wasm-browser-tests"))
        .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER", &runner)
        .env_remove("CHROMEDRIVER")
        .env_remove("GECKODRIVER")
        .env(var, &driver_path)
        .env("WASM_BINDGEN_TEST_TIMEOUT", "180");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.status().expect("cargo runs").success()
}
