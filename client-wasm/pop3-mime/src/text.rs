//! text/plain to HTML: every character escaped, line breaks kept (the caller shows it with
//! `white-space: pre-wrap`), and links made only for http, https and mailto, with the link
//! text being exactly the URL it opens.

use pop3_proto::text;

/// Undoes RFC 3676 `format=flowed`: soft line breaks (a line ending in a space) are joined,
/// space-stuffing is removed, and quote depth is kept as `> ` prefixes.
pub fn unflow(text: &str, delsp: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut open: Option<usize> = None; // quote depth of a paragraph still being joined
    let body = text.strip_suffix('\n').unwrap_or(text);
    for raw in body.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let depth = line.bytes().take_while(|&b| b == b'>').count();
        let mut content = &line[depth..];
        content = content.strip_prefix(' ').unwrap_or(content);
        let flowed = content.ends_with(' ') && content != "-- ";
        match open {
            Some(d) if d == depth => {}
            Some(_) => {
                out.push('\n');
                out.push_str(&quote_prefix(depth));
            }
            None => out.push_str(&quote_prefix(depth)),
        }
        if flowed {
            out.push_str(if delsp {
                &content[..content.len() - 1]
            } else {
                content
            });
            open = Some(depth);
        } else {
            out.push_str(content);
            out.push('\n');
            open = None;
        }
    }
    // Every hard line got a line break; the text's last line may have had none.
    if out.ends_with('\n') && !text.ends_with('\n') {
        out.pop();
    }
    out
}

fn quote_prefix(depth: usize) -> String {
    if depth == 0 {
        String::new()
    } else {
        format!("{} ", ">".repeat(depth))
    }
}

/// Escapes text for HTML element content and attribute values alike.
pub fn escape_html(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // CRLF line ends become LF; a lone CR is no line break in HTML either.
            '\r' => {}
            // Controls other than line breaks and tabs have no business in a mail body and
            // some (NUL) are mangled differently by different HTML parsers. Only this class of
            // pop3_proto::text applies to a body: its bidi marks and joiners are the language's.
            c if text::is_control(c) && c != '\n' && c != '\t' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

const SCHEMES: &[&str] = &["https://", "http://", "mailto:"];

/// Converts plain text to an HTML fragment: escaped, with http/https/mailto links.
pub fn text_to_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let lower = text.to_ascii_lowercase();
    // Next occurrence of each scheme at or after `pos`, so that the text is scanned once
    // per scheme overall, not once per link.
    let mut next: Vec<Option<usize>> = SCHEMES.iter().map(|s| lower.find(s)).collect();
    let mut pos = 0;
    loop {
        let mut best: Option<(usize, &str)> = None;
        for (k, scheme) in SCHEMES.iter().enumerate() {
            while let Some(i) = next[k] {
                let at_boundary = text[..i]
                    .chars()
                    .next_back()
                    .is_none_or(|c| !c.is_alphanumeric() && !matches!(c, '.' | '+' | '-'));
                if i >= pos && at_boundary {
                    break;
                }
                let from = if i >= pos { i + 1 } else { pos };
                next[k] = lower
                    .get(from..)
                    .and_then(|l| l.find(scheme))
                    .map(|j| j + from);
            }
            if let Some(i) = next[k]
                && best.is_none_or(|(b, _)| i < b)
            {
                best = Some((i, scheme));
            }
        }
        let Some((start, scheme)) = best else { break };
        let end = start + link_end(&text[start..]);
        escape_html(&text[pos..start], &mut out);
        let url = &text[start..end];
        if url.len() > scheme.len() {
            out.push_str("<a href=\"");
            escape_html(url, &mut out);
            out.push_str("\" target=\"_blank\" rel=\"noopener noreferrer\">");
            escape_html(url, &mut out);
            out.push_str("</a>");
            pos = end;
        } else {
            // A bare scheme (or one eaten by trailing punctuation) is just text.
            escape_html(&text[start..start + 1], &mut out);
            pos = start + 1;
        }
    }
    escape_html(&text[pos..], &mut out);
    out
}

/// Where a URL ends: at whitespace, quotes or angle brackets, minus trailing punctuation
/// that belongs to the sentence (and a closing parenthesis that has no opening one).
fn link_end(s: &str) -> usize {
    let mut end = s
        .char_indices()
        .find(|&(_, c)| {
            // A link's text is exactly its URL: no character of it may reorder or hide
            // (pop3_proto::text), so an unsafe one ends the URL.
            c.is_whitespace()
                || text::is_unsafe(c)
                || matches!(
                    c,
                    '<' | '>' | '"' | '\'' | '`' | '{' | '}' | '|' | '\\' | '^'
                )
        })
        .map_or(s.len(), |(i, _)| i);
    let mut open = s[..end].matches('(').count();
    let mut close = s[..end].matches(')').count();
    while let Some(last) = s[..end].chars().next_back() {
        let unbalanced_paren = last == ')' && open < close;
        if !(matches!(last, '.' | ',' | ';' | ':' | '!' | '?' | ']') || unbalanced_paren) {
            break;
        }
        match last {
            ')' => close -= 1,
            '(' => open -= 1,
            _ => {}
        }
        end -= last.len_utf8();
    }
    end
}
