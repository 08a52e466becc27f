//! The one definition of the characters that are unsafe in text we show but did not write:
//! server greetings and `-ERR` texts, mail header fields, attachment file names.
//!
//! Such text comes from whoever runs the server or sent the mail. Three classes of characters
//! let it look different from what it is, or break out of the place we put it:
//!
//! - [`is_bidi_control`]: bidirectional embeddings, overrides, isolates and marks reorder what
//!   is displayed (`invoice\u{202E}fdp.exe` shows as `invoiceexe.pdf`), and an unterminated
//!   one reorders our own text after it.
//! - [`is_invisible`]: zero-width and other default-ignorable characters show nothing, so two
//!   different names look the same (`pay\u{200B}pal`), or a word hides inside another.
//! - [`is_control`]: control characters (C0, DEL, C1): line breaks that start a fake second
//!   line, escape sequences for terminals and logs, NUL that ends strings early elsewhere.
//!
//! [`is_unsafe`] is their union. Every layer uses it (the core for server text, `pop3-mime`
//! for headers and file names, `pop3-headers` for the message list, the bridge for the
//! greeting it reports), and the vectors in `tests/unsafe_text_vectors.json` check the same
//! rule in Rust and, through the wasm exports, in JavaScript.
//!
//! Message *bodies* are not cleaned with this rule: right-to-left languages need their marks,
//! and joiners are part of emoji and of many scripts. A body is shown in its own frame, where
//! reordering cannot reach our UI; only its control characters are replaced.

/// Bidirectional formatting characters: ARABIC LETTER MARK (U+061C), LEFT-TO-RIGHT and
/// RIGHT-TO-LEFT MARK (U+200E, U+200F), the embeddings and overrides LRE, RLE, PDF, LRO, RLO
/// (U+202A..U+202E) and the isolates LRI, RLI, FSI, PDI (U+2066..U+2069).
///
/// Unsafe because they change the order in which characters are displayed: an override makes a
/// file's real extension look like part of its name, and one left open reorders whatever text
/// of ours follows it on the line.
pub fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
    )
}

/// Characters that render as nothing: SOFT HYPHEN (U+00AD), MONGOLIAN VOWEL SEPARATOR
/// (U+180E), ZERO WIDTH SPACE, NON-JOINER and JOINER (U+200B..U+200D), WORD JOINER and the
/// invisible mathematical operators (U+2060..U+2064; U+2065 is unassigned but default-ignorable,
/// so it renders as nothing too) and ZERO WIDTH NO-BREAK SPACE / byte order mark (U+FEFF).
///
/// Unsafe because they make different text look the same: a file name, an address or a domain
/// with an invisible character inside looks like the one without, and one inside a word hides
/// it from a search or a filter that the user trusts.
pub fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{180E}' | '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2065}' | '\u{FEFF}'
    )
}

/// Control characters: C0 (U+0000..U+001F, including tab, CR and LF), DEL (U+007F) and C1
/// (U+0080..U+009F, including NEL U+0085) — Unicode's `Cc`, exactly `char::is_control`.
///
/// Unsafe because a line break in a one-line text makes a second line that looks like ours
/// (a fake status, a fake header), escape sequences drive terminals and log viewers, and NUL
/// cuts strings short in whatever C code handles them later.
pub fn is_control(c: char) -> bool {
    c.is_control()
}

/// Whether `c` is unsafe in text we show but did not write: the union of
/// [`is_bidi_control`], [`is_invisible`] and [`is_control`].
pub fn is_unsafe(c: char) -> bool {
    is_control(c) || is_bidi_control(c) || is_invisible(c)
}

/// Whether `s` contains any [unsafe](is_unsafe) character.
pub fn has_unsafe(s: &str) -> bool {
    s.chars().any(is_unsafe)
}

/// `s` without its unsafe characters. For text quoted as it is (a server's words): nothing is
/// added, so the result is never longer than the input.
pub fn strip_unsafe(s: &str) -> String {
    s.chars().filter(|&c| !is_unsafe(c)).collect()
}

/// `s` with every unsafe character replaced by `with` (e.g. U+FFFD, to show that something was
/// there).
pub fn replace_unsafe(s: &str, with: char) -> String {
    s.chars()
        .map(|c| if is_unsafe(c) { with } else { c })
        .collect()
}

/// One line of display text (a header field, a list column): control characters become spaces
/// (a folded or tab-separated value stays readable as words), bidi and invisible characters are
/// removed, and the ends are trimmed.
pub fn display_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_control(c) {
            out.push(' ');
        } else if !is_unsafe(c) {
            out.push(c);
        }
    }
    let trimmed = out.trim();
    if trimmed.len() == out.len() {
        out
    } else {
        trimmed.to_owned()
    }
}

/// Server bytes as text safe to quote: lossy UTF-8 without unsafe characters.
pub fn server_text(bytes: &[u8]) -> String {
    strip_unsafe(&String::from_utf8_lossy(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_union_is_exactly_the_three_classes() {
        for cp in 0..=0x10FFFFu32 {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            assert_eq!(
                is_unsafe(c),
                is_bidi_control(c) || is_invisible(c) || c.is_control(),
                "U+{cp:04X}"
            );
        }
    }

    #[test]
    fn display_line_turns_controls_into_spaces_and_drops_the_rest() {
        assert_eq!(display_line(" a\tb\r\nc\u{202E}d\u{200B}e "), "a b  cde");
        assert_eq!(display_line("plain"), "plain");
    }

    #[test]
    fn replace_unsafe_marks_every_unsafe_character() {
        assert_eq!(replace_unsafe("a\u{1b}b\u{2066}", '?'), "a?b?");
    }
}
