// @ts-check
// Several accounts: the ones "remember" keeps in localStorage (server, port, security, user and
// fingerprint, never the password) and the ones with mail kept on this device (the store's
// `accountNames()`), listed on the sign-in screen. From the list the user signs in to one (the
// form is filled, the password is asked for), adds another (an empty form), reads one's kept
// mail offline, reads every account's kept mail together ("All inboxes"), or removes one (asked
// first; its kept mail is wiped and it is no longer remembered). Kiosk mode shows none of it and
// remembers nothing.

import { h, setText } from './dom.js';
import { accountId } from './controller.js';

export { accountId };

/**
 * @import { I18n } from '../i18n/index.js'
 * @import { RememberedAccount } from './account-form.js'
 * @import { ConfirmQuestion } from './deletion.js'
 */

/** localStorage: the remembered accounts (a JSON array of RememberedAccount). */
const LIST_KEY = 'pop3-inbox:accounts';

/**
 * An account's parts back from its store name (the user may contain "@", the server not).
 * @param {string} id
 * @returns {RememberedAccount}
 */
export function parseAccountId(id) {
  const at = id.lastIndexOf('@');
  const colon = id.lastIndexOf(':');
  if (at < 0 || colon < at) return { user: id };
  return { user: id.slice(0, at), server: id.slice(at + 1, colon), port: id.slice(colon + 1) };
}

/**
 * The remembered accounts (never a password: only what `rememberAccount` writes).
 * @returns {RememberedAccount[]}
 */
export function rememberedAccounts() {
  try {
    const v = JSON.parse(localStorage.getItem(LIST_KEY) || '[]');
    return Array.isArray(v) ? v.filter((a) => a && typeof a === 'object' && typeof a.server === 'string' && typeof a.user === 'string') : [];
  } catch {
    return []; // storage disabled or corrupt: nothing remembered
  }
}

/**
 * Adds or replaces `a` in the remembered accounts (best effort, like "remember" itself).
 * @param {RememberedAccount} a server, port, security, user, pin: never the password
 */
export function rememberAccount(a) {
  const { server, port, security, user, pin } = a;
  const entry = { server, port: String(port), security, user, ...(pin ? { pin } : {}) };
  const id = accountId(entry);
  const list = rememberedAccounts().filter((x) => accountId(x) !== id);
  try {
    localStorage.setItem(LIST_KEY, JSON.stringify([...list, entry]));
  } catch {
    /* storage unavailable: remembering is best effort */
  }
}

/**
 * No longer remembers the account `id`.
 * @param {string} id
 */
export function forgetAccount(id) {
  try {
    const list = rememberedAccounts().filter((x) => accountId(x) !== id);
    if (list.length) localStorage.setItem(LIST_KEY, JSON.stringify(list));
    else localStorage.removeItem(LIST_KEY);
  } catch {
    /* storage unavailable */
  }
}

/**
 * One entry of the list: its name, what is remembered of it (null: only kept mail), how many
 * messages are kept for it.
 * @typedef {{ id: string, remembered: RememberedAccount | null, kept: number }} AccountEntry
 */

/**
 * What the panel asks of the element.
 * @typedef {object} AccountsActions
 * @property {() => RememberedAccount[]} remembered the remembered accounts (none in kiosk mode)
 * @property {() => Promise<{ account: string, kept: number }[]>} kept the accounts with kept mail
 * @property {(a: RememberedAccount, remembered: boolean) => void} use fill the form with the account, ask for its password
 * @property {() => void} add an empty form, for another account
 * @property {(id: string) => void} openKept the account's kept mail, offline
 * @property {() => void} openAll every account's kept mail together
 * @property {(q: ConfirmQuestion) => Promise<boolean>} confirm the confirmation dialog
 * @property {(id: string) => Promise<void>} remove wipes the account's kept mail, forgets it
 */

export class AccountsPanel {
  /** @type {{ panel: HTMLElement, list: HTMLUListElement, allBtn: HTMLButtonElement, addBtn: HTMLButtonElement }} */
  els;
  #i18n;
  #a;
  /** @type {AccountEntry[]} */
  entries = [];
  #generation = 0; // refresh() calls that overlap: only the last one renders

  /**
   * @param {I18n} i18n
   * @param {AccountsActions} actions
   */
  constructor(i18n, actions) {
    this.#i18n = i18n;
    this.#a = actions;
    const t = i18n.t.bind(i18n);
    const list = h('ul', { class: 'account-list' });
    const allBtn = h('button', { type: 'button', class: 'all-inboxes', text: t('accounts.all'), hidden: true, onclick: () => actions.openAll() });
    const addBtn = h('button', { type: 'button', class: 'account-add', text: t('accounts.add'), onclick: () => actions.add() });
    const panel = h(
      'section',
      { class: 'card accounts', 'aria-labelledby': 'p3-accounts-title', hidden: true },
      h('h2', { id: 'p3-accounts-title', text: t('accounts.title') }),
      list,
      h('div', { class: 'account-actions' }, allBtn, addBtn),
    );
    this.els = { panel, list, allBtn, addBtn };
  }

  /**
   * Reads the accounts again and shows them (hidden when there are none, and in kiosk mode,
   * where `remembered` and `kept` answer nothing).
   */
  async refresh() {
    const gen = ++this.#generation;
    const remembered = this.#a.remembered();
    const kept = await this.#a.kept().catch(() => []);
    if (gen !== this.#generation) return;
    /** @type {Map<string, AccountEntry>} */
    const byId = new Map();
    for (const r of remembered) byId.set(accountId(r), { id: accountId(r), remembered: r, kept: 0 });
    for (const k of kept) {
      const e = byId.get(k.account) ?? { id: k.account, remembered: null, kept: 0 };
      e.kept = k.kept;
      byId.set(k.account, e);
    }
    this.entries = [...byId.values()];
    this.#render();
  }

  #render() {
    const t = this.#i18n.t.bind(this.#i18n);
    const e = this.els;
    e.list.replaceChildren(
      ...this.entries.map((a) => {
        const name = a.id;
        return h(
          'li',
          { class: 'account-entry', dataset: { account: a.id } },
          h('span', { class: 'account-name', text: name }),
          h('span', { class: 'account-kept', text: t('accounts.kept', { n: a.kept }) }),
          h('span', { class: 'account-buttons' },
            h('button', { type: 'button', class: 'account-use', text: t('accounts.use'), 'aria-label': t('accounts.useOf', { account: name }), onclick: () => this.#a.use(a.remembered ?? parseAccountId(a.id), !!a.remembered) }),
            a.kept ? h('button', { type: 'button', class: 'account-open', text: t('accounts.open'), 'aria-label': t('accounts.openOf', { account: name }), onclick: () => this.#a.openKept(a.id) }) : null,
            h('button', { type: 'button', class: 'account-remove', text: t('accounts.remove'), 'aria-label': t('accounts.removeOf', { account: name }), onclick: () => void this.#remove(a) }),
          ),
        );
      }),
    );
    e.panel.hidden = this.entries.length === 0;
    e.allBtn.hidden = !this.entries.some((a) => a.kept > 0);
    setText(e.allBtn, t('accounts.all'));
  }

  /**
   * Asks, then wipes the account's kept mail and forgets it. Cancel changes nothing.
   * @param {AccountEntry} a
   */
  async #remove(a) {
    const t = this.#i18n.t.bind(this.#i18n);
    const ok = await this.#a.confirm({
      title: t('accounts.removeTitle'),
      text: [t('accounts.removeText', { account: a.id }), t('accounts.removeKept', { n: a.kept }), t('accounts.removeServer')],
      confirmLabel: t('accounts.removeConfirm'),
    });
    if (!ok) return;
    await this.#a.remove(a.id);
    await this.refresh();
    this.els.addBtn.focus();
  }
}
