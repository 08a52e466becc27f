//! Zips of `.eml` files, written with the store method (mail compresses poorly next to the
//! cost of a deflate *compressor* in the wasm, and an export does not need one), and read back:
//! stored (method 0) and deflated (method 8) entries, so that zips made by other tools import
//! too. Every offset and length is checked against the buffer and every CRC-32 verified.
//!
//! Sizes and CRC-32 come from the central directory, never from the local header, so entries
//! written with a data descriptor (general-purpose bit 3, what streaming zippers such as
//! `zip - … | …` write) read like any other. Inflating never trusts the declared sizes: they
//! are checked against [`MAX_ENTRY`], [`MAX_TOTAL`] and deflate's best ratio before anything is
//! inflated or allocated, and inflating stops with an error as soon as an entry's output would
//! exceed its declared size. Encryption, zip64 and other methods are refused
//! ([`ArchiveError::Unsupported`]).

use super::{
    ArchiveError, ExportMessage, Head, Imported, check_uid, imported, split_uid_header, uid_line,
};
use std::collections::HashSet;

const LOCAL_SIG: u32 = 0x0403_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const END_SIG: u32 = 0x0605_4b50;
/// Version 1.0 is enough for stored entries without zip64.
const VERSION: u16 = 10;
/// General-purpose flag bit 11: names are UTF-8 (ours are ASCII; set for readers that care).
const FLAG_UTF8: u16 = 1 << 11;
const MAX_NAME: usize = 100;
const STORED: u16 = 0;
const DEFLATED: u16 = 8;

/// Largest entry read from a zip, stored or inflated: 256 MiB, the largest message the POP3
/// client accepts from RETR (`pop3_proto::Options::max_message_size`), well above real mail.
/// A larger entry is a bomb or not mail, and is refused before it is inflated.
pub const MAX_ENTRY: u32 = 256 << 20;

/// Most bytes of messages read from one zip, all entries together: 1 GiB. The import runs in
/// one wasm32 memory (4 GiB at most) that holds the archive, the messages read and the copies
/// handed to JS side by side; a larger mailbox is imported as several archives. Checked on the
/// declared sizes before anything is inflated (an entry never yields more than it declares).
pub const MAX_TOTAL: u64 = 1 << 30;

/// Deflate's best compression ratio is 1032:1 (a 258-byte match coded in two bits); an entry
/// declaring more output than this many bytes per compressed byte (and 1032 bytes of slack)
/// lies about its size, and is refused before its output is allocated.
const MAX_RATIO: u64 = 1032;

fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}
fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// `<uidl>.eml` with everything but `A-Z a-z 0-9 . _ -` replaced by `_`, unique in the zip
/// (case-insensitively: Windows and macOS unpack into case-insensitive folders).
fn entry_name(index: usize, uid: Option<&str>, used: &mut HashSet<String>) -> String {
    let base: String = match uid {
        Some(u) => u
            .chars()
            .take(MAX_NAME)
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect(),
        None => format!("message-{}", index + 1),
    };
    // No hidden files, no "..".
    let base = base.trim_start_matches('.').to_owned();
    let base = if base.is_empty() {
        format!("message-{}", index + 1)
    } else {
        base
    };
    let mut name = format!("{base}.eml");
    let mut n = 1;
    while !used.insert(name.to_ascii_lowercase()) {
        n += 1;
        name = format!("{base}-{n}.eml");
    }
    name
}

/// MS-DOS date and time of a unix time in ms; before 1980 (DOS's epoch) is 1980-01-01.
fn dos_time(ms: i64) -> (u16, u16) {
    let secs = ms.div_euclid(1000);
    let (y, m, d) = super::mbox::civil_from_days(secs.div_euclid(86_400));
    if !(1980..=2107).contains(&y) {
        return (0, (1 << 5) | 1);
    }
    let rem = secs.rem_euclid(86_400);
    let time = ((rem / 3600) << 11) | ((rem % 3600 / 60) << 5) | ((rem % 60) / 2);
    let date = ((y - 1980) << 9) | (m << 5) | d;
    (
        u16::try_from(time).unwrap_or(0),
        u16::try_from(date).unwrap_or((1 << 5) | 1),
    )
}

fn too_large<T: TryInto<u32>>(v: T) -> Result<u32, ArchiveError> {
    v.try_into()
        .map_err(|_| ArchiveError::TooLarge("a zip without zip64 holds at most 4 GiB"))
}

/// Writes messages as a zip of `.eml` files, each with its `X-POP3-UIDL:` header:
/// [`ZipWriter`] with each message in one piece.
pub fn write_eml_zip(messages: &[ExportMessage]) -> Result<Vec<u8>, ArchiveError> {
    let mut out = Vec::with_capacity(messages.iter().map(|m| m.raw.len() + 200).sum());
    let mut w = ZipWriter::default();
    for m in messages {
        w.begin(m.uid.as_deref(), m.date_ms)?;
        w.write(&m.raw)?;
        out.extend_from_slice(&w.end()?);
        out.extend_from_slice(&m.raw);
    }
    out.extend_from_slice(&w.finish()?);
    Ok(out)
}

/// A zip written as parts, so that an export never holds a message whole: for each message
/// `begin`, `write` its bytes in pieces of any size (they are only checksummed and counted),
/// then `end`, whose bytes (the entry's header and `X-POP3-UIDL:` line) go into the archive
/// followed by the message's bytes unchanged; `finish` gives the central directory. The zip is
/// those parts in order, the same however the messages were cut.
#[derive(Debug, Default)]
pub struct ZipWriter {
    /// Bytes of the archive so far, as the caller puts them together.
    offset: u64,
    central: Vec<u8>,
    used: HashSet<String>,
    count: usize,
    entry: Option<Writing>,
}

/// The message under way.
#[derive(Debug)]
struct Writing {
    uid: Option<String>,
    date_ms: Option<i64>,
    head: Head,
    /// Its `X-POP3-UIDL:` line, once the head decided it.
    uid_line: Option<Vec<u8>>,
    crc: super::crc32::Crc32,
    /// The message's bytes so far (without the line).
    len: u64,
}

impl Writing {
    fn decide(&mut self, index: usize) -> Result<(), ArchiveError> {
        let line = uid_line(index, self.uid.as_deref(), self.head.decide())?;
        self.crc.update(&line);
        let held = std::mem::take(&mut self.head.buf);
        self.crc.update(&held);
        self.len += held.len() as u64;
        self.uid_line = Some(line);
        Ok(())
    }
}

impl ZipWriter {
    /// Starts the next message.
    pub fn begin(&mut self, uid: Option<&str>, date_ms: Option<i64>) -> Result<(), ArchiveError> {
        if self.entry.is_some() {
            return Err(ArchiveError::Order(
                "a message was begun before the last one ended",
            ));
        }
        // 0xFFFF in the end record means "see the zip64 record" to readers (ours refuses it).
        if self.count >= usize::from(u16::MAX - 1) {
            return Err(ArchiveError::TooLarge(
                "a zip without zip64 holds at most 65534 files",
            ));
        }
        check_uid(self.count, uid)?;
        self.count += 1;
        self.entry = Some(Writing {
            uid: uid.map(str::to_owned),
            date_ms,
            head: Head::default(),
            uid_line: None,
            crc: super::crc32::Crc32::default(),
            len: 0,
        });
        Ok(())
    }

    /// The message's next bytes.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), ArchiveError> {
        let index = self.count.saturating_sub(1);
        let e = self
            .entry
            .as_mut()
            .ok_or(ArchiveError::Order("bytes came outside a message"))?;
        if e.uid_line.is_some() {
            e.crc.update(bytes);
            e.len += bytes.len() as u64;
        } else if e.head.push(bytes) {
            e.decide(index)?;
        }
        Ok(())
    }

    /// Ends the message: the bytes that go before it in the archive (its local header and
    /// `X-POP3-UIDL:` line).
    pub fn end(&mut self) -> Result<Vec<u8>, ArchiveError> {
        let index = self.count.saturating_sub(1);
        let e = self.entry.as_mut().ok_or(ArchiveError::Order(
            "a message was ended before it was begun",
        ))?;
        if e.uid_line.is_none() {
            e.decide(index)?;
        }
        let line_len = e.uid_line.as_ref().map_or(0, Vec::len) as u64;
        // Checked before the entry is taken: on an error the message is still under way, and
        // `abandon` drops it.
        let size = too_large(line_len + e.len)?;
        let offset = too_large(self.offset)?;
        let Some(mut e) = self.entry.take() else {
            return Err(ArchiveError::Order(
                "a message was ended before it was begun",
            ));
        };
        let line = e.uid_line.take().unwrap_or_default();
        let name = entry_name(index, e.uid.as_deref(), &mut self.used);
        let crc = e.crc.finish();
        let (time, date) = dos_time(e.date_ms.unwrap_or(0));
        let name_len = u16::try_from(name.len()).unwrap_or(u16::MAX);

        let mut out = Vec::with_capacity(30 + name.len() + line.len());
        put32(&mut out, LOCAL_SIG);
        put16(&mut out, VERSION);
        put16(&mut out, FLAG_UTF8);
        put16(&mut out, 0); // stored
        put16(&mut out, time);
        put16(&mut out, date);
        put32(&mut out, crc);
        put32(&mut out, size);
        put32(&mut out, size);
        put16(&mut out, name_len);
        put16(&mut out, 0);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&line);

        let central = &mut self.central;
        put32(central, CENTRAL_SIG);
        put16(central, VERSION); // made by: MS-DOS, 1.0
        put16(central, VERSION);
        put16(central, FLAG_UTF8);
        put16(central, 0);
        put16(central, time);
        put16(central, date);
        put32(central, crc);
        put32(central, size);
        put32(central, size);
        put16(central, name_len);
        put16(central, 0); // extra
        put16(central, 0); // comment
        put16(central, 0); // disk
        put16(central, 0); // internal attributes
        put32(central, 0); // external attributes
        put32(central, offset);
        central.extend_from_slice(name.as_bytes());

        self.offset += out.len() as u64 + e.len;
        Ok(out)
    }

    /// Drops the message under way, as if it had not been begun (one that cannot be read,
    /// say).
    pub fn abandon(&mut self) {
        if self.entry.take().is_some() {
            self.count -= 1;
        }
    }

    /// The central directory and end record, the archive's last part.
    pub fn finish(&mut self) -> Result<Vec<u8>, ArchiveError> {
        if self.entry.is_some() {
            return Err(ArchiveError::Order(
                "the archive was finished inside a message",
            ));
        }
        let count = u16::try_from(self.count)
            .map_err(|_| ArchiveError::TooLarge("a zip without zip64 holds at most 65534 files"))?;
        let cd_offset = too_large(self.offset)?;
        let cd_size = too_large(self.central.len())?;
        too_large(self.offset + self.central.len() as u64 + 22)?;
        let mut out = std::mem::take(&mut self.central);
        put32(&mut out, END_SIG);
        put16(&mut out, 0);
        put16(&mut out, 0);
        put16(&mut out, count);
        put16(&mut out, count);
        put32(&mut out, cd_size);
        put32(&mut out, cd_offset);
        put16(&mut out, 0);
        Ok(out)
    }
}

/// Bounds-checked little-endian reads.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn bytes(&self, at: usize, len: usize) -> Result<&[u8], ArchiveError> {
        at.checked_add(len)
            .and_then(|end| self.0.get(at..end))
            .ok_or(ArchiveError::Corrupt("an entry points outside the file"))
    }
    fn u16(&self, at: usize) -> Result<u16, ArchiveError> {
        let b = self.bytes(at, 2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&self, at: usize) -> Result<u32, ArchiveError> {
        let b = self.bytes(at, 4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

fn usize_of(v: u32) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// One `.eml` entry of the central directory, checked against the limits.
struct Entry {
    method: u16,
    crc: u32,
    csize: usize,
    usize_: usize,
    local: usize,
}

/// Inflates a raw deflate stream that must fill exactly `declared` bytes and use all of
/// `input`. The output grows as it is produced (never to more than `declared`), so a stream
/// that lies about its size costs at most what it really yields up to that size.
fn inflate(input: &[u8], declared: usize) -> Result<Vec<u8>, ArchiveError> {
    use miniz_oxide::inflate::TINFLStatus;
    use miniz_oxide::inflate::core::{DecompressorOxide, decompress, inflate_flags};
    // Non-wrapping: the whole output so far is the window; all input is given at once.
    let flags = inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
    let mut state = Box::<DecompressorOxide>::default();
    let mut out = vec![0; declared.min(input.len().saturating_mul(4).max(64 << 10))];
    let (mut in_pos, mut out_pos) = (0, 0);
    loop {
        let rest = input.get(in_pos..).unwrap_or_default();
        let (status, read, written) = decompress(&mut state, rest, &mut out, out_pos, flags);
        in_pos = in_pos.saturating_add(read);
        out_pos = out_pos.saturating_add(written);
        match status {
            TINFLStatus::Done => break,
            TINFLStatus::HasMoreOutput if out.len() < declared => {
                out.resize(out.len().saturating_mul(2).min(declared), 0);
            }
            TINFLStatus::HasMoreOutput => {
                return Err(ArchiveError::Corrupt(
                    "an entry inflates to more than its declared size",
                ));
            }
            TINFLStatus::FailedCannotMakeProgress | TINFLStatus::NeedsMoreInput => {
                return Err(ArchiveError::Corrupt("a compressed entry is cut short"));
            }
            _ => {
                return Err(ArchiveError::Corrupt(
                    "a compressed entry is not valid deflate",
                ));
            }
        }
    }
    if out_pos != declared {
        return Err(ArchiveError::Corrupt(
            "an entry inflates to less than its declared size",
        ));
    }
    if in_pos != input.len() {
        return Err(ArchiveError::Corrupt(
            "a compressed entry has data after its end",
        ));
    }
    out.truncate(out_pos);
    Ok(out)
}

/// Reads the `.eml` entries of a zip (other entries are skipped).
pub fn read_eml_zip(bytes: &[u8]) -> Result<Vec<Imported>, ArchiveError> {
    let r = Reader(bytes);
    // The end record is in the last 22 + 65535 (comment) bytes.
    if bytes.len() < 22 {
        return Err(ArchiveError::Corrupt("too short for a zip"));
    }
    let lowest = bytes.len().saturating_sub(22 + 0xFFFF);
    let end = (lowest..=bytes.len() - 22)
        .rev()
        .find(|&i| r.u32(i).ok() == Some(END_SIG))
        .ok_or(ArchiveError::Corrupt("no end of central directory"))?;
    let count = r.u16(end + 10)?;
    let cd_size = r.u32(end + 12)?;
    let cd_offset = r.u32(end + 16)?;
    if count == 0xFFFF || cd_size == u32::MAX || cd_offset == u32::MAX {
        return Err(ArchiveError::Unsupported("zip64"));
    }
    let mut at = usize_of(cd_offset);
    r.bytes(at, usize_of(cd_size))?;

    // First the whole central directory, so that the limits are checked before anything is
    // inflated or allocated.
    let mut entries = Vec::new();
    let mut total: u64 = 0;
    for _ in 0..count {
        if r.u32(at)? != CENTRAL_SIG {
            return Err(ArchiveError::Corrupt("bad central directory entry"));
        }
        let flags = r.u16(at + 8)?;
        let method = r.u16(at + 10)?;
        let crc = r.u32(at + 16)?;
        let csize = r.u32(at + 20)?;
        let usize_ = r.u32(at + 24)?;
        let name_len = usize::from(r.u16(at + 28)?);
        let extra_len = usize::from(r.u16(at + 30)?);
        let comment_len = usize::from(r.u16(at + 32)?);
        let local = r.u32(at + 42)?;
        let name = r.bytes(at + 46, name_len)?;
        at += 46 + name_len + extra_len + comment_len;

        let is_eml = name.len() >= 4 && name[name.len() - 4..].eq_ignore_ascii_case(b".eml");
        if !is_eml || name.ends_with(b"/") {
            continue;
        }
        if flags & 1 != 0 {
            return Err(ArchiveError::Unsupported("encryption"));
        }
        if method != STORED && method != DEFLATED {
            return Err(ArchiveError::Unsupported(
                "a compression method other than deflate",
            ));
        }
        if csize == u32::MAX || usize_ == u32::MAX || local == u32::MAX {
            return Err(ArchiveError::Unsupported("zip64"));
        }
        if method == STORED && csize != usize_ {
            return Err(ArchiveError::Corrupt("a stored entry's sizes differ"));
        }
        if usize_ > MAX_ENTRY {
            return Err(ArchiveError::TooLarge(
                "a message in the zip is larger than 256 MiB",
            ));
        }
        total += u64::from(usize_);
        if total > MAX_TOTAL {
            return Err(ArchiveError::TooLarge(
                "the messages in the zip add up to more than 1 GiB",
            ));
        }
        if u64::from(usize_) > (u64::from(csize) + 1) * MAX_RATIO {
            return Err(ArchiveError::Corrupt(
                "an entry declares more than its compressed size can hold",
            ));
        }
        entries.push(Entry {
            method,
            crc,
            csize: usize_of(csize),
            usize_: usize_of(usize_),
            local: usize_of(local),
        });
    }

    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        let l = e.local;
        if r.u32(l)? != LOCAL_SIG {
            return Err(ArchiveError::Corrupt("bad local header"));
        }
        if r.u16(l + 8)? != e.method {
            return Err(ArchiveError::Corrupt(
                "a local header's method differs from the central directory's",
            ));
        }
        let start = l + 30 + usize::from(r.u16(l + 26)?) + usize::from(r.u16(l + 28)?);
        let stored = r.bytes(start, e.csize)?;
        let mut data = if e.method == DEFLATED {
            inflate(stored, e.usize_)?
        } else {
            stored.to_vec()
        };
        if super::crc32::crc32(&data) != e.crc {
            return Err(ArchiveError::Corrupt("a checksum (CRC-32) does not match"));
        }
        let (uid, raw) = split_uid_header(&data);
        let header = data.len() - raw.len();
        data.drain(..header);
        out.push(imported(uid, data));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_are_sanitized_and_unique() {
        let mut used = HashSet::new();
        assert_eq!(entry_name(0, Some("a/b\\c:d"), &mut used), "a_b_c_d.eml");
        assert_eq!(entry_name(1, Some("A_B_C_D"), &mut used), "A_B_C_D-2.eml");
        assert_eq!(entry_name(2, Some(".."), &mut used), "message-3.eml");
        assert_eq!(entry_name(3, None, &mut used), "message-4.eml");
    }

    #[test]
    fn dos_time_of_a_known_instant() {
        // 2026-11-27 02:10:00 UTC.
        let (t, d) = dos_time(1_795_745_400_000);
        assert_eq!(d, (46 << 9) | (11 << 5) | 27);
        assert_eq!(t, (2 << 11) | (10 << 5));
        assert_eq!(dos_time(0), (0, (1 << 5) | 1));
    }
}
