//! Never lose mail: the decisions of a POP3 sync, and archives.
//!
//! [`SyncRun`] is a sans-IO state machine for one POP3 session of one account. The caller (the
//! browser's JS orchestrator, or a native driver in the tests) runs the commands and feeds the
//! answers in; the run says what to fetch and what may be deleted, and keeps the per-message
//! records (UIDL, first seen, stored or not, checksum, pending deletion) that the caller
//! persists. No IO, no clock: time comes in as unix milliseconds.
//!
//! The safety rules it enforces (docs/js-api.md, "Sync and export"):
//! - message numbers are per session and always come from this session's listing;
//! - a message may be deleted only when its full body is in the caller's store, confirmed with
//!   its sha256 ([`SyncRun::stored`]); the proof is a value only this crate can make;
//! - deletions acknowledged by the server stay pending until QUIT succeeds;
//! - UIDL failure, missing UIDL, mass vanishing of UIDLs and reused UIDLs never lead to a
//!   deletion of mail that is not stored.
//!
//! [`export`] writes and reads mboxrd files and zips of `.eml` files, keeping the UIDL in an
//! `X-POP3-UIDL:` header.

mod error;
pub mod export;
mod headers;
mod record;
mod run;

pub use error::SyncError;
pub use headers::{Summary, fingerprint, parse_summary, sha256_hex};
pub use record::{KnownRecord, Mode, Policy, Stored};
pub use run::{
    Blocked, Deletion, DeletionReason, HeadersResult, ListingIn, Plan, PlanEntry, QuitResult,
    ScanIn, Status, StoredResult, SyncOptions, SyncRun, UidIn, Warning,
};
