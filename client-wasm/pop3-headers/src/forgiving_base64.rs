//! Forgiving base64, the one decoder of the client's own for encoded words (RFC 2047) and for
//! message parts read piece by piece (`pop3-mime`'s outline): characters outside the alphabet
//! (line breaks, spaces, damage) are skipped, padding is optional and ends the data, and a
//! lone trailing sextet (no whole byte) is dropped.

/// Decodes piece by piece: however the input is cut, the output joined is the same.
#[derive(Debug, Clone, Default)]
pub struct Base64Decoder {
    acc: u32,
    bits: u8,
    done: bool,
}

impl Base64Decoder {
    /// Decodes the next piece into `out`.
    pub fn update(&mut self, input: &[u8], out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        for &b in input {
            let v = match b {
                b'A'..=b'Z' => b - b'A',
                b'a'..=b'z' => b - b'a' + 26,
                b'0'..=b'9' => b - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                b'=' => {
                    self.done = true;
                    return;
                }
                _ => continue,
            };
            self.acc = (self.acc << 6) | u32::from(v);
            self.bits += 6;
            if self.bits >= 8 {
                self.bits -= 8;
                out.push((self.acc >> self.bits) as u8);
                self.acc &= (1 << self.bits) - 1;
            }
        }
    }
}

/// `s` decoded in one piece.
pub fn decode_base64(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    Base64Decoder::default().update(s, &mut out);
    out
}
