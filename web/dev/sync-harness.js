// Test harness for tests/tests/sync_faults.rs: runs the real sync (wasm session + SyncRun +
// IndexedDB store) against the real bridge and Dovecot, and reports what the store holds so the
// test can check that no mail was lost. Not used by the app.

import init, { connect, SyncRun, sha256Hex } from '../pkg/pop3_web.js';
import { openStore, deleteDatabase } from '../store.js';
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
    report = await syncAccount({ session, store, account, policy: o.policy, SyncRun, sha256Hex });
  } catch (e) {
    session.close();
    return errInfo('sync', e);
  }
  if (report.error || report.blocked) {
    session.close();
    await finishSync(store, account, report.run, false);
    return { ok: false, phase: 'store', code: report.error?.code || report.blocked?.code, message: report.error?.message || report.blocked?.message };
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

window.harness = {
  sync,
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
