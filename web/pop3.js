// The POP3 client's JavaScript API: a thin wrapper that loads the wasm package once.
// Everything else (the protocol, the bridge link, errors) lives in Rust: see docs/js-api.md.
import init, * as pkg from './pkg/pop3_web.js';

let ready;

/**
 * Opens a POP3 session through the bridge and logs in.
 * @param {object} options { bridgeUrl, host, port, security, user, password | oauthToken, ... }
 * @returns {Promise<Session>} a logged-in session
 * @throws {Pop3Error} with a stable `code`, a plain-language `message`, and `serverText`
 */
export async function connect(options) {
  ready ??= init();
  await ready;
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
  ready ??= init();
  await ready;
  return pkg;
}
