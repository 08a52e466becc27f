//! The inbox's controller (web/inbox/controller.js) runs without a page: node drives it with a
//! fake session (no `document`, no elements, no bridge) through sign-in, the list with its
//! headers (what is on screen first), marks and Undo (RSET, then the other marks again), and
//! QUIT's result, committed or not. The element's views only listen to it. Kiosk mode's forced
//! leave-on-server is checked here directly, with a deleting policy in effect for the sync and
//! a control run without kiosk mode that does delete (the UI test cannot reach it: every kiosk
//! sign-in starts with an empty memory store, so a policy saved earlier is gone).
//!
//! Needs `node` (Debian's nodejs package).

use std::path::PathBuf;
use std::process::Command;

const SCRIPT: &str = r#"
import { pathToFileURL } from 'node:url';
const root = process.env.POP3_ROOT;
import { readFileSync } from 'node:fs';
const { InboxController } = await import(pathToFileURL(`${root}/web/inbox/controller.js`).href);
// The list's header display is the client's wasm (pop3-headers): node cannot fetch it, so the
// fake API's wasm() initialises the same module instance the controller imports.
const pkg = await import(pathToFileURL(`${root}/web/pkg/pop3_web.js`).href);
const wasm = async () => {
  pkg.initSync({ module: readFileSync(`${root}/web/pkg/pop3_web_bg.wasm`) });
  return pkg;
};

const failures = [];
let checked = 0;
const expect = (what, got, want) => {
  checked++;
  if (JSON.stringify(got) !== JSON.stringify(want)) failures.push({ what, got, want });
};
expect('no DOM here', [typeof document, typeof window], ['undefined', 'undefined']);

const enc = new TextEncoder();
function fakeSession(n, { quitFails = false } = {}) {
  const calls = [];
  return {
    calls,
    async list() {
      calls.push('LIST');
      return Array.from({ length: n }, (_, i) => ({ msg: i + 1, size: 100 + i }));
    },
    async fetchHeaders({ msgs, onProgress }) {
      calls.push(`TOP ${msgs.join(',')}`);
      onProgress?.({ done: msgs.length });
      return msgs.map((msg) => ({ msg, headers: enc.encode(`From: Ann <ann@example.org>\r\nSubject: message ${msg}\r\n\r\n`) }));
    },
    async uidl() {
      return [];
    },
    async dele(m) {
      calls.push(`DELE ${m}`);
    },
    async rset() {
      calls.push('RSET');
    },
    async quit() {
      calls.push('QUIT');
      if (quitFails) throw Object.assign(new Error('-ERR Unable to expunge'), { code: 'server_error' });
      return { committed: true };
    },
    close() {
      calls.push('close');
    },
  };
}

function controller(session, attrs = { store: 'off' }, kiosk = false, w = wasm) {
  const api = {
    wasm: w,
    async connect(options) {
      api.options = options;
      return session;
    },
  };
  const c = new InboxController({ attr: (n) => attrs[n] ?? null, kiosk: () => kiosk, api });
  const events = [];
  for (const t of ['items', 'listed', 'marks', 'syncnote', 'store']) c.on(t, () => events.push(t));
  return { c, api, events };
}
const values = { server: 'pop.example.org', port: 995, security: 'tls', user: 'ann', password: 'pw', allowInsecure: false };

// Where mail is kept follows the attributes and kiosk mode.
expect('store=off', await controller(null, { store: 'off' }).c.storeMode(), 'off');
expect('kiosk: memory only', await controller(null, {}, true).c.storeMode(), 'memory');
expect('store=memory', await controller(null, { store: 'memory' }).c.storeMode(), 'memory');
expect('default: IndexedDB', await controller(null, {}).c.storeMode(), 'indexeddb');
expect('no api attribute: no mock', await controller(null, {}).c.usesMock(), false);

// Sign-in, the list newest first, headers in batches.
{
  const s = fakeSession(5);
  const { c, api, events } = controller(s);
  await c.open(values, 'ws://127.0.0.1/pop3');
  expect('connect options', api.options, { bridgeUrl: 'ws://127.0.0.1/pop3', host: 'pop.example.org', port: 995, security: 'tls', user: 'ann', password: 'pw', allowInsecure: false });
  expect('session, account, no store', [c.session === s, c.creds === values, c.account, c.store], [true, true, 'ann@pop.example.org:995', null]);
  const progress = [];
  await c.loadMailbox({ priority: () => [], progress: { update: (done, total) => progress.push([done, total]) } });
  expect('newest first, headers in', c.items.map((it) => [it.msg, it.subject, it.loaded]), [5, 4, 3, 2, 1].map((m) => [m, `message ${m}`, true]));
  expect('one list, then the rows', [events.filter((e) => e === 'listed').length, events.includes('items')], [1, true]);
  expect('progress', progress, [[0, 5], [5, 5]]);

  // Marks, Undo of one (RSET, then the others again), Undo all.
  await c.mark(c.itemOf(4));
  await c.mark(c.itemOf(2));
  expect('two marked', c.markedCount(), 2);
  await c.undo(4);
  expect('undo one', [c.items.filter((it) => it.marked).map((it) => it.msg), s.calls.slice(-2)], [[2], ['RSET', 'DELE 2']]);
  await c.undoAll();
  expect('undo all', c.markedCount(), 0);

  // QUIT commits what is marked.
  await c.mark(c.itemOf(1));
  const r = await c.quit(c.markedCount());
  expect('quit committed', [r, c.session, s.calls.slice(-2)], [{ committed: true, deleted: 1, error: null, marked: 1 }, null, ['QUIT', 'close']]);
}

// What is on screen is fetched first.
{
  const s = fakeSession(4);
  const { c } = controller(s);
  await c.open(values, 'ws://x/pop3');
  let first = true;
  await c.loadMailbox({ priority: () => (first ? ((first = false), [1]) : []), progress: { update() {} } });
  expect('visible rows first', s.calls.filter((x) => x.startsWith('TOP')), ['TOP 1', 'TOP 4,3,2']);
}

// A failed QUIT deletes nothing, and says so.
{
  const s = fakeSession(2, { quitFails: true });
  const { c } = controller(s);
  await c.open(values, 'ws://x/pop3');
  await c.loadMailbox({ priority: () => [], progress: { update() {} } });
  await c.mark(c.itemOf(2));
  const r = await c.quit(c.markedCount());
  expect('quit failed', [r.committed, r.deleted, r.marked, r.error?.code, c.session], [false, 0, 1, 'server_error', null]);
}

// Without a store (node has no IndexedDB) nothing is kept or shown offline.
{
  const { c } = controller(null, {});
  expect('nothing kept', [await c.loadKept(values), await c.keptFor(values)], [false, 0]);
  const offline = { msg: -1, kept: 'headers' };
  const err = await c.messageBytes(offline).then(() => null, (e) => e.code);
  expect('offline without a copy', err, 'offline');
}

// Kiosk mode forces leave-on-server: a deleting policy in effect for the sync (saved in this
// session's store, so settings() returns it) deletes nothing in kiosk mode, while the same
// setup without kiosk mode deletes every message it kept (the control: the policy does delete).
// Node 20 has no `navigator`; the store's Web Locks and storage estimate then do without.
globalThis.navigator ??= {};
function mailSession(n) {
  const calls = [];
  const raw = (m) => enc.encode(`From: Ann <ann@example.org>\r\nSubject: message ${m}\r\nMessage-ID: <m${m}@example.org>\r\n\r\nbody of message ${m}\r\n`);
  const headersOf = (m) => {
    const b = raw(m);
    const text = new TextDecoder().decode(b);
    return enc.encode(text.slice(0, text.indexOf('\r\n\r\n') + 4));
  };
  return {
    calls,
    open: true,
    capabilities: { uidl: true, top: true },
    async list() {
      calls.push('LIST');
      return Array.from({ length: n }, (_, i) => ({ msg: i + 1, size: raw(i + 1).length }));
    },
    async uidl() {
      calls.push('UIDL');
      return Array.from({ length: n }, (_, i) => ({ msg: i + 1, uid: `uid-${i + 1}` }));
    },
    async fetchHeaders({ msgs, onProgress }) {
      calls.push(`TOP ${msgs.join(',')}`);
      onProgress?.({ done: msgs.length });
      return msgs.map((msg) => ({ msg, headers: headersOf(msg) }));
    },
    async download(msgs, { onMessage }) {
      calls.push(`RETR ${msgs.join(',')}`);
      for (const m of msgs) await onMessage(m, raw(m));
    },
    async dele(m) {
      calls.push(`DELE ${m}`);
    },
    async rset() {
      calls.push('RSET');
    },
    async quit() {
      calls.push('QUIT');
      return { committed: true };
    },
    close() {
      calls.push('close');
    },
  };
}
async function syncUnderDeletingPolicy(kiosk) {
  const s = mailSession(3);
  // The policy each sync run really gets, from the engine's constructor.
  const runPolicies = [];
  const SyncRun = new Proxy(pkg.SyncRun, {
    construct(target, args) {
      runPolicies.push(args[0]?.policy?.mode);
      return new target(...args);
    },
  });
  const w = async () => ({ ...(await wasm()), SyncRun });
  const { c } = controller(s, { store: 'memory' }, kiosk, w);
  const notes = [];
  let synced;
  const done = new Promise((resolve) => (synced = resolve));
  c.on('syncnote', (t) => {
    notes.push(t);
    if (/kept|stopped/.test(t) && !/^Keeping your mail/.test(t)) synced();
  });
  await c.open({ ...values }, 'ws://x/pop3');
  await c.saveSettings({ policy: { mode: 'delete-after-download' }, riskAccepted: true });
  const policy = (await c.settings()).policy.mode;
  await c.loadMailbox({ priority: () => [], progress: { update() {} } });
  const timeout = new Promise((resolve) => setTimeout(() => resolve('timeout'), 10000));
  const waited = await Promise.race([done.then(() => 'synced'), timeout]);
  const byPolicy = c.items.filter((it) => it.marked && it.byPolicy).map((it) => it.msg).sort();
  const r = await c.quit(c.markedCount());
  return {
    waited,
    policy,
    runPolicies,
    kept: c.items.filter((it) => it.kept === 'full').length,
    dele: s.calls.filter((x) => x.startsWith('DELE')).sort(),
    byPolicy,
    deleted: r.deleted,
    willDelete: /will be deleted from the server/.test(notes.at(-1) ?? ''),
    notes,
  };
}
{
  const k = await syncUnderDeletingPolicy(true);
  expect('kiosk: the sync ran under the saved deleting policy', [k.waited, k.policy, k.kept], ['synced', 'delete-after-download', 3]);
  expect('kiosk: the run is told to leave mail on the server', k.runPolicies, ['leave']);
  expect('kiosk: leave on server, no DELE, nothing to delete at QUIT', [k.dele, k.byPolicy, k.willDelete, k.deleted], [[], [], false, 0]);
  const d = await syncUnderDeletingPolicy(false);
  expect('control without kiosk: the same sync deletes', [d.waited, d.policy, d.kept], ['synced', 'delete-after-download', 3]);
  expect('control without kiosk: the run gets the saved policy', d.runPolicies, ['delete-after-download']);
  expect('control without kiosk: DELE of every kept message', [d.dele, d.byPolicy, d.willDelete, d.deleted], [['DELE 1', 'DELE 2', 'DELE 3'], [1, 2, 3], true, 3]);
  if (failures.length) console.log(JSON.stringify({ kioskNotes: k.notes, controlNotes: d.notes }, null, 1));
}

console.log(JSON.stringify({ checked, failures }, null, 1));
process.exit(failures.length ? 1 : 0);
"#;

#[test]
fn the_inbox_controller_runs_without_a_page() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repository root")
        .to_path_buf();
    let out = Command::new("node")
        .args(["--input-type=module", "-e", SCRIPT])
        .env("POP3_ROOT", &root)
        .output()
        .expect("node runs (Debian's nodejs package)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the controller misbehaved:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("\"failures\": []"), "{stdout}\n{stderr}");
}
