//! Mutation of protocol input for the fuzzers (the socket fuzzer
//! fuzz_proto, the in-process differential fuzzer diff_protocol): seeds
//! from the committed corpus fuzz/corpus/proto/ (built from the
//! conformance transcripts by scripts/hardening/make-corpus.py), mutated by
//! bit flips, stray line ends and NULs, protocol tokens and edge numbers
//! spliced in, deletions, repeats, splices from other seeds and junk; or
//! pure random bytes.

use crate::Rng;
use std::path::{Path, PathBuf};

/// The seed corpus (fuzz/corpus/proto/ at the workspace root).
pub fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/proto")
}

/// Protocol fragments spliced into seeds.
const TOKENS: &[&[u8]] = &[
    b"get ",
    b"gets ",
    b"gat ",
    b"gats ",
    b"set ",
    b"add ",
    b"replace ",
    b"append ",
    b"prepend ",
    b"cas ",
    b"incr ",
    b"decr ",
    b"delete ",
    b"touch ",
    b"flush_all",
    b"version",
    b"verbosity ",
    b"stats",
    b"stats reset",
    b" noreply",
    b"\r\n",
    b"\n",
    b"\r",
    b" ",
    b"  ",
    b"\0",
    b" 0 0 ",
    b"k",
    b"mg ",
    b"ms ",
    b"md ",
    b"ma ",
    b"mn",
    b"me ",
    b" v",
    b" T",
    b" q",
];

/// Edge numbers that replace a digit run.
const NUMBERS: &[&[u8]] = &[
    b"0",
    b"1",
    b"-1",
    b"+1",
    b"2592000",
    b"2592001",
    b"4294967295",
    b"4294967296",
    b"2147483647",
    b"2147483648",
    b"-2147483649",
    b"18446744073709551615",
    b"18446744073709551616",
    b"99999999999999999999999",
    b"1048576",
    b"1048400",
    b"00000000000000000000001",
    b"0x10",
    b"1e3",
    b"",
];

/// Corpus files carry a leading mode byte for the libFuzzer target
/// (fuzz/proto_fuzz.c); the socket fuzzer uses the protocol bytes after it.
pub fn load_dir(dir: &Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths {
            if let Ok(b) = std::fs::read(&p) {
                if b.len() > 1 {
                    out.push(b[1..].to_vec());
                }
            }
        }
    }
    out
}

/// A mutated seed (at most 256 KiB), or now and then pure garbage.
pub fn mutate(r: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    if r.chance(5) || seeds.is_empty() {
        // Pure garbage.
        let n = 1 + r.below(4096);
        return (0..n).map(|_| r.next_u64() as u8).collect();
    }
    let mut d = seeds[r.below(seeds.len())].clone();
    if d.len() > 16 * 1024 && r.chance(70) {
        let start = r.below(d.len());
        let end = (start + 16 * 1024).min(d.len());
        d = d[start..end].to_vec();
    }
    let rounds = 1 + r.below(8);
    for _ in 0..rounds {
        let at = r.below(d.len() + 1);
        match r.below(9) {
            0 if !d.is_empty() => {
                let i = r.below(d.len());
                d[i] ^= 1 << r.below(8);
            }
            1 if !d.is_empty() => {
                let i = r.below(d.len());
                d[i] = *[b'\r', b'\n', b' ', b'0', b'-', 0xff, 0, b'9']
                    .get(r.below(8))
                    .unwrap();
            }
            2 => {
                let t = TOKENS[r.below(TOKENS.len())];
                d.splice(at..at, t.iter().copied());
            }
            3 if !d.is_empty() => {
                let end = (at + 1 + r.below(64)).min(d.len());
                if at < end {
                    d.drain(at..end);
                }
            }
            4 if !d.is_empty() && d.len() < 128 * 1024 => {
                let a = r.below(d.len());
                let b = (a + 1 + r.below(256)).min(d.len());
                let piece = d[a..b].to_vec();
                let many = r.chance(10);
                let times = 1 + r.below(if many { 200 } else { 4 });
                for _ in 0..times {
                    d.splice(at..at, piece.iter().copied());
                }
            }
            5 if !seeds.is_empty() => {
                let other = &seeds[r.below(seeds.len())];
                if !other.is_empty() {
                    let a = r.below(other.len());
                    let b = (a + 1 + r.below(512)).min(other.len());
                    d.splice(at..at, other[a..b].iter().copied());
                }
            }
            6 => {
                // Replace a digit run with an interesting number.
                if let Some(i) = (0..d.len())
                    .map(|k| (at + k) % d.len())
                    .find(|&k| d[k].is_ascii_digit())
                {
                    let mut j = i;
                    while j < d.len() && d[j].is_ascii_digit() {
                        j += 1;
                    }
                    let n = NUMBERS[r.below(NUMBERS.len())];
                    d.splice(i..j, n.iter().copied());
                }
            }
            7 => {
                let n = 1 + r.below(32);
                let junk: Vec<u8> = (0..n).map(|_| r.next_u64() as u8).collect();
                d.splice(at..at, junk);
            }
            _ => {
                if r.chance(20) {
                    d.truncate(at);
                }
            }
        }
    }
    d.truncate(256 * 1024);
    d
}
