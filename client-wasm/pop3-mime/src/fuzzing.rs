//! The properties the fuzz targets check, here so that the saved corpus also runs as an
//! ordinary test (tests/fuzz_corpus.rs) without nightly or libFuzzer.

use crate::{Limits, SanitizeOptions, clean_filename, part_bytes, render_html};

/// Any bytes: parsing, rendering and reading every listed part stay within the limits and
/// never panic; the rendered HTML contains no script.
pub fn parse_message(data: &[u8]) {
    let limits = Limits::default();
    let Ok(view) = crate::parse_message(data, &limits) else {
        return;
    };
    assert!(view.parts.len() <= limits.max_parts);
    assert!(view.parts.iter().all(|p| p.depth <= limits.max_depth + 1));
    let total: usize = view.parts.iter().map(|p| p.size).sum();
    assert!(total <= limits.max_decoded_bytes);
    for p in &view.parts {
        if let Some(f) = &p.filename {
            assert_eq!(&clean_filename(f).name, f, "a cleaned name is stable");
        }
    }
    let r =
        render_html(data, SanitizeOptions::default(), &limits).expect("parsed once, parses again");
    assert!(!r.html.to_ascii_lowercase().contains("<script"));
    // A few parts suffice: every call parses the message again.
    for p in view.parts.iter().take(3) {
        part_bytes(data, &p.id, &limits).expect("a listed part can be read");
    }
}

/// Any string: sanitizing is idempotent and its output has no script or event handler, with
/// and without remote images allowed.
pub fn sanitize_html(data: &[u8]) {
    let html = String::from_utf8_lossy(data);
    for allow_remote in [false, true] {
        let opts = SanitizeOptions { allow_remote };
        let once = crate::sanitize_html(&html, opts);
        let twice = crate::sanitize_html(&once.html, opts);
        assert_eq!(once.html, twice.html, "sanitizing twice changes the output");
        assert!(!once.html.to_ascii_lowercase().contains("<script"));
        // `allow_remote` changes only what becomes of an <img src> with an http(s) URL, and
        // every such source is counted when it is blocked: with none counted, the run with
        // remote images allowed is the same computation again (half of this target's work;
        // tests/sanitize_props.rs checks the premise).
        if !allow_remote && once.remote_blocked == 0 {
            return;
        }
    }
}

/// Any bytes, in pieces of any one size (the first byte says which): a big message's outline
/// never panics, stays within its bound, is the same however the message was cut (when no
/// line is long enough to be taken in part), names only ranges inside the message, and reads
/// as a message; every leaf decodes.
pub fn outline(data: &[u8]) {
    use crate::decode::PartDecoder;
    use crate::outline::OutlineBuilder;
    let Some((&step, msg)) = data.split_first() else {
        return;
    };
    let (keep, max) = (256, 2048);
    let whole = {
        let mut b = OutlineBuilder::with_limits("fz", keep, max);
        b.feed(msg);
        b.finish()
    };
    let pieces = {
        let mut b = OutlineBuilder::with_limits("fz", keep, max);
        for c in msg.chunks(usize::from(step).max(1)) {
            b.feed(c);
        }
        b.finish()
    };
    if !msg.split(|&b| b == b'\n').any(|l| l.len() > 8 * 1024) {
        assert_eq!(
            whole, pieces,
            "the outline depends on how the message was cut"
        );
    }
    assert!(whole.bytes.len() <= 2 * max);
    assert_eq!(whole.size, msg.len() as u64);
    for l in &whole.leaves {
        assert!(l.start <= l.end && l.end <= whole.size);
        let mut d = PartDecoder::new(l.encoding);
        let mut out = Vec::new();
        d.update(&msg[l.start as usize..l.end as usize], &mut out);
        d.finish(&mut out);
    }
    let _ = crate::parse_message(&whole.bytes, &Limits::default());
}
