// @ts-check
// The POP3 client's JavaScript API: a thin wrapper that loads the wasm package once.
// Everything else (the protocol, the bridge link, errors) lives in Rust: see docs/js-api.md.
import init, * as pkg from './pkg/pop3_web.js';
// The reading functions are a wasm module of their own (the sanitizer and charset tables are
// most of the size): importing this glue is cheap, its wasm is fetched only by ready().
import initMime, * as mime from './pkg/pop3_mime_web.js';
// TLS that ends in this client (rustls, `endToEnd`) is a third module, fetched by the first
// connection that needs it: the client finds it through the loader installed below.
import initTls, { TlsClient } from './pkg/pop3_tls_web.js';
// The shapes of options and results (the generated declarations say `any`): web/types.d.ts.
/**
 * @import { ConnectOptions, Session, Pop3Wasm, ErrorCode, ParsedMessage, RenderOptions, RenderResult, CleanedName } from './types.js'
 */

/** @type {Promise<import('./pkg/pop3_web.js').InitOutput> | undefined} */
let loaded; // the client's one init() promise
let initialised = false; // set once it has resolved: errorCodes() is synchronous
/** @type {Promise<import('./pkg/pop3_mime_web.js').InitOutput> | undefined} */
let mimeLoaded; // the reading module's
/** @type {Promise<unknown> | undefined} */
let tlsLoaded; // the TLS module's
/** @typedef {() => BufferSource | WebAssembly.Module | Promise<BufferSource | WebAssembly.Module>} WasmSource */
/** @type {{ client?: WasmSource, mime?: WasmSource, tls?: WasmSource }} */
let sources = {}; // where the wasm comes from when it cannot be fetched next to this file

/**
 * Where the three wasm modules come from, for runtimes that cannot fetch them next to this
 * file (Node reads them from disk; workerd imports them as modules). The npm package's
 * runtime entries call it before anything loads; pages and bundlers never need it.
 * @param {{ client?: WasmSource, mime?: WasmSource, tls?: WasmSource }} from
 */
export function useWasm(from) {
  sources = { ...from };
}

/**
 * @template T
 * @param {(input?: { module_or_path: BufferSource | WebAssembly.Module }) => Promise<T>} initialise
 * @param {WasmSource | undefined} source
 * @returns {Promise<T>}
 */
async function load(initialise, source) {
  return source ? initialise({ module_or_path: await source() }) : initialise();
}

/**
 * Opens a POP3 session through the bridge and logs in.
 * @param {ConnectOptions} options { bridgeUrl, host, port, security, user, password | oauthToken, ... }
 * @returns {Promise<Session>} a logged-in session
 * @throws {Pop3Error} with a stable `code`, a plain-language `message`, and `serverText`
 */
export async function connect(options) {
  await clientReady();
  return pkg.connect(options);
}

/**
 * The TLS module, loaded once, as the client's engine factory (client-wasm/pop3-web/src/end_to_end.rs).
 * @returns {Promise<(serverName: string, trust?: { cas?: string[], pins?: string[] }) => TlsClient>}
 */
export function tlsReady() {
  tlsLoaded ??= load(initTls, sources.tls).catch((e) => {
    tlsLoaded = undefined; // a page that lost its network may try again later
    throw e;
  });
  return tlsLoaded.then(() => (serverName, trust) => new TlsClient(serverName, trust));
}

/**
 * What the client's end-to-end TLS runs on (the loader under `Symbol.for('pop3-web.tls')`,
 * client-wasm/pop3-web/src/end_to_end.rs). In a browser: a dedicated worker per connection
 * (web/tls-worker.js), which loads the TLS module itself, so decryption does not share the
 * page's thread; the page loads the module only if the worker cannot start (a CSP without
 * 'self' for workers, say). Outside a page (Node and workerd have no `Worker`; Deno's would
 * need file permissions of its own), or when the wasm comes from `useWasm()` (the runtime
 * entries), the engine runs on this thread, the same `TlsClient` calls.
 * @returns {Promise<unknown>}
 */
function tlsEngines() {
  if (sources.tls || typeof Worker !== 'function' || typeof document === 'undefined') return tlsReady();
  return Promise.resolve({
    // This exact form (a literal URL relative to import.meta.url) is what bundlers such as
    // Vite recognise, to bundle the worker and its wasm with the app.
    worker: () => new Worker(new URL('./tls-worker.js', import.meta.url), { type: 'module' }),
    inThread: tlsReady,
  });
}
/** @type {Record<symbol, unknown>} */ (/** @type {unknown} */ (globalThis))[Symbol.for('pop3-web.tls')] ??= tlsEngines;

/** The default bridge endpoint when the page is served by the bridge itself. */
export function defaultBridgeUrl() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/pop3`;
}

/**
 * The initialised wasm package (SyncRun, sha256Hex, …), for the
 * offline store and sync (web/sync.js). One shared initialisation for every caller.
 * @returns {Promise<Pop3Wasm>}
 */
export async function wasm() {
  await clientReady();
  return /** @type {Pop3Wasm} */ (pkg);
}

/**
 * Every code a `Pop3Error` from this API can carry, with its group: `[{ code, group }]`
 * (docs/js-api.md, "Errors"). Derive lists from it instead of copying codes, e.g.
 * `errorCodes().filter(c => c.group === 'certificate')`. Synchronous: the client's wasm
 * package must be loaded (by `connect()` or `wasm()`); before that it throws.
 * @returns {ErrorCode[]}
 */
export function errorCodes() {
  if (!initialised) throw new Error('errorCodes(): the wasm package is not loaded yet (await wasm() first)');
  return pkg.errorCodes();
}

function clientReady() {
  loaded ??= load(init, sources.client).then((exports) => {
    initialised = true;
    return exports;
  });
  return loaded;
}
export { summarizeHeaders, displayName } from './pkg/pop3_web.js'; // header display (crate pop3-headers); sync, after `await wasm()` or connect()

// ---------------------------------------------------------------------- reading messages
// Pure functions of the reading module (docs/js-api.md, "Reading messages"). They are
// synchronous once it is loaded: `await ready()` once, then call them.

/** Loads the reading module (once; later calls return the same promise). */
export function ready() {
  mimeLoaded ??= load(initMime, sources.mime);
  return mimeLoaded;
}

/**
 * `parseMessage(bytes)` → { subject, from, to, cc, replyTo, date, messageId, parts, textParts, htmlParts, text, textHtml, hasHtml, warnings }
 * @type {(bytes: Uint8Array) => ParsedMessage}
 */
export const parseMessage = (bytes) => mime.parseMessage(bytes);
/**
 * `renderHtml(bytes, { allowRemote })` → { html, remoteBlocked, truncated }: sanitized, each part on its own.
 * @type {(bytes: Uint8Array, options?: RenderOptions) => RenderResult}
 */
export const renderHtml = (bytes, options = {}) => mime.renderHtml(bytes, options);
/**
 * `partBytes(bytes, partId)` → Uint8Array: the decoded content of one part.
 * @type {(bytes: Uint8Array, partId: string) => Uint8Array}
 */
export const partBytes = (bytes, partId) => mime.partBytes(bytes, partId);
/**
 * `sanitizeHtml(html, { allowRemote })` → { html, remoteBlocked, truncated }
 * @type {(html: string, options?: RenderOptions) => RenderResult}
 */
export const sanitizeHtml = (html, options = {}) => mime.sanitizeHtml(html, options);
/**
 * `cleanFilename(name)` → { name, extension }
 * @type {(name: string) => CleanedName}
 */
export const cleanFilename = (name) => mime.cleanFilename(name);
/**
 * For a message too big to hold whole (docs/js-api.md, "Big messages"): `new OutlineBuilder(nonce)`
 * (feed pieces, then `finish()` → `{ bytes, leaves, size, cut }`: parse `bytes` with
 * parseMessage), `new PartDecoder(encoding)` (a leaf's bytes decoded piece by piece), and
 * `new Sha256Stream()` (a checksum piece by piece).
 */
export { OutlineBuilder, PartDecoder, Sha256Stream } from './pkg/pop3_mime_web.js';
/**
 * Archives of kept mail (docs/js-api.md, "Export and import"): `new ArchiveWriter('mbox' |
 * 'zip')` writes one a message at a time, each message a piece at a time; `importArchive(bytes,
 * { known, nowMs })` reads one back, without what `known` already has.
 */
export { ArchiveWriter } from './pkg/pop3_mime_web.js';
/** @type {(bytes: Uint8Array, options: { known?: import('./types.js').KnownRecord[], nowMs?: number }) => import('./types.js').ImportResult} */
export const importArchive = (bytes, options) => mime.importArchive(bytes, options);
