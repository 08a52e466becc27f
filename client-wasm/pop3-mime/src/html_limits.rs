//! How deep and how large an HTML fragment is, measured by html5ever's own tree builder (the
//! parser the sanitizer and, within the spec, every browser use), so no trick of tokenizing
//! can hide nesting from the limit: a tag that only looks like text to a home-made scanner
//! (`<x =">`, a comment closed by `--!>`, an end tag the parser ignores) is counted exactly
//! as the parser builds it.
//!
//! The tree builder checks its stack of open elements for every tag, so the work of parsing
//! grows with depth times tags; the input is therefore fed in small chunks and cut before
//! the chunk in which either limit was passed, so parsing never runs far beyond them.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

use html5ever::interface::{ElemName, ElementFlags, NodeOrText, QuirksMode, TreeSink};
use html5ever::tendril::{StrTendril, TendrilSink};
use html5ever::{Attribute, LocalName, Namespace, ParseOpts, QualName, local_name, ns};

/// Bytes fed to the parser at a time: the most it can run past a limit before the check.
const CHUNK: usize = 1024;

/// Where to cut `html` so that, parsed as the sanitizer parses it, no element is nested
/// deeper than `max_depth` and no more than `max_elements` elements are created. `None`:
/// the whole input is within both.
pub(crate) fn cut_point(html: &str, max_depth: usize, max_elements: usize) -> Option<usize> {
    let state = Rc::new(State::default());
    let sink = Counter {
        nodes: RefCell::new(vec![Node::default()]),
        state: state.clone(),
        max_depth,
        max_elements,
        no_name: Rc::new(QualName::new(None, ns!(html), local_name!("div"))),
    };
    // The same fragment parse as ammonia's (in a <div>, default options), so both build the
    // same tree from the same bytes.
    let mut parser = html5ever::parse_fragment(
        sink,
        ParseOpts::default(),
        QualName::new(None, ns!(html), local_name!("div")),
        vec![],
        false,
    );
    // Setting up the fragment created its context element and <html> root; only the input's
    // own elements count.
    state.elements.set(0);
    let mut start = 0;
    while start < html.len() {
        let mut end = (start + CHUNK).min(html.len());
        while !html.is_char_boundary(end) {
            end += 1;
        }
        parser.process(StrTendril::from_slice(&html[start..end]));
        if state.exceeded.get() {
            return Some(start);
        }
        start = end;
    }
    parser.finish();
    state.exceeded.get().then_some(start)
}

#[derive(Debug, Default)]
struct State {
    exceeded: Cell<bool>,
    elements: Cell<usize>,
}

/// One node of the tree being built: only what the tree builder asks back (names, parents,
/// template contents) and what the limits need.
#[derive(Debug, Default)]
struct Node {
    /// Shared, so that answering the tree builder's many name queries (one per open element
    /// for every scope check) costs a reference count, not a clone and drop of three atoms.
    name: Option<Rc<QualName>>,
    parent: Option<usize>,
    children: Vec<usize>,
    template_contents: Option<usize>,
    integration_point: bool,
}

/// A tree sink that keeps no content, only shape, and notes when a limit is passed.
#[derive(Debug)]
struct Counter {
    nodes: RefCell<Vec<Node>>,
    state: Rc<State>,
    max_depth: usize,
    max_elements: usize,
    /// The name given for a node that has none (the tree builder never asks for one).
    no_name: Rc<QualName>,
}

/// An element's name, shared with its node.
#[derive(Debug)]
struct Name(Rc<QualName>);

impl ElemName for Name {
    fn ns(&self) -> &Namespace {
        &self.0.ns
    }
    fn local_name(&self) -> &LocalName {
        &self.0.local
    }
}

impl Counter {
    fn add(&self, node: Node) -> usize {
        let mut nodes = self.nodes.borrow_mut();
        nodes.push(node);
        nodes.len() - 1
    }

    fn detach(&self, nodes: &mut [Node], child: usize) {
        if let Some(p) = nodes[child].parent.take()
            && let Some(i) = nodes[p].children.iter().position(|c| *c == child)
        {
            nodes[p].children.remove(i);
        }
    }

    fn attach(&self, parent: usize, child: NodeOrText<usize>, before: Option<usize>) {
        let NodeOrText::AppendNode(child) = child else {
            return;
        };
        let mut nodes = self.nodes.borrow_mut();
        self.detach(&mut nodes, child);
        let at = before
            .and_then(|s| nodes[parent].children.iter().position(|c| *c == s))
            .unwrap_or(nodes[parent].children.len());
        nodes[parent].children.insert(at, child);
        nodes[child].parent = Some(parent);
        if nodes[child].name.is_some() {
            // The document is 0 and the fragment's <html> root 1: a top-level element of
            // the fragment is at depth 1.
            let mut depth = 0usize;
            let mut at = Some(child);
            while let Some(n) = at {
                depth += 1;
                at = nodes[n].parent;
            }
            if depth.saturating_sub(2) > self.max_depth {
                self.state.exceeded.set(true);
            }
        }
    }
}

impl TreeSink for Counter {
    type Handle = usize;
    type Output = ();
    type ElemName<'a> = Name;

    fn finish(self) {}

    fn parse_error(&self, _msg: Cow<'static, str>) {}

    fn get_document(&self) -> usize {
        0
    }

    fn elem_name<'a>(&'a self, target: &'a usize) -> Name {
        // The tree builder asks only for names of elements it created.
        Name(
            self.nodes.borrow()[*target]
                .name
                .clone()
                .unwrap_or_else(|| self.no_name.clone()),
        )
    }

    fn create_element(&self, name: QualName, _attrs: Vec<Attribute>, flags: ElementFlags) -> usize {
        let elements = self.state.elements.get() + 1;
        self.state.elements.set(elements);
        if elements > self.max_elements {
            self.state.exceeded.set(true);
        }
        let template_contents = flags.template.then(|| self.add(Node::default()));
        self.add(Node {
            name: Some(Rc::new(name)),
            template_contents,
            integration_point: flags.mathml_annotation_xml_integration_point,
            ..Node::default()
        })
    }

    fn create_comment(&self, _text: StrTendril) -> usize {
        self.add(Node::default())
    }

    fn create_pi(&self, _target: StrTendril, _data: StrTendril) -> usize {
        self.add(Node::default())
    }

    fn append(&self, parent: &usize, child: NodeOrText<usize>) {
        self.attach(*parent, child, None);
    }

    fn append_based_on_parent_node(
        &self,
        element: &usize,
        prev_element: &usize,
        child: NodeOrText<usize>,
    ) {
        let parent = self.nodes.borrow()[*element].parent;
        match parent {
            Some(p) => self.attach(p, child, Some(*element)),
            None => self.attach(*prev_element, child, None),
        }
    }

    fn append_doctype_to_document(&self, _: StrTendril, _: StrTendril, _: StrTendril) {}

    fn get_template_contents(&self, target: &usize) -> usize {
        self.nodes.borrow()[*target]
            .template_contents
            .unwrap_or(*target)
    }

    fn same_node(&self, x: &usize, y: &usize) -> bool {
        x == y
    }

    fn set_quirks_mode(&self, _mode: QuirksMode) {}

    fn append_before_sibling(&self, sibling: &usize, new_node: NodeOrText<usize>) {
        let parent = self.nodes.borrow()[*sibling].parent;
        if let Some(p) = parent {
            self.attach(p, new_node, Some(*sibling));
        }
    }

    fn add_attrs_if_missing(&self, _target: &usize, _attrs: Vec<Attribute>) {}

    fn remove_from_parent(&self, target: &usize) {
        let mut nodes = self.nodes.borrow_mut();
        self.detach(&mut nodes, *target);
    }

    fn reparent_children(&self, node: &usize, new_parent: &usize) {
        let children = std::mem::take(&mut self.nodes.borrow_mut()[*node].children);
        for c in children {
            self.attach(*new_parent, NodeOrText::AppendNode(c), None);
        }
    }

    fn is_mathml_annotation_xml_integration_point(&self, handle: &usize) -> bool {
        self.nodes.borrow()[*handle].integration_point
    }
}

#[cfg(test)]
mod tests {
    use super::cut_point;

    #[test]
    fn nesting_is_measured_as_the_parser_builds_it() {
        assert_eq!(cut_point(&"<div>".repeat(10), 10, 100), None);
        assert!(cut_point(&"<div>".repeat(11), 10, 100).is_some());
        // Implicitly closed: twenty paragraphs in a row are siblings, not nested.
        assert_eq!(cut_point(&"<p>x".repeat(20), 10, 100), None);
        // Closed divs do not add up.
        assert_eq!(cut_point(&"<div></div>".repeat(50), 10, 100), None);
    }

    #[test]
    fn a_quote_after_a_bare_equals_sign_does_not_hide_the_rest() {
        // `=` where an attribute name starts is part of the name, so the quote opens no value:
        // the tag ends at its `>` and every <div> after it nests.
        let html = "<x =\">".to_owned() + &"<div>".repeat(600);
        assert!(cut_point(&html, 512, 200_000).is_some());
    }

    #[test]
    fn end_tags_the_parser_ignores_do_not_lower_the_depth() {
        // A stray </x> under a <div> is ignored by the parser; a scanner that popped on it
        // would see depth 1 here.
        let html = "<x>".to_owned() + &"<div>".repeat(20) + "</x>" + &"<div>".repeat(20);
        assert!(cut_point(&html, 30, 1000).is_some());
    }

    #[test]
    fn the_cut_is_before_the_chunk_that_passed_the_limit() {
        let html = "<div>".repeat(1000);
        let cut = cut_point(&html, 512, 200_000).unwrap();
        assert!(cut <= 513 * 5, "{cut}");
        assert!(cut_point(&html[..cut], 512, 200_000).is_none());
    }

    #[test]
    fn element_count_is_limited() {
        assert_eq!(cut_point(&"<br>".repeat(100), 10, 100), None);
        assert!(cut_point(&"<br>".repeat(101), 10, 100).is_some());
    }

    #[test]
    fn cuts_stay_on_character_boundaries() {
        let html = "é<div>".repeat(2000);
        let cut = cut_point(&html, 512, 200_000).unwrap();
        assert!(html.is_char_boundary(cut));
    }
}
