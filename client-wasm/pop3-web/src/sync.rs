//! The sync state machine (`pop3-sync`) for JavaScript: `SyncRun` and the checksum. (The
//! archive functions are the reading module's: client-wasm/pop3-mime-web/src/archive.rs.) Thin on purpose: every decision lives in the crate and is tested natively; this
//! file only converts values (docs/js-api.md, "Sync and export"). JavaScript never decides
//! identity, deletability or what fits.

use crate::error::Pop3Error;
use crate::interop::{get, to_js};
use js_sys::{Array, Uint8Array};
use pop3_bridge_protocol::api::Code;
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
