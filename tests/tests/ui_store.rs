//! The offline store and kiosk mode as a user meets them (issue #5), on the real stack:
//! the bridge serving web/, Dovecot behind it, `<pop3-inbox>` in headless browsers.
//!
//! - Chromium: mail is kept in IndexedDB by the background sync; after logging out it can be
//!   read offline; "delete once kept here" deletes on the server only what is stored, listed
//!   before QUIT like the user's own marks; export reports what it wrote.
//! - Chromium and Firefox: kiosk mode (from the page's URL in Chromium, imposed by the bridge's
//!   `kiosk` setting in Firefox) keeps mail in memory only, logs out by itself after the idle
//!   time with a visible countdown, and leaves no IndexedDB database, cache, local or session
//!   storage entry, or cookie behind.
//!
//! Needs web/pkg (`cargo xtask build-web`, which `cargo xtask test` runs first).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use e2e::browser::{Browser, BrowserKind};
use e2e::{Dovecot, DovecotOptions, Mailbox};
use pop3_bridge::{Bridge, Config};
use serde_json::{Value as Json, json};
use tokio::net::TcpListener;

type R<T = ()> = Result<T, String>;
const HOST: &str = "pop3-inbox";
const R_: &str = "const r = document.querySelector('pop3-inbox').shadowRoot;";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn ensure(c: bool, what: impl Into<String>) -> R {
    if c { Ok(()) } else { Err(what.into()) }
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

    async fn wait(&self, what: &str, expr: &str, secs: u64) -> R<Json> {
        self.b
            .wait_js(
                what,
                &format!("(() => {{ {R_} return ({expr}); }})()"),
                Duration::from_secs(secs),
            )
            .await
            .map_err(|e| format!("{}: waiting for {what}: {e}", self.kind.name()))
    }

    async fn click(&self, css: &str) -> R {
        self.b
            .click_in_shadow(HOST, css)
            .await
            .map_err(|e| format!("{}: click {css}: {e}", self.kind.name()))
    }

    async fn shot(&self, name: &str) -> R {
        let path = root()
            .join("target/screenshots")
            .join(format!("store-{}-{name}.png", self.kind.name()));
        self.b.screenshot(&path).await.map_err(|e| e.to_string())
    }

    async fn open(&self, query: &str) -> R {
        self.b
            .goto(&format!("{}/index.html?{query}", self.base))
            .await
            .map_err(|e| e.to_string())?;
        self.wait(
            "the account form",
            "customElements.get('pop3-inbox') && r && !r.querySelector('.login').hidden",
            30,
        )
        .await?;
        Ok(())
    }

    async fn login(&self, port: u16, user: &str, remember: bool) -> R {
        let js = format!(
            "{R_} r.querySelector('input[name=server]').value = 'localhost';
             r.querySelector('input[name=port]').value = '{port}';
             r.querySelector('input[name=user]').value = {user};
             r.querySelector('input[name=remember]').checked = {remember};
             return true;",
            user = json!(user)
        );
        self.b.js(&js, vec![]).await.map_err(|e| e.to_string())?;
        self.b
            .type_in_shadow(HOST, "input[name=password]", &format!("pw-{user}"))
            .await
            .map_err(|e| e.to_string())?;
        self.click("button.connect").await?;
        let v = self
            .wait(
                "the inbox (or an error)",
                "!r.querySelector('.inbox').hidden || (r.querySelector('.error') && r.querySelector('.error').textContent)",
                30,
            )
            .await?;
        ensure(v == Json::Bool(true), format!("login failed: {v}"))
    }

    async fn confirm(&self) -> R {
        self.wait("the dialog", "r.querySelector('dialog').open", 15)
            .await?;
        self.click("dialog button.confirm").await?;
        self.wait("the dialog to close", "!r.querySelector('dialog').open", 15)
            .await?;
        Ok(())
    }

    /// Full records in the browser's IndexedDB store for `user` (0 when there is no database).
    async fn kept_in_indexeddb(&self, user: &str, port: u16) -> R<u64> {
        let script = format!(
            "return new Promise((resolve) => {{
               const req = indexedDB.open('pop3-mail');
               req.onerror = () => resolve(-1);
               req.onsuccess = () => {{
                 const db = req.result;
                 if (!db.objectStoreNames.contains('messages')) {{ db.close(); resolve(0); return; }}
                 const acct = {acct};
                 const g = db.transaction('messages').objectStore('messages')
                   .getAll(IDBKeyRange.bound([acct, ''], [acct, []]));
                 g.onsuccess = () => {{ db.close(); resolve(g.result.filter((m) => m.full).length); }};
                 g.onerror = () => {{ db.close(); resolve(-2); }};
               }};
             }});",
            acct = json!(format!("{user}@localhost:{port}"))
        );
        let v = self
            .b
            .js(&script, vec![])
            .await
            .map_err(|e| e.to_string())?;
        v.as_u64().ok_or_else(|| format!("IndexedDB count: {v}"))
    }
}

struct Stack {
    d: Dovecot,
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    bridge: Option<tokio::task::JoinHandle<()>>,
}

async fn stack(users: &[(&str, usize)], kiosk: bool) -> Stack {
    let web = root().join("web");
    assert!(
        web.join("pkg/pop3_web_bg.wasm").exists(),
        "web/pkg is missing: run `cargo xtask build-web`"
    );
    let mut opts = DovecotOptions::new();
    for (u, n) in users {
        opts = opts.user(u, &format!("pw-{u}"), Mailbox::new(*n));
    }
    let d = Dovecot::start(opts).expect("dovecot");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let config = Config {
        listen: addr,
        web_root: Some(web),
        allow_hosts: vec!["localhost".into()],
        allow_ports: vec![d.tls_port()],
        extra_ca: vec![d.ca_pem_path().to_path_buf()],
        kiosk,
        kiosk_idle_secs: 10,
        ..Config::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let bridge = tokio::spawn(async move {
        let _ = Bridge::new(config)
            .run(listener, async {
                let _ = stopped.await;
            })
            .await;
    });
    Stack {
        d,
        addr,
        stop: Some(stop),
        bridge: Some(bridge),
    }
}

impl Stack {
    async fn shutdown(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(b) = self.bridge.take() {
            let _ = b.await;
        }
    }
}

async fn keep_read_offline_and_delete_after_download(ui: &Ui, d: &Dovecot) -> R {
    let user = "keeper";
    let port = d.tls_port();
    ui.open("").await?;
    ui.b.js("localStorage.clear(); return true;", vec![])
        .await
        .map_err(|e| e.to_string())?;
    ui.login(port, user, true).await?;
    let line = ui
        .wait(
            "the sync to keep all 6 messages",
            "r.querySelector('.syncline').textContent.includes('6 messages are kept') && r.querySelector('.syncline').textContent",
            60,
        )
        .await?;
    ensure(
        ui.kept_in_indexeddb(user, port).await? == 6,
        format!("IndexedDB holds the 6 messages ({line})"),
    )?;
    ensure(
        d.stored_message_count(user).map_err(|e| e.to_string())? == 6,
        "leave on server is the default",
    )?;
    ui.shot("kept").await?;

    // Log out; the login screen offers the kept mail; it opens and reads without a session.
    ui.click("button.logout").await?;
    ui.wait(
        "the offline button",
        "!r.querySelector('.login').hidden && !r.querySelector('button.offline').hidden",
        20,
    )
    .await?;
    // The list and the sync read each message's headers once between them (Dovecot logs
    // `top=<count>/<bytes>` at logout): the sync reuses what the list fetched.
    let log = d.log();
    let tops: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(&format!("({user})")) && l.contains("top="))
        .collect();
    ensure(
        tops.first().is_some_and(|l| l.contains("top=6/")),
        format!("each header fetched once in the first session: {tops:?}"),
    )?;
    ui.click("button.offline").await?;
    ui.wait(
        "the offline list",
        "!r.querySelector('.inbox').hidden && r.querySelectorAll('.row').length === 6",
        20,
    )
    .await?;
    ui.eval("(r.querySelector('.row').click(), 1)").await?;
    let body = ui
        .wait(
            "a kept message in the reader",
            "!r.querySelector('.reader').hidden && r.querySelector('.reader h2').textContent.length > 0 && !r.querySelector('.reader progress') && r.querySelector('.reader').textContent",
            20,
        )
        .await?;
    let newest = String::from_utf8_lossy(&d.expected_bytes(user, 5)).to_string();
    let subject = newest
        .lines()
        .find_map(|l| l.strip_prefix("Subject: "))
        .unwrap_or_default()
        .trim()
        .to_owned();
    ensure(
        body.as_str().is_some_and(|t| t.contains(&subject)),
        format!("offline reader shows {subject:?}: {body}"),
    )?;
    ui.shot("offline").await?;
    ui.click("button.logout").await?;

    // Policy: delete on the server once kept here. Headless browsers may not grant
    // persistent storage, so the risk box must be ticked to save it.
    ui.wait("the login form", "!r.querySelector('.login').hidden", 20)
        .await?;
    ui.login(port, user, true).await?;
    ui.wait(
        "the sync",
        "r.querySelector('.syncline').textContent.includes('kept on this device')",
        60,
    )
    .await?;
    ui.click("button.device").await?;
    ui.wait(
        "the device dialog",
        "r.querySelector('.device-dialog').open",
        15,
    )
    .await?;
    ui.b.js(
        &format!(
            "{R_} const s = r.querySelector('.device-dialog select[name=mode]');
             s.value = 'delete-after-download'; s.dispatchEvent(new Event('change'));
             return true;"
        ),
        vec![],
    )
    .await
    .map_err(|e| e.to_string())?;
    // The risk box appears only when the browser did not grant persistence.
    tokio::time::sleep(Duration::from_millis(300)).await;
    ui.eval("(() => { const b = r.querySelector('.device-dialog input[name=risk]'); if (b.required) b.checked = true; return 1; })()")
        .await?;
    ui.click(".device-dialog button.save").await?;
    ui.wait(
        "the dialog to close",
        "!r.querySelector('.device-dialog').open",
        15,
    )
    .await?;
    // Refresh = a new session: the sync marks the kept messages for deletion, shown before QUIT.
    ui.click("button.refresh").await?;
    let marked = ui
        .wait(
            "the policy's deletions listed before QUIT",
            "!r.querySelector('.marked-bar').hidden && r.querySelector('.marked-bar').textContent",
            60,
        )
        .await?;
    ensure(
        marked.as_str().is_some_and(|t| t.contains("6 messages")),
        format!("all 6 kept messages are listed for deletion: {marked}"),
    )?;
    ensure(
        d.stored_message_count(user).map_err(|e| e.to_string())? == 6,
        "nothing deleted before QUIT",
    )?;
    ui.shot("policy-marked").await?;
    ui.click("button.finish").await?;
    ui.confirm().await?;
    ui.wait(
        "the logout result",
        "r.textContent.includes('deleted on the server')",
        30,
    )
    .await?;
    ensure(
        d.stored_message_count(user).map_err(|e| e.to_string())? == 0,
        "the server copies are gone after QUIT",
    )?;
    ensure(
        ui.kept_in_indexeddb(user, port).await? == 6,
        "and every message is still kept on this device",
    )?;
    import_skips_what_is_kept(ui, user, port).await
}

/// Import (This device… → Import) of an mbox with two new messages and one already kept:
/// the two are added, the kept one is skipped, and importing again adds nothing.
async fn import_skips_what_is_kept(ui: &Ui, user: &str, port: u16) -> R {
    // Offline view of the account (its store), then the dialog.
    ui.wait(
        "the offline button",
        "!r.querySelector('.login').hidden && !r.querySelector('button.offline').hidden",
        20,
    )
    .await?;
    ui.click("button.offline").await?;
    ui.wait(
        "the offline list",
        "r.querySelectorAll('.row').length === 6",
        20,
    )
    .await?;
    // One message exactly as kept (same bytes): read back from the store through the page.
    let kept_uid =
        ui.b.js(
            &format!(
                "return new Promise((resolve) => {{
                   const req = indexedDB.open('pop3-mail');
                   req.onsuccess = () => {{
                     const acct = {acct};
                     const g = req.result.transaction('uidl').objectStore('uidl')
                       .getAll(IDBKeyRange.bound([acct, ''], [acct, []]));
                     g.onsuccess = () => {{ req.result.close(); resolve(g.result[0].uid); }};
                   }};
                 }});",
                acct = json!(format!("{user}@localhost:{port}"))
            ),
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?;
    let kept_uid = kept_uid.as_str().unwrap_or_default().to_owned();
    ensure(!kept_uid.is_empty(), "a kept message has a UIDL")?;
    let mut mbox = Vec::new();
    for (uid, subject) in [
        ("import-1", "Imported one"),
        ("import-2", "Imported two"),
        (kept_uid.as_str(), "Already kept"),
    ] {
        mbox.extend_from_slice(
            format!(
                "From import@example.org Thu Jan  1 00:00:00 2026\nX-POP3-UIDL: {uid}\r\n\
                 From: Import <import@example.org>\r\nSubject: {subject}\r\n\
                 Date: Thu, 01 Jan 2026 00:00:00 +0000\r\nMessage-ID: <{uid}@example.org>\r\n\r\n\
                 Body of {subject}.\r\n\n"
            )
            .as_bytes(),
        );
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("import.mbox");
    std::fs::write(&path, &mbox).map_err(|e| e.to_string())?;
    let path = path.to_string_lossy().to_string();
    for (round, expect) in [(1, "Imported 2 messages"), (2, "Imported 0 messages")] {
        ui.click("button.device").await?;
        ui.wait(
            "the device dialog",
            "r.querySelector('.device-dialog').open",
            15,
        )
        .await?;
        let input =
            ui.b.find_in_shadow(HOST, ".device-dialog input[name=import]")
                .await
                .map_err(|e| e.to_string())?;
        input.send_keys(&path).await.map_err(|e| e.to_string())?;
        let msg = ui
            .wait(
                "the import result",
                "r.querySelector('.device-dialog .notice, .device-dialog .error') && r.querySelector('.device-dialog .form-messages').textContent",
                20,
            )
            .await?;
        ensure(
            msg.as_str().is_some_and(|t| t.contains(expect)),
            format!("import round {round}: {msg}"),
        )?;
        ui.click(".device-dialog button.cancel").await?;
        ui.wait(
            "the dialog to close",
            "!r.querySelector('.device-dialog').open",
            15,
        )
        .await?;
    }
    ensure(
        ui.kept_in_indexeddb(user, port).await? == 8,
        "6 kept + 2 imported messages",
    )
}

/// `query` turns kiosk mode on through the page's URL; with an empty one the bridge's
/// configuration must do it.
async fn kiosk_leaves_nothing_behind(ui: &Ui, d: &Dovecot, query: &str) -> R {
    let user = "kiosk";
    let port = d.tls_port();
    ui.open(query).await?;
    ui.wait(
        "kiosk mode (remember disabled)",
        "document.querySelector('pop3-inbox').hasAttribute('kiosk') && r.querySelector('input[name=remember]').disabled",
        15,
    )
    .await?;
    ui.login(port, user, false).await?;
    ui.wait(
        "the sync (in memory)",
        "r.querySelector('.syncline').textContent.includes('3 messages are kept')",
        60,
    )
    .await?;
    ui.eval("(r.querySelector('.row').click(), 1)").await?;
    ui.wait(
        "the reader",
        "!r.querySelector('.reader').hidden && !r.querySelector('.reader progress')",
        20,
    )
    .await?;
    // No activity: the countdown shows, then the session ends by itself.
    ui.wait(
        "the idle countdown",
        "!r.querySelector('.kiosk-countdown').hidden && r.querySelector('.kiosk-countdown').textContent",
        20,
    )
    .await?;
    ui.shot("kiosk-countdown").await?;
    ui.wait(
        "the idle logout",
        "!r.querySelector('.login').hidden && r.textContent.includes('nothing happened for a while')",
        20,
    )
    .await?;
    ensure(
        d.stored_message_count(user).map_err(|e| e.to_string())? == 3,
        "kiosk mode never deletes on the server",
    )?;
    let traces = ui
        .b
        .js(
            "return (async () => {
               const dbs = indexedDB.databases ? (await indexedDB.databases()).map((d) => d.name) : ['(databases() missing)'];
               const cacheKeys = globalThis.caches ? await caches.keys() : [];
               const r = document.querySelector('pop3-inbox').shadowRoot;
               return { dbs, caches: cacheKeys.length, local: localStorage.length, session: sessionStorage.length,
                        cookie: document.cookie, rows: r.querySelectorAll('.row').length,
                        user: r.querySelector('input[name=user]').value };
             })();",
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?;
    ensure(
        traces["dbs"] == json!([])
            && traces["caches"] == 0
            && traces["local"] == 0
            && traces["session"] == 0
            && traces["cookie"] == ""
            && traces["rows"] == 0
            && traces["user"] == "",
        format!("kiosk mode left traces: {traces}"),
    )
}

/// Chromium: kiosk mode from the page URL, then the store scenario (the bridge is not in kiosk
/// mode). Firefox: kiosk mode imposed by the bridge's configuration.
async fn run(kind: BrowserKind, store_scenario: bool) {
    let mut s = stack(&[("keeper", 6), ("kiosk", 3)], !store_scenario).await;
    let b = Browser::start(kind).await.expect("browser starts");
    let ui = Ui {
        b,
        base: format!("http://{}", s.addr),
        kind,
    };
    let query = if store_scenario {
        "kiosk&kiosk-idle=10"
    } else {
        ""
    };
    let mut result = kiosk_leaves_nothing_behind(&ui, &s.d, query).await;
    if result.is_ok() && store_scenario {
        result = keep_read_offline_and_delete_after_download(&ui, &s.d).await;
    }
    let _ = ui.b.close().await;
    s.shutdown().await;
    if let Err(e) = result {
        panic!("{}: {e}\n--- dovecot log ---\n{}", kind.name(), s.d.log());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_and_kiosk_in_chromium() {
    run(BrowserKind::Chromium, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kiosk_from_the_bridge_config_in_firefox() {
    run(BrowserKind::Firefox, false).await;
}
