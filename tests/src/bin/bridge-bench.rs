//! Benchmarks for the bridge (not timed tests): relay throughput and memory per idle session.
//!
//! ```text
//! cargo xtask bench bridge throughput [--mb 100] [--runs 3] [--client rust|python]
//! cargo xtask bench bridge idle [--sessions 10000]
//! ```
//!
//! `throughput` starts a source server that writes N MB and closes, then reads the stream with
//! (1) a direct TCP read, (2) the same TCP read through a plain user-space TCP-to-TCP relay
//! (this binary in `tcp-relay` mode, its own process: blocking read/write with a 256 KiB
//! buffer, the floor for any relay that copies through user space), (3) a Rust WebSocket
//! client through `pop3-bridge` (release binary next to this one, its own process), (4) the
//! same client through `websockify` (Debian package), all in the same run, interleaved. It
//! also reports the CPU time (user/system, from /proc) of the relay process and of this
//! process (source + client) per run. With `--client python` every path is read instead by
//! `tests/bench/ws_read.py` (embedded in this binary, run with `python3 -c`; standard
//! library only), the kind of client the issue measured with: it times itself from before
//! its connect to the last byte and prints the payload byte count. `idle` opens N idle
//! sessions through `pop3-bridge` and reports the bridge process's RSS growth per session.
//! Everything is on 127.0.0.1.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

type BoxErr = Box<dyn std::error::Error + Send + Sync>;

fn arg(name: &str, default: usize) -> usize {
    str_arg(name, "").parse().unwrap_or(default)
}

fn str_arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_string())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

/// Kill the child on drop so a failed run leaves nothing behind.
struct ChildGuard(Child);
impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn wait_listening(addr: SocketAddr) -> Result<(), BoxErr> {
    for _ in 0..200 {
        if TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Err(format!("nothing listening on {addr}").into())
}

fn bridge_binary() -> PathBuf {
    let me = std::env::current_exe().unwrap_or_default();
    me.with_file_name("pop3-bridge")
}

fn start_bridge(port: u16, src_port: u16, extra: &[&str]) -> Result<ChildGuard, BoxErr> {
    let child = Command::new(bridge_binary())
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--allow-host", "127.0.0.1", "--allow-plaintext"])
        .args(["--allow-port", &src_port.to_string()])
        .args(["--log", "warn"])
        .args(extra)
        .stdout(Stdio::null())
        .spawn()?;
    Ok(ChildGuard(child))
}

/// Starts this binary in `tcp-relay` mode: a plain relay from `port` to `to`.
fn start_tcp_relay(port: u16, to: u16) -> Result<ChildGuard, BoxErr> {
    let me = std::env::current_exe()?;
    let child = Command::new(me)
        .args(["tcp-relay", "--listen-port", &port.to_string()])
        .args(["--to-port", &to.to_string()])
        .stdout(Stdio::null())
        .spawn()?;
    Ok(ChildGuard(child))
}

/// The reference relay: blocking threads, read/write with a 256 KiB buffer each way (the
/// same read size as the bridge; no WebSocket framing, no TLS, no policy).
fn tcp_relay_main() -> Result<(), BoxErr> {
    let port = arg("--listen-port", 0);
    let to = arg("--to-port", 0);
    let l = std::net::TcpListener::bind(("127.0.0.1", port as u16))?;
    for c in l.incoming() {
        let Ok(client) = c else { continue };
        let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", to as u16)) else {
            continue;
        };
        let _ = client.set_nodelay(true);
        let pump = |mut from: std::net::TcpStream, mut to: std::net::TcpStream| {
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 256 * 1024];
                loop {
                    match from.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    }
                }
                let _ = to.shutdown(std::net::Shutdown::Write);
            })
        };
        pump(server.try_clone()?, client.try_clone()?);
        pump(client, server);
    }
    Ok(())
}

/// CPU time (user, system) of a process in clock ticks (1/100 s), from /proc.
fn cpu_ticks(pid: &str) -> (u64, u64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = s.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let g = |i: usize| f.get(i).and_then(|v| v.parse().ok()).unwrap_or(0);
    (g(11), g(12))
}

/// Serves `size` bytes on every connection (after an optional greeting), then closes; or
/// with `size == 0`, greets and stays idle until the peer closes.
async fn source_server(size: usize) -> Result<SocketAddr, BoxErr> {
    let sock = tokio::net::TcpSocket::new_v4()?;
    sock.bind("127.0.0.1:0".parse()?)?;
    let l: TcpListener = sock.listen(4096)?;
    let addr = l.local_addr()?;
    let data: Arc<Vec<u8>> = Arc::new((0..size).map(|i| (i % 251) as u8).collect());
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let data = data.clone();
            tokio::spawn(async move {
                if data.is_empty() {
                    let _ = s.write_all(b"+OK idle\r\n").await;
                    let _ = s.read(&mut [0u8; 64]).await;
                } else {
                    let _ = s.write_all(&data).await;
                    let _ = s.shutdown().await;
                }
            });
        }
    });
    Ok(addr)
}

async fn direct_read(src: SocketAddr) -> Result<usize, BoxErr> {
    let mut s = TcpStream::connect(src).await?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0;
    loop {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            return Ok(total);
        }
        total += n;
    }
}

type Ws = tokio_tungstenite::WebSocketStream<TcpStream>;

async fn ws_open(url: &str, origin: Option<&str>, proto: &str) -> Result<Ws, BoxErr> {
    let mut req = url.into_client_request()?;
    if let Some(o) = origin {
        req.headers_mut().insert("origin", o.parse()?);
    }
    req.headers_mut()
        .insert("sec-websocket-protocol", proto.parse()?);
    let host = req
        .uri()
        .authority()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let tcp = TcpStream::connect(host.as_str()).await?;
    tcp.set_nodelay(true)?;
    let mut cfg = WebSocketConfig::default();
    cfg.max_message_size = Some(64 << 20);
    cfg.max_frame_size = Some(64 << 20);
    let (ws, _) = tokio_tungstenite::client_async_with_config(req, tcp, Some(cfg)).await?;
    Ok(ws)
}

async fn ws_read_all(ws: &mut Ws) -> Result<usize, BoxErr> {
    let mut total = 0;
    while let Some(m) = ws.next().await {
        match m? {
            Message::Binary(b) => total += b.len(),
            Message::Close(_) => break,
            _ => {}
        }
    }
    Ok(total)
}

async fn via_bridge(bridge: SocketAddr, src: SocketAddr) -> Result<usize, BoxErr> {
    let mut ws = ws_open(
        &format!("ws://{bridge}/pop3"),
        Some(&format!("http://{bridge}")),
        "pop3-bridge.v1",
    )
    .await?;
    let req = format!(
        r#"{{"host":"127.0.0.1","port":{},"security":"plain"}}"#,
        src.port()
    );
    ws.send(Message::text(req)).await?;
    match ws.next().await {
        Some(Ok(Message::Text(t))) if t.as_str().contains("\"ok\":true") => {}
        other => return Err(format!("bridge refused: {other:?}").into()),
    }
    ws_read_all(&mut ws).await
}

async fn via_websockify(wsf: SocketAddr) -> Result<usize, BoxErr> {
    let mut ws = ws_open(&format!("ws://{wsf}/"), None, "binary").await?;
    ws_read_all(&mut ws).await
}

/// The Python reading client (`--client python`), embedded so the binary works anywhere.
const WS_READ_PY: &str = include_str!("../../bench/ws_read.py");

/// Runs `ws_read.py` with `args` (mode, host, port, ...); returns the payload bytes it read
/// and the time it measured itself (without the interpreter's start-up).
async fn python_read(args: &[String]) -> Result<(usize, Duration), BoxErr> {
    let out = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(WS_READ_PY)
        .args(args)
        .stderr(Stdio::inherit())
        .output()
        .await?;
    if !out.status.success() {
        return Err(format!("ws_read.py {args:?} failed: {}", out.status).into());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut fields = text.split_whitespace();
    let bytes = fields.next().and_then(|v| v.parse().ok());
    let secs = fields.next().and_then(|v| v.parse().ok());
    match (bytes, secs) {
        (Some(b), Some(s)) => Ok((b, Duration::from_secs_f64(s))),
        _ => Err(format!("ws_read.py printed {text:?}").into()),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Client {
    Rust,
    Python,
}

/// Where the benchmark's relays listen.
struct Endpoints {
    src: SocketAddr,
    tcp_relay: SocketAddr,
    bridge: SocketAddr,
    websockify: SocketAddr,
}

/// One read of the whole stream along `path` by `client`: payload bytes and duration.
async fn read_once(
    client: Client,
    path: &str,
    at: &Endpoints,
) -> Result<(usize, Duration), BoxErr> {
    if client == Client::Python {
        let (mode, addr) = match path {
            "direct TCP" => ("direct", at.src),
            "TCP relay" => ("direct", at.tcp_relay),
            "pop3-bridge" => ("bridge", at.bridge),
            _ => ("websockify", at.websockify),
        };
        let mut args = vec![
            mode.to_string(),
            addr.ip().to_string(),
            addr.port().to_string(),
        ];
        if mode == "bridge" {
            args.push(at.src.port().to_string());
        }
        return python_read(&args).await;
    }
    let t = Instant::now();
    let n = match path {
        "direct TCP" => direct_read(at.src).await?,
        "TCP relay" => direct_read(at.tcp_relay).await?,
        "pop3-bridge" => via_bridge(at.bridge, at.src).await?,
        _ => via_websockify(at.websockify).await?,
    };
    Ok((n, t.elapsed()))
}

fn mbps(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / 1e6
}

async fn throughput() -> Result<(), BoxErr> {
    let mb = arg("--mb", 100);
    let runs = arg("--runs", 3);
    let client = match str_arg("--client", "rust").as_str() {
        "rust" => Client::Rust,
        "python" => Client::Python,
        other => return Err(format!("--client {other}: expected rust or python").into()),
    };
    let size = mb * 1_000_000;
    let src = source_server(size).await?;
    let bport = free_port();
    let bridge = start_bridge(bport, src.port(), &[])?;
    let baddr: SocketAddr = format!("127.0.0.1:{bport}").parse()?;
    wait_listening(baddr).await?;
    let rport = free_port();
    let relay = start_tcp_relay(rport, src.port())?;
    let raddr: SocketAddr = format!("127.0.0.1:{rport}").parse()?;
    wait_listening(raddr).await?;
    let wport = free_port();
    let wsf = Command::new("websockify")
        .args([format!("127.0.0.1:{wport}"), src.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(ChildGuard);
    let waddr: SocketAddr = format!("127.0.0.1:{wport}").parse()?;
    let wsf_ok = match &wsf {
        Ok(_) => wait_listening(waddr).await.is_ok(),
        Err(_) => false,
    };
    let wsf_pid = wsf.as_ref().map(|c| c.0.id().to_string()).ok();
    let at = Endpoints {
        src,
        tcp_relay: raddr,
        bridge: baddr,
        websockify: waddr,
    };
    let client_name = match client {
        Client::Rust => "Rust client",
        Client::Python => "Python client (tests/bench/ws_read.py)",
    };
    println!(
        "relay throughput, {mb} MB stream, {client_name}, best and median of {runs} runs (MB/s):"
    );
    struct Path {
        name: &'static str,
        relay_pid: Option<String>,
        mbps: Vec<f64>,
        relay_cpu: (u64, u64),
        self_cpu: (u64, u64),
    }
    let path = |name, relay_pid| Path {
        name,
        relay_pid,
        mbps: vec![],
        relay_cpu: (0, 0),
        self_cpu: (0, 0),
    };
    let mut results = vec![
        path("direct TCP", None),
        path("TCP relay", Some(relay.0.id().to_string())),
        path("pop3-bridge", Some(bridge.0.id().to_string())),
    ];
    if wsf_ok {
        results.push(path("websockify", wsf_pid));
    }
    // BENCH_ONLY=<name> measures one path only (for profiling).
    let only = std::env::var("BENCH_ONLY").ok();
    let sub = |a: (u64, u64), b: (u64, u64)| (a.0 - b.0, a.1 - b.1);
    for _ in 0..runs {
        for p in results.iter_mut() {
            if only.as_deref().is_some_and(|o| !p.name.contains(o)) {
                continue;
            }
            let r0 = p.relay_pid.as_deref().map(cpu_ticks).unwrap_or((0, 0));
            let s0 = cpu_ticks("self");
            let (n, d) = read_once(client, p.name, &at).await?;
            let r1 = p.relay_pid.as_deref().map(cpu_ticks).unwrap_or((0, 0));
            let s1 = cpu_ticks("self");
            let (rc, sc) = (sub(r1, r0), sub(s1, s0));
            p.relay_cpu = (p.relay_cpu.0 + rc.0, p.relay_cpu.1 + rc.1);
            p.self_cpu = (p.self_cpu.0 + sc.0, p.self_cpu.1 + sc.1);
            if n != size {
                // Reported, not fatal: a relay that loses the tail of a stream is a finding.
                println!("  {}: INCOMPLETE run, got {n} of {size} bytes", p.name);
                continue;
            }
            p.mbps.push(mbps(n, d));
        }
    }
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(|a, b| a.total_cmp(b));
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    let direct = median(&results[0].mbps);
    let tcp_relay = median(&results[1].mbps);
    let websockify = results.get(3).map_or(0.0, |p| median(&p.mbps));
    // With the Python client the reader is a child process: this process is the source only.
    let own_cpu = match client {
        Client::Rust => "source+client",
        Client::Python => "source",
    };
    for p in &results {
        if p.mbps.is_empty() {
            println!("  {:<12} no complete run", p.name);
            continue;
        }
        let best = p.mbps.iter().cloned().fold(0.0, f64::max);
        let med = median(&p.mbps);
        let n = p.mbps.len().max(1) as u64;
        let ms = |t: u64| t * 10 / n;
        let vs_websockify = if websockify > 0.0 {
            format!(", {:.2} x websockify", med / websockify)
        } else {
            String::new()
        };
        println!(
            "  {:<12} best {best:>6.0}  median {med:>6.0}  median {:.2} x direct, {:.2} x TCP relay\
             {vs_websockify}; CPU ms/run: relay user {} sys {}, {own_cpu} user {} sys {}",
            p.name,
            med / direct,
            med / tcp_relay,
            ms(p.relay_cpu.0),
            ms(p.relay_cpu.1),
            ms(p.self_cpu.0),
            ms(p.self_cpu.1),
        );
    }
    if !wsf_ok {
        println!("  websockify   not available (apt-get install websockify)");
    }
    Ok(())
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

async fn idle() -> Result<(), BoxErr> {
    let n = arg("--sessions", 10_000);
    // Both this process and the bridge need ~2 descriptors per session. As root the hard
    // limit can be raised too; the child inherits it.
    let want = (4 * n as u64 + 1024).max(65_536);
    if rlimit::setrlimit(rlimit::Resource::NOFILE, want, want).is_err() {
        let _ = rlimit::increase_nofile_limit(want);
    }
    let src = source_server(0).await?;
    let bport = free_port();
    let cap = (n + 100).to_string();
    let bridge = start_bridge(
        bport,
        src.port(),
        &[
            "--max-sessions",
            &cap,
            "--max-sessions-per-ip",
            &cap,
            "--max-connections-per-ip",
            "1000",
        ],
    )?;
    let pid = bridge.0.id();
    let baddr: SocketAddr = format!("127.0.0.1:{bport}").parse()?;
    wait_listening(baddr).await?;
    // Warm up: one session so lazily initialised state is counted in the baseline.
    let mut warm = open_idle(baddr, src).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_kib(pid);
    let mut sessions = Vec::with_capacity(n);
    let t = Instant::now();
    for chunk in 0..n.div_ceil(200) {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..200.min(n - chunk * 200) {
            set.spawn(open_idle(baddr, src));
        }
        while let Some(r) = set.join_next().await {
            sessions.push(r??);
        }
    }
    let opened = t.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss_kib(pid);
    let per = (after.saturating_sub(before)) as f64 * 1024.0 / n as f64;
    println!(
        "idle sessions: {n} opened in {:.1} s; bridge RSS {before} KiB -> {after} KiB; {:.1} KiB per session",
        opened.as_secs_f64(),
        per / 1024.0
    );
    for mut s in sessions {
        let _ = s.close(None).await;
    }
    let _ = warm.close(None).await;
    Ok(())
}

async fn open_idle(bridge: SocketAddr, src: SocketAddr) -> Result<Ws, BoxErr> {
    let mut ws = ws_open(
        &format!("ws://{bridge}/pop3"),
        Some(&format!("http://{bridge}")),
        "pop3-bridge.v1",
    )
    .await?;
    let req = format!(
        r#"{{"host":"127.0.0.1","port":{},"security":"plain"}}"#,
        src.port()
    );
    ws.send(Message::text(req)).await?;
    match ws.next().await {
        Some(Ok(Message::Text(t))) if t.as_str().contains("\"ok\":true") => {}
        other => return Err(format!("bridge refused: {other:?}").into()),
    }
    // Read the greeting so the session is fully established and idle.
    match ws.next().await {
        Some(Ok(Message::Binary(_))) => Ok(ws),
        other => Err(format!("no greeting: {other:?}").into()),
    }
}

fn main() -> Result<(), BoxErr> {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let rt = tokio::runtime::Runtime::new()?;
    match mode.as_str() {
        "throughput" => rt.block_on(throughput()),
        "idle" => rt.block_on(idle()),
        "tcp-relay" => tcp_relay_main(),
        _ => {
            eprintln!(
                "usage: bridge-bench throughput [--mb 100] [--runs 3] [--client rust|python] \
                 | idle [--sessions 10000]"
            );
            std::process::exit(2);
        }
    }
}
