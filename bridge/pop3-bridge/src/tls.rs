//! rustls configuration: the client side (to mail servers) and the listener side (wss://).
//!
//! Client: web PKI roots plus optional extra CA files, TLS 1.2 minimum (rustls has no older
//! versions at all), and per configured server optional SHA-256 pins of the end-entity
//! certificate for self-signed home servers. There is deliberately no "accept invalid
//! certificates" switch. The server name given to rustls is always the name the user typed.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader};
use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::protocol::{ErrorCode, TlsInfo};

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Verifies with webpki and, when the server has pins, against them. Pins restrict: with pins
/// configured, the end-entity certificate must match one even if its chain verifies (a
/// certificate mis-issued by a trusted CA is what a pin guards against). A matching pin also
/// accepts a certificate whose chain does not verify (the operator vouched for exactly this
/// certificate, e.g. a self-signed home server).
#[derive(Debug)]
struct PinningVerifier {
    inner: Arc<WebPkiServerVerifier>,
    pins: Vec<[u8; 32]>,
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
        let chain = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        if self.pins.is_empty() {
            return chain;
        }
        let fp: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
        match chain {
            _ if self.pins.contains(&fp) => Ok(ServerCertVerified::assertion()),
            Ok(_) => Err(rustls::Error::InvalidCertificate(CertificateError::Other(
                rustls::OtherError(Arc::new(PinMismatch)),
            ))),
            Err(e) => Err(e),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The certificate chains to a trusted root but matches none of the server's pins
/// (`cert_invalid`).
struct PinMismatch;

impl std::fmt::Debug for PinMismatch {
    // rustls shows a certificate error's cause with `Debug`: make it the sentence.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the certificate matches none of the pins configured for this server")
    }
}

impl std::fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for PinMismatch {}

/// The TLS settings for one target.
#[derive(Debug, Clone)]
pub struct TargetTls {
    pub config: Arc<ClientConfig>,
    verifier: Arc<WebPkiServerVerifier>,
    pins: Vec<[u8; 32]>,
    pub allow_plaintext: bool,
}

impl TargetTls {
    /// Describe the finished handshake for the client. Verification is re-run here only to
    /// *report* whether the chain or a pin accepted the certificate; the decision was made by
    /// rustls during the handshake.
    pub fn describe(
        &self,
        conn: &rustls::ClientConnection,
        server_name: &ServerName<'static>,
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
        let certs = conn.peer_certificates().unwrap_or(&[]);
        let (mut subject, mut issuer, mut not_after) =
            (String::new(), String::new(), String::new());
        let mut verified = false;
        let mut pin_matched = None;
        if let Some(ee) = certs.first() {
            if let Ok((_, cert)) = x509_parser::parse_x509_certificate(ee.as_ref()) {
                subject = cert.subject().to_string();
                issuer = cert.issuer().to_string();
                not_after = rfc3339(cert.validity().not_after.timestamp());
            }
            verified = self
                .verifier
                .verify_server_cert(ee, &certs[1..], server_name, &[], UnixTime::now())
                .is_ok();
            if !self.pins.is_empty() {
                let fp: [u8; 32] = Sha256::digest(ee.as_ref()).into();
                pin_matched = Some(self.pins.contains(&fp));
            }
        }
        TlsInfo {
            version,
            cipher,
            server_name: server_name.to_str().into_owned(),
            subject,
            issuer,
            not_after,
            verified,
            pin_matched,
        }
    }
}

/// Client TLS settings: a default and per configured server.
#[derive(Debug, Clone)]
pub struct ClientTls {
    default: TargetTls,
    per_server: HashMap<String, TargetTls>,
}

/// Why the TLS settings (listener certificate and key, extra CAs, pins) could not be built.
/// Each variant names the file or setting first.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// A PEM file could not be read.
    #[error("cannot read {0}: {1}")]
    Read(String, io::Error),
    /// A certificate file holds no certificate.
    #[error("{0}: no certificate found in the PEM file")]
    NoCerts(String),
    /// The listener's key file holds no private key.
    #[error("{0}: no private key found in the PEM file")]
    NoKey(String),
    /// A certificate, key or pin was refused, with the reason.
    #[error("{0}: {1}")]
    Bad(String, String),
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let name = path.display().to_string();
    let f = File::open(path).map_err(|e| TlsSetupError::Read(name.clone(), e))?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut BufReader::new(f))
        .collect::<Result<_, _>>()
        .map_err(|e| TlsSetupError::Read(name.clone(), e))?;
    if certs.is_empty() {
        return Err(TlsSetupError::NoCerts(name));
    }
    Ok(certs)
}

fn parse_pin(s: &str) -> Result<[u8; 32], TlsSetupError> {
    let hex: String = s.chars().filter(|c| *c != ':').collect();
    let bad = || {
        TlsSetupError::Bad(
            format!("pin '{s}'"),
            "must be 64 hex digits (SHA-256)".into(),
        )
    };
    if hex.len() != 64 || !hex.is_ascii() {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

fn build_target(
    roots: &RootCertStore,
    extra: Option<&Path>,
    pins: &[String],
    allow_plaintext: bool,
) -> Result<TargetTls, TlsSetupError> {
    let mut roots = roots.clone();
    if let Some(p) = extra {
        for c in load_certs(p)? {
            roots
                .add(c)
                .map_err(|e| TlsSetupError::Bad(p.display().to_string(), e.to_string()))?;
        }
    }
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| TlsSetupError::Bad("certificate verifier".into(), e.to_string()))?;
    let pins = pins
        .iter()
        .map(|p| parse_pin(p))
        .collect::<Result<Vec<_>, _>>()?;
    let config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsSetupError::Bad("TLS versions".into(), e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinningVerifier {
            inner: verifier.clone(),
            pins: pins.clone(),
        }))
        .with_no_client_auth();
    Ok(TargetTls {
        config: Arc::new(config),
        verifier,
        pins,
        allow_plaintext,
    })
}

impl ClientTls {
    pub fn from_config(c: &Config) -> Result<Self, TlsSetupError> {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for p in &c.extra_ca {
            for cert in load_certs(p)? {
                roots
                    .add(cert)
                    .map_err(|e| TlsSetupError::Bad(p.display().to_string(), e.to_string()))?;
            }
        }
        let default = build_target(&roots, None, &[], c.allow_plaintext)?;
        let mut per_server = HashMap::new();
        for s in &c.servers {
            let t = build_target(
                &roots,
                s.extra_ca.as_deref(),
                &s.pin_sha256,
                s.allow_plaintext || c.allow_plaintext,
            )?;
            per_server.insert(s.host.trim_end_matches('.').to_ascii_lowercase(), t);
        }
        Ok(ClientTls {
            default,
            per_server,
        })
    }

    pub fn for_host(&self, host: &str) -> &TargetTls {
        self.per_server.get(host).unwrap_or(&self.default)
    }
}

/// Map a failed handshake to the error code the UI explains.
pub fn classify_handshake_error(e: &io::Error) -> ErrorCode {
    let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) else {
        return ErrorCode::TlsHandshake;
    };
    match inner {
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

/// The listener's certificate and key (wss://), swappable while the bridge runs: every TLS
/// handshake takes the one current at that moment (`resolve`), so a reload (SIGHUP) changes
/// the certificate for new connections and leaves the ones already set up as they are.
#[derive(Debug)]
pub(crate) struct ListenerCert {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ListenerCert {
    /// The certificate chain in `cert` with the private key in `key` (PEM files).
    pub(crate) fn load(cert: &Path, key: &Path) -> Result<Self, TlsSetupError> {
        Ok(ListenerCert {
            current: RwLock::new(load_certified_key(cert, key)?),
        })
    }

    /// Serve `new` to every handshake from now on.
    pub(crate) fn replace(&self, new: Arc<CertifiedKey>) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = new;
    }

    fn current(&self) -> Arc<CertifiedKey> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl ResolvesServerCert for ListenerCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// A certificate chain and its private key from PEM files, checked to belong together.
pub(crate) fn load_certified_key(
    cert: &Path,
    key: &Path,
) -> Result<Arc<CertifiedKey>, TlsSetupError> {
    let certs = load_certs(cert)?;
    let name = key.display().to_string();
    let f = File::open(key).map_err(|e| TlsSetupError::Read(name.clone(), e))?;
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut BufReader::new(f))
        .map_err(|e| TlsSetupError::Read(name.clone(), e))?
        .ok_or(TlsSetupError::NoKey(name))?;
    let ck = CertifiedKey::from_der(certs, key, &provider())
        .map_err(|e| TlsSetupError::Bad(cert.display().to_string(), e.to_string()))?;
    Ok(Arc::new(ck))
}

/// Listener TLS (wss://) serving whatever `cert` holds at each handshake.
pub(crate) fn server_config(
    cert: Arc<ListenerCert>,
) -> Result<Arc<rustls::ServerConfig>, TlsSetupError> {
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsSetupError::Bad("TLS versions".into(), e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(cert);
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}

/// Unix seconds to "YYYY-MM-DDTHH:MM:SSZ" (Howard Hinnant's civil-from-days).
fn rfc3339(ts: i64) -> String {
    let days = ts.div_euclid(86_400);
    let secs = ts.rem_euclid(86_400);
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
    }

    #[test]
    fn client_config_offers_only_tls12_and_tls13() {
        let t = ClientTls::from_config(&Config::default()).unwrap();
        let cfg = &t.for_host("x").config;
        // rustls cannot speak TLS 1.0/1.1 at all; make sure 1.2 is the floor we configured.
        for suite in &cfg.crypto_provider().cipher_suites {
            let v = suite.version().version;
            assert!(v == rustls::ProtocolVersion::TLSv1_2 || v == rustls::ProtocolVersion::TLSv1_3);
        }
    }
}
