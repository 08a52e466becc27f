// Sync of one account over one POP3 session.
//
// Every decision (what is new, what to fetch, what may be deleted, UIDL trouble) is made by the
// wasm SyncRun (crate client-wasm/pop3-sync, tested natively against scripted servers). This file
// only moves bytes between the session, the run and the store, in the one order that keeps
// mail safe:
//
//   LIST + UIDL (pipelined) -> plan -> persist new records
//   -> TOP n 0 for new messages (headers first, so the list fills in quickly)
//   -> RETR bodies, each committed to the store durably, THEN reported to the run
//   -> only after every commit settled: DELE for what the run allows, persisted as pending
//   -> QUIT (by the caller, after showing what will be deleted) -> finishSync()
//
// A failure anywhere before QUIT leaves the mail on the server (POP3 forgets DELE marks without
// QUIT), and the pending deletions are retried by the next sync.

import { withSyncLock, storageEstimate, StoreError } from './store.js';
import { summarizeHeaders } from './mime.js';

/** Bytes kept free on top of what a download needs: IndexedDB's own overhead and other data. */
const SPACE_MARGIN = 8 * 1024 * 1024;

/** The header section of a message (up to the first empty line), for the list's summary. */
export function headerSection(bytes) {
  for (let i = 0; i + 1 < bytes.length; i++) {
    if (bytes[i] === 10 && (bytes[i + 1] === 10 || (bytes[i + 1] === 13 && bytes[i + 2] === 10))) return bytes.subarray(0, i + 1);
  }
  return bytes;
}

/** What the list shows for a message: from the headers, never interpreted as markup. */
export function summaryOf(bytes, size) {
  const s = summarizeHeaders(headerSection(bytes));
  return { from: s.from || '', subject: s.subject || '', to: s.to || '', dateMs: s.date ? s.date.getTime() : null, size };
}

function codeOf(err) {
  return err?.code || err?.name || 'error';
}

/**
 * Runs one sync. Resolves with a report; the session stays open so the caller can show
 * `report.deletions` and then QUIT (or RSET to undo) and call finishSync().
 *
 * options: { session, store, account, policy, SyncRun, sha256Hex, now?, signal?, onRun?(run),
 *            onProgress?({phase, done, total, bytes, totalBytes}), onStored?({msg, key, summary, full}),
 *            headersOf?(msg) -> Uint8Array | undefined (TOP n 0 answers this session already has),
 *            allowDelete?, downloadAndDeleteWithoutUidl? }
 * report:  { run, plan, blocked, warnings, stored, bytes, deletions, error }
 *   error is null or { code, message } — the sync stopped there, nothing was deleted.
 */
export function syncAccount(options) {
  return withSyncLock(options.account, () => syncLocked(options));
}

async function syncLocked({ session, store, account, policy, SyncRun, sha256Hex, now = Date.now, signal, onRun, onProgress, onStored, headersOf, allowDelete = true, downloadAndDeleteWithoutUidl = false }) {
  const report = { run: null, plan: null, blocked: null, warnings: [], stored: 0, bytes: 0, deletions: [], error: null };
  const known = await store.known(account);
  const nowMs = now();
  const run = new SyncRun({ account, policy: policy ?? {}, known, nowMs, downloadAndDeleteWithoutUidl });
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

  let entries = new Map(plan.entries.map((e) => [e.msg, e]));
  const summaries = new Map();
  const firstSeen = new Map(run.known().map((r) => [r.key, r.firstSeenMs]));
  const recordFor = (key, uid, size, fingerprint, stored, sha256) => ({ key, uid: uid ?? null, size, fingerprint: fingerprint ?? null, firstSeenMs: firstSeen.get(key) ?? nowMs, stored, sha256: sha256 ?? null });

  // Headers first: new messages appear in the list before any body is downloaded.
  if (plan.headers.length) {
    // Headers the caller already read in this session (the inbox's list) are not asked again.
    const byMsg = new Map();
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
      const e = entries.get(msg);
      if (!r || !h.key || h.matchedKey) continue;
      const summary = summaryOf(r.headers, e?.size ?? r.size ?? 0);
      summaries.set(msg, summary);
      if (e?.stored === 'full') continue;
      // The list shows it now; the body (if it is to come) replaces these bytes later.
      await store.commitMessage(account, { key: h.key, bytes: r.headers, full: false, summary, known: recordFor(h.key, h.uid, e?.size ?? 0, h.fingerprint, 'headers', null) });
      run.stored(msg, { full: false });
      onStored?.({ msg, key: h.key, summary, full: false });
    }
  }

  // The headers decided the keys the listing could not (a reused UIDL gets a new key, a
  // fingerprint match keeps the old one): take the entries again before storing any body.
  entries = new Map(run.plan().entries.map((e) => [e.msg, e]));

  // Bodies, newest first, within the space the browser says it has.
  let bodies = run.bodies();
  const est = await storageEstimate();
  if (est) {
    let free = est.quota - est.usage - SPACE_MARGIN;
    const fit = [];
    for (const msg of bodies) {
      const size = entries.get(msg)?.size ?? 0;
      if (size * 1.1 > free) break;
      free -= size * 1.1;
      fit.push(msg);
    }
    if (fit.length < bodies.length) {
      report.warnings.push({ code: 'storage_low', message: `This device has room for only ${fit.length} of the ${bodies.length} new messages. The rest stay on the server; free some space and sync again.`, count: bodies.length - fit.length });
      bodies = fit;
    }
  }

  const ctrl = new AbortController();
  const stop = () => ctrl.abort();
  signal?.addEventListener('abort', stop, { once: true });
  const commits = [];
  let commitError = null;
  const commit = async (msg, bytes) => {
    const e = entries.get(msg);
    // Without UIDL the checksum is the key; with it, the run's key (a reused UIDL gets a new one).
    const sha = sha256Hex(bytes);
    const key = e?.key ?? (e?.uid == null ? `sha256:${sha}` : null);
    if (!key) throw new StoreError('not_found', `message ${msg} has no key`);
    const summary = summaries.get(msg) ?? summaryOf(bytes, bytes.length);
    const { sha256 } = await store.commitMessage(account, { key, bytes, full: true, summary, known: recordFor(key, e?.uid, e?.size ?? bytes.length, null, 'full', sha) });
    // Durable now: only from here on may the run count it as stored (and so deletable).
    run.stored(msg, { sha256, full: true });
    report.stored++;
    report.bytes += bytes.length;
    onStored?.({ msg, key, summary, full: true });
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
    report.error = { code: codeOf(commitError), message: commitError.message || String(commitError) };
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

/** After QUIT (committed = its +OK) or a lost connection (false): records the outcome. */
export async function finishSync(store, account, run, committed) {
  const r = run.quit(committed);
  await persistRun(store, account, run);
  return r;
}

/** RSET was answered +OK: this session deletes nothing after all. */
export async function undoSyncDeletions(store, account, run) {
  const undone = run.undoDeletions();
  await persistRun(store, account, run);
  return undone;
}

function persistRun(store, account, run) {
  return store.putKnown(account, run.known(), { remove: run.dropped() });
}
