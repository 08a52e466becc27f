// @ts-check
// The sign-in form: server, security and port, the no-encryption consent, user, password,
// "remember" (server and user only, in localStorage, never in kiosk mode) and the offline
// button. It knows nothing of sessions: submitting hands the values to `onSubmit`.

import { h } from './dom.js';

/** @import { Security } from '../types.js' */

/**
 * What the user typed (`values()`): the account and the password for one sign-in.
 * @typedef {object} AccountValues
 * @property {string} server
 * @property {number} port
 * @property {Security} security
 * @property {string} user
 * @property {string} password
 * @property {boolean} allowInsecure consent to send the password without encryption
 */

/**
 * What "remember" keeps in localStorage (never the password).
 * @typedef {{ server?: string, port?: string, security?: string, user?: string }} RememberedAccount
 */

/**
 * The form's elements.
 * @typedef {object} AccountFormEls
 * @property {HTMLInputElement} server
 * @property {HTMLSelectElement} security
 * @property {HTMLInputElement} port
 * @property {HTMLInputElement} acceptInsecure
 * @property {HTMLDivElement} insecureWarning
 * @property {HTMLInputElement} user
 * @property {HTMLInputElement} password
 * @property {HTMLInputElement} remember
 * @property {HTMLLabelElement} rememberLabel
 * @property {HTMLParagraphElement} kioskHint
 * @property {HTMLButtonElement} connectBtn
 * @property {HTMLButtonElement} offlineBtn
 * @property {HTMLDivElement} formMessages
 * @property {HTMLDivElement} formProgress
 * @property {HTMLFieldSetElement} fieldset
 * @property {HTMLFormElement} form
 * @property {HTMLElement} loginScreen
 */

const STORAGE_KEY = 'pop3-inbox:account';
/** @type {Readonly<Record<string, number>>} */
export const DEFAULT_PORTS = { tls: 995, stls: 110, plain: 110 };

export class AccountForm {
  els = /** @type {AccountFormEls} */ ({});
  #host; // the element: its attributes and kiosk mode
  #lastSecurity = 'tls';

  /**
   * `host`: the <pop3-inbox> element; `onSubmit(ev)`, `onOffline()`: the element's handlers.
   * @param {HTMLElement} host
   * @param {{ onSubmit: (ev: SubmitEvent) => void, onOffline: () => void }} actions
   */
  constructor(host, { onSubmit, onOffline }) {
    this.#host = host;
    const e = this.els;
    const id = (/** @type {string} */ s) => `p3-${s}`;
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
    e.offlineBtn = h('button', { type: 'button', class: 'offline', hidden: true, text: 'Read mail kept on this device (offline)', onclick: onOffline });
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
      { class: 'card', 'aria-labelledby': id('login-title'), onsubmit: onSubmit },
      h('h1', { id: id('login-title'), text: 'Sign in to your mail' }),
      h('p', { class: 'lead', text: 'Read your POP3 mailbox in the browser.' }),
      e.formMessages,
      e.fieldset,
      e.formProgress,
    );
    e.loginScreen = h('section', { class: 'screen login', 'aria-label': 'Account' }, e.form);
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
    e.remember.checked = !!stored;
    e.remember.disabled = this.#kiosk;
    e.rememberLabel.classList.toggle('disabled', this.#kiosk);
    e.kioskHint.hidden = !this.#kiosk;
    if (this.#kiosk) e.remember.checked = false;
    this.#setSecurityUi();
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
    };
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
    // `required` makes the browser block submission (and focus the box) until it is ticked.
    e.acceptInsecure.required = plain;
    if (!plain) e.acceptInsecure.checked = false;
  }
}
