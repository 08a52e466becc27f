//! Every error code the JavaScript API can reject with (docs/js-api.md, "Errors"), each with
//! its group. `pop3-web` exports [`Code::ALL`] as `errorCodes()`, so the UI derives its lists
//! (e.g. the certificate problems) from here instead of copying strings.
//!
//! Only codes something emits are listed: the bridge's answer codes (passed on by `pop3-web`),
//! the client's own, the MIME reader's (`pop3-mime-web`) and the sync's (`pop3-sync`). A native
//! test (tests/js_api_docs.rs) keeps docs/js-api.md's table and this list identical.

use std::fmt;

use crate::wire::ErrorCode;

/// What a code is about, for a UI that treats a whole group alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    /// The caller passed something malformed.
    Argument,
    /// The bridge could not be used (unreachable, or it could not understand the client).
    Bridge,
    /// The bridge's policy refused the target or the token.
    Policy,
    /// The bridge could not reach the mail server.
    Network,
    /// TLS to the mail server failed for a reason other than the certificate.
    Tls,
    /// The mail server's certificate was refused.
    Certificate,
    /// STARTTLS (STLS) failed; the session never continues in plaintext.
    Stls,
    /// Logging in failed.
    Login,
    /// The server refused or reported a problem.
    Server,
    /// The connection to the server timed out, closed, or broke the protocol.
    Connection,
    /// The session's own state: cancelled, not open, over a limit.
    Session,
    /// Reading a message (`pop3-mime`).
    Mime,
    /// The sync state machine (`SyncRun`).
    Sync,
    /// Exporting or importing an archive.
    Archive,
}

impl Group {
    /// The name JavaScript sees, e.g. `"certificate"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Group::Argument => "argument",
            Group::Bridge => "bridge",
            Group::Policy => "policy",
            Group::Network => "network",
            Group::Tls => "tls",
            Group::Certificate => "certificate",
            Group::Stls => "stls",
            Group::Login => "login",
            Group::Server => "server",
            Group::Connection => "connection",
            Group::Session => "session",
            Group::Mime => "mime",
            Group::Sync => "sync",
            Group::Archive => "archive",
        }
    }
}

/// A code a JavaScript API call can reject with (`error.code` of a `Pop3Error`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// The bridge refused the connection with this answer code (only codes for which
    /// [`ErrorCode::in_answer`] holds; [`Code::from_answer`] makes sure).
    Bridge(ErrorCode),
    /// The options are malformed.
    BadOptions,
    /// An argument is out of range (e.g. message number 0).
    BadArgument,
    /// No WebSocket to the bridge.
    BridgeUnreachable,
    /// The bridge refused without a code this client knows.
    BridgeError,
    /// Wrong user name, password or token (also `-ERR [AUTH]`).
    AuthFailed,
    /// The mailbox is locked by another session (RFC 2449 `[IN-USE]`).
    InUse,
    /// Logged in too soon after the last time (`[LOGIN-DELAY]`).
    LoginDelay,
    /// The server has a temporary problem (RFC 3206 `[SYS/TEMP]`).
    SysTemp,
    /// The server has a permanent problem (RFC 3206 `[SYS/PERM]`).
    SysPerm,
    /// Every login method offered would reveal the secret on an unencrypted connection,
    /// and the caller did not allow that (`allowInsecure`).
    CleartextRefused,
    /// The server offers no login method the caller's settings allow.
    NoAcceptableMethod,
    /// The server claimed success without proving it knows the password (SCRAM).
    ServerImpostor,
    /// The greeting was `-ERR`.
    ServerRefused,
    /// A command got `-ERR`.
    ServerError,
    /// A message exceeded the size limit.
    TooLarge,
    /// QUIT got `-ERR`: nothing was deleted.
    QuitFailed,
    /// The connection to the server timed out.
    Timeout,
    /// The connection closed unexpectedly, or the session was closed.
    Closed,
    /// The server broke the protocol.
    Protocol,
    /// The caller's `signal` was aborted.
    Cancelled,
    /// A command on a session that is not (or no longer) open.
    NotLoggedIn,
    /// The message is larger than the reader's limit.
    MimeLimit,
    /// The bytes are not a mail message (no header lines).
    MimeInvalid,
    /// `partBytes` was given an id that is not (or, over a limit, no longer) listed.
    MimePartNotFound,
    /// The sync policy is malformed.
    BadPolicy,
    /// The listing is malformed (message 0, a number listed twice, too many entries).
    BadListing,
    /// A `SyncRun` method was called in the wrong phase, or on a blocked run; or an archive
    /// writer's calls came out of order.
    SyncOrder,
    /// The message number is not in this session's listing.
    UnknownMessage,
    /// A checksum is not 64 hexadecimal digits.
    BadSha256,
    /// The message may not be deleted (not confirmed stored, not wanted by the policy, or
    /// deletions are off for this run).
    NotDeletable,
    /// The call does not fit the message in its current state.
    SyncState,
    /// A UIDL that cannot go into a header line (spaces or control characters).
    BadUid,
    /// An import that is neither a zip nor an mbox file.
    ArchiveUnknown,
    /// The archive is damaged (truncated, bad offsets, CRC mismatch).
    ArchiveCorrupt,
    /// A zip feature the reader does not have (compression, encryption, zip64).
    ArchiveUnsupported,
    /// Too many messages, or too big for a zip without zip64.
    ArchiveTooLarge,
}

impl Code {
    /// Every code, in the order of docs/js-api.md's table.
    pub const ALL: &'static [Code] = &[
        Code::BadOptions,
        Code::BadArgument,
        Code::BridgeUnreachable,
        Code::BridgeError,
        Code::Bridge(ErrorCode::BadRequest),
        Code::Bridge(ErrorCode::ProtocolViolation),
        Code::Bridge(ErrorCode::HandshakeTimeout),
        Code::Bridge(ErrorCode::ShuttingDown),
        Code::Bridge(ErrorCode::TargetRefused),
        Code::Bridge(ErrorCode::PortRefused),
        Code::Bridge(ErrorCode::PlaintextRefused),
        Code::Bridge(ErrorCode::RelayOnly),
        Code::Bridge(ErrorCode::TokenInvalid),
        Code::Bridge(ErrorCode::TokenExpired),
        Code::Bridge(ErrorCode::ResolveFailed),
        Code::Bridge(ErrorCode::ConnectFailed),
        Code::Bridge(ErrorCode::ConnectTimeout),
        Code::Bridge(ErrorCode::TlsHandshake),
        Code::Bridge(ErrorCode::TlsTimeout),
        Code::Bridge(ErrorCode::CertExpired),
        Code::Bridge(ErrorCode::CertNameMismatch),
        Code::Bridge(ErrorCode::CertUnknownIssuer),
        Code::Bridge(ErrorCode::CertInvalid),
        Code::Bridge(ErrorCode::StlsRefused),
        Code::Bridge(ErrorCode::StlsInjection),
        Code::Bridge(ErrorCode::StlsTimeout),
        Code::AuthFailed,
        Code::CleartextRefused,
        Code::NoAcceptableMethod,
        Code::ServerImpostor,
        Code::InUse,
        Code::LoginDelay,
        Code::SysTemp,
        Code::SysPerm,
        Code::ServerRefused,
        Code::ServerError,
        Code::QuitFailed,
        Code::Timeout,
        Code::Closed,
        Code::Protocol,
        Code::Cancelled,
        Code::NotLoggedIn,
        Code::TooLarge,
        Code::MimeLimit,
        Code::MimeInvalid,
        Code::MimePartNotFound,
        Code::BadPolicy,
        Code::BadListing,
        Code::SyncOrder,
        Code::UnknownMessage,
        Code::BadSha256,
        Code::NotDeletable,
        Code::SyncState,
        Code::BadUid,
        Code::ArchiveUnknown,
        Code::ArchiveCorrupt,
        Code::ArchiveUnsupported,
        Code::ArchiveTooLarge,
    ];

    /// The JS code of a bridge refusal: its answer code, or `bridge_error` for one that is
    /// missing, unknown to this version, or not an answer code.
    pub fn from_answer(code: Option<ErrorCode>) -> Code {
        match code {
            Some(c) if c.in_answer() => Code::Bridge(c),
            _ => Code::BridgeError,
        }
    }

    /// The stable string JavaScript sees as `error.code`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Bridge(c) => c.as_str(),
            Code::BadOptions => "bad_options",
            Code::BadArgument => "bad_argument",
            Code::BridgeUnreachable => "bridge_unreachable",
            Code::BridgeError => "bridge_error",
            Code::AuthFailed => "auth_failed",
            Code::InUse => "in_use",
            Code::LoginDelay => "login_delay",
            Code::SysTemp => "sys_temp",
            Code::SysPerm => "sys_perm",
            Code::CleartextRefused => "cleartext_refused",
            Code::NoAcceptableMethod => "no_acceptable_method",
            Code::ServerImpostor => "server_impostor",
            Code::ServerRefused => "server_refused",
            Code::ServerError => "server_error",
            Code::TooLarge => "too_large",
            Code::QuitFailed => "quit_failed",
            Code::Timeout => "timeout",
            Code::Closed => "closed",
            Code::Protocol => "protocol",
            Code::Cancelled => "cancelled",
            Code::NotLoggedIn => "not_logged_in",
            Code::MimeLimit => "mime_limit",
            Code::MimeInvalid => "mime_invalid",
            Code::MimePartNotFound => "mime_part_not_found",
            Code::BadPolicy => "bad_policy",
            Code::BadListing => "bad_listing",
            Code::SyncOrder => "sync_order",
            Code::UnknownMessage => "unknown_message",
            Code::BadSha256 => "bad_sha256",
            Code::NotDeletable => "not_deletable",
            Code::SyncState => "sync_state",
            Code::BadUid => "bad_uid",
            Code::ArchiveUnknown => "archive_unknown",
            Code::ArchiveCorrupt => "archive_corrupt",
            Code::ArchiveUnsupported => "archive_unsupported",
            Code::ArchiveTooLarge => "archive_too_large",
        }
    }

    /// The code named `name`, if the JS API has one.
    pub fn from_name(name: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| c.as_str() == name)
    }

    /// What the code is about.
    pub fn group(self) -> Group {
        use ErrorCode as B;
        match self {
            Code::Bridge(c) => match c {
                B::BadRequest | B::ProtocolViolation | B::HandshakeTimeout | B::ShuttingDown => {
                    Group::Bridge
                }
                B::TargetRefused
                | B::PortRefused
                | B::PlaintextRefused
                | B::RelayOnly
                | B::TokenInvalid
                | B::TokenExpired => Group::Policy,
                B::ResolveFailed | B::ConnectFailed | B::ConnectTimeout => Group::Network,
                B::TlsHandshake | B::TlsTimeout => Group::Tls,
                B::CertInvalid | B::CertExpired | B::CertNameMismatch | B::CertUnknownIssuer => {
                    Group::Certificate
                }
                B::StlsRefused | B::StlsInjection | B::StlsTimeout => Group::Stls,
                // Never in an answer (see `from_answer`); what they mean is a broken connection.
                B::IdleTimeout | B::UpstreamError => Group::Connection,
            },
            Code::BadOptions | Code::BadArgument => Group::Argument,
            Code::BridgeUnreachable | Code::BridgeError => Group::Bridge,
            Code::AuthFailed
            | Code::CleartextRefused
            | Code::NoAcceptableMethod
            | Code::ServerImpostor => Group::Login,
            Code::InUse
            | Code::LoginDelay
            | Code::SysTemp
            | Code::SysPerm
            | Code::ServerRefused
            | Code::ServerError
            | Code::QuitFailed => Group::Server,
            Code::Timeout | Code::Closed | Code::Protocol => Group::Connection,
            Code::Cancelled | Code::NotLoggedIn | Code::TooLarge => Group::Session,
            Code::MimeLimit | Code::MimeInvalid | Code::MimePartNotFound => Group::Mime,
            Code::BadPolicy
            | Code::BadListing
            | Code::SyncOrder
            | Code::UnknownMessage
            | Code::BadSha256
            | Code::NotDeletable
            | Code::SyncState => Group::Sync,
            Code::BadUid
            | Code::ArchiveUnknown
            | Code::ArchiveCorrupt
            | Code::ArchiveUnsupported
            | Code::ArchiveTooLarge => Group::Archive,
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `code == "sync_order"` reads well in tests.
impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<str> for Code {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_round_trip() {
        let mut seen = HashSet::new();
        for &c in Code::ALL {
            assert!(seen.insert(c.as_str()), "{c} twice");
            assert_eq!(Code::from_name(c.as_str()), Some(c));
        }
    }

    #[test]
    fn every_answer_code_is_listed_and_nothing_else_of_the_bridge() {
        for b in ErrorCode::ALL {
            let listed = Code::ALL.contains(&Code::Bridge(b));
            assert_eq!(listed, b.in_answer(), "{}", b.as_str());
            let expect = if b.in_answer() {
                Code::Bridge(b)
            } else {
                Code::BridgeError
            };
            assert_eq!(Code::from_answer(Some(b)), expect);
        }
        assert_eq!(Code::from_answer(None), Code::BridgeError);
    }

    #[test]
    fn certificate_group_is_the_cert_codes() {
        let certs: Vec<&str> = Code::ALL
            .iter()
            .filter(|c| c.group() == Group::Certificate)
            .map(|c| c.as_str())
            .collect();
        assert_eq!(
            certs,
            [
                "cert_expired",
                "cert_name_mismatch",
                "cert_unknown_issuer",
                "cert_invalid"
            ]
        );
    }
}
