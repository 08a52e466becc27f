//! Every charset of the WHATWG Encoding Standard for header encoded words, through encoding_rs
//! (the reading module can afford its tables; the client package has only the built-in few).

use pop3_headers::Charsets;

/// [`Charsets`] backed by encoding_rs: any label a browser knows (ISO-2022-JP, Shift_JIS,
/// GB18030, KOI8-R, the ISO-8859 and windows code pages, …).
#[derive(Debug, Clone, Copy, Default)]
pub struct EncodingRs;

impl Charsets for EncodingRs {
    fn decode(&self, label: &str, bytes: &[u8]) -> Option<String> {
        let encoding = encoding_rs::Encoding::for_label(label.trim().as_bytes())?;
        let (text, _had_errors) = encoding.decode_without_bom_handling(bytes);
        Some(text.into_owned())
    }
}
