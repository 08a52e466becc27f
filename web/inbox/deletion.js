// @ts-check
// Deleting and ending the session. POP3 deletes only at QUIT: a message is marked (DELE),
// struck through with an Undo (RSET, then the other marks again), listed in the marked bar,
// and deleted when the user confirms "Finish session" / "Log out". The result of QUIT is
// reported as it is. Offline, Delete removes the copy kept on this device instead.
// Also the one confirmation dialog, reused for every question.

import { h, setText, delayedProgress, trapFocus } from './dom.js';

/**
 * @import { ShowError } from '../types.js'
 * @import { InboxController, QuitOutcome } from './controller.js'
 * @import { MessageList } from './message-list.js'
 * @import { Reader } from './reader.js'
 * @import { I18n, Msg } from '../i18n/index.js'
 */

/**
 * What deleting needs of the element and its other parts.
 * @typedef {object} DeletionActions
 * @property {MessageList} list
 * @property {Reader} reader
 * @property {HTMLElement} inboxMessages where errors show
 * @property {HTMLElement} inboxProgress where progress shows
 * @property {ShowError} showError
 * @property {() => void} logout
 * @property {() => void} showCount
 * @property {(text: Msg) => void} logoutLabel
 */

/**
 * @typedef {object} DeletionEls
 * @property {HTMLParagraphElement} markedText
 * @property {HTMLDivElement} markedBar
 * @property {HTMLHeadingElement} dTitle
 * @property {HTMLDivElement} dText
 * @property {HTMLButtonElement} dConfirm
 * @property {HTMLButtonElement} dCancel
 * @property {HTMLDialogElement} dialog
 */

/**
 * A question of the confirmation dialog: each `text` entry is a paragraph (a list: its pieces).
 * @typedef {object} ConfirmQuestion
 * @property {Msg} title
 * @property {(Msg | Node | (Msg | string | Node)[])[]} text
 * @property {Msg} confirmLabel
 * @property {boolean | undefined} [danger] default true
 */

export class Deletion {
  els = /** @type {DeletionEls} */ ({});
  #root; // the shadow root (where focus is)
  #c; // the controller
  #a; // { list, reader, inboxMessages, inboxProgress, showError, logout(), showCount(), logoutLabel(text) }
  #i18n; // the element's language

  /**
   * @param {ShadowRoot} root
   * @param {InboxController} controller
   * @param {I18n} i18n
   * @param {DeletionActions} actions
   */
  constructor(root, controller, i18n, actions) {
    this.#root = root;
    this.#c = controller;
    this.#i18n = i18n;
    this.#a = actions;
    const t = i18n.t.bind(i18n);
    const e = this.els;
    const id = (/** @type {string} */ s) => `p3-${s}`;
    // Announced when it changes: how many messages the session's end will delete.
    e.markedText = h('p', { role: 'status' });
    e.markedBar = h(
      'div',
      { class: 'marked-bar', hidden: true },
      e.markedText,
      h('button', { type: 'button', class: 'undo-all', text: t('marked.undoAll'), onclick: () => this.undoAll() }),
      h('button', { type: 'button', class: 'finish primary', text: t('marked.finish'), onclick: () => actions.logout() }),
    );
    e.dTitle = h('h2', { id: id('dialog-title') });
    e.dText = h('div', { id: id('dialog-text') });
    e.dConfirm = h('button', { type: 'submit', value: 'confirm', class: 'danger confirm' });
    e.dCancel = h('button', { type: 'submit', value: 'cancel', class: 'cancel', text: t('dialog.cancel'), autofocus: true });
    e.dialog = h(
      'dialog',
      { 'aria-labelledby': id('dialog-title'), 'aria-describedby': id('dialog-text') },
      h('form', { method: 'dialog' }, e.dTitle, e.dText, h('div', { class: 'dialog-actions' }, e.dCancel, e.dConfirm)),
    );
    trapFocus(e.dialog);
  }

  /**
   * Asks; resolves true when the user confirmed.
   * @param {ConfirmQuestion} question
   * @returns {Promise<boolean>}
   */
  confirm({ title, text, confirmLabel, danger = true }) {
    const e = this.els;
    setText(e.dTitle, title);
    e.dText.replaceChildren(...text.map((t) => h('p', {}, ...(Array.isArray(t) ? t : [t]))));
    setText(e.dConfirm, confirmLabel);
    e.dConfirm.className = `confirm ${danger ? 'danger' : 'primary'}`;
    e.dialog.returnValue = '';
    const opener = /** @type {HTMLElement | null} */ (this.#root.activeElement);
    return new Promise((resolve) => {
      e.dialog.addEventListener(
        'close',
        () => {
          resolve(e.dialog.returnValue === 'confirm');
          // Give focus back to where the user was (the list or the reader), unless it has
          // already moved on: the browser restores it itself on close, and 'close' comes a
          // task later, after a fast Shift+Tab may have taken it elsewhere.
          const now = this.#root.activeElement;
          const lost = now === null || now === opener || e.dialog.contains(now);
          if (lost && opener && opener.isConnected && !opener.closest('[hidden]')) opener.focus();
        },
        { once: true },
      );
      e.dialog.showModal();
      e.dCancel.focus(); // the safe choice is the default
    });
  }

  /** @param {number} msg */
  async askDelete(msg) {
    const c = this.#c;
    const i = c.indexOf(msg);
    if (i === undefined) return;
    const it = c.itemAt(i);
    if (c.offline) return this.#askDeleteLocal(it);
    if (!c.session) return;
    const t = this.#i18n.t.bind(this.#i18n);
    const ok = await this.confirm({
      title: t('delete.title'),
      text: [this.#withSubject('delete.text', it.subject), t('delete.when')],
      confirmLabel: t('delete.confirm'),
    });
    if (!ok) return;
    try {
      await c.mark(it);
      this.#a.reader.forget(msg);
      if (this.#a.reader.openMsg === msg) this.#a.reader.close();
      this.updateMarked();
      this.#a.list.render();
    } catch (err) {
      this.#a.showError(this.#a.inboxMessages, err, this.#i18n.t('error.mark'));
    }
  }

  /** @param {import('./controller.js').InboxItem} it */
  async #askDeleteLocal(it) {
    const c = this.#c;
    const t = this.#i18n.t.bind(this.#i18n);
    const ok = await this.confirm({
      title: t('deleteLocal.title'),
      text: [this.#withSubject('deleteLocal.text', it.subject), t('deleteLocal.server')],
      confirmLabel: t('deleteLocal.confirm'),
    });
    if (!ok || !c.store) return;
    try {
      await c.deleteLocal(it);
      if (this.#a.reader.openMsg === it.msg) this.#a.reader.close();
      c.removeItem(it);
      const list = this.#a.list;
      list.active = Math.min(list.active, c.items.length - 1);
      this.#a.showCount();
      list.render();
    } catch (err) {
      this.#a.showError(this.#a.inboxMessages, err, this.#i18n.t('error.deleteLocal'));
    }
  }

  /**
   * The catalog's sentence `key` with the message's subject in bold where its `{subject}` is
   * (the subject is mail: a text node, never markup).
   * @param {string} key
   * @param {string} subject
   * @returns {(Msg | Node)[]}
   */
  #withSubject(key, subject) {
    const i18n = this.#i18n;
    const side = (/** @type {0 | 1} */ k) => i18n.lazy(() => i18n.text(key).split('{subject}')[k] ?? '');
    return [side(0), h('strong', { text: subject || i18n.t('list.noSubject') }), side(1)];
  }

  /**
   * Un-marks one message (RSET, then the others are marked again).
   * @param {number} msg
   */
  async undo(msg) {
    const progress = delayedProgress(this.#a.inboxProgress, this.#i18n.t('marked.undoing'));
    try {
      await this.#c.undo(msg);
    } catch (err) {
      this.#a.showError(this.#a.inboxMessages, err, this.#i18n.t('error.undo'));
    } finally {
      progress.done();
      this.updateMarked();
      this.#a.list.render();
      if (!this.#a.reader.isOpen) this.#a.list.focus();
    }
  }

  async undoAll() {
    try {
      await this.#c.undoAll();
    } catch (err) {
      this.#a.showError(this.#a.inboxMessages, err, this.#i18n.t('error.undo'));
    }
    this.updateMarked();
    this.#a.list.render();
    this.#a.list.focus();
  }

  updateMarked() {
    const e = this.els;
    const n = this.#c.markedCount();
    e.markedBar.hidden = n === 0;
    setText(e.markedText, this.#i18n.t('marked.count', { n }));
    this.#a.logoutLabel(this.#i18n.t(n ? 'marked.finish' : 'inbox.logout'));
    this.#a.reader.updateMarked();
  }

  /**
   * Ends the session with QUIT (which commits deletions) after the user confirmed what it
   * deletes. Resolves null when the user cancelled, else { committed, deleted, error, marked }.
   * @param {{ reason: 'logout' | 'refresh' }} options
   * @returns {Promise<QuitOutcome | null>}
   */
  async endSession({ reason }) {
    // The background sync stops first, so the list below holds every deletion it made.
    await this.#c.stopSync();
    const n = this.#c.markedCount();
    if (n) {
      const t = this.#i18n.t.bind(this.#i18n);
      const refresh = reason === 'refresh';
      const ok = await this.confirm({
        title: t(refresh ? 'quit.titleRefresh' : 'quit.titleLogout', { n }),
        text: [t('quit.text', { n }), t('quit.keep')],
        confirmLabel: t(refresh ? 'quit.confirmRefresh' : 'quit.confirmLogout', { n }),
      });
      if (!ok) return null;
    }
    const progress = delayedProgress(this.#a.inboxProgress, this.#i18n.t('quit.finishing'));
    try {
      return await this.#c.quit(n);
    } finally {
      progress.done();
    }
  }

  /**
   * What QUIT did, truthfully: deleted, or NOT deleted with the reason.
   * @param {HTMLElement} slot
   * @param {QuitOutcome} r
   */
  resultMessages(slot, r) {
    const t = this.#i18n.t.bind(this.#i18n);
    slot.replaceChildren();
    if (r.committed) {
      const text = r.deleted ? t('quit.deleted', { n: r.deleted }) : t('quit.loggedOut');
      slot.append(h('p', { class: 'notice', role: 'status', text }));
    } else if (r.marked) {
      const err = r.error || { message: this.#i18n.text('quit.unconfirmed') };
      this.#a.showError(slot, err, t('quit.notDeleted', { n: r.marked }));
    } else if (r.error) {
      // Nothing was marked, so nothing was lost; still say the session ended untidily.
      this.#a.showError(slot, r.error, t('quit.unclean'));
    } else {
      slot.append(h('p', { class: 'notice', role: 'status', text: t('quit.loggedOut') }));
    }
  }
}
