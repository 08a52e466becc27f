//! `ClientSession` against a rustls server in memory: trust, certificate errors with their
//! codes, the handshake report, and byte-exact application data in any split.

use std::sync::Arc;

use pop3_tls::{ClientSession, ErrorCode, SuiteOrder, TlsError, Trust, system_time};
use proptest::prelude::*;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, date_time_ymd,
};
use rustls::ServerConnection;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};

// ---------- test PKI (as in bridge/pop3-bridge/tests/common/mod.rs) ----------

struct Ca {
    key: KeyPair,
    params: CertificateParams,
    pem: String,
}

struct Leaf {
    der: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        dn.push(DnType::OrganizationName, "pop3-tls tests");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2099, 1, 1);
        let pem = params.self_signed(&key).unwrap().pem();
        Ca { key, params, pem }
    }

    /// A leaf for `names`; `expired` makes it valid only in 2000.
    fn leaf(&self, names: &[&str], expired: bool) -> Leaf {
        let mut p = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, names[0]);
        p.distinguished_name = dn;
        if expired {
            p.not_before = date_time_ymd(2000, 1, 1);
            p.not_after = date_time_ymd(2001, 1, 1);
        } else {
            p.not_before = date_time_ymd(2020, 1, 1);
            p.not_after = date_time_ymd(2090, 1, 1);
        }
        let key = KeyPair::generate().unwrap();
        let issuer = Issuer::new(self.params.clone(), &self.key);
        let cert = p.signed_by(&key, &issuer).unwrap();
        Leaf {
            der: cert.der().clone(),
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
        }
    }
}

fn self_signed(names: &[&str]) -> Leaf {
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .unwrap()
        .self_signed(&key)
        .unwrap();
    Leaf {
        der: cert.der().clone(),
        key: PrivatePkcs8KeyDer::from(key.serialize_der()),
    }
}

impl Leaf {
    fn pin(&self) -> String {
        Sha256::digest(self.der.as_ref())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn server(&self, tls12_only: bool) -> ServerConnection {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let versions: &[&rustls::SupportedProtocolVersion] = if tls12_only {
            &[&rustls::version::TLS12]
        } else {
            &[&rustls::version::TLS13, &rustls::version::TLS12]
        };
        let cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![self.der.clone()],
                PrivateKeyDer::Pkcs8(self.key.clone_key()),
            )
            .unwrap();
        let mut conn = ServerConnection::new(Arc::new(cfg)).unwrap();
        // The tests move megabytes through without reading in between.
        conn.set_buffer_limit(None);
        conn
    }
}

const HOST: &str = "mail.example.test";

fn trust_with(ca: &Ca) -> Trust {
    let mut t = Trust::web_pki();
    assert_eq!(t.add_ca_pem(&ca.pem).unwrap(), 1);
    t
}

fn client(trust: &Trust, name: &str) -> ClientSession {
    client_in(SuiteOrder::HERE, trust, name)
}

/// A client offering the suites in `order` (the browser's, natively, for pop3-tls-chacha).
fn client_in(order: SuiteOrder, trust: &Trust, name: &str) -> ClientSession {
    let config = trust.client_config_in(order, system_time()).unwrap();
    ClientSession::new(config, name).unwrap()
}

/// Move records between the two until neither has anything to say; returns the plaintext
/// the server received. The client's errors end the exchange; the server's are ignored (it
/// just stops answering, as after an alert).
fn pump(client: &mut ClientSession, server: &mut ServerConnection) -> Result<Vec<u8>, TlsError> {
    let mut received = Vec::new();
    for _ in 0..100_000 {
        let out = client.take_outgoing();
        let mut moved = !out.is_empty();
        let mut rd = &out[..];
        while !rd.is_empty() {
            if server.read_tls(&mut rd).is_err() || server.process_new_packets().is_err() {
                break;
            }
            drain_server(server, &mut received);
        }
        let back = server_output(server);
        if !back.is_empty() {
            moved = true;
            client.receive(&back)?;
        }
        if !moved {
            return Ok(received);
        }
    }
    panic!("the exchange did not settle");
}

/// Every record the server has queued.
fn server_output(server: &mut ServerConnection) -> Vec<u8> {
    let mut wire = Vec::new();
    while server.wants_write() {
        server.write_tls(&mut wire).unwrap();
    }
    wire
}

fn drain_server(server: &mut ServerConnection, into: &mut Vec<u8>) {
    let mut buf = vec![0; 64 * 1024];
    while let Ok(n) = std::io::Read::read(&mut server.reader(), &mut buf) {
        if n == 0 {
            break;
        }
        into.extend_from_slice(&buf[..n]);
    }
}

fn handshake_error(trust: &Trust, leaf: &Leaf, name: &str) -> TlsError {
    let mut c = client(trust, name);
    let mut s = leaf.server(false);
    let e = pump(&mut c, &mut s).unwrap_err();
    assert!(c.info().is_none());
    e
}

// ---------- trust and the report ----------

#[test]
fn ca_added_as_pem_verifies_and_info_describes_the_certificate() {
    let ca = Ca::new("Session Test CA");
    let leaf = ca.leaf(&[HOST], false);
    let mut c = client(&trust_with(&ca), HOST);
    assert!(c.is_handshaking());
    assert!(
        !c.take_outgoing().is_empty(),
        "the ClientHello is queued at once"
    );
    let mut c = client(&trust_with(&ca), HOST);
    let mut s = leaf.server(false);
    pump(&mut c, &mut s).unwrap();
    assert!(!c.is_handshaking());
    let info = c.info().unwrap();
    assert_eq!(info.version, "TLSv1.3");
    assert!(info.cipher.starts_with("TLS13_"), "{}", info.cipher);
    assert_eq!(info.server_name, HOST);
    assert_eq!(info.subject, format!("CN={HOST}"));
    assert_eq!(info.issuer, "CN=Session Test CA, O=pop3-tls tests");
    assert_eq!(info.not_after, "2090-01-01T00:00:00Z");
    assert!(info.verified);
    assert_eq!(info.pin_matched, None);
}

#[test]
fn expired_certificate_is_cert_expired() {
    let ca = Ca::new("CA");
    let e = handshake_error(&trust_with(&ca), &ca.leaf(&[HOST], true), HOST);
    assert_eq!(e.code, ErrorCode::CertExpired, "{e}");
    assert!(!e.detail.is_empty());
}

#[test]
fn certificate_for_another_name_is_cert_name_mismatch() {
    let ca = Ca::new("CA");
    let e = handshake_error(
        &trust_with(&ca),
        &ca.leaf(&["other.example.test"], false),
        HOST,
    );
    assert_eq!(e.code, ErrorCode::CertNameMismatch, "{e}");
}

#[test]
fn certificate_from_an_unknown_ca_is_cert_unknown_issuer() {
    let ca = Ca::new("CA");
    let e = handshake_error(&Trust::web_pki(), &ca.leaf(&[HOST], false), HOST);
    assert_eq!(e.code, ErrorCode::CertUnknownIssuer, "{e}");
}

#[test]
fn self_signed_certificate_with_its_pin_is_accepted_but_not_verified() {
    let leaf = self_signed(&[HOST]);
    let mut trust = Trust::web_pki();
    trust.add_pin(&leaf.pin()).unwrap();
    let mut c = client(&trust, HOST);
    let mut s = leaf.server(false);
    pump(&mut c, &mut s).unwrap();
    let info = c.info().unwrap();
    assert!(!info.verified);
    assert_eq!(info.pin_matched, Some(true));
}

#[test]
fn self_signed_certificate_without_a_pin_is_refused() {
    let e = handshake_error(&Trust::web_pki(), &self_signed(&[HOST]), HOST);
    assert_eq!(e.code, ErrorCode::CertUnknownIssuer, "{e}");
}

#[test]
fn valid_chain_with_a_pin_that_does_not_match_is_cert_invalid() {
    let ca = Ca::new("CA");
    let mut trust = trust_with(&ca);
    trust.add_pin(&"ab".repeat(32)).unwrap();
    let e = handshake_error(&trust, &ca.leaf(&[HOST], false), HOST);
    assert_eq!(e.code, ErrorCode::CertInvalid, "{e}");
    assert!(e.detail.contains("matches none of the pins"), "{e}");
}

#[test]
fn valid_chain_with_its_pin_reports_both() {
    let ca = Ca::new("CA");
    let leaf = ca.leaf(&[HOST], false);
    let mut trust = trust_with(&ca);
    trust.add_pin(&leaf.pin()).unwrap();
    let mut c = client(&trust, HOST);
    let mut s = leaf.server(false);
    pump(&mut c, &mut s).unwrap();
    let info = c.info().unwrap();
    assert!(info.verified);
    assert_eq!(info.pin_matched, Some(true));
}

#[test]
fn tls12_only_server_works() {
    let ca = Ca::new("CA");
    let leaf = ca.leaf(&[HOST], false);
    let mut c = client(&trust_with(&ca), HOST);
    let mut s = leaf.server(true);
    pump(&mut c, &mut s).unwrap();
    let info = c.info().unwrap();
    assert_eq!(info.version, "TLSv1.2");
    assert!(info.verified);
}

#[test]
fn ip_literal_server_names_are_checked_against_ip_addresses() {
    let ca = Ca::new("CA");
    for (typed, san, shown) in [
        ("127.0.0.1", "127.0.0.1", "127.0.0.1"),
        ("[::1]", "::1", "::1"),
        ("::1", "::1", "::1"),
    ] {
        let leaf = ca.leaf(&[san], false);
        let mut c = client(&trust_with(&ca), typed);
        let mut s = leaf.server(false);
        pump(&mut c, &mut s).unwrap();
        assert_eq!(c.info().unwrap().server_name, shown);
    }
    // A certificate for another address is a name mismatch, as for DNS names.
    let e = handshake_error(
        &trust_with(&ca),
        &ca.leaf(&["127.0.0.2"], false),
        "127.0.0.1",
    );
    assert_eq!(e.code, ErrorCode::CertNameMismatch, "{e}");
}

#[test]
fn unusable_server_names_are_refused_before_any_byte() {
    let cfg = Trust::web_pki().client_config(system_time()).unwrap();
    for bad in ["", "exa mple.com", "[not-an-ip]", "a..b"] {
        assert!(ClientSession::new(cfg.clone(), bad).is_err(), "{bad:?}");
    }
}

#[test]
fn bad_ca_pem_and_bad_pins_are_refused_with_what_was_wrong() {
    let mut t = Trust::web_pki();
    let e = t.add_ca_pem("hello").unwrap_err();
    assert!(e.to_string().contains("no certificate"), "{e}");
    let e = t
        .add_ca_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
        .unwrap_err();
    assert!(e.to_string().starts_with("CA certificate"), "{e}");
    assert!(t.add_ca_der(b"not der").is_err());
    assert!(
        t.add_pin("zz")
            .unwrap_err()
            .to_string()
            .contains("64 hex digits")
    );
}

#[test]
fn a_trust_with_nothing_to_chain_to_is_refused_even_with_a_pin() {
    let mut t = Trust::empty();
    t.add_pin(&"ab".repeat(32)).unwrap();
    let e = t.verifier().unwrap_err();
    assert_eq!(
        e.to_string(),
        "certificate verifier: no root trust anchors were provided"
    );
    assert!(t.client_config(system_time()).is_err());
}

#[test]
fn handshake_fed_one_byte_at_a_time_completes() {
    let ca = Ca::new("CA");
    let leaf = ca.leaf(&[HOST], false);
    let mut c = client(&trust_with(&ca), HOST);
    let mut s = leaf.server(false);
    for _ in 0..10 {
        let out = c.take_outgoing();
        if !out.is_empty() {
            s.read_tls(&mut &out[..]).unwrap();
            s.process_new_packets().unwrap();
        }
        let back = server_output(&mut s);
        for b in back.chunks(1) {
            assert_eq!(c.info().is_some(), !c.is_handshaking());
            c.receive(b).unwrap();
        }
    }
    assert!(!c.is_handshaking());
    assert!(c.info().unwrap().verified);
}

/// The verdict travels from the shared verifier to the session through a per-thread slot:
/// two handshakes interleaved on one thread must each report their own.
#[test]
fn interleaved_sessions_report_their_own_verification() {
    let ca = Ca::new("CA");
    let chained = ca.leaf(&[HOST], false);
    let pinned = self_signed(&[HOST]);
    let mut trust = trust_with(&ca);
    trust.add_pin(&pinned.pin()).unwrap();
    trust.add_pin(&chained.pin()).unwrap();
    let config = trust.client_config(system_time()).unwrap();
    let mut a = ClientSession::new(config.clone(), HOST).unwrap();
    let mut b = ClientSession::new(config, HOST).unwrap();
    let (mut sa, mut sb) = (chained.server(false), pinned.server(false));
    // Step both sessions alternately, one flight at a time.
    for _ in 0..10 {
        for (c, s) in [(&mut a, &mut sa), (&mut b, &mut sb)] {
            let out = c.take_outgoing();
            if !out.is_empty() {
                s.read_tls(&mut &out[..]).unwrap();
                s.process_new_packets().unwrap();
            }
            let back = server_output(s);
            if !back.is_empty() {
                c.receive(&back).unwrap();
            }
        }
    }
    let (ia, ib) = (a.info().unwrap(), b.info().unwrap());
    assert!(ia.verified);
    assert!(!ib.verified);
    assert_eq!(ia.pin_matched, Some(true));
    assert_eq!(ib.pin_matched, Some(true));
}

// ---------- application data ----------

fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// 2 MB each way, fed to the client `split` bytes at a time, the plaintext moved out by
/// `take` after each; every byte arrives in order. Returns the cipher suite.
fn round_trip(split: usize, take: fn(&mut ClientSession) -> Vec<u8>) -> String {
    round_trip_in(SuiteOrder::HERE, false, split, take)
}

fn round_trip_in(
    order: SuiteOrder,
    tls12_only: bool,
    split: usize,
    take: fn(&mut ClientSession) -> Vec<u8>,
) -> String {
    const LEN: usize = 2 * 1024 * 1024;
    let ca = Ca::new("CA");
    let leaf = ca.leaf(&[HOST], false);
    let mut c = client_in(order, &trust_with(&ca), HOST);
    let mut s = leaf.server(tls12_only);
    let up = pattern(LEN, 7);
    // Sent during the handshake: buffered until it is done.
    c.send(&up).unwrap();
    let got_up = pump(&mut c, &mut s).unwrap();
    assert!(
        got_up == up,
        "client to server: {} of {} bytes",
        got_up.len(),
        LEN
    );

    let down = pattern(LEN, 11);
    std::io::Write::write_all(&mut s.writer(), &down).unwrap();
    let wire = server_output(&mut s);
    let mut got_down = Vec::new();
    for chunk in wire.chunks(split) {
        c.receive(chunk).unwrap();
        got_down.extend(take(&mut c));
    }
    assert!(
        got_down == down,
        "server to client: {} of {} bytes",
        got_down.len(),
        LEN
    );
    c.info().unwrap().cipher.clone()
}

/// The browser's suites natively: ChaCha20-Poly1305 from pop3-tls-chacha (its four-block
/// code, with four integers for the wasm vector) against rustls' server with ring's, both
/// ways, in pieces that cut records anywhere, in TLS 1.3 and in TLS 1.2.
#[test]
fn the_browsers_chacha20_poly1305_talks_to_rings_byte_exact_both_ways() {
    for split in [1000, 64 * 1024, usize::MAX] {
        let take = ClientSession::take_plaintext;
        let suite = round_trip_in(SuiteOrder::Browser, false, split, take);
        assert_eq!(suite, "TLS13_CHACHA20_POLY1305_SHA256");
        // rcgen's keys are ECDSA P-256.
        let suite = round_trip_in(SuiteOrder::Browser, true, split, take);
        assert_eq!(suite, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256");
    }
}

/// In the browser's suites, after the handshake: the server changes its keys and asks the
/// client to change its own (KeyUpdate, so both directions get new record protection), data
/// still arrives byte-exact both ways; then one bit changed in a record on the way is refused,
/// and nothing of that record comes out.
#[test]
fn the_browsers_chacha20_poly1305_follows_a_key_update_and_refuses_a_changed_record() {
    use std::io::Write;
    let ca = Ca::new("CA");
    let leaf = ca.leaf(&[HOST], false);
    let mut c = client_in(SuiteOrder::Browser, &trust_with(&ca), HOST);
    let mut s = leaf.server(false);
    pump(&mut c, &mut s).unwrap();
    assert_eq!(c.info().unwrap().cipher, "TLS13_CHACHA20_POLY1305_SHA256");

    s.writer().write_all(b"before the update, ").unwrap();
    s.refresh_traffic_keys().unwrap();
    s.writer().write_all(b"after it").unwrap();
    c.receive(&server_output(&mut s)).unwrap();
    assert_eq!(c.take_plaintext(), b"before the update, after it");
    c.send(b"and the client's new keys").unwrap();
    assert_eq!(pump(&mut c, &mut s).unwrap(), b"and the client's new keys");

    s.writer().write_all(&[b'x'; 1000]).unwrap();
    let mut wire = server_output(&mut s);
    let n = wire.len();
    wire[n - 20] ^= 1;
    assert!(c.receive(&wire).is_err());
    assert!(c.take_plaintext().is_empty());
}

/// The browser's TLS 1.2 ChaCha20 suite for RSA certificates (the ECDSA one is in the tests
/// above): a server with an RSA key (a fixed test key, rcgen cannot make RSA keys with ring),
/// trusted by its pin, picks TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, and data goes both
/// ways byte-exact.
#[test]
fn the_browsers_tls12_chacha20_suite_for_rsa_certificates_works() {
    let key = KeyPair::from_pem(include_str!("rsa-test-key.pem")).unwrap();
    let cert = CertificateParams::new(vec![HOST.to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let leaf = Leaf {
        der: cert.der().clone(),
        key: PrivatePkcs8KeyDer::from(key.serialize_der()),
    };
    let mut trust = Trust::web_pki();
    trust.add_pin(&leaf.pin()).unwrap();
    let mut c = client_in(SuiteOrder::Browser, &trust, HOST);
    let mut s = leaf.server(true);
    let up = pattern(100_000, 3);
    c.send(&up).unwrap();
    assert!(pump(&mut c, &mut s).unwrap() == up);
    assert_eq!(
        c.info().unwrap().cipher,
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"
    );
    let down = pattern(100_000, 5);
    std::io::Write::write_all(&mut s.writer(), &down).unwrap();
    pump(&mut c, &mut s).unwrap();
    assert!(c.take_plaintext() == down);
}

#[test]
fn two_megabytes_each_way_fed_one_byte_at_a_time_are_byte_exact() {
    round_trip(1, ClientSession::take_plaintext);
    round_trip_in(SuiteOrder::Browser, false, 1, ClientSession::take_plaintext);
}

#[test]
fn two_megabytes_each_way_fed_in_64_kib_chunks_are_byte_exact() {
    round_trip(64 * 1024, ClientSession::take_plaintext);
}

/// The browser module's way (`plaintext` copied out, then `clear_plaintext`, the buffer kept):
/// each byte is handed on exactly once.
#[test]
fn plaintext_shown_then_cleared_hands_on_every_byte_once() {
    fn show_and_clear(c: &mut ClientSession) -> Vec<u8> {
        let shown = c.plaintext().to_vec();
        c.clear_plaintext();
        shown
    }
    round_trip(64 * 1024, show_and_clear);
    round_trip(1000, show_and_clear);
}

#[test]
fn two_megabytes_fed_at_once_are_byte_exact() {
    round_trip(usize::MAX, ClientSession::take_plaintext);
}

#[test]
fn close_notify_both_ways() {
    let ca = Ca::new("CA");
    let leaf = ca.leaf(&[HOST], false);
    let mut c = client(&trust_with(&ca), HOST);
    let mut s = leaf.server(false);
    pump(&mut c, &mut s).unwrap();
    assert!(!c.peer_closed());
    s.send_close_notify();
    pump(&mut c, &mut s).unwrap();
    assert!(c.peer_closed());
    c.close();
    let out = c.take_outgoing();
    assert!(!out.is_empty());
    s.read_tls(&mut &out[..]).unwrap();
    assert!(s.process_new_packets().unwrap().peer_has_closed());
}

// ---------- hostile input ----------

#[test]
fn garbage_from_the_server_is_a_handshake_error_and_stays_one() {
    let mut c = client(&Trust::web_pki(), HOST);
    let e = c.receive(b"+OK POP3 server ready\r\n").unwrap_err();
    assert_eq!(e.code, ErrorCode::TlsHandshake, "{e}");
    assert_eq!(c.receive(b"more").unwrap_err(), e);
    assert_eq!(c.send(b"USER x\r\n").unwrap_err(), e);
    assert!(c.info().is_none());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_from_the_server_never_panic(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..600), 0..8),
        handshake_prefix in any::<bool>(),
    ) {
        let mut c = client(&Trust::web_pki(), HOST);
        let _ = c.take_outgoing();
        if handshake_prefix {
            // A plausible record header first, so the fuzzing reaches the handshake parser.
            let _ = c.receive(&[0x16, 0x03, 0x03, 0x00, 0x40, 0x02, 0x00, 0x00, 0x3c]);
        }
        for chunk in &chunks {
            let _ = c.receive(chunk);
            let _ = c.take_plaintext();
            let _ = c.take_outgoing();
        }
        let _ = c.info();
    }
}

// ---------- the handshake's own signature ----------

/// Presents `cert` but signs the handshake with `key`: a server that has a certificate but not
/// its private key (one copied from another server, say).
#[derive(Debug)]
struct WrongKey(Arc<rustls::sign::CertifiedKey>);

impl rustls::server::ResolvesServerCert for WrongKey {
    fn resolve(
        &self,
        _: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
}

fn server_without_the_key(cert: &Leaf, key: &Leaf, tls12_only: bool) -> ServerConnection {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let signer = provider
        .key_provider
        .load_private_key(PrivateKeyDer::Pkcs8(key.key.clone_key()))
        .unwrap();
    let certified = rustls::sign::CertifiedKey::new(vec![cert.der.clone()], signer);
    let versions: &[&rustls::SupportedProtocolVersion] = if tls12_only {
        &[&rustls::version::TLS12]
    } else {
        &[&rustls::version::TLS13]
    };
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(WrongKey(Arc::new(certified))));
    ServerConnection::new(Arc::new(cfg)).unwrap()
}

#[test]
fn a_server_that_does_not_hold_its_certificates_key_is_refused_in_tls13_and_tls12() {
    let ca = Ca::new("CA");
    let genuine = ca.leaf(&[HOST], false);
    // Same CA, same name, a key of its own: its key is what signs the handshake.
    let impostor = ca.leaf(&[HOST], false);
    for tls12_only in [false, true] {
        // The chain alone would verify: the same server with the right key is accepted.
        let mut c = client(&trust_with(&ca), HOST);
        pump(
            &mut c,
            &mut server_without_the_key(&genuine, &genuine, tls12_only),
        )
        .unwrap();

        let mut c = client(&trust_with(&ca), HOST);
        let mut s = server_without_the_key(&genuine, &impostor, tls12_only);
        let e = pump(&mut c, &mut s).unwrap_err();
        assert_eq!(
            e.code,
            ErrorCode::CertInvalid,
            "TLS 1.2 only: {tls12_only}: {e}"
        );
        assert!(c.info().is_none());
    }
}
