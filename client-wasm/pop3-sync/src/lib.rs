//! Never lose mail: the decisions of a POP3 sync, and archives.
//!
//! [`SyncRun`] is a sans-IO state machine for one POP3 session of one account. The caller (the
//! browser's JS orchestrator, or a native driver in the tests) runs the commands and feeds the
//! answers in; the run says what to fetch and what may be deleted, and keeps the per-message
//! records (UIDL, first seen, stored or not, checksum, pending deletion) that the caller
//! persists. No IO, no clock: time comes in as unix milliseconds.
//!
//! **JavaScript never decides identity, deletability or what fits.** Every decision of a sync
//! is made here, and tested natively against scripted servers; `web/sync.js` only moves bytes
//! between the session, the run and the store, and the UI only draws. In particular:
//! - identity: which store key a message has ([`SyncRun::record_for`]; `sha256:<hex>` without
//!   UIDL, [`Sha256::no_uidl_key`], defined once), and which message of a session is which
//!   stored record before any sync ([`identify`]);
//! - the record written beside a message's bytes ([`CommitRecord`], from
//!   [`SyncRun::record_for`] and [`HeadersResult::record`]);
//! - what fits the browser's storage estimate ([`SyncRun::bodies_within`]);
//! - what may be deleted on the server ([`SyncRun::deletions`]) and which local copies go after
//!   QUIT ([`QuitResult::delete_local`]).
//!
//! The safety rules it enforces (docs/js-api.md, "Sync and export"):
//! - message numbers are per session and always come from this session's listing;
//! - a message may be deleted only when its full body is in the caller's store, confirmed with
//!   its sha256 ([`SyncRun::stored`] with [`Committed::Full`]); the proof is a value only this
//!   crate can make;
//! - deletions acknowledged by the server stay pending until QUIT succeeds;
//! - UIDL failure, missing UIDL, mass vanishing of UIDLs and reused UIDLs never lead to a
//!   deletion of mail that is not stored.
//!
//! [`export`] writes and reads mboxrd files and zips of `.eml` files, keeping the UIDL in an
//! `X-POP3-UIDL:` header.

#![warn(missing_docs, missing_debug_implementations)]

mod error;
// A namespace of its own: `export::mbox`, `export::zip`, and the import that reads either.
pub mod export;
mod headers;
mod identify;
mod record;
mod run;

pub use error::SyncError;
pub use headers::{Summary, fingerprint, parse_summary, sha256_hex};
pub use identify::{Identified, IdentifyIn, identify};
pub use record::{
    CommitRecord, Committed, KnownRecord, Mode, Policy, Sha256, Sha256Hasher, Stored,
};
pub use run::{
    Blocked, BodiesToFetch, Deletion, DeletionReason, HeadersResult, ListingIn, Plan, PlanEntry,
    QuitResult, SPACE_MARGIN, ScanIn, Status, StorageEstimate, StoredResult, SyncOptions, SyncRun,
    UidIn, Warning,
};
