//! What a relay-mode session may send to the mail server: TLS records, and for `stls` the
//! `STLS` command before them (after at most a few `CAPA`s, which the client's core sends to
//! learn that the server offers STLS). Nothing else.
//!
//! In relay mode (`end_to_end`) the bridge does no TLS, so it cannot tell a good session from a
//! bad one by decrypting it; but it can tell TLS from plaintext. Without this check a relay
//! would be a plaintext channel the operator never allowed (`allow_plaintext` off), and a buggy
//! client that sent `USER`/`PASS` before its own TLS was up would send the password in clear
//! through a bridge that promised not to carry it. So the client-to-server bytes are checked
//! against the TLS record framing (RFC 8446 §5.1, RFC 5246 §6.2), continuously and across any
//! frame split, and the first byte that cannot be part of a valid record stream ends the
//! session; the bytes before it are forwarded, that byte and everything after it are not.
//!
//! The check is on framing only (type, version, length; the body is skipped): enough to refuse
//! any POP3 command (`U`, `P`, `A`, … are no content types), never a judgement of the TLS
//! itself, which the client and the server do. Server-to-client bytes are not checked: the
//! client's own TLS rejects anything that is not.

/// TLS record content types: change_cipher_spec, alert, handshake, application_data.
const CONTENT_TYPES: [u8; 4] = [20, 21, 22, 23];
/// The handshake content type: a TLS session starts with a ClientHello.
const HANDSHAKE: u8 = 22;
/// Largest record on the wire: 2^14 bytes of plaintext plus the 2048 bytes of expansion TLS 1.2
/// allows (RFC 5246 §6.2.3); TLS 1.3 allows less (2^14 + 256).
pub(crate) const MAX_RECORD: usize = 16384 + 2048;
/// The STLS command exactly as the client sends it (pop3-proto writes upper case and CRLF).
const STLS: &[u8] = b"STLS\r\n";
/// The one other command allowed before STLS: it carries nothing of the user's.
const CAPA: &[u8] = b"CAPA\r\n";
/// `CAPA`s allowed before `STLS`: the core sends one; a few more are harmless, endless ones not.
const MAX_CAPAS: u8 = 4;

/// Why the client's bytes were refused (for the log; never payload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Violation {
    /// How many bytes of the chunk given to [`TlsGuard::feed`] may still be forwarded: they
    /// continue a valid stream; the byte at this offset does not.
    pub(crate) valid: usize,
    /// What was wrong, in words.
    pub(crate) reason: &'static str,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.reason)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// `matched` bytes of the command `cmd` (`STLS\r\n` or `CAPA\r\n`; empty before its first
    /// byte says which) seen, after `capas` whole `CAPA`s.
    Stls {
        cmd: &'static [u8],
        matched: usize,
        capas: u8,
    },
    /// `have` bytes of a record header seen (the type, the version's two bytes, the length's
    /// high byte; the fifth completes it); `first` for the session's first record.
    Header {
        have: usize,
        first: bool,
        len_hi: u8,
    },
    /// `left` bytes of a record body still to skip.
    Body { left: usize },
    /// A violation was reported: nothing more passes.
    Failed,
}

/// The client-to-server check of one relay-mode session: feed it every byte in order.
#[derive(Debug, Clone)]
pub(crate) struct TlsGuard {
    state: State,
}

impl TlsGuard {
    /// Implicit TLS: records from the first byte.
    pub(crate) fn tls() -> TlsGuard {
        TlsGuard {
            state: State::Header {
                have: 0,
                first: true,
                len_hi: 0,
            },
        }
    }

    /// STLS: up to [`MAX_CAPAS`] `CAPA\r\n`, exactly `STLS\r\n`, then records.
    pub(crate) fn stls() -> TlsGuard {
        TlsGuard {
            state: State::Stls {
                cmd: &[],
                matched: 0,
                capas: 0,
            },
        }
    }

    /// Check the next bytes of the stream. `Ok`: all of `data` may be forwarded. `Err`: only
    /// `data[..valid]`, and the session must end (later calls fail at once).
    pub(crate) fn feed(&mut self, data: &[u8]) -> Result<(), Violation> {
        let mut i = 0;
        while i < data.len() {
            match self.step(&data[i..]) {
                Ok(n) => i += n,
                Err(reason) => {
                    self.state = State::Failed;
                    return Err(Violation { valid: i, reason });
                }
            }
        }
        Ok(())
    }

    /// Consume a prefix of `rest` (never empty): how many bytes passed, or why the first of
    /// them cannot.
    fn step(&mut self, rest: &[u8]) -> Result<usize, &'static str> {
        let b = rest[0];
        match &mut self.state {
            State::Failed => Err("the stream already broke the relay rules"),
            State::Stls {
                cmd,
                matched,
                capas,
            } => {
                if cmd.is_empty() {
                    *cmd = match b {
                        b'S' => STLS,
                        b'C' if *capas < MAX_CAPAS => CAPA,
                        _ => {
                            return Err(
                                "relay mode with stls: the client's first bytes must be STLS",
                            );
                        }
                    };
                }
                if b != cmd[*matched] {
                    return Err("relay mode with stls: the client's first bytes must be STLS");
                }
                *matched += 1;
                if *matched == cmd.len() {
                    if *cmd == STLS {
                        self.state = State::Header {
                            have: 0,
                            first: true,
                            len_hi: 0,
                        };
                    } else {
                        *capas += 1;
                        *cmd = &[];
                        *matched = 0;
                    }
                }
                Ok(1)
            }
            State::Body { left } => {
                let n = (*left).min(rest.len());
                *left -= n;
                if *left == 0 {
                    self.state = State::Header {
                        have: 0,
                        first: false,
                        len_hi: 0,
                    };
                }
                Ok(n)
            }
            State::Header {
                have,
                first,
                len_hi,
            } => {
                match *have {
                    0 if *first && b != HANDSHAKE => {
                        return Err(
                            "relay mode: the client's TLS must start with a handshake record",
                        );
                    }
                    0 if !CONTENT_TYPES.contains(&b) => {
                        return Err(
                            "relay mode: the client sent something other than a TLS record",
                        );
                    }
                    1 if b != 3 => return Err("relay mode: not a TLS record version"),
                    2 if !(1..=4).contains(&b) => {
                        return Err("relay mode: not a TLS record version");
                    }
                    // The high byte alone can already exceed the limit.
                    3 if usize::from(b) << 8 > MAX_RECORD => {
                        return Err("relay mode: TLS record longer than allowed");
                    }
                    3 => *len_hi = b,
                    4 => {
                        let len = usize::from(*len_hi) << 8 | usize::from(b);
                        if len > MAX_RECORD {
                            return Err("relay mode: TLS record longer than allowed");
                        }
                        self.state = if len == 0 {
                            State::Header {
                                have: 0,
                                first: false,
                                len_hi: 0,
                            }
                        } else {
                            State::Body { left: len }
                        };
                        return Ok(1);
                    }
                    _ => {}
                }
                *have += 1;
                Ok(1)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A record of `kind` with a body of `len` bytes of `fill`.
    fn record(kind: u8, minor: u8, len: usize, fill: u8) -> Vec<u8> {
        let mut r = vec![kind, 3, minor, (len >> 8) as u8, len as u8];
        r.extend(std::iter::repeat_n(fill, len));
        r
    }

    /// A plausible client stream: a ClientHello record, then others.
    fn stream(rest: &[(u8, usize)]) -> Vec<u8> {
        let mut s = record(22, 1, 300, 0xAB);
        for &(kind, len) in rest {
            s.extend(record(kind, 3, len, kind));
        }
        s
    }

    /// Feed `data` cut at `cuts` (sorted offsets); the total forwarded, and the first violation.
    fn feed_split(g: &mut TlsGuard, data: &[u8], cuts: &[usize]) -> (usize, Option<Violation>) {
        let mut start = 0;
        let mut sent = 0;
        for &end in cuts.iter().chain(std::iter::once(&data.len())) {
            let end = end.clamp(start, data.len());
            match g.feed(&data[start..end]) {
                Ok(()) => sent += end - start,
                Err(v) => return (sent + v.valid, Some(v)),
            }
            start = end;
        }
        (sent, None)
    }

    #[test]
    fn a_record_stream_passes_whole_and_byte_by_byte() {
        let s = stream(&[(20, 1), (23, 5000), (23, MAX_RECORD), (21, 2), (23, 0)]);
        assert_eq!(TlsGuard::tls().feed(&s), Ok(()));
        let mut g = TlsGuard::tls();
        for b in &s {
            assert_eq!(g.feed(std::slice::from_ref(b)), Ok(()));
        }
        let mut with_stls = STLS.to_vec();
        with_stls.extend_from_slice(&s);
        assert_eq!(TlsGuard::stls().feed(&with_stls), Ok(()));
    }

    #[test]
    fn pop3_commands_are_refused_before_their_first_byte_is_forwarded() {
        for cmd in [
            &b"USER x\r\n"[..],
            b"PASS x\r\n",
            b"CAPA\r\n",
            b"AUTH PLAIN\r\n",
        ] {
            let v = TlsGuard::tls().feed(cmd).unwrap_err();
            assert_eq!(v.valid, 0, "{}", String::from_utf8_lossy(cmd));
        }
        // After a valid record, exactly that record is forwarded.
        let mut s = stream(&[]);
        let ok = s.len();
        s.extend_from_slice(b"PASS secret\r\n");
        let v = TlsGuard::tls().feed(&s).unwrap_err();
        assert_eq!(v.valid, ok);
    }

    #[test]
    fn stls_must_be_exact_and_followed_by_tls() {
        for bad in [
            &b"stls\r\n"[..],
            b"STLS\n",
            b"STLS \r\n",
            b"CAPA\r\nPASS x\r\n",
            b"CAPA\r\nCAPA\r\nCAPA\r\nCAPA\r\nCAPA\r\nSTLS\r\n",
            b"CAPA\r\n\x16\x03\x01",
            b"\x16\x03\x01",
        ] {
            assert!(TlsGuard::stls().feed(bad).is_err(), "{bad:?}");
        }
        // The core asks for CAPA before STLS: that (a few times at most) is allowed.
        let mut ok = b"CAPA\r\nSTLS\r\n".to_vec();
        ok.extend(stream(&[]));
        assert!(TlsGuard::stls().feed(&ok).is_ok());
        let v = TlsGuard::stls().feed(b"STLS\r\nPASS x\r\n").unwrap_err();
        assert_eq!(v.valid, STLS.len());
        // A second STLS is not a TLS record either.
        let v = TlsGuard::stls().feed(b"STLS\r\nSTLS\r\n").unwrap_err();
        assert_eq!(v.valid, STLS.len());
    }

    #[test]
    fn headers_are_checked_field_by_field() {
        // The first record must be a handshake.
        assert!(TlsGuard::tls().feed(&record(23, 3, 5, 0)).is_err());
        // Heartbeat (24) and anything else is no content type here.
        let mut s = stream(&[]);
        s.extend(record(24, 3, 1, 0));
        assert!(TlsGuard::tls().feed(&s).is_err());
        // Versions: 3.1 to 3.4 only.
        for (major, minor, ok) in [(3, 0, false), (3, 1, true), (3, 4, true), (3, 5, false)] {
            let r = [22, major, minor, 0, 1, 1];
            assert_eq!(TlsGuard::tls().feed(&r).is_ok(), ok, "{major}.{minor}");
        }
        assert!(TlsGuard::tls().feed(&[22, 2, 1]).is_err());
        // Length: the limit passes, one more does not, and a high byte alone can fail.
        assert!(TlsGuard::tls().feed(&record(22, 1, MAX_RECORD, 0)).is_ok());
        let too_long = MAX_RECORD + 1;
        let h = [22, 3, 1, (too_long >> 8) as u8, too_long as u8];
        assert_eq!(TlsGuard::tls().feed(&h).unwrap_err().valid, 4);
        assert_eq!(
            TlsGuard::tls().feed(&[22, 3, 1, 0xFF]).unwrap_err().valid,
            3
        );
    }

    #[test]
    fn after_a_violation_nothing_passes() {
        let mut g = TlsGuard::tls();
        assert!(g.feed(b"U").is_err());
        let v = g.feed(&record(22, 1, 3, 0)).unwrap_err();
        assert_eq!(v.valid, 0);
        assert!(
            g.feed(&[]).is_ok(),
            "an empty chunk forwards nothing, so it is harmless"
        );
    }

    fn arb_stream() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(
            (
                prop::sample::select(CONTENT_TYPES.to_vec()),
                prop_oneof![0usize..40, Just(MAX_RECORD), 1000usize..3000],
            ),
            0..6,
        )
        .prop_map(|rs| stream(&rs))
    }

    fn arb_cuts() -> impl Strategy<Value = Vec<usize>> {
        proptest::collection::vec(0usize..40_000, 0..24).prop_map(|mut c| {
            c.sort_unstable();
            c
        })
    }

    proptest! {
        #[test]
        fn any_split_of_a_valid_stream_passes_byte_exact(
            s in arb_stream(), cuts in arb_cuts(), stls in any::<bool>()
        ) {
            let (mut g, data) = if stls {
                let mut d = STLS.to_vec();
                d.extend_from_slice(&s);
                (TlsGuard::stls(), d)
            } else {
                (TlsGuard::tls(), s)
            };
            let (sent, v) = feed_split(&mut g, &data, &cuts);
            prop_assert_eq!(v, None);
            prop_assert_eq!(sent, data.len());
        }

        #[test]
        fn plaintext_at_any_record_boundary_is_refused_exactly_there(
            s in arb_stream(),
            at in any::<prop::sample::Index>(),
            cmd in prop::sample::select(vec![&b"USER x\r\n"[..], b"PASS x\r\n", b"APOP x y\r\n"]),
            cuts in arb_cuts(),
        ) {
            // Record boundaries of `s`, found by walking its headers.
            let mut bounds = vec![0];
            let mut i = 0;
            while i < s.len() {
                i += 5 + (usize::from(s[i + 3]) << 8 | usize::from(s[i + 4]));
                bounds.push(i);
            }
            let cut = bounds[at.index(bounds.len())];
            let mut data = s[..cut].to_vec();
            data.extend_from_slice(cmd);
            data.extend_from_slice(&s[cut..]);
            let (sent, v) = feed_split(&mut TlsGuard::tls(), &data, &cuts);
            prop_assert!(v.is_some());
            prop_assert_eq!(sent, cut);
        }

        #[test]
        fn stls_then_plaintext_is_refused_after_the_stls(
            cmd in "[A-Z]{4}( [a-z0-9]{1,8})?\r\n", cuts in arb_cuts()
        ) {
            let mut data = STLS.to_vec();
            data.extend_from_slice(cmd.as_bytes());
            let (sent, v) = feed_split(&mut TlsGuard::stls(), &data, &cuts);
            prop_assert!(v.is_some());
            prop_assert_eq!(sent, STLS.len());
        }
    }
}
