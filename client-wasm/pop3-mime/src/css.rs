//! The CSS a message may keep: one declaration filter ([`filter_declarations`]) for `style`
//! attributes and for the rules of `<style>` sheets, and the sheet filter
//! ([`filter_sheet`]) around it.
//!
//! Nothing kept can load or run anything: no `url()`, `image-set()`, `@import`,
//! `@font-face`, `expression()`, `behavior`, `-moz-binding`, `javascript:`. Sheets are read
//! with `cssparser` (Servo's and Firefox's tokenizer, CSS Syntax Level 3), so the filter sees
//! the tokens a browser sees; what it writes back is the checked tokens' own source text, so
//! what is shown is what was checked. Escapes (`\75rl(`) and comments splitting a word
//! (`u/**/rl(`) never survive: a token spelled with `\` is refused, and a comment whose
//! removal would join two tokens drops what it is in.

use std::sync::atomic::AtomicUsize;

use cssparser::{ParseError, Parser, Token, TokenSerializationType};

use crate::sanitize::count;

/// Words that, anywhere in a declaration's value, can make CSS fetch something or run code
/// (`url(`, `src(`, `image-set(`, `@import`, IE `expression()`/`behavior`, `-moz-binding`); `\` and
/// comments are refused because CSS escapes and comments can spell any of them in disguise;
/// braces because a value must not close its rule in a sheet.
const CSS_FORBIDDEN: &[&str] = &[
    "url",
    // CSS Values 5 `src("...")`, a url() that takes a string.
    "src(",
    "image",
    "expression",
    "behavior",
    "binding",
    "javascript",
    "//",
    "vbscript",
    "@",
    "\\",
    "/*",
    "*/",
    "<",
    ">",
    "{",
    "}",
];

/// Keeps the declarations of a declaration list (an inline `style`, or the block of a sheet's
/// rule) that cannot load or run anything; re-serializes them as `name: value; …` so that
/// filtering the output again gives the same string. Remote references dropped are counted.
pub(crate) fn filter_declarations(css: &str, blocked: Option<&AtomicUsize>) -> String {
    let mut out: Vec<String> = Vec::new();
    for decl in split_declarations(css) {
        let Some((name, value)) = decl.split_once(':') else {
            continue;
        };
        let name = name.trim().to_ascii_lowercase();
        // Unsafe characters (pop3_proto::text) could hide a forbidden word from the checks
        // below; as spaces they split it instead. Line breaks too: outside a string they are
        // spaces to CSS, and inside one they would end it where this filter does not.
        let value: String = value
            .chars()
            .map(|c| {
                if pop3_proto::text::is_unsafe(c) || matches!(c, '\n' | '\r' | '\x0c') {
                    ' '
                } else {
                    c
                }
            })
            .collect::<String>()
            .trim()
            .to_owned();
        let valid_name = !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
            && !name.contains("behavior")
            && !name.contains("binding");
        let lower = value.to_lowercase();
        if lower.contains("url") || lower.contains("image-set") || lower.contains("@import") {
            count(blocked);
        }
        if !valid_name
            || value.is_empty()
            || CSS_FORBIDDEN
                .iter()
                .any(|w| lower.contains(w) || name.contains(w))
            || !balanced(&value)
        {
            continue;
        }
        out.push(format!("{name}: {value}"));
    }
    out.join("; ")
}

/// Splits at `;` outside quotes and parentheses.
fn split_declarations(css: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut depth, mut quote) = (0usize, 0usize, None::<char>);
    for (i, c) in css.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => depth = depth.saturating_sub(1),
            (None, ';') if depth == 0 => {
                parts.push(&css[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&css[start..]);
    parts
}

/// Quotes closed and parentheses balanced: an unterminated string or function would make the
/// browser's CSS parser read on past what this filter checked.
fn balanced(v: &str) -> bool {
    let (mut depth, mut quote) = (0i64, None::<char>);
    for c in v.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    quote.is_none() && depth == 0
}

/// `@media` inside `@media` kept at most this deep; deeper rules are dropped.
const MAX_MEDIA_NESTING: usize = 4;
/// Blocks (parentheses, brackets, functions) inside one selector, media query or declaration
/// block; anything nested deeper is dropped. Bounds the recursion, far above real sheets.
const MAX_BLOCK_NESTING: usize = 16;

/// The text of a `<style>` element, filtered: style rules whose selector is plain (no escapes,
/// no markup, only selector syntax) with their declarations through [`filter_declarations`],
/// and `@media` rules holding such rules (filtered the same way, recursively). Every other
/// at-rule (`@import`, `@font-face`, `@namespace`, `@charset`, `@keyframes`, ...) is dropped.
/// The output never contains `<`, so it cannot end its `<style>` element, and filtering it
/// again gives it back unchanged. `blocked` counts remote references dropped.
pub(crate) fn filter_sheet(css: &str, blocked: Option<&AtomicUsize>) -> String {
    let mut parser = Parser::new(css);
    let mut out = String::new();
    rule_list(&mut parser, 0, &mut out, blocked);
    out
}

/// No error of our own: every failure drops what it is in.
type Failed = ParseError<()>;

/// The rules of a sheet or of an `@media` block, appended to `out` one per line.
fn rule_list(p: &mut Parser, media_depth: usize, out: &mut String, blocked: Option<&AtomicUsize>) {
    loop {
        let start = p.state();
        let token = match p.next() {
            Ok(t) => t.clone(),
            Err(_) => return,
        };
        match token {
            // HTML comment markers are ignored around rules (CSS Syntax, "consume a list of
            // rules" at the top level).
            Token::CDO | Token::CDC => {}
            Token::AtKeyword(name) => {
                let media = name.eq_ignore_ascii_case("media");
                let (prelude, remote) = p
                    .parse_until_before(
                        cssparser::Delimiter::Semicolon | cssparser::Delimiter::CurlyBracketBlock,
                        |p| {
                            let start = p.position();
                            let query = plain(p, Kind::Media, 0);
                            Ok::<_, Failed>((query, rest_mentions_url(p, start)))
                        },
                    )
                    .unwrap_or((None, false));
                let block = matches!(p.next(), Ok(Token::CurlyBracketBlock));
                if !media {
                    // `@import url(...)`, `@font-face { src: url(...) }`: a remote load removed.
                    let in_block = block
                        && p.parse_nested_block(|p| {
                            let start = p.position();
                            Ok::<_, Failed>(rest_mentions_url(p, start))
                        }) == Ok(true);
                    if remote || in_block {
                        count(blocked);
                    }
                    continue;
                }
                if !block {
                    // `@media ...;` without rules.
                    continue;
                }
                let (true, Some(query)) = (media_depth < MAX_MEDIA_NESTING, prelude) else {
                    // Nested too deep, or a query that is not plain: the block is skipped.
                    continue;
                };
                let mut inner = String::new();
                let read = p.parse_nested_block(|p| {
                    rule_list(p, media_depth + 1, &mut inner, blocked);
                    Ok::<_, Failed>(())
                });
                if read.is_ok() && !inner.is_empty() && !query.is_empty() {
                    out.push_str(&format!("@media {query}{{\n{inner}}}\n"));
                }
            }
            _ => {
                p.reset(&start);
                let selector = p
                    .parse_until_before(cssparser::Delimiter::CurlyBracketBlock, |p| {
                        Ok::<_, Failed>(plain(p, Kind::Selector, 0))
                    })
                    .ok()
                    .flatten();
                if !matches!(p.next(), Ok(Token::CurlyBracketBlock)) {
                    // A selector without a block: only at the end of the input.
                    return;
                }
                let block = p
                    .parse_nested_block(|p| Ok::<_, Failed>(plain(p, Kind::Declarations, 0)))
                    .ok()
                    .flatten();
                let declarations = block
                    .map(|b| filter_declarations(&b, blocked))
                    .unwrap_or_default();
                if let Some(selector) = selector.filter(|s| !s.is_empty())
                    && !declarations.is_empty()
                {
                    out.push_str(&format!("{selector}{{{declarations}}}\n"));
                }
            }
        }
    }
}

/// Skips the rest of the current block or delimited run; whether its source from `start` on
/// mentions `url` (a remote reference, counted by the caller).
fn rest_mentions_url(p: &mut Parser, start: cssparser::SourcePosition) -> bool {
    while p.next_including_whitespace_and_comments().is_ok() {}
    p.slice_from(start).to_ascii_lowercase().contains("url")
}

/// What a run of tokens is, for which tokens it may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A style rule's selector list.
    Selector,
    /// An `@media` rule's query list.
    Media,
    /// A rule's block; [`filter_declarations`] then checks every declaration.
    Declarations,
}

/// Functional pseudo-classes a selector may use: they only match elements.
const SELECTOR_FUNCTIONS: &[&str] = &[
    "not",
    "is",
    "where",
    "has",
    "nth-child",
    "nth-last-child",
    "nth-of-type",
    "nth-last-of-type",
    "lang",
    "dir",
];

/// Whether `token` may appear in a run of `kind`. Blocks' contents are checked on their own.
fn allowed(kind: Kind, token: &Token) -> bool {
    match kind {
        // Whatever a declaration holds, the declaration filter checks as text.
        Kind::Declarations => !matches!(
            token,
            Token::BadString(_)
                | Token::BadUrl(_)
                | Token::CloseParenthesis
                | Token::CloseSquareBracket
                | Token::CloseCurlyBracket
        ),
        Kind::Selector => match token {
            Token::Ident(_)
            | Token::Hash(_)
            | Token::IDHash(_)
            | Token::Number { .. }
            | Token::Dimension { .. }
            | Token::Colon
            | Token::Comma
            | Token::WhiteSpace(_)
            | Token::IncludeMatch
            | Token::DashMatch
            | Token::PrefixMatch
            | Token::SuffixMatch
            | Token::SubstringMatch
            | Token::SquareBracketBlock => true,
            Token::Delim(c) => ".*>+~|=&".contains(*c),
            // An attribute value to match; nothing in it looks like a URL or a call.
            Token::QuotedString(v) => !v.contains(['(', ':', '/']),
            Token::Function(name) => SELECTOR_FUNCTIONS
                .iter()
                .any(|f| name.eq_ignore_ascii_case(f)),
            _ => false,
        },
        Kind::Media => match token {
            Token::Ident(_)
            | Token::Number { .. }
            | Token::Dimension { .. }
            | Token::Colon
            | Token::Comma
            | Token::WhiteSpace(_)
            | Token::ParenthesisBlock => true,
            Token::Delim(c) => ">=".contains(*c),
            _ => false,
        },
    }
}

/// The tokens up to the end of the current block (or delimited run) as their own source text,
/// comments removed and whitespace collapsed, if every token is allowed in `kind`, spelled
/// without escapes, `<` or `@` (at-rules are read by [`rule_list`] alone), and no removed comment was all that kept two tokens apart; `None`
/// otherwise.
fn plain(p: &mut Parser, kind: Kind, depth: usize) -> Option<String> {
    let mut out = String::new();
    let mut last = TokenSerializationType::Nothing;
    let mut after_comment = false;
    loop {
        let start = p.position();
        let token = match p.next_including_whitespace_and_comments() {
            Ok(t) => t.clone(),
            Err(_) => break,
        };
        match token {
            Token::Comment(_) => {
                after_comment = true;
                continue;
            }
            Token::WhiteSpace(_) => {
                if !out.is_empty() && !out.ends_with(' ') {
                    out.push(' ');
                }
                last = TokenSerializationType::Nothing;
                after_comment = false;
                continue;
            }
            _ => {}
        }
        let text = p.slice_from(start);
        let kind_here = token.serialization_type();
        if !allowed(kind, &token)
            || text.contains(['\\', '<', '@'])
            || (after_comment && last.needs_separator_when_before(kind_here))
        {
            return None;
        }
        out.push_str(text);
        let close = match token {
            Token::Function(_) | Token::ParenthesisBlock => Some(')'),
            Token::SquareBracketBlock => Some(']'),
            Token::CurlyBracketBlock => Some('}'),
            _ => None,
        };
        if let Some(close) = close {
            if depth >= MAX_BLOCK_NESTING {
                return None;
            }
            // A function's arguments in a selector are a selector (`:not(.a)`) or An+B
            // (`:nth-child(2n+1)`); parentheses in a media query hold a feature.
            let inner = p
                .parse_nested_block(|p| Ok::<_, Failed>(plain(p, kind, depth + 1)))
                .ok()
                .flatten()?;
            out.push_str(inner.trim_end());
            out.push(close);
        }
        last = kind_here;
        after_comment = false;
    }
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::filter_sheet;

    #[test]
    fn rules_keep_their_selectors_and_safe_declarations() {
        let sheet = "/* x */ body { margin: 0; background: url(http://probe.invalid/a) }\n\
                     .a > p , td[align=\"left\"]:not(.b){ color : red;font-size:12px !important}";
        let out = filter_sheet(sheet, None);
        assert_eq!(
            out,
            "body{margin: 0}\n.a > p , td[align=\"left\"]:not(.b){color: red; font-size: 12px !important}\n"
        );
        assert_eq!(filter_sheet(&out, None), out, "a fixed point");
    }

    #[test]
    fn escapes_and_comments_cannot_spell_a_load() {
        for sheet in [
            "p{background:\\75rl(http://probe.invalid/a)}",
            "p{background:\\75 rl(http://probe.invalid/a)}",
            "p{background:u/**/rl(http://probe.invalid/a)}",
            "p{background:url/**/(http://probe.invalid/a)}",
            "p{background:u\\rl(http://probe.invalid/a)}",
            "p{background:image-set(\"http://probe.invalid/a\" 1x)}",
            "p{list-style:src(\"x\")}",
            "p{width:expression(top.x=1)}",
            "p{-moz-binding:x} q{behavior:x}",
            "@import 'http://probe.invalid/a';",
            "@font-face{font-family:x;src:local(x)}",
            "@namespace x 'y';",
            "@charset \"utf-8\";",
            "@media screen{@import url(x);}",
            ".p\\3c/style\\3e{color:red}",
            "p[title=\"\\3c/style\\3e\"]{color:red}",
            "p{content:'\\3c/style\\3e'}",
            // Not an end tag, but no `<` is ever written into a <style>.
            "[title=\"<b>\"]{color:red}",
            "p{content:'<b>'}",
        ] {
            assert_eq!(filter_sheet(sheet, None), "", "{sheet}");
        }
    }

    #[test]
    fn a_comment_that_alone_kept_two_tokens_apart_drops_their_declaration() {
        // Joined, `re` and `d` would be another token (`red`) than the browser reads.
        assert_eq!(filter_sheet("p{color:re/**/d}", None), "");
        assert_eq!(filter_sheet("p{color:/**/red}", None), "p{color: red}\n");
    }

    #[test]
    fn media_rules_are_filtered_recursively_and_nesting_is_bounded() {
        assert_eq!(
            filter_sheet(
                "@media screen{@media (min-width:1px){p{color:red;background:url(x)}}}",
                None
            ),
            "@media screen{\n@media (min-width:1px){\np{color: red}\n}\n}\n"
        );
        // Deeper than allowed: the innermost rules go; no recursion without bound.
        let deep = "@media screen{".repeat(10_000) + "p{color:red}";
        let parens = "p{color:".to_owned() + &"(".repeat(100_000) + "}";
        let out = std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(move || (filter_sheet(&deep, None), filter_sheet(&parens, None)))
            .unwrap()
            .join()
            .expect("no stack overflow");
        assert_eq!(out, (String::new(), String::new()));
    }
}
