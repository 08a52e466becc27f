//! Several accounts (issue #17), on the real stack: the bridge serving web/, one Dovecot with
//! two users, the page in headless Chromium and Firefox.
//!
//! 1. Sign in to A (remembered); "Switch account" signs out and lists A; "Add an account"
//!    gives an empty form; sign in to B (remembered).
//! 2. Switching back to A asks for its password again: the form holds A's server and user, an
//!    empty password with the focus; and no password is stored anywhere (localStorage,
//!    IndexedDB, caches: `storage_dump`).
//! 3. "All inboxes" lists both accounts' kept mail together, each row marked by its account
//!    (a badge, with the full account name for screen readers), and opens one message of each
//!    from that account's kept copy.
//! 4. Removing B asks: Cancel keeps it (listed, its mail kept); confirming wipes its kept mail
//!    (nothing of its mail is left on the device, its search index is emptied, the store no
//!    longer names it) and the list no
//!    longer shows it, nor does "remember"; after a reload A alone is listed, and "Read offline"
//!    shows its kept mail without a connection.
//! 5. Kiosk mode on the same device shows neither the accounts nor "Switch account".
//!
//! Each account keeps its own policy: a size limit set for one is not the other's.
//!
//! Needs web/pkg (`cargo xtask build-web`). Saves `target/screenshots/accounts-*-all-inboxes.png`
//! (docs/screenshots/all-inboxes.png is the Chromium one).

use e2e::browser::{Browser, BrowserKind, INBOX_HOST, InboxPage};
use e2e::offline::reader_text;
use e2e::served::{ServedBridge, ui_config};
use e2e::{Dovecot, DovecotOptions, Mailbox};
use serde_json::{Value as Json, json};

type R<T = ()> = Result<T, String>;

const ALICE: &str = "alice";
const BOB: &str = "bob";
const ALICE_BODY: &str = "Alice keeps this line on the device";
const BOB_BODY: &str = "Bob keeps this other line on the device";
const BOB_SUBJECT: &str = "Bob's only letter";

fn ensure(c: bool, what: impl Into<String>) -> R {
    if c { Ok(()) } else { Err(what.into()) }
}

fn message(user: &str, n: u32, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Ann <ann@example.org>\r\nTo: {user}@example.org\r\nSubject: {subject}\r\n\
         Date: Mon, {n} Jun 2026 10:00:00 +0000\r\nMessage-ID: <accounts-{user}-{n}@example.org>\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// The store's name for `user` on the test server (see `accountId` in web/inbox/controller.js).
fn account(user: &str, port: u16) -> String {
    format!("{user}@localhost:{port}")
}

/// Waits for the sync line to say `n` messages are kept (English catalog).
async fn kept(ui: &InboxPage, n: usize) -> R {
    let said = if n == 1 {
        "1 message is kept".to_owned()
    } else {
        format!("{n} messages are kept")
    };
    ui.wait(
        &format!("the sync to keep {n}"),
        &format!(
            "r.querySelector('.syncline').textContent.includes({})",
            json!(said)
        ),
        60,
    )
    .await
    .map(|_| ())
}

/// "Switch account": back on the sign-in screen, whose list shows the accounts.
async fn switch(ui: &InboxPage) -> R {
    ui.click("button.switch-account").await?;
    ui.wait(
        "the sign-in screen with the accounts",
        "!r.querySelector('.login').hidden && r.querySelector('.inbox').hidden",
        20,
    )
    .await
    .map(|_| ())
}

/// The accounts the list shows: `{account: kept text}`.
async fn listed(ui: &InboxPage) -> R<Json> {
    ui.eval(
        "r.querySelector('.accounts').hidden ? {} : Object.fromEntries([...r.querySelectorAll('.account-entry')]
           .map((li) => [li.dataset.account, li.querySelector('.account-kept').textContent]))",
    )
    .await
}

/// Waits until the list shows exactly `accounts` (the list is read again after each change, in
/// the background), then returns it as [`listed`] does.
async fn wait_listed(ui: &InboxPage, accounts: &[&str]) -> R<Json> {
    let want = json!(accounts);
    let r = ui
        .wait(
            &format!("the accounts list to be {want}"),
            &format!(
                "JSON.stringify([...r.querySelectorAll('.accounts:not([hidden]) .account-entry')].map((li) => li.dataset.account).sort()) === {}",
                json!(want.to_string())
            ),
            20,
        )
        .await;
    let l = listed(ui).await?;
    r.map_err(|e| format!("{e}; the list: {l}"))?;
    Ok(l)
}

/// Everything the origin stores, as text (`Browser::storage_dump`).
async fn stored_text(ui: &InboxPage) -> R<String> {
    let all = ui.b.storage_dump().await.map_err(|e| e.to_string())?;
    ensure(all["error"].is_null(), format!("the storage scan: {all}"))?;
    Ok(all["text"].as_str().unwrap_or_default().to_owned())
}

/// The accounts the store names (`accountNames()`), read in the page.
async fn store_accounts(ui: &InboxPage) -> R<Json> {
    ui.b.js(
        "return import('/store.js').then(async (m) => { const s = await m.openStore(); const n = await s.accountNames(); s.close(); return n; });",
        vec![],
    )
    .await
    .map_err(|e| format!("{}: {e}", ui.kind.name()))
}

/// How many messages the saved search index of `account` holds (web/search.js keeps one record
/// per account in its own database, `pop3-search`); null: no index saved.
async fn search_docs(ui: &InboxPage, account: &str) -> R<Json> {
    ui.b.js(
        "const account = arguments[0];
         return new Promise((ok) => {
           const r = indexedDB.open('pop3-search');
           r.onerror = () => ok('cannot open: ' + r.error);
           r.onsuccess = () => {
             const db = r.result;
             if (!db.objectStoreNames.contains('indexes')) { db.close(); return ok(null); }
             const g = db.transaction('indexes').objectStore('indexes').get(account);
             g.onsuccess = () => { db.close(); ok(g.result ? g.result.count : null); };
             g.onerror = () => ok('cannot read: ' + g.error);
           };
         });",
        vec![json!(account)],
    )
    .await
    .map_err(|e| format!("{}: {e}", ui.kind.name()))
}

/// The size limit of the signed-in account's policy, as its device dialog shows it; with
/// `set`, that limit is then saved, else the dialog is closed unchanged.
async fn device_limit(ui: &InboxPage, set: Option<&str>) -> R<String> {
    ui.wait(
        "the device button",
        "!r.querySelector('button.device').hidden",
        20,
    )
    .await?;
    ui.open_device_dialog().await?;
    let shown = ui
        .eval("r.querySelector('.device-dialog [name=limit]').value")
        .await?
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if let Some(v) = set {
        ui.eval(&format!(
            "(r.querySelector('.device-dialog [name=limit]').value = {}, 1)",
            json!(v)
        ))
        .await?;
    }
    ui.close_device_dialog(if set.is_some() { "save" } else { "cancel" })
        .await?;
    Ok(shown)
}

/// Clicks the button `css` of the list entry of `account`.
async fn entry_click(ui: &InboxPage, account: &str, css: &str) -> R {
    ui.click(&format!(".account-entry[data-account=\"{account}\"] {css}"))
        .await
}

async fn scenario(ui: &InboxPage) -> R {
    let d = Dovecot::start(
        DovecotOptions::new()
            .user(
                ALICE,
                &format!("pw-{ALICE}"),
                Mailbox::empty()
                    .raw_message(message(ALICE, 1, "Alice older", "An older message."))
                    .raw_message(message(ALICE, 2, "Alice newer", ALICE_BODY)),
            )
            .user(
                BOB,
                &format!("pw-{BOB}"),
                Mailbox::empty().raw_message(message(BOB, 3, BOB_SUBJECT, BOB_BODY)),
            ),
    )
    .map_err(|e| e.to_string())?;
    let port = d.tls_port();
    let (a, b) = (account(ALICE, port), account(BOB, port));
    let mut bridge = ServedBridge::start(ui_config(&d)).await;
    let page = format!("http://{}/index.html", bridge.addr);
    let result = async {
        // 1. A, then B added.
        ui.open_form(&page).await?;
        ensure(
            listed(ui).await? == json!({}),
            "a fresh device lists no account",
        )?;
        ui.sign_in(port, ALICE, true).await?;
        kept(ui, 2).await?;
        // A's own policy: a size limit, set in its device dialog.
        device_limit(ui, Some("123456")).await?;
        switch(ui).await?;
        wait_listed(ui, &[&a]).await?;
        ui.click("button.account-add").await?;
        let form = ui
            .eval("[r.querySelector('[name=server]').value, r.querySelector('[name=user]').value, r.querySelector('[name=password]').value]")
            .await?;
        ensure(
            form == json!(["", "", ""]),
            format!("Add an account: an empty form: {form}"),
        )?;
        ui.sign_in(port, BOB, true).await?;
        kept(ui, 1).await?;
        let limit = device_limit(ui, None).await?;
        ensure(
            limit.is_empty(),
            format!("B has its own policy, not A's size limit: {limit:?}"),
        )?;
        // B's search index saved too (web/search.js saves it a moment after a change): removing
        // B must take it along, so it has to exist first.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while search_docs(ui, &b).await? != json!(1) {
            ensure(
                std::time::Instant::now() < deadline,
                "B's search index was not saved within 20 s",
            )?;
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }

        // 2. Back to A: its password is asked for again, and never stored.
        switch(ui).await?;
        let l = wait_listed(ui, &[&a, &b]).await?;
        ensure(
            l[&a] == "2 messages kept" && l[&b] == "1 message kept",
            format!("both accounts listed with their kept mail: {l}"),
        )?;
        ui.shot("accounts-list").await?;
        entry_click(ui, &a, ".account-use").await?;
        let form = ui
            .eval("[r.querySelector('[name=server]').value, r.querySelector('[name=port]').value, r.querySelector('[name=user]').value,
                    r.querySelector('[name=password]').value, r.activeElement && r.activeElement.name]")
            .await?;
        ensure(
            form == json!(["localhost", port.to_string(), ALICE, "", "password"]),
            format!("switching to A asks for its password (server, port, user, password, focus): {form}"),
        )?;
        ui.b.type_in_shadow(INBOX_HOST, "input[name=password]", &format!("pw-{ALICE}"))
            .await
            .map_err(|e| e.to_string())?;
        ui.click("button.connect").await?;
        ui.wait(
            "A's inbox",
            &format!(
                "!r.querySelector('.inbox').hidden && r.querySelector('.statusline').textContent.includes({})",
                json!(format!("Signed in as {ALICE}"))
            ),
            30,
        )
        .await?;
        let limit = device_limit(ui, None).await?;
        ensure(
            limit == "123456",
            format!("A's policy is still its own: size limit {limit:?}"),
        )?;
        let text = stored_text(ui).await?;
        ensure(
            text.contains("pop3-inbox:accounts") && text.contains(ALICE_BODY) && text.contains(BOB_BODY),
            "the storage scan sees the remembered accounts and both accounts' kept mail",
        )?;
        for user in [ALICE, BOB] {
            ensure(
                !text.contains(&format!("pw-{user}")),
                format!("{user}'s password is stored on the device"),
            )?;
        }

        // 3. All inboxes: both accounts' mail, marked, each message read from its account.
        switch(ui).await?;
        ui.click("button.all-inboxes").await?;
        ui.wait(
            "all inboxes listed",
            "!r.querySelector('.inbox').hidden && r.querySelectorAll('.row').length === 3",
            20,
        )
        .await?;
        let rows = ui
            .eval("[...r.querySelectorAll('.row')].map((row) => { const b = row.querySelector('.account-badge');
                    return [b && b.title, b && b.querySelector('.visually-hidden').textContent, row.querySelector('.subject').textContent]; })")
            .await?;
        let has = |acc: &str, subject: &str| {
            rows.as_array().into_iter().flatten().any(|r| {
                r[0] == acc
                    && r[1].as_str().is_some_and(|s| s.contains(acc))
                    && r[2] == subject
            })
        };
        ensure(
            has(&a, "Alice newer") && has(&a, "Alice older") && has(&b, BOB_SUBJECT),
            format!("every row marked by its account (title, accessible text, subject): {rows}"),
        )?;
        let status = ui.eval("r.querySelector('.statusline').textContent").await?;
        ensure(
            status.as_str().is_some_and(|s| {
                s.contains(&format!("{a} (2)")) && s.contains(&format!("{b} (1)")) && s.contains("Read only")
            }),
            format!("the view names each account with its count, read only: {status}"),
        )?;
        ensure(
            ui.eval("r.querySelector('button.refresh').hidden && r.querySelector('button.device').hidden && r.querySelector('form[role=search]').hidden").await?
                == true,
            "no Refresh, device settings nor search in All inboxes",
        )?;
        ui.shot("all-inboxes").await?;
        for (acc, body) in [(&b, BOB_BODY), (&a, ALICE_BODY)] {
            ui.eval(&format!(
                "([...r.querySelectorAll('.row')].find((row) => row.querySelector('.account-badge').title === {} && !row.textContent.includes('older')).click(), 1)",
                json!(acc)
            ))
            .await?;
            let text = reader_text(ui, body, 20).await;
            ensure(
                text.contains(body),
                format!("{acc}'s message read from its kept copy: {text:?}"),
            )?;
        }

        // 4. Removing B asks; Cancel keeps it, confirming wipes it.
        ui.click("button.logout").await?;
        ui.wait("the sign-in screen", "!r.querySelector('.login').hidden", 20)
            .await?;
        wait_listed(ui, &[&a, &b]).await?;
        entry_click(ui, &b, ".account-remove").await?;
        ui.wait("the question", "r.querySelector('dialog').open", 10).await?;
        let question = ui.eval("r.querySelector('dialog').textContent").await?;
        ensure(
            question.as_str().is_some_and(|q| q.contains(&b) && q.contains("1 message kept")),
            format!("the question names the account and its kept mail: {question}"),
        )?;
        ui.click("dialog button.cancel").await?;
        ui.wait("the question closed", "!r.querySelector('dialog').open", 10).await?;
        // A removal runs asynchronously after the answer: give one the time to show (a wait for
        // something that must not happen, not a measure of speed), then both must be there.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let l = wait_listed(ui, &[&a, &b]).await?;
        let text = stored_text(ui).await?;
        let docs = search_docs(ui, &b).await?;
        ensure(
            text.contains(BOB_BODY) && docs == json!(1),
            format!("Cancel keeps B's mail and its search index ({docs} messages): {l}"),
        )?;
        entry_click(ui, &b, ".account-remove").await?;
        ui.wait("the question", "r.querySelector('dialog').open", 10).await?;
        ui.click("dialog button.confirm").await?;
        wait_listed(ui, &[&a]).await?;
        let text = stored_text(ui).await?;
        let docs = search_docs(ui, &b).await?;
        ensure(
            docs.is_null(),
            format!("B's search index is still saved, with {docs} messages"),
        )?;
        for gone in [BOB_BODY, BOB_SUBJECT] {
            ensure(
                !text.contains(gone),
                format!("B's mail is still on the device ({gone:?})"),
            )?;
        }
        ensure(
            text.contains(ALICE_BODY),
            "A's kept mail stays",
        )?;
        let names = store_accounts(ui).await?;
        ensure(
            names == json!([a]),
            format!("the store names only A: {names}"),
        )?;
        let remembered = ui.eval("localStorage.getItem('pop3-inbox:accounts') + ' ' + localStorage.getItem('pop3-inbox:account')").await?;
        ensure(
            remembered.as_str().is_some_and(|s| s.contains(ALICE) && !s.contains(&format!("\"{BOB}\""))),
            format!("B is no longer remembered: {remembered}"),
        )?;
        // A reload lists A alone (what is remembered and kept, not what the page held).
        ui.open_form(&page).await?;
        wait_listed(ui, &[&a]).await?;
        // Read offline: that account's kept mail alone, without a connection, unmarked.
        entry_click(ui, &a, ".account-open").await?;
        ui.wait(
            "A's kept mail offline",
            "!r.querySelector('.inbox').hidden && r.querySelectorAll('.row').length === 2",
            20,
        )
        .await?;
        let rows = ui
            .eval("[...r.querySelectorAll('.row')].map((row) => [!!row.querySelector('.account-badge'), row.querySelector('.subject').textContent])")
            .await?;
        ensure(
            rows == json!([[false, "Alice newer"], [false, "Alice older"]]),
            format!("A's kept mail offline: {rows}"),
        )?;
        ensure(
            ui.eval("!r.querySelector('form[role=search]').hidden").await? == true,
            "one account's kept mail offline is searchable",
        )?;

        // 5. Kiosk mode on the same device: one account, nothing of the others shown.
        ui.open_form(&format!("{page}?kiosk")).await?;
        ui.sign_in(port, BOB, false).await?;
        let kiosk = ui
            .eval("({ switcher: !r.querySelector('button.switch-account').hidden, entries: r.querySelectorAll('.account-entry').length, panel: !r.querySelector('.accounts').hidden })")
            .await?;
        ensure(
            kiosk == json!({"switcher": false, "entries": 0, "panel": false}),
            format!("kiosk mode shows no accounts: {kiosk}"),
        )
    }
    .await;
    bridge.stop().await;
    result
}

async fn run(kind: BrowserKind) {
    let b = Browser::start(kind).await.expect("browser starts");
    let ui = InboxPage {
        b,
        kind,
        shots: "accounts",
    };
    let result = scenario(&ui).await;
    if result.is_err() {
        let _ = ui.shot("FAILED").await;
    }
    let _ = ui.b.close().await;
    if let Err(e) = result {
        panic!("{}: {e}", kind.name());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adds_switches_lists_all_and_removes_accounts_chromium() {
    run(BrowserKind::Chromium).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adds_switches_lists_all_and_removes_accounts_firefox() {
    run(BrowserKind::Firefox).await;
}
