// Small, dependency-free message parsing for the inbox UI: header unfolding, RFC 2047
// encoded-words, and "first text/plain part" extraction (RFC 2045/2046).
//
// Everything here returns plain strings; the caller inserts them with textContent, never as
// markup. The parser is deliberately forgiving: a broken message must still show something
// rather than throw, because mail servers hand us whatever senders produced.

const utf8 = new TextDecoder('utf-8');

/** Decodes bytes in `charset`, falling back to UTF-8 (and then Latin-1) for unknown labels. */
export function decodeCharset(bytes, charset) {
  const label = (charset || 'utf-8').trim().toLowerCase();
  try {
    return new TextDecoder(label).decode(bytes);
  } catch {
    // Unknown label (e.g. "x-unknown"): UTF-8 is the most likely truth today.
    return utf8.decode(bytes);
  }
}

/**
 * Raw header bytes -> string. RFC 6532 allows UTF-8 in headers; older mail may contain raw
 * 8-bit Latin-1. Try strict UTF-8 first so valid UTF-8 is never mangled.
 */
export function bytesToHeaderText(bytes) {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return new TextDecoder('windows-1252').decode(bytes);
  }
}

/** Bytes of a binary string (one char per byte, as produced by our own decoders). */
function latin1Bytes(str) {
  const out = new Uint8Array(str.length);
  for (let i = 0; i < str.length; i++) out[i] = str.charCodeAt(i) & 0xff;
  return out;
}

/** Base64 (tolerates whitespace and missing padding) -> bytes. Invalid input -> empty. */
export function decodeBase64(text) {
  let clean = text.replace(/[^A-Za-z0-9+/]/g, '');
  // A lone trailing sextet carries no whole byte; drop it, then restore the padding.
  if (clean.length % 4 === 1) clean = clean.slice(0, -1);
  while (clean.length % 4) clean += '=';
  try {
    return latin1Bytes(atob(clean));
  } catch {
    return new Uint8Array(0);
  }
}

/** Quoted-printable body (RFC 2045 §6.7) -> bytes. Soft line breaks are removed. */
export function decodeQuotedPrintable(text) {
  const bytes = [];
  const s = text.replace(/=\r?\n/g, '');
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      // Non-ASCII here means the sender ignored QP rules; keep its UTF-8 bytes.
      const code = c.charCodeAt(0);
      if (code < 0x80) bytes.push(code);
      else for (const b of new TextEncoder().encode(c)) bytes.push(b);
    }
  }
  return new Uint8Array(bytes);
}

/** The "Q" encoding of RFC 2047 §4.2: QP where "_" means space. */
function decodeQ(text) {
  return decodeQuotedPrintable(text.replace(/_/g, ' '));
}

const ENCODED_WORD = /=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=/g;

/**
 * Decodes RFC 2047 encoded-words in a header value. Whitespace between two adjacent
 * encoded-words is dropped (§6.2); an undecodable word is left as it was.
 */
export function decodeEncodedWords(value) {
  if (!value || !value.includes('=?')) return value || '';
  // Drop linear whitespace that separates two encoded-words.
  const joined = value.replace(/(\?=)\s+(?==\?)/g, '$1');
  return joined.replace(ENCODED_WORD, (whole, charset, enc, data) => {
    // RFC 2231 allows "charset*language"; the language tag is irrelevant for display.
    const cs = charset.split('*')[0];
    const bytes = enc.toUpperCase() === 'B' ? decodeBase64(data) : decodeQ(data);
    try {
      return new TextDecoder(cs.toLowerCase()).decode(bytes);
    } catch {
      return whole;
    }
  });
}

/**
 * Splits a header block into [{name, value}] (names lower-cased, folding removed, values raw).
 * Stops at the first empty line.
 */
export function parseHeaderBlock(text) {
  const headers = [];
  const lines = text.split(/\r?\n/);
  for (const line of lines) {
    if (line === '') break;
    if (/^[ \t]/.test(line) && headers.length) {
      headers[headers.length - 1].value += ' ' + line.trim();
    } else {
      const colon = line.indexOf(':');
      if (colon > 0) {
        headers.push({ name: line.slice(0, colon).trim().toLowerCase(), value: line.slice(colon + 1).trim() });
      }
    }
  }
  return headers;
}

/** First value of header `name` (decoded for display), or "". */
export function headerValue(headers, name) {
  const h = headers.find((x) => x.name === name);
  return h ? decodeEncodedWords(h.value) : '';
}

/** Parses `type/subtype; a=b; c="d"` into { type, params }. */
export function parseContentType(value) {
  const [type, ...rest] = (value || 'text/plain').split(';');
  const params = {};
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    const k = p.slice(0, eq).trim().toLowerCase();
    let v = p.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
    params[k] = v;
  }
  return { type: type.trim().toLowerCase() || 'text/plain', params };
}

/**
 * "Ann Example <ann@example.org>" -> "Ann Example"; a bare address stays an address.
 * Used for the compact list column; the reader shows the full decoded value.
 */
export function displayName(from) {
  // Split at the last "<addr>" so a display name that itself contains "<" or ">" (quoted, as
  // RFC 5322 allows) stays intact.
  const m = /^(.*)<([^<>]*)>\s*$/s.exec(from);
  if (!m) return from.trim();
  let name = m[1].trim();
  if (name.startsWith('"') && name.endsWith('"') && name.length >= 2) name = name.slice(1, -1).replace(/\\(.)/g, '$1');
  return name.trim() || m[2].trim();
}

/** Summary of a header block for the list: { from, subject, date (Date|null), to }. */
export function summarizeHeaders(bytes) {
  const headers = parseHeaderBlock(bytesToHeaderText(bytes));
  const dateText = headerValue(headers, 'date');
  const t = Date.parse(dateText);
  return {
    from: headerValue(headers, 'from'),
    to: headerValue(headers, 'to'),
    subject: headerValue(headers, 'subject'),
    dateText,
    date: Number.isNaN(t) ? null : new Date(t),
  };
}

/** Splits a full message (binary string) into header text and body text. */
function splitEntity(raw) {
  const m = /\r?\n\r?\n/.exec(raw);
  if (!m) return { head: raw, body: '' };
  return { head: raw.slice(0, m.index), body: raw.slice(m.index + m[0].length) };
}

function decodeTransfer(body, encoding) {
  switch ((encoding || '').trim().toLowerCase()) {
    case 'base64':
      return decodeBase64(body);
    case 'quoted-printable':
      return decodeQuotedPrintable(body);
    default:
      return latin1Bytes(body);
  }
}

/** Depth-first search for the first text/plain leaf. Returns { text } or null. */
function findTextPlain(raw, depth) {
  if (depth > 8) return null; // hostile nesting: give up rather than recurse forever
  const { head, body } = splitEntity(raw);
  const headers = parseHeaderBlock(head);
  const ct = parseContentType(headers.find((h) => h.name === 'content-type')?.value);
  const cte = headers.find((h) => h.name === 'content-transfer-encoding')?.value;
  if (ct.type.startsWith('multipart/') && ct.params.boundary) {
    for (const part of splitMultipart(body, ct.params.boundary)) {
      const found = findTextPlain(part, depth + 1);
      if (found) return found;
    }
    return null;
  }
  if (ct.type === 'text/plain') {
    return { text: decodeCharset(decodeTransfer(body, cte), ct.params.charset) };
  }
  return null;
}

function splitMultipart(body, boundary) {
  const parts = [];
  const delim = '--' + boundary;
  const lines = body.split(/\r?\n/);
  let current = null;
  for (const line of lines) {
    if (line.startsWith(delim)) {
      if (current) parts.push(current.join('\r\n'));
      if (line.slice(delim.length).startsWith('--')) return parts; // close-delimiter
      current = [];
    } else if (current) {
      current.push(line);
    }
  }
  if (current) parts.push(current.join('\r\n'));
  return parts;
}

/**
 * Parses a whole message for the reading pane.
 * Returns { from, to, cc, date, subject, text, kind } where kind is "plain" (text shown),
 * "no-plain" (no text/plain part, e.g. HTML-only mail) or "empty".
 */
export function parseMessage(bytes) {
  // Binary string: one JS char per byte, so offsets match bytes and charsets are decoded later.
  let raw = '';
  const CHUNK = 0x8000;
  for (let i = 0; i < bytes.length; i += CHUNK) {
    raw += String.fromCharCode.apply(null, bytes.subarray(i, i + CHUNK));
  }
  const { head } = splitEntity(raw);
  const headers = parseHeaderBlock(bytesToHeaderText(latin1Bytes(head)));
  const found = findTextPlain(raw, 0);
  return {
    from: headerValue(headers, 'from'),
    to: headerValue(headers, 'to'),
    cc: headerValue(headers, 'cc'),
    date: headerValue(headers, 'date'),
    subject: headerValue(headers, 'subject'),
    contentType: parseContentType(headers.find((h) => h.name === 'content-type')?.value).type,
    text: found ? found.text : '',
    kind: found ? (found.text.trim() ? 'plain' : 'empty') : 'no-plain',
  };
}
