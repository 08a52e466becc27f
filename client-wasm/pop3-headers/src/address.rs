//! Address lists (RFC 5322 §3.4) for display: `Name <addr>`, bare addresses, quoted names,
//! comments and groups (flattened). Forgiving: whatever a sender wrote gives some mailboxes.

use crate::Mailbox;
use crate::charsets::Charsets;
use crate::encoded::{decode_encoded_words, word_at};
use pop3_proto::text::display_line;

#[derive(Debug, PartialEq)]
enum Tok {
    /// An atom, dot-atom piece or encoded word, as written.
    Word(String),
    /// A quoted string's content, unescaped.
    Quoted(String),
    /// A comment's content, unescaped (nested comments flattened).
    Comment(String),
    /// `<…>` content.
    Angle(String),
    Special(char),
}

/// The tokens of `s`, each with whether whitespace (or a comment) came before it.
fn tokens(s: &str) -> Vec<(bool, Tok)> {
    let mut out: Vec<(bool, Tok)> = Vec::new();
    let mut chars = s.char_indices().peekable();
    let mut space = false;
    while let Some((i, c)) = chars.next() {
        let before = std::mem::replace(&mut space, false);
        let push = |out: &mut Vec<(bool, Tok)>, t: Tok| out.push((before, t));
        match c {
            c if c.is_whitespace() => space = true,
            '"' => {
                let mut q = String::new();
                while let Some((_, c)) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => {
                            if let Some((_, e)) = chars.next() {
                                q.push(e);
                            }
                        }
                        c => q.push(c),
                    }
                }
                push(&mut out, Tok::Quoted(q));
            }
            '(' => {
                let mut depth = 1usize;
                let mut q = String::new();
                while let Some((_, c)) = chars.next() {
                    match c {
                        '(' => depth += 1,
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        '\\' => {
                            if let Some((_, e)) = chars.next() {
                                q.push(e);
                            }
                        }
                        c => q.push(c),
                    }
                }
                push(&mut out, Tok::Comment(q));
                space = true;
            }
            '<' => {
                let mut q = String::new();
                for (_, c) in chars.by_ref() {
                    if c == '>' {
                        break;
                    }
                    q.push(c);
                }
                push(&mut out, Tok::Angle(q));
            }
            ',' | ';' | ':' | '@' | '.' | '>' | ')' | '[' | ']' => push(&mut out, Tok::Special(c)),
            _ => {
                // An encoded word is one token even when it holds specials (`=?…?q?Doe,_J?=`).
                if let Some(w) = word_at(&s[i..]) {
                    push(&mut out, Tok::Word(s[i..i + w.len].to_owned()));
                    while chars.peek().is_some_and(|&(j, _)| j < i + w.len) {
                        chars.next();
                    }
                    continue;
                }
                let mut end = i + c.len_utf8();
                while let Some(&(j, c)) = chars.peek() {
                    if c.is_whitespace() || "\"(<,;:@.>)[]".contains(c) {
                        break;
                    }
                    end = j + c.len_utf8();
                    chars.next();
                }
                push(&mut out, Tok::Word(s[i..end].to_owned()));
            }
        }
    }
    out
}

/// The mailboxes of an address list (already decoded from bytes, encoded words not yet
/// decoded); names and addresses are display text.
pub(crate) fn mailboxes(value: &str, charsets: &dyn Charsets) -> Vec<Mailbox> {
    let mut out = Vec::new();
    let mut phrase: Vec<(bool, Tok)> = Vec::new();
    let mut angle: Option<String> = None;
    let mut comment: Option<String> = None;
    let finish = |phrase: &mut Vec<(bool, Tok)>,
                  angle: &mut Option<String>,
                  comment: &mut Option<String>,
                  out: &mut Vec<Mailbox>| {
        let has_at = phrase.iter().any(|(_, t)| *t == Tok::Special('@'));
        let (name, address) = match angle.take() {
            Some(a) => (phrase_text(phrase, charsets), Some(a)),
            None if has_at => (String::new(), Some(addr_spec(phrase))),
            None => (phrase_text(phrase, charsets), None),
        };
        let comment = comment.take();
        phrase.clear();
        let name = Some(display_line(&name))
            .filter(|n| !n.is_empty())
            .or_else(|| {
                comment
                    .map(|c| display_line(&decode_encoded_words(&c, charsets)))
                    .filter(|c| !c.is_empty())
            });
        let address = address
            .map(|a| display_line(&a.split_whitespace().collect::<String>()))
            .filter(|a| !a.is_empty());
        if name.is_some() || address.is_some() {
            out.push(Mailbox { name, address });
        }
    };
    for (space, t) in tokens(value) {
        match t {
            Tok::Special(',') | Tok::Special(';') => {
                finish(&mut phrase, &mut angle, &mut comment, &mut out);
            }
            // A group's name: its members follow.
            Tok::Special(':') if angle.is_none() => phrase.clear(),
            Tok::Angle(a) if angle.is_none() => angle = Some(a),
            Tok::Comment(c) if comment.is_none() => comment = Some(c),
            Tok::Comment(_) => {}
            t if angle.is_none() => phrase.push((space, t)),
            _ => {}
        }
    }
    finish(&mut phrase, &mut angle, &mut comment, &mut out);
    out
}

/// A display name: its pieces with the spacing they had, then encoded words decoded (which
/// drops the spaces between adjacent ones).
fn phrase_text(phrase: &[(bool, Tok)], charsets: &dyn Charsets) -> String {
    let mut s = String::new();
    for (space, t) in phrase {
        if *space && !s.is_empty() {
            s.push(' ');
        }
        match t {
            Tok::Word(w) | Tok::Quoted(w) => s.push_str(w),
            Tok::Special(c) => s.push(*c),
            _ => {}
        }
    }
    decode_encoded_words(&s, charsets)
}

/// A bare `local@domain`, its pieces joined without spaces.
fn addr_spec(phrase: &[(bool, Tok)]) -> String {
    let mut s = String::new();
    for (_, t) in phrase {
        match t {
            Tok::Word(w) => s.push_str(w),
            Tok::Quoted(q) => {
                s.push('"');
                s.push_str(q);
                s.push('"');
            }
            Tok::Special(c) => s.push(*c),
            _ => {}
        }
    }
    s
}

/// The short form of a From value for a list column: the display name of `Name <addr>`
/// (unquoted), or the address when there is no name, or the whole value. Works on the
/// decoded value, so a name holding a comma stays whole.
pub fn display_name(from: &str) -> String {
    let s = from.trim_end();
    let short = s
        .strip_suffix('>')
        .and_then(|inner| {
            let lt = inner.rfind('<')?;
            let addr = &inner[lt + 1..];
            if addr.contains('>') {
                return None;
            }
            let mut name = inner[..lt].trim().to_owned();
            if name.len() >= 2 && name.starts_with('"') && name.ends_with('"') {
                name = unescape(&name[1..name.len() - 1]);
            }
            let name = name.trim();
            Some(if name.is_empty() {
                addr.trim().to_owned()
            } else {
                name.to_owned()
            })
        })
        .unwrap_or_else(|| s.trim().to_owned());
    display_line(&short)
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(e) = chars.next() {
                out.push(e);
            }
        } else {
            out.push(c);
        }
    }
    out
}
