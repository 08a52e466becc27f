// The POP3 client's JavaScript API: a thin wrapper that loads the wasm package once.
// Everything else (the protocol, the bridge link, errors) lives in Rust: see docs/js-api.md.
import init, * as pkg from './pkg/pop3_web.js';

let loaded; // the one init() promise

/**
 * Opens a POP3 session through the bridge and logs in.
 * @param {object} options { bridgeUrl, host, port, security, user, password | oauthToken, ... }
 * @returns {Promise<Session>} a logged-in session
 * @throws {Pop3Error} with a stable `code`, a plain-language `message`, and `serverText`
 */
export async function connect(options) {
  await ready();
  return pkg.connect(options);
}

/** The default bridge endpoint when the page is served by the bridge itself. */
export function defaultBridgeUrl() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/pop3`;
}

/**
 * The initialised wasm package (SyncRun, sha256Hex, the archive functions, …), for the
 * offline store and sync (web/sync.js). One shared initialisation for every caller.
 */
export async function wasm() {
  await ready();
  return pkg;
}

// ---------------------------------------------------------------------- reading messages
// Pure functions of the wasm package (docs/js-api.md, "Reading messages"). They are
// synchronous once the package is initialised: `await ready()` once, then call them.

/** Initialises the wasm package (once; later calls return the same promise). */
export function ready() {
  loaded ??= init();
  return loaded;
}

/** `parseMessage(bytes)` → { subject, from, to, cc, replyTo, date, messageId, parts, textParts, htmlParts, text, textHtml, hasHtml, warnings } */
export const parseMessage = (bytes) => pkg.parseMessage(bytes);
/** `renderHtml(bytes, { allowRemote })` → { html, remoteBlocked, truncated }: sanitized, each part on its own. */
export const renderHtml = (bytes, options = {}) => pkg.renderHtml(bytes, options);
/** `partBytes(bytes, partId)` → Uint8Array: the decoded content of one part. */
export const partBytes = (bytes, partId) => pkg.partBytes(bytes, partId);
/** `sanitizeHtml(html, { allowRemote })` → { html, remoteBlocked, truncated } */
export const sanitizeHtml = (html, options = {}) => pkg.sanitizeHtml(html, options);
/** `cleanFilename(name)` → { name, extension } */
export const cleanFilename = (name) => pkg.cleanFilename(name);
