//! Limits and behaviour switches, each default with its reason.

use std::time::Duration;

/// How the connection begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// A fresh connection (plaintext or implicit TLS): the server sends a greeting first.
    Greeting,
    /// The layer beneath already did STLS (the bridge does this), so no greeting will come and
    /// the connection is encrypted. Nothing from before TLS is known, so APOP is unavailable.
    AfterStls,
}

/// Options for a [`crate::Client`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// How the connection begins.
    pub start: Start,
    /// The transport is already encrypted (implicit TLS on port 995, or [`Start::AfterStls`]).
    pub secure: bool,
    /// Longest status, CAPA, LIST or UIDL line. RFC 2449 allows 512 octets for status lines;
    /// 8 KiB leaves room for verbose servers while bounding memory against hostile ones.
    pub max_line: usize,
    /// Largest message accepted by RETR/TOP, in bytes; a larger one is read and dropped and its
    /// command fails with [`crate::CommandError::TooLarge`]. 256 MiB: well above real mail.
    pub max_message_size: u64,
    /// Use RFC 2449 PIPELINING when the server offers it.
    pub pipelining: bool,
    /// Most commands in flight at once. With small messages the window, not bandwidth, bounds
    /// the speed (window / RTT): 400 fetches 1000 4 KB messages over a 50 ms RTT in under
    /// three round trips of RETRs, where mpop's 100 needs ten.
    pub max_in_flight: usize,
    /// Most command bytes in flight at once: 16 KiB stays below any TCP receive window, so a
    /// server that stops reading while it writes can never deadlock with us (RFC 2449 §6.6).
    pub max_in_flight_bytes: usize,
    /// Ask CAPA after the greeting, after STLS and after login.
    pub auto_capa: bool,
    /// How long to wait for the greeting.
    pub greeting_timeout: Duration,
    /// How long to wait for the next byte of an awaited response (mpop's default is 180 s).
    pub response_timeout: Duration,
    /// Send NOOP after this much idle time in the TRANSACTION state, because some servers
    /// drop idle sessions after about a minute despite RFC 1939's ten (Thunderbird does the
    /// same). `None`: never.
    pub keepalive: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            start: Start::Greeting,
            secure: false,
            max_line: 8 * 1024,
            max_message_size: 256 * 1024 * 1024,
            pipelining: true,
            max_in_flight: 400,
            max_in_flight_bytes: 16 * 1024,
            auto_capa: true,
            greeting_timeout: Duration::from_secs(60),
            response_timeout: Duration::from_secs(180),
            keepalive: None,
        }
    }
}

impl Options {
    /// Options for a connection that the transport already encrypted (port 995).
    pub fn implicit_tls() -> Self {
        Options {
            secure: true,
            ..Options::default()
        }
    }

    /// Options for a connection on which the layer beneath already completed STLS.
    pub fn after_stls() -> Self {
        Options {
            start: Start::AfterStls,
            secure: true,
            ..Options::default()
        }
    }
}
