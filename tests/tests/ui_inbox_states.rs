//! What the inbox's toolbar and status say in states other than "signed in, every message
//! shown" (issue #17), on the real stack (the bridge serving web/, Dovecot behind it), in
//! headless Chromium and Firefox:
//!
//! 1. While a search is active, the header count says how many of all the messages match
//!    ("1 of 3 messages"), not only the number shown.
//! 2. Reading kept mail without a connection (offline), the toolbar has no new-mail interval
//!    nor notification control: there is no session to check with.
//! 3. An automatic check for new mail that fails because the bridge is down keeps the user
//!    in the inbox, with the messages shown and a status line saying so, instead of dropping
//!    them to the sign-in screen.
//!
//! Needs web/pkg (`cargo xtask build-web`, which `cargo xtask test` runs first).

use std::path::Path;

use e2e::browser::{Browser, BrowserKind, INBOX_HOST, InboxPage};
use e2e::served::{ServedBridge, ui_config};
use e2e::{Dovecot, DovecotOptions, Mailbox};
use serde_json::json;

type R<T = ()> = Result<T, String>;

fn ensure(c: bool, what: impl Into<String>) -> R {
    if c { Ok(()) } else { Err(what.into()) }
}

const SUBJECTS: [&str; 3] = ["Alpha report", "Beta notes", "Gamma plan"];

/// Puts the three messages into `maildir/new`, as a delivery agent would.
fn deliver(maildir: &Path) -> R {
    for (n, subject) in SUBJECTS.iter().enumerate() {
        let msg = format!(
            "From: Alice <alice@example.org>\r\nTo: reader@example.org\r\nSubject: {subject}\r\nDate: Sun, 06 Dec 2026 1{n}:00:00 +0000\r\nMessage-ID: <states-{n}@example.org>\r\n\r\nText of {subject}.\r\n"
        );
        let name = format!("1900000000.N{n}P{}.e2e,S={}", std::process::id(), msg.len());
        let tmp = maildir.join("tmp").join(&name);
        std::fs::write(&tmp, msg.as_bytes()).map_err(|e| format!("deliver: {e}"))?;
        std::fs::rename(&tmp, maildir.join("new").join(&name))
            .map_err(|e| format!("deliver: {e}"))?;
    }
    Ok(())
}

/// Signed in, the list loaded and every message kept on this device (so search has them).
const KEPT: &str = "!r.querySelector('.inbox').hidden && r.querySelector('.statusline .badge.secure') \
    && r.querySelectorAll('.row.kept').length === 3";

/// (1) and (2): the count while searching, then the offline toolbar.
async fn search_count_and_offline_toolbar(ui: &InboxPage, base: &str, port: u16) -> R {
    ui.open_form(&format!("{base}/")).await?;
    ui.sign_in(port, "reader", true).await?;
    ui.wait("every message kept", KEPT, 60).await?;
    ensure(
        ui.eval("r.querySelector('.count').textContent").await? == json!("3 messages"),
        "the count before searching",
    )?;
    ui.wait(
        "the search index",
        "(r.querySelector('input[type=search]').value = 'Alpha', r.querySelector('input[type=search]').dispatchEvent(new Event('input')), r.querySelectorAll('.row').length === 1)",
        30,
    )
    .await?;
    let count = ui.eval("r.querySelector('.count').textContent").await?;
    ensure(
        count == json!("1 of 3 messages"),
        format!("while searching, the count says {count}, not \"1 of 3 messages\""),
    )?;
    ui.b.type_in_shadow(INBOX_HOST, "input[type=search]", "")
        .await
        .map_err(|e| e.to_string())?;
    ui.eval("(r.querySelector('input[type=search]').dispatchEvent(new Event('input')), 1)")
        .await?;
    ui.wait(
        "every message again",
        "r.querySelector('.count').textContent === '3 messages'",
        10,
    )
    .await?;
    // Signed in, the new-mail controls show (the page's default: not kiosk mode).
    ensure(
        ui.eval("!r.querySelector('select.check-interval').hidden")
            .await?
            == json!(true),
        "the interval control is shown when signed in",
    )?;

    ui.click("button.logout").await?;
    ui.wait(
        "the offline button",
        "!r.querySelector('.login').hidden && !r.querySelector('button.offline').hidden",
        30,
    )
    .await?;
    ui.click("button.offline").await?;
    let v = ui
        .wait(
            "the kept mail, offline",
            "!r.querySelector('.inbox').hidden && r.querySelectorAll('.row').length === 3 && ({ interval: !r.querySelector('select.check-interval').hidden, label: !r.querySelector('label[for=p3-check-interval]').hidden, notify: !r.querySelector('button.notify').hidden })",
            30,
        )
        .await?;
    ensure(
        v == json!({ "interval": false, "label": false, "notify": false }),
        format!("offline, the toolbar shows new-mail controls: {v}"),
    )?;
    ui.click("button.logout").await?;
    Ok(())
}

/// (3): the bridge goes down while signed in; the next check fails and the inbox stays.
async fn failed_check_keeps_the_inbox(
    ui: &InboxPage,
    base: &str,
    port: u16,
    bridge: &mut ServedBridge,
) -> R {
    ui.open_form(&format!("{base}/")).await?;
    // Checks every 10 s (the least the element allows).
    ui.eval("(document.querySelector('pop3-inbox').setAttribute('check-interval', '10'), 1)")
        .await?;
    ui.sign_in(port, "reader", false).await?;
    ui.wait("every message kept", KEPT, 60).await?;
    bridge.stop().await;
    let v = ui
        .wait(
            "the failed check's note (or the sign-in screen)",
            "(!r.querySelector('.login').hidden || r.querySelector('.syncline.check-failed')) && ({ login: !r.querySelector('.login').hidden, rows: r.querySelectorAll('.row').length, note: r.querySelector('.syncline').textContent })",
            60,
        )
        .await?;
    ensure(
        v["login"] == json!(false) && v["rows"] == json!(3),
        format!("a failed check left the inbox: {v}"),
    )?;
    ensure(
        v["note"]
            .as_str()
            .is_some_and(|n| n.contains("Could not check for new mail")),
        format!("the status line does not say the check failed: {v}"),
    )?;
    Ok(())
}

async fn run(kind: BrowserKind) {
    let opts = DovecotOptions::new().user("reader", "pw-reader", Mailbox::new(0));
    let d = Dovecot::start(opts).expect("dovecot");
    deliver(d.maildir("reader")).expect("deliver");
    let mut bridge = ServedBridge::start(ui_config(&d)).await;
    let b = Browser::start(kind).await.expect("browser starts");
    let ui = InboxPage {
        b,
        kind,
        shots: "states",
    };
    let base = format!("http://{}", bridge.addr);
    let port = d.tls_port();
    let mut result = search_count_and_offline_toolbar(&ui, &base, port).await;
    if result.is_ok() {
        result = failed_check_keeps_the_inbox(&ui, &base, port, &mut bridge).await;
    }
    if let Err(e) = &mut result {
        let _ = ui.shot("FAILED").await;
        if let Ok(v) = ui
            .eval("({ login: !r.querySelector('.login').hidden, errors: [...r.querySelectorAll('.error')].map((x) => x.textContent), sync: r.querySelector('.syncline').textContent, count: r.querySelector('.count').textContent })")
            .await
        {
            e.push_str(&format!("\npage: {v}"));
        }
    }
    let _ = ui.b.close().await;
    bridge.stop().await;
    if let Err(e) = result {
        panic!("{}: {e}\n--- dovecot log ---\n{}", kind.name(), d.log());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_count_offline_toolbar_and_failed_checks_chromium() {
    run(BrowserKind::Chromium).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_count_offline_toolbar_and_failed_checks_firefox() {
    run(BrowserKind::Firefox).await;
}
