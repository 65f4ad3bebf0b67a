//! Deterministic values, so that every `get` reply can be checked.
//!
//! A value is a function of (key hash `h`, version `v`), `v` in `0..VERSIONS`:
//! - its length is the fixed size, or `min + mix(h, v) % (max - min + 1)`;
//! - byte 0 encodes the version: `ALPHABET[(h + v) % 64]`;
//! - bytes 1.. are a position-dependent stream from a splitmix64 counter
//!   seeded by (h, v), 6 bits per byte mapped onto the same alphabet;
//! - the item's flags are set to `v`.
//!
//! A returned value is therefore decoded (version from byte 0), then compared
//! byte for byte, its length and flags included, to the one value that
//! version would have: whatever any connection of any run with the same key
//! and value settings stored for that key matches, and anything else is wrong.

use crate::rng::{mix64, GOLDEN};

/// Number of distinct versions a key's value can take.
pub const VERSIONS: u32 = 64;

/// Largest value size accepted on the command line.
pub const MAX_VALUE_SIZE: usize = 128 << 20;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const fn decode_table() -> [u8; 256] {
    let mut t = [0xFFu8; 256];
    let mut i = 0;
    while i < 64 {
        t[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    t
}
const DECODE: [u8; 256] = decode_table();

/// Why a value did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mismatch {
    /// First byte is not a version marker of this generator.
    BadMarker,
    Flags,
    Length,
    Bytes,
}

impl Mismatch {
    pub fn as_str(self) -> &'static str {
        match self {
            Mismatch::BadMarker => "first byte is not a version marker",
            Mismatch::Flags => "flags do not match the value's version",
            Mismatch::Length => "length does not match the value's version",
            Mismatch::Bytes => "bytes differ from the generated value",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ValueSize {
    pub min: usize,
    pub max: usize,
}

impl ValueSize {
    /// Parses `N` or `MIN-MAX` (bytes).
    pub fn parse(s: &str) -> Result<Self, String> {
        let num = |t: &str| {
            t.trim()
                .parse::<usize>()
                .map_err(|_| format!("invalid value size {t:?}: expected N or MIN-MAX"))
        };
        let (min, max) = match s.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => {
                let n = num(s)?;
                (n, n)
            }
        };
        if min > max {
            return Err(format!("value size range {min}-{max} is empty"));
        }
        if max > MAX_VALUE_SIZE {
            return Err(format!("value size {max} exceeds {MAX_VALUE_SIZE}"));
        }
        Ok(ValueSize { min, max })
    }

    pub fn is_fixed(&self) -> bool {
        self.min == self.max
    }
}

impl std::fmt::Display for ValueSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_fixed() {
            write!(f, "{}", self.min)
        } else {
            write!(f, "{}-{}", self.min, self.max)
        }
    }
}

#[inline]
fn seed(h: u64, v: u32) -> u64 {
    mix64(h ^ u64::from(v + 1).wrapping_mul(0xD6E8_FEB8_6659_FD93))
}

#[inline]
fn word(seed: u64, block: usize) -> u64 {
    mix64(seed.wrapping_add((block as u64 + 1).wrapping_mul(GOLDEN)))
}

#[inline]
fn marker(h: u64, v: u32) -> u8 {
    ALPHABET[((h as u32).wrapping_add(v) & 63) as usize]
}

impl ValueSize {
    /// Length of the value of version `v` for key hash `h`.
    #[inline]
    pub fn len_for(&self, h: u64, v: u32) -> usize {
        if self.is_fixed() {
            self.min
        } else {
            let span = (self.max - self.min) as u64 + 1;
            self.min + (mix64(h.rotate_left(17) ^ u64::from(v)) % span) as usize
        }
    }

    /// Appends the value of version `v` for key hash `h` to `out`.
    pub fn write_value(&self, h: u64, v: u32, out: &mut Vec<u8>) {
        debug_assert!(v < VERSIONS);
        let len = self.len_for(h, v);
        if len == 0 {
            return;
        }
        out.reserve(len);
        out.push(marker(h, v));
        let s = seed(h, v);
        let body = len - 1;
        let mut block = 0;
        let mut done = 0;
        while done < body {
            let w = word(s, block);
            let n = (body - done).min(8);
            for j in 0..n {
                out.push(ALPHABET[((w >> (8 * j)) & 63) as usize]);
            }
            done += n;
            block += 1;
        }
    }

    /// Checks a returned value (with its flags) for key hash `h`.
    pub fn verify(&self, h: u64, flags: u32, data: &[u8]) -> Result<(), Mismatch> {
        let Some(&first) = data.first() else {
            // An empty value is right if some version has length 0 and these flags.
            return if flags < VERSIONS && self.len_for(h, flags) == 0 {
                Ok(())
            } else if (0..VERSIONS).any(|v| self.len_for(h, v) == 0) {
                Err(Mismatch::Flags)
            } else {
                Err(Mismatch::Length)
            };
        };
        let pos = DECODE[first as usize];
        if pos == 0xFF {
            return Err(Mismatch::BadMarker);
        }
        let v = u32::from(pos).wrapping_sub(h as u32) & 63;
        if flags != v {
            return Err(Mismatch::Flags);
        }
        if self.len_for(h, v) != data.len() {
            return Err(Mismatch::Length);
        }
        let s = seed(h, v);
        for (block, chunk) in data[1..].chunks(8).enumerate() {
            let w = word(s, block);
            for (j, &b) in chunk.iter().enumerate() {
                if b != ALPHABET[((w >> (8 * j)) & 63) as usize] {
                    return Err(Mismatch::Bytes);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn val(vs: &ValueSize, h: u64, v: u32) -> Vec<u8> {
        let mut out = Vec::new();
        vs.write_value(h, v, &mut out);
        out
    }

    #[test]
    fn parse_sizes() {
        assert_eq!(
            ValueSize::parse("100").unwrap(),
            ValueSize { min: 100, max: 100 }
        );
        assert_eq!(
            ValueSize::parse("64-1024").unwrap(),
            ValueSize { min: 64, max: 1024 }
        );
        assert_eq!(ValueSize::parse("0").unwrap(), ValueSize { min: 0, max: 0 });
        assert!(ValueSize::parse("10-5").is_err());
        assert!(ValueSize::parse("x").is_err());
        assert!(ValueSize::parse("1-").is_err());
        assert!(ValueSize::parse("999999999999").is_err());
        assert_eq!(ValueSize::parse("64-1024").unwrap().to_string(), "64-1024");
    }

    #[test]
    fn generated_values_verify_and_are_deterministic() {
        for vs in [
            ValueSize::parse("1").unwrap(),
            ValueSize::parse("100").unwrap(),
            ValueSize::parse("1-9").unwrap(),
            ValueSize::parse("64-1024").unwrap(),
        ] {
            for h in [0u64, 1, 0xdead_beef, u64::MAX] {
                for v in 0..VERSIONS {
                    let a = val(&vs, h, v);
                    assert_eq!(a, val(&vs, h, v));
                    assert_eq!(a.len(), vs.len_for(h, v));
                    assert!(a.len() >= vs.min && a.len() <= vs.max);
                    assert_eq!(vs.verify(h, v, &a), Ok(()), "{vs} h={h} v={v}");
                }
            }
        }
    }

    #[test]
    fn range_lengths_vary() {
        let vs = ValueSize::parse("64-1024").unwrap();
        let lens: std::collections::HashSet<usize> =
            (0..VERSIONS).map(|v| vs.len_for(12345, v)).collect();
        assert!(lens.len() > 30);
    }

    #[test]
    fn corruption_is_detected() {
        let vs = ValueSize::parse("100").unwrap();
        let h = 77;
        let good = val(&vs, h, 5);
        // wrong flags
        assert_eq!(vs.verify(h, 6, &good), Err(Mismatch::Flags));
        // every single-byte flip is caught
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x01;
            assert!(vs.verify(h, 5, &bad).is_err(), "flip at {i}");
        }
        // truncation / extension
        assert!(vs.verify(h, 5, &good[..99]).is_err());
        let mut longer = good.clone();
        longer.push(b'A');
        assert!(vs.verify(h, 5, &longer).is_err());
        // another key's value
        let other = val(&vs, h + 1, 5);
        assert!(vs.verify(h, 5, &other).is_err());
        // a value of the same key but another size setting
        let other_size = val(&ValueSize::parse("101").unwrap(), h, 5);
        assert_eq!(vs.verify(h, 5, &other_size), Err(Mismatch::Length));
        // garbage marker
        assert_eq!(vs.verify(h, 5, b"\0abc"), Err(Mismatch::BadMarker));
        // chunk swap (position dependence)
        let mut swapped = good.clone();
        let (a, b) = swapped[1..17].split_at_mut(8);
        a.swap_with_slice(b);
        assert_eq!(vs.verify(h, 5, &swapped), Err(Mismatch::Bytes));
    }

    #[test]
    fn empty_values() {
        let zero = ValueSize::parse("0").unwrap();
        assert!(val(&zero, 9, 3).is_empty());
        assert_eq!(zero.verify(9, 3, b""), Ok(()));
        assert_eq!(zero.verify(9, 64, b""), Err(Mismatch::Flags));
        let hundred = ValueSize::parse("100").unwrap();
        assert_eq!(hundred.verify(9, 3, b""), Err(Mismatch::Length));
        assert!(zero.verify(9, 3, b"A").is_err());
    }
}
