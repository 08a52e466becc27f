//! JavaScript errors with a stable `code`, a plain-language `message`, and the server's own
//! words kept apart in `serverText` (it is quoted to the user, never trusted as UI text).

use pop3_proto::{CommandError, ConnectionError, LoginError, RespCode};
use wasm_bindgen::JsValue;

/// A Pop3Error before it becomes a JS object.
#[derive(Debug, Clone)]
pub(crate) struct Pop3Error {
    pub code: String,
    pub message: String,
    pub server_text: Option<String>,
    pub detail: Option<String>,
}

impl Pop3Error {
    pub(crate) fn new(code: &str, message: impl Into<String>) -> Pop3Error {
        Pop3Error {
            code: code.to_owned(),
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
        set("code", &JsValue::from_str(&self.code));
        if let Some(t) = &self.server_text {
            set("serverText", &JsValue::from_str(t));
        }
        if let Some(d) = &self.detail {
            set("detail", &JsValue::from_str(d));
        }
        e.into()
    }
}

fn code_for(code: Option<&RespCode>, default: &'static str) -> &'static str {
    match code {
        Some(RespCode::InUse) => "in_use",
        Some(RespCode::LoginDelay) => "login_delay",
        Some(RespCode::SysTemp) => "sys_temp",
        Some(RespCode::SysPerm) => "sys_perm",
        Some(RespCode::Auth) => "auth_failed",
        _ => default,
    }
}

impl From<&ConnectionError> for Pop3Error {
    fn from(e: &ConnectionError) -> Self {
        let code = match e {
            ConnectionError::TimedOut { .. } => "timeout",
            ConnectionError::ClosedUnexpectedly | ConnectionError::AlreadyClosed => "closed",
            ConnectionError::GreetingRejected(r) => code_for(r.code.as_ref(), "server_refused"),
            ConnectionError::UnverifiedAuthSuccess(_) => "server_impostor",
            _ => "protocol",
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
                let code = code_for(reply.code.as_ref(), "auth_failed");
                let message = match &reply.code {
                    Some(c) if code != "auth_failed" => c.explain().to_owned(),
                    _ => {
                        format!("The server did not accept the user name and password ({method}).")
                    }
                };
                Pop3Error {
                    code: code.to_owned(),
                    message,
                    server_text: Some(reply.text.clone()),
                    detail: None,
                }
            }
            CommandError::Login(LoginError::NoAcceptableMethod {
                cleartext_refused: true,
                offered,
            }) => Pop3Error::new(
                "cleartext_refused",
                "This connection is not encrypted, and the server only offers ways to log in \
                 that would reveal your password. Use TLS, or explicitly allow an insecure login.",
            )
            .detail(format!("offered: {}", offered.join(" "))),
            CommandError::Login(LoginError::NoAcceptableMethod { offered, .. }) => Pop3Error::new(
                "no_acceptable_method",
                "The server offers no login method this client may use with your settings.",
            )
            .detail(format!("offered: {}", offered.join(" "))),
            CommandError::Login(e @ LoginError::Sasl { server_error, .. }) => Pop3Error {
                code: "auth_failed".into(),
                message: e.to_string(),
                server_text: server_error.clone(),
                detail: None,
            },
            CommandError::Server(reply) => Pop3Error {
                code: code_for(reply.code.as_ref(), "server_error").to_owned(),
                message: match &reply.code {
                    Some(c) => c.explain().to_owned(),
                    None => "The server refused the command.".to_owned(),
                },
                server_text: Some(reply.text.clone()),
                detail: None,
            },
            CommandError::TooLarge { limit } => Pop3Error::new(
                "too_large",
                format!("The message is larger than the {limit}-byte limit."),
            ),
            CommandError::QuitFailed(reply) => Pop3Error {
                code: "quit_failed".into(),
                message: "The server could not finish the session: messages marked for \
                          deletion were NOT deleted."
                    .into(),
                server_text: Some(reply.text.clone()),
                detail: None,
            },
            other => Pop3Error::new("server_error", other.to_string()),
        }
    }
}
