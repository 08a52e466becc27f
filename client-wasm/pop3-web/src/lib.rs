//! The POP3 client in the browser: the sans-IO core (`pop3-proto`) driven over a WebSocket to
//! `pop3-bridge`, exposed to JavaScript as a Promise-based API (docs/js-api.md).
//!
//! Only this crate knows about the browser: `link` (WebSocket), `timer` (setTimeout),
//! `interop` (values crossing into JS), `error` (JS error objects and `errorCodes()`), `session`
//! (the driver). The bridge's wire types and the error codes come from `pop3-bridge-protocol`,
//! shared with the bridge.

#![warn(missing_docs, missing_debug_implementations)]

mod direct;
mod end_to_end;
mod error;
mod headers;
mod interop;
mod link;
mod session;
mod sync;
mod timer;

pub use error::error_codes;
pub use session::{Session, connect};
pub use sync::{SyncRun, sha256_hex};
