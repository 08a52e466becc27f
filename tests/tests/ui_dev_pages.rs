//! Test-only code is not shipped: a bridge without `dev_pages` (every deployment) answers 404
//! for web/dev/, so `index.html?api=mock` cannot put the inbox on the mock API there; the page
//! falls back to the real client (which then talks to the bridge and is refused, as a real
//! connection to a loopback server would be). The same page from a bridge with `dev_pages`
//! does get the mock, so the check is not vacuous. Headless Chromium and Firefox; needs
//! `web/pkg` (`cargo xtask build-web`).

use e2e::browser::{Browser, BrowserKind};
use serde_json::{Value as Json, json};
use std::path::{Path, PathBuf};
use std::time::Duration;
use web_bridge::WebBridge;

mod web_bridge;

type R<T = ()> = Result<T, String>;
const HOST: &str = "pop3-inbox";
const R_: &str = "const r = document.querySelector('pop3-inbox').shadowRoot;";

fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("web")
}

/// Signs in as the mock's magic user `small` (30 messages) from `index.html?api=mock` and
/// reports what happened: the mock's inbox, or the real client's error.
async fn sign_in_with_api_mock(b: &Browser, server: &WebBridge) -> R<Json> {
    let e = |e: e2e::browser::BrowserError| e.to_string();
    b.goto(&server.url("index.html?api=mock&server=localhost&port=995&security=tls&user=small"))
        .await
        .map_err(e)?;
    b.wait_js(
        "the account form",
        &format!(
            "(() => {{ {R_} return customElements.get('pop3-inbox') && r && !r.querySelector('.login').hidden; }})()"
        ),
        Duration::from_secs(30),
    )
    .await
    .map_err(e)?;
    b.type_in_shadow(HOST, "input[name=password]", "x")
        .await
        .map_err(e)?;
    b.click_in_shadow(HOST, "button.connect").await.map_err(e)?;
    b.wait_js(
        "the inbox or an error",
        &format!(
            "(() => {{ {R_} return (!r.querySelector('.inbox').hidden && !!r.querySelector('#row-30'))
               || !!r.querySelector('.login .error'); }})()"
        ),
        Duration::from_secs(30),
    )
    .await
    .map_err(e)?;
    b.js(
        &format!(
            "{R_} return {{ mock: !!window.__pop3Mock, inbox: !r.querySelector('.inbox').hidden,
               code: r.querySelector('.login .error-code')?.textContent ?? null }};"
        ),
        vec![],
    )
    .await
    .map_err(e)
}

async fn run(kind: BrowserKind) {
    assert!(
        web_dir().join("pkg/pop3_web_bg.wasm").exists(),
        "web/pkg is missing: run `cargo xtask build-web`"
    );
    // The default bridge (what a deployment runs), and one with dev pages.
    let default = WebBridge::start(web_dir(), None).await;
    let dev = WebBridge::with_dev_pages(web_dir()).await;
    let b = Browser::start(kind).await.expect("browser starts");
    let without = sign_in_with_api_mock(&b, &default).await;
    let with = sign_in_with_api_mock(&b, &dev).await;
    let _ = b.close().await;
    default.stop().await;
    dev.stop().await;
    let without = without.unwrap_or_else(|e| panic!("{}: without dev pages: {e}", kind.name()));
    assert_eq!(
        without,
        json!({"mock": false, "inbox": false, "code": "Error code: target_refused"}),
        "{}: without dev pages, ?api=mock must give the real client",
        kind.name()
    );
    let with = with.unwrap_or_else(|e| panic!("{}: with dev pages: {e}", kind.name()));
    assert_eq!(
        with,
        json!({"mock": true, "inbox": true, "code": null}),
        "{}: with dev pages, ?api=mock gives the mock",
        kind.name()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_mock_needs_dev_pages_in_chromium() {
    run(BrowserKind::Chromium).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_mock_needs_dev_pages_in_firefox() {
    run(BrowserKind::Firefox).await;
}
