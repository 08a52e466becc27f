//! JS errors of the reading functions: the same shape as the client's `Pop3Error` (an `Error`
//! named "Pop3Error" with a stable `code`), so callers handle both alike. The codes are the
//! JS API's one list (`pop3_bridge_protocol::api::Code`, group `mime`).

use pop3_bridge_protocol::api::Code;
use wasm_bindgen::JsValue;

#[derive(Debug, Clone)]
pub(crate) struct Pop3Error {
    code: Code,
    message: String,
}

impl Pop3Error {
    pub(crate) fn new(code: Code, message: impl Into<String>) -> Pop3Error {
        Pop3Error {
            code,
            message: message.into(),
        }
    }

    pub(crate) fn to_js(&self) -> JsValue {
        let e = js_sys::Error::new(&self.message);
        e.set_name("Pop3Error");
        let _ = js_sys::Reflect::set(
            &e,
            &JsValue::from_str("code"),
            &JsValue::from_str(self.code.as_str()),
        );
        e.into()
    }
}

impl From<&pop3_mime::MimeError> for Pop3Error {
    fn from(e: &pop3_mime::MimeError) -> Self {
        let code = match e {
            pop3_mime::MimeError::TooLarge { .. } => Code::MimeLimit,
            pop3_mime::MimeError::NotAMessage => Code::MimeInvalid,
            pop3_mime::MimeError::PartNotFound(_) => Code::MimePartNotFound,
        };
        Pop3Error::new(code, e.to_string())
    }
}
