//! Which message of a session is which stored record, before any sync of that session: what
//! the inbox needs to show kept mail at once, from the store, instead of asking the server.
//!
//! The answer comes from the same rules as a sync (it runs a [`SyncRun`] on a copy of the
//! records and never writes anything): a message is a stored record when this session's UIDL
//! names that record's message, its LIST size is the record's, and its UIDL is neither listed
//! twice nor reused (a reused UIDL's old record is off the server and its new mail has its own
//! key). Where the caller has the message's header section, a record with a fingerprint must
//! match it; with headers, a changed size or a returning UIDL is settled by fingerprint, and a
//! message whose UIDL changed (server migration) is found by it.

use crate::error::SyncError;
use crate::headers::{fingerprint, parse_summary};
use crate::record::{KnownRecord, Policy, Stored};
use crate::run::{ListingIn, ScanIn, SyncOptions, SyncRun, UidIn};
use serde::Serialize;

/// One message of the session found in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Identified {
    /// Message number in this session.
    pub msg: u32,
    /// The store key of its record (its summary and bytes are under this key).
    pub key: String,
    /// Its UIDL in this session.
    pub uid: Option<String>,
    /// How much of it the store holds (`Headers` or `Full`).
    pub stored: Stored,
}

/// What the caller has of a session and its store.
#[derive(Debug, Clone, Default)]
pub struct IdentifyIn<'a> {
    /// This session's UIDL answer.
    pub uidl: Vec<UidIn>,
    /// This session's LIST answer.
    pub list: Vec<ScanIn>,
    /// Every record the store has for the account.
    pub known: Vec<KnownRecord>,
    /// Header sections (`TOP n 0`) the caller already has, by message number.
    pub headers: Vec<(u32, &'a [u8])>,
}

/// The messages of this session that are records of the store, by message number. Messages
/// not listed are new, or their identity needs the server (their headers); a malformed listing
/// is an error, as for [`SyncRun::listing`].
pub fn identify(input: IdentifyIn<'_>) -> Result<Vec<Identified>, SyncError> {
    // Deletion state is not identity: a pending deletion would only make the run ask for the
    // headers first (before deleting), which matters for a DELE, not for showing the message.
    let known = input
        .known
        .into_iter()
        .map(|mut r| {
            r.delete_pending = false;
            r
        })
        .collect();
    let mut run = SyncRun::new(SyncOptions {
        account: String::new(),
        policy: Policy::default(),
        known,
        now_ms: 0,
        download_and_delete_without_uidl: false,
    })?;
    let sizes: std::collections::BTreeMap<u32, u64> =
        input.list.iter().map(|s| (s.msg, s.size)).collect();
    run.listing(ListingIn {
        uidl_advertised: true,
        uidl: Some(input.uidl),
        uidl_error: None,
        list: input.list,
    })?;
    // Headers settle what UIDL and size alone cannot; for the rest they are a second check.
    let mut check = std::collections::BTreeMap::new();
    for &(msg, raw) in &input.headers {
        if run.headers_decide(msg) {
            run.headers(msg, Some(raw))?;
        } else if let Some(&size) = sizes.get(&msg) {
            check.insert(msg, fingerprint(&parse_summary(raw), size));
        }
    }
    Ok(run
        .established()
        .filter(|(_, _, r)| r.stored != Stored::None && !r.local_deleted)
        .filter(|(msg, _, r)| match (check.get(msg), &r.fingerprint) {
            // The same UIDL and size, but other headers: the UIDL was reused.
            (Some(seen), Some(f)) => seen.as_ref() == Some(f),
            _ => true,
        })
        .map(|(msg, uid, r)| Identified {
            msg,
            key: r.key.clone(),
            uid: uid.map(str::to_owned),
            stored: r.stored,
        })
        .collect())
}
