//! Typed errors of the sync state machine. Each has a stable code for JS.

/// A call the run cannot accept. The run's state is unchanged when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    /// The policy is malformed (e.g. keep-days without a number of days).
    #[error("invalid policy: {0}")]
    BadPolicy(String),
    /// A known record is malformed or duplicates another one.
    #[error("invalid known record: {0}")]
    BadRecord(String),
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
    /// The stable code JS sees as `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            SyncError::BadPolicy(_) => "bad_policy",
            SyncError::BadRecord(_) => "bad_record",
            SyncError::BadListing(_) => "bad_listing",
            SyncError::Order(_) => "sync_order",
            SyncError::UnknownMessage(_) => "unknown_message",
            SyncError::BadSha256 => "bad_sha256",
            SyncError::NotDeletable(..) => "not_deletable",
            SyncError::NotApplicable(..) => "sync_state",
        }
    }
}
