// @ts-check
// Driver of web/dev/safety.html for tests/tests/ui_safety.rs (not part of the app).
//
// window.__safety.open(base64, { sanitizer }) shows one message the way the reader does, with
// web/message-view.js. sanitizer: true (default) uses the wasm sanitizer (renderHtml);
// sanitizer: false passes `rawRender`, which hands the frame every text/html part exactly as
// the sender wrote it. That is the "sanitizer switched off" build of the issue: only the
// iframe layer (sandbox + CSP) stands between the mail and the page.
//
// Saving is observed, not performed: URL.createObjectURL and <a>.click are wrapped so the test
// can read the blob type and the download name (window.__saves), and no file is written.
import { showMessage, loadMime, formatAddresses } from '../message-view.js';
import { parseHeaderBlock, parseContentType, decodeBase64, decodeQuotedPrintable, decodeCharset } from './raw-mime.js';

window.__saves = [];
/** @type {Map<string, { type: string, size: number }>} */
const blobTypes = new Map();
const createObjectURL = URL.createObjectURL.bind(URL);
URL.createObjectURL = (obj) => {
  const url = createObjectURL(obj);
  blobTypes.set(url, { type: /** @type {Blob} */ (obj).type, size: /** @type {Blob} */ (obj).size });
  return url;
};
HTMLAnchorElement.prototype.click = function click() {
  window.__saves.push({ download: this.getAttribute('download'), href: this.href, rel: this.rel, blob: blobTypes.get(this.href) ?? null });
};

/** @param {string} b64 */
function b64ToBytes(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** @param {Uint8Array} bytes */
function latin1(bytes) {
  let s = '';
  // (apply takes any array-like, a typed array too.)
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, /** @type {number[]} */ (/** @type {unknown} */ (bytes.subarray(i, i + 0x8000))));
  return s;
}

/**
 * Every text/html leaf of a MIME tree, decoded but NOT sanitized (test use only).
 * @param {string} raw
 * @param {number} depth
 * @param {string[]} out
 */
function htmlParts(raw, depth, out) {
  if (depth > 20) return;
  const m = /\r?\n\r?\n/.exec(raw);
  const head = m ? raw.slice(0, m.index) : raw;
  const body = m ? raw.slice(m.index + m[0].length) : '';
  const headers = parseHeaderBlock(head);
  const ct = parseContentType(headers.find((h) => h.name === 'content-type')?.value);
  const cte = (headers.find((h) => h.name === 'content-transfer-encoding')?.value || '').trim().toLowerCase();
  if (ct.type.startsWith('multipart/') && ct.params.boundary) {
    const delim = '--' + ct.params.boundary;
    /** @type {string[] | null} */
    let cur = null;
    for (const line of body.split(/\r?\n/)) {
      if (line.startsWith(delim)) {
        if (cur) htmlParts(cur.join('\r\n'), depth + 1, out);
        cur = line.slice(delim.length).startsWith('--') ? null : [];
      } else if (cur) cur.push(line);
    }
    if (cur) htmlParts(cur.join('\r\n'), depth + 1, out);
    return;
  }
  if (ct.type === 'text/html') {
    const bytes = cte === 'base64' ? decodeBase64(body) : cte === 'quoted-printable' ? decodeQuotedPrintable(body) : Uint8Array.from(body, (c) => c.charCodeAt(0));
    out.push(decodeCharset(bytes, ct.params.charset));
  }
}

/**
 * The sanitizer switched off: raw HTML of the message (or its raw body if it has none).
 * @param {Uint8Array} bytes
 * @returns {{ html: string, remoteBlocked: number }}
 */
export function rawRender(bytes) {
  const raw = latin1(bytes);
  /** @type {string[]} */
  const out = [];
  htmlParts(raw, 0, out);
  if (!out.length) {
    const m = /\r?\n\r?\n/.exec(raw);
    out.push(m ? raw.slice(m.index + m[0].length) : raw);
  }
  return { html: out.join('\n'), remoteBlocked: 0 };
}

/** @type {import('../message-view.js').MessageView | null} */
let view = null;
const $ = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));

// Every frame gets its load listener when it is inserted: observer callbacks run as
// microtasks, before the frame's load task, so no load event can be missed.
new MutationObserver(() => {
  for (const f of /** @type {NodeListOf<HTMLIFrameElement>} */ (document.querySelectorAll('#body iframe:not([data-watched])'))) {
    f.dataset.watched = '1';
    f.addEventListener('load', () => {
      f.dataset.loaded = '1';
    }, { once: true });
  }
}).observe(document.body, { subtree: true, childList: true });

/**
 * @param {number} [timeoutMs]
 * @param {HTMLIFrameElement | null} [previous] the frame to see replaced
 */
async function frameLoaded(timeoutMs = 8000, previous = null) {
  // The view renders asynchronously; wait for its frame (if any) to finish loading, which
  // includes every subresource the frame was allowed to fetch.
  const start = performance.now();
  while (performance.now() - start < timeoutMs) {
    const f = $('body').querySelector('iframe');
    if (f && f !== previous && f.dataset.loaded) return true;
    // Plain-text view: no frame to wait for.
    if (!previous && $('body').querySelector('.message-frame-slot[hidden]')) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}

window.__safety = {
  async mimeAvailable() {
    return !!(await loadMime());
  },
  /** Opens a message; resolves once its frame has loaded. */
  /**
   * @param {string} b64 the raw message, base64
   * @param {{ sanitizer?: boolean, preferPlain?: boolean }} [options]
   */
  async open(b64, { sanitizer = true, preferPlain = false } = {}) {
    view?.destroy();
    const bytes = b64ToBytes(b64);
    const mime = await loadMime();
    // The reading module is part of every build: a page without it is a broken build.
    if (!mime) throw new Error('the reading module (pop3_mime_web) did not load');
    let message = await mime.parseMessage(bytes);
    $('subject').textContent = message.subject ?? '';
    $('from').textContent = formatAddresses(message.from);
    $('to').textContent = formatAddresses(message.to);
    let render;
    if (!sanitizer) {
      render = async (/** @type {Uint8Array} */ b) => rawRender(b);
      message = { ...message, hasHtml: true };
    }
    view = showMessage({ body: $('body'), attachments: $('attachments') }, { bytes, message, mime, render, preferPlain });
    const loaded = await frameLoaded();
    return { loaded, mime: !!mime, hasHtml: !!message?.hasHtml, warnings: message?.warnings ?? [] };
  },
  /** Clicks "Load remote content" and waits for the new frame to load. */
  async loadRemote() {
    const btn = /** @type {HTMLButtonElement | null} */ ($('body').querySelector('.load-remote'));
    if (!btn || btn.closest('[hidden]')) return false;
    const previous = $('body').querySelector('iframe');
    btn.click();
    return frameLoaded(8000, previous);
  },
  /**
   * The control of the test's script detector, never the product: the unsanitized HTML in a
   * frame that MAY run scripts and has no CSP. The payloads must signal from here.
   * @param {string} b64 the raw message, base64
   */
  async openControl(b64) {
    view?.destroy();
    view = null;
    const frame = document.createElement('iframe');
    frame.setAttribute('sandbox', 'allow-scripts');
    frame.srcdoc = rawRender(b64ToBytes(b64)).html;
    $('body').replaceChildren(frame);
    $('body').hidden = false;
    return { loaded: await frameLoaded() };
  },
  close() {
    view?.destroy();
    view = null;
    $('body').replaceChildren();
  },
};
