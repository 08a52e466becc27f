//! Access tokens for public deployments.
//!
//! Two modes:
//! - `shared`: the token is a shared secret, compared in constant time. Simple, but not bound
//!   to a target and never expiring: fine for a personal bridge.
//! - `hmac`: `v1.<claims>.<mac>` where `claims` is base64url(JSON `{"host","port","exp","nbf"?}`)
//!   and `mac` is base64url(HMAC-SHA256(secret, "v1." + claims)). The token expires and is bound
//!   to one target: it cannot be replayed against another host or port.
//!
//! Tokens are secrets: they are never logged (the `Debug` of [`TokenClaims`] shows only the
//! target and expiry).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// Longest token accepted (a hostname of 253 bytes fits easily).
const MAX_TOKEN_LEN: usize = 1024;

/// How tokens are checked (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenMode {
    /// The token is the secret itself: not bound to a target, never expiring.
    Shared,
    /// The token is HMAC-signed claims: bound to one host and port, with an expiry.
    Hmac,
}

/// How the bridge checks tokens. The secret is held here and nowhere else.
#[derive(Clone)]
pub struct TokenAuth {
    mode: TokenMode,
    secret: Vec<u8>,
}

impl std::fmt::Debug for TokenAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenAuth")
            .field("mode", &self.mode)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// What an HMAC token grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenClaims {
    /// The mail server the token is for (compared case-insensitively).
    pub host: String,
    /// The mail server port the token is for.
    pub port: u16,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Not valid before, seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
}

/// Why a token was refused. Never carries the token itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// No token was given, or it was empty.
    #[error("a token is required")]
    Missing,
    /// Malformed, too long, wrongly signed, or (shared mode) not the secret.
    #[error("the token is malformed or its signature is wrong")]
    Invalid,
    /// Past its `exp`.
    #[error("the token has expired")]
    Expired,
    /// Before its `nbf`.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// Valid, but for another host or port.
    #[error("the token was issued for a different server")]
    WrongTarget,
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    // Compare digests so the time taken does not depend on where the inputs differ or on
    // their lengths.
    let (da, db) = (Sha256::digest(a), Sha256::digest(b));
    da.iter()
        .zip(db.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

impl TokenAuth {
    /// Check (and mint) tokens in `mode` with `secret`.
    pub fn new(mode: TokenMode, secret: impl Into<Vec<u8>>) -> Self {
        TokenAuth {
            mode,
            secret: secret.into(),
        }
    }

    /// The mode tokens are checked in.
    pub fn mode(&self) -> TokenMode {
        self.mode
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length; this cannot fail.
        HmacSha256::new_from_slice(&self.secret).unwrap_or_else(|_| unreachable!())
    }

    /// Mint an HMAC token (for the `mint-token` subcommand and tests).
    pub fn mint(&self, claims: &TokenClaims) -> String {
        let json = serde_json::to_vec(claims).unwrap_or_default();
        let body = format!("v1.{}", URL_SAFE_NO_PAD.encode(json));
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{body}.{sig}")
    }

    /// Check a token's authenticity and time window. Returns the claims (HMAC mode) so the
    /// caller can check the target binding once it knows the target.
    pub fn verify(&self, token: &str, now_unix: u64) -> Result<Option<TokenClaims>, TokenError> {
        if token.is_empty() {
            return Err(TokenError::Missing);
        }
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Invalid);
        }
        match self.mode {
            TokenMode::Shared => {
                if ct_eq(token.as_bytes(), &self.secret) {
                    Ok(None)
                } else {
                    Err(TokenError::Invalid)
                }
            }
            TokenMode::Hmac => {
                let (body, sig) = token.rsplit_once('.').ok_or(TokenError::Invalid)?;
                let claims_b64 = body.strip_prefix("v1.").ok_or(TokenError::Invalid)?;
                let sig = URL_SAFE_NO_PAD
                    .decode(sig)
                    .map_err(|_| TokenError::Invalid)?;
                let mut mac = self.mac();
                mac.update(body.as_bytes());
                mac.verify_slice(&sig).map_err(|_| TokenError::Invalid)?;
                let json = URL_SAFE_NO_PAD
                    .decode(claims_b64)
                    .map_err(|_| TokenError::Invalid)?;
                let claims: TokenClaims =
                    serde_json::from_slice(&json).map_err(|_| TokenError::Invalid)?;
                if now_unix >= claims.exp {
                    return Err(TokenError::Expired);
                }
                if claims.nbf.is_some_and(|nbf| now_unix < nbf) {
                    return Err(TokenError::NotYetValid);
                }
                Ok(Some(claims))
            }
        }
    }
}

impl TokenClaims {
    /// The binding check: host compared case-insensitively, without a trailing dot.
    pub fn permits(&self, host: &str, port: u16) -> Result<(), TokenError> {
        let norm = |h: &str| h.trim_end_matches('.').to_ascii_lowercase();
        if norm(&self.host) == norm(host) && self.port == port {
            Ok(())
        } else {
            Err(TokenError::WrongTarget)
        }
    }
}

/// The current time in seconds since the Unix epoch: the clock token expiry is checked
/// against (0 if the system clock is before 1970).
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: u64) -> TokenClaims {
        TokenClaims {
            host: "pop.example.com".into(),
            port: 995,
            exp,
            nbf: None,
        }
    }

    #[test]
    fn hmac_token_round_trips_and_binds_target() {
        let a = TokenAuth::new(TokenMode::Hmac, "k");
        let t = a.mint(&claims(2000));
        let c = a.verify(&t, 1000).unwrap().unwrap();
        assert!(c.permits("POP.example.com.", 995).is_ok());
        assert_eq!(
            c.permits("pop.example.com", 110),
            Err(TokenError::WrongTarget)
        );
        assert_eq!(
            c.permits("evil.example.com", 995),
            Err(TokenError::WrongTarget)
        );
    }

    #[test]
    fn hmac_token_expiry_and_nbf() {
        let a = TokenAuth::new(TokenMode::Hmac, "k");
        assert_eq!(
            a.verify(&a.mint(&claims(1000)), 1000),
            Err(TokenError::Expired)
        );
        let mut c = claims(3000);
        c.nbf = Some(2000);
        assert_eq!(a.verify(&a.mint(&c), 1000), Err(TokenError::NotYetValid));
        assert!(a.verify(&a.mint(&c), 2500).is_ok());
    }

    #[test]
    fn hmac_token_wrong_key_or_tampered_is_invalid() {
        let a = TokenAuth::new(TokenMode::Hmac, "k");
        let b = TokenAuth::new(TokenMode::Hmac, "other");
        let t = a.mint(&claims(2000));
        assert_eq!(b.verify(&t, 1000), Err(TokenError::Invalid));
        // Re-encode the claims with another port but keep the signature.
        let forged_claims = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&TokenClaims {
                port: 110,
                ..claims(2000)
            })
            .unwrap(),
        );
        let sig = t.rsplit_once('.').unwrap().1;
        let forged = format!("v1.{forged_claims}.{sig}");
        assert_eq!(a.verify(&forged, 1000), Err(TokenError::Invalid));
        for junk in ["x", "v1..", "v1.e30.", "v2.e30.AAAA", &"a".repeat(5000)] {
            assert!(a.verify(junk, 1000).is_err(), "{junk}");
        }
        assert_eq!(a.verify("", 0), Err(TokenError::Missing));
    }

    #[test]
    fn shared_secret_must_match_exactly() {
        let a = TokenAuth::new(TokenMode::Shared, "s3cret");
        assert_eq!(a.verify("s3cret", 0), Ok(None));
        assert_eq!(a.verify("s3cre", 0), Err(TokenError::Invalid));
        assert_eq!(a.verify("s3cret ", 0), Err(TokenError::Invalid));
    }

    #[test]
    fn debug_output_hides_secret() {
        let a = TokenAuth::new(TokenMode::Shared, "s3cret");
        assert!(!format!("{a:?}").contains("s3cret"));
    }
}
