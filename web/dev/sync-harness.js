// @ts-check
// Test harness for tests/tests/sync_faults.rs: runs the real sync (wasm session + SyncRun +
// IndexedDB store) against the real bridge and Dovecot, and reports what the store holds so the
// test can check that no mail was lost. Not used by the app. Nothing here stands in for the
// product: a full disk is a real storage quota (set by the test over the DevTools protocol),
// and two tabs are two browser windows.

import init, { connect, SyncRun, sha256Hex } from '../pkg/pop3_web.js';
import { openStore, deleteDatabase } from '../store.js';
import { syncAccount, finishSync } from '../sync.js';

/**
 * @import { ErrorLike, SyncPolicy, SyncRun as Run } from '../types.js'
 */

/**
 * What the test asks for: the account, and how the sync goes.
 * @typedef {object} HarnessOptions
 * @property {string} bridgeUrl
 * @property {string} host
 * @property {number} port
 * @property {string} user
 * @property {string} password
 * @property {number | undefined} [timeoutMs]
 * @property {SyncPolicy | undefined} [policy]
 * @property {boolean | undefined} [quitAfterError] end a failed sync with QUIT as well (the UI does not):
 *   then the server itself says whether anything was deleted
 * @property {number | undefined} [reloadAt] reload the page in the middle of this sync: once logged
 *   in (0), once the n-th message is kept (or its headers, when its body stays on the server), then (the next two) before QUIT
 *   and after its answer; at the end if that point never comes
 */

/**
 * Where this page's sync is: `connecting` (bridge, TLS, login), `session` (logged in),
 * `syncing` (holding the account's sync lock), `quit` (QUIT is answered), `closed` (the
 * session is over, the store is being brought up to date), `idle`. A reload records it on the
 * way out (`unloadPhase`).
 * @type {'idle' | 'connecting' | 'session' | 'syncing' | 'quit' | 'closed'}
 */
let phase = 'idle';
/** @type {unknown} the result of the sync `start` began, once it settled */
let lastResult = null;
/** When (performance.now()) the sync `start` began. */
let startedAt = 0;
/** This page has asked for its reload (`reloadAt`). */
let reloading = false;
const UNLOAD_KEY = 'sync-harness.unloadPhase';
addEventListener('pagehide', () => sessionStorage.setItem(UNLOAD_KEY, JSON.stringify({ phase, atMs: Math.round(performance.now() - startedAt) })));

await init();
let store = await openStore();

const accountOf = (/** @type {HarnessOptions} */ o) => `${o.user}@${o.host}:${o.port}`;
/**
 * @param {string} phase
 * @param {any} e what was thrown
 */
const errInfo = (phase, e) => ({ ok: false, phase, code: e?.code || e?.name || 'error', message: String(e?.message || e) });

/**
 * One sync as the UI runs it, with when (ms after the call) the session was logged in and
 * when it ended.
 * @param {HarnessOptions} o
 */
async function sync(o) {
  const t0 = performance.now();
  /** @type {{ connectedMs: number | null, closedMs: number | null }} */
  const times = { connectedMs: null, closedMs: null };
  const mark = () => Math.round(performance.now() - t0);
  phase = 'connecting';
  reloading = false;
  // The longest this page's thread went without running a 50 ms heartbeat during the sync,
  // and when (ms after the call). A client whose thread did not run cannot notice silence:
  // sync_faults.rs tells a stall the page slept through from a timeout that failed to fire.
  let lastBeat = t0;
  const gap = { fromMs: 0, toMs: 0 };
  const beat = () => {
    const now = performance.now();
    if (now - lastBeat > gap.toMs - gap.fromMs) {
      gap.fromMs = lastBeat - t0;
      gap.toMs = now - t0;
    }
    lastBeat = now;
  };
  const heartbeat = setInterval(beat, 50);
  try {
    const r = await syncOnce(o, times, mark);
    beat();
    return { ...r, ...times, maxGap: { fromMs: Math.round(gap.fromMs), toMs: Math.round(gap.toMs) } };
  } finally {
    clearInterval(heartbeat);
    phase = 'idle';
    // A reload that was asked for happens, even if its point never came (the test sees `idle`).
    if (o.reloadAt != null && !reloading) location.reload();
  }
}

/**
 * @param {HarnessOptions} o
 * @param {{ connectedMs: number | null, closedMs: number | null }} times
 * @param {() => number} mark
 */
async function syncOnce(o, times, mark) {
  const account = accountOf(o);
  let session;
  try {
    session = await connect({ bridgeUrl: o.bridgeUrl, host: o.host, port: o.port, security: 'tls', user: o.user, password: o.password, timeoutMs: o.timeoutMs ?? 20000 });
  } catch (e) {
    return errInfo('connect', e);
  }
  times.connectedMs = mark();
  phase = 'session';
  // A user pressing reload at a chosen point of the sync. The page goes on until its successor
  // arrives, as with a real reload, but this function takes no further step of its own (no
  // QUIT, no bookkeeping), so the page goes away at that point, not some milliseconds later.
  let kept = 0;
  const ask = (/** @type {number} */ n) => {
    if (o.reloadAt !== n) return;
    reloading = true;
    location.reload();
  };
  const hold = async (/** @type {number} */ n) => {
    ask(n);
    if (reloading) await new Promise(() => {});
  };
  await hold(0);
  const close = () => {
    session.close();
    times.closedMs = mark();
    phase = 'closed';
  };
  // What the UI does after a failed sync: end without QUIT, so nothing marked could be
  // deleted. With `quitAfterError` the test QUITs anyway: whatever was marked is deleted now.
  const quitAnyway = async () => {
    /** @type {number | null} */
    let marked = null;
    try {
      marked = session.markedForDeletion.length;
    } catch {
      // A session that is gone may not say: null.
    }
    let committed = false;
    /** @type {string | null} */
    let quit = null;
    if (o.quitAfterError) {
      try {
        committed = !!(await session.quit())?.committed;
        quit = 'ok';
      } catch (e) {
        quit = errInfo('quit', e).code;
      }
    }
    close();
    return { marked, committed, quit };
  };
  let report;
  try {
    report = await syncAccount({ session, store, account, policy: o.policy, SyncRun, onRun: () => (phase = 'syncing'), onStored: () => ask(++kept) });
  } catch (e) {
    return { ...errInfo('sync', e), ...(await quitAnyway()) };
  }
  if (report.error || report.blocked) {
    const { marked, committed, quit } = await quitAnyway();
    const finish = await finishSync(store, account, /** @type {Run} */ (report.run), committed).then(
      () => null,
      (e) => errInfo('finish', e).code,
    );
    return { ok: false, phase: 'store', code: report.error?.code || report.blocked?.code, message: report.error?.message || report.blocked?.message, stored: report.stored, marked, quit, committed, finish };
  }
  // Two more points for a reload: DELE is done and QUIT not yet sent; QUIT is answered and the
  // store does not know yet.
  await hold(++kept);
  let committed = false;
  let quitError = null;
  try {
    committed = !!(await session.quit())?.committed;
  } catch (e) {
    quitError = e;
  }
  phase = 'quit';
  await hold(++kept);
  close();
  await finishSync(store, account, /** @type {Run} */ (report.run), committed);
  if (quitError) return errInfo('quit', quitError);
  return { ok: true, committed, stored: report.stored, deleted: report.deletions.length, warnings: report.warnings.map((w) => w.code) };
}

window.harness = {
  sync,
  /**
   * Starts a sync without waiting for it (the test looks at `phase`, or has the page reload in
   * the middle with `o.reloadAt`).
   * @param {HarnessOptions} o
   */
  start(o) {
    lastResult = null;
    sessionStorage.removeItem(UNLOAD_KEY);
    startedAt = performance.now();
    window.harness.last = sync(o)
      .catch((e) => errInfo('uncaught', e))
      .then((r) => (lastResult = r));
    return true;
  },
  /** The result of the sync `start` began, or null while it runs. */
  result() {
    return lastResult;
  },
  /** Where this page's sync is now (see `phase` above). */
  phase() {
    return phase;
  },
  /**
   * Where the sync of the page before the last reload was when that page went away, and when
   * (ms after it began): `{ phase, atMs }`, once; null without a reload.
   */
  unloadPhase() {
    const p = sessionStorage.getItem(UNLOAD_KEY);
    sessionStorage.removeItem(UNLOAD_KEY);
    return p && JSON.parse(p);
  },
  /** What the store holds: checksums computed here from the stored bytes themselves. */
  /** @param {HarnessOptions} o */
  async dump(o) {
    const account = accountOf(o);
    const [messages, known] = await Promise.all([store.allMessages(account), store.known(account)]);
    return {
      messages: messages.map((m) => ({ key: m.key, full: m.full, sha256: sha256Hex(m.bytes), recorded: m.sha256, size: m.bytes.length })),
      known,
    };
  },
  async wipe() {
    store.close();
    await deleteDatabase();
    store = await openStore();
    return true;
  },
};
window.harnessReady = true;
