//! Replays every saved fuzz input (seeds and the crashes the fuzzer found) through the same
//! checks the fuzz targets run (`fuzz/`, `cargo xtask fuzz`), so they stay fixed without
//! libFuzzer. A missing or empty corpus folder fails: a target without inputs tests nothing.

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if !path.is_file() {
            continue;
        }
        let data = std::fs::read(&path).unwrap();
        let r = std::panic::catch_unwind(|| check(&data));
        assert!(r.is_ok(), "{} fails its property", path.display());
        n += 1;
    }
    assert!(n > 0, "no corpus for {target} in {}", dir.display());
}

#[test]
fn frame_header_corpus_holds() {
    replay("frame_header", pop3_bridge::fuzzing::frame_header);
}

#[test]
fn host_corpus_holds() {
    replay("host", pop3_bridge::fuzzing::host);
}

#[test]
fn connect_request_corpus_holds() {
    replay("connect_request", pop3_bridge::fuzzing::connect_request);
}

#[test]
fn token_corpus_holds() {
    replay("token", pop3_bridge::fuzzing::token);
}
