//! Character sets of encoded words and 8-bit header bytes.
//!
//! Only the few that most mail uses are built in, so that the sign-in package (which shows the
//! message list) stays small; everything else goes through a [`Charsets`] hook: `encoding_rs`
//! in `pop3-mime`, the browser's `TextDecoder` in `pop3-web`.

/// Decodes bytes in a named character set. An implementation answers `None` for a label it
/// does not know; the built-in charsets are tried after it.
pub trait Charsets {
    /// `label` is the charset as the message names it (any case, RFC 2231 language removed).
    fn decode(&self, label: &str, bytes: &[u8]) -> Option<String>;
}

/// UTF-8, US-ASCII, ISO-8859-1 and windows-1252 (ISO-8859-1 is read as windows-1252, as
/// browsers and mail programs do: the C1 range is almost always meant as windows-1252).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Builtin;

impl Charsets for Builtin {
    fn decode(&self, label: &str, bytes: &[u8]) -> Option<String> {
        let label = label.trim().to_ascii_lowercase();
        match label.as_str() {
            "utf-8" | "utf8" | "unicode-1-1-utf-8" | "us-ascii" | "ascii" | "ansi_x3.4-1968"
            | "us" | "iso646-us" => Some(String::from_utf8_lossy(bytes).into_owned()),
            "iso-8859-1" | "iso8859-1" | "iso_8859-1" | "iso88591" | "latin1" | "l1"
            | "windows-1252" | "cp1252" | "x-cp1252" | "cp819" | "ibm819" => {
                Some(windows_1252(bytes))
            }
            _ => None,
        }
    }
}

/// No charsets beyond the built-in ones.
impl Charsets for () {
    fn decode(&self, _: &str, _: &[u8]) -> Option<String> {
        None
    }
}

/// Decodes with `hook` first, then the built-in charsets.
pub(crate) fn decode(hook: &dyn Charsets, label: &str, bytes: &[u8]) -> Option<String> {
    let label = label.split('*').next().unwrap_or("").trim();
    if label.is_empty() {
        return None;
    }
    hook.decode(label, bytes)
        .or_else(|| Builtin.decode(label, bytes))
}

/// windows-1252 as the WHATWG Encoding Standard defines it (its five unassigned bytes map to
/// the C1 controls of the same value).
pub fn windows_1252(bytes: &[u8]) -> String {
    const HIGH: [char; 32] = [
        '\u{20AC}', '\u{81}', '\u{201A}', '\u{192}', '\u{201E}', '\u{2026}', '\u{2020}',
        '\u{2021}', '\u{2C6}', '\u{2030}', '\u{160}', '\u{2039}', '\u{152}', '\u{8D}', '\u{17D}',
        '\u{8F}', '\u{90}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}',
        '\u{2014}', '\u{2DC}', '\u{2122}', '\u{161}', '\u{203A}', '\u{153}', '\u{9D}', '\u{17E}',
        '\u{178}',
    ];
    bytes
        .iter()
        .map(|&b| match b {
            0x80..=0x9F => HIGH[usize::from(b - 0x80)],
            _ => char::from(b),
        })
        .collect()
}

/// Raw header bytes as text: UTF-8 when they are valid UTF-8 (RFC 6532), else windows-1252
/// (old mail with raw 8-bit Latin-1), so that valid UTF-8 is never mangled.
pub fn header_bytes_to_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => windows_1252(bytes),
    }
}
