//! Differential fuzzer between two protocol.h implementations, in process
//! (no sockets): the same random and mutated byte streams, cut into the
//! same pieces, go to protocol A and protocol B, each over its own engine of
//! the same kind (slab, seg; fresh for every stream), with the same clock,
//! and everything a client or the server could see must be equal:
//! - the concatenated replies, byte for byte (no normalisation: both
//!   engines hand out the same cas values for the same operations);
//! - the sequence of process calls: status and `need` of every call (need
//!   counts past all the input so far, so it does not depend on how much
//!   was consumed), and `consumed` wherever either side stands on a
//!   request boundary of the generated stream (inside a request an
//!   implementation may take bytes at its own pace; DIFF_PROGRESS=exact
//!   compares it on every call);
//! - the session's counters and the engine's figures at the end.
//!
//! The streams: the shared command generator of diff_memcached (classic and
//! meta, good and malformed, noreply, multi-gets of up to 400 keys,
//! over-long lines), plus what only an in-process comparison can judge:
//! `stats` and its groups, `stats reset`, `verbosity`, `refresh_certs`,
//! `lru_crawler metadump`, delayed `flush_all` and TTLs of 1..3 s with the
//! clock moving between pieces, huge announced lengths, 250/251-byte keys,
//! pipelined meta gets, binary garbage, and mutated corpus input
//! (fuzz/corpus/proto). Hosts vary too: a slow reader (output left queued,
//! so calls pause and the output limit is met), a 4 KiB output high-water
//! mark, a 4 KiB item limit.
//!
//! Which protocols: DIFF_PROTOCOLS=a,b; by default "c" vs "rust" when this
//! binary registers "rust" (molt_protocol_names), else "c" vs "c" (the
//! harness checking itself); the choice is printed.
//! Budget: DIFF_REQUESTS (total over the engines; default 60,000, about 2
//! seconds) and DIFF_SECONDS (total, default 8); DIFF_ENGINES=slab,seg;
//! DIFF_SEED, and DIFF_FIRST=N to start at stream N (each stream has its own
//! generator, seeded from the seed and its number); DIFF_KEEP_GOING=N to
//! collect N divergences. The run ends with one line per engine: streams,
//! requests, seconds, divergences.
//!
//! A divergence is shrunk (requests dropped, then pieces merged and host
//! variations removed, then bytes cut) and printed as a reproducer with
//! escaped bytes and the seed; its stream is saved to
//! $TMPDIR/molt-diff-protocol-<engine>-<seed>-<stream>.bin.

use molt::storage::{Stats, Storage};
use molt::{
    counter_name, protocols, CProtocol, CStorage, Context, OutBuf, Progress, ProtocolLimits,
    ProtocolStatus, Session, StorageConfig, COUNTERS,
};
use molt_test_support::commands::{command, KEYS};
use molt_test_support::mutate::{corpus_dir, load_dir, mutate};
use molt_test_support::{escape_bytes, Rng};
use std::time::{Duration, Instant};

const T0: i64 = 1_800_000_000;
/// Process calls per piece before a session that keeps pausing counts as
/// stuck.
const ROUNDS_MAX: usize = 100_000;
/// Attempts the shrinker may make.
const SHRINK_TRIES: usize = 4000;

// ---- what is compared ----------------------------------------------------

/// What the fuzzer drives: a protocol session, or (in the self-tests) a
/// wrapper that changes what it answers.
trait Proto {
    fn process(&mut self, cx: &Context<'_>, input: &[u8], out: &mut OutBuf) -> Progress;
    fn counters(&self) -> [u64; COUNTERS];
}

impl Proto for Session<'_> {
    fn process(&mut self, cx: &Context<'_>, input: &[u8], out: &mut OutBuf) -> Progress {
        Session::process(self, cx, input, out)
    }

    fn counters(&self) -> [u64; COUNTERS] {
        Session::counters(self)
    }
}

/// Opens a fresh session of one side.
type Opener<'f, 'p> = dyn Fn() -> Box<dyn Proto + 'p> + 'f;

/// One process call as the host saw it: status, the stream offset consumed
/// up to, need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Call {
    status: ProtocolStatus,
    at: usize,
    need: usize,
}

/// Everything one side showed for a case.
struct Outcome {
    replies: Vec<u8>,
    calls: Vec<Call>,
    counters: [u64; COUNTERS],
    engine: Stats,
}

// ---- cases ----------------------------------------------------------------

/// A piece of the stream starts at `at`; the clock moves `tick` seconds
/// before it arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cut {
    at: usize,
    tick: i64,
}

/// One stream and how it reaches the protocols.
#[derive(Clone, Debug)]
struct Case {
    stream: Vec<u8>,
    /// Where the generated requests end (sorted; the last is the length).
    ends: Vec<usize>,
    /// Where pieces start (sorted, distinct, inside the stream).
    cuts: Vec<Cut>,
    /// The host leaves output queued on two calls in three.
    slow_reader: bool,
    /// out_high of 4 KiB instead of 1 MiB: multi-gets pause.
    small_output: bool,
    /// A 4 KiB item limit (engine and protocol) instead of 1 MiB.
    small_items: bool,
    /// Requests generated.
    requests: usize,
}

impl Case {
    fn limits(&self) -> ProtocolLimits {
        let item_size_max = if self.small_items { 4096 } else { 1 << 20 };
        let out_high = if self.small_output { 4096 } else { 1 << 20 };
        ProtocolLimits {
            item_size_max,
            out_high,
            out_limit: item_size_max + out_high + 4096,
            ..ProtocolLimits::default()
        }
    }

    fn storage_config(&self) -> StorageConfig {
        StorageConfig {
            memory_limit: 32 << 20,
            item_size_max: self.limits().item_size_max as u32,
            growth_factor: 1.25,
        }
    }

    fn is_boundary(&self, at: usize) -> bool {
        at == 0 || self.ends.binary_search(&at).is_ok()
    }

    /// The case without stream bytes [a, b): request ends and cuts inside
    /// move to a, later ones move back.
    fn without(&self, a: usize, b: usize) -> Case {
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
    fn pieces(&self) -> Vec<(&[u8], i64)> {
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

const GROUPS: &[&str] = &[
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
fn extra(r: &mut Rng) -> Vec<u8> {
    let key = r.pick(KEYS);
    let noreply = if r.chance(20) { " noreply" } else { "" };
    let line = match r.below(16) {
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
fn request(r: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
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

fn tick(r: &mut Rng) -> i64 {
    match r.below(20) {
        0..=9 => 0,
        10..=16 => 1,
        _ => 2 + r.below(2) as i64,
    }
}

/// Stream `index` of the run seeded `seed`: its own generator, so a stream
/// can be replayed alone (DIFF_FIRST).
fn generate(seed: u64, index: u64, seeds: &[Vec<u8>]) -> Case {
    let mut r = Rng(seed ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let n = 1 + r.below(24);
    let mut stream = Vec::new();
    let mut ends = Vec::with_capacity(n);
    for _ in 0..n {
        stream.extend_from_slice(&request(&mut r, seeds));
        ends.push(stream.len());
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
    }
}

// ---- the host ------------------------------------------------------------

/// One side of a case: the event loop's part of protocol.h, as conn.c
/// plays it (drop what was consumed, keep the rest in order, drain the
/// output, call again while paused), into `proto` over a fresh `engine`.
fn run_side(proto: &mut dyn Proto, engine: &str, case: &Case) -> Outcome {
    let storage = CStorage::open(engine, &case.storage_config()).expect("open engine");
    let limits = case.limits();
    let mut out = OutBuf::new();
    let mut input: Vec<u8> = Vec::new();
    let mut replies = Vec::new();
    let mut calls = Vec::new();
    let mut at = 0usize;
    let mut closed = false;
    let pieces = case.pieces();
    let last_now = pieces.last().map_or(T0, |p| p.1);
    // after the last piece one more call (the peer is done) finishes what
    // is parseable
    for (bytes, now) in pieces
        .into_iter()
        .chain(std::iter::once((&[][..], last_now)))
    {
        if closed {
            break;
        }
        input.extend_from_slice(bytes);
        let mut rounds = 0;
        loop {
            rounds += 1;
            if rounds > ROUNDS_MAX {
                replies.extend_from_slice(b"<stuck: paused without progress>");
                closed = true;
                break;
            }
            let cx = Context {
                storage: &storage,
                now,
                limits,
            };
            let p = proto.process(&cx, &input, &mut out);
            if p.consumed > input.len() {
                replies.extend_from_slice(b"<consumed past the input>");
                closed = true;
                break;
            }
            input.drain(..p.consumed);
            at += p.consumed;
            calls.push(Call {
                status: p.status,
                at,
                need: p.need,
            });
            match p.status {
                ProtocolStatus::Close => {
                    closed = true;
                    break;
                }
                ProtocolStatus::Paused => out.drain_into(&mut replies),
                ProtocolStatus::More => {
                    if !case.slow_reader || calls.len() % 3 == 0 {
                        out.drain_into(&mut replies);
                    }
                    break;
                }
            }
        }
    }
    out.drain_into(&mut replies);
    if closed {
        replies.extend_from_slice(b"<closed>");
    }
    Outcome {
        replies,
        calls,
        counters: proto.counters(),
        engine: storage.stats(last_now),
    }
}

/// What differs between the sides, if anything.
fn difference(case: &Case, a: &Outcome, b: &Outcome, exact: bool) -> Option<String> {
    if a.replies != b.replies {
        let at = a
            .replies
            .iter()
            .zip(&b.replies)
            .position(|(x, y)| x != y)
            .unwrap_or(a.replies.len().min(b.replies.len()));
        return Some(format!("replies differ from byte {at}"));
    }
    for (i, (x, y)) in a.calls.iter().zip(&b.calls).enumerate() {
        if x.status != y.status {
            return Some(format!("call {i}: status {:?} vs {:?}", x.status, y.status));
        }
        // need counts beyond all the input so far, the same on both sides
        // whatever each consumed
        if x.need != y.need {
            return Some(format!("call {i}: need {} vs {}", x.need, y.need));
        }
        let judged = exact || case.is_boundary(x.at) || case.is_boundary(y.at);
        if x.at != y.at && judged {
            return Some(format!("call {i}: consumed up to {} vs {}", x.at, y.at));
        }
    }
    if a.calls.len() != b.calls.len() {
        return Some(format!(
            "{} process calls vs {}",
            a.calls.len(),
            b.calls.len()
        ));
    }
    if let Some(i) = (0..COUNTERS).find(|&i| a.counters[i] != b.counters[i]) {
        return Some(format!(
            "counter {}: {} vs {}",
            counter_name(i),
            a.counters[i],
            b.counters[i]
        ));
    }
    if a.engine != b.engine {
        return Some(format!("engine figures: {:?} vs {:?}", a.engine, b.engine));
    }
    None
}

// ---- the fuzzer ------------------------------------------------------------

struct Fuzz<'f, 'p> {
    names: (String, String),
    open_a: &'f Opener<'f, 'p>,
    open_b: &'f Opener<'f, 'p>,
    engine: String,
    exact: bool,
}

struct Divergence {
    case: Case,
    what: String,
    report: String,
}

#[derive(Default)]
struct Summary {
    streams: u64,
    requests: u64,
    bytes: u64,
    /// Calls that ended More with a need, Paused, Close.
    needs: u64,
    pauses: u64,
    closes: u64,
    divergences: Vec<Divergence>,
    elapsed: Duration,
}

impl Fuzz<'_, '_> {
    fn outcomes(&self, case: &Case) -> (Outcome, Outcome) {
        let a = run_side(&mut *(self.open_a)(), &self.engine, case);
        let b = run_side(&mut *(self.open_b)(), &self.engine, case);
        (a, b)
    }

    fn differs(&self, case: &Case) -> Option<String> {
        let (a, b) = self.outcomes(case);
        difference(case, &a, &b, self.exact)
    }

    /// Requests dropped, pieces merged, host variations removed, bytes cut:
    /// each step kept while some difference remains.
    fn shrink(&self, mut case: Case) -> Case {
        let mut tries = 0;
        let attempt = |c: &Case, tries: &mut usize| {
            *tries += 1;
            *tries <= SHRINK_TRIES && self.differs(c).is_some()
        };
        let mut i = 0;
        while i < case.ends.len() && case.ends.len() > 1 {
            let from = if i == 0 { 0 } else { case.ends[i - 1] };
            let fewer = case.without(from, case.ends[i]);
            if attempt(&fewer, &mut tries) {
                case = fewer;
            } else {
                i += 1;
            }
        }
        let mut i = 0;
        while i < case.cuts.len() {
            let mut merged = case.clone();
            let removed = merged.cuts.remove(i);
            if let Some(next) = merged.cuts.get_mut(i) {
                next.tick += removed.tick;
            }
            if attempt(&merged, &mut tries) {
                case = merged;
                continue;
            }
            if case.cuts[i].tick != 0 {
                let mut still = case.clone();
                still.cuts[i].tick = 0;
                if attempt(&still, &mut tries) {
                    case = still;
                }
            }
            i += 1;
        }
        for plain in [
            |c: &mut Case| c.slow_reader = false,
            |c: &mut Case| c.small_output = false,
            |c: &mut Case| c.small_items = false,
        ] {
            let mut p = case.clone();
            plain(&mut p);
            if attempt(&p, &mut tries) {
                case = p;
            }
        }
        let mut chunk = case.stream.len() / 2;
        while chunk > 0 {
            let mut at = 0;
            while at + chunk <= case.stream.len() {
                let shorter = case.without(at, at + chunk);
                if attempt(&shorter, &mut tries) {
                    case = shorter;
                } else {
                    at += chunk;
                }
            }
            chunk /= 2;
        }
        case
    }

    fn report(&self, seed: u64, index: u64, case: &Case, what: &str) -> String {
        let (a, b) = self.outcomes(case);
        let (na, nb) = &self.names;
        let from = a
            .replies
            .iter()
            .zip(&b.replies)
            .position(|(x, y)| x != y)
            .unwrap_or(a.replies.len().min(b.replies.len()))
            .saturating_sub(60);
        let calls = |o: &Outcome| {
            o.calls
                .iter()
                .map(|c| format!("{:?}@{}+{}", c.status, c.at, c.need))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let replies = |o: &Outcome| {
            let from = from.min(o.replies.len());
            let dots = if from > 0 { "..." } else { "" };
            format!("{dots}{}", escape_bytes(&o.replies[from..]))
        };
        let rows = [
            ("send".to_string(), escape_bytes(&case.stream)),
            (
                "pieces (at, tick)".into(),
                format!(
                    "{:?}",
                    case.cuts.iter().map(|c| (c.at, c.tick)).collect::<Vec<_>>()
                ),
            ),
            (
                "host".into(),
                format!(
                    "slow reader {}, out_high {}, item_size_max {}",
                    case.slow_reader,
                    case.limits().out_high,
                    case.limits().item_size_max
                ),
            ),
            (format!("{na} replied"), replies(&a)),
            (format!("{nb} replied"), replies(&b)),
            (format!("{na} calls (status@consumed+need)"), calls(&a)),
            (format!("{nb} calls (status@consumed+need)"), calls(&b)),
        ];
        let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0) + 1;
        let mut out = format!(
            "{na} vs {nb} over {}: {what}\n  seed {seed}, stream {index} (DIFF_SEED={seed} DIFF_FIRST={index} replays it unshrunk)",
            self.engine
        );
        for (label, text) in rows {
            out.push_str(&format!("\n  {:<width$} {text}", format!("{label}:")));
        }
        out
    }

    fn run(&self, budget: &Budget, seeds: &[Vec<u8>]) -> Summary {
        let start = Instant::now();
        let mut s = Summary::default();
        let mut index = budget.first;
        while s.requests < budget.requests && start.elapsed() < budget.time {
            let case = generate(budget.seed, index, seeds);
            s.streams += 1;
            s.requests += case.requests as u64;
            s.bytes += case.stream.len() as u64;
            let (a, b) = self.outcomes(&case);
            for c in &a.calls {
                match c.status {
                    ProtocolStatus::More if c.need > 0 => s.needs += 1,
                    ProtocolStatus::Paused => s.pauses += 1,
                    ProtocolStatus::Close => s.closes += 1,
                    ProtocolStatus::More => {}
                }
            }
            if difference(&case, &a, &b, self.exact).is_some() {
                let small = self.shrink(case);
                let what = self
                    .differs(&small)
                    .unwrap_or_else(|| "(gone after shrinking)".into());
                let report = self.report(budget.seed, index, &small, &what);
                let saved = std::env::temp_dir().join(format!(
                    "molt-diff-protocol-{}-{}-{index}.bin",
                    self.engine, budget.seed
                ));
                let _ = std::fs::write(&saved, &small.stream);
                s.divergences.push(Divergence {
                    case: small,
                    what,
                    report: format!("{report}\n  (stream saved to {})", saved.display()),
                });
                if s.divergences.len() >= budget.keep_going {
                    break;
                }
            }
            index += 1;
        }
        s.elapsed = start.elapsed();
        s
    }
}

struct Budget {
    seed: u64,
    first: u64,
    requests: u64,
    time: Duration,
    keep_going: usize,
}

fn env<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// The two protocols to compare, and why these.
fn protocol_pair() -> (String, String, String) {
    let registered = protocols();
    if let Ok(v) = std::env::var("DIFF_PROTOCOLS") {
        let names: Vec<&str> = v.split([',', ' ']).filter(|s| !s.is_empty()).collect();
        assert!(
            names.len() == 2,
            "DIFF_PROTOCOLS wants two names, e.g. c,rust"
        );
        return (names[0].into(), names[1].into(), "DIFF_PROTOCOLS".into());
    }
    if registered.iter().any(|n| n == "rust") {
        ("c".into(), "rust".into(), "\"rust\" is registered".into())
    } else {
        (
            "c".into(),
            "c".into(),
            format!("no \"rust\" protocol in this binary (registered: {registered:?}); the harness checks itself"),
        )
    }
}

fn session_opener<'p>(p: &'p CProtocol) -> impl Fn() -> Box<dyn Proto + 'p> + 'p {
    move || Box::new(p.session().expect("session"))
}

#[test]
fn protocols_answer_alike() {
    let (a, b, why) = protocol_pair();
    let pa = CProtocol::open(&a).unwrap_or_else(|e| panic!("open protocol {a}: {e:?}"));
    let pb = CProtocol::open(&b).unwrap_or_else(|e| panic!("open protocol {b}: {e:?}"));
    let engines: Vec<String> = std::env::var("DIFF_ENGINES")
        .unwrap_or_else(|_| "slab,seg".into())
        .split(',')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    let bounded = std::env::var("DIFF_REQUESTS").is_err() && std::env::var("DIFF_SECONDS").is_err();
    let total: u64 = env("DIFF_REQUESTS").unwrap_or(60_000);
    let secs: f64 = env("DIFF_SECONDS").unwrap_or(if bounded { 8.0 } else { 1e9 });
    let budget = Budget {
        seed: env("DIFF_SEED").unwrap_or(0x6d6f_6c74),
        first: env("DIFF_FIRST").unwrap_or(0),
        requests: total.div_ceil(engines.len().max(1) as u64),
        time: Duration::from_secs_f64(secs / engines.len().max(1) as f64),
        keep_going: env("DIFF_KEEP_GOING").unwrap_or(1),
    };
    let exact = std::env::var("DIFF_PROGRESS").is_ok_and(|v| v == "exact");
    let seeds = load_dir(&corpus_dir());
    assert!(
        !seeds.is_empty(),
        "seed corpus missing: {}",
        corpus_dir().display()
    );
    eprintln!("diff_protocol: {a} vs {b} ({why}), seed {}", budget.seed);
    let (open_a, open_b) = (session_opener(&pa), session_opener(&pb));
    let mut failures = Vec::new();
    let (mut streams, mut requests, mut elapsed) = (0, 0, Duration::ZERO);
    for engine in &engines {
        let fuzz = Fuzz {
            names: (a.clone(), b.clone()),
            open_a: &open_a,
            open_b: &open_b,
            engine: engine.clone(),
            exact,
        };
        let s = fuzz.run(&budget, &seeds);
        eprintln!(
            "diff_protocol[{a} vs {b}, {engine}]: {} streams, {} requests, {} bytes, {:.1} s, {} divergences \
             (calls: {} needing a block, {} paused, {} closing)",
            s.streams,
            s.requests,
            s.bytes,
            s.elapsed.as_secs_f64(),
            s.divergences.len(),
            s.needs,
            s.pauses,
            s.closes
        );
        if bounded && s.divergences.is_empty() {
            // a fuzzer that never reaches these paths judges little
            assert!(
                s.needs > 0 && s.pauses > 0 && s.closes > 0,
                "{engine}: the streams should reach need, pause and close"
            );
        }
        streams += s.streams;
        requests += s.requests;
        elapsed += s.elapsed;
        failures.extend(s.divergences.into_iter().map(|d| d.report));
    }
    eprintln!(
        "diff_protocol: {a} vs {b}: {streams} streams, {requests} requests, {:.1} s, {} divergences",
        elapsed.as_secs_f64(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "protocols diverge:\n{}",
        failures.join("\n")
    );
}

// ---- the fuzzer can fail -------------------------------------------------

/// The C protocol with one reply spelled wrong: NOT_FOUND becomes
/// NOT-FOUND in what it appends.
struct MisspeltNotFound<'p>(Session<'p>);

impl Proto for MisspeltNotFound<'_> {
    fn process(&mut self, cx: &Context<'_>, input: &[u8], out: &mut OutBuf) -> Progress {
        let before = out.queued().len();
        let p = self.0.process(cx, input, out);
        let added = &mut out.queued_mut()[before..];
        for i in 0..added.len().saturating_sub(8) {
            if &added[i..i + 9] == b"NOT_FOUND" {
                added[i + 3] = b'-';
            }
        }
        p
    }

    fn counters(&self) -> [u64; COUNTERS] {
        self.0.counters()
    }
}

/// The C protocol announcing one byte more than a pending block needs.
struct NeedsOneMore<'p>(Session<'p>);

impl Proto for NeedsOneMore<'_> {
    fn process(&mut self, cx: &Context<'_>, input: &[u8], out: &mut OutBuf) -> Progress {
        let mut p = self.0.process(cx, input, out);
        if p.need > 0 {
            p.need += 1;
        }
        p
    }

    fn counters(&self) -> [u64; COUNTERS] {
        self.0.counters()
    }
}

/// Runs c against a wrong c over slab until the first divergence.
fn catch<'p>(wrong: &Opener<'_, 'p>, c: &'p CProtocol) -> Divergence {
    let right = session_opener(c);
    let fuzz = Fuzz {
        names: ("c".into(), "wrong".into()),
        open_a: &right,
        open_b: wrong,
        engine: "slab".into(),
        exact: false,
    };
    let budget = Budget {
        seed: 7,
        first: 0,
        requests: 20_000,
        time: Duration::from_secs(60),
        keep_going: 1,
    };
    let mut s = fuzz.run(&budget, &load_dir(&corpus_dir()));
    assert_eq!(s.divergences.len(), 1, "the wrong protocol was not caught");
    let d = s.divergences.remove(0);
    // what a reproducer looks like (--nocapture)
    eprintln!("caught after {} streams:\n{}", s.streams, d.report);
    d
}

#[test]
fn a_misspelt_reply_is_caught_and_shrunk_to_one_request() {
    let c = CProtocol::open("c").expect("open c");
    let wrong = || Box::new(MisspeltNotFound(c.session().expect("session"))) as Box<dyn Proto + '_>;
    let d = catch(&wrong, &c);
    assert!(d.what.starts_with("replies differ"), "{}", d.report);
    // shrunk to one short request that answers NOT_FOUND (delete, incr,
    // touch, cas, ...)
    assert!(
        d.case.ends.len() == 1 && d.case.stream.len() < 40,
        "not shrunk to one request:\n{}",
        d.report
    );
    assert!(
        d.report.contains("NOT_FOUND") && d.report.contains("NOT-FOUND"),
        "{}",
        d.report
    );
    assert!(d.report.contains("seed 7, stream "), "{}", d.report);
}

#[test]
fn a_wrong_need_is_caught_and_shrunk_to_a_partial_block() {
    let c = CProtocol::open("c").expect("open c");
    let wrong = || Box::new(NeedsOneMore(c.session().expect("session"))) as Box<dyn Proto + '_>;
    let d = catch(&wrong, &c);
    assert!(d.what.contains(": need "), "{}", d.report);
    // a storage line whose block has not all arrived; nothing else
    assert!(d.case.stream.len() < 40, "not shrunk:\n{}", d.report);
}
