//! A direct socket to the mail server, for runtimes with TCP (Node, Deno, workerd): the
//! transport next to the bridge's WebSocket (`link`), driven by the same core.
//!
//! The socket comes from an opener the runtime's entry installs under
//! `Symbol.for('pop3-web.directSocket')` (npm/direct-socket.js and the runtime entries):
//!
//! ```text
//! opener({ host, port, tls, onData(Uint8Array), onClose(error?) }) → Promise<socket>
//! socket.write(Uint8Array)           // queues bytes; never calls back synchronously
//! socket.close()                     // no callback after this
//! socket.startTls() → Promise<tlsInfo>   // STLS: the runtime's upgrade of this connection
//! socket.tls                         // tlsInfo, when opened with tls: true
//! tlsInfo: any of { version, cipher, serverName, subject, issuer, notAfter, verified }
//! ```
//!
//! The runtime verifies the certificate with `host` (the name the user gave) or the promise
//! rejects. A rejection (or `onClose(error)`) carries the runtime's own error; [`classify`]
//! maps it to an API code. After `startTls()` the opener delivers no more plaintext: the
//! bytes of the old connection belong to the handshake.

use js_sys::{Function, Object, Promise, Reflect, Uint8Array};
use pop3_bridge_protocol::ErrorCode;
use pop3_bridge_protocol::api::Code;
use wasm_bindgen::prelude::*;

use crate::error::Pop3Error;

#[wasm_bindgen(inline_js = "export function directOpener() {
  const f = globalThis[Symbol.for('pop3-web.directSocket')];
  return typeof f === 'function' ? f : undefined;
}")]
extern "C" {
    #[wasm_bindgen(js_name = directOpener)]
    fn direct_opener() -> Option<Function>;
}

#[wasm_bindgen]
extern "C" {
    /// The socket an opener resolved.
    pub(crate) type DirectSocket;
    #[wasm_bindgen(method, catch)]
    fn write(this: &DirectSocket, data: &Uint8Array) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    fn close(this: &DirectSocket) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = startTls)]
    fn start_tls(this: &DirectSocket) -> Result<JsValue, JsValue>;
}

/// What the socket reported.
pub(crate) enum DirectEvent {
    /// The opener's promise settled.
    Opened(Result<JsValue, JsValue>),
    Data(Vec<u8>),
    /// The connection ended; with the runtime's error when it failed.
    Closed(Option<JsValue>),
    /// `startTls()` settled: the TLS details, or the runtime's error.
    TlsUp(Result<JsValue, JsValue>),
}

/// Opens a socket through the installed opener; `sink` receives every event, in order. Fails
/// with `bad_options` when no opener is installed.
pub(crate) fn open(
    host: &str,
    port: u16,
    tls: bool,
    sink: impl Fn(DirectEvent) + Clone + 'static,
) -> Result<(), Pop3Error> {
    let opener = direct_opener().ok_or_else(|| {
        Pop3Error::new(
            Code::BadOptions,
            "direct: true needs a runtime with TCP sockets: import the package's Node, Deno or \
             workerd entry (or install an opener under Symbol.for('pop3-web.directSocket')).",
        )
    })?;
    let s = sink.clone();
    // Owned by JS (collected with the socket): a runtime calling back after close() finds a
    // session that is over, never a dropped closure.
    let on_data = Closure::<dyn Fn(JsValue)>::new(move |v: JsValue| {
        if let Some(a) = v.dyn_ref::<Uint8Array>() {
            s(DirectEvent::Data(a.to_vec()));
        }
    })
    .into_js_value();
    let s = sink.clone();
    let on_close = Closure::<dyn Fn(JsValue)>::new(move |e: JsValue| {
        s(DirectEvent::Closed(
            (!e.is_undefined() && !e.is_null()).then_some(e),
        ))
    })
    .into_js_value();
    let args = Object::new();
    let set = |k: &str, v: &JsValue| {
        let _ = Reflect::set(&args, &k.into(), v);
    };
    set("host", &host.into());
    set("port", &port.into());
    set("tls", &tls.into());
    set("onData", &on_data);
    set("onClose", &on_close);
    let p = match opener.call1(&JsValue::NULL, &args) {
        Ok(v) => Promise::resolve(&v),
        Err(e) => Promise::reject(&e),
    };
    wasm_bindgen_futures::spawn_local(async move {
        let r = wasm_bindgen_futures::JsFuture::from(p).await;
        sink(DirectEvent::Opened(r));
    });
    Ok(())
}

impl DirectSocket {
    /// Sends a copy of `bytes` (the runtime may keep the array after this returns).
    pub(crate) fn send(&self, bytes: &[u8]) -> Result<(), JsValue> {
        self.write(&Uint8Array::from(bytes))
    }

    pub(crate) fn shut(&self) {
        let _ = self.close();
    }

    /// The TLS details of a socket opened with TLS.
    pub(crate) fn tls_info(&self) -> JsValue {
        Reflect::get(self, &"tls".into()).unwrap_or(JsValue::UNDEFINED)
    }

    /// Starts the runtime's TLS upgrade; `sink` gets [`DirectEvent::TlsUp`].
    pub(crate) fn upgrade(&self, sink: impl FnOnce(DirectEvent) + 'static) {
        let p = match self.start_tls() {
            Ok(v) => Promise::resolve(&v),
            Err(e) => Promise::reject(&e),
        };
        wasm_bindgen_futures::spawn_local(async move {
            sink(DirectEvent::TlsUp(
                wasm_bindgen_futures::JsFuture::from(p).await,
            ));
        });
    }
}

impl std::fmt::Debug for DirectSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DirectSocket")
    }
}

/// Where a runtime error happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Opening the connection (with implicit TLS: the handshake too).
    Connect,
    /// The STLS upgrade's handshake.
    Upgrade,
}

/// The strings of a runtime's error: `name`, `code` and `message` (or the value as text).
pub(crate) fn error_parts(e: &JsValue) -> (String, String, String) {
    let text = |k: &str| {
        Reflect::get(e, &k.into())
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default()
    };
    if e.is_object() {
        let mut message = text("message");
        // Node nests the reason of some failures (e.g. AggregateError of every address tried).
        if let Ok(errors) = Reflect::get(e, &"errors".into())
            && js_sys::Array::is_array(&errors)
            && let Some(first) = js_sys::Array::from(&errors).iter().next()
        {
            let (_, code, m) = error_parts(&first);
            if !code.is_empty() || !m.is_empty() {
                message = format!("{message} ({code}: {m})");
                if text("code").is_empty() {
                    return (text("name"), code, message);
                }
            }
        }
        (text("name"), text("code"), message)
    } else {
        (
            String::new(),
            String::new(),
            e.as_string().unwrap_or_default(),
        )
    }
}

/// The API error for a runtime's error, from its `name`, `code` and `message` as Node, Deno
/// and workerd report them; `code` may already be one of the API's network, TLS or certificate
/// codes (an opener that knows better). Anything else is `connect_failed` while connecting and
/// `tls_handshake` during the upgrade, with the runtime's words in `detail`.
pub(crate) fn classify(name: &str, code: &str, message: &str, stage: Stage) -> Pop3Error {
    use ErrorCode as E;
    let known = [
        E::ResolveFailed,
        E::ConnectFailed,
        E::ConnectTimeout,
        E::TlsHandshake,
        E::TlsTimeout,
        E::CertExpired,
        E::CertNameMismatch,
        E::CertUnknownIssuer,
        E::CertInvalid,
    ];
    let m = message.to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| m.contains(n));
    let c = code.to_ascii_uppercase();
    let ec = if let Some(k) = known.iter().find(|k| k.as_str() == code) {
        *k
    } else if matches!(c.as_str(), "CERT_HAS_EXPIRED" | "CERT_NOT_YET_VALID")
        || has(&[
            "certificate expired",
            "certificate has expired",
            "certificate is not yet valid",
            "certificate not valid yet",
            "peer certificate: expired",
            "peer certificate: notvalidyet",
        ])
    {
        E::CertExpired
    } else if matches!(
        c.as_str(),
        "ERR_TLS_CERT_ALTNAME_INVALID" | "HOSTNAME_MISMATCH"
    ) || has(&[
        "notvalidforname",
        "not valid for name",
        "hostname mismatch",
        "does not match hostname",
    ]) {
        E::CertNameMismatch
    } else if matches!(
        c.as_str(),
        "UNABLE_TO_VERIFY_LEAF_SIGNATURE"
            | "SELF_SIGNED_CERT_IN_CHAIN"
            | "DEPTH_ZERO_SELF_SIGNED_CERT"
            | "UNABLE_TO_GET_ISSUER_CERT"
            | "UNABLE_TO_GET_ISSUER_CERT_LOCALLY"
    ) || has(&[
        "unknownissuer",
        "unknown issuer",
        "unable to get local issuer",
        "self-signed certificate",
        "self signed certificate",
        "unable to verify the first certificate",
        "certificate is not trusted",
        "certificate verify failed",
    ]) {
        E::CertUnknownIssuer
    } else if c.starts_with("CERT_")
        || c.starts_with("ERR_TLS_CERT")
        || has(&["invalid peer certificate", "bad certificate"])
    {
        E::CertInvalid
    } else if matches!(c.as_str(), "ENOTFOUND" | "EAI_AGAIN" | "EAI_NONAME")
        || has(&[
            "failed to lookup address",
            "name or service not known",
            "dns lookup",
        ])
    {
        E::ResolveFailed
    } else if matches!(c.as_str(), "ETIMEDOUT") || name == "TimedOut" {
        match stage {
            Stage::Connect => E::ConnectTimeout,
            Stage::Upgrade => E::TlsTimeout,
        }
    } else if stage == Stage::Upgrade {
        E::TlsHandshake
    } else if matches!(
        c.as_str(),
        "ECONNREFUSED" | "ECONNRESET" | "EHOSTUNREACH" | "ENETUNREACH"
    ) || matches!(name, "ConnectionRefused" | "ConnectionReset")
        || has(&["connection refused", "network connection lost"])
    {
        E::ConnectFailed
    } else if c.starts_with("ERR_SSL") || has(&["tls", "ssl", "handshake"]) {
        E::TlsHandshake
    } else {
        E::ConnectFailed
    };
    let text = match ec {
        E::CertUnknownIssuer => {
            "The mail server's certificate was issued by an authority this runtime does not \
             trust (self-signed?). Make its CA trusted the way the runtime documents."
        }
        other => other.message(),
    };
    let runtime = [name, code]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let detail = match (runtime.is_empty(), message.is_empty()) {
        (true, _) => message.to_owned(),
        (false, true) => runtime,
        (false, false) => format!("{runtime}: {message}"),
    };
    Pop3Error::new(Code::Bridge(ec), text).detail(detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(name: &str, code: &str, message: &str, stage: Stage) -> &'static str {
        classify(name, code, message, stage).code.as_str()
    }

    #[test]
    fn node_errors_by_their_codes() {
        let c = |k: &str| code("Error", k, "", Stage::Connect);
        assert_eq!(c("UNABLE_TO_VERIFY_LEAF_SIGNATURE"), "cert_unknown_issuer");
        assert_eq!(c("SELF_SIGNED_CERT_IN_CHAIN"), "cert_unknown_issuer");
        assert_eq!(c("DEPTH_ZERO_SELF_SIGNED_CERT"), "cert_unknown_issuer");
        assert_eq!(c("ERR_TLS_CERT_ALTNAME_INVALID"), "cert_name_mismatch");
        assert_eq!(c("CERT_HAS_EXPIRED"), "cert_expired");
        assert_eq!(c("CERT_NOT_YET_VALID"), "cert_expired");
        assert_eq!(c("CERT_REVOKED"), "cert_invalid");
        assert_eq!(c("ECONNREFUSED"), "connect_failed");
        assert_eq!(c("ENOTFOUND"), "resolve_failed");
        assert_eq!(c("ETIMEDOUT"), "connect_timeout");
        assert_eq!(
            code("Error", "ETIMEDOUT", "", Stage::Upgrade),
            "tls_timeout"
        );
        assert_eq!(c("ERR_SSL_WRONG_VERSION_NUMBER"), "tls_handshake");
    }

    #[test]
    fn deno_errors_by_their_words() {
        let c = |name: &str, m: &str| code(name, "", m, Stage::Connect);
        assert_eq!(
            c("InvalidData", "invalid peer certificate: UnknownIssuer"),
            "cert_unknown_issuer"
        );
        assert_eq!(
            c(
                "InvalidData",
                "invalid peer certificate: certificate not valid for name \"127.0.0.1\""
            ),
            "cert_name_mismatch"
        );
        assert_eq!(
            c(
                "InvalidData",
                "invalid peer certificate: certificate expired: ..."
            ),
            "cert_expired"
        );
        assert_eq!(
            c("InvalidData", "invalid peer certificate: BadSignature"),
            "cert_invalid"
        );
        assert_eq!(
            c("ConnectionRefused", "Connection refused (os error 111)"),
            "connect_failed"
        );
        assert_eq!(
            c("NotFound", "failed to lookup address information"),
            "resolve_failed"
        );
    }

    #[test]
    fn an_openers_own_code_is_kept_and_the_rest_falls_back_by_stage() {
        assert_eq!(
            code("Error", "tls_handshake", "workerd says no", Stage::Connect),
            "tls_handshake"
        );
        assert_eq!(
            code("Error", "cert_expired", "", Stage::Upgrade),
            "cert_expired"
        );
        // Codes outside the network, TLS and certificate groups are not an opener's to give.
        assert_eq!(
            code("Error", "auth_failed", "", Stage::Connect),
            "connect_failed"
        );
        assert_eq!(
            code("Error", "", "proxy request failed", Stage::Connect),
            "connect_failed"
        );
        assert_eq!(
            code("Error", "", "internal error; reference = x", Stage::Upgrade),
            "tls_handshake"
        );
        assert_eq!(code("", "", "", Stage::Connect), "connect_failed");
    }

    #[test]
    fn the_runtimes_words_go_to_detail() {
        let e = classify(
            "Error",
            "ECONNREFUSED",
            "connect ECONNREFUSED 127.0.0.1:9",
            Stage::Connect,
        );
        assert_eq!(
            e.detail.as_deref(),
            Some("Error ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:9")
        );
        assert_eq!(e.message, ErrorCode::ConnectFailed.message());
        let e = classify("", "", "", Stage::Connect);
        assert_eq!(e.detail.as_deref(), Some(""));
    }
}
