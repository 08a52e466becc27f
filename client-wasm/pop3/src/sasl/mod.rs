//! TEMPORARY placeholder with the agreed API; replaced by the real module (being written).
use crate::secret::Secret;
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mechanism {
    ScramSha256,
    ScramSha1,
    CramMd5,
    Plain,
    Login,
    OAuthBearer,
    XOAuth2,
}
impl Mechanism {
    pub const ALL: [Mechanism; 7] = [
        Mechanism::ScramSha256,
        Mechanism::ScramSha1,
        Mechanism::CramMd5,
        Mechanism::Plain,
        Mechanism::Login,
        Mechanism::OAuthBearer,
        Mechanism::XOAuth2,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha1 => "SCRAM-SHA-1",
            Mechanism::CramMd5 => "CRAM-MD5",
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::OAuthBearer => "OAUTHBEARER",
            Mechanism::XOAuth2 => "XOAUTH2",
        }
    }
    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(s))
    }
    pub fn reveals_password(self) -> bool {
        matches!(self, Mechanism::Plain | Mechanism::Login)
    }
    pub fn uses_token(self) -> bool {
        matches!(self, Mechanism::OAuthBearer | Mechanism::XOAuth2)
    }
    pub fn preference(self) -> u8 {
        match self {
            Mechanism::ScramSha256 => 5,
            Mechanism::ScramSha1 => 4,
            Mechanism::CramMd5 => 3,
            Mechanism::Plain => 2,
            Mechanism::Login => 1,
            Mechanism::OAuthBearer => 2,
            Mechanism::XOAuth2 => 1,
        }
    }
}
#[derive(Debug, Clone)]
pub enum Credentials {
    Password {
        username: String,
        password: Secret<String>,
        authzid: Option<String>,
    },
    OAuth2 {
        username: String,
        token: Secret<String>,
        host: Option<String>,
        port: Option<u16>,
    },
}
pub fn choose(
    offered: &[Mechanism],
    creds: &Credentials,
    allow_revealing: bool,
) -> Option<Mechanism> {
    let token = matches!(creds, Credentials::OAuth2 { .. });
    offered
        .iter()
        .copied()
        .filter(|m| m.uses_token() == token && (allow_revealing || !m.reveals_password()))
        .max_by_key(|m| m.preference())
}
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SaslError {
    #[error("unexpected challenge")]
    UnexpectedChallenge,
}
pub struct Authenticator {
    m: Mechanism,
    ir: Option<Vec<u8>>,
    sent: bool,
}
impl Authenticator {
    pub fn new(
        mechanism: Mechanism,
        creds: &Credentials,
        _client_nonce: &[u8],
    ) -> Result<Self, SaslError> {
        let ir = match creds {
            Credentials::Password {
                username, password, ..
            } => {
                let mut v = vec![0];
                v.extend(username.as_bytes());
                v.push(0);
                v.extend(password.expose().as_bytes());
                v
            }
            _ => vec![],
        };
        Ok(Authenticator {
            m: mechanism,
            ir: Some(ir),
            sent: false,
        })
    }
    pub fn mechanism(&self) -> Mechanism {
        self.m
    }
    pub fn initial_response(&mut self) -> Option<Secret<Vec<u8>>> {
        self.sent = true;
        self.ir.take().map(Secret::new)
    }
    pub fn respond(&mut self, _challenge: &[u8]) -> Result<Secret<Vec<u8>>, SaslError> {
        if let Some(ir) = self.ir.take() {
            self.sent = true;
            return Ok(Secret::new(ir));
        }
        Err(SaslError::UnexpectedChallenge)
    }
    pub fn may_succeed(&self) -> bool {
        self.sent
    }
    pub fn server_error(&self) -> Option<&str> {
        None
    }
}
