// @ts-check
// The reading pane: headers as text, the body and attachments through message-view.js (the
// only code that renders message bodies), the Delete / Undo buttons, and a small cache of
// parsed messages for quick re-opening.

import { summarizeHeaders } from '../pop3.js';
import { headerSection } from '../sync.js';
import { showMessage, loadMime, formatAddresses, saveBytes, leafBlob } from '../message-view.js';
import { h, setText, delayedProgress } from './dom.js';

/** The most of a refused message's raw text the fallback view shows (characters). */
const RAW_TEXT_MAX = 1024 * 1024;

/**
 * @import { HeaderSummary, ShowError, ParsedMessage, MimeApi, MessagePart, OutlineLeaf, ErrorLike } from '../types.js'
 * @import { InboxController } from './controller.js'
 * @import { I18n } from '../i18n/index.js'
 */

/**
 * What the reader asks of the element (for the open message).
 * @typedef {object} ReaderActions
 * @property {(msg: number) => void} askDelete
 * @property {(msg: number) => void} undo
 * @property {() => void} backToList
 * @property {ShowError} showError
 */

/**
 * A downloaded message, parsed for the pane (and cached).
 * @typedef {object} ParsedView
 * @property {Uint8Array} bytes
 * @property {MimeApi | null} mime the reading module, when it parsed the message
 * @property {ParsedMessage | null} message its answer
 * @property {{ text: string, kind: 'plain' | 'empty' | 'no-plain' } | null} js the fallback: the raw text
 * @property {{ subject: string, from: string, to: string, cc: string, date: string }} head as text
 * @property {BigView | null} [big] a message too big to read whole: `bytes` is its outline
 */

/**
 * A big message's outline view (`#parseBig`): the message itself as a Blob, each marked part's
 * leaf (by part id), whether any part is shown only in part, and its size.
 * @typedef {object} BigView
 * @property {Blob} blob
 * @property {Map<string, OutlineLeaf>} leaves
 * @property {boolean} cut
 * @property {number} size
 */

/**
 * @typedef {object} ReaderEls
 * @property {HTMLHeadingElement} rSubject
 * @property {HTMLElement} rFrom
 * @property {HTMLElement} rTo
 * @property {HTMLElement} rCcTerm
 * @property {HTMLElement} rCc
 * @property {HTMLElement} rDate
 * @property {HTMLButtonElement} rDeleteBtn
 * @property {HTMLButtonElement} rUndoBtn
 * @property {HTMLParagraphElement} rMarkedNote
 * @property {HTMLDivElement} rMessages
 * @property {HTMLDivElement} rProgress
 * @property {HTMLParagraphElement} rNote
 * @property {HTMLDivElement} rBig a big message: only the start of its parts is shown
 * @property {HTMLDivElement} rHtml
 * @property {HTMLDivElement} rAttachments
 * @property {HTMLParagraphElement} rOffline
 * @property {HTMLDivElement} rSaveWarning kiosk mode: saving a file keeps it on this shared device
 * @property {HTMLElement} reader
 */

export class Reader {
  els = /** @type {ReaderEls} */ ({});
  #c; // the controller
  #actions; // { askDelete(msg), undo(msg), backToList(), showError(slot, err, title) }
  #i18n; // the element's language
  /** @type {number | null} */
  #openMsg = null;
  #failed = false; // the open message could not be read (the pane shows why)
  #readToken = 0;
  /** @type {Map<number, ParsedView>} */
  #parsed = new Map(); // small cache of parsed messages for quick re-opening
  /** @type {ReturnType<typeof showMessage> | null} */
  #view = null; // the open message's body view (message-view.js); holds its remote opt-in

  /**
   * @param {InboxController} controller
   * @param {I18n} i18n
   * @param {ReaderActions} actions
   */
  constructor(controller, i18n, actions) {
    this.#c = controller;
    this.#i18n = i18n;
    this.#actions = actions;
    const t = i18n.t.bind(i18n);
    const e = this.els;
    const id = (/** @type {string} */ s) => `p3-${s}`;
    e.rSubject = h('h2', { id: id('reader-subject'), tabindex: -1 });
    e.rFrom = h('dd');
    e.rTo = h('dd');
    e.rCcTerm = h('dt', { text: t('reader.cc'), hidden: true });
    e.rCc = h('dd', { hidden: true });
    e.rDate = h('dd');
    e.rDeleteBtn = h('button', { type: 'button', class: 'delete danger', text: t('reader.delete'), onclick: () => actions.askDelete(/** @type {number} */ (this.#openMsg)) });
    e.rUndoBtn = h('button', { type: 'button', class: 'undo', text: t('reader.undo'), hidden: true, onclick: () => actions.undo(/** @type {number} */ (this.#openMsg)) });
    e.rMarkedNote = h('p', { class: 'marked-note', hidden: true, text: t('reader.marked') });
    e.rMessages = h('div', { class: 'reader-messages' });
    e.rProgress = h('div', { class: 'progress-slot' });
    e.rNote = h('p', { class: 'message-note', hidden: true });
    e.rBig = h('div', { class: 'message-note big-message', role: 'status', hidden: true });
    // The body (sanitized HTML in a sandboxed frame, or plain text) and the attachments are
    // rendered by message-view.js, the only code that touches message bodies.
    e.rHtml = h('div', { class: 'message-html', hidden: true });
    e.rAttachments = h('div', { class: 'message-attachments', hidden: true });
    // Whether this message is kept on this device (the offline store).
    e.rOffline = h('p', { class: 'message-offline hint', hidden: true });
    // Kiosk mode: a saved file outlives the session (it is in the device's downloads, which
    // no logout can erase), so saving asks first and says so.
    e.rSaveWarning = h('div', { class: 'warning save-warning', role: 'alert', hidden: true });
    e.reader = h(
      'article',
      { class: 'reader', hidden: true, 'aria-labelledby': id('reader-subject') },
      h(
        'header',
        { class: 'reader-head' },
        h(
          'div',
          { class: 'reader-bar' },
          h('button', { type: 'button', class: 'back', text: t('reader.back'), 'aria-keyshortcuts': 'Escape', onclick: () => this.close() }),
          h('span', { class: 'spacer' }),
          e.rUndoBtn,
          e.rDeleteBtn,
        ),
        e.rSubject,
        h('dl', {}, h('dt', { text: t('reader.from') }), e.rFrom, h('dt', { text: t('reader.to') }), e.rTo, e.rCcTerm, e.rCc, h('dt', { text: t('reader.date') }), e.rDate),
        e.rMarkedNote,
      ),
      h('div', { class: 'reader-main' }, e.rMessages, e.rProgress, e.rNote, e.rBig, e.rSaveWarning, e.rAttachments, e.rHtml, e.rOffline),
    );
    e.reader.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') {
        ev.preventDefault();
        this.close();
      }
    });
  }

  get openMsg() {
    return this.#openMsg;
  }

  get isOpen() {
    return !this.els.reader.hidden;
  }

  /** A message is open and shown (or still coming), not an error in its place. */
  get isReading() {
    return this.isOpen && this.#openMsg !== null && !this.#failed;
  }

  /**
   * Forgets a parsed message (it was marked for deletion).
   * @param {number} msg
   */
  forget(msg) {
    this.#parsed.delete(msg);
  }

  clearCache() {
    this.#parsed.clear();
  }

  /**
   * @param {number} msg
   * @param {{ focus: boolean }} options
   */
  async open(msg, { focus }) {
    const e = this.els;
    const i = this.#c.indexOf(msg);
    if (i === undefined) return;
    const it = this.#c.itemAt(i);
    const token = ++this.#readToken;
    this.#openMsg = msg;
    this.#failed = false;
    e.reader.hidden = false;
    e.rMessages.replaceChildren();
    // Show what we already know from the list while the full message downloads.
    const i18n = this.#i18n;
    setText(e.rSubject, it.subject || i18n.t('list.noSubject'));
    e.rFrom.textContent = it.from;
    e.rTo.textContent = '';
    const listed = it.date;
    setText(e.rDate, listed ? i18n.lazy(() => i18n.longDate(listed)) : '');
    e.rCc.hidden = e.rCcTerm.hidden = true;
    this.#view?.destroy();
    this.#view = null;
    // An empty body while the message downloads (the view replaces it).
    e.rHtml.replaceChildren(h('pre', { class: 'message-body' }));
    e.rHtml.hidden = false;
    e.rNote.hidden = true;
    e.rBig.hidden = true;
    e.rBig.replaceChildren();
    this.updateMarked();
    if (focus) e.rSubject.focus();
    let parsed = this.#parsed.get(msg);
    if (!parsed) {
      const progress = delayedProgress(e.rProgress, i18n.t('reader.downloading', { size: i18n.lazy(() => i18n.size(it.size)) }));
      try {
        parsed = (await this.#parseBig(it)) ?? (await this.#parse(await this.#c.messageBytes(it)));
        if (this.#parsed.size > 20) this.#parsed.clear();
        // Cached under its number only while that number is still this message's: a list
        // replaced meanwhile (sign-in, sign-out) reuses numbers for other messages.
        if (this.#openMsg === msg) this.#parsed.set(msg, parsed);
      } catch (err) {
        if (token === this.#readToken) {
          this.#failed = true;
          this.#actions.showError(e.rMessages, err, i18n.t('error.open'));
        }
        return;
      } finally {
        progress.done();
      }
    }
    if (token !== this.#readToken) return; // the user opened another message meanwhile
    const head = parsed.head;
    setText(e.rSubject, head.subject || i18n.t('list.noSubject'));
    e.rFrom.textContent = head.from;
    e.rTo.textContent = head.to;
    e.rCc.textContent = head.cc;
    e.rCc.hidden = e.rCcTerm.hidden = !head.cc;
    const d = Date.parse(head.date);
    setText(e.rDate, Number.isNaN(d) ? head.date : i18n.lazy(() => i18n.longDate(new Date(d))));
    this.#view = showMessage(
      { body: e.rHtml, attachments: e.rAttachments },
      {
        bytes: parsed.bytes,
        message: parsed.message,
        text: parsed.js?.text,
        mime: parsed.mime,
        emptyNote: parsed.js?.kind === 'no-plain' ? '' : undefined,
        onSave: (data, name) => this.#save(data, name, parsed.mime),
        savePart: parsed.big ? bigSaver(parsed.big, /** @type {MimeApi} */ (parsed.mime)) : undefined,
        i18n,
        errorText: (err) => this.#c.errorText(/** @type {ErrorLike} */ (err)),
      },
    );
    const big = parsed.big;
    if (big?.cut) {
      // Only the start of its text (or of some part) is shown: say so, and offer it whole.
      e.rBig.replaceChildren(
        h('span', { text: i18n.t('reader.bigMessage', { size: i18n.lazy(() => i18n.size(big.size)) }) }),
        ' ',
        h('button', { type: 'button', class: 'save-whole', text: i18n.t('reader.saveWhole'), onclick: () => this.#save(big.blob, 'message.eml', parsed.mime) }),
      );
      e.rBig.hidden = false;
    }
    if (parsed.js && parsed.js.kind === 'no-plain') {
      // Only without the wasm MIME parser (a build without it): the JS parser finds text only.
      e.rNote.hidden = false;
      setText(e.rNote, i18n.t('reader.noPlainNoHtml'));
    }
    e.rOffline.hidden = !this.#c.store;
    setText(e.rOffline, i18n.t(it.kept === 'full' ? 'reader.kept' : 'reader.notKept'));
  }

  /**
   * Parses a downloaded message with the wasm MIME parser (HTML, attachments). A message it
   * refuses (over its limits, say), or a reading module that did not load, is still shown: the
   * raw body as text, with the headers from the client's own parser (pop3-headers). Header
   * values come out as plain strings, inserted with textContent.
   */
  /**
   * @param {Uint8Array} bytes
   * @returns {Promise<ParsedView>}
   */
  async #parse(bytes) {
    const mime = await loadMime();
    if (mime) {
      try {
        const m = await mime.parseMessage(bytes);
        return { bytes, mime, message: m, js: null, head: headOf(m) };
      } catch {
        /* a message the wasm parser rejects is still shown, as its raw text */
      }
    }
    const head = headerSection(bytes);
    const s = /** @type {HeaderSummary} */ (summarizeHeaders(head)); // (pkg's .d.ts says `object`)
    const body = bytes.subarray(head.length);
    // Text only, inserted as text; capped so a huge refused message cannot stall the page.
    const text = new TextDecoder('utf-8').decode(body.subarray(0, RAW_TEXT_MAX)) + (body.length > RAW_TEXT_MAX ? '\n[…]' : '');
    const js = /** @type {NonNullable<ParsedView['js']>} */ ({ text, kind: text.trim() ? 'plain' : 'empty' });
    return { bytes, mime: null, message: null, js, head: { subject: s.subject || '', from: s.from || '', to: s.to || '', cc: s.cc || '', date: s.dateText || '' } };
  }

  /**
   * A message too big to read whole (store.js's BIG_MESSAGE) is read in pieces into its
   * outline (the reading module's OutlineBuilder: every header section and the start of each
   * part): from this device, its checksum checked as it goes, or downloaded in pieces and
   * then kept (`readInPieces`). The outline is parsed as any message, and each of its parts
   * knows where its whole body lies, to be saved from the message itself. Null when the
   * message is not such a one, or without the reading module.
   * @param {import('./controller.js').InboxItem} it
   * @returns {Promise<ParsedView | null>}
   */
  async #parseBig(it) {
    const mime = await loadMime();
    const { OutlineBuilder, Sha256Stream } = mime ?? {};
    if (!mime || !OutlineBuilder || !Sha256Stream || !mime.PartDecoder) return null;
    // The marks of this outline: a header of that name in the message itself never matches.
    const nonce = [...crypto.getRandomValues(new Uint8Array(12))].map((b) => b.toString(16).padStart(2, '0')).join('');
    /** @type {{ builder: import('../types.js').OutlineBuilderApi | null }} */
    const cur = { builder: null };
    // A fresh outline each time the reading starts (again, when a damaged copy here is
    // downloaded instead).
    const begin = () => {
      cur.builder?.free();
      const b = new OutlineBuilder(nonce);
      cur.builder = b;
      return (/** @type {Uint8Array} */ piece) => b.feed(piece);
    };
    try {
      const blob = await this.#c.readInPieces(it, begin, () => new Sha256Stream());
      const o = blob && cur.builder?.finish();
      if (!blob || !o) return null;
      const message = mime.parseMessage(o.bytes);
      /** @type {Map<string, OutlineLeaf>} */
      const leaves = new Map();
      for (const p of message.parts) {
        const [n, index] = String(p.outline ?? '').split(' ');
        const leaf = n === nonce ? o.leaves[Number(index)] : undefined;
        if (!leaf) continue;
        leaves.set(p.id, leaf);
        p.size = leaf.size; // the whole part's, not its start's
      }
      return {
        bytes: o.bytes,
        mime,
        message,
        js: null,
        head: headOf(message),
        big: { blob, leaves, cut: o.cut, size: o.size },
      };
    } finally {
      cur.builder?.free();
    }
  }

  /**
   * Saves an attachment. In kiosk mode only after a warning: the file stays on this shared
   * device (its downloads folder) after logout, where the next user can open it.
   * @param {Uint8Array | Blob} data
   * @param {string} name
   * @param {MimeApi | null} mime
   */
  #save(data, name, mime) {
    const w = this.els.rSaveWarning;
    if (!this.#c.kiosk) {
      saveBytes(data, name, mime ?? undefined);
      return;
    }
    const close = () => {
      w.hidden = true;
      w.replaceChildren();
    };
    const t = this.#i18n.t.bind(this.#i18n);
    w.replaceChildren(
      h('p', {}, h('strong', { text: t('reader.sharedStrong') }), ' ', t('reader.sharedText', { name })),
      h('button', { type: 'button', class: 'save-anyway', text: t('reader.saveAnyway'), onclick: () => (close(), saveBytes(data, name, mime ?? undefined)) }),
      h('button', { type: 'button', class: 'save-cancel', text: t('dialog.cancel'), onclick: close }),
    );
    w.hidden = false;
    w.scrollIntoView?.({ block: 'nearest' });
  }

  close(focusList = true) {
    const e = this.els;
    this.#readToken++;
    e.rSaveWarning.hidden = true;
    e.rSaveWarning.replaceChildren();
    this.#openMsg = null;
    // Forget the view, and with it any "Load remote content" given to this message.
    this.#view?.destroy();
    this.#view = null;
    e.reader.hidden = true;
    if (focusList) this.#actions.backToList();
  }

  /**
   * Sign-in replaced the kept list under the open message: it stays on screen (a download or
   * parse under way still finishes), but has no number to delete or undo with until `rebind`
   * gives it the server's.
   */
  detach() {
    this.#openMsg = null;
    this.#parsed.clear();
    this.updateMarked();
  }

  /**
   * The detached message's number in the server's list.
   * @param {number} msg
   */
  rebind(msg) {
    this.#openMsg = msg;
    this.updateMarked();
  }

  /** Hidden without forgetting the open message (the list is shown again by the caller). */
  hide() {
    this.els.reader.hidden = true;
  }

  updateMarked() {
    const e = this.els;
    if (this.#openMsg === null) {
      // Detached (or closed): no number to delete or undo with.
      e.rDeleteBtn.hidden = e.rUndoBtn.hidden = e.rMarkedNote.hidden = true;
      return;
    }
    const it = this.#c.itemOf(this.#openMsg);
    const marked = !!it?.marked;
    e.rDeleteBtn.hidden = marked;
    e.rUndoBtn.hidden = !marked;
    e.rMarkedNote.hidden = !marked;
  }

  /** Kiosk wipe: nothing of the message stays in the pane. */
  wipe() {
    const e = this.els;
    this.#parsed.clear();
    this.#view?.destroy();
    this.#view = null;
    e.rHtml.replaceChildren();
    e.rAttachments.replaceChildren();
    e.rSaveWarning.replaceChildren();
    e.rSaveWarning.hidden = true;
    for (const el of [e.rSubject, e.rFrom, e.rTo, e.rCc, e.rDate]) el.textContent = '';
  }
}

/**
 * How a big message's parts are saved: a marked part from the message itself (its leaf),
 * decoded piece by piece; a part without a mark lies in a body the outline may have cut, and
 * is not offered on its own (the whole message is).
 * @param {BigView} big
 * @param {MimeApi} mime
 * @returns {(part: MessagePart) => (() => Promise<Blob>) | null}
 */
function bigSaver(big, mime) {
  return (part) => {
    const leaf = big.leaves.get(part.id);
    const decoder = mime.PartDecoder;
    return leaf && decoder ? () => leafBlob(big.blob, leaf, { PartDecoder: decoder }) : null;
  };
}

/**
 * The header fields the reader shows, as text, from the reading module's parse of a message
 * (or of a big one's outline, whose header section is the message's).
 * @param {ParsedMessage} m
 * @returns {ParsedView['head']}
 */
function headOf(m) {
  const str = (/** @type {unknown} */ v) => (v == null ? '' : String(v));
  return { subject: str(m.subject), from: formatAddresses(m.from), to: formatAddresses(m.to), cc: formatAddresses(m.cc), date: str(m.date) };
}
