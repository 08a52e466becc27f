//! Keeping mail in batches loses nothing (issue #15): faults that land in the middle of a
//! batch, on the real stack.
//!
//! web/sync.js commits the messages it downloads in batches, one strict IndexedDB transaction
//! each, and reports a message to the sync engine (which makes it count as kept, and
//! deletable) only once the transaction of the batch holding it has completed. These tests run
//! the product's `syncAccount` in headless Chromium against the real bridge and Dovecot, over
//! the real IndexedDB store, with one thing added: the store's batch commit is wrapped so the
//! test can hold one batch of bodies after its messages were received whole and before their
//! transaction starts, and break the sync right there:
//!
//! - **reload**: the page goes away while the batch waits (as when the user reloads or the tab
//!   is closed);
//! - **cut**: the connection is closed in the middle of the download while the first batch
//!   waits and the next fills up behind it; the batches are then committed;
//! - **failed commit after the download**: every body has arrived, the batch still waits, and
//!   no DELE may go out; then its transaction fails (aborted), and even a QUIT deletes nothing.
//!
//! In each, every message that counted as kept (the sync's `onStored`, logged to
//! sessionStorage so it survives a reload) is in the store with a checksum that matches its
//! bytes, no message of the held batch counted as kept or was deletable before its commit,
//! Dovecot's own logout line says what was deleted, and a next sync without faults keeps every
//! message byte for byte and (delete once kept) empties the server.
//!
//! Then one big message (30 MB), past sync.js's `STREAM_OVER`: the connection is cut after a
//! few of its pieces (nothing counts as kept, nothing is stored or deleted, the next sync keeps
//! it), then the same sync keeps it in pieces (never handed over whole) as one Blob, read back
//! whole through the store (checked against its recorded checksum) and compared with the
//! server's bytes; a byte changed in the stored Blob is then found as `corrupt`. The peak
//! resident memory of the browser's renderer process is reported (one browser per test
//! process, so the scenarios share this one test: the memory read is that browser's alone).
//! (Firefox keeps a big message in pieces in tests/tests/ui_store.rs: a session started from a
//! WebDriver script stalls there, so it goes through the real UI.)
//!
//! Needs web/pkg (`cargo xtask build-web`).

use e2e::sha256_hex;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use e2e::browser::{Browser, BrowserKind};
use e2e::{Dovecot, DovecotOptions, Mailbox};
use pop3_bridge::{Bridge, Config};
use serde_json::{Value as Json, json};
use tokio::net::TcpListener;

const USER: &str = "batch";
const PASSWORD: &str = "pw-batch";
/// Enough messages for several batches (a batch holds at most 50).
const COUNT: usize = 120;

type R<T = ()> = Result<T, String>;

fn ensure(c: bool, what: impl Into<String>) -> R {
    if c { Ok(()) } else { Err(what.into()) }
}

/// Loads the product's modules into the page once (it is any page of the bridge's origin).
const LOAD: &str = r#"
return (async () => {
  if (!window.__kt) {
    const pkg = await import('/pkg/pop3_web.js');
    await pkg.default();
    const storeMod = await import('/store.js');
    const syncMod = await import('/sync.js');
    const mime = await import('/pkg/pop3_mime_web.js');
    await mime.default();
    window.__kt = { pkg, storeMod, syncMod, mime };
  }
  return true;
})();
"#;

/// Starts `syncAccount` with the real store, its batch commit wrapped: the `o.holdBatch`-th
/// batch of bodies (1-based; 0: none) waits, after its messages arrived and before its
/// transaction, until `__t.release('ok' | 'fail')` ('fail': its transaction is aborted).
/// `o.cutAfter` (n) closes the connection once n bodies have arrived while that batch waits;
/// `o.cutAfterPieces` (n) once n pieces of a streamed (big) message have arrived, and
/// `o.dropPiece` (n) keeps the n-th piece from the sync, as a failure inside it would. What the
/// download hands the sync is counted: pieces, the largest, the messages that came in pieces.
/// Every message the sync reports as kept is logged in sessionStorage (it survives a reload).
const START: &str = r#"
const o = arguments[0];
return (async () => {
  const { pkg, storeMod, syncMod } = window.__kt;
  sessionStorage.setItem('keep-test.kept', '[]');
  const t = (window.__t = { kept: [], held: null, received: 0, cut: false, downloaded: false, result: null, run: null, session: null, pieces: 0, maxPiece: 0, maxWhole: 0, streamed: [] });
  let release;
  const gate = new Promise((r) => (release = r));
  t.release = release;
  const real = await storeMod.openStore({ hash: async (b) => pkg.sha256Hex(b) });
  t.store = real;
  let fullBatches = 0;
  const store = new Proxy(real, {
    get(target, p) {
      if (p === 'commitMessages') {
        return async (account, msgs) => {
          if (msgs.some((m) => m.full) && ++fullBatches === o.holdBatch) {
            t.held = msgs.map((m) => m.key);
            if ((await gate) === 'fail') throw new DOMException('The transaction was aborted.', 'AbortError');
          }
          return target.commitMessages(account, msgs);
        };
      }
      const v = target[p];
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  const session = await pkg.connect({ bridgeUrl: o.bridgeUrl, host: 'localhost', port: o.port, security: 'tls', user: o.user, password: o.password, timeoutMs: 20000 });
  t.session = session;
  const download = session.download.bind(session);
  session.download = (msgs, d) =>
    download(msgs, {
      ...d,
      onChunk: (m, b) => {
        t.pieces++;
        t.maxPiece = Math.max(t.maxPiece, b.length);
        if (o.cutAfterPieces && t.pieces >= o.cutAfterPieces && !t.cut) {
          t.cut = true;
          session.close();
        }
        if (t.pieces !== o.dropPiece) d.onChunk?.(m, b);
      },
      onMessage: (m, b, info) => {
        if (b) t.maxWhole = Math.max(t.maxWhole, b.length);
        else t.streamed.push(m);
        d.onMessage?.(m, b, info);
      },
    });
  t.promise = syncMod
    .syncAccount({
      session, store, account: o.account, policy: o.policy, SyncRun: pkg.SyncRun,
      onRun: (run) => (t.run = run),
      onProgress: (p) => {
        if (p.phase !== 'bodies') return;
        t.received = p.done;
        if (p.done === p.total) t.downloaded = true;
        // The cut lands while earlier bodies wait for their commit, in the middle of a batch.
        if (o.cutAfter && p.done >= o.cutAfter && t.held && !t.cut) {
          t.cut = true;
          t.session.close();
        }
      },
      onStored: ({ key, full }) => {
        if (!full) return;
        t.kept.push(key);
        sessionStorage.setItem('keep-test.kept', JSON.stringify(t.kept));
      },
    })
    .then(
      (r) => (t.result = { ok: !r.error && !r.blocked, code: r.error?.code ?? null, stored: r.stored, deletions: r.deletions.length }),
      (e) => (t.result = { ok: false, thrown: String(e?.code || e?.name || e) }),
    );
  return true;
})();
"#;

/// Where the sync is: what counted as kept, the held batch, what the engine would delete now,
/// what the session has marked with DELE, whether every body arrived, the result.
const STATE: &str = r#"
const t = window.__t;
let deletable = null;
try { deletable = t.run ? t.run.deletions().map((d) => d.key) : []; } catch (e) { deletable = String(e?.code || e); }
let marked = null;
try { marked = t.session.markedForDeletion.length; } catch { marked = null; }
return { kept: t.kept, held: t.held, received: t.received, cut: t.cut, deletable, marked, downloaded: t.downloaded, result: t.result, pieces: t.pieces, maxPiece: t.maxPiece, maxWhole: t.maxWhole, streamed: t.streamed };
"#;

/// What the store holds for the account: each full message's key, its recorded checksum and
/// the checksum of its bytes now; and the keys the page before a reload said were kept.
const DUMP: &str = r#"
const account = arguments[0];
return (async () => {
  const { pkg, storeMod } = window.__kt;
  const store = await storeMod.openStore();
  const all = await store.allMessages(account);
  store.close();
  return {
    full: all.filter((m) => m.full).map((m) => ({ key: m.key, recorded: m.sha256, actual: pkg.sha256Hex(m.bytes) })),
    logged: JSON.parse(sessionStorage.getItem('keep-test.kept') || '[]'),
  };
})();
"#;

struct Stack {
    d: Dovecot,
    b: Browser,
    page: String,
    bridge_url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    bridge: Option<tokio::task::JoinHandle<()>>,
}

impl Stack {
    async fn start() -> Stack {
        let web = e2e::browser::web_root();
        assert!(
            web.join("pkg/pop3_web_bg.wasm").exists(),
            "web/pkg is missing: run `cargo xtask build-web`"
        );
        let d = Dovecot::start(DovecotOptions::new().user(USER, PASSWORD, Mailbox::new(1)))
            .expect("dovecot");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let config = Config {
            listen: addr,
            web_root: Some(web),
            allow_hosts: vec!["localhost".into()],
            allow_ports: vec![d.tls_port()],
            extra_ca: vec![d.ca_pem_path().to_path_buf()],
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
        let b = Browser::start(BrowserKind::Chromium)
            .await
            .expect("browser starts");
        Stack {
            d,
            b,
            page: format!("http://{addr}/healthz"),
            bridge_url: format!("ws://{addr}/pop3"),
            stop: Some(stop),
            bridge: Some(bridge),
        }
    }

    async fn finish(mut self, result: R) {
        let _ = self.b.close().await;
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(b) = self.bridge.take() {
            let _ = b.await;
        }
        if let Err(e) = result {
            let log = self.d.log();
            let mut cut = log.len().saturating_sub(3000);
            while !log.is_char_boundary(cut) {
                cut += 1;
            }
            let tail = &log[cut..];
            panic!("{e}\n--- dovecot log (tail) ---\n{tail}");
        }
    }

    fn account(&self) -> String {
        format!("{USER}@localhost:{}", self.d.tls_port())
    }

    async fn js(&self, script: &str, args: Vec<Json>) -> R<Json> {
        self.b.js(script, args).await.map_err(|e| e.to_string())
    }

    /// A fresh page with the modules loaded (the store is kept).
    async fn open(&self) -> R {
        self.b.goto(&self.page).await.map_err(|e| e.to_string())?;
        self.js(LOAD, vec![]).await?;
        Ok(())
    }

    async fn wipe(&self) -> R {
        let v = self
            .js(
                "return new Promise((resolve) => { const d = indexedDB.deleteDatabase('pop3-mail');
                   d.onsuccess = () => resolve(true); d.onerror = () => resolve(String(d.error));
                   d.onblocked = () => resolve('blocked'); });",
                vec![],
            )
            .await?;
        ensure(v == json!(true), format!("deleting the store: {v}"))
    }

    async fn start_sync(&self, hold_batch: u32, cut_after: u32) -> R {
        self.start_sync_with(hold_batch, cut_after, json!({})).await
    }

    /// `start_sync` with more of START's options (`cutAfterPieces`, `dropPiece`).
    async fn start_sync_with(&self, hold_batch: u32, cut_after: u32, more: Json) -> R {
        let mut o = json!({
            "bridgeUrl": self.bridge_url,
            "port": self.d.tls_port(),
            "user": USER,
            "password": PASSWORD,
            "account": self.account(),
            "policy": { "mode": "delete-after-download" },
            "holdBatch": hold_batch,
            "cutAfter": cut_after,
        });
        if let (Some(o), Some(more)) = (o.as_object_mut(), more.as_object()) {
            o.extend(more.clone());
        }
        self.js(START, vec![o]).await?;
        Ok(())
    }

    async fn state(&self) -> R<Json> {
        self.js(STATE, vec![]).await
    }

    /// Waits until `f(state)` holds; returns that state.
    async fn wait_state(&self, what: &str, f: impl Fn(&Json) -> bool) -> R<Json> {
        let start = Instant::now();
        loop {
            let s = self.state().await?;
            if f(&s) {
                return Ok(s);
            }
            if start.elapsed() > Duration::from_secs(60) {
                return Err(format!("waiting for {what}: {s}"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The full messages in the store, checked: key -> checksum (recorded = actual).
    async fn stored(&self) -> R<(BTreeMap<String, String>, Vec<String>)> {
        let v = self.js(DUMP, vec![json!(self.account())]).await?;
        let mut out = BTreeMap::new();
        for m in v["full"].as_array().into_iter().flatten() {
            let key = m["key"].as_str().unwrap_or_default().to_owned();
            ensure(
                m["recorded"] == m["actual"],
                format!("stored bytes of {key} do not match their checksum: {m}"),
            )?;
            out.insert(key, m["actual"].as_str().unwrap_or_default().to_owned());
        }
        let logged = strings(&v["logged"]);
        Ok((out, logged))
    }

    /// Waits for Dovecot to log the end of session `before + 1` of USER; returns that line.
    async fn disconnect(&self, before: usize) -> R<String> {
        let start = Instant::now();
        loop {
            if let Some(l) = self.d.pop3_disconnects(USER).get(before) {
                return Ok(l.clone());
            }
            if start.elapsed() > Duration::from_secs(15) {
                return Err(format!("Dovecot logged no end of session {}", before + 1));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A sync without faults (delete once kept) and QUIT: every message kept byte for byte,
    /// and, by Dovecot's own logout line, every one deleted on the server.
    async fn recover(&self, originals: &[Vec<u8>], ctx: &str) -> R {
        let logouts = self.d.pop3_disconnects(USER).len();
        self.start_sync(0, 0).await?;
        let s = self
            .wait_state("the recovery sync", |s| !s["result"].is_null())
            .await?;
        ensure(
            s["result"]["ok"] == json!(true),
            format!("{ctx}: the recovery sync failed: {s}"),
        )?;
        let q = self
            .js(
                "return window.__t.session.quit().then((r) => !!r?.committed, (e) => String(e?.code || e));",
                vec![],
            )
            .await?;
        ensure(q == json!(true), format!("{ctx}: QUIT after recovery: {q}"))?;
        let logout = self.disconnect(logouts).await?;
        let (stored, _) = self.stored().await?;
        let have: BTreeSet<&String> = stored.values().collect();
        for (i, o) in originals.iter().enumerate() {
            ensure(
                have.contains(&sha256_hex(o)),
                format!(
                    "{ctx}: after recovery message {} is not kept byte for byte",
                    i + 1
                ),
            )?;
        }
        ensure(
            logout.starts_with("Disconnected: Logged out")
                && logout.contains(&format!("del={COUNT}/{COUNT},")),
            format!("{ctx}: the recovery sync deletes every kept message: {logout:?}"),
        )?;
        ensure(
            self.d
                .stored_message_count(USER)
                .map_err(|e| e.to_string())?
                == 0,
            format!("{ctx}: the server is empty after recovery"),
        )
    }
}

fn strings(v: &Json) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

/// While a batch waits for its commit: none of its messages counted as kept or is deletable,
/// whatever is deletable counted as kept before, and no DELE went out; and at least two
/// messages arrived whole and wait, in it or behind it (so the fault lands inside a batch).
fn check_held(s: &Json, ctx: &str) -> R<BTreeSet<String>> {
    let held: BTreeSet<String> = strings(&s["held"]).into_iter().collect();
    let kept: BTreeSet<String> = strings(&s["kept"]).into_iter().collect();
    ensure(
        held.is_disjoint(&kept),
        format!("{ctx}: messages of a batch not yet committed counted as kept: {s}"),
    )?;
    let received = s["received"].as_u64().unwrap_or(0) as usize;
    ensure(
        !held.is_empty() && received >= kept.len() + 2,
        format!("{ctx}: several received messages wait for their commit: {s}"),
    )?;
    let deletable: BTreeSet<String> = strings(&s["deletable"]).into_iter().collect();
    ensure(
        s["deletable"].is_array() && deletable.is_subset(&kept),
        format!("{ctx}: the sync engine would delete messages that are not kept: {s}"),
    )?;
    ensure(
        s["marked"] == json!(0),
        format!("{ctx}: DELE went out while a batch waited for its commit: {s}"),
    )?;
    Ok(held)
}

/// Every message that counted as kept is in the store (checksum matching its bytes), and none
/// of `held` is.
fn check_kept_are_stored(
    kept: &[String],
    stored: &BTreeMap<String, String>,
    held: &BTreeSet<String>,
    ctx: &str,
) -> R {
    for k in kept {
        ensure(
            stored.contains_key(k),
            format!(
                "{ctx}: {k} counted as kept but is not in the store ({} stored)",
                stored.len()
            ),
        )?;
    }
    ensure(
        held.iter().all(|k| !stored.contains_key(k)),
        format!("{ctx}: a held message reached the store: {held:?}"),
    )
}

async fn refill(s: &mut Stack, seed: u64) -> R<Vec<Vec<u8>>> {
    let w =
        s.d.refill(USER, &Mailbox::new(COUNT).seed(seed).size(2_000))
            .map_err(|e| format!("refill: {e}"))?;
    Ok((0..COUNT).map(|i| w.expected_bytes(i)).collect())
}

/// The page goes away while a batch of received bodies waits for its commit.
async fn reload_in_a_batch(s: &mut Stack) -> R {
    let ctx = "reload in the middle of a batch";
    let originals = refill(s, 151).await?;
    s.open().await?;
    s.wipe().await?;
    let logouts = s.d.pop3_disconnects(USER).len();
    s.start_sync(2, 0).await?;
    let st = s
        .wait_state("the second batch to wait", |st| !st["held"].is_null())
        .await?;
    let held = check_held(&st, ctx)?;
    ensure(
        held.len() >= 2 && !strings(&st["kept"]).is_empty(),
        format!(
            "{ctx}: an earlier batch was committed and counted, and the held one has several messages: {st}"
        ),
    )?;
    // The user reloads: the held batch never commits.
    s.open().await?;
    let (stored, logged) = s.stored().await?;
    check_kept_are_stored(&logged, &stored, &held, ctx)?;
    ensure(
        logged.iter().all(|k| !held.contains(k)),
        format!("{ctx}: a held message counted as kept: {logged:?}"),
    )?;
    let logout = s.disconnect(logouts).await?;
    ensure(
        logout.contains(&format!("del=0/{COUNT},")),
        format!("{ctx}: the broken session deleted nothing: {logout:?}"),
    )?;
    ensure(
        s.d.stored_message_count(USER).map_err(|e| e.to_string())? == COUNT,
        format!("{ctx}: every message is still on the server"),
    )?;
    eprintln!(
        "{ctx}: {} kept before, {} held, then the page went away; Dovecot: {logout}",
        logged.len(),
        held.len()
    );
    s.recover(&originals, ctx).await
}

/// The connection is cut in the middle of the download while the first batch of bodies waits
/// for its commit and the next ones fill up behind it; then the commits go through: what
/// arrived whole before the cut is kept, and counted only now.
async fn cut_in_a_batch(s: &mut Stack) -> R {
    let ctx = "cut in the middle of a batch";
    let originals = refill(s, 152).await?;
    s.open().await?;
    s.wipe().await?;
    let logouts = s.d.pop3_disconnects(USER).len();
    s.start_sync(1, 5).await?;
    s.wait_state("the cut while the first batch waits", |st| {
        st["cut"] == json!(true)
    })
    .await?;
    let logout = s.disconnect(logouts).await?;
    let st = s.state().await?;
    check_held(&st, ctx)?;
    ensure(
        strings(&st["kept"]).is_empty() && st["result"].is_null(),
        format!("{ctx}: nothing counts as kept before the first commit: {st}"),
    )?;
    let received = st["received"].as_u64().unwrap_or(0) as usize;
    s.js("window.__t.release('ok'); return true;", vec![])
        .await?;
    let st = s
        .wait_state("the broken sync's end", |st| !st["result"].is_null())
        .await?;
    ensure(
        st["result"]["ok"] == json!(false) && st["result"]["thrown"].is_string(),
        format!("{ctx}: the cut fails the sync: {st}"),
    )?;
    let kept = strings(&st["kept"]);
    let (stored, _) = s.stored().await?;
    check_kept_are_stored(&kept, &stored, &BTreeSet::new(), ctx)?;
    ensure(
        kept.len() == received && kept.len() == stored.len() && kept.len() < COUNT,
        format!(
            "{ctx}: every body received whole before the cut is kept once committed, and only \
             those: {received} received, {} kept, {} stored, of {COUNT}",
            kept.len(),
            stored.len()
        ),
    )?;
    ensure(
        logout.contains(&format!("del=0/{COUNT},"))
            && s.d.stored_message_count(USER).map_err(|e| e.to_string())? == COUNT,
        format!("{ctx}: the cut session deleted nothing: {logout:?}"),
    )?;
    eprintln!(
        "{ctx}: {received} received before the cut while the first batch waited, {} kept once \
         committed; Dovecot: {logout}",
        kept.len()
    );
    s.recover(&originals, ctx).await
}

/// Every body has arrived, a batch still waits for its commit: no DELE goes out; then its
/// transaction is aborted, and even the QUIT that follows deletes nothing.
async fn failed_commit_after_the_download(s: &mut Stack) -> R {
    let ctx = "a batch's commit fails after the download";
    let originals = refill(s, 153).await?;
    s.open().await?;
    s.wipe().await?;
    let logouts = s.d.pop3_disconnects(USER).len();
    s.start_sync(2, 0).await?;
    s.wait_state("the download to finish with a batch waiting", |st| {
        !st["held"].is_null() && st["downloaded"] == json!(true)
    })
    .await?;
    // Time for anything that would (wrongly) follow the download at once: DELE.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let st = s.state().await?;
    let held = check_held(&st, ctx)?;
    ensure(
        st["result"].is_null(),
        format!("{ctx}: the sync ended before its batch was committed: {st}"),
    )?;
    s.js("window.__t.release('fail'); return true;", vec![])
        .await?;
    let st = s
        .wait_state("the sync's end", |st| !st["result"].is_null())
        .await?;
    ensure(
        st["result"]["ok"] == json!(false) && st["result"]["deletions"] == json!(0),
        format!("{ctx}: a failed commit stops the sync with nothing to delete: {st}"),
    )?;
    ensure(
        st["marked"] == json!(0),
        format!("{ctx}: DELE went out after a failed commit: {st}"),
    )?;
    let kept = strings(&st["kept"]);
    ensure(
        held.iter().all(|k| !kept.contains(k)),
        format!("{ctx}: a message of the failed batch counted as kept: {st}"),
    )?;
    let (stored, _) = s.stored().await?;
    check_kept_are_stored(&kept, &stored, &held, ctx)?;
    // The server's own word: a QUIT now deletes nothing.
    let q = s
        .js(
            "return window.__t.session.quit().then((r) => !!r?.committed, (e) => String(e?.code || e));",
            vec![],
        )
        .await?;
    let logout = s.disconnect(logouts).await?;
    ensure(
        q == json!(true)
            && logout.starts_with("Disconnected: Logged out")
            && logout.contains(&format!("del=0/{COUNT},")),
        format!("{ctx}: QUIT ({q}) after the failed commit must delete nothing: {logout:?}"),
    )?;
    eprintln!(
        "{ctx}: {} kept, {} in the failed batch, no DELE; Dovecot: {logout}",
        kept.len(),
        held.len()
    );
    s.recover(&originals, ctx).await
}

/// The size of the big message: large enough that holding it whole more than a few times
/// shows in the peak, small enough for every `cargo xtask test` (the bench keeps 60 MB).
const BIG: usize = 30_000_000;

/// One stored message read back through the product's store API (`readMessage`, which checks
/// the bytes against the checksum recorded at commit): its length and checksum, computed in
/// the page (the bytes themselves stay there).
const READ_BACK: &str = r#"
const [account, key] = arguments;
return (async () => {
  const { pkg, storeMod } = window.__kt;
  const store = await storeMod.openStore({ hash: async (b) => pkg.sha256Hex(b) });
  try {
    const bytes = await store.readMessage(account, key);
    // The page's wasm memory (it never shrinks: its size is the peak of the wasm side).
    const wasmMemory = (await pkg.default()).memory.buffer.byteLength;
    return { len: bytes.length, sha256: pkg.sha256Hex(bytes), wasmMemory };
  } catch (e) {
    return { error: String(e?.code || e) };
  } finally {
    store.close();
  }
})();
"#;

/// One stored message read back in pieces (`readInPieces`, checked with the reading module's
/// `Sha256Stream` as it goes): how many pieces, the largest, and the checksum of them joined.
const READ_IN_PIECES: &str = r#"
const [account, key] = arguments;
return (async () => {
  const { storeMod, mime } = window.__kt;
  const store = await storeMod.openStore();
  const whole = new mime.Sha256Stream();
  let pieces = 0, largest = 0;
  try {
    const blob = await store.readInPieces(account, key, {
      onPiece: (p) => { pieces++; largest = Math.max(largest, p.length); whole.update(p); },
      hasher: () => new mime.Sha256Stream(),
    });
    return { pieces, largest, size: blob.size, sha256: whole.finish() };
  } catch (e) {
    return { error: String(e?.code || e) };
  } finally {
    store.close();
  }
})();
"#;

/// How the store holds one message (`messages` record): a Blob or a Uint8Array, and its size.
const RECORD_KIND: &str = r#"
const [account, key] = arguments;
return new Promise((resolve) => {
  const r = indexedDB.open('pop3-mail');
  r.onerror = () => resolve({ error: String(r.error) });
  r.onsuccess = () => {
    const db = r.result;
    const g = db.transaction('messages').objectStore('messages').get([account, key]);
    g.onsuccess = () => {
      const m = g.result;
      db.close();
      resolve(m ? { blob: m.bytes instanceof Blob, size: m.size } : { missing: true });
    };
    g.onerror = () => { db.close(); resolve({ error: String(g.error) }); };
  };
});
"#;

/// A big message (past sync.js's `STREAM_OVER`, 8 MiB) downloads in pieces; the connection is
/// cut after a few of them: nothing counts as kept, nothing is stored or deleted, and the next
/// sync keeps it whole.
async fn cut_in_a_big_message(s: &mut Stack, original: &str) -> R {
    let ctx = "a cut in the middle of a big message";
    s.open().await?;
    s.wipe().await?;
    let logouts = s.d.pop3_disconnects(USER).len();
    s.start_sync_with(0, 0, json!({ "cutAfterPieces": 4 }))
        .await?;
    let st = s
        .wait_state("the broken sync's end", |st| !st["result"].is_null())
        .await?;
    let logout = s.disconnect(logouts).await?;
    ensure(
        st["cut"] == json!(true)
            && st["result"]["ok"] == json!(false)
            && strings(&st["kept"]).is_empty()
            && st["streamed"] == json!([]),
        format!("{ctx}: the cut fails the sync, nothing counts as kept: {st}"),
    )?;
    let (stored, _) = s.stored().await?;
    ensure(
        stored.is_empty(),
        format!("{ctx}: nothing is stored: {stored:?}"),
    )?;
    ensure(
        logout.contains("del=0/1,")
            && s.d.stored_message_count(USER).map_err(|e| e.to_string())? == 1,
        format!("{ctx}: the cut session deleted nothing: {logout:?}"),
    )?;
    s.open().await?;
    s.start_sync(0, 0).await?;
    let st = s
        .wait_state("the sync after the cut", |st| !st["result"].is_null())
        .await?;
    let (stored, _) = s.stored().await?;
    ensure(
        st["result"]["ok"] == json!(true) && stored.values().collect::<Vec<_>>() == vec![original],
        format!("{ctx}: the next sync keeps it byte for byte: {st}"),
    )?;
    eprintln!("{ctx}: cut after {} pieces; Dovecot: {logout}", 4);
    Ok(())
}

/// A piece of a big message never reaches the sync (as if taking it failed): the message is
/// not committed with a checksum that vouches for bytes the Blob does not hold. The sync
/// fails, nothing is stored, kept or marked for deletion.
async fn a_lost_piece_keeps_nothing(s: &mut Stack) -> R {
    let ctx = "a piece of a big message lost";
    s.open().await?;
    s.wipe().await?;
    s.start_sync_with(0, 0, json!({ "dropPiece": 3 })).await?;
    let st = s
        .wait_state("the sync's end", |st| !st["result"].is_null())
        .await?;
    let (stored, _) = s.stored().await?;
    ensure(
        st["result"]["ok"] == json!(false)
            && strings(&st["kept"]).is_empty()
            && st["marked"] == json!(0)
            && stored.is_empty(),
        format!("{ctx}: the sync fails, nothing is kept, stored or marked: {st} {stored:?}"),
    )?;
    s.open().await
}

/// One big message: kept by the sync in pieces (the page never held it whole: every piece
/// and every whole message the download handed over is small) as a Blob, its checksum
/// recorded, read back whole through the store (checked against that checksum) and equal to
/// the server's bytes; a damaged byte in the stored Blob is found. The renderer's peak memory
/// is reported.
async fn big_message_kept_and_read_back(s: &mut Stack) -> R {
    let ctx = "a big message";
    let w =
        s.d.refill(USER, &Mailbox::new(1).seed(154).size(BIG))
            .map_err(|e| format!("refill: {e}"))?;
    let original = sha256_hex(&w.expected_bytes(0));
    let len = w.expected_bytes(0).len();
    cut_in_a_big_message(s, &original).await?;
    a_lost_piece_keeps_nothing(s).await?;
    s.open().await?;
    s.wipe().await?;
    let before = e2e::bench::renderer_memory();
    s.start_sync(0, 0).await?;
    let st = s
        .wait_state("the big message's sync", |st| !st["result"].is_null())
        .await?;
    ensure(
        st["result"]["ok"] == json!(true) && strings(&st["kept"]).len() == 1,
        format!("{ctx}: the sync keeps it: {st}"),
    )?;
    // Pieces of at most the threshold plus one read, then about 1 MiB; never the whole.
    let limit = 8 * 1024 * 1024 + 2 * 1024 * 1024;
    let max_piece = st["maxPiece"].as_u64().unwrap_or(u64::MAX);
    ensure(
        st["streamed"] == json!([1])
            && st["maxWhole"] == json!(0)
            && st["pieces"].as_u64().unwrap_or(0) >= (BIG / (1 << 20) / 2) as u64
            && max_piece <= limit,
        format!("{ctx}: it came in pieces of at most {limit} bytes, never whole: {st}"),
    )?;
    let key = strings(&st["kept"]).remove(0);
    let rec = s
        .js(RECORD_KIND, vec![json!(s.account()), json!(key)])
        .await?;
    ensure(
        rec["blob"] == json!(true) && rec["size"] == json!(len),
        format!("{ctx}: the store holds it as one Blob of its size: {rec}"),
    )?;
    let after_keep = e2e::bench::renderer_memory();
    let v = s
        .js(READ_BACK, vec![json!(s.account()), json!(key)])
        .await?;
    ensure(
        v["len"] == json!(len) && v["sha256"] == json!(original),
        format!("{ctx}: read back whole and equal to the server's {len} bytes: {v}"),
    )?;
    let (stored, _) = s.stored().await?;
    ensure(
        stored.get(&key) == Some(&original),
        format!("{ctx}: its recorded checksum is the server's bytes'"),
    )?;
    let after_read = e2e::bench::renderer_memory();
    let p = s
        .js(READ_IN_PIECES, vec![json!(s.account()), json!(key)])
        .await?;
    ensure(
        p["sha256"] == json!(original)
            && p["size"] == json!(len)
            && p["largest"] == json!(1 << 20)
            && p["pieces"] == json!(len.div_ceil(1 << 20)),
        format!("{ctx}: read back in pieces of 1 MiB, checked, the server's bytes: {p}"),
    )?;
    let damaged = s
        .js(e2e::offline::DAMAGE_KEPT, vec![json!(s.account())])
        .await?;
    let bad = s
        .js(READ_BACK, vec![json!(s.account()), json!(key)])
        .await?;
    let bad_pieces = s
        .js(READ_IN_PIECES, vec![json!(s.account()), json!(key)])
        .await?;
    ensure(
        damaged == json!(1)
            && bad["error"] == json!("corrupt")
            && bad_pieces["error"] == json!("corrupt"),
        format!(
            "{ctx}: a damaged byte in the stored Blob is found when it is read, whole or in pieces: {damaged} {bad} {bad_pieces}"
        ),
    )?;
    let wasm_mib = v["wasmMemory"].as_f64().unwrap_or(f64::NAN) / 1048576.0;
    let mib = |v: &[(u32, u64, u64)], peak: bool| -> String {
        v.iter()
            .map(|&(pid, hwm, rss)| {
                format!(
                    "{pid}: {:.0} MiB",
                    (if peak { hwm } else { rss }) as f64 / 1048576.0
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    eprintln!(
        "{ctx} of {len} B kept, read back and checked; renderer resident memory before the \
         sync [{}], peak (VmHWM) after the keep [{}], after the read-back [{}], now [{}]; the page's wasm memory {wasm_mib:.0} MiB",
        mib(&before, false),
        mib(&after_keep, true),
        mib(&after_read, true),
        mib(&after_read, false)
    );
    // Leave the session without QUIT (nothing deleted) and the page, for the next scenario.
    s.open().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_in_the_middle_of_a_batch_lose_nothing_and_a_big_message_is_kept_whole() {
    let mut s = Stack::start().await;
    // Each scenario runs (from a fresh page and store) even when one before it failed, so a
    // broken guard shows in every scenario that catches it.
    let mut errors = Vec::new();
    for r in [
        reload_in_a_batch(&mut s).await,
        cut_in_a_batch(&mut s).await,
        failed_commit_after_the_download(&mut s).await,
        big_message_kept_and_read_back(&mut s).await,
    ] {
        if let Err(e) = r {
            errors.push(e);
        }
    }
    let result = if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("\n\n"))
    };
    s.finish(result).await;
}
