//! Errors, by who is at fault: the connection (fatal), one command (the session goes on), or the
//! caller (nothing was sent).

use crate::codec::status::ServerReply;
use crate::sasl::{Mechanism, SaslError};

/// The connection can no longer be used: the server broke the protocol, went silent, or closed.
/// The driver must close the transport. Messages marked for deletion stay on the server
/// (RFC 1939 §6: deletions happen only after a successful QUIT).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionError {
    /// The server sent bytes while no response was due. Either it is broken or someone is
    /// injecting data into the connection.
    #[error("the server sent data that no command asked for")]
    UnsolicitedData,
    /// A status or listing line exceeded the limit; a real server never needs this much.
    #[error("the server sent a line longer than {limit} bytes")]
    LineTooLong {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// A line did not have the expected form.
    #[error("the server sent a malformed {expected}: {excerpt:?}")]
    Malformed {
        /// What the line should have been.
        expected: &'static str,
        /// The first bytes of the line, sanitized, for the diagnostics view.
        excerpt: String,
    },
    /// The greeting was `-ERR`: the server refuses service.
    #[error("the server refused the connection: {0}")]
    GreetingRejected(ServerReply),
    /// Bytes followed the `+OK` to STLS before TLS was set up: a response-injection attack
    /// (or a broken server); nothing received in plaintext may be trusted after TLS.
    #[error(
        "data arrived after the server agreed to start TLS, before the handshake (possible injection attack)"
    )]
    DataAfterStls,
    /// Plaintext bytes arrived while the driver was doing the TLS handshake.
    #[error("data arrived while TLS was being set up")]
    DataDuringTlsUpgrade,
    /// No answer within the configured time.
    #[error("the server did not answer within {seconds} s while waiting for {waiting_for}")]
    TimedOut {
        /// What was awaited.
        waiting_for: &'static str,
        /// The configured timeout.
        seconds: u64,
    },
    /// The server closed the connection while a response was still due.
    #[error("the server closed the connection unexpectedly")]
    ClosedUnexpectedly,
    /// The server said authentication succeeded without proving it knows the password
    /// (SCRAM's server signature missing): it may be an impostor.
    #[error("the server claimed a successful {} login without proving its identity", .0.name())]
    UnverifiedAuthSuccess(Mechanism),
    /// The connection was already closed or failed; no more input is accepted.
    #[error("the connection is already closed")]
    AlreadyClosed,
}

/// Why a login attempt failed. The session stays in the AUTHORIZATION state: the caller may try
/// again with other credentials or QUIT.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// No login method fits the credentials, the caller's restrictions and the connection's
    /// security. `cleartext_refused` is true when one would have worked but would send the
    /// password (or token) readably over a connection without TLS.
    #[error("no acceptable login method: the server offers {offered:?}{}", if *.cleartext_refused { " (sending the password without encryption was not allowed)" } else { "" })]
    NoAcceptableMethod {
        /// What the server offered (SASL names, plus USER and APOP where available).
        offered: Vec<String>,
        /// A method was skipped only because the connection is not encrypted.
        cleartext_refused: bool,
    },
    /// The server rejected the credentials (or is unavailable: see the response code).
    #[error("the server rejected the login: {reply}")]
    Rejected {
        /// The method tried.
        method: AuthMethod,
        /// What the server said.
        reply: ServerReply,
    },
    /// The SASL exchange went wrong on our side (e.g. the server failed to prove its identity);
    /// the exchange was cancelled.
    #[error("the {} exchange failed: {error}", .mechanism.name())]
    Sasl {
        /// The mechanism.
        mechanism: Mechanism,
        /// What went wrong.
        error: String,
        /// For OAuth: the server's JSON explanation, if it sent one.
        server_error: Option<String>,
    },
}

/// How a login was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// RFC 5034 AUTH with a SASL mechanism.
    Sasl(Mechanism),
    /// RFC 1939 APOP (MD5 challenge-response; weak, only on request).
    Apop,
    /// RFC 1939 USER and PASS (password readable by whoever sees the connection).
    UserPass,
}

impl std::fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthMethod::Sasl(m) => f.write_str(m.name()),
            AuthMethod::Apop => f.write_str("APOP"),
            AuthMethod::UserPass => f.write_str("USER/PASS"),
        }
    }
}

/// Why one command failed; the session goes on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// The server answered `-ERR`.
    #[error("the server said: {0}")]
    Server(ServerReply),
    /// The message was larger than the configured maximum; its bytes were read and dropped.
    #[error("the message is larger than the {limit}-byte limit")]
    TooLarge {
        /// The configured limit.
        limit: u64,
    },
    /// A login failed.
    #[error(transparent)]
    Login(#[from] LoginError),
    /// QUIT got `-ERR`: RFC 1939 says some messages marked for deletion were not removed.
    #[error("the server could not complete the session's deletions: {0}")]
    QuitFailed(ServerReply),
}

/// The caller asked for something the core refuses before sending any byte.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// An argument would break the command line.
    #[error(transparent)]
    Argument(#[from] crate::codec::command::ArgumentError),
    /// SASL could not start (e.g. the nonce is too short).
    #[error("cannot start {}: {error}", .mechanism.name())]
    Sasl {
        /// The mechanism.
        mechanism: Mechanism,
        /// Why.
        error: String,
    },
    /// STLS on a connection that already has TLS.
    #[error("the connection is already encrypted")]
    AlreadySecure,
    /// `tls_established` was called although no STLS upgrade was pending.
    #[error("no TLS upgrade is pending")]
    NotUpgrading,
}

impl From<(Mechanism, SaslError)> for UsageError {
    fn from((mechanism, e): (Mechanism, SaslError)) -> Self {
        UsageError::Sasl {
            mechanism,
            error: e.to_string(),
        }
    }
}
