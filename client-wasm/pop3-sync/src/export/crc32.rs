//! CRC-32 as zip uses it (ISO-HDLC: polynomial 0xEDB88320 reflected, initial and final XOR
//! 0xFFFFFFFF), a byte at a time from a 1 KiB table built at compile time.
//!
//! Not the crc32fast crate: its slice-by-16 tables are 16 KiB of nearly random bytes, which
//! gzip cannot shrink, in the reading module that carries the archives, for a checksum that
//! only an export or an import computes. A byte at a time is slower (a few hundred MB/s in
//! wasm), which the export of a mailbox, read from the store at its own pace, does not notice.
//! The tests check it against crc32fast.

const TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        t[i] = c;
        i += 1;
    }
    t
};

/// A CRC-32 taken piece by piece.
#[derive(Debug, Clone)]
pub struct Crc32(u32);

impl Default for Crc32 {
    fn default() -> Self {
        Crc32(0xFFFF_FFFF)
    }
}

impl Crc32 {
    /// The next bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        let mut c = self.0;
        for &b in bytes {
            c = TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
        }
        self.0 = c;
    }

    /// The checksum of every byte given.
    pub fn finish(&self) -> u32 {
        !self.0
    }
}

/// The CRC-32 of `bytes`.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut c = Crc32::default();
    c.update(bytes);
    c.finish()
}
