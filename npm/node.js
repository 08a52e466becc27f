// @ts-check
// The package's entry for Node.js: the wasm is read from disk next to this file, and the
// socket is Node's global WebSocket (Node 22 and later) or one you inject with
// useWebSocket() — the `ws` package's, on Node 20. `connect({ direct: true, … })` opens a TCP
// socket with node:net / node:tls instead (no bridge); Node verifies the certificate against
// its CAs (plus NODE_EXTRA_CA_CERTS) with the name the user gave.
import { readFile } from 'node:fs/promises';
import { connect as netConnect, isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { callbacksOnce, installDirectOpener } from './direct-socket.js';
import { useWasm } from './pop3.js';
import { installSocketFactory, originFor, withHeaders } from './runtime-socket.js';

export * from './pop3.js';
export { useOrigin } from './runtime-socket.js';

const pkg = new URL('./pkg/', import.meta.url);
useWasm({
  client: () => readFile(new URL('pop3_web_bg.wasm', pkg)),
  mime: () => readFile(new URL('pop3_mime_web_bg.wasm', pkg)),
  tls: () => readFile(new URL('pop3_tls_web_bg.wasm', pkg)),
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

/**
 * A TLS socket's details as the client reports them (`session.tls`).
 * @param {import('node:tls').TLSSocket} t
 * @param {string} host
 * @returns {import('./direct-socket.js').DirectTlsInfo}
 */
function tlsInfo(t, host) {
  const cert = t.getPeerCertificate();
  /** @param {Record<string, string | string[]> | undefined} name */
  const dn = (name) =>
    Object.entries(name ?? {})
      .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`)
      .join(', ');
  return {
    version: t.getProtocol() ?? '',
    cipher: t.getCipher()?.name ?? '',
    serverName: host,
    subject: dn(cert?.subject),
    issuer: dn(cert?.issuer),
    notAfter: cert?.valid_to ?? '',
    verified: t.authorized === true,
  };
}

/**
 * The direct socket: node:net, node:tls for implicit TLS, and tls.connect({ socket }) over the
 * same connection for STLS. Never `rejectUnauthorized: false`.
 * @type {import('./direct-socket.js').DirectOpener}
 */
function openDirect({ host, port, tls, onData, onClose }) {
  const cb = callbacksOnce(onData, onClose);
  // SNI carries names, never addresses (RFC 6066); the certificate is checked against `host`.
  const servername = isIP(host) ? undefined : host;
  /** @type {'opening' | 'open' | 'upgrading'} */
  let state = 'opening';
  return new Promise((resolve, reject) => {
    /** @type {(e: unknown) => void} */
    let upgradeFailed = () => {};
    /** @param {import('node:net').Socket} s */
    const listen = (s) => {
      s.on('data', (b) => {
        if (state === 'open') cb.data(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
      });
      s.on('error', (e) => {
        if (state === 'opening') reject(e);
        else if (state === 'upgrading') upgradeFailed(e);
        else cb.close(e);
      });
      s.on('close', () => {
        if (state === 'open') cb.close();
      });
    };
    /** @type {import('node:net').Socket} */
    let sock = tls
      ? tlsConnect({ host, port, servername, rejectUnauthorized: true })
      : netConnect({ host, port });
    listen(sock);
    /** @type {import('./direct-socket.js').DirectSocket} */
    const api = {
      write(bytes) {
        sock.write(bytes);
      },
      close() {
        cb.stop();
        sock.destroy();
      },
      startTls() {
        state = 'upgrading';
        const raw = sock;
        // From here on the connection's bytes belong to the handshake: nothing more is read
        // as plaintext.
        raw.removeAllListeners('data');
        raw.removeAllListeners('close');
        raw.removeAllListeners('error');
        raw.on('error', () => {});
        return new Promise((ok, fail) => {
          upgradeFailed = (e) => {
            cb.stop();
            fail(e);
          };
          const t = tlsConnect({ socket: raw, host, servername, rejectUnauthorized: true });
          sock = t;
          listen(t);
          t.once('secureConnect', () => {
            state = 'open';
            ok(tlsInfo(t, host));
          });
        });
      },
    };
    sock.once(tls ? 'secureConnect' : 'connect', () => {
      state = 'open';
      if (tls) api.tls = tlsInfo(/** @type {import('node:tls').TLSSocket} */ (sock), host);
      resolve(api);
    });
  });
}

installDirectOpener(openDirect);
