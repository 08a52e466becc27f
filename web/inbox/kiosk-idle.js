// @ts-check
// Kiosk mode's idle logout as the inbox shows it: the visible countdown with "Stay signed in"
// (the timing itself is kiosk.js). On a shared device a session must not outlive its user.

import { IdleLogout, clampIdleSeconds, DEFAULT_IDLE_SECONDS } from '../kiosk.js';
import { h } from './dom.js';

/** @import { I18n } from '../i18n/index.js' */

export class KioskIdle {
  /** @type {{ kioskCountdown: HTMLDivElement }} */
  els = /** @type {{ kioskCountdown: HTMLDivElement }} */ ({});
  #host; // the element: activity inside it counts, `kiosk-idle` sets the seconds
  #onTimeout;
  #maxSeconds; // the operator's ceiling (the bridge's kiosk_idle_secs), or null
  #i18n; // the element's language
  /** @type {IdleLogout | null} */
  #idle = null;

  /**
   * `maxSeconds()`: the idle time the operator set (the serving bridge's client config), or
   * null; the element's `kiosk-idle` (which a page URL may set) can only shorten it.
   * @param {HTMLElement} host
   * @param {I18n} i18n
   * @param {{ onTimeout: () => void, maxSeconds: () => number | null }} actions
   */
  constructor(host, i18n, { onTimeout, maxSeconds }) {
    this.#host = host;
    this.#i18n = i18n;
    this.#onTimeout = onTimeout;
    this.#maxSeconds = maxSeconds;
    this.els.kioskCountdown = h('div', { class: 'kiosk-countdown warning', role: 'alert', hidden: true });
  }

  /**
   * The idle time in seconds: `kiosk-idle` (default 300), never above the operator's
   * ceiling, within the sane range of kiosk.js (no timer overflow).
   */
  get seconds() {
    const attr = this.#host.getAttribute('kiosk-idle');
    const asked = attr === null || attr.trim() === '' ? DEFAULT_IDLE_SECONDS : clampIdleSeconds(Number(attr));
    const max = this.#maxSeconds();
    return clampIdleSeconds(max === null ? asked : Math.min(asked, clampIdleSeconds(max)));
  }

  /** Starts watching (kiosk mode only); a running watch starts over. */
  start() {
    this.stop();
    if (!this.#host.hasAttribute('kiosk')) return;
    const el = this.els.kioskCountdown;
    const secs = this.seconds;
    this.#idle = new IdleLogout(this.#host, {
      idleSeconds: secs,
      warnSeconds: Math.min(30, Math.max(5, Math.floor(secs / 4))),
      onTick: (left) => {
        el.hidden = left === null;
        if (left !== null) {
          const t = this.#i18n.t.bind(this.#i18n);
          el.replaceChildren(
            h('p', { text: t('kiosk.countdown', { n: left }) }),
            h('button', { type: 'button', class: 'stay primary', text: t('kiosk.stay'), onclick: () => this.#idle?.touch() }),
          );
        }
      },
      onTimeout: () => this.#onTimeout(),
    });
    this.#idle.start();
  }

  stop() {
    this.#idle?.stop();
    this.#idle = null;
  }
}
