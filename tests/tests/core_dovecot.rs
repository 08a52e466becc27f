//! The sans-IO core, driven by the native tokio driver, against a real Dovecot.

use e2e::driver::{Connect, DriverError, Security, Session, random_nonce};
use e2e::{Dovecot, DovecotOptions, Mailbox};
use pop3_proto::{AuthMethod, CommandError, Login, LoginError, Mechanism, MsgNum, RespCode};

fn start(users: &[(&str, Mailbox)]) -> Dovecot {
    let mut o = DovecotOptions::new();
    for (name, mb) in users {
        o = o.user(name, &format!("pw-{name}"), mb.clone());
    }
    Dovecot::start(o).expect("dovecot starts")
}

fn connect(d: &Dovecot, security: Security) -> Connect {
    let port = match security {
        Security::Tls => d.tls_port(),
        _ => d.plain_port(),
    };
    Connect::new(d.host(), port, security, Some(d.rustls_client_config()))
}

/// A TLS session logged in as `user` with its harness password.
async fn logged_in(d: &Dovecot, user: &str) -> Session {
    let mut s = Session::connect(connect(d, Security::Tls)).await.unwrap();
    s.login(Login::password(user, &format!("pw-{user}"), random_nonce()))
        .await
        .unwrap();
    s
}

fn login_with(user: &str, method: AuthMethod) -> Login {
    let mut l = Login::password(user, &format!("pw-{user}"), random_nonce());
    l.methods = Some(vec![method]);
    l.allow_apop = method == AuthMethod::Apop;
    l
}

async fn fetch_all(s: &mut Session) -> Vec<Vec<u8>> {
    let (list, uids) = s.listing().await.expect("listing");
    let uids = uids.expect("dovecot offers UIDL");
    assert_eq!(uids.len(), list.len());
    let msgs: Vec<MsgNum> = list.iter().map(|e| e.msg).collect();
    let mut got = vec![Vec::new(); msgs.len()];
    s.retrieve(&msgs, |m, body| got[m.get() as usize - 1] = body)
        .await
        .expect("retrieve");
    for (entry, body) in list.iter().zip(&got) {
        assert_eq!(
            entry.size,
            body.len() as u64,
            "LIST size of {} matches bytes",
            entry.msg
        );
    }
    got
}

#[tokio::test]
async fn thousand_message_mailbox_downloads_byte_for_byte_with_pipelining() {
    let d = start(&[("bulk", Mailbox::new(1000))]);
    let mut s = logged_in(&d, "bulk").await;
    assert!(
        s.client().capabilities().unwrap().pipelining,
        "Dovecot offers PIPELINING after login"
    );
    let got = fetch_all(&mut s).await;
    assert_eq!(got.len(), 1000);
    for (i, body) in got.iter().enumerate() {
        assert!(
            *body == d.expected_bytes("bulk", i),
            "message {} differs",
            i + 1
        );
    }
    assert!(s.quit().await.unwrap());
    assert_eq!(
        d.stored_message_count("bulk").unwrap(),
        1000,
        "nothing was deleted"
    );
}

#[tokio::test]
async fn dot_and_status_lookalike_lines_survive_the_round_trip() {
    let d = start(&[("edgy", Mailbox::new(20).edge_cases(true))]);
    let mut s = logged_in(&d, "edgy").await;
    let got = fetch_all(&mut s).await;
    assert_eq!(got.len(), 20, "every message came back");
    for (i, body) in got.iter().enumerate() {
        assert_eq!(*body, d.expected_bytes("edgy", i), "message {}", i + 1);
    }
}

#[tokio::test]
async fn stls_upgrades_then_capabilities_are_asked_again_over_tls() {
    let d = start(&[("st", Mailbox::new(3))]);
    let mut s = Session::connect(connect(&d, Security::Stls)).await.unwrap();
    assert!(s.client().is_secure());
    let caps = s.client().capabilities().expect("CAPA after STLS").clone();
    assert!(!caps.stls, "STLS is not offered again inside TLS");
    let method = s
        .login(Login::password("st", "pw-st", random_nonce()))
        .await
        .unwrap();
    assert!(
        matches!(method, AuthMethod::Sasl(Mechanism::ScramSha256)),
        "{method:?}"
    );
    assert_eq!(fetch_all(&mut s).await.len(), 3);
    assert!(s.quit().await.unwrap());
}

#[tokio::test]
async fn every_login_method_dovecot_offers_works() {
    let d = start(&[("multi", Mailbox::new(2))]);
    let mut methods = vec![
        AuthMethod::UserPass,
        AuthMethod::Apop,
        AuthMethod::Sasl(Mechanism::Plain),
        AuthMethod::Sasl(Mechanism::Login),
        AuthMethod::Sasl(Mechanism::CramMd5),
        AuthMethod::Sasl(Mechanism::ScramSha1),
        AuthMethod::Sasl(Mechanism::ScramSha256),
    ];
    // APOP needs the greeting's timestamp, which only a connection without STLS keeps.
    for &m in &methods {
        let security = if m == AuthMethod::Apop {
            Security::Tls
        } else {
            Security::Stls
        };
        let mut s = Session::connect(connect(&d, security)).await.unwrap();
        let got = s.login(login_with("multi", m)).await;
        assert_eq!(got.unwrap_or_else(|e| panic!("{m}: {e}\n{}", d.log())), m);
        assert_eq!(fetch_all(&mut s).await.len(), 2);
        s.quit().await.unwrap();
    }
    // The harness configures OAuth 2.0 by default: this half must not be skipped silently.
    assert!(d.oauth2_enabled(), "Dovecot was started without OAuth 2.0");
    {
        let token = d.user("multi").oauth_token.clone();
        methods.clear();
        for m in [Mechanism::OAuthBearer, Mechanism::XOAuth2] {
            for initial in [true, false] {
                let mut s = Session::connect(connect(&d, Security::Tls)).await.unwrap();
                let mut l = Login::oauth2("multi", &token, random_nonce());
                l.methods = Some(vec![AuthMethod::Sasl(m)]);
                l.sasl_initial_response = initial;
                let got = s.login(l).await;
                assert_eq!(
                    got.unwrap_or_else(|e| panic!("{}: {e}\n{}", m.name(), d.log())),
                    AuthMethod::Sasl(m)
                );
                s.quit().await.unwrap();
            }
        }
    }
}

#[tokio::test]
async fn wrong_password_is_a_login_failure_with_the_auth_code() {
    let d = start(&[("who", Mailbox::new(1))]);
    let mut s = Session::connect(connect(&d, Security::Tls)).await.unwrap();
    let err = s
        .login(Login::password("who", "wrong", random_nonce()))
        .await
        .unwrap_err();
    let DriverError::Command(CommandError::Login(LoginError::Rejected { reply, .. })) = err else {
        panic!("expected a rejection, got {err:?}")
    };
    assert_eq!(reply.code, Some(RespCode::Auth), "{reply:?}");
    // The session is still usable for another attempt.
    s.login(Login::password("who", "pw-who", random_nonce()))
        .await
        .unwrap();
}

#[tokio::test]
async fn plaintext_connection_refuses_to_send_the_password_without_consent() {
    let d = start(&[("plain", Mailbox::new(1))]);
    let mut s = Session::connect(connect(&d, Security::Plain))
        .await
        .unwrap();
    let mut l = Login::password("plain", "pw-plain", random_nonce());
    l.methods = Some(vec![
        AuthMethod::UserPass,
        AuthMethod::Sasl(Mechanism::Plain),
    ]);
    let err = s.login(l).await.unwrap_err();
    assert!(
        matches!(
            err,
            DriverError::Command(CommandError::Login(LoginError::NoAcceptableMethod {
                cleartext_refused: true,
                ..
            }))
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn deleted_messages_are_gone_after_quit_and_kept_without_it() {
    let d = start(&[("del", Mailbox::new(5))]);
    // Lost connection after DELE: nothing is removed (RFC 1939 §6).
    {
        let mut s = logged_in(&d, "del").await;
        let h = s
            .client()
            .transaction()
            .unwrap()
            .dele(MsgNum::new(1).unwrap());
        s.wait_for_handle(h).await.unwrap();
    }
    let end = d.session_end("del", 0).await.unwrap();
    assert!(
        !end.contains("Logged out"),
        "the session ended without QUIT: {end}"
    );
    assert_eq!(d.remaining_messages("del").unwrap(), [1, 2, 3, 4, 5]);
    let mut s = logged_in(&d, "del").await;
    for n in [2, 4] {
        let h = s
            .client()
            .transaction()
            .unwrap()
            .dele(MsgNum::new(n).unwrap());
        s.wait_for_handle(h).await.unwrap();
    }
    assert!(s.quit().await.unwrap(), "QUIT confirmed the update");
    // Which messages remain, not only how many: 2 and 4 went, 1, 3 and 5 stayed.
    assert_eq!(
        d.remaining_messages("del").unwrap(),
        [1, 3, 5],
        "the server kept exactly messages 1, 3 and 5"
    );
}

#[tokio::test]
async fn top_returns_headers_and_requested_body_lines() {
    let d = start(&[("top", Mailbox::new(2).size(2000))]);
    let mut s = logged_in(&d, "top").await;
    let full = d.expected_bytes("top", 0);
    let header_end = full.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let body_lines = full[header_end..].split_inclusive(|&b| b == b'\n').count();
    assert!(body_lines > 5, "the message has a body of several lines");
    // The header and exactly the first `k` lines of the body (RFC 1939 §7), for k = 0, some,
    // and more than the body has (the whole message).
    for k in [0, 1, 3, body_lines - 1, body_lines + 10] {
        let h = s
            .client()
            .transaction()
            .unwrap()
            .top(MsgNum::new(1).unwrap(), k as u32);
        let mut data = Vec::new();
        loop {
            match s.next_event().await.unwrap() {
                pop3_proto::Event::MessageData { handle, data: d } if handle == h => data.extend(d),
                pop3_proto::Event::MessageEnd { handle, .. } if handle == h => break,
                _ => {}
            }
        }
        let want_end = header_end
            + full[header_end..]
                .split_inclusive(|&b| b == b'\n')
                .take(k)
                .map(<[u8]>::len)
                .sum::<usize>();
        assert!(
            data == full[..want_end],
            "TOP 1 {k}: got {} bytes ({:?}…), want the header and {k} body lines ({} bytes)",
            data.len(),
            String::from_utf8_lossy(&data[data.len().saturating_sub(80)..]),
            want_end
        );
    }
}
