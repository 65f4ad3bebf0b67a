//! Key space: key `i` is the prefix followed by `i` in decimal, zero-padded so
//! that every key has exactly the configured length.

use crate::rng::{hash_bytes, mix64};

/// Longest key the memcached text protocol accepts.
pub const MAX_KEY_LEN: usize = 250;

#[derive(Debug, Clone)]
pub struct KeySpace {
    prefix: Vec<u8>,
    key_size: usize,
    count: u64,
    prefix_hash: u64,
}

fn decimal_digits(mut n: u64) -> usize {
    let mut d = 1;
    while n >= 10 {
        n /= 10;
        d += 1;
    }
    d
}

impl KeySpace {
    pub fn new(prefix: &str, key_size: usize, count: u64) -> Result<Self, String> {
        if count == 0 {
            return Err("key space must hold at least one key".into());
        }
        if let Some(c) = prefix.bytes().find(|b| !b.is_ascii_graphic()) {
            return Err(format!(
                "key prefix must be printable ASCII without spaces (found byte {c:#04x})"
            ));
        }
        if key_size > MAX_KEY_LEN {
            return Err(format!(
                "key size {key_size} exceeds the protocol limit of {MAX_KEY_LEN}"
            ));
        }
        let digits = decimal_digits(count - 1);
        if prefix.len() + digits > key_size {
            return Err(format!(
                "key size {key_size} is too small for prefix {prefix:?} ({} bytes) plus {digits} digits for {count} keys",
                prefix.len()
            ));
        }
        let mut seed = prefix.as_bytes().to_vec();
        seed.extend_from_slice(&(key_size as u64).to_le_bytes());
        Ok(KeySpace {
            prefix: prefix.as_bytes().to_vec(),
            key_size,
            count,
            prefix_hash: hash_bytes(&seed),
        })
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn key_size(&self) -> usize {
        self.key_size
    }

    /// Append key `idx` to `out`.
    pub fn write_key(&self, idx: u64, out: &mut Vec<u8>) {
        debug_assert!(idx < self.count);
        out.extend_from_slice(&self.prefix);
        let mut digits = [0u8; 20];
        let mut n = idx;
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let written = digits.len() - i;
        let pad = self.key_size - self.prefix.len() - written;
        out.extend(std::iter::repeat_n(b'0', pad));
        out.extend_from_slice(&digits[i..]);
    }

    pub fn key(&self, idx: u64) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.key_size);
        self.write_key(idx, &mut v);
        v
    }

    /// The index of a key of this space, or None for any other byte string.
    pub fn parse_key(&self, key: &[u8]) -> Option<u64> {
        if key.len() != self.key_size || !key.starts_with(&self.prefix) {
            return None;
        }
        let mut n: u64 = 0;
        for &b in &key[self.prefix.len()..] {
            if !b.is_ascii_digit() {
                return None;
            }
            n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
        }
        (n < self.count).then_some(n)
    }

    /// The hash that seeds the values of key `idx` (depends on prefix and size too).
    #[inline]
    pub fn hash(&self, idx: u64) -> u64 {
        mix64(self.prefix_hash ^ mix64(idx.wrapping_add(0x51_7cc1_b727_220a)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_padded_and_parse_back() {
        let ks = KeySpace::new("molt:", 16, 1000).unwrap();
        assert_eq!(ks.key(0), b"molt:00000000000");
        assert_eq!(ks.key(42), b"molt:00000000042");
        assert_eq!(ks.key(999), b"molt:00000000999");
        for i in [0, 1, 9, 10, 500, 999] {
            assert_eq!(ks.key(i).len(), 16);
            assert_eq!(ks.parse_key(&ks.key(i)), Some(i));
        }
        assert_eq!(ks.parse_key(b"molt:00000001000"), None); // out of range
        assert_eq!(ks.parse_key(b"molx:00000000001"), None);
        assert_eq!(ks.parse_key(b"molt:0000000001"), None);
        assert_eq!(ks.parse_key(b"molt:0000000000a"), None);
    }

    #[test]
    fn exact_fit_and_rejections() {
        let ks = KeySpace::new("k", 3, 100).unwrap();
        assert_eq!(ks.key(99), b"k99");
        assert!(KeySpace::new("k", 3, 101).is_err());
        assert!(KeySpace::new("a b", 10, 1).is_err());
        assert!(KeySpace::new("k", 251, 1).is_err());
        assert!(KeySpace::new("k", 10, 0).is_err());
    }

    #[test]
    fn hash_depends_on_prefix_and_index() {
        let a = KeySpace::new("a:", 10, 10).unwrap();
        let b = KeySpace::new("b:", 10, 10).unwrap();
        assert_ne!(a.hash(1), a.hash(2));
        assert_ne!(a.hash(1), b.hash(1));
        assert_eq!(a.hash(1), KeySpace::new("a:", 10, 99).unwrap().hash(1));
    }
}
