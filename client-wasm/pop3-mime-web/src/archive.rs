//! Export and import for JavaScript (docs/js-api.md, "Export and import"): archives of kept
//! mail, written a message at a time (`ArchiveWriter`) and read back (`importArchive`). They
//! are here, in the reading module, because only the "This device…" dialog uses them: the
//! sign-in package does without them (and without the inflater that imports need). Thin on
//! purpose: the formats and every decision are `pop3_sync::export`'s, tested natively.

use crate::error::Pop3Error;
use crate::interop::{get, to_js};
use js_sys::{Array, Object, Reflect, Uint8Array};
use pop3_bridge_protocol::api::Code;
use pop3_sync::KnownRecord;
use pop3_sync::export::{self, mbox, zip};
use wasm_bindgen::prelude::*;

fn bad_options(what: &str, e: impl std::fmt::Display) -> JsValue {
    Pop3Error::new(Code::BadOptions, format!("{what}: {e}")).to_js()
}

fn archive_err(e: &pop3_sync::export::ArchiveError) -> JsValue {
    Pop3Error::new(e.code(), e.to_string()).to_js()
}

/// `new ArchiveWriter('mbox' | 'zip')`: an archive written a message at a time and each
/// message a piece at a time, so that an export never holds more than a piece of one message
/// (docs/js-api.md, "Export and import"). Per message: `begin(uid, dateMs)`, `write(piece)`
/// for each piece (its result goes into the archive), `end()`; at the last, `finish()`. For
/// mbox the archive is every result in order; for zip, `end()`'s result goes *before* the
/// message's own bytes, which go in unchanged (`write` only checksums them).
#[wasm_bindgen]
#[derive(Debug)]
pub struct ArchiveWriter(Writer);

/// Which format the writer writes.
#[derive(Debug)]
enum Writer {
    Mbox(mbox::MboxWriter),
    Zip(zip::ZipWriter),
}

#[wasm_bindgen]
impl ArchiveWriter {
    /// `new ArchiveWriter('mbox' | 'zip')`.
    #[wasm_bindgen(constructor)]
    pub fn new(format: &str) -> Result<ArchiveWriter, JsValue> {
        match format {
            "mbox" => Ok(ArchiveWriter(Writer::Mbox(mbox::MboxWriter::default()))),
            "zip" => Ok(ArchiveWriter(Writer::Zip(zip::ZipWriter::default()))),
            _ => Err(Pop3Error::new(
                Code::BadOptions,
                format!("ArchiveWriter: format must be 'mbox' or 'zip', not {format:?}"),
            )
            .to_js()),
        }
    }

    /// Starts the next message: its UIDL (or null) and when it arrived (unix ms).
    pub fn begin(&mut self, uid: Option<String>, date_ms: Option<f64>) -> Result<(), JsValue> {
        let date_ms = date_ms.filter(|f| f.is_finite()).map(|f| f as i64);
        match &mut self.0 {
            Writer::Mbox(m) => m.begin(uid.as_deref(), date_ms),
            Writer::Zip(z) => z.begin(uid.as_deref(), date_ms),
        }
        .map_err(|e| archive_err(&e))
    }

    /// The message's next bytes; returns what goes into the archive now (mbox), or nothing
    /// (zip: the message goes in unchanged after `end()`'s bytes).
    pub fn write(&mut self, piece: &[u8]) -> Result<Uint8Array, JsValue> {
        let mut out = Vec::new();
        match &mut self.0 {
            Writer::Mbox(m) => m.write(piece, &mut out),
            Writer::Zip(z) => z.write(piece),
        }
        .map(|()| Uint8Array::from(out.as_slice()))
        .map_err(|e| archive_err(&e))
    }

    /// Ends the message: mbox, the rest of it; zip, the entry's header and `X-POP3-UIDL:`
    /// line, which go before the message's own bytes.
    pub fn end(&mut self) -> Result<Uint8Array, JsValue> {
        match &mut self.0 {
            Writer::Mbox(m) => {
                let mut out = Vec::new();
                m.end(&mut out).map(|()| out)
            }
            Writer::Zip(z) => z.end(),
        }
        .map(|b| Uint8Array::from(b.as_slice()))
        .map_err(|e| archive_err(&e))
    }

    /// Drops the message under way (one that could not be read): as if it had not been begun.
    /// What `write` gave for it must be left out of the archive.
    pub fn abandon(&mut self) {
        match &mut self.0 {
            Writer::Mbox(m) => m.abandon(),
            Writer::Zip(z) => z.abandon(),
        }
    }

    /// The archive's last bytes (zip: its central directory; mbox: none).
    pub fn finish(&mut self) -> Result<Uint8Array, JsValue> {
        match &mut self.0 {
            Writer::Mbox(m) => m.finish().map(|()| Vec::new()),
            Writer::Zip(z) => z.finish(),
        }
        .map(|b| Uint8Array::from(b.as_slice()))
        .map_err(|e| archive_err(&e))
    }
}

/// `importArchive(bytes, { known?, nowMs? })` → `{ format, skipped, messages: [{uid, raw,
/// sha256, record}] }`, without what `known` already has.
#[wasm_bindgen(js_name = importArchive)]
pub fn import_archive(bytes: &[u8], options: JsValue) -> Result<JsValue, JsValue> {
    let known: Vec<KnownRecord> = match get(&options, "known") {
        Some(k) => serde_wasm_bindgen::from_value(k).map_err(|e| bad_options("known", e))?,
        None => Vec::new(),
    };
    let now_ms = get(&options, "nowMs")
        .and_then(|v| v.as_f64())
        .filter(|f| f.is_finite())
        .map_or(0, |f| f as i64);
    let (format, msgs) = export::import(bytes).map_err(|e| archive_err(&e))?;
    let (kept, skipped) = export::dedup(msgs, &known);
    let messages = Array::new();
    for m in &kept {
        let o = Object::new();
        let set = |k: &str, v: &JsValue| {
            let _ = Reflect::set(&o, &JsValue::from_str(k), v);
        };
        set(
            "uid",
            &m.uid.as_deref().map_or(JsValue::NULL, JsValue::from_str),
        );
        set("raw", &Uint8Array::from(m.raw.as_slice()).into());
        set("sha256", &JsValue::from_str(&m.sha256));
        set("record", &to_js(&m.record(now_ms)));
        messages.push(&o);
    }
    let out = Object::new();
    let _ = Reflect::set(&out, &"format".into(), &format.name().into());
    let _ = Reflect::set(&out, &"skipped".into(), &JsValue::from(skipped as f64));
    let _ = Reflect::set(&out, &"messages".into(), &messages);
    Ok(out.into())
}
