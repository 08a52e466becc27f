//! PLAIN (RFC 4616): `authzid NUL authcid NUL passwd` in one message.

use super::{SaslError, non_empty};
use crate::secret::Secret;

/// State of a PLAIN exchange.
pub(super) struct Plain {
    /// The whole message, built up front so credential errors surface in
    /// `new`.
    message: Secret<Vec<u8>>,
    sent: bool,
}

impl Plain {
    pub(super) fn new(
        username: &str,
        password: &Secret<String>,
        authzid: Option<&str>,
    ) -> Result<Self, SaslError> {
        // NUL is the field separator, so a NUL inside a field would let the
        // server read a different identity than the user typed.
        if username.is_empty() {
            return Err(SaslError::InvalidUsername { reason: "empty" });
        }
        if username.contains('\0') {
            return Err(SaslError::InvalidUsername {
                reason: "contains NUL",
            });
        }
        let password = password.expose();
        if password.contains('\0') {
            return Err(SaslError::InvalidField {
                field: "password",
                reason: "contains NUL",
            });
        }
        let authzid = non_empty(authzid).unwrap_or("");
        if authzid.contains('\0') {
            return Err(SaslError::InvalidField {
                field: "authzid",
                reason: "contains NUL",
            });
        }
        let mut message = Vec::with_capacity(authzid.len() + username.len() + password.len() + 2);
        message.extend_from_slice(authzid.as_bytes());
        message.push(0);
        message.extend_from_slice(username.as_bytes());
        message.push(0);
        message.extend_from_slice(password.as_bytes());
        Ok(Plain {
            message: Secret::new(message),
            sent: false,
        })
    }

    pub(super) fn initial_response(&mut self) -> Option<Secret<Vec<u8>>> {
        if self.sent {
            return None;
        }
        self.sent = true;
        Some(self.message.clone())
    }

    /// Without SASL-IR the server sends an empty challenge (RFC 4616 §2) and
    /// we answer with the message. Any challenge content is ignored rather
    /// than rejected: the answer is the same either way, and servers differ.
    pub(super) fn respond(&mut self, _challenge: &[u8]) -> Result<Vec<u8>, SaslError> {
        if self.sent {
            return Err(SaslError::UnexpectedChallenge);
        }
        self.sent = true;
        Ok(self.message.expose().clone())
    }

    pub(super) fn may_succeed(&self) -> bool {
        self.sent
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Authenticator, Credentials, Mechanism, SaslError};
    use crate::secret::Secret;

    fn creds(user: &str, pass: &str, authzid: Option<&str>) -> Credentials {
        Credentials::Password {
            username: user.into(),
            password: Secret::new(pass.into()),
            authzid: authzid.map(Into::into),
        }
    }

    fn auth(c: &Credentials) -> Result<Authenticator, SaslError> {
        Authenticator::new(Mechanism::Plain, c, &[])
    }

    #[test]
    fn plain_initial_response_rfc4616_layout() {
        let mut a = auth(&creds("tim", "tanstaaftanstaaf", None)).unwrap();
        assert!(!a.may_succeed());
        let ir = a.initial_response().unwrap();
        assert_eq!(ir.expose(), b"\0tim\0tanstaaftanstaaf");
        assert!(a.may_succeed());
        assert!(a.initial_response().is_none(), "never sent twice");
        assert!(matches!(
            a.respond(b""),
            Err(SaslError::UnexpectedChallenge)
        ));
    }

    #[test]
    fn plain_with_authzid() {
        let mut a = auth(&creds("Kurt", "xipj3plmq", Some("Ursel"))).unwrap();
        assert_eq!(
            a.initial_response().unwrap().expose(),
            b"Ursel\0Kurt\0xipj3plmq"
        );
        let mut a = auth(&creds("Kurt", "xipj3plmq", Some(""))).unwrap();
        assert_eq!(a.initial_response().unwrap().expose(), b"\0Kurt\0xipj3plmq");
    }

    #[test]
    fn plain_after_empty_challenge() {
        let mut a = auth(&creds("tim", "pw", None)).unwrap();
        assert!(!a.may_succeed());
        assert_eq!(a.respond(b"").unwrap().expose(), b"\0tim\0pw");
        assert!(a.may_succeed());
        assert!(a.initial_response().is_none());
        assert!(matches!(
            a.respond(b""),
            Err(SaslError::UnexpectedChallenge)
        ));
    }

    #[test]
    fn plain_utf8_passes_through() {
        let mut a = auth(&creds("jürgen", "pässwörd", None)).unwrap();
        assert_eq!(
            a.initial_response().unwrap().expose(),
            "\0jürgen\0pässwörd".as_bytes()
        );
    }

    #[test]
    fn plain_rejects_nul_and_empty_user() {
        assert!(matches!(
            auth(&creds("a\0b", "p", None)),
            Err(SaslError::InvalidUsername { .. })
        ));
        assert!(matches!(
            auth(&creds("", "p", None)),
            Err(SaslError::InvalidUsername { .. })
        ));
        assert!(matches!(
            auth(&creds("a", "p\0", None)),
            Err(SaslError::InvalidField {
                field: "password",
                ..
            })
        ));
        assert!(matches!(
            auth(&creds("a", "p", Some("x\0y"))),
            Err(SaslError::InvalidField {
                field: "authzid",
                ..
            })
        ));
    }
}
