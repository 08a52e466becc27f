// @ts-check
// Sync of one account over one POP3 session.
//
// JavaScript never decides identity, deletability or what fits. Every decision (what is new,
// what to fetch, which store key and record a message gets, which bodies fit the storage
// estimate, what may be deleted on the server, which local copies go after QUIT, which
// message of a session is which kept record, UIDL trouble) is made by the wasm SyncRun (crate
// client-wasm/pop3-sync, tested natively against scripted servers). This file only moves
// bytes between the session, the run and the store, in the one order that keeps mail safe:
//
//   LIST + UIDL (pipelined) -> plan -> persist new records
//   -> run.bodiesWithin(storage estimate): the bodies to fetch, and what stays on the server
//   -> RETR those bodies at once, each written with run.recordFor()'s record (a new message's
//      own header section gives it its fingerprint), committed to the store durably in
//      batches (one strict transaction per batch), THEN reported to the run: no message of a
//      batch counts as stored before the batch's transaction has completed
//   -> meanwhile TOP n 0 (the inbox's list usually has them already) only for what
//      run.headersBesides() names, the new messages whose body stays on the server; the run
//      says whether and under which record the header bytes are written, and they commit
//      while the bodies download. (While a stored message's identity is being verified, or
//      kept mail that vanished may turn up under a new UIDL, every header comes first, then
//      bodiesWithin again.)
//   -> only after every commit settled: DELE for what the run allows, persisted as pending
//   -> QUIT (by the caller, after showing what will be deleted) -> finishSync()
//
// A failure anywhere before QUIT leaves the mail on the server (POP3 forgets DELE marks without
// QUIT), and the pending deletions are retried by the next sync.

import { withSyncLock, storageEstimate, sizeOf, BIG_MESSAGE } from './store.js';
import { summarizeHeaders } from './pop3.js';

/**
 * @import { HeaderSummary, Session, SyncRun, SyncRunConstructor, SyncPolicy, SyncPlan, SyncBlocked, SyncWarning, SyncDeletion, SyncQuitResult, Progress, ListEntry, UidlEntry, StoredKind, ErrorLike } from './types.js'
 * @import { Store, Summary, SummaryRow } from './store.js'
 */

/**
 * The header section of a message (up to the first empty line), for the list's summary.
 * @param {Uint8Array} bytes
 * @returns {Uint8Array}
 */
export function headerSection(bytes) {
  for (let i = 0; i + 1 < bytes.length; i++) {
    if (bytes[i] === 10 && (bytes[i + 1] === 10 || (bytes[i + 1] === 13 && bytes[i + 2] === 10))) return bytes.subarray(0, i + 1);
  }
  return bytes;
}

/**
 * What the list shows for a message: from the headers, never interpreted as markup.
 * @param {Uint8Array} bytes the message, or its headers
 * @param {number} size
 * @returns {Summary}
 */
export function summaryOf(bytes, size) {
  const s = /** @type {HeaderSummary} */ (summarizeHeaders(headerSection(bytes))); // (pkg's .d.ts says `object`)
  return { from: s.from || '', subject: s.subject || '', to: s.to || '', dateMs: s.date ? s.date.getTime() : null, size };
}

/**
 * A message that grows past this many bytes (store.js's BIG_MESSAGE) is downloaded in pieces
 * and kept as a Blob made of them (`download`'s `streamOver`), its checksum taken as the
 * pieces arrive: the page never holds it whole (a 60 MB message took the page about 1 GB held
 * whole). Smaller ones keep the faster path, whole.
 */
export const STREAM_OVER = BIG_MESSAGE;

/**
 * The pieces of one message that comes in pieces (`download`'s `onChunk`), gathered into one
 * Blob, with a copy of its header section (which the first piece holds: the record and the
 * summary come from it). The sync keeps the Blob; the reader reads it and keeps it on demand.
 */
export class Pieces {
  /** @type {Blob[]} */
  #parts = [];
  head = new Uint8Array(0);
  #name;

  /** @param {string} name the message, as errors name it */
  constructor(name) {
    this.#name = name;
  }

  /** @param {Uint8Array} piece (it may be reused once this returns: only a copy is kept) */
  add(piece) {
    if (!this.#parts.length) this.head = headerSection(piece).slice();
    this.#parts.push(new Blob([/** @type {Uint8Array<ArrayBuffer>} */ (piece)]));
  }

  /** What has come so far. */
  blob() {
    return new Blob(this.#parts);
  }

  /**
   * The whole message, `size` bytes by `download`'s count: an Error unless every piece is in
   * it, for its checksum vouches for all of them and may be stored with it.
   * @param {number} size
   */
  whole(size) {
    const blob = this.blob();
    if (blob.size !== size) throw new Error(`${this.#name}: ${blob.size} of its ${size} bytes were kept`);
    return blob;
  }
}

/** A batch is committed in one strict transaction: at most this many messages … */
export const BATCH_MAX_MESSAGES = 500;
/** … and once it holds this many bytes, it is full. */
export const BATCH_MAX_BYTES = 4 * 1024 * 1024;

/**
 * One message waiting in a commit queue.
 * @typedef {object} Pending
 * @property {number} msg
 * @property {import('./store.js').CommitInput} input
 */

/**
 * Group commit of messages into the store: `add()` queues a message; whenever no commit is
 * running, everything queued is committed at once in one strict transaction (so a stalled or
 * finished download never leaves a message waiting), and while one runs the next batch fills
 * up, to `BATCH_MAX_MESSAGES` messages or `BATCH_MAX_BYTES` bytes. `after(batch, sums)` runs only
 * once the batch's transaction has completed (durably); a batch refused for a full disk is
 * tried again one message per transaction, so what fits is still kept. The first failure (of
 * the store, or thrown by `after`) stops the queue: it goes to `onError`, nothing queued later
 * is committed, and `drain()` resolves with it.
 * @param {Store} store
 * @param {string} account
 * @param {(batch: Pending[], sums: { sha256: string }[]) => void} after
 * @param {(err: unknown) => void} [onError]
 */
function commitQueue(store, account, after, onError) {
  /** @type {Pending[]} */
  let open = [];
  let openBytes = 0;
  /** @type {Pending[][]} */
  const full = [];
  /** @type {Promise<void> | null} */
  let running = null;
  /** @type {unknown} */
  let failed = null;

  const seal = () => {
    if (open.length) full.push(open);
    open = [];
    openBytes = 0;
  };
  const writer = async () => {
    while (!failed) {
      if (!full.length) seal();
      const batch = full.shift();
      if (!batch) return;
      try {
        await commit(batch);
      } catch (err) {
        failed = err;
        onError?.(err);
      }
    }
  };
  /** @param {Pending[]} batch */
  const commit = async (batch) => {
    try {
      after(batch, await store.commitMessages(account, batch.map((p) => p.input)));
    } catch (err) {
      // A full disk refuses the whole batch: keep what still fits, one message at a time, as
      // far as it goes (the first refusal stops the queue). Nothing of the refused batch was
      // stored, and nothing of it was reported.
      if (batch.length < 2 || /** @type {ErrorLike | null} */ (err)?.code !== 'quota') throw err;
      for (const p of batch) after([p], await store.commitMessages(account, [p.input]));
    }
  };
  const kick = () => {
    if (running || failed) return;
    running = writer().finally(() => {
      running = null;
      // Something may have come in after the writer's last look.
      if (open.length || full.length) kick();
    });
  };
  return {
    /**
     * @param {number} msg
     * @param {import('./store.js').CommitInput} input
     */
    add(msg, input) {
      if (failed) return;
      open.push({ msg, input });
      openBytes += sizeOf(input.bytes);
      if (open.length >= BATCH_MAX_MESSAGES || openBytes >= BATCH_MAX_BYTES) seal();
      kick();
    },
    /**
     * Resolves once everything queued so far is committed and reported (or the queue failed):
     * with the failure, or null.
     * @returns {Promise<unknown>}
     */
    async drain() {
      kick();
      for (let r = running; r; r = running) await r;
      return failed;
    },
  };
}

/** @param {ErrorLike | null | undefined} err */
function codeOf(err) {
  return err?.code || err?.name || 'error';
}

/**
 * What `onProgress` of `syncAccount` receives: the session's progress, and which phase.
 * @typedef {Progress & { phase: 'headers' | 'bodies' }} SyncProgress
 */

/**
 * What `onStored` of `syncAccount` receives: one message is durably kept.
 * @typedef {object} StoredEvent
 * @property {number} msg
 * @property {string} key
 * @property {Summary} summary
 * @property {boolean} full the whole message (else its headers)
 */

/**
 * The options of `syncAccount`.
 * @typedef {object} SyncOptions
 * @property {Session} session
 * @property {Store} store
 * @property {string} account
 * @property {SyncPolicy | null | undefined} [policy] default: leave on server
 * @property {SyncRunConstructor} SyncRun the wasm package's
 * @property {(() => number) | undefined} [now] default Date.now
 * @property {AbortSignal | undefined} [signal]
 * @property {((run: SyncRun) => void) | undefined} [onRun]
 * @property {((progress: SyncProgress) => void) | undefined} [onProgress]
 * @property {((stored: StoredEvent) => void) | undefined} [onStored]
 * @property {((msg: number) => Uint8Array | undefined) | undefined} [headersOf] TOP n 0 answers this session already has
 * @property {Promise<unknown> | undefined} [headersReady] settles when `headersOf` has all it will have (the
 *   caller is still fetching them): the sync lists and records meanwhile, and waits for it before its headers
 * @property {boolean | undefined} [allowDelete] default true
 * @property {boolean | undefined} [downloadAndDeleteWithoutUidl]
 */

/**
 * The report of `syncAccount`.
 * @typedef {object} SyncReport
 * @property {SyncRun | null} run
 * @property {SyncPlan | null} plan
 * @property {SyncBlocked | null} blocked
 * @property {SyncWarning[]} warnings
 * @property {number} stored bodies kept
 * @property {number} bytes their size
 * @property {SyncDeletion[]} deletions what QUIT will delete
 * @property {{ code: string, message: string } | null} error the sync stopped there, nothing was deleted
 */

/**
 * Runs one sync. Resolves with a report; the session stays open so the caller can show
 * `report.deletions` and then QUIT (or RSET to undo) and call finishSync().
 *
 * options: { session, store, account, policy, SyncRun, now?, signal?, onRun?(run),
 *            onProgress?({phase, done, total, bytes, totalBytes}), onStored?({msg, key, summary, full}),
 *            headersOf?(msg) -> Uint8Array | undefined (TOP n 0 answers this session already has),
 *            headersReady? (a promise: headersOf has all it will have once it settles),
 *            allowDelete?, downloadAndDeleteWithoutUidl? }
 *   (`sha256Hex` is still accepted and no longer used: the run computes what it needs.)
 * report:  { run, plan, blocked, warnings, stored, bytes, deletions, error }
 *   error is null or { code, message } — the sync stopped there, nothing was deleted.
 */
/**
 * @param {SyncOptions} options
 * @returns {Promise<SyncReport>}
 */
export function syncAccount(options) {
  return withSyncLock(options.account, () => syncLocked(options));
}

/**
 * @param {SyncOptions} options
 * @returns {Promise<SyncReport>}
 */
async function syncLocked({ session, store, account, policy, SyncRun, now = Date.now, signal, onRun, onProgress, onStored, headersOf, headersReady, allowDelete = true, downloadAndDeleteWithoutUidl = false }) {
  /** @type {SyncReport} */
  const report = { run: null, plan: null, blocked: null, warnings: [], stored: 0, bytes: 0, deletions: [], error: null };
  // (The memory store of kiosk mode has no worker.)
  /** @type {{ prepareKeep?: () => void }} */ (store).prepareKeep?.();
  const known = await store.known(account);
  const run = new SyncRun({ account, policy: policy ?? {}, known, nowMs: now(), downloadAndDeleteWithoutUidl });
  report.run = run;
  // The run's records, written whenever the server or the store told it something new.
  const persist = () => persistRun(store, account, run);
  onRun?.(run);

  // LIST and UIDL go out together (pipelined when the server allows it). UIDL is sent even
  // without CAPA saying so: RFC 1939 servers without CAPA often have it.
  const [listR, uidlR] = await Promise.allSettled([session.list(), session.uidl()]);
  if (listR.status === 'rejected') throw listR.reason;
  const plan = run.listing({
    uidlAdvertised: !!session.capabilities?.uidl,
    uidl: uidlR.status === 'fulfilled' ? uidlR.value.map(({ msg, uid }) => ({ msg, uid })) : null,
    uidlError: uidlR.status === 'rejected' ? codeOf(uidlR.reason) : null,
    list: listR.value.map(({ msg, size }) => ({ msg, size })),
  });
  report.plan = plan;
  report.blocked = plan.blocked;
  report.warnings.push(...plan.warnings);
  await persist();
  if (plan.blocked) return report;

  // Stops the downloads when a commit fails (or the caller aborts).
  const ctrl = new AbortController();
  const stop = () => ctrl.abort();
  signal?.addEventListener('abort', stop, { once: true });

  /** The header records the run gives, to be written for messages whose body does not come. @type {{ msg: number, input: import('./store.js').CommitInput }[]} */
  const headerRecords = [];
  // The header bytes of this session, by message: the body commit's summary is made from them.
  /** @type {Map<number, Uint8Array>} */
  const headerBytes = new Map();
  /** The summaries made from those bytes for the header commits (the body commit's is the same). @type {Map<number, Summary>} */
  const headerSummaries = new Map();

  /**
   * Reads the headers of `msgs` (those the inbox's list has, else `TOP n 0`) and feeds them to
   * the run, which tells by them new mail from mail kept here under another UIDL, and says
   * whether and under which record they are written (never for a stored message under a new
   * UIDL, never over a stored full body).
   * @param {number[]} msgs
   */
  const readHeaders = async (msgs) => {
    if (!msgs.length) return;
    // Headers the caller already read in this session (the inbox's list) are not asked again.
    await headersReady;
    /** @type {Map<number, { msg: number, headers: Uint8Array }>} */
    const byMsg = new Map();
    /** @type {number[]} */
    const missing = [];
    for (const msg of msgs) {
      const headers = headersOf?.(msg);
      if (headers) byMsg.set(msg, { msg, headers });
      else missing.push(msg);
    }
    if (missing.length) {
      const got = await session.fetchHeaders({ msgs: missing, signal: ctrl.signal, onProgress: (p) => onProgress?.({ phase: 'headers', ...p }) });
      for (const r of got) byMsg.set(r.msg, r);
    }
    for (const msg of msgs) {
      const r = byMsg.get(msg);
      const h = run.headers(msg, r ? r.headers : null);
      if (r) headerBytes.set(msg, r.headers);
      const rec = h.record;
      if (!rec) continue;
      const bytes = /** @type {NonNullable<typeof r>} */ (r).headers; // a record comes only with header bytes
      const summary = summaryOf(bytes, rec.size);
      headerSummaries.set(msg, summary);
      headerRecords.push({ msg, input: { key: rec.key, bytes, full: false, summary, known: rec } });
    }
  };

  /**
   * Writes the header records of the messages whose body stays on the server (too big, no
   * room, a policy that keeps headers only): the others are written whole in a moment, and
   * writing each of them twice was as much work as keeping the bodies. Each is reported to
   * the run (and shown) only once the batch that holds it is durable. Resolves with the first
   * failure, or null once all are durable (a header record never replaces a kept body,
   * whichever commit lands first: `writeBatch`).
   * @param {Set<number>} coming the bodies being downloaded
   * @returns {Promise<unknown>}
   */
  const commitHeaders = (coming) => {
    const headersOnly = headerRecords.filter((h) => !coming.has(h.msg));
    if (!headersOnly.length) return Promise.resolve(null);
    const headerCommits = commitQueue(
      store,
      account,
      (batch) => {
        for (const { msg, input } of batch) {
          run.stored(msg, { full: false });
          onStored?.({ msg, key: input.key, summary: input.summary, full: false });
        }
      },
      () => ctrl.abort(),
    );
    for (const { msg, input } of headersOnly) headerCommits.add(msg, input);
    return headerCommits.drain();
  };

  // Bodies, newest first, within the space the browser says it has: the run decides which.
  let fetch = run.bodiesWithin(await storageEstimate());
  // A new message's body carries its own header section (recordFor reads it), so the bodies
  // start now, and TOP goes only to messages whose body stays on the server; the list's TOP
  // of every header no longer holds them up. Null: the headers decide first (a stored
  // message's identity is being verified, or kept mail that vanished may turn up as a new
  // message), then what to download.
  const besides = plan.headers.length ? run.headersBesides(fetch.bodies) : [];
  if (besides === null) {
    try {
      await readHeaders(plan.headers);
    } catch (err) {
      signal?.removeEventListener('abort', stop);
      throw err;
    }
    fetch = run.bodiesWithin(await storageEstimate());
  }
  if (fetch.warning) report.warnings.push(fetch.warning);
  const bodies = fetch.bodies;
  const coming = new Set(bodies);
  // The header records' outcome: null once all are durable, else the first failure. Not
  // awaited here: the bodies download meanwhile. Both settle before any DELE; a failure of
  // either stops the other.
  /** @type {Promise<unknown>} */
  const headersCommitted =
    besides === null
      ? commitHeaders(coming)
      : readHeaders(besides).then(
          () => commitHeaders(coming),
          (err) => {
            // Stopped by another failure (a body commit, the download, the caller): that one
            // is what the sync reports.
            const first = !ctrl.signal.aborted;
            ctrl.abort();
            return first ? (err ?? new Error('reading the headers failed')) : null;
          },
        );

  /** @type {ErrorLike | null} */
  let commitError = null; // what the store (or the run) threw first
  /** @param {unknown} err */
  const fail = (err) => {
    // Disk full or store gone: stop downloading; nothing more is stored or deleted.
    commitError ??= /** @type {ErrorLike} */ (err);
    ctrl.abort();
  };
  // Bodies are committed in batches, one strict transaction each (group commit: whatever has
  // arrived is committed as soon as the store is free, up to the batch limits). Only once a
  // batch's transaction has completed are its messages reported to the run, so the kept count
  // and any DELE follow the durable commit of the batch that holds the message. A message of a
  // batch not yet committed when the sync breaks (cut, reload, error) is simply not kept.
  const bodyCommits = commitQueue(
    store,
    account,
    (batch, sums) => {
      batch.forEach(({ msg, input }, i) => {
        // Durable now: only from here on may the run count it as stored (and so deletable).
        run.stored(msg, { sha256: sums[i].sha256, full: true });
        report.stored++;
        report.bytes += sizeOf(input.bytes);
        onStored?.({ msg, key: input.key, summary: input.summary, full: true });
      });
    },
    fail,
  );
  // A big message's pieces while it arrives (`STREAM_OVER`), each as a Blob (the browser
  // keeps a Blob's bytes outside the page's heap).
  /** @type {Map<number, Pieces>} */
  const streams = new Map();
  try {
    if (bodies.length) {
      await session.download(bodies, {
        signal: ctrl.signal,
        onProgress: (p) => onProgress?.({ phase: 'bodies', ...p }),
        streamOver: STREAM_OVER,
        onChunk: (msg, piece) => {
          if (commitError) return;
          let s = streams.get(msg);
          if (!s) streams.set(msg, (s = new Pieces(`message ${msg}`)));
          s.add(piece);
        },
        onMessage: (msg, whole, streamed) => {
          if (commitError) return;
          try {
            const hb = headerBytes.get(msg);
            const shown = headerSummaries.get(msg);
            /** @type {import('./store.js').CommitInput} */
            let input;
            if (whole) {
              // The run's record: its key (a reused UIDL's new key, the checksum without UIDL) and fields.
              const rec = run.recordFor(msg, whole);
              const summary = shown && shown.size === rec.size ? shown : hb ? summaryOf(hb, rec.size) : summaryOf(whole, whole.length);
              input = { key: rec.key, bytes: whole, full: true, summary, known: rec };
            } else {
              const s = streams.get(msg);
              streams.delete(msg);
              if (!s || !streamed) throw new Error(`message ${msg} arrived neither whole nor in pieces`);
              const blob = s.whole(streamed.size);
              const rec = run.recordForStreamed(msg, s.head, streamed.sha256);
              const summary = shown && shown.size === rec.size ? shown : hb ? summaryOf(hb, rec.size) : summaryOf(s.head, streamed.size);
              input = { key: rec.key, bytes: blob, sha256: streamed.sha256, full: true, summary, known: rec };
            }
            bodyCommits.add(msg, input);
          } catch (err) {
            fail(err);
          }
        },
      });
    }
  } catch (err) {
    if (!commitError) {
      // What arrived whole before the break is committed (and only then counted); the rest
      // stays on the server. A failed header commit (it stopped the download) comes first.
      await bodyCommits.drain();
      const headerFailure = await headersCommitted;
      await persist().catch(() => {});
      throw headerFailure ?? err;
    }
  } finally {
    signal?.removeEventListener('abort', stop);
  }
  await bodyCommits.drain();
  const headerFailure = await headersCommitted;
  if (headerFailure) {
    await persist().catch(() => {});
    throw headerFailure;
  }
  if (commitError) {
    // (Set by the commits' callbacks, which the type checker does not follow.)
    const failure = /** @type {ErrorLike} */ (commitError);
    report.error = { code: codeOf(failure), message: failure.message || String(failure) };
    await persist().catch(() => {});
    return report;
  }

  // Every commit has settled: the run now knows exactly what is durably stored.
  if (allowDelete) {
    const dels = run.deletions();
    const results = await Promise.allSettled(dels.map((d) => session.dele(d.msg).then(() => run.deleteAcked(d.msg))));
    const failed = results.filter((r) => r.status === 'rejected');
    if (failed.length) {
      // A refused DELE only means the message stays on the server: say so, go on.
      report.warnings.push({ code: 'dele_failed', message: `The server refused to delete ${failed.length} message(s); they stay on the server.`, count: failed.length });
    }
    report.deletions = run.pendingDeletes();
    // Persisted before QUIT: if the connection dies now, the next sync retries these deletions.
    await persist();
    if (failed.length && !session.open) throw failed[0].reason;
  } else {
    await persist();
  }
  return report;
}

/**
 * After QUIT (committed = its +OK) or a lost connection (false): records the outcome, and
 * deletes here the local copies the run names (`deleteLocal`): the messages the user deleted
 * in this session (`userDeleted`: their message numbers, DELE acknowledged), once QUIT made it
 * real. Resolves with the run's `{ committed, deleted, pending, deleteLocal }`.
 */
/**
 * @param {Store} store
 * @param {string} account
 * @param {SyncRun} run
 * @param {boolean} committed
 * @param {{ userDeleted?: number[] }} [options]
 * @returns {Promise<SyncQuitResult>}
 */
export async function finishSync(store, account, run, committed, { userDeleted = [] } = {}) {
  const r = run.quit(committed, userDeleted);
  await persistRun(store, account, run);
  for (const key of r.deleteLocal ?? []) await store.deleteLocal(account, key);
  return r;
}

/**
 * RSET was answered +OK: this session deletes nothing after all.
 * @param {Store} store
 * @param {string} account
 * @param {SyncRun} run
 * @returns {Promise<SyncDeletion[]>} what was undone
 */
export async function undoSyncDeletions(store, account, run) {
  const undone = run.undoDeletions();
  await persistRun(store, account, run);
  return undone;
}

/**
 * A message read in this session (RETR by the UI) before the sync kept it, or over the size
 * limit: keep it now, under the record the run gives for it. Resolves with `{ key }` once the
 * commit is durable and the run knows, or `null` when the run says nothing may be written
 * (no run, the session has ended, its identity is not established yet, deleted here).
 * Rejects only when the store fails.
 */
/**
 * @param {{ store: Store | null, account: string, run: SyncRun | null | undefined, msg: number, bytes: Uint8Array | Blob, streamed?: { head: Uint8Array, sha256: string } | undefined }} options
 *   `streamed`: `bytes` is a Blob of the pieces a streamed download gave, with their header
 *   section and checksum (`recordForStreamed`)
 * @returns {Promise<{ key: string, summary: Summary } | null>}
 */
export async function keepOnDemand({ store, account, run, msg, bytes, streamed }) {
  if (!store || !run) return null;
  /** @type {import('./types.js').KnownRecord} */
  let rec;
  /** @type {Uint8Array} */
  let head;
  try {
    if (streamed) {
      rec = run.recordForStreamed(msg, streamed.head, streamed.sha256);
      head = streamed.head;
    } else if (ArrayBuffer.isView(bytes)) {
      rec = run.recordFor(msg, bytes);
      head = bytes;
    } else {
      return null;
    }
  } catch {
    return null;
  }
  const summary = summaryOf(head, rec.size);
  // The store merges this into the record the sync wrote, keeping its flags.
  const { sha256 } = await store.commitMessage(account, { key: rec.key, bytes, ...(streamed && { sha256: streamed.sha256 }), full: true, summary, known: rec });
  run.stored(msg, { sha256, full: true });
  return { key: rec.key, summary };
}

/**
 * Which messages of this session the store already has, before any sync: the run's answer
 * (same UIDL and size, reused UIDLs and fingerprints honoured), with each one's list summary.
 * `list` and `uidl` are the session's LIST and UIDL answers ([{msg, size}], [{msg, uid}]),
 * `headers` an optional [{msg, headers}] of TOP answers at hand.
 * Resolves with [{ msg, key, uid, kept: 'full' | 'headers', summary }]; messages without a
 * stored summary are left out.
 */
/**
 * One message of `identifyKept`.
 * @typedef {object} KeptMessage
 * @property {number} msg
 * @property {string} key
 * @property {string | null} uid
 * @property {'headers' | 'full'} kept
 * @property {SummaryRow} summary
 */

/**
 * @param {{ store: Store, account: string, SyncRun: SyncRunConstructor, list: ListEntry[], uidl: UidlEntry[], headers?: { msg: number, headers: Uint8Array }[] }} options
 * @returns {Promise<KeptMessage[]>}
 */
export async function identifyKept({ store, account, SyncRun, list, uidl, headers }) {
  const [known, rows] = await Promise.all([store.known(account), store.summaries(account)]);
  const found = SyncRun.identify({
    uidl: uidl.map(({ msg, uid }) => ({ msg, uid })),
    list: list.map(({ msg, size }) => ({ msg, size })),
    known,
    ...(headers && { headers: headers.map(({ msg, headers: h }) => ({ msg, headers: h })) }),
  });
  const byKey = new Map(rows.map((r) => [r.key, r]));
  /** @type {KeptMessage[]} */
  const out = [];
  for (const f of found) {
    const summary = byKey.get(f.key);
    if (summary) out.push({ msg: f.msg, key: f.key, uid: f.uid ?? null, kept: f.stored, summary });
  }
  return out;
}

/**
 * @param {Store} store
 * @param {string} account
 * @param {SyncRun} run
 */
function persistRun(store, account, run) {
  return store.putKnown(account, run.known(), { remove: run.dropped() });
}
