// @ts-check
// The one module of small helpers the UI shares (the inbox's parts and message-view.js):
// the DOM builder, the dialogs' focus trap, the size / count / date formats and the delayed
// progress bar (the default bridge URL is the JS API's, web/pop3.js). Text, counts, dates and
// sizes come from the message catalog (../i18n/): `h` and `setText` accept its Msg values and
// keep them live for a language change.

import { Msg, bindText, bindAttr } from '../i18n/index.js';

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
    else if (k === 'text') setText(el, /** @type {string | Msg} */ (v));
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), /** @type {EventListener} */ (v));
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v instanceof Msg) bindAttr(el, k, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'string' || c instanceof Msg ? textNode(c) : c);
  }
  return el;
}

/**
 * A text node showing `value`; a catalog Msg stays live (re-rendered on a language change).
 * @param {string | Msg} value
 */
export function textNode(value) {
  const t = document.createTextNode('');
  bindText(t, value);
  return t;
}

/**
 * `el`'s text is `value` (as `textContent =`), kept live when it is a catalog Msg.
 * @param {Element} el
 * @param {string | Msg | null | undefined} value
 */
export function setText(el, value) {
  if (value instanceof Msg) el.replaceChildren(textNode(value));
  else el.textContent = value ?? '';
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

const PROGRESS_DELAY_MS = 300; // "longer than a moment": shorter work shows no progress bar

/**
 * @typedef {object} DelayedProgress
 * @property {(done: number, total: number, text?: string | Msg) => void} update
 * @property {() => void} done the work is over: the bar goes (or never shows)
 */

/**
 * A <progress> with text in `slot`, shown only if the work lasts longer than a moment.
 * @param {Element} slot
 * @param {string | Msg} label
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
      if (t) setText(text, t);
    },
    done() {
      clearTimeout(timer);
      if (shown && wrap.parentNode === slot) slot.replaceChildren();
    },
  };
}
