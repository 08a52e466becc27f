//! The contracts between the browser client and the bridge, defined once for both sides.
//!
//! - The `pop3-bridge.v1` wire protocol (docs/bridge-protocol.md): the subprotocol name and
//!   path, the connect request, the answer (success with its TLS details, or an error with its
//!   code, close code and plain-language message). `pop3-bridge` serializes these types and
//!   `pop3-web` reads them, so the two cannot drift apart.
//! - [`api`]: every error code the JavaScript API can reject with (docs/js-api.md, "Errors"):
//!   the bridge's answer codes plus the client's, the MIME reader's and the sync's. It lives
//!   here because all three wasm crates (`pop3-web`, `pop3-mime-web`, `pop3-sync`) produce
//!   codes and this is the one crate each of them can depend on without pulling in anything
//!   else (serde only, no IO; it builds for `wasm32-unknown-unknown`).
//!
//! Versions of both contracts are recorded in CHANGELOG.md.

#![warn(missing_docs, missing_debug_implementations)]

// `api` stays a public module: its `Code` and `Group` are the JS API's codes, a different list
// from the wire's `ErrorCode`, and `api::Code` says which contract a code belongs to where a bare
// `Code` at the root next to `ErrorCode` would not. The wire types are the crate's main
// contract, so they are re-exported at the root and `wire` is private.
pub mod api;
mod wire;

pub use wire::{
    Answer, ConnectErr, ConnectOk, ConnectRequest, EndToEnd, ErrorBody, ErrorCode, Refusal,
    SUBPROTOCOL, Security, TlsInfo, WS_PATH,
};
