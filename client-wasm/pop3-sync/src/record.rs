//! What the caller's store knows about each message of an account, and the account's policy.

use crate::error::SyncError;
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

/// A message's SHA-256 checksum: 64 hexadecimal digits, kept lower-case. Only a valid one can
/// exist, so a value of this type never needs checking again.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256(String);

impl Sha256 {
    /// The checksum of `bytes`.
    pub fn of(bytes: &[u8]) -> Sha256 {
        let mut h = Sha256Hasher::default();
        h.update(bytes);
        h.finish()
    }

    /// A checksum given as text (from the caller's store): 64 hexadecimal digits, either case.
    pub fn parse(hex: &str) -> Result<Sha256, SyncError> {
        crate::headers::normalize_sha256(hex)
            .map(Sha256)
            .ok_or(SyncError::BadSha256)
    }

    /// Lower-case hex.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The store key of a message fetched without UIDL: its checksum is its identity. The one
    /// definition of that key (`sha256:<hex>`); JavaScript never builds it.
    pub fn no_uidl_key(&self) -> String {
        no_uidl_key(&self.0)
    }
}

/// A [`Sha256`] taken piece by piece: for a message too big to hold whole, hashed as its
/// pieces arrive (a streamed download) and equal to [`Sha256::of`] the pieces joined.
#[derive(Debug, Clone, Default)]
pub struct Sha256Hasher(sha2::Sha256);

impl Sha256Hasher {
    /// Adds the next piece.
    pub fn update(&mut self, bytes: &[u8]) {
        use sha2::Digest;
        self.0.update(bytes);
    }

    /// The checksum of every piece given, in order.
    pub fn finish(self) -> Sha256 {
        use sha2::Digest;
        Sha256(crate::headers::hex(&self.0.finalize()))
    }
}

/// `sha256:<hex>`, for a checksum already known to be valid (see [`Sha256::no_uidl_key`]).
pub(crate) fn no_uidl_key(hex: &str) -> String {
    format!("sha256:{hex}")
}

impl std::fmt::Display for Sha256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Sha256 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Sha256 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Sha256, D::Error> {
        let s = String::deserialize(d)?;
        Sha256::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// What the caller committed durably for a message, told to [`crate::SyncRun::stored`] only
/// after the commit resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Committed {
    /// The header section only (size-limited, or the body is still to come). Never makes a
    /// message deletable.
    HeadersOnly,
    /// The whole message, with the checksum of the committed bytes.
    Full {
        /// Checksum of the bytes the store holds.
        sha256: Sha256,
    },
}

impl Committed {
    /// The record level this commit reaches.
    pub fn level(&self) -> Stored {
        match self {
            Committed::HeadersOnly => Stored::Headers,
            Committed::Full { .. } => Stored::Full,
        }
    }
}

/// The record the caller writes in the same transaction as a message's bytes: the run's
/// identity of the message (key, UIDL, size, fingerprint, first seen) and what the bytes are.
/// Flags the run keeps (pending or local deletion, gone from the server) are not part of it:
/// the store keeps its own until the run's `known()` is persisted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CommitRecord {
    /// The store key to write under.
    pub key: String,
    /// The server's UIDL, `None` for mail fetched without UIDL.
    pub uid: Option<String>,
    /// LIST size.
    pub size: u64,
    /// Message-ID + Date + size digest, when known.
    pub fingerprint: Option<String>,
    /// When a session first listed it (unix ms).
    pub first_seen_ms: i64,
    /// `Headers` or `Full`.
    pub stored: Stored,
    /// The checksum of the full message; `None` for headers only.
    pub sha256: Option<Sha256>,
}
