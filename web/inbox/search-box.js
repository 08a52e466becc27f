// @ts-check
// The search field of the inbox (issue #17, "Search"): a labelled search landmark that runs
// the query as the user types and hands the results to whoever filters the list. It knows
// nothing of the index: `search` is given (MailSearch.search of web/search.js), so the field
// works with any engine, and tests can drive it with their own.

import { h, setText } from './dom.js';
import { ENGLISH } from '../i18n/index.js';

/**
 * @import { SearchHit } from '../search.js'
 * @import { I18n, Msg } from '../i18n/index.js'
 */

/**
 * @typedef {object} SearchBoxOptions
 * @property {(query: string) => SearchHit[]} search runs a query (synchronous: the index is in memory)
 * @property {(hits: SearchHit[] | null, query: string) => void} onResults the results of what is
 *   typed now; null when the field is empty (show every message)
 * @property {number} [debounceMs] wait this long after a keystroke before searching (default 0:
 *   at once, the index answers within a frame); at most 30
 * @property {number} [announceMs] the count is announced (aria-live) once typing paused this
 *   long, so a screen reader is not flooded with one count per keystroke (default 400)
 * @property {I18n} [i18n] the language of its labels (default English)
 */

let ids = 0;

export class SearchBox {
  /** The `role=search` landmark to place in the page. */
  element;
  /** The field itself. */
  input;
  /** The live region that announces the number of results. */
  status;
  #opts;
  /** @type {ReturnType<typeof setTimeout> | null} */
  #timer = null;
  /** @type {ReturnType<typeof setTimeout> | null} */
  #announceTimer = null;

  /** @param {SearchBoxOptions} options */
  constructor(options) {
    const i18n = options.i18n ?? ENGLISH;
    this.#opts = { debounceMs: Math.min(Math.max(options.debounceMs ?? 0, 0), 30), announceMs: options.announceMs ?? 400, search: options.search, onResults: options.onResults, i18n };
    const t = i18n.t.bind(i18n);
    const id = `p3-search-${++ids}`;
    this.input = h('input', { id, type: 'search', name: 'q', autocomplete: 'off', spellcheck: 'false', placeholder: t('search.placeholder') });
    this.status = h('p', { class: 'visually-hidden search-status', 'aria-live': 'polite', 'aria-atomic': 'true' });
    this.element = h('form', { role: 'search', class: 'search', 'aria-label': t('search.label'), onsubmit: (/** @type {Event} */ e) => e.preventDefault() }, h('label', { for: id, class: 'visually-hidden', text: t('search.label') }), this.input, this.status);
    // (Escape empties a search field in Chromium and Firefox, with an `input` event.)
    this.input.addEventListener('input', () => this.#typed());
  }

  #typed() {
    if (this.#timer != null) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#opts.debounceMs > 0) this.#timer = setTimeout(() => this.run(), this.#opts.debounceMs);
    else this.run();
  }

  /** Searches what the field holds now and reports it (the field calls it as the user types). */
  run() {
    this.#timer = null;
    const query = this.input.value.trim();
    /** @type {SearchHit[] | null} */
    let hits = null;
    if (query) {
      try {
        hits = this.#opts.search(query);
      } catch (err) {
        // A broken index must not break the inbox: show everything, and say so.
        console.error('pop3 search failed', err);
        hits = null;
      }
    }
    this.#opts.onResults(hits, query);
    const t = this.#opts.i18n.t.bind(this.#opts.i18n);
    this.#announce(query ? (hits ? (hits.length ? t('search.found', { n: hits.length }) : t('search.none')) : t('search.unavailable')) : '');
  }

  /** @param {Msg | string} text */
  #announce(text) {
    if (this.#announceTimer != null) clearTimeout(this.#announceTimer);
    this.#announceTimer = setTimeout(() => {
      this.#announceTimer = null;
      setText(this.status, text);
    }, this.#opts.announceMs);
  }

  /** Empties the field: every message again. */
  clear() {
    this.input.value = '';
    this.run();
  }
}
