//! The keep path runs off the page's thread (issue #15): the IndexedDB store's batch commits
//! (checksums and the one strict transaction per batch) run in web/keep-worker.js, and the
//! page runs the very same commit itself when that worker cannot start.
//!
//! In headless Chromium and Firefox, the product's store (web/store.js, served as is) commits
//! a batch of two messages, and the test checks:
//!
//! - **with a worker**: the store says the worker committed (`keepPath`), the page's own
//!   checksum function was not called for the commit (the hashing left the page), the
//!   checksums are SHA-256 of the bytes (computed here, in Rust), the messages read back whole
//!   and checked, the UIDL records say what was stored, the observers were told of both, and a
//!   message the user deleted here, committed again, is kept out of what the observers hear;
//! - **no `Worker`** at all, and **a worker that cannot start** (its script does not load):
//!   the same commit runs on the page (`keepPath` 'in-thread', the page's checksum function
//!   called once per message), with the same results;
//! - in each of those, and in kiosk mode's memory store: **headers committed after the full
//!   message** (the sync's header and body queues run side by side) leave the kept body, its
//!   record and the observers as they were; the full message committed again is heard once.
//!
//! Durability and the batch rules themselves are proven by keep_batches.rs and sync_faults.rs
//! (which now run through the worker); this test proves which path runs.

use e2e::browser::{Browser, BrowserKind, StaticServer, web_root};
use e2e::sha256_hex;
use serde_json::{Value as Json, json};

const MESSAGES: [(&str, &str); 2] = [
    (
        "k1",
        "From: a@example.org\r\nSubject: one\r\n\r\nfirst body\r\n",
    ),
    (
        "k2",
        "From: b@example.org\r\nSubject: two\r\n\r\nsecond body, a little longer\r\n",
    ),
];

/// One commit through the product's store in the mode given ('worker', 'no-worker' or
/// 'broken-worker'), and what the test checks of it; `{ error }` when something threw.
const COMMIT: &str = r#"
const [mode, messages] = arguments;
return (async () => {
  const RealWorker = globalThis.Worker;
  try {
    const storeMod = await import('/store.js');
    if (mode === 'no-worker' || mode === 'memory') globalThis.Worker = undefined;
    if (mode === 'broken-worker') {
      // A worker whose script is not there: it starts, then fails to load.
      globalThis.Worker = class extends RealWorker {
        constructor(_url, options) {
          super(new URL('/no-such-keep-worker.js', location.href), options);
        }
      };
    }
    const account = `keep-${mode}`;
    let pageHashes = 0;
    const store = await storeMod.openStore({ memory: mode === 'memory', hash: (b) => { pageHashes++; return storeMod.sha256Hex(b); } });
    const seen = [];
    store.observe({ kept: (_account, items) => seen.push(...items.map((i) => i.key)) });
    const enc = new TextEncoder();
    const input = ([key, text]) => ({
      key,
      bytes: enc.encode(text),
      full: true,
      summary: { from: 'a', subject: key, to: 'b', dateMs: 0, size: text.length },
      known: { key, uid: key },
    });
    // (The memory store of kiosk mode has no keep path: it commits on the page.)
    const before = mode === 'memory' ? null : store.keepPath;
    const sums = await store.commitMessages(account, messages.map(input));
    const path = mode === 'memory' ? 'in-thread' : store.keepPath;
    const commitHashes = pageHashes;
    const back = [];
    for (const [key] of messages) back.push(new TextDecoder().decode(await store.readMessage(account, key)));
    const known = (await store.known(account)).map((k) => [k.key, k.stored, k.sha256]).sort();
    const seenFirst = seen.splice(0);
    // Deleted here, then committed again (a resumed sync): kept, but not shown.
    await store.deleteLocal(account, messages[0][0]);
    await store.commitMessages(account, [input(messages[0])]);
    const seenAfterDelete = seen.splice(0);
    // The sync's header commit for a message lands after its body's (two queues): the kept
    // body stays, its record still says full, and nothing changed for the observers. In the
    // same batch, a full message then its headers: the same.
    const [key2, text2] = messages[1];
    const headersOnly = { ...input(messages[1]), bytes: enc.encode(text2.slice(0, text2.indexOf('\r\n\r\n') + 4)), full: false };
    await store.commitMessages(account, [headersOnly]);
    await store.commitMessages(account, [input(messages[1]), headersOnly]);
    const seenAfterHeaders = seen.splice(0);
    const backAfterHeaders = new TextDecoder().decode(await store.readMessage(account, key2));
    const storedAfterHeaders = (await store.known(account)).find((k) => k.key === key2)?.stored;
    store.close();
    return { before, path, commitHashes, sums: sums.map((s) => s.sha256), back, known, seenFirst, seenAfterDelete, seenAfterHeaders, backAfterHeaders, storedAfterHeaders };
  } catch (e) {
    return { error: `${e?.code ?? ''} ${e}` };
  } finally {
    globalThis.Worker = RealWorker;
  }
})();
"#;

/// Commits in `mode` on a fresh page and checks the result; `path` is the keep path expected.
async fn commit_in(
    b: &Browser,
    server: &StaticServer,
    mode: &str,
    path: &str,
) -> Result<(), String> {
    // Any page of the origin will do (a fresh one: no worker or store left from before).
    b.goto(&server.url(&format!("keep-worker-test-{mode}")))
        .await
        .map_err(|e| e.to_string())?;
    let messages: Vec<Json> = MESSAGES.iter().map(|(k, t)| json!([k, t])).collect();
    let r = b
        .js(COMMIT, vec![json!(mode), json!(messages)])
        .await
        .map_err(|e| e.to_string())?;
    let sums: Vec<String> = MESSAGES
        .iter()
        .map(|(_, t)| sha256_hex(t.as_bytes()))
        .collect();
    let texts: Vec<&str> = MESSAGES.iter().map(|(_, t)| *t).collect();
    let known: Vec<Json> = MESSAGES
        .iter()
        .zip(&sums)
        .map(|((k, _), s)| json!([k, "full", s]))
        .collect();
    // The page hashes only when it commits itself: once per message.
    let page_hashes = if path == "worker" { 0 } else { MESSAGES.len() };
    let expected = json!({
        "before": null,
        "path": path,
        "commitHashes": page_hashes,
        "sums": sums,
        "back": texts,
        "known": known,
        "seenFirst": ["k1", "k2"],
        "seenAfterDelete": [],
        "seenAfterHeaders": [MESSAGES[1].0],
        "backAfterHeaders": MESSAGES[1].1,
        "storedAfterHeaders": "full",
    });
    if r == expected {
        Ok(())
    } else {
        Err(format!("{mode}: expected {expected}\n got {r}"))
    }
}

async fn run(kind: BrowserKind) {
    let server = StaticServer::start(web_root())
        .await
        .expect("static server");
    let b = Browser::start(kind).await.expect("browser starts");
    let mut errors = Vec::new();
    for (mode, path) in [
        ("worker", "worker"),
        ("no-worker", "in-thread"),
        ("broken-worker", "in-thread"),
        ("memory", "in-thread"),
    ] {
        if let Err(e) = commit_in(&b, &server, mode, path).await {
            errors.push(e);
        }
    }
    let _ = b.close().await;
    assert!(errors.is_empty(), "{}: {}", kind.name(), errors.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_keeps_mail_in_the_worker_or_on_the_page_and_headers_never_replace_a_body() {
    run(BrowserKind::Chromium).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firefox_keeps_mail_in_the_worker_or_on_the_page_and_headers_never_replace_a_body() {
    run(BrowserKind::Firefox).await;
}
