//! A byte-exact scripted peer: the test plays the server, asserts what the client sends, and
//! collects events. It knows no POP3, so it cannot hide a bug in the client.
#![allow(dead_code)]

use pop3_proto::{Client, ConnectionError, Event, Login, Options};
use std::time::Duration;
use web_time::Instant;

pub struct Script {
    pub client: Client,
    pub now: Instant,
    sent: Vec<u8>,
    pub events: Vec<Event>,
}

impl Script {
    pub fn new(opts: Options) -> Script {
        let now = Instant::now();
        Script {
            client: Client::new(opts, now),
            now,
            sent: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Options without the automatic CAPA, for transcripts copied from RFC 1939.
    pub fn rfc1939() -> Script {
        let mut o = Options::default();
        o.auto_capa = false;
        Script::new(o)
    }

    pub fn drain(&mut self) {
        while let Some(b) = self.client.poll_transmit(self.now) {
            self.sent.extend_from_slice(&b);
        }
        while let Some(e) = self.client.poll_event() {
            self.events.push(e);
        }
    }

    /// The server sends `bytes`; the client's output is drained afterwards.
    pub fn server(&mut self, bytes: &[u8]) -> Result<(), ConnectionError> {
        let r = self.client.feed(bytes, self.now);
        self.drain();
        r
    }

    /// Like `server`, but the test fails on a connection error.
    pub fn s(&mut self, text: &str) {
        self.server(text.as_bytes()).expect("server input accepted");
    }

    /// Asserts exactly what the client sent since the last check.
    pub fn c(&mut self, expected: &str) {
        self.drain();
        let sent = std::mem::take(&mut self.sent);
        assert_eq!(
            String::from_utf8_lossy(&sent),
            expected,
            "client sent something else"
        );
    }

    pub fn take_sent(&mut self) -> String {
        self.drain();
        String::from_utf8_lossy(&std::mem::take(&mut self.sent)).into_owned()
    }

    pub fn take_events(&mut self) -> Vec<Event> {
        self.drain();
        std::mem::take(&mut self.events)
    }

    pub fn advance(&mut self, d: Duration) -> Result<(), ConnectionError> {
        self.now += d;
        let r = self.client.handle_timeout(self.now);
        self.drain();
        r
    }

    pub fn login(&mut self, login: Login) {
        self.client
            .authorization()
            .expect("authorization state")
            .login(login)
            .expect("login accepted");
        self.drain();
    }

    /// USER/PASS login as u/p, answered +OK twice.
    pub fn user_pass(&mut self) {
        let mut l = Login::password("u", "p", vec![1; 32]);
        l.methods = Some(vec![pop3_proto::AuthMethod::UserPass]);
        self.login(l);
        self.c("USER u\r\n");
        self.s("+OK\r\n");
        self.c("PASS p\r\n");
        self.s("+OK\r\n");
    }

    /// Greeting, CAPA with the given lines, USER/PASS login over an encrypted transport, and the
    /// CAPA after login: the usual start of a session.
    pub fn logged_in(caps: &str) -> Script {
        let mut s = Script::new(Options::implicit_tls());
        s.s("+OK ready\r\n");
        s.c("CAPA\r\n");
        s.s(&format!("+OK\r\n{caps}.\r\n"));
        let mut l = Login::password("alice", "secret", vec![1; 32]);
        l.methods = Some(vec![pop3_proto::AuthMethod::UserPass]);
        s.login(l);
        s.c("USER alice\r\n");
        s.s("+OK\r\n");
        s.c("PASS secret\r\n");
        s.s("+OK logged in\r\n");
        s.c("CAPA\r\n");
        s.s(&format!("+OK\r\n{caps}.\r\n"));
        s.take_events();
        s
    }
}

pub fn msg(n: u32) -> pop3_proto::MsgNum {
    pop3_proto::MsgNum::new(n).unwrap()
}
