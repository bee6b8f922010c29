//! Errors cross into JavaScript as `Error` objects with a stable `code` property, so
//! callers branch on `err.code` rather than on message text.

use crate::error::{Error, ErrorCode};
use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};

/// The JS `Error` for one of ours.
pub fn to_js(e: Error) -> JsValue {
    let err = js_sys::Error::new(&e.message);
    let _ = Reflect::set(&err, &"code".into(), &e.code.as_str().into());
    err.set_name("SiameseError");
    err.into()
}

/// Shorthand for building one of ours.
pub fn err(code: ErrorCode, message: impl Into<String>) -> Error {
    Error::new(code, message)
}

/// The message of anything JavaScript threw (an `Error`, a `DOMException`, a string).
pub fn describe(v: &JsValue) -> String {
    if let Some(e) = v.dyn_ref::<js_sys::Error>() {
        return String::from(e.message());
    }
    if let Some(e) = v.dyn_ref::<web_sys::DomException>() {
        return format!("{}: {}", e.name(), e.message());
    }
    v.as_string().unwrap_or_else(|| format!("{v:?}"))
}

pub type JsResult<T> = std::result::Result<T, JsValue>;
