//! Protocol numbers as memcached reads them (its safe_strto* helpers over a
//! token, on a 64-bit long), and decimal formatting without the fmt
//! machinery (c-core/src/util/numparse.c).

/// memcached's isspace: space and \t \n \v \f \r.
fn mc_space(c: u8) -> bool {
    c == b' ' || (b'\t'..=b'\r').contains(&c)
}

/// strtoul's scan in base 10: (negative, magnitude), or None on a
/// malformed token or a value over u64 (ERANGE). Leading white space, an
/// optional sign, at least one digit, then the end, white space or a NUL.
fn mc_scan(s: &[u8]) -> Option<(bool, u64)> {
    let mut i = 0;
    while i < s.len() && mc_space(s[i]) {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'-' || s[i] == b'+') {
        neg = s[i] == b'-';
        i += 1;
    }
    let first = i;
    let mut v: u64 = 0;
    while i < s.len() {
        let d = s[i].wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d))?;
        i += 1;
    }
    if i == first || (i < s.len() && s[i] != 0 && !mc_space(s[i])) {
        return None;
    }
    Some((neg, v))
}

/// Plain decimal digits (no sign, no white space), None on anything else
/// or past u64.
fn digits(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0u64, |v, &c| {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v.checked_mul(10)?.checked_add(u64::from(d))
    })
}

/// The common case, 1..9 plain digits: no sign, no overflow possible.
fn mc_short(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 9 {
        return None;
    }
    let mut v: u32 = 0;
    for &c in s {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v * 10 + u32::from(d);
    }
    Some(u64::from(v))
}

fn mc_number(s: &[u8]) -> Option<(bool, u64)> {
    match mc_short(s) {
        Some(v) => Some((false, v)),
        None => mc_scan(s),
    }
}

/// safe_strtoull: a negative value wraps, but a '-' whose result looks
/// negative as an i64 is refused ("-0" is 0, "-1" an error).
pub fn mc_u64(s: &[u8]) -> Option<u64> {
    let (neg, v) = mc_number(s)?;
    if !neg {
        return Some(v);
    }
    let w = 0u64.wrapping_sub(v);
    (w <= i64::MAX as u64).then_some(w)
}

/// safe_strtoul, truncated to 32 bits ("4294967297" is 1).
pub fn mc_u32(s: &[u8]) -> Option<u32> {
    mc_u64(s).map(|v| v as u32)
}

/// safe_strtol: a decimal that fits an i64, truncated to 32 bits.
pub fn mc_i32(s: &[u8]) -> Option<i32> {
    let (neg, v) = mc_number(s)?;
    if v > i64::MAX as u64 + u64::from(neg) {
        return None;
    }
    let bits = if neg { 0u64.wrapping_sub(v) } else { v };
    Some(bits as u32 as i32)
}

/// Plain digits that fit u32 (no sign, no white space).
pub fn plain_u32(s: &[u8]) -> Option<u32> {
    digits(s).and_then(|v| u32::try_from(v).ok())
}

/// "00" "01" ... "99": two digits per division.
const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// The two digits of v (below 100), "00" to "99".
#[inline]
pub fn digit_pair(v: usize) -> [u8; 2] {
    [PAIRS[v * 2], PAIRS[v * 2 + 1]]
}

/// 10, 100, ... 10^19: the smallest number of each decimal length above 1.
const POW10: [u64; 19] = {
    let mut p = [10u64; 19];
    let mut i = 1;
    while i < 19 {
        p[i] = p[i - 1] * 10;
        i += 1;
    }
    p
};

/// How many decimal digits v has: a scan from the short end, since the
/// numbers in replies (lengths, flags, counters) are mostly short.
#[inline]
pub fn decimal_len(v: u64) -> usize {
    1 + POW10.iter().take_while(|&&p| v >= p).count()
}

/// v in decimal, filling `out` exactly (`out.len()` is
/// [`decimal_len`]`(v)`): two digits per division, from the end.
#[inline]
pub fn write_digits(out: &mut [u8], mut v: u64) {
    let mut at = out.len();
    while at >= 2 {
        let pair = (v % 100) as usize * 2;
        v /= 100;
        at -= 2;
        out[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if at == 1 {
        out[0] = b'0' + (v % 10) as u8;
    }
}

/// v in decimal into `out` (at least 20 bytes); returns the length.
pub fn format_u64(out: &mut [u8], v: u64) -> usize {
    let n = decimal_len(v);
    write_digits(&mut out[..n], v);
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_numbers_as_memcached() {
        assert_eq!(mc_u64(b"-0"), Some(0));
        assert_eq!(mc_u64(b"-1"), None);
        assert_eq!(mc_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(mc_u64(b"18446744073709551616"), None);
        assert_eq!(mc_u64(b" 12"), Some(12));
        assert_eq!(mc_u64(b"12x"), None);
        assert_eq!(mc_u64(b"12\0x"), Some(12));
        assert_eq!(mc_u64(b""), None);
        assert_eq!(mc_u64(b"+"), None);
        assert_eq!(mc_u32(b"4294967297"), Some(1));
        assert_eq!(mc_i32(b"-1"), Some(-1));
        assert_eq!(mc_i32(b"4294967295"), Some(-1));
        assert_eq!(mc_i32(b"9223372036854775808"), None);
        assert_eq!(mc_i32(b"-9223372036854775808"), Some(0));
        assert_eq!(plain_u32(b"+1"), None);
        assert_eq!(plain_u32(b"4294967296"), None);
    }

    #[test]
    fn formats_decimals() {
        let mut b = [0u8; 20];
        for v in [
            0u64,
            9,
            10,
            99,
            100,
            101,
            999,
            1000,
            12345,
            123456,
            9_999_999_999_999_999_999,
            10_000_000_000_000_000_000,
            u64::MAX,
        ] {
            let n = format_u64(&mut b, v);
            assert_eq!(&b[..n], v.to_string().as_bytes());
        }
    }
}
