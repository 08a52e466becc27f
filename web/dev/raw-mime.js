// @ts-check
// Test-only (served with the bridge's --dev-pages flag, never in production): the crude MIME
// walk that the safety page's "sanitizer off" renderer needs to find a message's HTML and put
// it, raw, into the reading frame, which must then stop it on its own. This is not header
// display (that is pop3-headers, through the wasm client) and not the reader's parser (that
// is pop3-mime); it only splits structure and undoes transfer encodings.

const utf8 = new TextDecoder('utf-8');

/**
 * Decodes bytes in `charset`, falling back to UTF-8 (and then Latin-1) for unknown labels.
 * @param {Uint8Array} bytes
 * @param {string | undefined} charset
 */
export function decodeCharset(bytes, charset) {
  const label = (charset || 'utf-8').trim().toLowerCase();
  try {
    return new TextDecoder(label).decode(bytes);
  } catch {
    // Unknown label (e.g. "x-unknown"): UTF-8 is the most likely truth today.
    return utf8.decode(bytes);
  }
}

/** Bytes of a binary string (one char per byte, as produced by our own decoders). */
/** @param {string} str */
function latin1Bytes(str) {
  const out = new Uint8Array(str.length);
  for (let i = 0; i < str.length; i++) out[i] = str.charCodeAt(i) & 0xff;
  return out;
}

/** Base64 (tolerates whitespace and missing padding) -> bytes. Invalid input -> empty. */
/** @param {string} text */
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
/** @param {string} text */
export function decodeQuotedPrintable(text) {
  /** @type {number[]} */
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

/**
 * Splits a header block into [{name, value}] (names lower-cased, folding removed, values raw).
 * Stops at the first empty line.
 * @param {string} text
 * @returns {{ name: string, value: string }[]}
 */
export function parseHeaderBlock(text) {
  /** @type {{ name: string, value: string }[]} */
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

/**
 * Parses `type/subtype; a=b; c="d"` into { type, params }.
 * @param {string | undefined} value
 * @returns {{ type: string, params: Record<string, string> }}
 */
export function parseContentType(value) {
  const [type, ...rest] = (value || 'text/plain').split(';');
  /** @type {Record<string, string>} */
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
