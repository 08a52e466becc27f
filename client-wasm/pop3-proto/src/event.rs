//! What the core reports, as past-tense facts, each carrying the handle of its command.

use crate::codec::capa::Capabilities;
use crate::codec::greeting::Greeting;
use crate::codec::status::ServerReply;
use crate::error::{AuthMethod, CommandError};
use crate::types::{Handle, MaildropStat, ScanEntry, UidEntry};

/// One thing that happened on the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The server greeted us; the session is in the AUTHORIZATION state.
    Greeting(Greeting),
    /// A CAPA answer (asked for by the caller, or by the core after the greeting, STLS and
    /// login). It replaces what was known before.
    Capabilities {
        /// The CAPA command's handle.
        handle: Handle,
        /// The new capability set.
        caps: Capabilities,
    },
    /// The server accepted STLS. The driver must now run the TLS handshake on the transport and
    /// then call [`crate::Client::tls_established`]; until then no bytes may be fed.
    UpgradeToTls {
        /// The STLS command's handle.
        handle: Handle,
    },
    /// Login succeeded; the session is in the TRANSACTION state.
    LoggedIn {
        /// The login's handle.
        handle: Handle,
        /// How.
        method: AuthMethod,
    },
    /// The answer to STAT.
    Stat {
        /// The command's handle.
        handle: Handle,
        /// Count and size.
        stat: MaildropStat,
    },
    /// The answer to LIST (all messages, or the one asked for).
    List {
        /// The command's handle.
        handle: Handle,
        /// The entries, in the server's order.
        entries: Vec<ScanEntry>,
    },
    /// The answer to UIDL (all messages, or the one asked for).
    Uidl {
        /// The command's handle.
        handle: Handle,
        /// The entries, in the server's order.
        entries: Vec<UidEntry>,
    },
    /// The next piece of a RETR or TOP answer, dot-unstuffed. Pieces arrive in order and are
    /// never buffered whole inside the core.
    MessageData {
        /// The command's handle.
        handle: Handle,
        /// The bytes.
        data: Vec<u8>,
    },
    /// A RETR or TOP answer is complete.
    MessageEnd {
        /// The command's handle.
        handle: Handle,
        /// Total bytes delivered in [`Event::MessageData`] for it.
        size: u64,
    },
    /// The answer to LANG without argument: tags and descriptions.
    Languages {
        /// The command's handle.
        handle: Handle,
        /// (tag, description) pairs.
        languages: Vec<(String, String)>,
    },
    /// A command without a more specific event (DELE, NOOP, RSET, UTF8, LANG tag) succeeded.
    Done {
        /// The command's handle.
        handle: Handle,
        /// What the server said.
        reply: ServerReply,
    },
    /// A command failed; the session goes on.
    Failed {
        /// The command's handle.
        handle: Handle,
        /// Why.
        error: CommandError,
    },
    /// QUIT succeeded: in the TRANSACTION state this means the messages marked for deletion
    /// are gone (`committed`). The connection is finished.
    Closed {
        /// The QUIT command's handle.
        handle: Handle,
        /// True when the server entered the UPDATE state and confirmed it.
        committed: bool,
    },
}
