//! Zips of `.eml` files, written with the store method (mail compresses poorly next to the
//! cost of a deflate implementation in the wasm), and read back: stored entries only, every
//! offset and length checked against the buffer, every CRC-32 verified.

use super::{ArchiveError, ExportMessage, Imported, imported, split_uid_header, with_uid_header};
use std::collections::HashSet;

const LOCAL_SIG: u32 = 0x0403_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const END_SIG: u32 = 0x0605_4b50;
/// Version 1.0 is enough for stored entries without zip64.
const VERSION: u16 = 10;
/// General-purpose flag bit 11: names are UTF-8 (ours are ASCII; set for readers that care).
const FLAG_UTF8: u16 = 1 << 11;
const MAX_NAME: usize = 100;

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

fn too_large(v: usize) -> Result<u32, ArchiveError> {
    u32::try_from(v).map_err(|_| ArchiveError::TooLarge("a zip without zip64 holds at most 4 GiB"))
}

/// Writes messages as a zip of `.eml` files, each with its `X-POP3-UIDL:` header.
pub fn write_eml_zip(messages: &[ExportMessage]) -> Result<Vec<u8>, ArchiveError> {
    let count = u16::try_from(messages.len())
        .map_err(|_| ArchiveError::TooLarge("a zip without zip64 holds at most 65535 files"))?;
    let mut out = Vec::with_capacity(messages.iter().map(|m| m.raw.len() + 200).sum());
    let mut central = Vec::new();
    let mut used = HashSet::new();
    let mut data = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        data.clear();
        with_uid_header(i, m.uid.as_deref(), &m.raw, &mut data)?;
        let name = entry_name(i, m.uid.as_deref(), &mut used);
        let crc = crc32fast::hash(&data);
        let size = too_large(data.len())?;
        let offset = too_large(out.len())?;
        let (time, date) = dos_time(m.date_ms.unwrap_or(0));
        let name_len = u16::try_from(name.len()).unwrap_or(u16::MAX);

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
        out.extend_from_slice(&data);

        put32(&mut central, CENTRAL_SIG);
        put16(&mut central, VERSION); // made by: MS-DOS, 1.0
        put16(&mut central, VERSION);
        put16(&mut central, FLAG_UTF8);
        put16(&mut central, 0);
        put16(&mut central, time);
        put16(&mut central, date);
        put32(&mut central, crc);
        put32(&mut central, size);
        put32(&mut central, size);
        put16(&mut central, name_len);
        put16(&mut central, 0); // extra
        put16(&mut central, 0); // comment
        put16(&mut central, 0); // disk
        put16(&mut central, 0); // internal attributes
        put32(&mut central, 0); // external attributes
        put32(&mut central, offset);
        central.extend_from_slice(name.as_bytes());
    }
    let cd_offset = too_large(out.len())?;
    let cd_size = too_large(central.len())?;
    out.extend_from_slice(&central);
    too_large(out.len() + 22)?;
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
    let mut out = Vec::new();
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
        let name = r.bytes(at + 46, name_len)?.to_vec();
        at += 46 + name_len + extra_len + comment_len;

        let is_eml = name.len() >= 4 && name[name.len() - 4..].eq_ignore_ascii_case(b".eml");
        if !is_eml || name.ends_with(b"/") {
            continue;
        }
        if flags & 1 != 0 {
            return Err(ArchiveError::Unsupported("encryption"));
        }
        if method != 0 {
            return Err(ArchiveError::Unsupported(
                "compressed entries (only stored ones are read)",
            ));
        }
        if csize == u32::MAX || usize_ == u32::MAX || local == u32::MAX {
            return Err(ArchiveError::Unsupported("zip64"));
        }
        if csize != usize_ {
            return Err(ArchiveError::Corrupt("a stored entry's sizes differ"));
        }
        let l = usize_of(local);
        if r.u32(l)? != LOCAL_SIG {
            return Err(ArchiveError::Corrupt("bad local header"));
        }
        let start = l + 30 + usize::from(r.u16(l + 26)?) + usize::from(r.u16(l + 28)?);
        let data = r.bytes(start, usize_of(csize))?;
        if crc32fast::hash(data) != crc {
            return Err(ArchiveError::Corrupt("a checksum (CRC-32) does not match"));
        }
        let (uid, raw) = split_uid_header(data);
        out.push(imported(uid, raw.to_vec()));
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
