//! The wire format, byte for byte: what pop3-bridge sends and what the client reads.

use pop3_bridge_protocol::{
    Answer, ConnectErr, ConnectOk, ConnectRequest, EndToEnd, ErrorCode, Refusal, Security, TlsInfo,
};

fn tls() -> TlsInfo {
    TlsInfo {
        version: "TLSv1.3".into(),
        cipher: "TLS13_AES_256_GCM_SHA384".into(),
        server_name: "pop.example.com".into(),
        subject: "CN=pop.example.com".into(),
        issuer: "CN=R11".into(),
        not_after: "2026-03-01T12:00:00Z".into(),
        verified: true,
        pin_matched: None,
    }
}

#[test]
fn request_bytes() {
    let mut r = ConnectRequest {
        host: "pop.example.com".into(),
        port: 995,
        security: Security::Tls,
        token: None,
        end_to_end: None,
    };
    assert_eq!(
        serde_json::to_string(&r).unwrap(),
        r#"{"host":"pop.example.com","port":995,"security":"tls"}"#
    );
    r.token = Some("t".into());
    r.security = Security::Stls;
    let json = serde_json::to_string(&r).unwrap();
    assert_eq!(
        json,
        r#"{"host":"pop.example.com","port":995,"security":"stls","token":"t"}"#
    );
    assert_eq!(serde_json::from_str::<ConnectRequest>(&json).unwrap(), r);
    // Unknown fields are a bad request.
    assert!(
        serde_json::from_str::<ConnectRequest>(r#"{"host":"h","port":1,"security":"tls","x":1}"#)
            .is_err()
    );
    assert!(
        serde_json::from_str::<ConnectRequest>(r#"{"host":"h","port":1,"security":"TLS"}"#)
            .is_err()
    );
}

#[test]
fn ok_answer_bytes_and_reading() {
    let ok = ConnectOk {
        ok: true,
        security: Security::Stls,
        peer: "203.0.113.7:110".into(),
        tls: Some(TlsInfo {
            pin_matched: Some(true),
            ..tls()
        }),
        greeting_untrusted: Some("+OK Dovecot ready.".into()),
        insecure: false,
        end_to_end: false,
    };
    let json = serde_json::to_string(&ok).unwrap();
    assert_eq!(
        json,
        r#"{"ok":true,"security":"stls","peer":"203.0.113.7:110","tls":{"version":"TLSv1.3","cipher":"TLS13_AES_256_GCM_SHA384","server_name":"pop.example.com","subject":"CN=pop.example.com","issuer":"CN=R11","not_after":"2026-03-01T12:00:00Z","verified":true,"pin_matched":true},"greeting_untrusted":"+OK Dovecot ready.","insecure":false}"#
    );
    assert_eq!(
        serde_json::from_str::<Answer>(&json).unwrap(),
        Answer::Ok(ok)
    );
    let plain = ConnectOk {
        ok: true,
        security: Security::Plain,
        peer: "[2001:db8::1]:110".into(),
        tls: None,
        greeting_untrusted: None,
        insecure: true,
        end_to_end: false,
    };
    let json = serde_json::to_string(&plain).unwrap();
    assert_eq!(
        json,
        r#"{"ok":true,"security":"plain","peer":"[2001:db8::1]:110","insecure":true}"#
    );
    // A newer bridge may add fields.
    let newer = json.replace(r#""insecure":true"#, r#""insecure":true,"extra":[1]"#);
    assert_eq!(
        serde_json::from_str::<Answer>(&newer).unwrap(),
        Answer::Ok(plain)
    );
    assert!(serde_json::from_str::<Answer>(r#"{"ok":true}"#).is_err());
    assert!(serde_json::from_str::<Answer>(r#"{"no":1}"#).is_err());
    assert!(serde_json::from_str::<Answer>("[]").is_err());
}

#[test]
fn end_to_end_request_bytes_and_names() {
    let mut r = ConnectRequest {
        host: "pop.example.com".into(),
        port: 110,
        security: Security::Stls,
        token: None,
        end_to_end: Some(EndToEnd::Require),
    };
    let json = serde_json::to_string(&r).unwrap();
    assert_eq!(
        json,
        r#"{"host":"pop.example.com","port":110,"security":"stls","end_to_end":"require"}"#
    );
    assert_eq!(serde_json::from_str::<ConnectRequest>(&json).unwrap(), r);
    r.end_to_end = Some(EndToEnd::Prefer);
    let json = serde_json::to_string(&r).unwrap();
    assert!(json.ends_with(r#""end_to_end":"prefer"}"#), "{json}");
    assert_eq!(serde_json::from_str::<ConnectRequest>(&json).unwrap(), r);
    for e in [EndToEnd::Require, EndToEnd::Prefer] {
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            format!("\"{}\"", e.as_str())
        );
    }
    // Only the two lowercase names; `null` is the same as absent.
    for bad in [r#""REQUIRE""#, r#""always""#, "true", "1"] {
        let json = format!(r#"{{"host":"h","port":1,"security":"tls","end_to_end":{bad}}}"#);
        assert!(
            serde_json::from_str::<ConnectRequest>(&json).is_err(),
            "{json}"
        );
    }
    let null = r#"{"host":"h","port":1,"security":"tls","end_to_end":null}"#;
    assert_eq!(
        serde_json::from_str::<ConnectRequest>(null)
            .unwrap()
            .end_to_end,
        None
    );
}

#[test]
fn relay_answer_says_end_to_end_and_carries_no_tls() {
    let relay = ConnectOk {
        ok: true,
        security: Security::Tls,
        peer: "203.0.113.7:995".into(),
        tls: None,
        greeting_untrusted: None,
        insecure: false,
        end_to_end: true,
    };
    let json = serde_json::to_string(&relay).unwrap();
    assert_eq!(
        json,
        r#"{"ok":true,"security":"tls","peer":"203.0.113.7:995","insecure":false,"end_to_end":true}"#
    );
    assert_eq!(
        serde_json::from_str::<Answer>(&json).unwrap(),
        Answer::Ok(relay)
    );
    // An older bridge never writes the field: read as bridge-side TLS.
    let old =
        r#"{"ok":true,"security":"tls","peer":"203.0.113.7:995","tls":null,"insecure":false}"#;
    match serde_json::from_str::<Answer>(old).unwrap() {
        Answer::Ok(ok) => assert!(!ok.end_to_end),
        other => panic!("{other:?}"),
    }
}

#[test]
fn relay_only_refusal_is_a_policy_answer_with_close_4003() {
    let e = ConnectErr::new(ErrorCode::RelayOnly, "no end_to_end in the request");
    let json = serde_json::to_string(&e).unwrap();
    assert!(
        json.starts_with(r#"{"ok":false,"error":{"code":"relay_only","#),
        "{json}"
    );
    assert_eq!(ErrorCode::RelayOnly.close_code(), 4003);
    assert!(ErrorCode::RelayOnly.in_answer());
    assert!(
        ErrorCode::RelayOnly.message().contains("never decrypts"),
        "{}",
        ErrorCode::RelayOnly.message()
    );
    match serde_json::from_str::<Answer>(&json).unwrap() {
        Answer::Refused(r) => assert_eq!(r.code, Some(ErrorCode::RelayOnly)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn error_answer_bytes_and_reading() {
    let e = ConnectErr::new(ErrorCode::CertExpired, "invalid peer certificate: Expired");
    let json = serde_json::to_string(&e).unwrap();
    assert_eq!(
        json,
        r#"{"ok":false,"error":{"code":"cert_expired","message":"The mail server's certificate has expired (or is not valid yet).","detail":"invalid peer certificate: Expired"}}"#
    );
    assert_eq!(
        serde_json::from_str::<Answer>(&json).unwrap(),
        Answer::Refused(Refusal {
            code: Some(ErrorCode::CertExpired),
            code_sent: "cert_expired".into(),
            message: ErrorCode::CertExpired.message().into(),
            detail: Some("invalid peer certificate: Expired".into()),
        })
    );
    // A code this version does not know, one that is never an answer, or no body at all:
    // still a refusal, without a known code.
    for (json, sent) in [
        (
            r#"{"ok":false,"error":{"code":"quota_exceeded","message":"m"}}"#,
            "quota_exceeded",
        ),
        (
            r#"{"ok":false,"error":{"code":"idle_timeout","message":"m"}}"#,
            "idle_timeout",
        ),
        (r#"{"ok":false}"#, ""),
    ] {
        match serde_json::from_str::<Answer>(json).unwrap() {
            Answer::Refused(r) => {
                assert_eq!(r.code, None, "{json}");
                assert_eq!(r.code_sent, sent);
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn close_codes_per_class() {
    for c in ErrorCode::ALL {
        let close = c.close_code();
        assert!(
            close == 1001 || (4000..=4010).contains(&close),
            "{}",
            c.as_str()
        );
        assert!(!c.message().is_empty());
    }
}
