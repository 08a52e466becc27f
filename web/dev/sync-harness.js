// @ts-check
// Test harness for tests/tests/sync_faults.rs: runs the real sync (wasm session + SyncRun +
// IndexedDB store) against the real bridge and Dovecot, and reports what the store holds so the
// test can check that no mail was lost. Not used by the app.

import init, { connect, SyncRun, sha256Hex } from '../pkg/pop3_web.js';
import { openStore, deleteDatabase, StoreError } from '../store.js';
import { syncAccount, finishSync } from '../sync.js';

await init();
let store = await openStore();

const accountOf = (o) => `${o.user}@${o.host}:${o.port}`;
const errInfo = (phase, e) => ({ ok: false, phase, code: e?.code || e?.name || 'error', message: String(e?.message || e) });

async function sync(o) {
  const account = accountOf(o);
  let session;
  try {
    session = await connect({ bridgeUrl: o.bridgeUrl, host: o.host, port: o.port, security: 'tls', user: o.user, password: o.password, timeoutMs: o.timeoutMs ?? 20000 });
  } catch (e) {
    return errInfo('connect', e);
  }
  let report;
  try {
    report = await syncAccount({ session, store: o.quotaAfter == null ? store : fullAfter(store, o.quotaAfter), account, policy: o.policy, SyncRun });
  } catch (e) {
    session.close();
    return errInfo('sync', e);
  }
  if (report.error || report.blocked) {
    // What the UI does too: end without QUIT, so nothing marked could be deleted.
    const marked = session.markedForDeletion.length;
    session.close();
    await finishSync(store, account, report.run, false);
    return { ok: false, phase: 'store', code: report.error?.code || report.blocked?.code, message: report.error?.message || report.blocked?.message, stored: report.stored, marked };
  }
  let committed = false;
  let quitError = null;
  try {
    committed = !!(await session.quit())?.committed;
  } catch (e) {
    quitError = e;
  }
  session.close();
  await finishSync(store, account, report.run, committed);
  if (quitError) return errInfo('quit', quitError);
  return { ok: true, committed, stored: report.stored, deleted: report.deletions.length, warnings: report.warnings.map((w) => w.code) };
}

/**
 * The store as a full disk sees it: full-message commits after the first `n` fail the way
 * IndexedDB fails when the quota is exhausted.
 */
function fullAfter(inner, n) {
  let left = n;
  return new Proxy(inner, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target);
      if (prop !== 'commitMessage') return typeof v === 'function' ? v.bind(target) : v;
      return async (account, rec) => {
        if (rec.full && left-- <= 0) throw new StoreError('quota', 'QuotaExceededError (simulated by the test harness)');
        return v.call(target, account, rec);
      };
    },
  });
}

window.harness = {
  sync,
  /** Two syncs of the same account at once (as from two tabs): one must wait its turn. */
  async twice(o) {
    return Promise.all([sync(o), sync(o)]);
  },
  /** Starts a sync without waiting for it (the test reloads the page in the middle). */
  start(o) {
    window.harness.last = sync(o).catch((e) => errInfo('uncaught', e));
    return true;
  },
  /** What the store holds: checksums computed here from the stored bytes themselves. */
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
