//! A sans-IO POP3 client engine.
//!
//! No sockets, no async runtime, no clock: the caller moves bytes and time in and out.
//! It speaks RFC 1939 (POP3), RFC 2449 (CAPA, PIPELINING, response codes), RFC 2595 (STLS, with
//! the upgrade point handed to the layer beneath), RFC 3206 (response codes), RFC 5034 (SASL:
//! SCRAM-SHA-256/1, CRAM-MD5, PLAIN, LOGIN, OAUTHBEARER, XOAUTH2) and RFC 6856 (UTF8, LANG).
//!
//! # Driving a [`Client`]
//!
//! ```no_run
//! # use pop3_proto::{Client, Options, Event, Login};
//! # use web_time::Instant;
//! # fn send(_: &[u8]) {} fn recv() -> Vec<u8> { vec![] }
//! let mut client = Client::new(Options::implicit_tls(), Instant::now());
//! loop {
//!     // 1. Send whatever the client wants sent.
//!     while let Some(bytes) = client.poll_transmit(Instant::now()) { send(&bytes); }
//!     // 2. React to what happened.
//!     while let Some(event) = client.poll_event() {
//!         if let Event::Greeting(_) = event {
//!             let nonce = vec![7u8; 32]; // use real randomness
//!             client.authorization().unwrap().login(Login::password("u", "p", nonce)).unwrap();
//!         }
//!     }
//!     // 3. Wait for bytes or for `client.poll_timeout()`, then feed what came.
//!     client.feed(&recv(), Instant::now()).unwrap();
//! #   break;
//! }
//! ```
//!
//! Every input (`feed`, `handle_timeout`, `handle_close`, `tls_established`, a new command)
//! may produce output: drain `poll_transmit` and `poll_event` after each. Time must not go
//! backwards. Server `-ERR` answers are events ([`Event::Failed`]); an `Err` from `feed` means
//! the connection is unusable ([`ConnectionError`]) and must be closed.

#![warn(missing_docs, missing_debug_implementations)]

mod client;
mod codec;
mod error;
mod event;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod options;
mod sasl;
mod secret;
// A namespace of its own: the one rule for text we show but did not write, used by every
// crate that displays untrusted text.
pub mod text;
mod types;

pub use client::{Authorization, Client, Login, SessionState, Transaction};
pub use codec::capa::{Capabilities, Expire};
pub use codec::greeting::Greeting;
pub use codec::multiline::{Unstuffer, stuff};
pub use codec::status::{RespCode, ServerReply, is_ok_line};
pub use error::{AuthMethod, CommandError, ConnectionError, LoginError, UsageError};
pub use event::Event;
pub use options::{Options, Start};
pub use sasl::{Credentials, Mechanism};
pub use secret::Secret;
pub use types::{Handle, MaildropStat, MsgNum, ScanEntry, Uid, UidEntry};
pub use web_time::Instant;
