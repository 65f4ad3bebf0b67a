//! Finding a byte in the short spans the protocol searches most (a line,
//! a key): eight bytes in a u64, two words per step, which beats a call
//! into the memchr crate for the 10-40 bytes of a typical request (glibc's
//! memchr is out of reach of safe Rust); long spans (a large multi-get's
//! line) still go to memchr. The end of a key (find_near) is searched one
//! word per step, inline: it is most often within the first two words.

const LOW: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;
/// Searched eight bytes at a time before memchr takes over.
const SHORT: usize = 64;

/// Bytes of `w` (little-endian) equal to `needle`, as their high bits; the
/// lowest set bit marks the first one (bits above it may be false).
#[inline]
fn matches(w: u64, needle: u8) -> u64 {
    let x = w ^ (LOW * u64::from(needle));
    x.wrapping_sub(LOW) & !x & HIGH
}

#[inline]
fn word(hay: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&hay[at..at + 8]);
    u64::from_le_bytes(b)
}

/// The index of the first `needle` in `hay`: the first 64 bytes sixteen
/// at a time (then one word, then the last eight bytes overlapping), the
/// rest (if any) through memchr.
#[inline]
pub fn find(hay: &[u8], needle: u8) -> Option<usize> {
    let n = hay.len();
    if n < 8 {
        return hay.iter().position(|&c| c == needle);
    }
    let head = n.min(SHORT);
    let mut at = 0;
    // two words per step: half the loop's own instructions
    while at + 16 <= head {
        let (m0, m1) = (
            matches(word(hay, at), needle),
            matches(word(hay, at + 8), needle),
        );
        if m0 | m1 != 0 {
            let first = if m0 != 0 {
                m0.trailing_zeros()
            } else {
                64 + m1.trailing_zeros()
            };
            return Some(at + (first / 8) as usize);
        }
        at += 16;
    }
    if at + 8 <= head {
        let m = matches(word(hay, at), needle);
        if m != 0 {
            return Some(at + (m.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    if head < n {
        return memchr::memchr(needle, &hay[at..]).map(|i| at + i);
    }
    if at == n {
        return None;
    }
    // the last eight bytes, without the ones already searched
    let m = matches(word(hay, n - 8), needle) & (u64::MAX << (8 * (8 - (n - at))));
    (m != 0).then(|| n - 8 + (m.trailing_zeros() / 8) as usize)
}

/// Bytes [`find_near`] searches a word at a time, inline.
const NEAR: usize = 32;

/// [`find`] for a needle most likely in the first few words (the space
/// after a key of a multi-get): one word per step, inline, so a 10-20
/// byte key costs no call and no second word per step; past NEAR bytes
/// (a long key) the rest goes to [`find`].
#[inline(always)]
pub fn find_near(hay: &[u8], needle: u8) -> Option<usize> {
    let head = hay.len().min(NEAR);
    let mut at = 0;
    while at + 8 <= head {
        let m = matches(word(hay, at), needle);
        if m != 0 {
            return Some(at + (m.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    if at == hay.len() {
        return None;
    }
    find(&hay[at..], needle).map(|i| at + i)
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_the_first_match_at_every_length_and_offset() {
        for n in 0..200 {
            for hit in 0..=n {
                let mut hay: Vec<u8> = (0..n).map(|i| b'a' + (i % 20) as u8).collect();
                if hit < n {
                    hay[hit] = b'\n';
                    if hit + 1 < n {
                        hay[hit + 1] = b'\n';
                    }
                }
                let want = hay.iter().position(|&c| c == b'\n');
                assert_eq!(super::find(&hay, b'\n'), want, "n {n} hit {hit}");
                assert_eq!(super::find_near(&hay, b'\n'), want, "near: n {n} hit {hit}");
            }
        }
        // a byte one above the needle must not fool the borrow trick
        assert_eq!(
            super::find(b"\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\n", b'\n'),
            Some(8)
        );
        assert_eq!(
            super::find(b"\x01\x00\x01\x00\x01\x00\x01\x00\x01", 0),
            Some(1)
        );
    }
}
