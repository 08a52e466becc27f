//! The inbox's controller (web/inbox/controller.js) runs without a page: node drives it with a
//! fake session (no `document`, no elements, no bridge) through sign-in, the list with its
//! headers (what is on screen first), marks and Undo (RSET, then the other marks again), and
//! QUIT's result, committed or not. The element's views only listen to it.
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

function controller(session, attrs = { store: 'off' }, kiosk = false) {
  const api = {
    wasm,
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
