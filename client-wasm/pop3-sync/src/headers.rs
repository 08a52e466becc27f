//! The few header fields a sync needs: a summary for the list, and the fingerprint that
//! recognises a message whose UIDL changed.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Longest value kept in a summary (characters).
const MAX_VALUE_CHARS: usize = 998;

/// Raw header values: unfolded, trimmed, decoded as UTF-8 (lossy). RFC 2047 encoded words are
/// left as they are: these values identify a message ([`fingerprint`]) and must stay what they
/// were when earlier fingerprints were made; display text comes from `pop3_headers`.
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

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

fn clip(s: &str) -> String {
    s.chars().take(MAX_VALUE_CHARS).collect()
}

/// The summary fields of a message's header section (the first occurrence of each), as
/// [`pop3_headers::Headers`] unfolds them (up to the first empty line, at most
/// [`pop3_headers::MAX_HEADER_BYTES`]).
pub fn parse_summary(raw: &[u8]) -> Summary {
    let h = pop3_headers::Headers::parse(raw);
    let get = |name: &str| {
        h.raw(name)
            .map(|v| clip(String::from_utf8_lossy(v).trim()))
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
    fn fingerprint_of_a_folded_header_is_the_one_stored_before() {
        // Records in users' stores carry fingerprints made by the earlier parser: the same
        // headers must give the same value (sha256 of "<1@x>\nMon, 1 Jan 2024 00:00:00 +0000\n10").
        let s = parse_summary(
            b"X-Other: a\r\nmessage-id:  <1@x> \r\nDate: Mon,\r\n  1 Jan 2024\r\n\t00:00:00 +0000\r\n\r\nMessage-ID: <2@x>\r\n",
        );
        assert_eq!(s.message_id.as_deref(), Some("<1@x>"));
        assert_eq!(s.date.as_deref(), Some("Mon, 1 Jan 2024 00:00:00 +0000"));
        assert_eq!(
            fingerprint(&s, 10).as_deref(),
            Some("v1:5cebdc22c212b0879e06ac6a5052e8ad18ba7d14fb036cffc88e2d842a1102ec")
        );
    }

    #[test]
    fn summary_values_stay_raw_for_identity() {
        // Encoded words are not decoded and nothing is removed: identity, not display.
        let s =
            parse_summary(b"Subject: =?utf-8?q?a?= \xe2\x80\xae\r\nMessage-ID: <\xff@x>\r\n\r\n");
        assert_eq!(s.subject.as_deref(), Some("=?utf-8?q?a?= \u{202E}"));
        assert_eq!(s.message_id.as_deref(), Some("<\u{FFFD}@x>"));
    }

    #[test]
    fn sha256_of_abc_is_the_standard_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    proptest::proptest! {
        /// A streamed download's checksum is the one the whole message would have had, however
        /// it was cut: the stored record's `sha256` means the same either way.
        #[test]
        fn a_checksum_taken_in_pieces_is_the_wholes(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300),
            cuts in proptest::collection::vec(0usize..300, 0..6),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(bytes.len())).collect();
            cuts.sort_unstable();
            let mut h = crate::Sha256Hasher::default();
            let mut last = 0;
            for c in cuts.into_iter().chain([bytes.len()]) {
                h.update(&bytes[last..c]);
                last = c;
            }
            let whole = crate::Sha256::of(&bytes);
            proptest::prop_assert_eq!(h.finish(), whole.clone());
            proptest::prop_assert_eq!(whole.as_str(), sha256_hex(&bytes));
        }
    }
}
