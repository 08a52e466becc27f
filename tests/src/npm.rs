//! The npm package's tests (tests/npm_runtimes.rs, tests/edge_job.rs): where `cargo xtask test`
//! put the packed package and the runtimes, a scratch project with the package installed by
//! npm as a user installs it, and workerd run from a config the test writes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The packed package (.tgz) and the runtimes folder (xtask/runtimes), from the environment
/// `cargo xtask test` sets; None, with the reason printed, outside it.
pub fn inputs(test: &str) -> Option<(PathBuf, PathBuf)> {
    let (Some(tgz), Some(rt)) = (
        std::env::var_os("POP3_NPM_PACKAGE"),
        std::env::var_os("POP3_NPM_RUNTIMES"),
    ) else {
        let why = format!(
            "{test}: POP3_NPM_PACKAGE / POP3_NPM_RUNTIMES not set: run `cargo xtask test` (it packs the package and installs the runtimes)"
        );
        // `cargo xtask test` sets both, and this too: there, a test that checks nothing fails.
        assert!(
            std::env::var_os("POP3_TESTS_SKIP_NOTHING").is_none(),
            "{why}, and POP3_TESTS_SKIP_NOTHING forbids skipping"
        );
        eprintln!("{why}; nothing checked");
        return None;
    };
    Some((PathBuf::from(tgz), PathBuf::from(rt)))
}

/// A scratch project outside the repository, with the packed package (and the `ws` package of
/// the pinned runtimes, for Node 20) installed by `npm install`, and `files` copied in.
pub fn scratch_project(tgz: &Path, runtimes: &Path, files: &[&Path]) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("pop3-npm-")
        .tempdir()
        .expect("scratch dir");
    std::fs::write(
        dir.path().join("package.json"),
        r#"{ "name": "scratch", "private": true, "type": "module" }"#,
    )
    .expect("package.json");
    let out = Command::new("npm")
        .args(["install", "--offline", "--no-audit", "--no-fund"])
        .arg(tgz)
        .arg(runtimes.join("node_modules/ws"))
        .current_dir(dir.path())
        .output()
        .expect("npm runs");
    assert!(
        out.status.success(),
        "npm install of the packed package failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in files {
        std::fs::copy(f, dir.path().join(f.file_name().expect("a file"))).expect("copy");
    }
    dir
}

/// workerd `modules = [...]` entries for every module of the installed package, under the
/// package's own relative paths, with its `workerd` entry under the bare name `pop3-web` so
/// that code imports it as a user would (workerd resolves no node_modules).
pub fn package_modules(project: &Path) -> Vec<String> {
    let pkg = project.join("node_modules/pop3-web");
    let mut modules = vec![
        r#"(name = "pop3-web", esModule = embed "node_modules/pop3-web/workerd.js")"#.to_owned(),
    ];
    let mut stack = vec![pkg.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("package dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p
                .strip_prefix(&pkg)
                .expect("inside")
                .to_string_lossy()
                .into_owned();
            let kind = match p.extension().and_then(|x| x.to_str()) {
                Some("js") => "esModule",
                Some("wasm") => "wasm",
                _ => continue,
            };
            modules.push(format!(
                r#"(name = "{rel}", {kind} = embed "node_modules/pop3-web/{rel}")"#
            ));
        }
    }
    modules
}

/// A running workerd, killed when dropped.
pub struct Workerd(Child);

impl Workerd {
    /// `workerd serve CONFIG --experimental` in `dir`, once `port` accepts connections.
    /// `POP3_NPM_DEBUG` in the environment shows its output.
    pub fn serve(runtimes: &Path, dir: &Path, config: &Path, port: u16) -> Workerd {
        let debug = std::env::var_os("POP3_NPM_DEBUG").is_some();
        let out = || {
            if debug {
                Stdio::inherit()
            } else {
                Stdio::null()
            }
        };
        let child = Command::new(runtimes.join("node_modules/.bin/workerd"))
            .arg("serve")
            .arg(config)
            .arg("--experimental")
            .args(if debug { &["--verbose"][..] } else { &[][..] })
            .current_dir(dir)
            .stdout(out())
            .stderr(out())
            .spawn()
            .expect("workerd starts");
        let mut w = Workerd(child);
        for _ in 0..600 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return w;
            }
            if let Ok(Some(status)) = w.0.try_wait() {
                panic!("workerd exited ({status}); POP3_NPM_DEBUG=1 shows why");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("workerd did not listen on {port} within 60 s");
    }
}

impl Drop for Workerd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// POSTs `body` (JSON) to `http://127.0.0.1:port/` and returns the status and the body.
pub async fn post(port: u16, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let req = format!(
        "POST / HTTP/1.1\r\nHost: job\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(req.as_bytes()).await.expect("write");
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw).await.expect("read");
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        crate::browser::dechunk(body)
    } else {
        body.to_owned()
    };
    (status, body)
}

/// A workerd config serving one Worker on 127.0.0.1:`port`: its main module `worker` (a file in
/// `project`, named `worker.js`), the `modules` it imports (files in `project`, by their own
/// names) and every module of the installed package, with an outbound network that may reach
/// loopback (workerd's default allows only public addresses). `network_tls`: the network's
/// `tlsOptions` (e.g. a trusted test CA), if any.
pub fn workerd_config(
    project: &Path,
    port: u16,
    worker: &str,
    modules: &[&str],
    network_tls: Option<&str>,
) -> String {
    let mut all = vec![format!(
        r#"(name = "worker.js", esModule = embed "{worker}")"#
    )];
    all.extend(
        modules
            .iter()
            .map(|m| format!(r#"(name = "{m}", esModule = embed "{m}")"#)),
    );
    all.extend(package_modules(project));
    let tls = network_tls.map_or_else(String::new, |t| format!(", tlsOptions = {t}"));
    format!(
        r#"using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .job),
    (name = "internet", network = (allow = ["public", "local"]{tls})),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:{port}", http = (), service = "main") ],
);
const job :Workerd.Worker = (
  modules = [
    {}
  ],
  compatibilityDate = "2026-11-01",
);
"#,
        all.join(",\n    ")
    )
}

/// A runtime a job script runs in.
#[derive(Debug, Clone, Copy)]
pub enum Runtime {
    /// `node SCRIPT` (the machine's Node).
    Node,
    /// `deno run SCRIPT` from the pinned runtimes, allowed loopback, reading and `POP3_JOB`.
    Deno,
}

impl Runtime {
    fn name(self) -> &'static str {
        match self {
            Runtime::Node => "node",
            Runtime::Deno => "deno",
        }
    }
}

/// Runs `script` in `project` with the job in `POP3_JOB` (and `env`) and returns the last line
/// it printed, as JSON; fails the test, with its output, when it exits unsuccessfully.
pub async fn run_job(
    runtime: Runtime,
    runtimes: &Path,
    project: &Path,
    script: &str,
    job: String,
    env: &[(&str, &Path)],
) -> serde_json::Value {
    let mut cmd = match runtime {
        Runtime::Node => Command::new("node"),
        Runtime::Deno => {
            let mut c = Command::new(runtimes.join("node_modules/.bin/deno"));
            c.args([
                "run",
                "--no-prompt",
                "--allow-net=127.0.0.1,localhost",
                "--allow-read",
                "--allow-env=POP3_JOB",
            ])
            .env("DENO_NO_UPDATE_CHECK", "1")
            .env("DENO_DIR", project.join(".deno"));
            c
        }
    };
    cmd.arg(script)
        .env("POP3_JOB", job)
        .envs(env.iter().map(|(k, v)| (*k, *v)))
        .current_dir(project);
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("the runtime's thread")
        .unwrap_or_else(|e| panic!("{} does not run: {e}", runtime.name()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{} failed: {}\n{stdout}",
        runtime.name(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{} printed no result ({e}): {stdout}", runtime.name()))
}
