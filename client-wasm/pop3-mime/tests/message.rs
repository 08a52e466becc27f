//! The message view: headers as text, part ids, body selection, attachments and their bytes.

use pop3_mime::{
    Disposition, Limits, SanitizeOptions, Warning, parse_message, part_bytes, render_html,
};

const MIXED: &str = "From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <juergen@example.org>\r\n\
To: Alice <alice@example.org>, bob@example.org\r\n\
Cc: Team: carol@example.org, dave@example.org;\r\n\
Reply-To: replies@example.org\r\n\
Subject: =?ISO-8859-1?Q?Gr=FC=DFe?= and =?UTF-8?B?8J+Ygg==?=\r\n\
Date: Thu, 26 Nov 2026 10:00:00 +0100\r\n\
Message-ID: <abc@example.org>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"m\"\r\n\
\r\n\
--m\r\n\
Content-Type: multipart/alternative; boundary=\"a\"\r\n\
\r\n\
--a\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Plain body\r\n\
--a\r\n\
Content-Type: multipart/related; boundary=\"r\"\r\n\
\r\n\
--r\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<p>HTML <b>body</b> <img src=\"cid:logo\"></p>\r\n\
--r\r\n\
Content-Type: image/gif\r\n\
Content-Transfer-Encoding: base64\r\n\
Content-ID: <logo>\r\n\
\r\n\
R0lGODlhAQABAAAAACw=\r\n\
--r--\r\n\
--a--\r\n\
--m\r\n\
Content-Type: application/pdf; name=\"ignored.pdf\"\r\n\
Content-Disposition: attachment; filename*=UTF-8''B%C3%A9richt%20%E2%80%AE.pdf\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0xLjQK\r\n\
--m\r\n\
Content-Type: text/plain; charset=iso-8859-1; name=\"notes.txt\"\r\n\
Content-Disposition: attachment; filename=\"notes.txt\"\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
caf=E9\r\n\
--m--\r\n";

#[test]
fn headers_are_decoded_to_plain_text() {
    let v = parse_message(MIXED.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(v.subject.as_deref(), Some("Grüße and 😂"));
    assert_eq!(v.from[0].name.as_deref(), Some("Jürgen Müller"));
    assert_eq!(v.from[0].address.as_deref(), Some("juergen@example.org"));
    assert_eq!(v.to.len(), 2);
    assert_eq!(v.to[1].address.as_deref(), Some("bob@example.org"));
    assert_eq!(v.cc.len(), 2, "groups are flattened: {:?}", v.cc);
    assert_eq!(
        v.reply_to[0].address.as_deref(),
        Some("replies@example.org")
    );
    assert_eq!(v.date.as_deref(), Some("2026-11-26T10:00:00+01:00"));
    assert_eq!(v.message_id.as_deref(), Some("abc@example.org"));
}

#[test]
fn parts_get_imap_style_ids_and_the_alternative_picks_both_bodies() {
    let v = parse_message(MIXED.as_bytes(), &Limits::default()).unwrap();
    let ids: Vec<_> = v
        .parts
        .iter()
        .map(|p| (p.id.as_str(), p.content_type.as_str()))
        .collect();
    assert_eq!(
        ids,
        [
            ("1.1", "text/plain"),
            ("1.2.1", "text/html"),
            ("1.2.2", "image/gif"),
            ("2", "application/pdf"),
            ("3", "text/plain")
        ]
    );
    assert_eq!(v.text_parts, ["1.1"]);
    assert_eq!(v.html_parts, ["1.2.1"]);
    assert!(v.has_html);
    assert_eq!(v.text.as_deref().map(str::trim_end), Some("Plain body"));
    let gif = &v.parts[2];
    assert_eq!(gif.content_id.as_deref(), Some("logo"));
    assert!(!gif.is_attachment);
    let attachments: Vec<_> = v
        .parts
        .iter()
        .filter(|p| p.is_attachment)
        .map(|p| p.id.as_str())
        .collect();
    assert_eq!(attachments, ["2", "3"]);
}

#[test]
fn rfc2231_filenames_are_decoded_then_cleaned() {
    let v = parse_message(MIXED.as_bytes(), &Limits::default()).unwrap();
    let pdf = &v.parts[3];
    assert_eq!(pdf.filename.as_deref(), Some("Béricht.pdf"));
    assert_eq!(pdf.extension, "pdf");
    assert_eq!(pdf.disposition, Disposition::Attachment);
    assert_eq!(pdf.size, 9);
}

#[test]
fn part_bytes_are_transfer_decoded_in_their_own_charset() {
    assert_eq!(
        part_bytes(MIXED.as_bytes(), "2", &Limits::default()).unwrap(),
        b"%PDF-1.4\n"
    );
    assert_eq!(
        part_bytes(MIXED.as_bytes(), "3", &Limits::default()).unwrap(),
        b"caf\xe9"
    );
    assert!(part_bytes(MIXED.as_bytes(), "9", &Limits::default()).is_err());
}

#[test]
fn html_rendering_inlines_the_cid_image() {
    let r = render_html(
        MIXED.as_bytes(),
        SanitizeOptions::default(),
        &Limits::default(),
    )
    .unwrap();
    assert!(r.html.contains("<b>body</b>"), "{}", r.html);
    assert!(
        r.html
            .contains("src=\"data:image/gif;base64,R0lGODlhAQABAAAAACw=\""),
        "{}",
        r.html
    );
    assert_eq!(r.remote_blocked, 0);
}

#[test]
fn a_text_only_message_renders_as_escaped_text() {
    let raw =
        b"Subject: t\r\nContent-Type: text/plain\r\n\r\n<b>not bold</b> https://example.org\r\n";
    let v = parse_message(raw, &Limits::default()).unwrap();
    assert!(!v.has_html);
    assert_eq!(v.parts[0].id, "1");
    let r = render_html(raw, SanitizeOptions::default(), &Limits::default()).unwrap();
    assert!(r.html.starts_with("<div style=\"white-space: pre-wrap\">&lt;b&gt;not bold&lt;/b&gt; <a href=\"https://example.org\""), "{}", r.html);
}

#[test]
fn unknown_charsets_degrade_to_utf8_with_a_warning() {
    let raw = b"Subject: t\r\nContent-Type: text/plain; charset=x-made-up\r\n\r\ncaf\xc3\xa9\r\n";
    let v = parse_message(raw, &Limits::default()).unwrap();
    assert_eq!(v.text.as_deref().map(str::trim_end), Some("café"));
    assert!(
        v.warnings
            .iter()
            .any(|w| matches!(w, Warning::UnknownCharset { .. })),
        "{:?}",
        v.warnings
    );
}

#[test]
fn flowed_text_is_joined() {
    let raw =
        b"Subject: t\r\nContent-Type: text/plain; format=flowed; delsp=yes\r\n\r\nHel \r\nlo\r\n";
    let v = parse_message(raw, &Limits::default()).unwrap();
    assert_eq!(v.text.as_deref(), Some("Hello\n"));
}

#[test]
fn an_attached_message_is_listed_with_its_parts() {
    let raw = b"Subject: fwd\r\nContent-Type: multipart/mixed; boundary=\"o\"\r\n\r\n--o\r\nContent-Type: text/plain\r\n\r\nsee\r\n--o\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nContent-Type: multipart/mixed; boundary=\"i\"\r\n\r\n--i\r\nContent-Type: text/plain\r\n\r\ninner text\r\n--i\r\nContent-Type: image/png\r\n\r\nPNG\r\n--i--\r\n--o--\r\n";
    let v = parse_message(raw, &Limits::default()).unwrap();
    let ids: Vec<_> = v.parts.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["1", "2", "2.1", "2.2"]);
    assert_eq!(v.parts[1].content_type, "message/rfc822");
    assert!(v.parts[1].is_attachment);
    let eml = part_bytes(raw, "2", &Limits::default()).unwrap();
    assert!(
        eml.starts_with(b"Subject: inner"),
        "{}",
        String::from_utf8_lossy(&eml)
    );
    assert_eq!(v.text.as_deref().map(str::trim_end), Some("see"));
}

/// An attached message whose part comes after more than 64 KiB of the part before it is
/// expanded all the same: the encoding is looked for in the header block around it, however
/// far back that block's blank line lies (before, past 64 KiB it was taken as encoded).
#[test]
fn an_attached_message_after_a_long_part_is_listed_with_its_parts() {
    let line = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n";
    let raw = format!(
        "Subject: fwd\r\nContent-Type: multipart/mixed; boundary=\"o\"\r\n\r\n--o\r\n\
         Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\
         --o\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\
         Content-Type: multipart/mixed; boundary=\"i\"\r\n\r\n--i\r\nContent-Type: text/plain\r\n\r\n\
         inner text\r\n--i\r\nContent-Type: image/png\r\n\r\nPNG\r\n--i--\r\n--o--\r\n",
        line.repeat(1500)
    );
    let v = parse_message(raw.as_bytes(), &Limits::default()).unwrap();
    let ids: Vec<_> = v.parts.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["1", "2", "2.1", "2.2"]);
}

/// An encoding declared in the header block stays found with a line the parser skips (no
/// colon) between it and the Content-Type, however that line looks: the encoded message is
/// listed, never expanded.
#[test]
fn an_encoding_above_a_junk_line_still_keeps_the_message_opaque() {
    let inner = "Subject: inner\r\nContent-Type: multipart/mixed; boundary=i\r\n\r\n--i\r\n\
                 Content-Type: text/plain\r\n\r\nhi\r\n--i--\r\n";
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(inner);
    for junk in ["--x", "garbage"] {
        let raw = format!(
            "Subject: s\r\nContent-Transfer-Encoding: base64\r\n{junk}\r\n\
             Content-Type: message/rfc822\r\n\r\n{b64}\r\n"
        );
        let v = parse_message(raw.as_bytes(), &Limits::default()).unwrap();
        assert!(
            v.parts.iter().all(|p| !p.id.contains('.')),
            "{junk}: not expanded: {:?}",
            v.parts.iter().map(|p| &p.id).collect::<Vec<_>>()
        );
    }
}

#[test]
fn an_encoded_attached_message_is_listed_but_not_expanded() {
    let raw = b"Subject: fwd\r\nContent-Type: multipart/mixed; boundary=\"o\"\r\n\r\n--o\r\nContent-Type: text/plain\r\n\r\nsee\r\n--o\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\nU3ViamVjdDogaW5uZXINCg0KYm9keQ0K\r\n--o--\r\n";
    let v = parse_message(raw, &Limits::default()).unwrap();
    assert_eq!(v.parts.len(), 2);
    assert_eq!(v.parts[1].content_type, "message/rfc822");
    assert_eq!(
        part_bytes(raw, "2", &Limits::default()).unwrap(),
        b"Subject: inner\r\n\r\nbody\r\n"
    );
}

#[test]
fn non_messages_and_oversized_input_are_typed_errors() {
    assert!(parse_message(b"", &Limits::default()).is_err());
    let small = Limits {
        max_input_bytes: 10,
        ..Limits::default()
    };
    assert!(matches!(
        parse_message(MIXED.as_bytes(), &small),
        Err(pop3_mime::MimeError::TooLarge { .. })
    ));
}

#[test]
fn reader_headers_are_parsed_by_the_same_code_as_the_list() {
    // One parser for display (pop3-headers): the reader shows what the list shows.
    // Raw 8-bit windows-1252 and a character split between two encoded words: where
    // parsers differ, the reader and the list agree.
    let raw = b"Subject: caf\xe9 \x80 =?UTF-8?B?ww==?= =?utf-8?B?vA==?=\r\nDate: 2 Jan 06 15:04 -0700\r\nMessage-ID: <1@x>\r\n\r\nbody\r\n";
    let v = parse_message(raw, &Limits::default()).unwrap();
    let s = pop3_headers::summarize(raw, &pop3_mime::EncodingRs);
    assert_eq!(v.subject.as_deref(), Some("café € ü"));
    assert_eq!(v.subject.as_deref(), Some(s.subject.as_str()));
    assert_eq!(v.date.as_deref(), Some("2006-01-02T15:04:00-07:00"));
    assert_eq!(v.date, s.date.map(|d| d.to_rfc3339()));
    assert_eq!(v.message_id, s.message_id);
}

#[test]
fn encoded_word_in_iso_2022_jp_goes_through_encoding_rs_in_names_too() {
    let raw =
        b"From: =?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?= <t@example.jp>\r\nSubject: x\r\n\r\nbody\r\n";
    let v = parse_message(raw, &Limits::default()).unwrap();
    assert_eq!(v.from[0].name.as_deref(), Some("テスト"));
    assert_eq!(v.from[0].address.as_deref(), Some("t@example.jp"));
}

#[test]
fn invisible_characters_are_removed_from_reader_headers() {
    let raw = "Subject: pay\u{200B}pal \u{2060}now\r\nFrom: \"A\u{FEFF}nn\" <a\u{200D}@x>\r\n\r\nbody\r\n";
    let v = parse_message(raw.as_bytes(), &Limits::default()).unwrap();
    assert_eq!(v.subject.as_deref(), Some("paypal now"));
    assert_eq!(v.from[0].name.as_deref(), Some("Ann"));
    assert_eq!(v.from[0].address.as_deref(), Some("a@x"));
}

#[test]
fn multi_byte_charsets_are_decoded() {
    let raw = b"Subject: =?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=\r\nContent-Type: text/plain; charset=Shift_JIS\r\n\r\n\x83\x65\x83\x58\x83\x67\r\n";
    let v = parse_message(raw, &Limits::default()).unwrap();
    assert_eq!(v.subject.as_deref(), Some("テスト"));
    assert_eq!(v.text.as_deref().map(str::trim_end), Some("テスト"));
    assert!(v.warnings.is_empty(), "{:?}", v.warnings);
}
