// @ts-check
// Kiosk mode's idle logout as the inbox shows it: the visible countdown with "Stay signed in"
// (the timing itself is kiosk.js). On a shared device a session must not outlive its user.

import { IdleLogout } from '../kiosk.js';
import { h } from './dom.js';

export class KioskIdle {
  /** @type {{ kioskCountdown: HTMLDivElement }} */
  els = /** @type {{ kioskCountdown: HTMLDivElement }} */ ({});
  #host; // the element: activity inside it counts, `kiosk-idle` sets the seconds
  #onTimeout;
  /** @type {IdleLogout | null} */
  #idle = null;

  /**
   * @param {HTMLElement} host
   * @param {{ onTimeout: () => void }} actions
   */
  constructor(host, { onTimeout }) {
    this.#host = host;
    this.#onTimeout = onTimeout;
    this.els.kioskCountdown = h('div', { class: 'kiosk-countdown warning', role: 'alert', hidden: true });
  }

  /** Starts watching (kiosk mode only); a running watch starts over. */
  start() {
    this.stop();
    if (!this.#host.hasAttribute('kiosk')) return;
    const el = this.els.kioskCountdown;
    const secs = Number(this.#host.getAttribute('kiosk-idle')) || 300;
    this.#idle = new IdleLogout(this.#host, {
      idleSeconds: secs,
      warnSeconds: Math.min(30, Math.max(5, Math.floor(secs / 4))),
      onTick: (left) => {
        el.hidden = left === null;
        if (left !== null) {
          el.replaceChildren(
            h('p', { text: `No activity: you will be logged out in ${left} ${left === 1 ? 'second' : 'seconds'} and everything shown here will be erased.` }),
            h('button', { type: 'button', class: 'stay primary', text: 'Stay signed in', onclick: () => this.#idle?.touch() }),
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
