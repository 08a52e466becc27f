// @ts-check
// New mail while the app is open (issue #17): a check on the interval the user chose, and one
// when the tab comes back to the foreground after a while; the count of new messages for the
// page (`pop3-newmail`, the title, the app badge); and, only once the user turned them on,
// desktop notifications with sender and subject (never body text).
//
// A check IS Refresh (`check()` is the element's Refresh): POP3 shows a snapshot taken at
// login, so new mail needs a new session. Refresh ends the session with QUIT, and QUIT
// commits the deletion marks, so a check runs only when `canCheck()` says no message is
// marked (nor the sync running, a dialog open, a message open: see the element). A check
// that cannot run now is not queued: the next tick (or the next return to the tab) asks again.
//
// No DOM here (tests drive it in node): the clock, the timers and the Notification API are
// injected; the element wires the events and shows the controls.

import { ENGLISH } from '../i18n/index.js';

/**
 * @import { InboxItem } from './controller.js'
 * @import { I18n } from '../i18n/index.js'
 */

/** The intervals the user can pick, in minutes (0: off). */
export const CHECK_MINUTES = [0, 1, 5, 15, 30];
/** The default when the user has not chosen (and the page did not set `check-interval`). */
export const DEFAULT_CHECK_SECONDS = 5 * 60;
/** The shortest interval, whatever `check-interval` says: each check is a new POP3 login. */
export const MIN_CHECK_SECONDS = 10;
/** Back in the foreground: a check when the last one is older than this. */
export const VISIBLE_AFTER_MS = 60_000;
/** More new messages than this in one check: one summary notification ("5 new messages"). */
export const NOTIFY_LIST_MAX = 3;

/**
 * The interval from the `check-interval` attribute (seconds): null when absent or not a
 * number, 0 for "0"/"off", else at least MIN_CHECK_SECONDS.
 * @param {string | null} attr
 * @returns {number | null}
 */
export function intervalFromAttr(attr) {
  if (attr == null || attr.trim() === '') return null;
  if (attr.trim() === 'off') return 0;
  const n = Number(attr);
  if (!Number.isFinite(n) || n < 0) return null;
  return n === 0 ? 0 : Math.max(MIN_CHECK_SECONDS, Math.round(n));
}

/**
 * What identifies a message across sessions: its UIDL, else the store's key. Without either
 * (a server without UIDL and no store) there is no identity that survives a new session, so
 * such a message is never called new (counting them would call every message new).
 * @param {Pick<InboxItem, 'uid' | 'key'>} it
 * @returns {string | null}
 */
export function identityOf(it) {
  if (it.uid) return `u:${it.uid}`;
  if (it.key) return `k:${it.key}`;
  return null;
}

/**
 * The messages of `items` not in `seen`, and `seen` grown by every identity of `items`.
 * The first list of the page session (`seen` null) is the baseline: nothing in it is new.
 * @template {Pick<InboxItem, 'uid' | 'key'>} T
 * @param {Set<string> | null} seen
 * @param {T[]} items
 * @returns {{ fresh: T[], seen: Set<string> }}
 */
export function newSince(seen, items) {
  const next = new Set(seen ?? []);
  /** @type {T[]} */
  const fresh = [];
  for (const it of items) {
    const id = identityOf(it);
    if (id == null) continue;
    if (seen && !seen.has(id)) fresh.push(it);
    next.add(id);
  }
  return { fresh, seen: next };
}

/**
 * What one notification of a check says: sender and subject only, never body text.
 * @param {Pick<InboxItem, 'from' | 'subject'>[]} fresh
 * @param {I18n} [i18n] the language (default English)
 * @returns {{ title: string, body: string } | null}
 */
export function notificationText(fresh, i18n = ENGLISH) {
  const n = fresh.length;
  const tx = i18n.text.bind(i18n);
  const subject = (/** @type {string} */ s) => s || tx('list.noSubject');
  if (!n) return null;
  if (n === 1) return { title: tx('notify.from', { from: fresh[0].from || tx('notify.unknownSender') }), body: subject(fresh[0].subject) };
  if (n > NOTIFY_LIST_MAX) return { title: tx('notify.count', { n }), body: '' };
  return { title: tx('notify.count', { n }), body: fresh.map((it) => tx('notify.line', { from: it.from || tx('notify.unknownSenderList'), subject: subject(it.subject) })).join('\n') };
}

/**
 * @typedef {object} NewMailOptions
 * @property {() => Promise<unknown>} check Refresh (a new session and its list)
 * @property {() => boolean} canCheck whether a check may run now (signed in, nothing marked, …)
 * @property {() => boolean} kiosk kiosk mode: no checks (Refresh would ask for the password), no notifications
 * @property {(count: number) => void} onCount the count of unseen new messages changed
 * @property {() => number} [now] the clock (ms)
 * @property {{ setInterval: (fn: () => void, ms: number) => unknown, clearInterval: (id: any) => void }} [timers]
 * @property {() => any} [notificationApi] the Notification constructor, or undefined where there is none
 * @property {() => boolean} [onScreen] whether the inbox is on screen now (default: the document
 *   is visible); then its list and count show new mail, and a notification would only repeat them
 * @property {I18n} [i18n] the notifications' language (default English)
 */

export class NewMail {
  #o;
  /** @type {any} the timers' handle (a number in browsers, an object in node) */
  #timer = null;
  #seconds = 0; // the interval in effect (0: off)
  /** @type {Promise<boolean> | null} */
  #running = null; // the check in progress: never two at once
  #lastCheck = 0; // when the last check (or the sign-in) happened
  /** @type {Set<string> | null} */
  #seen = null; // identities listed in this page session; null until the first list
  /** @type {Map<string, InboxItem>} new messages the user has not looked at yet, by identity */
  #unseen = new Map();
  /** @type {InboxItem[]} new messages of the last check waiting for their headers before the notification */
  #toNotify = [];
  #reported = 0; // the count onCount last said
  notify = false; // the user turned notifications on (and the browser granted them)

  /** @param {NewMailOptions} options */
  constructor(options) {
    this.#o = {
      now: () => Date.now(),
      timers: globalThis,
      notificationApi: () => /** @type {any} */ (globalThis).Notification,
      onScreen: () => globalThis.document?.visibilityState === 'visible',
      ...options,
    };
  }

  get seconds() {
    return this.#seconds;
  }

  get count() {
    return this.#unseen.size;
  }

  get running() {
    return !!this.#running;
  }

  /** Whether desktop notifications can be offered at all (never in kiosk mode). */
  get notificationsAvailable() {
    return !this.#o.kiosk() && typeof this.#o.notificationApi() === 'function';
  }

  /**
   * Checks every `seconds` (0: never). Restarts the timer; kiosk mode never checks.
   * @param {number} seconds
   */
  schedule(seconds) {
    this.stop();
    this.#seconds = this.#o.kiosk() ? 0 : Math.max(0, seconds);
    if (this.#seconds > 0) this.#timer = this.#o.timers.setInterval(() => void this.run('interval'), this.#seconds * 1000);
  }

  stop() {
    if (this.#timer != null) this.#o.timers.clearInterval(this.#timer);
    this.#timer = null;
  }

  /** A session started (sign-in or a check): the clock of "the last check" restarts. */
  started() {
    this.#lastCheck = this.#o.now();
  }

  /** The tab came back to the foreground: a check if the last one is old enough. */
  visible() {
    if (this.#seconds > 0 && this.#o.now() - this.#lastCheck >= VISIBLE_AFTER_MS) return this.run('visible');
    return Promise.resolve(false);
  }

  /**
   * One check, unless one runs or it may not run now. Resolves whether it ran.
   * @param {'interval' | 'visible'} _reason
   * @returns {Promise<boolean>}
   */
  run(_reason) {
    if (this.#running || this.#o.kiosk() || !this.#o.canCheck()) return this.#running ? this.#running.then(() => false) : Promise.resolve(false);
    this.#lastCheck = this.#o.now();
    const p = (async () => {
      try {
        await this.#o.check();
        return true;
      } catch {
        return true; // Refresh shows its own errors; the next tick tries again
      } finally {
        this.#running = null;
      }
    })();
    this.#running = p;
    return p;
  }

  /**
   * The server's list of a session (sign-in or check) is in: what is new since this page
   * session's first list joins the unseen count, and waits for its headers to be notified.
   * @param {InboxItem[]} items
   */
  listed(items) {
    const first = this.#seen == null;
    const { fresh, seen } = newSince(this.#seen, items);
    this.#seen = seen;
    // What left the server (deleted elsewhere) is no longer new here.
    const present = new Set(items.map(identityOf));
    for (const id of [...this.#unseen.keys()]) if (!present.has(id)) this.#unseen.delete(id);
    for (const it of fresh) this.#unseen.set(/** @type {string} */ (identityOf(it)), it);
    this.#toNotify = first ? [] : fresh;
    this.#report();
    this.headersLoaded();
  }

  /** Rows got their headers: once every new message of the last check has them, one notification. */
  headersLoaded() {
    if (!this.#toNotify.length || this.#toNotify.some((it) => !it.loaded)) return;
    const fresh = this.#toNotify;
    this.#toNotify = [];
    this.#notify(fresh);
  }

  /** @param {InboxItem[]} fresh */
  #notify(fresh) {
    // Only when the user is elsewhere (another tab, another window, minimized): a desktop
    // notification over the inbox the user is looking at would be noise.
    if (!this.notify || this.#o.kiosk() || this.#o.onScreen()) return;
    const N = this.#o.notificationApi();
    if (typeof N !== 'function' || N.permission !== 'granted') return;
    const text = notificationText(fresh, this.#o.i18n);
    if (!text) return;
    try {
      // One tag: a newer check's notification replaces the older one instead of piling up.
      const n = new N(text.title, { body: text.body, tag: 'pop3-newmail' });
      // A click brings the inbox's tab forward (the browser's default does nothing).
      n.onclick = () => /** @type {any} */ (globalThis).focus?.();
    } catch {
      /* some browsers allow notifications only from a service worker: none then */
    }
  }

  /**
   * The user looked at this message (opened it): it is no longer new.
   * @param {InboxItem | null} it
   */
  opened(it) {
    const id = it && identityOf(it);
    if (id && this.#unseen.delete(id)) this.#report();
  }

  /** The user used the inbox while it was on screen: every new message has been seen. */
  viewed() {
    this.#unseen.clear();
    this.#report();
  }

  /** The user asked for notifications (a click: browsers require one). Resolves whether they are on. */
  async enableNotifications() {
    const N = this.#o.notificationApi();
    if (this.#o.kiosk() || typeof N !== 'function') return (this.notify = false);
    const p = N.permission === 'granted' ? 'granted' : await N.requestPermission();
    return (this.notify = p === 'granted');
  }

  /** Signed out (or kiosk wipe): no checks, and nothing of this account stays. */
  reset() {
    this.stop();
    this.#seconds = 0;
    this.#seen = null;
    this.#unseen.clear();
    this.#toNotify = [];
    this.notify = false;
    this.#report();
  }

  /** Tells onCount the count, when it changed. */
  #report() {
    if (this.count === this.#reported) return;
    this.#reported = this.count;
    this.#o.onCount(this.count);
  }
}
