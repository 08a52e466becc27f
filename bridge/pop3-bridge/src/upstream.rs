//! The connection to the mail server: TCP connect to the checked address, then implicit TLS,
//! STLS, or (if allowed) nothing; in relay mode (end to end) only the TCP connect.
//!
//! STLS is where STARTTLS implementations have historically failed ("NO STARTTLS", USENIX
//! Security 2021). The rules here:
//! - The greeting and the STLS answer are read without any buffering beyond what we inspect.
//! - The greeting and the answer are judged by the client core's own rule
//!   ([`pop3_proto::is_ok_line`]): `+OK` alone or followed by a space, never `+OKAY`.
//! - The answer must be exactly one `+OK` line and *nothing else* may have arrived with it:
//!   bytes after the `+OK` line were written before TLS and would otherwise be read as if they
//!   came through TLS (response injection). Such a session is aborted.
//! - The client cannot inject commands: it is told the session is ready only after TLS is up,
//!   and any binary frame it sends before that aborts the session (see session.rs).
//! - `-ERR`, a missing `+OK`, or a timeout aborts; there is no fallback to plaintext.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use pop3_proto::is_ok_line;
use rustls::pki_types::ServerName;
use tokio::io::AsyncReadExt;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::protocol::{ErrorCode, Security, TlsInfo};
use crate::resolve::Connector;
use crate::server_text::sanitize_server_text;
use crate::session::SessionError;
use crate::tls::{TargetTls, classify_handshake_error};

/// RFC 2449 caps a response's first line at 512 octets; allow some slack for odd servers.
const MAX_STATUS_LINE: usize = 1024;

/// A byte stream to the mail server.
pub enum UpstreamStream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for UpstreamStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            UpstreamStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for UpstreamStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            UpstreamStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            UpstreamStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamStream::Plain(s) => Pin::new(s).poll_flush(cx),
            UpstreamStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            UpstreamStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            UpstreamStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// A ready connection and what the client is told about it.
pub struct Connected {
    pub stream: UpstreamStream,
    pub peer: SocketAddr,
    pub tls: Option<TlsInfo>,
    pub greeting_untrusted: Option<String>,
}

pub struct Timeouts {
    pub connect: Duration,
    pub tls: Duration,
    pub stls: Duration,
}

/// Connect to the first checked address that answers. The addresses were approved by the
/// policy; this function must never be given anything else.
async fn connect_checked(
    connector: &dyn Connector,
    addrs: &[IpAddr],
    port: u16,
    limit: Duration,
) -> Result<(TcpStream, SocketAddr), SessionError> {
    let attempt = async {
        let mut last: Option<io::Error> = None;
        for ip in addrs {
            let sa = SocketAddr::new(*ip, port);
            match connector.connect(sa).await {
                Ok(s) => return Ok((s, sa)),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address")))
    };
    match timeout(limit, attempt).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(SessionError::new(ErrorCode::ConnectFailed, e.to_string())),
        Err(_) => Err(SessionError::new(
            ErrorCode::ConnectTimeout,
            format!("no answer within {} s", limit.as_secs_f64()),
        )),
    }
}

async fn tls_handshake(
    tcp: TcpStream,
    target: &TargetTls,
    server_name: ServerName<'static>,
    limit: Duration,
) -> Result<(TlsStream<TcpStream>, TlsInfo), SessionError> {
    let connector = TlsConnector::from(target.config.clone());
    match timeout(limit, connector.connect(server_name.clone(), tcp)).await {
        Ok(Ok(s)) => {
            let info = target.describe(s.get_ref().1, &server_name);
            Ok((s, info))
        }
        Ok(Err(e)) => Err(SessionError::new(
            classify_handshake_error(&e),
            e.to_string(),
        )),
        Err(_) => Err(SessionError::new(
            ErrorCode::TlsTimeout,
            format!("no TLS handshake within {} s", limit.as_secs_f64()),
        )),
    }
}

/// Read exactly one status line. Returns the line (without CRLF) and whatever bytes arrived
/// after it in the same reads, which the caller must treat as hostile.
async fn read_status_line(tcp: &mut TcpStream) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 512];
    loop {
        if let Some(pos) = buf.iter().position(|&b| b == b'\n') {
            let rest = buf.split_off(pos + 1);
            while matches!(buf.last(), Some(b'\n' | b'\r')) {
                buf.pop();
            }
            return Ok((buf, rest));
        }
        if buf.len() > MAX_STATUS_LINE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "status line too long",
            ));
        }
        let n = tcp.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "server closed the connection",
            ));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The STLS exchange up to (not including) the TLS handshake. Returns the sanitised greeting.
async fn stls_exchange(tcp: &mut TcpStream) -> Result<String, SessionError> {
    let io_err = |e: io::Error| SessionError::new(ErrorCode::StlsRefused, e.to_string());
    let (greeting, extra) = read_status_line(tcp).await.map_err(io_err)?;
    let greeting_text = sanitize_server_text(&greeting);
    if !is_ok_line(&greeting) {
        return Err(SessionError::new(
            ErrorCode::StlsRefused,
            format!("server greeting was not +OK: {greeting_text:?}"),
        ));
    }
    if !extra.is_empty() {
        // The server spoke before being asked: whatever it is, it would be pipelined into
        // the STLS answer. Refuse rather than guess.
        return Err(SessionError::new(
            ErrorCode::StlsInjection,
            format!("{} unexpected bytes after the greeting", extra.len()),
        ));
    }
    tcp.write_all(b"STLS\r\n").await.map_err(io_err)?;
    let (answer, extra) = read_status_line(tcp).await.map_err(io_err)?;
    if !is_ok_line(&answer) {
        return Err(SessionError::new(
            ErrorCode::StlsRefused,
            format!(
                "server answered STLS with: {:?}",
                sanitize_server_text(&answer)
            ),
        ));
    }
    if !extra.is_empty() {
        return Err(SessionError::new(
            ErrorCode::StlsInjection,
            format!(
                "{} bytes followed the +OK to STLS before the TLS handshake",
                extra.len()
            ),
        ));
    }
    Ok(greeting_text)
}

/// Open a relay-mode (end-to-end) session: only the TCP connection to a checked address. No
/// TLS and no STLS here: the client does both through the relay, and what it may send is
/// checked by `tls_guard`. Nothing is read from the server either; the greeting (an STLS
/// server's, in plaintext) is relayed to the client, whose core judges it.
pub async fn open_relay(
    connector: &dyn Connector,
    addrs: &[IpAddr],
    port: u16,
    t: &Timeouts,
) -> Result<Connected, SessionError> {
    let (tcp, peer) = connect_checked(connector, addrs, port, t.connect).await?;
    Ok(Connected {
        stream: UpstreamStream::Plain(tcp),
        peer,
        tls: None,
        greeting_untrusted: None,
    })
}

/// Open the upstream session. `server_name` is what the user typed; `addrs` were checked.
pub async fn open(
    connector: &dyn Connector,
    server_name: &str,
    addrs: &[IpAddr],
    port: u16,
    security: Security,
    target: &TargetTls,
    t: &Timeouts,
) -> Result<Connected, SessionError> {
    let (mut tcp, peer) = connect_checked(connector, addrs, port, t.connect).await?;
    match security {
        Security::Plain => Ok(Connected {
            stream: UpstreamStream::Plain(tcp),
            peer,
            tls: None,
            greeting_untrusted: None,
        }),
        Security::Tls | Security::Stls => {
            let name = ServerName::try_from(server_name.to_string()).map_err(|e| {
                SessionError::new(
                    ErrorCode::TargetRefused,
                    format!("not a valid TLS server name: {e}"),
                )
            })?;
            let greeting = if security == Security::Stls {
                match timeout(t.stls, stls_exchange(&mut tcp)).await {
                    Ok(r) => Some(r?),
                    Err(_) => {
                        return Err(SessionError::new(
                            ErrorCode::StlsTimeout,
                            format!("STLS exchange took longer than {} s", t.stls.as_secs_f64()),
                        ));
                    }
                }
            } else {
                None
            };
            let (tls, info) = tls_handshake(tcp, target, name, t.tls).await?;
            Ok(Connected {
                stream: UpstreamStream::Tls(Box::new(tls)),
                peer,
                tls: Some(info),
                greeting_untrusted: greeting,
            })
        }
    }
}
