//! A reply line composed in place: the session's scratch buffer, reused by
//! every request (no allocation, no zeroing per request).

use crate::num::{decimal_len, digit_pair, write_digits};

/// Room for the longest line composed here: a meta reply ("VA <u32>",
/// every return flag with a 20-digit number, a 250-byte key base64-encoded,
/// a 32-byte opaque) or a metadump line (a key percent-encoded).
pub const LINE_MAX: usize = 1024;

pub struct Line {
    buf: [u8; LINE_MAX],
    len: usize,
}

impl Line {
    pub fn new() -> Line {
        Line {
            buf: [0; LINE_MAX],
            len: 0,
        }
    }

    #[inline]
    pub fn clear(&mut self) -> &mut Line {
        self.len = 0;
        self
    }

    #[inline]
    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    #[inline]
    pub fn push(&mut self, s: &[u8]) -> &mut Line {
        self.buf[self.len..self.len + s.len()].copy_from_slice(s);
        self.len += s.len();
        self
    }

    #[inline]
    pub fn byte(&mut self, c: u8) -> &mut Line {
        self.buf[self.len] = c;
        self.len += 1;
        self
    }

    /// v in decimal, written straight into the line (no scratch digits,
    /// no copy): two digits per division, from the last one back. Always
    /// inline, the long form out of line: a get's value header writes two
    /// short numbers per key, and as calls their prologues cost about as
    /// much as the digits.
    #[inline(always)]
    pub fn u64(&mut self, v: u64) -> &mut Line {
        if v < 10 {
            return self.byte(b'0' + v as u8);
        }
        if v < 1000 {
            return self.short(v as usize);
        }
        self.long(v)
    }

    /// [`Line::u64`] of 1000 and above (cas values, large lengths).
    #[inline(never)]
    fn long(&mut self, v: u64) -> &mut Line {
        let n = decimal_len(v);
        let end = self.len + n;
        write_digits(&mut self.buf[self.len..end], v);
        self.len = end;
        self
    }

    /// 10..=999, the flags and lengths most replies carry: straight from
    /// the digit-pair table, without counting digits or looping.
    #[inline(always)]
    fn short(&mut self, v: usize) -> &mut Line {
        let at = self.len;
        if v < 100 {
            self.buf[at..at + 2].copy_from_slice(&digit_pair(v));
            self.len = at + 2;
        } else {
            let out = &mut self.buf[at..at + 3];
            out[0] = b'0' + (v / 100) as u8;
            out[1..].copy_from_slice(&digit_pair(v % 100));
            self.len = at + 3;
        }
        self
    }

    #[inline]
    pub fn i64(&mut self, v: i64) -> &mut Line {
        if v < 0 {
            self.byte(b'-');
        }
        self.u64(v.unsigned_abs())
    }

    /// The free room after the line, for encoders that write in place.
    #[inline]
    pub fn spare(&mut self) -> &mut [u8] {
        &mut self.buf[self.len..]
    }

    /// Count n bytes written into [`Line::spare`].
    #[inline]
    pub fn advance(&mut self, n: usize) {
        self.len += n;
    }

    #[inline]
    pub fn crlf(&mut self) -> &mut Line {
        self.push(b"\r\n")
    }
}

#[cfg(test)]
mod tests {
    use super::Line;

    #[test]
    fn writes_numbers_in_decimal_at_every_length() {
        let mut line = Line::new();
        for v in [
            0u64,
            7,
            9,
            10,
            42,
            99,
            100,
            101,
            555,
            999,
            1000,
            65535,
            4_294_967_295,
            u64::MAX,
        ] {
            line.clear().push(b"x").u64(v).byte(b'y');
            assert_eq!(line.bytes(), format!("x{v}y").as_bytes());
        }
        line.clear().i64(-120).byte(b' ').i64(i64::MIN);
        assert_eq!(line.bytes(), format!("-120 {}", i64::MIN).as_bytes());
    }
}
