//! Typed errors of the sync state machine. Each has a stable code for JS.

use pop3_bridge_protocol::api::Code;

/// A call the run cannot accept. The run's state is unchanged when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    /// The policy is malformed (e.g. keep-days without a number of days).
    #[error("invalid policy: {0}")]
    BadPolicy(String),
    /// The listing is malformed (message number 0, a number listed twice, too many entries).
    #[error("invalid listing: {0}")]
    BadListing(String),
    /// A method was called in the wrong phase, e.g. `headers` before `listing`.
    #[error("{0}")]
    Order(&'static str),
    /// The message number is not in this session's listing.
    #[error("message {0} is not in this session's listing")]
    UnknownMessage(u32),
    /// The checksum is not 64 hexadecimal digits.
    #[error("a sha256 must be 64 hexadecimal digits")]
    BadSha256,
    /// The message may not be deleted (not confirmed stored, not wanted by the policy, or
    /// deletions are disabled for this run).
    #[error("message {0} may not be deleted: {1}")]
    NotDeletable(u32, &'static str),
    /// The call does not apply to this message in its current state.
    #[error("message {0}: {1}")]
    NotApplicable(u32, &'static str),
}

impl SyncError {
    /// The stable code JS sees as `error.code` (the JS API's one list of codes, group `sync`).
    pub fn code(&self) -> Code {
        match self {
            SyncError::BadPolicy(_) => Code::BadPolicy,
            SyncError::BadListing(_) => Code::BadListing,
            SyncError::Order(_) => Code::SyncOrder,
            SyncError::UnknownMessage(_) => Code::UnknownMessage,
            SyncError::BadSha256 => Code::BadSha256,
            SyncError::NotDeletable(..) => Code::NotDeletable,
            SyncError::NotApplicable(..) => Code::SyncState,
        }
    }
}
