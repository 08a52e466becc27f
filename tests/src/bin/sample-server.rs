//! `sample-server`: a real Dovecot with a friendly demo mailbox for manual testing.
//!
//! User `demo`, password `demo`, 25 sample messages; POP3 with STLS on 127.0.0.1:1110 and POP3
//! over TLS on 127.0.0.1:1995 (change with `--plain-port`/`--tls-port`). The certificate is for
//! `localhost` and `127.0.0.1`, signed by a CA kept in `--run-dir` (default `.run`) as `ca.pem`,
//! so it stays the same across runs. Runs in the foreground until Ctrl-C or SIGTERM.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use e2e::maildir::Style;
use e2e::{Dovecot, DovecotOptions, Mailbox, TestCa};

fn main() -> ExitCode {
    let mut run_dir = PathBuf::from(".run");
    let mut plain_port = 1110u16;
    let mut tls_port = 1995u16;
    let mut messages = 25usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| {
            args.next().unwrap_or_else(|| {
                eprintln!("{name} needs a value");
                std::process::exit(2)
            })
        };
        match a.as_str() {
            "--run-dir" => run_dir = PathBuf::from(value("--run-dir")),
            "--plain-port" => plain_port = value("--plain-port").parse().expect("port"),
            "--tls-port" => tls_port = value("--tls-port").parse().expect("port"),
            "--messages" => messages = value("--messages").parse().expect("count"),
            _ => {
                eprintln!(
                    "usage: sample-server [--run-dir DIR] [--plain-port 1110] [--tls-port 1995] [--messages 25]"
                );
                return ExitCode::from(2);
            }
        }
    }
    let ca = match TestCa::load_or_create(&run_dir) {
        Ok(ca) => Arc::new(ca),
        Err(e) => {
            eprintln!(
                "sample-server: cannot load or create the CA in {}: {e}",
                run_dir.display()
            );
            return ExitCode::FAILURE;
        }
    };
    let mailbox = Mailbox::new(messages)
        .style(Style::Friendly)
        .size(900)
        .seed(2024)
        .recipient("demo@localhost");
    let opts = DovecotOptions::new()
        .user("demo", "demo", mailbox)
        .ports(plain_port, tls_port)
        .ca(ca);
    let mut dovecot = match Dovecot::start(opts) {
        Ok(d) => d,
        Err(e) => {
            eprintln!(
                "sample-server: Dovecot did not start on 127.0.0.1:{plain_port}/{tls_port} \
                 (is another instance still running?): {e}"
            );
            return ExitCode::FAILURE;
        }
    };
    let ca_path = std::fs::canonicalize(run_dir.join("ca.pem")).unwrap_or(run_dir.join("ca.pem"));
    println!("sample-server: Dovecot is running");
    println!(
        "  POP3 + STLS : 127.0.0.1:{} (localhost)",
        dovecot.plain_port()
    );
    println!(
        "  POP3 over TLS: 127.0.0.1:{} (localhost)",
        dovecot.tls_port()
    );
    println!("  user demo / password demo, {messages} messages");
    println!("  CA certificate: {}", ca_path.display());
    println!(
        "  Dovecot log: {}",
        dovecot.dir().join("dovecot.log").display()
    );
    println!("  stop with Ctrl-C");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let died = rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => return false,
                _ = term.recv() => return false,
                _ = tick.tick() => {
                    if !dovecot.is_running() {
                        return true;
                    }
                }
            }
        }
    });
    if died {
        eprintln!(
            "sample-server: Dovecot exited unexpectedly:\n{}",
            dovecot.log()
        );
        return ExitCode::FAILURE;
    }
    println!("sample-server: stopping");
    drop(dovecot);
    ExitCode::SUCCESS
}
