//! Accessibility of `<pop3-inbox>` (issue #17, "Accessible and comfortable"), against the mock
//! API (web/dev/mock-api.js) in headless Chromium and Firefox over WebDriver:
//!
//! - axe-core (pinned in xtask/js/package-lock.json, installed by `cargo xtask test`; injected
//!   by the test, never shipped) finds no WCAG 2.x A/AA or best-practice violation on the
//!   sign-in form (also with its insecurity warning, an error, and in kiosk mode), the inbox
//!   (with messages, with a marked one, with kiosk mode's idle countdown), the reader (plain
//!   text; formatted with a blocked remote image and an attachment), the confirmation dialog
//!   and the device dialog, in the light theme and in the dark one (`prefers-color-scheme:
//!   dark`, which also checks the dark colours' contrast; the inbox's background and text are
//!   checked to be dark and light there, light and dark otherwise, and saved as a screenshot
//!   each). axe looks into the element's open shadow root itself (checked: it reports an
//!   unnamed button put there).
//! - The keyboard (light session; also the toolbar: the search field reached by Shift+Tab from
//!   the list, typing filters and Escape empties it, Tab on to the new-mail interval, which
//!   the arrow keys change): arrows move the active row (announced through `aria-activedescendant` and
//!   `aria-selected`), Enter opens the reader with the focus on its heading, Escape closes it
//!   and the focus is back on the list with the same row active, Delete asks in a modal
//!   dialog that keeps Tab and Shift+Tab inside and gives the focus back to its opener.
//! - The list is announced as a grid with its counts, and its message count is a live region.
//! - `prefers-reduced-motion: reduce` turns every transition and animation off.
//!
//! The colour scheme and motion preference are set per browser session: in Chromium through
//! DevTools' media emulation, in Firefox through its content preferences; each session first
//! checks that the page really sees the preference it asked for.

use e2e::browser::{Browser, BrowserKind, INBOX_HOST as HOST, InboxPage, StartOptions};
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use serde_json::{Value as Json, json};
use web_bridge::WebBridge;

mod web_bridge;

type R<T = ()> = Result<T, String>;

fn ensure(c: bool, what: impl Into<String>) -> R {
    if c { Ok(()) } else { Err(what.into()) }
}

/// What the page is asked to prefer.
#[derive(Clone, Copy, Debug)]
struct Media {
    dark: bool,
    reduced_motion: bool,
}

struct Ui {
    page: InboxPage,
    server: WebBridge,
    axe: String,
}

impl std::ops::Deref for Ui {
    type Target = InboxPage;
    fn deref(&self) -> &InboxPage {
        &self.page
    }
}

impl Ui {
    async fn start(kind: BrowserKind, media: Media) -> R<Ui> {
        let mut opts = StartOptions::default();
        if kind == BrowserKind::Firefox {
            // 0 dark, 1 light (2 would follow the system, which a headless test cannot set).
            let scheme = if media.dark { 0 } else { 1 };
            opts.firefox_prefs = vec![
                (
                    "layout.css.prefers-color-scheme.content-override".into(),
                    json!(scheme),
                ),
                (
                    "ui.prefersReducedMotion".into(),
                    json!(i32::from(media.reduced_motion)),
                ),
            ];
        }
        let b = Browser::start_with(kind, opts)
            .await
            .map_err(|e| format!("{}: could not start: {e}", kind.name()))?;
        if kind == BrowserKind::Chromium {
            // Kept by the tab across navigations.
            let scheme = if media.dark { "dark" } else { "light" };
            let motion = if media.reduced_motion {
                "reduce"
            } else {
                "no-preference"
            };
            b.cdp(
                "Emulation.setEmulatedMedia",
                json!({"features": [
                    {"name": "prefers-color-scheme", "value": scheme},
                    {"name": "prefers-reduced-motion", "value": motion},
                ]}),
            )
            .await
            .map_err(|e| format!("chromium: media emulation: {e}"))?;
        }
        let server = WebBridge::with_dev_pages(e2e::browser::web_root()).await;
        let ui = Ui {
            page: InboxPage {
                b,
                kind,
                shots: "a11y",
            },
            server,
            axe: e2e::axe::source(),
        };
        Ok(ui)
    }

    fn err(&self, e: impl std::fmt::Display) -> String {
        format!("{}: {e}", self.kind.name())
    }

    /// Opens the page on the mock API, with no remembered account; `store` (none: the mock's
    /// default, off) where the element keeps mail.
    async fn open(&self, query: &str, store: Option<&str>) -> R {
        self.b
            .goto(&self.server.url(&format!("index.html?api=mock&{query}")))
            .await
            .map_err(|e| self.err(e))?;
        self.wait(
            "the account form",
            "customElements.get('pop3-inbox') && r && !r.querySelector('.login').hidden",
            30,
        )
        .await?;
        let store = store.map_or(Json::Null, |s| json!(s));
        self.b
            .js(
                "localStorage.clear();
                 if (arguments[0]) document.querySelector('pop3-inbox').setAttribute('store', arguments[0]);
                 return 1;",
                vec![store],
            )
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn fill_login(&self, user: &str) -> R {
        for (css, text) in [
            ("input[name=server]", "mail.example.org"),
            ("input[name=user]", user),
            ("input[name=password]", "secret"),
        ] {
            self.b
                .type_in_shadow(HOST, css, text)
                .await
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }

    /// Signs `user` in and waits for the list's headers.
    async fn login(&self, user: &str) -> R {
        self.fill_login(user).await?;
        self.click("button.connect").await?;
        self.wait("the inbox", "!r.querySelector('.inbox').hidden", 15)
            .await?;
        self.wait(
            "every header on screen, and no progress bar",
            "r.querySelector('.row') && !r.querySelector('.row.loading') && !r.querySelector('.inbox progress')",
            15,
        )
        .await?;
        Ok(())
    }

    async fn press(&self, keys: &[Key]) -> R {
        self.b.press(keys).await.map_err(|e| self.err(e))
    }

    /// Shift+Tab (Browser::press presses keys one after the other).
    async fn shift_tab(&self) -> R {
        let shift: char = Key::Shift.into();
        let tab: char = Key::Tab.into();
        let seq = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: shift })
            .then(KeyAction::Down { value: tab })
            .then(KeyAction::Up { value: tab })
            .then(KeyAction::Up { value: shift });
        self.b
            .client
            .perform_actions(seq)
            .await
            .map_err(|e| self.err(e))?;
        self.b
            .client
            .release_actions()
            .await
            .map_err(|e| self.err(e))
    }

    /// Runs axe on the whole document (it enters open shadow roots by itself) and fails with
    /// every violation it finds, each with the elements it concerns. Message bodies are left
    /// out: they are the sender's markup, shown in a sandboxed frame (axe still checks the
    /// frame element itself, e.g. its title).
    async fn axe_clean(&self, screen: &str) -> R {
        let violations = e2e::axe::violations(&self.b, &self.axe)
            .await
            .map_err(|e| self.err(format!("axe on {screen}: {e}")))?;
        if !violations.is_empty() {
            let _ = self.shot(&format!("FAILED-axe-{screen}")).await;
        }
        ensure(
            violations.is_empty(),
            self.err(format!(
                "axe found {} violation(s) on {screen}:\n{}",
                violations.len(),
                serde_json::to_string_pretty(&violations).unwrap_or_default()
            )),
        )
    }
}

/// The page sees the preferences the session asked for (else the dark or reduced-motion run
/// would silently test the light one).
async fn media_applied(ui: &Ui, media: Media) -> R {
    let v = ui
        .eval(
            "({dark: matchMedia('(prefers-color-scheme: dark)').matches,
               reduce: matchMedia('(prefers-reduced-motion: reduce)').matches})",
        )
        .await?;
    ensure(
        v == json!({"dark": media.dark, "reduce": media.reduced_motion}),
        ui.err(format!("media preferences not applied ({media:?}): {v}")),
    )
}

/// The inbox is drawn in the theme asked for: the element's background and the list's text
/// are dark and light (or light and dark), so the dark run's contrast checks judge dark colours,
/// not the light theme again.
async fn theme_applied(ui: &Ui, media: Media) -> R {
    let v = ui
        .eval(
            "(() => {
               const lum = (c) => {
                 const [r_, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map((x) => +x / 255);
                 return 0.2126 * r_ + 0.7152 * g + 0.0722 * b;
               };
               return { bg: lum(getComputedStyle(r.host).backgroundColor),
                        text: lum(getComputedStyle(r.querySelector('.grid .row') ?? r.querySelector('.grid')).color) };
             })()",
        )
        .await?;
    let (bg, text) = (
        v["bg"].as_f64().unwrap_or(-1.0),
        v["text"].as_f64().unwrap_or(-1.0),
    );
    let ok = if media.dark {
        bg < 0.2 && text > 0.6
    } else {
        bg > 0.8 && text < 0.4
    };
    ensure(
        ok,
        ui.err(format!(
            "the {} theme is not what the inbox shows: background luminance {bg:.2}, text {text:.2}",
            if media.dark { "dark" } else { "light" }
        )),
    )
}

/// axe reports what it should inside the element's shadow root: a button without a name,
/// put there for this check, is a violation (else a clean run could mean axe never looked).
async fn axe_sees_the_shadow_root(ui: &Ui) -> R {
    ui.eval("(r.append(Object.assign(document.createElement('button'), { className: 'axe-canary' })), 1)")
        .await?;
    let seen = ui.axe_clean("canary").await;
    ui.eval("(r.querySelector('.axe-canary').remove(), 1)")
        .await?;
    match seen {
        Err(e) if e.contains("button-name") && e.contains(".axe-canary") => Ok(()),
        other => Err(ui.err(format!(
            "axe did not report the unnamed button in the shadow root: {other:?}"
        ))),
    }
}

/// A message with formatted text, a remote image (blocked until asked for) and an
/// attachment, for the reader's message tools and attachment list.
const RICH_MESSAGE: &str = "From: Ann Example <ann@example.org>\r\nTo: you@example.org\r\n\
Subject: Minutes with the report\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n--m\r\nContent-Type: multipart/alternative; boundary=\"a\"\r\n\r\n\
--a\r\nContent-Type: text/plain\r\n\r\nThe minutes are attached.\r\n--a\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
<p>The <b>minutes</b> are attached.</p><img src=\"https://images.example/logo.png\" alt=\"Logo\">\r\n--a--\r\n\
--m\r\nContent-Type: application/pdf; name=\"report.pdf\"\r\nContent-Disposition: attachment; filename=\"report.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQKJcOkw7zDtsOfCg==\r\n--m--\r\n";

/// axe on every screen: the form (plain, with the insecurity warning, with an error), the
/// inbox, a marked message, the reader, the confirmation dialog and the device dialog.
async fn axe_on_every_screen(ui: &Ui, media: Media) -> R {
    // Every screen is checked before failing, so one run lists every violation.
    let mut found = Vec::new();
    let mut axe = async |screen: &str| {
        if let Err(e) = ui.axe_clean(screen).await {
            found.push(e);
        }
    };
    ui.open("", None).await?;
    media_applied(ui, media).await?;
    axe_sees_the_shadow_root(ui).await?;
    axe("sign-in").await;
    ui.b.find_in_shadow(HOST, "select[name=security]")
        .await
        .map_err(|e| ui.err(e))?
        .select_by_value("plain")
        .await
        .map_err(|e| ui.err(e))?;
    ui.wait(
        "the insecurity warning",
        "!r.querySelector('.warning').hidden",
        15,
    )
    .await?;
    axe("sign-in-plain-warning").await;
    ui.open("", None).await?;
    ui.fill_login("badpass").await?;
    ui.click("button.connect").await?;
    ui.wait("the error", "r.querySelector('.error')", 15)
        .await?;
    axe("sign-in-error").await;

    ui.open("", Some("memory")).await?;
    ui.login("small").await?;
    axe("inbox").await;
    theme_applied(ui, media).await?;
    ui.shot(if media.dark {
        "inbox-dark"
    } else {
        "inbox-light"
    })
    .await?;

    ui.eval("(r.querySelector('.grid').focus(), 1)").await?;
    ui.press(&[Key::Enter]).await?;
    ui.wait("the reader", "!r.querySelector('.reader').hidden", 15)
        .await?;
    ui.wait(
        "the message body",
        "r.querySelector('.reader iframe:not([hidden])') && !r.querySelector('.reader progress')",
        15,
    )
    .await?;
    axe("reader").await;

    ui.click(".reader button.delete").await?;
    ui.wait(
        "the confirmation dialog",
        "r.querySelector('dialog:not(.device-dialog)').open",
        15,
    )
    .await?;
    axe("confirmation-dialog").await;
    ui.click("dialog button.confirm").await?;
    ui.wait(
        "the marked message",
        "r.querySelector('.row.marked') && !r.querySelector('.marked-bar').hidden",
        15,
    )
    .await?;
    axe("inbox-marked").await;

    ui.wait(
        "the device button",
        "!r.querySelector('button.device').hidden",
        15,
    )
    .await?;
    ui.click("button.device").await?;
    ui.wait(
        "the device dialog",
        "r.querySelector('.device-dialog').open",
        15,
    )
    .await?;
    axe("device-dialog").await;
    ui.press(&[Key::Escape]).await?;

    // A formatted message with a blocked remote image and an attachment (the mock's
    // "hostile" account serves the messages the page hands it).
    ui.open("", None).await?;
    ui.b.js(
        "window.__pop3MockMailbox = [new TextEncoder().encode(arguments[0])]; return 1;",
        vec![json!(RICH_MESSAGE)],
    )
    .await
    .map_err(|e| ui.err(e))?;
    ui.login("hostile").await?;
    ui.eval("(r.querySelector('.grid').focus(), 1)").await?;
    ui.press(&[Key::Enter]).await?;
    ui.wait(
        "the formatted message, its remote-content bar and its attachment",
        "r.querySelector('.message-frame-slot iframe') && r.querySelector('.remote-bar:not([hidden])')
           && r.querySelector('.attachment .save') && !r.querySelector('.reader progress')",
        15,
    )
    .await?;
    axe("reader-formatted-attachment").await;

    // Kiosk mode: the sign-in form, and the idle countdown (shown in the last 9 of 10 s).
    ui.open("kiosk&kiosk-idle=10", None).await?;
    axe("kiosk-sign-in").await;
    ui.login("small").await?;
    ui.wait(
        "the idle countdown",
        "!r.querySelector('.kiosk-countdown').hidden",
        15,
    )
    .await?;
    axe("kiosk-countdown").await;

    // Mail kept on this device (IndexedDB) and remembered: search results as typed, the
    // sign-in screen's list of accounts, all inboxes together, and the French text.
    ui.open("", Some("on")).await?;
    ui.fill_login("small").await?;
    ui.click("input[name=remember]").await?;
    ui.click("button.connect").await?;
    ui.wait(
        "the list, synced",
        "!r.querySelector('.inbox').hidden && r.querySelector('.count').textContent === '30 messages' && !r.querySelector('.inbox progress')",
        30,
    )
    .await?;
    ui.b.type_in_shadow(HOST, ".search input[type=search]", "meeting")
        .await
        .map_err(|e| ui.err(e))?;
    ui.wait(
        "search results",
        "r.querySelector('.search input').value === 'meeting' && r.querySelectorAll('.row').length > 0
           && /\\d+\\D+\\d+/.test(r.querySelector('.count').textContent)",
        30,
    )
    .await?;
    axe("search-results").await;
    ui.b.type_in_shadow(HOST, ".search input[type=search]", "zqxjvk")
        .await
        .map_err(|e| ui.err(e))?;
    let v = ui
        .wait(
            "no search results",
            "r.querySelectorAll('.row').length === 0 && !r.querySelector('.empty').hidden && r.querySelector('.empty').textContent",
            30,
        )
        .await?;
    ensure(
        v == "No messages found",
        ui.err(format!("an empty search is not an empty inbox: {v}")),
    )?;
    axe("search-no-results").await;
    ui.eval("(() => { const q = r.querySelector('.search input'); q.value = ''; q.dispatchEvent(new Event('input')); return 1; })()")
        .await?;
    ui.click("button.logout").await?;
    ui.wait(
        "the list of accounts",
        "!r.querySelector('.login').hidden && r.querySelector('.account-entry') && !r.querySelector('button.all-inboxes').hidden",
        30,
    )
    .await?;
    axe("accounts").await;
    ui.click("button.all-inboxes").await?;
    ui.wait(
        "all inboxes",
        "!r.querySelector('.inbox').hidden && r.querySelector('.count').textContent === '30 messages'",
        30,
    )
    .await?;
    axe("all-inboxes").await;
    ui.eval("(document.querySelector('pop3-inbox').setAttribute('lang', 'fr'), 1)")
        .await?;
    ui.wait(
        "the French inbox",
        "r.querySelector('[lang=fr]') && r.querySelector('button.logout').textContent !== 'Log out'",
        15,
    )
    .await?;
    axe("all-inboxes-fr").await;
    ui.click("button.logout").await?;
    ui.wait(
        "the French sign-in screen",
        "!r.querySelector('.login').hidden",
        15,
    )
    .await?;
    axe("accounts-fr").await;
    ensure(found.is_empty(), found.join("\n"))
}

/// What has the focus, as the checks below name it: the class of the focused element inside
/// the shadow root, or "outside" when the focus left the element.
const FOCUSED: &str = "(() => { const a = r.activeElement; if (!a) return 'outside';
    if (a === r.querySelector('.reader h2')) return 'reader-heading';
    return a.className || a.tagName; })()";

/// Tabs through the open dialog `css` in both directions, more times than it has controls:
/// the focus never leaves it (a modal dialog keeps it inside).
async fn focus_stays_in(ui: &Ui, css: &str) -> R {
    let count = ui
        .eval(&format!(
            "r.querySelector({}).querySelectorAll('button:not([hidden]), input:not([hidden]):not([disabled]), select').length",
            json!(css)
        ))
        .await?;
    let n = count.as_u64().unwrap_or(0) + 2;
    let inside = format!(
        "r.activeElement !== null && r.querySelector({css}).contains(r.activeElement)",
        css = json!(css)
    );
    for step in 0..2 * n {
        if step < n {
            ui.press(&[Key::Tab]).await?;
        } else {
            ui.shift_tab().await?;
        }
        let now = ui.eval(&format!("({inside}) || {FOCUSED}")).await?;
        ensure(
            now == true,
            ui.err(format!(
                "{} {} in {css}: the focus left the dialog, to {now}",
                step % n + 1,
                if step < n { "Tab" } else { "Shift+Tab" }
            )),
        )?;
    }
    Ok(())
}

/// The list is a grid with its counts, driven by the keyboard; the reader and the dialogs
/// take the focus and give it back.
/// `key` closes the reader (`how`: what it is, for the message): the list has the focus
/// again, on the row the reader was opened from (row 29); `active` reads the grid's state.
async fn closes_back_to_row_29(ui: &Ui, key: Key, how: &str, active: &str) -> R {
    ui.press(&[key]).await?;
    ui.wait(
        "the reader to close",
        "r.querySelector('.reader').hidden",
        15,
    )
    .await?;
    let v = ui
        .eval(&format!("({{focus: {FOCUSED}, active: {active}}})"))
        .await?;
    ensure(
        v == json!({"focus": "grid has-active", "active": {"desc": "row-29", "selected": ["row-29"]}}),
        ui.err(format!(
            "{how}: the list has the focus, on the same row: {v}"
        )),
    )
}

async fn keyboard_and_focus(ui: &Ui) -> R {
    ui.open("", Some("memory")).await?;
    // Signing in from the keyboard: Enter in the password field submits the form.
    ui.fill_login("small").await?;
    ui.press(&[Key::Enter]).await?;
    ui.wait("the inbox", "!r.querySelector('.inbox').hidden", 15)
        .await?;
    ui.wait(
        "the list's headers",
        "r.querySelector('.row') && !r.querySelector('.row.loading')",
        15,
    )
    .await?;
    let v = ui
        .wait(
            "the message count",
            "r.querySelector('.count').textContent && ({
               focus: r.activeElement === r.querySelector('[role=grid]'),
               grid: r.querySelector('[role=grid]').getAttribute('aria-label'),
               rowcount: r.querySelector('[role=grid]').getAttribute('aria-rowcount'),
               colcount: r.querySelector('[role=grid]').getAttribute('aria-colcount'),
               headers: r.querySelectorAll('[role=row] [role=columnheader]').length,
               rows: [...r.querySelectorAll('.body [role=row]')].slice(0, 2).map((row) => [
                 row.getAttribute('aria-rowindex'), row.getAttribute('aria-selected'), row.querySelectorAll('[role=gridcell]').length]),
               count: r.querySelector('.count').textContent,
               live: r.querySelector('.count').getAttribute('aria-live') })",
            15,
        )
        .await?;
    ensure(
        v == json!({
            "focus": true, "grid": "Messages, newest first", "rowcount": "31", "colcount": "4",
            "headers": 4, "rows": [["2", "true", 4], ["3", "false", 4]],
            "count": "30 messages", "live": "polite",
        }),
        ui.err(format!(
            "the list as a grid with counts, focused after sign-in: {v}"
        )),
    )?;

    // Arrows move the active row: aria-activedescendant and aria-selected follow.
    ui.press(&[Key::Down, Key::Down, Key::Up]).await?;
    let active = "({desc: r.querySelector('[role=grid]').getAttribute('aria-activedescendant'),
        selected: [...r.querySelectorAll('[aria-selected=true]')].map((e) => e.id)})";
    let v = ui.eval(active).await?;
    ensure(
        v == json!({"desc": "row-29", "selected": ["row-29"]}),
        ui.err(format!("Down, Down, Up: the second row is active: {v}")),
    )?;

    // Enter opens the reader, with the focus on its heading (the subject).
    ui.press(&[Key::Enter]).await?;
    let v = ui
        .wait(
            "the reader with the focus",
            &format!("!r.querySelector('.reader').hidden && {FOCUSED}"),
            15,
        )
        .await?;
    ensure(
        v == "reader-heading",
        ui.err(format!("the reader's heading has the focus: {v}")),
    )?;
    // Escape closes it: the focus is back on the list, on the row it came from.
    closes_back_to_row_29(ui, Key::Escape, "Escape", active).await?;
    // The reader's "Back to list" button, from the keyboard, does the same.
    ui.press(&[Key::Enter]).await?;
    ui.wait(
        "the reader",
        &format!("!r.querySelector('.reader').hidden && {FOCUSED} === 'reader-heading'"),
        15,
    )
    .await?;
    ui.shift_tab().await?;
    let v = ui.eval(FOCUSED).await?;
    ensure(
        v == "delete danger",
        ui.err(format!(
            "Shift+Tab from the heading: the reader's Delete button: {v}"
        )),
    )?;
    // Delete from the reader, cancelled: the focus goes back to the Delete button.
    ui.press(&[Key::Enter]).await?;
    ui.wait(
        "the confirmation dialog",
        &format!("r.querySelector('dialog').open && {FOCUSED} === 'cancel'"),
        15,
    )
    .await?;
    focus_stays_in(ui, "dialog").await?;
    ui.press(&[Key::Escape]).await?;
    let v = ui
        .wait(
            "the dialog to close",
            &format!("!r.querySelector('dialog').open && {FOCUSED}"),
            15,
        )
        .await?;
    ensure(
        v == "delete danger",
        ui.err(format!("the dialog gave the focus back to its opener: {v}")),
    )?;
    ui.shift_tab().await?;
    let v = ui.eval(FOCUSED).await?;
    ensure(
        v == "back",
        ui.err(format!("Shift+Tab from Delete: Back to list: {v}")),
    )?;
    closes_back_to_row_29(ui, Key::Enter, "Back to list", active).await?;

    // Delete in the list asks; confirming marks the message and the focus is back on the list.
    ui.press(&[Key::Delete]).await?;
    ui.wait(
        "the confirmation dialog",
        &format!("r.querySelector('dialog').open && {FOCUSED} === 'cancel'"),
        15,
    )
    .await?;
    ui.press(&[Key::Tab]).await?;
    ensure(
        ui.eval(FOCUSED).await? == "confirm danger",
        ui.err("Tab from Cancel: Mark for deletion"),
    )?;
    ui.press(&[Key::Enter]).await?;
    let v = ui
        .wait(
            "the message marked",
            &format!(
                "!r.querySelector('dialog').open && r.querySelector('#row-29.marked') && {FOCUSED}"
            ),
            15,
        )
        .await?;
    ensure(
        v == "grid has-active",
        ui.err(format!("after confirming, the list has the focus: {v}")),
    )?;
    // Delete on a marked message undoes the mark.
    ui.press(&[Key::Delete]).await?;
    ui.wait(
        "the mark undone",
        "r.querySelector('#row-29') && !r.querySelector('#row-29.marked')",
        15,
    )
    .await?;

    // The device dialog: opened from its button by the keyboard, Tab stays inside, Escape
    // closes it and the focus is back on the button.
    ui.eval("(r.querySelector('button.device').focus(), 1)")
        .await?;
    ui.press(&[Key::Enter]).await?;
    ui.wait(
        "the device dialog",
        "r.querySelector('.device-dialog').open",
        15,
    )
    .await?;
    focus_stays_in(ui, ".device-dialog").await?;
    ui.press(&[Key::Escape]).await?;
    let v = ui
        .wait(
            "the device dialog to close",
            &format!("!r.querySelector('.device-dialog').open && {FOCUSED}"),
            15,
        )
        .await?;
    ensure(
        v == "device",
        ui.err(format!(
            "the device dialog gave the focus back to its button: {v}"
        )),
    )?;
    toolbar_from_the_keyboard(ui).await
}

/// Presses Tab (or Shift+Tab, `back`) until `css` has the focus, at most `max` times: the
/// control is reachable by the keyboard.
async fn tab_to(ui: &Ui, css: &str, back: bool, max: usize) -> R {
    let here = format!("r.activeElement === r.querySelector('{css}')");
    for _ in 0..max {
        if ui.eval(&here).await? == true {
            return Ok(());
        }
        if back {
            ui.shift_tab().await?;
        } else {
            ui.press(&[Key::Tab]).await?;
        }
    }
    Err(ui.err(format!(
        "{css} not reached with {max} presses of {}Tab (at {})",
        if back { "Shift+" } else { "" },
        ui.eval(FOCUSED).await?
    )))
}

/// The toolbar from the keyboard: from the list, Shift+Tab reaches the search field; typing
/// filters the list and Escape empties it again; Tab goes on to the new-mail interval, which
/// the arrow keys change (and the choice is taken).
async fn toolbar_from_the_keyboard(ui: &Ui) -> R {
    let search = "form[role=search] input";
    ui.eval("(r.querySelector('[role=grid]').focus(), 1)")
        .await?;
    tab_to(ui, search, true, 12).await?;
    ui.b.type_in_shadow(HOST, search, "Holiday")
        .await
        .map_err(|e| ui.err(e))?;
    let count = "r.querySelector('.count').textContent";
    let v = ui
        .wait(
            "the search's results",
            &format!("/ of 30 /.test({count}) && {count}"),
            15,
        )
        .await?;
    ensure(
        v.as_str().is_some_and(|c| !c.starts_with("30 ")),
        ui.err(format!("typing in the search field filters the list: {v}")),
    )?;
    ui.press(&[Key::Escape]).await?;
    ui.wait(
        "the whole list again",
        &format!("{count} === '30 messages' && r.querySelector('{search}').value === ''"),
        15,
    )
    .await?;
    let select = "select.check-interval";
    tab_to(ui, select, false, 6).await?;
    let before = ui
        .eval(&format!("r.querySelector('{select}').value"))
        .await?;
    ui.press(&[Key::Down]).await?;
    let after = ui
        .wait(
            "the interval changed from the keyboard",
            &format!(
                "r.querySelector('{select}').value !== {before} && r.querySelector('{select}').value"
            ),
            15,
        )
        .await?;
    ensure(
        after != before,
        ui.err(format!("Down on the interval: {before} -> {after}")),
    )
}

/// `prefers-reduced-motion: reduce` leaves no transition or animation in the element; without
/// it the element does have some (so this check is not true of any page).
async fn motion(ui: &Ui, media: Media) -> R {
    ui.open("", None).await?;
    media_applied(ui, media).await?;
    let moving = ui
        .eval(
            "[r.host, ...r.querySelectorAll('*')].filter((el) => {
               const s = getComputedStyle(el);
               const secs = (v) => Math.max(...v.split(',').map((t) => parseFloat(t) || 0));
               return secs(s.transitionDuration) > 0 || (s.animationName !== 'none' && secs(s.animationDuration) > 0);
             }).map((el) => el.className || el.tagName)",
        )
        .await?;
    let n = moving.as_array().map_or(0, Vec::len);
    if media.reduced_motion {
        ensure(
            n == 0,
            ui.err(format!("reduced motion, yet these move: {moving}")),
        )
    } else {
        ensure(
            n > 0,
            ui.err(format!(
                "without reduced motion some controls have transitions: {moving}"
            )),
        )
    }
}

/// What one browser session checks.
#[derive(Clone, Copy, Debug)]
enum Check {
    Axe,
    Keyboard,
    Motion,
}

/// One browser session with `media`: the failures of `checks`, each prefixed with its name.
async fn session(kind: BrowserKind, media: Media, checks: &[Check]) -> Vec<String> {
    let ui = match Ui::start(kind, media).await {
        Ok(ui) => ui,
        Err(e) => return vec![e],
    };
    let mut failures = Vec::new();
    for &check in checks {
        let r = match check {
            Check::Axe => axe_on_every_screen(&ui, media).await,
            Check::Keyboard => keyboard_and_focus(&ui).await,
            Check::Motion => motion(&ui, media).await,
        };
        if let Err(e) = r {
            let theme = if media.dark { "dark" } else { "light" };
            let _ = ui.shot(&format!("FAILED-{check:?}-{theme}")).await;
            failures.push(format!("{check:?} ({media:?}): {e}"));
        }
    }
    let Ui { page, .. } = ui;
    let _ = page.b.close().await;
    failures
}

/// The light theme (everything), then the dark theme with reduced motion (what looks
/// different), one browser at a time, every failure of both reported.
async fn run(kind: BrowserKind) {
    let mut failures = session(kind, LIGHT, &[Check::Axe, Check::Keyboard, Check::Motion]).await;
    // The keyboard does not depend on the theme: checked once.
    failures.extend(session(kind, DARK_REDUCED, &[Check::Axe, Check::Motion]).await);
    assert!(
        failures.is_empty(),
        "{}:\n{}",
        kind.name(),
        failures.join("\n")
    );
}

const LIGHT: Media = Media {
    dark: false,
    reduced_motion: false,
};
const DARK_REDUCED: Media = Media {
    dark: true,
    reduced_motion: true,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_light_dark_and_reduced_motion_are_accessible() {
    run(BrowserKind::Chromium).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firefox_light_dark_and_reduced_motion_are_accessible() {
    run(BrowserKind::Firefox).await;
}
