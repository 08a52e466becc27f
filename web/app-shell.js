// @ts-check
// The stand-alone page as an installable app that opens with no network (index.html only; a
// page that embeds <pop3-inbox> decides for itself). It registers sw.js, which keeps the app's
// own files (never mail: that is store.js's, in IndexedDB), and offers a new version when one
// is ready instead of switching to it under the user.
//
// Kiosk mode (the `kiosk` attribute, `?kiosk`, or the serving bridge's `kiosk` setting) is a
// shared device: nothing is registered, and a worker and caches left by an earlier, non-kiosk
// visit of this origin are removed (they hold only the app's public files, so removing them
// loses nothing but the ability to open without network).

import { I18n, pickLanguage } from './i18n/index.js';

const el = document.querySelector('pop3-inbox');
const banner = /** @type {HTMLElement | null} */ (document.querySelector('.app-update'));

/**
 * Whether this page runs in kiosk mode: 'kiosk', 'normal', or 'unknown' when the serving
 * bridge's setting cannot be read (no network, or not served by a bridge). The element reads
 * the same /client-config.json (pop3-inbox.js, #loadBridgeConfig); the attribute is set
 * already when the page asked for kiosk mode (index.js runs before this module).
 * @returns {Promise<'kiosk' | 'normal' | 'unknown'>}
 */
async function kioskMode() {
  if (el?.hasAttribute('kiosk')) return 'kiosk';
  try {
    const r = await fetch(new URL('/client-config.json', location.href), { cache: 'no-store', credentials: 'same-origin' });
    if (!r.ok) return 'unknown';
    /** @type {unknown} */
    const c = await r.json();
    if (!c || typeof c !== 'object' || !('kiosk' in c) || typeof c.kiosk !== 'boolean') return 'unknown';
    return c.kiosk ? 'kiosk' : 'normal';
  } catch {
    return 'unknown';
  }
}

/** Kiosk mode: no worker and no cache of this origin stays on the device. */
async function forget() {
  for (const reg of await navigator.serviceWorker.getRegistrations()) await reg.unregister();
  if (globalThis.caches) for (const k of await caches.keys()) await caches.delete(k);
}

/** The user clicked "Reload": the page reloads once the new version is in charge. */
let asked = false;

/**
 * Shows the offer. A click lets the waiting version take over (sw.js skips waiting only on
 * this message) and reloads when it has; with no version waiting (another tab took it
 * already), it just reloads.
 * @param {ServiceWorkerRegistration} reg
 */
function offer(reg) {
  if (!banner || banner.childElementCount) return;
  // The page's language as the inbox chooses it: its `lang` attribute, else the browser's.
  const own = el?.getAttribute('lang');
  const i18n = new I18n(pickLanguage([own, ...navigator.languages]));
  banner.lang = i18n.lang;
  const text = document.createElement('span');
  text.textContent = i18n.text('shell.update');
  const button = document.createElement('button');
  button.type = 'button';
  button.textContent = i18n.text('shell.reload');
  button.addEventListener('click', () => {
    asked = true;
    button.disabled = true;
    if (reg.waiting) reg.waiting.postMessage('take-over');
    else location.reload();
  });
  // Filled in (not unhidden) so that screen readers announce the status region's new content.
  banner.replaceChildren(text, ' ', button);
}

/** @param {ServiceWorkerRegistration} reg */
function watch(reg) {
  const sw = navigator.serviceWorker;
  // Offered only over a running version: the first install has nothing to replace.
  let controlled = sw.controller !== null;
  if (reg.waiting && controlled) offer(reg); // installed during an earlier visit, not yet taken
  reg.addEventListener('updatefound', () => {
    const w = reg.installing;
    w?.addEventListener('statechange', () => {
      if (w.state === 'installed' && sw.controller) offer(reg);
    });
  });
  sw.addEventListener('controllerchange', () => {
    if (asked) location.reload();
    // Another tab took the new version: this page still runs the old one's code.
    else if (controlled) offer(reg);
    controlled = true;
  });
}

/**
 * What this page did: 'registered', 'kiosk' (nothing registered, leftovers removed),
 * 'offline' (the bridge's setting could not be read; a worker registered earlier serves on),
 * 'unknown' (the same with none registered), or 'unsupported'. Tests await it.
 * @returns {Promise<'registered' | 'kiosk' | 'offline' | 'unknown' | 'unsupported'>}
 */
async function start() {
  if (!('serviceWorker' in navigator)) return 'unsupported';
  const mode = await kioskMode();
  if (mode === 'kiosk') {
    await forget();
    return 'kiosk';
  }
  if (mode === 'unknown') {
    // Kiosk mode cannot be ruled out, so nothing new is registered; a worker already here
    // (this page may come from it, with the network gone) goes on serving and offering.
    const reg = await navigator.serviceWorker.getRegistration(new URL('./', import.meta.url));
    if (reg) watch(reg);
    return reg ? 'offline' : 'unknown';
  }
  // After the page has loaded: the worker's first install fetches every shell file, which
  // must not compete with the page's own start.
  if (document.readyState !== 'complete') await new Promise((resolve) => window.addEventListener('load', resolve, { once: true }));
  const reg = await navigator.serviceWorker.register(new URL('sw.js', import.meta.url), {
    scope: new URL('./', import.meta.url).pathname,
    // sw.js is the version: never taken from the HTTP cache when looking for a new one.
    updateViaCache: 'none',
  });
  watch(reg);
  // A new version is looked for on every visit (a navigation checks too; this covers a page
  // that stays open and is reloaded from the worker's cache).
  reg.update().catch(() => {});
  return 'registered';
}

export const settled = start().catch((/** @type {unknown} */ e) => {
  console.warn('app shell:', e);
  return /** @type {const} */ ('unknown');
});
