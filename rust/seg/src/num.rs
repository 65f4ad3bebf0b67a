//! Decimal u64 values as incr/decr read and store them.

#[inline]
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Parse a counter value as memcached's safe_strtoull reads a stored one
/// (followed there by its CRLF): optional leading whitespace, an optional
/// sign, at least one digit, then the end, whitespace or a NUL (anything
/// after is ignored). A '-' is refused when the wrapped result looks
/// negative as an i64 ("-0" is 0). `None` when not a number (or beyond u64).
pub(crate) fn parse_u64(s: &[u8]) -> Option<u64> {
    let mut i = 0;
    while i < s.len() && is_space(s[i]) {
        i += 1;
    }
    let neg = i < s.len() && s[i] == b'-';
    if i < s.len() && (s[i] == b'-' || s[i] == b'+') {
        i += 1;
    }
    let start = i;
    let mut v: u64 = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        v = v.checked_mul(10)?.checked_add(u64::from(s[i] - b'0'))?;
        i += 1;
    }
    if i == start || (i < s.len() && s[i] != 0 && !is_space(s[i])) {
        return None;
    }
    if neg {
        v = v.wrapping_neg();
        if v > i64::MAX as u64 {
            return None;
        }
    }
    Some(v)
}

/// Format `v` in decimal into `buf`; returns the digits.
pub(crate) fn format_u64(v: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut n = v;
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_rules() {
        assert_eq!(parse_u64(b"0"), Some(0));
        assert_eq!(parse_u64(b"  42 \r\n"), Some(42));
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        // memcached's safe_strtoull: a sign, and anything after white space
        assert_eq!(parse_u64(b"+1"), Some(1));
        assert_eq!(parse_u64(b"-0"), Some(0));
        assert_eq!(parse_u64(b"1 2"), Some(1));
        assert_eq!(parse_u64(b"17\n77"), Some(17));
        assert_eq!(parse_u64(b"5\0x"), Some(5));
        for bad in [
            &b""[..],
            b" ",
            b"abc",
            b"12a",
            b"-1",
            b"+",
            b"18446744073709551616",
        ] {
            assert_eq!(parse_u64(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn format_exact_decimal() {
        let mut b = [0u8; 20];
        assert_eq!(format_u64(0, &mut b), b"0");
        assert_eq!(format_u64(9, &mut b), b"9");
        assert_eq!(format_u64(u64::MAX, &mut b), b"18446744073709551615");
    }
}
