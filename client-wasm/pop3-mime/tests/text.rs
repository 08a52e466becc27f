//! text/plain rendering: escaped, links only for http, https and mailto, flowed text joined.

use pop3_mime::{text_to_html, unflow};

#[test]
fn markup_in_text_is_escaped() {
    assert_eq!(
        text_to_html("<script>alert(1)</script> & \"q\" 'a'"),
        "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot; &#39;a&#39;"
    );
}

#[test]
fn only_http_https_and_mailto_become_links() {
    let h = text_to_html(
        "see https://example.org/a?b=1&c=2. or javascript:alert(1) or ftp://x or data:text/html,x",
    );
    assert!(h.contains(r#"<a href="https://example.org/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">https://example.org/a?b=1&amp;c=2</a>."#), "{h}");
    assert_eq!(h.matches("<a ").count(), 1, "{h}");
    let m = text_to_html("mail mailto:bob@example.org, please");
    assert!(m.contains(r#"href="mailto:bob@example.org""#), "{m}");
}

#[test]
fn a_quote_ends_the_link_so_it_cannot_add_attributes() {
    let h = text_to_html("http://x.example/\"onmouseover=\"alert(1)");
    assert!(h.starts_with(r#"<a href="http://x.example/" "#), "{h}");
    assert!(h.contains("&quot;onmouseover=&quot;"), "{h}");
}

#[test]
fn scheme_inside_a_word_is_not_a_link() {
    assert!(!text_to_html("xhttp://evil.example").contains("<a "));
    assert!(!text_to_html("http://").contains("<a "));
}

#[test]
fn parentheses_around_a_link_stay_outside() {
    let h = text_to_html("(see https://en.example/wiki/Foo_(bar))");
    assert!(
        h.contains(r#"href="https://en.example/wiki/Foo_(bar)""#),
        "{h}"
    );
    assert!(h.ends_with("</a>)"), "{h}");
}

#[test]
fn many_links_render_in_linear_time() {
    let text = "http://a.example/ ".repeat(50_000) + &"x".repeat(100_000);
    let t = std::time::Instant::now();
    let h = text_to_html(&text);
    assert_eq!(h.matches("<a ").count(), 50_000);
    assert!(t.elapsed().as_secs() < 5);
}

#[test]
fn flowed_lines_are_joined_and_quotes_kept() {
    assert_eq!(unflow("Hello \r\nworld\r\n", false), "Hello world\n");
    assert_eq!(unflow("Hel \r\nlo\r\n", true), "Hello\n");
    assert_eq!(
        unflow(">> quoted \r\n>> text\r\nplain\r\n", false),
        ">> quoted text\nplain\n"
    );
    assert_eq!(unflow(" From stuffed\r\n", false), "From stuffed\n");
    assert_eq!(unflow("-- \r\nsig\r\n", false), "-- \nsig\n");
}

#[test]
fn a_bidi_or_invisible_character_ends_a_link() {
    // The link text must be exactly what it opens: nothing in it may reorder or hide.
    for c in ['\u{202E}', '\u{2066}', '\u{200B}', '\u{FEFF}'] {
        let h = text_to_html(&format!("https://good.example/{c}exe.txt"));
        assert!(
            h.contains(r#"href="https://good.example/""#) && h.contains(&format!("</a>{c}exe.txt")),
            "U+{:04X}: {h}",
            c as u32
        );
    }
}

#[test]
fn body_text_keeps_its_bidi_marks_and_joiners() {
    // Right-to-left languages and emoji need them; only controls are replaced in a body.
    let s = "\u{05E9}\u{200F}1 \u{1F468}\u{200D}\u{1F469}\u{0007}";
    assert_eq!(
        text_to_html(s),
        "\u{05E9}\u{200F}1 \u{1F468}\u{200D}\u{1F469}\u{FFFD}"
    );
}
