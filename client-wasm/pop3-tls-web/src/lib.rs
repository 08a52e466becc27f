//! End-to-end TLS in the browser (issue #16): [`pop3_tls::ClientSession`] as the JS class
//! `TlsClient`. The JS API loads this module only when a connection needs TLS, feeds it the
//! bytes the bridge relays and sends what it returns, so the bridge carries TLS records it
//! cannot read. A module of its own because it is the largest part of the client (crypto,
//! the root certificates) and a page that never connects needs none of it.
//!
//! Crypto provider: ring, the same as the bridge, so both ends of every mode run the same
//! audited, constant-time primitives. Building ring for `wasm32-unknown-unknown` needs clang
//! with the wasm target and llvm-ar (Debian's `clang` and `llvm`, which `cargo xtask setup`
//! installs; the cc crate finds both by itself). The alternative, a pure-Rust provider such
//! as rustls-rustcrypto, would build without a C compiler, but it is pre-release and
//! unaudited, and this code protects passwords.
//!
//! Speed: wasm has no AES instructions, so `pop3-tls` asks for ChaCha20-Poly1305 first here
//! (about 250 MB/s against 43 MB/s for software AES-GCM, CPU time in Node 20). ring itself is
//! built for speed rather than size (opt-level 2, its C at -Os: the root Cargo.toml says why).
//!
//! Randomness: getrandom's "js" backend, `crypto.getRandomValues` (browsers, Node, Deno,
//! workerd). Time: `Date.now()` through `JsClock`; nothing here may read
//! `SystemTime`, which panics on this target.
//!
//! Every error is thrown as a plain object `{ code, detail }`: `code` is the JS API's code
//! (`cert_expired`, `tls_handshake`, … and `bad_options` for a CA, pin or server name that
//! cannot be used), `detail` the reason in words.

#![warn(missing_docs, missing_debug_implementations)]

use std::sync::Arc;
use std::time::Duration;

use pop3_bridge_protocol::api::Code;
use pop3_tls::{ClientSession, TlsError, TlsInfo, Trust, TrustError};
use rustls::pki_types::UnixTime;
use rustls::time_provider::TimeProvider;
use wasm_bindgen::prelude::*;

/// The page's clock: the only one `wasm32-unknown-unknown` has.
#[derive(Debug)]
struct JsClock;

impl TimeProvider for JsClock {
    fn current_time(&self) -> Option<UnixTime> {
        let ms = js_sys::Date::now();
        // A clock before 1970 or not a number: rustls then fails the handshake rather than
        // check validity against a made-up time.
        if !ms.is_finite() || ms < 0.0 {
            return None;
        }
        Some(UnixTime::since_unix_epoch(Duration::from_millis(ms as u64)))
    }
}

/// A TLS client connection to one mail server, sans-IO.
#[wasm_bindgen]
#[derive(Debug)]
pub struct TlsClient {
    session: ClientSession,
    /// Where [`TlsClient::process`] copies each received chunk.
    buffer: Vec<u8>,
}

#[wasm_bindgen]
impl TlsClient {
    /// `new TlsClient(serverName, { cas?: string[] (PEM), pins?: string[] })`: a session
    /// checking the certificate against `serverName` as the user typed it, the web PKI roots
    /// and the CAs and pins given. The first `process` call gives the ClientHello.
    #[wasm_bindgen(constructor)]
    pub fn new(server_name: String, trust: JsValue) -> Result<TlsClient, JsValue> {
        let trust = read_trust(&trust)?;
        let config = trust
            .client_config(Arc::new(JsClock))
            .map_err(|e| bad_options(&e.to_string()))?;
        let session = ClientSession::new(config, &server_name).map_err(|e| {
            // A name that cannot be used is the caller's options, not the server's fault.
            bad_options(&e.detail)
        })?;
        Ok(TlsClient {
            session,
            buffer: Vec::new(),
        })
    }

    /// One batch of work, in this order: the ciphertext chunks `received` from the server,
    /// the plaintext `send` to encrypt, and a close_notify if `close`. What the page's client
    /// calls, on the page's thread or in web/tls-worker.js alike, once per batch: one call and
    /// one result however many WebSocket messages came meanwhile. Never throws; returns
    /// `{ plaintext, outgoing, handshakeDone, info?, error? }`: the plaintext decrypted (up to
    /// an error, if one came), the ciphertext to send, whether the handshake finished in this
    /// batch (then `info` is what `info()` gives), and the failure as `{ code, detail }`.
    pub fn process(&mut self, received: js_sys::Array, send: &[u8], close: bool) -> js_sys::Object {
        let was_handshaking = self.session.is_handshaking();
        let mut error = None;
        for chunk in received.iter() {
            let chunk: js_sys::Uint8Array = chunk.unchecked_into();
            // One buffer for every chunk of the batch: no allocation per WebSocket message.
            self.buffer.resize(chunk.length() as usize, 0);
            chunk.copy_to(&mut self.buffer);
            if let Err(e) = self.session.receive(&self.buffer) {
                error = Some(tls_error(&e));
                break;
            }
        }
        if error.is_none() && !send.is_empty() {
            error = self.session.send(send).err().map(|e| tls_error(&e));
        }
        if error.is_none() && close {
            self.session.close();
        }
        let o = js_sys::Object::new();
        // Copied out and cleared rather than taken: the session's buffer keeps its capacity,
        // so a large batch does not regrow (and recopy) it every time.
        set(
            &o,
            "plaintext",
            &js_sys::Uint8Array::from(self.session.plaintext()).into(),
        );
        self.session.clear_plaintext();
        let outgoing = self.session.take_outgoing();
        set(
            &o,
            "outgoing",
            &js_sys::Uint8Array::from(&outgoing[..]).into(),
        );
        let done = was_handshaking && !self.session.is_handshaking();
        set(&o, "handshakeDone", &done.into());
        if done {
            set(&o, "info", &self.info());
        }
        if let Some(e) = error {
            set(&o, "error", &e);
        }
        o
    }
}

impl TlsClient {
    /// `{ version, cipher, serverName, subject, issuer, notAfter, verified, pinMatched? }`
    /// after the handshake, else `undefined`.
    fn info(&self) -> JsValue {
        match self.session.info() {
            Some(info) => info_object(&info).into(),
            None => JsValue::UNDEFINED,
        }
    }
}

fn read_trust(value: &JsValue) -> Result<Trust, JsValue> {
    let mut trust = Trust::web_pki();
    if value.is_undefined() || value.is_null() {
        return Ok(trust);
    }
    if !value.is_object() {
        return Err(bad_options("trust must be an object { cas?, pins? }"));
    }
    for pem in strings(value, "cas")? {
        trust.add_ca_pem(&pem).map_err(|e| trust_error(&e))?;
    }
    for pin in strings(value, "pins")? {
        trust.add_pin(&pin).map_err(|e| trust_error(&e))?;
    }
    Ok(trust)
}

/// `value[key]`: absent, or an array of strings.
fn strings(value: &JsValue, key: &str) -> Result<Vec<String>, JsValue> {
    let field = js_sys::Reflect::get(value, &JsValue::from_str(key))
        .map_err(|_| bad_options(&format!("trust.{key} cannot be read")))?;
    if field.is_undefined() {
        return Ok(Vec::new());
    }
    let not_strings = || bad_options(&format!("trust.{key} must be an array of strings"));
    if !js_sys::Array::is_array(&field) {
        return Err(not_strings());
    }
    js_sys::Array::from(&field)
        .iter()
        .map(|v| v.as_string().ok_or_else(not_strings))
        .collect()
}

fn trust_error(e: &TrustError) -> JsValue {
    bad_options(&e.to_string())
}

fn bad_options(detail: &str) -> JsValue {
    error_object(Code::BadOptions.as_str(), detail)
}

fn tls_error(e: &TlsError) -> JsValue {
    error_object(e.code.as_str(), &e.detail)
}

/// A plain `{ code, detail }` object, the shape the JS API turns into a `Pop3Error`.
fn error_object(code: &str, detail: &str) -> JsValue {
    let o = js_sys::Object::new();
    set(&o, "code", &code.into());
    set(&o, "detail", &detail.into());
    o.into()
}

fn info_object(info: &TlsInfo) -> js_sys::Object {
    let o = js_sys::Object::new();
    set(&o, "version", &info.version.as_str().into());
    set(&o, "cipher", &info.cipher.as_str().into());
    set(&o, "serverName", &info.server_name.as_str().into());
    set(&o, "subject", &info.subject.as_str().into());
    set(&o, "issuer", &info.issuer.as_str().into());
    set(&o, "notAfter", &info.not_after.as_str().into());
    set(&o, "verified", &info.verified.into());
    if let Some(m) = info.pin_matched {
        set(&o, "pinMatched", &m.into());
    }
    o
}

fn set(o: &js_sys::Object, key: &str, value: &JsValue) {
    // Setting a data property on a fresh plain object cannot fail; there is nothing to
    // report if it somehow did.
    let _ = js_sys::Reflect::set(o, &JsValue::from_str(key), value);
}
