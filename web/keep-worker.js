// @ts-check
// Keeping mail off the page's thread: the IndexedDB store's batch commits (checksums and the
// one strict transaction per batch) run here, on this worker's own connection to the same
// database, so the inbox stays responsive while a sync keeps a large mailbox. The protocol and
// the page's side are `Keeper` in web/store.js; the commit itself is store.js's `writeBatch`,
// the same function the page runs when it has no worker: this file only carries batches.
//
// A batch is answered only once its transaction has completed (durability "strict"), so a
// message still counts as kept, and may be deleted on the server, only after that.
import { openDb, sha256Hex, storeError, writeBatch } from './store.js';

/** @typedef {{ id: number, account: string, messages: import('./store.js').CommitInput[] }} Batch */

/** @type {{ postMessage(message: unknown): void }} */
const port = /** @type {any} */ (globalThis);

// Batches are committed one after the other, in the order the page sent them.
/** @type {Promise<IDBDatabase | null>} */
let chain = start();

globalThis.onmessage = (/** @type {MessageEvent<Batch>} */ e) => {
  const b = e.data;
  chain = chain.then(async (db) => {
    if (!db) return db;
    try {
      const { sums, hidden, skipped } = await writeBatch(db, b.account, b.messages, sha256Hex);
      port.postMessage({ id: b.id, sums, hidden, skipped });
    } catch (err) {
      const { code, message } = storeError(err);
      port.postMessage({ id: b.id, error: { code, message } });
    }
    return db;
  });
};

/**
 * Opens the database and says whether this worker can keep mail; when it cannot (no WebCrypto
 * or IndexedDB here), the page commits in its own thread instead.
 * @returns {Promise<IDBDatabase | null>}
 */
async function start() {
  try {
    if (!globalThis.crypto?.subtle) throw new Error('no WebCrypto in this worker');
    const db = await openDb();
    port.postMessage({ ready: true });
    return db;
  } catch (err) {
    port.postMessage({ unavailable: String(/** @type {any} */ (err)?.message || err) });
    return null;
  }
}
