// @ts-check
// Mock of web/pop3.js with the same shape, for UI development and browser tests without a
// bridge or mail server. Select it with <pop3-inbox api="mock">.
//
// The mailbox is generated on the fly (10 000 messages by default) so the UI's virtual
// scrolling and batched header loading are exercised at realistic scale.
//
// Magic user names simulate situations that are hard to produce against a real server:
//   badpass      -> auth_failed, with the server's own words
//   expired      -> cert_expired, with certificate details from the bridge
//   unknownca    -> cert_unknown_issuer
//   inuse        -> in_use (mailbox locked by another session)
//   nobridge     -> bridge_unreachable
//   quitfail     -> quit() fails: deletions are NOT committed
//   empty        -> an empty mailbox
//   small        -> 30 messages
//   slow         -> 30 messages with slow RETR/TOP, to see progress indicators
//   count=N      -> N messages (e.g. "count=250")
//   hostile      -> the raw messages in globalThis.__pop3MockMailbox (an array of Uint8Array,
//                   message 1 first), e.g. the hostile corpus put there by tests/tests/ui_safety.rs
// Plain security without allowInsecure -> plaintext_refused, like the real client.
//
// window.__pop3Mock exposes the last session's state (deleted, committed, calls) to tests.

/**
 * @import { ConnectOptions, Capabilities, TlsInfo, StatResult, ListEntry, UidlEntry, QuitResult, FetchHeadersOptions, FetchedHeaders, DownloadOptions } from '../types.js'
 */

export class Pop3Error extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {{ serverText?: string, detail?: string }} [extra]
   */
  constructor(code, message, { serverText, detail } = {}) {
    super(message);
    this.name = 'Pop3Error';
    this.code = code;
    if (serverText !== undefined) this.serverText = serverText;
    if (detail !== undefined) this.detail = detail;
  }
}

const enc = new TextEncoder();
const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

const NAMES = [
  ['Ann Example', 'ann@example.org'],
  ['Bj\u00f6rn M\u00fcller', 'bjoern@example.de'],
  ['\u5c71\u7530 \u592a\u90ce', 'taro@example.jp'],
  ['Chlo\u00e9 Dupont', 'chloe@example.fr'],
  ['Build Server', 'ci@example.net'],
];
const TOPICS = [
  'Quarterly report',
  'Lunch on Friday?',
  'Your invoice',
  'Meeting notes',
  'Re: Holiday photos',
  'Server maintenance window',
  'Welcome aboard',
];

/** RFC 2047 B-encoding of a UTF-8 string, as real mailers produce for non-ASCII subjects. */
/** @param {string} text */
function bWord(text) {
  const bytes = enc.encode(text);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return `=?UTF-8?B?${btoa(bin)}?=`;
}

/** @param {string} text */
function qWord(text) {
  let out = '';
  for (const b of enc.encode(text)) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9]/.test(c)) out += c;
    else if (c === ' ') out += '_';
    else out += '=' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return `=?utf-8?Q?${out}?=`;
}

// Hostile content for the "server text is never markup" tests.
export const HOSTILE_SUBJECT = '<img src=x onerror="window.__pwned=1">';

/**
 * Builds message `msg` of a mailbox with `count` messages. Deterministic.
 * @param {number} msg
 * @param {number} count
 * @returns {Uint8Array}
 */
function buildMessage(msg, count) {
  const [name, addr] = NAMES[msg % NAMES.length];
  const base = Date.UTC(2026, 10, 26, 18, 0, 0);
  const date = new Date(base - (count - msg) * 37 * 60 * 1000);
  let subject;
  let from = msg % 2 ? `${bWord(name)} <${addr}>` : `"${name}" <${addr}>`;
  /** @type {string[]} */
  let body;
  /** @type {string[]} */
  let head;
  if (msg === count) {
    subject = HOSTILE_SUBJECT;
    from = `"<b>Mallory</b>" <mallory@example.com>`;
    body = ['Content-Type: text/plain; charset=utf-8', '', '<script>window.__pwned=2</script>', 'This text must appear literally.'];
  } else if (msg === count - 1) {
    subject = qWord('Caf\u00e9 \u2615 & cr\u00e8me br\u00fbl\u00e9e');
    body = [
      'MIME-Version: 1.0',
      'Content-Type: multipart/alternative; boundary="b1"',
      '',
      'This is a multi-part message in MIME format.',
      '--b1',
      'Content-Type: text/plain; charset=iso-8859-1',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'Bonjour,',
      '',
      'le caf=E9 est pr=EAt. Cette ligne est tr=E8s longue et utilise un saut de lig=',
      'ne doux.',
      '',
      'Chlo=E9',
      '--b1',
      'Content-Type: text/html; charset=utf-8',
      '',
      '<p>HTML version</p>',
      '--b1--',
    ];
  } else if (msg === count - 2) {
    subject = bWord('\u4f1a\u8b70\u306e\u304a\u77e5\u3089\u305b') + ' ' + bWord('(\u6765\u9031)');
    const text = '\u7686\u3055\u3093\u3001\n\u6765\u9031\u306e\u4f1a\u8b70\u306f\u6728\u66dc\u65e5\u3067\u3059\u3002\n';
    let bin = '';
    for (const b of enc.encode(text)) bin += String.fromCharCode(b);
    body = ['MIME-Version: 1.0', 'Content-Type: text/plain; charset="UTF-8"', 'Content-Transfer-Encoding: base64', '', btoa(bin)];
  } else if (msg === count - 3) {
    subject = 'HTML only newsletter';
    body = ['MIME-Version: 1.0', 'Content-Type: text/html; charset=utf-8', '', '<h1>Hi</h1>'];
  } else {
    subject = `${TOPICS[msg % TOPICS.length]} #${msg}`;
    const lines = [];
    for (let i = 0; i < 3 + (msg % 20); i++) lines.push(`Line ${i + 1} of message ${msg}. The quick brown fox jumps over the lazy dog.`);
    body = ['Content-Type: text/plain; charset=us-ascii', '', `Hello,`, '', ...lines, '', `-- `, name];
  }
  head = [
    `Return-Path: <${addr}>`,
    `From: ${from}`,
    `To: You <you@example.org>`,
    `Subject: ${subject}`,
    `Date: ${date.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <mock-${msg}@example.org>`,
  ];
  // Content-Type lines of the body arrays belong to the header block.
  const sep = body.indexOf('');
  const fullHead = [...head, ...body.slice(0, sep)];
  const text = fullHead.join('\r\n') + '\r\n\r\n' + body.slice(sep + 1).join('\r\n') + '\r\n';
  return enc.encode(text);
}

/** @param {Uint8Array} bytes */
function headerPart(bytes) {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) return bytes.slice(0, i + 4);
  }
  return bytes;
}

/** @param {AbortSignal | undefined} signal */
function checkAbort(signal) {
  if (signal?.aborted) throw new Pop3Error('cancelled', 'The operation was cancelled.');
}

/**
 * How a mock mailbox behaves (from the magic user name).
 * @typedef {{ mailbox?: Uint8Array[], quitfail?: boolean, slow?: boolean }} MockFlags
 */

/** A session with the shape of the real one (capabilities and TLS details in part). */
class MockSession {
  /**
   * @param {ConnectOptions} options
   * @param {number} count
   * @param {MockFlags} flags
   */
  constructor(options, count, flags) {
    this._count = count;
    this._flags = flags;
    /** @type {Set<number>} */
    this._deleted = new Set();
    this._open = true;
    /** @type {Map<number, Uint8Array>} */
    this._cache = new Map();
    this.insecure = options.security === 'plain';
    this.endToEnd = !this.insecure && options.endToEnd !== false;
    this.loginMethod = 'SCRAM-SHA-256';
    /** @type {Partial<Capabilities>} */
    this.capabilities = {
      top: true,
      uidl: true,
      pipelining: true,
      sasl: ['SCRAM-SHA-256', 'PLAIN'],
      implementation: 'MockPOP',
      expireDays: null,
      loginDelay: null,
    };
    /** @type {Partial<TlsInfo> | null} */
    this.tls = this.insecure
      ? null
      : {
          version: 'TLSv1.3',
          cipher: 'TLS13_AES_256_GCM_SHA384',
          subject: `CN=${options.host}`,
          issuer: "C=US, O=Let's Encrypt, CN=R11",
          notAfter: '2027-03-01T12:00:00Z',
          verified: true,
        };
    /** @type {{ deleted: Set<number>, committed: boolean | null, calls: (string | number)[][] }} */
    this.state = { deleted: this._deleted, committed: null, calls: [] };
    globalThis.__pop3Mock = this.state;
  }

  /**
   * @param {number} msg
   * @returns {Uint8Array}
   */
  _msg(msg) {
    if (this._flags.mailbox) return this._flags.mailbox[msg - 1];
    let b = this._cache.get(msg);
    if (!b) {
      b = buildMessage(msg, this._count);
      if (this._cache.size > 2000) this._cache.clear();
      this._cache.set(msg, b);
    }
    return b;
  }

  /** @param {number} [msg] */
  _check(msg) {
    if (!this._open) throw new Pop3Error('closed', 'The connection to the mail server is closed.');
    if (msg !== undefined) {
      if (!Number.isInteger(msg) || msg < 1 || msg > this._count) {
        throw new Pop3Error('protocol', 'The server rejected the command.', { serverText: '-ERR no such message' });
      }
      if (this._deleted.has(msg)) {
        throw new Pop3Error('protocol', 'That message is marked for deletion.', { serverText: '-ERR message is deleted' });
      }
    }
  }

  /** @param {number} ms */
  async _latency(ms) {
    await sleep(this._flags.slow ? ms * 40 : ms);
  }

  /** @returns {Promise<StatResult>} */
  async stat() {
    this._check();
    await this._latency(2);
    let size = 0;
    for (let i = 1; i <= this._count; i++) if (!this._deleted.has(i)) size += 1500 + (i % 20) * 80;
    return { count: this._count - this._deleted.size, size };
  }

  /** @returns {Promise<ListEntry[]>} */
  async list() {
    this._check();
    await this._latency(5);
    const out = [];
    for (let i = 1; i <= this._count; i++) if (!this._deleted.has(i)) out.push({ msg: i, size: this._msg(i).length });
    return out;
  }

  /** @returns {Promise<UidlEntry[]>} */
  async uidl() {
    this._check();
    await this._latency(5);
    const out = [];
    for (let i = 1; i <= this._count; i++) if (!this._deleted.has(i)) out.push({ msg: i, uid: `uid-${i}` });
    return out;
  }

  /**
   * @param {number} msg
   * @param {number} lines
   */
  async top(msg, lines) {
    this._check(msg);
    await this._latency(3);
    return lines === 0 ? headerPart(this._msg(msg)) : this._msg(msg);
  }

  /** @param {number} msg */
  async retr(msg) {
    this._check(msg);
    this.state.calls.push(['retr', msg]);
    await this._latency(15);
    return this._msg(msg);
  }

  /** @param {number} msg */
  async dele(msg) {
    this._check(msg);
    this.state.calls.push(['dele', msg]);
    await this._latency(2);
    this._deleted.add(msg);
  }

  async rset() {
    this._check();
    this.state.calls.push(['rset']);
    await this._latency(2);
    this._deleted.clear();
  }

  async noop() {
    this._check();
    await this._latency(1);
  }

  /** @returns {Promise<QuitResult>} */
  async quit() {
    this._check();
    this.state.calls.push(['quit']);
    await this._latency(10);
    this._open = false;
    if (this._flags.quitfail) {
      this.state.committed = false;
      throw new Pop3Error('closed', 'The connection was lost before the session ended, so nothing was deleted.', {
        serverText: '-ERR [SYS/TEMP] Unable to expunge, try again later',
      });
    }
    this.state.committed = true;
    return { committed: true };
  }

  /**
   * @param {FetchHeadersOptions} [options]
   * @returns {Promise<FetchedHeaders[]>}
   */
  async fetchHeaders({ newest, msgs, onProgress, signal } = {}) {
    this._check();
    let list = msgs ? [...msgs] : [];
    if (!msgs) {
      for (let i = this._count; i >= 1 && list.length < (newest ?? this._count); i--) if (!this._deleted.has(i)) list.push(i);
    }
    list.sort((a, b) => b - a);
    /** @type {FetchedHeaders[]} */
    const out = [];
    let bytes = 0;
    // Mimic pipelining: results arrive in small bursts, with progress after each.
    for (let i = 0; i < list.length; i += 50) {
      checkAbort(signal);
      await this._latency(4);
      for (const msg of list.slice(i, i + 50)) {
        if (this._deleted.has(msg)) continue;
        const full = this._msg(msg);
        const headers = headerPart(full);
        bytes += headers.length;
        out.push({ msg, uid: `uid-${msg}`, size: full.length, headers });
      }
      onProgress?.({ done: Math.min(i + 50, list.length), total: list.length, bytes });
    }
    return out;
  }

  /**
   * @param {number[]} msgs
   * @param {DownloadOptions} [options]
   */
  async download(msgs, { onMessage, onProgress, signal } = {}) {
    this._check();
    const totalBytes = msgs.reduce((s, m) => s + this._msg(m).length, 0);
    let bytes = 0;
    let done = 0;
    for (const m of msgs) {
      checkAbort(signal);
      await this._latency(2);
      const b = this._msg(m);
      bytes += b.length;
      done++;
      onMessage?.(m, b);
      onProgress?.({ done, total: msgs.length, bytes, totalBytes });
    }
  }

  close() {
    this._open = false;
  }
}

/**
 * @param {ConnectOptions} options
 * @returns {Promise<MockSession>}
 */
export async function connect(options) {
  const user = String(options.user || '');
  await sleep(user === 'slow' ? 600 : 60);
  if (!options.host) throw new Pop3Error('protocol', 'Enter the mail server name.');
  if (user === 'nobridge') {
    throw new Pop3Error('bridge_unreachable', 'Could not reach the connection service (bridge). Check your network or try again later.', {
      detail: `WebSocket to ${options.bridgeUrl} failed`,
    });
  }
  if (options.security === 'plain' && !options.allowInsecure) {
    throw new Pop3Error('plaintext_refused', 'Unencrypted connections are not allowed unless you accept the risk.');
  }
  if (user === 'expired') {
    throw new Pop3Error('cert_expired', `The security certificate of ${options.host} has expired, so the connection was stopped to protect your password.`, {
      detail: `subject: CN=${options.host}\nissuer: CN=Example CA\nnot after: 2025-01-31T23:59:59Z (expired)`,
    });
  }
  if (user === 'unknownca') {
    throw new Pop3Error('cert_unknown_issuer', `The security certificate of ${options.host} was issued by an unknown authority.`, {
      detail: `subject: CN=${options.host}\nissuer: CN=Self-signed`,
    });
  }
  if (user === 'badpass') {
    throw new Pop3Error('auth_failed', 'The user name or password is wrong.', { serverText: '-ERR [AUTH] Authentication failed.' });
  }
  if (user === 'inuse') {
    throw new Pop3Error('in_use', 'The mailbox is in use by another program. Close it there and try again.', {
      serverText: '-ERR [IN-USE] Mailbox is locked by another POP3 session',
    });
  }
  if (user === 'hostile') {
    const mailbox = Array.isArray(globalThis.__pop3MockMailbox) ? globalThis.__pop3MockMailbox : [];
    return new MockSession(options, mailbox.length, { mailbox });
  }
  let count = 10000;
  if (user === 'empty') count = 0;
  if (user === 'small' || user === 'slow') count = 30;
  const m = /^count=(\d+)$/.exec(user);
  if (m) count = Math.min(Number(m[1]), 200000);
  return new MockSession(options, count, { quitfail: user === 'quitfail', slow: user === 'slow' });
}

// The offline store and sync use the real wasm engine even with the mock session.
export { wasm } from '../pop3.js';
