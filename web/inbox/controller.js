// @ts-check
// The inbox without a page: the POP3 session, the list of messages, the offline store and the
// background sync. No `document`, no elements: it holds the state and says what changed
// through `on(type, fn)`, so the views (and tests without a page) only listen.
//
// Events:
//   items    { now }  the list changed; `now` false: a render on the next frame is enough
//   listed            the server's list replaced the items (the view picks the active row)
//   marks             deletion marks changed (marked bar, logout label, reader)
//   syncnote text     the line under the status ('' hides it)
//   store             the offline store opened or closed (`store` is it, or null)
//   searchchanged     the search index changed: results shown for a query may be stale
//
// The option getters read the element's attributes at the moment they are needed, because
// attributes may be set after the element upgraded (index.js copies them from the URL).

import { summarizeHeaders, errorCodes, ready as readingModule, ArchiveWriter, Sha256Stream, importArchive } from '../pop3.js';
import { openStore, requestPersistence, BIG_MESSAGE } from '../store.js';
import { openSearch, deleteSearchIndex } from '../search.js';
import { syncAccount, finishSync, undoSyncDeletions, summaryOf, keepOnDemand, identifyKept, Pieces } from '../sync.js';
import { ENGLISH, LAYER_LANG } from '../i18n/index.js';

/** A big message downloaded to read is handed over from this size on: its header section is in the first piece. */
const HEAD_PIECE = 256 * 1024;


/**
 * @import { HeaderSummary, InboxApi, Pop3Wasm, Session, ErrorLike } from '../types.js'
 * @import { Store, AccountSettings } from '../store.js'
 * @import { SyncPolicy } from '../types.js'
 * @import { SyncReport } from '../sync.js'
 * @import { AccountValues } from './account-form.js'
 * @import { DelayedProgress } from './dom.js'
 * @import { I18n, Msg, Args } from '../i18n/index.js'
 */

/**
 * One message of the list.
 * @typedef {object} InboxItem
 * @property {number} msg this session's message number (negative: kept mail shown offline)
 * @property {number} size
 * @property {boolean} loaded its headers are in
 * @property {string} from
 * @property {string} subject
 * @property {Date | null} date
 * @property {boolean} marked for deletion (DELE) in this session
 * @property {string | undefined} [key] the store's key, once the sync engine named it
 * @property {string | null | undefined} [uid]
 * @property {'full' | 'headers' | null | undefined} [kept] what this device keeps of it
 * @property {boolean | undefined} [byPolicy] marked by the sync policy, not by the user
 * @property {string | undefined} [account] "All inboxes": the account it is kept for (else the controller's)
 */

/**
 * The events of `on(type, fn)`, with what `fn` receives.
 * @typedef {object} InboxEvents
 * @property {{ now: boolean }} items the list changed; `now` false: a render on the next frame is enough
 * @property {undefined} listed the server's list replaced the items
 * @property {undefined} marks deletion marks changed
 * @property {string | Msg} syncnote the line under the status ('' hides it)
 * @property {undefined} store the offline store opened or closed
 * @property {undefined} searchchanged the search index changed: a search shown may be stale
 */

/**
 * The account of a store: what its name is made of (`port` may come remembered, as text).
 * @typedef {{ server: string, port?: number | string, user: string }} AccountRef
 */

/**
 * What `quit()` resolves with: the truth about QUIT.
 * @typedef {object} QuitOutcome
 * @property {boolean} committed the server confirmed the deletions
 * @property {number} deleted messages deleted on the server
 * @property {ErrorLike | null} error
 * @property {number} marked how many were marked when the user confirmed
 */

/**
 * This session's background sync.
 * @typedef {object} SyncState
 * @property {AbortController} ctrl
 * @property {import('../types.js').SyncRun | null} run
 * @property {SyncReport | null} report
 * @property {Promise<SyncReport | null> | null} promise
 * @property {boolean} settled the run ended (with a report, an error or cancelled)
 */

/**
 * The store's name for an account ("user@server:port"): the one definition (the store keys
 * every record by it; inbox/accounts.js lists accounts by it).
 * @param {{ server?: string | undefined, port?: number | string | undefined, user?: string | undefined }} a
 */
export function accountId(a) {
  return `${a.user}@${a.server}:${a.port}`;
}

/**
 * The group of error `code` in the client's list (`errorCodes()`, the one definition), or
 * undefined (unknown, or the wasm not loaded yet).
 * @param {string | undefined} code
 */
export function groupOf(code) {
  try {
    return errorCodes().find((c) => c.code === code)?.group;
  } catch {
    return undefined;
  }
}

/**
 * The catalog's texts for error `code`, most specific first: its own (`code.*`), then its
 * group's (`group.*`). Empty without a code.
 * @param {string | undefined} code
 * @returns {string[]}
 */
export function errorKeys(code) {
  return code ? [`code.${code}`, `group.${groupOf(code)}`] : [];
}

/**
 * A kept message (a store summary) as an item of the list shown without a session.
 * @param {import('../store.js').SummaryRow} x
 * @param {number} i its place: message numbers of kept mail are negative (no session's)
 * @returns {InboxItem}
 */
function keptItem(x, i) {
  return { msg: -(i + 1), key: x.key, kept: x.full ? 'full' : 'headers', size: x.size, loaded: true, from: x.from, subject: x.subject, date: x.dateMs == null ? null : new Date(x.dateMs), marked: false };
}

// Messages per fetchHeaders call of the list: on screen first, then this many at a time. Rows
// fill in per call, and a row scrolled to waits for the call under way; fewer calls waited
// less on the network (1000 headers at 50 ms RTT: 0.1 s sooner with 500 than with 200).
const HEADER_BATCH = 500;

/** An export's bytes are folded into a Blob once this many are held (see BlobBuilder). */
const ARCHIVE_FOLD_BYTES = 16 * 1024 * 1024;

/**
 * A Blob built part by part (an export, and each message of an mbox export): bytes given are
 * folded into a Blob every ARCHIVE_FOLD_BYTES, so the page holds at most that much of them; a
 * Blob given is only referenced (a kept message, never read into the page for it).
 */
class BlobBuilder {
  /** @type {Blob[]} */
  #blobs = [];
  /** @type {(Uint8Array<ArrayBuffer> | Blob)[]} */
  #held = [];
  #heldBytes = 0;

  /** @param {Uint8Array<ArrayBuffer> | Blob} part */
  add(part) {
    this.#held.push(part);
    if (ArrayBuffer.isView(part)) this.#heldBytes += part.length;
    if (this.#heldBytes >= ARCHIVE_FOLD_BYTES) this.#fold();
  }

  #fold() {
    this.#blobs.push(new Blob(this.#held));
    this.#held = [];
    this.#heldBytes = 0;
  }

  /** Everything added, in order, as one file to save. */
  blob() {
    this.#fold();
    return new Blob(this.#blobs, { type: 'application/octet-stream' });
  }
}

// Header answers kept for the sync, bounded by their bytes (not their count): a mailbox of
// 10,000 messages has 5-20 MB of headers, and a header the cache drops is fetched again by the
// sync (TOP a second time for every message past the bound).
const TOP_CACHE_MAX_BYTES = 32 * 1024 * 1024;

export class InboxController {
  /** @type {{ attr: (name: string) => string | null, kiosk: () => boolean }} */
  #opt;
  /** @type {Map<string, Set<(detail: any) => void>>} listeners by event (on() types each one) */
  #listeners = new Map();
  /** @type {InboxApi | null} */
  #api = null;
  /** @type {Promise<InboxApi | null> | null} */
  #mockProbe = null; // promise: the mock module, or null where it is not served
  /** @type {Session | null} */
  #session = null;
  /** @type {AccountValues | null} */
  #creds = null; // kept only while a session is open, for Refresh (= reconnect); kiosk mode: without the password
  #passwordKept = false; // #creds holds the password (never in kiosk mode: Refresh asks for it again)
  /** @type {InboxItem[]} */
  #items = []; // newest first
  /** @type {Map<number, number>} */
  #index = new Map(); // msg -> position in #items
  /** @type {import('../search.js').MailSearch | null} search over this account's kept mail (web/search.js) */
  search = null;
  /** @type {Set<string> | null} store keys of the search results shown; null: every message */
  #filter = null;
  /** @type {InboxItem[] | null} #items filtered by #filter (recomputed when either changes) */
  #shown = null;
  /** @type {AbortController | null} */
  #loader = null; // AbortController of the running header load
  /** @type {Store | null} */
  #store = null; // this account's offline store (IndexedDB, or memory in kiosk mode); null: off
  /** @type {string | null} */
  #account = null; // "user@server:port": the store's name for the account
  /** @type {SyncState | null} */
  #sync = null; // this session's background sync: { ctrl, promise, report }
  #offline = false; // showing the store without a session
  #allInboxes = false; // offline, every account's kept mail together ("All inboxes")
  /** @type {Map<number, Uint8Array>} */
  #topCache = new Map(); // msg -> TOP n 0 bytes read by the list, handed to the sync once
  #topCacheBytes = 0;
  /**
   * connect()'s `endToEnd` (undefined: its default, 'prefer') and `tlsTrust` (CAs and pins for
   * TLS that ends in the page), as the embedding page set them on the element.
   * @type {{ endToEnd?: boolean | 'require' | 'prefer' | undefined, tlsTrust?: import('../types.js').TlsTrust | undefined }}
   */
  tls = {};

  /**
   * `attr(name)`: the element's attribute now; `kiosk()`: whether kiosk mode is on now;
   * `api`: a module with the shape of pop3.js to use instead of loading one (tests in node);
   * `i18n`: the element's language, for the status lines it writes (default English).
   * @param {{ attr: (name: string) => string | null, kiosk: () => boolean, api?: InboxApi | null, i18n?: I18n }} options
   */
  constructor({ attr, kiosk, api = null, i18n = ENGLISH }) {
    this.#opt = { attr, kiosk };
    this.#api = api;
    this.#i18n = i18n;
  }

  #i18n;

  /**
   * Listens to `type`; returns the function that stops listening.
   * @template {keyof InboxEvents} K
   * @param {K} type
   * @param {(detail: InboxEvents[K]) => void} fn
   * @returns {() => void}
   */
  on(type, fn) {
    if (!this.#listeners.has(type)) this.#listeners.set(type, new Set());
    /** @type {Set<(detail: any) => void>} */ (this.#listeners.get(type)).add(fn);
    return () => this.#listeners.get(type)?.delete(fn);
  }

  /**
   * @template {keyof InboxEvents} K
   * @param {K} type
   * @param {InboxEvents[K]} [detail]
   */
  #emit(type, detail) {
    for (const fn of this.#listeners.get(type) ?? []) fn(detail);
  }

  /** @param {boolean} now */
  #emitItems(now) {
    this.#shown = null;
    this.#emit('items', { now });
  }

  /** @param {string | Msg} text */
  #syncNote(text) {
    this.#emit('syncnote', text || '');
  }

  get kiosk() {
    return this.#opt.kiosk();
  }

  get session() {
    return this.#session;
  }

  get creds() {
    return this.#creds;
  }

  /** Whether Refresh can sign in again by itself (false in kiosk mode: the password is gone). */
  get canReconnect() {
    return !!this.#creds && this.#passwordKept && !this.kiosk;
  }

  get offline() {
    return this.#offline;
  }

  /** The list is every account's kept mail together (offline, read only but for device copies). */
  get allInboxes() {
    return this.#allInboxes;
  }

  get store() {
    return this.#store;
  }

  get account() {
    return this.#account;
  }

  /** The items the list shows: all, or the search results (`setFilter`). */
  get items() {
    const f = this.#filter;
    if (!f) return this.#items;
    return (this.#shown ??= this.#items.filter((it) => it.key != null && f.has(it.key)));
  }

  /**
   * Shows only the messages with these store keys (the search field's results); null: all.
   * @param {Set<string> | null} keys
   */
  setFilter(keys) {
    this.#filter = keys;
    this.#emitItems(true);
  }

  /** Every item of the list, whatever the search shows. */
  get allItems() {
    return this.#items;
  }

  /** The list shows search results, not every message. */
  get filtered() {
    return !!this.#filter;
  }

  /** The list or the background sync is still working (a new session now would cut it short). */
  get busy() {
    return !!this.#loader || (!!this.#sync && !this.#sync.settled);
  }

  /** The running header load was aborted (undefined when none runs). */
  get loadAborted() {
    return this.#loader?.signal.aborted;
  }

  /** @param {number} i */
  itemAt(i) {
    return this.items[i];
  }

  /** @param {number} msg */
  indexOf(msg) {
    if (!this.#filter) return this.#index.get(msg);
    const i = this.items.findIndex((it) => it.msg === msg);
    return i < 0 ? undefined : i;
  }

  /**
   * @param {number | null} msg
   * @returns {InboxItem | null}
   */
  #itemOf(msg) {
    const i = this.#index.get(/** @type {number} */ (msg));
    return i === undefined ? null : this.#items[i];
  }

  /** @param {number | null} msg */
  itemOf(msg) {
    return this.#itemOf(msg);
  }

  keptCount() {
    return this.#items.filter((x) => x.kept === 'full').length;
  }

  // ------------------------------------------------------------------ the API and the session

  /**
   * `api="mock"` asks for ./dev/mock-api.js. That module is served only where tests or a
   * developer turned dev pages on (the bridge's `dev_pages`); elsewhere it 404s and the
   * attribute is ignored, so a crafted link cannot put the page on the mock.
   */
  #mockModule() {
    if (this.#opt.attr('api') !== 'mock') return Promise.resolve(null);
    this.#mockProbe ??= import(new URL('../dev/mock-api.js', import.meta.url).href).catch(() => null);
    return this.#mockProbe;
  }

  /** True when the mock API is (or would be) in use. */
  async usesMock() {
    return !!(await this.#mockModule());
  }

  /** @returns {Promise<InboxApi>} */
  async loadApi() {
    if (this.#api) return this.#api;
    const mock = await this.#mockModule();
    if (mock) {
      this.#api = mock;
      return this.#api;
    }
    try {
      // A static specifier: bundlers split the client off and still find it.
      this.#api = /** @type {InboxApi} */ (/** @type {unknown} */ (await import('../pop3.js')));
    } catch (err) {
      throw Object.assign(new Error(this.#i18n.text('error.loadClient')), {
        code: 'load_failed',
        detail: String(/** @type {ErrorLike} */ (err)?.message || err),
      });
    }
    return /** @type {InboxApi} */ (this.#api);
  }

  /**
   * The initialised client package (the sync engine, checksums, archives), or null when the
   * API in use has none.
   * @returns {Promise<Pop3Wasm | null>}
   */
  async wasm() {
    const api = await this.loadApi();
    return typeof api.wasm === 'function' ? api.wasm() : null;
  }

  /**
   * Connects with `values` and opens the account's store. Throws Pop3Error on failure.
   * @param {AccountValues} values
   * @param {string} bridgeUrl
   * @returns {Promise<Session>}
   */
  async open(values, bridgeUrl) {
    const api = await this.loadApi();
    // The client's wasm first: the list's header display (summarizeHeaders, displayName) and
    // the error codes the UI shows (errorCodes) come from it. A real connect() loads it anyway;
    // an API that does not need it (the mock) still gets it here.
    await this.wasm().catch(() => null);
    const options = {
      bridgeUrl,
      host: values.server,
      port: values.port,
      security: values.security,
      user: values.user,
      password: values.password,
      allowInsecure: values.allowInsecure,
      ...this.#tlsOptions(values),
    };
    // Kiosk mode keeps the password only as long as the login needs it: once it succeeded or
    // failed, no object here holds it (the caller's `values` included); a new session asks
    // for it again. Elsewhere it stays with the session, for Refresh.
    const keep = !this.kiosk;
    let session;
    try {
      session = await api.connect(options);
    } finally {
      if (!keep) options.password = values.password = '';
    }
    this.#session = session;
    this.#creds = values;
    this.#passwordKept = keep;
    this.#offline = false;
    this.#allInboxes = false;
    await this.#openStore(values);
    return session;
  }

  /**
   * connect()'s `endToEnd` and `tlsTrust`: the page's (the element's `endToEnd`, `tlsTrust`),
   * and with a certificate fingerprint the user typed (`values.pin`), that pin added to the
   * page's pins and CAs and `endToEnd: true`: only TLS that ends in the page uses the user's
   * trust (TLS at the bridge uses only its operator's), so anything else could not honour it.
   * @param {AccountValues} values
   * @returns {{ endToEnd?: boolean | 'require' | 'prefer', tlsTrust?: import('../types.js').TlsTrust }}
   */
  #tlsOptions(values) {
    const { endToEnd, tlsTrust } = this.tls;
    const pin = values.security === 'plain' ? '' : values.pin || '';
    if (pin) {
      const pins = [...(tlsTrust?.pins ?? []), pin];
      return { endToEnd: true, tlsTrust: { ...tlsTrust, pins } };
    }
    return {
      ...(endToEnd === undefined ? {} : { endToEnd }),
      ...(tlsTrust ? { tlsTrust } : {}),
    };
  }

  /** A new session's list starts empty. */
  resetMailbox() {
    this.#items = [];
    this.#index.clear();
    this.#topCache.clear();
    this.#topCacheBytes = 0;
  }

  /**
   * Reads the list, fills what the store knows, then the headers newest first in batches.
   * `priority(max)`: the messages on screen without headers (fetched first); `progress`:
   * { update(done, total, text) }. Throws what the server said, except cancellation.
   * @param {{ priority: (max: number) => number[], progress: Pick<DelayedProgress, 'update'> }} options
   */
  async loadMailbox({ priority, progress }) {
    const session = /** @type {Session} */ (this.#session);
    this.#loader?.abort();
    const ctrl = new AbortController();
    this.#loader = ctrl;
    // The sync starts once the first screen of headers is in, beside the rest of them (its
    // listing and records meanwhile), and reads them when they are all here.
    /** @type {() => void} */
    let headersDone = () => {};
    const headersReady = new Promise((resolve) => (headersDone = () => resolve(undefined)));
    let syncStarted = false;
    const startSync = () => {
      if (syncStarted || ctrl.signal.aborted || this.#session !== session) return;
      syncStarted = true;
      this.#startSync(headersReady);
    };
    try {
      const list = await session.list();
      if (ctrl.signal.aborted) return;
      list.sort((a, b) => b.msg - a.msg);
      // UIDL once: the store's identities and what is new since the last session (new-mail.js).
      const uidl = typeof session.uidl === 'function' ? await session.uidl().catch(() => null) : null;
      if (ctrl.signal.aborted) return;
      const uidOf = new Map((uidl ?? []).map((u) => [u.msg, u.uid]));
      this.#items = list.map((m) => ({ msg: m.msg, size: m.size, loaded: false, from: '', subject: '', date: null, marked: false, uid: uidOf.get(m.msg) ?? null }));
      this.#index = new Map(this.#items.map((it, i) => [it.msg, i]));
      // Mail already kept here shows at once, without asking the server for its headers again.
      await this.#prefillFromStore(uidl);
      if (ctrl.signal.aborted) return;
      this.#emit('listed');

      // Headers newest first, in batches; rows fill in as batches arrive. Whatever is on
      // screen is fetched first, so scrolling far down never waits for everything above.
      const total = this.#items.length;
      let loaded = 0;
      let next = 0;
      while (!ctrl.signal.aborted) {
        const batch = priority(HEADER_BATCH);
        if (!batch.length) {
          while (next < total && this.#items[next].loaded) next++;
          for (let i = next; i < total && batch.length < HEADER_BATCH; i++) if (!this.#items[i].loaded) batch.push(this.#items[i].msg);
        }
        if (!batch.length) break;
        const base = loaded;
        progress.update(base, total, this.#i18n.t('inbox.headers', { done: base, total }));
        const got = await session.fetchHeaders({
          msgs: batch,
          signal: ctrl.signal,
          onProgress: ({ done }) => progress.update(base + done, total, this.#i18n.t('inbox.headers', { done: base + done, total })),
        });
        if (ctrl.signal.aborted) return;
        for (const r of got) {
          const i = this.#index.get(r.msg);
          if (i === undefined) continue;
          // The sync needs these same headers; bounded, the rest it asks for itself.
          if (this.#store && this.#topCacheBytes + r.headers.length <= TOP_CACHE_MAX_BYTES) {
            this.#topCache.set(r.msg, r.headers);
            this.#topCacheBytes += r.headers.length;
          }
          const it = this.#items[i];
          const sum = /** @type {HeaderSummary} */ (summarizeHeaders(r.headers)); // (pkg's .d.ts says `object`)
          Object.assign(it, { loaded: true, from: sum.from, subject: sum.subject, date: sum.date });
          if (r.size) it.size = r.size;
        }
        // A message that vanished server-side must not stall the loop: mark it as loaded. Its
        // subject says so in the language of the moment the row is drawn (the list draws its
        // rows again after a language change).
        for (const m of batch) {
          const i = this.#index.get(m);
          if (i === undefined || this.#items[i].loaded) continue;
          Object.assign(this.#items[i], { loaded: true, from: '' });
          Object.defineProperty(this.#items[i], 'subject', { get: () => this.#i18n.text('list.headersUnavailable'), enumerable: true, configurable: true });
        }
        loaded += batch.length;
        this.#emitItems(true);
        // Keep the mail on this device in the background (policy permitting).
        startSync();
      }
      startSync();
    } catch (err) {
      if (/** @type {ErrorLike} */ (err)?.code === 'cancelled' || ctrl.signal.aborted) return;
      throw err;
    } finally {
      // Every header this loop will fetch is here (after a failure, a sync already started
      // asks the server itself for the rest).
      headersDone();
      if (this.#loader === ctrl) this.#loader = null;
    }
  }

  abortLoad() {
    this.#loader?.abort();
  }

  /** Leaving the page without QUIT: POP3 then discards deletion marks (nothing is deleted). */
  disconnect() {
    this.#loader?.abort();
    this.#sync?.ctrl.abort();
    this.#session?.close();
  }

  /** Ends the session without QUIT (kiosk idle logout): POP3 then deletes nothing. */
  drop() {
    this.#loader?.abort();
    this.#sync?.ctrl.abort();
    try {
      this.#session?.close();
    } catch {
      /* already closed */
    }
    this.#session = null;
    this.#creds = null;
  }

  forgetCreds() {
    this.#creds = null;
  }

  /** Back to the sign-in form: no list, no store (kiosk mode wipes first, see wipe()). */
  leave() {
    this.#loader?.abort();
    this.#offline = false;
    this.#allInboxes = false;
  }

  clearItems() {
    this.#items = [];
    this.#index.clear();
  }

  // ------------------------------------------------------------------ deletion and QUIT

  markedCount() {
    let n = 0;
    for (const it of this.#items) if (it.marked) n++;
    return n;
  }

  /**
   * DELE: the item stays marked until QUIT (or RSET).
   * @param {InboxItem} it
   */
  async mark(it) {
    await /** @type {Session} */ (this.#session).dele(it.msg);
    it.marked = true;
  }

  /**
   * Un-marks one message. POP3 only has RSET (un-mark all), so re-mark the others.
   * @param {number} msg
   */
  async undo(msg) {
    // Marks made by the sync policy are not made again: Undo keeps them on the server this time.
    const others = this.#items.filter((x) => x.marked && !x.byPolicy && x.msg !== msg).map((x) => x.msg);
    await /** @type {Session} */ (this.#session).rset();
    await this.#afterRset();
    for (const it of this.#items) it.marked = false;
    for (const m of others) {
      await /** @type {Session} */ (this.#session).dele(m);
      this.#items[/** @type {number} */ (this.#index.get(m))].marked = true;
    }
  }

  async undoAll() {
    await /** @type {Session} */ (this.#session).rset();
    await this.#afterRset();
    for (const it of this.#items) it.marked = false;
  }

  /**
   * QUIT (which commits deletions) and the truth about it: { committed, deleted, error,
   * marked }. `marked`: how many were marked when the user confirmed.
   * @param {number} marked
   * @returns {Promise<QuitOutcome>}
   */
  async quit(marked) {
    this.#loader?.abort();
    const session = /** @type {Session} */ (this.#session);
    /** @type {Omit<QuitOutcome, 'marked'> | undefined} */
    let result;
    try {
      const r = await session.quit();
      result = { committed: !!r?.committed, deleted: r?.committed ? marked : 0, error: null };
    } catch (err) {
      result = { committed: false, deleted: 0, error: /** @type {ErrorLike} */ (err) };
    } finally {
      await this.#finishSync(result?.committed === true);
      try {
        session.close();
      } catch {
        /* already closed */
      }
      this.#session = null;
    }
    return { .../** @type {Omit<QuitOutcome, 'marked'>} */ (result), marked };
  }

  // ------------------------------------------------------------------ offline store

  /** Where mail is kept: 'indexeddb' | 'memory' | 'off'. Kiosk mode never writes to disk. */
  /** @returns {Promise<'indexeddb' | 'memory' | 'off'>} */
  async storeMode() {
    const a = this.#opt.attr('store');
    if (a === 'off') return 'off';
    if (this.kiosk || a === 'memory') return 'memory';
    if (a === 'on') return 'indexeddb';
    // The mock's 10 000 generated messages are for UI work, not for filling a real store.
    return (await this.usesMock()) ? 'off' : 'indexeddb';
  }

  /** Whether this page keeps mail on disk (IndexedDB): not kiosk mode, the store on, IndexedDB here. */
  async #onDisk() {
    return !this.kiosk && (await this.storeMode()) === 'indexeddb' && !!globalThis.indexedDB;
  }

  /**
   * The IndexedDB store, opened for work on any account (all inboxes, removing one), its
   * checksums by the client's wasm where it loads (WebCrypto otherwise).
   */
  async #openDiskStore() {
    const w = await this.wasm().catch(() => null);
    return openStore(w ? { hash: async (b) => w.sha256Hex(b) } : {});
  }

  /** @param {AccountRef} values */
  async #openStore(values) {
    this.closeStore();
    this.#account = accountId(values);
    const mode = await this.storeMode();
    if (mode === 'off') return;
    try {
      const w = await this.wasm();
      if (!w) return;
      this.#store = await openStore({ memory: mode === 'memory', hash: async (b) => w.sha256Hex(b) });
      this.#emit('store');
      // Search comes when its index is loaded; the inbox never waits for it, nor fails with it.
      const store = this.#store;
      openSearch(store, this.#account, { onChange: () => this.#emit('searchchanged') }).then(
        (s) => (this.#store === store ? (this.search = s) : s.close()),
        (err) => console.warn('pop3: search is not available', err),
      );
    } catch (err) {
      this.#store = null;
      this.#syncNote(this.#i18n.t('sync.noStore', { error: this.errorText(/** @type {ErrorLike} */ (err)) }));
    }
  }

  closeStore() {
    this.search?.close();
    this.search = null;
    this.setFilter(null);
    try {
      this.#store?.close();
    } catch {
      /* already closed */
    }
    this.#store = null;
    this.#emit('store');
  }

  /**
   * How many messages the store keeps for a remembered account (0: none, or no store).
   * @param {AccountRef} r
   */
  async keptFor(r) {
    if (!(await this.#onDisk())) return 0;
    try {
      const store = await openStore();
      const rows = await store.summaries(accountId(r));
      store.close();
      return rows.length;
    } catch {
      return 0; /* no store: nothing to offer */
    }
  }

  /**
   * The mail kept for the account of `values` becomes the list, without a session (reading
   * works; new mail needs a connection). Resolves false when nothing is kept (or no store).
   * @param {AccountRef} values
   */
  async loadKept(values) {
    if (!(await this.#onDisk())) return false;
    await this.#openStore(values);
    if (!this.#store) return false;
    const rows = await this.#store.summaries(/** @type {string} */ (this.#account));
    if (!rows.length) return false;
    this.#offline = true;
    this.#allInboxes = false;
    this.#session = null;
    this.#creds = null;
    this.#items = rows.map((x, i) => keptItem(x, i));
    this.#index = new Map(this.#items.map((it, i) => [it.msg, i]));
    return true;
  }

  /**
   * The accounts with mail kept on this device, and how many messages each (none in kiosk
   * mode, nor without IndexedDB).
   * @returns {Promise<{ account: string, kept: number }[]>}
   */
  async accountsKept() {
    if (!(await this.#onDisk())) return [];
    const store = await openStore();
    try {
      const names = await store.accountNames();
      return await Promise.all(names.map(async (account) => ({ account, kept: (await store.summaries(account)).length })));
    } finally {
      store.close();
    }
  }

  /**
   * "All inboxes": every account's kept mail becomes the list, newest first, each item naming
   * its account; no session (new mail and server deletions need one). Resolves the accounts
   * shown with their counts (empty: nothing kept, the list is unchanged).
   * @returns {Promise<{ account: string, kept: number }[]>}
   */
  async loadAll() {
    if (!(await this.#onDisk())) return [];
    this.closeStore();
    const store = await this.#openDiskStore();
    const rows = [];
    /** @type {{ account: string, kept: number }[]} */
    const counts = [];
    for (const account of await store.accountNames()) {
      const mine = await store.summaries(account);
      if (mine.length) counts.push({ account, kept: mine.length });
      for (const x of mine) rows.push({ ...x, account });
    }
    if (!rows.length) {
      store.close();
      return [];
    }
    rows.sort((a, b) => (b.dateMs || 0) - (a.dateMs || 0));
    this.#store = store; // no search: its index is per account
    this.#account = null;
    this.#offline = true;
    this.#allInboxes = true;
    this.#session = null;
    this.#creds = null;
    this.#emit('store');
    this.#items = rows.map((x, i) => ({ ...keptItem(x, i), account: x.account }));
    this.#index = new Map(this.#items.map((it, i) => [it.msg, i]));
    return counts;
  }

  /**
   * Removes an account from this device: its kept mail, records and settings (the store's
   * `wipeAccount`). The caller forgets what "remember" kept of it.
   * @param {string} account
   */
  async removeAccount(account) {
    if (this.#account === account) this.closeStore();
    if (!(await this.#onDisk())) return;
    const store = await this.#openDiskStore();
    try {
      // Its search index (web/search.js, a database of its own) follows the store's wipe: it
      // is opened first, so it hears of it and drops every word; once it has settled and
      // closed, its record (the account's name with it) is deleted too.
      const search = await openSearch(store, account, { background: false }).catch(() => null);
      await store.wipeAccount(account);
      if (search) {
        await search.settled();
        search.close();
      }
      await deleteSearchIndex(account);
    } finally {
      store.close();
    }
  }

  /**
   * Deletes a kept message from this device (offline), then from the list.
   * @param {InboxItem} it
   */
  async deleteLocal(it) {
    await /** @type {Store} */ (this.#store).deleteLocal(/** @type {string} */ (it.account ?? this.#account), /** @type {string} */ (it.key));
  }

  /** @param {InboxItem} it */
  removeItem(it) {
    this.#items = this.#items.filter((x) => x !== it);
    this.#index = new Map(this.#items.map((x, i) => [x.msg, i]));
  }

  /** Kiosk logout or tab close: every trace of the user this controller holds goes. */
  wipe() {
    this.#sync?.ctrl.abort();
    this.#sync = null;
    this.closeStore(); // the memory store forgets everything on close
    this.#account = null;
    this.#items = [];
    this.#index.clear();
  }

  /** @returns {Promise<AccountSettings>} */
  async settings() {
    const saved = this.#store ? await this.#store.account(/** @type {string} */ (this.#account)).catch(() => null) : null;
    return { policy: { mode: 'leave' }, riskAccepted: false, ...saved?.settings };
  }

  /** @param {AccountSettings} settings */
  async saveSettings(settings) {
    const prev = (await /** @type {Store} */ (this.#store).account(/** @type {string} */ (this.#account))) ?? {};
    await /** @type {Store} */ (this.#store).saveAccount(/** @type {string} */ (this.#account), { ...prev, settings });
  }

  /**
   * The account's new-mail settings (web/inbox/new-mail.js), beside its AccountSettings in
   * the same record: `seconds` between checks (0: off), `notify` desktop notifications on.
   * Null when none were saved, or there is no store (kiosk mode: memory only, gone at logout).
   * @returns {Promise<{ seconds?: number, notify?: boolean } | null>}
   */
  async newMailSettings() {
    const saved = this.#store ? await this.#store.account(/** @type {string} */ (this.#account)).catch(() => null) : null;
    const v = saved?.newMail;
    if (!v || typeof v !== 'object') return null;
    const { seconds, notify } = /** @type {{ seconds?: unknown, notify?: unknown }} */ (v);
    return { ...(typeof seconds === 'number' && { seconds }), ...(typeof notify === 'boolean' && { notify }) };
  }

  /**
   * Remembers the new-mail settings for this account (nowhere when there is no store).
   * @param {{ seconds: number, notify: boolean }} newMail
   */
  async saveNewMailSettings(newMail) {
    if (!this.#store) return;
    const prev = (await this.#store.account(/** @type {string} */ (this.#account))) ?? {};
    await this.#store.saveAccount(/** @type {string} */ (this.#account), { ...prev, newMail });
  }

  /**
   * The kept mail as an mboxrd or `.eml` zip, oldest first: { blob, name, count, damaged }.
   * Written a message at a time, each read in pieces and checked against its checksum, so the
   * page holds one piece of one message and at most ARCHIVE_FOLD_BYTES of what is written for
   * that message and for the archive: the archive is a Blob of parts (a zip's messages are the
   * kept Blobs themselves), whose bytes are the browser's to keep. A copy here that fails its
   * checksum is left out and counted in `damaged`. The writer and the checksum are the reading
   * module's.
   * @param {'mbox' | 'zip'} kind
   * @returns {Promise<{ blob: Blob, name: string, count: number, damaged: number }>}
   */
  async exportArchive(kind) {
    await readingModule();
    const store = /** @type {Store} */ (this.#store);
    const account = /** @type {string} */ (this.#account);
    const [rows, known] = await Promise.all([store.summaries(account), store.known(account)]);
    const uid = new Map(known.map((k) => [k.key, k.uid ?? null]));
    const archive = new BlobBuilder();
    const writer = new ArchiveWriter(kind);
    // (Fresh buffers from the wasm glue, as a Blob takes them.)
    const take = (/** @type {Uint8Array} */ bytes) => /** @type {Uint8Array<ArrayBuffer>} */ (bytes);
    let count = 0;
    let damaged = 0;
    try {
      // summaries() is newest first.
      for (const r of rows.filter((r) => r.full).reverse()) {
        // dateMs dates the mbox "From " line and the zip entry; without it they say 1970.
        writer.begin(uid.get(r.key) ?? null, r.dateMs ?? undefined);
        // What the writer gives for this message (mbox: all of it, quoted; zip: nothing), held
        // apart until its checksum is checked.
        const message = new BlobBuilder();
        /** @type {Blob} */
        let bytes;
        try {
          bytes = await store.readInPieces(account, r.key, {
            onPiece: (piece) => {
              const out = take(writer.write(piece));
              if (out.length) message.add(out);
            },
            hasher: () => new Sha256Stream(),
          });
        } catch (err) {
          const code = /** @type {ErrorLike} */ (err)?.code;
          // A Blob the browser can no longer read is a damaged copy too.
          const unreadable = err instanceof DOMException && (err.name === 'NotReadableError' || err.name === 'NotFoundError');
          // Damaged here, or deleted meanwhile: left out; anything else ends the export.
          if (code !== 'corrupt' && code !== 'not_found' && !unreadable) throw err;
          writer.abandon();
          if (code !== 'not_found') damaged++;
          continue;
        }
        const end = take(writer.end());
        if (kind === 'zip') {
          archive.add(end);
          archive.add(bytes);
        } else {
          message.add(end);
          archive.add(message.blob());
        }
        count++;
      }
      archive.add(take(writer.finish()));
    } finally {
      writer.free();
    }
    const name = `${account.replace(/[^A-Za-z0-9@._-]+/g, '_')}.${kind === 'zip' ? 'zip' : 'mbox'}`;
    return { blob: archive.blob(), name, count, damaged };
  }

  /**
   * Keeps the messages of an archive that this account does not have yet.
   * @param {Uint8Array} bytes
   * @returns {Promise<{ count: number, format: 'mbox' | 'zip', skipped: number }>}
   */
  async importArchive(bytes) {
    await readingModule();
    const known = await /** @type {Store} */ (this.#store).known(/** @type {string} */ (this.#account));
    // The engine drops what this account already has (same UIDL or the same bytes).
    const got = importArchive(bytes, { known, nowMs: Date.now() });
    for (const m of got.messages) {
      // The engine's record (its key included): no key is made up here.
      const summary = summaryOf(m.raw, m.raw.length);
      await /** @type {Store} */ (this.#store).commitMessage(/** @type {string} */ (this.#account), { key: m.record.key, bytes: m.raw, full: true, summary, known: m.record });
    }
    return { count: got.messages.length, format: got.format, skipped: got.skipped };
  }

  // ------------------------------------------------------------------ store and sync
  // Every decision (identity, records, what fits, what is deleted, here or on the server) is
  // the sync engine's (pop3-sync, through web/sync.js); this part only applies its answers.

  /**
   * Stored summaries fill the list at once; only unknown messages need TOP from the server.
   * Which stored record a listed message is, is the sync engine's answer (reused UIDLs and
   * fingerprints honoured), never a lookup here.
   * @param {import('../types.js').UidlEntry[] | null} uidl the session's UIDL (null: none)
   */
  async #prefillFromStore(uidl) {
    if (!this.#store || !uidl) return;
    try {
      const w = await this.wasm();
      if (!w) return;
      const kept = await identifyKept({
        store: this.#store,
        account: /** @type {string} */ (this.#account),
        SyncRun: w.SyncRun,
        list: this.#items.map(({ msg, size }) => ({ msg, size })),
        uidl,
      });
      for (const k of kept) {
        const i = this.#index.get(k.msg);
        if (i === undefined) continue;
        const date = k.summary.dateMs == null ? null : new Date(k.summary.dateMs);
        Object.assign(this.#items[i], { loaded: true, key: k.key, uid: k.uid, kept: k.kept, from: k.summary.from, subject: k.summary.subject, date });
      }
    } catch {
      /* no UIDL or no store: the headers simply come from the server */
    }
  }

  /**
   * The message's bytes: from this device when kept (checksum verified), else RETR.
   * @param {InboxItem} it
   * @returns {Promise<Uint8Array>}
   */
  async messageBytes(it) {
    if (this.#store && it.key && it.kept === 'full') {
      try {
        return await this.#store.readMessage(/** @type {string} */ (it.account ?? this.#account), it.key);
      } catch (err) {
        // Damaged or missing copy: fetch it again when the server still has it.
        if (!this.#session || !(it.msg > 0)) throw err;
        it.kept = null;
      }
    }
    if (!this.#session || !(it.msg > 0)) {
      throw Object.assign(new Error(this.#i18n.text('code.offline')), { code: 'offline' });
    }
    const bytes = await this.#session.retr(it.msg);
    this.#keepOnDemand(it, bytes);
    return bytes;
  }

  /**
   * A message too big to read whole (store.js's BIG_MESSAGE), piece by piece: from this
   * device when kept, its checksum checked as it goes (`hasher`); else from the server,
   * downloaded in pieces and then kept here as it came (a Blob, never whole in the page).
   * `begin()` gives where the pieces go, from the first; it is called again when the reading
   * starts over (a damaged copy here, downloaded instead). Resolves with its bytes as a Blob;
   * or null when it is not such a message, or neither kept nor on a server this session
   * reaches (`messageBytes` says why).
   * @param {InboxItem} it
   * @param {() => (piece: Uint8Array) => void} begin
   * @param {() => import('../store.js').StreamHasher} hasher
   * @returns {Promise<Blob | null>}
   */
  async readInPieces(it, begin, hasher) {
    if (!(it.size > BIG_MESSAGE)) return null;
    if (this.#store && it.key && it.kept === 'full') {
      try {
        return await this.#store.readInPieces(/** @type {string} */ (it.account ?? this.#account), it.key, { onPiece: begin(), hasher });
      } catch (err) {
        // Damaged or missing copy: read it from the server when it still has it.
        if (!this.#session || !(it.msg > 0)) throw err;
        it.kept = null;
      }
    }
    const session = this.#session;
    if (!session || !(it.msg > 0)) return null;
    const onPiece = begin();
    // The first piece holds the header section (the record and the summary come from it).
    const pieces = new Pieces(`message ${it.msg}`);
    /** @type {Uint8Array | null} */
    let came = null;
    /** @type {{ size: number, sha256: string } | null} */
    let streamed = null;
    await session.download([it.msg], {
      streamOver: HEAD_PIECE,
      onChunk: (_msg, piece) => {
        pieces.add(piece);
        onPiece(piece);
      },
      onMessage: (_msg, whole, info) => {
        // (Whole: smaller than LIST said, it came whole after all.)
        if (whole) {
          came = whole;
          pieces.add(whole);
          onPiece(whole);
        }
        streamed = info ?? null;
      },
    });
    if (came) {
      this.#keepOnDemand(it, came);
      return pieces.blob();
    }
    const s = /** @type {{ size: number, sha256: string } | null} */ (streamed);
    if (!s) return pieces.blob();
    // Kept only with every piece in it (else shown, not kept): the checksum vouches for all.
    /** @type {Blob} */
    let blob;
    try {
      blob = pieces.whole(s.size);
    } catch {
      return pieces.blob();
    }
    this.#keepOnDemand(it, blob, { head: pieces.head, sha256: s.sha256 });
    return blob;
  }

  /** A message read before the sync kept it (or over the size limit): keep it now, under the record the sync engine gives (it says when nothing may be written). */
  /**
   * @param {InboxItem} it
   * @param {Uint8Array | Blob} bytes
   * @param {{ head: Uint8Array, sha256: string }} [streamed] a Blob's header section and checksum
   */
  async #keepOnDemand(it, bytes, streamed) {
    if (!this.#store || it.kept === 'full') return;
    try {
      const r = await keepOnDemand({ store: this.#store, account: /** @type {string} */ (this.#account), run: this.#sync?.run, msg: it.msg, bytes, streamed });
      if (!r) return;
      it.key = r.key;
      it.kept = 'full';
      this.#emitItems(false);
    } catch {
      /* best effort: the next sync keeps it */
    }
  }

  /** @param {Promise<unknown>} headersReady settles when the list's headers are all fetched */
  async #startSync(headersReady) {
    if (!this.#store || !this.#session || this.#sync) return;
    const session = this.#session;
    let w;
    try {
      w = await this.wasm();
    } catch {
      return;
    }
    if (!w || this.#session !== session || this.#sync) return;
    const settings = await this.settings();
    const policy = this.kiosk ? /** @type {SyncPolicy} */ ({ mode: 'leave' }) : settings.policy;
    /** @type {Msg[]} */
    const notes = [];
    // Deleting on the server needs a copy here that the browser promised not to evict.
    let allowDelete = !this.kiosk;
    if (allowDelete && policy.mode !== 'leave' && this.#store.kind === 'indexeddb' && !settings.riskAccepted && !(await requestPersistence())) {
      allowDelete = false;
      notes.push(this.#i18n.t('sync.notPersisted'));
    }
    const ctrl = new AbortController();
    /** @type {SyncState} */
    const s = { ctrl, run: null, report: null, promise: null, settled: false };
    this.#sync = s;
    this.#syncNote(this.#i18n.t('sync.keeping'));
    let noteShown = -Infinity; // when the progress note last changed (performance.now())
    s.promise = syncAccount({
      session,
      store: this.#store,
      account: /** @type {string} */ (this.#account),
      policy,
      SyncRun: w.SyncRun,
      signal: ctrl.signal,
      allowDelete,
      headersReady,
      headersOf: (msg) => this.#topCache.get(msg),
      onRun: (run) => (s.run = run),
      onProgress: (p) => {
        // The note changes at most ten times a second, and at the last message: a DOM write
        // per message was a sixteenth of the page's work while it kept 1000 small messages.
        const now = performance.now();
        if (p.phase === 'bodies' && this.#sync === s && (p.done === p.total || now - noteShown >= 100)) {
          noteShown = now;
          const i18n = this.#i18n;
          const { done, total, bytes, totalBytes } = p;
          this.#syncNote(
            totalBytes
              ? i18n.t('sync.progressBytes', { done, n: total, bytes: i18n.lazy(() => i18n.size(bytes)), total: i18n.lazy(() => i18n.size(totalBytes)) })
              : i18n.t('sync.progress', { done, n: total }),
          );
        }
      },
      onStored: ({ msg, key, full }) => {
        const it = this.#itemOf(msg);
        if (!it) return;
        Object.assign(it, { key, kept: full ? 'full' : it.kept === 'full' ? 'full' : 'headers' });
        this.#emitItems(false);
      },
    });
    s.promise = /** @type {Promise<SyncReport>} */ (s.promise)
      .finally(() => {
        this.#topCache.clear();
        this.#topCacheBytes = 0;
        s.settled = true;
      })
      .then(
      (report) => {
        s.report = report;
        if (this.#sync === s) this.#afterSync(report, notes);
        return report;
      },
      (/** @type {ErrorLike | null} */ err) => {
        if (this.#sync === s && err?.code !== 'cancelled' && !ctrl.signal.aborted) {
          this.#syncNote(this.#i18n.t('sync.stopped', { error: this.errorText(err) }));
        }
        return null;
      },
    );
  }

  /**
   * @param {SyncReport} report
   * @param {Msg[]} notes
   */
  #afterSync(report, notes) {
    for (const en of report.plan?.entries ?? []) {
      const it = this.#itemOf(en.msg);
      if (it && en.key) Object.assign(it, { key: en.key, uid: en.uid ?? null });
    }
    // What the policy deletes shows like the user's own marks: listed, and undoable (RSET).
    for (const d of report.deletions) {
      const it = this.#itemOf(d.msg);
      if (it) Object.assign(it, { marked: true, byPolicy: true });
    }
    const i18n = this.#i18n;
    // What the sync layer reported (why it did nothing, its error, its warnings), by code.
    /** @type {Msg[]} */
    const lines = [];
    if (report.blocked) lines.push(this.#layerText(report.blocked.message, [`sync.warn.${report.blocked.code}`]));
    if (report.error) lines.push(i18n.t('sync.errorNothingDeleted', { error: this.errorText(report.error) }));
    for (const w of report.warnings) lines.push(this.#layerText(w.message, [`sync.warn.${w.code}`], { n: w.count }));
    lines.push(...notes);
    const n = this.#items.filter((x) => x.kept === 'full').length;
    const del = report.deletions.length;
    const kept = i18n.t(this.#store?.kind === 'memory' ? 'sync.keptMemory' : 'sync.kept', { n });
    const summary = del ? i18n.t('sync.keptDelete', { kept, n: del }) : i18n.t('sync.keptOnly', { kept });
    this.#syncNote(i18n.lazy(() => [summary, ...lines].join(' ')));
    this.#emit('marks');
    this.#emitItems(true);
  }

  /**
   * What a layer below (the sync engine, the store, the client) said, in the UI's language.
   * They write English (LAYER_LANG) with the case's details (how many messages fit, what the
   * browser said), so in English their words are shown as they are; in another language the
   * first of `keys` the catalog has is shown instead, and their words only where it has none
   * (an unknown code). The rule of pop3-inbox.js `#showError`.
   * @param {string} message the layer's words
   * @param {string[]} keys the catalog's texts for it, most specific first
   * @param {Args} [args]
   * @returns {Msg}
   */
  #layerText(message, keys, args) {
    const i18n = this.#i18n;
    return i18n.lazy(() => {
      const key = i18n.lang === LAYER_LANG ? undefined : keys.find((k) => i18n.has(k));
      return key ? i18n.text(key, args) : message;
    });
  }

  /**
   * An error of the store or the sync (a StoreError, a Pop3Error, the sync report's `error`)
   * by its code (`code.*`), else by its code's group in the client's list (`group.*`).
   * @param {ErrorLike | null | undefined} err
   */
  errorText(err) {
    return this.#layerText(String(err?.message || err), errorKeys(err?.code));
  }

  /** Stops the background sync and waits for it, so no DELE follows what the user saw. */
  async stopSync() {
    const s = this.#sync;
    if (!s) return;
    if (!s.report) s.ctrl.abort();
    await s.promise;
    if (s.report) this.#afterSync(s.report, []);
  }

  /**
   * After QUIT (or a failed one): the run records what the server really deleted.
   * @param {boolean} committed
   */
  async #finishSync(committed) {
    const s = this.#sync;
    this.#sync = null;
    if (!s?.run || !this.#store) return;
    try {
      // The user's own deletions: once QUIT made them real, the sync engine names the local
      // copies that go too (only those whose identity it is sure of).
      const userDeleted = this.#items.filter((it) => it.marked && !it.byPolicy).map((it) => it.msg);
      await finishSync(this.#store, /** @type {string} */ (this.#account), s.run, committed, { userDeleted });
    } catch {
      /* the next sync sees the server's truth and repairs the records */
    }
  }

  /** RSET answered +OK: the policy's deletions of this session are undone too. */
  async #afterRset() {
    const run = this.#sync?.run;
    if (run && this.#store) await undoSyncDeletions(this.#store, /** @type {string} */ (this.#account), run).catch(() => {});
    for (const it of this.#items) it.byPolicy = false;
  }
}
