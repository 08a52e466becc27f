//! Whole sessions against a scripted server, named after the behaviour they prove.

mod common;
use common::{Script, msg};
use pop3_proto::*;
use std::time::Duration;

#[test]
fn rfc1939_example_session_with_apop() {
    // RFC 1939 §10, byte for byte (the message bodies are ours).
    let mut s = Script::rfc1939();
    s.s("+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n");
    let mut l = Login::password("mrose", "tanstaaf", vec![0; 32]);
    l.allow_apop = true;
    s.login(l);
    s.c("APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n");
    s.s("+OK mrose's maildrop has 2 messages (320 octets)\r\n");
    let mut t = s.client.transaction().expect("logged in");
    let stat = t.stat();
    let list = t.list(None);
    let r1 = t.retr(msg(1));
    let d1 = t.dele(msg(1));
    let r2 = t.retr(msg(2));
    let d2 = t.dele(msg(2));
    let quit = t.quit();
    // No PIPELINING capability: one command at a time.
    s.c("STAT\r\n");
    s.s("+OK 2 320\r\n");
    s.c("LIST\r\n");
    s.s("+OK 2 messages (320 octets)\r\n1 120\r\n2 200\r\n.\r\n");
    s.c("RETR 1\r\n");
    s.s("+OK 120 octets\r\nSubject: one\r\n\r\n..first\r\n.\r\n");
    s.c("DELE 1\r\n");
    s.s("+OK message 1 deleted\r\n");
    s.c("RETR 2\r\n");
    s.s("+OK 200 octets\r\nSubject: two\r\n\r\n+OK not a status\r\n.\r\n");
    s.c("DELE 2\r\n");
    s.s("+OK message 2 deleted\r\n");
    assert_eq!(s.client.marked_for_deletion().len(), 2);
    s.c("QUIT\r\n");
    s.s("+OK dewey POP3 server signing off (maildrop empty)\r\n");
    let ev = s.take_events();
    assert!(
        matches!(&ev[0], Event::Greeting(g) if g.timestamp.as_deref() == Some("<1896.697170952@dbc.mtview.ca.us>"))
    );
    assert!(matches!(
        ev[1],
        Event::LoggedIn {
            method: AuthMethod::Apop,
            ..
        }
    ));
    assert!(ev.contains(&Event::Stat {
        handle: stat,
        stat: MaildropStat {
            count: 2,
            size: 320
        }
    }));
    assert!(ev.iter().any(|e| matches!(e, Event::List { handle, entries } if *handle == list && entries.len() == 2 && entries[1].size == 200)));
    let body = |h: Handle| -> Vec<u8> {
        ev.iter()
            .filter_map(|e| match e {
                Event::MessageData { handle, data } if *handle == h => Some(data.clone()),
                _ => None,
            })
            .flatten()
            .collect()
    };
    assert_eq!(body(r1), b"Subject: one\r\n\r\n.first\r\n");
    assert_eq!(body(r2), b"Subject: two\r\n\r\n+OK not a status\r\n");
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::Done { handle, .. } if *handle == d1))
    );
    assert!(
        ev.iter()
            .any(|e| matches!(e, Event::Done { handle, .. } if *handle == d2))
    );
    assert_eq!(
        ev.last(),
        Some(&Event::Closed {
            handle: quit,
            committed: true
        })
    );
    assert_eq!(s.client.state(), SessionState::Closed);
    assert!(s.client.handle_close().is_ok());
}

#[test]
fn gibberish_instead_of_greeting_is_a_connection_error() {
    let mut s = Script::rfc1939();
    let e = s.server(b"I like bananas\r\n").unwrap_err();
    assert!(matches!(
        e,
        ConnectionError::Malformed {
            expected: "greeting",
            ..
        }
    ));
    assert_eq!(s.client.state(), SessionState::Closed);
    assert!(s.client.poll_transmit(s.now).is_none());
}

#[test]
fn err_greeting_is_reported_with_its_response_code() {
    let mut s = Script::rfc1939();
    let e = s.server(b"-ERR [SYS/TEMP] try later\r\n").unwrap_err();
    assert_eq!(
        e,
        ConnectionError::GreetingRejected(ServerReply {
            code: Some(RespCode::SysTemp),
            text: "try later".into()
        })
    );
}

#[test]
fn bytes_while_no_command_is_pending_are_a_protocol_error() {
    let mut s = Script::logged_in("PIPELINING\r\n");
    assert_eq!(
        s.server(b"+OK surprise\r\n"),
        Err(ConnectionError::UnsolicitedData)
    );
}

#[test]
fn extra_bytes_after_a_complete_response_are_a_protocol_error() {
    let mut s = Script::logged_in("");
    s.client.transaction().unwrap().noop();
    s.c("NOOP\r\n");
    assert_eq!(
        s.server(b"+OK\r\n+OK injected\r\n"),
        Err(ConnectionError::UnsolicitedData)
    );
}

#[test]
fn capabilities_are_asked_again_after_login() {
    let mut s = Script::new(Options::implicit_tls());
    s.s("+OK hi\r\n");
    s.c("CAPA\r\n");
    s.s("+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n");
    s.login(Login::password("u", "p", vec![1; 32]));
    s.c("AUTH PLAIN AHUAcA==\r\n");
    s.s("+OK\r\n");
    s.c("CAPA\r\n");
    s.s("+OK\r\nTOP\r\nUIDL\r\nPIPELINING\r\nEXPIRE 30\r\n.\r\n");
    let caps = s.client.capabilities().unwrap();
    assert!(caps.pipelining && caps.top && caps.uidl);
    assert_eq!(caps.expire, Some((Expire::Days(30), false)));
}

#[test]
fn server_without_capa_still_logs_in_and_is_not_asked_again() {
    let mut s = Script::new(Options::implicit_tls());
    s.s("+OK hi\r\n");
    s.c("CAPA\r\n");
    s.s("-ERR unknown command\r\n");
    s.login(Login::password("u", "p", vec![1; 32]));
    s.c("USER u\r\n");
    s.s("+OK\r\n");
    s.c("PASS p\r\n");
    s.s("+OK\r\n");
    s.c("");
    assert_eq!(s.client.state(), SessionState::Transaction);
}

#[test]
fn stls_hands_the_upgrade_to_the_driver_and_forgets_plaintext_state() {
    let mut s = Script::new(Options::default());
    s.s("+OK ready <1.2@host>\r\n");
    s.c("CAPA\r\n");
    s.s("+OK\r\nSTLS\r\nSASL PLAIN\r\nUSER\r\n.\r\n");
    let h = s.client.authorization().unwrap().stls().unwrap();
    // Nothing else may be sent while STLS is pending.
    assert!(s.client.authorization().is_none());
    s.c("STLS\r\n");
    s.s("+OK Begin TLS\r\n");
    assert!(s.take_events().contains(&Event::UpgradeToTls { handle: h }));
    assert_eq!(s.client.state(), SessionState::TlsUpgrade);
    s.client.tls_established(s.now).unwrap();
    assert!(s.client.is_secure());
    assert!(
        s.client.greeting().is_none(),
        "the plaintext greeting (and APOP timestamp) is forgotten"
    );
    assert!(s.client.capabilities().is_none());
    s.c("CAPA\r\n");
    s.s("+OK\r\nSASL SCRAM-SHA-256 PLAIN\r\n.\r\n");
    assert_eq!(
        s.client.capabilities().unwrap().sasl,
        vec![Mechanism::ScramSha256, Mechanism::Plain]
    );
}

#[test]
fn response_injection_after_stls_ok_is_detected() {
    let mut s = Script::new(Options::default());
    s.s("+OK ready\r\n");
    s.c("CAPA\r\n");
    s.s("+OK\r\nSTLS\r\n.\r\n");
    s.client.authorization().unwrap().stls().unwrap();
    s.c("STLS\r\n");
    assert_eq!(
        s.server(b"+OK Begin TLS\r\n+OK 1 messages\r\n"),
        Err(ConnectionError::DataAfterStls)
    );
}

#[test]
fn plaintext_during_tls_handshake_is_refused() {
    let mut s = Script::new(Options::default());
    s.s("+OK ready\r\n");
    s.c("CAPA\r\n");
    s.s("+OK\r\nSTLS\r\n.\r\n");
    s.client.authorization().unwrap().stls().unwrap();
    s.c("STLS\r\n");
    s.s("+OK\r\n");
    assert_eq!(s.server(b"x"), Err(ConnectionError::DataDuringTlsUpgrade));
}

#[test]
fn stls_is_refused_on_an_encrypted_connection() {
    let mut s = Script::new(Options::implicit_tls());
    s.s("+OK ready\r\n");
    assert_eq!(
        s.client.authorization().unwrap().stls(),
        Err(UsageError::AlreadySecure)
    );
}

#[test]
fn connection_after_bridge_stls_starts_with_capa_and_no_greeting() {
    let mut s = Script::new(Options::after_stls());
    assert_eq!(s.client.state(), SessionState::Authorization);
    s.c("CAPA\r\n");
    s.s("+OK\r\nUSER\r\n.\r\n");
    let mut l = Login::password("u", "p", vec![1; 32]);
    l.allow_apop = true;
    s.login(l);
    s.c("USER u\r\n");
}

#[test]
fn cleartext_login_on_plain_connection_needs_consent() {
    let mut s = Script::new(Options::default());
    s.s("+OK ready\r\n");
    s.c("CAPA\r\n");
    s.s("+OK\r\nUSER\r\nSASL PLAIN LOGIN\r\n.\r\n");
    s.login(Login::password("u", "p", vec![1; 32]));
    s.c("");
    let ev = s.take_events();
    assert!(matches!(
        ev.last(),
        Some(Event::Failed {
            error: CommandError::Login(LoginError::NoAcceptableMethod {
                cleartext_refused: true,
                ..
            }),
            ..
        })
    ));
    // With consent the same server is usable.
    let mut l = Login::password("u", "p", vec![1; 32]);
    l.allow_insecure = true;
    s.login(l);
    s.c("AUTH PLAIN AHUAcA==\r\n");
}

#[test]
fn login_rejection_carries_the_rfc3206_code_and_allows_retry() {
    let mut s = Script::new(Options::implicit_tls());
    s.s("+OK ready\r\n");
    s.c("CAPA\r\n");
    s.s("+OK\r\nRESP-CODES\r\nUSER\r\n.\r\n");
    let h = {
        let mut l = Login::password("u", "p", vec![1; 32]);
        l.methods = Some(vec![AuthMethod::UserPass]);
        s.client.authorization().unwrap().login(l).unwrap()
    };
    s.c("USER u\r\n");
    s.s("+OK\r\n");
    s.c("PASS p\r\n");
    s.s("-ERR [IN-USE] mailbox locked\r\n");
    let ev = s.take_events();
    let Some(Event::Failed {
        handle,
        error: CommandError::Login(LoginError::Rejected { reply, .. }),
    }) = ev.last()
    else {
        panic!("expected a login failure, got {ev:?}")
    };
    assert_eq!(*handle, h);
    assert_eq!(reply.code, Some(RespCode::InUse));
    assert!(RespCode::InUse.explain().contains("Another program"));
    assert_eq!(s.client.state(), SessionState::Authorization);
    assert!(
        s.client.authorization().is_some(),
        "a new login may be tried"
    );
}

#[test]
fn sasl_initial_response_too_long_for_the_command_line_waits_for_a_challenge() {
    let mut s = Script::new(Options::implicit_tls());
    s.s("+OK ready\r\n");
    s.c("CAPA\r\n");
    s.s("+OK\r\nSASL XOAUTH2\r\n.\r\n");
    let token = "t".repeat(300);
    s.login(Login::oauth2("u@example.com", &token, vec![1; 32]));
    s.c("AUTH XOAUTH2\r\n");
    s.s("+ \r\n");
    use base64::Engine;
    let blob = format!("user=u@example.com\x01auth=Bearer {token}\x01\x01");
    s.c(&format!(
        "{}\r\n",
        base64::engine::general_purpose::STANDARD.encode(blob)
    ));
    s.s("+OK\r\n");
    assert!(s.take_events().iter().any(|e| matches!(
        e,
        Event::LoggedIn {
            method: AuthMethod::Sasl(Mechanism::XOAuth2),
            ..
        }
    )));
}

#[test]
fn microsoft_two_step_xoauth2_sends_the_token_after_an_empty_challenge() {
    let mut s = Script::new(Options::implicit_tls());
    s.s("+OK ready\r\n");
    s.c("CAPA\r\n");
    s.s("+OK\r\nSASL XOAUTH2\r\n.\r\n");
    let mut l = Login::oauth2("u", "tok", vec![1; 32]);
    l.sasl_initial_response = false;
    s.login(l);
    s.c("AUTH XOAUTH2\r\n");
    s.s("+ \r\n");
    s.c("dXNlcj11AWF1dGg9QmVhcmVyIHRvawEB\r\n");
    s.s("+OK\r\n");
    assert_eq!(s.client.state(), SessionState::Transaction);
}

#[test]
fn pipelining_keeps_the_window_full_and_refills_it() {
    let mut s = Script::logged_in("PIPELINING\r\n");
    let mut t = s.client.transaction().unwrap();
    let handles: Vec<Handle> = (1..=600).map(|n| t.retr(msg(n))).collect();
    s.drain();
    // max_in_flight defaults to 400.
    let sent = s.take_sent();
    assert_eq!(sent.matches("RETR").count(), 400);
    s.s("+OK\r\nbody\r\n.\r\n+OK\r\nbody\r\n.\r\n");
    assert_eq!(
        s.take_sent().matches("RETR").count(),
        2,
        "two answers free two places"
    );
    let ends = s
        .take_events()
        .iter()
        .filter(|e| matches!(e, Event::MessageEnd { .. }))
        .count();
    assert_eq!(ends, 2);
    assert_eq!(handles.len(), 600);
}

#[test]
fn pipelining_window_is_bounded_by_bytes_too() {
    let mut o = Options::implicit_tls();
    o.max_in_flight_bytes = 30;
    let mut s = Script::new(o);
    s.s("+OK\r\n");
    s.c("CAPA\r\n");
    s.s("+OK\r\nPIPELINING\r\n.\r\n");
    s.user_pass();
    s.c("CAPA\r\n");
    s.s("+OK\r\nPIPELINING\r\n.\r\n");
    let mut t = s.client.transaction().unwrap();
    for n in 1..=10 {
        t.retr(msg(n));
    }
    // "RETR n\r\n" is 8 bytes: three fit in 30.
    assert_eq!(s.take_sent(), "RETR 1\r\nRETR 2\r\nRETR 3\r\n");
}

#[test]
fn top_with_lines_asks_for_that_many_and_delivers_them_dot_unstuffed() {
    // TOP n 0 and TOP n k (k > 0), pipelined; the server (this script) cuts the body after k
    // lines as RFC 1939 says, with every line that begins with a dot stuffed.
    let mut s = Script::logged_in("TOP\r\nPIPELINING\r\n");
    let mut t = s.client.transaction().unwrap();
    let head = t.top(msg(2), 0);
    let three = t.top(msg(2), 3);
    let all = t.top(msg(7), 4_000_000);
    s.c("TOP 2 0\r\nTOP 2 3\r\nTOP 7 4000000\r\n");
    s.s("+OK\r\nSubject: dots\r\n\r\n.\r\n");
    s.s("+OK top of message follows\r\nSubject: dots\r\n\r\n..hidden\r\n...two\r\n..\r\n.\r\n");
    // A body shorter than asked for: all of it.
    s.s("+OK\r\nSubject: short\r\n\r\n.. lone\r\n.\r\n");
    let ev = s.take_events();
    let body = |h: Handle| -> Vec<u8> {
        ev.iter()
            .filter_map(|e| match e {
                Event::MessageData { handle, data } if *handle == h => Some(data.clone()),
                _ => None,
            })
            .flatten()
            .collect()
    };
    let end = |h: Handle| {
        ev.iter().find_map(|e| match e {
            Event::MessageEnd { handle, size } if *handle == h => Some(*size),
            _ => None,
        })
    };
    assert_eq!(
        String::from_utf8_lossy(&body(head)),
        "Subject: dots\r\n\r\n"
    );
    let cut = b"Subject: dots\r\n\r\n.hidden\r\n..two\r\n.\r\n";
    assert_eq!(
        String::from_utf8_lossy(&body(three)),
        String::from_utf8_lossy(cut)
    );
    assert_eq!(end(three), Some(cut.len() as u64));
    assert_eq!(
        String::from_utf8_lossy(&body(all)),
        "Subject: short\r\n\r\n. lone\r\n"
    );
    assert_eq!(end(head), Some(17));
    assert_eq!(end(all), Some(26));
}

#[test]
fn without_pipelining_capability_commands_go_one_at_a_time() {
    let mut s = Script::logged_in("TOP\r\n");
    let mut t = s.client.transaction().unwrap();
    t.stat();
    t.noop();
    s.c("STAT\r\n");
    s.s("+OK 0 0\r\n");
    s.c("NOOP\r\n");
}

#[test]
fn status_line_longer_than_the_cap_is_refused_but_long_body_lines_are_not() {
    let mut s = Script::logged_in("");
    let h = s.client.transaction().unwrap().retr(msg(1));
    s.c("RETR 1\r\n");
    let mut body = vec![b'a'; 2 << 20];
    body.extend_from_slice(b"\r\n");
    let mut wire = b"+OK\r\n".to_vec();
    wire.extend_from_slice(&stuff(&body));
    s.server(&wire).unwrap();
    assert!(s.take_events().contains(&Event::MessageEnd {
        handle: h,
        size: body.len() as u64
    }));

    s.client.transaction().unwrap().noop();
    s.c("NOOP\r\n");
    let long = vec![b'x'; 9000];
    assert_eq!(
        s.server(&long),
        Err(ConnectionError::LineTooLong { limit: 8192 })
    );
}

#[test]
fn message_over_the_size_limit_fails_alone_and_the_session_goes_on() {
    let mut o = Options::implicit_tls();
    o.max_message_size = 10;
    o.auto_capa = false;
    let mut s = Script::new(o);
    s.s("+OK\r\n");
    s.user_pass();
    let mut t = s.client.transaction().unwrap();
    let big = t.retr(msg(1));
    let small = t.retr(msg(2));
    s.c("RETR 1\r\n");
    s.s("+OK\r\n0123456789abcdef\r\n.\r\n");
    s.c("RETR 2\r\n");
    s.s("+OK\r\nok\r\n.\r\n");
    let ev = s.take_events();
    assert!(ev.contains(&Event::Failed {
        handle: big,
        error: CommandError::TooLarge { limit: 10 }
    }));
    assert!(ev.contains(&Event::MessageEnd {
        handle: small,
        size: 4
    }));
}

#[test]
fn greeting_timeout_fails_the_connection() {
    let mut s = Script::rfc1939();
    assert_eq!(
        s.client.poll_timeout(),
        Some(s.now + Duration::from_secs(60))
    );
    assert!(s.advance(Duration::from_secs(59)).is_ok());
    assert_eq!(
        s.advance(Duration::from_secs(1)),
        Err(ConnectionError::TimedOut {
            waiting_for: "the greeting",
            seconds: 60
        })
    );
}

#[test]
fn response_timer_restarts_with_every_byte_received() {
    let mut s = Script::logged_in("");
    s.client.transaction().unwrap().retr(msg(1));
    s.c("RETR 1\r\n");
    s.advance(Duration::from_secs(170)).unwrap();
    s.s("+OK\r\npartial");
    s.advance(Duration::from_secs(170)).unwrap();
    assert!(matches!(
        s.advance(Duration::from_secs(10)),
        Err(ConnectionError::TimedOut { .. })
    ));
}

#[test]
fn idle_session_sends_keepalive_noop_silently() {
    let mut o = Options::implicit_tls();
    o.keepalive = Some(Duration::from_secs(30));
    o.auto_capa = false;
    let mut s = Script::new(o);
    s.s("+OK\r\n");
    s.user_pass();
    s.take_events();
    s.advance(Duration::from_secs(30)).unwrap();
    s.c("NOOP\r\n");
    s.s("+OK\r\n");
    assert!(s.take_events().is_empty(), "keep-alives are not reported");
}

#[test]
fn quit_err_leaves_deletions_uncommitted() {
    let mut s = Script::logged_in("");
    let mut t = s.client.transaction().unwrap();
    t.dele(msg(1));
    let q = t.quit();
    s.c("DELE 1\r\n");
    s.s("+OK\r\n");
    s.c("QUIT\r\n");
    s.s("-ERR some deleted messages not removed\r\n");
    let ev = s.take_events();
    assert!(ev.iter().any(|e| matches!(e, Event::Failed { handle, error: CommandError::QuitFailed(_) } if *handle == q)));
    assert_eq!(
        ev.last(),
        Some(&Event::Closed {
            handle: q,
            committed: false
        })
    );
}

#[test]
fn connection_lost_before_quit_is_an_error_and_nothing_is_committed() {
    let mut s = Script::logged_in("");
    s.client.transaction().unwrap().dele(msg(1));
    s.c("DELE 1\r\n");
    s.s("+OK\r\n");
    assert_eq!(
        s.client.handle_close(),
        Err(ConnectionError::ClosedUnexpectedly)
    );
}

#[test]
fn rset_clears_the_deletion_marks() {
    let mut s = Script::logged_in("");
    let mut t = s.client.transaction().unwrap();
    t.dele(msg(3));
    t.rset();
    s.c("DELE 3\r\n");
    s.s("+OK\r\n");
    assert_eq!(s.client.marked_for_deletion().len(), 1);
    s.c("RSET\r\n");
    s.s("+OK\r\n");
    assert!(s.client.marked_for_deletion().is_empty());
}

#[test]
fn transaction_commands_are_unavailable_before_login() {
    let mut s = Script::rfc1939();
    assert!(s.client.transaction().is_none());
    s.s("+OK\r\n");
    assert!(s.client.transaction().is_none());
    assert!(s.client.authorization().is_some());
}

#[test]
fn user_names_that_would_inject_commands_are_refused_before_sending() {
    let mut s = Script::new(Options::implicit_tls());
    s.s("+OK\r\n");
    s.c("CAPA\r\n");
    let r =
        s.client
            .authorization()
            .unwrap()
            .login(Login::password("a\r\nDELE 1", "p", vec![1; 32]));
    assert!(matches!(r, Err(UsageError::Argument(_))));
}

#[test]
fn uidl_and_list_lines_are_parsed_and_malformed_ones_are_fatal() {
    let mut s = Script::logged_in("PIPELINING\r\nUIDL\r\n");
    let mut t = s.client.transaction().unwrap();
    let u = t.uidl(None);
    t.list(None);
    s.c("UIDL\r\nLIST\r\n");
    s.s("+OK\r\n1 abc\r\n2   def\r\n.\r\n");
    assert!(s.take_events().iter().any(|e| matches!(e, Event::Uidl { handle, entries } if *handle == u && entries[1].uid.as_str() == "def")));
    let e = s.server(b"+OK\r\n1 notanumber\r\n").unwrap_err();
    assert!(matches!(
        e,
        ConnectionError::Malformed {
            expected: "LIST line",
            ..
        }
    ));
}

#[test]
fn utf8_mode_is_enabled_before_login_when_offered() {
    let mut s = Script::new(Options::implicit_tls());
    s.s("+OK\r\n");
    s.c("CAPA\r\n");
    s.s("+OK\r\nUTF8 USER\r\nUSER\r\nLANG\r\n.\r\n");
    s.login(Login::password("jürgen", "pässword", vec![1; 32]));
    s.c("UTF8\r\n");
    s.s("+OK UTF8 enabled\r\n");
    s.c("USER jürgen\r\n");
    s.s("+OK\r\n");
    s.c("PASS pässword\r\n");
    s.s("+OK\r\n");
    s.c("CAPA\r\n");
    s.s("+OK\r\nLANG\r\n.\r\n");
    let h = s.client.transaction().unwrap().lang(None).unwrap();
    s.c("LANG\r\n");
    s.s("+OK Language listing follows\r\nen English\r\nde Deutsch\r\n.\r\n");
    assert!(s.take_events().iter().any(|e| matches!(e, Event::Languages { handle, languages } if *handle == h && languages[1] == ("de".to_string(), "Deutsch".to_string()))));
}

#[test]
fn rfc5034_example_auth_plain_with_authorization_identity() {
    // RFC 5034 §6, with the initial response on the AUTH line.
    let mut s = Script::new(Options::implicit_tls());
    s.s("+OK POP3 server ready\r\n");
    s.c("CAPA\r\n");
    s.s("+OK\r\nSASL PLAIN\r\n.\r\n");
    s.login(Login::with(
        Credentials::Password {
            username: "test".into(),
            password: Secret::new("test".into()),
            authzid: Some("test".into()),
        },
        vec![1; 32],
    ));
    s.c("AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\n");
    s.s("+OK Maildrop locked and ready\r\n");
    assert_eq!(s.client.state(), SessionState::Transaction);
}

#[test]
fn rfc5034_example_cram_md5_exchange() {
    // RFC 5034 §6's CRAM-MD5 exchange, whose challenge and answer are RFC 2195's.
    let mut s = Script::new(Options::default());
    s.s("+OK POP3 server ready\r\n");
    s.c("CAPA\r\n");
    s.s("+OK\r\nSASL CRAM-MD5\r\n.\r\n");
    s.login(Login::password("tim", "tanstaaftanstaaf", vec![1; 32]));
    s.c("AUTH CRAM-MD5\r\n");
    s.s("+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n");
    s.c("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n");
    s.s("+OK CRAM authentication successful\r\n");
    assert!(s.take_events().iter().any(|e| matches!(
        e,
        Event::LoggedIn {
            method: AuthMethod::Sasl(Mechanism::CramMd5),
            ..
        }
    )));
}

#[test]
fn scram_success_without_server_proof_is_refused() {
    let mut s = Script::new(Options::implicit_tls());
    s.s("+OK\r\n");
    s.c("CAPA\r\n");
    s.s("+OK\r\nSASL SCRAM-SHA-256\r\n.\r\n");
    s.login(Login::password("user", "pencil", vec![7; 32]));
    let sent = s.take_sent();
    assert!(sent.starts_with("AUTH SCRAM-SHA-256 "), "{sent}");
    // An impostor skips the challenge and claims success.
    assert_eq!(
        s.server(b"+OK logged in\r\n"),
        Err(ConnectionError::UnverifiedAuthSuccess(
            Mechanism::ScramSha256
        ))
    );
}
