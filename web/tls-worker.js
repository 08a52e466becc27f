// @ts-check
// End-to-end TLS off the page's thread: one dedicated worker per connection runs the TLS
// module's `TlsClient` (rustls), so decrypting a large message does not compete with the
// client's own work (parsing, the page) for the page's one thread. The page's side of this
// protocol, and the reasons for it, are in client-wasm/pop3-web/src/end_to_end.rs:
//
//   page → worker  { start: { serverName, trust, module? } }       once, first
//                  { received: Uint8Array[], send: Uint8Array, close: boolean }   one batch
//   worker → page  the batch's result, `TlsClient.process()`'s object (the ClientHello is the
//                  start's), its buffers transferred; or { unavailable: reason } when the
//                  module cannot run here (the page then runs the same engine itself).
//
// The TLS behaviour itself is all in `TlsClient.process` (client-wasm/pop3-tls-web), the same
// call the page makes when it has no worker: this file only carries bytes.
import init, { TlsClient } from './pkg/pop3_tls_web.js';

/**
 * @typedef {{ serverName: string, trust?: unknown, module?: WebAssembly.Module }} Start
 * @typedef {{ start?: Start, received?: Uint8Array[], send?: Uint8Array, close?: boolean }} Request
 * @typedef {{ plaintext: Uint8Array, outgoing: Uint8Array }} Result
 */

/** @type {TlsClient | undefined} */
let client;
// Messages are handled one after the other: the first waits for the module, and the batches
// behind it must not overtake it.
let chain = Promise.resolve();
/** @type {{ postMessage(message: unknown, transfer: Transferable[]): void }} */
const port = /** @type {any} */ (globalThis);

globalThis.onmessage = (/** @type {MessageEvent<Request>} */ e) => {
  const m = e.data;
  chain = chain.then(() => handle(m));
};

/** @param {Request} m */
async function handle(m) {
  if (m.start) {
    try {
      await init(m.start.module ? { module_or_path: m.start.module } : undefined);
    } catch (e) {
      port.postMessage({ unavailable: String(/** @type {Error} */ (e)?.message ?? e) }, []);
      return;
    }
    try {
      client = new TlsClient(m.start.serverName, m.start.trust);
    } catch (e) {
      // `{ code, detail }` (a trust setting or name that cannot be used): the connection's error.
      port.postMessage({ error: e, plaintext: new Uint8Array(), outgoing: new Uint8Array() }, []);
      return;
    }
    reply(/** @type {Result} */ (client.process([], new Uint8Array(), false)));
    return;
  }
  if (!client) return; // the start failed, and said so
  let r;
  try {
    r = /** @type {Result} */ (client.process(m.received ?? [], m.send ?? new Uint8Array(), m.close === true));
  } catch (e) {
    // `process` reports TLS errors in its result; a throw is the module itself failing
    // (a trap). The page fails the connection with it, as it would on its own thread.
    port.postMessage({ error: { detail: String(/** @type {Error} */ (e)?.message ?? e) }, plaintext: new Uint8Array(), outgoing: new Uint8Array() }, []);
    return;
  }
  reply(r);
}

/** @param {Result} r */
function reply(r) {
  // Transferred, not copied: the page takes both buffers as they are.
  port.postMessage(r, [r.plaintext.buffer, r.outgoing.buffer]);
}
