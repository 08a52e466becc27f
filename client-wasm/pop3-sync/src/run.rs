//! One sync of one account over one POP3 session, as a state machine the caller feeds.
//!
//! Phases: created → `listing` → (`headers`, `stored`, `deletions`, `delete_acked`)* → `quit`.
//! Entries are keyed by this session's message numbers and built only from this session's
//! UIDL/LIST answers; the persisted records are keyed by a stable store key and found by UIDL.

use crate::error::SyncError;
use crate::headers::{Summary, fingerprint, parse_summary};
use crate::record::{CommitRecord, Committed, KnownRecord, Mode, Policy, Sha256, Stored};
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// More listing entries than any real maildrop has: a bigger listing is refused rather than
/// letting a hostile server make us allocate without bound.
const MAX_ENTRIES: usize = 1_000_000;
const DAY_MS: i64 = 86_400_000;
/// Mass vanishing needs at least this many known messages on the server before the run...
const MASS_VANISH_MIN_KNOWN: usize = 10;
// ...and more than half of them gone (checked as `vanished * 2 > known`).
/// Bytes kept free on top of what the downloads need: the store's own overhead and other data.
pub const SPACE_MARGIN: u64 = 8 * 1024 * 1024;

/// What a message costs in the store: its size plus a tenth (the store's per-record overhead,
/// the summary and the record beside the bytes).
fn storage_cost(size: u64) -> u64 {
    size.saturating_add(size.div_ceil(10))
}

/// How a run starts: the account's policy and what its store knows.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SyncOptions {
    /// For the caller's bookkeeping; not interpreted.
    #[serde(default)]
    pub account: String,
    /// The account's policy.
    #[serde(default)]
    pub policy: Policy,
    /// Every record the store has for the account.
    #[serde(default)]
    pub known: Vec<KnownRecord>,
    /// Now, unix milliseconds.
    pub now_ms: i64,
    /// The user explicitly chose "download and delete" for a server without UIDL. Ignored when
    /// the server has UIDL. Without it, a server without UIDL gets nothing planned (`no_uidl`).
    #[serde(default)]
    pub download_and_delete_without_uidl: bool,
}

/// One line of this session's UIDL answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UidIn {
    /// Message number in this session.
    pub msg: u32,
    /// Unique id.
    pub uid: String,
}

/// One line of this session's LIST answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanIn {
    /// Message number in this session.
    pub msg: u32,
    /// Octets.
    pub size: u64,
}

/// This session's listing, as the caller got it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListingIn {
    /// CAPA listed UIDL.
    #[serde(default)]
    pub uidl_advertised: bool,
    /// The UIDL answer, `None` when the command failed or was not sent.
    #[serde(default)]
    pub uidl: Option<Vec<UidIn>>,
    /// Why UIDL failed (any text; its presence means failure).
    #[serde(default)]
    pub uidl_error: Option<String>,
    /// The LIST answer.
    pub list: Vec<ScanIn>,
}

/// Something the user should know about this run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// Stable code.
    pub code: &'static str,
    /// Plain-language sentence.
    pub message: String,
    /// How many messages it concerns.
    pub count: usize,
}

/// Why nothing at all is planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Blocked {
    /// `uidl_failed` or `no_uidl`.
    pub code: &'static str,
    /// Plain-language sentence.
    pub message: String,
}

/// What the run thinks of one message of this session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Not in the store yet (or nothing of it committed).
    New,
    /// In the store (possibly headers only).
    Known,
    /// Its UIDL matches a record but something differs: TOP decides.
    Verify,
    /// The server has no UIDL (explicit download-and-delete mode).
    NoUidl,
    /// Nothing is done with it (its UIDL is missing, invalid or listed twice).
    Ignored,
}

/// One message of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanEntry {
    /// Message number in this session.
    pub msg: u32,
    /// Its UIDL.
    pub uid: Option<String>,
    /// The store key of its record: `None` for a no-UIDL message before it is stored, and for
    /// a `verify` message until its headers are in (take the key from `headers()` then).
    pub key: Option<String>,
    /// LIST size.
    pub size: u64,
    /// See [`Status`].
    pub status: Status,
    /// What the store holds of it.
    pub stored: Stored,
}

/// What to do in this session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// Fetch these headers (`TOP n 0`) first, newest first; feed each to `headers`.
    pub headers: Vec<u32>,
    /// Then these bodies, in priority order (newest first). Messages over the size limit are
    /// not here. Call `bodies()` again after the headers: fingerprint matches drop out and
    /// verified messages come in.
    pub bodies: Vec<u32>,
    /// Sum of the LIST sizes of `bodies`.
    pub total_bytes: u64,
    /// Things to tell the user.
    pub warnings: Vec<Warning>,
    /// Set when nothing may be done in this session.
    pub blocked: Option<Blocked>,
    /// UIDLs the store knew on the server that this listing lacks (now `serverGone`).
    pub vanished: Vec<String>,
    /// Most known UIDLs vanished: deletions are disabled in this run.
    pub mass_vanish: bool,
    /// Every message of this session.
    pub entries: Vec<PlanEntry>,
}

/// The answer to `headers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeadersResult {
    /// Its UIDL.
    pub uid: Option<String>,
    /// The store key its headers and body belong under.
    pub key: Option<String>,
    /// Its fingerprint, when it has a Message-ID.
    pub fingerprint: Option<String>,
    /// From, Subject, Date, Message-ID.
    pub summary: Summary,
    /// Its UIDL belonged to a different stored message: it is a new message with a new key.
    pub reused_uid: bool,
    /// It is the stored message with this key (its UIDL changed): nothing to download.
    pub matched_key: Option<String>,
    /// Its body is still to be downloaded in this session.
    pub needs_body: bool,
    /// The record to write with these header bytes, or `None` when they are not to be written
    /// (TOP failed, it is a stored message under a new UIDL, or its full body is already
    /// stored and headers would replace it).
    pub record: Option<CommitRecord>,
}

/// What the browser says about its storage for this site (`navigator.storage.estimate()`), in
/// bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageEstimate {
    /// Everything this site may use.
    pub quota: u64,
    /// What it uses now.
    pub usage: u64,
}

/// The answer to `bodies_within`: the bodies to download now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BodiesToFetch {
    /// Message numbers, in priority order (newest first).
    pub bodies: Vec<u32>,
    /// Sum of their LIST sizes.
    pub total_bytes: u64,
    /// `storage_low` when some bodies do not fit: they stay on the server (and are not
    /// deletable, since they are not stored) until a later sync finds room.
    pub warning: Option<Warning>,
}

/// The answer to `stored`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredResult {
    /// The record's key.
    pub key: String,
    /// Without UIDL: the store already had these exact bytes.
    pub duplicate: bool,
}

/// Why a message is to be deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeletionReason {
    /// A DELE of an earlier session was not confirmed by QUIT.
    Pending,
    /// delete-after-download.
    AfterDownload,
    /// keep-days ran out.
    Expired,
    /// mirror-local-deletes: the user deleted it locally.
    LocalDelete,
    /// The explicit download-and-delete mode for servers without UIDL.
    DownloadAndDelete,
}

/// Proof that a message's full body is in the store with this checksum. Only this module can
/// make one: from `stored(full)` in this run, or from a record whose identity this session
/// established (UIDL and size, or fingerprint).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Confirmed {
    sha256: Sha256,
}

/// A message that may be deleted now. It cannot be built outside this crate: it carries the
/// proof that the message is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Deletion {
    /// Message number in this session: send `DELE msg`.
    pub msg: u32,
    /// Its UIDL.
    pub uid: Option<String>,
    /// Its store key.
    pub key: String,
    /// Why.
    pub reason: DeletionReason,
    /// The stored body's checksum.
    pub sha256: Sha256,
    #[serde(skip)]
    _proof: Confirmed,
}

/// The answer to `quit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QuitResult {
    /// QUIT succeeded.
    pub committed: bool,
    /// Keys now deleted on the server.
    pub deleted: Vec<String>,
    /// Keys whose deletion stays pending for the next session.
    pub pending: Vec<String>,
    /// Keys whose local copy the caller deletes now: the messages the user deleted in this
    /// session, once QUIT made that deletion real. Empty unless `committed`.
    pub delete_local: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VerifyWhy {
    /// LIST size differs from the record's.
    SizeChanged,
    /// The UIDL belonged to a record that had vanished.
    Revived,
    /// A deletion candidate confirmed in an earlier session: its headers must still match.
    BeforeDelete,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Ident {
    Known(String),
    Verify(String, VerifyWhy),
    New(String),
    /// No UIDL; the key once stored.
    Anonymous(Option<String>),
    Ignored,
}

#[derive(Debug, Clone)]
struct Entry {
    msg: u32,
    uid: Option<String>,
    size: u64,
    ident: Ident,
    headers_done: bool,
    reused: bool,
    /// Its UIDL is listed twice in this session: never deleted.
    dup_uid: bool,
    confirmed: Option<Confirmed>,
    /// The server acknowledged DELE for it in this session.
    acked: Option<Deletion>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Created,
    Listed,
    Blocked,
    Finished,
}

/// One sync of one account (see the module docs and docs/js-api.md).
#[derive(Debug, Clone)]
pub struct SyncRun {
    policy: Policy,
    now_ms: i64,
    no_uidl_delete: bool,
    records: BTreeMap<String, KnownRecord>,
    phase: Phase,
    entries: BTreeMap<u32, Entry>,
    mass_vanish: bool,
    undone: bool,
    blocked: Option<Blocked>,
    warnings: Vec<Warning>,
    vanished: Vec<String>,
    /// Records already tied to a message of this session.
    claimed: BTreeSet<String>,
    /// Vanished records with a fingerprint that no message of this session has claimed, by
    /// fingerprint: what a new message may turn out to be.
    candidates: BTreeMap<String, BTreeSet<String>>,
    /// Keys the store should delete (empty records merged into a fingerprint match).
    dropped: Vec<String>,
    /// See `SyncRun::work`. Every walk over `records` or `entries` adds its length, every
    /// per-message call one: a new walk must do so too.
    work: Cell<u64>,
}

fn warn(list: &mut Vec<Warning>, code: &'static str, message: &str, count: usize) {
    if count > 0 {
        list.push(Warning {
            code,
            message: message.to_owned(),
            count,
        });
    }
}

fn confirmed_of(rec: &KnownRecord) -> Option<Confirmed> {
    match (&rec.stored, &rec.sha256) {
        (Stored::Full, Some(s)) => Sha256::parse(s).ok().map(|sha256| Confirmed { sha256 }),
        _ => None,
    }
}

impl SyncRun {
    /// Starts a run. Malformed records are repaired, not refused (one damaged record must not
    /// stop the sync of the rest): a bad checksum is dropped (the message counts as not stored
    /// and is downloaded again), a duplicate key keeps the first record; both are warnings.
    pub fn new(opts: SyncOptions) -> Result<SyncRun, SyncError> {
        if opts.policy.mode == Mode::KeepDays && opts.policy.keep_days.is_none() {
            return Err(SyncError::BadPolicy("keep-days needs keepDays".into()));
        }
        let mut warnings = Vec::new();
        let mut records = BTreeMap::new();
        let (mut bad_sha, mut dup_key, mut no_key) = (0, 0, 0);
        for mut r in opts.known {
            if r.key.is_empty() {
                match &r.uid {
                    Some(u) if !u.is_empty() => r.key = u.clone(),
                    _ => {
                        no_key += 1;
                        continue;
                    }
                }
            }
            if let Some(s) = &r.sha256 {
                match Sha256::parse(s) {
                    Ok(n) => r.sha256 = Some(n.as_str().to_owned()),
                    Err(_) => {
                        bad_sha += 1;
                        r.sha256 = None;
                    }
                }
            }
            if r.uid.as_deref() == Some("") {
                r.uid = None;
            }
            if records.contains_key(&r.key) {
                dup_key += 1;
                continue;
            }
            records.insert(r.key.clone(), r);
        }
        warn(
            &mut warnings,
            "record_bad_sha256",
            "Some stored messages have a damaged checksum; they will be downloaded again.",
            bad_sha,
        );
        warn(
            &mut warnings,
            "record_duplicate",
            "Some stored records were duplicates and were ignored.",
            dup_key,
        );
        warn(
            &mut warnings,
            "record_no_key",
            "Some stored records have neither key nor UIDL and were ignored.",
            no_key,
        );
        Ok(SyncRun {
            policy: opts.policy,
            now_ms: opts.now_ms,
            no_uidl_delete: opts.download_and_delete_without_uidl,
            records,
            phase: Phase::Created,
            entries: BTreeMap::new(),
            mass_vanish: false,
            undone: false,
            blocked: None,
            warnings,
            vanished: Vec::new(),
            claimed: BTreeSet::new(),
            candidates: BTreeMap::new(),
            dropped: Vec::new(),
            work: Cell::new(0),
        })
    }

    fn tick(&self, n: usize) {
        self.work.set(
            self.work
                .get()
                .saturating_add(n.try_into().unwrap_or(u64::MAX)),
        );
    }

    /// Records and entries looked at so far: a measure of work without a clock, for the
    /// tests that bound how it grows with the mailbox.
    #[doc(hidden)]
    pub fn work(&self) -> u64 {
        self.work.get()
    }

    fn within_limit(&self, size: u64) -> bool {
        self.policy.size_limit.is_none_or(|l| size <= l)
    }

    /// Why the policy wants this record deleted in this run, if it does.
    fn wanted(&self, rec: &KnownRecord) -> Option<DeletionReason> {
        if rec.delete_pending {
            return Some(DeletionReason::Pending);
        }
        match self.policy.mode {
            Mode::Leave => None,
            Mode::DeleteAfterDownload => Some(DeletionReason::AfterDownload),
            Mode::KeepDays => {
                let days = i64::from(self.policy.keep_days.unwrap_or(u32::MAX));
                let due = rec
                    .first_seen_ms
                    .saturating_add(days.saturating_mul(DAY_MS));
                (self.now_ms >= due).then_some(DeletionReason::Expired)
            }
            Mode::MirrorLocalDeletes => rec.local_deleted.then_some(DeletionReason::LocalDelete),
        }
    }

    /// A store key for a new message with this UIDL that no record uses yet.
    fn fresh_key(&self, uid: &str) -> String {
        if !self.records.contains_key(uid) {
            return uid.to_owned();
        }
        (1u64..)
            .map(|n| format!("{uid}#{n}"))
            .inspect(|_| self.tick(1))
            .find(|k| !self.records.contains_key(k))
            .unwrap_or_else(|| format!("{uid}#"))
    }

    fn new_record(&mut self, uid: &str, size: u64) -> String {
        let key = self.fresh_key(uid);
        self.records.insert(
            key.clone(),
            KnownRecord {
                key: key.clone(),
                uid: Some(uid.to_owned()),
                size,
                fingerprint: None,
                first_seen_ms: self.now_ms,
                stored: Stored::None,
                sha256: None,
                local_deleted: false,
                delete_pending: false,
                server_gone: false,
            },
        );
        key
    }

    /// Feeds this session's UIDL and LIST answers; returns the plan. Call once.
    pub fn listing(&mut self, input: ListingIn) -> Result<Plan, SyncError> {
        if self.phase != Phase::Created {
            return Err(SyncError::Order("listing() was already called in this run"));
        }
        if input.list.len() > MAX_ENTRIES
            || input.uidl.as_ref().is_some_and(|u| u.len() > MAX_ENTRIES)
        {
            return Err(SyncError::BadListing("too many entries".into()));
        }
        let mut sizes: BTreeMap<u32, u64> = BTreeMap::new();
        self.tick(input.list.len());
        for s in &input.list {
            if s.msg == 0 {
                return Err(SyncError::BadListing("message number 0".into()));
            }
            if sizes.insert(s.msg, s.size).is_some() {
                return Err(SyncError::BadListing(format!(
                    "message {} listed twice",
                    s.msg
                )));
            }
        }
        let uidl = match (input.uidl, input.uidl_error) {
            (Some(u), None) => Some(u),
            _ => None,
        };
        let Some(uidl) = uidl else {
            return Ok(self.listing_without_uidl(input.uidl_advertised, &sizes));
        };
        self.phase = Phase::Listed;

        // msg -> uid from this session's UIDL answer only.
        let mut uid_of: BTreeMap<u32, Option<String>> = BTreeMap::new();
        let (mut unlisted, mut invalid, mut msg_twice) = (0, 0, 0);
        // The UIDL answer, twice; the records, twice (sorted into active and gone, and as
        // candidates); the listing, twice (completeness, entries).
        self.tick(2 * uidl.len() + 2 * self.records.len() + 2 * sizes.len());
        for e in uidl {
            if !sizes.contains_key(&e.msg) {
                unlisted += 1;
                continue;
            }
            let valid = pop3_proto::Uid::new(e.uid.as_bytes()).is_some();
            if !valid {
                invalid += 1;
            }
            match uid_of.entry(e.msg) {
                // Two ids for one message: which one is true is unknowable, so neither.
                std::collections::btree_map::Entry::Occupied(mut o) => {
                    msg_twice += 1;
                    o.insert(None);
                }
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(valid.then_some(e.uid));
                }
            }
        }
        let mut seen_uids: HashMap<String, u32> = HashMap::new();
        let mut dup_uids: BTreeSet<String> = BTreeSet::new();
        for (msg, uid) in &uid_of {
            if let Some(u) = uid {
                // The first message keeps the UIDL; later ones mark it duplicated.
                if seen_uids.contains_key(u) {
                    dup_uids.insert(u.clone());
                } else {
                    seen_uids.insert(u.clone(), *msg);
                }
            }
        }

        // Which known records are on the server, which vanished.
        let mut active: HashMap<String, String> = HashMap::new();
        let mut gone: HashMap<String, String> = HashMap::new();
        for (k, r) in &self.records {
            if let Some(u) = &r.uid {
                let map = if r.server_gone {
                    &mut gone
                } else {
                    &mut active
                };
                map.entry(u.clone()).or_insert_with(|| k.clone());
            }
        }
        let known_on_server = active.len();
        let mut vanished: Vec<String> = active
            .keys()
            .filter(|u| !seen_uids.contains_key(*u))
            .cloned()
            .collect();
        vanished.sort();
        // A listing in which some message has no usable UIDL cannot prove that a known UIDL
        // is gone (it may be that message's): then vanished records keep their state.
        let complete = sizes
            .keys()
            .all(|m| uid_of.get(m).is_some_and(Option::is_some));
        for u in &vanished {
            if let Some(k) = active.remove(u)
                && complete
                && let Some(r) = self.records.get_mut(&k)
            {
                // Gone from the server: a pending DELE has done its work (or someone else
                // deleted it); either way nothing is left to delete.
                r.server_gone = true;
                r.delete_pending = false;
                gone.entry(u.clone()).or_insert(k);
            }
        }
        self.mass_vanish =
            known_on_server >= MASS_VANISH_MIN_KNOWN && vanished.len() * 2 > known_on_server;

        let mut missing = 0;
        for (&msg, &size) in &sizes {
            let uid = uid_of.get(&msg).cloned().flatten();
            let mut entry = Entry {
                msg,
                uid: uid.clone(),
                size,
                ident: Ident::Ignored,
                headers_done: false,
                reused: false,
                dup_uid: false,
                confirmed: None,
                acked: None,
            };
            let Some(uid) = uid else {
                if !uid_of.contains_key(&msg) {
                    missing += 1;
                }
                self.entries.insert(msg, entry);
                continue;
            };
            if dup_uids.contains(&uid) {
                entry.dup_uid = true;
                // Only the first message with a duplicated UIDL is looked at; the others are
                // suppressed, and none of them is ever deleted.
                if seen_uids.get(&uid) != Some(&msg) {
                    self.entries.insert(msg, entry);
                    continue;
                }
            }
            entry.ident = if let Some(k) = active.get(&uid).cloned() {
                let rec = &self.records[&k];
                if rec.stored == Stored::None {
                    // Listed before, nothing committed: still new (and may match by
                    // fingerprint). Nothing of it is stored, so a changed size is just news.
                    if let Some(r) = self.records.get_mut(&k)
                        && r.size != size
                    {
                        // Its fingerprint included the old size.
                        r.size = size;
                        r.fingerprint = None;
                    }
                    Ident::New(k)
                } else if rec.size != size {
                    if rec.fingerprint.is_some() {
                        Ident::Verify(k, VerifyWhy::SizeChanged)
                    } else {
                        // Cannot check: treat as different mail (downloaded again, never deleted
                        // unseen). The old record is off the server under this UIDL.
                        self.retire(&k);
                        entry.reused = true;
                        Ident::New(self.new_record(&uid, size))
                    }
                } else if rec.fingerprint.is_some()
                    && confirmed_of(rec).is_some()
                    && self.wanted(rec).is_some()
                    && !self.mass_vanish
                {
                    // Deleting on the strength of an earlier session: check its headers first.
                    Ident::Verify(k, VerifyWhy::BeforeDelete)
                } else {
                    entry.confirmed = confirmed_of(rec);
                    Ident::Known(k)
                }
            } else if let Some(k) = gone.get(&uid).cloned() {
                if self.records[&k].fingerprint.is_some() {
                    Ident::Verify(k, VerifyWhy::Revived)
                } else {
                    entry.reused = true;
                    Ident::New(self.new_record(&uid, size))
                }
            } else {
                Ident::New(self.new_record(&uid, size))
            };
            if let Ident::Known(k) | Ident::Verify(k, _) | Ident::New(k) = &entry.ident {
                self.claimed.insert(k.clone());
            }
            self.entries.insert(msg, entry);
        }

        let w = &mut self.warnings;
        if self.mass_vanish {
            warn(
                w,
                "uidl_mass_vanish",
                "Most messages the store knew are no longer on the server under their old ids \
                 (a server migration?). Nothing is deleted in this session; new messages are \
                 matched to stored ones by Message-ID, date and size.",
                vanished.len(),
            );
        }
        warn(
            w,
            "uidl_duplicate",
            "The server gave the same unique id to several messages; only the first is \
             fetched and none of them is deleted.",
            dup_uids.len(),
        );
        warn(
            w,
            "uidl_missing",
            "Some messages have no unique id in the server's UIDL answer; they are skipped.",
            missing,
        );
        warn(
            w,
            "uidl_invalid",
            "Some unique ids from the server are malformed; those messages are skipped.",
            invalid + msg_twice,
        );
        warn(
            w,
            "uidl_unlisted",
            "The UIDL answer names messages that LIST does not have.",
            unlisted,
        );
        if complete {
            self.vanished = vanished;
        }
        let keys: Vec<String> = self.records.keys().cloned().collect();
        for k in keys {
            self.add_candidate(&k);
        }
        Ok(self.plan())
    }

    /// The old record's UIDL now names other mail: it is off the server.
    fn retire(&mut self, key: &str) {
        if let Some(r) = self.records.get_mut(key) {
            r.server_gone = true;
            r.delete_pending = false;
        }
    }

    fn listing_without_uidl(&mut self, advertised: bool, sizes: &BTreeMap<u32, u64>) -> Plan {
        self.tick(sizes.len());
        let anonymous = !advertised && self.no_uidl_delete;
        for (&msg, &size) in sizes {
            self.entries.insert(
                msg,
                Entry {
                    msg,
                    uid: None,
                    size,
                    ident: if anonymous {
                        Ident::Anonymous(None)
                    } else {
                        Ident::Ignored
                    },
                    headers_done: false,
                    reused: false,
                    dup_uid: false,
                    confirmed: None,
                    acked: None,
                },
            );
        }
        if anonymous {
            self.phase = Phase::Listed;
            let big = sizes.values().filter(|&&s| !self.within_limit(s)).count();
            warn(
                &mut self.warnings,
                "no_uidl_too_large",
                "Without unique ids, messages over the size limit are left on the server.",
                big,
            );
        } else {
            self.phase = Phase::Blocked;
            self.blocked = Some(if advertised {
                Blocked {
                    code: "uidl_failed",
                    message: "The server announced unique ids (UIDL) but the command failed. \
                              Nothing is downloaded or deleted, so no message is fetched twice \
                              or lost."
                        .into(),
                }
            } else {
                Blocked {
                    code: "no_uidl",
                    message: "This server does not give messages unique ids (UIDL), so this \
                              app cannot tell which messages it already has. Only \"download \
                              and delete\" is possible, if you choose it explicitly."
                        .into(),
                }
            });
        }
        self.plan()
    }

    fn key_of(&self, e: &Entry) -> Option<String> {
        match &e.ident {
            Ident::Known(k) | Ident::Verify(k, _) | Ident::New(k) => Some(k.clone()),
            Ident::Anonymous(k) => k.clone(),
            Ident::Ignored => None,
        }
    }

    /// Fingerprint matching can still spare this message's download.
    fn may_match(&self) -> bool {
        !self.candidates.is_empty()
    }

    fn add_candidate(&mut self, key: &str) {
        self.tick(1);
        if let Some(r) = self.records.get(key)
            && r.server_gone
            && let Some(f) = &r.fingerprint
            && !self.claimed.contains(key)
        {
            self.candidates
                .entry(f.clone())
                .or_default()
                .insert(key.to_owned());
        }
    }

    fn take_candidate(&mut self, fingerprint: &str) -> Option<String> {
        self.tick(1);
        let set = self.candidates.get_mut(fingerprint)?;
        let key = set.pop_first();
        if set.is_empty() {
            self.candidates.remove(fingerprint);
        }
        key
    }

    fn needs_headers(&self, e: &Entry, may_match: bool) -> bool {
        if e.headers_done {
            return false;
        }
        match &e.ident {
            Ident::Verify(..) => true,
            // Headers seen in an earlier session are not fetched again, unless a fingerprint
            // match could still spare the download (then `bodies()` waits for them).
            Ident::New(k) => self
                .records
                .get(k)
                .is_some_and(|r| !r.local_deleted && (r.fingerprint.is_none() || may_match)),
            _ => false,
        }
    }

    fn needs_body(&self, e: &Entry, may_match: bool) -> bool {
        if !self.within_limit(e.size) {
            return false;
        }
        match &e.ident {
            Ident::Anonymous(k) => k.is_none(),
            Ident::New(k) | Ident::Known(k) => {
                let Some(r) = self.records.get(k) else {
                    return false;
                };
                let waiting = matches!(e.ident, Ident::New(_)) && !e.headers_done && may_match;
                !r.local_deleted && confirmed_of(r).is_none() && !waiting
            }
            Ident::Verify(..) | Ident::Ignored => false,
        }
    }

    /// The messages whose bodies are still to be downloaded in this session, newest first.
    pub fn bodies(&self) -> Vec<u32> {
        if self.phase != Phase::Listed {
            return Vec::new();
        }
        let m = self.may_match();
        self.tick(self.entries.len());
        self.entries
            .values()
            .rev()
            .filter(|e| self.needs_body(e, m))
            .map(|e| e.msg)
            .collect()
    }

    /// The bodies to download now, within the storage the browser says is left: `bodies()` in
    /// its order, up to the first one that does not fit (each costs its size plus a tenth, and
    /// [`SPACE_MARGIN`] stays free), so the newest mail comes first and nothing older jumps
    /// ahead of it. Without an estimate (`None`: the browser does not say) every body is
    /// fetched, and a full disk stops the sync at the failing commit instead.
    pub fn bodies_within(&self, estimate: Option<StorageEstimate>) -> BodiesToFetch {
        let all = self.bodies();
        self.tick(all.len());
        let size = |m: &u32| self.entries.get(m).map_or(0, |e| e.size);
        let mut bodies = Vec::with_capacity(all.len());
        let mut free =
            estimate.map(|e| e.quota.saturating_sub(e.usage).saturating_sub(SPACE_MARGIN));
        for m in &all {
            if let Some(f) = free.as_mut() {
                let cost = storage_cost(size(m));
                if cost > *f {
                    break;
                }
                *f -= cost;
            }
            bodies.push(*m);
        }
        let left = all.len() - bodies.len();
        let warning = (left > 0).then(|| Warning {
            code: "storage_low",
            message: format!(
                "This device has room for only {} of the {} new messages. The rest stay on \
                 the server; free some space and sync again.",
                bodies.len(),
                all.len()
            ),
            count: left,
        });
        BodiesToFetch {
            total_bytes: bodies.iter().map(size).sum(),
            bodies,
            warning,
        }
    }

    /// The header sections still to fetch (`TOP n 0`) when `bodies` (from
    /// [`SyncRun::bodies_within`]) are downloaded now: `plan().headers` without the new
    /// messages among `bodies`, whose own header section decides what TOP's would (feed it with
    /// [`SyncRun::body_headers`] before [`SyncRun::record_for`]). So the bodies need not wait
    /// for a TOP of every new message, and those headers are not read twice.
    ///
    /// `None` when headers decide what to download: while stored mail that vanished under its
    /// UIDL may turn up as a new message (a fingerprint match spares that download, so new
    /// messages wait for their headers and are not in `bodies` yet), or while a `verify`
    /// message is undecided (its headers may set such a record free). Then every header comes
    /// first, then `bodies_within` again.
    pub fn headers_besides(&self, bodies: &[u32]) -> Option<Vec<u32>> {
        if self.phase != Phase::Listed {
            return Some(Vec::new());
        }
        self.tick(self.entries.len() + bodies.len());
        if self.may_match()
            || self
                .entries
                .values()
                .any(|e| matches!(e.ident, Ident::Verify(..)) && !e.headers_done)
        {
            return None;
        }
        let coming: BTreeSet<u32> = bodies.iter().copied().collect();
        Some(
            self.headers_to_read()
                .filter(|e| !(matches!(e.ident, Ident::New(_)) && coming.contains(&e.msg)))
                .map(|e| e.msg)
                .collect(),
        )
    }

    /// The messages whose headers the plan asks for, newest first.
    fn headers_to_read(&self) -> impl Iterator<Item = &Entry> {
        let may_match = self.may_match();
        self.entries
            .values()
            .rev()
            .filter(move |e| self.needs_headers(e, may_match))
    }

    /// The full message `raw` of new message `msg` arrived before its headers were fed: its
    /// header section decides what [`SyncRun::headers`] would (its fingerprint, or that it is
    /// mail kept here under another UIDL, whose record it then takes). Nothing to do when its
    /// headers were fed already or it is not a new message.
    pub fn body_headers(&mut self, msg: u32, raw: &[u8]) -> Result<(), SyncError> {
        let e = self.entry(msg)?;
        if e.headers_done || !matches!(e.ident, Ident::New(_)) {
            return Ok(());
        }
        self.headers(msg, Some(raw)).map(|_| ())
    }

    /// The current plan (also after headers and stores: it always reflects what is left).
    pub fn plan(&self) -> Plan {
        let listed = self.phase == Phase::Listed;
        self.tick(2 * self.entries.len());
        let headers: Vec<u32> = if listed {
            self.headers_to_read().map(|e| e.msg).collect()
        } else {
            Vec::new()
        };
        let bodies = self.bodies();
        let total_bytes = bodies
            .iter()
            .filter_map(|m| self.entries.get(m))
            .map(|e| e.size)
            .sum();
        let entries = self
            .entries
            .values()
            .map(|e| PlanEntry {
                msg: e.msg,
                uid: e.uid.clone(),
                // Undecided until its headers are in (the same record, or a new key for a
                // reused UIDL): no key rather than one that could overwrite the wrong message.
                key: match e.ident {
                    Ident::Verify(..) => None,
                    _ => self.key_of(e),
                },
                size: e.size,
                status: match e.ident {
                    Ident::Known(_) => Status::Known,
                    Ident::Verify(..) => Status::Verify,
                    Ident::New(_) => Status::New,
                    Ident::Anonymous(_) => Status::NoUidl,
                    Ident::Ignored => Status::Ignored,
                },
                stored: self
                    .key_of(e)
                    .and_then(|k| self.records.get(&k))
                    .map_or(Stored::None, |r| r.stored),
            })
            .collect();
        Plan {
            headers,
            bodies,
            total_bytes,
            warnings: self.warnings.clone(),
            blocked: self.blocked.clone(),
            vanished: self.vanished.clone(),
            mass_vanish: self.mass_vanish,
            entries,
        }
    }

    fn entry(&self, msg: u32) -> Result<&Entry, SyncError> {
        self.tick(1);
        match self.phase {
            Phase::Created => Err(SyncError::Order("listing() must come first")),
            Phase::Blocked => Err(SyncError::Order("this run is blocked: nothing may be done")),
            _ => self.entries.get(&msg).ok_or(SyncError::UnknownMessage(msg)),
        }
    }

    /// Feeds the header section of message `msg` (`TOP msg 0`), or `None` when TOP failed.
    /// Decides reused UIDLs and fingerprint matches.
    pub fn headers(&mut self, msg: u32, raw: Option<&[u8]>) -> Result<HeadersResult, SyncError> {
        let e = self.entry(msg)?.clone();
        let summary = raw.map(parse_summary).unwrap_or_default();
        let fp = raw.and_then(|_| fingerprint(&summary, e.size));
        let mut reused = e.reused;
        let mut matched = None;
        let mut ident = e.ident.clone();
        let mut confirmed = e.confirmed.clone();
        match &e.ident {
            Ident::Verify(k, why) => {
                let same = fp.is_some() && self.records[k].fingerprint == fp;
                if same {
                    let r = self.records.get_mut(k).expect("claimed record exists");
                    r.size = e.size;
                    r.server_gone = false;
                    confirmed = confirmed_of(r);
                    ident = Ident::Known(k.clone());
                } else if *why == VerifyWhy::BeforeDelete && fp.is_none() {
                    // TOP failed or no Message-ID: keep it, but it is not confirmed, so it is
                    // not deleted in this session.
                    ident = Ident::Known(k.clone());
                    confirmed = None;
                } else {
                    if *why != VerifyWhy::Revived {
                        self.retire(k);
                    }
                    self.claimed.remove(k);
                    // The stored mail is off the server under this UIDL; it may yet turn up
                    // under another.
                    self.add_candidate(k);
                    let uid = e.uid.clone().unwrap_or_default();
                    let nk = self.new_record(&uid, e.size);
                    self.claimed.insert(nk.clone());
                    reused = true;
                    confirmed = None;
                    ident = Ident::New(nk);
                }
            }
            Ident::Known(k) => {
                if let Some(r) = self.records.get_mut(k)
                    && r.fingerprint.is_none()
                {
                    r.fingerprint.clone_from(&fp);
                }
            }
            _ => {}
        }
        if let (Ident::New(k), Some(f)) = (&ident, &fp) {
            if let Some(g) = self.take_candidate(f) {
                // The same mail under a new UIDL: the stored record takes the new UIDL, and
                // the empty record made for it goes away.
                self.records.remove(k);
                self.claimed.remove(k);
                self.dropped.push(k.clone());
                let r = self.records.get_mut(&g).expect("candidate exists");
                r.uid.clone_from(&e.uid);
                r.server_gone = false;
                r.delete_pending = false;
                r.size = e.size;
                confirmed = confirmed_of(r);
                self.claimed.insert(g.clone());
                matched = Some(g.clone());
                ident = Ident::Known(g);
            } else if let Some(r) = self.records.get_mut(k) {
                r.fingerprint = Some(f.clone());
            }
        }
        let entry = self.entries.get_mut(&msg).expect("checked above");
        entry.headers_done = true;
        entry.ident = ident;
        entry.reused = reused;
        entry.confirmed = confirmed;
        let e = self.entries[&msg].clone();
        let m = self.may_match();
        let record = match (raw, &matched) {
            (Some(_), None) => self.record_for(msg, &Committed::HeadersOnly).ok(),
            _ => None,
        };
        Ok(HeadersResult {
            uid: e.uid.clone(),
            key: self.key_of(&e),
            fingerprint: fp,
            summary,
            reused_uid: reused,
            matched_key: matched,
            needs_body: self.needs_body(&e, m),
            record,
        })
    }

    /// The record to write in the same transaction as message `msg`'s bytes (`what`: the
    /// header section only, or the full message with its checksum). The run decides the key
    /// (a reused UIDL's new key, `sha256:<hex>` without UIDL) and every field; the caller
    /// writes it as it is, then commits, then calls [`SyncRun::stored`].
    ///
    /// Refused (`NotApplicable`) when nothing may be written for it: its identity is not
    /// established yet (`verify`, before its headers), it is not synced, it was deleted on this
    /// device, or headers would replace a stored full body. Only while the session is open.
    pub fn record_for(&self, msg: u32, what: &Committed) -> Result<CommitRecord, SyncError> {
        if self.phase == Phase::Finished {
            return Err(SyncError::Order("the session has ended"));
        }
        let e = self.entry(msg)?;
        let sha256 = match what {
            Committed::Full { sha256 } => Some(sha256.clone()),
            Committed::HeadersOnly => None,
        };
        match &e.ident {
            Ident::Ignored => Err(SyncError::NotApplicable(msg, "this message is not synced")),
            Ident::Verify(..) => Err(SyncError::NotApplicable(
                msg,
                "its headers must be checked first",
            )),
            Ident::Anonymous(_) => {
                let Some(sha) = sha256 else {
                    return Err(SyncError::NotApplicable(
                        msg,
                        "without UIDL only whole messages can be stored",
                    ));
                };
                let key = sha.no_uidl_key();
                let before = self.records.get(&key);
                Ok(CommitRecord {
                    uid: None,
                    size: e.size,
                    fingerprint: before.and_then(|r| r.fingerprint.clone()),
                    first_seen_ms: before.map_or(self.now_ms, |r| r.first_seen_ms),
                    stored: Stored::Full,
                    sha256: Some(sha),
                    key,
                })
            }
            Ident::New(k) | Ident::Known(k) => {
                let r = self
                    .records
                    .get(k)
                    .ok_or(SyncError::NotApplicable(msg, "its record is gone"))?;
                if r.local_deleted {
                    return Err(SyncError::NotApplicable(
                        msg,
                        "it was deleted on this device",
                    ));
                }
                if sha256.is_none() && r.stored == Stored::Full {
                    return Err(SyncError::NotApplicable(
                        msg,
                        "its full body is stored: headers would replace it",
                    ));
                }
                Ok(CommitRecord {
                    key: k.clone(),
                    uid: e.uid.clone(),
                    size: e.size,
                    fingerprint: r.fingerprint.clone(),
                    first_seen_ms: r.first_seen_ms,
                    stored: what.level(),
                    sha256,
                })
            }
        }
    }

    /// The caller committed message `msg` durably (`what`: its headers only, or its full body
    /// with the checksum of the committed bytes). Only a full commit makes it deletable.
    pub fn stored(&mut self, msg: u32, what: Committed) -> Result<StoredResult, SyncError> {
        let e = self.entry(msg)?.clone();
        let sha = match what {
            Committed::Full { sha256 } => Some(sha256),
            Committed::HeadersOnly => None,
        };
        let (key, duplicate) = match &e.ident {
            Ident::Ignored => {
                return Err(SyncError::NotApplicable(msg, "this message is not synced"));
            }
            Ident::Verify(..) => {
                return Err(SyncError::NotApplicable(
                    msg,
                    "its headers must be checked first",
                ));
            }
            Ident::Anonymous(_) => {
                let Some(sha) = &sha else {
                    return Err(SyncError::NotApplicable(
                        msg,
                        "without UIDL only whole messages can be stored",
                    ));
                };
                let key = sha.no_uidl_key();
                let duplicate = self.records.contains_key(&key);
                let rec = self.records.entry(key.clone()).or_insert(KnownRecord {
                    key: key.clone(),
                    uid: None,
                    size: e.size,
                    fingerprint: None,
                    first_seen_ms: self.now_ms,
                    stored: Stored::Full,
                    sha256: Some(sha.as_str().to_owned()),
                    local_deleted: false,
                    delete_pending: false,
                    server_gone: false,
                });
                rec.server_gone = false;
                (key, duplicate)
            }
            Ident::New(k) | Ident::Known(k) => {
                let r = self
                    .records
                    .get_mut(k)
                    .ok_or(SyncError::NotApplicable(msg, "its record is gone"))?;
                if let Some(s) = &sha {
                    r.stored = Stored::Full;
                    r.sha256 = Some(s.as_str().to_owned());
                } else {
                    r.stored = r.stored.max(Stored::Headers);
                }
                (k.clone(), false)
            }
        };
        let entry = self.entries.get_mut(&msg).expect("checked above");
        if let Some(s) = sha {
            entry.confirmed = Some(Confirmed { sha256: s });
            entry.ident = match &entry.ident {
                Ident::Anonymous(_) => Ident::Anonymous(Some(key.clone())),
                _ => Ident::Known(key.clone()),
            };
        }
        Ok(StoredResult { key, duplicate })
    }

    /// Whether message `msg` may be deleted now, and why not.
    fn eligible(&self, e: &Entry) -> Result<Deletion, &'static str> {
        if self.phase != Phase::Listed {
            return Err("the run is not in a session");
        }
        if self.mass_vanish {
            return Err("deletions are disabled: most known unique ids vanished");
        }
        if self.undone {
            return Err("the deletions of this session were undone");
        }
        if e.dup_uid {
            return Err("its unique id is listed twice");
        }
        let Some(proof) = &e.confirmed else {
            return Err("its full body is not confirmed stored");
        };
        let (key, reason) = match &e.ident {
            Ident::Known(k) => {
                let r = self.records.get(k).ok_or("its record is gone")?;
                if confirmed_of(r).as_ref() != Some(proof) {
                    return Err("its stored checksum changed");
                }
                (k.clone(), self.wanted(r).ok_or("the policy keeps it")?)
            }
            Ident::Anonymous(Some(k)) => (k.clone(), DeletionReason::DownloadAndDelete),
            _ => return Err("its identity is not established"),
        };
        Ok(Deletion {
            msg: e.msg,
            uid: e.uid.clone(),
            key,
            reason,
            sha256: proof.sha256.clone(),
            _proof: proof.clone(),
        })
    }

    /// The messages to send DELE for now (not yet acknowledged), by message number.
    pub fn deletions(&self) -> Result<Vec<Deletion>, SyncError> {
        if self.phase == Phase::Created {
            return Err(SyncError::Order("listing() must come first"));
        }
        self.tick(self.entries.len());
        Ok(self
            .entries
            .values()
            .filter(|e| e.acked.is_none())
            .filter_map(|e| self.eligible(e).ok())
            .collect())
    }

    /// The server answered `+OK` to `DELE msg`. Refused for a message `deletions()` would not
    /// list: the caller must not have sent that DELE.
    pub fn delete_acked(&mut self, msg: u32) -> Result<(), SyncError> {
        let e = self.entry(msg)?;
        if e.acked.is_some() {
            return Ok(());
        }
        let d = self
            .eligible(e)
            .map_err(|why| SyncError::NotDeletable(msg, why))?;
        if let Some(r) = self.records.get_mut(&d.key) {
            r.delete_pending = true;
        }
        self.entries.get_mut(&msg).expect("checked above").acked = Some(d);
        Ok(())
    }

    /// What this session will delete at QUIT: the DELEs the server acknowledged.
    pub fn pending_deletes(&self) -> Vec<Deletion> {
        self.tick(self.entries.len());
        self.entries
            .values()
            .filter_map(|e| e.acked.clone())
            .collect()
    }

    /// The server answered `+OK` to RSET (the user's undo): nothing of this session is
    /// deleted, pending marks are forgotten, and no further deletions are offered in this run.
    pub fn undo_deletions(&mut self) -> Result<Vec<Deletion>, SyncError> {
        if self.phase == Phase::Created {
            return Err(SyncError::Order("listing() must come first"));
        }
        let undone = self.pending_deletes();
        self.tick(2 * self.entries.len());
        // Pending marks of earlier sessions are forgotten too, sent again or not: the user
        // said no.
        let keys: Vec<String> = self
            .entries
            .values()
            .filter_map(|e| self.key_of(e))
            .collect();
        for k in keys {
            if let Some(r) = self.records.get_mut(&k) {
                r.delete_pending = false;
            }
        }
        for e in self.entries.values_mut() {
            e.acked = None;
        }
        self.undone = true;
        Ok(undone)
    }

    /// The session ended: `committed` when QUIT got `+OK`; `false` for `-ERR` or a lost
    /// connection (acknowledged deletions then stay pending for the next session).
    ///
    /// `user_deleted`: the message numbers the user deleted in this session (their DELE was
    /// acknowledged), apart from the run's own deletions. After a committed QUIT they are gone
    /// from the server, so their local copies go too (`delete_local`); a message whose identity
    /// this session did not establish (a `verify` one, an ignored one, one of several sharing a
    /// UIDL) keeps whatever the store has under a key, since that may be other mail. Without a committed QUIT nothing of them
    /// is deleted: the server kept them.
    pub fn quit(&mut self, committed: bool, user_deleted: &[u32]) -> QuitResult {
        let acked: Vec<String> = self.pending_deletes().into_iter().map(|d| d.key).collect();
        let mut delete_local = Vec::new();
        self.tick(self.entries.len() + user_deleted.len());
        if committed {
            for k in &acked {
                if let Some(r) = self.records.get_mut(k) {
                    r.server_gone = true;
                    r.delete_pending = false;
                }
            }
            let listed = matches!(self.phase, Phase::Listed);
            let keys: BTreeSet<String> = user_deleted
                .iter()
                .filter(|_| listed)
                .filter_map(|m| self.entries.get(m))
                // Which of the messages sharing a UIDL is the stored one is unknowable.
                .filter(|e| !e.dup_uid)
                .filter_map(|e| match &e.ident {
                    Ident::Known(k) | Ident::New(k) | Ident::Anonymous(Some(k)) => Some(k.clone()),
                    Ident::Verify(..) | Ident::Anonymous(None) | Ident::Ignored => None,
                })
                .collect();
            for k in keys {
                if let Some(r) = self.records.get_mut(&k) {
                    r.server_gone = true;
                    r.delete_pending = false;
                    r.local_deleted = true;
                    if r.stored != Stored::None {
                        delete_local.push(k);
                    }
                }
            }
        }
        for e in self.entries.values_mut() {
            e.acked = None;
        }
        self.phase = Phase::Finished;
        QuitResult {
            committed,
            deleted: if committed { acked.clone() } else { Vec::new() },
            pending: if committed { Vec::new() } else { acked },
            delete_local,
        }
    }

    /// Every record to persist (also after a failure), by key.
    pub fn known(&self) -> Vec<KnownRecord> {
        self.tick(self.records.len());
        self.records.values().cloned().collect()
    }

    /// Keys of records the store should delete: empty records (nothing committed) that turned
    /// out to be a stored message under a new UIDL.
    pub fn dropped(&self) -> Vec<String> {
        self.tick(self.dropped.len());
        self.dropped.clone()
    }

    /// Messages of this session tied to a record (by UIDL and size, or by fingerprint), with
    /// their UIDL and that record. A UIDL listed twice ties neither message to the record:
    /// which one is the stored mail is unknowable. For [`crate::identify`].
    pub(crate) fn established(&self) -> impl Iterator<Item = (u32, Option<&str>, &KnownRecord)> {
        self.tick(self.entries.len());
        self.entries.values().filter_map(|e| match &e.ident {
            Ident::Known(k) if !e.dup_uid => {
                self.records.get(k).map(|r| (e.msg, e.uid.as_deref(), r))
            }
            _ => None,
        })
    }

    /// Message `msg`'s identity is decided by its headers (`verify`, or new mail that may be a
    /// stored message under a new UIDL).
    pub(crate) fn headers_decide(&self, msg: u32) -> bool {
        self.entries
            .get(&msg)
            .is_some_and(|e| matches!(e.ident, Ident::Verify(..) | Ident::New(_)))
    }

    /// The message number of a record's message in this session, for on-demand downloads.
    pub fn msg_of(&self, key: &str) -> Option<u32> {
        self.tick(self.entries.len());
        self.entries
            .values()
            .find(|e| self.key_of(e).as_deref() == Some(key))
            .map(|e| e.msg)
    }
}
