//! The POP3 client in the browser: the sans-IO core (`pop3-proto`) driven over a WebSocket to
//! `pop3-bridge`, exposed to JavaScript as a Promise-based API (docs/js-api.md).
//!
//! Only this crate knows about the browser: `link` (WebSocket), `timer` (setTimeout),
//! `interop` (values crossing into JS), `error` (JS error objects), `session` (the driver).

mod error;
mod interop;
mod link;
mod session;
mod sync;
mod timer;

pub use session::{Session, connect};
pub use sync::SyncRun;
