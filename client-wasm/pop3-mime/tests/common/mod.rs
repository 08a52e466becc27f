//! Helpers shared by the test files.
#![allow(dead_code)]

/// An element or attribute the sanitizer let through, as the serializer wrote it.
pub struct Tag {
    pub name: String,
    pub attrs: Vec<(String, String)>,
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
        out.push(tag);
    }
    out
}
