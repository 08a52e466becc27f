// <pop3-inbox>: a POP3 mail client as a custom element (no framework, no build step).
//
// Attributes (all optional):
//   bridge    WebSocket URL of the bridge; default ws(s)://<location.host>/pop3
//   server, port, security ("tls" | "stls" | "plain"), user   defaults for the account form
//   kiosk     boolean; shared device: nothing is remembered or stored (mail is kept in memory
//             only), mail stays on the server, and an idle session logs out by itself
//   kiosk-idle seconds without activity before a kiosk session logs out (default 300)
//   store     "on" (default; "off" with api="mock") | "memory" | "off": where mail is kept
//             (IndexedDB; this page's memory; not at all) — see docs/js-api.md, "Sync and export"
//   api       "mock" loads ./dev/mock-api.js instead of ./pop3.js (development and UI tests)
//
// Events (bubbling, composed; details never contain the password):
//   pop3-connected  { server, port, security, user, tls }
//   pop3-logout     { committed, deleted }   deleted = messages deleted on the server
//   pop3-error      { code, message }
//
// Security rule for this file: every string that comes from the server or the bridge is
// inserted with textContent (or as an attribute value), never as markup.

import { CSS } from './pop3-inbox.css.js';
import { summarizeHeaders, parseMessage, displayName } from './mime.js';
import { showMessage, loadMime, formatAddresses } from './message-view.js';
import { openStore, requestPersistence, storageEstimate } from './store.js';
import { syncAccount, finishSync, undoSyncDeletions, summaryOf } from './sync.js';
import { IdleLogout } from './kiosk.js';

const STORAGE_KEY = 'pop3-inbox:account';
const DEFAULT_PORTS = { tls: 995, stls: 110, plain: 110 };
const HEADER_BATCH = 200; // messages per fetchHeaders call: small enough for steady progress
const TOP_CACHE_MAX = 5000; // header answers kept for the sync (about 1-2 KB each)
const OVERSCAN = 6; // rows rendered above/below the viewport so fast scrolling shows no gaps
const PROGRESS_DELAY_MS = 300; // "longer than a moment": shorter work shows no progress bar
const CERT_CODES = new Set(['cert_expired', 'cert_unknown_issuer', 'cert_name_mismatch', 'cert_invalid', 'cert_revoked', 'cert_not_yet_valid']);

let sheet = null;
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

/** Tiny DOM builder. Text children become text nodes, so data can never become markup. */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === false || v === null || v === undefined) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return el;
}

const nf = new Intl.NumberFormat();
function formatSize(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });
const fullDayFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
const longFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'short' });
function formatListDate(d) {
  if (!d) return '';
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return timeFmt.format(d);
  if (d.getFullYear() === now.getFullYear()) return dayFmt.format(d);
  return fullDayFmt.format(d);
}
function plural(n, one, many) {
  return `${nf.format(n)} ${n === 1 ? one : many}`;
}
function defaultBridgeUrl() {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/pop3`;
}

export class Pop3Inbox extends HTMLElement {
  static observedAttributes = ['server', 'port', 'security', 'user', 'kiosk'];

  #root;
  #api = null;
  #session = null;
  #creds = null; // kept only while a session is open, for Refresh (= reconnect)
  #items = []; // newest first: { msg, size, loaded, from, subject, date, marked }
  #index = new Map(); // msg -> position in #items
  #active = -1;
  #openMsg = null;
  #loader = null; // AbortController of the running header load
  #readToken = 0;
  #rowPool = [];
  #renderQueued = false;
  #parsed = new Map(); // small cache of parsed messages for quick re-opening
  #view = null; // the open message's body view (message-view.js); holds its remote opt-in
  #store = null; // this account's offline store (IndexedDB, or memory in kiosk mode); null: off
  #account = null; // "user@server:port": the store's name for the account
  #sync = null; // this session's background sync: { ctrl, promise, report }
  #idle = null; // kiosk mode's idle logout
  #offline = false; // showing the store without a session
  #bridgeConfig = null; // promise: the serving bridge's /client-config.json applied
  #topCache = new Map(); // msg -> TOP n 0 bytes read by the list, handed to the sync once
  #els = {};
  #rowH = 0;

  constructor() {
    super();
    this.#root = this.attachShadow({ mode: 'open', delegatesFocus: false });
    adoptStyles(this.#root);
    this.#build();
  }

  connectedCallback() {
    this.#applyDefaults();
    window.addEventListener('beforeunload', this.#onBeforeUnload);
    window.addEventListener('pagehide', this.#onPageHide);
    this.#bridgeConfig ??= this.#loadBridgeConfig();
    this.#offerOffline();
  }

  /**
   * The bridge that serves this page may impose kiosk mode (its operator's choice for shared
   * devices). Only adds restrictions: it can turn kiosk mode on, never off.
   */
  async #loadBridgeConfig() {
    if (this.getAttribute('bridge') || this.getAttribute('api') === 'mock') return;
    try {
      const r = await fetch(new URL('/client-config.json', location.href), { cache: 'no-store', credentials: 'same-origin' });
      if (!r.ok) return;
      const c = await r.json();
      if (c?.kiosk !== true) return;
      const idle = Number(c.kioskIdleSeconds);
      if (!this.hasAttribute('kiosk-idle') && idle > 0) this.setAttribute('kiosk-idle', String(idle));
      this.setAttribute('kiosk', '');
    } catch {
      /* a page not served by the bridge: its attributes decide */
    }
  }

  // Kiosk: closing the tab ends everything; nothing of this user may outlive the page.
  #onPageHide = () => {
    if (this.kiosk) this.#wipe();
  };

  // Closing the tab with marked messages ends the session without QUIT, so nothing is
  // deleted; ask first instead of letting the user believe they were.
  #onBeforeUnload = (ev) => {
    if (this.#session && this.#markedCount() > 0) {
      ev.preventDefault();
      ev.returnValue = '';
    }
  };

  disconnectedCallback() {
    window.removeEventListener('beforeunload', this.#onBeforeUnload);
    window.removeEventListener('pagehide', this.#onPageHide);
    // Leaving the page without QUIT: POP3 then discards deletion marks (nothing is deleted).
    this.#loader?.abort();
    this.#sync?.ctrl.abort();
    this.#session?.close();
    this.#idle?.stop();
    if (this.kiosk) this.#wipe();
  }

  attributeChangedCallback() {
    if (this.isConnected) this.#applyDefaults();
  }

  get kiosk() {
    return this.hasAttribute('kiosk');
  }

  // ------------------------------------------------------------------ building the DOM

  #build() {
    const e = this.#els;
    const id = (s) => `p3-${s}`;

    // --- Account form ---
    e.server = h('input', { id: id('server'), name: 'server', required: true, autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', inputmode: 'url', placeholder: 'pop.example.org' });
    e.security = h(
      'select',
      { id: id('security'), name: 'security', onchange: () => this.#onSecurityChange() },
      h('option', { value: 'tls', text: 'TLS (port 995)' }),
      h('option', { value: 'stls', text: 'STARTTLS (port 110)' }),
      h('option', { value: 'plain', text: 'No encryption' }),
    );
    e.port = h('input', { id: id('port'), name: 'port', type: 'number', min: 1, max: 65535, required: true, inputmode: 'numeric', value: 995 });
    e.acceptInsecure = h('input', { type: 'checkbox', name: 'acceptInsecure', id: id('accept-insecure') });
    e.insecureWarning = h(
      'div',
      { class: 'warning', id: id('insecure-warning'), hidden: true },
      h('p', {}, h('strong', { text: 'Warning: no encryption. ' }), 'Your password and all your messages would travel over the network unprotected, readable and changeable by anyone along the way. Only use this on a network you fully trust, for example a test server on this computer.'),
      h('label', { class: 'check', for: id('accept-insecure') }, e.acceptInsecure, h('span', { text: 'I understand the risk and want to connect without encryption' })),
    );
    e.user = h('input', { id: id('user'), name: 'user', required: true, autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false' });
    e.password = h('input', { id: id('password'), name: 'password', type: 'password', required: true, autocomplete: 'current-password' });
    e.remember = h('input', { type: 'checkbox', name: 'remember', id: id('remember') });
    e.rememberLabel = h('label', { class: 'check', for: id('remember') }, e.remember, h('span', { text: 'Remember server and user on this device (never the password)' }));
    e.kioskHint = h('p', { class: 'hint', hidden: true, text: 'Remembering is turned off on this shared device.' });
    e.connectBtn = h('button', { type: 'submit', class: 'primary connect', text: 'Connect' });
    e.offlineBtn = h('button', { type: 'button', class: 'offline', hidden: true, text: 'Read mail kept on this device (offline)', onclick: () => this.#openOffline() });
    e.formMessages = h('div', { class: 'form-messages' });
    e.formProgress = h('div', { class: 'progress-slot' });
    e.fieldset = h(
      'fieldset',
      {},
      h('label', { class: 'field', for: id('server') }, h('span', { text: 'Mail server' }), e.server),
      h(
        'div',
        { class: 'field-row' },
        h('label', { class: 'field', for: id('security') }, h('span', { text: 'Security' }), e.security),
        h('label', { class: 'field', for: id('port') }, h('span', { text: 'Port' }), e.port),
      ),
      e.insecureWarning,
      h('label', { class: 'field', for: id('user') }, h('span', { text: 'User name' }), e.user),
      h('label', { class: 'field', for: id('password') }, h('span', { text: 'Password' }), e.password),
      e.rememberLabel,
      e.kioskHint,
      e.connectBtn,
      e.offlineBtn,
    );
    e.form = h(
      'form',
      { class: 'card', 'aria-labelledby': id('login-title'), onsubmit: (ev) => this.#onSubmit(ev) },
      h('h1', { id: id('login-title'), text: 'Sign in to your mail' }),
      h('p', { class: 'lead', text: 'Read your POP3 mailbox in the browser.' }),
      e.formMessages,
      e.fieldset,
      e.formProgress,
    );
    e.loginScreen = h('section', { class: 'screen login', 'aria-label': 'Account' }, e.form);

    // --- Inbox ---
    e.count = h('span', { class: 'count', 'aria-live': 'polite' });
    e.refreshBtn = h('button', { type: 'button', class: 'refresh', text: 'Refresh', onclick: () => this.#refresh() });
    e.logoutBtn = h('button', { type: 'button', class: 'logout', text: 'Log out', onclick: () => this.#logout() });
    e.deviceBtn = h('button', { type: 'button', class: 'device', text: 'This device…', hidden: true, onclick: () => this.#openDeviceDialog() });
    e.syncLine = h('p', { class: 'syncline', role: 'status', hidden: true });
    e.kioskCountdown = h('div', { class: 'kiosk-countdown warning', role: 'alert', hidden: true });
    e.status = h('p', { class: 'statusline', role: 'status' });
    e.markedText = h('p');
    e.markedBar = h(
      'div',
      { class: 'marked-bar', hidden: true },
      e.markedText,
      h('button', { type: 'button', class: 'undo-all', text: 'Undo all', onclick: () => this.#undoAll() }),
      h('button', { type: 'button', class: 'finish primary', text: 'Finish session', onclick: () => this.#logout() }),
    );
    e.inboxMessages = h('div', { class: 'inbox-messages' });
    e.inboxProgress = h('div', { class: 'progress-slot' });
    e.inboxTop = h('div', { class: 'inbox-messages' }, e.markedBar, e.inboxProgress, e.inboxMessages);

    e.body = h('div', { class: 'body', role: 'rowgroup' });
    e.empty = h('p', { class: 'empty', hidden: true, text: 'Your inbox is empty.' });
    e.grid = h(
      'div',
      { class: 'grid', role: 'grid', tabindex: 0, 'aria-label': 'Messages, newest first', 'aria-readonly': 'true', 'aria-rowcount': 1, 'aria-colcount': 4 },
      h(
        'div',
        { class: 'head-group', role: 'rowgroup' },
        h(
          'div',
          { class: 'head cols', role: 'row', 'aria-rowindex': 1 },
          h('span', { role: 'columnheader', class: 'cell', text: 'From' }),
          h('span', { role: 'columnheader', class: 'cell', text: 'Subject' }),
          h('span', { role: 'columnheader', class: 'cell', text: 'Date' }),
          h('span', { role: 'columnheader', class: 'cell size', text: 'Size' }),
        ),
      ),
      e.body,
      e.empty,
    );
    e.grid.addEventListener('keydown', (ev) => this.#onGridKey(ev));
    e.grid.addEventListener('scroll', () => this.#queueRender(), { passive: true });
    e.grid.addEventListener('click', (ev) => this.#onGridClick(ev));

    // --- Reader ---
    e.rSubject = h('h2', { id: id('reader-subject'), tabindex: -1 });
    e.rFrom = h('dd');
    e.rTo = h('dd');
    e.rCcTerm = h('dt', { text: 'Cc', hidden: true });
    e.rCc = h('dd', { hidden: true });
    e.rDate = h('dd');
    e.rDeleteBtn = h('button', { type: 'button', class: 'delete danger', text: 'Delete', onclick: () => this.#askDelete(this.#openMsg) });
    e.rUndoBtn = h('button', { type: 'button', class: 'undo', text: 'Undo delete', hidden: true, onclick: () => this.#undo(this.#openMsg) });
    e.rMarkedNote = h('p', { class: 'marked-note', hidden: true, text: 'Marked for deletion. It will be deleted from the server when you finish the session.' });
    e.rMessages = h('div', { class: 'reader-messages' });
    e.rProgress = h('div', { class: 'progress-slot' });
    e.rNote = h('p', { class: 'message-note', hidden: true });
    // The body (sanitized HTML in a sandboxed frame, or plain text) and the attachments are
    // rendered by message-view.js, the only code that touches message bodies.
    e.rHtml = h('div', { class: 'message-html', hidden: true });
    e.rAttachments = h('div', { class: 'message-attachments', hidden: true });
    // Whether this message is kept on this device (the offline store).
    e.rOffline = h('p', { class: 'message-offline hint', hidden: true });
    e.reader = h(
      'article',
      { class: 'reader', hidden: true, 'aria-labelledby': id('reader-subject') },
      h(
        'header',
        { class: 'reader-head' },
        h(
          'div',
          { class: 'reader-bar' },
          h('button', { type: 'button', class: 'back', text: 'Back to list', 'aria-keyshortcuts': 'Escape', onclick: () => this.#closeReader() }),
          h('span', { class: 'spacer' }),
          e.rUndoBtn,
          e.rDeleteBtn,
        ),
        e.rSubject,
        h('dl', {}, h('dt', { text: 'From' }), e.rFrom, h('dt', { text: 'To' }), e.rTo, e.rCcTerm, e.rCc, h('dt', { text: 'Date' }), e.rDate),
        e.rMarkedNote,
      ),
      h('div', { class: 'reader-main' }, e.rMessages, e.rProgress, e.rNote, e.rAttachments, e.rHtml, e.rOffline),
    );
    e.reader.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') {
        ev.preventDefault();
        this.#closeReader();
      }
    });

    e.inboxScreen = h(
      'section',
      { class: 'screen inbox', hidden: true, 'aria-label': 'Inbox' },
      h('header', { class: 'toolbar' }, h('div', { class: 'title' }, h('h2', { text: 'Inbox' }), e.count), e.deviceBtn, e.refreshBtn, e.logoutBtn),
      e.kioskCountdown,
      e.status,
      e.syncLine,
      e.inboxTop,
      h('div', { class: 'panes' }, h('div', { class: 'list-pane' }, e.grid), e.reader),
    );

    // --- Confirmation dialog (one, reused) ---
    e.dTitle = h('h2', { id: id('dialog-title') });
    e.dText = h('div', { id: id('dialog-text') });
    e.dConfirm = h('button', { type: 'submit', value: 'confirm', class: 'danger confirm' });
    e.dCancel = h('button', { type: 'submit', value: 'cancel', class: 'cancel', text: 'Cancel', autofocus: true });
    e.dialog = h(
      'dialog',
      { 'aria-labelledby': id('dialog-title'), 'aria-describedby': id('dialog-text') },
      h('form', { method: 'dialog' }, e.dTitle, e.dText, h('div', { class: 'dialog-actions' }, e.dCancel, e.dConfirm)),
    );

    this.#buildDeviceDialog();
    this.#root.append(e.loginScreen, e.inboxScreen, e.dialog, e.deviceDialog);
    this.#setSecurityUi();
  }

  // ------------------------------------------------------------------ account form

  #applyDefaults() {
    const e = this.#els;
    const stored = this.#loadRemembered();
    const pick = (name) => stored?.[name] ?? this.getAttribute(name);
    // Recomputed from scratch each time: attributes may be set after the element upgraded
    // (e.g. `kiosk` added by script), and stale remembered values must not survive that.
    const sec = pick('security');
    e.security.value = sec && DEFAULT_PORTS[sec] ? sec : 'tls';
    e.server.value = pick('server') ?? '';
    e.port.value = pick('port') ?? DEFAULT_PORTS[e.security.value];
    e.user.value = pick('user') ?? '';
    e.remember.checked = !!stored;
    e.remember.disabled = this.kiosk;
    e.rememberLabel.classList.toggle('disabled', this.kiosk);
    e.kioskHint.hidden = !this.kiosk;
    if (this.kiosk) e.remember.checked = false;
    this.#setSecurityUi();
  }

  #loadRemembered() {
    if (this.kiosk) return null; // shared device: never read another user's details
    try {
      const v = JSON.parse(localStorage.getItem(STORAGE_KEY) || 'null');
      return v && typeof v === 'object' ? v : null;
    } catch {
      return null; // storage disabled or corrupt: behave as if nothing was remembered
    }
  }

  #saveRemembered(values) {
    if (this.kiosk) return;
    try {
      if (this.#els.remember.checked) {
        // Deliberately only these four fields: the password is never stored.
        const { server, port, security, user } = values;
        localStorage.setItem(STORAGE_KEY, JSON.stringify({ server, port: String(port), security, user }));
      } else {
        localStorage.removeItem(STORAGE_KEY);
      }
    } catch {
      /* storage unavailable (private mode, quota): remembering is best effort */
    }
  }

  #lastSecurity = 'tls';
  #onSecurityChange() {
    const e = this.#els;
    const prev = this.#lastSecurity;
    const next = e.security.value;
    // Follow the security choice only if the port is still the previous default, so a
    // custom port the user typed is never overwritten.
    if (!e.port.value || Number(e.port.value) === DEFAULT_PORTS[prev]) e.port.value = DEFAULT_PORTS[next];
    this.#setSecurityUi();
  }

  #setSecurityUi() {
    const e = this.#els;
    const plain = e.security.value === 'plain';
    this.#lastSecurity = e.security.value;
    e.insecureWarning.hidden = !plain;
    // `required` makes the browser block submission (and focus the box) until it is ticked.
    e.acceptInsecure.required = plain;
    if (!plain) e.acceptInsecure.checked = false;
  }

  async #loadApi() {
    if (this.#api) return this.#api;
    const rel = this.getAttribute('api') === 'mock' ? './dev/mock-api.js' : './pop3.js';
    try {
      this.#api = await import(new URL(rel, import.meta.url).href);
    } catch (err) {
      throw Object.assign(new Error('The mail client could not be loaded. Reload the page; if it keeps happening, the site is not set up completely.'), {
        code: 'load_failed',
        detail: String(err?.message || err),
      });
    }
    return this.#api;
  }

  async #onSubmit(ev) {
    ev.preventDefault();
    const e = this.#els;
    await this.#bridgeConfig; // kiosk mode, if the bridge imposes it, applies before sign-in
    if (!e.form.reportValidity()) return;
    const values = {
      server: e.server.value.trim(),
      port: Number(e.port.value),
      security: e.security.value,
      user: e.user.value,
      password: e.password.value,
      allowInsecure: e.security.value === 'plain' && e.acceptInsecure.checked,
    };
    e.formMessages.replaceChildren();
    e.fieldset.disabled = true;
    e.form.setAttribute('aria-busy', 'true');
    const progress = this.#progress(e.formProgress, `Connecting to ${values.server}…`);
    // Mail kept on this device shows at once; the server's list replaces it once connected.
    const early = await this.#showKept(values, `Connecting to ${values.server}… Meanwhile, this is the mail kept on this device.`);
    try {
      await this.#open(values);
      this.#saveRemembered(values);
      e.password.value = '';
      this.#showInbox();
    } catch (err) {
      if (early) {
        this.#showError(e.inboxMessages, err, 'Could not sign in: showing the mail kept on this device');
        return;
      }
      this.#showError(e.formMessages, err, 'Could not sign in');
      // Return the user to where they can fix it.
      const field = err?.code === 'auth_failed' ? e.password : err?.code?.startsWith?.('cert_') || err?.code === 'target_refused' ? e.server : null;
      // No scrolling: the error box above stays in view, and the field is just below it.
      (field || e.connectBtn).focus({ preventScroll: true });
    } finally {
      progress.done();
      e.fieldset.disabled = false;
      e.form.removeAttribute('aria-busy');
      if (this.#session) e.formMessages.replaceChildren();
    }
  }

  /** Connects with `values` and loads the mailbox. Throws Pop3Error on failure. */
  async #open(values) {
    const api = await this.#loadApi();
    const session = await api.connect({
      bridgeUrl: this.getAttribute('bridge') || defaultBridgeUrl(),
      host: values.server,
      port: values.port,
      security: values.security,
      user: values.user,
      password: values.password,
      allowInsecure: values.allowInsecure,
    });
    this.#session = session;
    this.#creds = values;
    this.#offline = false;
    await this.#openStore(values);
    this.#emit('pop3-connected', { server: values.server, port: values.port, security: values.security, user: values.user, tls: session.tls ?? null });
  }

  // ------------------------------------------------------------------ inbox

  #showInbox() {
    const e = this.#els;
    e.loginScreen.hidden = true;
    e.inboxScreen.hidden = false;
    e.refreshBtn.hidden = false;
    e.inboxMessages.replaceChildren();
    this.#syncNote('');
    this.#renderStatus();
    this.#closeReader(false);
    this.#items = [];
    this.#index.clear();
    this.#parsed.clear();
    this.#topCache.clear();
    this.#active = -1;
    e.count.textContent = '';
    this.#updateMarked();
    this.#render();
    e.grid.focus();
    this.#startIdle();
    this.#loadMailbox();
  }

  #renderStatus() {
    const s = this.#session;
    const c = this.#creds;
    const e = this.#els;
    const parts = [];
    if (s.tls && !s.insecure) {
      parts.push(h('span', { class: 'badge secure', text: 'Encrypted' }));
      const cipher = [s.tls.version, s.tls.cipher].filter(Boolean).join(', ');
      parts.push(cipher ? `Connection encrypted with ${cipher}. ` : 'Connection encrypted. ');
      parts.push(s.tls.verified === false ? 'The certificate was NOT verified. ' : 'Certificate verified. ');
    } else {
      parts.push(h('span', { class: 'badge insecure', text: 'Not encrypted' }));
      parts.push('Your password and messages are sent without protection. ');
    }
    parts.push(`Signed in as ${c.user} on ${c.server}`);
    if (s.loginMethod) parts.push(` (${s.loginMethod})`);
    parts.push('.');
    e.status.replaceChildren(...parts);
    e.status.classList.toggle('insecure', !s.tls || !!s.insecure);
  }

  async #loadMailbox() {
    const e = this.#els;
    const session = this.#session;
    this.#loader?.abort();
    const ctrl = new AbortController();
    this.#loader = ctrl;
    const progress = this.#progress(e.inboxProgress, 'Reading the list of messages…');
    try {
      const list = await session.list();
      if (ctrl.signal.aborted) return;
      list.sort((a, b) => b.msg - a.msg);
      this.#items = list.map((m) => ({ msg: m.msg, size: m.size, loaded: false, from: '', subject: '', date: null, marked: false }));
      this.#index = new Map(this.#items.map((it, i) => [it.msg, i]));
      // Mail already kept here shows at once, without asking the server for its headers again.
      await this.#prefillFromStore(session);
      if (ctrl.signal.aborted) return;
      this.#active = this.#items.length ? 0 : -1;
      e.count.textContent = plural(this.#items.length, 'message', 'messages');
      this.#render();

      // Headers newest first, in batches; rows fill in as batches arrive. Whatever is on
      // screen is fetched first, so scrolling far down never waits for everything above.
      const total = this.#items.length;
      let loaded = 0;
      let next = 0;
      while (!ctrl.signal.aborted) {
        const batch = this.#visibleUnloaded(HEADER_BATCH);
        if (!batch.length) {
          while (next < total && this.#items[next].loaded) next++;
          for (let i = next; i < total && batch.length < HEADER_BATCH; i++) if (!this.#items[i].loaded) batch.push(this.#items[i].msg);
        }
        if (!batch.length) break;
        const base = loaded;
        progress.update(base, total, `Loading message headers: ${nf.format(base)} of ${nf.format(total)}`);
        const got = await session.fetchHeaders({
          msgs: batch,
          signal: ctrl.signal,
          onProgress: ({ done }) => progress.update(base + done, total, `Loading message headers: ${nf.format(base + done)} of ${nf.format(total)}`),
        });
        if (ctrl.signal.aborted) return;
        for (const r of got) {
          const i = this.#index.get(r.msg);
          if (i === undefined) continue;
          // The sync needs these same headers; bounded, the rest it asks for itself.
          if (this.#store && this.#topCache.size < TOP_CACHE_MAX) this.#topCache.set(r.msg, r.headers);
          const it = this.#items[i];
          const sum = summarizeHeaders(r.headers);
          Object.assign(it, { loaded: true, from: sum.from, subject: sum.subject, date: sum.date });
          if (r.size) it.size = r.size;
        }
        // A message that vanished server-side must not stall the loop: mark it as loaded.
        for (const m of batch) {
          const i = this.#index.get(m);
          if (i !== undefined && !this.#items[i].loaded) Object.assign(this.#items[i], { loaded: true, from: '', subject: '(headers unavailable)' });
        }
        loaded += batch.length;
        this.#render();
      }
      // Headers are in: keep the mail on this device in the background (policy permitting).
      if (!ctrl.signal.aborted && this.#session === session) this.#startSync();
    } catch (err) {
      if (err?.code === 'cancelled' || ctrl.signal.aborted) return;
      this.#showError(e.inboxMessages, err, 'Could not load your messages');
    } finally {
      progress.done();
      if (this.#loader === ctrl) this.#loader = null;
    }
  }

  #visibleUnloaded(max) {
    const [first, last] = this.#visibleRange();
    const out = [];
    for (let i = first; i <= last && out.length < max; i++) if (this.#items[i] && !this.#items[i].loaded) out.push(this.#items[i].msg);
    return out;
  }

  #rowHeight() {
    // Read from CSS so the touch (coarse pointer) size stays in one place.
    if (!this.#rowH) this.#rowH = parseFloat(getComputedStyle(this).getPropertyValue('--row')) || 56;
    return this.#rowH;
  }

  #visibleRange() {
    const g = this.#els.grid;
    const rh = this.#rowHeight();
    const top = Math.max(0, g.scrollTop - this.#els.body.offsetTop);
    const first = Math.max(0, Math.floor(top / rh) - OVERSCAN);
    const last = Math.min(this.#items.length - 1, Math.ceil((top + g.clientHeight) / rh) + OVERSCAN);
    return [first, last];
  }

  #queueRender() {
    if (this.#renderQueued) return;
    this.#renderQueued = true;
    requestAnimationFrame(() => {
      this.#renderQueued = false;
      this.#render();
    });
  }

  /** Virtual scrolling: only the rows in (and just around) the viewport exist in the DOM. */
  #render() {
    const e = this.#els;
    const n = this.#items.length;
    const rh = this.#rowHeight();
    e.body.style.height = `${n * rh}px`;
    e.grid.setAttribute('aria-rowcount', String(n + 1));
    e.empty.hidden = !(n === 0 && this.#session && !this.#loader?.signal.aborted && e.count.textContent);
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
      const it = this.#items[i];
      const row = this.#rowPool[k];
      row.id = `row-${it.msg}`;
      row.dataset.index = String(i);
      row.dataset.msg = String(it.msg);
      row.setAttribute('aria-rowindex', String(i + 2));
      row.setAttribute('aria-selected', String(i === this.#active));
      row.classList.toggle('active', i === this.#active);
      row.classList.toggle('marked', it.marked);
      row.classList.toggle('loading', !it.loaded);
      row.classList.toggle('kept', it.kept === 'full');
      row.style.transform = `translateY(${i * rh}px)`;
      const [cFrom, cSubject, cDate, cSize] = row.children;
      cFrom.textContent = it.loaded ? displayName(it.from) || '(no sender)' : 'Loading…';
      cFrom.title = it.from;
      cSubject.textContent = it.loaded ? it.subject || '(no subject)' : '';
      cSubject.title = it.subject;
      cDate.textContent = formatListDate(it.date);
      if (it.marked) {
        // Struck-through row with an Undo right where the size was.
        const undo = h('button', { type: 'button', class: 'undo', text: 'Undo', 'aria-label': `Undo delete of ${it.subject || 'message'}`, tabindex: -1, dataset: { undo: String(it.msg) } });
        cSize.replaceChildren(h('span', { class: 'visually-hidden', text: 'Marked for deletion. ' }), undo);
      } else {
        cSize.textContent = formatSize(it.size);
        cSize.title = it.kept === 'full' ? 'Kept on this device' : '';
      }
      rows.push(row);
    }
    e.body.replaceChildren(...rows);
    const act = this.#items[this.#active];
    // With an active row the row itself shows the focus ring; the grid's own ring would double it.
    e.grid.classList.toggle('has-active', !!act);
    if (act && e.body.querySelector(`#row-${act.msg}`)) e.grid.setAttribute('aria-activedescendant', `row-${act.msg}`);
    else e.grid.removeAttribute('aria-activedescendant');
  }

  #setActive(i, { scroll = true } = {}) {
    const n = this.#items.length;
    if (!n) return;
    this.#active = Math.max(0, Math.min(n - 1, i));
    if (scroll) {
      const g = this.#els.grid;
      const rh = this.#rowHeight();
      const off = this.#els.body.offsetTop;
      const top = off + this.#active * rh;
      const headH = off; // sticky header covers the top of the viewport
      if (top - headH < g.scrollTop) g.scrollTop = top - headH;
      else if (top + rh > g.scrollTop + g.clientHeight) g.scrollTop = top + rh - g.clientHeight;
    }
    this.#render();
  }

  #onGridKey(ev) {
    const n = this.#items.length;
    if (!n || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    const page = Math.max(1, Math.floor(this.#els.grid.clientHeight / this.#rowHeight()) - 1);
    const a = this.#active < 0 ? 0 : this.#active;
    const moves = { ArrowDown: a + 1, ArrowUp: a - 1, PageDown: a + page, PageUp: a - page, Home: 0, End: n - 1 };
    if (ev.key in moves) {
      ev.preventDefault();
      this.#setActive(moves[ev.key]);
    } else if (ev.key === 'Enter' || ev.key === ' ') {
      ev.preventDefault();
      this.#openMessage(this.#items[a].msg, { focus: true });
    } else if (ev.key === 'Delete') {
      ev.preventDefault();
      const it = this.#items[a];
      if (it.marked) this.#undo(it.msg);
      else this.#askDelete(it.msg);
    } else if (ev.key === 'Escape' && !this.#els.reader.hidden) {
      ev.preventDefault();
      this.#closeReader();
    }
  }

  #onGridClick(ev) {
    const undo = ev.target.closest('[data-undo]');
    if (undo) {
      ev.stopPropagation();
      this.#undo(Number(undo.dataset.undo));
      return;
    }
    const row = ev.target.closest('.row');
    if (!row) return;
    this.#setActive(Number(row.dataset.index), { scroll: false });
    this.#openMessage(Number(row.dataset.msg), { focus: false });
  }

  // ------------------------------------------------------------------ reader

  async #openMessage(msg, { focus }) {
    const e = this.#els;
    const i = this.#index.get(msg);
    if (i === undefined) return;
    const it = this.#items[i];
    const token = ++this.#readToken;
    this.#openMsg = msg;
    e.reader.hidden = false;
    e.rMessages.replaceChildren();
    // Show what we already know from the list while the full message downloads.
    e.rSubject.textContent = it.subject || '(no subject)';
    e.rFrom.textContent = it.from;
    e.rTo.textContent = '';
    e.rDate.textContent = it.date ? longFmt.format(it.date) : '';
    e.rCc.hidden = e.rCcTerm.hidden = true;
    this.#view?.destroy();
    this.#view = null;
    // An empty body while the message downloads (the view replaces it).
    e.rHtml.replaceChildren(h('pre', { class: 'message-body' }));
    e.rHtml.hidden = false;
    e.rNote.hidden = true;
    this.#updateReaderMarked();
    if (focus) e.rSubject.focus();
    let parsed = this.#parsed.get(msg);
    if (!parsed) {
      const progress = this.#progress(e.rProgress, `Downloading message (${formatSize(it.size)})…`);
      try {
        parsed = await this.#parse(await this.#messageBytes(it));
        if (this.#parsed.size > 20) this.#parsed.clear();
        this.#parsed.set(msg, parsed);
      } catch (err) {
        if (token === this.#readToken) this.#showError(e.rMessages, err, 'Could not open this message');
        return;
      } finally {
        progress.done();
      }
    }
    if (token !== this.#readToken) return; // the user opened another message meanwhile
    const head = parsed.head;
    e.rSubject.textContent = head.subject || '(no subject)';
    e.rFrom.textContent = head.from;
    e.rTo.textContent = head.to;
    e.rCc.textContent = head.cc;
    e.rCc.hidden = e.rCcTerm.hidden = !head.cc;
    const d = Date.parse(head.date);
    e.rDate.textContent = Number.isNaN(d) ? head.date : longFmt.format(new Date(d));
    this.#view = showMessage(
      { body: e.rHtml, attachments: e.rAttachments },
      { bytes: parsed.bytes, message: parsed.message, text: parsed.js?.text, mime: parsed.mime, emptyNote: parsed.js?.kind === 'no-plain' ? '' : undefined },
    );
    if (parsed.js && parsed.js.kind === 'no-plain') {
      // Only without the wasm MIME parser (a build without it): the JS parser finds text only.
      e.rNote.hidden = false;
      e.rNote.textContent = 'This message has no plain-text version, and this build cannot show formatted (HTML) messages.';
    }
    e.rOffline.hidden = !this.#store;
    e.rOffline.textContent = it.kept === 'full' ? 'Kept on this device: readable offline.' : 'Not kept on this device yet.';
  }

  /**
   * Parses a downloaded message: with the wasm MIME parser when this build has it (HTML,
   * attachments), else with the small JS parser (text only). Header values come out as plain
   * strings, inserted with textContent.
   */
  async #parse(bytes) {
    const mime = await loadMime();
    if (mime) {
      try {
        const m = await mime.parseMessage(bytes);
        const str = (v) => (v == null ? '' : String(v));
        return {
          bytes,
          mime,
          message: m,
          js: null,
          head: { subject: str(m.subject), from: formatAddresses(m.from), to: formatAddresses(m.to), cc: formatAddresses(m.cc), date: str(m.date) },
        };
      } catch {
        /* a message the wasm parser rejects is still shown as text by the JS parser */
      }
    }
    const js = parseMessage(bytes);
    return { bytes, mime: null, message: null, js, head: { subject: js.subject, from: js.from, to: js.to, cc: js.cc, date: js.date } };
  }

  #closeReader(focusList = true) {
    const e = this.#els;
    this.#readToken++;
    this.#openMsg = null;
    // Forget the view, and with it any "Load remote content" given to this message.
    this.#view?.destroy();
    this.#view = null;
    e.reader.hidden = true;
    if (focusList) {
      e.grid.focus();
      this.#setActive(this.#active);
    }
  }

  #updateReaderMarked() {
    const e = this.#els;
    const it = this.#items[this.#index.get(this.#openMsg)];
    const marked = !!it?.marked;
    e.rDeleteBtn.hidden = marked;
    e.rUndoBtn.hidden = !marked;
    e.rMarkedNote.hidden = !marked;
  }

  // ------------------------------------------------------------------ delete / undo / quit

  #confirm({ title, text, confirmLabel, danger = true }) {
    const e = this.#els;
    e.dTitle.textContent = title;
    e.dText.replaceChildren(...text.map((t) => h('p', {}, ...(Array.isArray(t) ? t : [t]))));
    e.dConfirm.textContent = confirmLabel;
    e.dConfirm.className = `confirm ${danger ? 'danger' : 'primary'}`;
    e.dialog.returnValue = '';
    const opener = this.#root.activeElement;
    return new Promise((resolve) => {
      e.dialog.addEventListener(
        'close',
        () => {
          resolve(e.dialog.returnValue === 'confirm');
          // Give focus back to where the user was (the list or the reader).
          if (opener && opener.isConnected && !opener.closest('[hidden]')) opener.focus();
        },
        { once: true },
      );
      e.dialog.showModal();
      e.dCancel.focus(); // the safe choice is the default
    });
  }

  async #askDelete(msg) {
    const i = this.#index.get(msg);
    if (i === undefined) return;
    const it = this.#items[i];
    if (this.#offline) return this.#askDeleteLocal(it);
    if (!this.#session) return;
    const ok = await this.#confirm({
      title: 'Delete this message?',
      text: [
        ['“', h('strong', { text: it.subject || '(no subject)' }), '” will be marked for deletion.'],
        'It is deleted from the server only when you finish the session (Log out). Until then it stays on the server and you can undo.',
      ],
      confirmLabel: 'Mark for deletion',
    });
    if (!ok) return;
    try {
      await this.#session.dele(msg);
      it.marked = true;
      this.#parsed.delete(msg);
      if (this.#openMsg === msg) this.#closeReader();
      this.#updateMarked();
      this.#render();
    } catch (err) {
      this.#showError(this.#els.inboxMessages, err, 'Could not mark the message for deletion');
    }
  }

  /** Un-marks one message. POP3 only has RSET (un-mark all), so re-mark the others. */
  async #undo(msg) {
    // Marks made by the sync policy are not made again: Undo keeps them on the server this time.
    const others = this.#items.filter((x) => x.marked && !x.byPolicy && x.msg !== msg).map((x) => x.msg);
    const progress = this.#progress(this.#els.inboxProgress, 'Undoing…');
    try {
      await this.#session.rset();
      await this.#afterRset();
      for (const it of this.#items) it.marked = false;
      for (const m of others) {
        await this.#session.dele(m);
        this.#items[this.#index.get(m)].marked = true;
      }
    } catch (err) {
      this.#showError(this.#els.inboxMessages, err, 'Could not undo');
    } finally {
      progress.done();
      this.#updateMarked();
      this.#render();
      if (this.#els.reader.hidden) this.#els.grid.focus();
    }
  }

  async #undoAll() {
    try {
      await this.#session.rset();
      await this.#afterRset();
      for (const it of this.#items) it.marked = false;
    } catch (err) {
      this.#showError(this.#els.inboxMessages, err, 'Could not undo');
    }
    this.#updateMarked();
    this.#render();
    this.#els.grid.focus();
  }

  #markedCount() {
    let n = 0;
    for (const it of this.#items) if (it.marked) n++;
    return n;
  }

  #updateMarked() {
    const e = this.#els;
    const n = this.#markedCount();
    e.markedBar.hidden = n === 0;
    e.markedText.textContent = `${plural(n, 'message', 'messages')} marked for deletion. ${n === 1 ? 'It is' : 'They are'} deleted from the server when you finish the session.`;
    e.logoutBtn.textContent = n ? 'Finish session' : 'Log out';
    this.#updateReaderMarked();
  }

  /** Ends the session with QUIT (which commits deletions) and reports the result truthfully. */
  async #endSession({ reason }) {
    // The background sync stops first, so the list below holds every deletion it made.
    await this.#stopSync();
    const n = this.#markedCount();
    if (n) {
      const ok = await this.#confirm({
        title: `Delete ${plural(n, 'message', 'messages')} and ${reason === 'refresh' ? 'refresh' : 'log out'}?`,
        text: [
          `Ending the session deletes the ${plural(n, 'marked message', 'marked messages')} from the server. This cannot be undone.`,
          'To keep them, choose Cancel and then Undo.',
        ],
        confirmLabel: `Delete ${nf.format(n)} and ${reason === 'refresh' ? 'refresh' : 'log out'}`,
      });
      if (!ok) return null;
    }
    this.#loader?.abort();
    const session = this.#session;
    const progress = this.#progress(this.#els.inboxProgress, 'Finishing the session…');
    let result;
    try {
      const r = await session.quit();
      result = { committed: !!r?.committed, deleted: r?.committed ? n : 0, error: null };
    } catch (err) {
      result = { committed: false, deleted: 0, error: err };
    } finally {
      await this.#finishSync(result?.committed === true);
      progress.done();
      try {
        session.close();
      } catch {
        /* already closed */
      }
      this.#session = null;
    }
    return { ...result, marked: n };
  }

  #resultMessages(slot, r) {
    slot.replaceChildren();
    if (r.committed) {
      const text = r.deleted ? `${plural(r.deleted, 'message', 'messages')} deleted on the server. You are logged out.` : 'You are logged out.';
      slot.append(h('p', { class: 'notice', role: 'status', text }));
    } else if (r.marked) {
      const err = r.error || { message: 'The server did not confirm the end of the session.' };
      this.#showError(slot, err, `The ${plural(r.marked, 'marked message was', 'marked messages were')} NOT deleted`);
    } else if (r.error) {
      // Nothing was marked, so nothing was lost; still say the session ended untidily.
      this.#showError(slot, r.error, 'The session did not end cleanly (nothing was deleted)');
    } else {
      slot.append(h('p', { class: 'notice', role: 'status', text: 'You are logged out.' }));
    }
  }

  async #logout() {
    if (!this.#session) return this.#toLogin();
    const r = await this.#endSession({ reason: 'logout' });
    if (!r) return;
    this.#creds = null;
    this.#toLogin();
    this.#resultMessages(this.#els.formMessages, r);
    this.#emit('pop3-logout', { committed: r.committed, deleted: r.deleted });
  }

  async #refresh() {
    // POP3 shows a snapshot of the mailbox taken at login; new mail needs a new session.
    const creds = this.#creds;
    if (!this.#session || !creds) return;
    const r = await this.#endSession({ reason: 'refresh' });
    if (!r) return;
    const e = this.#els;
    try {
      await this.#open(creds);
      this.#showInbox();
      if (r.marked || r.error) this.#resultMessages(e.inboxMessages, r);
    } catch (err) {
      this.#creds = null;
      this.#toLogin();
      this.#resultMessages(e.formMessages, r);
      this.#showError(e.formMessages, err, 'Could not reconnect');
    }
  }

  #toLogin() {
    const e = this.#els;
    this.#loader?.abort();
    this.#idle?.stop();
    this.#idle = null;
    this.#offline = false;
    e.syncLine.hidden = true;
    if (this.kiosk) this.#wipe();
    this.#closeStore();
    this.#offerOffline();
    this.#items = [];
    this.#index.clear();
    this.#parsed.clear();
    e.count.textContent = '';
    e.inboxScreen.hidden = true;
    e.loginScreen.hidden = false;
    e.reader.hidden = true;
    e.inboxMessages.replaceChildren();
    e.password.value = '';
    (e.server.value ? (e.user.value ? e.password : e.user) : e.server).focus();
  }

  // ------------------------------------------------------------------ offline store and sync

  /** Where mail is kept: 'indexeddb' | 'memory' | 'off'. Kiosk mode never writes to disk. */
  #storeMode() {
    const a = this.getAttribute('store');
    if (a === 'off') return 'off';
    if (this.kiosk || a === 'memory') return 'memory';
    if (a === 'on') return 'indexeddb';
    // The mock's 10 000 generated messages are for UI work, not for filling a real store.
    return this.getAttribute('api') === 'mock' ? 'off' : 'indexeddb';
  }

  async #wasm() {
    const api = await this.#loadApi();
    return typeof api.wasm === 'function' ? api.wasm() : null;
  }

  async #openStore(values) {
    this.#closeStore();
    this.#account = `${values.user}@${values.server}:${values.port}`;
    this.#els.deviceBtn.hidden = true;
    if (this.#storeMode() === 'off') return;
    try {
      const w = await this.#wasm();
      if (!w) return;
      this.#store = await openStore({ memory: this.#storeMode() === 'memory', hash: async (b) => w.sha256Hex(b) });
      this.#els.deviceBtn.hidden = this.kiosk;
    } catch (err) {
      this.#store = null;
      this.#syncNote(`Mail is not kept on this device: ${err?.message || err}`);
    }
  }

  #closeStore() {
    try {
      this.#store?.close();
    } catch {
      /* already closed */
    }
    this.#store = null;
  }

  /** Kiosk logout or tab close: every trace of the user this page holds goes. */
  #wipe() {
    const e = this.#els;
    this.#sync?.ctrl.abort();
    this.#sync = null;
    this.#closeStore(); // the memory store forgets everything on close
    this.#account = null;
    this.#items = [];
    this.#index.clear();
    this.#parsed.clear();
    this.#view?.destroy();
    this.#view = null;
    e.password.value = '';
    e.user.value = this.getAttribute('user') ?? '';
    e.body.replaceChildren();
    e.rHtml.replaceChildren();
    e.rAttachments.replaceChildren();
    for (const el of [e.rSubject, e.rFrom, e.rTo, e.rCc, e.rDate, e.count, e.syncLine]) el.textContent = '';
  }

  #syncNote(text) {
    const e = this.#els;
    e.syncLine.textContent = text || '';
    e.syncLine.hidden = !text;
  }

  async #settings() {
    const saved = this.#store ? await this.#store.account(this.#account).catch(() => null) : null;
    return { policy: { mode: 'leave' }, riskAccepted: false, ...saved?.settings };
  }

  /** Stored summaries fill the list at once; only unknown messages need TOP from the server. */
  async #prefillFromStore(session) {
    if (!this.#store) return;
    try {
      const [uidl, rows] = await Promise.all([session.uidl(), this.#store.summaries(this.#account)]);
      const byKey = new Map(rows.map((r) => [r.key, r]));
      for (const { msg, uid } of uidl) {
        const i = this.#index.get(msg);
        const r = byKey.get(uid);
        // A different size means the server reused the UIDL for other mail: ask the server.
        if (i === undefined || !r || r.size !== this.#items[i].size) continue;
        const date = r.dateMs == null ? null : new Date(r.dateMs);
        Object.assign(this.#items[i], { loaded: true, key: r.key, uid, kept: r.full ? 'full' : 'headers', from: r.from, subject: r.subject, date });
      }
    } catch {
      /* no UIDL or no store: the headers simply come from the server */
    }
  }

  /** The message's bytes: from this device when kept (checksum verified), else RETR. */
  async #messageBytes(it) {
    if (this.#store && it.key && it.kept === 'full') {
      try {
        return await this.#store.readMessage(this.#account, it.key);
      } catch (err) {
        // Damaged or missing copy: fetch it again when the server still has it.
        if (!this.#session || !(it.msg > 0)) throw err;
        it.kept = null;
      }
    }
    if (!this.#session || !(it.msg > 0)) {
      throw Object.assign(new Error('Only the headers of this message are kept on this device. Connect to read it.'), { code: 'offline' });
    }
    const bytes = await this.#session.retr(it.msg);
    this.#keepOnDemand(it, bytes);
    return bytes;
  }

  /** A message read before the sync kept it (or over the size limit): keep it now. */
  async #keepOnDemand(it, bytes) {
    const run = this.#sync?.run;
    if (!this.#store || !run || !it.key || run.msgOf(it.key) !== it.msg || it.kept === 'full') return;
    try {
      const summary = summaryOf(bytes, it.size);
      // The store merges this into the record the sync wrote, keeping its first-seen time.
      const known = { key: it.key, uid: it.uid ?? null, size: it.size, stored: 'full' };
      const { sha256 } = await this.#store.commitMessage(this.#account, { key: it.key, bytes, full: true, summary, known });
      run.stored(it.msg, { sha256, full: true });
      it.kept = 'full';
      this.#queueRender();
    } catch {
      /* best effort: the next sync keeps it */
    }
  }

  #itemOf(msg) {
    const i = this.#index.get(msg);
    return i === undefined ? null : this.#items[i];
  }

  async #startSync() {
    if (!this.#store || !this.#session || this.#sync) return;
    const session = this.#session;
    let w;
    try {
      w = await this.#wasm();
    } catch {
      return;
    }
    if (!w || this.#session !== session || this.#sync) return;
    const settings = await this.#settings();
    const policy = this.kiosk ? { mode: 'leave' } : settings.policy;
    const notes = [];
    // Deleting on the server needs a copy here that the browser promised not to evict.
    let allowDelete = !this.kiosk;
    if (allowDelete && policy.mode !== 'leave' && this.#store.kind === 'indexeddb' && !settings.riskAccepted && !(await requestPersistence())) {
      allowDelete = false;
      notes.push('Nothing was deleted on the server: this browser did not promise to keep the mail stored here. Allow it in “This device…”.');
    }
    const ctrl = new AbortController();
    const s = { ctrl, run: null, report: null, promise: null };
    this.#sync = s;
    this.#syncNote('Keeping your mail on this device…');
    s.promise = syncAccount({
      session,
      store: this.#store,
      account: this.#account,
      policy,
      SyncRun: w.SyncRun,
      sha256Hex: w.sha256Hex,
      signal: ctrl.signal,
      allowDelete,
      headersOf: (msg) => this.#topCache.get(msg),
      onRun: (run) => (s.run = run),
      onProgress: (p) => {
        if (p.phase === 'bodies' && this.#sync === s) {
          this.#syncNote(`Keeping your mail on this device: ${nf.format(p.done)} of ${plural(p.total, 'message', 'messages')}${p.totalBytes ? ` (${formatSize(p.bytes)} of ${formatSize(p.totalBytes)})` : ''}…`);
        }
      },
      onStored: ({ msg, key, full }) => {
        const it = this.#itemOf(msg);
        if (!it) return;
        Object.assign(it, { key, kept: full ? 'full' : it.kept === 'full' ? 'full' : 'headers' });
        this.#queueRender();
      },
    });
    s.promise = s.promise.finally(() => this.#topCache.clear()).then(
      (report) => {
        s.report = report;
        if (this.#sync === s) this.#afterSync(report, notes);
        return report;
      },
      (err) => {
        if (this.#sync === s && err?.code !== 'cancelled' && !ctrl.signal.aborted) {
          this.#syncNote(`Keeping mail on this device stopped: ${err?.message || err}. Nothing was deleted on the server; the next sync continues.`);
        }
        return null;
      },
    );
  }

  #afterSync(report, notes) {
    for (const en of report.plan?.entries ?? []) {
      const it = this.#itemOf(en.msg);
      if (it && en.key) Object.assign(it, { key: en.key, uid: en.uid ?? null });
    }
    // What the policy deletes shows like the user's own marks: listed, and undoable (RSET).
    for (const d of report.deletions) {
      const it = this.#itemOf(d.msg);
      if (it) Object.assign(it, { marked: true, byPolicy: true });
    }
    const lines = [];
    if (report.blocked) lines.push(report.blocked.message);
    if (report.error) lines.push(`${report.error.message} Nothing was deleted on the server.`);
    for (const w of report.warnings) lines.push(w.message);
    lines.push(...notes);
    const kept = this.#items.filter((x) => x.kept === 'full').length;
    const del = report.deletions.length;
    const where = this.#store?.kind === 'memory' ? "in this page's memory only (erased when you log out)" : 'on this device';
    const summary = `${plural(kept, 'message is', 'messages are')} kept ${where}${del ? `; ${plural(del, 'message', 'messages')} will be deleted from the server when you finish the session (Undo keeps ${del === 1 ? 'it' : 'them'} there)` : ''}.`;
    this.#syncNote([summary, ...lines].join(' '));
    this.#updateMarked();
    this.#render();
  }

  /** Stops the background sync and waits for it, so no DELE follows what the user saw. */
  async #stopSync() {
    const s = this.#sync;
    if (!s) return;
    if (!s.report) s.ctrl.abort();
    await s.promise;
    if (s.report) this.#afterSync(s.report, []);
  }

  /** After QUIT (or a failed one): the run records what the server really deleted. */
  async #finishSync(committed) {
    const s = this.#sync;
    this.#sync = null;
    if (!s?.run || !this.#store) return;
    try {
      await finishSync(this.#store, this.#account, s.run, committed);
      if (committed) {
        // The user's own deletions: gone from the server, so gone from here too.
        for (const it of this.#items) if (it.marked && !it.byPolicy && it.key) await this.#store.deleteLocal(this.#account, it.key);
      }
    } catch {
      /* the next sync sees the server's truth and repairs the records */
    }
  }

  /** RSET answered +OK: the policy's deletions of this session are undone too. */
  async #afterRset() {
    const run = this.#sync?.run;
    if (run && this.#store) await undoSyncDeletions(this.#store, this.#account, run).catch(() => {});
    for (const it of this.#items) it.byPolicy = false;
  }

  // --- reading what is kept, without a connection

  async #offerOffline() {
    const e = this.#els;
    e.offlineBtn.hidden = true;
    await this.#bridgeConfig;
    if (this.kiosk || this.#storeMode() !== 'indexeddb' || !globalThis.indexedDB) return;
    const r = this.#loadRemembered();
    if (!r?.server || !r?.user) return;
    try {
      const store = await openStore();
      const rows = await store.summaries(`${r.user}@${r.server}:${r.port}`);
      store.close();
      e.offlineBtn.hidden = rows.length === 0;
    } catch {
      /* no store: nothing to offer */
    }
  }

  async #openOffline() {
    const r = this.#loadRemembered();
    if (!r) return;
    const shown = await this.#showKept({ server: r.server, port: r.port, user: r.user }, `Mail kept on this device for ${r.user} on ${r.server}. Sign in to get new mail.`);
    if (shown) this.#els.grid.focus();
    else this.#showError(this.#els.formMessages, new Error('No mail is kept on this device for this account.'), 'Nothing to show offline');
  }

  /**
   * Shows the mail kept for the account of `values`, without a session (reading works; new
   * mail needs a connection). Resolves false when nothing is kept (or there is no store).
   */
  async #showKept(values, statusText) {
    const e = this.#els;
    if (this.kiosk || this.#storeMode() !== 'indexeddb' || !globalThis.indexedDB) return false;
    try {
      await this.#openStore(values);
      if (!this.#store) return false;
      const rows = await this.#store.summaries(this.#account);
      if (!rows.length) return false;
      this.#offline = true;
      this.#session = null;
      this.#creds = null;
      e.loginScreen.hidden = true;
      e.inboxScreen.hidden = false;
      e.refreshBtn.hidden = true;
      e.logoutBtn.textContent = 'Close';
      e.markedBar.hidden = true;
      e.inboxMessages.replaceChildren();
      this.#closeReader(false);
      this.#items = rows.map((x, i) => ({ msg: -(i + 1), key: x.key, kept: x.full ? 'full' : 'headers', size: x.size, loaded: true, from: x.from, subject: x.subject, date: x.dateMs == null ? null : new Date(x.dateMs), marked: false }));
      this.#index = new Map(this.#items.map((it, i) => [it.msg, i]));
      this.#active = this.#items.length ? 0 : -1;
      e.count.textContent = plural(this.#items.length, 'message', 'messages');
      e.status.replaceChildren(h('span', { class: 'badge', text: 'Offline' }), statusText);
      e.status.classList.remove('insecure');
      this.#syncNote('');
      this.#render();
      return true;
    } catch {
      return false;
    }
  }

  async #askDeleteLocal(it) {
    const ok = await this.#confirm({
      title: 'Delete this message from this device?',
      text: [['“', h('strong', { text: it.subject || '(no subject)' }), '” will be deleted from this device. This cannot be undone.'], 'If it is still on the server, it stays there (unless this account deletes on the server what you delete here).'],
      confirmLabel: 'Delete from this device',
    });
    if (!ok || !this.#store) return;
    try {
      await this.#store.deleteLocal(this.#account, it.key);
      if (this.#openMsg === it.msg) this.#closeReader();
      this.#items = this.#items.filter((x) => x !== it);
      this.#index = new Map(this.#items.map((x, i) => [x.msg, i]));
      this.#active = Math.min(this.#active, this.#items.length - 1);
      this.#els.count.textContent = plural(this.#items.length, 'message', 'messages');
      this.#render();
    } catch (err) {
      this.#showError(this.#els.inboxMessages, err, 'Could not delete the message');
    }
  }

  // --- kiosk idle logout

  #startIdle() {
    this.#idle?.stop();
    this.#idle = null;
    if (!this.kiosk) return;
    const e = this.#els;
    const secs = Number(this.getAttribute('kiosk-idle')) || 300;
    this.#idle = new IdleLogout(this, {
      idleSeconds: secs,
      warnSeconds: Math.min(30, Math.max(5, Math.floor(secs / 4))),
      onTick: (left) => {
        e.kioskCountdown.hidden = left === null;
        if (left !== null) {
          e.kioskCountdown.replaceChildren(
            h('p', { text: `No activity: you will be logged out in ${left} ${left === 1 ? 'second' : 'seconds'} and everything shown here will be erased.` }),
            h('button', { type: 'button', class: 'stay primary', text: 'Stay signed in', onclick: () => this.#idle?.touch() }),
          );
        }
      },
      onTimeout: () => this.#idleLogout(),
    });
    this.#idle.start();
  }

  async #idleLogout() {
    // Nobody is there to answer a dialog: leave-on-server means QUIT deletes only what the
    // user marked, so end without QUIT instead (POP3 then deletes nothing).
    this.#loader?.abort();
    this.#sync?.ctrl.abort();
    try {
      this.#session?.close();
    } catch {
      /* already closed */
    }
    this.#session = null;
    this.#creds = null;
    this.#toLogin();
    this.#els.formMessages.replaceChildren(h('p', { class: 'notice', role: 'status', text: 'You were logged out because nothing happened for a while. Nothing was deleted.' }));
    this.#emit('pop3-logout', { committed: false, deleted: 0, idle: true });
  }

  // --- "This device…": policy, storage, export and import

  #buildDeviceDialog() {
    const e = this.#els;
    const id = (s) => `p3-dev-${s}`;
    e.devMode = h(
      'select',
      { id: id('mode'), name: 'mode' },
      h('option', { value: 'leave', text: 'Leave mail on the server (safest)' }),
      h('option', { value: 'delete-after-download', text: 'Delete from the server once kept here' }),
      h('option', { value: 'keep-days', text: 'Delete from the server after some days' }),
      h('option', { value: 'mirror-local-deletes', text: 'Delete from the server what I delete here' }),
    );
    e.devDays = h('input', { id: id('days'), name: 'days', type: 'number', min: 1, max: 3650, value: 14 });
    e.devLimit = h('input', { id: id('limit'), name: 'limit', type: 'number', min: 0, step: 1, placeholder: 'no limit' });
    e.devRisk = h('input', { type: 'checkbox', id: id('risk'), name: 'risk' });
    e.devRiskBox = h(
      'div',
      { class: 'warning', hidden: true },
      h('p', { text: 'This browser has not promised to keep the mail stored here: it may erase it when space runs low. Mail deleted from the server would then be lost.' }),
      h('label', { class: 'check', for: id('risk') }, e.devRisk, h('span', { text: 'Delete on the server anyway' })),
    );
    e.devInfo = h('p', { class: 'hint' });
    e.devMessages = h('div', { class: 'form-messages' });
    e.devImport = h('input', { type: 'file', id: id('import'), name: 'import', accept: '.mbox,.zip,.eml,application/mbox,application/zip', hidden: true, onchange: () => this.#importArchive() });
    e.deviceDialog = h(
      'dialog',
      { class: 'device-dialog', 'aria-labelledby': id('title') },
      h(
        'form',
        { method: 'dialog', onsubmit: (ev) => this.#saveDevice(ev) },
        h('h2', { id: id('title'), text: 'Mail kept on this device' }),
        e.devInfo,
        e.devMessages,
        h('label', { class: 'field', for: id('mode') }, h('span', { text: 'After mail is kept here' }), e.devMode),
        h('label', { class: 'field', for: id('days') }, h('span', { text: 'Days to leave it on the server' }), e.devDays),
        h('label', { class: 'field', for: id('limit') }, h('span', { text: 'Keep only the headers of messages larger than (MB)' }), e.devLimit),
        e.devRiskBox,
        h(
          'div',
          { class: 'dialog-actions' },
          h('button', { type: 'button', class: 'export-mbox', text: 'Export (mbox)', onclick: () => this.#exportArchive('mbox') }),
          h('button', { type: 'button', class: 'export-zip', text: 'Export (.eml zip)', onclick: () => this.#exportArchive('zip') }),
          h('button', { type: 'button', class: 'import', text: 'Import…', onclick: () => e.devImport.click() }),
          h('label', { class: 'visually-hidden', for: id('import') }, 'Archive to import', e.devImport),
        ),
        h('div', { class: 'dialog-actions' }, h('button', { type: 'submit', value: 'cancel', class: 'cancel', text: 'Close', formnovalidate: true }), h('button', { type: 'submit', value: 'save', class: 'primary save', text: 'Save' })),
      ),
    );
    e.devMode.addEventListener('change', () => this.#deviceRiskUi());
  }

  async #deviceRiskUi() {
    const e = this.#els;
    const deletes = e.devMode.value !== 'leave';
    const persisted = deletes && this.#store?.kind === 'indexeddb' ? await requestPersistence() : true;
    e.devRiskBox.hidden = !deletes || persisted;
    e.devRisk.required = deletes && !persisted;
    e.devDays.disabled = e.devMode.value !== 'keep-days';
  }

  async #openDeviceDialog() {
    const e = this.#els;
    if (!this.#store) return;
    const st = await this.#settings();
    e.devMode.value = st.policy.mode;
    e.devDays.value = st.policy.keepDays ?? 14;
    e.devLimit.value = st.policy.sizeLimit ? Math.round(st.policy.sizeLimit / 1048576) : '';
    e.devRisk.checked = !!st.riskAccepted;
    e.devMessages.replaceChildren();
    const est = await storageEstimate();
    const kept = this.#items.filter((x) => x.kept === 'full').length;
    e.devInfo.textContent = `${plural(kept, 'message', 'messages')} of this account kept here.${est ? ` This site uses ${formatSize(est.usage)} of ${formatSize(est.quota)} available.` : ''}`;
    await this.#deviceRiskUi();
    e.deviceDialog.showModal();
  }

  async #saveDevice(ev) {
    const e = this.#els;
    if (ev.submitter?.value !== 'save') return;
    const mode = e.devMode.value;
    const policy = { mode };
    if (mode === 'keep-days') policy.keepDays = Math.max(1, Number(e.devDays.value) || 14);
    const mb = Number(e.devLimit.value);
    if (mb > 0) policy.sizeLimit = Math.round(mb * 1048576);
    try {
      const prev = (await this.#store.account(this.#account)) ?? {};
      await this.#store.saveAccount(this.#account, { ...prev, settings: { policy, riskAccepted: mode !== 'leave' && e.devRisk.checked } });
      this.#syncNote(`Saved. ${mode === 'leave' ? 'Mail stays on the server.' : 'It applies from the next sync (Refresh).'}`);
    } catch (err) {
      ev.preventDefault();
      this.#showError(e.devMessages, err, 'Could not save');
    }
  }

  /** Every full message kept for this account, with its UIDL, for export. */
  async #keptMessages() {
    const [msgs, known, rows] = await Promise.all([this.#store.allMessages(this.#account), this.#store.known(this.#account), this.#store.summaries(this.#account)]);
    const uid = new Map(known.map((k) => [k.key, k.uid ?? null]));
    const date = new Map(rows.map((r) => [r.key, r.dateMs]));
    // dateMs dates the mbox "From " line; without it the archive says 1970.
    return msgs.filter((m) => m.full).map((m) => ({ uid: uid.get(m.key) ?? null, raw: m.bytes, ...(date.get(m.key) != null && { dateMs: date.get(m.key) }) }));
  }

  async #exportArchive(kind) {
    const e = this.#els;
    try {
      const w = await this.#wasm();
      const msgs = await this.#keptMessages();
      const bytes = kind === 'zip' ? w.exportEmlZip(msgs) : w.exportMboxrd(msgs);
      const name = `${this.#account.replace(/[^A-Za-z0-9@._-]+/g, '_')}.${kind === 'zip' ? 'zip' : 'mbox'}`;
      // Octet-stream + download attribute: saved as a file, never opened by the browser.
      const url = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
      const a = h('a', { href: url, download: name, hidden: true });
      this.#root.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60000);
      e.devMessages.replaceChildren(h('p', { class: 'notice', role: 'status', text: `Exported ${plural(msgs.length, 'message', 'messages')} to ${name}.` }));
    } catch (err) {
      this.#showError(e.devMessages, err, 'Could not export');
    }
  }

  async #importArchive() {
    const e = this.#els;
    const file = e.devImport.files?.[0];
    e.devImport.value = '';
    if (!file) return;
    try {
      const w = await this.#wasm();
      const known = await this.#store.known(this.#account);
      // The engine drops what this account already has (same UIDL or the same bytes).
      const got = w.importArchive(new Uint8Array(await file.arrayBuffer()), { known, nowMs: Date.now() });
      for (const m of got.messages) {
        const key = m.record?.key || m.uid || `sha256:${m.sha256}`;
        const summary = summaryOf(m.raw, m.raw.length);
        await this.#store.commitMessage(this.#account, { key, bytes: m.raw, full: true, summary, known: { ...m.record, key } });
      }
      const n = got.messages.length;
      e.devMessages.replaceChildren(h('p', { class: 'notice', role: 'status', text: `Imported ${plural(n, 'message', 'messages')} from ${got.format}; ${plural(got.skipped, 'was', 'were')} already here.` }));
    } catch (err) {
      this.#showError(e.devMessages, err, 'Could not import');
    }
  }

  // ------------------------------------------------------------------ errors and progress

  /** Plain-language error, then the server's own words quoted, then technical details. */
  #showError(slot, err, title) {
    const message = err?.message || String(err);
    const isCert = CERT_CODES.has(err?.code);
    const box = h(
      'div',
      { class: 'error', role: 'alert' },
      h('p', { class: 'error-title', text: title }),
      h('p', { class: 'error-message', text: message }),
      err?.serverText ? h('figure', { class: 'server-text' }, h('figcaption', { text: 'The server said:' }), h('blockquote', { text: err.serverText })) : null,
      err?.detail
        ? h('details', { class: 'error-detail', open: isCert }, h('summary', { text: isCert ? 'Certificate details' : 'Technical details' }), h('pre', { text: err.detail }))
        : null,
      err?.code ? h('p', { class: 'error-code', text: `Error code: ${err.code}` }) : null,
    );
    slot.replaceChildren(box);
    box.scrollIntoView?.({ block: 'nearest' });
    this.#emit('pop3-error', { code: err?.code ?? 'unknown', message });
  }

  /** A <progress> with text, shown only if the work lasts longer than a moment. */
  #progress(slot, label) {
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
        if (t) text.textContent = t;
      },
      done() {
        clearTimeout(timer);
        if (shown && wrap.parentNode === slot) slot.replaceChildren();
      },
    };
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }
}

if (!customElements.get('pop3-inbox')) customElements.define('pop3-inbox', Pop3Inbox);
