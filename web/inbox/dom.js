// @ts-check
// The one module of small helpers the UI shares (the inbox's parts and message-view.js):
// the DOM builder, the dialogs' focus trap, the size / count / date formats and the delayed
// progress bar (the default bridge URL is the JS API's, web/pop3.js). Nothing touches `document` or `location` at import time, so the DOM-free
// controller may import the text formats from here as well.

/** @import { ElementProps, ElementChild } from '../types.js' */

/**
 * Tiny DOM builder. Text children become text nodes, so data can never become markup.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {ElementProps} [props]
 * @param {...(ElementChild | ElementChild[])} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === false || v === null || v === undefined) continue;
    if (k === 'class') el.className = /** @type {string} */ (v);
    else if (k === 'text') el.textContent = /** @type {string} */ (v);
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), /** @type {EventListener} */ (v));
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return el;
}

/** What Tab can reach inside a dialog (then filtered: enabled and shown). */
const TABBABLE = 'button, input, select, textarea, a[href], summary, [tabindex]:not([tabindex="-1"])';

/**
 * Keeps Tab and Shift+Tab inside the modal `dialog`: from its last control to its first and
 * back. showModal() makes the page behind inert, but browsers still let Tab leave the dialog
 * for their own toolbar, and a keyboard user then has to find the way back.
 * @param {HTMLDialogElement} dialog
 */
export function trapFocus(dialog) {
  dialog.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Tab' || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    const all = /** @type {HTMLElement[]} */ ([...dialog.querySelectorAll(TABBABLE)]).filter(
      (el) => !(/** @type {HTMLButtonElement} */ (el).disabled) && el.getClientRects().length > 0,
    );
    if (!all.length) return;
    const root = /** @type {Document | ShadowRoot} */ (dialog.getRootNode());
    const at = all.indexOf(/** @type {HTMLElement} */ (root.activeElement));
    const [first, last] = [all[0], all[all.length - 1]];
    if (ev.shiftKey && at <= 0) {
      ev.preventDefault();
      last.focus();
    } else if (!ev.shiftKey && (at === -1 || at === all.length - 1)) {
      ev.preventDefault();
      first.focus();
    }
  });
}

export const nf = new Intl.NumberFormat();

/**
 * "1 message", "2 messages" (the number formatted for the reader's locale).
 * @param {number} n
 * @param {string} one
 * @param {string} many
 */
export function plural(n, one, many) {
  return `${nf.format(n)} ${n === 1 ? one : many}`;
}

/** @param {number} n bytes; '' when not a size */
export function formatSize(n) {
  if (!Number.isFinite(n) || n < 0) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });
const fullDayFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
export const longFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'short' });

/**
 * The list's date column: the time today, day and month this year, else with the year.
 * @param {Date | null | undefined} d
 */
export function formatListDate(d) {
  if (!d) return '';
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return timeFmt.format(d);
  if (d.getFullYear() === now.getFullYear()) return dayFmt.format(d);
  return fullDayFmt.format(d);
}

const PROGRESS_DELAY_MS = 300; // "longer than a moment": shorter work shows no progress bar

/**
 * @typedef {object} DelayedProgress
 * @property {(done: number, total: number, text?: string) => void} update
 * @property {() => void} done the work is over: the bar goes (or never shows)
 */

/**
 * A <progress> with text in `slot`, shown only if the work lasts longer than a moment.
 * @param {Element} slot
 * @param {string} label
 * @returns {DelayedProgress}
 */
export function delayedProgress(slot, label) {
  const bar = h('progress', { 'aria-label': label });
  const text = h('span', { text: label });
  const wrap = h('div', { class: 'progress' }, bar, text);
  let shown = false;
  const timer = setTimeout(() => {
    shown = true;
    slot.replaceChildren(wrap);
  }, PROGRESS_DELAY_MS);
  return {
    update(done, total, t) {
      bar.max = Math.max(1, total);
      bar.value = Math.min(done, total);
      if (t) text.textContent = t;
    },
    done() {
      clearTimeout(timer);
      if (shown && wrap.parentNode === slot) slot.replaceChildren();
    },
  };
}
