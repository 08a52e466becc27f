// @ts-check
// <pop3-inbox>: a POP3 mail client as a custom element (no framework, no build step).
//
// Attributes (all optional):
//   bridge    WebSocket URL of the bridge; default ws(s)://<location.host>/pop3
//   server, port, security ("tls" | "stls" | "plain"), user   defaults for the account form
//   kiosk     boolean; shared device: nothing is remembered or stored (mail is kept in memory
//             only), mail stays on the server, and an idle session logs out by itself; hiding
//             the page or removing the element signs out (session and password forgotten);
//             the password is kept only for the login, so Refresh asks for it again
//   kiosk-idle seconds without activity before a kiosk session logs out (default 300; 10 s to
//             24 h; never more than the serving bridge's kioskIdleSeconds)
//   store     "on" (default; "off" with api="mock") | "memory" | "off": where mail is kept
//             (IndexedDB; this page's memory; not at all) — see docs/js-api.md, "Sync and export"
//   check-interval seconds between checks for new mail when the user has not chosen (default
//             300; "off" or 0: none; at least 10). The user's choice (toolbar) wins.
//   title-count boolean; the element is the page (the stand-alone app): it shows the count of new
//             messages in document.title ("(3) Mail") and the app badge, and the app's own
//             title ("Mail") in the UI's language. Embedded without it, only the
//             `pop3-newmail` event says it.
//   lang      the UI's language (a BCP 47 tag: "fr", "en-GB"); default: the first of the
//             browser's languages (navigator.languages) the UI speaks (web/i18n/), else English.
//             Changing it re-renders the text in place.
//   api       "mock" loads ./dev/mock-api.js instead of ./pop3.js (development and UI tests);
//             ignored where that module is not served (the bridge serves dev/ only with
//             dev_pages on)
//
// Events (bubbling, composed; details never contain the password):
//   pop3-connected  { server, port, security, user, tls }
//   pop3-logout     { committed, deleted }   deleted = messages deleted on the server
//   pop3-error      { code, message }
//   pop3-newmail    { count }   new messages since sign-in the user has not looked at yet
//
// This file is the element: it builds the screens from the parts in ./inbox/ and moves
// between them (sign-in, inbox, offline). The state lives in inbox/controller.js (no DOM);
// inbox/account-form.js, accounts.js (several accounts, "All inboxes"), message-list.js,
// reader.js, deletion.js, device-dialog.js and kiosk-idle.js each own their part of the shadow
// DOM; inbox/dom.js has the shared helpers.
//
// Security rule for all of them: every string that comes from the server or the bridge is
// inserted with textContent (or as an attribute value), never as markup.

import { CSS } from './pop3-inbox.css.js';
import { InboxController, errorKeys, groupOf } from './inbox/controller.js';
import { defaultBridgeUrl } from './pop3.js';
import { AccountForm } from './inbox/account-form.js';
import { MessageList } from './inbox/message-list.js';
import { SearchBox } from './inbox/search-box.js';
import { Reader } from './inbox/reader.js';
import { Deletion } from './inbox/deletion.js';
import { DeviceDialog } from './inbox/device-dialog.js';
import { KioskIdle } from './inbox/kiosk-idle.js';
import { AccountsPanel, accountId, parseAccountId } from './inbox/accounts.js';
import { NewMail, CHECK_MINUTES, DEFAULT_CHECK_SECONDS, intervalFromAttr } from './inbox/new-mail.js';
import { h, setText, delayedProgress } from './inbox/dom.js';
import { I18n, LANGUAGES, LAYER_LANG, pickLanguage, relabel } from './i18n/index.js';

/**
 * @import { ErrorLike, TlsInfo } from './types.js'
 * @import { AccountValues } from './inbox/account-form.js'
 * @import { AccountRef } from './inbox/controller.js'
 */

/**
 * The element's events (bubbling, composed) and their `detail`; never a password.
 * @typedef {object} Pop3InboxEvents
 * @property {{ server: string, port: number, security: string, user: string, tls: TlsInfo | null }} pop3-connected
 * @property {{ committed: boolean, deleted: number, idle?: boolean }} pop3-logout `deleted`: messages deleted on the server
 * @property {{ code: string, message: string }} pop3-error
 * @property {{ count: number }} pop3-newmail new messages the user has not looked at yet
 */

/**
 * The inbox screen's own elements (toolbar, status lines).
 * @typedef {object} InboxEls
 * @property {HTMLSpanElement} count
 * @property {HTMLButtonElement} refreshBtn
 * @property {HTMLButtonElement} logoutBtn
 * @property {HTMLButtonElement} deviceBtn
 * @property {HTMLButtonElement} switchBtn "Switch account": signs out, shows the accounts
 * @property {HTMLSelectElement} checkSelect how often to check for new mail
 * @property {HTMLLabelElement} checkLabel its label (visually hidden)
 * @property {HTMLButtonElement} notifyBtn "Notify me of new mail"
 * @property {HTMLParagraphElement} syncLine
 * @property {HTMLParagraphElement} status
 * @property {HTMLDivElement} inboxMessages
 * @property {HTMLDivElement} inboxProgress
 * @property {HTMLDivElement} inboxTop
 * @property {HTMLElement} inboxScreen
 */

/** How long the serving bridge's /client-config.json may take before sign-in fails closed (it
 * is retried at the next sign-in). */
const CONFIG_TIMEOUT_MS = 8000;

/**
 * Whether `code` is a certificate problem, from the client's own list of codes
 * (`errorCodes()`, the one definition). Before the client's wasm has loaded there is no
 * certificate error to show, so the answer is simply no.
 * @param {string | undefined} code
 */
function isCertificateError(code) {
  return groupOf(code) === 'certificate';
}

/** @type {CSSStyleSheet | null} */
let sheet = null;
/** @param {ShadowRoot} root */
function adoptStyles(root) {
  // Constructable stylesheet: CSP-friendly (no inline <style>) and shared by all instances.
  if ('adoptedStyleSheets' in root && typeof CSSStyleSheet === 'function' && 'replaceSync' in CSSStyleSheet.prototype) {
    if (!sheet) {
      sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
    }
    root.adoptedStyleSheets = [sheet];
  } else {
    const style = document.createElement('style');
    style.textContent = CSS;
    root.append(style);
  }
}

export class Pop3Inbox extends HTMLElement {
  static observedAttributes = ['server', 'port', 'security', 'user', 'kiosk', 'lang'];

  #root;
  #i18n = new I18n(pickLanguage(globalThis.navigator?.languages ?? [])); // this element's language (web/i18n/)
  #c; // the controller: session, list, store, sync
  /** @type {AccountForm} */
  #form; // the sign-in form
  /** @type {MessageList} */
  #list; // the virtual message list
  /** @type {Reader} */
  #reader; // the reading pane
  /** @type {Deletion} */
  #deletion; // marks, undo, QUIT, the confirmation dialog
  /** @type {DeviceDialog} */
  #device; // "This device…"
  /** @type {KioskIdle} */
  #idle; // kiosk mode's idle logout
  /** @type {AccountsPanel} */
  #accounts; // the accounts on this device (sign-in screen)
  /** @type {Promise<boolean> | null} */
  #bridgeConfig = null; // promise: the serving bridge's /client-config.json applied (false: it could not be read)
  /** @type {number | null} */
  #operatorIdle = null; // the serving bridge's kiosk idle time: a ceiling for `kiosk-idle`
  #els = /** @type {InboxEls} */ ({}); // the inbox screen's own elements (toolbar, status lines)
  /** @type {NewMail} */
  #newMail; // checks for new mail, counts it, notifies
  #refreshing = false; // a Refresh (the button's or a check's) is running
  #checkFailed = false; // the last automatic check could not sign in again: the old list stays, the next check retries
  /** @type {string | null} */
  #baseTitle = null; // document.title without the count (title-count)
  /** @type {string | null} */
  #reopen = null; // the store key of a kept message read while signing in: the reader stays on it

  constructor() {
    super();
    this.#root = this.attachShadow({ mode: 'open', delegatesFocus: false });
    adoptStyles(this.#root);
    this.#c = new InboxController({ attr: (name) => this.getAttribute(name), kiosk: () => this.kiosk, i18n: this.#i18n });
    this.#build();
    this.#listen();
    this.#applyLanguage();
  }

  /**
   * The UI's language: the `lang` attribute if the UI speaks it, else the first of the
   * browser's languages it speaks, else English. A `lang` the document or a parent element
   * sets is not followed: it says what language the page's own content is in (index.html says
   * "en"), not which one the user reads; the browser's languages say that. All text shown is
   * re-rendered in place, and the shadow content carries the language for screen readers.
   */
  #applyLanguage() {
    const own = this.getAttribute('lang');
    const lang = pickLanguage([own, ...(globalThis.navigator?.languages ?? [])]);
    const changed = this.#i18n.set(lang);
    for (const el of this.#root.children) if (el instanceof HTMLElement) el.lang = lang;
    if (changed) {
      relabel(this.#root);
      this.#list.render(); // rows are rebuilt from the list: their dates and sizes in the new format
    }
    this.#showTitle();
  }

  connectedCallback() {
    this.#applyLanguage();
    this.#form.applyDefaults();
    window.addEventListener('beforeunload', this.#onBeforeUnload);
    window.addEventListener('pagehide', this.#onPageHide);
    window.addEventListener('pageshow', this.#onPageShow);
    document.addEventListener('visibilitychange', this.#onVisibility);
    window.addEventListener('languagechange', this.#onLanguageChange);
    this.#bridgeConfig ??= this.#loadBridgeConfig();
    this.#offerOffline();
  }

  /**
   * The bridge that serves this page may impose kiosk mode (its operator's choice for shared
   * devices) and its idle time. Only adds restrictions: it can turn kiosk mode on, never off,
   * and its idle time is a ceiling that attributes and the page URL may only lower.
   *
   * Resolves false when the page talks to its own origin's bridge (no `bridge` attribute) and
   * that bridge's settings cannot be read: sign-in then fails closed, because mail must not be
   * kept on a device the operator may have declared shared.
   * @returns {Promise<boolean>}
   */
  async #loadBridgeConfig() {
    // Only a mock that really loaded skips it: where dev pages are not served, `api="mock"`
    // must not be a way around the operator's kiosk mode. With a `bridge` attribute the
    // embedding page (not a bridge) serves this element: its attributes decide.
    if (this.getAttribute('bridge') || (await this.#c.usesMock())) return true;
    try {
      // A network that silently drops packets would hold sign-in (and the offer to read kept
      // mail offline) for as long as TCP waits: a small same-origin file takes far less.
      const r = await fetch(new URL('/client-config.json', location.href), { cache: 'no-store', credentials: 'same-origin', signal: AbortSignal.timeout(CONFIG_TIMEOUT_MS) });
      if (!r.ok) return false;
      /** @type {unknown} */
      const c = await r.json();
      if (!c || typeof c !== 'object' || !('kiosk' in c) || typeof c.kiosk !== 'boolean') return false;
      const idle = 'kioskIdleSeconds' in c ? Number(c.kioskIdleSeconds) : NaN;
      this.#operatorIdle = Number.isFinite(idle) && idle > 0 ? idle : null;
      if (c.kiosk) this.setAttribute('kiosk', '');
      return true;
    } catch {
      return false; // network error or not JSON: fail closed
    }
  }

  // Kiosk: hiding the page (closing the tab, navigating away, entering the back/forward
  // cache) ends everything; nothing of this user may outlive it.
  #onPageHide = () => {
    if (this.kiosk) this.#wipe();
  };

  // A page restored from the back/forward cache shows the sign-in screen (pagehide wiped it;
  // this also covers a browser that skipped pagehide).
  #onPageShow = (/** @type {PageTransitionEvent} */ ev) => {
    if (ev.persisted && this.kiosk) this.#wipe();
  };

  // Closing the tab with marked messages ends the session without QUIT, so nothing is
  // deleted; ask first instead of letting the user believe they were.
  #onBeforeUnload = (/** @type {BeforeUnloadEvent} */ ev) => {
    if (this.#c.session && this.#c.markedCount() > 0) {
      ev.preventDefault();
      ev.returnValue = '';
    }
  };

  // The user changed the browser's languages: without a `lang` attribute, the text follows.
  #onLanguageChange = () => this.#applyLanguage();

  // Back in the foreground: check for new mail if the last check is old enough.
  #onVisibility = () => {
    if (document.visibilityState === 'visible') void this.#newMail.visible();
  };

  disconnectedCallback() {
    window.removeEventListener('beforeunload', this.#onBeforeUnload);
    window.removeEventListener('pagehide', this.#onPageHide);
    window.removeEventListener('pageshow', this.#onPageShow);
    document.removeEventListener('visibilitychange', this.#onVisibility);
    window.removeEventListener('languagechange', this.#onLanguageChange);
    this.#newMail.reset();
    // Leaving the page without QUIT: POP3 then discards deletion marks (nothing is deleted).
    this.#c.disconnect();
    this.#idle.stop();
    // Kiosk: removed (even if inserted again later) is signed out: no session, no password.
    if (this.kiosk) this.#wipe();
  }

  /** @param {string} name */
  attributeChangedCallback(name) {
    if (name === 'lang') this.#applyLanguage();
    else if (this.isConnected) this.#form.applyDefaults();
  }

  get kiosk() {
    return this.hasAttribute('kiosk');
  }

  /**
   * Where TLS to the mail server ends (connect()'s `endToEnd`): true (in this page, or fail),
   * 'prefer' (the default), false (at the bridge). Set by the embedding page.
   * @returns {boolean | 'require' | 'prefer' | undefined}
   */
  get endToEnd() {
    return this.#c.tls.endToEnd;
  }

  /** @param {boolean | 'require' | 'prefer' | undefined} v */
  set endToEnd(v) {
    this.#c.tls = { ...this.#c.tls, endToEnd: v };
  }

  /**
   * CAs (PEM) and SHA-256 pins this page trusts for TLS that ends in it (connect()'s
   * `tlsTrust`): the page's own configuration, never the bridge's.
   * @returns {import('./types.js').TlsTrust | undefined}
   */
  get tlsTrust() {
    return this.#c.tls.tlsTrust;
  }

  /** @param {import('./types.js').TlsTrust | undefined} v */
  set tlsTrust(v) {
    this.#c.tls = { ...this.#c.tls, tlsTrust: v };
  }

  // ------------------------------------------------------------------ building the DOM

  #build() {
    const e = this.#els;
    const i18n = this.#i18n;
    const t = i18n.t.bind(i18n);
    /** @type {import('./types.js').ShowError} */
    const showError = (slot, err, title) => this.#showError(slot, err, title);

    this.#form = new AccountForm(this, i18n, { onSubmit: (ev) => this.#onSubmit(ev), onOffline: () => this.#openOffline() });

    // --- Inbox: toolbar and status lines ---
    e.count = h('span', { class: 'count', 'aria-live': 'polite' });
    e.refreshBtn = h('button', { type: 'button', class: 'refresh', text: t('inbox.refresh'), onclick: () => void this.#refresh() });
    e.logoutBtn = h('button', { type: 'button', class: 'logout', text: t('inbox.logout'), onclick: () => this.#logout() });
    e.switchBtn = h('button', { type: 'button', class: 'switch-account', text: t('accounts.switch'), onclick: () => void this.#switchAccount() });
    e.deviceBtn = h('button', { type: 'button', class: 'device', text: t('inbox.device'), hidden: true, onclick: () => this.#device.open() });
    e.checkSelect = h(
      'select',
      { class: 'check-interval', id: 'p3-check-interval', name: 'check-interval', hidden: true, onchange: () => this.#chooseInterval() },
      ...CHECK_MINUTES.map((m) => h('option', { value: m * 60, text: m ? t('check.everyMinutes', { n: m }) : t('check.off') })),
    );
    e.checkLabel = h('label', { for: 'p3-check-interval', class: 'visually-hidden', text: t('check.label'), hidden: true });
    e.notifyBtn = h('button', { type: 'button', class: 'notify', text: t('notify.off'), 'aria-pressed': 'false', hidden: true, onclick: () => this.#toggleNotify() });
    e.syncLine = h('p', { class: 'syncline', role: 'status', hidden: true });
    e.status = h('p', { class: 'statusline', role: 'status' });
    e.inboxMessages = h('div', { class: 'inbox-messages' });
    e.inboxProgress = h('div', { class: 'progress-slot' });
    this.#idle = new KioskIdle(this, i18n, { onTimeout: () => this.#idleLogout(), maxSeconds: () => this.#operatorIdle });

    // --- The list, the reader, deleting ---
    this.#list = new MessageList(this, this.#c, i18n, {
      open: (msg, opts) => {
        this.#newMail.opened(this.#c.itemOf(msg));
        return this.#reader.open(msg, opts);
      },
      askDelete: (msg) => this.#deletion.askDelete(msg),
      undo: (msg) => this.#deletion.undo(msg),
      closeReader: () => this.#reader.close(),
      readerOpen: () => this.#reader.isOpen,
      countShown: () => !!e.count.textContent,
    });
    this.#reader = new Reader(this.#c, i18n, {
      askDelete: (msg) => this.#deletion.askDelete(msg),
      undo: (msg) => this.#deletion.undo(msg),
      backToList: () => {
        this.#list.focus();
        this.#list.setActive(this.#list.active);
      },
      showError,
    });
    this.#deletion = new Deletion(this.#root, this.#c, i18n, {
      list: this.#list,
      reader: this.#reader,
      inboxMessages: e.inboxMessages,
      inboxProgress: e.inboxProgress,
      showError,
      logout: () => this.#logout(),
      showCount: () => this.#showCount(),
      logoutLabel: (text) => setText(e.logoutBtn, text),
    });
    e.inboxTop = h('div', { class: 'inbox-messages' }, this.#deletion.els.markedBar, e.inboxProgress, e.inboxMessages);

    e.inboxScreen = h(
      'section',
      { class: 'screen inbox', hidden: true, 'aria-label': t('inbox.title') },
      h('header', { class: 'toolbar' }, h('div', { class: 'title' }, h('h1', { text: t('inbox.title') }), e.count), this.#searchBox().element, e.checkLabel, e.checkSelect, e.notifyBtn, e.deviceBtn, e.switchBtn, e.refreshBtn, e.logoutBtn),
      this.#idle.els.kioskCountdown,
      e.status,
      e.syncLine,
      e.inboxTop,
      h('div', { class: 'panes' }, h('div', { class: 'list-pane' }, this.#list.els.grid), this.#reader.els.reader),
    );

    // Using the inbox while it is on screen is looking at it: the new mail has been seen.
    const viewed = () => {
      if (document.visibilityState === 'visible') this.#newMail.viewed();
    };
    e.inboxScreen.addEventListener('pointerdown', viewed);
    e.inboxScreen.addEventListener('keydown', viewed);
    this.#newMail = new NewMail({
      check: () => this.#refresh({ auto: true }),
      canCheck: () => this.#canCheck(),
      kiosk: () => this.kiosk,
      onCount: (count) => this.#newCount(count),
      i18n,
    });

    this.#device = new DeviceDialog(this.#root, this.#c, i18n, { showError, syncNote: (text) => this.#syncNote(text) });
    this.#accounts = new AccountsPanel(i18n, {
      remembered: () => this.#form.rememberedList(),
      // Fail closed: where the bridge's settings could not be read (kiosk mode may be on), the
      // device's store is neither read nor created.
      kept: async () => ((await this.#bridgeConfig) ? this.#c.accountsKept() : []),
      use: (a, remembered) => this.#form.fillAccount(a, remembered),
      add: () => this.#form.fillAccount(null),
      openKept: (id) => void this.#openKept(id),
      openAll: () => void this.#openAll(),
      confirm: (q) => this.#deletion.confirm(q),
      remove: async (id) => {
        try {
          await this.#c.removeAccount(id);
        } catch (err) {
          this.#showError(this.#form.els.formMessages, err, this.#i18n.t('accounts.removeFailed'));
          return;
        }
        this.#form.forget(id);
        void this.#offerOffline();
      },
    });
    this.#form.els.loginScreen.prepend(this.#accounts.els.panel);
    this.#root.append(this.#form.els.loginScreen, e.inboxScreen, this.#deletion.els.dialog, this.#device.els.deviceDialog);
  }

  /** The search field (web/inbox/search-box.js): its results filter the list. */
  #searchBox() {
    const c = this.#c;
    const box = new SearchBox({
      i18n: this.#i18n,
      search: (q) => {
        // No index (nothing kept on this device, or it is still loading): the field says so.
        if (!c.search) throw new Error('no search index');
        return c.search.search(q);
      },
      onResults: (hits) => {
        c.setFilter(hits && new Set(hits.map((x) => x.key)));
        this.#list.active = c.items.length ? 0 : -1;
        if (this.#els.count.textContent) this.#showCount();
        this.#list.render();
      },
    });
    // All inboxes has no index (each account has its own): no field that can only say so.
    c.on('store', () => (box.element.hidden = c.allInboxes));
    // Mail kept, deleted or its body indexed after the query was typed: the results again.
    c.on('searchchanged', () => {
      if (box.input.value.trim()) box.run();
    });
    return box;
  }

  /** What the controller says changed, shown. */
  #listen() {
    const c = this.#c;
    c.on('items', ({ now }) => {
      if (now) this.#list.render();
      else this.#list.queueRender();
      this.#newMail.headersLoaded();
    });
    c.on('listed', () => {
      // Only a session's list: the mail kept on this device (offline) is not new mail.
      if (c.session) this.#newMail.listed(c.allItems);
      this.#list.active = c.items.length ? 0 : -1;
      const key = this.#reopen;
      this.#reopen = null;
      if (key !== null && this.#reader.isOpen) {
        // The message read while signing in, now under its number on the server. Not found
        // (gone from the server, or no UIDL to know it by): the reader closes, as it did
        // before the list came.
        const it = c.allItems.find((x) => x.key === key);
        if (!it) this.#reader.close(false);
        else {
          this.#reader.rebind(it.msg);
          const i = c.items.indexOf(it);
          if (i >= 0) this.#list.active = i;
        }
      }
      this.#showCount();
      this.#list.render();
    });
    c.on('marks', () => this.#deletion.updateMarked());
    c.on('syncnote', (text) => this.#syncNote(text));
    c.on('store', () => (this.#els.deviceBtn.hidden = !c.store || this.kiosk || c.allInboxes));
  }

  // ------------------------------------------------------------------ signing in

  /** @param {Event | null} ev the form's submit (none in kiosk mode: see AccountForm) */
  async #onSubmit(ev) {
    ev?.preventDefault();
    const form = this.#form;
    const f = form.els;
    // Kiosk mode, if the bridge imposes it, applies before sign-in. Settings that could not be
    // read are asked for once more; without them nobody signs in (fail closed).
    if (!(await this.#bridgeConfig)) this.#bridgeConfig = this.#loadBridgeConfig();
    if (!(await this.#bridgeConfig)) {
      this.#showError(
        f.formMessages,
        Object.assign(new Error(this.#i18n.text('error.clientConfig')), {
          code: 'client_config_unavailable',
        }),
        this.#i18n.t('error.signIn'),
      );
      return;
    }
    // A malformed certificate fingerprint shows its error under the field: nothing is sent.
    if (!form.checkPin() || !f.form.reportValidity()) return;
    const values = form.values();
    f.formMessages.replaceChildren();
    form.busy(true);
    const progress = delayedProgress(f.formProgress, this.#i18n.t('signin.connecting', { server: values.server }));
    // Mail kept on this device shows at once; the server's list replaces it once connected.
    const early = await this.#showKept(values, this.#i18n.t('signin.connectingKept', { server: values.server }));
    // Kiosk mode: the password lives in `values` only, for this sign-in (a failed one asks again);
    // the controller clears it there once the login has succeeded or failed.
    if (this.kiosk) f.password.value = '';
    try {
      await this.#open(values);
      form.saveRemembered(values);
      f.password.value = '';
      // A kept message the user opened while this connected stays open: the server's list
      // replaces the kept one under it.
      const reading = early && this.#reader.isReading ? this.#c.itemOf(this.#reader.openMsg)?.key : undefined;
      this.#showInbox({ reading });
    } catch (err) {
      if (early) {
        this.#showError(this.#els.inboxMessages, err, this.#i18n.t('error.signInKept'));
        return;
      }
      this.#showError(f.formMessages, err, this.#i18n.t('error.signIn'));
      // Return the user to where they can fix it.
      form.focusFor(/** @type {ErrorLike} */ (err)?.code);
    } finally {
      progress.done();
      form.busy(false);
      if (this.#c.session) f.formMessages.replaceChildren();
    }
  }

  /**
   * Connects with `values` and opens the store. Throws Pop3Error on failure.
   * @param {AccountValues} values
   */
  async #open(values) {
    const session = await this.#c.open(values, this.getAttribute('bridge') || defaultBridgeUrl());
    this.#emit('pop3-connected', { server: values.server, port: values.port, security: values.security, user: values.user, tls: session.tls ?? null });
  }

  // ------------------------------------------------------------------ inbox

  /**
   * @param {{ focus?: boolean, reading?: string | undefined }} [options] focus false: a check for new mail
   * leaves the focus where it is; reading: the key of the kept message the reader shows, which
   * stays open (the focus too) until the server's list names it
   */
  #showInbox({ focus = true, reading } = {}) {
    const e = this.#els;
    this.#form.els.loginScreen.hidden = true;
    e.inboxScreen.hidden = false;
    e.refreshBtn.hidden = false;
    e.switchBtn.hidden = this.kiosk; // a shared device has one account, remembered nowhere
    e.inboxMessages.replaceChildren();
    this.#syncNote('');
    this.#renderStatus();
    this.#reopen = reading ?? null;
    if (reading) this.#reader.detach();
    else this.#reader.close(false);
    this.#c.resetMailbox();
    this.#reader.clearCache();
    this.#list.active = -1;
    e.count.textContent = '';
    this.#deletion.updateMarked();
    this.#list.render();
    if (focus && !reading) this.#list.focus();
    this.#idle.start();
    this.#newMail.started();
    void this.#applyNewMail();
    this.#loadMailbox();
  }

  // ------------------------------------------------------------------ new mail (inbox/new-mail.js)

  /**
   * A check for new mail runs only when Refresh would disturb nothing: signed in with a
   * password kept (kiosk mode's Refresh asks for it, so kiosk mode never checks), no message
   * marked (Refresh's QUIT would delete marked messages, and those of a deleting policy: the
   * user confirms that with Refresh or Log out, never a timer), the list and the background
   * sync done (a new session would cut them short), no message open, no search shown, no
   * dialog open. Otherwise the next tick asks again.
   */
  #canCheck() {
    const c = this.#c;
    return (
      !this.#refreshing &&
      (!!c.session || this.#checkFailed) &&
      !c.offline &&
      c.canReconnect &&
      !this.#els.inboxScreen.hidden &&
      c.markedCount() === 0 &&
      !c.busy &&
      !c.filtered &&
      !this.#reader.isOpen &&
      !this.#deletion.els.dialog.open &&
      !this.#device.els.deviceDialog.open
    );
  }

  /** The account's saved choice (else `check-interval`, else 5 min) and its notification setting. */
  async #applyNewMail() {
    const e = this.#els;
    const saved = await this.#c.newMailSettings().catch(() => null);
    const fromAttr = intervalFromAttr(this.getAttribute('check-interval'));
    const seconds = saved?.seconds ?? fromAttr ?? DEFAULT_CHECK_SECONDS;
    // A page's interval that is none of the menu's (tests: 10 s) shows as its own option.
    if (![...e.checkSelect.options].some((o) => Number(o.value) === seconds)) {
      e.checkSelect.append(h('option', { value: seconds, text: this.#i18n.t('check.everySeconds', { n: seconds }) }));
    }
    e.checkSelect.value = String(seconds);
    // Kiosk mode never checks (Refresh there asks for the password): no control for it.
    e.checkSelect.hidden = e.checkLabel.hidden = this.kiosk;
    this.#newMail.notify = !!saved?.notify && globalThis.Notification?.permission === 'granted';
    this.#showNotify();
    if (this.#newMail.seconds !== seconds) this.#newMail.schedule(seconds);
  }

  async #chooseInterval() {
    const seconds = Number(this.#els.checkSelect.value) || 0;
    this.#newMail.schedule(seconds);
    await this.#c.saveNewMailSettings({ seconds, notify: this.#newMail.notify }).catch(() => {});
  }

  async #toggleNotify() {
    const on = this.#newMail.notify ? (this.#newMail.notify = false) : await this.#newMail.enableNotifications();
    if (!on && globalThis.Notification?.permission === 'denied') this.#syncNote(this.#i18n.t('notify.blocked'));
    this.#showNotify();
    await this.#c.saveNewMailSettings({ seconds: this.#newMail.seconds, notify: on }).catch(() => {});
  }

  /** The notification button: never in kiosk mode, nor where the browser has no notifications. */
  #showNotify() {
    const b = this.#els.notifyBtn;
    b.hidden = !this.#newMail.notificationsAvailable;
    b.setAttribute('aria-pressed', String(this.#newMail.notify));
    setText(b, this.#i18n.t(this.#newMail.notify ? 'notify.on' : 'notify.off'));
  }

  /**
   * The count of new messages: the `pop3-newmail` event always; with `title-count` (the
   * stand-alone app) also the page's title and the app badge, which belong to the page.
   * @param {number} count
   */
  #newCount(count) {
    this.#emit('pop3-newmail', { count });
    if (!this.hasAttribute('title-count')) return;
    this.#showTitle();
    const nav = /** @type {Navigator & { setAppBadge?: (n?: number) => Promise<void>, clearAppBadge?: () => Promise<void> }} */ (navigator);
    if (count) nav.setAppBadge?.(count).catch(() => {});
    else nav.clearAppBadge?.().catch(() => {});
  }

  /**
   * With `title-count`, the page's title: the count of new messages before it, and the app's
   * own title (English `app.title`, what index.html says) in the UI's language. A title the
   * page chose for itself is the page's and stays as it is.
   */
  #showTitle() {
    if (!this.hasAttribute('title-count')) return;
    this.#baseTitle ??= document.title.replace(/^\(\d+\) /, '');
    const base = this.#baseTitle === LANGUAGES.en['app.title'] ? this.#i18n.text('app.title') : this.#baseTitle;
    const count = this.#newMail.count;
    document.title = count ? `(${count}) ${base}` : base;
  }

  /** The header's count: every message, or while a search is active how many of them match. */
  #showCount() {
    const c = this.#c;
    const n = c.allItems.length;
    setText(this.#els.count, c.filtered ? this.#i18n.t('inbox.countOf', { shown: c.items.length, n }) : this.#i18n.t('inbox.count', { n }));
  }

  #renderStatus() {
    const s = /** @type {import('./types.js').Session} */ (this.#c.session);
    const c = /** @type {AccountValues} */ (this.#c.creds);
    const e = this.#els;
    const t = this.#i18n.t.bind(this.#i18n);
    /** @type {import('./i18n/index.js').Msg[]} the sentences after the badge */
    const said = [];
    let badge;
    const cipher = [s.tls?.version, s.tls?.cipher].filter(Boolean).join(', ');
    const encrypted = () => (cipher ? t('status.cipher', { cipher }) : t('status.encrypted'));
    if (s.tls && !s.insecure && s.endToEnd) {
      // TLS ends in this page: the bridge relays bytes it cannot decrypt.
      badge = h('span', { class: 'badge secure', text: t('status.e2eBadge') });
      said.push(t('status.e2e'), encrypted(), t(certificateKey(s.tls)));
    } else if (s.tls && !s.insecure) {
      // TLS ends at the bridge: whoever runs it could read the session.
      badge = h('span', { class: 'badge secure', text: t('status.bridgeBadge') });
      said.push(t('status.bridge'), encrypted(), t(certificateKey(s.tls)));
    } else {
      badge = h('span', { class: 'badge insecure', text: t('status.plainBadge') });
      said.push(t('status.plain'));
    }
    said.push(s.loginMethod ? t('status.signedInWith', { user: c.user, server: c.server, method: s.loginMethod }) : t('status.signedIn', { user: c.user, server: c.server }));
    e.status.replaceChildren(badge, h('span', { text: this.#i18n.lazy(() => said.join(' ')) }));
    e.status.classList.toggle('insecure', !s.tls || !!s.insecure);
  }

  async #loadMailbox() {
    const e = this.#els;
    const progress = delayedProgress(e.inboxProgress, this.#i18n.t('inbox.reading'));
    try {
      await this.#c.loadMailbox({ priority: (max) => this.#list.visibleUnloaded(max), progress });
    } catch (err) {
      this.#showError(e.inboxMessages, err, this.#i18n.t('error.load'));
      // No list came: a message kept open for it has no number to act on.
      if (this.#reopen !== null) {
        this.#reopen = null;
        this.#reader.close(false);
      }
    } finally {
      progress.done();
    }
  }

  // ------------------------------------------------------------------ logging out

  async #logout() {
    if (!this.#c.session) return this.#toLogin();
    const r = await this.#deletion.endSession({ reason: 'logout' });
    if (!r) return;
    this.#c.forgetCreds();
    this.#toLogin();
    this.#deletion.resultMessages(this.#form.els.formMessages, r);
    this.#emit('pop3-logout', { committed: r.committed, deleted: r.deleted });
  }

  /**
   * Another account: signs out as Log out does (marked messages are confirmed first, nothing
   * is deleted without it), then the sign-in screen lists the accounts; choosing one asks for
   * its password.
   */
  async #switchAccount() {
    await this.#logout();
    if (this.#form.els.loginScreen.hidden) return; // the user stayed (cancelled the question)
    await this.#accounts.refresh();
    const first = this.#accounts.els.panel.hidden ? null : this.#accounts.els.panel.querySelector('button');
    (first ?? this.#accounts.els.addBtn).focus();
  }

  /** @param {{ auto?: boolean }} [options] auto: a check for new mail (new-mail.js), not the button */
  async #refresh({ auto = false } = {}) {
    // One at a time: the button and a check for new mail both end up here.
    if (this.#refreshing) return;
    this.#refreshing = true;
    try {
      await this.#refreshOnce(auto);
    } finally {
      this.#refreshing = false;
    }
  }

  /** @param {boolean} auto */
  async #refreshOnce(auto) {
    // POP3 shows a snapshot of the mailbox taken at login; new mail needs a new session.
    // After a failed check there is none to end (the list shown is the last one).
    const creds = this.#c.creds;
    if (!creds || (!this.#c.session && !this.#checkFailed)) return;
    const r = this.#c.session ? await this.#deletion.endSession({ reason: 'refresh' }) : { committed: false, deleted: 0, error: null, marked: 0 };
    if (!r) return;
    const e = this.#els;
    const f = this.#form.els;
    if (!this.#c.canReconnect) {
      // Kiosk mode kept no password after sign-in: the new session needs it typed again. The
      // form shows the same account (server, user), the password field has the focus.
      const { server, port, security, user, allowInsecure, pin } = creds;
      this.#c.forgetCreds();
      this.#toLogin();
      this.#form.prefill({ server, port, security, user, allowInsecure, pin });
      this.#deletion.resultMessages(f.formMessages, r);
      f.formMessages.append(h('p', { class: 'notice', role: 'status', text: this.#i18n.t('signin.again') }));
      f.password.focus({ preventScroll: true });
      this.#emit('pop3-logout', { committed: r.committed, deleted: r.deleted });
      return;
    }
    try {
      await this.#open(creds);
      this.#checkFailed = false;
      this.#showInbox({ focus: !auto });
      if (r.marked || r.error) this.#deletion.resultMessages(e.inboxMessages, r);
    } catch (err) {
      if (auto) {
        // A check nobody asked for right now (the bridge or the network is down): the user
        // stays where they are, with the list they had (kept messages still open), and is
        // told; the next check tries again. Refresh and Log out still work as always.
        this.#checkFailed = true;
        this.#syncNote(this.#i18n.t('check.failed', { error: this.#c.errorText(/** @type {ErrorLike} */ (err)) }));
        e.syncLine.classList.add('check-failed');
        return;
      }
      this.#checkFailed = false;
      this.#c.forgetCreds();
      this.#toLogin();
      this.#deletion.resultMessages(f.formMessages, r);
      this.#showError(f.formMessages, err, this.#i18n.t('error.reconnect'));
    }
  }

  #toLogin() {
    const e = this.#els;
    this.#checkFailed = false;
    this.#c.leave();
    this.#idle.stop();
    e.syncLine.hidden = true;
    if (this.kiosk) this.#wipe();
    this.#showLogin();
    this.#form.focusFirst();
  }

  /** The sign-in screen instead of the inbox (what the inbox showed goes). */
  #showLogin() {
    const e = this.#els;
    const f = this.#form.els;
    this.#newMail.reset();
    this.#c.closeStore();
    this.#offerOffline();
    this.#c.clearItems();
    this.#reader.clearCache();
    e.count.textContent = '';
    e.inboxScreen.hidden = true;
    f.loginScreen.hidden = false;
    this.#reader.hide();
    e.inboxMessages.replaceChildren();
    f.password.value = '';
  }

  async #idleLogout() {
    // Nobody is there to answer a dialog: leave-on-server means QUIT deletes only what the
    // user marked, so end without QUIT instead (POP3 then deletes nothing).
    this.#c.drop();
    this.#toLogin();
    this.#form.els.formMessages.replaceChildren(h('p', { class: 'notice', role: 'status', text: this.#i18n.t('signin.idle') }));
    this.#emit('pop3-logout', { committed: false, deleted: 0, idle: true });
  }

  /**
   * Kiosk mode, on every logout, page hide (tab close, navigation, back/forward cache) and
   * removal of the element: every trace of the user this page holds goes. The session ends
   * without QUIT (nothing is deleted), the password and the session are forgotten (so Refresh
   * cannot sign anyone in again), the idle timer stops, dialogs close, the status line is
   * cleared and the sign-in screen shows.
   */
  #wipe() {
    const e = this.#els;
    const f = this.#form.els;
    this.#c.drop(); // no QUIT; forgets the session and the credentials
    this.#idle.stop();
    this.#c.wipe(); // the memory store forgets everything on close
    this.#reader.wipe();
    for (const d of [this.#deletion.els.dialog, this.#device.els.deviceDialog]) if (d.open) d.close();
    f.password.value = '';
    f.user.value = this.getAttribute('user') ?? '';
    f.formMessages.replaceChildren();
    this.#list.els.body.replaceChildren();
    for (const el of [e.count, e.syncLine]) el.textContent = '';
    e.syncLine.hidden = true;
    e.status.replaceChildren();
    e.status.classList.remove('insecure');
    this.#showLogin();
  }

  // ------------------------------------------------------------------ reading what is kept, without a connection

  async #offerOffline() {
    const btn = this.#form.els.offlineBtn;
    btn.hidden = true;
    await this.#bridgeConfig;
    // The accounts list too, once kiosk mode is known (it shows none there).
    void this.#accounts.refresh();
    const r = this.#form.loadRemembered();
    if (!r?.server || !r?.user) return;
    btn.hidden = (await this.#c.keptFor(/** @type {AccountRef} */ (r))) === 0;
  }

  async #openOffline() {
    const r = this.#form.loadRemembered();
    if (r) await this.#openKept(accountId(r));
  }

  /**
   * One account's kept mail offline (the remembered one, or one of the accounts list).
   * @param {string} id
   */
  async #openKept(id) {
    const r = parseAccountId(id);
    const shown = await this.#showKept(/** @type {AccountRef} */ (r), this.#i18n.t('offline.status', { user: r.user ?? '', server: r.server ?? '' }));
    if (shown) this.#list.focus();
    else this.#showError(this.#form.els.formMessages, new Error(this.#i18n.text('offline.none')), this.#i18n.t('offline.noneTitle'));
  }

  /**
   * "All inboxes": every account's kept mail in one list, each row marked by its account. Read
   * only where a connection would be needed: no Refresh, no new mail, no server deletion;
   * Delete removes this device's copy only, as offline (the message stays on the server).
   */
  async #openAll() {
    const i18n = this.#i18n;
    /** @type {{ account: string, kept: number }[]} */
    let counts = [];
    try {
      counts = await this.#c.loadAll();
    } catch (err) {
      this.#showError(this.#form.els.formMessages, err, i18n.t('accounts.allFailed'));
      return;
    }
    if (!counts.length) {
      this.#showError(this.#form.els.formMessages, new Error(i18n.text('offline.none')), i18n.t('offline.noneTitle'));
      return;
    }
    // Rendered again in a new language: every piece comes from the catalog each time.
    const each = () => counts.map((c) => i18n.text('accounts.allEach', { account: c.account, n: c.kept })).join(', ');
    const status = i18n.lazy(() => `${i18n.text('accounts.allStatus', { n: counts.length })} ${each()}. ${i18n.text('accounts.allReadOnly')}`);
    this.#showOfflineList(status, i18n.t('accounts.allBadge'));
    this.#list.focus();
  }

  /**
   * Shows the mail kept for the account of `values`, without a session (reading works; new
   * mail needs a connection). Resolves false when nothing is kept (or there is no store).
   * @param {AccountRef} values
   * @param {import('./i18n/index.js').Msg} statusText
   */
  async #showKept(values, statusText) {
    try {
      if (!(await this.#c.loadKept(values))) return false;
      this.#showOfflineList(statusText, this.#i18n.t('offline.badge'));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * The inbox screen for the kept mail the controller loaded (no session).
   * @param {import('./i18n/index.js').Msg} statusText
   * @param {import('./i18n/index.js').Msg} badge
   */
  #showOfflineList(statusText, badge) {
    const e = this.#els;
    this.#form.els.loginScreen.hidden = true;
    e.inboxScreen.hidden = false;
    e.refreshBtn.hidden = true;
    e.switchBtn.hidden = this.kiosk;
    // No session to check with: no new-mail interval nor notifications (sign-in shows them).
    e.checkSelect.hidden = e.checkLabel.hidden = e.notifyBtn.hidden = true;
    setText(e.logoutBtn, this.#i18n.t('offline.close'));
    this.#deletion.els.markedBar.hidden = true;
    e.inboxMessages.replaceChildren();
    this.#reader.close(false);
    // Every kept list numbers its messages -1, -2, …: what was read under a number is another's now.
    this.#reader.clearCache();
    this.#list.active = this.#c.items.length ? 0 : -1;
    this.#showCount();
    e.status.replaceChildren(h('span', { class: 'badge', text: badge }), h('span', { text: statusText }));
    e.status.classList.remove('insecure');
    this.#syncNote('');
    this.#list.render();
  }

  // ------------------------------------------------------------------ errors and notes

  /** @param {string | import('./i18n/index.js').Msg} text */
  #syncNote(text) {
    const e = this.#els;
    setText(e.syncLine, text);
    e.syncLine.hidden = !String(text);
    e.syncLine.classList.remove('check-failed');
  }

  /**
   * Plain-language error, then the server's own words quoted, then technical details.
   *
   * The wasm and store layers write their messages in English (LAYER_LANG), with the details
   * of the case (a date, a size). In English that message is shown as it is; in another
   * language the catalog's text for the error's code (or its group) is shown instead, and the
   * layer's own message moves to the technical details, so nothing of it is lost.
   * @param {Element} slot
   * @param {unknown} error
   * @param {string | import('./i18n/index.js').Msg} title
   */
  #showError(slot, error, title) {
    const err = /** @type {ErrorLike | null | undefined} */ (error);
    const message = err?.message || String(err);
    const i18n = this.#i18n;
    const code = err?.code;
    const known = errorKeys(code).find((k) => i18n.has(k));
    const translated = known && (i18n.lang !== LAYER_LANG || !err?.message) ? i18n.t(known) : null;
    const detail = translated && err?.message ? [err.message, err.detail].filter(Boolean).join('\n\n') : err?.detail;
    const isCert = isCertificateError(err?.code);
    const box = h(
      'div',
      { class: 'error', role: 'alert' },
      h('p', { class: 'error-title', text: title }),
      h('p', { class: 'error-message', text: translated ?? message }),
      err?.serverText ? h('figure', { class: 'server-text' }, h('figcaption', { text: i18n.t('error.serverSaid') }), h('blockquote', { text: err.serverText })) : null,
      detail ? h('details', { class: 'error-detail', open: isCert }, h('summary', { text: i18n.t(isCert ? 'error.certDetails' : 'error.details') }), h('pre', { text: detail })) : null,
      code ? h('p', { class: 'error-code', text: i18n.t('error.code', { code }) }) : null,
    );
    slot.replaceChildren(box);
    box.scrollIntoView?.({ block: 'nearest' });
    this.#emit('pop3-error', { code: err?.code ?? 'unknown', message });
  }

  /**
   * @template {keyof Pop3InboxEvents} K
   * @param {K} type
   * @param {Pop3InboxEvents[K]} detail
   */
  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }
}

/**
 * What the status line says of the server's certificate (a catalog key). A matching pin (the
 * user's fingerprint, or the page's or bridge operator's) accepts a certificate no CA vouches
 * for: it was checked, against exactly that certificate, so it is not "NOT verified".
 * @param {TlsInfo} tls
 */
function certificateKey(tls) {
  if (tls.pinMatched === true) return tls.verified === false ? 'status.certPinned' : 'status.certVerifiedPinned';
  return tls.verified === false ? 'status.certNotVerified' : 'status.certVerified';
}

if (!customElements.get('pop3-inbox')) customElements.define('pop3-inbox', Pop3Inbox);
