//! The connection engine: input bytes and time in; bytes to send, deadlines and events out.

mod login;
mod views;

pub use login::Login;
pub use views::{Authorization, Transaction};

use crate::codec::capa::Capabilities;
use crate::codec::command::{Command, MAX_COMMAND_LINE};
use crate::codec::greeting::{Greeting, apop_digest};
use crate::codec::listing::{parse_scan, parse_stat, parse_uid};
use crate::codec::multiline::Unstuffer;
use crate::codec::status::{ServerReply, Status, parse_status, sanitize_text};
use crate::error::{AuthMethod, CommandError, ConnectionError, LoginError, UsageError};
use crate::event::Event;
use crate::options::{Options, Start};
use crate::sasl::{Authenticator, Credentials};
use crate::secret::Secret;
use crate::types::{Handle, MsgNum, ScanEntry, UidEntry};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use login::{LoginFlow, Step, choose_method};
use std::collections::{BTreeSet, VecDeque};
use web_time::Instant;

/// The protocol state as RFC 1939 names it, plus the moments in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// Connected, greeting not yet received.
    AwaitingGreeting,
    /// RFC 1939 AUTHORIZATION: identify yourself.
    Authorization,
    /// The server accepted STLS; the driver is doing the TLS handshake.
    TlsUpgrade,
    /// RFC 1939 TRANSACTION: logged in.
    Transaction,
    /// QUIT answered, or the connection failed: nothing more will happen.
    Closed,
}

/// Who asked for a command, which decides where its answer goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The caller: answers become events.
    Caller,
    /// The core's own CAPA after greeting, STLS and login.
    AutoCapa,
    /// A step of the running login.
    Login,
    /// A keep-alive NOOP: its answer is not reported.
    KeepAlive,
}

#[derive(Debug)]
struct Queued {
    cmd: Command,
    handle: Handle,
    role: Role,
}

/// What the reader expects next.
enum Reading {
    /// A status line (or the greeting).
    Status,
    /// The lines of a CAPA, LIST, UIDL or LANG answer.
    Lines(Lines),
    /// The content of a RETR or TOP answer.
    Body {
        unstuffer: Unstuffer,
        size: u64,
        discarding: bool,
    },
}

enum Lines {
    Capa(Vec<Vec<u8>>),
    Scan(Vec<ScanEntry>),
    Uids(Vec<UidEntry>),
    Langs(Vec<(String, String)>),
}

/// A POP3 client connection, without I/O.
///
/// Feed it what the server sends ([`Client::feed`]), send what [`Client::poll_transmit`] returns,
/// act on [`Client::poll_event`], and call [`Client::handle_timeout`] when [`Client::poll_timeout`]
/// says. After every input (bytes, timeout, a new command), drain `poll_transmit` and
/// `poll_event` before waiting again. Commands are issued through [`Client::authorization`] and
/// [`Client::transaction`], which exist only in the state where their commands are legal.
pub struct Client {
    opts: Options,
    state: SessionState,
    secure: bool,
    caps: Option<Capabilities>,
    /// False once a CAPA got `-ERR`: an RFC 1939-only server; don't keep asking.
    capa_works: bool,
    greeting: Option<Greeting>,
    utf8_enabled: bool,
    buf: Vec<u8>,
    pos: usize,
    /// How far `buf` was already searched for a line end, so that a line arriving a byte at a
    /// time costs linear, not quadratic, work.
    scanned: usize,
    reading: Reading,
    queue: VecDeque<Queued>,
    in_flight: VecDeque<(Queued, usize)>,
    in_flight_bytes: usize,
    events: VecDeque<Event>,
    next_handle: u64,
    last_activity: Instant,
    login: Option<LoginFlow>,
    quit_queued: bool,
    marked: BTreeSet<MsgNum>,
    failure: Option<ConnectionError>,
}

/// Shows the session's state, never its buffers (they hold message bytes) nor anything of a
/// login in progress (credentials).
impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("state", &self.state)
            .field("secure", &self.secure)
            .field("utf8_enabled", &self.utf8_enabled)
            .field("queued", &self.queue.len())
            .field("in_flight", &self.in_flight.len())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for a connection that was just opened at `now`.
    pub fn new(opts: Options, now: Instant) -> Client {
        let after_stls = opts.start == Start::AfterStls;
        let mut c = Client {
            state: if after_stls {
                SessionState::Authorization
            } else {
                SessionState::AwaitingGreeting
            },
            secure: opts.secure || after_stls,
            caps: None,
            capa_works: true,
            greeting: None,
            utf8_enabled: false,
            buf: Vec::new(),
            pos: 0,
            scanned: 0,
            reading: Reading::Status,
            queue: VecDeque::new(),
            in_flight: VecDeque::new(),
            in_flight_bytes: 0,
            events: VecDeque::new(),
            next_handle: 1,
            last_activity: now,
            login: None,
            quit_queued: false,
            marked: BTreeSet::new(),
            failure: None,
            opts,
        };
        if after_stls {
            c.auto_capa();
        }
        c
    }

    // ----- getters -----

    /// The current protocol state.
    pub fn state(&self) -> SessionState {
        self.state
    }

    /// Whether the transport is encrypted (implicit TLS, or STLS completed).
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The latest capability set, if CAPA was answered on the current security layer.
    pub fn capabilities(&self) -> Option<&Capabilities> {
        self.caps.as_ref()
    }

    /// The greeting, unless it was received before STLS (then it is forgotten).
    pub fn greeting(&self) -> Option<&Greeting> {
        self.greeting.as_ref()
    }

    /// Messages this session marked with DELE (cleared by RSET). They are removed only when
    /// QUIT succeeds.
    pub fn marked_for_deletion(&self) -> &BTreeSet<MsgNum> {
        &self.marked
    }

    /// Why the connection failed, if it did.
    pub fn failure(&self) -> Option<&ConnectionError> {
        self.failure.as_ref()
    }

    /// Commands enqueued or awaiting an answer.
    pub fn pending_commands(&self) -> usize {
        self.queue.len() + self.in_flight.len()
    }

    // ----- typed command views -----

    /// Commands of the AUTHORIZATION state, or `None` when they cannot be sent now (wrong state,
    /// or a login, STLS or QUIT is under way).
    pub fn authorization(&mut self) -> Option<Authorization<'_>> {
        let exclusive = self.login.is_some()
            || self.quit_queued
            || self.queue.iter().any(|q| q.cmd == Command::Stls)
            || self.in_flight.iter().any(|(q, _)| q.cmd == Command::Stls);
        (self.state == SessionState::Authorization && !exclusive)
            .then_some(Authorization { c: self })
    }

    /// Commands of the TRANSACTION state, or `None` when not logged in or QUIT was enqueued.
    pub fn transaction(&mut self) -> Option<Transaction<'_>> {
        (self.state == SessionState::Transaction && !self.quit_queued)
            .then_some(Transaction { c: self })
    }

    // ----- inputs -----

    /// Processes bytes received from the server at `now`. An error is fatal: close the
    /// transport. Events and bytes to send may be pending either way.
    pub fn feed(&mut self, data: &[u8], now: Instant) -> Result<(), ConnectionError> {
        if let Some(e) = &self.failure {
            return Err(e.clone());
        }
        if data.is_empty() {
            return Ok(());
        }
        if self.state == SessionState::Closed {
            return self.fail(ConnectionError::UnsolicitedData);
        }
        if self.state == SessionState::TlsUpgrade {
            return self.fail(ConnectionError::DataDuringTlsUpgrade);
        }
        self.last_activity = now;
        self.buf.extend_from_slice(data);
        let result = self.process();
        self.compact();
        match result {
            Ok(()) => {
                self.drive_login();
                Ok(())
            }
            Err(e) => self.fail(e),
        }
    }

    /// The server closed the connection. Fine after QUIT; otherwise an error, and nothing
    /// marked for deletion was deleted.
    pub fn handle_close(&mut self) -> Result<(), ConnectionError> {
        if let Some(e) = &self.failure {
            return Err(e.clone());
        }
        if self.state == SessionState::Closed {
            return Ok(());
        }
        self.fail(ConnectionError::ClosedUnexpectedly)
    }

    /// The driver finished the TLS handshake after [`Event::UpgradeToTls`]. Everything learnt
    /// in plaintext is forgotten (RFC 2595 §4): capabilities, greeting, APOP timestamp.
    pub fn tls_established(&mut self, now: Instant) -> Result<(), UsageError> {
        if self.state != SessionState::TlsUpgrade {
            return Err(UsageError::NotUpgrading);
        }
        self.secure = true;
        self.caps = None;
        self.capa_works = true;
        self.greeting = None;
        self.state = SessionState::Authorization;
        self.last_activity = now;
        self.auto_capa();
        Ok(())
    }

    /// When [`Client::handle_timeout`] should be called next, if ever.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.failure.is_some() || self.state == SessionState::Closed {
            return None;
        }
        if self.state == SessionState::AwaitingGreeting {
            return Some(self.last_activity + self.opts.greeting_timeout);
        }
        if !self.in_flight.is_empty() || self.state == SessionState::TlsUpgrade {
            return Some(self.last_activity + self.opts.response_timeout);
        }
        if self.state == SessionState::Transaction && self.queue.is_empty() && !self.quit_queued {
            return self.opts.keepalive.map(|k| self.last_activity + k);
        }
        None
    }

    /// Time has passed: fails the connection if an answer is overdue, or queues a keep-alive.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), ConnectionError> {
        let Some(deadline) = self.poll_timeout() else {
            return Ok(());
        };
        if now < deadline {
            return Ok(());
        }
        let waiting_for = match self.state {
            SessionState::AwaitingGreeting => "the greeting",
            SessionState::TlsUpgrade => "the TLS handshake",
            _ if !self.in_flight.is_empty() => "a response",
            _ => {
                let handle = self.new_handle();
                self.queue.push_back(Queued {
                    cmd: Command::Noop,
                    handle,
                    role: Role::KeepAlive,
                });
                self.last_activity = now;
                return Ok(());
            }
        };
        let timeout = if self.state == SessionState::AwaitingGreeting {
            self.opts.greeting_timeout
        } else {
            self.opts.response_timeout
        };
        self.fail(ConnectionError::TimedOut {
            waiting_for,
            seconds: timeout.as_secs(),
        })
    }

    // ----- outputs -----

    /// Bytes to send now, if any: as many queued commands as the pipelining window admits.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(next) = self.queue.front() {
            if !self.may_send(&next.cmd) {
                break;
            }
            let Some(q) = self.queue.pop_front() else {
                break;
            };
            let before = out.len();
            q.cmd.encode(&mut out);
            let len = out.len() - before;
            if self.in_flight.is_empty() {
                // The response timer starts when something is first awaited.
                self.last_activity = now;
            }
            let is_stls = q.cmd == Command::Stls;
            self.in_flight_bytes += len;
            self.in_flight.push_back((q, len));
            if is_stls {
                // Nothing may follow STLS before TLS is up (command injection, RFC 2595 §4).
                break;
            }
        }
        (!out.is_empty()).then_some(out)
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    // ----- internals -----

    fn may_send(&self, cmd: &Command) -> bool {
        if matches!(
            self.state,
            SessionState::AwaitingGreeting | SessionState::TlsUpgrade | SessionState::Closed
        ) {
            return false;
        }
        if self.in_flight.is_empty() {
            return true;
        }
        let pipelining = self.state == SessionState::Transaction
            && self.opts.pipelining
            && self.caps.as_ref().is_some_and(|c| c.pipelining);
        pipelining
            && self.in_flight.len() < self.opts.max_in_flight
            && self.in_flight_bytes + cmd.encoded_len() <= self.opts.max_in_flight_bytes
    }

    fn new_handle(&mut self) -> Handle {
        let h = Handle(self.next_handle);
        self.next_handle += 1;
        h
    }

    fn enqueue(&mut self, cmd: Command, role: Role) -> Handle {
        let handle = self.new_handle();
        if cmd == Command::Quit {
            self.quit_queued = true;
        }
        self.queue.push_back(Queued { cmd, handle, role });
        handle
    }

    fn auto_capa(&mut self) {
        if self.opts.auto_capa && self.capa_works {
            self.enqueue(Command::Capa, Role::AutoCapa);
        }
    }

    fn fail(&mut self, e: ConnectionError) -> Result<(), ConnectionError> {
        self.state = SessionState::Closed;
        self.queue.clear();
        self.in_flight.clear();
        self.in_flight_bytes = 0;
        self.login = None;
        self.failure = Some(e.clone());
        Err(e)
    }

    fn compact(&mut self) {
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
            self.scanned = 0;
        } else if self.pos > 64 * 1024 {
            self.buf.drain(..self.pos);
            self.scanned -= self.pos;
            self.pos = 0;
        }
    }

    /// The next complete line (without its line ending) as a range of `buf`.
    fn take_line(&mut self) -> Result<Option<(usize, usize)>, ConnectionError> {
        let from = self.scanned.max(self.pos);
        match memchr::memchr(b'\n', &self.buf[from..]) {
            Some(i) => {
                let lf = from + i;
                let mut end = lf;
                if end > self.pos && self.buf[end - 1] == b'\r' {
                    end -= 1;
                }
                if end - self.pos > self.opts.max_line {
                    return Err(ConnectionError::LineTooLong {
                        limit: self.opts.max_line,
                    });
                }
                let start = self.pos;
                self.pos = lf + 1;
                self.scanned = self.pos;
                Ok(Some((start, end)))
            }
            None => {
                self.scanned = self.buf.len();
                if self.buf.len() - self.pos > self.opts.max_line + 1 {
                    return Err(ConnectionError::LineTooLong {
                        limit: self.opts.max_line,
                    });
                }
                Ok(None)
            }
        }
    }

    fn process(&mut self) -> Result<(), ConnectionError> {
        loop {
            match &mut self.reading {
                Reading::Status => {
                    if self.pos == self.buf.len() {
                        return Ok(());
                    }
                    if self.state == SessionState::TlsUpgrade {
                        return Err(ConnectionError::DataAfterStls);
                    }
                    if self.state != SessionState::AwaitingGreeting && self.in_flight.is_empty() {
                        return Err(ConnectionError::UnsolicitedData);
                    }
                    let Some((s, e)) = self.take_line()? else {
                        return Ok(());
                    };
                    let line = self.buf[s..e].to_vec();
                    self.on_status(&line)?;
                }
                Reading::Lines(_) => {
                    let Some((s, e)) = self.take_line()? else {
                        return Ok(());
                    };
                    let line = &self.buf[s..e];
                    if line == b"." {
                        let Reading::Lines(lines) =
                            std::mem::replace(&mut self.reading, Reading::Status)
                        else {
                            unreachable!("matched above")
                        };
                        self.finish_lines(lines);
                        continue;
                    }
                    let line = line.strip_prefix(b".").unwrap_or(line);
                    let Reading::Lines(lines) = &mut self.reading else {
                        unreachable!("matched above")
                    };
                    push_line(lines, line)?;
                }
                Reading::Body {
                    unstuffer,
                    size,
                    discarding,
                } => {
                    let input = &self.buf[self.pos..];
                    if input.is_empty() {
                        return Ok(());
                    }
                    let mut data = Vec::with_capacity(input.len());
                    let progress = unstuffer.feed(input, &mut data);
                    self.pos += progress.consumed;
                    self.scanned = self.pos;
                    let handle = self.in_flight.front().map(|(q, _)| q.handle);
                    if !*discarding {
                        if *size + data.len() as u64 > self.opts.max_message_size {
                            *discarding = true;
                        } else if !data.is_empty() {
                            *size += data.len() as u64;
                            if let Some(handle) = handle {
                                self.events.push_back(Event::MessageData { handle, data });
                            }
                        }
                    }
                    if progress.done {
                        let (size, discarding) = (*size, *discarding);
                        self.reading = Reading::Status;
                        let (q, _) = self.pop_in_flight();
                        self.events.push_back(if discarding {
                            Event::Failed {
                                handle: q.handle,
                                error: CommandError::TooLarge {
                                    limit: self.opts.max_message_size,
                                },
                            }
                        } else {
                            Event::MessageEnd {
                                handle: q.handle,
                                size,
                            }
                        });
                    }
                }
            }
        }
    }

    fn pop_in_flight(&mut self) -> (Queued, usize) {
        // Callers only pop after checking that a command is in flight.
        let (q, len) = self.in_flight.pop_front().expect("a command is in flight");
        self.in_flight_bytes -= len;
        (q, len)
    }

    fn on_status(&mut self, line: &[u8]) -> Result<(), ConnectionError> {
        if self.state == SessionState::AwaitingGreeting {
            return match parse_status(line, false) {
                Ok(Status::Ok(text)) => {
                    let g = Greeting::parse(text);
                    self.greeting = Some(g.clone());
                    self.events.push_back(Event::Greeting(g));
                    self.state = SessionState::Authorization;
                    self.auto_capa();
                    Ok(())
                }
                Ok(Status::Err(text)) => {
                    Err(ConnectionError::GreetingRejected(ServerReply::parse(text)))
                }
                _ => Err(malformed("greeting", line)),
            };
        }
        let in_auth = self
            .in_flight
            .front()
            .is_some_and(|(q, _)| matches!(q.cmd, Command::Auth { .. } | Command::AuthReply(_)));
        let status = parse_status(line, in_auth).map_err(|_| malformed("status line", line))?;
        let multiline = self
            .in_flight
            .front()
            .is_some_and(|(q, _)| q.cmd.is_multiline());
        match status {
            Status::Ok(_) if multiline => {
                let cmd = &self.in_flight.front().expect("checked above").0.cmd;
                self.reading = match cmd {
                    Command::Retr(_) | Command::Top(..) => Reading::Body {
                        unstuffer: Unstuffer::new(),
                        size: 0,
                        discarding: false,
                    },
                    Command::Capa => Reading::Lines(Lines::Capa(Vec::new())),
                    Command::List(None) => Reading::Lines(Lines::Scan(Vec::new())),
                    Command::Uidl(None) => Reading::Lines(Lines::Uids(Vec::new())),
                    _ => Reading::Lines(Lines::Langs(Vec::new())),
                };
                Ok(())
            }
            Status::Ok(text) => {
                let (q, _) = self.pop_in_flight();
                self.on_ok(q, text)
            }
            Status::Err(text) => {
                let (q, _) = self.pop_in_flight();
                self.on_err(q, ServerReply::parse(text));
                Ok(())
            }
            Status::Continuation(data) => {
                let (q, _) = self.pop_in_flight();
                self.on_challenge(q, data)
            }
        }
    }

    fn on_ok(&mut self, q: Queued, text: &[u8]) -> Result<(), ConnectionError> {
        if q.role == Role::Login {
            return self.login_ok(text);
        }
        let handle = q.handle;
        let event = match q.cmd {
            Command::Stls => {
                self.state = SessionState::TlsUpgrade;
                Event::UpgradeToTls { handle }
            }
            Command::Stat => match parse_stat(text) {
                Some(stat) => Event::Stat { handle, stat },
                None => return Err(malformed("STAT answer", text)),
            },
            Command::List(Some(_)) => match parse_scan(text) {
                Some(e) => Event::List {
                    handle,
                    entries: vec![e],
                },
                None => return Err(malformed("LIST answer", text)),
            },
            Command::Uidl(Some(_)) => match parse_uid(text) {
                Some(e) => Event::Uidl {
                    handle,
                    entries: vec![e],
                },
                None => return Err(malformed("UIDL answer", text)),
            },
            Command::Quit => {
                let committed = self.state == SessionState::Transaction;
                self.state = SessionState::Closed;
                self.marked.clear();
                Event::Closed { handle, committed }
            }
            cmd => {
                match cmd {
                    Command::Dele(n) => {
                        self.marked.insert(n);
                    }
                    Command::Rset => self.marked.clear(),
                    _ => {}
                }
                Event::Done {
                    handle,
                    reply: ServerReply::parse(text),
                }
            }
        };
        if q.role == Role::Caller {
            self.events.push_back(event);
        } else if let Event::Closed { .. } = event {
            self.events.push_back(event);
        }
        Ok(())
    }

    fn on_err(&mut self, q: Queued, reply: ServerReply) {
        match q.role {
            Role::Login => self.login_err(reply),
            Role::AutoCapa => {
                // An RFC 1939-only server: carry on with what RFC 1939 guarantees.
                self.capa_works = false;
                self.caps = Some(Capabilities::default());
            }
            Role::KeepAlive => {}
            Role::Caller => {
                if q.cmd == Command::Capa {
                    self.capa_works = false;
                }
                if q.cmd == Command::Quit {
                    self.state = SessionState::Closed;
                    self.events.push_back(Event::Failed {
                        handle: q.handle,
                        error: CommandError::QuitFailed(reply),
                    });
                    self.events.push_back(Event::Closed {
                        handle: q.handle,
                        committed: false,
                    });
                    return;
                }
                self.events.push_back(Event::Failed {
                    handle: q.handle,
                    error: CommandError::Server(reply),
                });
            }
        }
    }

    fn finish_lines(&mut self, lines: Lines) {
        let (q, _) = self.pop_in_flight();
        let handle = q.handle;
        let event = match lines {
            Lines::Capa(lines) => {
                let caps = Capabilities::parse(lines.iter().map(Vec::as_slice));
                self.caps = Some(caps.clone());
                Event::Capabilities { handle, caps }
            }
            Lines::Scan(entries) => Event::List { handle, entries },
            Lines::Uids(entries) => Event::Uidl { handle, entries },
            Lines::Langs(languages) => Event::Languages { handle, languages },
        };
        if q.role != Role::KeepAlive {
            self.events.push_back(event);
        }
    }

    // ----- login -----

    pub(crate) fn start_login(&mut self, request: Login) -> Result<Handle, UsageError> {
        use crate::codec::command::check_arg;
        check_arg("user name", request.username(), false)?;
        if let Credentials::Password { password, .. } = &request.credentials {
            check_arg("password", password.expose(), false)?;
        }
        let handle = self.new_handle();
        self.login = Some(LoginFlow {
            handle,
            request,
            step: Step::Waiting,
            method: None,
            auth: None,
            held_initial: None,
        });
        self.drive_login();
        Ok(handle)
    }

    /// Starts the next login step once the connection is idle; Authorization-state commands are
    /// never pipelined, and the method can only be chosen once CAPA has been answered.
    fn drive_login(&mut self) {
        let Some(flow) = &self.login else { return };
        if !matches!(flow.step, Step::Waiting)
            || !self.queue.is_empty()
            || !self.in_flight.is_empty()
            || self.state != SessionState::Authorization
        {
            return;
        }
        let caps = self.caps.clone().unwrap_or_default();
        if flow.request.utf8 && caps.utf8.is_some() && !self.utf8_enabled {
            self.set_step(Step::Utf8);
            self.enqueue(Command::Utf8, Role::Login);
            return;
        }
        let timestamp = self.greeting.as_ref().and_then(|g| g.timestamp.clone());
        let method = match choose_method(&flow.request, &caps, timestamp.as_deref(), self.secure) {
            Ok(m) => m,
            Err(e) => return self.login_failed(e),
        };
        self.start_method(method, timestamp);
    }

    fn set_step(&mut self, step: Step) {
        if let Some(f) = &mut self.login {
            f.step = step;
        }
    }

    fn start_method(&mut self, method: AuthMethod, timestamp: Option<String>) {
        let Some(flow) = &mut self.login else { return };
        flow.method = Some(method);
        let username = flow.request.username().to_owned();
        let cmd = match method {
            AuthMethod::UserPass => {
                flow.step = Step::User;
                Command::User(username)
            }
            AuthMethod::Apop => {
                let Credentials::Password { password, .. } = &flow.request.credentials else {
                    return;
                };
                flow.step = Step::Apop;
                Command::Apop {
                    name: username,
                    digest: apop_digest(timestamp.as_deref().unwrap_or_default(), password),
                }
            }
            AuthMethod::Sasl(m) => {
                let mut auth = match Authenticator::new(
                    m,
                    &flow.request.credentials,
                    &flow.request.client_nonce,
                ) {
                    Ok(a) => a,
                    Err(e) => {
                        let error = LoginError::Sasl {
                            mechanism: m,
                            error: e.to_string(),
                            server_error: None,
                        };
                        return self.login_failed(error);
                    }
                };
                let initial = auth.initial_response();
                let ir_wanted = flow.request.sasl_initial_response;
                flow.step = Step::Sasl;
                let initial = match initial {
                    Some(ir) => {
                        let encoded = if ir.expose().is_empty() {
                            "=".to_owned()
                        } else {
                            B64.encode(ir.expose())
                        };
                        // "AUTH " + name + " " + response + CRLF must fit RFC 2449's limit.
                        let fits = 5 + m.name().len() + 1 + encoded.len() + 2 <= MAX_COMMAND_LINE;
                        if ir_wanted && fits {
                            Some(Secret::new(encoded))
                        } else {
                            flow.held_initial = Some(ir);
                            None
                        }
                    }
                    None => None,
                };
                flow.auth = Some(auth);
                Command::Auth {
                    mechanism: m,
                    initial,
                }
            }
        };
        self.enqueue(cmd, Role::Login);
    }

    fn on_challenge(&mut self, _q: Queued, data: &[u8]) -> Result<(), ConnectionError> {
        let Some(flow) = &mut self.login else {
            return Err(malformed("status line", data));
        };
        let reply = match B64.decode(trim_ascii(data)) {
            Err(_) => Err("the server's challenge is not valid base64".to_owned()),
            Ok(challenge) => match flow.held_initial.take() {
                Some(ir) => Ok(ir),
                None => match &mut flow.auth {
                    Some(auth) => auth.respond(&challenge).map_err(|e| e.to_string()),
                    None => Err("unexpected challenge".to_owned()),
                },
            },
        };
        let line = match reply {
            Ok(r) => Secret::new(B64.encode(r.expose())),
            Err(e) => {
                // RFC 5034 §4: "*" cancels; the server answers -ERR and we report why.
                flow.step = Step::Cancelled(e);
                Secret::new("*".to_owned())
            }
        };
        self.enqueue(Command::AuthReply(line), Role::Login);
        Ok(())
    }

    fn login_ok(&mut self, text: &[u8]) -> Result<(), ConnectionError> {
        let Some(flow) = &mut self.login else {
            return Ok(());
        };
        match &flow.step {
            Step::Utf8 => {
                self.utf8_enabled = true;
                self.set_step(Step::Waiting);
                Ok(())
            }
            Step::User => {
                let Credentials::Password { password, .. } = &flow.request.credentials else {
                    return Ok(());
                };
                let pass = Command::Pass(password.clone());
                flow.step = Step::Pass;
                self.enqueue(pass, Role::Login);
                Ok(())
            }
            Step::Pass | Step::Apop => self.logged_in(),
            Step::Sasl => {
                let Some(auth) = &mut flow.auth else {
                    return self.logged_in();
                };
                if !auth.may_succeed() {
                    // Tolerate servers that put SCRAM's server-final-message in the +OK
                    // ("additional data with success"); it still has to verify.
                    if let Ok(extra) = B64.decode(trim_ascii(text))
                        && !extra.is_empty()
                    {
                        let _ = auth.respond(&extra);
                    }
                }
                if auth.may_succeed() {
                    self.logged_in()
                } else {
                    Err(ConnectionError::UnverifiedAuthSuccess(auth.mechanism()))
                }
            }
            Step::Cancelled(_) => {
                let m = flow.auth.as_ref().map(Authenticator::mechanism);
                match m {
                    Some(m) => Err(ConnectionError::UnverifiedAuthSuccess(m)),
                    None => self.logged_in(),
                }
            }
            Step::Waiting => Ok(()),
        }
    }

    fn logged_in(&mut self) -> Result<(), ConnectionError> {
        let Some(flow) = self.login.take() else {
            return Ok(());
        };
        self.state = SessionState::Transaction;
        self.events.push_back(Event::LoggedIn {
            handle: flow.handle,
            method: flow.method.unwrap_or(AuthMethod::UserPass),
        });
        self.auto_capa();
        Ok(())
    }

    fn login_err(&mut self, reply: ServerReply) {
        let Some(flow) = &mut self.login else { return };
        if let Step::Utf8 = flow.step {
            // Not fatal: log in without UTF-8 mode.
            self.utf8_enabled = true;
            flow.step = Step::Waiting;
            return;
        }
        let method = flow.method.unwrap_or(AuthMethod::UserPass);
        let error = match (&flow.step, &flow.auth) {
            (Step::Cancelled(e), Some(auth)) => LoginError::Sasl {
                mechanism: auth.mechanism(),
                error: e.clone(),
                server_error: auth.server_error().map(str::to_owned),
            },
            _ => LoginError::Rejected { method, reply },
        };
        self.login_failed(error);
    }

    fn login_failed(&mut self, error: LoginError) {
        if let Some(flow) = self.login.take() {
            self.events.push_back(Event::Failed {
                handle: flow.handle,
                error: CommandError::Login(error),
            });
        }
    }
}

fn push_line(lines: &mut Lines, line: &[u8]) -> Result<(), ConnectionError> {
    match lines {
        Lines::Capa(v) => v.push(line.to_vec()),
        Lines::Scan(v) => v.push(parse_scan(line).ok_or_else(|| malformed("LIST line", line))?),
        Lines::Uids(v) => v.push(parse_uid(line).ok_or_else(|| malformed("UIDL line", line))?),
        Lines::Langs(v) => {
            let text = sanitize_text(line);
            let (tag, desc) = text.split_once(' ').unwrap_or((&text, ""));
            v.push((tag.to_owned(), desc.trim().to_owned()));
        }
    }
    Ok(())
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}

fn malformed(expected: &'static str, line: &[u8]) -> ConnectionError {
    ConnectionError::Malformed {
        expected,
        excerpt: sanitize_text(&line[..line.len().min(80)]),
    }
}
