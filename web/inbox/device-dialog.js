// @ts-check
// "This device…": the account's policy (leave on server, delete once kept, after N days,
// mirror local deletions), the size limit, storage use, Export (mboxrd or .eml zip) and
// Import. Deleting policies need persistent storage, or the user's explicit consent.

import { requestPersistence, storageEstimate } from '../store.js';
import { h, setText, trapFocus } from './dom.js';

/**
 * @import { ShowError, SyncPolicy, PolicyMode } from '../types.js'
 * @import { InboxController } from './controller.js'
 * @import { I18n, Msg } from '../i18n/index.js'
 */

/**
 * @typedef {object} DeviceEls
 * @property {HTMLSelectElement} devMode
 * @property {HTMLInputElement} devDays
 * @property {HTMLInputElement} devLimit
 * @property {HTMLInputElement} devRisk
 * @property {HTMLDivElement} devRiskBox
 * @property {HTMLParagraphElement} devInfo
 * @property {HTMLDivElement} devMessages
 * @property {HTMLInputElement} devImport
 * @property {HTMLDialogElement} deviceDialog
 */

export class DeviceDialog {
  els = /** @type {DeviceEls} */ ({});
  #root; // the shadow root (the download link is put there for its click)
  #c; // the controller
  #a; // { showError(slot, err, title), syncNote(text) }
  #i18n; // the element's language

  /**
   * @param {ShadowRoot} root
   * @param {InboxController} controller
   * @param {I18n} i18n
   * @param {{ showError: ShowError, syncNote: (text: Msg) => void }} actions
   */
  constructor(root, controller, i18n, actions) {
    this.#root = root;
    this.#c = controller;
    this.#i18n = i18n;
    this.#a = actions;
    const t = i18n.t.bind(i18n);
    const e = this.els;
    const id = (/** @type {string} */ s) => `p3-dev-${s}`;
    e.devMode = h(
      'select',
      { id: id('mode'), name: 'mode' },
      h('option', { value: 'leave', text: t('device.modeLeave') }),
      h('option', { value: 'delete-after-download', text: t('device.modeDelete') }),
      h('option', { value: 'keep-days', text: t('device.modeDays') }),
      h('option', { value: 'mirror-local-deletes', text: t('device.modeMirror') }),
    );
    e.devDays = h('input', { id: id('days'), name: 'days', type: 'number', min: 1, max: 3650, value: 14 });
    e.devLimit = h('input', { id: id('limit'), name: 'limit', type: 'number', min: 0, step: 1, placeholder: t('device.noLimit') });
    e.devRisk = h('input', { type: 'checkbox', id: id('risk'), name: 'risk' });
    e.devRiskBox = h(
      'div',
      { class: 'warning', hidden: true },
      h('p', { text: t('device.risk') }),
      h('label', { class: 'check', for: id('risk') }, e.devRisk, h('span', { text: t('device.riskAccept') })),
    );
    e.devInfo = h('p', { class: 'hint' });
    e.devMessages = h('div', { class: 'form-messages' });
    e.devImport = h('input', { type: 'file', id: id('import'), name: 'import', accept: '.mbox,.zip,.eml,application/mbox,application/zip', hidden: true, onchange: () => this.#importArchive() });
    e.deviceDialog = h(
      'dialog',
      { class: 'device-dialog', 'aria-labelledby': id('title') },
      h(
        'form',
        { method: 'dialog', onsubmit: (ev) => this.#save(ev) },
        h('h2', { id: id('title'), text: t('device.title') }),
        e.devInfo,
        e.devMessages,
        h('label', { class: 'field', for: id('mode') }, h('span', { text: t('device.mode') }), e.devMode),
        h('label', { class: 'field', for: id('days') }, h('span', { text: t('device.days') }), e.devDays),
        h('label', { class: 'field', for: id('limit') }, h('span', { text: t('device.limit') }), e.devLimit),
        e.devRiskBox,
        h(
          'div',
          { class: 'dialog-actions' },
          h('button', { type: 'button', class: 'export-mbox', text: t('device.exportMbox'), onclick: () => this.#exportArchive('mbox') }),
          h('button', { type: 'button', class: 'export-zip', text: t('device.exportZip'), onclick: () => this.#exportArchive('zip') }),
          h('button', { type: 'button', class: 'import', text: t('device.import'), onclick: () => e.devImport.click() }),
          h('label', { class: 'visually-hidden', for: id('import') }, t('device.importLabel'), e.devImport),
        ),
        h('div', { class: 'dialog-actions' }, h('button', { type: 'submit', value: 'cancel', class: 'cancel', text: t('dialog.close'), formnovalidate: true }), h('button', { type: 'submit', value: 'save', class: 'primary save', text: t('dialog.save') })),
      ),
    );
    e.devMode.addEventListener('change', () => this.#riskUi());
    trapFocus(e.deviceDialog);
  }

  async #riskUi() {
    const e = this.els;
    const deletes = e.devMode.value !== 'leave';
    const persisted = deletes && this.#c.store?.kind === 'indexeddb' ? await requestPersistence() : true;
    e.devRiskBox.hidden = !deletes || persisted;
    e.devRisk.required = deletes && !persisted;
    e.devDays.disabled = e.devMode.value !== 'keep-days';
  }

  async open() {
    const e = this.els;
    if (!this.#c.store) return;
    const st = await this.#c.settings();
    e.devMode.value = st.policy.mode;
    e.devDays.value = String(st.policy.keepDays ?? 14);
    e.devLimit.value = String(st.policy.sizeLimit ? Math.round(st.policy.sizeLimit / 1048576) : '');
    e.devRisk.checked = !!st.riskAccepted;
    e.devMessages.replaceChildren();
    const est = await storageEstimate();
    const kept = this.#c.keptCount();
    const i18n = this.#i18n;
    const size = (/** @type {number} */ n) => i18n.lazy(() => i18n.size(n));
    const info = [i18n.t('device.kept', { n: kept }), ...(est ? [i18n.t('device.usage', { used: size(est.usage), quota: size(est.quota) })] : [])];
    setText(e.devInfo, i18n.lazy(() => info.join(' ')));
    await this.#riskUi();
    e.deviceDialog.showModal();
  }

  /** @param {SubmitEvent} ev */
  async #save(ev) {
    const e = this.els;
    if (/** @type {HTMLButtonElement | null} */ (ev.submitter)?.value !== 'save') return;
    const mode = /** @type {PolicyMode} */ (e.devMode.value);
    /** @type {SyncPolicy} */
    const policy = { mode };
    if (mode === 'keep-days') policy.keepDays = Math.max(1, Number(e.devDays.value) || 14);
    const mb = Number(e.devLimit.value);
    if (mb > 0) policy.sizeLimit = Math.round(mb * 1048576);
    try {
      await this.#c.saveSettings({ policy, riskAccepted: mode !== 'leave' && e.devRisk.checked });
      this.#a.syncNote(this.#i18n.t(mode === 'leave' ? 'device.savedLeave' : 'device.saved'));
    } catch (err) {
      ev.preventDefault();
      this.#a.showError(e.devMessages, err, this.#i18n.t('error.save'));
    }
  }

  /** @param {'mbox' | 'zip'} kind */
  async #exportArchive(kind) {
    const e = this.els;
    try {
      const { blob, name, count, damaged } = await this.#c.exportArchive(kind);
      // Octet-stream + download attribute: saved as a file, never opened by the browser.
      const url = URL.createObjectURL(blob);
      const a = h('a', { href: url, download: name, hidden: true });
      this.#root.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      const exported = h('p', { class: 'notice', role: 'status', text: this.#i18n.t('device.exported', { n: count, name }) });
      const left = damaged ? [h('p', { class: 'error', role: 'alert', text: this.#i18n.t('device.exportDamaged', { n: damaged }) })] : [];
      e.devMessages.replaceChildren(exported, ...left);
    } catch (err) {
      this.#a.showError(e.devMessages, err, this.#i18n.t('error.export'));
    }
  }

  async #importArchive() {
    const e = this.els;
    const file = e.devImport.files?.[0];
    e.devImport.value = '';
    if (!file) return;
    try {
      const got = await this.#c.importArchive(new Uint8Array(await file.arrayBuffer()));
      e.devMessages.replaceChildren(h('p', { class: 'notice', role: 'status', text: this.#i18n.lazy(() => `${this.#i18n.text('device.imported', { n: got.count, format: got.format })} ${this.#i18n.text('device.skipped', { n: got.skipped })}`) }));
    } catch (err) {
      this.#a.showError(e.devMessages, err, this.#i18n.t('error.import'));
    }
  }
}
