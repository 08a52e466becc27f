// @ts-check
// Test harness of the search (web/search.js): the fixtures and the one list of what each query
// must find, used by node (tests/tests/ui_search.rs, with a memory store) and by the browser
// tests and the benchmark (the same file as a page, with the real IndexedDB store and the real
// reading module). Not used by the app. Nothing touches `window` unless this is a page.

import { openSearch, parseQuery, tokenize, deleteSearchDatabase, INDEX_VERSION } from '../search.js';
import { summaryOf } from '../sync.js';

/** @import { MailSearch } from '../search.js' */
/** @import { Store, CommitInput } from '../store.js' */

export const ACCOUNT = 'search@localhost:995';
const enc = new TextEncoder();
const CRLF = '\r\n';

/**
 * A message of the fixtures: headers, a plain or HTML body, attachments (name, base64 content).
 * @param {{ from: string, to: string, subject: string, date: string, text?: string, html?: string, files?: string[] }} m
 */
function mime(m) {
  const head = [`From: ${m.from}`, `To: ${m.to}`, `Subject: ${m.subject}`, `Date: ${m.date}`, 'MIME-Version: 1.0'];
  const body = m.html != null ? { type: 'text/html; charset=utf-8', text: m.html } : { type: 'text/plain; charset=utf-8', text: m.text ?? '' };
  if (!m.files?.length) return [...head, `Content-Type: ${body.type}`, 'Content-Transfer-Encoding: 8bit', '', body.text, ''].join(CRLF);
  const b = 'b-o-u-n-d';
  const parts = [`--${b}`, `Content-Type: ${body.type}`, 'Content-Transfer-Encoding: 8bit', '', body.text];
  for (const f of m.files) parts.push(`--${b}`, `Content-Type: application/octet-stream; name="${f}"`, `Content-Disposition: attachment; filename="${f}"`, 'Content-Transfer-Encoding: base64', '', 'AAECAwQF');
  parts.push(`--${b}--`, '');
  return [...head, `Content-Type: multipart/mixed; boundary="${b}"`, '', ...parts].join(CRLF);
}

/** The fixtures: key -> raw message (and whether it is kept whole or as headers only). */
export const FIXTURES = [
  {
    key: 'm1',
    full: true,
    raw: mime({ from: 'Alice Martin <alice@example.org>', to: 'bob@example.net', subject: 'Quarterly invoice', date: 'Tue, 10 Mar 2026 12:00:00 +0000', text: 'Please find the payment details for the harbour project.', files: ['budget-2026.xlsx'] }),
  },
  {
    key: 'm2',
    full: true,
    raw: mime({ from: 'Carol <carol@example.com>', to: 'alice@example.org', subject: 'Lunch on Friday?', date: 'Sat, 02 May 2026 12:00:00 +0000', html: '<html><head><title>hidden title</title></head><body><p>Meet at the <b>light</b>house&nbsp;caf&eacute; or the lighthouse caf&#233;</p><script>secretword()</script></body></html>' }),
  },
  {
    key: 'm3',
    full: true,
    raw: mime({ from: 'Dave <dave@example.org>', to: 'team@example.org', subject: '=?utf-8?q?R=C3=A9sum=C3=A9_attached?=', date: 'Thu, 24 Dec 2025 12:00:00 +0000', text: 'Here is my resume as promised.', files: ['cv-dave.pdf'] }),
  },
  {
    key: 'm4',
    full: false,
    raw: mime({ from: 'Eve <eve@example.net>', to: 'bob@example.net', subject: 'Invitation to the harbour party', date: 'Mon, 01 Jun 2026 12:00:00 +0000', text: 'never kept: headers only' }),
  },
];

/** A message kept later, while no index listens (the repair of a lagging index). */
export const LATE = {
  key: 'm5',
  full: true,
  raw: mime({ from: 'Frank <frank@example.org>', to: 'bob@example.net', subject: 'Late arrival', date: 'Tue, 02 Jun 2026 12:00:00 +0000', text: 'The train was delayed by an avalanche.' }),
};

/**
 * The store input of a fixture: a header-only one is kept as its headers (what the sync keeps
 * for a message it does not download).
 * @param {{ key: string, full: boolean, raw: string }} f
 * @returns {CommitInput}
 */
export function commitInput(f) {
  const all = enc.encode(f.raw);
  const bytes = f.full ? all : enc.encode(f.raw.slice(0, f.raw.indexOf('\r\n\r\n') + 4));
  return { key: f.key, bytes, full: f.full, summary: summaryOf(bytes, all.length) };
}

/**
 * What each query finds, once the bodies are indexed (`body: true`: found through the body or
 * an attachment name only, so not before). Keys in any order.
 * @type {{ q: string, keys: string[], body?: boolean, why: string }[]}
 */
export const CASES = [
  { q: 'invoice', keys: ['m1'], why: 'a subject word' },
  { q: 'inv', keys: ['m1', 'm4'], why: 'a prefix as typed (invoice, invitation)' },
  { q: 'invo', keys: ['m1'], why: 'a longer prefix narrows' },
  { q: 'QUARTERLY', keys: ['m1'], why: 'case-insensitive' },
  { q: 'resume', keys: ['m3'], why: 'accents folded (Résumé, encoded subject); the body also says resume' },
  { q: 'from:alice', keys: ['m1'], why: 'from: only the sender (m2 is to alice)' },
  { q: 'to:alice', keys: ['m2'], why: 'to: only the recipients' },
  { q: 'alice', keys: ['m1', 'm2'], why: 'a free word matches sender and recipients' },
  { q: 'from:"Alice Martin"', keys: ['m1'], why: 'a quoted operator value' },
  { q: 'from:example.org', keys: ['m1', 'm3'], why: 'part of an address' },
  { q: 'subject:lunch', keys: ['m2'], why: 'subject:' },
  { q: 'subject:alice', keys: [], why: 'subject: does not look at the sender' },
  { q: 'harbour party', keys: ['m4'], why: 'two words: both must match' },
  { q: 'harbour part', keys: ['m4'], why: 'the word being typed is a prefix' },
  { q: 'harb party', keys: [], why: 'a finished word is matched whole' },
  { q: 'in', keys: [], why: 'two letters are too few for a prefix (nothing is the word "in")' },
  { q: 'eve', keys: ['m4'], why: 'a message kept as headers only is found by its headers' },
  { q: 'before:2026-01-01', keys: ['m3'], why: 'before: a date' },
  { q: 'after:2026-05-01', keys: ['m2', 'm4'], why: 'after: a date, on or after' },
  { q: 'after:2026-03-01 before:2026-06-01', keys: ['m1', 'm2'], why: 'a date range' },
  { q: 'after:2026-02-30', keys: [], why: 'an impossible date is ignored, and nothing else asked: no results' },
  { q: 'payment', keys: ['m1'], body: true, why: 'a word of the plain-text body' },
  { q: 'harbour', keys: ['m1', 'm4'], body: true, why: 'body of m1, subject of m4' },
  { q: 'lighthouse', keys: ['m2'], body: true, why: 'a word of an HTML-only body' },
  { q: 'cafe', keys: ['m2'], body: true, why: 'an HTML character reference, accent folded' },
  { q: 'secretword', keys: [], body: true, why: 'script content is not text' },
  { q: 'hidden', keys: [], body: true, why: 'the HTML head is not text' },
  { q: 'budget', keys: ['m1'], body: true, why: 'an attachment name' },
  { q: 'cv-dave', keys: ['m3'], body: true, why: 'an attachment name with a dash' },
  { q: 'has:attachment', keys: ['m1', 'm3'], body: true, why: 'has:attachment' },
  { q: 'has:attachment from:dave', keys: ['m3'], body: true, why: 'has:attachment with from:' },
  { q: '"harbour project"', keys: ['m1'], body: true, why: 'a quoted phrase: all of its words' },
  { q: '"harb"', keys: [], why: 'a quoted word is matched whole, not as a prefix' },
  { q: 'payment from:carol', keys: [], body: true, why: 'every part must match' },
];

/**
 * Runs CASES on `idx` and lists what differs: [] when all is well.
 * @param {(q: string) => { key: string }[]} search
 * @param {{ bodies: boolean }} state whether the bodies are indexed (else body cases find only header matches)
 */
export function checkCases(search, { bodies }) {
  /** @type {unknown[]} */
  const failures = [];
  let checked = 0;
  for (const c of CASES) {
    const got = search(c.q).map((h) => h.key).sort();
    // Before the bodies are indexed, a body case finds what its headers give: for
    // `harbour`, m4 by its subject; for `payment`, nothing.
    const want = bodies || !c.body ? [...c.keys].sort() : c.q === 'harbour' ? ['m4'] : [];
    checked++;
    if (JSON.stringify(got) !== JSON.stringify(want)) failures.push({ q: c.q, why: c.why, got, want });
  }
  return { checked, failures };
}

/** The parser's own cases. */
export function checkParser() {
  /** @type {unknown[]} */
  const failures = [];
  const expect = (/** @type {string} */ what, /** @type {unknown} */ got, /** @type {unknown} */ want) => {
    if (JSON.stringify(got) !== JSON.stringify(want)) failures.push({ what, got, want });
  };
  const p = parseQuery('From:"Alice Martin" subject:inv has:Attachment before:2026-02-30 after:2026-01-05 "a b" x to: cc:y has:pdf "open');
  expect('fields', p.fields, { from: ['Alice Martin'], to: [], subject: ['inv'] });
  expect('has:attachment, any case', p.hasAttachment, true);
  expect('an impossible date is ignored', p.before, null);
  expect('after: is local midnight', p.after, new Date(2026, 0, 5).getTime());
  expect('phrases, even one still being typed', p.phrases, ['a b', 'open']);
  expect('free words', p.terms, ['x']);
  // An address is words: its local part, its domain's labels; never "<ann" or "org>".
  expect('addresses split into words', tokenize('Ann Lee <ann.lee+news@example.org>').filter(Boolean), ['Ann', 'Lee', 'ann', 'lee', 'news', 'example', 'org']);
  expect('not understood, not searched', p.ignored, ['before:2026-02-30', 'cc:y', 'has:pdf']);
  expect('the word at the end is being typed', p.typing, null);
  expect('…a free word', parseQuery('to:bob inv').typing, { in: 'terms', index: 0 });
  expect('…an operator value', parseQuery('harbour subject:a subject:inv').typing, { in: 'subject', index: 1 });
  expect('…not once a space follows', parseQuery('inv ').typing, null);
  expect('empty', parseQuery('   '), { terms: [], phrases: [], fields: { from: [], to: [], subject: [] }, hasAttachment: false, before: null, after: null, ignored: [], typing: null });
  return { checked: 12, failures };
}

// ---------------------------------------------------------------------------- the page

/** @param {number} i a random-looking but fixed word list for the benchmark's messages */
const WORDS = 'alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu invoice meeting report budget harbour project lunch party travel contract review draft schedule payment release summary question update agenda minutes proposal design server backup'.split(' ');

/**
 * The n-th message of the benchmark: realistic sizes (a few hundred words of body), a spread of
 * senders, subjects and dates, every tenth with an attachment.
 * @param {number} n
 * @returns {{ key: string, full: boolean, raw: string }}
 */
export function benchMessage(n) {
  let x = (n + 1) * 2654435761;
  const rnd = () => {
    x = (x * 1103515245 + 12345) >>> 0;
    return x;
  };
  const w = () => WORDS[rnd() % WORDS.length] + (rnd() % 5 === 0 ? String(rnd() % 1000) : '');
  const words = (/** @type {number} */ k) => Array.from({ length: k }, w).join(' ');
  const who = `${WORDS[n % WORDS.length]}${n % 97}`;
  const day = new Date(Date.UTC(2020, 0, 1) + (n % 2000) * 86400000).toUTCString().replace('GMT', '+0000');
  return {
    key: `b${n}`,
    full: true,
    raw: mime({ from: `${who} <${who}@example.org>`, to: `user${n % 13}@example.net`, subject: words(5), date: day, text: words(200), files: n % 10 === 0 ? [`${w()}.pdf`] : [] }),
  };
}

/**
 * The benchmark's queries, as people type them: single words, two words, operators.
 * @param {number} count
 */
export function benchQueries(count) {
  /** @type {((a: string, b: string) => string)[]} */
  const forms = [(a) => a, (a, b) => `${a} ${b}`, (a) => `from:${a}`, (a, b) => `subject:${a} ${b}`, (a) => `has:attachment ${a}`, (a) => `${a} after:2021-01-01`, (a, b) => `"${a} ${b}"`];
  return Array.from({ length: count }, (_, i) => forms[i % forms.length](WORDS[(i * 7) % WORDS.length], WORDS[(i * 13 + 5) % WORDS.length]));
}

if (typeof window !== 'undefined') {
  const { openStore, deleteDatabase } = await import('../store.js');
  // summaryOf needs the client's wasm (header display), as after connect() in the app.
  await (await import('../pop3.js')).wasm();
  const { SearchBox } = await import('../inbox/search-box.js');
  /** @type {Store} */
  let store = await openStore();
  /** @type {MailSearch | null} */
  let idx = null;
  /** @type {{ query: string, keys: string[] | null }[]} */
  const boxResults = [];
  const open = async () => {
    idx?.close();
    idx = await openSearch(store, ACCOUNT);
    return idx.stats();
  };
  const need = () => /** @type {MailSearch} */ (idx ?? Promise.reject(new Error('not open')));
  /** Goes through IndexedDB directly, as a damaged or old record would look. */
  const rawRecord = async (/** @type {(rec: any) => any} */ change) => {
    const db = await new Promise((resolve, reject) => {
      const r = indexedDB.open('pop3-search');
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    const s = db.transaction('indexes', 'readwrite').objectStore('indexes');
    const rec = await new Promise((resolve) => (s.get(ACCOUNT).onsuccess = (/** @type {any} */ e) => resolve(e.target.result)));
    const tx = db.transaction('indexes', 'readwrite');
    const next = change(rec);
    if (next == null) tx.objectStore('indexes').delete(ACCOUNT);
    else tx.objectStore('indexes').put(next);
    await new Promise((r) => (tx.oncomplete = r));
    db.close();
    return true;
  };
  /** Both databases gone, the store and the index open and empty. */
  const reset = async () => {
    idx?.close();
    idx = null;
    store.close();
    await deleteDatabase();
    await deleteSearchDatabase();
    store = await openStore();
    return open();
  };
  window.harness = {
    INDEX_VERSION,
    reset,
    open,
    /** Stops the index (it hears nothing of the store until opened again). */
    close() {
      idx?.close();
      idx = null;
      return true;
    },
    async keepFixtures() {
      await store.commitMessages(ACCOUNT, FIXTURES.map(commitInput));
      return true;
    },
    async keepLate() {
      await store.commitMessages(ACCOUNT, [commitInput(LATE)]);
      return true;
    },
    async settled() {
      await need().settled();
      return need().stats();
    },
    stats: () => need().stats(),
    check: (/** @type {boolean} */ bodies) => checkCases((q) => need().search(q), { bodies }),
    search: (/** @type {string} */ q) => need().search(q).map((h) => h.key).sort(),
    async deleteLocal(/** @type {string} */ key) {
      await store.deleteLocal(ACCOUNT, key);
      return true;
    },
    async wipeAccount() {
      await store.wipeAccount(ACCOUNT);
      return true;
    },
    /** @param {'json' | 'version' | 'count' | 'missing'} how */
    corrupt(how) {
      return rawRecord((rec) => {
        if (!rec) throw new Error('no stored index to corrupt');
        if (how === 'json') return { ...rec, json: rec.json.slice(0, rec.json.length >> 1) };
        if (how === 'version') return { ...rec, version: rec.version + 1 };
        if (how === 'count') return { ...rec, count: rec.count + 1 };
        return null;
      });
    },
    storedRecord: () => rawRecord((rec) => rec).then(() => true),
    /** The search field over this index, results collected in `boxResults`. */
    mountBox() {
      const box = new SearchBox({ search: (q) => need().search(q), onResults: (hits, query) => boxResults.push({ query, keys: hits && hits.map((h) => h.key).sort() }) });
      document.body.append(box.element);
      return true;
    },
    boxResults: () => boxResults.splice(0),
    /**
     * The benchmark (`cargo xtask bench search`): keeps `n` messages (batches of 500, as the
     * sync does), waits for the index to be complete and saved, opens it again from
     * IndexedDB, then types each query char by char into the search field and times each
     * keystroke, from its `input` event to the results callback. Runs in the background
     * (longer than a WebDriver script may take): `benchResult()` has the figures once done.
     * @param {{ n: number, queries: number }} o
     */
    startBench(o) {
      benchResult = null;
      bench(o).then(
        (r) => (benchResult = r),
        (e) => (benchResult = { error: String(e?.stack || e) }),
      );
      return true;
    },
    benchResult: () => benchResult,
  };

  /** @type {unknown} */
  let benchResult = null;

  /** @param {{ n: number, queries: number }} o */
  const bench = async ({ n, queries }) => {
    await reset();
    const t0 = performance.now();
    let commitMs = 0;
    for (let i = 0; i < n; i += 500) {
      const batch = Array.from({ length: Math.min(500, n - i) }, (_, j) => commitInput(benchMessage(i + j)));
      const c0 = performance.now();
      await store.commitMessages(ACCOUNT, batch);
      commitMs += performance.now() - c0;
    }
    const keptMs = performance.now() - t0;
    const headersMs = (await need().settled(), performance.now() - t0);
    const built = need().stats();
    // Open again from IndexedDB: the load time of a stored index of that size.
    const l0 = performance.now();
    const st = await open();
    const loadMs = performance.now() - l0;
    /** @type {number[]} */
    const times = [];
    /** @type {number[]} */
    const counts = [];
    /** @type {string[]} */
    const typed = [];
    let last = 0;
    const b = new SearchBox({
      search: (q) => need().search(q, { limit: 200 }),
      onResults: (hits) => {
        times.push(performance.now() - last);
        counts.push(hits?.length ?? 0);
      },
    });
    document.body.append(b.element);
    const qs = benchQueries(queries);
    for (const q of qs) {
      for (let k = 1; k <= q.length; k++) {
        b.input.value = q.slice(0, k);
        typed.push(b.input.value);
        last = performance.now();
        b.input.dispatchEvent(new Event('input'));
      }
      // A frame between queries, as between a user's searches.
      await new Promise((r) => requestAnimationFrame(r));
    }
    b.element.remove();
    const sorted = [...times].sort((a, c) => a - c);
    const pct = (/** @type {number} */ p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
    return {
      n,
      queries: qs.length,
      keystrokes: times.length,
      p50Ms: pct(50),
      p95Ms: pct(95),
      maxMs: sorted[sorted.length - 1],
      slowest: times
        .map((t, i) => ({ q: typed[i], ms: Math.round(t * 10) / 10, results: counts[i] }))
        .sort((a, c) => c.ms - a.ms)
        .slice(0, 8),
      meanResults: counts.reduce((a, c) => a + c, 0) / Math.max(1, counts.length),
      keptMs: Math.round(keptMs),
      commitMs: Math.round(commitMs),
      indexedAndSavedMs: Math.round(headersMs),
      loadMs: Math.round(loadMs),
      bytes: st.bytes,
      built,
      loaded: st,
    };
  };
  window.harnessReady = true;
}
