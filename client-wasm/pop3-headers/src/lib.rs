//! A message's header section, parsed for display — the one place that does it, for the
//! message list (the wasm `summarizeHeaders`), the sync's identity fields (`pop3-sync`) and
//! the reader (`pop3-mime`).
//!
//! - [`Headers::parse`]: the fields of the header section (RFC 5322 §2.2), unfolded, up to the
//!   first empty line and at most [`MAX_HEADER_BYTES`];
//! - [`decode_encoded_words`]: RFC 2047 encoded words, in any charset a [`Charsets`] hook knows
//!   (UTF-8, US-ASCII, ISO-8859-1 and windows-1252 are built in, so the client package stays
//!   small; `pop3-mime` adds encoding_rs, `pop3-web` the browser's `TextDecoder`);
//! - [`mailboxes`] and [`display_name`]: addresses and their display names;
//! - [`parse_date`]: Date to epoch milliseconds; [`message_id`]: the Message-ID.
//!
//! Every string meant for display has been through [`pop3_proto::text::display_line`]: no
//! control, bidi or invisible characters. Nothing here panics on input.

#![warn(missing_docs, missing_debug_implementations)]

mod address;
pub mod charsets;
mod date;
mod encoded;
mod forgiving_base64;

pub use address::display_name;
pub use charsets::{Builtin, Charsets, header_bytes_to_text};
pub use date::{Date, parse_date};
pub use encoded::decode_encoded_words;
pub use forgiving_base64::{Base64Decoder, decode_base64};

use pop3_proto::text::display_line;

/// Header bytes looked at: a header section bigger than this is malformed or hostile, and the
/// fields shown come first in practice.
pub const MAX_HEADER_BYTES: usize = 256 * 1024;

/// One header field: its name, lower-cased, and its value unfolded but otherwise as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The field name, lower-cased (`subject`).
    pub name: String,
    /// Continuation lines are joined with one space; both ends of each line are trimmed of
    /// ASCII whitespace. Raw bytes: 8-bit text and encoded words are not decoded yet.
    pub value: Vec<u8>,
}

/// A name and address from From/To/Cc/Reply-To, as display text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mailbox {
    /// The display name (`Ann Example`), decoded; `None` when the sender gave none.
    pub name: Option<String>,
    /// The address (`ann@example.org`); `None` for a bare name or a group's name.
    pub address: Option<String>,
}

/// The fields of a header section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    /// The fields in the order they were sent.
    pub fields: Vec<Field>,
}

impl Headers {
    /// Reads the header section at the start of `raw` (a whole message, or just its headers):
    /// stops at the first empty line, or after [`MAX_HEADER_BYTES`]. A line without a colon is
    /// skipped; a continuation line (starting with a space or tab) belongs to the field
    /// before it. CRLF and bare LF line ends are both accepted.
    pub fn parse(raw: &[u8]) -> Headers {
        let raw = &raw[..raw.len().min(MAX_HEADER_BYTES)];
        let mut fields: Vec<Field> = Vec::new();
        for line in raw.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let Some(&first) = line.first() else { break };
            if first == b' ' || first == b'\t' {
                // A continuation line belongs to the field before it (RFC 5322 §2.2.3).
                if let Some(f) = fields.last_mut() {
                    f.value.push(b' ');
                    f.value.extend_from_slice(line.trim_ascii());
                }
                continue;
            }
            if let Some(colon) = line.iter().position(|&b| b == b':') {
                fields.push(Field {
                    name: String::from_utf8_lossy(line[..colon].trim_ascii()).to_ascii_lowercase(),
                    value: line[colon + 1..].trim_ascii().to_vec(),
                });
            }
        }
        Headers { fields }
    }

    /// The raw (unfolded) value of the first field called `name` (lower case).
    pub fn raw(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.as_slice())
    }

    /// The first field called `name` as display text: 8-bit bytes decoded, encoded words
    /// decoded, unsafe characters removed. `None` when absent or empty.
    pub fn text(&self, name: &str, charsets: &dyn Charsets) -> Option<String> {
        self.raw(name)
            .map(|v| display_text(v, charsets))
            .filter(|s| !s.is_empty())
    }

    /// The mailboxes of the first field called `name` (groups flattened).
    pub fn mailboxes(&self, name: &str, charsets: &dyn Charsets) -> Vec<Mailbox> {
        self.raw(name)
            .map(|v| mailboxes(v, charsets))
            .unwrap_or_default()
    }

    /// The first Date field, when it is a real date.
    pub fn date(&self) -> Option<Date> {
        self.raw("date")
            .and_then(|v| parse_date(&header_bytes_to_text(v)))
    }

    /// The first Message-ID, without its angle brackets.
    pub fn message_id(&self) -> Option<String> {
        self.raw("message-id").and_then(message_id)
    }
}

/// A raw field value as display text: bytes as UTF-8 (else windows-1252), RFC 2047 encoded
/// words decoded, then [`display_line`].
pub fn display_text(value: &[u8], charsets: &dyn Charsets) -> String {
    display_line(&decode_encoded_words(
        &header_bytes_to_text(value),
        charsets,
    ))
}

/// The mailboxes of an address-list value (From, To, Cc, Reply-To), groups flattened.
pub fn mailboxes(value: &[u8], charsets: &dyn Charsets) -> Vec<Mailbox> {
    address::mailboxes(&header_bytes_to_text(value), charsets)
}

/// A Message-ID value without its angle brackets, as display text: what is between the first
/// `<` and the `>` after it, or the whole value when it has no brackets.
pub fn message_id(value: &[u8]) -> Option<String> {
    let text = header_bytes_to_text(value);
    let inner = match text.split_once('<') {
        Some((_, rest)) => rest.split('>').next().unwrap_or(""),
        None => text.as_str(),
    };
    Some(display_line(inner)).filter(|s| !s.is_empty())
}

/// What the message list shows of a message: display text, `""` for a missing field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// The From value, decoded (`Name <addr>`); [`display_name`] gives its short form.
    pub from: String,
    /// The To value, decoded.
    pub to: String,
    /// The Cc value, decoded.
    pub cc: String,
    /// The Subject, decoded.
    pub subject: String,
    /// The Date field as written (display text).
    pub date_text: String,
    /// The Date field, when it is a real date.
    pub date: Option<Date>,
    /// The Message-ID without angle brackets.
    pub message_id: Option<String>,
}

/// The summary of the header section at the start of `raw`.
pub fn summarize(raw: &[u8], charsets: &dyn Charsets) -> Summary {
    let h = Headers::parse(raw);
    let text = |name: &str| h.text(name, charsets).unwrap_or_default();
    Summary {
        from: text("from"),
        to: text("to"),
        cc: text("cc"),
        subject: text("subject"),
        date_text: text("date"),
        date: h.date(),
        message_id: h.message_id(),
    }
}
