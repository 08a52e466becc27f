//! Helpers shared by the test files.
#![allow(dead_code)]

/// An element or attribute the sanitizer let through, as the serializer wrote it.
pub struct Tag {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    /// The raw text of a `<style>` element (a style sheet), up to its end tag.
    pub sheet: Option<String>,
}

/// Reads the tags of ammonia's serialized output (attribute values always double-quoted; `<`
/// in text always escaped), so every element and attribute a browser would build is seen.
pub fn tags(html: &str) -> Vec<Tag> {
    let b = html.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'<' {
            i += 1;
            continue;
        }
        i += 1;
        if b.get(i) == Some(&b'/') {
            while i < b.len() && b[i] != b'>' {
                i += 1;
            }
            continue;
        }
        let start = i;
        while i < b.len() && !b" \t\n/>".contains(&b[i]) {
            i += 1;
        }
        let mut tag = Tag {
            name: html[start..i].to_ascii_lowercase(),
            attrs: Vec::new(),
            sheet: None,
        };
        loop {
            while i < b.len() && b" \t\n/".contains(&b[i]) {
                i += 1;
            }
            if i >= b.len() || b[i] == b'>' {
                i += 1;
                break;
            }
            let s = i;
            while i < b.len() && !b" \t\n=>".contains(&b[i]) {
                i += 1;
            }
            let name = html[s..i].to_ascii_lowercase();
            let mut value = String::new();
            if b.get(i) == Some(&b'=') {
                i += 1;
                assert_eq!(b.get(i), Some(&b'"'), "unquoted attribute in {html}");
                i += 1;
                let s = i;
                while i < b.len() && b[i] != b'"' {
                    i += 1;
                }
                value = html[s..i].replace("&amp;", "&").replace("&quot;", "\"");
                i += 1;
            }
            tag.attrs.push((name, value));
        }
        if tag.name == "style" {
            // Raw text: the parser ends it at the first `</style`, in any case.
            let rest = &html[i.min(html.len())..];
            let end = rest
                .to_ascii_lowercase()
                .find("</style")
                .unwrap_or(rest.len());
            tag.sheet = Some(rest[..end].to_owned());
            i += end;
        }
        out.push(tag);
    }
    out
}

/// The only elements a sanitized body may contain.
pub const ALLOWED_TAGS: &[&str] = &[
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

/// Attributes any allowed element may carry.
const GENERIC_ATTRS: &[&str] = &["lang", "title", "dir", "align", "style", "class", "id"];

/// The only attributes an element may carry besides [`GENERIC_ATTRS`]. Nothing here loads
/// anything except `a href` (a link the user must click) and `img src` (checked below).
fn element_attrs(tag: &str) -> &'static [&'static str] {
    const CELL: &[&str] = &[
        "width", "height", "bgcolor", "valign", "colspan", "rowspan", "nowrap", "scope",
    ];
    match tag {
        "a" => &["href", "hreflang", "target", "rel"],
        "img" => &[
            "src",
            "alt",
            "width",
            "height",
            "border",
            "hspace",
            "vspace",
            "referrerpolicy",
        ],
        "table" => &[
            "width",
            "height",
            "border",
            "cellpadding",
            "cellspacing",
            "bgcolor",
            "summary",
        ],
        "td" | "th" => CELL,
        "tr" => &["height", "bgcolor", "valign"],
        "tbody" | "thead" | "tfoot" => &["valign"],
        "col" | "colgroup" => &["span", "width", "valign"],
        "font" => &["color", "face", "size"],
        "hr" => &["size", "width", "noshade", "color"],
        "ol" => &["start", "type", "reversed"],
        "ul" => &["type"],
        "li" => &["value", "type"],
        "time" | "del" | "ins" => &["datetime"],
        _ => &[],
    }
}

/// A URL attribute as a browser's URL parser reads it: leading and trailing C0 controls and
/// spaces stripped, tabs and newlines removed anywhere (so `java\tscript:` is `javascript:`),
/// lower-cased.
pub fn url_as_browser_reads(value: &str) -> String {
    value
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect::<String>()
        .to_ascii_lowercase()
}

/// The safety oracle for sanitized HTML, an allow-list: only [`ALLOWED_TAGS`], only the
/// attributes listed for each, `a href` only http/https/mailto, `img src` only a base64
/// raster `data:` image (or, with `allow_remote`, http/https), and nothing remote, scripted or
/// CSS-loading in any other attribute. `what` names the input in failure messages.
pub fn assert_safe(what: &str, html: &str, allow_remote: bool) {
    for t in tags(html) {
        if let Some(sheet) = &t.sheet {
            assert_safe_sheet(what, sheet);
        }
        assert!(
            ALLOWED_TAGS.contains(&t.name.as_str()),
            "{what}: element <{}> in {html}",
            t.name
        );
        for (name, value) in &t.attrs {
            assert!(
                GENERIC_ATTRS.contains(&name.as_str())
                    || element_attrs(&t.name).contains(&name.as_str()),
                "{what}: attribute {name} on <{}> in {html}",
                t.name
            );
            // Inert text: shown as a tooltip or instead of an image, never loaded or run.
            if matches!(name.as_str(), "title" | "alt") {
                continue;
            }
            let v = value.to_ascii_lowercase();
            let url = url_as_browser_reads(value);
            for bad in [
                "javascript:",
                "vbscript:",
                "expression(",
                "url(",
                "@import",
                "binding",
            ] {
                assert!(
                    !v.contains(bad) && !url.contains(bad),
                    "{what}: {bad} in {name}={value}"
                );
            }
            match name.as_str() {
                "href" => assert!(
                    url.starts_with("http://")
                        || url.starts_with("https://")
                        || url.starts_with("mailto:"),
                    "{what}: href {value:?}"
                ),
                "src" => {
                    let data_image = ["png", "jpeg", "gif", "webp"]
                        .iter()
                        .any(|t| url.starts_with(&format!("data:image/{t};base64,")));
                    let remote =
                        allow_remote && (url.starts_with("http://") || url.starts_with("https://"));
                    assert!(data_image || remote, "{what}: img src {value:?}");
                }
                _ => assert!(
                    !v.contains("probe.invalid") && !v.contains("//"),
                    "{what}: remote reference in {name}={value}"
                ),
            }
        }
    }
}

/// The safety oracle for a kept style sheet: written without CSS escapes and comments (so its
/// text is the tokens a browser reads and no word can hide), no function that loads or runs
/// (`url(`, `src(`, `image-set(`, `image(`, `expression(`), nothing with `//`, no
/// `behavior` or `-moz-binding` property and no script URL in a declaration, no at-rule but `@media`, and no `<`
/// (nothing can end the element).
pub fn assert_safe_sheet(what: &str, sheet: &str) {
    let lower = sheet.to_ascii_lowercase();
    for bad in [
        "\\",
        "/*",
        "<",
        "url(",
        "src(",
        "image-set(",
        "image(",
        "expression(",
        "//",
        "probe.invalid",
    ] {
        assert!(
            !lower.contains(bad),
            "{what}: {bad} in style sheet {sheet:?}"
        );
    }
    for (at, _) in lower.match_indices('@') {
        assert!(
            lower[at..].starts_with("@media "),
            "{what}: at-rule other than @media in style sheet {sheet:?}"
        );
    }
    // Declaration blocks: from a `{` to the next `}` with no `{` between.
    for block in lower
        .split('}')
        .filter_map(|s| s.rsplit_once('{').map(|(_, b)| b))
    {
        for declaration in block.split(';') {
            let name = declaration.split(':').next().unwrap_or("");
            assert!(
                !name.contains("behavior") && !name.contains("binding"),
                "{what}: property {name:?} in style sheet {sheet:?}"
            );
        }
        for bad in ["javascript:", "vbscript:"] {
            assert!(
                !block.contains(bad),
                "{what}: {bad} in style sheet {sheet:?}"
            );
        }
    }
}

/// The deepest nesting of elements in ammonia's serialized output: there every element but a
/// void one has its end tag and every `<` outside an attribute value is a tag, so counting
/// start and end tags is exact.
pub fn serialized_depth(html: &str) -> usize {
    const VOID: &[&str] = &["br", "col", "hr", "img", "wbr"];
    let b = html.as_bytes();
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0usize);
    while i < b.len() {
        if b[i] != b'<' {
            i += 1;
            continue;
        }
        let end_tag = b.get(i + 1) == Some(&b'/');
        let name_start = i + 1 + usize::from(end_tag);
        let mut j = name_start;
        while j < b.len() && !b" >".contains(&b[j]) {
            j += 1;
        }
        let name = html[name_start..j].to_ascii_lowercase();
        let mut quoted = false;
        while j < b.len() && (quoted || b[j] != b'>') {
            quoted ^= b[j] == b'"';
            j += 1;
        }
        if end_tag {
            depth = depth.saturating_sub(1);
        } else if !VOID.contains(&name.as_str()) {
            depth += 1;
            deepest = deepest.max(depth);
        }
        i = j + 1;
    }
    deepest
}
