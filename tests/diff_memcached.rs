//! Differential fuzzer against memcached 1.6.18: the same random command
//! streams (classic and meta, well-formed and malformed, cut into random
//! pieces) go to memcached and to each plain molt target (molt-c, molt-slab,
//! molt-seg, and with the Rust protocol molt-slab-rs and molt-seg-rs; the
//! TLS targets run the same protocol code), and the replies must be equal
//! byte for byte after a few normalisations.
//!
//! One server per target for the whole run, all started with the same
//! settings. Each case opens a fresh connection to every server, sends
//! `flush_all` (so no case sees another's items), then the stream in the
//! same random pieces, half-closes, and reads until the server closes. The
//! reply bytes, with `<EOF>` or `<TIMEOUT>` appended, are compared.
//! Before a line on which memcached hangs up (HTTP request line, line over
//! 16 KiB, also the ~1 MiB block of a storage line memcached refused, read
//! as a line) and, in a stream over 64 KiB, before `quit`, the client sends
//! `mn` and waits for its `MN` (both servers flush after mn). Two things
//! there depend on timing, not on the stream: which queued replies
//! memcached loses depends on how its reads fall, and memcached closes with
//! input still unread, so the kernel resets the connection and drops what
//! memcached had written but the client not yet received (a reply over the
//! socket buffers, e.g. a 1 MiB VALUE; memcached reads 16 KiB at a time and
//! leaves input unread, molt reads what has arrived first: see the README).
//! So both sides first flush. The loss of queued replies itself is covered
//! by transcripts, whose requests arrive in one write. Settling keeps every
//! command of the stream (it only adds `mn`), where skipping such streams
//! would drop most of those with 1 MiB values; the half-close at the end
//! still meets replies in flight, which memcached then sends whole.
//!
//! Normalised (the only differences tolerated):
//! - `VERSION <text>`: molt names itself.
//! - cas values (in `VALUE`/`gets`, meta `c` flag): each server numbers
//!   them its own way, so each distinct value becomes `#1`, `#2`, ... in
//!   the order it first appears in the case. Streams send only cas values
//!   that never match (0 or huge), so a server's numbering cannot change an
//!   outcome.
//!
//! Not generated (or the stream is skipped), with the reason:
//! - time: exptimes/TTLs of 1..999 s (could expire mid-case); `flush_all`
//!   with a delay (memcached's delayed flush also cancels an earlier
//!   immediate one, so items of earlier cases would come back); `t`/`me` output (remaining
//!   seconds, last access) and `stats` except `stats reset`;
//! - the deliberate meta differences of c-core/src/protocol/meta.c (later
//!   memcached versions' `E`, `md ... x`, `ms ... N` with append/prepend;
//!   flag order of `T`/`N` against `t`/`R`; opaque over 32 bytes; base64
//!   keys (`b`); `ma` vivify under `q`);
//! - commands whose replies depend on more than the stream, covered by
//!   transcripts (`stats <group>`, `lru_crawler`, `watch`: a log stream;
//!   `shutdown`), or that memcached runs and molt does not: `lru`, `slabs`,
//!   `extstore`, `cache_memlimit`, `debugtime`, `misbehave`,
//!   `refresh_certs` (TLS-only in memcached builds without TLS);
//! - a stream that may end inside a data block (a storage line announces
//!   more bytes than follow it): memcached sends nothing while it waits for
//!   a block (nor while it discards a refused one), so at the client's
//!   close it drops the replies queued before; molt answers each command at
//!   once. A deliberate difference (see the README);
//! - a NUL byte in a command line: memcached reads the line as a C string
//!   (it ends at the NUL), molt takes the NUL as a byte of its token;
//!   matching it would cost a scan of every line (about 2% more
//!   instructions per request). A deliberate difference (README);
//! - incr/decr/ma in a stream that stores a value of white space only:
//!   memcached reads past the value into stale bytes of its chunk (a
//!   memcached bug; molt answers that the value is not numeric; README);
//! - non-get lines of 2,049..16,384 bytes: memcached closes on such a line
//!   only when a read ends inside it (timing); molt always closes. Longer
//!   lines (always closed by both) are generated.
//!
//! README's list of deliberate differences also has the ones no stream
//! here can show: the connection limit on a TLS port (closed without the
//! plaintext error), `watch` line details (fetchers are the retrieval
//! commands only, `expired`/`flushed` read `not_found`, append/prepend
//! `size` is the data sent, eviction lines carry the engine's class ids).
//!
//! `molt_rs_replies_match_molt_c` runs the same machinery with molt-c as
//! the reference and the all-Rust molt-rs as the target, over the same
//! streams.
//!
//! Budget: DIFF_SECONDS per target (default 3 in `make test`) or
//! DIFF_COMMANDS (commands per target; the run stops at whichever comes
//! first when both are set), DIFF_SEED for another stream, MOLT_TARGETS to
//! select targets. A difference is shrunk (commands dropped one at a time,
//! then the stream sent in one piece), printed as a reproducer and saved
//! to $TMPDIR/molt-diff-<target>-<n>.bin.
//! DIFF_KEEP_GOING=N collects up to N differences before failing.
//! Skipped (passes) when memcached is not installed.

use molt_test_support::commands::{command, cuts, stream_bytes, Cmd};
use molt_test_support::{
    diff_budget, escape_bytes, reference_memcached, targets, Rng, Server, Target,
};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Whether a storage line of the stream announces more data than follows
/// it: memcached would still be waiting for the block at the end.
fn may_end_in_data_block(bytes: &[u8]) -> bool {
    let mut at = 0;
    while let Some(p) = bytes[at..].iter().position(|&b| b == b'\n') {
        let line = &bytes[at..at + p];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        // a data block may end in "\n\r": its "\r" then leads the line
        let line = &line[line.iter().take_while(|&&b| b == b'\r').count()..];
        at += p + 1;
        if announced_length(line).is_some_and(|n| at + n + 2 > bytes.len()) {
            return true;
        }
    }
    false
}

/// A number as strtol reads it (white space, sign, digits; the rest
/// ignored), truncated to 32 bits as memcached keeps it.
fn lenient_number(t: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(t).ok()?;
    let s = s.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '\x0b');
    let (neg, s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
    let v = digits.parse::<i64>().ok()?;
    Some(i64::from((if neg { -v } else { v }) as i32))
}

/// Streams (or lines in them) this fuzzer does not judge; see the top.
fn excluded(cmds: &[Cmd]) -> bool {
    let bytes = stream_bytes(cmds);
    if may_end_in_data_block(&bytes) {
        return true;
    }
    if arithmetic_on_blank_value(&bytes) {
        return true;
    }
    // a NUL in a command line (see the top)
    if cmds
        .iter()
        .any(|c| c.0.iter().take_while(|&&b| b != b'\n').any(|&b| b == 0))
    {
        return true;
    }
    let mut b64 = false;
    for c in cmds {
        for line in c.0.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.len() > 2048 && line.len() <= 16384 {
                return true;
            }
            // memcached reads the line as a C string
            let line = line.split(|&b| b == 0).next().unwrap_or(line);
            let toks: Vec<&[u8]> = line
                .split(|&b| b == b' ')
                .filter(|t| !t.is_empty())
                .collect();
            let Some(first) = toks.first() else { continue };
            match *first {
                b"stats" if toks.get(1).is_none_or(|t| *t != b"reset") => return true,
                b"lru_crawler" | b"watch" | b"lru" | b"slabs" | b"shutdown" | b"extstore"
                | b"cache_memlimit" | b"debugtime" | b"misbehave" | b"refresh_certs" | b"me" => {
                    return true
                }
                b"flush_all"
                    if toks
                        .iter()
                        .skip(1)
                        .any(|t| lenient_number(t).is_some_and(|n| n > 0)) =>
                {
                    return true
                }
                _ => {}
            }
            if first.len() == 2 && first[0] == b'm' {
                let flags: Vec<u8> = toks.iter().skip(2).map(|t| t[0]).collect();
                let has = |f: u8| flags.contains(&f);
                if has(b'E')
                    || has(b't')
                    || (*first == b"md" && has(b'x'))
                    || (*first == b"ms" && has(b'N'))
                    || ((has(b'T') || has(b'N')) && has(b'R'))
                    || (*first == b"ma" && has(b'N') && has(b'q'))
                    || toks.iter().skip(2).any(|t| t[0] == b'O' && t.len() > 33)
                {
                    return true;
                }
                b64 |= has(b'b');
            }
            // relative TTLs that could run out during the case: the exptime
            // token where memcached reads it, and meta T/N flags
            let short_ttl = |t: &[u8]| lenient_number(t).is_some_and(|n| n > 0 && n < 1000);
            let exptime = match *first {
                b"set" | b"add" | b"replace" | b"append" | b"prepend" | b"cas" => toks.get(3),
                b"touch" => toks.get(2),
                b"gat" | b"gats" => toks.get(1),
                _ => None,
            };
            let meta_ttl = first.len() == 2
                && first[0] == b'm'
                && toks
                    .iter()
                    .skip(2)
                    .any(|t| t.len() > 1 && (t[0] == b'T' || t[0] == b'N') && short_ttl(&t[1..]));
            if exptime.is_some_and(|t| short_ttl(t)) || meta_ttl {
                return true;
            }
        }
    }
    b64
}

/// Whether the stream stores a value of white space only and has an
/// arithmetic command: memcached 1.6.18's incr/decr/ma read such a value
/// with strtoull, which skips the white space and the value's CRLF and
/// reads on into stale bytes of the chunk (`set k 0 0 3` `123`, then
/// `set k 0 0 1` ` `, then `incr k 1` answers 77777777777779-like numbers
/// left by earlier items). molt answers `CLIENT_ERROR cannot increment or
/// decrement non-numeric value`. A deliberate difference (README).
fn arithmetic_on_blank_value(bytes: &[u8]) -> bool {
    let space = |b: &u8| *b == b' ' || (b'\t'..=b'\r').contains(b);
    let (mut blank, mut arith) = (false, false);
    let mut at = 0;
    while at < bytes.len() {
        let end = bytes[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |p| at + p);
        let line = &bytes[at..end];
        let first = line
            .split(|&b| b == b' ')
            .find(|t| !t.is_empty())
            .unwrap_or(b"");
        arith |= matches!(first, b"incr" | b"decr" | b"ma");
        let block = announced_length(line.strip_suffix(b"\r").unwrap_or(line));
        let n = block.unwrap_or(0);
        let data = bytes
            .get(end + 1..(end + 1 + n).min(bytes.len()))
            .unwrap_or(b"");
        blank |= !data.is_empty() && data.iter().all(space);
        at = end + 1 + block.map_or(0, |n| n + 2);
    }
    blank && arith
}

/// Whether memcached hangs up on this line: an unknown command (of two or
/// more bytes, not of a family it knows by the first byte) whose last
/// token of the first 23 starts with "HTTP/".
fn http_hang_up(line: &[u8]) -> bool {
    let toks: Vec<&[u8]> = line
        .split(|&b| b == b' ')
        .filter(|t| !t.is_empty())
        .take(23)
        .collect();
    let (Some(first), Some(last)) = (toks.first(), toks.last()) else {
        return false;
    };
    const KNOWN: &[&[u8]] = &[
        b"version",
        b"verbosity",
        b"quit",
        b"flush_all",
        b"refresh_certs",
        b"watch",
        b"lru",
        b"lru_crawler",
        b"extstore",
    ];
    let answered = first.len() < 2
        || b"acdgist".contains(&first[0])
        || (first.len() == 2 && first[0] == b'm')
        || KNOWN.contains(first);
    !answered && last.starts_with(b"HTTP/")
}

/// The length of the data block memcached 1.6.18 reads (or swallows) after
/// this storage line; None for other lines, and for storage lines it
/// refuses before the block (process_update_command, process_mset_command):
/// a wrong token count, a key over 250 bytes, a number it cannot read, a
/// length outside 0..=INT_MAX-2. It reads a refused line's block as command
/// lines, so a ~1 MiB block becomes a line it hangs up on.
fn announced_length(line: &[u8]) -> Option<usize> {
    let toks: Vec<&[u8]> = line
        .split(|&b| b == b' ')
        .filter(|t| !t.is_empty())
        .collect();
    let len_tok = match (toks.first().copied()?, toks.len()) {
        (b"set" | b"add" | b"replace" | b"append" | b"prepend", 5 | 6) => toks[4],
        (b"cas", 6 | 7) => {
            mc_strtoull(toks[5])?;
            toks[4]
        }
        (b"ms", 3..=19) => toks[2],
        _ => return None,
    };
    if toks[1].len() > 250 {
        return None;
    }
    if toks[0] != b"ms" {
        // flags, then exptime
        mc_strtoull(toks[2])?;
        mc_strtol(toks[3])?;
    }
    let n = mc_strtol(len_tok)? as i32;
    (0..=i32::MAX - 2)
        .contains(&n)
        .then(|| usize::try_from(n).expect("non-negative"))
}

/// A number token as C's strtol/strtoul start to read it: white space
/// (\t..\r or space), a sign, digits; memcached's safe_strto* then want the
/// digits ended by the token's end or white space (so "5\t3" and "5\r" are
/// 5). Gives whether a minus was read and the digits' value (None when they
/// do not fit 64 bits: ERANGE).
fn c_number(t: &[u8]) -> Option<(bool, u64)> {
    let space = |b: u8| b == b' ' || (b'\t'..=b'\r').contains(&b);
    let mut rest = &t[t.iter().take_while(|&&b| space(b)).count()..];
    let neg = rest.first() == Some(&b'-');
    if matches!(rest.first(), Some(b'-' | b'+')) {
        rest = &rest[1..];
    }
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || rest.get(digits).is_some_and(|&b| !space(b)) {
        return None;
    }
    let v: u64 = std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()?;
    Some((neg, v))
}

/// A number as memcached's safe_strtol reads it (a 64-bit long; callers
/// truncate to 32 bits where memcached does).
fn mc_strtol(t: &[u8]) -> Option<i64> {
    let (neg, v) = c_number(t)?;
    let v = if neg { -i128::from(v) } else { i128::from(v) };
    i64::try_from(v).ok()
}

/// A number as memcached's safe_strtoul / safe_strtoull read it (64 bits):
/// strtoul negates a minus number modulo 2^64, and memcached refuses the
/// result when it reads as negative and a minus was given.
fn mc_strtoull(t: &[u8]) -> Option<u64> {
    let (neg, v) = c_number(t)?;
    let v = if neg { v.wrapping_neg() } else { v };
    (!(neg && (v as i64) < 0)).then_some(v)
}

/// Where the stream stops until the server has answered and flushed
/// everything before: before each line on which memcached hangs up (an
/// HTTP request line, a line too long for its 16 KiB read buffer, the block
/// of a storage line it refused read as a line) and, in a stream over
/// 64 KiB, before `quit`, outside the data blocks. There `mn` is sent (both
/// servers flush after it) and its MN awaited. memcached closes such a
/// connection with input still unread, so the kernel resets it and drops
/// what memcached wrote but the client had not yet received (a reply over
/// the socket buffers), and which queued replies it loses depends on how
/// its reads fall: timing, not the stream.
fn settle_points(bytes: &[u8]) -> Vec<usize> {
    let big = bytes.len() > 65536;
    let mut points = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let end = bytes[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |p| at + p);
        let line = &bytes[at..end];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = line.split(|&b| b == 0).next().unwrap_or(line);
        let quit = line.split(|&b| b == b' ').find(|t| !t.is_empty()) == Some(b"quit");
        if end - at > 16384 || http_hang_up(line) || (big && quit) {
            points.push(at);
        }
        at = end + 1 + announced_length(line).map_or(0, |n| n + 2);
    }
    points
}

/// Sends `flush_all`, then the stream cut at `cuts` (and paused at the
/// settle points), half-closes and reads to the close.
fn run_case(server: &Server, cmds: &[Cmd], cuts: &[usize]) -> Vec<u8> {
    let bytes = &stream_bytes(cmds);
    let settle = settle_points(bytes);
    let mut cuts: Vec<usize> = cuts.iter().chain(settle.iter()).copied().collect();
    cuts.sort_unstable();
    let mut s = TcpStream::connect(server.addr()).expect("connect");
    s.set_nodelay(true).ok();
    s.set_read_timeout(Some(Duration::from_secs(3))).ok();
    s.write_all(b"flush_all\r\n").expect("flush_all");
    let mut ok = [0u8; 4];
    s.read_exact(&mut ok).expect("flush_all reply");
    assert_eq!(&ok, b"OK\r\n", "{}: flush_all", server.target_name());
    let mut reader = s.try_clone().expect("clone");
    let replies = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
    let shared = Arc::clone(&replies);
    let handle = std::thread::spawn(move || {
        let (got, more) = &*shared;
        let mut buf = [0u8; 65536];
        loop {
            let (bytes, end): (&[u8], bool) = match reader.read(&mut buf) {
                Ok(0) => (b"<EOF>", true),
                Ok(n) => (&buf[..n], false),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    (b"<TIMEOUT>", true)
                }
                Err(_) => (b"<EOF>", true), // reset: closed too
            };
            got.lock().expect("replies").extend_from_slice(bytes);
            more.notify_all();
            if end {
                break;
            }
        }
    });
    let mns = |b: &[u8]| b.windows(4).filter(|w| *w == b"MN\r\n").count();
    let mut at = 0;
    for &c in cuts.iter().chain(std::iter::once(&bytes.len())) {
        if c <= at {
            continue;
        }
        if s.write_all(&bytes[at..c]).is_err() {
            break; // the server closed
        }
        at = c;
        if settle.contains(&at) {
            let (got, more) = &*replies;
            let before = mns(&got.lock().expect("replies"));
            if s.write_all(b"mn\r\n").is_err() {
                break;
            }
            let _ = more.wait_timeout_while(
                got.lock().expect("replies"),
                Duration::from_millis(500),
                |g| mns(g) == before && !g.ends_with(b">"),
            );
        } else {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    let _ = s.shutdown(Shutdown::Write);
    handle.join().expect("reader");
    let got = replies.0.lock().expect("replies");
    normalise(&got)
}

/// `VERSION <text>` and cas values; see the top.
fn normalise(reply: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(reply.len());
    let mut cas_seen: Vec<Vec<u8>> = Vec::new();
    let mut rest = reply;
    let mut skip_data = 0usize;
    while !rest.is_empty() {
        let end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .map(|p| p + 2)
            .unwrap_or(rest.len());
        let line = &rest[..end];
        rest = &rest[end..];
        if skip_data > 0 {
            skip_data = skip_data.saturating_sub(line.len());
            out.extend_from_slice(line);
            continue;
        }
        let body = line.strip_suffix(b"\r\n").unwrap_or(line);
        let toks: Vec<&[u8]> = body.split(|&b| b == b' ').collect();
        let mut cas_tok = |t: &[u8]| -> Vec<u8> {
            let i = match cas_seen.iter().position(|c| c == t) {
                Some(i) => i,
                None => {
                    cas_seen.push(t.to_vec());
                    cas_seen.len() - 1
                }
            };
            format!("#{}", i + 1).into_bytes()
        };
        let mut new: Vec<Vec<u8>> = toks.iter().map(|t| t.to_vec()).collect();
        match toks[0] {
            b"VERSION" => new = vec![b"VERSION".to_vec(), b"<v>".to_vec()],
            b"VALUE" if toks.len() >= 4 => {
                if toks.len() == 5 {
                    new[4] = cas_tok(toks[4]);
                }
                skip_data = std::str::from_utf8(toks[3])
                    .ok()
                    .and_then(|s| s.parse::<usize>().ok())
                    .map_or(0, |n| n + 2);
            }
            b"VA" | b"HD" | b"NS" | b"EX" | b"NF" | b"EN" => {
                if toks[0] == b"VA" {
                    skip_data = std::str::from_utf8(toks.get(1).copied().unwrap_or(b""))
                        .ok()
                        .and_then(|s| s.parse::<usize>().ok())
                        .map_or(0, |n| n + 2);
                }
                for (i, t) in toks.iter().enumerate().skip(1) {
                    if t.first() == Some(&b'c') && t.len() > 1 {
                        let mut v = b"c".to_vec();
                        v.extend(cas_tok(&t[1..]));
                        new[i] = v;
                    }
                }
            }
            _ => {}
        }
        out.extend_from_slice(&new.join(&b' '));
        out.extend_from_slice(&line[body.len()..]);
    }
    out
}

struct Diff {
    cmds: Vec<Cmd>,
    cuts: Vec<usize>,
    want: Vec<u8>,
    got: Vec<u8>,
}

/// Drops commands while the difference stays, then tries one piece.
fn shrink(reference: &Server, server: &Server, mut d: Diff) -> Diff {
    let differs = |cmds: &[Cmd], cuts: &[usize]| {
        let want = run_case(reference, cmds, cuts);
        let got = run_case(server, cmds, cuts);
        (want != got).then_some((want, got))
    };
    let mut i = 0;
    while i < d.cmds.len() && d.cmds.len() > 1 {
        let mut fewer = d.cmds.clone();
        fewer.remove(i);
        match differs(&fewer, &[]) {
            Some((want, got)) => {
                d = Diff {
                    cmds: fewer,
                    cuts: Vec::new(),
                    want,
                    got,
                }
            }
            None => i += 1,
        }
    }
    if !d.cuts.is_empty() {
        if let Some((want, got)) = differs(&d.cmds, &[]) {
            d.cuts.clear();
            d.want = want;
            d.got = got;
        }
    }
    d
}

fn settings() -> Vec<&'static str> {
    vec!["-m", "64", "-c", "64", "-t", "1"]
}

#[test]
fn replies_match_memcached() {
    let Some(mc) = reference_memcached() else {
        eprintln!("diff_memcached: memcached not installed; skipped");
        return;
    };
    let targets: Vec<Target> = molt_test_support::targets::selected_by_env(targets!())
        .into_iter()
        .filter(|t| !t.is_tls())
        .collect();
    let failures = diff_against(&mc, &targets, excluded);
    assert!(
        failures.is_empty(),
        "replies differ from memcached 1.6.18:\n{}",
        failures.join("\n")
    );
}

/// The all-Rust server against the all-C one: the same streams, the same
/// exclusions (the time- and process-dependent replies among them), replies
/// byte for byte after the same normalisation.
#[test]
fn molt_rs_replies_match_molt_c() {
    let all = targets!();
    let molt_c = all
        .iter()
        .find(|t| t.name == "molt-c")
        .expect("molt-c target")
        .clone();
    let rs: Vec<Target> = molt_test_support::targets::selected_by_env(all)
        .into_iter()
        .filter(|t| t.name == "molt-rs")
        .collect();
    let failures = diff_against(&molt_c, &rs, excluded);
    assert!(
        failures.is_empty(),
        "replies differ from molt-c:\n{}",
        failures.join("\n")
    );
}

/// Feed every target the random streams `reference` gets (skipping those
/// `exclude` names) and return the shrunk differences, one text each.
fn diff_against(
    reference: &Target,
    targets: &[Target],
    exclude: fn(&[Cmd]) -> bool,
) -> Vec<String> {
    let seed: u64 = std::env::var("DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x6d6f_6c74);
    let (time, max_commands) = diff_budget();
    let mut failures = Vec::new();
    if targets.is_empty() {
        return failures;
    }
    let ref_name = reference.name;
    let reference = Server::start(reference, &settings());
    // DIFF_KEEP_GOING=N: collect up to N differences instead of stopping at
    // the first (while fixing several at once).
    let keep_going: usize = std::env::var("DIFF_KEEP_GOING")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    for target in targets {
        let server = Server::start(target, &settings());
        let mut r = Rng(seed);
        let start = Instant::now();
        let (mut commands, mut cases, mut skipped) = (0u64, 0u64, 0u64);
        while start.elapsed() < time && commands < max_commands {
            let n = 1 + r.below(12);
            let cmds: Vec<Cmd> = (0..n).map(|_| command(&mut r)).collect();
            let bytes = stream_bytes(&cmds);
            let cut = cuts(&mut r, bytes.len());
            if exclude(&cmds) {
                skipped += 1;
                continue;
            }
            cases += 1;
            commands += n as u64;
            let (want, got) = std::thread::scope(|sc| {
                let want = sc.spawn(|| run_case(&reference, &cmds, &cut));
                let got = run_case(&server, &cmds, &cut);
                (want.join().expect("reference run"), got)
            });
            if want != got {
                let d = shrink(
                    &reference,
                    &server,
                    Diff {
                        cmds,
                        cuts: cut,
                        want,
                        got,
                    },
                );
                let saved = std::env::temp_dir().join(format!(
                    "molt-diff-{}-{}.bin",
                    target.name,
                    failures.len()
                ));
                let _ = std::fs::write(&saved, stream_bytes(&d.cmds));
                failures.push(format!(
                    "{}: after {cases} cases (stream saved to {})\n  send:      {}\n  cut at:    {:?}\n  {ref_name}: {}\n  {}: {}",
                    target.name,
                    saved.display(),
                    escape_bytes(&stream_bytes(&d.cmds)),
                    d.cuts,
                    escape_bytes(&d.want),
                    target.name,
                    escape_bytes(&d.got)
                ));
                if failures.len() >= keep_going {
                    break;
                }
            }
        }
        eprintln!(
            "diff[{} vs {ref_name}]: {commands} commands in {cases} cases ({skipped} streams skipped) in {:.1?}, seed {seed}",
            target.name,
            start.elapsed()
        );
    }
    failures
}

/// `announced_length` against memcached itself: each storage line, then a
/// 5-byte block `12345`, then `mn`. A line memcached accepts takes the
/// block (one reply or none, then MN); a refused one answers its error and
/// then ERROR for `12345` read as a command.
#[test]
fn storage_lines_are_read_as_memcached_reads_them() {
    let Some(mc) = reference_memcached() else {
        eprintln!("diff_memcached: memcached not installed; skipped");
        return;
    };
    let key_250 = format!("set {} 0 0 5", "a".repeat(250));
    let key_251 = format!("set {} 0 0 5", "a".repeat(251));
    let flags_16 = format!("ms k 5{}", " v".repeat(16));
    let flags_17 = format!("ms k 5{}", " v".repeat(17));
    let lines: Vec<&str> = vec![
        "set k 0 0 5",
        "set k 0 0 5 noreply",
        "set  k 0 0 5",
        "set k 0 0 5 x y",
        "set k 0 5",
        "set k abc 0 5",
        "set k -1 0 5",
        "set k 18446744073709551615 0 5",
        "set k 18446744073709551616 0 5",
        "set k 4294967296 0 5",
        "set k 0x10 0 5",
        "set k 0 x 5",
        "set k 0 99999999999 5",
        "set k 0 0 2147483646",
        "set k 0 0 -1",
        "set k 0 0 4294967301",
        "set k 0 0 5\t3",
        &key_250,
        &key_251,
        "add k 0 0 5",
        "replace k 0 0 5",
        "append k 0 0 5",
        "prepend k 0 0 5 q",
        "cas k 0 0 5 1",
        "cas k 0 0 5",
        "cas k 0 0 5 -1",
        "cas k 0 0 5 x",
        "cas k 0 0 5 1 noreply",
        "ms k 5",
        "ms k",
        "ms k x",
        "ms k 5 zz",
        "ms k 5 MX",
        &flags_16,
        &flags_17,
        "mg k 5",
    ];
    let server = Server::start(&mc, &settings());
    for line in lines {
        let mut s = TcpStream::connect(server.addr()).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(3))).ok();
        s.write_all(format!("{line}\r\n12345\r\nmn\r\n").as_bytes())
            .expect("send");
        let mut reply = Vec::new();
        let mut buf = [0u8; 4096];
        while !reply.ends_with(b"MN\r\n") {
            let n = s.read(&mut buf).expect("memcached answers");
            assert!(n > 0, "memcached closed on {line:?}");
            reply.extend_from_slice(&buf[..n]);
        }
        let refused = reply.ends_with(b"\r\nERROR\r\nMN\r\n");
        let want = (!refused).then_some(5);
        assert_eq!(
            announced_length(line.as_bytes()),
            want,
            "{line:?}: memcached answered {}",
            escape_bytes(&reply)
        );
    }
}
