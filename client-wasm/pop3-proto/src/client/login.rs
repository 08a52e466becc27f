//! The login flow: choosing a method the caller and the connection allow, then running USER/PASS,
//! APOP or a SASL exchange (RFC 5034) to completion.

use crate::codec::capa::Capabilities;
use crate::error::{AuthMethod, LoginError};
use crate::sasl::{self, Authenticator, Credentials, Mechanism};
use crate::secret::Secret;

/// What the caller asks for when logging in.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Login {
    /// Password or OAuth 2 token.
    pub credentials: Credentials,
    /// Restrict (not reorder) the methods: `None` allows every method the core implements.
    pub methods: Option<Vec<AuthMethod>>,
    /// Allow APOP. Off by default: APOP's MD5 challenge lets a fake server recover the password
    /// (CVE-2007-1558), so it is only for servers that offer nothing better.
    pub allow_apop: bool,
    /// The caller's explicit consent to send a password or token in a form anyone watching an
    /// unencrypted connection can read (USER/PASS, PLAIN, LOGIN, OAuth bearer tokens). Without
    /// it such methods are used only when the connection is encrypted.
    pub allow_insecure: bool,
    /// Send the SASL initial response with AUTH (RFC 5034 §4). Microsoft's servers want
    /// XOAUTH2's in a second step instead: set this to false for them.
    pub sasl_initial_response: bool,
    /// Turn on RFC 6856 UTF-8 mode before logging in when the server offers it.
    pub utf8: bool,
    /// Fresh random bytes (at least 16) for SCRAM's client nonce; the core has no RNG.
    pub client_nonce: Vec<u8>,
}

impl Login {
    /// A login with a password, defaults otherwise.
    pub fn password(username: &str, password: &str, client_nonce: Vec<u8>) -> Login {
        Login::with(
            Credentials::Password {
                username: username.to_owned(),
                password: Secret::new(password.to_owned()),
                authzid: None,
            },
            client_nonce,
        )
    }

    /// A login with an OAuth 2 access token, defaults otherwise.
    pub fn oauth2(username: &str, token: &str, client_nonce: Vec<u8>) -> Login {
        Login::with(
            Credentials::OAuth2 {
                username: username.to_owned(),
                token: Secret::new(token.to_owned()),
                host: None,
                port: None,
            },
            client_nonce,
        )
    }

    /// A login with the given credentials, defaults otherwise.
    pub fn with(credentials: Credentials, client_nonce: Vec<u8>) -> Login {
        Login {
            credentials,
            methods: None,
            allow_apop: false,
            allow_insecure: false,
            sasl_initial_response: true,
            utf8: true,
            client_nonce,
        }
    }

    fn allows(&self, m: AuthMethod) -> bool {
        self.methods.as_ref().is_none_or(|ms| ms.contains(&m))
    }

    pub(crate) fn username(&self) -> &str {
        match &self.credentials {
            Credentials::Password { username, .. } | Credentials::OAuth2 { username, .. } => {
                username
            }
        }
    }
}

/// Picks the login method. Strong before weak, and never a method that reveals the secret on an
/// unencrypted connection without consent: that is what a man-in-the-middle who strips the
/// stronger mechanisms from CAPA would want.
pub(crate) fn choose_method(
    req: &Login,
    caps: &Capabilities,
    apop_timestamp: Option<&str>,
    secure: bool,
) -> Result<AuthMethod, LoginError> {
    let reveal_ok = secure || req.allow_insecure;
    let offered: Vec<Mechanism> = caps
        .sasl
        .iter()
        .copied()
        .filter(|m| req.allows(AuthMethod::Sasl(*m)))
        .collect();
    let is_password = matches!(req.credentials, Credentials::Password { .. });
    let mut cleartext_refused = false;

    // Token mechanisms reveal a bearer token, which is as good as a password to an eavesdropper.
    let strong = sasl::choose(&offered, &req.credentials, false).filter(|m| !m.uses_token());
    if let Some(m) = strong {
        return Ok(AuthMethod::Sasl(m));
    }
    if is_password && req.allow_apop && req.allows(AuthMethod::Apop) && apop_timestamp.is_some() {
        return Ok(AuthMethod::Apop);
    }
    if let Some(m) = sasl::choose(&offered, &req.credentials, true) {
        if reveal_ok {
            return Ok(AuthMethod::Sasl(m));
        }
        cleartext_refused = true;
    }
    // USER/PASS is in every RFC 1939 server; CAPA's USER tag is advice, not a requirement.
    if is_password && req.allows(AuthMethod::UserPass) {
        if reveal_ok {
            return Ok(AuthMethod::UserPass);
        }
        cleartext_refused = true;
    }
    let mut names: Vec<String> = caps.sasl.iter().map(|m| m.name().to_owned()).collect();
    names.extend(caps.sasl_unknown.iter().cloned());
    if caps.user {
        names.push("USER".into());
    }
    if apop_timestamp.is_some() {
        names.push("APOP".into());
    }
    Err(LoginError::NoAcceptableMethod {
        offered: names,
        cleartext_refused,
    })
}

/// Where a running login stands.
#[derive(Debug)]
pub(crate) enum Step {
    /// Waiting for the connection to be idle (e.g. for CAPA's answer) before starting.
    Waiting,
    /// UTF8 sent.
    Utf8,
    /// USER sent.
    User,
    /// PASS sent.
    Pass,
    /// APOP sent.
    Apop,
    /// AUTH (or a reply to a challenge) sent.
    Sasl,
    /// We cancelled the SASL exchange with `*` because of this error.
    Cancelled(String),
}

/// A login in progress.
pub(crate) struct LoginFlow {
    pub(crate) handle: crate::types::Handle,
    pub(crate) request: Login,
    pub(crate) step: Step,
    pub(crate) method: Option<AuthMethod>,
    pub(crate) auth: Option<Authenticator>,
    /// An initial response that did not go with AUTH; it answers the first (empty) challenge.
    pub(crate) held_initial: Option<Secret<Vec<u8>>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(sasl: &[Mechanism], user: bool) -> Capabilities {
        Capabilities {
            sasl: sasl.to_vec(),
            user,
            ..Capabilities::default()
        }
    }

    fn pw() -> Login {
        Login::password("u", "p", vec![0; 32])
    }

    #[test]
    fn strongest_sasl_mechanism_is_chosen() {
        let c = caps(
            &[
                Mechanism::Plain,
                Mechanism::ScramSha1,
                Mechanism::ScramSha256,
                Mechanism::CramMd5,
            ],
            true,
        );
        assert_eq!(
            choose_method(&pw(), &c, None, true),
            Ok(AuthMethod::Sasl(Mechanism::ScramSha256))
        );
    }

    #[test]
    fn cleartext_methods_are_refused_without_tls_or_consent() {
        let c = caps(&[Mechanism::Plain, Mechanism::Login], true);
        assert_eq!(
            choose_method(&pw(), &c, None, false),
            Err(LoginError::NoAcceptableMethod {
                offered: vec!["PLAIN".into(), "LOGIN".into(), "USER".into()],
                cleartext_refused: true
            })
        );
        let mut consent = pw();
        consent.allow_insecure = true;
        assert_eq!(
            choose_method(&consent, &c, None, false),
            Ok(AuthMethod::Sasl(Mechanism::Plain))
        );
        assert_eq!(
            choose_method(&pw(), &c, None, true),
            Ok(AuthMethod::Sasl(Mechanism::Plain))
        );
    }

    #[test]
    fn challenge_response_mechanism_works_without_tls() {
        let c = caps(&[Mechanism::Plain, Mechanism::CramMd5], true);
        assert_eq!(
            choose_method(&pw(), &c, None, false),
            Ok(AuthMethod::Sasl(Mechanism::CramMd5))
        );
    }

    #[test]
    fn apop_is_used_only_when_asked_for_and_offered() {
        let c = caps(&[], true);
        let ts = Some("<1.2@host>");
        assert_eq!(choose_method(&pw(), &c, ts, true), Ok(AuthMethod::UserPass));
        let mut apop = pw();
        apop.allow_apop = true;
        assert_eq!(choose_method(&apop, &c, ts, false), Ok(AuthMethod::Apop));
        assert!(choose_method(&apop, &c, None, false).is_err());
    }

    #[test]
    fn tokens_use_token_mechanisms_and_need_tls() {
        let c = caps(
            &[Mechanism::XOAuth2, Mechanism::OAuthBearer, Mechanism::Plain],
            true,
        );
        let t = Login::oauth2("u", "tok", vec![0; 32]);
        assert_eq!(
            choose_method(&t, &c, None, true),
            Ok(AuthMethod::Sasl(Mechanism::OAuthBearer))
        );
        assert!(matches!(
            choose_method(&t, &c, None, false),
            Err(LoginError::NoAcceptableMethod {
                cleartext_refused: true,
                ..
            })
        ));
    }

    #[test]
    fn caller_restriction_limits_the_choice() {
        let c = caps(&[Mechanism::ScramSha256, Mechanism::Plain], true);
        let mut r = pw();
        r.methods = Some(vec![AuthMethod::UserPass]);
        assert_eq!(choose_method(&r, &c, None, true), Ok(AuthMethod::UserPass));
    }
}
