//! `bench-pipelining`: downloads N messages through a latency-adding proxy with mpop and with our
//! native driver (`pop3-fetch`), alternating, and reports median times and their ratio.
//!
//! Options: `--messages 1000 --size 4096 --delay-ms 25 --runs 3 --fetch PATH --mpop PATH`.
//! Run by `cargo xtask bench pipelining`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use e2e::bench::{count_matches, median, run_mpop};
use e2e::{DelayProxy, Dovecot, DovecotOptions, Mailbox};

struct Args {
    messages: usize,
    size: usize,
    delay_ms: u64,
    runs: usize,
    fetch: Option<PathBuf>,
    mpop: PathBuf,
}

fn parse_args() -> Args {
    let mut a = Args {
        messages: 1000,
        size: 4096,
        delay_ms: 25,
        runs: 3,
        fetch: None,
        mpop: PathBuf::from("mpop"),
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
            "--fetch" => a.fetch = Some(PathBuf::from(v)),
            "--mpop" => a.mpop = PathBuf::from(v),
            _ => {
                eprintln!(
                    "usage: bench-pipelining [--messages N] [--size BYTES] [--delay-ms MS] [--runs N] [--fetch PATH] [--mpop PATH]"
                );
                std::process::exit(2)
            }
        }
    }
    a
}

fn run_fetch(
    fetch: &Path,
    port: u16,
    password: &str,
    work: &Path,
    run: usize,
) -> Result<(f64, PathBuf), String> {
    let out = work.join(format!("fetch-out-{run}"));
    fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let t = Instant::now();
    let res = Command::new(fetch)
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--security",
            "plain",
        ])
        .args(["--user", "bench", "--pass", password, "--out"])
        .arg(&out)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running {}: {e}", fetch.display()))?;
    let secs = t.elapsed().as_secs_f64();
    if !res.status.success() {
        return Err(format!(
            "pop3-fetch failed ({}): {}{}",
            res.status,
            String::from_utf8_lossy(&res.stdout),
            String::from_utf8_lossy(&res.stderr)
        ));
    }
    Ok((secs, out))
}

fn main() -> ExitCode {
    let a = parse_args();
    let password = "bench-password";
    println!(
        "pipelining bench: {} messages of ~{} B, {} ms one-way delay, {} runs each",
        a.messages, a.size, a.delay_ms, a.runs
    );
    let opts = DovecotOptions::new()
        .user(
            "bench",
            password,
            Mailbox::new(a.messages).size(a.size).seed(7),
        )
        .oauth2(false);
    let dovecot = match Dovecot::start(opts) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("bench: Dovecot did not start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let proxy =
        match DelayProxy::start_local(dovecot.plain_addr(), Duration::from_millis(a.delay_ms)) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("bench: proxy did not start: {e}");
                return ExitCode::FAILURE;
            }
        };
    let port = proxy.local_addr().port();
    let user = dovecot.user("bench");
    let expected_crlf: Vec<Vec<u8>> = (0..a.messages)
        .map(|i| user.mailbox.expected_bytes(i))
        .collect();
    let expected_lf: Vec<Vec<u8>> = (0..a.messages)
        .map(|i| user.mailbox.raw(i).to_vec())
        .collect();
    let total_mb = user.mailbox.total_octets() as f64 / 1e6;
    println!(
        "Dovecot on {} (proxy {}), {:.1} MB in the mailbox",
        dovecot.plain_addr(),
        proxy.local_addr(),
        total_mb
    );

    // Output goes to tmpfs when available, so that per-message fsync() (mpop syncs every
    // delivered file) measures the protocol rather than the disk.
    let shm = Path::new("/dev/shm");
    let work = if shm.is_dir() {
        tempfile::Builder::new()
            .prefix("bench-pipelining-")
            .tempdir_in(shm)
    } else {
        tempfile::Builder::new()
            .prefix("bench-pipelining-")
            .tempdir()
    };
    let work = match work {
        Ok(w) => w,
        Err(e) => {
            eprintln!("bench: temp dir: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("output directories under {}", work.path().display());
    let fetch = match &a.fetch {
        Some(p) if p.exists() => Some(p.clone()),
        Some(p) => {
            println!(
                "NOTE: native driver {} does not exist (not built yet?); only mpop is measured",
                p.display()
            );
            None
        }
        None => {
            println!("NOTE: no --fetch given; only mpop is measured");
            None
        }
    };

    let mut failed = false;
    let mut mpop_times = Vec::new();
    let mut fetch_times = Vec::new();
    for run in 1..=a.runs {
        match run_mpop(&a.mpop, port, password, work.path(), run) {
            Ok((secs, out)) => {
                let (files, matched_lf) = count_matches(&out, &expected_lf);
                let (_, matched_crlf) = count_matches(&out, &expected_crlf);
                let ok = files == a.messages;
                println!(
                    "run {run}: mpop       {secs:7.3} s  {files} files ({} byte-exact){}",
                    matched_lf.max(matched_crlf),
                    if ok { "" } else { "  <-- WRONG COUNT" }
                );
                failed |= !ok;
                mpop_times.push(secs);
            }
            Err(e) => {
                println!("run {run}: mpop       FAILED: {e}");
                failed = true;
            }
        }
        if let Some(f) = &fetch {
            match run_fetch(f, port, password, work.path(), run) {
                Ok((secs, out)) => {
                    let (files, matched) = count_matches(&out, &expected_crlf);
                    let ok = files == a.messages && matched == a.messages;
                    println!(
                        "run {run}: pop3-fetch {secs:7.3} s  {files} files ({matched} byte-exact){}",
                        if ok { "" } else { "  <-- MISMATCH" }
                    );
                    if !ok {
                        let (_, lf) = count_matches(&out, &expected_lf);
                        if lf > 0 {
                            println!(
                                "           ({lf} files match with LF line endings instead of CRLF)"
                            );
                        }
                    }
                    failed |= !ok;
                    fetch_times.push(secs);
                }
                Err(e) => {
                    println!("run {run}: pop3-fetch FAILED: {e}");
                    failed = true;
                }
            }
        }
    }
    println!("---");
    if !mpop_times.is_empty() {
        println!("mpop       median {:.3} s", median(&mpop_times));
    }
    if !fetch_times.is_empty() {
        println!("pop3-fetch median {:.3} s", median(&fetch_times));
    }
    if !mpop_times.is_empty() && !fetch_times.is_empty() {
        println!(
            "ratio ours/mpop: {:.2}",
            median(&fetch_times) / median(&mpop_times)
        );
    } else if fetch.is_none() {
        println!("ratio ours/mpop: n/a (native driver not available)");
    }
    println!(
        "proxy: {} connections, {} bytes up, {} bytes down",
        proxy.connections(),
        proxy.bytes().0,
        proxy.bytes().1
    );
    drop(proxy);
    drop(dovecot);
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
