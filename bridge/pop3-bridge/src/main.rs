//! pop3-bridge binary: parse flags/env/TOML, set up logging, bind, run until SIGTERM/Ctrl-C.
//! Run `pop3-bridge --help` for the options; the library in lib.rs does the work.

use std::process::ExitCode;

use clap::Parser;
use pop3_bridge::{Cli, Command, TokenAuth, TokenClaims, TokenMode, now_unix};

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

fn main() -> ExitCode {
    let cli = Cli::parse();
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
                "pop3-bridge: mint-token needs the token secret: --token-secret-file FILE or POP3_BRIDGE_TOKEN_SECRET"
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
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pop3-bridge: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
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
        pop3_bridge::run(listener, config, wait_for_signal()).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pop3-bridge: {e}");
            ExitCode::FAILURE
        }
    }
}
