// @ts-check
// The sign-in form: server, security and port, the no-encryption consent, an optional
// certificate fingerprint (a pin, for a server with a self-signed certificate), user,
// password, "remember" (server, user and fingerprint only, in localStorage, never in kiosk
// mode) and the offline button. It knows nothing of sessions: submitting hands the values to
// `onSubmit`.
//
// Kiosk mode (a shared device): no field invites the browser to save or fill in what was
// typed (autocomplete off), and Connect is a plain button, not a form submission a password
// manager treats as a login.
//
// A mail server taken from the page's URL (index.js copies `?server=`) may come from a
// crafted link: it is shown prominently next to Connect, which names it ("Connect to …"),
// so signing in is a confirmation of that server. Typing another server removes the note.

import { h, setText } from './dom.js';
import { accountId, rememberAccount, rememberedAccounts, forgetAccount } from './accounts.js';

/**
 * @import { Security } from '../types.js'
 * @import { I18n } from '../i18n/index.js'
 */

/**
 * What the user typed (`values()`): the account and the password for one sign-in.
 * @typedef {object} AccountValues
 * @property {string} server
 * @property {number} port
 * @property {Security} security
 * @property {string} user
 * @property {string} password
 * @property {boolean} allowInsecure consent to send the password without encryption
 * @property {string | undefined} [pin] the server certificate's SHA-256 (64 lowercase hex digits) the user
 *   trusts, or '' (none; always '' without encryption)
 */

/**
 * What "remember" keeps in localStorage (never the password; the pin is no secret).
 * @typedef {{ server?: string, port?: string, security?: string, user?: string, pin?: string }} RememberedAccount
 */

/**
 * The form's elements.
 * @typedef {object} AccountFormEls
 * @property {HTMLInputElement} server
 * @property {HTMLSelectElement} security
 * @property {HTMLInputElement} port
 * @property {HTMLInputElement} acceptInsecure
 * @property {HTMLDivElement} insecureWarning
 * @property {HTMLDivElement} pinField the fingerprint's label, input, hint and error
 * @property {HTMLInputElement} pin
 * @property {HTMLParagraphElement} pinError
 * @property {HTMLInputElement} user
 * @property {HTMLInputElement} password
 * @property {HTMLInputElement} remember
 * @property {HTMLLabelElement} rememberLabel
 * @property {HTMLParagraphElement} kioskHint
 * @property {HTMLDivElement} urlServerNote the server came from the page URL: check it
 * @property {HTMLButtonElement} connectBtn
 * @property {HTMLButtonElement} offlineBtn
 * @property {HTMLDivElement} formMessages
 * @property {HTMLDivElement} formProgress
 * @property {HTMLFieldSetElement} fieldset
 * @property {HTMLFormElement} form
 * @property {HTMLElement} loginScreen
 */

const STORAGE_KEY = 'pop3-inbox:account';

/**
 * A parameter of the page's URL, or null (also without a page).
 * @param {string} name
 */
function urlParam(name) {
  try {
    return new URLSearchParams(globalThis.location?.search ?? '').get(name);
  } catch {
    return null;
  }
}
/**
 * A certificate fingerprint as typed: '' when empty, the 64 lowercase hex digits of a SHA-256
 * (colons and spaces between them allowed, and openssl's "sha256 Fingerprint=" before them),
 * or null when it is not one.
 * @param {string} text
 * @returns {string | null}
 */
export function normalizePin(text) {
  let s = text.trim();
  if (!s) return '';
  const eq = s.lastIndexOf('=');
  if (eq >= 0 && /fingerprint\s*$/i.test(s.slice(0, eq))) s = s.slice(eq + 1);
  s = s.replace(/[\s:]/g, '');
  return /^[0-9a-f]{64}$/i.test(s) ? s.toLowerCase() : null;
}

/** @type {Readonly<Record<string, number>>} */
export const DEFAULT_PORTS = { tls: 995, stls: 110, plain: 110 };

export class AccountForm {
  els = /** @type {AccountFormEls} */ ({});
  #host; // the element: its attributes and kiosk mode
  #i18n; // the element's language (web/i18n/)
  #lastSecurity = 'tls';
  /** @type {string | null} */
  #urlServer = null; // the server as the page URL gave it (to be confirmed), or null

  /**
   * `host`: the <pop3-inbox> element; `onSubmit(ev)`, `onOffline()`: the element's handlers.
   * `onSubmit` gets the form's submit event, or null in kiosk mode (no form submission).
   * @param {HTMLElement} host
   * @param {I18n} i18n
   * @param {{ onSubmit: (ev: Event | null) => void, onOffline: () => void }} actions
   */
  constructor(host, i18n, { onSubmit, onOffline }) {
    this.#host = host;
    this.#i18n = i18n;
    const t = i18n.t.bind(i18n);
    const e = this.els;
    const id = (/** @type {string} */ s) => `p3-${s}`;
    e.server = h('input', { id: id('server'), name: 'server', required: true, autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', inputmode: 'url', placeholder: t('form.serverPlaceholder'), oninput: () => this.#showUrlServer() });
    e.security = h(
      'select',
      { id: id('security'), name: 'security', onchange: () => this.#onSecurityChange() },
      h('option', { value: 'tls', text: t('form.securityTls') }),
      h('option', { value: 'stls', text: t('form.securityStls') }),
      h('option', { value: 'plain', text: t('form.securityPlain') }),
    );
    e.port = h('input', { id: id('port'), name: 'port', type: 'number', min: 1, max: 65535, required: true, inputmode: 'numeric', value: 995 });
    e.acceptInsecure = h('input', { type: 'checkbox', name: 'acceptInsecure', id: id('accept-insecure') });
    e.insecureWarning = h(
      'div',
      { class: 'warning', id: id('insecure-warning'), hidden: true },
      h('p', {}, h('strong', { text: t('form.insecureStrong') }), ' ', t('form.insecureText')),
      h('label', { class: 'check', for: id('accept-insecure') }, e.acceptInsecure, h('span', { text: t('form.insecureAccept') })),
    );
    // Optional trust for a server whose certificate no CA vouches for (self-signed): its
    // SHA-256 pin. Only TLS that ends in the page can use it (see the controller's open()).
    e.pin = h('input', {
      id: id('pin'),
      name: 'pin',
      autocomplete: 'off',
      autocapitalize: 'none',
      spellcheck: 'false',
      placeholder: t('form.pinPlaceholder'),
      'aria-describedby': `${id('pin-hint')} ${id('pin-error')}`,
      oninput: () => this.#showPinError(false),
    });
    e.pinError = h('p', { class: 'field-error', id: id('pin-error'), hidden: true });
    e.pinField = h(
      'div',
      { class: 'field' },
      h('label', { class: 'field-label', for: id('pin') }, t('form.pin'), ' ', h('span', { class: 'optional', text: t('form.optional') })),
      e.pin,
      h('p', { class: 'field-hint', id: id('pin-hint') }, t('form.pinHintBefore'), ' ', h('code', { text: 'openssl x509 -noout -fingerprint -sha256' }), t('form.pinHintAfter')),
      e.pinError,
    );
    e.user = h('input', { id: id('user'), name: 'user', required: true, autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false' });
    e.password = h('input', { id: id('password'), name: 'password', type: 'password', required: true, autocomplete: 'current-password' });
    e.remember = h('input', { type: 'checkbox', name: 'remember', id: id('remember') });
    e.rememberLabel = h('label', { class: 'check', for: id('remember') }, e.remember, h('span', { text: t('form.remember') }));
    e.kioskHint = h('p', { class: 'hint', hidden: true, text: t('form.kioskHint') });
    e.urlServerNote = h('div', { class: 'warning url-server', id: id('url-server'), hidden: true });
    // In kiosk mode a plain button (see applyDefaults); otherwise it submits the form.
    e.connectBtn = h('button', { type: 'submit', class: 'primary connect', text: t('form.connect'), onclick: () => this.#kiosk && onSubmit(null) });
    e.offlineBtn = h('button', { type: 'button', class: 'offline', hidden: true, text: t('form.offline'), onclick: onOffline });
    e.formMessages = h('div', { class: 'form-messages' });
    e.formProgress = h('div', { class: 'progress-slot' });
    e.fieldset = h(
      'fieldset',
      {},
      h('label', { class: 'field', for: id('server') }, h('span', { text: t('form.server') }), e.server),
      h(
        'div',
        { class: 'field-row' },
        h('label', { class: 'field', for: id('security') }, h('span', { text: t('form.security') }), e.security),
        h('label', { class: 'field', for: id('port') }, h('span', { text: t('form.port') }), e.port),
      ),
      e.insecureWarning,
      e.pinField,
      h('label', { class: 'field', for: id('user') }, h('span', { text: t('form.user') }), e.user),
      h('label', { class: 'field', for: id('password') }, h('span', { text: t('form.password') }), e.password),
      e.rememberLabel,
      e.kioskHint,
      e.urlServerNote,
      e.connectBtn,
      e.offlineBtn,
    );
    e.form = h(
      'form',
      {
        class: 'card',
        'aria-labelledby': id('login-title'),
        onsubmit: (/** @type {SubmitEvent} */ ev) => onSubmit(ev),
        // Kiosk mode: Enter in a field signs in without a form submission.
        onkeydown: (/** @type {KeyboardEvent} */ ev) => {
          const t = /** @type {Element | null} */ (ev.target);
          if (this.#kiosk && ev.key === 'Enter' && !ev.isComposing && t?.tagName === 'INPUT') {
            ev.preventDefault();
            onSubmit(null);
          }
        },
      },
      h('h1', { id: id('login-title'), text: t('form.title') }),
      h('p', { class: 'lead', text: t('form.lead') }),
      e.formMessages,
      e.fieldset,
      e.formProgress,
    );
    e.loginScreen = h('section', { class: 'screen login', 'aria-label': t('form.screen') }, e.form);
    this.#setSecurityUi();
  }

  get #kiosk() {
    return this.#host.hasAttribute('kiosk');
  }

  applyDefaults() {
    const e = this.els;
    const stored = this.loadRemembered();
    const pick = (/** @type {keyof RememberedAccount} */ name) => stored?.[name] ?? this.#host.getAttribute(name);
    // Recomputed from scratch each time: attributes may be set after the element upgraded
    // (e.g. `kiosk` added by script), and stale remembered values must not survive that.
    const sec = pick('security');
    e.security.value = sec && DEFAULT_PORTS[sec] ? sec : 'tls';
    e.server.value = pick('server') ?? '';
    e.port.value = String(pick('port') ?? DEFAULT_PORTS[e.security.value]);
    e.user.value = pick('user') ?? '';
    // Only remembered (never an attribute: the page gives trust through `tlsTrust`).
    e.pin.value = stored?.pin ?? '';
    this.#showPinError(false);
    e.remember.checked = !!stored;
    e.remember.disabled = this.#kiosk;
    e.rememberLabel.classList.toggle('disabled', this.#kiosk);
    e.kioskHint.hidden = !this.#kiosk;
    if (this.#kiosk) e.remember.checked = false;
    // Shared device: nothing typed here is offered for saving or filled in from a saved login.
    const k = this.#kiosk;
    e.user.autocomplete = k ? 'off' : 'username';
    e.password.autocomplete = k ? 'off' : 'current-password';
    e.form.autocomplete = k ? 'off' : 'on';
    e.connectBtn.type = k ? 'button' : 'submit';
    // A server the page URL gave (and the user did not remember themselves) is to be confirmed.
    const fromUrl = urlParam('server');
    this.#urlServer = !stored?.server && fromUrl && fromUrl === e.server.value ? fromUrl : null;
    this.#showUrlServer();
    this.#setSecurityUi();
  }

  /** While the server is the one the page URL gave: the note, and Connect names the server. */
  #showUrlServer() {
    const e = this.els;
    const server = e.server.value.trim();
    const show = !!this.#urlServer && server === this.#urlServer.trim();
    e.urlServerNote.hidden = !show;
    const t = this.#i18n.t.bind(this.#i18n);
    setText(e.connectBtn, show ? t('form.connectTo', { server }) : t('form.connect'));
    if (show) {
      e.urlServerNote.replaceChildren(
        h('p', {}, h('strong', { text: t('form.urlServerStrong') }), ' ', t('form.urlServerText')),
        h('p', { class: 'url-server-name' }, h('strong', { text: server })),
        h('p', { text: t('form.urlServerCheck') }),
      );
      // Larger than the text around it (CSSOM, allowed by a strict CSP: no style attribute).
      /** @type {HTMLElement} */ (e.urlServerNote.querySelector('.url-server-name')).style.fontSize = '1.3em';
      e.connectBtn.setAttribute('aria-describedby', e.urlServerNote.id);
    } else {
      e.urlServerNote.replaceChildren();
      e.connectBtn.removeAttribute('aria-describedby');
    }
  }

  /** @returns {RememberedAccount | null} */
  loadRemembered() {
    if (this.#kiosk) return null; // shared device: never read another user's details
    try {
      const v = JSON.parse(localStorage.getItem(STORAGE_KEY) || 'null');
      return v && typeof v === 'object' ? v : null;
    } catch {
      return null; // storage disabled or corrupt: behave as if nothing was remembered
    }
  }

  /** @param {AccountValues} values */
  saveRemembered(values) {
    if (this.#kiosk) return;
    try {
      if (this.els.remember.checked) {
        // Deliberately only these fields: the password is never stored (the pin is no secret).
        const { server, port, security, user, pin } = values;
        localStorage.setItem(STORAGE_KEY, JSON.stringify({ server, port: String(port), security, user, ...(pin ? { pin } : {}) }));
        rememberAccount({ server, port: String(port), security, user, ...(pin ? { pin } : {}) });
      } else {
        // Not remembered: this account goes; another one remembered before stays.
        const last = this.loadRemembered();
        if (!last || accountId(last) === accountId(values) || !last.server) localStorage.removeItem(STORAGE_KEY);
        forgetAccount(accountId(values));
      }
    } catch {
      /* storage unavailable (private mode, quota): remembering is best effort */
    }
  }

  /**
   * Every remembered account (several accounts, inbox/accounts.js), the one the form fills in
   * first among them; none in kiosk mode.
   * @returns {RememberedAccount[]}
   */
  rememberedList() {
    if (this.#kiosk) return [];
    const last = this.loadRemembered();
    const list = rememberedAccounts();
    return last?.server && last.user && !list.some((a) => accountId(a) === accountId(last)) ? [last, ...list] : list;
  }

  /**
   * No longer remembers the account `id` (in the list, and as the form's default).
   * @param {string} id
   */
  forget(id) {
    forgetAccount(id);
    const last = this.loadRemembered();
    try {
      if (last && accountId(last) === id) localStorage.removeItem(STORAGE_KEY);
    } catch {
      /* storage unavailable */
    }
    this.applyDefaults();
  }

  /**
   * The form for an account of the list (its password asked for), or empty for a new one.
   * "Remember" stays ticked for a remembered account; one known only by its kept mail is not
   * remembered unless the user ticks it.
   * @param {RememberedAccount | null} a
   * @param {boolean} [remembered]
   */
  fillAccount(a, remembered = false) {
    const e = this.els;
    const security = /** @type {import('../types.js').Security} */ (a?.security && DEFAULT_PORTS[a.security] ? a.security : 'tls');
    this.prefill({ server: a?.server ?? '', port: Number(a?.port) || DEFAULT_PORTS[security], security, user: a?.user ?? '', allowInsecure: false, pin: a?.pin ?? '' });
    e.remember.checked = !this.#kiosk && remembered;
    this.els.formMessages.replaceChildren();
    this.focusFirst();
  }

  /**
   * What the user typed; the password only lives here until the session opens.
   * @returns {AccountValues}
   */
  values() {
    const e = this.els;
    return {
      server: e.server.value.trim(),
      port: Number(e.port.value),
      security: /** @type {Security} */ (e.security.value),
      user: e.user.value,
      password: e.password.value,
      allowInsecure: e.security.value === 'plain' && e.acceptInsecure.checked,
      // Checked by checkPin() before; without encryption there is no certificate to pin.
      pin: e.security.value === 'plain' ? '' : (normalizePin(e.pin.value) ?? ''),
    };
  }

  /**
   * Whether the fingerprint is empty or well formed; if not, the error shows under it and the
   * field has the focus (sign-in does not start).
   * @returns {boolean}
   */
  checkPin() {
    const e = this.els;
    const ok = e.security.value === 'plain' || normalizePin(e.pin.value) !== null;
    this.#showPinError(!ok);
    if (!ok) e.pin.focus();
    return ok;
  }

  /** @param {boolean} on */
  #showPinError(on) {
    const e = this.els;
    e.pinError.hidden = !on;
    setText(e.pinError, on ? this.#i18n.t('form.pinError') : '');
    if (on) e.pin.setAttribute('aria-invalid', 'true');
    else e.pin.removeAttribute('aria-invalid');
  }

  /**
   * The form filled for `account` again, with an empty password (kiosk mode's Refresh: the
   * password is not kept after sign-in, so a new session asks for it).
   * @param {Omit<AccountValues, 'password'>} account
   */
  prefill({ server, port, security, user, allowInsecure, pin }) {
    const e = this.els;
    e.security.value = DEFAULT_PORTS[security] ? security : 'tls';
    this.#setSecurityUi();
    e.server.value = server;
    e.port.value = String(port);
    e.user.value = user;
    e.acceptInsecure.checked = e.security.value === 'plain' && allowInsecure;
    e.pin.value = pin ?? '';
    this.#showPinError(false);
    e.password.value = '';
    this.#showUrlServer();
  }

  /** While connecting: the fields are disabled and the form is busy. */
  /** @param {boolean} on */
  busy(on) {
    const e = this.els;
    e.fieldset.disabled = on;
    if (on) e.form.setAttribute('aria-busy', 'true');
    else e.form.removeAttribute('aria-busy');
  }

  /**
   * Return the user to where they can fix the error `code`.
   * @param {string | undefined} code
   */
  focusFor(code) {
    const e = this.els;
    const field = code === 'auth_failed' ? e.password : code?.startsWith?.('cert_') || code === 'target_refused' ? e.server : null;
    // No scrolling: the error box above stays in view, and the field is just below it.
    (field || e.connectBtn).focus({ preventScroll: true });
  }

  /** Back on the form: the first empty field has the focus. */
  focusFirst() {
    const e = this.els;
    (e.server.value ? (e.user.value ? e.password : e.user) : e.server).focus();
  }

  #onSecurityChange() {
    const e = this.els;
    const prev = this.#lastSecurity;
    const next = e.security.value;
    // Follow the security choice only if the port is still the previous default, so a
    // custom port the user typed is never overwritten.
    if (!e.port.value || Number(e.port.value) === DEFAULT_PORTS[prev]) e.port.value = String(DEFAULT_PORTS[next]);
    this.#setSecurityUi();
  }

  #setSecurityUi() {
    const e = this.els;
    const plain = e.security.value === 'plain';
    this.#lastSecurity = e.security.value;
    e.insecureWarning.hidden = !plain;
    // No certificate without encryption: nothing to pin.
    e.pinField.hidden = plain;
    if (plain) this.#showPinError(false);
    // `required` makes the browser block submission (and focus the box) until it is ticked.
    e.acceptInsecure.required = plain;
    if (!plain) e.acceptInsecure.checked = false;
  }
}
