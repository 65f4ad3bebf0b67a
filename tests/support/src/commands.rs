//! Random memcache commands for the differential fuzzers (diff_memcached
//! against memcached over sockets, diff_protocol between protocol.h
//! implementations in process): classic and meta, well-formed and
//! malformed (tokens dropped or inserted, doubled spaces, stray bytes, bare
//! LF line ends, data blocks with wrong ends), unknown words and browser
//! request lines, over-long lines and large multi-gets. Values are printable
//! or numeric text so that incr/decr and appends meet both kinds.

use crate::Rng;

/// Keys, some of which are also protocol words.
pub const KEYS: &[&str] = &["k", "key", "a", "k2", "noreply", "0", "HTTP/1.1", "kk"];
/// Numeric tokens: in range, at and past the 32- and 64-bit edges, signed,
/// hex, exponent, words, empty.
pub const NUMS: &[&str] = &[
    "0",
    "1",
    "2",
    "10",
    "-1",
    "+1",
    "4294967295",
    "4294967296",
    "2147483645",
    "2147483646",
    "2147483647",
    "2147483648",
    "-2147483649",
    "18446744073709551615",
    "18446744073709551616",
    "0x10",
    "1e3",
    "abc",
    "",
];
/// Expiry tokens: never, expired, relative, the 30-day edge, absolute, bad.
pub const EXPTIMES: &[&str] = &["0", "-1", "1000", "2592000", "2592001", "99999999999", "x"];
/// Value stems (numbers among them, for incr/decr).
pub const VALUES: &[&str] = &[
    "",
    "1",
    "10",
    "abc",
    "18446744073709551615",
    "-5",
    " 7",
    "9x",
];
/// Meta flags, valid and not.
pub const META_FLAGS: &[&str] = &[
    "v",
    "k",
    "f",
    "s",
    "c",
    "h",
    "l",
    "q",
    "O123",
    "T0",
    "T1000",
    "T-1",
    "N1000",
    "F5",
    "C0",
    "C999999999",
    "I",
    "M",
    "MS",
    "MA",
    "MP",
    "MR",
    "ME",
    "MI",
    "MD",
    "MX",
    "D5",
    "J3",
    "D",
    "q",
    "zz",
    "T",
    "N",
    "Mq",
    "F",
    "S5",
    "Ox",
];
/// Classic command words.
pub const CLASSIC: &[&str] = &[
    "get",
    "gets",
    "gat",
    "gats",
    "set",
    "add",
    "replace",
    "append",
    "prepend",
    "cas",
    "incr",
    "decr",
    "delete",
    "touch",
    "flush_all",
    "version",
    "verbosity",
    "quit",
    "stats",
];
/// Meta command words (mx and mz are not commands).
pub const META: &[&str] = &["mg", "ms", "md", "ma", "mn", "mx", "mz"];

/// One command: its line (with its line end) and any data block that
/// follows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cmd(pub Vec<u8>);

/// A data block of `len` bytes, now and then with a stray LF inside.
pub fn value_block(r: &mut Rng, len: usize) -> Vec<u8> {
    let mut v: Vec<u8> = if len > 64 {
        vec![b'x'; len]
    } else {
        let s = r.pick(VALUES).as_bytes();
        (0..len)
            .map(|i| s.get(i).copied().unwrap_or(b'7'))
            .collect()
    };
    if r.chance(5) && !v.is_empty() {
        let i = r.below(v.len());
        v[i] = b'\n';
    }
    v
}

/// A storage line's length token, and the block length to send after it
/// (None: the token is not a usable length).
pub fn data_len(r: &mut Rng) -> (String, Option<usize>) {
    // near the 1 MiB item limit rarely: they are slow to send
    match r.below(60) {
        0..=4 => (r.pick(NUMS).to_string(), None),
        5 => ("1048576".into(), Some(1048576)),
        6 => ("1048400".into(), Some(1048400)),
        _ => {
            let n = [0usize, 1, 2, 3, 5, 20][r.below(6)];
            (n.to_string(), Some(n))
        }
    }
}

/// A classic command with its data block.
pub fn classic(r: &mut Rng) -> Vec<u8> {
    let cmd = r.pick(CLASSIC);
    let key = r.pick(KEYS);
    let mut toks: Vec<String> = vec![cmd.into()];
    let mut data: Option<usize> = None;
    match cmd {
        "get" | "gets" => {
            for _ in 0..1 + r.below(3) {
                toks.push(r.pick(KEYS).into());
            }
        }
        "gat" | "gats" => {
            toks.push(r.pick(EXPTIMES).into());
            toks.push(key.into());
        }
        "set" | "add" | "replace" | "append" | "prepend" | "cas" => {
            toks.push(key.into());
            toks.push(if r.chance(80) {
                "0".into()
            } else {
                r.pick(NUMS).into()
            });
            toks.push(r.pick(EXPTIMES).into());
            let (s, n) = data_len(r);
            toks.push(s);
            data = n;
            if cmd == "cas" {
                toks.push(if r.chance(80) {
                    "999999999".into()
                } else {
                    r.pick(NUMS).into()
                });
            }
        }
        "incr" | "decr" => {
            toks.push(key.into());
            toks.push(if r.chance(70) {
                "1".into()
            } else {
                r.pick(NUMS).into()
            });
        }
        "delete" => {
            toks.push(key.into());
            if r.chance(20) {
                toks.push("0".into());
            }
        }
        "touch" => {
            toks.push(key.into());
            toks.push(r.pick(EXPTIMES).into());
        }
        "flush_all" if r.chance(30) => toks.push(r.pick(&["0", "1000", "-1", "x"]).into()),
        "verbosity" => toks.push(r.pick(&["0", "1", "x"]).into()),
        "stats" => toks.push("reset".into()),
        _ => {}
    }
    if r.chance(25) {
        toks.push("noreply".into());
    }
    finish(r, toks, data)
}

/// A meta command with its data block.
pub fn meta(r: &mut Rng) -> Vec<u8> {
    let cmd = r.pick(META);
    let mut toks: Vec<String> = vec![cmd.into()];
    let mut data = None;
    if cmd != "mn" {
        toks.push(r.pick(KEYS).into());
    }
    if cmd == "ms" {
        let (s, n) = data_len(r);
        toks.push(s);
        data = n;
    }
    for _ in 0..r.below(4) {
        toks.push(r.pick(META_FLAGS).into());
    }
    finish(r, toks, data)
}

/// Joins tokens (sometimes with extra spaces), mutates, appends the line end
/// and any data block.
pub fn finish(r: &mut Rng, mut toks: Vec<String>, data: Option<usize>) -> Vec<u8> {
    if r.chance(8) && toks.len() > 1 {
        let i = r.below(toks.len());
        toks.remove(i);
    }
    if r.chance(8) {
        let i = r.below(toks.len() + 1);
        toks.insert(i, r.pick(&["noreply", "HTTP/1.1", "x", "0", "q"]).into());
    }
    let sep = if r.chance(10) { "  " } else { " " };
    let mut line = toks.join(sep).into_bytes();
    if r.chance(5) {
        line.insert(0, b' ');
    }
    if r.chance(4) && !line.is_empty() {
        let i = r.below(line.len());
        line[i] = [b' ', b'\r', b'\0', b'A', b'-', b'\t'][r.below(6)];
    }
    line.extend_from_slice(if r.chance(85) { b"\r\n" } else { b"\n" });
    if let Some(n) = data {
        let mut d = value_block(r, n);
        d.extend_from_slice(if r.chance(90) { b"\r\n" } else { b"\n\r" });
        line.extend_from_slice(&d);
    }
    line
}

/// One random command: classic (55%), meta (40%), an unknown word or a
/// browser's request line, an over-long line, or a multi-get of up to 400
/// keys.
pub fn command(r: &mut Rng) -> Cmd {
    Cmd(match r.below(100) {
        0..=54 => classic(r),
        55..=94 => meta(r),
        95..=97 => {
            // An unknown word, maybe a browser's request line.
            let w = r.pick(&["foo", "GET", "POST", "x", "Get", "bogus", "m", "mnn"]);
            let t = r.pick(&["/ HTTP/1.1", "HTTP/1.0", "/x HTTP/", "HTTP", "a b"]);
            format!("{w} {t}\r\n").into_bytes()
        }
        98 => {
            let mut l = vec![b'z'; 16385 + r.below(60000)];
            l.extend_from_slice(b"\r\n");
            l
        }
        _ => {
            let mut l = b"get ".to_vec();
            for _ in 0..r.below(400) {
                l.extend_from_slice(b"k ");
            }
            l.extend_from_slice(b"k\r\n");
            l
        }
    })
}

/// The commands' bytes, in order.
pub fn stream_bytes(cmds: &[Cmd]) -> Vec<u8> {
    cmds.iter().flat_map(|c| c.0.iter().copied()).collect()
}

/// Where to cut a stream of `len` bytes into pieces (none half the time),
/// sorted.
pub fn cuts(r: &mut Rng, len: usize) -> Vec<usize> {
    let mut c: Vec<usize> = if r.chance(50) {
        Vec::new()
    } else {
        (0..1 + r.below(6)).map(|_| r.below(len + 1)).collect()
    };
    c.sort_unstable();
    c
}
