//! The inbox's controller (web/inbox/controller.js) runs without a page: node drives it with a
//! fake session (no `document`, no elements, no bridge) through sign-in, the list with its
//! headers (what is on screen first), marks and Undo (RSET, then the other marks again), and
//! QUIT's result, committed or not. The element's views only listen to it. Kiosk mode's forced
//! leave-on-server is checked here directly, with a deleting policy in effect for the sync and
//! a control run without kiosk mode that does delete (the UI test cannot reach it: every kiosk
//! sign-in starts with an empty memory store, so a policy saved earlier is gone).
//!
//! Needs `node` (Debian's nodejs package).

/// What both scripts start with: the controller, the client's wasm, and `expect`.
const PRELUDE: &str = r#"
import { pathToFileURL } from 'node:url';
import { readFileSync } from 'node:fs';
const root = process.env.POP3_ROOT;
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
"#;

const SCRIPT: &str = r#"
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

/// New mail (web/inbox/new-mail.js) with a fake clock, fake timers and a fake Notification:
/// the interval, no two checks at once, the check on returning to the tab, what counts as new
/// (by UIDL, across two sessions of the real controller), what a notification says, and that
/// kiosk mode neither checks nor notifies.
const NEW_MAIL_SCRIPT: &str = r#"
const nm = await import(pathToFileURL(`${root}/web/inbox/new-mail.js`).href);

// A fake clock and timers: `fire()` runs every interval timer once, as if its time had come.
function fakeWorld({ kiosk = false, permission = 'granted' } = {}) {
  const w = { time: 0, timers: new Map(), nextId: 1, checks: 0, release: [], counts: [], shown: [], asked: 0, allow: true, onScreen: false };
  w.timersApi = {
    setInterval: (fn, ms) => (w.timers.set(w.nextId, { fn, ms }), w.nextId++),
    clearInterval: (id) => w.timers.delete(id),
  };
  class FakeNotification {
    static permission = permission;
    static async requestPermission() {
      w.asked++;
      return FakeNotification.permission;
    }
    constructor(title, options) {
      w.shown.push({ title, ...options });
    }
  }
  w.mail = new nm.NewMail({
    // A check that ends only when the test says so: overlapping ticks would show as a second call.
    check: () => (w.checks++, new Promise((resolve) => w.release.push(resolve))),
    canCheck: () => w.allow,
    kiosk: () => kiosk,
    onCount: (n) => w.counts.push(n),
    now: () => w.time,
    timers: w.timersApi,
    notificationApi: () => FakeNotification,
    onScreen: () => w.onScreen,
  });
  w.fire = () => {
    for (const t of w.timers.values()) t.fn();
  };
  w.finish = async () => {
    for (const r of w.release.splice(0)) r();
    await new Promise((r) => setTimeout(r, 0));
  };
  return w;
}
const item = (uid, from = 'Ann <ann@example.org>', subject = `about ${uid}`) => ({ uid, key: undefined, loaded: true, from, subject, msg: 0 });

// The interval: one timer at the chosen period; off and kiosk mode: none.
{
  const w = fakeWorld();
  w.mail.schedule(300);
  expect('one timer, 5 min', [...w.timers.values()].map((t) => t.ms), [300000]);
  w.fire();
  expect('a tick checks', w.checks, 1);
  await w.finish();
  w.mail.schedule(60);
  expect('a new choice replaces the timer', [...w.timers.values()].map((t) => t.ms), [60000]);
  w.mail.schedule(0);
  expect('off: no timer', w.timers.size, 0);
  const k = fakeWorld({ kiosk: true });
  k.mail.schedule(300);
  k.fire();
  await k.mail.run('interval');
  expect('kiosk: no timer, no check', [k.timers.size, k.checks, k.mail.seconds], [0, 0, 0]);
  expect('the attribute: at least 10 s, off, or nothing', ['3', '10', '600', 'off', '0', 'x', null].map(nm.intervalFromAttr), [10, 10, 600, 0, 0, null, null]);
}

// Never two checks at once; none while the element says it may not run (marks, reading, …).
{
  const w = fakeWorld();
  w.mail.schedule(60);
  w.fire();
  w.fire();
  const during = w.mail.run('visible');
  expect('ticks during a check start nothing', [w.checks, w.mail.running], [1, true]);
  await w.finish();
  expect('a run asked during a check did not run', await during, false);
  expect('the check ended', w.mail.running, false);
  w.fire();
  expect('the next tick checks again', w.checks, 2);
  await w.finish();
  w.allow = false;
  w.fire();
  expect('not while canCheck() says no', w.checks, 2);
}

// Back to the tab: a check only when the last one is older than a minute (and checks are on).
{
  const w = fakeWorld();
  w.mail.schedule(300);
  w.time = 1000;
  w.mail.started();
  w.time = 1000 + nm.VISIBLE_AFTER_MS - 1;
  const early = w.mail.visible();
  expect('visible soon after a check: none', w.checks, 0);
  await w.finish();
  await early;
  w.time = 1000 + nm.VISIBLE_AFTER_MS;
  const v = w.mail.visible();
  await w.finish();
  expect('visible a minute later: a check', [await v, w.checks], [true, 1]);
  w.mail.schedule(0);
  w.time += 10 * nm.VISIBLE_AFTER_MS;
  const off = w.mail.visible();
  expect('checks off: visible does not check', w.checks, 1);
  await w.finish();
  await off;
}

// What is new: not listed before in this page session, by identity; the first list is the baseline.
{
  const w = fakeWorld();
  w.mail.notify = true;
  w.mail.listed([item('a'), item('b')]);
  expect('sign-in: nothing new, no notification', [w.mail.count, w.shown.length], [0, 0]);
  const c = { uid: 'c', loaded: false, from: '', subject: '', msg: 3 };
  w.mail.listed([c, item('a'), item('b'), { uid: null, key: null, loaded: true, from: 'x', subject: 'y', msg: 10 }]);
  expect('one new (no identity: never new)', [w.mail.count, w.counts.at(-1)], [1, 1]);
  expect('no notification before its headers', w.shown.length, 0);
  Object.assign(c, { loaded: true, from: 'Bob <bob@example.org>', subject: 'Lunch?' });
  w.mail.headersLoaded();
  expect('then one, sender and subject', w.shown, [{ title: 'New mail from Bob <bob@example.org>', body: 'Lunch?', tag: 'pop3-newmail' }]);
  w.mail.headersLoaded();
  expect('only once', w.shown.length, 1);
  w.mail.listed([item('d'), c, item('a'), item('b')]);
  expect('still unseen: c and d', w.mail.count, 2);
  w.mail.opened(c);
  expect('opening c: one left', w.mail.count, 1);
  w.mail.viewed();
  expect('looking at the inbox: none left', [w.mail.count, w.counts.at(-1)], [0, 0]);
  w.mail.listed([item('e'), item('f'), item('g'), item('h'), item('i'), item('a')]);
  expect('more than three: one summary', w.shown.at(-1), { title: '5 new messages', body: '', tag: 'pop3-newmail' });
  w.mail.listed([item('j'), item('k'), item('a')]);
  expect('two or three: listed', w.shown.at(-1).body, 'Ann <ann@example.org>: about j\nAnn <ann@example.org>: about k');
  w.mail.listed([item('a')]);
  expect('gone from the server: no longer new', w.mail.count, 0);
  w.mail.reset();
  w.mail.listed([item('z')]);
  expect('after sign-out the next list is a baseline again', w.mail.count, 0);
}

// Notifications: only after the user's click, only with permission; never in kiosk mode.
{
  const w = fakeWorld({ permission: 'default' });
  expect('nothing asked on creation', w.asked, 0);
  expect('denied stays off', [await w.mail.enableNotifications(), w.asked], [false, 1]);
  w.mail.listed([item('a')]);
  w.mail.listed([item('b'), item('a')]);
  expect('off: no notification', w.shown.length, 0);
  const g = fakeWorld({ permission: 'granted' });
  expect('granted turns them on', await g.mail.enableNotifications(), true);
  const k = fakeWorld({ kiosk: true, permission: 'granted' });
  expect('kiosk: not offered, not enabled, not asked', [k.mail.notificationsAvailable, await k.mail.enableNotifications(), k.asked], [false, false, 0]);
  k.mail.notify = true; // even if something turned them on
  k.mail.listed([item('a')]);
  k.mail.listed([item('b'), item('a')]);
  expect('kiosk: never a notification', k.shown.length, 0);
  expect('the control (not kiosk) does notify', (g.mail.listed([item('a')]), g.mail.listed([item('b'), item('a')]), g.shown.length), 1);
  // With the inbox on screen the list and the count show it: counted, not notified.
  g.onScreen = true;
  g.mail.listed([item('c'), item('b'), item('a')]);
  expect('on screen: counted, no notification', [g.mail.count, g.shown.length], [2, 1]);
  g.onScreen = false;
  g.mail.listed([item('d'), item('c'), item('b'), item('a')]);
  expect('elsewhere again: notified', g.shown.length, 2);
}

// The controller names every listed message by its UIDL, so two sessions tell what is new.
{
  const enc = new TextEncoder();
  const session = (uids) => ({
    async list() {
      return uids.map((_, i) => ({ msg: i + 1, size: 10 }));
    },
    async uidl() {
      return uids.map((uid, i) => ({ msg: i + 1, uid }));
    },
    async fetchHeaders({ msgs }) {
      return msgs.map((msg) => ({ msg, headers: enc.encode(`From: Ann <ann@example.org>\r\nSubject: m ${uids[msg - 1]}\r\n\r\n`) }));
    },
    async quit() {
      return { committed: true };
    },
    close() {},
  });
  const sessions = [session(['u1', 'u2']), session(['u1', 'u2', 'u3'])];
  const api = { wasm, connect: async () => sessions.shift() };
  const c = new InboxController({ attr: (n) => ({ store: 'off' })[n] ?? null, kiosk: () => false, api });
  const w = fakeWorld();
  c.on('listed', () => w.mail.listed(c.allItems));
  const values = { server: 'pop.example.org', port: 995, security: 'tls', user: 'ann', password: 'pw', allowInsecure: false };
  for (let i = 0; i < 2; i++) {
    await c.open(values, 'ws://x/pop3');
    c.resetMailbox();
    await c.loadMailbox({ priority: () => [], progress: { update() {} } });
    if (i === 0) await c.quit(0);
  }
  expect('the items carry their UIDL', c.allItems.map((it) => it.uid), ['u3', 'u2', 'u1']);
  expect('the second session: u3 is new', [w.mail.count, c.busy], [1, false]);
}

console.log(JSON.stringify({ checked, failures }, null, 1));
process.exit(failures.length ? 1 : 0);
"#;

/// Runs `script` in node with the repository root in POP3_ROOT; fails with its output.
fn run_node(script: &str) {
    let r = e2e::node_module::run(&format!("{PRELUDE}{script}"), &["pop3_web_bg.wasm"]);
    let (stdout, stderr) = (&r.stdout, &r.stderr);
    assert!(
        r.ok,
        "the controller misbehaved ({}):\n{stdout}\n{stderr}",
        r.status
    );
    assert!(stdout.contains("\"failures\": []"), "{stdout}\n{stderr}");
}

#[test]
fn the_inbox_controller_runs_without_a_page() {
    run_node(SCRIPT);
}

#[test]
fn new_mail_checks_on_time_one_at_a_time_counts_and_notifies_only_when_allowed() {
    run_node(NEW_MAIL_SCRIPT);
}
