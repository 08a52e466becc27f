// @ts-check
// What every runtime test does with the installed package, the same in Node, Deno and
// workerd: sign in through the bridge, list, fetch headers, download every message, mark
// one deleted and QUIT; then the typed errors. The result is JSON the Rust test checks
// against Dovecot's own files.

/**
 * @param {typeof import('pop3-web')} api the package, as the runtime's entry loaded it
 * @param {{ bridgeUrl: string, badBridgeUrl: string, host: string, port: number, plainPort: number, caPem: string, user: string, password: string, deleteMsg: number }} cfg
 */
export async function run(api, cfg) {
  const login = { bridgeUrl: cfg.bridgeUrl, host: cfg.host, port: cfg.port, security: /** @type {const} */ ('tls'), user: cfg.user };
  const session = await api.connect({ ...login, password: cfg.password });
  const tls = session.tls;
  const list = await session.list();
  const uidl = await session.uidl();
  const headers = await session.fetchHeaders({});
  /** @type {Record<string, string>} */
  const messages = {};
  for (const { msg } of list) messages[msg] = base64(await session.retr(msg));
  await session.dele(cfg.deleteMsg);
  const quit = await session.quit();

  // TLS that ends in this runtime (the bridge relays): implicit TLS and STLS, trusting the CA
  // the job was given; the bridge's own trust in that CA counts for nothing there.
  /** @param {'tls' | 'stls'} security @param {number} port */
  const endToEnd = async (security, port) => {
    const s = await api.connect({ ...login, security, port, password: cfg.password, endToEnd: true, tlsTrust: { cas: [cfg.caPem] } });
    const first = base64(await s.retr(1));
    const r = { endToEnd: s.endToEnd, verified: s.tls?.verified ?? false, version: s.tls?.version ?? '', firstMatches: first === messages[1] };
    await s.quit();
    return r;
  };
  const e2e = { tls: await endToEnd('tls', cfg.port), stls: await endToEnd('stls', cfg.plainPort) };

  /** @param {Promise<unknown>} p */
  const codeOf = (p) => p.then(() => 'no error', (/** @type {any} */ e) => String(e?.code ?? e));
  const errors = {
    wrongPassword: await codeOf(api.connect({ ...login, password: 'not-the-password' })),
    refusedPort: await codeOf(api.connect({ ...login, port: 9, password: cfg.password })),
    unknownIssuer: await codeOf(api.connect({ ...login, bridgeUrl: cfg.badBridgeUrl, password: cfg.password })),
    endToEndWithoutTrust: await codeOf(api.connect({ ...login, password: cfg.password, endToEnd: true })),
  };
  return {
    tlsVerified: tls?.verified ?? false,
    bridgeTls: !session.endToEnd,
    e2e,
    list,
    uidl,
    headers: headers.map((h) => ({ msg: h.msg, uid: h.uid, bytes: h.headers.length })),
    messages,
    committed: quit.committed,
    errors,
  };
}

/** @param {Uint8Array} bytes */
function base64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
