// @ts-check
// The one place that renders message bodies and attachments (issue "Read mail safely").
//
// Untrusted mail gets two independent layers:
//   1. the sanitizer (ammonia in wasm: `renderHtml`, each MIME part on its own), and
//   2. a sandboxed <iframe> whose sandbox never allows scripts (nor same-origin), with a
//      Content-Security-Policy of default-src 'none' (inline styles, data:/cid: images only).
// Either layer alone must stop every script; the UI tests prove the frame alone does by
// passing an unsanitizing `render` (see web/dev/safety.js). Remote content (images) is off
// until the user asks for it, for one message at a time; links open in a new context with no
// referrer. Plain text is shown in the same kind of frame (see `plainTextHtml`): every
// character of it escaped, only its http, https and mailto links made <a> elements.
//
// Attachments are saved as application/octet-stream with <a download>: never opened as a
// document in this origin (no blob: HTML/SVG/XML navigation).

import { h as el, setText } from './inbox/dom.js';
import { ENGLISH, bindAttr } from './i18n/index.js';
/**
 * @import { I18n, Msg } from './i18n/index.js'
 * @import { Address, ErrorLike, MessagePart, MimeApi, OutlineLeaf, ParsedMessage, RenderOptions } from './types.js'
 * @import { FilenameCleaner } from './file-name.js'
 */

/**
 * The HTML of a message for the frame: `renderHtml` of the reading module, or a test's.
 * @typedef {(bytes: Uint8Array, options: RenderOptions) => Promise<{ html: string, remoteBlocked: number }>} Renderer
 */

/** Sandbox tokens: popups so links can open (escaping the sandbox, so the new page works). */
export const FRAME_SANDBOX = 'allow-popups allow-popups-to-escape-sandbox';

/**
 * The frame's policy. `default-src 'none'` covers scripts, fetches, frames, fonts, media,
 * prefetch and ping; base-uri and form-action do not fall back to default-src, so they are
 * named. With `allowRemote` only images may come from the network; scripts never.
 * @param {boolean} [allowRemote]
 */
export function framePolicy(allowRemote = false) {
  const img = allowRemote ? "img-src data: cid: http: https:" : 'img-src data: cid:';
  return `default-src 'none'; style-src 'unsafe-inline'; ${img}; base-uri 'none'; form-action 'none'`;
}

// Minimal styles inside the frame: readable defaults, nothing wider than the pane.
export const FRAME_CSS =
  ':root{color-scheme:light}' +
  'body{margin:0;padding:1rem 1.25rem;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","DejaVu Sans",sans-serif;' +
  'color:#1b1e24;background:#fff;overflow-wrap:anywhere}' +
  'img,video{max-width:100%;height:auto}table{max-width:100%}pre{white-space:pre-wrap}a{color:#2457d6}' +
  // The plain-text view (`plainTextHtml`): the reader's font, wrapped as the sender broke it.
  // One static stylesheet for both views, so one `style-src` hash covers them (web/README.md).
  'pre.p3-plain{margin:0;font:inherit;line-height:1.55;white-space:pre-wrap;overflow-wrap:anywhere}' +
  'pre.p3-plain:focus{outline:none}pre.p3-plain:focus-visible{outline:3px solid #ffb000;outline-offset:4px}';

/**
 * The complete srcdoc: our head (policy first, so it covers everything after it), then the body.
 * @param {string} bodyHtml
 * @param {{ allowRemote?: boolean }} [options]
 */
export function frameDocument(bodyHtml, { allowRemote = false } = {}) {
  const policy = framePolicy(allowRemote).replace(/"/g, '&quot;');
  return (
    '<!doctype html><html><head><meta charset="utf-8">' +
    `<meta http-equiv="Content-Security-Policy" content="${policy}">` +
    '<meta name="referrer" content="no-referrer">' +
    // No DNS prefetching of the message's link host names: a lookup would tell the sender's
    // DNS server that the message was opened (the page's files carry the header form).
    '<meta http-equiv="x-dns-prefetch-control" content="off">' +
    '<base target="_blank">' +
    `<style>${FRAME_CSS}</style></head><body>${bodyHtml}</body></html>`
  );
}

/**
 * Creates the sandboxed frame for already-rendered HTML (the HTML view's sanitized HTML, or the
 * plain-text view's `plainTextHtml`). The frame is the second layer: it must hold even if
 * `bodyHtml` were hostile.
 * @param {string} bodyHtml
 * @param {{ allowRemote?: boolean, title?: string | Msg, className?: string }} [options]
 * @returns {HTMLIFrameElement}
 */
export function createMessageFrame(bodyHtml, { allowRemote = false, title = ENGLISH.t('view.frame'), className = '' } = {}) {
  const frame = document.createElement('iframe');
  frame.className = `message-frame ${className}`.trim();
  // Attributes before srcdoc: the document must never exist without its sandbox.
  frame.setAttribute('sandbox', FRAME_SANDBOX);
  frame.setAttribute('referrerpolicy', 'no-referrer');
  // No `csp` attribute (Chromium's embedded enforcement): Chromium refuses to show a srcdoc
  // frame whose required policy the embedding page's own CSP does not subsume, which blanks
  // every message under a strict page policy such as index.html's. The <meta> policy inside
  // applies in every browser, and the page's policy is inherited on top of it.
  bindAttr(frame, 'title', title); // a catalog Msg stays live (a language change)
  frame.setAttribute('loading', 'eager');
  frame.srcdoc = frameDocument(bodyHtml, { allowRemote });
  return frame;
}

/**
 * Adds the real URL as a tooltip to every link of sanitized HTML (the text of a link can
 * claim anything) and makes links open without opener or referrer. DOMParser documents are
 * inert: no scripts run and nothing is fetched while we look.
 * @param {string} html
 * @returns {string}
 */
export function decorateLinks(html) {
  const doc = new DOMParser().parseFromString(`<!doctype html><body>${html}`, 'text/html');
  for (const a of doc.querySelectorAll('a[href], area[href]')) {
    a.setAttribute('title', /** @type {string} */ (a.getAttribute('href')));
    a.setAttribute('rel', 'noopener noreferrer');
    a.setAttribute('target', '_blank');
  }
  return doc.body.innerHTML;
}

// ---------------------------------------------------------------------------- plain text

// eslint-disable-next-line no-control-regex -- a URL ends at a control character
const LINK = /\b(?:https?:\/\/|mailto:)[^\s<>"'\u0000-\u001f\u007f]+/gi;
const TRAILING = /[.,;:!?)\]}'"]+$/;

/**
 * A run of plain text: text, or a link (`href` set, equal to `text`).
 * @typedef {{ text: string, href?: string }} TextToken
 */

/**
 * Plain text cut into text and links: the one definition of what becomes a link. Only http,
 * https and mailto do; everything else (javascript:, data:, ...) stays text.
 * @param {string | null | undefined} text
 * @returns {TextToken[]}
 */
export function textTokens(text) {
  const s = String(text ?? '');
  /** @type {TextToken[]} */
  const out = [];
  let last = 0;
  for (const m of s.matchAll(LINK)) {
    let url = m[0];
    // "see https://x.org/a." : the full stop ends the sentence, not the URL.
    const trail = TRAILING.exec(url);
    if (trail && !(trail[0].startsWith(')') && url.includes('('))) url = url.slice(0, -trail[0].length);
    if (m.index > last) out.push({ text: s.slice(last, m.index) });
    out.push({ text: url, href: url });
    last = m.index + url.length;
  }
  if (last < s.length) out.push({ text: s.slice(last) });
  return out;
}

/**
 * Text as HTML text or attribute value: every character that could start markup, end an
 * attribute or begin an entity is escaped.
 * @param {string} s
 */
function escapeHtml(s) {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * The plain-text view's body for its frame (`createMessageFrame`): all of the text escaped,
 * each link of `textTokens` an <a> with its real URL as the tooltip, opening in a new context
 * without opener or referrer (like the HTML view's links, see `decorateLinks`). The text is
 * a focusable region (tabindex 0), so a keyboard user can Tab into the frame and scroll it
 * even when it has no link.
 * @param {string | null | undefined} text
 * @returns {string}
 */
export function plainTextHtml(text) {
  let html = '';
  for (const t of textTokens(text)) {
    if (t.href == null) {
      html += escapeHtml(t.text);
    } else {
      const href = escapeHtml(t.href);
      html += `<a href="${href}" title="${href}" target="_blank" rel="noopener noreferrer" referrerpolicy="no-referrer">${escapeHtml(t.text)}</a>`;
    }
  }
  return `<pre class="p3-plain" tabindex="0">${html}</pre>`;
}

// ---------------------------------------------------------------------------- attachments

// File names: one cleaner, the wasm one (see file-name.js); the reading module registers itself
// as the default when loadMime() loads it.
import { cleanFilename, useFilenameCleaner } from './file-name.js';
export { cleanFilename };

/**
 * Saves bytes as a download. The blob is application/octet-stream and the anchor has a
 * `download` name, so the browser saves it instead of showing it: an HTML or SVG attachment
 * is never rendered as a page of this origin. The name goes through the wasm cleaner of `mime`
 * (default: the reading module loadMime() loaded; without one it is "attachment").
 * @param {Uint8Array | Blob} bytes (a Blob: a part of a big message, never held whole)
 * @param {string | null | undefined} name the sender's
 * @param {FilenameCleaner} [mime]
 */
export function saveBytes(bytes, name, mime) {
  const blob = new Blob([/** @type {Uint8Array<ArrayBuffer> | Blob} */ (bytes)], { type: 'application/octet-stream' });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = cleanFilename(name, mime).name;
  a.rel = 'noopener';
  a.hidden = true;
  // Connected for the click: older browsers ignore clicks on detached anchors.
  (document.body ?? document.documentElement).append(a);
  a.click();
  a.remove();
  // Revoke later: the download may start asynchronously.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return { blob, anchor: a };
}

/**
 * Display form of an address list [{name, address}] (always inserted as text).
 * @param {Address[] | string | null | undefined} list
 * @returns {string}
 */
export function formatAddresses(list) {
  if (typeof list === 'string') return list;
  if (!Array.isArray(list)) return '';
  return list
    .map((a) => {
      const name = String(a?.name ?? '').trim();
      const addr = String(a?.address ?? '').trim();
      if (name && addr) return `${name} <${addr}>`;
      return name || addr;
    })
    .filter(Boolean)
    .join(', ');
}

/**
 * One part of a big message, decoded from the message's own bytes piece by piece (its
 * outline's leaf: where its body lies and how it is encoded), so neither the message nor the
 * part is ever held whole: each decoded piece goes into the Blob it resolves with.
 * @param {Blob} message the whole message
 * @param {OutlineLeaf} leaf
 * @param {Required<Pick<MimeApi, 'PartDecoder'>>} mime
 * @returns {Promise<Blob>}
 */
export async function leafBlob(message, leaf, mime) {
  const piece = 1024 * 1024;
  const d = new mime.PartDecoder(leaf.encoding);
  /** @type {Blob[]} */
  const out = [];
  try {
    for (let at = leaf.start; at < leaf.end; at += piece) {
      const bytes = new Uint8Array(await message.slice(at, Math.min(at + piece, leaf.end)).arrayBuffer());
      out.push(new Blob([/** @type {Uint8Array<ArrayBuffer>} */ (d.update(bytes))]));
    }
    out.push(new Blob([/** @type {Uint8Array<ArrayBuffer>} */ (d.finish())]));
  } finally {
    d.free();
  }
  return new Blob(out);
}

// ---------------------------------------------------------------------------- the wasm API

/** @type {Promise<MimeApi | null> | null} */
let mimePromise = null;

/**
 * Loads the MIME functions of the wasm package (parseMessage, renderHtml, partBytes,
 * cleanFilename) from ./pop3.js. Resolves to null when this build has none, so the caller
 * can fall back to plain text.
 * @returns {Promise<MimeApi | null>}
 */
export function loadMime() {
  // A static specifier, so that bundlers split the reading module off and still find it.
  mimePromise ??= import('./pop3.js').then(
    async (m) => {
      await m.ready(); // the reading module's wasm, before its synchronous functions work
      useFilenameCleaner(m);
      return m;
    },
  ).catch(() => {
    // The module or its wasm could not be fetched (offline, the bridge stopped): the reader
    // shows its text fallback now, and the next message tries again.
    mimePromise = null;
    return null;
  });
  return mimePromise;
}

/**
 * The default renderer: the wasm sanitizer, then the real URL as each link's tooltip.
 * @param {Pick<MimeApi, 'renderHtml'>} mime
 * @returns {Renderer}
 */
export function sanitizedRenderer(mime) {
  return async (bytes, opts) => {
    const r = await mime.renderHtml(bytes, opts);
    return { html: decorateLinks(String(r?.html ?? '')), remoteBlocked: Number(r?.remoteBlocked) || 0 };
  };
}

// ---------------------------------------------------------------------------- the view

/**
 * The options of `showMessage` (see there).
 * @typedef {object} ShowMessageOptions
 * @property {Uint8Array} bytes
 * @property {ParsedMessage | null | undefined} [message]
 * @property {string | null | undefined} [text]
 * @property {MimeApi | null | undefined} [mime]
 * @property {Renderer | null | undefined} [render]
 * @property {boolean | undefined} [preferPlain]
 * @property {string | undefined} [emptyNote]
 * @property {((bytes: Uint8Array | Blob, name: string) => void) | undefined} [onSave]
 * @property {((part: MessagePart) => (() => Promise<Uint8Array | Blob>) | null) | undefined} [savePart]
 *   how a part's bytes are had (default: `mime.partBytes` of `bytes`); null: it cannot be saved
 * @property {I18n | undefined} [i18n] the language of its labels (default English)
 * @property {((err: unknown) => string | Msg) | undefined} [errorText] an error as the user
 *   reads it (the inbox gives the catalog's text for its code); default: its own message
 */

/**
 * The handle of a shown message; the remote-content opt-in lives (and dies) with it.
 * @typedef {object} MessageView
 * @property {boolean} allowRemote
 * @property {boolean} plain
 * @property {() => void} destroy
 */

/**
 * Shows a message in `body` (and its attachments in `attachments`). Returns a handle with
 * destroy(); opting in to remote content lives in the handle, so it is forgotten with it.
 *
 * options:
 *   bytes       the raw message (Uint8Array)
 *   message     parseMessage(bytes) result (wasm), or null for a text-only fallback with `text`
 *   text        fallback plain text when there is no wasm parser
 *   mime        the wasm API (partBytes, cleanFilename, renderHtml); default: none
 *   render      (bytes, {allowRemote}) => {html, remoteBlocked}; default: sanitizedRenderer(mime).
 *               Injectable so a test can switch the sanitizer off and prove the frame alone holds.
 *   preferPlain start with the plain-text view even when there is HTML
 *   emptyNote   what to say when there is no text to show ('' for nothing)
 *   onSave      (bytes, name) => void; default saveBytes
 *   savePart    (part) => (() => Promise<bytes | Blob>) | null: how a part is had for saving
 *               (a big message's outline saves from the message itself); null: no Save
 * @param {{ body: HTMLElement, attachments?: HTMLElement | null }} slots
 * @param {ShowMessageOptions} options
 * @returns {MessageView}
 */
export function showMessage({ body, attachments }, options) {
  const { bytes, message = null, mime = null, onSave = (data, name) => saveBytes(data, name, mime ?? undefined) } = options;
  const savePart =
    options.savePart ??
    ((/** @type {MessagePart} */ p) => {
      const m = mime;
      return m?.partBytes ? async () => m.partBytes(bytes, p.id) : null;
    });
  const render = options.render ?? (mime ? sanitizedRenderer(mime) : null);
  const text = message ? message.text : options.text;
  const hasHtml = !!(message?.hasHtml && render);
  let allowRemote = false; // this message only; a new view starts blocked again
  let plain = !hasHtml || !!options.preferPlain;
  let token = 0;
  let destroyed = false;
  const i18n = options.i18n ?? ENGLISH;
  const errorText = options.errorText ?? ((/** @type {unknown} */ err) => String(/** @type {ErrorLike} */ (err)?.message || err));
  const t = i18n.t.bind(i18n);

  const remoteText = el('span');
  const remoteBtn = el('button', { type: 'button', class: 'load-remote', text: t('view.loadRemote') });
  const remoteBar = el('div', { class: 'remote-bar', role: 'status', hidden: true }, remoteText, remoteBtn);
  // The plain text is shown in a sandboxed frame like the HTML (`plainTextHtml`), not in the
  // page: its links must live in a document that says x-dns-prefetch-control off, or Firefox
  // looks up a link's host as soon as it is hovered or focused (tests/tests/ui_dns_prefetch.rs).
  // The frame is made the first time the text is shown and then kept, hidden while the HTML
  // is shown, so toggling back to it is instant. It comes after the HTML frame's slot, so the
  // first frame of the view is the HTML one whenever that is shown. The cost of the frame,
  // as for the HTML one: the text scrolls inside it, the browser's find-in-page may not reach
  // into it, and keys pressed while the focus is inside it (Escape to close the reader) do not
  // reach the page. Tab still reaches the text (focusable, to scroll it) and each link.
  /** @type {HTMLIFrameElement | null} */
  let textFrame = null;
  const hasText = text != null && String(text).trim() !== '';
  const emptyNote = options.emptyNote ?? t(hasHtml ? 'view.noPlain' : 'view.noText');
  const note = el('p', { class: 'message-note', text: emptyNote, hidden: true });
  const frameSlot = el('div', { class: 'message-frame-slot', hidden: true });
  const content = el('div', { class: 'message-content' }, note, frameSlot);
  const toggle = el('button', { type: 'button', class: 'link toggle-plain', hidden: !hasHtml || !hasText });
  const bar = el('div', { class: 'message-tools' }, remoteBar, toggle);
  body.replaceChildren(bar, content);
  body.hidden = false;

  remoteBtn.addEventListener('click', () => {
    allowRemote = true;
    draw();
  });
  toggle.addEventListener('click', () => {
    plain = !plain;
    draw();
  });

  async function draw() {
    const my = ++token;
    setText(toggle, t(plain ? 'view.showHtml' : 'view.showPlain'));
    if (plain && hasText && !textFrame) {
      textFrame = createMessageFrame(plainTextHtml(text), { title: t('view.framePlain'), className: 'message-text-frame' });
      content.append(textFrame);
    }
    if (textFrame) textFrame.hidden = !plain;
    note.hidden = !plain || hasText || !emptyNote;
    frameSlot.hidden = plain;
    if (plain) {
      remoteBar.hidden = true;
      frameSlot.replaceChildren();
      return;
    }
    let r;
    try {
      r = await /** @type {Renderer} */ (render)(bytes, { allowRemote }); // (not plain: there is HTML, so a renderer)
    } catch (err) {
      if (my !== token || destroyed) return;
      frameSlot.replaceChildren(el('p', { class: 'message-note', text: t('view.renderFailed', { error: errorText(err) }) }));
      return;
    }
    if (my !== token || destroyed) return;
    const blocked = Number(r?.remoteBlocked) || 0;
    remoteBar.hidden = allowRemote || blocked <= 0;
    setText(remoteText, t('view.remoteBlocked', { n: blocked }));
    frameSlot.replaceChildren(createMessageFrame(String(r?.html ?? ''), { allowRemote }));
  }

  // Attachments
  const parts = (message?.parts ?? []).filter((p) => p && p.isAttachment);
  if (attachments) {
    if (!parts.length) {
      attachments.replaceChildren();
      attachments.hidden = true;
    } else {
      const list = el('ul', { class: 'attachment-list' });
      for (const p of parts) {
        const cleaned = cleanFilename(p.filename, mime ?? undefined);
        const data = savePart(p);
        const ext = cleaned.extension || String(p.extension ?? '').toLowerCase();
        const meta = i18n.lazy(() => [ext ? i18n.text('view.fileOf', { ext: ext.toUpperCase() }) : i18n.text('view.file'), i18n.size(Number(p.size)), String(p.contentType ?? '')].filter(Boolean).join(' · '));
        const save = el('button', {
          type: 'button',
          class: 'save',
          text: t('view.save'),
          'aria-label': t('view.saveName', { name: cleaned.name }),
          onclick: async () => {
            try {
              onSave(await /** @type {NonNullable<typeof data>} */ (data)(), cleaned.name); // (the button exists only with `data`)
            } catch (err) {
              save.replaceWith(el('span', { class: 'message-note', text: t('view.saveFailed', { error: errorText(err) }) }));
            }
          },
        });
        list.append(
          el(
            'li',
            { class: 'attachment', 'data-part': String(p.id ?? '') },
            el('span', { class: 'attachment-name', text: cleaned.name, title: cleaned.name }),
            el('span', { class: 'attachment-meta', text: meta }),
            data ? save : null,
          ),
        );
      }
      attachments.replaceChildren(el('h3', { text: t('view.attachments', { n: parts.length }) }), list);
      attachments.hidden = false;
    }
  }

  draw();
  return {
    get allowRemote() {
      return allowRemote;
    },
    get plain() {
      return plain;
    },
    destroy() {
      destroyed = true;
      token++;
      body.replaceChildren();
      body.hidden = true;
      if (attachments) {
        attachments.replaceChildren();
        attachments.hidden = true;
      }
    },
  };
}
