//! rustls configuration: the client side (to mail servers) and the listener side (wss://).
//!
//! Client: what `pop3-tls` defines for every TLS client of the project (the same code runs in
//! the browser for end-to-end TLS): web PKI roots plus optional extra CA files, TLS 1.2
//! minimum (rustls has no older versions at all), per configured server optional SHA-256 pins
//! of the end-entity certificate for self-signed home servers, the pinning rules, the error
//! codes and the handshake report. There is deliberately no "accept invalid certificates"
//! switch. The server name given to rustls is always the name the user typed. This module
//! only reads the operator's files into a [`Trust`] per server.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader};
use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

use pop3_tls::{PinningVerifier, Trust, TrustError};
use rustls::ClientConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::config::Config;
use crate::protocol::{ErrorCode, TlsInfo};

/// The listener's provider: ring, with private-key loading (the client side's comes from
/// `pop3-tls`, which needs none).
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The TLS settings for one target.
#[derive(Debug, Clone)]
pub struct TargetTls {
    pub config: Arc<ClientConfig>,
    verifier: Arc<PinningVerifier>,
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
        let certs = conn.peer_certificates().unwrap_or(&[]);
        let verdict = self.verifier.verdict(certs, server_name, UnixTime::now());
        pop3_tls::describe(conn, server_name, verdict)
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

/// A refused CA or pin as a setup error naming `what` (the file, or the pin).
fn bad(what: String) -> impl FnOnce(TrustError) -> TlsSetupError {
    move |e| TlsSetupError::Bad(what, e.reason().to_owned())
}

fn add_ca_file(trust: &mut Trust, path: &Path) -> Result<(), TlsSetupError> {
    for cert in load_certs(path)? {
        trust
            .add_ca_der(&cert)
            .map_err(bad(path.display().to_string()))?;
    }
    Ok(())
}

fn build_target(
    base: &Trust,
    extra: Option<&Path>,
    pins: &[String],
    allow_plaintext: bool,
) -> Result<TargetTls, TlsSetupError> {
    let mut trust = base.clone();
    if let Some(p) = extra {
        add_ca_file(&mut trust, p)?;
    }
    for pin in pins {
        trust
            .add_pin(pin)
            .map_err(|e| TlsSetupError::Bad(e.what().to_owned(), e.reason().to_owned()))?;
    }
    let verifier = trust
        .verifier()
        .map_err(|e| TlsSetupError::Bad(e.what().to_owned(), e.reason().to_owned()))?;
    let config = verifier
        .client_config(pop3_tls::system_time(), pop3_tls::SuiteOrder::Native)
        .map_err(|e| TlsSetupError::Bad(e.what().to_owned(), e.reason().to_owned()))?;
    Ok(TargetTls {
        config,
        verifier,
        allow_plaintext,
    })
}

impl ClientTls {
    pub fn from_config(c: &Config) -> Result<Self, TlsSetupError> {
        let mut base = Trust::web_pki();
        for p in &c.extra_ca {
            add_ca_file(&mut base, p)?;
        }
        let default = build_target(&base, None, &[], c.allow_plaintext)?;
        let mut per_server = HashMap::new();
        for s in &c.servers {
            let t = build_target(
                &base,
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

/// Map a failed handshake to the error code the UI explains (`pop3_tls::classify`, the one
/// mapping, on the rustls error inside the I/O error).
pub fn classify_handshake_error(e: &io::Error) -> ErrorCode {
    e.get_ref()
        .and_then(|i| i.downcast_ref::<rustls::Error>())
        .map_or(ErrorCode::TlsHandshake, pop3_tls::classify)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_errors_inside_io_errors_get_their_codes() {
        let io = |e: rustls::Error| io::Error::new(io::ErrorKind::InvalidData, e);
        let cert = |e| io(rustls::Error::InvalidCertificate(e));
        use rustls::CertificateError as C;
        assert_eq!(
            classify_handshake_error(&cert(C::Expired)),
            ErrorCode::CertExpired
        );
        assert_eq!(
            classify_handshake_error(&cert(C::UnknownIssuer)),
            ErrorCode::CertUnknownIssuer
        );
        assert_eq!(
            classify_handshake_error(&io::Error::other("reset")),
            ErrorCode::TlsHandshake
        );
    }

    #[test]
    fn malformed_pins_are_refused_naming_the_pin() {
        let mut c = Config::default();
        c.servers.push(crate::config::ServerConfig {
            host: "pinned.example".into(),
            pin_sha256: vec!["abcd".into()],
            ..Default::default()
        });
        let e = ClientTls::from_config(&c).unwrap_err();
        assert_eq!(e.to_string(), "pin 'abcd': must be 64 hex digits (SHA-256)");
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
