//! Export and import: byte-exact round trips through mboxrd and zip, readers that refuse
//! damaged input with typed errors, and dedup on import.

use pop3_sync::export::{self, ArchiveError, ExportMessage, Format, mbox, zip};
use pop3_sync::{KnownRecord, Stored, sha256_hex};
use proptest::prelude::*;

fn m(uid: Option<&str>, raw: &[u8]) -> ExportMessage {
    ExportMessage {
        uid: uid.map(str::to_owned),
        raw: raw.to_vec(),
        date_ms: Some(1_795_745_400_000),
    }
}

/// Messages that break naive mbox code.
fn tricky() -> Vec<ExportMessage> {
    vec![
        m(
            Some("u1"),
            b"From: a@x\r\nSubject: crlf\r\n\r\nFrom here\r\n>From there\r\n>>From far\r\n",
        ),
        m(
            Some("u2"),
            b"Subject: lf\n\nFrom the start\nno final newline",
        ),
        m(None, b"From nothing\n"),
        m(Some("u3"), b""),
        m(None, b"X-POP3-UIDL: not ours\n\nbody\n"),
        m(Some("u4"), b"\n\n\n"),
        m(Some("u5"), b"Subject: ends in CR\r"),
        m(None, b"x-pop3-uidl:\r\n"),
        m(Some("a/b:c"), b"Subject: odd uid\n\n.\n..\nFrom \n"),
    ]
}

fn expect(msgs: &[ExportMessage]) -> Vec<(Option<String>, Vec<u8>)> {
    msgs.iter()
        .map(|m| (m.uid.clone(), m.raw.clone()))
        .collect()
}

fn got(imported: &[export::Imported]) -> Vec<(Option<String>, Vec<u8>)> {
    imported
        .iter()
        .map(|i| (i.uid.clone(), i.raw.clone()))
        .collect()
}

#[test]
fn mboxrd_round_trip_is_byte_exact() {
    let msgs = tricky();
    let file = mbox::write_mboxrd(&msgs).unwrap();
    let (format, back) = export::import(&file).unwrap();
    assert_eq!(format, Format::Mbox);
    assert_eq!(got(&back), expect(&msgs));
    assert!(
        back.iter()
            .zip(&msgs)
            .all(|(b, m)| b.sha256 == sha256_hex(&m.raw))
    );
}

#[test]
fn mboxrd_quotes_from_lines_and_keeps_the_uidl_in_a_header() {
    let file = mbox::write_mboxrd(&[m(Some("u1"), b"Subject: s\r\n\r\nFrom me\r\n>From you\r\n")])
        .unwrap();
    assert_eq!(
        String::from_utf8(file).unwrap(),
        "From MAILER-DAEMON Fri Nov 27 02:10:00 2026\n\
         X-POP3-UIDL: u1\r\nSubject: s\r\n\r\n>From me\r\n>>From you\r\n\n"
    );
}

#[test]
fn zip_round_trip_is_byte_exact() {
    let msgs = tricky();
    let file = zip::write_eml_zip(&msgs).unwrap();
    let (format, back) = export::import(&file).unwrap();
    assert_eq!(format, Format::Zip);
    assert_eq!(got(&back), expect(&msgs));
}

#[test]
fn an_empty_export_reads_back_empty() {
    assert_eq!(
        export::import(&zip::write_eml_zip(&[]).unwrap()).unwrap().1,
        vec![]
    );
    assert_eq!(mbox::write_mboxrd(&[]).unwrap(), b"");
}

#[test]
fn a_plain_mboxo_file_is_read() {
    let file = b"From a@x Mon Jan  1 00:00:00 2024\nSubject: one\n\nbody\n>From quoted\n\nFrom b@x Mon Jan  1 00:00:00 2024\nSubject: two\n\nsecond\n";
    let (_, back) = export::import(file).unwrap();
    assert_eq!(back.len(), 2);
    assert_eq!(back[0].raw, b"Subject: one\n\nbody\nFrom quoted\n");
    assert_eq!(back[1].raw, b"Subject: two\n\nsecond");
    assert!(back.iter().all(|b| b.uid.is_none()));
}

#[test]
fn a_malformed_uidl_is_refused_on_export() {
    assert_eq!(
        mbox::write_mboxrd(&[m(Some("has space"), b"x")]),
        Err(ArchiveError::BadUid(0))
    );
    assert_eq!(
        zip::write_eml_zip(&[m(Some("a\nX-Evil: 1"), b"x")]),
        Err(ArchiveError::BadUid(0))
    );
}

#[test]
fn damaged_zips_are_typed_errors() {
    let good = zip::write_eml_zip(&tricky()).unwrap();
    // Flip one byte of the first message's data: CRC mismatch.
    let mut bad = good.clone();
    bad[30 + "u1.eml".len() + 3] ^= 1;
    assert_eq!(export::import(&bad).unwrap_err().code(), "archive_corrupt");
    // Every truncation is an error, never a panic.
    for cut in 0..good.len() {
        let _ = export::import(&good[..cut]);
    }
    assert_eq!(
        export::import(b"PK\x03\x04").unwrap_err().code(),
        "archive_corrupt"
    );
    assert_eq!(
        export::import(b"%PDF-1.4").unwrap_err(),
        ArchiveError::Unknown
    );
    // A deflated entry is not ours: said plainly.
    let mut deflated = good.clone();
    let cd = good.len() - 22 - central_size(&good);
    deflated[cd + 10] = 8;
    assert_eq!(
        export::import(&deflated).unwrap_err().code(),
        "archive_unsupported"
    );
}

fn central_size(zip: &[u8]) -> usize {
    let e = zip.len() - 22;
    u32::from_le_bytes([zip[e + 12], zip[e + 13], zip[e + 14], zip[e + 15]]) as usize
}

#[test]
fn import_skips_what_the_store_already_has() {
    let msgs = vec![
        m(Some("known-uid"), b"one"),
        m(None, b"known bytes"),
        m(Some("new"), b"new mail"),
        m(Some("new"), b"new mail again"),
        m(None, b"no uid, new"),
        m(None, b"no uid, new"),
    ];
    let (_, back) = export::import(&mbox::write_mboxrd(&msgs).unwrap()).unwrap();
    let known = vec![
        KnownRecord {
            key: "known-uid".into(),
            uid: Some("known-uid".into()),
            size: 3,
            fingerprint: None,
            first_seen_ms: 0,
            stored: Stored::Full,
            sha256: Some(sha256_hex(b"other")),
            local_deleted: false,
            delete_pending: false,
            server_gone: false,
        },
        KnownRecord {
            key: format!("sha256:{}", sha256_hex(b"known bytes")),
            uid: None,
            size: 11,
            fingerprint: None,
            first_seen_ms: 0,
            stored: Stored::Full,
            sha256: Some(sha256_hex(b"known bytes")),
            local_deleted: false,
            delete_pending: false,
            server_gone: true,
        },
    ];
    let (kept, skipped) = export::dedup(back, &known);
    assert_eq!(skipped, 4);
    assert_eq!(
        got(&kept),
        vec![
            (Some("new".to_owned()), b"new mail".to_vec()),
            (None, b"no uid, new".to_vec())
        ]
    );
    let r = kept[1].record(5);
    assert_eq!(r.key, format!("sha256:{}", sha256_hex(b"no uid, new")));
    assert!(r.server_gone && r.stored == Stored::Full && r.first_seen_ms == 5);
}

fn message() -> impl Strategy<Value = ExportMessage> {
    // Lines built from pieces that matter to mbox framing, joined by LF or CRLF, with or
    // without a final newline.
    let piece = prop_oneof![
        Just("From ".to_owned()),
        Just(">From ".to_owned()),
        Just(">>From x".to_owned()),
        Just("X-POP3-UIDL: y".to_owned()),
        Just(String::new()),
        Just("\r".to_owned()),
        "[ -~]{0,12}",
    ];
    let line = prop::collection::vec(piece, 0..4).prop_map(|p| p.concat());
    let eol = prop_oneof![Just("\n"), Just("\r\n")];
    (
        prop::collection::vec((line, eol), 0..8),
        any::<bool>(),
        prop::option::of("[!-~]{1,20}"),
    )
        .prop_map(|(lines, final_nl, uid)| {
            let mut raw = String::new();
            for (l, e) in &lines {
                raw.push_str(l);
                raw.push_str(e);
            }
            if !final_nl && raw.ends_with('\n') {
                raw.pop();
            }
            ExportMessage {
                uid,
                raw: raw.into_bytes(),
                date_ms: None,
            }
        })
}

proptest! {
    #[test]
    fn any_messages_round_trip_through_both_formats(msgs in prop::collection::vec(message(), 0..6)) {
        let want = expect(&msgs);
        let (_, back) = export::import(&zip::write_eml_zip(&msgs).unwrap()).unwrap();
        prop_assert_eq!(got(&back), want.clone());
        let file = mbox::write_mboxrd(&msgs).unwrap();
        if !msgs.is_empty() {
            let (_, back) = export::import(&file).unwrap();
            prop_assert_eq!(got(&back), want);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_readers(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = export::import(&bytes);
        let mut z = b"PK\x03\x04".to_vec();
        z.extend_from_slice(&bytes);
        let _ = export::import(&z);
        let mut f = b"From ".to_vec();
        f.extend_from_slice(&bytes);
        let _ = export::import(&f);
    }
}
