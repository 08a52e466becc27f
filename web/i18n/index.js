// @ts-check
// The UI's one message catalog: every word <pop3-inbox> shows comes from a language module
// here (en.js, fr.js), looked up by key. Dates, numbers and sizes are formatted by Intl in the
// chosen locale; plurals are chosen by Intl.PluralRules.
//
// Text is kept live: `I18n#t()` returns a `Msg` (a deferred lookup), and the DOM builder
// (inbox/dom.js `h`, `setText`) remembers which text node or attribute shows which Msg. When
// the language changes, `relabel(root)` renders every remembered Msg again in place, so
// nothing is rebuilt and no state (typed values, focus, scroll) is lost.
//
// Adding a language: copy en.js to <code>.js, translate every value (keep each `{name}`
// placeholder and, for counts, the plural forms Intl.PluralRules gives that language), and add
// it to LANGUAGES below. tests/tests/ui_i18n.rs checks that every catalog has the same keys
// with the same placeholders.

import en from './en.js';
import fr from './fr.js';

/** @typedef {string | Readonly<Partial<Record<Intl.LDMLPluralRule, string>>>} Entry one text, or one per plural category (chosen by the `n` argument) */
/** @typedef {Readonly<Record<string, Entry>>} Catalog */
/** @typedef {string | number | Msg | null | undefined} Arg */
/** @typedef {Readonly<Record<string, Arg>>} Args */

/** The language the wasm and store layers write their error messages in. */
export const LAYER_LANG = 'en';

/** The languages the UI speaks: language code → catalog. The first is the fallback. */
export const LANGUAGES = /** @type {const} */ ({ en, fr });

/** @typedef {keyof typeof LANGUAGES} Lang */

/** A text rendered when it is shown, so it can be shown again in another language. */
export class Msg {
  #render;
  /** @param {() => string} render */
  constructor(render) {
    this.#render = render;
  }
  toString() {
    return this.#render();
  }
}

/**
 * The first of `prefs` (BCP 47 tags, most preferred first: `navigator.languages`, or a `lang`
 * attribute) the UI speaks, matched on the primary language ("fr-CA" → "fr"); else English.
 * @param {readonly (string | null | undefined)[]} prefs
 * @returns {Lang}
 */
export function pickLanguage(prefs) {
  for (const p of prefs) {
    const primary = String(p ?? '')
      .trim()
      .toLowerCase()
      .split(/[-_]/)[0];
    if (Object.hasOwn(LANGUAGES, primary)) return /** @type {Lang} */ (primary);
  }
  return 'en';
}

/** Text nodes showing a Msg, and attributes whose value is one (see `relabel`). */
const boundText = new WeakMap(); // Text → Msg
const boundAttrs = new WeakMap(); // Element → Map<attribute, Msg>

/**
 * `node` shows `value`; a Msg is remembered so `relabel` can render it again.
 * @param {Text} node
 * @param {string | Msg} value
 */
export function bindText(node, value) {
  node.data = String(value);
  if (value instanceof Msg) boundText.set(node, value);
  else boundText.delete(node);
}

/**
 * Sets attribute `name` of `el` to `value`, remembering a Msg (see `relabel`).
 * @param {Element} el
 * @param {string} name
 * @param {string | Msg} value
 */
export function bindAttr(el, name, value) {
  el.setAttribute(name, String(value));
  let m = boundAttrs.get(el);
  if (value instanceof Msg) {
    if (!m) boundAttrs.set(el, (m = new Map()));
    m.set(name, value);
  } else m?.delete(name);
}

/**
 * Every remembered text node and attribute under `root` rendered again (after a language
 * change). Plain strings (mail, user input) are never touched.
 * @param {Node} root
 */
export function relabel(root) {
  const doc = root.ownerDocument ?? /** @type {Document} */ (root);
  const walk = doc.createTreeWalker(root, 0x1 | 0x4); // elements and text
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    if (n.nodeType === 3) {
      const m = boundText.get(n);
      if (m) /** @type {Text} */ (n).data = String(m);
    } else {
      const attrs = boundAttrs.get(n);
      if (attrs) for (const [name, m] of attrs) /** @type {Element} */ (n).setAttribute(name, String(m));
    }
  }
}

const KB = 1024;
const MB = 1024 * 1024;

/** One element's language: its catalog and its Intl formats. */
export class I18n {
  /** @type {Lang} */
  lang = 'en';
  /** @type {Catalog} */
  #cat = LANGUAGES.en;
  /** @type {Map<string, Intl.NumberFormat | Intl.DateTimeFormat | Intl.PluralRules>} */
  #formats = new Map();

  /** @param {Lang} [lang] */
  constructor(lang = 'en') {
    this.lang = lang;
    this.#cat = LANGUAGES[lang];
  }

  /**
   * Switches the language; true when it changed.
   * @param {Lang} lang
   */
  set(lang) {
    if (lang === this.lang) return false;
    this.lang = lang;
    this.#cat = LANGUAGES[lang];
    this.#formats.clear();
    return true;
  }

  /**
   * A cached Intl object for this language.
   * @template T
   * @param {string} id
   * @param {() => T} make
   * @returns {T}
   */
  #fmt(id, make) {
    let f = this.#formats.get(id);
    if (!f) this.#formats.set(id, (f = /** @type {any} */ (make())));
    return /** @type {T} */ (f);
  }

  /**
   * The text of `key` with `{name}` placeholders filled from `args` (numbers formatted for the
   * language, a Msg rendered); an entry with plural forms is chosen by `args.n`.
   * @param {string} key
   * @param {Args} [args]
   * @returns {string}
   */
  text(key, args = {}) {
    let entry = this.#cat[key] ?? LANGUAGES.en[/** @type {keyof typeof en} */ (key)];
    if (entry === undefined) return key; // a missing key shows itself: the completeness test catches it
    if (typeof entry !== 'string') {
      const n = Number(args.n);
      const rules = this.#fmt('plural', () => new Intl.PluralRules(this.lang));
      entry = entry[rules.select(n)] ?? entry.other ?? '';
    }
    return entry.replace(/\{(\w+)\}/g, (all, name) => {
      const v = args[name];
      if (v === undefined || v === null) return all;
      return typeof v === 'number' ? this.number(v) : String(v);
    });
  }

  /**
   * Whether the catalog has `key`.
   * @param {string} key
   */
  has(key) {
    return Object.hasOwn(this.#cat, key);
  }

  /**
   * `text(key, args)`, rendered each time it is shown (see `relabel`).
   * @param {string} key
   * @param {Args} [args]
   */
  t(key, args) {
    return new Msg(() => this.text(key, args));
  }

  /**
   * Any text computed in the current language, rendered each time it is shown.
   * @param {() => string} render
   */
  lazy(render) {
    return new Msg(render);
  }

  /** @param {number} n */
  number(n) {
    return this.#fmt('number', () => new Intl.NumberFormat(this.lang)).format(n);
  }

  /**
   * A size in bytes as this language writes it ("12 KB", "2.4 MB"; "12 Ko", "2,4 Mo"): the
   * number by Intl, the unit from the catalog (Intl's own short units say "byte" and "kB").
   * '' when not a size.
   * @param {number} n
   */
  size(n) {
    if (!Number.isFinite(n) || n < 0) return '';
    const [key, value, digits] = n < KB ? ['size.bytes', n, 0] : n < MB ? ['size.kb', Math.round(n / KB), 0] : ['size.mb', n / MB, 1];
    const f = this.#fmt(`size-${digits}`, () => new Intl.NumberFormat(this.lang, { maximumFractionDigits: digits, minimumFractionDigits: digits }));
    return this.text(key, { size: f.format(value) });
  }

  /**
   * The list's date column: the time today, day and month this year, else with the year.
   * @param {Date | null | undefined} d
   */
  listDate(d) {
    if (!d) return '';
    const now = new Date();
    if (d.toDateString() === now.toDateString()) return this.#fmt('time', () => new Intl.DateTimeFormat(this.lang, { hour: '2-digit', minute: '2-digit' })).format(d);
    if (d.getFullYear() === now.getFullYear()) return this.#fmt('day', () => new Intl.DateTimeFormat(this.lang, { day: 'numeric', month: 'short' })).format(d);
    return this.#fmt('fullDay', () => new Intl.DateTimeFormat(this.lang, { day: 'numeric', month: 'short', year: 'numeric' })).format(d);
  }

  /**
   * A full date and time (the reader's header).
   * @param {Date} d
   */
  longDate(d) {
    return this.#fmt('long', () => new Intl.DateTimeFormat(this.lang, { dateStyle: 'full', timeStyle: 'short' })).format(d);
  }
}

/** English, for code that shows text outside an element (message-view.js used on its own). */
export const ENGLISH = new I18n('en');
