//! The ChaCha20-Poly1305 cipher suites with this crate's AEAD: TLS 1.3's and TLS 1.2's two.
//! Everything but the record protection (hash, HKDF or PRF, key exchange, signature
//! schemes) is ring's, taken from ring's AES-128-GCM suites of the same hash, so that
//! nothing refers to ring's own ChaCha20-Poly1305 and the browser module carries one, not
//! two. The record formats:
//! - TLS 1.3 (RFC 8446, section 5.2): the nonce is the write IV XORed with the record's
//!   sequence number, the additional data is the record's header, and the plaintext ends with
//!   its real content type (then optional zero padding).
//! - TLS 1.2 (RFC 7905): the same nonce; the additional data is the sequence number, type,
//!   version and plaintext length; no explicit nonce.

use std::sync::OnceLock;

use rustls::crypto::CipherSuiteCommon;
use rustls::crypto::cipher::{
    AeadKey, BorrowedPayload, InboundOpaqueMessage, InboundPlainMessage, Iv, KeyBlockShape,
    MessageDecrypter, MessageEncrypter, NONCE_LEN, Nonce, OutboundOpaqueMessage,
    OutboundPlainMessage, PrefixedPayload, Tls12AeadAlgorithm, Tls13AeadAlgorithm,
    UnsupportedOperationError, make_tls12_aad, make_tls13_aad,
};
use rustls::crypto::ring::cipher_suite as ring;
use rustls::{
    CipherSuite, ConnectionTrafficSecrets, ContentType, Error, ProtocolVersion,
    SupportedCipherSuite, Tls12CipherSuite, Tls13CipherSuite,
};

use crate::{KEY_LEN, Key, TAG_LEN};

/// TLS 1.2's most plaintext in one record (RFC 5246, section 6.2.1); rustls' limit is
/// private.
const MAX_FRAGMENT_LEN: usize = 16_384;

/// TLS_CHACHA20_POLY1305_SHA256, TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 and
/// TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, in that order (rustls' own), as ring's
/// provider defines them but for the record protection. Not for QUIC.
pub fn suites() -> [SupportedCipherSuite; 3] {
    static SUITES: OnceLock<Suites> = OnceLock::new();
    let s = SUITES.get_or_init(Suites::new);
    [
        s.tls13
            .as_ref()
            .map_or(ring::TLS13_AES_128_GCM_SHA256, SupportedCipherSuite::Tls13),
        s.ecdsa.as_ref().map_or(
            ring::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            SupportedCipherSuite::Tls12,
        ),
        s.rsa.as_ref().map_or(
            ring::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            SupportedCipherSuite::Tls12,
        ),
    ]
}

/// The three suites. Each is `None` only if ring's base suite were ever not of its TLS
/// version (it is); [`suites`] then gives that base suite itself, a working suite rather than
/// a panic.
struct Suites {
    tls13: Option<Tls13CipherSuite>,
    ecdsa: Option<Tls12CipherSuite>,
    rsa: Option<Tls12CipherSuite>,
}

impl Suites {
    fn new() -> Suites {
        // ChaCha20-Poly1305 has no practical confidentiality limit per key (RFC 9001, 6.6),
        // unlike the AES-GCM bases.
        let common = |suite, base: &CipherSuiteCommon| CipherSuiteCommon {
            suite,
            hash_provider: base.hash_provider,
            confidentiality_limit: u64::MAX,
        };
        let tls12 = |suite, base: SupportedCipherSuite| match base {
            SupportedCipherSuite::Tls12(b) => Some(Tls12CipherSuite {
                common: common(suite, &b.common),
                kx: b.kx,
                sign: b.sign,
                aead_alg: &Tls12Aead,
                prf_provider: b.prf_provider,
            }),
            SupportedCipherSuite::Tls13(_) => None,
        };
        Suites {
            tls13: ring::TLS13_AES_128_GCM_SHA256
                .tls13()
                .map(|b| Tls13CipherSuite {
                    common: common(CipherSuite::TLS13_CHACHA20_POLY1305_SHA256, &b.common),
                    hkdf_provider: b.hkdf_provider,
                    aead_alg: &Tls13Aead,
                    quic: None,
                }),
            ecdsa: tls12(
                CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
                ring::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            ),
            rsa: tls12(
                CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
                ring::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            ),
        }
    }
}

struct Tls13Aead;

impl Tls13AeadAlgorithm for Tls13Aead {
    fn encrypter(&self, key: AeadKey, iv: Iv) -> Box<dyn MessageEncrypter> {
        match record_key(&key) {
            Some(key) => Box::new(Tls13Records(Records { key, iv })),
            None => Box::new(Refuse),
        }
    }

    fn decrypter(&self, key: AeadKey, iv: Iv) -> Box<dyn MessageDecrypter> {
        match record_key(&key) {
            Some(key) => Box::new(Tls13Records(Records { key, iv })),
            None => Box::new(Refuse),
        }
    }

    fn key_len(&self) -> usize {
        KEY_LEN
    }

    fn extract_keys(
        &self,
        key: AeadKey,
        iv: Iv,
    ) -> Result<ConnectionTrafficSecrets, UnsupportedOperationError> {
        Ok(ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv })
    }
}

/// The record key, if `key` is `key_len()` bytes long, as rustls' key schedule always makes it.
fn record_key(key: &AeadKey) -> Option<Key> {
    <&[u8; KEY_LEN]>::try_from(key.as_ref()).ok().map(Key::new)
}

/// What a key or IV of another length gets (never seen; rustls makes them as the suite says):
/// every record refused, rather than a panic, and rather than records sealed under a key made
/// up by padding.
struct Refuse;

impl MessageEncrypter for Refuse {
    fn encrypt(
        &mut self,
        _msg: OutboundPlainMessage<'_>,
        _seq: u64,
    ) -> Result<OutboundOpaqueMessage, Error> {
        Err(Error::EncryptError)
    }

    fn encrypted_payload_len(&self, payload_len: usize) -> usize {
        payload_len + TAG_LEN
    }
}

impl MessageDecrypter for Refuse {
    fn decrypt<'a>(
        &mut self,
        _msg: InboundOpaqueMessage<'a>,
        _seq: u64,
    ) -> Result<InboundPlainMessage<'a>, Error> {
        Err(Error::DecryptError)
    }
}

/// One direction's record protection, either version: seal or open a record's payload in
/// place under the nonce for its sequence number.
struct Records {
    key: Key,
    iv: Iv,
}

impl Records {
    /// Encrypts what `payload` holds and appends the tag.
    fn seal(&self, seq: u64, aad: &[u8], payload: &mut PrefixedPayload) -> Result<(), Error> {
        let nonce = Nonce::new(&self.iv, seq).0;
        let tag = crate::seal(&self.key, &nonce, aad, payload.as_mut())
            .map_err(|_| Error::EncryptError)?;
        payload.extend_from_slice(&tag);
        Ok(())
    }

    /// Checks the tag at the end of `payload` and decrypts the rest in place, leaving only the
    /// plaintext. `aad` makes the additional data from the plaintext's length.
    fn open<A: AsRef<[u8]>>(
        &self,
        seq: u64,
        payload: &mut BorrowedPayload<'_>,
        aad: impl FnOnce(usize) -> A,
    ) -> Result<(), Error> {
        let Some(body_len) = payload.len().checked_sub(TAG_LEN) else {
            return Err(Error::DecryptError);
        };
        let nonce = Nonce::new(&self.iv, seq).0;
        let (body, tag) = payload.split_at_mut(body_len);
        let mut t = [0u8; TAG_LEN];
        t.copy_from_slice(tag);
        crate::open(&self.key, &nonce, aad(body_len).as_ref(), body, &t)
            .map_err(|_| Error::DecryptError)?;
        payload.truncate(body_len);
        Ok(())
    }
}

/// TLS 1.3's record protection.
struct Tls13Records(Records);

impl MessageEncrypter for Tls13Records {
    fn encrypt(
        &mut self,
        msg: OutboundPlainMessage<'_>,
        seq: u64,
    ) -> Result<OutboundOpaqueMessage, Error> {
        let total_len = self.encrypted_payload_len(msg.payload.len());
        let mut payload = PrefixedPayload::with_capacity(total_len);
        payload.extend_from_chunks(&msg.payload);
        payload.extend_from_slice(&msg.typ.to_array());
        self.0.seal(seq, &make_tls13_aad(total_len), &mut payload)?;
        // Every TLS 1.3 record says TLS 1.2 (RFC 8446, section 5.1).
        Ok(OutboundOpaqueMessage::new(
            ContentType::ApplicationData,
            ProtocolVersion::TLSv1_2,
            payload,
        ))
    }

    fn encrypted_payload_len(&self, payload_len: usize) -> usize {
        payload_len + 1 + TAG_LEN
    }
}

impl MessageDecrypter for Tls13Records {
    fn decrypt<'a>(
        &mut self,
        mut msg: InboundOpaqueMessage<'a>,
        seq: u64,
    ) -> Result<InboundPlainMessage<'a>, Error> {
        // The additional data is the record's header, whose length includes the tag.
        self.0.open(seq, &mut msg.payload, |body_len| {
            make_tls13_aad(body_len + TAG_LEN)
        })?;
        msg.into_tls13_unpadded_message()
    }
}

struct Tls12Aead;

impl Tls12AeadAlgorithm for Tls12Aead {
    fn encrypter(&self, key: AeadKey, iv: &[u8], _explicit: &[u8]) -> Box<dyn MessageEncrypter> {
        match (record_key(&key), fixed_iv(iv)) {
            (Some(key), Some(iv)) => Box::new(Tls12Records(Records { key, iv })),
            _ => Box::new(Refuse),
        }
    }

    fn decrypter(&self, key: AeadKey, iv: &[u8]) -> Box<dyn MessageDecrypter> {
        match (record_key(&key), fixed_iv(iv)) {
            (Some(key), Some(iv)) => Box::new(Tls12Records(Records { key, iv })),
            _ => Box::new(Refuse),
        }
    }

    fn key_block_shape(&self) -> KeyBlockShape {
        KeyBlockShape {
            enc_key_len: KEY_LEN,
            fixed_iv_len: NONCE_LEN,
            explicit_nonce_len: 0,
        }
    }

    fn extract_keys(
        &self,
        key: AeadKey,
        iv: &[u8],
        _explicit: &[u8],
    ) -> Result<ConnectionTrafficSecrets, UnsupportedOperationError> {
        let iv = fixed_iv(iv).ok_or(UnsupportedOperationError)?;
        Ok(ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv })
    }
}

/// The fixed IV, if `iv` is `NONCE_LEN` bytes long, as rustls cuts it from the key block by
/// [`Tls12Aead::key_block_shape`].
fn fixed_iv(iv: &[u8]) -> Option<Iv> {
    <[u8; NONCE_LEN]>::try_from(iv).ok().map(Iv::new)
}

/// TLS 1.2's record protection.
struct Tls12Records(Records);

impl MessageEncrypter for Tls12Records {
    fn encrypt(
        &mut self,
        msg: OutboundPlainMessage<'_>,
        seq: u64,
    ) -> Result<OutboundOpaqueMessage, Error> {
        let total_len = self.encrypted_payload_len(msg.payload.len());
        let mut payload = PrefixedPayload::with_capacity(total_len);
        payload.extend_from_chunks(&msg.payload);
        let aad = make_tls12_aad(seq, msg.typ, msg.version, msg.payload.len());
        self.0.seal(seq, &aad, &mut payload)?;
        Ok(OutboundOpaqueMessage::new(msg.typ, msg.version, payload))
    }

    fn encrypted_payload_len(&self, payload_len: usize) -> usize {
        payload_len + TAG_LEN
    }
}

impl MessageDecrypter for Tls12Records {
    fn decrypt<'a>(
        &mut self,
        mut msg: InboundOpaqueMessage<'a>,
        seq: u64,
    ) -> Result<InboundPlainMessage<'a>, Error> {
        let (typ, version) = (msg.typ, msg.version);
        self.0.open(seq, &mut msg.payload, |body_len| {
            make_tls12_aad(seq, typ, version, body_len)
        })?;
        if msg.payload.len() > MAX_FRAGMENT_LEN {
            return Err(Error::PeerSentOversizedRecord);
        }
        Ok(msg.into_plain_message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(payload: &[u8]) -> OutboundPlainMessage<'_> {
        OutboundPlainMessage {
            typ: ContentType::ApplicationData,
            version: ProtocolVersion::TLSv1_2,
            payload: payload.into(),
        }
    }

    /// An IV of the wrong length (rustls never passes one) refuses every record, both ways,
    /// instead of sealing under a padded one or panicking; the right length works.
    #[test]
    fn a_key_block_of_the_wrong_shape_refuses_every_record() {
        let key = || AeadKey::from([7u8; KEY_LEN]);
        for iv in [&[1u8; NONCE_LEN - 1][..], &[1u8; NONCE_LEN + 1][..]] {
            let mut enc = Tls12Aead.encrypter(key(), iv, &[]);
            assert!(matches!(
                enc.encrypt(record(b"x"), 0),
                Err(Error::EncryptError)
            ));
            let mut dec = Tls12Aead.decrypter(key(), iv);
            let mut sealed = [0u8; 1 + TAG_LEN];
            let msg = InboundOpaqueMessage::new(
                ContentType::ApplicationData,
                ProtocolVersion::TLSv1_2,
                &mut sealed,
            );
            assert!(matches!(dec.decrypt(msg, 0), Err(Error::DecryptError)));
            assert!(Tls12Aead.extract_keys(key(), iv, &[]).is_err());
        }
        let iv = [1u8; NONCE_LEN];
        let sealed = Tls12Aead
            .encrypter(key(), &iv, &[])
            .encrypt(record(b"x"), 0)
            .unwrap();
        let mut bytes = sealed.payload.as_ref().to_vec();
        let msg = InboundOpaqueMessage::new(
            ContentType::ApplicationData,
            ProtocolVersion::TLSv1_2,
            &mut bytes,
        );
        let opened = Tls12Aead.decrypter(key(), &iv).decrypt(msg, 0).unwrap();
        assert_eq!(opened.payload, b"x");
    }
}
