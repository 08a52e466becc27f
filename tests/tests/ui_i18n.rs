//! The UI in more than one language (issue #17): every word of `<pop3-inbox>` comes from the
//! message catalog in web/i18n/, chosen from the browser's languages, and dates, numbers and
//! sizes are formatted by Intl for it. On the real stack (the bridge serving web/, Dovecot
//! behind it), in headless Chromium and Firefox:
//!
//! 1. A browser whose preferred language is French (Chromium `--lang`/`--accept-lang`, Firefox
//!    `intl.accept_languages`) shows the sign-in screen and, once signed in, the inbox in
//!    French, with a message's date ("janv.", a French month) and size ("Mo", a decimal comma)
//!    formatted for French; the shadow content says `lang="fr"`, the page's title is the app's
//!    French name. The browser's storage estimate is made to say "no room": the sync's warning
//!    (the engine's `storage_low`) shows in French too.
//! 2. Setting the element's `lang` attribute switches the text live, both ways, on the sign-in
//!    screen (what was typed stays) and in the inbox (buttons, count, status line, list dates,
//!    the page's title).
//!
//! The catalog's modules are in the service worker's app shell (kept for offline use).
//!
//! And, without a browser, that every catalog has the same keys with the same placeholders
//! as English, with the plural forms its language needs, and that every key the UI's code
//! names is in the catalog; that every code the sync engine, web/sync.js and the store report
//! has its text in every catalog; and, driving the inbox's controller in node, that what the
//! sync layer reports (why it did nothing, a warning, the error that stopped it) and a list row
//! whose headers never came show in French, and in English again after a switch.
//!
//! Needs web/pkg (`cargo xtask build-web`, which `cargo xtask test` runs first).

use std::path::Path;

use e2e::browser::{Browser, BrowserKind, InboxPage, StartOptions};
use e2e::served::{ServedBridge, ui_config};
use e2e::{Dovecot, DovecotOptions, Mailbox};
use serde_json::{Value as Json, json};

type R<T = ()> = Result<T, String>;

fn ensure(c: bool, what: impl Into<String>) -> R {
    if c { Ok(()) } else { Err(what.into()) }
}

/// The subject of the one message, dated 5 January 2020 and about 1.3 MB: its list date
/// shows the year and a month name, its size a decimal fraction, both different in French.
const SUBJECT: &str = "Rapport annuel";

/// Puts the message into `maildir/new`, as a delivery agent would (write in tmp, rename).
fn deliver(maildir: &Path) -> R {
    let body = "Lorem ipsum dolor sit amet, consectetur adipiscing elit.\r\n".repeat(23_000);
    let msg = format!(
        "From: Alice <alice@example.org>\r\nTo: reader@example.org\r\nSubject: {SUBJECT}\r\nDate: Sun, 05 Jan 2020 10:00:00 +0000\r\nMessage-ID: <i18n-1@example.org>\r\n\r\n{body}"
    );
    let name = format!("1577000000.N1P{}.e2e,S={}", std::process::id(), msg.len());
    let tmp = maildir.join("tmp").join(&name);
    std::fs::write(&tmp, msg.as_bytes()).map_err(|e| format!("deliver: {e}"))?;
    std::fs::rename(&tmp, maildir.join("new").join(&name)).map_err(|e| format!("deliver: {e}"))
}

/// What the test reads of the screen, in one round trip.
const SCREEN: &str = "({
    langs: [...r.children].filter((x) => x.localName !== 'style').map((x) => x.lang),
    title: r.querySelector('.login h1').textContent,
    connect: r.querySelector('button.connect').textContent,
    userLabel: r.querySelector('label[for=p3-user]').textContent,
    serverPlaceholder: r.querySelector('input[name=server]').placeholder,
    typedUser: r.querySelector('input[name=user]').value,
    inbox: r.querySelector('.inbox h1').textContent,
    refresh: r.querySelector('button.refresh').textContent,
    logout: r.querySelector('button.logout').textContent,
    count: r.querySelector('.count').textContent,
    status: r.querySelector('.statusline').textContent,
    search: r.querySelector('input[type=search]').placeholder,
    gridLabel: r.querySelector('[role=grid]').getAttribute('aria-label'),
    date: r.querySelector('.row .date') ? r.querySelector('.row .date').textContent : null,
    size: r.querySelector('.row .size') ? r.querySelector('.row .size').textContent : null,
    docTitle: document.title,
})";

struct Ui {
    page: InboxPage,
    base: String,
}

impl std::ops::Deref for Ui {
    type Target = InboxPage;
    fn deref(&self) -> &InboxPage {
        &self.page
    }
}

impl Ui {
    async fn screen(&self) -> R<Json> {
        self.eval(SCREEN).await
    }

    /// Sets (or with None removes) the element's `lang` attribute.
    async fn set_lang(&self, lang: Option<&str>) -> R {
        let js = match lang {
            Some(l) => format!(
                "document.querySelector('pop3-inbox').setAttribute('lang', {})",
                json!(l)
            ),
            None => "document.querySelector('pop3-inbox').removeAttribute('lang')".into(),
        };
        self.eval(&format!("({js}, true)")).await.map(|_| ())
    }
}

fn s(v: &Json, k: &str) -> String {
    v[k].as_str().unwrap_or_default().to_string()
}

/// The list's date and size of the 2020 message, formatted for French: a French month
/// abbreviation with the year, and megabytes with a decimal comma ("1,3 Mo").
fn french_date_and_size(v: &Json) -> R {
    let (date, size) = (s(v, "date"), s(v, "size"));
    ensure(
        date.contains("janv.") && date.contains("2020"),
        format!("the list date is not French: {date:?}"),
    )?;
    ensure(
        size.contains("Mo") && size.contains(','),
        format!("the size is not French: {size:?}"),
    )
}

/// (1) The browser prefers French: sign-in screen and inbox are French.
async fn browser_language_picks_french(ui: &Ui, port: u16) -> R {
    ui.open_form(&format!("{}/", ui.base)).await?;
    let v = ui.screen().await?;
    ensure(
        s(&v, "title") == "Connectez-vous à votre messagerie"
            && s(&v, "connect") == "Se connecter"
            && s(&v, "userLabel") == "Nom d’utilisateur",
        format!("the sign-in screen is not French: {v}"),
    )?;
    ensure(
        v["langs"]
            .as_array()
            .is_some_and(|l| !l.is_empty() && l.iter().all(|x| x == "fr")),
        format!("the shadow content does not say lang=fr: {v}"),
    )?;
    ensure(
        s(&v, "docTitle") == "Courrier",
        format!("the page's title is not French: {v}"),
    )?;
    ui.shot("signin-fr").await?;
    // The catalog is part of the app shell the service worker keeps for offline use.
    let worker =
        ui.b.js("return fetch('/sw.js').then((r) => r.text())", vec![])
            .await
            .map_err(|e| format!("reading /sw.js: {e}"))?;
    let worker = worker.as_str().unwrap_or_default();
    for f in ["i18n/index.js", "i18n/en.js", "i18n/fr.js"] {
        ensure(
            worker.contains(f),
            format!("the service worker's shell does not keep {f}"),
        )?;
    }

    // No room on this device, says the browser: the sync keeps the headers only, and warns.
    ui.eval("(StorageManager.prototype.estimate = async () => ({ quota: 0, usage: 0 }), true)")
        .await?;
    ui.sign_in(port, "reader", false).await?;
    let v = ui
        .wait(
            "the message's row",
            &format!("r.querySelector('.statusline .badge.secure') && r.querySelector('.row:not(.loading)') && r.querySelector('.row').textContent.includes({}) && {SCREEN}", json!(SUBJECT)),
            60,
        )
        .await?;
    let sync = ui
        .wait(
            "the sync's summary",
            "r.querySelector('.syncline').textContent.includes('conservé') && r.querySelector('.syncline').textContent",
            60,
        )
        .await?;
    let sync = sync.as_str().unwrap_or_default();
    ensure(
        sync.contains("1 nouveau message ne tient pas sur cet appareil") && !sync.contains("room"),
        format!("the sync's warning is not French: {sync:?}"),
    )?;
    ensure(
        s(&v, "inbox") == "Boîte de réception"
            && s(&v, "refresh") == "Actualiser"
            && s(&v, "logout") == "Se déconnecter"
            && s(&v, "count") == "1 message"
            && s(&v, "status").contains("Connecté en tant que reader sur localhost")
            && s(&v, "gridLabel") == "Messages, les plus récents d’abord",
        format!("the inbox is not French: {v}"),
    )?;
    french_date_and_size(&v)?;
    ui.shot("inbox-fr").await?;
    Ok(())
}

/// (2) The `lang` attribute switches the text live, both ways, keeping what was typed.
async fn lang_attribute_switches_live(ui: &Ui, port: u16) -> R {
    ui.open_form(&format!("{}/", ui.base)).await?;
    ui.eval("(r.querySelector('input[name=user]').value = 'reader', true)")
        .await?;
    ui.set_lang(Some("en")).await?;
    let v = ui.screen().await?;
    ensure(
        s(&v, "title") == "Sign in to your mail"
            && s(&v, "connect") == "Connect"
            && s(&v, "userLabel") == "User name"
            && s(&v, "serverPlaceholder") == "pop.example.org"
            && s(&v, "typedUser") == "reader",
        format!("lang=en did not switch the sign-in screen to English: {v}"),
    )?;
    ensure(
        v["langs"]
            .as_array()
            .is_some_and(|l| l.iter().all(|x| x == "en")),
        format!("the shadow content does not say lang=en: {v}"),
    )?;
    ui.set_lang(Some("fr-CA")).await?;
    let v = ui.screen().await?;
    ensure(
        s(&v, "title") == "Connectez-vous à votre messagerie"
            && s(&v, "serverPlaceholder") == "pop.exemple.fr"
            && s(&v, "typedUser") == "reader",
        format!("lang=fr-CA did not switch the sign-in screen to French: {v}"),
    )?;

    ui.set_lang(Some("en")).await?;
    ui.sign_in(port, "reader", false).await?;
    let v = ui
        .wait(
            "the message's row",
            // Signed in (the mail kept by the first sign-in shows before, as "Offline").
            &format!("r.querySelector('.statusline .badge.secure') && r.querySelector('.row:not(.loading)') && r.querySelector('.row .size').textContent && {SCREEN}"),
            60,
        )
        .await?;
    ensure(
        s(&v, "inbox") == "Inbox"
            && s(&v, "refresh") == "Refresh"
            && s(&v, "count") == "1 message"
            && s(&v, "status").contains("Signed in as reader on localhost")
            && s(&v, "date").contains("Jan")
            && s(&v, "size").contains("MB")
            && s(&v, "size").contains('.')
            && s(&v, "docTitle") == "Mail",
        format!("the inbox is not English with lang=en: {v}"),
    )?;
    ui.set_lang(Some("fr")).await?;
    let v = ui.screen().await?;
    ensure(
        s(&v, "inbox") == "Boîte de réception"
            && s(&v, "refresh") == "Actualiser"
            && s(&v, "logout") == "Se déconnecter"
            && s(&v, "status").contains("Connecté en tant que reader sur localhost")
            && s(&v, "search").starts_with("Rechercher")
            && s(&v, "gridLabel") == "Messages, les plus récents d’abord"
            && s(&v, "docTitle") == "Courrier",
        format!("lang=fr did not switch the inbox to French: {v}"),
    )?;
    french_date_and_size(&v)?;
    // An unknown language falls back to the browser's (French here), not to whatever was last.
    ui.set_lang(Some("en")).await?;
    ui.set_lang(Some("xx")).await?;
    let v = ui.screen().await?;
    ensure(
        s(&v, "refresh") == "Actualiser",
        format!("lang=xx did not fall back to the browser's French: {v}"),
    )?;
    ui.set_lang(None).await?;
    ui.click("button.logout").await?;
    Ok(())
}

async fn run(kind: BrowserKind) {
    let opts = DovecotOptions::new().user("reader", "pw-reader", Mailbox::new(0));
    let d = Dovecot::start(opts).expect("dovecot");
    deliver(d.maildir("reader")).expect("deliver");
    let mut bridge = ServedBridge::start(ui_config(&d)).await;
    // The browser's language preference: French first.
    let mut opts = StartOptions::default();
    match kind {
        BrowserKind::Chromium => {
            opts.args = vec!["--lang=fr-FR".into(), "--accept-lang=fr-FR,fr".into()]
        }
        BrowserKind::Firefox => {
            opts.firefox_prefs = vec![("intl.accept_languages".into(), json!("fr-FR, fr"))]
        }
    }
    let b = Browser::start_with(kind, opts)
        .await
        .expect("browser starts");
    let ui = Ui {
        page: InboxPage {
            b,
            kind,
            shots: "i18n",
        },
        base: format!("http://{}", bridge.addr),
    };
    let port = d.tls_port();
    let mut result = browser_language_picks_french(&ui, port).await;
    if result.is_ok() {
        let _ = ui.click("button.logout").await;
        result = lang_attribute_switches_live(&ui, port).await;
    }
    if let Err(e) = &mut result {
        let _ = ui.shot("FAILED").await;
        if let Ok(v) = ui
            .eval("({ languages: navigator.languages, errors: [...r.querySelectorAll('.error')].map((x) => x.textContent) })")
            .await
        {
            e.push_str(&format!("\npage: {v}"));
        }
    }
    let _ = ui.page.b.close().await;
    bridge.stop().await;
    if let Err(e) = result {
        panic!("{}: {e}\n--- dovecot log ---\n{}", kind.name(), d.log());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_language_and_lang_attribute_choose_the_ui_language_chromium() {
    run(BrowserKind::Chromium).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_language_and_lang_attribute_choose_the_ui_language_firefox() {
    run(BrowserKind::Firefox).await;
}

/// Every catalog has exactly English's keys, each with the same `{placeholders}` (in every
/// plural form), plural entries where English has them with at least the `other` form and
/// every form its language's Intl.PluralRules uses (but `many`, French only for millions,
/// which falls back to `other`); and every key the UI's code names (a
/// quoted `area.name` whose area is a catalog's) is in the catalog.
#[test]
fn every_catalog_has_every_key_with_the_same_placeholders() {
    let script = r#"
import { readFileSync, readdirSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
const root = process.env.POP3_ROOT;
const { LANGUAGES } = await import(pathToFileURL(`${root}/web/i18n/index.js`).href);
const problems = [];
const forms = (v) => (typeof v === 'string' ? { other: v } : v);
const holes = (s) => [...String(s).matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort().join(',');
const en = LANGUAGES.en;
for (const [lang, cat] of Object.entries(LANGUAGES)) {
  const needed = new Intl.PluralRules(lang).resolvedOptions().pluralCategories;
  for (const k of Object.keys(en)) if (!(k in cat)) problems.push(`${lang}: missing ${k}`);
  for (const k of Object.keys(cat)) if (!(k in en)) problems.push(`${lang}: ${k} is not in en`);
  for (const [k, v] of Object.entries(cat)) {
    if (!(k in en)) continue;
    if ((typeof v === 'string') !== (typeof en[k] === 'string')) problems.push(`${lang}: ${k} plural forms differ from en`);
    const want = new Set(Object.values(forms(en[k])).map(holes));
    for (const [form, text] of Object.entries(forms(v))) {
      if (typeof text !== 'string' || !text) problems.push(`${lang}: ${k}.${form} is empty`);
      else if (!want.has(holes(text))) problems.push(`${lang}: ${k}.${form} has {${holes(text)}}, en has {${[...want].join('} or {')}}`);
    }
    if (typeof v !== 'string') {
      if (!v.other) problems.push(`${lang}: ${k} has no 'other' form`);
      for (const c of needed) if (c !== 'other' && c !== 'many' && !(c in v)) problems.push(`${lang}: ${k} lacks the '${c}' form`);
    }
  }
}
const areas = new Set(Object.keys(en).map((k) => k.split('.')[0]));
const files = [...readdirSync(`${root}/web`).filter((f) => f.endsWith('.js')).map((f) => `web/${f}`), ...readdirSync(`${root}/web/inbox`).map((f) => `web/inbox/${f}`)];
let named = 0;
for (const f of files) {
  for (const m of readFileSync(`${root}/${f}`, 'utf8').matchAll(/'([a-z]+)\.([A-Za-z0-9_]+)'/g)) {
    if (!areas.has(m[1])) continue;
    named++;
    if (!(`${m[1]}.${m[2]}` in en)) problems.push(`${f} names ${m[1]}.${m[2]}, which is not in the catalog`);
  }
}
if (named < 100) problems.push(`only ${named} catalog keys found in the UI's code: the scan is broken`);
console.log(JSON.stringify(problems));
"#;
    no_problems(script, "the catalogs disagree");
}

/// Runs `script` in node; it prints a JSON list of problems, which must be empty.
fn no_problems(script: &str, what: &str) {
    let out = e2e::node_module::run(script, &[]);
    assert!(out.ok, "node failed ({}): {}", out.status, out.stderr);
    let problems: Vec<String> = serde_json::from_str(out.stdout.trim()).expect("a JSON list");
    assert!(problems.is_empty(), "{what}:\n{}", problems.join("\n"));
}

/// Every code the sync layer can report (the engine's `Blocked` and `Warning` codes in
/// client-wasm/pop3-sync, the warnings web/sync.js adds) has a `sync.warn.<code>` text, and
/// every StoreError code of web/store.js a `code.<code>` text, in every catalog: the UI shows
/// them by code, and a missing one would show the layer's English in any language.
#[test]
fn every_code_the_sync_and_the_store_report_has_a_text_in_every_catalog() {
    let script = r#"
import { readFileSync, readdirSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
const root = process.env.POP3_ROOT;
const { LANGUAGES } = await import(pathToFileURL(`${root}/web/i18n/index.js`).href);
const read = (f) => readFileSync(`${root}/${f}`, 'utf8');
const sync = new Set();
const engine = 'client-wasm/pop3-sync/src';
for (const f of readdirSync(`${root}/${engine}`, { recursive: true }).filter((f) => f.endsWith('.rs'))) {
  const src = read(`${engine}/${f}`);
  // warn(list, "code", "sentence", count) and Blocked / Warning { code: "code", .. }
  for (const m of src.matchAll(/\bwarn\(\s*[^,()]+,\s*"([a-z0-9_]+)"/g)) sync.add(m[1]);
  for (const m of src.matchAll(/\bcode: "([a-z0-9_]+)"/g)) sync.add(m[1]);
}
for (const m of read('web/sync.js').matchAll(/\bcode: '([a-z0-9_]+)'/g)) sync.add(m[1]);
const typedef = /@typedef \{([^}]*)\} StoreErrorCode/.exec(read('web/store.js'));
const store = new Set([...(typedef?.[1] ?? '').matchAll(/'([a-z0-9_]+)'/g)].map((m) => m[1]));
const problems = [];
if (sync.size < 13) problems.push(`only ${sync.size} sync codes found (${[...sync]}): the scan is broken`);
if (store.size < 6) problems.push(`only ${store.size} store codes found (${[...store]}): the scan is broken`);
for (const [lang, cat] of Object.entries(LANGUAGES)) {
  for (const c of sync) if (!(`sync.warn.${c}` in cat)) problems.push(`${lang}: no sync.warn.${c}`);
  for (const c of store) if (!(`code.${c}` in cat)) problems.push(`${lang}: no code.${c}`);
}
console.log(JSON.stringify(problems));
"#;
    no_problems(script, "codes without a text");
}

/// The inbox's controller (web/inbox/controller.js) in node, speaking French, with fake
/// sessions and this page's memory store: what the sync layer reports shows in French, and in
/// English (its own words) once the language is switched, without anything being redone.
/// - A message whose headers never came (gone from the server meanwhile) is listed as such.
/// - The server announces UIDL and then refuses it: the engine's `uidl_failed` (blocked).
/// - The browser says there is no room: the engine's `storage_low` warning, with its count.
/// - Another tab holds the account's sync lock: the store's `locked` error stops the sync.
#[test]
fn what_the_sync_layer_reports_shows_in_the_ui_language() {
    let script = r#"
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
const root = process.env.POP3_ROOT;
const { InboxController } = await import(pathToFileURL(`${root}/web/inbox/controller.js`).href);
const { I18n } = await import(pathToFileURL(`${root}/web/i18n/index.js`).href);
const pkg = await import(pathToFileURL(`${root}/web/pkg/pop3_web.js`).href);
const wasm = async () => {
  pkg.initSync({ module: readFileSync(`${root}/web/pkg/pop3_web_bg.wasm`) });
  return pkg;
};
// Node 20 has no `navigator`: each case puts in the Web Locks and storage estimate it needs.
globalThis.navigator ??= {};
const enc = new TextEncoder();
const raw = (m) => enc.encode(`From: Ann <ann@example.org>\r\nSubject: message ${m}\r\nMessage-ID: <m${m}@example.org>\r\n\r\nbody ${m}\r\n`);
const head = (m) => raw(m).slice(0, raw(m).length - `body ${m}\r\n`.length);
function session({ uidl = true, headersOf = (msgs) => msgs } = {}) {
  return {
    open: true,
    capabilities: { uidl: true, top: true },
    async list() {
      return [1, 2].map((msg) => ({ msg, size: raw(msg).length }));
    },
    async uidl() {
      if (!uidl) throw Object.assign(new Error('-ERR no UIDL today'), { code: 'server_refused' });
      return [1, 2].map((msg) => ({ msg, uid: `uid-${msg}` }));
    },
    async fetchHeaders({ msgs }) {
      return headersOf(msgs).map((msg) => ({ msg, headers: head(msg) }));
    },
    async download(msgs, { onMessage }) {
      for (const m of msgs) await onMessage(m, raw(m));
    },
    async dele() {},
    async rset() {},
    async quit() {
      return { committed: true };
    },
    close() {},
  };
}
const values = { server: 'pop.example.org', port: 995, security: 'tls', user: 'ann', password: 'pw', allowInsecure: false };
// Signs in with `s` in French, lists, and resolves once the sync says how it ended: the
// controller, its i18n and that last line (a Msg, rendered in the language of the moment).
async function run(s) {
  const i18n = new I18n('fr');
  const c = new InboxController({ attr: (n) => ({ store: 'memory' })[n] ?? null, kiosk: () => false, api: { wasm, connect: async () => s }, i18n });
  let ended;
  const line = new Promise((resolve) => (ended = resolve));
  c.on('syncnote', (t) => {
    if (/conservé|arrêtée/.test(String(t))) ended(t);
  });
  await c.open({ ...values }, 'ws://x/pop3');
  await c.loadMailbox({ priority: () => [], progress: { update() {} } });
  let timer;
  const note = await Promise.race([line, new Promise((resolve) => (timer = setTimeout(() => resolve('timeout'), 10000)))]);
  clearTimeout(timer);
  return { c, i18n, note };
}
const out = {};

// Headers for message 2 only; UIDL announced, then refused.
{
  const { c, i18n, note } = await run(session({ uidl: false, headersOf: (msgs) => msgs.filter((m) => m === 2) }));
  const subject = () => c.itemOf(1)?.subject;
  out.headersFr = subject();
  out.blockedFr = String(note);
  i18n.set('en');
  out.headersEn = subject();
  out.blockedEn = String(note);
}

// No room at all.
navigator.storage = { estimate: async () => ({ quota: 0, usage: 0 }) };
{
  const { i18n, note } = await run(session());
  out.storageFr = String(note);
  i18n.set('en');
  out.storageEn = String(note);
}
delete navigator.storage;

// Another tab is syncing this account.
navigator.locks = { request: (name, options, fn) => fn(null) };
{
  const { i18n, note } = await run(session());
  out.lockedFr = String(note);
  i18n.set('en');
  out.lockedEn = String(note);
}
delete navigator.locks;
console.log(JSON.stringify(out));
"#;
    let out = e2e::node_module::run(script, &["pop3_web.js", "pop3_web_bg.wasm"]);
    assert!(out.ok, "node failed ({}): {}", out.status, out.stderr);
    let v: Json = serde_json::from_str(out.stdout.trim()).expect("a JSON object");
    let has = |k: &str, want: &str| s(&v, k).contains(want);
    let checks = [
        ("headersFr", "(en-têtes indisponibles)"),
        ("headersEn", "(headers unavailable)"),
        (
            "blockedFr",
            "Le serveur annonce des identifiants uniques (UIDL), mais la commande a échoué.",
        ),
        (
            "blockedEn",
            "The server announced unique ids (UIDL) but the command failed.",
        ),
        (
            "storageFr",
            "2 nouveaux messages ne tiennent pas sur cet appareil",
        ),
        (
            "storageEn",
            "This device has room for only 0 of the 2 new messages.",
        ),
        (
            "lockedFr",
            "s’est arrêtée\u{a0}: Un autre onglet synchronise déjà ce compte. Rien n’a été supprimé",
        ),
        (
            "lockedEn",
            "stopped: Another tab is already syncing this account. Nothing was deleted",
        ),
    ];
    let wrong: Vec<String> = checks
        .iter()
        .filter(|(k, want)| !has(k, want))
        .map(|(k, want)| format!("{k}: {:?} does not say {want:?}", s(&v, k)))
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
