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
        .recipient("demo@localhost")
        // Two newest messages show what the reader does with real-world mail.
        .raw_message(DEMO_ATTACHMENT)
        .raw_message(DEMO_HTML);
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

/// An HTML message with an inline (cid:) image and a plain-text alternative: shown sanitized in
/// the sandboxed frame, with "Show plain text".
const DEMO_HTML: &str = "From: Newsletter <news@example.org>\r\n\
To: demo@localhost\r\n\
Subject: =?UTF-8?Q?Welcome_=E2=80=94_formatted_mail,_safely?=\r\n\
Date: Fri, 27 Nov 2026 09:30:00 +0000\r\n\
Message-ID: <demo-html@example.org>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/related; boundary=\"rel\"\r\n\
\r\n\
--rel\r\n\
Content-Type: multipart/alternative; boundary=\"alt\"\r\n\
\r\n\
--alt\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Welcome! This is the plain-text version of a formatted message.\r\n\
--alt\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<html><body style=\"font-family: sans-serif\">\r\n\
<h1 style=\"color: #2a5bd7\">Welcome</h1>\r\n\
<p>This message is <b>HTML</b>. It is shown after an allow-list sanitizer, inside a frame\r\n\
that may not run scripts; <a href=\"https://example.org/\">links</a> open in a new tab.</p>\r\n\
<p>An inline image: <img src=\"cid:dot@demo\" alt=\"a red dot\" width=\"16\" height=\"16\"></p>\r\n\
<script>document.title = 'this never runs'</script>\r\n\
</body></html>\r\n\
--alt--\r\n\
--rel\r\n\
Content-Type: image/png\r\n\
Content-Transfer-Encoding: base64\r\n\
Content-ID: <dot@demo>\r\n\
\r\n\
iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==\r\n\
--rel--\r\n";

/// A message with an attachment whose name tries a right-to-left override trick.
const DEMO_ATTACHMENT: &str = "From: Sam Sender <sam@example.org>\r\n\
To: demo@localhost\r\n\
Subject: The report you asked for\r\n\
Date: Fri, 27 Nov 2026 09:00:00 +0000\r\n\
Message-ID: <demo-attachment@example.org>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"mix\"\r\n\
\r\n\
--mix\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Hi, the report is attached. (Its file name hides \"exe\" behind a right-to-left override;\r\n\
the attachment list shows the real name and extension.)\r\n\
--mix\r\n\
Content-Type: application/octet-stream\r\n\
Content-Disposition: attachment; filename*=UTF-8''report%E2%80%AEfdp.exe\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
VGhpcyBpcyBub3QgcmVhbGx5IGEgcmVwb3J0Lgo=\r\n\
--mix--\r\n";
