// @ts-check
// The offline store: every message the client keeps, per account, in IndexedDB (or, in kiosk
// mode, only in memory).
//
// Layout (database "pop3-mail", one record per message in each store, never one blob per
// folder, so a damaged record costs at most that one message):
//   messages   [account, key] -> { bytes, full, sha256, size }      the raw message (or headers):
//              a Uint8Array, or a Blob for a message downloaded in pieces (sync.js streams big
//              ones), so the page never holds it whole; readers get a Uint8Array either way
//   summaries  [account, key] -> { from, subject, dateMs, size, … } what the list shows
//   uidl       [account, key] -> the sync engine's KnownRecord (docs/js-api.md, "Sync and export")
// `key` is the sync engine's stable key for a message (its UIDL, or a checksum for mail fetched
// without one); the server's UIDL itself is the record's `uid`.
//   accounts   account        -> { policy, lastSyncMs, … }
//
// The one rule that keeps mail safe: a message counts as stored only once its bytes, its
// summary and its UIDL record are committed together in ONE transaction with
// durability "strict" (flushed to disk before `complete` fires). Only then may the sync engine
// send DELE for it. commitMessage() resolves exactly at that point and not before.
// commitMessages() commits a batch of messages the same way in ONE such transaction (all or
// none of them): it resolves only once the whole batch is durable, and only then may any
// message of it count as stored.
// The IndexedDB store commits those batches in a module worker (web/keep-worker.js, its own
// connection to the same database: `Keeper` below), so the checksums and the writes of a large
// sync leave the page's thread; where that worker cannot start, the page runs the same commit
// (`writeBatch`) itself. Either way the answer comes only after the transaction's `complete`.

/** @import { KnownRecord, SyncPolicy, StorageEstimate } from './types.js' */

/**
 * What the list shows for a message (`summaryOf` in sync.js): from the headers, as text.
 * @typedef {object} Summary
 * @property {string} from
 * @property {string} subject
 * @property {string} to
 * @property {number | null} dateMs
 * @property {number} size
 */

/**
 * A list row of `summaries()`: the summary, its key and whether the full message is kept.
 * @typedef {Summary & { key: string, full: boolean, storedMs: number, serverGone: boolean }} SummaryRow
 */

/**
 * A kept message of `allMessages()`.
 * @typedef {object} StoredMessage
 * @property {string} key
 * @property {Uint8Array} bytes
 * @property {boolean} full the whole message (else its headers only)
 * @property {string} sha256 of `bytes`
 */

/**
 * The settings of an account ("This device…").
 * @typedef {object} AccountSettings
 * @property {SyncPolicy} policy
 * @property {boolean} riskAccepted delete on the server without persistent storage
 */

/**
 * The `accounts` record of one account.
 * @typedef {{ account: string, settings?: AccountSettings, [field: string]: unknown }} AccountData
 */

/**
 * One message to commit: `commitMessage(account, message)`.
 * @typedef {object} CommitInput
 * @property {string} key the sync engine's key (its record's `key`)
 * @property {Uint8Array | Blob} bytes the whole message, or its headers; a Blob for a message
 *   kept in pieces (a streamed download: the page never held it whole)
 * @property {string} [sha256] a Blob's checksum, taken from its pieces as they arrived (a Blob
 *   is not read back to hash it: that would hold it whole); required with a Blob
 * @property {boolean} full
 * @property {Summary} summary
 * @property {KnownRecord | null | undefined} [known] the engine's record to write beside the bytes
 */

/** @typedef {(bytes: Uint8Array) => Promise<string>} Hasher lower-case hex SHA-256 */

/**
 * A SHA-256 taken piece by piece (`Sha256Stream` of the reading module): `finish()` gives
 * lower-case hex.
 * @typedef {{ update(piece: Uint8Array): void, finish(): string, free?(): void }} StreamHasher
 */

/**
 * A message bigger than this is big: the sync downloads and keeps it in pieces, as a Blob
 * (sync.js), and the reader reads it in pieces and shows its outline (inbox/reader.js), so
 * the page never holds it whole. Smaller ones take the faster path, whole.
 */
export const BIG_MESSAGE = 8 * 1024 * 1024;

/** A big message is read back in pieces of this size. */
const READ_PIECE = 1024 * 1024;

/**
 * Whether a message's bytes are a Uint8Array (else a Blob). Not `instanceof`: bytes from
 * another realm (a frame, a test driver's sandbox) are a Uint8Array of another constructor.
 * @param {Uint8Array | Blob} bytes
 * @returns {bytes is Uint8Array}
 */
const isArray = (bytes) => ArrayBuffer.isView(bytes);

/**
 * The size of a message's bytes, whichever form they have.
 * @param {Uint8Array | Blob} bytes
 */
export const sizeOf = (bytes) => (isArray(bytes) ? bytes.length : bytes.size);

/**
 * A message's checksum for its commit: hashed here, or, for a Blob, the one its pieces gave.
 * @param {CommitInput} m
 * @param {Hasher} hash
 * @returns {Promise<string>}
 */
function checksumOf(m, hash) {
  if (isArray(m.bytes)) return hash(m.bytes);
  if (typeof m.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(m.sha256)) {
    return Promise.reject(new TypeError('a message kept as a Blob needs its lower-case hex sha256'));
  }
  return Promise.resolve(m.sha256);
}

/**
 * A stored message's bytes as a Uint8Array (a Blob is read whole here: for the reader and
 * export, which need all of it).
 * @param {Uint8Array | Blob} bytes
 * @returns {Promise<Uint8Array>}
 */
async function bytesOf(bytes) {
  return isArray(bytes) ? bytes : new Uint8Array(await bytes.arrayBuffer());
}

/**
 * A message the store has just committed, as its observers see it (`observe()`).
 * @typedef {object} KeptItem
 * @property {string} key
 * @property {Summary} summary
 * @property {boolean} full the whole message is kept (its body can be read), else its headers
 */

/**
 * Who wants to know what the store changed (the search index of search.js). Told only once a
 * change is committed (durably), never awaited, and whatever it throws is caught and logged:
 * an observer can never fail or delay a commit.
 * @typedef {object} StoreObserver
 * @property {(account: string, items: KeptItem[]) => void} [kept]
 * @property {(account: string, keys: string[] | null) => void} [deleted] `null`: the whole account
 */

/** @typedef {'quota' | 'corrupt' | 'unavailable' | 'not_found' | 'blocked' | 'locked'} StoreErrorCode */

/** The offline store of `openStore()`: IndexedDB, or this page's memory (kiosk mode). @typedef {IdbStore | MemoryStore} Store */

const DB_NAME = 'pop3-mail';
const DB_VERSION = 1;
const STORES = ['messages', 'summaries', 'uidl', 'accounts'];

/** A store failure, with a `code` the UI can act on. */
export class StoreError extends Error {
  /**
   * @param {StoreErrorCode} code
   * @param {string} message
   * @param {unknown} [cause]
   */
  constructor(code, message, cause) {
    super(message);
    this.name = 'StoreError';
    this.code = code; // 'quota' | 'corrupt' | 'unavailable' | 'not_found' | 'blocked' | 'locked'
    if (cause) this.cause = cause;
  }
}

const MESSAGES = {
  quota: 'This device has no room left for more mail. Nothing was deleted on the server. Free some space (or delete messages kept here) and sync again.',
  unavailable: 'This browser does not let the page keep mail (storage is turned off, or this is a private window). Mail stays on the server.',
  blocked: 'Another tab is still using an older version of the mail store. Close the other tabs of this page and try again.',
};

/**
 * @param {any} err whatever IndexedDB or the browser threw
 * @returns {StoreError}
 */
export function storeError(err) {
  if (err instanceof StoreError) return err;
  const name = err?.name || '';
  if (name === 'QuotaExceededError' || /quota/i.test(err?.message || '')) return new StoreError('quota', MESSAGES.quota, err);
  return new StoreError('unavailable', `${MESSAGES.unavailable} (${name || 'error'}: ${err?.message || err})`, err);
}

/**
 * SHA-256 of `bytes` as lower-case hex (WebCrypto; needs a secure context such as https or localhost).
 * @param {Uint8Array} bytes
 * @returns {Promise<string>}
 */
export async function sha256Hex(bytes) {
  if (!globalThis.crypto?.subtle) throw new StoreError('unavailable', 'Checksums need a secure page (https or localhost).');
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', /** @type {Uint8Array<ArrayBuffer>} */ (bytes)));
  let s = '';
  for (const b of d) s += b.toString(16).padStart(2, '0');
  return s;
}

/**
 * @template T
 * @param {IDBRequest<T>} r
 * @returns {Promise<T>}
 */
const req = (r) =>
  new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });

/**
 * Resolves when the transaction has committed (durably, for a strict one), rejects on abort.
 * @param {IDBTransaction} tx
 * @returns {Promise<void>}
 */
const done = (tx) =>
  new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error || new DOMException('Transaction aborted', 'AbortError'));
    tx.onerror = () => {}; // the abort handler reports it, once
  });

/**
 * Opens (and creates or upgrades) the database: for the page's store and for the keep worker.
 * @returns {Promise<IDBDatabase>}
 */
export function openDb() {
  return new Promise((resolve, reject) => {
    /** @type {IDBOpenDBRequest} */
    let r;
    try {
      r = indexedDB.open(DB_NAME, DB_VERSION);
    } catch (err) {
      reject(storeError(err));
      return;
    }
    r.onupgradeneeded = () => {
      const db = r.result;
      for (const name of ['messages', 'summaries', 'uidl']) {
        if (!db.objectStoreNames.contains(name)) db.createObjectStore(name, { keyPath: ['account', 'key'] });
      }
      if (!db.objectStoreNames.contains('accounts')) db.createObjectStore('accounts', { keyPath: 'account' });
    };
    r.onsuccess = () => {
      const db = r.result;
      // A newer version opened in another tab: let it upgrade rather than block it forever.
      db.onversionchange = () => db.close();
      resolve(db);
    };
    r.onerror = () => reject(storeError(r.error));
    r.onblocked = () => reject(new StoreError('blocked', MESSAGES.blocked));
  });
}

/**
 * The observers of one store (`observe()`), told after each commit. Mail safety first: an
 * observer that throws is logged and skipped; the commit has already succeeded.
 */
class Observers {
  /** @type {Set<StoreObserver>} */
  #set = new Set();

  /**
   * @param {StoreObserver} o
   * @returns {() => void} stops telling `o`
   */
  add(o) {
    this.#set.add(o);
    return () => this.#set.delete(o);
  }

  /**
   * @param {string} account
   * @param {CommitInput[]} messages
   */
  kept(account, messages) {
    if (!this.#set.size) return;
    const items = messages.map(({ key, summary, full }) => ({ key, summary, full }));
    for (const o of this.#set) call(() => o.kept?.(account, items));
  }

  /**
   * @param {string} account
   * @param {string[] | null} keys
   */
  deleted(account, keys) {
    if (keys?.length === 0) return;
    for (const o of this.#set) call(() => o.deleted?.(account, keys));
  }
}

/** @param {() => void} fn an observer's call: its failure must not reach the store's caller */
function call(fn) {
  try {
    fn();
  } catch (err) {
    console.error('pop3 store: an observer failed (the commit itself succeeded)', err);
  }
}

/**
 * @param {IDBDatabase} db
 * @param {string[]} stores
 * @param {IDBTransactionMode} mode
 * @param {boolean} [strict] durability "strict": committed only once on disk
 */
function transaction(db, stores, mode, strict = false) {
  try {
    return db.transaction(stores, mode, strict ? { durability: 'strict' } : undefined);
  } catch (err) {
    throw storeError(err);
  }
}

/**
 * What a batch's commit answers (`writeBatch`, through the keep worker or not): the checksums
 * in order, the keys the user deleted here, the places of headers not written over a kept body.
 * @typedef {{ sums: string[], hidden: string[], skipped: number[] }} BatchWritten
 */

/**
 * The commit of one batch (IdbStore.commitMessages), wherever it runs: on the page, or in the
 * keep worker (web/keep-worker.js) on its own connection to the same database. Checksums
 * first, then every message in ONE strict transaction; resolves only once it has completed
 * (durably), with the checksums in order, the keys the user deleted here (their records
 * say `localDeleted`: they stay out of the list), and the places of header-only messages not
 * written because the full message is already kept. Rejects with a StoreError, nothing stored.
 * @param {IDBDatabase} db
 * @param {string} account
 * @param {CommitInput[]} messages
 * @param {Hasher} hash
 * @returns {Promise<BatchWritten>}
 */
export async function writeBatch(db, account, messages, hash) {
  // Checksums first: nothing may be awaited inside the transaction but its own requests. All
  // at once: WebCrypto digests run beside each other, and one at a time each waited its turn.
  const sums = await Promise.all(messages.map((m) => checksumOf(m, hash)));
  const tx = transaction(db, ['messages', 'summaries', 'uidl'], 'readwrite', true);
  const committed = done(tx).catch((e) => Promise.reject(storeError(e)));
  /** @type {Map<string, any>} the UIDL record of each key, as this commit leaves it */
  const current = new Map();
  /** @type {number[]} the places in `messages` of headers not written over a full message */
  const skipped = [];
  try {
    const msgs = tx.objectStore('messages');
    const summaries = tx.objectStore('summaries');
    const uidl = tx.objectStore('uidl');
    const storedMs = Date.now();
    // The records already there, each read once; flags the sync engine set earlier (pending
    // deletion, local deletion) are kept.
    const keys = [...new Set(messages.map((m) => m.key))];
    const before = await Promise.all(keys.map((key) => req(uidl.get([account, key]))));
    for (const [i, key] of keys.entries()) current.set(key, before[i]);
    messages.forEach(({ key, bytes, full, summary, known }, i) => {
      // A message's headers never replace its kept body: the sync commits headers and bodies
      // in two queues that may finish in either order.
      if (!full && current.get(key)?.stored === 'full') {
        skipped.push(i);
        return;
      }
      const sha256 = sums[i];
      msgs.put({ account, key, bytes, full, sha256, size: sizeOf(bytes) });
      summaries.put({ ...summary, account, key, full, storedMs });
      // The record says what the bytes beside it are, in the same commit: never ahead of them.
      const rec = { ...current.get(key), ...known, account, key, stored: full ? 'full' : 'headers', sha256: full ? sha256 : (known?.sha256 ?? null) };
      uidl.put(rec);
      current.set(key, rec);
    });
  } catch (err) {
    try {
      tx.abort();
    } catch {
      // already finished: `committed` says how
    }
    await committed.catch(() => {});
    throw storeError(err);
  }
  await committed;
  return { sums, hidden: [...current.keys()].filter((k) => current.get(k)?.localDeleted), skipped };
}

/**
 * The page's side of the keep worker (web/keep-worker.js), which hashes and writes batches off
 * the page's thread, so the inbox stays responsive while a sync keeps mail. The protocol:
 *
 *   worker → page  { ready: true } once its database is open, or { unavailable: reason }
 *   page → worker  { id, account, messages }   one batch (CommitInput[], copied)
 *   worker → page  { id, sums, hidden }        writeBatch()'s answer, sent only after the
 *                                              transaction's `complete` (durable)
 *                  { id, error: { code, message } }   its StoreError, nothing stored
 */
class Keeper {
  /**
   * The worker, once it said it is ready; null when it cannot start here (no module workers,
   * a page policy that forbids them, no WebCrypto or IndexedDB in workers): the page then
   * commits in its own thread.
   * @returns {Promise<Keeper | null>}
   */
  static start() {
    return new Promise((resolve) => {
      /** @type {Worker} */
      let worker;
      try {
        // This exact form (a literal URL relative to import.meta.url) is what bundlers such as
        // Vite recognise, to bundle the worker with the app.
        worker = new Worker(new URL('./keep-worker.js', import.meta.url), { type: 'module' });
      } catch {
        resolve(null);
        return;
      }
      const fail = () => {
        worker.terminate();
        resolve(null);
      };
      worker.onerror = (e) => {
        e.preventDefault();
        fail();
      };
      worker.onmessage = (e) => (e.data?.ready ? resolve(new Keeper(worker)) : fail());
    });
  }

  #worker;
  #next = 1;
  /** @type {Map<number, { resolve: (r: BatchWritten) => void, reject: (e: StoreError) => void }>} */
  #pending = new Map();
  /** @type {StoreError | null} set once the worker is gone: every commit after fails with it */
  #dead = null;

  /** @param {Worker} worker */
  constructor(worker) {
    this.#worker = worker;
    worker.onmessage = (e) => {
      const { id, sums, hidden, skipped, error } = e.data ?? {};
      const p = this.#pending.get(id);
      if (!p) return;
      this.#pending.delete(id);
      if (error) p.reject(new StoreError(error.code, error.message));
      else p.resolve({ sums, hidden, skipped });
    };
    // The worker died (crashed, or out of memory): what it had not answered counts as not
    // stored, which is safe (no DELE without the answer), and the sync fails with it.
    worker.onerror = (e) => {
      e.preventDefault();
      this.#stop(new StoreError('unavailable', `${MESSAGES.unavailable} (the keep worker stopped: ${e.message || 'error'})`));
    };
  }

  /**
   * @param {string} account
   * @param {CommitInput[]} messages
   * @returns {Promise<BatchWritten>}
   */
  commit(account, messages) {
    if (this.#dead) return Promise.reject(this.#dead);
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      try {
        // Copied, not transferred: the caller keeps its bytes (the sync shows them, and
        // retries a refused batch one message at a time).
        this.#worker.postMessage({ id, account, messages });
      } catch (err) {
        this.#pending.delete(id);
        reject(storeError(err));
      }
    });
  }

  /** @param {StoreError} err */
  #stop(err) {
    this.#dead = err;
    this.#worker.terminate();
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }

  close() {
    this.#stop(new StoreError('unavailable', 'The mail store is closed.'));
  }
}

/** Keys of one account: [account, key] pairs sort by account first, so a key range selects it. */
const accountRange = (/** @type {string} */ account) => IDBKeyRange.bound([account, ''], [account, []]);

/**
 * Opens the store. `{ memory: true }` keeps everything in this page's memory only (kiosk mode):
 * nothing reaches IndexedDB, and closing the tab forgets it all.
 * @param {{ memory?: boolean, hash?: Hasher }} [options] `hash`: the checksum (default WebCrypto;
 *   the keep worker always uses WebCrypto's SHA-256, the same value)
 * @returns {Promise<Store>}
 */
export async function openStore({ memory = false, hash = sha256Hex } = {}) {
  if (memory) return new MemoryStore(hash);
  if (!globalThis.indexedDB) throw new StoreError('unavailable', MESSAGES.unavailable);
  return new IdbStore(await openDb(), hash);
}

class IdbStore {
  #db;
  #hash;
  #observers = new Observers();
  /** @type {'indexeddb'} */
  kind = 'indexeddb';

  /**
   * Tells `observer` about every change committed from now on (see StoreObserver).
   * @param {StoreObserver} observer
   * @returns {() => void} stops it
   */
  observe(observer) {
    return this.#observers.add(observer);
  }

  /**
   * @param {IDBDatabase} db
   * @param {Hasher} hash
   */
  constructor(db, hash) {
    this.#db = db;
    this.#hash = hash;
  }

  /**
   * @param {string[]} stores
   * @param {IDBTransactionMode} mode
   * @param {boolean} [strict] durability "strict": committed only once on disk
   */
  #tx(stores, mode, strict = false) {
    return transaction(this.#db, stores, mode, strict);
  }

  /**
   * @param {string} account
   * @returns {Promise<AccountData | null>}
   */
  async account(account) {
    const tx = this.#tx(['accounts'], 'readonly');
    return (await req(tx.objectStore('accounts').get(account))) ?? null;
  }

  /**
   * @param {string} account
   * @param {Omit<AccountData, 'account'>} data
   */
  async saveAccount(account, data) {
    const tx = this.#tx(['accounts'], 'readwrite', true);
    tx.objectStore('accounts').put({ ...data, account });
    await done(tx).catch((e) => Promise.reject(storeError(e)));
  }

  /**
   * The sync engine's records for `account` (without the `account` field).
   * @param {string} account
   * @returns {Promise<KnownRecord[]>}
   */
  async known(account) {
    const tx = this.#tx(['uidl'], 'readonly');
    const rows = await req(tx.objectStore('uidl').getAll(accountRange(account)));
    return rows.map(({ account: _, ...r }) => r);
  }

  /**
   * Replaces the UIDL records given (others are kept). One durable transaction.
   * @param {string} account
   * @param {KnownRecord[]} records
   * @param {{ remove?: string[] }} [options] `remove`: keys whose records and messages go
   */
  async putKnown(account, records, { remove = [] } = {}) {
    const tx = this.#tx(['uidl', 'messages', 'summaries'], 'readwrite', true);
    const s = tx.objectStore('uidl');
    for (const r of records) s.put({ ...r, account });
    for (const key of remove) {
      for (const n of ['uidl', 'messages', 'summaries']) tx.objectStore(n).delete([account, key]);
    }
    await done(tx).catch((e) => Promise.reject(storeError(e)));
    this.#observers.deleted(account, remove);
  }

  /**
   * Stores one message: bytes + summary + UIDL record in one strict transaction. Resolves with
   * the checksum once durable; rejects with StoreError('quota') when the disk is full.
   * @param {string} account
   * @param {CommitInput} message
   * @returns {Promise<{ sha256: string }>}
   */
  async commitMessage(account, message) {
    return (await this.commitMessages(account, [message]))[0];
  }

  /**
   * Stores a batch of messages, each exactly as commitMessage() would (bytes + summary + UIDL
   * record, checksums computed with them: `writeBatch`, in the keep worker or on this page), all
   * in ONE strict transaction: it resolves with their checksums, in order, once the whole
   * batch is durable, and rejects (StoreError('quota') when the disk is full) with none of
   * them stored. Messages with the same key are written in
   * order, each merging into the record the one before it wrote, as separate commits would.
   * @param {string} account
   * @param {CommitInput[]} messages
   * @returns {Promise<{ sha256: string }[]>}
   */
  async commitMessages(account, messages) {
    if (!messages.length) return [];
    const keeper = await this.#keeperReady();
    const { sums, hidden, skipped } = keeper ? await keeper.commit(account, messages) : await writeBatch(this.#db, account, messages, this.#hash);
    // (What the user deleted here stays out of the list, so out of the index too; headers not
    // written over a kept body change nothing.)
    const gone = new Set(hidden);
    const unchanged = new Set(skipped);
    this.#observers.kept(account, messages.filter((m, i) => !gone.has(m.key) && !unchanged.has(i)));
    return sums.map((sha256) => ({ sha256 }));
  }

  /**
   * Where batches are committed: 'worker' (web/keep-worker.js), 'in-thread' (this page), or
   * null before the first commit decided it.
   * @returns {'worker' | 'in-thread' | null}
   */
  get keepPath() {
    return this.#keepPath;
  }

  /** @type {'worker' | 'in-thread' | null} */
  #keepPath = null;
  /** @type {Promise<Keeper | null> | null} */
  #keeper = null;

  /**
   * Starts the keep worker now, for a sync about to run: its start (a module, its own database
   * connection) then overlaps the session's login and list instead of delaying the first
   * commit, while the server waits.
   */
  prepareKeep() {
    void this.#keeperReady();
  }

  /**
   * The keep worker, started by a sync (prepareKeep) or at the first commit (a store opened
   * only to read starts none);
   * null when it cannot run here, and this page then commits itself, the same way.
   * @returns {Promise<Keeper | null>}
   */
  #keeperReady() {
    this.#keeper ??= Keeper.start().then((k) => {
      this.#keepPath = k ? 'worker' : 'in-thread';
      return k;
    });
    return this.#keeper;
  }

  /**
   * List rows for `account`, newest first.
   * @param {string} account
   * @returns {Promise<SummaryRow[]>}
   */
  async summaries(account) {
    const tx = this.#tx(['summaries', 'uidl'], 'readonly');
    const [rows, uidl] = await Promise.all([req(tx.objectStore('summaries').getAll(accountRange(account))), req(tx.objectStore('uidl').getAll(accountRange(account)))]);
    const state = new Map(uidl.map((u) => [u.key, u]));
    return rows
      .filter((r) => !state.get(r.key)?.localDeleted)
      .map(({ account: _, ...r }) => ({ ...r, serverGone: !!state.get(r.key)?.serverGone }))
      .sort((a, b) => (b.dateMs || 0) - (a.dateMs || 0));
  }

  /**
   * The stored bytes of one message, checked against their checksum. A mismatch is
   * StoreError('corrupt'): the caller re-downloads it if it is still on the server.
   * @param {string} account
   * @param {string} key
   * @returns {Promise<Uint8Array>}
   */
  async readMessage(account, key) {
    return start(await this.#record(account, key), Infinity, this.#hash);
  }

  /**
   * The `messages` record of a kept message; StoreError('not_found') when there is none.
   * @param {string} account
   * @param {string} key
   * @returns {Promise<KeptRecord>}
   */
  async #record(account, key) {
    const tx = this.#tx(['messages'], 'readonly');
    return found(await req(tx.objectStore('messages').get([account, key])));
  }

  /**
   * A kept message read piece by piece, for one too big to read whole: each piece goes to
   * `onPiece` in order and into `hasher`, and once all are read the checksum is checked
   * (a mismatch is StoreError('corrupt'), as readMessage()). Resolves with the message's
   * bytes as a Blob, to read parts of it again.
   * @param {string} account
   * @param {string} key
   * @param {{ onPiece: (piece: Uint8Array) => void, hasher: () => StreamHasher }} options
   * @returns {Promise<Blob>}
   */
  async readInPieces(account, key, { onPiece, hasher }) {
    return inPieces(await this.#record(account, key), onPiece, hasher);
  }

  /**
   * The first `max` bytes of a kept message, for the search index, which reads no further
   * into a big one: all of it, checked as readMessage() does, when it is no longer; else the
   * start only, unchecked (the checksum covers the whole; the reader checks it).
   * @param {string} account
   * @param {string} key
   * @param {number} max
   * @returns {Promise<Uint8Array>}
   */
  async readStart(account, key, max) {
    return start(await this.#record(account, key), max, this.#hash);
  }

  /**
   * Every stored message of `account`, read whole (for the invariant checks of the tests; the
   * export reads a message at a time, `readInPieces`).
   * @param {string} account
   * @returns {Promise<StoredMessage[]>}
   */
  async allMessages(account) {
    const tx = this.#tx(['messages'], 'readonly');
    const rows = await req(tx.objectStore('messages').getAll(accountRange(account)));
    return Promise.all(rows.map(async ({ key, bytes, full, sha256 }) => ({ key, bytes: await bytesOf(bytes), full, sha256 })));
  }

  /**
   * The user deleted a message here: its bytes and summary go, its UIDL record stays (marked),
   * so the next sync neither downloads it again nor forgets to delete it on the server when the
   * policy says so.
   * @param {string} account
   * @param {string} key
   */
  async deleteLocal(account, key) {
    const tx = this.#tx(['messages', 'summaries', 'uidl'], 'readwrite', true);
    const s = tx.objectStore('uidl');
    const rec = await req(s.get([account, key]));
    if (rec) s.put({ ...rec, localDeleted: true });
    tx.objectStore('messages').delete([account, key]);
    tx.objectStore('summaries').delete([account, key]);
    await done(tx).catch((e) => Promise.reject(storeError(e)));
    this.#observers.deleted(account, [key]);
  }

  /**
   * Removes one account's data (all four stores).
   * @param {string} account
   */
  async wipeAccount(account) {
    const tx = this.#tx(STORES, 'readwrite', true);
    for (const n of ['messages', 'summaries', 'uidl']) tx.objectStore(n).delete(accountRange(account));
    tx.objectStore('accounts').delete(account);
    await done(tx).catch((e) => Promise.reject(storeError(e)));
    this.#observers.deleted(account, null);
  }

  /**
   * Every account this store knows: those with settings (`accounts`) and those with kept mail
   * (`summaries`), each name once, sorted. A key cursor jumps from one account to the next, so
   * the cost follows the number of accounts, not of messages.
   * @returns {Promise<string[]>}
   */
  async accountNames() {
    const tx = this.#tx(['accounts', 'summaries'], 'readonly');
    const names = new Set(/** @type {string[]} */ (await req(tx.objectStore('accounts').getAllKeys())));
    await new Promise((resolve, reject) => {
      const r = tx.objectStore('summaries').openKeyCursor();
      r.onerror = () => reject(storeError(r.error));
      r.onsuccess = () => {
        const cur = r.result;
        if (!cur) return resolve(undefined);
        const account = /** @type {[string, string]} */ (cur.key)[0];
        names.add(account);
        cur.continue([account, []]); // past every key of this account
      };
    });
    return [...names].sort();
  }

  close() {
    this.#keeper?.then((k) => k?.close());
    this.#db.close();
  }
}

/** @typedef {{ bytes: Uint8Array | Blob, sha256: string }} KeptRecord what the readers need of a `messages` record */

/**
 * @template {KeptRecord} T
 * @param {T | undefined} rec a `messages` record, if the message is kept
 * @returns {T}
 */
function found(rec) {
  if (!rec) throw new StoreError('not_found', 'This message is not kept on this device.');
  return rec;
}

/**
 * StoreError('corrupt') unless `actual`, the checksum of the bytes read, is the one stored
 * (records from before checksums have none).
 * @param {{ sha256: string }} rec a `messages` record
 * @param {string} actual
 */
function checkSum(rec, actual) {
  if (rec.sha256 && actual !== rec.sha256) {
    throw new StoreError('corrupt', 'The copy of this message on this device is damaged. It will be downloaded again if it is still on the server.');
  }
}

/**
 * `readInPieces()` of either store.
 * @param {KeptRecord} rec a `messages` record
 * @param {(piece: Uint8Array) => void} onPiece
 * @param {() => StreamHasher} hasher
 * @returns {Promise<Blob>}
 */
async function inPieces(rec, onPiece, hasher) {
  const blob = isArray(rec.bytes) ? new Blob([/** @type {Uint8Array<ArrayBuffer>} */ (rec.bytes)]) : rec.bytes;
  const h = hasher();
  try {
    for (let at = 0; at < blob.size; at += READ_PIECE) {
      const piece = new Uint8Array(await blob.slice(at, at + READ_PIECE).arrayBuffer());
      h.update(piece);
      onPiece(piece);
    }
    checkSum(rec, h.finish());
  } finally {
    h.free?.();
  }
  return blob;
}

/**
 * `readStart()` of either store, and with no `max` (Infinity) its `readMessage()`.
 * @param {KeptRecord} rec a `messages` record
 * @param {number} max
 * @param {Hasher} hash
 */
async function start(rec, max, hash) {
  if (sizeOf(rec.bytes) > max) return bytesOf(rec.bytes.slice(0, max));
  const bytes = await bytesOf(rec.bytes);
  checkSum(rec, await hash(bytes));
  return bytes;
}

/**
 * One message of the memory store: what the three IndexedDB stores hold under its key.
 * @typedef {object} MemoryRow
 * @property {Omit<StoredMessage, 'bytes'> & { bytes: Uint8Array | Blob, size: number } | undefined} [message]
 * @property {Summary & { key: string, full: boolean, storedMs: number } | undefined} [summary]
 * @property {KnownRecord | undefined} [uidl]
 */

/** Kiosk mode: the same interface, in memory only. */
class MemoryStore {
  #hash;
  #observers = new Observers();
  /** @type {Map<string, AccountData>} */
  #accounts = new Map();
  /** @type {Map<string, MemoryRow>} */
  #rows = new Map(); // `${account}\n${uid}` -> { message, summary, uidl }
  /** @type {'memory'} */
  kind = 'memory';

  /** @param {Hasher} hash */
  constructor(hash) {
    this.#hash = hash;
  }

  /**
   * @param {StoreObserver} observer
   * @returns {() => void}
   */
  observe(observer) {
    return this.#observers.add(observer);
  }

  /** @param {string} account */
  #all(account) {
    const pre = `${account}\n`;
    return [...this.#rows].filter(([k]) => k.startsWith(pre)).map(([, v]) => v);
  }

  /**
   * @param {string} account
   * @returns {Promise<AccountData | null>}
   */
  async account(account) {
    return this.#accounts.get(account) ?? null;
  }

  /**
   * @param {string} account
   * @param {Omit<AccountData, 'account'>} data
   */
  async saveAccount(account, data) {
    this.#accounts.set(account, { ...data, account });
  }

  /**
   * @param {string} account
   * @returns {Promise<KnownRecord[]>}
   */
  async known(account) {
    return this.#all(account)
      .filter((r) => r.uidl)
      .map((r) => ({ .../** @type {KnownRecord} */ (r.uidl) }));
  }

  /**
   * @param {string} account
   * @param {KnownRecord[]} records
   * @param {{ remove?: string[] }} [options]
   */
  async putKnown(account, records, { remove = [] } = {}) {
    for (const r of records) {
      const k = `${account}\n${r.key}`;
      const row = this.#rows.get(k) ?? {};
      this.#rows.set(k, { ...row, uidl: { ...r } });
    }
    for (const key of remove) this.#rows.delete(`${account}\n${key}`);
    this.#observers.deleted(account, remove);
  }

  /**
   * @param {string} account
   * @param {CommitInput} message
   * @returns {Promise<{ sha256: string }>}
   */
  async commitMessage(account, message) {
    return (await this.commitMessages(account, [message]))[0];
  }

  /**
   * All or nothing, like IndexedDB's one transaction: the checksums are computed first.
   * @param {string} account
   * @param {CommitInput[]} messages
   * @returns {Promise<{ sha256: string }[]>}
   */
  async commitMessages(account, messages) {
    /** @type {string[]} */
    const sums = [];
    for (const m of messages) sums.push(await checksumOf(m, this.#hash));
    const storedMs = Date.now();
    /** @type {Set<number>} headers not written over a kept body (as `writeBatch`) */
    const unchanged = new Set();
    messages.forEach(({ key, bytes, full, summary, known }, i) => {
      if (!full && this.#rows.get(`${account}\n${key}`)?.uidl?.stored === 'full') {
        unchanged.add(i);
        return;
      }
      const sha256 = sums[i];
      this.#rows.set(`${account}\n${key}`, {
        message: { key, bytes, full, sha256, size: sizeOf(bytes) },
        summary: { ...summary, key, full, storedMs },
        // (`known` is the engine's whole record: the merged record is one too.)
        uidl: /** @type {KnownRecord} */ ({ ...this.#rows.get(`${account}\n${key}`)?.uidl, ...known, key, stored: full ? 'full' : 'headers', sha256: full ? sha256 : (known?.sha256 ?? null) }),
      });
    });
    this.#observers.kept(account, messages.filter((m, i) => !unchanged.has(i) && !this.#rows.get(`${account}\n${m.key}`)?.uidl?.localDeleted));
    return sums.map((sha256) => ({ sha256 }));
  }

  /**
   * @param {string} account
   * @returns {Promise<SummaryRow[]>}
   */
  async summaries(account) {
    return this.#all(account)
      .filter((r) => r.summary && !r.uidl?.localDeleted)
      .map((r) => ({ .../** @type {NonNullable<MemoryRow['summary']>} */ (r.summary), serverGone: !!r.uidl?.serverGone }))
      .sort((a, b) => (b.dateMs || 0) - (a.dateMs || 0));
  }

  /**
   * @param {string} account
   * @param {string} key
   * @returns {Promise<Uint8Array>}
   */
  async readMessage(account, key) {
    return start(this.#record(account, key), Infinity, this.#hash);
  }

  /**
   * @param {string} account
   * @param {string} key
   * @returns {KeptRecord}
   */
  #record(account, key) {
    return found(this.#rows.get(`${account}\n${key}`)?.message);
  }

  /**
   * @param {string} account
   * @param {string} key
   * @param {number} max
   * @returns {Promise<Uint8Array>}
   */
  async readStart(account, key, max) {
    return start(this.#record(account, key), max, this.#hash);
  }

  /**
   * @param {string} account
   * @param {string} key
   * @param {{ onPiece: (piece: Uint8Array) => void, hasher: () => StreamHasher }} options
   * @returns {Promise<Blob>}
   */
  async readInPieces(account, key, { onPiece, hasher }) {
    return inPieces(this.#record(account, key), onPiece, hasher);
  }

  /**
   * @param {string} account
   * @returns {Promise<StoredMessage[]>}
   */
  async allMessages(account) {
    const rows = this.#all(account).filter((r) => r.message);
    return Promise.all(
      rows.map(async (r) => {
        const m = /** @type {NonNullable<MemoryRow['message']>} */ (r.message);
        return { key: m.key, bytes: await bytesOf(m.bytes), full: m.full, sha256: m.sha256 };
      }),
    );
  }

  /**
   * @param {string} account
   * @param {string} key
   */
  async deleteLocal(account, key) {
    const k = `${account}\n${key}`;
    const row = this.#rows.get(k);
    if (row) this.#rows.set(k, { uidl: row.uidl ? { ...row.uidl, localDeleted: true } : undefined });
    this.#observers.deleted(account, [key]);
  }

  /** @param {string} account */
  async wipeAccount(account) {
    for (const k of [...this.#rows.keys()]) if (k.startsWith(`${account}\n`)) this.#rows.delete(k);
    this.#accounts.delete(account);
    this.#observers.deleted(account, null);
  }

  /**
   * Every account this store knows (settings or kept mail), each name once, sorted.
   * @returns {Promise<string[]>}
   */
  async accountNames() {
    const names = new Set(this.#accounts.keys());
    for (const k of this.#rows.keys()) names.add(k.slice(0, k.lastIndexOf('\n')));
    return [...names].sort();
  }

  close() {
    this.#rows.clear();
    this.#accounts.clear();
  }
}

/**
 * Deletes the whole database (every account). Used by "forget this device" and by tests.
 * @returns {Promise<void>}
 */
export function deleteDatabase() {
  return new Promise((resolve, reject) => {
    const r = indexedDB.deleteDatabase(DB_NAME);
    r.onsuccess = () => resolve();
    r.onerror = () => reject(storeError(r.error));
    r.onblocked = () => resolve(); // completes once the other tabs close their connections
  });
}

/**
 * Asks the browser to keep this site's data under storage pressure. Returns true when granted;
 * without it the browser may evict the store, so the UI must not offer deletion on the server
 * without a warning.
 */
export async function requestPersistence() {
  try {
    if (await navigator.storage?.persisted?.()) return true;
    return (await navigator.storage?.persist?.()) === true;
  } catch {
    return false;
  }
}

/**
 * { usage, quota } in bytes, or null when the browser does not say.
 * @returns {Promise<StorageEstimate | null>}
 */
export async function storageEstimate() {
  try {
    const e = await navigator.storage?.estimate?.();
    return e && typeof e.quota === 'number' ? { usage: e.usage ?? 0, quota: e.quota } : null;
  } catch {
    return null;
  }
}

/**
 * Runs `fn` holding the account's sync lock, shared by every tab of this origin (Web Locks).
 * @template T
 * @param {string} account
 * @param {() => Promise<T>} fn
 * @returns {Promise<T>}
 */
export async function withSyncLock(account, fn) {
  if (!navigator.locks?.request) return fn(); // very old browser: one tab is the usual case
  return navigator.locks.request(`pop3-sync:${account}`, { ifAvailable: true }, async (lock) => {
    if (!lock) throw new StoreError('locked', 'Another tab is already syncing this account.');
    return fn();
  });
}
