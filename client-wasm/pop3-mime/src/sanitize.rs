//! The allow-list HTML sanitizer (ammonia, i.e. html5ever parsing as a browser does) with the
//! mail-specific rules: no active content, links only to http/https/mailto, images only from
//! the message itself (`cid:` becomes `data:`) unless the user lets remote images load, and
//! CSS that cannot fetch or run anything: inline `style` attributes and `<style>` sheets
//! (rules and `@media` rules, filtered by the same declaration filter; see `css`), with the
//! `class` and `id` attributes their selectors need.
//!
//! This is one of two layers: the UI also shows the result in a sandboxed iframe without
//! scripts and with a CSP that forbids remote loads, so a bug here alone is not an XSS. The
//! frame is also what confines a message's style sheets to the message: the output is meant
//! to be a document of its own (a sheet applies to the whole document it is in), never
//! markup inserted into the app's page.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ammonia::{Builder, UrlRelative};

use crate::{anchors, css, html_limits};

/// What the caller chooses about remote content.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SanitizeOptions {
    /// Keep `<img src>` with http/https URLs (the user asked to load remote content for this
    /// message). Nothing else remote is ever kept: no `srcset`, CSS `url()`, backgrounds.
    /// This is all it changes, and each such source is counted in
    /// [`Sanitized::remote_blocked`] when it is not kept (the fuzz target relies on both).
    pub allow_remote: bool,
}

/// Sanitized HTML and how many remote references were removed from it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sanitized {
    /// The sanitized HTML.
    pub html: String,
    /// Remote references removed (image sources, `srcset`, `background`, CSS `url()`), so the
    /// UI can offer to load remote content. With `allow_remote` only `<img src>` comes back,
    /// so the count may stay above zero.
    pub remote_blocked: usize,
    /// The input, as parsed, nested deeper than [`MAX_HTML_DEPTH`] or had more than
    /// [`MAX_HTML_TAGS`] elements, and was cut there.
    pub truncated: bool,
}

/// Deeper nesting is cut off, as browsers do (Blink stops nesting at 512): HTML tree building
/// checks the stack of open elements for every tag, so depth times tags is the work. Measured
/// on the tree as the parser builds it (elements inside elements), not on the tags written.
pub const MAX_HTML_DEPTH: usize = 512;
/// More elements than any real mail has; beyond it the rest of the part is not shown.
pub const MAX_HTML_TAGS: usize = 200_000;

/// Inline images of a message: Content-ID (without angle brackets) to a `data:` URL.
pub type InlineImages = HashMap<String, String>;

/// Media types an inline image may have to be shown; SVG is a document with scripts and
/// links of its own, so it is never inlined.
pub(crate) const INLINE_IMAGE_TYPES: &[&str] =
    &["image/png", "image/jpeg", "image/gif", "image/webp"];

const TAGS: &[&str] = &[
    "a",
    "abbr",
    "acronym",
    "address",
    "b",
    "bdi",
    "bdo",
    "big",
    "blockquote",
    "br",
    "caption",
    "center",
    "cite",
    "code",
    "col",
    "colgroup",
    "dd",
    "del",
    "details",
    "dfn",
    "div",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "font",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hgroup",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "mark",
    "nav",
    "ol",
    "p",
    "pre",
    "q",
    "rp",
    "rt",
    "rtc",
    "ruby",
    "s",
    "samp",
    "small",
    "span",
    "strike",
    "strong",
    // Its text is a style sheet, filtered by `css::filter_sheet` (see `style_sheets`).
    "style",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "time",
    "tr",
    "tt",
    "u",
    "ul",
    "var",
    "wbr",
];

/// Elements removed together with everything inside them: their content is code, another
/// document, or markup in a foreign namespace where parser differentials live (mXSS).
const DROP_WITH_CONTENT: &[&str] = &[
    "script",
    "svg",
    "math",
    "template",
    "noscript",
    "iframe",
    "frame",
    "frameset",
    "object",
    "embed",
    "applet",
    "noembed",
    "noframes",
    "xmp",
    "plaintext",
    "textarea",
    "title",
    "select",
    "head",
    "audio",
    "video",
    "canvas",
];

/// `class` and `id` are what a message's style sheet selects by; in the message's own frame
/// (no scripts, a document of its own) they name nothing else.
const GENERIC_ATTRS: &[&str] = &["lang", "title", "dir", "align", "style", "class", "id"];

const TAG_ATTRS: &[(&str, &[&str])] = &[
    ("a", &["href", "hreflang"]),
    (
        "img",
        &[
            "src", "srcset", "alt", "width", "height", "border", "hspace", "vspace",
        ],
    ),
    (
        "table",
        &[
            "width",
            "height",
            "border",
            "cellpadding",
            "cellspacing",
            "bgcolor",
            "summary",
            "background",
        ],
    ),
    (
        "td",
        &[
            "width",
            "height",
            "bgcolor",
            "valign",
            "colspan",
            "rowspan",
            "nowrap",
            "background",
        ],
    ),
    (
        "th",
        &[
            "width",
            "height",
            "bgcolor",
            "valign",
            "colspan",
            "rowspan",
            "nowrap",
            "scope",
            "background",
        ],
    ),
    ("tr", &["height", "bgcolor", "valign", "background"]),
    ("tbody", &["valign"]),
    ("thead", &["valign"]),
    ("tfoot", &["valign"]),
    ("col", &["span", "width", "valign"]),
    ("colgroup", &["span", "width", "valign"]),
    ("font", &["color", "face", "size"]),
    ("hr", &["size", "width", "noshade", "color"]),
    ("ol", &["start", "type", "reversed"]),
    ("ul", &["type"]),
    ("li", &["value", "type"]),
    ("time", &["datetime"]),
    ("del", &["datetime"]),
    ("ins", &["datetime"]),
];

/// Sanitizes one HTML document or fragment. Call it once per MIME part and concatenate the
/// results: the output is a closed fragment, so one part cannot run into the next (EFAIL).
pub fn sanitize_html(html: &str, opts: SanitizeOptions) -> Sanitized {
    sanitize_with_images(html, opts, Arc::new(InlineImages::new()))
}

/// [`sanitize_html`] with the message's own inline images available to `cid:` references.
pub fn sanitize_with_images(
    html: &str,
    opts: SanitizeOptions,
    images: Arc<InlineImages>,
) -> Sanitized {
    let blocked = Arc::new(AtomicUsize::new(0));
    let cut = html_limits::cut_point(html, MAX_HTML_DEPTH, MAX_HTML_TAGS);
    let first = fixups(style_sheets(
        builder(opts, images, Some(blocked.clone()))
            .clean(&html[..cut.unwrap_or(html.len())])
            .to_string(),
        Some(&blocked),
    ));
    let (html, settled_cut) = settle(first, opts);
    Sanitized {
        html,
        remote_blocked: blocked.load(Ordering::Relaxed),
        truncated: cut.is_some() || settled_cut,
    }
}

/// Passes after the first before giving up on a fixed point. Two are the rule (ammonia
/// removes rejected attributes with swap_remove, which reorders the survivors, and the next
/// pass settles the order); more mean the serialization parses into another tree, which the
/// fixups ([`fixups`]) prevent for every case found so far.
const MAX_SETTLE_PASSES: usize = 6;

/// Sanitizes `html` again, without the first pass's filtering effects, until the output is a
/// fixed point: what a browser parses from it is the tree that was checked (no mutation
/// XSS), sanitizing it again changes nothing, and it is within the limits as parsed. Whether
/// a limit cut anything comes back with it.
fn settle(mut html: String, opts: SanitizeOptions) -> (String, bool) {
    let mut truncated = false;
    for _ in 0..MAX_SETTLE_PASSES {
        let cut = html_limits::cut_point(&html, MAX_HTML_DEPTH, MAX_HTML_TAGS);
        truncated |= cut.is_some();
        let next = fixups(style_sheets(
            builder(opts, Arc::new(InlineImages::new()), None)
                .clean(&html[..cut.unwrap_or(html.len())])
                .to_string(),
            None,
        ));
        if next == html {
            return (html, truncated);
        }

        html = next;
    }
    // No fixed point: show the markup as text rather than HTML whose parse was not checked.
    (as_text(&html), truncated)
}

/// `html` shown as text, escaped exactly as html5ever's serializer escapes a text node, so
/// that sanitizing it gives it back unchanged.
fn as_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() + html.len() / 8);
    for c in html.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '\u{a0}' => out.push_str("&nbsp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// What a serialization needs so that parsing it gives back the tree it came from.
fn fixups(html: String) -> String {
    keep_pre_newline(anchors::unnest(html))
}

/// Every `<style>` sheet of ammonia's serialization `html` filtered (`css::filter_sheet`), and
/// dropped if nothing is left. There every `<` outside a double-quoted attribute value starts a
/// tag, `<style>` has no attributes (none are allowed), and its text is written raw up to its
/// end tag: the parser ended the text at the first `</style` (any case), so the first one is
/// the end. The filtered text never contains `<`, so it cannot end the element early when the
/// browser parses it, and every later pass reads the same boundaries.
fn style_sheets(html: String, blocked: Option<&AtomicUsize>) -> String {
    if !html.contains("<style") {
        return html;
    }
    let b = html.as_bytes();
    let mut out = String::with_capacity(html.len());
    let (mut copied, mut i) = (0usize, 0usize);
    while let Some(off) = b[i..].iter().position(|&c| c == b'<') {
        let start = i + off;
        let (name_end, j) = tag_at(b, start);
        if &b[start + 1..name_end] != b"style" {
            i = (j + 1).min(b.len());
            continue;
        }
        let text_start = (j + 1).min(b.len());
        let text_end =
            find_ascii_ci(&html[text_start..], "</style").map_or(html.len(), |p| text_start + p);
        let sheet = css::filter_sheet(&html[text_start..text_end], blocked);
        out.push_str(&html[copied..start]);
        // Without attributes (`filter_attribute` keeps none; `media` or `title` would only
        // decide whether it applies).
        if !sheet.is_empty() {
            out.push_str("<style>");
            out.push_str(&sheet);
            out.push_str("</style>");
        }
        // Past the end tag (`</style>`: ammonia writes it so).
        copied = html[text_end..]
            .find('>')
            .map_or(html.len(), |p| text_end + p + 1);
        i = copied;
    }
    out.push_str(&html[copied..]);
    out
}

/// The tag that starts at `b[start]` (a `<`) in ammonia's serialization: where its name ends
/// (at whitespace or `/`, so an end tag's name is empty) and where the `>` that closes it is (a
/// `>` inside a double-quoted attribute value does not close it), or `b.len()` without one.
fn tag_at(b: &[u8], start: usize) -> (usize, usize) {
    let mut j = start + 1;
    let mut quoted = false;
    while j < b.len() && (quoted || b[j] != b'>') {
        quoted ^= b[j] == b'"';
        j += 1;
    }
    let name_end = b[start + 1..j]
        .iter()
        .position(|&c| c.is_ascii_whitespace() || c == b'/')
        .map_or(j, |p| start + 1 + p);
    (name_end, j)
}

/// Where `needle` (ASCII) first occurs in `hay`, ignoring ASCII case.
fn find_ascii_ci(hay: &str, needle: &str) -> Option<usize> {
    hay.as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// The HTML parser drops a newline right after `<pre>`, and html5ever's serializer does not
/// write one back, so a `<pre>` whose text starts with a newline would lose one per pass.
/// Doubling it keeps what was checked what is shown. `html` is ammonia's serialization: text
/// has every `<` escaped and every attribute value is double-quoted, so a `<` outside quotes
/// starts a tag.
fn keep_pre_newline(html: String) -> String {
    if !html.contains("<pre") {
        return html;
    }
    let b = html.as_bytes();
    let mut out = String::with_capacity(html.len() + 16);
    let (mut copied, mut i) = (0usize, 0usize);
    while let Some(off) = b[i..].iter().position(|&c| c == b'<') {
        let start = i + off;
        let (name_end, j) = tag_at(b, start);
        if &b[start + 1..name_end] == b"pre" && b.get(j + 1) == Some(&b'\n') {
            out.push_str(&html[copied..=j]);
            out.push('\n');
            copied = j + 1;
        }
        i = (j + 1).min(b.len());
    }
    out.push_str(&html[copied..]);
    out
}

fn builder(
    opts: SanitizeOptions,
    images: Arc<InlineImages>,
    blocked: Option<Arc<AtomicUsize>>,
) -> Builder<'static> {
    let mut b = Builder::empty();
    b.tags(TAGS.iter().copied().collect())
        .clean_content_tags(DROP_WITH_CONTENT.iter().copied().collect())
        .generic_attributes(GENERIC_ATTRS.iter().copied().collect())
        .tag_attributes(
            TAG_ATTRS
                .iter()
                .map(|(t, a)| (*t, a.iter().copied().collect::<HashSet<_>>()))
                .collect(),
        )
        // ammonia checks these before our filter; the filter then decides per attribute
        // (data: only as an image, cid: only as an image and only when resolved).
        .url_schemes(
            ["http", "https", "mailto", "cid", "data"]
                .into_iter()
                .collect(),
        )
        // A relative URL would resolve against the page showing the mail: the app's origin.
        .url_relative(UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer"))
        .set_tag_attribute_value("a", "target", "_blank")
        .set_tag_attribute_value("img", "referrerpolicy", "no-referrer")
        .strip_comments(true)
        .attribute_filter(move |element, attr, value| {
            filter_attribute(element, attr, value, opts, &images, blocked.as_deref())
        });
    b
}

/// Counts one remote reference removed (first pass only: later passes pass `None`).
pub(crate) fn count(blocked: Option<&AtomicUsize>) {
    if let Some(b) = blocked {
        b.fetch_add(1, Ordering::Relaxed);
    }
}

fn filter_attribute<'u>(
    element: &str,
    attr: &str,
    value: &'u str,
    opts: SanitizeOptions,
    images: &InlineImages,
    blocked: Option<&AtomicUsize>,
) -> Option<Cow<'u, str>> {
    match (element, attr) {
        // A style sheet's element keeps no attribute: its text is all `style_sheets` reads.
        ("style", _) => None,
        (_, "style") => {
            let css = css::filter_declarations(value, blocked);
            (!css.is_empty()).then_some(Cow::Owned(css))
        }
        ("a", "href") => match scheme(value).as_deref() {
            Some("http" | "https" | "mailto") => Some(Cow::Borrowed(value)),
            _ => None,
        },
        ("img", "src") => image_src(value, opts, images, blocked),
        (_, "srcset" | "background") => {
            if looks_remote(value) {
                count(blocked);
            }
            None
        }
        (_, "title" | "alt" | "datetime" | "target" | "rel" | "referrerpolicy") => {
            Some(Cow::Borrowed(value))
        }
        // Presentational attributes (width, color, face, dir, ...) never need a scheme, a
        // function call or markup; refusing those keeps anything URL-like out of them.
        _ => (!value.contains([':', '(', '<', '>', '\\'])).then_some(Cow::Borrowed(value)),
    }
}

/// The scheme as a browser would see it (the URL parser strips tabs, newlines and leading
/// control characters just as browsers do, so `java&#9;script:` is `javascript`).
fn scheme(value: &str) -> Option<String> {
    url::Url::parse(value).ok().map(|u| u.scheme().to_owned())
}

fn looks_remote(value: &str) -> bool {
    let v = value.to_ascii_lowercase();
    v.contains("//") || v.contains("http")
}

fn image_src<'u>(
    value: &'u str,
    opts: SanitizeOptions,
    images: &InlineImages,
    blocked: Option<&AtomicUsize>,
) -> Option<Cow<'u, str>> {
    let url = url::Url::parse(value).ok()?;
    match url.scheme() {
        "cid" => {
            let id = url.path();
            let decoded = percent_decode(id);
            images
                .get(id)
                .or_else(|| images.get(&decoded))
                .map(|d| Cow::Owned(d.clone()))
        }
        "data" => is_safe_data_image(value.trim()).then_some(Cow::Borrowed(value.trim())),
        "http" | "https" => {
            if opts.allow_remote {
                Some(Cow::Borrowed(value.trim()))
            } else {
                count(blocked);
                None
            }
        }
        _ => None,
    }
}

/// A base64 `data:` URL of one of the raster types, and nothing else in it.
pub(crate) fn is_safe_data_image(v: &str) -> bool {
    let Some(rest) = v
        .get(..5)
        .filter(|p| p.eq_ignore_ascii_case("data:"))
        .map(|_| &v[5..])
    else {
        return false;
    };
    let Some((meta, data)) = rest.split_once(',') else {
        return false;
    };
    let meta = meta.to_ascii_lowercase();
    let Some(mime) = meta.strip_suffix(";base64") else {
        return false;
    };
    INLINE_IMAGE_TYPES.contains(&mime)
        && data
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|&c| hex(c)),
                b.get(i + 2).and_then(|&c| hex(c)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::{SanitizeOptions, as_text, sanitize_html};

    #[test]
    fn markup_shown_as_text_is_a_fixed_point() {
        let markup = "<a href=\"x\">&amp; <b>bold</b>\u{a0}</a>&lt;";
        let text = as_text(markup);
        assert_eq!(sanitize_html(&text, SanitizeOptions::default()).html, text);
        assert!(!text.contains('<'));
    }
}
