//! Criterion: storage engines through the storage trait, one group per
//! operation so the engines stand side by side: slab and seg through the
//! same storage.h path the server takes (the safe wrapper over the bindgen
//! bindings), and seg called directly (what the seam itself costs).

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use molt::storage::{Storage, StoreCommand};
use molt::{CStorage, StorageConfig};
use seg::{Seg, SegConfig};
use std::hint::black_box;
const NOW: i64 = 1_800_000_000;
/// Keys preloaded for the single-operation groups.
const KEYS: u32 = 100_000;
/// Key space of the get/set mix.
const MIX_KEYS: u32 = 1_000_000;
/// A stride coprime with the key counts, so successive operations touch
/// unrelated keys (and cache lines), as a server under load would.
const STRIDE: usize = 7919;

fn key(i: u32) -> Vec<u8> {
    format!("bench:key:{i:08}").into_bytes()
}

fn keys(range: std::ops::Range<u32>) -> Vec<Vec<u8>> {
    range.map(key).collect()
}

const MEMORY: u64 = 1 << 30;

fn preload<S: Storage>(s: S, n: u32, value_len: usize) -> S {
    let v = vec![b'v'; value_len];
    for i in 0..n {
        s.store(StoreCommand::Set, &key(i), &v, 0, 0, NOW)
            .expect("preload");
    }
    s
}

fn c_engine(name: &str) -> CStorage {
    let cfg = StorageConfig {
        memory_limit: MEMORY,
        ..StorageConfig::default()
    };
    CStorage::open(name, &cfg).expect("open")
}

fn seg_engine() -> Seg {
    Seg::new(SegConfig {
        memory_limit: MEMORY,
        ..SegConfig::default()
    })
    .expect("open seg")
}

/// A benchmark body generic over the engine: run once per engine.
trait Bench {
    fn run<S: Storage>(&self, g: &mut BenchmarkGroup<'_, WallTime>, engine: &str, s: S);
}

/// Runs `bench` on every engine, each preloaded with `n` keys.
fn each_engine(g: &mut BenchmarkGroup<'_, WallTime>, n: u32, value_len: usize, bench: &impl Bench) {
    bench.run(g, "slab", preload(c_engine("slab"), n, value_len));
    bench.run(g, "seg", preload(c_engine("seg"), n, value_len));
    bench.run(g, "seg (direct)", preload(seg_engine(), n, value_len));
}

/// One operation on one key; true when it answered as expected.
#[derive(Clone, Copy)]
enum Op<'a> {
    GetHit,
    GetMiss,
    Set(&'a [u8]),
    DeleteAndSet(&'a [u8]),
    Incr,
    /// 90% get, 10% set of this value.
    Mix(&'a [u8]),
}

struct Cycle<'a> {
    keys: &'a [Vec<u8>],
    op: Op<'a>,
}

impl Bench for Cycle<'_> {
    fn run<S: Storage>(&self, g: &mut BenchmarkGroup<'_, WallTime>, engine: &str, s: S) {
        let (mut i, mut n) = (0usize, 0u32);
        g.bench_function(engine, |b| {
            b.iter(|| {
                i = (i + STRIDE) % self.keys.len();
                let k = &self.keys[i][..];
                black_box(match self.op {
                    Op::GetHit => s.get(k, NOW, |_, v| v.len()).is_ok(),
                    Op::GetMiss => s.get(k, NOW, |_, v| v.len()).is_err(),
                    Op::Set(v) => s.store(StoreCommand::Set, k, v, 0, 0, NOW).is_ok(),
                    Op::DeleteAndSet(v) => {
                        s.remove(k, NOW).is_ok()
                            && s.store(StoreCommand::Set, k, v, 0, 0, NOW).is_ok()
                    }
                    Op::Incr => s.arith(k, true, 1, NOW).is_ok(),
                    Op::Mix(v) => {
                        n = n.wrapping_add(1);
                        if n.is_multiple_of(10) {
                            s.store(StoreCommand::Set, k, v, 0, 0, NOW).is_ok()
                        } else {
                            s.get(k, NOW, |_, v| v.len()).is_ok()
                        }
                    }
                })
            })
        });
    }
}

/// One group: `op` run per engine over a preloaded store, cycling keys.
fn group(c: &mut Criterion, name: &str, preload_value: usize, keys: &[Vec<u8>], op: Op<'_>) {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(1));
    each_engine(&mut g, KEYS, preload_value, &Cycle { keys, op });
    g.finish();
}

fn single_ops(c: &mut Criterion) {
    let hits = keys(0..KEYS);
    let misses = keys(KEYS..2 * KEYS);
    let v64 = [b'w'; 64];
    let v1k = [b'w'; 1024];
    group(c, "get_hit", 64, &hits, Op::GetHit);
    group(c, "get_miss", 64, &misses, Op::GetMiss);
    group(c, "set_64B", 64, &hits, Op::Set(&v64));
    group(c, "set_1KiB", 64, &hits, Op::Set(&v1k));
    // delete then set back, so every delete finds its key
    group(c, "delete_and_set", 64, &hits, Op::DeleteAndSet(&v64));
    let counters = keys(0..1000);
    let mut g = c.benchmark_group("incr");
    g.throughput(Throughput::Elements(1));
    each_engine(&mut g, 0, 0, &Counters(&counters));
    g.finish();
}

/// The incr group: these keys stored as "0" on an empty engine, then
/// incremented in turn.
struct Counters<'a>(&'a [Vec<u8>]);

impl Bench for Counters<'_> {
    fn run<S: Storage>(&self, g: &mut BenchmarkGroup<'_, WallTime>, engine: &str, s: S) {
        for k in self.0 {
            s.store(StoreCommand::Set, k, b"0", 0, 0, NOW)
                .expect("counter");
        }
        let cycle = Cycle {
            keys: self.0,
            op: Op::Incr,
        };
        cycle.run(g, engine, s);
    }
}

fn mix_90_10(c: &mut Criterion) {
    let all = keys(0..MIX_KEYS);
    let v = [b'm'; 100];
    let mut g = c.benchmark_group("mix_90get_10set_1M_keys");
    g.throughput(Throughput::Elements(1));
    each_engine(
        &mut g,
        MIX_KEYS,
        100,
        &Cycle {
            keys: &all,
            op: Op::Mix(&v),
        },
    );
    g.finish();
}

criterion_group!(benches, single_ops, mix_90_10);
criterion_main!(benches);
