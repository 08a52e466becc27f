// @ts-check
// Deleting and ending the session. POP3 deletes only at QUIT: a message is marked (DELE),
// struck through with an Undo (RSET, then the other marks again), listed in the marked bar,
// and deleted when the user confirms "Finish session" / "Log out". The result of QUIT is
// reported as it is. Offline, Delete removes the copy kept on this device instead.
// Also the one confirmation dialog, reused for every question.

import { h, nf, plural, delayedProgress, trapFocus } from './dom.js';

/**
 * @import { ShowError } from '../types.js'
 * @import { InboxController, QuitOutcome } from './controller.js'
 * @import { MessageList } from './message-list.js'
 * @import { Reader } from './reader.js'
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
 * @property {(text: string) => void} logoutLabel
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
 * @property {string} title
 * @property {(string | Node | (string | Node)[])[]} text
 * @property {string} confirmLabel
 * @property {boolean | undefined} [danger] default true
 */

export class Deletion {
  els = /** @type {DeletionEls} */ ({});
  #root; // the shadow root (where focus is)
  #c; // the controller
  #a; // { list, reader, inboxMessages, inboxProgress, showError, logout(), showCount(), logoutLabel(text) }

  /**
   * @param {ShadowRoot} root
   * @param {InboxController} controller
   * @param {DeletionActions} actions
   */
  constructor(root, controller, actions) {
    this.#root = root;
    this.#c = controller;
    this.#a = actions;
    const e = this.els;
    const id = (/** @type {string} */ s) => `p3-${s}`;
    // Announced when it changes: how many messages the session's end will delete.
    e.markedText = h('p', { role: 'status' });
    e.markedBar = h(
      'div',
      { class: 'marked-bar', hidden: true },
      e.markedText,
      h('button', { type: 'button', class: 'undo-all', text: 'Undo all', onclick: () => this.undoAll() }),
      h('button', { type: 'button', class: 'finish primary', text: 'Finish session', onclick: () => actions.logout() }),
    );
    e.dTitle = h('h2', { id: id('dialog-title') });
    e.dText = h('div', { id: id('dialog-text') });
    e.dConfirm = h('button', { type: 'submit', value: 'confirm', class: 'danger confirm' });
    e.dCancel = h('button', { type: 'submit', value: 'cancel', class: 'cancel', text: 'Cancel', autofocus: true });
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
    e.dTitle.textContent = title;
    e.dText.replaceChildren(...text.map((t) => h('p', {}, ...(Array.isArray(t) ? t : [t]))));
    e.dConfirm.textContent = confirmLabel;
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
    const ok = await this.confirm({
      title: 'Delete this message?',
      text: [
        ['“', h('strong', { text: it.subject || '(no subject)' }), '” will be marked for deletion.'],
        'It is deleted from the server only when you finish the session (Log out). Until then it stays on the server and you can undo.',
      ],
      confirmLabel: 'Mark for deletion',
    });
    if (!ok) return;
    try {
      await c.mark(it);
      this.#a.reader.forget(msg);
      if (this.#a.reader.openMsg === msg) this.#a.reader.close();
      this.updateMarked();
      this.#a.list.render();
    } catch (err) {
      this.#a.showError(this.#a.inboxMessages, err, 'Could not mark the message for deletion');
    }
  }

  /** @param {import('./controller.js').InboxItem} it */
  async #askDeleteLocal(it) {
    const c = this.#c;
    const ok = await this.confirm({
      title: 'Delete this message from this device?',
      text: [['“', h('strong', { text: it.subject || '(no subject)' }), '” will be deleted from this device. This cannot be undone.'], 'If it is still on the server, it stays there (unless this account deletes on the server what you delete here).'],
      confirmLabel: 'Delete from this device',
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
      this.#a.showError(this.#a.inboxMessages, err, 'Could not delete the message');
    }
  }

  /**
   * Un-marks one message (RSET, then the others are marked again).
   * @param {number} msg
   */
  async undo(msg) {
    const progress = delayedProgress(this.#a.inboxProgress, 'Undoing…');
    try {
      await this.#c.undo(msg);
    } catch (err) {
      this.#a.showError(this.#a.inboxMessages, err, 'Could not undo');
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
      this.#a.showError(this.#a.inboxMessages, err, 'Could not undo');
    }
    this.updateMarked();
    this.#a.list.render();
    this.#a.list.focus();
  }

  updateMarked() {
    const e = this.els;
    const n = this.#c.markedCount();
    e.markedBar.hidden = n === 0;
    e.markedText.textContent = `${plural(n, 'message', 'messages')} marked for deletion. ${n === 1 ? 'It is' : 'They are'} deleted from the server when you finish the session.`;
    this.#a.logoutLabel(n ? 'Finish session' : 'Log out');
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
      const ok = await this.confirm({
        title: `Delete ${plural(n, 'message', 'messages')} and ${reason === 'refresh' ? 'refresh' : 'log out'}?`,
        text: [
          `Ending the session deletes the ${plural(n, 'marked message', 'marked messages')} from the server. This cannot be undone.`,
          'To keep them, choose Cancel and then Undo.',
        ],
        confirmLabel: `Delete ${nf.format(n)} and ${reason === 'refresh' ? 'refresh' : 'log out'}`,
      });
      if (!ok) return null;
    }
    const progress = delayedProgress(this.#a.inboxProgress, 'Finishing the session…');
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
    slot.replaceChildren();
    if (r.committed) {
      const text = r.deleted ? `${plural(r.deleted, 'message', 'messages')} deleted on the server. You are logged out.` : 'You are logged out.';
      slot.append(h('p', { class: 'notice', role: 'status', text }));
    } else if (r.marked) {
      const err = r.error || { message: 'The server did not confirm the end of the session.' };
      this.#a.showError(slot, err, `The ${plural(r.marked, 'marked message was', 'marked messages were')} NOT deleted`);
    } else if (r.error) {
      // Nothing was marked, so nothing was lost; still say the session ended untidily.
      this.#a.showError(slot, r.error, 'The session did not end cleanly (nothing was deleted)');
    } else {
      slot.append(h('p', { class: 'notice', role: 'status', text: 'You are logged out.' }));
    }
  }
}
