// @ts-check
// Full-text search over the mail kept on this device (issue #17, "Search").
//
// The engine is MiniSearch (web/vendor/minisearch, MIT, vendored as published: see
// web/vendor/README.md for why this one and not tantivy, FlexSearch or Lunr). One index per
// account, with one document per kept message:
//   subject, from, to     from the message's summary (what the list shows), indexed at once
//   body, attachments     the text of the body (HTML reduced to text) and the attachment
//                         names, from the reading module, indexed later in idle time
// and, stored beside each document, its date (for before:/after:), whether it has an
// attachment (has:attachment) and whether its body is indexed yet.
//
// The index is a cache of the mail store, never a second copy of the truth: it lives in its
// own IndexedDB database ("pop3-search", one record per account holding the serialized index),
// so the mail database's version and upgrades are untouched and losing the index loses no
// mail. It is rebuilt from the store when it is missing, of another version, cannot be parsed
// or disagrees with its own document count; when it merely lags behind the store (the page
// closed before it was saved) it is brought up to date message by message. In kiosk mode (a
// memory store) it lives in this page's memory only and never touches IndexedDB.
//
// Mail safety first: the store tells the index about each commit only after the commit
// succeeded (`store.observe`), and the index does its work in later tasks. A failure of the
// index is logged and leads to a rebuild; it never fails or delays keeping mail.

import MiniSearch from './vendor/minisearch/index.js';

/**
 * @import { Store, SummaryRow, Summary, KeptItem } from './store.js'
 * @import { MimeApi } from './types.js'
 */

/** Bumped whenever what is indexed, or how, changes: a stored index of another version is rebuilt. */
export const INDEX_VERSION = 2; // 2: addresses split into words (tokenize)
const DB_NAME = 'pop3-search';
const DB_VERSION = 1;
const OBJECT_STORE = 'indexes';
/** Body text beyond this many characters is not indexed (keeps the index small; the start of a message is what people search for). */
const BODY_MAX_CHARS = 64 * 1024;
/**
 * Of a bigger message, only the start is read to index it (its text comes first; the rest is
 * mostly attachments): reading a 60 MB message whole would take the page that much memory
 * again, after the sync kept it in pieces so that it never would. Attachments that begin
 * past this point are not found by name.
 */
const BODY_READ_MAX = 4 * 1024 * 1024;
/** The index is saved this long after its last change (saving serializes all of it). */
const SAVE_DELAY_MS = 1500;
/**
 * A word is matched as a prefix ("inv" finds "invoice") from this many characters on; shorter
 * ones are matched whole. A one- or two-letter prefix stands for a large part of all the words
 * of all the mail, and expanding it costs more than a keystroke may (see `cargo xtask bench
 * search`), for results too many to help anyway.
 */
export const MIN_PREFIX = 3;
/** Bodies indexed per idle slice at most (each parses a whole message). */
const BODY_BATCH = 8;

// ---------------------------------------------------------------------------- the query

/**
 * A query as typed, taken apart (`parseQuery`).
 * @typedef {object} ParsedQuery
 * @property {string[]} terms free words: matched in every field
 * @property {string[]} phrases quoted phrases ("…"): their words, matched whole (no prefix)
 * @property {{ from: string[], to: string[], subject: string[] }} fields `from:ann` etc.
 * @property {boolean} hasAttachment `has:attachment`
 * @property {number | null} before `before:YYYY-MM-DD`: dated before the start of that day (local time)
 * @property {number | null} after `after:YYYY-MM-DD`: dated on or after the start of that day (local time)
 * @property {string[]} ignored operators that were not understood (a bad date, `has:x`), kept out of the search
 * @property {{ in: 'terms' | 'from' | 'to' | 'subject', index: number } | null} typing the word
 *   still being typed (the query's last, with no space or closing quote after it): the one
 *   matched as a prefix
 */

/** One result: the store key of a message and how well it matched. @typedef {{ key: string, score: number }} SearchHit */

const FIELD_OPERATORS = /** @type {const} */ (['from', 'to', 'subject']);

/**
 * Midnight (local time) of a `YYYY-MM-DD` date, or null when it is not one.
 * @param {string} s
 * @returns {number | null}
 */
function dayStart(s) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const t = new Date(y, mo - 1, d);
  // 2026-02-31 rolls over to March: not a date.
  return t.getFullYear() === y && t.getMonth() === mo - 1 && t.getDate() === d ? t.getTime() : null;
}

/**
 * Takes a query apart: `from:`, `to:`, `subject:` (each with a word or a "quoted value"),
 * `has:attachment`, `before:`/`after:` (YYYY-MM-DD), "quoted phrases" and free words.
 * Operators are case-insensitive; anything not understood is listed in `ignored`, never thrown.
 * @param {string} text
 * @returns {ParsedQuery}
 */
export function parseQuery(text) {
  /** @type {ParsedQuery} */
  const q = { terms: [], phrases: [], fields: { from: [], to: [], subject: [] }, hasAttachment: false, before: null, after: null, ignored: [], typing: null };
  const input = String(text ?? '');
  // A token: an optional `op:` and a value that is either "quoted" (the closing quote may be
  // missing while typing) or runs to the next space.
  const re = /(?:([A-Za-z]+):)?(?:"([^"]*)"?|(\S+))/g;
  for (const m of input.matchAll(re)) {
    const op = m[1]?.toLowerCase();
    const quoted = m[2];
    const value = (quoted ?? m[3] ?? '').trim();
    // Only an unquoted word at the very end is still being typed.
    const atEnd = quoted == null && m.index + m[0].length === input.length;
    if (op == null) {
      // `from:` with nothing after it yet: an operator being typed, not a word.
      if (quoted == null && /^[A-Za-z]+:$/.test(value)) continue;
      if (quoted != null) {
        if (value) q.phrases.push(value);
      } else if (value) {
        if (atEnd) q.typing = { in: 'terms', index: q.terms.length };
        q.terms.push(value);
      }
      continue;
    }
    const field = FIELD_OPERATORS.find((f) => f === op);
    if (field) {
      if (value) {
        if (atEnd) q.typing = { in: field, index: q.fields[field].length };
        q.fields[field].push(value);
      }
    } else if (op === 'has' && value.toLowerCase() === 'attachment') {
      q.hasAttachment = true;
    } else if ((op === 'before' || op === 'after') && dayStart(value) != null) {
      q[op] = dayStart(value);
    } else if (value || quoted == null) {
      // `has:foo`, `before:yesterday`, `cc:x`: said, so not silently searched as words.
      q.ignored.push(m[0]);
    }
  }
  return q;
}

// ---------------------------------------------------------------------------- text

/**
 * Lower case without accents, so `resume` finds `Résumé`: applied to the index and the query alike.
 * @param {string} term
 */
function normalizeTerm(term) {
  const t = term.normalize('NFKD').replace(/\p{M}+/gu, '').toLowerCase();
  return t || null;
}

/** @type {Record<string, string>} */
const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/**
 * The words of an HTML body, for the index only (never shown): elements that are not text
 * (script, style, head) go, tags become spaces, character references are decoded.
 * @param {string} html
 */
export function htmlToText(html) {
  return html
    .replace(/<(script|style|head|title)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (all, ref) => {
      const r = String(ref).toLowerCase();
      if (r[0] !== '#') return ENTITIES[r] ?? all;
      const n = r[1] === 'x' ? parseInt(r.slice(2), 16) : parseInt(r.slice(1), 10);
      return n > 0 && n <= 0x10ffff ? String.fromCodePoint(n) : ' ';
    });
}

/**
 * What the index holds of a message's body: its text (the plain-text body, else the HTML body
 * reduced to text) and its attachments' names.
 * @param {Uint8Array} bytes the whole message
 * @param {MimeApi} mime the reading module
 * @returns {{ body: string, attachments: string[] }}
 */
export function bodyDocument(bytes, mime) {
  const m = mime.parseMessage(bytes);
  let body = m.text ?? '';
  if (!body && m.hasHtml) body = htmlToText(mime.renderHtml(bytes, { allowRemote: false }).html);
  const attachments = m.parts.filter((p) => p.isAttachment && p.filename).map((p) => /** @type {string} */ (p.filename));
  return { body: body.slice(0, BODY_MAX_CHARS), attachments };
}

// ---------------------------------------------------------------------------- the index

/**
 * One document of the index.
 * @typedef {object} Doc
 * @property {string} id the store key
 * @property {string} subject
 * @property {string} from
 * @property {string} to
 * @property {string} body
 * @property {string} attachments
 * @property {number | null} dateMs
 * @property {boolean} att has an attachment
 * @property {boolean} b its body is indexed
 */

/**
 * Words are what lies between spaces, punctuation and symbols. MiniSearch's own tokenizer
 * splits on spaces and punctuation only, so `<ann@example.org>` gave the word "<ann" and no
 * one could find mail by the sender's address; `<`, `>`, `+`, `=`, `|` are symbols (\p{S}).
 * The same function splits what is indexed and what is searched.
 * @param {string} text
 */
export function tokenize(text) {
  return text.split(/[\n\r\p{Z}\p{P}\p{S}]+/u);
}

/** @type {import('./vendor/minisearch/index.js').Options<Doc>} */
const OPTIONS = {
  fields: ['subject', 'from', 'to', 'body', 'attachments'],
  storeFields: ['dateMs', 'att', 'b'],
  tokenize,
  processTerm: normalizeTerm,
  searchOptions: { boost: { subject: 2, from: 1.5 } },
};

const newIndex = () => new MiniSearch(OPTIONS);

/**
 * @param {string} key
 * @param {Summary} s
 * @param {{ body: string, attachments: string[] } | null} [content] null: not indexed yet
 * @returns {Doc}
 */
const docOf = (key, s, content = null) => ({
  id: key,
  subject: s.subject || '',
  from: s.from || '',
  to: s.to || '',
  body: content?.body ?? '',
  attachments: content ? content.attachments.join(' ') : '',
  dateMs: s.dateMs ?? null,
  att: !!content?.attachments.length,
  b: !!content,
});

/**
 * What happened to the index since the page opened it (for the tests, the benchmark and
 * whoever wonders why search is slow).
 * @typedef {object} SearchStats
 * @property {'stored' | 'built' | 'memory'} source loaded from IndexedDB, built from the store, or kept in memory (kiosk)
 * @property {number} rebuilds built from the store (none of it could be used)
 * @property {string | null} rebuildReason why the last rebuild: 'missing' | 'version' | 'corrupt' | 'count' | 'failed'
 * @property {number} repaired messages added or removed when a stored index lagged behind the store
 * @property {number} documents messages in the index
 * @property {number} bodiesPending kept messages whose bodies are not indexed yet
 * @property {number} saves times the index was written to IndexedDB
 * @property {number} bytes length of the serialized index last saved (or loaded), in UTF-16 code units
 * @property {number} buildMs time of the last build from the store (headers only), or of the load
 */

/**
 * @typedef {object} SearchOptions
 * @property {() => Promise<MimeApi | null>} [mime] loads the reading module (default: the
 *   one message-view.js loads, on first need); null: index headers only
 * @property {boolean} [background] index bodies (default true)
 * @property {() => void} [onChange] the index changed (mail kept or deleted, bodies indexed):
 *   results shown for a query typed earlier may be stale. Called at most every
 *   CHANGE_NOTICE_MS, and once more after the last change.
 */

/** How often `onChange` may be called: enough to refresh results a user is looking at. */
const CHANGE_NOTICE_MS = 300;

/**
 * Opens the search index of `account` over `store`: loads it from IndexedDB (or builds it from
 * the store's summaries when it cannot be used), subscribes to the store's commits and
 * deletions, and indexes kept bodies in the background. Resolves once header search works.
 * @param {Store} store
 * @param {string} account
 * @param {SearchOptions} [options]
 * @returns {Promise<MailSearch>}
 */
export async function openSearch(store, account, options = {}) {
  const s = new MailSearch(store, account, options);
  await s.open();
  return s;
}

/** Idle time when the browser has it, else the next task. @param {() => void} fn */
function whenIdle(fn) {
  if (typeof requestIdleCallback === 'function') requestIdleCallback(fn, { timeout: 1000 });
  else setTimeout(fn, 0);
}

export class MailSearch {
  #store;
  #account;
  #persist;
  #loadMime;
  #background;
  /** @type {MiniSearch<Doc>} */
  #index = newIndex();
  /** @type {Map<string, Summary>} the summaries of the indexed messages (to re-add with a body) */
  #summaries = new Map();
  /** @type {Set<string>} full messages whose bodies are not indexed yet */
  #pending = new Set();
  /** @type {(() => void) | null} */
  #unobserve = null;
  #closed = false;
  /** @type {(() => void) | null} */
  #onChange = null;
  /** @type {ReturnType<typeof setTimeout> | null} */
  #changeTimer = null;
  /** @type {Promise<void> | null} a rebuild under way */
  #rebuilding = null;
  /** @type {ReturnType<typeof setTimeout> | null} */
  #saveTimer = null;
  /** @type {Promise<void> | null} */
  #saving = null;
  #bodyRunning = false;
  /** The reading module could not be loaded: bodies wait for the next change to try again. */
  #bodyBlocked = false;
  /** @type {(() => void)[]} */
  #settledWaiters = [];
  /** Changes seen while a rebuild reads the store: replayed onto the new index. @type {(() => void)[] | null} */
  #during = null;
  /** @type {SearchStats} */
  #stats = { source: 'built', rebuilds: 0, rebuildReason: null, repaired: 0, documents: 0, bodiesPending: 0, saves: 0, bytes: 0, buildMs: 0 };

  /**
   * @param {Store} store
   * @param {string} account
   * @param {SearchOptions} options
   */
  constructor(store, account, options) {
    this.#store = store;
    this.#account = account;
    this.#persist = store.kind === 'indexeddb';
    this.#loadMime = options.mime ?? defaultMime;
    this.#background = options.background ?? true;
    this.#onChange = options.onChange ?? null;
  }

  /** Loads or builds the index and starts listening to the store. */
  async open() {
    this.#unobserve = this.#store.observe({
      kept: (account, items) => {
        if (account === this.#account) this.#change(() => this.#kept(items));
      },
      deleted: (account, keys) => {
        if (account === this.#account) this.#change(() => this.#deleted(keys));
      },
    });
    if (!this.#persist) {
      this.#stats.source = 'memory';
      await this.#build(null);
      return;
    }
    const t0 = performance.now();
    /** @type {string | null} */
    let reason;
    try {
      reason = await this.#load();
    } catch (err) {
      console.warn('pop3 search: the stored index cannot be read; rebuilding it', err);
      reason = 'corrupt';
    }
    if (reason) await this.#build(reason);
    else {
      this.#stats.source = 'stored';
      this.#stats.buildMs = Math.round(performance.now() - t0);
    }
    this.#kick();
  }

  /**
   * Loads the stored index and brings it up to date with the store. Resolves with why it
   * cannot be used (then nothing of it was kept), or null.
   * @returns {Promise<string | null>}
   */
  async #load() {
    const [rec, rows] = await Promise.all([readRecord(this.#account), this.#store.summaries(this.#account)]);
    if (!rec) return 'missing';
    if (rec.version !== INDEX_VERSION || typeof rec.json !== 'string') return 'version';
    /** @type {MiniSearch<Doc>} */
    let index;
    try {
      index = await MiniSearch.loadJSONAsync(rec.json, OPTIONS);
    } catch {
      return 'corrupt';
    }
    if (index.documentCount !== rec.count) return 'count';
    this.#index = index;
    this.#stats.bytes = rec.json.length;
    // The index may lag behind the store (the page closed before its last save): add what it
    // lacks, drop what the store no longer has.
    const live = new Map(rows.map((r) => [r.key, r]));
    const known = new Set(index.search(MiniSearch.wildcard).map((r) => String(r.id)));
    const gone = [...known].filter((k) => !live.has(k));
    index.discardAll(gone);
    let repaired = gone.length;
    for (const r of rows) {
      this.#summaries.set(r.key, r);
      if (!known.has(r.key)) {
        index.add(docOf(r.key, r));
        repaired++;
      }
      if (r.full && !index.getStoredFields(r.key)?.b) this.#pending.add(r.key);
    }
    this.#stats.repaired += repaired;
    if (repaired) this.#scheduleSave();
    return null;
  }

  /**
   * Builds the index from the store's summaries (headers at once, bodies in the background).
   * @param {string | null} reason why (null: a memory store's first build, not a rebuild)
   */
  async #build(reason) {
    const t0 = performance.now();
    // Changes the store reports while its summaries are read wait in `#during`, and are
    // replayed onto the new index (each is idempotent, so one already in the rows is harmless).
    this.#during = [];
    let rows;
    try {
      rows = await this.#store.summaries(this.#account);
    } catch (err) {
      const during = this.#during;
      this.#during = null;
      for (const f of during) this.#apply(f);
      throw err;
    }
    const index = newIndex();
    index.addAll(rows.map((r) => docOf(r.key, r)));
    this.#index = index;
    this.#summaries = new Map(rows.map((r) => [r.key, r]));
    this.#pending = new Set(rows.filter((r) => r.full).map((r) => r.key));
    const during = this.#during;
    this.#during = null;
    for (const f of during) this.#apply(f);
    if (reason) {
      this.#stats.rebuilds++;
      this.#stats.rebuildReason = reason;
    }
    this.#stats.buildMs = Math.round(performance.now() - t0);
    this.#scheduleSave();
    this.#kick();
  }

  /** @param {() => void} f a change from the store, applied in a later task (not in the commit's) */
  #change(f) {
    if (this.#closed) return;
    setTimeout(() => {
      if (this.#closed) return;
      if (this.#during) this.#during.push(f);
      else this.#apply(f);
    }, 0);
  }

  /** @param {() => void} f */
  #apply(f) {
    try {
      f();
      this.#scheduleSave();
      this.#kick();
    } catch (err) {
      this.#failed(err);
    }
  }

  /** @param {unknown} err an index update failed: the index cannot be trusted any more */
  #failed(err) {
    console.error('pop3 search: updating the index failed; rebuilding it from the store', err);
    this.#rebuild('failed');
  }

  /** @param {string} reason */
  #rebuild(reason) {
    this.#rebuilding ??= this.#build(reason)
      .catch((e) => console.error('pop3 search: rebuilding the index failed', e))
      .finally(() => (this.#rebuilding = null));
    return this.#rebuilding;
  }

  /** @param {KeptItem[]} items */
  #kept(items) {
    for (const { key, summary, full } of items) {
      this.#summaries.set(key, summary);
      const doc = docOf(key, summary);
      if (this.#index.has(key)) this.#index.replace(doc);
      else this.#index.add(doc);
      if (full) this.#pending.add(key);
      else this.#pending.delete(key);
    }
  }

  /** @param {string[] | null} keys null: all of the account */
  #deleted(keys) {
    if (keys == null) {
      this.#index = newIndex();
      this.#summaries.clear();
      this.#pending.clear();
      return;
    }
    for (const key of keys) {
      if (this.#index.has(key)) this.#index.discard(key);
      this.#summaries.delete(key);
      this.#pending.delete(key);
    }
  }

  /** Starts indexing pending bodies in idle time, unless that runs already. */
  #kick() {
    if (!this.#background || this.#bodyRunning || this.#closed || !this.#pending.size) {
      this.#checkSettled();
      return;
    }
    this.#bodyRunning = true;
    this.#bodyBlocked = false;
    this.#bodies()
      .catch((err) => {
        // The reading module could not load (offline): headers stay searchable, the bodies
        // are tried again with the next change.
        console.warn('pop3 search: bodies are not indexed for now', err);
        this.#bodyBlocked = true;
      })
      .finally(() => {
        this.#bodyRunning = false;
        this.#checkSettled();
      });
  }

  /** Indexes pending bodies a few at a time, in idle time, until none is left. */
  async #bodies() {
    const mime = await this.#loadMime();
    if (!mime) throw new Error('the reading module is not available');
    while (this.#pending.size && !this.#closed) {
      await new Promise((r) => whenIdle(() => r(null)));
      const batch = [...this.#pending].slice(0, BODY_BATCH);
      for (const key of batch) {
        this.#pending.delete(key);
        let bytes;
        try {
          bytes = await this.#store.readStart(this.#account, key, BODY_READ_MAX);
        } catch {
          continue; // deleted meanwhile, or damaged (the reader says so): nothing to index
        }
        const summary = this.#summaries.get(key);
        // Deleted (or re-kept with headers only) while it was read: leave it.
        if (!summary || !this.#index.has(key) || this.#pending.has(key)) continue;
        let content;
        try {
          content = bodyDocument(bytes, mime);
        } catch {
          content = { body: '', attachments: [] }; // a message the parser refuses: headers only
        }
        try {
          this.#index.replace(docOf(key, summary, content));
        } catch (err) {
          this.#failed(err);
          return;
        }
      }
      this.#scheduleSave();
    }
  }

  /** Tells `onChange` (throttled): the index is not what it was when the results were made. */
  #changed() {
    if (!this.#onChange || this.#changeTimer != null || this.#closed) return;
    this.#changeTimer = setTimeout(() => {
      this.#changeTimer = null;
      if (!this.#closed) this.#onChange?.();
    }, CHANGE_NOTICE_MS);
  }

  #scheduleSave() {
    this.#changed();
    if (!this.#persist || this.#closed) return;
    if (this.#saveTimer != null) clearTimeout(this.#saveTimer);
    this.#saveTimer = setTimeout(() => {
      this.#saveTimer = null;
      this.#saving = this.#save().finally(() => {
        this.#saving = null;
        this.#checkSettled();
      });
    }, SAVE_DELAY_MS);
  }

  /** Writes the index to IndexedDB. A failure (a full disk) only costs a rebuild later. */
  async #save() {
    if (this.#rebuilding) await this.#rebuilding;
    try {
      const json = JSON.stringify(this.#index);
      await writeRecord({ account: this.#account, version: INDEX_VERSION, count: this.#index.documentCount, json, savedMs: Date.now() });
      this.#stats.saves++;
      this.#stats.bytes = json.length;
    } catch (err) {
      console.warn('pop3 search: the index could not be saved; it will be brought up to date when opened again', err);
    }
  }

  #checkSettled() {
    if (this.#isSettled()) for (const w of this.#settledWaiters.splice(0)) w();
  }

  #isSettled() {
    return !this.#bodyRunning && !this.#rebuilding && this.#saveTimer == null && !this.#saving && (!this.#background || this.#bodyBlocked || !this.#pending.size);
  }

  /**
   * Resolves once no work is left: changes applied, bodies indexed, the index saved.
   * @returns {Promise<void>}
   */
  settled() {
    // Changes of the store arrive in a later task (`#change`): let them in first.
    return new Promise((r) => setTimeout(r, 0)).then(
      () =>
        new Promise((resolve) => {
          if (this.#isSettled()) resolve();
          else this.#settledWaiters.push(() => resolve());
        }),
    );
  }

  /**
   * The messages matching `query`, best first. Header fields are searchable as soon as a
   * message is kept; its body and attachment names once the background indexing reached it.
   * @param {string} query as typed (see parseQuery)
   * @param {{ limit?: number }} [options]
   * @returns {SearchHit[]}
   */
  search(query, { limit = 200 } = {}) {
    return searchIndex(this.#index, parseQuery(query), limit);
  }

  /** @returns {SearchStats} */
  stats() {
    return { ...this.#stats, documents: this.#index.documentCount, bodiesPending: this.#pending.size };
  }

  /** Stops listening to the store (pending work is dropped; the last save may not happen). */
  close() {
    this.#closed = true;
    this.#unobserve?.();
    if (this.#saveTimer != null) clearTimeout(this.#saveTimer);
    this.#saveTimer = null;
    if (this.#changeTimer != null) clearTimeout(this.#changeTimer);
    this.#changeTimer = null;
    this.#pending.clear();
    this.#checkSettled();
  }
}

/**
 * Runs a parsed query on an index. Every part must match (AND); free words may match any
 * field. The word being typed (`typing`) is matched as a prefix ("inv" finds "invoice") once
 * it has MIN_PREFIX characters, so results come as the user types; the words before it are
 * finished, and matched whole, as are the words of a quoted phrase.
 * @param {MiniSearch<Doc>} index
 * @param {ParsedQuery} q
 * @param {number} limit
 * @returns {SearchHit[]}
 */
export function searchIndex(index, q, limit) {
  /** @type {any[]} */
  const parts = [];
  /**
   * The prefix rule of one part: only its last word, and only in the part being typed.
   * @param {'terms' | 'from' | 'to' | 'subject'} where
   * @param {number} i
   */
  const prefix = (where, i) =>
    q.typing?.in === where && q.typing.index === i
      ? (/** @type {string} */ term, /** @type {number} */ k, /** @type {string[]} */ all) => k === all.length - 1 && term.length >= MIN_PREFIX
      : false;
  q.terms.forEach((t, i) => parts.push({ queries: [t], prefix: prefix('terms', i), combineWith: 'AND' }));
  for (const p of q.phrases) parts.push({ queries: [p], prefix: false, combineWith: 'AND' });
  for (const f of FIELD_OPERATORS) {
    q.fields[f].forEach((v, i) => parts.push({ queries: [v], fields: [f], prefix: prefix(f, i), combineWith: 'AND' }));
  }
  /** @type {(r: { [k: string]: any }) => boolean} */
  const filter = (r) =>
    (!q.hasAttachment || r.att === true) &&
    (q.before == null || (r.dateMs != null && r.dateMs < q.before)) &&
    (q.after == null || (r.dateMs != null && r.dateMs >= q.after));
  const anyFilter = q.hasAttachment || q.before != null || q.after != null;
  if (!parts.length && !anyFilter) return [];
  const results = parts.length
    ? index.search({ combineWith: 'AND', queries: parts }, anyFilter ? { filter } : {})
    : index.search(MiniSearch.wildcard, { filter });
  const out = [];
  for (const r of results) {
    if (out.length >= limit) break;
    out.push({ key: String(r.id), score: r.score });
  }
  return out;
}

/** The reading module, as the reader loads it (lazily, once). */
async function defaultMime() {
  const { loadMime } = await import('./message-view.js');
  return loadMime();
}

// ---------------------------------------------------------------------------- IndexedDB

/**
 * The stored index of one account.
 * @typedef {{ account: string, version: number, count: number, json: string, savedMs: number }} IndexRecord
 */

/** @type {Promise<IDBDatabase> | null} */
let dbPromise = null;

/** @returns {Promise<IDBDatabase>} */
function openDb() {
  dbPromise ??= new Promise((resolve, reject) => {
    const r = indexedDB.open(DB_NAME, DB_VERSION);
    r.onupgradeneeded = () => {
      if (!r.result.objectStoreNames.contains(OBJECT_STORE)) r.result.createObjectStore(OBJECT_STORE, { keyPath: 'account' });
    };
    r.onsuccess = () => {
      const db = r.result;
      db.onversionchange = () => {
        db.close();
        dbPromise = null;
      };
      resolve(db);
    };
    r.onerror = () => reject(r.error);
    r.onblocked = () => reject(new Error('the search database is blocked by another tab'));
  });
  dbPromise.catch(() => (dbPromise = null));
  return dbPromise;
}

/**
 * @param {string} account
 * @returns {Promise<IndexRecord | null>}
 */
async function readRecord(account) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const r = db.transaction(OBJECT_STORE, 'readonly').objectStore(OBJECT_STORE).get(account);
    r.onsuccess = () => resolve(r.result ?? null);
    r.onerror = () => reject(r.error);
  });
}

/** @param {IndexRecord} rec */
async function writeRecord(rec) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    // Relaxed durability: it is a cache of the store, rebuilt or brought up to date if lost.
    const tx = db.transaction(OBJECT_STORE, 'readwrite');
    tx.objectStore(OBJECT_STORE).put(rec);
    tx.oncomplete = () => resolve(undefined);
    tx.onabort = () => reject(tx.error);
  });
}

/**
 * Deletes the stored search index of one account (removing the account): its record, words
 * and the account's name with it. Call it once no MailSearch of that account is open.
 * @param {string} account
 * @returns {Promise<void>}
 */
export async function deleteSearchIndex(account) {
  const db = await openDb();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(OBJECT_STORE, 'readwrite');
    tx.objectStore(OBJECT_STORE).delete(account);
    tx.oncomplete = () => resolve(undefined);
    tx.onabort = () => reject(tx.error);
  });
}

/**
 * Deletes every stored search index (all accounts): with "forget this device", beside the
 * store's deleteDatabase().
 * @returns {Promise<void>}
 */
export async function deleteSearchDatabase() {
  if (dbPromise) (await dbPromise.catch(() => null))?.close();
  dbPromise = null;
  return new Promise((resolve, reject) => {
    const r = indexedDB.deleteDatabase(DB_NAME);
    r.onsuccess = () => resolve();
    r.onerror = () => reject(r.error);
    r.onblocked = () => resolve();
  });
}
