//! Meta command lines into meta requests (c-core/src/protocol/meta_parse.c).
//!
//! As memcached 1.6.18: the same tokenizer limits (flags counted with the
//! command, key and arguments, at most 20 tokens), one flag per first
//! character (a repeat is an error), and the same error strings in the same
//! precedence. Beyond 1.6.18 (later memcached versions have them): E on
//! every command, x on md.

use crate::base64;
use crate::num::{mc_i32, mc_u64};
use crate::parse::{tokenize, MSG_BAD_FORMAT, MSG_ERROR};
use storage::{StoreMode, KEY_MAX};

/// memcached's tokenizer keeps 23 tokens and counts a terminal one; meta
/// commands refuse more than 20 counted tokens.
const MC_MAX_TOKENS: usize = 24;
const MC_MAX_META_TOKENS: usize = 20;
/// Longest opaque token (O included), as memcached.
pub const OPAQUE_MAX: usize = 32;
/// The return flags a reply may echo: O k s t c f l h, each at most once.
pub const RET_MAX: usize = 8;

const ERR_BAD_TOKEN: &str = "CLIENT_ERROR bad token in command line format";
const ERR_OPAQUE: &str = "CLIENT_ERROR opaque token too long";
const ERR_FLAGS_TOO_LONG: &str = "CLIENT_ERROR options flags too long";

/// One parsed meta line. The key borrows the line, or the session's key
/// buffer when it was base64-decoded.
#[derive(Debug, Default)]
pub struct MetaRequest<'a> {
    /// g s d a n e (the second letter).
    pub cmd: u8,
    /// The reply line instead of running.
    pub err: Option<&'static str>,
    /// With err: data-block bytes to discard (ms).
    pub swallow: usize,
    /// ms: the value's bytes plus CRLF.
    pub data_len: usize,
    pub key: &'a [u8],
    pub key_binary: bool,
    pub value: bool,
    pub quiet: bool,
    pub no_update: bool,
    pub invalidate: bool,
    pub cas: Option<u64>,
    pub new_cas: Option<u64>,
    pub vivify: Option<i32>,
    pub touch: Option<i32>,
    pub recache: Option<i32>,
    pub clear_value: bool,
    /// M: the mode character (0: none).
    pub mode: u8,
    pub store_mode: Option<StoreMode>,
    pub incr: bool,
    pub client_flags: u32,
    pub delta: u64,
    pub initial: u64,
    /// The flags a reply echoes, in request order.
    pub ret: [u8; RET_MAX],
    pub nret: usize,
    /// The O token (O included); empty for none.
    pub opaque: &'a [u8],
}

/// A flag carrying a number (N T R): on even when the number is bad.
fn ttl_flag(t: &[u8], on: &mut Option<i32>, err: &mut &'static str, bad: &mut bool) {
    match mc_i32(&t[1..]) {
        Some(v) => *on = Some(v),
        None => {
            *on = Some(0);
            *err = ERR_BAD_TOKEN;
            *bad = true;
        }
    }
}

/// C and E: on only when the number is good.
fn cas_flag(t: &[u8], on: &mut Option<u64>, err: &mut &'static str, bad: &mut bool) {
    match mc_u64(&t[1..]) {
        Some(v) => *on = Some(v),
        None => {
            *err = ERR_BAD_TOKEN;
            *bad = true;
        }
    }
}

/// The flags of command `cmd`, as memcached's _meta_flag_preparse: an
/// unknown or repeated flag fails at once; other bad values are noted (the
/// last message wins) and parsing goes on.
fn parse_flags<'a>(
    m: &mut MetaRequest<'a>,
    key: &'a [u8],
    keybuf: &'a mut [u8; KEY_MAX],
    f: &[&'a [u8]],
    cmd: u8,
) -> Option<&'static str> {
    let mut seen = [false; 128];
    let mut err = MSG_BAD_FORMAT;
    let mut bad = false;
    m.delta = 1;
    m.key = key;
    let mut keybuf = Some(keybuf);
    let mut last_ttl_flag = 0u8; // b'N' or b'T', whichever came last
    for &t in f {
        let ch = t[0];
        if ch >= 127 || seen[ch as usize] {
            return Some("CLIENT_ERROR duplicate flag");
        }
        seen[ch as usize] = true;
        match ch {
            b'b' => {
                let buf = keybuf.take().expect("b is seen once");
                let n = base64::decode(key, &mut buf[..]);
                let buf: &'a [u8; KEY_MAX] = buf;
                if n == 0 {
                    err = "CLIENT_ERROR error decoding key";
                    bad = true;
                }
                m.key = &buf[..n];
                m.key_binary = true;
            }
            b'N' => {
                ttl_flag(t, &mut m.vivify, &mut err, &mut bad);
                last_ttl_flag = b'N';
            }
            b'T' => {
                ttl_flag(t, &mut m.touch, &mut err, &mut bad);
                last_ttl_flag = b'T';
            }
            b'R' => ttl_flag(t, &mut m.recache, &mut err, &mut bad),
            b'v' => m.value = true,
            b'u' => m.no_update = true,
            b'q' => m.quiet = true,
            b'I' => m.invalidate = true,
            // memcached's safe_strtoul: truncated to 32 bits; its failure
            // keeps whatever message an earlier flag set.
            b'F' => match mc_u64(&t[1..]) {
                Some(v) => m.client_flags = v as u32,
                None => bad = true,
            },
            b'C' => cas_flag(t, &mut m.cas, &mut err, &mut bad),
            b'E' => cas_flag(t, &mut m.new_cas, &mut err, &mut bad),
            b'M' => {
                if t.len() != 2 {
                    err = "CLIENT_ERROR incorrect length for M token";
                    bad = true;
                } else {
                    m.mode = t[1];
                }
            }
            b'J' => match mc_u64(&t[1..]) {
                Some(v) => m.initial = v,
                None => {
                    err = "CLIENT_ERROR invalid numeric initial value";
                    bad = true;
                }
            },
            b'D' => match mc_u64(&t[1..]) {
                Some(v) => m.delta = v,
                None => {
                    err = "CLIENT_ERROR invalid numeric delta value";
                    bad = true;
                }
            },
            b'x' => {
                if cmd != b'd' {
                    return Some("CLIENT_ERROR invalid flag");
                }
                m.clear_value = true;
            }
            b'O' => {
                m.opaque = t;
                m.ret[m.nret] = b'O';
                m.nret += 1;
            }
            // return flags: echoed in request order by the reply
            b'k' | b's' | b't' | b'c' | b'f' | b'l' | b'h' => {
                m.ret[m.nret] = ch;
                m.nret += 1;
            }
            // known, nothing to parse: reserved
            b'P' | b'L' => {}
            _ => return Some("CLIENT_ERROR invalid flag"),
        }
    }
    // memcached keeps one exptime for N and T: the later flag's TTL both
    // vivifies and touches (mg k N1000 T-1 creates an item that is already
    // expired).
    if let (Some(vivify), Some(touch)) = (m.vivify, m.touch) {
        let ttl = if last_ttl_flag == b'N' { vivify } else { touch };
        m.vivify = Some(ttl);
        m.touch = Some(ttl);
    }
    bad.then_some(err)
}

/// What every command but me checks first, in memcached's order: a key at
/// all, its length, then the token count.
fn check_tokens(t: &[&[u8]], ntok: usize, too_many: &'static str) -> Option<&'static str> {
    if ntok < 3 {
        Some(MSG_ERROR)
    } else if t[1].len() > KEY_MAX {
        Some(MSG_BAD_FORMAT)
    } else if ntok > MC_MAX_META_TOKENS {
        Some(too_many)
    } else {
        None
    }
}

fn opaque_err(m: &MetaRequest<'_>) -> Option<&'static str> {
    (m.opaque.len() > OPAQUE_MAX).then_some(ERR_OPAQUE)
}

fn parse_mg<'a>(
    m: &mut MetaRequest<'a>,
    t: &[&'a [u8]],
    ntok: usize,
    keybuf: &'a mut [u8; KEY_MAX],
) -> Option<&'static str> {
    if let Some(e) = check_tokens(t, ntok, "CLIENT_ERROR options flags are too long") {
        return Some(e);
    }
    parse_flags(m, t[1], keybuf, &t[2..ntok - 1], b'g').or_else(|| opaque_err(m))
}

/// ms: errors found before the length was read leave the data block to be
/// parsed as a command; later ones discard it.
fn parse_ms<'a>(
    m: &mut MetaRequest<'a>,
    t: &[&'a [u8]],
    ntok: usize,
    keybuf: &'a mut [u8; KEY_MAX],
) -> Option<&'static str> {
    if let Some(e) = check_tokens(t, ntok, ERR_FLAGS_TOO_LONG) {
        return Some(e);
    }
    // no length: as a key that is too long
    if ntok == 3 {
        return Some(MSG_BAD_FORMAT);
    }
    match mc_i32(t[2]) {
        Some(n) if (0..=i32::MAX - 2).contains(&n) => m.data_len = n as usize + 2,
        _ => return Some(MSG_BAD_FORMAT),
    }
    m.swallow = m.data_len;
    if let Some(e) = parse_flags(m, t[1], keybuf, &t[3..ntok - 1], b's') {
        return Some(e);
    }
    let mut err = opaque_err(m);
    m.store_mode = match m.mode {
        0 | b'S' => Some(StoreMode::Set),
        b'E' => Some(StoreMode::Add),
        b'A' => Some(StoreMode::Append),
        b'P' => Some(StoreMode::Prepend),
        b'R' => Some(StoreMode::Replace),
        _ => {
            err = Some("CLIENT_ERROR invalid mode for ms M token");
            None
        }
    };
    err
}

/// What md and ma check first.
fn parse_md_ma<'a>(
    m: &mut MetaRequest<'a>,
    t: &[&'a [u8]],
    ntok: usize,
    keybuf: &'a mut [u8; KEY_MAX],
    cmd: u8,
) -> Option<&'static str> {
    if let Some(e) = check_tokens(t, ntok, ERR_FLAGS_TOO_LONG) {
        return Some(e);
    }
    // md/ma answer one message for every flag problem
    parse_flags(m, t[1], keybuf, &t[2..ntok - 1], cmd)
        .map(|_| "CLIENT_ERROR invalid or duplicate flag")
}

fn parse_ma<'a>(
    m: &mut MetaRequest<'a>,
    t: &[&'a [u8]],
    ntok: usize,
    keybuf: &'a mut [u8; KEY_MAX],
) -> Option<&'static str> {
    if let Some(e) = parse_md_ma(m, t, ntok, keybuf, b'a') {
        return Some(e);
    }
    match m.mode {
        0 | b'I' | b'+' => m.incr = true,
        b'D' | b'-' => m.incr = false,
        _ => return Some("CLIENT_ERROR invalid mode for ma M token"),
    }
    opaque_err(m)
}

/// me <key> [b]: only a lone b right after the key decodes it.
fn parse_me<'a>(
    m: &mut MetaRequest<'a>,
    t: &[&'a [u8]],
    ntok: usize,
    keybuf: &'a mut [u8; KEY_MAX],
) -> Option<&'static str> {
    if ntok < 3 || t[1].len() > KEY_MAX {
        return Some(MSG_BAD_FORMAT);
    }
    m.key_binary = ntok >= 4 && t[2] == b"b";
    if m.key_binary {
        let n = base64::decode(t[1], &mut keybuf[..]);
        if n == 0 {
            return Some(MSG_BAD_FORMAT);
        }
        let keybuf: &'a [u8; KEY_MAX] = keybuf;
        m.key = &keybuf[..n];
    } else {
        m.key = t[1];
    }
    None
}

/// Parse one meta line (without its line ending; its command word is two
/// characters starting with 'm'); a base64 key decodes into `keybuf`.
pub fn meta_parse<'a>(line: &'a [u8], keybuf: &'a mut [u8; KEY_MAX]) -> MetaRequest<'a> {
    let mut t: [&[u8]; MC_MAX_TOKENS - 1] = [b""; MC_MAX_TOKENS - 1];
    let n = tokenize(line, &mut t);
    // memcached's count: the real tokens plus a terminal one
    let ntok = if n > MC_MAX_TOKENS - 1 {
        MC_MAX_TOKENS
    } else {
        n + 1
    };
    let mut m = MetaRequest {
        cmd: t[0][1],
        ..MetaRequest::default()
    };
    // the flags are the tokens between the arguments and the terminal one
    let t = &t[..];
    m.err = match m.cmd {
        b'g' => parse_mg(&mut m, t, ntok, keybuf),
        b's' => parse_ms(&mut m, t, ntok, keybuf),
        b'd' => parse_md_ma(&mut m, t, ntok, keybuf, b'd').or_else(|| opaque_err(&m)),
        b'a' => parse_ma(&mut m, t, ntok, keybuf),
        b'e' => parse_me(&mut m, t, ntok, keybuf),
        b'n' => None,
        _ => {
            m.cmd = 0;
            Some(MSG_ERROR)
        }
    };
    // only an error found after ms read its length discards the block
    if m.err.is_none() {
        m.swallow = 0;
    }
    m
}
