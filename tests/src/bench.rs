//! What the benchmark binaries share: the median, mpop as the reference client, the byte-exact
//! check of what a client saved, and the browser's renderer memory (also read by tests).

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The median of `v` (NaN when empty).
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => s[n / 2],
        _ => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

/// Fetches every message of user `bench` from 127.0.0.1:`port` (plain, USER/PASS, pipelining
/// on, keep on) with the mpop at `mpop` into a fresh Maildir under `work`. Returns mpop's wall
/// time in seconds and the Maildir it delivered to.
pub fn run_mpop(
    mpop: &Path,
    port: u16,
    password: &str,
    work: &Path,
    run: usize,
) -> Result<(f64, PathBuf), String> {
    mpop_fetch(mpop, port, password, None, work, &format!("mpop-{run}"))
}

/// [`run_mpop`] over implicit TLS: the same account and delivery, with `tls on`,
/// `tls_starttls off` and `tls_trust_file` set to `ca_pem` (the server's CA), so mpop verifies
/// the server's certificate for `127.0.0.1` like the other clients do.
pub fn run_mpop_tls(
    mpop: &Path,
    port: u16,
    password: &str,
    ca_pem: &Path,
    work: &Path,
    run: usize,
) -> Result<(f64, PathBuf), String> {
    mpop_fetch(
        mpop,
        port,
        password,
        Some(ca_pem),
        work,
        &format!("mpop-tls-{run}"),
    )
}

/// One mpop run: its configuration (plain, or implicit TLS trusting `ca_pem`), its Maildir and
/// its UIDL file under `work`, named by `tag`.
fn mpop_fetch(
    mpop: &Path,
    port: u16,
    password: &str,
    ca_pem: Option<&Path>,
    work: &Path,
    tag: &str,
) -> Result<(f64, PathBuf), String> {
    let out = work.join(format!("{tag}-out"));
    for sub in ["new", "cur", "tmp"] {
        fs::create_dir_all(out.join(sub)).map_err(|e| e.to_string())?;
    }
    let rc = work.join(format!("{tag}-rc"));
    let uidls = work.join(format!("{tag}-uidls"));
    let tls = match ca_pem {
        None => "tls off\n".to_owned(),
        Some(ca) => format!(
            "tls on\ntls_starttls off\ntls_trust_file {}\n",
            ca.display()
        ),
    };
    let text = format!(
        "defaults\n\
         account bench\n\
         host 127.0.0.1\n\
         port {port}\n\
         {tls}\
         auth user\n\
         user bench\n\
         password {password}\n\
         keep on\n\
         only_new off\n\
         pipelining on\n\
         received_header off\n\
         timeout 60\n\
         delivery maildir {}\n\
         uidls_file {}\n\
         account default : bench\n",
        out.display(),
        uidls.display()
    );
    fs::write(&rc, text).map_err(|e| e.to_string())?;
    {
        use std::os::unix::fs::PermissionsExt;
        // mpop refuses a configuration file with a password that others can read.
        fs::set_permissions(&rc, fs::Permissions::from_mode(0o600)).map_err(|e| e.to_string())?;
    }
    let t = Instant::now();
    let res = Command::new(mpop)
        .arg("-C")
        .arg(&rc)
        .args(["-q", "bench"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running {}: {e}", mpop.display()))?;
    let secs = t.elapsed().as_secs_f64();
    if !res.status.success() {
        return Err(format!(
            "mpop failed ({}): {}{}",
            res.status,
            String::from_utf8_lossy(&res.stdout),
            String::from_utf8_lossy(&res.stderr)
        ));
    }
    Ok((secs, out))
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                files_under(&p, out);
            } else {
                out.push(p);
            }
        }
    }
}

/// Counts files in `dir` (recursively) whose bytes equal one of `expected` (as a multiset).
pub fn count_matches(dir: &Path, expected: &[Vec<u8>]) -> (usize, usize) {
    let mut want: HashMap<&[u8], usize> = HashMap::new();
    for e in expected {
        *want.entry(e.as_slice()).or_default() += 1;
    }
    let mut files = Vec::new();
    files_under(dir, &mut files);
    let mut matched = 0;
    for f in &files {
        if let Ok(bytes) = fs::read(f)
            && let Some(n) = want.get_mut(bytes.as_slice())
            && *n > 0
        {
            *n -= 1;
            matched += 1;
        }
    }
    (files.len(), matched)
}

/// Peak and current resident memory (VmHWM, VmRSS, bytes) of the browser's renderer processes
/// that descend from this process (so no other process's browser counts; a process that runs
/// one browser gets that browser's): the page's whole process, JS heap, wasm memory and
/// IndexedDB's buffers in it, as `(pid, peak, now)`. Linux only (empty elsewhere).
pub fn renderer_memory() -> Vec<(u32, u64, u64)> {
    browser_memory()
        .into_iter()
        .filter(|p| p.kind == "renderer")
        .map(|p| (p.pid, p.peak, p.now))
        .collect()
}

/// One process of the browser under test (`browser_memory`).
#[derive(Debug, Clone)]
pub struct BrowserProcess {
    /// The process id.
    pub pid: u32,
    /// Chromium's `--type=` (`renderer`, `gpu-process`, `utility`, …), `browser` for the main
    /// process, or the executable's name for any other browser.
    pub kind: String,
    /// Peak resident memory since it started or since `reset_peaks` (VmHWM), bytes.
    pub peak: u64,
    /// Resident memory now (VmRSS), bytes.
    pub now: u64,
}

/// Every process that descends from this one and belongs to a browser (Chromium's processes,
/// Firefox's), with its kind and memory. Where the bytes of a page's Blobs and IndexedDB go
/// depends on the browser: Chromium keeps them in the main process (or a storage utility),
/// outside the page's renderer. Linux only (empty elsewhere).
pub fn browser_memory() -> Vec<BrowserProcess> {
    let me = std::process::id();
    let parent = |pid: u32| -> Option<u32> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // "pid (comm) state ppid ...": comm may hold spaces, so split after its ')'.
        stat[stat.rfind(')')? + 2..].split(' ').nth(1)?.parse().ok()
    };
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd);
        // (Chromium's child processes rewrite their command line into one string with spaces.)
        let exe = cmd.split(['\0', ' ']).next().unwrap_or_default();
        let exe = exe.rsplit('/').next().unwrap_or_default();
        let kind = if let Some((_, t)) = cmd.split_once("--type=") {
            t.split(['\0', ' ']).next().unwrap_or_default().to_string()
        } else if exe.contains("chrom") {
            "browser".to_string()
        } else if exe.contains("firefox") {
            exe.to_string()
        } else {
            continue;
        };
        let (mut p, mut ours) = (pid, false);
        for _ in 0..64 {
            match parent(p) {
                Some(q) if q == me => {
                    ours = true;
                    break;
                }
                Some(q) if q > 1 => p = q,
                _ => break,
            }
        }
        if !ours {
            continue;
        }
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let kb = |field: &str| -> u64 {
            status
                .lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap_or(0)
                * 1024
        };
        out.push(BrowserProcess {
            pid,
            kind,
            peak: kb("VmHWM:"),
            now: kb("VmRSS:"),
        });
    }
    out
}

/// Sets each process's peak resident memory (VmHWM) back to what it holds now (Linux's
/// `clear_refs` 5), so the next `browser_memory` gives the peak of what ran in between, not
/// since the process started. Returns how many processes were reset.
pub fn reset_peaks(pids: &[u32]) -> usize {
    pids.iter()
        .filter(|pid| std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok())
        .count()
}
