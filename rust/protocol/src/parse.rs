//! Classic command lines into requests (c-core/src/protocol/parse.c). The
//! token-count rules follow memcached's dispatcher: a wrong count is ERROR,
//! answered even under noreply; every later error is suppressed by a
//! trailing noreply. Parsing reads only the line: no storage, no clock.

use crate::num::{mc_i32, mc_u32, mc_u64, plain_u32};
use storage::{StoreCommand, KEY_MAX};

/// memcached's read buffer: a longer line, complete when first seen, is one
/// memcached never saw whole (see session.rs).
pub const MC_READ_BUFFER: usize = 16384;

const MAX_TOKENS: usize = 8;
const RELATIVE_EXPTIME_MAX: i64 = 60 * 60 * 24 * 30;

pub const MSG_ERROR: &str = "ERROR";
pub const MSG_BAD_FORMAT: &str = "CLIENT_ERROR bad command line format";
const MSG_BAD_EXPTIME: &str = "CLIENT_ERROR invalid exptime argument";
const MSG_BADCLASS: &str = "BADCLASS invalid class id";
/// memcached's class ids for metadump: 1..63.
const DUMP_CLASSES: u32 = 64;

/// memcached's exptime rules -> an absolute exptime (0 = never).
pub fn absolute_exptime(exptime: i64, now: i64) -> i64 {
    if exptime == 0 {
        0
    } else if exptime < 0 {
        now
    } else if exptime <= RELATIVE_EXPTIME_MAX {
        now + exptime
    } else {
        exptime.max(now)
    }
}

/// Split on spaces, skipping empty tokens, into `t`; the count, or
/// `t.len() + 1` when there are more. Byte by byte, as the C tokenizer:
/// most tokens (command words, flags, numbers) are a few bytes, shorter
/// than a word search's set-up.
pub fn tokenize<'a>(s: &'a [u8], t: &mut [&'a [u8]]) -> usize {
    let mut n = 0;
    let mut rest = s;
    loop {
        let Some(b) = rest.iter().position(|&c| c != b' ') else {
            return n;
        };
        let word = &rest[b..];
        let e = word.iter().position(|&c| c == b' ').unwrap_or(word.len());
        let Some(slot) = t.get_mut(n) else {
            return n + 1;
        };
        *slot = &word[..e];
        n += 1;
        rest = &word[e..];
    }
}

/// The next key at or after `pos`: (its offset, its length), None when no
/// key remains. Always inline: called once per key and once more at the
/// end of every get; as a call its prologue and out-parameter cost as much
/// as the search.
#[inline(always)]
pub fn next_key(line: &[u8], pos: usize) -> Option<(usize, usize)> {
    let rest = line.get(pos..)?;
    let skip = rest.iter().position(|&c| c != b' ')?;
    let start = pos + skip;
    let len = crate::find::find_near(&line[start..], b' ').unwrap_or(line.len() - start);
    Some((start, len))
}

/// Every key from pos to the end of the line is short enough.
pub fn keys_valid(line: &[u8], mut pos: usize) -> bool {
    while let Some((at, len)) = next_key(line, pos) {
        if len > KEY_MAX {
            return false;
        }
        pos = at + len;
    }
    true
}

/// A parsed classic line; `Meta` lines are parsed by meta_parse.rs.
#[derive(Debug, PartialEq)]
pub enum Request<'a> {
    /// Answer this line, nothing else.
    Error(&'static str),
    /// An unknown command word: ERROR, or the hang-up on an HTTP line.
    Unknown,
    /// get, gets, gat, gats: the keys start at `keys` in the line.
    Get {
        with_cas: bool,
        touch: bool,
        exptime: i32,
        keys: usize,
    },
    Store {
        cmd: StoreCommand,
        key: &'a [u8],
        flags: u32,
        exptime: i32,
        value_len: usize,
    },
    Arith {
        key: &'a [u8],
        incr: bool,
        delta: u64,
    },
    Delete {
        key: &'a [u8],
    },
    Touch {
        key: &'a [u8],
        exptime: i32,
    },
    /// flush_all: the delay, 0 for none.
    Flush {
        delay: i32,
    },
    Version,
    Verbosity {
        level: u32,
    },
    Quit,
    /// stats, stats <group> (empty: none).
    Stats {
        group: &'a [u8],
    },
    RefreshCerts,
    /// lru_crawler metadump: bit c set for class id c; 0 = all.
    Metadump {
        classes: u64,
    },
    /// shutdown [graceful]: Some(graceful), None for a mode memcached does
    /// not know (judged when it runs: it answers that only when enabled).
    Shutdown {
        mode: Option<bool>,
    },
    /// watch [kinds]: the `WATCH_*` bits, 0 for a kind it does not know.
    Watch {
        events: u32,
    },
    Meta,
}

/// A parsed line and whether its replies are suppressed.
#[derive(Debug, PartialEq)]
pub struct Parsed<'a> {
    pub req: Request<'a>,
    pub noreply: bool,
}

fn take_noreply(t: &[&[u8]], n: usize) -> bool {
    n > 1 && t[n - 1] == b"noreply"
}

#[inline]
fn parse_get(line: &[u8], args: usize, with_cas: bool, touch: bool) -> Request<'_> {
    let mut pos = args;
    let mut exptime = 0;
    if touch {
        // a long gat line: the error path hangs up on it (classic.rs)
        if line.len() > MC_READ_BUFFER {
            return Request::Error(MSG_ERROR);
        }
        let Some((at, len)) = next_key(line, pos) else {
            return Request::Error(MSG_ERROR);
        };
        match mc_i32(&line[at..at + len]) {
            Some(e) => exptime = e,
            None => return Request::Error(MSG_BAD_EXPTIME),
        }
        pos = at + len;
    }
    while pos < line.len() && line[pos] == b' ' {
        pos += 1;
    }
    if pos == line.len() && !touch {
        return Request::Error(MSG_ERROR);
    }
    Request::Get {
        with_cas,
        touch,
        exptime,
        keys: pos,
    }
}

/// set/add/replace/append/prepend (5 tokens, +1 for noreply), cas (6/7).
fn parse_store<'a>(t: &[&'a [u8]], n: usize, cmd: StoreCommand, noreply: &mut bool) -> Request<'a> {
    let cas = matches!(cmd, StoreCommand::Cas(_));
    let base = if cas { 6 } else { 5 };
    if n != base && n != base + 1 {
        return Request::Error(MSG_ERROR);
    }
    *noreply = take_noreply(t, n);
    let bad = Request::Error(MSG_BAD_FORMAT);
    if t[1].len() > KEY_MAX {
        return bad;
    }
    let (Some(flags), Some(exptime), Some(value_len)) = (mc_u32(t[2]), mc_i32(t[3]), mc_i32(t[4]))
    else {
        return bad;
    };
    // memcached's bounds: the length plus its CRLF must fit an int
    if !(0..=i32::MAX - 2).contains(&value_len) {
        return bad;
    }
    let cmd = if cas {
        match mc_u64(t[5]) {
            Some(c) => StoreCommand::Cas(c),
            None => return bad,
        }
    } else {
        cmd
    };
    Request::Store {
        cmd,
        key: t[1],
        flags,
        exptime,
        value_len: value_len as usize,
    }
}

fn parse_arith<'a>(t: &[&'a [u8]], n: usize, incr: bool, noreply: &mut bool) -> Request<'a> {
    if n != 3 && n != 4 {
        return Request::Error(MSG_ERROR);
    }
    *noreply = take_noreply(t, n);
    if t[1].len() > KEY_MAX {
        return Request::Error(MSG_BAD_FORMAT);
    }
    match mc_u64(t[2]) {
        Some(delta) => Request::Arith {
            key: t[1],
            incr,
            delta,
        },
        None => Request::Error("CLIENT_ERROR invalid numeric delta argument"),
    }
}

fn parse_delete<'a>(t: &[&'a [u8]], n: usize, noreply: &mut bool) -> Request<'a> {
    if !(2..=4).contains(&n) {
        return Request::Error(MSG_ERROR);
    }
    // "delete noreply": memcached takes the only argument as the key
    if n > 2 {
        *noreply = take_noreply(t, n);
        // memcached accepts a hold time of 0, with or without noreply
        let hold_is_zero = t[2] == b"0";
        let valid = (n == 3 && (hold_is_zero || *noreply)) || (n == 4 && hold_is_zero && *noreply);
        if !valid {
            return Request::Error(
                "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]",
            );
        }
    }
    if t[1].len() > KEY_MAX {
        return Request::Error(MSG_BAD_FORMAT);
    }
    Request::Delete { key: t[1] }
}

fn parse_touch<'a>(t: &[&'a [u8]], n: usize, noreply: &mut bool) -> Request<'a> {
    if n != 3 && n != 4 {
        return Request::Error(MSG_ERROR);
    }
    *noreply = take_noreply(t, n);
    if t[1].len() > KEY_MAX {
        return Request::Error(MSG_BAD_FORMAT);
    }
    match mc_i32(t[2]) {
        Some(exptime) => Request::Touch { key: t[1], exptime },
        None => Request::Error(MSG_BAD_EXPTIME),
    }
}

fn parse_flush<'a>(t: &[&'a [u8]], n: usize, noreply: &mut bool) -> Request<'a> {
    if n > 3 {
        return Request::Error(MSG_ERROR);
    }
    *noreply = take_noreply(t, n);
    // memcached reads a delay whenever one could be there, so
    // "flush_all noreply 1" is an error, "flush_all noreply" is not.
    if n == 3 || (n == 2 && !*noreply) {
        match mc_i32(t[1]) {
            Some(delay) => Request::Flush { delay },
            None => Request::Error(MSG_BAD_EXPTIME),
        }
    } else {
        Request::Flush { delay: 0 }
    }
}

fn parse_verbosity<'a>(t: &[&'a [u8]], n: usize, noreply: &mut bool) -> Request<'a> {
    if n != 2 && n != 3 {
        return Request::Error(MSG_ERROR);
    }
    *noreply = take_noreply(t, n);
    match mc_u32(t[1]) {
        Some(level) => Request::Verbosity { level },
        None => Request::Error(MSG_BAD_FORMAT),
    }
}

fn parse_refresh_certs<'a>(t: &[&'a [u8]], n: usize, noreply: &mut bool) -> Request<'a> {
    *noreply = take_noreply(t, n);
    if n > 2 || (n == 2 && !*noreply) {
        *noreply = false;
        return Request::Error(MSG_ERROR);
    }
    Request::RefreshCerts
}

fn parse_stats<'a>(t: &[&'a [u8]], n: usize) -> Request<'a> {
    // memcached resets whatever follows "stats reset"
    if n > 2 && t[1] != b"reset" {
        return Request::Error(MSG_ERROR);
    }
    Request::Stats {
        group: if n >= 2 { t[1] } else { b"" },
    }
}

/// A class id as memcached reads it (strtoul: an optional '+', digits).
fn parse_class(p: &[u8]) -> Option<u32> {
    plain_u32(p.strip_prefix(b"+").unwrap_or(p))
}

/// lru_crawler metadump all|hash|<class ids separated by commas>.
fn parse_lru_crawler<'a>(t: &[&'a [u8]], n: usize) -> Request<'a> {
    if n != 3 || t[1] != b"metadump" {
        return Request::Error(MSG_ERROR);
    }
    let arg = t[2];
    if arg == b"all" || arg == b"hash" {
        return Request::Metadump { classes: 0 };
    }
    let mut classes = 0u64;
    for id in arg.split(|&c| c == b',').filter(|p| !p.is_empty()) {
        match parse_class(id) {
            Some(id) if id != 0 && id < DUMP_CLASSES => classes |= 1 << id,
            _ => return Request::Error(MSG_BADCLASS),
        }
    }
    Request::Metadump { classes }
}

/// memcached's commands molt does not run: ERROR, never the hang-up.
const UNKNOWN_BUT_ANSWERED: [&[u8]; 4] = [b"watch", b"lru", b"lru_crawler", b"extstore"];

/// memcached hangs up, without a reply, on an unknown command whose last
/// token (of the first 23) starts with "HTTP/": a browser's or a forged
/// request line. Words that start like one of memcached's command families
/// (a c d g i s t), of one byte, or named above get ERROR as usual.
pub fn http_request_line(line: &[u8]) -> bool {
    let mut t: [&[u8]; 23] = [b""; 23];
    let n = tokenize(line, &mut t).min(23);
    if n == 0 {
        return false;
    }
    let word = t[0];
    if word.len() < 2 || b"acdgist".contains(&word[0]) || UNKNOWN_BUT_ANSWERED.contains(&word) {
        return false;
    }
    t[n - 1].starts_with(b"HTTP/")
}

/// Parse one command line (without its line ending). Inline: once per
/// request, and its result then needs no copying out.
#[inline]
pub fn parse_line(line: &[u8]) -> Parsed<'_> {
    let mut i = 0;
    while i < line.len() && line[i] == b' ' {
        i += 1;
    }
    let begin = i;
    // a command word is short: a plain loop beats a memchr call here
    while i < line.len() && line[i] != b' ' {
        i += 1;
    }
    let word = &line[begin..i];
    let mut noreply = false;
    // The get family first: it is most of the traffic.
    let req = match word {
        b"get" => parse_get(line, i, false, false),
        b"gets" => parse_get(line, i, true, false),
        b"gat" => parse_get(line, i, false, true),
        b"gats" => parse_get(line, i, true, true),
        [b'm', _] => Request::Meta,
        b"" => Request::Error(MSG_ERROR),
        _ => parse_tokens(line, word, &mut noreply),
    };
    Parsed { req, noreply }
}

/// The commands that take a fixed set of tokens.
enum Kind {
    Store(StoreCommand),
    Arith(bool),
    Delete,
    Touch,
    Flush,
    Version,
    Verbosity,
    Quit,
    Stats,
    RefreshCerts,
    LruCrawler,
    Shutdown,
}

fn parse_tokens<'a>(line: &'a [u8], word: &[u8], noreply: &mut bool) -> Request<'a> {
    let kind = match word {
        b"set" => Kind::Store(StoreCommand::Set),
        b"add" => Kind::Store(StoreCommand::Add),
        b"replace" => Kind::Store(StoreCommand::Replace),
        b"append" => Kind::Store(StoreCommand::Append),
        b"prepend" => Kind::Store(StoreCommand::Prepend),
        b"cas" => Kind::Store(StoreCommand::Cas(0)),
        b"incr" => Kind::Arith(true),
        b"decr" => Kind::Arith(false),
        b"delete" => Kind::Delete,
        b"touch" => Kind::Touch,
        b"flush_all" => Kind::Flush,
        b"version" => Kind::Version,
        b"verbosity" => Kind::Verbosity,
        b"quit" => Kind::Quit,
        b"stats" => Kind::Stats,
        b"refresh_certs" => Kind::RefreshCerts,
        b"lru_crawler" => Kind::LruCrawler,
        b"shutdown" => Kind::Shutdown,
        // its own token limit
        b"watch" => return crate::watch::parse_watch(line, noreply),
        _ => return Request::Unknown,
    };
    let mut t: [&[u8]; MAX_TOKENS] = [b""; MAX_TOKENS];
    let n = tokenize(line, &mut t);
    match kind {
        Kind::Store(cmd) => parse_store(&t, n, cmd, noreply),
        Kind::Arith(incr) => parse_arith(&t, n, incr, noreply),
        Kind::Delete => parse_delete(&t, n, noreply),
        Kind::Touch => parse_touch(&t, n, noreply),
        Kind::Flush => parse_flush(&t, n, noreply),
        Kind::Verbosity => parse_verbosity(&t, n, noreply),
        Kind::Stats => parse_stats(&t, n),
        Kind::RefreshCerts => parse_refresh_certs(&t, n, noreply),
        Kind::LruCrawler => parse_lru_crawler(&t, n),
        Kind::Shutdown => Request::Shutdown {
            mode: match (n, t[1]) {
                (1, _) => Some(false),
                (2, b"graceful") => Some(true),
                _ => None,
            },
        },
        Kind::Version => Request::Version,
        Kind::Quit => Request::Quit,
    }
}
