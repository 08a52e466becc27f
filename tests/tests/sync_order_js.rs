//! The order of a sync's commands (web/sync.js with the wasm sync engine, issue #15): bodies
//! no longer wait for a TOP of every new message. node drives the product's `syncAccount` over
//! a memory store (kiosk mode's; node has no IndexedDB) and a fake session that records what
//! is asked of the server:
//!
//! - a first sync of new mail whose bodies all fit sends LIST, UIDL, then RETR, and no TOP
//!   at all, even while the inbox's list is still reading headers (`headersReady` never
//!   settles): each record's fingerprint comes from the body's own header section and is the
//!   one a TOP would have given;
//! - a message over the size limit (its body stays on the server) is the only one read by
//!   TOP, while the others download, and is kept as headers;
//! - while a stored message's identity is being verified (its size changed), its TOP comes
//!   before any RETR, as before;
//! - while kept mail that vanished from the server may turn up under a new UIDL, a new
//!   message's TOP comes first, and unmatched it is still kept in the same sync.
//!
//! Needs `node` (Debian's nodejs package) and web/pkg.

const SCRIPT: &str = r#"
import { pathToFileURL } from 'node:url';
import { readFileSync } from 'node:fs';
const root = process.env.POP3_ROOT;
const pkg = await import(pathToFileURL(`${root}/web/pkg/pop3_web.js`).href);
pkg.initSync({ module: readFileSync(`${root}/web/pkg/pop3_web_bg.wasm`) });
// Node 20 has no `navigator`; the store's Web Locks and storage estimate then do without.
globalThis.navigator ??= {};
const { syncAccount } = await import(pathToFileURL(`${root}/web/sync.js`).href);
const { openStore } = await import(pathToFileURL(`${root}/web/store.js`).href);

const failures = [];
let checked = 0;
const expect = (what, got, want) => {
  checked++;
  if (JSON.stringify(got) !== JSON.stringify(want)) failures.push({ what, got, want });
};

const enc = new TextEncoder();
const ACCOUNT = 'ann@pop.example.org:995';
const raw = (m, pad = 0) => enc.encode(`From: Ann <ann@example.org>\r\nSubject: message ${m}\r\nMessage-ID: <m${m}@example.org>\r\nDate: Mon, 1 Jan 2024 00:00:0${m} +0000\r\n\r\nbody of message ${m}\r\n${'x'.repeat(pad)}`);
const headerPart = (b) => {
  const t = new TextDecoder().decode(b);
  return enc.encode(t.slice(0, t.indexOf('\r\n\r\n') + 4));
};

/**
 * A server of `n` messages (`pad`: extra body bytes per message; `mail`: which mail each
 * message number holds, default the same number), recording the commands.
 */
function server(n, pad = () => 0, mail = (m) => m) {
  const calls = [];
  const bytes = (m) => raw(mail(m), pad(m));
  return {
    calls,
    bytes,
    session: {
      open: true,
      capabilities: { uidl: true, top: true },
      async list() {
        calls.push('LIST');
        return Array.from({ length: n }, (_, i) => ({ msg: i + 1, size: bytes(i + 1).length }));
      },
      async uidl() {
        calls.push('UIDL');
        return Array.from({ length: n }, (_, i) => ({ msg: i + 1, uid: `uid-${mail(i + 1)}` }));
      },
      async fetchHeaders({ msgs }) {
        calls.push(`TOP ${msgs.join(',')}`);
        // An answer takes a moment, so a RETR sent meanwhile shows up before it finishes.
        await new Promise((r) => setTimeout(r, 20));
        calls.push('TOP answered');
        return msgs.map((msg) => ({ msg, headers: headerPart(bytes(msg)) }));
      },
      async download(msgs, { onMessage }) {
        calls.push(`RETR ${msgs.join(',')}`);
        for (const m of msgs) await onMessage(m, bytes(m));
      },
      async dele(m) {
        calls.push(`DELE ${m}`);
      },
    },
  };
}

/** The fingerprints a sync that read every header by TOP first records. */
function fingerprintsByTop(srv, n) {
  const run = new pkg.SyncRun({ account: ACCOUNT, policy: {}, known: [], nowMs: Date.now() });
  run.listing({ uidlAdvertised: true, uidl: Array.from({ length: n }, (_, i) => ({ msg: i + 1, uid: `uid-${i + 1}` })), uidlError: null, list: Array.from({ length: n }, (_, i) => ({ msg: i + 1, size: srv.bytes(i + 1).length })) });
  for (let m = 1; m <= n; m++) run.headers(m, headerPart(srv.bytes(m)));
  return Object.fromEntries(run.known().map((r) => [r.key, r.fingerprint]));
}
const fingerprints = async (store) => Object.fromEntries((await store.known(ACCOUNT)).map((r) => [r.key, r.fingerprint]));
const kept = async (store) => Object.fromEntries((await store.known(ACCOUNT)).map((r) => [r.key, r.stored]));

// New mail that fits: LIST, UIDL, RETR; no TOP, and no wait for the list's headers.
{
  const srv = server(3);
  const store = await openStore({ memory: true });
  const never = new Promise(() => {});
  const report = await Promise.race([
    syncAccount({ session: srv.session, store, account: ACCOUNT, SyncRun: pkg.SyncRun, headersReady: never, headersOf: () => undefined }),
    new Promise((r) => setTimeout(() => r('waited for the list'), 5000)),
  ]);
  expect('new mail: done without the list headers', [report?.stored, report?.error], [3, null]);
  expect('new mail: commands', srv.calls, ['LIST', 'UIDL', 'RETR 3,2,1']);
  expect('new mail: fingerprints from the bodies, as TOP gives them', await fingerprints(store), fingerprintsByTop(srv, 3));
  expect('new mail: every fingerprint made', Object.values(await fingerprints(store)).every((f) => typeof f === 'string' && f.startsWith('v1:')), true);
}

// Over the size limit: only that one is read by TOP, alongside the downloads, and kept as headers.
{
  const srv = server(3, (m) => (m === 2 ? 5000 : 0));
  const store = await openStore({ memory: true });
  const report = await syncAccount({ session: srv.session, store, account: ACCOUNT, SyncRun: pkg.SyncRun, policy: { sizeLimit: 1000 } });
  expect('size limit: kept', [report.stored, report.error], [2, null]);
  const c = srv.calls;
  expect('size limit: TOP only for the big one', c.filter((x) => /^TOP \d/.test(x)), ['TOP 2']);
  expect('size limit: the bodies did not wait for it', [c.slice(0, 2), c.indexOf('RETR 3,1') >= 0 && c.indexOf('RETR 3,1') < c.indexOf('TOP answered')], [['LIST', 'UIDL'], true]);
  expect('size limit: what is kept', await kept(store), { 'uid-1': 'full', 'uid-2': 'headers', 'uid-3': 'full' });
  expect('size limit: fingerprints', await fingerprints(store), fingerprintsByTop(srv, 3));
}

// A stored message whose size changed is verified by its headers before anything downloads.
{
  const store = await openStore({ memory: true });
  const first = server(2);
  await syncAccount({ session: first.session, store, account: ACCOUNT, SyncRun: pkg.SyncRun });
  const srv = server(3, (m) => (m === 1 ? 7 : 0));
  await syncAccount({ session: srv.session, store, account: ACCOUNT, SyncRun: pkg.SyncRun });
  const top = srv.calls.findIndex((c) => c.startsWith('TOP'));
  const retr = srv.calls.findIndex((c) => c.startsWith('RETR'));
  expect('verify: its TOP is answered before any RETR', [srv.calls[top], top >= 0 && top < retr && srv.calls[top + 1] === 'TOP answered'], ['TOP 3,1', true]);
}

// Kept mail vanished from the server (deleted by another client) may turn up under a new UIDL:
// a new message's headers decide first, and an unmatched one is still kept in this sync.
{
  const store = await openStore({ memory: true });
  await syncAccount({ session: server(2).session, store, account: ACCOUNT, SyncRun: pkg.SyncRun });
  // Mail 1 stays, mail 2 is gone, mail 3 arrives (message numbers 1 and 2).
  const srv = server(2, () => 0, (m) => (m === 1 ? 1 : 3));
  const report = await syncAccount({ session: srv.session, store, account: ACCOUNT, SyncRun: pkg.SyncRun });
  const top = srv.calls.indexOf('TOP 2');
  expect('vanished mail: the new message is kept in the same sync', [report.stored, report.error, (await kept(store))['uid-3']], [1, null, 'full']);
  expect('vanished mail: its TOP is answered before its RETR', top >= 0 && srv.calls[top + 1] === 'TOP answered' && srv.calls.indexOf('RETR 2') > top, true);
}

console.log(JSON.stringify({ checked, failures }, null, 1));
process.exit(failures.length ? 1 : 0);
"#;

#[test]
fn bodies_do_not_wait_for_a_top_of_every_new_message() {
    let r = e2e::node_module::run(SCRIPT, &["pop3_web_bg.wasm"]);
    let (stdout, stderr) = (&r.stdout, &r.stderr);
    assert!(
        r.ok,
        "the sync misbehaved ({}):\n{stdout}\n{stderr}",
        r.status
    );
    assert!(stdout.contains("\"failures\": []"), "{stdout}\n{stderr}");
}
