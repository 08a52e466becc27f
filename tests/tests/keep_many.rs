//! A mailbox of 10,000 messages kept on the device (issue #15), on the real stack: the bridge
//! serving web/, Dovecot behind it, `<pop3-inbox>` in headless Chromium.
//!
//! - The first sync, through the real UI, is cut in the middle of the bodies (a relay between
//!   the bridge and Dovecot closes the connection once the page says a few thousand bodies
//!   arrived): the session deletes nothing, and every message the store holds then is checked.
//! - After a reload, a second session resumes. While it downloads (the relay holds the
//!   connection still, so it provably has not finished), the list is usable: scrolled to its
//!   last row, which renders with the oldest message's subject, and back, and the newest
//!   message (kept by the first session) opens in the reader with its body. It does not redo work: by Dovecot's own logout line, it RETRs
//!   exactly the messages the store did not hold yet; then every one of the 10,000 messages is
//!   in the store, byte for byte (checksums compared with the server's originals).
//!
//! Needs web/pkg (`cargo xtask build-web`, which `cargo xtask test` runs first).

use e2e::sha256_hex;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use e2e::browser::{Browser, BrowserKind, InboxPage};
use e2e::served::{ServedBridge, ui_config};
use e2e::{Dovecot, DovecotOptions, Mailbox};
use pop3_bridge::Config;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const USER: &str = "many";
const COUNT: usize = 10_000;
/// Small messages keep the test quick: the count is what this test is about.
const SIZE: usize = 1_000;
/// The cut comes once the page says this many bodies arrived (of `COUNT`).
const CUT_AFTER: u64 = 3_000;

type R<T = ()> = Result<T, String>;

fn ensure(c: bool, what: impl Into<String>) -> R {
    if c { Ok(()) } else { Err(what.into()) }
}

/// A TCP relay to Dovecot that the test controls at moments it picks from what the page
/// shows (a byte offset cannot name them here: the traffic is TLS, and how many bytes the
/// list's and the sync's header reads take is the controller's business): `cut()` closes every
/// connection open now; `pause(true)` stops forwarding in both directions (TCP backpressure
/// does the rest) until `pause(false)`, so the sync is provably still running meanwhile.
struct Relay {
    addr: SocketAddr,
    ctl: watch::Sender<Ctl>,
}

#[derive(Clone, Copy, Default)]
struct Ctl {
    /// Bumped by each cut: connections opened before it are closed.
    generation: u64,
    paused: bool,
}

/// Forwards `r` to `w` until EOF (then half-closes `w`), holding each chunk while paused.
async fn pump(
    mut r: tokio::net::tcp::OwnedReadHalf,
    mut w: tokio::net::tcp::OwnedWriteHalf,
    mut ctl: watch::Receiver<Ctl>,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = r.read(&mut buf).await?;
        if n == 0 {
            return w.shutdown().await;
        }
        ctl.wait_for(|c| !c.paused)
            .await
            .map_err(std::io::Error::other)?;
        w.write_all(&buf[..n]).await?;
    }
}

impl Relay {
    async fn start(upstream: SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
        let addr = listener.local_addr().expect("relay addr");
        let (ctl, rx) = watch::channel(Ctl::default());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let rx = rx.clone();
                tokio::spawn(async move {
                    let generation = rx.borrow().generation;
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    let mut cut = rx.clone();
                    tokio::select! {
                        _ = async { tokio::join!(pump(cr, sw, rx.clone()), pump(sr, cw, rx.clone())) } => {}
                        _ = cut.wait_for(|c| c.generation != generation) => {}
                    }
                    // Dropping every half closes both connections: the cut.
                });
            }
        });
        Relay { addr, ctl }
    }

    fn cut(&self) {
        self.ctl.send_modify(|c| c.generation += 1);
    }

    fn pause(&self, paused: bool) {
        self.ctl.send_modify(|c| c.paused = paused);
    }
}

/// Every full record of the account in the page's IndexedDB store, through the product's
/// store API (which reads chunked records whole): key, the checksum recorded at commit, and
/// the checksum of the bytes read back now.
const DUMP: &str = r#"
const account = arguments[0];
return (async () => {
  const pkg = await import('/pkg/pop3_web.js');
  await pkg.default();
  const { openStore } = await import('/store.js');
  const store = await openStore();
  const all = await store.allMessages(account);
  store.close();
  return all.filter((m) => m.full).map((m) => [m.key, m.sha256, pkg.sha256Hex(m.bytes)]);
})();
"#;

/// The sync line's "N of M" while bodies download (null otherwise).
const BODIES_DONE: &str = "(() => { const m = /on this device: ([\\d,]+) of/.exec(r.querySelector('.syncline').textContent || ''); return m ? Number(m[1].replace(/\\D/g, '')) : null; })()";
/// The sync line once the sync is over (all kept, or stopped).
const SYNC_OVER: &str = "(() => { const t = r.querySelector('.syncline').textContent || ''; return (/kept on this device/.test(t) || /stopped/.test(t)) && t; })()";

struct Stack {
    d: Dovecot,
    relay: Relay,
    _bridge: ServedBridge,
    ui: InboxPage,
    base: String,
}

impl Stack {
    async fn start() -> Stack {
        let d = Dovecot::start(DovecotOptions::new().user(
            USER,
            &format!("pw-{USER}"),
            Mailbox::new(COUNT).size(SIZE).seed(1515),
        ))
        .expect("dovecot");
        let relay = Relay::start(d.tls_addr()).await;
        let config = Config {
            allow_ports: vec![relay.addr.port()],
            ..ui_config(&d)
        };
        let bridge = ServedBridge::start(config).await;
        let b = Browser::start(BrowserKind::Chromium)
            .await
            .expect("browser starts");
        let base = format!("http://{}", bridge.addr);
        Stack {
            d,
            relay,
            _bridge: bridge,
            ui: InboxPage {
                b,
                kind: BrowserKind::Chromium,
                shots: "keep_many",
            },
            base,
        }
    }

    fn account(&self) -> String {
        format!("{USER}@localhost:{}", self.relay.addr.port())
    }

    /// Waits for Dovecot to log the end of session `before + 1` of USER; returns that line.
    async fn logout_line(&self, before: usize) -> R<String> {
        let start = Instant::now();
        loop {
            if let Some(l) = self.d.pop3_disconnects(USER).get(before) {
                return Ok(l.clone());
            }
            if start.elapsed() > Duration::from_secs(30) {
                return Err(format!("Dovecot logged no end of session {}", before + 1));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The store's full records, each checked (recorded checksum = checksum of the bytes now):
    /// key -> checksum.
    async fn stored(&self) -> R<Vec<(String, String)>> {
        let v = self
            .ui
            .b
            .js(DUMP, vec![json!(self.account())])
            .await
            .map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for m in v.as_array().ok_or_else(|| format!("store dump: {v}"))? {
            let key = m[0].as_str().unwrap_or_default().to_owned();
            ensure(
                m[1] == m[2],
                format!("stored bytes of {key} do not match their checksum: {m}"),
            )?;
            out.push((key, m[2].as_str().unwrap_or_default().to_owned()));
        }
        Ok(out)
    }
}

/// The N of the sync line's "N messages are kept on this device" (its digits, whatever the
/// locale's grouping).
fn kept_count(line: &str) -> Option<usize> {
    let before = &line[..line.find(" messages are kept on this device")?];
    let n = before
        .rsplit(|c: char| !(c.is_ascii_digit() || c == ',' || c == '.' || c.is_whitespace()))
        .next()?;
    n.chars()
        .filter(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()
}

/// `retr=N/` of a Dovecot logout line.
fn retrs(line: &str) -> Option<usize> {
    let rest = &line[line.find("retr=")? + 5..];
    rest[..rest.find('/')?].parse().ok()
}

/// The first line of message `i`'s body (0-based) as the server has it: shown only once the
/// message itself is read (the subject comes with the list's headers).
fn body_line_of(d: &Dovecot, i: usize) -> String {
    let m = String::from_utf8_lossy(&d.expected_bytes(USER, i)).replace("\r\n", "\n");
    m.split_once("\n\n")
        .and_then(|(_, body)| body.lines().map(str::trim).find(|l| l.len() >= 20))
        .unwrap_or_default()
        .to_owned()
}

/// The subject line of message `i` (0-based) as the server has it.
fn subject_of(d: &Dovecot, i: usize) -> String {
    String::from_utf8_lossy(&d.expected_bytes(USER, i))
        .lines()
        .find_map(|l| l.strip_prefix("Subject: ").map(|s| s.trim().to_owned()))
        .unwrap_or_default()
}

async fn first_sync_cut_and_resume(s: &Stack) -> R {
    let ui = &s.ui;
    let port = s.relay.addr.port();
    let list_shown = format!(
        "r.querySelector('[role=grid]').getAttribute('aria-rowcount') === '{}'",
        COUNT + 1
    );
    ui.open_form(&format!("{}/index.html", s.base)).await?;
    ui.b.js("localStorage.clear(); return true;", vec![])
        .await
        .map_err(|e| e.to_string())?;
    ui.sign_in(port, USER, false).await?;
    ui.wait(
        &format!("the list of {COUNT} messages + the header row"),
        &list_shown,
        120,
    )
    .await?;

    // The cut, in the middle of the bodies.
    ui.wait(
        "enough bodies before the cut",
        &format!("{BODIES_DONE} >= {CUT_AFTER}"),
        300,
    )
    .await?;
    s.relay.cut();
    let line = ui.wait("the sync to stop", SYNC_OVER, 120).await?;
    let logout1 = s.logout_line(0).await?;
    let kept1 = s.stored().await?;
    ensure(
        logout1.contains(&format!("del=0/{COUNT},"))
            && s.d.stored_message_count(USER).map_err(|e| e.to_string())? == COUNT,
        format!("the cut session deleted nothing: {logout1:?}"),
    )?;
    let retr1 = retrs(&logout1).ok_or_else(|| format!("no retr= in {logout1:?}"))?;
    ensure(
        !kept1.is_empty() && kept1.len() < COUNT && retr1 >= kept1.len(),
        format!(
            "the cut lands in the middle: {} kept of {COUNT}, {retr1} RETR ({line})",
            kept1.len()
        ),
    )?;
    eprintln!(
        "first session: {} of {COUNT} kept when cut ({retr1} RETR); Dovecot: {logout1}",
        kept1.len()
    );

    // Resume after a reload: the list shows at once; only what is not kept yet is downloaded.
    ui.open_form(&format!("{}/index.html", s.base)).await?;
    ui.sign_in(port, USER, false).await?;
    ui.wait("the list", &list_shown, 120).await?;
    ui.wait("the bodies to download", BODIES_DONE, 300).await?;
    // The connection holds still (the sync cannot finish) while the user scrolls to the oldest
    // message, whose row renders with its subject, and back up, and opens the newest one (kept
    // by the first session): the list and the reader work during the sync.
    let body_line = body_line_of(&s.d, COUNT - 1);
    ensure(
        !body_line.is_empty(),
        "the newest message has a body line to look for",
    )?;
    s.relay.pause(true);
    let paused_at = ui.eval(BODIES_DONE).await?;
    ensure(
        paused_at
            .as_u64()
            .is_some_and(|n| n < (COUNT - kept1.len()) as u64),
        format!("the sync is still downloading when the relay holds: {paused_at}"),
    )?;
    ui.eval("(() => { const g = r.querySelector('[role=grid]'); g.scrollTop = g.scrollHeight; return 1; })()")
        .await?;
    let last = format!("r.querySelector('.row[aria-rowindex=\"{}\"]')", COUNT + 1);
    ui.wait(
        "the oldest message's row",
        &format!(
            "{last} && {last}.textContent.includes({})",
            json!(subject_of(&s.d, 0))
        ),
        60,
    )
    .await?;
    ui.eval("(() => { const g = r.querySelector('[role=grid]'); g.scrollTop = 0; return 1; })()")
        .await?;
    ui.wait(
        "the first row",
        "r.querySelector('.row[aria-rowindex=\"2\"]')",
        60,
    )
    .await?;
    ui.eval("(r.querySelector('.row[aria-rowindex=\"2\"]').click(), 1)")
        .await?;
    ui.wait(
        "the newest message in the reader",
        &format!(
            "!r.querySelector('.reader').hidden && r.querySelector('.reader').textContent.includes({})",
            json!(subject_of(&s.d, COUNT - 1))
        ),
        60,
    )
    .await?;
    // Its body, read from this device (the connection holds still), in the reader's frame.
    let text = e2e::offline::reader_text(ui, &body_line, 60).await;
    ensure(
        text.contains(&body_line),
        format!("the newest message's body shows in the reader: {body_line:?} not in {text:?}"),
    )?;
    // (What was already in flight when the relay stopped still arrives, but not the rest.)
    let still = ui.eval(BODIES_DONE).await?;
    ensure(
        still
            .as_u64()
            .is_some_and(|n| n < (COUNT - kept1.len()) as u64),
        format!("the sync was still downloading all along: {paused_at} then {still}"),
    )?;
    ui.shot("reader-during-sync").await?;
    ui.click("button.back").await?;
    s.relay.pause(false);

    let done = ui.wait("the second sync", SYNC_OVER, 600).await?;
    ensure(
        kept_count(done.as_str().unwrap_or_default()) == Some(COUNT),
        format!("the resumed sync keeps every message: {done}"),
    )?;
    ui.click("button.logout").await?;
    let logout2 = s.logout_line(1).await?;
    let retr2 = retrs(&logout2).ok_or_else(|| format!("no retr= in {logout2:?}"))?;
    ensure(
        retr2 == COUNT - kept1.len(),
        format!(
            "the resumed sync fetches only what was not kept: {retr2} RETR, {} were missing; \
             Dovecot: {logout2}",
            COUNT - kept1.len()
        ),
    )?;
    let all = s.stored().await?;
    let have: BTreeSet<&str> = all.iter().map(|(_, h)| h.as_str()).collect();
    ensure(
        all.len() == COUNT,
        format!("{} full records, expected {COUNT}", all.len()),
    )?;
    for i in 0..COUNT {
        ensure(
            have.contains(sha256_hex(&s.d.expected_bytes(USER, i)).as_str()),
            format!("message {} is not kept byte for byte", i + 1),
        )?;
    }
    eprintln!(
        "second session: {retr2} RETR for the {} missing; all {COUNT} kept; Dovecot: {logout2}",
        COUNT - kept1.len()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_messages_are_kept_the_list_stays_usable_and_a_resumed_sync_does_not_refetch()
{
    let s = Stack::start().await;
    let result = first_sync_cut_and_resume(&s).await;
    if result.is_err() {
        let _ = s.ui.shot("failure").await;
    }
    let _ = s.ui.b.close().await;
    if let Err(e) = result {
        let log = s.d.log();
        let mut cut = log.len().saturating_sub(3000);
        while !log.is_char_boundary(cut) {
            cut += 1;
        }
        panic!("{e}\n--- dovecot log (tail) ---\n{}", &log[cut..]);
    }
}
