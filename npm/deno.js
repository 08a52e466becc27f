// @ts-check
// The package's entry for Deno: the wasm is fetched next to this file (Deno's fetch reads
// file: URLs), and the socket is Deno's WebSocket, sending the bridge's origin.
// `connect({ direct: true, … })` opens a TCP socket with Deno.connect / Deno.connectTls instead
// (no bridge; STLS with Deno.startTls); Deno verifies the certificate against its CAs (plus
// DENO_CERT or --cert) with the name the user gave. It needs --allow-net for the server.
import { callbacksOnce, installDirectOpener } from './direct-socket.js';
import { installSocketFactory, withHeaders } from './runtime-socket.js';

export * from './pop3.js';
export { useOrigin } from './runtime-socket.js';

installSocketFactory(withHeaders(globalThis.WebSocket));

/**
 * The part of Deno's API the direct socket uses.
 * @typedef {{ read(p: Uint8Array): Promise<number | null>, write(p: Uint8Array): Promise<number>, close(): void }} DenoConn
 * @typedef {DenoConn & { handshake(): Promise<unknown> }} DenoTlsConn
 * @typedef {{
 *   connect(o: { hostname: string, port: number }): Promise<DenoConn>,
 *   connectTls(o: { hostname: string, port: number }): Promise<DenoTlsConn>,
 *   startTls(conn: DenoConn, o: { hostname: string }): Promise<DenoTlsConn>,
 * }} DenoApi
 */

const Deno = /** @type {{ Deno: DenoApi }} */ (/** @type {unknown} */ (globalThis)).Deno;

/**
 * The direct socket over Deno's connections. Reads stop before an upgrade (Deno.startTls takes
 * a connection without pending reads), so nothing read after the `+OK` to STLS is plaintext.
 * @type {import('./direct-socket.js').DirectOpener}
 */
async function openDirect({ host, port, tls, onData, onClose }) {
  const cb = callbacksOnce(onData, onClose);
  /** @type {'open' | 'upgrading'} */
  let state = 'open';
  /** @type {DenoConn} */
  let conn;
  if (tls) {
    const t = await Deno.connectTls({ hostname: host, port });
    try {
      await t.handshake();
    } catch (e) {
      t.close();
      throw e;
    }
    conn = t;
  } else {
    conn = await Deno.connect({ hostname: host, port });
  }
  /** @type {Promise<void>} */
  let writes = Promise.resolve();
  /** @param {DenoConn} c */
  const pump = async (c) => {
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      /** @type {number | null} */
      let n;
      try {
        n = await c.read(buf);
      } catch (e) {
        if (state === 'open') cb.close(e);
        return;
      }
      if (n === null) {
        if (state === 'open') cb.close();
        return;
      }
      cb.data(buf.slice(0, n));
      if (state !== 'open') return;
    }
  };
  let reading = pump(conn);
  /** @type {import('./direct-socket.js').DirectSocket} */
  const api = {
    write(bytes) {
      const c = conn;
      writes = writes.then(async () => {
        for (let off = 0; off < bytes.length; ) off += await c.write(bytes.subarray(off));
      });
      writes.catch((e) => {
        if (state === 'open') cb.close(e);
      });
    },
    close() {
      cb.stop();
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    },
    async startTls() {
      state = 'upgrading';
      try {
        await reading;
        await writes;
        const t = await Deno.startTls(conn, { hostname: host });
        conn = t;
        await t.handshake();
      } catch (e) {
        cb.stop();
        throw e;
      }
      state = 'open';
      reading = pump(conn);
      return { serverName: host, verified: true };
    },
  };
  if (tls) api.tls = { serverName: host, verified: true };
  return api;
}

installDirectOpener(openDirect);
