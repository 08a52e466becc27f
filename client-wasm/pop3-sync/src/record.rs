//! What the caller's store knows about each message of an account, and the account's policy.

use serde::{Deserialize, Serialize};

/// How much of a message the caller's store holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stored {
    /// Nothing yet: the message was listed, its bytes are not committed.
    #[default]
    None,
    /// The header section only (size-limited, or the body is still to come).
    Headers,
    /// The whole message; `sha256` is its checksum.
    Full,
}

/// One message the store knows, persisted between sessions. Keyed by `key`, which never
/// changes: `uid` is the server's current UIDL for it, which may change (server migration,
/// matched by fingerprint) and which a server may reuse for different mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KnownRecord {
    /// The store's key. Missing or empty on input means "same as `uid`". Mail fetched without
    /// UIDL is keyed `sha256:<hex>`; a reused UIDL's new message `<uid>#<n>`.
    #[serde(default)]
    pub key: String,
    /// The server's unique id, `None` for mail fetched without UIDL.
    #[serde(default)]
    pub uid: Option<String>,
    /// Size in octets as LIST reported it.
    pub size: u64,
    /// Message-ID + Date + size digest ([`crate::fingerprint`]), when headers were seen.
    #[serde(default)]
    pub fingerprint: Option<String>,
    /// When a session first listed it (unix ms). keep-days counts from here.
    pub first_seen_ms: i64,
    /// How much of it the store holds.
    #[serde(default)]
    pub stored: Stored,
    /// Lower-case hex sha256 of the stored full message; required for `Full` to count.
    #[serde(default)]
    pub sha256: Option<String>,
    /// The user deleted it locally (mirror-local-deletes deletes it on the server).
    #[serde(default)]
    pub local_deleted: bool,
    /// The server acknowledged DELE but no QUIT confirmed it: retried next session.
    #[serde(default)]
    pub delete_pending: bool,
    /// Not on the server any more (deleted by us, by someone else, or its UIDL vanished).
    #[serde(default)]
    pub server_gone: bool,
}

/// What happens to mail on the server once it is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Never delete (pending deletions from an earlier session are still retried).
    #[default]
    Leave,
    /// Delete every message whose full body is stored.
    DeleteAfterDownload,
    /// Delete stored messages `keep_days` after they were first seen.
    KeepDays,
    /// Delete on the server what the user deleted locally, nothing else.
    MirrorLocalDeletes,
}

/// An account's sync policy. Other fields are ignored: the UI may keep its own settings in
/// the same object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    /// What to delete.
    #[serde(default)]
    pub mode: Mode,
    /// For `keep-days`: days since first seen.
    #[serde(default)]
    pub keep_days: Option<u32>,
    /// Messages bigger than this (octets, LIST size) get headers only.
    #[serde(default)]
    pub size_limit: Option<u64>,
}
