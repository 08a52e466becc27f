//! LOGIN (draft-murchison-sasl-login): user name and password as answers to
//! two challenges.

use super::SaslError;
use crate::secret::Secret;

/// State of a LOGIN exchange: how many challenges were answered.
pub(super) struct Login {
    username: String,
    password: Secret<String>,
    answered: u8,
}

impl Login {
    pub(super) fn new(username: &str, password: &Secret<String>) -> Result<Self, SaslError> {
        if username.is_empty() {
            return Err(SaslError::InvalidUsername { reason: "empty" });
        }
        // Servers treat the answer as a C string; a NUL would truncate it.
        if username.contains('\0') {
            return Err(SaslError::InvalidUsername {
                reason: "contains NUL",
            });
        }
        if password.expose().contains('\0') {
            return Err(SaslError::InvalidField {
                field: "password",
                reason: "contains NUL",
            });
        }
        Ok(Login {
            username: username.to_owned(),
            password: password.clone(),
            answered: 0,
        })
    }

    /// Answers by position, not by prompt text: servers say "Username:",
    /// "User Name", "VXNlcm5hbWU6" (double base64) or nothing at all.
    pub(super) fn respond(&mut self, _challenge: &[u8]) -> Result<Vec<u8>, SaslError> {
        let out = match self.answered {
            0 => self.username.as_bytes().to_vec(),
            1 => self.password.expose().as_bytes().to_vec(),
            _ => return Err(SaslError::UnexpectedChallenge),
        };
        self.answered += 1;
        Ok(out)
    }

    pub(super) fn may_succeed(&self) -> bool {
        self.answered >= 2
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
        Authenticator::new(Mechanism::Login, &c, &[])
    }

    #[test]
    fn login_answers_by_order() {
        let mut a = auth("alice", "s3cret").unwrap();
        assert!(a.initial_response().is_none());
        assert!(!a.may_succeed());
        assert_eq!(a.respond(b"Username:").unwrap().expose(), b"alice");
        assert!(!a.may_succeed());
        assert_eq!(a.respond(b"Password:").unwrap().expose(), b"s3cret");
        assert!(a.may_succeed());
        assert!(matches!(
            a.respond(b""),
            Err(SaslError::UnexpectedChallenge)
        ));
    }

    #[test]
    fn login_ignores_prompt_text() {
        // Some servers double-encode the prompts or send them swapped/empty.
        let mut a = auth("alice", "s3cret").unwrap();
        assert_eq!(a.respond(b"UGFzc3dvcmQ6").unwrap().expose(), b"alice");
        assert_eq!(a.respond(b"").unwrap().expose(), b"s3cret");
    }

    #[test]
    fn login_rejects_bad_credentials() {
        assert!(matches!(
            auth("", "p"),
            Err(SaslError::InvalidUsername { .. })
        ));
        assert!(matches!(
            auth("a\0", "p"),
            Err(SaslError::InvalidUsername { .. })
        ));
        assert!(matches!(
            auth("a", "\0"),
            Err(SaslError::InvalidField { .. })
        ));
    }
}
