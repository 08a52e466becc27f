//! A part's Content-Transfer-Encoding undone piece by piece, for a part too big to hold whole
//! (an attachment of a message the reader only outlines: [`crate::outline`]). On well-formed
//! input it gives the bytes [`crate::part_bytes`] gives for the whole message; on damaged
//! input it skips what it cannot read, as that does, and never fails.

/// How a part's body is encoded for transport (RFC 2045).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferEncoding {
    /// `base64`.
    Base64,
    /// `quoted-printable`.
    QuotedPrintable,
    /// `7bit`, `8bit`, `binary`, none, or one nobody knows: the bytes as they are.
    Identity,
}

impl TransferEncoding {
    /// From a Content-Transfer-Encoding value.
    pub fn from_header(value: &str) -> TransferEncoding {
        let v = value.trim().trim_end_matches(';').trim();
        if v.eq_ignore_ascii_case("base64") {
            TransferEncoding::Base64
        } else if v.eq_ignore_ascii_case("quoted-printable") {
            TransferEncoding::QuotedPrintable
        } else {
            TransferEncoding::Identity
        }
    }

    /// The RFC 2045 name (`identity` for the others).
    pub fn as_str(self) -> &'static str {
        match self {
            TransferEncoding::Base64 => "base64",
            TransferEncoding::QuotedPrintable => "quoted-printable",
            TransferEncoding::Identity => "identity",
        }
    }

    /// From [`TransferEncoding::as_str`].
    pub fn from_name(name: &str) -> Option<TransferEncoding> {
        [
            TransferEncoding::Base64,
            TransferEncoding::QuotedPrintable,
            TransferEncoding::Identity,
        ]
        .into_iter()
        .find(|e| e.as_str() == name)
    }
}

/// A quoted-printable line longer than this is decoded without waiting for its end: a
/// damaged part without line breaks cannot make the decoder hold it whole.
const QP_LINE_MAX: usize = 64 * 1024;

/// Undoes one part's transfer encoding, piece by piece: however the body is cut into pieces,
/// the output joined is the same.
#[derive(Debug, Clone)]
pub struct PartDecoder {
    encoding: TransferEncoding,
    base64: pop3_headers::Base64Decoder,
    /// Quoted-printable: the line under way (without its end).
    line: Vec<u8>,
}

impl PartDecoder {
    /// A decoder for a body in `encoding`.
    pub fn new(encoding: TransferEncoding) -> PartDecoder {
        PartDecoder {
            encoding,
            base64: pop3_headers::Base64Decoder::default(),
            line: Vec::new(),
        }
    }

    /// Decodes the next piece of the body into `out`.
    pub fn update(&mut self, input: &[u8], out: &mut Vec<u8>) {
        match self.encoding {
            TransferEncoding::Identity => out.extend_from_slice(input),
            TransferEncoding::Base64 => self.base64.update(input, out),
            TransferEncoding::QuotedPrintable => {
                let mut rest = input;
                while let Some(i) = memchr::memchr(b'\n', rest) {
                    self.line.extend_from_slice(&rest[..i]);
                    let crlf = self.line.last() == Some(&b'\r');
                    if crlf {
                        self.line.pop();
                    }
                    let soft = qp_line(&self.line, out);
                    if !soft {
                        out.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
                    }
                    self.line.clear();
                    rest = &rest[i + 1..];
                }
                self.line.extend_from_slice(rest);
                if self.line.len() > QP_LINE_MAX {
                    // Decode all but the last bytes, never splitting an "=XX" (nor a trailing
                    // "="): an "=" in the two bytes before the cut moves the cut to it.
                    let mut cut = self.line.len() - 3;
                    if self.line[cut - 1] == b'=' {
                        cut -= 1;
                    } else if self.line[cut - 2] == b'=' {
                        cut -= 2;
                    }
                    let head: Vec<u8> = self.line.drain(..cut).collect();
                    qp_bytes(&head, out);
                }
            }
        }
    }

    /// The end of the body: whatever is still held.
    pub fn finish(mut self, out: &mut Vec<u8>) {
        if self.encoding == TransferEncoding::QuotedPrintable {
            let line = std::mem::take(&mut self.line);
            qp_line(&line, out);
        }
    }
}

/// Decodes one quoted-printable line (without its end) into `out`; true when it ends in a
/// soft line break (`=` then only white space).
fn qp_line(line: &[u8], out: &mut Vec<u8>) -> bool {
    // Trailing white space is not part of the text (RFC 2045 6.7 (3)).
    let end = line
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(0, |i| i + 1);
    let line = &line[..end];
    match line.strip_suffix(b"=") {
        Some(body) => {
            qp_bytes(body, out);
            true
        }
        None => {
            qp_bytes(line, out);
            false
        }
    }
}

fn qp_bytes(s: &[u8], out: &mut Vec<u8>) {
    let hex = |b: u8| (b as char).to_digit(16);
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'='
            && let (Some(h), Some(l)) = (
                s.get(i + 1).and_then(|&b| hex(b)),
                s.get(i + 2).and_then(|&b| hex(b)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(s[i]);
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use proptest::prelude::*;

    fn decode_in(encoding: TransferEncoding, body: &[u8], cuts: &[usize]) -> Vec<u8> {
        let mut d = PartDecoder::new(encoding);
        let mut out = Vec::new();
        let mut last = 0;
        let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(body.len())).collect();
        cuts.sort_unstable();
        for c in cuts.into_iter().chain([body.len()]) {
            d.update(&body[last..c], &mut out);
            last = c;
        }
        d.finish(&mut out);
        out
    }

    /// A message with `body` as its one attachment in `cte`, and the attachment's bytes as
    /// the whole-message reader gives them.
    fn whole_reader(cte: &str, body: &str) -> Vec<u8> {
        let raw = format!(
            "From: a@example.org\r\nSubject: x\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\
             Content-Type: text/plain\r\n\r\nhi\r\n--b\r\n\
             Content-Type: application/octet-stream\r\n\
             Content-Disposition: attachment; filename=\"f.bin\"\r\n\
             Content-Transfer-Encoding: {cte}\r\n\r\n{body}\r\n--b--\r\n"
        );
        crate::part_bytes(raw.as_bytes(), "2", &crate::Limits::default()).expect("the part")
    }

    proptest! {
        /// Base64 in 76-character lines, cut anywhere: the bytes it encodes, the same bytes the
        /// whole-message reader gives.
        #[test]
        fn base64_in_any_pieces_is_the_bytes_it_encodes(
            bytes in proptest::collection::vec(any::<u8>(), 0..600),
            cuts in proptest::collection::vec(0usize..1000, 0..8),
        ) {
            let flat = base64::engine::general_purpose::STANDARD.encode(&bytes);
            let lines: String = flat
                .as_bytes()
                .chunks(76)
                .map(|l| format!("{}\r\n", String::from_utf8_lossy(l)))
                .collect();
            prop_assert_eq!(decode_in(TransferEncoding::Base64, lines.as_bytes(), &cuts), bytes.clone());
            let body = lines.trim_end_matches("\r\n");
            prop_assert_eq!(whole_reader("base64", body), bytes);
        }

        /// Quoted-printable text, cut anywhere, decodes the same as in one piece.
        #[test]
        fn quoted_printable_in_any_pieces_is_the_same(
            body in "([a-z =]|=[0-9A-F]{2}|=\r\n|\r\n){0,200}",
            cuts in proptest::collection::vec(0usize..1000, 0..8),
        ) {
            let one = decode_in(TransferEncoding::QuotedPrintable, body.as_bytes(), &[]);
            prop_assert_eq!(decode_in(TransferEncoding::QuotedPrintable, body.as_bytes(), &cuts), one);
        }

        /// A quoted-printable line longer than the decoder holds comes out the same in any
        /// pieces: no escape is split where it decodes part of it.
        #[test]
        fn a_long_quoted_printable_line_in_any_pieces_is_the_same(
            unit in "(ab|=41|=\r\n|c=)",
            cuts in proptest::collection::vec(0usize..200_000, 0..8),
        ) {
            let body = unit.repeat(QP_LINE_MAX / unit.len() + 5000);
            let one = decode_in(TransferEncoding::QuotedPrintable, body.as_bytes(), &[]);
            prop_assert_eq!(decode_in(TransferEncoding::QuotedPrintable, body.as_bytes(), &cuts), one);
        }

        /// Any bytes in any encoding, cut anywhere: never a panic.
        #[test]
        fn arbitrary_bytes_never_panic(
            body in proptest::collection::vec(any::<u8>(), 0..400),
            cuts in proptest::collection::vec(0usize..400, 0..8),
            enc in 0..3u8,
        ) {
            let enc = [TransferEncoding::Base64, TransferEncoding::QuotedPrintable, TransferEncoding::Identity][enc as usize];
            let one = decode_in(enc, &body, &[]);
            prop_assert_eq!(decode_in(enc, &body, &cuts), one);
        }
    }

    #[test]
    fn quoted_printable_decodes_escapes_and_soft_breaks_as_the_whole_reader() {
        let body = "caf=C3=A9 au lait =\r\nsans sucre  \r\n=3D fin";
        let want = whole_reader("quoted-printable", body);
        assert_eq!(
            decode_in(TransferEncoding::QuotedPrintable, body.as_bytes(), &[5, 17]),
            want
        );
        assert_eq!(want, "café au lait sans sucre\r\n= fin".as_bytes());
    }

    #[test]
    fn names_round_trip() {
        for e in [
            TransferEncoding::Base64,
            TransferEncoding::QuotedPrintable,
            TransferEncoding::Identity,
        ] {
            assert_eq!(TransferEncoding::from_name(e.as_str()), Some(e));
        }
        assert_eq!(
            TransferEncoding::from_header(" BASE64 "),
            TransferEncoding::Base64
        );
        assert_eq!(
            TransferEncoding::from_header("8bit"),
            TransferEncoding::Identity
        );
    }
}
