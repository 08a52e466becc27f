//! Test PKI: a throw-away certificate authority that signs server certificates.
//!
//! Every [`TestCa`] is a fresh ECDSA P-256 key with a self-signed CA certificate. It can issue
//! leaf certificates for any set of names (DNS names or IP addresses), including deliberately
//! broken ones (expired, not yet valid, wrong name), so TLS-failure tests can use the same trust
//! anchor as the happy path.
//!
//! A CA can be persisted with [`TestCa::load_or_create`] so that a developer's browser or mail
//! client keeps trusting it across runs (used by the `sample-server` binary and `.run/`).

use std::fs;
use std::io;
use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, date_time_ymd,
};

/// The validity window of an issued certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Validity {
    /// Valid from 2020-01-01 to 2099-12-31.
    #[default]
    Valid,
    /// Expired: valid from 2000-01-01 to 2001-01-01.
    Expired,
    /// Not yet valid: valid from 2090-01-01 to 2099-12-31.
    NotYetValid,
}

/// A server (leaf) certificate and its private key, both PEM-encoded.
#[derive(Debug, Clone)]
pub struct IssuedCert {
    /// The leaf certificate followed by nothing else (the CA is the trust anchor).
    pub cert_pem: String,
    /// PKCS#8 private key.
    pub key_pem: String,
}

/// A certificate authority for tests.
pub struct TestCa {
    key: KeyPair,
    cert_pem: String,
    common_name: String,
}

impl std::fmt::Debug for TestCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestCa")
            .field("common_name", &self.common_name)
            .finish_non_exhaustive()
    }
}

fn rc(e: rcgen::Error) -> io::Error {
    io::Error::other(format!("rcgen: {e}"))
}

fn ca_params(common_name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, "pop3 e2e tests");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = date_time_ymd(2020, 1, 1);
    params.not_after = date_time_ymd(2099, 12, 31);
    params
}

impl TestCa {
    /// A fresh CA named "pop3 e2e test CA".
    pub fn new() -> io::Result<TestCa> {
        TestCa::with_name("pop3 e2e test CA")
    }

    /// A fresh CA with the given common name.
    pub fn with_name(common_name: &str) -> io::Result<TestCa> {
        let key = KeyPair::generate().map_err(rc)?;
        let cert = ca_params(common_name).self_signed(&key).map_err(rc)?;
        Ok(TestCa {
            key,
            cert_pem: cert.pem(),
            common_name: common_name.to_owned(),
        })
    }

    /// Loads `ca.pem` + `ca-key.pem` from `dir`, or creates (and saves) a new CA there.
    ///
    /// The key file is written with mode 0600.
    pub fn load_or_create(dir: &Path) -> io::Result<TestCa> {
        let cert_path = dir.join("ca.pem");
        let key_path = dir.join("ca-key.pem");
        let name_path = dir.join("ca-name.txt");
        if cert_path.exists() && key_path.exists() && name_path.exists() {
            let cert_pem = fs::read_to_string(&cert_path)?;
            let key = KeyPair::from_pem(&fs::read_to_string(&key_path)?).map_err(rc)?;
            let common_name = fs::read_to_string(&name_path)?.trim().to_owned();
            return Ok(TestCa {
                key,
                cert_pem,
                common_name,
            });
        }
        fs::create_dir_all(dir)?;
        let ca = TestCa::with_name("pop3 local development CA")?;
        write_private(&key_path, ca.key.serialize_pem().as_bytes())?;
        fs::write(&name_path, &ca.common_name)?;
        fs::write(&cert_path, &ca.cert_pem)?;
        Ok(ca)
    }

    /// The CA certificate (the trust anchor clients should load), PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA certificate, DER.
    pub fn cert_der(&self) -> rustls::pki_types::CertificateDer<'static> {
        let mut rd = io::BufReader::new(self.cert_pem.as_bytes());
        rustls_pemfile::certs(&mut rd)
            .next()
            .expect("CA PEM contains a certificate")
            .expect("CA PEM parses")
    }

    /// A rustls root store containing only this CA.
    pub fn root_store(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert_der()).expect("CA certificate is valid");
        roots
    }

    /// Issues a valid server certificate for `localhost` and `127.0.0.1`.
    pub fn issue_localhost(&self) -> io::Result<IssuedCert> {
        self.issue(&["localhost", "127.0.0.1"], Validity::Valid)
    }

    /// Issues a server certificate for `names` (each a DNS name or an IP address literal).
    pub fn issue(&self, names: &[&str], validity: Validity) -> io::Result<IssuedCert> {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(names.clone()).map_err(rc)?;
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            names.first().map(String::as_str).unwrap_or("server"),
        );
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let (nb, na) = match validity {
            Validity::Valid => ((2020, 1, 1), (2099, 12, 31)),
            Validity::Expired => ((2000, 1, 1), (2001, 1, 1)),
            Validity::NotYetValid => ((2090, 1, 1), (2099, 12, 31)),
        };
        params.not_before = date_time_ymd(nb.0, nb.1, nb.2);
        params.not_after = date_time_ymd(na.0, na.1, na.2);
        let leaf_key = KeyPair::generate().map_err(rc)?;
        let issuer = Issuer::new(ca_params(&self.common_name), &self.key);
        let cert = params.signed_by(&leaf_key, &issuer).map_err(rc)?;
        Ok(IssuedCert {
            cert_pem: cert.pem(),
            key_pem: leaf_key.serialize_pem(),
        })
    }

    /// Writes the CA certificate to `path`.
    pub fn write_cert(&self, path: &Path) -> io::Result<()> {
        fs::write(path, &self.cert_pem)
    }
}

/// A self-signed server certificate for `names`, not issued by any [`TestCa`].
pub fn self_signed(names: &[&str]) -> io::Result<IssuedCert> {
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let key = KeyPair::generate().map_err(rc)?;
    let cert = CertificateParams::new(names)
        .map_err(rc)?
        .self_signed(&key)
        .map_err(rc)?;
    Ok(IssuedCert {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

fn write_private(path: &Path, data: &[u8]) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data)
}
