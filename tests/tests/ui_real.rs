//! The whole stack as a user sees it: the bridge serving web/ (with the built wasm package),
//! a real Dovecot behind it, and real headless Chromium and Firefox driving `<pop3-inbox>`.
//! The bridge dials through a connector that reaches only the test's own Dovecots on loopback
//! (`LoopbackOnly`): the refused-target check names a private address, and nothing may leave
//! the machine even if the policy let it through.
//! Needs `web/pkg` (`cargo xtask build-web`, which `cargo xtask test` runs first).

use e2e::browser::{Browser, BrowserKind};
use e2e::loopback::LoopbackOnly;
use e2e::{Dovecot, DovecotOptions, Mailbox, TestCa, Validity};
use fantoccini::key::Key;
use pop3_bridge::{Bridge, Config};
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

type R<T = ()> = Result<T, String>;
const HOST: &str = "pop3-inbox";
const R_: &str = "const r = document.querySelector('pop3-inbox').shadowRoot;";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

struct Ui {
    b: Browser,
    base: String,
    kind: BrowserKind,
}

impl Ui {
    async fn eval(&self, expr: &str) -> R<Json> {
        self.b
            .js(&format!("{R_} return ({expr});"), vec![])
            .await
            .map_err(|e| format!("{}: {e}", self.kind.name()))
    }
    async fn wait(&self, what: &str, expr: &str) -> R<Json> {
        self.b
            .wait_js(
                what,
                &format!("(() => {{ {R_} return ({expr}); }})()"),
                Duration::from_secs(30),
            )
            .await
            .map_err(|e| format!("{}: waiting for {what}: {e}", self.kind.name()))
    }
    async fn shot(&self, name: &str) -> R {
        let dir = root().join("target/screenshots");
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join(format!("real-{}-{name}.png", self.kind.name()));
        self.b.screenshot(&path).await.map_err(|e| e.to_string())
    }
    async fn login(&self, server: &str, port: u16, user: &str, password: &str) -> R {
        self.form(server, port, user).await?;
        self.connect_with(password).await
    }
    /// The sign-in form with `server`, `port`, `security=tls` and `user` from the URL, in a
    /// fresh page (no `tlsTrust` or `endToEnd` set on the element).
    async fn form(&self, server: &str, port: u16, user: &str) -> R {
        self.b
            .goto(&format!(
                "{}/index.html?server={server}&port={port}&security=tls&user={user}",
                self.base
            ))
            .await
            .map_err(|e| e.to_string())?;
        self.wait(
            "the account form",
            "customElements.get('pop3-inbox') && r && !r.querySelector('.login').hidden",
        )
        .await
        .map(|_| ())
    }
    /// Types `password` into the form and clicks Connect.
    async fn connect_with(&self, password: &str) -> R {
        self.b
            .type_in_shadow(HOST, "input[name=password]", password)
            .await
            .map_err(|e| e.to_string())?;
        self.b
            .click_in_shadow(HOST, "button.connect")
            .await
            .map_err(|e| e.to_string())
    }
    /// After Connect: the inbox, then the status line once it says "Signed in" (its text), or
    /// the error shown instead.
    async fn signed_in_status(&self, what: &str) -> R<String> {
        let v = self
            .wait(
                "the inbox (or an error)",
                "!r.querySelector('.inbox').hidden || (r.querySelector('.error') && r.querySelector('.error').textContent)",
            )
            .await?;
        ensure(v == Json::Bool(true), format!("{what}: login failed: {v}"))?;
        let status = self
            .wait(
                "the signed-in status line (or an error)",
                "(r.querySelector('.statusline').textContent.includes('Signed in') && r.querySelector('.statusline').textContent) || (r.querySelector('.error') && r.querySelector('.error').textContent)",
            )
            .await?;
        Ok(status.as_str().unwrap_or_default().to_owned())
    }
}

fn ensure(c: bool, what: impl Into<String>) -> R {
    if c { Ok(()) } else { Err(what.into()) }
}

async fn scenario(
    ui: &Ui,
    d: &Dovecot,
    pin: &str,
    bad: &Dovecot,
    user: &str,
    dialer: &LoopbackOnly,
) -> R {
    // Log in, list, open.
    ui.login("localhost", d.tls_port(), user, &format!("pw-{user}"))
        .await?;
    let v = ui
        .wait(
            "the inbox (or an error)",
            "!r.querySelector('.inbox').hidden || (r.querySelector('.error') && r.querySelector('.error').textContent)",
        )
        .await?;
    ensure(v == Json::Bool(true), format!("login failed: {v}"))?;
    ui.wait(
        "loaded rows",
        "r.querySelector('.row') && !r.querySelector('.row').classList.contains('loading')",
    )
    .await?;
    let v = ui
        .eval("({rows: r.querySelector('[role=grid]').getAttribute('aria-rowcount'), first: r.querySelector('.row').dataset.msg, status: r.querySelector('.statusline').textContent})")
        .await?;
    ensure(v["rows"] == "13", format!("12 messages + header row: {v}"))?;
    ensure(v["first"] == "12", format!("newest first: {v}"))?;
    // The bridge holds this server's CA (its operator set it up), so "prefer" let it do TLS,
    // and the status line says so plainly.
    ensure(
        v["status"]
            .as_str()
            .is_some_and(|s| s.contains("Encrypted to the bridge")),
        format!("the status names TLS at the bridge: {v}"),
    )?;
    ui.shot("inbox").await?;
    ui.eval("(r.querySelector('.row').click(), 1)").await?;
    ui.wait("the reader", "!r.querySelector('.reader').hidden")
        .await?;
    let subject = ui.eval("r.querySelector('.reader').textContent").await?;
    let expected = String::from_utf8_lossy(&d.expected_bytes(user, 11)).to_string();
    let subj_line = expected
        .lines()
        .find_map(|l| l.strip_prefix("Subject: "))
        .unwrap_or_default()
        .to_owned();
    ensure(
        !subj_line.trim().is_empty(),
        "message 11 of the mailbox has a subject to look for",
    )?;
    ensure(
        subject
            .as_str()
            .is_some_and(|s| s.contains(subj_line.trim())),
        format!("reader shows the subject {subj_line:?}"),
    )?;
    ui.shot("reader").await?;

    // Delete the open message, then finish the session: it is gone on the server.
    ui.b.click_in_shadow(HOST, "button.delete")
        .await
        .map_err(|e| e.to_string())?;
    ui.wait("the confirmation dialog", "r.querySelector('dialog').open")
        .await?;
    ui.b.click_in_shadow(HOST, "dialog button.confirm")
        .await
        .map_err(|e| e.to_string())?;
    ui.wait("the dialog to close", "!r.querySelector('dialog').open")
        .await?;
    ensure(
        d.stored_message_count(user).unwrap() == 12,
        "nothing deleted before QUIT",
    )?;
    ui.b.press(&[Key::Escape])
        .await
        .map_err(|e| e.to_string())?;
    ui.b.click_in_shadow(HOST, "button.logout")
        .await
        .map_err(|e| e.to_string())?;
    ui.wait(
        "the end-of-session dialog",
        "r.querySelector('dialog').open",
    )
    .await?;
    ui.b.click_in_shadow(HOST, "dialog button.confirm")
        .await
        .map_err(|e| e.to_string())?;
    let done = ui
        .wait(
            "the logout result",
            "r.textContent.includes('deleted on the server') && r.textContent",
        )
        .await?;
    ensure(
        done.as_str().is_some_and(|t| t.contains("1 message")),
        format!("result: {done}"),
    )?;
    ui.shot("logged-out").await?;
    ensure(
        d.stored_message_count(user).unwrap() == 11,
        "the message is gone from the Maildir after QUIT",
    )?;

    // A certificate error is explained with its details.
    ui.login("localhost", bad.tls_port(), user, "x").await?;
    ui.wait("the certificate error", "r.querySelector('.error details')")
        .await?;
    let msg = ui.eval("r.querySelector('.error').textContent").await?;
    ensure(
        msg.as_str()
            .is_some_and(|m| m.to_lowercase().contains("expired")),
        format!("certificate error: {msg}"),
    )?;
    ui.shot("cert-error").await?;

    // A target the bridge's policy refuses: a private address. The bridge runs with
    // `LoopbackOnly`, so even a policy that let it through could not dial it from here; it
    // would record the attempt, and the UI would show `connect_failed` instead.
    ui.login(REFUSED_TARGET, 995, user, "x").await?;
    ui.wait("the refusal", "r.querySelector('.error')").await?;
    let v = ui
        .eval("({ text: r.querySelector('.error').textContent, code: r.querySelector('.error .error-code') && r.querySelector('.error .error-code').textContent })")
        .await?;
    ensure(
        v["code"] == "Error code: target_refused",
        format!("refused target: the policy's code, not a failed connect: {v}"),
    )?;
    let dials = dialer.dialled();
    ensure(
        dials.iter().all(|a| a.ip().is_loopback()),
        format!("the bridge tried to dial {dials:?}"),
    )?;
    ui.shot("refused").await?;

    // TLS that ends in the page: the embedding page trusts Dovecot's CA itself (`tlsTrust`)
    // and asks for it (`endToEnd`); the bridge only relays, and the status line says so.
    ui.form("localhost", d.tls_port(), user).await?;
    let pem = Json::String(std::fs::read_to_string(d.ca_pem_path()).map_err(|e| e.to_string())?);
    ui.eval(&format!(
        "(r.host.tlsTrust = {{ cas: [{pem}] }}, r.host.endToEnd = true, 1)"
    ))
    .await?;
    ui.connect_with(&format!("pw-{user}")).await?;
    let status = ui.signed_in_status("end to end").await?;
    ensure(
        status.contains("End-to-end encrypted")
            && status.contains("The bridge cannot read your mail"),
        format!("the status names TLS in the page: {status}"),
    )?;
    ui.shot("end-to-end").await?;

    // The user's own trust: the fingerprint of Dovecot's certificate typed into the form, no
    // trust from the page. First a malformed one: the error shows under the field, and nothing
    // is dialled.
    ui.form("localhost", d.tls_port(), user).await?;
    let dials_before = dialer.dialled().len();
    ui.b.type_in_shadow(HOST, "input[name=pin]", "12:34:zz")
        .await
        .map_err(|e| e.to_string())?;
    ui.connect_with(&format!("pw-{user}")).await?;
    let v = ui
        .wait(
            "the fingerprint's error",
            "(() => { const p = r.querySelector('.field-error'); return p && !p.hidden && p.textContent; })()",
        )
        .await?;
    ensure(
        v.as_str()
            .is_some_and(|t| t.contains("64 hexadecimal digits")),
        format!("the fingerprint's error: {v}"),
    )?;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let v = ui
        .eval("({ login: !r.querySelector('.login').hidden, error: !!r.querySelector('.error'), invalid: r.querySelector('input[name=pin]').getAttribute('aria-invalid'), focused: r.activeElement && r.activeElement.name })")
        .await?;
    ensure(
        v["login"] == true
            && v["error"] == false
            && v["invalid"] == "true"
            && v["focused"] == "pin",
        format!("a malformed fingerprint keeps the form, with the field marked: {v}"),
    )?;
    ensure(
        dialer.dialled().len() == dials_before,
        format!(
            "a malformed fingerprint connected: {:?}",
            &dialer.dialled()[dials_before..]
        ),
    )?;
    ui.shot("pin-malformed").await?;

    // Then the right one, as openssl prints it (upper case, colons): the connection ends in
    // the page and the certificate, which no CA the page knows vouches for, is accepted by it.
    let typed = pin
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).to_uppercase())
        .collect::<Vec<_>>()
        .join(":");
    ui.b.type_in_shadow(HOST, "input[name=pin]", &typed)
        .await
        .map_err(|e| e.to_string())?;
    ui.connect_with(&format!("pw-{user}")).await?;
    let status = ui.signed_in_status("the user's pin").await?;
    ensure(
        status.contains("End-to-end encrypted")
            && status.contains("Certificate accepted by its fingerprint.")
            && !status.contains("NOT verified"),
        format!("the status names TLS in the page and the fingerprint: {status}"),
    )?;
    ui.shot("pinned").await?;
    Ok(())
}

/// The private address the policy must refuse. It is never dialled: see [`LoopbackOnly`].
const REFUSED_TARGET: &str = "10.0.0.1";

async fn run(kind: BrowserKind) {
    let web = e2e::browser::web_root();
    assert!(
        web.join("pkg/pop3_web_bg.wasm").exists(),
        "web/pkg is missing: run `cargo xtask build-web`"
    );
    let user = kind.name();
    // Dovecot's leaf is known here: the user types its pin (SHA-256 of its DER) into the form.
    let dca = Arc::new(TestCa::new().unwrap());
    let leaf = dca.issue_localhost().unwrap();
    let leaf_der = rustls_pemfile::certs(&mut leaf.cert_pem.as_bytes())
        .next()
        .expect("a certificate")
        .expect("PEM");
    let pin: String = Sha256::digest(leaf_der.as_ref())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let d = Dovecot::start(DovecotOptions::new().ca(dca).server_cert(leaf).user(
        user,
        &format!("pw-{user}"),
        Mailbox::new(12),
    ))
    .expect("dovecot");
    let ca = Arc::new(TestCa::new().unwrap());
    let expired = ca.issue(&["localhost"], Validity::Expired).unwrap();
    let bad = Dovecot::start(
        DovecotOptions::new()
            .ca(ca.clone())
            .server_cert(expired)
            .user(user, "x", Mailbox::new(1)),
    )
    .expect("second dovecot");
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let config = Config {
        listen: addr,
        web_root: Some(web),
        allow_hosts: vec!["localhost".into(), "127.0.0.1".into()],
        allow_ports: vec![d.tls_port(), bad.tls_port()],
        extra_ca: vec![
            d.ca_pem_path().to_path_buf(),
            bad.ca_pem_path().to_path_buf(),
        ],
        ..Config::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let dialer = Arc::new(LoopbackOnly::new(vec![d.tls_port(), bad.tls_port()]));
    let bridge = tokio::spawn(Bridge::new(config).with_connector(dialer.clone()).run(
        listener,
        async {
            let _ = stopped.await;
        },
    ));
    let b = Browser::start(kind).await.expect("browser starts");
    let ui = Ui {
        b,
        base: format!("http://{addr}"),
        kind,
    };
    let result = scenario(&ui, &d, &pin, &bad, user, &dialer).await;
    let _ = ui.b.close().await;
    let _ = stop.send(());
    let _ = bridge.await;
    if let Err(e) = result {
        panic!("{}: {e}\n--- dovecot log ---\n{}", kind.name(), d.log());
    }
    let _ = json!(null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_stack_in_chromium() {
    run(BrowserKind::Chromium).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_stack_in_firefox() {
    run(BrowserKind::Firefox).await;
}
