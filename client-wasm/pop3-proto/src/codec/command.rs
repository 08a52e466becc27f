//! Commands as the client sends them, with the argument checks that keep a caller's input from
//! turning into extra commands on the wire (a CR LF inside a user name is command injection).

use crate::sasl::Mechanism;
use crate::secret::Secret;
use crate::types::MsgNum;
use std::fmt::Write as _;

/// RFC 2449 §4: a command line, keyword and arguments and CRLF, is at most 255 octets.
pub(crate) const MAX_COMMAND_LINE: usize = 255;

/// One POP3 command.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Command {
    Capa,
    Stls,
    User(String),
    Pass(Secret<String>),
    Apop {
        name: String,
        digest: Secret<String>,
    },
    Auth {
        mechanism: Mechanism,
        /// Base64, `=` for an empty initial response.
        initial: Option<Secret<String>>,
    },
    /// A reply to a SASL challenge: base64, or `*` to cancel.
    AuthReply(Secret<String>),
    Utf8,
    Lang(Option<String>),
    Stat,
    List(Option<MsgNum>),
    Uidl(Option<MsgNum>),
    Retr(MsgNum),
    Top(MsgNum, u32),
    Dele(MsgNum),
    Noop,
    Rset,
    Quit,
}

impl std::fmt::Debug for Command {
    /// Credentials never appear in a debug print of a command.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Pass(_) => f.write_str("PASS <redacted>"),
            Command::Apop { name, .. } => write!(f, "APOP {name} <redacted>"),
            Command::Auth { mechanism, initial } => write!(
                f,
                "AUTH {}{}",
                mechanism.name(),
                if initial.is_some() { " <redacted>" } else { "" }
            ),
            Command::AuthReply(_) => f.write_str("<SASL reply redacted>"),
            other => {
                let mut v = Vec::new();
                other.encode(&mut v);
                f.write_str(String::from_utf8_lossy(&v).trim_end())
            }
        }
    }
}

/// Why an argument cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArgumentError {
    /// Contains CR, LF or NUL, which would end the command early.
    #[error("the {0} contains a line break or NUL character")]
    LineBreak(&'static str),
    /// Contains a space where POP3 allows a single word (e.g. a user name for USER).
    #[error("the {0} contains a space, which POP3's USER and APOP commands cannot carry")]
    Space(&'static str),
    /// Is empty where POP3 requires a value.
    #[error("the {0} is empty")]
    Empty(&'static str),
    /// The command line would exceed RFC 2449's 255 octets.
    #[error("the command would be longer than the 255 octets POP3 allows")]
    TooLong,
}

/// Checks a user-supplied argument; `single_word` for arguments that may not contain spaces.
pub(crate) fn check_arg(
    what: &'static str,
    value: &str,
    single_word: bool,
) -> Result<(), ArgumentError> {
    if value.is_empty() {
        return Err(ArgumentError::Empty(what));
    }
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(ArgumentError::LineBreak(what));
    }
    if single_word && value.bytes().any(|b| b == b' ' || b == b'\t') {
        return Err(ArgumentError::Space(what));
    }
    Ok(())
}

impl Command {
    /// Appends the command line, CRLF included.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        let mut s = String::new();
        // Writing to a String cannot fail.
        let _ = match self {
            Command::Capa => write!(s, "CAPA"),
            Command::Stls => write!(s, "STLS"),
            Command::User(name) => write!(s, "USER {name}"),
            Command::Pass(pw) => write!(s, "PASS {}", pw.expose()),
            Command::Apop { name, digest } => write!(s, "APOP {name} {}", digest.expose()),
            Command::Auth { mechanism, initial } => match initial {
                Some(ir) => write!(s, "AUTH {} {}", mechanism.name(), ir.expose()),
                None => write!(s, "AUTH {}", mechanism.name()),
            },
            Command::AuthReply(r) => write!(s, "{}", r.expose()),
            Command::Utf8 => write!(s, "UTF8"),
            Command::Lang(None) => write!(s, "LANG"),
            Command::Lang(Some(tag)) => write!(s, "LANG {tag}"),
            Command::Stat => write!(s, "STAT"),
            Command::List(None) => write!(s, "LIST"),
            Command::List(Some(n)) => write!(s, "LIST {n}"),
            Command::Uidl(None) => write!(s, "UIDL"),
            Command::Uidl(Some(n)) => write!(s, "UIDL {n}"),
            Command::Retr(n) => write!(s, "RETR {n}"),
            Command::Top(n, lines) => write!(s, "TOP {n} {lines}"),
            Command::Dele(n) => write!(s, "DELE {n}"),
            Command::Noop => write!(s, "NOOP"),
            Command::Rset => write!(s, "RSET"),
            Command::Quit => write!(s, "QUIT"),
        };
        out.extend_from_slice(s.as_bytes());
        out.extend_from_slice(b"\r\n");
    }

    /// The encoded length, CRLF included.
    pub(crate) fn encoded_len(&self) -> usize {
        let mut v = Vec::new();
        self.encode(&mut v);
        v.len()
    }

    /// Whether a successful answer is a multi-line response.
    pub(crate) fn is_multiline(&self) -> bool {
        matches!(
            self,
            Command::Capa
                | Command::List(None)
                | Command::Uidl(None)
                | Command::Retr(_)
                | Command::Top(..)
                | Command::Lang(None)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(c: Command) -> String {
        let mut v = Vec::new();
        c.encode(&mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn commands_encode_as_rfc1939_lines() {
        let n = MsgNum::new(7).unwrap();
        assert_eq!(wire(Command::Retr(n)), "RETR 7\r\n");
        assert_eq!(wire(Command::Top(n, 0)), "TOP 7 0\r\n");
        assert_eq!(wire(Command::List(None)), "LIST\r\n");
        assert_eq!(wire(Command::Uidl(Some(n))), "UIDL 7\r\n");
        assert_eq!(wire(Command::User("mrose".into())), "USER mrose\r\n");
        assert_eq!(
            wire(Command::Auth {
                mechanism: Mechanism::Plain,
                initial: Some(Secret::new("=".into()))
            }),
            "AUTH PLAIN =\r\n"
        );
    }

    #[test]
    fn debug_output_never_contains_secrets() {
        let d = format!("{:?}", Command::Pass(Secret::new("hunter2".into())));
        assert!(!d.contains("hunter2"));
        let d = format!(
            "{:?}",
            Command::Apop {
                name: "u".into(),
                digest: Secret::new("abcdef".into())
            }
        );
        assert!(!d.contains("abcdef"));
        let d = format!("{:?}", Command::AuthReply(Secret::new("c2VjcmV0".into())));
        assert!(!d.contains("c2VjcmV0"));
    }

    #[test]
    fn arguments_that_would_inject_commands_are_refused() {
        assert_eq!(
            check_arg("user name", "a\r\nDELE 1", true),
            Err(ArgumentError::LineBreak("user name"))
        );
        assert_eq!(
            check_arg("password", "x\0y", false),
            Err(ArgumentError::LineBreak("password"))
        );
        assert_eq!(
            check_arg("user name", "a b", true),
            Err(ArgumentError::Space("user name"))
        );
        assert!(check_arg("password", "a b", false).is_ok());
        assert_eq!(
            check_arg("user name", "", true),
            Err(ArgumentError::Empty("user name"))
        );
    }
}
