//! The cases: a stream of requests (generated, extra, mutated), where it
//! is cut, how the clock moves, how the host drains output; and the edits
//! the shrinker makes to them.

use crate::host::T0;
use molt::{ProtocolLimits, StorageConfig};
use molt_test_support::commands::{command, KEYS};
use molt_test_support::mutate::mutate;
use molt_test_support::Rng;

/// A piece of the stream starts at `at`; the clock moves `tick` seconds
/// before it arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cut {
    pub(crate) at: usize,
    pub(crate) tick: i64,
}

/// One stream and how it reaches the protocols.
#[derive(Clone, Debug)]
pub(crate) struct Case {
    pub(crate) stream: Vec<u8>,
    /// Where the generated requests end (sorted; the last is the length).
    pub(crate) ends: Vec<usize>,
    /// Where pieces start (sorted, distinct, inside the stream).
    pub(crate) cuts: Vec<Cut>,
    /// The host leaves output queued on two calls in three.
    pub(crate) slow_reader: bool,
    /// out_high of 4 KiB instead of 1 MiB: multi-gets pause.
    pub(crate) small_output: bool,
    /// A 4 KiB item limit (engine and protocol) instead of 1 MiB.
    pub(crate) small_items: bool,
    /// Requests generated.
    pub(crate) requests: usize,
    /// What the host says about `shutdown`, `watch` and its watchers.
    pub(crate) host: HostVariant,
}

/// The host's answers that change what a protocol does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct HostVariant {
    /// `shutdown` is allowed (memcached's -A).
    pub(crate) shutdown_enabled: bool,
    /// The watch kinds some watcher wants (events are reported).
    pub(crate) watching: u32,
    /// `watch` is refused (no room for another watcher).
    pub(crate) watch_refused: bool,
}

impl Case {
    pub(crate) fn limits(&self) -> ProtocolLimits {
        let item_size_max = if self.small_items { 4096 } else { 1 << 20 };
        let out_high = if self.small_output { 4096 } else { 1 << 20 };
        ProtocolLimits {
            item_size_max,
            out_high,
            out_limit: item_size_max + out_high + 4096,
            ..ProtocolLimits::default()
        }
    }

    pub(crate) fn storage_config(&self) -> StorageConfig {
        StorageConfig {
            memory_limit: 32 << 20,
            item_size_max: self.limits().item_size_max as u32,
            growth_factor: 1.25,
        }
    }

    pub(crate) fn is_boundary(&self, at: usize) -> bool {
        at == 0 || self.ends.binary_search(&at).is_ok()
    }

    /// The case without stream bytes [a, b): request ends and cuts inside
    /// move to a, later ones move back.
    pub(crate) fn without(&self, a: usize, b: usize) -> Case {
        let map = |p: usize| {
            if p <= a {
                p
            } else if p >= b {
                p - (b - a)
            } else {
                a
            }
        };
        let mut stream = self.stream.clone();
        stream.drain(a..b);
        let len = stream.len();
        let mut ends: Vec<usize> = self
            .ends
            .iter()
            .map(|&e| map(e))
            .filter(|&e| e > 0)
            .collect();
        ends.dedup();
        let mut cuts: Vec<Cut> = Vec::new();
        for c in &self.cuts {
            let at = map(c.at);
            if at == 0 || at >= len {
                continue;
            }
            match cuts.last_mut() {
                Some(last) if last.at == at => last.tick = last.tick.max(c.tick),
                _ => cuts.push(Cut { at, tick: c.tick }),
            }
        }
        Case {
            stream,
            ends,
            cuts,
            ..self.clone()
        }
    }

    /// The pieces and the clock: (bytes, now) in arrival order.
    pub(crate) fn pieces(&self) -> Vec<(&[u8], i64)> {
        let mut now = T0;
        let mut out = Vec::with_capacity(self.cuts.len() + 1);
        let mut from = 0;
        for c in &self.cuts {
            out.push((&self.stream[from..c.at], now));
            now += c.tick;
            from = c.at;
        }
        out.push((&self.stream[from..], now));
        out
    }
}

pub(crate) const GROUPS: &[&str] = &[
    "",
    " settings",
    " items",
    " slabs",
    " sizes",
    " conns",
    " detail",
    " bogus",
    " reset",
    " reset x",
    " settings x",
];

/// What only an in-process comparison can judge (see the top).
pub(crate) fn extra(r: &mut Rng) -> Vec<u8> {
    let key = r.pick(KEYS);
    let noreply = if r.chance(20) { " noreply" } else { "" };
    let line = match r.below(18) {
        0 => format!("stats{}", r.pick(GROUPS)),
        1 => format!(
            "lru_crawler {}",
            r.pick(&[
                "metadump all",
                "metadump hash",
                "metadump 1",
                "metadump",
                "crawl all",
                ""
            ])
        ),
        2 => format!("refresh_certs{}", r.pick(&["", " x", " noreply"])),
        3 => format!(
            "verbosity {}{noreply}",
            r.pick(&["0", "1", "2", "x", "", "4294967296"])
        ),
        4 => format!("flush_all {}{noreply}", r.pick(&["1", "2", "3", "0", "-1"])),
        5 => format!("me {key}"),
        6 => {
            // relative, expired, and absolute (the clock starts at T0)
            let ttl = r.pick(&["1", "2", "3", "-1", "1800000002", "1799999999"]);
            let cmd = r.pick(&["set", "add", "touch", "gat", "gats"]);
            match cmd {
                "touch" => format!("touch {key} {ttl}{noreply}"),
                "gat" | "gats" => format!("{cmd} {ttl} {key}"),
                _ => {
                    let v = r.pick(&["1", "abc", "10"]);
                    format!("{cmd} {key} 0 {ttl} {}{noreply}\r\n{v}", v.len())
                }
            }
        }
        7 => {
            let ttl = r.pick(&["1", "2", "3", "-1", "0"]);
            let f = r
                .pick(&["t v", "v t c", "T{ttl} t", "N{ttl} v s", "t f k"])
                .replace("{ttl}", ttl);
            match r.below(3) {
                0 => format!("mg {key} {f}"),
                1 => format!(
                    "ms {key} 2 T{ttl}{}\r\nxy",
                    if r.chance(30) { " q" } else { "" }
                ),
                _ => format!("ma {key} N{ttl} J1 v"),
            }
        }
        8 => {
            let n = r.pick(&[
                "4294967295",
                "4294967296",
                "2147483648",
                "1048577",
                "99999999999999999999",
                "18446744073709551615",
            ]);
            match r.below(3) {
                0 => format!("set {key} 0 0 {n}{noreply}"),
                1 => format!("ms {key} {n} T0"),
                _ => format!("cas {key} 0 0 {n} 1"),
            }
        }
        9 => {
            let k = "k".repeat(250 + r.below(2));
            match r.below(4) {
                0 => format!("get {k}"),
                1 => format!("set {k} 0 0 1\r\nx"),
                2 => format!("mg {k} v"),
                _ => format!("delete {k}"),
            }
        }
        10 => {
            // pipelined meta gets, quiet ones among them, ended by mn
            let mut s = String::new();
            for _ in 0..1 + r.below(20) {
                s.push_str(&format!(
                    "mg {} v{}\r\n",
                    r.pick(KEYS),
                    if r.chance(50) { " q" } else { "" }
                ));
            }
            s.push_str("mn");
            s
        }
        11 => {
            // a large value, then a multi-get of it: the output backs up
            let n = [100usize, 1000, 5000, 70_000][r.below(4)];
            let keys = vec![key; 1 + r.below(40)].join(" ");
            format!("set {key} 0 0 {n}\r\n{}\r\nget {keys}", "v".repeat(n))
        }
        12 => {
            let mut s = String::from("get");
            for _ in 0..100 {
                s.push(' ');
                s.push_str(r.pick(KEYS));
            }
            s
        }
        13 => {
            let delta = r.pick(&["1", "0", "18446744073709551615", "-1"]);
            format!("{} {key} {delta}{noreply}", r.pick(&["incr", "decr"]))
        }
        14 => r
            .pick(&[
                "watch",
                "watch fetchers",
                "watch mutations",
                "watch fetchers mutations evictions",
                "watch  rawcmds sysevents connevents proxyreqs proxyevents proxyuser",
                "watch bogus",
                "watch fetchers bogus",
                "watch noreply",
                "watch mutations noreply",
                "watch noreply fetchers",
                "watch a b c d e f g h i j k l m n o p q r s t u v w",
            ])
            .to_string(),
        15 => r
            .pick(&[
                "shutdown",
                "shutdown graceful",
                "shutdown x",
                "shutdown graceful x",
                "shutdown noreply",
                "shutdown  graceful",
            ])
            .to_string(),
        _ => {
            // binary garbage, sometimes with the binary protocol's magic first
            let n = 1 + r.below(64);
            let mut g: Vec<u8> = (0..n).map(|_| r.next_u64() as u8).collect();
            if r.chance(30) {
                g[0] = 0x80;
            }
            return g;
        }
    };
    let mut b = line.into_bytes();
    b.extend_from_slice(if r.chance(90) { b"\r\n" } else { b"\n" });
    b
}

/// One request's bytes (a mutated input, however many lines it has,
/// counts as one).
pub(crate) fn request(r: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    match r.below(100) {
        0..=69 => command(r).0,
        70..=95 => extra(r),
        _ => {
            let mut m = mutate(r, seeds);
            m.truncate(8192);
            m
        }
    }
}

pub(crate) fn tick(r: &mut Rng) -> i64 {
    match r.below(20) {
        0..=9 => 0,
        10..=16 => 1,
        _ => 2 + r.below(2) as i64,
    }
}

/// Stream `index` of the run seeded `seed`: its own generator, so a stream
/// can be replayed alone (DIFF_FIRST).
pub(crate) fn generate(seed: u64, index: u64, seeds: &[Vec<u8>]) -> Case {
    let mut r = Rng(seed ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let n = 1 + r.below(24);
    let mut stream = Vec::new();
    let mut ends = Vec::with_capacity(n);
    for _ in 0..n {
        stream.extend_from_slice(&request(&mut r, seeds));
        ends.push(stream.len());
    }
    // A first byte 0x80 makes the Rust protocol speak binary, which the C
    // protocol does not (by design): such a stream starts with an empty
    // line instead, answered alike.
    if stream.first() == Some(&0x80) {
        stream.insert(0, b'\n');
        ends.iter_mut().for_each(|e| *e += 1);
    }
    let len = stream.len();
    let mut at: Vec<usize> = match r.below(10) {
        0..=2 => Vec::new(),
        3..=5 => (0..1 + r.below(8)).map(|_| r.below(len)).collect(),
        6..=8 => ends.iter().copied().filter(|_| r.chance(60)).collect(),
        // split at every byte (or every few): small streams only, a large
        // value would cost a million calls
        _ if len <= 64 * 1024 => {
            let step = if len <= 512 { 1 } else { 1 + r.below(16) };
            (1..len).step_by(step).collect()
        }
        _ => (0..64).map(|_| r.below(len)).collect(),
    };
    at.retain(|&p| p > 0 && p < len);
    at.sort_unstable();
    at.dedup();
    Case {
        stream,
        ends,
        cuts: at
            .into_iter()
            .map(|p| Cut {
                at: p,
                tick: tick(&mut r),
            })
            .collect(),
        slow_reader: r.chance(20),
        small_output: r.chance(20),
        small_items: r.chance(10),
        requests: n,
        host: HostVariant {
            shutdown_enabled: r.chance(50),
            // none, one kind, or all bits (unknown ones included)
            watching: [0, 0, 1, 2, 3, u32::MAX][r.below(6)],
            watch_refused: r.chance(20),
        },
    }
}
