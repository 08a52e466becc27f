//! `bench-browser`: the wasm client in headless Chromium (or Firefox: `--browser firefox`) downloads a whole Dovecot mailbox
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
//! memory). Each UI run is checked against the store afterwards (count and bytes), and says
//! how responsive the page stayed meanwhile: its long tasks (Chromium reports them) and the
//! longest gap between two animation frames.
//!
//! With `--tls` the download runs over TLS to Dovecot's implicit-TLS port (issue #16):
//! `bridge` (the bridge terminates TLS, trusting Dovecot's CA through `--extra-ca`; the page
//! asks `endToEnd: false`), `end-to-end` (the bridge relays raw bytes and TLS ends in the page,
//! `endToEnd: true` with Dovecot's CA in `tlsTrust`; the TLS module is loaded through
//! web/pop3.js inside the timed `connect()`), `end-to-end-preloaded` (the same with the TLS
//! module loaded before the clock starts), `end-to-end-in-thread` (`end-to-end` in a page
//! without `Worker`, so the TLS engine shares the page's thread: the reference for the worker
//! that web/pop3.js starts in browsers), `plain` (the default: Dovecot's plain port, as
//! before), `all` (plain, bridge, end-to-end) or a comma-separated list. The variants alternate within each
//! run; over TLS mpop uses `tls on` with `tls_trust_file` set to Dovecot's CA, and poplib
//! `POP3_SSL` with that CA. Every browser run is checked to have ended TLS where it asked.
//!
//! With `--mode big` a second account holds one message of `--big-size` bytes (60 MB), and
//! each selected `--tls` variant downloads it with one `retr()` on loopback (no added delay),
//! alternating; the time is taken in the page from the `retr()` call to its result (after
//! login), and MB/s is 10^6 bytes per second. The bytes are checked (length and a checksum).
//!
//! With `--mode keep-big` the real `<pop3-inbox>` keeps the one message of `--big-size` bytes
//! of that account on loopback: the time from Connect until the UI says it is kept, and the
//! peak resident memory (VmHWM) of the browser's renderer process over that time (Chromium;
//! each run's own: the peaks are reset before its Connect), with the largest of the browser's
//! other processes beside it (Chromium keeps Blobs and IndexedDB there), each run checked
//! against the store. In the last run the message is then opened in the reader: the time
//! until it shows, and the renderer's peak over that time; then exported ("This device…" →
//! Export (mbox)): the time until the dialog says so, and the renderer's peak over that time.
//!
//! With `--mode many` a third account holds `--many` (10,000) messages of `--size` bytes, and
//! the real `<pop3-inbox>` keeps them all over the browser-side delay proxy (`--delay-ms` each
//! way), from an empty store: the times from the click on Connect until the list's first
//! screen shows every row's headers (goal under 1 s) and until the UI says every message is
//! kept, medians of `--runs`, each run checked against the store (count and bytes).
//!
//! Options: `--messages 1000 --size 4096 --delay-ms 25 --runs 3 --bridge PATH --web DIR
//! --mpop PATH --python PATH --mode download|keep|big|keep-big|many|all (or a comma-separated
//! list; all is download,keep) --many 10000 --browser chromium|firefox --tls plain|bridge|end-to-end|end-to-end-preloaded|end-to-end-in-thread|all (or a list) --big-size BYTES`. Run by
//! `cargo xtask bench browser` (which builds the release bridge and `web/pkg` first).
//!
//! `POP3_BENCH_CPU_PROFILE=FILE` (Chromium): the page's main thread is sampled, and saved as
//! a DevTools `.cpuprofile` (open it in the Performance panel). With `--mode keep`, from
//! Connect until all are kept, the last run's, in FILE; with `--mode big`, the last run of
//! each variant, in FILE.VARIANT (FILE.end-to-end, …). Workers are not in it.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Duration;

use e2e::bench::{median, run_mpop, run_mpop_tls};
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
    tls: Vec<Tls>,
    big_size: usize,
    /// The mailbox of `--mode many`.
    many: usize,
    /// The browser every mode runs in.
    browser: BrowserKind,
}

/// What to measure: the download through the JS API (`download`, the default), keeping every
/// message on the device through the real inbox UI (`keep`), one big message's `retr()`
/// (`big`), the first screen and keeping of a mailbox of `--many` messages (`many`); `all` is
/// download and keep.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Mode {
    download: bool,
    keep: bool,
    big: bool,
    many: bool,
    keep_big: bool,
}

/// Where the browser's connection to Dovecot is encrypted.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tls {
    /// Dovecot's plain port, no TLS (`--allow-plaintext`).
    Plain,
    /// Dovecot's TLS port, TLS ending at the bridge (`endToEnd: false`, bridge `--extra-ca`).
    Bridge,
    /// Dovecot's TLS port, TLS ending in the page (`endToEnd: true`, the CA in `tlsTrust`).
    EndToEnd,
    /// [`Tls::EndToEnd`] with the TLS module loaded before the clock starts (as by a page that
    /// fetches it while the user types): `connect()` without the module's download.
    EndToEndPreloaded,
    /// [`Tls::EndToEnd`] in a page without `Worker`: the engine on the page's own thread, as
    /// in a runtime without workers or where a worker cannot start (the worker's reference).
    EndToEndInThread,
}

impl Tls {
    fn name(self) -> &'static str {
        match self {
            Tls::Plain => "plain",
            Tls::Bridge => "bridge-tls",
            Tls::EndToEnd => "end-to-end",
            Tls::EndToEndPreloaded => "e2e-preloaded",
            Tls::EndToEndInThread => "e2e-in-thread",
        }
    }

    /// Where TLS in the page must run (`session.tls.engine`): the worker web/pop3.js starts in
    /// a browser, or the page's own thread without `Worker`; empty when the page has no TLS.
    fn engine(self) -> &'static str {
        match self {
            Tls::EndToEnd | Tls::EndToEndPreloaded => "worker",
            Tls::EndToEndInThread => "in-thread",
            Tls::Plain | Tls::Bridge => "",
        }
    }

    /// Whether TLS ends in the page.
    fn in_page(self) -> bool {
        matches!(
            self,
            Tls::EndToEnd | Tls::EndToEndPreloaded | Tls::EndToEndInThread
        )
    }
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
        mode: Mode {
            download: true,
            keep: false,
            big: false,
            many: false,
            keep_big: false,
        },
        tls: vec![Tls::Plain],
        big_size: 60_000_000,
        many: 10_000,
        browser: BrowserKind::Chromium,
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
            "--big-size" => a.big_size = v.parse().expect("--big-size"),
            "--many" => a.many = v.parse().expect("--many"),
            "--browser" => {
                a.browser = match v.as_str() {
                    "chromium" => BrowserKind::Chromium,
                    "firefox" => BrowserKind::Firefox,
                    _ => {
                        eprintln!("--browser is chromium or firefox");
                        std::process::exit(2)
                    }
                }
            }
            "--mode" => {
                a.mode = Mode {
                    download: false,
                    keep: false,
                    big: false,
                    many: false,
                    keep_big: false,
                };
                for m in v.split(',') {
                    match m {
                        "download" => a.mode.download = true,
                        "keep" => a.mode.keep = true,
                        "big" => a.mode.big = true,
                        "many" => a.mode.many = true,
                        "keep-big" => a.mode.keep_big = true,
                        "all" => (a.mode.download, a.mode.keep) = (true, true),
                        _ => {
                            eprintln!(
                                "--mode is download, keep, big, keep-big, many or all (or a list)"
                            );
                            std::process::exit(2)
                        }
                    }
                }
            }
            "--tls" => {
                a.tls.clear();
                for t in v.split(',') {
                    let add: &[Tls] = match t {
                        "plain" => &[Tls::Plain],
                        "bridge" => &[Tls::Bridge],
                        "end-to-end" => &[Tls::EndToEnd],
                        "end-to-end-preloaded" => &[Tls::EndToEndPreloaded],
                        "end-to-end-in-thread" => &[Tls::EndToEndInThread],
                        "all" => &[Tls::EndToEnd, Tls::Bridge, Tls::Plain],
                        _ => {
                            eprintln!(
                                "--tls is plain, bridge, end-to-end, end-to-end-preloaded, end-to-end-in-thread or all (or a list)"
                            );
                            std::process::exit(2)
                        }
                    };
                    for &t in add {
                        if !a.tls.contains(&t) {
                            a.tls.push(t);
                        }
                    }
                }
            }
            _ => {
                eprintln!(
                    "usage: bench-browser [--messages N] [--size BYTES] [--delay-ms MS] [--runs N] [--bridge PATH] [--web DIR] [--mpop PATH] [--python PATH] [--mode download|keep|big|keep-big|many|all] [--tls plain|bridge|end-to-end|end-to-end-preloaded|end-to-end-in-thread|all] [--big-size BYTES] [--many N] [--browser chromium|firefox]"
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
    // Before web/pop3.js looks for it: the TLS engine then runs on this thread.
    if (p.noWorker) globalThis.Worker = undefined;
    const m = await import('/pop3.js');
    const o = { bridgeUrl: p.bridgeUrl, host: '127.0.0.1', port: p.port, security: p.security,
                user: p.user, password: p.password, mechanisms: ['USER'] };
    if (p.security === 'plain') o.allowInsecure = true;
    else { o.endToEnd = p.endToEnd; o.tlsTrust = { cas: p.cas }; }
    if (p.preload) await globalThis[Symbol.for('pop3-web.tls')]();
    const t0 = performance.now();
    const s = await m.connect(o);
    const t1 = performance.now();
    const e2e = s.endToEnd;
    const cipher = s.tls ? String(s.tls.cipher || '') : '';
    const engine = s.tls ? String(s.tls.engine || '') : '';
    // The TLS module's fetches inside connect() (resource timing): how long, how many bytes.
    const tr = performance.getEntriesByType('resource').filter((e) => /pop3_tls_web/.test(e.name) && e.startTime >= t0);
    const tlsFetch = tr.length === 0 ? null : {
      secs: (Math.max(...tr.map((e) => e.responseEnd)) - Math.min(...tr.map((e) => e.startTime))) / 1000,
      bytes: tr.reduce((n, e) => n + e.transferSize, 0), files: tr.length };
    const st = await s.stat();
    let r;
    if (p.big) {
      const ta = performance.now();
      const raw = await s.retr(1);
      const t2 = performance.now();
      let sum = 0;
      for (let i = 0; i < raw.length; i++) sum = (sum + raw[i]) % 4294967296;
      await s.quit();
      window.__bench = { ok: true, retr: (t2 - ta) / 1000, count: st.count, bytes: raw.length,
                         sum, endToEnd: e2e, cipher, engine };
      return;
    }
    const all = Array.from({ length: st.count }, (_, i) => i + 1);
    r = await s.download(all);
    const t2 = performance.now();
    await s.quit();
    const t3 = performance.now();
    window.__bench = { ok: true, total: (t3 - t0) / 1000, login: (t1 - t0) / 1000,
                       download: (t2 - t1) / 1000, toDownloaded: (t2 - t0) / 1000,
                       count: r.count, bytes: r.bytes, endToEnd: e2e, cipher, engine, tlsFetch };
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
let screenShown = null;
let syncFrom = null;
let bodiesFrom = null;
const obs = new MutationObserver(() => {
  const rows = r.querySelectorAll('.row').length;
  if (headersShown === null && rows > 0 && !r.querySelector('.inbox').hidden) headersShown = performance.now();
  // The first screen: the list's rows are there and every one of them shows its headers.
  if (screenShown === null && headersShown !== null && !r.querySelector('.row.loading')) screenShown = performance.now();
  // The background sync starts once the list's first screen is in.
  if (syncFrom === null && /Keeping your mail on this device/.test(line.textContent || '')) syncFrom = performance.now();
  if (bodiesFrom === null && /: [\d.,\s\u00a0\u202f]+ of /.test(line.textContent || '')) bodiesFrom = performance.now();
  const n = kept();
  if (n !== null) {
    obs.disconnect();
    tasks.disconnect?.();
    frames.done = true;
    const gaps = { longTasks: tasks.count, longTaskMs: tasks.total, longestTaskMs: tasks.longest, longestFrameGapMs: frames.longest };
    window.__keep = { ok: true, ...gaps, secs: (performance.now() - t0) / 1000, listSecs: headersShown === null ? null : (headersShown - t0) / 1000, screenSecs: screenShown === null ? null : (screenShown - t0) / 1000, syncSecs: syncFrom === null ? null : (syncFrom - t0) / 1000, bodiesSecs: bodiesFrom === null ? null : (bodiesFrom - t0) / 1000, kept: n, line: line.textContent };
  }
  const err = r.querySelector('.error');
  if (err && err.textContent) { obs.disconnect(); window.__keep = { ok: false, error: err.textContent }; }
});
obs.observe(r, { subtree: true, childList: true, characterData: true, attributes: true });
// How responsive the page stays: its long tasks (50 ms or more, where the browser reports
// them: Chromium) and the longest time between two animation frames (a frame waits for the
// task under way; in a visible tab that is how long scrolling would freeze).
const tasks = { count: 0, total: 0, longest: 0, disconnect: null };
try {
  // (Firefox accepts the observer and never reports: not supported is not none.)
  if (!PerformanceObserver.supportedEntryTypes?.includes('longtask')) throw new Error('no long tasks here');
  const po = new PerformanceObserver((l) => {
    for (const e of l.getEntries()) {
      if (e.startTime < t0) continue;
      tasks.count++;
      tasks.total += e.duration;
      tasks.longest = Math.max(tasks.longest, e.duration);
    }
  });
  po.observe({ type: 'longtask' });
  tasks.disconnect = () => po.disconnect();
} catch {
  tasks.count = null;
}
const frames = { longest: 0, last: 0, done: false };
const frame = (t) => {
  if (frames.done) return;
  if (frames.last) frames.longest = Math.max(frames.longest, t - frames.last);
  frames.last = t;
  requestAnimationFrame(frame);
};
t0 = performance.now();
requestAnimationFrame(frame);
r.querySelector('button.connect').click();
return true;
"#;

/// A keep run's responsiveness, for its line: long tasks (where reported) and the longest gap
/// between two animation frames.
fn responsiveness(r: &KeepRun) -> String {
    let tasks = match r.long_tasks {
        Some((n, total, longest)) => {
            format!("{n} long tasks, {total:.0} ms in all, longest {longest:.0} ms")
        }
        None => "long tasks not reported".to_owned(),
    };
    match r.longest_frame_gap_ms {
        Some(g) => format!("{tasks}; longest frame gap {g:.0} ms"),
        None => tasks,
    }
}

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
      // (A big message is kept as a Blob: its size, not its length.)
      resolve({ full: full.length, bytes: full.reduce((s, m) => s + (m.bytes instanceof Blob ? m.bytes.size : m.bytes.length), 0) });
    };
    g.onerror = () => { db.close(); resolve({ error: String(g.error) }); };
  };
});
"#;

struct KeepRun {
    secs: f64,
    list_secs: Option<f64>,
    /// Until every row of the list's first screen shows its headers.
    screen_secs: Option<f64>,
    /// Until the background sync starts (the list's first screen is in).
    sync_secs: Option<f64>,
    /// Long tasks on the page's thread (Chromium only): count, total and longest, in ms.
    long_tasks: Option<(u64, f64, f64)>,
    /// The longest time between two animation frames, in ms.
    longest_frame_gap_ms: Option<f64>,
    bodies_secs: Option<f64>,
    kept: u64,
    stored: u64,
    stored_bytes: u64,
    /// The largest peak resident memory (VmHWM) of the browser's renderer processes from the
    /// click on Connect until the UI said all are kept (before the store is read back), in
    /// bytes; 0 where unknown (Firefox).
    renderer_peak: u64,
    /// The same for the browser's other processes: the largest, with its kind (where
    /// Chromium keeps IndexedDB's and Blobs' bytes).
    other_peak: Option<(String, u64)>,
    /// With `read`: opening the message in the reader (from this device) until it shows, and
    /// the renderer's peak over that time (its own: reset before the click).
    read: Option<(f64, u64)>,
    /// With `read`, then: "This device…" → Export (mbox) until the dialog says it is done, the
    /// renderer's peak over that time (reset before the click), and what the dialog said.
    export: Option<(f64, u64, String)>,
}

/// One keep run in the real `<pop3-inbox>` served from `origin`: an empty store and a fresh
/// page, Connect, and the time until the UI says every message is kept; then the store is
/// read back (count and bytes of the full records) and the session ended with Logout (QUIT,
/// leave on server: nothing is deleted).
async fn keep_run(
    b: &Browser,
    origin: &str,
    port: u16,
    user: &str,
    password: &str,
) -> Result<KeepRun, String> {
    keep_and_read(b, origin, port, user, password, false).await
}

/// `keep_run`, and with `read` the first row then opened in the reader (`KeepRun::read`).
/// Starts sampling the page's main thread (POP3_BENCH_CPU_PROFILE, see the top).
async fn start_profile(b: &Browser) -> e2e::browser::Result<()> {
    b.cdp("Profiler.enable", json!({})).await?;
    b.cdp("Profiler.setSamplingInterval", json!({ "interval": 200 }))
        .await?;
    b.cdp("Profiler.start", json!({})).await?;
    Ok(())
}

/// Stops the sampling and writes the profile to `path` as a DevTools `.cpuprofile`.
async fn save_profile(b: &Browser, path: &Path) -> Result<(), String> {
    let p = b
        .cdp("Profiler.stop", json!({}))
        .await
        .map_err(|e| e.to_string())?;
    std::fs::write(path, p["profile"].to_string())
        .map_err(|err| format!("writing the CPU profile: {err}"))
}

async fn keep_and_read(
    b: &Browser,
    origin: &str,
    port: u16,
    user: &str,
    password: &str,
    read: bool,
) -> Result<KeepRun, String> {
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
    // POP3_BENCH_CPU_PROFILE (see the top): where the page's time goes while it keeps mail.
    let profile =
        std::env::var_os("POP3_BENCH_CPU_PROFILE").filter(|_| b.kind == BrowserKind::Chromium);
    if profile.is_some() {
        start_profile(b).await.map_err(e)?;
    }
    // Each run's own peak: from here, not since the browser started.
    let procs = e2e::bench::browser_memory();
    e2e::bench::reset_peaks(&procs.iter().map(|p| p.pid).collect::<Vec<_>>());
    b.js(
        KEEP_SCRIPT,
        vec![json!({ "port": port, "user": user, "password": password })],
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
    if let Some(path) = &profile {
        save_profile(b, Path::new(path)).await?;
    }
    if v["ok"] != json!(true) {
        return Err(format!("in the page: {}", v["error"]));
    }
    let procs = e2e::bench::browser_memory();
    let renderer_peak = procs
        .iter()
        .filter(|p| p.kind == "renderer")
        .map(|p| p.peak)
        .max()
        .unwrap_or(0);
    let other_peak = procs
        .iter()
        .filter(|p| p.kind != "renderer")
        .max_by_key(|p| p.peak)
        .map(|p| (p.kind.clone(), p.peak));
    let acct = format!("{user}@127.0.0.1:{port}");
    let s = b.js(KEPT_SCRIPT, vec![json!(acct)]).await.map_err(e)?;
    if !s["error"].is_null() {
        return Err(format!("reading the store: {s}"));
    }
    let read = if read {
        let (secs, peak, _) = timed_with_peak(
            b,
            "const r = document.querySelector('pop3-inbox').shadowRoot; r.querySelector('.row').click(); return true;",
            "the message in the reader",
            "(() => { const r = document.querySelector('pop3-inbox').shadowRoot; const v = r.querySelector('.reader'); return !!v && !v.hidden && !!r.querySelector('.reader iframe.message-text-frame:not([hidden]), .reader .attachment-name, .reader .error:not(:empty)') && (r.querySelector('.reader .error:not(:empty)')?.textContent || true); })()",
        )
        .await?;
        Some((secs, peak))
    } else {
        None
    };
    // Then, in the same run, "This device…" → Export (mbox) of what is kept: how long until
    // the dialog says it is exported, and the renderer's peak meanwhile.
    let export = if read.is_some() {
        let root = "const r = document.querySelector('pop3-inbox').shadowRoot;";
        b.js(
            &format!("{root} r.querySelector('button.back').click(); r.querySelector('button.device').click(); return true;"),
            vec![],
        )
        .await
        .map_err(e)?;
        b.wait_js(
            "the device dialog",
            &format!("(() => {{ {root} return r.querySelector('.device-dialog').open; }})()"),
            Duration::from_secs(30),
        )
        .await
        .map_err(e)?;
        let (secs, peak, said) = timed_with_peak(
            b,
            &format!("{root} r.querySelector('.device-dialog button.export-mbox').click(); return true;"),
            "the export's result",
            &format!("(() => {{ {root} return !!r.querySelector('.device-dialog .notice, .device-dialog .error') && r.querySelector('.device-dialog .form-messages').textContent; }})()"),
        )
        .await?;
        b.js(
            &format!(
                "{root} r.querySelector('.device-dialog button.cancel').click(); return true;"
            ),
            vec![],
        )
        .await
        .map_err(e)?;
        Some((secs, peak, said.as_str().unwrap_or_default().to_owned()))
    } else {
        None
    };
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
        screen_secs: v["screenSecs"].as_f64(),
        sync_secs: v["syncSecs"].as_f64(),
        long_tasks: v["longTasks"].as_u64().map(|n| {
            (
                n,
                v["longTaskMs"].as_f64().unwrap_or(0.0),
                v["longestTaskMs"].as_f64().unwrap_or(0.0),
            )
        }),
        longest_frame_gap_ms: v["longestFrameGapMs"].as_f64(),
        bodies_secs: v["bodiesSecs"].as_f64(),
        kept: v["kept"].as_u64().unwrap_or(0),
        stored: s["full"].as_u64().unwrap_or(0),
        stored_bytes: s["bytes"].as_u64().unwrap_or(0),
        renderer_peak,
        other_peak,
        read,
        export,
    })
}

/// Runs `click` in the page and waits (up to 300 s) for `done` to be truthy: the time that
/// took, the renderer's peak resident memory over it (the peaks reset before the click), and
/// `done`'s value.
async fn timed_with_peak(
    b: &Browser,
    click: &str,
    what: &str,
    done: &str,
) -> Result<(f64, u64, Json), String> {
    let e = |e: e2e::browser::BrowserError| e.to_string();
    let procs = e2e::bench::browser_memory();
    e2e::bench::reset_peaks(&procs.iter().map(|p| p.pid).collect::<Vec<_>>());
    let t = std::time::Instant::now();
    b.js(click, vec![]).await.map_err(e)?;
    let v = b
        .wait_js(what, done, Duration::from_secs(300))
        .await
        .map_err(e)?;
    let secs = t.elapsed().as_secs_f64();
    let peak = e2e::bench::renderer_memory()
        .iter()
        .map(|m| m.1)
        .max()
        .unwrap_or(0);
    Ok((secs, peak, v))
}

struct BrowserRun {
    total: f64,
    /// `connect()` alone (bridge, server, TLS, login).
    login: f64,
    download: f64,
    /// From the `connect()` call until every message is downloaded (before QUIT).
    to_downloaded: f64,
    /// `retr()` of the big message (`--mode big`).
    retr: f64,
    count: u64,
    bytes: u64,
    /// Sum of the bytes modulo 2^32 (`--mode big`).
    sum: u64,
    /// What `session.endToEnd` said.
    end_to_end: bool,
    /// `session.tls.cipher` (empty without TLS).
    cipher: String,
    /// `session.tls.engine`: where TLS in the page ran, `worker` or `in-thread` (empty else).
    engine: String,
    /// The TLS module's fetches during `connect()`: seconds from the first start to the last
    /// end, bytes transferred (0 from the memory cache), files (resource timing).
    tls_fetch: Option<(f64, u64, u64)>,
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
        login: v["login"].as_f64().unwrap_or(f64::NAN),
        download: v["download"].as_f64().unwrap_or(f64::NAN),
        to_downloaded: v["toDownloaded"].as_f64().unwrap_or(f64::NAN),
        retr: v["retr"].as_f64().unwrap_or(f64::NAN),
        count: v["count"].as_u64().unwrap_or(0),
        bytes: v["bytes"].as_u64().unwrap_or(0),
        sum: v["sum"].as_u64().unwrap_or(0),
        end_to_end: v["endToEnd"] == json!(true),
        cipher: v["cipher"].as_str().unwrap_or_default().to_owned(),
        engine: v["engine"].as_str().unwrap_or_default().to_owned(),
        tls_fetch: v["tlsFetch"]["secs"].as_f64().map(|s| {
            (
                s,
                v["tlsFetch"]["bytes"].as_u64().unwrap_or(0),
                v["tlsFetch"]["files"].as_u64().unwrap_or(0),
            )
        }),
    })
}

const POPLIB_SCRIPT: &str = r#"
import poplib, ssl, sys, time
host, port, user, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ca = sys.argv[5] if len(sys.argv) > 5 else None
ctx = ssl.create_default_context(cafile=ca) if ca else None
t = time.perf_counter()
c = poplib.POP3_SSL(host, port, context=ctx) if ca else poplib.POP3(host, port)
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

/// poplib against 127.0.0.1:`port`; over implicit TLS verified with `ca` when given.
fn run_poplib(
    a: &Args,
    port: u16,
    password: &str,
    ca: Option<&Path>,
) -> Result<(f64, u64, u64), String> {
    let res = Command::new(&a.python)
        .args([
            "-c",
            POPLIB_SCRIPT,
            "127.0.0.1",
            &port.to_string(),
            "bench",
            password,
        ])
        .args(ca)
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

/// Per browser variant: total (connect → quit), connect → downloaded, `download()` alone.
type Timings = (Tls, Vec<f64>, Vec<f64>, Vec<f64>);

/// One timed job of a round: the browser with a TLS variant, or a native reference over TLS
/// (`true`) or plain.
#[derive(Clone, Copy)]
enum Job {
    Browser(Tls),
    Reference(bool),
}

/// The jobs of round `run` (1-based): every browser variant and every reference, the order
/// rotated by one each round so that no variant always goes first.
fn round(tls: &[Tls], run: usize) -> Vec<Job> {
    let mut jobs: Vec<Job> = tls.iter().map(|&t| Job::Browser(t)).collect();
    if tls.contains(&Tls::Plain) {
        jobs.push(Job::Reference(false));
    }
    if tls.iter().any(|&t| t != Tls::Plain) {
        jobs.push(Job::Reference(true));
    }
    let n = jobs.len();
    jobs.rotate_left((run - 1) % n);
    jobs
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let a = parse_args();
    let password = "bench-password";
    let tls_any = a.tls.iter().any(|&t| t != Tls::Plain);
    println!(
        "browser bench ({}): {} messages of ~{} B, {} ms one-way delay, {} runs each; browser variants: {}",
        a.browser.name(),
        a.messages,
        a.size,
        a.delay_ms,
        a.runs,
        a.tls
            .iter()
            .map(|t| t.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    for m in ["pop3_web_bg.wasm", "pop3_tls_web_bg.wasm"] {
        if !a.web.join("pkg").join(m).exists() {
            eprintln!(
                "bench: {}/pkg/{m} is missing: run `cargo xtask build-web`",
                a.web.display()
            );
            return ExitCode::FAILURE;
        }
    }
    let mut opts = DovecotOptions::new()
        .user(
            "bench",
            password,
            Mailbox::new(a.messages).size(a.size).seed(7),
        )
        .oauth2(false);
    if a.mode.big || a.mode.keep_big {
        opts = opts.user("big", password, Mailbox::new(1).size(a.big_size).seed(11));
    }
    if a.mode.many {
        opts = opts.user("many", password, Mailbox::new(a.many).size(a.size).seed(13));
    }
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
    let pop_tls_proxy = tls_any.then(|| {
        DelayProxy::start_local(dovecot.tls_addr(), delay).expect("delay proxy (mpop, TLS)")
    });
    let mut bridge = Command::new(&a.bridge);
    bridge
        .args(["--listen", &bridge_addr.to_string()])
        .arg("--web-root")
        .arg(&a.web)
        .args(["--allow-host", "127.0.0.1", "--allow-plaintext"])
        .args(["--allow-port", &dovecot.plain_port().to_string()])
        .args(["--origin", &format!("http://{}", web_proxy.local_addr())])
        .args(["--log", "warn"]);
    if tls_any {
        // Bridge-side TLS trusts Dovecot's CA; `endToEnd: true` must not use that trust.
        bridge
            .args(["--allow-port", &dovecot.tls_port().to_string()])
            .arg("--extra-ca")
            .arg(dovecot.ca_pem_path());
    }
    let bridge = bridge.stdout(Stdio::null()).spawn().map(ChildGuard);
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
        "Dovecot {} / TLS {} ({:.1} MB), bridge {bridge_addr}, browser-side delay proxy {}, mpop-side delay proxy {}{}",
        dovecot.plain_addr(),
        dovecot.tls_addr(),
        user.mailbox.total_octets() as f64 / 1e6,
        web_proxy.local_addr(),
        pop_proxy.local_addr(),
        pop_tls_proxy
            .as_ref()
            .map(|p| format!(" (TLS: {})", p.local_addr()))
            .unwrap_or_default()
    );
    let b = match Browser::start(a.browser).await {
        Ok(b) => b,
        Err(e) => {
            eprintln!("bench: {} did not start: {e}", a.browser.name());
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
    let ca_pem = dovecot.ca_pem().to_owned();
    let params = |origin: &str, tls: Tls, user: &str, big: bool| {
        json!({
            "bridgeUrl": format!("{}/pop3", origin.replacen("http", "ws", 1)),
            "port": if tls == Tls::Plain { dovecot.plain_port() } else { dovecot.tls_port() },
            "security": if tls == Tls::Plain { "plain" } else { "tls" },
            "endToEnd": tls.in_page(),
            "preload": tls == Tls::EndToEndPreloaded,
            "noWorker": tls == Tls::EndToEndInThread,
            "cas": [ca_pem],
            "user": user,
            "password": password,
            "big": big,
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
    // Where TLS ended must be where the variant asked.
    let check_mode = |t: Tls, r: &BrowserRun| -> bool {
        let ok = r.end_to_end == t.in_page() && r.engine == t.engine();
        if !ok {
            println!(
                "  {}: session.endToEnd is {}, engine {:?}  <-- MISMATCH",
                t.name(),
                r.end_to_end,
                r.engine
            );
        }
        ok
    };
    let ca_path = dovecot.ca_pem_path().to_owned();
    if a.mode.download {
        // Warm-up (not counted): the page, modules and wasm are compiled and cached once.
        for &t in &a.tls {
            match browser_run(
                &b,
                &direct_origin,
                params(&direct_origin, t, "bench", false),
            )
            .await
            {
                Ok(r) => {
                    failed |= !check_mode(t, &r);
                    println!(
                        "warm-up {}: endToEnd {}, cipher {:?}, engine {:?}",
                        t.name(),
                        r.end_to_end,
                        r.cipher,
                        r.engine
                    );
                }
                Err(e) => {
                    eprintln!("bench: warm-up ({}) failed: {e}", t.name());
                    let _ = b.close().await;
                    return ExitCode::FAILURE;
                }
            }
        }

        println!(
            "--- {} ms RTT: browser via bridge vs mpop (pipelining on); order rotated each run",
            2 * a.delay_ms
        );
        // Per browser variant: total (connect → quit), connect → downloaded, download() alone.
        let mut br: Vec<Timings> = a.tls.iter().map(|&t| (t, vec![], vec![], vec![])).collect();
        let (mut mp, mut mp_tls) = (vec![], vec![]);
        for run in 1..=a.runs {
            for job in round(&a.tls, run) {
                match job {
                    Job::Browser(t) => {
                        match browser_run(
                            &b,
                            &delayed_origin,
                            params(&delayed_origin, t, "bench", false),
                        )
                        .await
                        {
                            Ok(r) => {
                                failed |= !check(t.name(), r.count, r.bytes);
                                failed |= !check_mode(t, &r);
                                println!(
                                    "run {run}: browser {:<13} {:7.3} s (to downloaded {:.3} s: connect {:.3} s{}, download {:.3} s; {} msgs, {} B)",
                                    t.name(),
                                    r.total,
                                    r.to_downloaded,
                                    r.login,
                                    r.tls_fetch.map_or_else(String::new, |(s, b, n)| format!(
                                        " incl. TLS module fetch {s:.3} s ({n} files, {b} B transferred)"
                                    )),
                                    r.download,
                                    r.count,
                                    r.bytes
                                );
                                let v = br.iter_mut().find(|v| v.0 == t).expect("variant");
                                v.1.push(r.total);
                                v.2.push(r.to_downloaded);
                                v.3.push(r.download);
                            }
                            Err(e) => {
                                println!("run {run}: browser {} FAILED: {e}", t.name());
                                failed = true;
                            }
                        }
                    }
                    Job::Reference(tls) => {
                        let res = match (tls, &pop_tls_proxy) {
                            (true, Some(p)) => run_mpop_tls(
                                &a.mpop,
                                p.local_addr().port(),
                                password,
                                &ca_path,
                                work.path(),
                                run,
                            ),
                            _ => run_mpop(
                                &a.mpop,
                                pop_proxy.local_addr().port(),
                                password,
                                work.path(),
                                run,
                            ),
                        };
                        let name = if tls { "mpop-tls" } else { "mpop" };
                        match res.map(|(secs, out)| {
                            let files = fs::read_dir(out.join("new"))
                                .map(|d| d.count())
                                .unwrap_or(0);
                            let _ = fs::remove_dir_all(&out);
                            (secs, files)
                        }) {
                            Ok((secs, files)) => {
                                failed |= !check(name, files as u64, expected_bytes);
                                println!("run {run}: {name:<21} {secs:7.3} s ({files} files)");
                                if tls {
                                    mp_tls.push(secs);
                                } else {
                                    mp.push(secs);
                                }
                            }
                            Err(e) => {
                                println!("run {run}: {name} FAILED: {e}");
                                failed = true;
                            }
                        }
                    }
                }
            }
        }

        println!(
            "--- loopback, no added delay: browser via bridge vs Python poplib direct; order rotated each run"
        );
        let mut br0: Vec<(Tls, Vec<f64>)> = a.tls.iter().map(|&t| (t, vec![])).collect();
        let (mut py, mut py_tls) = (vec![], vec![]);
        for run in 1..=a.runs {
            for job in round(&a.tls, run) {
                match job {
                    Job::Browser(t) => {
                        match browser_run(
                            &b,
                            &direct_origin,
                            params(&direct_origin, t, "bench", false),
                        )
                        .await
                        {
                            Ok(r) => {
                                failed |= !check(t.name(), r.count, r.bytes);
                                failed |= !check_mode(t, &r);
                                println!(
                                    "run {run}: browser {:<13} {:7.3} s (download {:.3} s)",
                                    t.name(),
                                    r.total,
                                    r.download
                                );
                                let v = br0.iter_mut().find(|v| v.0 == t).expect("variant");
                                v.1.push(r.total);
                            }
                            Err(e) => {
                                println!("run {run}: browser {} FAILED: {e}", t.name());
                                failed = true;
                            }
                        }
                    }
                    Job::Reference(tls) => {
                        let name = if tls { "poplib-tls" } else { "poplib" };
                        let res = if tls {
                            run_poplib(&a, dovecot.tls_port(), password, Some(&ca_path))
                        } else {
                            run_poplib(&a, dovecot.plain_port(), password, None)
                        };
                        match res {
                            Ok((secs, n, bytes)) => {
                                failed |= !check(name, n, bytes);
                                println!("run {run}: {name:<21} {secs:7.3} s");
                                if tls {
                                    py_tls.push(secs);
                                } else {
                                    py.push(secs);
                                }
                            }
                            Err(e) => {
                                println!("run {run}: {name} FAILED: {e}");
                                failed = true;
                            }
                        }
                    }
                }
            }
        }
        println!("---");
        for (t, total, to_dl, dl) in &br {
            let (rname, r) = if *t == Tls::Plain {
                ("mpop", &mp)
            } else {
                ("mpop-tls", &mp_tls)
            };
            report(
                &format!("{} ms RTT, {}", 2 * a.delay_ms, t.name()),
                total,
                rname,
                r,
                0.75,
            );
            println!(
                "  (connect until downloaded: median {:.3} s = {:.2} x {rname}; download() alone: median {:.3} s)",
                median(to_dl),
                median(to_dl) / median(r),
                median(dl)
            );
        }
        for (t, total) in &br0 {
            let (rname, r) = if *t == Tls::Plain {
                ("poplib", &py)
            } else {
                ("poplib-tls", &py_tls)
            };
            report(&format!("loopback, {}", t.name()), total, rname, r, 1.0);
        }
    }
    if a.mode.big {
        failed |= !big_bench(&a, &b, &direct_origin, &dovecot, &params).await;
    }
    if a.mode.keep {
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
    if a.mode.keep_big {
        failed |= !keep_big_bench(&a, &b, &direct_origin, &dovecot, password).await;
    }
    if a.mode.many {
        failed |= !many_bench(&a, &b, &delayed_origin, &direct_origin, &dovecot, password).await;
    }
    let _ = b.close().await;
    println!(
        "browser-side proxy: {} connections; mpop-side proxy: {} connections{}",
        web_proxy.connections(),
        pop_proxy.connections(),
        pop_tls_proxy
            .as_ref()
            .map(|p| format!(" (TLS: {})", p.connections()))
            .unwrap_or_default()
    );
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The big-message benchmark: each browser variant `retr()`s the one message of account `big`
/// on loopback (no added delay), alternating with the order rotated each round, after a
/// warm-up of each. The time is the page's, from the `retr()` call to its result; each run is
/// checked (length, byte sum, where TLS ended). Returns whether every run succeeded and matched.
async fn big_bench(
    a: &Args,
    b: &Browser,
    origin: &str,
    dovecot: &Dovecot,
    params: &impl Fn(&str, Tls, &str, bool) -> Json,
) -> bool {
    let raw = dovecot.expected_bytes("big", 0);
    let (len, sum) = (
        raw.len() as u64,
        raw.iter()
            .fold(0u64, |s, &x| (s + u64::from(x)) % (1 << 32)),
    );
    drop(raw);
    println!(
        "--- big message: one retr() of {len} B on loopback (no added delay); order rotated each run; MB = 10^6 B"
    );
    let mut ok = true;
    let good = |t: Tls, r: &BrowserRun| {
        r.count == 1
            && r.bytes == len
            && r.sum == sum
            && r.end_to_end == t.in_page()
            && r.engine == t.engine()
    };
    for &t in &a.tls {
        match browser_run(b, origin, params(origin, t, "big", true)).await {
            Ok(r) if good(t, &r) => {}
            Ok(r) => {
                println!(
                    "big warm-up ({}): {} msgs, {} B, sum {}, endToEnd {}  <-- MISMATCH",
                    t.name(),
                    r.count,
                    r.bytes,
                    r.sum,
                    r.end_to_end
                );
                ok = false;
            }
            Err(e) => {
                println!("big warm-up ({}) FAILED: {e}", t.name());
                return false;
            }
        }
    }
    let mut times: Vec<(Tls, Vec<f64>)> = a.tls.iter().map(|&t| (t, vec![])).collect();
    for run in 1..=a.runs {
        let mut order = a.tls.clone();
        let n = order.len();
        order.rotate_left((run - 1) % n);
        for t in order {
            // POP3_BENCH_CPU_PROFILE (see the top): the last run of each variant, sampled.
            let profile = std::env::var_os("POP3_BENCH_CPU_PROFILE")
                .filter(|_| b.kind == BrowserKind::Chromium && run == a.runs)
                .map(|p| format!("{}.{}", p.to_string_lossy(), t.name()));
            if profile.is_some()
                && let Err(e) = start_profile(b).await
            {
                println!("CPU profile not started: {e}");
            }
            let result = browser_run(b, origin, params(origin, t, "big", true)).await;
            if let Some(path) = &profile {
                match save_profile(b, Path::new(path)).await {
                    Ok(()) => println!("CPU profile of the page: {path}"),
                    Err(e) => println!("CPU profile not saved: {e}"),
                }
            }
            match result {
                Ok(r) => {
                    let g = good(t, &r);
                    ok &= g;
                    println!(
                        "run {run}: browser {:<13} retr {:7.3} s = {:7.1} MB/s ({} B, endToEnd {}, cipher {:?}, engine {:?}){}",
                        t.name(),
                        r.retr,
                        r.bytes as f64 / 1e6 / r.retr,
                        r.bytes,
                        r.end_to_end,
                        r.cipher,
                        r.engine,
                        if g { "" } else { "  <-- MISMATCH" }
                    );
                    times
                        .iter_mut()
                        .find(|v| v.0 == t)
                        .expect("variant")
                        .1
                        .push(r.retr);
                }
                Err(e) => {
                    println!("run {run}: browser {} FAILED: {e}", t.name());
                    ok = false;
                }
            }
        }
    }
    println!("---");
    let mbps = |v: &[f64]| len as f64 / 1e6 / median(v);
    for (t, v) in &times {
        println!(
            "big message, {}: median retr {:.3} s = {:.1} MB/s ({} complete runs){}",
            t.name(),
            median(v),
            mbps(v),
            v.len(),
            if t.in_page() {
                " (goal >= 100 MB/s)"
            } else {
                ""
            }
        );
    }
    let get = |t: Tls| times.iter().find(|v| v.0 == t).map(|v| mbps(&v.1));
    if let (Some(e), Some(br)) = (get(Tls::EndToEnd), get(Tls::Bridge)) {
        println!(
            "big message: end-to-end {e:.1} MB/s = {:.2} x bridge-side TLS",
            e / br
        );
    }
    ok
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
    if let Err(e) = keep_run(b, links[1].0, ui_port, "bench", password).await {
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
        let (mut ui, mut mp, mut list, mut gaps) = (vec![], vec![], vec![], vec![]);
        for run in 1..=a.runs {
            match keep_run(b, origin, ui_port, "bench", password).await {
                Ok(r) => {
                    let good = r.kept == a.messages as u64
                        && r.stored == a.messages as u64
                        && r.stored_bytes == expected_bytes;
                    println!(
                        "run {run}: ui      {:7.3} s (list shown {}, bodies from {}, UI says {} kept, store holds {} / {} B; {}){}",
                        r.secs,
                        secs(r.list_secs),
                        secs(r.bodies_secs),
                        r.kept,
                        r.stored,
                        r.stored_bytes,
                        responsiveness(&r),
                        if good { "" } else { "  <-- MISMATCH" }
                    );
                    ok &= good;
                    if let Some(g) = r.longest_frame_gap_ms {
                        gaps.push(g);
                    }
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
        results.push((name, ui, mp, list, gaps));
    }
    println!("---");
    for (i, (name, ui, mp, list, gaps)) in results.iter().enumerate() {
        let goal = if i == 0 { 1.0 } else { 2.0 };
        let (u, m) = (median(ui), median(mp));
        println!(
            "keep, {name}: UI median {u:.3} s, mpop median {m:.3} s: {:.2} x mpop (goal <= {goal:.1} x; {} and {} complete runs; list shown after {:.3} s; longest frame gap median {:.0} ms)",
            u / m,
            ui.len(),
            mp.len(),
            median(list),
            median(gaps)
        );
    }
    ok
}

/// The many-messages benchmark: a mailbox of `--many` messages, from Connect in the real
/// `<pop3-inbox>` (empty store, leave on server) over the delay proxy (`--delay-ms` each way)
/// until the first screen of the list shows every row's headers, and until the UI says every
/// message is kept; `--runs` runs after a warm-up with the smaller `bench` mailbox on loopback.
/// Each run is checked against the store (count and bytes). Returns whether every run
/// succeeded and matched.
async fn many_bench(
    a: &Args,
    b: &Browser,
    origin: &str,
    warm_origin: &str,
    dovecot: &Dovecot,
    password: &str,
) -> bool {
    let port = dovecot.plain_port();
    let user = dovecot.user("many");
    let expected: u64 = (0..a.many)
        .map(|i| user.mailbox.expected_bytes(i).len() as u64)
        .sum();
    println!(
        "--- many: {} messages ({:.1} MB), Connect in <pop3-inbox> over {} ms each way until the first screen of the list, and until all are kept",
        a.many,
        expected as f64 / 1e6,
        a.delay_ms
    );
    if let Err(e) = keep_run(b, warm_origin, port, "bench", password).await {
        println!("many warm-up FAILED: {e}");
        return false;
    }
    let mut ok = true;
    let (mut screen, mut all, mut list) = (vec![], vec![], vec![]);
    for run in 1..=a.runs {
        match keep_run(b, origin, port, "many", password).await {
            Ok(r) => {
                let good = r.kept == a.many as u64
                    && r.stored == a.many as u64
                    && r.stored_bytes == expected
                    && r.screen_secs.is_some();
                println!(
                    "run {run}: list shown {}, first screen {}, sync from {}, bodies from {}, all kept {:7.3} s (UI says {} kept, store holds {} / {} B){}",
                    secs(r.list_secs),
                    secs(r.screen_secs),
                    secs(r.sync_secs),
                    secs(r.bodies_secs),
                    r.secs,
                    r.kept,
                    r.stored,
                    r.stored_bytes,
                    if good { "" } else { "  <-- MISMATCH" }
                );
                ok &= good;
                all.push(r.secs);
                list.extend(r.list_secs);
                screen.extend(r.screen_secs);
            }
            Err(e) => {
                println!("run {run}: FAILED: {e}");
                ok = false;
            }
        }
    }
    println!("---");
    println!(
        "many, {} messages at {} ms each way: first screen median {:.3} s (goal < 1 s; list rows from {:.3} s), all kept median {:.3} s ({} complete runs)",
        a.many,
        a.delay_ms,
        median(&screen),
        median(&list),
        median(&all),
        all.len()
    );
    ok
}

/// The big-message keep benchmark (`--mode keep-big`): the real `<pop3-inbox>` keeps the one
/// message of account `big` on loopback, `--runs` times after a warm-up with the `bench`
/// mailbox; reports the time until the UI says it is kept and the renderer's peak resident
/// memory then (before the store is read back for the check). Returns whether every run
/// succeeded and matched.
async fn keep_big_bench(
    a: &Args,
    b: &Browser,
    origin: &str,
    dovecot: &Dovecot,
    password: &str,
) -> bool {
    let port = dovecot.plain_port();
    let len = dovecot.expected_bytes("big", 0).len() as u64;
    let mib = |v: u64| v as f64 / 1048576.0;
    println!(
        "--- keep-big: Connect in <pop3-inbox> until the one message of {len} B is kept, loopback; renderer peak = largest VmHWM of the browser's renderer processes (whole process: JS heap, wasm memory, buffers)"
    );
    if let Err(e) = keep_run(b, origin, port, "bench", password).await {
        println!("keep-big warm-up FAILED: {e}");
        return false;
    }
    let before = e2e::bench::renderer_memory();
    println!(
        "renderer resident memory before the first big keep: {}",
        before
            .iter()
            .map(|m| format!("{:.0} MiB (peak so far {:.0} MiB)", mib(m.2), mib(m.1)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut ok = true;
    let mut times = vec![];
    for run in 1..=a.runs {
        // The reader opens it in the last run only: what reading leaves in the renderer would
        // count in the next run's keep.
        match keep_and_read(b, origin, port, "big", password, run == a.runs).await {
            Ok(r) => {
                let good = r.kept == 1 && r.stored == 1 && r.stored_bytes == len;
                println!(
                    "run {run}: kept in {:7.3} s = {:.1} MB/s; renderer peak {:.0} MiB, largest other process {} (UI says {} kept, store holds {} / {} B){}",
                    r.secs,
                    len as f64 / 1e6 / r.secs,
                    mib(r.renderer_peak),
                    r.other_peak
                        .as_ref()
                        .map_or("unknown".to_string(), |(k, m)| format!(
                            "{k} {:.0} MiB",
                            mib(*m)
                        )),
                    r.kept,
                    r.stored,
                    r.stored_bytes,
                    if good { "" } else { "  <-- MISMATCH" }
                );
                if let Some((secs, peak)) = r.read {
                    println!(
                        "run {run}: opened in the reader in {secs:7.3} s; renderer peak meanwhile {:.0} MiB",
                        mib(peak)
                    );
                }
                if let Some((secs, peak, said)) = &r.export {
                    println!(
                        "run {run}: exported (mbox) in {secs:7.3} s; renderer peak meanwhile {:.0} MiB; the dialog: {said:?}",
                        mib(*peak)
                    );
                }
                ok &= good;
                times.push(r.secs);
            }
            Err(e) => {
                println!("run {run}: FAILED: {e}");
                ok = false;
            }
        }
    }
    println!(
        "keep-big: median {:.3} s for {len} B ({} complete runs)",
        median(&times),
        times.len()
    );
    ok
}
