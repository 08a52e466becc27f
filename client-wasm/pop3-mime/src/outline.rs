//! A big message's outline, built piece by piece so that a reader can show a message it never
//! holds whole: every header section and boundary line as it is, and of each part's body only
//! its start. The outline is itself a message, read by [`crate::parse_message`] like any
//! other; each part it keeps is marked with a header naming its [`Leaf`], which says where
//! the whole body lies in the message, how it is encoded and how big it is decoded, so an
//! attachment is saved from the message itself, decoded piece by piece ([`crate::decode`]).
//!
//! The structure is read line by line the way RFC 2045/2046 lay it out: a header section up
//! to its empty line; a multipart's boundary lines (any enclosing multipart's boundary also
//! ends the parts inside it); an attached `message/rfc822` is a header section and a body in
//! turn. Where a damaged message leaves the builder and the reader disagreeing about a part,
//! the part still carries the mark of the bytes the builder saw, so what is saved is what
//! the outline showed the start of; a part without a mark lies inside a body that may have
//! been cut, and is not offered on its own.

use crate::decode::{PartDecoder, TransferEncoding};

/// Each part's body is kept up to this many bytes: the start of a long text, a small image
/// whole.
pub const PART_KEEP: usize = 1 << 20;
/// Bodies are kept only while the outline is smaller than this; past twice this, nothing more
/// is kept at all (the parts after it are not shown). Header sections, boundaries and the
/// kept starts of parts together: what the reader parses and holds at most.
pub const OUTLINE_MAX: usize = 16 << 20;
/// The header each kept part gets in the outline: `<nonce> <leaf index>`. The nonce is the
/// caller's, new for each outline, so a header of that name in the message itself never
/// matches.
pub const MARK: &str = "X-Pop3-Outline-Part";
/// Parts listed at most, as [`crate::Limits::max_parts`]: past them, bodies are left out and
/// no more leaves are made (a hostile message of millions of empty parts costs no more).
pub const MAX_LEAVES: usize = 1000;
/// Multiparts and attached messages nested at most: deeper ones are taken as a leaf, so a
/// boundary is looked up among at most this many (parse_message stops at 16).
pub const MAX_NESTING: usize = 32;
/// A line longer than this is taken as it comes, in pieces: no boundary or empty line is
/// that long.
const LINE_MAX: usize = 8 * 1024;
/// A multipart's preamble and epilogue (never shown) are kept up to this.
const FILLER_KEEP: usize = 4 * 1024;
/// One header section is kept up to this; its Content-Type and Content-Transfer-Encoding are
/// read from at most `FIELD_MAX` bytes each.
const HEADERS_KEEP: usize = 256 * 1024;
const FIELD_MAX: usize = 8 * 1024;

/// One part's body in the message: where it lies, how it is encoded, its decoded size, and
/// whether the outline holds only its start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf {
    /// The body's first byte in the message.
    pub start: u64,
    /// Past its last byte (the line break before a boundary belongs to the boundary).
    pub end: u64,
    /// Its bytes once decoded.
    pub size: u64,
    /// Its Content-Transfer-Encoding.
    pub encoding: TransferEncoding,
    /// The outline holds only its start.
    pub cut: bool,
}

/// A finished outline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outline {
    /// The outline, a message in its own right.
    pub bytes: Vec<u8>,
    /// Every part body, in the order of their marks.
    pub leaves: Vec<Leaf>,
    /// The size of the message outlined.
    pub size: u64,
    /// Past twice [`OUTLINE_MAX`], the rest of the message was left out entirely.
    pub truncated: bool,
}

impl Outline {
    /// Whether any part is shown only in part.
    pub fn cut(&self) -> bool {
        self.truncated || self.leaves.iter().any(|l| l.cut)
    }
}

/// Builds an [`Outline`] from the message's bytes, fed in pieces of any size.
#[derive(Debug)]
pub struct OutlineBuilder {
    nonce: String,
    keep: usize,
    max: usize,
    out: Vec<u8>,
    /// The line under way, and whether it continues one already taken in part.
    line: Vec<u8>,
    continued: bool,
    /// Bytes taken so far.
    offset: u64,
    /// The boundaries of the multiparts around this point, outermost first.
    boundaries: Vec<Vec<u8>>,
    state: State,
    leaves: Vec<Leaf>,
    truncated: bool,
    /// Attached messages under way: their leaf, and how many boundaries enclosed them (a
    /// boundary of those ends them).
    messages: Vec<(usize, usize)>,
    /// The line break of the last line taken.
    last_eol: usize,
}

#[derive(Debug)]
enum State {
    Headers(Entity),
    Body(Body),
    /// A multipart's preamble or epilogue: kept up to `FILLER_KEEP`.
    Filler(usize),
}

#[derive(Debug, Default)]
struct Entity {
    field: Vec<u8>,
    content_type: Option<String>,
    transfer_encoding: Option<String>,
    kept: usize,
}

#[derive(Debug)]
struct Body {
    start: u64,
    kept: usize,
    cut: bool,
    decoder: PartDecoder,
    encoding: TransferEncoding,
    size: u64,
    /// The last line, not yet decoded: its line break may belong to a boundary.
    pending: Vec<u8>,
}

impl Entity {
    fn take_line(&mut self, line: &[u8]) {
        if matches!(line.first(), Some(b' ' | b'\t')) {
            let room = FIELD_MAX.saturating_sub(self.field.len());
            self.field.extend_from_slice(&line[..line.len().min(room)]);
        } else {
            self.end_field();
            self.field
                .extend_from_slice(&line[..line.len().min(FIELD_MAX)]);
        }
    }

    fn end_field(&mut self) {
        let field = std::mem::take(&mut self.field);
        let Some(colon) = field.iter().position(|&b| b == b':') else {
            return;
        };
        let name = String::from_utf8_lossy(&field[..colon]);
        let value = || {
            String::from_utf8_lossy(&field[colon + 1..])
                .replace(['\r', '\n'], "")
                .trim()
                .to_owned()
        };
        let name = name.trim();
        // The first of each, as the reader takes it.
        if name.eq_ignore_ascii_case("content-type") && self.content_type.is_none() {
            self.content_type = Some(value());
        } else if name.eq_ignore_ascii_case("content-transfer-encoding")
            && self.transfer_encoding.is_none()
        {
            self.transfer_encoding = Some(value());
        }
    }
}

/// `type/subtype` (lower case) and the boundary parameter of a Content-Type value.
fn content_type(value: &str) -> (String, Option<Vec<u8>>) {
    let mut parts = value.splitn(2, ';');
    let mime = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
    let mut boundary = None;
    let mut rest = parts.next().unwrap_or_default();
    while !rest.is_empty() {
        let Some(eq) = rest.find('=') else { break };
        let name = rest[..eq].trim().trim_start_matches(';').trim();
        let after = rest[eq + 1..].trim_start();
        let (val, next) = match after.strip_prefix('"') {
            Some(q) => {
                let mut v = String::new();
                let mut chars = q.char_indices();
                let mut end = q.len();
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some((_, e)) = chars.next() {
                                v.push(e);
                            }
                        }
                        '"' => {
                            end = i + 1;
                            break;
                        }
                        c => v.push(c),
                    }
                }
                (v, &q[end.min(q.len())..])
            }
            None => {
                let end = after.find(';').unwrap_or(after.len());
                (after[..end].trim().to_owned(), &after[end..])
            }
        };
        if name.eq_ignore_ascii_case("boundary") && boundary.is_none() && !val.is_empty() {
            boundary = Some(val.into_bytes());
        }
        rest = next.trim_start().trim_start_matches(';');
    }
    (mime, boundary)
}

/// The length of a line's break (`\r\n`, `\n` or none).
fn eol_len(line: &[u8]) -> usize {
    if line.ends_with(b"\r\n") {
        2
    } else if line.ends_with(b"\n") {
        1
    } else {
        0
    }
}

impl OutlineBuilder {
    /// A builder whose marks carry `nonce` (letters and digits; new for each outline).
    pub fn new(nonce: &str) -> OutlineBuilder {
        OutlineBuilder::with_limits(nonce, PART_KEEP, OUTLINE_MAX)
    }

    /// With other limits than [`PART_KEEP`] and [`OUTLINE_MAX`] (tests).
    pub fn with_limits(nonce: &str, keep: usize, max: usize) -> OutlineBuilder {
        OutlineBuilder {
            nonce: nonce
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(64)
                .collect(),
            keep,
            max,
            out: Vec::new(),
            line: Vec::new(),
            continued: false,
            offset: 0,
            boundaries: Vec::new(),
            state: State::Headers(Entity::default()),
            leaves: Vec::new(),
            truncated: false,
            messages: Vec::new(),
            last_eol: 0,
        }
    }

    /// Takes the next piece of the message.
    pub fn feed(&mut self, mut piece: &[u8]) {
        while !piece.is_empty() {
            match memchr::memchr(b'\n', piece) {
                Some(i) => {
                    self.line.extend_from_slice(&piece[..=i]);
                    piece = &piece[i + 1..];
                    self.take_line();
                }
                None => {
                    self.line.extend_from_slice(piece);
                    piece = &[];
                    if self.line.len() > LINE_MAX {
                        // Never between the `\r` and the `\n` of a line break: the break would
                        // count as a bare `\n`, and a boundary after it would leave the `\r` in
                        // the part before. The `\r` waits for the next piece.
                        let cr = self.line.last() == Some(&b'\r');
                        if cr {
                            self.line.pop();
                        }
                        self.take_line();
                        if cr {
                            self.line.push(b'\r');
                        }
                    }
                }
            }
        }
    }

    /// The outline of everything fed.
    pub fn finish(mut self) -> Outline {
        if !self.line.is_empty() {
            self.take_line();
        }
        self.end_body(None);
        self.end_messages(0, self.offset);
        if let State::Headers(e) = &mut self.state {
            e.end_field();
        }
        Outline {
            bytes: self.out,
            leaves: self.leaves,
            size: self.offset,
            truncated: self.truncated,
        }
    }

    fn take_line(&mut self) {
        let line = std::mem::take(&mut self.line);
        let start = self.offset;
        self.offset += line.len() as u64;
        // Only a whole line, from its start, can be a boundary or the end of a header section.
        let whole = !self.continued && line.ends_with(b"\n");
        self.continued = !line.ends_with(b"\n");
        let eol_before = std::mem::replace(&mut self.last_eol, eol_len(&line));
        if whole && let Some((depth, close)) = self.boundary(&line) {
            self.end_body(Some(start));
            self.end_messages(depth + 1, start - eol_before as u64);
            self.boundaries.truncate(depth + 1);
            if close {
                // The multipart is over; what follows, up to an enclosing boundary, is its
                // epilogue.
                self.boundaries.truncate(depth);
                self.state = State::Filler(0);
            } else {
                self.state = State::Headers(Entity::default());
            }
            self.keep(&line);
            return;
        }
        match &mut self.state {
            State::Headers(e) => {
                if whole && (line == b"\r\n" || line == b"\n") {
                    self.end_headers(&line);
                } else {
                    e.take_line(&line);
                    if e.kept + line.len() <= HEADERS_KEEP {
                        e.kept += line.len();
                        self.keep(&line);
                    }
                }
            }
            State::Body(b) => {
                let mut scratch = Vec::new();
                b.decoder.update(&b.pending, &mut scratch);
                b.size += scratch.len() as u64;
                b.pending.clear();
                b.pending.extend_from_slice(&line);
                let fits = !b.cut
                    && b.kept + line.len() <= self.keep
                    && self.out.len() + line.len() <= self.max;
                if fits {
                    b.kept += line.len();
                    self.keep(&line);
                } else if !b.cut {
                    b.cut = true;
                    self.cut_messages();
                }
            }
            State::Filler(kept) => {
                if *kept + line.len() <= FILLER_KEEP {
                    *kept += line.len();
                    self.keep(&line);
                }
            }
        }
    }

    /// Appends to the outline, up to twice the maximum (then nothing more: the message is
    /// truncated there).
    fn keep(&mut self, bytes: &[u8]) {
        if self.out.len() + bytes.len() > self.max.saturating_mul(2) {
            if !self.truncated {
                self.truncated = true;
                self.cut_messages();
            }
            return;
        }
        if !self.truncated {
            self.out.extend_from_slice(bytes);
        }
    }

    /// The enclosing multipart (its depth) whose boundary `line` is, and whether it closes it.
    fn boundary(&self, line: &[u8]) -> Option<(usize, bool)> {
        let rest = line.strip_prefix(b"--")?;
        let end = rest
            .iter()
            .rposition(|&b| !matches!(b, b'\r' | b'\n' | b' ' | b'\t'))
            .map_or(0, |i| i + 1);
        let rest = &rest[..end];
        self.boundaries.iter().enumerate().rev().find_map(|(d, b)| {
            let tail = rest.strip_prefix(b.as_slice())?;
            match tail {
                b"" => Some((d, false)),
                b"--" => Some((d, true)),
                _ => None,
            }
        })
    }

    fn end_headers(&mut self, blank: &[u8]) {
        let State::Headers(e) = &mut self.state else {
            return;
        };
        e.end_field();
        let (mime, boundary) = content_type(e.content_type.as_deref().unwrap_or_default());
        let encoding = e
            .transfer_encoding
            .as_deref()
            .map_or(TransferEncoding::Identity, TransferEncoding::from_header);
        let nested = self.boundaries.len() + self.messages.len();
        if self.leaves.len() >= MAX_LEAVES {
            // Past the part limit: nothing more is listed, and bodies are left out.
            self.keep(blank);
            self.truncated = true;
            self.state = State::Filler(FILLER_KEEP);
            return;
        }
        match boundary {
            Some(b) if mime.starts_with("multipart/") && nested < MAX_NESTING => {
                self.keep(blank);
                self.boundaries.push(b);
                self.state = State::Filler(0);
            }
            // An attached message (not transfer-encoded): its own header section comes next.
            // It is a leaf too (saved as it is), which ends with an enclosing boundary.
            _ if mime == "message/rfc822"
                && encoding == TransferEncoding::Identity
                && nested < MAX_NESTING =>
            {
                let leaf = self.open_leaf(blank, encoding);
                self.messages.push((leaf, self.boundaries.len()));
                self.state = State::Headers(Entity::default());
            }
            _ => {
                self.open_leaf(blank, encoding);
                self.state = State::Body(Body {
                    start: self.offset,
                    kept: 0,
                    cut: false,
                    decoder: PartDecoder::new(encoding),
                    encoding,
                    size: 0,
                    pending: Vec::new(),
                });
            }
        }
    }

    /// Ends the header section under way with the mark of a new leaf, whose body starts
    /// here; its place among the leaves is taken now, and it is filled in at its end.
    /// Returns its index.
    fn open_leaf(&mut self, blank: &[u8], encoding: TransferEncoding) -> usize {
        self.mark(blank);
        self.leaves.push(Leaf {
            start: self.offset,
            end: self.offset,
            size: 0,
            encoding,
            cut: false,
        });
        self.leaves.len() - 1
    }

    /// Ends the header section under way with the leaf mark the next leaf gets.
    fn mark(&mut self, blank: &[u8]) {
        let eol: &[u8] = if blank.starts_with(b"\r") {
            b"\r\n"
        } else {
            b"\n"
        };
        let mark = format!("{MARK}: {} {}", self.nonce, self.leaves.len());
        self.keep(mark.as_bytes());
        self.keep(eol);
        self.keep(blank);
    }

    /// Every attached message under way holds a part cut short.
    fn cut_messages(&mut self) {
        for &(i, _) in &self.messages {
            if let Some(l) = self.leaves.get_mut(i) {
                l.cut = true;
            }
        }
    }

    /// Ends the attached messages that `enclosing` or fewer boundaries no longer enclose, at
    /// `end`.
    fn end_messages(&mut self, enclosing: usize, end: u64) {
        while let Some(&(i, depth)) = self.messages.last() {
            if depth < enclosing {
                break;
            }
            self.messages.pop();
            if let Some(l) = self.leaves.get_mut(i) {
                l.end = end.max(l.start);
                l.size = l.end - l.start;
            }
        }
    }

    /// Ends the body under way at the boundary line starting at `boundary` (its line break
    /// before it belongs to the boundary), or at the end of the message (`None`).
    fn end_body(&mut self, boundary: Option<u64>) {
        let State::Body(b) = std::mem::replace(&mut self.state, State::Filler(FILLER_KEEP)) else {
            return;
        };
        let Body {
            start,
            cut,
            mut decoder,
            encoding,
            mut size,
            pending,
            ..
        } = b;
        let (last, end) = match boundary {
            Some(at) => {
                let eol = eol_len(&pending);
                (&pending[..pending.len() - eol], at - eol as u64)
            }
            None => (&pending[..], self.offset),
        };
        let mut scratch = Vec::new();
        decoder.update(last, &mut scratch);
        decoder.finish(&mut scratch);
        size += scratch.len() as u64;
        if let Some(leaf) = self.leaves.last_mut() {
            *leaf = Leaf {
                start,
                end: end.max(start),
                size,
                encoding,
                cut,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Limits, parse_message, part_bytes};
    use base64::Engine as _;
    use proptest::prelude::*;

    fn b64_lines(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD
            .encode(bytes)
            .as_bytes()
            .chunks(76)
            .map(|l| format!("{}\r\n", String::from_utf8_lossy(l)))
            .collect()
    }

    fn noise(n: usize, mut seed: u64) -> Vec<u8> {
        (0..n)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect()
    }

    /// Text, an HTML alternative, an attachment of `att` bytes, and an attached message with
    /// an attachment of its own; a forged mark in the headers.
    fn sample(att: usize) -> (Vec<u8>, Vec<u8>) {
        let data = noise(att, 7);
        let inner = noise(3000, 9);
        let raw = format!(
            "From: Ann <ann@example.org>\r\nTo: bob@example.org\r\nSubject: The scans\r\n\
             {MARK}: forged 0\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed;\r\n boundary=\"outer b\"\r\n\r\n\
             This is the preamble.\r\n--outer b\r\n\
             Content-Type: multipart/alternative; boundary=alt\r\n\r\n--alt\r\n\
             Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
             Here are the scans, caf=C3=A9 included.\r\n--alt\r\n\
             Content-Type: text/html; charset=utf-8\r\n\r\n<p>Here are the <b>scans</b>.</p>\r\n--alt--\r\n\
             --outer b\r\nContent-Type: application/pdf; name=scan.pdf\r\n\
             Content-Disposition: attachment; filename=\"scan.pdf\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}\
             --outer b\r\nContent-Type: message/rfc822\r\n\r\n\
             From: Cy <cy@example.org>\r\nSubject: Forwarded\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=in\r\n\r\n--in\r\n\
             Content-Type: text/plain\r\n\r\nThe inner text.\r\n--in\r\n\
             Content-Type: image/png\r\nContent-Disposition: attachment; filename=in.png\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}--in--\r\n\
             --outer b--\r\nThe epilogue.\r\n",
            b64_lines(&data),
            b64_lines(&inner),
        );
        (raw.into_bytes(), data)
    }

    fn outline(raw: &[u8], cuts: &[usize], keep: usize, max: usize) -> Outline {
        let mut b = OutlineBuilder::with_limits("n0nce", keep, max);
        let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(raw.len())).collect();
        cuts.sort_unstable();
        let mut last = 0;
        for c in cuts.into_iter().chain([raw.len()]) {
            b.feed(&raw[last..c]);
            last = c;
        }
        b.finish()
    }

    /// The leaf a part of the outline's view is marked with (this outline's nonce only).
    fn leaf_of<'a>(o: &'a Outline, mark: Option<&str>) -> Option<&'a Leaf> {
        let (nonce, n) = mark?.split_once(' ')?;
        (nonce == "n0nce").then_some(())?;
        o.leaves.get(n.parse::<usize>().ok()?)
    }

    fn decode(raw: &[u8], leaf: &Leaf) -> Vec<u8> {
        let mut d = PartDecoder::new(leaf.encoding);
        let mut out = Vec::new();
        d.update(&raw[leaf.start as usize..leaf.end as usize], &mut out);
        d.finish(&mut out);
        out
    }

    #[test]
    fn a_small_message_outlines_to_the_same_view_with_every_part_marked() {
        let (raw, _) = sample(5000);
        let o = outline(&raw, &[], PART_KEEP, OUTLINE_MAX);
        assert!(!o.cut());
        assert_eq!(o.size, raw.len() as u64);
        let whole = parse_message(&raw, &Limits::default()).unwrap();
        let view = parse_message(&o.bytes, &Limits::default()).unwrap();
        assert_eq!(view.subject, whole.subject);
        assert_eq!(view.text, whole.text);
        assert_eq!(view.has_html, whole.has_html);
        // (An attached message's size in the outline counts the marks of its parts.)
        let shape = |v: &crate::MessageView| -> Vec<(String, String, Option<String>, usize)> {
            v.parts
                .iter()
                .map(|p| {
                    let size = if p.content_type == "message/rfc822" {
                        0
                    } else {
                        p.size
                    };
                    (
                        p.id.clone(),
                        p.content_type.clone(),
                        p.filename.clone(),
                        size,
                    )
                })
                .collect()
        };
        assert_eq!(shape(&view), shape(&whole));
        // Every part, the attached message too, is a marked leaf, whose decoded range of the
        // message is the part's bytes, and whose size is theirs.
        for p in &view.parts {
            let leaf = leaf_of(&o, p.outline_mark.as_deref()).expect("marked");
            let bytes = part_bytes(&raw, &p.id, &Limits::default()).unwrap();
            assert_eq!(decode(&raw, leaf), bytes, "part {}", p.id);
            assert_eq!(leaf.size, bytes.len() as u64, "part {}", p.id);
        }
        // The forged mark in the message's own headers names no leaf of this outline.
        assert_eq!(o.leaves.len(), 6);
    }

    #[test]
    fn a_big_attachment_is_cut_and_still_saved_whole_from_the_message() {
        let (raw, data) = sample(3 << 20);
        let o = outline(&raw, &[4096, 1 << 20, 2 << 20], PART_KEEP, OUTLINE_MAX);
        assert!(o.cut());
        assert!(o.bytes.len() < PART_KEEP + 64 * 1024, "{}", o.bytes.len());
        let view = parse_message(&o.bytes, &Limits::default()).unwrap();
        assert_eq!(
            view.text.as_deref(),
            Some("Here are the scans, café included.")
        );
        let pdf = view
            .parts
            .iter()
            .find(|p| p.filename.as_deref() == Some("scan.pdf"))
            .unwrap();
        let leaf = leaf_of(&o, pdf.outline_mark.as_deref()).unwrap();
        assert!(leaf.cut);
        assert!(pdf.size < data.len(), "the outline holds only its start");
        assert_eq!(leaf.size, data.len() as u64);
        assert_eq!(decode(&raw, leaf), data);
        // The attached message's own attachment comes after it, whole, and so does the
        // attached message (nothing in it was cut): leaves 5 and 3.
        let inner = noise(3000, 9);
        assert!(!o.leaves[5].cut);
        assert_eq!(decode(&raw, &o.leaves[5]), inner);
        assert!(!o.leaves[3].cut);
        let nested = decode(&raw, &o.leaves[3]);
        assert!(nested.starts_with(b"From: Cy <cy@example.org>\r\n"));
        assert!(nested.ends_with(b"--in--"));
    }

    #[test]
    fn one_long_text_keeps_its_start_and_the_outline_stays_bounded() {
        let mut raw = b"From: a@example.org\r\nSubject: long\r\n\r\n".to_vec();
        for i in 0..200_000 {
            raw.extend_from_slice(format!("line {i} of a very long text message\r\n").as_bytes());
        }
        let o = outline(&raw, &[100, 70_000], 64 * 1024, 1 << 20);
        assert!(o.cut());
        assert!(o.bytes.len() <= 64 * 1024 + 200);
        let view = parse_message(&o.bytes, &Limits::default()).unwrap();
        assert!(view.text.unwrap().starts_with("line 0 of"));
        assert_eq!(o.leaves[0].size, (raw.len() - 38) as u64);
    }

    /// A line longer than the builder holds is taken in parts; a piece that ends between the
    /// `\r` and the `\n` before a boundary used to leave the `\r` in the part's range.
    #[test]
    fn a_long_line_cut_inside_its_line_break_keeps_the_parts_range() {
        let long = "x".repeat(3 * LINE_MAX);
        let raw = format!(
            "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
             Content-Type: text/plain\r\n\r\n{long}\r\n--b\r\n\
             Content-Type: text/plain\r\n\r\nshort\r\n--b--\r\n"
        )
        .into_bytes();
        let after = b"\r\n--b\r\nContent";
        let cr = raw.windows(after.len()).rposition(|w| w == after).unwrap() + 1;
        let whole = parse_message(&raw, &Limits::default()).unwrap();
        let first = &whole.parts[0];
        let bytes = part_bytes(&raw, &first.id, &Limits::default()).unwrap();
        assert_eq!(bytes, long.as_bytes());
        for cuts in [vec![], vec![cr], vec![LINE_MAX, cr], vec![cr - 1, cr]] {
            let o = outline(&raw, &cuts, PART_KEEP, OUTLINE_MAX);
            let got = decode(&raw, &o.leaves[0]);
            assert!(
                got == bytes,
                "cut at {cuts:?}: {} bytes, ending {:?}",
                got.len(),
                &got[got.len().saturating_sub(4)..]
            );
            assert_eq!(o.leaves[0].size, bytes.len() as u64, "cut at {cuts:?}");
        }
    }

    #[test]
    fn millions_of_parts_or_deep_nesting_stay_within_the_limits() {
        let mut raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n".to_vec();
        for _ in 0..200_000 {
            raw.extend_from_slice(b"--b\r\n\r\n");
        }
        let o = outline(&raw, &[], PART_KEEP, OUTLINE_MAX);
        assert_eq!(o.leaves.len(), MAX_LEAVES);
        assert!(o.truncated);
        let mut deep = Vec::new();
        for i in 0..10_000 {
            deep.extend_from_slice(
                format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n")
                    .as_bytes(),
            );
        }
        deep.extend_from_slice(b"\r\ntext\r\n--b0--\r\n");
        let b = {
            let mut b = OutlineBuilder::with_limits("n0nce", PART_KEEP, OUTLINE_MAX);
            b.feed(&deep);
            b
        };
        assert!(b.boundaries.len() <= MAX_NESTING);
        assert!(b.finish().leaves.len() <= 1);
    }

    proptest! {
        /// Any message cut into any pieces outlines the same as in one piece.
        #[test]
        fn any_pieces_give_the_same_outline(
            att in 0usize..20_000,
            cuts in proptest::collection::vec(0usize..40_000, 0..10),
            keep in 100usize..5000,
        ) {
            let (raw, _) = sample(att);
            prop_assert_eq!(outline(&raw, &cuts, keep, 1 << 20), outline(&raw, &[], keep, 1 << 20));
        }

        /// Arbitrary bytes in arbitrary pieces: no panic, the same outline, and one that stays
        /// within its bound.
        #[test]
        fn arbitrary_bytes_give_a_bounded_outline(
            raw in proptest::collection::vec(
                prop_oneof![Just(b'\n'), Just(b'-'), Just(b'\r'), Just(b':'), any::<u8>()], 0..3000),
            cuts in proptest::collection::vec(0usize..3000, 0..10),
        ) {
            let max = 512;
            let o = outline(&raw, &cuts, 64, max);
            prop_assert_eq!(&o, &outline(&raw, &[], 64, max));
            prop_assert!(o.bytes.len() <= 2 * max);
            for l in &o.leaves {
                prop_assert!(l.start <= l.end && l.end <= raw.len() as u64);
            }
        }
    }
}
