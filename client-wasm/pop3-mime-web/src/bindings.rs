//! Reading messages (`pop3-mime`) for JavaScript: parseMessage, renderHtml, partBytes,
//! sanitizeHtml, cleanFilename. Thin on purpose: every decision lives in the crate and is
//! tested natively; this file only converts values (docs/js-api.md, "Reading messages").

use crate::error::Pop3Error;
use crate::interop::{get, to_js};
use pop3_mime::{Limits, MessageView, SanitizeOptions};
use serde::Serialize;
use wasm_bindgen::prelude::*;

#[derive(Serialize)]
struct MailboxJs {
    name: Option<String>,
    address: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PartJs {
    id: String,
    content_type: String,
    disposition: &'static str,
    filename: Option<String>,
    extension: String,
    size: f64,
    content_id: Option<String>,
    is_attachment: bool,
    depth: usize,
    outline: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MessageJs {
    subject: Option<String>,
    from: Vec<MailboxJs>,
    to: Vec<MailboxJs>,
    cc: Vec<MailboxJs>,
    reply_to: Vec<MailboxJs>,
    date: Option<String>,
    message_id: Option<String>,
    parts: Vec<PartJs>,
    text_parts: Vec<String>,
    html_parts: Vec<String>,
    text: Option<String>,
    text_html: Option<String>,
    has_html: bool,
    warnings: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HtmlJs {
    html: String,
    remote_blocked: f64,
    truncated: bool,
}

#[derive(Serialize)]
struct CleanNameJs {
    name: String,
    extension: String,
}

fn mailboxes(list: Vec<pop3_mime::Mailbox>) -> Vec<MailboxJs> {
    list.into_iter()
        .map(|m| MailboxJs {
            name: m.name,
            address: m.address,
        })
        .collect()
}

impl From<MessageView> for MessageJs {
    fn from(v: MessageView) -> Self {
        MessageJs {
            text_html: v.text.as_deref().map(pop3_mime::text_to_html),
            subject: v.subject,
            from: mailboxes(v.from),
            to: mailboxes(v.to),
            cc: mailboxes(v.cc),
            reply_to: mailboxes(v.reply_to),
            date: v.date,
            message_id: v.message_id,
            parts: v
                .parts
                .into_iter()
                .map(|p| PartJs {
                    id: p.id,
                    content_type: p.content_type,
                    disposition: p.disposition.as_str(),
                    filename: p.filename,
                    extension: p.extension,
                    size: p.size as f64,
                    content_id: p.content_id,
                    is_attachment: p.is_attachment,
                    depth: p.depth,
                    outline: p.outline_mark,
                })
                .collect(),
            text_parts: v.text_parts,
            html_parts: v.html_parts,
            text: v.text,
            has_html: v.has_html,
            warnings: v.warnings.iter().map(ToString::to_string).collect(),
        }
    }
}

fn mime_err(e: &pop3_mime::MimeError) -> JsValue {
    Pop3Error::from(e).to_js()
}

/// `{ allowRemote }`; anything missing means the safe default.
fn sanitize_options(options: &JsValue) -> SanitizeOptions {
    SanitizeOptions {
        allow_remote: get(options, "allowRemote").is_some_and(|v| v.is_truthy()),
    }
}

/// `parseMessage(bytes)`: headers as plain text, the part list, the plain-text body.
#[wasm_bindgen(js_name = parseMessage)]
pub fn parse_message(bytes: &[u8]) -> Result<JsValue, JsValue> {
    pop3_mime::parse_message(bytes, &Limits::default())
        .map(|v| to_js(&MessageJs::from(v)))
        .map_err(|e| mime_err(&e))
}

/// `renderHtml(bytes, { allowRemote })`: the body as sanitized HTML, each part on its own.
#[wasm_bindgen(js_name = renderHtml)]
pub fn render_html(bytes: &[u8], options: JsValue) -> Result<JsValue, JsValue> {
    pop3_mime::render_html(bytes, sanitize_options(&options), &Limits::default())
        .map(|r| {
            to_js(&HtmlJs {
                html: r.html,
                remote_blocked: r.remote_blocked as f64,
                truncated: r.truncated,
            })
        })
        .map_err(|e| mime_err(&e))
}

/// `partBytes(bytes, partId)`: the decoded bytes of one part, for a download.
#[wasm_bindgen(js_name = partBytes)]
pub fn part_bytes(bytes: &[u8], part_id: &str) -> Result<Vec<u8>, JsValue> {
    pop3_mime::part_bytes(bytes, part_id, &Limits::default()).map_err(|e| mime_err(&e))
}

/// `sanitizeHtml(html, { allowRemote })`: the sanitizer alone.
#[wasm_bindgen(js_name = sanitizeHtml)]
pub fn sanitize_html(html: &str, options: JsValue) -> JsValue {
    let s = pop3_mime::sanitize_html(html, sanitize_options(&options));
    to_js(&HtmlJs {
        html: s.html,
        remote_blocked: s.remote_blocked as f64,
        truncated: s.truncated,
    })
}

/// `cleanFilename(name)`: `{ name, extension }`.
#[wasm_bindgen(js_name = cleanFilename)]
pub fn clean_filename(name: &str) -> JsValue {
    let c = pop3_mime::clean_filename(name);
    to_js(&CleanNameJs {
        name: c.name,
        extension: c.extension,
    })
}

// ---------------------------------------------------------------------------- big messages

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LeafJs {
    start: f64,
    end: f64,
    size: f64,
    encoding: &'static str,
    cut: bool,
}

/// `new OutlineBuilder(nonce)`: a big message's outline, fed in pieces
/// (`pop3_mime::outline`); `finish()` gives `{ bytes, leaves, size, cut }`.
#[wasm_bindgen]
#[derive(Debug)]
pub struct OutlineBuilder(Option<pop3_mime::outline::OutlineBuilder>);

#[wasm_bindgen]
impl OutlineBuilder {
    /// A builder whose marks carry `nonce`.
    #[wasm_bindgen(constructor)]
    pub fn new(nonce: &str) -> OutlineBuilder {
        OutlineBuilder(Some(pop3_mime::outline::OutlineBuilder::new(nonce)))
    }

    /// The next piece of the message.
    pub fn feed(&mut self, piece: &[u8]) {
        if let Some(b) = &mut self.0 {
            b.feed(piece);
        }
    }

    /// The outline: `{ bytes: Uint8Array, leaves: [{ start, end, size, encoding, cut }],
    /// size, cut }`; `null` when it was already finished.
    pub fn finish(&mut self) -> JsValue {
        let Some(b) = self.0.take() else {
            return JsValue::NULL;
        };
        let o = b.finish();
        let leaves: Vec<LeafJs> = o
            .leaves
            .iter()
            .map(|l| LeafJs {
                start: l.start as f64,
                end: l.end as f64,
                size: l.size as f64,
                encoding: l.encoding.as_str(),
                cut: l.cut,
            })
            .collect();
        let out = js_sys::Object::new();
        let set = |k: &str, v: &JsValue| js_sys::Reflect::set(&out, &k.into(), v).is_ok();
        let ok = set(
            "bytes",
            &js_sys::Uint8Array::from(o.bytes.as_slice()).into(),
        ) && set("leaves", &to_js(&leaves))
            && set("size", &(o.size as f64).into())
            && set("cut", &o.cut().into());
        if ok { out.into() } else { JsValue::NULL }
    }
}

/// `new PartDecoder(encoding)`: a part's transfer encoding (`base64`, `quoted-printable`,
/// `identity`: a leaf's `encoding`) undone piece by piece (`pop3_mime::decode`).
#[wasm_bindgen]
#[derive(Debug)]
pub struct PartDecoder(Option<pop3_mime::decode::PartDecoder>);

#[wasm_bindgen]
impl PartDecoder {
    /// A decoder for `encoding`; an unknown name decodes nothing away (identity).
    #[wasm_bindgen(constructor)]
    pub fn new(encoding: &str) -> PartDecoder {
        let e = pop3_mime::decode::TransferEncoding::from_name(encoding)
            .unwrap_or(pop3_mime::decode::TransferEncoding::Identity);
        PartDecoder(Some(pop3_mime::decode::PartDecoder::new(e)))
    }

    /// The decoded bytes of the next piece.
    pub fn update(&mut self, piece: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(d) = &mut self.0 {
            d.update(piece, &mut out);
        }
        out
    }

    /// What is still held, at the end of the body.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(d) = self.0.take() {
            d.finish(&mut out);
        }
        out
    }
}

/// `new Sha256Stream()`: a kept message's checksum taken piece by piece, the same as the
/// store's (`pop3_sync::Sha256Hasher`); `finish()` gives lower-case hex.
#[wasm_bindgen]
#[derive(Debug, Default)]
pub struct Sha256Stream(Option<pop3_sync::Sha256Hasher>);

#[wasm_bindgen]
impl Sha256Stream {
    /// A new checksum.
    #[wasm_bindgen(constructor)]
    pub fn new() -> Sha256Stream {
        Sha256Stream(Some(pop3_sync::Sha256Hasher::default()))
    }

    /// The next piece.
    pub fn update(&mut self, piece: &[u8]) {
        if let Some(h) = &mut self.0 {
            h.update(piece);
        }
    }

    /// Lower-case hex of every piece given (empty once already finished).
    pub fn finish(&mut self) -> String {
        self.0
            .take()
            .map(|h| h.finish().as_str().to_owned())
            .unwrap_or_default()
    }
}
