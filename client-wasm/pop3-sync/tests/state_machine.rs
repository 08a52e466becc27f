//! The sync decisions without any server: listings, headers and stores fed by hand, one
//! behaviour per test.

use pop3_sync::*;

const DAY: i64 = 86_400_000;
const NOW: i64 = 1_800_000_000_000;

fn sha(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}

/// A full commit with this checksum.
fn full(hex: &str) -> Committed {
    Committed::Full {
        sha256: Sha256::parse(hex).expect("64 hex digits"),
    }
}

fn rec(uid: &str, size: u64, stored: Stored) -> KnownRecord {
    KnownRecord {
        key: String::new(),
        uid: Some(uid.into()),
        size,
        fingerprint: None,
        first_seen_ms: NOW - DAY,
        stored,
        sha256: (stored == Stored::Full).then(|| sha(1)),
        local_deleted: false,
        delete_pending: false,
        server_gone: false,
    }
}

fn run_with(mode: Mode, known: Vec<KnownRecord>) -> SyncRun {
    SyncRun::new(SyncOptions {
        policy: Policy {
            mode,
            keep_days: (mode == Mode::KeepDays).then_some(7),
            size_limit: None,
        },
        known,
        now_ms: NOW,
        ..SyncOptions::default()
    })
    .expect("valid options")
}

/// A listing of (msg, uid, size).
fn listing(items: &[(u32, &str, u64)]) -> ListingIn {
    ListingIn {
        uidl_advertised: true,
        uidl: Some(
            items
                .iter()
                .map(|&(msg, uid, _)| UidIn {
                    msg,
                    uid: uid.into(),
                })
                .collect(),
        ),
        uidl_error: None,
        list: items
            .iter()
            .map(|&(msg, _, size)| ScanIn { msg, size })
            .collect(),
    }
}

fn headers(id: &str, size_tag: &str) -> Vec<u8> {
    format!("From: a@x\r\nSubject: {size_tag}\r\nMessage-ID: <{id}@x>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n").into_bytes()
}

fn fp(id: &str, size: u64) -> String {
    fingerprint(&parse_summary(&headers(id, "")), size).expect("has a message-id")
}

fn record<'a>(run: &'a [KnownRecord], key: &str) -> &'a KnownRecord {
    run.iter().find(|r| r.key == key).expect("record exists")
}

fn msgs(d: &[Deletion]) -> Vec<u32> {
    d.iter().map(|d| d.msg).collect()
}

#[test]
fn new_messages_get_headers_first_then_bodies_newest_first() {
    let mut r = run_with(Mode::Leave, vec![]);
    let plan = r
        .listing(listing(&[(1, "a", 10), (2, "b", 20), (3, "c", 30)]))
        .unwrap();
    assert_eq!(plan.headers, vec![3, 2, 1]);
    assert_eq!(plan.bodies, vec![3, 2, 1]);
    assert_eq!(plan.total_bytes, 60);
    assert!(plan.blocked.is_none());
    let h = r.headers(2, Some(&headers("b", "hi"))).unwrap();
    assert_eq!(h.uid.as_deref(), Some("b"));
    assert_eq!(h.key.as_deref(), Some("b"));
    assert_eq!(h.summary.subject.as_deref(), Some("hi"));
    assert!(h.needs_body && !h.reused_uid && h.matched_key.is_none());
    // New records exist from the listing on, so first-seen survives a cut.
    let known = r.known();
    assert_eq!(known.len(), 3);
    assert!(
        known
            .iter()
            .all(|k| k.first_seen_ms == NOW && k.stored == Stored::None)
    );
    assert_eq!(record(&known, "b").fingerprint, Some(fp("b", 20)));
}

#[test]
fn stored_messages_are_not_planned_again_after_a_cut() {
    // Session 1 stores message 2 of 3 and is cut.
    let mut r = run_with(Mode::Leave, vec![]);
    r.listing(listing(&[(1, "a", 10), (2, "b", 20), (3, "c", 30)]))
        .unwrap();
    r.stored(3, full(&sha(3))).unwrap();
    let known = r.known();
    // Session 2: a new run from the persisted records plans only the rest.
    let mut r2 = run_with(Mode::Leave, known);
    let plan = r2
        .listing(listing(&[(1, "a", 10), (2, "b", 20), (3, "c", 30)]))
        .unwrap();
    assert_eq!(plan.bodies, vec![2, 1]);
    assert_eq!(record(&r2.known(), "a").first_seen_ms, NOW);
}

#[test]
fn duplicates_are_suppressed_by_uidl() {
    let mut r = run_with(Mode::Leave, vec![rec("a", 10, Stored::Full)]);
    let plan = r.listing(listing(&[(1, "a", 10), (2, "b", 5)])).unwrap();
    assert_eq!(plan.bodies, vec![2]);
    assert_eq!(plan.headers, vec![2]);
}

#[test]
fn message_numbers_come_from_this_sessions_listing() {
    // The store knew "b" as message 2 once; now it is message 1.
    let mut r = run_with(
        Mode::DeleteAfterDownload,
        vec![rec("b", 20, Stored::Full), rec("c", 30, Stored::None)],
    );
    let plan = r.listing(listing(&[(1, "b", 20), (2, "c", 30)])).unwrap();
    assert_eq!(plan.bodies, vec![2]);
    r.stored(2, full(&sha(2))).unwrap();
    let d = r.deletions().unwrap();
    assert_eq!(msgs(&d), vec![1, 2]);
    assert_eq!(d[0].uid.as_deref(), Some("b"));
    assert_eq!(r.msg_of("c"), Some(2));
}

#[test]
fn deletion_requires_a_confirmed_full_store() {
    let mut r = run_with(Mode::DeleteAfterDownload, vec![]);
    r.listing(listing(&[(1, "a", 10), (2, "b", 20)])).unwrap();
    assert!(r.deletions().unwrap().is_empty());
    // Headers only, or a malformed checksum, do not count.
    r.stored(1, Committed::HeadersOnly).unwrap();
    assert_eq!(Sha256::parse("abc"), Err(SyncError::BadSha256));
    assert!(r.deletions().unwrap().is_empty());
    assert!(matches!(
        r.delete_acked(1),
        Err(SyncError::NotDeletable(1, _))
    ));
    r.stored(2, full(&sha(2).to_uppercase())).unwrap();
    let d = r.deletions().unwrap();
    assert_eq!(msgs(&d), vec![2]);
    assert_eq!(d[0].sha256.as_str(), sha(2));
    assert_eq!(d[0].reason, DeletionReason::AfterDownload);
}

#[test]
fn leave_mode_deletes_nothing() {
    let mut r = run_with(Mode::Leave, vec![]);
    r.listing(listing(&[(1, "a", 10)])).unwrap();
    r.stored(1, full(&sha(1))).unwrap();
    assert!(r.deletions().unwrap().is_empty());
    assert!(r.delete_acked(1).is_err());
}

#[test]
fn quit_ok_marks_deleted_and_quit_err_leaves_pending_for_next_session() {
    for committed in [true, false] {
        let mut r = run_with(Mode::DeleteAfterDownload, vec![]);
        r.listing(listing(&[(1, "a", 10)])).unwrap();
        r.stored(1, full(&sha(1))).unwrap();
        r.delete_acked(1).unwrap();
        assert_eq!(msgs(&r.pending_deletes()), vec![1]);
        let q = r.quit(committed, &[]);
        let a = record(&r.known(), "a").clone();
        if committed {
            assert_eq!(q.deleted, vec!["a".to_owned()]);
            assert!(a.server_gone && !a.delete_pending);
        } else {
            assert_eq!(q.pending, vec!["a".to_owned()]);
            assert!(!a.server_gone && a.delete_pending);
            // Next session, in leave mode even, the pending deletion is retried.
            let mut r2 = run_with(Mode::Leave, r.known());
            r2.listing(listing(&[(4, "a", 10)])).unwrap();
            let d = r2.deletions().unwrap();
            assert_eq!(msgs(&d), vec![4]);
            assert_eq!(d[0].reason, DeletionReason::Pending);
        }
    }
}

#[test]
fn a_pending_deletion_whose_message_vanished_is_done() {
    let mut a = rec("a", 10, Stored::Full);
    a.delete_pending = true;
    let mut r = run_with(Mode::Leave, vec![a]);
    let plan = r.listing(listing(&[(1, "b", 5)])).unwrap();
    assert_eq!(plan.vanished, vec!["a".to_owned()]);
    let a = record(&r.known(), "a").clone();
    assert!(a.server_gone && !a.delete_pending);
}

#[test]
fn undo_forgets_this_sessions_deletions_and_pending_marks() {
    let mut p = rec("p", 10, Stored::Full);
    p.delete_pending = true;
    let mut r = run_with(Mode::DeleteAfterDownload, vec![p]);
    r.listing(listing(&[(1, "p", 10), (2, "n", 20)])).unwrap();
    r.stored(2, full(&sha(2))).unwrap();
    r.delete_acked(2).unwrap();
    let undone = r.undo_deletions().unwrap();
    assert_eq!(msgs(&undone), vec![2]);
    assert!(r.pending_deletes().is_empty());
    assert!(r.deletions().unwrap().is_empty());
    assert!(r.known().iter().all(|k| !k.delete_pending));
    let q = r.quit(true, &[]);
    assert!(q.deleted.is_empty());
}

#[test]
fn uidl_failure_blocks_downloads_and_deletions() {
    let mut r = run_with(Mode::DeleteAfterDownload, vec![rec("a", 10, Stored::Full)]);
    let plan = r
        .listing(ListingIn {
            uidl_advertised: true,
            uidl: None,
            uidl_error: Some("-ERR".into()),
            list: vec![ScanIn { msg: 1, size: 10 }],
        })
        .unwrap();
    assert_eq!(plan.blocked.as_ref().map(|b| b.code), Some("uidl_failed"));
    assert!(plan.headers.is_empty() && plan.bodies.is_empty());
    assert!(r.deletions().unwrap().is_empty());
    assert!(r.headers(1, None).is_err());
    assert!(r.stored(1, full(&sha(1))).is_err());
    assert!(r.delete_acked(1).is_err());
    // Nothing about the store changed.
    assert_eq!(r.known(), {
        let mut a = rec("a", 10, Stored::Full);
        a.key = "a".into();
        vec![a]
    });
}

#[test]
fn no_uidl_plans_nothing_unless_download_and_delete_is_chosen() {
    let list = vec![ScanIn { msg: 1, size: 10 }, ScanIn { msg: 2, size: 20 }];
    let no_uidl = |list: &Vec<ScanIn>| ListingIn {
        uidl_advertised: false,
        uidl: None,
        uidl_error: None,
        list: list.clone(),
    };
    let mut r = run_with(Mode::DeleteAfterDownload, vec![]);
    let plan = r.listing(no_uidl(&list)).unwrap();
    assert_eq!(plan.blocked.as_ref().map(|b| b.code), Some("no_uidl"));
    assert!(plan.bodies.is_empty());

    let mut r = SyncRun::new(SyncOptions {
        now_ms: NOW,
        download_and_delete_without_uidl: true,
        ..SyncOptions::default()
    })
    .unwrap();
    let plan = r.listing(no_uidl(&list)).unwrap();
    assert!(plan.blocked.is_none());
    assert_eq!(plan.bodies, vec![2, 1]);
    assert!(plan.headers.is_empty());
    let s = r.stored(2, full(&sha(2))).unwrap();
    assert_eq!(s.key, format!("sha256:{}", sha(2)));
    assert!(!s.duplicate);
    // The same bytes again (a QUIT that failed last time) are a duplicate, still deletable.
    assert!(r.stored(1, full(&sha(2))).unwrap().duplicate);
    assert!(r.stored(1, Committed::HeadersOnly).is_err());
    let d = r.deletions().unwrap();
    assert_eq!(msgs(&d), vec![1, 2]);
    assert!(
        d.iter()
            .all(|d| d.reason == DeletionReason::DownloadAndDelete)
    );
}

#[test]
fn mass_vanish_warns_disables_deletions_and_matches_by_fingerprint() {
    // Twelve stored messages; the server now lists them under new UIDLs.
    let known: Vec<KnownRecord> = (0..12)
        .map(|i| {
            let mut r = rec(&format!("old{i}"), 100 + i, Stored::Full);
            r.fingerprint = Some(fp(&format!("m{i}"), 100 + i));
            r
        })
        .collect();
    let mut r = run_with(Mode::DeleteAfterDownload, known);
    let items: Vec<(u32, String, u64)> = (0..12u32)
        .map(|i| (i + 1, format!("new{i}"), 100 + u64::from(i)))
        .chain([(13, "fresh".to_owned(), 50)])
        .collect();
    let l: Vec<(u32, &str, u64)> = items.iter().map(|(m, u, s)| (*m, u.as_str(), *s)).collect();
    let plan = r.listing(listing(&l)).unwrap();
    assert!(plan.mass_vanish);
    let w = plan
        .warnings
        .iter()
        .find(|w| w.code == "uidl_mass_vanish")
        .unwrap();
    assert_eq!(w.count, 12);
    // Bodies wait for the headers: they may be stored already.
    assert!(plan.bodies.is_empty());
    assert_eq!(plan.headers, (1..=13).rev().collect::<Vec<u32>>());
    for i in 0..12u32 {
        let h = r
            .headers(i + 1, Some(&headers(&format!("m{i}"), "")))
            .unwrap();
        assert_eq!(h.matched_key, Some(format!("old{i}")));
        assert!(!h.needs_body);
    }
    let h = r.headers(13, Some(&headers("fresh", ""))).unwrap();
    assert!(h.needs_body && h.matched_key.is_none());
    assert_eq!(r.bodies(), vec![13]);
    r.stored(13, full(&sha(9))).unwrap();
    // Stored and matched, but nothing is deleted in this run.
    assert!(r.deletions().unwrap().is_empty());
    assert!(matches!(
        r.delete_acked(13),
        Err(SyncError::NotDeletable(13, _))
    ));
    let known = r.known();
    assert_eq!(record(&known, "old3").uid.as_deref(), Some("new3"));
    assert!(!record(&known, "old3").server_gone);
    assert!(r.dropped().contains(&"new3".to_owned()));
    // The next session is normal again and may delete.
    let mut r2 = run_with(Mode::DeleteAfterDownload, known);
    let plan = r2.listing(listing(&l)).unwrap();
    assert!(!plan.mass_vanish);
    assert!(plan.bodies.is_empty());
}

#[test]
fn a_few_vanished_uidls_are_not_a_mass_vanish() {
    let known: Vec<KnownRecord> = (0..12)
        .map(|i| rec(&format!("k{i}"), 10, Stored::Full))
        .collect();
    let mut r = run_with(Mode::DeleteAfterDownload, known);
    let l: Vec<(u32, String, u64)> = (0..8u32).map(|i| (i + 1, format!("k{i}"), 10)).collect();
    let l: Vec<(u32, &str, u64)> = l.iter().map(|(m, u, s)| (*m, u.as_str(), *s)).collect();
    let plan = r.listing(listing(&l)).unwrap();
    assert!(!plan.mass_vanish);
    assert_eq!(plan.vanished, ["k10", "k11", "k8", "k9"]);
    let d: Vec<(u32, String)> = r
        .deletions()
        .unwrap()
        .into_iter()
        .map(|d| (d.msg, d.key))
        .collect();
    assert_eq!(
        d,
        (0..8u32)
            .map(|i| (i + 1, format!("k{i}")))
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_reused_uidl_for_different_mail_is_new_and_not_deleted_unseen() {
    let mut old = rec("x", 100, Stored::Full);
    old.fingerprint = Some(fp("old", 100));
    let mut r = run_with(Mode::DeleteAfterDownload, vec![old]);
    // Same UIDL, different size: TOP decides.
    let plan = r.listing(listing(&[(1, "x", 120)])).unwrap();
    assert_eq!(plan.headers, vec![1]);
    assert!(plan.bodies.is_empty());
    assert!(r.deletions().unwrap().is_empty());
    let h = r.headers(1, Some(&headers("other", ""))).unwrap();
    assert!(h.reused_uid && h.needs_body);
    assert_eq!(h.key.as_deref(), Some("x#1"));
    assert!(r.deletions().unwrap().is_empty());
    r.stored(1, full(&sha(7))).unwrap();
    // Deletable only now, as its own record.
    let d = r.deletions().unwrap();
    assert_eq!(
        d.iter()
            .map(|d| (d.msg, d.key.as_str(), d.sha256.as_str()))
            .collect::<Vec<_>>(),
        [(1, "x#1", sha(7).as_str())]
    );
    let known = r.known();
    assert!(record(&known, "x").server_gone);
    assert_eq!(record(&known, "x").sha256, Some(sha(1)));
}

#[test]
fn a_reused_uidl_with_the_same_size_is_caught_before_deleting() {
    // A stored message confirmed in an earlier session is a deletion candidate: its headers
    // are checked before it may be deleted.
    let mut old = rec("x", 100, Stored::Full);
    old.fingerprint = Some(fp("old", 100));
    let mut r = run_with(Mode::DeleteAfterDownload, vec![old.clone()]);
    let plan = r.listing(listing(&[(1, "x", 100)])).unwrap();
    assert_eq!(plan.headers, vec![1]);
    assert!(r.deletions().unwrap().is_empty());
    let h = r.headers(1, Some(&headers("other", ""))).unwrap();
    assert!(h.reused_uid);
    assert!(r.deletions().unwrap().is_empty());

    // The same message: verified, deletable.
    let mut r = run_with(Mode::DeleteAfterDownload, vec![old]);
    r.listing(listing(&[(1, "x", 100)])).unwrap();
    let h = r.headers(1, Some(&headers("old", ""))).unwrap();
    assert!(!h.reused_uid && !h.needs_body);
    assert_eq!(msgs(&r.deletions().unwrap()), vec![1]);
}

#[test]
fn a_candidate_whose_headers_cannot_be_read_is_kept() {
    let mut old = rec("x", 100, Stored::Full);
    old.fingerprint = Some(fp("old", 100));
    let mut r = run_with(Mode::DeleteAfterDownload, vec![old]);
    r.listing(listing(&[(1, "x", 100)])).unwrap();
    let h = r.headers(1, None).unwrap();
    assert!(!h.needs_body && !h.reused_uid);
    assert!(r.deletions().unwrap().is_empty());
}

#[test]
fn a_revived_uidl_is_checked_by_fingerprint() {
    let mut gone = rec("x", 100, Stored::Full);
    gone.fingerprint = Some(fp("old", 100));
    gone.server_gone = true;
    let mut r = run_with(Mode::DeleteAfterDownload, vec![gone]);
    r.listing(listing(&[(1, "x", 100)])).unwrap();
    assert!(r.deletions().unwrap().is_empty());
    let h = r.headers(1, Some(&headers("new", ""))).unwrap();
    assert!(h.reused_uid && h.needs_body);
    assert_eq!(h.key.as_deref(), Some("x#1"));
}

#[test]
fn keep_days_counts_from_first_seen() {
    let mut young = rec("young", 10, Stored::Full);
    young.first_seen_ms = NOW - 6 * DAY;
    let mut old = rec("old", 10, Stored::Full);
    old.first_seen_ms = NOW - 7 * DAY;
    let mut r = run_with(Mode::KeepDays, vec![young, old]);
    r.listing(listing(&[(1, "young", 10), (2, "old", 10), (3, "new", 10)]))
        .unwrap();
    r.stored(3, full(&sha(3))).unwrap();
    let d = r.deletions().unwrap();
    assert_eq!(msgs(&d), vec![2]);
    assert_eq!(d[0].reason, DeletionReason::Expired);
}

#[test]
fn keep_days_needs_a_number_of_days() {
    let e = SyncRun::new(SyncOptions {
        policy: Policy {
            mode: Mode::KeepDays,
            keep_days: None,
            size_limit: None,
        },
        ..SyncOptions::default()
    })
    .unwrap_err();
    assert_eq!(e.code(), "bad_policy");
}

#[test]
fn mirror_local_deletes_deletes_only_what_the_user_deleted() {
    let mut gone_locally = rec("l", 10, Stored::Full);
    gone_locally.local_deleted = true;
    let mut headers_only = rec("h", 10, Stored::Headers);
    headers_only.local_deleted = true;
    let mut r = run_with(
        Mode::MirrorLocalDeletes,
        vec![gone_locally, headers_only, rec("k", 10, Stored::Full)],
    );
    let plan = r
        .listing(listing(&[
            (1, "l", 10),
            (2, "h", 10),
            (3, "k", 10),
            (4, "n", 10),
        ]))
        .unwrap();
    // A locally deleted message is not downloaded again.
    assert_eq!(plan.bodies, vec![4]);
    r.stored(4, full(&sha(4))).unwrap();
    let d = r.deletions().unwrap();
    assert_eq!(msgs(&d), vec![1]);
    assert_eq!(d[0].reason, DeletionReason::LocalDelete);
}

#[test]
fn size_limit_gives_headers_only() {
    let mut r = SyncRun::new(SyncOptions {
        policy: Policy {
            mode: Mode::DeleteAfterDownload,
            keep_days: None,
            size_limit: Some(1000),
        },
        now_ms: NOW,
        ..SyncOptions::default()
    })
    .unwrap();
    let plan = r
        .listing(listing(&[(1, "small", 999), (2, "big", 5000)]))
        .unwrap();
    assert_eq!(plan.headers, vec![2, 1]);
    assert_eq!(plan.bodies, vec![1]);
    r.stored(2, Committed::HeadersOnly).unwrap();
    assert_eq!(record(&r.known(), "big").stored, Stored::Headers);
    assert!(r.deletions().unwrap().is_empty());
    // "Download the rest" on demand: a full store makes it an ordinary stored message.
    assert_eq!(r.msg_of("big"), Some(2));
    r.stored(2, full(&sha(2))).unwrap();
    assert_eq!(msgs(&r.deletions().unwrap()), vec![2]);
}

#[test]
fn a_uidl_listed_twice_is_fetched_once_and_never_deleted() {
    let mut r = run_with(Mode::DeleteAfterDownload, vec![]);
    let plan = r.listing(listing(&[(1, "d", 10), (2, "d", 10)])).unwrap();
    assert_eq!(plan.bodies, vec![1]);
    assert!(plan.warnings.iter().any(|w| w.code == "uidl_duplicate"));
    r.stored(1, full(&sha(1))).unwrap();
    assert!(r.deletions().unwrap().is_empty());
    assert!(r.stored(2, full(&sha(1))).is_err());
}

#[test]
fn messages_missing_from_uidl_are_skipped() {
    let mut r = run_with(Mode::Leave, vec![]);
    let mut l = listing(&[(1, "a", 10)]);
    l.list.push(ScanIn { msg: 2, size: 10 });
    l.uidl.as_mut().unwrap().push(UidIn {
        msg: 9,
        uid: "z".into(),
    });
    l.uidl.as_mut().unwrap().push(UidIn {
        msg: 3,
        uid: "bad uid".into(),
    });
    l.list.push(ScanIn { msg: 3, size: 10 });
    let plan = r.listing(l).unwrap();
    assert_eq!(plan.bodies, vec![1]);
    let codes: Vec<&str> = plan.warnings.iter().map(|w| w.code).collect();
    assert!(codes.contains(&"uidl_missing"));
    assert!(codes.contains(&"uidl_unlisted"));
    assert!(codes.contains(&"uidl_invalid"));
}

#[test]
fn malformed_listings_and_call_order_are_typed_errors() {
    let mut r = run_with(Mode::Leave, vec![]);
    assert_eq!(r.headers(1, None).unwrap_err().code(), "sync_order");
    assert_eq!(r.deletions().unwrap_err().code(), "sync_order");
    let e = r.listing(listing(&[(0, "a", 1)])).unwrap_err();
    assert_eq!(e.code(), "bad_listing");
    let e = r.listing(listing(&[(1, "a", 1), (1, "b", 1)])).unwrap_err();
    assert_eq!(e.code(), "bad_listing");
    r.listing(listing(&[(1, "a", 1)])).unwrap();
    assert_eq!(
        r.listing(listing(&[(1, "a", 1)])).unwrap_err().code(),
        "sync_order"
    );
    assert_eq!(
        r.stored(5, Committed::HeadersOnly).unwrap_err().code(),
        "unknown_message"
    );
}

#[test]
fn damaged_records_are_repaired_not_fatal() {
    let mut bad = rec("a", 10, Stored::Full);
    bad.sha256 = Some("not a checksum".into());
    let mut dup = rec("a", 10, Stored::Full);
    dup.size = 99;
    let mut nokey = rec("", 1, Stored::None);
    nokey.uid = None;
    let mut r = run_with(Mode::DeleteAfterDownload, vec![bad, dup, nokey]);
    let plan = r.listing(listing(&[(1, "a", 10)])).unwrap();
    // The damaged checksum means "not stored": downloaded again, not deleted.
    assert_eq!(plan.bodies, vec![1]);
    assert!(r.deletions().unwrap().is_empty());
    let codes: Vec<&str> = plan.warnings.iter().map(|w| w.code).collect();
    assert_eq!(
        codes,
        vec!["record_bad_sha256", "record_duplicate", "record_no_key"]
    );
}

#[test]
fn a_size_change_of_a_record_without_fingerprint_is_treated_as_new_mail() {
    let mut r = run_with(Mode::DeleteAfterDownload, vec![rec("a", 10, Stored::Full)]);
    let plan = r.listing(listing(&[(1, "a", 11)])).unwrap();
    assert_eq!(plan.bodies, vec![1]);
    assert!(r.deletions().unwrap().is_empty());
    assert_eq!(plan.entries[0].key.as_deref(), Some("a#1"));
}

#[test]
fn an_incomplete_uidl_answer_does_not_mark_known_mail_gone() {
    let mut p = rec("p", 10, Stored::Full);
    p.delete_pending = true;
    let mut r = run_with(Mode::Leave, vec![p]);
    // Message 2 has no UIDL: it might be "p", so "p" is not declared gone.
    let mut l = listing(&[(1, "a", 10)]);
    l.list.push(ScanIn { msg: 2, size: 10 });
    let plan = r.listing(l).unwrap();
    assert!(plan.vanished.is_empty());
    let p = record(&r.known(), "p").clone();
    assert!(!p.server_gone && p.delete_pending);
}

/// A migration of `n` stored messages: all change UIDL and each is matched by its headers.
/// Returns the run's work (`SyncRun::work`: records and entries looked at, per-message calls).
fn migrate(n: u32) -> u64 {
    let known: Vec<KnownRecord> = (0..n)
        .map(|i| {
            let mut r = rec(&format!("old{i}"), 100, Stored::Full);
            r.fingerprint = Some(fp(&format!("m{i}"), 100));
            r
        })
        .collect();
    let mut r = run_with(Mode::Leave, known);
    let uids: Vec<String> = (0..n).map(|i| format!("new{i}")).collect();
    let l: Vec<(u32, &str, u64)> = uids
        .iter()
        .enumerate()
        .map(|(i, u)| (i as u32 + 1, u.as_str(), 100))
        .collect();
    let start = r.work();
    let plan = r.listing(listing(&l)).unwrap();
    assert!(plan.mass_vanish);
    assert_eq!(plan.headers, (1..=n).rev().collect::<Vec<_>>());
    for i in 0..n {
        let h = r
            .headers(i + 1, Some(&headers(&format!("m{i}"), "")))
            .unwrap();
        assert_eq!(h.matched_key, Some(format!("old{i}")));
        assert!(!h.needs_body);
    }
    assert!(r.bodies().is_empty());
    // The empty records made for the new UIDLs go: each message is its stored record.
    assert_eq!(r.dropped(), uids);
    r.work() - start
}

#[test]
fn a_migration_of_ten_thousand_messages_is_matched_without_quadratic_work() {
    // Work is counted, not timed: ten times the messages may cost about ten times the work
    // (linear), not a hundred times (quadratic: each match walking every record).
    let small = migrate(1_000);
    let large = migrate(10_000);
    assert!(small >= 1_000, "every message costs some work: {small}");
    assert!(
        large < 15 * small,
        "10x the messages cost {}x the work ({small} -> {large})",
        large as f64 / small as f64
    );
}

#[test]
fn a_checksum_is_64_hex_digits_or_refused_at_construction() {
    for bad in [
        "",
        "abc",
        &sha(1)[..63],
        &format!("{}0", sha(1)),
        &"g".repeat(64),
    ] {
        assert_eq!(Sha256::parse(bad), Err(SyncError::BadSha256), "{bad:?}");
    }
    let upper = "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD";
    assert_eq!(Sha256::parse(upper).unwrap().as_str(), upper.to_lowercase());
    assert_eq!(Sha256::of(b"abc"), Sha256::parse(upper).unwrap());
    assert_eq!(
        Sha256::of(b"abc").no_uidl_key(),
        format!("sha256:{}", upper.to_lowercase())
    );
}

#[test]
fn a_message_read_before_the_sync_kept_it_is_kept_under_the_runs_record() {
    let mut r = SyncRun::new(SyncOptions {
        policy: Policy {
            mode: Mode::Leave,
            keep_days: None,
            size_limit: Some(1000),
        },
        now_ms: NOW,
        ..SyncOptions::default()
    })
    .unwrap();
    r.listing(listing(&[(1, "big", 5000)])).unwrap();
    let h = r.headers(1, Some(&headers("big", ""))).unwrap();
    let head = h.record.expect("its headers are written");
    assert_eq!((head.key.as_str(), head.stored), ("big", Stored::Headers));
    r.stored(1, Committed::HeadersOnly).unwrap();
    // The user opens it: RETR, then the record to write beside those bytes.
    let rec = r.record_for(1, &full(&sha(5))).unwrap();
    assert_eq!(
        rec,
        CommitRecord {
            key: "big".into(),
            uid: Some("big".into()),
            size: 5000,
            fingerprint: Some(fp("big", 5000)),
            first_seen_ms: NOW,
            stored: Stored::Full,
            sha256: Some(Sha256::parse(&sha(5)).unwrap()),
        }
    );
    // Headers never replace the stored body afterwards.
    r.stored(1, full(&sha(5))).unwrap();
    assert!(r.record_for(1, &Committed::HeadersOnly).is_err());
}

#[test]
fn reading_a_message_whose_identity_is_unverified_writes_nothing() {
    // "a" is stored; the server now lists "a" with another size: other mail, perhaps.
    let mut a = rec("a", 10, Stored::Full);
    a.fingerprint = Some(fp("a", 10));
    let mut r = run_with(Mode::Leave, vec![a]);
    let plan = r.listing(listing(&[(1, "a", 11)])).unwrap();
    assert_eq!(plan.entries[0].status, Status::Verify);
    // Read before its headers were checked: nothing may go under "a".
    let e = r.record_for(1, &full(&sha(2))).unwrap_err();
    assert_eq!(
        e,
        SyncError::NotApplicable(1, "its headers must be checked first")
    );
    // Its headers say it is other mail: it gets its own key.
    let h = r.headers(1, Some(&headers("other", ""))).unwrap();
    assert!(h.reused_uid);
    assert_eq!(r.record_for(1, &full(&sha(2))).unwrap().key, "a#1");
}

#[test]
fn a_body_that_does_not_fit_keeps_older_ones_from_jumping_ahead() {
    let mut r = run_with(Mode::Leave, vec![]);
    r.listing(listing(&[(1, "a", 100), (2, "b", 100), (3, "c", 1000)]))
        .unwrap();
    // Room for the two small ones (110 each), not for the newest, big one (1100).
    let est = StorageEstimate {
        quota: SPACE_MARGIN + 220,
        usage: 0,
    };
    let f = r.bodies_within(Some(est));
    assert!(f.bodies.is_empty());
    assert_eq!(
        f.warning.map(|w| (w.code, w.count)),
        Some(("storage_low", 3))
    );
    // Exactly enough for all three: all three, no warning; the margin is never spent.
    let all = StorageEstimate {
        quota: SPACE_MARGIN + 1100 + 220 + 7,
        usage: 7,
    };
    let f = r.bodies_within(Some(all));
    assert_eq!((f.bodies, f.total_bytes), (vec![3, 2, 1], 1200));
    assert!(f.warning.is_none());
    let short = StorageEstimate {
        quota: SPACE_MARGIN + 1100 + 219,
        usage: 0,
    };
    assert_eq!(r.bodies_within(Some(short)).bodies, vec![3, 2]);
    // A browser that says nothing, or more usage than quota: everything / nothing.
    assert_eq!(r.bodies_within(None).bodies, vec![3, 2, 1]);
    let over = StorageEstimate {
        quota: 10,
        usage: 20,
    };
    assert!(r.bodies_within(Some(over)).bodies.is_empty());
}

#[test]
fn a_user_deletion_of_a_message_of_unsure_identity_keeps_its_local_copy() {
    let mut a = rec("a", 10, Stored::Full);
    a.fingerprint = Some(fp("a", 10));
    let mut r = run_with(Mode::Leave, vec![a, rec("b", 20, Stored::Full)]);
    r.listing(listing(&[(1, "a", 11), (2, "b", 20)])).unwrap();
    // Both deleted by the user, QUIT +OK, before the headers of 1 were checked: 1 may be other
    // mail than the stored "a", so "a" stays here; "b" is the stored "b" and goes.
    let q = r.quit(true, &[1, 2, 9]);
    assert_eq!(q.delete_local, vec!["b".to_owned()]);
    let known = r.known();
    assert!(!record(&known, "a").local_deleted);
    assert!(record(&known, "b").local_deleted && record(&known, "b").server_gone);
    // One UIDL for two messages: which one is the stored "d" is unknowable, so "d" stays.
    let mut r = run_with(Mode::Leave, vec![rec("d", 10, Stored::Full)]);
    r.listing(listing(&[(1, "d", 10), (2, "d", 10)])).unwrap();
    assert!(r.quit(true, &[1]).delete_local.is_empty());
    assert!(!record(&r.known(), "d").local_deleted);
}

#[test]
fn new_mail_downloaded_at_once_takes_its_fingerprint_from_the_body() {
    let items = [(1, "a", 10), (2, "b", 20), (3, "c", 30)];
    // Without a TOP: the bodies come first, and the headers of the one whose body stays on
    // the server (no room) are all that is still fetched.
    let mut r = run_with(Mode::Leave, vec![]);
    r.listing(listing(&items)).unwrap();
    let bodies = vec![3, 2];
    assert_eq!(r.headers_besides(&bodies), Some(vec![1]));
    for m in bodies {
        let id = ["a", "b", "c"][m as usize - 1];
        let mut raw = headers(id, "");
        raw.extend_from_slice(b"Subject: not a header\r\n");
        r.body_headers(m, &raw).unwrap();
        let rec = r.record_for(m, &full(&sha(m as u8))).unwrap();
        assert_eq!(rec.fingerprint, Some(fp(id, m as u64 * 10)));
        r.stored(m, full(&sha(m as u8))).unwrap();
    }
    r.headers(1, Some(&headers("a", ""))).unwrap();
    // The same records as a sync that read every header by TOP first.
    let mut t = run_with(Mode::Leave, vec![]);
    t.listing(listing(&items)).unwrap();
    for m in [3, 2, 1] {
        let id = ["a", "b", "c"][m as usize - 1];
        t.headers(m, Some(&headers(id, ""))).unwrap();
    }
    for m in [3, 2] {
        t.record_for(m, &full(&sha(m as u8))).unwrap();
        t.stored(m, full(&sha(m as u8))).unwrap();
    }
    assert_eq!(r.known(), t.known());
    assert_eq!(r.plan().headers, Vec::<u32>::new());
}

#[test]
fn headers_come_first_while_a_verify_is_undecided() {
    // A stored message whose size changed is verified by its headers; if it turns out to be
    // other mail, its record becomes a candidate that a new message may match.
    let mut old = rec("x", 100, Stored::Full);
    old.fingerprint = Some(fp("old", 100));
    let mut r = run_with(Mode::Leave, vec![old]);
    r.listing(listing(&[(1, "x", 120), (2, "y", 100)])).unwrap();
    assert_eq!(r.headers_besides(&r.bodies()), None);
    r.headers(1, Some(&headers("changed", ""))).unwrap();
    // Decided: the stored mail is off the server under that UIDL, and the new message may be
    // it, so its body waits for its headers, and headers still come first.
    assert_eq!(r.bodies(), vec![1]);
    assert_eq!(r.headers_besides(&r.bodies()), None);
    r.headers(2, Some(&headers("old", ""))).unwrap();
    assert_eq!(r.bodies(), vec![1]);
}

#[test]
fn a_body_that_is_mail_kept_under_another_uidl_takes_that_record() {
    // A verified-away record is a candidate; a new message downloaded before its TOP (it was
    // in the bodies already) still finds it by the fingerprint of its body's headers.
    let mut kept = rec("gone", 50, Stored::Full);
    kept.fingerprint = Some(fp("m", 50));
    kept.server_gone = true;
    let mut r = run_with(Mode::Leave, vec![kept]);
    r.listing(listing(&[(1, "new", 50)])).unwrap();
    // The stored mail may be this message: its body waits for its headers, which come first.
    assert!(r.bodies().is_empty());
    assert_eq!(r.headers_besides(&[]), None);
    // Fed from a body instead (as a caller that downloaded it anyway would), it matches.
    r.body_headers(1, &headers("m", "")).unwrap();
    let known = r.known();
    assert_eq!(record(&known, "gone").uid.as_deref(), Some("new"));
    assert!(r.dropped().contains(&"new".to_owned()));
    assert!(r.bodies().is_empty());
    // Nothing to do for a message whose headers were fed already.
    r.body_headers(1, &headers("other", "")).unwrap();
    assert_eq!(record(&r.known(), "gone").uid.as_deref(), Some("new"));
}
