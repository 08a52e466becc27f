// @ts-check
// The package's entry for workerd (Cloudflare Workers): the wasm comes in as modules (list
// them as `wasm` modules, or let wrangler's bundler do it), and the socket is an outbound
// WebSocket made with fetch() and an `Upgrade` header, the way Workers open one with
// headers of their own (the bridge needs an `Origin`). `connect({ direct: true, … })` opens
// a TCP socket with connect() from 'cloudflare:sockets' instead (no bridge).
import { connect as connectTcp } from 'cloudflare:sockets';
import clientWasm from './pkg/pop3_web_bg.wasm';
import mimeWasm from './pkg/pop3_mime_web_bg.wasm';
import tlsWasm from './pkg/pop3_tls_web_bg.wasm';
import { callbacksOnce, installDirectOpener } from './direct-socket.js';
import { useWasm } from './pop3.js';
import { installSocketFactory, originFor } from './runtime-socket.js';

export * from './pop3.js';
export { useOrigin } from './runtime-socket.js';

useWasm({ client: () => clientWasm, mime: () => mimeWasm, tls: () => tlsWasm });

/**
 * The part of a browser WebSocket the client uses (binaryType, bufferedAmount, send, close
 * and the on* handlers), over a Worker's fetch-upgraded socket. Until the upgrade answers it
 * is CONNECTING: send() throws as a browser's would, and the client waits for `onopen`.
 */
class UpgradedSocket {
  binaryType = 'arraybuffer';
  bufferedAmount = 0;
  readyState = 0;
  /** @type {((e: object) => void) | null} */ onopen = null;
  /** @type {((e: { data: string | ArrayBuffer }) => void) | null} */ onmessage = null;
  /** @type {((e: { code: number, reason: string }) => void) | null} */ onclose = null;
  /** @type {((e: object) => void) | null} */ onerror = null;
  /** @type {WebSocket | null} */ #ws = null;
  /** @type {Promise<void>} */ #queue = Promise.resolve();

  /**
   * @param {string} url ws: or wss: URL of the bridge
   * @param {string} protocol the bridge's subprotocol
   */
  constructor(url, protocol) {
    const http = url.replace(/^ws/i, 'http');
    fetch(http, { headers: { Upgrade: 'websocket', Origin: originFor(url), 'Sec-WebSocket-Protocol': protocol } }).then(
      (resp) => {
        const ws = /** @type {{ webSocket?: WebSocket & { accept(): void } }} */ (/** @type {unknown} */ (resp)).webSocket;
        if (!ws) {
          // The bridge refused the upgrade (HTTP status instead of 101): as a browser reports it.
          this.#closed(1006, `the bridge answered HTTP ${resp.status}`);
          return;
        }
        ws.accept();
        if (this.readyState === 2) {
          // close() was called while connecting.
          ws.close(1000);
          this.#closed(1006, 'closed before it opened');
          return;
        }
        this.#ws = ws;
        this.readyState = 1;
        // workerd hands binary messages over as Blobs; the client wants ArrayBuffers. Reading a
        // Blob is asynchronous, so every event goes through one queue to keep their order.
        ws.binaryType = 'arraybuffer';
        ws.addEventListener('message', (e) => {
          const data = /** @type {string | ArrayBuffer | Blob} */ (e.data);
          this.#then(async () => this.onmessage?.({ data: data instanceof Blob ? await data.arrayBuffer() : data }));
        });
        ws.addEventListener('close', (e) => this.#then(() => this.#closed(e.code, e.reason)));
        ws.addEventListener('error', () => this.#then(() => this.#closed(1006, 'the connection to the bridge failed')));
        this.onopen?.({});
      },
      (e) => this.#closed(1006, String(e)),
    );
  }

  /** @param {string | BufferSource} data */
  send(data) {
    if (!this.#ws || this.readyState !== 1) throw new DOMException('the socket is not open', 'InvalidStateError');
    this.#ws.send(data);
  }

  /**
   * @param {number} [code]
   * @param {string} [reason]
   */
  close(code = 1000, reason = '') {
    if (this.readyState >= 2) return;
    // Still connecting: the upgrade's answer is closed as soon as it comes.
    this.readyState = 2;
    this.#ws?.close(code, reason);
  }

  /**
   * Runs `step` after every event before it.
   * @param {() => unknown} step
   */
  #then(step) {
    this.#queue = this.#queue
      .then(async () => {
        await step();
      })
      .catch((e) => this.#closed(1006, String(e)));
  }

  /**
   * @param {number} code
   * @param {string} reason
   */
  #closed(code, reason) {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.#ws = null;
    this.onclose?.({ code, reason });
  }
}

installSocketFactory((url, protocol) => /** @type {WebSocket} */ (/** @type {unknown} */ (new UpgradedSocket(url, protocol))));

/**
 * The direct socket: workerd's connect() with `secureTransport: 'on'` (implicit TLS) or
 * `'starttls'` and socket.startTls() for STLS. workerd checks the certificate against the
 * network service's CAs (`tlsOptions`; Cloudflare's own in production) only as the handshake
 * runs, i.e. at the first read: a refusal arrives as the end of the connection, before any
 * byte (the client then reports it as the opening's failure).
 * @type {import('./direct-socket.js').DirectOpener}
 */
async function openDirect({ host, port, tls, onData, onClose }) {
  const cb = callbacksOnce(onData, onClose);
  /** @type {'open' | 'upgrading'} */
  let state = 'open';
  let socket = connectTcp({ hostname: host, port }, { secureTransport: tls ? 'on' : 'starttls' });
  try {
    await socket.opened;
  } catch (e) {
    throw tls ? await whyNoTls(host, port, e) : e;
  }
  let writer = socket.writable.getWriter();
  /** @type {Promise<void>} */
  let writes = Promise.resolve();
  /** @param {import('cloudflare:sockets').Socket} s */
  const pump = async (s) => {
    const reader = s.readable.getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) {
          if (state === 'open') cb.close();
          return;
        }
        cb.data(value);
        if (state !== 'open') return;
      }
    } catch (e) {
      if (state === 'open') cb.close(e);
    } finally {
      reader.releaseLock();
    }
  };
  let reading = pump(socket);
  /** @type {import('./direct-socket.js').DirectSocket} */
  const api = {
    write(bytes) {
      writes = writer.write(bytes);
      writes.catch((e) => {
        if (state === 'open') cb.close(e);
      });
    },
    close() {
      cb.stop();
      socket.close().catch(() => {});
    },
    async startTls() {
      state = 'upgrading';
      try {
        await reading;
        await writes;
        writer.releaseLock();
        // The name checked is the one connect() was given (`host`): workerd refuses the
        // expectedServerHostname option ("unsupported") and verifies the original hostname.
        socket = socket.startTls();
        await socket.opened;
        writer = socket.writable.getWriter();
      } catch (e) {
        cb.stop();
        throw e;
      }
      state = 'open';
      reading = pump(socket);
      return { serverName: host, verified: true };
    },
  };
  if (tls) api.tls = { serverName: host, verified: true };
  return api;
}

/**
 * The error for an implicit-TLS connect() that failed. workerd tells a Worker the same thing,
 * "proxy request failed, cannot connect to the specified address", for a refused port and for
 * a refused certificate (the reason, e.g. "invalid peer certificate: UnknownIssuer", goes only
 * to its own log). A plain TCP connect to the same address tells them apart: when it opens,
 * TLS failed, which is reported as `tls_handshake` (workerd does not say whether it was the
 * certificate).
 * @param {string} host
 * @param {number} port
 * @param {unknown} e the error of the TLS connect
 */
async function whyNoTls(host, port, e) {
  const probe = connectTcp({ hostname: host, port }, { secureTransport: 'off' });
  const reachable = await probe.opened.then(
    () => true,
    () => false,
  );
  probe.close().catch(() => {});
  if (!reachable) return e;
  return Object.assign(
    new Error(
      `${host}:${port} accepts TCP connections, but workerd could not set up TLS with it; workerd does not tell a Worker why (an untrusted, expired or wrong-name certificate is the usual reason; its log has it): ${String(/** @type {{ message?: unknown }} */ (e)?.message ?? e)}`,
    ),
    { code: 'tls_handshake' },
  );
}

installDirectOpener(openDirect);
