//! Archives: mboxrd files and zips of `.eml` files, each message carrying its UIDL in an
//! `X-POP3-UIDL:` header line added at the top, and the readers for both.
//!
//! Round trips are exact: `import(export(m))` gives back every message's bytes unchanged —
//! CRLF or LF, with or without a final newline, with `From ` and `>From ` lines. Line endings
//! are never converted: the added header line takes the message's own first line ending, and
//! the reader removes exactly what the writer added (see [`mbox`] for the framing).

pub mod crc32;
pub mod mbox;
pub mod zip;

use crate::headers::{fingerprint, parse_summary, sha256_hex};
use crate::record::{KnownRecord, Stored};
use std::collections::HashSet;

/// The header that keeps a message's UIDL in an archive.
pub const UIDL_HEADER: &str = "X-POP3-UIDL:";

/// Messages one archive may hold; more is refused (a zip cannot hold more without zip64, and
/// an mbox with more is not an export of ours).
pub const MAX_MESSAGES: usize = 1_000_000;

/// One message to export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportMessage {
    /// Its UIDL (printable ASCII without spaces), if it has one.
    pub uid: Option<String>,
    /// The message exactly as stored.
    pub raw: Vec<u8>,
    /// When it arrived (unix ms), for the mbox `From ` line and the zip entry's time.
    pub date_ms: Option<i64>,
}

/// One message read from an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The UIDL from its `X-POP3-UIDL:` header, if any.
    pub uid: Option<String>,
    /// The message bytes, without the added header.
    pub raw: Vec<u8>,
    /// Lower-case hex sha256 of `raw`.
    pub sha256: String,
}

/// Which kind of archive was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An mbox file (mboxrd, or plain mboxo).
    Mbox,
    /// A zip of `.eml` files.
    Zip,
}

impl Format {
    /// `"mbox"` or `"zip"`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Mbox => "mbox",
            Format::Zip => "zip",
        }
    }
}

/// Why an archive cannot be written or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchiveError {
    /// Neither a zip nor an mbox file.
    #[error("this file is neither an mbox file nor a zip archive")]
    Unknown,
    /// The archive is damaged.
    #[error("the archive is damaged: {0}")]
    Corrupt(&'static str),
    /// A zip feature this reader does not have (compression other than deflate, encryption,
    /// zip64).
    #[error("the archive uses {0}, which this app cannot read")]
    Unsupported(&'static str),
    /// Too many messages, too big for a zip without zip64, or past the zip reader's limits
    /// ([`zip::MAX_ENTRY`], [`zip::MAX_TOTAL`]).
    #[error("the archive is too large: {0}")]
    TooLarge(&'static str),
    /// A UIDL that cannot go into a header line.
    #[error("message {0} has a malformed UIDL")]
    BadUid(usize),
    /// An archive writer's calls out of order (bytes before `begin`, say).
    #[error("archive writer: {0}")]
    Order(&'static str),
}

impl ArchiveError {
    /// The stable code JS sees as `error.code` (the JS API's one list of codes, group
    /// `archive`).
    pub fn code(&self) -> pop3_bridge_protocol::api::Code {
        use pop3_bridge_protocol::api::Code;
        match self {
            ArchiveError::Unknown => Code::ArchiveUnknown,
            ArchiveError::Corrupt(_) => Code::ArchiveCorrupt,
            ArchiveError::Unsupported(_) => Code::ArchiveUnsupported,
            ArchiveError::TooLarge(_) => Code::ArchiveTooLarge,
            ArchiveError::BadUid(_) => Code::BadUid,
            ArchiveError::Order(_) => Code::SyncOrder,
        }
    }
}

fn starts_with_uidl_header(raw: &[u8]) -> bool {
    raw.len() >= UIDL_HEADER.len()
        && raw[..UIDL_HEADER.len()].eq_ignore_ascii_case(UIDL_HEADER.as_bytes())
}

/// How much of a message's start its framing is decided on: the `X-POP3-UIDL:` line's ending
/// (the message's first line ending) and the mbox sender (its header section). An archive is
/// written a piece at a time ([`mbox::MboxWriter`], [`zip::ZipWriter`]), so the writer holds
/// the start of each message until it knows: through the end of the header section, or this
/// many bytes, or the whole message if it is shorter. Real header sections are a few KiB; one
/// larger than this is framed on its first MiB (a message whose first line is longer than
/// that gets an LF after its `X-POP3-UIDL:` line, which the reader removes all the same).
pub const HEAD_MAX: usize = 1 << 20;

/// The start of a message being written, held until it decides the framing (see [`HEAD_MAX`]).
#[derive(Debug, Default)]
struct Head {
    buf: Vec<u8>,
    /// Where the search for the end of the header section goes on.
    searched: usize,
}

impl Head {
    /// Holds `chunk`; true once enough is held to decide (or [`Head::decide`] at the end).
    fn push(&mut self, chunk: &[u8]) -> bool {
        self.buf.extend_from_slice(chunk);
        self.complete().is_some()
    }

    /// How much of the held bytes is the head, once that is known. Only bytes within the
    /// first [`HEAD_MAX`] count, so the answer is the same however the message was cut.
    fn complete(&mut self) -> Option<usize> {
        let limit = self.buf.len().min(HEAD_MAX);
        let b = &self.buf[..limit];
        let mut at = self.searched;
        while at + 1 < limit {
            if b[at] == b'\n' {
                if b[at + 1] == b'\n' {
                    return Some(at + 2);
                }
                if b[at + 1] == b'\r' {
                    match b.get(at + 2) {
                        Some(b'\n') => return Some(at + 3),
                        Some(_) => {}
                        // Its third byte has not come yet: look here again next time.
                        None => break,
                    }
                }
            }
            at += 1;
        }
        self.searched = at;
        (self.buf.len() >= HEAD_MAX).then_some(HEAD_MAX)
    }

    /// The head: everything held when the message ended first.
    fn decide(&mut self) -> &[u8] {
        let n = self.complete().unwrap_or(self.buf.len());
        &self.buf[..n]
    }
}

/// A uid the `X-POP3-UIDL:` line can hold (message `index`'s), checked when its message begins.
fn check_uid(index: usize, uid: Option<&str>) -> Result<(), ArchiveError> {
    match uid {
        Some(u) if pop3_proto::Uid::new(u.as_bytes()).is_none() => Err(ArchiveError::BadUid(index)),
        _ => Ok(()),
    }
}

/// The `X-POP3-UIDL:` line for `uid`, from the message's head (see [`HEAD_MAX`]). Without a
/// UIDL nothing is added, unless the message itself starts with such a line: then an empty
/// one protects it, so the reader does not take the message's own line for ours.
fn uid_line(index: usize, uid: Option<&str>, head: &[u8]) -> Result<Vec<u8>, ArchiveError> {
    let crlf = head
        .iter()
        .position(|&b| b == b'\n')
        .is_some_and(|i| i > 0 && head[i - 1] == b'\r');
    let eol: &[u8] = if crlf { b"\r\n" } else { b"\n" };
    let mut out = Vec::new();
    check_uid(index, uid)?;
    match uid {
        Some(u) => {
            out.extend_from_slice(UIDL_HEADER.as_bytes());
            out.push(b' ');
            out.extend_from_slice(u.as_bytes());
            out.extend_from_slice(eol);
        }
        None if starts_with_uidl_header(head) => {
            out.extend_from_slice(UIDL_HEADER.as_bytes());
            out.extend_from_slice(eol);
        }
        None => {}
    }
    Ok(out)
}

/// Splits off our header line: the UIDL it names (none when empty or malformed) and the rest.
fn split_uid_header(msg: &[u8]) -> (Option<String>, &[u8]) {
    if !starts_with_uidl_header(msg) {
        return (None, msg);
    }
    let end = msg
        .iter()
        .position(|&b| b == b'\n')
        .map_or(msg.len(), |i| i + 1);
    let value = &msg[UIDL_HEADER.len()..end];
    let value = value.trim_ascii();
    let uid = pop3_proto::Uid::new(value).map(|u| u.as_str().to_owned());
    (uid, &msg[end..])
}

fn imported(uid: Option<String>, raw: Vec<u8>) -> Imported {
    let sha256 = sha256_hex(&raw);
    Imported { uid, raw, sha256 }
}

/// Reads an archive, telling zip from mbox by its first bytes.
pub fn import(bytes: &[u8]) -> Result<(Format, Vec<Imported>), ArchiveError> {
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        zip::read_eml_zip(bytes).map(|m| (Format::Zip, m))
    } else if bytes.starts_with(b"From ") {
        mbox::read_mbox(bytes).map(|m| (Format::Mbox, m))
    } else {
        Err(ArchiveError::Unknown)
    }
}

/// Drops what the store already has: a message whose UIDL is a known record's UIDL or key, or
/// whose bytes have a known checksum; and repeats within the archive. Returns the rest and
/// how many were skipped.
pub fn dedup(messages: Vec<Imported>, known: &[KnownRecord]) -> (Vec<Imported>, usize) {
    let mut uids: HashSet<String> = HashSet::new();
    let mut shas: HashSet<String> = HashSet::new();
    for r in known {
        uids.insert(r.key.clone());
        uids.extend(r.uid.clone());
        if let Some(s) = &r.sha256 {
            shas.insert(s.to_ascii_lowercase());
        }
    }
    let before = messages.len();
    let kept: Vec<Imported> = messages
        .into_iter()
        .filter(|m| {
            let seen = m.uid.as_ref().is_some_and(|u| uids.contains(u)) || shas.contains(&m.sha256);
            if !seen {
                uids.extend(m.uid.clone());
                shas.insert(m.sha256.clone());
            }
            !seen
        })
        .collect();
    let skipped = before - kept.len();
    (kept, skipped)
}

impl Imported {
    /// The record the store keeps for this message: stored in full, not known on the server
    /// (a later sync that lists its UIDL checks its fingerprint before trusting it).
    pub fn record(&self, now_ms: i64) -> KnownRecord {
        let size = self.raw.len() as u64;
        KnownRecord {
            key: self
                .uid
                .clone()
                .unwrap_or_else(|| crate::record::no_uidl_key(&self.sha256)),
            uid: self.uid.clone(),
            size,
            fingerprint: fingerprint(&parse_summary(&self.raw), size),
            first_seen_ms: now_ms,
            stored: Stored::Full,
            sha256: Some(self.sha256.clone()),
            local_deleted: false,
            delete_pending: false,
            server_gone: true,
        }
    }
}
