// @ts-check
// The message list: an ARIA grid with virtual scrolling (only the rows in and just around
// the viewport exist), the active row, and the keyboard. It reads the items from the
// controller and reports what the user asks for (open, delete, undo, close the reader).

import { displayName } from '../pop3.js';
import { h, setText } from './dom.js';

/**
 * @import { InboxController } from './controller.js'
 * @import { I18n } from '../i18n/index.js'
 */

/**
 * What the list asks of the element.
 * @typedef {object} ListActions
 * @property {(msg: number, options: { focus: boolean }) => void} open
 * @property {(msg: number) => void} askDelete
 * @property {(msg: number) => void} undo
 * @property {() => void} closeReader
 * @property {() => boolean} readerOpen
 * @property {() => boolean} countShown
 */

/** @typedef {{ body: HTMLDivElement, empty: HTMLParagraphElement, grid: HTMLDivElement }} ListEls */

const OVERSCAN = 6; // rows rendered above/below the viewport so fast scrolling shows no gaps

export class MessageList {
  els = /** @type {ListEls} */ ({});
  active = -1;
  #c; // the controller
  #host; // the element (its CSS gives the row height)
  #actions; // { open(msg, {focus}), askDelete(msg), undo(msg), closeReader(), readerOpen(), countShown() }
  #i18n; // the element's language: rows are rendered again (render()) when it changes
  /** @type {HTMLDivElement[]} */
  #rowPool = [];
  #renderQueued = false;
  #rowH = 0;

  /**
   * @param {HTMLElement} host
   * @param {InboxController} controller
   * @param {I18n} i18n
   * @param {ListActions} actions
   */
  constructor(host, controller, i18n, actions) {
    this.#host = host;
    this.#c = controller;
    this.#i18n = i18n;
    this.#actions = actions;
    const t = i18n.t.bind(i18n);
    const e = this.els;
    e.body = h('div', { class: 'body', role: 'rowgroup' });
    e.empty = h('p', { class: 'empty', hidden: true, text: t('list.empty') });
    e.grid = h(
      'div',
      { class: 'grid', role: 'grid', tabindex: 0, 'aria-label': t('list.label'), 'aria-readonly': 'true', 'aria-rowcount': 1, 'aria-colcount': 4 },
      h(
        'div',
        { class: 'head-group', role: 'rowgroup' },
        h(
          'div',
          { class: 'head cols', role: 'row', 'aria-rowindex': 1 },
          h('span', { role: 'columnheader', class: 'cell', text: t('list.from') }),
          h('span', { role: 'columnheader', class: 'cell', text: t('list.subject') }),
          h('span', { role: 'columnheader', class: 'cell', text: t('list.date') }),
          h('span', { role: 'columnheader', class: 'cell size', text: t('list.size') }),
        ),
      ),
      e.body,
      e.empty,
    );
    e.grid.addEventListener('keydown', (ev) => this.#onKey(ev));
    e.grid.addEventListener('scroll', () => this.queueRender(), { passive: true });
    e.grid.addEventListener('click', (ev) => this.#onClick(ev));
  }

  get activeItem() {
    return this.#c.itemAt(this.active);
  }

  /** The messages on screen (and just around it) whose headers are not loaded yet. */
  /**
   * @param {number} max
   * @returns {number[]}
   */
  visibleUnloaded(max) {
    const items = this.#c.items;
    const [first, last] = this.#visibleRange();
    const out = [];
    for (let i = first; i <= last && out.length < max; i++) if (items[i] && !items[i].loaded) out.push(items[i].msg);
    return out;
  }

  #rowHeight() {
    // Read from CSS so the touch (coarse pointer) size stays in one place.
    if (!this.#rowH) this.#rowH = parseFloat(getComputedStyle(this.#host).getPropertyValue('--row')) || 56;
    return this.#rowH;
  }

  #visibleRange() {
    const g = this.els.grid;
    const rh = this.#rowHeight();
    const top = Math.max(0, g.scrollTop - this.els.body.offsetTop);
    const first = Math.max(0, Math.floor(top / rh) - OVERSCAN);
    const last = Math.min(this.#c.items.length - 1, Math.ceil((top + g.clientHeight) / rh) + OVERSCAN);
    return [first, last];
  }

  queueRender() {
    if (this.#renderQueued) return;
    this.#renderQueued = true;
    requestAnimationFrame(() => {
      this.#renderQueued = false;
      this.render();
    });
  }

  /** Virtual scrolling: only the rows in (and just around) the viewport exist in the DOM. */
  render() {
    const e = this.els;
    const items = this.#c.items;
    const n = items.length;
    const rh = this.#rowHeight();
    e.body.style.height = `${n * rh}px`;
    e.grid.setAttribute('aria-rowcount', String(n + 1));
    e.empty.hidden = !(n === 0 && this.#c.session && !this.#c.loadAborted && this.#actions.countShown());
    // An empty search is not an empty inbox.
    if (!e.empty.hidden) setText(e.empty, this.#i18n.t(this.#c.filtered ? 'search.none' : 'list.empty'));
    const [first, last] = n ? this.#visibleRange() : [0, -1];
    const needed = Math.max(0, last - first + 1);
    while (this.#rowPool.length < needed) {
      const row = h(
        'div',
        { class: 'row cols', role: 'row' },
        h('span', { class: 'cell from', role: 'gridcell' }),
        h('span', { class: 'cell subject', role: 'gridcell' }),
        h('span', { class: 'cell date', role: 'gridcell' }),
        h('span', { class: 'cell size', role: 'gridcell' }),
      );
      this.#rowPool.push(row);
    }
    const rows = [];
    for (let k = 0; k < needed; k++) {
      const i = first + k;
      const it = items[i];
      const row = this.#rowPool[k];
      row.id = `row-${it.msg}`;
      row.dataset.index = String(i);
      row.dataset.msg = String(it.msg);
      row.setAttribute('aria-rowindex', String(i + 2));
      row.setAttribute('aria-selected', String(i === this.active));
      row.classList.toggle('active', i === this.active);
      row.classList.toggle('marked', it.marked);
      row.classList.toggle('loading', !it.loaded);
      row.classList.toggle('kept', it.kept === 'full');
      row.style.transform = `translateY(${i * rh}px)`;
      const [cFrom, cSubject, cDate, cSize] = /** @type {HTMLCollectionOf<HTMLSpanElement>} */ (row.children);
      // Plain strings: the rows are rendered again when the language changes.
      const tx = this.#i18n.text.bind(this.#i18n);
      const sender = it.loaded ? displayName(it.from) || tx('list.noSender') : tx('list.loading');
      if (it.account) {
        // "All inboxes": the row's account, as a badge (its user) and in full for screen readers.
        const badge = h('span', { class: 'account-badge', title: it.account }, h('span', { class: 'visually-hidden', text: tx('list.account', { account: it.account }) }), h('span', { 'aria-hidden': 'true', text: it.account.slice(0, it.account.lastIndexOf('@')) }));
        cFrom.replaceChildren(badge, ' ', sender);
      } else cFrom.textContent = sender;
      cFrom.title = it.from;
      cSubject.textContent = it.loaded ? it.subject || tx('list.noSubject') : '';
      cSubject.title = it.subject;
      cDate.textContent = this.#i18n.listDate(it.date);
      if (it.marked) {
        // Struck-through row with an Undo right where the size was.
        const undo = h('button', { type: 'button', class: 'undo', text: tx('list.undo'), 'aria-label': tx('list.undoOf', { subject: it.subject || tx('list.message') }), tabindex: -1, dataset: { undo: String(it.msg) } });
        cSize.replaceChildren(h('span', { class: 'visually-hidden', text: `${tx('list.marked')} ` }), undo);
      } else {
        cSize.textContent = this.#i18n.size(it.size);
        cSize.title = it.kept === 'full' ? tx('list.kept') : '';
      }
      rows.push(row);
    }
    e.body.replaceChildren(...rows);
    const act = items[this.active];
    // With an active row the row itself shows the focus ring; the grid's own ring would double it.
    e.grid.classList.toggle('has-active', !!act);
    if (act && e.body.querySelector(`#row-${act.msg}`)) e.grid.setAttribute('aria-activedescendant', `row-${act.msg}`);
    else e.grid.removeAttribute('aria-activedescendant');
  }

  /**
   * @param {number} i
   * @param {{ scroll?: boolean }} [options]
   */
  setActive(i, { scroll = true } = {}) {
    const n = this.#c.items.length;
    if (!n) return;
    this.active = Math.max(0, Math.min(n - 1, i));
    if (scroll) {
      const g = this.els.grid;
      const rh = this.#rowHeight();
      const off = this.els.body.offsetTop;
      const top = off + this.active * rh;
      const headH = off; // sticky header covers the top of the viewport
      if (top - headH < g.scrollTop) g.scrollTop = top - headH;
      else if (top + rh > g.scrollTop + g.clientHeight) g.scrollTop = top + rh - g.clientHeight;
    }
    this.render();
  }

  focus() {
    this.els.grid.focus();
  }

  /** @param {KeyboardEvent} ev */
  #onKey(ev) {
    const items = this.#c.items;
    const n = items.length;
    if (!n || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    const page = Math.max(1, Math.floor(this.els.grid.clientHeight / this.#rowHeight()) - 1);
    const a = this.active < 0 ? 0 : this.active;
    /** @type {Record<string, number>} */
    const moves = { ArrowDown: a + 1, ArrowUp: a - 1, PageDown: a + page, PageUp: a - page, Home: 0, End: n - 1 };
    if (ev.key in moves) {
      ev.preventDefault();
      this.setActive(moves[ev.key]);
    } else if (ev.key === 'Enter' || ev.key === ' ') {
      ev.preventDefault();
      this.#actions.open(items[a].msg, { focus: true });
    } else if (ev.key === 'Delete') {
      ev.preventDefault();
      const it = items[a];
      if (it.marked) this.#actions.undo(it.msg);
      else this.#actions.askDelete(it.msg);
    } else if (ev.key === 'Escape' && this.#actions.readerOpen()) {
      ev.preventDefault();
      this.#actions.closeReader();
    }
  }

  /** @param {MouseEvent} ev */
  #onClick(ev) {
    const target = /** @type {Element} */ (ev.target);
    const undo = /** @type {HTMLElement | null} */ (target.closest('[data-undo]'));
    if (undo) {
      ev.stopPropagation();
      this.#actions.undo(Number(undo.dataset.undo));
      return;
    }
    const row = /** @type {HTMLElement | null} */ (target.closest('.row'));
    if (!row) return;
    this.setActive(Number(row.dataset.index), { scroll: false });
    this.#actions.open(Number(row.dataset.msg), { focus: false });
  }
}
