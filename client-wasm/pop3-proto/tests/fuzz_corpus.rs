//! Replays every saved fuzz input (seeds and crashes the fuzzer found) through the same checks
//! the fuzz targets run, so they stay fixed without nightly or libFuzzer.

use std::path::Path;

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
fn response_reader_corpus_holds() {
    replay("response_reader", pop3_proto::fuzzing::response_reader_raw);
}

#[test]
fn unstuff_roundtrip_corpus_holds() {
    replay(
        "unstuff_roundtrip",
        pop3_proto::fuzzing::unstuff_roundtrip_raw,
    );
}

#[test]
fn greeting_corpus_holds() {
    replay("greeting", pop3_proto::fuzzing::greeting);
}

#[test]
fn listings_corpus_holds() {
    replay("listings", pop3_proto::fuzzing::listings);
}
