//! The message view: headers as plain text, the part tree with IMAP-style ids ("1", "2.1"),
//! the displayable bodies, and the bytes of any part.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use mail_parser::{Encoding, Message, MessageParser, MessagePart, MimeHeaders, PartType};
use pop3_headers::Headers;
use pop3_proto::text::display_line;

use crate::charsets::EncodingRs;
use crate::filename::clean_filename;
use crate::sanitize::{INLINE_IMAGE_TYPES, InlineImages, SanitizeOptions, sanitize_with_images};
use crate::text::{text_to_html, unflow};
use crate::{Limits, MimeError};

/// A name and address from From/To/Cc/Reply-To, as plain text (parsed by `pop3_headers`, as
/// the message list parses them).
pub use pop3_headers::Mailbox;

/// How a part is meant to be shown (RFC 2183), as the reader decided it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Part of the displayed body (text, an inline image).
    Inline,
    /// A file offered for download.
    Attachment,
}

impl Disposition {
    /// The RFC 2183 name: `inline` or `attachment`.
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Inline => "inline",
            Disposition::Attachment => "attachment",
        }
    }
}

/// One part of the tree (multipart containers are not listed: they have no content of their
/// own; an attached message is listed, and so are its parts, under its id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartInfo {
    /// IMAP-style path: "1", "2.1", ...
    pub id: String,
    /// Lower-case `type/subtype`.
    pub content_type: String,
    /// Inline or attachment.
    pub disposition: Disposition,
    /// The cleaned file name, if the sender gave one.
    pub filename: Option<String>,
    /// The extension the file really has (lower case, no dot; empty when none).
    pub extension: String,
    /// Decoded size in bytes.
    pub size: usize,
    /// Content-ID without angle brackets.
    pub content_id: Option<String>,
    /// Not part of the displayed body: offered for download.
    pub is_attachment: bool,
    /// Nesting depth: 1 for the parts of the message itself.
    pub depth: usize,
    /// In an outline ([`crate::outline`]): its mark, `<nonce> <leaf index>`, as the part's
    /// [`crate::outline::MARK`] header gives it (the caller checks the nonce).
    pub outline_mark: Option<String>,
}

/// Something was left out or shown approximately.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// Parts nested deeper than `limit` ([`crate::Limits::max_depth`]) are left out.
    TooDeep {
        /// The nesting limit.
        limit: usize,
    },
    /// Parts after the first `limit` ([`crate::Limits::max_parts`]) are left out.
    TooManyParts {
        /// The part limit.
        limit: usize,
    },
    /// Parts beyond `limit` decoded bytes ([`crate::Limits::max_decoded_bytes`]) are left out.
    DecodedTooLarge {
        /// The decoded-size limit in bytes.
        limit: usize,
    },
    /// A part named a charset nobody knows; it is shown as UTF-8.
    UnknownCharset {
        /// The part's id.
        part: String,
        /// The label it gave.
        charset: String,
    },
    /// A part could not be decoded as declared; it is shown as it is.
    DamagedPart {
        /// The part's id.
        part: String,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::TooDeep { limit } => {
                write!(f, "parts nested deeper than {limit} levels are not shown")
            }
            Warning::TooManyParts { limit } => write!(f, "only the first {limit} parts are shown"),
            Warning::DecodedTooLarge { limit } => {
                write!(f, "parts beyond {limit} decoded bytes are not shown")
            }
            Warning::UnknownCharset { part, charset } => {
                write!(
                    f,
                    "part {part}: unknown character set {charset:?}, shown as UTF-8"
                )
            }
            Warning::DamagedPart { part } => write!(f, "part {part} is damaged and shown as it is"),
        }
    }
}

/// What a UI needs to show a message. Every string is plain text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageView {
    /// The Subject, decoded, as display text.
    pub subject: Option<String>,
    /// The From addresses.
    pub from: Vec<Mailbox>,
    /// The To addresses.
    pub to: Vec<Mailbox>,
    /// The Cc addresses.
    pub cc: Vec<Mailbox>,
    /// The Reply-To addresses.
    pub reply_to: Vec<Mailbox>,
    /// ISO 8601 / RFC 3339, when the Date header is valid.
    pub date: Option<String>,
    /// The Message-ID without angle brackets.
    pub message_id: Option<String>,
    /// Every listed part, in document order.
    pub parts: Vec<PartInfo>,
    /// Ids of the text/plain parts that make up the body, in order.
    pub text_parts: Vec<String>,
    /// Ids of the parts to show when showing HTML (text/html, or text/plain where the sender
    /// gave no HTML alternative), in order.
    pub html_parts: Vec<String>,
    /// The plain-text body (format=flowed undone), when there is one.
    pub text: Option<String>,
    /// Whether any text/html part is part of the body.
    pub has_html: bool,
    /// What was left out or shown approximately.
    pub warnings: Vec<Warning>,
}

/// The body as sanitized HTML.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rendered {
    /// The body's HTML, sanitized part by part and joined.
    pub html: String,
    /// Remote references removed (see [`crate::Sanitized::remote_blocked`]).
    pub remote_blocked: usize,
    /// Some HTML part nested too deep or had too many tags and was cut (see
    /// [`crate::MAX_HTML_DEPTH`]).
    pub truncated: bool,
}

/// A parsed message that takes itself apart without recursion: attached messages nest, and a
/// crafted one nests thousands deep, which a recursive drop would not survive on a small
/// (wasm) stack.
struct Parsed<'x>(Message<'x>);

impl Drop for Parsed<'_> {
    fn drop(&mut self) {
        let mut stack = vec![std::mem::take(&mut self.0.parts)];
        while let Some(parts) = stack.pop() {
            for part in parts {
                if let PartType::Message(mut m) = part.body {
                    stack.push(std::mem::take(&mut m.parts));
                }
            }
        }
    }
}

fn check_size(raw: &[u8], limits: &Limits) -> Result<(), MimeError> {
    if raw.len() > limits.max_input_bytes {
        return Err(MimeError::TooLarge {
            size: raw.len(),
            limit: limits.max_input_bytes,
        });
    }
    Ok(())
}

/// `raw` after [`defuse_encoded_messages`]; every entry point parses this, so that part ids
/// and offsets agree between calls.
fn prepared<'x>(raw: &'x [u8], limits: &Limits) -> Result<Cow<'x, [u8]>, MimeError> {
    check_size(raw, limits)?;
    Ok(defuse_encoded_messages(raw))
}

fn parse<'x>(raw: &'x [u8], limits: &Limits) -> Result<Parsed<'x>, MimeError> {
    check_size(raw, limits)?;
    MessageParser::default()
        .parse(raw)
        .map(Parsed)
        .ok_or(MimeError::NotAMessage)
}

/// A listed part and where its content lives.
struct Entry<'a, 'x> {
    info: PartInfo,
    part: &'a MessagePart<'x>,
    /// The message whose `raw_message` the part's offsets refer to.
    owner: &'a Message<'x>,
    /// The part's index in `owner.parts`.
    idx: usize,
}

struct Walker<'a, 'x> {
    limits: Limits,
    entries: Vec<Entry<'a, 'x>>,
    warnings: Vec<Warning>,
    decoded: usize,
}

impl<'a, 'x> Walker<'a, 'x> {
    fn warn(&mut self, w: Warning) {
        if !self.warnings.contains(&w) {
            self.warnings.push(w);
        }
    }

    fn message(&mut self, msg: &'a Message<'x>, prefix: &str, depth: usize) {
        let Some(root) = msg.parts.first() else {
            return;
        };
        match &root.body {
            PartType::Multipart(children) => self.children(msg, 0, children, prefix, depth),
            _ => self.part(msg, 0, &join(prefix, 1), depth),
        }
    }

    fn children(
        &mut self,
        msg: &'a Message<'x>,
        parent: u32,
        ids: &[u32],
        prefix: &str,
        depth: usize,
    ) {
        if depth > self.limits.max_depth {
            self.warn(Warning::TooDeep {
                limit: self.limits.max_depth,
            });
            return;
        }
        for (n, &idx) in ids.iter().enumerate() {
            // The parser lists children after their parent; anything else would be a cycle.
            if idx <= parent {
                continue;
            }
            self.part(msg, idx, &join(prefix, n + 1), depth);
        }
    }

    fn part(&mut self, msg: &'a Message<'x>, idx: u32, id: &str, depth: usize) {
        let Some(part) = msg.parts.get(idx as usize) else {
            return;
        };
        if depth > self.limits.max_depth {
            self.warn(Warning::TooDeep {
                limit: self.limits.max_depth,
            });
            return;
        }
        if let PartType::Multipart(children) = &part.body {
            self.children(msg, idx, children, id, depth + 1);
            return;
        }
        if self.entries.len() >= self.limits.max_parts {
            self.warn(Warning::TooManyParts {
                limit: self.limits.max_parts,
            });
            return;
        }
        let size = decoded_len(msg, part);
        if self.decoded.saturating_add(size) > self.limits.max_decoded_bytes {
            self.warn(Warning::DecodedTooLarge {
                limit: self.limits.max_decoded_bytes,
            });
            return;
        }
        self.decoded += size;
        let content_type = content_type(part);
        if part.is_encoding_problem {
            self.warn(Warning::DamagedPart {
                part: id.to_owned(),
            });
        }
        if let Some(cs) = part.content_type().and_then(|c| c.attribute("charset"))
            && matches!(part.body, PartType::Text(_) | PartType::Html(_))
            && !known_charset(cs)
        {
            self.warn(Warning::UnknownCharset {
                part: id.to_owned(),
                charset: header_text(cs),
            });
        }
        let disposition = match part.content_disposition() {
            Some(d) if d.is_attachment() => Disposition::Attachment,
            _ => Disposition::Inline,
        };
        let (filename, extension) = match part.attachment_name() {
            Some(n) => {
                let c = clean_filename(n);
                (Some(c.name), c.extension)
            }
            None => (None, String::new()),
        };
        let content_id = part
            .content_id()
            .map(|c| header_text(c.trim().trim_start_matches('<').trim_end_matches('>')));
        self.entries.push(Entry {
            info: PartInfo {
                id: id.to_owned(),
                content_type,
                disposition,
                filename,
                extension,
                size,
                content_id,
                // Decided once the body parts are known.
                is_attachment: true,
                depth,
                outline_mark: outline_mark(part),
            },
            part,
            owner: msg,
            idx: idx as usize,
        });
        if let PartType::Message(nested) = &part.body {
            self.message(nested, id, depth + 1);
        }
    }
}

/// The part's [`crate::outline::MARK`] header, when it has exactly one.
fn outline_mark(part: &MessagePart<'_>) -> Option<String> {
    let mut marks = part
        .headers
        .iter()
        .filter(|h| h.name.as_str().eq_ignore_ascii_case(crate::outline::MARK));
    let mark = marks.next()?;
    if marks.next().is_some() {
        return None;
    }
    mark.value.as_text().map(|t| t.trim().to_owned())
}

fn join(prefix: &str, n: usize) -> String {
    if prefix.is_empty() {
        n.to_string()
    } else {
        format!("{prefix}.{n}")
    }
}

fn known_charset(cs: &str) -> bool {
    let l = cs.trim().to_ascii_lowercase();
    matches!(l.as_str(), "utf-8" | "utf8" | "us-ascii")
        || mail_parser::decoders::charsets::map::charset_decoder(l.as_bytes()).is_some()
}

fn content_type(part: &MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => {
            let mut t = ct.ctype().to_ascii_lowercase();
            // Undo defuse_encoded_messages for display.
            if t == "xessage" {
                t = "message".to_owned();
            }
            match ct.subtype() {
                Some(s) => header_text(&format!("{t}/{}", s.to_ascii_lowercase())),
                None => header_text(&t),
            }
        }
        None => match part.body {
            PartType::Message(_) => "message/rfc822".to_owned(),
            PartType::Html(_) => "text/html".to_owned(),
            _ => "text/plain".to_owned(),
        },
    }
}

/// Header text for display: the one rule of pop3_proto::text (controls become spaces, bidi and
/// invisible characters go), so a sender cannot reorder or hide what the reader sees around it.
fn header_text(s: &str) -> String {
    display_line(s)
}

fn decoded_len(owner: &Message<'_>, part: &MessagePart<'_>) -> usize {
    match &part.body {
        PartType::Text(t) | PartType::Html(t) => t.len(),
        PartType::Binary(b) | PartType::InlineBinary(b) => b.len(),
        PartType::Message(m) => message_bytes(owner, part, m).len(),
        PartType::Multipart(_) => 0,
    }
}

/// The bytes of an attached message: decoded, when it was transfer-encoded; else the slice of
/// the enclosing message it occupies.
fn message_bytes<'a>(
    owner: &'a Message<'_>,
    part: &MessagePart<'_>,
    m: &'a Message<'_>,
) -> &'a [u8] {
    if part.encoding != Encoding::None {
        &m.raw_message
    } else {
        raw_slice(owner, part)
    }
}

fn raw_slice<'a>(owner: &'a Message<'_>, part: &MessagePart<'_>) -> &'a [u8] {
    let (start, end) = (part.offset_body as usize, part.offset_end as usize);
    owner
        .raw_message
        .get(start..end.max(start))
        .unwrap_or_default()
}

/// Everything a view needs, from one parse.
struct Analysis<'a, 'x> {
    entries: Vec<Entry<'a, 'x>>,
    warnings: Vec<Warning>,
    text_parts: Vec<usize>,
    html_parts: Vec<usize>,
}

fn analyse<'a, 'x>(msg: &'a Message<'x>, limits: &Limits) -> Analysis<'a, 'x> {
    let mut w = Walker {
        limits: *limits,
        entries: Vec::new(),
        warnings: Vec::new(),
        decoded: 0,
    };
    w.message(msg, "", 1);
    // Entries of the top-level message by part index, for the body lists (which can be as
    // long as the message has parts).
    let by_index: HashMap<usize, usize> = w
        .entries
        .iter()
        .enumerate()
        .filter(|(_, e)| std::ptr::eq(e.owner, msg))
        .map(|(i, e)| (e.idx, i))
        .collect();
    let find = |idx: &u32| by_index.get(&(*idx as usize)).copied();
    let text_parts: Vec<usize> = msg
        .text_body
        .iter()
        .filter_map(find)
        .filter(|&i| matches!(w.entries[i].part.body, PartType::Text(_)))
        .collect();
    let html_parts: Vec<usize> = msg
        .html_body
        .iter()
        .filter_map(find)
        .filter(|&i| {
            matches!(
                w.entries[i].part.body,
                PartType::Text(_) | PartType::Html(_)
            )
        })
        .collect();
    let in_body: HashSet<usize> = text_parts.iter().chain(&html_parts).copied().collect();
    for (i, e) in w.entries.iter_mut().enumerate() {
        let inline_image = e.info.disposition == Disposition::Inline
            && e.info.content_id.is_some()
            && INLINE_IMAGE_TYPES.contains(&e.info.content_type.as_str());
        e.info.is_attachment = !in_body.contains(&i) && !inline_image;
    }
    Analysis {
        entries: w.entries,
        warnings: w.warnings,
        text_parts,
        html_parts,
    }
}

/// Plain text of a text/plain part, with format=flowed undone.
fn plain_text(part: &MessagePart<'_>, text: &str) -> String {
    let ct = part.content_type();
    let param = |n: &str| {
        ct.and_then(|c| c.attribute(n))
            .map(|v| v.trim().to_ascii_lowercase())
    };
    if param("format").as_deref() == Some("flowed") {
        unflow(text, param("delsp").as_deref() == Some("yes"))
    } else {
        text.to_owned()
    }
}

/// Parses a message into a [`MessageView`].
pub fn parse_message(raw: &[u8], limits: &Limits) -> Result<MessageView, MimeError> {
    let data = prepared(raw, limits)?;
    let parsed = parse(&data, limits)?;
    let msg = &parsed.0;
    let a = analyse(msg, limits);
    let texts: Vec<String> = a
        .text_parts
        .iter()
        .filter_map(|&i| match &a.entries[i].part.body {
            PartType::Text(t) => Some(plain_text(a.entries[i].part, t)),
            _ => None,
        })
        .collect();
    // The fields shown come from pop3_headers, the parser the message list uses, with every
    // charset encoding_rs knows.
    let head = Headers::parse(raw);
    let cs = &EncodingRs;
    let view = MessageView {
        subject: head.text("subject", cs),
        from: head.mailboxes("from", cs),
        to: head.mailboxes("to", cs),
        cc: head.mailboxes("cc", cs),
        reply_to: head.mailboxes("reply-to", cs),
        date: head.date().map(|d| d.to_rfc3339()),
        message_id: head.message_id(),
        text_parts: a
            .text_parts
            .iter()
            .map(|&i| a.entries[i].info.id.clone())
            .collect(),
        html_parts: a
            .html_parts
            .iter()
            .map(|&i| a.entries[i].info.id.clone())
            .collect(),
        text: (!texts.is_empty()).then(|| texts.join("\n\n")),
        has_html: a
            .html_parts
            .iter()
            .any(|&i| matches!(a.entries[i].part.body, PartType::Html(_))),
        parts: a.entries.iter().map(|e| e.info.clone()).collect(),
        warnings: a.warnings,
    };
    Ok(view)
}

/// The HTML body, each part sanitized on its own and then concatenated (text/plain parts among
/// them are escaped), with `cid:` images taken from the message's own inline parts.
pub fn render_html(
    raw: &[u8],
    opts: SanitizeOptions,
    limits: &Limits,
) -> Result<Rendered, MimeError> {
    let data = prepared(raw, limits)?;
    let parsed = parse(&data, limits)?;
    let a = analyse(&parsed.0, limits);
    let images = Arc::new(inline_images(&a.entries));
    let mut out = Rendered::default();
    for &i in &a.html_parts {
        let e = &a.entries[i];
        match &e.part.body {
            PartType::Html(h) => {
                let s = sanitize_with_images(h, opts, images.clone());
                out.html.push_str(&s.html);
                out.remote_blocked += s.remote_blocked;
                out.truncated |= s.truncated;
            }
            PartType::Text(t) => {
                let html = format!(
                    "<div style=\"white-space: pre-wrap\">{}</div>",
                    text_to_html(&plain_text(e.part, t))
                );
                // Already safe; sanitizing gives it the one serialization all output shares.
                out.html
                    .push_str(&sanitize_with_images(&html, opts, images.clone()).html);
            }
            _ => {}
        }
    }
    Ok(out)
}

fn inline_images(entries: &[Entry<'_, '_>]) -> InlineImages {
    use base64::Engine as _;
    let mut map = HashMap::new();
    for e in entries {
        let (Some(cid), PartType::Binary(b) | PartType::InlineBinary(b)) =
            (&e.info.content_id, &e.part.body)
        else {
            continue;
        };
        if INLINE_IMAGE_TYPES.contains(&e.info.content_type.as_str()) {
            let data = base64::engine::general_purpose::STANDARD.encode(b);
            map.entry(cid.clone())
                .or_insert_with(|| format!("data:{};base64,{data}", e.info.content_type));
        }
    }
    map
}

/// The decoded bytes of one part (what a download button saves). Text parts come back as
/// their bytes after transfer decoding, in their own character set.
pub fn part_bytes(raw: &[u8], part_id: &str, limits: &Limits) -> Result<Vec<u8>, MimeError> {
    let data = prepared(raw, limits)?;
    let parsed = parse(&data, limits)?;
    let a = analyse(&parsed.0, limits);
    let e = a
        .entries
        .iter()
        .find(|e| e.info.id == part_id)
        .ok_or_else(|| MimeError::PartNotFound(part_id.to_owned()))?;
    Ok(match &e.part.body {
        PartType::Binary(b) | PartType::InlineBinary(b) => b.to_vec(),
        PartType::Message(m) => message_bytes(e.owner, e.part, m).to_vec(),
        PartType::Text(t) | PartType::Html(t) => {
            transfer_decode(raw_slice(e.owner, e.part), e.part.encoding)
                .unwrap_or_else(|| t.as_bytes().to_vec())
        }
        PartType::Multipart(_) => Vec::new(),
    })
}

fn transfer_decode(raw: &[u8], enc: Encoding) -> Option<Vec<u8>> {
    if raw.is_empty() {
        return None;
    }
    match enc {
        Encoding::None => Some(raw.to_vec()),
        Encoding::QuotedPrintable => {
            mail_parser::decoders::quoted_printable::quoted_printable_decode(raw)
        }
        Encoding::Base64 => {
            let compact: Vec<u8> = raw
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            mail_parser::decoders::base64::base64_decode(&compact)
        }
    }
}

/// How far back a folded Content-Type is followed from a `message/` in it.
const HEADER_WINDOW: usize = 64 << 10;

/// Makes transfer-encoded attached messages (and multipart/digest, whose parts default to
/// message/rfc822) opaque to the parser: `message/` in their Content-Type becomes `xessage/`,
/// `multipart/digest` becomes `multipart/xigest`.
///
/// The parser decodes such a part and parses it with recursive code (`into_owned`) that also
/// copies the message once per nesting level, so a small base64 part hiding thousands of
/// nested messages overflows the stack and multiplies memory. RFC 2046 §5.2.1 allows no
/// transfer encoding on message/rfc822, so nothing legitimate is lost: the part is still
/// listed (as `message/…`) and downloadable, only not expanded.
fn defuse_encoded_messages(raw: &[u8]) -> Cow<'_, [u8]> {
    let lower = raw.to_ascii_lowercase();
    let mut patch: Vec<usize> = Vec::new();
    let messages: Vec<usize> = memchr::memmem::find_iter(&lower, b"message/")
        .filter(|&pos| in_content_type(&lower, pos))
        .collect();
    if !messages.is_empty() {
        // Each `message/` with the block of non-blank lines around it: a superset of the
        // header block the parser reads (which holds no blank line), so an encoding declared
        // there is never missed. Blocks do not overlap: one pass, whatever their length.
        let mut next = 0;
        for (start, end) in blocks(&lower) {
            let first = next;
            while next < messages.len() && messages[next] < end {
                next += 1;
            }
            if first < next && declares_encoding(&lower[start..end]) {
                patch.extend_from_slice(&messages[first..next]);
            }
        }
    }
    for pos in memchr::memmem::find_iter(&lower, b"multipart/digest") {
        if in_content_type(&lower, pos) {
            patch.push(pos + "multipart/".len());
        }
    }
    if patch.is_empty() {
        return Cow::Borrowed(raw);
    }
    let mut out = raw.to_vec();
    for p in patch {
        out[p] = b'x';
    }
    Cow::Owned(out)
}

/// Whether `pos` is inside a Content-Type header field (following folded lines back).
fn in_content_type(lower: &[u8], pos: usize) -> bool {
    let floor = pos.saturating_sub(HEADER_WINDOW);
    let mut start = pos;
    loop {
        start = match memchr::memrchr(b'\n', &lower[floor..start]) {
            Some(i) => floor + i + 1,
            None => return floor == 0 && lower.starts_with(b"content-type:"),
        };
        match lower.get(start) {
            Some(b' ' | b'\t') if start > floor + 1 => start -= 1,
            _ => return lower[start..].starts_with(b"content-type:"),
        }
    }
}

/// The blocks of non-blank lines of `lower`, in order, as `(start, end)`: every byte is in
/// one block or in a blank line (one of only `\r`s, or empty).
fn blocks(lower: &[u8]) -> impl Iterator<Item = (usize, usize)> + '_ {
    let blank = |line: &[u8]| line.iter().all(|&c| c == b'\r');
    let eol = |at: usize| memchr::memchr(b'\n', &lower[at..]).map_or(lower.len(), |i| at + i);
    let mut at = 0;
    std::iter::from_fn(move || {
        while at < lower.len() && blank(&lower[at..eol(at)]) {
            at = eol(at) + 1;
        }
        if at >= lower.len() {
            return None;
        }
        let start = at;
        while at < lower.len() && !blank(&lower[at..eol(at)]) {
            at = eol(at) + 1;
        }
        Some((start, at.min(lower.len())))
    })
}

/// Whether a header block declares a base64 or quoted-printable Content-Transfer-Encoding
/// (anywhere in it: a superset, as a folded or odd header may place it).
fn declares_encoding(block: &[u8]) -> bool {
    memchr::memmem::find(block, b"content-transfer-encoding").is_some()
        && (memchr::memmem::find(block, b"base64").is_some()
            || memchr::memmem::find(block, b"quoted-printable").is_some())
}
