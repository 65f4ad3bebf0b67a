//! Differential fuzzing of the storage seam: the same random operation
//! stream (every store mode, get/gat, incr/decr, delete, touch, immediate and
//! delayed flush, time moving forward, random TTLs, keys from a small set so
//! they collide) is applied, through the storage trait, to every engine:
//! slab and seg through storage.h (the C seam's classic commands) and seg
//! directly (the trait's Rust classic commands), with ample memory, and the
//! answers must agree: status, value, flags, exptime.
//! CAS is compared semantically: each engine's own cas values are tracked,
//! a Cas op uses "the latest cas this engine gave for the key" (or an older
//! or bogus one), and a read must report the engine's latest cas.
//!
//! On a divergence the stream is shrunk (delta debugging) and printed as a
//! ready-to-paste regression test.
//!
//! Budget: FUZZ_SECONDS (default 4 s in `make test`; `make fuzz` runs 600),
//! FUZZ_SEED to replay one seed (printed on failure).
//!
//! Regression tests for divergences found so far are at the bottom.

use molt::storage::{Error, ItemInfo, Storage, StoreCommand};
use molt::{CStorage, StorageConfig};
use seg::{Seg, SegConfig};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The engines compared (opened by `runner`).
const ENGINES: &[&str] = &["slab", "seg via storage.h", "seg"];
const T0: i64 = 1_800_000_000;
/// Small item limit so append/prepend growth reaches TooLarge quickly.
const ITEM_MAX: u32 = 4096;

// ---- a tiny deterministic PRNG (std only) ------------------------------

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

// ---- operations ---------------------------------------------------------

/// Expiry relative to the current time: 0 never, -1 "already expired"
/// (exptime == now), k > 0 now + k.
type Ttl = i64;

#[derive(Clone, Debug)]
enum CasPick {
    Latest,
    Stale,
    Bogus(u64),
}

#[derive(Clone, Debug)]
enum Mode {
    Set,
    Add,
    Replace,
    Append,
    Prepend,
    Cas(CasPick),
}

#[derive(Clone, Debug)]
enum Op {
    Store {
        mode: Mode,
        key: usize,
        value: Vec<u8>,
        flags: u32,
        ttl: Ttl,
    },
    Get {
        key: usize,
    },
    Gat {
        key: usize,
        ttl: Ttl,
    },
    Arith {
        key: usize,
        incr: bool,
        delta: u64,
    },
    Delete {
        key: usize,
    },
    Touch {
        key: usize,
        ttl: Ttl,
    },
    /// Flush at now + delay (delay 0: immediately).
    Flush {
        delay: i64,
    },
    Advance {
        secs: i64,
    },
}

fn key_name(k: usize) -> Vec<u8> {
    match k {
        // The longest key the protocol allows.
        7 => vec![b'L'; 250],
        _ => format!("k{k}").into_bytes(),
    }
}

const NKEYS: u64 = 8;

fn gen_value(r: &mut Rng) -> Vec<u8> {
    match r.below(10) {
        0..=2 => r.below(30).to_string().into_bytes(),
        3 => u64::MAX.wrapping_sub(r.below(5)).to_string().into_bytes(),
        4 => Vec::new(),
        5 => vec![b'x'; r.below(u64::from(ITEM_MAX)) as usize],
        6 => format!("{} ", r.below(100)).into_bytes(), // not numeric
        _ => (0..r.below(40)).map(|_| r.next() as u8).collect(),
    }
}

fn gen_ttl(r: &mut Rng) -> Ttl {
    match r.below(10) {
        0..=4 => 0,
        5 => -1,
        _ => 1 + r.below(12) as i64,
    }
}

fn gen_op(r: &mut Rng) -> Op {
    let key = r.below(NKEYS) as usize;
    match r.below(100) {
        0..=17 => Op::Store {
            mode: Mode::Set,
            key,
            value: gen_value(r),
            flags: gen_flags(r),
            ttl: gen_ttl(r),
        },
        18..=23 => Op::Store {
            mode: Mode::Add,
            key,
            value: gen_value(r),
            flags: gen_flags(r),
            ttl: gen_ttl(r),
        },
        24..=28 => Op::Store {
            mode: Mode::Replace,
            key,
            value: gen_value(r),
            flags: gen_flags(r),
            ttl: gen_ttl(r),
        },
        29..=34 => Op::Store {
            mode: if r.chance(50) {
                Mode::Append
            } else {
                Mode::Prepend
            },
            key,
            value: gen_value(r),
            flags: gen_flags(r),
            ttl: gen_ttl(r),
        },
        35..=42 => Op::Store {
            mode: Mode::Cas(match r.below(10) {
                0..=5 => CasPick::Latest,
                6..=7 => CasPick::Stale,
                _ => CasPick::Bogus(r.below(3) * 1_000_000_007),
            }),
            key,
            value: gen_value(r),
            flags: gen_flags(r),
            ttl: gen_ttl(r),
        },
        43..=60 => Op::Get { key },
        61..=64 => Op::Gat {
            key,
            ttl: gen_ttl(r),
        },
        65..=74 => Op::Arith {
            key,
            incr: r.chance(50),
            delta: match r.below(4) {
                0 => u64::MAX - r.below(3),
                _ => r.below(20),
            },
        },
        75..=80 => Op::Delete { key },
        81..=85 => Op::Touch {
            key,
            ttl: gen_ttl(r),
        },
        86..=88 => Op::Flush {
            delay: if r.chance(50) {
                0
            } else {
                1 + r.below(6) as i64
            },
        },
        _ => Op::Advance {
            secs: r.below(4) as i64,
        },
    }
}

fn gen_flags(r: &mut Rng) -> u32 {
    match r.below(4) {
        0 => u32::MAX,
        1 => r.next() as u32,
        _ => 0,
    }
}

// ---- running a stream on one engine ------------------------------------

/// What an operation answered, with engine-specific cas values replaced by
/// their meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    Stored,
    Status(Error),
    Item {
        value: Vec<u8>,
        flags: u32,
        exptime: i64,
        /// Does the reported cas equal the latest cas this engine gave for
        /// the key?
        cas_is_latest: bool,
    },
    Number(u64),
    Ok,
    Time,
}

struct Runner<S> {
    s: S,
    now: i64,
    /// key -> cas values this engine handed out, newest last.
    cas: HashMap<usize, Vec<u64>>,
}

/// A runner whatever its engine type, so the engines sit in one list.
trait Apply {
    fn apply(&mut self, op: &Op) -> Answer;
}

const MEMORY: u64 = 256 << 20;

fn runner(engine: &str) -> Box<dyn Apply> {
    let cfg = StorageConfig {
        memory_limit: MEMORY,
        item_size_max: ITEM_MAX,
        growth_factor: 0.0,
    };
    let c =
        |name: &str| CStorage::open(name, &cfg).unwrap_or_else(|e| panic!("open {name}: {e:?}"));
    match engine {
        "slab" => Box::new(Runner::new(c("slab"))),
        "seg via storage.h" => Box::new(Runner::new(c("seg"))),
        "seg" => Box::new(Runner::new(
            Seg::new(SegConfig {
                memory_limit: MEMORY,
                item_size_max: ITEM_MAX,
                ..SegConfig::default()
            })
            .expect("open seg"),
        )),
        other => panic!("unknown engine {other}"),
    }
}

/// An item's value and info, as a read hands them over.
fn read(info: &ItemInfo, value: &[u8]) -> (Vec<u8>, ItemInfo) {
    (value.to_vec(), *info)
}

impl<S: Storage> Apply for Runner<S> {
    fn apply(&mut self, op: &Op) -> Answer {
        Runner::apply(self, op)
    }
}

impl<S: Storage> Runner<S> {
    fn new(s: S) -> Runner<S> {
        Runner {
            s,
            now: T0,
            cas: HashMap::new(),
        }
    }

    fn exptime(&self, ttl: Ttl) -> i64 {
        match ttl {
            0 => 0,
            -1 => self.now,
            k => self.now + k,
        }
    }

    fn record_cas(&mut self, key: usize, cas: u64) {
        self.cas.entry(key).or_default().push(cas);
    }

    fn pick_cas(&self, key: usize, pick: &CasPick) -> u64 {
        let seen = self.cas.get(&key).map(Vec::as_slice).unwrap_or(&[]);
        match pick {
            CasPick::Latest => seen.last().copied().unwrap_or(0),
            CasPick::Stale => {
                if seen.len() >= 2 {
                    seen[seen.len() - 2]
                } else {
                    0
                }
            }
            CasPick::Bogus(v) => *v,
        }
    }

    fn item_answer(&self, key: usize, r: Result<(Vec<u8>, ItemInfo), Error>) -> Answer {
        match r {
            Ok((value, info)) => Answer::Item {
                cas_is_latest: self.cas.get(&key).and_then(|v| v.last()) == Some(&info.cas),
                value,
                flags: info.flags,
                exptime: info.exptime,
            },
            Err(e) => Answer::Status(e),
        }
    }

    fn apply(&mut self, op: &Op) -> Answer {
        let now = self.now;
        match op {
            Op::Store {
                mode,
                key,
                value,
                flags,
                ttl,
            } => {
                let m = match mode {
                    Mode::Set => StoreCommand::Set,
                    Mode::Add => StoreCommand::Add,
                    Mode::Replace => StoreCommand::Replace,
                    Mode::Append => StoreCommand::Append,
                    Mode::Prepend => StoreCommand::Prepend,
                    Mode::Cas(p) => StoreCommand::Cas(self.pick_cas(*key, p)),
                };
                match self
                    .s
                    .store(m, &key_name(*key), value, *flags, self.exptime(*ttl), now)
                {
                    Ok(cas) => {
                        self.record_cas(*key, cas);
                        Answer::Stored
                    }
                    Err(e) => Answer::Status(e),
                }
            }
            Op::Get { key } => {
                let r = self.s.get(&key_name(*key), now, read);
                self.item_answer(*key, r)
            }
            Op::Gat { key, ttl } => {
                let r = self
                    .s
                    .get_touch(&key_name(*key), self.exptime(*ttl), now, read);
                self.item_answer(*key, r)
            }
            Op::Arith { key, incr, delta } => {
                match self.s.arith(&key_name(*key), *incr, *delta, now) {
                    Ok((v, cas)) => {
                        self.record_cas(*key, cas);
                        Answer::Number(v)
                    }
                    Err(e) => Answer::Status(e),
                }
            }
            Op::Delete { key } => match self.s.remove(&key_name(*key), now) {
                Ok(()) => Answer::Ok,
                Err(e) => Answer::Status(e),
            },
            Op::Touch { key, ttl } => {
                match self.s.touch(&key_name(*key), self.exptime(*ttl), now) {
                    Ok(()) => Answer::Ok,
                    Err(e) => Answer::Status(e),
                }
            }
            Op::Flush { delay } => match self.s.flush(now + delay, now) {
                Ok(()) => Answer::Ok,
                Err(e) => Answer::Status(e),
            },
            Op::Advance { secs } => {
                self.now += secs;
                Answer::Time
            }
        }
    }
}

/// A divergence: op index, then each engine's answer.
#[derive(Debug)]
struct Divergence {
    index: usize,
    answers: Vec<(&'static str, Answer)>,
}

/// Runs `ops` on every engine in lockstep; the first op whose answers
/// differ is reported. Each op also has every key read back afterwards
/// (cheap and catches state that diverged without a visible answer).
fn run(ops: &[Op]) -> Option<Divergence> {
    let mut runners: Vec<Box<dyn Apply>> = ENGINES.iter().map(|e| runner(e)).collect();
    for (i, op) in ops.iter().enumerate() {
        let answers: Vec<(&'static str, Answer)> = ENGINES
            .iter()
            .zip(runners.iter_mut())
            .map(|(e, r)| (*e, r.apply(op)))
            .collect();
        if answers.iter().any(|(_, a)| *a != answers[0].1) {
            return Some(Divergence { index: i, answers });
        }
    }
    None
}

/// Delta debugging: the shortest sub-sequence (greedy) that still diverges.
fn shrink(mut ops: Vec<Op>) -> Vec<Op> {
    let mut chunk = ops.len() / 2;
    while chunk >= 1 {
        let mut i = 0;
        while i < ops.len() {
            let end = (i + chunk).min(ops.len());
            let mut cand = ops[..i].to_vec();
            cand.extend_from_slice(&ops[end..]);
            match run(&cand) {
                Some(d) => {
                    cand.truncate(d.index + 1);
                    ops = cand;
                }
                None => i += chunk,
            }
        }
        chunk /= 2;
    }
    ops
}

fn report(seed: u64, ops: Vec<Op>) -> String {
    let minimal = shrink(ops);
    let d = run(&minimal).expect("shrunk stream still diverges");
    let mut s = format!(
        "storage engines diverge (seed {seed}; replay with FUZZ_SEED={seed}); \
         minimal stream of {} ops, divergence at the last one:\n",
        minimal.len()
    );
    for (e, a) in &d.answers {
        s.push_str(&format!("  {e}: {a:?}\n"));
    }
    s.push_str("regression test:\n\n#[test]\nfn regression_seed_");
    s.push_str(&seed.to_string());
    s.push_str("() {\n    assert_agree(vec![\n");
    for op in &minimal {
        s.push_str(&format!("        {},\n", render(op)));
    }
    s.push_str("    ]);\n}\n");
    s
}

/// The op as Rust source, for pasting into a regression test.
fn render(op: &Op) -> String {
    let v = |b: &[u8]| {
        if b.len() > 64 && b.iter().all(|&c| c == b[0]) {
            format!("vec![{}u8; {}]", b[0], b.len())
        } else {
            format!("b\"{}\".to_vec()", b.escape_ascii())
        }
    };
    match op {
        Op::Store {
            mode,
            key,
            value,
            flags,
            ttl,
        } => format!(
            "Op::Store {{ mode: Mode::{mode:?}, key: {key}, value: {}, flags: {flags}, ttl: {ttl} }}",
            v(value)
        )
        .replace("Mode::Cas(", "Mode::Cas(CasPick::"),
        other => format!("Op::{other:?}"),
    }
}

/// Asserts that `ops` runs identically on every engine.
fn assert_agree(ops: Vec<Op>) {
    if run(&ops).is_some() {
        panic!("{}", report(0, ops));
    }
}

fn budget() -> Duration {
    let secs = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(4.0);
    Duration::from_secs_f64(secs)
}

#[test]
fn engines_agree_on_random_operation_streams() {
    if let Some(seed) = std::env::var("FUZZ_SEED").ok().and_then(|s| s.parse().ok()) {
        let ops = stream(seed);
        if run(&ops).is_some() {
            panic!("{}", report(seed, ops));
        }
        return;
    }
    let started = Instant::now();
    let deadline = started + budget();
    // Fixed seeds first (reproducible in CI), then more as time allows.
    let base: u64 = std::env::var("FUZZ_BASE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let (mut seeds, mut total_ops) = (0u64, 0usize);
    while Instant::now() < deadline || seeds < 20 {
        let seed = base + seeds;
        let ops = stream(seed);
        total_ops += ops.len();
        if run(&ops).is_some() {
            panic!("{}", report(seed, ops));
        }
        seeds += 1;
    }
    eprintln!(
        "fuzz_storage: {seeds} streams ({total_ops} ops) on {ENGINES:?} agree, {:.1?}",
        started.elapsed()
    );
}

fn stream(seed: u64) -> Vec<Op> {
    let mut r = Rng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d));
    let len = 50 + r.below(400) as usize;
    (0..len).map(|_| gen_op(&mut r)).collect()
}

// ---- regression tests (divergences the fuzzer found) -------------------

#[test]
fn cas_pick_and_shrinker_work() {
    // The machinery itself: a stream that agrees does, and CAS with the
    // latest cas succeeds on every engine.
    assert_agree(vec![
        Op::Store {
            mode: Mode::Set,
            key: 1,
            value: b"1".to_vec(),
            flags: 0,
            ttl: 0,
        },
        Op::Store {
            mode: Mode::Cas(CasPick::Latest),
            key: 1,
            value: b"2".to_vec(),
            flags: 5,
            ttl: 3,
        },
        Op::Store {
            mode: Mode::Cas(CasPick::Stale),
            key: 1,
            value: b"3".to_vec(),
            flags: 0,
            ttl: 0,
        },
        Op::Get { key: 1 },
        Op::Advance { secs: 3 },
        Op::Get { key: 1 },
    ]);
    let mut r = runner("slab");
    r.apply(&Op::Store {
        mode: Mode::Set,
        key: 1,
        value: b"1".to_vec(),
        flags: 0,
        ttl: 0,
    });
    let a = r.apply(&Op::Store {
        mode: Mode::Cas(CasPick::Latest),
        key: 1,
        value: b"2".to_vec(),
        flags: 0,
        ttl: 0,
    });
    assert_eq!(a, Answer::Stored);
    let _ = Op::Store {
        mode: Mode::Cas(CasPick::Bogus(0)),
        key: 0,
        value: Vec::new(),
        flags: 0,
        ttl: 0,
    };
}
