//! Instructions per storage operation (gungraun, i.e. callgrind), both
//! engines through the same storage.h seam the server calls (`CStorage`):
//! deterministic where criterion's wall times on a shared machine are not.
//! Each benchmark is 1,000 operations on a preloaded engine (the preload is
//! setup, not counted), so the reported instructions / 1,000 are per op.
//!
//! `make bench-ir` (needs valgrind and gungraun-runner 0.17.2).

use gungraun::{library_benchmark, library_benchmark_group, main};
use molt::storage::{Storage, StoreCommand};
use molt::{CStorage, StorageConfig};
use std::hint::black_box;

const NOW: i64 = 1_800_000_000;
/// Operations per benchmark.
const OPS: usize = 1000;
/// Keys preloaded for the single-operation benchmarks.
const KEYS: u32 = 100_000;
/// Key space of the get/set mix.
const MIX_KEYS: u32 = 1_000_000;
/// A stride coprime with the key counts: successive operations touch
/// unrelated keys, and OPS of them are distinct.
const STRIDE: usize = 7919;

fn key(i: u32) -> Vec<u8> {
    format!("bench:key:{i:08}").into_bytes()
}

/// An engine preloaded with `n` keys of `value_len` bytes, and the keys the
/// benchmark visits in order.
struct Fixture {
    s: CStorage,
    keys: Vec<Vec<u8>>,
}

fn preload(engine: &str, n: u32, value_len: usize, visit: std::ops::Range<u32>) -> Fixture {
    let cfg = StorageConfig {
        memory_limit: 1 << 30,
        ..StorageConfig::default()
    };
    let s = CStorage::open(engine, &cfg).expect("open");
    let v = vec![b'v'; value_len];
    for i in 0..n {
        s.store(StoreCommand::Set, &key(i), &v, 0, 0, NOW)
            .expect("preload");
    }
    let len = visit.len();
    let keys = (0..OPS)
        .map(|j| key(visit.start + ((j + 1) * STRIDE % len) as u32))
        .collect();
    Fixture { s, keys }
}

fn hits(engine: &str) -> Fixture {
    preload(engine, KEYS, 64, 0..KEYS)
}

fn misses(engine: &str) -> Fixture {
    preload(engine, KEYS, 64, KEYS..2 * KEYS)
}

/// The visited keys as counters holding `value`.
fn counters_at(engine: &str, value: &[u8]) -> Fixture {
    let f = preload(engine, 0, 0, 0..OPS as u32);
    for k in &f.keys {
        f.s.store(StoreCommand::Set, k, value, 0, 0, NOW)
            .expect("counter");
    }
    f
}

fn counters(engine: &str) -> Fixture {
    counters_at(engine, b"0")
}

/// Counters at 1,000,000: each decr below makes a 6-digit number, which
/// both engines pad in place to the old 7 bytes (as memcached does).
fn big_counters(engine: &str) -> Fixture {
    counters_at(engine, b"1000000")
}

fn mix_keys(engine: &str) -> Fixture {
    preload(engine, MIX_KEYS, 100, 0..MIX_KEYS)
}

/// Not counted: the engine is dropped after the measurement.
fn done(f: Fixture) {
    drop(f);
}

#[library_benchmark(teardown = done)]
#[bench::slab(args = ("slab"), setup = hits)]
#[bench::seg(args = ("seg"), setup = hits)]
fn get_hit(f: Fixture) -> Fixture {
    for k in &f.keys {
        black_box(f.s.get(k, NOW, |_, v| v.len()).expect("hit"));
    }
    f
}

#[library_benchmark(teardown = done)]
#[bench::slab(args = ("slab"), setup = misses)]
#[bench::seg(args = ("seg"), setup = misses)]
fn get_miss(f: Fixture) -> Fixture {
    for k in &f.keys {
        black_box(f.s.get(k, NOW, |_, v| v.len()).is_err());
    }
    f
}

/// A preloaded engine and the value its keys are overwritten with.
fn overwrite(engine: &str, value_len: usize) -> (Fixture, Vec<u8>) {
    (hits(engine), vec![b'w'; value_len])
}

#[library_benchmark(teardown = done)]
#[bench::slab_64b(args = ("slab", 64), setup = overwrite)]
#[bench::seg_64b(args = ("seg", 64), setup = overwrite)]
#[bench::slab_1kib(args = ("slab", 1024), setup = overwrite)]
#[bench::seg_1kib(args = ("seg", 1024), setup = overwrite)]
fn set((f, v): (Fixture, Vec<u8>)) -> Fixture {
    for k in &f.keys {
        black_box(f.s.store(StoreCommand::Set, k, &v, 0, 0, NOW).expect("set"));
    }
    f
}

#[library_benchmark(teardown = done)]
#[bench::slab(args = ("slab"), setup = hits)]
#[bench::seg(args = ("seg"), setup = hits)]
fn delete(f: Fixture) -> Fixture {
    for k in &f.keys {
        f.s.remove(k, NOW).expect("each key deleted once");
    }
    f
}

#[library_benchmark(teardown = done)]
#[bench::slab(args = ("slab"), setup = counters)]
#[bench::seg(args = ("seg"), setup = counters)]
fn incr(f: Fixture) -> Fixture {
    for k in &f.keys {
        black_box(f.s.arith(k, true, 1, NOW).expect("incr"));
    }
    f
}

#[library_benchmark(teardown = done)]
#[bench::slab(args = ("slab"), setup = big_counters)]
#[bench::seg(args = ("seg"), setup = big_counters)]
fn decr(f: Fixture) -> Fixture {
    for k in &f.keys {
        black_box(f.s.arith(k, false, 1, NOW).expect("decr"));
    }
    f
}

#[library_benchmark(teardown = done)]
#[bench::slab(args = ("slab"), setup = mix_keys)]
#[bench::seg(args = ("seg"), setup = mix_keys)]
fn mix_90get_10set_1m_keys(f: Fixture) -> Fixture {
    let v = [b'm'; 100];
    for (j, k) in f.keys.iter().enumerate() {
        if j % 10 == 9 {
            black_box(f.s.store(StoreCommand::Set, k, &v, 0, 0, NOW).expect("set"));
        } else {
            black_box(f.s.get(k, NOW, |_, v| v.len()).expect("hit"));
        }
    }
    f
}

library_benchmark_group!(
    name = ops;
    benchmarks = get_hit, get_miss, set, delete, incr, decr, mix_90get_10set_1m_keys
);

main!(library_benchmark_groups = ops);
