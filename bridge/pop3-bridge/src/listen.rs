//! Socket activation: systemd's `sd_listen_fds` protocol (pop3-bridge.socket, or
//! `systemd-socket-activate`). The socket is bound by systemd and inherited as file
//! descriptor 3, so connections made while the bridge restarts wait in its queue instead of
//! being refused.
//!
//! The protocol: `LISTEN_PID` is this process's id and `LISTEN_FDS` the number of inherited
//! sockets, starting at descriptor 3. Variables meant for another process (a different
//! `LISTEN_PID`, or none) are ignored, as `sd_listen_fds(3)` does; the bridge then binds
//! `listen` itself.

use std::net::TcpListener;

/// Why the inherited sockets cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    /// `LISTEN_FDS` is not a number.
    #[error("LISTEN_FDS={0:?} is not a number of sockets")]
    BadCount(String),
    /// More than one socket was passed.
    #[error(
        "socket activation passed {0} sockets; pop3-bridge serves exactly one (one ListenStream= in pop3-bridge.socket)"
    )]
    Count(usize),
    /// Descriptor 3 is not a TCP stream socket (a UNIX or UDP socket, say).
    #[error(
        "the socket passed by socket activation (descriptor 3) is not a TCP stream socket: {0}"
    )]
    NotTcp(std::io::Error),
}

/// Whether the environment hands this process (`own_pid`) its listener: `Ok(false)` when the
/// variables are absent or meant for another process, or pass no socket.
fn activated(
    listen_pid: Option<&str>,
    listen_fds: Option<&str>,
    own_pid: u32,
) -> Result<bool, ActivationError> {
    let (Some(pid), Some(fds)) = (listen_pid, listen_fds) else {
        return Ok(false);
    };
    if pid.trim().parse::<u32>().ok() != Some(own_pid) {
        return Ok(false);
    }
    match fds.trim().parse::<usize>() {
        Ok(0) => Ok(false),
        Ok(1) => Ok(true),
        Ok(n) => Err(ActivationError::Count(n)),
        Err(_) => Err(ActivationError::BadCount(fds.to_string())),
    }
}

/// The listener inherited by socket activation, or `None` when this process was not
/// socket-activated. Blocking mode as inherited (the caller makes it non-blocking).
pub fn inherited() -> Result<Option<TcpListener>, ActivationError> {
    let var = |k| std::env::var(k).ok();
    if !activated(
        var("LISTEN_PID").as_deref(),
        var("LISTEN_FDS").as_deref(),
        std::process::id(),
    )? {
        return Ok(None);
    }
    match listenfd::ListenFd::from_env().take_tcp_listener(0) {
        Ok(Some(l)) => Ok(Some(l)),
        Ok(None) => Err(ActivationError::NotTcp(std::io::Error::other(
            "no descriptor 3",
        ))),
        Err(e) => Err(ActivationError::NotTcp(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_variables_for_this_process_activate() {
        assert!(!activated(None, None, 42).unwrap());
        assert!(!activated(None, Some("1"), 42).unwrap());
        // Meant for another process (inherited from a socket-activated parent).
        assert!(!activated(Some("41"), Some("1"), 42).unwrap());
        assert!(!activated(Some("x"), Some("1"), 42).unwrap());
        assert!(!activated(Some("42"), Some("0"), 42).unwrap());
        assert!(activated(Some("42"), Some("1"), 42).unwrap());
        assert!(matches!(
            activated(Some("42"), Some("2"), 42),
            Err(ActivationError::Count(2))
        ));
        assert!(matches!(
            activated(Some("42"), Some("one"), 42),
            Err(ActivationError::BadCount(_))
        ));
    }
}
