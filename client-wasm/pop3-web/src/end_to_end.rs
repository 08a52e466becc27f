//! End-to-end TLS through the bridge's relay: the bridge connects and relays raw bytes, and TLS
//! to the mail server ends here, in the client, so the bridge never sees a password or a
//! message (docs/bridge-protocol.md, `end_to_end`).
//!
//! The TLS engine (rustls, crate `pop3-tls`) is a wasm module of its own, `pop3-tls-web`: it
//! is most of a TLS-capable client's size, and is fetched only when a connection needs it. The
//! JS API (web/pop3.js, and the npm package's runtime entries) installs a loader under
//! `Symbol.for('pop3-web.tls')`:
//!
//! ```text
//! loader() → Promise<factory>
//! factory(serverName, trust?) → engine          // trust: { cas?: string[] (PEM), pins?: string[] }
//! engine.receive(Uint8Array) → Uint8Array        // ciphertext in, plaintext out
//! engine.send(Uint8Array)                        // plaintext to encrypt
//! engine.takeOutgoing() → Uint8Array             // ciphertext for the wire
//! engine.handshaking: boolean
//! engine.info() → { version, cipher, serverName, subject, issuer, notAfter, verified, pinMatched? }
//! engine.close(); engine.free()
//! ```
//!
//! Every throw is `{ code, detail }` with one of the API's codes (`cert_expired`,
//! `tls_handshake`, `bad_options`, …): the certificate is judged by the same rules as the
//! bridge's (one definition, in `pop3-tls`), against the web PKI roots plus what the user or
//! the page gave in `tlsTrust`. The bridge cannot add trust in this mode.

use js_sys::{Function, Promise, Reflect, Uint8Array};
use pop3_bridge_protocol::ErrorCode;
use pop3_bridge_protocol::api::Code;
use wasm_bindgen::prelude::*;

use crate::error::Pop3Error;
use crate::interop::TlsJs;

#[wasm_bindgen(inline_js = "export function tlsLoader() {
  const f = globalThis[Symbol.for('pop3-web.tls')];
  return typeof f === 'function' ? f : undefined;
}")]
extern "C" {
    #[wasm_bindgen(js_name = tlsLoader)]
    fn tls_loader() -> Option<Function>;
}

#[wasm_bindgen]
extern "C" {
    /// One TLS connection to the mail server, inside the client.
    pub(crate) type TlsEngine;
    #[wasm_bindgen(method, catch)]
    fn receive(this: &TlsEngine, ciphertext: &Uint8Array) -> Result<Uint8Array, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn send(this: &TlsEngine, plaintext: &Uint8Array) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = takeOutgoing)]
    fn take_outgoing(this: &TlsEngine) -> Result<Uint8Array, JsValue>;
    #[wasm_bindgen(method, getter)]
    fn handshaking(this: &TlsEngine) -> bool;
    #[wasm_bindgen(method, catch)]
    fn info(this: &TlsEngine) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch)]
    fn close(this: &TlsEngine) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    fn free(this: &TlsEngine) -> Result<(), JsValue>;
}

impl std::fmt::Debug for TlsEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsEngine")
    }
}

/// The installed loader of the TLS module; `None` for a page that uses the wasm package
/// without web/pop3.js (or a runtime entry), which then cannot end TLS itself.
pub(crate) fn loader() -> Option<Function> {
    tls_loader()
}

/// Loads the TLS module (once per page: the loader caches it) and resolves to the engine
/// factory. Called only once the bridge agreed to relay: a session whose TLS the bridge does
/// never fetches the module.
pub(crate) async fn load(loader: Function) -> Result<Function, Pop3Error> {
    let p = match loader.call0(&JsValue::NULL) {
        Ok(v) => Promise::resolve(&v),
        Err(e) => Promise::reject(&e),
    };
    let f = wasm_bindgen_futures::JsFuture::from(p)
        .await
        .map_err(|e| load_error(&e))?;
    f.dyn_into::<Function>().map_err(|_| {
        Pop3Error::new(
            Code::BadOptions,
            "The TLS module's loader did not give a factory function.",
        )
    })
}

fn load_error(e: &JsValue) -> Pop3Error {
    let text = Reflect::get(e, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| e.as_string())
        .unwrap_or_default();
    Pop3Error::new(
        Code::BadOptions,
        "The TLS module could not be loaded, so TLS cannot end in this client.",
    )
    .detail(text)
}

/// What the engine threw, as an API error: its `code` when the API has it (the certificate
/// and TLS codes, `bad_options`), else `tls_handshake`.
fn engine_error(e: &JsValue) -> Pop3Error {
    let text = |k: &str| {
        Reflect::get(e, &k.into())
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default()
    };
    let (code, detail) = if e.is_object() {
        let d = text("detail");
        (text("code"), if d.is_empty() { text("message") } else { d })
    } else {
        (String::new(), e.as_string().unwrap_or_default())
    };
    let p = match Code::from_name(&code) {
        // The bridge's sentence points at its operator; here the trust is this client's.
        Some(c @ Code::Bridge(ErrorCode::CertUnknownIssuer)) => Pop3Error::new(
            c,
            "The mail server's certificate was issued by an authority this app does not trust \
             (self-signed?). Add the certificate's SHA-256 fingerprint to trust it, or its CA.",
        ),
        Some(c @ Code::Bridge(ec)) => Pop3Error::new(c, ec.message()),
        Some(Code::BadOptions) => Pop3Error::new(
            Code::BadOptions,
            "The TLS trust settings (tlsTrust) are not valid.",
        ),
        _ => Pop3Error::new(
            Code::Bridge(ErrorCode::TlsHandshake),
            ErrorCode::TlsHandshake.message(),
        ),
    };
    p.detail(detail)
}

/// A running end-to-end TLS connection.
#[derive(Debug)]
pub(crate) struct EndToEnd {
    engine: TlsEngine,
    /// The handshake has finished (the session learnt it once).
    up: bool,
}

/// What the engine made of bytes from the wire.
#[derive(Debug)]
pub(crate) struct Received {
    /// Decrypted POP3 bytes for the core.
    pub plaintext: Vec<u8>,
    /// Ciphertext the engine wants sent (handshake messages, alerts, key updates).
    pub outgoing: Vec<u8>,
    /// The handshake finished with these bytes.
    pub handshake_done: bool,
}

impl EndToEnd {
    /// Starts a TLS client for `host` (the name the user typed: SNI and certificate name);
    /// the ClientHello is waiting in [`EndToEnd::outgoing`].
    pub(crate) fn start(
        factory: &Function,
        host: &str,
        trust: &JsValue,
    ) -> Result<EndToEnd, Pop3Error> {
        let engine = factory
            .call2(&JsValue::NULL, &host.into(), trust)
            .map_err(|e| engine_error(&e))?;
        Ok(EndToEnd {
            engine: engine.unchecked_into(),
            up: false,
        })
    }

    /// Ciphertext waiting to be sent.
    pub(crate) fn outgoing(&self) -> Result<Vec<u8>, Pop3Error> {
        self.engine
            .take_outgoing()
            .map(|a| a.to_vec())
            .map_err(|e| engine_error(&e))
    }

    /// Bytes from the wire.
    pub(crate) fn receive(&mut self, ciphertext: &[u8]) -> Result<Received, Pop3Error> {
        let plaintext = self
            .engine
            .receive(&Uint8Array::from(ciphertext))
            .map_err(|e| engine_error(&e))?
            .to_vec();
        let outgoing = self.outgoing()?;
        let handshake_done = !self.up && !self.engine.handshaking();
        self.up |= handshake_done;
        Ok(Received {
            plaintext,
            outgoing,
            handshake_done,
        })
    }

    /// Encrypts POP3 bytes; the ciphertext to send.
    pub(crate) fn send(&mut self, plaintext: &[u8]) -> Result<Vec<u8>, Pop3Error> {
        self.engine
            .send(&Uint8Array::from(plaintext))
            .map_err(|e| engine_error(&e))?;
        self.outgoing()
    }

    /// `session.tls` once the handshake is done: what this client verified itself.
    pub(crate) fn info(&self, host: &str) -> TlsJs {
        let v = self.engine.info().unwrap_or(JsValue::UNDEFINED);
        let mut t = crate::session::tls_of(&v, host);
        // The engine reports `verified` itself; absent means it did not say, so not verified.
        t.verified = Reflect::get(&v, &"verified".into())
            .ok()
            .and_then(|b| b.as_bool())
            .unwrap_or(false);
        t.pin_matched = Reflect::get(&v, &"pinMatched".into())
            .ok()
            .and_then(|b| b.as_bool());
        t
    }

    /// A close_notify to send before the WebSocket closes (best effort).
    pub(crate) fn close(&mut self) -> Vec<u8> {
        let _ = self.engine.close();
        self.outgoing().unwrap_or_default()
    }
}

impl Drop for EndToEnd {
    fn drop(&mut self) {
        // The engine lives in the other module's memory: free it now, not when JS collects it.
        let _ = self.engine.free();
    }
}
