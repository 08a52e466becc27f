// @ts-check
// A minimal use of the API: connect, fetch the newest headers, read one message, quit.
import { connect, defaultBridgeUrl } from './pop3.js';
/** @import { Pop3Error, Security } from './types.js' */

const out = /** @type {HTMLPreElement} */ (document.getElementById('out'));
const log = (/** @type {string} */ line) => { out.textContent += line + '\n'; };

/** @type {HTMLFormElement} */ (document.getElementById('f')).addEventListener('submit', async (ev) => {
  ev.preventDefault();
  out.textContent = '';
  const f = new FormData(/** @type {HTMLFormElement} */ (ev.target));
  try {
    const s = await connect({
      bridgeUrl: defaultBridgeUrl(),
      host: /** @type {string} */ (f.get('host')),
      port: Number(f.get('port')),
      security: /** @type {Security} */ (f.get('security')),
      user: /** @type {string} */ (f.get('user')),
      password: /** @type {string} */ (f.get('password')),
    });
    log(`logged in with ${s.loginMethod}; TLS: ${s.tls ? s.tls.version + ' ' + s.tls.cipher : 'none'}`);
    const { count, size } = await s.stat();
    log(`${count} messages, ${size} bytes`);
    const heads = await s.fetchHeaders({
      newest: 10,
      onProgress: (p) => log(`headers ${p.done}/${p.total}`),
    });
    for (const h of heads) log(`#${h.msg} ${h.uid} ${h.size} bytes`);
    if (heads.length > 0) {
      const raw = await s.retr(heads[0].msg);
      log('--- newest message ---');
      log(new TextDecoder().decode(raw).slice(0, 2000));
    }
    const q = await s.quit();
    log(`quit: committed=${q.committed}`);
  } catch (err) {
    const e = /** @type {Pop3Error} */ (err);
    // Pop3Error: a stable code, a sentence for people, and the server's words apart.
    log(`error ${e.code}: ${e.message}${e.serverText ? ` (server said: "${e.serverText}")` : ''}`);
  }
});
