// @ts-check
// What every direct-socket test does with the installed package, the same in Node, Deno and
// workerd: no bridge; sign in straight to Dovecot with implicit TLS and with STLS, list, UIDL
// and download every message, QUIT; then the typed errors. The result is JSON the Rust test
// (tests/npm_direct.rs) checks against Dovecot's own files.

/**
 * @param {typeof import('pop3-web')} api the package, as the runtime's entry loaded it
 * @param {{ host: string, tlsPort: number, plainPort: number, user: string, password: string,
 *   untrustedTlsPort: number, untrustedPlainPort: number, wrongNameTlsPort: number, wrongNamePlainPort: number,
 *   injectPort: number, refusePort: number, closedPort: number }} cfg
 */
export async function run(api, cfg) {
  const base = { direct: true, host: cfg.host, user: cfg.user, password: cfg.password };
  /** @param {Record<string, unknown>} extra */
  const opts = (extra) => /** @type {any} */ ({ ...base, ...extra });
  // A connect that should have failed and did not: its session is closed (an open one would
  // keep the runtime running) and reported as 'no error'.
  /** @param {Promise<{ close(): void }>} p */
  const codeOf = (p) =>
    p.then(
      (s) => (s.close(), 'no error'),
      (/** @type {any} */ e) => String(e?.code ?? e),
    );
  /** @param {Promise<{ close(): void }>} p */
  const detailOf = (p) =>
    p.then(
      (s) => (s.close(), { code: 'no error', message: '', detail: '' }),
      (/** @type {any} */ e) => ({ code: String(e?.code ?? e), message: String(e?.message ?? ''), detail: String(e?.detail ?? '') }),
    );

  /** @param {Record<string, unknown>} o */
  const session = async (o) => {
    let s;
    try {
      s = await api.connect(opts(o));
    } catch (/** @type {any} */ e) {
      return { failed: String(e?.code ?? e), message: String(e?.message ?? e), detail: String(e?.detail ?? '') };
    }
    const tls = s.tls;
    const list = await s.list();
    const uidl = await s.uidl();
    /** @type {Record<string, string>} */
    const messages = {};
    await s.download(
      list.map((m) => m.msg),
      { onMessage: (/** @type {number} */ msg, /** @type {Uint8Array} */ bytes) => void (messages[msg] = base64(bytes)) },
    );
    const quit = await s.quit();
    return { tls, insecure: s.insecure, loginMethod: s.loginMethod, list, uidl, messages, committed: quit.committed };
  };

  const tls = await session({ port: cfg.tlsPort, security: 'tls' });
  const stls = await session({ port: cfg.plainPort, security: 'stls' });

  const key = Symbol.for('pop3-web.directSocket');
  const g = /** @type {Record<symbol, unknown>} */ (/** @type {unknown} */ (globalThis));
  const opener = g[key];
  delete g[key];
  const noOpener = await codeOf(api.connect(opts({ port: cfg.tlsPort, security: 'tls' })));
  g[key] = opener;

  const errors = {
    noOpener,
    plainWithoutConsent: await codeOf(api.connect(opts({ port: cfg.plainPort, security: 'plain' }))),
    bridgeAndDirect: await codeOf(api.connect(opts({ port: cfg.tlsPort, bridgeUrl: 'ws://127.0.0.1:9/pop3' }))),
    wrongPassword: await codeOf(api.connect(opts({ port: cfg.tlsPort, security: 'tls', password: 'not-the-password' }))),
    wrongPasswordStls: await codeOf(api.connect(opts({ port: cfg.plainPort, security: 'stls', password: 'not-the-password' }))),
    unknownIssuer: await detailOf(api.connect(opts({ port: cfg.untrustedTlsPort, security: 'tls' }))),
    unknownIssuerStls: await detailOf(api.connect(opts({ port: cfg.untrustedPlainPort, security: 'stls' }))),
    nameMismatch: await detailOf(api.connect(opts({ port: cfg.wrongNameTlsPort, security: 'tls' }))),
    nameMismatchStls: await detailOf(api.connect(opts({ port: cfg.wrongNamePlainPort, security: 'stls' }))),
    stlsInjection: await detailOf(api.connect(opts({ port: cfg.injectPort, security: 'stls' }))),
    stlsRefused: await detailOf(api.connect(opts({ port: cfg.refusePort, security: 'stls' }))),
    refusedPort: await detailOf(api.connect(opts({ port: cfg.closedPort, security: 'tls' }))),
  };
  return { tls, stls, errors };
}

/** @param {Uint8Array} bytes */
function base64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
