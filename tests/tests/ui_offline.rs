//! The app installs and opens with no network (issue #17), on the real stack: the bridge serving
//! web/, Dovecot behind it, the page in headless Chromium and Firefox over http://127.0.0.1 (a
//! secure context, so service workers run).
//!
//! 1. Installable: the page links a manifest with a name, start URL, scope, standalone display,
//!    colours and PNG icons (192 and 512 px, one maskable) that load at their stated sizes.
//! 2. One visit (sign in, the sync keeps the mail in IndexedDB) installs the service worker,
//!    which takes the page and keeps the app's files, the wasm packages among them, and
//!    nothing else (no mail, no bridge answers).
//! 3. With the bridge and Dovecot stopped, a reload opens the app from the worker: the kept
//!    mail is listed, a search of it (`subject:` and a word) leaves exactly the matching
//!    message, which opens with its body shown, and the reading module's wasm loads (the
//!    reader's text fallback alone would not prove it).
//! 4. A bridge serving a newer build on the same origin: the next visit finds it, and the page
//!    offers it ("A new version … Reload") while still running the old one (axe finds no
//!    violation on the page with the offer shown); only the click switches, and the old
//!    version's cache goes.
//! 5. Kiosk mode registers no worker and keeps no cache: a `?kiosk` visit removes what the
//!    earlier visits installed, and a kiosk bridge's page (a fresh origin) registers nothing.
//!
//! Also prints, as a measurement and not a check, measured inside the page from the reload's
//! navigation start (bridge stopped): when the "Read offline" button shows, when the click on it
//! comes, and when the kept mail is listed.
//!
//! Needs web/pkg (`cargo xtask build-web`). `E2E_WEB_ROOT` runs it against another copy of
//! web/ (see `e2e::browser::web_root`), which is how breaking the worker was shown to fail it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use e2e::browser::{Browser, BrowserKind, InboxPage};
use e2e::offline::{copy_shell, reader_text};
use e2e::served::{ServedBridge, ui_config};
use e2e::{Dovecot, DovecotOptions, Mailbox};
use pop3_bridge::Config;
use serde_json::{Value as Json, json};
use tokio::net::TcpListener;

type R<T = ()> = Result<T, String>;

const USER: &str = "reader";
/// A line of the newest message's body: what the offline reader must show.
const BODY_LINE: &str = "This copy was kept on the device and reads without any network";
/// The newer build's page title (the change that makes it newer).
const NEW_TITLE: &str = "Mail (newer build)";

fn ensure(c: bool, what: impl Into<String>) -> R {
    if c { Ok(()) } else { Err(what.into()) }
}

fn message(n: u32, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Ann <ann@example.org>\r\nTo: reader@example.org\r\nSubject: {subject}\r\n\
         Date: Mon, {n} Jun 2026 10:00:00 +0000\r\nMessage-ID: <offline-{n}@example.org>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// The worker's state as the page sees it: what app-shell.js did, whether a worker controls
/// the page, the registrations, and every cache with the paths it holds.
const SW_STATE: &str = "return (async () => {
  let settled = null;
  try { settled = await (await import('/app-shell.js')).settled; } catch (e) { settled = 'import failed: ' + e; }
  const regs = navigator.serviceWorker ? await navigator.serviceWorker.getRegistrations() : [];
  const caches_ = {};
  for (const k of await caches.keys()) {
    caches_[k] = (await (await caches.open(k)).keys()).map((r) => new URL(r.url).pathname + new URL(r.url).search);
  }
  return { settled, controlled: !!(navigator.serviceWorker && navigator.serviceWorker.controller),
           registrations: regs.length, waiting: regs.some((r) => r.waiting !== null),
           caches: caches_, title: document.title };
})();";

struct Ui {
    page: InboxPage,
}

impl std::ops::Deref for Ui {
    type Target = InboxPage;
    fn deref(&self) -> &InboxPage {
        &self.page
    }
}

impl Ui {
    async fn open(&self, url: &str) -> R {
        self.open_form(url).await
    }

    async fn sw_state(&self) -> R<Json> {
        self.b
            .js(SW_STATE, vec![])
            .await
            .map_err(|e| format!("{}: {e}", self.kind.name()))
    }
}

/// 1. The manifest and its icons, as the browser reads them.
async fn installable(ui: &Ui) -> R {
    let m =
        ui.b.js(
            "return (async () => {
               const link = document.querySelector('link[rel=manifest]');
               const r = await fetch(link.href);
               const m = await r.json();
               const icons = await Promise.all(m.icons.map((i) => new Promise((ok) => {
                 const img = new Image();
                 img.onload = () => ok({ ...i, got: img.naturalWidth + 'x' + img.naturalHeight });
                 img.onerror = () => ok({ ...i, got: 'error' });
                 img.src = new URL(i.src, r.url).href;
               })));
               return { type: r.headers.get('content-type'), m, icons };
             })();",
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?;
    let man = &m["m"];
    ensure(
        m["type"] == "application/manifest+json"
            && man["name"].as_str().is_some_and(|s| !s.is_empty())
            && man["short_name"].as_str().is_some_and(|s| !s.is_empty())
            && man["start_url"] == "./"
            && man["scope"] == "./"
            && man["display"] == "standalone"
            && man["theme_color"].is_string()
            && man["background_color"].is_string(),
        format!("the manifest: {m}"),
    )?;
    let icons = m["icons"].as_array().cloned().unwrap_or_default();
    let loaded = |size: &str, purpose: &str| {
        icons.iter().any(|i| {
            i["sizes"] == size && i["got"] == size && i["type"] == "image/png" && {
                i["purpose"] == purpose
            }
        })
    };
    ensure(
        icons.iter().all(|i| i["got"] == i["sizes"])
            && loaded("192x192", "any")
            && loaded("512x512", "any")
            && loaded("512x512", "maskable"),
        format!("icons that load at their stated sizes: {icons:?}"),
    )
}

/// 2. After the first visit the worker controls the page and keeps the shell: every file of
///    web/pkg the page uses (glue and wasm), the page and its modules, and nothing else.
async fn installed(ui: &Ui) -> R<String> {
    let s =
        ui.b.wait_js(
            "the service worker to take the page",
            "navigator.serviceWorker && navigator.serviceWorker.controller && true",
            Duration::from_secs(60),
        )
        .await
        .map_err(|e| format!("{}: {e}", ui.kind.name()));
    let state = ui.sw_state().await?;
    s.map_err(|e| format!("{e}; {state}"))?;
    let caches = state["caches"].as_object().cloned().unwrap_or_default();
    ensure(
        state["settled"] == "registered" && state["registrations"] == 1 && caches.len() == 1,
        format!("one worker and one cache: {state}"),
    )?;
    let (name, paths) = caches.into_iter().next().unwrap_or_default();
    let paths: Vec<String> = paths
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_str().map(str::to_owned))
        .collect();
    let pkg = e2e::browser::web_root().join("pkg");
    let mut wanted = vec![
        "/index.html".to_owned(),
        "/index.js".into(),
        "/app-shell.js".into(),
        "/pop3-inbox.js".into(),
        "/pop3.js".into(),
        "/message-view.js".into(),
        "/manifest.webmanifest".into(),
    ];
    for entry in std::fs::read_dir(&pkg).map_err(|e| e.to_string())? {
        let name = entry.map_err(|e| e.to_string())?.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".wasm") || name.ends_with(".js") {
            wanted.push(format!("/pkg/{name}"));
        }
    }
    let missing: Vec<&String> = wanted.iter().filter(|w| !paths.contains(w)).collect();
    ensure(
        missing.is_empty(),
        format!("the shell cache {name} lacks {missing:?}"),
    )?;
    // Only the app's own files: nothing the bridge answers besides them, no mail.
    let odd: Vec<&String> = paths
        .iter()
        .filter(|p| {
            p.contains('?')
                || p.contains("client-config")
                || p.contains("/dev/")
                || p.ends_with("/sw.js")
                || !(p.ends_with(".js")
                    || p.ends_with(".html")
                    || p.ends_with(".css")
                    || p.ends_with(".wasm")
                    || p.ends_with(".png")
                    || p.ends_with(".svg")
                    || p.ends_with(".webmanifest"))
        })
        .collect();
    ensure(odd.is_empty(), format!("the shell cache holds {odd:?}"))?;
    Ok(name)
}

/// Inside the page, when the offline start's steps appear, in ms after the navigation start
/// (`performance.now()`): the "Read offline" button shown, the user's click on it, the kept
/// list's rows shown. Each DOM change of the inbox's shadow root is looked at (a
/// MutationObserver, attached on the first animation frame that finds the element), so the
/// times are those of the changes, not of a WebDriver poll. `late`: the watch started only once
/// the button was shown (its time is then the watch's start, an upper bound).
const WATCH_OFFLINE_START: &str = "
  if (!window.__offlineStart) {
    const t = (window.__offlineStart = { watchFrom: performance.now(), button: null, click: null, rows: null, late: false });
    const root = () => document.querySelector('pop3-inbox')?.shadowRoot;
    const look = () => {
      const r = root();
      if (!r) return;
      const now = performance.now();
      const btn = r.querySelector('button.offline');
      if (t.button == null && btn && !r.querySelector('.login').hidden && !btn.hidden) t.button = now;
      if (t.rows == null && r.querySelector('.inbox') && !r.querySelector('.inbox').hidden && r.querySelectorAll('.row').length === 2) t.rows = now;
    };
    let observed = false;
    const frame = () => {
      const r = root();
      if (r && !observed) {
        observed = true;
        new MutationObserver(look).observe(r, { subtree: true, childList: true, attributes: true, characterData: true });
        r.addEventListener('click', (e) => {
          if (t.click == null && e.target.closest && e.target.closest('button.offline')) t.click = performance.now();
        }, true);
      }
      look();
      if (t.rows == null) requestAnimationFrame(frame);
    };
    frame();
    t.late = t.button != null;
  }";

/// Opens `page` again (the bridge stopped) with [`WATCH_OFFLINE_START`] in the new document
/// before the app shows anything: in Chromium as an init script (from the document's first
/// script on); in Firefox, which has no init scripts over WebDriver classic, the navigation is
/// started from the page and the watch injected by the first WebDriver script that runs in the
/// new document (tens of ms in, well before the button). Without it, it would start after the
/// load event `goto` waits for, later than the button in Firefox.
async fn reload_watching_offline_start(ui: &Ui, page: &str) -> R {
    let err = |e: e2e::browser::BrowserError| format!("{}: {e}", ui.kind.name());
    if ui.kind == BrowserKind::Chromium {
        let init =
            ui.b.cdp(
                "Page.addScriptToEvaluateOnNewDocument",
                json!({ "source": WATCH_OFFLINE_START }),
            )
            .await
            .map_err(err)?;
        ui.b.goto(page).await.map_err(err)?;
        ui.b.cdp(
            "Page.removeScriptToEvaluateOnNewDocument",
            json!({ "identifier": init["identifier"] }),
        )
        .await
        .map_err(err)?;
    } else {
        ui.b.js(
            "window.__leaving = true; setTimeout(() => location.assign(arguments[0]), 0); return true;",
            vec![json!(page)],
        )
        .await
        .map_err(err)?;
        let start = std::time::Instant::now();
        // Errors while the old document goes are expected: try again.
        while !matches!(
            ui.b.js(
                &format!("if (window.__leaving) return false; {WATCH_OFFLINE_START} return true;"),
                vec![],
            )
            .await,
            Ok(Json::Bool(true))
        ) {
            if start.elapsed() > Duration::from_secs(30) {
                return Err(format!("{}: the new document never came", ui.kind.name()));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    Ok(())
}

/// 3. The bridge is gone: the reload comes from the worker and the kept mail reads, and is
///    searched.
async fn opens_offline(ui: &Ui, page: &str) -> R {
    reload_watching_offline_start(ui, page).await?;
    ui.wait(
        "the offline button (the app opened from the worker)",
        "r && !r.querySelector('.login').hidden && !r.querySelector('button.offline').hidden",
        30,
    )
    .await?;
    ui.click("button.offline").await?;
    ui.wait(
        "the kept mail listed",
        "!r.querySelector('.inbox').hidden && r.querySelectorAll('.row').length === 2",
        20,
    )
    .await?;
    let t = ui
        .wait(
            "the in-page times",
            "window.__offlineStart.rows != null && { ...window.__offlineStart, load: performance.getEntriesByType('navigation')[0]?.loadEventEnd }",
            5,
        )
        .await?;
    let ms = |k: &str| t[k].as_f64().map_or("?".into(), |v| format!("{v:.0}"));
    eprintln!(
        "{}: offline start: button at {}{} ms, readable inbox at {} ms after navigation start; click at {} ms (click to list {} ms; load event end {} ms, watched from {} ms)",
        ui.kind.name(),
        if t["late"] == true { "≤ " } else { "" },
        ms("button"),
        ms("rows"),
        ms("click"),
        t["rows"]
            .as_f64()
            .zip(t["click"].as_f64())
            .map_or("?".into(), |(r, c)| format!("{:.0}", r - c)),
        ms("load"),
        ms("watchFrom"),
    );
    ui.shot("offline-list").await?;
    // The kept mail is searchable offline: a word of one kept message's subject leaves exactly
    // its row (typed with real keys; the index of kept mail answers as the user types).
    ui.b.type_in_shadow(
        e2e::browser::INBOX_HOST,
        ".search input[type=search]",
        "subject:train",
    )
    .await
    .map_err(|e| e.to_string())?;
    let rows = ui
        .wait(
            "the search to leave only the message about the train",
            "r.querySelectorAll('.row').length === 1 && [...r.querySelectorAll('.row')].map((x) => x.textContent)",
            20,
        )
        .await?;
    ensure(
        rows.as_array().is_some_and(|r| {
            r.len() == 1
                && r[0]
                    .as_str()
                    .is_some_and(|x| x.contains("Kept for the train"))
        }),
        format!("the offline search's rows: {rows}"),
    )?;
    ui.shot("offline-search").await?;
    // The one result opens: the newest message, whose body the reader must show.
    ui.eval("(r.querySelector('.row').click(), 1)").await?;
    let text = reader_text(ui, BODY_LINE, 20).await;
    ensure(
        text.contains(BODY_LINE),
        format!("the offline reader shows the body: {text:?}"),
    )?;
    ui.shot("offline-reader").await?;
    // The reading module's wasm is there too (the reader falls back to plain text without it).
    let mime = ui
        .b
        .js(
            "return import('/pop3.js').then((m) => m.ready()).then(() => 'loaded', (e) => String(e));",
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?;
    ensure(
        mime == "loaded",
        format!("the reading module loads offline: {mime}"),
    )?;
    let state = ui.sw_state().await?;
    ensure(
        state["settled"] == "offline" && state["controlled"] == true,
        format!("served by the worker, nothing new registered: {state}"),
    )
}

/// 4. A newer build on the same origin is offered, not switched to; the click switches.
async fn update_offered(ui: &Ui, page: &str, old_cache: &str) -> R {
    ui.open(page).await?;
    let offer = ui
        .b
        .wait_js(
            "the offer of the new version",
            "document.querySelector('.app-update button') && document.querySelector('.app-update').textContent",
            Duration::from_secs(60),
        )
        .await;
    let state = ui.sw_state().await?;
    let offer = offer.map_err(|e| format!("{}: {e}; {state}", ui.kind.name()))?;
    ensure(
        offer
            .as_str()
            .is_some_and(|t| t.contains("new version") && t.contains("Reload")),
        format!("the offer: {offer}"),
    )?;
    // Offered, not taken: the new version waits, the page still runs the old build with the
    // old version's files, and it stays so a while.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let state = ui.sw_state().await?;
    ensure(
        state["waiting"] == true
            && state["title"] == "Mail"
            && state["caches"].get(old_cache).is_some(),
        format!("the new version waits and the old one still runs: {state}"),
    )?;
    let visible = ui
        .b
        .js(
            "const b = document.querySelector('.app-update'); const r = b.getBoundingClientRect();
             return b.getAttribute('role') === 'status' && r.width > 0 && r.height > 0 && getComputedStyle(b).display !== 'none';",
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?;
    ensure(visible == true, "the offer is a visible status region")?;
    // The offer is the page's own markup, outside the inbox: axe checks it too (its contrast,
    // the button's name, the status region).
    let violations = e2e::axe::violations(&ui.b, &e2e::axe::source())
        .await
        .map_err(|e| format!("axe on the offer: {e}"))?;
    ensure(
        violations.is_empty(),
        format!(
            "axe found {} violation(s) on the offer of a new version:\n{}",
            violations.len(),
            serde_json::to_string_pretty(&violations).unwrap_or_default()
        ),
    )?;
    ui.shot("update-offered").await?;
    ui.b.find(".app-update button")
        .await
        .map_err(|e| e.to_string())?
        .click()
        .await
        .map_err(|e| e.to_string())?;
    ui.b.wait_js(
        "the new version running",
        &format!("document.title === {}", json!(NEW_TITLE)),
        Duration::from_secs(30),
    )
    .await
    .map_err(|e| format!("{}: {e}", ui.kind.name()))?;
    ui.b.wait_js(
        "the old version's cache to go",
        &format!(
            "caches.keys().then((k) => k.length === 1 && !k.includes({}))",
            json!(old_cache)
        ),
        Duration::from_secs(15),
    )
    .await
    .map_err(|e| format!("{}: {e}", ui.kind.name()))?;
    let state = ui.sw_state().await?;
    ensure(
        state["controlled"] == true
            && state["registrations"] == 1
            && state["caches"]
                .as_object()
                .and_then(|c| c.values().next())
                .and_then(|p| p.as_array())
                .is_some_and(|p| p.iter().any(|x| x == "/pkg/pop3_web_bg.wasm")),
        format!("the new version keeps the shell: {state}"),
    )
}

/// 5. Kiosk mode: no worker, no cache.
async fn kiosk_keeps_nothing(ui: &Ui, page: &str, what: &str) -> R {
    ui.open(page).await?;
    ui.wait(
        "kiosk mode",
        "document.querySelector('pop3-inbox').hasAttribute('kiosk')",
        15,
    )
    .await?;
    let state = ui.sw_state().await?;
    ensure(
        state["settled"] == "kiosk" && state["registrations"] == 0 && state["caches"] == json!({}),
        format!("{what}: kiosk mode left a worker or cache: {state}"),
    )
}

async fn scenario(ui: &Ui, web: PathBuf, work: &std::path::Path) -> R {
    let d = Dovecot::start(
        DovecotOptions::new().user(
            USER,
            &format!("pw-{USER}"),
            Mailbox::empty()
                .raw_message(message(1, "Older", "An older message."))
                .raw_message(message(2, "Kept for the train", BODY_LINE)),
        ),
    )
    .map_err(|e| e.to_string())?;
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr: SocketAddr = listener.local_addr().map_err(|e| e.to_string())?;
    let page = format!("http://{addr}/index.html");
    let mut bridge = ServedBridge::on(listener, ui_config(&d));

    ui.open(&page).await?;
    installable(ui).await?;
    ui.sign_in(d.tls_port(), USER, true).await?;
    ui.wait(
        "the sync to keep both messages",
        "r.querySelector('.syncline').textContent.includes('2 messages are kept')",
        60,
    )
    .await?;
    let old_cache = installed(ui).await?;

    bridge.stop().await;
    drop(d);
    ensure(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the bridge still answers",
    )?;
    opens_offline(ui, &page).await?;

    // A newer build: the same shell with another title, the same package, the same origin.
    let newer = work.join("newer");
    copy_shell(&web, &newer).map_err(|e| e.to_string())?;
    let index = std::fs::read_to_string(newer.join("index.html")).map_err(|e| e.to_string())?;
    ensure(index.contains("<title>Mail</title>"), "index.html's title")?;
    std::fs::write(
        newer.join("index.html"),
        index.replace(
            "<title>Mail</title>",
            &format!("<title>{NEW_TITLE}</title>"),
        ),
    )
    .map_err(|e| e.to_string())?;
    let listener = TcpListener::bind(addr).await.map_err(|e| e.to_string())?;
    let mut bridge = ServedBridge::on(
        listener,
        Config {
            web_root: Some(newer),
            pkg_root: Some(web.join("pkg")),
            ..Config::default()
        },
    );
    let result = async {
        update_offered(ui, &page, &old_cache).await?;
        // The same origin in kiosk mode: what the earlier visits installed goes.
        kiosk_keeps_nothing(ui, &format!("{page}?kiosk"), "?kiosk after a normal visit").await
    }
    .await;
    bridge.stop().await;
    result?;

    // A kiosk bridge (a fresh origin): its page registers nothing at all.
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let kiosk_addr = listener.local_addr().map_err(|e| e.to_string())?;
    let mut bridge = ServedBridge::on(
        listener,
        Config {
            web_root: Some(web),
            kiosk: true,
            ..Config::default()
        },
    );
    let result = kiosk_keeps_nothing(
        ui,
        &format!("http://{kiosk_addr}/index.html"),
        "a kiosk bridge's page",
    )
    .await;
    bridge.stop().await;
    result
}

async fn run(kind: BrowserKind) {
    let web = e2e::browser::web_root();
    assert!(
        web.join("pkg/pop3_web_bg.wasm").exists(),
        "web/pkg is missing: run `cargo xtask build-web`"
    );
    let work = tempfile::tempdir().expect("tempdir");
    let b = Browser::start(kind).await.expect("browser starts");
    let ui = Ui {
        page: InboxPage {
            b,
            kind,
            shots: "offline",
        },
    };
    let mut result = scenario(&ui, web, work.path()).await;
    if let Err(e) = &mut result {
        let _ = ui.shot("FAILED").await;
        if let Ok(state) = ui.sw_state().await {
            e.push_str(&format!("\nworker: {state}"));
        }
    }
    let _ = ui.page.b.close().await;
    if let Err(e) = result {
        panic!("{}: {e}", kind.name());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installs_opens_offline_offers_updates_and_not_in_kiosk_chromium() {
    run(BrowserKind::Chromium).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn installs_opens_offline_offers_updates_and_not_in_kiosk_firefox() {
    run(BrowserKind::Firefox).await;
}
