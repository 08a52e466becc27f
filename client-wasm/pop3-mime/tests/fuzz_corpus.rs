//! Replays every saved fuzz input (seeds and crashes the fuzzer found) through the same checks
//! the fuzz targets run, so they stay fixed without nightly or libFuzzer; and feeds the MIME
//! entry points the bombs that are too big to keep as files.

use std::path::Path;
use std::time::{Duration, Instant};

use base64::Engine as _;
use pop3_mime::{Limits, MimeError, Warning, parse_message, part_bytes};

fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let r = std::panic::catch_unwind(|| check(&data));
        assert!(r.is_ok(), "{} fails its property", path.display());
        n += 1;
    }
    assert!(n > 0, "no corpus for {target}");
}

#[test]
fn parse_message_corpus_holds() {
    replay("parse_message", pop3_mime::fuzzing::parse_message);
}

#[test]
fn sanitize_html_corpus_holds() {
    replay("sanitize_html", pop3_mime::fuzzing::sanitize_html);
}

#[test]
fn outline_corpus_holds() {
    replay("outline", pop3_mime::fuzzing::outline);
}

const H: &str = "From: a@example.invalid\r\nSubject: bomb\r\nMIME-Version: 1.0\r\n";

/// Runs the fuzz property on a thread with a small stack, as a browser's wasm has, within a
/// time bound generous enough for a debug build on a busy machine.
fn survives(name: &str, data: Vec<u8>) {
    let t = Instant::now();
    std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || pop3_mime::fuzzing::parse_message(&data))
        .unwrap()
        .join()
        .unwrap_or_else(|_| panic!("{name} broke the parser"));
    assert!(
        t.elapsed() < Duration::from_secs(120),
        "{name} took {:?}",
        t.elapsed()
    );
}

fn nested_multipart(n: usize) -> Vec<u8> {
    let mut s = String::from(H);
    for i in 0..n {
        s += &format!("Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n--b{i}\r\n");
    }
    s += "Content-Type: text/plain\r\n\r\ndeep\r\n";
    for i in (0..n).rev() {
        s += &format!("--b{i}--\r\n");
    }
    s.into_bytes()
}

fn nested_messages(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        s += &format!("Content-Type: message/rfc822\r\n\r\nSubject: level {i}\r\n");
    }
    s + "Content-Type: text/plain\r\n\r\nbottom\r\n"
}

fn many_parts(n: usize) -> Vec<u8> {
    let mut s = format!("{H}Content-Type: multipart/mixed; boundary=\"x\"\r\n\r\n");
    for i in 0..n {
        s += &format!("--x\r\nContent-Type: text/plain\r\n\r\n{i}\r\n");
    }
    s += "--x--\r\n";
    s.into_bytes()
}

fn mime_base64(data: &[u8]) -> String {
    let b = base64::engine::general_purpose::STANDARD.encode(data);
    let mut out = String::with_capacity(b.len() * 78 / 76);
    for chunk in b.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push_str("\r\n");
    }
    out
}

fn huge_base64(decoded: usize) -> Vec<u8> {
    format!(
        "{H}Content-Type: multipart/mixed; boundary=\"y\"\r\n\r\n--y\r\nContent-Type: text/plain\r\n\r\nhi\r\n\
         --y\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\
         Content-Disposition: attachment; filename=zeros.bin\r\n\r\n{}--y--\r\n",
        mime_base64(&vec![0u8; decoded])
    )
    .into_bytes()
}

#[test]
fn ten_thousand_nested_multiparts_are_cut_at_the_depth_limit() {
    let data = nested_multipart(10_000);
    let view = parse_message(&data, &Limits::default()).unwrap();
    assert!(
        view.warnings.contains(&Warning::TooDeep { limit: 16 }),
        "{:?}",
        view.warnings
    );
    survives("nested multipart", data);
}

#[test]
fn ten_thousand_nested_messages_neither_recurse_nor_overflow() {
    let data = format!("{H}{}", nested_messages(10_000)).into_bytes();
    survives("nested message/rfc822", data);
}

#[test]
fn nested_messages_inside_an_encoded_message_are_survived() {
    let inner = format!("Subject: wrap\r\n{}", nested_messages(2_000));
    let data = format!(
        "{H}Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n{}",
        mime_base64(inner.as_bytes())
    );
    survives("encoded nested message", data.into_bytes());
}

#[test]
fn a_hundred_thousand_parts_are_cut_at_the_part_limit() {
    let data = many_parts(100_000);
    let view = parse_message(&data, &Limits::default()).unwrap();
    assert_eq!(view.parts.len(), 1000);
    assert!(
        view.warnings
            .contains(&Warning::TooManyParts { limit: 1000 })
    );
    survives("100 000 parts", data);
}

#[test]
fn huge_base64_counts_against_the_decoded_limit() {
    let data = huge_base64(8 << 20);
    let small = Limits {
        max_decoded_bytes: 1 << 20,
        ..Limits::default()
    };
    let view = parse_message(&data, &small).unwrap();
    assert_eq!(
        view.parts.len(),
        1,
        "the 8 MiB part is left out: {:?}",
        view.parts
    );
    assert!(
        view.warnings
            .contains(&Warning::DecodedTooLarge { limit: 1 << 20 })
    );
    assert_eq!(
        part_bytes(&data, "2", &small),
        Err(MimeError::PartNotFound("2".into()))
    );
    let full = part_bytes(&data, "2", &Limits::default()).unwrap();
    assert_eq!(full.len(), 8 << 20);
    survives("huge base64", huge_base64(24 << 20));
}

#[test]
fn input_over_the_size_limit_is_refused_before_parsing() {
    let limits = Limits {
        max_input_bytes: 1000,
        ..Limits::default()
    };
    let data = many_parts(100);
    assert!(matches!(
        parse_message(&data, &limits),
        Err(MimeError::TooLarge { limit: 1000, .. })
    ));
}

#[test]
fn an_html_nesting_bomb_renders_cut_and_fast() {
    let data = format!(
        "{H}Content-Type: text/html\r\n\r\n{}{}",
        "<div>".repeat(200_000),
        "<table><td>".repeat(20_000)
    );
    let t = Instant::now();
    let r =
        pop3_mime::render_html(data.as_bytes(), Default::default(), &Limits::default()).unwrap();
    assert!(r.truncated);
    assert!(t.elapsed() < Duration::from_secs(60), "{:?}", t.elapsed());
    survives("html nesting", data.into_bytes());
}
