//! Values that cross the core's boundary: message numbers, unique ids, listings, handles.

use std::fmt;

/// Identifies one command (or one multi-command operation such as a login) that the caller
/// enqueued; every event about it carries the same handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Handle(pub(crate) u64);

impl Handle {
    /// The raw number, for logging and for keys in the caller's maps.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// A message number as the server assigned it *for this session* (RFC 1939 §5: numbers start at
/// 1 and are meaningless in another session; track messages across sessions by [`Uid`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MsgNum(u32);

impl MsgNum {
    /// `None` for 0, which no POP3 server ever assigns.
    pub fn new(n: u32) -> Option<Self> {
        (n >= 1).then_some(MsgNum(n))
    }
    /// The number as sent on the wire.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for MsgNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A unique-id listing entry value (RFC 1939 §7 UIDL): printable ASCII 0x21–0x7E.
///
/// RFC 1939 caps it at 70 octets; real servers exceed that occasionally, so up to
/// [`Uid::MAX_LEN`] is accepted, while anything with spaces or control characters is refused
/// because it could not be stored and compared reliably.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uid(String);

impl Uid {
    /// The longest id accepted (RFC 1939 says 70; tolerance for servers that do not).
    pub const MAX_LEN: usize = 512;

    /// Validates bytes as a unique id.
    pub fn new(bytes: &[u8]) -> Option<Self> {
        if bytes.is_empty() || bytes.len() > Self::MAX_LEN {
            return None;
        }
        if !bytes.iter().all(|b| (0x21..=0x7e).contains(b)) {
            return None;
        }
        // Checked above: all bytes are printable ASCII.
        Some(Uid(String::from_utf8_lossy(bytes).into_owned()))
    }
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One line of a LIST response: a message and its size in octets as the server counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanEntry {
    /// The message number in this session.
    pub msg: MsgNum,
    /// The size the server reports (RFC 1939: in octets, with CRLF line endings).
    pub size: u64,
}

/// One line of a UIDL response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UidEntry {
    /// The message number in this session.
    pub msg: MsgNum,
    /// The message's persistent unique id.
    pub uid: Uid,
}

/// The answer to STAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaildropStat {
    /// Number of messages not marked deleted.
    pub count: u32,
    /// Their total size in octets.
    pub size: u64,
}
