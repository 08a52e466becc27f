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
//! With `--mode keep` (or `all`: both) it measures keeping the mail on the device instead
//! (issue #15): from a click on Connect in the real `<pop3-inbox>` (served by the bridge, an
//! empty store, leave on server) until the UI says every message is kept on this device,
//! against mpop delivering the same mailbox to a Maildir with its default fsync, over the
//! delay proxies and on loopback. mpop's Maildir is under the temporary directory, like the
//! browser's profile, so both write to the same filesystem (`TMPDIR=/dev/shm` puts both in
//! memory). Each UI run is checked against the store afterwards (count and bytes).
//!
//! Options: `--messages 1000 --size 4096 --delay-ms 25 --runs 3 --bridge PATH --web DIR
//! --mpop PATH --python PATH --mode download|keep|all`. Run by `cargo xtask bench browser` (which builds the release
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
    mode: Mode,
}

/// What to measure: the download through the JS API (`download`, the default), keeping every
/// message on the device through the real inbox UI (`keep`), or both (`all`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Download,
    Keep,
    All,
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
        mode: Mode::Download,
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
            "--mode" => {
                a.mode = match v.as_str() {
                    "download" => Mode::Download,
                    "keep" => Mode::Keep,
                    "all" => Mode::All,
                    _ => {
                        eprintln!("--mode is download, keep or all");
                        std::process::exit(2)
                    }
                }
            }
            _ => {
                eprintln!(
                    "usage: bench-browser [--messages N] [--size BYTES] [--delay-ms MS] [--runs N] [--bridge PATH] [--web DIR] [--mpop PATH] [--python PATH] [--mode download|keep|all]"
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

/// The keep benchmark's part in the inbox page: fill the sign-in form (plain POP3 with the
/// consent box, as for a test server on this computer), then click Connect and time, with
/// `performance.now()` in the page, until the sync line says how many messages are kept on
/// this device (the words the UI shows when the background sync has committed them all).
/// Resolves into `window.__keep`.
const KEEP_SCRIPT: &str = r#"
const p = arguments[0];
window.__keep = null;
const r = document.querySelector('pop3-inbox').shadowRoot;
const set = (sel, v) => { const el = r.querySelector(sel); el.value = v; el.dispatchEvent(new Event('input')); el.dispatchEvent(new Event('change')); };
set('input[name=server]', '127.0.0.1');
set('select[name=security]', 'plain');
set('input[name=port]', String(p.port));
r.querySelector('input[name=acceptInsecure]').checked = true;
r.querySelector('input[name=remember]').checked = false;
set('input[name=user]', p.user);
set('input[name=password]', p.password);
const line = r.querySelector('.syncline');
const kept = () => {
  const m = /([\d.,\s\u00a0\u202f]+) messages? (?:are|is) kept on this device/.exec(line.textContent || '');
  return m ? Number(m[1].replace(/\D/g, '')) : null;
};
let t0 = 0;
let headersShown = null;
let bodiesFrom = null;
const obs = new MutationObserver(() => {
  if (headersShown === null && r.querySelectorAll('.row').length > 0 && !r.querySelector('.inbox').hidden) headersShown = performance.now();
  if (bodiesFrom === null && /: [\d.,\s\u00a0\u202f]+ of /.test(line.textContent || '')) bodiesFrom = performance.now();
  const n = kept();
  if (n !== null) {
    obs.disconnect();
    window.__keep = { ok: true, secs: (performance.now() - t0) / 1000, listSecs: headersShown === null ? null : (headersShown - t0) / 1000, bodiesSecs: bodiesFrom === null ? null : (bodiesFrom - t0) / 1000, kept: n, line: line.textContent };
  }
  const err = r.querySelector('.error');
  if (err && err.textContent) { obs.disconnect(); window.__keep = { ok: false, error: err.textContent }; }
});
obs.observe(r, { subtree: true, childList: true, characterData: true, attributes: true });
t0 = performance.now();
r.querySelector('button.connect').click();
return true;
"#;

/// What the store holds for the account after a keep run: full records and their bytes.
const KEPT_SCRIPT: &str = r#"
const acct = arguments[0];
return new Promise((resolve) => {
  const req = indexedDB.open('pop3-mail');
  req.onerror = () => resolve({ error: String(req.error) });
  req.onsuccess = () => {
    const db = req.result;
    const g = db.transaction('messages').objectStore('messages').getAll(IDBKeyRange.bound([acct, ''], [acct, []]));
    g.onsuccess = () => {
      const full = g.result.filter((m) => m.full);
      db.close();
      resolve({ full: full.length, bytes: full.reduce((s, m) => s + m.bytes.length, 0) });
    };
    g.onerror = () => { db.close(); resolve({ error: String(g.error) }); };
  };
});
"#;

struct KeepRun {
    secs: f64,
    list_secs: Option<f64>,
    bodies_secs: Option<f64>,
    kept: u64,
    stored: u64,
    stored_bytes: u64,
}

/// One keep run in the real `<pop3-inbox>` served from `origin`: an empty store and a fresh
/// page, Connect, and the time until the UI says every message is kept; then the store is
/// read back (count and bytes of the full records) and the session ended with Logout (QUIT,
/// leave on server: nothing is deleted).
async fn keep_run(b: &Browser, origin: &str, port: u16, password: &str) -> Result<KeepRun, String> {
    let e = |e: e2e::browser::BrowserError| e.to_string();
    b.goto(&format!("{origin}/healthz")).await.map_err(e)?;
    b.js(
        "localStorage.clear(); sessionStorage.clear();
         return new Promise((resolve) => { const d = indexedDB.deleteDatabase('pop3-mail');
           d.onsuccess = () => resolve(true); d.onerror = () => resolve(String(d.error)); d.onblocked = () => resolve('blocked'); });",
        vec![],
    )
    .await
    .map_err(e)?;
    b.goto(&format!("{origin}/index.html")).await.map_err(e)?;
    b.wait_js(
        "the sign-in form",
        "(() => { const r = customElements.get('pop3-inbox') && document.querySelector('pop3-inbox').shadowRoot; return !!r && !r.querySelector('.login').hidden; })()",
        Duration::from_secs(60),
    )
    .await
    .map_err(e)?;
    b.js(
        KEEP_SCRIPT,
        vec![json!({ "port": port, "user": "bench", "password": password })],
    )
    .await
    .map_err(e)?;
    let v = b
        .wait_js(
            "every message kept",
            "window.__keep",
            Duration::from_secs(600),
        )
        .await
        .map_err(e)?;
    if v["ok"] != json!(true) {
        return Err(format!("in the page: {}", v["error"]));
    }
    let acct = format!("bench@127.0.0.1:{port}");
    let s = b.js(KEPT_SCRIPT, vec![json!(acct)]).await.map_err(e)?;
    if !s["error"].is_null() {
        return Err(format!("reading the store: {s}"));
    }
    // Logout: QUIT (leave on server), so the next session finds the mailbox unlocked.
    b.js(
        "const r = document.querySelector('pop3-inbox').shadowRoot; r.querySelector('button.logout').click(); return true;",
        vec![],
    )
    .await
    .map_err(e)?;
    b.wait_js(
        "the logout",
        "(() => { const r = document.querySelector('pop3-inbox').shadowRoot; return !r.querySelector('.login').hidden; })()",
        Duration::from_secs(60),
    )
    .await
    .map_err(e)?;
    Ok(KeepRun {
        secs: v["secs"].as_f64().unwrap_or(f64::NAN),
        list_secs: v["listSecs"].as_f64(),
        bodies_secs: v["bodiesSecs"].as_f64(),
        kept: v["kept"].as_u64().unwrap_or(0),
        stored: s["full"].as_u64().unwrap_or(0),
        stored_bytes: s["bytes"].as_u64().unwrap_or(0),
    })
}

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
    if a.mode != Mode::Keep {
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
    }
    if a.mode != Mode::Download {
        failed |= !keep_bench(
            &a,
            &b,
            [
                (&delayed_origin, pop_proxy.local_addr().port()),
                (&direct_origin, dovecot.plain_port()),
            ],
            dovecot.plain_port(),
            password,
            expected_bytes,
        )
        .await;
    }
    let _ = b.close().await;
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

fn secs(s: Option<f64>) -> String {
    s.map_or_else(|| "?".to_owned(), |s| format!("{s:.3} s"))
}

/// The keep benchmark: from Connect in the real `<pop3-inbox>` until the UI says every message
/// is kept on this device, against mpop delivering the same mailbox to a Maildir with its
/// default fsync, first with the delay on both sides (`links[0]`: the page's origin through the
/// browser-side proxy, mpop's port through the mpop-side proxy), then on loopback (`links[1]`).
/// mpop's Maildir is on the filesystem of the browser's profile (both under the temporary
/// directory, `TMPDIR`), so both clients make their writes durable on the same disk. Runs
/// alternate; each UI run starts from an empty store and a fresh page, and is checked against
/// the store afterwards (every message kept, as many bytes as the server has). Returns whether
/// every run succeeded and matched.
async fn keep_bench(
    a: &Args,
    b: &Browser,
    links: [(&str, u16); 2],
    ui_port: u16,
    password: &str,
    expected_bytes: u64,
) -> bool {
    let disk = std::env::temp_dir();
    let work = match tempfile::Builder::new()
        .prefix("bench-keep-mpop-")
        .tempdir_in(&disk)
    {
        Ok(w) => w,
        Err(e) => {
            println!("keep: temp dir in {}: {e}", disk.display());
            return false;
        }
    };
    println!(
        "--- keep: Connect in <pop3-inbox> until all {} messages are kept (IndexedDB, strict) vs mpop into a Maildir (default fsync) in {}",
        a.messages,
        disk.display()
    );
    // Warm-up (not counted): page, modules and wasm compiled and cached once.
    if let Err(e) = keep_run(b, links[1].0, ui_port, password).await {
        println!("keep warm-up FAILED: {e}");
        return false;
    }
    let mut ok = true;
    let mut results = Vec::new();
    for (i, (origin, mpop_port)) in links.iter().enumerate() {
        let name = if i == 0 {
            format!("{} ms RTT", 2 * a.delay_ms)
        } else {
            "loopback".to_owned()
        };
        println!("--- keep, {name}");
        let (mut ui, mut mp, mut list) = (vec![], vec![], vec![]);
        for run in 1..=a.runs {
            match keep_run(b, origin, ui_port, password).await {
                Ok(r) => {
                    let good = r.kept == a.messages as u64
                        && r.stored == a.messages as u64
                        && r.stored_bytes == expected_bytes;
                    println!(
                        "run {run}: ui      {:7.3} s (list shown {}, bodies from {}, UI says {} kept, store holds {} / {} B){}",
                        r.secs,
                        secs(r.list_secs),
                        secs(r.bodies_secs),
                        r.kept,
                        r.stored,
                        r.stored_bytes,
                        if good { "" } else { "  <-- MISMATCH" }
                    );
                    ok &= good;
                    ui.push(r.secs);
                    if let Some(s) = r.list_secs {
                        list.push(s);
                    }
                }
                Err(e) => {
                    println!("run {run}: ui FAILED: {e}");
                    ok = false;
                }
            }
            match run_mpop(&a.mpop, *mpop_port, password, work.path(), run) {
                Ok((secs, out)) => {
                    let files = fs::read_dir(out.join("new")).map_or(0, |d| d.count());
                    let _ = fs::remove_dir_all(&out);
                    let good = files == a.messages;
                    println!(
                        "run {run}: mpop    {secs:7.3} s ({files} files){}",
                        if good { "" } else { "  <-- MISMATCH" }
                    );
                    ok &= good;
                    mp.push(secs);
                }
                Err(e) => {
                    println!("run {run}: mpop FAILED: {e}");
                    ok = false;
                }
            }
        }
        results.push((name, ui, mp, list));
    }
    println!("---");
    for (i, (name, ui, mp, list)) in results.iter().enumerate() {
        let goal = if i == 0 { 1.0 } else { 2.0 };
        let (u, m) = (median(ui), median(mp));
        println!(
            "keep, {name}: UI median {u:.3} s, mpop median {m:.3} s: {:.2} x mpop (goal <= {goal:.1} x; {} and {} complete runs; list shown after {:.3} s)",
            u / m,
            ui.len(),
            mp.len(),
            median(list)
        );
    }
    ok
}
