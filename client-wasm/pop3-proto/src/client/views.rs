//! The commands legal in each RFC 1939 state, as types: holding a [`Transaction`] is the only way
//! to send RETR, so a RETR before login cannot be written, let alone sent.

use super::{Client, Login, Role};
use crate::codec::capa::Capabilities;
use crate::codec::command::{Command, check_arg};
use crate::codec::greeting::Greeting;
use crate::error::UsageError;
use crate::types::{Handle, MsgNum};

/// The AUTHORIZATION state's commands. Obtained from [`Client::authorization`].
#[derive(Debug)]
pub struct Authorization<'a> {
    pub(super) c: &'a mut Client,
}

impl Authorization<'_> {
    /// The capabilities known on the current security layer.
    pub fn capabilities(&self) -> Option<&Capabilities> {
        self.c.caps.as_ref()
    }

    /// The greeting received on the current security layer.
    pub fn greeting(&self) -> Option<&Greeting> {
        self.c.greeting.as_ref()
    }

    /// Asks for the capability list (RFC 2449).
    pub fn capa(&mut self) -> Handle {
        self.c.enqueue(Command::Capa, Role::Caller)
    }

    /// Asks to start TLS (RFC 2595). On success [`crate::Event::UpgradeToTls`] follows.
    pub fn stls(self) -> Result<Handle, UsageError> {
        if self.c.secure {
            return Err(UsageError::AlreadySecure);
        }
        Ok(self.c.enqueue(Command::Stls, Role::Caller))
    }

    /// Logs in with the strongest method the server, the caller and the connection's security
    /// allow; ends in [`crate::Event::LoggedIn`] or a [`crate::Event::Failed`] with a
    /// [`crate::LoginError`]. Waits for the CAPA answer first if one is pending.
    pub fn login(self, request: Login) -> Result<Handle, UsageError> {
        self.c.start_login(request)
    }

    /// RFC 6856 LANG: `None` lists the languages, `Some(tag)` selects one.
    pub fn lang(&mut self, tag: Option<&str>) -> Result<Handle, UsageError> {
        lang(self.c, tag)
    }

    /// Ends the session without touching the mailbox.
    pub fn quit(self) -> Handle {
        self.c.enqueue(Command::Quit, Role::Caller)
    }
}

/// The TRANSACTION state's commands. Obtained from [`Client::transaction`]. Commands are
/// pipelined when the server allows it; answers arrive in order.
#[derive(Debug)]
pub struct Transaction<'a> {
    pub(super) c: &'a mut Client,
}

impl Transaction<'_> {
    /// The capabilities known (asked again after login, as servers hide some before).
    pub fn capabilities(&self) -> Option<&Capabilities> {
        self.c.caps.as_ref()
    }

    /// Count and total size of the maildrop.
    pub fn stat(&mut self) -> Handle {
        self.c.enqueue(Command::Stat, Role::Caller)
    }

    /// Sizes of all messages (`None`) or one.
    pub fn list(&mut self, msg: Option<MsgNum>) -> Handle {
        self.c.enqueue(Command::List(msg), Role::Caller)
    }

    /// Unique ids of all messages (`None`) or one.
    pub fn uidl(&mut self, msg: Option<MsgNum>) -> Handle {
        self.c.enqueue(Command::Uidl(msg), Role::Caller)
    }

    /// A whole message, streamed as [`crate::Event::MessageData`].
    pub fn retr(&mut self, msg: MsgNum) -> Handle {
        self.c.enqueue(Command::Retr(msg), Role::Caller)
    }

    /// The header and the first `lines` body lines of a message.
    pub fn top(&mut self, msg: MsgNum, lines: u32) -> Handle {
        self.c.enqueue(Command::Top(msg, lines), Role::Caller)
    }

    /// Marks a message for deletion; it is removed only if QUIT succeeds.
    pub fn dele(&mut self, msg: MsgNum) -> Handle {
        self.c.enqueue(Command::Dele(msg), Role::Caller)
    }

    /// Does nothing; keeps the session alive.
    pub fn noop(&mut self) -> Handle {
        self.c.enqueue(Command::Noop, Role::Caller)
    }

    /// Unmarks every message marked for deletion in this session.
    pub fn rset(&mut self) -> Handle {
        self.c.enqueue(Command::Rset, Role::Caller)
    }

    /// Asks for the capability list again.
    pub fn capa(&mut self) -> Handle {
        self.c.enqueue(Command::Capa, Role::Caller)
    }

    /// RFC 6856 LANG: `None` lists the languages, `Some(tag)` selects one.
    pub fn lang(&mut self, tag: Option<&str>) -> Result<Handle, UsageError> {
        lang(self.c, tag)
    }

    /// Ends the session: the server deletes the marked messages (RFC 1939 UPDATE state).
    pub fn quit(self) -> Handle {
        self.c.enqueue(Command::Quit, Role::Caller)
    }
}

fn lang(c: &mut Client, tag: Option<&str>) -> Result<Handle, UsageError> {
    if let Some(t) = tag {
        check_arg("language tag", t, true)?;
    }
    Ok(c.enqueue(Command::Lang(tag.map(str::to_owned)), Role::Caller))
}
