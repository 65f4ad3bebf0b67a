//! Decimal u64 values as incr/decr read and store them.

#[inline]
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Digits a u64 takes without overflow checks.
const SAFE_DIGITS: usize = 19;

/// Parse a counter value as memcached's safe_strtoull reads a stored one
/// (followed there by its CRLF): optional leading whitespace, an optional
/// sign, at least one digit, then the end, whitespace or a NUL (anything
/// after is ignored). A '-' is refused when the wrapped result looks
/// negative as an i64 ("-0" is 0). `None` when not a number (or beyond u64).
///
/// What incr leaves behind (digits, maybe padded with spaces) is read
/// first, without an overflow check per digit; anything else (white space
/// first, a sign, 20 digits, another terminator) takes the general scan.
#[inline(always)]
pub(crate) fn parse_u64(s: &[u8]) -> Option<u64> {
    let n = s.len().min(SAFE_DIGITS);
    let mut v: u64 = 0;
    let mut i = 0;
    while i < n {
        let d = s[i].wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        v = v * 10 + u64::from(d);
        i += 1;
    }
    if i > 0 && (i == s.len() || s[i] == b' ') {
        return Some(v);
    }
    parse_u64_general(s)
}

/// [`parse_u64`] for every form it accepts (out of line: rare).
#[cold]
#[inline(never)]
fn parse_u64_general(s: &[u8]) -> Option<u64> {
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

/// 10^i for i in 1..=19 (`POW10[i - 1]`).
const POW10: [u64; 19] = {
    let mut t = [0u64; 19];
    let mut p = 10u64;
    let mut i = 0;
    while i < 19 {
        t[i] = p;
        p = p.wrapping_mul(10);
        i += 1;
    }
    t
};

/// How many decimal digits `v` is written with (1 for 0). A compare per
/// digit: a counter's few digits cost less than `ilog10`'s fixed ~25
/// instructions.
#[inline(always)]
pub(crate) fn digit_count(v: u64) -> usize {
    let mut n = 1;
    while n < 20 && v >= POW10[n - 1] {
        n += 1;
    }
    n
}

/// Write `v`'s last `out.len()` decimal digits into `out` (all of them
/// when `out.len()` is [`digit_count`]`(v)`): straight into an item's
/// value, no intermediate buffer.
#[inline(always)]
pub(crate) fn write_digits(v: u64, out: &mut [u8]) {
    let mut n = v;
    for d in out.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// Write `v`'s `n` digits (`n` = [`digit_count`]`(v)`, at most
/// `field.len()`) at the start of `field`, the rest of it spaces
/// (memcached's in-place incr: "10" decremented reads "9 ").
#[inline(always)]
pub(crate) fn write_padded(v: u64, n: usize, field: &mut [u8]) {
    let (digits, pad) = field.split_at_mut(n);
    write_digits(v, digits);
    // Nearly always empty: a counter mostly keeps its width.
    for b in pad {
        *b = b' ';
    }
}

/// Format `v` in decimal into `buf`; returns the digits.
pub(crate) fn format_u64(v: u64, buf: &mut [u8; 20]) -> &[u8] {
    let n = digit_count(v);
    let out = &mut buf[..n];
    write_digits(v, out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_rules() {
        assert_eq!(parse_u64(b"0"), Some(0));
        assert_eq!(parse_u64(b"  42 \r\n"), Some(42));
        assert_eq!(parse_u64(b"\t\r\n 7"), Some(7), "leading white space");
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(
            parse_u64(b"9999999999999999999"),
            Some(9_999_999_999_999_999_999)
        );
        assert_eq!(parse_u64(b"00000000000000000000042"), Some(42));
        // memcached's safe_strtoull: a sign, and anything after white space
        assert_eq!(parse_u64(b"+1"), Some(1));
        assert_eq!(parse_u64(b"-0"), Some(0));
        assert_eq!(parse_u64(b"1 2"), Some(1));
        assert_eq!(parse_u64(b"17\n77"), Some(17));
        assert_eq!(parse_u64(b"5\0x"), Some(5));
        // what an in-place decr leaves: trailing spaces
        assert_eq!(parse_u64(b"9 "), Some(9));
        assert_eq!(parse_u64(b"1   "), Some(1));
        assert_eq!(parse_u64(b"99                  "), Some(99));
        for bad in [
            &b""[..],
            b" ",
            b"abc",
            b"12a",
            b"-1",
            b"+",
            b" 9x",
            b"18446744073709551616",
            b"99999999999999999999",
            b"1844674407370955161500",
        ] {
            assert_eq!(parse_u64(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn every_width_reads_as_the_general_scan_does() {
        let mut v: u64 = 0;
        for _ in 0..20 {
            for x in [v, v.saturating_add(1), v.saturating_mul(9)] {
                let s = x.to_string();
                assert_eq!(parse_u64(s.as_bytes()), Some(x), "{s}");
                assert_eq!(parse_u64_general(s.as_bytes()), Some(x), "{s}");
                let padded = format!("{s}   ");
                assert_eq!(parse_u64(padded.as_bytes()), Some(x), "{padded:?}");
            }
            v = v * 10 + 9;
        }
    }

    #[test]
    fn format_exact_decimal() {
        let mut b = [0u8; 20];
        assert_eq!(format_u64(0, &mut b), b"0");
        assert_eq!(format_u64(9, &mut b), b"9");
        assert_eq!(format_u64(10, &mut b), b"10");
        assert_eq!(format_u64(u64::MAX, &mut b), b"18446744073709551615");
        for x in [1, 99, 100, 12_345, 10u64.pow(19), 10u64.pow(19) - 1] {
            assert_eq!(format_u64(x, &mut b), x.to_string().as_bytes());
            assert_eq!(digit_count(x), x.to_string().len());
        }
    }

    #[test]
    fn digit_counts_at_every_power_of_ten() {
        let mut p: u64 = 1;
        for digits in 1..=20 {
            assert_eq!(digit_count(p), digits, "{p}");
            assert_eq!(digit_count(p - 1), (digits - 1).max(1), "{}", p - 1);
            p = p.saturating_mul(10);
        }
        assert_eq!(digit_count(u64::MAX), 20);
    }

    #[test]
    fn padded_writes_keep_the_field_width() {
        let padded = |v: u64, width: usize| {
            let mut f = vec![b'x'; width];
            write_padded(v, digit_count(v), &mut f);
            f
        };
        assert_eq!(padded(99, 3), b"99 ", "100 -> 99: padded to the old width");
        assert_eq!(padded(100, 3), b"100");
        assert_eq!(padded(0, 3), b"0  ");
        assert_eq!(padded(u64::MAX, 20), b"18446744073709551615");
        assert_eq!(
            padded(u64::MAX.wrapping_add(2), 20),
            b"1                   ",
            "wrapped past u64::MAX"
        );
    }
}
