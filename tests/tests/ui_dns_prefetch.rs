//! Opening a message makes no DNS lookup of the host names its links point at (security
//! review: "DNS prefetching is off for the page and for the message frame"). A lookup is a
//! read receipt: the sender's DNS server learns that, and roughly when, the message was read.
//!
//! The page's files carry `X-DNS-Prefetch-Control: off` from the bridge (bridge tests:
//! headers.rs); every message frame's srcdoc, the HTML view's and the plain-text view's,
//! carries the same as `<meta http-equiv="x-dns-prefetch-control" content="off">`
//! (web/message-view.js). No link of a message is in the page itself.
//!
//! How a lookup is seen: each browser's own resolver log. Chromium writes a NetLog
//! (`--log-net-log`, capture mode Everything) in which every host resolution is a
//! `HOST_RESOLVER_*` event (and `DNS_*`/`DOH_*` events for the query) naming the host; Firefox
//! writes `MOZ_LOG=nsHostResolver:5` lines naming it. Each run uses fresh names
//! `prefetch-probe-<tag>-<unique>.example` (`.example` is reserved, RFC 2606: never resolvable
//! publicly), opens an HTML message (the reader's sanitized view, in web/dev/safety.html,
//! through web/message-view.js) and plain-text messages whose links point at them, moves the
//! pointer over the message and onto each link of its frame, tabs through the frame's links,
//! and checks through WebDriver, inside the frame, that its document saw every link hovered
//! (`:hover`) and focused (without that, the silence of the log would prove nothing about
//! them); then waits, closes the browser (which finishes the log) and asserts that no resolver
//! or DNS event mentions any of those names.
//!
//! The detector is proven in the same run and the same log: a control frame made by the test
//! page (never the product) with `x-dns-prefetch-control: on` and
//! `<link rel="dns-prefetch" href="//prefetch-probe-control-….example">` must show up as a
//! lookup. Without that, an empty log would prove nothing.
//!
//! No DNS query leaves the machine: Chromium's profile (`Local State`) puts its resolver in
//! secure DNS-over-HTTPS mode, Firefox's prefs in TRR-only mode, both with a resolver on
//! 127.0.0.1 port 9 (nothing listens there), so every lookup, the control's included, is
//! attempted only against loopback, fails, and is still logged with its name; the test checks
//! that the control went that way and that no plain DNS was sent. (`--host-resolver-rules`
//! cannot be used instead: a name it maps to `~NOTFOUND` never reaches Chromium's resolver and
//! so never reaches the log either, which would blind the control.)
//!
//! What the browsers do (Chromium 156, Firefox ESR): Firefox looks up the host of every
//! `<a href>` in a document as soon as it is shown, and of a link when it is hovered or
//! focused, unless that document says `x-dns-prefetch-control: off`; the page's header does
//! not cover a link in the page: when the plain-text view's links were in the page, hovering
//! or focusing them looked up their hosts. Now that the plain text is in a sandboxed srcdoc
//! frame with the `<meta>` like the HTML, no lookup is made in either browser. Without the
//! `<meta>` this test fails in Firefox: in the HTML frame with lookups of the HTML message's
//! link hosts, in the plain-text frame with lookups of its link hosts (tried: as soon as it is
//! shown, the message left alone included). Chromium's sandboxed srcdoc frame does not look up link hosts, on hover
//! or focus, with or without the `<meta>`: there the control proves the detector and the test
//! proves the product, but would also pass without the `<meta>`, which is therefore also
//! asserted in each frame's srcdoc. `x-dns-prefetch-control: off` does not stop an explicit
//! `<link rel="dns-prefetch">` in Chromium; the sanitizer removing `<link>` does (the HTML
//! message carries one, and its name is checked too).

use std::error::Error;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use e2e::browser::{Browser, BrowserKind, StartOptions};
use fantoccini::Locator;
use fantoccini::actions::{InputSource, MouseActions, PointerAction};
use fantoccini::elements::Element;
use fantoccini::key::Key;
use serde_json::{Value as Json, json};
use web_bridge::WebBridge;

mod web_bridge;

type R<T = ()> = Result<T, Box<dyn Error + Send + Sync>>;

/// How long anything lazy (a prefetch after parsing, a hover preconnect) may take.
const SETTLE: Duration = Duration::from_millis(1500);

/// The meta the frame's srcdoc must carry.
const META_OFF: &str = "<meta http-equiv=\"x-dns-prefetch-control\" content=\"off\">";

fn ensure(cond: bool, what: impl Into<String>) -> R {
    if cond {
        Ok(())
    } else {
        Err(what.into().into())
    }
}

/// Probe names unique to this run: `prefetch-probe-<tag>-<unique>.example`.
struct Probes {
    unique: String,
}

impl Probes {
    fn new() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        Probes {
            unique: format!("{:x}{:x}", std::process::id(), nanos),
        }
    }

    fn name(&self, tag: &str) -> String {
        format!("prefetch-probe-{tag}-{}.example", self.unique)
    }
}

const PRODUCT_TAGS: &[&str] = &[
    "html-a",
    "html-b",
    "html-c",
    "html-link",
    "html-text",
    "text-a",
    "text-b",
    "textopen-a",
    "textopen-b",
];

fn html_mail(p: &Probes) -> Vec<u8> {
    format!(
        "From: Links <links@example.com>\nTo: you@example.org\nSubject: Links (HTML)\nMIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n\n\
<html><head><link rel=\"dns-prefetch\" href=\"//{link}\"><link rel=\"preconnect\" href=\"https://{link}/\"></head><body>\n\
<p><a href=\"https://{a}/first\">first link</a></p>\n\
<p><a href=\"http://{b}/second\">second link</a> and <a href=\"https://{c}:8443/third\">third link</a></p>\n\
<p>Bare text https://{text}/page is not a link here.</p>\n\
</body></html>\n",
        link = p.name("html-link"),
        a = p.name("html-a"),
        b = p.name("html-b"),
        c = p.name("html-c"),
        text = p.name("html-text"),
    )
    .replace('\n', "\r\n")
    .into_bytes()
}

fn text_mail(p: &Probes, tag: &str) -> Vec<u8> {
    format!(
        "From: Links <links@example.com>\nTo: you@example.org\nSubject: Links (text)\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n\
Visit https://{a}/page today.\nOr http://{b}/other, or mail mailto:x@{b}.\n",
        a = p.name(&format!("{tag}-a")),
        b = p.name(&format!("{tag}-b")),
    )
    .replace('\n', "\r\n")
    .into_bytes()
}

/// The control: prefetching explicitly on and one name to prefetch, shown by the test page's
/// control frame (not the product).
fn control_mail(p: &Probes) -> Vec<u8> {
    format!(
        "From: c@example.com\nTo: you@example.org\nSubject: Control\nMIME-Version: 1.0\nContent-Type: text/html; charset=utf-8\n\n\
<meta http-equiv=\"x-dns-prefetch-control\" content=\"on\"><link rel=\"dns-prefetch\" href=\"//{}\">\
<p><a href=\"https://{}/\">control link</a></p>\n",
        p.name("control"),
        p.name("control-a"),
    )
    .replace('\n', "\r\n")
    .into_bytes()
}

async fn js_async(b: &Browser, script: &str, args: Vec<Json>) -> R<Json> {
    Ok(b.client.execute_async(script, args).await?)
}

/// Opens `raw` on the test page, in the product view (`control` false) or in the test page's
/// control frame; returns once the frame (if any) has loaded.
async fn open(b: &Browser, raw: &[u8], control: bool) -> R<Json> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(raw);
    let v = js_async(
        b,
        "const [b64, control, done] = arguments;
         (control ? window.__safety.openControl(b64) : window.__safety.open(b64))
           .then(done, (e) => done({ error: String(e && e.stack || e) }));",
        vec![json!(b64), json!(control)],
    )
    .await?;
    ensure(v["error"].is_null(), format!("open failed: {v}"))?;
    ensure(
        v["loaded"] == true,
        format!("the message did not load: {v}"),
    )?;
    Ok(v)
}

/// What the pointer and the keyboard reached in the shown message frame: the `href` of every
/// link in it, of those the frame's document saw under the pointer (`:hover`), and of those it
/// saw focused, in Tab order. Read through WebDriver inside the frame (the page itself cannot
/// look into a frame without same-origin).
#[derive(Debug, Default)]
struct Reached {
    links: Vec<String>,
    hovered: Vec<String>,
    focused: Vec<String>,
}

impl Reached {
    /// Every link was hovered and focused: otherwise the run proves nothing about them.
    fn check(&self, what: &str, links: usize) -> R {
        let all = |seen: &[String]| self.links.iter().all(|l| seen.contains(l));
        ensure(
            self.links.len() == links && all(&self.hovered) && all(&self.focused),
            format!("{what}: not every link of the frame was hovered and focused: {self:?}"),
        )
    }
}

/// Runs `script` inside `frame` (WebDriver frame switching; the frame's own scripts may be
/// off, the driver's still run) and comes back to the page.
async fn in_frame(b: &Browser, frame: &Element, script: &str) -> R<Json> {
    frame.enter_frame().await?;
    let v = b.js(script, vec![]).await;
    b.client.enter_parent_frame().await?;
    Ok(v?)
}

/// Moves the pointer over the message (a grid over the whole view, then onto each link of the
/// shown frame in turn) and tabs through the frame's links, then waits for anything lazy.
async fn hover_and_focus(b: &Browser) -> R<Reached> {
    let rect = b
        .js(
            "const r = document.getElementById('body').getBoundingClientRect();
             return [r.left, r.top, r.width, r.height];",
            vec![],
        )
        .await?;
    let n = |i: usize| rect[i].as_f64().unwrap_or(0.0);
    let (left, top, width, height) = (n(0), n(1), n(2).min(640.0), n(3).min(180.0));
    let mut moves = MouseActions::new("mouse".into());
    let mut y = top + 4.0;
    while y < top + height {
        let mut x = left + 4.0;
        while x < left + width {
            moves = moves.then(PointerAction::MoveTo {
                duration: Some(Duration::ZERO),
                x: x.floor(),
                y: y.floor(),
            });
            x += 32.0;
        }
        y += 12.0;
    }
    b.client.perform_actions(moves).await?;
    b.client.release_actions().await?;

    // The shown frame: the HTML view's, the plain-text view's or the control's (a hidden frame,
    // the plain text kept while the HTML is shown, is not the one on screen).
    let frame = b.find("#body iframe:not([hidden])").await?;
    let mut reached = Reached::default();
    frame.enter_frame().await?;
    // Inside the frame: its elements, and pointer actions with one of them as the origin.
    let hovering = async {
        for a in b.client.find_all(Locator::Css("a[href]")).await? {
            reached.links.push(a.attr("href").await?.unwrap_or_default());
            b.client
                .perform_actions(MouseActions::new("mouse".into()).then(
                    PointerAction::MoveToElement {
                        element: a,
                        duration: Some(Duration::ZERO),
                        x: 0.0,
                        y: 0.0,
                    },
                ))
                .await?;
            let hovered = b
                .js(
                    "return [...document.querySelectorAll('a[href]:hover')].map((a) => a.getAttribute('href'));",
                    vec![],
                )
                .await?;
            for h in hovered.as_array().into_iter().flatten() {
                reached.hovered.push(h.as_str().unwrap_or_default().to_owned());
            }
        }
        b.client.release_actions().await?;
        Ok::<_, Box<dyn Error + Send + Sync>>(())
    }
    .await;
    b.client.enter_parent_frame().await?;
    hovering?;
    // Tab from the frame element itself into its document, one stop at a time.
    b.js(
        "document.querySelector('#body iframe:not([hidden])').focus(); return true;",
        vec![],
    )
    .await?;
    for _ in 0..8 {
        b.press(&[Key::Tab]).await?;
        let v = in_frame(
            b,
            &frame,
            "const a = document.activeElement; return a && a.matches('a[href]') ? a.getAttribute('href') : null;",
        )
        .await?;
        if let Some(h) = v.as_str() {
            reached.focused.push(h.to_owned());
        }
    }
    tokio::time::sleep(SETTLE).await;
    Ok(reached)
}

/// The srcdoc of the shown message frame, if there is one.
async fn frame_srcdoc(b: &Browser) -> R<Option<String>> {
    let v = b
        .js(
            "const f = document.querySelector('#body iframe:not([hidden])'); return f ? f.srcdoc : null;",
            vec![],
        )
        .await?;
    Ok(v.as_str().map(str::to_owned))
}

/// Waits for the plain-text view's frame to load (the test page's `open` waits for the HTML
/// view's frame only).
async fn text_frame_loaded(b: &Browser) -> R {
    b.wait_js(
        "the plain-text frame",
        "(() => { const f = document.querySelector('#body iframe.message-text-frame:not([hidden])'); return !!(f && f.dataset.loaded); })()",
        Duration::from_secs(10),
    )
    .await?;
    Ok(())
}

/// The NetLog as JSON. A log whose browser was killed before it finished lacks its closing
/// `]}`; the events written so far are still read.
fn read_net_log(path: &Path) -> R<Json> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("the NetLog {} cannot be read: {e}", path.display()))?;
    if let Ok(v) = serde_json::from_str(&text) {
        return Ok(v);
    }
    let cut = text.trim_end().trim_end_matches(',');
    serde_json::from_str(&format!("{cut}]}}"))
        .map_err(|e| format!("the NetLog {} is not JSON: {e}", path.display()).into())
}

/// Every (event type, name) where a host resolver, DNS or DoH event of the log mentions one of
/// `names`.
fn lookups_of(log: &Json, names: &[String]) -> R<Vec<(String, String)>> {
    let types: std::collections::HashMap<u64, String> = log["constants"]["logEventTypes"]
        .as_object()
        .ok_or("the NetLog has no event type table")?
        .iter()
        .filter_map(|(k, v)| Some((v.as_u64()?, k.clone())))
        .collect();
    let events = log["events"].as_array().ok_or("the NetLog has no events")?;
    let mut found = Vec::new();
    for e in events {
        let ty = e["type"]
            .as_u64()
            .and_then(|t| types.get(&t))
            .cloned()
            .unwrap_or_default();
        if !(ty.starts_with("HOST_RESOLVER") || ty.starts_with("DNS_") || ty.starts_with("DOH_")) {
            continue;
        }
        let params = e["params"].to_string();
        for n in names {
            if params.contains(n.as_str()) {
                found.push((ty.clone(), n.clone()));
            }
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

/// Every `UDP_CONNECT` of the log to port 53: plain DNS, which this test must never send.
fn udp_to_port_53(log: &Json) -> Vec<String> {
    let Some(udp) = log["constants"]["logEventTypes"]["UDP_CONNECT"].as_u64() else {
        return vec!["(the NetLog has no UDP_CONNECT type)".into()];
    };
    log["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["type"].as_u64() == Some(udp))
        .filter_map(|e| e["params"]["address"].as_str())
        .filter(|a| a.ends_with(":53"))
        .map(str::to_owned)
        .collect()
}

/// (event or log line, name) pairs of a resolver log.
type Lookups = Vec<(String, String)>;

/// Firefox's resolver log: every line of every `MOZ_LOG` file (parent and content processes).
fn read_moz_log(dir: &Path) -> R<String> {
    let mut text = String::new();
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("moz_log"))
        {
            text.push_str(&String::from_utf8_lossy(&std::fs::read(&p)?));
        }
    }
    ensure(
        text.contains("nsHostResolver"),
        format!("no nsHostResolver log was written in {}", dir.display()),
    )?;
    Ok(text)
}

/// Every (log line, name) where Firefox's resolver log mentions one of `names`.
fn moz_lookups_of(log: &str, names: &[String]) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = log
        .lines()
        .filter(|l| l.contains("nsHostResolver"))
        .flat_map(|l| {
            names
                .iter()
                .filter(move |n| l.contains(n.as_str()))
                .map(move |n| (l.chars().take(160).collect(), n.clone()))
        })
        .collect();
    found.sort();
    found.dedup();
    found
}

async fn run_case(kind: BrowserKind) {
    let probes = Probes::new();
    let dir = tempfile::Builder::new()
        .prefix("ui-dns-prefetch-")
        .tempdir()
        .expect("temp dir");
    let log_path = dir.path().join("netlog.json");
    let server = WebBridge::with_dev_pages(e2e::browser::web_root()).await;
    let opts = match kind {
        BrowserKind::Chromium => StartOptions {
            args: vec![
                format!("--log-net-log={}", log_path.display()),
                "--net-log-capture-mode=Everything".into(),
            ],
            // Every lookup goes to DNS-over-HTTPS on loopback (nothing listens on port 9):
            // no DNS query leaves the machine, and each is still logged with its name.
            chromium_local_state: Some(json!({
                "dns_over_https": {
                    "mode": "secure",
                    "templates": "https://127.0.0.1:9/dns-query",
                },
            })),
            ..StartOptions::default()
        },
        BrowserKind::Firefox => StartOptions {
            // TRR-only mode (3) with a resolver on loopback port 9: the same, for Firefox.
            firefox_prefs: vec![
                ("network.trr.mode".into(), json!(3)),
                (
                    "network.trr.uri".into(),
                    json!("https://127.0.0.1:9/dns-query"),
                ),
                ("network.trr.bootstrapAddr".into(), json!("127.0.0.1")),
            ],
            firefox_env: vec![
                ("MOZ_LOG".into(), "nsHostResolver:5,sync".into()),
                (
                    "MOZ_LOG_FILE".into(),
                    dir.path().join("moz_log").display().to_string(),
                ),
            ],
            ..StartOptions::default()
        },
    };
    let b = Browser::start_with(kind, opts)
        .await
        .unwrap_or_else(|e| panic!("{} could not start: {e}", kind.name()));

    let mut failures: Vec<String> = Vec::new();
    let run = async {
        b.goto(&server.url("dev/safety.html")).await?;
        b.wait_js("the test page", "window.__safety", Duration::from_secs(15))
            .await?;
        ensure(
            js_async(
                &b,
                "window.__safety.mimeAvailable().then(arguments[0])",
                vec![],
            )
            .await?
                == true,
            "the wasm MIME API is missing: run `cargo xtask build-web`",
        )?;

        let v = open(&b, &html_mail(&probes), false).await?;
        ensure(v["hasHtml"] == true, format!("the HTML message: {v}"))?;
        let doc = frame_srcdoc(&b)
            .await?
            .ok_or("the HTML message has no frame")?;
        let head = doc.split("<body>").next().unwrap_or_default();
        // Recorded, not returned: the NetLog part still runs without the meta.
        let mut soft = Vec::new();
        if !head.contains(META_OFF) {
            soft.push(format!(
                "the message frame's srcdoc head lacks {META_OFF}: {head}"
            ));
        }
        ensure(
            doc.contains(&probes.name("html-a")),
            format!("the frame does not show the links: {doc}"),
        )?;
        hover_and_focus(&b).await?.check("the HTML message", 3)?;

        // Opened and left alone, then opened again and hovered and tabbed through. The plain
        // text is in a frame of its own, like the HTML.
        open(&b, &text_mail(&probes, "textopen"), false).await?;
        text_frame_loaded(&b).await?;
        tokio::time::sleep(SETTLE).await;
        open(&b, &text_mail(&probes, "text"), false).await?;
        text_frame_loaded(&b).await?;
        ensure(
            !b.js(
                "return !!document.querySelector('#body a, #body .message-frame-slot iframe');",
                vec![],
            )
            .await?
            .as_bool()
            .unwrap_or(true),
            "the plain-text message has a link in the page itself, or an HTML frame",
        )?;
        let doc = frame_srcdoc(&b)
            .await?
            .ok_or("the plain-text message has no frame")?;
        let head = doc.split("<body>").next().unwrap_or_default();
        if !head.contains(META_OFF) {
            soft.push(format!(
                "the plain-text frame's srcdoc head lacks {META_OFF}: {head}"
            ));
        }
        let reached = hover_and_focus(&b).await?;
        ensure(
            reached
                .links
                .iter()
                .any(|l| l.contains(&probes.name("text-a"))),
            format!("the text message's links: {reached:?}"),
        )?;
        reached.check("the plain-text message", 3)?;

        // Last, so the log is shown to record up to the end of the run.
        open(&b, &control_mail(&probes), true).await?;
        hover_and_focus(&b).await?.check("the control", 1)?;
        Ok::<_, Box<dyn Error + Send + Sync>>(soft)
    }
    .await;
    match run {
        Ok(soft) => failures.extend(soft),
        Err(e) => failures.push(format!("the run: {e}")),
    }
    // Closing the session closes the browser, which finishes the log.
    let _ = b.close().await;
    server.stop().await;

    // Give the last log lines a moment (the browser may still be exiting).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let control_name = probes.name("control");
    let product: Vec<String> = PRODUCT_TAGS.iter().map(|t| probes.name(t)).collect();
    // (control lookups, product lookups, failures of the "stayed on loopback" checks)
    let analysis: R<(Lookups, Lookups, Vec<String>)> = match kind {
        BrowserKind::Chromium => (|| {
            for _ in 0..50 {
                if let Ok(text) = std::fs::read_to_string(&log_path)
                    && serde_json::from_str::<Json>(&text).is_ok()
                {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let log = read_net_log(&log_path)?;
            let control = lookups_of(&log, std::slice::from_ref(&control_name))?;
            let found = lookups_of(&log, &product)?;
            let mut local = Vec::new();
            if !control.iter().any(|(ty, _)| ty == "DOH_URL_REQUEST") {
                local.push(format!(
                    "the control was not looked up over DNS-over-HTTPS on loopback ({control:?}): the Local State setting did not take, and plain DNS queries may have left the machine"
                ));
            }
            let plain_dns = udp_to_port_53(&log);
            if !plain_dns.is_empty() {
                local.push(format!(
                    "plain DNS was sent (UDP to port 53): {plain_dns:?}"
                ));
            }
            Ok((control, found, local))
        })(),
        BrowserKind::Firefox => (|| {
            let log = read_moz_log(dir.path())?;
            let control = moz_lookups_of(&log, std::slice::from_ref(&control_name));
            let found = moz_lookups_of(&log, &product);
            let mut local = Vec::new();
            if !control
                .iter()
                .any(|(l, _)| l.contains("effectiveTRRmode: 3"))
            {
                local.push(format!(
                    "the control was not looked up in TRR-only mode on loopback ({control:?}): the prefs did not take"
                ));
            }
            let all: Vec<String> = product.iter().chain([&control_name]).cloned().collect();
            let native: Vec<_> = moz_lookups_of(&log, &all)
                .into_iter()
                .filter(|(l, _)| l.contains("NativeLookup"))
                .collect();
            if !native.is_empty() {
                local.push(format!("a name went to the system resolver: {native:?}"));
            }
            Ok((control, found, local))
        })(),
    };
    match analysis {
        Err(e) => failures.push(e.to_string()),
        Ok((control, found, local)) => {
            if control.is_empty() {
                failures.push(format!(
                    "the control's name {control_name} was not looked up: the detector (the resolver log) is blind, so its silence proves nothing"
                ));
            }
            if !found.is_empty() {
                failures.push(format!(
                    "opening the messages looked up their link hosts: {found:?}"
                ));
            }
            failures.extend(local);
            eprintln!("{}: control lookups: {}", kind.name(), control.len());
        }
    }
    assert!(
        failures.is_empty(),
        "{}: DNS prefetch case failed:\n{}",
        kind.name(),
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_messages_with_links_makes_no_dns_lookup_in_chromium() {
    run_case(BrowserKind::Chromium).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_messages_with_links_makes_no_dns_lookup_in_firefox() {
    run_case(BrowserKind::Firefox).await;
}
