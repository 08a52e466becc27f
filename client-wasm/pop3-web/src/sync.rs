//! The sync state machine (`pop3-sync`) for JavaScript: `SyncRun`, plus the archive
//! functions. Thin on purpose: every decision lives in the crate and is tested natively; this
//! file only converts values (docs/js-api.md, "Sync and export"). JavaScript never decides
//! identity, deletability or what fits.

use crate::error::Pop3Error;
use crate::interop::{get, to_js};
use js_sys::{Array, Object, Reflect, Uint8Array};
use pop3_bridge_protocol::api::Code;
use pop3_sync::export::{self, ExportMessage, mbox, zip};
use pop3_sync::{
    Committed, IdentifyIn, KnownRecord, ListingIn, ScanIn, Sha256, StorageEstimate, SyncError,
    SyncOptions, UidIn,
};
use wasm_bindgen::prelude::*;

fn sync_err(e: &SyncError) -> JsValue {
    Pop3Error::new(e.code(), e.to_string()).to_js()
}

fn bad_options(what: &str, e: impl std::fmt::Display) -> JsValue {
    Pop3Error::new(Code::BadOptions, format!("{what}: {e}")).to_js()
}

/// One sync of one account over one session (see docs/js-api.md).
#[wasm_bindgen]
#[derive(Debug)]
pub struct SyncRun {
    inner: pop3_sync::SyncRun,
}

#[wasm_bindgen]
impl SyncRun {
    /// `new SyncRun({ account, policy, known, nowMs, downloadAndDeleteWithoutUidl })`
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> Result<SyncRun, JsValue> {
        let opts: SyncOptions =
            serde_wasm_bindgen::from_value(options).map_err(|e| bad_options("SyncRun", e))?;
        pop3_sync::SyncRun::new(opts)
            .map(|inner| SyncRun { inner })
            .map_err(|e| sync_err(&e))
    }

    /// `listing({ uidlAdvertised, uidl, uidlError, list })` → plan.
    pub fn listing(&mut self, listing: JsValue) -> Result<JsValue, JsValue> {
        let l: ListingIn =
            serde_wasm_bindgen::from_value(listing).map_err(|e| bad_options("listing", e))?;
        self.inner
            .listing(l)
            .map(|p| to_js(&p))
            .map_err(|e| sync_err(&e))
    }

    /// The current plan (what is left to fetch).
    pub fn plan(&self) -> JsValue {
        to_js(&self.inner.plan())
    }

    /// Message numbers whose bodies are still to be downloaded, in priority order (a plain
    /// Array, like `plan.bodies`).
    pub fn bodies(&self) -> JsValue {
        to_js(&self.inner.bodies())
    }

    /// `headers(msg, headerBytes | null)`: `null` when TOP failed.
    pub fn headers(&mut self, msg: u32, header_bytes: Option<Vec<u8>>) -> Result<JsValue, JsValue> {
        self.inner
            .headers(msg, header_bytes.as_deref())
            .map(|h| to_js(&h))
            .map_err(|e| sync_err(&e))
    }

    /// `stored(msg, { sha256, full })`, only after the durable commit. `full` defaults to
    /// whether a sha256 is given; a full commit needs the 64-hex checksum (`bad_sha256`).
    pub fn stored(&mut self, msg: u32, info: JsValue) -> Result<JsValue, JsValue> {
        let sha = get(&info, "sha256").and_then(|v| v.as_string());
        let full = get(&info, "full")
            .and_then(|v| v.as_bool())
            .unwrap_or(sha.is_some());
        let what = if full {
            let sha256 = Sha256::parse(sha.as_deref().unwrap_or("")).map_err(|e| sync_err(&e))?;
            Committed::Full { sha256 }
        } else {
            Committed::HeadersOnly
        };
        self.inner
            .stored(msg, what)
            .map(|s| to_js(&s))
            .map_err(|e| sync_err(&e))
    }

    /// `recordFor(msg, bytes)`: the record to write with the full message `bytes` of `msg`, in
    /// the same commit: `{ key, uid, size, fingerprint, firstSeenMs, stored: 'full', sha256 }`.
    /// A new message's header section stands in for its TOP when that was not fed
    /// (`headersBesides`): its fingerprint, or the record of the same mail kept under another
    /// UIDL, whose key then comes back. Throws `sync_state` when nothing may be written for it
    /// (identity not established yet, deleted on this device, not synced).
    #[wasm_bindgen(js_name = recordFor)]
    pub fn record_for(&mut self, msg: u32, bytes: &[u8]) -> Result<JsValue, JsValue> {
        self.inner
            .body_headers(msg, bytes)
            .map_err(|e| sync_err(&e))?;
        let what = Committed::Full {
            sha256: Sha256::of(bytes),
        };
        self.inner
            .record_for(msg, &what)
            .map(|r| to_js(&r))
            .map_err(|e| sync_err(&e))
    }

    /// `recordForStreamed(msg, head, sha256)`: `recordFor` for a message downloaded in pieces
    /// (`download`'s `streamOver`), never held whole: `head` is its first piece (its header
    /// section is in it), `sha256` the checksum `onMessage` gave for all of it.
    #[wasm_bindgen(js_name = recordForStreamed)]
    pub fn record_for_streamed(
        &mut self,
        msg: u32,
        head: &[u8],
        sha256: &str,
    ) -> Result<JsValue, JsValue> {
        let sha256 = Sha256::parse(sha256).map_err(|e| sync_err(&e))?;
        self.inner
            .body_headers(msg, head)
            .map_err(|e| sync_err(&e))?;
        self.inner
            .record_for(msg, &Committed::Full { sha256 })
            .map(|r| to_js(&r))
            .map_err(|e| sync_err(&e))
    }

    /// `bodiesWithin({ quota, usage } | null)` → `{ bodies, totalBytes, warning }`: the bodies
    /// to download now, within the storage estimate (`null`: the browser does not say).
    #[wasm_bindgen(js_name = bodiesWithin)]
    pub fn bodies_within(&self, estimate: JsValue) -> JsValue {
        to_js(&self.inner.bodies_within(estimate_of(&estimate)))
    }

    /// `headersBesides(bodies)` → the message numbers whose headers (`TOP n 0`) are still to
    /// fetch while `bodies` (of `bodiesWithin`) download now: the new messages among them take
    /// theirs from the body (`recordFor`). `null`: headers first (a `verify` is undecided, or
    /// vanished kept mail may turn up as a new message), then `bodiesWithin` again.
    #[wasm_bindgen(js_name = headersBesides)]
    pub fn headers_besides(&self, bodies: Vec<u32>) -> JsValue {
        self.inner
            .headers_besides(&bodies)
            .map_or(JsValue::NULL, |h| to_js(&h))
    }

    /// `[{msg, uid, key, reason, sha256}]`: send DELE for these now.
    pub fn deletions(&self) -> Result<JsValue, JsValue> {
        self.inner
            .deletions()
            .map(|d| to_js(&d))
            .map_err(|e| sync_err(&e))
    }

    /// The server said `+OK` to `DELE msg`.
    #[wasm_bindgen(js_name = deleteAcked)]
    pub fn delete_acked(&mut self, msg: u32) -> Result<(), JsValue> {
        self.inner.delete_acked(msg).map_err(|e| sync_err(&e))
    }

    /// Before QUIT: what this session will delete.
    #[wasm_bindgen(js_name = pendingDeletes)]
    pub fn pending_deletes(&self) -> JsValue {
        to_js(&self.inner.pending_deletes())
    }

    /// After RSET `+OK`: forget this session's deletions and pending marks.
    #[wasm_bindgen(js_name = undoDeletions)]
    pub fn undo_deletions(&mut self) -> Result<JsValue, JsValue> {
        self.inner
            .undo_deletions()
            .map(|d| to_js(&d))
            .map_err(|e| sync_err(&e))
    }

    /// `quit(committed, userDeleted?)`: true for QUIT `+OK`; false for `-ERR` or a lost
    /// connection. `userDeleted`: message numbers the user deleted in this session. →
    /// `{ committed, deleted, pending, deleteLocal }`.
    pub fn quit(&mut self, committed: bool, user_deleted: Option<Vec<u32>>) -> JsValue {
        to_js(
            &self
                .inner
                .quit(committed, user_deleted.as_deref().unwrap_or_default()),
        )
    }

    /// `SyncRun.identify({ uidl, list, known, headers? })` → `[{ msg, key, uid, stored }]`:
    /// which message of this session is which stored record, before any sync. `uidl` and
    /// `list` are the session's answers, `known` every record of the account, `headers` an
    /// optional `[{ msg, headers: Uint8Array }]` of TOP answers at hand.
    pub fn identify(input: JsValue) -> Result<JsValue, JsValue> {
        let uidl: Vec<UidIn> = match get(&input, "uidl") {
            Some(v) => serde_wasm_bindgen::from_value(v).map_err(|e| bad_options("uidl", e))?,
            None => Vec::new(),
        };
        let list: Vec<ScanIn> = match get(&input, "list") {
            Some(v) => serde_wasm_bindgen::from_value(v).map_err(|e| bad_options("list", e))?,
            None => Vec::new(),
        };
        let known: Vec<KnownRecord> = match get(&input, "known") {
            Some(v) => serde_wasm_bindgen::from_value(v).map_err(|e| bad_options("known", e))?,
            None => Vec::new(),
        };
        let mut raw: Vec<(u32, Vec<u8>)> = Vec::new();
        if let Some(h) = get(&input, "headers") {
            if !Array::is_array(&h) {
                return Err(bad_options(
                    "headers",
                    "expected an array of {msg, headers}",
                ));
            }
            for item in Array::from(&h).iter() {
                let msg = get(&item, "msg").and_then(|v| v.as_f64());
                let bytes = get(&item, "headers").and_then(|v| v.dyn_into::<Uint8Array>().ok());
                match (msg, bytes) {
                    (Some(m), Some(b))
                        if m >= 1.0 && m <= f64::from(u32::MAX) && m.fract() == 0.0 =>
                    {
                        raw.push((m as u32, b.to_vec()));
                    }
                    _ => {
                        return Err(bad_options(
                            "headers",
                            "expected {msg, headers: Uint8Array}",
                        ));
                    }
                }
            }
        }
        let headers = raw.iter().map(|(m, b)| (*m, b.as_slice())).collect();
        pop3_sync::identify(IdentifyIn {
            uidl,
            list,
            known,
            headers,
        })
        .map(|found| to_js(&found))
        .map_err(|e| sync_err(&e))
    }

    /// The records to persist, by key.
    pub fn known(&self) -> JsValue {
        to_js(&self.inner.known())
    }

    /// Keys the store should delete (empty records merged into a fingerprint match).
    pub fn dropped(&self) -> Vec<String> {
        self.inner.dropped()
    }

    /// This session's message number of the record `key`, or undefined.
    #[wasm_bindgen(js_name = msgOf)]
    pub fn msg_of(&self, key: &str) -> Option<u32> {
        self.inner.msg_of(key)
    }
}

/// `{ quota, usage }` in bytes, or `None` when it is missing or not two finite numbers (the
/// browser did not say: every body is fetched, and a full disk stops at its commit).
fn estimate_of(v: &JsValue) -> Option<StorageEstimate> {
    let num = |k: &str| {
        get(v, k)
            .and_then(|x| x.as_f64())
            .filter(|f| f.is_finite())
            .map(|f| f.clamp(0.0, u64::MAX as f64) as u64)
    };
    Some(StorageEstimate {
        quota: num("quota")?,
        usage: num("usage")?,
    })
}

/// Lower-case hex sha256 of the bytes.
#[wasm_bindgen(js_name = sha256Hex)]
pub fn sha256_hex(bytes: &[u8]) -> String {
    pop3_sync::sha256_hex(bytes)
}

fn archive_err(e: &pop3_sync::export::ArchiveError) -> JsValue {
    Pop3Error::new(e.code(), e.to_string()).to_js()
}

/// `[{uid?, raw: Uint8Array, dateMs?}]` into messages; malformed items are `bad_options`.
fn export_items(items: &JsValue) -> Result<Vec<ExportMessage>, JsValue> {
    if !Array::is_array(items) {
        return Err(Pop3Error::new(Code::BadOptions, "expected an array of {uid, raw}").to_js());
    }
    Array::from(items)
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let raw = get(&item, "raw")
                .and_then(|v| v.dyn_into::<Uint8Array>().ok())
                .ok_or_else(|| {
                    Pop3Error::new(
                        Code::BadOptions,
                        format!("item {i}: raw must be a Uint8Array"),
                    )
                    .to_js()
                })?;
            Ok(ExportMessage {
                uid: get(&item, "uid").and_then(|v| v.as_string()),
                raw: raw.to_vec(),
                date_ms: get(&item, "dateMs")
                    .and_then(|v| v.as_f64())
                    .filter(|f| f.is_finite())
                    .map(|f| f as i64),
            })
        })
        .collect()
}

/// `exportMboxrd([{uid, raw, dateMs?}])` → Uint8Array (an mboxrd file).
#[wasm_bindgen(js_name = exportMboxrd)]
pub fn export_mboxrd(items: JsValue) -> Result<Uint8Array, JsValue> {
    let msgs = export_items(&items)?;
    mbox::write_mboxrd(&msgs)
        .map(|b| Uint8Array::from(b.as_slice()))
        .map_err(|e| archive_err(&e))
}

/// `exportEmlZip([{uid, raw, dateMs?}])` → Uint8Array (a zip of `<uid>.eml` files).
#[wasm_bindgen(js_name = exportEmlZip)]
pub fn export_eml_zip(items: JsValue) -> Result<Uint8Array, JsValue> {
    let msgs = export_items(&items)?;
    zip::write_eml_zip(&msgs)
        .map(|b| Uint8Array::from(b.as_slice()))
        .map_err(|e| archive_err(&e))
}

/// `new ArchiveWriter('mbox' | 'zip')`: an archive written a message at a time and each
/// message a piece at a time, so that an export never holds more than a piece of one message
/// (docs/js-api.md, "Export and import"). Per message: `begin(uid, dateMs)`, `write(piece)`
/// for each piece (its result goes into the archive), `end()`; at the last, `finish()`. For
/// mbox the archive is every result in order; for zip, `end()`'s result goes *before* the
/// message's own bytes, which go in unchanged (`write` only checksums them).
#[wasm_bindgen]
#[derive(Debug)]
pub struct ArchiveWriter {
    mbox: Option<mbox::MboxWriter>,
    zip: Option<zip::ZipWriter>,
}

#[wasm_bindgen]
impl ArchiveWriter {
    /// `new ArchiveWriter('mbox' | 'zip')`.
    #[wasm_bindgen(constructor)]
    pub fn new(format: &str) -> Result<ArchiveWriter, JsValue> {
        match format {
            "mbox" => Ok(ArchiveWriter {
                mbox: Some(mbox::MboxWriter::default()),
                zip: None,
            }),
            "zip" => Ok(ArchiveWriter {
                mbox: None,
                zip: Some(zip::ZipWriter::default()),
            }),
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
        let r = match (&mut self.mbox, &mut self.zip) {
            (Some(m), _) => m.begin(uid.as_deref(), date_ms),
            (_, Some(z)) => z.begin(uid.as_deref(), date_ms),
            _ => Ok(()),
        };
        r.map_err(|e| archive_err(&e))
    }

    /// The message's next bytes; returns what goes into the archive now (mbox), or nothing
    /// (zip: the message goes in unchanged after `end()`'s bytes).
    pub fn write(&mut self, piece: &[u8]) -> Result<Uint8Array, JsValue> {
        let mut out = Vec::new();
        let r = match (&mut self.mbox, &mut self.zip) {
            (Some(m), _) => m.write(piece, &mut out),
            (_, Some(z)) => z.write(piece),
            _ => Ok(()),
        };
        r.map(|()| Uint8Array::from(out.as_slice()))
            .map_err(|e| archive_err(&e))
    }

    /// Ends the message: mbox, the rest of it; zip, the entry's header and `X-POP3-UIDL:`
    /// line, which go before the message's own bytes.
    pub fn end(&mut self) -> Result<Uint8Array, JsValue> {
        let mut out = Vec::new();
        let r = match (&mut self.mbox, &mut self.zip) {
            (Some(m), _) => m.end(&mut out),
            (_, Some(z)) => z.end().map(|b| out = b),
            _ => Ok(()),
        };
        r.map(|()| Uint8Array::from(out.as_slice()))
            .map_err(|e| archive_err(&e))
    }

    /// Drops the message under way (one that could not be read): as if it had not been begun.
    /// What `write` gave for it must be left out of the archive.
    pub fn abandon(&mut self) {
        if let Some(m) = &mut self.mbox {
            m.abandon();
        }
        if let Some(z) = &mut self.zip {
            z.abandon();
        }
    }

    /// The archive's last bytes (zip: its central directory; mbox: none).
    pub fn finish(&mut self) -> Result<Uint8Array, JsValue> {
        let r = match (&self.mbox, &mut self.zip) {
            (Some(m), _) => m.finish().map(|()| Vec::new()),
            (_, Some(z)) => z.finish(),
            _ => Ok(Vec::new()),
        };
        r.map(|b| Uint8Array::from(b.as_slice()))
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
