// @ts-check
// Styles of <pop3-inbox>, kept in a JS module so they can be adopted as a constructable
// stylesheet: that works under a strict Content-Security-Policy (no 'unsafe-inline' needed)
// and never leaks into, or is affected by, the embedding page.
//
// Theming: embedders may set the --pop3-* custom properties on the element.

export const CSS = `
:host {
  --accent: var(--pop3-accent, #2457d6);
  --accent-fg: var(--pop3-accent-fg, #ffffff);
  --bg: var(--pop3-bg, #f5f6f8);
  --surface: var(--pop3-surface, #ffffff);
  --fg: var(--pop3-fg, #1b1e24);
  --muted: var(--pop3-muted, #5b6270);
  --border: var(--pop3-border, #d9dde4);
  --hover: var(--pop3-hover, #eef2fb);
  --selected: var(--pop3-selected, #dfe8fd);
  --danger: var(--pop3-danger, #b3261e);
  --danger-bg: var(--pop3-danger-bg, #fdecea);
  --danger-fg: var(--pop3-danger-fg, #ffffff);
  --warn: var(--pop3-warn, #7a4b00);
  --warn-bg: var(--pop3-warn-bg, #fff4d6);
  --ok: var(--pop3-ok, #176b3a);
  --ok-bg: var(--pop3-ok-bg, #e6f4ea);
  --focus: var(--pop3-focus, #ffb000);
  --radius: 10px;
  --row: 56px;
  --tap: 44px;

  display: block;
  container-type: inline-size;
  height: 100%;
  min-height: 26rem;
  box-sizing: border-box;
  background: var(--bg);
  color: var(--fg);
  font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans", sans-serif;
}
@media (prefers-color-scheme: dark) {
  :host {
    --accent: var(--pop3-accent, #8ab0ff);
    --accent-fg: var(--pop3-accent-fg, #0b1530);
    --bg: var(--pop3-bg, #15171c);
    --surface: var(--pop3-surface, #1e2128);
    --fg: var(--pop3-fg, #e8eaef);
    --muted: var(--pop3-muted, #a4abb8);
    --border: var(--pop3-border, #363b46);
    --hover: var(--pop3-hover, #262b36);
    --selected: var(--pop3-selected, #2c3a5c);
    --danger: var(--pop3-danger, #ffb4ab);
    --danger-bg: var(--pop3-danger-bg, #3b1512);
    --danger-fg: var(--pop3-danger-fg, #410e0b);
    --warn: var(--pop3-warn, #ffd78a);
    --warn-bg: var(--pop3-warn-bg, #3a2c0a);
    --ok: var(--pop3-ok, #8fd9a8);
    --ok-bg: var(--pop3-ok-bg, #12301d);
  }
}
@media (pointer: coarse) {
  :host { --tap: 48px; --row: 60px; }
}
*, *::before, *::after { box-sizing: inherit; }
[hidden] { display: none !important; }

/* Visible focus everywhere, including for touch-kiosk keyboards. */
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }

.visually-hidden {
  position: absolute !important; width: 1px; height: 1px; overflow: hidden;
  clip: rect(0 0 0 0); clip-path: inset(50%); white-space: nowrap;
}

button {
  font: inherit; min-height: var(--tap); min-width: var(--tap);
  padding: 0 1.1rem; border-radius: 8px; cursor: pointer;
  border: 1px solid var(--border); background: var(--surface); color: var(--fg);
}
button:hover { background: var(--hover); }
button.primary { background: var(--accent); border-color: var(--accent); color: var(--accent-fg); font-weight: 600; }
button.primary:hover { filter: brightness(1.08); }
button.danger { background: var(--danger); border-color: var(--danger); color: var(--danger-fg); font-weight: 600; }
button.link { border: none; background: none; color: var(--accent); text-decoration: underline; padding: 0 .5rem; }
button:disabled { opacity: .55; cursor: not-allowed; }
/* Small, quick feedback; none at all for whoever asks for reduced motion (below). */
button, .row { transition: background-color .12s ease-out, border-color .12s ease-out, filter .12s ease-out; }

.screen { height: 100%; }

/* ---------- Account form ---------- */
.login { display: flex; align-items: flex-start; justify-content: center; overflow: auto; padding: 2rem 1rem; }
.card {
  width: 100%; max-width: 30rem; background: var(--surface); border: 1px solid var(--border);
  border-radius: 16px; padding: 1.75rem; box-shadow: 0 6px 24px rgb(20 30 60 / 8%);
}
.card h1 { font-size: 1.5rem; margin: 0 0 .25rem; }

/* ---------- Several accounts (inbox/accounts.js): beside the form, above it when narrow ---------- */
.login { flex-wrap: wrap; gap: 1rem; }
.accounts h2 { font-size: 1.15rem; margin: 0 0 .75rem; }
.account-list { list-style: none; margin: 0 0 1rem; padding: 0; display: flex; flex-direction: column; gap: .6rem; }
.account-entry { display: flex; flex-wrap: wrap; align-items: center; gap: .25rem .6rem; padding-bottom: .6rem; border-bottom: 1px solid var(--border); }
.account-name { font-weight: 600; overflow-wrap: anywhere; }
.account-kept { color: var(--muted); font-size: .9rem; }
.account-buttons { display: flex; flex-wrap: wrap; gap: .4rem; width: 100%; }
.account-actions { display: flex; flex-wrap: wrap; gap: .5rem; }
.account-badge {
  display: inline-block; max-width: 8rem; overflow: hidden; text-overflow: ellipsis; vertical-align: bottom;
  padding: 0 .45rem; margin-right: .3rem; border-radius: 999px; border: 1px solid var(--border);
  background: var(--selected); font-size: .8rem; font-weight: 600;
}
.card .lead { margin: 0 0 1.25rem; color: var(--muted); }
fieldset { border: none; margin: 0; padding: 0; min-width: 0; }
.field { display: flex; flex-direction: column; gap: .3rem; margin-bottom: 1rem; }
.field > span { font-weight: 600; font-size: .95rem; }
.field > .field-label { font-weight: 600; font-size: .95rem; }
.field-label .optional { font-weight: 400; color: var(--muted); }
.field-hint { color: var(--muted); font-size: .9rem; margin: 0; }
.field-hint code { font-size: .85rem; overflow-wrap: anywhere; }
.field-error { color: var(--danger); font-weight: 600; margin: 0; }
input[aria-invalid="true"] { border-color: var(--danger); }
.field-row { display: grid; grid-template-columns: 1fr 7.5rem; gap: .75rem; }
input, select {
  font: inherit; color: var(--fg); background: var(--surface);
  min-height: 48px; padding: 0 .75rem; border: 1px solid var(--border); border-radius: 8px; width: 100%;
}
input:focus-visible, select:focus-visible { border-color: var(--accent); }
.check { display: flex; gap: .65rem; align-items: flex-start; margin: .25rem 0 1rem; cursor: pointer; }
.check input { width: 1.35rem; height: 1.35rem; min-height: 0; margin: .1rem 0 0; flex: none; accent-color: var(--accent); }
.check.disabled { color: var(--muted); cursor: not-allowed; }
.hint { color: var(--muted); font-size: .9rem; margin: -.6rem 0 1rem 2rem; }
.connect { width: 100%; min-height: 52px; font-size: 1.05rem; }

.warning {
  background: var(--warn-bg); color: var(--warn); border: 1px solid currentColor;
  border-radius: var(--radius); padding: .85rem 1rem; margin: 0 0 1rem;
}
.warning p { margin: 0 0 .6rem; }
.warning .check { margin: 0; color: var(--fg); }

.notice {
  background: var(--ok-bg); color: var(--ok); border-radius: var(--radius);
  padding: .85rem 1rem; margin: 0 0 1rem; font-weight: 600;
}

/* ---------- Errors: message first, the server's own words quoted, details on demand ---------- */
.error {
  background: var(--danger-bg); color: var(--fg); border-left: 5px solid var(--danger);
  border-radius: var(--radius); padding: .85rem 1rem; margin: 0 0 1rem;
}
.error .error-title { margin: 0 0 .25rem; color: var(--danger); font-weight: 700; }
.error .error-message { margin: 0; font-size: 1.05rem; }
.error figure { margin: .6rem 0 0; }
.error figcaption { font-size: .85rem; color: var(--muted); }
.error blockquote {
  margin: .2rem 0 0; padding: .4rem .7rem; border-left: 3px solid var(--border);
  background: var(--surface); font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .9rem;
  white-space: pre-wrap; overflow-wrap: anywhere;
}
.error details { margin-top: .6rem; }
.error summary { cursor: pointer; min-height: 32px; display: list-item; }
.error pre { white-space: pre-wrap; overflow-wrap: anywhere; margin: .3rem 0 0; font-size: .85rem; }
.error .error-code { margin: .5rem 0 0; font-size: .8rem; color: var(--muted); }
.error .error-actions { margin-top: .6rem; }

/* ---------- Progress ---------- */
.progress { display: flex; align-items: center; gap: .75rem; margin: .5rem 0; color: var(--muted); font-size: .9rem; }
.progress progress { flex: 1; height: .6rem; accent-color: var(--accent); min-width: 6rem; }

/* ---------- Inbox ---------- */
.inbox { display: flex; flex-direction: column; min-height: 0; }
.toolbar {
  display: flex; align-items: center; gap: .6rem; flex-wrap: wrap;
  padding: .6rem 1rem; background: var(--surface); border-bottom: 1px solid var(--border);
}
.toolbar .title { display: flex; align-items: baseline; gap: .6rem; margin-right: auto; min-width: 0; }
.toolbar h1 { margin: 0; font-size: 1.25rem; }
.toolbar .count { color: var(--muted); }
.toolbar select.check-interval { width: auto; }
.statusline {
  margin: 0; padding: .35rem 1rem; font-size: .85rem; color: var(--muted);
  background: var(--surface); border-bottom: 1px solid var(--border); overflow-wrap: anywhere;
}
.badge { display: inline-block; padding: .05rem .55rem; border-radius: 999px; font-weight: 600; margin-right: .35rem; }
.badge.secure { background: var(--ok-bg); color: var(--ok); }
.badge.insecure { background: var(--warn-bg); color: var(--warn); border: 1px solid currentColor; }
.inbox-messages { padding: 0 1rem; }
.inbox-messages:empty { display: none; }
.inbox-messages > :first-child { margin-top: .75rem; }
.marked-bar {
  display: flex; align-items: center; gap: .75rem; flex-wrap: wrap; margin: .75rem 0 0;
  padding: .5rem .5rem .5rem 1rem; border-radius: var(--radius); background: var(--warn-bg); color: var(--warn);
}
.marked-bar p { margin: 0; margin-right: auto; }

.panes { flex: 1; min-height: 0; display: flex; position: relative; }
.list-pane { flex: 1; min-width: 0; display: flex; flex-direction: column; }
.grid { flex: 1; min-height: 0; overflow-y: auto; overflow-x: hidden; background: var(--surface); position: relative; }
.grid:focus-visible { outline-offset: -3px; }
.grid.has-active:focus-visible { outline: none; }
.cols {
  display: grid; grid-template-columns: minmax(7rem, 2fr) minmax(9rem, 5fr) 7.5rem 4.5rem;
  gap: 1rem; align-items: center; padding: 0 1rem;
}
.head {
  position: sticky; top: 0; z-index: 1; height: 40px; background: var(--surface);
  border-bottom: 1px solid var(--border); font-size: .8rem; font-weight: 700;
  text-transform: uppercase; letter-spacing: .04em; color: var(--muted);
}
.body { position: relative; }
.row {
  position: absolute; left: 0; right: 0; top: 0; height: var(--row);
  border-bottom: 1px solid var(--border); cursor: pointer; user-select: none;
}
.row:hover { background: var(--hover); }
.row.active { background: var(--selected); }
.grid:focus .row.active { box-shadow: inset 4px 0 0 var(--accent); }
.grid:focus-visible .row.active { outline: 3px solid var(--focus); outline-offset: -3px; }
.cell { overflow: hidden; white-space: nowrap; text-overflow: ellipsis; min-width: 0; }
.from { font-weight: 600; }
.date, .size { color: var(--muted); font-size: .9rem; font-variant-numeric: tabular-nums; }
.size { text-align: right; }
.head .size { font-size: inherit; color: inherit; }
.row.loading .from, .row.loading .subject { color: var(--muted); font-weight: 400; font-style: italic; }
.row.marked .from, .row.marked .subject, .row.marked .date { text-decoration: line-through; color: var(--muted); }
.row .undo { min-height: 36px; padding: 0 .6rem; font-size: .9rem; }
.empty { padding: 3rem 1rem; text-align: center; color: var(--muted); }

/* ---------- Reader ---------- */
.reader {
  flex: 1.2; min-width: 0; display: flex; flex-direction: column; overflow: auto;
  background: var(--surface); border-left: 1px solid var(--border);
}
.reader-head { padding: 1rem 1.25rem .75rem; border-bottom: 1px solid var(--border); }
.reader-bar { display: flex; gap: .5rem; flex-wrap: wrap; margin-bottom: .75rem; }
.reader-bar .spacer { flex: 1; }
.reader h2 { margin: 0 0 .6rem; font-size: 1.3rem; overflow-wrap: anywhere; }
.reader h2:focus { outline: none; }
.reader h2:focus-visible { outline: 3px solid var(--focus); }
.reader dl { display: grid; grid-template-columns: max-content 1fr; gap: .15rem .75rem; margin: 0; font-size: .95rem; }
.reader dt { color: var(--muted); }
.reader dd { margin: 0; overflow-wrap: anywhere; }
.reader .marked-note { margin: .75rem 0 0; padding: .5rem .75rem; border-radius: 8px; background: var(--warn-bg); color: var(--warn); }
.reader-main { padding: 1rem 1.25rem 2rem; }
.message-body { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0; font: inherit; line-height: 1.55; }
.message-note { color: var(--muted); font-style: italic; }

/* Message body (message-view.js): the sandboxed frame cannot report its height (no scripts,
   no same-origin), so it fills the reader and scrolls inside. The plain text has a frame of
   its own (.message-text-frame), sized the same way. */
.reader-main { flex: 1 0 auto; display: flex; flex-direction: column; }
.message-html { display: flex; flex-direction: column; }
/* Only a frame needs the room; a note ("no text") takes its own height. */
.message-html:has(.message-frame-slot:not([hidden]), .message-text-frame:not([hidden])) { flex: 1 0 auto; min-height: 22rem; }
.message-content { flex: 1; display: flex; flex-direction: column; min-height: 0; }
.message-frame-slot { flex: 1; display: flex; min-height: 22rem; }
.message-frame { flex: 1; width: 100%; min-height: 22rem; border: 1px solid var(--border); border-radius: 8px; background: #fff; color-scheme: light; }
.message-tools { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem; }
.message-tools:has(> :not([hidden])) { margin-bottom: .75rem; }
.message-tools .toggle-plain { margin-left: auto; min-height: 36px; }
.remote-bar {
  display: flex; align-items: center; gap: .75rem; flex-wrap: wrap; flex: 1 1 20rem;
  padding: .4rem .5rem .4rem .85rem; border-radius: 8px; background: var(--warn-bg); color: var(--warn);
}
.remote-bar span { flex: 1 1 12rem; }
.remote-bar button { min-height: 36px; }

/* Attachments */
/* Above the body: a frame that fills the reader would hide them below it. */
.message-attachments { margin-bottom: 1rem; }
.message-attachments h3 { margin: 0 0 .4rem; font-size: 1rem; }
.attachment-list { list-style: none; margin: 0; padding: 0; display: grid; gap: .4rem; }
.attachment {
  display: grid; grid-template-columns: 1fr auto; grid-template-rows: auto auto; column-gap: .75rem;
  align-items: center; padding: .5rem .75rem; border: 1px solid var(--border); border-radius: 8px;
}
.attachment-name { font-weight: 600; overflow-wrap: anywhere; unicode-bidi: isolate; }
.attachment-meta { grid-row: 2; color: var(--muted); font-size: .85rem; }
.attachment .save { grid-row: 1 / span 2; grid-column: 2; min-height: 40px; }

/* ---------- Dialog ---------- */
dialog {
  border: none; border-radius: 16px; padding: 1.5rem; max-width: min(32rem, 92vw);
  background: var(--surface); color: var(--fg); box-shadow: 0 20px 60px rgb(0 0 0 / 30%);
}
dialog::backdrop { background: rgb(10 15 30 / 45%); }
dialog[open] { animation: pop3-dialog-in .15s ease-out; }
@keyframes pop3-dialog-in { from { opacity: 0; transform: translateY(.5rem); } }
dialog h2 { margin: 0 0 .6rem; font-size: 1.25rem; }
dialog p { margin: 0 0 .75rem; }
dialog .dialog-actions { display: flex; justify-content: flex-end; gap: .6rem; flex-wrap: wrap; margin-top: 1.25rem; }

/* ---------- Offline store, sync line, kiosk countdown ---------- */
.syncline { margin: 0; padding: .35rem 1.25rem; font-size: .9rem; color: var(--muted, #555); border-bottom: 1px solid var(--line, #ddd); }
.row.kept:not(.marked) .size::before { content: "●"; color: var(--ok, #1a7f37); font-size: .6rem; margin-right: .35rem; vertical-align: middle; }
.kiosk-countdown { display: flex; align-items: center; gap: 1rem; margin: 0; padding: .5rem 1.25rem; }
.kiosk-countdown p { margin: 0; flex: 1; }
button.offline { margin-top: .6rem; width: 100%; }
.device-dialog { max-width: 34rem; }
.message-offline { margin: 1rem 0 0; padding: 0; font-size: .85rem; color: var(--muted); }
.device-dialog .field { margin-top: .75rem; }

/* ---------- Reduced motion: no transitions, no animations ---------- */
@media (prefers-reduced-motion: reduce) {
  *, *::before, *::after, ::backdrop {
    transition: none !important; animation: none !important; scroll-behavior: auto !important;
  }
}

/* ---------- Narrow containers (phones, small kiosk panes) ---------- */
@container (max-width: 720px) {
  .reader { position: absolute; inset: 0; border-left: none; z-index: 2; }
}
@container (max-width: 560px) {
  .head { display: none; }
  .cols {
    grid-template-columns: 1fr auto; grid-template-rows: auto auto; row-gap: 0; column-gap: .75rem; padding: 0 .9rem;
    align-content: center;
  }
  .from { grid-column: 1; grid-row: 1; }
  .date { grid-column: 2; grid-row: 1; }
  .subject { grid-column: 1; grid-row: 2; }
  .size { grid-column: 2; grid-row: 2; }
  .field-row { grid-template-columns: 1fr 6rem; }
  .toolbar { padding: .5rem .75rem; }
  .toolbar .title { flex-direction: column; gap: 0; }
  .toolbar .count { font-size: .85rem; }
  .toolbar button { padding: 0 .8rem; }
  .statusline { padding: .35rem .75rem; }
  .card { padding: 1.25rem; }
  .login { padding: 1rem .5rem; }
}
`;
