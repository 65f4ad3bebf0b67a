//! The in-segment item layout.
//!
//! An item is a variable-length header followed by the key and the value,
//! packed byte-aligned (no padding) into its segment:
//!
//! ```text
//! byte 0      control bits
//!             bit 0    client flags present (omitted when 0)
//!             bit 1    exptime present (4 bytes, omitted when 0 = never)
//!             bits 2-3 value-length width - 1 (1..=4 bytes)
//!             bits 4-5 cas encoding: 1/2 = 2/4-byte delta from the
//!                      segment's base cas, 3 = 8-byte absolute cas;
//!                      0 = a 2-byte delta whose flags (when present) are
//!                      1 byte, else they are 4
//!             bit 6    long access word (4 bytes, else 2)
//!             bit 7    dead (deleted, overwritten or moved)
//! byte 1      key length (1..=250)
//! bytes 2-3   access word, rewritten in place by reads; short (u16 LE):
//!             bits 0-12  last access, seconds after the segment's
//!                        `access_base` (its creation: a 2.3-hour window)
//!             bit 13     fetched (read at least once since stored)
//!             bit 14     stale (invalidated by a meta delete/store with I)
//!             bit 15     win handed out (meta W; later readers see Z)
//!   or 2-5    long (u32 LE), when the time is outside that window (an
//!             access word carried over from an older version): bits 0-28
//!             seconds after the engine's time base, the bits 29-31 as above
//! then        value length (LE, 1-4 bytes), cas (1-8 bytes),
//!             [flags u8 or u32 LE], [exptime u32 LE], key, value
//! ```
//!
//! Decoded, an access word is always the long form ([`Header::access`]).
//! A read whose time does not fit a short word's window copies the item
//! forward (the engine's `read_moved`), as a touch that outlives its
//! segment does.
//!
//! A 16-byte key, 100-byte value, no flags, no expiry and a cas within 65535
//! of its segment's base costs 2 + 2 + 1 + 2 = 7 header bytes: 123 bytes in
//! all (124 with client flags below 256, the common small ones).

/// The fewest bytes an item takes: the shortest header (short access word,
/// no flags, no exptime, 1-byte value length, 2-byte cas delta) and a
/// 1-byte key.
pub(crate) const MIN_ITEM: usize = 8;

/// Control bit: client flags follow the cas.
const F_FLAGS: u8 = 0x01;
/// Control bit: an absolute u32 exptime follows the flags.
const F_EXP: u8 = 0x02;
/// Control bit: the access word is the long (4-byte) form.
const F_LONG: u8 = 0x40;
/// Control bit: the item is dead (no hash slot points at it).
pub(crate) const F_DEAD: u8 = 0x80;

/// Offset of the access word in the header.
const ACCESS_AT: usize = 2;
/// A short access word's time field (seconds after its segment's base).
pub(crate) const SHORT_TIME: u32 = (1 << 13) - 1;
/// A short access word's bits (fetched, stale, won: the long form's, 16
/// places lower).
const SHORT_BITS: u32 = 0xe000;
/// Access word: the last-access time field (seconds after the time base).
pub(crate) const A_TIME: u32 = (1 << 29) - 1;
/// Access word: read at least once since stored.
pub(crate) const A_FETCHED: u32 = 1 << 29;
/// Access word: invalidated (stale) but still served.
pub(crate) const A_STALE: u32 = 1 << 30;
/// Access word: the one recache win of this version was handed out.
pub(crate) const A_WON: u32 = 1 << 31;

/// Decoded item header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub cas: u64,
    pub vlen: u32,
    pub flags: u32,
    /// Absolute unix seconds, 0 = never.
    pub exptime: u32,
    pub klen: u8,
    /// The access word, long form (A_* bits and the last-access time).
    pub access: u32,
    /// The access base of the segment it was read in (for rewriting the
    /// access word in place, see [`set_access`]).
    pub access_base: u32,
    /// Header bytes (before the key).
    pub hlen: u8,
    pub dead: bool,
    /// Whether an exptime field is present (it can be rewritten in place).
    pub has_exp: bool,
}

impl Header {
    /// Total bytes the item occupies in its segment.
    #[inline]
    pub fn total(&self) -> usize {
        self.hlen as usize + self.klen as usize + self.vlen as usize
    }

    /// Offset of the key from the item start.
    #[inline]
    pub fn key_at(&self) -> usize {
        self.hlen as usize
    }

    /// Offset of the value from the item start, and its length.
    #[inline]
    pub fn value_at(&self) -> (usize, usize) {
        (self.hlen as usize + self.klen as usize, self.vlen as usize)
    }

    /// Whether the item is live at `now` given the flush watermark.
    #[inline]
    pub fn live(&self, now: i64, flush_cas: u64) -> bool {
        self.cas >= flush_cas && (self.exptime == 0 || now < i64::from(self.exptime))
    }
}

#[inline]
fn vlen_width(vlen: usize) -> usize {
    if vlen < 1 << 8 {
        1
    } else if vlen < 1 << 16 {
        2
    } else if vlen < 1 << 24 {
        3
    } else {
        4
    }
}

/// (code, width) of the cas encoding relative to `base`. At least 2 bytes:
/// a 1-byte delta would save a byte on only the first 256 items of a
/// segment, and an in-place incr must keep the width while the cas grows.
/// (Code 0 is the 2-byte delta with 1-byte flags, see [`control`].)
#[inline]
fn cas_code(cas: u64, base: u64) -> (u8, usize) {
    match cas.checked_sub(base) {
        Some(d) if d < 1 << 16 => (1, 2),
        Some(d) if d < 1 << 32 => (2, 4),
        _ => (3, 8),
    }
}

#[inline]
const fn cas_width(code: u8) -> usize {
    match code {
        0 | 1 => 2,
        2 => 4,
        _ => 8,
    }
}

/// Where a segment's short access words count from, and the time they
/// can hold: an item's access word is short when its time is within
/// `base..=base + 8191` (see the module comment).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Bases {
    /// The segment's base cas.
    pub cas: u64,
    /// The segment's access base (an access-word time).
    pub access: u32,
}

/// Whether a (long form) access word fits the short form against `base`.
#[inline(always)]
pub(crate) fn access_fits(access: u32, base: u32) -> bool {
    (access & A_TIME).wrapping_sub(base) <= SHORT_TIME
}

/// The short form of `access` (which [`access_fits`] `base`).
#[inline(always)]
fn short_access(access: u32, base: u32) -> u32 {
    ((access & A_TIME) - base) | ((access >> 16) & SHORT_BITS)
}

/// The long form of a short access word.
#[inline(always)]
fn long_access(short: u32, base: u32) -> u32 {
    (base + (short & SHORT_TIME)) | ((short & SHORT_BITS) << 16)
}

/// The control byte of a header for an item with these fields and access
/// word in a segment with these bases: with [`LAYOUT`], where every field
/// goes (computed once per store, by the reservation of its room).
#[inline(always)]
pub(crate) fn header_control(
    vlen: usize,
    flags: u32,
    exptime: u32,
    cas: u64,
    access: u32,
    base: Bases,
) -> u8 {
    let long = !access_fits(access, base.access);
    control(
        long,
        vlen_width(vlen),
        cas_code(cas, base.cas).0,
        flags,
        exptime,
    )
}

/// Header bytes for an item with these fields and access word in a segment
/// with these bases.
#[inline]
pub(crate) fn header_len(
    vlen: usize,
    flags: u32,
    exptime: u32,
    cas: u64,
    access: u32,
    base: Bases,
) -> usize {
    header_len_from_ctrl(header_control(vlen, flags, exptime, cas, access, base))
}

/// Where a header's fields lie, by the low 7 bits of its control byte
/// (one aligned row per control byte).
#[derive(Clone, Copy)]
#[repr(C, align(16))]
struct Layout {
    vlen_at: u8,
    cas_at: u8,
    /// The client flags' offset (where the exptime or the key starts
    /// when there are none).
    flags_at: u8,
    hlen: u8,
    /// The exptime's offset (the header length when there is none).
    exp_at: u8,
    /// The client flags' bits in the 4 bytes at `flags_at`.
    flags_mask: u32,
}

const LAYOUT: [Layout; 128] = {
    let empty = Layout {
        vlen_at: 0,
        cas_at: 0,
        flags_at: 0,
        hlen: 0,
        exp_at: 0,
        flags_mask: 0,
    };
    let mut t = [empty; 128];
    let mut c = 0;
    while c < 128 {
        let vlen_at = ACCESS_AT + if c & F_LONG as usize != 0 { 4 } else { 2 };
        let cas_at = vlen_at + ((c >> 2) & 3) + 1;
        let cc = ((c >> 4) & 3) as u8;
        let flags_at = cas_at + cas_width(cc);
        let fw = (c & 1) * flags_width(cc);
        let exp_at = flags_at + fw;
        t[c] = Layout {
            vlen_at: vlen_at as u8,
            cas_at: cas_at as u8,
            flags_at: flags_at as u8,
            hlen: (exp_at + 4 * ((c >> 1) & 1)) as u8,
            exp_at: exp_at as u8,
            flags_mask: ((1u64 << (8 * fw)) - 1) as u32,
        };
        c += 1;
    }
    t
};

/// Header length from the first byte alone (for fast key comparison).
#[inline(always)]
pub(crate) fn header_len_from_ctrl(ctrl: u8) -> usize {
    LAYOUT[(ctrl & 0x7f) as usize].hlen as usize
}

/// Store the low `width` (1, 2, 3, 4 or 8) bytes of `v`, little endian, with
/// fixed-size writes (a variable-length copy would call memcpy).
#[inline(always)]
fn put_le(buf: &mut [u8], v: u64, width: usize) {
    match width {
        1 => buf[0] = v as u8,
        2 => buf[..2].copy_from_slice(&(v as u16).to_le_bytes()),
        3 => {
            buf[..2].copy_from_slice(&(v as u16).to_le_bytes());
            buf[2] = (v >> 16) as u8;
        }
        4 => buf[..4].copy_from_slice(&(v as u32).to_le_bytes()),
        _ => buf[..8].copy_from_slice(&v.to_le_bytes()),
    }
}

/// Load `width` (1, 2, 3, 4 or 8) bytes, little endian.
#[inline(always)]
fn get_le(buf: &[u8], width: usize) -> u64 {
    match width {
        1 => u64::from(buf[0]),
        2 => u64::from(u16::from_le_bytes([buf[0], buf[1]])),
        3 => u64::from(u16::from_le_bytes([buf[0], buf[1]])) | (u64::from(buf[2]) << 16),
        4 => u64::from(u32::from_le_bytes(buf[..4].try_into().expect("4 bytes"))),
        _ => u64::from_le_bytes(buf[..8].try_into().expect("8 bytes")),
    }
}

/// Bytes of the client flags (when present) of a header with cas code `cc`.
#[inline(always)]
const fn flags_width(cc: u8) -> usize {
    if cc == 0 {
        1
    } else {
        4
    }
}

/// Bytes the fixed-window header paths read or write at an item's start:
/// the longest header (26) rounded up so every field is one 8-byte load.
const WINDOW: usize = 32;

/// The value-length mask for a width code (bits 2-3 of the control byte).
const VLEN_MASK: [u64; 4] = [0xff, 0xffff, 0xff_ffff, 0xffff_ffff];
/// The cas mask for a cas code (bits 4-5 of the control byte).
const CAS_MASK: [u64; 4] = [0xffff, 0xffff, 0xffff_ffff, u64::MAX];

/// 8 bytes at `at` of a header window, little endian.
#[inline(always)]
fn load8(w: &[u8; WINDOW], at: usize) -> u64 {
    u64::from_le_bytes(w[at..at + 8].try_into().expect("8 bytes"))
}

/// The control byte of a header. Flags below 256 with a 2-byte cas delta
/// take cas code 0 and 1 byte rather than 4: clients mostly set small
/// flags, and a 100-byte item is then 2.4% smaller.
#[inline(always)]
fn control(long: bool, vw: usize, cc: u8, flags: u32, exptime: u32) -> u8 {
    // (flags 1..=255 in one compare)
    let cc = if cc == 1 && flags.wrapping_sub(1) < 0xff {
        0
    } else {
        cc
    };
    let mut ctrl = ((vw as u8 - 1) << 2) | (cc << 4) | if long { F_LONG } else { 0 };
    if flags != 0 {
        ctrl |= F_FLAGS;
    }
    if exptime != 0 {
        ctrl |= F_EXP;
    }
    ctrl
}

/// Write a header at the start of `buf`; returns its length. `klen` must be
/// 1..=250. Where `buf` has room past the header, fields are stored as whole
/// 8-byte words (their spill lands where the key goes next), so this is for
/// a new item only; in-place changes use the field writers below. (The
/// engine computes the control byte when it reserves the room, and calls
/// [`write_header_ctrl`].)
#[cfg(test)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_header(
    buf: &mut [u8],
    klen: usize,
    vlen: usize,
    flags: u32,
    exptime: u32,
    cas: u64,
    access: u32,
    base: Bases,
) -> usize {
    let ctrl = header_control(vlen, flags, exptime, cas, access, base);
    write_header_ctrl(buf, ctrl, klen, vlen, flags, exptime, cas, access, base)
}

/// [`write_header`] with its control byte already computed
/// ([`header_control`] of the same fields): the field offsets come from
/// [`LAYOUT`], nothing is worked out twice.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn write_header_ctrl(
    buf: &mut [u8],
    ctrl: u8,
    klen: usize,
    vlen: usize,
    flags: u32,
    exptime: u32,
    cas: u64,
    access: u32,
    base: Bases,
) -> usize {
    debug_assert!((1..=250).contains(&klen));
    debug_assert_eq!(
        ctrl,
        header_control(vlen, flags, exptime, cas, access, base)
    );
    let Some(w) = buf.first_chunk_mut::<WINDOW>() else {
        return write_header_exact(buf, klen, vlen, flags, exptime, cas, access, base);
    };
    let l = LAYOUT[(ctrl & 0x7f) as usize];
    let acc = if ctrl & F_LONG != 0 {
        access
    } else {
        short_access(access, base.access)
    };
    let casv = if (ctrl >> 4) & 3 == 3 {
        cas
    } else {
        cas - base.cas
    };
    let head = u64::from(ctrl) | (klen as u64) << 8 | u64::from(acc) << 16;
    w[..8].copy_from_slice(&head.to_le_bytes());
    let p = l.vlen_at as usize;
    w[p..p + 8].copy_from_slice(&(vlen as u64).to_le_bytes());
    let p = l.cas_at as usize;
    w[p..p + 8].copy_from_slice(&casv.to_le_bytes());
    // Flags then exptime (0 = none: written where the key goes next).
    let p = l.flags_at as usize;
    w[p..p + 8].copy_from_slice(&u64::from(flags).to_le_bytes());
    let p = l.exp_at as usize;
    w[p..p + 8].copy_from_slice(&u64::from(exptime).to_le_bytes());
    l.hlen as usize
}

/// [`write_header`] a field at a time, writing no byte past the header:
/// for an item in a segment's last bytes, and where the bytes after the
/// header still hold data (merge eviction sliding items down a segment).
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_header_exact(
    buf: &mut [u8],
    klen: usize,
    vlen: usize,
    flags: u32,
    exptime: u32,
    cas: u64,
    access: u32,
    base: Bases,
) -> usize {
    let vw = vlen_width(vlen);
    let (cc, cw) = cas_code(cas, base.cas);
    let short = access_fits(access, base.access);
    let ctrl = control(!short, vw, cc, flags, exptime);
    buf[0] = ctrl;
    buf[1] = klen as u8;
    let mut p = ACCESS_AT;
    if short {
        put_le(
            &mut buf[p..],
            u64::from(short_access(access, base.access)),
            2,
        );
        p += 2;
    } else {
        put_le(&mut buf[p..], u64::from(access), 4);
        p += 4;
    }
    put_le(&mut buf[p..], vlen as u64, vw);
    p += vw;
    let casv = if cc == 3 { cas } else { cas - base.cas };
    put_le(&mut buf[p..], casv, cw);
    p += cw;
    if flags != 0 {
        let fw = flags_width((ctrl >> 4) & 3);
        put_le(&mut buf[p..], u64::from(flags), fw);
        p += fw;
    }
    if exptime != 0 {
        buf[p..p + 4].copy_from_slice(&exptime.to_le_bytes());
        p += 4;
    }
    p
}

/// Decode the header at the start of `buf`. Items that do not end in the
/// last [`WINDOW`] bytes of a segment (nearly all) are decoded with whole
/// 8-byte loads and masks instead of a branch per field width.
#[inline]
pub(crate) fn read_header(buf: &[u8], base: Bases) -> Header {
    let Some(w) = buf.first_chunk::<WINDOW>() else {
        return read_header_bytewise(buf, base);
    };
    let ctrl = w[0];
    let vc = ((ctrl >> 2) & 3) as usize;
    let cc = ((ctrl >> 4) & 3) as usize;
    let l = LAYOUT[(ctrl & 0x7f) as usize];
    let word = (load8(w, 0) >> 16) as u32;
    let access = if ctrl & F_LONG != 0 {
        word
    } else {
        long_access(word, base.access)
    };
    let vlen = (load8(w, l.vlen_at as usize) & VLEN_MASK[vc]) as u32;
    let raw = load8(w, l.cas_at as usize) & CAS_MASK[cc];
    let cas = if cc == 3 { raw } else { base.cas + raw };
    let has_exp = ctrl & F_EXP != 0;
    let flags = load8(w, l.flags_at as usize) as u32 & l.flags_mask;
    let exp = load8(w, l.exp_at as usize) as u32;
    let exptime = if has_exp { exp } else { 0 };
    let p = l.hlen as usize;
    Header {
        klen: w[1],
        access,
        access_base: base.access,
        vlen,
        flags,
        exptime,
        cas,
        hlen: p as u8,
        dead: ctrl & F_DEAD != 0,
        has_exp,
    }
}

/// [`read_header`] a field at a time (an item in a segment's last bytes).
#[cold]
fn read_header_bytewise(buf: &[u8], base: Bases) -> Header {
    let ctrl = buf[0];
    let klen = buf[1];
    let vw = ((ctrl >> 2) & 3) as usize + 1;
    let mut p = ACCESS_AT;
    let access = if ctrl & F_LONG != 0 {
        p += 4;
        get_le(&buf[ACCESS_AT..], 4) as u32
    } else {
        p += 2;
        long_access(get_le(&buf[ACCESS_AT..], 2) as u32, base.access)
    };
    let vlen = get_le(&buf[p..], vw) as u32;
    p += vw;
    let cc = (ctrl >> 4) & 3;
    let cw = cas_width(cc);
    let raw = get_le(&buf[p..], cw);
    p += cw;
    let cas = if cc == 3 { raw } else { base.cas + raw };
    let mut flags = 0;
    if ctrl & F_FLAGS != 0 {
        let fw = flags_width(cc);
        flags = get_le(&buf[p..], fw) as u32;
        p += fw;
    }
    let mut exptime = 0;
    let has_exp = ctrl & F_EXP != 0;
    if has_exp {
        exptime = get_le(&buf[p..], 4) as u32;
        p += 4;
    }
    Header {
        klen,
        access,
        access_base: base.access,
        vlen,
        flags,
        exptime,
        cas,
        hlen: p as u8,
        dead: ctrl & F_DEAD != 0,
        has_exp,
    }
}

/// Copy `src` to the start of `dst` (which must be at least as long): a key
/// of up to 24 bytes with fixed-size, overlapping word copies instead of a
/// call to memcpy.
#[inline(always)]
pub(crate) fn copy_key(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    let dst = &mut dst[..n];
    if (8..=24).contains(&n) {
        dst[..8].copy_from_slice(&src[..8]);
        if n > 16 {
            dst[8..16].copy_from_slice(&src[8..16]);
        }
        dst[n - 8..].copy_from_slice(&src[n - 8..]);
    } else if (4..8).contains(&n) {
        dst[..4].copy_from_slice(&src[..4]);
        dst[n - 4..].copy_from_slice(&src[n - 4..]);
    } else {
        dst.copy_from_slice(src);
    }
}

/// Rewrite the exptime of an item whose header has an exptime field.
pub(crate) fn set_exptime(buf: &mut [u8], hdr: &Header, exptime: u32) {
    debug_assert!(hdr.has_exp && exptime != 0);
    let p = hdr.hlen as usize - 4;
    buf[p..p + 4].copy_from_slice(&exptime.to_le_bytes());
}

/// Give the item at the start of `buf` (header `hdr`, in a segment whose
/// base cas is `base`) a new cas in place. Only when the new cas takes the
/// same encoding as the old one (the header keeps its length); returns
/// whether it was written. Inlined: an in-place incr's call would spill
/// its registers around it.
#[inline(always)]
pub(crate) fn set_cas(buf: &mut [u8], hdr: &Header, cas: u64, base: u64) -> bool {
    let ctrl = buf[0];
    // Code 0 is code 1's 2-byte delta (with 1-byte flags).
    let old_code = ((ctrl >> 4) & 3).max(1);
    let (code, width) = cas_code(cas, base);
    if code != old_code {
        return false;
    }
    let p = LAYOUT[(ctrl & 0x7f) as usize].cas_at as usize;
    debug_assert!(p + width <= hdr.hlen as usize);
    put_le(
        &mut buf[p..],
        if code == 3 { cas } else { cas - base },
        width,
    );
    true
}

/// Rewrite the access word of the item at the start of `buf` (in a segment
/// whose access base is `base`). False, changing nothing, when the item's
/// access word is short and `access` does not fit it (see
/// [`access_fits_item`]).
#[inline(always)]
pub(crate) fn set_access(buf: &mut [u8], access: u32, base: u32) -> bool {
    if buf[0] & F_LONG != 0 {
        buf[ACCESS_AT..ACCESS_AT + 4].copy_from_slice(&access.to_le_bytes());
        return true;
    }
    if !access_fits(access, base) {
        return false;
    }
    let short = short_access(access, base) as u16;
    buf[ACCESS_AT..ACCESS_AT + 2].copy_from_slice(&short.to_le_bytes());
    true
}

/// [`set_access`] once [`access_fits_item`] has said yes (a caller that
/// checks every field before writing any tests it once).
#[inline(always)]
pub(crate) fn put_access(buf: &mut [u8], access: u32, base: u32) {
    if buf[0] & F_LONG != 0 {
        buf[ACCESS_AT..ACCESS_AT + 4].copy_from_slice(&access.to_le_bytes());
    } else {
        let short = short_access(access, base) as u16;
        buf[ACCESS_AT..ACCESS_AT + 2].copy_from_slice(&short.to_le_bytes());
    }
}

/// Whether [`set_access`] can write `access` into the item at the start of
/// `buf`.
#[inline]
pub(crate) fn access_fits_item(buf: &[u8], access: u32, base: u32) -> bool {
    buf[0] & F_LONG != 0 || access_fits(access, base)
}

/// Mark the item at the start of `buf` dead.
#[inline]
pub(crate) fn mark_dead(buf: &mut [u8]) {
    buf[0] |= F_DEAD;
}

/// Convert a caller exptime to the stored u32 form. `None` when the item
/// would already be expired at `now` (it must not be stored).
pub(crate) fn norm_exptime(exptime: i64, now: i64) -> Option<u32> {
    if exptime == 0 {
        return Some(0);
    }
    if now >= exptime {
        return None;
    }
    Some(if exptime < 1 {
        1 // only reachable with a negative clock
    } else if exptime > i64::from(u32::MAX) {
        u32::MAX
    } else {
        exptime as u32
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Bases = Bases {
        cas: 0,
        access: 5000,
    };

    #[test]
    fn roundtrip_all_encodings() {
        let mut buf = [0u8; 64];
        for &(vlen, flags, exp, cas, base_cas, access) in &[
            (0usize, 0u32, 0u32, 5u64, 5u64, 5000u32),
            (100, 0, 0, 300, 10, 5000 + 8191),
            (70_000, 7, 0, 1 << 20, 1, 4999),
            (1 << 24, u32::MAX, 1_800_000_000, 1 << 40, 1, 5000 + 8192),
            (5, 1, 9, 3, 10, 12345),      // cas below base: absolute
            (100, 255, 0, 300, 10, 5000), // 1-byte flags
            (100, 7, 1_800_000_000, 300, 10, 5000), // 1-byte flags, exptime
            (100, 256, 9, 300, 10, 5000), // flags past a byte: 4 bytes
            (100, 3, 9, 1 << 20, 10, 5000), // 4-byte cas delta: 4-byte flags
        ] {
            let base = Bases { cas: base_cas, ..B };
            let access = A_FETCHED | A_WON | access;
            let n = write_header(&mut buf, 14, vlen, flags, exp, cas, access, base);
            assert_eq!(n, header_len(vlen, flags, exp, cas, access, base));
            assert_eq!(n, header_len_from_ctrl(buf[0]));
            let h = read_header(&buf, base);
            assert_eq!(
                (
                    h.klen,
                    h.vlen as usize,
                    h.flags,
                    h.exptime,
                    h.cas,
                    h.hlen as usize,
                    h.dead,
                    h.access
                ),
                (14, vlen, flags, exp, cas, n, false, access)
            );
            // A short word takes a time within its window only.
            let long = !access_fits(access, base.access);
            assert_eq!(set_access(&mut buf, A_STALE | 7, base.access), long);
            assert!(set_access(&mut buf, A_STALE | 5001, base.access));
            assert_eq!(read_header(&buf, base).access, A_STALE | 5001);
            assert_eq!(read_header(&buf, base).cas, cas);
            let h = read_header(&buf, base);
            // A cas with the same encoding is rewritten in place, another is refused.
            let (code, _) = cas_code(cas, base_cas);
            assert_eq!(
                code,
                ((buf[0] >> 4) & 3).max(1),
                "code 0 is code 1 with 1-byte flags"
            );
            let same = if code == 3 { cas ^ (1 << 50) } else { cas + 1 };
            if cas_code(same, base_cas).0 == code {
                assert!(set_cas(&mut buf, &h, same, base_cas));
                assert_eq!(read_header(&buf, base), Header { cas: same, ..h });
            }
            if code != 3 {
                assert!(!set_cas(&mut buf, &h, base_cas + (1 << 40), base_cas));
            }
            mark_dead(&mut buf);
            assert!(read_header(&buf, base).dead);
        }
    }

    #[test]
    fn window_and_exact_paths_agree() {
        for &(vlen, flags, exp, cas, base_cas, access) in &[
            (0usize, 0u32, 0u32, 5u64, 5u64, 5000u32),
            (300, 9, 0, 70_000, 10, 1),
            (70_000, 0, 1_800_000_000, 1 << 20, 1, 6000),
            (1 << 24, u32::MAX, 7, 1 << 40, 1, A_TIME),
            (100, 200, 1_800_000_000, 300, 10, 5000),
            (100, 1, 0, 300, 10, 5000),
        ] {
            let base = Bases { cas: base_cas, ..B };
            let access = A_FETCHED | access;
            let (mut a, mut b) = ([0xaau8; 64], [0xaau8; 64]);
            let n = write_header(&mut a, 20, vlen, flags, exp, cas, access, base);
            let m = write_header_exact(&mut b, 20, vlen, flags, exp, cas, access, base);
            assert_eq!((n, &a[..n]), (m, &b[..m]));
            assert!(b[m..].iter().all(|&x| x == 0xaa), "exact writes no further");
            // A header in a segment's last bytes is read a field at a time.
            let tail = &b[..n + 1];
            assert_eq!(read_header(tail, base), read_header(&a, base));
            assert_eq!(read_header(&a, base).hlen as usize, n);
        }
    }

    #[test]
    fn copy_key_copies_every_length_exactly() {
        for n in 0..=40usize {
            let src: Vec<u8> = (1..=n as u8).collect();
            let mut dst = [0xeeu8; 48];
            copy_key(&mut dst, &src);
            assert_eq!(&dst[..n], &src[..], "n {n}");
            assert!(dst[n..].iter().all(|&b| b == 0xee), "n {n}: no byte past");
        }
    }

    #[test]
    fn the_smallest_item_is_min_item_bytes() {
        assert_eq!(
            header_len(0, 0, 0, 10, 5000, Bases { cas: 10, ..B }) + 1,
            MIN_ITEM
        );
    }

    #[test]
    fn typical_small_item_header_is_seven_bytes() {
        let base = Bases { cas: 10, ..B };
        assert_eq!(header_len(100, 0, 0, 1000, 5000 + 100, base), 7);
        assert_eq!(header_len(100, 0, 0, 10, A_FETCHED | 5000, base), 7);
        // An access time before the segment's base, or past its window.
        assert_eq!(header_len(100, 0, 0, 10, 4999, base), 9);
        assert_eq!(header_len(100, 0, 0, 10, 5000 + 8192, base), 9);
        // Client flags below 256 take one byte, larger ones four.
        assert_eq!(header_len(100, 255, 0, 1000, 5000, base), 8);
        assert_eq!(header_len(100, 256, 0, 1000, 5000, base), 11);
        assert_eq!(header_len(100, 255, 7, 1000, 5000, base), 12);
    }

    #[test]
    fn exptime_normalisation() {
        assert_eq!(norm_exptime(0, 100), Some(0));
        assert_eq!(norm_exptime(100, 100), None);
        assert_eq!(norm_exptime(99, 100), None);
        assert_eq!(norm_exptime(101, 100), Some(101));
        assert_eq!(norm_exptime(i64::MAX, 100), Some(u32::MAX));
        assert_eq!(norm_exptime(-5, -10), Some(1));
    }
}
