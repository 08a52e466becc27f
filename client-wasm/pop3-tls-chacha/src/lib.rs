//! ChaCha20-Poly1305 (RFC 8439) for the TLS records of end-to-end TLS, and the cipher suites
//! (TLS 1.3's and TLS 1.2's) that use it.
//!
//! Why not ring's, which the rest of pop3-tls uses: in wasm, ring has only its portable
//! one-block ChaCha20, and decrypting was the slowest step of a big download in the browser
//! (ChaCha20 was over half of the TLS module's time). Here ChaCha20 computes four blocks at
//! once in wasm SIMD (module `chacha`); Poly1305 is RustCrypto's, whose portable code is what ring
//! runs in wasm too. The native build (the bridge) keeps ring's suites, which have assembly.
//!
//! The tests compare every output with ring's ChaCha20-Poly1305, natively, on the same
//! four-block code the browser runs with its vector as four integers (and with poly1305's
//! AVX2 code where the machine has it). The lane operations of the wasm build, and its
//! Poly1305 code, are run by the browser tests (pop3-web's `end_to_end`, in Chromium and
//! Firefox, through pop3-tls-web) and by the npm package's runs in Node, Deno and workerd:
//! with one byte shuffle or transpose wrong, every handshake there fails.

mod chacha;
mod suites;

pub use suites::suites;

use poly1305::Poly1305;
use poly1305::universal_hash::{KeyInit, UniversalHash};
use zeroize::Zeroize;

/// The key's bytes.
pub const KEY_LEN: usize = 32;
/// The nonce's bytes.
pub const NONCE_LEN: usize = 12;
/// The tag's bytes.
pub const TAG_LEN: usize = 16;

/// The most data one nonce can protect: the 32-bit block counter starts at 1 (block 0 makes
/// the Poly1305 key) and must not wrap. Only a 64-bit caller can pass more; a TLS record is
/// at most 16 KiB and 256 bytes.
const MAX_DATA: u64 = (u32::MAX as u64) * chacha::BLOCK as u64;

/// Why [`open`] or [`seal`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The tag does not match: the data, the additional data, the nonce or the key differ
    /// from the sender's. Nothing was decrypted.
    Tag,
    /// More data than one nonce may protect (see `MAX_DATA`).
    TooLong,
}

/// A ChaCha20-Poly1305 key, wiped when dropped. So are the states and blocks derived from it
/// in this crate's scalar code, and Poly1305's state (its "zeroize" feature); the four-block
/// code's vectors, which live in registers and on the stack, are not (nor are ring's).
pub struct Key([u32; 8]);

impl Key {
    /// The key from its 32 bytes.
    pub fn new(bytes: &[u8; KEY_LEN]) -> Key {
        let mut words = [0u32; 8];
        for (w, c) in words.iter_mut().zip(bytes.chunks_exact(4)) {
            *w = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        Key(words)
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

fn nonce_words(nonce: &[u8; NONCE_LEN]) -> [u32; 3] {
    let w = |i: usize| u32::from_le_bytes([nonce[i], nonce[i + 1], nonce[i + 2], nonce[i + 3]]);
    [w(0), w(4), w(8)]
}

/// The Poly1305 state for this key and nonce: its key is the first half of block 0.
fn mac(key: &Key, nonce: &[u32; 3]) -> Poly1305 {
    let mut state = chacha::state(&key.0, nonce, 0);
    let mut block = chacha::one_block(&state);
    let mut mac_key = poly1305::Key::default();
    mac_key.copy_from_slice(&block[..32]);
    let mac = Poly1305::new(&mac_key);
    state.zeroize();
    block.zeroize();
    mac_key.zeroize();
    mac
}

/// `mac` after RFC 8439's input following the key: the additional data and the ciphertext,
/// each padded to 16 bytes, then both lengths.
fn authenticated(mut mac: Poly1305, aad: &[u8], ciphertext: &[u8]) -> Poly1305 {
    mac.update_padded(aad);
    mac.update_padded(ciphertext);
    let mut lengths = [0u8; 16];
    lengths[..8].copy_from_slice(&(aad.len() as u64).to_le_bytes());
    lengths[8..].copy_from_slice(&(ciphertext.len() as u64).to_le_bytes());
    mac.update(&[lengths.into()]);
    mac
}

/// Encrypts `in_out` in place and returns the tag over it and `aad`.
pub fn seal(
    key: &Key,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    in_out: &mut [u8],
) -> Result<[u8; TAG_LEN], Error> {
    if in_out.len() as u64 > MAX_DATA {
        return Err(Error::TooLong);
    }
    let nonce = nonce_words(nonce);
    let mac = mac(key, &nonce);
    chacha::xor_key_stream(&key.0, &nonce, 1, in_out);
    Ok(authenticated(mac, aad, in_out).finalize().into())
}

/// Checks `tag` over `in_out` and `aad` (in constant time), then decrypts `in_out` in place.
/// On [`Error::Tag`], `in_out` is unchanged.
pub fn open(
    key: &Key,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    in_out: &mut [u8],
    tag: &[u8; TAG_LEN],
) -> Result<(), Error> {
    if in_out.len() as u64 > MAX_DATA {
        return Err(Error::TooLong);
    }
    let nonce = nonce_words(nonce);
    let mac = authenticated(mac(key, &nonce), aad, in_out);
    // `verify` compares in constant time (subtle's `ct_eq`).
    mac.verify(&(*tag).into()).map_err(|_| Error::Tag)?;
    chacha::xor_key_stream(&key.0, &nonce, 1, in_out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};

    fn ring_seal(key: &[u8; 32], nonce: &[u8; 12], aad: &[u8], data: &[u8]) -> Vec<u8> {
        let k = LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, key).unwrap());
        let mut out = data.to_vec();
        k.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(*nonce),
            Aad::from(aad),
            &mut out,
        )
        .unwrap();
        out
    }

    /// RFC 8439's plaintext in its ChaCha20 and AEAD test vectors.
    pub(crate) const SUNSCREEN: &[u8] = b"Ladies and Gentlemen of the class of '99: If I could \
offer you only one tip for the future, sunscreen would be it.";

    /// Bytes from hex digits, whitespace ignored (the RFC's vectors as it prints them).
    pub(crate) fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 8439, 2.8.2: the AEAD construction's test vector, both ways.
    #[test]
    fn seal_and_open_give_rfc_8439s_aead_test_vector() {
        let key: [u8; 32] = core::array::from_fn(|i| 0x80 + i as u8);
        let nonce: [u8; 12] = hex("070000004041424344454647").try_into().unwrap();
        let aad = hex("50515253c0c1c2c3c4c5c6c7");
        let plain = SUNSCREEN;
        let mut data = plain.to_vec();
        let tag = seal(&Key::new(&key), &nonce, &aad, &mut data).unwrap();
        assert_eq!(tag.to_vec(), hex("1ae10b594f09e26a7e902ecbd0600691"));
        assert_eq!(data[..16].to_vec(), hex("d31a8d34648e60db7b86afbc53ef7ec2"));
        open(&Key::new(&key), &nonce, &aad, &mut data, &tag).unwrap();
        assert_eq!(data, plain);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Lengths drawn from empty to 1,200 bytes (over four blocks four times), so the
        /// four-block code, the single blocks after it and a partial last block are all compared
        /// with ring.
        #[test]
        fn seal_is_rings_and_open_takes_back_what_ring_sealed(
            key in any::<[u8; 32]>(),
            nonce in any::<[u8; 12]>(),
            aad in proptest::collection::vec(any::<u8>(), 0..40),
            data in proptest::collection::vec(any::<u8>(), 0..1200),
        ) {
            let want = ring_seal(&key, &nonce, &aad, &data);
            let mut ours = data.clone();
            let tag = seal(&Key::new(&key), &nonce, &aad, &mut ours).unwrap();
            ours.extend_from_slice(&tag);
            prop_assert_eq!(&ours, &want);

            let (body, ring_tag) = want.split_at(data.len());
            let mut back = body.to_vec();
            open(&Key::new(&key), &nonce, &aad, &mut back, ring_tag.try_into().unwrap()).unwrap();
            prop_assert_eq!(back, data);
        }

        /// Any one bit changed in the data, the additional data or the tag is refused, and the
        /// data is left as it came.
        #[test]
        fn open_refuses_any_changed_bit_and_leaves_the_data_alone(
            key in any::<[u8; 32]>(),
            nonce in any::<[u8; 12]>(),
            aad in proptest::collection::vec(any::<u8>(), 1..40),
            data in proptest::collection::vec(any::<u8>(), 1..600),
            which in 0..3usize,
            at in any::<prop::sample::Index>(),
            bit in 0..8u8,
        ) {
            let sealed = ring_seal(&key, &nonce, &aad, &data);
            let (body, tag) = sealed.split_at(data.len());
            let (mut body, mut aad, mut tag) = (body.to_vec(), aad, <[u8; 16]>::try_from(tag).unwrap());
            match which {
                0 => { let i = at.index(body.len()); body[i] ^= 1 << bit }
                1 => { let i = at.index(aad.len()); aad[i] ^= 1 << bit }
                _ => { let i = at.index(16); tag[i] ^= 1 << bit }
            }
            let before = body.clone();
            prop_assert_eq!(open(&Key::new(&key), &nonce, &aad, &mut body, &tag), Err(Error::Tag));
            prop_assert_eq!(body, before);
        }
    }
}
