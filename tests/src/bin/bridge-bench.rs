//! Benchmarks for the bridge (not timed tests): relay throughput and memory per idle session.
//!
//! ```text
//! cargo xtask bench bridge throughput [--mb 100] [--runs 3] [--client rust|python]
//! cargo xtask bench bridge idle [--sessions 10000]
//! cargo xtask bench bridge proxy [--steps 1000,2000,4000,8000] [--idle 8000]
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
//! `proxy` runs the HAProxy recipe (docs/reverse-proxy-haproxy.cfg, rendered as its test does:
//! TLS at HAProxy with a test CA, two `pop3-bridge` processes behind it, health checks on)
//! against a small POP3 server (this binary in `pop3-source` mode, its own process): for each
//! step N, N concurrent sessions through HAProxy, each a whole small exchange (connect
//! request, greeting, USER, PASS, STAT, RETR of 120 bytes, QUIT); then the same N straight to a
//! third bridge without a proxy, in the same run. Sessions are opened 200 at a time and held
//! until all N are open, then all do their exchange at once; a session's connect latency runs
//! from its TCP connect to the bridge's answer to its connect request (TLS, upgrade, connect
//! request, upstream connect) while the others are open. It reports errors and the latency
//! p50/p99 per step, then the RSS growth of HAProxy and of the two bridges per idle session
//! through the proxy. Everything is on 127.0.0.1.

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
        "proxy" => rt.block_on(proxy::run()),
        "pop3-source" => rt.block_on(proxy::pop3_source_main()),
        _ => {
            eprintln!(
                "usage: bridge-bench throughput [--mb 100] [--runs 3] [--client rust|python] \
                 | idle [--sessions 10000] | proxy [--steps 1000,2000,4000,8000] [--idle 8000]"
            );
            std::process::exit(2);
        }
    }
}

/// `proxy` mode: two bridges behind the documented HAProxy configuration against one bridge
/// without a proxy, and memory per idle session through the proxy.
mod proxy {
    use super::*;
    use e2e::TestCa;
    use e2e::proxies::{self, Proc, Via};

    /// The message RETR 1 returns (120 bytes with the CRLFs).
    const BODY: &[u8] = b"Subject: bench\r\n\r\n\
        0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567\r\n";
    const NAME: &str = "bridge.example.org";

    fn raise_fd_limit() {
        if let Ok((_, hard)) = rlimit::getrlimit(rlimit::Resource::NOFILE) {
            let _ = rlimit::setrlimit(rlimit::Resource::NOFILE, hard, hard);
        }
    }

    /// A small POP3 server: greeting, USER, PASS, STAT, RETR 1, QUIT.
    pub async fn pop3_source_main() -> Result<(), BoxErr> {
        raise_fd_limit();
        let port = arg("--port", 0) as u16;
        let sock = tokio::net::TcpSocket::new_v4()?;
        sock.set_reuseaddr(true)?;
        sock.bind(SocketAddr::from(([127, 0, 0, 1], port)))?;
        let l = sock.listen(4096)?;
        loop {
            let Ok((s, _)) = l.accept().await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            tokio::spawn(async move {
                let _ = serve_pop3(s).await;
            });
        }
    }

    async fn serve_pop3(s: TcpStream) -> std::io::Result<()> {
        use tokio::io::AsyncBufReadExt;
        let (r, mut w) = s.into_split();
        let mut r = tokio::io::BufReader::new(r);
        w.write_all(b"+OK bench POP3 ready\r\n").await?;
        let mut line = String::new();
        loop {
            line.clear();
            if r.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let cmd = line.trim_end().to_ascii_uppercase();
            let verb = cmd.split(' ').next().unwrap_or("");
            match verb {
                "USER" | "PASS" => w.write_all(b"+OK\r\n").await?,
                "STAT" => {
                    w.write_all(format!("+OK 1 {}\r\n", BODY.len()).as_bytes())
                        .await?
                }
                "RETR" => {
                    let mut out = format!("+OK {} octets\r\n", BODY.len()).into_bytes();
                    out.extend_from_slice(BODY);
                    out.extend_from_slice(b".\r\n");
                    w.write_all(&out).await?;
                }
                "QUIT" => {
                    w.write_all(b"+OK bye\r\n").await?;
                    return Ok(());
                }
                _ => w.write_all(b"-ERR unknown\r\n").await?,
            }
        }
    }

    /// A WebSocket session, over TLS through the proxy or plain to a bridge.
    enum Session {
        Tls(Box<proxies::Ws>),
        Plain(Box<Ws>),
    }

    impl Session {
        async fn send(&mut self, m: Message) -> Result<(), BoxErr> {
            match self {
                Session::Tls(w) => w.send(m).await?,
                Session::Plain(w) => w.send(m).await?,
            }
            Ok(())
        }

        async fn next(&mut self) -> Option<Result<Message, BoxErr>> {
            match self {
                Session::Tls(w) => w.next().await.map(|r| r.map_err(Into::into)),
                Session::Plain(w) => w.next().await.map(|r| r.map_err(Into::into)),
            }
        }

        /// Relayed bytes until they end with `end`.
        async fn read_until(&mut self, end: &[u8]) -> Result<Vec<u8>, BoxErr> {
            let mut buf = Vec::new();
            while !buf.ends_with(end) {
                match self.next().await {
                    Some(Ok(Message::Binary(b))) => buf.extend_from_slice(&b),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    other => return Err(format!("stream ended: {other:?}").into()),
                }
            }
            Ok(buf)
        }

        async fn cmd(&mut self, c: &str, end: &[u8]) -> Result<Vec<u8>, BoxErr> {
            self.send(Message::binary(format!("{c}\r\n").into_bytes()))
                .await?;
            let a = self.read_until(end).await?;
            if !a.starts_with(b"+OK") {
                return Err(format!("{c}: {}", String::from_utf8_lossy(&a)).into());
            }
            Ok(a)
        }
    }

    #[derive(Clone)]
    enum Path {
        Proxy(Via),
        Direct(SocketAddr),
    }

    /// Opens a session and connects it to the source; returns it (greeting read) and the
    /// connect latency.
    async fn open(path: &Path, src_port: u16, n: usize) -> Result<(Session, Duration), BoxErr> {
        let t = Instant::now();
        let mut s = match path {
            Path::Proxy(via) => {
                // Clients from many loopback addresses, as a proxy sees them.
                let from = format!("127.0.{}.{}", 1 + n / 250 % 250, 1 + n % 250);
                let ws = proxies::ws_open(&via.from(&from), &[])
                    .await
                    .map_err(|e| format!("{e:?}"))?;
                Session::Tls(Box::new(ws))
            }
            Path::Direct(addr) => Session::Plain(Box::new(
                ws_open(
                    &format!("ws://{addr}/pop3"),
                    Some(&format!("http://{addr}")),
                    "pop3-bridge.v1",
                )
                .await?,
            )),
        };
        let req = format!(r#"{{"host":"127.0.0.1","port":{src_port},"security":"plain"}}"#);
        s.send(Message::text(req)).await?;
        match s.next().await {
            Some(Ok(Message::Text(t))) if t.as_str().contains("\"ok\":true") => {}
            other => return Err(format!("bridge refused: {other:?}").into()),
        }
        let latency = t.elapsed();
        s.read_until(b"\r\n").await?;
        Ok((s, latency))
    }

    async fn exchange(mut s: Session) -> Result<(), BoxErr> {
        s.cmd("USER bench", b"\r\n").await?;
        s.cmd("PASS bench", b"\r\n").await?;
        s.cmd("STAT", b"\r\n").await?;
        let retr = s.cmd("RETR 1", b"\r\n.\r\n").await?;
        let start = retr.windows(2).position(|w| w == b"\r\n").unwrap_or(0) + 2;
        if retr.get(start..retr.len() - 3) != Some(BODY) {
            return Err("RETR 1: wrong bytes".into());
        }
        s.cmd("QUIT", b"\r\n").await?;
        // The bridge closes after the server's close: 1000.
        loop {
            match s.next().await {
                Some(Ok(Message::Close(Some(c)))) if u16::from(c.code) == 1000 => return Ok(()),
                Some(Ok(Message::Close(c))) => return Err(format!("close {c:?}").into()),
                Some(Ok(_)) => {}
                other => return Err(format!("no close after QUIT: {other:?}").into()),
            }
        }
    }

    struct Step {
        ok: usize,
        errors: usize,
        first_error: Option<String>,
        p50: Duration,
        p99: Duration,
    }

    /// N concurrent sessions along `path`: opened 200 at a time, held until all are open, then
    /// every exchange at once.
    async fn step(path: &Path, src_port: u16, n: usize) -> Step {
        let barrier = Arc::new(tokio::sync::Barrier::new(n + 1));
        let gate = Arc::new(tokio::sync::Semaphore::new(200));
        let mut set = tokio::task::JoinSet::new();
        for i in 0..n {
            let (path, barrier, gate) = (path.clone(), barrier.clone(), gate.clone());
            set.spawn(async move {
                let permit = gate.acquire_owned().await;
                // A session the proxy never takes (over its connection limit) is an error
                // after 30 s, not a hang.
                let opened =
                    match tokio::time::timeout(Duration::from_secs(30), open(&path, src_port, i))
                        .await
                    {
                        Ok(r) => r,
                        Err(_) => Err("no answer to the connect request within 30 s".into()),
                    };
                drop(permit);
                barrier.wait().await;
                let (s, latency) = opened.map_err(|e| e.to_string())?;
                match tokio::time::timeout(Duration::from_secs(60), exchange(s)).await {
                    Ok(r) => r.map_err(|e| e.to_string())?,
                    Err(_) => return Err("the exchange did not end within 60 s".to_string()),
                }
                Ok::<Duration, String>(latency)
            });
        }
        barrier.wait().await;
        let mut lat = Vec::with_capacity(n);
        let (mut errors, mut first_error) = (0, None);
        while let Some(r) = set.join_next().await {
            match r {
                Ok(Ok(l)) => lat.push(l),
                Ok(Err(e)) => {
                    errors += 1;
                    first_error.get_or_insert(e);
                }
                Err(e) => {
                    errors += 1;
                    first_error.get_or_insert(e.to_string());
                }
            }
        }
        lat.sort();
        let q = |p: f64| {
            lat.get(((lat.len() as f64 * p).ceil() as usize).saturating_sub(1))
                .copied()
                .unwrap_or_default()
        };
        Step {
            ok: lat.len(),
            errors,
            first_error,
            p50: q(0.5),
            p99: q(0.99),
        }
    }

    fn start_bench_bridge(
        port: u16,
        src_port: u16,
        behind_proxy: bool,
    ) -> Result<ChildGuard, BoxErr> {
        let big = "100000";
        let mut extra = vec![
            "--max-sessions",
            big,
            "--max-sessions-per-ip",
            big,
            "--max-connections",
            big,
            "--max-connections-per-ip",
            big,
        ];
        if behind_proxy {
            extra.extend([
                "--behind-proxy",
                "--trusted-proxy",
                "127.0.0.1",
                "--public-host",
                NAME,
            ]);
        }
        start_bridge(port, src_port, &extra)
    }

    pub async fn run() -> Result<(), BoxErr> {
        raise_fd_limit();
        let steps: Vec<usize> = str_arg("--steps", "1000,2000,4000,8000")
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        let idle_n = arg("--idle", 8000);
        let dir = tempfile::tempdir()?;
        let src_port = free_port();
        let me = std::env::current_exe()?;
        let src = Command::new(me)
            .args(["pop3-source", "--port", &src_port.to_string()])
            .stdout(Stdio::null())
            .spawn()
            .map(ChildGuard)?;
        wait_listening(SocketAddr::from(([127, 0, 0, 1], src_port))).await?;
        let (p1, p2, p3) = (free_port(), free_port(), free_port());
        let b1 = start_bench_bridge(p1, src_port, true)?;
        let b2 = start_bench_bridge(p2, src_port, true)?;
        let direct = start_bench_bridge(p3, src_port, false)?;
        for p in [p1, p2, p3] {
            wait_listening(SocketAddr::from(([127, 0, 0, 1], p))).await?;
        }
        // HAProxy from the documented recipe, as its test renders it.
        let ca = TestCa::new()?;
        let cert = ca.issue(&[NAME], e2e::Validity::Valid)?;
        let pem = dir.path().join("bridge.pem");
        std::fs::write(&pem, format!("{}{}", cert.cert_pem, cert.key_pem))?;
        let port = free_port();
        let cfg = proxies::render(
            &proxies::read_doc("reverse-proxy-haproxy.cfg"),
            &[
                (
                    "    log /dev/log local0",
                    "    log stderr format raw local0".into(),
                ),
                (
                    "/run/haproxy/admin.sock",
                    dir.path().join("admin.sock").display().to_string(),
                ),
                (
                    "bind :443 ssl crt /etc/haproxy/certs/bridge.example.org.pem",
                    format!("bind 127.0.0.1:{port} ssl crt {}", pem.display()),
                ),
                ("127.0.0.1:8081", format!("127.0.0.1:{p1}")),
                ("127.0.0.1:8082", format!("127.0.0.1:{p2}")),
            ],
        );
        let proxy_addr = SocketAddr::from(([127, 0, 0, 1], port));
        let haproxy: Proc = proxies::start_haproxy(dir.path(), &cfg, proxy_addr).await;
        let via = Via {
            proxy: proxy_addr,
            name: NAME.into(),
            from: "127.0.0.1".parse()?,
            tls: proxies::tls_connector(&ca),
        };
        let proxied = Path::Proxy(via);
        let plain = Path::Direct(SocketAddr::from(([127, 0, 0, 1], p3)));
        // Let the health checks see both bridges up.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let show = |name: &str, n: usize, s: &Step| {
            println!(
                "  {name:<28} {n:>6} sessions: {:>6} ok, {:>5} errors, connect p50 {:>7.1} ms, p99 {:>7.1} ms{}",
                s.ok,
                s.errors,
                s.p50.as_secs_f64() * 1e3,
                s.p99.as_secs_f64() * 1e3,
                s.first_error
                    .as_deref()
                    .map(|e| format!(" (first error: {e})"))
                    .unwrap_or_default()
            );
        };
        // Memory per idle session through the proxy, first, while the processes are fresh
        // (after the load steps their heaps keep memory they could reuse).
        let pids = [
            (haproxy_pid(&haproxy), "HAProxy"),
            (b1.0.id(), "bridge 1"),
            (b2.0.id(), "bridge 2"),
        ];
        if idle_n > 0 {
            let mut warm = Vec::new();
            for i in 0..10.min(idle_n) {
                warm.push(open(&proxied, src_port, i).await?.0);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            let before: Vec<u64> = pids.iter().map(|(p, _)| rss_kib(*p)).collect();
            let mut held = Vec::with_capacity(idle_n);
            let gate = Arc::new(tokio::sync::Semaphore::new(200));
            let mut set = tokio::task::JoinSet::new();
            for i in 0..idle_n {
                let (path, gate) = (proxied.clone(), gate.clone());
                set.spawn(async move {
                    let _p = gate.acquire_owned().await;
                    open(&path, src_port, 10 + i)
                        .await
                        .map(|(s, _)| s)
                        .map_err(|e| e.to_string())
                });
            }
            let mut failed = 0;
            while let Some(r) = set.join_next().await {
                match r {
                    Ok(Ok(s)) => held.push(s),
                    _ => failed += 1,
                }
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
            let after: Vec<u64> = pids.iter().map(|(p, _)| rss_kib(*p)).collect();
            let n = held.len().max(1) as f64;
            println!(
                "idle sessions through HAProxy: {} open ({failed} failed)",
                held.len()
            );
            // Each bridge carries about half of the sessions: per proxied session, and per session
            // it holds itself.
            let mut sum = 0.0;
            for (i, (_, name)) in pids.iter().enumerate() {
                let per = after[i].saturating_sub(before[i]) as f64 / n;
                sum += per;
                let own = if i == 0 {
                    String::new()
                } else {
                    format!(" ({:.1} KiB per session it holds)", per * 2.0)
                };
                println!(
                    "  {name:<9} RSS {} KiB -> {} KiB: {per:.1} KiB per proxied session{own}",
                    before[i], after[i]
                );
            }
            println!("  together  {sum:.1} KiB per idle session through the proxy");
            drop(held);
            drop(warm);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        println!(
            "concurrent sessions, each a small POP3 exchange (connect request, greeting, USER, \
             PASS, STAT, RETR 120 B, QUIT); connect latency = TCP connect to the bridge's answer"
        );
        for &n in &steps {
            let a = step(&proxied, src_port, n).await;
            show("2 bridges behind HAProxy", n, &a);
            tokio::time::sleep(Duration::from_secs(1)).await;
            let b = step(&plain, src_port, n).await;
            show("1 bridge, no proxy", n, &b);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        drop((src, b1, b2, direct, haproxy));
        Ok(())
    }

    fn haproxy_pid(p: &Proc) -> u32 {
        p.id()
    }
}
