// @ts-check
// The WebSocket to the bridge outside a browser. The client's wasm opens its socket through a
// factory registered under Symbol.for('pop3-web.WebSocket') when there is one (the runtime's
// own global WebSocket is never replaced). Outside a browser no runtime sends an `Origin`
// header, which the bridge requires (it is how a bridge refuses other sites' pages); these
// factories send the bridge's own origin, derived from the bridge URL, unless told another.
// An `Origin` only proves anything about browsers: what limits other clients is the bridge's
// tokens and policy.

const KEY = Symbol.for('pop3-web.WebSocket');

/** @typedef {(url: string, protocol: string) => WebSocket} SocketFactory */

/** @type {string | null} */
let origin = null;

/**
 * The `Origin` sent to the bridge: by default the bridge's own (`ws://h:p/…` → `http://h:p`).
 * Set another if the bridge operator allowed one with `--origin`.
 * @param {string | null} value
 */
export function useOrigin(value) {
  origin = value;
}

/**
 * The origin a socket to `url` presents.
 * @param {string} url
 */
export function originFor(url) {
  if (origin) return origin;
  const u = new URL(url);
  return `${u.protocol === 'wss:' ? 'https:' : 'http:'}//${u.host}`;
}

/** @param {SocketFactory} factory */
export function installSocketFactory(factory) {
  /** @type {Record<symbol, unknown>} */ (/** @type {unknown} */ (globalThis))[KEY] = factory;
}

/**
 * A factory over a WebSocket constructor that takes the non-standard init dictionary with
 * `headers` (Deno; Node 22+'s global WebSocket from undici).
 * @param {typeof WebSocket} Native
 * @returns {SocketFactory}
 */
export function withHeaders(Native) {
  const Ctor = /** @type {new (url: string, init: unknown) => WebSocket} */ (/** @type {unknown} */ (Native));
  return (url, protocol) => new Ctor(url, { protocols: [protocol], headers: { origin: originFor(url) } });
}
