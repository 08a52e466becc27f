// @ts-check
// The package's entry for workerd (Cloudflare Workers): the wasm comes in as modules (list
// them as `wasm` modules, or let wrangler's bundler do it), and the socket is an outbound
// WebSocket made with fetch() and an `Upgrade` header, the way Workers open one with
// headers of their own (the bridge needs an `Origin`).
import clientWasm from './pkg/pop3_web_bg.wasm';
import mimeWasm from './pkg/pop3_mime_web_bg.wasm';
import { useWasm } from './pop3.js';
import { installSocketFactory, originFor } from './runtime-socket.js';

export * from './pop3.js';
export { useOrigin } from './runtime-socket.js';

useWasm({ client: () => clientWasm, mime: () => mimeWasm });

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
