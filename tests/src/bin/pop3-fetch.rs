//! Downloads every message of a mailbox with the native driver: the benchmark client, and a
//! demonstration of the core used from a native program.
//!
//! `pop3-fetch --host H --port P --security plain|stls|tls [--ca-file PEM] [--server-name N]
//!  --user U --pass P --out DIR`

use e2e::driver::{Connect, Security, Session, random_nonce};
use pop3_proto::{Login, MsgNum};
use std::sync::Arc;
use std::time::Instant;

fn usage() -> ! {
    eprintln!(
        "usage: pop3-fetch --host H --port P --security plain|stls|tls [--ca-file PEM] \
         [--server-name NAME] --user U --pass P --out DIR [--allow-insecure]"
    );
    std::process::exit(2)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (mut host, mut port, mut security) = (None, None, Security::Tls);
    let (mut ca, mut name, mut user, mut pass, mut out) = (None, None, None, None, None);
    let mut insecure = false;
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--host" => host = Some(val()),
            "--port" => port = Some(val().parse::<u16>().unwrap_or_else(|_| usage())),
            "--security" => {
                security = val().parse().unwrap_or_else(|e| {
                    eprintln!("{e}");
                    usage()
                })
            }
            "--ca-file" => ca = Some(val()),
            "--server-name" => name = Some(val()),
            "--user" => user = Some(val()),
            "--pass" => pass = Some(val()),
            "--out" => out = Some(val()),
            "--allow-insecure" => insecure = true,
            _ => usage(),
        }
    }
    let (Some(host), Some(port), Some(user), Some(pass), Some(out)) = (host, port, user, pass, out)
    else {
        usage()
    };
    let tls = match ca {
        Some(path) => Some(client_config(&path)),
        None if security != Security::Plain => Some(webpki_config()),
        None => None,
    };
    let mut c = Connect::new(&host, port, security, tls);
    if let Some(n) = name {
        c.server_name = n;
    }
    let started = Instant::now();
    if let Err(e) = run(
        c,
        &user,
        &pass,
        &out,
        insecure || security == Security::Plain,
    )
    .await
    {
        eprintln!("pop3-fetch: {e}");
        std::process::exit(1);
    }
    eprintln!("elapsed {:.3} s", started.elapsed().as_secs_f64());
}

async fn run(
    c: Connect,
    user: &str,
    pass: &str,
    out: &str,
    insecure: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    std::fs::create_dir_all(out)?;
    let mut s = Session::connect(c).await?;
    let mut login = Login::password(user, pass, random_nonce());
    login.allow_insecure = insecure;
    let method = s.login(login).await?;
    let (list, _) = s.listing().await?;
    let msgs: Vec<MsgNum> = list.iter().map(|e| e.msg).collect();
    let mut written = Ok(());
    let bytes = s
        .retrieve(&msgs, |m, body| {
            if written.is_ok() {
                written = std::fs::write(format!("{out}/{m}.eml"), body);
            }
        })
        .await?;
    written?;
    s.quit().await?;
    println!("{} messages, {bytes} bytes, login {method}", msgs.len());
    Ok(())
}

fn client_config(ca_path: &str) -> Arc<rustls::ClientConfig> {
    let pem = std::fs::read(ca_path).unwrap_or_else(|e| {
        eprintln!("cannot read {ca_path}: {e}");
        std::process::exit(2)
    });
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()).flatten() {
        let _ = roots.add(cert);
    }
    config_with(roots)
}

fn webpki_config() -> Arc<rustls::ClientConfig> {
    config_with(rustls::RootCertStore::from_iter(
        webpki_roots::TLS_SERVER_ROOTS.iter().cloned(),
    ))
}

fn config_with(roots: rustls::RootCertStore) -> Arc<rustls::ClientConfig> {
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default versions")
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}
