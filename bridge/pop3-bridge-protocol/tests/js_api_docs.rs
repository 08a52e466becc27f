//! The documents and the code name the same error codes: docs/js-api.md's "Errors" table is
//! exactly `api::Code::ALL` (code and group), every code the rest of that document names for a
//! rejection is in it, and docs/bridge-protocol.md's answer table is exactly the bridge's
//! answer codes with their close codes.

use pop3_bridge_protocol::ErrorCode;
use pop3_bridge_protocol::api::Code;
use std::collections::{BTreeMap, BTreeSet};

fn doc(name: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/");
    std::fs::read_to_string(format!("{path}{name}")).unwrap()
}

/// The backticked words of `s`.
fn backticked(s: &str) -> Vec<String> {
    s.split('`').skip(1).step_by(2).map(str::to_owned).collect()
}

/// The lines of the table that follows the line `heading` (up to the next blank line), split
/// into cells, without the header and separator rows.
fn table(text: &str, heading: &str) -> Vec<Vec<String>> {
    let mut lines = text.lines().skip_while(|l| l.trim() != heading).skip(1);
    let rows: Vec<&str> = lines
        .by_ref()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .collect();
    assert!(rows.len() > 2, "no table after {heading:?}");
    rows[2..]
        .iter()
        .map(|r| {
            r.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_owned())
                .collect()
        })
        .collect()
}

/// The backticked codes (snake_case words) in `text` after `marker`, up to the end of that
/// paragraph; what is in parentheses explains a code and is skipped.
fn paragraph_codes(text: &str, marker: &str) -> Vec<String> {
    let start = text
        .find(marker)
        .unwrap_or_else(|| panic!("{marker:?} not found"));
    let para = text[start + marker.len()..]
        .split("\n\n")
        .next()
        .unwrap_or_default();
    let mut depth = 0usize;
    let outside: String = para
        .chars()
        .filter(|&c| {
            match c {
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                _ => return depth == 0,
            }
            false
        })
        .collect();
    backticked(&outside)
        .into_iter()
        .filter(|w| {
            w.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
        .collect()
}

#[test]
fn js_api_error_table_is_the_enum() {
    let text = doc("js-api.md");
    let mut documented = BTreeMap::new();
    for row in table(&text, "## Errors") {
        let group = backticked(&row[1]);
        assert_eq!(group.len(), 1, "one group per row: {row:?}");
        for code in backticked(&row[0]) {
            let before = documented.insert(code.clone(), group[0].clone());
            assert!(before.is_none(), "{code} documented twice");
        }
    }
    let code: BTreeMap<String, String> = Code::ALL
        .iter()
        .map(|c| (c.as_str().to_owned(), c.group().as_str().to_owned()))
        .collect();
    let only_docs: Vec<_> = documented
        .keys()
        .filter(|k| !code.contains_key(*k))
        .collect();
    let only_code: Vec<_> = code
        .keys()
        .filter(|k| !documented.contains_key(*k))
        .collect();
    assert!(
        only_docs.is_empty() && only_code.is_empty(),
        "docs/js-api.md's error table and api::Code differ: only in the docs {only_docs:?}, \
         only in the code {only_code:?}"
    );
    assert_eq!(documented, code, "groups differ");
}

#[test]
fn codes_named_elsewhere_in_js_api_are_in_the_enum() {
    let text = doc("js-api.md");
    let mut named: BTreeSet<String> = BTreeSet::new();
    // "Reading messages" → "### Errors".
    for row in table(&text, "### Errors") {
        named.extend(backticked(&row[0]));
    }
    named.extend(paragraph_codes(&text, "Errors thrown by `SyncRun`"));
    named.extend(paragraph_codes(&text, "Archive errors:"));
    assert!(named.contains("sync_state") && named.contains("archive_too_large"));
    let missing: Vec<_> = named
        .iter()
        .filter(|n| Code::from_name(n).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "named in docs/js-api.md but not in api::Code: {missing:?}"
    );
}

#[test]
fn bridge_protocol_answer_table_is_the_enum() {
    let text = doc("bridge-protocol.md");
    let mut documented = BTreeMap::new();
    for row in table(&text, "### Failure") {
        let code = backticked(&row[0]);
        assert_eq!(code.len(), 1, "{row:?}");
        let close: u16 = row[1]
            .parse()
            .unwrap_or_else(|_| panic!("close code in {row:?}"));
        documented.insert(code[0].clone(), close);
    }
    let code: BTreeMap<String, u16> = ErrorCode::ALL
        .into_iter()
        .filter(|c| c.in_answer())
        .map(|c| (c.as_str().to_owned(), c.close_code()))
        .collect();
    assert_eq!(
        documented, code,
        "docs/bridge-protocol.md §3 and ErrorCode differ"
    );
}
