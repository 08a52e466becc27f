// @ts-check
// Kiosk mode's idle logout: on a shared device the session must not outlive its user.
//
// After `idleSeconds` without a key press, click, touch, wheel or scroll inside the element,
// `onTimeout` runs (the element logs out and wipes everything). During the last `warnSeconds`
// a visible countdown says so and offers to stay signed in; any activity also resets it.

const ACTIVITY = ['pointerdown', 'keydown', 'wheel', 'touchstart', 'scroll', 'input'];

/** The idle time is kept within these bounds (seconds): a timer never overflows. */
export const MIN_IDLE_SECONDS = 10;
export const MAX_IDLE_SECONDS = 24 * 3600;
export const DEFAULT_IDLE_SECONDS = 300;

/**
 * A usable idle time: `seconds` when it is a positive finite number, else the default,
 * within [MIN_IDLE_SECONDS, MAX_IDLE_SECONDS].
 * @param {number} seconds
 */
export function clampIdleSeconds(seconds) {
  const s = Number.isFinite(seconds) && seconds > 0 ? seconds : DEFAULT_IDLE_SECONDS;
  return Math.min(MAX_IDLE_SECONDS, Math.max(MIN_IDLE_SECONDS, Math.floor(s)));
}

export class IdleLogout {
  #target;
  #idleMs;
  #warnMs;
  #onTimeout;
  #onTick;
  #deadline = 0;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #timer = undefined;
  #running = false;
  #reset = () => this.touch();

  /**
   * target: where activity is watched (the element; events from its shadow DOM reach it).
   * onTick(secondsLeft | null): show the countdown (null hides it).
   * @param {EventTarget} target
   * @param {{ idleSeconds?: number, warnSeconds?: number, onTimeout?: () => void, onTick?: (secondsLeft: number | null) => void }} options
   */
  constructor(target, { idleSeconds = DEFAULT_IDLE_SECONDS, warnSeconds = 30, onTimeout, onTick }) {
    this.#target = target;
    const idle = clampIdleSeconds(idleSeconds);
    this.#idleMs = idle * 1000;
    this.#warnMs = Math.min(Math.max(5, Number.isFinite(warnSeconds) ? warnSeconds : 30), idle - 1) * 1000;
    this.#onTimeout = onTimeout;
    this.#onTick = onTick;
  }

  start() {
    if (this.#running) return;
    this.#running = true;
    for (const t of ACTIVITY) this.#target.addEventListener(t, this.#reset, { capture: true, passive: true });
    this.touch();
  }

  stop() {
    this.#running = false;
    for (const t of ACTIVITY) this.#target.removeEventListener(t, this.#reset, { capture: true });
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#onTick?.(null);
  }

  /** Activity: the countdown starts over. */
  touch() {
    if (!this.#running) return;
    this.#deadline = Date.now() + this.#idleMs;
    this.#onTick?.(null);
    this.#schedule();
  }

  /** Seconds until logout (for tests and the countdown). */
  get secondsLeft() {
    return Math.max(0, Math.ceil((this.#deadline - Date.now()) / 1000));
  }

  #schedule() {
    clearTimeout(this.#timer);
    const left = this.#deadline - Date.now();
    if (left <= 0) {
      this.stop();
      this.#onTimeout?.();
      return;
    }
    if (left <= this.#warnMs) this.#onTick?.(this.secondsLeft);
    // Wake at the warning point, then every second while the countdown shows. Timers are
    // clamped in background tabs, so each wake-up recomputes from the deadline.
    const next = left > this.#warnMs ? left - this.#warnMs : Math.min(1000, left);
    this.#timer = setTimeout(() => this.#schedule(), next);
  }
}
