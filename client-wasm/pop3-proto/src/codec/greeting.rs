//! The server greeting and the APOP timestamp inside it (RFC 1939 §7).

use crate::secret::Secret;
use crate::text::server_text;

/// The greeting's banner, and the APOP timestamp if it had one in strict msg-id form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Greeting {
    /// The banner text, with the unsafe characters of [`crate::text`] (control, bidi, invisible)
    /// removed.
    pub text: String,
    /// The `<local@domain>` challenge for APOP, brackets included. Only ever set from a greeting
    /// received over the connection's current security layer: it is forgotten after STLS.
    pub timestamp: Option<String>,
}

impl Greeting {
    pub(crate) fn parse(text: &[u8]) -> Greeting {
        Greeting {
            text: server_text(text),
            timestamp: apop_timestamp(text).map(|t| String::from_utf8_lossy(t).into_owned()),
        }
    }
}

/// Finds the first `<local@domain>` whose two parts are non-empty and contain none of
/// `< > @`, controls, space, DEL or 8-bit bytes — the same strict form Thunderbird accepts since
/// the APOP MD5-collision attacks (CVE-2007-1558), which need timestamps outside it.
///
/// One pass, constant work per byte: a 1 MB greeting of `<` takes as long as reading it (the
/// regex in CPython's poplib was quadratic, CVE-2018-1060).
pub fn apop_timestamp(text: &[u8]) -> Option<&[u8]> {
    let mut start: Option<usize> = None;
    let mut at: Option<usize> = None;
    for (i, &b) in text.iter().enumerate() {
        match b {
            b'<' => {
                start = Some(i);
                at = None;
            }
            b'>' => {
                if let (Some(s), Some(a)) = (start, at)
                    && a > s + 1
                    && i > a + 1
                {
                    return Some(&text[s..=i]);
                }
                start = None;
                at = None;
            }
            b'@' if start.is_some() => {
                if at.is_some() {
                    start = None;
                    at = None;
                } else {
                    at = Some(i);
                }
            }
            0x00..=0x20 | 0x7f..=0xff => {
                start = None;
                at = None;
            }
            _ => {}
        }
    }
    None
}

/// The APOP digest: lowercase hex MD5 of timestamp followed by the shared secret.
pub(crate) fn apop_digest(timestamp: &str, password: &Secret<String>) -> Secret<String> {
    use md5::{Digest, Md5};
    let mut h = Md5::new();
    h.update(timestamp.as_bytes());
    h.update(password.expose().as_bytes());
    Secret::new(crate::codec::hex(&h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1939_apop_example_digest_matches() {
        // RFC 1939 §7: shared secret "tanstaaf".
        let ts = "<1896.697170952@dbc.mtview.ca.us>";
        let g = Greeting::parse(b"POP3 server ready <1896.697170952@dbc.mtview.ca.us>");
        assert_eq!(g.timestamp.as_deref(), Some(ts));
        let d = apop_digest(ts, &Secret::new("tanstaaf".into()));
        assert_eq!(d.expose(), "c4c9334bac560ecc979e58001b3e22fb");
    }

    #[test]
    fn timestamps_outside_strict_msg_id_syntax_are_ignored() {
        for bad in [
            &b"ready <no-at-sign>"[..],
            b"ready <@domain>",
            b"ready <local@>",
            b"ready <a@b@c>",
            b"ready <a b@c>",
            b"ready <a@b\xff>",
            b"ready <a@b",
            b"ready a@b>",
        ] {
            assert_eq!(
                apop_timestamp(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn first_valid_timestamp_wins_after_invalid_candidates() {
        assert_eq!(
            apop_timestamp(b"<<x <bad @x> <1.2@host> <3@4>"),
            Some(&b"<1.2@host>"[..])
        );
    }

    #[test]
    fn megabyte_greeting_of_angle_brackets_is_scanned_once() {
        // Linear time is what matters; this input made poplib's regex take hours.
        let mut g = vec![b'<'; 1 << 20];
        assert_eq!(apop_timestamp(&g), None);
        g.extend_from_slice(b"a@b>");
        assert_eq!(apop_timestamp(&g), Some(&b"<a@b>"[..]));
        let mixed: Vec<u8> = b"<a@".iter().copied().cycle().take(1 << 20).collect();
        assert_eq!(apop_timestamp(&mixed), None);
    }
}
