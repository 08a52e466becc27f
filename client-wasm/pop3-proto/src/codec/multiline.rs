//! Multi-line response bodies: streaming dot-unstuffing (RFC 1939 §3) and its inverse.
//!
//! The unstuffer keeps only a two-bit position between calls, so a body can arrive in any
//! chunking — a chunk may end between the CR and LF of the terminator — and the output is the
//! same. It never buffers a line: a 1 GiB line costs no memory here.

/// Where the reader stands relative to the line structure, carried across chunk boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pos {
    /// At the first byte of a line: a `.` here is stuffing or the terminator.
    LineStart,
    /// After a `.` at the start of a line.
    Dot,
    /// After `.` CR at the start of a line: LF ends the response.
    DotCr,
    /// Inside a line.
    Mid,
}

/// Streaming dot-unstuffer for one multi-line response body.
#[derive(Debug, Clone)]
pub struct Unstuffer {
    pos: Pos,
}

impl Default for Unstuffer {
    fn default() -> Self {
        Self::new()
    }
}

/// The result of feeding a chunk into an [`Unstuffer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// How many input bytes were consumed. Less than the input only when `done`.
    pub consumed: usize,
    /// The terminating `.` line was consumed; bytes after it belong to the next response.
    pub done: bool,
}

impl Unstuffer {
    /// A reader positioned at the start of the body (just after the `+OK` line).
    pub fn new() -> Self {
        Unstuffer {
            pos: Pos::LineStart,
        }
    }

    /// Unstuffs `input`, appending the message bytes to `out`, and stops right after the
    /// terminator. Line endings are passed through as received (CRLF, or bare LF from sloppy
    /// servers, whose `.` LF terminator is accepted too).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Progress {
        let mut i = 0;
        while i < input.len() {
            match self.pos {
                Pos::Mid => {
                    // Only a line that starts with '.' needs attention, so jump from one
                    // "\n." to the next and copy everything between in one go.
                    match memchr::memmem::find(&input[i..], b"\n.") {
                        Some(j) => {
                            out.extend_from_slice(&input[i..=i + j]);
                            i += j + 1;
                            self.pos = Pos::LineStart;
                        }
                        None => {
                            out.extend_from_slice(&input[i..]);
                            if input.last() == Some(&b'\n') {
                                self.pos = Pos::LineStart;
                            }
                            i = input.len();
                        }
                    }
                }
                Pos::LineStart => {
                    if input[i] == b'.' {
                        i += 1;
                        self.pos = Pos::Dot;
                    } else {
                        self.pos = Pos::Mid;
                    }
                }
                Pos::Dot => match input[i] {
                    b'\r' => {
                        i += 1;
                        self.pos = Pos::DotCr;
                    }
                    b'\n' => {
                        return Progress {
                            consumed: i + 1,
                            done: true,
                        };
                    }
                    // A stuffed dot: drop it, the rest of the line is data (".." -> ".").
                    _ => self.pos = Pos::Mid,
                },
                Pos::DotCr => {
                    if input[i] == b'\n' {
                        return Progress {
                            consumed: i + 1,
                            done: true,
                        };
                    }
                    // ".\rX": not a terminator; the CR was data after a stuffed dot.
                    out.push(b'\r');
                    self.pos = Pos::Mid;
                }
            }
        }
        Progress {
            consumed: input.len(),
            done: false,
        }
    }
}

/// Encodes message bytes as a multi-line body with its terminator, as a server would send them.
///
/// A body that does not end in LF gets CRLF appended, because a multi-line response cannot
/// express a missing final line ending; used by tests, fuzz targets and fake servers.
pub fn stuff(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + body.len() / 64 + 5);
    let mut at_line_start = true;
    for &b in body {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_line_start = b == b'\n';
    }
    if !at_line_start {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn unstuff_chunks(chunks: &[&[u8]]) -> (Vec<u8>, bool, usize) {
        let mut u = Unstuffer::new();
        let mut out = Vec::new();
        let mut rest = 0;
        for (n, c) in chunks.iter().enumerate() {
            let p = u.feed(c, &mut out);
            if p.done {
                rest =
                    c.len() - p.consumed + chunks[n + 1..].iter().map(|c| c.len()).sum::<usize>();
                return (out, true, rest);
            }
        }
        (out, false, rest)
    }

    #[test]
    fn stuffed_dots_are_removed_and_terminator_ends_the_body() {
        let wire = b"line 1\r\n..dotted\r\n...\r\n+OK inside\r\n-ERR inside\r\n.\r\nNEXT";
        let (out, done, rest) = unstuff_chunks(&[wire]);
        assert!(done);
        assert_eq!(
            out,
            b"line 1\r\n.dotted\r\n..\r\n+OK inside\r\n-ERR inside\r\n"
        );
        assert_eq!(rest, 4);
    }

    #[test]
    fn empty_body_is_just_the_terminator() {
        assert_eq!(unstuff_chunks(&[b".\r\n"]), (vec![], true, 0));
    }

    #[test]
    fn bare_lf_terminator_is_accepted() {
        let (out, done, _) = unstuff_chunks(&[b"a\n..b\n.\n"]);
        assert!(done);
        assert_eq!(out, b"a\n.b\n");
    }

    #[test]
    fn terminator_split_at_every_position_is_found() {
        let wire = b"x\r\n.\r\n";
        for cut in 0..=wire.len() {
            let (out, done, _) = unstuff_chunks(&[&wire[..cut], &wire[cut..]]);
            assert!(done, "cut at {cut}");
            assert_eq!(out, b"x\r\n");
        }
    }

    #[test]
    fn dot_cr_without_lf_is_data() {
        let (out, done, _) = unstuff_chunks(&[b".\rX\r\n.\r\n"]);
        assert!(done);
        assert_eq!(out, b"\rX\r\n");
    }

    #[test]
    fn stuff_escapes_leading_dots_and_terminates() {
        assert_eq!(stuff(b".a\r\nb"), b"..a\r\nb\r\n.\r\n");
        assert_eq!(stuff(b""), b".\r\n");
    }

    proptest! {
        #[test]
        fn unstuff_inverts_stuff_for_any_bytes(mut body in proptest::collection::vec(any::<u8>(), 0..2000)) {
            if !body.is_empty() && body.last() != Some(&b'\n') {
                body.extend_from_slice(b"\r\n");
            }
            let wire = stuff(&body);
            let (out, done, rest) = unstuff_chunks(&[&wire]);
            prop_assert!(done);
            prop_assert_eq!(rest, 0);
            prop_assert_eq!(out, body);
        }

        #[test]
        fn any_chunking_gives_the_same_output(
            body in proptest::collection::vec(prop_oneof![Just(b'.'), Just(b'\r'), Just(b'\n'), any::<u8>()], 0..500),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
        ) {
            let mut wire = stuff(&body);
            wire.extend_from_slice(b"tail");
            let whole = unstuff_chunks(&[&wire]);
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(wire.len() + 1)).collect();
            points.sort_unstable();
            let mut chunks = Vec::new();
            let mut last = 0;
            for p in points { chunks.push(&wire[last..p]); last = p; }
            chunks.push(&wire[last..]);
            prop_assert_eq!(unstuff_chunks(&chunks), whole);
        }
    }
}
