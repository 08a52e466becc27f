//! A native tokio driver for the sans-IO core: TCP, TLS (implicit or via STLS), timeouts.
//!
//! It is what a native program built on `pop3-proto` looks like, and what the integration tests
//! and the pipelining benchmark run against a real Dovecot.

use pop3_proto::Instant;
use pop3_proto::{
    AuthMethod, Client, CommandError, ConnectionError, Event, Handle, Login, MsgNum, Options,
    ScanEntry, UidEntry,
};
use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// No TLS (tests and benchmarks on loopback only).
    Plain,
    /// Plain connection upgraded with STLS before login.
    Stls,
    /// TLS from the first byte (port 995).
    Tls,
}

impl std::str::FromStr for Security {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "plain" => Ok(Security::Plain),
            "stls" => Ok(Security::Stls),
            "tls" => Ok(Security::Tls),
            _ => Err(format!("unknown security {s:?}: use plain, stls or tls")),
        }
    }
}

/// Everything that can end a driven session.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// Socket trouble.
    #[error("I/O: {0}")]
    Io(#[from] io::Error),
    /// The protocol engine gave up on the connection.
    #[error("POP3: {0}")]
    Connection(#[from] ConnectionError),
    /// A command failed.
    #[error("command failed: {0}")]
    Command(#[from] CommandError),
    /// The server's name is not a valid TLS server name.
    #[error("invalid server name {0:?}")]
    ServerName(String),
    /// The caller asked for something the state does not allow.
    #[error("{0}")]
    State(&'static str),
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
    Gone,
}

impl Stream {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf).await,
            Stream::Tls(s) => s.read(buf).await,
            Stream::Gone => Ok(0),
        }
    }
    async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.write_all(buf).await,
            Stream::Tls(s) => {
                s.write_all(buf).await?;
                s.flush().await
            }
            Stream::Gone => Err(io::ErrorKind::NotConnected.into()),
        }
    }
}

/// Where and how to connect.
#[derive(Clone)]
pub struct Connect {
    /// Host to connect to.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Transport security.
    pub security: Security,
    /// Name to verify the certificate against (the host the user typed).
    pub server_name: String,
    /// TLS client configuration (trust roots).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// Options for the core; `secure` is set from `security`.
    pub options: Options,
}

impl Connect {
    /// Defaults for `host:port` with the given security and trust.
    pub fn new(
        host: &str,
        port: u16,
        security: Security,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Connect {
        Connect {
            host: host.to_owned(),
            port,
            security,
            server_name: if host == "127.0.0.1" {
                "localhost".to_owned()
            } else {
                host.to_owned()
            },
            tls,
            options: Options::default(),
        }
    }
}

/// A driven POP3 session.
pub struct Session {
    client: Client,
    stream: Stream,
    events: VecDeque<Event>,
    buf: Vec<u8>,
}

impl Session {
    /// Connects, reads the greeting and the first CAPA, and for [`Security::Stls`] upgrades the
    /// connection (the core then asks CAPA again).
    pub async fn connect(c: Connect) -> Result<Session, DriverError> {
        let tcp = TcpStream::connect((c.host.as_str(), c.port)).await?;
        tcp.set_nodelay(true)?;
        let mut opts = c.options.clone();
        opts.secure = c.security == Security::Tls;
        let tls_connector =
            || -> Result<(TlsConnector, rustls::pki_types::ServerName<'static>), DriverError> {
                let config = c
                    .tls
                    .clone()
                    .ok_or(DriverError::State("TLS needs a client config"))?;
                let name = rustls::pki_types::ServerName::try_from(c.server_name.clone())
                    .map_err(|_| DriverError::ServerName(c.server_name.clone()))?;
                Ok((TlsConnector::from(config), name))
            };
        let stream = if c.security == Security::Tls {
            let (connector, name) = tls_connector()?;
            Stream::Tls(Box::new(connector.connect(name, tcp).await?))
        } else {
            Stream::Plain(tcp)
        };
        let mut s = Session {
            client: Client::new(opts, Instant::now()),
            stream,
            events: VecDeque::new(),
            buf: vec![0; 256 * 1024],
        };
        s.wait_for(|e| matches!(e, Event::Greeting(_))).await?;
        s.wait_idle().await?;
        if c.security == Security::Stls {
            let h = s
                .client
                .authorization()
                .ok_or(DriverError::State("not in AUTHORIZATION"))?
                .stls()
                .map_err(|_| DriverError::State("STLS refused by the core"))?;
            s.wait_for_handle(h).await?;
            let Stream::Plain(tcp) = std::mem::replace(&mut s.stream, Stream::Gone) else {
                return Err(DriverError::State("STLS on a TLS stream"));
            };
            let (connector, name) = tls_connector()?;
            s.stream = Stream::Tls(Box::new(connector.connect(name, tcp).await?));
            s.client
                .tls_established(Instant::now())
                .map_err(|_| DriverError::State("no TLS upgrade pending"))?;
            s.wait_idle().await?;
        }
        Ok(s)
    }

    /// The engine, for issuing commands.
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    /// Logs in and waits for the result.
    pub async fn login(&mut self, login: Login) -> Result<AuthMethod, DriverError> {
        let h = self
            .client
            .authorization()
            .ok_or(DriverError::State("not in AUTHORIZATION"))?
            .login(login)
            .map_err(|_| DriverError::State("login refused by the core"))?;
        match self.wait_for_handle(h).await? {
            Event::LoggedIn { method, .. } => {
                // Let the post-login CAPA finish so pipelining is known.
                self.wait_idle().await?;
                Ok(method)
            }
            _ => Err(DriverError::State("unexpected login event")),
        }
    }

    /// Drives I/O until an event matching `pred` arrives; earlier events stay queued for
    /// [`Session::next_event`]... except the matching one, which is returned.
    pub async fn wait_for(
        &mut self,
        mut pred: impl FnMut(&Event) -> bool,
    ) -> Result<Event, DriverError> {
        loop {
            if let Some(i) = self.events.iter().position(&mut pred) {
                return Ok(self.events.remove(i).expect("index exists"));
            }
            self.step().await?;
        }
    }

    /// Waits for the final event of a command: its result, or its failure as an error.
    pub async fn wait_for_handle(&mut self, h: Handle) -> Result<Event, DriverError> {
        let e = self
            .wait_for(|e| match e {
                Event::MessageData { .. } => false,
                other => event_handle(other) == Some(h),
            })
            .await?;
        match e {
            Event::Failed { error, .. } => Err(DriverError::Command(error)),
            e => Ok(e),
        }
    }

    /// Drives I/O until no command is pending.
    pub async fn wait_idle(&mut self) -> Result<(), DriverError> {
        while self.client.pending_commands() > 0 {
            self.step().await?;
        }
        Ok(())
    }

    /// The next queued event, driving I/O if there is none.
    pub async fn next_event(&mut self) -> Result<Event, DriverError> {
        loop {
            if let Some(e) = self.events.pop_front() {
                return Ok(e);
            }
            self.step().await?;
        }
    }

    /// One round: send what is due, then wait for bytes or the next deadline.
    async fn step(&mut self) -> Result<(), DriverError> {
        let before = self.events.len();
        self.flush().await?;
        if self.events.len() > before {
            return Ok(());
        }
        let deadline = self.client.poll_timeout();
        let read = match deadline {
            Some(d) => {
                let wait = d.saturating_duration_since(Instant::now());
                tokio::time::timeout(wait, self.stream.read(&mut self.buf))
                    .await
                    .ok()
            }
            None => Some(self.stream.read(&mut self.buf).await),
        };
        match read {
            None => self.client.handle_timeout(Instant::now())?,
            Some(Ok(0)) => self.client.handle_close()?,
            Some(Ok(n)) => {
                if std::env::var_os("POP3_TRACE").is_some() {
                    eprintln!("S: {:?}", String::from_utf8_lossy(&self.buf[..n.min(200)]));
                }
                self.client.feed(&self.buf[..n], Instant::now())?
            }
            Some(Err(e)) => return Err(e.into()),
        }
        self.flush().await
    }

    async fn flush(&mut self) -> Result<(), DriverError> {
        // The core bounds bytes in flight far below socket buffers, so writing everything
        // before reading again cannot deadlock with a server that writes while we write.
        while let Some(bytes) = self.client.poll_transmit(Instant::now()) {
            if std::env::var_os("POP3_TRACE").is_some() {
                // Only the command words: arguments may be credentials.
                let words: Vec<&[u8]> = bytes
                    .split(|b| *b == b'\n')
                    .filter_map(|l| l.split(|b| *b == b' ').next())
                    .collect();
                eprintln!("C: {words:?}");
            }
            self.stream.write_all(&bytes).await?;
        }
        while let Some(e) = self.client.poll_event() {
            self.events.push_back(e);
        }
        Ok(())
    }

    /// UIDL (if offered) and LIST, pipelined.
    pub async fn listing(
        &mut self,
    ) -> Result<(Vec<ScanEntry>, Option<Vec<UidEntry>>), DriverError> {
        let uidl_offered = self.client.capabilities().is_some_and(|c| c.uidl);
        let mut t = self
            .client
            .transaction()
            .ok_or(DriverError::State("not logged in"))?;
        let u = uidl_offered.then(|| t.uidl(None));
        let l = t.list(None);
        let uids = match u {
            Some(u) => match self.wait_for_handle(u).await? {
                Event::Uidl { entries, .. } => Some(entries),
                _ => None,
            },
            None => None,
        };
        let Event::List { entries, .. } = self.wait_for_handle(l).await? else {
            return Err(DriverError::State("unexpected LIST event"));
        };
        Ok((entries, uids))
    }

    /// Downloads the given messages with pipelined RETRs, calling `sink` with each complete
    /// message in order. Returns the total bytes.
    pub async fn retrieve(
        &mut self,
        msgs: &[MsgNum],
        mut sink: impl FnMut(MsgNum, Vec<u8>),
    ) -> Result<u64, DriverError> {
        let mut t = self
            .client
            .transaction()
            .ok_or(DriverError::State("not logged in"))?;
        let mut pending: HashMap<Handle, (MsgNum, Vec<u8>)> =
            msgs.iter().map(|&m| (t.retr(m), (m, Vec::new()))).collect();
        let mut total = 0;
        while !pending.is_empty() {
            match self.next_event().await? {
                Event::MessageData { handle, data } => {
                    if let Some((_, buf)) = pending.get_mut(&handle) {
                        buf.extend_from_slice(&data);
                    }
                }
                Event::MessageEnd { handle, size } => {
                    if let Some((m, buf)) = pending.remove(&handle) {
                        total += size;
                        sink(m, buf);
                    }
                }
                Event::Failed { handle, error } if pending.contains_key(&handle) => {
                    return Err(DriverError::Command(error));
                }
                _ => {}
            }
        }
        Ok(total)
    }

    /// QUIT; returns whether the server confirmed the UPDATE state.
    pub async fn quit(&mut self) -> Result<bool, DriverError> {
        let h = match self.client.transaction() {
            Some(t) => t.quit(),
            None => self
                .client
                .authorization()
                .ok_or(DriverError::State("cannot QUIT now"))?
                .quit(),
        };
        match self
            .wait_for(|e| matches!(e, Event::Closed { handle, .. } if *handle == h))
            .await?
        {
            Event::Closed { committed, .. } => Ok(committed),
            _ => Err(DriverError::State("unexpected QUIT event")),
        }
    }
}

/// The handle an event is about, if any.
pub fn event_handle(e: &Event) -> Option<Handle> {
    match e {
        Event::Capabilities { handle, .. }
        | Event::UpgradeToTls { handle }
        | Event::LoggedIn { handle, .. }
        | Event::Stat { handle, .. }
        | Event::List { handle, .. }
        | Event::Uidl { handle, .. }
        | Event::MessageData { handle, .. }
        | Event::MessageEnd { handle, .. }
        | Event::Languages { handle, .. }
        | Event::Done { handle, .. }
        | Event::Failed { handle, .. }
        | Event::Closed { handle, .. } => Some(*handle),
        _ => None,
    }
}

/// Fresh random bytes for SASL nonces, from the OS.
pub fn random_nonce() -> Vec<u8> {
    let mut v = vec![0u8; 32];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut v);
    }
    v
}
