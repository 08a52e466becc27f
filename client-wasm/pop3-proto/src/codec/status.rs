//! Status lines (`+OK …`, `-ERR …`, SASL `+ …` continuations) and the RFC 2449 / RFC 3206
//! response codes that may open a `-ERR` text.

use std::fmt;

/// The first line of a response, split into its indicator and text (line ending removed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status<'a> {
    /// `+OK`, with the text after it.
    Ok(&'a [u8]),
    /// `-ERR`, with the text after it.
    Err(&'a [u8]),
    /// `+ ` followed by base64: a SASL server challenge (RFC 5034), only valid during AUTH.
    Continuation(&'a [u8]),
}

/// Why a status line could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadStatus;

/// Parses a status line. Continuations are only recognised when `in_auth` is set, because
/// outside AUTH a `+ ` line is a server bug and must not be mistaken for success.
pub(crate) fn parse_status(line: &[u8], in_auth: bool) -> Result<Status<'_>, BadStatus> {
    // Some servers are sloppy about case; the indicator is still unambiguous.
    if line.len() >= 3 && line[..3].eq_ignore_ascii_case(b"+OK") {
        return text_after(&line[3..]).map(Status::Ok);
    }
    if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"-ERR") {
        return text_after(&line[4..]).map(Status::Err);
    }
    if in_auth && line.first() == Some(&b'+') {
        let rest = &line[1..];
        return Ok(Status::Continuation(
            rest.strip_prefix(b" ").unwrap_or(rest),
        ));
    }
    Err(BadStatus)
}

/// Whether one status line (without its line ending) is a positive answer, by the rule this
/// client applies to every answer: `+OK` (any case) alone or followed by a space or tab, so
/// `+OKAY` or `+OK-ish` is not. Public for code that reads a status line outside the engine:
/// the bridge judges the greeting and the answer to its STLS by it, so bridge and client can
/// never disagree about what `+OK` is.
pub fn is_ok_line(line: &[u8]) -> bool {
    matches!(parse_status(line, false), Ok(Status::Ok(_)))
}

/// The text after an indicator must be empty or start with a space (`+OKAY` is not `+OK`).
fn text_after(rest: &[u8]) -> Result<&[u8], BadStatus> {
    match rest.first() {
        None => Ok(rest),
        Some(b' ') | Some(b'\t') => Ok(&rest[1..]),
        Some(_) => Err(BadStatus),
    }
}

/// A response code from RFC 2449 §8 / RFC 3206 that a server put in brackets at the start of its
/// response text. Codes are hierarchical (`SYS/TEMP/…`), so sub-codes map to their parent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RespCode {
    /// `[IN-USE]`: another session holds the mailbox lock.
    InUse,
    /// `[LOGIN-DELAY]`: logged in too soon after the last session.
    LoginDelay,
    /// `[SYS/TEMP]`: a temporary server-side failure.
    SysTemp,
    /// `[SYS/PERM]`: a permanent server-side failure.
    SysPerm,
    /// `[AUTH]`: the credentials are wrong (as opposed to a system problem).
    Auth,
    /// `[UTF8]` (RFC 6856): the operation needs UTF-8 mode.
    Utf8,
    /// Any other code, kept verbatim.
    Other(String),
}

impl RespCode {
    fn from_token(token: &str) -> RespCode {
        let upper = token.to_ascii_uppercase();
        let mut parts = upper.split('/');
        let first = parts.next().unwrap_or_default();
        match (first, parts.next()) {
            ("IN-USE", _) => RespCode::InUse,
            ("LOGIN-DELAY", _) => RespCode::LoginDelay,
            ("SYS", Some("TEMP")) => RespCode::SysTemp,
            ("SYS", Some("PERM")) => RespCode::SysPerm,
            ("AUTH", _) => RespCode::Auth,
            ("UTF8", _) => RespCode::Utf8,
            _ => RespCode::Other(token.to_owned()),
        }
    }

    /// A plain-language explanation of what happened and what the user can do.
    pub fn explain(&self) -> &'static str {
        match self {
            RespCode::InUse => {
                "Another program is using this mailbox right now. Close other mail programs \
                 or wait a few minutes, then try again."
            }
            RespCode::LoginDelay => {
                "The server allows only one login every few minutes and the last one was too \
                 recent. Wait and try again later."
            }
            RespCode::SysTemp => {
                "The mail server has a temporary problem. Try again in a few minutes."
            }
            RespCode::SysPerm => {
                "The mail server has a problem it cannot recover from on its own. Contact \
                 your mail provider."
            }
            RespCode::Auth => "The user name or password (or token) was not accepted.",
            RespCode::Utf8 => "This needs UTF-8 support, which the server did not enable.",
            RespCode::Other(_) => "The server reported an error.",
        }
    }
}

impl fmt::Display for RespCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            RespCode::InUse => "IN-USE",
            RespCode::LoginDelay => "LOGIN-DELAY",
            RespCode::SysTemp => "SYS/TEMP",
            RespCode::SysPerm => "SYS/PERM",
            RespCode::Auth => "AUTH",
            RespCode::Utf8 => "UTF8",
            RespCode::Other(s) => s,
        };
        f.write_str(s)
    }
}

/// What the server said in a `+OK` or `-ERR` line: an optional response code and the text.
///
/// The text is the server's own words: control characters are removed and invalid UTF-8 is
/// replaced, so it can be quoted to the user, but it must still be shown as quoted text, never as
/// UI of ours (a hostile server can write anything there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerReply {
    /// The bracketed response code, if the server sent one.
    pub code: Option<RespCode>,
    /// The rest of the line, sanitized.
    pub text: String,
}

impl ServerReply {
    /// Splits a status text into code and text.
    pub(crate) fn parse(text: &[u8]) -> ServerReply {
        if let Some(rest) = text.strip_prefix(b"[") {
            // A code is a short token; a `[` that does not close quickly is just text.
            if let Some(end) = rest.iter().take(64).position(|&b| b == b']') {
                let token = &rest[..end];
                if !token.is_empty() && token.iter().all(|b| b.is_ascii_graphic()) {
                    let after = &rest[end + 1..];
                    let after = after.strip_prefix(b" ").unwrap_or(after);
                    return ServerReply {
                        code: Some(RespCode::from_token(&String::from_utf8_lossy(token))),
                        text: sanitize_text(after),
                    };
                }
            }
        }
        ServerReply {
            code: None,
            text: sanitize_text(text),
        }
    }
}

impl fmt::Display for ServerReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code {
            Some(code) => write!(f, "[{code}] {}", self.text),
            None => f.write_str(&self.text),
        }
    }
}

/// Server text as something safe to quote: lossy UTF-8 without the characters
/// [`crate::text::is_unsafe`] names (controls, bidi, invisibles).
pub(crate) fn sanitize_text(bytes: &[u8]) -> String {
    crate::text::server_text(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ok_and_err_lines_split_into_indicator_and_text() {
        assert_eq!(parse_status(b"+OK 2 320", false), Ok(Status::Ok(b"2 320")));
        assert_eq!(parse_status(b"+OK", false), Ok(Status::Ok(b"")));
        assert_eq!(
            parse_status(b"-ERR no such message", false),
            Ok(Status::Err(b"no such message"))
        );
        assert_eq!(parse_status(b"+ok fine", false), Ok(Status::Ok(b"fine")));
    }

    #[test]
    fn words_that_merely_start_like_an_indicator_are_rejected() {
        assert_eq!(parse_status(b"+OKAY", false), Err(BadStatus));
        assert_eq!(parse_status(b"-ERROR", false), Err(BadStatus));
        assert_eq!(parse_status(b"hello", false), Err(BadStatus));
        assert_eq!(parse_status(b"", false), Err(BadStatus));
    }

    #[test]
    fn continuations_are_only_recognised_during_auth() {
        assert_eq!(
            parse_status(b"+ abc=", true),
            Ok(Status::Continuation(b"abc="))
        );
        assert_eq!(parse_status(b"+", true), Ok(Status::Continuation(b"")));
        assert_eq!(parse_status(b"+ abc=", false), Err(BadStatus));
        // +OK stays a success even during AUTH.
        assert_eq!(
            parse_status(b"+OK Logged in.", true),
            Ok(Status::Ok(b"Logged in."))
        );
    }

    #[test]
    fn rfc3206_codes_are_recognised_with_their_hierarchy() {
        let r = ServerReply::parse(b"[SYS/TEMP/DB] database down");
        assert_eq!(r.code, Some(RespCode::SysTemp));
        assert_eq!(r.text, "database down");
        assert_eq!(
            ServerReply::parse(b"[IN-USE] locked").code,
            Some(RespCode::InUse)
        );
        assert_eq!(
            ServerReply::parse(b"[LOGIN-DELAY] wait").code,
            Some(RespCode::LoginDelay)
        );
        assert_eq!(
            ServerReply::parse(b"[SYS/PERM] gone").code,
            Some(RespCode::SysPerm)
        );
        assert_eq!(ServerReply::parse(b"[AUTH] bad").code, Some(RespCode::Auth));
        assert_eq!(
            ServerReply::parse(b"[X-FOO] x").code,
            Some(RespCode::Other("X-FOO".into()))
        );
        assert_eq!(ServerReply::parse(b"[not closed").code, None);
        assert_eq!(ServerReply::parse(b"[] empty").code, None);
    }

    #[test]
    fn server_text_loses_control_and_bidi_characters() {
        let r = ServerReply::parse(b"bad\x1b[31m \xe2\x80\xaeevil\x00 \xff");
        assert_eq!(r.text, "bad[31m evil \u{FFFD}");
    }
}
