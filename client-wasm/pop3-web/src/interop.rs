//! Every value that crosses into or out of JavaScript: options in, results out.

use pop3_bridge_protocol::{Security, TlsInfo};
use pop3_proto::{Capabilities, Expire};
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

/// `connect()` options, as documented in docs/js-api.md.
///
/// `Debug` redacts the secrets: the password, the OAuth token, the bridge token, and the query
/// string of the bridge URL (a bridge token may be passed there).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ConnectOptions {
    /// The bridge's WebSocket URL; absent with `direct`.
    #[serde(default)]
    pub bridge_url: Option<String>,
    /// Connect straight to the server through the runtime's socket opener (src/direct.rs).
    #[serde(default)]
    pub direct: bool,
    pub host: String,
    pub port: u16,
    #[serde(default = "default_security")]
    pub security: Security,
    pub user: String,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub oauth_token: Option<String>,
    /// SASL mechanism names (or "USER", "APOP") the caller allows; none means all.
    #[serde(default)]
    pub mechanisms: Option<Vec<String>>,
    #[serde(default)]
    pub allow_insecure: bool,
    #[serde(default)]
    pub allow_apop: bool,
    /// Microsoft's XOAUTH2 wants the token in a second step.
    #[serde(default)]
    pub no_initial_response: bool,
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub timeout_ms: Option<u32>,
    #[serde(default)]
    pub keepalive_ms: Option<u32>,
    /// Where TLS ends when going through a bridge: `true` (in this client, or fail), `"prefer"`
    /// (the default: in this client unless the bridge's operator set up TLS for this server
    /// itself), `false` (at the bridge).
    #[serde(default)]
    pub end_to_end: EndToEndChoice,
    /// Extra trust for TLS that ends in this client: CAs (PEM) and SHA-256 pins.
    #[serde(default)]
    pub tls_trust: Option<TlsTrust>,
}

/// `endToEnd`: `true`, `false`, `"require"` or `"prefer"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum EndToEndChoice {
    Require,
    #[default]
    Prefer,
    Off,
}

impl<'de> Deserialize<'de> for EndToEndChoice {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Flag(bool),
            Word(String),
        }
        match Raw::deserialize(d)? {
            Raw::Flag(true) => Ok(EndToEndChoice::Require),
            Raw::Flag(false) => Ok(EndToEndChoice::Off),
            Raw::Word(w) if w == "require" => Ok(EndToEndChoice::Require),
            Raw::Word(w) if w == "prefer" => Ok(EndToEndChoice::Prefer),
            Raw::Word(w) => Err(serde::de::Error::custom(format!(
                "endToEnd must be true, false, \"require\" or \"prefer\", not {w:?}"
            ))),
        }
    }
}

/// `tlsTrust`: what the user (or the page's operator) trusts beyond the web PKI roots, for TLS
/// that ends in this client. The bridge's CAs and pins do not apply there.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TlsTrust {
    /// CA certificates, PEM.
    #[serde(default)]
    pub cas: Vec<String>,
    /// SHA-256 pins of the server's certificate (64 hex digits, colons allowed).
    #[serde(default)]
    pub pins: Vec<String>,
}

fn default_security() -> Security {
    Security::Tls
}

impl std::fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Destructured without `..`: a new field must be placed here, as shown or as redacted.
        let ConnectOptions {
            bridge_url,
            direct,
            host,
            port,
            security,
            user,
            password,
            oauth_token,
            mechanisms,
            allow_insecure,
            allow_apop,
            no_initial_response,
            token,
            timeout_ms,
            keepalive_ms,
            end_to_end,
            tls_trust,
        } = self;
        let redacted = |o: &Option<String>| o.as_ref().map(|_| "<redacted>");
        let url = bridge_url.as_ref().map(|u| match u.split_once('?') {
            Some((base, _)) => format!("{base}?<redacted>"),
            None => u.clone(),
        });
        f.debug_struct("ConnectOptions")
            .field("bridge_url", &url)
            .field("direct", direct)
            .field("host", host)
            .field("port", port)
            .field("security", security)
            .field("user", user)
            .field("password", &redacted(password))
            .field("oauth_token", &redacted(oauth_token))
            .field("mechanisms", mechanisms)
            .field("allow_insecure", allow_insecure)
            .field("allow_apop", allow_apop)
            .field("no_initial_response", no_initial_response)
            .field("token", &redacted(token))
            .field("timeout_ms", timeout_ms)
            .field("keepalive_ms", keepalive_ms)
            .field("end_to_end", end_to_end)
            .field("tls_trust", tls_trust)
            .finish()
    }
}

/// `session.tls`: the bridge's TLS details (`pop3_bridge_protocol::TlsInfo`, snake_case on the
/// wire) as JavaScript sees them, in camelCase.
#[derive(Serialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TlsJs {
    pub version: String,
    pub cipher: String,
    pub server_name: String,
    pub subject: String,
    pub issuer: String,
    pub not_after: String,
    pub verified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pin_matched: Option<bool>,
    /// TLS in this client: where its engine ran, `"worker"` (a thread of its own) or
    /// `"in-thread"` (end_to_end.rs). Absent when the bridge or the runtime did TLS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
}

impl From<&TlsInfo> for TlsJs {
    fn from(t: &TlsInfo) -> Self {
        TlsJs {
            version: t.version.clone(),
            cipher: t.cipher.clone(),
            server_name: t.server_name.clone(),
            subject: t.subject.clone(),
            issuer: t.issuer.clone(),
            not_after: t.not_after.clone(),
            verified: t.verified,
            pin_matched: t.pin_matched,
            engine: None,
        }
    }
}

/// The TLS details a direct socket's runtime gives (`socket.tls`, or what `startTls()`
/// resolves): any of these fields, each optional; unknown fields are ignored.
#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct DirectTlsInfo {
    pub version: Option<String>,
    pub cipher: Option<String>,
    pub server_name: Option<String>,
    pub subject: Option<String>,
    pub issuer: Option<String>,
    pub not_after: Option<String>,
    pub verified: Option<bool>,
}

impl DirectTlsInfo {
    /// `session.tls` for a direct socket to `host`. An opener verifies the certificate with the
    /// name the user gave or fails (its contract), so `verified` is true unless it says not.
    pub(crate) fn into_js(self, host: &str) -> TlsJs {
        TlsJs {
            version: self.version.unwrap_or_default(),
            cipher: self.cipher.unwrap_or_default(),
            server_name: self.server_name.unwrap_or_else(|| host.to_owned()),
            subject: self.subject.unwrap_or_default(),
            issuer: self.issuer.unwrap_or_default(),
            not_after: self.not_after.unwrap_or_default(),
            verified: self.verified.unwrap_or(true),
            pin_matched: None,
            engine: None,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CapsJs {
    pub top: bool,
    pub uidl: bool,
    pub user: bool,
    pub pipelining: bool,
    pub resp_codes: bool,
    pub utf8: bool,
    pub lang: bool,
    pub sasl: Vec<String>,
    pub implementation: Option<String>,
    /// Days the server keeps downloaded mail; null when unknown, -1 for "never".
    pub expire_days: Option<i64>,
    /// Minimum seconds between logins.
    pub login_delay: Option<u32>,
}

impl From<&Capabilities> for CapsJs {
    fn from(c: &Capabilities) -> Self {
        let mut sasl: Vec<String> = c.sasl.iter().map(|m| m.name().to_owned()).collect();
        sasl.extend(c.sasl_unknown.iter().cloned());
        CapsJs {
            top: c.top,
            uidl: c.uidl,
            user: c.user,
            pipelining: c.pipelining,
            resp_codes: c.resp_codes,
            utf8: c.utf8.is_some(),
            lang: c.lang,
            sasl,
            implementation: c.implementation.clone(),
            expire_days: c.expire.map(|(e, _)| match e {
                Expire::Days(d) => i64::from(d),
                Expire::Never => -1,
            }),
            login_delay: c.login_delay.map(|(d, _)| d),
        }
    }
}

#[derive(Serialize)]
pub(crate) struct StatJs {
    pub count: u32,
    pub size: f64,
}

#[derive(Serialize)]
pub(crate) struct ScanJs {
    pub msg: u32,
    pub size: f64,
}

#[derive(Serialize)]
pub(crate) struct UidJs {
    pub msg: u32,
    pub uid: String,
}

#[derive(Serialize)]
pub(crate) struct QuitJs {
    pub committed: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ProgressJs {
    pub done: u32,
    pub total: u32,
    pub bytes: f64,
    pub total_bytes: f64,
}

/// Serializes to a plain JS object (maps as objects, not `Map`).
pub(crate) fn to_js<T: Serialize>(v: &T) -> JsValue {
    let s = serde_wasm_bindgen::Serializer::json_compatible();
    v.serialize(&s).unwrap_or(JsValue::NULL)
}

/// Reads an optional property of a JS object.
pub(crate) fn get(obj: &JsValue, key: &str) -> Option<JsValue> {
    js_sys::Reflect::get(obj, &JsValue::from_str(key))
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_tls_details_fill_what_the_runtime_did_not_say() {
        let t = DirectTlsInfo::default().into_js("pop.example.com");
        assert_eq!(t.server_name, "pop.example.com");
        assert!(t.verified, "an opener verifies or fails");
        assert_eq!((t.version.as_str(), t.issuer.as_str()), ("", ""));
        let t = DirectTlsInfo {
            version: Some("TLSv1.3".into()),
            server_name: Some("mail.example".into()),
            verified: Some(false),
            ..DirectTlsInfo::default()
        }
        .into_js("pop.example.com");
        assert_eq!(
            (t.version.as_str(), t.server_name.as_str(), t.verified),
            ("TLSv1.3", "mail.example", false)
        );
    }

    #[test]
    fn end_to_end_takes_true_false_require_and_prefer_and_nothing_else() {
        use serde::de::IntoDeserializer;
        type E = serde::de::value::Error;
        let flag =
            |b: bool| EndToEndChoice::deserialize(IntoDeserializer::<E>::into_deserializer(b));
        let word =
            |w: &str| EndToEndChoice::deserialize(IntoDeserializer::<E>::into_deserializer(w));
        assert_eq!(flag(true).unwrap(), EndToEndChoice::Require);
        assert_eq!(flag(false).unwrap(), EndToEndChoice::Off);
        assert_eq!(word("require").unwrap(), EndToEndChoice::Require);
        assert_eq!(word("prefer").unwrap(), EndToEndChoice::Prefer);
        assert_eq!(EndToEndChoice::default(), EndToEndChoice::Prefer);
        for bad in ["Require", "yes", "", "bridge"] {
            assert!(word(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn debug_of_connect_options_hides_secrets() {
        let o = ConnectOptions {
            bridge_url: Some("wss://bridge.example/pop3?token=url-secret".into()),
            direct: false,
            host: "pop.example.com".into(),
            port: 995,
            security: Security::Tls,
            user: "ann".into(),
            password: Some("pw-secret".into()),
            oauth_token: Some("oauth-secret".into()),
            mechanisms: None,
            allow_insecure: false,
            allow_apop: false,
            no_initial_response: false,
            token: Some("bridge-secret".into()),
            timeout_ms: None,
            keepalive_ms: None,
            end_to_end: EndToEndChoice::Prefer,
            tls_trust: None,
        };
        let shown = format!("{o:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(
            shown.contains("wss://bridge.example/pop3?<redacted>"),
            "{shown}"
        );
        assert!(shown.contains("pop.example.com"), "{shown}");
    }
}
