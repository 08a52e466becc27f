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
    // A deflated entry is not ours: said plainly.
    let mut deflated = good.clone();
    let cd = good.len() - 22 - central_size(&good);
    deflated[cd + 10] = 8;
    assert_eq!(
        export::import(&deflated).unwrap_err().code(),
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
