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

impl std::fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Destructured without `..`: a new field must be placed here, as shown or as redacted.
        let ConnectOptions {
            bridge_url,
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
        } = self;
        let redacted = |o: &Option<String>| o.as_ref().map(|_| "<redacted>");
        let url = match bridge_url.split_once('?') {
            Some((base, _)) => format!("{base}?<redacted>"),
            None => bridge_url.clone(),
        };
        f.debug_struct("ConnectOptions")
            .field("bridge_url", &url)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_connect_options_hides_secrets() {
        let o = ConnectOptions {
            bridge_url: "wss://bridge.example/pop3?token=url-secret".into(),
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
