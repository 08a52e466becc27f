// @ts-check
// Lets the stand-alone page be configured from its URL (handy for kiosks and for tests),
// e.g. index.html?api=mock&server=pop.example.org&security=stls&kiosk
// Only these attributes are copied. Not `bridge`: a crafted link must not be able to send
// the password to someone else's bridge (embedders set it in their own markup instead).
// `api=mock` only takes effect where the mock module is served (tests, development: the
// bridge's dev_pages); elsewhere <pop3-inbox> ignores it and uses the real client.
// A crafted link may also name a server: the form then shows that server prominently and
// Connect names it (inbox/account-form.js). `kiosk-idle` can only shorten the idle time the
// bridge's operator set, and `kiosk` can only turn kiosk mode on.
const ALLOWED = ['server', 'port', 'security', 'user', 'kiosk', 'kiosk-idle', 'api', 'lang'];
const params = new URLSearchParams(location.search);
const el = /** @type {HTMLElement} */ (document.querySelector('pop3-inbox'));
for (const name of ALLOWED) {
  if (params.has(name)) el.setAttribute(name, /** @type {string} */ (params.get(name)));
}
