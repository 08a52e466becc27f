//! `bench-browser`: the wasm client in headless Chromium downloads a whole Dovecot mailbox
//! through the real bridge, against native references in the same run:
//!
//! 1. **50 ms RTT**: a delay proxy adds `--delay-ms` (25) each way between the browser and the
//!    bridge (it is byte-level TCP, so it carries the page load and the WebSocket alike); mpop
//!    with pipelining fetches the same mailbox through its own delay proxy in front of Dovecot.
//! 2. **Loopback, no added delay**: the browser straight to the bridge, against Python's
//!    `poplib` (USER/PASS, STAT, one RETR after another, QUIT) straight against Dovecot.
//!
//! Runs alternate (browser, reference, browser, ...) and medians are reported with their
//! ratio. The browser's time is taken inside the page with `performance.now()` from `connect()`
//! to the end of `quit()` (connect, login, STAT, pipelined `download()` of every message,
//! QUIT), after the module is loaded; mpop's is the wall time of its process; poplib's is taken
//! inside the script from connect to QUIT. Every client's byte count is checked.
//!
//! Options: `--messages 1000 --size 4096 --delay-ms 25 --runs 3 --bridge PATH --web DIR
//! --mpop PATH --python PATH`. Run by `cargo xtask bench browser` (which builds the release
//! bridge and `web/pkg` first).

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Duration;

use e2e::bench::{median, run_mpop};
use e2e::browser::{Browser, BrowserKind};
use e2e::dovecot::free_port;
use e2e::{DelayProxy, Dovecot, DovecotOptions, Mailbox};
use serde_json::{Value as Json, json};

struct Args {
    messages: usize,
    size: usize,
    delay_ms: u64,
    runs: usize,
    bridge: PathBuf,
    web: PathBuf,
    mpop: PathBuf,
    python: PathBuf,
}

fn parse_args() -> Args {
    let mut a = Args {
        messages: 1000,
        size: 4096,
        delay_ms: 25,
        runs: 3,
        bridge: PathBuf::from("target/release/pop3-bridge"),
        web: PathBuf::from("web"),
        mpop: PathBuf::from("mpop"),
        python: PathBuf::from("python3"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_else(|| {
            eprintln!("{k} needs a value");
            std::process::exit(2)
        });
        match k.as_str() {
            "--messages" => a.messages = v.parse().expect("--messages"),
            "--size" => a.size = v.parse().expect("--size"),
            "--delay-ms" => a.delay_ms = v.parse().expect("--delay-ms"),
            "--runs" => a.runs = v.parse().expect("--runs"),
            "--bridge" => a.bridge = PathBuf::from(v),
            "--web" => a.web = PathBuf::from(v),
            "--mpop" => a.mpop = PathBuf::from(v),
            "--python" => a.python = PathBuf::from(v),
            _ => {
                eprintln!(
                    "usage: bench-browser [--messages N] [--size BYTES] [--delay-ms MS] [--runs N] [--bridge PATH] [--web DIR] [--mpop PATH] [--python PATH]"
                );
                std::process::exit(2)
            }
        }
    }
    a
}

/// Kills the child on drop.
struct ChildGuard(Child);
impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_listening(addr: SocketAddr) -> Result<(), String> {
    for _ in 0..400 {
        if std::net::TcpStream::connect(addr).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    Err(format!("nothing listening on {addr}"))
}

/// The browser's part, run in the page: import the JS API, then time connect → download of
/// every message → quit. Resolves into `window.__bench`.
const PAGE_SCRIPT: &str = r#"
const p = arguments[0];
window.__bench = null;
(async () => {
  try {
    const m = await import('/pop3.js');
    const t0 = performance.now();
    const s = await m.connect({
      bridgeUrl: p.bridgeUrl, host: '127.0.0.1', port: p.port, security: 'plain',
      user: p.user, password: p.password, allowInsecure: true, mechanisms: ['USER'],
    });
    const t1 = performance.now();
    const st = await s.stat();
    const all = Array.from({ length: st.count }, (_, i) => i + 1);
    const r = await s.download(all);
    const t2 = performance.now();
    await s.quit();
    const t3 = performance.now();
    window.__bench = { ok: true, total: (t3 - t0) / 1000, login: (t1 - t0) / 1000,
                       download: (t2 - t1) / 1000, count: r.count, bytes: r.bytes };
  } catch (e) {
    window.__bench = { ok: false, error: String(e && (e.code || e.message) || e) + ' ' + String(e && e.message) };
  }
})();
return true;
"#;

struct BrowserRun {
    total: f64,
    download: f64,
    count: u64,
    bytes: u64,
}

async fn browser_run(b: &Browser, page_origin: &str, params: Json) -> Result<BrowserRun, String> {
    // A small same-origin document to run in; the API is imported from the bridge's web root.
    b.goto(&format!("{page_origin}/healthz"))
        .await
        .map_err(|e| e.to_string())?;
    b.js(PAGE_SCRIPT, vec![params])
        .await
        .map_err(|e| e.to_string())?;
    let v = b
        .wait_js("the download", "window.__bench", Duration::from_secs(600))
        .await
        .map_err(|e| e.to_string())?;
    if v["ok"] != json!(true) {
        return Err(format!("in the page: {}", v["error"]));
    }
    Ok(BrowserRun {
        total: v["total"].as_f64().unwrap_or(f64::NAN),
        download: v["download"].as_f64().unwrap_or(f64::NAN),
        count: v["count"].as_u64().unwrap_or(0),
        bytes: v["bytes"].as_u64().unwrap_or(0),
    })
}

const POPLIB_SCRIPT: &str = r#"
import poplib, sys, time
host, port, user, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
t = time.perf_counter()
c = poplib.POP3(host, port)
c.user(user)
c.pass_(pw)
n, _ = c.stat()
total = 0
for i in range(1, n + 1):
    _, lines, _ = c.retr(i)
    total += sum(len(l) + 2 for l in lines)
c.quit()
print(time.perf_counter() - t, n, total)
"#;

fn run_poplib(a: &Args, port: u16, password: &str) -> Result<(f64, u64, u64), String> {
    let res = Command::new(&a.python)
        .args([
            "-c",
            POPLIB_SCRIPT,
            "127.0.0.1",
            &port.to_string(),
            "bench",
            password,
        ])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running {}: {e}", a.python.display()))?;
    let out = String::from_utf8_lossy(&res.stdout);
    let f: Vec<&str> = out.split_whitespace().collect();
    match (res.status.success(), f.as_slice()) {
        (true, [t, n, b]) => Ok((
            t.parse().map_err(|_| out.to_string())?,
            n.parse().unwrap_or(0),
            b.parse().unwrap_or(0),
        )),
        _ => Err(format!(
            "poplib failed ({}): {out}{}",
            res.status,
            String::from_utf8_lossy(&res.stderr)
        )),
    }
}

fn report(name: &str, ours: &[f64], reference_name: &str, reference: &[f64], goal: f64) {
    let (o, r) = (median(ours), median(reference));
    println!(
        "{name}: browser median {o:.3} s, {reference_name} median {r:.3} s: {:.2} x {reference_name} (goal <= {goal:.2} x; {} and {} complete runs)",
        o / r,
        ours.len(),
        reference.len()
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let a = parse_args();
    let password = "bench-password";
    println!(
        "browser bench: {} messages of ~{} B, {} ms one-way delay, {} runs each",
        a.messages, a.size, a.delay_ms, a.runs
    );
    if !a.web.join("pkg/pop3_web_bg.wasm").exists() {
        eprintln!(
            "bench: {}/pkg is missing: run `cargo xtask build-web`",
            a.web.display()
        );
        return ExitCode::FAILURE;
    }
    let opts = DovecotOptions::new()
        .user(
            "bench",
            password,
            Mailbox::new(a.messages).size(a.size).seed(7),
        )
        .oauth2(false);
    let dovecot = match Dovecot::start_async(opts).await {
        Ok(d) => d,
        Err(e) => {
            eprintln!("bench: Dovecot did not start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let user = dovecot.user("bench");
    let expected_bytes: u64 = (0..a.messages)
        .map(|i| user.mailbox.expected_bytes(i).len() as u64)
        .sum();
    let delay = Duration::from_millis(a.delay_ms);
    // The bridge's port is chosen first so that the proxy in front of it (whose address is
    // the page's origin) can be named in the bridge's Origin allow-list.
    let bridge_addr: SocketAddr = format!("127.0.0.1:{}", free_port().unwrap_or(0))
        .parse()
        .unwrap();
    let web_proxy = DelayProxy::start_local(bridge_addr, delay).expect("delay proxy (browser)");
    let pop_proxy =
        DelayProxy::start_local(dovecot.plain_addr(), delay).expect("delay proxy (mpop)");
    let bridge = Command::new(&a.bridge)
        .args(["--listen", &bridge_addr.to_string()])
        .arg("--web-root")
        .arg(&a.web)
        .args(["--allow-host", "127.0.0.1", "--allow-plaintext"])
        .args(["--allow-port", &dovecot.plain_port().to_string()])
        .args(["--origin", &format!("http://{}", web_proxy.local_addr())])
        .args(["--log", "warn"])
        .stdout(Stdio::null())
        .spawn()
        .map(ChildGuard);
    let _bridge = match bridge {
        Ok(b) => b,
        Err(e) => {
            eprintln!("bench: bridge {} did not start: {e}", a.bridge.display());
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = wait_listening(bridge_addr) {
        eprintln!("bench: {e}");
        return ExitCode::FAILURE;
    }
    println!(
        "Dovecot {} ({:.1} MB), bridge {bridge_addr}, browser-side delay proxy {}, mpop-side delay proxy {}",
        dovecot.plain_addr(),
        user.mailbox.total_octets() as f64 / 1e6,
        web_proxy.local_addr(),
        pop_proxy.local_addr()
    );
    let b = match Browser::start(BrowserKind::Chromium).await {
        Ok(b) => b,
        Err(e) => {
            eprintln!("bench: Chromium did not start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let work = tempfile::Builder::new()
        .prefix("bench-browser-")
        .tempdir_in(if Path::new("/dev/shm").is_dir() {
            "/dev/shm"
        } else {
            "/tmp"
        })
        .expect("temp dir");
    let params = |origin: &str| {
        json!({
            "bridgeUrl": format!("{}/pop3", origin.replacen("http", "ws", 1)),
            "port": dovecot.plain_port(),
            "user": "bench",
            "password": password,
        })
    };
    let delayed_origin = format!("http://{}", web_proxy.local_addr());
    let direct_origin = format!("http://{bridge_addr}");

    let mut failed = false;
    let check = |what: &str, count: u64, bytes: u64| -> bool {
        let ok = count == a.messages as u64 && bytes == expected_bytes;
        if !ok {
            println!(
                "  {what}: got {count} messages / {bytes} bytes, expected {} / {expected_bytes}  <-- MISMATCH",
                a.messages
            );
        }
        ok
    };
    // Warm-up (not counted): the page, module and wasm are compiled and cached once.
    if let Err(e) = browser_run(&b, &direct_origin, params(&direct_origin)).await {
        eprintln!("bench: warm-up failed: {e}");
        let _ = b.close().await;
        return ExitCode::FAILURE;
    }

    println!(
        "--- {} ms RTT: browser via bridge vs mpop (pipelining on)",
        2 * a.delay_ms
    );
    let (mut br, mut br_dl, mut mp) = (vec![], vec![], vec![]);
    for run in 1..=a.runs {
        match browser_run(&b, &delayed_origin, params(&delayed_origin)).await {
            Ok(r) => {
                failed |= !check("browser", r.count, r.bytes);
                println!(
                    "run {run}: browser {:7.3} s (download {:.3} s, {} msgs, {} B)",
                    r.total, r.download, r.count, r.bytes
                );
                br.push(r.total);
                br_dl.push(r.download);
            }
            Err(e) => {
                println!("run {run}: browser FAILED: {e}");
                failed = true;
            }
        }
        match run_mpop(
            &a.mpop,
            pop_proxy.local_addr().port(),
            password,
            work.path(),
            run,
        )
        .map(|(secs, out)| {
            let files = fs::read_dir(out.join("new"))
                .map(|d| d.count())
                .unwrap_or(0);
            let _ = fs::remove_dir_all(&out);
            (secs, files)
        }) {
            Ok((secs, files)) => {
                failed |= !check("mpop", files as u64, expected_bytes);
                println!("run {run}: mpop    {secs:7.3} s ({files} files)");
                mp.push(secs);
            }
            Err(e) => {
                println!("run {run}: mpop FAILED: {e}");
                failed = true;
            }
        }
    }

    println!("--- loopback, no added delay: browser via bridge vs Python poplib direct");
    let (mut br0, mut py) = (vec![], vec![]);
    for run in 1..=a.runs {
        match browser_run(&b, &direct_origin, params(&direct_origin)).await {
            Ok(r) => {
                failed |= !check("browser", r.count, r.bytes);
                println!(
                    "run {run}: browser {:7.3} s (download {:.3} s)",
                    r.total, r.download
                );
                br0.push(r.total);
            }
            Err(e) => {
                println!("run {run}: browser FAILED: {e}");
                failed = true;
            }
        }
        match run_poplib(&a, dovecot.plain_port(), password) {
            Ok((secs, n, bytes)) => {
                failed |= !check("poplib", n, bytes);
                println!("run {run}: poplib  {secs:7.3} s");
                py.push(secs);
            }
            Err(e) => {
                println!("run {run}: poplib FAILED: {e}");
                failed = true;
            }
        }
    }
    let _ = b.close().await;
    println!("---");
    report(
        &format!("{} ms RTT", 2 * a.delay_ms),
        &br,
        "mpop",
        &mp,
        0.75,
    );
    println!(
        "  (browser download() alone: median {:.3} s)",
        median(&br_dl)
    );
    report("loopback", &br0, "poplib", &py, 1.0);
    println!(
        "browser-side proxy: {} connections; mpop-side proxy: {} connections",
        web_proxy.connections(),
        pop_proxy.connections()
    );
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
