//! Header sections for display: unfolding, encoded words and the charset hook, addresses,
//! dates, Message-ID, and the shared rule of unsafe characters on everything shown.

use std::cell::RefCell;

use pop3_headers::{
    Builtin, Charsets, Headers, Mailbox, decode_encoded_words, display_name, mailboxes, message_id,
    parse_date, summarize,
};

/// A hook that knows one charset and records every label it was asked about.
struct Recording {
    asked: RefCell<Vec<String>>,
}

impl Charsets for Recording {
    fn decode(&self, label: &str, bytes: &[u8]) -> Option<String> {
        self.asked.borrow_mut().push(label.to_owned());
        // ISO-2022-JP for the one test string: ESC $ B, two-byte JIS, ESC ( B.
        (label.eq_ignore_ascii_case("iso-2022-jp") && bytes == b"\x1b$B%F%9%H\x1b(B")
            .then(|| "テスト".to_owned())
    }
}

fn recording() -> Recording {
    Recording {
        asked: RefCell::new(Vec::new()),
    }
}

/// The header vectors of client-wasm/pop3-proto/tests/unsafe_text_vectors.json, which the
/// JavaScript test (tests/tests/unsafe_text_js.rs) runs through the wasm `summarizeHeaders`.
#[test]
fn shared_header_vectors_give_the_expected_display_text() {
    let text = include_str!("../../pop3-proto/tests/unsafe_text_vectors.json");
    let v: serde_json::Value = serde_json::from_str(text).unwrap();
    let list = v["headers"].as_array().unwrap();
    assert!(!list.is_empty());
    for e in list {
        let s = summarize(e["input"].as_str().unwrap().as_bytes(), &Builtin);
        let why = e["why"].as_str().unwrap();
        assert_eq!(s.subject, e["subject"].as_str().unwrap(), "{why}");
        assert_eq!(s.from, e["from"].as_str().unwrap(), "{why}");
        assert_eq!(
            display_name(&s.from),
            e["displayName"].as_str().unwrap(),
            "{why}"
        );
    }
    // And every sample text, as a Subject in an encoded word, is its display line.
    for e in v["text"].as_array().unwrap() {
        let input = e["input"].as_str().unwrap();
        let subject = format!("Subject: =?utf-8?q?{}?=\r\n\r\n", q_encode(input));
        assert_eq!(
            summarize(subject.as_bytes(), &()).subject,
            e["line"].as_str().unwrap(),
            "{input:?}"
        );
    }
}

fn q_encode(s: &str) -> String {
    s.bytes().map(|b| format!("={b:02X}")).collect()
}

#[test]
fn folded_subject_is_unfolded() {
    let s = summarize(b"Subject: hello\r\n  world\r\n\tagain\r\n\r\n", &());
    assert_eq!(s.subject, "hello world again");
}

#[test]
fn the_header_section_ends_at_the_first_empty_line() {
    let h = Headers::parse(b"Subject: real\nX: 1\n\nSubject: in the body\n");
    assert_eq!(h.fields.len(), 2);
    assert_eq!(h.raw("subject"), Some(&b"real"[..]));
}

#[test]
fn names_are_case_insensitive_and_the_first_field_wins() {
    let h = Headers::parse(b"SUBJECT: one\r\nsubject: two\r\n\r\n");
    assert_eq!(h.text("subject", &()), Some("one".to_owned()));
}

#[test]
fn encoded_word_in_iso_2022_jp_goes_through_the_charset_hook() {
    let hook = recording();
    let s = summarize(
        b"Subject: =?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=\r\n\r\n",
        &hook,
    );
    assert_eq!(s.subject, "テスト");
    assert_eq!(hook.asked.borrow().as_slice(), ["ISO-2022-JP"]);
}

#[test]
fn builtin_charsets_need_no_hook() {
    let s = summarize(
        b"Subject: =?ISO-8859-1?Q?Gr=FC=DFe?= and =?UTF-8?B?8J+Ygg==?= =?windows-1252?q?=80?=\r\n\r\n",
        &(),
    );
    // Adjacent encoded words join without the space between them (RFC 2047 §6.2).
    assert_eq!(s.subject, "Grüße and 😂€");
}

#[test]
fn the_hook_is_asked_before_the_builtin_charsets() {
    struct Upper;
    impl Charsets for Upper {
        fn decode(&self, _: &str, bytes: &[u8]) -> Option<String> {
            Some(String::from_utf8_lossy(bytes).to_uppercase())
        }
    }
    assert_eq!(
        decode_encoded_words("=?utf-8?q?abc?=", &Upper),
        "ABC".to_owned()
    );
}

#[test]
fn unknown_charset_leaves_the_encoded_word_as_written() {
    assert_eq!(
        decode_encoded_words("a =?x-unknown?q?b?= c", &()),
        "a =?x-unknown?q?b?= c"
    );
}

#[test]
fn whitespace_between_adjacent_encoded_words_is_dropped() {
    assert_eq!(
        decode_encoded_words("=?utf-8?q?a?= \r\n =?utf-8?q?b?= c =?utf-8?q?d?=", &()),
        "ab c d"
    );
}

#[test]
fn a_character_split_between_two_encoded_words_survives() {
    // "ü" is C3 BC; a sloppy sender put each byte in its own word.
    assert_eq!(
        decode_encoded_words("=?UTF-8?B?ww==?= =?utf-8?B?vA==?=", &()),
        "ü"
    );
}

#[test]
fn q_encoding_turns_underscores_into_spaces_and_keeps_bad_escapes() {
    assert_eq!(
        decode_encoded_words("=?utf-8?Q?a_b=3Dc=ZZ?=", &()),
        "a b=c=ZZ"
    );
}

#[test]
fn malformed_encoded_words_are_plain_text() {
    for s in [
        "=?",
        "=?utf-8?",
        "=?utf-8?x?abc?=",
        "=??q?a?=",
        "=?utf-8?q?a b?=",
        "=?=?=?",
    ] {
        assert_eq!(decode_encoded_words(s, &()), s);
    }
}

#[test]
fn eight_bit_headers_are_utf8_or_else_windows_1252() {
    let s = summarize(b"Subject: caf\xc3\xa9\r\nTo: caf\xe9 \x80\r\n\r\n", &());
    assert_eq!(s.subject, "café");
    assert_eq!(s.to, "café €");
}

#[test]
fn display_text_has_no_unsafe_characters() {
    let s = summarize(
        b"Subject: =?utf-8?q?a=E2=80=AEb=0D=0AX-Fake:_1=E2=80=8B?=\r\nFrom: =?UTF-8?Q?=E2=80=AEevil?= <r@x>\r\n\r\n",
        &(),
    );
    assert_eq!(s.subject, "ab  X-Fake: 1");
    assert_eq!(s.from, "evil <r@x>");
    assert!(!pop3_proto::text::has_unsafe(&s.subject));
}

#[test]
fn addresses_give_names_and_addresses_with_groups_flattened() {
    let cs = &Builtin;
    assert_eq!(
        mailboxes(
            b"=?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <juergen@example.org>",
            cs
        ),
        [Mailbox {
            name: Some("Jürgen Müller".into()),
            address: Some("juergen@example.org".into())
        }]
    );
    let to = mailboxes(b"Alice <alice@example.org>, bob@example.org", cs);
    assert_eq!(to.len(), 2);
    assert_eq!(to[1].address.as_deref(), Some("bob@example.org"));
    assert_eq!(to[1].name, None);
    let cc = mailboxes(
        b"Team: carol@example.org, dave@example.org;, undisclosed-recipients:;",
        cs,
    );
    assert_eq!(
        cc.iter()
            .map(|m| m.address.as_deref().unwrap_or(""))
            .collect::<Vec<_>>(),
        ["carol@example.org", "dave@example.org"]
    );
}

#[test]
fn quoted_names_keep_their_commas_and_escapes() {
    let m = mailboxes(br#""Doe, Jane \"JD\"" <jane@example.org>, "x" <y@z>"#, &());
    assert_eq!(m.len(), 2);
    assert_eq!(m[0].name.as_deref(), Some(r#"Doe, Jane "JD""#));
    assert_eq!(m[0].address.as_deref(), Some("jane@example.org"));
}

#[test]
fn an_encoded_word_holding_a_comma_is_one_name() {
    let m = mailboxes(b"=?utf-8?q?Doe,_Jane?= <jane@example.org>", &());
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].name.as_deref(), Some("Doe, Jane"));
}

#[test]
fn a_comment_names_a_bare_address() {
    let m = mailboxes(b"ann@example.org (Ann Example)", &());
    assert_eq!(m[0].name.as_deref(), Some("Ann Example"));
    assert_eq!(m[0].address.as_deref(), Some("ann@example.org"));
}

#[test]
fn names_keep_their_spacing_and_dots() {
    let m = mailboxes(b"J. R. Doe <jrd@example.org>", &());
    assert_eq!(m[0].name.as_deref(), Some("J. R. Doe"));
}

#[test]
fn hostile_names_are_text_without_bidi() {
    let m = mailboxes(
        "\"\u{202E}evil\" <r@example.invalid>, =?UTF-8?B?PHNjcmlwdD54PC9zY3JpcHQ+?= <v@x>"
            .as_bytes(),
        &(),
    );
    assert_eq!(m[0].name.as_deref(), Some("evil"));
    assert_eq!(m[1].name.as_deref(), Some("<script>x</script>"));
}

#[test]
fn display_name_is_the_name_or_else_the_address() {
    assert_eq!(display_name("Ann Example <ann@example.org>"), "Ann Example");
    assert_eq!(
        display_name("\"Doe, Jane\" <jane@example.org>"),
        "Doe, Jane"
    );
    assert_eq!(display_name("<ann@example.org>"), "ann@example.org");
    assert_eq!(display_name("ann@example.org "), "ann@example.org");
    assert_eq!(display_name("a <b> c"), "a <b> c");
    assert_eq!(display_name("\u{202E}x <y@z>"), "x");
}

#[test]
fn date_becomes_epoch_ms_with_the_senders_offset() {
    let d = parse_date("Thu, 26 Nov 2026 10:00:00 +0100").unwrap();
    assert_eq!(d.epoch_ms, 1_795_683_600_000);
    assert_eq!(d.offset_minutes, 60);
    assert_eq!(d.to_rfc3339(), "2026-11-26T10:00:00+01:00");
    let utc = parse_date("1 Jan 1970 00:00 GMT").unwrap();
    assert_eq!(
        (utc.epoch_ms, utc.to_rfc3339().as_str()),
        (0, "1970-01-01T00:00:00Z")
    );
    assert_eq!(
        parse_date("Mon, 2 Jan 06 15:04:05 -0700 (MST)")
            .unwrap()
            .to_rfc3339(),
        "2006-01-02T15:04:05-07:00"
    );
    assert_eq!(
        parse_date("2 jan 99 1:02 EST").unwrap().to_rfc3339(),
        "1999-01-02T01:02:00-05:00"
    );
    assert_eq!(
        parse_date("29 Feb 2024 23:59:60 +0000").unwrap().epoch_ms,
        parse_date("29 Feb 2024 23:59:59 +0000").unwrap().epoch_ms
    );
}

#[test]
fn impossible_dates_are_none() {
    for bad in [
        "",
        "yesterday",
        "30 Feb 2024 00:00 +0000",
        "29 Feb 2023 00:00 +0000",
        "1 Foo 2024 00:00",
        "1 Jan 2024 24:00",
        "1 Jan 2024 10",
        "99999999999999999999 Jan 2024 00:00",
    ] {
        assert_eq!(parse_date(bad), None, "{bad:?}");
    }
}

#[test]
fn message_id_loses_its_brackets() {
    assert_eq!(
        message_id(b" <abc@example.org> ").as_deref(),
        Some("abc@example.org")
    );
    assert_eq!(message_id(b"abc@x").as_deref(), Some("abc@x"));
    assert_eq!(message_id(b"<>"), None);
}

#[test]
fn summary_has_every_list_field() {
    let s = summarize(
        b"From: A <a@x>\r\nTo: b@x\r\nCc: c@x\r\nSubject: s\r\nDate: Thu, 26 Nov 2026 10:00:00 +0100\r\nMessage-ID: <1@x>\r\n\r\nbody",
        &(),
    );
    assert_eq!(
        (
            s.from.as_str(),
            s.to.as_str(),
            s.cc.as_str(),
            s.subject.as_str()
        ),
        ("A <a@x>", "b@x", "c@x", "s")
    );
    assert_eq!(s.date_text, "Thu, 26 Nov 2026 10:00:00 +0100");
    assert_eq!(s.date.map(|d| d.epoch_ms), Some(1_795_683_600_000));
    assert_eq!(s.message_id.as_deref(), Some("1@x"));
}

/// Field values full of what the shared rule removes: bidi, invisibles, controls, and an RLO
/// inside an encoded word.
const HOSTILE: &str = "(?s)([\\x{202A}-\\x{202E}\\x{2066}-\\x{2069}\\x{200B}-\\x{200F}\\x{061C}\\x{FEFF}\\x00-\\x1F\\x7F-\\x9F]|=\\?utf-8\\?q\\?=E2=80=AE=0A\\?=|[<>\",:;@()\\\\]|.){0,40}";

proptest::proptest! {
    #[test]
    fn any_header_section_gives_safe_display_text(
        fields in proptest::collection::vec(
            (proptest::sample::select(vec!["From", "To", "Cc", "Subject", "Date", "Message-ID"]), HOSTILE),
            0..8,
        ),
        tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
    ) {
        let mut raw = Vec::new();
        for (name, value) in &fields {
            raw.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        raw.extend_from_slice(&tail);
        let s = summarize(&raw, &Builtin);
        for t in [&s.from, &s.to, &s.cc, &s.subject, &s.date_text] {
            proptest::prop_assert!(!pop3_proto::text::has_unsafe(t), "{t:?}");
        }
        proptest::prop_assert!(!s.message_id.as_deref().is_some_and(pop3_proto::text::has_unsafe));
        for name in ["from", "to", "cc"] {
            for m in Headers::parse(&raw).mailboxes(name, &()) {
                proptest::prop_assert!(!m.name.as_deref().is_some_and(pop3_proto::text::has_unsafe), "{m:?}");
                proptest::prop_assert!(!m.address.as_deref().is_some_and(pop3_proto::text::has_unsafe), "{m:?}");
            }
        }
        proptest::prop_assert!(!pop3_proto::text::has_unsafe(&display_name(&String::from_utf8_lossy(&raw))));
        let _ = parse_date(&String::from_utf8_lossy(&raw));
    }

    #[test]
    fn any_text_with_encoded_words_decodes_without_panicking(s in "(=\\?[a-zA-Z0-9*-]{0,12}\\?[bBqQx]\\?[ -~]{0,20}\\?=| |[a-z]|=|\\?){0,40}") {
        let _ = decode_encoded_words(&s, &Builtin);
        let _ = mailboxes(s.as_bytes(), &Builtin);
    }
}
