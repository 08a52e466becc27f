//! RFC 2047 encoded words: `=?charset?B?base64?=` and `=?charset?Q?quoted_printable?=`.

use crate::charsets::{self, Charsets};

/// One encoded word found at the start of a text.
pub(crate) struct Word<'a> {
    /// Bytes of the whole word, `=?` to `?=`.
    pub len: usize,
    pub charset: &'a str,
    pub bytes: Vec<u8>,
}

/// The longest charset name looked at (RFC 2047 allows 75 characters for a whole word).
const MAX_CHARSET: usize = 75;

/// Reads the encoded word at the start of `s`, if there is one.
pub(crate) fn word_at(s: &str) -> Option<Word<'_>> {
    let rest = s.strip_prefix("=?")?;
    let q1 = rest
        .bytes()
        .take(MAX_CHARSET + 1)
        .position(|b| b == b'?' || b.is_ascii_whitespace())?;
    if q1 == 0 || rest.as_bytes()[q1] != b'?' {
        return None;
    }
    let charset = &rest[..q1];
    let rest = &rest[q1 + 1..];
    let enc = *rest.as_bytes().first()?;
    if rest.as_bytes().get(1) != Some(&b'?') {
        return None;
    }
    let payload_and_rest = &rest[2..];
    let end = payload_and_rest
        .bytes()
        .position(|b| b == b'?' || b.is_ascii_whitespace())?;
    if !payload_and_rest[end..].starts_with("?=") {
        return None;
    }
    let payload = &payload_and_rest[..end];
    let bytes = match enc {
        b'B' | b'b' => crate::decode_base64(payload.as_bytes()),
        b'Q' | b'q' => q_decode(payload.as_bytes()),
        _ => return None,
    };
    Some(Word {
        len: 2 + q1 + 1 + 2 + end + 2,
        charset,
        bytes,
    })
}

/// Decodes the encoded words in `text` (not sanitized: the caller makes it display text).
///
/// Whitespace between two adjacent encoded words is dropped (RFC 2047 §6.2), and adjacent
/// words in the same charset are decoded together, so a character that a sender split between
/// two words survives. A word whose charset neither `charsets` nor the built-in ones know stays
/// as it was written; a word that merely touches other text is decoded anyway (as common mail
/// programs do).
pub fn decode_encoded_words(text: &str, charsets: &dyn Charsets) -> String {
    if !text.contains("=?") {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    // The run of adjacent words being collected: charset, bytes, and its span in `text`.
    let mut run: Option<(String, Vec<u8>, usize, usize)> = None;
    let mut literal = 0; // start of text not yet copied
    let mut i = 0;
    while let Some(off) = text[i..].find("=?") {
        let at = i + off;
        let Some(w) = word_at(&text[at..]) else {
            i = at + 2;
            continue;
        };
        let between = &text[literal..at];
        let adjacent = run.is_some() && between.chars().all(char::is_whitespace);
        match &mut run {
            Some((cs, bytes, _, end)) if adjacent && cs.eq_ignore_ascii_case(w.charset) => {
                bytes.extend_from_slice(&w.bytes);
                *end = at + w.len;
            }
            _ => {
                flush(&mut run, text, charsets, &mut out);
                if !adjacent {
                    out.push_str(between);
                }
                run = Some((w.charset.to_owned(), w.bytes, at, at + w.len));
            }
        }
        i = at + w.len;
        literal = i;
    }
    flush(&mut run, text, charsets, &mut out);
    out.push_str(&text[literal..]);
    out
}

fn flush(
    run: &mut Option<(String, Vec<u8>, usize, usize)>,
    text: &str,
    charsets: &dyn Charsets,
    out: &mut String,
) {
    if let Some((cs, bytes, start, end)) = run.take() {
        match charsets::decode(charsets, &cs, &bytes) {
            Some(s) => out.push_str(&s),
            None => out.push_str(&text[start..end]),
        }
    }
}

/// The "Q" encoding (RFC 2047 §4.2): quoted-printable where `_` is a space.
fn q_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let escaped = match (s[i], s.get(i + 1), s.get(i + 2)) {
            (b'=', Some(&h), Some(&l)) => hex(h).zip(hex(l)),
            _ => None,
        };
        match (s[i], escaped) {
            (_, Some((hi, lo))) => {
                out.push(hi << 4 | lo);
                i += 2;
            }
            (b'_', None) => out.push(b' '),
            (b, None) => out.push(b),
        }
        i += 1;
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}
