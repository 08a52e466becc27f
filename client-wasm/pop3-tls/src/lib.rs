//! The client side of TLS to a mail server, sans-IO: ciphertext in, plaintext out, and the
//! reverse. The bridge runs it over a socket (bridge-side TLS); the browser module
//! `pop3-tls-web` runs it inside the tab, so that the bridge relays only TLS records
//! (end-to-end TLS, issue #16). Both report certificate problems with the same
//! [`ErrorCode`]s and describe a finished handshake with the same [`TlsInfo`], because both
//! come from here: [`classify`], [`describe`], [`PinningVerifier`].
//!
//! Trust ([`Trust`]): the web PKI roots, plus CAs and SHA-256 pins of the end-entity
//! certificate that the user or the operator adds. TLS 1.3 and 1.2 (rustls has nothing
//! older). There is deliberately no "accept invalid certificates" switch. The name the
//! certificate is checked against is always the one the user typed.
//!
//! Crypto: rustls with the ring provider, like the bridge has always used (audited,
//! constant-time primitives).
//!
//! Time: the verifier never reads the system clock itself; it gets "now" from the
//! [`TimeProvider`] the caller hands to [`Trust::client_config`], because
//! `wasm32-unknown-unknown` has no clock (`SystemTime::now()` panics there).

#![warn(missing_docs, missing_debug_implementations)]

mod cert;

use std::cell::Cell;
use std::fmt;
use std::io::{self, Read, Write};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{Resumption, verify_server_cert_signed_by_trust_anchor, verify_server_name};
use rustls::crypto::{
    CryptoProvider, GetRandomFailed, KeyProvider, SecureRandom, WebPkiSupportedAlgorithms,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::sign::SigningKey;
use rustls::time_provider::TimeProvider;
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore,
    SignatureScheme, SupportedCipherSuite,
};
use webpki::ring as alg;

pub use pop3_bridge_protocol::{ErrorCode, TlsInfo};

/// Which cipher suites a client offers first, and whose ChaCha20-Poly1305 protects records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuiteOrder {
    /// rustls' order, all ring's: AES-GCM first, for a machine with AES instructions (the
    /// bridge), where ring's assembly makes it the fastest. Not in wasm: there ring's
    /// ChaCha20 suites would put a second, slower ChaCha20 into the module.
    #[cfg(not(target_family = "wasm"))]
    Native,
    /// ChaCha20-Poly1305 first, TLS 1.3's and TLS 1.2's from pop3-tls-chacha (four blocks at a
    /// time in wasm SIMD), as in the browser module (see `cipher_suites` in the source).
    Browser,
}

impl SuiteOrder {
    /// The order for the target being built: [`SuiteOrder::Browser`] in wasm.
    #[cfg(target_family = "wasm")]
    pub const HERE: SuiteOrder = SuiteOrder::Browser;
    /// The order for the target being built: [`SuiteOrder::Browser`] in wasm.
    #[cfg(not(target_family = "wasm"))]
    pub const HERE: SuiteOrder = SuiteOrder::Native;
}

/// The crypto provider of every client configuration made here: ring's key exchange groups
/// and signature checks, the cipher suites in `order`, and nothing a client does not need.
///
/// Built field by field rather than from `rustls::crypto::ring::default_provider()`: that one
/// also carries ring's private-key loading (RSA and ECDSA signing), which a client without a
/// client certificate never calls but which the linker then cannot drop from the browser
/// module.
pub fn client_provider(order: SuiteOrder) -> Arc<CryptoProvider> {
    Arc::new(CryptoProvider {
        cipher_suites: cipher_suites(order),
        kx_groups: rustls::crypto::ring::DEFAULT_KX_GROUPS.to_vec(),
        signature_verification_algorithms: SIGNATURE_ALGORITHMS,
        secure_random: &RingRandom,
        key_provider: &NoPrivateKeys,
    })
}

/// ring's cipher suites in rustls' order, or with ChaCha20-Poly1305 first. In wasm there are
/// no AES instructions: ring's constant-time software AES-GCM decrypts about 43 MB/s there
/// and ChaCha20-Poly1305 about 250 MB/s (CPU time in Node 20, the module as `cargo xtask
/// build-web` makes it, ring at opt-level 2: see the root Cargo.toml), so
/// the browser asks for ChaCha20 first, as browsers on hardware without AES do. Servers that
/// follow the client's order (Dovecot's default) then pick it; both are equally strong AEADs.
/// Natively (the bridge) AES-GCM is the faster one and rustls' order stays.
///
/// In the browser order, the ChaCha20-Poly1305 suites are pop3-tls-chacha's, which computes
/// four ChaCha20 blocks at once in wasm SIMD where ring computes one (see that crate). The
/// list is spelled out rather than taken from ring's `DEFAULT_CIPHER_SUITES`, which refers to
/// ring's ChaCha20 suites: the browser module then carries one ChaCha20, not two. A test
/// checks that it is rustls' list with the ChaCha20 suites first.
fn cipher_suites(order: SuiteOrder) -> Vec<SupportedCipherSuite> {
    use rustls::crypto::ring::cipher_suite as ring;
    match order {
        #[cfg(not(target_family = "wasm"))]
        SuiteOrder::Native => rustls::crypto::ring::DEFAULT_CIPHER_SUITES.to_vec(),
        SuiteOrder::Browser => {
            let [tls13_chacha, ecdsa_chacha, rsa_chacha] = pop3_tls_chacha::suites();
            vec![
                tls13_chacha,
                ecdsa_chacha,
                rsa_chacha,
                ring::TLS13_AES_256_GCM_SHA384,
                ring::TLS13_AES_128_GCM_SHA256,
                ring::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
                ring::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                ring::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
                ring::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            ]
        }
    }
}

#[cfg(test)]
fn is_chacha(suite: &SupportedCipherSuite) -> bool {
    matches!(
        suite.suite(),
        rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256
            | rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
            | rustls::CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
    )
}

/// rustls' table for ring (`rustls::crypto::ring`, private there): what webpki can check, and
/// which of those each TLS signature scheme may use.
static SIGNATURE_ALGORITHMS: WebPkiSupportedAlgorithms = WebPkiSupportedAlgorithms {
    all: &[
        alg::ECDSA_P256_SHA256,
        alg::ECDSA_P256_SHA384,
        alg::ECDSA_P384_SHA256,
        alg::ECDSA_P384_SHA384,
        alg::ED25519,
        alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
        alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
        alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
        alg::RSA_PKCS1_2048_8192_SHA256,
        alg::RSA_PKCS1_2048_8192_SHA384,
        alg::RSA_PKCS1_2048_8192_SHA512,
        alg::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
        alg::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
        alg::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
    ],
    mapping: &[
        // For TLS 1.2 the curve is not fixed by the scheme; for TLS 1.3 it is.
        (
            SignatureScheme::ECDSA_NISTP384_SHA384,
            &[alg::ECDSA_P384_SHA384, alg::ECDSA_P256_SHA384],
        ),
        (
            SignatureScheme::ECDSA_NISTP256_SHA256,
            &[alg::ECDSA_P256_SHA256, alg::ECDSA_P384_SHA256],
        ),
        (SignatureScheme::ED25519, &[alg::ED25519]),
        (
            SignatureScheme::RSA_PSS_SHA512,
            &[alg::RSA_PSS_2048_8192_SHA512_LEGACY_KEY],
        ),
        (
            SignatureScheme::RSA_PSS_SHA384,
            &[alg::RSA_PSS_2048_8192_SHA384_LEGACY_KEY],
        ),
        (
            SignatureScheme::RSA_PSS_SHA256,
            &[alg::RSA_PSS_2048_8192_SHA256_LEGACY_KEY],
        ),
        (
            SignatureScheme::RSA_PKCS1_SHA512,
            &[alg::RSA_PKCS1_2048_8192_SHA512],
        ),
        (
            SignatureScheme::RSA_PKCS1_SHA384,
            &[alg::RSA_PKCS1_2048_8192_SHA384],
        ),
        (
            SignatureScheme::RSA_PKCS1_SHA256,
            &[alg::RSA_PKCS1_2048_8192_SHA256],
        ),
    ],
};

/// ring's system random source (getrandom: the OS, or `crypto.getRandomValues` in wasm).
#[derive(Debug)]
struct RingRandom;

impl SecureRandom for RingRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), GetRandomFailed> {
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), buf)
            .map_err(|_| GetRandomFailed)
    }
}

#[derive(Debug)]
struct NoPrivateKeys;

impl KeyProvider for NoPrivateKeys {
    fn load_private_key(
        &self,
        _key_der: PrivateKeyDer<'static>,
    ) -> Result<Arc<dyn SigningKey>, rustls::Error> {
        Err(rustls::Error::General(
            "this TLS client does not use private keys".into(),
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Trust

/// Whom to trust: root and extra CAs, and pins of the end-entity certificate.
#[derive(Debug, Clone)]
pub struct Trust {
    roots: RootCertStore,
    pins: Vec<[u8; 32]>,
}

/// A CA, pin or setting that was refused: what it was, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustError {
    what: String,
    reason: String,
}

impl TrustError {
    fn new(what: impl Into<String>, reason: impl Into<String>) -> Self {
        TrustError {
            what: what.into(),
            reason: reason.into(),
        }
    }

    /// What was refused, e.g. "pin 'abcd'" or "CA certificate".
    pub fn what(&self) -> &str {
        &self.what
    }

    /// Why it was refused.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for TrustError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.reason)
    }
}

impl std::error::Error for TrustError {}

impl Trust {
    /// The web PKI roots (Mozilla's list, compiled in by webpki-roots), no pins.
    pub fn web_pki() -> Trust {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        Trust {
            roots,
            pins: Vec::new(),
        }
    }

    /// No roots at all: only what is added is trusted (tests, and operators who want exactly
    /// their own CA).
    pub fn empty() -> Trust {
        Trust {
            roots: RootCertStore::empty(),
            pins: Vec::new(),
        }
    }

    /// Trust every certificate in the PEM text as a CA. Returns how many were added; a text
    /// with no certificate in it is an error (almost certainly the wrong file or a key).
    pub fn add_ca_pem(&mut self, pem: &str) -> Result<usize, TrustError> {
        let mut n = 0;
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(|e| TrustError::new("CA PEM", format!("{e:?}")))?;
            self.add_ca_der(&cert)?;
            n += 1;
        }
        if n == 0 {
            return Err(TrustError::new(
                "CA PEM",
                "no certificate found in the PEM text",
            ));
        }
        Ok(n)
    }

    /// Trust one DER certificate as a CA.
    pub fn add_ca_der(&mut self, der: &[u8]) -> Result<(), TrustError> {
        self.roots
            .add(CertificateDer::from(der.to_vec()))
            .map_err(|e| TrustError::new("CA certificate", e.to_string()))
    }

    /// Pin the end-entity certificate's SHA-256: 64 hex digits, colons allowed.
    pub fn add_pin(&mut self, pin: &str) -> Result<(), TrustError> {
        let fp = parse_pin(pin)?;
        if !self.pins.contains(&fp) {
            self.pins.push(fp);
        }
        Ok(())
    }

    /// Whether any pin is set (then a pin must match, see [`PinningVerifier`]).
    pub fn has_pins(&self) -> bool {
        !self.pins.is_empty()
    }

    /// The verifier for this trust; [`Trust::client_config`] installs the same kind.
    pub fn verifier(&self) -> Result<Arc<PinningVerifier>, TrustError> {
        // As rustls' own verifier builder: a trust with nothing to chain to is a mistake.
        if self.roots.is_empty() {
            return Err(TrustError::new(
                "certificate verifier",
                "no root trust anchors were provided",
            ));
        }
        Ok(Arc::new(PinningVerifier {
            roots: Arc::new(self.roots.clone()),
            pins: self.pins.clone(),
        }))
    }

    /// A client configuration: TLS 1.3 and 1.2, this trust, no client certificate, and
    /// `time` as the clock for certificate validity, with the suites of the target being
    /// built ([`SuiteOrder::HERE`]).
    pub fn client_config(
        &self,
        time: Arc<dyn TimeProvider>,
    ) -> Result<Arc<ClientConfig>, TrustError> {
        self.client_config_in(SuiteOrder::HERE, time)
    }

    /// [`Trust::client_config`] with the suites in `order`: the tests run the browser's
    /// order natively.
    pub fn client_config_in(
        &self,
        order: SuiteOrder,
        time: Arc<dyn TimeProvider>,
    ) -> Result<Arc<ClientConfig>, TrustError> {
        self.verifier()?.client_config(time, order)
    }
}

/// A pin: 64 hex digits (a SHA-256), colons between them allowed.
pub fn parse_pin(s: &str) -> Result<[u8; 32], TrustError> {
    let hex: String = s.chars().filter(|c| *c != ':').collect();
    let bad = || TrustError::new(format!("pin '{s}'"), "must be 64 hex digits (SHA-256)");
    // All hex digits, checked here: `from_str_radix` alone would take a sign ("+a").
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        let digits = hex.get(2 * i..2 * i + 2).ok_or_else(bad)?;
        *b = u8::from_str_radix(digits, 16).map_err(|_| bad())?;
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Verification

/// What verification found, for the report ([`TlsInfo::verified`], [`TlsInfo::pin_matched`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Verdict {
    /// The chain verified against the roots and extra CAs, for the name, at that time.
    pub verified: bool,
    /// With pins: whether one matched the end-entity certificate. `None` without pins.
    pub pin_matched: Option<bool>,
}

thread_local! {
    /// The verdict of the last verification on this thread. A handshake's verification runs
    /// inside `process_new_packets`, synchronously, so [`ClientSession::receive`] clears
    /// this before that call and reads it after: it is the verdict of its own handshake. The
    /// verifier itself is shared by every connection of a configuration, and rustls gives no
    /// way back from a configuration to its verifier, so the session cannot ask it.
    static LAST_VERDICT: Cell<Option<Verdict>> = const { Cell::new(None) };
}

/// Verifies with webpki and, when there are pins, against them. Pins restrict: with pins
/// set, the end-entity certificate must match one even if its chain verifies (a certificate
/// mis-issued by a trusted CA is what a pin guards against). A matching pin also accepts a
/// certificate whose chain does not verify (whoever set the pin vouched for exactly this
/// certificate, e.g. a self-signed home server).
///
/// The chain and name checks are rustls' own public functions, the steps of its
/// `WebPkiServerVerifier` without revocation lists: the client has no CRLs to give, and that
/// verifier's CRL handling would stay in the browser module all the same (measured: 7.7 KB
/// gzipped).
pub struct PinningVerifier {
    roots: Arc<RootCertStore>,
    pins: Vec<[u8; 32]>,
}

impl fmt::Debug for PinningVerifier {
    // By hand: the derived one would format the whole root store and webpki's revocation
    // types, and rustls keeps a verifier's `Debug` in its vtable, so all of that code would
    // be in the browser module for output nobody reads.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinningVerifier")
            .field("pins", &self.pins.len())
            .finish_non_exhaustive()
    }
}

impl PinningVerifier {
    /// A client configuration using this verifier, offering the suites in `order` (see
    /// [`Trust::client_config`]).
    pub fn client_config(
        self: &Arc<Self>,
        time: Arc<dyn TimeProvider>,
        order: SuiteOrder,
    ) -> Result<Arc<ClientConfig>, TrustError> {
        let config = ClientConfig::builder_with_details(client_provider(order), time)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| TrustError::new("TLS versions", e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(self.clone())
            .with_no_client_auth();
        Ok(Arc::new(config))
    }

    /// The verdict on a chain (end-entity first) for `server_name` at `now`, without
    /// deciding anything: the decision was made during the handshake, this is for the report.
    pub fn verdict(
        &self,
        certs: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Verdict {
        match certs.split_first() {
            Some((ee, intermediates)) => self.check(ee, intermediates, server_name, &[], now).1,
            None => Verdict::default(),
        }
    }

    fn check(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> (Result<ServerCertVerified, rustls::Error>, Verdict) {
        let chain = rustls::server::ParsedCertificate::try_from(end_entity)
            .and_then(|cert| {
                verify_server_cert_signed_by_trust_anchor(
                    &cert,
                    &self.roots,
                    intermediates,
                    now,
                    SIGNATURE_ALGORITHMS.all,
                )?;
                // A stapled OCSP response is not checked, as rustls' verifier does not.
                let _ = ocsp_response;
                verify_server_name(&cert, server_name)
            })
            .map(|()| ServerCertVerified::assertion());
        let verified = chain.is_ok();
        if self.pins.is_empty() {
            let verdict = Verdict {
                verified,
                pin_matched: None,
            };
            return (chain, verdict);
        }
        let matched = self.pins.contains(&sha256(end_entity.as_ref()));
        let verdict = Verdict {
            verified,
            pin_matched: Some(matched),
        };
        let result = match chain {
            _ if matched => Ok(ServerCertVerified::assertion()),
            Ok(_) => Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                rustls::OtherError(Arc::new(PinMismatch)),
            ))),
            Err(e) => Err(e),
        };
        (result, verdict)
    }
}

impl ServerCertVerifier for PinningVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let (result, verdict) =
            self.check(end_entity, intermediates, server_name, ocsp_response, now);
        LAST_VERDICT.with(|v| v.set(Some(verdict)));
        result
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &SIGNATURE_ALGORITHMS)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &SIGNATURE_ALGORITHMS)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        SIGNATURE_ALGORITHMS.supported_schemes()
    }
}

/// SHA-256 with ring's implementation, which the handshake needs anyway: a second SHA-256 (the
/// `sha2` crate) would only add its code to the browser module (measured: 2.2 KB gzipped).
fn sha256(bytes: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    // SHA-256 is always 32 bytes; zipping rather than `copy_from_slice` keeps a panic path
    // out of the certificate check all the same.
    let mut out = [0u8; 32];
    for (o, b) in out.iter_mut().zip(digest.as_ref()) {
        *o = *b;
    }
    out
}

/// The certificate chains to a trusted root but matches none of the pins (`cert_invalid`).
struct PinMismatch;

impl fmt::Debug for PinMismatch {
    // rustls shows a certificate error's cause with `Debug`: make it the sentence.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the certificate matches none of the pins configured for this server")
    }
}

impl fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for PinMismatch {}

/// Map a TLS failure to the error code the UI explains: the certificate problems each have
/// their own, everything else is a handshake failure.
pub fn classify(e: &rustls::Error) -> ErrorCode {
    match e {
        rustls::Error::InvalidCertificate(ce) => match ce {
            CertificateError::Expired
            | CertificateError::ExpiredContext { .. }
            | CertificateError::NotValidYet
            | CertificateError::NotValidYetContext { .. } => ErrorCode::CertExpired,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                ErrorCode::CertNameMismatch
            }
            CertificateError::UnknownIssuer => ErrorCode::CertUnknownIssuer,
            _ => ErrorCode::CertInvalid,
        },
        _ => ErrorCode::TlsHandshake,
    }
}

/// Describe a finished handshake for the user. `verdict` says what verification found (see
/// [`PinningVerifier::verdict`]).
pub fn describe(
    conn: &ClientConnection,
    server_name: &ServerName<'_>,
    verdict: Verdict,
) -> TlsInfo {
    let version = match conn.protocol_version() {
        Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_string(),
        Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_string(),
        Some(v) => format!("{v:?}"),
        None => "unknown".into(),
    };
    let cipher = conn
        .negotiated_cipher_suite()
        .map(|c| format!("{:?}", c.suite()))
        .unwrap_or_default();
    let summary = conn
        .peer_certificates()
        .and_then(|certs| certs.first())
        .and_then(|ee| cert::summary(ee.as_ref()));
    let (subject, issuer, not_after) = match summary {
        Some(s) => (s.subject, s.issuer, s.not_after),
        None => Default::default(),
    };
    TlsInfo {
        version,
        cipher,
        server_name: server_name.to_str().into_owned(),
        subject,
        issuer,
        not_after,
        verified: verdict.verified,
        pin_matched: verdict.pin_matched,
    }
}

/// Unix seconds to "YYYY-MM-DDTHH:MM:SSZ" (Howard Hinnant's civil-from-days).
pub fn rfc3339(unix_secs: i64) -> String {
    let days = unix_secs.div_euclid(86_400);
    let secs = unix_secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

// ---------------------------------------------------------------------------------------------
// The session

/// Why a session failed: the code the UI explains and rustls's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsError {
    /// The API's code for it (`cert_expired`, `tls_handshake`, …), from [`classify`].
    pub code: ErrorCode,
    /// rustls's own words, for the technical detail.
    pub detail: String,
}

impl TlsError {
    fn from_rustls(e: &rustls::Error) -> Self {
        TlsError {
            code: classify(e),
            detail: e.to_string(),
        }
    }

    fn handshake(detail: impl Into<String>) -> Self {
        TlsError {
            code: ErrorCode::TlsHandshake,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.detail)
    }
}

impl std::error::Error for TlsError {}

/// One TLS client connection, sans-IO. Feed it what the server sent ([`receive`]), take
/// the plaintext ([`take_plaintext`]); give it plaintext ([`send`]) and put what
/// [`take_outgoing`] returns on the wire.
///
/// [`receive`]: ClientSession::receive
/// [`take_plaintext`]: ClientSession::take_plaintext
/// [`send`]: ClientSession::send
/// [`take_outgoing`]: ClientSession::take_outgoing
#[derive(Debug)]
pub struct ClientSession {
    conn: ClientConnection,
    server_name: ServerName<'static>,
    plaintext: Vec<u8>,
    verdict: Option<Verdict>,
    failed: Option<TlsError>,
    peer_closed: bool,
}

impl ClientSession {
    /// A session for `server_name` as the user typed it: a DNS name or an IP literal (an
    /// IPv6 literal may be in brackets). The ClientHello is queued at once.
    pub fn new(config: Arc<ClientConfig>, server_name: &str) -> Result<ClientSession, TlsError> {
        let bad = |why: String| TlsError {
            code: ErrorCode::TargetRefused,
            detail: format!("not a valid TLS server name: {why}"),
        };
        let name = server_name.trim();
        let server_name = match name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
            // Brackets are only the URL spelling of an IPv6 literal.
            Some(inner) => inner
                .parse::<std::net::Ipv6Addr>()
                .map(|ip| ServerName::IpAddress(std::net::IpAddr::V6(ip).into()))
                .map_err(|_| bad(format!("{name} is not an IPv6 address")))?,
            None => ServerName::try_from(name.to_owned()).map_err(|e| bad(e.to_string()))?,
        };
        // Every session verifies the certificate itself: a resumed session would skip
        // verification, and `info` reports what this session's handshake checked.
        let mut config = (*config).clone();
        config.resumption = Resumption::disabled();
        let mut conn = ClientConnection::new(Arc::new(config), server_name.clone())
            .map_err(|e| TlsError::from_rustls(&e))?;
        // The caller drains `take_outgoing`; rustls' default limit would instead make `send`
        // fail with a write of zero bytes when more than 64 KiB wait for the handshake.
        conn.set_buffer_limit(None);
        Ok(ClientSession {
            conn,
            server_name,
            plaintext: Vec::new(),
            verdict: None,
            failed: None,
            peer_closed: false,
        })
    }

    /// Take in bytes from the server, in any split. Plaintext they complete is kept for
    /// [`ClientSession::take_plaintext`]. After an error the session is dead and every call
    /// returns the same error (the alert for the server is in `take_outgoing`).
    pub fn receive(&mut self, ciphertext: &[u8]) -> Result<(), TlsError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let mut rest = ciphertext;
        while !rest.is_empty() {
            let result = self.step(&mut rest);
            if let Err(e) = result {
                self.failed = Some(e.clone());
                return Err(e);
            }
        }
        Ok(())
    }

    /// One read into rustls, processing, and moving the plaintext out (so that rustls'
    /// limit on buffered plaintext is never reached, whatever the size of the input).
    fn step(&mut self, rest: &mut &[u8]) -> Result<(), TlsError> {
        let n = self
            .conn
            .read_tls(rest)
            .map_err(|e| TlsError::handshake(e.to_string()))?;
        if n == 0 {
            // Cannot happen with input left (the reader is a non-empty slice); guard against
            // looping forever if rustls ever refuses to take more.
            return Err(TlsError::handshake("the TLS engine took no bytes"));
        }
        LAST_VERDICT.with(|v| v.set(None));
        let processed = self.conn.process_new_packets();
        if let Some(v) = LAST_VERDICT.with(Cell::take) {
            self.verdict = Some(v);
        }
        let state = processed.map_err(|e| TlsError::from_rustls(&e))?;
        if state.peer_has_closed() {
            self.peer_closed = true;
        }
        self.drain_plaintext()
    }

    fn drain_plaintext(&mut self) -> Result<(), TlsError> {
        // Straight into `plaintext`: one copy out of rustls, not two through a bounce buffer
        // (each copy shows in the browser's MB/s). `read_to_end` keeps what it read before an
        // error; `WouldBlock` only means rustls has no more plaintext for now.
        match self.conn.reader().read_to_end(&mut self.plaintext) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(TlsError::handshake(e.to_string())),
        }
    }

    /// The plaintext received so far (and not taken yet).
    pub fn take_plaintext(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.plaintext)
    }

    /// The plaintext received so far, without taking it: the caller copies it out and then
    /// calls [`ClientSession::clear_plaintext`], so the buffer keeps its capacity from one
    /// batch to the next instead of growing again each time.
    pub fn plaintext(&self) -> &[u8] {
        &self.plaintext
    }

    /// Forget the plaintext [`ClientSession::plaintext`] showed (keeping the buffer).
    pub fn clear_plaintext(&mut self) {
        self.plaintext.clear();
    }

    /// Queue plaintext for the server. During the handshake it waits and is encrypted when
    /// the handshake finishes.
    pub fn send(&mut self, plaintext: &[u8]) -> Result<(), TlsError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.conn
            .writer()
            .write_all(plaintext)
            .map_err(|e| TlsError::handshake(e.to_string()))
    }

    /// The ciphertext to put on the wire now.
    pub fn take_outgoing(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut out) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        out
    }

    /// Whether the handshake is still going on.
    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// The handshake report, once it is done. With a configuration not made by [`Trust`]
    /// (no verdict recorded) it says `verified: false` rather than guess.
    pub fn info(&self) -> Option<TlsInfo> {
        if self.conn.is_handshaking() || self.failed.is_some() {
            return None;
        }
        Some(describe(
            &self.conn,
            &self.server_name,
            self.verdict.unwrap_or_default(),
        ))
    }

    /// Queue a close_notify for the server (then `take_outgoing`).
    pub fn close(&mut self) {
        self.conn.send_close_notify();
    }

    /// Whether the server sent close_notify.
    pub fn peer_closed(&self) -> bool {
        self.peer_closed
    }
}

/// The system clock, for native use (the bridge, tests).
pub fn system_time() -> Arc<dyn TimeProvider> {
    Arc::new(rustls::time_provider::DefaultTimeProvider)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_893_456_000), "2030-01-01T00:00:00Z");
    }

    #[test]
    fn pins_parse_with_or_without_colons() {
        let hex = "ab".repeat(32);
        assert_eq!(parse_pin(&hex).unwrap(), [0xab; 32]);
        let colons = vec!["AB"; 32].join(":");
        assert_eq!(parse_pin(&colons).unwrap(), [0xab; 32]);
        assert!(parse_pin("abcd").is_err());
        assert!(parse_pin(&"zz".repeat(32)).is_err());
        assert!(parse_pin(&"é".repeat(32)).is_err());
        assert!(parse_pin(&format!("+{}", "a".repeat(63))).is_err());
    }

    #[test]
    fn bad_pin_error_names_the_pin_and_the_rule() {
        let e = Trust::web_pki().add_pin("abcd").unwrap_err();
        assert_eq!(e.to_string(), "pin 'abcd': must be 64 hex digits (SHA-256)");
    }

    #[test]
    fn client_config_offers_only_tls12_and_tls13() {
        let cfg = Trust::web_pki().client_config(system_time()).unwrap();
        for suite in &cfg.crypto_provider().cipher_suites {
            let v = suite.version().version;
            assert!(v == rustls::ProtocolVersion::TLSv1_2 || v == rustls::ProtocolVersion::TLSv1_3);
        }
    }

    #[test]
    fn browser_order_puts_chacha_first_and_keeps_the_rest_in_rustls_order() {
        let native = cipher_suites(SuiteOrder::Native);
        let browser = cipher_suites(SuiteOrder::Browser);
        assert_eq!(native, rustls::crypto::ring::DEFAULT_CIPHER_SUITES.to_vec());
        assert_eq!(native.len(), browser.len());
        let chacha = browser.iter().take_while(|s| is_chacha(s)).count();
        assert_eq!(chacha, 3, "one per TLS 1.3 and per TLS 1.2 key type");
        let rest: Vec<_> = native.iter().filter(|s| !is_chacha(s)).collect();
        assert_eq!(browser[chacha..].iter().collect::<Vec<_>>(), rest);
        // TLS 1.3's ChaCha suite leads, so a TLS 1.3 server following the client picks it.
        assert_eq!(
            browser[0].suite(),
            rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256
        );
        // The ChaCha20 suites are pop3-tls-chacha's (SupportedCipherSuite compares by suite
        // id only, so compare where they point), and no other suite is.
        let ours = pop3_tls_chacha::suites();
        let same = |a: &SupportedCipherSuite, b: &SupportedCipherSuite| match (a, b) {
            (SupportedCipherSuite::Tls13(a), SupportedCipherSuite::Tls13(b)) => {
                std::ptr::eq(*a, *b)
            }
            (SupportedCipherSuite::Tls12(a), SupportedCipherSuite::Tls12(b)) => {
                std::ptr::eq(*a, *b)
            }
            _ => false,
        };
        for (i, s) in browser.iter().enumerate() {
            assert_eq!(ours.iter().any(|o| same(o, s)), i < 3, "{s:?}");
        }
        assert_eq!(SuiteOrder::HERE, SuiteOrder::Native);
    }

    #[test]
    fn every_certificate_error_has_a_code() {
        use CertificateError as C;
        let code = |e| classify(&rustls::Error::InvalidCertificate(e));
        assert_eq!(code(C::Expired), ErrorCode::CertExpired);
        assert_eq!(code(C::NotValidYet), ErrorCode::CertExpired);
        assert_eq!(code(C::NotValidForName), ErrorCode::CertNameMismatch);
        assert_eq!(code(C::UnknownIssuer), ErrorCode::CertUnknownIssuer);
        assert_eq!(code(C::BadSignature), ErrorCode::CertInvalid);
        assert_eq!(
            classify(&rustls::Error::DecryptError),
            ErrorCode::TlsHandshake
        );
    }
}
