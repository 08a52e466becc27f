//! SCRAM-SHA-1 (RFC 5802) and SCRAM-SHA-256 (RFC 7677), without channel
//! binding.
//!
//! In POP3 (RFC 5034) the exchange is: client-first (initial response or
//! answer to an empty challenge), server-first challenge -> client-final,
//! server-final challenge -> empty response, then `+OK`.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::{Credentials, Mechanism, SaslError, escape_saslname, non_empty};
use crate::secret::Secret;

/// Fewest random bytes accepted for the client nonce (128 bits).
const MIN_NONCE_BYTES: usize = 16;
/// Below this a man-in-the-middle could make offline cracking of the
/// captured proof cheap (RFC 7677 §4 recommends at least 4096).
const MIN_ITERATIONS: u32 = 4096;
/// Above this PBKDF2 would freeze a browser tab for too long; no sane
/// server configures more.
const MAX_ITERATIONS: u32 = 1_000_000;

#[derive(Clone, Copy)]
enum Hash {
    Sha1,
    Sha256,
}

impl Hash {
    fn hmac(self, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        // `new_from_slice` only fails for fixed-size-key MACs; HMAC takes
        // any length, so the fallback is unreachable but avoids a panic path.
        fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
            match <M as Mac>::new_from_slice(key) {
                Ok(mut m) => {
                    for p in parts {
                        m.update(p);
                    }
                    m.finalize().into_bytes().to_vec()
                }
                Err(_) => Vec::new(),
            }
        }
        match self {
            Hash::Sha1 => run::<Hmac<Sha1>>(key, parts),
            Hash::Sha256 => run::<Hmac<Sha256>>(key, parts),
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha1 => Sha1::digest(data).to_vec(),
            Hash::Sha256 => Sha256::digest(data).to_vec(),
        }
    }

    fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            Hash::Sha1 => {
                let mut out = [0u8; 20];
                pbkdf2::pbkdf2_hmac::<Sha1>(password, salt, iterations, &mut out);
                out.to_vec()
            }
            Hash::Sha256 => {
                let mut out = [0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
                out.to_vec()
            }
        }
    }
}

/// Where the exchange stands.
enum Step {
    /// client-first not yet sent.
    Start,
    /// client-first sent; waiting for server-first.
    SentFirst,
    /// client-final sent; holds the ServerSignature we expect.
    SentFinal { server_signature: Secret<Vec<u8>> },
    /// Server proved itself; only `+OK` may follow.
    Verified,
    /// An error occurred; nothing more is accepted.
    Failed,
}

/// State of a SCRAM exchange.
pub(super) struct Scram {
    hash: Hash,
    /// SASLprep'd password; PBKDF2 runs only once server-first arrives.
    password: Secret<String>,
    gs2_header: String,
    client_first_bare: String,
    client_nonce: String,
    step: Step,
}

impl Scram {
    pub(super) fn new(
        mechanism: Mechanism,
        creds: &Credentials,
        client_nonce: &[u8],
    ) -> Result<Self, SaslError> {
        if client_nonce.len() < MIN_NONCE_BYTES {
            return Err(SaslError::NonceTooShort {
                got: client_nonce.len(),
            });
        }
        // Base64 is printable ASCII without ',', as the nonce must be.
        Self::with_printable_nonce(mechanism, creds, STANDARD_NO_PAD.encode(client_nonce))
    }

    /// Builds the exchange from an already printable nonce. Tests use it to
    /// reproduce the RFC vectors byte for byte.
    pub(super) fn with_printable_nonce(
        mechanism: Mechanism,
        creds: &Credentials,
        client_nonce: String,
    ) -> Result<Self, SaslError> {
        let hash = match mechanism {
            Mechanism::ScramSha1 => Hash::Sha1,
            Mechanism::ScramSha256 => Hash::Sha256,
            _ => return Err(SaslError::MissingCredentialKind { mechanism }),
        };
        let Credentials::Password {
            username,
            password,
            authzid,
        } = creds
        else {
            return Err(SaslError::MissingCredentialKind { mechanism });
        };
        // RFC 5802 §5.1: the client SHOULD SASLprep the user name and abort
        // if that fails, since the server would not find the account.
        let user = stringprep::saslprep(username).map_err(|_| SaslError::InvalidUsername {
            reason: "prohibited by SASLprep",
        })?;
        if user.is_empty() {
            return Err(SaslError::InvalidUsername { reason: "empty" });
        }
        // The server hashed SASLprep(password) when the account was set up,
        // so we must hash the same normalised form.
        let password = stringprep::saslprep(password.expose())
            .map_err(|_| SaslError::Saslprep { field: "password" })?
            .into_owned();
        let gs2_header = match non_empty(authzid.as_deref()) {
            Some(a) if a.contains('\0') => {
                return Err(SaslError::InvalidField {
                    field: "authzid",
                    reason: "contains NUL",
                });
            }
            Some(a) => format!("n,a={},", escape_saslname(a)),
            None => "n,,".to_owned(),
        };
        let client_first_bare = format!("n={},r={}", escape_saslname(&user), client_nonce);
        Ok(Scram {
            hash,
            password: Secret::new(password),
            gs2_header,
            client_first_bare,
            client_nonce,
            step: Step::Start,
        })
    }

    fn client_first(&self) -> Vec<u8> {
        format!("{}{}", self.gs2_header, self.client_first_bare).into_bytes()
    }

    pub(super) fn initial_response(&mut self) -> Option<Secret<Vec<u8>>> {
        match self.step {
            Step::Start => {
                self.step = Step::SentFirst;
                Some(Secret::new(self.client_first()))
            }
            _ => None,
        }
    }

    pub(super) fn respond(&mut self, challenge: &[u8]) -> Result<Vec<u8>, SaslError> {
        // Any failure ends the exchange; `Failed` makes that sticky.
        let step = std::mem::replace(&mut self.step, Step::Failed);
        let (out, next) = match step {
            // Without SASL-IR the server opens with an empty challenge. A
            // non-empty one cannot be server-first: we sent no nonce yet.
            Step::Start if challenge.is_empty() => (self.client_first(), Step::SentFirst),
            Step::SentFirst => self.client_final(challenge)?,
            Step::SentFinal { server_signature } => {
                verify_server_final(challenge, server_signature.expose())?;
                (Vec::new(), Step::Verified)
            }
            Step::Start | Step::Verified | Step::Failed => {
                return Err(SaslError::UnexpectedChallenge);
            }
        };
        self.step = next;
        Ok(out)
    }

    /// Parses server-first and computes client-final.
    fn client_final(&self, challenge: &[u8]) -> Result<(Vec<u8>, Step), SaslError> {
        let server_first = std::str::from_utf8(challenge)
            .map_err(|_| malformed("server-first-message is not UTF-8"))?;
        let mut attrs = server_first.split(',');
        let mut next = attrs.next().unwrap_or("");
        if next.starts_with("m=") {
            return Err(SaslError::UnsupportedExtension);
        }
        let nonce = next
            .strip_prefix("r=")
            .ok_or(malformed("missing nonce (r=)"))?;
        next = attrs.next().unwrap_or("");
        let salt = next
            .strip_prefix("s=")
            .ok_or(malformed("missing salt (s=)"))?;
        next = attrs.next().unwrap_or("");
        let iterations = next
            .strip_prefix("i=")
            .ok_or(malformed("missing iteration count (i="))?;
        // Remaining attributes are optional extensions, which we may ignore.

        // The server must append its own part; an unchanged nonce would mean
        // it contributed no freshness.
        if !nonce.starts_with(&self.client_nonce) || nonce.len() <= self.client_nonce.len() {
            return Err(SaslError::NonceMismatch);
        }
        if !nonce.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err(malformed("nonce is not printable"));
        }
        let salt = STANDARD
            .decode(salt)
            .map_err(|_| malformed("salt is not base64"))?;
        if salt.is_empty() {
            return Err(malformed("empty salt"));
        }
        if iterations.is_empty() || !iterations.bytes().all(|b| b.is_ascii_digit()) {
            return Err(malformed("iteration count is not a number"));
        }
        // All digits, so a parse failure can only be overflow: certainly too many.
        let iterations: u32 = iterations.parse().unwrap_or(u32::MAX);
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
            return Err(SaslError::IterationCount { got: iterations });
        }

        let h = self.hash;
        let salted =
            Secret::new(h.salted_password(self.password.expose().as_bytes(), &salt, iterations));
        let client_key = Secret::new(h.hmac(salted.expose(), &[b"Client Key"]));
        let stored_key = h.digest(client_key.expose());
        let without_proof = format!(
            "c={},r={}",
            STANDARD.encode(self.gs2_header.as_bytes()),
            nonce
        );
        let auth_message = [
            self.client_first_bare.as_bytes(),
            b",",
            server_first.as_bytes(),
            b",",
            without_proof.as_bytes(),
        ];
        let client_signature = h.hmac(&stored_key, &auth_message);
        let proof: Vec<u8> = client_key
            .expose()
            .iter()
            .zip(&client_signature)
            .map(|(k, s)| k ^ s)
            .collect();
        let server_key = h.hmac(salted.expose(), &[b"Server Key"]);
        let server_signature = h.hmac(&server_key, &auth_message);

        let out = format!("{},p={}", without_proof, STANDARD.encode(proof)).into_bytes();
        Ok((
            out,
            Step::SentFinal {
                server_signature: Secret::new(server_signature),
            },
        ))
    }

    pub(super) fn may_succeed(&self) -> bool {
        matches!(self.step, Step::Verified)
    }
}

/// Checks server-final-message: `v=<ServerSignature>` or `e=<error>`.
fn verify_server_final(challenge: &[u8], expected: &[u8]) -> Result<(), SaslError> {
    let text = std::str::from_utf8(challenge)
        .map_err(|_| malformed("server-final-message is not UTF-8"))?;
    let first = text.split(',').next().unwrap_or("");
    if let Some(message) = first.strip_prefix("e=") {
        return Err(SaslError::ServerError {
            message: message.to_owned(),
        });
    }
    let v = first
        .strip_prefix("v=")
        .ok_or(malformed("missing verifier (v=)"))?;
    let got = STANDARD
        .decode(v)
        .map_err(|_| malformed("verifier is not base64"))?;
    if !constant_time_eq(&got, expected) {
        return Err(SaslError::ServerSignatureMismatch);
    }
    Ok(())
}

/// Compares without an early exit, so timing does not reveal how many
/// leading bytes of a forged signature were right. Empty never matches, so
/// the (unreachable) empty-HMAC fallback in `Hash::hmac` fails closed.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    !a.is_empty()
        && a.len() == b.len()
        && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn malformed(reason: &'static str) -> SaslError {
    SaslError::MalformedChallenge { reason }
}

#[cfg(test)]
mod tests {
    use super::super::{Authenticator, Credentials, Mechanism, SaslError, State};
    use super::Scram;
    use crate::secret::Secret;

    fn creds(user: &str, pass: &str, authzid: Option<&str>) -> Credentials {
        Credentials::Password {
            username: user.into(),
            password: Secret::new(pass.into()),
            authzid: authzid.map(Into::into),
        }
    }

    /// Test-only constructor taking the printable nonce directly, so the RFC
    /// vectors match byte for byte.
    fn with_nonce(m: Mechanism, c: &Credentials, nonce: &str) -> Authenticator {
        let s = Scram::with_printable_nonce(m, c, nonce.to_owned()).unwrap();
        Authenticator {
            mechanism: m,
            state: State::Scram(s),
        }
    }

    fn s(b: &Secret<Vec<u8>>) -> &str {
        std::str::from_utf8(b.expose()).unwrap()
    }

    const SHA1_SERVER_FIRST: &str =
        "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096";
    const SHA1_SERVER_FINAL: &str = "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=";
    const SHA256_SERVER_FIRST: &str =
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const SHA256_SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    fn sha1_vector() -> Authenticator {
        with_nonce(
            Mechanism::ScramSha1,
            &creds("user", "pencil", None),
            "fyko+d2lbbFgONRv9qkxdawL",
        )
    }

    fn sha256_vector() -> Authenticator {
        with_nonce(
            Mechanism::ScramSha256,
            &creds("user", "pencil", None),
            "rOprNGfwEbeRWgbNEkqO",
        )
    }

    #[test]
    fn scram_sha1_rfc5802_vector() {
        let mut a = sha1_vector();
        assert_eq!(
            s(&a.initial_response().unwrap()),
            "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL"
        );
        assert!(!a.may_succeed());
        let cf = a.respond(SHA1_SERVER_FIRST.as_bytes()).unwrap();
        assert_eq!(
            s(&cf),
            "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
        );
        assert!(!a.may_succeed(), "not before the server proved itself");
        let last = a.respond(SHA1_SERVER_FINAL.as_bytes()).unwrap();
        assert!(last.expose().is_empty());
        assert!(a.may_succeed());
        assert!(matches!(
            a.respond(b""),
            Err(SaslError::UnexpectedChallenge)
        ));
    }

    #[test]
    fn scram_sha256_rfc7677_vector() {
        let mut a = sha256_vector();
        assert_eq!(
            s(&a.initial_response().unwrap()),
            "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
        );
        let cf = a.respond(SHA256_SERVER_FIRST.as_bytes()).unwrap();
        assert_eq!(
            s(&cf),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
             p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        assert!(!a.may_succeed());
        assert!(
            a.respond(SHA256_SERVER_FINAL.as_bytes())
                .unwrap()
                .expose()
                .is_empty()
        );
        assert!(a.may_succeed());
    }

    #[test]
    fn scram_without_initial_response() {
        let mut a = sha256_vector();
        assert_eq!(
            s(&a.respond(b"").unwrap()),
            "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
        );
        assert!(a.initial_response().is_none(), "client-first already sent");
        a.respond(SHA256_SERVER_FIRST.as_bytes()).unwrap();
        a.respond(SHA256_SERVER_FINAL.as_bytes()).unwrap();
        assert!(a.may_succeed());
    }

    #[test]
    fn scram_non_empty_first_challenge_rejected() {
        let mut a = sha256_vector();
        assert!(matches!(
            a.respond(SHA256_SERVER_FIRST.as_bytes()),
            Err(SaslError::UnexpectedChallenge)
        ));
    }

    #[test]
    fn scram_wrong_server_signature_rejected() {
        let mut a = sha1_vector();
        a.initial_response();
        a.respond(SHA1_SERVER_FIRST.as_bytes()).unwrap();
        // Well-formed base64 of the right length, one bit off.
        let r = a.respond(b"v=smF9pqV8S7suAoZWja4dJRkFsKQ=");
        assert!(
            matches!(r, Err(SaslError::ServerSignatureMismatch)),
            "{r:?}"
        );
        assert!(!a.may_succeed());
        assert!(matches!(
            a.respond(SHA1_SERVER_FINAL.as_bytes()),
            Err(SaslError::UnexpectedChallenge)
        ));
    }

    #[test]
    fn scram_server_signature_of_other_hash_rejected() {
        let mut a = sha1_vector();
        a.initial_response();
        a.respond(SHA1_SERVER_FIRST.as_bytes()).unwrap();
        assert!(matches!(
            a.respond(SHA256_SERVER_FINAL.as_bytes()),
            Err(SaslError::ServerSignatureMismatch)
        ));
    }

    #[test]
    fn scram_server_error_reported() {
        let mut a = sha1_vector();
        a.initial_response();
        a.respond(SHA1_SERVER_FIRST.as_bytes()).unwrap();
        match a.respond(b"e=invalid-proof") {
            Err(SaslError::ServerError { message }) => assert_eq!(message, "invalid-proof"),
            other => panic!("{other:?}"),
        }
        assert!(!a.may_succeed());
    }

    #[test]
    fn scram_server_final_malformed() {
        for bad in [&b""[..], b"x=1", b"v=!!!", b"\xff"] {
            let mut a = sha1_vector();
            a.initial_response();
            a.respond(SHA1_SERVER_FIRST.as_bytes()).unwrap();
            assert!(
                matches!(a.respond(bad), Err(SaslError::MalformedChallenge { .. })),
                "{bad:?}"
            );
            assert!(!a.may_succeed());
        }
    }

    fn after_first(server_first: &str) -> Result<Secret<Vec<u8>>, SaslError> {
        let mut a = sha1_vector();
        a.initial_response();
        a.respond(server_first.as_bytes())
    }

    #[test]
    fn scram_nonce_not_extending_ours_rejected() {
        for bad in [
            "r=XXXX+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
            "r=3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
            "r=fyko+d2lbbFgONRv9qkxdawL,s=QSXCR+Q6sek8bf92,i=4096",
            "r=fyko+d2lbbFgONRv9qkxda,s=QSXCR+Q6sek8bf92,i=4096",
        ] {
            assert!(
                matches!(after_first(bad), Err(SaslError::NonceMismatch)),
                "{bad}"
            );
        }
    }

    #[test]
    fn scram_iteration_count_bounds() {
        let with_i = |i: &str| {
            after_first(&format!(
                "r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i={i}"
            ))
        };
        assert!(matches!(
            with_i("4095"),
            Err(SaslError::IterationCount { got: 4095 })
        ));
        assert!(matches!(
            with_i("0"),
            Err(SaslError::IterationCount { got: 0 })
        ));
        assert!(matches!(
            with_i("1000001"),
            Err(SaslError::IterationCount { got: 1_000_001 })
        ));
        assert!(matches!(
            with_i("99999999999"),
            Err(SaslError::IterationCount { got: u32::MAX })
        ));
        assert!(matches!(
            with_i("-1"),
            Err(SaslError::MalformedChallenge { .. })
        ));
        assert!(matches!(
            with_i(""),
            Err(SaslError::MalformedChallenge { .. })
        ));
        assert!(matches!(
            with_i("+4096"),
            Err(SaslError::MalformedChallenge { .. })
        ));
        assert!(with_i("4096").is_ok());
    }

    #[test]
    fn scram_server_first_malformed() {
        let n = "r=fyko+d2lbbFgONRv9qkxdawL3rfc";
        for bad in [
            String::new(),
            n.to_owned(),
            format!("{n},s=QSXCR+Q6sek8bf92"),
            format!("{n},i=4096,s=QSXCR+Q6sek8bf92"),
            format!("s=QSXCR+Q6sek8bf92,{n},i=4096"),
            format!("{n},s=!!notbase64,i=4096"),
            format!("{n},s=,i=4096"),
        ] {
            assert!(
                matches!(after_first(&bad), Err(SaslError::MalformedChallenge { .. })),
                "{bad}"
            );
        }
        assert!(matches!(
            after_first("\u{1}\u{ff}"),
            Err(SaslError::MalformedChallenge { .. })
        ));
    }

    #[test]
    fn scram_mandatory_extension_rejected() {
        let r = after_first("m=foo,r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=4096");
        assert!(matches!(r, Err(SaslError::UnsupportedExtension)));
    }

    #[test]
    fn scram_optional_extensions_ignored() {
        let r = after_first("r=fyko+d2lbbFgONRv9qkxdawL3rfc,s=QSXCR+Q6sek8bf92,i=4096,x=ext");
        assert!(r.is_ok());
    }

    #[test]
    fn scram_username_escaping() {
        let mut a = with_nonce(
            Mechanism::ScramSha256,
            &creds("a,b=c", "pw", Some("x=y,z")),
            "NONCE",
        );
        assert_eq!(
            s(&a.initial_response().unwrap()),
            "n,a=x=3Dy=2Cz,n=a=2Cb=3Dc,r=NONCE"
        );
        // The gs2 header (with escaped authzid) is echoed base64-encoded in c=.
        let cf = a.respond(b"r=NONCEabc,s=QSXCR+Q6sek8bf92,i=4096").unwrap();
        assert!(
            s(&cf).starts_with("c=bixhPXg9M0R5PTJDeiw=,r=NONCEabc,p="),
            "{}",
            s(&cf)
        );
    }

    #[test]
    fn scram_saslprep_applied() {
        // U+00A0 (non-ASCII space) maps to ' '; U+00AD (soft hyphen) maps to nothing.
        let mut a = with_nonce(
            Mechanism::ScramSha1,
            &creds("us\u{ad}er", "pen\u{a0}cil", None),
            "N",
        );
        assert_eq!(s(&a.initial_response().unwrap()), "n,,n=user,r=N");
        // Password "pen cil" after SASLprep, so the proof equals a plain "pen cil" run.
        let mut b = with_nonce(Mechanism::ScramSha1, &creds("user", "pen cil", None), "N");
        b.initial_response();
        let sf = b"r=Nx,s=QSXCR+Q6sek8bf92,i=4096";
        assert_eq!(a.respond(sf).unwrap(), b.respond(sf).unwrap());
    }

    #[test]
    fn scram_rejects_bad_credentials() {
        let mk = |u: &str, p: &str| {
            Authenticator::new(Mechanism::ScramSha256, &creds(u, p, None), &[9; 16])
        };
        assert!(matches!(
            mk("a\0b", "p"),
            Err(SaslError::InvalidUsername { .. })
        ));
        assert!(matches!(
            mk("", "p"),
            Err(SaslError::InvalidUsername { .. })
        ));
        assert!(matches!(
            mk("\u{ad}", "p"),
            Err(SaslError::InvalidUsername { .. })
        ));
        assert!(matches!(
            mk("u", "p\u{7}"),
            Err(SaslError::Saslprep { field: "password" })
        ));
    }

    #[test]
    fn scram_nonce_from_random_bytes() {
        let c = creds("user", "pencil", None);
        assert!(matches!(
            Authenticator::new(Mechanism::ScramSha1, &c, &[0; 15]),
            Err(SaslError::NonceTooShort { got: 15 })
        ));
        let mut a = Authenticator::new(Mechanism::ScramSha1, &c, &[0xfb; 16]).unwrap();
        let first = a.initial_response().unwrap();
        let first = s(&first);
        let nonce = first.strip_prefix("n,,n=user,r=").unwrap();
        assert_eq!(nonce, "+/v7+/v7+/v7+/v7+/v7+w");
        assert!(
            nonce
                .bytes()
                .all(|b| (0x21..=0x7e).contains(&b) && b != b',')
        );
    }

    #[test]
    fn scram_garbage_server_final_does_not_panic() {
        let mut seed = 12345u32;
        for len in 0..64 {
            let mut a = sha1_vector();
            a.initial_response();
            a.respond(SHA1_SERVER_FIRST.as_bytes()).unwrap();
            let garbage: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    b"v=e,ABCxyz019+/\xff"[(seed >> 16) as usize % 16]
                })
                .collect();
            let _ = a.respond(&garbage);
            assert!(!a.may_succeed());
        }
    }
}
