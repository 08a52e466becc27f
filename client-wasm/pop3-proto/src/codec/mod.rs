//! Wire formats: status lines, multi-line bodies, listings, capabilities, commands.
//! Pure functions and small state machines, apart from the session logic.

pub mod capa;
pub mod command;
pub mod greeting;
pub mod listing;
pub mod multiline;
pub mod status;

/// Lower-case hex, as APOP (RFC 1939) and CRAM-MD5 (RFC 2195) require for their digests.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}
