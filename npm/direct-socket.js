// @ts-check
// Direct sockets to the mail server, for runtimes with TCP: `connect({ direct: true, … })`
// opens its connection through an opener registered under Symbol.for('pop3-web.directSocket')
// (the Node, Deno and workerd entries register theirs; the client's wasm reads the symbol, see
// client-wasm/pop3-web/src/direct.rs). The runtime verifies the server's certificate with the
// name the user gave; an opener never turns that off.

const KEY = Symbol.for('pop3-web.directSocket');

/**
 * What the runtime says about the TLS of a connection; every field is optional.
 * @typedef {{ version?: string, cipher?: string, serverName?: string, subject?: string, issuer?: string, notAfter?: string, verified?: boolean }} DirectTlsInfo
 */

/**
 * An open connection. `write` queues bytes (and never calls back synchronously); after
 * `close()` no callback runs. `startTls()` upgrades this connection (STLS): from the call on,
 * no plaintext byte reaches `onData` any more; it resolves once the handshake (and the
 * certificate check) succeeded. `tls`: the details of a connection opened with `tls: true`.
 * @typedef {{ write(bytes: Uint8Array): void, close(): void, startTls(): Promise<DirectTlsInfo>, tls?: DirectTlsInfo }} DirectSocket
 */

/**
 * Opens a connection to `host:port`, with TLS from the start when `tls` is true. Resolves once
 * connected (with TLS: once the handshake and the certificate check succeeded); rejects with
 * the runtime's own error. `onData` gets the bytes received, in order; `onClose` is called once
 * when the connection ends, with the runtime's error when it failed.
 * @typedef {(args: { host: string, port: number, tls: boolean, onData: (bytes: Uint8Array) => void, onClose: (error?: unknown) => void }) => Promise<DirectSocket>} DirectOpener
 */

/** @param {DirectOpener} opener */
export function installDirectOpener(opener) {
  /** @type {Record<symbol, unknown>} */ (/** @type {unknown} */ (globalThis))[KEY] = opener;
}

/**
 * Calls `onClose` once, and `onData` only before that: the socket's callbacks as the client
 * wants them, whatever order the runtime's events come in.
 * @param {(bytes: Uint8Array) => void} onData
 * @param {(error?: unknown) => void} onClose
 */
export function callbacksOnce(onData, onClose) {
  let over = false;
  return {
    /** @param {Uint8Array} bytes */
    data(bytes) {
      if (!over) onData(bytes);
    },
    /** @param {unknown} [error] */
    close(error) {
      if (over) return;
      over = true;
      onClose(error);
    },
    get over() {
      return over;
    },
    stop() {
      over = true;
    },
  };
}
