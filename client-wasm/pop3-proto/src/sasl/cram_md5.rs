//! CRAM-MD5 (RFC 2195): `user SP hex(HMAC-MD5(password, challenge))`.

use hmac::{Hmac, Mac};
use md5::Md5;

use super::SaslError;
use crate::secret::Secret;

/// State of a CRAM-MD5 exchange.
pub(super) struct CramMd5 {
    username: String,
    password: Secret<String>,
    answered: bool,
}

impl CramMd5 {
    pub(super) fn new(username: &str, password: &Secret<String>) -> Result<Self, SaslError> {
        if username.is_empty() {
            return Err(SaslError::InvalidUsername { reason: "empty" });
        }
        if username.contains('\0') {
            return Err(SaslError::InvalidUsername {
                reason: "contains NUL",
            });
        }
        Ok(CramMd5 {
            username: username.to_owned(),
            password: password.clone(),
            answered: false,
        })
    }

    pub(super) fn respond(&mut self, challenge: &[u8]) -> Result<Vec<u8>, SaslError> {
        if self.answered {
            return Err(SaslError::UnexpectedChallenge);
        }
        // An empty challenge carries no server randomness; answering it
        // would give out a replayable digest.
        if challenge.is_empty() {
            return Err(SaslError::MalformedChallenge {
                reason: "empty CRAM-MD5 challenge",
            });
        }
        self.answered = true;
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac =
            Hmac::<Md5>::new_from_slice(self.password.expose().as_bytes()).map_err(|_| {
                SaslError::InvalidField {
                    field: "password",
                    reason: "unusable as HMAC key",
                }
            })?;
        mac.update(challenge);
        let digest = mac.finalize().into_bytes();
        let mut out = Vec::with_capacity(self.username.len() + 1 + 32);
        out.extend_from_slice(self.username.as_bytes());
        out.push(b' ');
        out.extend_from_slice(crate::codec::hex(&digest).as_bytes());
        Ok(out)
    }

    pub(super) fn may_succeed(&self) -> bool {
        self.answered
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Authenticator, Credentials, Mechanism, SaslError};
    use crate::secret::Secret;

    fn auth(user: &str, pass: &str) -> Result<Authenticator, SaslError> {
        let c = Credentials::Password {
            username: user.into(),
            password: Secret::new(pass.into()),
            authzid: None,
        };
        Authenticator::new(Mechanism::CramMd5, &c, &[])
    }

    #[test]
    fn cram_md5_rfc2195_example() {
        let mut a = auth("tim", "tanstaaftanstaaf").unwrap();
        assert!(a.initial_response().is_none());
        assert!(!a.may_succeed());
        let r = a
            .respond(b"<1896.697170952@postoffice.reston.mci.net>")
            .unwrap();
        assert_eq!(r.expose(), b"tim b913a602c7eda7a495b4e6e7334d3890");
        assert!(a.may_succeed());
        assert!(matches!(
            a.respond(b"x"),
            Err(SaslError::UnexpectedChallenge)
        ));
    }

    #[test]
    fn cram_md5_rejects_empty_challenge() {
        let mut a = auth("tim", "pw").unwrap();
        assert!(matches!(
            a.respond(b""),
            Err(SaslError::MalformedChallenge { .. })
        ));
        assert!(!a.may_succeed());
    }

    #[test]
    fn cram_md5_rejects_bad_username() {
        assert!(matches!(
            auth("", "p"),
            Err(SaslError::InvalidUsername { .. })
        ));
        assert!(matches!(
            auth("a\0b", "p"),
            Err(SaslError::InvalidUsername { .. })
        ));
    }
}
