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

/// `python3 -c script` with `input` on stdin: its stdout. Python's `zipfile` and `mailbox`
/// are readers written without knowledge of ours; a round trip through our own reader alone
/// cannot catch a writer and a reader that agree on a wrong format.
fn python(script: &str, input: &[u8]) -> String {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3, the independent reader, runs (cargo xtask setup installs it)");
    // The scripts read all of stdin before they write: no deadlock.
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(input)
        .expect("python3 reads its input");
    let out = child.wait_with_output().expect("python3 finishes");
    assert!(
        out.status.success(),
        "python3 refused the archive: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("hex and ASCII only")
}

fn unhex(h: &str) -> Vec<u8> {
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).expect("hex"))
        .collect()
}

/// A message as an archive holds it, restated from the format (see `export`'s docs):
/// `X-POP3-UIDL: <uid>` ended like the message's own first line, then the message; without a
/// UIDL nothing is added, unless the message itself begins with such a line (then an empty one
/// goes before it).
fn framed(m: &ExportMessage) -> Vec<u8> {
    let raw = &m.raw;
    let crlf = raw
        .iter()
        .position(|&b| b == b'\n')
        .is_some_and(|i| i > 0 && raw[i - 1] == b'\r');
    let eol = if crlf { "\r\n" } else { "\n" };
    let ours = raw.len() >= 12 && raw[..12].eq_ignore_ascii_case(b"X-POP3-UIDL:");
    let mut out = match &m.uid {
        Some(u) => format!("X-POP3-UIDL: {u}{eol}").into_bytes(),
        None if ours => format!("X-POP3-UIDL:{eol}").into_bytes(),
        None => Vec::new(),
    };
    out.extend_from_slice(raw);
    out
}

/// Many messages from the property test's generator, the same on every run.
fn generated(count: usize) -> Vec<ExportMessage> {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    (0..count)
        .map(|_| message().new_tree(&mut runner).unwrap().current())
        .collect()
}

const PY_ZIP: &str = r#"
import io, sys, zipfile
z = zipfile.ZipFile(io.BytesIO(sys.stdin.buffer.read()))
bad = z.testzip()
assert bad is None, 'CRC-32 mismatch in ' + bad
for i in z.infolist():
    print(i.filename, i.compress_type, '%d-%d-%d-%d-%d-%d' % i.date_time, z.read(i).hex())
"#;

/// (name, compression method, date-time, bytes) of each entry, as Python's `zipfile` reads them.
fn python_unzip(file: &[u8]) -> Vec<(String, String, String, Vec<u8>)> {
    python(PY_ZIP, file)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.splitn(4, ' ').collect();
            assert_eq!(f.len(), 4, "{l}");
            (
                f[0].to_owned(),
                f[1].to_owned(),
                f[2].to_owned(),
                unhex(f[3]),
            )
        })
        .collect()
}

#[test]
fn the_zip_reads_back_byte_exact_in_pythons_zipfile() {
    let msgs = tricky();
    let entries = python_unzip(&zip::write_eml_zip(&msgs).unwrap());
    let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "u1.eml",
            "u2.eml",
            "message-3.eml",
            "u3.eml",
            "message-5.eml",
            "u4.eml",
            "u5.eml",
            "message-8.eml",
            "a_b_c.eml",
        ]
    );
    for (e, m) in entries.iter().zip(&msgs) {
        // Stored (method 0), dated 2026-11-27 02:10:00, the framed message byte for byte.
        assert_eq!((e.1.as_str(), e.2.as_str()), ("0", "2026-11-27-2-10-0"));
        assert_eq!(e.3, framed(m), "{}", e.0);
    }

    let msgs = generated(300);
    let entries = python_unzip(&zip::write_eml_zip(&msgs).unwrap());
    assert_eq!(entries.len(), msgs.len());
    let mut seen = std::collections::HashSet::new();
    for (e, m) in entries.iter().zip(&msgs) {
        assert!(e.0.ends_with(".eml") && !e.0.starts_with('.') && !e.0.contains(['/', '\\']));
        assert!(seen.insert(e.0.to_ascii_lowercase()), "{} twice", e.0);
        assert_eq!((e.1.as_str(), e.2.as_str()), ("0", "1980-1-1-0-0-0"));
        assert_eq!(e.3, framed(m), "{}", e.0);
    }
}

const PY_MBOXRD: &str = r#"
import mailbox, os, re, sys, tempfile
fd, path = tempfile.mkstemp()
os.write(fd, sys.stdin.buffer.read())
os.close(fd)
try:
    box = mailbox.mbox(path, create=False)
    for key in box.iterkeys():
        from_line, _, body = box.get_bytes(key, from_=True).partition(b'\n')
        # mboxrd: one '>' less on every line matching ^>+From .
        body = re.sub(rb'(?m)^>(>*From )', rb'\1', body)
        print(from_line.hex(), body.hex())
    box.close()
finally:
    os.unlink(path)
"#;

/// Checks an mboxrd file against Python's `mailbox.mbox`, which splits messages at every line
/// starting with "From " (so an unquoted one would split a message), with the mboxrd unquoting
/// done in Python.
fn assert_python_reads_mboxrd(msgs: &[ExportMessage], date: &str) {
    let file = mbox::write_mboxrd(msgs).unwrap();
    let back: Vec<(String, Vec<u8>)> = python(PY_MBOXRD, &file)
        .lines()
        .map(|l| {
            let (from, body) = l.split_once(' ').expect("two fields");
            (String::from_utf8(unhex(from)).expect("ASCII"), unhex(body))
        })
        .collect();
    assert_eq!(back.len(), msgs.len(), "messages split or merged");
    for (i, ((from, body), m)) in back.iter().zip(msgs).enumerate() {
        assert!(from.starts_with("From ") && from.ends_with(date), "{from}");
        // Python ends a message before the empty line that precedes the next "From " line;
        // a message that does not end in a newline keeps the newline the writer added.
        let mut want = framed(m);
        if !want.is_empty() && !want.ends_with(b"\n") {
            want.push(b'\n');
        }
        assert_eq!(
            *body,
            want,
            "message {i}: {:?}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn the_mboxrd_file_reads_back_byte_exact_in_pythons_mailbox() {
    assert_python_reads_mboxrd(&tricky(), " Fri Nov 27 02:10:00 2026");
    assert_python_reads_mboxrd(&generated(300), " Thu Jan  1 00:00:00 1970");
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
    assert_eq!(
        export::import(b"PK\x03\x04").unwrap_err().code(),
        "archive_corrupt"
    );
    assert_eq!(
        export::import(b"%PDF-1.4").unwrap_err(),
        ArchiveError::Unknown
    );
    // A method other than stored and deflated (12: bzip2) is said plainly.
    let mut bzip2 = good.clone();
    let cd = good.len() - 22 - central_size(&good);
    bzip2[cd + 10] = 12;
    assert_eq!(
        export::import(&bzip2).unwrap_err().code(),
        "archive_unsupported"
    );
}

#[test]
fn every_truncation_of_a_zip_is_a_typed_error() {
    // A zip is read from its end (the end-of-central-directory record), so no proper prefix
    // of one is a valid zip: each is refused with a typed error, and none reads back as a
    // shorter archive. Shorter than the 4-byte signature it is not recognised at all.
    let good = zip::write_eml_zip(&tricky()).unwrap();
    for cut in 0..good.len() {
        let result = export::import(&good[..cut]);
        if cut < 4 {
            assert_eq!(result, Err(ArchiveError::Unknown), "cut at {cut}");
        } else {
            assert!(
                matches!(result, Err(ArchiveError::Corrupt(_))),
                "cut at {cut} of {}: {result:?}",
                good.len()
            );
        }
    }
}

#[test]
fn a_truncated_mbox_keeps_every_message_before_the_cut_intact() {
    // mbox has no lengths and no checksums, so a cut file is itself a valid, shorter mbox:
    // every cut from 5 bytes on (a whole "From ") succeeds. What it returns is pinned here:
    // one message per "From " line that survived whole, all of them byte-exact except the
    // last, which is exact only when the cut falls on a message boundary or at the end (a cut
    // inside it, or inside the next "From " line, leaves it damaged, and that cannot be told).
    let msgs = tricky();
    let file = mbox::write_mboxrd(&msgs).unwrap();
    // Where each message's "From " line starts (the Python test proves no other line does).
    let starts: Vec<usize> = std::iter::once(0)
        .chain(
            file.windows(6)
                .enumerate()
                .filter(|(_, w)| *w == b"\nFrom ")
                .map(|(i, _)| i + 1),
        )
        .collect();
    assert_eq!(starts.len(), msgs.len());
    let want = expect(&msgs);
    for cut in 0..=file.len() {
        let result = export::import(&file[..cut]);
        if cut < 5 {
            assert_eq!(result, Err(ArchiveError::Unknown), "cut at {cut}");
            continue;
        }
        let (format, back) = result.unwrap_or_else(|e| panic!("cut at {cut}: {e:?}"));
        assert_eq!(format, Format::Mbox);
        let seen = starts.iter().filter(|&&s| s + 5 <= cut).count();
        assert_eq!(back.len(), seen, "cut at {cut}");
        let back = got(&back);
        assert_eq!(back[..seen - 1], want[..seen - 1], "cut at {cut}");
        let on_boundary = cut == file.len() || starts.get(seen) == Some(&cut);
        if on_boundary {
            assert_eq!(back[seen - 1], want[seen - 1], "cut at {cut}");
        }
    }
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

// Written a piece at a time (what the page's export does, so that it never holds a message
// whole): the same archive as written whole, however the messages are cut.

/// `msgs` through the mbox and zip writers, each message cut into pieces of `cut` bytes.
fn in_pieces(msgs: &[ExportMessage], cut: usize) -> (Vec<u8>, Vec<u8>) {
    let (mut mboxrd, mut zipped) = (Vec::new(), Vec::new());
    let mut mw = mbox::MboxWriter::default();
    let mut zw = zip::ZipWriter::default();
    for m in msgs {
        mw.begin(m.uid.as_deref(), m.date_ms).unwrap();
        zw.begin(m.uid.as_deref(), m.date_ms).unwrap();
        for piece in m.raw.chunks(cut.max(1)) {
            mw.write(piece, &mut mboxrd).unwrap();
            zw.write(piece).unwrap();
        }
        mw.end(&mut mboxrd).unwrap();
        // The zip's part before the message, then the message's own bytes, untouched.
        zipped.extend_from_slice(&zw.end().unwrap());
        zipped.extend_from_slice(&m.raw);
    }
    zipped.extend_from_slice(&zw.finish().unwrap());
    (mboxrd, zipped)
}

#[test]
fn crc32_is_zips_crc32() {
    assert_eq!(export::crc32::crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(export::crc32::crc32(b""), 0);
}

proptest! {
    #[test]
    fn crc32_in_any_pieces_is_crc32fasts(bytes in prop::collection::vec(any::<u8>(), 0..2048), cut in 1usize..100) {
        let mut c = export::crc32::Crc32::default();
        for piece in bytes.chunks(cut) {
            c.update(piece);
        }
        prop_assert_eq!(c.finish(), crc32fast::hash(&bytes));
    }

    #[test]
    fn each_piece_of_an_mbox_message_gives_about_its_own_size(
        tokens in prop::collection::vec(prop_oneof![
            (1usize..80).prop_map(|n| ">".repeat(n)),
            Just("From ".to_owned()),
            Just("Fro".to_owned()),
            Just("\n".to_owned()),
            "[ -~]{0,8}",
        ], 0..40),
        cut in 1usize..50,
    ) {
        // Past the head (decided at once here: the message begins with a blank line), the
        // quoter holds back at most four letters of `From ` and adds at most one `>`: a line
        // of `>`s never piles up in the writer, however long.
        let mut w = mbox::MboxWriter::default();
        w.begin(None, None).unwrap();
        w.write(b"\n\n", &mut Vec::new()).unwrap();
        let raw = tokens.concat().into_bytes();
        for piece in raw.chunks(cut) {
            let mut got = Vec::new();
            w.write(piece, &mut got).unwrap();
            // Out: the piece, the letters held back before it, and one `>` for each of its lines.
            let lines = piece.iter().filter(|&&b| b == b'\n').count() + 1;
            prop_assert!(got.len() <= piece.len() + 4 + lines, "{} bytes out of a piece of {}", got.len(), piece.len());
            prop_assert!(got.len() + 4 >= piece.len(), "{} bytes held back of a piece of {}", piece.len() - got.len(), piece.len());
        }
    }

    #[test]
    fn an_archive_written_in_pieces_is_the_archive_written_whole(
        msgs in prop::collection::vec(message(), 0..6),
        cut in 1usize..40,
    ) {
        let (mboxrd, zipped) = in_pieces(&msgs, cut);
        prop_assert_eq!(mboxrd, mbox::write_mboxrd(&msgs).unwrap());
        prop_assert_eq!(zipped, zip::write_eml_zip(&msgs).unwrap());
    }
}

#[test]
fn a_head_past_its_limit_frames_the_message_the_same_in_any_pieces() {
    let big = |fill: &[u8]| {
        // A header section longer than HEAD_MAX, its sender only after it: the sender is not
        // seen, whichever way the message is cut.
        let mut raw = b"Subject: long\r\n".to_vec();
        while raw.len() < export::HEAD_MAX + 10 {
            raw.extend_from_slice(fill);
        }
        raw.extend_from_slice(b"Return-Path: <late@example.test>\r\n\r\nFrom the body\r\n");
        m(Some("big"), &raw)
    };
    // A blank line or a line break cut across pieces: "\r\n\r\n", "\n\r" at a cut.
    let small = m(
        Some("s"),
        b"Return-Path: <s@x>\r\nA: b\r\n\r\nFrom x\r\n>From y\r\n",
    );
    // A blank line across HEAD_MAX: "\r\n" ends at HEAD_MAX - 1, the next "\r\n" straddles it.
    let mut straddle = b"Return-Path: <st@x>\r\nX-Fill: ".to_vec();
    straddle.resize(export::HEAD_MAX - 3, b'a');
    straddle.extend_from_slice(b"\r\n\r\nFrom body\r\n");
    let straddle = m(Some("st"), &straddle);
    let msgs = vec![
        big(b"X-Fill: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"),
        small,
        big(b"y"),
        // No line break in the first MiB: an LF ends the X-POP3-UIDL line.
        m(
            Some("long"),
            &[
                vec![b'y'; export::HEAD_MAX + 10],
                b"\r\n\r\nbody\r\n".to_vec(),
            ]
            .concat(),
        ),
        straddle,
    ];
    let whole = (
        mbox::write_mboxrd(&msgs).unwrap(),
        zip::write_eml_zip(&msgs).unwrap(),
    );
    for cut in [
        1,
        2,
        3,
        7,
        4096,
        65_536,
        export::HEAD_MAX - 1,
        export::HEAD_MAX + 1,
    ] {
        assert_eq!(in_pieces(&msgs, cut), whole, "pieces of {cut}");
    }
    let text = String::from_utf8_lossy(&whole.0);
    assert!(text.starts_with("From MAILER-DAEMON "), "{}", &text[..60]);
    assert!(text.contains("\nFrom s@x "), "the small message's sender");
    assert!(
        text.contains("\r\n>From the body\r\n"),
        "quoted past the head"
    );
    assert!(
        text.contains("\nX-POP3-UIDL: long\nyyy"),
        "LF without a line end in the head"
    );
    assert!(
        text.contains("\nFrom st@x "),
        "a head ending across HEAD_MAX is decided all the same"
    );
    let (_, back) = export::import(&whole.0).unwrap();
    assert_eq!(got(&back), expect(&msgs));
    let (_, back) = export::import(&whole.1).unwrap();
    assert_eq!(got(&back), expect(&msgs));
}

#[test]
fn an_archive_writers_calls_out_of_order_are_typed_errors() {
    let mut mw = mbox::MboxWriter::default();
    let mut out = Vec::new();
    assert!(matches!(
        mw.write(b"x", &mut out),
        Err(ArchiveError::Order(_))
    ));
    assert!(matches!(mw.end(&mut out), Err(ArchiveError::Order(_))));
    mw.begin(None, None).unwrap();
    assert!(matches!(mw.begin(None, None), Err(ArchiveError::Order(_))));
    let mut zw = zip::ZipWriter::default();
    assert!(matches!(zw.write(b"x"), Err(ArchiveError::Order(_))));
    assert!(matches!(zw.end(), Err(ArchiveError::Order(_))));
    zw.begin(None, None).unwrap();
    assert!(matches!(zw.finish(), Err(ArchiveError::Order(_))));
    assert!(matches!(mw.finish(), Err(ArchiveError::Order(_))));
    assert!(out.is_empty());
}

#[test]
fn an_abandoned_message_leaves_the_archive_as_if_it_had_not_been_begun() {
    let msgs = tricky();
    let (mut mboxrd, mut zipped) = (Vec::new(), Vec::new());
    let mut mw = mbox::MboxWriter::default();
    let mut zw = zip::ZipWriter::default();
    for (i, m) in msgs.iter().enumerate() {
        // Before each message, one that fails halfway (a damaged copy): begun, partly
        // written, abandoned, and what it gave left out.
        mw.begin(Some(&format!("lost{i}")), None).unwrap();
        zw.begin(None, None).unwrap();
        mw.write(b"From: x\n\nFrom half", &mut Vec::new()).unwrap();
        zw.write(b"half").unwrap();
        mw.abandon();
        zw.abandon();

        mw.begin(m.uid.as_deref(), m.date_ms).unwrap();
        zw.begin(m.uid.as_deref(), m.date_ms).unwrap();
        mw.write(&m.raw, &mut mboxrd).unwrap();
        zw.write(&m.raw).unwrap();
        mw.end(&mut mboxrd).unwrap();
        zipped.extend_from_slice(&zw.end().unwrap());
        zipped.extend_from_slice(&m.raw);
    }
    mw.finish().unwrap();
    zipped.extend_from_slice(&zw.finish().unwrap());
    assert_eq!(mboxrd, mbox::write_mboxrd(&msgs).unwrap());
    assert_eq!(zipped, zip::write_eml_zip(&msgs).unwrap());
}

// Zips made by other tools: deflated (method 8) and stored entries, with and without data
// descriptors, and the limits that keep a deflate bomb out.

const PY_MAKE_ZIP: &str = r#"
import io, sys, zipfile
class Pipe:
    # Not seekable: zipfile then writes data descriptors (bit 3), as when zipping to a pipe.
    def __init__(self): self.b = bytearray()
    def write(self, d): self.b += d; return len(d)
    def flush(self): pass
lines = sys.stdin.read().split('\n')
out = Pipe() if lines[0] == 'stream' else io.BytesIO()
with zipfile.ZipFile(out, 'w') as z:
    for l in lines[1:]:
        if not l: continue
        name, method, level, data = l.split(' ')
        z.writestr(name, bytes.fromhex(data), compress_type=int(method), compresslevel=int(level))
print(bytes(out.b if isinstance(out, Pipe) else out.getvalue()).hex())
"#;

/// Python's `zipfile` writes `(name, method, level, bytes)` entries; `stream`: to a pipe (data
/// descriptors).
fn python_zip(stream: bool, entries: &[(String, u16, u8, Vec<u8>)]) -> Vec<u8> {
    let mut input = String::from(if stream { "stream\n" } else { "seek\n" });
    for (name, method, level, data) in entries {
        let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
        input.push_str(&format!("{name} {method} {level} {hex}\n"));
    }
    unhex(python(PY_MAKE_ZIP, input.as_bytes()).trim())
}

/// The messages as `.eml` entries, all deflated at levels 0 (stored blocks), 1, 6 and 9 in turn.
fn deflated_entries(msgs: &[ExportMessage]) -> Vec<(String, u16, u8, Vec<u8>)> {
    msgs.iter()
        .enumerate()
        .map(|(i, m)| (format!("{i}.eml"), 8, [0, 1, 6, 9][i % 4], framed(m)))
        .collect()
}

/// Large messages: one compressible enough to need many times its compressed size (the
/// output grows while inflating), one barely compressible.
fn big_messages() -> Vec<ExportMessage> {
    let mut text = b"Subject: big\r\n\r\n".to_vec();
    for i in 0..40_000 {
        text.extend_from_slice(format!("line {i} of a long newsletter\r\n").as_bytes());
    }
    let mut noise = b"Subject: noise\n\n".to_vec();
    let mut x: u32 = 1;
    for _ in 0..200_000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        noise.push(b' ' + (x >> 16) as u8 % 95);
    }
    vec![m(Some("big"), &text), m(None, &noise)]
}

#[test]
fn zips_deflated_by_pythons_zipfile_import_byte_exact() {
    let mut msgs = tricky();
    msgs.extend(generated(200));
    msgs.extend(big_messages());
    for stream in [false, true] {
        let file = python_zip(stream, &deflated_entries(&msgs));
        let (format, back) = export::import(&file).unwrap();
        assert_eq!(format, Format::Zip);
        assert_eq!(got(&back), expect(&msgs), "stream: {stream}");
        assert!(
            back.iter()
                .zip(&msgs)
                .all(|(b, m)| b.sha256 == sha256_hex(&m.raw))
        );
    }
}

#[test]
fn a_mixed_stored_and_deflated_zip_imports_and_skips_other_entries() {
    let msgs = tricky();
    let mut entries = Vec::new();
    for (i, msg) in msgs.iter().enumerate() {
        let method = if i % 2 == 0 { 0 } else { 8 };
        entries.push((format!("mail/{i}.eml"), method, 9, framed(msg)));
        if i == 3 {
            entries.push(("mail/".to_owned(), 0, 0, Vec::new()));
            entries.push(("notes.txt".to_owned(), 8, 9, b"not mail ".repeat(50)));
        }
    }
    for stream in [false, true] {
        let file = python_zip(stream, &entries);
        let methods: Vec<u16> = central_entries(&file)
            .iter()
            .map(|&at| u16_at(&file, at + 10))
            .collect();
        assert_eq!(methods, [0, 8, 0, 8, 0, 8, 0, 8, 0, 8, 0]);
        let (_, back) = export::import(&file).unwrap();
        assert_eq!(got(&back), expect(&msgs), "stream: {stream}");
    }
}

/// Info-ZIP's `zip`, when installed: to a file, and to a pipe (data descriptors). It stores
/// what does not shrink (the tiny messages) and deflates the rest: a mixed archive.
#[test]
fn zips_made_by_the_zip_command_import_byte_exact() {
    use std::process::{Command, Stdio};
    let mut msgs = tricky();
    msgs.extend(generated(50));
    msgs.extend(big_messages());
    let dir = std::env::temp_dir().join(format!("pop3-sync-zip-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let names: Vec<String> = (0..msgs.len()).map(|i| format!("{i}.eml")).collect();
    for (name, msg) in names.iter().zip(&msgs) {
        std::fs::write(dir.join(name), framed(msg)).unwrap();
    }
    let zip = |out: &str| {
        Command::new("zip")
            .args(["-q", "-X", "-9", out])
            .args(&names)
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .output()
    };
    let to_pipe = match zip("-") {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("`zip` is not installed: skipped");
            let _ = std::fs::remove_dir_all(&dir);
            return;
        }
        Err(e) => panic!("zip: {e}"),
    };
    assert!(to_pipe.status.success());
    assert!(zip("out.zip").unwrap().status.success());
    let to_file = std::fs::read(dir.join("out.zip")).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    for (file, descriptors) in [(to_pipe.stdout, true), (to_file, false)] {
        let entries = central_entries(&file);
        let methods: Vec<u16> = entries.iter().map(|&at| u16_at(&file, at + 10)).collect();
        assert!(methods.contains(&8), "{methods:?}");
        let flags = entries.iter().map(|&at| u16_at(&file, at + 8) & 8 != 0);
        assert!(flags.clone().all(|f| f == descriptors));
        let (_, back) = export::import(&file).unwrap();
        assert_eq!(got(&back), expect(&msgs));
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn set_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn set_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// Where each central directory entry starts (archives without a comment).
fn central_entries(zip: &[u8]) -> Vec<usize> {
    let end = zip.len() - 22;
    let mut at = u32_at(zip, end + 16) as usize;
    (0..u16_at(zip, end + 10))
        .map(|_| {
            let here = at;
            at += 46
                + usize::from(u16_at(zip, at + 28))
                + usize::from(u16_at(zip, at + 30))
                + usize::from(u16_at(zip, at + 32));
            here
        })
        .collect()
}

/// Where the data of the entry whose central header is at `cd` starts.
fn data_of(zip: &[u8], cd: usize) -> usize {
    let l = u32_at(zip, cd + 42) as usize;
    l + 30 + usize::from(u16_at(zip, l + 26)) + usize::from(u16_at(zip, l + 28))
}

/// Marks an entry deflated (central and local header) declaring `size` bytes of output.
fn declare_deflated(zip: &mut [u8], cd: usize, size: u32) {
    let l = u32_at(zip, cd + 42) as usize;
    set_u16(zip, cd + 10, 8);
    set_u16(zip, l + 8, 8);
    set_u32(zip, cd + 24, size);
}

#[test]
fn a_wrong_crc_is_refused_in_deflated_and_stored_entries() {
    let msgs = big_messages();
    // Level 0: deflate's stored blocks, so a flipped byte still inflates and only the CRC-32
    // can tell.
    let entries = vec![
        ("a.eml".to_owned(), 8, 0, framed(&msgs[0])),
        ("b.eml".to_owned(), 0, 0, framed(&msgs[1])),
    ];
    let good = python_zip(false, &entries);
    assert_eq!(export::import(&good).unwrap().1.len(), 2);
    let corrupt = Err(ArchiveError::Corrupt("a checksum (CRC-32) does not match"));
    for cd in central_entries(&good) {
        let mut bad = good.clone();
        bad[cd + 16] ^= 1;
        assert_eq!(export::import(&bad).map(|_| ()), corrupt);
        let mut bad = good.clone();
        bad[data_of(&good, cd) + 1000] ^= 0x20;
        assert_eq!(export::import(&bad).map(|_| ()), corrupt);
    }
}

#[test]
fn a_corrupt_or_cut_deflate_stream_is_refused() {
    let msgs = big_messages();
    let entries = vec![
        ("a.eml".to_owned(), 8, 9, framed(&msgs[0])),
        ("b.eml".to_owned(), 8, 9, framed(&msgs[1])),
    ];
    let good = python_zip(false, &entries);
    let cd = central_entries(&good)[0];
    let csize = u32_at(&good, cd + 20);
    let usize_ = u32_at(&good, cd + 24);
    let data = data_of(&good, cd);
    let refused = |bytes: &[u8], why: &'static str| {
        assert_eq!(
            export::import(bytes).map(|_| ()),
            Err(ArchiveError::Corrupt(why))
        );
    };

    let mut cut = good.clone();
    set_u32(&mut cut, cd + 20, csize / 2);
    refused(&cut, "a compressed entry is cut short");
    let mut reserved = good.clone();
    reserved[data] |= 0b110; // block type 3 does not exist
    refused(&reserved, "a compressed entry is not valid deflate");
    let mut longer = good.clone();
    set_u32(&mut longer, cd + 20, csize + 1);
    refused(&longer, "a compressed entry has data after its end");
    let mut small = good.clone();
    set_u32(&mut small, cd + 24, usize_ - 1);
    refused(&small, "an entry inflates to more than its declared size");
    let mut large = good.clone();
    set_u32(&mut large, cd + 24, usize_ + 1);
    refused(&large, "an entry inflates to less than its declared size");
    // The local header must agree on the method.
    let mut local = good.clone();
    set_u16(&mut local, u32_at(&good, cd + 42) as usize + 8, 0);
    refused(
        &local,
        "a local header's method differs from the central directory's",
    );
}

#[test]
fn every_truncation_of_a_deflated_zip_is_a_typed_error() {
    let msgs = tricky();
    let good = python_zip(true, &deflated_entries(&msgs));
    for cut in 4..good.len() {
        let result = export::import(&good[..cut]);
        assert!(
            matches!(result, Err(ArchiveError::Corrupt(_))),
            "cut at {cut} of {}: {result:?}",
            good.len()
        );
    }
}

const PY_ZEROS_ZIP: &str = r#"
import io, sys, zipfile
mib = int(sys.stdin.read())
buf = io.BytesIO()
with zipfile.ZipFile(buf, 'w', zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    with z.open('bomb.eml', 'w') as f:
        chunk = bytes(1 << 20)
        for _ in range(mib): f.write(chunk)
print(buf.getvalue().hex())
"#;

#[test]
fn a_deflate_bomb_is_refused() {
    // 300 MiB of zeros in about 300 KB, declared as such: more than one message may be.
    let bomb = unhex(python(PY_ZEROS_ZIP, b"300").trim());
    assert!(bomb.len() < 400_000, "{}", bomb.len());
    let cd = central_entries(&bomb)[0];
    assert_eq!(u32_at(&bomb, cd + 24), 300 << 20);
    assert_eq!(
        export::import(&bomb).map(|_| ()),
        Err(ArchiveError::TooLarge(
            "a message in the zip is larger than 256 MiB"
        ))
    );
    // The same stream declaring 1 MiB: inflating stops at 1 MiB, 299 MiB short of its end.
    let mut liar = bomb.clone();
    set_u32(&mut liar, cd + 24, 1 << 20);
    assert_eq!(
        export::import(&liar).map(|_| ()),
        Err(ArchiveError::Corrupt(
            "an entry inflates to more than its declared size"
        ))
    );
    assert_eq!(zip::MAX_ENTRY, 256 << 20);
    assert_eq!(zip::MAX_TOTAL, 1 << 30);
}

/// A zip whose first entry is not valid deflate, then `sizes.len()` entries of 300,000 bytes
/// each declared deflated to the given size.
fn lying_zip(sizes: &[u32]) -> Vec<u8> {
    let mut msgs = vec![m(None, b"aaaa")];
    msgs.extend(sizes.iter().map(|_| m(None, &[b'a'; 300_000])));
    let mut file = zip::write_eml_zip(&msgs).unwrap();
    let cds = central_entries(&file);
    declare_deflated(&mut file, cds[0], 4);
    for (&cd, &size) in cds[1..].iter().zip(sizes) {
        declare_deflated(&mut file, cd, size);
    }
    file
}

#[test]
fn the_limits_are_checked_before_anything_is_inflated() {
    // Each would be refused as corrupt at its first entry if that were inflated first.
    assert!(matches!(
        export::import(&lying_zip(&[4])),
        Err(ArchiveError::Corrupt(_))
    ));
    // One entry over 256 MiB.
    assert_eq!(
        export::import(&lying_zip(&[(256 << 20) + 1])).map(|_| ()),
        Err(ArchiveError::TooLarge(
            "a message in the zip is larger than 256 MiB"
        ))
    );
    // Five of 250 MiB each, every one plausible for 300 KB of deflate: 1.2 GiB together.
    assert_eq!(
        export::import(&lying_zip(&[250 << 20; 5])).map(|_| ()),
        Err(ArchiveError::TooLarge(
            "the messages in the zip add up to more than 1 GiB"
        ))
    );
    // 300 KB cannot inflate to 310 MB (deflate's best is 1032:1): refused before the output
    // is allocated, even below the per-message limit.
    let mut file = zip::write_eml_zip(&[m(None, b"aaaa"), m(None, &[b'a'; 1000])]).unwrap();
    let cds = central_entries(&file);
    declare_deflated(&mut file, cds[0], 4);
    declare_deflated(&mut file, cds[1], 2_000_000);
    assert_eq!(
        export::import(&file).map(|_| ()),
        Err(ArchiveError::Corrupt(
            "an entry declares more than its compressed size can hold"
        ))
    );
}

/// A deflated archive from Python (data descriptors, stored and deflated entries, dynamic and
/// fixed Huffman blocks), made once for the property test.
fn python_sample() -> &'static [u8] {
    static SAMPLE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    SAMPLE.get_or_init(|| {
        let mut msgs = tricky();
        msgs.push(m(
            Some("long"),
            &b"Subject: repeated\r\n\r\nsome text, some more text\r\n".repeat(40),
        ));
        let mut entries = deflated_entries(&msgs);
        entries[2].1 = 0;
        python_zip(true, &entries)
    })
}

proptest! {
    #[test]
    fn mutated_deflated_zips_never_panic(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let mut file = python_sample().to_vec();
        for (at, byte) in edits {
            let i = at.index(file.len());
            file[i] = byte;
        }
        if let Some(cut) = cut {
            file.truncate(cut.index(file.len()));
        }
        let _ = export::import(&file);
    }

    #[test]
    fn arbitrary_deflate_data_never_panics(
        data in prop::collection::vec(any::<u8>(), 0..2048),
        declared in 0u32..(1 << 20),
    ) {
        let mut file = zip::write_eml_zip(&[m(None, &data)]).unwrap();
        let cd = central_entries(&file)[0];
        declare_deflated(&mut file, cd, declared);
        let _ = export::import(&file);
    }
}
