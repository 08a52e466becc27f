//! Every value that crosses into or out of JavaScript: options in, results out.

use pop3_bridge_protocol::{Security, TlsInfo};
use pop3_proto::{Capabilities, Expire};
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

/// `connect()` options, as documented in docs/js-api.md.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ConnectOptions {
    pub bridge_url: String,
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
}

fn default_security() -> Security {
    Security::Tls
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
