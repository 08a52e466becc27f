//! ChaCha20 (RFC 8439, section 2.4): the key stream XORed into data, four blocks at a time.
//!
//! The four blocks are computed side by side: each of the sixteen state words is one vector
//! whose four lanes are that word in the four blocks, so every step of a round is one vector
//! operation for four blocks. In wasm the vector is a `v128` (wasm SIMD, which every engine
//! the client runs on has: Chromium 91, Firefox 89, Safari 16.4, Node 16.4, Deno, workerd);
//! natively it is four `u32`s, so the tests run the same code, round for round, on the
//! machine that builds it. Only the lane operations in [`lanes`] differ.
//!
//! Constant time by construction: additions, XORs and fixed rotations, no branch and no
//! memory access that depends on the key or the data.

use lanes::U32x4;
use zeroize::Zeroize;

/// "expand 32-byte k", the first row of every block.
const SIGMA: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

/// ChaCha20's twenty rounds (ten double rounds: the columns, then the diagonals) over the
/// sixteen words `$x`, with `$qr(&mut $x, a, b, c, d)` as the quarter round: one schedule for
/// the single block and the four side by side.
macro_rules! twenty_rounds {
    ($qr:ident, $x:ident) => {
        for _ in 0..10 {
            $qr(&mut $x, 0, 4, 8, 12);
            $qr(&mut $x, 1, 5, 9, 13);
            $qr(&mut $x, 2, 6, 10, 14);
            $qr(&mut $x, 3, 7, 11, 15);
            $qr(&mut $x, 0, 5, 10, 15);
            $qr(&mut $x, 1, 6, 11, 12);
            $qr(&mut $x, 2, 7, 8, 13);
            $qr(&mut $x, 3, 4, 9, 14);
        }
    };
}

/// A block's bytes.
pub(crate) const BLOCK: usize = 64;

/// The state of block `counter` for this key and nonce, before the rounds.
pub(crate) fn state(key: &[u32; 8], nonce: &[u32; 3], counter: u32) -> [u32; 16] {
    let mut s = [0u32; 16];
    s[..4].copy_from_slice(&SIGMA);
    s[4..12].copy_from_slice(key);
    s[12] = counter;
    s[13..].copy_from_slice(nonce);
    s
}

/// XORs the key stream from block `counter` on into `data`. The caller keeps the block
/// counter from wrapping: `data` holds at most `(2^32 - counter)` blocks.
pub(crate) fn xor_key_stream(key: &[u32; 8], nonce: &[u32; 3], counter: u32, data: &mut [u8]) {
    let mut s = state(key, nonce, counter);
    let (quads, rest) = data.as_chunks_mut::<{ 4 * BLOCK }>();
    for quad in quads {
        four_blocks(&s, quad);
        s[12] = s[12].wrapping_add(4);
    }
    for piece in rest.chunks_mut(BLOCK) {
        let mut block = one_block(&s);
        for (d, k) in piece.iter_mut().zip(&block) {
            *d ^= k;
        }
        block.zeroize();
        s[12] = s[12].wrapping_add(1);
    }
    s.zeroize();
}

/// One block of key stream (the Poly1305 key is the first 32 bytes of block 0, and data
/// shorter than four blocks is XORed a block at a time).
pub(crate) fn one_block(s: &[u32; 16]) -> [u8; BLOCK] {
    let mut x = *s;
    twenty_rounds!(quarter_round, x);
    let mut out = [0u8; BLOCK];
    for (i, o) in out.chunks_exact_mut(4).enumerate() {
        o.copy_from_slice(&x[i].wrapping_add(s[i]).to_le_bytes());
    }
    out
}

#[inline(always)]
fn quarter_round(x: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
    x[a] = x[a].wrapping_add(x[b]);
    x[d] = (x[d] ^ x[a]).rotate_left(16);
    x[c] = x[c].wrapping_add(x[d]);
    x[b] = (x[b] ^ x[c]).rotate_left(12);
    x[a] = x[a].wrapping_add(x[b]);
    x[d] = (x[d] ^ x[a]).rotate_left(8);
    x[c] = x[c].wrapping_add(x[d]);
    x[b] = (x[b] ^ x[c]).rotate_left(7);
}

/// XORs blocks `s[12]` to `s[12] + 3` into `quad`.
#[cfg_attr(target_arch = "wasm32", target_feature(enable = "simd128"))]
fn four_blocks(s: &[u32; 16], quad: &mut [u8; 4 * BLOCK]) {
    let mut x = [U32x4::splat(0); 16];
    for (xi, si) in x.iter_mut().zip(s) {
        *xi = U32x4::splat(*si);
    }
    let c = s[12];
    x[12] = U32x4::new(c, c.wrapping_add(1), c.wrapping_add(2), c.wrapping_add(3));
    let start = x;
    twenty_rounds!(vector_quarter_round, x);
    for (xi, si) in x.iter_mut().zip(&start) {
        *xi = xi.add(*si);
    }
    // Word i of block b is lane b of x[i]; it goes to bytes 64 b + 4 i. Transposed four
    // words at a time, each vector holds 16 consecutive bytes of one block: rows[g][b] is
    // words 4 g to 4 g + 3 of block b.
    let mut rows = [[U32x4::splat(0); 4]; 4];
    for (row, w) in rows.iter_mut().zip(x.as_chunks::<4>().0) {
        *row = U32x4::transpose(w[0], w[1], w[2], w[3]);
    }
    for (b, block) in quad.as_chunks_mut::<BLOCK>().0.iter_mut().enumerate() {
        for (row, piece) in rows.iter().zip(block.as_chunks_mut::<16>().0) {
            row[b].xor_into(piece);
        }
    }
}

#[cfg_attr(target_arch = "wasm32", target_feature(enable = "simd128"))]
#[inline]
fn vector_quarter_round(x: &mut [U32x4; 16], a: usize, b: usize, c: usize, d: usize) {
    x[a] = x[a].add(x[b]);
    x[d] = x[d].xor(x[a]).rotl16();
    x[c] = x[c].add(x[d]);
    x[b] = x[b].xor(x[c]).rotl12();
    x[a] = x[a].add(x[b]);
    x[d] = x[d].xor(x[a]).rotl8();
    x[c] = x[c].add(x[d]);
    x[b] = x[b].xor(x[c]).rotl7();
}

/// Four `u32` lanes: a wasm SIMD vector in wasm, an array elsewhere. Lane `i` of every
/// operation's result is the operation on lane `i` of its operands.
#[cfg(target_arch = "wasm32")]
mod lanes {
    use core::arch::wasm32::{
        i8x16_shuffle, i32x4_shuffle, i64x2_shuffle, u8x16, u32x4, u32x4_add, u32x4_shl, u32x4_shr,
        u32x4_splat, u64x2_extract_lane, v128, v128_or, v128_xor,
    };

    #[derive(Clone, Copy)]
    pub(super) struct U32x4(v128);

    impl U32x4 {
        #[inline]
        #[target_feature(enable = "simd128")]
        pub(super) fn splat(v: u32) -> Self {
            Self(u32x4_splat(v))
        }

        #[inline]
        #[target_feature(enable = "simd128")]
        pub(super) fn new(a: u32, b: u32, c: u32, d: u32) -> Self {
            Self(u32x4(a, b, c, d))
        }

        #[inline]
        #[target_feature(enable = "simd128")]
        pub(super) fn add(self, o: Self) -> Self {
            Self(u32x4_add(self.0, o.0))
        }

        #[inline]
        #[target_feature(enable = "simd128")]
        pub(super) fn xor(self, o: Self) -> Self {
            Self(v128_xor(self.0, o.0))
        }

        /// By whole bytes, a byte shuffle: each lane's little-endian bytes 0 1 2 3 become
        /// 2 3 0 1.
        #[inline]
        #[target_feature(enable = "simd128")]
        #[rustfmt::skip]
        pub(super) fn rotl16(self) -> Self {
            Self(i8x16_shuffle::<2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13>(self.0, self.0))
        }

        /// Bytes 0 1 2 3 become 3 0 1 2.
        #[inline]
        #[target_feature(enable = "simd128")]
        #[rustfmt::skip]
        pub(super) fn rotl8(self) -> Self {
            Self(i8x16_shuffle::<3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14>(self.0, self.0))
        }

        #[inline]
        #[target_feature(enable = "simd128")]
        pub(super) fn rotl12(self) -> Self {
            Self(v128_or(u32x4_shl(self.0, 12), u32x4_shr(self.0, 20)))
        }

        #[inline]
        #[target_feature(enable = "simd128")]
        pub(super) fn rotl7(self) -> Self {
            Self(v128_or(u32x4_shl(self.0, 7), u32x4_shr(self.0, 25)))
        }

        /// Lane i of `a`, `b`, `c` and `d` as the four lanes of result i.
        #[inline]
        #[target_feature(enable = "simd128")]
        pub(super) fn transpose(a: Self, b: Self, c: Self, d: Self) -> [Self; 4] {
            let ab01 = i32x4_shuffle::<0, 4, 1, 5>(a.0, b.0);
            let ab23 = i32x4_shuffle::<2, 6, 3, 7>(a.0, b.0);
            let cd01 = i32x4_shuffle::<0, 4, 1, 5>(c.0, d.0);
            let cd23 = i32x4_shuffle::<2, 6, 3, 7>(c.0, d.0);
            [
                Self(i64x2_shuffle::<0, 2>(ab01, cd01)),
                Self(i64x2_shuffle::<1, 3>(ab01, cd01)),
                Self(i64x2_shuffle::<0, 2>(ab23, cd23)),
                Self(i64x2_shuffle::<1, 3>(ab23, cd23)),
            ]
        }

        /// XORs the lanes, little-endian, into `d`.
        #[inline]
        #[target_feature(enable = "simd128")]
        #[rustfmt::skip]
        pub(super) fn xor_into(self, d: &mut [u8; 16]) {
            let data = u8x16(
                d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7],
                d[8], d[9], d[10], d[11], d[12], d[13], d[14], d[15],
            );
            let v = v128_xor(self.0, data);
            d[..8].copy_from_slice(&u64x2_extract_lane::<0>(v).to_le_bytes());
            d[8..].copy_from_slice(&u64x2_extract_lane::<1>(v).to_le_bytes());
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod lanes {
    #[derive(Clone, Copy)]
    pub(super) struct U32x4([u32; 4]);

    impl U32x4 {
        #[inline(always)]
        fn map(self, o: Self, f: impl Fn(u32, u32) -> u32) -> Self {
            Self([
                f(self.0[0], o.0[0]),
                f(self.0[1], o.0[1]),
                f(self.0[2], o.0[2]),
                f(self.0[3], o.0[3]),
            ])
        }

        pub(super) fn splat(v: u32) -> Self {
            Self([v; 4])
        }

        pub(super) fn new(a: u32, b: u32, c: u32, d: u32) -> Self {
            Self([a, b, c, d])
        }

        #[inline(always)]
        pub(super) fn add(self, o: Self) -> Self {
            self.map(o, u32::wrapping_add)
        }

        #[inline(always)]
        pub(super) fn xor(self, o: Self) -> Self {
            self.map(o, |a, b| a ^ b)
        }

        #[inline(always)]
        pub(super) fn rotl16(self) -> Self {
            self.map(self, |a, _| a.rotate_left(16))
        }

        #[inline(always)]
        pub(super) fn rotl8(self) -> Self {
            self.map(self, |a, _| a.rotate_left(8))
        }

        #[inline(always)]
        pub(super) fn rotl12(self) -> Self {
            self.map(self, |a, _| a.rotate_left(12))
        }

        #[inline(always)]
        pub(super) fn rotl7(self) -> Self {
            self.map(self, |a, _| a.rotate_left(7))
        }

        pub(super) fn transpose(a: Self, b: Self, c: Self, d: Self) -> [Self; 4] {
            core::array::from_fn(|i| Self([a.0[i], b.0[i], c.0[i], d.0[i]]))
        }

        pub(super) fn xor_into(self, d: &mut [u8; 16]) {
            for (w, c) in self.0.iter().zip(d.as_chunks_mut::<4>().0) {
                *c = (u32::from_le_bytes(*c) ^ w).to_le_bytes();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{SUNSCREEN, hex};

    fn words<const N: usize>(bytes: &[u8]) -> [u32; N] {
        let mut w = [0u32; N];
        for (w, c) in w.iter_mut().zip(bytes.chunks_exact(4)) {
            *w = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
        w
    }

    /// RFC 8439, 2.3.2: the block function.
    #[test]
    fn the_block_function_gives_rfc_8439s_test_vector() {
        let key: Vec<u8> = (0u8..32).collect();
        let nonce = hex("000000090000004a00000000");
        let out = one_block(&state(&words(&key), &words(&nonce), 1));
        let want = hex(
            "10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e
             d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e",
        );
        assert_eq!(out.to_vec(), want);
    }

    /// RFC 8439, 2.4.2: 114 bytes from block 1, so the four-block path is not taken; the
    /// property tests in lib.rs compare longer data with ring.
    #[test]
    fn encryption_gives_rfc_8439s_test_vector() {
        let key: Vec<u8> = (0u8..32).collect();
        let nonce = hex("000000000000004a00000000");
        let mut data = SUNSCREEN.to_vec();
        xor_key_stream(&words(&key), &words(&nonce), 1, &mut data);
        let want = hex(
            "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b
             f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8
             07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736
             5af90bbf74a35be6b40b8eedf2785e42874d",
        );
        assert_eq!(data, want);
    }

    /// The four-block path against four single blocks, at a counter that wraps within them
    /// (the caller never lets it, but each lane must still count on its own).
    #[test]
    fn four_blocks_at_once_are_the_four_blocks_one_by_one() {
        let key: [u32; 8] = core::array::from_fn(|i| 0x0101_0101 * i as u32 + 7);
        let nonce = [1, 2, 3];
        for counter in [0, 1, 0xffff_fffe] {
            let mut quad = [0u8; 4 * BLOCK];
            four_blocks(&state(&key, &nonce, counter), &mut quad);
            for b in 0..4u32 {
                let one = one_block(&state(&key, &nonce, counter.wrapping_add(b)));
                assert_eq!(
                    quad[b as usize * BLOCK..][..BLOCK],
                    one,
                    "block {b} from {counter}"
                );
            }
        }
    }
}
