//! pop3-bridge binary: parse flags/env/TOML, set up logging, bind, run until SIGTERM/Ctrl-C.
//! Run `pop3-bridge --help` for the options; the library in lib.rs does the work. Started by
//! socket activation (`LISTEN_FDS`, see listen.rs), it serves on the inherited socket instead.

mod listen;

use std::process::ExitCode;

use clap::Parser;
use pop3_bridge::{Cli, Command, TokenAuth, TokenClaims, TokenMode, now_unix};

/// Run the bridge on `listener` until SIGTERM/Ctrl-C, reloading on SIGHUP.
async fn serve(
    listener: tokio::net::TcpListener,
    config: pop3_bridge::Config,
    opts: pop3_bridge::CliOpts,
) -> Result<(), pop3_bridge::BridgeError> {
    let bridge = pop3_bridge::Bridge::new(config);
    reload_on_hangup(bridge.reloader(), opts);
    bridge.run(listener, wait_for_signal()).await
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// SIGHUP: read the configuration again the way start-up did (the same flags, environment and
/// file; secret and certificate files read anew) and apply it to the running bridge: policy,
/// tokens, upstream TLS and the listener certificate change for new sessions, open sessions
/// keep theirs. A configuration that cannot be read, or that the bridge refuses, is logged and
/// the running one stays. Registered before the bridge runs, so that a SIGHUP never ends the
/// process (the default action).
#[cfg(not(unix))]
fn reload_on_hangup(_: pop3_bridge::Reloader, _: pop3_bridge::CliOpts) {}

#[cfg(unix)]
fn reload_on_hangup(reloader: pop3_bridge::Reloader, opts: pop3_bridge::CliOpts) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch for SIGHUP: reloading is off");
            return;
        }
    };
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading the configuration");
            let opts = opts.clone();
            // Reads files: off the runtime's threads.
            let config = match tokio::task::spawn_blocking(move || opts.reload_config()).await {
                Ok(Ok(config)) => config,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "configuration reload refused: the running configuration stays");
                    continue;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "configuration reload failed: the running configuration stays");
                    continue;
                }
            };
            // The bridge logs what it applied, what needs a restart, or why it refused.
            let _ = reloader.reload(config).await;
        }
    });
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Kept for SIGHUP, which reads the configuration again from the same sources.
    let opts = cli.opts.clone();
    let (config, log) = match cli.opts.into_config() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("pop3-bridge: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(Command::MintToken { host, port, ttl }) = cli.command {
        let Some(secret) = &config.token_secret else {
            eprintln!(
                "pop3-bridge: mint-token needs the token secret: --token-secret-file FILE, POP3_BRIDGE_TOKEN_SECRET or the systemd credential token-secret"
            );
            return ExitCode::from(2);
        };
        let auth = TokenAuth::new(TokenMode::Hmac, secret.as_bytes());
        println!(
            "{}",
            auth.mint(&TokenClaims {
                host,
                port,
                exp: now_unix() + ttl,
                nbf: None
            })
        );
        return ExitCode::SUCCESS;
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&log)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    // Each session needs two descriptors; raise the soft limit to the hard one.
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        tracing::warn!(error = %e, "could not raise the open-file limit");
    }
    let inherited = match listen::inherited() {
        Ok(l) => l,
        Err(e) => {
            eprintln!("pop3-bridge: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pop3-bridge: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        if let Some(l) = inherited {
            l.set_nonblocking(true)?;
            let listener = tokio::net::TcpListener::from_std(l)?;
            tracing::info!(
                addr = %listener.local_addr()?,
                "socket activation: serving on the inherited socket (listen is not used)"
            );
            return serve(listener, config, opts).await;
        }
        // A deep accept queue: a burst of sessions must not overflow it (an overflowing
        // queue delays connections by seconds of SYN-ACK retries).
        let socket = if config.listen.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.bind(config.listen)?;
        let listener = socket.listen(4096)?;
        serve(listener, config, opts).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pop3-bridge: {e}");
            ExitCode::FAILURE
        }
    }
}
