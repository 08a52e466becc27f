//! Anchors nested in anchors. A tree can hold them (ammonia unwraps a removed element and its
//! children move up; the parser's adoption agency leaves them around blocks), but HTML
//! cannot write them: parsing `<a><div><a>` closes the outer anchor and clones it into the
//! block, so every serialize-and-parse round moves the structure one level and the output
//! never settles (a fuzz finding needed 27 passes for 2 KB). The inner anchor is unwrapped
//! (its content stays, in the outer link), which is also what a reader expects of a link
//! inside a link.

use std::rc::Rc;

use html5ever::serialize::{SerializeOpts, serialize};
use html5ever::tendril::TendrilSink;
use html5ever::{ParseOpts, QualName, local_name, ns};
use markup5ever_rcdom::{Handle, NodeData, RcDom, SerializableHandle};

/// `html` (ammonia's serialization) with every anchor inside another anchor unwrapped.
pub(crate) fn unnest(html: String) -> String {
    // Parsing costs as much as a sanitizer pass: only when the serialization shows nesting.
    if !nests_anchors(&html) {
        return html;
    }
    let dom = html5ever::parse_fragment(
        RcDom::default(),
        ParseOpts::default(),
        QualName::new(None, ns!(html), local_name!("div")),
        vec![],
        false,
    )
    .one(html.as_str());
    let Some(root) = dom.document.children.borrow().first().cloned() else {
        return html;
    };
    if !unwrap_inner_anchors(&root) {
        return html;
    }
    let mut out = Vec::with_capacity(html.len());
    let handle: SerializableHandle = root.into();
    match serialize(&mut out, &handle, SerializeOpts::default()) {
        Ok(()) => String::from_utf8(out).unwrap_or(html),
        Err(_) => html,
    }
}

/// Whether an `<a>` start tag comes while another is open, read off the serialization: there
/// every `<` outside a double-quoted attribute value starts a tag (text has `<` escaped) and
/// every `<a>` has its `</a>`. A miss would only cost the fixed point (shown as text), never
/// safety.
fn nests_anchors(html: &str) -> bool {
    let b = html.as_bytes();
    let (mut open, mut i) = (0usize, 0usize);
    while let Some(off) = b[i..].iter().position(|&c| c == b'<') {
        let start = i + off + 1;
        let mut j = start;
        let mut quoted = false;
        while j < b.len() && (quoted || b[j] != b'>') {
            quoted ^= b[j] == b'"';
            j += 1;
        }
        let tag = &b[start..j];
        let name_end = tag
            .iter()
            .position(|&c| c == b' ' || c == b'/' && tag.first() != Some(&b'/'))
            .unwrap_or(tag.len());
        match &tag[..name_end] {
            b"a" => {
                if open > 0 {
                    return true;
                }
                open += 1;
            }
            b"/a" => open = open.saturating_sub(1),
            _ => {}
        }
        i = (j + 1).min(b.len());
    }
    false
}

fn is_anchor(node: &Handle) -> bool {
    matches!(&node.data, NodeData::Element { name, .. }
        if name.ns == ns!(html) && name.local == local_name!("a"))
}

/// Unwraps, in place, every anchor below another anchor; whether anything changed. Iterative:
/// the tree may be as deep as the sanitizer's limit.
fn unwrap_inner_anchors(root: &Handle) -> bool {
    let mut changed = false;
    let mut stack = vec![(root.clone(), false)];
    while let Some((node, inside)) = stack.pop() {
        let mut i = 0;
        loop {
            let Some(child) = node.children.borrow().get(i).cloned() else {
                break;
            };
            let anchor = is_anchor(&child);
            if anchor && inside {
                let grandchildren = std::mem::take(&mut *child.children.borrow_mut());
                for g in &grandchildren {
                    g.parent.set(Some(Rc::downgrade(&node)));
                }
                node.children.borrow_mut().splice(i..=i, grandchildren);
                changed = true;
                // The moved children are looked at in their new place, starting with the first.
                continue;
            }
            stack.push((child, inside || anchor));
            i += 1;
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::unnest;

    #[test]
    fn an_anchor_inside_an_anchor_is_unwrapped_and_its_content_kept() {
        // The parser nests anchors through a table (a cell is a scope of its own).
        let nested = r#"<a href="https://a.example/">x<table><tbody><tr><td><a href="https://b.example/">y</a></td></tr></tbody></table></a>"#;
        assert_eq!(
            unnest(nested.to_owned()),
            r#"<a href="https://a.example/">x<table><tbody><tr><td>y</td></tr></tbody></table></a>"#
        );
        // Anchors side by side stay.
        let siblings = r#"<a href="https://a.example/">x</a><a href="https://b.example/">y</a>"#;
        assert_eq!(unnest(siblings.to_owned()), siblings);
        // In an attribute value, `<a ` is text.
        let quoted = r#"<a title="<a x>" href="https://a.example/">x</a>"#;
        assert!(!super::nests_anchors(quoted));
        assert!(super::nests_anchors(nested));
    }
}
