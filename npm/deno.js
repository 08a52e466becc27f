// @ts-check
// The package's entry for Deno: the wasm is fetched next to this file (Deno's fetch reads
// file: URLs), and the socket is Deno's WebSocket, sending the bridge's origin.
import { installSocketFactory, withHeaders } from './runtime-socket.js';

export * from './pop3.js';
export { useOrigin } from './runtime-socket.js';

installSocketFactory(withHeaders(globalThis.WebSocket));
