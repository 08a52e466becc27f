//! Reading messages in the browser: `pop3-mime` for JavaScript, as a wasm module separate from
//! the POP3 client (`pop3-web`).
//!
//! Why separate: the HTML sanitizer (html5ever) and the charset tables are most of the size of
//! everything, and signing in and listing mail need none of it. `web/pop3.js` loads this
//! module only when the first message is opened, so the client itself stays small.

#![warn(missing_docs, missing_debug_implementations)]

mod archive;
mod bindings;
mod error;
mod interop;
