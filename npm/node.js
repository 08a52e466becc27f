// @ts-check
// The package's entry for Node.js: the wasm is read from disk next to this file, and the
// socket is Node's global WebSocket (Node 22 and later) or one you inject with
// useWebSocket() — the `ws` package's, on Node 20.
import { readFile } from 'node:fs/promises';
import { useWasm } from './pop3.js';
import { installSocketFactory, originFor, withHeaders } from './runtime-socket.js';

export * from './pop3.js';
export { useOrigin } from './runtime-socket.js';

const pkg = new URL('./pkg/', import.meta.url);
useWasm({
  client: () => readFile(new URL('pop3_web_bg.wasm', pkg)),
  mime: () => readFile(new URL('pop3_mime_web_bg.wasm', pkg)),
});

/**
 * Uses `WebSocketClass` for the bridge socket: a constructor with the `ws` package's
 * signature, `new WebSocketClass(url, protocol, { origin })`.
 * @param {new (url: string, protocol: string, options: { origin: string }) => unknown} WebSocketClass
 */
export function useWebSocket(WebSocketClass) {
  installSocketFactory((url, protocol) => /** @type {WebSocket} */ (new WebSocketClass(url, protocol, { origin: originFor(url) })));
}

if (typeof globalThis.WebSocket === 'function') {
  installSocketFactory(withHeaders(globalThis.WebSocket));
} else {
  installSocketFactory(() => {
    throw new Error(
      "this Node.js has no global WebSocket: install the 'ws' package and call useWebSocket(WebSocket) with its WebSocket class",
    );
  });
}
