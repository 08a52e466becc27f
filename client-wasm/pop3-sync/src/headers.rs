//! The few header fields a sync needs: a summary for the list, and the fingerprint that
//! recognises a message whose UIDL changed.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Header bytes looked at: a header section bigger than this is malformed or hostile, and the
/// fields a sync needs come first in practice.
const MAX_HEADER_BYTES: usize = 256 * 1024;
/// Longest value kept in a summary (characters).
const MAX_VALUE_CHARS: usize = 998;

/// Raw header values for the message list: unfolded, trimmed, decoded as UTF-8 (lossy).
/// RFC 2047 encoded words are left as they are (the MIME module decodes them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// `From:`
    pub from: Option<String>,
    /// `Subject:`
    pub subject: Option<String>,
    /// `Date:`
    pub date: Option<String>,
    /// `Message-ID:`
    pub message_id: Option<String>,
}

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// Unfolded header fields of the header section at the start of `raw` (stops at the first empty
/// line, or at [`MAX_HEADER_BYTES`]).
fn fields(raw: &[u8]) -> Vec<(String, String)> {
    let raw = &raw[..raw.len().min(MAX_HEADER_BYTES)];
    let mut out: Vec<(String, String)> = Vec::new();
    for line in raw.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            // A continuation line belongs to the field before it (RFC 5322 §2.2.3).
            if let Some((_, v)) = out.last_mut() {
                v.push(' ');
                v.push_str(String::from_utf8_lossy(line).trim());
            }
            continue;
        }
        if let Some(colon) = line.iter().position(|&b| b == b':') {
            let name = String::from_utf8_lossy(&line[..colon])
                .trim()
                .to_ascii_lowercase();
            let value = String::from_utf8_lossy(&line[colon + 1..])
                .trim()
                .to_owned();
            out.push((name, value));
        }
    }
    out
}

fn clip(s: &str) -> String {
    s.chars().take(MAX_VALUE_CHARS).collect()
}

/// The summary fields of a message's header section (the first occurrence of each).
pub fn parse_summary(raw: &[u8]) -> Summary {
    let f = fields(raw);
    let get = |name: &str| {
        f.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| clip(v))
            .filter(|v| !v.is_empty())
    };
    Summary {
        from: get("from"),
        subject: get("subject"),
        date: get("date"),
        message_id: get("message-id"),
    }
}

/// `v1:` + sha256 of Message-ID, Date (whitespace collapsed) and the LIST size. `None` without
/// a Message-ID: Date and size alone collide too easily (automated mail) to identify a message.
pub fn fingerprint(summary: &Summary, size: u64) -> Option<String> {
    let mid: String = summary
        .message_id
        .as_deref()?
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if mid.is_empty() {
        return None;
    }
    let date = summary
        .date
        .as_deref()
        .unwrap_or("")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    Some(format!(
        "v1:{}",
        sha256_hex(format!("{mid}\n{date}\n{size}").as_bytes())
    ))
}

/// A valid checksum as stored: 64 hex digits, lower-cased.
pub(crate) fn normalize_sha256(s: &str) -> Option<String> {
    (s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())).then(|| s.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_unfolds_and_stops_at_the_body() {
        let raw = b"From: A <a@x>\r\nSubject: hello\r\n  world\r\nMessage-ID: <1@x>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\nSubject: not a header\r\n";
        let s = parse_summary(raw);
        assert_eq!(s.subject.as_deref(), Some("hello world"));
        assert_eq!(s.from.as_deref(), Some("A <a@x>"));
        assert_eq!(s.message_id.as_deref(), Some("<1@x>"));
    }

    #[test]
    fn fingerprint_needs_a_message_id_and_depends_on_size() {
        let s = parse_summary(b"Message-ID: <1@x>\nDate: Mon,  1 Jan 2024\n\n");
        let a = fingerprint(&s, 10).unwrap();
        assert_eq!(Some(a.clone()), fingerprint(&s, 10));
        assert_ne!(Some(a), fingerprint(&s, 11));
        assert_eq!(fingerprint(&parse_summary(b"Date: x\n\n"), 10), None);
    }

    #[test]
    fn sha256_of_abc_is_the_standard_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
