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
//   -> TOP n 0 for new messages (headers first, so the list fills in quickly); the run says
//      whether and under which record the header bytes are written
//   -> run.bodiesWithin(storage estimate): the bodies to fetch, and what stays on the server
//   -> RETR bodies, each written with run.recordFor()'s record, committed to the store
//      durably, THEN reported to the run
//   -> only after every commit settled: DELE for what the run allows, persisted as pending
//   -> QUIT (by the caller, after showing what will be deleted) -> finishSync()
//
// A failure anywhere before QUIT leaves the mail on the server (POP3 forgets DELE marks without
// QUIT), and the pending deletions are retried by the next sync.

import { withSyncLock, storageEstimate } from './store.js';
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
async function syncLocked({ session, store, account, policy, SyncRun, now = Date.now, signal, onRun, onProgress, onStored, headersOf, allowDelete = true, downloadAndDeleteWithoutUidl = false }) {
  /** @type {SyncReport} */
  const report = { run: null, plan: null, blocked: null, warnings: [], stored: 0, bytes: 0, deletions: [], error: null };
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

  // The header bytes of this session, by message: the body commit's summary is made from them.
  /** @type {Map<number, Uint8Array>} */
  const headerBytes = new Map();

  // Headers first: new messages appear in the list before any body is downloaded.
  if (plan.headers.length) {
    // Headers the caller already read in this session (the inbox's list) are not asked again.
    /** @type {Map<number, { msg: number, headers: Uint8Array }>} */
    const byMsg = new Map();
    /** @type {number[]} */
    const missing = [];
    for (const msg of plan.headers) {
      const headers = headersOf?.(msg);
      if (headers) byMsg.set(msg, { msg, headers });
      else missing.push(msg);
    }
    if (missing.length) {
      const got = await session.fetchHeaders({ msgs: missing, signal, onProgress: (p) => onProgress?.({ phase: 'headers', ...p }) });
      for (const r of got) byMsg.set(r.msg, r);
    }
    for (const msg of plan.headers) {
      const r = byMsg.get(msg);
      const h = run.headers(msg, r ? r.headers : null);
      if (r) headerBytes.set(msg, r.headers);
      // The run says whether these bytes are written, and the record beside them: never for a
      // stored message under a new UIDL, never over a stored full body.
      const rec = h.record;
      if (!rec) continue;
      const bytes = /** @type {NonNullable<typeof r>} */ (r).headers; // a record comes only with header bytes
      const summary = summaryOf(bytes, rec.size);
      // The list shows it now; the body (if it is to come) replaces these bytes later.
      await store.commitMessage(account, { key: rec.key, bytes, full: false, summary, known: rec });
      run.stored(msg, { full: false });
      onStored?.({ msg, key: rec.key, summary, full: false });
    }
  }

  // Bodies, newest first, within the space the browser says it has: the run decides which.
  const fetch = run.bodiesWithin(await storageEstimate());
  if (fetch.warning) report.warnings.push(fetch.warning);
  const bodies = fetch.bodies;

  const ctrl = new AbortController();
  const stop = () => ctrl.abort();
  signal?.addEventListener('abort', stop, { once: true });
  /** @type {Promise<void>[]} */
  const commits = [];
  /** @type {ErrorLike | null} */
  let commitError = null; // what the store threw first
  /** @type {(msg: number, bytes: Uint8Array) => Promise<void>} */
  const commit = async (msg, bytes) => {
    // The run's record: its key (a reused UIDL's new key, the checksum without UIDL) and fields.
    const rec = run.recordFor(msg, bytes);
    const hb = headerBytes.get(msg);
    const summary = hb ? summaryOf(hb, rec.size) : summaryOf(bytes, bytes.length);
    const { sha256 } = await store.commitMessage(account, { key: rec.key, bytes, full: true, summary, known: rec });
    // Durable now: only from here on may the run count it as stored (and so deletable).
    run.stored(msg, { sha256, full: true });
    report.stored++;
    report.bytes += bytes.length;
    onStored?.({ msg, key: rec.key, summary, full: true });
  };
  try {
    if (bodies.length) {
      await session.download(bodies, {
        signal: ctrl.signal,
        onProgress: (p) => onProgress?.({ phase: 'bodies', ...p }),
        onMessage: (msg, bytes) => {
          if (commitError) return;
          commits.push(
            commit(msg, bytes).catch((err) => {
              // Disk full or store gone: stop downloading; nothing more is stored or deleted.
              commitError ??= err;
              ctrl.abort();
            }),
          );
        },
      });
    }
  } catch (err) {
    if (!commitError) {
      await Promise.allSettled(commits);
      await persist().catch(() => {});
      throw err;
    }
  } finally {
    signal?.removeEventListener('abort', stop);
  }
  await Promise.allSettled(commits);
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
 * @param {{ store: Store | null, account: string, run: SyncRun | null | undefined, msg: number, bytes: Uint8Array }} options
 * @returns {Promise<{ key: string, summary: Summary } | null>}
 */
export async function keepOnDemand({ store, account, run, msg, bytes }) {
  if (!store || !run) return null;
  /** @type {import('./types.js').KnownRecord} */
  let rec;
  try {
    rec = run.recordFor(msg, bytes);
  } catch {
    return null;
  }
  const summary = summaryOf(bytes, rec.size);
  // The store merges this into the record the sync wrote, keeping its flags.
  const { sha256 } = await store.commitMessage(account, { key: rec.key, bytes, full: true, summary, known: rec });
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
