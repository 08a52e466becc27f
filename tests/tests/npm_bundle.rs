//! Embedding for real: a third-party page (tests/npm/page/) that uses the JS API and
//! `<pop3-inbox>` from the packed npm package, bundled by Vite in a scratch project, served from
//! its own origin (not the bridge's; the bridge allows it with `origins`), signs in to Dovecot
//! through the bridge in headless Chromium and Firefox, and opens a message, for which the
//! bundle's lazily loaded reading module (its own wasm) must load.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use e2e::browser::{Browser, BrowserKind, INBOX_HOST, InboxPage, StaticServer};
use e2e::npm;
use e2e::{Dovecot, DovecotOptions, Mailbox};
use pop3_bridge::{Bridge, Config};
use serde_json::{Value as Json, json};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

const USER: &str = "embed";
const PASSWORD: &str = "embed-password";
const MESSAGES: usize = 3;

type R<T = ()> = Result<T, String>;

fn ensure(ok: bool, what: impl Into<String>) -> R {
    if ok { Ok(()) } else { Err(what.into()) }
}

/// `vite build` of the page in a scratch project with the packed package installed.
fn bundle(tgz: &Path, runtimes: &Path) -> (tempfile::TempDir, PathBuf) {
    let page = Path::new(env!("CARGO_MANIFEST_DIR")).join("npm/page");
    let files = [page.join("index.html"), page.join("main.js")];
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let dir = npm::scratch_project(tgz, runtimes, &refs);
    let out = Command::new("node")
        .arg(runtimes.join("node_modules/vite/bin/vite.js"))
        .args(["build", "--logLevel", "warn", "--outDir", "dist"])
        .current_dir(dir.path())
        .output()
        .expect("node runs vite");
    assert!(
        out.status.success(),
        "vite build failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let dist = dir.path().join("dist");
    (dir, dist)
}

async fn run(kind: BrowserKind, page_url: &str, d: &Dovecot) -> R {
    let b = Browser::start(kind).await.map_err(|e| e.to_string())?;
    let ui = InboxPage {
        b,
        kind,
        shots: "npm-bundle",
    };
    let result = steps(&ui, page_url, d).await;
    if result.is_err() {
        let _ = ui.shot("failure").await;
    }
    let _ = ui.b.close().await;
    result
}

async fn steps(ui: &InboxPage, page_url: &str, d: &Dovecot) -> R {
    ui.b.goto(page_url).await.map_err(|e| e.to_string())?;
    ui.b.wait_js(
        "the page's module",
        "typeof window.countMessages === 'function' && !!customElements.get('pop3-inbox')",
        Duration::from_secs(30),
    )
    .await
    .map_err(|e| e.to_string())?;

    // The JS API from the bundle.
    ui.b.js(
        "window.countMessages(arguments[0]).then((n) => { window.counted = n; }, (e) => { window.counted = 'error: ' + (e.code || e.message); }); return 1;",
        vec![json!(PASSWORD)],
    )
    .await
    .map_err(|e| e.to_string())?;
    let count =
        ui.b.wait_js(
            "the JS API's answer",
            "window.counted",
            Duration::from_secs(30),
        )
        .await
        .map_err(|e| e.to_string())?;
    ensure(
        count == json!(MESSAGES),
        format!("{}: the JS API counted {count}", kind_name(ui)),
    )?;

    // The inbox element from the bundle: the form is prefilled by the page; type the password.
    ui.b.type_in_shadow(INBOX_HOST, "input[name=password]", PASSWORD)
        .await
        .map_err(|e| e.to_string())?;
    ui.click("button.connect").await?;
    let v = ui
        .wait(
            "the inbox (or an error)",
            "!r.querySelector('.inbox').hidden || (r.querySelector('.error') && r.querySelector('.error').textContent)",
            30,
        )
        .await?;
    ensure(v == Json::Bool(true), format!("sign-in failed: {v}"))?;
    ui.wait(
        "loaded rows",
        "r.querySelector('.row') && !r.querySelector('.row').classList.contains('loading')",
        30,
    )
    .await?;
    let rows = ui
        .eval("r.querySelector('[role=grid]').getAttribute('aria-rowcount')")
        .await?;
    ensure(
        rows == json!((MESSAGES + 1).to_string()),
        format!("rows: {rows}"),
    )?;

    // Opening a message loads the reading module, split off by the bundler.
    ui.eval("(r.querySelector('.row').click(), 1)").await?;
    ui.wait("the reader", "!r.querySelector('.reader').hidden", 30)
        .await?;
    let expected = String::from_utf8_lossy(&d.expected_bytes(USER, MESSAGES - 1)).into_owned();
    let word = expected
        .split("\r\n\r\n")
        .nth(1)
        .and_then(|body| body.split_whitespace().find(|w| w.len() > 6))
        .unwrap_or_default()
        .to_owned();
    ensure(
        !word.is_empty(),
        "the last message's body has a word of 7 letters or more to look for",
    )?;
    let shown = ui
        .wait(
            "the message body rendered by the reading module (in its sandboxed frame)",
            &format!(
                "(() => {{ const f = r.querySelector('.message-html iframe:not([hidden])'); return f && f.srcdoc.includes({w}) ? f.srcdoc.length : 0; }})()",
                w = json!(word)
            ),
            30,
        )
        .await?;
    ensure(shown.as_u64().is_some_and(|n| n > 0), "body shown")?;
    let wasm = ui
        .b
        .js(
            "return performance.getEntriesByType('resource').map((e) => e.name).filter((n) => n.endsWith('.wasm'));",
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?;
    let names: Vec<String> = wasm
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    // The client's and the reading module's; not the TLS module's: the bridge holds trust of its
    // own for this server (its extra CA), so it did TLS, and a connection that does not end TLS
    // in the page never fetches the module.
    let has = |m: &str| names.iter().any(|n| n.contains(m));
    ensure(
        names.len() == 2
            && has("pop3_web_bg")
            && has("pop3_mime_web_bg")
            && !has("pop3_tls_web_bg")
            && names.iter().all(|n| n.starts_with(page_origin(page_url))),
        format!(
            "the client's and the reading module's wasm, from the page's own origin (the bundle), and not the TLS module's: {names:?}"
        ),
    )?;
    ui.shot("reader").await?;
    Ok(())
}

fn kind_name(ui: &InboxPage) -> &'static str {
    ui.kind.name()
}

fn page_origin(url: &str) -> &str {
    let after = url.find("://").map_or(0, |i| i + 3);
    let end = url[after..].find('/').map_or(url.len(), |i| after + i);
    &url[..end]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundled_third_party_page_signs_in_and_reads_mail_in_chromium_and_firefox() {
    let Some((tgz, runtimes)) = npm::inputs("npm_bundle") else {
        return;
    };
    let (_project, dist) = tokio::task::spawn_blocking(move || bundle(&tgz, &runtimes))
        .await
        .unwrap();
    let site = StaticServer::start(dist).await.expect("static server");
    let origin = format!("http://{}", site.addr);

    let d = Dovecot::start_async(DovecotOptions::new().user(
        USER,
        PASSWORD,
        Mailbox::new(MESSAGES).seed(21),
    ))
    .await
    .expect("dovecot starts");
    let mut c = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    };
    c.allow_hosts = vec!["localhost".into(), "127.0.0.1".into()];
    c.allow_ports = vec![d.tls_port()];
    c.extra_ca = vec![d.ca_pem_path().to_path_buf()];
    c.origins = vec![origin.clone()];
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bridge = listener.local_addr().unwrap();
    let (_stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(Bridge::new(c).run(listener, async {
        let _ = stopped.await;
    }));

    let page = format!(
        "{origin}/index.html?bridge={}&host={}&port={}&user={USER}",
        urlencode(&format!("ws://{bridge}/pop3")),
        d.host(),
        d.tls_port()
    );
    let mut failures = Vec::new();
    for kind in [BrowserKind::Chromium, BrowserKind::Firefox] {
        if let Err(e) = run(kind, &page, &d).await {
            failures.push(format!("{}: {e}", kind.name()));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
