//! Values crossing into JS.

use serde::Serialize;
use wasm_bindgen::JsValue;

/// A plain JS object (not a Map) for any serializable value.
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
