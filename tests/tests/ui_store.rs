//! The offline store and kiosk mode as a user meets them (issue #5), on the real stack:
//! the bridge serving web/, Dovecot behind it, `<pop3-inbox>` in headless browsers.
//!
//! - Chromium: mail is kept in IndexedDB by the background sync, and the password in none of
//!   the origin's storage; "delete once kept here" deletes on the server only what is stored,
//!   listed before QUIT like the user's own marks; then, with the bridge and Dovecot stopped,
//!   the kept mail is read, exported (mbox and zip, checked byte for byte against what the
//!   server had) and imported: an mbox, and a zip another program made (Python's `zipfile`,
//!   deflated entries), whose new messages are kept byte for byte.
//! - Firefox: the same zip of another program imported while signed in.
//! - Chromium and Firefox: a 12 MB message (a 9 MB attachment) is kept in pieces, as one Blob
//!   byte for byte the server's, and the reader opens it from the device with its text and
//!   attachment.
//! - Chromium and Firefox: a kept message opened while its account connects stays open once
//!   the server's list replaces the kept one, and then acts on the server's message.
//! - Chromium and Firefox: kiosk mode (from the page's URL in Chromium, imposed by the bridge's
//!   `kiosk` setting in Firefox) keeps mail in memory only (no database even while signed in),
//!   ignores a deleting policy and, after the idle time with a visible countdown, logs out
//!   without deleting the message the user marked; it leaves no IndexedDB database, cache,
//!   local or session storage entry, or cookie behind.
//!
//! Needs web/pkg (`cargo xtask build-web`, which `cargo xtask test` runs first).

use std::time::Duration;

use e2e::browser::{
    Browser, BrowserKind, INBOX_HOST as HOST, INBOX_ROOT as R_, InboxPage, decode_base64,
};
use e2e::served::{ServedBridge, ui_config};
use e2e::{Direction, Dovecot, DovecotOptions, Fault, FaultPlan, FaultProxy, Mailbox};
use pop3_bridge::Config;
use serde_json::{Value as Json, json};

type R<T = ()> = Result<T, String>;

fn ensure(c: bool, what: impl Into<String>) -> R {
    if c { Ok(()) } else { Err(what.into()) }
}

/// The inbox page (eval, wait, click, shot: `e2e::browser::InboxPage`), where it is served,
/// and this test's steps.
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
    async fn open(&self, query: &str) -> R {
        self.open_form(&format!("{}/index.html?{query}", self.base))
            .await
    }

    /// Everything the origin keeps on the device (see `Browser::storage_dump`).
    async fn storage(&self) -> R<Json> {
        let v = self.b.storage_dump().await.map_err(|e| e.to_string())?;
        ensure(v["error"].is_null(), format!("storage dump: {v}"))?;
        Ok(v)
    }

    /// Picks `mode` in the open device dialog, ticking the risk box when the browser did not
    /// grant persistent storage (headless browsers may not).
    async fn choose_policy(&self, mode: &str) -> R {
        self.b
            .js(
                &format!(
                    "{R_} const s = r.querySelector('.device-dialog select[name=mode]');
                     s.value = {mode}; s.dispatchEvent(new Event('change'));
                     return true;",
                    mode = json!(mode)
                ),
                vec![],
            )
            .await
            .map_err(|e| e.to_string())?;
        // The risk box appears only when the browser did not grant persistence.
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.eval("(() => { const b = r.querySelector('.device-dialog input[name=risk]'); if (b.required) b.checked = true; return 1; })()")
            .await?;
        Ok(())
    }

    async fn confirm(&self) -> R {
        self.wait("the dialog", "r.querySelector('dialog').open", 15)
            .await?;
        self.click("dialog button.confirm").await?;
        self.wait("the dialog to close", "!r.querySelector('dialog').open", 15)
            .await?;
        Ok(())
    }

    /// This device… → Import of the file at `path` (a real file chooser's input, given the path
    /// through WebDriver); returns what the dialog says, and closes it.
    async fn import(&self, path: &str) -> R<Json> {
        self.open_device_dialog().await?;
        let input = self
            .b
            .find_in_shadow(HOST, ".device-dialog input[name=import]")
            .await
            .map_err(|e| e.to_string())?;
        input.send_keys(path).await.map_err(|e| e.to_string())?;
        let msg = self
            .wait(
                "the import result",
                "r.querySelector('.device-dialog .notice, .device-dialog .error') && r.querySelector('.device-dialog .form-messages').textContent",
                20,
            )
            .await?;
        self.close_device_dialog("cancel").await?;
        Ok(msg)
    }

    /// The bytes of every full message the browser's IndexedDB store keeps for `user` (none
    /// when there is no database).
    async fn kept_bytes(&self, user: &str, port: u16) -> R<Vec<Vec<u8>>> {
        let script = format!(
            "return new Promise((resolve) => {{
               const req = indexedDB.open('pop3-mail');
               req.onerror = () => resolve('no database');
               req.onsuccess = () => {{
                 const db = req.result;
                 if (!db.objectStoreNames.contains('messages')) {{ db.close(); resolve([]); return; }}
                 const acct = {acct};
                 const g = db.transaction('messages').objectStore('messages')
                   .getAll(IDBKeyRange.bound([acct, ''], [acct, []]));
                 g.onerror = () => {{ db.close(); resolve('read error'); }};
                 g.onsuccess = async () => {{
                   db.close();
                   const out = [];
                   for (const m of g.result.filter((m) => m.full)) {{
                     const b = m.bytes instanceof window.Blob
                       ? new window.Uint8Array(await m.bytes.arrayBuffer())
                       : new window.Uint8Array(m.bytes);
                     let s = '';
                     for (let i = 0; i < b.length; i += 0x8000) s += window.String.fromCharCode(...b.subarray(i, i + 0x8000));
                     out.push(window.btoa(s));
                   }}
                   resolve(out);
                 }};
               }};
             }});",
            acct = json!(format!("{user}@localhost:{port}"))
        );
        let v = self
            .b
            .js(&script, vec![])
            .await
            .map_err(|e| e.to_string())?;
        v.as_array()
            .ok_or_else(|| format!("the kept messages: {v}"))?
            .iter()
            .map(|b| {
                b.as_str()
                    .and_then(|b| decode_base64(b.as_bytes()))
                    .ok_or_else(|| format!("a kept message's bytes: {b}"))
            })
            .collect()
    }

    /// Full records in the browser's IndexedDB store for `user` (0 when there is no database).
    async fn kept_in_indexeddb(&self, user: &str, port: u16) -> R<u64> {
        Ok(self.kept_bytes(user, port).await?.len() as u64)
    }
}

struct Stack {
    d: Dovecot,
    bridge: ServedBridge,
}

async fn stack(users: &[(&str, usize)], kiosk: bool) -> Stack {
    let mut opts = DovecotOptions::new();
    for (u, n) in users {
        opts = opts.user(u, &format!("pw-{u}"), Mailbox::new(*n));
    }
    let d = Dovecot::start(opts).expect("dovecot");
    let config = Config {
        kiosk,
        kiosk_idle_secs: 15,
        ..ui_config(&d)
    };
    let bridge = ServedBridge::start(config).await;
    Stack { d, bridge }
}

/// The store scenario: the sync keeps every message here (and never the password), "delete
/// once kept here" deletes on the server only what is kept, listed before QUIT; then, with the
/// bridge and Dovecot stopped, the kept mail is read, exported and imported on this device.
async fn keep_read_offline_and_delete_after_download(ui: &Ui, s: &mut Stack) -> R {
    let user = "keeper";
    let port = s.d.tls_port();
    let password = format!("pw-{user}");
    ui.open("").await?;
    ui.b.js("localStorage.clear(); return true;", vec![])
        .await
        .map_err(|e| e.to_string())?;
    ui.sign_in(port, user, true).await?;
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
        s.d.stored_message_count(user).map_err(|e| e.to_string())? == 6,
        "leave on server is the default",
    )?;
    // "Remember" and the store are on: the password must be in none of the origin's storage
    // (every localStorage and sessionStorage entry, cookies, every IndexedDB record, caches).
    let dump = ui.storage().await?;
    let text = dump["text"].as_str().unwrap_or_default();
    ensure(
        text.contains("\"keeper\"") || text.contains("keeper@"),
        format!("the storage scan sees the remembered account and the store: {dump}"),
    )?;
    ensure(
        !text.contains(&password),
        "the password is in the browser's storage",
    )?;
    ui.shot("kept").await?;

    // Log out. The list and the sync read each message's headers once between them (Dovecot
    // logs `top=<count>/<bytes>` at logout): the sync reuses what the list fetched.
    ui.click("button.logout").await?;
    ui.wait(
        "the offline button",
        "!r.querySelector('.login').hidden && !r.querySelector('button.offline').hidden",
        20,
    )
    .await?;
    let log = s.d.log();
    let tops: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(&format!("({user})")) && l.contains("top="))
        .collect();
    ensure(
        tops.first().is_some_and(|l| l.contains("top=6/")),
        format!("each header fetched once in the first session: {tops:?}"),
    )?;

    // Policy: delete on the server once kept here. Headless browsers may not grant
    // persistent storage, so the risk box must be ticked to save it.
    ui.sign_in(port, user, true).await?;
    ui.wait(
        "the sync",
        "r.querySelector('.syncline').textContent.includes('kept on this device')",
        60,
    )
    .await?;
    ui.open_device_dialog().await?;
    ui.choose_policy("delete-after-download").await?;
    ui.close_device_dialog("save").await?;
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
        s.d.stored_message_count(user).map_err(|e| e.to_string())? == 6,
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
        s.d.stored_message_count(user).map_err(|e| e.to_string())? == 0,
        "the server copies are gone after QUIT",
    )?;
    ensure(
        ui.kept_in_indexeddb(user, port).await? == 6,
        "and every message is still kept on this device",
    )?;
    // What the server had: from now on this device holds the only copies.
    let originals: Vec<Vec<u8>> = (0..6).map(|i| s.d.expected_bytes(user, i)).collect();

    // Offline: the bridge (the page's only way out) and Dovecot are stopped first.
    ui.wait(
        "the offline button",
        "!r.querySelector('.login').hidden && !r.querySelector('button.offline').hidden",
        20,
    )
    .await?;
    s.bridge.stop().await;
    s.d.stop();
    ensure(
        tokio::net::TcpStream::connect(s.bridge.addr).await.is_err(),
        "the bridge still answers",
    )?;
    ui.click("button.offline").await?;
    ui.wait(
        "the offline list",
        "!r.querySelector('.inbox').hidden && r.querySelectorAll('.row').length === 6",
        20,
    )
    .await?;
    // Searchable offline too: the index of kept mail (web/search.js) filters the list as the
    // user types. The newest message is the only one from sender5 (the mailbox's senders
    // repeat every 17 messages); emptying the field shows every message again.
    ui.b.type_in_shadow(HOST, ".search input[type=search]", "from:sender5")
        .await
        .map_err(|e| e.to_string())?;
    ui.wait(
        "the search to leave only the message from sender5",
        "r.querySelectorAll('.row').length === 1 && r.querySelector('.row').textContent.includes('Sender 5')",
        20,
    )
    .await?;
    ui.shot("offline-search").await?;
    ui.eval("(() => { const q = r.querySelector('.search input'); q.value = ''; q.dispatchEvent(new Event('input')); return 1; })()")
        .await?;
    ui.wait(
        "every kept message once the search is emptied",
        "r.querySelectorAll('.row').length === 6",
        20,
    )
    .await?;
    let newest = String::from_utf8_lossy(&originals[5]).to_string();
    let subject = newest
        .lines()
        .find_map(|l| l.strip_prefix("Subject: "))
        .unwrap_or_default()
        .trim()
        .to_owned();
    // A line of its body, not only what the list already showed.
    let body_line = newest
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .find(|l| l.len() > 20 && l.chars().all(|c| c.is_ascii_alphanumeric() || c == ' '))
        .unwrap_or_default()
        .to_owned();
    // Waits for the body itself: the reader shows the list's headers at once, and the body
    // only once the kept copy is read and parsed (or shown as text by the fallback).
    // The body is in the reader's sandboxed plain-text frame: read inside it through
    // WebDriver, as the text the browser renders.
    ui.eval("(r.querySelector('.row').click(), 1)").await?;
    let start = std::time::Instant::now();
    let text = loop {
        let text = async {
            let f =
                ui.b.find_in_shadow(HOST, ".reader iframe.message-text-frame:not([hidden])")
                    .await?;
            f.enter_frame().await?;
            let text = async {
                ui.b.client
                    .find(fantoccini::Locator::Css("body"))
                    .await?
                    .text()
                    .await
            }
            .await;
            ui.b.client.enter_parent_frame().await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(text?)
        }
        .await
        .unwrap_or_default();
        if text.contains(&body_line) || start.elapsed() > Duration::from_secs(20) {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let head = ui
        .wait(
            "the reader's headers",
            "!r.querySelector('.reader').hidden && r.querySelector('.reader header').textContent",
            20,
        )
        .await?;
    let shown = format!("{}\n{text}", head.as_str().unwrap_or_default());
    let body = &shown;
    ensure(
        !subject.is_empty()
            && !body_line.is_empty()
            && shown.contains(&subject)
            && shown.contains(&body_line),
        format!("offline reader shows {subject:?} and {body_line:?}: {body}"),
    )?;
    ui.shot("offline").await?;
    ui.click("button.back").await?;
    export_holds_every_kept_message(ui, &originals).await?;
    import_skips_what_is_kept(ui, user, port).await?;
    import_reads_a_deflated_zip_from_another_tool(ui, user, port, &originals[0], 8).await
}

/// This device… → the export `button` (`export-mbox`, `export-zip`): the dialog's message
/// once the export is done (or failed), the dialog closed again.
async fn export_from_the_dialog(ui: &Ui, button: &str) -> R<String> {
    ui.open_device_dialog().await?;
    ui.click(&format!(".device-dialog button.{button}")).await?;
    let msg = ui
        .wait(
            "the export result",
            "r.querySelector('.device-dialog .notice, .device-dialog .error') && r.querySelector('.device-dialog .form-messages').textContent",
            60,
        )
        .await?;
    ui.close_device_dialog("cancel").await?;
    Ok(msg.as_str().unwrap_or_default().to_owned())
}

/// This device… → Export (mbox) and Export (.eml zip), offline: each download holds every
/// kept message byte for byte (with the `X-POP3-UIDL:` line the format adds), and nothing else.
async fn export_holds_every_kept_message(ui: &Ui, originals: &[Vec<u8>]) -> R {
    ui.b.capture_downloads().await.map_err(|e| e.to_string())?;
    for (button, name) in [("export-mbox", "mbox"), ("export-zip", "zip")] {
        let msg = export_from_the_dialog(ui, button).await?;
        ensure(
            msg.contains("Exported 6 messages"),
            format!("export ({name}): {msg}"),
        )?;
    }
    let downloads = ui.b.downloads().await.map_err(|e| e.to_string())?;
    ensure(
        downloads.len() == 2,
        format!("two downloads: {downloads:?}"),
    )?;
    let (mbox, zip) = (&downloads[0], &downloads[1]);
    ensure(
        mbox.name.ends_with(".mbox")
            && zip.name.ends_with(".zip")
            && mbox.mime_type == "application/octet-stream"
            && zip.mime_type == "application/octet-stream",
        format!(
            "names and types: {:?} {:?} {:?} {:?}",
            mbox.name, mbox.mime_type, zip.name, zip.mime_type
        ),
    )?;
    let from_mbox = mboxrd_messages(&mbox.bytes)?;
    let from_zip = zip_messages(&zip.bytes)?;
    for (kind, got) in [("mbox", from_mbox), ("zip", from_zip)] {
        let mut want: Vec<&[u8]> = originals.iter().map(Vec::as_slice).collect();
        let mut got: Vec<&[u8]> = got.iter().map(Vec::as_slice).collect();
        want.sort();
        got.sort();
        ensure(
            got == want,
            format!(
                "the {kind} export holds exactly the kept messages, byte for byte: {} messages, sizes {:?}, want {:?}",
                got.len(),
                got.iter().map(|m| m.len()).collect::<Vec<_>>(),
                want.iter().map(|m| m.len()).collect::<Vec<_>>()
            ),
        )?;
    }
    Ok(())
}

/// Removes the `X-POP3-UIDL:` line an export puts first (through its own line ending).
fn without_uidl_line(m: &[u8]) -> R<&[u8]> {
    ensure(
        m.starts_with(b"X-POP3-UIDL: "),
        format!(
            "exported message starts with its UIDL line: {:?}",
            String::from_utf8_lossy(&m[..m.len().min(80)])
        ),
    )?;
    let end = m.iter().position(|&b| b == b'\n').ok_or("UIDL line")? + 1;
    Ok(&m[end..])
}

/// The messages of an mboxrd file, read independently of the product's reader: a line
/// starting with `From ` starts a message, the writer's final `\n` before it goes, and one `>`
/// comes off every line matching `^>+From `.
fn mboxrd_messages(bytes: &[u8]) -> R<Vec<Vec<u8>>> {
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let end = bytes[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |i| at + i + 1);
        let line = &bytes[at..end];
        if line.starts_with(b"From ") {
            blocks.push(Vec::new());
        } else {
            let block = blocks
                .last_mut()
                .ok_or("the mbox does not start with a From line")?;
            let quotes = line.iter().take_while(|&&b| b == b'>').count();
            if quotes > 0 && line[quotes..].starts_with(b"From ") {
                block.extend_from_slice(&line[1..]);
            } else {
                block.extend_from_slice(line);
            }
        }
        at = end;
    }
    blocks
        .into_iter()
        .map(|mut b| {
            ensure(
                b.last() == Some(&b'\n'),
                "each mbox message ends with the writer's \\n",
            )?;
            b.pop();
            Ok(without_uidl_line(&b)?.to_vec())
        })
        .collect()
}

/// The entries of a zip of stored (uncompressed) files, read from their local headers.
fn zip_messages(bytes: &[u8]) -> R<Vec<Vec<u8>>> {
    let u16_at = |i: usize| -> R<usize> {
        bytes
            .get(i..i + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
            .ok_or_else(|| "zip: short".to_string())
    };
    let u32_at = |i: usize| -> R<usize> {
        bytes
            .get(i..i + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .ok_or_else(|| "zip: short".to_string())
    };
    let mut out = Vec::new();
    let mut at = 0;
    while bytes[at..].starts_with(b"PK\x03\x04") {
        let (flags, method) = (u16_at(at + 6)?, u16_at(at + 8)?);
        let size = u32_at(at + 18)?;
        let (name_len, extra_len) = (u16_at(at + 26)?, u16_at(at + 28)?);
        let name =
            String::from_utf8_lossy(bytes.get(at + 30..at + 30 + name_len).ok_or("zip: name")?);
        ensure(
            method == 0 && flags & 8 == 0 && name.ends_with(".eml"),
            format!("zip entry {name:?}: method {method}, flags {flags}"),
        )?;
        let data_at = at + 30 + name_len + extra_len;
        let data = bytes.get(data_at..data_at + size).ok_or("zip: data")?;
        out.push(without_uidl_line(data)?.to_vec());
        at = data_at + size;
    }
    ensure(
        bytes[at..].starts_with(b"PK\x01\x02"),
        "zip: the central directory follows the entries",
    )?;
    Ok(out)
}

/// Import (This device… → Import) of an mbox with two new messages and one already kept:
/// the two are added, the kept one is skipped, and importing again adds nothing.
/// Runs in the offline view of the account (its store).
async fn import_skips_what_is_kept(ui: &Ui, user: &str, port: u16) -> R {
    ui.wait(
        "the offline list",
        "!r.querySelector('.inbox').hidden && r.querySelectorAll('.row').length === 6",
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
        let msg = ui.import(&path).await?;
        ensure(
            msg.as_str().is_some_and(|t| t.contains(expect)),
            format!("import round {round}: {msg}"),
        )?;
    }
    ensure(
        ui.kept_in_indexeddb(user, port).await? == 8,
        "6 kept + 2 imported messages",
    )
}

/// Writes the folder `argv[1]` (its `Inbox/` with every file in it, and `notes.txt`) as the zip
/// `argv[2]` the way another program would: Python's `zipfile`, deflate at level 9, with the
/// folder's own directory entry. Prints each entry as `name method compressed size`.
const PYTHON_ZIP: &str = r#"
import os, sys, zipfile
src, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    z.write(os.path.join(src, "Inbox"), "Inbox/")
    for name in sorted(os.listdir(os.path.join(src, "Inbox"))):
        z.write(os.path.join(src, "Inbox", name), "Inbox/" + name)
    z.write(os.path.join(src, "notes.txt"), "notes.txt")
with zipfile.ZipFile(out) as z:
    for i in z.infolist():
        print(i.filename, i.compress_type, i.compress_size, i.file_size)
"#;

/// Import (This device… → Import) of a zip another program made: `.eml` files compressed with
/// deflate (method 8, which our own exports never use), under a folder with its directory
/// entry, beside a file that is not mail, without the `X-POP3-UIDL:` line our exports add; one
/// with CRLF and 8-bit UTF-8 text, one with bare LF line endings, and one the exact bytes of a
/// message this account already keeps (`kept`). The two new ones are kept byte for byte, the
/// known one is said to be already here and not kept twice, nothing else is added. `before`:
/// how many messages the account keeps until then.
async fn import_reads_a_deflated_zip_from_another_tool(
    ui: &Ui,
    user: &str,
    port: u16,
    kept: &[u8],
    before: usize,
) -> R {
    let long = "A line of a long message that deflate packs well: Grüße, €, naïve.\r\n".repeat(200);
    let crlf = format!(
        "From: Zed Zip <zed@example.org>\r\nTo: {user}@example.org\r\nSubject: Zipped elsewhere, CRLF\r\n\
         Date: Fri, 02 Jan 2026 09:00:00 +0000\r\nMessage-ID: <zip-crlf@example.org>\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n{long}"
    )
    .into_bytes();
    let lf = format!(
        "From: Zed Zip <zed@example.org>\nTo: {user}@example.org\nSubject: Zipped elsewhere, LF\n\
         Date: Fri, 02 Jan 2026 10:00:00 +0000\nMessage-ID: <zip-lf@example.org>\n\n\
         Bare LF line endings, as a Unix program writes them.\n"
    )
    .into_bytes();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let src = dir.path().join("src");
    let inbox = src.join("Inbox");
    std::fs::create_dir_all(&inbox).map_err(|e| e.to_string())?;
    for (name, bytes) in [
        ("0001.eml", &crlf[..]),
        ("0002.eml", &lf[..]),
        ("0003.eml", kept),
    ] {
        std::fs::write(inbox.join(name), bytes).map_err(|e| e.to_string())?;
    }
    std::fs::write(
        src.join("notes.txt"),
        b"Exported by another mail program.\n",
    )
    .map_err(|e| e.to_string())?;
    let zip = dir.path().join("other-program.zip");
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(PYTHON_ZIP)
        .arg(&src)
        .arg(&zip)
        .output()
        .map_err(|e| format!("python3: {e}"))?;
    let listing = String::from_utf8_lossy(&out.stdout).to_string();
    ensure(
        out.status.success(),
        format!("python3 zipfile: {}", String::from_utf8_lossy(&out.stderr)),
    )?;
    // Every message deflated (method 8), the long one to well under its size.
    let emls: Vec<Vec<&str>> = listing
        .lines()
        .map(|l| l.split(' ').collect::<Vec<_>>())
        .filter(|f| f[0].ends_with(".eml"))
        .collect();
    ensure(
        emls.len() == 3
            && emls.iter().all(|f| f[1] == "8")
            && emls[0][2].parse::<usize>().unwrap_or(usize::MAX) * 4 < crlf.len(),
        format!("the zip's entries: {listing}"),
    )?;

    let msg = ui.import(&zip.to_string_lossy()).await?;
    ensure(
        msg.as_str().is_some_and(|t| {
            t.contains("Imported 2 messages from zip") && t.contains("1 was already here")
        }),
        format!("import of another program's zip: {msg}"),
    )?;
    let now = ui.kept_bytes(user, port).await?;
    for (what, want) in [("the CRLF message", &crlf), ("the LF message", &lf)] {
        let subject = if want == &crlf {
            "Zipped elsewhere, CRLF"
        } else {
            "Zipped elsewhere, LF"
        };
        let similar: Vec<usize> = now
            .iter()
            .filter(|m| String::from_utf8_lossy(m).contains(subject))
            .map(Vec::len)
            .collect();
        ensure(
            now.iter().filter(|m| *m == want).count() == 1,
            format!(
                "{what} is kept byte for byte ({} bytes in the zip; kept with its subject: {similar:?} bytes)",
                want.len()
            ),
        )?;
    }
    ensure(
        now.len() == before + 2 && now.iter().filter(|m| m.as_slice() == kept).count() == 1,
        format!(
            "{before} kept + 2 imported, the known one once: {} kept",
            now.len()
        ),
    )
}

/// `query` turns kiosk mode on through the page's URL; with an empty one the bridge's
/// configuration must do it.
///
/// Kiosk mode must never delete and must keep mail in memory only, so the test gives it every
/// chance to do otherwise: it asks for a deleting policy ("delete once kept here") and starts a
/// new session (whose sync would mark every kept message under that policy), the user marks a
/// message for deletion, and only then the session goes idle. Every message must still be on
/// the server, no database may exist while signed in, and nothing may be left afterwards.
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
    ui.sign_in(port, user, false).await?;
    ui.wait(
        "the sync (in memory)",
        "r.querySelector('.syncline').textContent.includes('3 messages are kept')",
        60,
    )
    .await?;
    // Memory only: while signed in, with all 3 messages kept, the origin holds nothing.
    let dump = ui.storage().await?;
    ensure(
        dump["dbs"] == json!([])
            && dump["caches"] == json!([])
            && dump["local"] == json!({})
            && dump["session"] == json!({})
            && dump["cookie"] == "",
        format!("kiosk mode stored something while signed in: {dump}"),
    )?;
    ensure(
        !dump["text"]
            .as_str()
            .unwrap_or_default()
            .contains("pw-kiosk"),
        "the password is in the browser's storage",
    )?;

    // Ask for a deleting policy, then start a new session: its sync must still mark nothing.
    // Kiosk mode hides "This device…", so the hidden button is clicked from script: the
    // dialog and the controller behind it must refuse or ignore the policy on their own.
    ensure(
        ui.eval("r.querySelector('button.device').hidden || r.querySelector('button.device').closest('[hidden]') !== null")
            .await?
            == true,
        "kiosk mode offers \"This device…\"",
    )?;
    ui.eval("(r.querySelector('button.device').click(), 1)")
        .await?;
    ui.wait(
        "the device dialog",
        "r.querySelector('.device-dialog').open",
        15,
    )
    .await?;
    ui.choose_policy("delete-after-download").await?;
    ui.click(".device-dialog button.save").await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Whether kiosk mode refuses the setting or ignores it, the dialog must go.
    if ui.eval("r.querySelector('.device-dialog').open").await? == true {
        ui.click(".device-dialog button.cancel").await?;
    }
    ui.eval("(r.querySelector('.syncline').textContent = '', 1)")
        .await?;
    ui.click("button.refresh").await?;
    // Kiosk mode keeps the password only for the login: Refresh ends the session and asks for
    // it again (the sign-in form, same account); the new session starts once it is typed.
    ui.wait(
        "the sign-in form asking for the password again",
        "!r.querySelector('.login').hidden && r.querySelector('.login').textContent.includes('password again')",
        30,
    )
    .await?;
    ui.sign_in(port, user, false).await?;
    let line = ui
        .wait(
            "the sync of the new session",
            "r.querySelector('.syncline').textContent.includes('3 messages are kept') && r.querySelector('.syncline').textContent",
            60,
        )
        .await?;
    ensure(
        ui.eval("r.querySelector('.marked-bar').hidden").await? == true,
        format!(
            "a deleting policy marked messages in kiosk mode: {} ({line})",
            ui.eval("r.querySelector('.marked-bar').textContent")
                .await?
        ),
    )?;

    // The user marks a message; nobody finishes the session. (Clicks through WebDriver are
    // activity for the idle timer; clicks from script are not.)
    ui.wait(
        "the list of the new session",
        "r.querySelectorAll('.row').length === 3 && !r.querySelector('.row.loading')",
        20,
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    ui.click(".row").await?;
    ui.wait(
        "the reader",
        "!r.querySelector('.reader').hidden && !r.querySelector('.reader progress')",
        20,
    )
    .await?;
    ui.click(".reader button.delete").await?;
    ui.confirm().await?;
    let marked = ui
        .wait(
            "the user's mark",
            "!r.querySelector('.marked-bar').hidden && r.querySelector('.marked-bar').textContent",
            15,
        )
        .await?;
    ensure(
        marked.as_str().is_some_and(|t| t.contains("1 message")),
        format!("one message marked: {marked}"),
    )?;
    ensure(
        ui.storage().await?["dbs"] == json!([]),
        "no database while a message is marked",
    )?;
    // No activity: the countdown shows, then the session ends by itself.
    let sessions_ended = d.pop3_disconnects(user).len();
    ui.wait(
        "the idle countdown",
        "!r.querySelector('.kiosk-countdown').hidden && r.querySelector('.kiosk-countdown').textContent",
        40,
    )
    .await?;
    ui.shot("kiosk-countdown").await?;
    ui.wait(
        "the idle logout",
        "!r.querySelector('.login').hidden && r.textContent.includes('nothing happened for a while')",
        40,
    )
    .await?;
    // Dovecot applies DELE only at QUIT; once it has logged the session's end, whatever that
    // end did is done.
    let end = d.session_end(user, sessions_ended).await?;
    ensure(
        end.contains("del=0/"),
        format!("the session's end deleted: {end}"),
    )?;
    ensure(
        d.stored_message_count(user).map_err(|e| e.to_string())? == 3,
        format!(
            "kiosk mode deleted on the server: {} of 3 messages left",
            d.stored_message_count(user).map_err(|e| e.to_string())?
        ),
    )?;
    let traces = ui.storage().await?;
    let rows = ui
        .eval("({ rows: r.querySelectorAll('.row').length, user: r.querySelector('input[name=user]').value })")
        .await?;
    ensure(
        traces["dbs"] == json!([])
            && traces["caches"] == json!([])
            && traces["local"] == json!({})
            && traces["session"] == json!({})
            && traces["cookie"] == ""
            && rows["rows"] == 0
            && rows["user"] == "",
        format!("kiosk mode left traces: {traces} {rows}"),
    )
}

/// Chromium: kiosk mode from the page URL, then the store scenario (the bridge is not in kiosk
/// mode). Firefox: kiosk mode imposed by the bridge's configuration.
async fn run(kind: BrowserKind, store_scenario: bool) {
    let mut s = stack(&[("keeper", 6), ("kiosk", 3)], !store_scenario).await;
    let b = Browser::start(kind).await.expect("browser starts");
    let ui = Ui {
        page: InboxPage {
            b,
            kind,
            shots: "store",
        },
        base: format!("http://{}", s.bridge.addr),
    };
    let query = if store_scenario {
        "kiosk&kiosk-idle=15"
    } else {
        ""
    };
    let mut result = kiosk_leaves_nothing_behind(&ui, &s.d, query).await;
    if result.is_ok() && store_scenario {
        result = keep_read_offline_and_delete_after_download(&ui, &mut s).await;
    }
    finish(ui, s, result).await;
}

/// Ends a test: on failure, a screenshot and what the page shows join the error; the browser
/// and the bridge stop; then it fails with Dovecot's log.
async fn finish(ui: Ui, mut s: Stack, mut result: R) {
    if let Err(e) = &mut result {
        let _ = ui.shot("FAILED").await;
        if let Ok(state) = ui
            .eval("({ login: !r.querySelector('.login').hidden, inbox: !r.querySelector('.inbox').hidden, reader: !r.querySelector('.reader').hidden, rows: r.querySelectorAll('.row').length, sync: r.querySelector('.syncline').textContent, errors: [...r.querySelectorAll('.error')].map((x) => x.textContent) })")
            .await
        {
            e.push_str(&format!("\npage: {state}"));
        }
    }
    let kind = ui.page.kind;
    let _ = ui.page.b.close().await;
    s.bridge.stop().await;
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

/// Firefox: signed in (its store open, the sync done), the import of another program's zip.
/// (Chromium imports it offline, in the store scenario.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_programs_zip_imports_in_firefox() {
    let s = stack(&[("keeper", 2)], false).await;
    let kind = BrowserKind::Firefox;
    let b = Browser::start(kind).await.expect("browser starts");
    let ui = Ui {
        page: InboxPage {
            b,
            kind,
            shots: "store-import",
        },
        base: format!("http://{}", s.bridge.addr),
    };
    let (user, port) = ("keeper", s.d.tls_port());
    let kept = s.d.expected_bytes(user, 0);
    let result = async {
        ui.open("").await?;
        ui.sign_in(port, user, true).await?;
        ui.wait(
            "the sync to keep both messages",
            "r.querySelector('.syncline').textContent.includes('2 messages are kept')",
            60,
        )
        .await?;
        import_reads_a_deflated_zip_from_another_tool(&ui, user, port, &kept, 2).await
    }
    .await;
    finish(ui, s, result).await;
}

/// A message past store.js's `BIG_MESSAGE` (8 MiB): a short text and a 9 MB attachment; and
/// the attachment's bytes.
fn big_message(user: &str) -> (Vec<u8>, Vec<u8>) {
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let scan: Vec<u8> = (0..9_000_000)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect();
    use base64::Engine as _;
    let flat = base64::engine::general_purpose::STANDARD.encode(&scan);
    // 76 characters a line, as RFC 2045 asks.
    let b64: String = flat
        .as_bytes()
        .chunks(76)
        .map(|l| format!("{}\r\n", String::from_utf8_lossy(l)))
        .collect();
    let message = format!(
        "From: Scanner <scanner@example.org>\r\nTo: {user}@example.org\r\nSubject: The big scan\r\n\
         Date: Sat, 05 Dec 2026 09:00:00 +0000\r\nMessage-ID: <big-scan@example.org>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{BIG_TEXT}\r\n\
         --b1\r\nContent-Type: application/pdf; name=\"scan.pdf\"\r\n\
         Content-Disposition: attachment; filename=\"scan.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{b64}--b1--\r\n"
    )
    .into_bytes();
    (message, scan)
}

/// The big message's text: what the reader must show.
const BIG_TEXT: &str = "Here is the scan you asked for: all 40 pages.";

/// The stack, browser and page of a big-message test: Dovecot holding `big_message` for user
/// `big`, the bridge serving the UI, the inbox page open; and the message and its attachment.
async fn big_stack(kind: BrowserKind, shots: &'static str) -> (Ui, Stack, Vec<u8>, Vec<u8>) {
    let (bytes, scan) = big_message(BIG_USER);
    let d = Dovecot::start(DovecotOptions::new().user(
        BIG_USER,
        &format!("pw-{BIG_USER}"),
        Mailbox::empty().raw_message(bytes.clone()),
    ))
    .expect("dovecot");
    let bridge = ServedBridge::start(ui_config(&d)).await;
    let s = Stack { d, bridge };
    let b = Browser::start(kind).await.expect("browser starts");
    let ui = Ui {
        page: InboxPage { b, kind, shots },
        base: format!("http://{}", s.bridge.addr),
    };
    (ui, s, bytes, scan)
}

const BIG_USER: &str = "big";

impl Ui {
    /// Waits until the store keeps exactly `bytes` for `user`, as one Blob.
    async fn wait_kept_as_blob(&self, user: &str, port: u16, bytes: &[u8], what: &str) -> R {
        let start = std::time::Instant::now();
        loop {
            let kept = self.kept_bytes(user, port).await?;
            if kept.len() == 1 && kept[0] == bytes {
                break;
            }
            if start.elapsed() > Duration::from_secs(60) {
                return Err(format!("{what}: {} kept", kept.len()));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let blob = self
            .b
            .js(
                &format!(
                    "return new Promise((resolve) => {{ const q = indexedDB.open('pop3-mail'); q.onsuccess = () => {{
                       const g = q.result.transaction('messages').objectStore('messages').getAll();
                       g.onsuccess = () => {{ q.result.close(); resolve(g.result.map((m) => m.bytes instanceof window.Blob && m.size === {len})); }};
                     }}; }});",
                    len = bytes.len()
                ),
                vec![],
            )
            .await
            .map_err(|e| e.to_string())?;
        ensure(
            blob == json!([true]),
            format!("{what}: the store holds it as one Blob of its size: {blob}"),
        )
    }

    /// Clicks the only row and waits for the reader to show the big message's text.
    async fn open_big(&self, what: &str) -> R {
        self.eval("(r.querySelector('.row').click(), 1)").await?;
        let text = e2e::offline::reader_text(self, BIG_TEXT, 60).await;
        ensure(
            text.contains(BIG_TEXT),
            format!("{what}: the reader shows its text: {text:?}"),
        )
    }

    /// Logs out and returns Dovecot's line for the end of that session of `user`.
    async fn logout_line(&self, d: &Dovecot, user: &str) -> R<String> {
        let logouts = d.pop3_disconnects(user).len();
        self.click("button.logout").await?;
        let start = std::time::Instant::now();
        loop {
            if let Some(l) = d.pop3_disconnects(user).get(logouts) {
                return Ok(l.clone());
            }
            if start.elapsed() > Duration::from_secs(15) {
                return Err("Dovecot logged no logout".to_string());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A big message is kept in pieces (a Blob in IndexedDB, byte for byte the server's), and the
/// reader opens its outline from this device (Dovecot's own count: one RETR, the sync's): its
/// text, its attachment at its whole size, a note that each part is shown up to its first
/// megabyte; the attachment and the whole message are saved byte for byte.
async fn big_message_kept_in_pieces_and_read(kind: BrowserKind) {
    let (ui, s, bytes, scan) = big_stack(kind, "store-big").await;
    let (user, port) = (BIG_USER, s.d.tls_port());
    let result = async {
        ui.open("").await?;
        ui.sign_in(port, user, true).await?;
        ui.wait(
            "the sync to keep it",
            "r.querySelector('.syncline').textContent.includes('1 message is kept')",
            120,
        )
        .await?;
        ui.wait_kept_as_blob(user, port, &bytes, "kept by the sync")
            .await?;
        ui.open_big("kept").await?;
        let attachment = ui
            .wait(
                "its attachment",
                "[...r.querySelectorAll('.reader .attachment-name')].map((x) => x.textContent).join(' ') === 'scan.pdf'",
                30,
            )
            .await?;
        ensure(attachment == json!(true), "the attachment is listed")?;
        let shown = ui
            .wait(
                "the big-message note and the attachment's whole size",
                "!r.querySelector('.reader .big-message').hidden && [r.querySelector('.reader .big-message').textContent, r.querySelector('.reader .attachment-meta').textContent]",
                10,
            )
            .await?;
        ensure(
            shown[0].as_str().is_some_and(|t| t.contains("up to its first megabyte"))
                && shown[1].as_str().is_some_and(|t| t.contains("8.6 MB")),
            format!("the reader says each part is shown up to its first megabyte, and the attachment's whole size: {shown}"),
        )?;
        ui.shot("reader").await?;
        ui.b.capture_downloads().await.map_err(|e| e.to_string())?;
        ui.click(".reader .attachment button.save").await?;
        ui.click(".reader .big-message button.save-whole").await?;
        let start = std::time::Instant::now();
        let downloads = loop {
            let d = ui.b.downloads().await.map_err(|e| e.to_string())?;
            if d.len() >= 2 || start.elapsed() > Duration::from_secs(30) {
                break d;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let got: Vec<(&str, usize)> = downloads.iter().map(|d| (d.name.as_str(), d.bytes.len())).collect();
        let named = |n: &str| downloads.iter().find(|d| d.name == n).map(|d| &d.bytes);
        ensure(
            downloads.len() == 2
                && named("scan.pdf") == Some(&scan)
                && named("message.eml") == Some(&bytes),
            format!("the attachment and the whole message saved byte for byte: {got:?}"),
        )?;
        ui.click("button.back").await?;
        big_message_exports_and_a_damaged_copy_is_left_out(&ui, user, port, &bytes).await?;
        let line = ui.logout_line(&s.d, user).await?;
        ensure(
            line.contains("retr=1/"),
            format!("the reader read it from this device, not the server: {line:?}"),
        )
    }
    .await;
    finish(ui, s, result).await;
}

/// Export with a message kept as a Blob (written a piece at a time, the Blob itself in the
/// zip): both archives hold it byte for byte. Then a byte of the kept copy goes bad: the export
/// leaves it out and says so, rather than save a damaged copy as the message.
async fn big_message_exports_and_a_damaged_copy_is_left_out(
    ui: &Ui,
    user: &str,
    port: u16,
    original: &[u8],
) -> R {
    let export = |button: &'static str| export_from_the_dialog(ui, button);
    ui.b.capture_downloads().await.map_err(|e| e.to_string())?;
    // (The downloads captured so far stay in the list.)
    let before = ui.b.downloads().await.map_err(|e| e.to_string())?.len();
    for button in ["export-mbox", "export-zip"] {
        let msg = export(button).await?;
        ensure(
            msg.contains("Exported 1 message"),
            format!("{button}: {msg}"),
        )?;
    }
    let downloads = ui.b.downloads().await.map_err(|e| e.to_string())?;
    let downloads = downloads.get(before..).unwrap_or_default();
    ensure(
        downloads.len() == 2,
        format!("two downloads: {}", downloads.len()),
    )?;
    for (kind, got) in [
        ("mbox", mboxrd_messages(&downloads[0].bytes)?),
        ("zip", zip_messages(&downloads[1].bytes)?),
    ] {
        ensure(
            got.len() == 1 && got[0] == original,
            format!(
                "the {kind} export holds the big message byte for byte: sizes {:?}, want {}",
                got.iter().map(Vec::len).collect::<Vec<_>>(),
                original.len()
            ),
        )?;
    }
    let damaged =
        ui.b.js(
            e2e::offline::DAMAGE_KEPT,
            vec![json!(format!("{user}@localhost:{port}"))],
        )
        .await
        .map_err(|e| e.to_string())?;
    ensure(
        damaged == json!(1),
        format!("one kept Blob damaged: {damaged}"),
    )?;
    // mbox is the path where the damaged bytes go through the writer before the check.
    for button in ["export-mbox", "export-zip"] {
        let msg = export(button).await?;
        ensure(
            msg.contains("Exported 0 messages") && msg.contains("1 message was left out"),
            format!("{button}: the damaged copy is left out, and the export says so: {msg}"),
        )?;
    }
    let downloads = ui.b.downloads().await.map_err(|e| e.to_string())?;
    let (mbox, zip) = (
        downloads.get(before + 2).map(|d| &d.bytes[..]),
        downloads.get(before + 3).map(|d| &d.bytes[..]),
    );
    // An empty mbox is no bytes; an empty zip is its end record alone: 22 bytes, no entry.
    ensure(
        mbox.is_some_and(<[u8]>::is_empty)
            && zip.is_some_and(|z| z.len() == 22 && z.starts_with(b"PK\x05\x06")),
        format!(
            "the last two downloads are an empty mbox and an empty zip: {:?} {zip:?}",
            mbox.map(<[u8]>::len)
        ),
    )
}

/// A big message over the account's size limit is not kept by the sync (headers only); opened,
/// it is downloaded in pieces into its outline (never whole), shown with its text and its
/// attachment at its whole size, and then kept here as it came, a Blob byte for byte the
/// server's. Then a byte of that Blob goes bad: signed in again, the reader finds it out as it
/// reads the pieces, starts over from the server, shows the message and keeps it again.
async fn big_message_over_the_limit_read_on_demand(kind: BrowserKind) {
    let (ui, s, bytes, _) = big_stack(kind, "store-big-on-demand").await;
    let (user, port) = (BIG_USER, s.d.tls_port());
    let account = format!("{user}@localhost:{port}");
    // (Clicked once the sync has drawn the list for the last time: while an account with kept
    // mail connects, the kept list shows, and signing in closes what was opened from it.)
    let sync_ended = "(() => { const l = r.querySelector('.syncline').textContent; return !!l && !l.includes('…'); })()";
    let result = async {
        ui.open("").await?;
        // Headers only past 10 MB, for this account, before its first sync.
        let saved = ui
            .b
            .js(
                &format!(
                    "return import('/store.js').then(async (m) => {{ const st = await m.openStore();
                       await st.saveAccount({acct}, {{ settings: {{ policy: {{ mode: 'leave', sizeLimit: 10 * 1048576 }}, riskAccepted: false }} }});
                       st.close(); return true; }}, (e) => String(e));",
                    acct = json!(account)
                ),
                vec![],
            )
            .await
            .map_err(|e| e.to_string())?;
        ensure(saved == json!(true), format!("the size limit saved: {saved}"))?;
        ui.open("").await?;
        ui.sign_in(port, user, true).await?;
        ui.wait("the sync's end", sync_ended, 60).await?;
        let kept = ui.kept_bytes(user, port).await?;
        ensure(kept.is_empty(), "not kept by the sync (over the limit)")?;
        ui.open_big("not kept").await?;
        let shown = ui
            .wait(
                "the big-message note",
                "!r.querySelector('.reader .big-message').hidden && r.querySelector('.reader .attachment-meta').textContent",
                30,
            )
            .await?;
        ensure(
            shown.as_str().is_some_and(|t| t.contains("8.6 MB")),
            format!("the attachment at its whole size: {shown}"),
        )?;
        ui.wait_kept_as_blob(user, port, &bytes, "kept on demand")
            .await?;
        let damaged = ui
            .b
            .js(e2e::offline::DAMAGE_KEPT, vec![json!(account)])
            .await
            .map_err(|e| e.to_string())?;
        ensure(damaged == json!(1), format!("one kept Blob damaged: {damaged}"))?;
        ui.open("").await?;
        ui.sign_in(port, user, true).await?;
        ui.wait("the sync's end", sync_ended, 60).await?;
        ui.open_big("a damaged copy, read from the server").await?;
        ui.wait_kept_as_blob(user, port, &bytes, "kept again").await?;
        let line = ui.logout_line(&s.d, user).await?;
        ensure(
            line.contains("retr=1/"),
            format!("one RETR in that session, the reader's: {line:?}"),
        )
    }
    .await;
    finish(ui, s, result).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_big_message_over_the_limit_is_read_in_pieces_and_kept_on_demand_in_chromium() {
    big_message_over_the_limit_read_on_demand(BrowserKind::Chromium).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_big_message_over_the_limit_is_read_in_pieces_and_kept_on_demand_in_firefox() {
    big_message_over_the_limit_read_on_demand(BrowserKind::Firefox).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_big_message_is_kept_in_pieces_and_read_in_chromium() {
    big_message_kept_in_pieces_and_read(BrowserKind::Chromium).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_big_message_is_kept_in_pieces_and_read_in_firefox() {
    big_message_kept_in_pieces_and_read(BrowserKind::Firefox).await;
}

/// While an account with kept mail connects (the proxy holds the TLS handshake), its kept list
/// shows and a message opens from it. Signing in then replaces that list with the server's:
/// the reader stays on the message, its row is the active one, and its Delete marks that
/// message on the server, not another. A message that could not be read from the device
/// meanwhile (a damaged copy) is closed instead.
async fn a_message_read_while_signing_in_stays_open(kind: BrowserKind) {
    let user = "early";
    let d = Dovecot::start(DovecotOptions::new().user(user, "pw-early", Mailbox::new(3)))
        .expect("dovecot");
    let proxy = FaultProxy::start_local(d.tls_addr()).expect("fault proxy");
    let port = proxy.local_addr().port();
    let bridge = ServedBridge::start(Config {
        allow_ports: vec![port],
        ..ui_config(&d)
    })
    .await;
    let s = Stack { d, bridge };
    let b = Browser::start(kind).await.expect("browser starts");
    let ui = Ui {
        page: InboxPage {
            b,
            kind,
            shots: "store-early",
        },
        base: format!("http://{}", s.bridge.addr),
    };
    let connecting = "r.querySelector('button.refresh').hidden";
    let reader_subject =
        "!r.querySelector('.reader').hidden && r.querySelector('.reader h2').textContent";
    let result = async {
        ui.open("").await?;
        ui.sign_in(port, user, true).await?;
        ui.wait(
            "the sync to keep the 3 messages",
            "r.querySelector('.syncline').textContent.includes('3 messages are kept')",
            60,
        )
        .await?;
        let held_sign_in = || async {
            ui.click("button.logout").await?;
            ui.wait("the sign-in screen", "!r.querySelector('.login').hidden", 20)
                .await?;
            // The next connection's TLS handshake waits 8 s at the proxy.
            proxy.push(Some(FaultPlan {
                direction: Direction::ToClient,
                at_byte: 0,
                fault: Fault::Stall(Duration::from_secs(8)),
            }));
            ui.sign_in(port, user, true).await?;
            ui.wait("the kept list", "r.querySelectorAll('.row').length === 3", 10)
                .await
        };
        // First, a message whose copy here is damaged: while connecting it cannot be read (no
        // server yet), and that error is not carried into the session, which closes it.
        let oldest = ui
            .b
            .js(e2e::offline::DAMAGE_KEPT, vec![json!(format!("{user}@localhost:{port}")), json!("Test message 1 of 3")])
            .await
            .map_err(|e| e.to_string())?;
        ensure(oldest == json!(1), format!("one kept copy damaged: {oldest}"))?;
        held_sign_in().await?;
        ui.click(".row[aria-rowindex=\"4\"]").await?;
        ui.wait("the damaged copy's error", "!r.querySelector('.reader').hidden && r.querySelector('.reader .error')", 10)
            .await?;
        ui.wait("the sign-in to end", "!r.querySelector('button.refresh').hidden", 30)
            .await?;
        ui.wait("the reader to close", "r.querySelector('.reader').hidden", 10)
            .await?;
        // Then a message read while connecting stays open.
        held_sign_in().await?;
        let subject = ui
            .eval("r.querySelector('.row[aria-rowindex=\"3\"] .subject').textContent")
            .await?;
        let subject = subject
            .as_str()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| format!("the second row's subject: {subject}"))?
            .to_owned();
        ui.click(".row[aria-rowindex=\"3\"]").await?;
        let shown = ui.wait("the reader", reader_subject, 10).await?;
        ensure(
            shown == json!(subject),
            format!("the reader shows {subject:?}: {shown}"),
        )?;
        ensure(
            ui.eval(connecting).await? == json!(true),
            "still connecting when the message opened (the proxy holds the handshake)",
        )?;
        ui.wait("the sign-in to end", "!r.querySelector('button.refresh').hidden", 30)
            .await?;
        ui.wait(
            "the server's list",
            "r.querySelectorAll('.row').length === 3 && !r.querySelector('.row.loading')",
            20,
        )
        .await?;
        let after = ui.eval(reader_subject).await?;
        ensure(
            after == json!(subject),
            format!("the reader still shows {subject:?} once signed in: {after}"),
        )?;
        let active = ui
            .eval("r.querySelector('.row.active .subject')?.textContent ?? null")
            .await?;
        ensure(
            active == json!(subject),
            format!("its row is the active one: {active}"),
        )?;
        ui.click(".reader button.delete").await?;
        ui.confirm().await?;
        let marked = ui
            .wait(
                "the mark",
                "r.querySelectorAll('.row.marked').length === 1 && r.querySelector('.row.marked .subject').textContent",
                15,
            )
            .await?;
        ensure(
            marked == json!(subject),
            format!("Delete marked the message read, {subject:?}: {marked}"),
        )?;
        // And finishing the session deletes that message on the server, not another.
        let number: usize = subject
            .strip_prefix("Test message ")
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("no message number in {subject:?}"))?;
        let ended = s.d.pop3_disconnects(user).len();
        ui.click("button.logout").await?;
        ui.confirm().await?;
        let end = s.d.session_end(user, ended).await?;
        ensure(
            end.contains("del=1/"),
            format!("QUIT deleted one message: {end}"),
        )?;
        let left = s.d.remaining_messages(user).map_err(|e| e.to_string())?;
        ensure(
            left.len() == 2 && !left.contains(&number),
            format!("message {number} ({subject:?}) is the one deleted: {left:?} remain"),
        )
    }
    .await;
    drop(proxy);
    finish(ui, s, result).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_read_while_signing_in_stays_open_in_chromium() {
    a_message_read_while_signing_in_stays_open(BrowserKind::Chromium).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_read_while_signing_in_stays_open_in_firefox() {
    a_message_read_while_signing_in_stays_open(BrowserKind::Firefox).await;
}
