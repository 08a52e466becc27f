// @ts-check
// The service worker: keeps the app shell (the page, its ES modules, styles, icons and the wasm
// packages) so that the app opens with no network, and mail kept on the device (IndexedDB,
// store.js) can be read. It never keeps mail or anything the bridge answers besides those
// files: the WebSocket, /client-config.json, /metrics and every non-GET request go to the
// network untouched.
//
// Versions: the bridge fills in SHELL as it serves this file (bridge/pop3-bridge/src/
// static_files.rs, `shell_worker`): the list of shell files with each one's ETag, and `build`,
// a hash over all of them. Any changed shell file changes this file's bytes, which is how the
// browser's update check (on navigation) finds a new version. The new worker installs into a
// cache of its own and then WAITS: the page (app-shell.js) offers "A new version is available
// — Reload", and only that click lets it take over (no skipWaiting on install), so a session is
// never switched to new code under the user.
//
// Served by something else than the bridge, SHELL stays empty: the worker keeps nothing and
// answers nothing (every request goes to the network as without it).
//
// A classic script (not a module): module service workers are not in every browser this app
// supports. The block keeps its names out of the global scope the type check shares.
{
  const SHELL = /** @type {{ build: string, files: [string, string][] }} */ (/*@shell*/ { build: '', files: [] });
  const PREFIX = 'pop3-web-shell-';
  const CACHE = PREFIX + SHELL.build;

  /** @typedef {Event & { waitUntil(p: Promise<unknown>): void }} ExtendableEvent */
  /** @typedef {ExtendableEvent & { request: Request, respondWith(r: Promise<Response>): void }} FetchEvent */
  /** @typedef {ExtendableEvent & { data: unknown }} MessageEvent_ */
  const worker = /** @type {{ registration: ServiceWorkerRegistration, skipWaiting(): Promise<void>, clients: { claim(): Promise<void> }, addEventListener(type: string, f: (e: any) => void): void }} */ (
    /** @type {unknown} */ (self)
  );
  const scope = new URL(worker.registration.scope);

  /** Shell file path (relative to the scope) → its ETag, as the bridge served this build. */
  const files = new Map(SHELL.files);

  /**
   * The shell file a GET of `url` asks for, or null. A navigation to the scope itself or to
   * index.html (with any query: `?kiosk`, `?server=…`) is the page; other files only by their
   * exact path without a query.
   * @param {URL} url
   * @param {boolean} navigate
   */
  const shellKey = (url, navigate) => {
    if (url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) return null;
    const path = url.pathname.slice(scope.pathname.length);
    if (navigate) return path === '' || path === 'index.html' ? 'index.html' : null;
    return url.search === '' && files.has(path) ? path : null;
  };

  /** @param {string | null} etag */
  const strong = (etag) => (etag ?? '').replace(/^W\//, '');

  worker.addEventListener('install', (/** @type {ExtendableEvent} */ e) => {
    if (!SHELL.build) return;
    e.waitUntil(
      (async () => {
        const cache = await caches.open(CACHE);
        // Each file fresh from the bridge (revalidated, so unchanged files cost a 304), and the
        // one this build names: a bridge updated while this runs fails the install (the next
        // update check tries again) instead of mixing two versions in one cache.
        await Promise.all(
          [...files].map(async ([path, etag]) => {
            const url = new URL(path, scope);
            const r = await fetch(url, { cache: 'no-cache', credentials: 'same-origin', redirect: 'error' });
            const got = strong(r.headers.get('etag'));
            if (!r.ok || (got && got !== strong(etag))) throw new Error(`shell file ${path}: not this build`);
            await cache.put(url, r);
          }),
        );
      })(),
    );
  });

  worker.addEventListener('activate', (/** @type {ExtendableEvent} */ e) => {
    e.waitUntil(
      (async () => {
        // Only now, when this version is in charge: an older one's cache goes.
        for (const k of await caches.keys()) if (k.startsWith(PREFIX) && k !== CACHE) await caches.delete(k);
        // The first version takes the page that installed it (nothing older runs there); a
        // later one activates only when the user asked for it (see 'message').
        await worker.clients.claim();
      })(),
    );
  });

  worker.addEventListener('message', (/** @type {MessageEvent_} */ e) => {
    // The user clicked "Reload" on the offer (app-shell.js).
    if (e.data === 'take-over') void worker.skipWaiting();
  });

  worker.addEventListener('fetch', (/** @type {FetchEvent} */ e) => {
    const req = e.request;
    if (req.method !== 'GET' || !SHELL.build) return;
    const key = shellKey(new URL(req.url), req.mode === 'navigate');
    if (key === null) return; // not a shell file: the network, as without a worker
    e.respondWith(
      (async () => {
        const hit = await caches.match(new URL(key, scope), { cacheName: CACHE });
        // Not kept (the cache was cleared under us): the network, as without a worker.
        return hit ?? fetch(req);
      })(),
    );
  });
}
