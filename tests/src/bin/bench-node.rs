//! `bench-node`: downloads N messages from Dovecot through a latency-adding proxy with the npm
//! package in Node over a direct socket (`connect({ direct: true })`, no bridge) and with mpop,
//! alternating, and reports median times and their ratio. A benchmark, not a test.
//!
//! Both speak plain POP3 with USER/PASS through the same proxy to Dovecot's plain port (mpop
//! as in bench-pipelining; Node with `allowInsecure`), so the comparison is protocol against
//! protocol; `--tls` adds Node over implicit TLS through a second proxy to the TLS port.
//! Every message each client saved is compared byte for byte.
//!
//! Needs the packed package and the runtimes, as the npm tests do:
//! `POP3_NPM_PACKAGE=/path/pop3-web-X.tgz POP3_NPM_RUNTIMES=xtask/runtimes cargo run -p e2e
//! --bin bench-node -- [--messages 1000] [--size 4096] [--delay-ms 25] [--runs 3] [--mpop PATH]
//! [--tls] [--workerd]`. `--workerd` adds the package in workerd through the bridge (the delay
//! between workerd and the bridge, implicit TLS from the bridge to Dovecot).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use e2e::bench::{count_matches, median, run_mpop};
use e2e::{DelayProxy, Dovecot, DovecotOptions, Mailbox, npm};

/// The Node job: sign in directly, download every message (pipelined, `download()`), write
/// each to a file, QUIT. Prints the count.
const JOB: &str = r#"import { writeFileSync } from 'node:fs';
import * as api from 'pop3-web';
const cfg = JSON.parse(process.env.POP3_JOB);
await api.wasm();
const t0 = performance.now();
const s = await api.connect({ direct: true, host: '127.0.0.1', port: cfg.port, security: cfg.security,
  allowInsecure: cfg.security === 'plain', mechanisms: cfg.security === 'plain' ? ['USER'] : undefined,
  user: cfg.user, password: cfg.password });
const list = await s.list();
let n = 0;
await s.download(list.map((m) => m.msg), { onMessage: (msg, bytes) => { writeFileSync(`${cfg.out}/${msg}.eml`, bytes); n++; } });
await s.quit();
console.log(JSON.stringify({ count: n, ms: performance.now() - t0 }));
"#;

/// The workerd job: through the bridge (implicit TLS from the bridge to Dovecot), download every
/// message (pipelined), QUIT; answers with the session's time and the messages in base64.
const WORKER: &str = r#"import * as api from 'pop3-web';
const b64 = (bytes) => { let s = ''; for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000)); return btoa(s); };
export default {
  async fetch(request) {
    const cfg = await request.json();
    await api.wasm();
    const t0 = Date.now();
    const s = await api.connect({ bridgeUrl: cfg.bridgeUrl, host: cfg.host, port: cfg.port, security: 'tls', user: cfg.user, password: cfg.password });
    const list = await s.list();
    const messages = [];
    await s.download(list.map((m) => m.msg), { onMessage: (msg, bytes) => { messages.push(b64(bytes)); } });
    await s.quit();
    return Response.json({ ms: Date.now() - t0, messages });
  },
};
"#;

/// The bridge in this process (its own runtime on a thread), allowing Dovecot's TLS port and
/// trusting its CA; its address.
fn start_bridge(dovecot: &Dovecot) -> std::io::Result<std::net::SocketAddr> {
    let mut c = pop3_bridge::Config {
        listen: "127.0.0.1:0".parse().expect("an address"),
        ..pop3_bridge::Config::default()
    };
    c.allow_hosts = vec!["localhost".into(), "127.0.0.1".into()];
    c.allow_ports = vec![dovecot.tls_port()];
    c.extra_ca = vec![dovecot.ca_pem_path().to_path_buf()];
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().expect("a runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let _ = pop3_bridge::Bridge::new(c)
                .run(listener, std::future::pending::<()>())
                .await;
        });
    });
    Ok(addr)
}

/// One workerd run: POSTs the job and writes the messages it got to files; wall time of the
/// request and the session's own time (connect to QUIT, inside the Worker).
fn workerd_run(port: u16, job: &serde_json::Value, out: &Path) -> Result<(f64, f64), String> {
    fs::create_dir_all(out).map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let t = Instant::now();
    let (status, body) = rt.block_on(npm::post(port, &job.to_string()));
    let secs = t.elapsed().as_secs_f64();
    let v: serde_json::Value = serde_json::from_str(&body).map_err(|e| {
        format!(
            "the worker answered {status}: {e}: {}",
            &body[..body.len().min(300)]
        )
    })?;
    let messages = v["messages"]
        .as_array()
        .ok_or("no messages in the answer")?;
    for (i, m) in messages.iter().enumerate() {
        let bytes = m
            .as_str()
            .and_then(|s| e2e::browser::decode_base64(s.as_bytes()))
            .ok_or("a message is not base64")?;
        fs::write(out.join(format!("{i}.eml")), bytes).map_err(|e| e.to_string())?;
    }
    Ok((secs, v["ms"].as_f64().unwrap_or(0.0) / 1000.0))
}

struct Args {
    messages: usize,
    size: usize,
    delay_ms: u64,
    runs: usize,
    mpop: PathBuf,
    tls: bool,
    workerd: bool,
}

fn parse_args() -> Args {
    let mut a = Args {
        messages: 1000,
        size: 4096,
        delay_ms: 25,
        runs: 3,
        mpop: PathBuf::from("mpop"),
        tls: false,
        workerd: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        if k == "--tls" {
            a.tls = true;
            continue;
        }
        if k == "--workerd" {
            a.workerd = true;
            continue;
        }
        let v = it.next().unwrap_or_else(|| {
            eprintln!("{k} needs a value");
            std::process::exit(2)
        });
        match k.as_str() {
            "--messages" => a.messages = v.parse().expect("--messages"),
            "--size" => a.size = v.parse().expect("--size"),
            "--delay-ms" => a.delay_ms = v.parse().expect("--delay-ms"),
            "--runs" => a.runs = v.parse().expect("--runs"),
            "--mpop" => a.mpop = PathBuf::from(v),
            _ => {
                eprintln!(
                    "usage: bench-node [--messages N] [--size BYTES] [--delay-ms MS] [--runs N] [--mpop PATH] [--tls] [--workerd]"
                );
                std::process::exit(2)
            }
        }
    }
    a
}

struct NodeRun<'a> {
    project: &'a Path,
    ca: &'a Path,
    work: &'a Path,
    password: &'a str,
}

impl NodeRun<'_> {
    /// Wall time of the whole process (what mpop's figure is), the session's own time (connect
    /// to QUIT, measured in Node after the wasm was loaded), and the output directory.
    fn run(&self, port: u16, security: &str, run: usize) -> Result<(f64, f64, PathBuf), String> {
        let out = self.work.join(format!("node-{security}-out-{run}"));
        fs::create_dir_all(&out).map_err(|e| e.to_string())?;
        let job = serde_json::json!({
            "port": port, "security": security, "user": "bench", "password": self.password,
            "out": out,
        });
        let t = Instant::now();
        let res = Command::new("node")
            .arg("bench-job.mjs")
            .env("POP3_JOB", job.to_string())
            .env("NODE_EXTRA_CA_CERTS", self.ca)
            .current_dir(self.project)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("running node: {e}"))?;
        let secs = t.elapsed().as_secs_f64();
        if !res.status.success() {
            return Err(format!(
                "node failed ({}): {}{}",
                res.status,
                String::from_utf8_lossy(&res.stdout),
                String::from_utf8_lossy(&res.stderr)
            ));
        }
        let stdout = String::from_utf8_lossy(&res.stdout);
        let ms = stdout
            .lines()
            .last()
            .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .and_then(|v| v["ms"].as_f64())
            .ok_or_else(|| format!("node printed no result: {stdout}"))?;
        Ok((secs, ms / 1000.0, out))
    }
}

fn main() -> ExitCode {
    let a = parse_args();
    let Some((tgz, runtimes)) = npm::inputs("bench-node") else {
        return ExitCode::FAILURE;
    };
    let password = "bench-password";
    println!(
        "node direct-socket bench: {} messages of ~{} B, {} ms one-way delay, {} runs each",
        a.messages, a.size, a.delay_ms, a.runs
    );
    let dovecot = match Dovecot::start(
        DovecotOptions::new()
            .user(
                "bench",
                password,
                Mailbox::new(a.messages).size(a.size).seed(7),
            )
            .oauth2(false),
    ) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("bench: Dovecot did not start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let delay = Duration::from_millis(a.delay_ms);
    let (plain, tls) = match (
        DelayProxy::start_local(dovecot.plain_addr(), delay),
        DelayProxy::start_local(dovecot.tls_addr(), delay),
    ) {
        (Ok(p), Ok(t)) => (p, t),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("bench: proxy did not start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let user = dovecot.user("bench");
    let expected_crlf: Vec<Vec<u8>> = (0..a.messages)
        .map(|i| user.mailbox.expected_bytes(i))
        .collect();
    let expected_lf: Vec<Vec<u8>> = (0..a.messages)
        .map(|i| user.mailbox.raw(i).to_vec())
        .collect();
    println!(
        "Dovecot plain {} (proxy {}), TLS {} (proxy {}), {:.1} MB in the mailbox",
        dovecot.plain_addr(),
        plain.local_addr(),
        dovecot.tls_addr(),
        tls.local_addr(),
        user.mailbox.total_octets() as f64 / 1e6
    );
    // tmpfs when there is one: mpop fsyncs every file; the protocol is measured, not the disk.
    let shm = Path::new("/dev/shm");
    let mut builder = tempfile::Builder::new();
    builder.prefix("bench-node-");
    let work = match if shm.is_dir() {
        builder.tempdir_in(shm)
    } else {
        builder.tempdir()
    } {
        Ok(w) => w,
        Err(e) => {
            eprintln!("bench: temp dir: {e}");
            return ExitCode::FAILURE;
        }
    };
    let project = npm::scratch_project(&tgz, &runtimes, &[]);
    if let Err(e) = fs::write(project.path().join("bench-job.mjs"), JOB) {
        eprintln!("bench: job: {e}");
        return ExitCode::FAILURE;
    }
    let node = NodeRun {
        project: project.path(),
        ca: dovecot.ca_pem_path(),
        work: work.path(),
        password,
    };

    // workerd through the bridge, with the delay between workerd and the bridge.
    let mut workerd_setup = None;
    if a.workerd {
        let started = start_bridge(&dovecot).and_then(|bridge| {
            let proxy = DelayProxy::start_local(bridge, delay)?;
            let port = e2e::dovecot::free_port()?;
            fs::write(project.path().join("bench-worker.js"), WORKER)?;
            let config = project.path().join("bench.capnp");
            fs::write(
                &config,
                npm::workerd_config(project.path(), port, "bench-worker.js", &[], None),
            )?;
            Ok((proxy, port, config))
        });
        match started {
            Ok((proxy, port, config)) => {
                let w = npm::Workerd::serve(&runtimes, project.path(), &config, port);
                let job = serde_json::json!({
                    "bridgeUrl": format!("ws://{}/pop3", proxy.local_addr()),
                    "host": dovecot.host(), "port": dovecot.tls_port(),
                    "user": "bench", "password": password,
                });
                workerd_setup = Some((proxy, port, w, job));
            }
            Err(e) => {
                eprintln!("bench: workerd setup: {e}");
                return ExitCode::FAILURE;
            }
        }
    }

    let mut failed = false;
    let (mut mpop_t, mut node_t, mut tls_t) = (Vec::new(), Vec::new(), Vec::new());
    let (mut workerd_t, mut workerd_s) = (Vec::new(), Vec::new());
    let (mut node_s, mut tls_s) = (Vec::new(), Vec::new());
    let mut report = |label: &str, r: Result<(f64, PathBuf), String>, times: &mut Vec<f64>| match r
    {
        Ok((secs, out)) => {
            let (files, crlf) = count_matches(&out, &expected_crlf);
            let (_, lf) = count_matches(&out, &expected_lf);
            let ok = files == a.messages && crlf.max(lf) == a.messages;
            println!(
                "{label} {secs:7.3} s  {files} files ({} byte-exact){}",
                crlf.max(lf),
                if ok { "" } else { "  <-- MISMATCH" }
            );
            failed |= !ok;
            times.push(secs);
        }
        Err(e) => {
            println!("{label} FAILED: {e}");
            failed = true;
        }
    };
    for run in 1..=a.runs {
        if let Some((_, port, _, job)) = &workerd_setup {
            let out = work.path().join(format!("workerd-out-{run}"));
            let r = workerd_run(*port, job, &out);
            if let Ok((_, session)) = &r {
                workerd_s.push(*session);
            }
            report(
                &format!("run {run}: workerd    "),
                r.map(|(wall, _)| (wall, out)),
                &mut workerd_t,
            );
        }
        let r = run_mpop(
            &a.mpop,
            plain.local_addr().port(),
            password,
            work.path(),
            run,
        );
        report(&format!("run {run}: mpop       "), r, &mut mpop_t);
        let r = node.run(plain.local_addr().port(), "plain", run);
        if let Ok((_, session, _)) = &r {
            node_s.push(*session);
        }
        report(
            &format!("run {run}: node plain "),
            r.map(|(wall, _, out)| (wall, out)),
            &mut node_t,
        );
        if a.tls {
            let r = node.run(tls.local_addr().port(), "tls", run);
            if let Ok((_, session, _)) = &r {
                tls_s.push(*session);
            }
            report(
                &format!("run {run}: node tls   "),
                r.map(|(wall, _, out)| (wall, out)),
                &mut tls_t,
            );
        }
    }
    println!("---");
    let m = median(&mpop_t);
    println!("mpop        median {m:.3} s");
    for (label, t, session) in [
        ("node plain", &node_t, &node_s),
        ("node tls  ", &tls_t, &tls_s),
        ("workerd   ", &workerd_t, &workerd_s),
    ] {
        if !t.is_empty() {
            let (n, ns) = (median(t), median(session));
            println!(
                "{label}  median {n:.3} s  ({:.2} x mpop); the session alone (connect to QUIT, wasm loaded) {ns:.3} s ({:.2} x mpop)",
                n / m,
                ns / m
            );
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
