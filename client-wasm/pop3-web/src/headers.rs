//! Header sections for the message list: `summarizeHeaders(bytes)` and `displayName(from)`,
//! the one header parser (`pop3-headers`) for JavaScript, replacing the JS one of web/mime.js.
//!
//! Charsets beyond the built-in few (UTF-8, US-ASCII, ISO-8859-1, windows-1252) are decoded by
//! the browser's `TextDecoder`, so the client package carries no charset tables.

use js_sys::{Date, Object, Reflect};
use pop3_headers::Charsets;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    type TextDecoder;

    #[wasm_bindgen(constructor, catch)]
    fn new(label: &str) -> Result<TextDecoder, JsValue>;

    #[wasm_bindgen(method, catch)]
    fn decode(this: &TextDecoder, bytes: &[u8]) -> Result<String, JsValue>;
}

/// The browser's `TextDecoder`: every label of the WHATWG Encoding Standard.
struct BrowserCharsets;

impl Charsets for BrowserCharsets {
    fn decode(&self, label: &str, bytes: &[u8]) -> Option<String> {
        // An unknown label throws a RangeError: the word then stays as written.
        TextDecoder::new(label.trim()).ok()?.decode(bytes).ok()
    }
}

fn set(o: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(o, &JsValue::from_str(key), value);
}

/// `summarizeHeaders(bytes)` → `{ from, to, cc, subject, dateText, date, dateMs, messageId }`:
/// the header section at the start of `bytes` as display text (`""` for a missing field;
/// no control, bidi or invisible characters). `date` is a `Date` or `null`, `dateMs` its
/// epoch milliseconds or `null`, `messageId` a string or `null`.
#[wasm_bindgen(js_name = summarizeHeaders)]
pub fn summarize_headers(bytes: &[u8]) -> Object {
    let s = pop3_headers::summarize(bytes, &BrowserCharsets);
    let o = Object::new();
    set(&o, "from", &s.from.into());
    set(&o, "to", &s.to.into());
    set(&o, "cc", &s.cc.into());
    set(&o, "subject", &s.subject.into());
    set(&o, "dateText", &s.date_text.into());
    let ms = s.date.map(|d| d.epoch_ms as f64);
    let date = ms.map_or(JsValue::NULL, |ms| Date::new(&JsValue::from_f64(ms)).into());
    set(&o, "date", &date);
    set(&o, "dateMs", &ms.map_or(JsValue::NULL, JsValue::from_f64));
    set(
        &o,
        "messageId",
        &s.message_id.map_or(JsValue::NULL, |m| m.into()),
    );
    o
}

/// `displayName(from)` → the short form of a From value for a list column: the display name
/// of `Name <addr>`, else the address, else the whole value (as display text).
#[wasm_bindgen(js_name = displayName)]
pub fn display_name(from: &str) -> String {
    pop3_headers::display_name(from)
}
