//! `delay-proxy --listen ADDR --upstream ADDR --delay-ms N`: a TCP proxy adding N ms of one-way
//! delay in each direction without limiting throughput. Runs until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use e2e::DelayProxy;

const USAGE: &str = "usage: delay-proxy --listen 127.0.0.1:PORT --upstream HOST:PORT --delay-ms N";

fn parse() -> Result<(SocketAddr, SocketAddr, Duration), String> {
    let mut listen = None;
    let mut upstream = None;
    let mut delay = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let (key, inline) = match a.split_once('=') {
            Some((k, v)) => (k.to_owned(), Some(v.to_owned())),
            None => (a.clone(), None),
        };
        if key == "-h" || key == "--help" {
            return Err(USAGE.to_owned());
        }
        let value = match inline {
            Some(v) => v,
            None => args
                .next()
                .ok_or_else(|| format!("{key} needs a value\n{USAGE}"))?,
        };
        match key.as_str() {
            "--listen" => listen = Some(value.parse().map_err(|e| format!("--listen: {e}"))?),
            "--upstream" => upstream = Some(value.parse().map_err(|e| format!("--upstream: {e}"))?),
            "--delay-ms" => {
                delay = Some(Duration::from_millis(
                    value.parse().map_err(|e| format!("--delay-ms: {e}"))?,
                ))
            }
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok((
        listen.ok_or_else(|| format!("--listen is required\n{USAGE}"))?,
        upstream.ok_or_else(|| format!("--upstream is required\n{USAGE}"))?,
        delay.ok_or_else(|| format!("--delay-ms is required\n{USAGE}"))?,
    ))
}

fn main() -> ExitCode {
    let (listen, upstream, delay) = match parse() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let proxy = match DelayProxy::start(listen, upstream, delay) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("delay-proxy: cannot listen on {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "delay-proxy: {} -> {} with {} ms each way",
        proxy.local_addr(),
        upstream,
        delay.as_millis()
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    });
    drop(proxy);
    ExitCode::SUCCESS
}
