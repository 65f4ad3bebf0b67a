//! Criterion: storage engines called through the same storage.h path (the
//! safe wrapper over the bindgen bindings), one group per operation so the
//! engines stand side by side.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use molt::{Storage, StorageConfig, StoreMode};
use std::hint::black_box;

const ENGINES: &[&str] = &["slab", "seg"];
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

fn loaded(engine: &str, n: u32, value_len: usize) -> Storage {
    let cfg = StorageConfig {
        memory_limit: 1 << 30,
        ..StorageConfig::default()
    };
    let s = Storage::open(engine, &cfg).expect("open");
    let v = vec![b'v'; value_len];
    for i in 0..n {
        s.store(StoreMode::Set, &key(i), &v, 0, 0, NOW)
            .expect("preload");
    }
    s
}

/// One group: `op` run per engine over a preloaded store, cycling keys.
fn group(
    c: &mut Criterion,
    name: &str,
    preload_value: usize,
    key_set: &[Vec<u8>],
    op: impl Fn(&Storage, &[u8]) -> bool,
) {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(1));
    for engine in ENGINES {
        let s = loaded(engine, KEYS, preload_value);
        let mut i = 0usize;
        g.bench_function(*engine, |b| {
            b.iter(|| {
                i = (i + STRIDE) % key_set.len();
                black_box(op(&s, &key_set[i]))
            })
        });
    }
    g.finish();
}

fn single_ops(c: &mut Criterion) {
    let hits = keys(0..KEYS);
    let misses = keys(KEYS..2 * KEYS);
    let v64 = [b'w'; 64];
    let v1k = [b'w'; 1024];
    group(c, "get_hit", 64, &hits, |s, k| s.get(k, NOW).is_ok());
    group(c, "get_miss", 64, &misses, |s, k| s.get(k, NOW).is_err());
    group(c, "set_64B", 64, &hits, |s, k| {
        s.store(StoreMode::Set, k, &v64, 0, 0, NOW).is_ok()
    });
    group(c, "set_1KiB", 64, &hits, |s, k| {
        s.store(StoreMode::Set, k, &v1k, 0, 0, NOW).is_ok()
    });
    // delete then set back, so every delete finds its key
    group(c, "delete_and_set", 64, &hits, |s, k| {
        s.remove(k, NOW).is_ok() && s.store(StoreMode::Set, k, &v64, 0, 0, NOW).is_ok()
    });
    let counters = keys(0..1000);
    let mut g = c.benchmark_group("incr");
    g.throughput(Throughput::Elements(1));
    for engine in ENGINES {
        let s = loaded(engine, 0, 0);
        for k in &counters {
            s.store(StoreMode::Set, k, b"0", 0, 0, NOW)
                .expect("counter");
        }
        let mut i = 0usize;
        g.bench_function(*engine, |b| {
            b.iter(|| {
                i = (i + STRIDE) % counters.len();
                black_box(s.arith(&counters[i], true, 1, NOW).is_ok())
            })
        });
    }
    g.finish();
}

fn mix_90_10(c: &mut Criterion) {
    let all = keys(0..MIX_KEYS);
    let v = [b'm'; 100];
    let mut g = c.benchmark_group("mix_90get_10set_1M_keys");
    g.throughput(Throughput::Elements(1));
    for engine in ENGINES {
        let s = loaded(engine, MIX_KEYS, 100);
        let mut i = 0usize;
        let mut n = 0u32;
        g.bench_function(*engine, |b| {
            b.iter(|| {
                i = (i + STRIDE) % all.len();
                n = n.wrapping_add(1);
                if n.is_multiple_of(10) {
                    black_box(s.store(StoreMode::Set, &all[i], &v, 0, 0, NOW).is_ok())
                } else {
                    black_box(s.get(&all[i], NOW).is_ok())
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, single_ops, mix_90_10);
criterion_main!(benches);
