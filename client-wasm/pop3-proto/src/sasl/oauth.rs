//! OAUTHBEARER (RFC 7628) and XOAUTH2 (Google/Microsoft): one message with
//! the bearer token; a failure arrives as a JSON challenge that the client
//! must acknowledge before the server sends `-ERR`.

use super::{SaslError, escape_saslname};
use crate::secret::Secret;

/// Where the exchange stands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Start,
    Sent,
    /// The server sent an error challenge and we acknowledged it; it must
    /// now fail the exchange.
    ErrorAcknowledged,
}

/// State of an OAUTHBEARER or XOAUTH2 exchange.
pub(super) struct TokenExchange {
    message: Secret<Vec<u8>>,
    /// What to answer an error challenge with: RFC 7628 §3.2.3 mandates a
    /// lone %x01 for OAUTHBEARER; XOAUTH2 servers expect an empty response.
    error_ack: &'static [u8],
    step: Step,
    server_error: Option<String>,
}

impl TokenExchange {
    /// `n,a=user,^Ahost=H^Aport=P^Aauth=Bearer TOKEN^A^A` (RFC 7628 §3.1).
    pub(super) fn oauthbearer(
        username: &str,
        token: &Secret<String>,
        host: Option<&str>,
        port: Option<u16>,
    ) -> Result<Self, SaslError> {
        check_username(username)?;
        let token = check_token(token)?;
        let mut m = String::new();
        // The authzid is optional in RFC 7628; an empty one would be invalid.
        if username.is_empty() {
            m.push_str("n,,");
        } else {
            m.push_str("n,a=");
            m.push_str(&escape_saslname(username));
            m.push(',');
        }
        m.push('\x01');
        if let Some(host) = host.filter(|h| !h.is_empty()) {
            // %x01 separates kvpairs; other controls have no business in a host.
            if host.chars().any(|c| c.is_control()) {
                return Err(SaslError::InvalidField {
                    field: "host",
                    reason: "contains control characters",
                });
            }
            m.push_str("host=");
            m.push_str(host);
            m.push('\x01');
        }
        if let Some(port) = port {
            m.push_str(&format!("port={port}\x01"));
        }
        m.push_str("auth=Bearer ");
        m.push_str(token);
        m.push_str("\x01\x01");
        Ok(Self::with_message(m, b"\x01"))
    }

    /// `user=U^Aauth=Bearer TOKEN^A^A`.
    pub(super) fn xoauth2(username: &str, token: &Secret<String>) -> Result<Self, SaslError> {
        if username.is_empty() {
            return Err(SaslError::InvalidUsername { reason: "empty" });
        }
        check_username(username)?;
        let token = check_token(token)?;
        let m = format!("user={username}\x01auth=Bearer {token}\x01\x01");
        Ok(Self::with_message(m, b""))
    }

    fn with_message(message: String, error_ack: &'static [u8]) -> Self {
        TokenExchange {
            message: Secret::new(message.into_bytes()),
            error_ack,
            step: Step::Start,
            server_error: None,
        }
    }

    pub(super) fn initial_response(&mut self) -> Option<Secret<Vec<u8>>> {
        if self.step != Step::Start {
            return None;
        }
        self.step = Step::Sent;
        Some(self.message.clone())
    }

    pub(super) fn respond(&mut self, challenge: &[u8]) -> Result<Vec<u8>, SaslError> {
        match self.step {
            // Without SASL-IR (and always with Microsoft's XOAUTH2) the
            // server first sends an empty challenge.
            Step::Start if challenge.is_empty() => {
                self.step = Step::Sent;
                Ok(self.message.expose().clone())
            }
            // After the token, the only legitimate challenge is the JSON
            // error; keep it for the UI and acknowledge so the server can
            // finish with -ERR.
            Step::Sent if !challenge.is_empty() => {
                self.server_error = Some(String::from_utf8_lossy(challenge).into_owned());
                self.step = Step::ErrorAcknowledged;
                Ok(self.error_ack.to_vec())
            }
            _ => Err(SaslError::UnexpectedChallenge),
        }
    }

    pub(super) fn may_succeed(&self) -> bool {
        self.step == Step::Sent
    }

    pub(super) fn server_error(&self) -> Option<&str> {
        self.server_error.as_deref()
    }
}

/// Control characters (notably %x01, the kvpair separator, and NUL) would
/// let a user name inject or truncate fields.
fn check_username(username: &str) -> Result<(), SaslError> {
    if username.chars().any(|c| c.is_control()) {
        return Err(SaslError::InvalidUsername {
            reason: "contains control characters",
        });
    }
    Ok(())
}

/// RFC 6750's b64token is printable ASCII; anything else (spaces, %x01,
/// line breaks from a sloppy copy-paste) would corrupt the message.
fn check_token(token: &Secret<String>) -> Result<&str, SaslError> {
    let t = token.expose().as_str();
    if t.is_empty() {
        return Err(SaslError::InvalidField {
            field: "token",
            reason: "empty",
        });
    }
    if !t.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(SaslError::InvalidField {
            field: "token",
            reason: "not printable ASCII",
        });
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::super::{Authenticator, Credentials, Mechanism, SaslError};
    use crate::secret::Secret;

    const TOKEN: &str = "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==";
    const JSON_ERROR: &str = r#"{"status":"invalid_token","scope":"example_scope","openid-configuration":"https://example.com/.well-known/openid-configuration"}"#;

    fn creds(user: &str, token: &str, host: Option<&str>, port: Option<u16>) -> Credentials {
        Credentials::OAuth2 {
            username: user.into(),
            token: Secret::new(token.into()),
            host: host.map(Into::into),
            port,
        }
    }

    fn auth(m: Mechanism, c: &Credentials) -> Result<Authenticator, SaslError> {
        Authenticator::new(m, c, &[])
    }

    #[test]
    fn oauthbearer_rfc7628_example() {
        let c = creds(
            "user@example.com",
            TOKEN,
            Some("server.example.com"),
            Some(143),
        );
        let mut a = auth(Mechanism::OAuthBearer, &c).unwrap();
        assert!(!a.may_succeed());
        let ir = a.initial_response().unwrap();
        assert_eq!(
            ir.expose().as_slice(),
            format!("n,a=user@example.com,\x01host=server.example.com\x01port=143\x01auth=Bearer {TOKEN}\x01\x01")
                .as_bytes()
        );
        assert!(a.may_succeed());
        assert!(a.server_error().is_none());
        assert!(a.initial_response().is_none());
    }

    #[test]
    fn oauthbearer_without_host_port_or_user() {
        let mut a = auth(Mechanism::OAuthBearer, &creds("u,=x", "tok", None, None)).unwrap();
        assert_eq!(
            a.initial_response().unwrap().expose(),
            b"n,a=u=2C=3Dx,\x01auth=Bearer tok\x01\x01"
        );
        let mut a = auth(
            Mechanism::OAuthBearer,
            &creds("", "tok", Some(""), Some(995)),
        )
        .unwrap();
        assert_eq!(
            a.initial_response().unwrap().expose(),
            b"n,,\x01port=995\x01auth=Bearer tok\x01\x01"
        );
    }

    #[test]
    fn oauthbearer_error_challenge() {
        let mut a = auth(Mechanism::OAuthBearer, &creds("u", "tok", None, None)).unwrap();
        a.initial_response();
        assert_eq!(a.respond(JSON_ERROR.as_bytes()).unwrap().expose(), b"\x01");
        assert_eq!(a.server_error(), Some(JSON_ERROR));
        assert!(!a.may_succeed());
        assert!(matches!(
            a.respond(b"more"),
            Err(SaslError::UnexpectedChallenge)
        ));
    }

    #[test]
    fn oauthbearer_after_empty_challenge() {
        let mut a = auth(Mechanism::OAuthBearer, &creds("u", "tok", None, None)).unwrap();
        assert_eq!(
            a.respond(b"").unwrap().expose(),
            b"n,a=u,\x01auth=Bearer tok\x01\x01"
        );
        assert!(a.may_succeed());
        assert!(matches!(
            a.respond(b""),
            Err(SaslError::UnexpectedChallenge)
        ));
    }

    #[test]
    fn xoauth2_one_step() {
        let mut a = auth(
            Mechanism::XOAuth2,
            &creds("someuser@example.com", "ya29.vF9dft4", None, None),
        )
        .unwrap();
        let ir = a.initial_response().unwrap();
        assert_eq!(
            ir.expose(),
            b"user=someuser@example.com\x01auth=Bearer ya29.vF9dft4\x01\x01"
        );
        assert!(a.may_succeed());
    }

    #[test]
    fn xoauth2_two_step_microsoft() {
        let mut a = auth(
            Mechanism::XOAuth2,
            &creds("u@example.com", "tok", Some("h"), Some(1)),
        )
        .unwrap();
        // host/port are OAUTHBEARER-only.
        assert_eq!(
            a.respond(b"").unwrap().expose(),
            b"user=u@example.com\x01auth=Bearer tok\x01\x01"
        );
        assert!(a.may_succeed());
        assert!(a.initial_response().is_none());
    }

    #[test]
    fn xoauth2_error_challenge() {
        let mut a = auth(Mechanism::XOAuth2, &creds("u", "tok", None, None)).unwrap();
        a.initial_response();
        let json = r#"{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}"#;
        assert!(a.respond(json.as_bytes()).unwrap().expose().is_empty());
        assert_eq!(a.server_error(), Some(json));
        assert!(!a.may_succeed());
        assert!(matches!(
            a.respond(b""),
            Err(SaslError::UnexpectedChallenge)
        ));
    }

    #[test]
    fn token_first_challenge_non_empty_rejected() {
        for m in [Mechanism::OAuthBearer, Mechanism::XOAuth2] {
            let mut a = auth(m, &creds("u", "tok", None, None)).unwrap();
            assert!(matches!(
                a.respond(b"junk"),
                Err(SaslError::UnexpectedChallenge)
            ));
        }
    }

    #[test]
    fn token_invalid_utf8_error_is_kept_lossily() {
        let mut a = auth(Mechanism::XOAuth2, &creds("u", "tok", None, None)).unwrap();
        a.initial_response();
        a.respond(b"{\xff}").unwrap();
        assert_eq!(a.server_error(), Some("{\u{fffd}}"));
    }

    #[test]
    fn token_rejects_bad_fields() {
        for m in [Mechanism::OAuthBearer, Mechanism::XOAuth2] {
            assert!(matches!(
                auth(m, &creds("u", "", None, None)),
                Err(SaslError::InvalidField { field: "token", .. })
            ));
            assert!(matches!(
                auth(m, &creds("u", "a b", None, None)),
                Err(SaslError::InvalidField { field: "token", .. })
            ));
            assert!(matches!(
                auth(m, &creds("u", "a\x01", None, None)),
                Err(SaslError::InvalidField { field: "token", .. })
            ));
            assert!(matches!(
                auth(m, &creds("u\x01", "t", None, None)),
                Err(SaslError::InvalidUsername { .. })
            ));
            assert!(matches!(
                auth(m, &creds("u\0", "t", None, None)),
                Err(SaslError::InvalidUsername { .. })
            ));
        }
        assert!(matches!(
            auth(Mechanism::XOAuth2, &creds("", "t", None, None)),
            Err(SaslError::InvalidUsername { .. })
        ));
        assert!(matches!(
            auth(
                Mechanism::OAuthBearer,
                &creds("u", "t", Some("h\x01port=1"), None)
            ),
            Err(SaslError::InvalidField { field: "host", .. })
        ));
    }
}
