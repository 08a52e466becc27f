//! JavaScript errors with a stable `code`, a plain-language `message`, and the server's own
//! words kept apart in `serverText` (it is quoted to the user, never trusted as UI text).
//!
//! Every code is a [`Code`]: the one list of what the JS API can reject with, shared with the
//! bridge's answer codes, the MIME reader and the sync (`pop3-bridge-protocol`), and exported
//! to JavaScript as `errorCodes()`.

use pop3_bridge_protocol::api::Code;
use pop3_proto::{CommandError, ConnectionError, LoginError, RespCode};
use serde::Serialize;
use wasm_bindgen::prelude::*;

/// A Pop3Error before it becomes a JS object.
#[derive(Debug, Clone)]
pub(crate) struct Pop3Error {
    pub code: Code,
    pub message: String,
    pub server_text: Option<String>,
    pub detail: Option<String>,
}

impl Pop3Error {
    pub(crate) fn new(code: Code, message: impl Into<String>) -> Pop3Error {
        Pop3Error {
            code,
            message: message.into(),
            server_text: None,
            detail: None,
        }
    }

    pub(crate) fn detail(mut self, d: impl Into<String>) -> Pop3Error {
        self.detail = Some(d.into());
        self
    }

    /// An `Error` object (so it has a stack and works with `instanceof Error`) named
    /// "Pop3Error" with the extra fields.
    pub(crate) fn to_js(&self) -> JsValue {
        let e = js_sys::Error::new(&self.message);
        e.set_name("Pop3Error");
        let set = |k: &str, v: &JsValue| {
            let _ = js_sys::Reflect::set(&e, &JsValue::from_str(k), v);
        };
        set("code", &JsValue::from_str(self.code.as_str()));
        if let Some(t) = &self.server_text {
            set("serverText", &JsValue::from_str(t));
        }
        if let Some(d) = &self.detail {
            set("detail", &JsValue::from_str(d));
        }
        e.into()
    }
}

#[derive(Serialize)]
struct CodeJs {
    code: &'static str,
    group: &'static str,
}

/// `errorCodes()`: every code the API can reject with, `[{ code, group }]` (docs/js-api.md,
/// "Errors"), so a UI derives its lists (e.g. group `"certificate"`) instead of copying them.
#[wasm_bindgen(js_name = errorCodes)]
pub fn error_codes() -> JsValue {
    let list: Vec<CodeJs> = Code::ALL
        .iter()
        .map(|c| CodeJs {
            code: c.as_str(),
            group: c.group().as_str(),
        })
        .collect();
    crate::interop::to_js(&list)
}

fn code_for(code: Option<&RespCode>, default: Code) -> Code {
    match code {
        Some(RespCode::InUse) => Code::InUse,
        Some(RespCode::LoginDelay) => Code::LoginDelay,
        Some(RespCode::SysTemp) => Code::SysTemp,
        Some(RespCode::SysPerm) => Code::SysPerm,
        Some(RespCode::Auth) => Code::AuthFailed,
        _ => default,
    }
}

impl From<&ConnectionError> for Pop3Error {
    fn from(e: &ConnectionError) -> Self {
        let code = match e {
            ConnectionError::TimedOut { .. } => Code::Timeout,
            ConnectionError::ClosedUnexpectedly | ConnectionError::AlreadyClosed => Code::Closed,
            ConnectionError::GreetingRejected(r) => code_for(r.code.as_ref(), Code::ServerRefused),
            ConnectionError::UnverifiedAuthSuccess(_) => Code::ServerImpostor,
            _ => Code::Protocol,
        };
        let mut p = Pop3Error::new(code, e.to_string());
        if let ConnectionError::GreetingRejected(r) = e {
            p.server_text = Some(r.text.clone());
        }
        p
    }
}

impl From<&CommandError> for Pop3Error {
    fn from(e: &CommandError) -> Self {
        match e {
            CommandError::Login(LoginError::Rejected { reply, method }) => {
                let code = code_for(reply.code.as_ref(), Code::AuthFailed);
                let message = match &reply.code {
                    Some(c) if code != Code::AuthFailed => c.explain().to_owned(),
                    _ => {
                        format!("The server did not accept the user name and password ({method}).")
                    }
                };
                Pop3Error {
                    code,
                    message,
                    server_text: Some(reply.text.clone()),
                    detail: None,
                }
            }
            CommandError::Login(LoginError::NoAcceptableMethod {
                cleartext_refused: true,
                offered,
            }) => Pop3Error::new(
                Code::CleartextRefused,
                "This connection is not encrypted, and the server only offers ways to log in \
                 that would reveal your password. Use TLS, or explicitly allow an insecure login.",
            )
            .detail(format!("offered: {}", offered.join(" "))),
            CommandError::Login(LoginError::NoAcceptableMethod { offered, .. }) => Pop3Error::new(
                Code::NoAcceptableMethod,
                "The server offers no login method this client may use with your settings.",
            )
            .detail(format!("offered: {}", offered.join(" "))),
            CommandError::Login(e @ LoginError::Sasl { server_error, .. }) => Pop3Error {
                code: Code::AuthFailed,
                message: e.to_string(),
                server_text: server_error.clone(),
                detail: None,
            },
            CommandError::Server(reply) => Pop3Error {
                code: code_for(reply.code.as_ref(), Code::ServerError),
                message: match &reply.code {
                    Some(c) => c.explain().to_owned(),
                    None => "The server refused the command.".to_owned(),
                },
                server_text: Some(reply.text.clone()),
                detail: None,
            },
            CommandError::TooLarge { limit } => Pop3Error::new(
                Code::TooLarge,
                format!("The message is larger than the {limit}-byte limit."),
            ),
            CommandError::QuitFailed(reply) => Pop3Error {
                code: Code::QuitFailed,
                message: "The server could not finish the session: messages marked for \
                          deletion were NOT deleted."
                    .into(),
                server_text: Some(reply.text.clone()),
                detail: None,
            },
            other => Pop3Error::new(Code::ServerError, other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_of_core_errors() {
        let e = Pop3Error::from(&ConnectionError::ClosedUnexpectedly);
        assert_eq!(e.code, Code::Closed);
        assert_eq!(Code::BadArgument.as_str(), "bad_argument");
    }
}
