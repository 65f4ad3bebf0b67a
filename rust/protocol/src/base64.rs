//! base64 for meta's binary keys (b flag), as c-core/src/protocol/base64.c.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Encode src into out (room for 4 * ceil(n / 3) bytes); returns the length.
pub fn encode(src: &[u8], out: &mut [u8]) -> usize {
    let mut o = 0;
    let mut chunks = src.chunks_exact(3);
    for c in &mut chunks {
        let v = u32::from(c[0]) << 16 | u32::from(c[1]) << 8 | u32::from(c[2]);
        out[o] = ALPHABET[(v >> 18) as usize];
        out[o + 1] = ALPHABET[((v >> 12) & 63) as usize];
        out[o + 2] = ALPHABET[((v >> 6) & 63) as usize];
        out[o + 3] = ALPHABET[(v & 63) as usize];
        o += 4;
    }
    match *chunks.remainder() {
        [a] => {
            let v = u32::from(a) << 16;
            out[o] = ALPHABET[(v >> 18) as usize];
            out[o + 1] = ALPHABET[((v >> 12) & 63) as usize];
            out[o + 2] = b'=';
            out[o + 3] = b'=';
            o += 4;
        }
        [a, b] => {
            let v = u32::from(a) << 16 | u32::from(b) << 8;
            out[o] = ALPHABET[(v >> 18) as usize];
            out[o + 1] = ALPHABET[((v >> 12) & 63) as usize];
            out[o + 2] = ALPHABET[((v >> 6) & 63) as usize];
            out[o + 3] = b'=';
            o += 4;
        }
        _ => {}
    }
    o
}

/// The 6-bit value of c, 0 for the pad character, None outside the
/// alphabet (skipped, as memcached's decoder does).
fn sextet(c: u8) -> Option<u32> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        b'=' => 0,
        _ => return None,
    } as u32)
}

/// Decode src into out; the length, 0 when it is not valid base64 or does
/// not fit.
pub fn decode(src: &[u8], out: &mut [u8]) -> usize {
    let valid = src.iter().filter(|&&c| sextet(c).is_some()).count();
    if valid == 0 || valid % 4 != 0 || valid / 4 * 3 > out.len() {
        return 0;
    }
    let (mut o, mut have, mut pad) = (0usize, 0usize, 0usize);
    let mut group = [0u32; 4];
    for &c in src {
        let Some(v) = sextet(c) else { continue };
        if c == b'=' {
            pad += 1;
        }
        group[have] = v;
        have += 1;
        if have < 4 {
            continue;
        }
        have = 0;
        let w = group[0] << 18 | group[1] << 12 | group[2] << 6 | group[3];
        out[o] = (w >> 16) as u8;
        out[o + 1] = (w >> 8) as u8;
        out[o + 2] = w as u8;
        o += 3;
        if pad > 0 {
            if pad > 2 {
                return 0;
            }
            o -= pad;
            break;
        }
    }
    o
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trips() {
        let mut enc = [0u8; 16];
        let mut dec = [0u8; 16];
        for src in [&b"a"[..], b"ab", b"abc", b"abcd"] {
            let n = super::encode(src, &mut enc);
            let m = super::decode(&enc[..n], &mut dec);
            assert_eq!(&dec[..m], src);
        }
        assert_eq!(super::decode(b"Zm9v", &mut dec), 3);
        assert_eq!(super::decode(b"Zm9", &mut dec), 0);
    }
}
