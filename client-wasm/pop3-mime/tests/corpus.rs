//! Every hostile message in tests/corpus/hostile (see its README) is read and rendered the way
//! the UI does, and the output is checked structurally: allow-listed elements and attributes
//! only, no handler, no script URL, no remote load, idempotent, parts isolated.

use std::path::{Path, PathBuf};

mod common;
use common::{assert_safe, tags};
use pop3_mime::{Limits, SanitizeOptions, parse_message, part_bytes, render_html, sanitize_html};

const PROBE: &str = "http://probe.invalid";

fn corpus() -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/hostile");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "the corpus is missing");
    files
        .into_iter()
        .map(|p| {
            let raw = std::fs::read(&p).unwrap();
            let text = String::from_utf8_lossy(&raw).replace("__PROBE__", PROBE);
            (p, text.into_bytes())
        })
        .collect()
}

#[test]
fn every_hostile_message_parses_and_renders_safely() {
    let limits = Limits::default();
    for (path, raw) in corpus() {
        let what = path.file_name().unwrap().to_string_lossy().into_owned();
        let view = parse_message(&raw, &limits).unwrap_or_else(|e| panic!("{what}: {e}"));
        for allow_remote in [false, true] {
            let opts = SanitizeOptions { allow_remote };
            let r = render_html(&raw, opts, &limits).unwrap();
            assert_safe(&what, &r.html, allow_remote);
            assert_eq!(
                sanitize_html(&r.html, opts).html,
                r.html,
                "{what}: not idempotent"
            );
        }
        for p in &view.parts {
            part_bytes(&raw, &p.id, &limits)
                .unwrap_or_else(|e| panic!("{what} part {}: {e}", p.id));
        }
    }
}

#[test]
fn remote_probes_are_blocked_and_counted_until_allowed() {
    let raw = corpus()
        .into_iter()
        .find(|(p, _)| p.ends_with("remote-probes.eml"))
        .unwrap()
        .1;
    let limits = Limits::default();
    let blocked = render_html(&raw, SanitizeOptions::default(), &limits).unwrap();
    assert!(!blocked.html.contains("probe.invalid/img1"));
    assert!(
        blocked.remote_blocked >= 8,
        "counted {}",
        blocked.remote_blocked
    );
    let allowed = render_html(&raw, SanitizeOptions { allow_remote: true }, &limits).unwrap();
    assert!(
        allowed.html.contains("src=\"http://probe.invalid/img1\""),
        "{}",
        allowed.html
    );
    assert!(!allowed.html.contains("srcset1"));
    assert!(!allowed.html.contains("div-bg"));
}

#[test]
fn an_unclosed_attribute_in_one_part_does_not_swallow_the_next() {
    let raw = corpus()
        .into_iter()
        .find(|(p, _)| p.ends_with("efail-unclosed-img.eml"))
        .unwrap()
        .1;
    let r = render_html(
        &raw,
        SanitizeOptions { allow_remote: true },
        &Limits::default(),
    )
    .unwrap();
    // The secret of part two is text of its own paragraph, not part of any URL.
    assert!(
        r.html.contains("<p>SECRET-PLAINTEXT-OF-PART-TWO</p>"),
        "{}",
        r.html
    );
    for t in tags(&r.html) {
        for (_, v) in t.attrs {
            assert!(
                !v.contains("SECRET"),
                "part two leaked into an attribute: {}",
                r.html
            );
        }
    }
}

#[test]
fn cid_images_become_data_urls_and_svg_is_never_inlined() {
    let raw = corpus()
        .into_iter()
        .find(|(p, _)| p.ends_with("cid-images.eml"))
        .unwrap()
        .1;
    let r = render_html(&raw, SanitizeOptions::default(), &Limits::default()).unwrap();
    assert!(
        r.html.contains("src=\"data:image/png;base64,iVBOR"),
        "{}",
        r.html
    );
    assert!(!r.html.contains("image/svg"), "{}", r.html);
    assert_eq!(r.remote_blocked, 1);
    let view = parse_message(&raw, &Limits::default()).unwrap();
    let png = view
        .parts
        .iter()
        .find(|p| p.content_type == "image/png")
        .unwrap();
    assert!(
        !png.is_attachment,
        "an inline cid image is part of the body"
    );
}

#[test]
fn plain_text_links_cannot_break_out_of_their_attribute() {
    let raw = corpus()
        .into_iter()
        .find(|(p, _)| p.ends_with("cve-2020-35730-plaintext.eml"))
        .unwrap()
        .1;
    let r = render_html(&raw, SanitizeOptions::default(), &Limits::default()).unwrap();
    assert_safe("plaintext", &r.html, false);
    let view = parse_message(&raw, &Limits::default()).unwrap();
    assert!(!view.has_html);
    assert!(view.text.unwrap().contains("<script>"), "text stays text");
}

#[test]
fn headers_are_plain_text_without_bidi_overrides() {
    let raw = corpus()
        .into_iter()
        .find(|(p, _)| p.ends_with("headers-hostile.eml"))
        .unwrap()
        .1;
    let view = parse_message(&raw, &Limits::default()).unwrap();
    assert!(
        view.subject
            .as_deref()
            .unwrap()
            .contains("<img src=x onerror=")
    );
    assert_eq!(
        view.to[0].name.as_deref(),
        Some("<script>window.top.__xss=1</script>")
    );
    assert_eq!(view.reply_to[0].name.as_deref(), Some("evil"));
}

#[test]
fn hostile_attachment_names_are_cleaned() {
    let raw = corpus()
        .into_iter()
        .find(|(p, _)| p.ends_with("attachments-hostile.eml"))
        .unwrap()
        .1;
    let view = parse_message(&raw, &Limits::default()).unwrap();
    let names: Vec<_> = view
        .parts
        .iter()
        .filter_map(|p| p.filename.clone())
        .collect();
    assert!(names.contains(&"invoicefdp.exe".to_owned()), "{names:?}");
    assert!(names.contains(&"passwd".to_owned()), "{names:?}");
    assert!(names.contains(&"_CON.txt".to_owned()), "{names:?}");
    let exe = view
        .parts
        .iter()
        .find(|p| p.filename.as_deref() == Some("invoicefdp.exe"))
        .unwrap();
    assert_eq!(exe.extension, "exe");
    assert!(view.parts.iter().filter(|p| p.is_attachment).count() >= 4);
    assert!(!view.has_html, "an attached HTML file is not the body");
}

/// The HTML body of the corpus message `name`, rendered as the UI renders it.
fn rendered(name: &str, allow_remote: bool) -> pop3_mime::Rendered {
    let raw = corpus()
        .into_iter()
        .find(|(p, _)| p.ends_with(name))
        .unwrap_or_else(|| panic!("{name} missing"))
        .1;
    render_html(&raw, SanitizeOptions { allow_remote }, &Limits::default()).unwrap()
}

#[test]
fn a_styled_newsletter_keeps_its_style_sheet_classes_and_media_queries() {
    let r = rendered("style-newsletter.eml", false);
    for kept in [
        "<style>body, table, td{margin: 0; padding: 0; font-family: Georgia, 'Times New Roman', serif}\n",
        "#outer{background-color: #f3efe6; width: 100%}\n",
        ".masthead h1{font-size: 28px; letter-spacing: 0.04em; margin: 0}\n",
        "td.column > p:first-child{font-style: italic}\n",
        "color: #ffffff !important;",
        "tr:nth-child(2n+1) td.column{background-color: #faf8f3}\n",
        "@media only screen and (max-width: 620px){\n.container{width: 100% !important}\n",
        r#"<table id="outer">"#,
        r#"<td class="masthead">"#,
    ] {
        assert!(r.html.contains(kept), "{kept:?} lost: {}", r.html);
    }
    assert_eq!(r.remote_blocked, 0);
    assert_safe("style-newsletter", &r.html, false);
}

#[test]
fn hostile_style_sheets_keep_only_rules_that_cannot_load_or_run() {
    for allow_remote in [false, true] {
        let r = rendered("style-sheets-hostile.eml", allow_remote);
        assert!(!r.html.contains("probe.invalid"), "{}", r.html);
        assert!(!r.html.contains("xss"), "{}", r.html);
        let sheets: Vec<String> = tags(&r.html).into_iter().filter_map(|t| t.sheet).collect();
        // Exactly the harmless rules, in order; every at-rule but @media is gone.
        assert_eq!(
            sheets.concat(),
            ".kept{color: #0a7d3b; font-weight: bold}\n\
             @media screen{\n.kept-in-media{color: #0a7d3b}\n}\n\
             .q{color: red}\n.t{color: red}\n.u{color: red}\n",
            "{}",
            r.html
        );
        // The imports, fonts and url()s removed are counted for the remote-content bar.
        assert!(r.remote_blocked >= 15, "counted {}", r.remote_blocked);
        assert_safe("style-sheets-hostile", &r.html, allow_remote);
    }
}
